/*
 * obs_minmax.c - MinMaxObserver: the running minimum and maximum of every
 * input, over the whole tensor or per channel (torch.aminmax, then
 * torch.min / torch.max with the running values).
 */
#include "qint.h"

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
    size_t on = q->st[q->obs_min].numel; /* 1 (broadcast) or C */
    for (size_t c = 0; c < C; c++) {
        float a = omn[on == 1 ? 0 : c], b = omx[on == 1 ? 0 : c];
        mn[c] = a < mn[c] ? a : mn[c];
        mx[c] = b > mx[c] ? b : mx[c];
    }
    qp__obs_set_range(q, mn, mx, C);
    if (cur != small)
        qp__qfree(q, cur, 2 * C * sizeof *cur);
    return QP_OK;
}

const struct qp__obs_ops qp__obs_minmax = {QP_OBS_MINMAX, qp__obs_base_init, observe,
                                           qp__obs_minmax_qparams};
