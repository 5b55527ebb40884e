/*
 * test_module.c - the module table, parameters and description comments
 * (module.c): table order, lookups, attributes, removal refused while a node
 * calls the module, user data and origins, and round trips through text.
 */
#include "testlib.h"

#include <string.h>

static qp_module
mod(qp_graph *g, const char *path, const char *type)
{
    qp_module m;
    qp_status rc = qp_graph_add_module(g, path, type, QP_NULL_VAL, &m);
    if (rc) {
        print_error("add %s: %s: %s\n", path, qp_status_str(rc), qp_graph_errmsg(g));
        fail();
    }
    return m;
}

static qp_val
dict1(qp_graph *g, const char *key, qp_val v)
{
    qp_val d;
    assert_int_equal(qp_val_new_dict(g, 1, &key, &v, &d), QP_OK);
    return d;
}

static qp_val
vint(qp_graph *g, int64_t i)
{
    qp_val v;
    assert_int_equal(qp_val_new_int(g, i, &v), QP_OK);
    return v;
}

static void
expect_table(qp_graph *g, const char *want)
{
    char got[2048];
    size_t o = 0;
    got[0] = 0;
    uint32_t n = 0;
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m); m = qp_module_next(g, m)) {
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", n ? " " : "", qp_module_path(g, m));
        n++;
    }
    assert_string_equal(got, want);
    assert_int_equal(n, qp_graph_num_modules(g));
}

/* Writes g, reads it back, and checks the text is the same. */
static void
round_trips(qp_graph *g, qpt_alloc *st)
{
    char *text = qpt_graph_text(g);
    qp_allocator a = qpt_allocator(st);
    qp_read_opts o = {&a, QP_READ_NO_VERIFY, NULL, NULL};
    qp_graph *h = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, strlen(text), &o, &h, &err);
    if (rc) {
        print_error("%s\nline %u: %s\n", text, (unsigned)err.line, err.msg);
        fail();
    }
    char *again = qpt_graph_text(h);
    assert_string_equal(text, again);
    test_free(again);
    test_free(text);
    qp_graph_destroy(h);
}

static void
modules_are_found_by_path_in_table_order(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val attrs = dict1(g, "in_channels", vint(g, 3));
    qp_module c;
    assert_int_equal(qp_graph_add_module(g, "layer1.0.conv1", "nn.Conv2d", attrs, &c), QP_OK);
    qp_module b = mod(g, "layer1.0.bn1", "nn.BatchNorm2d");
    qp_module r = mod(g, "relu", "nn.ReLU");
    expect_table(g, "layer1.0.conv1 layer1.0.bn1 relu");
    assert_int_equal(qp_graph_find_module(g, "layer1.0.bn1").id, b.id);
    assert_true(qp_module_is_null(qp_graph_find_module(g, "layer1.0")));
    assert_true(qp_module_is_null(qp_graph_find_module(g, "")));
    assert_true(qp_module_is_null(qp_graph_find_module(g, NULL)));
    assert_string_equal(qp_module_path(g, c), "layer1.0.conv1");
    assert_string_equal(qp_module_type(g, c), "nn.Conv2d");
    assert_int_equal(qp_val_as_int(g, qp_module_attr(g, c, "in_channels")), 3);
    assert_true(qp_val_is_null(qp_module_attr(g, c, "out_channels")));
    /* a module added without attributes has an empty dict */
    assert_int_equal(qp_val_kind_of(g, qp_module_attrs(g, r)), QP_VAL_DICT);
    assert_int_equal(qp_val_num_items(g, qp_module_attrs(g, r)), 0);
    assert_true(qp_module_is_null(qp_module_next(g, r)));
    round_trips(g, &st);
    qpt_done(g, &st);
}

static void
module_paths_and_types_are_bounded_words(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module m;
    mod(g, "conv", "nn.Conv2d");
    assert_int_equal(qp_graph_add_module(g, "conv", "nn.Linear", QP_NULL_VAL, &m), QP_ERR_DUP_NAME);
    assert_true(qp_module_is_null(m));
    assert_non_null(strstr(qp_graph_errmsg(g), "conv"));
    assert_string_equal(qp_module_type(g, qp_graph_find_module(g, "conv")), "nn.Conv2d");
    /* FORMAT.md: any run of characters other than white space */
    static const char *const good[] = {
        "trunk_output.block1-0.proj.0", "0.conv", "a{b}", "%x", "#y", "caf\xc3\xa9", "a\"b\\c"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        mod(g, good[i], good[i]);
        assert_int_equal(qp_graph_find_module(g, good[i]).id, qp_graph_find_module(g, good[i]).id);
    }
    static const char *const bad[] = {"",     "a b",  "a\tb",  "a\nb",        "a\rb",
                                      "\x7f", "\xff", "a\xc3", "\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(qp_graph_add_module(g, bad[i], "nn.X", QP_NULL_VAL, &m),
                         QP_ERR_INVALID_NAME);
        assert_int_equal(qp_graph_add_module(g, "fine", bad[i], QP_NULL_VAL, &m),
                         QP_ERR_INVALID_NAME);
    }
    char *big = test_malloc(QP_MAX_NAME + 2);
    memset(big, 'p', QP_MAX_NAME + 1);
    big[QP_MAX_NAME + 1] = 0;
    assert_int_equal(qp_graph_add_module(g, big, "nn.X", QP_NULL_VAL, &m), QP_ERR_INVALID_NAME);
    big[QP_MAX_NAME] = 0;
    mod(g, big, "nn.X");
    test_free(big);
    assert_int_equal(qp_graph_add_module(g, NULL, "nn.X", QP_NULL_VAL, &m), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_add_module(g, "p", NULL, QP_NULL_VAL, &m), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_add_module(g, "p", "nn.X", QP_NULL_VAL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_num_modules(g), 1 + sizeof good / sizeof good[0] + 1);
    round_trips(g, &st);
    qpt_done(g, &st);
}

static void
module_attributes_are_a_dict_without_nodes(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module m;
    qp_val t;
    assert_int_equal(qp_val_new_tuple(g, 0, NULL, &t), QP_OK);
    assert_int_equal(qp_graph_add_module(g, "a", "nn.X", t, &m), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_graph_add_module(g, "a", "nn.X", (qp_val){g->nvals}, &m),
                     QP_ERR_INVALID_ARG);
    qp_node_spec s = {QP_OP_PLACEHOLDER, "x", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node x;
    assert_int_equal(qp_graph_insert_after(g, QP_NULL_NODE, &s, &x), QP_OK);
    qp_val rx;
    assert_int_equal(qp_val_new_node(g, x, &rx), QP_OK);
    assert_int_equal(qp_graph_add_module(g, "a", "nn.X", dict1(g, "ref", rx), &m),
                     QP_ERR_INVALID_ARG);
    assert_int_equal(qp_graph_num_modules(g), 0);
    m = mod(g, "a", "nn.X");
    assert_int_equal(qp_module_set_attr(g, m, "ref", rx), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_set_attr(g, m, "ref", QP_NULL_VAL), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_replace(g, m, "nn.Y", dict1(g, "ref", rx)), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_replace(g, m, "nn.Y", t), QP_ERR_INVALID_ARG);
    assert_string_equal(qp_module_type(g, m), "nn.X");
    assert_int_equal(qp_val_num_items(g, qp_module_attrs(g, m)), 0);
    qpt_done(g, &st);
}

static void
set_attr_replaces_in_place_or_appends(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module m = mod(g, "bn", "nn.BatchNorm2d");
    assert_int_equal(qp_module_set_attr(g, m, "eps", vint(g, 1)), QP_OK);
    assert_int_equal(qp_module_set_attr(g, m, "momentum", vint(g, 2)), QP_OK);
    qp_val before = qp_module_attrs(g, m);
    assert_int_equal(qp_module_set_attr(g, m, "eps", vint(g, 3)), QP_OK);
    qp_val attrs = qp_module_attrs(g, m);
    assert_int_equal(qp_val_num_items(g, attrs), 2);
    assert_string_equal(qp_val_key_at(g, attrs, 0), "eps");
    assert_string_equal(qp_val_key_at(g, attrs, 1), "momentum");
    assert_int_equal(qp_val_as_int(g, qp_module_attr(g, m, "eps")), 3);
    /* values are immutable: a handle to the old dict still reads the old value */
    assert_int_equal(qp_val_as_int(g, qp_val_dict_get(g, before, "eps")), 1);
    assert_int_equal(qp_module_set_attr(g, m, "bad key", vint(g, 1)), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_module_set_attr(g, m, NULL, vint(g, 1)), QP_ERR_NULL_ARG);
    /* a key that is not an identifier is quoted in text and reads back */
    assert_int_equal(qp_module_set_attr(g, m, "0:odd", vint(g, 4)), QP_OK);
    char *text = qpt_graph_text(g);
    assert_string_equal(text, "qgraph 1\nmodule bn nn.BatchNorm2d {eps: 3, momentum: 2, "
                              "\"0:odd\": 4}\n");
    test_free(text);
    round_trips(g, &st);
    qpt_done(g, &st);
}

static void
replace_changes_type_and_optionally_attrs(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val attrs = dict1(g, "k", vint(g, 1));
    qp_module m;
    assert_int_equal(qp_graph_add_module(g, "c", "nn.Conv2d", attrs, &m), QP_OK);
    assert_int_equal(qp_module_replace(g, m, "nniqat.ConvBnReLU2d", QP_NULL_VAL), QP_OK);
    assert_string_equal(qp_module_type(g, m), "nniqat.ConvBnReLU2d");
    assert_int_equal(qp_val_as_int(g, qp_module_attr(g, m, "k")), 1);
    assert_int_equal(qp_module_replace(g, m, "nn.Conv2d", dict1(g, "j", vint(g, 2))), QP_OK);
    assert_true(qp_val_is_null(qp_module_attr(g, m, "k")));
    assert_int_equal(qp_val_as_int(g, qp_module_attr(g, m, "j")), 2);
    assert_int_equal(qp_module_replace(g, m, "a b", QP_NULL_VAL), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_module_replace(g, m, NULL, QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_string_equal(qp_module_type(g, m), "nn.Conv2d");
    assert_int_equal(qp_graph_find_module(g, "c").id, m.id); /* same entry, same place */
    qpt_done(g, &st);
}

static void
remove_is_refused_while_a_node_calls_the_module(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module a = mod(g, "a", "nn.ReLU"), b = mod(g, "b", "nn.ReLU"), c = mod(g, "c", "nn.X");
    qp_node_spec s = {QP_OP_PLACEHOLDER, "x", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node x, n;
    assert_int_equal(qp_graph_insert_after(g, QP_NULL_NODE, &s, &x), QP_OK);
    qp_val rx, args;
    assert_int_equal(qp_val_new_node(g, x, &rx), QP_OK);
    assert_int_equal(qp_val_new_tuple(g, 1, &rx, &args), QP_OK);
    qp_node_spec call = {QP_OP_CALL_MODULE, "b", NULL, args, QP_NULL_VAL};
    assert_int_equal(qp_graph_insert_after(g, x, &call, &n), QP_OK);
    qp_node_spec o = {QP_OP_OUTPUT, "output", NULL, args, QP_NULL_VAL};
    qp_node out;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &o, &out), QP_OK);
    char *before = qpt_graph_text(g);
    assert_int_equal(qp_graph_remove_module(g, b), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_graph_errmsg(g), "'b'"));
    assert_non_null(strstr(qp_graph_errmsg(g), "%b"));
    assert_int_equal(qp_graph_errnode(g).id, n.id);
    char *after = qpt_graph_text(g);
    assert_string_equal(before, after);
    test_free(after);
    test_free(before);
    /* modules nobody calls go */
    assert_int_equal(qp_graph_remove_module(g, a), QP_OK);
    assert_int_equal(qp_graph_remove_module(g, c), QP_OK);
    expect_table(g, "b");
    assert_true(qp_module_is_null(qp_graph_find_module(g, "a")));
    assert_string_equal(qp_module_path(g, a), ""); /* a removed handle reads as nothing */
    assert_int_equal(qp_graph_remove_module(g, a), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_set_attr(g, a, "k", vint(g, 1)), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_replace(g, a, "nn.Y", QP_NULL_VAL), QP_ERR_INVALID_ARG);
    /* the caller erased: b goes too */
    assert_int_equal(qp_graph_erase_node(g, n), QP_OK);
    assert_int_equal(qp_graph_remove_module(g, b), QP_OK);
    assert_int_equal(qp_graph_num_modules(g), 0);
    assert_true(qp_module_is_null(qp_graph_first_module(g)));
    /* a path removed may be added again, as a new entry */
    qp_module a2 = mod(g, "a", "nn.Tanh");
    assert_true(a2.id != a.id);
    assert_int_equal(qp_graph_find_module(g, "a").id, a2.id);
    qpt_verify_ok(g);
    qpt_done(g, &st);
}

static void
user_data_and_origins_ride_on_modules(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module conv = mod(g, "conv", "nn.Conv2d"), bn = mod(g, "bn", "nn.BatchNorm2d");
    int uc, ub, ur;
    assert_null(qp_module_user_data(g, conv));
    assert_int_equal(qp_module_set_user_data(g, conv, &uc), QP_OK);
    assert_int_equal(qp_module_set_user_data(g, bn, &ub), QP_OK);
    assert_ptr_equal(qp_module_user_data(g, conv), &uc);
    assert_int_equal(qp_module_num_origins(g, conv), 0);
    assert_null(qp_module_origin_at(g, conv, 0));
    /* a fusion records what it absorbed, in pattern order */
    void *two[2] = {&uc, &ub};
    assert_int_equal(qp__mod_add_origins(g, conv.id, two, 2), QP_OK);
    void *one[1] = {&ur};
    assert_int_equal(qp__mod_add_origins(g, conv.id, one, 1), QP_OK);
    assert_int_equal(qp_module_num_origins(g, conv), 3);
    assert_ptr_equal(qp_module_origin_at(g, conv, 0), &uc);
    assert_ptr_equal(qp_module_origin_at(g, conv, 1), &ub);
    assert_ptr_equal(qp_module_origin_at(g, conv, 2), &ur);
    assert_null(qp_module_origin_at(g, conv, 3));
    assert_int_equal(qp__mod_add_origins(g, conv.id, NULL, 0), QP_OK);
    assert_int_equal(qp_module_num_origins(g, conv), 3);
    /* one module's origins handed to another: the source lives in the same array,
     * which grows (and, in tests, always moves) on the way */
    qp_module fused = mod(g, "fused", "nni.ConvBnReLU2d");
    for (int round = 0; round < 8; round++) {
        struct qp__origins src = qp__mod_origins(g, conv.id);
        assert_int_equal(qp__mod_add_origins(g, fused.id, &g->ptrs[src.first], src.n), QP_OK);
    }
    assert_int_equal(qp_module_num_origins(g, fused), 24);
    void *const cycle[3] = {&uc, &ub, &ur};
    for (uint32_t i = 0; i < 24; i++)
        assert_ptr_equal(qp_module_origin_at(g, fused, i), cycle[i % 3]);
    assert_int_equal(qp_module_num_origins(g, conv), 3);
    /* a clone keeps them */
    qp_graph *h;
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    assert_ptr_equal(qp_module_origin_at(h, fused, 23), &ur);
    assert_ptr_equal(qp_module_user_data(h, bn), &ub);
    qp_graph_destroy(h);
    /* null origins (modules without user pointers) take no room until a pointer
     * joins them, and then read as they were added */
    qp_module plain = mod(g, "plain", "nni.ConvReLU2d");
    uint32_t nptrs = g->nptrs;
    void *nulls[2] = {NULL, NULL};
    assert_int_equal(qp__mod_add_origins(g, plain.id, nulls, 2), QP_OK);
    assert_int_equal(qp__mod_add_origins(g, plain.id, nulls, 1), QP_OK);
    assert_int_equal(g->nptrs, nptrs);
    assert_int_equal(qp_module_num_origins(g, plain), 3);
    for (uint32_t i = 0; i < 4; i++)
        assert_null(qp_module_origin_at(g, plain, i));
    assert_int_equal(qp__mod_add_origins(g, plain.id, one, 1), QP_OK);
    assert_int_equal(qp_module_num_origins(g, plain), 4);
    for (uint32_t i = 0; i < 3; i++)
        assert_null(qp_module_origin_at(g, plain, i));
    assert_ptr_equal(qp_module_origin_at(g, plain, 3), &ur);
    /* bad handles */
    assert_int_equal(qp_module_set_user_data(g, QP_NULL_MODULE, &uc), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_set_user_data(g, (qp_module){g->nmods}, &uc), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_module_set_user_data(NULL, conv, &uc), QP_ERR_NULL_ARG);
    assert_null(qp_module_user_data(g, (qp_module){g->nmods + 3}));
    assert_int_equal(qp_module_num_origins(g, (qp_module){g->nmods}), 0);
    qpt_done(g, &st);
}

static void
submodules_are_placed_after_their_parent_subtree(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_module a = mod(g, "a", "nn.X");
    mod(g, "a.b", "nn.X");
    qp_module abc = mod(g, "a.b.c", "nn.X");
    qp_module ab2 = mod(g, "ab", "nn.X"); /* not under "a": "ab" is a different name */
    mod(g, "c", "nn.X");
    assert_int_equal(qp__mod_subtree_end(g, a.id), abc.id);
    assert_int_equal(qp__mod_subtree_end(g, ab2.id), ab2.id);
    uint32_t t, p, id;
    assert_int_equal(qp__sym_intern(g, "nn.Y", 4, &t), QP_OK);
    assert_int_equal(qp__sym_intern(g, "a.fq", 4, &p), QP_OK);
    assert_int_equal(qp__mod_add(g, p, t, 0, qp__mod_subtree_end(g, a.id), &id), QP_OK);
    expect_table(g, "a a.b a.b.c a.fq ab c");
    assert_int_equal(qp_graph_find_module(g, "a.fq").id, id);
    round_trips(g, &st);
    qpt_done(g, &st);
}

static void
parameters_are_kept_in_table_order(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val shape, dims[2] = {vint(g, 1), vint(g, 8)};
    assert_int_equal(qp_val_new_tuple(g, 2, dims, &shape), QP_OK);
    assert_int_equal(qp_graph_add_param(g, "position_ids", dict1(g, "shape", shape)), QP_OK);
    assert_int_equal(qp_graph_add_param(g, "layer1.0.weight", QP_NULL_VAL), QP_OK);
    assert_int_equal(qp_graph_num_params(g), 2);
    assert_string_equal(qp_graph_param_name(g, 0), "position_ids");
    assert_string_equal(qp_graph_param_name(g, 1), "layer1.0.weight");
    assert_null(qp_graph_param_name(g, 2));
    assert_true(qp_val_equal(g, qp_val_dict_get(g, qp_graph_param_attrs(g, 0), "shape"), shape));
    assert_int_equal(qp_val_num_items(g, qp_graph_param_attrs(g, 1)), 0);
    assert_true(qp_val_is_null(qp_graph_param_attrs(g, 2)));
    assert_int_equal(qp_graph_add_param(g, "position_ids", QP_NULL_VAL), QP_ERR_DUP_NAME);
    assert_int_equal(qp_graph_add_param(g, "a b", QP_NULL_VAL), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_graph_add_param(g, "", QP_NULL_VAL), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_graph_add_param(g, "w\xff", QP_NULL_VAL), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_graph_add_param(g, NULL, QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_add_param(g, "w", shape), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_graph_add_param(NULL, "w", QP_NULL_VAL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_num_params(g), 2);
    char *text = qpt_graph_text(g);
    assert_string_equal(text, "qgraph 1\nattr position_ids {shape: (1, 8)}\n"
                              "attr layer1.0.weight {}\n");
    test_free(text);
    round_trips(g, &st);
    qpt_done(g, &st);
}

static void
comments_are_single_readable_lines(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    assert_int_equal(qp_graph_add_comment(g, "model seednet"), QP_OK);
    assert_int_equal(qp_graph_add_comment(g, "#raw"), QP_OK);
    assert_int_equal(qp_graph_add_comment(g, ""), QP_OK);
    assert_int_equal(qp_graph_add_comment(g, "tab\there caf\xc3\xa9"), QP_OK);
    assert_int_equal(qp_graph_num_comments(g), 4);
    assert_string_equal(qp_graph_comment_at(g, 0), "# model seednet");
    assert_string_equal(qp_graph_comment_at(g, 1), "#raw");
    assert_string_equal(qp_graph_comment_at(g, 2), "# ");
    assert_null(qp_graph_comment_at(g, 4));
    /* what the reader would refuse is refused here */
    static const char *const bad[] = {"two\nlines", "cr\r",    "bell\a",  "del\x7f",
                                      "bad\xff",    "cut\xc3", "\xc0\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(qp_graph_add_comment(g, bad[i]), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_graph_add_comment(g, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_add_comment(NULL, "x"), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_num_comments(g), 4);
    char *text = qpt_graph_text(g);
    assert_string_equal(text, "qgraph 1\n# model seednet\n#raw\n# \n# tab\there caf\xc3\xa9\n");
    test_free(text);
    /* the reader keeps them */
    qp_node_spec s = {QP_OP_PLACEHOLDER, "x", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node x;
    assert_int_equal(qp_graph_insert_after(g, QP_NULL_NODE, &s, &x), QP_OK);
    round_trips(g, &st);
    qpt_done(g, &st);
}

/* Derived syms (observer paths prepare made) whose bytes are written / not yet. */
static void
count_derived(const qp_graph *g, uint32_t *derived, uint32_t *written)
{
    *derived = *written = 0;
    for (uint32_t i = 1; i < g->st.n; i++)
        if (g->st.syms[i].node & QP__SYM_DERIVED) {
            (*derived)++;
            *written += (g->st.syms[i].node & QP__SYM_WRITTEN) != 0;
        }
}

static void
observers_prepare_made_read_as_their_full_paths(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    char *in = qpt_read_file("fixtures/branchnet.in.qg", NULL);
    qp_graph *g = qpt_parse(in, &a), *h = NULL;
    test_free(in);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    uint32_t nder, nwritten;
    count_derived(g, &nder, &nwritten);
    assert_true(nder > 0);
    assert_int_equal(nwritten, 0); /* prepare itself reads none of them */
    /* their paths are taken */
    static const char *const taken[] = {"c0.weight_fake_quant.activation_post_process",
                                        "x_post_act_fake_quantizer.activation_post_process"};
    qp_module m;
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(qp_graph_add_module(g, taken[i], "nn.X", QP_NULL_VAL, &m),
                         QP_ERR_DUP_NAME);
    /* the writer and a clone write them without writing them into the graph */
    char *text = qpt_graph_text(g);
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    char *ctext = qpt_graph_text(h);
    assert_string_equal(ctext, text);
    test_free(ctext);
    qp_graph_destroy(h);
    count_derived(g, &nder, &nwritten);
    assert_int_equal(nwritten, 0);
    /* every module the text lists is found by its path, before and after that
     * path is read, and reads back as it */
    uint32_t found = 0, obs = 0;
    for (const char *line = text; (line = strstr(line, "\nmodule ")) != NULL; line++) {
        const char *p = line + 8, *e = strchr(p, ' ');
        char path[256];
        assert_true(e && (size_t)(e - p) < sizeof path);
        memcpy(path, p, (size_t)(e - p));
        path[e - p] = 0;
        m = qp_graph_find_module(g, path);
        assert_false(qp_module_is_null(m));
        assert_string_equal(qp_module_path(g, m), path);
        assert_int_equal(qp_graph_find_module(g, path).id, m.id);
        assert_int_equal(strncmp(qp_module_type(g, m), e + 1, strlen(qp_module_type(g, m))), 0);
        obs += strstr(path, ".activation_post_process") != NULL;
        found++;
    }
    assert_int_equal(found, qp_graph_num_modules(g));
    count_derived(g, &nder, &nwritten);
    assert_int_equal(obs, nder);
    assert_int_equal(nwritten, nder);
    char *again = qpt_graph_text(g);
    assert_string_equal(again, text);
    test_free(again);
    /* a prefix of an observer's path, or its path and more, is no module */
    assert_true(qp_module_is_null(qp_graph_find_module(g, "c0.weight_fake_quant.activation")));
    assert_true(qp_module_is_null(
        qp_graph_find_module(g, "c0.weight_fake_quant.activation_post_process.x")));
    assert_true(qp_module_is_null(qp_graph_find_module(g, "nope.activation_post_process")));
    test_free(text);
    qpt_done(g, &st);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modules_are_found_by_path_in_table_order),
        cmocka_unit_test(module_paths_and_types_are_bounded_words),
        cmocka_unit_test(module_attributes_are_a_dict_without_nodes),
        cmocka_unit_test(set_attr_replaces_in_place_or_appends),
        cmocka_unit_test(replace_changes_type_and_optionally_attrs),
        cmocka_unit_test(remove_is_refused_while_a_node_calls_the_module),
        cmocka_unit_test(user_data_and_origins_ride_on_modules),
        cmocka_unit_test(submodules_are_placed_after_their_parent_subtree),
        cmocka_unit_test(parameters_are_kept_in_table_order),
        cmocka_unit_test(comments_are_single_readable_lines),
        cmocka_unit_test(observers_prepare_made_read_as_their_full_paths),
    };
    return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
