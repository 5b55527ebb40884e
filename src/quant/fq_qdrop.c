/*
 * fq_qdrop.c - QDropFakeQuantize (mqbench/fake_quantize/qdrop_quantizer.py) as
 * MQBench runs it before any reconstruction (prob 1.0: nothing dropped). The
 * scale is a parameter; the observer, when enabled, overwrites it and the
 * zero-point buffer. Fake quantization is MQBench's own autograd expression
 *   y = (clamp(round(x / scale) + zp, quant_min, quant_max) - zp) * scale
 * with round() straight through, so the scale gets the gradient of both its
 * uses: sum(dy * (clamp(...) - zp)) and, inside the range, -sum(dy * scale *
 * (x / scale) / scale).
 *
 * MQBench's per-channel expression reshapes the scale to the channel axis but
 * not the zero point, which torch then broadcasts along the LAST axis: qprep
 * reproduces that (zero point of element i: zp[i mod last dimension]) and,
 * where torch cannot broadcast (the last dimension is not the channel count),
 * fails as MQBench does, with QP_ERR_INVALID_ARG. With a symmetric scheme the
 * zero points are 0 and only the failure shows. In the configuration's fixed
 * mode (qp_config_set_fix) each channel takes its own zero point instead.
 */
#include "fq_take.h"
#include "tsum.h"

#include <math.h>
#include <string.h>

enum { SCALE, ZP };

static qp_status
init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, QP__QS_PARAM | pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_I32, pc, 1, one, &q->ix[ZP])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = 1.0f;
    return QP_OK;
}

/* One element: (round(v) - v) + v is round(v) exactly, as |round(v) - v| <= 0.5. */
static inline float
fq_elem(float x, float sc, float z, float lo, float hi)
{
    float v = nearbyintf(x / sc) + z;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (v - z) * sc;
}

/* Checks MQBench's zero-point broadcast (see above); *L: the zero point's period
 * along the flat index, 0 for one zero point per channel (fixed mode). */
static qp_status
zp_period(qp_quant *q, const struct qp__shape *s, size_t *L)
{
    *L = 1;
    if (s->C == 1)
        return QP_OK;
    if (q->a.fix) {
        *L = 0;
        return QP_OK;
    }
    size_t last = (size_t)s->dims[s->ndim - 1];
    if (last != s->C)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "QDropFakeQuantize adds its %zu per-channel zero points along the last "
                        "axis (MQBench does not reshape them), whose size is %zu: MQBench fails "
                        "to broadcast",
                        s->C, last);
    *L = last;
    return QP_OK;
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    size_t L;
    if (q->fq_on && (rc = zp_period(q, s, &L)))
        return rc;
    if (q->fq_on && !q->obs_on && (rc = qp__take_check(q, q->ix[SCALE], q->ix[ZP], s->C)))
        return rc;
    if (q->obs_on) {
        struct qp__take t;
        if (!(rc = qp__take_begin(q, &t, s->C, q->ix[SCALE], q->ix[ZP])) &&
            !(rc = qp__observe(q, x, s)))
            rc = qp__take_store(q, &t, q->ix[SCALE], q->ix[ZP], false);
        qp__take_end(q, &t);
        if (rc)
            return rc;
    }
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    const float *S = qp__qs_f32(q, q->ix[SCALE]);
    const int32_t *Z = qp__qs_i32(q, q->ix[ZP]);
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            float sc = S[c];
            const float *xp = x + off;
            float *yp = y + off;
            if (L <= 1) {
                float z = (float)Z[L ? 0 : c];
                for (size_t i = 0; i < s->inner; i++)
                    yp[i] = fq_elem(xp[i], sc, z, lo, hi);
            } else {
                for (size_t i = 0; i < s->inner; i++)
                    yp[i] = fq_elem(xp[i], sc, (float)Z[(off + i) % L], lo, hi);
            }
        }
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    size_t L;
    qp_status rc = zp_period(q, s, &L);
    if (rc || (rc = qp__take_check(q, q->ix[SCALE], q->ix[ZP], s->C)))
        return rc;
    /* the scale's two gradient terms per element, summed as torch's sum_to_size does */
    size_t n = s->numel;
    float *e_mul = qp__qalloc(q, (2 * n + 2 * s->C) * sizeof *e_mul);
    if (!e_mul)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory for %zu elements", n);
    float *e_div = e_mul + n;
    const float *S = qp__qs_f32(q, q->ix[SCALE]);
    const int32_t *Z = qp__qs_i32(q, q->ix[ZP]);
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            float sc = S[c];
            for (size_t i = 0; i < s->inner; i++) {
                size_t k = off + i;
                float xi = x[k], d = dy[k], v = xi / sc;
                float z = (float)Z[L == 1 ? 0 : L ? k % L : c];
                float r = nearbyintf(v) + z;
                int in = r >= lo && r <= hi;
                r = r < lo ? lo : r;
                r = r > hi ? hi : r;
                float gv = in ? d * sc : 0.0f; /* mul's backward to (clamp - zp), then clamp's */
                e_mul[k] = d * (r - z);        /* mul's backward to the scale */
                e_div[k] = -gv * (v / sc);     /* div's backward to the scale */
                dx[k] = gv / sc;
            }
        }
    float *gS = q->st[q->ix[SCALE]].grad;
    float *s_mul = e_div + n, *s_div = s_mul + s->C;
    qp__tsum_perch(e_mul, s->outer, s->C, s->inner, s_mul);
    qp__tsum_perch(e_div, s->outer, s->C, s->inner, s_div);
    for (size_t c = 0; c < s->C; c++)
        gS[c] += s_mul[c] + s_div[c];
    qp__qfree(q, e_mul, (2 * n + 2 * s->C) * sizeof *e_mul);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_qdrop = {QP_FQ_QDROP, init, forward, backward};
