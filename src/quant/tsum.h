/*
 * tsum.h - float32 sums in the order torch 1.13's CPU sum kernel adds them
 * (SumKernel.cpp's cascade_sum, AVX2 build: 8-lane vectors, 4-way
 * interleaved rows, 4 cascade levels). Observers whose choices hinge on
 * comparing sums (MSE's argmin over clipping ranges) or that store a mean
 * use these to compute what MQBench computes, not only something close.
 */
#ifndef QPREP_TSUM_H
#define QPREP_TSUM_H

#include <stddef.h>

/* torch.sum of n contiguous floats (a whole tensor, or one contiguous row). */
float qp__tsum_row(const float *p, size_t n);

/* torch's sum over every dimension but the channel one of a row-major tensor
 * split as (outer, C, inner), as a reduction over those dimensions orders it:
 * out[c] for c < C. */
void qp__tsum_perch(const float *p, size_t outer, size_t C, size_t inner, float *out);

#endif /* QPREP_TSUM_H */
