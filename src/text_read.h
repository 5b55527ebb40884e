/*
 * text_read.h - what the qgraph reader's two files share: the reader state,
 * its error helpers, and the value parser (text_values.c) the line parser
 * (text_read.c) calls for args, kwargs and attribute dicts.
 */
#ifndef QP_TEXT_READ_H
#define QP_TEXT_READ_H

#include "internal.h"

#include <string.h>

#define CHUNK (64u * 1024u)
/* The attribute-text memo: the longest text it keeps, the most texts, and the
 * most bytes of them (past which new texts are parsed without being kept). */
enum { AMEMO_TEXT = 1024, AMEMO_MAX = 1u << 14, AMEMO_BYTES = 4u << 20 };

struct ref {
    uint32_t rec, line, col;
};

struct frame {
    uint8_t kind;   /* TUPLE, LIST, DICT, CALL */
    char close;     /* ')', ']', '}' */
    uint32_t first; /* index of its first item in the scratch array */
    uint32_t name;  /* CALL: function sym */
    uint32_t key;   /* DICT: key of the item being parsed */
    uint32_t col;   /* where it opened */
};

struct reader {
    qp_graph *g;
    qp_error *err;
    unsigned flags;
    qp_read_fn fn;
    void *ud;
    /* input: data[cpos..clen) is what is left to read, in chunk (filled by fn) or,
     * for qp_graph_read_text, in the caller's text itself (read in place) */
    char *chunk;
    const char *data, *text;
    size_t clen, cpos, textlen;
    bool direct;
    bool eof;
    char *line; /* a line that spans chunks is assembled here */
    size_t linecap;
    uint32_t lineno;
    /* state */
    bool in_header_comments, output_seen;
    uint32_t output_line;
    /* pending node references */
    struct ref *refs;
    uint32_t nrefs, caprefs;
    /* value parsing */
    struct qp__val *items;
    uint32_t nitems, capitems;
    struct frame frames[QP__MAX_DEPTH + 2];
    char *sbuf; /* decoded string bytes */
    size_t scap;
    uint32_t *keys; /* duplicate-key check */
    uint32_t capkeys;
    /* attribute texts read so far, and the value each gave: an open-addressing
     * table over the texts (kept one after another in amemo_text), so that every
     * module with the same attributes shares one value, however many distinct
     * texts the graph has (a model's modules have tens to thousands) */
    struct amemo {
        uint32_t hash, len, val, off; /* val 0: empty slot */
    } * amemo;
    uint32_t namemo, capamemo; /* capamemo: a power of two, or 0 */
    char *amemo_text;
    size_t amemo_used, amemo_cap;
    /* syms read recently, tried before hashing (a compare in cache instead of a
     * probe of a large table): node names just defined, which args refer to,
     * module types, and the modules last called (call_module targets mostly
     * follow the table: the next module, or one called a moment ago) */
    uint32_t recent_nodes[8], recent_types[4], recent_called[4];
    uint32_t next_node, next_type, next_called;
    uint32_t frontier; /* the furthest module (in table order) a node called */
    /* the names prefetch_next hashed, for the line being parsed (cur) and the one
     * after it (pf): where each is in the input, and its hash */
    const char *pf_s, *cur_s;
    size_t pf_len, cur_len;
    uint32_t pf_hash, cur_hash;
    /* the line being parsed */
    const char *s;
    size_t n, pos;
};

/* Records the first error in r->err (with r's line and the 1-based column col);
 * returns st. */
qp_status qp__tr_fail(struct reader *r, qp_status st, size_t col, const char *fmt, ...)
    QP__PRINTF(4, 5);
/* An allocation failed inside the graph: carry its status, place it on this line. */
qp_status qp__tr_fail_g(struct reader *r, qp_status st);
/* qp__sym_intern, its failure placed on this line. */
qp_status qp__tr_intern(struct reader *r, const char *s, size_t len, uint32_t *out);
/* The container opening at r->pos (with the character open) parsed into the
 * value pool; *out its id. Node references are left in r->refs to resolve. */
qp_status qp__tr_container(struct reader *r, char open, const char *what, uint32_t *out);
/* Frees the value parser's scratch arrays (refs, items, string and key buffers). */
void qp__tr_free_scratch(struct reader *r);

static inline void
skip_ws(struct reader *r)
{
    while (r->pos < r->n && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t'))
        r->pos++;
}

static inline bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The sym among syms[0..n) whose text is s[0..len), or 0. */
static inline uint32_t
among(const qp_graph *g, const uint32_t *syms, uint32_t n, const char *s, size_t len)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t y = syms[i];
        if (y && qp__sym_len(g, y) == len && !memcmp(qp__sym_str(g, y), s, len))
            return y;
    }
    return 0;
}

#endif
