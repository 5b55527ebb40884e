/*
 * placement.c - which producers get an activation fake-quantizer, in the
 * order MQBench discovers them (ModelQuantizer._find_act_quants and its
 * overrides in custom_quantizer/), driven by the backend row:
 *
 *   input:    each input of every listed, non-excluded consumer, except
 *             across an implicit merge (mul -> add); optionally skipping
 *             consumers with non-tensor args or sums of embeddings.
 *   + post:   (TotalINT, Tengine, ONNX_QNN) for each listed op and each of
 *             its users: the user's output if it is a pass-through op (ReLU,
 *             flatten...), else the op's own output; Tengine adds the graph's
 *             outputs.
 *   openvino: every tensor that feeds a quantizable op, graph inputs too, not
 *             the last layer, not pool/flatten feeding a conv.
 *   output:   (Vitis) the output of every listed op.
 *
 * Also OPENVINO's signedness search. Every decision is taken on the graph as
 * it is before any insertion; explanations are recorded as decisions fall.
 */
#include "prep.h"

#include <string.h>

static uint8_t
flags(struct qp__prep *P, uint32_t sym)
{
    return qp__cls_flags(P, sym);
}

/* MQBench's exclusion test of a node; additional_node_name cancels it when honored. */
static bool
excluded(struct qp__prep *P, uint32_t n, bool methods, bool honor_add)
{
    const struct qp__node *r = &P->g->nodes[n];
    bool ex = false;
    if (r->op == QP_OP_CALL_MODULE && (flags(P, r->target) & QP__SF_EXCL_MODULE))
        ex = true;
    if ((r->op == QP_OP_CALL_FUNCTION || (methods && r->op == QP_OP_CALL_METHOD)) &&
        qp__in_list(P, n, QP__L_EXCL_FN))
        ex = true;
    if (flags(P, r->name) & QP__SF_EXCL_NODE)
        ex = true;
    if (honor_add && (flags(P, r->name) & QP__SF_ADD_NODE))
        return false;
    return ex;
}

static bool
is_implicit_merge(struct qp__prep *P, uint32_t consumer, uint32_t producer)
{
    const struct qp__merge *m = P->be->merges;
    for (; m && m->consumer.kind != QP__E_END; m++)
        if (qp__node_is(P, consumer, &m->consumer) && qp__node_is(P, producer, &m->producer))
            return true;
    return false;
}

/* The module of a call_module node is left float by an override? */
static bool
float_module(struct qp__prep *P, uint32_t n)
{
    uint32_t m = qp__node_module(P->g, n);
    return m && m < P->nmod_spec && !P->mod_w[m] && !P->mod_a[m];
}

/* The activation spec for a fake-quantizer a node asks for (its override, if any). */
static uint32_t
act_spec(struct qp__prep *P, uint32_t n)
{
    uint32_t m = qp__node_module(P->g, n);
    return m && m < P->nmod_spec && P->mod_a[m] ? P->mod_a[m] : P->aspec;
}

struct out {
    struct qp__cand *c;
    uint32_t n, cap;
};

static qp_status
add(struct qp__prep *P, struct out *o, uint32_t node, uint32_t cause, qp_reason why,
    uint32_t spec)
{
    qp_status rc = QP__GROW(P->g, o->c, o->n, o->cap, 1);
    if (rc)
        return rc;
    o->c[o->n].node = node;
    o->c[o->n].cause = cause;
    o->c[o->n].why = (uint8_t)why;
    o->c[o->n].spec = spec;
    o->n++;
    return QP_OK;
}

/* ==== flattened args (MQBench _flatten_args: tuple/list items and dict values,
 * recursively; anything else, slices and other calls included, is a leaf) ==== */

struct flat {
    uint32_t *nodes;
    uint32_t n, cap;
    bool nontensor;
    qp_status rc;
};

static void
flatten(qp_graph *g, uint32_t v, struct flat *f)
{
    const struct qp__val *r = &g->vals[v];
    if (r->kind == QP_VAL_TUPLE || r->kind == QP_VAL_LIST || r->kind == QP_VAL_DICT) {
        for (uint32_t i = 0; i < r->b && !f->rc; i++)
            flatten(g, r->a + i, f);
        return;
    }
    if (r->kind != QP_VAL_NODE) {
        f->nontensor = true;
        return;
    }
    if (f->n == f->cap && (f->rc = QP__GROW(g, f->nodes, f->n, f->cap, 1)))
        return;
    f->nodes[f->n++] = r->a;
}

/* ==== getitem2node (mqbench.utils.getitem2node) ==== */

/*
 * MQBench records the dicts built by `.update()` calls and maps a getitem whose
 * key chain leads to a node stored in such a dict to that node, which is then
 * quantized instead of the getitem. Its quirks are kept because they decide
 * whether prepare fails: any node whose target is the string "update" counts
 * as a dict update (a module named `update` too); a missing argument, an
 * unrecorded dict or a non-dict argument fails; key chains are resolved with
 * Python's indexing, where only KeyError and IndexError mean "no mapping" and
 * any other error (indexing a tensor, a list by a string) fails the prepare.
 * Without any update nothing can resolve, so the common case costs one scan.
 */

/* What indexing has reached: the table of recorded dicts, a value of the graph, a
 * run of a value's items (a sliced list), or a string of known length. */
enum { G_ROOT, G_VAL, G_RUN, G_STR };
struct gval {
    int kind;
    uint32_t v, first, n;
};
enum { G_OK, G_NOMAP, G_FAIL };

static bool
is_slice(const qp_graph *g, const struct qp__val *k)
{
    return k->kind == QP_VAL_CALL && !strcmp(qp__sym_str(g, k->u.name), "slice");
}

/* Python's hash(): lists, dicts and (3.11) slices are unhashable. */
static bool
hashable(const qp_graph *g, const struct qp__val *k)
{
    return k->kind != QP_VAL_LIST && k->kind != QP_VAL_DICT && !is_slice(g, k);
}

static bool
as_index(const struct qp__val *k, int64_t *i)
{
    if (k->kind != QP_VAL_INT && k->kind != QP_VAL_BOOL)
        return false;
    *i = k->u.i;
    return true;
}

/* slice(start, stop, step).indices(len): the items taken, or false on step 0. */
static bool
slice_run(const qp_graph *g, const struct qp__val *k, uint32_t len, int64_t *start, int64_t *step,
          uint32_t *count)
{
    int64_t v[3] = {0, 0, 1};
    bool given[3] = {false, false, false};
    for (uint32_t i = 0; i < k->b && i < 3; i++) {
        const struct qp__val *x = &g->vals[k->a + i];
        if (x->kind == QP_VAL_INT || x->kind == QP_VAL_BOOL) {
            v[i] = x->u.i;
            given[i] = true;
        }
    }
    int64_t n = len, st = given[2] ? v[2] : 1;
    if (st == 0)
        return false;
    int64_t lo = st > 0 ? 0 : -1, hi = st > 0 ? n : n - 1;
    int64_t b = given[0] ? (v[0] < 0 ? v[0] + n : v[0]) : (st > 0 ? lo : hi);
    int64_t e = given[1] ? (v[1] < 0 ? v[1] + n : v[1]) : (st > 0 ? hi : lo);
    b = b < lo ? lo : b > hi ? hi : b;
    e = e < lo ? lo : e > hi ? hi : e;
    int64_t c = st > 0 ? (e > b ? (e - b + st - 1) / st : 0) : (b > e ? (b - e - st - 1) / -st : 0);
    *start = b;
    *step = st;
    *count = (uint32_t)c;
    return true;
}

/* One Python indexing step cur[key]. */
static int
index_step(const qp_graph *g, const uint32_t *dicts, struct gval *cur, uint32_t key,
           const char **why)
{
    const struct qp__val *k = &g->vals[key];
    if (cur->kind == G_ROOT) { /* `original[node]` */
        if (!hashable(g, k)) {
            *why = "unhashable key";
            return G_FAIL;
        }
        if (k->kind != QP_VAL_NODE || !dicts[k->a])
            return G_NOMAP;
        cur->kind = G_VAL;
        cur->v = dicts[k->a];
        return G_OK;
    }
    uint32_t first = 0, len = 0;
    uint8_t kind;
    if (cur->kind == G_RUN) {
        kind = QP_VAL_LIST;
        first = cur->first;
        len = cur->n;
    } else if (cur->kind == G_STR) {
        kind = QP_VAL_STR;
        len = cur->n;
    } else {
        const struct qp__val *c = &g->vals[cur->v];
        kind = c->kind;
        first = c->a;
        len = c->b;
        if (kind == QP_VAL_STR)
            len = qp__sym_len(g, c->a);
    }
    int64_t i;
    switch (kind) {
    case QP_VAL_DICT:
        if (!hashable(g, k)) {
            *why = "unhashable key";
            return G_FAIL;
        }
        if (k->kind != QP_VAL_STR)
            return G_NOMAP; /* keys here are strings: KeyError */
        for (uint32_t j = 0; j < len; j++)
            if (g->vals[first + j].key == k->a) {
                cur->kind = G_VAL;
                cur->v = first + j;
                return G_OK;
            }
        return G_NOMAP;
    case QP_VAL_TUPLE:
    case QP_VAL_LIST:
    case QP_VAL_STR:
        if (as_index(k, &i)) {
            if (i < 0)
                i += len;
            if (i < 0 || i >= (int64_t)len)
                return G_NOMAP; /* IndexError */
            if (kind == QP_VAL_STR) {
                cur->kind = G_STR;
                cur->n = 1;
            } else if (cur->kind == G_RUN) {
                cur->kind = G_VAL;
                cur->v = cur->first + (uint32_t)i * cur->v; /* v holds the run's step */
            } else {
                cur->kind = G_VAL;
                cur->v = first + (uint32_t)i;
            }
            return G_OK;
        }
        if (is_slice(g, k)) {
            int64_t b, st;
            uint32_t c;
            if (!slice_run(g, k, len, &b, &st, &c)) {
                *why = "slice step cannot be zero";
                return G_FAIL;
            }
            if (kind == QP_VAL_STR) {
                cur->kind = G_STR;
                cur->n = c;
            } else {
                /* a run: items base + (b + j * st) * stride; unsigned arithmetic wraps
                 * for negative steps and lands on the right item */
                uint32_t base = cur->kind == G_RUN ? cur->first : first;
                uint32_t stride = cur->kind == G_RUN ? cur->v : 1;
                cur->kind = G_RUN;
                cur->first = base + (uint32_t)b * stride;
                cur->n = c;
                cur->v = stride * (uint32_t)st;
            }
            return G_OK;
        }
        *why = kind == QP_VAL_STR ? "string indices must be integers"
                                  : "list indices must be integers or slices";
        return G_FAIL;
    case QP_VAL_NODE:
        *why = "a graph node (a tensor) is not subscriptable";
        return G_FAIL;
    default:
        *why = "object is not subscriptable";
        return G_FAIL;
    }
}

static qp_status
getitem2node(struct qp__prep *P, uint32_t *map)
{
    qp_graph *g = P->g;
    uint32_t update = qp__sym_find(g, "update", 6);
    bool any = false;
    for (uint32_t n = g->nodes[0].next; n && update && !any; n = g->nodes[n].next)
        any = g->nodes[n].target == update && g->nodes[n].op != QP_OP_CALL_FUNCTION;
    if (!any)
        return QP_OK;
    /* dicts[node]: the DICT value its updates built; gets: getitem nodes so far */
    uint32_t *dicts = qp__alloc(g, (size_t)g->nnodes * 2 * sizeof *dicts);
    if (!dicts)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    memset(dicts, 0, (size_t)g->nnodes * 2 * sizeof *dicts);
    uint32_t *gets = dicts + g->nnodes, ngets = 0;
    qp_status rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        const struct qp__node *r = &g->nodes[n];
        uint32_t args = r->args, na = g->vals[args].b;
        if (r->target == update && r->op != QP_OP_CALL_FUNCTION) {
            const char *bad = NULL;
            uint32_t d = 0, src = 0, from = 0;
            if (na < 2)
                bad = "IndexError: update needs a dict argument";
            else if (g->vals[g->vals[args].a].kind != QP_VAL_NODE)
                bad = "the updated dict is not a node";
            else {
                d = g->vals[g->vals[args].a].a;
                src = g->vals[args].a + 1;
                if (g->vals[src].kind == QP_VAL_DICT)
                    from = src;
                else if (g->vals[src].kind == QP_VAL_NODE && !(from = dicts[g->vals[src].a]))
                    bad = "KeyError: update from a dict no update built";
                else if (g->vals[src].kind != QP_VAL_NODE)
                    bad = "ValueError: wrong type for update";
            }
            if (bad) {
                rc = qp__errn(g, QP_ERR_INVALID_GRAPH, n, "%%%s: %s (MQBench's getitem2node "
                              "fails here)", qp__sym_str(g, r->name), bad);
                break;
            }
            uint32_t cur = dicts[d] ? dicts[d] : qp__val_empty(g, QP_VAL_DICT);
            for (uint32_t i = 0; i < g->vals[from].b && cur; i++) {
                uint32_t it = g->vals[from].a + i;
                cur = qp__val_dict_set(g, cur, g->vals[it].key, it);
            }
            if (!cur)
                rc = QP_ERR_NOMEM;
            dicts[d] = cur;
            continue;
        }
        if (!(r->op == QP_OP_CALL_FUNCTION && qp__in_list(P, n, QP__L_GETITEM)))
            continue;
        gets[ngets++] = n;
        /* every getitem so far that does not resolve yet is tried again, as MQBench does */
        for (uint32_t i = 0; i < ngets && !rc; i++) {
            uint32_t gi = gets[i];
            if (map[gi])
                continue;
            /* the key chain: back through getitem containers to the root (64 deep at most) */
            uint32_t keys[65], nk = 0, x = gi;
            while (nk < 64) {
                const struct qp__val *xa = &g->vals[g->nodes[x].args];
                if (xa->b < 2) {
                    nk = 65; /* getitem without a key: nothing to resolve */
                    break;
                }
                keys[nk++] = xa->a + 1;
                uint32_t c = xa->a;
                if (g->vals[c].kind == QP_VAL_NODE &&
                    g->nodes[g->vals[c].a].op == QP_OP_CALL_FUNCTION &&
                    qp__in_list(P, g->vals[c].a, QP__L_GETITEM)) {
                    x = g->vals[c].a;
                    continue;
                }
                keys[nk++] = c; /* the root */
                break;
            }
            if (nk > 64)
                continue;
            struct gval cur = {G_ROOT, 0, 0, 0};
            int st = G_OK;
            const char *why = NULL;
            for (uint32_t k = nk; k-- > 0 && st == G_OK;)
                st = index_step(g, dicts, &cur, keys[k], &why);
            if (st == G_FAIL) {
                rc = qp__errn(g, QP_ERR_INVALID_GRAPH, gi, "%%%s: TypeError: %s (MQBench's "
                              "getitem2node fails here)", qp__sym_str(g, g->nodes[gi].name), why);
                break;
            }
            if (st == G_OK && cur.kind == G_VAL && g->vals[cur.v].kind == QP_VAL_NODE)
                map[gi] = g->vals[cur.v].a;
        }
    }
    qp__free(g, dicts, (size_t)g->nnodes * 2 * sizeof *dicts);
    return rc;
}

/* ==== strategies ==== */

static qp_status
input_strategy(struct qp__prep *P, struct out *o, const uint32_t *g2n)
{
    qp_graph *g = P->g;
    const struct qp__backend *be = P->be;
    bool methods = be->exclude_methods || P->fix;
    struct flat f = {NULL, 0, 0, false, QP_OK};
    qp_status rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        bool listed = qp__in_list(P, n, QP__L_CONSUMER) ||
                      (flags(P, g->nodes[n].name) & QP__SF_ADD_NODE);
        if (excluded(P, n, methods, true)) {
            if (listed)
                rc = qp__explain_add(P, QP_WHY_SKIP_EXCLUDED, n, 0, n);
            continue;
        }
        if (!listed)
            continue;
        if (float_module(P, n)) {
            rc = qp__explain_add(P, QP_WHY_SKIP_FLOAT, n, 0, n);
            continue;
        }
        f.n = 0;
        f.nontensor = false;
        flatten(g, g->nodes[n].args, &f);
        if ((rc = f.rc))
            break;
        if (be->skip_nontensor && f.nontensor) {
            rc = qp__explain_add(P, QP_WHY_SKIP_NON_TENSOR, n, 0, n);
            continue;
        }
        if (be->skip_embedding_add && g->nodes[n].op == QP_OP_CALL_FUNCTION &&
            qp__in_list(P, n, QP__L_ADD)) {
            bool emb = false;
            for (uint32_t i = 0; i < f.n && !emb; i++)
                emb = g->nodes[f.nodes[i]].op == QP_OP_CALL_MODULE &&
                      qp__in_list(P, f.nodes[i], QP__L_EMBED);
            if (emb) {
                rc = qp__explain_add(P, QP_WHY_SKIP_EMBEDDING_ADD, n, 0, n);
                continue;
            }
        }
        uint32_t spec = act_spec(P, n);
        for (uint32_t i = 0; i < f.n && !rc; i++) {
            uint32_t x = f.nodes[i];
            if (is_implicit_merge(P, n, x)) {
                rc = qp__explain_add(P, QP_WHY_SKIP_IMPLICIT_MERGE, x, 0, n);
                continue;
            }
            if (g2n && g2n[x])
                x = g2n[x];
            rc = add(P, o, x, n, QP_WHY_CONSUMER_INPUT, spec);
        }
    }
    qp__free(g, f.nodes, (size_t)f.cap * sizeof *f.nodes);
    return rc;
}

static qp_status
post_strategy(struct qp__prep *P, struct out *o)
{
    qp_graph *g = P->g;
    const struct qp__backend *be = P->be;
    qp_status rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        /* additional_node_name neither lists nor rescues here (MQBench; fixed: as input) */
        if (excluded(P, n, true, P->fix))
            continue;
        if (qp__in_list(P, n, QP__L_CONSUMER) ||
            (P->fix && (flags(P, g->nodes[n].name) & QP__SF_ADD_NODE))) {
            if (float_module(P, n))
                continue;
            uint32_t it = 0, u;
            while ((u = qp__node_next_user(g, n, &it)) != 0 && !rc) {
                const struct qp__node *ur = &g->nodes[u];
                bool pass = (ur->op == QP_OP_CALL_FUNCTION || ur->op == QP_OP_CALL_MODULE) &&
                            qp__in_list(P, u, QP__L_PASS);
                if (pass)
                    rc = add(P, o, u, n, QP_WHY_PASSTHROUGH_OUTPUT, act_spec(P, n));
                else if (be->check_merge && is_implicit_merge(P, u, n))
                    rc = qp__explain_add(P, QP_WHY_SKIP_IMPLICIT_MERGE, n, 0, u);
                else
                    rc = add(P, o, n, u, QP_WHY_OP_OUTPUT, act_spec(P, n));
            }
        } else if (be->output_args && g->nodes[n].op == QP_OP_OUTPUT) {
            /* the graph's outputs; MQBench sees only directly returned nodes (fixed: all) */
            struct flat f = {NULL, 0, 0, false, QP_OK};
            const struct qp__val *a = &g->vals[g->nodes[n].args];
            for (uint32_t i = 0; i < a->b && !rc; i++) {
                uint32_t v = a->a + i;
                f.n = 0;
                if (g->vals[v].kind == QP_VAL_NODE || P->fix)
                    flatten(g, v, &f);
                if ((rc = f.rc))
                    break;
                for (uint32_t k = 0; k < f.n && !rc; k++) {
                    uint32_t x = f.nodes[k];
                    if ((g->nodes[x].op == QP_OP_CALL_FUNCTION &&
                         qp__in_list(P, x, QP__L_GETITEM)) ||
                        g->nodes[x].op == QP_OP_PLACEHOLDER)
                        continue;
                    rc = add(P, o, x, n, QP_WHY_GRAPH_OUTPUT, act_spec(P, x));
                }
            }
            qp__free(g, f.nodes, (size_t)f.cap * sizeof *f.nodes);
        }
    }
    return rc;
}

static qp_status
openvino_strategy(struct qp__prep *P, struct out *o)
{
    qp_graph *g = P->g;
    qp_status rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        const struct qp__node *r = &g->nodes[n];
        if (excluded(P, n, true, false)) {
            rc = qp__explain_add(P, QP_WHY_SKIP_EXCLUDED, n, 0, 0);
            continue;
        }
        if (r->op == QP_OP_CALL_FUNCTION && qp__in_list(P, n, QP__L_OV_PASSED))
            continue;
        if (r->op == QP_OP_PLACEHOLDER) {
            rc = add(P, o, n, 0, QP_WHY_PLACEHOLDER, P->aspec);
            continue;
        }
        if (float_module(P, n))
            continue;
        bool to_output = false, propagated = false;
        uint32_t qualified = 0, it = 0, u;
        bool prev = qp__in_list(P, n, QP__L_OV_PREV);
        while ((u = qp__node_next_user(g, n, &it)) != 0) {
            if (g->nodes[u].op == QP_OP_OUTPUT)
                to_output = true;
            if (prev && qp__in_list(P, u, QP__L_OV_CUR))
                propagated = true;
            if (!qualified && !float_module(P, u) &&
                (qp__in_list(P, u, QP__L_OV_QUAL) || g->nodes[u].op == QP_OP_PLACEHOLDER))
                qualified = u;
        }
        if (to_output)
            rc = qp__explain_add(P, QP_WHY_SKIP_LAST_LAYER, n, 0, 0);
        else if (propagated)
            rc = qp__explain_add(P, QP_WHY_SKIP_PROPAGATED, n, 0, 0);
        else if (qualified)
            rc = add(P, o, n, qualified, QP_WHY_FEEDS_QUANTIZABLE, act_spec(P, qualified));
    }
    return rc;
}

static qp_status
output_strategy(struct qp__prep *P, struct out *o)
{
    qp_graph *g = P->g;
    qp_status rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        bool listed = qp__in_list(P, n, QP__L_OUTPUT);
        if (excluded(P, n, true, false)) {
            if (listed)
                rc = qp__explain_add(P, QP_WHY_SKIP_EXCLUDED, n, 0, 0);
            continue;
        }
        if (listed && !float_module(P, n))
            rc = add(P, o, n, n, QP_WHY_OP_OUTPUT, act_spec(P, n));
    }
    return rc;
}

qp_status
qp__placement(struct qp__prep *P, struct qp__cand **out, uint32_t *n)
{
    qp_graph *g = P->g;
    struct out o = {NULL, 0, 0};
    uint32_t *g2n = NULL;
    qp_status rc = QP_OK;
    *out = NULL;
    *n = 0;
    if (P->be->map_getitem || P->be->map_getitem_all || P->be->check_getitem) {
        g2n = qp__alloc(g, (size_t)g->nnodes * sizeof *g2n);
        if (!g2n)
            return qp__err(g, QP_ERR_NOMEM, "out of memory");
        memset(g2n, 0, (size_t)g->nnodes * sizeof *g2n);
        rc = getitem2node(P, g2n);
    }
    if (!rc) {
        switch (P->be->strategy) {
        case QP__PLACE_OPENVINO:
            rc = openvino_strategy(P, &o);
            break;
        case QP__PLACE_OUTPUT:
            rc = output_strategy(P, &o);
            break;
        default:
            rc = input_strategy(P, &o, P->be->map_getitem ? g2n : NULL);
            if (!rc && P->be->post)
                rc = post_strategy(P, &o);
            if (!rc && P->be->map_getitem_all)
                for (uint32_t i = 0; i < o.n; i++)
                    if (g2n[o.c[i].node])
                        o.c[i].node = g2n[o.c[i].node];
            break;
        }
    }
    qp__free(g, g2n, g2n ? (size_t)g->nnodes * sizeof *g2n : 0);
    if (rc) {
        qp__free(g, o.c, (size_t)o.cap * sizeof *o.c);
        return rc;
    }
    *out = o.c;
    *n = o.n;
    P->ncand_cap = o.cap;
    return QP_OK;
}

/* ==== OPENVINO signedness ==== */

qp_status
qp__ov_unsigned(struct qp__prep *P, uint32_t node, const uint8_t *fq_unsigned, uint32_t *mark,
                uint32_t stamp, uint32_t *queue, bool *out)
{
    qp_graph *g = P->g;
    *out = false;
    if (qp__in_list(P, node, QP__L_OV_UNS)) {
        *out = true;
        return QP_OK;
    }
    if (!qp__in_list(P, node, QP__L_OV_MAYBE))
        return QP_OK;
    /* BFS over top-level args; the shallowest level holding inserted fake-quantizers
     * decides (AND over them). MQBench re-tests `node` where it meant the current
     * node; fixed mode tests the current node. Nodes are visited once, at their
     * shallowest level, which gives the same answer. */
    uint32_t head = 0, tail = 0;
    queue[tail++] = node;
    queue[tail++] = 0; /* level + 1 of the entry above: node's own level is -1 */
    mark[node] = stamp;
    int decided_level = -2;
    bool result = true;
    while (head < tail) {
        uint32_t cur = queue[head++];
        int level = (int)queue[head++] - 1;
        if (decided_level != -2 && level > decided_level)
            break;
        const struct qp__val *a = &g->vals[g->nodes[cur].args];
        for (uint32_t i = 0; i < a->b; i++) {
            const struct qp__val *it = &g->vals[a->a + i];
            if (it->kind != QP_VAL_NODE || mark[it->a] == stamp)
                continue;
            mark[it->a] = stamp;
            queue[tail++] = it->a;
            queue[tail++] = (uint32_t)(level + 2);
        }
        int state = -1;
        if (g->nodes[cur].flags & QP__NODE_FQ)
            state = fq_unsigned[cur];
        else if (P->fix && qp__in_list(P, cur, QP__L_OV_UNS))
            state = 1;
        if (state < 0)
            continue;
        if (decided_level == -2) {
            decided_level = level;
            result = state;
        } else {
            result = result && state;
        }
    }
    *out = decided_level != -2 && result;
    return QP_OK;
}
