/*
 * config.c - qp_config: what MQBench's prepare_custom_config_dict can say
 * (extra_qconfig_dict, extra_quantizer_dict, extra_fuse_dict, preserve_attr)
 * plus per-module overrides and the fixed mode. Every setter validates first
 * and changes nothing on failure; strings and values live in a private
 * graph used as a store, so one allocator owns everything.
 */
#include "prep.h"

#include <string.h>

static qp_status
cerr(qp_config *c, qp_status st, const char *fmt, ...) QP__PRINTF(3, 4);

static qp_status
cerr(qp_config *c, qp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    if (n < 0)
        c->errmsg[0] = 0;
    return st;
}

/* A failure inside the store: carry its message. */
static qp_status
store_err(qp_config *c, qp_status st)
{
    return cerr(c, st, "%s", c->store->errmsg[0] ? c->store->errmsg : qp_status_str(st));
}

qp_status
qp_config_create(const qp_allocator *alloc, qp_config **out)
{
    if (!out)
        return QP_ERR_NULL_ARG;
    *out = NULL;
    qp_config *c = qp__raw_alloc(alloc, NULL, 0, sizeof *c);
    if (!c)
        return QP_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    if (alloc)
        c->alloc = *alloc;
    qp_status rc = qp_graph_create(alloc, &c->store);
    if (rc) {
        qp__raw_alloc(alloc, c, sizeof *c, 0);
        return rc;
    }
    *out = c;
    return QP_OK;
}

void
qp_config_destroy(qp_config *c)
{
    if (!c)
        return;
    qp_graph *s = c->store;
    for (int i = 0; i < QP_LIST_COUNT; i++)
        qp__free(s, c->names[i], (size_t)c->capnames[i] * sizeof *c->names[i]);
    qp__free(s, c->fusions, (size_t)c->capfusions * sizeof *c->fusions);
    qp__free(s, c->qatmaps, (size_t)c->capqatmaps * sizeof *c->qatmaps);
    qp__free(s, c->preserve, (size_t)c->cappreserve * sizeof *c->preserve);
    qp__free(s, c->overrides, (size_t)c->capoverrides * sizeof *c->overrides);
    qp_graph_destroy(s);
    qp_allocator a = c->alloc;
    qp__raw_alloc(&a, c, sizeof *c, 0);
}

const char *
qp_config_errmsg(const qp_config *c)
{
    return c ? c->errmsg : "no config";
}

qp_qscheme
qp_qscheme_default(void)
{
    qp_qscheme s = {8, true, false, false, false};
    return s;
}

static qp_status
intern(qp_config *c, const char *s, uint32_t *out)
{
    qp_status rc = qp__sym_intern(c->store, s, strlen(s), out);
    return rc ? store_err(c, rc) : QP_OK;
}

static const char *const side_name[2] = {"w", "a"};

#define BEGIN(c)                                                                           \
    do {                                                                                   \
        if (!(c))                                                                          \
            return QP_ERR_NULL_ARG;                                                        \
        (c)->errmsg[0] = 0;                                                                \
    } while (0)

static qp_status
check_side(qp_config *c, qp_side side)
{
    if ((unsigned)side > QP_ACT)
        return cerr(c, QP_ERR_INVALID_ARG, "side %d is neither QP_WEIGHT nor QP_ACT", (int)side);
    return QP_OK;
}

qp_status
qp_config_set_observer(qp_config *c, qp_side side, const char *name)
{
    BEGIN(c);
    qp_status rc = check_side(c, side);
    if (rc)
        return rc;
    if (!name)
        return cerr(c, QP_ERR_NULL_ARG, "%s_observer: name is NULL", side_name[side]);
    if (qp__obs_find(name) < 0)
        return cerr(c, QP_ERR_INVALID_CONFIG, "%s_observer: unknown observer '%.64s' (known: %s)",
                    side_name[side], name, qp__obs_names());
    return intern(c, name, &c->obs[side]);
}

qp_status
qp_config_set_fakequant(qp_config *c, qp_side side, const char *name)
{
    BEGIN(c);
    qp_status rc = check_side(c, side);
    if (rc)
        return rc;
    if (!name)
        return cerr(c, QP_ERR_NULL_ARG, "%s_fakequantize: name is NULL", side_name[side]);
    if (qp__fq_find(name) < 0)
        return cerr(c, QP_ERR_INVALID_CONFIG,
                    "%s_fakequantize: unknown fake-quantizer '%.64s' (known: %s)",
                    side_name[side], name, qp__fq_names());
    return intern(c, name, &c->fq[side]);
}

static qp_status
check_scheme(qp_config *c, const qp_qscheme *s, const char *what)
{
    if (!((s->bit >= 2 && s->bit <= 16) || s->bit == 32))
        return cerr(c, QP_ERR_INVALID_QCONFIG, "%s: bit width %d outside 2..16 or 32", what,
                    s->bit);
    return QP_OK;
}

/* Builds the scheme dict {bit, symmetry, per_channel, pot_scale, symmetric_range}. */
static qp_status
scheme_dict(qp_config *c, const qp_qscheme *s, uint32_t *out)
{
    qp_graph *g = c->store;
    static const char *const keys[] = {"bit", "symmetry", "per_channel", "pot_scale",
                                       "symmetric_range"};
    qp_val v[5];
    qp_status rc;
    if ((rc = qp_val_new_int(g, s->bit, &v[0])) ||
        (rc = qp_val_new_bool(g, s->symmetry, &v[1])) ||
        (rc = qp_val_new_bool(g, s->per_channel, &v[2])) ||
        (rc = qp_val_new_bool(g, s->pot_scale, &v[3])) ||
        (rc = qp_val_new_bool(g, s->symmetric_range, &v[4])))
        return store_err(c, rc);
    qp_val d;
    if ((rc = qp_val_new_dict(g, 5, keys, v, &d)))
        return store_err(c, rc);
    *out = d.id;
    return QP_OK;
}

qp_status
qp_config_set_qscheme(qp_config *c, qp_side side, const qp_qscheme *s)
{
    BEGIN(c);
    qp_status rc = check_side(c, side);
    if (rc)
        return rc;
    if (!s)
        return cerr(c, QP_ERR_NULL_ARG, "%s_qscheme: scheme is NULL", side_name[side]);
    char what[16];
    qp__fmt(what, sizeof what, "%s_qscheme", side_name[side]);
    uint32_t d = 0;
    if ((rc = check_scheme(c, s, what)) || (rc = scheme_dict(c, s, &d)))
        return rc;
    c->qscheme[side] = d;
    return QP_OK;
}

/* ==== schemes given as dicts (files, and the setter above) ==== */

static bool
key_is(const qp_graph *g, const struct qp__val *item, const char *k)
{
    return !strcmp(qp__sym_str(g, item->key), k);
}

qp_status
qp__config_scheme(qp_config *c, uint32_t dict, qp_qscheme *s, const char *what)
{
    qp_graph *g = c->store;
    *s = qp_qscheme_default();
    const struct qp__val *d = &g->vals[dict];
    for (uint32_t i = 0; i < d->b; i++) {
        const struct qp__val *it = &g->vals[d->a + i];
        bool *flag = key_is(g, it, "symmetry")          ? &s->symmetry
                     : key_is(g, it, "per_channel")     ? &s->per_channel
                     : key_is(g, it, "pot_scale")       ? &s->pot_scale
                     : key_is(g, it, "symmetric_range") ? &s->symmetric_range
                                                        : NULL;
        if (flag) {
            if (it->kind != QP_VAL_BOOL)
                return cerr(c, QP_ERR_INVALID_CONFIG, "%s.%s must be True or False", what,
                            qp__sym_str(g, it->key));
            *flag = it->u.i != 0;
        } else if (key_is(g, it, "bit")) {
            if (it->kind != QP_VAL_INT)
                return cerr(c, QP_ERR_INVALID_CONFIG, "%s.bit must be an integer", what);
            if (it->u.i < -1000 || it->u.i > 1000)
                return cerr(c, QP_ERR_INVALID_QCONFIG, "%s: bit width %lld outside 2..16 or 32",
                            what, (long long)it->u.i);
            s->bit = (int)it->u.i;
        }
        /* any other key is a QuantizeScheme keyword passed on to the observer */
    }
    return check_scheme(c, s, what);
}

/* ==== keyword arguments ==== */

static const char *const kwargs_name[4] = {"w_fakeq_params", "a_fakeq_params",
                                           "w_observer_extra_args", "a_observer_extra_args"};

qp_status
qp_config_set_kwarg(qp_config *c, qp_kwargs which, const char *key, qp_scalar value)
{
    BEGIN(c);
    if ((unsigned)which > QP_A_OBSERVER_EXTRA_ARGS)
        return cerr(c, QP_ERR_INVALID_ARG, "kwargs dict %d is not a qp_kwargs", (int)which);
    if (!key || !key[0])
        return cerr(c, QP_ERR_INVALID_CONFIG, "%s: empty key", kwargs_name[which]);
    if (!strcmp(key, "observer"))
        return cerr(c, QP_ERR_INVALID_CONFIG, "%s: 'observer' is set by %s_observer",
                    kwargs_name[which], side_name[which & 1]);
    qp_graph *g = c->store;
    qp_val v;
    qp_status rc;
    switch (value.kind) {
    case QP_SCALAR_NONE:
        rc = qp_val_new_none(g, &v);
        break;
    case QP_SCALAR_BOOL:
        rc = qp_val_new_bool(g, value.b, &v);
        break;
    case QP_SCALAR_INT:
        rc = qp_val_new_int(g, value.i, &v);
        break;
    case QP_SCALAR_FLOAT:
        rc = qp_val_new_float(g, value.f, &v);
        break;
    case QP_SCALAR_STR:
        if (!value.s)
            return cerr(c, QP_ERR_NULL_ARG, "%s.%s: string is NULL", kwargs_name[which], key);
        rc = qp_val_new_str(g, value.s, strlen(value.s), &v);
        break;
    default:
        return cerr(c, QP_ERR_INVALID_CONFIG, "%s.%s: unknown scalar kind %d",
                    kwargs_name[which], key, (int)value.kind);
    }
    if (rc)
        return store_err(c, rc);
    uint32_t k, d = c->kwargs[which] ? c->kwargs[which] : qp__val_empty(g, QP_VAL_DICT);
    if ((rc = intern(c, key, &k)))
        return rc;
    uint32_t nd = qp__val_dict_set(g, d, k, v.id);
    if (!nd)
        return store_err(c, QP_ERR_NOMEM);
    c->kwargs[which] = nd;
    return QP_OK;
}

/* ==== name lists ==== */

static const char *const list_name[QP_LIST_COUNT] = {
    "exclude_node_name",   "exclude_module_name",      "exclude_function_type",
    "additional_node_name", "additional_function_type", "additional_module_type"};

qp_status
qp_config_add_name(qp_config *c, qp_list which, const char *name)
{
    BEGIN(c);
    if ((unsigned)which >= QP_LIST_COUNT)
        return cerr(c, QP_ERR_INVALID_ARG, "list %d is not a qp_list", (int)which);
    if (!name || !name[0] || strlen(name) > QP_MAX_NAME || strpbrk(name, " \t\r\n"))
        return cerr(c, QP_ERR_INVALID_CONFIG, "%s: names are non-empty words of at most %u "
                    "bytes", list_name[which], QP_MAX_NAME);
    uint32_t s;
    qp_status rc = intern(c, name, &s);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < c->nnames[which]; i++)
        if (c->names[which][i] == s)
            return QP_OK;
    rc = QP__GROW(c->store, c->names[which], c->nnames[which], c->capnames[which], 1);
    if (rc)
        return store_err(c, rc);
    c->names[which][c->nnames[which]++] = s;
    return QP_OK;
}

qp_status
qp_config_set_academic_mode(qp_config *c, bool on)
{
    BEGIN(c);
    c->academic_mode = on;
    return QP_OK;
}

/* ==== extra_fuse_dict ==== */

static qp_status
check_type(qp_config *c, const char *t, const char *what)
{
    if (!t || !t[0] || strlen(t) > QP_MAX_NAME || strpbrk(t, " \t\r\n"))
        return cerr(c, QP_ERR_INVALID_CONFIG, "%s: a module type is a non-empty word", what);
    return QP_OK;
}

qp_status
qp_config_add_fusion(qp_config *c, uint32_t n, const char *const *types, const char *fused_type)
{
    BEGIN(c);
    if (n < 2 || n > 3 || !types)
        return cerr(c, QP_ERR_INVALID_CONFIG, "additional_fusion_pattern: a pattern has 2 or 3 "
                    "module types, got %u", (unsigned)n);
    qp_status rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = check_type(c, types[i], "additional_fusion_pattern")))
            return rc;
    if ((rc = check_type(c, fused_type, "additional_fusion_pattern fused type")))
        return rc;
    struct qp__fusion_rule r;
    memset(&r, 0, sizeof r);
    r.n = n;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = intern(c, types[i], &r.types[i])))
            return rc;
    if ((rc = intern(c, fused_type, &r.fused)) ||
        (rc = QP__GROW(c->store, c->fusions, c->nfusions, c->capfusions, 1)))
        return rc == QP_ERR_NOMEM ? store_err(c, rc) : rc;
    c->fusions[c->nfusions++] = r;
    return QP_OK;
}

qp_status
qp_config_add_qat_mapping(qp_config *c, const char *float_type, const char *qat_type)
{
    BEGIN(c);
    qp_status rc;
    uint32_t f, q;
    if ((rc = check_type(c, float_type, "additional_qat_module_mapping")) ||
        (rc = check_type(c, qat_type, "additional_qat_module_mapping")) ||
        (rc = intern(c, float_type, &f)) || (rc = intern(c, qat_type, &q)))
        return rc;
    for (uint32_t i = 0; i < c->nqatmaps; i++)
        if (c->qatmaps[i].from == f) {
            c->qatmaps[i].to = q;
            return QP_OK;
        }
    if ((rc = QP__GROW(c->store, c->qatmaps, c->nqatmaps, c->capqatmaps, 1)))
        return store_err(c, rc);
    c->qatmaps[c->nqatmaps].from = f;
    c->qatmaps[c->nqatmaps].to = q;
    c->nqatmaps++;
    return QP_OK;
}

/* ==== preserve_attr, overrides, options ==== */

qp_status
qp_config_preserve_attr(qp_config *c, const char *path, const char *attr)
{
    BEGIN(c);
    if (!path || !attr || !attr[0] || strpbrk(attr, " \t\r\n") || strpbrk(path, " \t\r\n"))
        return cerr(c, QP_ERR_INVALID_CONFIG, "preserve_attr: a module path (\"\" for the graph) "
                    "and a non-empty attribute name");
    uint32_t p = 0, a;
    qp_status rc;
    if ((path[0] && (rc = intern(c, path, &p))) || (rc = intern(c, attr, &a)))
        return rc;
    if ((rc = QP__GROW(c->store, c->preserve, c->npreserve, c->cappreserve, 1)))
        return store_err(c, rc);
    c->preserve[c->npreserve].path = p;
    c->preserve[c->npreserve].attr = a;
    c->npreserve++;
    return QP_OK;
}

qp_status
qp_config_add_override(qp_config *c, qp_match how, const char *what, const qp_qscheme *w,
                       const qp_qscheme *a)
{
    BEGIN(c);
    if ((unsigned)how > QP_MATCH_PATTERN)
        return cerr(c, QP_ERR_INVALID_ARG, "match %d is not a qp_match", (int)how);
    if (!what || !what[0] || strlen(what) > QP_MAX_NAME)
        return cerr(c, QP_ERR_INVALID_CONFIG, "override: empty or over-long %s",
                    how == QP_MATCH_PATH ? "path" : how == QP_MATCH_TYPE ? "type" : "pattern");
    qp_status rc;
    if ((w && (rc = check_scheme(c, w, "override w"))) ||
        (a && (rc = check_scheme(c, a, "override a"))))
        return rc;
    struct qp__override o;
    memset(&o, 0, sizeof o);
    o.how = (uint8_t)how;
    if ((rc = intern(c, what, &o.what)))
        return rc;
    o.has_w = w != NULL;
    o.has_a = a != NULL;
    if (w)
        o.w = *w;
    if (a)
        o.a = *a;
    if ((rc = QP__GROW(c->store, c->overrides, c->noverrides, c->capoverrides, 1)))
        return store_err(c, rc);
    c->overrides[c->noverrides++] = o;
    return QP_OK;
}

qp_status
qp_config_set_fix(qp_config *c, bool on)
{
    BEGIN(c);
    c->fix = on;
    return QP_OK;
}

qp_status
qp_config_set_verify_each(qp_config *c, bool on)
{
    BEGIN(c);
    c->verify_each = on;
    return QP_OK;
}

qp_status
qp_config_set_explain(qp_config *c, bool on)
{
    BEGIN(c);
    c->no_explain = !on;
    return QP_OK;
}
