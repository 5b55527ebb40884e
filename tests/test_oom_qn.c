/*
 * test_oom_qn.c - the out-of-memory sweep of the .qn case reader (the CLI's
 * examples/cli/qn.c, which allocates only through the caller's allocator): for
 * k = 1, 2, ... allocation k fails, alone and with every later one, until the
 * read succeeds. Every failed read must return QP_ERR_NOMEM with no file and
 * nothing leaked; the read that finally succeeds must write the same text as a
 * read without faults. Run on the smallest recorded case of each fake-quantizer
 * kind and on a small case of every construct.
 */
#include "testlib.h"

#include "qn.h"
#include "textbuf.h"

#include <string.h>

static void *
re(void *p, size_t n)
{
    return test_realloc(p, n);
}

static int
buf_write(void *ud, const char *data, size_t len)
{
    return qpt_textbuf_append(ud, data, len, re);
}

static char *
written(const qn_file *f)
{
    qpt_textbuf b = {NULL, 0, 0};
    qn_out *o = test_malloc(sizeof *o);
    qn_out_init(o, buf_write, &b);
    qn_write_file(o, f);
    assert_int_equal(qn_out_flush(o), QP_OK);
    test_free(o);
    return b.p;
}

/* Returns the number of allocation points. */
static size_t
sweep(const char *what, const char *text, size_t len)
{
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qn_file *f = NULL;
    qp_error err;
    assert_int_equal(qn_read(text, len, &a, &f, &err), QP_OK);
    char *want = written(f);
    qn_free(f);
    assert_int_equal(st.live, 0);
    size_t points = st.calls;
    for (size_t k = 1;; k++) {
        for (int after = 0; after < 2; after++) {
            qpt_alloc_reset(&st);
            st.fail_at = k;
            st.fail_after = after;
            f = (qn_file *)1;
            qp_status rc = qn_read(text, len, &a, &f, &err);
            if (!st.failed) {
                /* past the last allocation: the same file as without faults */
                assert_int_equal(rc, QP_OK);
                assert_int_equal(k, points + 1);
                char *got = written(f);
                assert_string_equal(got, want);
                test_free(got);
                qn_free(f);
                assert_int_equal(st.live, 0);
                test_free(want);
                print_message("%s: %zu allocation points\n", what, points);
                return points;
            }
            if (rc != QP_ERR_NOMEM || err.status != QP_ERR_NOMEM || f != NULL) {
                print_error("%s: allocation %zu failing%s gave %s (%s)\n", what, k,
                            after ? " (and every later one)" : "", qp_status_str(rc), err.msg);
                fail();
            }
            assert_int_equal(st.live, 0);
            assert_int_equal(st.live_blocks, 0);
        }
    }
}

static void
reading_cases_survives_every_failed_allocation(void **state)
{
    (void)state;
    static const char *const files[] = {
        "numerics/cases/SNPE.w.edge-zeros.qn",
        "numerics/cases/Academic.PACT.MinMax.a8t.a.relu.qn",
        "numerics/cases/Vitis.a.edge-tiny.qn",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        char *text = qpt_read_file(files[i], &len);
        assert_true(sweep(files[i], text, len) > 10);
        test_free(text);
    }
    static const char text[] =
        "qnum 1\n# a comment\ncase t\nbackend Academic\nrole activation\n"
        "config {a_fakequantize: \"LearnableFakeQuantize\"}\nch_axis 1\nquant_type \"param\"\n"
        "step {observer: True, fake_quant: False, lr: 0.01}\n"
        "tensor x f32 (2, 1) [1.5, -inf]\ntensor state.n i64 () [-1]\n"
        "tensor state.b bool (0,) []\nend\n# after\ncase u\nbackend SNPE\nrole weight\nend\n"
        "# the end\n";
    sweep("every construct", text, sizeof text - 1);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reading_cases_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests_name("oom_qn", tests, NULL, NULL);
}
