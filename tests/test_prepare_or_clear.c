/*
 * test_prepare_or_clear.c - qp_prepare_qat_or_clear: prepare without the undo
 * log, for callers that drop the graph on failure. On success it must give
 * exactly what qp_prepare_qat gives, with less peak memory; on failure the graph
 * is empty, usable, and still says what failed and on which line.
 */
#include "testlib.h"

#include <string.h>

/* A BatchNorm without affine does not fuse: prepare fails on the bn node,
 * line 6 of the text (a failure found in the fuse pass, after ffswap and dup ran). */
static const char bad_bn[] = "qgraph 1\n"
                             "module conv nn.Conv2d {in_channels: 3, out_channels: 8, "
                             "kernel_size: (3, 3), stride: (1, 1), padding: (1, 1), dilation: "
                             "(1, 1), groups: 1, padding_mode: \"zeros\", output_padding: (0, 0), "
                             "bias: False, weight_shape: (8, 3, 3, 3)}\n"
                             "module bn nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: "
                             "0.1, affine: False, track_running_stats: True, bias: False}\n"
                             "%x = placeholder x () {}\n"
                             "%conv = call_module conv (%x,) {}\n"
                             "%bn = call_module bn (%conv,) {}\n"
                             "%output = output output (%bn,) {}\n";

/* g holds nothing and works as a graph qp_graph_create made. */
static void
assert_cleared(qp_graph *g)
{
    qp_graph *e = NULL;
    assert_int_equal(qp_graph_create(NULL, &e), QP_OK);
    char *now = qpt_graph_text(g), *want = qpt_graph_text(e);
    assert_string_equal(now, want);
    test_free(now);
    test_free(want);
    assert_int_equal(qp_graph_num_nodes(g), 0);
    assert_int_equal(qp_graph_num_modules(g), 0);
    assert_int_equal(qp_graph_num_explain(g), 0);
    assert_true(qp_graph_errnode(g).id == 0);
    qp_report zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(qp_graph_report(g), &zero, sizeof zero);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), qp_graph_verify(e, NULL, NULL));
    assert_string_equal(qp_graph_errmsg(g), qp_graph_errmsg(e));
    /* usable: a graph built on it is the one built on a new graph */
    static const char *const names[] = {"x", "y_post_act_fake_quantizer", "output"};
    static const qp_op ops[] = {QP_OP_PLACEHOLDER, QP_OP_PLACEHOLDER, QP_OP_OUTPUT};
    qp_graph *both[2] = {g, e};
    for (int k = 0; k < 2; k++) {
        qp_node last = qp_graph_first(both[k]), n;
        for (int i = 0; i < 3; i++) {
            qp_node_spec sp = {ops[i], names[i], names[i], QP_NULL_VAL, QP_NULL_VAL};
            assert_int_equal(qp_graph_insert_after(both[k], last, &sp, &n), QP_OK);
            assert_string_equal(qp_node_name(both[k], n), names[i]);
            last = n;
        }
    }
    now = qpt_graph_text(g);
    want = qpt_graph_text(e);
    assert_string_equal(now, want);
    test_free(now);
    test_free(want);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), qp_graph_verify(e, NULL, NULL));
    qp_graph_destroy(e);
}

/* Every fixture on every backend: the same status, text, report and explanations
 * as qp_prepare_qat, and a lower peak (no log); the runs MQBench refuses clear. */
struct alike {
    unsigned ok, refused;
    size_t peak_with, peak_without; /* reading can be a run's peak: summed */
};

static void
both_ways(void *ud, const char *name, const char *text, qp_backend b, const qp_config *c)
{
    struct alike *r = ud;
    qp_graph *kept = qpt_parse(text, NULL), *g = qpt_parse(text, NULL);
    qp_status want = qp_prepare_qat(kept, b, c);
    qp_status rc = qp_prepare_qat_or_clear(g, b, c);
    assert_int_equal(rc, want);
    assert_string_equal(qp_graph_errmsg(g), qp_graph_errmsg(kept));
    if (rc) {
        assert_int_equal(qp_graph_errline(g), qp_graph_errline(kept));
        assert_cleared(g);
        r->refused++;
    } else {
        char *a = qpt_graph_text(kept), *t = qpt_graph_text(g);
        assert_string_equal(t, a);
        test_free(a);
        test_free(t);
        assert_memory_equal(qp_graph_report(g), qp_graph_report(kept), sizeof(qp_report));
        assert_int_equal(qp_graph_num_explain(g), qp_graph_num_explain(kept));
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
        r->peak_with += qp_graph_mem_peak(kept);
        r->peak_without += qp_graph_mem_peak(g);
        if (qp_graph_mem_peak(g) > qp_graph_mem_peak(kept)) {
            print_error("%s on %s: peak %zu without the log, %zu with it\n", name,
                        qp_backend_name(b), qp_graph_mem_peak(g), qp_graph_mem_peak(kept));
            fail();
        }
        r->ok++;
    }
    qp_graph_destroy(kept);
    qp_graph_destroy(g);
}

static void
same_result_as_prepare_qat_with_less_memory(void **state)
{
    (void)state;
    struct alike r = {0, 0, 0, 0};
    qpt_each_fixture_backend(both_ways, &r);
    print_message("%u runs alike, %u refused alike (and cleared); peaks %zu bytes in all "
                  "with the log, %zu without\n",
                  r.ok, r.refused, r.peak_with, r.peak_without);
    assert_true(r.ok > 0 && r.refused > 0);
    assert_true(r.peak_without < r.peak_with);
}

/* A failure naming a node: the message and the node's text line outlive the node. */
static void
failure_clears_and_keeps_message_and_line(void **state)
{
    (void)state;
    qp_graph *kept = qpt_parse(bad_bn, NULL), *g = qpt_parse(bad_bn, NULL);
    assert_int_equal(qp_prepare_qat(kept, QP_BACKEND_TENSORRT, NULL), QP_ERR_INVALID_GRAPH);
    qp_node at = qp_graph_errnode(kept);
    assert_int_equal(qp_node_line(kept, at), 6);
    assert_int_equal(qp_graph_errline(kept), 6);
    assert_int_equal(qp_prepare_qat_or_clear(g, QP_BACKEND_TENSORRT, NULL), QP_ERR_INVALID_GRAPH);
    qpt_contains(qp_graph_errmsg(g), "cannot fuse bn");
    assert_string_equal(qp_graph_errmsg(g), qp_graph_errmsg(kept));
    assert_int_equal(qp_graph_errline(g), 6);
    assert_cleared(g);
    /* the next call forgets the line */
    (void)qp_graph_verify(g, NULL, NULL);
    assert_int_equal(qp_graph_errline(g), 0);
    qp_graph_destroy(kept);
    qp_graph_destroy(g);
}

/* Failures found before and after the passes run clear alike; a failure that names
 * no node gives line 0. */
static void
early_and_late_failures_clear(void **state)
{
    (void)state;
    char *text = qpt_read_file("fixtures/resnet18.in.qg", NULL);
    /* late: the configuration names a module prepare does not keep */
    qp_config *c = NULL;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    assert_int_equal(qp_config_preserve_attr(c, "bn1", "eps"), QP_OK);
    qp_graph *g = qpt_parse(text, NULL);
    assert_int_equal(qp_prepare_qat_or_clear(g, QP_BACKEND_TENSORRT, c), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_graph_errmsg(g), "no module 'bn1' after prepare");
    assert_int_equal(qp_graph_errline(g), 0);
    assert_cleared(g);
    qp_graph_destroy(g);
    qp_config_destroy(c);
    /* early: a backend that needs a configuration, and a graph already prepared */
    g = qpt_parse(text, NULL);
    assert_int_equal(qp_prepare_qat_or_clear(g, QP_BACKEND_ACADEMIC, NULL), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_graph_errmsg(g), "has no defaults");
    assert_cleared(g);
    qp_graph_destroy(g);
    g = qpt_parse(text, NULL);
    assert_int_equal(qp_prepare_qat_or_clear(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    assert_int_equal(qp_prepare_qat_or_clear(g, QP_BACKEND_TENSORRT, NULL),
                     QP_ERR_ALREADY_PREPARED);
    assert_cleared(g);
    qp_graph_destroy(g);
    assert_int_equal(qp_prepare_qat_or_clear(NULL, QP_BACKEND_TENSORRT, NULL), QP_ERR_NULL_ARG);
    test_free(text);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_result_as_prepare_qat_with_less_memory),
        cmocka_unit_test(failure_clears_and_keeps_message_and_line),
        cmocka_unit_test(early_and_late_failures_clear),
    };
    return cmocka_run_group_tests_name("prepare_or_clear", tests, NULL, NULL);
}
