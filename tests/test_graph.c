/*
 * test_graph.c - the node arena (graph.c): create, destroy, clone; insertion
 * before and after; torch.fx naming (torch 1.13 _Namespace.create_name and
 * Graph._target_to_str); replace_uses touching only the users; erase and
 * tombstones; handles across growth; users; setters; user data.
 */
#include "testlib.h"

#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static qp_val
ref(qp_graph *g, qp_node n)
{
    qp_val v;
    assert_int_equal(qp_val_new_node(g, n, &v), QP_OK);
    return v;
}

static qp_val
tup(qp_graph *g, int n, ...)
{
    qp_val items[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        items[i] = va_arg(ap, qp_val);
    va_end(ap);
    qp_val v;
    assert_int_equal(qp_val_new_tuple(g, (uint32_t)n, items, &v), QP_OK);
    return v;
}

/* Appends a node; name NULL lets the graph name it. */
static qp_node
add(qp_graph *g, qp_op op, const char *target, const char *name, qp_val args, qp_val kwargs)
{
    qp_node_spec s = {op, target, name, args, kwargs};
    qp_node n;
    qp_status rc = qp_graph_insert_before(g, QP_NULL_NODE, &s, &n);
    if (rc) {
        print_error("insert %s: %s: %s\n", target, qp_status_str(rc), qp_graph_errmsg(g));
        fail();
    }
    return n;
}

static qp_node
input(qp_graph *g, const char *name)
{
    return add(g, QP_OP_PLACEHOLDER, name, NULL, QP_NULL_VAL, QP_NULL_VAL);
}

/* call_function target(args...) */
static qp_node
fn1(qp_graph *g, const char *target, qp_node a)
{
    return add(g, QP_OP_CALL_FUNCTION, target, NULL, tup(g, 1, ref(g, a)), QP_NULL_VAL);
}

static qp_node
fn2(qp_graph *g, const char *target, qp_node a, qp_node b)
{
    return add(g, QP_OP_CALL_FUNCTION, target, NULL, tup(g, 2, ref(g, a), ref(g, b)), QP_NULL_VAL);
}

static qp_node
output(qp_graph *g, qp_node n)
{
    return add(g, QP_OP_OUTPUT, "output", NULL, tup(g, 1, ref(g, n)), QP_NULL_VAL);
}

static void
expect_text(qp_graph *g, const char *want)
{
    char *got = qpt_graph_text(g);
    if (strcmp(got, want) != 0) {
        print_error("got:\n%s\nwant:\n%s\n", got, want);
        test_free(got);
        fail();
    }
    test_free(got);
}

/* The names of the live nodes in order, space separated. */
static void
expect_order(qp_graph *g, const char *want)
{
    char got[4096];
    size_t o = 0;
    got[0] = 0;
    for (qp_node n = qp_graph_first(g); !qp_node_is_null(n); n = qp_node_next(g, n))
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", o ? " " : "", qp_node_name(g, n));
    assert_string_equal(got, want);
    /* and backwards */
    char back[4096];
    o = 0;
    back[0] = 0;
    for (qp_node n = qp_graph_last(g); !qp_node_is_null(n); n = qp_node_prev(g, n)) {
        const char *nm = qp_node_name(g, n);
        size_t l = strlen(nm), have = strlen(back);
        memmove(back + l + (have ? 1 : 0), back, have + 1);
        memcpy(back, nm, l);
        if (have)
            back[l] = ' ';
        o++;
    }
    assert_string_equal(back, want);
}

static void
expect_users(qp_graph *g, qp_node n, const char *want)
{
    qp_node buf[64];
    uint32_t k = qp_node_users(g, n, buf, 64);
    assert_int_equal(k, qp_node_num_users(g, n));
    char got[1024];
    size_t o = 0;
    got[0] = 0;
    for (uint32_t i = 0; i < k && i < 64; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", i ? " " : "",
                              qp_node_name(g, buf[i]));
    assert_string_equal(got, want);
}

/* ==== lifecycle ==== */

static void
create_and_destroy_with_any_allocator(void **state)
{
    (void)state;
    qp_graph *g = NULL;
    assert_int_equal(qp_graph_create(NULL, &g), QP_OK); /* malloc */
    assert_non_null(g);
    assert_int_equal(qp_graph_num_nodes(g), 0);
    assert_true(qp_node_is_null(qp_graph_first(g)));
    assert_true(qp_node_is_null(qp_graph_last(g)));
    assert_string_equal(qp_graph_errmsg(g), "");
    qp_graph_destroy(g);
    qp_graph_destroy(NULL);

    qpt_alloc st;
    g = qpt_mkgraph(&st);
    assert_int_equal(qp_graph_num_modules(g), 0);
    assert_int_equal(qp_graph_num_params(g), 0);
    assert_int_equal(qp_graph_num_comments(g), 0);
    expect_text(g, "qgraph 1\n");
    qpt_done(g, &st);
}

static void
create_fails_cleanly_without_memory(void **state)
{
    (void)state;
    qpt_alloc st;
    for (size_t k = 1;; k++) {
        qpt_alloc_reset(&st);
        st.fail_at = k;
        qp_allocator a = qpt_allocator(&st);
        qp_graph *g = (qp_graph *)&st;
        qp_status rc = qp_graph_create(&a, &g);
        if (rc == QP_OK) {
            qp_graph_destroy(g);
            assert_int_equal(st.live, 0);
            break;
        }
        assert_int_equal(rc, QP_ERR_NOMEM);
        assert_null(g);
        assert_int_equal(st.live, 0);
        assert_true(k < 20);
    }
}

static void
mem_used_counts_every_byte(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* the graph record itself comes from the allocator but is not the graph's data */
    assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), st.live);
    qp_node x = input(g, "x");
    for (int i = 0; i < 500; i++)
        x = fn1(g, "torch.relu", x);
    output(g, x);
    assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), st.live);
    size_t used = qp_graph_mem_used(g);
    qpt_verify_ok(g); /* verify allocates a scratch array and frees it */
    assert_int_equal(qp_graph_mem_used(g), used);
    assert_true(qp_graph_mem_peak(g) > used);
    assert_int_equal(qp_graph_mem_used(NULL), 0);
    assert_int_equal(qp_graph_mem_peak(NULL), 0);
    qpt_done(g, &st);
}

static void
clone_is_deep_and_keeps_handles(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module m;
    assert_int_equal(qp_graph_add_module(g, "conv", "nn.Conv2d", QP_NULL_VAL, &m), QP_OK);
    int tag = 0;
    assert_int_equal(qp_module_set_user_data(g, m, &tag), QP_OK);
    assert_int_equal(qp_graph_add_param(g, "w", QP_NULL_VAL), QP_OK);
    assert_int_equal(qp_graph_add_comment(g, "model clone"), QP_OK);
    qp_node x = input(g, "x");
    qp_node c = add(g, QP_OP_CALL_MODULE, "conv", NULL, tup(g, 1, ref(g, x)), QP_NULL_VAL);
    qp_node w = add(g, QP_OP_GET_ATTR, "w", NULL, QP_NULL_VAL, QP_NULL_VAL);
    qp_node s = fn2(g, "operator.add", c, w);
    qp_node dead = fn1(g, "torch.relu", s);
    assert_int_equal(qp_graph_erase_node(g, dead), QP_OK);
    qp_node o = output(g, s);
    assert_int_equal(qp_node_set_user_data(g, c, &tag), QP_OK);
    /* a big string, so the clone copies a chunk of its own */
    char *big = test_malloc(100000);
    memset(big, 'b', 99999);
    big[99999] = 0;
    qp_val bigv;
    assert_int_equal(qp_val_new_str(g, big, 99999, &bigv), QP_OK);
    assert_int_equal(qp_module_set_attr(g, m, "big", bigv), QP_OK);
    test_free(big);
    char *before = qpt_graph_text(g);

    qp_graph *h = NULL;
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    char *copy = qpt_graph_text(h);
    assert_string_equal(before, copy);
    test_free(copy);
    qpt_verify_ok(h);
    /* same handles name the same nodes, tombstones included */
    assert_int_equal(qp_graph_num_nodes(h), qp_graph_num_nodes(g));
    assert_string_equal(qp_node_name(h, c), "conv");
    assert_string_equal(qp_node_name(h, o), "output");
    assert_false(qp_node_is_live(h, dead));
    assert_string_equal(qp_node_name(h, dead), "relu");
    assert_ptr_equal(qp_node_user_data(h, c), &tag);
    assert_ptr_equal(qp_module_user_data(h, m), &tag);
    assert_true(qp_node_name(h, c) != qp_node_name(g, c)); /* its own bytes */
    /* names continue the same way in both */
    qp_node r1 = fn1(h, "torch.relu", s);
    assert_string_equal(qp_node_name(h, r1), "relu_1");
    /* changing the clone leaves the original alone */
    assert_int_equal(qp_node_set_target(h, s, "operator.mul"), QP_OK);
    assert_int_equal(qp_graph_erase_node(h, r1), QP_OK);
    assert_int_equal(qp_graph_add_comment(h, "only in the clone"), QP_OK);
    char *after = qpt_graph_text(g);
    assert_string_equal(before, after);
    test_free(after);
    qp_graph_destroy(h);
    qpt_verify_ok(g);
    /* out of memory at every step of a clone: nothing leaks, g is untouched */
    for (size_t k = 1;; k++) {
        st.fail_at = st.calls + k;
        h = (qp_graph *)&st;
        qp_status rc = qp_graph_clone(g, &h);
        st.fail_at = 0;
        if (rc == QP_OK) {
            qp_graph_destroy(h);
            break;
        }
        assert_int_equal(rc, QP_ERR_NOMEM);
        assert_null(h);
        assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), st.live);
        assert_true(k < 100);
    }
    after = qpt_graph_text(g);
    assert_string_equal(before, after);
    test_free(after);
    test_free(before);
    qpt_done(g, &st);
}

/* ==== insertion ==== */

static void
insert_after_and_before_place_nodes(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node_spec s = {QP_OP_PLACEHOLDER, "b", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node b, a, d, c, e, z;
    assert_int_equal(qp_graph_insert_after(g, QP_NULL_NODE, &s, &b), QP_OK); /* empty graph */
    s.target = "a";
    assert_int_equal(qp_graph_insert_after(g, QP_NULL_NODE, &s, &a), QP_OK); /* at the start */
    s.target = "d";
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &d), QP_OK); /* at the end */
    s.target = "c";
    assert_int_equal(qp_graph_insert_after(g, b, &s, &c), QP_OK);
    s.target = "e";
    assert_int_equal(qp_graph_insert_after(g, d, &s, &e), QP_OK); /* after the last */
    s.target = "z";
    assert_int_equal(qp_graph_insert_before(g, a, &s, &z), QP_OK); /* before the first */
    expect_order(g, "z a b c d e");
    assert_int_equal(qp_graph_num_nodes(g), 6);
    assert_int_equal(qp_graph_first(g).id, z.id);
    assert_int_equal(qp_graph_last(g).id, e.id);
    assert_true(qp_node_is_null(qp_node_prev(g, z)));
    assert_true(qp_node_is_null(qp_node_next(g, e)));
    /* each insert returns a new handle; none is reused */
    qp_node all[6] = {a, b, c, d, e, z};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < i; j++)
            assert_true(all[i].id != all[j].id);
    assert_int_equal(qp_node_op(g, a), QP_OP_PLACEHOLDER);
    assert_string_equal(qp_node_target(g, c), "c");
    assert_int_equal(qp_val_num_items(g, qp_node_args(g, c)), 0);
    assert_int_equal(qp_val_kind_of(g, qp_node_kwargs(g, c)), QP_VAL_DICT);
    assert_int_equal(qp_node_line(g, c), 0);
    assert_int_equal(qp_graph_find_node(g, "c").id, c.id);
    assert_true(qp_node_is_null(qp_graph_find_node(g, "nope")));
    output(g, e);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
insert_keeps_args_and_kwargs(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x"), y = input(g, "y");
    qp_val one;
    assert_int_equal(qp_val_new_int(g, 1, &one), QP_OK);
    qp_val lst;
    qp_val items[2] = {ref(g, x), ref(g, y)};
    assert_int_equal(qp_val_new_list(g, 2, items, &lst), QP_OK);
    const char *keys[1] = {"dim"};
    qp_val kw;
    assert_int_equal(qp_val_new_dict(g, 1, keys, &one, &kw), QP_OK);
    qp_node cat = add(g, QP_OP_CALL_FUNCTION, "torch.cat", NULL, tup(g, 1, lst), kw);
    output(g, cat);
    expect_text(g, "qgraph 1\n"
                   "%x = placeholder x () {}\n"
                   "%y = placeholder y () {}\n"
                   "%cat = call_function torch.cat ([%x, %y],) {dim: 1}\n"
                   "%output = output output (%cat,) {}\n");
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
only_one_output_node_can_be_inserted(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    qp_node o = output(g, x);
    qp_node_spec s = {QP_OP_OUTPUT, "output", NULL, tup(g, 1, ref(g, x)), QP_NULL_VAL};
    qp_node n = {9};
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_ERR_INVALID_GRAPH);
    assert_true(qp_node_is_null(n));
    assert_int_equal(qp_graph_errnode(g).id, o.id);
    assert_non_null(strstr(qp_graph_errmsg(g), "%output"));
    /* once the old one is gone, a new one may come */
    assert_int_equal(qp_graph_erase_node(g, o), QP_OK);
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
    assert_string_equal(qp_node_name(g, n), "output_1"); /* the erased name stays taken */
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

/* ==== naming ==== */

struct name_case {
    qp_op op;
    const char *target;
    const char *name; /* NULL: generated */
    const char *want;
};

static void
run_names(qp_graph *g, const struct name_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qp_node_spec s = {c[i].op, c[i].target, c[i].name, QP_NULL_VAL, QP_NULL_VAL};
        qp_node nd;
        assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &nd), QP_OK);
        if (strcmp(qp_node_name(g, nd), c[i].want) != 0) {
            print_error("case %zu: target %s name %s: got %s, want %s\n", i, c[i].target,
                        c[i].name ? c[i].name : "(null)", qp_node_name(g, nd), c[i].want);
            fail();
        }
        assert_int_equal(qp_graph_find_node(g, c[i].want).id, nd.id);
    }
}

static void
names_follow_torch_fx(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    static const struct name_case cases[] = {
        {QP_OP_PLACEHOLDER, "x", NULL, "x"},
        /* Graph._target_to_str: a function's __name__, snake_case */
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add"},
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add_1"},
        {QP_OP_CALL_FUNCTION, "torch.add", NULL, "add_2"},
        {QP_OP_CALL_FUNCTION, "torch.nn.functional.adaptive_avg_pool2d", NULL,
         "adaptive_avg_pool2d"},
        {QP_OP_CALL_FUNCTION, "mqbench.utils.CustomFn", NULL, "custom_fn"},
        {QP_OP_CALL_FUNCTION, "operator.getitem", NULL, "getitem"},
        {QP_OP_CALL_FUNCTION, "operator.getitem", NULL, "getitem_1"},
        /* a module path: dots become '_' */
        {QP_OP_CALL_MODULE, "layer1.0.conv1", NULL, "layer1_0_conv1"},
        {QP_OP_CALL_MODULE, "layer1.0.conv1", NULL, "layer1_0_conv1_1"},
        {QP_OP_CALL_MODULE, "Block.ConvBN", NULL, "block_conv_bn"},
        {QP_OP_GET_ATTR, "layer1.0.weight", NULL, "layer1_0_weight"},
        /* methods: magic names lose their underscores, camelCase becomes snake_case */
        {QP_OP_CALL_METHOD, "size", NULL, "size"},
        {QP_OP_CALL_METHOD, "__add__", NULL, "add_3"},
        {QP_OP_CALL_METHOD, "__getitem__", NULL, "getitem_2"},
        {QP_OP_CALL_METHOD, "layerNorm", NULL, "layer_norm"},
        {QP_OP_CALL_METHOD, "ABCd", NULL, "abcd"},
        /* builtins and keywords are never names */
        {QP_OP_PLACEHOLDER, "input", NULL, "input_1"},
        {QP_OP_CALL_FUNCTION, "builtins.max", NULL, "max_1"},
        {QP_OP_CALL_FUNCTION, "builtins.slice", NULL, "slice_1"},
        {QP_OP_CALL_FUNCTION, "builtins.max", NULL, "max_2"},
        {QP_OP_CALL_METHOD, "type", NULL, "type_1"},
        {QP_OP_PLACEHOLDER, "torch", NULL, "torch_1"},
        /* leading digits get '_' */
        {QP_OP_CALL_MODULE, "0.conv", NULL, "_0_conv"},
        {QP_OP_CALL_MODULE, "0.conv", NULL, "_0_conv_1"},
        /* a numeric suffix is normalised: add_01 asks for add_1 */
        {QP_OP_CALL_FUNCTION, "operator.add", "add_01", "add_4"},
        {QP_OP_CALL_FUNCTION, "operator.add", "add_0000000001", "add_5"},
        {QP_OP_CALL_FUNCTION, "operator.add", "add_007", "add_7"},
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add_6"},
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add_8"},
        {QP_OP_PLACEHOLDER, "x", "x_0", "x_0"},
        {QP_OP_PLACEHOLDER, "x", "x_0", "x_1"},
        {QP_OP_PLACEHOLDER, "x", NULL, "x_2"},
        {QP_OP_PLACEHOLDER, "x", "x_9", "x_9"},
        {QP_OP_PLACEHOLDER, "x", NULL, "x_3"},
        /* explicit names go through the same namespace */
        {QP_OP_CALL_MODULE, "conv1", "conv1", "conv1"},
        {QP_OP_CALL_MODULE, "conv1", "conv1", "conv1_1"},
        {QP_OP_CALL_MODULE, "fq", "x_fq", "x_fq"},
        {QP_OP_CALL_MODULE, "fq", "x_fq", "x_fq_1"},
        {QP_OP_CALL_MODULE, "fq", "x_fq", "x_fq_2"},
        {QP_OP_CALL_MODULE, "m", "my-node.v2", "my_node_v2"},
        {QP_OP_CALL_MODULE, "m", "a..b", "a_b"},
        {QP_OP_CALL_MODULE, "m", "caf\xc3\xa9", "caf_"},
        {QP_OP_CALL_MODULE, "m", "1", "_1"},
        {QP_OP_CALL_MODULE, "m", "1", "_2"},
        {QP_OP_CALL_MODULE, "m", "_1", "_3"},
        {QP_OP_CALL_MODULE, "m", "add_", "add_"},
        {QP_OP_CALL_MODULE, "m", "add_", "add__1"},
        {QP_OP_CALL_MODULE, "m", "__name__", "__name___1"},
        {QP_OP_CALL_MODULE, "m", "__import__", "__import___1"},
        {QP_OP_CALL_MODULE, "m", "x_12345678901234567890", "x_12345678901234567890"},
        {QP_OP_OUTPUT, "output", NULL, "output"},
    };
    run_names(g, cases, sizeof cases / sizeof cases[0]);
    qpt_done(g, &st);
}

static void
numeric_suffixes_are_normalised(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    static const struct name_case cases[] = {
        {QP_OP_CALL_FUNCTION, "operator.add", "add_01", "add_1"},
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add"},
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add_2"},
        {QP_OP_CALL_FUNCTION, "operator.add", "add_000", "add_0"},
        {QP_OP_CALL_FUNCTION, "operator.add", "add_0", "add_3"},
        {QP_OP_CALL_FUNCTION, "operator.add", "add_18446744073709551615",
         "add_18446744073709551615"},
        {QP_OP_CALL_FUNCTION, "operator.add", NULL, "add_4"},
    };
    run_names(g, cases, sizeof cases / sizeof cases[0]);
    qpt_done(g, &st);
}

static void
erased_names_stay_taken(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    qp_node r = fn1(g, "torch.relu", x);
    assert_string_equal(qp_node_name(g, r), "relu");
    assert_int_equal(qp_graph_erase_node(g, r), QP_OK);
    assert_true(qp_node_is_null(qp_graph_find_node(g, "relu")));
    qp_node r1 = fn1(g, "torch.relu", x);
    assert_string_equal(qp_node_name(g, r1), "relu_1");
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", "relu", tup(g, 1, ref(g, x)), QP_NULL_VAL};
    qp_node r2;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &r2), QP_OK);
    assert_string_equal(qp_node_name(g, r2), "relu_2");
    qpt_done(g, &st);
}

static void
names_continue_after_names_read_from_text(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse("qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%add_1 = call_function operator.add (%x, %x) {}\n"
                            "%output = output output (%add_1,) {}\n",
                            &a);
    qp_node x = qp_graph_find_node(g, "x");
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "operator.add", NULL, tup(g, 2, ref(g, x), ref(g, x)),
                      QP_NULL_VAL};
    qp_node n;
    assert_int_equal(qp_graph_insert_after(g, x, &s, &n), QP_OK);
    assert_string_equal(qp_node_name(g, n), "add");
    assert_int_equal(qp_graph_insert_after(g, x, &s, &n), QP_OK);
    assert_string_equal(qp_node_name(g, n), "add_2");
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
no_builtin_or_keyword_is_a_name(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* dir(builtins) and keyword.kwlist of Python 3.11, and torch.fx's custom builtins */
    static const char *const words[] = {
        "ArithmeticError", "AssertionError", "AttributeError", "BaseException",
        "BaseExceptionGroup", "BlockingIOError", "BrokenPipeError", "BufferError", "BytesWarning",
        "ChildProcessError", "ConnectionAbortedError", "ConnectionError", "ConnectionRefusedError",
        "ConnectionResetError", "DeprecationWarning", "EOFError", "Ellipsis", "EncodingWarning",
        "EnvironmentError", "Exception", "ExceptionGroup", "False", "FileExistsError",
        "FileNotFoundError", "FloatingPointError", "FutureWarning", "GeneratorExit", "IOError",
        "ImportError", "ImportWarning", "IndentationError", "IndexError", "InterruptedError",
        "IsADirectoryError", "KeyError", "KeyboardInterrupt", "LookupError", "MemoryError",
        "ModuleNotFoundError", "NameError", "None", "NotADirectoryError", "NotImplemented",
        "NotImplementedError", "OSError", "OverflowError", "PendingDeprecationWarning",
        "PermissionError", "ProcessLookupError", "RecursionError", "ReferenceError",
        "ResourceWarning", "RuntimeError", "RuntimeWarning", "StopAsyncIteration", "StopIteration",
        "SyntaxError", "SyntaxWarning", "SystemError", "SystemExit", "TabError", "TimeoutError",
        "True", "TypeError", "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError",
        "UnicodeError", "UnicodeTranslateError", "UnicodeWarning", "UserWarning", "ValueError",
        "Warning", "ZeroDivisionError", "__build_class__", "__debug__", "__doc__", "__import__",
        "__loader__", "__name__", "__package__", "__spec__", "abs", "aiter", "all", "and", "anext",
        "any", "as", "ascii", "assert", "async", "await", "bin", "bool", "break", "breakpoint",
        "bytearray", "bytes", "callable", "chr", "class", "classmethod", "compile", "complex",
        "continue", "copyright", "credits", "def", "del", "delattr", "dict", "dir", "divmod",
        "elif", "else", "enumerate", "eval", "except", "exec", "exit", "filter", "finally", "float",
        "for", "format", "from", "frozenset", "getattr", "global", "globals", "hasattr", "hash",
        "help", "hex", "id", "if", "import", "in", "input", "int", "is", "isinstance", "issubclass",
        "iter", "lambda", "len", "license", "list", "locals", "map", "max", "memoryview", "min",
        "next", "nonlocal", "not", "object", "oct", "open", "or", "ord", "pass", "pow", "print",
        "property", "quit", "raise", "range", "repr", "return", "reversed", "round", "set",
        "setattr", "slice", "sorted", "staticmethod", "str", "sum", "super", "try", "tuple", "type",
        "vars", "while", "with", "yield", "zip",
        /* torch.fx _custom_builtins */
        "inf", "nan", "NoneType", "torch", "device", "fx_pytree", "pytree"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        qp_node_spec s = {QP_OP_CALL_MODULE, "m", words[i], QP_NULL_VAL, QP_NULL_VAL};
        qp_node n;
        assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
        char want[64];
        snprintf(want, sizeof want, "%s_1", words[i]);
        if (strcmp(qp_node_name(g, n), want) != 0) {
            print_error("%s: got %s\n", words[i], qp_node_name(g, n));
            fail();
        }
    }
    /* near misses are fine */
    static const struct name_case ok[] = {
        {QP_OP_CALL_MODULE, "m", "Input", "Input"}, {QP_OP_CALL_MODULE, "m", "maximum", "maximum"},
        {QP_OP_CALL_MODULE, "m", "max_1", "max_2"}, {QP_OP_CALL_MODULE, "m", "iff", "iff"},
        {QP_OP_CALL_MODULE, "m", "a", "a"},         {QP_OP_CALL_MODULE, "m", "zip_", "zip_"},
    };
    run_names(g, ok, sizeof ok / sizeof ok[0]);
    qpt_done(g, &st);
}

static void
target_to_name_is_graph_target_to_str(void **state)
{
    (void)state;
    static const struct {
        qp_op op;
        const char *target, *want;
    } cases[] = {
        {QP_OP_CALL_FUNCTION, "torch.nn.functional.relu", "relu"},
        {QP_OP_CALL_FUNCTION, "operator.add", "add"},
        {QP_OP_CALL_FUNCTION, "flatten", "flatten"},
        {QP_OP_CALL_FUNCTION, "mod.MyFunc", "my_func"},
        {QP_OP_CALL_FUNCTION, "mod.ALL_CAPS", "all_caps"},
        {QP_OP_CALL_FUNCTION, "mod.", "mod."},
        {QP_OP_CALL_MODULE, "layer1.0.conv1", "layer1.0.conv1"},
        {QP_OP_CALL_MODULE, "mod.pascalCase", "mod.pascal_case"},
        {QP_OP_CALL_METHOD, "__add__", "add"},
        {QP_OP_CALL_METHOD, "__a__", "a"},
        {QP_OP_CALL_METHOD, "____", "____"},
        {QP_OP_CALL_METHOD, "__init", "__init"},
        {QP_OP_GET_ATTR, "aB.cD", "a_b.c_d"},
        {QP_OP_PLACEHOLDER, "XYZ", "xyz"},
        {QP_OP_OUTPUT, "output", "output"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = qp__target_to_name((uint8_t)cases[i].op, cases[i].target, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    /* a small buffer truncates, and terminates */
    char small[6];
    size_t n = qp__target_to_name(QP_OP_CALL_METHOD, "abcdefghij", small, sizeof small);
    assert_true(n < sizeof small);
    assert_int_equal(strlen(small), n);
    assert_memory_equal(small, "abcdefghij", n);
}

/* qp__name_for_call (the fake-quantizer pass's shortcut: a target that is its own
 * name is not interned again) names every target as qp__target_to_name and then
 * qp__name_create do, the first time and once the name is taken. */
static void
name_for_call_is_target_to_name_then_create(void **state)
{
    (void)state;
    static const char *const targets[] = {
        "conv_post_act_fake_quantizer", "conv_post_act_fake_quantizer_1", "x_2", "Conv_post",
        "convPost", "__add__", "2abc", "for", "layer1.0.conv", "a-b", "_", "ab__", "taken",
        "taken_1", "x_0",
    };
    qpt_alloc sa, sb;
    qp_graph *a = qpt_mkgraph(&sa), *b = qpt_mkgraph(&sb);
    qp_node_spec s = {QP_OP_PLACEHOLDER, "taken", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node na, nb;
    assert_int_equal(qp_graph_insert_before(a, QP_NULL_NODE, &s, &na), QP_OK);
    assert_int_equal(qp_graph_insert_before(b, QP_NULL_NODE, &s, &nb), QP_OK);
    char longest[QP_MAX_NAME + 2];
    memset(longest, 'n', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i <= sizeof targets / sizeof targets[0]; i++) {
            /* the last target: one byte too long, then exactly the longest name */
            const char *t = i < sizeof targets / sizeof targets[0] ? targets[i] : longest + round;
            uint32_t ta, tb, xa = 0, xb = 0;
            assert_int_equal(qp__sym_intern(a, t, strlen(t), &ta), QP_OK);
            assert_int_equal(qp__sym_intern(b, t, strlen(t), &tb), QP_OK);
            qp_status ra = qp__name_for_call(a, ta, &xa);
            char cand[QP_MAX_NAME + 64];
            size_t cl = qp__target_to_name(QP_OP_CALL_MODULE, t, cand, sizeof cand);
            qp_status rb = qp__name_create(b, cand, cl, &xb);
            assert_int_equal(ra, rb);
            if (ra)
                continue;
            assert_string_equal(qp__sym_str(a, xa), qp__sym_str(b, xb));
            /* taken from now on, as by the node the pass then links to it */
            a->st.syms[xa].node = na.id;
            b->st.syms[xb].node = nb.id;
        }
    qpt_done(a, &sa);
    qpt_done(b, &sb);
}

static void
generated_names_are_bounded(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    char *name = test_malloc(QP_MAX_NAME + 2);
    memset(name, 'n', QP_MAX_NAME + 1);
    name[QP_MAX_NAME + 1] = 0;
    qp_node_spec s = {QP_OP_CALL_MODULE, "m", name, QP_NULL_VAL, QP_NULL_VAL};
    qp_node n;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_graph_num_nodes(g), 0);
    name[QP_MAX_NAME] = 0;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
    assert_int_equal(strlen(qp_node_name(g, n)), QP_MAX_NAME);
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
    assert_int_equal(strlen(qp_node_name(g, n)), QP_MAX_NAME + 2); /* ..._1 */
    s.name = "";
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_ERR_INVALID_NAME);
    test_free(name);
    qpt_done(g, &st);
}

static void
failed_insert_leaves_names_unchanged(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    qp_node a = fn1(g, "torch.relu", x);
    fn1(g, "torch.relu", a);
    /* bring the node array to its capacity so the next insert has to grow it */
    while (g->nnodes < g->capnodes)
        add(g, QP_OP_PLACEHOLDER, "p", NULL, QP_NULL_VAL, QP_NULL_VAL);
    char *before = qpt_graph_text(g);
    for (size_t k = 1;; k++) {
        qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, tup(g, 1, ref(g, x)),
                          QP_NULL_VAL};
        qp_node n = {7};
        st.fail_at = st.calls + k;
        qp_status rc = qp_graph_insert_before(g, QP_NULL_NODE, &s, &n);
        st.fail_at = 0;
        if (rc == QP_OK) {
            /* the name is the one an insert without failures would have given */
            assert_string_equal(qp_node_name(g, n), "relu_2");
            break;
        }
        assert_int_equal(rc, QP_ERR_NOMEM);
        assert_true(qp_node_is_null(n));
        char *after = qpt_graph_text(g);
        assert_string_equal(before, after);
        test_free(after);
        assert_true(k < 50);
    }
    test_free(before);
    qpt_done(g, &st);
}

/* ==== replace_uses ==== */

static void
replace_uses_touches_only_the_users(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x"), y = input(g, "y");
    qp_node c = fn1(g, "torch.relu", y);
    qp_node a = fn1(g, "torch.sigmoid", x);
    qp_node b = fn2(g, "operator.mul", x, y);
    qp_node d = fn1(g, "torch.tanh", c);
    qp_node s = fn2(g, "operator.add", a, b);
    output(g, fn2(g, "operator.add", s, d));
    expect_users(g, y, "relu mul");
    uint32_t count = 99;
    assert_int_equal(qp_node_replace_uses(g, x, y, &count), QP_OK);
    assert_int_equal(count, 2);
    assert_int_equal(qp_node_num_users(g, x), 0);
    /* the moved users come after y's own, in x's order; b already used y and keeps its
     * place */
    expect_users(g, y, "relu mul sigmoid");
    expect_text(g, "qgraph 1\n"
                   "%x = placeholder x () {}\n"
                   "%y = placeholder y () {}\n"
                   "%relu = call_function torch.relu (%y,) {}\n"
                   "%sigmoid = call_function torch.sigmoid (%y,) {}\n"
                   "%mul = call_function operator.mul (%y, %y) {}\n"
                   "%tanh = call_function torch.tanh (%relu,) {}\n"
                   "%add = call_function operator.add (%sigmoid, %mul) {}\n"
                   "%add_1 = call_function operator.add (%add, %tanh) {}\n"
                   "%output = output output (%add_1,) {}\n");
    qpt_verify_ok(g);
    /* x has no users left: it can go */
    assert_int_equal(qp_graph_erase_node(g, x), QP_OK);
    qpt_verify_ok(g);
    /* replacing a node by itself, or one without users, changes nothing */
    assert_int_equal(qp_node_replace_uses(g, y, y, &count), QP_OK);
    assert_int_equal(count, 0);
    assert_int_equal(qp_node_replace_uses(g, d, c, &count), QP_OK);
    assert_int_equal(count, 1);
    assert_int_equal(qp_node_replace_uses(g, d, c, NULL), QP_OK);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
replace_uses_skips_the_target_own_use(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* inserting a fake-quantizer after x: fq uses x, and every other user of x
     * moves to fq; fq itself keeps using x */
    qp_node x = input(g, "x");
    qp_node a = fn1(g, "torch.relu", x);
    qp_node b = fn2(g, "operator.add", x, a);
    output(g, b);
    qp_node fq;
    qp_node_spec s = {QP_OP_CALL_MODULE, "x_post_act_fake_quantizer", NULL, tup(g, 1, ref(g, x)),
                      QP_NULL_VAL};
    assert_int_equal(qp_graph_insert_after(g, x, &s, &fq), QP_OK);
    assert_string_equal(qp_node_name(g, fq), "x_post_act_fake_quantizer");
    expect_users(g, x, "relu add x_post_act_fake_quantizer");
    uint32_t count;
    assert_int_equal(qp_node_replace_uses(g, x, fq, &count), QP_OK);
    assert_int_equal(count, 2);
    expect_users(g, x, "x_post_act_fake_quantizer");
    expect_users(g, fq, "relu add");
    assert_int_equal(qp_graph_add_module(g, "x_post_act_fake_quantizer", "fq.Learnable",
                                         QP_NULL_VAL, &(qp_module){0}),
                     QP_OK);
    qpt_verify_ok(g);
    expect_text(g, "qgraph 1\n"
                   "module x_post_act_fake_quantizer fq.Learnable {}\n"
                   "%x = placeholder x () {}\n"
                   "%x_post_act_fake_quantizer = call_module x_post_act_fake_quantizer (%x,) {}\n"
                   "%relu = call_function torch.relu (%x_post_act_fake_quantizer,) {}\n"
                   "%add = call_function operator.add (%x_post_act_fake_quantizer, %relu) {}\n"
                   "%output = output output (%add,) {}\n");
    qpt_done(g, &st);
}

static void
replace_uses_moves_every_reference_of_a_user(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x"), y = input(g, "y");
    /* u = torch.cat([x, y, x], out=x) with y = an earlier user; v uses x once */
    qp_val items[3] = {ref(g, x), ref(g, y), ref(g, x)}, lst, kw;
    assert_int_equal(qp_val_new_list(g, 3, items, &lst), QP_OK);
    qp_val rx = ref(g, x);
    const char *k[1] = {"out"};
    assert_int_equal(qp_val_new_dict(g, 1, k, &rx, &kw), QP_OK);
    qp_node u = add(g, QP_OP_CALL_FUNCTION, "torch.cat", NULL, tup(g, 1, lst), kw);
    qp_node v = fn1(g, "torch.relu", x);
    qp_node w = fn2(g, "operator.add", u, v);
    output(g, w);
    expect_users(g, x, "cat relu");
    expect_users(g, y, "cat");
    uint32_t count;
    assert_int_equal(qp_node_replace_uses(g, x, y, &count), QP_OK);
    assert_int_equal(count, 4);
    expect_users(g, y, "cat relu");
    assert_int_equal(qp_node_num_users(g, x), 0);
    expect_text(g, "qgraph 1\n"
                   "%x = placeholder x () {}\n"
                   "%y = placeholder y () {}\n"
                   "%cat = call_function torch.cat ([%y, %y, %y],) {out: %y}\n"
                   "%relu = call_function torch.relu (%y,) {}\n"
                   "%add = call_function operator.add (%cat, %relu) {}\n"
                   "%output = output output (%add,) {}\n");
    qpt_verify_ok(g);
    /* and back: every reference moves, y keeps none */
    assert_int_equal(qp_node_replace_uses(g, y, x, &count), QP_OK);
    assert_int_equal(count, 5);
    expect_users(g, x, "cat relu");
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
replace_uses_scales_with_fan_out(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    enum { N = 100000 };
    qp_node x = input(g, "x"), y = input(g, "y");
    /* 10^5 users of x ... */
    qp_node last = x;
    for (int i = 0; i < N; i++)
        last = fn1(g, "torch.relu", x);
    assert_string_equal(qp_node_name(g, last), "relu_99999");
    /* ... and one user holding 10^5 references to x */
    qp_val *items = test_malloc(N * sizeof *items);
    qp_val rx = ref(g, x);
    for (int i = 0; i < N; i++)
        items[i] = rx;
    qp_val lst;
    assert_int_equal(qp_val_new_list(g, N, items, &lst), QP_OK);
    test_free(items);
    qp_node cat = add(g, QP_OP_CALL_FUNCTION, "torch.cat", NULL, tup(g, 1, lst), QP_NULL_VAL);
    output(g, cat);
    assert_int_equal(qp_node_num_users(g, x), N + 1);
    uint32_t count;
    /* O(references): milliseconds; a per-reference rescan of cat's args would take
     * minutes, so a generous bound tells the two apart */
    clock_t t0 = clock();
    assert_int_equal(qp_node_replace_uses(g, x, y, &count), QP_OK);
    assert_int_equal(count, 2 * N);
    assert_int_equal(qp_node_num_users(g, y), N + 1);
    assert_int_equal(qp_node_num_users(g, x), 0);
    qp_node first[2];
    assert_int_equal(qp_node_users(g, y, first, 2), N + 1);
    assert_string_equal(qp_node_name(g, first[0]), "relu");
    assert_string_equal(qp_node_name(g, first[1]), "relu_1");
    qpt_verify_ok(g);
    /* and back again, now that y's list is long */
    assert_int_equal(qp_node_replace_uses(g, y, x, &count), QP_OK);
    assert_int_equal(count, 2 * N);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

/* ==== erase ==== */

static void
erase_refuses_a_node_with_users(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    qp_node r = fn1(g, "torch.relu", x);
    output(g, r);
    char *before = qpt_graph_text(g);
    assert_int_equal(qp_graph_erase_node(g, x), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "%x"));
    assert_non_null(strstr(qp_graph_errmsg(g), "%relu"));
    assert_int_equal(qp_graph_errnode(g).id, x.id);
    char *after = qpt_graph_text(g);
    assert_string_equal(before, after);
    test_free(before);
    test_free(after);
    assert_true(qp_node_is_live(g, x));
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
erase_leaves_a_tombstone(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    qp_node r = fn1(g, "torch.relu", x);
    qp_node o = output(g, x);
    int tag;
    assert_int_equal(qp_node_set_user_data(g, r, &tag), QP_OK);
    assert_int_equal(qp_graph_erase_node(g, r), QP_OK);
    assert_false(qp_node_is_live(g, r));
    assert_int_equal(qp_graph_num_nodes(g), 2);
    assert_int_equal(qp_node_num_users(g, x), 1); /* r's use of x is gone */
    /* the tombstone can still be read */
    assert_string_equal(qp_node_name(g, r), "relu");
    assert_int_equal(qp_node_op(g, r), QP_OP_CALL_FUNCTION);
    assert_true(qp_node_is_null(qp_graph_find_node(g, "relu")));
    /* but not changed, and not erased twice */
    assert_int_equal(qp_graph_erase_node(g, r), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_target(g, r, "torch.tanh"), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_args(g, r, QP_NULL_VAL), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_user_data(g, r, NULL), QP_ERR_INVALID_ARG);
    /* iteration from it continues with the live node that followed it */
    assert_int_equal(qp_node_next(g, r).id, o.id);
    assert_int_equal(qp_node_prev(g, r).id, x.id);
    expect_order(g, "x output");
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
iteration_continues_past_erased_nodes(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    enum { N = 20 };
    qp_node r[N];
    for (int i = 0; i < N; i++)
        r[i] = fn1(g, "torch.relu", x);
    qp_node o = output(g, x);
    /* erase every node while walking, including runs of neighbours */
    int seen = 0;
    for (qp_node n = qp_graph_first(g); !qp_node_is_null(n); n = qp_node_next(g, n)) {
        seen++;
        if (qp_node_op(g, n) == QP_OP_CALL_FUNCTION)
            assert_int_equal(qp_graph_erase_node(g, n), QP_OK);
    }
    assert_int_equal(seen, N + 2);
    expect_order(g, "x output");
    /* from a node erased long ago, next skips the later tombstones too */
    assert_int_equal(qp_node_next(g, r[0]).id, o.id);
    assert_int_equal(qp_node_prev(g, r[N - 1]).id, x.id);
    /* a node inserted after erasures is iterated normally */
    qp_node t = fn1(g, "torch.tanh", x);
    expect_order(g, "x output tanh");
    assert_int_equal(qp_graph_erase_node(g, t), QP_OK);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

/* ==== handles ==== */

static void
handles_stay_valid_as_the_graph_grows(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    struct qp__node *rec = &g->nodes[x.id];
    const char *name = qp_node_name(g, x);
    enum { N = 20000 };
    qp_node prev = x, mid = x;
    for (int i = 0; i < N; i++) {
        prev = fn1(g, "torch.relu", prev);
        if (i == N / 2)
            mid = prev;
    }
    output(g, prev);
    assert_true(rec != &g->nodes[x.id]);        /* the array moved (always, in tests) */
    assert_ptr_equal(qp_node_name(g, x), name); /* names did not */
    assert_string_equal(qp_node_name(g, x), "x");
    assert_string_equal(qp_node_name(g, mid), "relu_10000");
    assert_int_equal(qp_val_as_node(g, qp_val_item_at(g, qp_node_args(g, mid), 0)).id, mid.id - 1);
    assert_int_equal(qp_graph_num_nodes(g), N + 2);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

/* ==== users ==== */

static void
users_are_distinct_and_in_use_order(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x"), y = input(g, "y");
    qp_node a = fn2(g, "operator.add", x, x);
    expect_users(g, x, "add");
    qp_node b = fn2(g, "operator.mul", y, x);
    qp_val items[2] = {ref(g, x), ref(g, y)}, lst, rx = ref(g, x), kw;
    assert_int_equal(qp_val_new_list(g, 2, items, &lst), QP_OK);
    const char *k[1] = {"out"};
    assert_int_equal(qp_val_new_dict(g, 1, k, &rx, &kw), QP_OK);
    qp_node c = add(g, QP_OP_CALL_FUNCTION, "torch.cat", NULL, tup(g, 1, lst), kw);
    expect_users(g, x, "add mul cat");
    expect_users(g, y, "mul cat");
    expect_users(g, c, "");
    /* a short buffer gets the first users; the count is all of them */
    qp_node buf[2] = {{0}, {0}};
    assert_int_equal(qp_node_users(g, x, buf, 1), 3);
    assert_int_equal(buf[0].id, a.id);
    assert_int_equal(buf[1].id, 0);
    assert_int_equal(qp_node_users(g, x, NULL, 0), 3);
    /* new args: a leaves x and joins the end of y's users */
    assert_int_equal(qp_node_set_args(g, a, tup(g, 2, ref(g, y), ref(g, y))), QP_OK);
    expect_users(g, x, "mul cat");
    expect_users(g, y, "mul cat add");
    (void)b;
    output(g, c);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

/* ==== setters ==== */

static void
set_args_kwargs_and_target_rewire(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x"), y = input(g, "y");
    qp_node r = fn1(g, "torch.relu", x);
    qp_node o = output(g, r);
    /* args: a TUPLE; null means () */
    assert_int_equal(qp_node_set_args(g, r, tup(g, 1, ref(g, y))), QP_OK);
    assert_int_equal(qp_node_num_users(g, x), 0);
    assert_int_equal(qp_node_num_users(g, y), 1);
    qp_val one, kw;
    assert_int_equal(qp_val_new_int(g, 1, &one), QP_OK);
    qp_val lst;
    assert_int_equal(qp_val_new_list(g, 1, &one, &lst), QP_OK);
    assert_int_equal(qp_node_set_args(g, r, lst), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_args(g, r, one), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_args(g, r, (qp_val){g->nvals}), QP_ERR_INVALID_ARG);
    /* kwargs: a DICT; references count as uses */
    qp_val rx = ref(g, x);
    const char *k[1] = {"other"};
    assert_int_equal(qp_val_new_dict(g, 1, k, &rx, &kw), QP_OK);
    assert_int_equal(qp_node_set_kwargs(g, r, kw), QP_OK);
    assert_int_equal(qp_node_num_users(g, x), 1);
    assert_int_equal(qp_node_set_kwargs(g, r, lst), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_kwargs(g, r, tup(g, 0)), QP_ERR_INVALID_ARG);
    /* setting a node's own args again is harmless */
    assert_int_equal(qp_node_set_args(g, r, qp_node_args(g, r)), QP_OK);
    assert_int_equal(qp_node_set_kwargs(g, r, qp_node_kwargs(g, r)), QP_OK);
    assert_int_equal(qp_node_num_users(g, y), 1);
    qpt_verify_ok(g);
    /* target: one word */
    assert_int_equal(qp_node_set_target(g, r, "torch.nn.functional.relu"), QP_OK);
    assert_string_equal(qp_node_target(g, r), "torch.nn.functional.relu");
    assert_string_equal(qp_node_name(g, r), "relu"); /* the name stays */
    assert_int_equal(qp_node_set_target(g, r, "a b"), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_node_set_target(g, r, ""), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_node_set_target(g, r, "a\xff"), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_node_set_target(g, r, NULL), QP_ERR_NULL_ARG);
    assert_string_equal(qp_node_target(g, r), "torch.nn.functional.relu");
    expect_text(g, "qgraph 1\n"
                   "%x = placeholder x () {}\n"
                   "%y = placeholder y () {}\n"
                   "%relu = call_function torch.nn.functional.relu (%y,) {other: %x}\n"
                   "%output = output output (%relu,) {}\n");
    /* args back to null: () */
    assert_int_equal(qp_node_set_kwargs(g, r, QP_NULL_VAL), QP_OK);
    assert_int_equal(qp_node_set_args(g, r, QP_NULL_VAL), QP_OK);
    assert_int_equal(qp_val_num_items(g, qp_node_args(g, r)), 0);
    assert_int_equal(qp_node_num_users(g, x), 0);
    assert_int_equal(qp_node_num_users(g, y), 0);
    (void)o;
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
targets_are_one_bounded_word(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* any run of non-white-space characters, as FORMAT.md says */
    static const char *const good[] = {
        "trunk_output.block1-0.proj.0", "0.conv", "a\"b", "a{b", "a|b<c>", "x\\y", "caf\xc3\xa9"};
    static const char *const bad[] = {"", "a b", "a\tb", "a\nb", "\x7f", "a\xc3", "\xff"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        qp_node_spec s = {QP_OP_CALL_METHOD, good[i], NULL, QP_NULL_VAL, QP_NULL_VAL};
        qp_node n;
        assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
        assert_string_equal(qp_node_target(g, n), good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qp_node_spec s = {QP_OP_CALL_METHOD, bad[i], NULL, QP_NULL_VAL, QP_NULL_VAL};
        qp_node n;
        assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_ERR_INVALID_NAME);
    }
    char *t = test_malloc(QP_MAX_NAME + 2);
    memset(t, 't', QP_MAX_NAME + 1);
    t[QP_MAX_NAME + 1] = 0;
    qp_node_spec s = {QP_OP_CALL_METHOD, t, NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node n;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_ERR_INVALID_NAME);
    t[QP_MAX_NAME] = 0;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
    test_free(t);
    /* everything accepted reads back from text */
    output(g, n);
    char *text = qpt_graph_text(g);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *h = qpt_parse(text, &a);
    char *again = qpt_graph_text(h);
    assert_string_equal(text, again);
    test_free(again);
    test_free(text);
    qp_graph_destroy(h);
    qpt_done(g, &st);
}

/* ==== user data ==== */

static void
user_data_rides_on_live_nodes(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = input(g, "x");
    int a, b;
    assert_null(qp_node_user_data(g, x));
    assert_int_equal(qp_node_set_user_data(g, x, &a), QP_OK);
    assert_ptr_equal(qp_node_user_data(g, x), &a);
    assert_int_equal(qp_node_set_user_data(g, x, &b), QP_OK);
    assert_ptr_equal(qp_node_user_data(g, x), &b);
    assert_int_equal(qp_node_set_user_data(g, x, NULL), QP_OK);
    assert_null(qp_node_user_data(g, x));
    assert_int_equal(qp_node_set_user_data(g, QP_NULL_NODE, &a), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_user_data(g, (qp_node){x.id + 1}, &a), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_node_set_user_data(NULL, x, &a), QP_ERR_NULL_ARG);
    assert_null(qp_node_user_data(g, (qp_node){x.id + 1}));
    assert_null(qp_node_user_data(NULL, x));
    /* a fake-quantizer's producer: null for ordinary nodes */
    assert_true(qp_node_is_null(qp_node_fq_producer(g, x)));
    output(g, x);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

/* User pointers live beside the records (a graph without any holds no room for
 * them): set on the thousandth node and module first, then on all, they grow
 * their arrays, keep every pointer, survive a clone, and a set that cannot get
 * memory changes nothing. */
static void
user_data_on_many_nodes_and_modules(void **state)
{
    (void)state;
    enum { N = 1500 };
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    static int tags[N];
    qp_node nodes[N];
    qp_module mods[N];
    nodes[0] = input(g, "x");
    for (int i = 1; i < N; i++)
        nodes[i] = fn1(g, "torch.relu", nodes[i - 1]);
    for (int i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof path, "m%d", i);
        assert_int_equal(qp_graph_add_module(g, path, "nn.ReLU", QP_NULL_VAL, &mods[i]), QP_OK);
    }
    output(g, nodes[N - 1]);
    assert_null(g->node_user); /* none set: no room held */
    assert_null(g->mod_user);
    /* with memory refused, a first set fails and changes nothing */
    st.fail_at = st.calls + 1;
    st.fail_after = 1;
    assert_int_equal(qp_node_set_user_data(g, nodes[N - 1], &tags[0]), QP_ERR_NOMEM);
    assert_int_equal(qp_module_set_user_data(g, mods[N - 1], &tags[0]), QP_ERR_NOMEM);
    assert_int_equal(qp_node_set_user_data(g, nodes[N - 1], NULL), QP_OK); /* nothing to hold */
    st.fail_at = 0;
    st.fail_after = 0;
    assert_null(qp_node_user_data(g, nodes[N - 1]));
    assert_null(qp_module_user_data(g, mods[N - 1]));
    assert_int_equal(qp_node_set_user_data(g, nodes[N - 1], &tags[N - 1]), QP_OK);
    assert_int_equal(qp_module_set_user_data(g, mods[N - 1], &tags[0]), QP_OK);
    for (int i = 0; i < N - 1; i++) {
        assert_null(qp_node_user_data(g, nodes[i]));
        assert_int_equal(qp_node_set_user_data(g, nodes[i], &tags[i]), QP_OK);
        assert_int_equal(qp_module_set_user_data(g, mods[i], &tags[N - 1 - i]), QP_OK);
    }
    qp_graph *h;
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(qp_node_user_data(g, nodes[i]), &tags[i]);
        assert_ptr_equal(qp_module_user_data(g, mods[i]), &tags[N - 1 - i]);
        assert_ptr_equal(qp_node_user_data(h, nodes[i]), &tags[i]);
        assert_ptr_equal(qp_module_user_data(h, mods[i]), &tags[N - 1 - i]);
    }
    qp_graph_destroy(h);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_and_destroy_with_any_allocator),
        cmocka_unit_test(create_fails_cleanly_without_memory),
        cmocka_unit_test(mem_used_counts_every_byte),
        cmocka_unit_test(clone_is_deep_and_keeps_handles),
        cmocka_unit_test(insert_after_and_before_place_nodes),
        cmocka_unit_test(insert_keeps_args_and_kwargs),
        cmocka_unit_test(only_one_output_node_can_be_inserted),
        cmocka_unit_test(names_follow_torch_fx),
        cmocka_unit_test(numeric_suffixes_are_normalised),
        cmocka_unit_test(erased_names_stay_taken),
        cmocka_unit_test(names_continue_after_names_read_from_text),
        cmocka_unit_test(no_builtin_or_keyword_is_a_name),
        cmocka_unit_test(target_to_name_is_graph_target_to_str),
        cmocka_unit_test(name_for_call_is_target_to_name_then_create),
        cmocka_unit_test(generated_names_are_bounded),
        cmocka_unit_test(failed_insert_leaves_names_unchanged),
        cmocka_unit_test(replace_uses_touches_only_the_users),
        cmocka_unit_test(replace_uses_skips_the_target_own_use),
        cmocka_unit_test(replace_uses_moves_every_reference_of_a_user),
        cmocka_unit_test(replace_uses_scales_with_fan_out),
        cmocka_unit_test(erase_refuses_a_node_with_users),
        cmocka_unit_test(erase_leaves_a_tombstone),
        cmocka_unit_test(iteration_continues_past_erased_nodes),
        cmocka_unit_test(handles_stay_valid_as_the_graph_grows),
        cmocka_unit_test(users_are_distinct_and_in_use_order),
        cmocka_unit_test(set_args_kwargs_and_target_rewire),
        cmocka_unit_test(targets_are_one_bounded_word),
        cmocka_unit_test(user_data_rides_on_live_nodes),
        cmocka_unit_test(user_data_on_many_nodes_and_modules),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
