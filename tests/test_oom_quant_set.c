/*
 * test_oom_quant_set.c - the out-of-memory sweep of quantizer sets: for k = 1,
 * 2, ... allocation k fails (alone, and with every later one) in
 * qp_quant_set_create and in the state file's reader. A failed creation
 * returns QP_ERR_NOMEM with no set and nothing leaked; a failed load returns
 * QP_ERR_NOMEM with every state entry as it was (the whole state file written
 * back is the same) and no memory kept. The load that finally succeeds gives
 * what a load without faults gives.
 */
#include "testlib.h"

#include "textbuf.h"

#include <qprep/quant.h>

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
saved(const qp_quant_set *s)
{
    qpt_textbuf b = {NULL, 0, 0};
    assert_int_equal(qp_quant_set_save(s, buf_write, &b), QP_OK);
    return b.p;
}

static qp_graph *
read_fixture(const char *rel)
{
    size_t len;
    char *text = qpt_read_file(rel, &len);
    qp_graph *g = NULL;
    qp_error err;
    assert_int_equal(qp_graph_read_text(text, len, NULL, &g, &err), QP_OK);
    test_free(text);
    return g;
}

static void
create_sweep(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/seednet.Vitis.out.qg");
    qpt_alloc st;
    qp_allocator a = qpt_allocator(&st);
    size_t points = 0;
    for (int after = 0; after < 2; after++) {
        for (size_t k = 1;; k++) {
            qpt_alloc_reset(&st);
            st.fail_at = k;
            st.fail_after = after;
            qp_quant_set *s = (qp_quant_set *)1;
            qp_error err;
            qp_status rc = qp_quant_set_create(g, QP_BACKEND_VITIS, NULL, &a, &s, &err);
            if (rc) {
                assert_int_equal(rc, QP_ERR_NOMEM);
                assert_int_equal(err.status, QP_ERR_NOMEM);
                assert_null(s);
                assert_int_equal(st.live, 0);
                points++;
                continue;
            }
            assert_int_equal(st.failed, 0);
            qp_quant_set_destroy(s);
            assert_int_equal(st.live, 0);
            break;
        }
    }
    print_message("quant set create: %zu failing allocation points\n", points);
    assert_true(points > 20);
    qp_graph_destroy(g);
}

/* Calibrates every quantizer once on data of shape (C, 3, 2, 2). */
static void
feed(qp_quant_set *s, int64_t C)
{
    int64_t shape[4] = {C, 3, 2, 2};
    float x[16 * 12], y[16 * 12];
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        for (int64_t k = 0; k < C * 12; k++)
            x[k] = (float)((k * 7 + i * 3) % 23) / 7.0f - 1.5f;
        assert_int_equal(qp_quant_forward(e.q, x, y, shape, 4), QP_OK);
    }
}

/* Loads `file` into a set calibrated on C channels under every failing allocation. */
static size_t
load_sweep(const char *file, int64_t C)
{
    qp_graph *g = read_fixture("fixtures/seednet.Tensorrt.out.qg");
    qpt_alloc st;
    qp_allocator a = qpt_allocator(&st);
    /* the state a load without faults gives */
    qpt_alloc_reset(&st);
    qp_quant_set *s = NULL;
    assert_int_equal(qp_quant_set_create(g, QP_BACKEND_TENSORRT, NULL, &a, &s, NULL), QP_OK);
    qp_quant_set_enable_calibration(s);
    feed(s, C);
    qp_error err;
    assert_int_equal(qp_quant_set_load_text(s, file, strlen(file), &err), QP_OK);
    char *want = saved(s);
    qp_quant_set_destroy(s);
    size_t points = 0;
    for (int after = 0; after < 2; after++) {
        for (size_t k = 1;; k++) {
            qpt_alloc_reset(&st);
            assert_int_equal(qp_quant_set_create(g, QP_BACKEND_TENSORRT, NULL, &a, &s, NULL),
                             QP_OK);
            qp_quant_set_enable_calibration(s);
            feed(s, C);
            char *before = saved(s);
            size_t live = st.live;
            st.fail_at = st.calls + k;
            st.fail_after = after;
            qp_status rc = qp_quant_set_load_text(s, file, strlen(file), &err);
            st.fail_at = 0;
            char *now = saved(s);
            if (rc) {
                assert_int_equal(rc, QP_ERR_NOMEM);
                assert_int_equal(err.status, QP_ERR_NOMEM);
                assert_string_equal(before, now);
                /* only room reserved in entries (values untouched) may remain; the
                 * reader's own buffers are gone */
                assert_true(st.live >= live);
                points++;
            } else {
                assert_string_equal(want, now);
            }
            test_free(now);
            test_free(before);
            qp_quant_set_destroy(s);
            assert_int_equal(st.live, 0);
            if (!rc)
                break;
        }
    }
    test_free(want);
    qp_graph_destroy(g);
    return points;
}

static void
load_sweep_same_shapes(void **state)
{
    (void)state;
    /* entries of the shapes they have: the reader's own buffers only */
    static const char file[] =
        "qstate 1\n"
        "tensor conv1_1.weight_fake_quant.scale f32 (4,) [0.5, 0.25, 0.125, 1.5]\n"
        "tensor conv1_1.weight_fake_quant.fake_quant_enabled u8 (1,) [0]\n"
        "tensor lrelu_1_post_act_fake_quantizer.activation_post_process.min_val f32 () [-2.5]\n"
        "tensor lrelu_1_post_act_fake_quantizer.scale f32 (1,) [0.03125]\n";
    size_t points = load_sweep(file, 4);
    print_message("state load: %zu failing allocation points\n", points);
    assert_true(points >= 3);
}

static void
load_sweep_resizing(void **state)
{
    (void)state;
    /* per-channel entries grown past their room: the entries' own allocations too */
    static const char file[] =
        "qstate 1\n"
        "tensor conv1_1.weight_fake_quant.scale f32 (6,) [1, 2, 3, 4, 5, 6]\n"
        "tensor conv1_1.weight_fake_quant.zero_point f32 (6,) [0, 0, 0, 0, 0, 0]\n"
        "tensor conv1_1.weight_fake_quant.activation_post_process.min_val f32 (6,) "
        "[-1, -2, -3, -4, -5, -6]\n"
        "tensor conv1_2.weight_fake_quant.activation_post_process.max_val f32 (9,) "
        "[1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
    size_t points = load_sweep(file, 2);
    print_message("state load with resizes: %zu failing allocation points\n", points);
    assert_true(points >= 6);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_sweep),
        cmocka_unit_test(load_sweep_same_shapes),
        cmocka_unit_test(load_sweep_resizing),
    };
    return cmocka_run_group_tests_name("oom_quant_set", tests, NULL, NULL);
}
