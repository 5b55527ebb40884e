/*
 * value.c - the value pool: args, kwargs and attribute trees.
 *
 * Records are append-only and an aggregate's items are one contiguous run,
 * so building a tuple copies its item records (a shallow copy: nested
 * aggregates share their items). Walks recurse at most QP__MAX_DEPTH + 1
 * deep, which constructors enforce.
 *
 * Depth: a scalar or an empty aggregate is 1, an aggregate 1 + its deepest
 * item. FORMAT.md (and qgraph.py) count nesting from inside the args tuple
 * or attribute dict: its items may be QP__MAX_DEPTH deep. So an aggregate
 * may hold items of depth QP__MAX_DEPTH, which lets a reader-built args tuple
 * be rebuilt through the API; an item one deeper would print as text the
 * reader refuses.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

bool
qp__val_valid(const qp_graph *g, uint32_t v)
{
    return g && v > 0 && v < g->nvals;
}

qp_status
qp__val_push(qp_graph *g, uint32_t n, uint32_t *first)
{
    qp_status rc = QP__GROW(g, g->vals, g->nvals, g->capvals, n);
    if (rc)
        return rc;
    *first = g->nvals;
    memset(&g->vals[g->nvals], 0, (size_t)n * sizeof *g->vals);
    g->nvals += n;
    return QP_OK;
}

static uint32_t
scalar(qp_graph *g, uint8_t kind)
{
    uint32_t id;
    if (qp__val_push(g, 1, &id))
        return 0;
    g->vals[id].kind = kind;
    g->vals[id].depth = 1;
    return id;
}

uint32_t
qp__val_none(qp_graph *g)
{
    return scalar(g, QP_VAL_NONE);
}

uint32_t
qp__val_bool(qp_graph *g, bool b)
{
    uint32_t id = scalar(g, QP_VAL_BOOL);
    if (id)
        g->vals[id].u.i = b;
    return id;
}

uint32_t
qp__val_int(qp_graph *g, int64_t i)
{
    uint32_t id = scalar(g, QP_VAL_INT);
    if (id)
        g->vals[id].u.i = i;
    return id;
}

uint32_t
qp__val_float(qp_graph *g, double f)
{
    uint32_t id = scalar(g, QP_VAL_FLOAT);
    if (id)
        g->vals[id].u.f = f;
    return id;
}

uint32_t
qp__val_strsym(qp_graph *g, uint32_t kind, uint32_t sym)
{
    uint32_t id = scalar(g, (uint8_t)kind);
    if (id)
        g->vals[id].a = sym;
    return id;
}

uint32_t
qp__val_empty(qp_graph *g, uint8_t kind)
{
    (void)g;
    return kind == QP_VAL_DICT ? QP__VAL_EMPTY_DICT : QP__VAL_EMPTY_TUPLE;
}

uint32_t
qp__val_agg(qp_graph *g, uint8_t kind, uint32_t name, uint32_t n, const uint32_t *items,
            const uint32_t *keys)
{
    uint8_t depth = 0;
    for (uint32_t i = 0; i < n; i++)
        if (g->vals[items[i]].depth > depth)
            depth = g->vals[items[i]].depth;
    if (depth > QP__MAX_DEPTH) {
        qp__err(g, QP_ERR_LIMIT, "values nested deeper than %d", QP__MAX_DEPTH);
        return 0;
    }
    uint32_t first = 0, id;
    if (n && qp__val_push(g, n, &first))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        struct qp__val *r = &g->vals[first + i];
        *r = g->vals[items[i]];
        r->key = keys ? keys[i] : 0;
        if (r->kind == QP_VAL_NODE) { /* a copy is not attached to anything */
            r->b = 0;
            r->u.use.prev = r->u.use.next = 0;
        }
    }
    if (qp__val_push(g, 1, &id))
        return 0;
    struct qp__val *r = &g->vals[id];
    r->kind = kind;
    r->depth = (uint8_t)(depth + 1);
    r->a = n ? first : 0;
    r->b = n;
    if (kind == QP_VAL_CALL)
        r->u.name = name;
    return id;
}

uint32_t
qp__val_item(const qp_graph *g, uint32_t v, uint32_t i)
{
    const struct qp__val *r = &g->vals[v];
    switch (r->kind) {
    case QP_VAL_TUPLE:
    case QP_VAL_LIST:
    case QP_VAL_DICT:
    case QP_VAL_CALL:
        return i < r->b ? r->a + i : 0;
    default:
        return 0;
    }
}

uint32_t
qp__val_get(const qp_graph *g, uint32_t dict, uint32_t key)
{
    const struct qp__val *r = &g->vals[dict];
    if (r->kind != QP_VAL_DICT) /* key 0 is "", a valid key */
        return 0;
    for (uint32_t i = 0; i < r->b; i++)
        if (g->vals[r->a + i].key == key)
            return r->a + i;
    return 0;
}

uint32_t
qp__val_dict_set(qp_graph *g, uint32_t d, uint32_t key, uint32_t v)
{
    uint32_t n = g->vals[d].b, first = g->vals[d].a, at = n, id, out;
    for (uint32_t i = 0; i < n; i++)
        if (g->vals[first + i].key == key)
            at = i;
    uint32_t cnt = at == n ? n + 1 : n;
    uint8_t depth = g->vals[v].depth;
    for (uint32_t i = 0; i < n; i++)
        if (i != at && g->vals[first + i].depth > depth)
            depth = g->vals[first + i].depth;
    if (depth > QP__MAX_DEPTH) {
        qp__err(g, QP_ERR_LIMIT, "values nested deeper than %d", QP__MAX_DEPTH);
        return 0;
    }
    if (qp__val_push(g, cnt + 1, &id))
        return 0;
    for (uint32_t i = 0; i < n; i++)
        g->vals[id + i] = g->vals[first + i];
    g->vals[id + at] = g->vals[v];
    g->vals[id + at].key = key;
    out = id + cnt;
    struct qp__val *r = &g->vals[out];
    r->kind = QP_VAL_DICT;
    r->depth = (uint8_t)(depth + 1);
    r->a = id;
    r->b = cnt;
    return out;
}

bool
qp__val_equal(const qp_graph *g, uint32_t a, uint32_t b)
{
    const struct qp__val *x = &g->vals[a], *y = &g->vals[b];
    if (x->kind != y->kind)
        return false;
    switch (x->kind) {
    case QP_VAL_NONE:
        return true;
    case QP_VAL_BOOL:
    case QP_VAL_INT:
        return x->u.i == y->u.i;
    case QP_VAL_FLOAT:
        return x->u.f == y->u.f || (x->u.f != x->u.f && y->u.f != y->u.f);
    case QP_VAL_STR:
    case QP_VAL_IDENT:
    case QP_VAL_NODE:
        return x->a == y->a;
    case QP_VAL_CALL:
        if (x->u.name != y->u.name)
            return false;
        /* fall through */
    default:
        if (x->b != y->b)
            return false;
        for (uint32_t i = 0; i < x->b; i++) {
            uint32_t xi = x->a + i, yi = y->a + i;
            /* a dict is a Python dict: the same keys in any order (keys are
             * distinct, so equal counts and a match for each key suffice) */
            if (g->vals[xi].key != g->vals[yi].key) {
                if (x->kind != QP_VAL_DICT)
                    return false;
                yi = qp__val_get(g, b, g->vals[xi].key);
                if (!yi)
                    return false;
            }
            if (!qp__val_equal(g, xi, yi))
                return false;
        }
        return true;
    }
}

static bool
is_agg(uint8_t kind)
{
    return kind == QP_VAL_TUPLE || kind == QP_VAL_LIST || kind == QP_VAL_DICT ||
           kind == QP_VAL_CALL;
}

bool
qp__val_has_nodes(const qp_graph *g, uint32_t v)
{
    const struct qp__val *r = &g->vals[v];
    if (r->kind == QP_VAL_NODE)
        return true;
    if (!is_agg(r->kind))
        return false;
    for (uint32_t i = 0; i < r->b; i++)
        if (qp__val_has_nodes(g, r->a + i))
            return true;
    return false;
}

/* Copies the items of aggregate v into a fresh run, deeply; returns the run's first id. */
static qp_status
copy_items(qp_graph *g, uint32_t v, uint32_t *first)
{
    uint32_t n = g->vals[v].b, src = g->vals[v].a;
    *first = 0;
    if (!n)
        return QP_OK;
    qp_status rc = qp__val_push(g, n, first);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        struct qp__val r = g->vals[src + i];
        if (r.kind == QP_VAL_NODE) {
            r.b = 0;
            r.u.use.prev = r.u.use.next = 0;
        } else if (is_agg(r.kind)) {
            uint32_t sub;
            rc = copy_items(g, src + i, &sub);
            if (rc)
                return rc;
            r.a = sub;
        }
        g->vals[*first + i] = r;
    }
    return QP_OK;
}

uint32_t
qp__val_copy(qp_graph *g, uint32_t v)
{
    struct qp__val r = g->vals[v];
    uint32_t id;
    if (r.kind == QP_VAL_NODE) {
        r.b = 0;
        r.u.use.prev = r.u.use.next = 0;
    } else if (is_agg(r.kind)) {
        if (copy_items(g, v, &r.a))
            return 0;
    }
    if (qp__val_push(g, 1, &id))
        return 0;
    r.key = 0;
    g->vals[id] = r;
    return id;
}

void
qp__val_each_node(qp_graph *g, uint32_t v, qp__val_visit_fn fn, void *ud)
{
    const struct qp__val *r = &g->vals[v];
    if (r->kind == QP_VAL_NODE) {
        fn(g, v, ud);
        return;
    }
    if (!is_agg(r->kind))
        return;
    uint32_t first = r->a, n = r->b;
    for (uint32_t i = 0; i < n; i++)
        qp__val_each_node(g, first + i, fn, ud);
}

/* ==== public accessors ==== */

static const struct qp__val *
rec(const qp_graph *g, qp_val v)
{
    return qp__val_valid(g, v.id) ? &g->vals[v.id] : NULL;
}

qp_val_kind
qp_val_kind_of(const qp_graph *g, qp_val v)
{
    const struct qp__val *r = rec(g, v);
    return r ? (qp_val_kind)r->kind : QP_VAL_KIND_COUNT;
}

bool
qp_val_as_bool(const qp_graph *g, qp_val v)
{
    const struct qp__val *r = rec(g, v);
    return r && r->kind == QP_VAL_BOOL && r->u.i;
}

int64_t
qp_val_as_int(const qp_graph *g, qp_val v)
{
    const struct qp__val *r = rec(g, v);
    return r && (r->kind == QP_VAL_INT || r->kind == QP_VAL_BOOL) ? r->u.i : 0;
}

double
qp_val_as_float(const qp_graph *g, qp_val v)
{
    const struct qp__val *r = rec(g, v);
    if (!r)
        return 0;
    if (r->kind == QP_VAL_FLOAT)
        return r->u.f;
    if (r->kind == QP_VAL_INT)
        return (double)r->u.i;
    return 0;
}

const char *
qp_val_as_str(const qp_graph *g, qp_val v, size_t *len)
{
    const struct qp__val *r = rec(g, v);
    uint32_t sym = 0;
    if (r && (r->kind == QP_VAL_STR || r->kind == QP_VAL_IDENT))
        sym = r->a;
    else if (r && r->kind == QP_VAL_CALL)
        sym = r->u.name;
    else {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = qp__sym_len(g, sym);
    return qp__sym_str(g, sym);
}

qp_node
qp_val_as_node(const qp_graph *g, qp_val v)
{
    const struct qp__val *r = rec(g, v);
    qp_node n = {r && r->kind == QP_VAL_NODE ? r->a : 0};
    return n;
}

uint32_t
qp_val_num_items(const qp_graph *g, qp_val v)
{
    const struct qp__val *r = rec(g, v);
    return r && is_agg(r->kind) ? r->b : 0;
}

qp_val
qp_val_item_at(const qp_graph *g, qp_val v, uint32_t i)
{
    qp_val out = {rec(g, v) ? qp__val_item(g, v.id, i) : 0};
    return out;
}

const char *
qp_val_key_at(const qp_graph *g, qp_val v, uint32_t i)
{
    const struct qp__val *r = rec(g, v);
    if (!r || r->kind != QP_VAL_DICT || i >= r->b)
        return NULL;
    return qp__sym_str(g, g->vals[r->a + i].key);
}

qp_val
qp_val_dict_get(const qp_graph *g, qp_val v, const char *key)
{
    qp_val out = {0};
    if (!rec(g, v) || !key)
        return out;
    uint32_t k = qp__sym_find(g, key, strlen(key));
    out.id = k || !key[0] ? qp__val_get(g, v.id, k) : 0;
    return out;
}

bool
qp_val_equal(const qp_graph *g, qp_val a, qp_val b)
{
    return rec(g, a) && rec(g, b) && qp__val_equal(g, a.id, b.id);
}

/* ==== public constructors ==== */

/*
 * Every constructor writes *out last, after it has read its inputs, so an
 * out-param may alias an item (v = tuple(v) as qp_val_new_tuple(g, 1, &v, &v)).
 * On failure *out is the null handle.
 */
static qp_status
done(qp_val *out, uint32_t id, qp_status rc)
{
    if (!rc && !id)
        rc = QP_ERR_NOMEM;
    out->id = rc ? 0 : id;
    return rc;
}

#define CHECK_OUT(g, out)                                                                  \
    do {                                                                                   \
        if (!(out))                                                                        \
            return qp__err((g), QP_ERR_NULL_ARG, "out is NULL");                           \
        if (!(g)) {                                                                        \
            (out)->id = 0;                                                                 \
            return QP_ERR_NULL_ARG;                                                        \
        }                                                                                  \
    } while (0)

qp_status
qp_val_new_none(qp_graph *g, qp_val *out)
{
    CHECK_OUT(g, out);
    return done(out, qp__val_none(g), QP_OK);
}

qp_status
qp_val_new_bool(qp_graph *g, bool b, qp_val *out)
{
    CHECK_OUT(g, out);
    return done(out, qp__val_bool(g, b), QP_OK);
}

qp_status
qp_val_new_int(qp_graph *g, int64_t i, qp_val *out)
{
    CHECK_OUT(g, out);
    return done(out, qp__val_int(g, i), QP_OK);
}

qp_status
qp_val_new_float(qp_graph *g, double f, qp_val *out)
{
    CHECK_OUT(g, out);
    return done(out, qp__val_float(g, f), QP_OK);
}

qp_status
qp_val_new_str(qp_graph *g, const char *s, size_t len, qp_val *out)
{
    CHECK_OUT(g, out);
    if (!s && len)
        return done(out, 0, qp__err(g, QP_ERR_NULL_ARG, "string is NULL"));
    uint32_t sym;
    qp_status rc = qp__sym_intern(g, s, len, &sym);
    return done(out, rc ? 0 : qp__val_strsym(g, QP_VAL_STR, sym), rc);
}

/* [A-Za-z_][A-Za-z0-9_.]*, and not a word the reader takes for a literal
 * (True, False, None, inf, nan): an identifier or call named so would read
 * back as something else. */
bool
qp__is_dotted_name(const char *s, size_t len)
{
    if (!len || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool
ident_ok(const char *s, size_t len)
{
    if (len > QP_MAX_NAME || !qp__is_dotted_name(s, len))
        return false;
    return strcmp(s, "True") && strcmp(s, "False") && strcmp(s, "None") && strcmp(s, "inf") &&
           strcmp(s, "nan");
}

qp_status
qp_val_new_ident(qp_graph *g, const char *name, qp_val *out)
{
    CHECK_OUT(g, out);
    if (!name)
        return done(out, 0, qp__err(g, QP_ERR_NULL_ARG, "name is NULL"));
    size_t len = strlen(name);
    if (!ident_ok(name, len))
        return done(out, 0, qp__err(g, QP_ERR_INVALID_NAME, "'%.64s' is not an identifier",
                                    name));
    uint32_t sym;
    qp_status rc = qp__sym_intern(g, name, len, &sym);
    return done(out, rc ? 0 : qp__val_strsym(g, QP_VAL_IDENT, sym), rc);
}

qp_status
qp_val_new_node(qp_graph *g, qp_node n, qp_val *out)
{
    CHECK_OUT(g, out);
    if (!qp__node_live(g, n.id))
        return done(out, 0, qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not a live node of "
                                    "this graph", (unsigned)n.id));
    uint32_t id = scalar(g, QP_VAL_NODE);
    if (id)
        g->vals[id].a = n.id;
    return done(out, id, QP_OK);
}

static qp_status
check_items(qp_graph *g, uint32_t n, const qp_val *items)
{
    if (n && !items)
        return qp__err(g, QP_ERR_NULL_ARG, "items is NULL");
    for (uint32_t i = 0; i < n; i++) {
        if (!qp__val_valid(g, items[i].id))
            return qp__err(g, QP_ERR_INVALID_ARG, "item %u is not a value of this graph",
                           (unsigned)i);
        if (g->vals[items[i].id].depth > QP__MAX_DEPTH)
            return qp__err(g, QP_ERR_LIMIT, "values nested deeper than %d", QP__MAX_DEPTH);
    }
    return QP_OK;
}

/* The items were checked, so a failure here is the allocator's. */
static qp_status
agg(qp_graph *g, uint8_t kind, uint32_t name, uint32_t n, const qp_val *items,
    const uint32_t *keys, qp_val *out)
{
    /* qp_val is a one-field struct of uint32_t: the same layout as the id array */
    uint32_t id = qp__val_agg(g, kind, name, n, (const uint32_t *)(const void *)items, keys);
    return done(out, id, id ? QP_OK : QP_ERR_NOMEM);
}

qp_status
qp_val_new_tuple(qp_graph *g, uint32_t n, const qp_val *items, qp_val *out)
{
    CHECK_OUT(g, out);
    qp_status rc = check_items(g, n, items);
    return rc ? done(out, 0, rc) : agg(g, QP_VAL_TUPLE, 0, n, items, NULL, out);
}

qp_status
qp_val_new_list(qp_graph *g, uint32_t n, const qp_val *items, qp_val *out)
{
    CHECK_OUT(g, out);
    qp_status rc = check_items(g, n, items);
    return rc ? done(out, 0, rc) : agg(g, QP_VAL_LIST, 0, n, items, NULL, out);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

qp_status
qp_val_new_dict(qp_graph *g, uint32_t n, const char *const *keys, const qp_val *items,
                qp_val *out)
{
    CHECK_OUT(g, out);
    if (n && !keys)
        return done(out, 0, qp__err(g, QP_ERR_NULL_ARG, "keys is NULL"));
    qp_status rc = check_items(g, n, items);
    if (rc)
        return done(out, 0, rc);
    for (uint32_t i = 0; i < n; i++) {
        if (!keys[i])
            return done(out, 0, qp__err(g, QP_ERR_NULL_ARG, "key %u is NULL", (unsigned)i));
        size_t len = strlen(keys[i]);
        if (!len || len > QP_MAX_NAME || strpbrk(keys[i], " \t\r\n"))
            return done(out, 0, qp__err(g, QP_ERR_INVALID_NAME, "dict key %u is empty, too "
                                        "long or has white space", (unsigned)i));
    }
    rc = qp__sym_reserve(g, n);
    if (rc)
        return done(out, 0, rc);
    uint32_t *ks = qp__alloc(g, (size_t)(n ? n : 1) * 2 * sizeof *ks);
    if (!ks)
        return done(out, 0, qp__err(g, QP_ERR_NOMEM, "out of memory"));
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = qp__sym_intern(g, keys[i], strlen(keys[i]), &ks[i]);
    if (!rc) {
        memcpy(ks + n, ks, (size_t)n * sizeof *ks);
        qsort(ks + n, n, sizeof *ks, cmp_u32);
        for (uint32_t i = 1; i < n; i++)
            if (ks[n + i] == ks[n + i - 1]) {
                rc = qp__err(g, QP_ERR_DUP_NAME, "dict key '%.64s' given twice",
                             qp__sym_str(g, ks[n + i]));
                break;
            }
    }
    rc = rc ? done(out, 0, rc) : agg(g, QP_VAL_DICT, 0, n, items, ks, out);
    qp__free(g, ks, (size_t)(n ? n : 1) * 2 * sizeof *ks);
    return rc;
}

qp_status
qp_val_new_call(qp_graph *g, const char *name, uint32_t n, const qp_val *items, qp_val *out)
{
    CHECK_OUT(g, out);
    if (!name)
        return done(out, 0, qp__err(g, QP_ERR_NULL_ARG, "name is NULL"));
    if (!ident_ok(name, strlen(name)))
        return done(out, 0, qp__err(g, QP_ERR_INVALID_NAME, "'%.64s' is not a function name",
                                    name));
    qp_status rc = check_items(g, n, items);
    uint32_t sym = 0;
    if (!rc)
        rc = qp__sym_intern(g, name, strlen(name), &sym);
    return rc ? done(out, 0, rc) : agg(g, QP_VAL_CALL, sym, n, items, NULL, out);
}
