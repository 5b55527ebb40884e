/*
 * fq_take.h - what DoReFa, DSQ, PACT, AdaRound and QDrop share: taking the
 * observer's qparams into their scale and zero-point entries as MQBench's
 * forward does (resize_ when the shape differs, then copy_), without changing
 * anything when it fails. Private to those kinds' files.
 */
#ifndef QPREP_FQ_TAKE_H
#define QPREP_FQ_TAKE_H

#include "qint.h"

/* Scratch for C channels' qparams: on the stack up to 64, else the quantizer's
 * allocator. */
struct qp__take {
    float small_s[64];
    int32_t small_z[64];
    float *sc;
    int32_t *zp;
    size_t C;
};

/* Everything that can fail before the observer runs: scratch for C channels and
 * room for C values in the scale entry si and zero-point entry zi. Call
 * qp__take_end whatever it returns. */
qp_status qp__take_begin(qp_quant *q, struct qp__take *t, size_t C, uint32_t si, uint32_t zi);
/* calculate_qparams of the observer, stored into si (f32) and zi (i32 or f32)
 * with shape (C,), or () when the observer's per-tensor qparams are 0-d and
 * the kind resizes to them (resize_0d; QDrop copies into its (1,) instead).
 * Fails only if the observer's statistics do not hold C channels; then nothing
 * is stored. */
qp_status qp__take_store(qp_quant *q, struct qp__take *t, uint32_t si, uint32_t zi, bool resize_0d);
/* Frees the scratch. */
void qp__take_end(qp_quant *q, struct qp__take *t);

/* Checks that entries si and zi hold n values each (n = channels, 1 per tensor). */
qp_status qp__take_check(qp_quant *q, uint32_t si, uint32_t zi, size_t n);

#endif /* QPREP_FQ_TAKE_H */
