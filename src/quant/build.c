/*
 * build.c - quantizers as prepare builds them: the keyword arguments MQBench's
 * FQ.with_args(observer=OBS, **kwargs) receives, resolved into struct
 * qp__qargs, from prepare's own spec machinery (qp__prepare_quantizer) or
 * from the attributes of a prepared graph's modules. The one file of the
 * runtime that reads graphs and configurations.
 */
#include "../prep.h"
#include "qint.h"

#include <stdio.h>
#include <string.h>

/* dict[key] of g, or NULL. */
static const struct qp__val *
get(const qp_graph *g, uint32_t dict, const char *key)
{
    if (!dict)
        return NULL;
    uint32_t k = qp__sym_find(g, key, strlen(key));
    uint32_t v = k ? qp__val_get(g, dict, k) : 0;
    return v ? &g->vals[v] : NULL;
}

static bool
num(const struct qp__val *v, double *out)
{
    if (!v)
        return false;
    if (v->kind == QP_VAL_FLOAT)
        *out = v->u.f;
    else if (v->kind == QP_VAL_INT || v->kind == QP_VAL_BOOL)
        *out = (double)v->u.i;
    else
        return false;
    return true;
}

static bool
integer(const struct qp__val *v, int64_t *out)
{
    if (!v || (v->kind != QP_VAL_INT && v->kind != QP_VAL_BOOL))
        return false;
    *out = v->u.i;
    return true;
}

static const char *
str(const qp_graph *g, const struct qp__val *v)
{
    return v && (v->kind == QP_VAL_STR || v->kind == QP_VAL_IDENT) ? qp__sym_str(g, v->a) : NULL;
}

static int
quant_type_code(const char *s)
{
    static const char *const names[] = {"tensor", "param", "input"};
    if (!s)
        return 0;
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i]))
            return i + 1;
    return -1;
}

/* A keyword's value from the first dict that has it (module attributes first). */
static const struct qp__val *
pick(const qp_graph *g, const uint32_t *dicts, const qp_graph *const *gs, uint32_t n,
     const char *key, const qp_graph **from)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct qp__val *v = get(gs[i], dicts[i], key);
        if (v) {
            *from = gs[i];
            return v;
        }
    }
    (void)g;
    return NULL;
}

qp_status
qp__qargs_resolve(const qp_graph *mg, uint32_t fq_mod, uint32_t obs_mod, const qp_graph *kg,
                  uint32_t kwargs, struct qp__qargs *a, char *err, size_t cap)
{
    const char *ft = qp__sym_str(mg, mg->mods[fq_mod].type);
    const char *ot = obs_mod ? qp__sym_str(mg, mg->mods[obs_mod].type) : "";
    const char *path = qp__sym_str(mg, mg->mods[fq_mod].path);
    memset(a, 0, sizeof *a);
    a->fq = QP_FQ_COUNT;
    a->obs = QP_OBS_COUNT;
    for (int k = 0; k < QP_FQ_COUNT; k++)
        if (!strncmp(ft, "fq.", 3) && !strcmp(ft + 3, qp_fq_kind_name((qp_fq_kind)k)))
            a->fq = (qp_fq_kind)k;
    for (int k = 0; k < QP_OBS_COUNT; k++)
        if (!strncmp(ot, "obs.", 4) && !strcmp(ot + 4, qp_obs_kind_name((qp_obs_kind)k)))
            a->obs = (qp_obs_kind)k;
    if (a->fq == QP_FQ_COUNT || a->obs == QP_OBS_COUNT) {
        snprintf(err, cap, "module %s: %s with observer %s is no fake-quantizer MQBench names",
                 path, ft, obs_mod ? ot : "(none)");
        return QP_ERR_INVALID_GRAPH;
    }
    /* the modules' printed attributes win; the spec's keywords fill in the rest */
    uint32_t dicts[3] = {mg->mods[fq_mod].attrs, obs_mod ? mg->mods[obs_mod].attrs : 0, kwargs};
    const qp_graph *gs[3] = {mg, mg, kg ? kg : mg};
    const qp_graph *src;
    const struct qp__val *v;
    int64_t i64;
    double d;
    if (!integer(pick(mg, dicts, gs, 3, "quant_min", &src), &a->quant_min) ||
        !integer(pick(mg, dicts, gs, 3, "quant_max", &src), &a->quant_max)) {
        snprintf(err, cap, "module %s: quant_min and quant_max must be integers", path);
        return QP_ERR_INVALID_GRAPH;
    }
    if (a->quant_min > a->quant_max || a->quant_min > 0 || a->quant_max < 0 ||
        a->quant_max - a->quant_min > ((int64_t)1 << 31)) {
        snprintf(err, cap, "module %s: range [%lld, %lld] does not hold 0 or is too wide", path,
                 (long long)a->quant_min, (long long)a->quant_max);
        return QP_ERR_INVALID_QCONFIG;
    }
    a->ch_axis = -1;
    if (integer(pick(mg, dicts, gs, 3, "ch_axis", &src), &i64)) {
        if (i64 < -1 || i64 >= QP_QUANT_MAX_DIMS) {
            snprintf(err, cap, "module %s: ch_axis %lld is out of range", path, (long long)i64);
            return QP_ERR_INVALID_QCONFIG;
        }
        a->ch_axis = (int)i64;
    }
    v = pick(mg, dicts, gs, 3, "qscheme", &src);
    const char *qs = str(src, v);
    a->symmetric = qs && strstr(qs, "symmetric") != NULL;
    if (qs && !strncmp(qs, "per_tensor", 10))
        a->ch_axis = -1;
    v = pick(mg, dicts, gs, 3, "dtype", &src);
    a->qint8 = str(src, v) && !strcmp(str(src, v), "qint8");
    a->pot_scale = integer(pick(mg, dicts, gs, 3, "pot_scale", &src), &i64) && i64;
    a->reduce_range = integer(pick(mg, dicts, gs, 3, "reduce_range", &src), &i64) && i64;
    a->eps = num(pick(mg, dicts, gs, 3, "eps", &src), &d) ? d : QP__EPS_F32;
    a->ema_ratio = num(pick(mg, dicts, gs, 3, "ema_ratio", &src), &d) ? d : 0.9;
    a->p = num(pick(mg, dicts, gs, 3, "p", &src), &d) ? d : 2.0;
    a->threshold = num(pick(mg, dicts, gs, 3, "threshold", &src), &d) ? d : 0.99999;
    a->bins = integer(pick(mg, dicts, gs, 3, "bins", &src), &i64) ? i64 : 2048;
    a->std_scale = num(pick(mg, dicts, gs, 3, "std_scale", &src), &d) ? d : 2.6;
    a->has_alpha = num(pick(mg, dicts, gs, 3, "alpha", &src), &a->alpha);
    a->has_scale = num(pick(mg, dicts, gs, 3, "scale", &src), &a->scale);
    a->has_zero_point = num(pick(mg, dicts, gs, 3, "zero_point", &src), &a->zero_point);
    a->use_grad_scaling =
        !integer(pick(mg, dicts, gs, 3, "use_grad_scaling", &src), &i64) || i64 != 0;
    v = pick(mg, dicts, gs, 3, "quant_type", &src);
    a->quant_type = v && v->kind != QP_VAL_NONE ? quant_type_code(str(src, v)) : 0;
    if (a->quant_type < 0) {
        snprintf(err, cap, "module %s: quant_type must be \"tensor\", \"param\" or \"input\"",
                 path);
        return QP_ERR_INVALID_QCONFIG;
    }
    return QP_OK;
}

static void
set_err(qp_error *err, qp_status st, const char *msg)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->status = st;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
}

qp_status
qp_quant_create(const qp_allocator *alloc, qp_backend be, qp_side side, const qp_config *cfg,
                const qp_quant_opts *opts, qp_quant **out, qp_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!out) {
        set_err(err, QP_ERR_NULL_ARG, "out is NULL");
        return QP_ERR_NULL_ARG;
    }
    *out = NULL;
    qp_quant_opts o = opts ? *opts : qp_quant_opts_default();
    int qt = quant_type_code(o.quant_type);
    if (qt < 0) {
        set_err(err, QP_ERR_INVALID_ARG,
                "quant_type must be NULL, \"tensor\", \"param\" or "
                "\"input\"");
        return QP_ERR_INVALID_ARG;
    }
    if (o.ch_axis >= QP_QUANT_MAX_DIMS) {
        set_err(err, QP_ERR_INVALID_ARG, "ch_axis is larger than a tensor's dimensions");
        return QP_ERR_INVALID_ARG;
    }
    qp_graph *g;
    qp_status rc = qp_graph_create(alloc, &g);
    if (rc) {
        set_err(err, rc, "out of memory");
        return rc;
    }
    uint32_t m = 0, kw = 0;
    char msg[512];
    msg[0] = 0;
    rc = qp__prepare_quantizer(g, be, cfg, side, false, qt, &m, &kw);
    if (rc) {
        snprintf(msg, sizeof msg, "%s", qp_graph_errmsg(g));
    } else {
        struct qp__qargs a;
        static const char opn[] = "q.activation_post_process";
        uint32_t om = qp__mod_find_str(g, opn, sizeof opn - 1);
        rc = qp__qargs_resolve(g, m, om, g, kw, &a, msg, sizeof msg);
        if (!rc && o.ch_axis >= 0 && a.ch_axis >= 0)
            a.ch_axis = o.ch_axis;
        a.fix = cfg && cfg->fix;
        if (!rc)
            rc = qp__quant_new(alloc, &a, out, msg, sizeof msg);
    }
    qp_graph_destroy(g);
    if (rc)
        set_err(err, rc, msg);
    return rc;
}
