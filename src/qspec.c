/*
 * qspec.c - quantization specs and the fake-quantizer modules built from
 * them, as MQBench's QuantizeScheme.to_observer_params(), FQ.with_args(...)
 * and the QuantizeBase / ObserverBase constructors do it, checks included.
 *
 * A spec is (fake-quantizer kind, observer kind, kwargs dict). Its attribute
 * dicts are built once and shared by every module made from it: values are
 * immutable, so sharing is safe and keeps a million-node graph small.
 */
#include "prep.h"

#include <math.h>
#include <string.h>

#define EPS 1.1920928955078125e-07 /* torch.finfo(torch.float32).eps */

static qp_status
push_spec(struct qp__prep *P, int fq, int obs, uint32_t kwargs, uint32_t *out)
{
    qp_status rc = QP__GROW(P->g, P->specs, P->nspecs, P->capspecs, 1);
    if (rc)
        return rc;
    struct qp__qspec *s = &P->specs[P->nspecs];
    memset(s, 0, sizeof *s);
    s->fq = (int8_t)fq;
    s->obs = (int8_t)obs;
    s->kwargs = kwargs;
    *out = P->nspecs++;
    return QP_OK;
}

/* Copies a value of the config store into the working graph (no node references). */
static uint32_t
import(qp_graph *g, const qp_graph *src, uint32_t v)
{
    const struct qp__val *r = &src->vals[v];
    uint32_t sym;
    switch (r->kind) {
    case QP_VAL_NONE:
        return qp__val_none(g);
    case QP_VAL_BOOL:
        return qp__val_bool(g, r->u.i != 0);
    case QP_VAL_INT:
        return qp__val_int(g, r->u.i);
    case QP_VAL_FLOAT:
        return qp__val_float(g, r->u.f);
    case QP_VAL_STR:
    case QP_VAL_IDENT:
        if (qp__sym_intern(g, qp__sym_str(src, r->a), qp__sym_len(src, r->a), &sym))
            return 0;
        return qp__val_strsym(g, r->kind, sym);
    default: {
        /* aggregates: items first, then the run; depth is bounded by the parser */
        uint32_t n = r->b, first = r->a, name = 0;
        uint8_t kind = r->kind;
        if (kind == QP_VAL_CALL &&
            qp__sym_intern(g, qp__sym_str(src, r->u.name), qp__sym_len(src, r->u.name), &name))
            return 0;
        uint32_t *items = qp__alloc(g, (size_t)(n ? n : 1) * 2 * sizeof *items);
        if (!items)
            return 0;
        uint32_t out = 0;
        bool ok = true;
        for (uint32_t i = 0; i < n && ok; i++) {
            items[i] = import(g, src, first + i);
            uint32_t k = src->vals[first + i].key;
            items[n + i] = 0;
            if (!items[i] ||
                (k && qp__sym_intern(g, qp__sym_str(src, k), qp__sym_len(src, k), &items[n + i])))
                ok = false;
        }
        if (ok)
            out = qp__val_agg(g, kind, name, n, items, kind == QP_VAL_DICT ? items + n : NULL);
        qp__free(g, items, (size_t)(n ? n : 1) * 2 * sizeof *items);
        return out;
    }
    }
}

/* kwargs[key] = v (v a value of the working graph). */
static qp_status
kw_set(struct qp__prep *P, uint32_t *d, const char *key, uint32_t v)
{
    uint32_t k = qp__prep_sym(P, key);
    if (!k || !v)
        return QP_ERR_NOMEM;
    uint32_t nd = qp__val_dict_set(P->g, *d, k, v);
    if (!nd)
        return QP_ERR_NOMEM;
    *d = nd;
    return QP_OK;
}

static uint32_t
str_val(struct qp__prep *P, const char *s)
{
    uint32_t sym = qp__prep_sym(P, s);
    return sym ? qp__val_strsym(P->g, QP_VAL_STR, sym) : 0;
}

/* Adds every item of store dict src (if any) to *d, in order. */
static qp_status
kw_merge(struct qp__prep *P, uint32_t *d, uint32_t src, bool skip_scheme_keys)
{
    if (!src)
        return QP_OK;
    const qp_graph *st = P->cfg->store;
    const struct qp__val *r = &st->vals[src];
    for (uint32_t i = 0; i < r->b; i++) {
        const struct qp__val *it = &st->vals[r->a + i];
        const char *k = qp__sym_str(st, it->key);
        if (skip_scheme_keys && (!strcmp(k, "bit") || !strcmp(k, "symmetry") ||
                                 !strcmp(k, "per_channel") || !strcmp(k, "pot_scale") ||
                                 !strcmp(k, "symmetric_range")))
            continue;
        uint32_t v = import(P->g, st, r->a + i);
        qp_status rc = kw_set(P, d, k, v);
        if (rc)
            return rc;
    }
    return QP_OK;
}

qp_status
qp__spec_make(struct qp__prep *P, int fq, int obs, const qp_qscheme *s, uint32_t scheme_dict,
              uint32_t fakeq_params, uint32_t obs_args, const char *what, uint32_t *out)
{
    qp_graph *g = P->g;
    int64_t b = s->bit;
    int64_t half = (int64_t)1 << (b - 1);
    int64_t qmin = s->symmetry ? (s->symmetric_range ? -half + 1 : -half) : 0;
    int64_t qmax = s->symmetry ? half - 1 : ((int64_t)1 << b) - 1;
    char qs[32];
    qp__fmt(qs, sizeof qs, "%s_%s", s->per_channel ? "per_channel" : "per_tensor",
            s->symmetry ? "symmetric" : "affine");
    /* observer params, in to_observer_params() order, then the scheme's extra
     * keywords, then *_observer_extra_args (later keys replace earlier ones) */
    uint32_t op = qp__val_empty(g, QP_VAL_DICT);
    qp_status rc;
    if ((rc = kw_set(P, &op, "quant_min", qp__val_int(g, qmin))) ||
        (rc = kw_set(P, &op, "quant_max", qp__val_int(g, qmax))) ||
        (rc = kw_set(P, &op, "dtype", str_val(P, s->symmetry ? "qint8" : "quint8"))) ||
        (rc = kw_set(P, &op, "pot_scale", qp__val_bool(g, s->pot_scale))) ||
        (rc = kw_set(P, &op, "qscheme", str_val(P, qs))) ||
        (rc = kw_set(P, &op, "reduce_range", qp__val_bool(g, false))) ||
        (rc = kw_set(P, &op, "ch_axis", qp__val_int(g, s->per_channel ? 0 : -1))) ||
        (rc = kw_merge(P, &op, scheme_dict, true)) || (rc = kw_merge(P, &op, obs_args, false)))
        return rc;
    /* FQ.with_args(observer=..., **fakeq_params, **observer_params) */
    uint32_t kw = qp__val_empty(g, QP_VAL_DICT);
    if ((rc = kw_merge(P, &kw, fakeq_params, false)))
        return rc;
    const struct qp__val *fr = &g->vals[kw];
    for (uint32_t i = 0; i < fr->b; i++) {
        uint32_t k = g->vals[fr->a + i].key;
        if (!strcmp(qp__sym_str(g, k), "observer") || qp__val_get(g, op, k))
            return qp__err(g, QP_ERR_INVALID_CONFIG, "%s: %s_fakeq_params sets '%s', which "
                           "the quantization scheme already sets", what, what[0] == 'w' ? "w" : "a",
                           qp__sym_str(g, k));
    }
    const struct qp__val *orr = &g->vals[op];
    for (uint32_t i = 0; i < orr->b; i++) {
        uint32_t k = g->vals[orr->a + i].key;
        if ((rc = kw_set(P, &kw, qp__sym_str(g, k), qp__val_get(g, op, k))))
            return rc;
        orr = &g->vals[op];
    }
    return push_spec(P, fq, obs, kw, out);
}

static void
to_qscheme(const struct qp__scheme *s, qp_qscheme *q)
{
    q->bit = s->bit;
    q->symmetry = s->sym;
    q->per_channel = s->per_channel;
    q->pot_scale = s->pot;
    q->symmetric_range = s->symrange;
}

qp_status
qp__spec_side(struct qp__prep *P, qp_side side, const qp_qscheme *override, uint32_t *out)
{
    const struct qp__backend *be = P->be;
    const qp_config *c = P->cfg;
    qp_config *cm = (qp_config *)(uintptr_t)c; /* for error text only */
    const char *fqn = side == QP_WEIGHT ? be->w_fq : be->a_fq;
    const char *obn = side == QP_WEIGHT ? be->w_obs : be->a_obs;
    if (c->obs[side])
        obn = qp__sym_str(c->store, c->obs[side]);
    if (c->fq[side] && !be->fixed_fakequant)
        fqn = qp__sym_str(c->store, c->fq[side]);
    if (!fqn || !obn)
        return qp__err(P->g, QP_ERR_INVALID_CONFIG, "backend %s needs %s_fakequantize and "
                       "%s_observer from the configuration", be->name, side ? "a" : "w",
                       side ? "a" : "w");
    int fq = qp__fq_find(fqn), obs = qp__obs_find(obn);
    qp_qscheme s;
    uint32_t dict = 0;
    qp_status rc;
    to_qscheme(side == QP_WEIGHT ? &be->w : &be->a, &s);
    if (override) {
        s = *override;
    } else if (c->qscheme[side] && !be->fixed_fakequant) {
        dict = c->qscheme[side];
        if ((rc = qp__config_scheme(cm, dict, &s, side ? "a_qscheme" : "w_qscheme")))
            return qp__err(P->g, rc, "%s", cm->errmsg);
    }
    uint32_t fqp = 0, oba = 0;
    if (!be->fixed_fakequant) {
        fqp = c->kwargs[side == QP_WEIGHT ? QP_W_FAKEQ_PARAMS : QP_A_FAKEQ_PARAMS];
        oba = c->kwargs[side == QP_WEIGHT ? QP_W_OBSERVER_EXTRA_ARGS : QP_A_OBSERVER_EXTRA_ARGS];
    }
    return qp__spec_make(P, fq, obs, &s, dict, fqp, oba, side ? "a" : "w", out);
}

qp_status
qp__spec_weight_range(struct qp__prep *P)
{
    if (P->be->weight_range != QP__WRANGE_OPENVINO)
        return QP_OK;
    bool sym = qp__spec_symmetric(P, P->wspec);
    if (sym && P->academic_mode)
        return qp__spec_range(P, P->wspec, -63, 63, &P->wspec);
    return sym ? qp__spec_range(P, P->wspec, -64, 63, &P->wspec)
               : qp__spec_range(P, P->wspec, 0, 127, &P->wspec);
}

qp_status
qp__spec_range(struct qp__prep *P, uint32_t spec, int64_t qmin, int64_t qmax, uint32_t *out)
{
    /* reuse an identical derived spec */
    for (uint32_t i = 1; i < P->nspecs; i++) {
        const struct qp__qspec *s = &P->specs[i];
        if (s->fq == P->specs[spec].fq && s->obs == P->specs[spec].obs &&
            qp__spec_int(P, i, "quant_min", 1) == qmin &&
            qp__spec_int(P, i, "quant_max", 1) == qmax) {
            /* same kwargs apart from the range? */
            const struct qp__val *a = &P->g->vals[s->kwargs],
                                 *b = &P->g->vals[P->specs[spec].kwargs];
            bool same = a->b == b->b;
            for (uint32_t k = 0; same && k < a->b; k++) {
                const struct qp__val *x = &P->g->vals[a->a + k];
                const char *key = qp__sym_str(P->g, x->key);
                if (!strcmp(key, "quant_min") || !strcmp(key, "quant_max"))
                    continue;
                uint32_t y = qp__val_get(P->g, P->specs[spec].kwargs, x->key);
                same = y && qp__val_equal(P->g, a->a + k, y);
            }
            if (same) {
                *out = i;
                return QP_OK;
            }
        }
    }
    uint32_t kw = P->specs[spec].kwargs;
    qp_status rc;
    if ((rc = kw_set(P, &kw, "quant_min", qp__val_int(P->g, qmin))) ||
        (rc = kw_set(P, &kw, "quant_max", qp__val_int(P->g, qmax))))
        return rc;
    return push_spec(P, P->specs[spec].fq, P->specs[spec].obs, kw, out);
}

/* The id of kwargs[key] of a spec, or 0. Ids, not pointers: the pool moves. */
static uint32_t
kw_get(struct qp__prep *P, uint32_t spec, const char *key)
{
    uint32_t k = qp__prep_key(P, key);
    return k ? qp__val_get(P->g, P->specs[spec].kwargs, k) : 0;
}

int64_t
qp__spec_int(struct qp__prep *P, uint32_t spec, const char *key, int64_t dflt)
{
    uint32_t v = kw_get(P, spec, key);
    const struct qp__val *r = &P->g->vals[v];
    return v && (r->kind == QP_VAL_INT || r->kind == QP_VAL_BOOL) ? r->u.i : dflt;
}

static bool
str_is(struct qp__prep *P, uint32_t v, const char *s)
{
    const struct qp__val *r = &P->g->vals[v];
    return v && r->kind == QP_VAL_STR && !strcmp(qp__sym_str(P->g, r->a), s);
}

bool
qp__spec_symmetric(struct qp__prep *P, uint32_t spec)
{
    uint32_t q = kw_get(P, spec, "qscheme");
    return str_is(P, q, "per_tensor_symmetric") || str_is(P, q, "per_channel_symmetric");
}

/* ==== building the modules ==== */

static bool
listed(const char *k, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(k, *set))
            return true;
    return false;
}

static int
floor_log2(uint64_t x)
{
    int r = 0;
    while (x >>= 1)
        r++;
    return r;
}

static const char *const qt_names[4] = {NULL, "tensor", "param", "input"};

/* One attribute of the output dicts: key and value id. */
struct attr {
    const char *key;
    uint32_t v;
};

static uint32_t
make_dict(struct qp__prep *P, const struct attr *a, uint32_t n)
{
    uint32_t items[20], keys[20];
    for (uint32_t i = 0; i < n; i++) {
        items[i] = a[i].v;
        keys[i] = qp__prep_sym(P, a[i].key);
        if (!items[i] || !keys[i])
            return 0;
    }
    return qp__val_agg(P->g, QP_VAL_DICT, 0, n, items, keys);
}

/* The observer's range and axis checks (torch's _ObserverBase, MQBench's observers):
 * what fails whenever a quantizer of the spec is constructed. */
static qp_status
check_range(struct qp__prep *P, uint32_t spec, int64_t *qmin_out, int64_t *qmax_out,
            int64_t *ch_out, bool *rr_out)
{
    qp_graph *g = P->g;
    const struct qp__obskind *ok = qp__obs_kind(P->specs[spec].obs);
    uint32_t vqmin = kw_get(P, spec, "quant_min"), vqmax = kw_get(P, spec, "quant_max");
    uint32_t vdtype = kw_get(P, spec, "dtype");
    bool rr = qp__spec_int(P, spec, "reduce_range", 0) != 0;
    int64_t qmin, qmax;
    if (vqmin && vqmax && g->vals[vqmin].kind == QP_VAL_INT && g->vals[vqmax].kind == QP_VAL_INT) {
        qmin = g->vals[vqmin].u.i;
        qmax = g->vals[vqmax].u.i;
        /* torch validates ranges wider than 8 bits as [-128, 127] (MQBench restores them) */
        int64_t lo = qmin, hi = qmax;
        /* the width qmax - qmin + 1 is > 256 or < 0; computed unsigned, since the
         * configuration may give any 64-bit values (the difference overflows int64) */
        bool odd = qmax >= qmin ? (uint64_t)qmax - (uint64_t)qmin > 255
                                : (uint64_t)qmin - (uint64_t)qmax > 1;
        if (odd) {
            lo = -128;
            hi = 127;
        }
        if (!(lo <= 0 && 0 <= hi))
            return qp__err(g, QP_ERR_INVALID_QCONFIG, "quantization range [%lld, %lld] must "
                           "include 0", (long long)qmin, (long long)qmax);
        if (!(lo < hi))
            return qp__err(g, QP_ERR_INVALID_QCONFIG, "quant_min %lld must be less than "
                           "quant_max %lld", (long long)qmin, (long long)qmax);
    } else if (str_is(P, vdtype, "qint8")) {
        qmin = rr ? -64 : -128;
        qmax = rr ? 63 : 127;
    } else if (!vdtype || str_is(P, vdtype, "quint8")) {
        qmin = 0;
        qmax = rr ? 127 : 255;
    } else {
        qmin = 0;
        qmax = 15;
    }
    if (qmin > qmax)
        return qp__err(g, QP_ERR_INVALID_QCONFIG, "quant_min %lld is greater than quant_max %lld",
                       (long long)qmin, (long long)qmax);
    int64_t ch = qp__spec_int(P, spec, "ch_axis", -1);
    if (ok->per_tensor_only && ch != -1)
        return qp__err(g, QP_ERR_INVALID_QCONFIG, "%s works per tensor only (ch_axis %lld)",
                       ok->name, (long long)ch);
    *qmin_out = qmin;
    *qmax_out = qmax;
    *ch_out = ch;
    *rr_out = rr;
    return QP_OK;
}

qp_status
qp__spec_probe(struct qp__prep *P, uint32_t spec)
{
    int64_t qmin, qmax, ch;
    bool rr;
    return check_range(P, spec, &qmin, &qmax, &ch, &rr);
}

/* Builds (once) the attribute dicts of spec for an axis override and quant_type. */
static qp_status
build(struct qp__prep *P, uint32_t spec, bool axis1, int qt)
{
    qp_graph *g = P->g;
    struct qp__qspec *s = &P->specs[spec];
    if (s->fq_attrs[axis1][qt])
        return QP_OK;
    const struct qp__fqkind *fk = qp__fq_kind(s->fq);
    const struct qp__obskind *ok = qp__obs_kind(s->obs);
    static const char *const base_kw[] = {"dtype",     "qscheme",  "reduce_range",
                                          "quant_min", "quant_max", "ch_axis",
                                          "pot_scale", "factory_kwargs", NULL};
    /* every kwarg goes to the fake-quantizer or the observer, which must accept it */
    const struct qp__val *kr = &g->vals[s->kwargs];
    for (uint32_t i = 0; i < kr->b; i++) {
        const char *k = qp__sym_str(g, g->vals[kr->a + i].key);
        if (listed(k, fk->consumes) || listed(k, base_kw) || listed(k, ok->accepted) ||
            (ok->p && !strcmp(k, "p")) || (ok->ema_ratio && !strcmp(k, "ema_ratio")) ||
            (ok->quant_type && !strcmp(k, "quant_type")))
            continue;
        return qp__err(g, QP_ERR_INVALID_CONFIG, "%s does not take the keyword argument '%s' "
                       "(from the configuration)", ok->name, k);
    }
    uint32_t vdtype = kw_get(P, spec, "dtype"), vqs = kw_get(P, spec, "qscheme");
    bool rr;
    int64_t qmin, qmax, ch;
    qp_status rc = check_range(P, spec, &qmin, &qmax, &ch, &rr);
    if (rc)
        return rc;
    if (axis1 && ch != -1)
        ch = 1;
    bool symq = str_is(P, vqs, "per_tensor_symmetric") || str_is(P, vqs, "per_channel_symmetric");
    /* values given as keywords are used as they are; the rest are made here (every
     * constructor may move the pool, so only ids are held) */
    uint32_t pot = kw_get(P, spec, "pot_scale");
    uint32_t vp = kw_get(P, spec, "p"), vema = kw_get(P, spec, "ema_ratio");
    uint32_t vgs = kw_get(P, spec, "use_grad_scaling");
    uint32_t qsv = vqs ? vqs : str_val(P, "per_tensor_affine");
    uint32_t dtv = vdtype ? vdtype : str_val(P, "quint8");
    uint32_t qtv = qt ? str_val(P, qt_names[qt]) : qp__val_none(g);
    uint32_t vmin = qp__val_int(g, qmin), vmax = qp__val_int(g, qmax), vch = qp__val_int(g, ch);
    uint32_t eps = qp__val_float(g, EPS), rrv = qp__val_bool(g, rr);
    uint32_t pv = vp ? vp : qp__val_float(g, 2.0);
    uint32_t emav = vema ? vema : qp__val_float(g, 0.9);
    uint32_t gsv = vgs ? vgs : qp__val_bool(g, true);
    /* qmin <= qmax here; the width is computed unsigned, as it may not fit in int64
     * (it wraps to 0 for the whole 64-bit range, whose log2 is 64) */
    uint64_t width = (uint64_t)qmax - (uint64_t)qmin + 1;
    uint32_t bw = qp__val_int(g, width ? floor_log2(width) : 64);
    uint32_t minv = qp__val_float(g, HUGE_VAL), maxv = qp__val_float(g, -HUGE_VAL);
    uint32_t symv = qp__val_bool(g, symq);
    if (!pot)
        pot = qp__val_bool(g, false);
    if (!pot || !qsv || !dtv || !qtv || !vmin || !vmax || !vch || !eps || !rrv || !pv || !emav ||
        !gsv || !bw || !minv || !maxv || !symv)
        return QP_ERR_NOMEM;
    /* the printed order: eps, p, min_val, max_val, quant_min, quant_max, ch_axis, pot_scale,
     * bitwidth, qscheme, is_symmetric_quant, dtype, ema_ratio, quant_type,
     * use_grad_scaling, reduce_range */
    struct attr fa[16], oa[16];
    uint32_t nf = 0, no = 0;
    if (fk->eps)
        fa[nf++] = (struct attr){"eps", eps};
    fa[nf++] = (struct attr){"quant_min", vmin};
    fa[nf++] = (struct attr){"quant_max", vmax};
    fa[nf++] = (struct attr){"ch_axis", vch};
    fa[nf++] = (struct attr){"pot_scale", pot};
    fa[nf++] = (struct attr){"bitwidth", bw};
    fa[nf++] = (struct attr){"qscheme", qsv};
    fa[nf++] = (struct attr){"is_symmetric_quant", symv};
    fa[nf++] = (struct attr){"dtype", dtv};
    if (fk->quant_type)
        fa[nf++] = (struct attr){"quant_type", qtv};
    if (fk->grad_scaling)
        fa[nf++] = (struct attr){"use_grad_scaling", gsv};
    oa[no++] = (struct attr){"eps", eps};
    if (ok->p)
        oa[no++] = (struct attr){"p", pv};
    oa[no++] = (struct attr){"min_val", minv};
    oa[no++] = (struct attr){"max_val", maxv};
    oa[no++] = (struct attr){"quant_min", vmin};
    oa[no++] = (struct attr){"quant_max", vmax};
    oa[no++] = (struct attr){"ch_axis", vch};
    oa[no++] = (struct attr){"pot_scale", pot};
    oa[no++] = (struct attr){"qscheme", qsv};
    oa[no++] = (struct attr){"dtype", dtv};
    if (ok->ema_ratio)
        oa[no++] = (struct attr){"ema_ratio", emav};
    if (ok->quant_type)
        oa[no++] = (struct attr){"quant_type", qtv};
    oa[no++] = (struct attr){"reduce_range", rrv};
    uint32_t fd = make_dict(P, fa, nf), od = make_dict(P, oa, no);
    if (!fd || !od)
        return QP_ERR_NOMEM;
    s = &P->specs[spec];
    s->fq_attrs[axis1][qt] = fd;
    s->obs_attrs[axis1][qt] = od;
    return QP_OK;
}

qp_status
qp__fq_module_add(struct qp__prep *P, uint32_t spec, uint32_t path, bool axis1, int qt,
                  uint32_t after)
{
    qp_status rc = build(P, spec, axis1, qt);
    if (rc)
        return rc;
    qp_graph *g = P->g;
    struct qp__qspec *sp = &P->specs[spec];
    if (!sp->fq_type || !sp->obs_type) { /* made once per spec */
        char tn[64];
        qp__fmt(tn, sizeof tn, "fq.%s", qp__fq_kind(sp->fq)->name);
        sp->fq_type = qp__prep_sym(P, tn);
        qp__fmt(tn, sizeof tn, "obs.%s", qp__obs_kind(sp->obs)->name);
        sp->obs_type = qp__prep_sym(P, tn);
    }
    uint32_t ft = sp->fq_type, ot = sp->obs_type;
    if (!ft || !ot)
        return QP_ERR_NOMEM;
    /* the observer's path is derived from path (its bytes written only if read):
     * a module already there holds them in a sym of its own, looked for only in a
     * graph that has ever had such a module */
    if (qp__mod_find(g, path) ||
        (g->obs_sfx_paths && qp__mod_find_join(g, path, QP__OBS_SFX, QP__OBS_SFX_LEN, NULL)))
        return qp__err(g, QP_ERR_DUP_NAME, "module %s already exists", qp__sym_str(g, path));
    uint32_t m, o, opath;
    if ((rc = qp__sym_derive_obs(g, path, &opath)))
        return rc;
    if ((rc = qp__mod_add(g, path, ft, P->specs[spec].fq_attrs[axis1][qt], after, &m)))
        return rc;
    if ((rc = qp__mod_add(g, opath, ot, P->specs[spec].obs_attrs[axis1][qt], m, &o))) {
        qp__mod_remove(g, m);
        return rc;
    }
    if (P->st)
        P->st->modules_added += 2;
    return QP_OK;
}

/* quant_type on an existing module's dict: replace the key, sharing per (dict, value). */
static qp_status
set_qt(struct qp__prep *P, uint32_t m, int qt)
{
    qp_graph *g = P->g;
    uint32_t key = qp__prep_sym(P, "quant_type");
    uint32_t v = str_val(P, qt_names[qt]);
    if (!key || !v)
        return QP_ERR_NOMEM;
    /* modules sharing a dict share the marked one too (a few recent pairs kept) */
    uint32_t from = g->mods[m].attrs;
    for (uint32_t i = 0; i < 8; i++)
        if (P->qtc[i].from == from && P->qtc[i].qt == (uint32_t)qt) {
            g->mods[m].attrs = P->qtc[i].to;
            return QP_OK;
        }
    uint32_t d = qp__val_dict_set(g, from, key, v);
    if (!d)
        return QP_ERR_NOMEM;
    g->mods[m].attrs = d;
    P->qtc[P->nqtc % 8].from = from;
    P->qtc[P->nqtc % 8].qt = (uint32_t)qt;
    P->qtc[P->nqtc % 8].to = d;
    P->nqtc++;
    return QP_OK;
}

qp_status
qp__fq_set_quant_type(struct qp__prep *P, uint32_t m, int qt)
{
    qp_graph *g = P->g;
    if (strcmp(qp__sym_str(g, g->mods[m].type), "fq.TqtFakeQuantize"))
        return QP_OK;
    uint32_t o = qp__mod_find_join(g, g->mods[m].path, QP__OBS_SFX, QP__OBS_SFX_LEN, NULL);
    if (!o)
        return QP_OK;
    const char *ot = qp__sym_str(g, g->mods[o].type);
    int k = strncmp(ot, "obs.", 4) ? -1 : qp__obs_find(ot + 4);
    if (k < 0 || !qp__obs_kind(k)->quant_type)
        return qp__err(g, QP_ERR_INVALID_CONFIG, "%s has no quant_type to set (TqtFakeQuantize "
                       "needs MinMaxFloorObserver or PoTModeObserver)", ot);
    qp_status rc = set_qt(P, m, qt);
    return rc ? rc : set_qt(P, o, qt);
}
