/*
 * fault_alloc.h - the allocator the tests and the fuzz targets both run the
 * library on: the k-th call (1-based) can be made to fail, alone or with every
 * later one; realloc always moves (a stale pointer shows under ASan at once);
 * fresh bytes are poisoned (code relying on zeroed memory fails); live bytes
 * and blocks are counted. The blocks themselves come from the caller's pair
 * of functions: cmocka's test_malloc/test_free in the tests (a leak fails the
 * test), malloc/free in the fuzz targets (built without cmocka).
 */
#ifndef QPT_FAULT_ALLOC_H
#define QPT_FAULT_ALLOC_H

#include <stddef.h>

typedef struct qpt_fault {
    size_t calls;   /* allocation calls so far (frees not counted) */
    size_t fail_at; /* 0: never fail */
    int fail_after; /* fail fail_at and every later call */
    size_t failed;  /* calls made to fail */
    size_t live;    /* bytes allocated and not freed */
    size_t live_blocks;
} qpt_fault;

/* One qp_allocator call (qp_alloc_fn's contract) on st's counts, with blocks from
 * get and back to put. */
void *qpt_fault_call(qpt_fault *st, void *ptr, size_t osize, size_t nsize,
                     void *(*get)(size_t), void (*put)(void *));

#endif
