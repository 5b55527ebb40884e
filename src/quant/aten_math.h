/*
 * aten_math.h - two of ATen's float32 CPU computations whose last bit the
 * DSQ and DoReFa fake-quantizers depend on, in portable C:
 * torch.tanh (its AVX2 kernel, SLEEF's 1-ulp algorithm) and torch.sum over a
 * contiguous tensor (its cascade sum over vectors of 8 lanes). Their outputs
 * land on a rounding grid, where the last bit can move an element to the next
 * grid point, or spread a sum over the elements reaching a maximum.
 */
#ifndef QPREP_ATEN_MATH_H
#define QPREP_ATEN_MATH_H

#include <stddef.h>

/* tanh(x) bit for bit as torch 1.13's CPU tanh on float32 (nan for nan). */
float qp__tanh_aten(float x);

/* The sum of v[0..n) bit for bit as torch 1.13's CPU sum of a contiguous
 * float32 tensor on one thread (0 for n = 0). */
float qp__sum_aten(const float *v, size_t n);

#endif /* QPREP_ATEN_MATH_H */
