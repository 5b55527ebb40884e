/*
 * tanh_aten.c - tanh as torch 1.13's AVX2 kernel computes it (tanh_aten.h):
 * SLEEF 3.5's u10 single-precision algorithm, tanh(a) = (e - 1/e) / (e + 1/e)
 * with e = exp(a) carried as an unevaluated sum of two floats, evaluated with
 * the fused multiply-adds of SLEEF's FMA build. Every product that SLEEF rounds
 * on its own is written as its own statement; the error-free transformations
 * below need each sum rounded as written.
 */
#include "tanh_aten.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* A float-float value hi + lo. */
struct ff {
    float x, y;
};

static struct ff
ff_make(float x, float y)
{
    struct ff r = {x, y};
    return r;
}

/* (x.x + x.y) + y, x.x not necessarily the larger */
static struct ff
add2_ff_f(struct ff a, float b)
{
    float s = a.x + b, v = s - a.x;
    float t = (a.x - (s - v)) + (b - v);
    return ff_make(s, t + a.y);
}

static struct ff
add2_ff_ff(struct ff a, struct ff b)
{
    float s = a.x + b.x, v = s - a.x;
    float t = (a.x - (s - v)) + (b.x - v);
    return ff_make(s, t + (a.y + b.y));
}

/* |a| >= |b| */
static struct ff
add_f_ff(float a, struct ff b)
{
    float s = a + b.x;
    return ff_make(s, ((a - s) + b.x) + b.y);
}

static struct ff
add_ff_ff(struct ff a, struct ff b)
{
    float s = a.x + b.x;
    return ff_make(s, (((a.x - s) + b.x) + a.y) + b.y);
}

static struct ff
mul_ff_f(struct ff a, float b)
{
    float s = a.x * b;
    return ff_make(s, fmaf(a.y, b, fmaf(a.x, b, -s)));
}

static struct ff
mul_ff_ff(struct ff a, struct ff b)
{
    float s = a.x * b.x;
    return ff_make(s, fmaf(a.x, b.y, fmaf(a.y, b.x, fmaf(a.x, b.x, -s))));
}

static struct ff
sqr_ff(struct ff a)
{
    float s = a.x * a.x;
    return ff_make(s, fmaf(a.x + a.x, a.y, fmaf(a.x, a.x, -s)));
}

static struct ff
rec_ff(struct ff d)
{
    float s = 1.0f / d.x;
    float e = fmaf(-d.y, s, fmaf(-d.x, s, 1.0f));
    return ff_make(s, s * e);
}

static struct ff
div_ff(struct ff n, struct ff d)
{
    float t = 1.0f / d.x;
    float s = n.x * t;
    float u = fmaf(t, n.x, -s);
    float v = fmaf(-d.y, t, fmaf(-d.x, t, 1.0f));
    return ff_make(s, fmaf(s, v, fmaf(n.y, t, u)));
}

/* exp(a) for 0 <= a <= 8.67, as a float-float */
static struct ff
exp_ff(float a)
{
    const float r_ln2 = 1.442695040888963407359924681001892137426645954152985934135449406931f;
    const float l2u = 0.693145751953125f, l2l = 1.428606765330187045e-06f;
    float an = a * r_ln2; /* rounded on its own, then to the nearest even integer */
#ifdef FP_FAST_FMAF
    float qf = nearbyintf(an); /* an instruction there, and an + magic could fuse */
#else
    /* an in [0, 13): 1.5 * 2^23 added and taken away leaves nearbyintf(an), no call */
    const float magic = 12582912.0f;
    float qf = (an + magic) - magic;
#endif
    int q = (int)qf;
    float m1 = qf * -l2u, m2 = qf * -l2l;
    struct ff s = add2_ff_f(ff_make(a, 0.0f), m1);
    s = add2_ff_f(s, m2);
    float u = 0.1980960224e-3f;
    u = fmaf(u, s.x, 0.1394256484e-2f);
    u = fmaf(u, s.x, 0.8333456703e-2f);
    u = fmaf(u, s.x, 0.4166637361e-1f);
    struct ff t = add2_ff_f(mul_ff_f(s, u), 0.166666659414234244790680580464e+0f);
    t = add2_ff_f(mul_ff_ff(s, t), 0.5f);
    t = add2_ff_ff(s, mul_ff_ff(sqr_ff(s), t));
    t = add_f_ff(1.0f, t);
    /* times 2^q, exact for 0 <= q <= 13: the power built from its bits, no call */
    uint32_t pb = (uint32_t)(q + 127) << 23;
    float p2;
    memcpy(&p2, &pb, sizeof p2);
    return ff_make(t.x * p2, t.y * p2);
}

float
qp__tanh_aten(float x)
{
    if (isnan(x))
        return x;
    float a = fabsf(x), y;
    if (a > 8.664339742f) {
        y = 1.0f;
    } else {
        struct ff d = exp_ff(a), e = rec_ff(d);
        struct ff r = div_ff(add_ff_ff(d, ff_make(-e.x, -e.y)), add_ff_ff(d, e));
        y = r.x + r.y;
    }
    /* SLEEF's mulsign: y's sign bit xor x's */
    uint32_t ub, xb;
    memcpy(&ub, &y, sizeof ub);
    memcpy(&xb, &x, sizeof xb);
    ub ^= xb & 0x80000000u;
    memcpy(&y, &ub, sizeof y);
    return y;
}
