/*
 * aten_sum.c - torch's float32 sum in its order (aten_sum.h). ATen sums a
 * contiguous row as 8-lane vectors, four of them side by side, each lane a
 * cascade of four levels of accumulators (chunks of 2^max(4, ceil(log2 n) / 4)
 * rows); the leftover vectors, the leftover elements and the lanes are then
 * added in a fixed order. Rows shorter than a vector use the same cascade on
 * single floats.
 */
#include "aten_sum.h"

#include <stdint.h>
#include <string.h>

enum { LANES = 8, ROWS = 4, LEVELS = 4 };

static int64_t
ceil_log2(int64_t x)
{
    if (x <= 2)
        return 1;
    uint64_t v = (uint64_t)x - 1;
    int64_t last = 63;
    while (!(v >> last))
        last--;
    return last + 1;
}

/* multi_row_sum: ROWS accumulators of w lanes over `size` rows; row i's
 * accumulator k takes the w floats at x + (i * ROWS + k) * w. */
static void
multi_row_sum(const float *x, int64_t size, int w, float out[ROWS][LANES])
{
    int64_t lp = ceil_log2(size) / LEVELS;
    const int64_t power = lp > 4 ? lp : 4;
    const int64_t step = (int64_t)1 << power, mask = step - 1;
    float acc[LEVELS][ROWS][LANES];
    memset(acc, 0, sizeof acc);
    int64_t i = 0;
    for (; i + step <= size;) {
        for (int64_t j = 0; j < step; ++j, ++i)
            for (int k = 0; k < ROWS; k++)
                for (int l = 0; l < w; l++)
                    acc[0][k][l] += x[(i * ROWS + k) * w + l];
        for (int j = 1; j < LEVELS; ++j) {
            for (int k = 0; k < ROWS; k++)
                for (int l = 0; l < w; l++) {
                    acc[j][k][l] += acc[j - 1][k][l];
                    acc[j - 1][k][l] = 0.0f;
                }
            if ((i & (mask << (j * power))) != 0)
                break;
        }
    }
    for (; i < size; ++i)
        for (int k = 0; k < ROWS; k++)
            for (int l = 0; l < w; l++)
                acc[0][k][l] += x[(i * ROWS + k) * w + l];
    for (int j = 1; j < LEVELS; ++j)
        for (int k = 0; k < ROWS; k++)
            for (int l = 0; l < w; l++)
                acc[0][k][l] += acc[j][k][l];
    memcpy(out, acc[0], sizeof(float) * ROWS * LANES);
}

/* row_sum: `size` items of w lanes, four at a time, the rest into the first. */
static void
row_sum(const float *x, int64_t size, int w, float res[LANES])
{
    float part[ROWS][LANES];
    int64_t size_ilp = size / ROWS;
    multi_row_sum(x, size_ilp, w, part);
    for (int64_t i = size_ilp * ROWS; i < size; i++)
        for (int l = 0; l < w; l++)
            part[0][l] += x[i * w + l];
    for (int k = 1; k < ROWS; k++)
        for (int l = 0; l < w; l++)
            part[0][l] += part[k][l];
    memcpy(res, part[0], sizeof(float) * (size_t)w);
}

float
qp__aten_sum(const float *x, size_t n)
{
    float lanes[LANES];
    if (n < LANES) { /* scalar_inner_sum / scalar_outer_sum: one row of floats */
        row_sum(x, (int64_t)n, 1, lanes);
        return 0.0f + lanes[0];
    }
    /* vectorized_inner_sum */
    int64_t vec_size = (int64_t)(n / LANES);
    row_sum(x, vec_size, LANES, lanes);
    float acc = 0.0f;
    for (size_t k = (size_t)vec_size * LANES; k < n; k++)
        acc += x[k];
    for (int l = 0; l < LANES; l++)
        acc += lanes[l];
    return 0.0f + acc; /* the output, filled with 0, accumulates the row's sum */
}
