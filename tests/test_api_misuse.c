/*
 * test_api_misuse.c - every public function given NULL, stale, erased or
 * out-of-range arguments: QP_ERR_NULL_ARG or QP_ERR_INVALID_ARG (or the
 * documented status), no crash, out-params cleared, and the graph unchanged:
 * the same canonical text before and after, and the same names afterwards.
 */
#include "testlib.h"

#include <string.h>

struct fx {
    qpt_alloc st;
    qp_graph *g;
    qp_node x, r, erased, out;
    qp_module m, removed;
    qp_val one, args_x;
    char *before;
};

static void
build(struct fx *f)
{
    qpt_alloc_reset(&f->st);
    qp_allocator a = qpt_allocator(&f->st);
    f->g = qpt_parse("qgraph 1\n"
                     "# misuse\n"
                     "module relu nn.ReLU {}\n"
                     "module gone nn.Identity {}\n"
                     "attr w {shape: (1,)}\n"
                     "%x = placeholder x () {}\n"
                     "%r = call_module relu (%x,) {}\n"
                     "%dead = call_function torch.tanh (%x,) {}\n"
                     "%output = output output (%r,) {}\n",
                     &a);
    qp_graph *g = f->g;
    f->x = qp_graph_find_node(g, "x");
    f->r = qp_graph_find_node(g, "r");
    f->erased = qp_graph_find_node(g, "dead");
    f->out = qp_graph_find_node(g, "output");
    assert_int_equal(qp_graph_erase_node(g, f->erased), QP_OK);
    f->m = qp_graph_find_module(g, "relu");
    f->removed = qp_graph_find_module(g, "gone");
    assert_int_equal(qp_graph_remove_module(g, f->removed), QP_OK);
    assert_int_equal(qp_val_new_int(g, 1, &f->one), QP_OK);
    qp_val rx;
    assert_int_equal(qp_val_new_node(g, f->x, &rx), QP_OK);
    assert_int_equal(qp_val_new_tuple(g, 1, &rx, &f->args_x), QP_OK);
    f->before = qpt_graph_text(g);
}

/* The graph reads as before, verifies, and still names new nodes as before. */
static void
unchanged(struct fx *f)
{
    char *now = qpt_graph_text(f->g);
    assert_string_equal(now, f->before);
    test_free(now);
}

static void
finish(struct fx *f)
{
    unchanged(f);
    assert_int_equal(qp_graph_verify(f->g, NULL, NULL), QP_OK);
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.tanh", NULL, f->args_x, QP_NULL_VAL};
    qp_node n;
    assert_int_equal(qp_graph_insert_after(f->g, f->x, &s, &n), QP_OK);
    assert_string_equal(qp_node_name(f->g, n), "tanh"); /* "dead" was the only taken name */
    qp_node_spec s2 = {QP_OP_CALL_MODULE, "relu", NULL, f->args_x, QP_NULL_VAL};
    assert_int_equal(qp_graph_insert_after(f->g, f->x, &s2, &n), QP_OK);
    assert_string_equal(qp_node_name(f->g, n), "relu");
    test_free(f->before);
    qp_graph_destroy(f->g);
    assert_int_equal(f->st.live, 0);
}

#define REFUSED(f, call, want)                                                             \
    do {                                                                                   \
        qp_status rc_ = (call);                                                            \
        if (rc_ != (want)) {                                                               \
            print_error("%s: got %s, want %s\n", #call, qp_status_str(rc_),                \
                        qp_status_str(want));                                              \
            fail();                                                                        \
        }                                                                                  \
        unchanged(f);                                                                      \
    } while (0)

static qp_node
bad_nodes(const struct fx *f, int i)
{
    qp_node b[5] = {{0}, f->erased, {f->g->nnodes}, {f->g->nnodes + 1000}, {UINT32_MAX}};
    return b[i];
}
enum { NBAD_NODES = 5 };

static void
null_graph_is_refused_everywhere(void **state)
{
    (void)state;
    qp_graph *out = (qp_graph *)1;
    assert_int_equal(qp_graph_create(NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_clone(NULL, &out), QP_ERR_NULL_ARG);
    assert_null(out);
    qp_graph_destroy(NULL);
    qp_graph_set_log(NULL, NULL, NULL);
    assert_non_null(qp_graph_errmsg(NULL));
    assert_true(qp_node_is_null(qp_graph_errnode(NULL)));
    assert_int_equal(qp_graph_mem_used(NULL), 0);
    assert_int_equal(qp_graph_mem_peak(NULL), 0);
    /* reading */
    qp_node n = {1};
    assert_int_equal(qp_graph_num_nodes(NULL), 0);
    assert_true(qp_node_is_null(qp_graph_first(NULL)));
    assert_true(qp_node_is_null(qp_graph_last(NULL)));
    assert_true(qp_node_is_null(qp_node_next(NULL, n)));
    assert_true(qp_node_is_null(qp_node_prev(NULL, n)));
    assert_true(qp_node_is_null(qp_graph_find_node(NULL, "x")));
    assert_false(qp_node_is_live(NULL, n));
    assert_int_equal(qp_node_op(NULL, n), QP_OP_COUNT);
    assert_string_equal(qp_node_name(NULL, n), "");
    assert_string_equal(qp_node_target(NULL, n), "");
    assert_true(qp_val_is_null(qp_node_args(NULL, n)));
    assert_true(qp_val_is_null(qp_node_kwargs(NULL, n)));
    assert_int_equal(qp_node_num_users(NULL, n), 0);
    assert_int_equal(qp_node_users(NULL, n, NULL, 0), 0);
    assert_true(qp_node_is_null(qp_node_fq_producer(NULL, n)));
    assert_int_equal(qp_node_line(NULL, n), 0);
    assert_null(qp_node_user_data(NULL, n));
    assert_int_equal(qp_node_set_user_data(NULL, n, NULL), QP_ERR_NULL_ARG);
    /* values */
    qp_val v = {1};
    size_t len = 7;
    assert_int_equal(qp_val_kind_of(NULL, v), QP_VAL_KIND_COUNT);
    assert_false(qp_val_as_bool(NULL, v));
    assert_int_equal(qp_val_as_int(NULL, v), 0);
    assert_true(qp_val_as_float(NULL, v) == 0.0);
    assert_null(qp_val_as_str(NULL, v, &len));
    assert_int_equal(len, 0);
    assert_true(qp_node_is_null(qp_val_as_node(NULL, v)));
    assert_int_equal(qp_val_num_items(NULL, v), 0);
    assert_true(qp_val_is_null(qp_val_item_at(NULL, v, 0)));
    assert_null(qp_val_key_at(NULL, v, 0));
    assert_true(qp_val_is_null(qp_val_dict_get(NULL, v, "k")));
    assert_false(qp_val_equal(NULL, v, v));
    assert_int_equal(qp_val_new_none(NULL, &v), QP_ERR_NULL_ARG);
    assert_true(qp_val_is_null(v));
    assert_int_equal(qp_val_new_str(NULL, "a", 1, &v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_node(NULL, n, &v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_dict(NULL, 0, NULL, NULL, &v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_call(NULL, "f", 0, NULL, &v), QP_ERR_NULL_ARG);
    /* modules, parameters, comments */
    qp_module m = {1};
    assert_int_equal(qp_graph_num_modules(NULL), 0);
    assert_true(qp_module_is_null(qp_graph_first_module(NULL)));
    assert_true(qp_module_is_null(qp_module_next(NULL, m)));
    assert_true(qp_module_is_null(qp_graph_find_module(NULL, "m")));
    assert_string_equal(qp_module_path(NULL, m), "");
    assert_string_equal(qp_module_type(NULL, m), "");
    assert_true(qp_val_is_null(qp_module_attrs(NULL, m)));
    assert_true(qp_val_is_null(qp_module_attr(NULL, m, "k")));
    assert_null(qp_module_user_data(NULL, m));
    assert_int_equal(qp_module_set_user_data(NULL, m, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_module_num_origins(NULL, m), 0);
    assert_null(qp_module_origin_at(NULL, m, 0));
    m.id = 9;
    assert_int_equal(qp_graph_add_module(NULL, "m", "nn.X", QP_NULL_VAL, &m), QP_ERR_NULL_ARG);
    assert_true(qp_module_is_null(m));
    assert_int_equal(qp_module_replace(NULL, m, "nn.X", QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_module_set_attr(NULL, m, "k", v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_remove_module(NULL, m), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_num_params(NULL), 0);
    assert_null(qp_graph_param_name(NULL, 0));
    assert_true(qp_val_is_null(qp_graph_param_attrs(NULL, 0)));
    assert_int_equal(qp_graph_add_param(NULL, "w", QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_num_comments(NULL), 0);
    assert_null(qp_graph_comment_at(NULL, 0));
    assert_int_equal(qp_graph_add_comment(NULL, "c"), QP_ERR_NULL_ARG);
    /* mutation and verification */
    qp_node_spec s = {QP_OP_PLACEHOLDER, "x", NULL, QP_NULL_VAL, QP_NULL_VAL};
    n.id = 4;
    assert_int_equal(qp_graph_insert_after(NULL, QP_NULL_NODE, &s, &n), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_insert_before(NULL, QP_NULL_NODE, &s, &n), QP_ERR_NULL_ARG);
    uint32_t count = 5;
    assert_int_equal(qp_node_replace_uses(NULL, n, n, &count), QP_ERR_NULL_ARG);
    assert_int_equal(count, 0);
    assert_int_equal(qp_graph_erase_node(NULL, n), QP_ERR_NULL_ARG);
    assert_int_equal(qp_node_set_args(NULL, n, QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_node_set_kwargs(NULL, n, QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_node_set_target(NULL, n, "t"), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_verify(NULL, NULL, NULL), QP_ERR_NULL_ARG);
    /* text */
    assert_int_equal(qp_graph_write_text(NULL, NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_write_file(NULL, stdout), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_write_dot(NULL, NULL, NULL), QP_ERR_NULL_ARG);
}

static void
null_out_params_and_arguments_are_refused(void **state)
{
    (void)state;
    struct fx f;
    build(&f);
    qp_graph *g = f.g;
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, f.args_x, QP_NULL_VAL};
    qp_node n = {3};
    REFUSED(&f, qp_graph_insert_after(g, f.x, &s, NULL), QP_ERR_NULL_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "out is NULL"));
    REFUSED(&f, qp_graph_insert_after(g, f.x, NULL, &n), QP_ERR_NULL_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "spec is NULL"));
    assert_true(qp_node_is_null(n));
    REFUSED(&f, qp_graph_insert_before(g, f.x, NULL, &n), QP_ERR_NULL_ARG);
    qp_node_spec nt = {QP_OP_CALL_FUNCTION, NULL, NULL, f.args_x, QP_NULL_VAL};
    REFUSED(&f, qp_graph_insert_after(g, f.x, &nt, &n), QP_ERR_NULL_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "target is NULL"));
    REFUSED(&f, qp_node_set_target(g, f.r, NULL), QP_ERR_NULL_ARG);
    qp_module m = {5};
    REFUSED(&f, qp_graph_add_module(g, "m2", "nn.X", QP_NULL_VAL, NULL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_add_module(g, NULL, "nn.X", QP_NULL_VAL, &m), QP_ERR_NULL_ARG);
    assert_true(qp_module_is_null(m));
    assert_non_null(strstr(qp_graph_errmsg(g), "module path is NULL"));
    REFUSED(&f, qp_graph_add_module(g, "m2", NULL, QP_NULL_VAL, &m), QP_ERR_NULL_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "module type is NULL"));
    REFUSED(&f, qp_module_replace(g, f.m, NULL, QP_NULL_VAL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_module_set_attr(g, f.m, NULL, f.one), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_add_param(g, NULL, QP_NULL_VAL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_add_comment(g, NULL), QP_ERR_NULL_ARG);
    qp_val v = {2};
    REFUSED(&f, qp_val_new_tuple(g, 2, NULL, &v), QP_ERR_NULL_ARG);
    assert_true(qp_val_is_null(v));
    REFUSED(&f, qp_val_new_ident(g, NULL, &v), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_val_new_int(g, 1, NULL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_clone(g, NULL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_write_text(g, NULL, NULL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_write_file(g, NULL), QP_ERR_NULL_ARG);
    REFUSED(&f, qp_graph_write_dot(g, NULL, NULL), QP_ERR_NULL_ARG);
    /* reading with NULL where "none" is meant is fine */
    assert_true(qp_node_is_null(qp_graph_find_node(g, NULL)));
    assert_true(qp_module_is_null(qp_graph_find_module(g, NULL)));
    assert_true(qp_val_is_null(qp_module_attr(g, f.m, NULL)));
    assert_int_equal(qp_node_users(g, f.x, NULL, 5), 1);
    uint32_t count = 9;
    assert_int_equal(qp_node_replace_uses(g, f.out, f.out, NULL), QP_OK);
    assert_int_equal(qp_node_replace_uses(g, f.out, f.out, &count), QP_OK);
    assert_int_equal(count, 0);
    finish(&f);
}

static void
bad_node_handles_are_refused(void **state)
{
    (void)state;
    struct fx f;
    build(&f);
    qp_graph *g = f.g;
    for (int i = 0; i < NBAD_NODES; i++) {
        qp_node b = bad_nodes(&f, i);
        qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, f.args_x, QP_NULL_VAL};
        qp_node n = {3};
        if (b.id) { /* the null anchor means "at the start" / "at the end" */
            REFUSED(&f, qp_graph_insert_after(g, b, &s, &n), QP_ERR_INVALID_ARG);
            assert_true(qp_node_is_null(n));
            REFUSED(&f, qp_graph_insert_before(g, b, &s, &n), QP_ERR_INVALID_ARG);
            assert_non_null(strstr(qp_graph_errmsg(g), "anchor"));
        }
        uint32_t count = 4;
        REFUSED(&f, qp_node_replace_uses(g, b, f.x, &count), QP_ERR_INVALID_ARG);
        assert_int_equal(count, 0);
        REFUSED(&f, qp_node_replace_uses(g, f.x, b, &count), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_graph_erase_node(g, b), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_node_set_args(g, b, f.args_x), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_node_set_kwargs(g, b, QP_NULL_VAL), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_node_set_target(g, b, "torch.sin"), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_node_set_user_data(g, b, &f), QP_ERR_INVALID_ARG);
        qp_val v = {6};
        REFUSED(&f, qp_val_new_node(g, b, &v), QP_ERR_INVALID_ARG);
        assert_true(qp_val_is_null(v));
        assert_false(qp_node_is_live(g, b));
        if (b.id == f.erased.id)
            continue; /* a tombstone still reads; see test_graph */
        assert_int_equal(qp_node_op(g, b), QP_OP_COUNT);
        assert_string_equal(qp_node_name(g, b), "");
        assert_string_equal(qp_node_target(g, b), "");
        assert_true(qp_val_is_null(qp_node_args(g, b)));
        assert_true(qp_val_is_null(qp_node_kwargs(g, b)));
        assert_int_equal(qp_node_num_users(g, b), 0);
        qp_node buf[2] = {{7}, {7}};
        assert_int_equal(qp_node_users(g, b, buf, 2), 0);
        assert_int_equal(buf[0].id, 7);
        assert_true(qp_node_is_null(qp_node_fq_producer(g, b)));
        assert_int_equal(qp_node_line(g, b), 0);
        assert_null(qp_node_user_data(g, b));
        assert_true(qp_node_is_null(qp_node_next(g, b)));
        assert_true(qp_node_is_null(qp_node_prev(g, b)));
    }
    /* the message names the handle */
    qp_graph_erase_node(g, (qp_node){12345});
    assert_non_null(strstr(qp_graph_errmsg(g), "#12345"));
    finish(&f);
}

static void
bad_module_handles_are_refused(void **state)
{
    (void)state;
    struct fx f;
    build(&f);
    qp_graph *g = f.g;
    qp_module bad[5] = {{0}, f.removed, {g->nmods}, {g->nmods + 50}, {UINT32_MAX}};
    for (int i = 0; i < 5; i++) {
        qp_module b = bad[i];
        REFUSED(&f, qp_module_replace(g, b, "nn.Tanh", QP_NULL_VAL), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_module_set_attr(g, b, "k", f.one), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_graph_remove_module(g, b), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_module_set_user_data(g, b, &f), QP_ERR_INVALID_ARG);
        assert_string_equal(qp_module_path(g, b), "");
        assert_string_equal(qp_module_type(g, b), "");
        assert_true(qp_val_is_null(qp_module_attrs(g, b)));
        assert_true(qp_val_is_null(qp_module_attr(g, b, "k")));
        assert_null(qp_module_user_data(g, b));
        assert_int_equal(qp_module_num_origins(g, b), 0);
        assert_null(qp_module_origin_at(g, b, 0));
        assert_true(qp_module_is_null(qp_module_next(g, b)));
    }
    /* a module still called cannot go; out-of-range indices read as nothing */
    REFUSED(&f, qp_graph_remove_module(g, f.m), QP_ERR_INVALID_ARG);
    assert_null(qp_graph_param_name(g, 1));
    assert_null(qp_graph_param_name(g, UINT32_MAX));
    assert_true(qp_val_is_null(qp_graph_param_attrs(g, 1)));
    assert_null(qp_graph_comment_at(g, 1));
    assert_null(qp_module_origin_at(g, f.m, 0));
    finish(&f);
}

static void
bad_values_are_refused(void **state)
{
    (void)state;
    struct fx f;
    build(&f);
    qp_graph *g = f.g;
    /* far past the pool: values made below (a failed insert may copy its args
     * first) must not bring one of these into range */
    qp_val bad[3] = {{g->nvals + 1000000}, {UINT32_MAX - 1}, {UINT32_MAX}};
    for (int i = 0; i < 3; i++) {
        qp_val b = bad[i];
        qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, b, QP_NULL_VAL};
        qp_node n;
        REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_INVALID_ARG);
        s.args = f.args_x;
        s.kwargs = b;
        REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_node_set_args(g, f.r, b), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_node_set_kwargs(g, f.r, b), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_module_set_attr(g, f.m, "k", b), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_module_replace(g, f.m, "nn.ReLU6", b), QP_ERR_INVALID_ARG);
        qp_module m;
        REFUSED(&f, qp_graph_add_module(g, "m2", "nn.X", b, &m), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_graph_add_param(g, "w2", b), QP_ERR_INVALID_ARG);
        qp_val v;
        REFUSED(&f, qp_val_new_tuple(g, 1, &b, &v), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_val_new_list(g, 1, &b, &v), QP_ERR_INVALID_ARG);
        const char *k = "k";
        REFUSED(&f, qp_val_new_dict(g, 1, &k, &b, &v), QP_ERR_INVALID_ARG);
        REFUSED(&f, qp_val_new_call(g, "f", 1, &b, &v), QP_ERR_INVALID_ARG);
        assert_int_equal(qp_val_kind_of(g, b), QP_VAL_KIND_COUNT);
        assert_true(qp_val_is_null(qp_val_item_at(g, b, 0)));
        assert_false(qp_val_equal(g, b, b));
    }
    /* the wrong kind where a kind is required */
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, f.one, QP_NULL_VAL};
    qp_node n;
    REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "args must be a tuple, not a int"));
    s.args = f.args_x;
    s.kwargs = f.args_x;
    REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "kwargs must be a dict"));
    REFUSED(&f, qp_module_set_attr(g, f.m, "k", f.args_x), QP_ERR_INVALID_ARG); /* a node ref */
    /* a reference to a node erased since the value was made */
    qp_val re, args_e;
    qp_node_spec t = {QP_OP_PLACEHOLDER, "tmp", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node tmp;
    char *saved = f.before;
    assert_int_equal(qp_graph_insert_after(g, f.x, &t, &tmp), QP_OK);
    assert_int_equal(qp_val_new_node(g, tmp, &re), QP_OK);
    assert_int_equal(qp_val_new_tuple(g, 1, &re, &args_e), QP_OK);
    assert_int_equal(qp_graph_erase_node(g, tmp), QP_OK);
    f.before = qpt_graph_text(g);
    test_free(saved);
    s.args = args_e;
    s.kwargs = QP_NULL_VAL;
    REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_DANGLING_EDGE);
    assert_non_null(strstr(qp_graph_errmsg(g), "not live"));
    REFUSED(&f, qp_node_set_args(g, f.r, args_e), QP_ERR_DANGLING_EDGE);
    finish(&f);
}

static void
bad_specs_are_refused(void **state)
{
    (void)state;
    struct fx f;
    build(&f);
    qp_graph *g = f.g;
    qp_node n = {8};
    static const qp_op ops[] = {QP_OP_COUNT, (qp_op)-1, (qp_op)1000};
    for (int i = 0; i < 3; i++) {
        qp_node_spec s = {ops[i], "t", NULL, QP_NULL_VAL, QP_NULL_VAL};
        REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_INVALID_ARG);
        assert_true(qp_node_is_null(n));
    }
    static const char *const targets[] = {"", "a b", "a\nb", "\x01", "a\xff"};
    for (int i = 0; i < 5; i++) {
        qp_node_spec s = {QP_OP_CALL_METHOD, targets[i], NULL, f.args_x, QP_NULL_VAL};
        REFUSED(&f, qp_graph_insert_after(g, f.x, &s, &n), QP_ERR_INVALID_NAME);
        REFUSED(&f, qp_node_set_target(g, f.r, targets[i]), QP_ERR_INVALID_NAME);
    }
    qp_node_spec named = {QP_OP_CALL_METHOD, "size", "", f.args_x, QP_NULL_VAL};
    REFUSED(&f, qp_graph_insert_after(g, f.x, &named, &n), QP_ERR_INVALID_NAME);
    qp_node_spec out2 = {QP_OP_OUTPUT, "output", NULL, f.args_x, QP_NULL_VAL};
    REFUSED(&f, qp_graph_insert_before(g, QP_NULL_NODE, &out2, &n), QP_ERR_INVALID_GRAPH);
    /* erasing a node with users, adding what exists */
    REFUSED(&f, qp_graph_erase_node(g, f.x), QP_ERR_INVALID_ARG);
    qp_module m;
    REFUSED(&f, qp_graph_add_module(g, "relu", "nn.X", QP_NULL_VAL, &m), QP_ERR_DUP_NAME);
    REFUSED(&f, qp_graph_add_param(g, "w", QP_NULL_VAL), QP_ERR_DUP_NAME);
    REFUSED(&f, qp_graph_add_comment(g, "two\nlines"), QP_ERR_INVALID_ARG);
    finish(&f);
}

static void
failed_calls_leave_the_graph_unchanged_without_memory(void **state)
{
    (void)state;
    /* every mutator, failing at every allocation: NOMEM and the same text */
    struct fx f;
    build(&f);
    qp_graph *g = f.g;
    for (int which = 0; which < 8; which++) {
        for (size_t k = 1;; k++) {
            /* values the call needs are made before the failure is armed */
            qp_val big;
            char s[64];
            snprintf(s, sizeof s, "fresh_string_%d_%zu", which, k);
            assert_int_equal(qp_val_new_int(g, (int64_t)k, &big), QP_OK);
            qp_node_spec spec = {QP_OP_CALL_FUNCTION, s, NULL, f.args_x, QP_NULL_VAL};
            qp_node n;
            qp_module m;
            f.st.fail_at = f.st.calls + k;
            qp_status rc;
            switch (which) {
            case 0:
                rc = qp_graph_insert_after(g, f.x, &spec, &n);
                break;
            case 1:
                rc = qp_node_set_args(g, f.r, f.args_x);
                break;
            case 2:
                rc = qp_node_set_target(g, f.r, s);
                break;
            case 3:
                rc = qp_graph_add_module(g, s, s, QP_NULL_VAL, &m);
                break;
            case 4:
                rc = qp_module_set_attr(g, f.m, s, big);
                break;
            case 5:
                rc = qp_graph_add_param(g, s, QP_NULL_VAL);
                break;
            case 6:
                rc = qp_graph_add_comment(g, s);
                break;
            default:
                rc = qp_module_replace(g, f.m, s, QP_NULL_VAL);
                break;
            }
            bool failed = f.st.failed != 0;
            f.st.fail_at = 0;
            f.st.failed = 0;
            if (!failed) {
                assert_int_equal(rc, QP_OK);
                break;
            }
            if (rc != QP_ERR_NOMEM) {
                print_error("mutator %d, k=%zu: %s\n", which, k, qp_status_str(rc));
                fail();
            }
            unchanged(&f);
            assert_true(k < 100);
        }
        /* undo what the successful call did, so the next starts from the same text */
        qp_graph_destroy(g);
        assert_int_equal(f.st.live, 0);
        test_free(f.before);
        build(&f);
        g = f.g;
    }
    finish(&f);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(null_graph_is_refused_everywhere),
        cmocka_unit_test(null_out_params_and_arguments_are_refused),
        cmocka_unit_test(bad_node_handles_are_refused),
        cmocka_unit_test(bad_module_handles_are_refused),
        cmocka_unit_test(bad_values_are_refused),
        cmocka_unit_test(bad_specs_are_refused),
        cmocka_unit_test(failed_calls_leave_the_graph_unchanged_without_memory),
    };
    return cmocka_run_group_tests_name("api_misuse", tests, NULL, NULL);
}
