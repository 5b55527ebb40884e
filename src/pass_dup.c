/*
 * pass_dup.c - duplicate reused modules (MQBench's duplicate_reused_nodes).
 *
 * A module called from k > 1 call sites gets a deep copy per extra site:
 * call site i (1-based after the first) calls `<target>_dup<i>`, a copy of
 * the module and its submodules. Node names do not change. Then the table
 * keeps only what some node calls, as rebuilding the GraphModule does.
 * Fixed mode keeps one module (one tied weight, one weight fake-quantizer)
 * for modules with parameters and duplicates only parameter-free ones.
 * Needs: table in tree order. Keeps: execution order, names.
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
        /* a copy goes next to the original, as setattr on the same parent would put it */
        rc = qp__mod_copy_subtree(g, m, np, qp__mod_subtree_end(g, m), &P->st->modules_added);
        if (!rc) {
            g->nodes[i].target = np;
            P->st->matched++;
            qp__logf(g, QP_LOG_DEBUG, "dup", "%%%s now calls %s", qp__sym_str(g, g->nodes[i].name),
                     qp__sym_str(g, np));
        }
    }
    qp__free(g, seen, (size_t)n * sizeof *seen);
    if (!rc)
        rc = qp__mod_tree_order(g);
    return rc ? rc : qp__mod_gc(g);
}
