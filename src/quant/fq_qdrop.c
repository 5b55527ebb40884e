/*
 * fq_qdrop.c - QDropFakeQuantize (mqbench/fake_quantize/qdrop_quantizer.py) as
 * MQBench runs it before any reconstruction (prob 1.0: nothing dropped). The
 * scale is a parameter; the observer, when enabled, overwrites it and the
 * zero-point buffer. Fake quantization is MQBench's own autograd expression
 *   y = (clamp(round(x / scale) + zp, quant_min, quant_max) - zp) * scale
 * with round() straight through, so the scale gets the gradient of both its
 * uses: sum(dy * (clamp(...) - zp)) and, inside the range, -sum(dy * scale *
 * (x / scale) / scale).
 */
#include "fq_take.h"

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

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
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
            float sc = S[c], z = (float)Z[c];
            const float *xp = x + off;
            float *yp = y + off;
            for (size_t i = 0; i < s->inner; i++) {
                /* (round(v) - v) + v is round(v) exactly: |round(v) - v| <= 0.5 */
                float v = nearbyintf(xp[i] / sc) + z;
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                yp[i] = (v - z) * sc;
            }
        }
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    qp_status rc = qp__take_check(q, q->ix[SCALE], q->ix[ZP], s->C);
    if (rc)
        return rc;
    const float *S = qp__qs_f32(q, q->ix[SCALE]);
    const int32_t *Z = qp__qs_i32(q, q->ix[ZP]);
    float *gS = q->st[q->ix[SCALE]].grad;
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t c = 0; c < s->C; c++) {
        float sc = S[c], z = (float)Z[c];
        double g_mul = 0.0, g_div = 0.0;
        for (size_t o = 0; o < s->outer; o++) {
            size_t off = (o * s->C + c) * s->inner;
            const float *xp = x + off, *dyp = dy + off;
            float *dxp = dx + off;
            for (size_t i = 0; i < s->inner; i++) {
                float xi = xp[i], d = dyp[i], v = xi / sc;
                float r = nearbyintf(v) + z;
                int in = r >= lo && r <= hi;
                r = r < lo ? lo : r;
                r = r > hi ? hi : r;
                float ga = d * sc;         /* mul's backward to (clamp - zp) */
                float gv = in ? ga : 0.0f; /* clamp's */
                g_mul += d * (r - z);      /* mul's backward to scale */
                g_div += -gv * (v / sc);   /* div's backward to scale */
                dxp[i] = gv / sc;
            }
        }
        gS[c] += (float)g_mul + (float)g_div;
    }
    return QP_OK;
}

const struct qp__fq_ops qp__fq_qdrop = {QP_FQ_QDROP, init, forward, backward};
