/*
 * obs_lsq.c - LSQObserver (mqbench/observer.py): the last input's range and
 * mean absolute value (tensor_norm, per tensor or per channel), which
 * calculate_qparams turns into scale = 2 * tensor_norm / sqrt(quant_max)
 * (then pot_scale) and, for an affine scheme, zero point quant_min -
 * round(min_val / scale), unclamped. tensor_norm is an attribute, not a
 * buffer: it lives in q->obs_priv. Per tensor its qparams are 0-d tensors.
 */
#include "tsum.h"
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

/* Channel c's elements of x in the order torch's permute(ch_axis <-> 0) +
 * flatten(1) gives them (the other axes in order, axis 0 moved to ch_axis),
 * made absolute: the row x.abs().mean(1) sums. */
static void
gather_abs(const float *x, const struct qp__shape *s, size_t c, float *row)
{
    if (s->axis < 0) {
        for (size_t i = 0; i < s->numel; i++)
            row[i] = fabsf(x[i]);
        return;
    }
    if (s->axis <= 1) { /* the natural order: outer, then inner */
        for (size_t o = 0; o < s->outer; o++) {
            const float *xp = x + (o * s->C + c) * s->inner;
            for (size_t i = 0; i < s->inner; i++)
                row[o * s->inner + i] = fabsf(xp[i]);
        }
        return;
    }
    /* axis >= 2: dims 1 .. axis-1, then 0, then axis+1 .. (their row-major strides) */
    uint32_t nd = 0;
    size_t size[QP_QUANT_MAX_DIMS], stride[QP_QUANT_MAX_DIMS], idx[QP_QUANT_MAX_DIMS];
    size_t st[QP_QUANT_MAX_DIMS];
    st[s->ndim - 1] = 1;
    for (uint32_t d = s->ndim - 1; d > 0; d--)
        st[d - 1] = st[d] * (size_t)s->dims[d];
    for (uint32_t d = 1; d < s->ndim; d++) {
        uint32_t src = d == (uint32_t)s->axis ? 0 : d;
        size[nd] = (size_t)s->dims[src];
        stride[nd] = st[src];
        idx[nd++] = 0;
    }
    const float *base = x + c * st[s->axis];
    size_t K = s->numel / s->C;
    for (size_t k = 0; k < K; k++) {
        size_t off = 0;
        for (uint32_t d = 0; d < nd; d++)
            off += idx[d] * stride[d];
        row[k] = fabsf(base[off]);
        for (uint32_t d = nd; d-- > 0;) {
            if (++idx[d] < size[d])
                break;
            idx[d] = 0;
        }
    }
}

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    size_t C = s->C, K = s->numel / C;
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
    float *row = qp__qalloc(q, K * sizeof *row);
    if (!row)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    /* norm[0..C), then room for the channels' min and max */
    float *mn = p->norm + C, *mx = p->norm + 2 * C;
    qp__aminmax(x, s, mn, mx);
    for (size_t c = 0; c < C; c++) {
        gather_abs(x, s, c, row);
        /* x.abs().mean(): torch's float sum over the float count */
        p->norm[c] = qp__tsum_row(row, K) / (float)K;
    }
    qp__qfree(q, row, K * sizeof *row);
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
