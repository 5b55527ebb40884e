/*
 * tanh_aten.h - torch.tanh of a float32 as ATen's AVX2 CPU kernel computes it
 * (SLEEF's 1-ulp single-precision tanh), in portable C. DSQ and DoReFa squash
 * with it: their outputs land on a rounding grid, where the last bit of tanh
 * can move an element to the next grid point.
 */
#ifndef QPREP_TANH_ATEN_H
#define QPREP_TANH_ATEN_H

/* tanh(x) bit for bit as torch 1.13's CPU tanh on float32 (nan for nan). */
float qp__tanh_aten(float x);

#endif /* QPREP_TANH_ATEN_H */
