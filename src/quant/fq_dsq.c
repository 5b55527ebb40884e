/*
 * fq_dsq.c - DSQFakeQuantize (mqbench/fake_quantize/dsq.py): differentiable
 * soft quantization. In training mode MQBench runs the observer at every call,
 * whatever observer_enabled says, and copies its qparams into the scale and
 * zero-point buffers. The fake quantization, per tensor or per channel, is
 *   v = clamp(x / scale + zp, quant_min, quant_max)
 *   w = floor(v) + (k1 * tanh(k2 * (v - floor(v) - 0.5))) * 0.5 + 0.5
 *   y = ((round(w) - w) + w - zp) * scale
 * with k1 = 1 / (1 - alpha), k2 = log((k1 + 1) / (k1 - 1)), round() straight
 * through: the backward is autograd's through the tanh, step by step in float32
 * as ATen evaluates it (the python constants rounded to float).
 */
#include "fq_take.h"
#include "tanh_aten.h"

#include <math.h>
#include <string.h>

enum { SCALE, ZP };

static qp_status
init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_I32, pc, 1, one, &q->ix[ZP])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = 1.0f;
    return QP_OK;
}

/* tanh_scale and tanh_k as MQBench computes them in double. */
static void
constants(const qp_quant *q, float *k1, float *k2)
{
    double alpha = q->a.has_alpha ? q->a.alpha : 0.4;
    double ts = 1.0 / (1.0 - alpha);
    *k1 = (float)ts;
    *k2 = (float)log((ts + 1.0) / (ts - 1.0));
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    struct qp__take t;
    /* self.training: the observer runs whatever its flag says */
    if (!(rc = qp__take_begin(q, &t, s->C, q->ix[SCALE], q->ix[ZP])) &&
        !(rc = qp__observe(q, x, s)))
        rc = qp__take_store(q, &t, q->ix[SCALE], q->ix[ZP], true);
    qp__take_end(q, &t);
    if (rc)
        return rc;
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    const float *S = qp__qs_f32(q, q->ix[SCALE]);
    const int32_t *Z = qp__qs_i32(q, q->ix[ZP]);
    float k1, k2, lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    constants(q, &k1, &k2);
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            float sc = S[c], z = (float)Z[c];
            const float *xp = x + off;
            float *yp = y + off;
            for (size_t i = 0; i < s->inner; i++) {
                float v = xp[i] / sc + z;
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                float f = floorf(v);
                float u = k1 * qp__tanh_aten(k2 * ((v - f) - 0.5f));
                float w = (f + u * 0.5f) + 0.5f;
                w = (nearbyintf(w) - w) + w;
                yp[i] = (w - z) * sc;
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
    float k1, k2, lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    constants(q, &k1, &k2);
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            float sc = S[c], z = (float)Z[c];
            const float *xp = x + off, *dyp = dy + off;
            float *dxp = dx + off;
            for (size_t i = 0; i < s->inner; i++) {
                float v = xp[i] / sc + z;
                float in = v >= lo && v <= hi ? 1.0f : 0.0f;
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                float f = floorf(v);
                float th = qp__tanh_aten(k2 * ((v - f) - 0.5f));
                float g = ((dyp[i] * sc) * 0.5f) * k1;
                g = (g * fmaf(-th, th, 1.0f)) * k2; /* tanh_backward, fused as ATen's AVX2 build */
                dxp[i] = (in != 0.0f ? g : 0.0f) / sc;
            }
        }
    return QP_OK;
}

const struct qp__fq_ops qp__fq_dsq = {QP_FQ_DSQ, init, forward, backward};
