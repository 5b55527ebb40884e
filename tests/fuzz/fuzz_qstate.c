/*
 * fuzz_qstate.c - libFuzzer target for the quantizer state file reader
 * (qp_quant_set_load_text, src/quant/state_text.c), on the quantizers of a
 * small prepared graph (a Conv2d, a ConvTranspose2d and a ReLU on Tensorrt:
 * per-channel weights on axes 0 and 1, per-tensor activations).
 *
 * Properties checked on every input:
 *  - loading never crashes or leaks; a failure has a status the reader gives,
 *    a line and a column (but out of memory) and a message, and leaves the whole state as it was
 * (the state file written before and after is the same);
 *  - after a load, the state written reads back into a fresh set and writes
 *    the same text again (a fixpoint: floats round trip exactly);
 *  - failing one allocation of a load that succeeds (picked from the input's
 *    hash, alone or with every later one) fails it with QP_ERR_NOMEM, the state
 *    unchanged: the reader has no optional allocation.
 */
#include "fuzz.h"

#include <qprep/quant.h>

#include <stdlib.h>
#include <string.h>

/* Conv2d(3, 4) -> ConvTranspose2d(4, 2) -> ReLU */
static const char model[] =
    "qgraph 1\n"
    "module conv nn.Conv2d {in_channels: 3, out_channels: 4, kernel_size: (1, 1), stride: (1, "
    "1), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", output_padding: "
    "(0, 0), bias: True, weight_shape: (4, 3, 1, 1)}\n"
    "module up nn.ConvTranspose2d {in_channels: 4, out_channels: 2, kernel_size: (2, 2), "
    "stride: (2, 2), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", "
    "output_padding: (0, 0), bias: True, weight_shape: (4, 2, 2, 2)}\n"
    "module relu nn.ReLU {inplace: False}\n"
    "%x = placeholder x () {}\n"
    "%conv = call_module conv (%x,) {}\n"
    "%up = call_module up (%conv,) {}\n"
    "%relu = call_module relu (%up,) {}\n"
    "%output = output output (%relu,) {}\n";

/* The prepared graph, made once (the library reads it, never changes it). */
static qp_graph *
prepared(void)
{
    static qp_graph *g;
    if (!g) {
        qp_error err;
        if (qp_graph_read_text(model, sizeof model - 1, NULL, &g, &err))
            fz_fail("the model does not read", err.msg);
        if (qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL))
            fz_fail("the model does not prepare", qp_graph_errmsg(g));
    }
    return g;
}

static qp_quant_set *
new_set(fz_alloc *st)
{
    qp_allocator a = fz_allocator(st);
    qp_quant_set *s = NULL;
    qp_error err;
    if (qp_quant_set_create(prepared(), QP_BACKEND_TENSORRT, NULL, &a, &s, &err))
        fz_fail("no set", err.msg);
    return s;
}

/* The state file of s (malloc'd); writing does not allocate through the set. */
static char *
text_of(const qp_quant_set *s, const fz_alloc *st, size_t *len)
{
    fz_buf b = {NULL, 0, 0};
    size_t calls = st->calls;
    FZ_CHECK(qp_quant_set_save(s, fz_buf_write, &b) == QP_OK, "saving failed");
    FZ_CHECK(st->calls == calls, "saving allocated");
    *len = b.n;
    return b.p;
}

/* Loads text into s; on failure checks the error and that the state is as it was. */
static qp_status
load(qp_quant_set *s, const fz_alloc *st, const char *text, size_t len)
{
    size_t l0, l1;
    char *before = text_of(s, st, &l0);
    qp_error err;
    qp_status rc = qp_quant_set_load_text(s, text, len, &err);
    if (rc) {
        FZ_CHECK(err.status == rc, err.msg);
        FZ_CHECK(rc == QP_ERR_PARSE || rc == QP_ERR_NOT_FOUND || rc == QP_ERR_INVALID_ARG ||
                     rc == QP_ERR_DUP_NAME || rc == QP_ERR_LIMIT || rc == QP_ERR_NOMEM,
                 err.msg);
        FZ_CHECK(rc == QP_ERR_NOMEM || (err.line > 0 && err.col > 0), err.msg);
        FZ_CHECK(err.msg[0] != 0, "empty message");
        char *after = text_of(s, st, &l1);
        FZ_CHECK(l0 == l1 && !memcmp(before, after, l0), "a failed load changed the state");
        free(after);
    }
    free(before);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint64_t h = fz_hash(data, size);
    fz_alloc st = {0};
    qp_quant_set *s = new_set(&st);
    size_t calls = st.calls;
    qp_status rc = load(s, &st, text, size);
    size_t n = st.calls - calls;
    if (!rc) {
        size_t l1, l2;
        char *t1 = text_of(s, &st, &l1);
        fz_alloc st2 = {0};
        qp_quant_set *s2 = new_set(&st2);
        qp_error err;
        FZ_CHECK(qp_quant_set_load_text(s2, t1, l1, &err) == QP_OK, err.msg);
        char *t2 = text_of(s2, &st2, &l2);
        FZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "the state written does not read back to itself");
        qp_quant_set_destroy(s2);
        FZ_CHECK(st2.live == 0 && st2.live_blocks == 0, "leak (read back)");
        free(t1);
        free(t2);
    }
    qp_quant_set_destroy(s);
    FZ_CHECK(st.live == 0 && st.live_blocks == 0, "leak");
    if (!rc && n) {
        fz_alloc fa = {0};
        qp_quant_set *x = new_set(&fa);
        fa.fail_at = fa.calls + 1 + (size_t)(h % n);
        fa.fail_after = (int)(h >> 63);
        FZ_CHECK(load(x, &fa, text, size) == QP_ERR_NOMEM, "a failed allocation did not fail");
        fa.fail_at = 0;
        qp_quant_set_destroy(x);
        FZ_CHECK(fa.live == 0 && fa.live_blocks == 0, "leak after NOMEM");
    }
    return 0;
}
