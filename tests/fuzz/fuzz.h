/*
 * fuzz.h - what the libFuzzer targets share: a counting allocator that can
 * fail the k-th allocation (alone or from k on) and checks for leaks, a
 * growable text sink, and an abort that names the broken property.
 *
 * Each target (fuzz_read.c, fuzz_config.c, fuzz_prepare.c) defines
 * LLVMFuzzerTestOneInput; tests/fuzz/run.sh links one with libFuzzer and the
 * library sources (clang), replay.c with qprep_obj for ctest (gcc).
 */
#ifndef QP_FUZZ_H
#define QP_FUZZ_H

#include <qprep/prepare.h>
#include <qprep/qprep.h>

#include "fault_alloc.h"
#include "textbuf.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Allocation calls so far (frees not counted); fail call fail_at (1-based, 0: never),
 * or every call from it on when fail_after. */
typedef qpt_fault fz_alloc; /* over malloc (tests/support/fault_alloc.h) */

qp_allocator fz_allocator(fz_alloc *st);

/* A NUL-terminated, malloc'd text that a qp_write_fn appends to (textbuf.h). */
typedef qpt_textbuf fz_buf;
int fz_buf_write(void *ud, const char *data, size_t len);
void fz_buf_free(fz_buf *b);
/* The canonical text of g (writing must succeed and must not allocate through g). */
char *fz_text(const qp_graph *g, const fz_alloc *st, size_t *len);

/* A property failed: print it and abort (a crash libFuzzer records). */
void fz_fail(const char *what, const char *detail);
#define FZ_CHECK(cond, detail)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(#cond, (detail));                                                              \
    } while (0)

/* A 64-bit hash of the input, to pick allocation points and chunk sizes. */
uint64_t fz_hash(const uint8_t *data, size_t size);

/* The properties every prepare keeps, given its status rc and g's text before it: a
 * failure leaves the text as it was and says why; a success verifies and reads back
 * as written. Returns the prepared text (the caller frees it), or NULL when rc is a
 * failure. */
char *fz_check_prepare(qp_graph *g, const fz_alloc *st, qp_status rc, const char *before);

/* Reads a graph with this allocator; NULL when reading fails. */
qp_graph *fz_read(const char *text, size_t len, unsigned flags, qp_allocator *a, qp_error *err);

#endif
