/*
 * obs_quantile.c - EMAQuantileObserver (per tensor only): the range clipped
 * at the threshold quantile of |x| read off a histogram (torch.histc over
 * [0, max|x|] with `bins` bins), then an exponential moving average.
 *
 * torch 1.13's histc puts an element in bin (int)((a - lo) / (hi - lo) * bins)
 * in float32 (checked against it: not (a - lo) * bins / (hi - lo)), the top
 * edge in the last bin; MQBench walks the bins until the
 * running count reaches threshold * numel (a float32 comparison) and clips
 * at the middle of that bin, (i + 0.5) * (max / bins).
 */
#include "qint.h"

#include <math.h>
#include <string.h>

static qp_status
init(qp_quant *q)
{
    if (q->a.ch_axis >= 0)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG,
                        "EMAQuantileObserver is per tensor only (ch_axis %d given)", q->a.ch_axis);
    if (q->a.bins < 1)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG, "EMAQuantileObserver: bins %lld, must be >= 1",
                        (long long)q->a.bins);
    return qp__obs_base_init(q);
}

/* torch.histc(|x|, bins, 0, hi) then MQBench's walk: the clip value. */
static qp_status
clip_value(qp_quant *q, const float *x, size_t n, float R, float *clip)
{
    size_t bins = (size_t)q->a.bins, bytes = bins * sizeof(float);
    float *hist = qp__qalloc(q, bytes);
    if (!hist)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory (%zu histogram bins)", bins);
    memset(hist, 0, bytes);
    /* histc_select_outer_bin_edges: an empty range takes |x|'s own, then widens by 1 */
    double l = 0.0, r = (double)R;
    if (l == r) { /* R == 0: |x| is all zeros */
        l = -1.0;
        r = 1.0;
    }
    /* linspace's end points, in float */
    float lo = (float)l, hi = (float)r, nb = (float)(int64_t)bins, w = hi - lo;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!(a >= lo && a <= hi))
            continue;
        int64_t pos = (int64_t)((a - lo) / w * nb);
        if (pos == (int64_t)bins)
            pos--;
        hist[pos] += 1.0f;
    }
    float need = (float)(q->a.threshold * (double)n), total = 0.0f;
    *clip = R;
    for (size_t i = 0; i < bins; i++) {
        if (total + hist[i] >= need) {
            *clip = (float)((double)i + 0.5) * (R / nb);
            break;
        }
        total += hist[i];
    }
    qp__qfree(q, hist, bytes);
    return QP_OK;
}

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    qp_status rc;
    if (s->C != 1)
        return qp__qerr(q, QP_ERR_INVALID_ARG, "EMAQuantileObserver is per tensor only");
    if ((rc = qp__obs_check_channels(q, 1)) || (rc = qp__obs_reserve(q, 1)))
        return rc;
    float mn, mx, clip = 0.0f;
    qp__aminmax(x, s, &mn, &mx);
    float R = -mn > mx ? -mn : mx; /* torch.max(-min, max) */
    if ((rc = clip_value(q, x, s->numel, R, &clip)))
        return rc;
    /* Python's max / min on two tensors: the second only when strictly better */
    float cmn = -clip > mn ? -clip : mn, cmx = clip < mx ? clip : mx;
    const float *omn = qp__qs_f32(q, q->obs_min), *omx = qp__qs_f32(q, q->obs_max);
    bool shape1 = q->st[q->obs_min].ndim == 1;
    if (!(q->st[q->obs_max].numel <= 1 && isinf(omx[0]))) {
        /* separate float products, then the sum: three tensor ops in torch */
        float r = (float)q->a.ema_ratio, r1 = (float)(1.0 - q->a.ema_ratio);
        float a = omn[0] * r, b = cmn * r1, e = omx[0] * r, g = cmx * r1;
        cmn = a + b;
        cmx = e + g;
    } else {
        shape1 = false;
    }
    if (!(cmn <= cmx)) /* positive constant data: the clip falls below the minimum */
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "EMAQuantileObserver: min_val %.9g above max_val %.9g on this input "
                        "(MQBench's calculate_qparams raises AssertionError)",
                        (double)cmn, (double)cmx);
    qp__obs_set_range(q, &cmn, &cmx, 1);
    if (shape1) {
        static const int64_t one[1] = {1};
        qp__qs_reshape(q, q->obs_min, 1, one);
        qp__qs_reshape(q, q->obs_max, 1, one);
    }
    return QP_OK;
}

const struct qp__obs_ops qp__obs_ema_quantile = {QP_OBS_EMA_QUANTILE, init, observe,
                                                 qp__obs_minmax_qparams};
