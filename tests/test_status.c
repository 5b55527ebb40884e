/*
 * test_status.c - status strings, version, enum names, and the per-graph
 * error message and log hook (status.c).
 */
#include "testlib.h"

#include <string.h>

static void
status_str_describes_every_status(void **state)
{
    (void)state;
    static const struct {
        qp_status st;
        const char *msg;
    } want[] = {
#define ROW(name, msg) {QP_##name, msg},
        QP_STATUS_MAP(ROW)
#undef ROW
    };
    assert_int_equal(sizeof want / sizeof want[0], QP_STATUS_COUNT);
    for (int i = 0; i < QP_STATUS_COUNT; i++) {
        assert_int_equal(want[i].st, i);
        const char *s = qp_status_str(want[i].st);
        assert_non_null(s);
        assert_string_equal(s, want[i].msg);
        assert_true(strlen(s) > 0);
        for (int j = 0; j < i; j++) /* every status reads differently */
            assert_string_not_equal(s, qp_status_str(want[j].st));
    }
    assert_int_equal(QP_OK, 0);
    assert_string_equal(qp_status_str(QP_ERR_NOMEM), "out of memory");
    assert_string_equal(qp_status_str(QP_ERR_NULL_ARG), "a required argument is NULL");
}

static void
status_str_of_an_unknown_status_is_static_text(void **state)
{
    (void)state;
    assert_string_equal(qp_status_str(QP_STATUS_COUNT), "unknown status");
    assert_string_equal(qp_status_str((qp_status)1000), "unknown status");
    assert_string_equal(qp_status_str((qp_status)-1), "unknown status");
}

static void
version_matches_the_header(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", QP_VERSION_MAJOR, QP_VERSION_MINOR,
             QP_VERSION_PATCH);
    assert_string_equal(qp_version(), want);
    assert_string_equal(qp_version(), QP_VERSION_STRING);
    assert_int_equal(qp_version_number(), QP_VERSION_NUMBER);
    assert_int_equal(QP_VERSION_NUMBER,
                     QP_VERSION_MAJOR * 10000 + QP_VERSION_MINOR * 100 + QP_VERSION_PATCH);
    assert_ptr_equal(qp_version(), qp_version()); /* static storage */
}

static void
op_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {"placeholder",   "get_attr",    "call_module",
                                        "call_function", "call_method", "output"};
    assert_int_equal(QP_OP_COUNT, 6);
    for (int i = 0; i < QP_OP_COUNT; i++) {
        assert_string_equal(qp_op_name((qp_op)i), names[i]);
        qp_op op = QP_OP_COUNT;
        assert_int_equal(qp_op_from_name(names[i], &op), QP_OK);
        assert_int_equal(op, i);
    }
    assert_null(qp_op_name(QP_OP_COUNT));
    assert_null(qp_op_name((qp_op)-1));
    qp_op op = QP_OP_OUTPUT;
    assert_int_equal(qp_op_from_name("Output", &op), QP_ERR_NOT_FOUND);
    assert_int_equal(qp_op_from_name("", &op), QP_ERR_NOT_FOUND);
    assert_int_equal(op, QP_OP_OUTPUT); /* untouched on failure */
    assert_int_equal(qp_op_from_name(NULL, &op), QP_ERR_NULL_ARG);
    assert_int_equal(qp_op_from_name("output", NULL), QP_ERR_NULL_ARG);
}

static void
value_kind_names_are_static(void **state)
{
    (void)state;
    static const char *const names[] = {"none",  "bool", "int",  "float", "str", "node",
                                        "tuple", "list", "dict", "ident", "call"};
    assert_int_equal(QP_VAL_KIND_COUNT, 11);
    for (int i = 0; i < QP_VAL_KIND_COUNT; i++)
        assert_string_equal(qp_val_kind_name((qp_val_kind)i), names[i]);
    assert_null(qp_val_kind_name(QP_VAL_KIND_COUNT));
    assert_null(qp_val_kind_name((qp_val_kind)-1));
}

static void
errmsg_of_a_null_graph_is_text(void **state)
{
    (void)state;
    assert_non_null(qp_graph_errmsg(NULL));
    assert_true(qp_node_is_null(qp_graph_errnode(NULL)));
}

static void
error_message_is_kept_on_the_graph_and_bounded(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    assert_string_equal(qp_graph_errmsg(g), "");
    assert_true(qp_node_is_null(qp_graph_errnode(g)));

    assert_int_equal(qp__errn(g, QP_ERR_PARSE, 7, "node %s at %d", "x", 3), QP_ERR_PARSE);
    assert_string_equal(qp_graph_errmsg(g), "node x at 3");
    assert_int_equal(qp_graph_errnode(g).id, 7);
    assert_int_equal(qp__err(g, QP_ERR_LIMIT, "plain"), QP_ERR_LIMIT);
    assert_string_equal(qp_graph_errmsg(g), "plain");
    assert_int_equal(qp_graph_errnode(g).id, 0);

    /* a message longer than the buffer is cut, never overrun */
    char big[2000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = 0;
    size_t before = st.calls;
    qp__err(g, QP_ERR_INVALID_ARG, "%s", big);
    assert_int_equal(strlen(qp_graph_errmsg(g)), sizeof g->errmsg - 1);
    assert_int_equal(st.calls, before); /* reporting an error never allocates */
    qp__clear_err(g);
    assert_string_equal(qp_graph_errmsg(g), "");

    /* without a graph the status still comes back */
    assert_int_equal(qp__err(NULL, QP_ERR_IO, "x"), QP_ERR_IO);
    assert_int_equal(qp__errn(NULL, QP_ERR_IO, 1, "x"), QP_ERR_IO);

    char small[8];
    qp__fmt(small, sizeof small, "%s", "0123456789");
    assert_string_equal(small, "0123456");

    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

struct logrec {
    int calls;
    qp_log_level level;
    char where[32];
    char msg[600];
};

static void
log_fn(void *ud, qp_log_level level, const char *where, const char *msg)
{
    struct logrec *l = ud;
    l->calls++;
    l->level = level;
    snprintf(l->where, sizeof l->where, "%s", where);
    snprintf(l->msg, sizeof l->msg, "%s", msg);
}

static void
log_goes_to_the_graph_hook_only(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    qp__logf(g, QP_LOG_INFO, "fuse", "nothing %d", 1); /* no hook: silent */
    struct logrec l;
    memset(&l, 0, sizeof l);
    qp_graph_set_log(g, log_fn, &l);
    qp__logf(g, QP_LOG_WARN, "fuse", "node %%%s: %d users", "conv1", 2);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.level, QP_LOG_WARN);
    assert_string_equal(l.where, "fuse");
    assert_string_equal(l.msg, "node %conv1: 2 users");
    /* a clone logs to the same hook */
    qp_graph *h;
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    qp__logf(h, QP_LOG_DEBUG, "x", "y");
    assert_int_equal(l.calls, 2);
    qp_graph_set_log(g, NULL, NULL);
    qp__logf(g, QP_LOG_INFO, "fuse", "again");
    assert_int_equal(l.calls, 2);
    qp_graph_set_log(NULL, log_fn, &l); /* no-op */
    qp__logf(NULL, QP_LOG_INFO, "x", "y");
    qp_graph_destroy(h);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_str_describes_every_status),
        cmocka_unit_test(status_str_of_an_unknown_status_is_static_text),
        cmocka_unit_test(version_matches_the_header),
        cmocka_unit_test(op_names_round_trip),
        cmocka_unit_test(value_kind_names_are_static),
        cmocka_unit_test(errmsg_of_a_null_graph_is_text),
        cmocka_unit_test(error_message_is_kept_on_the_graph_and_bounded),
        cmocka_unit_test(log_goes_to_the_graph_hook_only),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
