/*
 * pass_fuse.c - fuse Conv/ConvTranspose/Linear with BatchNorm and ReLU, and
 * BatchNorm with ReLU, as torch 1.13's fuse_fx does with MQBench's patterns
 * (ao/quantization/fx/fuse.py, match_utils.is_match).
 *
 * Matching walks the nodes backwards and tries patterns longest first; a
 * pattern is a chain written last op first, (relu, bn, conv). The last op may
 * have any number of users, every inner op exactly one, and each op but the
 * first takes exactly one positional argument. The first op's node then
 * takes the last op's place in the order and its users, the others go, and
 * its module becomes a fused container (nni.ConvBnReLU2d ...) with the
 * matched modules as children .0 .1 .2 (a functional relu becomes a new
 * nn.ReLU). Fixed mode does not fuse a module that is called more than once.
 * A container the swap will take gets no children: fusekids.c keeps what the
 * swap reads from them instead.
 * Needs: table in tree order. Keeps: names of surviving nodes, tree order.
 */
#include "prep.h"

#include <string.h>

struct fpat {
    uint8_t n;
    uint8_t elem[3];   /* element ids, last op first */
    const char *fused; /* container type (NULL: error) */
    const char *error;
    int8_t kids; /* the swap takes its containers (fusekids.c): 1 yes, 0 no, -1 not asked */
};

struct fctx {
    struct qp__prep *P;
    struct qp__entry elems[32];
    uint32_t nelems;
    struct fpat *pats;
    uint32_t npats;
    uint8_t *sym_mod, *sym_fn; /* element id of a sym as module type / function, 0xff: unknown */
    uint32_t nsyms;
    uint32_t *users; /* distinct users per node */
    uint32_t *calls; /* call sites per module path sym */
    uint8_t *nelem;  /* element of each node, 0xff: not known yet (every pattern asks) */
};

static uint8_t
elem_id(struct fctx *F, uint8_t kind, const char *name)
{
    for (uint32_t i = 0; i < F->nelems; i++)
        if (F->elems[i].kind == kind && !strcmp(F->elems[i].name, name))
            return (uint8_t)(i + 1);
    if (F->nelems == sizeof F->elems / sizeof F->elems[0])
        return 0xfe; /* never matches: the table is full */
    F->elems[F->nelems].kind = kind;
    F->elems[F->nelems].name = name;
    return (uint8_t)++F->nelems;
}

static uint8_t
sym_elem(struct fctx *F, uint32_t sym, bool as_module)
{
    uint8_t *cache = as_module ? F->sym_mod : F->sym_fn;
    if (sym >= F->nsyms)
        return 0;
    if (cache[sym] != 0xff)
        return cache[sym];
    const qp_graph *g = F->P->g;
    const char *s = qp__sym_str(g, sym), *c = qp__canon_fn(s);
    uint8_t id = 0;
    for (uint32_t i = 0; i < F->nelems && !id; i++) {
        const struct qp__entry *e = &F->elems[i];
        if (as_module ? (e->kind == QP__E_MOD && !strcmp(e->name, s))
                      : (e->kind == QP__E_FUNC && !strcmp(e->name, c)))
            id = (uint8_t)(i + 1);
    }
    cache[sym] = id;
    return id;
}

/* The element a node is (0: none). */
static uint8_t
node_elem(struct fctx *F, uint32_t n)
{
    if (F->nelem[n] != 0xff)
        return F->nelem[n];
    const qp_graph *g = F->P->g;
    const struct qp__node *r = &g->nodes[n];
    uint8_t e = 0;
    if (r->op == QP_OP_CALL_MODULE) {
        uint32_t m = qp__mod_find(g, r->target);
        e = m ? sym_elem(F, g->mods[m].type, true) : 0;
    } else if (r->op == QP_OP_CALL_FUNCTION) {
        e = sym_elem(F, r->target, false);
    }
    F->nelem[n] = e;
    return e;
}

/* The single positional argument of n when it is a node, else 0. */
static uint32_t
only_arg(const qp_graph *g, uint32_t n)
{
    const struct qp__val *a = &g->vals[g->nodes[n].args];
    if (a->b != 1 || g->vals[a->a].kind != QP_VAL_NODE)
        return 0;
    return g->vals[a->a].a;
}

/* torch's is_match for a chain pattern; fills chain[0..n) last op first. */
static bool
match(struct fctx *F, uint32_t n, const struct fpat *p, uint32_t *chain)
{
    const qp_graph *g = F->P->g;
    uint32_t x = n;
    for (uint8_t i = 0; i < p->n; i++) {
        if (!x || node_elem(F, x) != p->elem[i])
            return false;
        if (i > 0 && F->users[x] > 1) /* inner ops: max_uses = 1 */
            return false;
        chain[i] = x;
        if (i + 1 < p->n)
            x = only_arg(g, x);
    }
    if (F->P->fix) { /* a module shared by several call sites stays unfused */
        for (uint8_t i = 0; i < p->n; i++)
            if (g->nodes[chain[i]].op == QP_OP_CALL_MODULE &&
                F->calls[g->nodes[chain[i]].target] > 1)
                return false;
    }
    return true;
}

/* The fuser's checks (training mode): BN sizes and flags. */
static qp_status
check_bn(struct qp__prep *P, uint32_t root_m, uint32_t bn_m, uint32_t node)
{
    qp_graph *g = P->g;
    const struct qp__val *oc = qp__prep_attr(P, root_m, "out_channels");
    const struct qp__val *nf = qp__prep_attr(P, bn_m, "num_features");
    if (oc && nf && oc->kind == QP_VAL_INT && nf->kind == QP_VAL_INT && oc->u.i != nf->u.i)
        return qp__errn(g, QP_ERR_INVALID_GRAPH, node,
                        "cannot fuse %s (out_channels %lld) with "
                        "%s (num_features %lld): sizes differ",
                        qp__sym_str(g, g->mods[root_m].path), (long long)oc->u.i,
                        qp__sym_str(g, g->mods[bn_m].path), (long long)nf->u.i);
    const struct qp__val *af = qp__prep_attr(P, bn_m, "affine");
    const struct qp__val *tr = qp__prep_attr(P, bn_m, "track_running_stats");
    if ((af && af->kind == QP_VAL_BOOL && !af->u.i) || (tr && tr->kind == QP_VAL_BOOL && !tr->u.i))
        return qp__errn(g, QP_ERR_INVALID_GRAPH, node,
                        "cannot fuse %s: only BatchNorm with "
                        "affine and track_running_stats True fuses",
                        qp__sym_str(g, g->mods[bn_m].path));
    return QP_OK;
}

/* Can the container skip its children (fusekids.c)? The swap will take it, and the
 * copies would be plain: every matched op a module with no submodules, the others
 * than the root called only here (gc drops them, so nothing changes their records
 * before the swap reads them). */
static bool
kids_skippable(struct fctx *F, struct fpat *p, const uint32_t *mods, uint8_t n)
{
    struct qp__prep *P = F->P;
    const qp_graph *g = P->g;
    if (p->kids < 0)
        p->kids = qp__fkids_deferrable(P, p->fused);
    if (!p->kids)
        return false;
    for (uint8_t i = 0; i < n; i++) {
        if (!mods[i] || qp__mod_subtree_end(g, mods[i]) != mods[i])
            return false;
        uint32_t path = g->mods[mods[i]].path;
        if (i > 0 && (path >= F->nsyms || F->calls[path] != 1))
            return false;
    }
    return true;
}

/* Turns the root's module into the fused container with children .0 .1 .2. */
static qp_status
fuse_modules(struct fctx *F, const uint32_t *chain, struct fpat *pat)
{
    struct qp__prep *P = F->P;
    qp_graph *g = P->g;
    uint8_t n = pat->n;
    const char *fused = pat->fused;
    uint32_t root = chain[n - 1];
    uint32_t rm = qp__mod_find(g, g->nodes[root].target);
    static const char sfx[3][3] = {".0", ".1", ".2"};
    uint32_t mods[3] = {0, 0, 0}; /* forward order */
    for (uint8_t i = 0; i < n; i++) {
        uint32_t x = chain[n - 1 - i];
        mods[i] = g->nodes[x].op == QP_OP_CALL_MODULE ? qp__mod_find(g, g->nodes[x].target) : 0;
    }
    bool skip = rm && kids_skippable(F, pat, mods, n);
    uint32_t hs[3];
    bool hk[3] = {false, false, false};
    for (uint8_t i = 0; rm && !skip && i < n; i++) /* the paths made below: overlap their misses */
        hk[i] = qp__sym_prefetch_join(g, g->mods[rm].path, sfx[i], 2, &hs[i]);
    for (uint8_t i = 1; i < n; i++)
        if (mods[i] && !strncmp(qp__sym_str(g, g->mods[mods[i]].type), "nn.BatchNorm", 12)) {
            qp_status rc = check_bn(P, rm, mods[i], chain[0]);
            if (rc)
                return rc;
        }
    /* the fused modules move under .0 .1 .2: a submodule another node calls would be
     * lost (torch fails on the rebuilt GraphModule) */
    for (uint8_t i = 0; i < n; i++) {
        if (!mods[i])
            continue;
        uint32_t last = qp__mod_subtree_end(g, mods[i]);
        for (uint32_t x = mods[i]; x != last;) {
            x = g->mods[x].next;
            uint32_t p = g->mods[x].path;
            if (p < F->nsyms && F->calls[p])
                return qp__errn(g, QP_ERR_INVALID_GRAPH, chain[0],
                                "cannot fuse %s into %s: its submodule %s is called by a node",
                                qp__sym_str(g, g->mods[mods[i]].path), fused, qp__sym_str(g, p));
        }
    }
    uint32_t ft = qp__prep_sym(P, fused);
    if (!ft)
        return QP_ERR_NOMEM;
    if (skip) {
        /* as below without the copies: the swap reads the root's attributes and the
         * BatchNorm (the first of .1 .2 that is one) from the record */
        uint32_t bn = 0;
        void *origins[3];
        for (uint8_t i = 0; i < n; i++) {
            origins[i] = qp__mod_user(g, mods[i]);
            if (i && !bn && !strncmp(qp__sym_str(g, g->mods[mods[i]].type), "nn.BatchNorm", 12))
                bn = mods[i];
        }
        qp_status rc = qp__fkids_add(P, rm, g->mods[rm].attrs, bn, n);
        if (rc)
            return rc;
        P->st->modules_added += n; /* the report counts them as if made */
        g->mods[rm].type = ft;
        g->mods[rm].attrs = qp__val_empty(g, QP_VAL_DICT);
        qp__mod_set_origins(g, rm, 0, 0);
        return qp__mod_add_origins(g, rm, origins, n);
    }
    /* the root's subtree moves under .0; the others' under .1 and .2 */
    uint32_t path = g->mods[rm].path;
    uint32_t after = qp__mod_subtree_end(g, rm);
    void *origins[3];
    uint32_t norigins = 0, c0 = 0;
    for (uint8_t i = 0; i < n; i++) {
        uint32_t cp = qp__sym_join_h(g, path, sfx[i], 2, hk[i] ? &hs[i] : NULL); /* n <= 3 */
        if (!cp)
            return QP_ERR_NOMEM;
        if (i == 0)
            c0 = cp;
        uint32_t id;
        qp_status rc;
        if (mods[i]) {
            origins[norigins++] = qp__mod_user(g, mods[i]);
            rc = qp__mod_copy_subtree(g, mods[i], cp, after, &P->st->modules_added);
            if (rc)
                return rc;
            after = qp__mod_subtree_end(g, qp__mod_find(g, cp));
        } else {
            /* a functional relu: torch makes a fresh nn.ReLU */
            uint32_t t = qp__prep_sym(P, "nn.ReLU"), k = qp__prep_sym(P, "inplace");
            uint32_t f = qp__val_bool(g, false);
            uint32_t d = t && k && f ? qp__val_agg(g, QP_VAL_DICT, 0, 1, &f, &k) : 0;
            if (!d)
                return QP_ERR_NOMEM;
            origins[norigins++] = NULL;
            if ((rc = qp__mod_add(g, cp, t, d, after, &id)))
                return rc;
            after = id;
            P->st->modules_added++;
        }
    }
    /* the originals: the root's children go (they live on under .0), the root
     * entry becomes the container; the other matched modules are left for gc */
    uint32_t x = g->mods[rm].next, m0 = qp__mod_find(g, c0); /* removing others keeps it */
    while (x && x != m0) {
        uint32_t nx = g->mods[x].next;
        qp__mod_remove(g, x);
        x = nx;
    }
    g->mods[rm].type = ft;
    g->mods[rm].attrs = qp__val_empty(g, QP_VAL_DICT);
    qp__mod_set_origins(g, rm, 0, 0); /* none: cannot fail */
    return qp__mod_add_origins(g, rm, origins, norigins);
}

static qp_status
setup(struct fctx *F)
{
    struct qp__prep *P = F->P;
    qp_graph *g = P->g;
    const qp_config *c = P->cfg;
    uint32_t nbuiltin = 0;
    while (qp__fusion_patterns[nbuiltin].n)
        nbuiltin++;
    F->npats = 0;
    F->pats = qp__alloc(g, (size_t)(nbuiltin + c->nfusions) * sizeof *F->pats);
    F->nsyms = g->st.n;
    F->sym_mod = qp__alloc(g, (size_t)F->nsyms * 2);
    F->users = qp__alloc(g, (size_t)g->nnodes * sizeof *F->users);
    F->calls = qp__alloc(g, (size_t)F->nsyms * sizeof *F->calls);
    F->nelem = qp__alloc(g, g->nnodes);
    if (!F->pats || !F->sym_mod || !F->users || !F->calls || !F->nelem)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    memset(F->nelem, 0xff, g->nnodes);
    F->sym_fn = F->sym_mod + F->nsyms;
    memset(F->sym_mod, 0xff, (size_t)F->nsyms * 2);
    memset(F->calls, 0, (size_t)F->nsyms * sizeof *F->calls);
    /* the configuration's patterns first (they win over built-in ones of their length),
     * then the built-in ones; both sorted longest first, stable */
    for (uint8_t len = 3; len >= 2; len--) {
        for (uint32_t i = 0; i < c->nfusions; i++) {
            const struct qp__fusion_rule *r = &c->fusions[i];
            if (r->n != len)
                continue;
            struct fpat *p = &F->pats[F->npats++];
            p->n = len;
            for (uint8_t k = 0; k < len; k++) /* forward order -> last op first */
                p->elem[k] = elem_id(F, QP__E_MOD, qp__sym_str(c->store, r->types[len - 1 - k]));
            p->fused = qp__sym_str(c->store, r->fused);
            p->error = NULL;
            p->kids = -1;
        }
        for (uint32_t i = 0; i < nbuiltin; i++) {
            const struct qp__pattern *q = &qp__fusion_patterns[i];
            if (q->n != len)
                continue;
            struct fpat *p = &F->pats[F->npats++];
            p->n = q->n;
            for (uint8_t k = 0; k < q->n; k++)
                p->elem[k] = elem_id(F, q->e[k].kind, q->e[k].name);
            p->fused = q->fused;
            p->error = q->error;
            p->kids = -1;
        }
    }
    for (uint32_t i = g->nodes[0].next; i; i = g->nodes[i].next) {
        F->users[i] = qp__node_num_users(g, i);
        if (g->nodes[i].op == QP_OP_CALL_MODULE)
            F->calls[g->nodes[i].target]++;
    }
    return QP_OK;
}

static void
teardown(struct fctx *F)
{
    qp_graph *g = F->P->g;
    uint32_t nbuiltin = 0;
    while (qp__fusion_patterns[nbuiltin].n)
        nbuiltin++;
    qp__free(g, F->pats, (size_t)(nbuiltin + F->P->cfg->nfusions) * sizeof *F->pats);
    qp__free(g, F->sym_mod, (size_t)F->nsyms * 2);
    qp__free(g, F->users, (size_t)g->nnodes * sizeof *F->users);
    qp__free(g, F->calls, (size_t)F->nsyms * sizeof *F->calls);
    qp__free(g, F->nelem, g->nnodes);
}

/* A match: its last node (the key), pattern, and chain. */
struct fmatch {
    uint32_t last, chain[3];
    uint16_t pat;
};

qp_status
qp__pass_fuse(struct qp__prep *P)
{
    if (!P->fuse)
        return QP_OK;
    qp_graph *g = P->g;
    struct fctx F;
    memset(&F, 0, sizeof F);
    F.P = P;
    qp_status rc = setup(&F);
    /* owner[n]: index + 1 of the match that took node n */
    uint32_t *owner = NULL;
    struct fmatch *ms = NULL;
    uint32_t nms = 0, capms = 0;
    if (!rc && !(owner = qp__alloc(g, (size_t)g->nnodes * sizeof *owner)))
        rc = qp__err(g, QP_ERR_NOMEM, "out of memory");
    if (!rc)
        memset(owner, 0, (size_t)g->nnodes * sizeof *owner);
    for (uint32_t n = g->nodes[0].prev; n && !rc; n = g->nodes[n].prev) {
        if (owner[n])
            continue;
        for (uint32_t p = 0; p < F.npats; p++) {
            uint32_t chain[3];
            if (!match(&F, n, &F.pats[p], chain))
                continue;
            if ((rc = QP__GROW(g, ms, nms, capms, 1)))
                break;
            struct fmatch *m = &ms[nms++];
            m->last = n;
            m->pat = (uint16_t)p;
            memcpy(m->chain, chain, sizeof chain);
            for (uint8_t i = 0; i < F.pats[p].n; i++)
                if (!owner[chain[i]])
                    owner[chain[i]] = nms;
            break;
        }
    }
    /* rebuild in execution order: at each match's last node the first op's node
     * takes its place; the other nodes of the match go */
    for (uint32_t n = g->nodes[0].next; n && !rc;) {
        uint32_t next = g->nodes[n].next;
        uint32_t k = owner[n];
        if (!k || ms[k - 1].last != n) {
            n = next;
            continue;
        }
        const struct fmatch *m = &ms[k - 1];
        const struct fpat *p = &F.pats[m->pat];
        if (p->error) {
            rc = qp__errn(g, QP_ERR_INVALID_GRAPH, n, "cannot fuse %%%s: %s",
                          qp__sym_str(g, g->nodes[n].name), p->error);
            break;
        }
        if ((rc = fuse_modules(&F, m->chain, &F.pats[m->pat])))
            break;
        uint32_t root = m->chain[p->n - 1];
        /* move the root right before the last node, then let it stand in for it */
        struct qp__node *r = &g->nodes[root];
        g->nodes[r->prev].next = r->next;
        g->nodes[r->next].prev = r->prev;
        r->prev = g->nodes[n].prev;
        r->next = n;
        g->nodes[r->prev].next = root;
        g->nodes[n].prev = root;
        P->st->uses_rewired += qp__node_replace_uses(g, n, root, 0);
        for (uint8_t i = 0; i + 1 < p->n; i++) { /* last first: each frees its input */
            qp__node_erase(g, m->chain[i]);
            P->st->nodes_erased++;
        }
        P->st->matched++;
        qp__logf(g, QP_LOG_DEBUG, "fuse", "%%%s: %s", qp__sym_str(g, g->nodes[root].name),
                 p->fused);
        n = next;
    }
    qp__free(g, owner, owner ? (size_t)g->nnodes * sizeof *owner : 0);
    qp__free(g, ms, (size_t)capms * sizeof *ms);
    teardown(&F);
    if (rc || (rc = qp__fkids_seal(P)))
        return rc;
    /* The table is still in tree order (dup left it so): every module made here has
     * the root's path as a prefix and went into the root's subtree run, right after
     * it, and what was removed leaves the order as it was. So no reordering here
     * (qp__mod_tree_order would find nothing to move, at the cost of a walk). */
    return qp__mod_gc(g);
}
