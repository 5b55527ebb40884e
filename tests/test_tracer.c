/*
 * test_tracer.c - the builder a framework drives while running its model
 * (tracer.c): torch.fx node names, sticky errors (out of memory included, even
 * in value constructors the caller did not check), undeclared modules and
 * parameters, finish with and without an output, and the hand-over.
 */
#include "testlib.h"

#include <string.h>

struct tr {
    qpt_alloc st;
    qp_tracer *t;
    qp_graph *g; /* the graph being recorded */
};

static void
start(struct tr *r)
{
    qpt_alloc_reset(&r->st);
    qp_allocator a = qpt_allocator(&r->st);
    assert_int_equal(qp_tracer_create(&a, &r->t), QP_OK);
    r->g = qp_tracer_graph(r->t);
    assert_non_null(r->g);
}

/* Value helpers that do not check: a builder is allowed not to. */
static qp_val
ref(qp_graph *g, qp_node n)
{
    qp_val v = QP_NULL_VAL;
    qp_val_new_node(g, n, &v);
    return v;
}

static qp_val
args1(qp_graph *g, qp_val a)
{
    qp_val v = QP_NULL_VAL;
    qp_val_new_tuple(g, 1, &a, &v);
    return v;
}

static qp_val
args2(qp_graph *g, qp_val a, qp_val b)
{
    qp_val items[2] = {a, b}, v = QP_NULL_VAL;
    qp_val_new_tuple(g, 2, items, &v);
    return v;
}

static qp_val
vint(qp_graph *g, int64_t i)
{
    qp_val v = QP_NULL_VAL;
    qp_val_new_int(g, i, &v);
    return v;
}

static int conv_obj, bn_obj, relu_obj, layer_obj; /* the framework's own modules */

/* A small model recorded without checking a single status, as STYLE.md allows. */
static void
trace_model(qp_tracer *t)
{
    qp_graph *g = qp_tracer_graph(t);
    qp_val kattrs = QP_NULL_VAL, ks = vint(g, 3);
    const char *key = "kernel_size";
    qp_val_new_dict(g, 1, &key, &ks, &kattrs);
    qp_tracer_module(t, "conv1", "nn.Conv2d", kattrs, &conv_obj);
    qp_tracer_module(t, "bn1", "nn.BatchNorm2d", QP_NULL_VAL, &bn_obj);
    qp_tracer_module(t, "relu", "nn.ReLU", QP_NULL_VAL, &relu_obj);
    qp_tracer_module(t, "layer1.0.conv1", "nn.Conv2d", QP_NULL_VAL, &layer_obj);
    qp_tracer_param(t, "position_ids", QP_NULL_VAL);
    qp_node x = {0}, inp = {0}, pos = {0}, c = {0}, b = {0}, r = {0}, l = {0}, a = {0}, a1 = {0};
    qp_node sz = {0}, v = {0};
    qp_tracer_placeholder(t, "x", QP_NULL_VAL, &x);
    qp_tracer_placeholder(t, "input", QP_NULL_VAL, &inp);
    qp_tracer_get_attr(t, "position_ids", &pos);
    qp_tracer_call_module(t, "conv1", args1(g, ref(g, x)), QP_NULL_VAL, &c);
    qp_tracer_call_module(t, "bn1", args1(g, ref(g, c)), QP_NULL_VAL, &b);
    qp_tracer_call_module(t, "relu", args1(g, ref(g, b)), QP_NULL_VAL, &r);
    qp_tracer_call_module(t, "layer1.0.conv1", args1(g, ref(g, r)), QP_NULL_VAL, &l);
    qp_tracer_call_function(t, "operator.add", args2(g, ref(g, l), ref(g, inp)), QP_NULL_VAL, &a);
    qp_tracer_call_function(t, "operator.add", args2(g, ref(g, a), ref(g, pos)), QP_NULL_VAL, &a1);
    qp_tracer_call_method(t, "size", args2(g, ref(g, a1), vint(g, 0)), QP_NULL_VAL, &sz);
    qp_val kw = QP_NULL_VAL, one = vint(g, 1);
    const char *dim = "dim";
    qp_val_new_dict(g, 1, &dim, &one, &kw);
    qp_tracer_call_method(t, "view", args2(g, ref(g, a1), ref(g, sz)), kw, &v);
    qp_tracer_output(t, ref(g, v));
}

static const char model_text[] =
    "qgraph 1\n"
    "module conv1 nn.Conv2d {kernel_size: 3}\n"
    "module bn1 nn.BatchNorm2d {}\n"
    "module relu nn.ReLU {}\n"
    "module layer1.0.conv1 nn.Conv2d {}\n"
    "attr position_ids {}\n"
    "%x = placeholder x () {}\n"
    "%input_1 = placeholder input () {}\n"
    "%position_ids = get_attr position_ids () {}\n"
    "%conv1 = call_module conv1 (%x,) {}\n"
    "%bn1 = call_module bn1 (%conv1,) {}\n"
    "%relu = call_module relu (%bn1,) {}\n"
    "%layer1_0_conv1 = call_module layer1.0.conv1 (%relu,) {}\n"
    "%add = call_function operator.add (%layer1_0_conv1, %input_1) {}\n"
    "%add_1 = call_function operator.add (%add, %position_ids) {}\n"
    "%size = call_method size (%add_1, 0) {}\n"
    "%view = call_method view (%add_1, %size) {dim: 1}\n"
    "%output = output output (%view,) {}\n";

static void
trace_records_what_torch_fx_records(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    trace_model(r.t);
    assert_int_equal(qp_tracer_status(r.t), QP_OK);
    qp_graph *g = NULL;
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_OK);
    assert_non_null(g);
    char *text = qpt_graph_text(g);
    assert_string_equal(text, model_text);
    test_free(text);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    assert_string_equal(qp_graph_errmsg(g), "");
    /* the framework's pointers ride on its modules */
    assert_ptr_equal(qp_module_user_data(g, qp_graph_find_module(g, "conv1")), &conv_obj);
    assert_ptr_equal(qp_module_user_data(g, qp_graph_find_module(g, "layer1.0.conv1")),
                     &layer_obj);
    /* the graph now belongs to the caller, with the caller's allocator: growing
     * and freeing it goes there, and the tracer itself is gone */
    qp_node x = qp_graph_find_node(g, "x");
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, args1(g, ref(g, x)), QP_NULL_VAL};
    qp_node n;
    for (int i = 0; i < 100; i++)
        assert_int_equal(qp_graph_insert_after(g, x, &s, &n), QP_OK);
    assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), r.st.live);
    qp_graph_destroy(g);
    assert_int_equal(r.st.live, 0);
    assert_int_equal(r.st.live_blocks, 0);
}

static void
placeholders_and_calls_get_fx_names(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    qp_node n[8];
    qp_tracer_placeholder(r.t, "inputIds", QP_NULL_VAL, &n[0]);
    qp_tracer_placeholder(r.t, "max", QP_NULL_VAL, &n[1]);
    qp_tracer_placeholder(r.t, "x_1", QP_NULL_VAL, &n[2]);
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &n[3]);
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &n[4]);
    qp_val d = vint(r.g, 2), defaults = args1(r.g, d);
    qp_tracer_placeholder(r.t, "scale", defaults, &n[5]); /* a default value */
    qp_tracer_call_function(r.t, "torch.nn.functional.adaptive_avg_pool2d",
                            args1(r.g, ref(r.g, n[3])), QP_NULL_VAL, &n[6]);
    qp_tracer_call_method(r.t, "__getitem__", args2(r.g, ref(r.g, n[6]), vint(r.g, 0)),
                          QP_NULL_VAL, &n[7]);
    qp_tracer_output(r.t, ref(r.g, n[7]));
    static const char *const want[] = {"input_ids", "max_1", "x_1", "x", "x_2", "scale",
                                       "adaptive_avg_pool2d", "getitem"};
    for (int i = 0; i < 8; i++)
        assert_string_equal(qp_node_name(r.g, n[i]), want[i]);
    assert_string_equal(qp_node_target(r.g, n[0]), "inputIds");
    assert_int_equal(qp_val_as_int(r.g, qp_val_item_at(r.g, qp_node_args(r.g, n[5]), 0)), 2);
    qp_graph *g;
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_OK);
    qp_graph_destroy(g);
    assert_int_equal(r.st.live, 0);
}

static void
errors_are_sticky(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    qp_node x, n = {5};
    assert_int_equal(qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &x), QP_OK);
    assert_int_equal(qp_tracer_call_module(r.t, "missing", args1(r.g, ref(r.g, x)), QP_NULL_VAL,
                                           &n),
                     QP_ERR_NOT_FOUND);
    assert_true(qp_node_is_null(n));
    assert_non_null(strstr(qp_graph_errmsg(r.g), "'missing'"));
    assert_int_equal(qp_tracer_status(r.t), QP_ERR_NOT_FOUND);
    uint32_t nodes = qp_graph_num_nodes(r.g), mods = qp_graph_num_modules(r.g);
    /* from now on every call returns that status and does nothing */
    n.id = 5;
    assert_int_equal(qp_tracer_placeholder(r.t, "y", QP_NULL_VAL, &n), QP_ERR_NOT_FOUND);
    assert_true(qp_node_is_null(n));
    assert_int_equal(qp_tracer_module(r.t, "missing", "nn.ReLU", QP_NULL_VAL, NULL),
                     QP_ERR_NOT_FOUND);
    assert_int_equal(qp_tracer_param(r.t, "w", QP_NULL_VAL), QP_ERR_NOT_FOUND);
    assert_int_equal(qp_tracer_get_attr(r.t, "w", &n), QP_ERR_NOT_FOUND);
    assert_int_equal(qp_tracer_call_function(r.t, "torch.relu", args1(r.g, ref(r.g, x)),
                                             QP_NULL_VAL, &n),
                     QP_ERR_NOT_FOUND);
    assert_int_equal(qp_tracer_call_method(r.t, "size", args1(r.g, ref(r.g, x)), QP_NULL_VAL, &n),
                     QP_ERR_NOT_FOUND);
    assert_int_equal(qp_tracer_output(r.t, ref(r.g, x)), QP_ERR_NOT_FOUND);
    assert_int_equal(qp_graph_num_nodes(r.g), nodes);
    assert_int_equal(qp_graph_num_modules(r.g), mods);
    assert_non_null(strstr(qp_graph_errmsg(r.g), "'missing'")); /* the first message stays */
    qp_graph *g = (qp_graph *)&r;
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_ERR_NOT_FOUND);
    assert_null(g);
    assert_int_equal(r.st.live, 0); /* the tracer and its graph are gone */
}

static void
undeclared_parameters_are_refused(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    qp_node n = {3};
    assert_int_equal(qp_tracer_get_attr(r.t, "weight", &n), QP_ERR_NOT_FOUND);
    assert_true(qp_node_is_null(n));
    assert_non_null(strstr(qp_graph_errmsg(r.g), "'weight'"));
    qp_tracer_destroy(r.t);
    assert_int_equal(r.st.live, 0);
    /* declared as a module is not declared as a parameter, and the other way round */
    start(&r);
    qp_tracer_module(r.t, "weight", "nn.X", QP_NULL_VAL, NULL);
    assert_int_equal(qp_tracer_get_attr(r.t, "weight", &n), QP_ERR_NOT_FOUND);
    qp_tracer_destroy(r.t);
    start(&r);
    qp_tracer_param(r.t, "conv", QP_NULL_VAL);
    assert_int_equal(qp_tracer_call_module(r.t, "conv", QP_NULL_VAL, QP_NULL_VAL, &n),
                     QP_ERR_NOT_FOUND);
    qp_tracer_destroy(r.t);
    assert_int_equal(r.st.live, 0);
}

static void
declarations_are_checked(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    assert_int_equal(qp_tracer_module(r.t, "conv", "nn.Conv2d", QP_NULL_VAL, NULL), QP_OK);
    assert_int_equal(qp_tracer_module(r.t, "conv", "nn.Conv2d", QP_NULL_VAL, NULL),
                     QP_ERR_DUP_NAME);
    assert_int_equal(qp_tracer_status(r.t), QP_ERR_DUP_NAME);
    qp_tracer_destroy(r.t);
    start(&r);
    assert_int_equal(qp_tracer_param(r.t, "w", QP_NULL_VAL), QP_OK);
    assert_int_equal(qp_tracer_param(r.t, "w", QP_NULL_VAL), QP_ERR_DUP_NAME);
    qp_tracer_destroy(r.t);
    start(&r);
    assert_int_equal(qp_tracer_module(r.t, "a b", "nn.X", QP_NULL_VAL, NULL), QP_ERR_INVALID_NAME);
    qp_tracer_destroy(r.t);
    start(&r);
    qp_node n;
    assert_int_equal(qp_tracer_placeholder(r.t, NULL, QP_NULL_VAL, &n), QP_ERR_NULL_ARG);
    qp_tracer_destroy(r.t);
    start(&r);
    qp_val i = vint(r.g, 1);
    assert_int_equal(qp_tracer_placeholder(r.t, "x", i, &n), QP_ERR_INVALID_ARG); /* not a tuple */
    qp_tracer_destroy(r.t);
    start(&r);
    assert_int_equal(qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_status(r.t), QP_ERR_NULL_ARG);
    qp_tracer_destroy(r.t);
    assert_int_equal(r.st.live, 0);
}

static void
finish_without_an_output_fails(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    qp_node x;
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &x);
    qp_graph *g = (qp_graph *)&r;
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_ERR_INVALID_GRAPH);
    assert_null(g);
    assert_int_equal(r.st.live, 0);
    /* an empty trace too */
    start(&r);
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_ERR_INVALID_GRAPH);
    assert_int_equal(r.st.live, 0);
    /* finish frees the tracer whatever happens, NULL out included */
    start(&r);
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &x);
    qp_tracer_output(r.t, ref(r.g, x));
    assert_int_equal(qp_tracer_finish(r.t, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(r.st.live, 0);
    assert_int_equal(qp_tracer_finish(NULL, &g), QP_ERR_NULL_ARG);
    assert_null(g);
}

static void
output_is_recorded_once_and_last(void **state)
{
    (void)state;
    struct tr r;
    start(&r);
    qp_node x, n = {4};
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &x);
    assert_int_equal(qp_tracer_output(r.t, ref(r.g, x)), QP_OK);
    assert_int_equal(qp_tracer_output(r.t, ref(r.g, x)), QP_ERR_INVALID_GRAPH);
    assert_non_null(strstr(qp_graph_errmsg(r.g), "after the output"));
    assert_int_equal(qp_tracer_placeholder(r.t, "y", QP_NULL_VAL, &n), QP_ERR_INVALID_GRAPH);
    assert_true(qp_node_is_null(n));
    qp_graph *g;
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_ERR_INVALID_GRAPH);
    assert_int_equal(r.st.live, 0);
    /* a node recorded after the output is refused the same way */
    start(&r);
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &x);
    qp_tracer_output(r.t, ref(r.g, x));
    assert_int_equal(qp_tracer_call_function(r.t, "torch.relu", args1(r.g, ref(r.g, x)),
                                             QP_NULL_VAL, &n),
                     QP_ERR_INVALID_GRAPH);
    assert_non_null(strstr(qp_graph_errmsg(r.g), "call_function torch.relu recorded after"));
    qp_tracer_destroy(r.t);
    /* the output value may be any value, not only a node */
    start(&r);
    qp_tracer_placeholder(r.t, "x", QP_NULL_VAL, &x);
    qp_val pair = args2(r.g, ref(r.g, x), vint(r.g, 1));
    assert_int_equal(qp_tracer_output(r.t, pair), QP_OK);
    assert_int_equal(qp_tracer_finish(r.t, &g), QP_OK);
    char *text = qpt_graph_text(g);
    assert_non_null(strstr(text, "%output = output output ((%x, 1),) {}\n"));
    test_free(text);
    qp_graph_destroy(g);
    /* a null output value is an error, not "return nothing" */
    start(&r);
    assert_int_equal(qp_tracer_output(r.t, QP_NULL_VAL), QP_ERR_INVALID_ARG);
    qp_tracer_destroy(r.t);
    assert_int_equal(r.st.live, 0);
}

static void
null_tracers_are_refused(void **state)
{
    (void)state;
    qp_node n = {1};
    assert_int_equal(qp_tracer_create(NULL, NULL), QP_ERR_NULL_ARG);
    qp_tracer_destroy(NULL);
    assert_null(qp_tracer_graph(NULL));
    assert_int_equal(qp_tracer_status(NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_module(NULL, "m", "nn.X", QP_NULL_VAL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_param(NULL, "w", QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_placeholder(NULL, "x", QP_NULL_VAL, &n), QP_ERR_NULL_ARG);
    assert_true(qp_node_is_null(n));
    assert_int_equal(qp_tracer_get_attr(NULL, "w", &n), QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_call_module(NULL, "m", QP_NULL_VAL, QP_NULL_VAL, &n),
                     QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_call_function(NULL, "f", QP_NULL_VAL, QP_NULL_VAL, &n),
                     QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_call_method(NULL, "m", QP_NULL_VAL, QP_NULL_VAL, &n),
                     QP_ERR_NULL_ARG);
    assert_int_equal(qp_tracer_output(NULL, QP_NULL_VAL), QP_ERR_NULL_ARG);
    /* the default allocator */
    qp_tracer *t;
    assert_int_equal(qp_tracer_create(NULL, &t), QP_OK);
    qp_tracer_destroy(t);
}

static void
out_of_memory_is_sticky_even_in_unchecked_values(void **state)
{
    (void)state;
    /* fail the k-th allocation for every k, with the model builder checking nothing:
     * finish reports QP_ERR_NOMEM, or (once k is past the last allocation) gives the
     * whole graph; never a graph missing an argument; nothing leaks */
    size_t total = 0;
    for (size_t k = 1;; k++) {
        for (int after = 0; after < 2; after++) {
            struct tr r;
            qpt_alloc_reset(&r.st);
            r.st.fail_at = k;
            r.st.fail_after = after;
            qp_allocator a = qpt_allocator(&r.st);
            qp_tracer *t = NULL;
            qp_status rc = qp_tracer_create(&a, &t);
            if (rc) {
                assert_int_equal(rc, QP_ERR_NOMEM);
                assert_null(t);
                assert_int_equal(r.st.live, 0);
                continue;
            }
            trace_model(t);
            qp_graph *g = (qp_graph *)&r;
            rc = qp_tracer_finish(t, &g);
            if (r.st.failed) {
                if (rc != QP_ERR_NOMEM) {
                    print_error("k=%zu after=%d: finish gave %s\n", k, after, qp_status_str(rc));
                    fail();
                }
                assert_null(g);
            } else {
                assert_int_equal(rc, QP_OK);
                char *text = qpt_graph_text(g);
                assert_string_equal(text, model_text);
                test_free(text);
                qp_graph_destroy(g);
                total = k;
            }
            assert_int_equal(r.st.live, 0);
        }
        if (total)
            break;
        assert_true(k < 1000);
    }
    assert_true(total > 10);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trace_records_what_torch_fx_records),
        cmocka_unit_test(placeholders_and_calls_get_fx_names),
        cmocka_unit_test(errors_are_sticky),
        cmocka_unit_test(undeclared_parameters_are_refused),
        cmocka_unit_test(declarations_are_checked),
        cmocka_unit_test(finish_without_an_output_fails),
        cmocka_unit_test(output_is_recorded_once_and_last),
        cmocka_unit_test(null_tracers_are_refused),
        cmocka_unit_test(out_of_memory_is_sticky_even_in_unchecked_values),
    };
    return cmocka_run_group_tests_name("tracer", tests, NULL, NULL);
}
