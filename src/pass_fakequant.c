/*
 * pass_fakequant.c - insert activation fake-quantizers (MQBench's
 * _insert_fake_quantize_for_act_quant).
 *
 * For each producer placement.c chose (first discovery order, each once):
 * a fake-quantizer module `<producer>_post_act_fake_quantizer` at the top of
 * the table, a call_module node of it right after the producer, named as
 * torch.fx names it, and every use of the producer in an args tree moved to
 * it: the quantizer is shared by all consumers, even when one asked for it.
 * MQBench rewrites args only (kwargs keep the raw producer), never looks
 * inside slices, turns list values of dicts in args into tuples and fails on
 * a scalar dict value; fixed mode rewrites kwargs too and leaves dicts be.
 * The spec is the activation qconfig, 8-bit for Academic's first and last
 * layers, unsigned [0, 255] where OPENVINO finds the tensor unsigned; Vitis
 * marks the quantizers "tensor" (and "input" after a graph input).
 * Rewiring costs O(uses of the producer): no rescan of the graph.
 */
#include "prep.h"

#include <string.h>

/* MQBench's _fix_succ_recursivly on dicts inside args (default mode). */
static qp_status
dict_quirk(struct qp__prep *P, uint32_t n, uint32_t v, bool dict_value)
{
    qp_graph *g = P->g;
    struct qp__val *r = &g->vals[v];
    if (r->kind == QP_VAL_NODE)
        return QP_OK;
    if (r->kind == QP_VAL_LIST || r->kind == QP_VAL_TUPLE) {
        if (dict_value)
            r->kind = QP_VAL_TUPLE; /* a list value of a dict comes back a tuple */
        for (uint32_t i = 0; i < g->vals[v].b; i++) {
            uint8_t k = g->vals[g->vals[v].a + i].kind;
            if (k == QP_VAL_TUPLE || k == QP_VAL_LIST || k == QP_VAL_DICT) {
                qp_status rc = dict_quirk(P, n, g->vals[v].a + i, false);
                if (rc)
                    return rc;
            }
        }
        return QP_OK;
    }
    if (r->kind == QP_VAL_DICT) {
        for (uint32_t i = 0; i < g->vals[v].b; i++) {
            qp_status rc = dict_quirk(P, n, g->vals[v].a + i, true);
            if (rc)
                return rc;
        }
        return QP_OK;
    }
    if (!dict_value)
        return QP_OK;
    return qp__errn(g, QP_ERR_INVALID_GRAPH, n, "%%%s has a dict argument holding a %s, which "
                    "MQBench cannot rewrite when it inserts fake-quantizers (\"can not be "
                    "handled now\"); prepare with the fixed mode to accept it",
                    qp__sym_str(g, g->nodes[n].name), qp_val_kind_name((qp_val_kind)r->kind));
}

/* Marks the NODE records a rewrite may move: in args (and kwargs in fixed mode), not
 * inside a call such as slice(...). */
static void
mark_eligible(qp_graph *g, uint32_t v, uint8_t *bits)
{
    const struct qp__val *r = &g->vals[v];
    if (r->kind == QP_VAL_NODE) {
        bits[v >> 3] |= (uint8_t)(1u << (v & 7));
        return;
    }
    if (r->kind == QP_VAL_TUPLE || r->kind == QP_VAL_LIST || r->kind == QP_VAL_DICT)
        for (uint32_t i = 0; i < r->b; i++)
            mark_eligible(g, r->a + i, bits);
}

struct ctx {
    struct qp__prep *P;
    uint8_t *eligible;
    uint32_t nvals0;
    uint8_t *fq_unsigned;
    uint32_t *mark, *queue, stamp;
    uint32_t spec8; /* 8-bit variant of the default activation spec (Academic) */
    /* the hash of the quantizer's module path, made when it was prefetched: for the
     * quantizer being made (cur) and the next one (next); node 0: none */
    struct {
        uint32_t node, fq;
    } cur, next;
};

/* The module path for a producer's fake-quantizer. A module already there is
 * replaced, as MQBench's setattr replaces it (nodes calling that path now call the
 * quantizer); fixed mode keeps it and gives the quantizer a suffix _1, _2, ... */
static uint32_t
fq_path(struct qp__prep *P, uint32_t node, const uint32_t *h)
{
    qp_graph *g = P->g;
    static const char sfx[] = "_post_act_fake_quantizer";
    uint32_t p = qp__sym_join_h(g, g->nodes[node].name, sfx, sizeof sfx - 1, h);
    uint32_t old = p ? qp__mod_find(g, p) : 0;
    if (old && !P->fix) {
        qp__logf(g, QP_LOG_WARN, "fakequant", "module %s is replaced by a fake-quantizer",
                 qp__sym_str(g, p));
        qp__mod_remove_subtree(g, old, &P->st->modules_removed);
        return p;
    }
    for (unsigned k = 1; p && qp__mod_find(g, p); k++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "%s_%u", sfx, k);
        qp__logf(g, QP_LOG_WARN, "fakequant", "module %s exists; using a suffix",
                 qp__sym_str(g, p));
        p = qp__sym_join(g, g->nodes[node].name, buf, (size_t)n);
    }
    return p;
}

static qp_status
insert_one(struct ctx *C, const struct qp__cand *c)
{
    struct qp__prep *P = C->P;
    qp_graph *g = P->g;
    uint32_t spec = c->spec ? c->spec : P->aspec;
    qp_status rc;
    if (P->eight && c->node < P->neight && P->eight[c->node]) {
        rc = qp__spec_symmetric(P, spec) ? qp__spec_range(P, spec, -128, 127, &spec)
                                         : qp__spec_range(P, spec, 0, 255, &spec);
        if (rc)
            return rc;
    }
    if (P->be->strategy == QP__PLACE_OPENVINO && qp__spec_symmetric(P, spec)) {
        bool uns;
        if ((rc = qp__ov_unsigned(P, c->node, C->fq_unsigned, C->mark, ++C->stamp, C->queue,
                                  &uns)))
            return rc;
        if (uns && (rc = qp__spec_range(P, spec, 0, 255, &spec)))
            return rc;
    }
    uint32_t path = fq_path(P, c->node, C->cur.node == c->node ? &C->cur.fq : NULL);
    if (!path)
        return QP_ERR_NOMEM;
    int qt = 0; /* Vitis marks quant types after insertion */
    if ((rc = qp__fq_module_add(P, spec, path, false, qt, 0)))
        return rc;
    /* the node: named by torch.fx from the target, reading the producer */
    uint32_t name, ref, args, fq;
    if ((rc = qp__name_for_call(g, path, &name)))
        return rc;
    /* (producer,): the item and the tuple, built in place (two records) */
    if ((rc = qp__val_push(g, 2, &ref)))
        return rc;
    g->vals[ref].kind = QP_VAL_NODE;
    g->vals[ref].depth = 1;
    g->vals[ref].a = c->node;
    args = ref + 1;
    g->vals[args].kind = QP_VAL_TUPLE;
    g->vals[args].depth = 2;
    g->vals[args].a = ref;
    g->vals[args].b = 1;
    if ((rc = qp__node_new(g, c->node, QP_OP_CALL_MODULE, name, path, args, 0, &fq)))
        return rc;
    g->nodes[fq].flags |= QP__NODE_FQ;
    g->nodes[fq].fq_of = c->node;
    if (C->fq_unsigned)
        C->fq_unsigned[fq] = qp__spec_int(P, spec, "quant_min", -1) == 0;
    /* move the producer's eligible uses (by snapshot nodes) onto the quantizer */
    uint32_t moved = 0;
    for (uint32_t r = g->nodes[c->node].use_head; r;) {
        uint32_t next = g->vals[r].u.use.next;
        if (r < C->nvals0 && (C->eligible[r >> 3] >> (r & 7) & 1) && g->vals[r].b != fq) {
            qp__use_move(g, r, fq);
            moved++;
        }
        r = next;
    }
    P->st->uses_rewired += moved;
    P->st->nodes_added++;
    P->st->fq_inserted++;
    qp__logf(g, QP_LOG_DEBUG, "fakequant", "insert %%%s after %%%s (%s)", qp__sym_str(g, name),
             qp__sym_str(g, g->nodes[c->node].name), qp_reason_str((qp_reason)c->why));
    return qp__explain_add(P, (qp_reason)c->why, c->node, fq, c->cause);
}

/* The fake-quantizer module at path+suffix, or 0. */
static uint32_t
module_at(const qp_graph *g, uint32_t path, const char *suffix)
{
    return qp__mod_find_join(g, path, suffix, strlen(suffix), NULL);
}

/*
 * Vitis (_set_quant_type), after insertion and in MQBench's order: the first user of
 * every graph input is found first (an unused input fails there), then the chosen
 * producers' quantizers become "tensor", the weight quantizers of modules that nodes
 * call "param", and a quantizer right after a graph input "input". Only
 * TqtFakeQuantize is marked, and its observer must take a quant_type.
 */
static qp_status
mark_quant_types(struct qp__prep *P, const struct qp__cand *c, uint32_t k)
{
    qp_graph *g = P->g;
    uint32_t nin = 0;
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next)
        nin += g->nodes[n].op == QP_OP_PLACEHOLDER;
    uint32_t *first = nin ? qp__alloc(g, (size_t)nin * sizeof *first) : NULL;
    if (nin && !first)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    uint32_t nf = 0;
    qp_status rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        if (g->nodes[n].op != QP_OP_PLACEHOLDER)
            continue;
        uint32_t it = 0, u = qp__node_next_user(g, n, &it);
        if (u)
            first[nf++] = u;
        else if (!P->fix)
            rc = qp__errn(g, QP_ERR_INVALID_GRAPH, n, "graph input %%%s has no users "
                          "(MQBench's Vitis quantizer fails on it); prepare with the fixed "
                          "mode to accept it", qp__sym_str(g, g->nodes[n].name));
    }
    for (uint32_t i = 0; i < k && !rc; i++) {
        uint32_t m = module_at(g, g->nodes[c[i].node].name, "_post_act_fake_quantizer");
        if (m)
            rc = qp__fq_set_quant_type(P, m, 1);
    }
    for (uint32_t n = g->nodes[0].next; n && !rc; n = g->nodes[n].next) {
        if (g->nodes[n].op == QP_OP_CALL_FUNCTION || !qp__mod_find(g, g->nodes[n].target))
            continue;
        uint32_t w = module_at(g, g->nodes[n].target, ".weight_fake_quant");
        if (w)
            rc = qp__fq_set_quant_type(P, w, 2);
    }
    for (uint32_t i = 0; i < nf && !rc; i++) {
        uint32_t u = first[i];
        uint32_t m =
            g->nodes[u].op == QP_OP_CALL_FUNCTION ? 0 : qp__mod_find(g, g->nodes[u].target);
        if (m)
            rc = qp__fq_set_quant_type(P, m, 3);
    }
    qp__free(g, first, (size_t)nin * sizeof *first);
    return rc;
}

qp_status
qp__pass_fakequant(struct qp__prep *P)
{
    qp_graph *g = P->g;
    struct qp__cand *cands;
    uint32_t ncand;
    qp_status rc = qp__placement(P, &cands, &ncand);
    if (rc)
        return rc;
    /* the per-module specs served the placement: they go before the graph grows
     * by a quantizer per candidate, and so does everything below that is not
     * needed while it grows (this pass makes the peak of a prepare) */
    qp__prep_drop_module_specs(P);
    struct ctx C;
    memset(&C, 0, sizeof C);
    C.P = P;
    C.nvals0 = g->nvals;
    uint32_t cap = g->nnodes + ncand; /* every node there will be */
    uint32_t nseen = g->nnodes;
    bool ov = P->be->strategy == QP__PLACE_OPENVINO;
    uint8_t *seen = qp__alloc(g, nseen);
    C.eligible = qp__alloc(g, (size_t)C.nvals0 / 8 + 1);
    /* the signedness of inserted quantizers: only OPENVINO's search reads it */
    C.fq_unsigned = ov ? qp__alloc(g, cap) : NULL;
    if (!seen || !C.eligible || (ov && !C.fq_unsigned)) {
        rc = qp__err(g, QP_ERR_NOMEM, "out of memory");
        goto out;
    }
    memset(C.eligible, 0, (size_t)C.nvals0 / 8 + 1);
    if (ov) {
        memset(C.fq_unsigned, 0, cap);
        C.mark = qp__alloc(g, (size_t)cap * 3 * sizeof *C.mark);
        if (!C.mark) {
            rc = qp__err(g, QP_ERR_NOMEM, "out of memory");
            goto out;
        }
        memset(C.mark, 0, (size_t)cap * sizeof *C.mark);
        C.queue = C.mark + cap;
    }
    /* keep the first occurrence of each producer, MQBench's OrderedDict.fromkeys */
    memset(seen, 0, nseen);
    uint32_t k = 0;
    for (uint32_t i = 0; i < ncand; i++) {
        if (seen[cands[i].node]) {
            continue;
        }
        seen[cands[i].node] = 1;
        cands[k++] = cands[i];
    }
    qp__free(g, seen, nseen);
    seen = NULL;
    P->st->matched = k;
    for (uint32_t n = g->nodes[0].next; n && k; n = g->nodes[n].next) {
        if (!P->fix && (rc = dict_quirk(P, n, g->nodes[n].args, false)))
            goto out;
        mark_eligible(g, g->nodes[n].args, C.eligible);
        if (P->fix)
            mark_eligible(g, g->nodes[n].kwargs, C.eligible);
    }
    static const char sfx[] = "_post_act_fake_quantizer";
    for (uint32_t i = 0; i < k && !rc; i++) {
        C.cur = C.next;
        C.next.node = 0;
        if (i + 1 < k) { /* the next quantizer's path: loaded while this one is made */
            uint32_t nm = g->nodes[cands[i + 1].node].name;
            if (qp__sym_prefetch_join(g, nm, sfx, sizeof sfx - 1, &C.next.fq))
                C.next.node = cands[i + 1].node;
        }
        rc = insert_one(&C, &cands[i]);
    }
    if (!rc && P->be->quant_type_marking)
        rc = mark_quant_types(P, cands, k);
out:
    qp__free(g, seen, seen ? nseen : 0);
    qp__free(g, C.eligible, C.eligible ? (size_t)C.nvals0 / 8 + 1 : 0);
    qp__free(g, C.fq_unsigned, C.fq_unsigned ? cap : 0);
    qp__free(g, C.mark, C.mark ? (size_t)cap * 3 * sizeof *C.mark : 0);
    qp__free(g, cands, (size_t)P->ncand_cap * sizeof *cands);
    return rc;
}
