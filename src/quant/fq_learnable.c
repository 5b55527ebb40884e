/*
 * fq_learnable.c - LearnableFakeQuantize (LSQ, mqbench/fake_quantize/lsq.py):
 * scale and zero point are parameters. With the observer on they are
 * overwritten by its qparams at every call; with it off the scale is kept
 * at |scale| >= eps. Fake quantization is ATen's
 * _fake_quantize_learnable_per_{tensor,channel}_affine, whose backward gives
 * the scale and zero-point gradients scaled by grad_factor.
 *
 * Arithmetic at ties as FORMAT.md (numerics) states it: the forward rounds
 * x * inv and adds the zero point; the backward rounds the fused x * inv + zp.
 */
#include "qint.h"
#include "tsum.h"

#include <math.h>
#include <string.h>

enum { SCALE, ZP, EPS };

static qp_status
init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, QP__QS_PARAM | pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_F32, QP__QS_PARAM | pc, 1, one, &q->ix[ZP])) ||
        (rc = qp__qs_add(q, "eps", QP_DT_F32, 0, 1, one, &q->ix[EPS])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = (float)(q->a.has_scale ? q->a.scale : 1.0);
    qp__qs_f32(q, q->ix[ZP])[0] = (float)(q->a.has_zero_point ? q->a.zero_point : 0.0);
    qp__qs_f32(q, q->ix[EPS])[0] = (float)q->a.eps;
    return QP_OK;
}

/* The scale's and zero point's length must be the channel count (per tensor: 1). */
static qp_status
check_len(qp_quant *q, size_t C)
{
    size_t ns = q->st[q->ix[SCALE]].numel, nz = q->st[q->ix[ZP]].numel;
    if (ns != C || nz != C)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "scale holds %zu and zero_point %zu values, x has "
                        "%zu channels on axis %d: calibrate first or load a matching state",
                        ns, nz, C, q->a.ch_axis);
    return QP_OK;
}

/* The zero point the forward uses, channel c: nearbyint, clamped. */
static float
zp_fwd(const qp_quant *q, float z)
{
    float r = nearbyintf(z);
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    return r < lo ? lo : r > hi ? hi : r;
}

/* Per tensor, ATen's backward takes (int64)clamp(zp + 0.5f) instead. */
static float
zp_bwd(const qp_quant *q, float z)
{
    if (q->a.ch_axis >= 0)
        return zp_fwd(q, z);
    float r = z + 0.5f;
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    r = r < lo ? lo : r > hi ? hi : r;
    return truncf(r);
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    size_t C = s->C;
    qp_status rc;
    if (q->obs_on) {
        /* everything that can fail before anything changes */
        float small[64];
        int32_t zsmall[64];
        float *sc = C <= 64 ? small : qp__qalloc(q, C * sizeof *sc);
        int32_t *zp = C <= 64 ? zsmall : qp__qalloc(q, C * sizeof *zp);
        rc = !sc || !zp ? qp__qerr(q, QP_ERR_NOMEM, "out of memory") : QP_OK;
        if (!rc && !(rc = qp__qs_reserve(q, q->ix[SCALE], C)) &&
            !(rc = qp__qs_reserve(q, q->ix[ZP], C)) && !(rc = qp__observe(q, x, s)) &&
            !(rc = qp__obs_qparams(q, sc, zp, C))) {
            int64_t shape[1] = {(int64_t)C};
            qp__qs_reshape(q, q->ix[SCALE], 1, shape);
            qp__qs_reshape(q, q->ix[ZP], 1, shape);
            float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
            for (size_t c = 0; c < C; c++) {
                S[c] = sc[c];
                Z[c] = (float)zp[c];
            }
        }
        if (sc && sc != small)
            qp__qfree(q, sc, C * sizeof *sc);
        if (zp && zp != zsmall)
            qp__qfree(q, zp, C * sizeof *zp);
        if (rc)
            return rc;
    } else {
        float *S = qp__qs_f32(q, q->ix[SCALE]);
        float eps = qp__qs_f32(q, q->ix[EPS])[0];
        for (size_t c = 0; c < q->st[q->ix[SCALE]].numel; c++) {
            float a = fabsf(S[c]);
            S[c] = a < eps ? eps : a;
        }
    }
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    if ((rc = check_len(q, C)))
        return rc;
    float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t c = 0; c < C; c++) /* in place, as MQBench's zero_()/clamp_() */
        Z[c] = q->a.symmetric ? 0.0f : Z[c] < lo ? lo : Z[c] > hi ? hi : Z[c];
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < C; c++) {
            size_t off = (o * C + c) * s->inner;
            float sc = S[c], inv = 1.0f / sc, z = zp_fwd(q, Z[c]);
            const float *xp = x + off;
            float *yp = y + off;
            for (size_t i = 0; i < s->inner; i++) {
                float v = z + nearbyintf(xp[i] * inv);
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                yp[i] = (v - z) * sc;
            }
        }
    return QP_OK;
}

/* grad_factor as MQBench computes it in Python (double, ** 0.5), then as ATen's float. */
static float
grad_factor(const qp_quant *q, const struct qp__shape *s)
{
    if (!q->a.use_grad_scaling)
        return 1.0f;
    double n = q->a.ch_axis >= 0 ? (double)s->numel / (double)s->C : (double)s->numel;
    return (float)(1.0 / pow(n * (double)q->a.quant_max, 0.5));
}

/*
 * ATen writes each element's scale and zero-point terms to two tensors and sums
 * them with torch.sum (over everything, or every dimension but the channel
 * one); so does this, in the same order (tsum.h), so the gradients are
 * MQBench's to the bit. The terms themselves are ATen's expressions.
 */
static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    size_t C = s->C, n = s->numel;
    qp_status rc = check_len(q, C);
    if (rc)
        return rc;
    float *ts = qp__qalloc(q, 2 * n * sizeof *ts);
    float *sums = C > 64 ? qp__qalloc(q, 2 * C * sizeof *sums) : NULL, small[128];
    if (!ts || (C > 64 && !sums)) {
        qp__qfree(q, ts, ts ? 2 * n * sizeof *ts : 0);
        qp__qfree(q, sums, sums ? 2 * C * sizeof *sums : 0);
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory for the backward's gradient terms");
    }
    if (!sums)
        sums = small;
    float *tz = ts + n;
    const float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
    float *gS = q->st[q->ix[SCALE]].grad, *gZ = q->st[q->ix[ZP]].grad;
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max, gf = grad_factor(q, s);
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < C; c++) {
            float sc = S[c], inv = 1.0f / sc, z = zp_bwd(q, Z[c]);
            float dsmall = lo - z, dbig = hi - z;
            size_t off = (o * C + c) * s->inner;
            const float *xp = x + off, *dyp = dy + off;
            float *dxp = dx + off, *tsp = ts + off, *tzp = tz + off;
            for (size_t i = 0; i < s->inner; i++) {
                float xi = xp[i], d = dyp[i];
                float xq = nearbyintf(fmaf(xi, inv, z));
                if (xq < lo || xq > hi) {
                    tsp[i] = d * (xq < lo ? dsmall : dbig) * gf;
                    tzp[i] = d * -1.0f * sc * gf;
                    dxp[i] = 0.0f;
                } else {
                    tsp[i] = d * fmaf(xq - z, sc, -xi) * inv * gf;
                    tzp[i] = 0.0f;
                    dxp[i] = d;
                }
            }
        }
    qp__tsum_perch(ts, s->outer, C, s->inner, sums);
    qp__tsum_perch(tz, s->outer, C, s->inner, sums + C);
    for (size_t c = 0; c < C; c++) {
        gS[c] += sums[c];
        gZ[c] += sums[C + c];
    }
    qp__qfree(q, ts, 2 * n * sizeof *ts);
    if (sums != small)
        qp__qfree(q, sums, 2 * C * sizeof *sums);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_learnable = {QP_FQ_LEARNABLE, init, forward, backward};
