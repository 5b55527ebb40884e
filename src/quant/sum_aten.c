/*
 * sum_aten.c - torch.sum of a contiguous float32 tensor as ATen 1.13's CPU
 * cascade sum computes it on one thread (aten_math.h). The data is read as
 * vectors of 8 lanes, four vectors a row; each lane of each of the four
 * row positions accumulates in float through four levels, a level flushing
 * into the next every 2^p rows; then the positions, the leftover vectors, the
 * scalar tail and the 8 lanes are added in that order. Below 8 elements the same
 * scheme runs on single elements.
 */
#include "aten_math.h"

#include <stdint.h>

enum { LANES = 8, ROWS = 4, LEVELS = 4 };

/* ceil(log2(x)), 1 for x <= 2 (ATen's CeilLog2) */
static int64_t
ceil_log2(int64_t x)
{
    if (x <= 2)
        return 1;
    uint64_t v = (uint64_t)x - 1;
    int64_t last = 0;
    while (v >>= 1)
        last++;
    return last + 1;
}

/* Sums of ROWS interleaved rows of `lanes` floats each: element (i, k, l) is
 * v[(i * ROWS + k) * lanes + l] for i < size; out[k * lanes + l]. */
static void
multi_row_sum(const float *v, int64_t size, int lanes, float *out)
{
    float acc[LEVELS][ROWS * LANES] = {{0}};
    int64_t lp = ceil_log2(size) / LEVELS;
    lp = lp > 4 ? lp : 4;
    const int64_t step = (int64_t)1 << lp, mask = step - 1;
    const int w = ROWS * lanes;
    int64_t i = 0;
    for (; i + step <= size;) {
        for (int64_t j = 0; j < step; ++j, ++i)
            for (int k = 0; k < w; k++)
                acc[0][k] += v[i * w + k];
        for (int j = 1; j < LEVELS; ++j) {
            for (int k = 0; k < w; k++) {
                acc[j][k] += acc[j - 1][k];
                acc[j - 1][k] = 0.0f;
            }
            if ((i & (mask << (j * lp))) != 0)
                break;
        }
    }
    for (; i < size; ++i)
        for (int k = 0; k < w; k++)
            acc[0][k] += v[i * w + k];
    for (int j = 1; j < LEVELS; ++j)
        for (int k = 0; k < w; k++)
            acc[0][k] += acc[j][k];
    for (int k = 0; k < w; k++)
        out[k] = acc[0][k];
}

/* ATen's row_sum over n units of `lanes` floats: lanes sums into out. */
static void
row_sum(const float *v, int64_t n, int lanes, float *out)
{
    float part[ROWS * LANES];
    int64_t n_ilp = n / ROWS;
    multi_row_sum(v, n_ilp, lanes, part);
    for (int64_t i = n_ilp * ROWS; i < n; i++)
        for (int l = 0; l < lanes; l++)
            part[l] += v[i * lanes + l];
    for (int k = 1; k < ROWS; k++)
        for (int l = 0; l < lanes; l++)
            part[l] += part[k * lanes + l];
    for (int l = 0; l < lanes; l++)
        out[l] = part[l];
}

float
qp__sum_aten(const float *v, size_t n)
{
    float lanes[LANES];
    if (n < LANES) {
        row_sum(v, (int64_t)n, 1, lanes);
        return 0.0f + lanes[0];
    }
    int64_t nv = (int64_t)(n / LANES);
    row_sum(v, nv, LANES, lanes);
    float acc = 0.0f;
    for (size_t k = (size_t)nv * LANES; k < n; k++)
        acc += v[k];
    for (int l = 0; l < LANES; l++)
        acc += lanes[l];
    return 0.0f + acc; /* the output, filled with 0, accumulates the result */
}
