/*
 * modorder.c - the module table in the prepared GraphModule's named_modules() order.
 *
 * torch.fx rebuilds a GraphModule by installing each call_module and get_attr
 * target on a fresh root, in node order (sorted stably by depth when MQBench builds
 * it from a dict, as for the backends without fusion), creating empty containers on
 * the way; named_modules() then walks that tree in pre-order, a module followed by
 * its own submodules. The activation fake-quantizers MQBench sets on the root after
 * that come last, in the order they were made. prepare.c runs it for the backends
 * without fusion, whose GraphModule MQBench builds from a dict (by depth); for the
 * others the passes already keep that order. Linear: one trie node per distinct
 * dotted prefix of a target, found through a hash of (parent, component).
 */
#include "prep.h"

#include <string.h>

struct tnode {
    uint32_t first, last, next; /* children in creation order; siblings */
    uint32_t mod;               /* the module at this prefix, or 0 */
};

struct trie {
    struct tnode *n;
    uint32_t count, cap;
    uint32_t *slots; /* node ids by hash of (parent, component); 0: empty */
    uint32_t nslots;
    const char **key; /* a node's component: key[i][0..klen[i]) */
    uint32_t *klen, *parent;
};

static uint32_t
slot_hash(uint32_t parent, const char *s, size_t len)
{
    return qp__hash(s, len) ^ (parent * 0x9e3779b1u);
}

/* The child of `parent` named s[0..len), made (with the module at path[0..plen)) if new. */
static uint32_t
child(qp_graph *g, struct trie *t, uint32_t parent, const char *s, size_t len,
      const char *path, size_t plen)
{
    uint32_t i = slot_hash(parent, s, len) & (t->nslots - 1);
    for (; t->slots[i]; i = (i + 1) & (t->nslots - 1)) {
        uint32_t c = t->slots[i];
        if (t->parent[c] == parent && t->klen[c] == len && !memcmp(t->key[c], s, len))
            return c;
    }
    uint32_t c = t->count++; /* room made by the caller */
    t->slots[i] = c;
    t->key[c] = s;
    t->klen[c] = (uint32_t)len;
    t->parent[c] = parent;
    memset(&t->n[c], 0, sizeof t->n[c]);
    t->n[c].mod = qp__mod_find_str(g, path, plen);
    if (t->n[parent].last)
        t->n[t->n[parent].last].next = c;
    else
        t->n[parent].first = c;
    t->n[parent].last = c;
    return c;
}

static void
trie_free(qp_graph *g, struct trie *t)
{
    qp__free(g, t->n, (size_t)t->cap * sizeof *t->n);
    qp__free(g, t->key, (size_t)t->cap * sizeof *t->key);
    qp__free(g, t->klen, (size_t)t->cap * sizeof *t->klen);
    qp__free(g, t->parent, (size_t)t->cap * sizeof *t->parent);
    qp__free(g, t->slots, (size_t)t->nslots * sizeof *t->slots);
}

static uint32_t
depth(const qp_graph *g, uint32_t sym)
{
    const char *s = qp__sym_str(g, sym);
    uint32_t d = 0;
    for (uint32_t i = 0, n = qp__sym_len(g, sym); i < n; i++)
        d += s[i] == '.';
    return d;
}

qp_status
qp__mod_named_order(qp_graph *g, bool by_depth)
{
    uint32_t nm = g->nmods, ns = g->st.n;
    /* per module: 1 seen, 2 an activation fake-quantizer (or its observer) */
    uint8_t *mark = qp__alloc(g, nm);
    uint8_t *listed = qp__alloc(g, ns);
    /* node-order targets, then (sorting by depth) their depths and the sorted run */
    uint32_t *targets = qp__alloc(g, (size_t)(g->nnodes + 1) * 3 * sizeof *targets);
    uint32_t *order = qp__alloc(g, (size_t)nm * sizeof *order);
    struct trie t;
    memset(&t, 0, sizeof t);
    qp_status rc = QP_OK;
    if (!mark || !listed || !targets || !order) {
        rc = qp__err(g, QP_ERR_NOMEM, "out of memory ordering the module table");
        goto out;
    }
    memset(mark, 0, nm);
    memset(listed, 0, ns);
    uint32_t nt = 0;
    size_t parts = 0; /* components of all targets: trie nodes at most */
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next) {
        const struct qp__node *r = &g->nodes[n];
        if (r->op != QP_OP_CALL_MODULE && r->op != QP_OP_GET_ATTR)
            continue;
        uint32_t m = r->op == QP_OP_CALL_MODULE ? qp__mod_find(g, r->target) : 0;
        if (r->fq_of && m) { /* set on the root after the rebuild: last */
            for (uint32_t x = m, e = qp__mod_subtree_end(g, m);; x = g->mods[x].next) {
                mark[x] = 2;
                if (x == e)
                    break;
            }
            continue;
        }
        if (!listed[r->target]) {
            listed[r->target] = 1;
            targets[nt++] = r->target;
            parts += depth(g, r->target) + 1;
        }
    }
    if (by_depth) { /* stable: counting sort on the number of dots */
        uint32_t *d = targets + nt, *sorted = targets + 2 * nt, maxd = 0;
        for (uint32_t i = 0; i < nt; i++) {
            d[i] = depth(g, targets[i]);
            maxd = d[i] > maxd ? d[i] : maxd;
        }
        uint32_t *start = qp__alloc(g, ((size_t)maxd + 2) * sizeof *start);
        if (!start) {
            rc = qp__err(g, QP_ERR_NOMEM, "out of memory ordering the module table");
            goto out;
        }
        memset(start, 0, ((size_t)maxd + 2) * sizeof *start);
        for (uint32_t i = 0; i < nt; i++)
            start[d[i] + 1]++;
        for (uint32_t k = 1; k <= maxd + 1; k++)
            start[k] += start[k - 1];
        for (uint32_t i = 0; i < nt; i++)
            sorted[start[d[i]]++] = targets[i];
        memcpy(targets, sorted, (size_t)nt * sizeof *targets);
        qp__free(g, start, ((size_t)maxd + 2) * sizeof *start);
    }
    /* the trie: at most one node per component of every target, plus the root */
    t.cap = (uint32_t)(parts < UINT32_MAX / 4 ? parts + 1 : UINT32_MAX / 4);
    t.nslots = 16;
    while (t.nslots < (uint64_t)t.cap * 2)
        t.nslots *= 2;
    t.n = qp__alloc(g, (size_t)t.cap * sizeof *t.n);
    t.key = qp__alloc(g, (size_t)t.cap * sizeof *t.key);
    t.klen = qp__alloc(g, (size_t)t.cap * sizeof *t.klen);
    t.parent = qp__alloc(g, (size_t)t.cap * sizeof *t.parent);
    t.slots = qp__alloc(g, (size_t)t.nslots * sizeof *t.slots);
    if (!t.n || !t.key || !t.klen || !t.parent || !t.slots) {
        rc = qp__err(g, QP_ERR_NOMEM, "out of memory ordering the module table");
        goto out;
    }
    memset(t.slots, 0, (size_t)t.nslots * sizeof *t.slots);
    memset(&t.n[0], 0, sizeof t.n[0]);
    t.count = 1; /* node 0: the root */
    for (uint32_t i = 0; i < nt; i++) {
        const char *p = qp__sym_str(g, targets[i]);
        size_t len = qp__sym_len(g, targets[i]);
        uint32_t at = 0;
        for (size_t a = 0; a < len;) {
            size_t b = a;
            while (b < len && p[b] != '.')
                b++;
            at = child(g, &t, at, p + a, b - a, p, b);
            a = b + 1;
        }
    }
    /* pre-order over the trie, with an explicit stack (klen is free again: at most
     * one entry per trie node is pending); children pushed last first */
    uint32_t no = 0, *stack = t.klen, sp = 0;
    for (uint32_t c = t.n[0].first; c; c = t.n[c].next)
        sp++;
    for (uint32_t c = t.n[0].first, at = sp; c; c = t.n[c].next)
        stack[--at] = c;
    while (sp) {
        uint32_t x = stack[--sp], m = t.n[x].mod;
        if (m && !mark[m]) {
            for (uint32_t y = m, e = qp__mod_subtree_end(g, m);; y = g->mods[y].next) {
                if (!mark[y]) {
                    mark[y] = 1;
                    order[no++] = y;
                }
                if (y == e)
                    break;
            }
        }
        uint32_t k = 0;
        for (uint32_t c = t.n[x].first; c; c = t.n[c].next)
            k++;
        sp += k;
        uint32_t at = sp;
        for (uint32_t c = t.n[x].first; c; c = t.n[c].next)
            stack[--at] = c;
    }
    /* modules no target reaches, then the fake-quantizers, each in table order */
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        if (!mark[m])
            order[no++] = m;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        if (mark[m] == 2)
            order[no++] = m;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < no; i++) {
        g->mods[prev].next = order[i];
        g->mods[order[i]].prev = prev;
        prev = order[i];
    }
    g->mods[prev].next = 0;
    g->mods[0].prev = prev;
out:
    trie_free(g, &t);
    qp__free(g, mark, nm);
    qp__free(g, listed, ns);
    qp__free(g, targets, (size_t)(g->nnodes + 1) * 3 * sizeof *targets);
    qp__free(g, order, (size_t)nm * sizeof *order);
    return rc;
}
