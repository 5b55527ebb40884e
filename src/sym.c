/*
 * sym.c - string interning. Bytes live in chunks that never move, so the
 * `const char *` the API hands out stays valid for the graph's life; a sym
 * id also carries the node, module and torch.fx name counter bound to it,
 * which makes name lookups one hash probe.
 */
#include "internal.h"

#include <string.h>

#define CHUNK (64u * 1024u)

/* The len (1..7) bytes at s as memcpy into a zeroed uint64_t gives them, without
 * memcpy of a variable length (a call, in the hash of every name). */
static uint64_t
tail(const char *s, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len >= 4) {
        uint32_t a, b; /* overlapping: the bytes they share are the same */
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        return a | (uint64_t)b << (8 * (len - 4));
    }
    const unsigned char *u = (const unsigned char *)s;
    return u[0] | (uint64_t)u[len / 2] << (8 * (len / 2)) | (uint64_t)u[len - 1] << (8 * (len - 1));
#else
    uint64_t w = 0;
    memcpy(&w, s, len);
    return w;
#endif
}

/* Eight bytes at a time, then murmur3's finaliser: every bit of the result
 * depends on every byte, so both the index (low bits) and the slot tag (high
 * bits) are well spread. Byte-order dependent, which is fine: hashes are never
 * stored outside the process. */
static uint32_t
hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ ((uint64_t)len * 0xff51afd7ed558ccdu), w;
    if (len >= 16) { /* two lanes: half the chain of dependent multiplies */
        uint64_t k = h ^ 0xc2b2ae3d27d4eb4fu, v;
        for (; len >= 16; s += 16, len -= 16) {
            memcpy(&w, s, 8);
            memcpy(&v, s + 8, 8);
            h = (h ^ w) * 0x100000001b3u;
            k = (k ^ v) * 0xff51afd7ed558ccdu;
            h ^= h >> 29;
            k ^= k >> 31;
        }
        h ^= k * 0x9e3779b97f4a7c15u;
    }
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 29;
    }
    if (len)
        h = (h ^ tail(s, len)) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return (uint32_t)h;
}

uint32_t
qp__hash(const char *s, size_t len)
{
    return hash(s, len);
}

uint32_t
qp__sym_prefetch(const qp_graph *g, const char *s, size_t len)
{
    uint32_t h = hash(s, len);
#if defined(__GNUC__)
    if (g->st.nslots)
        __builtin_prefetch(&g->st.slots[h & (g->st.nslots - 1)]);
#else
    (void)g;
#endif
    return h;
}

/* The size of the header for len bytes (the format: internal.h, QP__SYM_LONG). */
static size_t
head_size(size_t len)
{
    return len < QP__SYM_LONG ? 1 : 5;
}

/* Writes a header for len bytes at p; its size. */
static size_t
put_head(char *p, size_t len)
{
    if (len < QP__SYM_LONG) {
        p[0] = (char)len;
        return 1;
    }
    uint32_t l = (uint32_t)len;
    p[0] = (char)QP__SYM_LONG;
    memcpy(p + 1, &l, 4);
    return 5;
}

/* Writes a derived sym's bytes (its base's, then its suffixes) into its
 * reserved room; an unwritten derived parent stays unwritten. g is const to the
 * callers of qp__sym_str: the bytes are a cache of what the sym already is. */
void
qp__sym_write_derived(const qp_graph *g, uint32_t sym)
{
    struct qp__symtab *st = (struct qp__symtab *)(uintptr_t)&g->st;
    uint32_t k, b = qp__sym_base(g, sym, &k);
    const unsigned char *bh = qp__sym_head(st, st->syms[b].pos);
    size_t bl = qp__sym_head_len(bh);
    char *p = qp__sym_at(st, st->syms[sym].pos);
    p += put_head(p, bl + (size_t)k * QP__OBS_SFX_LEN);
    memcpy(p, qp__sym_head_str(bh), bl);
    for (p += bl; k--; p += QP__OBS_SFX_LEN)
        memcpy(p, QP__OBS_SFX, QP__OBS_SFX_LEN);
    *p = 0;
    st->syms[sym].node |= QP__SYM_WRITTEN;
}

/*
 * A slot holds a sym id in its low bits and, above them, the hash bits the
 * index does not use. With nslots = 2^k slots, fewer hashed syms than 3/4 of
 * that and every id below it (qp__sym_reserve keeps both so), ids fit k bits,
 * and bits k..31 of the hash
 * keep their place. A probe then rejects nearly every other sym by its slot
 * alone, without reading its record (a cache miss on a big table), which is
 * what lets the table fill to 3/4 and stay half the size. A sym whose tag
 * matches is then told by its length and bytes: records keep no hash.
 */
static uint32_t
slot_make(uint32_t h, uint32_t id, uint32_t nslots)
{
    return id | (h & ~(nslots - 1));
}

static bool
slot_tag_is(uint32_t slot, uint32_t h, uint32_t nslots)
{
    return (slot & ~(nslots - 1)) == (h & ~(nslots - 1));
}

static uint32_t
slot_id(uint32_t slot, uint32_t nslots)
{
    return slot & (nslots - 1);
}

/* The hash of sym id's bytes: records do not keep it (4 bytes a sym), so the
 * rare rebuilds of the table (a doubling, a rollback) hash the bytes again. */
static uint32_t
sym_hash(const struct qp__symtab *st, uint32_t id)
{
    const unsigned char *h = qp__sym_head(st, st->syms[id].pos);
    return hash(qp__sym_head_str(h), qp__sym_head_len(h));
}

bool
qp__sym_dotted_under(const qp_graph *g, uint32_t sym, const char *p, size_t len)
{
    /* the bytes are base's and then k suffixes: compared piece by piece */
    uint32_t k, base = qp__sym_base(g, sym, &k);
    const unsigned char *h = qp__sym_head(&g->st, g->st.syms[base].pos);
    size_t bl = qp__sym_head_len(h);
    const char *b = qp__sym_head_str(h);
    if (bl + (size_t)k * QP__OBS_SFX_LEN <= len)
        return false;
    if (len < bl)
        return !memcmp(b, p, len) && b[len] == '.';
    if (memcmp(b, p, bl))
        return false;
    static const char sfx[] = QP__OBS_SFX;
    size_t i = bl, off = 0;
    while (i < len) {
        size_t n = QP__OBS_SFX_LEN - off < len - i ? QP__OBS_SFX_LEN - off : len - i;
        if (memcmp(p + i, sfx + off, n))
            return false;
        i += n;
        off = (off + n) % QP__OBS_SFX_LEN;
    }
    return sfx[off] == '.';
}

/* Slots syms 1..st->n-1 but the derived ones into the zeroed table slots[nslots],
 * in id order (which makes the table the same as had they been interned one by
 * one); returns how many were derived. Records and
 * bytes are read in order, slots written at random: on a table past the caches
 * each write is a cache and TLB miss, so a block of syms is hashed and its slots
 * requested while the block before is slotted, and the misses overlap instead of
 * queueing (hashing a block in a row also overlaps the hashes). */
static uint32_t
fill(const struct qp__symtab *st, uint32_t *slots, uint32_t nslots)
{
    enum { B = 16 };
    uint32_t buf[2][B], *ahead = buf[0], *prev = buf[1], mask = nslots - 1, n = st->n, nder = 0;
    for (uint32_t lo = 1; lo < n + B; lo += B) {
        /* the hashes of syms lo..lo+B-1, their slots requested */
        for (uint32_t j = 0; j < B && lo + j < n; j++) {
            if (st->syms[lo + j].node & QP__SYM_DERIVED) {
                nder++;
                continue;
            }
            ahead[j] = sym_hash(st, lo + j);
#if defined(__GNUC__)
            __builtin_prefetch(&slots[ahead[j] & mask], 1);
#endif
        }
        /* the block before, hashed and requested in the last round */
        for (uint32_t j = 0; lo > B && j < B && lo - B + j < n; j++) {
            if (st->syms[lo - B + j].node & QP__SYM_DERIVED)
                continue;
            uint32_t i = prev[j] & mask;
            while (slots[i])
                i = (i + 1) & mask;
            slots[i] = slot_make(prev[j], lo - B + j, nslots);
        }
        uint32_t *t = ahead;
        ahead = prev;
        prev = t;
    }
    return nder;
}

static qp_status
rehash(qp_graph *g, uint32_t nslots)
{
    struct qp__symtab *st = &g->st;
    uint32_t *slots = qp__alloc(g, (size_t)nslots * sizeof *slots);
    if (!slots)
        return qp__err(g, QP_ERR_NOMEM, "out of memory growing the symbol table");
    memset(slots, 0, (size_t)nslots * sizeof *slots);
    fill(st, slots, nslots);
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
    /* slots for the hashed syms at 3/4 load at most, and every id below nslots
     * (a slot keeps an id in its low bits: derived syms take ids too) */
    uint64_t want = (uint64_t)st->n - st->nder + n, ids = (uint64_t)st->n + n;
    if (want * 4 > (uint64_t)st->nslots * 3 || ids > st->nslots) {
        uint64_t ns = st->nslots ? st->nslots : 64;
        while (want * 4 > ns * 3 || ids > ns)
            ns *= 2;
        if (ns > (1u << 31))
            return qp__err(g, QP_ERR_LIMIT, "too many distinct strings");
        return rehash(g, (uint32_t)ns);
    }
    return QP_OK;
}

qp_status
qp__sym_presize(qp_graph *g, uint64_t total)
{
    struct qp__symtab *st = &g->st;
    if (total > (1u << 30))
        total = 1u << 30;
    if (total * 4 <= (uint64_t)st->nslots * 3)
        return QP_OK;
    uint64_t ns = st->nslots ? st->nslots : 64;
    while (total * 4 > ns * 3)
        ns *= 2;
    return rehash(g, (uint32_t)ns);
}

/* Windows a chunk of size bytes covers. */
static uint32_t
windows(size_t size)
{
    return (uint32_t)((size + QP__WIN - 1) / QP__WIN);
}

/* Points the k windows from w at the chunk at p. */
static void
map_windows(struct qp__symtab *st, uint32_t w, char *p, uint32_t k)
{
    for (uint32_t j = 0; j < k; j++)
        st->win[w + j] = p + (size_t)j * QP__WIN;
}

qp_status
qp__sym_init(qp_graph *g)
{
    struct qp__symtab *st = &g->st;
    memset(st, 0, sizeof *st);
    qp_status rc = qp__sym_reserve(g, 64);
    if (!rc)
        rc = QP__GROW(g, st->chunks, 0, st->capchunks, 4);
    if (!rc)
        rc = QP__GROW(g, st->win, 0, st->capwin, 4);
    if (rc)
        return rc;
    char *p = qp__alloc(g, CHUNK);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    /* sym 0 is "" (a zero length, then the NUL) at position 0, so that a zeroed
     * field reads as an empty string */
    p[0] = 0;
    p[1] = 0;
    st->chunks[0] = (struct qp__chunk){p, 2, CHUNK, 0};
    st->nchunks = 1;
    st->cur = 0;
    map_windows(st, 0, p, windows(CHUNK));
    st->nwin = windows(CHUNK);
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
    qp__free(g, st->win, (size_t)st->capwin * sizeof *st->win);
    qp__free(g, st->syms, (size_t)st->capsyms * sizeof *st->syms);
    qp__free(g, st->slots, (size_t)st->nslots * sizeof *st->slots);
    qp__free(g, st->x, (size_t)st->capx * sizeof *st->x);
    memset(st, 0, sizeof *st);
}

qp_status
qp__sym_copy(qp_graph *h, const struct qp__symtab *s)
{
    struct qp__symtab *t = &h->st;
    t->min_k = s->min_k;
    qp_status rc = qp__dup(h, (void **)&t->chunks, s->chunks, 0, s->capchunks, sizeof *s->chunks);
    if (!rc) {
        t->capchunks = s->capchunks;
        rc = qp__dup(h, (void **)&t->win, s->win, 0, s->capwin, sizeof *s->win);
    }
    if (!rc)
        t->capwin = s->capwin;
    /* each chunk's bytes, and its windows pointed at the copy */
    for (uint32_t i = 0; !rc && i < s->nchunks; i++) {
        const struct qp__chunk *c = &s->chunks[i];
        char *p = qp__alloc(h, c->size);
        if (!p) {
            rc = QP_ERR_NOMEM;
            break;
        }
        memcpy(p, c->p, c->used);
        t->chunks[i] = (struct qp__chunk){p, c->used, c->size, c->win};
        t->nchunks = i + 1;
        map_windows(t, c->win, p, windows(c->size));
    }
    if (rc)
        return rc;
    t->nwin = s->nwin;
    t->cur = s->cur;
    t->lcur = s->lcur;
    t->nder = s->nder;
    /* the records get no spare capacity: the original's may be large (grown by halves) */
    if ((rc = qp__dup(h, (void **)&t->syms, s->syms, s->n, s->n, sizeof *s->syms)))
        return rc;
    t->n = t->capsyms = s->n;
    /* the hash table and the rarer facts as they are (open addressing: positions matter) */
    if ((rc = qp__dup(h, (void **)&t->x, s->x, s->capx, s->capx, sizeof *s->x)))
        return rc;
    t->capx = s->capx;
    t->nx = s->nx;
    if ((rc = qp__dup(h, (void **)&t->slots, s->slots, s->nslots, s->nslots, sizeof *s->slots)))
        return rc;
    t->nslots = s->nslots;
    return QP_OK;
}

/* qp__sym_find with the hash given. */
static uint32_t
find(const qp_graph *g, const char *s, size_t len, uint32_t h)
{
    const struct qp__symtab *st = &g->st;
    for (uint32_t i = h & (st->nslots - 1);; i = (i + 1) & (st->nslots - 1)) {
        uint32_t slot = st->slots[i];
        if (!slot)
            return 0;
        if (!slot_tag_is(slot, h, st->nslots))
            continue;
        uint32_t id = slot_id(slot, st->nslots);
        const unsigned char *y = qp__sym_head(st, st->syms[id].pos);
        if (qp__sym_head_len(y) == len && memcmp(qp__sym_head_str(y), s, len) == 0)
            return id;
    }
}

uint32_t
qp__sym_find(const qp_graph *g, const char *s, size_t len)
{
    if (len == 0 || len > UINT32_MAX || !g->st.nslots)
        return 0;
    return find(g, s, len, hash(s, len));
}

uint32_t
qp__sym_find_h(const qp_graph *g, const char *s, size_t len, uint32_t h)
{
    if (len == 0 || len > UINT32_MAX || !g->st.nslots)
        return 0;
    return find(g, s, len, h);
}

/* The size of the next chunk: CHUNK for the first eight, then twice as big every
 * eight chunks, up to 1024 CHUNKs, so that a small graph's strings sit in one
 * chunk and a big graph's in a few dozen large blocks (which the default
 * allocator maps in huge pages: a page is faulted in once per 2 MiB, not per 4
 * KiB). Unused room at the end of a chunk is never touched. */
static size_t
chunk_size(const struct qp__symtab *st)
{
    uint32_t k = st->nchunks / 8;
    if (k < st->min_k)
        k = st->min_k;
    return (size_t)CHUNK << (k < 10 ? k : 10);
}

/* The doubling above reaches 2 MiB (the default allocator's huge-page class)
 * only after 40 chunks, 16 MB of strings faulted in 4 KiB at a time: most of a
 * big text's names. Told the bytes to come, chunks start at a quarter of them,
 * up to 4 MiB (CHUNK << 6). */
void
qp__sym_expect_bytes(qp_graph *g, uint64_t bytes)
{
    uint32_t k = 0;
    while (k < 6 && ((uint64_t)CHUNK << (k + 1)) <= bytes / 4)
        k++;
    if (k > g->st.min_k)
        g->st.min_k = k;
}

/* Finds room for n bytes, at *pos, in the chunk being filled (derived: the
 * derived syms' one); a string bigger than a quarter chunk gets a chunk of its own. */
static qp_status
room(qp_graph *g, size_t n, bool derived, uint32_t *pos)
{
    struct qp__symtab *st = &g->st;
    struct qp__chunk *c =
        derived ? (st->lcur ? &st->chunks[st->lcur - 1] : NULL) : &st->chunks[st->cur];
    if (c && c->size - c->used >= n) {
        *pos = (c->win << QP__WIN_BITS) + c->used;
        c->used += (uint32_t)n;
        return QP_OK;
    }
    size_t full = chunk_size(st);
    if (derived && !st->lcur && full > CHUNK / 8)
        full = CHUNK / 8; /* the first derived chunk: a small model's observers fit */
    size_t size = n > full / 4 ? n : full;
    uint32_t k = windows(size);
    if (k > (1u << (32 - QP__WIN_BITS)) - st->nwin)
        return qp__err(g, QP_ERR_LIMIT, "more than 4 GiB of distinct strings");
    qp_status rc = QP__GROW(g, st->chunks, st->nchunks, st->capchunks, 1);
    if (!rc)
        rc = QP__GROW(g, st->win, st->nwin, st->capwin, k);
    if (rc)
        return rc;
    char *p = qp__alloc(g, size);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory storing a string of %zu bytes", n);
    st->chunks[st->nchunks] = (struct qp__chunk){p, (uint32_t)n, (uint32_t)size, st->nwin};
    map_windows(st, st->nwin, p, k);
    *pos = st->nwin << QP__WIN_BITS;
    st->nwin += k;
    if (size == full && derived)
        st->lcur = st->nchunks + 1;
    else if (size == full)
        st->cur = st->nchunks;
    st->nchunks++;
    return QP_OK;
}

qp_status
qp__sym_intern(qp_graph *g, const char *s, size_t len, uint32_t *out)
{
    return qp__sym_intern_h(g, s, len, hash(s, len), out);
}

qp_status
qp__sym_intern_h(qp_graph *g, const char *s, size_t len, uint32_t h, uint32_t *out)
{
    *out = 0;
    if (len == 0)
        return QP_OK;
    if (len > UINT32_MAX - 8)
        return qp__err(g, QP_ERR_LIMIT, "string of %zu bytes is too long", len);
    uint32_t id = g->st.nslots ? find(g, s, len, h) : 0;
    if (id) {
        *out = id;
        return QP_OK;
    }
    qp_status rc = qp__sym_reserve(g, 1);
    if (rc)
        return rc;
    size_t hs = head_size(len);
    uint32_t pos = 0;
    rc = room(g, hs + len + 1, false, &pos);
    if (rc)
        return rc;
    struct qp__symtab *st = &g->st;
    char *p = qp__sym_at(st, pos);
    put_head(p, len);
    memcpy(p + hs, s, len);
    p[hs + len] = 0;
    id = st->n++;
    st->syms[id] = (struct qp__sym){pos, 0, 0};
    uint32_t i = h & (st->nslots - 1);
    while (st->slots[i])
        i = (i + 1) & (st->nslots - 1);
    st->slots[i] = slot_make(h, id, st->nslots);
    *out = id;
    return QP_OK;
}

qp_status
qp__sym_derive_obs(qp_graph *g, uint32_t parent, uint32_t *out)
{
    *out = 0;
    size_t len = (size_t)qp__sym_len(g, parent) + QP__OBS_SFX_LEN;
    if (len >= 2 * QP_MAX_NAME + 64) /* qp__sym_join's limit */
        return qp__err(g, QP_ERR_INVALID_NAME, "path longer than %u bytes", 2 * QP_MAX_NAME + 64);
    struct qp__symtab *st = &g->st;
    qp_status rc = QP__GROW(g, st->syms, st->n, st->capsyms, 1);
    uint32_t pos = 0;
    if (rc || (rc = room(g, head_size(len) + len + 1, true, &pos)))
        return rc;
    uint32_t id = st->n++;
    st->syms[id] = (struct qp__sym){pos, QP__SYM_DERIVED | parent, 0};
    st->nder++;
    *out = id;
    return QP_OK;
}

void
qp__sym_truncate(qp_graph *g, const struct qp__symtab *old, uint32_t used, uint32_t lused)
{
    struct qp__symtab *st = &g->st;
    uint32_t n = old->n, nchunks = old->nchunks, cur = old->cur, nslots = old->nslots;
    if (nslots && st->nslots > nslots) {
        uint32_t *p =
            qp__realloc(g, st->slots, (size_t)st->nslots * sizeof *p, (size_t)nslots * sizeof *p);
        if (p) {
            st->slots = p;
            st->nslots = nslots;
        }
    }
    for (uint32_t i = nchunks; i < st->nchunks; i++)
        qp__free(g, st->chunks[i].p, st->chunks[i].size);
    st->nchunks = nchunks;
    st->nwin = st->chunks[nchunks - 1].win + windows(st->chunks[nchunks - 1].size);
    st->cur = cur;
    st->chunks[cur].used = used;
    st->lcur = old->lcur;
    if (st->lcur)
        st->chunks[st->lcur - 1].used = lused;
    st->n = n;
    /* the slots as they would be had the syms past n never come: rebuilt in place
     * (in a bigger table if it could not shrink back: lookups do not depend on its
     * size) */
    memset(st->slots, 0, (size_t)st->nslots * sizeof *st->slots);
    st->nder = fill(st, st->slots, st->nslots);
}

/* ==== the rarer facts: a name base's count, a parameter ==== */

/* The slot of sym in st.x, or the empty slot where it would go (capx > 0). */
static struct qp__symx *
x_slot(const struct qp__symtab *st, uint32_t sym)
{
    uint32_t h = sym * 0x9e3779b9u;
    for (uint32_t i = (h ^ h >> 16) & (st->capx - 1);; i = (i + 1) & (st->capx - 1))
        if (!st->x[i].sym || st->x[i].sym == sym)
            return &st->x[i];
}

static const struct qp__symx *
x_find(const qp_graph *g, uint32_t sym)
{
    if (!g->st.capx)
        return NULL;
    const struct qp__symx *e = x_slot(&g->st, sym);
    return e->sym ? e : NULL;
}

uint32_t
qp__sym_count(const qp_graph *g, uint32_t sym)
{
    const struct qp__symx *e = x_find(g, sym);
    return e ? e->count : 0;
}

uint32_t
qp__sym_param(const qp_graph *g, uint32_t sym)
{
    const struct qp__symx *e = x_find(g, sym);
    return e ? e->param : 0;
}

qp_status
qp__sym_extra_reserve(qp_graph *g, uint32_t n)
{
    struct qp__symtab *st = &g->st;
    uint64_t want = (uint64_t)st->nx + n;
    if (want * 4 <= (uint64_t)st->capx * 3)
        return QP_OK;
    uint64_t ncap = st->capx ? st->capx : 16;
    while (want * 4 > ncap * 3)
        ncap *= 2;
    if (ncap > (UINT32_MAX >> 4))
        return qp__err(g, QP_ERR_LIMIT, "too many parameters and name bases");
    struct qp__symx *t = qp__alloc(g, (size_t)ncap * sizeof *t);
    if (!t)
        return QP_ERR_NOMEM;
    memset(t, 0, (size_t)ncap * sizeof *t);
    struct qp__symtab old = *st;
    st->x = t;
    st->capx = (uint32_t)ncap;
    for (uint32_t i = 0; i < old.capx; i++)
        if (old.x[i].sym)
            *x_slot(st, old.x[i].sym) = old.x[i];
    qp__free(g, old.x, (size_t)old.capx * sizeof *old.x);
    return QP_OK;
}

/* The entry of sym, made if need be (NULL: no room; nothing changed). */
static struct qp__symx *
x_entry(qp_graph *g, uint32_t sym)
{
    struct qp__symtab *st = &g->st;
    if (st->capx) {
        struct qp__symx *e = x_slot(st, sym);
        if (e->sym)
            return e;
    }
    if (qp__sym_extra_reserve(g, 1))
        return NULL;
    struct qp__symx *e = x_slot(st, sym);
    e->sym = sym;
    st->nx++;
    return e;
}

/* Sets the count (count true) or the parameter of sym to v. */
static qp_status
x_set(qp_graph *g, uint32_t sym, bool count, uint32_t v)
{
    if (!v && !x_find(g, sym))
        return QP_OK;
    struct qp__symx *e = x_entry(g, sym);
    if (!e)
        return QP_ERR_NOMEM;
    *(count ? &e->count : &e->param) = v;
    return QP_OK;
}

qp_status
qp__sym_set_count(qp_graph *g, uint32_t sym, uint32_t count)
{
    return x_set(g, sym, true, count);
}

qp_status
qp__sym_set_param(qp_graph *g, uint32_t sym, uint32_t param)
{
    return x_set(g, sym, false, param);
}
