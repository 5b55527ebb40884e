/*
 * sym.c - string interning. Bytes live in chunks that never move, so the
 * `const char *` the API hands out stays valid for the graph's life; a sym
 * id also carries the node, module and torch.fx name counter bound to it,
 * which makes name lookups one hash probe.
 */
#include "internal.h"

#include <string.h>

#define CHUNK (64u * 1024u)

static uint32_t
hash(const char *s, size_t len)
{
    /* FNV-1a, 32-bit */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

const char *
qp__sym_str(const qp_graph *g, uint32_t sym)
{
    const struct qp__sym *y = &g->st.syms[sym];
    return g->st.chunks[y->chunk].p + y->off;
}

uint32_t
qp__sym_len(const qp_graph *g, uint32_t sym)
{
    return g->st.syms[sym].len;
}

static qp_status
rehash(qp_graph *g, uint32_t nslots)
{
    struct qp__symtab *st = &g->st;
    uint32_t *slots = qp__alloc(g, (size_t)nslots * sizeof *slots);
    if (!slots)
        return qp__err(g, QP_ERR_NOMEM, "out of memory growing the symbol table");
    memset(slots, 0, (size_t)nslots * sizeof *slots);
    for (uint32_t id = 1; id < st->n; id++) {
        uint32_t i = st->syms[id].hash & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = id;
    }
    qp__free(g, st->slots, (size_t)st->nslots * sizeof *st->slots);
    st->slots = slots;
    st->nslots = nslots;
    return QP_OK;
}

qp_status
qp__sym_reserve(qp_graph *g, uint32_t n)
{
    struct qp__symtab *st = &g->st;
    qp_status rc = QP__GROW(g, st->syms, st->n, st->capsyms, n);
    if (rc)
        return rc;
    uint64_t want = (uint64_t)st->n + n;
    if (want * 2 > st->nslots) {
        uint64_t ns = st->nslots ? st->nslots : 64;
        while (want * 2 > ns)
            ns *= 2;
        if (ns > (1u << 31))
            return qp__err(g, QP_ERR_LIMIT, "too many distinct strings");
        return rehash(g, (uint32_t)ns);
    }
    return QP_OK;
}

qp_status
qp__sym_init(qp_graph *g)
{
    struct qp__symtab *st = &g->st;
    memset(st, 0, sizeof *st);
    qp_status rc = qp__sym_reserve(g, 64);
    if (rc)
        return rc;
    rc = QP__GROW(g, st->chunks, 0, st->capchunks, 4);
    if (rc)
        return rc;
    char *p = qp__alloc(g, CHUNK);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    p[0] = 0;
    st->chunks[0] = (struct qp__chunk){p, 1, CHUNK};
    st->nchunks = 1;
    st->cur = 0;
    /* sym 0 is "" so that a zeroed field reads as an empty string */
    memset(&st->syms[0], 0, sizeof st->syms[0]);
    st->n = 1;
    return QP_OK;
}

void
qp__sym_free(qp_graph *g)
{
    struct qp__symtab *st = &g->st;
    for (uint32_t i = 0; i < st->nchunks; i++)
        qp__free(g, st->chunks[i].p, st->chunks[i].size);
    qp__free(g, st->chunks, (size_t)st->capchunks * sizeof *st->chunks);
    qp__free(g, st->syms, (size_t)st->capsyms * sizeof *st->syms);
    qp__free(g, st->slots, (size_t)st->nslots * sizeof *st->slots);
    memset(st, 0, sizeof *st);
}

uint32_t
qp__sym_find(const qp_graph *g, const char *s, size_t len)
{
    const struct qp__symtab *st = &g->st;
    if (len == 0 || len > UINT32_MAX || !st->nslots)
        return 0;
    uint32_t h = hash(s, len);
    for (uint32_t i = h & (st->nslots - 1);; i = (i + 1) & (st->nslots - 1)) {
        uint32_t id = st->slots[i];
        if (!id)
            return 0;
        const struct qp__sym *y = &st->syms[id];
        if (y->hash == h && y->len == len && memcmp(st->chunks[y->chunk].p + y->off, s, len) == 0)
            return id;
    }
}

/* Finds room for n bytes; a string bigger than a quarter chunk gets a chunk of its own. */
static qp_status
room(qp_graph *g, size_t n, uint32_t *chunk, uint32_t *off)
{
    struct qp__symtab *st = &g->st;
    struct qp__chunk *c = &st->chunks[st->cur];
    if (c->size - c->used >= n) {
        *chunk = st->cur;
        *off = c->used;
        c->used += (uint32_t)n;
        return QP_OK;
    }
    qp_status rc = QP__GROW(g, st->chunks, st->nchunks, st->capchunks, 1);
    if (rc)
        return rc;
    size_t size = n > CHUNK / 4 ? n : CHUNK;
    char *p = qp__alloc(g, size);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory storing a string of %zu bytes", n);
    st->chunks[st->nchunks] = (struct qp__chunk){p, (uint32_t)n, (uint32_t)size};
    if (size == CHUNK)
        st->cur = st->nchunks;
    *chunk = st->nchunks++;
    *off = 0;
    return QP_OK;
}

qp_status
qp__sym_intern(qp_graph *g, const char *s, size_t len, uint32_t *out)
{
    *out = 0;
    if (len == 0)
        return QP_OK;
    if (len >= UINT32_MAX - 1)
        return qp__err(g, QP_ERR_LIMIT, "string of %zu bytes is too long", len);
    uint32_t id = qp__sym_find(g, s, len);
    if (id) {
        *out = id;
        return QP_OK;
    }
    qp_status rc = qp__sym_reserve(g, 1);
    if (rc)
        return rc;
    uint32_t chunk = 0, off = 0;
    rc = room(g, len + 1, &chunk, &off);
    if (rc)
        return rc;
    struct qp__symtab *st = &g->st;
    char *p = st->chunks[chunk].p + off;
    memcpy(p, s, len);
    p[len] = 0;
    id = st->n++;
    struct qp__sym *y = &st->syms[id];
    memset(y, 0, sizeof *y);
    y->chunk = chunk;
    y->off = off;
    y->len = (uint32_t)len;
    y->hash = hash(s, len);
    uint32_t i = y->hash & (st->nslots - 1);
    while (st->slots[i])
        i = (i + 1) & (st->nslots - 1);
    st->slots[i] = id;
    *out = id;
    return QP_OK;
}
