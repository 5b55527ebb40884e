/*
 * node.c - the public node API: reading nodes and walking the order, op and
 * value-kind names, inserting, rewiring, erasing and editing nodes. Every
 * mutator checks its arguments first and changes nothing on failure.
 */
#include "internal.h"

#include <string.h>

/* ==== public read API ==== */

static const struct qp__node *
node_rec(const qp_graph *g, qp_node n)
{
    return g && n.id > 0 && n.id < g->nnodes ? &g->nodes[n.id] : NULL;
}

uint32_t
qp_graph_num_nodes(const qp_graph *g)
{
    return g ? g->nlive : 0;
}

qp_node
qp_graph_first(const qp_graph *g)
{
    qp_node n = {g ? g->nodes[0].next : 0};
    return n;
}

qp_node
qp_graph_last(const qp_graph *g)
{
    qp_node n = {g ? g->nodes[0].prev : 0};
    return n;
}

qp_node
qp_node_next(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    uint32_t id = r ? r->next : 0;
    while (id && (g->nodes[id].flags & QP__NODE_ERASED))
        id = g->nodes[id].next;
    qp_node out = {id};
    return out;
}

qp_node
qp_node_prev(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    uint32_t id = r ? r->prev : 0;
    while (id && (g->nodes[id].flags & QP__NODE_ERASED))
        id = g->nodes[id].prev;
    qp_node out = {id};
    return out;
}

qp_node
qp_graph_find_node(const qp_graph *g, const char *name)
{
    qp_node out = {0};
    if (!g || !name)
        return out;
    uint32_t sym = qp__sym_find(g, name, strlen(name));
    uint32_t id = sym ? g->st.syms[sym].node : 0;
    out.id = qp__node_live(g, id) ? id : 0;
    return out;
}

bool
qp_node_is_live(const qp_graph *g, qp_node n)
{
    return qp__node_live(g, n.id);
}

qp_op
qp_node_op(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? (qp_op)r->op : QP_OP_COUNT;
}

const char *
qp_node_name(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? qp__sym_str(g, r->name) : "";
}

const char *
qp_node_target(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? qp__sym_str(g, r->target) : "";
}

qp_val
qp_node_args(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    qp_val v = {r ? r->args : 0};
    return v;
}

qp_val
qp_node_kwargs(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    qp_val v = {r ? r->kwargs : 0};
    return v;
}

uint32_t
qp_node_num_users(const qp_graph *g, qp_node n)
{
    return node_rec(g, n) ? qp__node_num_users(g, n.id) : 0;
}

uint32_t
qp_node_users(const qp_graph *g, qp_node n, qp_node *buf, uint32_t cap)
{
    if (!node_rec(g, n))
        return 0;
    uint32_t it = 0, count = 0, u;
    while ((u = qp__node_next_user(g, n.id, &it)) != 0) {
        if (buf && count < cap)
            buf[count].id = u;
        count++;
    }
    return count;
}

qp_node
qp_node_fq_producer(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    qp_node out = {r && (r->flags & QP__NODE_FQ) ? r->fq_of : 0};
    return out;
}

uint32_t
qp_node_line(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? r->line : 0;
}

void *
qp_node_user_data(const qp_graph *g, qp_node n)
{
    return node_rec(g, n) ? qp__node_user(g, n.id) : NULL;
}

void *
qp__node_user(const qp_graph *g, uint32_t n)
{
    return n < g->nnode_user ? g->node_user[n] : NULL;
}

qp_status
qp__node_set_user(qp_graph *g, uint32_t n, void *user)
{
    if (n >= g->nnode_user) {
        if (!user)
            return QP_OK;
        qp_status rc = qp__side_reserve(g, &g->node_user, &g->nnode_user,
                                        n < g->capnodes ? g->capnodes : n + 1);
        if (rc)
            return rc;
    }
    g->node_user[n] = user;
    return QP_OK;
}

qp_status
qp_node_set_user_data(qp_graph *g, qp_node n, void *user)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not a live node", (unsigned)n.id);
    if (qp__node_set_user(g, n.id, user))
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    return QP_OK;
}

/* ==== public mutation API ==== */

static const char *const op_names[] = {
#define QP__OP_NAME(name, text) text,
    QP_OP_MAP(QP__OP_NAME)
#undef QP__OP_NAME
};

const char *
qp_op_name(qp_op op)
{
    return (unsigned)op < QP_OP_COUNT ? op_names[op] : NULL;
}

qp_status
qp_op_from_name(const char *name, qp_op *out)
{
    if (!name || !out)
        return QP_ERR_NULL_ARG;
    for (int i = 0; i < QP_OP_COUNT; i++)
        if (!strcmp(name, op_names[i])) {
            *out = (qp_op)i;
            return QP_OK;
        }
    return QP_ERR_NOT_FOUND;
}

static const char *const kind_names[] = {
#define QP__KIND_NAME(name, text) text,
    QP_VAL_KIND_MAP(QP__KIND_NAME)
#undef QP__KIND_NAME
};

const char *
qp_val_kind_name(qp_val_kind kind)
{
    return (unsigned)kind < QP_VAL_KIND_COUNT ? kind_names[kind] : NULL;
}

/* Prepares a tree to be attached to a node: checks its kind and that every node
 * it names is live, and copies it when it is already attached somewhere. */
struct own_ud {
    uint32_t bad;
};

static void
own_one(qp_graph *g, uint32_t r, void *ud)
{
    struct own_ud *o = ud;
    if (!qp__node_live(g, g->vals[r].a) && !o->bad)
        o->bad = r;
}

static qp_status
own_tree(qp_graph *g, uint32_t v, uint8_t kind, const char *what, uint32_t *out)
{
    if (!v) {
        *out = kind == QP_VAL_DICT ? QP__VAL_EMPTY_DICT : QP__VAL_EMPTY_TUPLE;
        return QP_OK;
    }
    if (!qp__val_valid(g, v))
        return qp__err(g, QP_ERR_INVALID_ARG, "%s is not a value of this graph", what);
    if (g->vals[v].kind != kind)
        return qp__err(g, QP_ERR_INVALID_ARG, "%s must be a %s, not a %s", what, kind_names[kind],
                       kind_names[g->vals[v].kind]);
    struct own_ud o = {0};
    qp__val_each_node(g, v, own_one, &o);
    if (o.bad)
        return qp__err(g, QP_ERR_DANGLING_EDGE, "%s refers to node #%u, which is not live", what,
                       (unsigned)g->vals[o.bad].a);
    /* A tree with node references must be owned by one node: one attached elsewhere,
     * or built with one run twice (a tuple made from the same sub-tuple twice), would
     * corrupt use lists, so such trees are always copied fresh. */
    if (qp__val_has_nodes(g, v)) {
        uint32_t c = qp__val_copy(g, v);
        if (!c)
            return QP_ERR_NOMEM;
        v = c;
    }
    *out = v;
    return QP_OK;
}

static qp_status
check_target(qp_graph *g, const char *target, const char *what)
{
    if (!target)
        return qp__err(g, QP_ERR_NULL_ARG, "%s is NULL", what);
    size_t len = strlen(target);
    if (!len || len > QP_MAX_NAME)
        return qp__err(g, QP_ERR_INVALID_NAME, "%s is empty or longer than %u bytes", what,
                       QP_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= ' ' || c == 0x7f)
            return qp__err(g, QP_ERR_INVALID_NAME,
                           "%s '%.64s' has white space or a control "
                           "character",
                           what, target);
    }
    /* written unquoted on a line the reader checks for UTF-8 */
    if (!qp__utf8_valid(target, len))
        return qp__err(g, QP_ERR_INVALID_NAME, "%s is not valid UTF-8", what);
    return QP_OK;
}

static qp_status
insert(qp_graph *g, uint32_t after, const qp_node_spec *spec, qp_node *out)
{
    if (out)
        out->id = 0;
    if (!g || !spec || !out)
        return qp__err(g, QP_ERR_NULL_ARG, "%s is NULL", !spec ? "spec" : "out");
    qp__clear_err(g);
    if ((unsigned)spec->op >= QP_OP_COUNT)
        return qp__err(g, QP_ERR_INVALID_ARG, "op %d is not a qp_op", (int)spec->op);
    qp_status rc = check_target(g, spec->target, "target");
    if (rc)
        return rc;
    if (spec->op == QP_OP_OUTPUT) {
        for (uint32_t i = g->nodes[0].next; i; i = g->nodes[i].next)
            if (g->nodes[i].op == QP_OP_OUTPUT)
                return qp__errn(g, QP_ERR_INVALID_GRAPH, i,
                                "the graph already has an output "
                                "node, %%%s",
                                qp__sym_str(g, g->nodes[i].name));
    }
    /* everything that can fail comes before the first change a caller could see */
    uint32_t args, kwargs, target, name;
    if ((rc = own_tree(g, spec->args.id, QP_VAL_TUPLE, "args", &args)) ||
        (rc = own_tree(g, spec->kwargs.id, QP_VAL_DICT, "kwargs", &kwargs)))
        return rc;
    char cand[QP_MAX_NAME + 1];
    const char *c = spec->name;
    size_t clen;
    if (c) {
        clen = strlen(c);
    } else {
        clen = qp__target_to_name((uint8_t)spec->op, spec->target, cand, sizeof cand);
        c = cand;
    }
    /* the node record is reserved before the name is made: qp__name_create
     * advances the namespace counter, so nothing may fail after it */
    if ((rc = QP__GROW(g, g->nodes, g->nnodes, g->capnodes, 1)) ||
        (rc = qp__sym_intern(g, spec->target, strlen(spec->target), &target)) ||
        (rc = qp__name_create(g, c, clen, &name)))
        return rc;
    uint32_t id;
    rc = qp__node_new(g, after, (uint8_t)spec->op, name, target, args, kwargs, &id);
    if (rc)
        return rc;
    out->id = id;
    return QP_OK;
}

static qp_status
check_anchor(qp_graph *g, qp_node anchor)
{
    if (anchor.id && !qp__node_live(g, anchor.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "anchor node #%u is not live", (unsigned)anchor.id);
    return QP_OK;
}

qp_status
qp_graph_insert_after(qp_graph *g, qp_node anchor, const qp_node_spec *spec, qp_node *out)
{
    if (out)
        out->id = 0; /* null on every failure, the anchor's included */
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_status rc = check_anchor(g, anchor);
    return rc ? rc : insert(g, anchor.id, spec, out);
}

qp_status
qp_graph_insert_before(qp_graph *g, qp_node anchor, const qp_node_spec *spec, qp_node *out)
{
    if (out)
        out->id = 0;
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_status rc = check_anchor(g, anchor);
    return rc ? rc : insert(g, g->nodes[anchor.id].prev, spec, out);
}

qp_status
qp_node_replace_uses(qp_graph *g, qp_node from, qp_node to, uint32_t *count)
{
    if (count)
        *count = 0;
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, from.id) || !qp__node_live(g, to.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live",
                       (unsigned)(qp__node_live(g, from.id) ? to.id : from.id));
    if (from.id == to.id)
        return QP_OK;
    uint32_t c = qp__node_replace_uses(g, from.id, to.id, to.id);
    if (count)
        *count = c;
    return QP_OK;
}

qp_status
qp_graph_erase_node(qp_graph *g, qp_node n)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    if (g->nodes[n.id].use_head) {
        uint32_t u = g->vals[g->nodes[n.id].use_head].b;
        return qp__errn(g, QP_ERR_INVALID_ARG, n.id, "cannot erase %%%s: %%%s still uses it",
                        qp__sym_str(g, g->nodes[n.id].name), qp__sym_str(g, g->nodes[u].name));
    }
    qp__node_erase(g, n.id);
    return QP_OK;
}

qp_status
qp_node_set_args(qp_graph *g, qp_node n, qp_val args)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    uint32_t v = 0;
    qp_status rc = own_tree(g, args.id, QP_VAL_TUPLE, "args", &v);
    if (rc)
        return rc;
    qp__node_set_args(g, n.id, v);
    return QP_OK;
}

qp_status
qp_node_set_kwargs(qp_graph *g, qp_node n, qp_val kwargs)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    uint32_t v = 0;
    qp_status rc = own_tree(g, kwargs.id, QP_VAL_DICT, "kwargs", &v);
    if (rc)
        return rc;
    qp__node_set_kwargs(g, n.id, v);
    return QP_OK;
}

qp_status
qp_node_set_target(qp_graph *g, qp_node n, const char *target)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    qp_status rc = check_target(g, target, "target");
    uint32_t sym;
    if (rc || (rc = qp__sym_intern(g, target, strlen(target), &sym)))
        return rc;
    g->nodes[n.id].target = sym;
    return QP_OK;
}
