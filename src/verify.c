/*
 * verify.c - qp_graph_verify: torch.fx Graph.lint() and more (QBE's ssacheck,
 * LLVM's verifier: collect every problem, not just the first).
 *
 * Checks names (valid, unique), ops, args/kwargs shapes, that every reference
 * is to a live node defined earlier, the single output node placed last,
 * call_module and get_attr targets, and that use lists agree with the args
 * trees. When references go forward it finds out whether there are real
 * cycles (Kahn's, then Tarjan's algorithm) and names one through each group of
 * nodes that reach one another. O(nodes + edges), no recursion per node.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

struct vctx {
    qp_graph *g;
    qp_diag_fn fn;
    void *ud;
    qp_status first;
    uint32_t count;
    uint32_t *pos;  /* order index + 1 of each live node, 0 if not reachable in order */
    uint32_t self;  /* node whose trees are being walked */
    uint32_t edges; /* NODE records seen in live trees */
    bool forward;   /* some reference goes forward */
};

static void
report(struct vctx *v, qp_status st, uint32_t node, const char *fmt, ...) QP__PRINTF(4, 5);

static void
report(struct vctx *v, qp_status st, uint32_t node, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (v->count++ == 0) {
        v->first = st;
        qp__errn(v->g, st, node, "%s", msg);
    }
    if (v->fn) {
        qp_diag d = {st, node ? v->g->nodes[node].line : 0, 0, {node}, msg};
        v->fn(v->ud, &d);
    }
}

static const char *
name(const qp_graph *g, uint32_t n)
{
    return qp__sym_str(g, g->nodes[n].name);
}

static void
check_ref(qp_graph *g, uint32_t r, void *ud)
{
    struct vctx *v = ud;
    const struct qp__val *x = &g->vals[r];
    v->edges++;
    uint32_t p = x->a;
    if (p == 0 || p >= g->nnodes) {
        report(v, QP_ERR_DANGLING_EDGE, v->self, "%%%s refers to missing node #%u",
               name(g, v->self), (unsigned)p);
        return;
    }
    if (g->nodes[p].flags & QP__NODE_ERASED) {
        report(v, QP_ERR_DANGLING_EDGE, v->self, "%%%s uses erased node %%%s", name(g, v->self),
               name(g, p));
        return;
    }
    if (x->b != v->self)
        report(v, QP_ERR_INTERNAL, v->self, "use list of %%%s disagrees with the args of %%%s",
               name(g, p), name(g, v->self));
    if (p == v->self) {
        report(v, QP_ERR_CYCLE, v->self, "%%%s uses itself", name(g, p));
        return;
    }
    if (v->pos[p] >= v->pos[v->self]) {
        v->forward = true;
        report(v, QP_ERR_NOT_TOPO_SORTED, v->self, "%%%s uses %%%s before it is defined",
               name(g, v->self), name(g, p));
    }
}

static bool
is_node_name(const char *s, size_t len)
{
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!qp__is_word(s[i]))
            return false;
    return true;
}

/* One probe through the sym's index (a scan per get_attr node would be quadratic);
 * the index must agree with the table. */
static bool
param_exists(const qp_graph *g, uint32_t target)
{
    uint32_t p = qp__sym_param(g, target);
    return p && p <= g->nparams && g->params[p - 1].name == target;
}

/* A producer of x in strongly connected component `comp` other than x itself (0 if none). */
struct pick {
    const uint32_t *comp;
    uint32_t self, want, found;
};

static void
pick_one(qp_graph *g, uint32_t r, void *ud)
{
    struct pick *p = ud;
    uint32_t a = g->vals[r].a;
    if (!p->found && a != p->self && qp__node_live(g, a) && p->comp[a] == p->want)
        p->found = a;
}

static uint32_t
producer_in(qp_graph *g, uint32_t x, const uint32_t *comp, uint32_t want)
{
    struct pick p = {comp, x, want, 0};
    qp__val_each_node(g, g->nodes[x].args, pick_one, &p);
    qp__val_each_node(g, g->nodes[x].kwargs, pick_one, &p);
    return p.found;
}

/* Names one cycle through the component `cid` whose members are marked in comp[]
 * (seen[] is 0 for them): walks producers inside the component until one repeats. */
static void
report_cycle(struct vctx *v, uint32_t root, const uint32_t *comp, uint32_t cid, uint32_t *seen)
{
    qp_graph *g = v->g;
    uint32_t x = root;
    while (x && !seen[x]) {
        seen[x] = 1;
        x = producer_in(g, x, comp, cid);
    }
    if (!x)
        return; /* unreachable: every member has a producer in its component */
    /* "%a <- %c <- %b <- %a": each node uses the one after it; at most 8 names */
    char path[300];
    size_t o = 0;
    uint32_t y = x, k = 0;
    bool closed = false;
    path[0] = 0;
    for (;;) {
        int w = snprintf(path + o, sizeof path - o, "%s%%%s", k ? " <- " : "", name(g, y));
        if (w < 0 || (size_t)w >= sizeof path - o) {
            path[o] = 0; /* a name that does not fit is left out whole */
            closed = false;
            break;
        }
        o += (size_t)w;
        if (closed || ++k == 8)
            break;
        y = producer_in(g, y, comp, cid);
        closed = y == x;
    }
    report(v, QP_ERR_CYCLE, x, "cycle: %s%s", path, closed ? "" : " <- ...");
}

/*
 * Reports every cycle. Kahn's algorithm leaves the nodes on a cycle or behind
 * one; Tarjan's algorithm (iterative, over use lists) splits them into strongly
 * connected components, and each component of two or more nodes gets one cycle
 * named. A node using itself was reported already and is left out here, so it
 * neither repeats nor hides another cycle. O(nodes + edges).
 */
static void
find_cycles(struct vctx *v)
{
    qp_graph *g = v->g;
    uint32_t n = g->nnodes;
    const uint32_t DONE = UINT32_MAX;
    uint32_t *indeg = v->pos; /* reused: order positions are no longer needed */
    memset(indeg, 0, (size_t)n * sizeof *indeg);
    uint32_t live = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (g->nodes[i].flags & QP__NODE_ERASED)
            continue;
        live++;
        for (uint32_t r = g->nodes[i].use_head; r; r = g->vals[r].u.use.next) {
            uint32_t u = g->vals[r].b;
            if (u != i && qp__node_live(g, u))
                indeg[u]++;
        }
    }
    uint32_t *a = qp__alloc(g, (size_t)n * 6 * sizeof *a);
    if (!a) {
        /* the check is incomplete: NOMEM wins over the problems found so far (the
         * caller must not take them for all there are) */
        report(v, QP_ERR_NOMEM, 0, "out of memory looking for cycles");
        v->first = qp__err(g, QP_ERR_NOMEM, "out of memory looking for cycles");
        v->count = 1;
        return;
    }
    uint32_t *stk = a, *idx = a + n, *low = a + 2 * (size_t)n, *it = a + 3 * (size_t)n;
    uint32_t *call = a + 4 * (size_t)n, *comp = a + 5 * (size_t)n;
    /* Kahn: a node is DONE once every producer is */
    uint32_t sp = 0, done = 0;
    for (uint32_t i = 1; i < n; i++)
        if (!(g->nodes[i].flags & QP__NODE_ERASED) && indeg[i] == 0)
            stk[sp++] = i;
    while (sp) {
        uint32_t x = stk[--sp];
        indeg[x] = DONE;
        done++;
        for (uint32_t r = g->nodes[x].use_head; r; r = g->vals[r].u.use.next) {
            uint32_t u = g->vals[r].b;
            if (u != x && qp__node_live(g, u) && indeg[u] != DONE && --indeg[u] == 0)
                stk[sp++] = u;
        }
    }
    if (done < live) {
        /* Tarjan over the leftovers, edges producer -> user; stk is the component
         * stack, call the DFS stack, it[x] the next use record of x to follow */
        memset(idx, 0, (size_t)n * sizeof *idx);
        memset(comp, 0, (size_t)n * sizeof *comp);
        uint32_t counter = 0, ssp = 0, csp = 0, ncomp = 0;
#define LEFT(u) (qp__node_live(g, (u)) && indeg[(u)] != DONE)
        for (uint32_t s = 1; s < n; s++) {
            if (!LEFT(s) || idx[s])
                continue;
            idx[s] = low[s] = ++counter;
            stk[ssp++] = s;
            it[s] = g->nodes[s].use_head;
            call[csp++] = s;
            while (csp) {
                uint32_t x = call[csp - 1], r = it[x], u = 0;
                while (r && !u) {
                    u = g->vals[r].b;
                    r = g->vals[r].u.use.next;
                    if (u == x || !LEFT(u))
                        u = 0;
                }
                it[x] = r;
                if (u) {
                    if (!idx[u]) {
                        idx[u] = low[u] = ++counter;
                        stk[ssp++] = u;
                        it[u] = g->nodes[u].use_head;
                        call[csp++] = u;
                    } else if (!comp[u] && idx[u] < low[x]) {
                        low[x] = idx[u]; /* u is on the component stack */
                    }
                    continue;
                }
                csp--;
                if (csp && low[x] < low[call[csp - 1]])
                    low[call[csp - 1]] = low[x];
                if (low[x] != idx[x])
                    continue;
                /* x roots a component: pop it; low[] now marks the cycle walk */
                uint32_t size = 0, w;
                ncomp++;
                do {
                    w = stk[--ssp];
                    comp[w] = ncomp;
                    low[w] = 0;
                    size++;
                } while (w != x);
                if (size > 1)
                    report_cycle(v, x, comp, ncomp, low);
            }
        }
#undef LEFT
    }
    qp__free(g, a, (size_t)n * 6 * sizeof *a);
}

qp_status
qp__verify(qp_graph *g, qp_diag_fn fn, void *ud)
{
    struct vctx v = {g, fn, ud, QP_OK, 0, NULL, 0, 0, false};
    qp__clear_err(g);
    v.pos = qp__alloc(g, (size_t)g->nnodes * sizeof *v.pos);
    if (!v.pos)
        return qp__err(g, QP_ERR_NOMEM, "out of memory verifying the graph");
    memset(v.pos, 0, (size_t)g->nnodes * sizeof *v.pos);
    /* order positions; a corrupt list cannot loop forever */
    uint32_t k = 0, last = 0, outputs = 0, first_output = 0;
    for (uint32_t n = g->nodes[0].next; n && k < g->nnodes; n = g->nodes[n].next) {
        if (n >= g->nnodes || (g->nodes[n].flags & QP__NODE_ERASED)) {
            report(&v, QP_ERR_INTERNAL, 0, "execution order reaches an erased or missing node");
            break;
        }
        v.pos[n] = ++k;
        last = n;
    }
    if (k != g->nlive)
        report(&v, QP_ERR_INTERNAL, 0, "execution order holds %u nodes, %u are live",
               (unsigned)k, (unsigned)g->nlive);
    if (k == 0)
        report(&v, QP_ERR_INVALID_GRAPH, 0, "graph has no nodes");
    for (uint32_t n = g->nodes[0].next; n && v.pos[n]; n = g->nodes[n].next) {
        struct qp__node *nd = &g->nodes[n];
        const char *nm = qp__sym_str(g, nd->name);
        if (nd->op >= QP_OP_COUNT)
            report(&v, QP_ERR_INVALID_GRAPH, n, "%%%s has an unknown op %u", nm, nd->op);
        if (!is_node_name(nm, qp__sym_len(g, nd->name)))
            report(&v, QP_ERR_INVALID_NAME, n, "node name '%.64s' is not [A-Za-z0-9_]+", nm);
        else if (g->st.syms[nd->name].node != n) {
            uint32_t o = g->st.syms[nd->name].node;
            report(&v, QP_ERR_DUP_NAME, n, "node %%%s defined twice (lines %u and %u)", nm,
                   (unsigned)g->nodes[o].line, (unsigned)nd->line);
        }
        if (!nd->target)
            report(&v, QP_ERR_INVALID_GRAPH, n, "%%%s has no target", nm);
        if (g->vals[nd->args].kind != QP_VAL_TUPLE)
            report(&v, QP_ERR_INVALID_GRAPH, n, "args of %%%s are not a tuple", nm);
        if (g->vals[nd->kwargs].kind != QP_VAL_DICT)
            report(&v, QP_ERR_INVALID_GRAPH, n, "kwargs of %%%s are not a dict", nm);
        v.self = n;
        qp__val_each_node(g, nd->args, check_ref, &v);
        qp__val_each_node(g, nd->kwargs, check_ref, &v);
        if (nd->op == QP_OP_CALL_MODULE && !qp__mod_find(g, nd->target))
            report(&v, QP_ERR_NOT_FOUND, n, "%%%s calls undeclared module %s", nm,
                   qp__sym_str(g, nd->target));
        if (nd->op == QP_OP_GET_ATTR && !param_exists(g, nd->target))
            report(&v, QP_ERR_NOT_FOUND, n, "%%%s reads undeclared attr %s", nm,
                   qp__sym_str(g, nd->target));
        if (nd->op == QP_OP_OUTPUT) {
            if (outputs++)
                report(&v, QP_ERR_INVALID_GRAPH, n, "second output node %%%s (first %%%s)", nm,
                       name(g, first_output));
            else
                first_output = n;
        }
    }
    if (k && !outputs)
        report(&v, QP_ERR_INVALID_GRAPH, 0, "graph has no output node");
    else if (first_output && last != first_output)
        report(&v, QP_ERR_INVALID_GRAPH, last, "output node %%%s is not the last node (%%%s "
               "follows it)", name(g, first_output), name(g, last));
    /* use lists: every record there is a live reference back to its producer */
    uint32_t listed = 0;
    for (uint32_t n = 1; n < g->nnodes; n++) {
        uint32_t steps = 0;
        for (uint32_t r = g->nodes[n].use_head; r; r = g->vals[r].u.use.next) {
            const struct qp__val *x = &g->vals[r];
            if (r >= g->nvals || x->kind != QP_VAL_NODE || x->a != n || ++steps > g->nvals) {
                report(&v, QP_ERR_INTERNAL, n, "use list of %%%s is corrupt", name(g, n));
                break;
            }
            if (!qp__node_live(g, x->b)) {
                report(&v, QP_ERR_INTERNAL, n, "use list of %%%s names a dead user", name(g, n));
                break;
            }
            listed++;
        }
    }
    if (listed != v.edges && v.first != QP_ERR_DANGLING_EDGE)
        report(&v, QP_ERR_INTERNAL, 0, "use lists hold %u references, args hold %u",
               (unsigned)listed, (unsigned)v.edges);
    if (v.forward)
        find_cycles(&v);
    qp__free(g, v.pos, (size_t)g->nnodes * sizeof *v.pos);
    if (v.count > 1) {
        size_t len = strlen(g->errmsg);
        qp__fmt(g->errmsg + len, sizeof g->errmsg - len, " (and %u more problems)",
                (unsigned)(v.count - 1));
    }
    return v.first;
}

qp_status
qp_graph_verify(qp_graph *g, qp_diag_fn fn, void *ud)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    return qp__verify(g, fn, ud);
}
