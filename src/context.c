/*
 * context.c - the per-run context of prepare that the passes, the placement
 * rules and the quantization specs share: op lists built from the backend row
 * and the configuration, lazily computed facts per symbol, a cache of static
 * names, and the explanations (with the report, what a prepared graph tells).
 * prepare.c, the pipeline above, starts a run and hands its explanations to
 * the graph, which frees them through the hook installed here.
 */
#include "prep.h"

#include <string.h>

/* The cache entry for a name's pointer. Passes ask for the same few static
 * names (keys, types) once per module or node: a hit costs a pointer compare
 * and a strcmp in cache, not a hash and a probe of a large table. */
static struct qp__name_cache *
name_entry(struct qp__prep *P, const char *s)
{
    uint32_t h = (uint32_t)(((uintptr_t)s >> 3) * 0x9e3779b97f4a7c15u >> 40);
    return &P->names[h % (sizeof P->names / sizeof P->names[0])];
}

uint32_t
qp__prep_sym(struct qp__prep *P, const char *s)
{
    struct qp__name_cache *e = name_entry(P, s);
    if (e->s == s && e->sym && !strcmp(qp__sym_str(P->g, e->sym), s))
        return e->sym;
    uint32_t sym;
    if (qp__sym_intern(P->g, s, strlen(s), &sym))
        return 0;
    e->s = s;
    e->sym = sym;
    return sym;
}

uint32_t
qp__prep_key(struct qp__prep *P, const char *s)
{
    struct qp__name_cache *e = name_entry(P, s);
    if (e->s == s && e->sym && !strcmp(qp__sym_str(P->g, e->sym), s))
        return e->sym;
    uint32_t sym = qp__sym_find(P->g, s, strlen(s));
    if (sym) { /* a sym never goes away; "absent" might change, so it is not kept */
        e->s = s;
        e->sym = sym;
    }
    return sym;
}

const struct qp__val *
qp__prep_attr(struct qp__prep *P, uint32_t m, const char *key)
{
    uint32_t k = qp__prep_key(P, key);
    uint32_t v = k ? qp__val_get(P->g, P->g->mods[m].attrs, k) : 0;
    return v ? &P->g->vals[v] : NULL;
}

static qp_status
list_add(struct qp__prep *P, int L, uint8_t kind, const char *name)
{
    struct qp__oplist *l = &P->lists[L];
    qp_status rc = QP__GROW(P->g, l->e, l->n, l->cap, 1);
    if (rc)
        return rc;
    l->e[l->n].kind = kind;
    l->e[l->n].name = name;
    l->n++;
    return QP_OK;
}

static qp_status
list_add_all(struct qp__prep *P, int L, const struct qp__entry *e)
{
    qp_status rc = QP_OK;
    for (; e && e->kind != QP__E_END && !rc; e++)
        rc = list_add(P, L, e->kind, e->name);
    return rc;
}

/* Config names live in the config's store; their strings outlive the run. */
static qp_status
list_add_config(struct qp__prep *P, int L, qp_list which, bool as_module)
{
    const qp_config *c = P->cfg;
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < c->nnames[which] && !rc; i++) {
        const char *s = qp__sym_str(c->store, c->names[which][i]);
        if (as_module)
            rc = list_add(P, L, QP__E_MOD, s);
        else /* a qualified name is a function, a bare name a method (MQBench strings) */
            rc = list_add(P, L, strchr(s, '.') ? QP__E_FUNC : QP__E_METH,
                          strchr(s, '.') ? qp__canon_fn(s) : s);
    }
    return rc;
}

/* The configuration's fusion patterns make fused containers too. */
static qp_status
list_add_fused(struct qp__prep *P)
{
    const qp_config *c = P->cfg;
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < c->nfusions && !rc; i++)
        rc = list_add(P, QP__L_FUSED, QP__E_MOD, qp__sym_str(c->store, c->fusions[i].fused));
    return rc;
}

bool
qp__is_fused(struct qp__prep *P, uint32_t type)
{
    return qp__cls(P, type)->bits >> (3 * QP__L_FUSED) & 1;
}

static qp_status
build_lists(struct qp__prep *P)
{
    const struct qp__backend *be = P->be;
    const struct qp__ov_lists *ov = &qp__ov;
    qp_status rc;
    bool add = be->use_additional_types;
    if ((rc = list_add_all(P, QP__L_CONSUMER, be->consumers)) ||
        (add && (rc = list_add_config(P, QP__L_CONSUMER, QP_ADDITIONAL_FUNCTION_TYPE, false))) ||
        (add && (rc = list_add_config(P, QP__L_CONSUMER, QP_ADDITIONAL_MODULE_TYPE, true))) ||
        (P->fix && (rc = list_add_all(P, QP__L_CONSUMER, qp__fix_consumers))) ||
        (rc = list_add_all(P, QP__L_BASE, be->consumers)) ||
        (rc = list_add_all(P, QP__L_PASS, be->passthrough)) ||
        (rc = list_add_all(P, QP__L_OUTPUT, be->outputs)))
        return rc;
    if ((rc = list_add_all(P, QP__L_OV_QUAL, ov->funcs)) ||
        (rc = list_add_all(P, QP__L_OV_QUAL,
                           P->academic_mode ? ov->academic_modules : ov->modules)) ||
        (add && (rc = list_add_config(P, QP__L_OV_QUAL, QP_ADDITIONAL_MODULE_TYPE, true))) ||
        (rc = list_add_all(P, QP__L_OV_PASSED, ov->passed)) ||
        (!P->academic_mode && (rc = list_add_all(P, QP__L_OV_PASSED, ov->passed_nonacademic))) ||
        (rc = list_add_all(P, QP__L_OV_PREV, ov->prop_prev)) ||
        (rc = list_add_all(P, QP__L_OV_CUR, ov->prop_cur)) ||
        (rc = list_add_all(P, QP__L_OV_UNS,
                           P->academic_mode ? ov->academic_unsigned : ov->unsigned_ops)) ||
        (rc = list_add_all(P, QP__L_OV_MAYBE, ov->funcs)) ||
        (rc = list_add_all(P, QP__L_OV_MAYBE, ov->maybe_unsigned)))
        return rc;
    if ((rc = list_add(P, QP__L_EMBED, QP__E_MOD, "nn.Embedding")) ||
        (rc = list_add(P, QP__L_EMBED, QP__E_MOD, "qnnqat.Embedding")) ||
        (rc = list_add_config(P, QP__L_EXCL_FN, QP_EXCLUDE_FUNCTION_TYPE, false)) ||
        (rc = list_add(P, QP__L_FUSED, QP__E_MOD, "nni._FusedModule")) ||
        (rc = list_add_fused(P)) ||
        (rc = list_add(P, QP__L_GETITEM, QP__E_FUNC, "operator.getitem")) ||
        (rc = list_add(P, QP__L_ADD, QP__E_FUNC, "operator.add")))
        return rc;
    return QP_OK;
}

qp_status
qp__cls_refresh(struct qp__prep *P)
{
    P->ncls = P->g->st.n; /* entries are made as syms are asked about */
    return QP_OK;
}

/* The entry of a sym, made if absent and `make`; NULL if absent (or no memory).
 * A pass asks about a few hundred distinct syms (types, targets, config names),
 * so the table stays small and in cache, whatever the size of the graph. */
static struct qp__symclass *
cls_entry(struct qp__prep *P, uint32_t sym, bool make)
{
    uint32_t h = sym * 2654435761u;
    h ^= h >> 15;
    for (uint32_t i = h & (P->capcls - 1); P->capcls; i = (i + 1) & (P->capcls - 1)) {
        if (P->cls[i].sym == sym)
            return &P->cls[i];
        if (!P->cls[i].sym)
            break;
    }
    if (!make)
        return NULL;
    if ((P->nclsent + 1) * 2 > P->capcls) {
        uint32_t cap = P->capcls ? P->capcls * 2 : 64;
        struct qp__symclass *t = qp__alloc(P->g, (size_t)cap * sizeof *t);
        if (!t)
            return NULL;
        memset(t, 0, (size_t)cap * sizeof *t);
        for (uint32_t k = 0; k < P->capcls; k++) {
            if (!P->cls[k].sym)
                continue;
            uint32_t hk = P->cls[k].sym * 2654435761u;
            hk ^= hk >> 15;
            uint32_t j = hk & (cap - 1);
            while (t[j].sym)
                j = (j + 1) & (cap - 1);
            t[j] = P->cls[k];
        }
        qp__free(P->g, P->cls, (size_t)P->capcls * sizeof *P->cls);
        P->cls = t;
        P->capcls = cap;
    }
    uint32_t i = h & (P->capcls - 1);
    while (P->cls[i].sym)
        i = (i + 1) & (P->capcls - 1);
    memset(&P->cls[i], 0, sizeof P->cls[i]);
    P->cls[i].sym = sym;
    P->nclsent++;
    return &P->cls[i];
}

uint8_t
qp__cls_flags(struct qp__prep *P, uint32_t sym)
{
    const struct qp__symclass *c = sym && sym < P->ncls ? cls_entry(P, sym, false) : NULL;
    return c ? c->flags : 0;
}

static uint64_t
classify(struct qp__prep *P, uint32_t sym)
{
    const char *s = qp__sym_str(P->g, sym);
    const char *canon = qp__canon_fn(s);
    const char *isa[16]; /* what s is an instance of: one walk for every entry */
    uint32_t nisa = qp__type_ancestors(s, isa, 16);
    uint64_t bits = 0;
    for (int L = 0; L < QP__L_COUNT; L++) {
        const struct qp__oplist *l = &P->lists[L];
        for (uint32_t i = 0; i < l->n; i++) {
            const struct qp__entry *e = &l->e[i];
            bool mod = false;
            for (uint32_t k = 0; e->kind == QP__E_MOD && k < nisa && !mod; k++)
                mod = !strcmp(isa[k], e->name);
            if (mod)
                bits |= 1ull << (3 * L);
            else if (e->kind == QP__E_FUNC && !strcmp(canon, e->name))
                bits |= 1ull << (3 * L + 1);
            else if (e->kind == QP__E_METH && !strcmp(s, e->name))
                bits |= 1ull << (3 * L + 2);
        }
    }
    return bits;
}

const struct qp__symclass *
qp__cls(struct qp__prep *P, uint32_t sym)
{
    static const struct qp__symclass none = {0, 0, 1, 0};
    if (sym >= P->ncls || !sym) /* "" names nothing a list holds */
        return &none;           /* a sym made after the last refresh: no pass asks about those */
    struct qp__symclass *c = cls_entry(P, sym, true);
    if (!c) { /* no memory to keep it: answer now, fail the pass after (run()) */
        P->cls_oom = true;
        c = &P->cls_spare;
        memset(c, 0, sizeof *c);
    }
    if (!c->done) {
        c->bits = classify(P, sym);
        c->done = 1;
    }
    return c;
}

bool
qp__in_list(struct qp__prep *P, uint32_t n, int L)
{
    const struct qp__node *r = &P->g->nodes[n];
    switch (r->op) {
    case QP_OP_CALL_MODULE: {
        uint32_t m = qp__mod_find(P->g, r->target);
        return m && (qp__cls(P, P->g->mods[m].type)->bits >> (3 * L) & 1);
    }
    case QP_OP_CALL_FUNCTION:
        return qp__cls(P, r->target)->bits >> (3 * L + 1) & 1;
    case QP_OP_CALL_METHOD:
        return qp__cls(P, r->target)->bits >> (3 * L + 2) & 1;
    default:
        return false;
    }
}

bool
qp__node_is(struct qp__prep *P, uint32_t n, const struct qp__entry *e)
{
    const struct qp__node *r = &P->g->nodes[n];
    switch (e->kind) {
    case QP__E_MOD: {
        if (r->op != QP_OP_CALL_MODULE)
            return false;
        uint32_t m = qp__mod_find(P->g, r->target);
        return m && !strcmp(qp__sym_str(P->g, P->g->mods[m].type), e->name);
    }
    case QP__E_FUNC:
        return r->op == QP_OP_CALL_FUNCTION &&
               !strcmp(qp__canon_fn(qp__sym_str(P->g, r->target)), e->name);
    case QP__E_METH:
        return r->op == QP_OP_CALL_METHOD && !strcmp(qp__sym_str(P->g, r->target), e->name);
    default:
        return false;
    }
}

/* Flags config names (interned into the working graph) on their syms. */
static qp_status
flag_names(struct qp__prep *P, qp_list which, uint8_t flag)
{
    const qp_config *c = P->cfg;
    for (uint32_t i = 0; i < c->nnames[which]; i++) {
        const char *s = qp__sym_str(c->store, c->names[which][i]);
        uint32_t sym = qp__prep_sym(P, s);
        if (!sym)
            return QP_ERR_NOMEM;
        qp_status rc = qp__cls_refresh(P);
        if (rc)
            return rc;
        struct qp__symclass *e = cls_entry(P, sym, true);
        if (!e)
            return qp__err(P->g, QP_ERR_NOMEM, "out of memory");
        e->flags |= flag;
    }
    return QP_OK;
}

qp_status
qp__prep_start(struct qp__prep *P)
{
    qp_status rc;
    if ((rc = build_lists(P)) || (rc = qp__cls_refresh(P)) ||
        (rc = flag_names(P, QP_EXCLUDE_MODULE_NAME, QP__SF_EXCL_MODULE | QP__SF_EXCL_LOCAL)) ||
        (rc = flag_names(P, QP_EXCLUDE_NODE_NAME, QP__SF_EXCL_NODE)))
        return rc;
    return flag_names(P, QP_ADDITIONAL_NODE_NAME, QP__SF_ADD_NODE);
}

qp_status
qp__explain_add(struct qp__prep *P, qp_reason why, uint32_t node, uint32_t fq, uint32_t cause)
{
    struct qp__explain *x = &P->ex;
    if (P->cfg->no_explain)
        return QP_OK;
    qp_status rc = QP__GROW(P->g, x->items, x->n, x->cap, 1);
    if (rc)
        return rc;
    x->items[x->n++] = (struct qp__why){(uint32_t)why, node, fq, cause};
    return QP_OK;
}

static const char *const reason_text[QP_REASON_COUNT] = {
    "input of a listed consumer",
    "output of a pass-through op after a listed op",
    "output of a listed op",
    "a graph output",
    "a graph input",
    "feeds a quantizable op",
    "skipped: implicit merge (no quantizer between these two)",
    "skipped: excluded by the configuration",
    "skipped: a pass-through op",
    "skipped: feeds the graph output (last layer)",
    "skipped: pool or flatten feeding a conv or linear",
    "skipped: consumer has a non-tensor argument",
    "skipped: a sum of embeddings",
    "skipped: consumer left float by an override",
    "already quantized",
};

const char *
qp_reason_str(qp_reason r)
{
    return (unsigned)r < QP_REASON_COUNT ? reason_text[r] : "unknown reason";
}

/* The graph's hook for its explanations (qp_graph.explain_free): the arena frees
 * them without knowing what they are. */
static void
explain_free(qp_graph *g)
{
    struct qp__explain *x = g->explain;
    if (!x)
        return;
    qp__free(g, x->items, (size_t)x->cap * sizeof *x->items);
    qp__free(g, x, sizeof *x);
    g->explain = NULL;
    g->explain_free = NULL;
}

qp_status
qp__explain_keep(struct qp__prep *P)
{
    qp_graph *g = P->g;
    struct qp__explain *x = qp__alloc(g, sizeof *x);
    if (!x)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    *x = P->ex;
    memset(&P->ex, 0, sizeof P->ex);
    explain_free(g);
    g->explain = x;
    g->explain_free = explain_free;
    return QP_OK;
}

uint32_t
qp_graph_num_explain(const qp_graph *g)
{
    const struct qp__explain *x = g ? g->explain : NULL;
    return x ? x->n : 0;
}

qp_status
qp_graph_explain_at(const qp_graph *g, uint32_t i, qp_explain_item *out)
{
    if (!g || !out)
        return QP_ERR_NULL_ARG;
    const struct qp__explain *x = g->explain;
    if (!x || i >= x->n)
        return QP_ERR_INVALID_ARG;
    const struct qp__why *w = &x->items[i];
    memset(out, 0, sizeof *out);
    out->reason = (qp_reason)w->reason;
    out->node.id = w->node;
    out->fq.id = w->fq;
    out->cause.id = w->cause;
    /* names are syms of the graph, stable for its life */
    out->node_name = w->node ? qp__sym_str(g, g->nodes[w->node].name) : NULL;
    out->cause_name = w->cause ? qp__sym_str(g, g->nodes[w->cause].name) : NULL;
    return QP_OK;
}

const qp_report *
qp_graph_report(const qp_graph *g)
{
    return g ? &g->report : NULL;
}

void
qp__prep_drop_module_specs(struct qp__prep *P)
{
    qp__free(P->g, P->mod_w, (size_t)P->nmod_spec * sizeof *P->mod_w);
    qp__free(P->g, P->mod_a, (size_t)P->nmod_spec * sizeof *P->mod_a);
    P->mod_w = P->mod_a = NULL;
    P->nmod_spec = 0;
}
