/*
 * alloc.c - allocation through the graph's allocator hook, with accounting
 * and overflow-checked array growth. Every byte qprep holds passes here.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The C library's allocator, as a qp_alloc_fn. */
static void *
std_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

qp_allocator
qp__allocator_or_std(const qp_allocator *a)
{
    return a && a->fn ? *a : (qp_allocator){std_alloc, NULL};
}

void *
qp__raw_alloc(const qp_allocator *a, void *p, size_t osize, size_t nsize)
{
    if (a && a->fn)
        return a->fn(a->ud, p, osize, nsize);
    return std_alloc(NULL, p, osize, nsize);
}

void *
qp__realloc(qp_graph *g, void *p, size_t osize, size_t nsize)
{
    void *q = qp__raw_alloc(&g->alloc, p, osize, nsize);
    if (nsize && !q) {
        /* Every failure names itself here, so no QP_ERR_NOMEM reaches a caller with an
         * empty message (SQLite's static OOM text); a caller with more to say
         * overwrites it. Formatting into g->errmsg never allocates. */
        qp__err(g, QP_ERR_NOMEM, "out of memory allocating %zu bytes", nsize);
        return NULL;
    }
    g->mem = g->mem - osize + nsize;
    if (g->mem > g->mem_peak)
        g->mem_peak = g->mem;
    return q;
}

void *
qp__alloc(qp_graph *g, size_t n)
{
    return qp__realloc(g, NULL, 0, n);
}

void
qp__free(qp_graph *g, void *p, size_t n)
{
    if (p)
        qp__realloc(g, p, n, 0);
}

qp_status
qp__grow(qp_graph *g, void **arr, uint32_t n, uint32_t *cap, uint32_t need, size_t esz)
{
    uint64_t want = (uint64_t)n + need;
    if (want <= *cap)
        return QP_OK;
    if (want > UINT32_MAX - 1)
        return qp__err(g, QP_ERR_LIMIT, "more than %u items", (unsigned)(UINT32_MAX - 1));
    /* by half, and by a quarter past 8 MiB: there spare room costs more than the
     * extra copies (a large block is usually moved by remapping, not copying) */
    uint64_t ncap = *cap ? (uint64_t)*cap + *cap / ((uint64_t)*cap * esz < (8u << 20) ? 2 : 4)
                         : 16;
    if (ncap < want)
        ncap = want;
    if (ncap > UINT32_MAX - 1)
        ncap = UINT32_MAX - 1;
    if (ncap > SIZE_MAX / esz)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    void *p = qp__realloc(g, *arr, (size_t)*cap * esz, (size_t)ncap * esz);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory growing an array to %llu items",
                       (unsigned long long)ncap);
    *arr = p;
    *cap = (uint32_t)ncap;
    return QP_OK;
}
