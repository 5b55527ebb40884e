/*
 * fq_adaround.c - AdaRoundFakeQuantize (mqbench/fake_quantize/adaround_quantizer.py)
 * as MQBench runs it before any reconstruction (adaround False): the observer
 * when enabled, its qparams copied into the scale and zero-point buffers, then
 * torch.fake_quantize_per_{tensor,channel}_affine with a straight-through
 * backward. The learned rounding (alpha, init()) belongs to the reconstruction,
 * which qprep does not run.
 */
#include "fq_take.h"

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
            rc = qp__take_store(q, &t, q->ix[SCALE], q->ix[ZP], true);
        qp__take_end(q, &t);
        if (rc)
            return rc;
    }
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    qp__fq_affine_fwd(x, y, s, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                      q->a.quant_min, q->a.quant_max);
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    qp_status rc = qp__take_check(q, q->ix[SCALE], q->ix[ZP], s->C);
    if (rc)
        return rc;
    qp__fq_affine_bwd(x, dy, dx, s, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                      q->a.quant_min, q->a.quant_max);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_adaround = {QP_FQ_ADAROUND, init, forward, backward};
