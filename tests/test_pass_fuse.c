/*
 * test_pass_fuse.c - the fuse pass (src/pass_fuse.c) on small hand-written
 * graphs: which chains fuse (Conv1d/2d/3d + BN (+ ReLU), Conv + ReLU, Linear +
 * BN1d / ReLU, BN + ReLU, ConvTranspose2d + BN (+ ReLU), the functional relu)
 * and which do not (an inner op with two users, torch.relu, a relu with a
 * second positional argument), the fused container and its children .0 .1 .2,
 * the erased nodes and rewired users, the order, the report's counts, and the
 * fuser's refusals. Each expectation was checked against the Python model of
 * MQBench (research/proto.py). Fused containers are kept float for inspection
 * by excluding them from the swap (exclude_module_name) or by backends that do
 * not map them.
 */
#include "testlib.h"
#include "qgraph_lines.h"

#include <string.h>

#define BN(name, d, n, affine, track)                                                      \
    "module " name " nn.BatchNorm" #d "d {num_features: " #n ", eps: 1e-05, momentum: 0.1, "   \
    "affine: " affine ", track_running_stats: " track ", bias: True, weight_shape: (" #n ",)}\n"
#define FRELU "torch.nn.functional.relu"

/* A chain x -> m -> n2 [-> n3] -> output; the ops are call_module or call_function. */
#define FN2(t) "%n2 = call_function " t " (%m,) {}\n"
#define FN3(t) "%n3 = call_function " t " (%n2,) {}\n"

/* Keeps module m (and anything named m) float so the fused container shows. */
static const char keep_m[] = "qcfg 1\nextra_quantizer_dict = {exclude_module_name: [\"m\"]}\n";

/* Prepares g on Tensorrt with m kept float; the prepared text. */
static char *
fused(const char *g)
{
    qp_config *c = qpt_config(keep_m);
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qp_config_destroy(c);
    return out;
}

/* Conv2d + BN2d + ReLU: one container with the three modules as .0 .1 .2, the
 * conv's node standing in for the relu's, the others gone. */
static void
conv_bn_relu_becomes_container(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8, "True", "True")
        RELU("relu") HEAD MOD2("bn") MOD3("relu") OUT("n3");
    char *out = fused(g);
    qpt_contains(out, "module m nni.ConvBnReLU2d {}\n"
                      "module m.0 nn.Conv2d {in_channels: 3, out_channels: 8,");
    qpt_contains(out, "module m.1 nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: 0.1, "
                      "affine: True, track_running_stats: True, bias: True, "
                      "weight_shape: (8,)}\nmodule m.2 nn.ReLU {inplace: False}\n");
    /* the originals are gone from the table and the graph */
    qpt_lacks(out, "module bn ");
    qpt_lacks(out, "module relu ");
    qpt_lacks(out, "%n2 =");
    qpt_lacks(out, "%n3 =");
    qpt_contains(out, "%m = call_module m (%x,) {}\n%output = output output (%m,) {}\n");
    test_free(out);
}

/* Every built-in chain and the container it makes. */
static void
each_pattern_makes_its_container(void **state)
{
    (void)state;
    static const struct {
        const char *graph, *want;
    } cases[] = {
        {"qgraph 1\n" CONV1("m", 3, 8) BN("bn", 1, 8, "True", "True") HEAD MOD2("bn")
             FN3(FRELU) OUT("n3"),
         "module m nni.ConvBnReLU1d {}\nmodule m.0 nn.Conv1d {"},
        {"qgraph 1\n" CONV1("m", 3, 8) BN("bn", 1, 8, "True", "True") HEAD MOD2("bn") OUT("n2"),
         "module m nni.ConvBn1d {}\nmodule m.0 nn.Conv1d {"},
        {"qgraph 1\n" CONV1("m", 3, 8) RELU("r") HEAD MOD2("r") OUT("n2"),
         "module m nni.ConvReLU1d {}\nmodule m.0 nn.Conv1d {"},
        {"qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8, "True", "True") HEAD MOD2("bn") OUT("n2"),
         "module m nni.ConvBn2d {}\nmodule m.0 nn.Conv2d {"},
        {"qgraph 1\n" CONV2("m", 3, 8) RELU("r") HEAD MOD2("r") OUT("n2"),
         "module m nni.ConvReLU2d {}\nmodule m.0 nn.Conv2d {"},
        {"qgraph 1\n" CONV3("m", 3, 8) BN("bn", 3, 8, "True", "True") RELU("r") HEAD MOD2("bn")
             MOD3("r") OUT("n3"),
         "module m nni.ConvBnReLU3d {}\nmodule m.0 nn.Conv3d {"},
        {"qgraph 1\n" CONV3("m", 3, 8) BN("bn", 3, 8, "True", "True") HEAD MOD2("bn") OUT("n2"),
         "module m nni.ConvBn3d {}\nmodule m.0 nn.Conv3d {"},
        {"qgraph 1\n" CONV3("m", 3, 8) HEAD FN2(FRELU) OUT("n2"),
         "module m nni.ConvReLU3d {}\nmodule m.0 nn.Conv3d {"},
        {"qgraph 1\n" LINEAR("m", 3, 8) BN("bn", 1, 8, "True", "True") HEAD MOD2("bn") OUT("n2"),
         "module m qnni.LinearBn1d {}\nmodule m.0 nn.Linear {in_features: 3, out_features: 8, "
         "bias: True, weight_shape: (8, 3)}\nmodule m.1 nn.BatchNorm1d {num_features: 8,"},
        {"qgraph 1\n" LINEAR("m", 3, 8) RELU("r") HEAD MOD2("r") OUT("n2"),
         "module m nni.LinearReLU {}\nmodule m.0 nn.Linear {"},
        {"qgraph 1\n" LINEAR("m", 3, 8) HEAD FN2(FRELU) OUT("n2"),
         "module m nni.LinearReLU {}\nmodule m.0 nn.Linear {"},
        {"qgraph 1\n" BN("m", 2, 8, "True", "True") RELU("r") HEAD MOD2("r") OUT("n2"),
         "module m nni.BNReLU2d {}\nmodule m.0 nn.BatchNorm2d {"},
        {"qgraph 1\n" BN("m", 3, 8, "True", "True") HEAD FN2(FRELU) OUT("n2"),
         "module m nni.BNReLU3d {}\nmodule m.0 nn.BatchNorm3d {"},
        {"qgraph 1\n" CONVT2("m", 8, 4) BN("bn", 2, 4, "True", "True") HEAD MOD2("bn") OUT("n2"),
         "module m qnni.ConvTransposeBn2d {}\nmodule m.0 nn.ConvTranspose2d {"},
        {"qgraph 1\n" CONVT2("m", 8, 4) BN("bn", 2, 4, "True", "True") RELU("r") HEAD MOD2("bn")
             MOD3("r") OUT("n3"),
         "module m qnni.ConvTransposeBnReLU2d {}\nmodule m.0 nn.ConvTranspose2d {"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = fused(cases[i].graph);
        qpt_contains(out, cases[i].want);
        qpt_contains(out, "%m = call_module m (%x,) {}\n%output = output output (%m,) {}\n");
        qpt_lacks(out, "%n2 =");
        test_free(out);
    }
}

/* A functional relu has no module: the container gets a fresh nn.ReLU {inplace: False},
 * whatever the call's inplace keyword said. */
static void
functional_relu_gets_a_new_relu_module(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("m", 3, 8) X
        "%m = call_module m (%x,) {}\n"
        "%n2 = call_function torch.nn.functional.relu (%m,) {inplace: True}\n" OUT("n2");
    char *out = fused(g);
    qpt_contains(out, "module m nni.ConvReLU2d {}\nmodule m.0 nn.Conv2d {in_channels: 3,");
    qpt_contains(out, "module m.1 nn.ReLU {inplace: False}\n");
    qpt_lacks(out, "module m.2 ");
    qpt_lacks(out, "torch.nn.functional.relu");
    test_free(out);
}

/* What does not match: torch.relu is no fusion pattern; a relu with a second
 * positional argument is not a one-argument op; ConvTranspose2d takes only the module
 * ReLU, with BN and not alone. */
static void
non_patterns_stay_apart(void **state)
{
    (void)state;
    static const char torch_relu[] =
        "qgraph 1\n" CONV2("m", 3, 8) HEAD FN2("torch.relu") OUT("n2");
    char *out = fused(torch_relu);
    qpt_contains(out, "module m nn.Conv2d {");
    qpt_contains(out, "%n2 = call_function torch.relu (%m,) {}");
    test_free(out);
    static const char two_args[] = "qgraph 1\n" CONV2("m", 3, 8) X
        "%m = call_module m (%x,) {}\n"
        "%n2 = call_function torch.nn.functional.relu (%m, True) {}\n" OUT("n2");
    out = fused(two_args);
    qpt_contains(out, "module m nn.Conv2d {");
    qpt_contains(out, "%n2 = call_function torch.nn.functional.relu (%m, True) {}");
    test_free(out);
    static const char convt_relu[] =
        "qgraph 1\n" CONVT2("m", 8, 4) RELU("r") HEAD MOD2("r") OUT("n2");
    out = fused(convt_relu);
    qpt_contains(out, "module m nn.ConvTranspose2d {");
    qpt_contains(out, "module r nn.ReLU {inplace: False}");
    qpt_contains(out, "%n2 = call_module r (%m,) {}");
    test_free(out);
    /* ConvTranspose2d + BN + F.relu: no 3-chain; BN + relu fuse, the deconv stays */
    static const char convt_bn_frelu[] = "qgraph 1\n" CONVT2("m", 8, 4)
        BN("bn", 2, 4, "True", "True") HEAD MOD2("bn") FN3(FRELU) OUT("n3");
    out = fused(convt_bn_frelu);
    qpt_contains(out, "module m nn.ConvTranspose2d {");
    qpt_contains(out, "module bn nni.BNReLU2d {}\nmodule bn.0 nn.BatchNorm2d {num_features: 4,");
    qpt_contains(out, "module bn.1 nn.ReLU {inplace: False}");
    qpt_contains(out, "%n2 = call_module bn (%m,) {}\n%output = output output (%n2,) {}");
    test_free(out);
    /* Linear + BN1d + ReLU: the longest match is LinearBn1d; the ReLU stays */
    static const char lin_bn_relu[] = "qgraph 1\n" LINEAR("m", 3, 8)
        BN("bn", 1, 8, "True", "True") RELU("r") HEAD MOD2("bn") MOD3("r") OUT("n3");
    out = fused(lin_bn_relu);
    qpt_contains(out, "module m qnni.LinearBn1d {}\n");
    qpt_lacks(out, "module m.2 ");
    qpt_contains(out, "module r nn.ReLU {inplace: False}");
    test_free(out);
}

/* Inner ops must have one user: a conv read by two nodes keeps its BN apart (the BN
 * fuses with the ReLU instead); a BN read by two nodes fuses with its conv only. */
static void
inner_op_with_two_users_breaks_the_chain(void **state)
{
    (void)state;
    static const char conv2[] = "qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8, "True", "True")
        RELU("r") HEAD MOD2("bn") MOD3("r")
        "%add = call_function operator.add (%n3, %m) {}\n" OUT("add");
    char *out = fused(conv2);
    qpt_contains(out, "module m nn.Conv2d {in_channels: 3,");
    qpt_contains(out, "module bn nni.BNReLU2d {}\nmodule bn.0 nn.BatchNorm2d {");
    qpt_contains(out, "module bn.1 nn.ReLU {inplace: False}");
    qpt_lacks(out, "module r ");
    qpt_lacks(out, "%n3 =");
    test_free(out);
    static const char bn2[] = "qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8, "True", "True")
        RELU("r") HEAD MOD2("bn") MOD3("r")
        "%add = call_function operator.add (%n3, %n2) {}\n" OUT("add");
    out = fused(bn2);
    qpt_contains(out, "module m nni.ConvBn2d {}\nmodule m.0 nn.Conv2d {");
    qpt_contains(out, "module m.1 nn.BatchNorm2d {");
    qpt_lacks(out, "module m.2 ");
    qpt_contains(out, "module r nn.ReLU {inplace: False}");
    qpt_lacks(out, "%n2 =");
    qpt_contains(out, "%n3 = call_module r (");
    test_free(out);
}

/* The first op's node moves to the last op's place (after nodes that stood between),
 * and every user of the last op now reads it. */
static void
root_takes_last_place_and_users(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8, "True", "True")
        RELU("r") HEAD
        "%sig = call_function torch.sigmoid (%x,) {}\n"
        "%n2 = call_module bn (%m,) {}\n"
        "%n3 = call_module r (%n2,) {}\n"
        "%mul = call_function operator.mul (%n3, %sig) {}\n"
        "%output = output output ((%mul, %n3),) {}\n";
    qp_config *c = qpt_config(keep_m);
    qp_graph *gr = qpt_parse(g, NULL);
    assert_int_equal(qp_prepare_qat(gr, QP_BACKEND_TENSORRT, c), QP_OK);
    char *out = qpt_graph_text(gr);
    const char *sig = strstr(out, "%sig = call_function torch.sigmoid (%x,) {}");
    const char *m = strstr(out, "%m = call_module m (%x,) {}");
    assert_non_null(sig);
    assert_non_null(m);
    assert_true(sig < m);
    qpt_lacks(out, "%n2");
    qpt_lacks(out, "%n3");
    /* both users of the relu (mul and the output) read the fused conv (quantized) */
    qpt_contains(out, "%m_post_act_fake_quantizer = call_module m_post_act_fake_quantizer (%m,)");
    qpt_contains(out, "%mul = call_function operator.mul (%m_post_act_fake_quantizer, ");
    qpt_contains(out, "%output = output output ((%mul, %m_post_act_fake_quantizer),) {}");
    const qp_pass_stats *f = qpt_pass_stats(qp_graph_report(gr), "fuse");
    assert_int_equal(f->matched, 1);
    assert_int_equal(f->nodes_erased, 2);
    assert_int_equal(f->uses_rewired, 2); /* mul and output */
    assert_int_equal(f->modules_added, 3); /* m.0 m.1 m.2 */
    test_free(out);
    qp_graph_destroy(gr);
    qp_config_destroy(c);
}

/* The fuse pass's report: matches, erased nodes, users rewired, children made (a
 * functional relu's fresh ReLU counts as one). */
static void
report_counts_fusions(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("a", 3, 8) BN("abn", 2, 8, "True", "True")
        RELU("arelu") CONV2("b", 8, 8) LINEAR("fc", 8, 4) X
        "%a = call_module a (%x,) {}\n"
        "%abn = call_module abn (%a,) {}\n"
        "%arelu = call_module arelu (%abn,) {}\n"
        "%b = call_module b (%arelu,) {}\n"
        "%brelu = call_function torch.nn.functional.relu (%b,) {}\n"
        "%flatten = call_function torch.flatten (%brelu, 1) {}\n"
        "%fc = call_module fc (%flatten,) {}\n"
        "%output = output output (%fc,) {}\n";
    qp_graph *gr = qpt_parse(g, NULL);
    assert_int_equal(qp_prepare_qat(gr, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_report *r = qp_graph_report(gr);
    const qp_pass_stats *f = qpt_pass_stats(r, "fuse");
    assert_int_equal(f->matched, 2);
    assert_int_equal(f->nodes_erased, 3);
    assert_int_equal(f->uses_rewired, 2);
    assert_int_equal(f->modules_added, 5); /* a.0 a.1 a.2, b.0 and a new b.1 */
    assert_int_equal(f->fq_inserted, 0);
    char *out = qpt_graph_text(gr);
    qpt_contains(out, "module a nniqat.ConvBnReLU2d {");
    qpt_contains(out, "module b nniqat.ConvReLU2d {");
    qpt_contains(out, "module fc nnqat.Linear {");
    qpt_lacks(out, "%abn");
    qpt_lacks(out, "%brelu");
    test_free(out);
    qp_graph_destroy(gr);
    /* nothing to fuse: zero counts */
    static const char none[] = "qgraph 1\n" CONV2("m", 3, 8) HEAD FN2("torch.sigmoid") OUT("n2");
    gr = qpt_parse(none, NULL);
    assert_int_equal(qp_prepare_qat(gr, QP_BACKEND_TENSORRT, NULL), QP_OK);
    f = qpt_pass_stats(qp_graph_report(gr), "fuse");
    assert_int_equal(f->matched, 0);
    assert_int_equal(f->nodes_erased, 0);
    assert_int_equal(f->modules_added, 0);
    qp_graph_destroy(gr);
}

/* The fuser's checks: BN without affine or running stats, BN of another size, and
 * ConvTranspose1d + BN (torch's error) all fail; a BN leading a BN + ReLU is not
 * checked (it is the container's .0). */
static void
fuser_refuses_what_torch_refuses(void **state)
{
    (void)state;
    static const char no_affine[] = "qgraph 1\n" CONV2("m", 3, 8)
        BN("bn", 2, 8, "False", "True") HEAD MOD2("bn") OUT("n2");
    char *msg = qpt_prepare(no_affine, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "cannot fuse bn: only BatchNorm with affine and track_running_stats True");
    test_free(msg);
    static const char no_stats[] = "qgraph 1\n" CONV2("m", 3, 8)
        BN("bn", 2, 8, "True", "False") HEAD MOD2("bn") OUT("n2");
    msg = qpt_prepare(no_stats, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "cannot fuse bn: only BatchNorm with affine and track_running_stats True");
    test_free(msg);
    static const char sizes[] = "qgraph 1\n" CONV2("m", 3, 8)
        BN("bn", 2, 16, "True", "True") HEAD MOD2("bn") OUT("n2");
    msg = qpt_prepare(sizes, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "cannot fuse m (out_channels 8) with bn (num_features 16): sizes differ");
    test_free(msg);
    static const char convt1[] = "qgraph 1\n" CONVT1("m", 8, 4)
        BN("bn", 1, 4, "True", "True") HEAD MOD2("bn") OUT("n2");
    msg = qpt_prepare(convt1, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "cannot fuse %n2: Fusing ConvTranspose+BatchNorm not yet supported in QAT.");
    test_free(msg);
    static const char bn_relu[] = "qgraph 1\n" BN("m", 2, 8, "False", "True") RELU("r") HEAD
        MOD2("r") OUT("n2");
    char *out = qpt_prepare(bn_relu, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nni.BNReLU2d {}\nmodule m.0 nn.BatchNorm2d {num_features: 8, "
                      "eps: 1e-05, momentum: 0.1, affine: False,");
    test_free(out);
}

/* Backends whose QAT map lacks a container leave it fused but float (ONNX_QNN maps no
 * Linear kind): the container is the fuse pass's output as it is. */
static void
unmapped_container_stays_as_fused(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" LINEAR("m", 3, 8) RELU("r") HEAD MOD2("r") OUT("n2");
    char *out = qpt_prepare(g, QP_BACKEND_ONNX_QNN, NULL, QP_OK);
    qpt_contains(out, "module m nni.LinearReLU {}\nmodule m.0 nn.Linear {in_features: 3, "
                      "out_features: 8, bias: True, weight_shape: (8, 3)}\n"
                      "module m.1 nn.ReLU {inplace: False}\n");
    qpt_lacks(out, "module r ");
    qpt_lacks(out, "weight_fake_quant");
    test_free(out);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_bn_relu_becomes_container),
        cmocka_unit_test(each_pattern_makes_its_container),
        cmocka_unit_test(functional_relu_gets_a_new_relu_module),
        cmocka_unit_test(non_patterns_stay_apart),
        cmocka_unit_test(inner_op_with_two_users_breaks_the_chain),
        cmocka_unit_test(root_takes_last_place_and_users),
        cmocka_unit_test(report_counts_fusions),
        cmocka_unit_test(fuser_refuses_what_torch_refuses),
        cmocka_unit_test(unmapped_container_stays_as_fused),
    };
    return cmocka_run_group_tests_name("pass_fuse", tests, NULL, NULL);
}
