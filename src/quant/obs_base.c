/*
 * obs_base.c - what every MQBench observer shares (ObserverBase): the eps,
 * min_val and max_val buffers, their per-channel resizing, and
 * calculate_qparams from them.
 */
#include "qint.h"

#include <math.h>
#include <string.h>

qp_status
qp__obs_base_init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "activation_post_process.eps", QP_DT_F32, QP__QS_OBS, 1, one,
                         &q->obs_eps)) ||
        (rc = qp__qs_add(q, "activation_post_process.min_val", QP_DT_F32, QP__QS_OBS | pc, 0, NULL,
                         &q->obs_min)) ||
        (rc = qp__qs_add(q, "activation_post_process.max_val", QP_DT_F32, QP__QS_OBS | pc, 0, NULL,
                         &q->obs_max)))
        return rc;
    qp__qs_f32(q, q->obs_eps)[0] = (float)q->a.eps;
    qp__qs_f32(q, q->obs_min)[0] = INFINITY;
    qp__qs_f32(q, q->obs_max)[0] = -INFINITY;
    return QP_OK;
}

qp_status
qp__obs_reserve(qp_quant *q, size_t C)
{
    qp_status rc = qp__qs_reserve(q, q->obs_min, C);
    return rc ? rc : qp__qs_reserve(q, q->obs_max, C);
}

void
qp__obs_set_range(qp_quant *q, const float *mn, const float *mx, size_t n)
{
    int64_t shape[1] = {(int64_t)n};
    uint32_t nd = q->a.ch_axis >= 0 ? 1 : 0;
    qp__qs_reshape(q, q->obs_min, nd, shape);
    qp__qs_reshape(q, q->obs_max, nd, shape);
    memcpy(qp__qs_f32(q, q->obs_min), mn, n * sizeof *mn);
    memcpy(qp__qs_f32(q, q->obs_max), mx, n * sizeof *mx);
}

qp_status
qp__obs_check_channels(qp_quant *q, size_t C)
{
    size_t n = q->st[q->obs_min].numel;
    if (n != 1 && n != C)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "activation_post_process.min_val holds %zu "
                        "channels, x has %zu on axis %d",
                        n, C, q->a.ch_axis);
    if (q->st[q->obs_max].numel != n)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "activation_post_process.min_val and max_val "
                        "differ in length");
    return QP_OK;
}

qp_status
qp__obs_check_flatten(qp_quant *q, const struct qp__shape *s)
{
    if (q->a.ch_axis >= 0 && s->ndim < 2)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "%s per channel needs x of 2 or more dimensions, not %u (MQBench's "
                        "flatten(start_dim=1) raises IndexError)",
                        qp_obs_kind_name(q->a.obs), (unsigned)s->ndim);
    return QP_OK;
}

qp_status
qp__obs_minmax_qparams(qp_quant *q, float *scale, int32_t *zero_point, size_t n)
{
    size_t have = q->st[q->obs_min].numel;
    if (have != n || q->st[q->obs_max].numel != n)
        return qp__qerr(q, QP_ERR_INVALID_ARG, "the observer holds %zu channels, %zu wanted", have,
                        n);
    qp__qparams_minmax(q, qp__qs_f32(q, q->obs_min), qp__qs_f32(q, q->obs_max), n, scale,
                       zero_point);
    return QP_OK;
}
