/*
 * test_alloc.c - the fault-injecting, always-moving, leak-checked allocator.
 */
#include "testlib.h"

#include <string.h>

static void *
alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    qpt_alloc *st = ud;
    if (nsize == 0) {
        if (ptr) {
            st->live -= osize;
            st->live_blocks--;
            test_free(ptr);
        }
        return NULL;
    }
    st->calls++;
    if (st->fail_at && (st->calls == st->fail_at || (st->fail_after && st->calls > st->fail_at))) {
        st->failed++;
        return NULL;
    }
    void *p = test_malloc(nsize);
    if (!p)
        return NULL;
    /* poison fresh bytes so code relying on zeroed memory fails */
    memset(p, 0xa5, nsize);
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        test_free(ptr);
        st->live -= osize;
        st->live_blocks--;
    }
    st->live += nsize;
    st->live_blocks++;
    return p;
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
