/*
 * obs_mse.c - MSEObserver and EMAMSEObserver: the clipping range, among
 * (1 - i/100) * [min, max] (i < 95 per tensor, < 80 per channel), whose
 * fake-quantized input has the least mean |error|^p (MQBench's mse /
 * mse_perchannel with lp_loss); MSE keeps the running min / max of the
 * chosen ranges, EMAMSE their moving average.
 *
 * The choice is an argmin over float32 means, so each mean is computed as
 * torch computes it: torch.pow's special exponents, the sum in torch's cascade
 * order (tsum.c), then one division by the count; a strict "<" keeps the first
 * of equal scores, as MQBench's loop does.
 */
#include "qint.h"
#include "tsum.h"

#include <math.h>
#include <string.h>

/* GCC keeps float compares as branches while it must preserve their traps
 * (-ftrapping-math, its default), which stops the loop below vectorizing;
 * no value changes without that, and qprep never enables traps. */
#if defined(__GNUC__) && !defined(__clang__)
#define QP__NO_TRAPPING __attribute__((optimize("no-trapping-math")))
#else
#define QP__NO_TRAPPING
#endif

/* e[i] = |fake_quantize(x[i]) - x[i]| for one run sharing a scale and zero point,
 * as torch.fake_quantize_per_{tensor,channel}_affine computes the first term
 * (inv = 1 / scale; zp + nearbyint(x * inv), clamped; (q - zp) * scale).
 *
 * Rounding without libm's nearbyintf (a call per element on baseline x86-64),
 * so the loop vectorizes: x * inv is first clamped to one step beyond the
 * grid, which changes no result (rounding is monotonic and the grid clamp
 * follows), then adding and removing 1.5 * 2^23 rounds it to the nearest even
 * integer, exact below 2^22 in magnitude (the sign of a zero may differ, which
 * adding the zero point erases). Ranges too wide for that take nearbyintf. */
QP__NO_TRAPPING static void
err_run(const float *restrict x, float *restrict e, size_t n, float scale, float zp, float lo,
        float hi)
{
    float inv = 1.0f / scale;
    if (hi - lo < 1048576.0f && zp >= lo && zp <= hi) {
        float vlo = lo - zp - 1.0f, vhi = hi - zp + 1.0f;
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * inv;
            v = v < vlo ? vlo : v;
            v = v > vhi ? vhi : v;
            float r = v + 12582912.0f;
            r = r - 12582912.0f;
            float q = zp + r;
            q = q < lo ? lo : q;
            q = q > hi ? hi : q;
            float y = (q - zp) * scale;
            e[i] = fabsf(y - x[i]);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float q = zp + nearbyintf(x[i] * inv);
        q = q < lo ? lo : q;
        q = q > hi ? hi : q;
        float y = (q - zp) * scale;
        e[i] = fabsf(y - x[i]);
    }
}

/* e[i] = e[i]^p as torch.pow(t, p) computes it: exact special cases for p = 0,
 * 1, 2, 3, 0.5, -0.5, -1, -2 (ATen's), else pow. */
static void
pow_elems(float *e, size_t n, double p)
{
    if (p == 1.0)
        return;
    if (p == 2.0) {
        for (size_t i = 0; i < n; i++)
            e[i] = e[i] * e[i];
    } else if (p == 0.0) {
        for (size_t i = 0; i < n; i++)
            e[i] = 1.0f;
    } else if (p == 3.0) {
        for (size_t i = 0; i < n; i++)
            e[i] = e[i] * e[i] * e[i];
    } else if (p == 0.5) {
        for (size_t i = 0; i < n; i++)
            e[i] = sqrtf(e[i]);
    } else if (p == -0.5) {
        for (size_t i = 0; i < n; i++)
            e[i] = 1.0f / sqrtf(e[i]);
    } else if (p == -1.0) {
        for (size_t i = 0; i < n; i++)
            e[i] = 1.0f / e[i];
    } else if (p == -2.0) {
        for (size_t i = 0; i < n; i++)
            e[i] = 1.0f / (e[i] * e[i]);
    } else {
        for (size_t i = 0; i < n; i++)
            e[i] = (float)pow((double)e[i], p);
    }
}

/* lp_loss's elements for one candidate: |fake_quantize(x) - x|^p into d. */
static void
lp_elems(const float *x, float *d, const struct qp__shape *s, const float *scale, const int32_t *zp,
         int64_t qmin, int64_t qmax, double p)
{
    float lo = (float)qmin, hi = (float)qmax;
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            err_run(x + off, d + off, s->inner, scale[c], (float)zp[c], lo, hi);
        }
    pow_elems(d, s->numel, p);
}

/* The search: mn / mx hold each channel's min / max on entry, the chosen
 * range on return; *improved says whether any candidate beat 1e10 (when none
 * did, MQBench keeps a (1,)-shaped copy of the input's range, per tensor). */
static qp_status
search(qp_quant *q, const float *x, const struct qp__shape *s, float *mn, float *mx, bool *improved)
{
    size_t C = s->C, n = s->numel;
    size_t bytes = (n + 8 * C) * sizeof(float);
    float *d = qp__qalloc(q, bytes);
    qp_quant *qc = d ? qp__qalloc(q, sizeof *qc) : NULL;
    if (!qc) {
        if (d)
            qp__qfree(q, d, bytes);
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory (%s search over %zu elements)",
                        qp_obs_kind_name(q->a.obs), n);
    }
    float *nmn = d + n, *nmx = nmn + C, *scale = nmx + C, *score = scale + C, *best = score + C,
          *cmn = best + C, *cmx = cmn + C;
    int32_t *zp = (int32_t *)(cmx + C);
    /* _calculate_qparams as the search calls it: without pot_scale */
    memcpy(qc, q, sizeof *qc);
    qc->a.pot_scale = false;

    bool perch = q->a.ch_axis >= 0;
    int iters = perch ? 80 : 95;
    float count = (float)(perch ? n / C : n);
    memcpy(cmn, mn, C * sizeof *cmn);
    memcpy(cmx, mx, C * sizeof *cmx);
    for (size_t c = 0; c < C; c++)
        best[c] = 1e10f;
    *improved = false;
    for (int i = 0; i < iters; i++) {
        float f = (float)(1.0 - (double)i * 0.01);
        for (size_t c = 0; c < C; c++) {
            nmn[c] = mn[c] * f;
            nmx[c] = mx[c] * f;
        }
        qp__qparams_minmax(qc, nmn, nmx, C, scale, zp);
        lp_elems(x, d, s, scale, zp, q->a.quant_min, q->a.quant_max, q->a.p);
        if (perch)
            qp__tsum_perch(d, s->outer, C, s->inner, score);
        else
            score[0] = qp__tsum_row(d, n);
        for (size_t c = 0; c < C; c++) {
            float sc = score[c] / count;
            if (sc < best[c]) {
                best[c] = sc;
                cmn[c] = nmn[c];
                cmx[c] = nmx[c];
                *improved = true;
            }
        }
    }
    memcpy(mn, cmn, C * sizeof *mn);
    memcpy(mx, cmx, C * sizeof *mx);
    qp__qfree(q, qc, sizeof *qc);
    qp__qfree(q, d, bytes);
    return QP_OK;
}

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s, bool ema)
{
    size_t C = s->C;
    qp_status rc;
    if ((rc = qp__obs_check_flatten(q, s)))
        return rc;
    if ((rc = qp__obs_check_channels(q, C)) || (rc = qp__obs_reserve(q, C)))
        return rc;
    float small[128], *cur = C <= 64 ? small : qp__qalloc(q, 2 * C * sizeof *cur);
    if (!cur)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    float *mn = cur, *mx = cur + C;
    qp__aminmax(x, s, mn, mx);
    bool improved = false;
    if ((rc = search(q, x, s, mn, mx, &improved))) {
        if (cur != small)
            qp__qfree(q, cur, 2 * C * sizeof *cur);
        return rc;
    }
    const float *omn = qp__qs_f32(q, q->obs_min), *omx = qp__qs_f32(q, q->obs_max);
    size_t on = q->st[q->obs_min].numel; /* 1 (broadcast) or C */
    bool pt = q->a.ch_axis < 0;
    /* per tensor, a (1,)-shaped operand makes the result (1,) (broadcasting) */
    bool cur1 = pt && !improved, old1 = pt && q->st[q->obs_min].ndim == 1;
    bool shape1 = cur1 || old1;
    if (!ema) { /* torch.min / torch.max with the running range */
        for (size_t c = 0; c < C; c++) {
            float a = omn[on == 1 ? 0 : c], b = omx[on == 1 ? 0 : c];
            mn[c] = a < mn[c] ? a : mn[c];
            mx[c] = b > mx[c] ? b : mx[c];
        }
    } else if (!(q->st[q->obs_max].numel <= 1 && isinf(omx[0]))) {
        /* separate float products, then the sum: three tensor ops in torch */
        float r = (float)q->a.ema_ratio, r1 = (float)(1.0 - q->a.ema_ratio);
        for (size_t c = 0; c < C; c++) {
            float a = omn[on == 1 ? 0 : c] * r, b = mn[c] * r1;
            float e = omx[on == 1 ? 0 : c] * r, g = mx[c] * r1;
            mn[c] = a + b;
            mx[c] = e + g;
        }
    } else {
        shape1 = cur1; /* the first range is taken as it is */
    }
    qp__obs_set_range(q, mn, mx, C);
    if (shape1) {
        static const int64_t one[1] = {1};
        qp__qs_reshape(q, q->obs_min, 1, one);
        qp__qs_reshape(q, q->obs_max, 1, one);
    }
    if (cur != small)
        qp__qfree(q, cur, 2 * C * sizeof *cur);
    return QP_OK;
}

static qp_status
observe_mse(qp_quant *q, const float *x, const struct qp__shape *s)
{
    return observe(q, x, s, false);
}

static qp_status
observe_ema_mse(qp_quant *q, const float *x, const struct qp__shape *s)
{
    return observe(q, x, s, true);
}

const struct qp__obs_ops qp__obs_mse = {QP_OBS_MSE, qp__obs_base_init, observe_mse,
                                        qp__obs_minmax_qparams};
const struct qp__obs_ops qp__obs_ema_mse = {QP_OBS_EMA_MSE, qp__obs_base_init, observe_ema_mse,
                                            qp__obs_minmax_qparams};
