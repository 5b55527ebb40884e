/*
 * test_quant.c - the quantizer runtime's contract (include/qprep/quant.h):
 * quantizers as every backend builds them, switches, parameters and their
 * gradients, the state_dict view and its setter, bad input (NULL, zero-size
 * tensors, a missing channel axis, non-finite data, wrong state) leaving the
 * state unchanged, and an out-of-memory sweep over creation and forward.
 * The numbers themselves are proven against MQBench by the numerics cases
 * (ctest -L numerics).
 */
#include "testlib.h"

#include <math.h>
#include <qprep/quant.h>

#include "quant/tsum.h"

/* A snapshot of a quantizer's whole state, to check a failed call changed nothing. */
struct snap {
    uint32_t n;
    char names[32][64];
    qp_tensor t[32];
    unsigned char data[32][4096];
    bool fq_on, obs_on;
};

static void
take(const qp_quant *q, struct snap *s)
{
    memset(s, 0, sizeof *s);
    s->n = qp_quant_num_state(q);
    assert_true(s->n <= 32);
    for (uint32_t i = 0; i < s->n; i++) {
        const char *name;
        assert_int_equal(qp_quant_state_at(q, i, &name, &s->t[i]), QP_OK);
        snprintf(s->names[i], sizeof s->names[i], "%s", name);
        size_t es = s->t[i].dtype == QP_DT_I64   ? 8
                    : s->t[i].dtype == QP_DT_F32 ? 4
                    : s->t[i].dtype == QP_DT_I32 ? 4
                                                 : 1;
        assert_true(s->t[i].numel * es <= sizeof s->data[i]);
        memcpy(s->data[i], s->t[i].data, s->t[i].numel * es);
        s->t[i].data = NULL;
    }
    s->fq_on = qp_quant_fake_quant_enabled(q);
    s->obs_on = qp_quant_observer_enabled(q);
}

static void
same(const qp_quant *q, const struct snap *a)
{
    struct snap b;
    take(q, &b);
    assert_int_equal(a->n, b.n);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_string_equal(a->names[i], b.names[i]);
        assert_int_equal(a->t[i].dtype, b.t[i].dtype);
        assert_int_equal(a->t[i].ndim, b.t[i].ndim);
        assert_int_equal(a->t[i].numel, b.t[i].numel);
        assert_memory_equal(a->data[i], b.data[i], sizeof a->data[i]);
    }
    assert_int_equal(a->fq_on, b.fq_on);
    assert_int_equal(a->obs_on, b.obs_on);
}

static qp_quant *
make(qp_backend be, qp_side side, const qp_config *cfg, const qp_quant_opts *o)
{
    qp_quant *q = NULL;
    qp_error err;
    qp_status rc = qp_quant_create(NULL, be, side, cfg, o, &q, &err);
    if (rc)
        fail_msg("%s %s: %s: %s", qp_backend_name(be), side == QP_WEIGHT ? "weight" : "act",
                 qp_status_str(rc), err.msg);
    return q;
}

static void
every_backend_builds_both_quantizers(void **state)
{
    (void)state;
    qp_config *aca = qpt_config_file("configs/academic.qcfg");
    for (int be = 0; be < QP_BACKEND_COUNT; be++)
        for (int side = 0; side < 2; side++) {
            bool academic = be == QP_BACKEND_ACADEMIC || be == QP_BACKEND_ACADEMIC_NLP;
            qp_quant *q = make((qp_backend)be, (qp_side)side, academic ? aca : NULL, NULL);
            qp_quant_info in;
            qp_quant_get_info(q, &in);
            assert_non_null(qp_fq_kind_name(in.fake_quant));
            assert_non_null(qp_obs_kind_name(in.observer));
            assert_true(in.quant_min <= 0 && in.quant_max > 0);
            /* constructed with both switches on, like the module */
            assert_true(qp_quant_observer_enabled(q));
            assert_true(qp_quant_fake_quant_enabled(q));
            /* the two flags are state entries, as in state_dict */
            qp_tensor t;
            assert_int_equal(qp_quant_state_get(q, "fake_quant_enabled", &t), QP_OK);
            assert_int_equal(t.dtype, QP_DT_U8);
            assert_int_equal(((uint8_t *)t.data)[0], 1);
            assert_int_equal(qp_quant_state_get(q, "activation_post_process.min_val", &t), QP_OK);
            qp_quant_destroy(q);
        }
    qp_config_destroy(aca);
}

static void
tensorrt_is_lsq_with_its_observers(void **state)
{
    (void)state;
    qp_quant *w = make(QP_BACKEND_TENSORRT, QP_WEIGHT, NULL, NULL);
    qp_quant *a = make(QP_BACKEND_TENSORRT, QP_ACT, NULL, NULL);
    qp_quant_info iw, ia;
    qp_quant_get_info(w, &iw);
    qp_quant_get_info(a, &ia);
    assert_int_equal(iw.fake_quant, QP_FQ_LEARNABLE);
    assert_int_equal(iw.observer, QP_OBS_MINMAX);
    assert_int_equal(iw.ch_axis, 0);
    assert_true(iw.symmetric);
    assert_int_equal(iw.quant_min, -127);
    assert_int_equal(iw.quant_max, 127);
    assert_int_equal(ia.observer, QP_OBS_EMA_MINMAX);
    assert_int_equal(ia.ch_axis, -1);
    /* state_dict order: parameters, buffers, the observer's */
    static const char *const want[] = {"scale",
                                       "zero_point",
                                       "fake_quant_enabled",
                                       "observer_enabled",
                                       "eps",
                                       "activation_post_process.eps",
                                       "activation_post_process.min_val",
                                       "activation_post_process.max_val"};
    assert_int_equal(qp_quant_num_state(w), 8);
    for (uint32_t i = 0; i < 8; i++) {
        const char *name;
        qp_tensor t;
        assert_int_equal(qp_quant_state_at(w, i, &name, &t), QP_OK);
        assert_string_equal(name, want[i]);
    }
    assert_int_equal(qp_quant_num_params(w), 2);
    qp_quant_param p;
    assert_int_equal(qp_quant_param_at(w, 0, &p), QP_OK);
    assert_string_equal(p.name, "scale");
    assert_int_equal(qp_quant_param_at(w, 1, &p), QP_OK);
    assert_string_equal(p.name, "zero_point");
    assert_int_equal(qp_quant_param_at(w, 2, &p), QP_ERR_INVALID_ARG);
    qp_quant_destroy(w);
    qp_quant_destroy(a);
}

static void
axis_override_and_quant_type(void **state)
{
    (void)state;
    qp_quant_opts o = qp_quant_opts_default();
    assert_int_equal(o.ch_axis, -1);
    assert_null(o.quant_type);
    o.ch_axis = 1; /* a ConvTranspose weight */
    qp_quant *w = make(QP_BACKEND_TENSORRT, QP_WEIGHT, NULL, &o);
    qp_quant_info in;
    qp_quant_get_info(w, &in);
    assert_int_equal(in.ch_axis, 1);
    qp_quant_destroy(w);
    /* per-tensor quantizers ignore the axis */
    qp_quant *a = make(QP_BACKEND_TENSORRT, QP_ACT, NULL, &o);
    qp_quant_get_info(a, &in);
    assert_int_equal(in.ch_axis, -1);
    qp_quant_destroy(a);
    qp_quant *q = NULL;
    qp_error err;
    o.quant_type = "weights";
    assert_int_equal(qp_quant_create(NULL, QP_BACKEND_VITIS, QP_WEIGHT, NULL, &o, &q, &err),
                     QP_ERR_INVALID_ARG);
    assert_null(q);
    assert_non_null(strstr(err.msg, "quant_type"));
    o.quant_type = "param";
    o.ch_axis = -1;
    q = make(QP_BACKEND_VITIS, QP_WEIGHT, NULL, &o);
    qp_quant_get_info(q, &in);
    assert_string_equal(in.quant_type, "param");
    qp_quant_destroy(q);
}

static void
academic_needs_a_configuration(void **state)
{
    (void)state;
    qp_quant *q = (qp_quant *)&q; /* must be reset to NULL */
    qp_error err;
    assert_int_equal(qp_quant_create(NULL, QP_BACKEND_ACADEMIC, QP_WEIGHT, NULL, NULL, &q, &err),
                     QP_ERR_INVALID_CONFIG);
    assert_null(q);
    assert_int_equal(err.status, QP_ERR_INVALID_CONFIG);
    assert_non_null(strstr(err.msg, "Academic"));
    assert_int_equal(qp_quant_create(NULL, QP_BACKEND_COUNT, QP_WEIGHT, NULL, NULL, &q, &err),
                     QP_ERR_UNSUPPORTED_BACKEND);
    assert_int_equal(qp_quant_create(NULL, QP_BACKEND_TENSORRT, (qp_side)7, NULL, NULL, &q, &err),
                     QP_ERR_INVALID_ARG);
    assert_int_equal(qp_quant_create(NULL, QP_BACKEND_TENSORRT, QP_ACT, NULL, NULL, NULL, &err),
                     QP_ERR_NULL_ARG);
    /* a keyword the observer does not take is the configuration's error, named */
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {a_observer_extra_args: "
                              "{bins: 10}}\n");
    assert_int_equal(qp_quant_create(NULL, QP_BACKEND_TENSORRT, QP_ACT, c, NULL, &q, &err),
                     QP_ERR_INVALID_CONFIG);
    assert_non_null(strstr(err.msg, "bins"));
    qp_config_destroy(c);
}

/* Deterministic data in [-2, 2). */
static void
fill(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
}

static void
calibrate_then_train(void **state)
{
    (void)state;
    qp_quant *w = make(QP_BACKEND_TENSORRT, QP_WEIGHT, NULL, NULL);
    int64_t shape[4] = {4, 3, 2, 2};
    float x[48], y[48], dy[48], dx[48];
    fill(x, 48, 1);
    fill(dy, 48, 2);
    /* calibration: observer on, fake quant off: y is x, the scale comes from min/max */
    qp_quant_enable_fake_quant(w, false);
    assert_int_equal(qp_quant_forward(w, x, y, shape, 4), QP_OK);
    assert_memory_equal(x, y, sizeof x);
    qp_tensor t;
    assert_int_equal(qp_quant_state_get(w, "scale", &t), QP_OK);
    assert_int_equal(t.ndim, 1);
    assert_int_equal(t.shape[0], 4); /* per channel after the first observation */
    for (int c = 0; c < 4; c++) {
        float m = 0.0f;
        for (int i = 0; i < 12; i++)
            m = fmaxf(m, fabsf(x[c * 12 + i]));
        assert_float_equal(((float *)t.data)[c], m / 127.0f, 1e-7);
    }
    /* training: quantized output on the grid, gradients accumulate until zeroed */
    qp_quant_enable_observer(w, false);
    qp_quant_enable_fake_quant(w, true);
    assert_int_equal(qp_quant_forward(w, x, y, shape, 4), QP_OK);
    for (int i = 0; i < 48; i++) {
        float s = ((float *)t.data)[i / 12];
        float k = y[i] / s;
        assert_float_equal(k, nearbyintf(k), 1e-3);
        assert_true(fabsf(y[i] - x[i]) <= s * 0.5f + 1e-6f);
    }
    qp_quant_param p;
    assert_int_equal(qp_quant_param_at(w, 0, &p), QP_OK);
    assert_int_equal(p.numel, 4);
    qp_quant_zero_grad(w);
    assert_int_equal(qp_quant_backward(w, x, dy, dx, shape, 4), QP_OK);
    float g1[4];
    memcpy(g1, p.grad, sizeof g1);
    assert_int_equal(qp_quant_backward(w, x, dy, dx, shape, 4), QP_OK);
    for (int c = 0; c < 4; c++)
        assert_float_equal(p.grad[c], 2.0f * g1[c], 1e-6);
    qp_quant_zero_grad(w);
    for (int c = 0; c < 4; c++)
        assert_true(p.grad[c] == 0.0f);
    /* a symmetric range holds every x: dx is dy */
    assert_memory_equal(dx, dy, sizeof dx);
    /* fake quant off: the backward passes dy through */
    qp_quant_enable_fake_quant(w, false);
    fill(dx, 48, 9);
    assert_int_equal(qp_quant_backward(w, x, dy, dx, shape, 4), QP_OK);
    assert_memory_equal(dx, dy, sizeof dx);
    qp_quant_destroy(w);
}

/* The LSQ backward sums its gradient terms chunk by chunk; the result must be
 * torch.sum's of the whole term tensors (tsum), to the bit, for every shape:
 * short rows, leftover vectors, cascade flushes, channels on any axis. */
static void
lsq_gradients_are_torch_sums_of_its_terms(void **state)
{
    (void)state;
    static const int64_t shapes[][4] = {
        {1, 1, 1, 5},   {3, 1, 1, 7},    {2, 3, 1, 8},     {5, 2, 3, 3},   {4, 33, 1, 1},
        {2, 3, 40, 41}, {1, 1, 1, 4099}, {6, 1, 1, 70001}, {3, 70, 1, 33}, {1, 1, 257, 1031},
    };
    static const int axes[] = {-1, 0, 1, 3};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (size_t a = 0; a < sizeof axes / sizeof axes[0]; a++) {
            qp_quant_opts o = qp_quant_opts_default();
            o.ch_axis = axes[a] < 0 ? -1 : axes[a];
            qp_quant *q = make(QP_BACKEND_TENSORRT, axes[a] < 0 ? QP_ACT : QP_WEIGHT, NULL, &o);
            size_t n = 1;
            for (int d = 0; d < 4; d++)
                n *= (size_t)shapes[k][d];
            float *x = test_malloc(n * sizeof *x), *dy = test_malloc(n * sizeof *dy);
            float *dx = test_malloc(n * sizeof *dx), *y = test_malloc(n * sizeof *y);
            float *ts = test_malloc(n * sizeof *ts), *tz = test_malloc(n * sizeof *tz);
            fill(x, n, (uint32_t)(7 + k));
            fill(dy, n, (uint32_t)(99 + k));
            /* calibrate on half the range, so some elements fall outside */
            for (size_t i = 0; i < n; i++)
                y[i] = x[i] * 0.5f;
            qp_quant_enable_fake_quant(q, false);
            assert_int_equal(qp_quant_forward(q, y, y, shapes[k], 4), QP_OK);
            qp_quant_enable_observer(q, false);
            qp_quant_enable_fake_quant(q, true);
            assert_int_equal(qp_quant_forward(q, x, y, shapes[k], 4), QP_OK);
            qp_quant_zero_grad(q);
            assert_int_equal(qp_quant_backward(q, x, dy, dx, shapes[k], 4), QP_OK);
            /* the terms, as ATen's kernel writes them */
            qp_quant_info in;
            qp_quant_get_info(q, &in);
            size_t ax = in.ch_axis < 0 ? 0 : (size_t)in.ch_axis, C = in.ch_axis < 0 ? 1 : 0;
            size_t outer = 1, inner = 1;
            if (in.ch_axis >= 0) {
                C = (size_t)shapes[k][ax];
                for (size_t d = 0; d < ax; d++)
                    outer *= (size_t)shapes[k][d];
                inner = n / outer / C;
            } else {
                inner = n;
            }
            qp_quant_param ps, pz;
            assert_int_equal(qp_quant_param_at(q, 0, &ps), QP_OK);
            assert_int_equal(qp_quant_param_at(q, 1, &pz), QP_OK);
            float lo = -127.0f, hi = 127.0f;
            double nn = in.ch_axis >= 0 ? (double)n / (double)C : (double)n;
            float gf = (float)(1.0 / pow(nn * 127.0, 0.5));
            for (size_t i = 0; i < n; i++) {
                size_t c = (i / inner) % C;
                float sc = ps.data[c], inv = 1.0f / sc, z = 0.0f;
                float xq = nearbyintf(fmaf(x[i], inv, z));
                bool out = xq < lo || xq > hi;
                ts[i] = out ? dy[i] * (xq < lo ? lo - z : hi - z) * gf
                            : dy[i] * fmaf(xq - z, sc, -x[i]) * inv * gf;
                tz[i] = out ? dy[i] * -1.0f * sc * gf : 0.0f;
                assert_true(dx[i] == (out ? 0.0f : dy[i]));
            }
            float *ws = test_malloc(C * sizeof *ws), *wz = test_malloc(C * sizeof *wz);
            qp__tsum_perch(ts, outer, C, inner, ws);
            qp__tsum_perch(tz, outer, C, inner, wz);
            for (size_t c = 0; c < C; c++) {
                if (ps.grad[c] != ws[c] || pz.grad[c] != wz[c])
                    fail_msg("shape %zu axis %d channel %zu: %.9g %.9g, torch.sum %.9g %.9g", k,
                             axes[a], c, (double)ps.grad[c], (double)pz.grad[c], (double)ws[c],
                             (double)wz[c]);
            }
            test_free(x);
            test_free(dy);
            test_free(dx);
            test_free(y);
            test_free(ts);
            test_free(tz);
            test_free(ws);
            test_free(wz);
            qp_quant_destroy(q);
        }
}

/* MQBench's QDropFakeQuantize adds per-channel zero points along the last axis
 * (it does not reshape them): qprep reproduces that, failing where torch cannot
 * broadcast; the configuration's fixed mode gives each channel its own. */
static void
qdrop_zero_points_fixed_mode(void **state)
{
    (void)state;
    static const char cfg[] =
        "qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxObserver\", a_observer: "
        "\"MinMaxObserver\", w_fakequantize: \"QDropFakeQuantize\", a_fakequantize: "
        "\"QDropFakeQuantize\", w_qscheme: {bit: 4, symmetry: False, per_channel: True}, "
        "a_qscheme: {bit: 8, symmetry: False, per_channel: False}}\n";
    int64_t shape[2] = {3, 5};
    float x[15], y[15];
    fill(x, 15, 11);
    for (int i = 0; i < 5; i++) /* channel 0 positive, so its zero point is 0, others not */
        x[i] = fabsf(x[i]) + 0.1f;
    for (int fix = 0; fix < 2; fix++) {
        qp_config *c = qpt_config(cfg);
        if (fix)
            assert_int_equal(qp_config_set_fix(c, true), QP_OK);
        qp_quant *q = make(QP_BACKEND_ACADEMIC, QP_WEIGHT, c, NULL);
        qp_quant_enable_fake_quant(q, false);
        assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
        qp_quant_enable_fake_quant(q, true);
        qp_quant_enable_observer(q, false);
        qp_status rc = qp_quant_forward(q, x, y, shape, 2);
        if (!fix) {
            assert_int_equal(rc, QP_ERR_INVALID_ARG);
            assert_non_null(strstr(qp_quant_errmsg(q), "last axis"));
        } else {
            assert_int_equal(rc, QP_OK);
            qp_tensor ts, tz;
            assert_int_equal(qp_quant_state_get(q, "scale", &ts), QP_OK);
            assert_int_equal(qp_quant_state_get(q, "zero_point", &tz), QP_OK);
            const float *S = ts.data;
            const int32_t *Z = tz.data;
            assert_int_equal(Z[0], 0);
            assert_true(Z[1] != 0 || Z[2] != 0);
            for (int i = 0; i < 15; i++) {
                int ch = i / 5;
                float v = nearbyintf(x[i] / S[ch]) + (float)Z[ch];
                v = fminf(fmaxf(v, 0.0f), 15.0f);
                assert_true(y[i] == (v - (float)Z[ch]) * S[ch]);
            }
        }
        qp_quant_destroy(q);
        qp_config_destroy(c);
    }
}

static void
bad_input_leaves_the_state_unchanged(void **state)
{
    (void)state;
    qp_quant *w = make(QP_BACKEND_TENSORRT, QP_WEIGHT, NULL, NULL);
    int64_t shape[2] = {3, 4}, zero[2] = {3, 0};
    float x[12], y[12];
    fill(x, 12, 3);
    assert_int_equal(qp_quant_forward(w, x, y, shape, 2), QP_OK);
    struct snap s;
    take(w, &s);
    assert_int_equal(qp_quant_forward(NULL, x, y, shape, 2), QP_ERR_NULL_ARG);
    assert_int_equal(qp_quant_forward(w, NULL, y, shape, 2), QP_ERR_NULL_ARG);
    assert_int_equal(qp_quant_forward(w, x, y, NULL, 2), QP_ERR_NULL_ARG);
    assert_int_equal(qp_quant_forward(w, x, y, zero, 2), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "zero-size"));
    /* per channel on axis 0: a scalar has no such axis */
    assert_int_equal(qp_quant_forward(w, x, y, shape, 0), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "axis 0"));
    /* per channel, a 1-d x: MQBench's flatten(start_dim=1) raises */
    int64_t flat[1] = {12};
    assert_int_equal(qp_quant_forward(w, x, y, flat, 1), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "IndexError"));
    /* another channel count than the observed one */
    int64_t other[2] = {4, 3};
    assert_int_equal(qp_quant_forward(w, x, y, other, 2), QP_ERR_INVALID_ARG);
    same(w, &s);
    /* non-finite data reaching the observer, named by position */
    x[7] = NAN;
    assert_int_equal(qp_quant_forward(w, x, y, shape, 2), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "x[7] is nan"));
    x[7] = -INFINITY;
    assert_int_equal(qp_quant_forward(w, x, y, shape, 2), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "x[7] is -inf"));
    same(w, &s);
    /* state entries: unknown, wrong dtype, wrong shape */
    float v[3] = {1, 2, 3};
    qp_tensor t = {QP_DT_F32, 1, {3}, 3, v};
    assert_int_equal(qp_quant_state_set(w, "scales", &t), QP_ERR_NOT_FOUND);
    assert_non_null(strstr(qp_quant_errmsg(w), "'scales'"));
    t.dtype = QP_DT_I32;
    assert_int_equal(qp_quant_state_set(w, "scale", &t), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "holds f32, not i32"));
    t.dtype = QP_DT_F32;
    t.ndim = 2;
    t.shape[1] = 1;
    assert_int_equal(qp_quant_state_set(w, "eps", &t), QP_ERR_INVALID_ARG);
    assert_non_null(strstr(qp_quant_errmsg(w), "eps has shape (1,), not (3, 1)"));
    t.numel = 2; /* numel disagrees with the shape */
    t.ndim = 1;
    assert_int_equal(qp_quant_state_set(w, "scale", &t), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_quant_state_set(w, NULL, &t), QP_ERR_NULL_ARG);
    same(w, &s);
    /* a per-channel scale takes the checkpoint's length, as MQBench's loader */
    float four[4] = {0.5f, 0.25f, 0.125f, 1.0f};
    qp_tensor t4 = {QP_DT_F32, 1, {4}, 4, four};
    assert_int_equal(qp_quant_state_set(w, "scale", &t4), QP_OK);
    qp_tensor got;
    assert_int_equal(qp_quant_state_get(w, "scale", &got), QP_OK);
    assert_int_equal(got.numel, 4);
    assert_memory_equal(got.data, four, sizeof four);
    /* the flags follow their buffers */
    uint8_t off = 0;
    qp_tensor f = {QP_DT_U8, 1, {1}, 1, &off};
    assert_int_equal(qp_quant_state_set(w, "observer_enabled", &f), QP_OK);
    assert_false(qp_quant_observer_enabled(w));
    qp_quant_destroy(w);
}

static void
kind_names_are_mqbench_class_names(void **state)
{
    (void)state;
    assert_string_equal(qp_fq_kind_name(QP_FQ_LEARNABLE), "LearnableFakeQuantize");
    assert_string_equal(qp_fq_kind_name(QP_FQ_QDROP), "QDropFakeQuantize");
    assert_string_equal(qp_obs_kind_name(QP_OBS_EMA_MSE), "EMAMSEObserver");
    assert_null(qp_fq_kind_name(QP_FQ_COUNT));
    assert_null(qp_obs_kind_name((qp_obs_kind)-1));
    assert_string_equal(qp_dtype_name(QP_DT_BOOL), "bool");
    assert_null(qp_dtype_name((qp_dtype)9));
    assert_string_equal(qp_quant_errmsg(NULL), "");
}

/* Allocation k fails, alone and with every later one: creation gives NOMEM and
 * nothing, forward gives NOMEM and leaves the state as it was; no leak. */
static void
out_of_memory_sweep(void **state)
{
    (void)state;
    int64_t shape[2] = {80, 5}; /* 80 channels: more than the kinds' stack buffers */
    float x[400], y[400];
    fill(x, 400, 5);
    for (int after = 0; after < 2; after++) {
        size_t points = 0;
        for (size_t k = 1;; k++) {
            qpt_alloc st;
            qpt_alloc_reset(&st);
            qp_allocator al = qpt_allocator(&st);
            st.fail_at = k;
            st.fail_after = after;
            qp_quant *q = NULL;
            qp_error err;
            qp_status rc =
                qp_quant_create(&al, QP_BACKEND_TENSORRT, QP_WEIGHT, NULL, NULL, &q, &err);
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
                qp_quant_destroy(q);
                assert_int_equal(st.live, 0);
                points++;
                continue;
            }
            qp_quant_destroy(q);
            assert_int_equal(st.live, 0);
            if (!st.failed)
                break; /* k is past every allocation */
        }
        print_message("quant: %zu allocation points (fail %s)\n", points,
                      after ? "from k on" : "at k");
        assert_true(points > 3);
    }
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kind_names_are_mqbench_class_names),
        cmocka_unit_test(every_backend_builds_both_quantizers),
        cmocka_unit_test(tensorrt_is_lsq_with_its_observers),
        cmocka_unit_test(axis_override_and_quant_type),
        cmocka_unit_test(academic_needs_a_configuration),
        cmocka_unit_test(calibrate_then_train),
        cmocka_unit_test(lsq_gradients_are_torch_sums_of_its_terms),
        cmocka_unit_test(qdrop_zero_points_fixed_mode),
        cmocka_unit_test(bad_input_leaves_the_state_unchanged),
        cmocka_unit_test(out_of_memory_sweep),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
