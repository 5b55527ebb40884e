/*
 * fq_pact.c - PACTFakeQuantize (mqbench/fake_quantize/pact.py): a learnable
 * clipping level alpha (and n_alpha below zero for an affine scheme). With the
 * observer on, MQBench observes x, clips it to alpha from above, overwrites the
 * observer's max_val with alpha, and, if the clipped data still goes below zero,
 * clips it to -alpha (symmetric) or n_alpha and sets min_val so (else min_val =
 * 0), before taking the qparams. With the observer off x is not clipped. Fake
 * quantization is torch.fake_quantize_per_tensor_affine: MQBench passes
 * scale.item(), so a per-channel PACT with more than one channel fails there,
 * and qprep refuses it.
 *
 * Gradients (autograd through torch.where): alpha gets the straight-through
 * gradient of the elements clipped to it, minus (symmetric) that of the elements
 * clipped to -alpha; n_alpha gets that of the elements clipped to it. The
 * clipping, and so its gradient, happens with fake quantization off too.
 */
#include "fq_take.h"
#include "tsum.h"

#include <math.h>
#include <string.h>

enum { ALPHA, NALPHA, SCALE, ZP };

static qp_status
init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    double alpha = q->a.has_alpha ? q->a.alpha : 6.0;
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "alpha", QP_DT_F32, QP__QS_PARAM, 1, one, &q->ix[ALPHA])))
        return rc;
    qp__qs_f32(q, q->ix[ALPHA])[0] = (float)alpha;
    if (!q->a.symmetric) {
        if ((rc = qp__qs_add(q, "n_alpha", QP_DT_F32, QP__QS_PARAM, 1, one, &q->ix[NALPHA])))
            return rc;
        qp__qs_f32(q, q->ix[NALPHA])[0] = (float)-alpha;
    }
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_I32, pc, 1, one, &q->ix[ZP])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = 1.0f;
    q->fq_bwd_off = true; /* the clipping has a gradient of its own */
    return QP_OK;
}

/* The clipping levels the observer step applies: hi = alpha; lo = -alpha or
 * n_alpha when the data clipped at alpha goes below zero, else -inf (no clip). */
struct clip {
    float hi, lo;
};

static struct clip
clip_levels(qp_quant *q, const float *x, size_t n)
{
    struct clip k;
    k.hi = qp__qs_f32(q, q->ix[ALPHA])[0];
    float mn = INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = x[i] > k.hi ? k.hi : x[i];
        mn = v < mn ? v : mn;
    }
    k.lo = -INFINITY;
    if (mn < 0.0f)
        k.lo = q->a.symmetric ? -k.hi : qp__qs_f32(q, q->ix[NALPHA])[0];
    return k;
}

/* The shape as torch.fake_quantize_per_tensor_affine sees it. */
static struct qp__shape
per_tensor(const struct qp__shape *s)
{
    struct qp__shape t = *s;
    t.outer = 1;
    t.C = 1;
    t.inner = s->numel;
    t.axis = -1;
    return t;
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    struct qp__shape pt = per_tensor(s);
    if (q->fq_on && s->C != 1)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "PACTFakeQuantize fake-quantizes per tensor (MQBench's scale.item()): "
                        "x has %zu channels on axis %d",
                        s->C, s->axis);
    if (q->fq_on && !q->obs_on && (rc = qp__take_check(q, q->ix[SCALE], q->ix[ZP], 1)))
        return rc;
    if (q->obs_on) {
        struct qp__take t;
        if (!(rc = qp__take_begin(q, &t, s->C, q->ix[SCALE], q->ix[ZP])) &&
            !(rc = qp__observe(q, x, s))) {
            struct clip k = clip_levels(q, x, s->numel);
            /* min_val / max_val .fill_(): every channel the observer holds */
            float *mn = qp__qs_f32(q, q->obs_min), *mx = qp__qs_f32(q, q->obs_max);
            for (size_t c = 0; c < q->st[q->obs_max].numel; c++)
                mx[c] = k.hi;
            for (size_t c = 0; c < q->st[q->obs_min].numel; c++)
                mn[c] = k.lo == -INFINITY ? 0.0f : k.lo;
            rc = qp__take_store(q, &t, q->ix[SCALE], q->ix[ZP], true);
            for (size_t i = 0; !rc && i < s->numel; i++) { /* y only on success */
                float v = x[i] > k.hi ? k.hi : x[i];
                y[i] = v < k.lo ? k.lo : v;
            }
        }
        qp__take_end(q, &t);
        if (rc)
            return rc;
    } else if (y != x) {
        memmove(y, x, s->numel * sizeof *y);
    }
    if (q->fq_on)
        qp__fq_affine_fwd(y, y, &pt, qp__qs_f32(q, q->ix[SCALE]), qp__qs_i32(q, q->ix[ZP]),
                          q->a.quant_min, q->a.quant_max);
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    qp_status rc = q->fq_on ? qp__take_check(q, q->ix[SCALE], q->ix[ZP], 1) : QP_OK;
    if (rc)
        return rc;
    struct clip k = {INFINITY, -INFINITY};
    if (q->obs_on)
        k = clip_levels(q, x, s->numel);
    /* the terms of each clipping level's gradient, summed as torch.sum (sum_to_size) */
    size_t n = s->numel;
    float *e_hi = qp__qalloc(q, 2 * n * sizeof *e_hi);
    if (!e_hi)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory for %zu elements", n);
    float *e_lo = e_hi + n;
    float sc = qp__qs_f32(q, q->ix[SCALE])[0], inv = 1.0f / sc;
    float z = (float)qp__qs_i32(q, q->ix[ZP])[0];
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t i = 0; i < n; i++) {
        float xi = x[i];
        int c_hi = xi > k.hi;
        float v = c_hi ? k.hi : xi;
        int c_lo = v < k.lo;
        v = c_lo ? k.lo : v;
        float r = z + nearbyintf(v * inv);
        float g = !q->fq_on || (r >= lo && r <= hi) ? dy[i] : 0.0f;
        e_lo[i] = c_lo ? g : 0.0f;
        e_hi[i] = c_hi && !c_lo ? g : 0.0f; /* where(X1 < lo) took it first */
        dx[i] = c_hi || c_lo ? 0.0f : g;
    }
    float g_hi = qp__tsum_row(e_hi, n), g_lo = qp__tsum_row(e_lo, n);
    qp__qfree(q, e_hi, 2 * n * sizeof *e_hi);
    if (q->a.symmetric) {
        q->st[q->ix[ALPHA]].grad[0] += g_hi + -g_lo;
    } else {
        q->st[q->ix[ALPHA]].grad[0] += g_hi;
        q->st[q->ix[NALPHA]].grad[0] += g_lo;
    }
    return QP_OK;
}

const struct qp__fq_ops qp__fq_pact = {QP_FQ_PACT, init, forward, backward};
