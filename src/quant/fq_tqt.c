/*
 * fq_tqt.c - TqtFakeQuantize (mqbench/fake_quantize/tqt.py, Vitis' trained
 * quantization thresholds as MQBench runs them): scale and zero point are
 * buffers (no gradient reaches them); the observer's qparams overwrite them
 * while it is on, else the scale is kept at |scale| >= eps. Fake quantization
 * rounds x onto the power-of-two grid 2^-floor(log2(1 / scale)) (quant_type
 * "param": round half to even; otherwise clamp, then negative ties up), and
 * the backward passes dy where x / scale, so rounded, lies in the range.
 *
 * MQBench asserts a symmetric per-tensor scheme and a quant_type when fake
 * quantization is on: this fails there, before changing anything.
 */
#include "pot_search.h"

#include <math.h>
#include <string.h>

enum { SCALE, ZP, EPS };

static qp_status
init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_F32, pc, 1, one, &q->ix[ZP])) ||
        (rc = qp__qs_add(q, "eps", QP_DT_F32, 0, 1, one, &q->ix[EPS])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = (float)(q->a.has_scale ? q->a.scale : 1.0);
    qp__qs_f32(q, q->ix[ZP])[0] = (float)(q->a.has_zero_point ? q->a.zero_point : 0.0);
    qp__qs_f32(q, q->ix[EPS])[0] = (float)QP__EPS_F32; /* torch.finfo(float32).eps */
    return QP_OK;
}

/* MQBench's assertions on the fake-quantization path, and one scale. */
static qp_status
check(qp_quant *q)
{
    if (!q->a.symmetric)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG,
                        "TqtFakeQuantize quantizes symmetrically only (MQBench asserts)");
    if (q->a.ch_axis >= 0)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG,
                        "TqtFakeQuantize quantizes per tensor only (MQBench asserts)");
    if (q->a.quant_type < 1 || q->a.quant_type > 3)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG,
                        "TqtFakeQuantize needs a quant_type (\"param\", \"tensor\" or "
                        "\"input\"): MQBench raises 'Invalid method None encoding!'");
    if (q->st[q->ix[SCALE]].numel != 1 || q->st[q->ix[ZP]].numel != 1)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "TqtFakeQuantize: scale holds %zu values, one wanted",
                        q->st[q->ix[SCALE]].numel);
    return QP_OK;
}

static qp_status
take_qparams(qp_quant *q, const float *x, const struct qp__shape *s)
{
    size_t C = s->C;
    float small[64];
    int32_t zsmall[64];
    float *sc = C <= 64 ? small : qp__qalloc(q, C * sizeof *sc);
    int32_t *zp = C <= 64 ? zsmall : qp__qalloc(q, C * sizeof *zp);
    qp_status rc = !sc || !zp ? qp__qerr(q, QP_ERR_NOMEM, "out of memory") : QP_OK;
    if (!rc && !(rc = qp__qs_reserve(q, q->ix[SCALE], C)) &&
        !(rc = qp__qs_reserve(q, q->ix[ZP], C)) && !(rc = qp__observe(q, x, s)) &&
        !(rc = qp__obs_qparams(q, sc, zp, C))) {
        if (q->a.ch_axis >= 0) { /* ones_like(_scale): the observer's shape */
            int64_t shape[1] = {(int64_t)C};
            qp__qs_reshape(q, q->ix[SCALE], 1, shape);
            qp__qs_reshape(q, q->ix[ZP], 1, shape);
        }
        float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
        for (size_t c = 0; c < q->st[q->ix[SCALE]].numel; c++) {
            S[c] = sc[c];
            Z[c] = (float)zp[c];
        }
    }
    if (sc && sc != small)
        qp__qfree(q, sc, C * sizeof *sc);
    if (zp && zp != zsmall)
        qp__qfree(q, zp, C * sizeof *zp);
    return rc;
}

/* The grid step 1 / 2^floor(log2(1 / scale)) (1 below 2^-15). */
static float
grid_step(float scale)
{
    float e = qp__pot_exponent(scale);
    return e == -INFINITY ? INFINITY : 1.0f / exp2f(e);
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    if (q->fq_on && (rc = check(q)))
        return rc;
    if (q->obs_on) {
        if ((rc = take_qparams(q, x, s)))
            return rc;
    } else {
        float *S = qp__qs_f32(q, q->ix[SCALE]), eps = qp__qs_f32(q, q->ix[EPS])[0];
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
    qp__qs_f32(q, q->ix[ZP])[0] = 0.0f;
    qp__pot_grid(x, y, s->numel, grid_step(qp__qs_f32(q, q->ix[SCALE])[0]), (float)q->a.quant_min,
                 (float)q->a.quant_max, qp__pot_half_even(q));
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    qp_status rc = check(q);
    if (rc)
        return rc;
    /* x / scale with the scale itself (not its power of two); negative ties up */
    float sc = qp__qs_f32(q, q->ix[SCALE])[0];
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t i = 0; i < s->numel; i++) {
        float t = x[i] / sc;
        float r = qp__pot_round_negup(t);
        dx[i] = r >= lo && r <= hi ? dy[i] : 0.0f * dy[i];
    }
    return QP_OK;
}

const struct qp__fq_ops qp__fq_tqt = {QP_FQ_TQT, init, forward, backward};
