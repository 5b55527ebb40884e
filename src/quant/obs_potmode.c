/*
 * obs_potmode.c - PoTModeObserver (mqbench/observer.py, borrowed from Vitis):
 * MinMaxFloorObserver's search, then the most frequent exponent so far. The
 * count of chosen exponents lives outside the state_dict (q->obs_priv), as
 * MQBench's list `counter` of 20 does: exponent e counts at index e + 7, and
 * Python's negative indices wrap e in [-27, -8] onto the high end, which later
 * reads back as e + 20; this reproduces that. Where MQBench raises (e below
 * -27, or no finite squared error: data of magnitude 1e20), this fails.
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
    struct qp__potobs *p = q->obs_priv;
    int e;
    bool won;
    float base;
    qp_status rc = qp__potobs_search(q, &e, &won, &base);
    if (rc)
        return rc;
    /* min(final_scale, 12) keeps MQBench's float exponent unless 12 is below it,
     * and a float cannot index the counter */
    if (!won && e <= 12)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "PoTModeObserver: no power-of-two scale gives a finite squared error "
                        "on this input (MQBench raises TypeError indexing its counter)");
    e = e < 12 ? e : 12;
    int idx = e + 7;
    if (idx < -20)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "PoTModeObserver: exponent %d is out of its counter's range "
                        "(MQBench raises IndexError)",
                        e);
    /* count in a copy, pick the first most frequent, commit once nothing can fail */
    int64_t tmp[20];
    for (int k = 0; k < 20; k++)
        tmp[k] = p->counter[k];
    tmp[idx < 0 ? idx + 20 : idx]++;
    int best = 0;
    for (int k = 1; k < 20; k++)
        if (tmp[k] > tmp[best])
            best = k;
    rc = qp__potobs_result(q, best - 7, base, scale, zero_point, n);
    if (rc)
        return rc;
    for (int k = 0; k < 20; k++)
        p->counter[k] = tmp[k];
    return QP_OK;
}

const struct qp__obs_ops qp__obs_pot_mode = {QP_OBS_POT_MODE, qp__potobs_init, observe, qparams};
