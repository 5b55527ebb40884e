/*
 * test_text.c - the qgraph reader and writer: every fixture round-trips byte
 * for byte; every value form of FORMAT.md round-trips; floats print as
 * Python's repr in any locale; malformed, truncated, oversized or non-UTF-8
 * text is refused with its line and column, never crashes and never leaks;
 * streaming gives the same graph as reading from memory.
 */
#define _POSIX_C_SOURCE 200809L /* popen, fileno */

#include "testlib.h"

#include <locale.h>
#include <math.h>
#include <string.h>

/* the truncation test wants exact-size blocks that ASan guards, not cmocka's */
#undef malloc
#undef free

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
expect_error_opts(const char *text, size_t len, unsigned flags, qp_status st, uint32_t line,
                  uint32_t col, const char *needle)
{
    qpt_alloc al;
    qpt_alloc_reset(&al);
    qp_allocator a = qpt_allocator(&al);
    qp_read_opts o = {&a, flags, NULL, NULL};
    qp_graph *g = (qp_graph *)1;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, len, &o, &g, &err);
    if (rc != st || err.status != st || err.line != line || (col && err.col != col) ||
        !strstr(err.msg, needle)) {
        print_error("got %s at %u:%u '%s'; want %s at %u:%u '%s'\n", qp_status_str(rc),
                    (unsigned)err.line, (unsigned)err.col, err.msg, qp_status_str(st),
                    (unsigned)line, (unsigned)col, needle);
        fail();
    }
    assert_null(g);
    assert_int_equal(al.live, 0);
}

static void
expect_error(const char *text, qp_status st, uint32_t line, uint32_t col, const char *needle)
{
    expect_error_opts(text, strlen(text), 0, st, line, col, needle);
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
    expect_error("qgraph 1\n%x = placeholder x (99999999999999999999,) {}\n", QP_ERR_PARSE, 2, 21,
                 "64 bits");
    static const char nul[] = "qgraph 1\n%x = placeholder x (\"a\0b\",) {}\n";
    expect_error_opts(nul, sizeof nul - 1, 0, QP_ERR_PARSE, 2, 23, "NUL");
}

/* ==== helpers ==== */

static qp_graph *
read_ok(const char *text, size_t len, unsigned flags, qpt_alloc *st)
{
    qp_allocator a = qpt_allocator(st);
    qp_read_opts o = {&a, flags, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, len, &o, &g, &err);
    if (rc) {
        print_error("read: %s at %u:%u: %s\n", qp_status_str(rc), (unsigned)err.line,
                    (unsigned)err.col, err.msg);
        fail();
    }
    return g;
}

/* Reads text, writes it, and checks the output is `want` (NULL: the input). */
static void
rewrites_as(const char *text, const char *want)
{
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_graph *g = read_ok(text, strlen(text), 0, &st);
    char *out = qpt_graph_text(g);
    if (strcmp(out, want ? want : text) != 0) {
        print_error("got:\n%s\nwant:\n%s\n", out, want ? want : text);
        fail();
    }
    test_free(out);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

/* ==== values ==== */

static const char every_value[] =
    "qgraph 1\n"
    "# every value form of FORMAT.md\n"
    "module m nn.X {none: None, t: True, f: False, i: -12, zero: 0, big: 9223372036854775807, "
    "small: -9223372036854775808, fl: 0.1, e: 1e-05, ep: 1.1920928955078125e-07, int_float: 3.0, "
    "pinf: inf, ninf: -inf, nn: nan, nzero: -0.0, "
    "s: \"a\\\"b\\\\c\\nd\\te\\rf\\x01\\x7f\\x00\", u: \"caf\xc3\xa9 \xf0\x9f\x98\x80\", "
    "empty: \"\", tup0: (), tup1: (1,), tup2: (1, 2), lst0: [], lst1: [1], "
    "lst: [1, [2, (3,)], {}], d0: {}, d: {a: 1, \"0k\": 2, \"inf\": 3, True: 5}, "
    "id: torch.float32, ell: Ellipsis, dotted: a.b.c_d, call: slice(None, 16, None), call0: f(), "
    "dev: torch.device(\"cpu\"), call1: g(1), nested: {x: [{y: (None, [()])}]}}\n"
    "module conv.weight_fake_quant fq.LearnableFakeQuantize {scale: [0.5, 0.25], zero_point: "
    "[0, 0]}\n"
    "attr position_ids {shape: (1, 8)}\n"
    "attr empty_attr {}\n"
    "%x = placeholder x () {}\n"
    "%x_1 = placeholder x_1 (None,) {}\n"
    "%getitem = call_function operator.getitem (%x, (slice(None, 16, None), Ellipsis, None)) {}\n"
    "%cat = call_function torch.cat ([%x, %getitem, %x_1],) {dim: -1, out: None}\n"
    "%size = call_method size (%cat, 0) {}\n"
    "%view = call_method view (%cat, %size, -1) {}\n"
    "%output = output output ((%view, [%x], {k: %x, k2: (%getitem,)}),) {}\n";

static void
every_value_form_round_trips(void **state)
{
    (void)state;
    rewrites_as(every_value, NULL);
    /* and reads back as the values it shows */
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_graph *g = read_ok(every_value, strlen(every_value), 0, &st);
    qp_module m = qp_graph_find_module(g, "m");
    size_t len;
    assert_int_equal(qp_val_kind_of(g, qp_module_attr(g, m, "none")), QP_VAL_NONE);
    assert_true(qp_val_as_bool(g, qp_module_attr(g, m, "t")));
    assert_int_equal(qp_val_kind_of(g, qp_module_attr(g, m, "f")), QP_VAL_BOOL);
    assert_true(qp_val_as_int(g, qp_module_attr(g, m, "i")) == -12);
    assert_true(qp_val_as_int(g, qp_module_attr(g, m, "big")) == INT64_MAX);
    assert_true(qp_val_as_int(g, qp_module_attr(g, m, "small")) == INT64_MIN);
    assert_int_equal(qp_val_kind_of(g, qp_module_attr(g, m, "int_float")), QP_VAL_FLOAT);
    assert_true(qp_val_as_float(g, qp_module_attr(g, m, "fl")) == 0.1);
    assert_true(qp_val_as_float(g, qp_module_attr(g, m, "pinf")) == HUGE_VAL);
    assert_true(isnan(qp_val_as_float(g, qp_module_attr(g, m, "nn"))));
    assert_true(signbit(qp_val_as_float(g, qp_module_attr(g, m, "nzero"))));
    const char *s = qp_val_as_str(g, qp_module_attr(g, m, "s"), &len);
    assert_int_equal(len, 14);
    assert_memory_equal(s, "a\"b\\c\nd\te\rf\x01\x7f\0", 14);
    assert_string_equal(qp_val_as_str(g, qp_module_attr(g, m, "u"), NULL),
                        "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(qp_val_as_str(g, qp_module_attr(g, m, "empty"), &len), "");
    qp_val tup1 = qp_module_attr(g, m, "tup1");
    assert_int_equal(qp_val_kind_of(g, tup1), QP_VAL_TUPLE);
    assert_int_equal(qp_val_num_items(g, tup1), 1);
    qp_val d = qp_module_attr(g, m, "d");
    assert_int_equal(qp_val_num_items(g, d), 4);
    assert_string_equal(qp_val_key_at(g, d, 1), "0k");
    assert_string_equal(qp_val_key_at(g, d, 2), "inf");
    assert_int_equal(qp_val_as_int(g, qp_val_dict_get(g, d, "True")), 5);
    qp_val id = qp_module_attr(g, m, "id");
    assert_int_equal(qp_val_kind_of(g, id), QP_VAL_IDENT);
    assert_string_equal(qp_val_as_str(g, id, NULL), "torch.float32");
    qp_val call = qp_module_attr(g, m, "call");
    assert_int_equal(qp_val_kind_of(g, call), QP_VAL_CALL);
    assert_string_equal(qp_val_as_str(g, call, NULL), "slice");
    assert_int_equal(qp_val_as_int(g, qp_val_item_at(g, call, 1)), 16);
    assert_int_equal(qp_val_num_items(g, qp_module_attr(g, m, "call0")), 0);
    qp_node cat = qp_graph_find_node(g, "cat");
    assert_int_equal(qp_node_line(g, cat), 10);
    qp_val lst = qp_val_item_at(g, qp_node_args(g, cat), 0);
    assert_int_equal(qp_val_kind_of(g, lst), QP_VAL_LIST);
    assert_int_equal(qp_val_as_node(g, qp_val_item_at(g, lst, 1)).id,
                     qp_graph_find_node(g, "getitem").id);
    assert_int_equal(qp_node_num_users(g, qp_graph_find_node(g, "x")), 3);
    assert_int_equal(qp_graph_num_params(g), 2);
    assert_int_equal(qp_graph_num_comments(g), 1);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

static void
spacing_is_free_on_input_and_canonical_on_output(void **state)
{
    (void)state;
    rewrites_as("qgraph 1\n"
                "module  m\tnn.X   {a:1,b :  [ 1 ,2 ] ,c:(1 , ) , d : { } }  \n"
                "\t%x\t=\tplaceholder\tx\t(\t)\t{\t}\n"
                "  %y = call_function f (  %x,%x ,  slice( None,1 ) ) {k:%x}\n"
                "%output = output output (%y,) {}\t\n",
                "qgraph 1\n"
                "module m nn.X {a: 1, b: [1, 2], c: (1,), d: {}}\n"
                "%x = placeholder x () {}\n"
                "%y = call_function f (%x, %x, slice(None, 1)) {k: %x}\n"
                "%output = output output (%y,) {}\n");
    /* trailing commas are allowed where Python allows them */
    rewrites_as("qgraph 1\n%x = placeholder x ([1, 2,], {a: 1,}, f(1,),) {}\n"
                "%output = output output (%x,) {}\n",
                "qgraph 1\n%x = placeholder x ([1, 2], {a: 1}, f(1)) {}\n"
                "%output = output output (%x,) {}\n");
}

/* A graph with one module attribute `v`, written out. */
static char *
text_with_attr(qp_graph *g, qp_val v)
{
    qp_module m;
    assert_int_equal(qp_graph_add_module(g, "m", "nn.X", QP_NULL_VAL, &m), QP_OK);
    assert_int_equal(qp_module_set_attr(g, m, "v", v), QP_OK);
    return qpt_graph_text(g);
}

static void
strings_with_any_bytes_round_trip(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    char bytes[256 + 6];
    for (int i = 0; i < 256; i++)
        bytes[i] = (char)i;
    memcpy(bytes + 256, "\xc3\xa9\xe2\x82\xac", 6); /* valid UTF-8 stays as it is */
    qp_val v;
    assert_int_equal(qp_val_new_str(g, bytes, sizeof bytes - 1, &v), QP_OK);
    char *text = text_with_attr(g, v);
    /* escapes as FORMAT.md shows, \xNN for the rest; the line is valid UTF-8 */
    assert_non_null(strstr(text, "\"\\x00\\x01"));
    assert_non_null(strstr(text, "\\t\\n\\x0b\\x0c\\r\\x0e"));
    assert_non_null(strstr(text, " !\\\"#"));
    assert_non_null(strstr(text, "[\\\\]"));
    assert_non_null(strstr(text, "~\\x7f\\x80\\x81"));
    assert_non_null(strstr(text, "\\xfe\\xff\xc3\xa9\xe2\x82\xac\"}"));
    assert_true(qp__utf8_valid(text, strlen(text)));
    qp_graph *h = read_ok(text, strlen(text), QP_READ_NO_VERIFY, &st);
    qp_val back = qp_module_attr(h, qp_graph_find_module(h, "m"), "v");
    size_t len;
    const char *s = qp_val_as_str(h, back, &len);
    assert_int_equal(len, sizeof bytes - 1);
    assert_memory_equal(s, bytes, len);
    test_free(text);
    qp_graph_destroy(h);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

static void
string_escapes_are_read_or_refused(void **state)
{
    (void)state;
    /* escapes the writer does not produce but a Python repr may hold */
    rewrites_as("qgraph 1\n%x = placeholder x (\"\\'\\x41\\xFF\\x7e\",) {}\n"
                "%output = output output (%x,) {}\n",
                "qgraph 1\n%x = placeholder x (\"'A\\xff~\",) {}\n"
                "%output = output output (%x,) {}\n");
    expect_error("qgraph 1\n%x = placeholder x (\"a\\qb\",) {}\n", QP_ERR_PARSE, 2, 23,
                 "unknown escape '\\q'");
    expect_error("qgraph 1\n%x = placeholder x (\"\\x4\",) {}\n", QP_ERR_PARSE, 2, 25,
                 "two hex digits");
    expect_error("qgraph 1\n%x = placeholder x (\"\\xg0\",) {}\n", QP_ERR_PARSE, 2, 24,
                 "two hex digits");
    expect_error("qgraph 1\n%x = placeholder x (\"abc,) {}\n", QP_ERR_PARSE, 2, 21,
                 "unterminated string");
    expect_error("qgraph 1\n%x = placeholder x (\"abc\\", QP_ERR_PARSE, 2, 21,
                 "unterminated string");
    /* a raw tab is allowed in a line; the writer escapes it */
    rewrites_as("qgraph 1\n%x = placeholder x (\"a\tb\",) {}\n%output = output output (%x,) {}\n",
                "qgraph 1\n%x = placeholder x (\"a\\tb\",) {}\n%output = output output (%x,) {}\n");
}

/* ==== floats ==== */

struct float_case {
    double v;
    char text[40];
};

static size_t
load_floats(struct float_case **out)
{
    size_t len;
    char *data = qpt_read_file("floats.txt", &len);
    size_t n = 0, cap = 1024;
    struct float_case *c = test_malloc(cap * sizeof *c);
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || !line[0])
            continue;
        char hex[64];
        assert_int_equal(sscanf(line, "%63s %39s", hex, c[n].text), 2);
        c[n].v = strtod(hex, NULL); /* C locale here: hex floats, inf, nan */
        n++;
        assert_true(n < cap);
    }
    test_free(data);
    *out = c;
    return n;
}

static void
check_float_table(const struct float_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char buf[40];
        size_t len = qp__fmt_float(c[i].v, buf);
        if (strcmp(buf, c[i].text) != 0 || len != strlen(buf)) {
            print_error("%a: got %s, Python says %s\n", c[i].v, buf, c[i].text);
            fail();
        }
        double back = 0;
        assert_true(qp__parse_float(c[i].text, strlen(c[i].text), &back));
        if (isnan(c[i].v))
            assert_true(isnan(back));
        else
            assert_memory_equal(&back, &c[i].v, sizeof back);
    }
}

static void
floats_print_as_python_repr(void **state)
{
    (void)state;
    struct float_case *c;
    size_t n = load_floats(&c);
    assert_true(n > 500);
    check_float_table(c, n);
    /* the cases FORMAT.md and the issue name */
    static const struct {
        double v;
        const char *text;
    } named[] = {{0.1, "0.1"},
                 {1e-05, "1e-05"},
                 {1e16, "1e+16"},
                 {1e15, "1000000000000000.0"},
                 {0.0001, "0.0001"},
                 {-0.0, "-0.0"},
                 {5e-324, "5e-324"},
                 {1.7976931348623157e+308, "1.7976931348623157e+308"},
                 {1.1920928955078125e-07, "1.1920928955078125e-07"},
                 {100000.0, "100000.0"},
                 {1e22, "1e+22"},
                 {123.456, "123.456"}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        char buf[40];
        qp__fmt_float(named[i].v, buf);
        assert_string_equal(buf, named[i].text);
    }
    char buf[40];
    qp__fmt_float(HUGE_VAL, buf);
    assert_string_equal(buf, "inf");
    qp__fmt_float(-HUGE_VAL, buf);
    assert_string_equal(buf, "-inf");
    qp__fmt_float(NAN, buf);
    assert_string_equal(buf, "nan");
    qp__fmt_float(-NAN, buf);
    assert_string_equal(buf, "nan");
    /* through a graph too */
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    qp_val *items = test_malloc(n * sizeof *items);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(qp_val_new_float(g, c[i].v, &items[i]), QP_OK);
    qp_val lst;
    assert_int_equal(qp_val_new_list(g, (uint32_t)n, items, &lst), QP_OK);
    char *text = text_with_attr(g, lst);
    size_t o = strlen("qgraph 1\nmodule m nn.X {v: [");
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(c[i].text);
        assert_memory_equal(text + o, c[i].text, l);
        o += l + 2;
    }
    qp_graph *h = read_ok(text, strlen(text), QP_READ_NO_VERIFY, &st);
    qp_val back = qp_module_attr(h, qp_graph_find_module(h, "m"), "v");
    assert_int_equal(qp_val_num_items(h, back), n);
    for (size_t i = 0; i < n; i++) {
        double d = qp_val_as_float(h, qp_val_item_at(h, back, (uint32_t)i));
        if (isnan(c[i].v))
            assert_true(isnan(d));
        else
            assert_memory_equal(&d, &c[i].v, sizeof d);
    }
    qp_graph_destroy(h);
    test_free(text);
    test_free(items);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    test_free(c);
}

static int
restore_locale(void **state)
{
    (void)state;
    setlocale(LC_NUMERIC, "C");
    return 0;
}

static void
float_text_ignores_the_locale(void **state)
{
    (void)state;
    /* write everything in the C locale first */
    struct float_case *c;
    size_t n = load_floats(&c);
    size_t len;
    char *fixture = qpt_read_file("fixtures/mobilenet_v2.NNIE.out.qg", &len);
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_graph *g = read_ok(fixture, len, 0, &st);
    char *in_c = qpt_graph_text(g);
    qp_graph_destroy(g);
    /* a locale whose decimal point is not '.', if this machine has one */
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",  "de_DE",       "fr_FR.UTF-8",
                                        "fr_FR.utf8",  "fr_FR",       "ru_RU.UTF-8", "nl_NL.UTF-8",
                                        "it_IT.UTF-8", "es_ES.UTF-8", "pt_BR.UTF-8"};
    const char *found = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++)
        if (setlocale(LC_NUMERIC, names[i]) && strcmp(localeconv()->decimal_point, ".") != 0)
            found = names[i];
    if (!found) {
        setlocale(LC_NUMERIC, "C");
        test_free(in_c);
        test_free(fixture);
        test_free(c);
        skip();
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    assert_string_not_equal(probe, "1.5"); /* the locale is really in force */
    check_float_table(c, n);
    g = read_ok(fixture, len, 0, &st);
    char *in_locale = qpt_graph_text(g);
    assert_string_equal(in_c, in_locale);
    qp_graph_destroy(g);
    setlocale(LC_NUMERIC, "C");
    test_free(in_locale);
    test_free(in_c);
    test_free(fixture);
    test_free(c);
    assert_int_equal(st.live, 0);
}

/* ==== numbers ==== */

static void
numbers_are_refused_unless_well_formed(void **state)
{
    (void)state;
    static const char *const bad[] = {"1.2.3", "1e",    "1e+", "--1",    "-",      "0x10",
                                      "1_000", "1f",    ".",   "-.e1",   "1.5e5x", "-inf5",
                                      "1..2",  "1e5.0", "5.e", "-nan.0", ".e5",    "1e5e5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "qgraph 1\n%%x = placeholder x (%s,) {}\n", bad[i]);
        qpt_alloc st;
        qpt_alloc_reset(&st);
        qp_allocator a = qpt_allocator(&st);
        qp_read_opts o = {&a, 0, NULL, NULL};
        qp_graph *g = (qp_graph *)1;
        qp_error err;
        qp_status rc = qp_graph_read_text(text, strlen(text), &o, &g, &err);
        assert_int_equal(st.live, 0);
        if (rc != QP_ERR_PARSE || err.line != 2 || err.col != 21) {
            print_error("%s: %s at %u:%u %s\n", bad[i], qp_status_str(rc), (unsigned)err.line,
                        (unsigned)err.col, err.msg);
            fail();
        }
        assert_null(g);
    }
    expect_error("qgraph 1\n%x = placeholder x (+1,) {}\n", QP_ERR_PARSE, 2, 21, "unexpected '+'");
    /* what Python's float() and int() accept */
    rewrites_as("qgraph 1\n%x = placeholder x (1., .5, 1E5, -0, 007, 1e400, -1e400, 1e-400, -nan, "
                "2.50, 0.000, 1e+2) {}\n%output = output output (%x,) {}\n",
                "qgraph 1\n%x = placeholder x (1.0, 0.5, 100000.0, 0, 7, inf, -inf, 0.0, nan, "
                "2.5, 0.0, 100.0) {}\n%output = output output (%x,) {}\n");
}

static void
integers_fit_in_64_bits(void **state)
{
    (void)state;
    rewrites_as("qgraph 1\n%x = placeholder x (9223372036854775807, -9223372036854775808, "
                "00000000000000000000000001, -0000000000000000000000009223372036854775808) {}\n"
                "%output = output output (%x,) {}\n",
                "qgraph 1\n%x = placeholder x (9223372036854775807, -9223372036854775808, 1, "
                "-9223372036854775808) {}\n%output = output output (%x,) {}\n");
    expect_error("qgraph 1\n%x = placeholder x (9223372036854775808,) {}\n", QP_ERR_PARSE, 2, 21,
                 "integer 9223372036854775808 outside 64 bits");
    expect_error("qgraph 1\n%x = placeholder x (-9223372036854775809,) {}\n", QP_ERR_PARSE, 2, 21,
                 "outside 64 bits");
    expect_error("qgraph 1\n%x = placeholder x (18446744073709551616,) {}\n", QP_ERR_PARSE, 2, 21,
                 "outside 64 bits");
    expect_error("qgraph 1\nmodule m nn.X {a: 1, b: 123456789012345678901234567890}\n",
                 QP_ERR_PARSE, 2, 25, "outside 64 bits");
}

/* ==== nesting ==== */

/* "(V,)" where V is k tuples around 1 (or around nothing if empty) */
static char *
nested_args(int k, bool empty, char open, char close)
{
    char *s = test_malloc((size_t)k * 4 + 16);
    size_t o = 0;
    s[o++] = '(';
    for (int i = 0; i < k; i++)
        s[o++] = open;
    if (!empty)
        s[o++] = '1';
    for (int i = 0; i < k; i++) {
        if (open == '(' && (i > 0 || !empty))
            s[o++] = ',';
        s[o++] = close;
    }
    s[o++] = ',';
    s[o++] = ')';
    s[o] = 0;
    return s;
}

static void
nesting_deeper_than_64_is_refused(void **state)
{
    (void)state;
    /* qgraph.py counts from inside the args tuple: its items are 1 deep, and no
     * value may be deeper than 64 */
    static const struct {
        char open, close;
    } kinds[] = {{'(', ')'}, {'[', ']'}};
    for (size_t kk = 0; kk < 2; kk++) {
        for (int empty = 0; empty < 2; empty++) {
            int ok = empty ? 64 : 63;
            for (int k = ok - 1; k <= ok + 1; k++) {
                char *args = nested_args(k, empty, kinds[kk].open, kinds[kk].close);
                size_t cap = strlen(args) + 128;
                char *text = test_malloc(cap);
                snprintf(text, cap,
                         "qgraph 1\n%%x = placeholder x %s {}\n"
                         "%%output = output output (%%x,) {}\n",
                         args);
                qpt_alloc st;
                qpt_alloc_reset(&st);
                qp_allocator a = qpt_allocator(&st);
                qp_read_opts o = {&a, 0, NULL, NULL};
                qp_graph *g = NULL;
                qp_error err;
                qp_status rc = qp_graph_read_text(text, strlen(text), &o, &g, &err);
                if (k <= ok) {
                    if (rc) {
                        print_error("depth %d (empty %d): %s\n", k, empty, err.msg);
                        fail();
                    }
                    /* what was read can be rebuilt through the API and written again */
                    qp_val args_v = qp_node_args(g, qp_graph_find_node(g, "x"));
                    qp_val item = qp_val_item_at(g, args_v, 0), again;
                    assert_int_equal(qp_val_new_tuple(g, 1, &item, &again), QP_OK);
                    assert_true(qp_val_equal(g, again, args_v));
                    char *out = qpt_graph_text(g);
                    assert_string_equal(out, text);
                    test_free(out);
                    qp_graph_destroy(g);
                } else {
                    assert_int_equal(rc, QP_ERR_PARSE);
                    assert_int_equal(err.line, 2);
                    assert_non_null(strstr(err.msg, "nested deeper than 64"));
                }
                assert_int_equal(st.live, 0);
                test_free(text);
                test_free(args);
            }
        }
    }
    /* dicts count the same way, in kwargs and attributes */
    char text[2048];
    size_t o = (size_t)snprintf(text, sizeof text, "qgraph 1\nmodule m nn.X {k: ");
    for (int i = 0; i < 63; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "{k: ");
    o += (size_t)snprintf(text + o, sizeof text - o, "1");
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "}");
    snprintf(text + o, sizeof text - o,
             "\n%%x = placeholder x () {}\n"
             "%%output = output output (%%x,) {}\n");
    rewrites_as(text, NULL);
    char *deeper = test_malloc(strlen(text) + 8);
    const char *at = strstr(text, "{k: 1}");
    size_t pre = (size_t)(at - text);
    memcpy(deeper, text, pre);
    strcpy(deeper + pre, "{k: (1,)}");
    strcat(deeper, at + 6);
    expect_error(deeper, QP_ERR_PARSE, 2, 0, "nested deeper than 64");
    test_free(deeper);
}

/* ==== structure ==== */

static void
duplicate_dict_keys_are_refused(void **state)
{
    (void)state;
    expect_error("qgraph 1\n%x = placeholder x () {a: 1, b: 2, a: 3}\n", QP_ERR_PARSE, 2, 23,
                 "duplicate key 'a'");
    expect_error("qgraph 1\n%x = placeholder x () {a: 1, \"a\": 2}\n", QP_ERR_PARSE, 2, 23,
                 "duplicate key 'a'");
    expect_error("qgraph 1\nmodule m nn.X {a: {b: 1, b: 1}}\n", QP_ERR_PARSE, 2, 19,
                 "duplicate key 'b'");
    /* big dicts are checked another way: still every duplicate */
    char text[1024];
    size_t o = (size_t)snprintf(text, sizeof text, "qgraph 1\nmodule m nn.X {");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "k%d: %d, ", i, i);
    snprintf(text + o, sizeof text - o, "k17: 0}\n");
    expect_error(text, QP_ERR_PARSE, 2, 15, "duplicate key 'k17'");
}

static void
modules_and_attrs_may_be_defined_once(void **state)
{
    (void)state;
    expect_error("qgraph 1\nmodule m nn.X {}\nmodule m nn.Y {}\n", QP_ERR_DUP_NAME, 3, 8,
                 "module m defined twice");
    expect_error("qgraph 1\nattr w {}\nmodule w nn.X {}\nattr w {shape: (1,)}\n", QP_ERR_DUP_NAME,
                 4, 6, "attr w defined twice");
    expect_error("qgraph 1\nmodule m nn.X {a: %x}\n", QP_ERR_PARSE, 2, 19,
                 "module attributes may not refer to nodes");
    expect_error("qgraph 1\nattr w {a: [%x]}\n", QP_ERR_PARSE, 2, 13,
                 "parameter attributes may not refer to nodes");
}

static void
nothing_but_comments_follows_the_output(void **state)
{
    (void)state;
    const char *head = "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n";
    static const struct {
        const char *tail;
        uint32_t col;
    } cases[] = {{"%y = placeholder y () {}\n", 1},
                 {"module m nn.X {}\n", 1},
                 {"attr w {}\n", 1},
                 {"  junk\n", 3},
                 {"%output_1 = output output (%x,) {}\n", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "%s\n# fine\n%s", head, cases[i].tail);
        expect_error(text, QP_ERR_INVALID_GRAPH, 6, cases[i].col, "after the output node (line 3)");
    }
    char text[256];
    snprintf(text, sizeof text, "%s\n   \n# a comment\n\t# another\n", head);
    rewrites_as(text, head);
}

static void
lines_must_be_well_formed(void **state)
{
    (void)state;
    expect_error("qgraph 1\n%x = placeholder x () {} junk\n", QP_ERR_PARSE, 2, 26, "trailing text");
    expect_error("qgraph 1\n%x = placeholder x ()\n", QP_ERR_PARSE, 2, 22, "expected '{'");
    expect_error("qgraph 1\n%x = placeholder x\n", QP_ERR_PARSE, 2, 19, "expected '('");
    expect_error("qgraph 1\n%x = placeholder\n", QP_ERR_PARSE, 2, 17, "expected a target");
    expect_error("qgraph 1\n%x =\n", QP_ERR_PARSE, 2, 5, "expected an op");
    expect_error("qgraph 1\n%x = placeholdr x () {}\n", QP_ERR_PARSE, 2, 6,
                 "unknown op 'placeholdr'");
    expect_error("qgraph 1\n%x placeholder x () {}\n", QP_ERR_PARSE, 2, 4, "expected '='");
    expect_error("qgraph 1\n%x =placeholder x () {}\n", QP_ERR_PARSE, 2, 4, "expected '='");
    expect_error("qgraph 1\n%x-y = placeholder x () {}\n", QP_ERR_PARSE, 2, 2, "a node name");
    expect_error("qgraph 1\n% = placeholder x () {}\n", QP_ERR_PARSE, 2, 2, "a node name");
    expect_error("qgraph 1\nmodul m nn.X {}\n", QP_ERR_PARSE, 2, 1, "unknown line kind 'modul'");
    expect_error("qgraph 1\nmodule m\n", QP_ERR_PARSE, 2, 9, "expected a module type");
    expect_error("qgraph 1\nmodule m nn.X\n", QP_ERR_PARSE, 2, 14, "expected '{'");
    expect_error("qgraph 1\nmodule m nn.X ()\n", QP_ERR_PARSE, 2, 15, "expected '{'");
    expect_error("qgraph 1\nattr\n", QP_ERR_PARSE, 2, 5, "expected a parameter name");
    expect_error("qgraph 1\n%x = placeholder x (1, 2 {}\n", QP_ERR_PARSE, 2, 26, "expected ','");
    expect_error("qgraph 1\n%x = placeholder x (1, 2\n", QP_ERR_PARSE, 2, 25,
                 "expected ')' to close the value opened at column 20");
    expect_error("qgraph 1\n%x = placeholder x ([1)] {}\n", QP_ERR_PARSE, 2, 23,
                 "expected ',' or ']'");
    expect_error("qgraph 1\n%x = placeholder x (,) {}\n", QP_ERR_PARSE, 2, 21, "unexpected ','");
    expect_error("qgraph 1\n%x = placeholder x (1,,) {}\n", QP_ERR_PARSE, 2, 23, "unexpected ','");
    expect_error("qgraph 1\n%x = placeholder x () {a 1}\n", QP_ERR_PARSE, 2, 26, "expected ':'");
    expect_error("qgraph 1\n%x = placeholder x () {1: 2}\n", QP_ERR_PARSE, 2, 24, "expected a key");
    /* an empty quoted key is a key like any other (Python's, and preserve_attr's root) */
    {
        static const char ek[] = "qgraph 1\n%x = placeholder x () {\"\": 2}\n"
                                 "%output = output output (%x,) {}\n";
        qp_graph *g = qpt_parse(ek, NULL);
        char *back = qpt_graph_text(g);
        assert_string_equal(back, ek);
        qp_val two = qp_val_dict_get(g, qp_node_kwargs(g, qp_graph_find_node(g, "x")), "");
        assert_int_equal(qp_val_as_int(g, two), 2);
        test_free(back);
        qp_graph_destroy(g);
    }
    expect_error("qgraph 1\n%x = placeholder x () {\"\": 2, \"\": 3}\n", QP_ERR_PARSE, 2, 23,
                 "duplicate key ''");
    expect_error("qgraph 1\n%x = placeholder x () {a:}\n", QP_ERR_PARSE, 2, 26, "unexpected '}'");
    expect_error("qgraph 1\n%x = placeholder x () {a:\n", QP_ERR_PARSE, 2, 26, "expected a value");
    expect_error("qgraph 1\n%x = placeholder x (%,) {}\n", QP_ERR_PARSE, 2, 21,
                 "expected a node name after '%'");
    expect_error("qgraph 1\n%x = placeholder x (@,) {}\n", QP_ERR_PARSE, 2, 21, "unexpected '@'");
    expect_error("qgraph 1\n%x = placeholder x (f(1) (2),) {}\n", QP_ERR_PARSE, 2, 26,
                 "expected ','");
    /* headers */
    expect_error("qgraph\n", QP_ERR_PARSE, 1, 1, "expected the header 'qgraph 1'");
    expect_error("qgraph 1 \n", QP_ERR_PARSE, 1, 8, "unsupported qgraph version '1 '");
    expect_error("QGRAPH 1\n", QP_ERR_PARSE, 1, 1, "expected the header 'qgraph 1'");
    expect_error("\xef\xbb\xbfqgraph 1\n", QP_ERR_PARSE, 1, 1, "expected the header 'qgraph 1'");
    expect_error("qgraph 10\n", QP_ERR_PARSE, 1, 8, "unsupported qgraph version '10'");
    expect_error("\n", QP_ERR_PARSE, 1, 1, "expected the header");
}

/* ==== bytes ==== */

static void
bad_bytes_are_refused_with_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *line; /* placed as line 3 */
        size_t len;
        uint32_t col;
        const char *needle;
    } cases[] = {
#define B(s) s, sizeof(s) - 1
        {B("# ctl \x01 in a comment"), 7, "control character 0x01"},
        {B("%y = placeholder y (\"\x1b\",) {}"), 22, "control character 0x1b"},
        {B("%y = placeholder y\x7f () {}"), 19, "control character 0x7f"},
        {B("%y = placeholder y () {}\rx"), 25, "control character 0x0d"},
        {B("# a\0b"), 4, "NUL byte"},
        {B("# lone continuation \x80"), 21, "invalid UTF-8 byte 0x80"},
        {B("# overlong \xc0\x80"), 12, "invalid UTF-8 byte 0xc0"},
        {B("# overlong \xe0\x80\x80"), 12, "invalid UTF-8 byte 0xe0"},
        {B("# surrogate \xed\xa0\x80"), 13, "invalid UTF-8 byte 0xed"},
        {B("# too big \xf4\x90\x80\x80"), 11, "invalid UTF-8 byte 0xf4"},
        {B("# f5 \xf5\x80\x80\x80"), 6, "invalid UTF-8 byte 0xf5"},
        {B("# cut \xe2\x82"), 7, "invalid UTF-8 byte 0xe2"},
        {B("%y = placeholder \xff () {}"), 18, "invalid UTF-8 byte 0xff"},
    };
#undef B
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        const char *head = "qgraph 1\n%x = placeholder x () {}\n";
        size_t hl = strlen(head);
        memcpy(text, head, hl);
        memcpy(text + hl, cases[i].line, cases[i].len);
        memcpy(text + hl + cases[i].len, "\n%output = output output (%x,) {}\n", 35);
        size_t len = hl + cases[i].len + 34;
        expect_error_opts(text, len, 0, QP_ERR_PARSE, 3, cases[i].col, cases[i].needle);
        expect_error_opts(text, len, QP_READ_NO_VERIFY, QP_ERR_PARSE, 3, cases[i].col,
                          cases[i].needle);
    }
    /* valid UTF-8 of every length is fine, in comments, strings and targets */
    rewrites_as("qgraph 1\n# \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\n"
                "module caf\xc3\xa9 nn.\xe2\x82\xac {}\n"
                "%x = placeholder x (\"\xf0\x9f\x98\x80\",) {}\n"
                "%caf = call_module caf\xc3\xa9 (%x,) {}\n"
                "%output = output output (%caf,) {}\n",
                NULL);
}

static void
crlf_input_reads_like_lf(void **state)
{
    (void)state;
    size_t len;
    char *text = qpt_read_file("fixtures/branchnet.in.qg", &len);
    char *crlf = test_malloc(len * 2 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            crlf[o++] = '\r';
        crlf[o++] = text[i];
    }
    crlf[o] = 0;
    rewrites_as(crlf, text);
    /* mixed, and a last line without a newline */
    rewrites_as("qgraph 1\r\n%x = placeholder x () {}\n%output = output output (%x,) {}\r\n",
                "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n");
    rewrites_as("qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}",
                "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n");
    rewrites_as("qgraph 1\r\n%x = placeholder x () {}\r\n%output = output output (%x,) {}\r",
                "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n");
    /* a carriage return inside a line is a control character */
    expect_error("qgraph 1\n%x = placeholder x () {}\r\r\n", QP_ERR_PARSE, 2, 25,
                 "control character 0x0d");
    test_free(crlf);
    test_free(text);
}

static void
comments_are_kept_only_right_after_the_header(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n"
                       "# model seednet\n"
                       "#   traced by torch.fx  \n"
                       "#\n"
                       "\n"
                       "# not a description: after a blank line\n"
                       "module m nn.X {}\n"
                       "# between lines\n"
                       "   # indented\n"
                       "%x = placeholder x () {}\n"
                       "%output = output output (%x,) {}\n"
                       "# after the output\n";
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_graph *g = read_ok(text, strlen(text), 0, &st);
    assert_int_equal(qp_graph_num_comments(g), 3);
    assert_string_equal(qp_graph_comment_at(g, 0), "# model seednet");
    assert_string_equal(qp_graph_comment_at(g, 1), "#   traced by torch.fx  ");
    assert_string_equal(qp_graph_comment_at(g, 2), "#");
    char *out = qpt_graph_text(g);
    assert_string_equal(out, "qgraph 1\n# model seednet\n#   traced by torch.fx  \n#\n"
                             "module m nn.X {}\n%x = placeholder x () {}\n"
                             "%output = output output (%x,) {}\n");
    test_free(out);
    qp_graph_destroy(g);
    /* a comment line indented right after the header is not a description */
    g = read_ok("qgraph 1\n  # indented\n%x = placeholder x () {}\n%o = output output (%x,) {}\n",
                75, 0, &st);
    assert_int_equal(qp_graph_num_comments(g), 0);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

/* ==== streaming ==== */

struct chunker {
    const char *p;
    size_t left, calls;
    const size_t *sizes; /* cycled through; NULL: 1 byte */
    size_t nsizes;
};

static size_t
chunk_read(void *ud, char *buf, size_t cap)
{
    struct chunker *c = ud;
    size_t want = c->sizes ? c->sizes[c->calls % c->nsizes] : 1;
    c->calls++;
    if (want > cap)
        want = cap;
    if (want > c->left)
        want = c->left;
    memcpy(buf, c->p, want);
    c->p += want;
    c->left -= want;
    return want;
}

static void
streaming_gives_the_same_graph(void **state)
{
    (void)state;
    static const char *const files[] = {"fixtures/ffnet.in.qg", "fixtures/branchnet.NNIE.out.qg",
                                        "fixtures/mobilenet_v2.in.qg"};
    static const size_t odd[] = {1, 2, 3, 7, 4096, 65535, 1, 65536, 5};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *text = qpt_read_file(files[f], &len);
        for (int mode = 0; mode < 3; mode++) {
            /* 1 byte at a time, odd sizes, and the same with CRLF split across reads */
            char *src = text;
            size_t srclen = len;
            if (mode == 2) {
                src = test_malloc(len * 2);
                srclen = 0;
                for (size_t i = 0; i < len; i++) {
                    if (text[i] == '\n')
                        src[srclen++] = '\r';
                    src[srclen++] = text[i];
                }
            }
            struct chunker c = {src, srclen, 0, mode ? odd : NULL, mode ? 9 : 0};
            qpt_alloc st;
            qpt_alloc_reset(&st);
            qp_allocator a = qpt_allocator(&st);
            qp_read_opts o = {&a, 0, NULL, NULL};
            qp_graph *g = NULL;
            qp_error err;
            qp_status rc = qp_graph_read(chunk_read, &c, &o, &g, &err);
            if (rc) {
                print_error("%s mode %d: %u:%u %s\n", files[f], mode, (unsigned)err.line,
                            (unsigned)err.col, err.msg);
                fail();
            }
            char *out = qpt_graph_text(g);
            assert_string_equal(out, text);
            if (mode == 0)
                assert_true(c.calls >= len);
            test_free(out);
            qp_graph_destroy(g);
            assert_int_equal(st.live, 0);
            if (mode == 2)
                test_free(src);
        }
        test_free(text);
    }
}

struct failing_src {
    const char *p;
    size_t left, fail_after;
    size_t ret; /* what to return when failing */
};

static size_t
failing_read(void *ud, char *buf, size_t cap)
{
    struct failing_src *s = ud;
    if (s->fail_after == 0)
        return s->ret;
    s->fail_after--;
    size_t n = s->left < 10 ? s->left : 10;
    (void)cap;
    memcpy(buf, s->p, n);
    s->p += n;
    s->left -= n;
    return n;
}

static void
read_callback_failures_are_io_errors(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n";
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_read_opts o = {&a, 0, NULL, NULL};
    for (int after = 0; after < 5; after++) {
        struct failing_src s = {text, strlen(text), (size_t)after, (size_t)-1};
        qp_graph *g = (qp_graph *)1;
        qp_error err;
        assert_int_equal(qp_graph_read(failing_read, &s, &o, &g, &err), QP_ERR_IO);
        assert_int_equal(st.live, 0);
        assert_null(g);
        assert_int_equal(err.status, QP_ERR_IO);
        assert_true(err.line >= 1);
        assert_non_null(strstr(err.msg, "reading the input failed"));
    }
    /* a callback that claims more than it was asked for */
    struct failing_src s = {text, strlen(text), 0, (size_t)1 << 40};
    qp_graph *g;
    qp_error err;
    assert_int_equal(qp_graph_read(failing_read, &s, &o, &g, &err), QP_ERR_IO);
    assert_non_null(strstr(err.msg, "more than asked"));
    assert_int_equal(err.line, 1);
    assert_int_equal(st.live, 0);
}

/* ==== limits ==== */

/* An allocator that forwards to the test allocator and records the peak. */
struct peak {
    qp_allocator inner;
    size_t live, peak;
};

static void *
peak_fn(void *ud, void *p, size_t osize, size_t nsize)
{
    struct peak *k = ud;
    void *q = k->inner.fn(k->inner.ud, p, osize, nsize);
    if (nsize == 0 || q) {
        k->live = k->live - (p ? osize : 0) + nsize;
        if (k->live > k->peak)
            k->peak = k->live;
    }
    return q;
}

/* head, then n filler bytes, then tail, in chunks as large as asked */
struct gen {
    const char *head, *tail;
    size_t hpos, fill, tpos;
    char c;
};

static size_t
gen_read(void *ud, char *buf, size_t cap)
{
    struct gen *g = ud;
    size_t o = 0;
    size_t hl = strlen(g->head), tl = strlen(g->tail);
    while (o < cap && g->hpos < hl)
        buf[o++] = g->head[g->hpos++];
    while (o < cap && g->fill) {
        buf[o++] = g->c;
        g->fill--;
    }
    while (o < cap && g->tpos < tl)
        buf[o++] = g->tail[g->tpos++];
    return o;
}

static qp_status
read_generated(size_t fill, const char *head, const char *tail, qp_error *err, size_t *peak)
{
    qpt_alloc st;
    qpt_alloc_reset(&st);
    struct peak k = {qpt_allocator(&st), 0, 0};
    qp_allocator a = {peak_fn, &k};
    qp_read_opts o = {&a, 0, NULL, NULL};
    struct gen gsrc = {head, tail, 0, fill, 0, 'a'};
    qp_graph *g = NULL;
    qp_status rc = qp_graph_read(gen_read, &gsrc, &o, &g, err);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    *peak = k.peak;
    return rc;
}

static void
long_lines_are_refused_with_their_line(void **state)
{
    (void)state;
    const char *head = "qgraph 1\n%x = placeholder x () {}\n# ";
    const char *tail = "\n%output = output output (%x,) {}\n";
    qp_error err;
    size_t peak;
    /* a line of exactly QP_MAX_LINE bytes is fine ("# " and the filler) */
    assert_int_equal(read_generated(QP_MAX_LINE - 2, head, tail, &err, &peak), QP_OK);
    /* also when it ends in "\r\n" */
    assert_int_equal(read_generated(QP_MAX_LINE - 2, head, "\r\n%output = output output (%x,) {}\n",
                                    &err, &peak),
                     QP_OK);
    /* one byte more is not */
    assert_int_equal(read_generated(QP_MAX_LINE - 1, head, tail, &err, &peak), QP_ERR_LIMIT);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, QP_MAX_LINE + 1);
    assert_non_null(strstr(err.msg, "line longer than"));
    assert_int_equal(read_generated(QP_MAX_LINE - 1, head, "\r\n%output = output output (%x,) {}\n",
                                    &err, &peak),
                     QP_ERR_LIMIT);
    /* a 10 MB line: refused without holding it */
    assert_int_equal(read_generated(10u << 20, head, tail, &err, &peak), QP_ERR_LIMIT);
    assert_int_equal(err.line, 3);
    assert_true(peak < QP_MAX_LINE + (1u << 20));
    /* the same inside a node line, and on the first line */
    assert_int_equal(
        read_generated(10u << 20, "qgraph 1\n%x = placeholder x (\"", "\",) {}\n", &err, &peak),
        QP_ERR_LIMIT);
    assert_int_equal(err.line, 2);
    assert_int_equal(read_generated(10u << 20, "qgraph 1", "\n", &err, &peak), QP_ERR_LIMIT);
    assert_int_equal(err.line, 1);
    /* names are bounded too */
    char *name = test_malloc(QP_MAX_NAME + 64);
    memset(name, 'n', QP_MAX_NAME + 1);
    name[QP_MAX_NAME + 1] = 0;
    char *text = test_malloc(6 * QP_MAX_NAME + 256);
    snprintf(text, 6 * QP_MAX_NAME + 256, "qgraph 1\n%%%s = placeholder x () {}\n", name);
    expect_error(text, QP_ERR_LIMIT, 2, 2, "node name longer than 4096");
    snprintf(text, 6 * QP_MAX_NAME + 256, "qgraph 1\nmodule %s nn.X {}\n", name);
    expect_error(text, QP_ERR_LIMIT, 2, 8, "a module path longer than 4096");
    snprintf(text, 6 * QP_MAX_NAME + 256, "qgraph 1\n%%x = placeholder x (%%%s,) {}\n", name);
    expect_error(text, QP_ERR_LIMIT, 2, 21, "node name longer than 4096");
    snprintf(text, 6 * QP_MAX_NAME + 256, "qgraph 1\n%%x = placeholder x (%s,) {}\n", name);
    expect_error(text, QP_ERR_LIMIT, 2, 21, "identifier longer than 4096");
    snprintf(text, 6 * QP_MAX_NAME + 256, "qgraph 1\n%%x = placeholder x () {%s: 1}\n", name);
    expect_error(text, QP_ERR_LIMIT, 2, 24, "key longer than 4096");
    name[QP_MAX_NAME] = 0; /* at the limit: fine */
    snprintf(text, 6 * QP_MAX_NAME + 256,
             "qgraph 1\nmodule %s nn.X {%s: %s}\n%%%s = placeholder x () {}\n"
             "%%output = output output (%%%s,) {}\n",
             name, name, name, name, name);
    rewrites_as(text, NULL);
    test_free(text);
    test_free(name);
}

/* ==== truncation ==== */

static uint32_t
lines_in(const char *s, size_t n)
{
    uint32_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

static void
truncated_text_is_never_taken_for_whole(void **state)
{
    (void)state;
    static const char *const files[] = {"fixtures/ffnet.in.qg", "fixtures/branchnet.in.qg"};
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        char *text = qpt_read_file(files[f], &len);
        assert_true(text[len - 1] == '\n');
        for (unsigned flags = 0; flags <= QP_READ_NO_VERIFY; flags += QP_READ_NO_VERIFY) {
            for (size_t k = 0; k <= len; k++) {
                /* exactly k bytes, so reading past them is caught by ASan */
                char *cut = malloc(k ? k : 1);
                memcpy(cut, text, k);
                qpt_alloc st;
                qpt_alloc_reset(&st);
                qp_allocator a = qpt_allocator(&st);
                qp_read_opts o = {&a, flags, NULL, NULL};
                qp_graph *g = NULL;
                qp_error err;
                qp_status rc = qp_graph_read_text(cut, k, &o, &g, &err);
                free(cut);
                if (rc == QP_OK) {
                    bool whole = k >= len - 1; /* the last newline is optional */
                    if (!whole) {
                        /* only the lenient reader keeps a cut graph, and it does not verify */
                        assert_int_equal(flags, QP_READ_NO_VERIFY);
                        assert_true(qp_graph_verify(g, NULL, NULL) != QP_OK);
                    } else {
                        char *out = qpt_graph_text(g);
                        assert_string_equal(out, text);
                        test_free(out);
                    }
                    qp_graph_destroy(g);
                } else {
                    assert_null(g);
                    assert_int_equal(err.status, rc);
                    if (err.line < 1 || err.line > lines_in(text, k) || !err.msg[0]) {
                        print_error("%s cut at %zu: %s at %u:%u '%s'\n", files[f], k,
                                    qp_status_str(rc), (unsigned)err.line, (unsigned)err.col,
                                    err.msg);
                        fail();
                    }
                }
                assert_int_equal(st.live, 0);
            }
        }
        test_free(text);
    }
}

/* ==== the lenient reader ==== */

static void
no_verify_keeps_structural_problems_only(void **state)
{
    (void)state;
    static const char *const structural[] = {
        "qgraph 1\n%a = placeholder a (%b,) {}\n%b = placeholder b () {}\n"
        "%output = output output (%a,) {}\n",
        "qgraph 1\n%x = placeholder x () {}\n%x = placeholder y () {}\n"
        "%output = output output (%x,) {}\n",
        "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n"
        "%y = placeholder y () {}\n",
        "qgraph 1\n%x = placeholder x () {}\n",
        "qgraph 1\n",
        "qgraph 1\n%x = call_module nowhere (%x,) {}\n%output = output output (%x,) {}\n",
    };
    for (size_t i = 0; i < sizeof structural / sizeof structural[0]; i++) {
        qpt_alloc st;
        qpt_alloc_reset(&st);
        qp_graph *g = read_ok(structural[i], strlen(structural[i]), QP_READ_NO_VERIFY, &st);
        assert_true(qp_graph_verify(g, NULL, NULL) != QP_OK);
        char *out = qpt_graph_text(g);
        assert_string_equal(out, structural[i]);
        test_free(out);
        qp_graph_destroy(g);
        assert_int_equal(st.live, 0);
        qp_graph *h = (qp_graph *)1;
        qp_error err;
        assert_true(qp_graph_read_text(structural[i], strlen(structural[i]), NULL, &h, &err) !=
                    QP_OK);
        assert_null(h);
    }
    /* syntax errors and undefined references still fail */
    const char *undef = "qgraph 1\n%x = placeholder x (%nowhere,) {}\n";
    expect_error_opts(undef, strlen(undef), QP_READ_NO_VERIFY, QP_ERR_DANGLING_EDGE, 2, 21,
                      "undefined node %nowhere");
    const char *open = "qgraph 1\n%x = placeholder x (\n";
    expect_error_opts(open, strlen(open), QP_READ_NO_VERIFY, QP_ERR_PARSE, 2, 0, "expected ')'");
}

static void
read_arguments_are_checked(void **state)
{
    (void)state;
    qp_graph *g = (qp_graph *)1;
    qp_error err;
    assert_int_equal(qp_graph_read_text(NULL, 5, NULL, &g, &err), QP_ERR_NULL_ARG);
    assert_null(g);
    assert_int_equal(err.status, QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_read_text("qgraph 1\n", 9, NULL, NULL, &err), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_read(NULL, NULL, NULL, &g, &err), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_read_file(NULL, NULL, &g, &err), QP_ERR_NULL_ARG);
    assert_null(g);
    /* NULL text of length 0 is empty input; err may be NULL */
    assert_int_equal(qp_graph_read_text(NULL, 0, NULL, &g, NULL), QP_ERR_PARSE);
    const char *ok = "qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n";
    assert_int_equal(qp_graph_read_text(ok, strlen(ok), NULL, &g, NULL), QP_OK); /* malloc */
    assert_string_equal(qp_graph_errmsg(g), "");
    qp_graph_destroy(g);
    /* files */
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fputs(every_value, f) >= 0, 1);
    rewind(f);
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_read_opts o = {&a, 0, NULL, NULL};
    assert_int_equal(qp_graph_read_file(f, &o, &g, &err), QP_OK);
    FILE *w = tmpfile();
    assert_int_equal(qp_graph_write_file(g, w), QP_OK);
    assert_int_equal(qp_graph_write_file(g, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_write_file(NULL, w), QP_ERR_NULL_ARG);
    rewind(w);
    char buf[sizeof every_value + 16];
    size_t n = fread(buf, 1, sizeof buf, w);
    assert_int_equal(n, strlen(every_value));
    assert_memory_equal(buf, every_value, n);
    fclose(w);
    fclose(f);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

/* A file is read from where it stands to its end, whatever its size (a big one is
 * sized at once from what is left of it), and a stream that cannot seek is read
 * the same. */
static void
files_are_read_from_their_position_and_pipes_too(void **state)
{
    (void)state;
    enum { N = 4000 }; /* over 64 KiB of text: the size hint applies */
    size_t len;
    char *text = qpt_relu_chain(N, "relu", &len);
    assert_true(len > 65536);
    FILE *f = tmpfile();
    assert_non_null(f);
    const char junk[] = "not a graph: skipped by the caller\n";
    assert_int_equal(fwrite(junk, 1, sizeof junk - 1, f), sizeof junk - 1);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fseek(f, (long)(sizeof junk - 1), SEEK_SET), 0);
    qp_graph *g = NULL;
    qp_error err;
    assert_int_equal(qp_graph_read_file(f, NULL, &g, &err), QP_OK);
    assert_int_equal(qp_graph_num_nodes(g), (uint32_t)N + 2);
    assert_true(feof(f) || fgetc(f) == EOF); /* read to its end */
    char *back = qpt_graph_text(g);
    assert_string_equal(back, text);
    test_free(back);
    qp_graph_destroy(g);
    fclose(f);
#if defined(__linux__)
    /* a pipe: no size to learn, the same graph */
    char cmd[64];
    FILE *t = tmpfile();
    assert_non_null(t);
    assert_int_equal(fwrite(text, 1, len, t), len);
    fflush(t);
    snprintf(cmd, sizeof cmd, "cat /dev/fd/%d", fileno(t));
    FILE *p = popen(cmd, "r");
    if (p) {
        assert_int_equal(qp_graph_read_file(p, NULL, &g, &err), QP_OK);
        back = qpt_graph_text(g);
        assert_string_equal(back, text);
        test_free(back);
        qp_graph_destroy(g);
        pclose(p);
    }
    fclose(t);
#endif
    test_free(text);
}

/* Many parameters, each read by a get_attr node, and many names on one base:
 * every parameter is found by its name (the verifier checks each get_attr), a
 * second definition is refused, and each name keeps its number. */
static void
many_parameters_and_name_bases(void **state)
{
    (void)state;
    enum { N = 3000 };
    size_t cap = (size_t)N * 128 + 256, len = 0;
    char *text = test_malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "qgraph 1\n");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "attr w%d {shape: (%d,)}\n", i, i + 1);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "%%w%d = get_attr w%d () {}\n", i, i);
    len += (size_t)snprintf(text + len, cap - len, "%%output = output output (%%w%d,) {}\n",
                            N - 1);
    qp_graph *g = NULL;
    qp_error err;
    assert_int_equal(qp_graph_read_text(text, len, NULL, &g, &err), QP_OK);
    assert_int_equal(qp_graph_num_nodes(g), (uint32_t)N + 1);
    char *back = qpt_graph_text(g);
    assert_string_equal(back, text);
    test_free(back);
    assert_int_equal(qp_graph_add_param(g, "w17", QP_NULL_VAL), QP_ERR_DUP_NAME);
    assert_int_equal(qp_graph_add_param(g, "w_new", QP_NULL_VAL), QP_OK);
    /* names on one base: torch.fx numbering, base_1, base_2, ... */
    qp_node prev = qp_graph_find_node(g, "w0");
    for (int i = 0; i < 50; i++) {
        qp_val a;
        assert_int_equal(qp_val_new_node(g, prev, &a), QP_OK);
        qp_val args;
        assert_int_equal(qp_val_new_tuple(g, 1, &a, &args), QP_OK);
        qp_node_spec spec = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, args, QP_NULL_VAL};
        assert_int_equal(qp_graph_insert_before(g, qp_graph_last(g), &spec, &prev), QP_OK);
        char want[32];
        if (i)
            snprintf(want, sizeof want, "relu_%d", i);
        else
            snprintf(want, sizeof want, "relu");
        assert_string_equal(qp_node_name(g, prev), want);
    }
    qp_graph_destroy(g);
    test_free(text);
}

struct sink {
    size_t calls, fail_at, bytes;
};

static int
sink_write(void *ud, const char *data, size_t len)
{
    struct sink *s = ud;
    (void)data;
    s->calls++;
    if (s->fail_at && s->calls >= s->fail_at)
        return -1;
    s->bytes += len;
    return 0;
}

static void
writing_stops_at_the_first_failed_write(void **state)
{
    (void)state;
    size_t len;
    char *text = qpt_read_file("fixtures/mobilenet_v3_large.Tensorrt.out.qg", &len);
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_graph *g = read_ok(text, len, 0, &st);
    struct sink all = {0, 0, 0};
    assert_int_equal(qp_graph_write_text(g, sink_write, &all), QP_OK);
    assert_int_equal(all.bytes, len);
    assert_true(all.calls > 3);
    size_t calls_before = st.calls;
    for (size_t k = 1; k <= all.calls; k++) {
        struct sink s = {0, k, 0};
        assert_int_equal(qp_graph_write_text(g, sink_write, &s), QP_ERR_IO);
        assert_int_equal(s.calls, k); /* never called again after it failed */
    }
    struct sink dot = {0, 0, 0};
    assert_int_equal(qp_graph_write_dot(g, sink_write, &dot), QP_OK);
    for (size_t k = 1; k <= dot.calls; k++) {
        struct sink d = {0, k, 0};
        assert_int_equal(qp_graph_write_dot(g, sink_write, &d), QP_ERR_IO);
        assert_int_equal(d.calls, k);
    }
    assert_int_equal(st.calls, calls_before); /* writing never allocates */
    assert_int_equal(qp_graph_write_text(g, NULL, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_write_text(NULL, sink_write, &all), QP_ERR_NULL_ARG);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    test_free(text);
}

static void
reading_fails_cleanly_without_memory(void **state)
{
    (void)state;
    size_t len;
    char *text = qpt_read_file("fixtures/ffnet.in.qg", &len);
    for (size_t k = 1;; k++) {
        qpt_alloc st;
        qpt_alloc_reset(&st);
        st.fail_at = k;
        qp_allocator a = qpt_allocator(&st);
        qp_read_opts o = {&a, 0, NULL, NULL};
        qp_graph *g = (qp_graph *)1;
        qp_error err;
        qp_status rc = qp_graph_read_text(text, len, &o, &g, &err);
        if (rc == QP_OK) {
            char *out = qpt_graph_text(g);
            assert_string_equal(out, text);
            test_free(out);
            qp_graph_destroy(g);
            assert_int_equal(st.live, 0);
            break;
        }
        assert_int_equal(rc, QP_ERR_NOMEM);
        assert_null(g);
        assert_int_equal(err.status, QP_ERR_NOMEM);
        assert_int_equal(st.live, 0);
        assert_true(k < 500);
    }
    test_free(text);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_round_trip_byte_for_byte),
        cmocka_unit_test(malformed_text_is_refused_with_its_place),
        cmocka_unit_test(every_value_form_round_trips),
        cmocka_unit_test(spacing_is_free_on_input_and_canonical_on_output),
        cmocka_unit_test(strings_with_any_bytes_round_trip),
        cmocka_unit_test(string_escapes_are_read_or_refused),
        cmocka_unit_test(floats_print_as_python_repr),
        cmocka_unit_test_teardown(float_text_ignores_the_locale, restore_locale),
        cmocka_unit_test(numbers_are_refused_unless_well_formed),
        cmocka_unit_test(integers_fit_in_64_bits),
        cmocka_unit_test(nesting_deeper_than_64_is_refused),
        cmocka_unit_test(duplicate_dict_keys_are_refused),
        cmocka_unit_test(modules_and_attrs_may_be_defined_once),
        cmocka_unit_test(nothing_but_comments_follows_the_output),
        cmocka_unit_test(lines_must_be_well_formed),
        cmocka_unit_test(bad_bytes_are_refused_with_line_and_column),
        cmocka_unit_test(crlf_input_reads_like_lf),
        cmocka_unit_test(comments_are_kept_only_right_after_the_header),
        cmocka_unit_test(streaming_gives_the_same_graph),
        cmocka_unit_test(read_callback_failures_are_io_errors),
        cmocka_unit_test(long_lines_are_refused_with_their_line),
        cmocka_unit_test(truncated_text_is_never_taken_for_whole),
        cmocka_unit_test(no_verify_keeps_structural_problems_only),
        cmocka_unit_test(read_arguments_are_checked),
        cmocka_unit_test(files_are_read_from_their_position_and_pipes_too),
        cmocka_unit_test(many_parameters_and_name_bases),
        cmocka_unit_test(writing_stops_at_the_first_failed_write),
        cmocka_unit_test(reading_fails_cleanly_without_memory),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
