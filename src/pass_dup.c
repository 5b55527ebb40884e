/*
 * pass_dup.c - duplicate reused modules (MQBench's duplicate_reused_nodes).
 *
 * A module called from k > 1 call sites gets a deep copy per extra site:
 * call site i (1-based after the first) calls `<target>_dup<i>`, a copy of
 * the module and its submodules. Node names do not change. Then the table
 * keeps only what some node calls, as rebuilding the GraphModule does.
 * Fixed mode keeps one module (one tied weight, one weight fake-quantizer)
 * for modules with parameters and duplicates only parameter-free ones.
 * Needs: nothing (orders the table first). Keeps: execution order, names, tree order.
 */
#include "prep.h"

#include <stdio.h>
#include <string.h>

/* A module has parameters if the trace recorded a weight shape, or if it is a
 * type MQBench swaps for a QAT module (those always carry a weight). */
static bool
has_params(struct qp__prep *P, uint32_t m)
{
    qp_graph *g = P->g;
    uint32_t ws = qp__sym_find(g, "weight_shape", 12);
    if (ws && qp__val_get(g, g->mods[m].attrs, ws))
        return true;
    const char *t = qp__sym_str(g, g->mods[m].type);
    for (const struct qp__map *q = P->be->qat_map; q->from; q++)
        if (!strcmp(q->from, t))
            return true;
    return false;
}

/* The last module under the parent of m (the dotted prefix of its path), where setattr
 * on that parent puts a new child: after all the parent's children, as torch's
 * _modules dict keeps insertion order (the table end for a root-level module). The
 * run under a parent is contiguous in tree order; `ends` caches, per prefix hash,
 * where the run last ended, so repeated copies under one parent do not rescan it. */
struct run_end {
    uint32_t hash, len, mod;
};

static uint32_t
parent_run_end(qp_graph *g, uint32_t m, struct run_end *ends, uint32_t nends)
{
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t pl = qp__sym_len(g, g->mods[m].path);
    while (pl > 0 && p[pl - 1] != '.')
        pl--;
    if (pl == 0)
        return g->mods[0].prev;
    /* p[0..pl) is the parent's path and its dot */
    uint32_t h = qp__hash(p, pl);
    struct run_end *e = &ends[h % nends];
    uint32_t x = m;
    if (e->mod && e->hash == h && e->len == pl && qp__mod_live(g, e->mod)) {
        const char *q = qp__sym_str(g, g->mods[e->mod].path);
        if (qp__sym_len(g, g->mods[e->mod].path) > pl && !memcmp(q, p, pl))
            x = e->mod;
    }
    for (uint32_t nx = g->mods[x].next; nx; nx = g->mods[nx].next) {
        const char *q = qp__sym_str(g, g->mods[nx].path);
        if (qp__sym_len(g, g->mods[nx].path) <= pl || memcmp(q, p, pl))
            break;
        x = nx;
    }
    e->hash = h;
    e->len = (uint32_t)pl;
    e->mod = x;
    return x;
}

qp_status
qp__pass_dup(struct qp__prep *P)
{
    qp_graph *g = P->g;
    qp_status rc = qp__mod_tree_order(g);
    if (rc)
        return rc;
    /* call sites seen so far, per target sym */
    uint32_t n = g->st.n;
    uint32_t *seen = qp__alloc(g, (size_t)n * sizeof *seen);
    if (!seen)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    memset(seen, 0, (size_t)n * sizeof *seen);
    struct run_end ends[64];
    memset(ends, 0, sizeof ends);
    for (uint32_t i = g->nodes[0].next; i && !rc; i = g->nodes[i].next) {
        struct qp__node *r = &g->nodes[i];
        if (r->op != QP_OP_CALL_MODULE)
            continue;
        uint32_t target = r->target, idx = seen[target]++;
        if (idx == 0)
            continue;
        uint32_t m = qp__mod_find(g, target);
        if (!m || (P->fix && has_params(P, m)))
            continue;
        char suffix[32];
        int sl = snprintf(suffix, sizeof suffix, "_dup%u", (unsigned)idx);
        uint32_t np = qp__sym_join(g, target, suffix, (size_t)sl);
        if (!np) {
            rc = QP_ERR_NOMEM;
            break;
        }
        /* the copy goes where setattr on the original's parent puts it: last */
        rc = qp__mod_copy_subtree(g, m, np, parent_run_end(g, m, ends, 64),
                                  &P->st->modules_added);
        if (!rc) {
            g->nodes[i].target = np;
            P->st->matched++;
            qp__logf(g, QP_LOG_DEBUG, "dup", "%%%s now calls %s", qp__sym_str(g, g->nodes[i].name),
                     qp__sym_str(g, np));
        }
    }
    qp__free(g, seen, (size_t)n * sizeof *seen);
    /* No reordering after the copies: each went in at the end of its parent's run,
     * where tree order has it, and a replaced destination left its place to it. */
    return rc ? rc : qp__mod_gc(g);
}
