/*
 * test_pass_swap.c - the swap pass (src/pass_swap.c) on small hand-written
 * graphs: the QAT type each float or fused type becomes per backend, the
 * attributes a fused container takes from its .0 child (with freeze_bn and its
 * BatchNorm as `bn`), the weight fake-quantizer and its observer per backend,
 * ConvTranspose per-channel on axis 1, types with no mapping left float,
 * modules kept float by exclude_module_name or a qprep_overrides float rule,
 * the report's counts, and the swaps torch refuses. Each expectation was
 * checked against the Python model of MQBench (research/proto.py), except the
 * qprep_overrides one (a qprep extension).
 */
#include "testlib.h"
#include "qgraph_lines.h"

#include <string.h>

#define CONVT3(name, cin, cout)                                                            \
    "module " name " nn.ConvTranspose3d {in_channels: " #cin ", out_channels: " #cout         \
    ", kernel_size: (2, 2, 2), stride: (2, 2, 2), padding: (0, 0, 0), dilation: (1, 1, 1), "  \
    "groups: 1, padding_mode: \"zeros\", output_padding: (0, 0, 0), bias: True, "             \
    "weight_shape: (" #cin ", " #cout ", 2, 2, 2)}\n"
#define BN(name, d, n)                                                                     \
    "module " name " nn.BatchNorm" #d "d {num_features: " #n ", eps: 1e-05, momentum: 0.1, "   \
    "affine: True, track_running_stats: True, bias: True, weight_shape: (" #n ",)}\n"
#define EMBEDDING(name)                                                                    \
    "module " name " nn.Embedding {num_embeddings: 100, embedding_dim: 32, padding_idx: None, " \
    "weight_shape: (100, 32)}\n"
#define EMBEDDING_BAG(name)                                                                \
    "module " name " nn.EmbeddingBag {num_embeddings: 100, embedding_dim: 32, padding_idx: "   \
    "None, mode: \"mean\", weight_shape: (100, 32)}\n"

/* x -> m [-> n2 [-> n3]] -> output */
#define ONE X "%m = call_module m (%x,) {}\n%output = output output (%m,) {}\n"

/* The weight quantizers' text on Tensorrt: LSQ, per-channel symmetric on axis AX. */
#define TRT_WFQ(ax)                                                                        \
    "fq.LearnableFakeQuantize {eps: 1.1920928955078125e-07, quant_min: -127, quant_max: 127, " \
    "ch_axis: " ax ", pot_scale: False, bitwidth: 7, qscheme: \"per_channel_symmetric\", "     \
    "is_symmetric_quant: True, dtype: \"qint8\", use_grad_scaling: True}\n"
#define TRT_WOBS(ax)                                                                       \
    "obs.MinMaxObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: -inf, "         \
    "quant_min: -127, quant_max: 127, ch_axis: " ax ", pot_scale: False, qscheme: "          \
    "\"per_channel_symmetric\", dtype: \"qint8\", reduce_range: False}\n"

/* Each mapped float type, its QAT type with the float attributes unchanged, then
 * the weight fake-quantizer and its observer right after it in the table. */
static void
float_types_swap_to_qat_types(void **state)
{
    (void)state;
    static const struct {
        const char *graph, *want;
    } cases[] = {
        {"qgraph 1\n" CONV1("m", 3, 8) ONE,
         "module m nnqat.Conv1d {in_channels: 3, out_channels: 8, kernel_size: (1,), stride: "
         "(1,), padding: (0,), dilation: (1,), groups: 1, padding_mode: \"zeros\", "
         "output_padding: (0,), bias: True, weight_shape: (8, 3, 1)}\n"},
        {"qgraph 1\n" CONV2("m", 3, 8) ONE,
         "module m nnqat.Conv2d {in_channels: 3, out_channels: 8, kernel_size: (1, 1), "},
        {"qgraph 1\n" CONV3("m", 3, 8) ONE,
         "module m nnqat.Conv3d {in_channels: 3, out_channels: 8, kernel_size: (1, 1, 1), "},
        {"qgraph 1\n" LINEAR("m", 3, 8) ONE,
         "module m nnqat.Linear {in_features: 3, out_features: 8, bias: True, "
         "weight_shape: (8, 3)}\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = qpt_prepare(cases[i].graph, QP_BACKEND_TENSORRT, NULL, QP_OK);
        qpt_contains(out, cases[i].want);
        qpt_contains(out, "}\nmodule m.weight_fake_quant " TRT_WFQ("0")
                          "module m.weight_fake_quant.activation_post_process " TRT_WOBS("0"));
        test_free(out);
    }
    /* Embedding (per tensor on SNPE; per-channel LSQ fails, see below) */
    char *out = qpt_prepare("qgraph 1\n" EMBEDDING("m") ONE, QP_BACKEND_SNPE, NULL, QP_OK);
    qpt_contains(out, "module m qnnqat.Embedding {num_embeddings: 100, embedding_dim: 32, "
                      "padding_idx: None, weight_shape: (100, 32)}\n"
                      "module m.weight_fake_quant fq.LearnableFakeQuantize {");
    test_free(out);
}

/* Types the backend's map lacks stay float, with no weight quantizer. */
static void
unmapped_types_stay_float(void **state)
{
    (void)state;
    char *out = qpt_prepare("qgraph 1\n" CONVT1("m", 8, 4) ONE, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nn.ConvTranspose1d {");
    qpt_lacks(out, "weight_fake_quant");
    test_free(out);
    out = qpt_prepare("qgraph 1\n" CONVT3("m", 8, 4) ONE, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nn.ConvTranspose3d {");
    qpt_lacks(out, "weight_fake_quant");
    test_free(out);
    /* BN + ReLU fuses, and no backend maps nni.BNReLU2d */
    out = qpt_prepare("qgraph 1\n" BN("m", 2, 8) RELU("r") HEAD MOD2("r") OUT("n2"),
                      QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nni.BNReLU2d {}\nmodule m.0 nn.BatchNorm2d {");
    qpt_lacks(out, "weight_fake_quant");
    test_free(out);
    /* ONNX_QNN uses torch's default map without Linear: Linear, Conv1d, ConvTranspose2d,
     * LinearReLU stay float; a fused ConvBn1d is swapped */
    static const char onnx[] = "qgraph 1\n" LINEAR("fc", 3, 8) CONV1("c1", 3, 8)
        CONVT2("ct", 8, 4) BN("bn", 1, 8) CONV1("m", 3, 8) X
        "%fc = call_module fc (%x,) {}\n"
        "%c1 = call_module c1 (%x,) {}\n"
        "%ct = call_module ct (%x,) {}\n"
        "%m = call_module m (%x,) {}\n"
        "%n2 = call_module bn (%m,) {}\n"
        "%output = output output ((%fc, %c1, %ct, %n2),) {}\n";
    out = qpt_prepare(onnx, QP_BACKEND_ONNX_QNN, NULL, QP_OK);
    qpt_contains(out, "module fc nn.Linear {");
    qpt_contains(out, "module c1 nn.Conv1d {");
    qpt_contains(out, "module ct nn.ConvTranspose2d {");
    qpt_lacks(out, "module fc.weight_fake_quant ");
    qpt_lacks(out, "module c1.weight_fake_quant ");
    qpt_lacks(out, "module ct.weight_fake_quant ");
    qpt_contains(out, "module m nniqat.ConvBn1d {in_channels: 3, out_channels: 8,");
    qpt_contains(out, "module m.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: 0, quant_max: 255, ch_axis: -1,");
    test_free(out);
}

/* A fused container takes its .0 child's attributes (freeze_bn: True before bias for
 * the Bn kinds) and keeps its BatchNorm as `bn`; .0 .1 .2 go. */
static void
fused_containers_take_child_attributes(void **state)
{
    (void)state;
    char *out = qpt_prepare("qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8) RELU("r") HEAD
                            MOD2("bn") MOD3("r") OUT("n3"),
                            QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nniqat.ConvBnReLU2d {in_channels: 3, out_channels: 8, "
                      "kernel_size: (1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), "
                      "groups: 1, padding_mode: \"zeros\", output_padding: (0, 0), freeze_bn: "
                      "True, bias: True, weight_shape: (8, 3, 1, 1)}\n"
                      "module m.bn nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: 0.1, "
                      "affine: True, track_running_stats: True, bias: True, weight_shape: (8,)}\n"
                      "module m.weight_fake_quant " TRT_WFQ("0"));
    qpt_lacks(out, "module m.0 ");
    qpt_lacks(out, "module m.1 ");
    qpt_lacks(out, "module m.2 ");
    test_free(out);
    /* no BN: no freeze_bn, no bn child */
    out = qpt_prepare("qgraph 1\n" CONV2("m", 3, 8) RELU("r") HEAD MOD2("r") OUT("n2"),
                      QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nniqat.ConvReLU2d {in_channels: 3, out_channels: 8, kernel_size: "
                      "(1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, "
                      "padding_mode: \"zeros\", output_padding: (0, 0), bias: True, weight_shape: "
                      "(8, 3, 1, 1)}\nmodule m.weight_fake_quant " TRT_WFQ("0"));
    qpt_lacks(out, "freeze_bn");
    qpt_lacks(out, "module m.bn ");
    qpt_lacks(out, "module m.0 ");
    test_free(out);
    out = qpt_prepare("qgraph 1\n" LINEAR("m", 3, 8) BN("bn", 1, 8) HEAD MOD2("bn") OUT("n2"),
                      QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m qnniqat.LinearBn1d {in_features: 3, out_features: 8, freeze_bn: "
                      "True, bias: True, weight_shape: (8, 3)}\nmodule m.bn nn.BatchNorm1d "
                      "{num_features: 8,");
    test_free(out);
    out = qpt_prepare("qgraph 1\n" LINEAR("m", 3, 8) RELU("r") HEAD MOD2("r") OUT("n2"),
                      QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m nniqat.LinearReLU {in_features: 3, out_features: 8, bias: True, "
                      "weight_shape: (8, 3)}\nmodule m.weight_fake_quant " TRT_WFQ("0"));
    test_free(out);
}

/* ConvTranspose per channel quantizes its weight on axis 1 (in, out, kH, kW), plain or
 * fused; per tensor it stays -1. */
static void
conv_transpose_per_channel_on_axis_1(void **state)
{
    (void)state;
    char *out = qpt_prepare("qgraph 1\n" CONVT2("m", 8, 4) ONE, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m qnnqat.ConvTranspose2d {in_channels: 8, out_channels: 4, ");
    qpt_contains(out, "module m.weight_fake_quant " TRT_WFQ("1")
                      "module m.weight_fake_quant.activation_post_process " TRT_WOBS("1"));
    test_free(out);
    out = qpt_prepare("qgraph 1\n" CONVT2("m", 8, 4) BN("bn", 2, 4) RELU("r") HEAD MOD2("bn")
                      MOD3("r") OUT("n3"),
                      QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module m qnniqat.ConvTransposeBnReLU2d {in_channels: 8, out_channels: 4, ");
    qpt_contains(out, "freeze_bn: True, bias: True, weight_shape: (8, 4, 2, 2)}\n"
                      "module m.bn nn.BatchNorm2d {num_features: 4,");
    qpt_contains(out, "module m.weight_fake_quant " TRT_WFQ("1"));
    test_free(out);
    out = qpt_prepare("qgraph 1\n" CONVT2("m", 8, 4) ONE, QP_BACKEND_SNPE, NULL, QP_OK);
    qpt_contains(out, "module m.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: 0, quant_max: 255, ch_axis: -1,");
    test_free(out);
}

/* The weight fake-quantizer and its observer follow each backend's weight scheme. */
static void
weight_quantizer_per_backend(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("m", 3, 8) ONE;
    static const struct {
        qp_backend be;
        const char *fq, *obs;
    } cases[] = {
        {QP_BACKEND_SNPE,
         "module m.weight_fake_quant fq.LearnableFakeQuantize {eps: 1.1920928955078125e-07, "
         "quant_min: 0, quant_max: 255, ch_axis: -1, pot_scale: False, bitwidth: 8, qscheme: "
         "\"per_tensor_affine\", is_symmetric_quant: False, dtype: \"quint8\", "
         "use_grad_scaling: True}\n",
         "obs.MinMaxObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: -inf, "
         "quant_min: 0, quant_max: 255, ch_axis: -1, pot_scale: False, qscheme: "
         "\"per_tensor_affine\", dtype: \"quint8\", reduce_range: False}\n"},
        {QP_BACKEND_NNIE,
         "module m.weight_fake_quant fq.NNIEFakeQuantize {quant_min: -128, quant_max: 127, "
         "ch_axis: -1, pot_scale: False, bitwidth: 8, qscheme: \"per_tensor_symmetric\", "
         "is_symmetric_quant: True, dtype: \"qint8\"}\n",
         "obs.MinMaxObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: -inf, "
         "quant_min: -128, quant_max: 127, ch_axis: -1,"},
        {QP_BACKEND_PPLCUDA,
         "module m.weight_fake_quant fq.LearnableFakeQuantize {eps: 1.1920928955078125e-07, "
         "quant_min: 0, quant_max: 255, ch_axis: 0, pot_scale: False, bitwidth: 8, qscheme: "
         "\"per_channel_affine\", is_symmetric_quant: False, dtype: \"quint8\",",
         "obs.MinMaxObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: -inf, "
         "quant_min: 0, quant_max: 255, ch_axis: 0,"},
        {QP_BACKEND_OPENVINO,
         "module m.weight_fake_quant fq.LearnableFakeQuantize {eps: 1.1920928955078125e-07, "
         "quant_min: -64, quant_max: 63, ch_axis: 0, pot_scale: False, bitwidth: 7, qscheme: "
         "\"per_channel_symmetric\",",
         "obs.MinMaxObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: -inf, "
         "quant_min: -64, quant_max: 63, ch_axis: 0,"},
        {QP_BACKEND_VITIS,
         "module m.weight_fake_quant fq.TqtFakeQuantize {eps: 1.1920928955078125e-07, "
         "quant_min: -128, quant_max: 127, ch_axis: -1, pot_scale: True, bitwidth: 8, qscheme: "
         "\"per_tensor_symmetric\", is_symmetric_quant: True, dtype: \"qint8\", quant_type: "
         "\"param\"}\n",
         "obs.MinMaxFloorObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: -inf, "
         "quant_min: -128, quant_max: 127, ch_axis: -1, pot_scale: True, qscheme: "
         "\"per_tensor_symmetric\", dtype: \"qint8\", quant_type: \"param\","},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = qpt_prepare(g, cases[i].be, NULL, QP_OK);
        qpt_contains(out, "module m nnqat.Conv2d {in_channels: 3,");
        qpt_contains(out, cases[i].fq);
        char want[512];
        snprintf(want, sizeof want, "module m.weight_fake_quant.activation_post_process %s",
                 cases[i].obs);
        qpt_contains(out, want);
        test_free(out);
    }
}

/* exclude_module_name matches any component of a path: an excluded parent keeps its
 * fused child float (as nni.ConvBn2d with .0 .1); a qprep_overrides float rule does
 * the same for one path. Other modules still swap. */
static void
excluded_and_float_modules_stay_float(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("blk.conv", 3, 8) BN("blk.bn", 2, 8)
        CONV2("other", 8, 8) X
        "%blk_conv = call_module blk.conv (%x,) {}\n"
        "%blk_bn = call_module blk.bn (%blk_conv,) {}\n"
        "%other = call_module other (%blk_bn,) {}\n"
        "%output = output output (%other,) {}\n";
    static const char *cfgs[] = {
        "qcfg 1\nextra_quantizer_dict = {exclude_module_name: [\"blk\"]}\n",
        "qcfg 1\nqprep_overrides = [{path: \"blk.conv\", float: True}]\n",
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        qp_config *c = qpt_config(cfgs[i]);
        char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
        qpt_contains(out, "module blk.conv nni.ConvBn2d {}\nmodule blk.conv.0 nn.Conv2d {");
        qpt_contains(out, "module blk.conv.1 nn.BatchNorm2d {");
        qpt_lacks(out, "module blk.conv.weight_fake_quant");
        qpt_contains(out, "module other nnqat.Conv2d {");
        qpt_contains(out, "module other.weight_fake_quant " TRT_WFQ("0"));
        test_free(out);
        qp_config_destroy(c);
    }
}

/* The swap pass's report: modules swapped, the fused children removed, and the bn
 * child and weight quantizers added. */
static void
report_counts_swaps(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV2("m", 3, 8) BN("bn", 2, 8) RELU("r")
        LINEAR("fc", 8, 4) CONVT1("ct", 4, 4) HEAD MOD2("bn") MOD3("r")
        "%fc = call_module fc (%n3,) {}\n"
        "%ct = call_module ct (%fc,) {}\n" OUT("ct");
    qp_graph *gr = qpt_parse(g, NULL);
    assert_int_equal(qp_prepare_qat(gr, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_pass_stats *s = qpt_pass_stats(qp_graph_report(gr), "swap");
    assert_int_equal(s->modules_swapped, 2); /* m and fc; ct has no mapping */
    assert_int_equal(s->modules_removed, 3); /* m.0 m.1 m.2 */
    assert_int_equal(s->modules_added, 1 + 2 * 2); /* m.bn, two quantizers with observers */
    assert_int_equal(s->nodes_erased, 0);
    assert_int_equal(s->fq_inserted, 0);
    qp_graph_destroy(gr);
    /* excluded: nothing swapped */
    qp_config *c = qpt_config("qcfg 1\nextra_quantizer_dict = {exclude_module_name: "
                              "[\"m\", \"fc\"]}\n");
    gr = qpt_parse(g, NULL);
    assert_int_equal(qp_prepare_qat(gr, QP_BACKEND_TENSORRT, c), QP_OK);
    s = qpt_pass_stats(qp_graph_report(gr), "swap");
    assert_int_equal(s->modules_swapped, 0);
    assert_int_equal(s->modules_removed, 0);
    assert_int_equal(s->modules_added, 0);
    qp_graph_destroy(gr);
    qp_config_destroy(c);
}

/* What torch's from_float refuses: EmbeddingBag (its float-qparams scheme) and
 * per-channel LSQ on a module with neither out_channels nor out_features. */
static void
swaps_torch_refuses_fail(void **state)
{
    (void)state;
    char *msg = qpt_prepare("qgraph 1\n" EMBEDDING_BAG("m") ONE, QP_BACKEND_TENSORRT, NULL,
                            QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "m: EmbeddingBag weights need per_channel_affine_float_qparams");
    test_free(msg);
    msg = qpt_prepare("qgraph 1\n" EMBEDDING("m") ONE, QP_BACKEND_TENSORRT, NULL,
                      QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "m (qnnqat.Embedding): per-channel LearnableFakeQuantize needs "
                      "out_channels or out_features");
    test_free(msg);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float_types_swap_to_qat_types),
        cmocka_unit_test(unmapped_types_stay_float),
        cmocka_unit_test(fused_containers_take_child_attributes),
        cmocka_unit_test(conv_transpose_per_channel_on_axis_1),
        cmocka_unit_test(weight_quantizer_per_backend),
        cmocka_unit_test(excluded_and_float_modules_stay_float),
        cmocka_unit_test(report_counts_swaps),
        cmocka_unit_test(swaps_torch_refuses_fail),
    };
    return cmocka_run_group_tests_name("pass_swap", tests, NULL, NULL);
}
