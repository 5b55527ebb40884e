/*
 * tsum.c - torch 1.13's float32 cascade sum, element order for element order.
 *
 * ATen sums in float (acc_type<float, is_cuda=true>) along a "row" of
 * elements, each element being one float or one 8-float vector (lanes):
 * multi_row sums nrows interleaved rows at once through 4 levels of
 * accumulators, each level flushed into the next every 2^level_power
 * elements; row_sum splits a row 4 ways (ilp), adds the remainder to the
 * first partial, then the partials in order. A contiguous row of 8 or more
 * floats is summed as vectors, then the scalar tail, then the 8 lanes.
 * Lanes and rows are independent sums, so the inner loops run over them.
 */
#include "tsum.h"

#include <stdint.h>
#include <string.h>

#define LEVELS 4
#define MAXW 32 /* nrows * lanes, at most 4 * 8 */

static int64_t
ceil_log2(int64_t x)
{
    if (x <= 2)
        return 1;
    int64_t b = 0;
    for (uint64_t v = (uint64_t)(x - 1); v; v >>= 1)
        b++;
    return b;
}

/* multi_row_sum: nr rows of w lanes; element i of row k, lane l at
 * p[i * rs + k * cs + l]; out[k * w + l]. */
static void
multi_row(const float *p, size_t rs, size_t cs, size_t nr, size_t w, size_t size, float *out)
{
    float acc[LEVELS][MAXW];
    size_t m = nr * w;
    int64_t lp = ceil_log2((int64_t)size) / LEVELS;
    lp = lp > 4 ? lp : 4;
    size_t step = (size_t)1 << lp, mask = step - 1;
    memset(acc, 0, sizeof acc);
    size_t i = 0;
    while (i + step <= size) {
        for (size_t j = 0; j < step; j++, i++)
            for (size_t k = 0; k < nr; k++)
                for (size_t l = 0; l < w; l++)
                    acc[0][k * w + l] += p[i * rs + k * cs + l];
        for (int j = 1; j < LEVELS; j++) {
            for (size_t t = 0; t < m; t++) {
                acc[j][t] += acc[j - 1][t];
                acc[j - 1][t] = 0.0f;
            }
            if ((i & (mask << (j * lp))) != 0)
                break;
        }
    }
    for (; i < size; i++)
        for (size_t k = 0; k < nr; k++)
            for (size_t l = 0; l < w; l++)
                acc[0][k * w + l] += p[i * rs + k * cs + l];
    for (int j = 1; j < LEVELS; j++)
        for (size_t t = 0; t < m; t++)
            acc[0][t] += acc[j][t];
    memcpy(out, acc[0], m * sizeof *out);
}

/* row_sum: w lanes, element i lane l at p[i * stride + l]; out[l]. */
static void
row_sum(const float *p, size_t stride, size_t w, size_t size, float *out)
{
    float part[MAXW];
    size_t nilp = size / 4;
    multi_row(p, 4 * stride, stride, 4, w, nilp, part);
    for (size_t i = nilp * 4; i < size; i++)
        for (size_t l = 0; l < w; l++)
            part[l] += p[i * stride + l];
    for (size_t k = 1; k < 4; k++)
        for (size_t l = 0; l < w; l++)
            part[l] += part[k * w + l];
    memcpy(out, part, w * sizeof *out);
}

/* A contiguous row as ATen reduces it (without the output's initial 0). */
static float
contig_row(const float *p, size_t n)
{
    float r;
    if (n < 8) {
        row_sum(p, 1, 1, n, &r);
        return r;
    }
    float v[8];
    size_t nv = n / 8;
    row_sum(p, 8, 8, nv, v);
    r = 0.0f;
    for (size_t k = nv * 8; k < n; k++)
        r += p[k];
    for (int l = 0; l < 8; l++)
        r += v[l];
    return r;
}

float
qp__tsum_row(const float *p, size_t n)
{
    return 0.0f + contig_row(p, n);
}

void
qp__tsum_perch(const float *p, size_t outer, size_t C, size_t inner, float *out)
{
    if (C == 1) { /* the channel dimension vanishes: one contiguous reduction */
        out[0] = qp__tsum_row(p, outer * inner);
        return;
    }
    if (inner > 1) { /* rows of inner, the outer ones added into the output in turn */
        for (size_t c = 0; c < C; c++) {
            float acc = 0.0f;
            for (size_t o = 0; o < outer; o++)
                acc += contig_row(p + (o * C + c) * inner, inner);
            out[c] = acc;
        }
        return;
    }
    /* channel axis last: the reduced dimension is the outer one, stride C */
    size_t c = 0;
    float tmp[MAXW];
    if (C >= 8) { /* vectorized_outer_sum */
        for (; c + 32 <= C; c += 32) {
            multi_row(p + c, C, 8, 4, 8, outer, tmp);
            for (size_t k = 0; k < 32; k++)
                out[c + k] = 0.0f + tmp[k];
        }
        for (; c + 8 <= C; c += 8) {
            row_sum(p + c, C, 8, outer, tmp);
            for (size_t k = 0; k < 8; k++)
                out[c + k] = 0.0f + tmp[k];
        }
    } else { /* scalar_outer_sum */
        for (; c + 4 <= C; c += 4) {
            multi_row(p + c, C, 1, 4, 1, outer, tmp);
            for (size_t k = 0; k < 4; k++)
                out[c + k] = 0.0f + tmp[k];
        }
    }
    for (; c < C; c++) {
        row_sum(p + c, C, 1, outer, tmp);
        out[c] = 0.0f + tmp[0];
    }
}
