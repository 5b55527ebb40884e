/*
 * modtree.c - the module table seen as torch's module tree, for the passes:
 * ordering it the way named_modules() lists it (each module followed by its
 * submodules), so that a subtree is one contiguous run; removing, copying
 * and extending subtrees; and dropping the modules no node calls, as
 * rebuilding a GraphModule does. Paths are dotted; a parent may be absent.
 */
#include "prep.h"

#include <string.h>

const struct qp__val *
qp__mod_attr(const qp_graph *g, uint32_t m, const char *key)
{
    uint32_t k = qp__sym_find(g, key, strlen(key));
    uint32_t v = k ? qp__val_get(g, g->mods[m].attrs, k) : 0;
    return v ? &g->vals[v] : NULL;
}

/* Sym a followed by blen bytes of b into buf[0..cap); the length, or 0 when too long. */
static size_t
cat(const qp_graph *g, char *buf, size_t cap, uint32_t a, const char *b, size_t blen)
{
    size_t al = qp__sym_len(g, a);
    if (al + blen >= cap)
        return 0;
    memcpy(buf, qp__sym_str(g, a), al);
    memcpy(buf + al, b, blen);
    return al + blen;
}

uint32_t
qp__sym_join(qp_graph *g, uint32_t a, const char *b, size_t blen)
{
    return qp__sym_join_h(g, a, b, blen, NULL);
}

uint32_t
qp__mod_find_join(const qp_graph *g, uint32_t a, const char *b, size_t blen, const uint32_t *h)
{
    char buf[2 * QP_MAX_NAME + 64];
    size_t n = cat(g, buf, sizeof buf, a, b, blen);
    if (!n)
        return 0;
    uint32_t s = h ? qp__sym_find_h(g, buf, n, *h) : qp__sym_find(g, buf, n);
    return s ? qp__mod_find(g, s) : qp__mod_find_str(g, buf, n);
}

uint32_t
qp__sym_join_h(qp_graph *g, uint32_t a, const char *b, size_t blen, const uint32_t *h)
{
    char buf[2 * QP_MAX_NAME + 64];
    size_t n = cat(g, buf, sizeof buf, a, b, blen);
    if (!n) {
        qp__err(g, QP_ERR_INVALID_NAME, "path longer than %zu bytes", sizeof buf);
        return 0;
    }
    uint32_t s;
    qp_status rc = h ? qp__sym_intern_h(g, buf, n, *h, &s) : qp__sym_intern(g, buf, n, &s);
    return rc ? 0 : s;
}

bool
qp__sym_prefetch_join(const qp_graph *g, uint32_t a, const char *b, size_t blen, uint32_t *h)
{
    char buf[256];
    size_t n = cat(g, buf, sizeof buf, a, b, blen);
    if (!n)
        return false; /* only a hint */
    *h = qp__sym_prefetch(g, buf, n);
    return true;
}

/* The nearest module whose path is a dotted prefix of m's path, or 0. */
static uint32_t
parent_of(const qp_graph *g, uint32_t m)
{
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t len = qp__sym_len(g, g->mods[m].path);
    while (len > 0) {
        while (len > 0 && p[len - 1] != '.')
            len--;
        if (len == 0)
            break;
        len--; /* drop the dot */
        uint32_t q = qp__mod_find_str(g, p, len);
        if (q)
            return q;
    }
    return 0;
}

static uint32_t
filt_at(const struct qp__anc *c, uint32_t h, int k)
{
    return (k ? h >> 16 | h << 16 : h) & c->fmask;
}

qp_status
qp__anc_init(qp_graph *g, struct qp__anc *c)
{
    memset(c, 0, sizeof *c);
    uint64_t bits = 64;
    while (bits < (uint64_t)g->nlivemods * 16 && bits < ((uint64_t)1 << 31))
        bits *= 2;
    /* a small table's filter lives in c: no allocation (and no heap churn) at all */
    c->filt = bits / 8 <= sizeof c->small ? c->small : qp__alloc(g, (size_t)(bits / 8));
    if (!c->filt)
        return qp__err(g, QP_ERR_NOMEM, "out of memory walking the module tree");
    memset(c->filt, 0, (size_t)(bits / 8));
    c->fmask = (uint32_t)(bits - 1);
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next) {
        uint32_t ps = g->mods[m].path, h = qp__hash(qp__sym_str(g, ps), qp__sym_len(g, ps));
        for (int k = 0; k < 2; k++) {
            uint32_t b = filt_at(c, h, k);
            c->filt[b >> 3] |= (uint8_t)(1u << (b & 7));
        }
    }
    return QP_OK;
}

void
qp__anc_free(qp_graph *g, struct qp__anc *c)
{
    if (c->filt != c->small)
        qp__free(g, c->filt, ((size_t)c->fmask + 1) / 8);
    c->filt = NULL;
}

/* The live module with path p[0..len), or 0. */
static uint32_t
prefix_module(const qp_graph *g, const struct qp__anc *c, const char *p, size_t len)
{
    uint32_t h = qp__hash(p, len);
    for (int k = 0; k < 2; k++) {
        uint32_t b = filt_at(c, h, k);
        if (!(c->filt[b >> 3] & (1u << (b & 7))))
            return 0;
    }
    return qp__mod_find_str(g, p, len);
}

uint32_t
qp__mod_parent(const qp_graph *g, uint32_t m, struct qp__anc *c)
{
    uint32_t ps = g->mods[m].path;
    const char *p = qp__sym_str(g, ps);
    size_t len = qp__sym_len(g, ps);
    /* the levels of the last path that lie inside the prefix both paths share */
    uint32_t keep = 0;
    if (c->valid) {
        const char *q = qp__sym_str(g, c->path);
        size_t qlen = qp__sym_len(g, c->path), common = 0;
        while (common < len && common < qlen && p[common] == q[common])
            common++;
        while (keep < c->n && c->len[keep] < common)
            keep++;
    }
    /* the last path itself, when it is a prefix of this one (a child after its
     * parent): its module is the last one looked at */
    size_t self = c->valid && c->self_live ? qp__sym_len(g, c->path) : 0;
    uint32_t self_mod = c->self_mod;
    uint32_t n = keep;
    for (size_t i = keep ? c->len[keep - 1] + 1 : 0; i < len; i++) {
        if (p[i] != '.')
            continue;
        if (n == QP__ANC_LEVELS) { /* deeper than the cache: the plain search */
            c->valid = false;
            return parent_of(g, m);
        }
        c->len[n] = (uint32_t)i;
        if (i == self && !memcmp(p, qp__sym_str(g, c->path), self))
            c->mod[n++] = self_mod;
        else
            c->mod[n++] = prefix_module(g, c, p, i);
    }
    c->valid = true;
    c->self_mod = m;
    c->self_live = qp__mod_live(g, m);
    c->path = ps;
    c->n = n;
    while (n > 0 && !c->mod[n - 1])
        n--;
    return n ? c->mod[n - 1] : 0;
}

qp_status
qp__mod_tree_order(qp_graph *g)
{
    uint32_t n = g->nmods;
    /* child lists threaded through two arrays: first child, next sibling (table order) */
    uint32_t *first = qp__alloc(g, (size_t)n * 3 * sizeof *first);
    if (!first)
        return qp__err(g, QP_ERR_NOMEM, "out of memory ordering the module table");
    uint32_t *next = first + n, *last = first + 2 * n;
    memset(first, 0, (size_t)n * 3 * sizeof *first);
    uint32_t roots = 0, roots_last = 0;
    struct qp__anc anc;
    if (qp__anc_init(g, &anc)) {
        qp__free(g, first, (size_t)n * 3 * sizeof *first);
        return QP_ERR_NOMEM;
    }
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next) {
        uint32_t p = qp__mod_parent(g, m, &anc);
        if (p) {
            if (last[p])
                next[last[p]] = m;
            else
                first[p] = m;
            last[p] = m;
        } else {
            if (roots_last)
                next[roots_last] = m;
            else
                roots = m;
            roots_last = m;
        }
    }
    qp__anc_free(g, &anc);
    /* pre-order walk with an explicit stack (the `last` array is free again) */
    uint32_t *stack = last, sp = 0, prev = 0;
    for (uint32_t r = roots; r; r = next[r]) {
        stack[sp++] = r;
        while (sp) {
            uint32_t m = stack[--sp];
            g->mods[prev].next = m;
            g->mods[m].prev = prev;
            prev = m;
            /* push children in reverse so the first comes out first */
            uint32_t k = sp;
            for (uint32_t c = first[m]; c; c = next[c])
                stack[sp++] = c;
            for (uint32_t i = k, j = sp; j > i + 1; i++, j--) {
                uint32_t t = stack[i];
                stack[i] = stack[j - 1];
                stack[j - 1] = t;
            }
        }
    }
    g->mods[prev].next = 0;
    g->mods[0].prev = prev;
    qp__free(g, first, (size_t)n * 3 * sizeof *first);
    return QP_OK;
}

static bool
under(const qp_graph *g, uint32_t root_path, uint32_t path)
{
    return path == root_path ||
           qp__sym_dotted_under(g, path, qp__sym_str(g, root_path), qp__sym_len(g, root_path));
}

void
qp__mod_remove_subtree(qp_graph *g, uint32_t m, uint32_t *removed)
{
    uint32_t root = g->mods[m].path;
    uint32_t x = m;
    while (x && under(g, root, g->mods[x].path)) {
        uint32_t nx = g->mods[x].next;
        qp__mod_remove(g, x);
        if (removed)
            (*removed)++;
        x = nx;
    }
}

qp_status
qp__mod_copy_subtree(qp_graph *g, uint32_t m, uint32_t to_path, uint32_t after, uint32_t *added)
{
    uint32_t root = g->mods[m].path;
    size_t rl = qp__sym_len(g, root);
    /* The run to copy is read first, by value: the destination may overlap it (a
     * module copied under one of its own children's paths) and whatever already
     * sits at the destination is replaced, as MQBench's setattr replaces it. */
    uint32_t last = qp__mod_subtree_end(g, m), n = 1;
    for (uint32_t x = m; x != last; x = g->mods[x].next)
        n++;
    /* most runs are one module (a fused child) or a few: no heap block for those */
    struct copy {
        struct qp__module rec;
        void *user;
        struct qp__origins orig;
    } small[8];
    struct copy *run = n <= 8 ? small : qp__alloc(g, (size_t)n * sizeof *run);
    if (!run)
        return qp__err(g, QP_ERR_NOMEM, "out of memory copying module %s", qp__sym_str(g, root));
    uint32_t k = 0;
    for (uint32_t x = m;; x = g->mods[x].next) {
        run[k].rec = g->mods[x];
        run[k].user = qp__mod_user(g, x);
        run[k++].orig = qp__mod_origins(g, x);
        if (x == last)
            break;
    }
    /* the destination's subtree goes; an anchor inside it falls back to a live entry */
    uint32_t old = qp__mod_find(g, to_path);
    if (old) {
        uint32_t oend = qp__mod_subtree_end(g, old);
        for (uint32_t x = old;; x = g->mods[x].next) {
            if (x == after)
                after = g->mods[old].prev;
            if (x == oend)
                break;
        }
        qp__mod_remove_subtree(g, old, NULL);
    }
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < n && !rc; i++) {
        size_t tail = qp__sym_len(g, run[i].rec.path) - rl; /* 0 for m itself */
        uint32_t np =
            tail ? qp__sym_join(g, to_path, qp__sym_str(g, run[i].rec.path) + rl, tail) : to_path;
        if (!np) {
            rc = QP_ERR_NOMEM;
            break;
        }
        uint32_t id;
        if ((rc = qp__mod_add(g, np, run[i].rec.type, run[i].rec.attrs, after, &id)) ||
            (rc = qp__mod_set_user(g, id, run[i].user)) ||
            (rc = qp__mod_set_origins(g, id, run[i].orig.first, run[i].orig.n)))
            break;
        after = id;
        if (added)
            (*added)++;
    }
    if (run != small)
        qp__free(g, run, (size_t)n * sizeof *run);
    return rc;
}

qp_status
qp__mod_gc(qp_graph *g)
{
    uint32_t n = g->st.n;
    uint8_t *called = qp__alloc(g, n);
    if (!called)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    memset(called, 0, n);
    for (uint32_t i = g->nodes[0].next; i; i = g->nodes[i].next) {
        if (g->nodes[i].op == QP_OP_CALL_MODULE)
            called[g->nodes[i].target] |= 1;
        else if (g->nodes[i].op == QP_OP_GET_ATTR)
            called[g->nodes[i].target] |= 2;
    }
    /* table order is tree order: a kept root's subtree follows it */
    uint32_t root = 0;
    for (uint32_t m = g->mods[0].next; m;) {
        uint32_t nx = g->mods[m].next, p = g->mods[m].path;
        if (called[p] & 1)
            root = p;
        else if (!(root && under(g, root, p)))
            qp__mod_remove(g, m);
        m = nx;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->nparams; i++) {
        uint32_t name = g->params[i].name;
        /* the sym's index into the table follows the compaction */
        qp__sym_set_param(g, name, called[name] & 2 ? k + 1 : 0); /* has an entry: no alloc */
        if (called[name] & 2)
            g->params[k++] = g->params[i];
    }
    g->nparams = k;
    qp__free(g, called, n);
    return QP_OK;
}
