/*
 * obs_clipstd.c - ClipStdObserver: the range widened to mean -/+ std_scale *
 * std where that lies outside the input's min / max, per tensor or per
 * channel, replacing the previous range each time.
 *
 * As torch 1.13 computes them: the mean is a float32 sum in torch's order
 * (tsum.c) divided by the count; the unbiased std of a whole tensor is a
 * double sum of (x - mean)^2 around that float mean (std_var_all_cpu), per
 * channel a Welford pass in double over the channel's elements in
 * permute-then-flatten order (MQBench swaps the channel axis with axis 0).
 */
#include "qint.h"
#include "tsum.h"

#include <math.h>
#include <string.h>

/* The unbiased std of n floats around their float mean m: the whole-tensor path. */
static float
std_all(const float *x, size_t n, float m)
{
    double md = (double)m, acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = (double)x[i] - md;
        acc += dx * dx;
    }
    double div = n > 1 ? (double)(n - 1) : 0.0;
    return (float)sqrt(acc / div);
}

/* The unbiased std of one row, as WelfordOps reduces it (double). */
static float
std_welford(const float *x, size_t n)
{
    double mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double nf = (double)(i + 1), d = (double)x[i] - mean;
        mean = mean + d / nf;
        m2 = m2 + d * ((double)x[i] - mean);
    }
    double div = n > 1 ? (double)(n - 1) : 0.0;
    return (float)sqrt(m2 / div);
}

/* Channel c's elements of x (dims, axis) in the order of x.permute(swap 0 and
 * axis).flatten(1): the dimensions 1..ndim-1 of the permuted tensor, row-major. */
static void
gather_row(const float *x, const struct qp__shape *s, size_t c, float *row)
{
    int ax = s->axis;
    uint32_t nd = s->ndim;
    int64_t pd[QP_QUANT_MAX_DIMS];  /* permuted dims 1..nd-1 */
    size_t pstr[QP_QUANT_MAX_DIMS]; /* their strides in x */
    size_t str[QP_QUANT_MAX_DIMS], acc = 1;
    for (int k = (int)nd - 1; k >= 0; k--) {
        str[k] = acc;
        acc *= (size_t)s->dims[k];
    }
    uint32_t m = 0;
    for (uint32_t k = 1; k < nd; k++) {
        uint32_t src = (int)k == ax ? 0 : k;
        pd[m] = s->dims[src];
        pstr[m] = str[src];
        m++;
    }
    const float *base = x + c * str[ax];
    size_t idx[QP_QUANT_MAX_DIMS] = {0}, n = s->numel / s->C;
    for (size_t i = 0; i < n; i++) {
        size_t off = 0;
        for (uint32_t k = 0; k < m; k++)
            off += idx[k] * pstr[k];
        row[i] = base[off];
        for (int k = (int)m - 1; k >= 0; k--) {
            if (++idx[k] < (size_t)pd[k])
                break;
            idx[k] = 0;
        }
    }
}

/* How torch lays out MQBench's per-channel view x.permute(swap 0, axis).flatten(1):
 * 0 when flatten copies (rows contiguous, in permuted order), 1 when it is a
 * view with unit stride (row c contiguous at x + c * inner), 2 when a view with
 * stride C (the channel axis is the last non-1 one). */
static int
perch_layout(const struct qp__shape *s)
{
    int ax = s->axis;
    size_t str[QP_QUANT_MAX_DIMS], acc = 1;
    for (int k = (int)s->ndim - 1; k >= 0; k--) {
        str[k] = acc;
        acc *= (size_t)s->dims[k];
    }
    /* the permuted dims 1.. that are not 1, innermost last: they must chain */
    size_t last = 0, need = 0;
    bool any = false;
    for (int k = (int)s->ndim - 1; k >= 1; k--) {
        int src = k == ax ? 0 : k;
        if (s->dims[src] == 1)
            continue;
        if (any && str[src] != need)
            return 0;
        if (!any)
            last = str[src];
        any = true;
        need = str[src] * (size_t)s->dims[src];
    }
    if (!any || last == 1)
        return 1;
    return s->inner == 1 ? 2 : 0;
}

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    size_t C = s->C, n = s->numel / C;
    qp_status rc;
    if ((rc = qp__obs_check_flatten(q, s)))
        return rc;
    if (n < 2) /* torch's unbiased std of one element is nan, and nan fails min <= max */
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "ClipStdObserver: %zu element(s) per %s, the std needs 2 (MQBench's "
                        "calculate_qparams raises AssertionError on the nan range)",
                        n, C > 1 ? "channel" : "tensor");
    if ((rc = qp__obs_reserve(q, C)))
        return rc;
    bool perch = q->a.ch_axis >= 0;
    size_t bytes = (4 * C + (perch ? n : 0)) * sizeof(float);
    float *buf = qp__qalloc(q, bytes);
    if (!buf)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    float *mn = buf, *mx = mn + C, *mean = mx + C, *sd = mean + C, *row = sd + C;
    qp__aminmax(x, s, mn, mx);
    if (!perch) {
        mean[0] = qp__tsum_row(x, n) / (float)n;
        sd[0] = std_all(x, n, mean[0]);
    } else {
        int lay = perch_layout(s);
        if (lay == 2) /* the mean reduces the strided view: torch's outer-sum order */
            qp__tsum_perch(x, s->outer, C, 1, mean);
        for (size_t c = 0; c < C; c++) {
            const float *r = row;
            if (lay == 1)
                r = x + c * s->inner;
            else
                gather_row(x, s, c, row);
            mean[c] = (lay == 2 ? mean[c] : qp__tsum_row(r, n)) / (float)n;
            sd[c] = std_welford(r, n);
        }
    }
    float k = (float)q->a.std_scale;
    for (size_t c = 0; c < C; c++) {
        float t = k * sd[c];
        float lo = mean[c] - t, hi = mean[c] + t;
        if (isnan(lo) || isnan(hi)) { /* torch.minimum keeps the nan, then min <= max fails */
            qp__qfree(q, buf, bytes);
            return qp__qerr(
                q, QP_ERR_INVALID_ARG,
                "ClipStdObserver: %s %zu's mean -/+ std_scale * std is nan (its float32 "
                "sum overflows; MQBench's calculate_qparams raises AssertionError)",
                perch ? "channel" : "tensor", c);
        }
        mn[c] = lo < mn[c] ? lo : mn[c];
        mx[c] = hi > mx[c] ? hi : mx[c];
    }
    qp__obs_set_range(q, mn, mx, C);
    qp__qfree(q, buf, bytes);
    return QP_OK;
}

const struct qp__obs_ops qp__obs_clip_std = {QP_OBS_CLIP_STD, qp__obs_base_init, observe,
                                             qp__obs_minmax_qparams};
