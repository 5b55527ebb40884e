/*
 * kernels.c - the elementwise loops the kinds share: min/max reductions and
 * torch's affine fake-quantization, forward and straight-through backward.
 * C library only; per-channel values are hoisted so the inner loops are
 * plain arrays the compiler vectorizes.
 *
 * Arithmetic follows ATen's CPU kernels as FORMAT.md (numerics) states them:
 * inv = 1.0f / scale; q = (float)zp + nearbyint(x * inv); clamp; y = (q - zp) * scale.
 * Clamping is done in float before any conversion, so huge or non-finite inputs
 * never convert out of range (ATen's int64 cast would be undefined there).
 */
#include "qint.h"

#include <math.h>

void
qp__aminmax(const float *x, const struct qp__shape *s, float *mn, float *mx)
{
    for (size_t c = 0; c < s->C; c++) {
        mn[c] = INFINITY;
        mx[c] = -INFINITY;
    }
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            const float *p = x + (o * s->C + c) * s->inner;
            float lo = mn[c], hi = mx[c];
            for (size_t i = 0; i < s->inner; i++) {
                lo = p[i] < lo ? p[i] : lo;
                hi = p[i] > hi ? p[i] : hi;
            }
            mn[c] = lo;
            mx[c] = hi;
        }
}

/* One run of elements sharing a scale and zero point. */
static void
fwd_run(const float *x, float *y, size_t n, float scale, float zp, float lo, float hi)
{
    float inv = 1.0f / scale;
    for (size_t i = 0; i < n; i++) {
        float q = zp + nearbyintf(x[i] * inv);
        q = q < lo ? lo : q;
        q = q > hi ? hi : q;
        y[i] = (q - zp) * scale;
    }
}

static void
bwd_run(const float *x, const float *dy, float *dx, size_t n, float scale, float zp, float lo,
        float hi)
{
    float inv = 1.0f / scale;
    for (size_t i = 0; i < n; i++) {
        float q = zp + nearbyintf(x[i] * inv);
        dx[i] = q >= lo && q <= hi ? dy[i] : 0.0f;
    }
}

void
qp__fq_affine_fwd(const float *x, float *y, const struct qp__shape *s, const float *scale,
                  const int32_t *zp, int64_t qmin, int64_t qmax)
{
    float lo = (float)qmin, hi = (float)qmax;
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            fwd_run(x + off, y + off, s->inner, scale[c], (float)zp[c], lo, hi);
        }
}

void
qp__fq_affine_bwd(const float *x, const float *dy, float *dx, const struct qp__shape *s,
                  const float *scale, const int32_t *zp, int64_t qmin, int64_t qmax)
{
    float lo = (float)qmin, hi = (float)qmax;
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < s->C; c++) {
            size_t off = (o * s->C + c) * s->inner;
            bwd_run(x + off, dy + off, dx + off, s->inner, scale[c], (float)zp[c], lo, hi);
        }
}
