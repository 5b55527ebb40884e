/*
 * test_text.c - the qgraph reader and writer: every fixture round-trips byte
 * for byte; malformed text is refused with its line and column.
 */
#include "testlib.h"

#include <string.h>

static void
fixtures_round_trip_byte_for_byte(void **state)
{
    (void)state;
    char **names;
    size_t n = qpt_list("fixtures", ".qg", &names);
    assert_true(n >= 100);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/%s", names[i]);
        size_t len;
        char *text = qpt_read_file(rel, &len);
        qpt_alloc st;
        qpt_alloc_reset(&st);
        qp_allocator a = qpt_allocator(&st);
        qp_graph *g = qpt_parse(text, &a);
        char *out = qpt_graph_text(g);
        if (strcmp(text, out) != 0) {
            print_error("%s does not round-trip\n", names[i]);
            fail();
        }
        test_free(out);
        qp_graph_destroy(g);
        assert_int_equal(st.live, 0);
        test_free(text);
    }
    qpt_free_list(names, n);
}

static void
expect_error(const char *text, qp_status st, uint32_t line, uint32_t col, const char *needle)
{
    qp_graph *g = (qp_graph *)1;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, strlen(text), NULL, &g, &err);
    if (rc != st || err.line != line || (col && err.col != col) || !strstr(err.msg, needle)) {
        print_error("got %s at %u:%u '%s'; want %s at %u:%u '%s'\n", qp_status_str(rc),
                    (unsigned)err.line, (unsigned)err.col, err.msg, qp_status_str(st),
                    (unsigned)line, (unsigned)col, needle);
        fail();
    }
    assert_null(g);
}

static void
malformed_text_is_refused_with_its_place(void **state)
{
    (void)state;
    expect_error("", QP_ERR_PARSE, 1, 1, "header");
    expect_error("qgraph 2\n", QP_ERR_PARSE, 1, 8, "version");
    expect_error("qgraph 1\n%x = placeholder x () {}\n", QP_ERR_INVALID_GRAPH, 2, 1, "no output");
    expect_error("qgraph 1\n%x = placeholder x () {}\n%o = output output (%y,) {}\n",
                 QP_ERR_DANGLING_EDGE, 3, 21, "undefined node %y");
    expect_error("qgraph 1\n%a = placeholder a (%b,) {}\n%b = placeholder b () {}\n"
                 "%o = output output (%a,) {}\n",
                 QP_ERR_NOT_TOPO_SORTED, 2, 21, "before it is defined");
    expect_error("qgraph 1\n%x = placeholder x () {}\n%x = placeholder x () {}\n"
                 "%o = output output (%x,) {}\n",
                 QP_ERR_DUP_NAME, 3, 2, "defined twice");
    expect_error("qgraph 1\n%x = frobnicate x () {}\n", QP_ERR_PARSE, 2, 6, "unknown op");
    expect_error("qgraph 1\n%x = placeholder x (1 2) {}\n", QP_ERR_PARSE, 2, 23, "expected ','");
    expect_error("qgraph 1\n%x = placeholder x (99999999999999999999,) {}\n", QP_ERR_PARSE, 2,
                 21, "64 bits");
    static const char nul[] = "qgraph 1\n%x = placeholder x (\"a\0b\",) {}\n";
    qp_graph *g;
    qp_error err;
    assert_int_equal(qp_graph_read_text(nul, sizeof nul - 1, NULL, &g, &err), QP_ERR_PARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 23);
    assert_non_null(strstr(err.msg, "NUL"));
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_round_trip_byte_for_byte),
        cmocka_unit_test(malformed_text_is_refused_with_its_place),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
