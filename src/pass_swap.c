/*
 * pass_swap.c - swap float modules for QAT modules with weight
 * fake-quantizers (MQBench's _weight_quant -> _qat_swap_modules -> _convert,
 * torch's and MQBench's from_float).
 *
 * Every module whose exact type is in the backend's QAT map (plus the
 * configuration's mappings) becomes its QAT type: a plain module keeps its
 * attributes; a fused container takes its .0 child's attributes, plus
 * `freeze_bn: True` for the Bn kinds, and keeps its BatchNorm as child `bn`.
 * Each gets `weight_fake_quant` (+ `.activation_post_process`) built from its
 * weight spec. Children of a fused container are never visited. MQBench
 * compares exclude_module_name with each module's *local* name (the scope
 * argument goes astray); fixed mode compares the full path. A module left
 * float by an override is not swapped.
 * Needs: qconfig pass done, table in tree order. Produces: swapped table.
 */
#include "prep.h"

#include <string.h>

static uint32_t
qat_type(struct qp__prep *P, uint32_t type)
{
    const qp_config *c = P->cfg;
    const char *t = qp__sym_str(P->g, type);
    for (uint32_t i = 0; i < c->nqatmaps; i++)
        if (!strcmp(qp__sym_str(c->store, c->qatmaps[i].from), t))
            return qp__prep_sym(P, qp__sym_str(c->store, c->qatmaps[i].to));
    for (const struct qp__map *q = P->be->qat_map; q->from; q++)
        if (!strcmp(q->from, t))
            return qp__prep_sym(P, q->to);
    return 0;
}

/* Is the module excluded: some component of its path (MQBench) or the path or an
 * ancestor path (fixed mode) is in exclude_module_name? */
static bool
excluded(struct qp__prep *P, uint32_t m)
{
    qp_graph *g = P->g;
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t len = qp__sym_len(g, g->mods[m].path);
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && p[j] != '.')
            j++;
        /* local name p[i..j) (MQBench) or the prefix p[0..j) (fixed mode) */
        uint32_t s = P->fix ? qp__sym_find(g, p, j) : qp__sym_find(g, p + i, j - i);
        if (s && s < P->ncls && (P->cls[s].flags & QP__SF_EXCL_LOCAL))
            return true;
        i = j + 1;
    }
    return false;
}

/* Is the module inside a fused container (which is swapped as a unit)? */
static bool
inside_fused(struct qp__prep *P, uint32_t m)
{
    qp_graph *g = P->g;
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t len = qp__sym_len(g, g->mods[m].path);
    while (len > 0) {
        while (len > 0 && p[len - 1] != '.')
            len--;
        if (!len)
            break;
        len--;
        uint32_t a = qp__mod_find(g, qp__sym_find(g, p, len));
        if (a && qp__is_fused(P, g->mods[a].type))
            return true;
    }
    return false;
}

/* The QAT attributes: the float ones, with freeze_bn: True just before bias. */
static uint32_t
qat_attrs(struct qp__prep *P, uint32_t src, bool freeze)
{
    qp_graph *g = P->g;
    if (!freeze)
        return src;
    uint32_t fb = qp__prep_sym(P, "freeze_bn"), bias = qp__prep_sym(P, "bias");
    uint32_t t = qp__val_bool(g, true);
    if (!fb || !bias || !t)
        return 0;
    uint32_t n = g->vals[src].b, first = g->vals[src].a, k = 0;
    uint32_t *items = qp__alloc(g, (size_t)(n + 1) * 2 * sizeof *items);
    if (!items)
        return 0;
    uint32_t *keys = items + n + 1;
    bool placed = false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t key = g->vals[first + i].key;
        if (key == fb)
            continue;
        if (key == bias && !placed) {
            items[k] = t;
            keys[k++] = fb;
            placed = true;
        }
        items[k] = first + i;
        keys[k++] = key;
    }
    if (!placed) {
        items[k] = t;
        keys[k++] = fb;
    }
    uint32_t d = qp__val_agg(g, QP_VAL_DICT, 0, k, items, keys);
    qp__free(g, items, (size_t)(n + 1) * 2 * sizeof *items);
    return d;
}

/* A per-tensor version of a per-channel spec (fixed mode, grouped ConvTranspose). */
static qp_status
per_tensor(struct qp__prep *P, uint32_t spec, uint32_t *out)
{
    qp_graph *g = P->g;
    uint32_t kw = P->specs[spec].kwargs;
    uint32_t ch = qp__prep_sym(P, "ch_axis"), qs = qp__prep_sym(P, "qscheme");
    bool sym = qp__spec_symmetric(P, spec);
    uint32_t chv = qp__val_int(g, -1);
    uint32_t qsn = qp__prep_sym(P, sym ? "per_tensor_symmetric" : "per_tensor_affine");
    uint32_t qsv = qsn ? qp__val_strsym(g, QP_VAL_STR, qsn) : 0;
    if (!ch || !qs || !chv || !qsv)
        return QP_ERR_NOMEM;
    if (!(kw = qp__val_dict_set(g, kw, ch, chv)) || !(kw = qp__val_dict_set(g, kw, qs, qsv)))
        return QP_ERR_NOMEM;
    qp_status rc = QP__GROW(g, P->specs, P->nspecs, P->capspecs, 1);
    if (rc)
        return rc;
    P->specs[P->nspecs] = P->specs[spec];
    memset(P->specs[P->nspecs].fq_attrs, 0, sizeof P->specs[P->nspecs].fq_attrs);
    memset(P->specs[P->nspecs].obs_attrs, 0, sizeof P->specs[P->nspecs].obs_attrs);
    P->specs[P->nspecs].kwargs = kw;
    *out = P->nspecs++;
    return QP_OK;
}

static qp_status
swap(struct qp__prep *P, uint32_t m, uint32_t qt, const uint8_t *called)
{
    qp_graph *g = P->g;
    const char *qts = qp__sym_str(g, qt);
    uint32_t spec = m < P->nmod_spec ? P->mod_w[m] : P->wspec;
    if (!strcmp(qts, "nnqat.EmbeddingBag"))
        return qp__err(g, QP_ERR_INVALID_QCONFIG, "%s: EmbeddingBag weights need "
                       "per_channel_affine_float_qparams, which no backend uses",
                       qp__sym_str(g, g->mods[m].path));
    bool fused = qp__is_fused(P, g->mods[m].type);
    uint32_t src = m, bn = 0;
    if (fused) {
        uint32_t c0 = qp__mod_find(g, qp__sym_join(g, g->mods[m].path, ".0", 2));
        if (!c0)
            return qp__err(g, QP_ERR_INVALID_GRAPH, "fused module %s has no child .0",
                           qp__sym_str(g, g->mods[m].path));
        src = c0;
        for (int i = 1; i <= 2 && !bn; i++) {
            char sfx[4] = {'.', (char)('0' + i), 0, 0};
            uint32_t ci = qp__mod_find(g, qp__sym_join(g, g->mods[m].path, sfx, 2));
            if (ci && !strncmp(qp__sym_str(g, g->mods[ci].type), "nn.BatchNorm", 12))
                bn = ci;
        }
    }
    bool freeze = qp__freeze_bn_type(qts);
    uint32_t attrs = qat_attrs(P, g->mods[src].attrs, freeze);
    if (!attrs)
        return QP_ERR_NOMEM;
    bool axis1 = qp__ch_axis1_type(qts);
    /* fixed mode: a grouped ConvTranspose has no single output-channel axis */
    const struct qp__val *groups = qp__mod_attr(g, src, "groups");
    if (P->fix && axis1 && groups && groups->kind == QP_VAL_INT && groups->u.i > 1 &&
        qp__spec_int(P, spec, "ch_axis", -1) != -1) {
        qp_status rc = per_tensor(P, spec, &spec);
        if (rc)
            return rc;
    }
    /* a per-channel axis must exist in the weight (rank from the traced weight_shape) */
    int64_t ch = qp__spec_int(P, spec, "ch_axis", -1);
    const struct qp__val *ws = qp__mod_attr(g, src, "weight_shape");
    if (ch != -1 && !axis1 && ws && ws->kind == QP_VAL_TUPLE && (ch < -(int64_t)ws->b ||
                                                                 ch >= (int64_t)ws->b))
        return qp__err(g, QP_ERR_INVALID_QCONFIG, "per-channel axis %lld out of range for the "
                       "rank-%u weight of %s", (long long)ch, (unsigned)ws->b,
                       qp__sym_str(g, g->mods[m].path));
    /* LSQ resizes its per-channel scale by out_channels / out_features */
    int fqk = P->specs[spec].fq;
    if (!P->fix && fqk >= 0 && !strcmp(qp__fq_kind(fqk)->name, "LearnableFakeQuantize") &&
        qp__spec_int(P, spec, "ch_axis", -1) != -1 && !qp__mod_attr(g, src, "out_channels") &&
        !qp__mod_attr(g, src, "out_features"))
        return qp__err(g, QP_ERR_INVALID_QCONFIG, "%s (%s): per-channel LearnableFakeQuantize "
                       "needs out_channels or out_features (MQBench: \"Can not find "
                       "out_channels or out_features\"); use --fix or a per-tensor scheme",
                       qp__sym_str(g, g->mods[m].path), qts);
    /* the children go; bn comes back as `bn`, then the weight fake-quantizer */
    uint32_t bn_type = bn ? g->mods[bn].type : 0, bn_attrs = bn ? g->mods[bn].attrs : 0;
    void *bn_user = bn ? g->mods[bn].user : NULL;
    uint32_t x = g->mods[m].next, last = qp__mod_subtree_end(g, m);
    if (last != m) {
        for (;;) {
            uint32_t nx = g->mods[x].next;
            bool end = x == last;
            qp__mod_remove(g, x);
            P->st->modules_removed++;
            if (end)
                break;
            x = nx;
        }
    }
    g->mods[m].type = qt;
    g->mods[m].attrs = attrs;
    uint32_t after = m;
    qp_status rc;
    if (bn) {
        uint32_t p = qp__sym_join(g, g->mods[m].path, ".bn", 3), id;
        if (!p)
            return QP_ERR_NOMEM;
        if ((rc = qp__mod_add(g, p, bn_type, bn_attrs, after, &id)))
            return rc;
        g->mods[id].user = bn_user;
        after = id;
        P->st->modules_added++;
    }
    uint32_t wp = qp__sym_join(g, g->mods[m].path, ".weight_fake_quant", 18);
    if (!wp)
        return QP_ERR_NOMEM;
    /* Vitis marks the weight quantizers of called modules "param" */
    int qtype = P->be->quant_type_marking && called[g->mods[m].path] ? 2 : 0;
    if ((rc = qp__fq_module_add(P, spec, wp, axis1, qtype, after))) {
        char msg[sizeof g->errmsg];
        memcpy(msg, g->errmsg, sizeof msg);
        return qp__err(g, rc, "weight fake-quantizer of %s: %s", qp__sym_str(g, g->mods[m].path),
                       msg);
    }
    P->st->modules_swapped++;
    qp__logf(g, QP_LOG_DEBUG, "swap", "%s -> %s", qp__sym_str(g, g->mods[m].path), qts);
    return QP_OK;
}

qp_status
qp__pass_swap(struct qp__prep *P)
{
    qp_graph *g = P->g;
    uint32_t ns = g->st.n;
    uint8_t *called = qp__alloc(g, ns);
    if (!called)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    memset(called, 0, ns);
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next)
        if (g->nodes[n].op == QP_OP_CALL_MODULE)
            called[g->nodes[n].target] = 1;
    /* children before parents: walk the table backwards (tree order) */
    uint32_t rc = QP_OK;
    uint32_t nmods_before = g->nmods;
    for (uint32_t m = g->mods[0].prev; m && !rc;) {
        uint32_t prev = g->mods[m].prev;
        if (m >= nmods_before) { /* made by this pass */
            m = prev;
            continue;
        }
        if (excluded(P, m) || inside_fused(P, m)) {
            m = prev;
            continue;
        }
        uint32_t qt = qat_type(P, g->mods[m].type);
        if (qt && (m >= P->nmod_spec || P->mod_w[m]))
            rc = swap(P, m, qt, called);
        m = prev;
    }
    qp__free(g, called, ns);
    if (rc)
        return (qp_status)rc;
    return qp__mod_gc(g);
}
