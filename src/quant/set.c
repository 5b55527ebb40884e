/*
 * set.c - every quantizer of a prepared graph (include/qprep/quant.h): built
 * from the fake-quantizer modules prepare wrote, found by path in O(1), driven
 * together as mqbench.utils.state does, their parameters and state_dict
 * entries reached by full name ("layer1.0.conv1.weight_fake_quant.scale").
 * Besides build.c, the one file of the runtime that reads a graph.
 */
#include "../prep.h"
#include "qset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char weight_suffix[] = ".weight_fake_quant";
static const char obs_suffix[] = ".activation_post_process";

/* ==== memory and errors ==== */

void *
qp__qset_alloc(qp_quant_set *s, size_t n)
{
    return n ? s->alloc.fn(s->alloc.ud, NULL, 0, n) : NULL;
}

void
qp__qset_free(qp_quant_set *s, void *p, size_t n)
{
    if (p)
        s->alloc.fn(s->alloc.ud, p, n, 0);
}

qp_status
qp__qset_err(qp_quant_set *s, qp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

const char *
qp_quant_set_errmsg(const qp_quant_set *s)
{
    return s ? s->errmsg : "";
}

/* ==== lookup ==== */

uint32_t
qp__qset_find(const qp_quant_set *s, const char *name, size_t len)
{
    if (!s->nslots)
        return QP__QSET_NONE;
    uint32_t mask = s->nslots - 1;
    for (uint32_t h = qp__hash(name, len) & mask;; h = (h + 1) & mask) {
        uint32_t v = s->slots[h];
        if (!v)
            return QP__QSET_NONE;
        const struct qp__qent *e = &s->e[v - 1];
        if (e->plen == len && !memcmp(s->text + e->path, name, len))
            return v - 1;
    }
}

/* The entry of q named key[0..len), or UINT32_MAX (a quantizer has at most
 * QP__QMAX_STATE entries). */
static uint32_t
entry_find(const qp_quant *q, const char *key, size_t len)
{
    /* lengths first: key may hold NUL bytes (a file's name is not a C string) */
    for (uint32_t i = 0; i < q->nst; i++)
        if (strlen(q->st[i].name) == len && !memcmp(q->st[i].name, key, len))
            return i;
    return UINT32_MAX;
}

bool
qp__qset_resolve(const qp_quant_set *s, const char *name, size_t len, uint32_t *qi, uint32_t *st)
{
    /* keys hold at most one dot ("activation_post_process.min_val"), so the path
     * is found within two tries from the right for every good name */
    for (size_t p = len; p-- > 0;) {
        if (name[p] != '.')
            continue;
        uint32_t i = qp__qset_find(s, name, p);
        if (i == QP__QSET_NONE)
            continue;
        uint32_t k = entry_find(s->e[i].q, name + p + 1, len - p - 1);
        if (k != UINT32_MAX) {
            *qi = i;
            *st = k;
            return true;
        }
    }
    return false;
}

qp_quant *
qp_quant_set_find(qp_quant_set *s, const char *path)
{
    if (!s || !path)
        return NULL;
    uint32_t i = qp__qset_find(s, path, strlen(path));
    return i == QP__QSET_NONE ? NULL : s->e[i].q;
}

uint32_t
qp_quant_set_size(const qp_quant_set *s)
{
    return s ? s->n : 0;
}

qp_status
qp_quant_set_at(qp_quant_set *s, uint32_t i, qp_quant_entry *out)
{
    if (!s || !out)
        return QP_ERR_NULL_ARG;
    if (i >= s->n)
        return qp__qset_err(s, QP_ERR_INVALID_ARG, "quantizer %u of %u", i, s->n);
    const struct qp__qent *e = &s->e[i];
    out->path = s->text + e->path;
    out->role = e->role;
    out->node = e->node == QP__QSET_NONE ? NULL : s->text + e->node;
    out->owner = e->owner == QP__QSET_NONE ? NULL : s->text + e->owner;
    out->q = e->q;
    return QP_OK;
}

/* ==== life cycle ==== */

void
qp_quant_set_destroy(qp_quant_set *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        qp_quant_destroy(s->e[i].q);
    qp__qset_free(s, s->e, (size_t)s->n * sizeof *s->e);
    qp__qset_free(s, s->text, s->ntext);
    qp__qset_free(s, s->full, (size_t)s->nstate * sizeof *s->full);
    qp__qset_free(s, s->slots, (size_t)s->nslots * sizeof *s->slots);
    s->alloc.fn(s->alloc.ud, s, sizeof *s, 0);
}

static void set_err(qp_error *err, qp_status st, const char *fmt, ...) QP__QPRINTF(3, 4);

static void
set_err(qp_error *err, qp_status st, const char *fmt, ...)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static bool
has_suffix(const char *s, size_t len, const char *suf, size_t slen)
{
    return len > slen && !memcmp(s + len - slen, suf, slen);
}

/* What creation keeps while it runs. */
struct build {
    const qp_graph *g;
    qp_backend be;
    const qp_config *cfg;
    qp_graph *kg[2]; /* per side: the scratch graph holding the side's keyword arguments */
    uint32_t kw[2];
    uint32_t *mods;   /* per quantizer: its module */
    uint32_t *nodeof; /* per module: the first call_module node calling it */
    char *buf;        /* "PATH.activation_post_process" */
    size_t capbuf;
    char msg[512];
};

/* The keyword arguments MQBench's FQ.with_args receives for a side, as prepare
 * resolves them from cfg (made once per side). */
static qp_status
side_kwargs(qp_quant_set *s, struct build *b, qp_side side)
{
    if (b->kg[side])
        return QP_OK;
    qp_status rc = qp_graph_create(&s->alloc, &b->kg[side]);
    if (rc) {
        snprintf(b->msg, sizeof b->msg, "out of memory");
        return rc;
    }
    uint32_t m = 0;
    rc = qp__prepare_quantizer(b->kg[side], b->be, b->cfg, side, false, 0, &m, &b->kw[side]);
    if (rc)
        snprintf(b->msg, sizeof b->msg, "%s quantizers of the configuration: %s",
                 side == QP_WEIGHT ? "weight" : "activation", qp_graph_errmsg(b->kg[side]));
    return rc;
}

/* Builds quantizer i from module m. */
static qp_status
build_one(qp_quant_set *s, struct build *b, uint32_t i, uint32_t m)
{
    const qp_graph *g = b->g;
    struct qp__qent *e = &s->e[i];
    const char *path = qp__sym_str(g, g->mods[m].path);
    size_t plen = qp__sym_len(g, g->mods[m].path);
    e->role = has_suffix(path, plen, weight_suffix, sizeof weight_suffix - 1) ? QP_WEIGHT : QP_ACT;
    size_t need = plen + sizeof obs_suffix;
    if (need > b->capbuf) {
        char *nb = qp__qset_alloc(s, need);
        if (!nb) {
            snprintf(b->msg, sizeof b->msg, "out of memory");
            return QP_ERR_NOMEM;
        }
        qp__qset_free(s, b->buf, b->capbuf);
        b->buf = nb;
        b->capbuf = need;
    }
    memcpy(b->buf, path, plen);
    memcpy(b->buf + plen, obs_suffix, sizeof obs_suffix);
    uint32_t om = qp__mod_find_str(g, b->buf, need - 1);
    qp_status rc = side_kwargs(s, b, e->role);
    if (rc)
        return rc;
    struct qp__qargs a;
    char msg[400];
    rc = qp__qargs_resolve(g, m, om, b->kg[e->role], b->kw[e->role], &a, msg, sizeof msg);
    a.fix = b->cfg && b->cfg->fix;
    if (!rc) {
        rc = qp__quant_new(&s->alloc, &a, &e->q, msg, sizeof msg);
        if (rc)
            snprintf(b->msg, sizeof b->msg, "module %s: %s", path, msg);
    } else {
        snprintf(b->msg, sizeof b->msg, "%s", msg);
    }
    return rc;
}

/* Lays out the strings: paths, node names, owners, full state names. */
static qp_status
build_text(qp_quant_set *s, struct build *b)
{
    const qp_graph *g = b->g;
    size_t total = 0;
    uint32_t nstate = 0, nparam = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        struct qp__qent *e = &s->e[i];
        uint32_t m = b->mods[i], node = b->nodeof[m];
        size_t plen = qp__sym_len(g, g->mods[m].path);
        total += plen + 1;
        if (e->role == QP_WEIGHT)
            total += plen - (sizeof weight_suffix - 1) + 1;
        else if (node)
            total += qp__sym_len(g, g->nodes[node].name) + 1;
        for (uint32_t k = 0; k < e->q->nst; k++)
            total += plen + 1 + strlen(e->q->st[k].name) + 1;
        if (total > UINT32_MAX || e->q->nst > UINT32_MAX - nstate) {
            snprintf(b->msg, sizeof b->msg, "the quantizers' names are too long");
            return QP_ERR_LIMIT;
        }
        e->state0 = nstate;
        e->param0 = nparam;
        nstate += e->q->nst;
        nparam += qp_quant_num_params(e->q);
    }
    s->text = qp__qset_alloc(s, total ? total : 1);
    s->full = qp__qset_alloc(s, (size_t)(nstate ? nstate : 1) * sizeof *s->full);
    if (!s->text || !s->full) {
        qp__qset_free(s, s->text, total ? total : 1);
        qp__qset_free(s, s->full, (size_t)(nstate ? nstate : 1) * sizeof *s->full);
        s->text = NULL;
        s->full = NULL;
        snprintf(b->msg, sizeof b->msg, "out of memory");
        return QP_ERR_NOMEM;
    }
    s->ntext = total ? total : 1;
    s->nstate = nstate;
    s->nparam = nparam;
    size_t o = 0;
#define PUT(str, len)                                                                              \
    do {                                                                                           \
        memcpy(s->text + o, (str), (len));                                                         \
        s->text[o + (len)] = 0;                                                                    \
        o += (len) + 1;                                                                            \
    } while (0)
    for (uint32_t i = 0; i < s->n; i++) {
        struct qp__qent *e = &s->e[i];
        uint32_t m = b->mods[i], node = b->nodeof[m];
        const char *path = qp__sym_str(g, g->mods[m].path);
        size_t plen = qp__sym_len(g, g->mods[m].path);
        e->path = (uint32_t)o;
        e->plen = (uint32_t)plen;
        PUT(path, plen);
        e->node = e->owner = QP__QSET_NONE;
        if (e->role == QP_WEIGHT) {
            e->owner = (uint32_t)o;
            PUT(path, plen - (sizeof weight_suffix - 1));
        } else if (node) {
            e->node = (uint32_t)o;
            PUT(qp__sym_str(g, g->nodes[node].name), qp__sym_len(g, g->nodes[node].name));
        }
        for (uint32_t k = 0; k < e->q->nst; k++) {
            const char *key;
            qp_tensor t;
            qp_quant_state_at(e->q, k, &key, &t);
            size_t kl = strlen(key);
            s->full[e->state0 + k] = (uint32_t)o;
            memcpy(s->text + o, path, plen);
            s->text[o + plen] = '.';
            memcpy(s->text + o + plen + 1, key, kl + 1);
            o += plen + 1 + kl + 1;
        }
    }
#undef PUT
    return QP_OK;
}

static qp_status
build_index(qp_quant_set *s, struct build *b)
{
    uint32_t ns = 8;
    while (ns < 2u * s->n && ns < (1u << 31))
        ns <<= 1;
    s->slots = qp__qset_alloc(s, (size_t)ns * sizeof *s->slots);
    if (!s->slots) {
        snprintf(b->msg, sizeof b->msg, "out of memory");
        return QP_ERR_NOMEM;
    }
    memset(s->slots, 0, (size_t)ns * sizeof *s->slots);
    s->nslots = ns;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t h = qp__hash(s->text + s->e[i].path, s->e[i].plen) & (ns - 1);
        while (s->slots[h])
            h = (h + 1) & (ns - 1);
        s->slots[h] = i + 1;
    }
    return QP_OK;
}

qp_status
qp_quant_set_create(const qp_graph *g, qp_backend be, const qp_config *cfg,
                    const qp_allocator *alloc, qp_quant_set **out, qp_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!out || !g) {
        set_err(err, QP_ERR_NULL_ARG, "%s is NULL", !out ? "out" : "the graph");
        if (out)
            *out = NULL;
        return QP_ERR_NULL_ARG;
    }
    *out = NULL;
    qp_allocator al = qp__allocator_or_std(alloc);
    qp_quant_set *s = al.fn(al.ud, NULL, 0, sizeof *s);
    if (!s) {
        set_err(err, QP_ERR_NOMEM, "out of memory");
        return QP_ERR_NOMEM;
    }
    memset(s, 0, sizeof *s);
    s->alloc = al;
    struct build b;
    memset(&b, 0, sizeof b);
    b.g = g;
    b.be = be;
    b.cfg = cfg;
    qp_status rc = QP_OK;
    uint32_t n = 0;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        n += qp__mod_live(g, m) && !strncmp(qp__sym_str(g, g->mods[m].type), "fq.", 3);
    if (n) {
        s->e = qp__qset_alloc(s, (size_t)n * sizeof *s->e);
        b.mods = qp__qset_alloc(s, (size_t)n * sizeof *b.mods);
        b.nodeof = qp__qset_alloc(s, (size_t)g->nmods * sizeof *b.nodeof);
        if (!s->e || !b.mods || !b.nodeof) {
            snprintf(b.msg, sizeof b.msg, "out of memory");
            rc = QP_ERR_NOMEM;
            goto out;
        }
        memset(s->e, 0, (size_t)n * sizeof *s->e);
        memset(b.nodeof, 0, (size_t)g->nmods * sizeof *b.nodeof);
        uint32_t k = 0;
        for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
            if (qp__mod_live(g, m) && !strncmp(qp__sym_str(g, g->mods[m].type), "fq.", 3))
                b.mods[k++] = m;
        for (uint32_t v = g->nodes[0].next; v; v = g->nodes[v].next) {
            uint32_t m = qp__node_module(g, v);
            if (m && !b.nodeof[m])
                b.nodeof[m] = v;
        }
        for (uint32_t i = 0; i < n; i++) {
            if ((rc = build_one(s, &b, i, b.mods[i])))
                goto out;
            s->n = i + 1;
        }
    }
    if (!(rc = build_text(s, &b)))
        rc = build_index(s, &b);
out:
    for (int side = 0; side < 2; side++)
        qp_graph_destroy(b.kg[side]);
    qp__qset_free(s, b.buf, b.capbuf);
    qp__qset_free(s, b.mods, (size_t)n * sizeof *b.mods);
    qp__qset_free(s, b.nodeof, (size_t)g->nmods * sizeof *b.nodeof);
    if (rc) {
        set_err(err, rc, "%s", b.msg);
        /* s->e holds n records of which s->n are built */
        for (uint32_t i = 0; i < s->n; i++)
            qp_quant_destroy(s->e[i].q);
        s->n = 0;
        qp__qset_free(s, s->e, (size_t)n * sizeof *s->e);
        s->e = NULL;
        qp__qset_free(s, s->text, s->ntext);
        qp__qset_free(s, s->full, (size_t)(s->nstate ? s->nstate : 1) * sizeof *s->full);
        s->alloc.fn(s->alloc.ud, s, sizeof *s, 0);
        return rc;
    }
    *out = s;
    return QP_OK;
}

/* ==== mqbench.utils.state ==== */

static void
set_both(qp_quant_set *s, uint32_t i, bool obs, bool fq)
{
    qp_quant_enable_observer(s->e[i].q, obs);
    qp_quant_enable_fake_quant(s->e[i].q, fq);
}

void
qp_quant_set_enable_calibration(qp_quant_set *s)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        set_both(s, i, true, false);
}

void
qp_quant_set_enable_quantization(qp_quant_set *s, bool weight_cali_on, bool act_cali_on)
{
    /* MQBench tests the module's name: 'weight_fake_quant' / 'act_fake_quant' in it
     * (the paths prepare gives: *.weight_fake_quant, *_post_act_fake_quantizer) */
    for (uint32_t i = 0; s && i < s->n; i++) {
        const char *p = s->text + s->e[i].path;
        bool obs = (weight_cali_on && strstr(p, "weight_fake_quant")) ||
                   (act_cali_on && strstr(p, "act_fake_quant"));
        set_both(s, i, obs, true);
    }
}

void
qp_quant_set_disable_all(qp_quant_set *s)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        set_both(s, i, false, false);
}

void
qp_quant_set_enable_all(qp_quant_set *s)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        set_both(s, i, true, true);
}

qp_status
qp_quant_set_calibrate_only(qp_quant_set *s, const char *const *names, uint32_t n)
{
    if (!s)
        return QP_ERR_NULL_ARG;
    s->errmsg[0] = 0;
    if (n && !names)
        return qp__qset_err(s, QP_ERR_NULL_ARG, "names is NULL");
    for (uint32_t i = 0; i < s->n; i++)
        s->e[i].mark = false;
    for (uint32_t k = 0; k < n; k++) {
        if (!names[k])
            return qp__qset_err(s, QP_ERR_NULL_ARG, "names[%u] is NULL", k);
        uint32_t i = qp__qset_find(s, names[k], strlen(names[k]));
        if (i == QP__QSET_NONE)
            return qp__qset_err(s, QP_ERR_NOT_FOUND, "names[%u]: no quantizer has path '%.200s'", k,
                                names[k]);
        s->e[i].mark = true;
    }
    for (uint32_t i = 0; i < s->n; i++)
        set_both(s, i, s->e[i].mark, false);
    return QP_OK;
}

/* ==== parameters ==== */

/* The quantizer holding item i of a numbering whose first items are at the
 * quantizers' base fields (state0 or param0): the last with base <= i. */
static uint32_t
owner_of(const qp_quant_set *s, uint32_t i, bool param)
{
    uint32_t lo = 0, hi = s->n; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t base = param ? s->e[mid].param0 : s->e[mid].state0;
        if (base <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

uint32_t
qp_quant_set_num_params(const qp_quant_set *s)
{
    return s ? s->nparam : 0;
}

qp_status
qp_quant_set_param_at(qp_quant_set *s, uint32_t i, qp_quant_param *out)
{
    if (!s || !out)
        return QP_ERR_NULL_ARG;
    if (i >= s->nparam)
        return qp__qset_err(s, QP_ERR_INVALID_ARG, "parameter %u of %u", i, s->nparam);
    uint32_t qi = owner_of(s, i, true);
    const struct qp__qent *e = &s->e[qi];
    qp_status rc = qp_quant_param_at(e->q, i - e->param0, out);
    if (rc)
        return qp__qset_err(s, rc, "%s", qp_quant_errmsg(e->q));
    /* parameters come first in a quantizer's state_dict order */
    out->name = s->text + s->full[e->state0 + (i - e->param0)];
    return QP_OK;
}

void
qp_quant_set_zero_grad(qp_quant_set *s)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        qp_quant_zero_grad(s->e[i].q);
}

/* ==== state by full name ==== */

uint32_t
qp_quant_set_num_state(const qp_quant_set *s)
{
    return s ? s->nstate : 0;
}

qp_status
qp_quant_set_state_at(const qp_quant_set *s, uint32_t i, const char **name, qp_tensor *out)
{
    if (!s || !out)
        return QP_ERR_NULL_ARG;
    if (i >= s->nstate)
        return QP_ERR_INVALID_ARG;
    uint32_t qi = owner_of(s, i, false);
    const struct qp__qent *e = &s->e[qi];
    qp_status rc = qp_quant_state_at(e->q, i - e->state0, NULL, out);
    if (!rc && name)
        *name = s->text + s->full[i];
    return rc;
}

qp_status
qp_quant_set_state_get(const qp_quant_set *s, const char *name, qp_tensor *out)
{
    if (!s || !name || !out)
        return QP_ERR_NULL_ARG;
    uint32_t qi, k;
    if (!qp__qset_resolve(s, name, strlen(name), &qi, &k))
        return QP_ERR_NOT_FOUND;
    return qp_quant_state_get(s->e[qi].q, s->e[qi].q->st[k].name, out);
}

qp_status
qp_quant_set_state_set(qp_quant_set *s, const char *name, const qp_tensor *value)
{
    if (!s)
        return QP_ERR_NULL_ARG;
    s->errmsg[0] = 0;
    if (!name || !value)
        return qp__qset_err(s, QP_ERR_NULL_ARG, "name or value is NULL");
    uint32_t qi, k;
    if (!qp__qset_resolve(s, name, strlen(name), &qi, &k))
        return qp__qset_err(s, QP_ERR_NOT_FOUND, "no quantizer has a state entry '%.200s'", name);
    const struct qp__qent *e = &s->e[qi];
    qp_status rc = qp_quant_state_set(e->q, e->q->st[k].name, value);
    if (rc)
        return qp__qset_err(s, rc, "%s: %s", s->text + e->path, qp_quant_errmsg(e->q));
    return QP_OK;
}
