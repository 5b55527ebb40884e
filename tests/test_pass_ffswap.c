/*
 * test_pass_ffswap.c - the ffswap pass (MQBench's _swap_ff_with_fxff): every
 * call of `<ff>.activation_post_process` of an nnq.FloatFunctional goes, its
 * users (args, nested lists, kwargs, the output) read its input instead, the
 * FloatFunctional modules and their submodules leave the table, other nodes
 * and names stay; a call without an input node is refused; the report's counts.
 */
#include "testlib.h"

#include <string.h>

/* ff is used twice, ff2 once, spare never; q is not a FloatFunctional. */
static const char ffgraph[] =
    "qgraph 1\n"
    "module ff nnq.FloatFunctional {}\n"
    "module ff.activation_post_process nn.Identity {}\n"
    "module ff2 nnq.FloatFunctional {}\n"
    "module ff2.activation_post_process nn.Identity {}\n"
    "module spare nnq.FloatFunctional {}\n"
    "module spare.activation_post_process nn.Identity {}\n"
    "module q mylib.Quant {}\n"
    "module q.activation_post_process nn.Identity {}\n"
    "%x = placeholder x () {}\n"
    "%y = placeholder y () {}\n"
    "%add = call_function torch.add (%x, %y) {}\n"
    "%ff_activation_post_process = call_module ff.activation_post_process (%add,) {}\n"
    "%mul = call_function torch.mul (%ff_activation_post_process, %x) {}\n"
    "%ff_activation_post_process_1 = call_module ff.activation_post_process (%mul,) {}\n"
    "%cat = call_function torch.cat ([%ff_activation_post_process_1, "
    "%ff_activation_post_process],) {dim: 1}\n"
    "%ff2_activation_post_process = call_module ff2.activation_post_process (%cat,) {}\n"
    "%q_activation_post_process = call_module q.activation_post_process (%x,) {}\n"
    "%add_1 = call_function operator.add (%q_activation_post_process, 1) "
    "{alpha: %ff2_activation_post_process}\n"
    "%output = output output ((%add_1, %ff_activation_post_process),) {}\n";

static void
activation_post_process_calls_go(void **state)
{
    (void)state;
    char *out = qpt_prepare(ffgraph, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_lacks(out, "%ff_activation_post_process");
    qpt_lacks(out, "%ff2_activation_post_process");
    qpt_lacks(out, "call_module ff.");
    qpt_lacks(out, "call_module ff2.");
    test_free(out);
}

/* Each user reads the removed node's input: in args, inside a list, in a kwarg
 * and in the output tuple. */
static void
users_read_the_input_instead(void **state)
{
    (void)state;
    char *out = qpt_prepare(ffgraph, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%mul = call_function torch.mul (%add, %x) {}");
    qpt_contains(out, "%cat = call_function torch.cat ([%mul, %add],) {dim: 1}");
    qpt_contains(out, "{alpha: %cat}");
    qpt_contains(out, "%output = output output ((%add_1, %add),) {}");
    test_free(out);
}

static void
float_functionals_leave_the_table(void **state)
{
    (void)state;
    char *out = qpt_prepare(ffgraph, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_lacks(out, "nnq.FloatFunctional");
    qpt_lacks(out, "module ff");
    qpt_lacks(out, "module spare");
    test_free(out);
}

/* An activation_post_process of a module of another type is an ordinary call. */
static void
other_modules_are_untouched(void **state)
{
    (void)state;
    char *out = qpt_prepare(ffgraph, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%q_activation_post_process = call_module q.activation_post_process "
                      "(%x,) {}");
    qpt_contains(out, "module q.activation_post_process nn.Identity {}\n");
    test_free(out);
}

/* The nodes that stay keep their names, ops and targets. */
static void
other_nodes_keep_their_names(void **state)
{
    (void)state;
    char *out = qpt_prepare(ffgraph, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%x = placeholder x () {}");
    qpt_contains(out, "%y = placeholder y () {}");
    qpt_contains(out, "%add = call_function torch.add (%x, %y) {}");
    qpt_contains(out, "%add_1 = call_function operator.add (");
    assert_true(strstr(out, "%add =") < strstr(out, "%mul ="));
    assert_true(strstr(out, "%mul =") < strstr(out, "%cat ="));
    assert_true(strstr(out, "%cat =") < strstr(out, "%add_1 ="));
    test_free(out);
}

static void
report_counts_the_swap(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(ffgraph, NULL);
    const qp_report *r = qp_graph_report(g);
    assert_int_equal(r->npass, 0);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    assert_int_equal(r->nodes_before, 11);
    const qp_pass_stats *f = qpt_pass_stats(r, "ffswap");
    assert_int_equal(f->matched, 3); /* two calls of ff, one of ff2 */
    assert_int_equal(f->nodes_erased, 3);
    assert_int_equal(f->uses_rewired, 5); /* mul, cat (twice), add_1, output */
    assert_int_equal(f->modules_removed, 6);
    assert_int_equal(f->nodes_added, 0);
    assert_int_equal(f->modules_added, 0);
    assert_int_equal(f->modules_swapped, 0);
    assert_int_equal(f->fq_inserted, 0);
    /* ff's two calls are gone before dup counts call sites */
    assert_int_equal(qpt_pass_stats(r, "dup")->matched, 0);
    qp_graph_destroy(g);
}

static void
no_float_functional_reports_nothing(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n"
                                "module relu nn.ReLU {inplace: False}\n"
                                "%x = placeholder x () {}\n"
                                "%relu = call_module relu (%x,) {}\n"
                                "%output = output output (%relu,) {}\n";
    qp_graph *g = qpt_parse(gtext, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_pass_stats *f = qpt_pass_stats(qp_graph_report(g), "ffswap");
    assert_int_equal(f->matched, 0);
    assert_int_equal(f->nodes_erased, 0);
    assert_int_equal(f->uses_rewired, 0);
    assert_int_equal(f->modules_removed, 0);
    qp_graph_destroy(g);
}

/* A FloatFunctional nothing calls still leaves the table, with its submodules. */
static void
uncalled_float_functional_is_removed(void **state)
{
    (void)state;
    static const char gtext[] = "qgraph 1\n"
                                "module ff nnq.FloatFunctional {}\n"
                                "module ff.activation_post_process nn.Identity {}\n"
                                "%x = placeholder x () {}\n"
                                "%y = placeholder y () {}\n"
                                "%add = call_function operator.add (%x, %y) {}\n"
                                "%output = output output (%add,) {}\n";
    qp_graph *g = qpt_parse(gtext, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_pass_stats *f = qpt_pass_stats(qp_graph_report(g), "ffswap");
    assert_int_equal(f->matched, 0);
    assert_int_equal(f->nodes_erased, 0);
    assert_int_equal(f->modules_removed, 2);
    char *out = qpt_graph_text(g);
    qpt_lacks(out, "module ff");
    qpt_contains(out, "%add = call_function operator.add (%x_post_act_fake_quantizer, "
                      "%y_post_act_fake_quantizer) {}");
    test_free(out);
    qp_graph_destroy(g);
}

/* A call whose only user is the output: the output reads the op itself. */
static void
output_reads_the_op_directly(void **state)
{
    (void)state;
    static const char gtext[] =
        "qgraph 1\n"
        "module ff nnq.FloatFunctional {}\n"
        "module ff.activation_post_process nn.Identity {}\n"
        "%x = placeholder x () {}\n"
        "%y = placeholder y () {}\n"
        "%add = call_function operator.add (%x, %y) {}\n"
        "%ff_activation_post_process = call_module ff.activation_post_process (%add,) {}\n"
        "%output = output output (%ff_activation_post_process,) {}\n";
    char *out = qpt_prepare(gtext, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_lacks(out, "ff_activation_post_process");
    qpt_contains(out, "%output = output output (%add,) {}");
    test_free(out);
}

/* The call's input must be a node (given as the first argument); the graph is
 * left unchanged. */
static void
call_without_input_node_is_refused(void **state)
{
    (void)state;
    static const char gtext[] =
        "qgraph 1\n"
        "module ff nnq.FloatFunctional {}\n"
        "module ff.activation_post_process nn.Identity {}\n"
        "%x = placeholder x () {}\n"
        "%ff_activation_post_process = call_module ff.activation_post_process () {input: %x}\n"
        "%output = output output (%ff_activation_post_process,) {}\n";
    char *msg = qpt_prepare(gtext, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "%ff_activation_post_process calls ff.activation_post_process without an "
                      "input node");
    test_free(msg);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activation_post_process_calls_go),
        cmocka_unit_test(users_read_the_input_instead),
        cmocka_unit_test(float_functionals_leave_the_table),
        cmocka_unit_test(other_modules_are_untouched),
        cmocka_unit_test(other_nodes_keep_their_names),
        cmocka_unit_test(report_counts_the_swap),
        cmocka_unit_test(no_float_functional_reports_nothing),
        cmocka_unit_test(uncalled_float_functional_is_removed),
        cmocka_unit_test(output_reads_the_op_directly),
        cmocka_unit_test(call_without_input_node_is_refused),
    };
    return cmocka_run_group_tests_name("pass_ffswap", tests, NULL, NULL);
}
