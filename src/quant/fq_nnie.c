/*
 * fq_nnie.c - NNIEFakeQuantize (mqbench/fake_quantize/nnie.py): HiSilicon
 * NNIE's logarithmic 8-bit grid. data_max, a buffer, is the largest
 * max(-min_val, max_val) the observer has held (taken at every call, the
 * observer on or off); x becomes +-2^((k + z) / 16) with z = round(16
 * log2(data_max)) - 127 and k = round(16 log2|x| - z) clamped (k >= 1 for
 * negatives), or 0 below the grid's first step. All in double, as MQBench
 * casts, then back to float. The backward is the identity.
 */
#include "qint.h"

#include <math.h>
#include <string.h>

enum { DATA_MAX };

static qp_status
init(qp_quant *q)
{
    qp_status rc = qp__qs_add(q, "data_max", QP_DT_F32, 0, 0, NULL, &q->ix[DATA_MAX]);
    if (rc)
        return rc;
    qp__qs_f32(q, q->ix[DATA_MAX])[0] = -INFINITY;
    return QP_OK;
}

/* torch.max of two values: nan if either is. */
static float
tmax(float a, float b)
{
    return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
}

/* A double to float, inf past float's range (C leaves that conversion undefined). */
static float
to_f32(double v)
{
    if (v >= 0x1.ffffffp127)
        return INFINITY;
    if (v <= -0x1.ffffffp127)
        return -INFINITY;
    return (float)v;
}

/* NNIEQuantizeFunc.forward, x and y may alias. */
static void
nnie_grid(const float *x, float *y, size_t n, float data_max)
{
    double z = nearbyint(16.0 * log2((double)data_max)) - 127.0;
    double tp = pow(2.0, (z - 16.0) / 16.0), tn = pow(2.0, (z + 1.0 - 16.0) / 16.0);
    /* the 128 values 2^((k + z) / 16) the grid takes, as pow gives each */
    float pos[128], neg[128];
    for (int k = 0; k < 128; k++) {
        double v = pow(2.0, ((double)k + z) / 16.0);
        pos[k] = to_f32(v);
        neg[k] = to_f32(-v);
    }
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (v > tp) {
            double k = nearbyint(16.0 * log2(v) - z);
            if (isnan(k)) {
                y[i] = NAN;
                continue;
            }
            k = k < 0.0 ? 0.0 : k > 127.0 ? 127.0 : k;
            y[i] = pos[(int)k];
        } else if (v < -tn) {
            double k = nearbyint(16.0 * log2(-v) - z);
            if (isnan(k)) {
                y[i] = NAN;
                continue;
            }
            k = k < 1.0 ? 1.0 : k > 127.0 ? 127.0 : k;
            y[i] = neg[(int)k];
        } else if (v >= -tn && v < tp) {
            y[i] = 0.0f;
        } else {
            y[i] = x[i]; /* on the first positive step exactly, or nan: MQBench leaves it */
        }
    }
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    qp_status rc;
    if (q->a.ch_axis >= 0)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG,
                        "NNIEFakeQuantize quantizes per tensor only (its data_max is one value)");
    if (q->obs_on && (rc = qp__observe(q, x, s)))
        return rc;
    if (q->st[q->obs_min].numel != 1 || q->st[q->obs_max].numel != 1)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "NNIEFakeQuantize: activation_post_process.min_val holds %zu values, one "
                        "wanted",
                        q->st[q->obs_min].numel);
    float *dm = qp__qs_f32(q, q->ix[DATA_MAX]);
    float cur = tmax(-qp__qs_f32(q, q->obs_min)[0], qp__qs_f32(q, q->obs_max)[0]);
    dm[0] = tmax(cur, dm[0]);
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    nnie_grid(x, y, s->numel, dm[0]);
    return QP_OK;
}

static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    (void)q;
    (void)x;
    if (dx != dy)
        memmove(dx, dy, s->numel * sizeof *dx);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_nnie = {QP_FQ_NNIE, init, forward, backward};
