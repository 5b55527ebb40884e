/*
 * tracer.c - the builder a framework drives while running its model once,
 * recording what torch.fx's symbolic trace records: one node per placeholder,
 * get_attr, module call, function call and method call, named as torch.fx
 * names them. Calls are sticky: the first failure is kept and later calls
 * do nothing, so a framework can check only qp_tracer_finish().
 */
#include "internal.h"

#include <string.h>

struct qp_tracer {
    qp_graph *g;
    qp_status st;
    bool has_output;
    qp_allocator user; /* the caller's allocator; the graph uses watch() until finish */
};

/*
 * Every allocation of the graph being recorded passes here, so that a failure
 * anywhere is sticky: also in a qp_val_new_* whose status the caller did not
 * check, whose null handle would otherwise read as "no args" and record a node
 * that silently lost its arguments. (A clone of the graph taken while tracing
 * allocates here too, so it must not outlive the tracer.)
 */
static void *
watch(void *ud, void *p, size_t osize, size_t nsize)
{
    qp_tracer *t = ud;
    void *q = qp__raw_alloc(&t->user, p, osize, nsize);
    if (nsize && !q && !t->st)
        t->st = QP_ERR_NOMEM;
    return q;
}

qp_status
qp_tracer_create(const qp_allocator *alloc, qp_tracer **out)
{
    if (!out)
        return QP_ERR_NULL_ARG;
    *out = NULL;
    qp_tracer *t = qp__raw_alloc(alloc, NULL, 0, sizeof *t);
    if (!t)
        return QP_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    if (alloc)
        t->user = *alloc;
    qp_allocator w = {watch, t};
    qp_status rc = qp_graph_create(&w, &t->g);
    if (rc) {
        qp__raw_alloc(alloc, t, sizeof *t, 0);
        return rc;
    }
    *out = t;
    return QP_OK;
}

void
qp_tracer_destroy(qp_tracer *t)
{
    if (!t)
        return;
    qp_allocator a = t->user;
    qp_graph_destroy(t->g); /* through watch(), which needs t: free t after */
    qp__raw_alloc(&a, t, sizeof *t, 0);
}

qp_graph *
qp_tracer_graph(qp_tracer *t)
{
    return t ? t->g : NULL;
}

qp_status
qp_tracer_status(const qp_tracer *t)
{
    return t ? t->st : QP_ERR_NULL_ARG;
}

static qp_status
stick(qp_tracer *t, qp_status rc)
{
    if (rc && !t->st)
        t->st = rc;
    return rc;
}

#define STICKY(t)                                                                                  \
    do {                                                                                           \
        if (!(t))                                                                                  \
            return QP_ERR_NULL_ARG;                                                                \
        if ((t)->st)                                                                               \
            return (t)->st;                                                                        \
    } while (0)

qp_status
qp_tracer_module(qp_tracer *t, const char *path, const char *type, qp_val attrs, void *user)
{
    STICKY(t);
    qp_module m;
    /* room for the pointer first, so that the module is added with it or not at all */
    qp_status rc = user ? qp__mod_user_reserve(t->g, t->g->nmods + 1) : QP_OK;
    if (rc)
        rc = qp__err(t->g, rc, "out of memory");
    else if (!(rc = qp_graph_add_module(t->g, path, type, attrs, &m)))
        qp__mod_set_user(t->g, m.id, user); /* room made: cannot fail */
    return stick(t, rc);
}

qp_status
qp_tracer_param(qp_tracer *t, const char *name, qp_val attrs)
{
    STICKY(t);
    return stick(t, qp_graph_add_param(t->g, name, attrs));
}

static qp_status
record(qp_tracer *t, qp_op op, const char *target, qp_val args, qp_val kwargs, qp_node *out)
{
    if (out)
        out->id = 0;
    STICKY(t);
    if (!out)
        return stick(t, qp__err(t->g, QP_ERR_NULL_ARG, "out is NULL"));
    if (t->has_output)
        return stick(t, qp__err(t->g, QP_ERR_INVALID_GRAPH, "%s %s recorded after the output",
                                qp_op_name(op), target ? target : "(null)"));
    if (target && op == QP_OP_CALL_MODULE && !qp__mod_find_str(t->g, target, strlen(target)))
        return stick(t,
                     qp__err(t->g, QP_ERR_NOT_FOUND, "call of undeclared module '%.200s'", target));
    if (target && op == QP_OP_GET_ATTR) {
        uint32_t s = qp__sym_find(t->g, target, strlen(target));
        if (!s || !qp__sym_param(t->g, s)) /* the sym knows its parameter: one probe */
            return stick(t, qp__err(t->g, QP_ERR_NOT_FOUND,
                                    "get_attr of undeclared parameter "
                                    "'%.200s'",
                                    target));
    }
    qp_node_spec spec = {op, target, NULL, args, kwargs};
    return stick(t, qp_graph_insert_before(t->g, QP_NULL_NODE, &spec, out));
}

qp_status
qp_tracer_placeholder(qp_tracer *t, const char *name, qp_val args, qp_node *out)
{
    return record(t, QP_OP_PLACEHOLDER, name, args, QP_NULL_VAL, out);
}

qp_status
qp_tracer_get_attr(qp_tracer *t, const char *target, qp_node *out)
{
    return record(t, QP_OP_GET_ATTR, target, QP_NULL_VAL, QP_NULL_VAL, out);
}

qp_status
qp_tracer_call_module(qp_tracer *t, const char *path, qp_val args, qp_val kwargs, qp_node *out)
{
    return record(t, QP_OP_CALL_MODULE, path, args, kwargs, out);
}

qp_status
qp_tracer_call_function(qp_tracer *t, const char *qualname, qp_val args, qp_val kwargs,
                        qp_node *out)
{
    return record(t, QP_OP_CALL_FUNCTION, qualname, args, kwargs, out);
}

qp_status
qp_tracer_call_method(qp_tracer *t, const char *method, qp_val args, qp_val kwargs, qp_node *out)
{
    return record(t, QP_OP_CALL_METHOD, method, args, kwargs, out);
}

qp_status
qp_tracer_output(qp_tracer *t, qp_val value)
{
    STICKY(t);
    qp_val args;
    qp_status rc = qp_val_new_tuple(t->g, 1, &value, &args);
    qp_node out;
    if (!rc)
        rc = record(t, QP_OP_OUTPUT, "output", args, QP_NULL_VAL, &out);
    if (!rc)
        t->has_output = true;
    return stick(t, rc);
}

qp_status
qp_tracer_finish(qp_tracer *t, qp_graph **out)
{
    if (out)
        *out = NULL;
    if (!t)
        return QP_ERR_NULL_ARG;
    qp_status rc = t->st;
    if (!rc && !out)
        rc = QP_ERR_NULL_ARG;
    if (!rc && !t->has_output)
        rc = qp__err(t->g, QP_ERR_INVALID_GRAPH, "the trace has no output");
    if (!rc)
        rc = qp__verify(t->g, NULL, NULL);
    if (rc) {
        qp_tracer_destroy(t);
        return rc;
    }
    /* the graph's blocks came from the caller's allocator through watch(): hand the
     * graph over with the caller's allocator itself */
    qp_allocator a = t->user;
    t->g->alloc = a;
    *out = t->g;
    qp__raw_alloc(&a, t, sizeof *t, 0);
    return QP_OK;
}
