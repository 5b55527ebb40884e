/*
 * obs_ema_minmax.c - EMAMinMaxObserver: the first input's range, then an
 * exponential moving average, min_val * r + cur * (1 - r), in float32 with
 * 1 - r taken in double first (Python's scalars multiplying float tensors).
 */
#include "qint.h"

#include <math.h>

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    size_t C = s->C;
    qp_status rc;
    if ((rc = qp__obs_check_flatten(q, s)) || (rc = qp__obs_check_channels(q, C)) ||
        (rc = qp__obs_reserve(q, C)))
        return rc;
    float small[128], *cur = C <= 64 ? small : qp__qalloc(q, 2 * C * sizeof *cur);
    if (!cur)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    float *mn = cur, *mx = cur + C;
    qp__aminmax(x, s, mn, mx);
    const float *omn = qp__qs_f32(q, q->obs_min), *omx = qp__qs_f32(q, q->obs_max);
    size_t on = q->st[q->obs_min].numel;
    if (!(q->st[q->obs_max].numel <= 1 && isinf(omx[0]))) {
        float r = (float)q->a.ema_ratio, r1 = (float)(1.0 - q->a.ema_ratio);
        for (size_t c = 0; c < C; c++) {
            mn[c] = omn[on == 1 ? 0 : c] * r + mn[c] * r1;
            mx[c] = omx[on == 1 ? 0 : c] * r + mx[c] * r1;
        }
    }
    qp__obs_set_range(q, mn, mx, C);
    if (cur != small)
        qp__qfree(q, cur, 2 * C * sizeof *cur);
    return QP_OK;
}

const struct qp__obs_ops qp__obs_ema_minmax = {QP_OBS_EMA_MINMAX, qp__obs_base_init, observe,
                                               qp__obs_minmax_qparams};
