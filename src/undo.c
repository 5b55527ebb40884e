/*
 * undo.c - an undo log for work done on a graph in place: prepare runs its
 * passes on the caller's graph instead of a whole copy, and takes them back
 * with this when one fails (the caller's graph is unchanged on failure).
 *
 * Appended records (nodes, values, modules, syms, params, comments, origins,
 * string bytes) are undone by truncating to the counts saved at the start.
 * Records that existed are saved where they can change: nodes and modules whole
 * (prepare relinks nearly every one: use lists, the module table's order), a
 * sym's bindings (node, module; its bytes never change) and the side table of
 * name counters and params,
 * and of the value records only the NODE ones' use-list fields, since values
 * are otherwise append-only (graph.c's use lists are the one place that writes
 * an existing value record). The small side arrays are copied whole.
 */
#include "internal.h"

#include <string.h>

struct qp__undo_sym {
    uint32_t node, module;
};

struct qp__undo_use {
    uint32_t id, a, b, prev, next;
};

/* A copy of n elements of src (NULL when n is 0). False on NOMEM. */
static bool
save(qp_graph *g, void **dst, const void *src, size_t n, size_t esz)
{
    *dst = NULL;
    if (!n)
        return true;
    if (!(*dst = qp__alloc(g, n * esz)))
        return false;
    memcpy(*dst, src, n * esz);
    return true;
}

static void
free_log(qp_graph *g, struct qp__undo *u)
{
    const qp_graph *h = &u->hdr;
    qp__free(g, u->nodes, (size_t)h->nnodes * sizeof *u->nodes);
    qp__free(g, u->mods, (size_t)h->nmods * sizeof *u->mods);
    qp__free(g, u->params, (size_t)h->nparams * sizeof *u->params);
    qp__free(g, u->comments, (size_t)h->ncomments * sizeof *u->comments);
    qp__free(g, u->ptrs, (size_t)h->nptrs * sizeof *u->ptrs);
    qp__free(g, u->node_user, (size_t)h->nnode_user * sizeof *u->node_user);
    qp__free(g, u->mod_user, (size_t)h->nmod_user * sizeof *u->mod_user);
    qp__free(g, u->orig, (size_t)h->caporig * sizeof *u->orig);
    qp__free(g, u->symx, (size_t)h->st.capx * sizeof *u->symx);
    qp__free(g, u->syms, (size_t)h->st.n * sizeof *u->syms);
    qp__free(g, u->uses, (size_t)u->nuses * sizeof *u->uses);
    memset(u, 0, sizeof *u);
}

qp_status
qp__undo_begin(qp_graph *g, struct qp__undo *u)
{
    memset(u, 0, sizeof *u);
    u->hdr = *g;
    u->used = g->st.chunks[g->st.cur].used;
    u->lused = g->st.lcur ? g->st.chunks[g->st.lcur - 1].used : 0;
    uint32_t nuses = 0;
    for (uint32_t v = 0; v < g->nvals; v++)
        nuses += g->vals[v].kind == QP_VAL_NODE;
    bool ok = save(g, (void **)&u->nodes, g->nodes, g->nnodes, sizeof *g->nodes) &&
              save(g, (void **)&u->mods, g->mods, g->nmods, sizeof *g->mods) &&
              save(g, (void **)&u->params, g->params, g->nparams, sizeof *g->params) &&
              save(g, (void **)&u->comments, g->comments, g->ncomments, sizeof *g->comments) &&
              save(g, (void **)&u->ptrs, g->ptrs, g->nptrs, sizeof *g->ptrs) &&
              save(g, (void **)&u->node_user, g->node_user, g->nnode_user, sizeof *g->node_user) &&
              save(g, (void **)&u->mod_user, g->mod_user, g->nmod_user, sizeof *g->mod_user) &&
              save(g, (void **)&u->orig, g->orig, g->caporig, sizeof *g->orig) &&
              save(g, (void **)&u->symx, g->st.x, g->st.capx, sizeof *g->st.x) &&
              (u->syms = qp__alloc(g, (size_t)g->st.n * sizeof *u->syms)) != NULL &&
              (!nuses || (u->uses = qp__alloc(g, (size_t)nuses * sizeof *u->uses)) != NULL);
    if (!ok) {
        /* free_log sizes the uses block by nuses: set only once it exists */
        free_log(g, u);
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    }
    u->nuses = nuses;
    for (uint32_t i = 0; i < g->st.n; i++) {
        const struct qp__sym *y = &g->st.syms[i];
        u->syms[i] = (struct qp__undo_sym){y->node, y->module};
    }
    for (uint32_t v = 0, k = 0; v < g->nvals; v++) {
        const struct qp__val *r = &g->vals[v];
        if (r->kind == QP_VAL_NODE)
            u->uses[k++] = (struct qp__undo_use){v, r->a, r->b, r->u.use.prev, r->u.use.next};
    }
    return QP_OK;
}

void
qp__undo_end(qp_graph *g, struct qp__undo *u)
{
    free_log(g, u);
}

/* Puts the saved copy of a side array back in place of the current one, which
 * may have been reallocated (and is freed); the log no longer owns the copy. */
#define SIDE_BACK(f, n)                                                                            \
    do {                                                                                           \
        qp__free(g, g->f, (size_t)g->n * sizeof *g->f);                                            \
        g->f = u->f;                                                                               \
        g->n = h->n;                                                                               \
        u->f = NULL;                                                                               \
    } while (0)

void
qp__undo_rollback(qp_graph *g, struct qp__undo *u)
{
    const qp_graph *h = &u->hdr;
    /* the failure's message stays, whatever a failed shrink below says */
    uint32_t errnode = g->errnode;
    char errmsg[sizeof g->errmsg];
    memcpy(errmsg, g->errmsg, sizeof errmsg);
    /* existing records back, appended ones dropped (arrays only grow, so the
     * current ones hold at least the saved counts) */
    if (h->nnodes)
        memcpy(g->nodes, u->nodes, (size_t)h->nnodes * sizeof *g->nodes);
    if (h->nmods)
        memcpy(g->mods, u->mods, (size_t)h->nmods * sizeof *g->mods);
    if (h->nparams)
        memcpy(g->params, u->params, (size_t)h->nparams * sizeof *g->params);
    if (h->ncomments)
        memcpy(g->comments, u->comments, (size_t)h->ncomments * sizeof *g->comments);
    if (h->nptrs)
        memcpy(g->ptrs, u->ptrs, (size_t)h->nptrs * sizeof *g->ptrs);
    for (uint32_t k = 0; k < u->nuses; k++) {
        const struct qp__undo_use *s = &u->uses[k];
        struct qp__val *r = &g->vals[s->id];
        r->a = s->a;
        r->b = s->b;
        r->u.use.prev = s->prev;
        r->u.use.next = s->next;
    }
    for (uint32_t i = 0; i < h->st.n; i++) {
        struct qp__sym *y = &g->st.syms[i];
        const struct qp__undo_sym *s = &u->syms[i];
        y->node = s->node;
        y->module = s->module;
    }
    qp__sym_truncate(g, &h->st, u->used, u->lused);
    SIDE_BACK(node_user, nnode_user);
    SIDE_BACK(mod_user, nmod_user);
    SIDE_BACK(orig, caporig);
    qp__free(g, g->st.x, (size_t)g->st.capx * sizeof *g->st.x);
    g->st.x = u->symx;
    g->st.capx = h->st.capx;
    g->st.nx = h->st.nx;
    u->symx = NULL;
    g->norig = h->norig;
    g->nnodes = h->nnodes;
    g->nlive = h->nlive;
    g->nvals = h->nvals;
    g->nmods = h->nmods;
    g->nlivemods = h->nlivemods;
    g->nparams = h->nparams;
    g->ncomments = h->ncomments;
    g->nptrs = h->nptrs;
    g->gattrs = h->gattrs;
    g->report = h->report;
    g->explain = h->explain;
    g->explain_free = h->explain_free;
#define SHRINK(arr, cap) qp__shrink(g, (void **)&g->arr, &g->cap, h->cap, sizeof *g->arr)
    SHRINK(nodes, capnodes);
    SHRINK(vals, capvals);
    SHRINK(mods, capmods);
    SHRINK(params, capparams);
    SHRINK(comments, capcomments);
    SHRINK(ptrs, capptrs);
    SHRINK(st.syms, st.capsyms);
    SHRINK(st.chunks, st.capchunks);
    SHRINK(st.win, st.capwin);
#undef SHRINK
    free_log(g, u);
    g->errnode = errnode;
    memcpy(g->errmsg, errmsg, sizeof errmsg);
}
