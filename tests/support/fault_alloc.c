/*
 * fault_alloc.c - the fault-injecting, always-moving, counting allocator of
 * fault_alloc.h (no cmocka here: the fuzz targets link it too).
 */
#include "fault_alloc.h"

#include <string.h>

void *
qpt_fault_call(qpt_fault *st, void *ptr, size_t osize, size_t nsize, void *(*get)(size_t),
               void (*put)(void *))
{
    if (nsize == 0) {
        if (ptr) {
            st->live -= osize;
            st->live_blocks--;
            put(ptr);
        }
        return NULL;
    }
    st->calls++;
    if (st->fail_at && (st->calls == st->fail_at || (st->fail_after && st->calls > st->fail_at))) {
        st->failed++;
        return NULL;
    }
    void *p = get(nsize);
    if (!p)
        return NULL;
    /* poison fresh bytes so code relying on zeroed memory fails */
    memset(p, 0xa5, nsize);
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        put(ptr);
        st->live -= osize;
        st->live_blocks--;
    }
    st->live += nsize;
    st->live_blocks++;
    return p;
}
