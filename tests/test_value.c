/*
 * test_value.c - the value pool (value.c): every constructor and accessor,
 * identifier and dict-key rules, the nesting limit, equality, and copies.
 */
#include "testlib.h"

#include <math.h>
#include <string.h>

static qp_val
vint(qp_graph *g, int64_t i)
{
    qp_val v;
    assert_int_equal(qp_val_new_int(g, i, &v), QP_OK);
    return v;
}

static qp_val
vfloat(qp_graph *g, double f)
{
    qp_val v;
    assert_int_equal(qp_val_new_float(g, f, &v), QP_OK);
    return v;
}

static qp_val
vstr(qp_graph *g, const char *s)
{
    qp_val v;
    assert_int_equal(qp_val_new_str(g, s, strlen(s), &v), QP_OK);
    return v;
}

static qp_val
vtuple(qp_graph *g, uint32_t n, const qp_val *items)
{
    qp_val v;
    assert_int_equal(qp_val_new_tuple(g, n, items, &v), QP_OK);
    return v;
}

static qp_node
placeholder(qp_graph *g, const char *name)
{
    qp_node_spec s = {QP_OP_PLACEHOLDER, name, NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node n;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &n), QP_OK);
    return n;
}

static void
scalars_read_back_what_was_built(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val v;
    assert_int_equal(qp_val_new_none(g, &v), QP_OK);
    assert_int_equal(qp_val_kind_of(g, v), QP_VAL_NONE);

    assert_int_equal(qp_val_new_bool(g, true, &v), QP_OK);
    assert_int_equal(qp_val_kind_of(g, v), QP_VAL_BOOL);
    assert_true(qp_val_as_bool(g, v));
    assert_int_equal(qp_val_as_int(g, v), 1);
    assert_int_equal(qp_val_new_bool(g, false, &v), QP_OK);
    assert_false(qp_val_as_bool(g, v));

    static const int64_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        v = vint(g, ints[i]);
        assert_int_equal(qp_val_kind_of(g, v), QP_VAL_INT);
        assert_true(qp_val_as_int(g, v) == ints[i]);
        assert_true(qp_val_as_float(g, v) == (double)ints[i]); /* INT converts */
        assert_false(qp_val_as_bool(g, v));
    }

    static const double flts[] = {0.0, -0.0, 0.1, -2.5, 1e308, 5e-324, HUGE_VAL, -HUGE_VAL};
    for (size_t i = 0; i < sizeof flts / sizeof flts[0]; i++) {
        v = vfloat(g, flts[i]);
        assert_int_equal(qp_val_kind_of(g, v), QP_VAL_FLOAT);
        double d = qp_val_as_float(g, v);
        assert_memory_equal(&d, &flts[i], sizeof d); /* bit for bit, sign of zero too */
        assert_int_equal(qp_val_as_int(g, v), 0);
    }
    v = vfloat(g, NAN);
    assert_true(isnan(qp_val_as_float(g, v)));

    /* strings are bytes with a length: NUL and non-UTF-8 bytes are kept */
    assert_int_equal(qp_val_new_str(g, "a\0b\xff", 4, &v), QP_OK);
    assert_int_equal(qp_val_kind_of(g, v), QP_VAL_STR);
    size_t len = 0;
    const char *s = qp_val_as_str(g, v, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(s, "a\0b\xff", 5);
    assert_int_equal(qp_val_new_str(g, NULL, 0, &v), QP_OK);
    assert_string_equal(qp_val_as_str(g, v, &len), "");
    assert_int_equal(len, 0);

    assert_int_equal(qp_val_new_ident(g, "torch.float32", &v), QP_OK);
    assert_int_equal(qp_val_kind_of(g, v), QP_VAL_IDENT);
    assert_string_equal(qp_val_as_str(g, v, &len), "torch.float32");
    assert_int_equal(len, 13);

    qp_node x = placeholder(g, "x");
    assert_int_equal(qp_val_new_node(g, x, &v), QP_OK);
    assert_int_equal(qp_val_kind_of(g, v), QP_VAL_NODE);
    assert_int_equal(qp_val_as_node(g, v).id, x.id);
    qpt_done(g, &st);
}

static void
accessors_on_the_wrong_kind_return_nothing(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val s = vstr(g, "text"), i = vint(g, 3), t = vtuple(g, 1, &i);
    size_t len = 99;
    assert_null(qp_val_as_str(g, i, &len));
    assert_int_equal(len, 0);
    assert_null(qp_val_as_str(g, t, NULL));
    assert_int_equal(qp_val_as_int(g, s), 0);
    assert_true(qp_val_as_float(g, s) == 0.0);
    assert_false(qp_val_as_bool(g, s));
    assert_true(qp_node_is_null(qp_val_as_node(g, s)));
    assert_int_equal(qp_val_num_items(g, s), 0);
    assert_true(qp_val_is_null(qp_val_item_at(g, s, 0)));
    assert_null(qp_val_key_at(g, t, 0));
    assert_true(qp_val_is_null(qp_val_dict_get(g, t, "k")));
    /* the null handle and handles past the pool */
    qp_val bad = {g->nvals + 5};
    assert_int_equal(qp_val_kind_of(g, QP_NULL_VAL), QP_VAL_KIND_COUNT);
    assert_int_equal(qp_val_kind_of(g, bad), QP_VAL_KIND_COUNT);
    assert_int_equal(qp_val_kind_of(NULL, i), QP_VAL_KIND_COUNT);
    assert_int_equal(qp_val_num_items(g, bad), 0);
    assert_null(qp_val_as_str(g, bad, NULL));
    qpt_done(g, &st);
}

static void
identifiers_follow_the_identifier_rule(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    static const char *const good[] = {"torch.float32", "_x", "Ellipsis", "a1.b_2", "x.",
                                       "inf_", "nan.x", "Truex", "None_"};
    static const char *const bad[] = {"", "1a", "a b", "a-b", ".x", "True", "False", "None",
                                      "inf", "nan", "a(b", "\xc3\xa9"};
    qp_val v;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(qp_val_new_ident(g, good[i], &v), QP_OK);
        assert_string_equal(qp_val_as_str(g, v, NULL), good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v.id = 5;
        assert_int_equal(qp_val_new_ident(g, bad[i], &v), QP_ERR_INVALID_NAME);
        assert_true(qp_val_is_null(v));
    }
    assert_int_equal(qp_val_new_ident(g, NULL, &v), QP_ERR_NULL_ARG);
    char *longname = test_malloc(QP_MAX_NAME + 2);
    memset(longname, 'a', QP_MAX_NAME + 1);
    longname[QP_MAX_NAME + 1] = 0;
    assert_int_equal(qp_val_new_ident(g, longname, &v), QP_ERR_INVALID_NAME);
    longname[QP_MAX_NAME] = 0;
    assert_int_equal(qp_val_new_ident(g, longname, &v), QP_OK);
    test_free(longname);
    qpt_done(g, &st);
}

static void
call_names_follow_the_identifier_rule(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val none, items[3], v;
    assert_int_equal(qp_val_new_none(g, &none), QP_OK);
    items[0] = none;
    items[1] = vint(g, 16);
    items[2] = none;
    assert_int_equal(qp_val_new_call(g, "slice", 3, items, &v), QP_OK);
    assert_int_equal(qp_val_kind_of(g, v), QP_VAL_CALL);
    assert_string_equal(qp_val_as_str(g, v, NULL), "slice");
    assert_int_equal(qp_val_num_items(g, v), 3);
    assert_int_equal(qp_val_as_int(g, qp_val_item_at(g, v, 1)), 16);
    assert_int_equal(qp_val_new_call(g, "torch.device", 0, NULL, &v), QP_OK);
    assert_int_equal(qp_val_num_items(g, v), 0);
    /* a call named like a literal would read back as that literal */
    static const char *const bad[] = {"", "1x", "a b", "True", "False", "None", "inf", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(qp_val_new_call(g, bad[i], 1, items, &v), QP_ERR_INVALID_NAME);
    assert_int_equal(qp_val_new_call(g, NULL, 0, NULL, &v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_call(g, "f", 2, NULL, &v), QP_ERR_NULL_ARG);
    qpt_done(g, &st);
}

static void
tuples_and_lists_keep_item_order(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val items[4] = {vint(g, 1), vstr(g, "two"), vfloat(g, 3.5), QP_NULL_VAL};
    assert_int_equal(qp_val_new_none(g, &items[3]), QP_OK);
    qp_val t = vtuple(g, 4, items), l;
    assert_int_equal(qp_val_new_list(g, 4, items, &l), QP_OK);
    assert_int_equal(qp_val_kind_of(g, t), QP_VAL_TUPLE);
    assert_int_equal(qp_val_kind_of(g, l), QP_VAL_LIST);
    for (uint32_t i = 0; i < 4; i++) {
        assert_true(qp_val_equal(g, qp_val_item_at(g, t, i), items[i]));
        assert_true(qp_val_equal(g, qp_val_item_at(g, l, i), items[i]));
    }
    assert_int_equal(qp_val_num_items(g, t), 4);
    assert_true(qp_val_is_null(qp_val_item_at(g, t, 4)));
    assert_true(qp_val_is_null(qp_val_item_at(g, t, UINT32_MAX)));
    qp_val e;
    assert_int_equal(qp_val_new_tuple(g, 0, NULL, &e), QP_OK);
    assert_int_equal(qp_val_num_items(g, e), 0);
    assert_int_equal(qp_val_new_list(g, 0, NULL, &e), QP_OK);
    assert_int_equal(qp_val_kind_of(g, e), QP_VAL_LIST);
    /* items must be values of this graph */
    qp_val bad[2] = {vint(g, 1), {g->nvals + 10}};
    e.id = 9;
    assert_int_equal(qp_val_new_tuple(g, 2, bad, &e), QP_ERR_INVALID_ARG);
    assert_true(qp_val_is_null(e));
    bad[1] = QP_NULL_VAL;
    assert_int_equal(qp_val_new_list(g, 2, bad, &e), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_val_new_tuple(g, 1, NULL, &e), QP_ERR_NULL_ARG);
    qpt_done(g, &st);
}

static void
dict_keys_are_distinct_words(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val items[3] = {vint(g, 1), vint(g, 2), vint(g, 3)};
    const char *keys[3] = {"dim", "keepdim", "out"};
    qp_val d;
    assert_int_equal(qp_val_new_dict(g, 3, keys, items, &d), QP_OK);
    assert_int_equal(qp_val_kind_of(g, d), QP_VAL_DICT);
    assert_int_equal(qp_val_num_items(g, d), 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_string_equal(qp_val_key_at(g, d, i), keys[i]);
        assert_int_equal(qp_val_as_int(g, qp_val_item_at(g, d, i)), i + 1);
        assert_int_equal(qp_val_as_int(g, qp_val_dict_get(g, d, keys[i])), i + 1);
    }
    assert_null(qp_val_key_at(g, d, 3));
    assert_true(qp_val_is_null(qp_val_dict_get(g, d, "absent")));
    assert_true(qp_val_is_null(qp_val_dict_get(g, d, "")));
    assert_true(qp_val_is_null(qp_val_dict_get(g, d, NULL)));
    /* any non-empty key without white space: the writer quotes what is not a word */
    const char *odd[3] = {"0", "a-b", "x:y"};
    assert_int_equal(qp_val_new_dict(g, 3, odd, items, &d), QP_OK);
    assert_string_equal(qp_val_key_at(g, d, 2), "x:y");

    static const char *const badkeys[] = {"", "a b", "a\tb", "a\n", "\rx"};
    for (size_t i = 0; i < sizeof badkeys / sizeof badkeys[0]; i++) {
        const char *k[2] = {"ok", badkeys[i]};
        d.id = 3;
        assert_int_equal(qp_val_new_dict(g, 2, k, items, &d), QP_ERR_INVALID_NAME);
        assert_true(qp_val_is_null(d));
    }
    const char *dup[3] = {"a", "b", "a"};
    assert_int_equal(qp_val_new_dict(g, 3, dup, items, &d), QP_ERR_DUP_NAME);
    assert_non_null(strstr(qp_graph_errmsg(g), "'a'"));
    const char *nullkey[2] = {"a", NULL};
    assert_int_equal(qp_val_new_dict(g, 2, nullkey, items, &d), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_dict(g, 2, NULL, items, &d), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_dict(g, 2, keys, NULL, &d), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_dict(g, 0, NULL, NULL, &d), QP_OK);
    assert_int_equal(qp_val_num_items(g, d), 0);

    char *longkey = test_malloc(QP_MAX_NAME + 2);
    memset(longkey, 'k', QP_MAX_NAME + 1);
    longkey[QP_MAX_NAME + 1] = 0;
    const char *lk[1] = {longkey};
    assert_int_equal(qp_val_new_dict(g, 1, lk, items, &d), QP_ERR_INVALID_NAME);
    longkey[QP_MAX_NAME] = 0;
    assert_int_equal(qp_val_new_dict(g, 1, lk, items, &d), QP_OK);
    test_free(longkey);

    /* many keys: the duplicate check is not limited to small dicts */
    enum { N = 300 };
    const char **many = test_malloc(N * sizeof *many);
    char(*names)[16] = test_malloc(N * sizeof *names);
    qp_val *vals = test_malloc(N * sizeof *vals);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        many[i] = names[i];
        vals[i] = items[0];
    }
    assert_int_equal(qp_val_new_dict(g, N, many, vals, &d), QP_OK);
    assert_int_equal(qp_val_num_items(g, d), N);
    many[N - 1] = names[17];
    assert_int_equal(qp_val_new_dict(g, N, many, vals, &d), QP_ERR_DUP_NAME);
    test_free(vals);
    test_free(names);
    test_free(many);
    qpt_done(g, &st);
}

/* n containers around an int: n tuples. */
static qp_status
nest(qp_graph *g, int n, qp_val *out)
{
    qp_val v = vint(g, 7);
    for (int i = 0; i < n; i++) {
        qp_status rc = qp_val_new_tuple(g, 1, &v, &v);
        if (rc)
            return rc;
    }
    *out = v;
    return QP_OK;
}

static void
values_nest_at_most_64_deep(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* FORMAT.md: a value inside args (or kwargs, or attributes) is at most 64 deep,
     * so a tuple of args holds 63 containers around a scalar (the text
     * "(((...(7,)...),),)" with 64 parentheses pairs in all) */
    qp_val v, args;
    assert_int_equal(nest(g, 63, &v), QP_OK);
    assert_int_equal(qp_val_new_tuple(g, 1, &v, &args), QP_OK);
    qp_node_spec s = {QP_OP_PLACEHOLDER, "x", NULL, args, QP_NULL_VAL};
    qp_node x;
    assert_int_equal(qp_graph_insert_after(g, QP_NULL_NODE, &s, &x), QP_OK);
    /* one more container is too deep, whatever kind it is */
    qp_val w;
    assert_int_equal(qp_val_new_tuple(g, 1, &args, &w), QP_ERR_LIMIT);
    assert_true(qp_val_is_null(w));
    assert_non_null(strstr(qp_graph_errmsg(g), "nested"));
    assert_int_equal(qp_val_new_list(g, 1, &args, &w), QP_ERR_LIMIT);
    const char *k[1] = {"k"};
    assert_int_equal(qp_val_new_dict(g, 1, k, &args, &w), QP_ERR_LIMIT);
    assert_int_equal(qp_val_new_call(g, "f", 1, &args, &w), QP_ERR_LIMIT);
    /* but an empty container at the bottom counts as a level of its own */
    qp_val e;
    assert_int_equal(qp_val_new_tuple(g, 0, NULL, &e), QP_OK);
    for (int i = 0; i < 64; i++)
        assert_int_equal(qp_val_new_tuple(g, 1, &e, &e), QP_OK);
    assert_int_equal(qp_val_new_tuple(g, 1, &e, &w), QP_ERR_LIMIT);
    /* the same limit for a module attribute set after the fact */
    qp_module m;
    assert_int_equal(qp_graph_add_module(g, "m", "nn.Identity", QP_NULL_VAL, &m), QP_OK);
    assert_int_equal(qp_module_set_attr(g, m, "deep", v), QP_OK);
    assert_int_equal(qp_module_set_attr(g, m, "deeper", args), QP_ERR_LIMIT);
    assert_true(qp_val_is_null(qp_module_attr(g, m, "deeper")));
    /* a failed constructor leaves the error; the graph verifies */
    qp_node_spec o = {QP_OP_OUTPUT, "output", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_val ref;
    assert_int_equal(qp_val_new_node(g, x, &ref), QP_OK);
    assert_int_equal(qp_val_new_tuple(g, 1, &ref, &o.args), QP_OK);
    qp_node out;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &o, &out), QP_OK);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    qpt_done(g, &st);
}

static void
equality_compares_values_not_handles(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val t, f, n1, n2;
    assert_int_equal(qp_val_new_bool(g, true, &t), QP_OK);
    assert_int_equal(qp_val_new_bool(g, false, &f), QP_OK);
    assert_int_equal(qp_val_new_none(g, &n1), QP_OK);
    assert_int_equal(qp_val_new_none(g, &n2), QP_OK);
    assert_true(qp_val_equal(g, n1, n2));
    assert_false(qp_val_equal(g, t, f));
    assert_true(qp_val_equal(g, vint(g, 5), vint(g, 5)));
    assert_false(qp_val_equal(g, vint(g, 5), vint(g, 6)));
    /* kinds must match, as in qgraph.py: 1 is not 1.0, True is not 1 */
    assert_false(qp_val_equal(g, vint(g, 1), vfloat(g, 1.0)));
    assert_false(qp_val_equal(g, vint(g, 1), t));
    /* floats by value: NaN equals NaN, -0.0 equals 0.0 */
    assert_true(qp_val_equal(g, vfloat(g, NAN), vfloat(g, -NAN)));
    assert_true(qp_val_equal(g, vfloat(g, 0.0), vfloat(g, -0.0)));
    assert_false(qp_val_equal(g, vfloat(g, 0.1), vfloat(g, nextafter(0.1, 1.0))));
    assert_false(qp_val_equal(g, vfloat(g, NAN), vfloat(g, 1.0)));
    assert_true(qp_val_equal(g, vfloat(g, HUGE_VAL), vfloat(g, HUGE_VAL)));
    /* strings by bytes; an identifier is not a string */
    qp_val id;
    assert_int_equal(qp_val_new_ident(g, "abc", &id), QP_OK);
    assert_true(qp_val_equal(g, vstr(g, "abc"), vstr(g, "abc")));
    assert_false(qp_val_equal(g, vstr(g, "abc"), id));
    qp_val s1, s2;
    assert_int_equal(qp_val_new_str(g, "a\0b", 3, &s1), QP_OK);
    assert_int_equal(qp_val_new_str(g, "a\0c", 3, &s2), QP_OK);
    assert_false(qp_val_equal(g, s1, s2));
    /* aggregates: kind, length and items */
    qp_val a[2] = {vint(g, 1), vstr(g, "x")}, b[2] = {vint(g, 1), vstr(g, "x")};
    qp_val ta = vtuple(g, 2, a), tb = vtuple(g, 2, b), la, tc = vtuple(g, 1, a);
    assert_int_equal(qp_val_new_list(g, 2, a, &la), QP_OK);
    assert_true(qp_val_equal(g, ta, tb));
    assert_false(qp_val_equal(g, ta, la));
    assert_false(qp_val_equal(g, ta, tc));
    qp_val nested1 = vtuple(g, 1, &ta), nested2 = vtuple(g, 1, &tb);
    assert_true(qp_val_equal(g, nested1, nested2));
    /* dicts: same keys with equal values, in any order (a Python dict) */
    const char *k1[2] = {"x", "y"}, *k2[2] = {"y", "x"}, *k3[2] = {"x", "z"};
    qp_val v12[2] = {vint(g, 1), vint(g, 2)}, v21[2] = {vint(g, 2), vint(g, 1)};
    qp_val d1, d2, d3, d4;
    assert_int_equal(qp_val_new_dict(g, 2, k1, v12, &d1), QP_OK);
    assert_int_equal(qp_val_new_dict(g, 2, k2, v21, &d2), QP_OK);
    assert_int_equal(qp_val_new_dict(g, 2, k3, v12, &d3), QP_OK);
    assert_int_equal(qp_val_new_dict(g, 2, k2, v12, &d4), QP_OK);
    assert_true(qp_val_equal(g, d1, d2));
    assert_true(qp_val_equal(g, d2, d1));
    assert_false(qp_val_equal(g, d1, d3));
    assert_false(qp_val_equal(g, d1, d4));
    /* calls: the name counts */
    qp_val c1, c2, c3;
    assert_int_equal(qp_val_new_call(g, "slice", 2, a, &c1), QP_OK);
    assert_int_equal(qp_val_new_call(g, "slice", 2, b, &c2), QP_OK);
    assert_int_equal(qp_val_new_call(g, "range", 2, b, &c3), QP_OK);
    assert_true(qp_val_equal(g, c1, c2));
    assert_false(qp_val_equal(g, c1, c3));
    assert_false(qp_val_equal(g, c1, ta));
    /* node references by node */
    qp_node x = placeholder(g, "x"), y = placeholder(g, "y");
    qp_val rx1, rx2, ry;
    assert_int_equal(qp_val_new_node(g, x, &rx1), QP_OK);
    assert_int_equal(qp_val_new_node(g, x, &rx2), QP_OK);
    assert_int_equal(qp_val_new_node(g, y, &ry), QP_OK);
    assert_true(qp_val_equal(g, rx1, rx2));
    assert_false(qp_val_equal(g, rx1, ry));
    /* invalid handles are equal to nothing */
    assert_false(qp_val_equal(g, QP_NULL_VAL, QP_NULL_VAL));
    assert_false(qp_val_equal(g, ta, (qp_val){g->nvals}));
    assert_false(qp_val_equal(NULL, ta, ta));
    qpt_done(g, &st);
}

static void
aggregates_copy_their_items(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = placeholder(g, "x");
    qp_val rx, one = vint(g, 1);
    assert_int_equal(qp_val_new_node(g, x, &rx), QP_OK);
    qp_val items[2] = {rx, one};
    qp_val args = vtuple(g, 2, items);
    /* the same args value used by two nodes: each node gets its own references */
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.add", NULL, args, QP_NULL_VAL};
    qp_node a, b;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &a), QP_OK);
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &b), QP_OK);
    assert_string_equal(qp_node_name(g, a), "add");
    assert_string_equal(qp_node_name(g, b), "add_1");
    assert_int_equal(qp_node_num_users(g, x), 2);
    assert_true(qp_node_args(g, a).id != args.id);
    assert_true(qp_val_equal(g, qp_node_args(g, a), args));
    assert_true(qp_val_equal(g, qp_node_args(g, b), args));
    /* a tuple made of one node's args, and the same sub-tuple twice */
    qp_val twice[2] = {qp_node_args(g, a), qp_node_args(g, a)};
    qp_val t2 = vtuple(g, 2, twice);
    s.args = t2;
    qp_node c;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &c), QP_OK);
    assert_int_equal(qp_node_num_users(g, x), 3);
    /* the values given stay usable and unchanged */
    assert_true(qp_val_equal(g, qp_val_item_at(g, args, 0), rx));
    assert_int_equal(qp_val_as_node(g, qp_val_item_at(g, t2, 1)).id, 0); /* a tuple */
    qp_node_spec o = {QP_OP_OUTPUT, "output", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_val refs[3];
    assert_int_equal(qp_val_new_node(g, a, &refs[0]), QP_OK);
    assert_int_equal(qp_val_new_node(g, b, &refs[1]), QP_OK);
    assert_int_equal(qp_val_new_node(g, c, &refs[2]), QP_OK);
    qp_val r3 = vtuple(g, 3, refs);
    o.args = vtuple(g, 1, &r3);
    qp_node out;
    assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &o, &out), QP_OK);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    /* a deep copy is equal and shares no records */
    uint32_t cp = qp__val_copy(g, qp_node_args(g, c).id);
    assert_true(cp != 0);
    assert_true(qp__val_equal(g, cp, qp_node_args(g, c).id));
    assert_true(g->vals[cp].a != g->vals[qp_node_args(g, c).id].a);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    qpt_done(g, &st);
}

static void
node_values_need_a_live_node(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_node x = placeholder(g, "x");
    qp_val v;
    v.id = 4;
    assert_int_equal(qp_val_new_node(g, QP_NULL_NODE, &v), QP_ERR_INVALID_ARG);
    assert_true(qp_val_is_null(v));
    assert_int_equal(qp_val_new_node(g, (qp_node){x.id + 1}, &v), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_val_new_node(g, (qp_node){UINT32_MAX}, &v), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_graph_erase_node(g, x), QP_OK);
    assert_int_equal(qp_val_new_node(g, x, &v), QP_ERR_INVALID_ARG);
    qpt_done(g, &st);
}

static void
handles_survive_pool_growth(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    enum { N = 100000 };
    qp_val first = vint(g, -1), s = vstr(g, "kept");
    struct qp__val *rec0 = &g->vals[first.id];
    qp_val prev = first;
    for (int i = 0; i < N; i++) {
        qp_val pair[2] = {prev, vint(g, i)};
        assert_int_equal(qp_val_new_list(g, 2, pair, &prev), QP_OK);
        if (i % 50 == 0)
            prev = vint(g, i); /* keep the depth small */
    }
    assert_true(rec0 != &g->vals[first.id]); /* the pool moved ... */
    assert_int_equal(qp_val_as_int(g, first), -1); /* ... the handles did not */
    assert_string_equal(qp_val_as_str(g, s, NULL), "kept");
    qpt_done(g, &st);
}

static void
constructors_need_a_graph_and_an_out_param(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val v = {7};
    assert_int_equal(qp_val_new_none(NULL, &v), QP_ERR_NULL_ARG);
    assert_true(qp_val_is_null(v));
    assert_int_equal(qp_val_new_none(g, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_bool(g, true, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_int(g, 1, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_float(g, 1, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_str(g, "a", 1, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_str(g, NULL, 1, &v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_ident(g, "a", NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_node(g, QP_NULL_NODE, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_tuple(g, 0, NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_list(g, 0, NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_dict(g, 0, NULL, NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_call(g, "f", 0, NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_int(NULL, 1, &v), QP_ERR_NULL_ARG);
    assert_int_equal(qp_val_new_tuple(NULL, 0, NULL, &v), QP_ERR_NULL_ARG);
    qpt_done(g, &st);
}

static void
constructors_fail_cleanly_without_memory(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* fill the pool to its capacity so the next value must grow it */
    while (g->nvals < g->capvals)
        vint(g, 0);
    uint32_t nvals = g->nvals;
    qp_val v = {1};
    st.fail_at = st.calls + 1;
    assert_int_equal(qp_val_new_int(g, 5, &v), QP_ERR_NOMEM);
    assert_true(qp_val_is_null(v));
    st.fail_at = st.calls + 1;
    assert_int_equal(qp_val_new_str(g, "fresh", 5, &v), QP_ERR_NOMEM);
    st.fail_at = st.calls + 1;
    qp_val items[1] = {{nvals - 1}};
    assert_int_equal(qp_val_new_tuple(g, 1, items, &v), QP_ERR_NOMEM);
    st.fail_at = st.calls + 1;
    const char *k[1] = {"key"};
    assert_int_equal(qp_val_new_dict(g, 1, k, items, &v), QP_ERR_NOMEM);
    st.fail_at = 0;
    assert_int_equal(g->nvals, nvals);
    assert_int_equal(qp_val_new_int(g, 5, &v), QP_OK);
    qpt_done(g, &st);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_read_back_what_was_built),
        cmocka_unit_test(accessors_on_the_wrong_kind_return_nothing),
        cmocka_unit_test(identifiers_follow_the_identifier_rule),
        cmocka_unit_test(call_names_follow_the_identifier_rule),
        cmocka_unit_test(tuples_and_lists_keep_item_order),
        cmocka_unit_test(dict_keys_are_distinct_words),
        cmocka_unit_test(values_nest_at_most_64_deep),
        cmocka_unit_test(equality_compares_values_not_handles),
        cmocka_unit_test(aggregates_copy_their_items),
        cmocka_unit_test(node_values_need_a_live_node),
        cmocka_unit_test(handles_survive_pool_growth),
        cmocka_unit_test(constructors_need_a_graph_and_an_out_param),
        cmocka_unit_test(constructors_fail_cleanly_without_memory),
    };
    return cmocka_run_group_tests_name("value", tests, NULL, NULL);
}
