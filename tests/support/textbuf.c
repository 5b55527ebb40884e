/*
 * textbuf.c - the growable text of textbuf.h (no cmocka here: the fuzz
 * targets link it too).
 */
#include "textbuf.h"

#include <string.h>

int
qpt_textbuf_append(qpt_textbuf *b, const char *data, size_t len, void *(*re)(void *, size_t))
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = re(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = 0;
    return 0;
}
