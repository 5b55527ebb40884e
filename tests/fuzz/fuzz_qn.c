/*
 * fuzz_qn.c - libFuzzer target for the .qn case reader of `qprep replay`
 * (examples/cli/qn.c; FORMAT.md in tests/data/numerics).
 *
 * Properties checked on every input:
 *  - reading never crashes or leaks; a failure is QP_ERR_PARSE with a line, a
 *    column and a message (or QP_ERR_NOMEM), and no file;
 *  - a file read writes as text that reads back and writes the same again (a
 *    fixpoint), with as many cases, steps and tensors;
 *  - failing one allocation (picked from the input's hash, alone or with every
 *    later one) fails the read with QP_ERR_NOMEM and leaks nothing: the reader
 *    has no optional allocation.
 */
#include "fuzz.h"
#include "qn.h"

#include <stdlib.h>
#include <string.h>

static qn_file *
read_qn(const char *text, size_t len, fz_alloc *st, qp_error *err)
{
    qp_allocator a = fz_allocator(st);
    qn_file *f = (qn_file *)1;
    qp_status rc = qn_read(text, len, &a, &f, err);
    if (rc) {
        FZ_CHECK(f == NULL, "out not NULL after a failed read");
        FZ_CHECK(err->status == rc, err->msg);
        FZ_CHECK(rc == QP_ERR_NOMEM || rc == QP_ERR_PARSE, err->msg);
        FZ_CHECK(rc == QP_ERR_NOMEM || (err->line > 0 && err->col > 0), err->msg);
        FZ_CHECK(err->msg[0] != 0, "empty message");
        return NULL;
    }
    FZ_CHECK(f != NULL, "no file");
    return f;
}

/* The file as written (malloc'd, NUL-terminated); writing must not allocate through
 * the file's allocator. */
static char *
text_of(const qn_file *f, const fz_alloc *st, size_t *len)
{
    fz_buf b = {NULL, 0, 0};
    qn_out *o = malloc(sizeof *o);
    size_t calls = st->calls;
    qn_out_init(o, fz_buf_write, &b);
    qn_write_file(o, f);
    FZ_CHECK(qn_out_flush(o) == QP_OK, "writing failed");
    free(o);
    FZ_CHECK(st->calls == calls, "writing allocated");
    *len = b.n;
    return b.p;
}

static void
counts(const qn_file *f, size_t c[3])
{
    c[0] = f->ncases, c[1] = c[2] = 0;
    for (uint32_t i = 0; i < f->ncases; i++) {
        c[1] += f->cases[i].nsteps;
        for (uint32_t k = 0; k < f->cases[i].nsteps; k++)
            c[2] += f->cases[i].steps[k].nt;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint64_t h = fz_hash(data, size);
    fz_alloc st = {0};
    qp_error err;
    qn_file *f = read_qn(text, size, &st, &err);
    size_t n = st.calls;
    if (f) {
        size_t l1, l2, c1[3], c2[3];
        char *t1 = text_of(f, &st, &l1);
        counts(f, c1);
        fz_alloc st2 = {0};
        qn_file *g = read_qn(t1, l1, &st2, &err);
        FZ_CHECK(g != NULL, err.msg);
        counts(g, c2);
        FZ_CHECK(!memcmp(c1, c2, sizeof c1), "read back with other counts");
        char *t2 = text_of(g, &st2, &l2);
        FZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "written text does not read back to itself");
        qn_free(g);
        FZ_CHECK(st2.live == 0 && st2.live_blocks == 0, "leak (read back)");
        free(t1);
        free(t2);
        qn_free(f);
    }
    FZ_CHECK(st.live == 0 && st.live_blocks == 0, "leak");
    if (n) {
        fz_alloc fa = {0};
        fa.fail_at = 1 + (size_t)(h % n);
        fa.fail_after = (int)(h >> 63);
        qn_file *x = read_qn(text, size, &fa, &err);
        FZ_CHECK(x == NULL && err.status == QP_ERR_NOMEM, "a failed allocation did not fail");
        FZ_CHECK(fa.live == 0 && fa.live_blocks == 0, "leak after NOMEM");
    }
    return 0;
}
