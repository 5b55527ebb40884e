/*
 * fuzz_common.c - the helpers of fuzz.h.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return qpt_fault_call(ud, ptr, osize, nsize, malloc, free);
}

qp_allocator
fz_allocator(fz_alloc *st)
{
    qp_allocator a = {alloc_fn, st};
    return a;
}

int
fz_buf_write(void *ud, const char *data, size_t len)
{
    return qpt_textbuf_append(ud, data, len, realloc);
}

void
fz_buf_free(fz_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *
fz_text(const qp_graph *g, const fz_alloc *st, size_t *len)
{
    fz_buf b = {NULL, 0, 0};
    size_t calls = st ? st->calls : 0;
    qp_status rc = qp_graph_write_text(g, fz_buf_write, &b);
    FZ_CHECK(rc == QP_OK, qp_status_str(rc));
    FZ_CHECK(!st || st->calls == calls, "writing text allocated");
    if (!b.p) {
        b.p = malloc(1);
        b.p[0] = 0;
    }
    if (len)
        *len = b.n;
    return b.p;
}

void
fz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz property failed: %s (%s)\n", what, detail ? detail : "");
    fflush(stderr);
    abort();
}

uint64_t
fz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

qp_graph *
fz_read(const char *text, size_t len, unsigned flags, qp_allocator *a, qp_error *err)
{
    qp_read_opts o = {a, flags, NULL, NULL};
    qp_graph *g = (qp_graph *)1;
    qp_status rc = qp_graph_read_text(text, len, &o, &g, err);
    if (rc) {
        FZ_CHECK(g == NULL, "out not NULL after a failed read");
        FZ_CHECK(err->status == rc, err->msg);
        FZ_CHECK(rc == QP_ERR_NOMEM || err->line > 0, err->msg); /* the place is named */
        FZ_CHECK(err->msg[0] != 0, "empty message");
        return NULL;
    }
    FZ_CHECK(g != NULL, "no graph");
    return g;
}

char *
fz_check_prepare(qp_graph *g, const fz_alloc *st, qp_status rc, const char *before)
{
    if (rc) {
        char *after = fz_text(g, st, NULL);
        FZ_CHECK(strcmp(before, after) == 0, "a failed prepare changed the graph");
        FZ_CHECK(qp_graph_errmsg(g)[0] != 0, "a failed prepare without a message");
        free(after);
        return NULL;
    }
    FZ_CHECK(qp_graph_verify(g, NULL, NULL) == QP_OK, qp_graph_errmsg(g));
    size_t plen;
    char *t = fz_text(g, st, &plen);
    fz_alloc st2 = {0};
    qp_allocator a2 = fz_allocator(&st2);
    qp_error err;
    qp_graph *r = fz_read(t, plen, 0, &a2, &err);
    FZ_CHECK(r != NULL, err.msg);
    char *t2 = fz_text(r, &st2, NULL);
    FZ_CHECK(strcmp(t, t2) == 0, "a prepared graph does not read back");
    free(t2);
    qp_graph_destroy(r);
    FZ_CHECK(st2.live == 0, "leak");
    return t;
}
