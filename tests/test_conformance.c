/*
 * test_conformance.c - every conformance fixture MODEL.BACKEND[.CFG].out.qg
 * (MQBench's prepare_by_platform output) against qp_prepare_qat on
 * MODEL.in.qg, by FORMAT.md's rules; configurations are found as FORMAT.md
 * "Fixture names" says. Prints "N/M fixtures conform" and fails unless all do.
 */
#include "testlib.h"

#include <string.h>

unsigned qpt_compare(const qp_graph *e, const qp_graph *a, char *out, size_t cap);

/* Runs one fixture; returns true when it conforms. */
/* text without its comment lines (where qprep and MQBench say different things) */
static char *
uncommented(const char *text)
{
    size_t n = strlen(text), o = 0;
    char *out = test_malloc(n + 1);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        if (*p != '#') {
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    out[o] = 0;
    return out;
}

static size_t bytewise; /* fixtures whose text qprep writes byte for byte */

static bool
one(const char *name)
{
    qpt_fixture f;
    if (!qpt_fixture_parse(name, &f))
        return false;
    char rel[512];
    snprintf(rel, sizeof rel, "fixtures/%s.in.qg", f.model);
    char *in = qpt_read_file(rel, NULL);
    snprintf(rel, sizeof rel, "fixtures/%s", name);
    char *want = qpt_read_file(rel, NULL);
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse(in, &a), *e = qpt_parse(want, NULL);
    qp_backend be;
    assert_int_equal(qp_backend_from_name(f.backend, &be), QP_OK);
    qp_config *c = f.cfg_rel[0] ? qpt_config_file(f.cfg_rel) : NULL;
    qp_status rc = qp_prepare_qat(g, be, c);
    bool ok = false;
    if (rc) {
        print_message("%s: prepare failed: %s: %s\n", name, qp_status_str(rc), qp_graph_errmsg(g));
    } else {
        char diff[2048];
        unsigned n = qpt_compare(e, g, diff, sizeof diff);
        ok = n == 0;
        if (!ok)
            print_message("%s: %u differences\n%s", name, n, diff);
        /* beyond the rules: module order and attribute text as MQBench's own */
        char *mine = qpt_graph_text(g), *a = uncommented(mine), *b = uncommented(want);
        if (!strcmp(a, b))
            bytewise++;
        else
            print_message("%s: conforms, but its text is not MQBench's byte for byte\n", name);
        test_free(mine);
        test_free(a);
        test_free(b);
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    }
    qp_config_destroy(c);
    qp_graph_destroy(g);
    qp_graph_destroy(e);
    assert_int_equal(st.live, 0);
    test_free(in);
    test_free(want);
    return ok;
}

static void
run(bool configs)
{
    char **names;
    size_t n = qpt_list("fixtures", ".out.qg", &names), total = 0, ok = 0;
    bytewise = 0;
    for (size_t i = 0; i < n; i++) {
        /* MODEL.BACKEND.out.qg has three dots, a config fixture four */
        unsigned dots = 0;
        for (const char *p = names[i]; *p; p++)
            dots += *p == '.';
        if ((dots == 4) != configs)
            continue;
        total++;
        ok += one(names[i]);
    }
    qpt_free_list(names, n);
    print_message("%zu/%zu fixtures conform (%s)\n", ok, total,
                  configs ? "with configurations" : "backend defaults");
    print_message("%zu/%zu written byte for byte as MQBench's (comments aside)\n", bytewise,
                  total);
    assert_true(total > 0);
    assert_int_equal(ok, total);
    assert_int_equal(bytewise, total);
}

static void
default_fixtures_conform(void **state)
{
    (void)state;
    run(false);
}

static void
configuration_fixtures_conform(void **state)
{
    (void)state;
    run(true);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_fixtures_conform),
        cmocka_unit_test(configuration_fixtures_conform),
    };
    return cmocka_run_group_tests_name("conformance", tests, NULL, NULL);
}
