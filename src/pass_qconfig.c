/*
 * pass_qconfig.c - the qconfig of every module (MQBench's
 * get_qconfig_by_platform, then the quantizers' own weight overrides, then
 * qprep's per-module overrides).
 *
 * The backend row gives schemes and kinds; the configuration may replace a
 * scheme whole (missing keys take QuantizeScheme's defaults), the kinds and
 * the keyword dicts, except on backends whose fake-quantizer is fixed (NNIE:
 * observers only). OPENVINO's weights are 7-bit; Academic's first and last
 * layers are 8-bit (modules keyed by node target, MQBench's way, or by node
 * in fixed mode). Overrides match by path, type or glob, later ones winning;
 * one with neither scheme leaves its module float.
 * Produces: P->wspec, P->aspec, P->mod_w[], P->mod_a[] (0 = float).
 */
#include "prep.h"

#include <string.h>

static qp_status
eight_bit(struct qp__prep *P, uint32_t spec, uint32_t *out)
{
    return qp__spec_symmetric(P, spec) ? qp__spec_range(P, spec, -128, 127, out)
                                       : qp__spec_range(P, spec, 0, 255, out);
}

/* Marks the top-level node arguments of io node n as 8-bit activations. */
static void
mark_inputs(struct qp__prep *P, uint32_t n)
{
    const qp_graph *g = P->g;
    const struct qp__val *a = &g->vals[g->nodes[n].args];
    for (uint32_t i = 0; i < a->b; i++)
        if (g->vals[a->a + i].kind == QP_VAL_NODE)
            P->eight[g->vals[a->a + i].a] = 1;
}

/* Academic (_get_io_module): nodes with a graph input among their top-level args
 * and the top-level args of the output are the first and last layers. Their
 * modules get 8-bit weights and their inputs 8-bit activations. MQBench keys the
 * io nodes by target, so of several nodes with one target only the last one's
 * inputs are 8-bit; fixed mode keys them by node. */
static qp_status
academic_io(struct qp__prep *P)
{
    qp_graph *g = P->g;
    uint32_t w8, ns = g->st.n;
    qp_status rc = eight_bit(P, P->wspec, &w8);
    if (rc)
        return rc;
    uint32_t *by_target = qp__alloc(g, (size_t)ns * sizeof *by_target);
    P->eight = qp__alloc(g, g->nnodes);
    /* its size is set with it: prep_free frees it by this size, also when by_target failed */
    P->neight = P->eight ? g->nnodes : 0;
    if (!by_target || !P->eight) {
        qp__free(g, by_target, by_target ? (size_t)ns * sizeof *by_target : 0);
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    }
    memset(by_target, 0, (size_t)ns * sizeof *by_target);
    memset(P->eight, 0, g->nnodes);
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next) {
        const struct qp__node *r = &g->nodes[n];
        const struct qp__val *a = &g->vals[r->args];
        for (uint32_t i = 0; i < a->b; i++) {
            const struct qp__val *it = &g->vals[a->a + i];
            if (it->kind != QP_VAL_NODE)
                continue;
            uint32_t io = 0;
            if (r->op == QP_OP_OUTPUT)
                io = it->a;
            else if (g->nodes[it->a].op == QP_OP_PLACEHOLDER)
                io = n;
            if (!io)
                continue;
            by_target[g->nodes[io].target] = io;
            if (P->fix)
                mark_inputs(P, io);
        }
    }
    for (uint32_t t = 1; t < ns; t++) {
        uint32_t io = by_target[t];
        if (!io)
            continue;
        if (!P->fix)
            mark_inputs(P, io);
        /* a target that is a module path: functions are objects, never paths */
        uint32_t m = g->nodes[io].op == QP_OP_CALL_FUNCTION ? 0 : qp__mod_find(g, t);
        if (m)
            P->mod_w[m] = w8;
    }
    qp__free(g, by_target, (size_t)ns * sizeof *by_target);
    return QP_OK;
}

/* Glob match: `*` any run, `?` one character; iterative with one backtrack point. */
static bool
glob(const char *p, const char *s)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (*p == '*') {
            star = p++;
            ss = s;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

static bool
override_matches(struct qp__prep *P, const struct qp__override *o, uint32_t m)
{
    qp_graph *g = P->g;
    const char *what = qp__sym_str(P->cfg->store, o->what);
    const char *path = qp__sym_str(g, g->mods[m].path);
    const char *type = qp__sym_str(g, g->mods[m].type);
    switch (o->how) {
    case QP_MATCH_PATH:
        return !strcmp(what, path);
    case QP_MATCH_PATTERN:
        return glob(what, path);
    default:
        if (qp__type_isa(type, what))
            return true;
        /* a fused container is what its first child is (nni.ConvBnReLU2d: a conv) */
        if (qp__is_fused(P, g->mods[m].type)) {
            uint32_t c = qp__sym_join(g, g->mods[m].path, ".0", 2);
            uint32_t cm = c ? qp__mod_find(g, c) : 0;
            return cm && qp__type_isa(qp__sym_str(g, g->mods[cm].type), what);
        }
        return false;
    }
}

/* The weight and activation specs of rule o (0, 0: float). */
static qp_status
rule_specs(struct qp__prep *P, const struct qp__override *o, uint32_t *w, uint32_t *a)
{
    qp_status rc;
    *w = *a = 0;
    if (!o->has_w && !o->has_a)
        return QP_OK;
    *w = P->wspec;
    *a = P->aspec;
    if ((o->has_w && (rc = qp__spec_side(P, QP_WEIGHT, &o->w, w))) ||
        (o->has_a && (rc = qp__spec_side(P, QP_ACT, &o->a, a))))
        return rc;
    return QP_OK;
}

static qp_status
overrides(struct qp__prep *P)
{
    const qp_config *c = P->cfg;
    qp_graph *g = P->g;
    if (!c->noverrides)
        return QP_OK;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next) {
        for (uint32_t i = c->noverrides; i-- > 0;) {
            const struct qp__override *o = &c->overrides[i];
            if (!override_matches(P, o, m))
                continue;
            qp_status rc = rule_specs(P, o, &P->mod_w[m], &P->mod_a[m]);
            if (rc)
                return rc;
            break; /* the last matching rule wins */
        }
    }
    return QP_OK;
}

/* The path rule naming a container, i.e. a path that is no module of the table (the
 * table holds the leaves torch.fx calls, not layer1 or a Sequential), that is the
 * longest proper dotted prefix of path longer than `longer` bytes; the last such rule
 * when several name it. -1: none. */
static int32_t
container_rule(struct qp__prep *P, const uint8_t *is_container, const char *path, size_t pl,
               size_t longer)
{
    const qp_config *c = P->cfg;
    int32_t best = -1;
    size_t bl = longer;
    for (uint32_t i = 0; i < c->noverrides; i++) {
        if (!is_container[i])
            continue;
        const char *w = qp__sym_str(c->store, c->overrides[i].what);
        size_t wl = qp__sym_len(c->store, c->overrides[i].what);
        if (wl >= bl && wl < pl && path[wl] == '.' && !memcmp(path, w, wl)) {
            best = (int32_t)i;
            bl = wl;
        }
    }
    return best;
}

/* Submodules inherit the nearest ancestor's qconfig (propagate_qconfig_): an ancestor
 * module with its own, or a container a path rule names. */
static qp_status
propagate(struct qp__prep *P, const uint8_t *set)
{
    qp_graph *g = P->g;
    const qp_config *c = P->cfg;
    uint8_t small[16];
    uint8_t *is_container = c->noverrides <= sizeof small ? small : qp__alloc(g, c->noverrides);
    if (c->noverrides && !is_container)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    uint32_t any = 0;
    for (uint32_t i = 0; i < c->noverrides; i++) {
        const struct qp__override *o = &c->overrides[i];
        is_container[i] =
            o->how == QP_MATCH_PATH &&
            !qp__mod_find_str(g, qp__sym_str(c->store, o->what), qp__sym_len(c->store, o->what));
        any |= is_container[i];
    }
    for (uint32_t m = 1; m < g->nmods && !any; m++)
        any = set[m];
    qp_status rc = QP_OK;
    struct qp__anc anc; /* ancestors: the parent chain, nearest first */
    if (any && (rc = qp__anc_init(g, &anc)))
        goto out;
    for (uint32_t m = any ? g->mods[0].next : 0; m && !rc; m = g->mods[m].next) {
        if (set[m])
            continue;
        uint32_t a = qp__mod_parent(g, m, &anc);
        while (a && !set[a])
            a = qp__mod_parent(g, a, &anc);
        /* a container rule nearer than that ancestor wins */
        size_t al = a ? qp__sym_len(g, g->mods[a].path) : 0;
        int32_t r = container_rule(P, is_container, qp__sym_str(g, g->mods[m].path),
                                   qp__sym_len(g, g->mods[m].path), al + 1);
        if (r >= 0) {
            rc = rule_specs(P, &c->overrides[r], &P->mod_w[m], &P->mod_a[m]);
        } else if (a) {
            P->mod_w[m] = P->mod_w[a];
            P->mod_a[m] = P->mod_a[a];
        }
    }
    if (any)
        qp__anc_free(g, &anc);
out:
    if (is_container != small)
        qp__free(g, is_container, c->noverrides);
    return rc;
}

qp_status
qp__pass_qconfig(struct qp__prep *P)
{
    qp_graph *g = P->g;
    qp_status rc;
    /* spec 0 is "none" */
    if (!P->nspecs) {
        if ((rc = QP__GROW(g, P->specs, 0, P->capspecs, 8)))
            return rc;
        memset(&P->specs[0], 0, sizeof P->specs[0]);
        P->specs[0].fq = P->specs[0].obs = -1;
        P->nspecs = 1;
    }
    if ((rc = qp__spec_side(P, QP_WEIGHT, NULL, &P->wspec)) ||
        (rc = qp__spec_side(P, QP_ACT, NULL, &P->aspec)) || (rc = qp__spec_weight_range(P)))
        return rc;
    P->nmod_spec = g->nmods;
    P->mod_w = qp__alloc(g, (size_t)g->nmods * sizeof *P->mod_w);
    P->mod_a = qp__alloc(g, (size_t)g->nmods * sizeof *P->mod_a);
    uint8_t *set = qp__alloc(g, g->nmods);
    if (!P->mod_w || !P->mod_a || !set) {
        qp__free(g, set, g->nmods);
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    }
    for (uint32_t m = 0; m < g->nmods; m++) {
        P->mod_w[m] = P->wspec;
        P->mod_a[m] = P->aspec;
    }
    if (P->be->eightbit_io && (rc = academic_io(P)))
        goto out;
    /* remember which modules got their own qconfig before propagating */
    for (uint32_t m = 0; m < g->nmods; m++)
        set[m] = P->mod_w[m] != P->wspec;
    if ((rc = overrides(P)))
        goto out;
    for (uint32_t m = 0; m < g->nmods; m++)
        set[m] = set[m] || P->mod_w[m] != P->wspec || P->mod_a[m] != P->aspec;
    if ((rc = propagate(P, set)))
        goto out;
    P->st->matched = P->nspecs - 1;
    /* torch's propagate_qconfig_ constructs every qconfig once: range and axis errors
     * fail here even if no quantizer of the spec is ever inserted */
    for (uint32_t i = 1; i < P->nspecs && !rc; i++)
        rc = qp__spec_probe(P, i);
out:
    qp__free(g, set, g->nmods);
    return rc;
}
