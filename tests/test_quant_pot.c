/*
 * test_quant_pot.c - the Vitis, NNIE, fixed and LSQ-observer kinds of the
 * quantizer runtime, checked against their rules computed here independently
 * (in double, element by element): TqtFakeQuantize with MinMaxFloorObserver /
 * PoTModeObserver (the power-of-two search, the most frequent exponent, the
 * grid's two roundings), NNIEFakeQuantize's logarithmic grid and data_max,
 * FixedFakeQuantize's zero-point check, LSQObserver's scale from the mean
 * absolute value and its 0-d qparams, and where MQBench raises (data of
 * magnitude 1e20 under PoTMode, no quant_type) a status with the state
 * unchanged. The recorded MQBench numbers are the numerics cases' job.
 */
#include "testlib.h"

#include <float.h>
#include <math.h>
#include <qprep/quant.h>

/* Deterministic data in [-a, a). */
static void
fill(float *x, size_t n, uint32_t seed, float a)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f) * a;
    }
}

static qp_quant *
make(qp_backend be, qp_side side, const qp_config *cfg, const char *quant_type)
{
    qp_quant_opts o = qp_quant_opts_default();
    o.quant_type = quant_type;
    qp_quant *q = NULL;
    qp_error err;
    qp_status rc = qp_quant_create(NULL, be, side, cfg, &o, &q, &err);
    if (rc)
        fail_msg("%s: %s: %s", qp_backend_name(be), qp_status_str(rc), err.msg);
    return q;
}

static float
state_f32(const qp_quant *q, const char *name, size_t i)
{
    qp_tensor t;
    assert_int_equal(qp_quant_state_get(q, name, &t), QP_OK);
    assert_int_equal(t.dtype, QP_DT_F32);
    assert_true(i < t.numel);
    return ((const float *)t.data)[i];
}

/* A copy of every state entry's bytes, to check a failed call changed nothing. */
struct snap {
    uint32_t n;
    size_t len[32];
    unsigned char data[32][256];
};

static void
take(const qp_quant *q, struct snap *s)
{
    memset(s, 0, sizeof *s);
    s->n = qp_quant_num_state(q);
    assert_true(s->n <= 32);
    for (uint32_t i = 0; i < s->n; i++) {
        const char *name;
        qp_tensor t;
        assert_int_equal(qp_quant_state_at(q, i, &name, &t), QP_OK);
        s->len[i] = t.numel * (t.dtype == QP_DT_F32 || t.dtype == QP_DT_I32 ? 4 : 1);
        assert_true(s->len[i] <= sizeof s->data[i]);
        memcpy(s->data[i], t.data, s->len[i]);
    }
}

static void
same(const qp_quant *q, const struct snap *a)
{
    struct snap b;
    take(q, &b);
    assert_int_equal(a->n, b.n);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_int_equal(a->len[i], b.len[i]);
        assert_memory_equal(a->data[i], b.data[i], a->len[i]);
    }
}

/* ---- the power-of-two rules, in double ---- */

/* Rounds t onto the integers: half to even ("param"), or negative ties up. */
static double
pot_round(double t, bool half_even)
{
    double r = nearbyint(t);
    if (!half_even && t < 0 && t - floor(t) == 0.5)
        r = ceil(t);
    return r;
}

static double
grid_value(double x, int e, double lo, double hi, bool half_even)
{
    double step = ldexp(1.0, -e), t = x / step;
    if (!half_even) /* clamp, then round */
        return pot_round(t < lo ? lo : t > hi ? hi : t, false) * step;
    double r = pot_round(t, true);
    return (r < lo ? lo : r > hi ? hi : r) * step;
}

/* MinMaxFloor's choice: from floor(log2(1 / max(min / qmin, max / qmax))), the
 * first of `range` exponents with the least squared error, at most 12. */
static int
best_exponent(const float *x, size_t n, double lo, double hi, int range, bool half_even)
{
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
    }
    double sc = fmax(mn / lo, mx / hi);
    int e0 = sc < ldexp(1.0, -15) ? 0 : (int)floor(log2(1.0 / sc));
    int best = e0;
    double bl = INFINITY;
    for (int e = e0; e < e0 + range; e++) {
        double l = 0;
        for (size_t i = 0; i < n; i++) {
            /* squares in float, as torch's: past FLT_MAX they are inf */
            float d = (float)(grid_value(x[i], e, lo, hi, half_even) - x[i]);
            l += (double)(d * d);
        }
        if (l > FLT_MAX)
            l = INFINITY;
        if (l < bl) {
            bl = l;
            best = e;
        }
    }
    return best < 12 ? best : 12;
}

static void
vitis_weight_takes_the_best_power_of_two(void **state)
{
    (void)state;
    qp_quant *q = make(QP_BACKEND_VITIS, QP_WEIGHT, NULL, "param");
    qp_quant_info in;
    qp_quant_get_info(q, &in);
    assert_int_equal(in.fake_quant, QP_FQ_TQT);
    assert_int_equal(in.observer, QP_OBS_MINMAX_FLOOR);
    double lo = (double)in.quant_min, hi = (double)in.quant_max;
    int64_t shape[2] = {16, 9};
    float x[144], y[144], dy[144], dx[144];
    for (uint32_t seed = 1; seed <= 6; seed++) {
        /* ranges from 0.01 to 300: exponents on both sides of 0 */
        fill(x, 144, seed, (float)(0.01 * pow(10.0, (double)seed / 2.0)));
        qp_quant_enable_observer(q, true);
        qp_quant_enable_fake_quant(q, false);
        assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
        assert_memory_equal(x, y, sizeof x);
        int e = best_exponent(x, 144, lo, hi, 5, true);
        assert_true(state_f32(q, "scale", 0) == (float)ldexp(1.0, -e));
        assert_true(state_f32(q, "zero_point", 0) == 0.0f);
        /* train: the grid, rounding half to even */
        qp_quant_enable_observer(q, false);
        qp_quant_enable_fake_quant(q, true);
        x[0] = (float)ldexp(2.5, -e);  /* a tie: to 2 */
        x[1] = (float)ldexp(-2.5, -e); /* to -2 */
        x[3] = (float)ldexp(-3.5, -e); /* to -4 (not up to -3, as "tensor" rounds) */
        assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
        for (int i = 0; i < 144; i++)
            assert_true(y[i] == (float)grid_value(x[i], e, lo, hi, true));
        assert_true(y[0] == (float)ldexp(2.0, -e) && y[1] == (float)ldexp(-2.0, -e));
        assert_true(y[3] == (float)ldexp(-4.0, -e));
        /* straight through inside the range, 0 outside */
        fill(dy, 144, seed + 10, 1.0f);
        x[2] = (float)ldexp(200.0, -e);
        assert_int_equal(qp_quant_backward(q, x, dy, dx, shape, 2), QP_OK);
        for (int i = 0; i < 144; i++) {
            double r = pot_round(x[i] / ldexp(1.0, -e), false);
            assert_true(dx[i] == (r >= lo && r <= hi ? dy[i] : 0.0f));
        }
        assert_true(dx[2] == 0.0f);
    }
    qp_quant_destroy(q);
}

static void
vitis_activation_keeps_the_most_frequent_exponent(void **state)
{
    (void)state;
    qp_quant *q = make(QP_BACKEND_VITIS, QP_ACT, NULL, "tensor");
    qp_quant_info in;
    qp_quant_get_info(q, &in);
    assert_int_equal(in.observer, QP_OBS_POT_MODE);
    double lo = (double)in.quant_min, hi = (double)in.quant_max;
    int64_t shape[1] = {200};
    float small[200], big[200], y[200];
    fill(small, 200, 7, 1.0f);
    fill(big, 200, 8, 40.0f);
    int es = best_exponent(small, 200, lo, hi, 5, false);
    int eb = best_exponent(big, 200, lo, hi, 5, false);
    assert_true(es != eb);
    qp_quant_enable_fake_quant(q, false);
    /* small, small, big, big: the first count to reach the most wins ties at
     * the lower counter index, exponent + 7 */
    const float *seq[5] = {small, small, big, big, big};
    int counts_s = 0, counts_b = 0;
    for (int k = 0; k < 5; k++) {
        assert_int_equal(qp_quant_forward(q, seq[k], y, shape, 1), QP_OK);
        if (seq[k] == small)
            counts_s++;
        else
            counts_b++;
        int want = counts_s > counts_b ? es : counts_b > counts_s ? eb : (es < eb ? es : eb);
        assert_true(state_f32(q, "scale", 0) == (float)ldexp(1.0, -want));
        /* min_val / max_val are the last input's */
        float m = -INFINITY;
        for (int i = 0; i < 200; i++)
            m = fmaxf(m, seq[k][i]);
        assert_true(state_f32(q, "activation_post_process.max_val", 0) == m);
    }
    /* "tensor" rounds with negative ties up: -2.5 steps go to -2, 2.5 to 2, -3.5 to -3 */
    qp_quant_enable_observer(q, false);
    qp_quant_enable_fake_quant(q, true);
    float t[3] = {(float)ldexp(-2.5, -eb), (float)ldexp(2.5, -eb), (float)ldexp(-3.5, -eb)};
    float u[3];
    int64_t three[1] = {3};
    assert_int_equal(qp_quant_forward(q, t, u, three, 1), QP_OK);
    assert_true(u[0] == (float)ldexp(-2.0, -eb));
    assert_true(u[1] == (float)ldexp(2.0, -eb));
    assert_true(u[2] == (float)ldexp(-3.0, -eb));
    qp_quant_destroy(q);
}

/* Data of magnitude 1e20: MinMaxFloor finds no finite squared error and keeps
 * the first candidate (MQBench's result); PoTMode cannot count it (MQBench
 * raises): an error, the state unchanged. */
static void
huge_data_documented_result_or_error(void **state)
{
    (void)state;
    int64_t shape[1] = {64};
    float x[64], y[64];
    qp_quant *w = make(QP_BACKEND_VITIS, QP_WEIGHT, NULL, "param");
    for (int k = 0; k < 2; k++) {
        /* 3e20: the finer grids' errors are still finite; 3e22: none is */
        fill(x, 64, 11, k ? 3e22f : 3e20f);
        assert_int_equal(qp_quant_forward(w, x, y, shape, 1), QP_OK);
        int e = best_exponent(x, 64, -128.0, 127.0, 5, true);
        assert_true(state_f32(w, "scale", 0) == (float)ldexp(1.0, -e));
    }
    qp_quant_destroy(w);
    fill(x, 64, 11, 3e20f);

    qp_quant *a = make(QP_BACKEND_VITIS, QP_ACT, NULL, "tensor");
    float ok[64];
    fill(ok, 64, 12, 2.0f);
    assert_int_equal(qp_quant_forward(a, ok, y, shape, 1), QP_OK);
    struct snap s;
    take(a, &s);
    assert_int_equal(qp_quant_forward(a, x, y, shape, 1), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(a), "PoTModeObserver"));
    same(a, &s);
    /* the counter did not count the failed call: a normal input still gives its scale */
    assert_int_equal(qp_quant_forward(a, ok, y, shape, 1), QP_OK);
    int e = best_exponent(ok, 64, -128.0, 127.0, 5, false);
    assert_true(state_f32(a, "scale", 0) == (float)ldexp(1.0, -e));
    qp_quant_destroy(a);
}

static void
tqt_refuses_what_mqbench_asserts(void **state)
{
    (void)state;
    int64_t shape[1] = {8};
    float x[8], y[8];
    fill(x, 8, 3, 1.0f);
    /* no quant_type: the Vitis backend's quantizer before set_quant_type */
    qp_quant *q = make(QP_BACKEND_VITIS, QP_WEIGHT, NULL, NULL);
    struct snap s;
    take(q, &s);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_ERR_INVALID_CONFIG);
    assert_non_null(strstr(qp_quant_errmsg(q), "quant_type"));
    same(q, &s);
    qp_quant_destroy(q);
    /* an affine TQT calibrates, but cannot fake-quantize */
    qp_config *c =
        qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxFloorObserver\", a_observer: "
                   "\"MinMaxFloorObserver\", w_fakequantize: \"TqtFakeQuantize\", a_fakequantize: "
                   "\"TqtFakeQuantize\", w_qscheme: {bit: 8, symmetry: False, per_channel: False, "
                   "pot_scale: False}, a_qscheme: {bit: 8, symmetry: False, per_channel: False, "
                   "pot_scale: False}}\n");
    q = make(QP_BACKEND_ACADEMIC, QP_ACT, c, "tensor");
    take(q, &s);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_ERR_INVALID_CONFIG);
    assert_non_null(strstr(qp_quant_errmsg(q), "symmetric"));
    same(q, &s);
    qp_quant_enable_fake_quant(q, false);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    qp_quant_destroy(q);
    qp_config_destroy(c);
}

/* NNIE: every output is 0 or +-2^(m / 16) with m within 127 steps of
 * 16 log2(data_max); data_max is the running max |x|; the backward is dy. */
static void
nnie_grid_and_data_max(void **state)
{
    (void)state;
    qp_quant *q = make(QP_BACKEND_NNIE, QP_ACT, NULL, NULL);
    int64_t shape[2] = {10, 30};
    float x[300], y[300], dy[300], dx[300];
    float dm = -INFINITY;
    for (uint32_t seed = 1; seed <= 3; seed++) {
        fill(x, 300, 4 - seed, (float)(4 - seed) * 1.5f); /* shrinking ranges */
        x[5] = 1e-9f;                                     /* below the first step: 0 */
        assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
        /* data_max: the largest max(-min_val, max_val) the observer has held */
        float mn = state_f32(q, "activation_post_process.min_val", 0);
        float mx = state_f32(q, "activation_post_process.max_val", 0);
        dm = fmaxf(dm, fmaxf(-mn, mx));
        float got = state_f32(q, "data_max", 0);
        assert_true(got == dm);
        double z = nearbyint(16.0 * log2((double)got)) - 127.0;
        for (int i = 0; i < 300; i++) {
            if (y[i] == 0.0f) {
                assert_true(fabs(x[i]) < pow(2.0, (z - 15.0) / 16.0));
                continue;
            }
            double m = 16.0 * log2(fabs((double)y[i])) - z;
            assert_true(fabs(m - nearbyint(m)) < 1e-4);
            assert_true(nearbyint(m) >= 0 && nearbyint(m) <= 127);
            assert_true((y[i] > 0) == (x[i] > 0));
            /* the nearest grid point in log scale */
            double want = nearbyint(16.0 * log2(fabs((double)x[i])) - z);
            want = want < 0 ? 0 : want > 127 ? 127 : want;
            assert_true(nearbyint(m) == want || (x[i] < 0 && want == 0 && nearbyint(m) == 1));
        }
        assert_true(y[5] == 0.0f);
        fill(dy, 300, seed + 5, 1.0f);
        assert_int_equal(qp_quant_backward(q, x, dy, dx, shape, 2), QP_OK);
        assert_memory_equal(dx, dy, sizeof dx);
    }
    /* with the observer off data_max still takes the observer's range */
    float big = 100.0f;
    qp_tensor t = {QP_DT_F32, 0, {0}, 1, &big};
    assert_int_equal(qp_quant_state_set(q, "activation_post_process.max_val", &t), QP_OK);
    qp_quant_enable_observer(q, false);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
    assert_true(state_f32(q, "data_max", 0) == 100.0f);
    qp_quant_destroy(q);
}

/* Fixed fake quantization refuses a zero point outside the range (ATen's check). */
static void
fixed_checks_its_zero_point(void **state)
{
    (void)state;
    qp_quant *q = make(QP_BACKEND_STPU, QP_ACT, NULL, NULL);
    qp_quant_info in;
    qp_quant_get_info(q, &in);
    assert_int_equal(in.fake_quant, QP_FQ_FIXED);
    int64_t shape[1] = {16};
    float x[16], y[16];
    fill(x, 16, 4, 3.0f);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_OK);
    int32_t z = (int32_t)in.quant_max + 1;
    qp_tensor t = {QP_DT_I32, 1, {1}, 1, &z};
    assert_int_equal(qp_quant_state_set(q, "zero_point", &t), QP_OK);
    qp_quant_enable_observer(q, false);
    struct snap s;
    take(q, &s);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 1), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(q), "zero_point"));
    same(q, &s);
    qp_quant_destroy(q);
    /* LSQObserver's zero point is not clamped: one large negative outlier among
     * small values puts it past quant_max, which fake quantization refuses */
    qp_config *c = qpt_config(
        "qcfg 1\nextra_qconfig_dict = {w_observer: \"LSQObserver\", a_observer: "
        "\"LSQObserver\", w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: "
        "\"FixedFakeQuantize\", w_qscheme: {bit: 8, symmetry: False, per_channel: False, "
        "pot_scale: False}, a_qscheme: {bit: 8, symmetry: False, per_channel: False, "
        "pot_scale: False}}\n");
    q = make(QP_BACKEND_ACADEMIC, QP_ACT, c, NULL);
    /* |min_val| / scale reaches numel / 2 * sqrt(quant_max): 64 elements suffice */
    float x64[64], y64[64];
    int64_t s64[1] = {64};
    for (int i = 0; i < 64; i++)
        x64[i] = 0.01f;
    x64[3] = -1000.0f;
    take(q, &s);
    assert_int_equal(qp_quant_forward(q, x64, y64, s64, 1), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(q), "zero_point"));
    same(q, &s);
    /* calibrating alone takes it, as MQBench does */
    qp_quant_enable_fake_quant(q, false);
    assert_int_equal(qp_quant_forward(q, x64, y64, s64, 1), QP_OK);
    qp_tensor zt;
    assert_int_equal(qp_quant_state_get(q, "zero_point", &zt), QP_OK);
    assert_true(((int32_t *)zt.data)[0] > 255);
    qp_quant_destroy(q);
    qp_config_destroy(c);
}

/* LSQObserver: scale 2 mean|x| / sqrt(quant_max), per tensor 0-d for Fixed,
 * per channel one a channel (in torch's permuted order for any axis). */
static void
lsq_observer_scale_from_the_mean(void **state)
{
    (void)state;
    qp_config *c =
        qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer: \"LSQObserver\", a_observer: "
                   "\"LSQObserver\", w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: "
                   "\"FixedFakeQuantize\", w_qscheme: {bit: 4, symmetry: True, per_channel: True, "
                   "pot_scale: False}, a_qscheme: {bit: 8, symmetry: False, per_channel: False, "
                   "pot_scale: False}}\n");
    int64_t shape[4] = {3, 4, 5, 6};
    float x[360], y[360];
    fill(x, 360, 21, 2.0f);
    qp_quant *a = make(QP_BACKEND_ACADEMIC, QP_ACT, c, NULL);
    qp_quant_info in;
    qp_quant_get_info(a, &in);
    assert_int_equal(in.observer, QP_OBS_LSQ);
    assert_int_equal(qp_quant_forward(a, x, y, shape, 4), QP_OK);
    double sum = 0, mn = INFINITY;
    for (int i = 0; i < 360; i++) {
        sum += fabs(x[i]);
        mn = fmin(mn, x[i]);
    }
    double sc = 2.0 * (sum / 360.0) / sqrt((double)in.quant_max);
    qp_tensor t;
    assert_int_equal(qp_quant_state_get(a, "scale", &t), QP_OK);
    assert_int_equal(t.ndim, 0); /* MQBench's resize_ to the 0-d tensor_norm */
    assert_float_equal(((float *)t.data)[0], sc, sc * 1e-6);
    assert_int_equal(qp_quant_state_get(a, "zero_point", &t), QP_OK);
    assert_int_equal(((int32_t *)t.data)[0], (int32_t)(in.quant_min - nearbyint(mn / sc)));
    qp_quant_destroy(a);
    /* per channel on every axis */
    for (int ax = 0; ax < 4; ax++) {
        qp_quant_opts o = qp_quant_opts_default();
        o.ch_axis = ax;
        qp_quant *w = NULL;
        qp_error err;
        assert_int_equal(qp_quant_create(NULL, QP_BACKEND_ACADEMIC, QP_WEIGHT, c, &o, &w, &err),
                         QP_OK);
        qp_quant_get_info(w, &in);
        assert_int_equal(qp_quant_forward(w, x, y, shape, 4), QP_OK);
        assert_int_equal(qp_quant_state_get(w, "scale", &t), QP_OK);
        assert_int_equal(t.ndim, 1);
        assert_int_equal(t.shape[0], shape[ax]);
        for (int64_t ch = 0; ch < shape[ax]; ch++) {
            double s = 0;
            int cnt = 0;
            for (int i = 0; i < 360; i++) {
                int idx[4] = {i / 120, i / 30 % 4, i / 6 % 5, i % 6};
                if (idx[ax] == ch) {
                    s += fabs(x[i]);
                    cnt++;
                }
            }
            double want = 2.0 * (s / cnt) / sqrt((double)in.quant_max);
            assert_float_equal(((float *)t.data)[ch], want, want * 1e-6);
        }
        qp_quant_destroy(w);
    }
    qp_config_destroy(c);
}

/* Extreme data and loaded states: each call returns OK or a status, never
 * undefined behaviour (the sanitizer builds run this). */
static void
hostile_values(void **state)
{
    (void)state;
    const float vals[] = {FLT_MAX, -FLT_MAX, 3e38f, 1e-45f, -1e-45f, 0.0f, -0.0f, 1e20f, 1e-30f};
    const float loads[] = {INFINITY, -INFINITY, NAN, 0.0f, -1.0f, FLT_MAX, 1e-45f};
    struct {
        qp_backend be;
        qp_side side;
        const char *qt;
    } kinds[] = {{QP_BACKEND_VITIS, QP_WEIGHT, "param"}, {QP_BACKEND_VITIS, QP_ACT, "tensor"},
                 {QP_BACKEND_VITIS, QP_ACT, "input"},    {QP_BACKEND_NNIE, QP_WEIGHT, NULL},
                 {QP_BACKEND_NNIE, QP_ACT, NULL},        {QP_BACKEND_STPU, QP_ACT, NULL}};
    const char *entries[] = {"scale", "data_max", "activation_post_process.min_val",
                             "activation_post_process.max_val"};
    int64_t shape[1] = {9};
    float x[9], y[9], dx[9];
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
            qp_quant *q = make(kinds[k].be, kinds[k].side, NULL, kinds[k].qt);
            for (int i = 0; i < 9; i++)
                x[i] = vals[(v + (size_t)i) % 9] * (i % 2 ? -1.0f : 1.0f);
            qp_status rc = qp_quant_forward(q, x, y, shape, 1);
            assert_true(rc == QP_OK || rc == QP_ERR_INVALID_ARG);
            rc = qp_quant_backward(q, x, x, dx, shape, 1);
            assert_true(rc == QP_OK || rc == QP_ERR_INVALID_ARG);
            /* a loaded state, then observer off: the kinds' own arithmetic on it */
            qp_quant_enable_observer(q, false);
            for (size_t e = 0; e < sizeof entries / sizeof entries[0]; e++) {
                qp_tensor t;
                if (qp_quant_state_get(q, entries[e], &t) != QP_OK || t.dtype != QP_DT_F32)
                    continue;
                float val = loads[v % (sizeof loads / sizeof loads[0])];
                t.data = &val;
                t.numel = 1;
                if (qp_quant_state_set(q, entries[e], &t) != QP_OK)
                    continue;
                rc = qp_quant_forward(q, x, y, shape, 1);
                assert_true(rc == QP_OK || rc == QP_ERR_INVALID_ARG);
                rc = qp_quant_backward(q, x, x, dx, shape, 1);
                assert_true(rc == QP_OK || rc == QP_ERR_INVALID_ARG);
            }
            qp_quant_destroy(q);
        }
}

/* Allocation k fails: creation and forward give NOMEM, no leak, for each kind here. */
static void
out_of_memory_sweep(void **state)
{
    (void)state;
    int64_t shape[2] = {80, 5};
    float x[400], y[400];
    fill(x, 400, 5, 2.0f);
    struct {
        qp_backend be;
        qp_side side;
        const char *qt;
    } kinds[] = {{QP_BACKEND_VITIS, QP_WEIGHT, "param"},
                 {QP_BACKEND_VITIS, QP_ACT, "input"},
                 {QP_BACKEND_NNIE, QP_WEIGHT, NULL},
                 {QP_BACKEND_STPU, QP_ACT, NULL}};
    for (size_t kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
        size_t points = 0;
        for (size_t k = 1;; k++) {
            qpt_alloc st;
            qpt_alloc_reset(&st);
            qp_allocator al = qpt_allocator(&st);
            st.fail_at = k;
            qp_quant_opts o = qp_quant_opts_default();
            o.quant_type = kinds[kd].qt;
            qp_quant *q = NULL;
            qp_error err;
            qp_status rc = qp_quant_create(&al, kinds[kd].be, kinds[kd].side, NULL, &o, &q, &err);
            if (rc) {
                assert_int_equal(rc, QP_ERR_NOMEM);
                assert_null(q);
                assert_int_equal(st.live, 0);
                points++;
                continue;
            }
            struct snap s;
            take(q, &s);
            rc = qp_quant_forward(q, x, y, shape, 2);
            if (rc) {
                assert_int_equal(rc, QP_ERR_NOMEM);
                same(q, &s);
                points++;
            }
            qp_quant_destroy(q);
            assert_int_equal(st.live, 0);
            if (!rc && !st.failed)
                break;
        }
        assert_true(points >= 3);
    }
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vitis_weight_takes_the_best_power_of_two),
        cmocka_unit_test(vitis_activation_keeps_the_most_frequent_exponent),
        cmocka_unit_test(huge_data_documented_result_or_error),
        cmocka_unit_test(tqt_refuses_what_mqbench_asserts),
        cmocka_unit_test(nnie_grid_and_data_max),
        cmocka_unit_test(fixed_checks_its_zero_point),
        cmocka_unit_test(lsq_observer_scale_from_the_mean),
        cmocka_unit_test(hostile_values),
        cmocka_unit_test(out_of_memory_sweep),
    };
    return cmocka_run_group_tests_name("quant_pot", tests, NULL, NULL);
}
