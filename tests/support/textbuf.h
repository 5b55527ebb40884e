/*
 * textbuf.h - a growable, NUL-terminated text that a qp_write_fn appends to,
 * shared by the tests (over cmocka's test_realloc) and the fuzz targets (over
 * realloc, built without cmocka).
 */
#ifndef QPT_TEXTBUF_H
#define QPT_TEXTBUF_H

#include <stddef.h>

typedef struct qpt_textbuf {
    char *p; /* NULL until the first append */
    size_t n, cap;
} qpt_textbuf;

/* Appends len bytes, growing b through re (a realloc); 0, or -1 when re fails. */
int qpt_textbuf_append(qpt_textbuf *b, const char *data, size_t len,
                       void *(*re)(void *, size_t));

#endif
