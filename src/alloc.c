/*
 * alloc.c - allocation through the graph's allocator hook, with accounting
 * and overflow-checked array growth. Every byte qprep holds passes here.
 */
#define _GNU_SOURCE /* mremap, MADV_HUGEPAGE (Linux); first, before any header */

#include "internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && !defined(QP_NO_HUGE_PAGES)
#include <sys/mman.h>
#if defined(MADV_HUGEPAGE) && defined(MREMAP_MAYMOVE)
#define QP__HUGE 1
#endif
#endif

#if defined(QP__HUGE)
/*
 * Big blocks in huge pages. A graph of a million nodes holds about a gigabyte
 * in a few dozen arrays, each touched once as it fills; where the first touch
 * of a 4 KiB page costs microseconds (a virtual machine's nested page tables),
 * faulting the pages in is most of the time. So a block of BIG bytes or more
 * is mapped on its own, 2 MiB aligned and rounded to 2 MiB, with
 * MADV_HUGEPAGE: the kernel then backs it with 2 MiB pages where it has them
 * (THP "madvise" or "always") and with 4 KiB pages otherwise, so the advice
 * can only help. Growing such a block moves its pages (mremap), never its
 * bytes. Smaller blocks stay with malloc. The block's size class follows from
 * the sizes the caller passes back (qp_alloc_fn's contract: osize is exact).
 * BIG is one huge page: a block of 2 to 4 MiB (a pass's per-node array at a
 * million nodes) costs two faults instead of up to a thousand, for at most the
 * rest of its last huge page (touched only if the block reaches into it).
 */
#define HUGE_PAGE ((size_t)2 << 20)
#define BIG HUGE_PAGE

static size_t
huge_round(size_t n)
{
    return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* An aligned mapping of len bytes (a multiple of HUGE_PAGE), advised; NULL if none. */
static void *
huge_map(size_t len)
{
    if (len > SIZE_MAX - HUGE_PAGE)
        return NULL;
    char *p =
        mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* trim the slack before and after the aligned run */
    size_t head = (HUGE_PAGE - ((uintptr_t)p & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
    if (head)
        munmap(p, head);
    if (HUGE_PAGE - head)
        munmap(p + head + len, HUGE_PAGE - head);
    p += head;
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice: refused is fine */
    return p;
}

/* Resizes a mapped block (both sizes at least BIG). */
static void *
huge_remap(void *p, size_t osize, size_t nsize)
{
    size_t o = huge_round(osize), n = huge_round(nsize);
    if (n == o)
        return p;
    if (n < o) {
        munmap((char *)p + n, o - n);
        return p;
    }
    /* the pages move, not the bytes; where to is the kernel's choice (it aligns
     * big anonymous runs to huge pages). Not MREMAP_FIXED onto a run mapped
     * first: valgrind loses track of the moved pages then (a false "invalid
     * write" in every tool run under it). */
    void *r = mremap(p, o, n, MREMAP_MAYMOVE);
    if (r == MAP_FAILED)
        return NULL;
    (void)madvise(r, n, MADV_HUGEPAGE); /* the moved range takes the old one's advice; new
                                           pages past it need their own */
    return r;
}
#endif

/* The C library's allocator, as a qp_alloc_fn (with big blocks in huge pages where
 * the system has them). */
static void *
std_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
#if defined(QP__HUGE)
    bool obig = p && osize >= BIG, nbig = nsize >= BIG;
    if (obig || nbig) {
        if (obig && nbig)
            return huge_remap(p, osize, nsize);
        if (nsize == 0) {
            munmap(p, huge_round(osize));
            return NULL;
        }
        /* crossing BIG either way: a new block of the other kind, then a copy */
        void *q = nbig ? huge_map(huge_round(nsize)) : malloc(nsize);
        if (!q)
            return NULL;
        if (p) {
            memcpy(q, p, osize < nsize ? osize : nsize);
            if (obig)
                munmap(p, huge_round(osize));
            else
                free(p);
        }
        return q;
    }
#else
    (void)osize;
#endif
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

qp_allocator
qp_allocator_default(void)
{
    return (qp_allocator){std_alloc, NULL};
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

void
qp__shrink(qp_graph *g, void **arr, uint32_t *cap, uint32_t want, size_t esz)
{
    if (*cap <= want)
        return;
    if (!want) {
        qp__free(g, *arr, (size_t)*cap * esz);
        *arr = NULL;
        *cap = 0;
        return;
    }
    void *p = qp__realloc(g, *arr, (size_t)*cap * esz, (size_t)want * esz);
    if (p) {
        *arr = p;
        *cap = want;
    }
}

qp_status
qp__dup(qp_graph *g, void **dst, const void *src, size_t n, size_t cap, size_t esz)
{
    *dst = NULL;
    if (!cap)
        return QP_OK;
    void *p = qp__alloc(g, cap * esz);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory copying the graph");
    if (n)
        memcpy(p, src, n * esz);
    *dst = p;
    return QP_OK;
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
    uint64_t ncap = *cap ? (uint64_t)*cap + *cap / ((uint64_t)*cap * esz < (8u << 20) ? 2 : 4) : 16;
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

qp_status
qp__side_reserve(qp_graph *g, void ***arr, uint32_t *n, uint32_t want)
{
    if (want <= *n)
        return QP_OK;
    uint64_t ncap = (uint64_t)*n + *n / 2;
    if (ncap < want)
        ncap = want;
    if (ncap < 16)
        ncap = 16;
    if (ncap > UINT32_MAX)
        ncap = UINT32_MAX;
    void **p = qp__realloc(g, *arr, (size_t)*n * sizeof **arr, (size_t)ncap * sizeof **arr);
    if (!p)
        return QP_ERR_NOMEM;
    memset(p + *n, 0, (size_t)(ncap - *n) * sizeof *p);
    *arr = p;
    *n = (uint32_t)ncap;
    return QP_OK;
}
