/*
 * obs_lsq.c - LSQObserver (mqbench/observer.py): the last input's range and
 * mean absolute value (tensor_norm, per tensor or per channel), which
 * calculate_qparams turns into scale = 2 * tensor_norm / sqrt(quant_max)
 * (then pot_scale) and, for an affine scheme, zero point quant_min -
 * round(min_val / scale), unclamped. tensor_norm is an attribute, not a
 * buffer: it lives in q->obs_priv. Per tensor its qparams are 0-d tensors.
 */
#include "qint.h"

#include <math.h>
#include <string.h>

struct lsq {
    size_t cap; /* floats norm[] can hold */
    size_t n;   /* channels of the last input; 0: none observed yet */
    float norm[];
};

static qp_status
init(qp_quant *q)
{
    qp_status rc = qp__obs_base_init(q);
    if (rc)
        return rc;
    struct lsq *p = qp__qalloc(q, sizeof *p);
    if (!p)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    memset(p, 0, sizeof *p);
    q->obs_priv = p;
    q->obs_qp_0d = q->a.ch_axis < 0;
    q->obs_priv_size = sizeof *p;
    return QP_OK;
}

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    size_t C = s->C;
    struct lsq *p = q->obs_priv;
    qp_status rc = qp__obs_reserve(q, C);
    if (rc)
        return rc;
    if (C > p->cap) {
        if (C > (SIZE_MAX - sizeof *p) / (3 * sizeof(float)))
            return qp__qerr(q, QP_ERR_LIMIT, "too many channels");
        size_t sz = sizeof *p + 3 * C * sizeof(float);
        struct lsq *np = qp__qalloc(q, sz);
        if (!np)
            return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
        memcpy(np, p, sizeof *p);
        np->cap = C;
        qp__qfree(q, p, q->obs_priv_size);
        q->obs_priv = p = np;
        q->obs_priv_size = sz;
    }
    /* norm[0..C), then room for the channels' min and max */
    float *mn = p->norm + C, *mx = p->norm + 2 * C;
    qp__aminmax(x, s, mn, mx);
    for (size_t c = 0; c < C; c++) {
        double sum = 0.0;
        for (size_t o = 0; o < s->outer; o++) {
            const float *xp = x + (o * C + c) * s->inner;
            for (size_t i = 0; i < s->inner; i++)
                sum += fabsf(xp[i]);
        }
        /* x.abs().mean(): the float sum over the float count */
        float fs = sum >= 0x1.ffffffp127 ? INFINITY : (float)sum;
        p->norm[c] = fs / (float)(s->numel / C);
    }
    qp__obs_set_range(q, mn, mx, C);
    p->n = C;
    return QP_OK;
}

static qp_status
qparams(qp_quant *q, float *scale, int32_t *zero_point, size_t n)
{
    const struct qp__qargs *a = &q->a;
    struct lsq *p = q->obs_priv;
    if (p->n == 0)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "LSQObserver: calculate_qparams before any input was observed "
                        "(its tensor_norm is None)");
    if (p->n != n || q->st[q->obs_min].numel != n)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "LSQObserver holds %zu channels (min_val %zu), %zu wanted", p->n,
                        q->st[q->obs_min].numel, n);
    const float *mnv = qp__qs_f32(q, q->obs_min);
    float root = (float)sqrt((double)a->quant_max), lo = (float)a->quant_min;
    for (size_t c = 0; c < n; c++) {
        float s = 2.0f * p->norm[c] / root;
        if (a->pot_scale)
            s = qp__pot_round(s);
        float z = a->symmetric ? 0.0f : lo - nearbyintf(mnv[c] / s);
        if (!(z >= -0x1p31f && z < 0x1p31f))
            return qp__qerr(q, QP_ERR_INVALID_ARG,
                            "LSQObserver: zero point %g of channel %zu (min_val %g, scale %g) "
                            "is not an int32",
                            (double)z, c, (double)mnv[c], (double)s);
        scale[c] = s;
        zero_point[c] = (int32_t)z;
    }
    return QP_OK;
}

const struct qp__obs_ops qp__obs_lsq = {QP_OBS_LSQ, init, observe, qparams};
