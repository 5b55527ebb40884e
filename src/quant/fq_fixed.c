/*
 * fq_fixed.c - FixedFakeQuantize (mqbench/fake_quantize/fixed.py, torch's
 * FakeQuantize): scale and zero point are buffers that the observer's qparams
 * overwrite at every call while it is on (resized to the observer's shape);
 * fake quantization is torch.fake_quantize_per_{tensor,channel}_affine, whose
 * backward passes dy where the rounded value lies in [quant_min, quant_max].
 */
#include "qint.h"

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
    qp__qs_i32(q, q->ix[ZP])[0] = 0;
    return QP_OK;
}

/* ATen's fake quantization refuses a zero point outside [quant_min, quant_max]. */
static qp_status
check_zp(qp_quant *q, const int32_t *Z, size_t n)
{
    for (size_t c = 0; c < n; c++)
        if (Z[c] < q->a.quant_min || Z[c] > q->a.quant_max)
            return qp__qerr(q, QP_ERR_INVALID_ARG,
                            "zero_point[%zu] = %d is outside [%lld, %lld] (torch raises: "
                            "`zero_point` must be between `quant_min` and `quant_max`)",
                            c, (int)Z[c], (long long)q->a.quant_min, (long long)q->a.quant_max);
    return QP_OK;
}

/* What ATen checks before fake-quantizing: per tensor one scale and zero point
 * (.item()), per channel one per channel; every zero point within the range. */
static qp_status
check(qp_quant *q, size_t C)
{
    size_t want = q->a.ch_axis >= 0 ? C : 1;
    size_t ns = q->st[q->ix[SCALE]].numel, nz = q->st[q->ix[ZP]].numel;
    if (ns != want || nz != want)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "scale holds %zu and zero_point %zu values, %zu wanted (x has %zu "
                        "channels on axis %d): calibrate first or load a matching state",
                        ns, nz, want, C, q->a.ch_axis);
    return check_zp(q, qp__qs_i32(q, q->ix[ZP]), want);
}

/* The observer's qparams into scale / zero_point, resized to its shape. */
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
        !(rc = qp__obs_qparams(q, sc, zp, C)) && !(rc = q->fq_on ? check_zp(q, zp, C) : QP_OK)) {
        /* (a zero point the fake quantization would refuse is refused before it is taken) */
        int64_t shape[1] = {(int64_t)C};
        uint32_t nd = q->a.ch_axis < 0 && q->obs_qp_0d ? 0 : 1;
        qp__qs_reshape(q, q->ix[SCALE], nd, shape);
        qp__qs_reshape(q, q->ix[ZP], nd, shape);
        memcpy(qp__qs_f32(q, q->ix[SCALE]), sc, C * sizeof *sc);
        memcpy(qp__qs_i32(q, q->ix[ZP]), zp, C * sizeof *zp);
    }
    if (sc && sc != small)
        qp__qfree(q, sc, C * sizeof *sc);
    if (zp && zp != zsmall)
        qp__qfree(q, zp, C * sizeof *zp);
    return rc;
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    if (q->obs_on && (rc = take_qparams(q, x, s)))
        return rc;
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    if ((rc = check(q, s->C)))
        return rc;
    qp__fq_affine_fwd(x, y, s, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                      q->a.quant_min, q->a.quant_max);
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    qp_status rc = check(q, s->C);
    if (rc)
        return rc;
    qp__fq_affine_bwd(x, dy, dx, s, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                      q->a.quant_min, q->a.quant_max);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_fixed = {QP_FQ_FIXED, init, forward, backward};
