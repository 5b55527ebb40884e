/*
 * quant.c - the quantizer record: state entries, switches, forward and
 * backward dispatch through the kind tables, learnable parameters and the
 * state_dict view. Kind-specific behaviour lives in fq_*.c and obs_*.c.
 */
#include "../internal.h"
#include "qint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== names ==== */

static const char *const fq_names[] = {
#define QP__FQ_NAME(e, name) name,
    QP_FAKEQUANT_MAP(QP__FQ_NAME)
#undef QP__FQ_NAME
};
static const char *const obs_names[] = {
#define QP__OBS_NAME(e, name) name,
    QP_OBSERVER_MAP(QP__OBS_NAME)
#undef QP__OBS_NAME
};

const char *
qp_fq_kind_name(qp_fq_kind k)
{
    return (unsigned)k < QP_FQ_COUNT ? fq_names[k] : NULL;
}

const char *
qp_obs_kind_name(qp_obs_kind k)
{
    return (unsigned)k < QP_OBS_COUNT ? obs_names[k] : NULL;
}

const char *
qp_dtype_name(qp_dtype t)
{
    static const char *const n[] = {"f32", "i32", "i64", "u8", "bool"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : NULL;
}

static size_t
dt_size(qp_dtype t)
{
    return t == QP_DT_I64 ? 8 : t == QP_DT_F32 || t == QP_DT_I32 ? 4 : 1;
}

qp_quant_opts
qp_quant_opts_default(void)
{
    qp_quant_opts o = {-1, NULL};
    return o;
}

/* ==== memory and errors ==== */

void *
qp__qalloc(qp_quant *q, size_t n)
{
    return n ? q->alloc.fn(q->alloc.ud, NULL, 0, n) : NULL;
}

void
qp__qfree(qp_quant *q, void *p, size_t n)
{
    if (p)
        q->alloc.fn(q->alloc.ud, p, n, 0);
}

qp_status
qp__qerr(qp_quant *q, qp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->errmsg, sizeof q->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *
qp_quant_errmsg(const qp_quant *q)
{
    return q ? q->errmsg : "";
}

/* ==== state entries ==== */

static size_t
numel_of(uint32_t ndim, const int64_t *shape)
{
    size_t n = 1;
    for (uint32_t i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return n;
}

qp_status
qp__qs_reserve(qp_quant *q, uint32_t i, size_t numel)
{
    struct qp__qs *e = &q->st[i];
    if (numel <= e->cap)
        return QP_OK;
    size_t es = dt_size(e->dtype);
    if (numel > SIZE_MAX / 8)
        return qp__qerr(q, QP_ERR_LIMIT, "state entry %s: %zu elements is too many", e->name,
                        numel);
    void *d = qp__qalloc(q, numel * es);
    float *g = (e->flags & QP__QS_PARAM) ? qp__qalloc(q, numel * sizeof *g) : NULL;
    if (!d || ((e->flags & QP__QS_PARAM) && !g)) {
        qp__qfree(q, d, numel * es);
        qp__qfree(q, g, numel * sizeof *g);
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory for state entry %s", e->name);
    }
    memset(d, 0, numel * es);
    if (e->numel)
        memcpy(d, e->data, e->numel * es);
    if (g) {
        memset(g, 0, numel * sizeof *g);
        if (e->numel)
            memcpy(g, e->grad, e->numel * sizeof *g);
    }
    qp__qfree(q, e->data, e->cap * es);
    qp__qfree(q, e->grad, e->grad ? e->cap * sizeof *e->grad : 0);
    e->data = d;
    e->grad = g;
    e->cap = numel;
    return QP_OK;
}

void
qp__qs_reshape(qp_quant *q, uint32_t i, uint32_t ndim, const int64_t *shape)
{
    struct qp__qs *e = &q->st[i];
    size_t n = numel_of(ndim, shape), es = dt_size(e->dtype);
    if (n > e->numel) {
        memset((char *)e->data + e->numel * es, 0, (n - e->numel) * es);
        if (e->grad)
            memset(e->grad + e->numel, 0, (n - e->numel) * sizeof *e->grad);
    }
    e->ndim = ndim;
    for (uint32_t k = 0; k < ndim; k++)
        e->shape[k] = shape[k];
    e->numel = n;
}

qp_status
qp__qs_add(qp_quant *q, const char *name, qp_dtype dt, uint8_t flags, uint32_t ndim,
           const int64_t *shape, uint32_t *idx)
{
    if (q->nst >= QP__QMAX_STATE || ndim > QP_QUANT_MAX_DIMS)
        return qp__qerr(q, QP_ERR_INTERNAL, "state entry %s: no room", name);
    uint32_t i = q->nst;
    struct qp__qs *e = &q->st[i];
    memset(e, 0, sizeof *e);
    e->name = name;
    e->dtype = dt;
    e->flags = flags;
    qp_status rc = qp__qs_reserve(q, i, numel_of(ndim, shape));
    if (rc)
        return rc;
    q->nst++;
    qp__qs_reshape(q, i, ndim, shape);
    *idx = i;
    return QP_OK;
}

float *
qp__qs_f32(qp_quant *q, uint32_t i)
{
    return (float *)q->st[i].data;
}

int32_t *
qp__qs_i32(qp_quant *q, uint32_t i)
{
    return (int32_t *)q->st[i].data;
}

uint8_t *
qp__qs_u8(qp_quant *q, uint32_t i)
{
    return (uint8_t *)q->st[i].data;
}

uint32_t
qp__qs_find(const qp_quant *q, const char *name)
{
    for (uint32_t i = 0; i < q->nst; i++)
        if (!strcmp(q->st[i].name, name))
            return i;
    return UINT32_MAX;
}

/* ==== life cycle ==== */

qp_status
qp__quant_new(const qp_allocator *alloc, const struct qp__qargs *a, qp_quant **out, char *errbuf,
              size_t errcap)
{
    qp_allocator al = qp__allocator_or_std(alloc);
    const struct qp__fq_ops *fq = (unsigned)a->fq < QP_FQ_COUNT ? qp__fq_table[a->fq] : NULL;
    const struct qp__obs_ops *ob = (unsigned)a->obs < QP_OBS_COUNT ? qp__obs_table[a->obs] : NULL;
    if (!fq || !ob) {
        snprintf(errbuf, errcap, "%s with %s is not supported by this runtime",
                 qp_fq_kind_name(a->fq) ? qp_fq_kind_name(a->fq) : "?",
                 qp_obs_kind_name(a->obs) ? qp_obs_kind_name(a->obs) : "?");
        return QP_ERR_INVALID_CONFIG;
    }
    qp_quant *q = al.fn(al.ud, NULL, 0, sizeof *q);
    if (!q) {
        snprintf(errbuf, errcap, "out of memory");
        return QP_ERR_NOMEM;
    }
    memset(q, 0, sizeof *q);
    q->alloc = al;
    q->a = *a;
    q->fq = fq;
    q->obs = ob;
    static const int64_t one[1] = {1};
    qp_status rc;
    if (!(rc = qp__qs_add(q, "fake_quant_enabled", QP_DT_U8, 0, 1, one, &q->fq_en)) &&
        !(rc = qp__qs_add(q, "observer_enabled", QP_DT_U8, 0, 1, one, &q->obs_en)) &&
        !(rc = fq->init(q)))
        rc = ob->init(q);
    if (rc) {
        snprintf(errbuf, errcap, "%s", q->errmsg);
        qp_quant_destroy(q);
        return rc;
    }
    qp__qs_u8(q, q->fq_en)[0] = 1;
    qp__qs_u8(q, q->obs_en)[0] = 1;
    q->fq_on = q->obs_on = true;
    /* state_dict order: parameters, then buffers, then the observer's entries */
    uint32_t k = 0;
    for (int pass = 0; pass < 3; pass++)
        for (uint32_t i = 0; i < q->nst; i++) {
            uint8_t f = q->st[i].flags;
            int cls = (f & QP__QS_PARAM) ? 0 : (f & QP__QS_OBS) ? 2 : 1;
            if (cls == pass)
                q->order[k++] = (uint8_t)i;
        }
    q->errmsg[0] = 0;
    *out = q;
    return QP_OK;
}

void
qp_quant_destroy(qp_quant *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->nst; i++) {
        struct qp__qs *e = &q->st[i];
        qp__qfree(q, e->data, e->cap * dt_size(e->dtype));
        qp__qfree(q, e->grad, e->grad ? e->cap * sizeof *e->grad : 0);
    }
    qp__qfree(q, q->fq_priv, q->fq_priv_size);
    qp__qfree(q, q->obs_priv, q->obs_priv_size);
    q->alloc.fn(q->alloc.ud, q, sizeof *q, 0);
}

void
qp_quant_get_info(const qp_quant *q, qp_quant_info *out)
{
    static const char *const qt[] = {NULL, "tensor", "param", "input"};
    if (!q || !out)
        return;
    out->fake_quant = q->a.fq;
    out->observer = q->a.obs;
    out->quant_min = q->a.quant_min;
    out->quant_max = q->a.quant_max;
    out->ch_axis = q->a.ch_axis;
    out->symmetric = q->a.symmetric;
    out->pot_scale = q->a.pot_scale;
    out->quant_type = q->a.quant_type >= 0 && q->a.quant_type < 4 ? qt[q->a.quant_type] : NULL;
}

/* ==== switches ==== */

void
qp_quant_enable_observer(qp_quant *q, bool on)
{
    if (!q)
        return;
    q->obs_on = on;
    qp__qs_u8(q, q->obs_en)[0] = on;
}

void
qp_quant_enable_fake_quant(qp_quant *q, bool on)
{
    if (!q)
        return;
    q->fq_on = on;
    qp__qs_u8(q, q->fq_en)[0] = on;
}

bool
qp_quant_observer_enabled(const qp_quant *q)
{
    return q && q->obs_on;
}

bool
qp_quant_fake_quant_enabled(const qp_quant *q)
{
    return q && q->fq_on;
}

/* ==== forward and backward ==== */

/* Checks a call's shape and splits it at the channel axis. */
static qp_status
get_shape(qp_quant *q, const int64_t *shape, uint32_t ndim, struct qp__shape *s)
{
    if (ndim > QP_QUANT_MAX_DIMS)
        return qp__qerr(q, QP_ERR_INVALID_ARG, "x has %u dimensions, more than %d", ndim,
                        QP_QUANT_MAX_DIMS);
    if (ndim && !shape)
        return qp__qerr(q, QP_ERR_NULL_ARG, "shape is NULL");
    size_t n = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return qp__qerr(q, QP_ERR_INVALID_ARG,
                            "x has size %lld in dimension %u: a "
                            "zero-size tensor has nothing to quantize",
                            (long long)shape[i], i);
        if ((uint64_t)shape[i] > (uint64_t)(SIZE_MAX / sizeof(float)) / n)
            return qp__qerr(q, QP_ERR_LIMIT, "x is too large");
        n *= (size_t)shape[i];
    }
    s->dims = shape;
    s->ndim = ndim;
    s->numel = n;
    s->axis = -1;
    s->outer = 1;
    s->C = 1;
    s->inner = n;
    int ax = q->a.ch_axis;
    if (ax >= 0) {
        if ((uint32_t)ax >= ndim)
            return qp__qerr(q, QP_ERR_INVALID_ARG,
                            "the quantizer works per channel on axis %d, "
                            "which a tensor of %u dimensions lacks",
                            ax, ndim);
        s->axis = ax;
        s->C = (size_t)shape[ax];
        s->outer = numel_of((uint32_t)ax, shape);
        s->inner = n / s->outer / s->C;
    }
    return QP_OK;
}

qp_status
qp__observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    /* one pass without a branch per element (exponent all ones: inf or nan); the
     * position only when it failed */
    uint32_t bad = 0;
    for (size_t i = 0; i < s->numel; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    if (bad) {
        size_t i = 0;
        while (i < s->numel && isfinite(x[i]))
            i++;
        return qp__qerr(q, QP_ERR_INVALID_ARG, "x[%zu] is %s: %s needs finite data", i,
                        isnan(x[i]) ? "nan"
                        : x[i] > 0  ? "inf"
                                    : "-inf",
                        qp_obs_kind_name(q->a.obs));
    }
    return q->obs->observe(q, x, s);
}

qp_status
qp__obs_qparams(qp_quant *q, float *scale, int32_t *zero_point, size_t n)
{
    return q->obs->qparams(q, scale, zero_point, n);
}

qp_status
qp_quant_forward(qp_quant *q, const float *x, float *y, const int64_t *shape, uint32_t ndim)
{
    if (!q)
        return QP_ERR_NULL_ARG;
    q->errmsg[0] = 0;
    if (!x || !y)
        return qp__qerr(q, QP_ERR_NULL_ARG, "x or y is NULL");
    struct qp__shape s;
    qp_status rc = get_shape(q, shape, ndim, &s);
    if (rc)
        return rc;
    if (!q->obs_on)
        return q->fq->forward(q, x, y, &s);
    /* A kind can fail after its observer ran (calculate_qparams raising where
     * MQBench raises, a zero point ATen refuses): the observer's entries are
     * kept here and put back then, so a failed call changes nothing. */
    struct {
        uint32_t ndim;
        int64_t shape[QP_QUANT_MAX_DIMS];
        size_t numel, off;
    } sv[QP__QMAX_STATE];
    size_t bytes = 0;
    for (uint32_t i = 0; i < q->nst; i++)
        if (q->st[i].flags & QP__QS_OBS)
            bytes += q->st[i].numel * dt_size(q->st[i].dtype);
    unsigned char small[256], *buf = bytes <= sizeof small ? small : qp__qalloc(q, bytes);
    if (!buf)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    size_t off = 0;
    for (uint32_t i = 0; i < q->nst; i++) {
        const struct qp__qs *e = &q->st[i];
        if (!(e->flags & QP__QS_OBS))
            continue;
        size_t n = e->numel * dt_size(e->dtype);
        sv[i].ndim = e->ndim;
        memcpy(sv[i].shape, e->shape, sizeof sv[i].shape);
        sv[i].numel = e->numel;
        sv[i].off = off;
        if (n)
            memcpy(buf + off, e->data, n);
        off += n;
    }
    rc = q->fq->forward(q, x, y, &s);
    if (rc) /* entries only grow: the old values fit where they were */
        for (uint32_t i = 0; i < q->nst; i++) {
            struct qp__qs *e = &q->st[i];
            if (!(e->flags & QP__QS_OBS))
                continue;
            e->ndim = sv[i].ndim;
            memcpy(e->shape, sv[i].shape, sizeof e->shape);
            e->numel = sv[i].numel;
            if (e->numel)
                memcpy(e->data, buf + sv[i].off, e->numel * dt_size(e->dtype));
        }
    if (buf != small)
        qp__qfree(q, buf, bytes);
    return rc;
}

qp_status
qp_quant_backward(qp_quant *q, const float *x, const float *dy, float *dx, const int64_t *shape,
                  uint32_t ndim)
{
    if (!q)
        return QP_ERR_NULL_ARG;
    q->errmsg[0] = 0;
    if (!x || !dy || !dx)
        return qp__qerr(q, QP_ERR_NULL_ARG, "x, dy or dx is NULL");
    struct qp__shape s;
    qp_status rc = get_shape(q, shape, ndim, &s);
    if (rc)
        return rc;
    if (!q->fq_on && !q->fq_bwd_off) {
        if (dx != dy)
            memmove(dx, dy, s.numel * sizeof *dx);
        return QP_OK;
    }
    return q->fq->backward(q, x, dy, dx, &s);
}

void
qp_quant_zero_grad(qp_quant *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->nst; i++)
        if (q->st[i].grad)
            memset(q->st[i].grad, 0, q->st[i].numel * sizeof *q->st[i].grad);
}

/* ==== parameters and state ==== */

uint32_t
qp_quant_num_params(const qp_quant *q)
{
    uint32_t n = 0;
    for (uint32_t i = 0; q && i < q->nst; i++)
        n += (q->st[i].flags & QP__QS_PARAM) != 0;
    return n;
}

qp_status
qp_quant_param_at(qp_quant *q, uint32_t i, qp_quant_param *out)
{
    if (!q || !out)
        return QP_ERR_NULL_ARG;
    for (uint32_t k = 0; k < q->nst; k++) {
        struct qp__qs *e = &q->st[q->order[k]];
        if (!(e->flags & QP__QS_PARAM))
            continue;
        if (i-- == 0) {
            out->name = e->name;
            out->data = (float *)e->data;
            out->grad = e->grad;
            out->numel = e->numel;
            return QP_OK;
        }
    }
    return qp__qerr(q, QP_ERR_INVALID_ARG, "parameter index out of range");
}

uint32_t
qp_quant_num_state(const qp_quant *q)
{
    return q ? q->nst : 0;
}

static void
view(const struct qp__qs *e, qp_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->dtype = e->dtype;
    out->ndim = e->ndim;
    for (uint32_t k = 0; k < e->ndim; k++)
        out->shape[k] = e->shape[k];
    out->numel = e->numel;
    out->data = e->data;
}

qp_status
qp_quant_state_at(const qp_quant *q, uint32_t i, const char **name, qp_tensor *out)
{
    if (!q || !out)
        return QP_ERR_NULL_ARG;
    if (i >= q->nst)
        return QP_ERR_INVALID_ARG;
    const struct qp__qs *e = &q->st[q->order[i]];
    if (name)
        *name = e->name;
    view(e, out);
    return QP_OK;
}

qp_status
qp_quant_state_get(const qp_quant *q, const char *name, qp_tensor *out)
{
    if (!q || !name || !out)
        return QP_ERR_NULL_ARG;
    uint32_t i = qp__qs_find(q, name);
    if (i == UINT32_MAX)
        return QP_ERR_NOT_FOUND;
    view(&q->st[i], out);
    return QP_OK;
}

static void
fmt_shape(char *buf, size_t cap, uint32_t ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (uint32_t k = 0; k < ndim && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%lld%s", (long long)shape[k],
                              ndim == 1      ? ","
                              : k + 1 < ndim ? ", "
                                             : "");
    if (n < cap)
        snprintf(buf + n, cap - n, ")");
}

qp_status
qp__qs_check(qp_quant *q, uint32_t i, const qp_tensor *v)
{
    const char *name = q->st[i].name;
    struct qp__qs *e = &q->st[i];
    if (v->dtype != e->dtype)
        return qp__qerr(q, QP_ERR_INVALID_ARG, "state entry %s holds %s, not %s", name,
                        qp_dtype_name(e->dtype),
                        qp_dtype_name(v->dtype) ? qp_dtype_name(v->dtype) : "?");
    if (v->ndim > QP_QUANT_MAX_DIMS)
        return qp__qerr(q, QP_ERR_INVALID_ARG, "state entry %s: %u dimensions", name, v->ndim);
    for (uint32_t k = 0; k < v->ndim; k++)
        if (v->shape[k] < 0)
            return qp__qerr(q, QP_ERR_INVALID_ARG, "state entry %s: negative size", name);
    size_t n = numel_of(v->ndim, v->shape);
    bool same = v->ndim == e->ndim && n == e->numel;
    for (uint32_t k = 0; same && k < v->ndim; k++)
        same = v->shape[k] == e->shape[k];
    /* MQBench's loader resizes per-channel quantities to what the checkpoint holds */
    bool resizable = (e->flags & QP__QS_PERCH) && q->a.ch_axis >= 0 && v->ndim <= 1 && n >= 1;
    if (!same && !resizable) {
        char want[96], got[96];
        fmt_shape(want, sizeof want, e->ndim, e->shape);
        fmt_shape(got, sizeof got, v->ndim, v->shape);
        return qp__qerr(q, QP_ERR_INVALID_ARG, "state entry %s has shape %s, not %s", name, want,
                        got);
    }
    if (v->numel != n)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "state entry %s: numel %zu does not match its "
                        "shape (%zu elements)",
                        name, v->numel, n);
    return QP_OK;
}

qp_status
qp_quant_state_set(qp_quant *q, const char *name, const qp_tensor *v)
{
    if (!q)
        return QP_ERR_NULL_ARG;
    q->errmsg[0] = 0;
    if (!name || !v || (!v->data && v->numel))
        return qp__qerr(q, QP_ERR_NULL_ARG, "name, value or its data is NULL");
    uint32_t i = qp__qs_find(q, name);
    if (i == UINT32_MAX)
        return qp__qerr(q, QP_ERR_NOT_FOUND, "%s with %s has no state entry '%s'",
                        qp_fq_kind_name(q->a.fq), qp_obs_kind_name(q->a.obs), name);
    struct qp__qs *e = &q->st[i];
    qp_status rc = qp__qs_check(q, i, v);
    if (rc)
        return rc;
    size_t n = v->numel;
    rc = qp__qs_reserve(q, i, n);
    if (rc)
        return rc;
    qp__qs_reshape(q, i, v->ndim, v->shape);
    if (n)
        memcpy(e->data, v->data, n * dt_size(e->dtype));
    if (i == q->fq_en)
        q->fq_on = qp__qs_u8(q, i)[0] != 0;
    if (i == q->obs_en)
        q->obs_on = qp__qs_u8(q, i)[0] != 0;
    return QP_OK;
}
