/*
 * graph.c - the node arena: lifecycle, clone and clearing, the execution-order
 * list and use lists (names.c makes node names, node.c is the public node API).
 *
 * Nodes live in g->nodes[1..nnodes); slot 0 is the sentinel of the circular
 * order list. A node's args tree is owned by that node alone, and each NODE
 * record in it is linked into its producer's use list, so replacing the uses
 * of a node costs O(its uses) and touches nothing else (torch.fx semantics:
 * users in insertion order, erased nodes are tombstones whose names stay taken).
 */
#include "internal.h"

#include <string.h>

/* ==== lifecycle ==== */

static void
free_all(qp_graph *g)
{
    qp__sym_free(g);
    qp__free(g, g->nodes, (size_t)g->capnodes * sizeof *g->nodes);
    qp__free(g, g->vals, (size_t)g->capvals * sizeof *g->vals);
    qp__free(g, g->mods, (size_t)g->capmods * sizeof *g->mods);
    qp__free(g, g->params, (size_t)g->capparams * sizeof *g->params);
    qp__free(g, g->comments, (size_t)g->capcomments * sizeof *g->comments);
    qp__free(g, g->ptrs, (size_t)g->capptrs * sizeof *g->ptrs);
    qp__free(g, g->node_user, (size_t)g->nnode_user * sizeof *g->node_user);
    qp__free(g, g->mod_user, (size_t)g->nmod_user * sizeof *g->mod_user);
    qp__free(g, g->orig, (size_t)g->caporig * sizeof *g->orig);
    g->node_user = NULL;
    g->mod_user = NULL;
    g->orig = NULL;
    g->nodes = NULL;
    g->vals = NULL;
    g->mods = NULL;
    g->params = NULL;
    g->comments = NULL;
    g->ptrs = NULL;
}

static qp_status
init(qp_graph *g)
{
    qp_status rc = qp__sym_init(g);
    if (!rc)
        rc = QP__GROW(g, g->nodes, 0, g->capnodes, 64);
    if (!rc)
        rc = QP__GROW(g, g->vals, 0, g->capvals, 256);
    if (!rc)
        rc = QP__GROW(g, g->mods, 0, g->capmods, 16);
    if (rc)
        return rc;
    memset(&g->nodes[0], 0, sizeof g->nodes[0]);
    g->nnodes = 1;
    /* value 0 is null; 1 and 2 are the shared empty tuple and dict */
    memset(g->vals, 0, 3 * sizeof *g->vals);
    g->vals[QP__VAL_EMPTY_TUPLE].kind = QP_VAL_TUPLE;
    g->vals[QP__VAL_EMPTY_TUPLE].depth = 1;
    g->vals[QP__VAL_EMPTY_DICT].kind = QP_VAL_DICT;
    g->vals[QP__VAL_EMPTY_DICT].depth = 1;
    g->nvals = 3;
    memset(&g->mods[0], 0, sizeof g->mods[0]);
    g->nmods = 1;
    return QP_OK;
}

qp_status
qp_graph_create(const qp_allocator *alloc, qp_graph **out)
{
    if (!out)
        return QP_ERR_NULL_ARG;
    *out = NULL;
    qp_graph *g = qp__raw_alloc(alloc, NULL, 0, sizeof *g);
    if (!g)
        return QP_ERR_NOMEM;
    memset(g, 0, sizeof *g);
    if (alloc)
        g->alloc = *alloc;
    qp_status rc = init(g);
    if (rc) {
        free_all(g);
        qp__raw_alloc(alloc, g, sizeof *g, 0);
        return rc;
    }
    *out = g;
    return QP_OK;
}

qp_status
qp__graph_spare(const qp_graph *g, qp_graph *spare)
{
    memset(spare, 0, sizeof *spare);
    spare->alloc = g->alloc;
    qp_status rc = init(spare);
    if (rc)
        free_all(spare);
    return rc;
}

void
qp__graph_spare_free(qp_graph *spare)
{
    free_all(spare);
}

void
qp__graph_clear(qp_graph *g, qp_graph *spare)
{
    uint32_t line = g->errnode && g->errnode < g->nnodes ? g->nodes[g->errnode].line : 0;
    if (g->explain_free)
        g->explain_free(g);
    free_all(g);
    qp_graph keep = *g;
    *g = *spare;
    g->log = keep.log;
    g->log_ud = keep.log_ud;
    g->mem += keep.mem;
    g->mem_peak = keep.mem_peak > g->mem ? keep.mem_peak : g->mem;
    memcpy(g->errmsg, keep.errmsg, sizeof g->errmsg);
    g->errnode = 0;
    g->errline = line;
    memset(spare, 0, sizeof *spare);
}

void
qp_graph_destroy(qp_graph *g)
{
    if (!g)
        return;
    if (g->explain_free)
        g->explain_free(g);
    free_all(g);
    qp_allocator a = g->alloc;
    qp__raw_alloc(&a, g, sizeof *g, 0);
}

qp_status
qp_graph_clone(const qp_graph *g, qp_graph **out)
{
    if (!out)
        return QP_ERR_NULL_ARG;
    *out = NULL;
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_graph *h = qp__raw_alloc(&g->alloc, NULL, 0, sizeof *h);
    if (!h)
        return QP_ERR_NOMEM;
    memset(h, 0, sizeof *h);
    h->alloc = g->alloc;
    h->log = g->log;
    h->log_ud = g->log_ud;
    h->report = g->report;
    h->gattrs = g->gattrs;
    qp_status rc = qp__sym_copy(h, &g->st);
#define DUP(f, n, cap)                                                                             \
    if (!rc && (rc = qp__dup(h, (void **)&h->f, g->f, g->n, g->n, sizeof *g->f)) == QP_OK) {       \
        h->n = g->n;                                                                               \
        h->cap = g->n;                                                                             \
    }
    DUP(nodes, nnodes, capnodes)
    DUP(vals, nvals, capvals)
    DUP(mods, nmods, capmods)
    DUP(params, nparams, capparams)
    DUP(comments, ncomments, capcomments)
    DUP(ptrs, nptrs, capptrs)
#undef DUP
    /* the side tables as they are (open addressing: slot positions matter) */
#define DUPSIDE(f, n)                                                                              \
    if (!rc && (rc = qp__dup(h, (void **)&h->f, g->f, g->n, g->n, sizeof *g->f)) == QP_OK)         \
        h->n = g->n;
    DUPSIDE(node_user, nnode_user)
    DUPSIDE(mod_user, nmod_user)
    DUPSIDE(orig, caporig)
#undef DUPSIDE
    h->norig = g->norig;
    if (rc) {
        free_all(h);
        qp_allocator a = h->alloc;
        qp__raw_alloc(&a, h, sizeof *h, 0);
        return QP_ERR_NOMEM;
    }
    h->nlive = g->nlive;
    h->nlivemods = g->nlivemods;
    h->obs_sfx_paths = g->obs_sfx_paths;
    *out = h;
    return QP_OK;
}

/* Shrinks one array to its count (an empty one keeps its block). */
static void
trim(qp_graph *g, void **arr, uint32_t n, uint32_t *cap, size_t esz)
{
    if (n)
        qp__shrink(g, arr, cap, n, esz);
}

void
qp__graph_trim(qp_graph *g)
{
    trim(g, (void **)&g->nodes, g->nnodes, &g->capnodes, sizeof *g->nodes);
    trim(g, (void **)&g->vals, g->nvals, &g->capvals, sizeof *g->vals);
    trim(g, (void **)&g->mods, g->nmods, &g->capmods, sizeof *g->mods);
    trim(g, (void **)&g->st.syms, g->st.n, &g->st.capsyms, sizeof *g->st.syms);
    trim(g, (void **)&g->params, g->nparams, &g->capparams, sizeof *g->params);
    trim(g, (void **)&g->comments, g->ncomments, &g->capcomments, sizeof *g->comments);
    qp__clear_err(g); /* a failed shrink is no error */
}

void
qp_graph_set_log(qp_graph *g, qp_log_fn fn, void *ud)
{
    if (!g)
        return;
    g->log = fn;
    g->log_ud = ud;
}

size_t
qp_graph_mem_used(const qp_graph *g)
{
    return g ? g->mem : 0;
}

size_t
qp_graph_mem_peak(const qp_graph *g)
{
    return g ? g->mem_peak : 0;
}

/* ==== order list and records ==== */

bool
qp__node_live(const qp_graph *g, uint32_t id)
{
    return g && id > 0 && id < g->nnodes && !(g->nodes[id].flags & QP__NODE_ERASED);
}

static void
link_use(qp_graph *g, uint32_t producer, uint32_t r, uint32_t after)
{
    struct qp__node *p = &g->nodes[producer];
    struct qp__val *v = &g->vals[r];
    uint32_t next = after ? g->vals[after].u.use.next : p->use_head;
    v->u.use.prev = after;
    v->u.use.next = next;
    if (after)
        g->vals[after].u.use.next = r;
    else
        p->use_head = r;
    if (next)
        g->vals[next].u.use.prev = r;
    else
        p->use_tail = r;
}

static void
unlink_use(qp_graph *g, uint32_t r)
{
    struct qp__val *v = &g->vals[r];
    struct qp__node *p = &g->nodes[v->a];
    if (v->u.use.prev)
        g->vals[v->u.use.prev].u.use.next = v->u.use.next;
    else
        p->use_head = v->u.use.next;
    if (v->u.use.next)
        g->vals[v->u.use.next].u.use.prev = v->u.use.prev;
    else
        p->use_tail = v->u.use.prev;
    v->u.use.prev = v->u.use.next = 0;
}

static void
attach_one(qp_graph *g, uint32_t r, void *ud)
{
    uint32_t user = *(uint32_t *)ud;
    g->vals[r].b = user;
    link_use(g, g->vals[r].a, r, g->nodes[g->vals[r].a].use_tail);
}

static void
detach_one(qp_graph *g, uint32_t r, void *ud)
{
    (void)ud;
    if (g->vals[r].b) {
        unlink_use(g, r);
        g->vals[r].b = 0;
    }
}

void
qp__uses_attach(qp_graph *g, uint32_t user, uint32_t tree)
{
    qp__val_each_node(g, tree, attach_one, &user);
}

void
qp__uses_detach(qp_graph *g, uint32_t tree)
{
    qp__val_each_node(g, tree, detach_one, NULL);
}

qp_status
qp__node_new(qp_graph *g, uint32_t after, uint8_t op, uint32_t name, uint32_t target, uint32_t args,
             uint32_t kwargs, uint32_t *out)
{
    qp_status rc = QP__GROW(g, g->nodes, g->nnodes, g->capnodes, 1);
    if (rc)
        return rc;
    uint32_t id = g->nnodes++;
    struct qp__node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = name;
    n->target = target;
    n->args = args ? args : QP__VAL_EMPTY_TUPLE;
    n->kwargs = kwargs ? kwargs : QP__VAL_EMPTY_DICT;
    n->prev = after;
    n->next = g->nodes[after].next;
    g->nodes[n->next].prev = id;
    g->nodes[after].next = id;
    if (name && !g->st.syms[name].node)
        g->st.syms[name].node = id;
    g->nlive++;
    qp__uses_attach(g, id, n->args);
    qp__uses_attach(g, id, n->kwargs);
    *out = id;
    return QP_OK;
}

void
qp__node_set_args(qp_graph *g, uint32_t n, uint32_t args)
{
    qp__uses_detach(g, g->nodes[n].args);
    g->nodes[n].args = args;
    qp__uses_attach(g, n, args);
}

void
qp__node_set_kwargs(qp_graph *g, uint32_t n, uint32_t kwargs)
{
    qp__uses_detach(g, g->nodes[n].kwargs);
    g->nodes[n].kwargs = kwargs;
    qp__uses_attach(g, n, kwargs);
}

void
qp__node_erase(qp_graph *g, uint32_t id)
{
    struct qp__node *n = &g->nodes[id];
    qp__uses_detach(g, n->args);
    qp__uses_detach(g, n->kwargs);
    g->nodes[n->prev].next = n->next;
    g->nodes[n->next].prev = n->prev;
    n->flags |= QP__NODE_ERASED;
    g->nlive--;
}

/* The last use record of `user` in `to`'s list, found through user's own trees
 * (records of one user stay adjacent in a list), or 0. */
struct find_ud {
    uint32_t to, found;
};

static void
find_one(qp_graph *g, uint32_t r, void *ud)
{
    struct find_ud *f = ud;
    if (g->vals[r].a == f->to && g->vals[r].b)
        f->found = r;
}

static uint32_t
last_use_by(qp_graph *g, uint32_t to, uint32_t user)
{
    struct find_ud f = {to, 0};
    qp__val_each_node(g, g->nodes[user].args, find_one, &f);
    qp__val_each_node(g, g->nodes[user].kwargs, find_one, &f);
    if (!f.found)
        return 0;
    uint32_t r = f.found;
    while (g->vals[r].u.use.next && g->vals[g->vals[r].u.use.next].b == user)
        r = g->vals[r].u.use.next;
    return r;
}

uint32_t
qp__node_replace_uses(qp_graph *g, uint32_t from, uint32_t to, uint32_t skip)
{
    uint32_t count = 0, r = g->nodes[from].use_head, user = 0, after = 0;
    while (r) {
        uint32_t next = g->vals[r].u.use.next;
        if (g->vals[r].b == skip) {
            r = next;
            continue;
        }
        unlink_use(g, r);
        if (g->vals[r].b != user) {
            /* A user's records are one run in each list, so where its run goes in
             * `to`'s list is found once per user, not once per record: a user
             * holding k references costs O(k + its args), not O(k * its args). */
            user = g->vals[r].b;
            after = g->nodes[to].use_head ? last_use_by(g, to, user) : 0;
            if (!after)
                after = g->nodes[to].use_tail;
        }
        g->vals[r].a = to;
        link_use(g, to, r, after);
        after = r;
        count++;
        r = next;
    }
    return count;
}

uint32_t
qp__node_next_user(const qp_graph *g, uint32_t n, uint32_t *it)
{
    uint32_t r = *it ? g->vals[*it].u.use.next : g->nodes[n].use_head;
    uint32_t prev_user = *it ? g->vals[*it].b : 0;
    while (r && g->vals[r].b == prev_user)
        r = g->vals[r].u.use.next;
    *it = r;
    return r ? g->vals[r].b : 0;
}

uint32_t
qp__node_num_users(const qp_graph *g, uint32_t n)
{
    uint32_t it = 0, count = 0;
    while (qp__node_next_user(g, n, &it))
        count++;
    return count;
}

void
qp__use_move(qp_graph *g, uint32_t r, uint32_t to)
{
    uint32_t user = g->vals[r].b;
    unlink_use(g, r);
    uint32_t after = g->nodes[to].use_head ? last_use_by(g, to, user) : 0;
    if (!after)
        after = g->nodes[to].use_tail;
    g->vals[r].a = to;
    link_use(g, to, r, after);
}
