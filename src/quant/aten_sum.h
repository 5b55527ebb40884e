/*
 * aten_sum.h - torch's float32 sum, element for element in its order: ATen's
 * cascade_sum (aten/src/ATen/native/cpu/SumKernel.cpp) over a contiguous row,
 * as torch 1.13's CPU build for AVX2 runs it (8-lane vectors, float
 * accumulators). Observers whose statistics are sums or means (x.abs().mean(),
 * ((a - b) ** 2).sum()) use it to give MQBench's float bit for bit.
 */
#ifndef QPREP_ATEN_SUM_H
#define QPREP_ATEN_SUM_H

#include <stddef.h>

/* x[0] + ... + x[n-1] as torch.sum of a contiguous float32 tensor of n elements. */
float qp__aten_sum(const float *x, size_t n);

#endif /* QPREP_ATEN_SUM_H */
