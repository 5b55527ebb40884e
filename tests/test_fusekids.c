/*
 * test_fusekids.c - fused containers the swap takes are made without their
 * children .0 .1 .2 (src/fusekids.c): no module record and no path sym for
 * them, the swap reading the originals instead, with the same QAT modules and
 * report counts; and every case where a child is observed still gets them:
 * a container kept float by exclude_module_name, by a type override that
 * matches it through its .0, and a container the backend does not map.
 */
#include "internal.h"
#include "testlib.h"

#include <string.h>

static const char small[] =
    "qgraph 1\n"
    "module conv nn.Conv2d {in_channels: 3, out_channels: 8, kernel_size: (3, 3), stride: "
    "(1, 1), padding: (1, 1), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", "
    "output_padding: (0, 0), bias: True, weight_shape: (8, 3, 3, 3)}\n"
    "module bn nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: 0.1, affine: True, "
    "track_running_stats: True, bias: True, weight_shape: (8,)}\n"
    "module relu nn.ReLU {inplace: False}\n"
    "%x = placeholder x () {}\n"
    "%conv = call_module conv (%x,) {}\n"
    "%bn = call_module bn (%conv,) {}\n"
    "%relu = call_module relu (%bn,) {}\n"
    "%output = output output (%relu,) {}\n";

static bool
has_sym(const qp_graph *g, const char *s)
{
    return qp__sym_find(g, s, strlen(s)) != 0;
}

/* Prepares small with config text cfg (NULL: none) on backend be; the graph. */
static qp_graph *
prepared(qp_backend be, const char *cfg)
{
    qp_config *c = cfg ? qpt_config(cfg) : NULL;
    qp_graph *g = qpt_parse(small, NULL);
    assert_int_equal(qp_prepare_qat(g, be, c), QP_OK);
    qp_config_destroy(c);
    return g;
}

static void
swapped_container_makes_no_children(void **state)
{
    (void)state;
    qp_graph *g = prepared(QP_BACKEND_TENSORRT, NULL);
    assert_false(has_sym(g, "conv.0"));
    assert_false(has_sym(g, "conv.1"));
    assert_false(has_sym(g, "conv.2"));
    /* no dead records: the container keeps conv's, so besides the three originals
     * every record made is live (the copies would be three dead ones more) */
    assert_int_equal(g->nmods - 1, 3 + (g->nlivemods - 1));
    char *out = qpt_graph_text(g);
    qpt_contains(out, "module conv nniqat.ConvBnReLU2d {in_channels: 3, out_channels: 8,");
    qpt_contains(out, "freeze_bn: True, bias: True, weight_shape: (8, 3, 3, 3)}\n"
                      "module conv.bn nn.BatchNorm2d {num_features: 8,");
    test_free(out);
    /* the report counts the children as if made and dropped */
    const qp_report *r = qp_graph_report(g);
    assert_int_equal(r->pass[2].modules_added, 3);
    assert_int_equal(r->pass[4].modules_removed, 3);
    qp_graph_destroy(g);
}

/* A container kept float keeps its children, as fuse_fx makes them. */
static void
float_container_keeps_children(const char *cfg, qp_backend be)
{
    qp_graph *g = prepared(be, cfg);
    char *out = qpt_graph_text(g);
    qpt_contains(out, "module conv.0 nn.Conv2d {in_channels: 3,");
    qpt_contains(out, "module conv.1 nn.BatchNorm2d {num_features: 8,");
    qpt_contains(out, "module conv.2 nn.ReLU {inplace: False}\n");
    test_free(out);
    qp_graph_destroy(g);
}

static void
excluded_container_keeps_children(void **state)
{
    (void)state;
    float_container_keeps_children(
        "qcfg 1\nextra_quantizer_dict = {exclude_module_name: [\"conv\"]}\n", QP_BACKEND_TENSORRT);
}

/* the qconfig pass sees the container as its .0 (a conv): float, never swapped */
static void
type_override_sees_child(void **state)
{
    (void)state;
    float_container_keeps_children(
        "qcfg 1\nqprep_overrides = [{type: \"nn.Conv2d\", float: True}]\n", QP_BACKEND_TENSORRT);
}

/* the same rule giving a scheme: swapped, through the children made for qconfig */
static void
type_override_swaps_through_children(void **state)
{
    (void)state;
    qp_graph *g = prepared(QP_BACKEND_TENSORRT, "qcfg 1\nqprep_overrides = [{type: \"nn.Conv2d\", "
                                                "w: {bit: 4}}]\n");
    assert_true(has_sym(g, "conv.0"));
    char *out = qpt_graph_text(g);
    qpt_contains(out, "module conv nniqat.ConvBnReLU2d {in_channels: 3,");
    qpt_lacks(out, "module conv.0 ");
    test_free(out);
    qp_graph_destroy(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(swapped_container_makes_no_children),
        cmocka_unit_test(excluded_container_keeps_children),
        cmocka_unit_test(type_override_sees_child),
        cmocka_unit_test(type_override_swaps_through_children),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
