/*
 * fq_dorefa.c - DoReFaFakeQuantize (mqbench/fake_quantize/dorefa.py): the
 * input is squashed first, X = tanh(x) / (max|tanh(x)| + 1e-5) over the whole
 * tensor, then observed (when enabled) and fake-quantized by
 * torch.fake_quantize_per_{tensor,channel}_affine. Squashing happens with fake
 * quantization off too, and so does its gradient. The backward is autograd's through the squash:
 * the straight-through gradient g divided by the denominator D, plus, on the elements reaching the
 * maximum, their share of D's gradient -sum(g * X / D), times tanh's derivative 1 - t * t.
 */
#include "fq_take.h"
#include "tanh_aten.h"
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
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_I32, pc, 1, one, &q->ix[ZP])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = 1.0f;
    q->fq_bwd_off = true; /* the squash has a gradient of its own */
    return QP_OK;
}

/* t = tanh(x) into t (may be x); returns max |t|. */
static float
squash_tanh(const float *x, float *t, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = qp__tanh_aten(x[i]);
        float a = fabsf(v);
        m = a > m ? a : m;
        t[i] = v;
    }
    return m;
}

/* X.abs().max() + 1e-5 in float32: the python scalar rounds to float first. */
static float
denominator(float m)
{
    return m + (float)1e-5;
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    if (q->fq_on && !q->obs_on && (rc = qp__take_check(q, q->ix[SCALE], q->ix[ZP], s->C)))
        return rc;
    size_t n = s->numel;
    if (q->obs_on) {
        /* the squashed X in scratch until the observer has taken it: y only on success */
        struct qp__take t = {0};
        float *X = qp__qalloc(q, n * sizeof *X);
        if (!X)
            rc = qp__qerr(q, QP_ERR_NOMEM, "out of memory for %zu elements", n);
        else if (!(rc = qp__take_begin(q, &t, s->C, q->ix[SCALE], q->ix[ZP]))) {
            float d = denominator(squash_tanh(x, X, n));
            for (size_t i = 0; i < n; i++)
                X[i] = X[i] / d;
            if (!(rc = qp__observe(q, X, s)))
                rc = qp__take_store(q, &t, q->ix[SCALE], q->ix[ZP], true);
            if (!rc)
                memcpy(y, X, n * sizeof *y);
        }
        qp__take_end(q, &t);
        qp__qfree(q, X, n * sizeof *X);
        if (rc)
            return rc;
    } else {
        float d = denominator(squash_tanh(x, y, n));
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] / d;
    }
    if (q->fq_on)
        qp__fq_affine_fwd(y, y, s, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                          q->a.quant_min, q->a.quant_max);
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    qp_status rc = q->fq_on ? qp__take_check(q, q->ix[SCALE], q->ix[ZP], s->C) : QP_OK;
    if (rc)
        return rc;
    size_t n = s->numel;
    /* dx may alias dy: tanh, the straight-through gradient and D's gradient
     * terms need room of their own */
    float *t = qp__qalloc(q, 3 * n * sizeof *t);
    if (!t)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory for %zu elements", n);
    float *g = t + n, *e = g + n;
    float m = squash_tanh(x, t, n), d = denominator(m);
    if (q->fq_on) { /* the straight-through gradient of X = t / D */
        for (size_t i = 0; i < n; i++)
            g[i] = t[i] / d;
        qp__fq_affine_bwd(g, dy, g, s, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                          q->a.quant_min, q->a.quant_max);
    } else {
        for (size_t i = 0; i < n; i++)
            g[i] = dy[i];
    }
    /* D's gradient: -g * ((t / D) / D) (div's other-operand backward), summed as torch.sum */
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        e[i] = -g[i] * ((t[i] / d) / d);
        count += fabsf(t[i]) == m;
    }
    /* max()'s backward spreads it evenly over the elements equal to the max */
    float share = qp__tsum_row(e, n) / (float)count;
    for (size_t i = 0; i < n; i++) {
        float ti = t[i];
        float sg = ti > 0.0f ? 1.0f : ti < 0.0f ? -1.0f : 0.0f;
        float gt = g[i] / d + (fabsf(ti) == m ? share * sg : 0.0f);
        dx[i] = gt * fmaf(-ti, ti, 1.0f); /* tanh_backward, fused as ATen's AVX2 build */
    }
    qp__qfree(q, t, 3 * n * sizeof *t);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_dorefa = {QP_FQ_DOREFA, init, forward, backward};
