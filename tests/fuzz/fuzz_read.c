/*
 * fuzz_read.c - libFuzzer target for the qgraph text reader.
 *
 * Properties checked on every input:
 *  - reading never crashes or leaks; a failure names its line and has a message;
 *  - reading from memory and streaming in odd-sized chunks agree exactly (status,
 *    line, column, message, and the graph's text);
 *  - a graph read strictly verifies, prints as text that reads back to the same
 *    text (a fixpoint), clones to the same text, and prints as DOT; printing
 *    never allocates;
 *  - read with QP_READ_NO_VERIFY, verify reports what strict reading refused, and
 *    the text still reads back (QP_READ_NO_VERIFY) to the same text;
 *  - failing one allocation (picked from the input's hash) fails the read with
 *    QP_ERR_NOMEM and leaks nothing, or (an optional allocation, a cache) gives
 *    exactly the fault-free result: the same graph or the same error.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

struct chunks {
    const char *p;
    size_t left;
    uint64_t h;
};

/* hands out 1..97 bytes at a time, sizes drawn from the input's hash */
static size_t
chunk_read(void *ud, char *buf, size_t cap)
{
    struct chunks *c = ud;
    c->h = c->h * 6364136223846793005ull + 1442695040888963407ull;
    size_t n = 1 + (size_t)(c->h >> 33) % 97;
    if (n > cap)
        n = cap;
    if (n > c->left)
        n = c->left;
    if (n)
        memcpy(buf, c->p, n);
    c->p += n;
    c->left -= n;
    return n;
}

static void
same_error(const qp_error *a, const qp_error *b)
{
    FZ_CHECK(a->status == b->status, b->msg);
    FZ_CHECK(a->line == b->line, b->msg);
    FZ_CHECK(a->col == b->col, b->msg);
    FZ_CHECK(strcmp(a->msg, b->msg) == 0, b->msg);
}

/* Text -> graph -> text -> graph -> text: the second text equals the first. */
static void
round_trip(const qp_graph *g, const fz_alloc *st, unsigned flags)
{
    size_t len;
    char *t1 = fz_text(g, st, &len);
    fz_alloc st2 = {0};
    qp_allocator a2 = fz_allocator(&st2);
    qp_error err;
    qp_graph *h = fz_read(t1, len, flags, &a2, &err);
    FZ_CHECK(h != NULL, err.msg);
    char *t2 = fz_text(h, &st2, NULL);
    FZ_CHECK(strcmp(t1, t2) == 0, "printed text does not read back to itself");
    /* a clone prints the same */
    qp_graph *c = NULL;
    FZ_CHECK(qp_graph_clone(h, &c) == QP_OK, "clone");
    char *t3 = fz_text(c, &st2, NULL);
    FZ_CHECK(strcmp(t1, t3) == 0, "clone prints differently");
    qp_graph_destroy(c);
    /* DOT output never allocates either */
    fz_buf dot = {NULL, 0, 0};
    size_t calls = st2.calls;
    FZ_CHECK(qp_graph_write_dot(h, fz_buf_write, &dot) == QP_OK, "dot");
    FZ_CHECK(st2.calls == calls, "writing DOT allocated");
    fz_buf_free(&dot);
    qp_graph_destroy(h);
    FZ_CHECK(st2.live == 0 && st2.live_blocks == 0, "leak");
    free(t1);
    free(t2);
    free(t3);
}

static void
one(const char *text, size_t len, unsigned flags, uint64_t h)
{
    fz_alloc st = {0};
    qp_allocator a = fz_allocator(&st);
    qp_error err;
    qp_graph *g = fz_read(text, len, flags, &a, &err);
    size_t n = st.calls; /* allocations of the read alone */
    qp_error err0 = err;

    /* streaming agrees with reading from memory */
    fz_alloc st2 = {0};
    qp_allocator a2 = fz_allocator(&st2);
    qp_read_opts o = {&a2, flags, NULL, NULL};
    struct chunks ck = {text, len, h};
    qp_graph *s = NULL;
    qp_error serr;
    qp_status src = qp_graph_read(chunk_read, &ck, &o, &s, &serr);
    same_error(&err, &serr);
    FZ_CHECK((src == QP_OK) == (g != NULL), "streaming and memory reading disagree");

    char *t = NULL; /* the graph's text, to compare a run that loses an optional allocation */
    if (g) {
        t = fz_text(g, &st, NULL);
        char *u = fz_text(s, &st2, NULL);
        FZ_CHECK(strcmp(t, u) == 0, "streaming gave a different graph");
        free(u);
        qp_status v = qp_graph_verify(g, NULL, NULL);
        if (!(flags & QP_READ_NO_VERIFY))
            FZ_CHECK(v == QP_OK, qp_graph_errmsg(g));
        else
            FZ_CHECK(v == QP_OK || qp_graph_errmsg(g)[0], "verify failed without a message");
        round_trip(g, &st, flags);
        qp_graph_destroy(g);
        qp_graph_destroy(s);
    }
    FZ_CHECK(st.live == 0 && st.live_blocks == 0, "leak");
    FZ_CHECK(st2.live == 0 && st2.live_blocks == 0, "leak (streaming)");

    /* one allocation fails: QP_ERR_NOMEM, nothing leaked */
    if (n) {
        fz_alloc f = {0};
        f.fail_at = 1 + (size_t)(h % n);
        f.fail_after = (int)(h >> 63);
        qp_allocator fa = fz_allocator(&f);
        qp_graph *x = fz_read(text, len, flags, &fa, &err);
        if (x) {
            /* an optional allocation (a cache): only with exactly the same graph */
            FZ_CHECK(t != NULL, "a failed allocation turned an error into a graph");
            char *v = fz_text(x, &f, NULL);
            FZ_CHECK(strcmp(t, v) == 0, "a failed allocation changed the graph read");
            free(v);
            qp_graph_destroy(x);
        } else if (err.status != QP_ERR_NOMEM) {
            /* an optional allocation, then the error the input has anyway */
            FZ_CHECK(t == NULL, "a failed allocation turned a graph into an error");
            same_error(&err0, &err);
        }
        FZ_CHECK(f.live == 0 && f.live_blocks == 0, "leak after NOMEM");
    }
    free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint64_t h = fz_hash(data, size);
    one(text, size, 0, h);
    one(text, size, QP_READ_NO_VERIFY, h);
    return 0;
}
