/*
 * test_pass_dup.c - the dup pass (MQBench's duplicate_reused_nodes): call
 * sites 2..k of a reused module call `<target>_dup1` .. `_dup<k-1>`, deep
 * copies with their submodules; node names stay; a module called once is
 * untouched; a module already at a `_dup` path is replaced; fixed mode keeps
 * modules with parameters shared; the report's counts for the pass.
 */
#include "prep.h"
#include "testlib.h"

#include <string.h>

#define CONV(name)                                                                                 \
    "module " name " nn.Conv2d {in_channels: 4, out_channels: 4, kernel_size: (1, 1), "            \
    "stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", "      \
    "output_padding: (0, 0), bias: True, weight_shape: (4, 4, 1, 1)}\n"

/* relu called 3 times, blk (with two submodules) twice, once called once. No
 * pattern fuses, so the module lines keep their float types. */
static const char reused[] =
    "qgraph 1\n"
    "module relu nn.ReLU {inplace: False}\n"
    "module blk mylib.Block {width: 4}\n"
    "module blk.act nn.ReLU {inplace: False}\n"
    "module blk.proj nn.Identity {}\n"
    "module once nn.Hardtanh {min_val: -1.0, max_val: 1.0, inplace: False}\n"
    "%x = placeholder x () {}\n"
    "%relu = call_module relu (%x,) {}\n"
    "%add = call_function operator.add (%relu, %x) {}\n"
    "%relu_1 = call_module relu (%add,) {}\n"
    "%blk = call_module blk (%relu_1,) {}\n"
    "%mul = call_function operator.mul (%blk, 2) {}\n"
    "%relu_2 = call_module relu (%mul,) {}\n"
    "%blk_1 = call_module blk (%relu_2,) {}\n"
    "%once = call_module once (%blk_1,) {}\n"
    "%output = output output (%once,) {}\n";

/* Counts the lines of text that start with prefix. */
static int
count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, pl))
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

static void
third_call_gets_dup2(void **state)
{
    (void)state;
    char *out = qpt_prepare(reused, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%relu = call_module relu (%x_post_act_fake_quantizer,) {}");
    qpt_contains(out, "%relu_1 = call_module relu_dup1 (%add,) {}");
    qpt_contains(out, "%relu_2 = call_module relu_dup2 (%mul,) {}");
    qpt_contains(out, "module relu nn.ReLU {inplace: False}\n");
    qpt_contains(out, "module relu_dup1 nn.ReLU {inplace: False}\n");
    qpt_contains(out, "module relu_dup2 nn.ReLU {inplace: False}\n");
    qpt_lacks(out, "relu_dup3");
    qpt_lacks(out, "relu_dup1_dup");
    test_free(out);
}

static void
submodules_are_copied_with_the_module(void **state)
{
    (void)state;
    char *out = qpt_prepare(reused, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%blk = call_module blk (%relu_1,) {}");
    qpt_contains(out, "%blk_1 = call_module blk_dup1 (%relu_2,) {}");
    qpt_contains(out, "module blk_dup1 mylib.Block {width: 4}\n");
    qpt_contains(out, "module blk_dup1.act nn.ReLU {inplace: False}\n");
    qpt_contains(out, "module blk_dup1.proj nn.Identity {}\n");
    /* the original keeps its own */
    qpt_contains(out, "module blk.act nn.ReLU {inplace: False}\n");
    qpt_contains(out, "module blk.proj nn.Identity {}\n");
    assert_int_equal(count_lines(out, "module blk_dup1"), 3);
    test_free(out);
}

static void
module_called_once_is_untouched(void **state)
{
    (void)state;
    char *out = qpt_prepare(reused, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%once = call_module once (%blk_1,) {}");
    qpt_contains(out, "module once nn.Hardtanh {min_val: -1.0, max_val: 1.0, inplace: False}\n");
    qpt_lacks(out, "once_dup");
    test_free(out);
}

/* Only targets change: every node keeps its name, op and place. */
static void
node_names_do_not_change(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(reused, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    char *out = qpt_graph_text(g);
    static const char *const names[] = {"%x =",   "%relu =",   "%add =",   "%relu_1 =", "%blk =",
                                        "%mul =", "%relu_2 =", "%blk_1 =", "%once ="};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_int_equal(count_lines(out, names[i]), 1);
    qpt_lacks(out, "%relu_dup");
    qpt_lacks(out, "%blk_dup");
    /* the order of the original nodes is kept */
    assert_true(strstr(out, "%relu_1 =") < strstr(out, "%blk ="));
    assert_true(strstr(out, "%blk =") < strstr(out, "%relu_2 ="));
    assert_true(strstr(out, "%relu_2 =") < strstr(out, "%blk_1 ="));
    test_free(out);
    qp_graph_destroy(g);
}

static void
report_counts_duplicates(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(reused, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_report *r = qp_graph_report(g);
    const qp_pass_stats *d = qpt_pass_stats(r, "dup");
    assert_int_equal(d->matched, 3);       /* relu_1, relu_2, blk_1 */
    assert_int_equal(d->modules_added, 5); /* relu_dup1, relu_dup2, blk_dup1 and 2 children */
    assert_int_equal(d->nodes_added, 0);
    assert_int_equal(d->nodes_erased, 0);
    assert_int_equal(d->uses_rewired, 0);
    assert_int_equal(d->modules_swapped, 0);
    assert_int_equal(d->fq_inserted, 0);
    qp_graph_destroy(g);
}

static void
no_reuse_reports_nothing(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n"
                                "module a nn.ReLU {inplace: False}\n"
                                "module b nn.ReLU {inplace: False}\n"
                                "%x = placeholder x () {}\n"
                                "%a = call_module a (%x,) {}\n"
                                "%b = call_module b (%a,) {}\n"
                                "%output = output output (%b,) {}\n";
    qp_graph *g = qpt_parse(gtext, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_pass_stats *d = qpt_pass_stats(qp_graph_report(g), "dup");
    assert_int_equal(d->matched, 0);
    assert_int_equal(d->modules_added, 0);
    char *out = qpt_graph_text(g);
    qpt_lacks(out, "_dup");
    test_free(out);
    qp_graph_destroy(g);
}

/* The copy goes under the same parent; siblings that share the name's prefix
 * (relu2, relu_x) are not part of relu's subtree and are not copied. */
static void
nested_module_copied_under_its_parent(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n"
                                "module layer1.0.relu nn.ReLU {inplace: True}\n"
                                "module layer1.0.relu.inner nn.Identity {}\n"
                                "module layer1.0.relu2 nn.ReLU6 {inplace: False}\n"
                                "module layer1.0.relu_x nn.Tanh {}\n"
                                "%x = placeholder x () {}\n"
                                "%relu = call_module layer1.0.relu (%x,) {}\n"
                                "%relu2 = call_module layer1.0.relu2 (%relu,) {}\n"
                                "%relu_x = call_module layer1.0.relu_x (%relu2,) {}\n"
                                "%relu_1 = call_module layer1.0.relu (%relu_x,) {}\n"
                                "%output = output output (%relu_1,) {}\n";
    qp_graph *g = qpt_parse(gtext, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    char *out = qpt_graph_text(g);
    qpt_contains(out, "%relu_1 = call_module layer1.0.relu_dup1 (%relu_x,) {}");
    qpt_contains(out, "module layer1.0.relu_dup1 nn.ReLU {inplace: True}\n");
    qpt_contains(out, "module layer1.0.relu_dup1.inner nn.Identity {}\n");
    assert_int_equal(count_lines(out, "module layer1.0.relu_dup1"), 2);
    qpt_lacks(out, "layer1_dup");
    qpt_lacks(out, "relu2_dup");
    qpt_lacks(out, "relu_x_dup");
    const qp_pass_stats *d = qpt_pass_stats(qp_graph_report(g), "dup");
    assert_int_equal(d->matched, 1);
    assert_int_equal(d->modules_added, 2);
    test_free(out);
    qp_graph_destroy(g);
}

/* MQBench installs each copy with setattr: a module already at `<target>_dup1`
 * is replaced, and a node that called it now runs the copy. */
/* setattr on the parent appends the copy to the parent's children: after the last
 * module under the parent, not next to the original (MQBench's module order, as the
 * fixtures list relu_dup1 after conv2 and bn2). */
static void
copy_goes_last_among_its_parents_children(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "module blk.act nn.Tanh {}\n"
                            "module blk.mid nn.Identity {}\n"
                            "module blk.last nn.Sigmoid {}\n"
                            "module tail nn.Hardswish {inplace: False}\n"
                            "%x = placeholder x () {}\n"
                            "%blk_act = call_module blk.act (%x,) {}\n"
                            "%blk_mid = call_module blk.mid (%blk_act,) {}\n"
                            "%blk_last = call_module blk.last (%blk_mid,) {}\n"
                            "%blk_act_1 = call_module blk.act (%blk_last,) {}\n"
                            "%blk_act_2 = call_module blk.act (%blk_act_1,) {}\n"
                            "%tail = call_module tail (%blk_act_2,) {}\n"
                            "%output = output output (%tail,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    const char *act = strstr(out, "module blk.act nn.Tanh"),
               *last = strstr(out, "module blk.last nn.Sigmoid"),
               *d1 = strstr(out, "module blk.act_dup1 nn.Tanh"),
               *d2 = strstr(out, "module blk.act_dup2 nn.Tanh"),
               *tail = strstr(out, "module tail ");
    assert_non_null(act);
    assert_non_null(last);
    assert_non_null(d1);
    assert_non_null(d2);
    assert_non_null(tail);
    assert_true(act < last && last < d1 && d1 < d2 && d2 < tail);
    test_free(out);
}

static void
existing_module_at_dup_path_is_replaced(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n"
                                "module relu nn.ReLU {inplace: False}\n"
                                "module relu_dup1 nn.Sigmoid {}\n"
                                "%x = placeholder x () {}\n"
                                "%relu = call_module relu (%x,) {}\n"
                                "%sig = call_module relu_dup1 (%relu,) {}\n"
                                "%relu_1 = call_module relu (%sig,) {}\n"
                                "%output = output output (%relu_1,) {}\n";
    char *out = qpt_prepare(gtext, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_lacks(out, "nn.Sigmoid");
    qpt_contains(out, "module relu_dup1 nn.ReLU {inplace: False}\n");
    assert_int_equal(count_lines(out, "module relu_dup1 "), 1);
    qpt_contains(out, "%sig = call_module relu_dup1 (");
    qpt_contains(out, "%relu_1 = call_module relu_dup1 (");
    test_free(out);
}

/* A module with weights is copied too, and each copy becomes its own QAT module
 * with its own weight fake-quantizer. */
static void
weighted_module_is_untied_by_default(void **state)
{
    (void)state;
    static const char gtext[] =
        "qgraph 1\n" CONV("conv") "module act nn.Hardswish {inplace: False}\n"
                                  "%x = placeholder x () {}\n"
                                  "%conv = call_module conv (%x,) {}\n"
                                  "%act = call_module act (%conv,) {}\n"
                                  "%conv_1 = call_module conv (%act,) {}\n"
                                  "%output = output output (%conv_1,) {}\n";
    char *out = qpt_prepare(gtext, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%conv_1 = call_module conv_dup1 (");
    qpt_contains(out, "module conv nnqat.Conv2d {");
    qpt_contains(out, "module conv_dup1 nnqat.Conv2d {");
    qpt_contains(out, "module conv.weight_fake_quant fq.LearnableFakeQuantize {");
    qpt_contains(out, "module conv_dup1.weight_fake_quant fq.LearnableFakeQuantize {");
    test_free(out);
}

/* README "Fixed mode": modules with parameters (a weight shape, or a type with a
 * QAT mapping even without one) stay shared; parameter-free ones are copied. */
static void
fixed_mode_keeps_modules_with_parameters_shared(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n" CONV(
        "conv") "module fc nn.Linear {in_features: 4, out_features: 4, bias: True}\n"
                "module scale mylib.Scale {weight_shape: (4,)}\n"
                "module act nn.Hardswish {inplace: False}\n"
                "%x = placeholder x () {}\n"
                "%conv = call_module conv (%x,) {}\n"
                "%act = call_module act (%conv,) {}\n"
                "%conv_1 = call_module conv (%act,) {}\n"
                "%act_1 = call_module act (%conv_1,) {}\n"
                "%fc = call_module fc (%act_1,) {}\n"
                "%fc_1 = call_module fc (%fc,) {}\n"
                "%scale = call_module scale (%fc_1,) {}\n"
                "%scale_1 = call_module scale (%scale,) {}\n"
                "%output = output output (%scale_1,) {}\n";
    qp_config *c = qpt_config("qcfg 1\nqprep_options = {fix: True}\n");
    qp_graph *g = qpt_parse(gtext, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, c), QP_OK);
    char *out = qpt_graph_text(g);
    qpt_contains(out, "%conv_1 = call_module conv (");
    qpt_contains(out, "%fc_1 = call_module fc (");
    qpt_contains(out, "%scale_1 = call_module scale (");
    qpt_lacks(out, "conv_dup");
    qpt_lacks(out, "fc_dup");
    qpt_lacks(out, "scale_dup");
    /* one tied weight, one weight fake-quantizer */
    assert_int_equal(count_lines(out, "module conv.weight_fake_quant "), 1);
    assert_int_equal(count_lines(out, "module fc.weight_fake_quant "), 1);
    qpt_contains(out, "%act_1 = call_module act_dup1 (");
    qpt_contains(out, "module act_dup1 nn.Hardswish {inplace: False}\n");
    const qp_pass_stats *d = qpt_pass_stats(qp_graph_report(g), "dup");
    assert_int_equal(d->matched, 1);
    assert_int_equal(d->modules_added, 1);
    test_free(out);
    qp_graph_destroy(g);
    /* the same graph in default mode copies all four */
    g = qpt_parse(gtext, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    d = qpt_pass_stats(qp_graph_report(g), "dup");
    assert_int_equal(d->matched, 4);
    assert_int_equal(d->modules_added, 4);
    out = qpt_graph_text(g);
    qpt_contains(out, "%conv_1 = call_module conv_dup1 (");
    qpt_contains(out, "%fc_1 = call_module fc_dup1 (");
    qpt_contains(out, "%scale_1 = call_module scale_dup1 (");
    qpt_contains(out, "module scale_dup1 mylib.Scale {weight_shape: (4,)}\n");
    test_free(out);
    qp_graph_destroy(g);
    qp_config_destroy(c);
}

/* After copying, the table keeps only what some node calls, as rebuilding the
 * GraphModule does; each module and copy is there once. */
static void
uncalled_modules_leave_the_table(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n"
                                "module relu nn.ReLU {inplace: False}\n"
                                "module spare nn.Tanh {}\n"
                                "%x = placeholder x () {}\n"
                                "%relu = call_module relu (%x,) {}\n"
                                "%relu_1 = call_module relu (%relu,) {}\n"
                                "%output = output output (%relu_1,) {}\n";
    char *out = qpt_prepare(gtext, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_lacks(out, "module spare");
    assert_int_equal(count_lines(out, "module relu "), 1);
    assert_int_equal(count_lines(out, "module relu_dup1 "), 1);
    test_free(out);
}

/* Runs the dup pass alone on g, then checks that qp__mod_tree_order would move
 * nothing: the pass puts each copy where tree order has it and does not reorder
 * after copying. */
static void
dup_then_check_tree_order(qp_graph *g, const char *what)
{
    struct qp__prep P;
    qp_pass_stats st;
    memset(&P, 0, sizeof P);
    memset(&st, 0, sizeof st);
    P.g = g;
    P.orig = g;
    P.be = qp__backend_get(QP_BACKEND_TENSORRT);
    P.st = &st;
    assert_int_equal(qp__pass_dup(&P), QP_OK);
    uint32_t n = 0;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        n++;
    uint32_t *before = test_malloc((n + 1) * sizeof *before), k = 0;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        before[k++] = m;
    assert_int_equal(qp__mod_tree_order(g), QP_OK);
    k = 0;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next, k++) {
        if (k >= n || before[k] != m) {
            print_error("%s: after dup, module %s is out of tree order (place %u)\n", what,
                        qp__sym_str(g, g->mods[m].path), (unsigned)k);
            fail();
        }
    }
    assert_int_equal(k, n);
    test_free(before);
}

static void
copies_leave_the_table_in_tree_order(void **state)
{
    (void)state;
    /* reuse at the root, under present and absent parents, deep, with a replaced
     * destination, and a copy whose parent run is interrupted by another root */
    static const char *const texts[] = {
        reused,
        "qgraph 1\n"
        "module a.b.relu nn.ReLU {inplace: True}\n"
        "module a.b.relu.inner nn.Identity {}\n"
        "module a.b.relu2 nn.ReLU6 {inplace: False}\n"
        "module c nn.Tanh {}\n"
        "module a.b.tail nn.Identity {}\n"
        "module a nn.Identity {}\n"
        "module relu_dup1 nn.Sigmoid {}\n"
        "module relu nn.ReLU {inplace: False}\n"
        "%x = placeholder x () {}\n"
        "%r = call_module a.b.relu (%x,) {}\n"
        "%r2 = call_module a.b.relu2 (%r,) {}\n"
        "%c = call_module c (%r2,) {}\n"
        "%t = call_module a.b.tail (%c,) {}\n"
        "%s = call_module relu_dup1 (%t,) {}\n"
        "%q = call_module relu (%s,) {}\n"
        "%r_1 = call_module a.b.relu (%q,) {}\n"
        "%c_1 = call_module c (%r_1,) {}\n"
        "%r2_1 = call_module a.b.relu2 (%c_1,) {}\n"
        "%q_1 = call_module relu (%r2_1,) {}\n"
        "%r_2 = call_module a.b.relu (%q_1,) {}\n"
        "%a = call_module a (%r_2,) {}\n"
        "%output = output output (%a,) {}\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        qp_graph *g = qpt_parse(texts[i], NULL);
        dup_then_check_tree_order(g, "inline graph");
        qp_graph_destroy(g);
    }
    /* and every model of the conformance fixtures */
    char **names = NULL;
    size_t nn = qpt_list("fixtures", ".in.qg", &names);
    assert_true(nn > 0);
    for (size_t i = 0; i < nn; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/%s", names[i]);
        size_t len = 0;
        char *text = qpt_read_file(rel, &len);
        qp_graph *g = qpt_parse(text, NULL);
        dup_then_check_tree_order(g, names[i]);
        qp_graph_destroy(g);
        test_free(text);
    }
    qpt_free_list(names, nn);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(third_call_gets_dup2),
        cmocka_unit_test(submodules_are_copied_with_the_module),
        cmocka_unit_test(module_called_once_is_untouched),
        cmocka_unit_test(node_names_do_not_change),
        cmocka_unit_test(report_counts_duplicates),
        cmocka_unit_test(no_reuse_reports_nothing),
        cmocka_unit_test(nested_module_copied_under_its_parent),
        cmocka_unit_test(copy_goes_last_among_its_parents_children),
        cmocka_unit_test(existing_module_at_dup_path_is_replaced),
        cmocka_unit_test(weighted_module_is_untied_by_default),
        cmocka_unit_test(fixed_mode_keeps_modules_with_parameters_shared),
        cmocka_unit_test(uncalled_modules_leave_the_table),
        cmocka_unit_test(copies_leave_the_table_in_tree_order),
    };
    return cmocka_run_group_tests_name("pass_dup", tests, NULL, NULL);
}
