/*
 * qparams.c - scale and zero point from observed ranges: torch 1.13's
 * _ObserverBase._calculate_qparams as MQBench's ObserverBase calls it (zero
 * point cast to int, then pot_scale), in float32 as torch computes it.
 */
#include "qint.h"

#include <math.h>

float
qp__pot_round(float s)
{
    float l = log2f(s);
    /* (round(l) - l) + l, as MQBench writes it for the straight-through gradient */
    float e = (nearbyintf(l) - l) + l;
    return exp2f(e);
}

void
qp__qparams_minmax(const qp_quant *q, const float *min_val, const float *max_val, size_t n,
                   float *scale, int32_t *zero_point)
{
    const struct qp__qargs *a = &q->a;
    float eps = (float)a->eps;
    /* check_min_max_valid: an unobserved per-tensor range gives (1.0, 0) */
    if (a->ch_axis < 0 && n == 1 && min_val[0] == INFINITY && max_val[0] == -INFINITY) {
        scale[0] = 1.0f;
        zero_point[0] = 0;
        return;
    }
    float lo = (float)a->quant_min, hi = (float)a->quant_max;
    for (size_t c = 0; c < n; c++) {
        float mn = min_val[c] < 0.0f ? min_val[c] : 0.0f;
        float mx = max_val[c] > 0.0f ? max_val[c] : 0.0f;
        float s;
        int32_t z = 0;
        if (a->symmetric) {
            float m = -mn > mx ? -mn : mx;
            s = m / (float)((double)(a->quant_max - a->quant_min) / 2);
            s = s > eps ? s : eps;
            if (!a->qint8) /* quint8 with a customized range: the down-rounded midpoint */
                z = (int32_t)((a->quant_min + a->quant_max) >> 1);
        } else {
            s = (mx - mn) / (float)(a->quant_max - a->quant_min);
            s = s > eps ? s : eps;
            float r = nearbyintf(mn / s);
            float zf = lo - r;
            zf = zf < lo ? lo : zf > hi ? hi : zf;
            z = (int32_t)zf;
        }
        scale[c] = a->pot_scale ? qp__pot_round(s) : s;
        zero_point[c] = z;
    }
}
