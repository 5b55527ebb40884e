/*
 * obs_minmaxfloor.c - MinMaxFloorObserver (mqbench/observer.py, borrowed from
 * Vitis): the last input's range; calculate_qparams searches the power-of-two
 * scales 2^-e from floor(log2(1 / scale)) on (5 of them, 1 for quant_type
 * "input") for the least squared error on the last input, e at most 12.
 *
 * MQBench's class is per tensor only (it warns for a per-channel scheme and
 * returns one scale); for n channels this gives the same scale to each.
 */
#include "pot_search.h"

static qp_status
observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    return qp__potobs_observe(q, x, s);
}

static qp_status
qparams(qp_quant *q, float *scale, int32_t *zero_point, size_t n)
{
    int e;
    bool won;
    float base;
    qp_status rc = qp__potobs_search(q, &e, &won, &base);
    if (rc)
        return rc;
    return qp__potobs_result(q, e < 12 ? e : 12, base, scale, zero_point, n);
}

const struct qp__obs_ops qp__obs_minmax_floor = {QP_OBS_MINMAX_FLOOR, qp__potobs_init, observe,
                                                 qparams};
