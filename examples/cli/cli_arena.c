/*
 * cli_arena.c - the qprep tool's allocator for a small graph: one 2 MiB block,
 * advised for a transparent huge page, handed out in order.
 *
 * Preparing a model of a few hundred nodes touches some 300 KB of fresh memory
 * in a few hundred blocks. With malloc that is about 75 first touches of 4 KiB
 * pages, and where a first touch costs 10 to 15 us (a virtual machine's nested
 * page tables) they are most of the process's time beyond starting up. In one
 * huge page it is one first touch (the kernel zeroes 2 MiB, about 0.2 ms there).
 * So for a small input (cli_read_graph decides) the graph's allocator hands out
 * the block in order: the last block grows, shrinks and is freed in place, a
 * block freed elsewhere leaves its room unused, and what does not fit goes to
 * malloc. Only where the system gives huge pages on request (THP "always" or
 * "madvise"): in 4 KiB pages an arena that does not reuse room touches more pages
 * than malloc. Not under AddressSanitizer, which must see every block.
 */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE, MAP_ANONYMOUS */

#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ARENA_OFF 1
#endif
#endif

#if defined(__linux__) && !defined(ARENA_OFF)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(MADV_HUGEPAGE)
#define ARENA 1
#endif
#endif

#define ARENA_SIZE ((size_t)2 << 20)

static size_t
round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static void *
arena_fn(void *ud, void *p, size_t osize, size_t nsize)
{
    cli_arena *a = ud;
    uintptr_t at = (uintptr_t)p;
    if (p && (at < (uintptr_t)a->base || at >= (uintptr_t)a->end)) { /* malloc's */
        if (!nsize) {
            free(p);
            return NULL;
        }
        return realloc(p, nsize);
    }
    bool last = p && (char *)p + round16(osize) == a->top;
    if (!nsize) {
        if (last)
            a->top = p;
        return NULL;
    }
    if (nsize > SIZE_MAX - 15)
        return NULL;
    if (last && (size_t)(a->end - (char *)p) >= round16(nsize)) {
        a->top = (char *)p + round16(nsize);
        return p;
    }
    if (p && nsize <= osize) /* shrunk where it is: the tail stays unused */
        return p;
    void *q;
    if ((size_t)(a->end - a->top) >= round16(nsize)) {
        q = a->top;
        a->top += round16(nsize);
    } else if (!(q = malloc(nsize))) {
        return NULL;
    }
    if (p) {
        memcpy(q, p, osize);
        if (last)
            a->top = p; /* q is malloc's: the old last block's room comes back */
    }
    return q;
}

qp_allocator
cli_arena_allocator(cli_arena *a, void *mem, size_t size)
{
    a->base = a->top = mem;
    a->end = a->base + (size & ~(size_t)15);
    return (qp_allocator){arena_fn, a};
}

#if ARENA
/* Whether the kernel gives a huge page to memory that asks (THP "always" or "madvise"). */
static bool
thp_on_request(void)
{
    int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
    if (fd < 0)
        return false;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}
#endif

const qp_allocator *
cli_small_allocator(void)
{
#if ARENA
    static cli_arena a;
    static qp_allocator alloc;
    static bool tried;
    if (tried)
        return alloc.fn ? &alloc : NULL;
    tried = true;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || (size_t)page > ARENA_SIZE / 2 || !thp_on_request())
        return NULL;
    /* a 2 MiB aligned run: map twice that, trim the slack on both sides */
    char *p =
        mmap(NULL, 2 * ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    size_t head = (ARENA_SIZE - ((uintptr_t)p & (ARENA_SIZE - 1))) & (ARENA_SIZE - 1);
    if (head)
        munmap(p, head);
    munmap(p + head + ARENA_SIZE, ARENA_SIZE - head);
    p += head;
    /* touched once: with a huge page the whole run is then resident, else one page
     * (the kernel had none to give: no arena) */
    unsigned char in[ARENA_SIZE / 4096]; /* a byte a page, of at least 4 KiB */
    if (madvise(p, ARENA_SIZE, MADV_HUGEPAGE) || (p[0] = 0, mincore(p, ARENA_SIZE, in)) ||
        !(in[ARENA_SIZE / (size_t)page - 1] & 1)) {
        munmap(p, ARENA_SIZE);
        return NULL;
    }
    alloc = cli_arena_allocator(&a, p, ARENA_SIZE);
    return &alloc;
#else
    return NULL;
#endif
}
