/*
 * pass_swap.c - swap float modules for QAT modules with weight
 * fake-quantizers (MQBench's _weight_quant -> _qat_swap_modules -> _convert,
 * torch's and MQBench's from_float).
 *
 * Every module whose exact type is in the backend's QAT map (plus the
 * configuration's mappings) becomes its QAT type: a plain module keeps its
 * attributes; a fused container takes its .0 child's attributes, plus
 * `freeze_bn: True` for the Bn kinds, and keeps its BatchNorm as child `bn`
 * (made without children, fusekids.c: the originals the fuse pass recorded).
 * Each gets `weight_fake_quant` (+ `.activation_post_process`) built from its
 * weight spec. Children of a fused container are never visited. MQBench
 * compares exclude_module_name with each module's *local* name (the scope
 * argument goes astray); fixed mode compares the full path. A module left
 * float by an override is not swapped.
 * Needs: qconfig pass done, table in tree order. Produces: swapped table.
 */
#include "prep.h"

#include <string.h>

const char *
qp__qat_name(struct qp__prep *P, const char *t, const char **error)
{
    const qp_config *c = P->cfg;
    const char *to = NULL;
    *error = NULL;
    for (uint32_t i = 0; i < c->nqatmaps && !to; i++)
        if (!strcmp(qp__sym_str(c->store, c->qatmaps[i].from), t))
            to = qp__sym_str(c->store, c->qatmaps[i].to);
    for (const struct qp__map *q = P->be->qat_map; q->from && !to; q++)
        if (!strcmp(q->from, t)) {
            to = q->to;
            *error = q->error;
        }
    return to;
}

/* *out: the QAT type a float type swaps to, 0 if none. Interning it may run out of
 * memory, which must not pass for "no mapping" (a module silently left float). */
static qp_status
qat_type(struct qp__prep *P, uint32_t type, uint32_t *out, const char **error)
{
    const char *to = qp__qat_name(P, qp__sym_str(P->g, type), error);
    *out = 0;
    if (*error && P->fix) { /* fixed mode: what torch cannot swap stays float */
        *error = NULL;
        return QP_OK;
    }
    if (to && !(*out = qp__prep_sym(P, to)))
        return QP_ERR_NOMEM;
    return QP_OK;
}

/* Is the module excluded: some component of its path (MQBench) or the path or an
 * ancestor path (fixed mode) is in exclude_module_name? */
static bool
excluded(struct qp__prep *P, uint32_t m)
{
    qp_graph *g = P->g;
    if (!P->cfg->nnames[QP_EXCLUDE_MODULE_NAME]) /* no name is flagged */
        return false;
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t len = qp__sym_len(g, g->mods[m].path);
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && p[j] != '.')
            j++;
        /* local name p[i..j) (MQBench) or the prefix p[0..j) (fixed mode) */
        uint32_t s = P->fix ? qp__sym_find(g, p, j) : qp__sym_find(g, p + i, j - i);
        if (qp__cls_flags(P, s) & QP__SF_EXCL_LOCAL)
            return true;
        i = j + 1;
    }
    return false;
}

/* Which modules are inside a fused container (swapped as a unit with it): in[m] is
 * 1 for those, else 0. The table is in tree order, so a module's descendants are
 * the run right after it (qp__mod_subtree_end): marking the run of each fused
 * module marks exactly the modules with a fused ancestor, comparing neighbouring
 * paths instead of hashing every prefix. Computed before any swap, which only
 * changes modules the backwards walk has passed. */
static void
inside_fused(struct qp__prep *P, uint8_t *in)
{
    qp_graph *g = P->g;
    memset(in, 0, g->nmods);
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next) {
        if (!qp__is_fused(P, g->mods[m].type))
            continue;
        uint32_t last = qp__mod_subtree_end(g, m);
        for (uint32_t x = m; x != last;) {
            x = g->mods[x].next;
            in[x] = 1;
        }
    }
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

/* qat_attrs through a memo keyed by the float dict: modules with one dict (the
 * reader shares equal ones, dup copies share theirs) share one QAT dict too,
 * which saves its records and lets the writer copy its text. An open-addressing
 * table that grows with the distinct dicts (a model has a few to thousands). */
struct attr_memo {
    struct {
        uint32_t src, out; /* out 0: empty */
    } * e;
    uint32_t n, cap; /* cap: 0 or a power of two */
};

static uint32_t *
memo_find(struct attr_memo *am, uint32_t src, uint32_t **out_slot)
{
    uint32_t h = src * 0x9e3779b9u;
    for (uint32_t i = (h ^ h >> 16) & (am->cap - 1);; i = (i + 1) & (am->cap - 1))
        if (!am->e[i].out || am->e[i].src == src) {
            *out_slot = &am->e[i].out;
            return &am->e[i].src;
        }
}

static uint32_t
qat_attrs_memo(struct qp__prep *P, struct attr_memo *am, uint32_t src, bool freeze)
{
    if (!freeze)
        return src;
    uint32_t *key, *out;
    if (am->cap) {
        key = memo_find(am, src, &out);
        if (*out)
            return *out;
    }
    uint32_t d = qat_attrs(P, src, true);
    if (!d)
        return 0;
    qp_graph *g = P->g;
    if ((am->n + 1) * 2 > am->cap) {
        /* out of memory here fails the pass like any other allocation: prepare's
         * allocations are all or nothing (the out-of-memory sweep holds it to that) */
        uint32_t ncap = am->cap ? am->cap * 2 : 64;
        void *t = qp__alloc(g, (size_t)ncap * sizeof *am->e);
        if (!t)
            return 0;
        struct attr_memo nm = {t, 0, ncap};
        memset(nm.e, 0, (size_t)ncap * sizeof *nm.e);
        for (uint32_t i = 0; i < am->cap; i++)
            if (am->e[i].out) {
                *memo_find(&nm, am->e[i].src, &out) = am->e[i].src;
                *out = am->e[i].out;
            }
        nm.n = am->n;
        qp__free(g, am->e, (size_t)am->cap * sizeof *am->e);
        *am = nm;
    }
    key = memo_find(am, src, &out);
    *key = src;
    *out = d;
    am->n++;
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

/* The live module at m's path + sfx, or 0. In tree order it is in m's subtree,
 * the run right after m: found by comparing neighbouring paths, without building
 * the path or hashing it (nor interning it, which could only fail for want of
 * memory and then read as "no such child"). */
static uint32_t
child(const qp_graph *g, uint32_t m, const char *sfx)
{
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t pl = qp__sym_len(g, g->mods[m].path), sl = strlen(sfx);
    for (uint32_t x = g->mods[m].next; x; x = g->mods[x].next) {
        const char *q = qp__sym_str(g, g->mods[x].path);
        size_t ql = qp__sym_len(g, g->mods[x].path);
        if (ql <= pl || memcmp(p, q, pl) != 0 || q[pl] != '.')
            break; /* past m's subtree */
        if (ql == pl + sl && !memcmp(q + pl, sfx, sl))
            return x;
    }
    return 0;
}

/* Attribute `key` of the source attributes, or NULL (qp__prep_attr by dict). */
static const struct qp__val *
src_attr(struct qp__prep *P, uint32_t attrs, const char *key)
{
    uint32_t k = qp__prep_key(P, key);
    uint32_t v = k ? qp__val_get(P->g, attrs, k) : 0;
    return v ? &P->g->vals[v] : NULL;
}

static const char bn_sfx[] = ".bn", wfq_sfx[] = ".weight_fake_quant";

/* The paths a swap of m makes (m.bn, m.weight_fake_quant; its observer's is derived), hashed
 * and their table slots prefetched one swap ahead, so the misses overlap the swap
 * before (k_*: hashed; false when too long to bother). */
struct ahead {
    uint32_t h_bn, h_wfq;
    bool k_bn, k_wfq;
};

static void
prefetch_paths(const qp_graph *g, uint32_t m, struct ahead *a)
{
    uint32_t p = g->mods[m].path;
    a->k_bn = qp__sym_prefetch_join(g, p, bn_sfx, sizeof bn_sfx - 1, &a->h_bn);
    a->k_wfq = qp__sym_prefetch_join(g, p, wfq_sfx, sizeof wfq_sfx - 1, &a->h_wfq);
}

/* The path syms some node calls: at[sym] for sym < n (syms made later are not called). */
struct calls {
    uint8_t *at;
    uint32_t n;
};

static qp_status
swap(struct qp__prep *P, uint32_t m, uint32_t qt, const struct calls *called, struct attr_memo *am,
     const struct ahead *a)
{
    qp_graph *g = P->g;
    const char *qts = qp__sym_str(g, qt);
    uint32_t spec = m < P->nmod_spec ? P->mod_w[m] : P->wspec;
    if (!strcmp(qts, "nnqat.EmbeddingBag"))
        return qp__err(g, QP_ERR_INVALID_QCONFIG,
                       "%s: EmbeddingBag weights need "
                       "per_channel_affine_float_qparams, which no backend uses",
                       qp__sym_str(g, g->mods[m].path));
    bool fused = qp__is_fused(P, g->mods[m].type);
    const struct qp__fkid *fk = fused ? qp__fkids_find(P, m) : NULL;
    uint32_t src = m, bn = 0;
    if (fk) { /* made without children: what they would hold */
        src = 0;
        bn = fk->bn;
        P->st->modules_removed += fk->nkids; /* the report counts them as if made */
        P->nfk_swapped++;
    } else if (fused) {
        uint32_t c0 = child(g, m, ".0");
        if (!c0)
            return qp__err(g, QP_ERR_INVALID_GRAPH, "fused module %s has no child .0",
                           qp__sym_str(g, g->mods[m].path));
        src = c0;
        for (int i = 1; i <= 2 && !bn; i++) {
            char sfx[4] = {'.', (char)('0' + i), 0, 0};
            uint32_t ci = child(g, m, sfx);
            if (ci && !strncmp(qp__sym_str(g, g->mods[ci].type), "nn.BatchNorm", 12))
                bn = ci;
        }
    }
    uint32_t sattrs = fk ? fk->attrs : g->mods[src].attrs;
    bool freeze = qp__freeze_bn_type(qts);
    uint32_t attrs = qat_attrs_memo(P, am, sattrs, freeze);
    if (!attrs)
        return QP_ERR_NOMEM;
    bool axis1 = qp__ch_axis1_type(qts);
    /* fixed mode: a grouped ConvTranspose has no single output-channel axis */
    const struct qp__val *groups = src_attr(P, sattrs, "groups");
    if (P->fix && axis1 && groups && groups->kind == QP_VAL_INT && groups->u.i > 1 &&
        qp__spec_int(P, spec, "ch_axis", -1) != -1) {
        qp_status rc = per_tensor(P, spec, &spec);
        if (rc)
            return rc;
    }
    /* a per-channel axis must exist in the weight (rank from the traced weight_shape) */
    int64_t ch = qp__spec_int(P, spec, "ch_axis", -1);
    const struct qp__val *ws = src_attr(P, sattrs, "weight_shape");
    if (ch != -1 && !axis1 && ws && ws->kind == QP_VAL_TUPLE &&
        (ch < -(int64_t)ws->b || ch >= (int64_t)ws->b))
        return qp__err(g, QP_ERR_INVALID_QCONFIG,
                       "per-channel axis %lld out of range for the "
                       "rank-%u weight of %s",
                       (long long)ch, (unsigned)ws->b, qp__sym_str(g, g->mods[m].path));
    /* LSQ resizes its per-channel scale by out_channels / out_features */
    int fqk = P->specs[spec].fq;
    if (!P->fix && fqk >= 0 && !strcmp(qp__fq_kind(fqk)->name, "LearnableFakeQuantize") &&
        qp__spec_int(P, spec, "ch_axis", -1) != -1 && !src_attr(P, sattrs, "out_channels") &&
        !src_attr(P, sattrs, "out_features"))
        return qp__err(g, QP_ERR_INVALID_QCONFIG,
                       "%s (%s): per-channel LearnableFakeQuantize "
                       "needs out_channels or out_features (MQBench: \"Can not find "
                       "out_channels or out_features\"); use --fix or a per-tensor scheme",
                       qp__sym_str(g, g->mods[m].path), qts);
    /* the children go; bn comes back as `bn`, then the weight fake-quantizer. A child
     * another node calls would be lost (torch fails on the rebuilt GraphModule). */
    uint32_t bn_type = bn ? g->mods[bn].type : 0, bn_attrs = bn ? g->mods[bn].attrs : 0;
    void *bn_user = bn ? qp__mod_user(g, bn) : NULL;
    uint32_t x = g->mods[m].next, last = qp__mod_subtree_end(g, m);
    for (uint32_t y = m; y != last;) {
        y = g->mods[y].next;
        uint32_t p = g->mods[y].path;
        if (p < called->n && called->at[p])
            return qp__err(g, QP_ERR_INVALID_GRAPH,
                           "cannot swap %s for %s: its submodule %s is "
                           "called by a node",
                           qp__sym_str(g, g->mods[m].path), qts, qp__sym_str(g, p));
    }
    /* MQBench's LinearBn1d builds its BatchNorm1d(out_features) and copies the float
     * BN's tensors into it: num_features is the Linear's out_features */
    bool own_bn = bn && qp__bn_out_features_type(qts);
    const struct qp__val *of = own_bn ? src_attr(P, sattrs, "out_features") : NULL;
    const struct qp__val *nf = own_bn ? qp__prep_attr(P, bn, "num_features") : NULL;
    if (of && nf && of->kind == QP_VAL_INT && nf->kind == QP_VAL_INT && of->u.i != nf->u.i) {
        uint32_t key = qp__prep_sym(P, "num_features"), v = qp__val_int(g, of->u.i);
        if (!key || !v || !(bn_attrs = qp__val_dict_set(g, bn_attrs, key, v)))
            return QP_ERR_NOMEM;
    }
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
        uint32_t p = qp__sym_join_h(g, g->mods[m].path, bn_sfx, 3, a->k_bn ? &a->h_bn : NULL), id;
        if (!p)
            return QP_ERR_NOMEM;
        if ((rc = qp__mod_add(g, p, bn_type, bn_attrs, after, &id)) ||
            (rc = qp__mod_set_user(g, id, bn_user)))
            return rc;
        after = id;
        P->st->modules_added++;
    }
    uint32_t wp = qp__sym_join_h(g, g->mods[m].path, wfq_sfx, sizeof wfq_sfx - 1,
                                 a->k_wfq ? &a->h_wfq : NULL);
    if (!wp)
        return QP_ERR_NOMEM;
    if ((rc = qp__fq_module_add(P, spec, wp, axis1, 0, after))) {
        char msg[sizeof g->errmsg];
        memcpy(msg, g->errmsg, sizeof msg);
        return qp__err(g, rc, "weight fake-quantizer of %s: %s", qp__sym_str(g, g->mods[m].path),
                       msg);
    }
    P->st->modules_swapped++;
    qp__logf(g, QP_LOG_DEBUG, "swap", "%s -> %s", qp__sym_str(g, g->mods[m].path), qts);
    return QP_OK;
}

/* The walk over the table, children before parents (backwards in tree order). */
struct swap_walk {
    uint32_t nmods_before;   /* modules from here on were made by this pass */
    const uint8_t *in_fused; /* modules inside a fused module: swapped with it */
    struct {
        uint32_t type, qt;
        const char *error;
    } tc[16]; /* qat_type per float type */
};

/* A module to swap, its QAT type, and the error torch would give swapping it. */
struct cand {
    uint32_t m, qt;
    const char *error;
};

/* The first module to swap at or before m walking backwards; c->m = 0 when none. */
static qp_status
next_cand(struct qp__prep *P, struct swap_walk *w, uint32_t m, struct cand *c)
{
    qp_graph *g = P->g;
    memset(c, 0, sizeof *c);
    for (; m; m = g->mods[m].prev) {
        if (m >= w->nmods_before || excluded(P, m) || w->in_fused[m])
            continue;
        uint32_t qt, type = g->mods[m].type, k = type % 16;
        const char *error;
        if (type && w->tc[k].type == type) {
            qt = w->tc[k].qt;
            error = w->tc[k].error;
        } else {
            qp_status rc = qat_type(P, type, &qt, &error);
            if (rc)
                return rc;
            w->tc[k].type = type;
            w->tc[k].qt = qt;
            w->tc[k].error = error;
        }
        if (qt && (m >= P->nmod_spec || P->mod_w[m])) {
            c->m = m;
            c->qt = qt;
            c->error = error;
            return QP_OK;
        }
    }
    return QP_OK;
}

qp_status
qp__pass_swap(struct qp__prep *P)
{
    qp_graph *g = P->g;
    struct calls called = {qp__alloc(g, g->st.n), g->st.n};
    if (!called.at)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    memset(called.at, 0, called.n);
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next)
        if (g->nodes[n].op == QP_OP_CALL_MODULE)
            called.at[g->nodes[n].target] = 1;
    /* children before parents: walk the table backwards (tree order) */
    uint32_t rc = QP_OK;
    uint32_t nmods_before = g->nmods;
    uint8_t *in_fused = qp__alloc(g, nmods_before);
    if (!in_fused) {
        qp__free(g, called.at, called.n);
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    }
    inside_fused(P, in_fused);
    struct attr_memo am;
    memset(&am, 0, sizeof am);
    struct swap_walk w;
    memset(&w, 0, sizeof w);
    w.nmods_before = nmods_before;
    w.in_fused = in_fused;
    /* one candidate ahead: its paths are prefetched while the current one swaps */
    struct cand cur, nxt;
    struct ahead acur, anxt;
    memset(&acur, 0, sizeof acur);
    memset(&anxt, 0, sizeof anxt);
    rc = next_cand(P, &w, g->mods[0].prev, &cur);
    if (!rc && cur.m)
        prefetch_paths(g, cur.m, &acur);
    while (!rc && cur.m) {
        if (cur.error) {
            rc = qp__err(g, QP_ERR_INVALID_GRAPH,
                         "cannot swap %s (%s) for %s: %s (torch "
                         "fails here too; prepare with the fixed mode to leave it float)",
                         qp__sym_str(g, g->mods[cur.m].path), qp__sym_str(g, g->mods[cur.m].type),
                         qp__sym_str(g, cur.qt), cur.error);
            break;
        }
        /* swapping cur changes only its own subtree, which lies after it in the table */
        if ((rc = next_cand(P, &w, g->mods[cur.m].prev, &nxt)))
            break;
        if (nxt.m)
            prefetch_paths(g, nxt.m, &anxt);
        rc = swap(P, cur.m, cur.qt, &called, &am, &acur);
        cur = nxt;
        acur = anxt;
    }
    qp__free(g, in_fused, nmods_before);
    qp__free(g, am.e, (size_t)am.cap * sizeof *am.e);
    qp__free(g, called.at, called.n);
    /* the fuse pass made no children only for containers it knew this pass takes */
    if (!rc && P->nfk_swapped != P->nfk)
        rc = qp__err(g, QP_ERR_INTERNAL, "%u fused modules made without children not swapped",
                     (unsigned)(P->nfk - P->nfk_swapped));
    qp__fkids_free(P);
    if (rc)
        return (qp_status)rc;
    return qp__mod_gc(g);
}
