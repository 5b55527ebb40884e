/*
 * test_alloc.c - the tests' allocator: fault_alloc.c over cmocka's test_malloc, so a
 * leak fails the test.
 */
#include "testlib.h"

#include <string.h>

/* cmocka's allocator, as functions (test_malloc and test_free are macros) */
static void *
get(size_t n)
{
    return test_malloc(n);
}

static void
put(void *p)
{
    test_free(p);
}

static void *
alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return qpt_fault_call(ud, ptr, osize, nsize, get, put);
}

qp_allocator
qpt_allocator(qpt_alloc *st)
{
    qp_allocator a = {alloc_fn, st};
    return a;
}

void
qpt_alloc_reset(qpt_alloc *st)
{
    memset(st, 0, sizeof *st);
}
