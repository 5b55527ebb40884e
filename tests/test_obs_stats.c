/*
 * test_obs_stats.c - the statistical observers on inputs whose answer follows
 * from MQBench's rules by hand: EMAQuantileObserver's histogram walk (the top
 * edge in the last bin, the EMA), ClipStdObserver's mean -/+ std_scale * std
 * (per tensor and per channel), MSEObserver's candidate ranges and its
 * (1,)-shaped range when no candidate scores below 1e10, EMAMSEObserver's
 * average; their keyword arguments; and the inputs where MQBench raises
 * (a clear status, the state unchanged). The numerics cases (ctest -L
 * numerics) prove the same kinds against MQBench bit for bit.
 */
#include "testlib.h"

#include <math.h>
#include <qprep/quant.h>

#define ACADEMIC(obs, bits, sym, pc, extra)                                                        \
    "qcfg 1\nextra_qconfig_dict = {w_observer: \"" obs "\", a_observer: \"" obs "\", "             \
    "w_fakequantize: \"LearnableFakeQuantize\", a_fakequantize: \"LearnableFakeQuantize\", "       \
    "w_qscheme: {bit: " bits ", symmetry: " sym ", per_channel: " pc ", pot_scale: False}, "       \
    "a_qscheme: {bit: " bits ", symmetry: " sym ", per_channel: " pc ", pot_scale: False}" extra   \
    "}\n"

static qp_quant *
make(const char *cfg_text, qp_side side)
{
    qp_config *c = qpt_config(cfg_text);
    qp_quant *q = NULL;
    qp_error err;
    qp_status rc = qp_quant_create(NULL, QP_BACKEND_ACADEMIC, side, c, NULL, &q, &err);
    qp_config_destroy(c);
    if (rc)
        fail_msg("%s: %s", qp_status_str(rc), err.msg);
    /* calibration: the observer alone */
    qp_quant_enable_fake_quant(q, false);
    return q;
}

static const float *
state(const qp_quant *q, const char *name, qp_tensor *t)
{
    assert_int_equal(qp_quant_state_get(q, name, t), QP_OK);
    assert_int_equal(t->dtype, QP_DT_F32);
    return t->data;
}

static float
min_val(const qp_quant *q, size_t c)
{
    qp_tensor t;
    return state(q, "activation_post_process.min_val", &t)[c];
}

static float
max_val(const qp_quant *q, size_t c)
{
    qp_tensor t;
    return state(q, "activation_post_process.max_val", &t)[c];
}

/* Every state entry's bytes, to check a failed call changed nothing. */
struct snap {
    uint32_t n;
    size_t numel[24];
    uint32_t ndim[24];
    unsigned char data[24][512];
};

static void
take(const qp_quant *q, struct snap *s)
{
    memset(s, 0, sizeof *s);
    s->n = qp_quant_num_state(q);
    assert_true(s->n <= 24);
    for (uint32_t i = 0; i < s->n; i++) {
        const char *name;
        qp_tensor t;
        assert_int_equal(qp_quant_state_at(q, i, &name, &t), QP_OK);
        size_t es = t.dtype == QP_DT_U8 || t.dtype == QP_DT_BOOL ? 1 : t.dtype == QP_DT_I64 ? 8 : 4;
        assert_true(t.numel * es <= sizeof s->data[i]);
        memcpy(s->data[i], t.data, t.numel * es);
        s->numel[i] = t.numel;
        s->ndim[i] = t.ndim;
    }
}

static void
unchanged(const qp_quant *q, const struct snap *a)
{
    struct snap b;
    take(q, &b);
    assert_int_equal(a->n, b.n);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_int_equal(a->numel[i], b.numel[i]);
        assert_int_equal(a->ndim[i], b.ndim[i]);
        assert_memory_equal(a->data[i], b.data[i], sizeof a->data[i]);
    }
}

/* x = 1..10, bins 10 over [0, 10]: bin k holds k for k = 1..8 and the last bin
 * both 9 and 10 (the top edge belongs to it). The walk stops at the first bin
 * where the running count reaches threshold * 10, and clips at its middle. */
static void
quantile_walks_the_histogram(void **st)
{
    (void)st;
    float x[10], y[10];
    for (int i = 0; i < 10; i++)
        x[i] = (float)(i + 1);
    int64_t shape[1] = {10};
    qp_quant *q = make(ACADEMIC("EMAQuantileObserver", "8", "False", "False",
                                ", a_observer_extra_args: {threshold: 0.5, bins: 10}"),
                       QP_ACT);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    assert_memory_equal(x, y, sizeof x);
    /* count 5 reached in bin 5: clip 5.5 * (10 / 10) */
    assert_true(min_val(q, 0) == 1.0f);
    assert_true(max_val(q, 0) == 5.5f);
    /* the second input averages in: min_val * 0.9 + cur * (1 - 0.9), in float */
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    float r = 0.9f, r1 = (float)(1.0 - 0.9);
    float a = 1.0f * r, b = 1.0f * r1, c = 5.5f * r, d = 5.5f * r1;
    assert_true(min_val(q, 0) == a + b);
    assert_true(max_val(q, 0) == c + d);
    qp_quant_destroy(q);

    /* threshold 1: all 10 counted only with the last bin's two: clip 9.5 */
    q = make(ACADEMIC("EMAQuantileObserver", "8", "False", "False",
                      ", a_observer_extra_args: {threshold: 1.0, bins: 10, ema_ratio: 0.5}"),
             QP_ACT);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    assert_true(max_val(q, 0) == 9.5f);
    /* ema_ratio honoured on a negated input (clipped to [-9.5, -1]) */
    for (int i = 0; i < 10; i++)
        x[i] = -x[i];
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    /* now min is max(-10, -9.5) = -9.5 and max min(-1, 9.5) = -1 */
    assert_true(min_val(q, 0) == 1.0f * 0.5f + -9.5f * 0.5f);
    assert_true(max_val(q, 0) == 9.5f * 0.5f + -1.0f * 0.5f);
    qp_quant_destroy(q);
}

static void
quantile_refuses_what_mqbench_raises(void **st)
{
    (void)st;
    /* positive constant data: the clip (a bin's middle) falls below the minimum,
     * and MQBench's calculate_qparams asserts min <= max */
    float x[8], y[8];
    for (int i = 0; i < 8; i++)
        x[i] = 0.75f;
    int64_t shape[2] = {2, 4};
    qp_quant *q = make(ACADEMIC("EMAQuantileObserver", "8", "False", "False", ""), QP_ACT);
    struct snap s;
    take(q, &s);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(q), "AssertionError"));
    unchanged(q, &s);
    /* all zeros are fine: histc widens the empty range to [-1, 1] */
    memset(x, 0, sizeof x);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
    assert_true(min_val(q, 0) == 0.0f && max_val(q, 0) == 0.0f);
    qp_quant_destroy(q);

    /* per channel: MQBench's constructor asserts per tensor */
    qp_config *c = qpt_config(ACADEMIC("EMAQuantileObserver", "8", "True", "True", ""));
    qp_error err;
    qp_status rc = qp_quant_create(NULL, QP_BACKEND_ACADEMIC, QP_WEIGHT, c, NULL, &q, &err);
    assert_int_equal(rc, QP_ERR_INVALID_QCONFIG);
    assert_null(q);
    assert_non_null(strstr(err.msg, "per tensor only"));
    qp_config_destroy(c);
}

/* x = {0, 2}: mean 1, unbiased std sqrt(2) (in double, then float). */
static void
clipstd_widens_to_the_std(void **st)
{
    (void)st;
    float x[4] = {0.0f, 2.0f, 5.0f, 5.0f}, y[4];
    int64_t two[1] = {2}, shape[2] = {2, 2};
    float sd = (float)sqrt(2.0);
    qp_quant *q = make(ACADEMIC("ClipStdObserver", "8", "False", "False", ""), QP_ACT);
    assert_int_equal(qp_quant_forward(q, x, y, two, 1), QP_OK);
    float t = (float)2.6 * sd;
    assert_true(min_val(q, 0) == 1.0f - t);
    assert_true(max_val(q, 0) == 1.0f + t);
    qp_quant_destroy(q);

    /* per channel, std_scale given: row 1 is constant (std 0) and keeps its range */
    q = make(ACADEMIC("ClipStdObserver", "4", "True", "True",
                      ", w_observer_extra_args: {std_scale: 1.5}"),
             QP_WEIGHT);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
    t = 1.5f * sd;
    assert_true(min_val(q, 0) == 1.0f - t);
    assert_true(max_val(q, 0) == 1.0f + t);
    assert_true(min_val(q, 1) == 5.0f && max_val(q, 1) == 5.0f);
    /* the range is replaced, not accumulated */
    float z[4] = {0.0f, 0.0f, 1.0f, 1.0f};
    assert_int_equal(qp_quant_forward(q, z, y, shape, 2), QP_OK);
    assert_true(min_val(q, 0) == 0.0f && max_val(q, 0) == 0.0f);
    assert_true(min_val(q, 1) == 1.0f && max_val(q, 1) == 1.0f);
    /* one element a channel: torch's std is nan and MQBench raises */
    struct snap s;
    take(q, &s);
    int64_t col[2] = {2, 1};
    assert_int_equal(qp_quant_forward(q, x, y, col, 2), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(q), "std needs 2"));
    unchanged(q, &s);
    /* a 1-d x per channel: MQBench's flatten(start_dim=1) raises */
    int64_t flat[1] = {4};
    assert_int_equal(qp_quant_forward(q, x, y, flat, 1), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(q), "IndexError"));
    unchanged(q, &s);
    qp_quant_destroy(q);
}

/* The i < 95 for which the chosen range is the input's times (float)(1 - i / 100),
 * or -1. */
static int
candidate(float chosen, float full)
{
    for (int i = 0; i < 95; i++)
        if (chosen == full * (float)(1.0 - i * 0.01))
            return i;
    return -1;
}

static void
mse_picks_a_candidate_range(void **st)
{
    (void)st;
    float x[64], y[64];
    for (int i = 0; i < 64; i++)
        x[i] = (float)((i * 37) % 64) / 32.0f - 1.0f;
    x[5] = 12.0f; /* an outlier the search clips */
    int64_t shape[1] = {64};
    qp_quant *q = make(ACADEMIC("MSEObserver", "4", "False", "False", ""), QP_ACT);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    float mn = min_val(q, 0), mx = max_val(q, 0);
    int i = candidate(mx, 12.0f);
    assert_true(i > 0); /* at 4 bits, clipping the outlier costs less than a coarse grid */
    assert_int_equal(candidate(mn, -1.0f), i);
    /* the running range: a narrower input leaves it, a wider one extends it */
    for (int i = 0; i < 64; i++)
        x[i] *= 0.25f;
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    assert_true(min_val(q, 0) == mn && max_val(q, 0) == mx);
    qp_quant_destroy(q);

    /* no candidate scores below 1e10: MQBench keeps a (1,)-shaped copy of the range */
    for (int i = 0; i < 64; i++)
        x[i] = (float)(i - 32) * 1e20f;
    q = make(ACADEMIC("MSEObserver", "8", "True", "False", ""), QP_ACT);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    qp_tensor t;
    const float *v = state(q, "activation_post_process.min_val", &t);
    assert_int_equal(t.ndim, 1);
    assert_int_equal(t.shape[0], 1);
    assert_true(v[0] == -32.0f * 1e20f);
    qp_quant_destroy(q);
}

static void
ema_mse_averages_the_choices(void **st)
{
    (void)st;
    float x[24], y[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i * 7) % 24) / 8.0f - 1.5f;
    int64_t shape[2] = {3, 8};
    qp_quant *q = make(ACADEMIC("EMAMSEObserver", "3", "True", "True",
                                ", w_observer_extra_args: {ema_ratio: 0.75, p: 1.0}"),
                       QP_WEIGHT);
    struct snap s;
    take(q, &s);
    int64_t flat[1] = {24}; /* a 1-d x per channel: MQBench's flatten(start_dim=1) raises */
    assert_int_equal(qp_quant_forward(q, x, y, flat, 1), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(q), "IndexError"));
    unchanged(q, &s);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
    float mn[3], mx[3];
    for (size_t c = 0; c < 3; c++) {
        mn[c] = min_val(q, c);
        mx[c] = max_val(q, c);
        assert_true(mn[c] <= 0.0f && mx[c] >= 0.0f);
    }
    /* the same input chooses the same ranges: r * old + (1 - r) * new, in float */
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
    float r = 0.75f, r1 = (float)(1.0 - 0.75);
    for (size_t c = 0; c < 3; c++) {
        float a = mn[c] * r, b = mn[c] * r1, e = mx[c] * r, g = mx[c] * r1;
        assert_true(min_val(q, c) == a + b);
        assert_true(max_val(q, c) == e + g);
    }
    qp_quant_destroy(q);
}

/* Allocation k fails, alone and with every later one, for each kind: creation
 * gives NOMEM and nothing, a forward NOMEM with the state as it was; no leak. */
static void
out_of_memory_sweep(void **st)
{
    (void)st;
    static const char *const cfgs[] = {
        ACADEMIC("MSEObserver", "4", "True", "True", ""),
        ACADEMIC("EMAMSEObserver", "8", "False", "True", ""),
        ACADEMIC("ClipStdObserver", "4", "True", "True", ""),
        ACADEMIC("EMAQuantileObserver", "8", "False", "False", ""),
    };
    int64_t shape[2] = {80, 5}; /* 80 channels: past the kinds' stack buffers */
    float x[400], y[400];
    for (int i = 0; i < 400; i++)
        x[i] = (float)((i * 53) % 97) / 16.0f - 3.0f;
    for (size_t k = 0; k < sizeof cfgs / sizeof *cfgs; k++) {
        qp_config *c = qpt_config(cfgs[k]);
        qp_side side = k < 3 ? QP_WEIGHT : QP_ACT;
        for (int after = 0; after < 2; after++) {
            size_t points = 0;
            for (size_t at = 1;; at++) {
                qpt_alloc fa;
                qpt_alloc_reset(&fa);
                qp_allocator al = qpt_allocator(&fa);
                fa.fail_at = at;
                fa.fail_after = after;
                qp_quant *q = NULL;
                qp_error err;
                qp_status rc = qp_quant_create(&al, QP_BACKEND_ACADEMIC, side, c, NULL, &q, &err);
                if (rc) {
                    assert_int_equal(rc, QP_ERR_NOMEM);
                    assert_null(q);
                    assert_int_equal(fa.live, 0);
                    points++;
                    continue;
                }
                qp_quant_enable_fake_quant(q, false);
                for (int step = 0; step < 2 && !rc; step++) {
                    struct snap s;
                    take(q, &s);
                    rc = qp_quant_forward(q, x, y, shape, 2);
                    if (rc) {
                        assert_int_equal(rc, QP_ERR_NOMEM);
                        unchanged(q, &s);
                        points++;
                    }
                }
                qp_quant_destroy(q);
                assert_int_equal(fa.live, 0);
                if (!rc && !fa.failed)
                    break; /* at is past every allocation */
            }
            assert_true(points > 3);
        }
        qp_config_destroy(c);
    }
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantile_walks_the_histogram),
        cmocka_unit_test(quantile_refuses_what_mqbench_raises),
        cmocka_unit_test(clipstd_widens_to_the_std),
        cmocka_unit_test(mse_picks_a_candidate_range),
        cmocka_unit_test(ema_mse_averages_the_choices),
        cmocka_unit_test(out_of_memory_sweep),
    };
    return cmocka_run_group_tests_name("obs_stats", tests, NULL, NULL);
}
