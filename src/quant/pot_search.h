/*
 * pot_search.h - the power-of-two grid Vitis' quantizers share (MQBench's
 * TqtFakeQuantize, MinMaxFloorObserver, PoTModeObserver): the step 2^-e of a
 * scale, the grid's two roundings ("param": round half to even; "tensor" and
 * "input": negative ties toward +inf), and the observers' search for the
 * exponent whose grid fits the last input best.
 */
#ifndef QPREP_POT_SEARCH_H
#define QPREP_POT_SEARCH_H

#include "qint.h"

#include <math.h>

/* quant_type "param" rounds (MQBench's mth 3); "tensor" and "input" clamp,
 * then round with negative ties up (mth 2). */
static inline bool
qp__pot_half_even(const qp_quant *q)
{
    return q->a.quant_type == 2;
}

/* MQBench's where((t < 0) & (t - floor(t) == 0.5), ceil(t), round(t)): half to
 * even, except negative ties, which go up. Spelled with one rounding (round
 * half to even lands a negative tie half a step below t exactly when its ceil
 * is odd) so the loops stay light. */
static inline float
qp__pot_round_negup(float t)
{
    float r = nearbyintf(t);
    /* the rare test first: a branch on the sign alone mispredicts on real data */
    return r - t == -0.5f && t < 0.0f ? r + 1.0f : r;
}

/* floor(log2(1 / scale)) in float32, or 0 below 2^-15, as MQBench writes it
 * in both the observers and the TQT function. A float: it may be -inf or nan. */
float qp__pot_exponent(float scale);

/* y = clamp(round(x / step)) * step over n elements (x and y may alias); step
 * a power of two (or inf), as every grid here has. */
void qp__pot_grid(const float *x, float *y, size_t n, float step, float lo, float hi,
                  bool half_even);

/* What MinMaxFloorObserver and PoTModeObserver keep outside the state_dict:
 * the last input they observed (calculate_qparams searches on it, with the
 * range the state holds then) and PoTMode's count of chosen exponents. One
 * block in q->obs_priv, grown as inputs grow. */
struct qp__potobs {
    size_t cap;          /* floats x[] can hold (the block holds 2 * cap: x, scratch) */
    size_t n;            /* the last input's length; 0: none observed yet */
    int64_t counter[20]; /* PoTModeObserver.counter */
    float x[];
};

/* Registers the observers' entries and the empty block. */
qp_status qp__potobs_init(qp_quant *q);
/* The observers' forward: min_val / max_val the input's range (over the whole
 * tensor, also for a per-channel scheme, as MQBench does), the input kept. */
qp_status qp__potobs_observe(qp_quant *q, const float *x, const struct qp__shape *s);
/* calculate_qparams' search: the exponent e (scale 2^-e) for the range min_val
 * / max_val hold, over the last input, before min(e, 12). *won is false when no
 * candidate's error was below inf (e is then the first candidate). *base is
 * MQBench's `scale * 0` (0, or nan from an infinite first scale) that the final
 * scale adds. Fails where MQBench raises. */
qp_status qp__potobs_search(qp_quant *q, int *exp, bool *won, float *base);
/* scale base + 2^-e and the zero point MQBench gives (0; an affine scheme with
 * min_val >= 0: quant_min - round(min_val / scale), unclamped), n copies. */
qp_status qp__potobs_result(qp_quant *q, int e, float base, float *scale, int32_t *zero_point,
                            size_t n);

#endif /* QPREP_POT_SEARCH_H */
