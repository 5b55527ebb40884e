/*
 * text_values.c - the qgraph value parser (FORMAT.md "values"): literals,
 * strings with escapes, numbers, node references, and nested tuples, lists,
 * dicts and calls, parsed without recursion. An explicit stack of open
 * containers collects items in a scratch array; each container moves into the
 * value pool as one contiguous run when it closes.
 */
#include "text_read.h"

#include <stdio.h>
#include <stdlib.h>

/* ==== values ==== */

static qp_status
push_item(struct reader *r, const struct qp__val *v)
{
    if (r->nitems == r->capitems) {
        qp_status rc = QP__GROW(r->g, r->items, r->nitems, r->capitems, 1);
        if (rc)
            return qp__tr_fail_g(r, rc);
    }
    r->items[r->nitems++] = *v;
    return QP_OK;
}

/* A string literal at r->pos (on the quote): decoded into r->sbuf. */
static qp_status
string(struct reader *r, uint32_t *sym)
{
    size_t open = r->pos++, o = 0;
    for (;;) {
        if (r->pos >= r->n)
            return qp__tr_fail(r, QP_ERR_PARSE, open + 1, "unterminated string");
        char c = r->s[r->pos++];
        if (c == '"')
            break;
        if (o + 4 > r->scap) {
            size_t cap = r->scap ? r->scap * 2 : 256;
            while (cap < o + 4)
                cap *= 2;
            char *p = qp__realloc(r->g, r->sbuf, r->scap, cap);
            if (!p)
                return qp__tr_fail(r, QP_ERR_NOMEM, open + 1, "out of memory reading a string");
            r->sbuf = p;
            r->scap = cap;
        }
        if (c != '\\') {
            r->sbuf[o++] = c;
            continue;
        }
        if (r->pos >= r->n)
            return qp__tr_fail(r, QP_ERR_PARSE, open + 1, "unterminated string");
        char e = r->s[r->pos++];
        switch (e) {
        case '"':
        case '\\':
        case '\'':
            r->sbuf[o++] = e;
            break;
        case 'n':
            r->sbuf[o++] = '\n';
            break;
        case 't':
            r->sbuf[o++] = '\t';
            break;
        case 'r':
            r->sbuf[o++] = '\r';
            break;
        case 'x': {
            int v = 0;
            for (int i = 0; i < 2; i++) {
                char h = r->pos < r->n ? r->s[r->pos] : 0;
                int d = is_digit(h)              ? h - '0'
                        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                 : -1;
                if (d < 0)
                    return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "\\x needs two hex digits");
                v = v * 16 + d;
                r->pos++;
            }
            r->sbuf[o++] = (char)v;
            break;
        }
        default:
            return qp__tr_fail(r, QP_ERR_PARSE, r->pos - 1, "unknown escape '\\%c'", e);
        }
    }
    return qp__tr_intern(r, r->sbuf ? r->sbuf : "", o, sym);
}

/* A number at r->pos: -?(inf|nan|digits with optional fraction and exponent). */
static qp_status
number(struct reader *r, struct qp__val *v)
{
    size_t start = r->pos, p = r->pos;
    const char *s = r->s;
    bool is_float = false;
    if (p < r->n && s[p] == '-')
        p++;
    if (p + 3 <= r->n && (!memcmp(s + p, "inf", 3) || !memcmp(s + p, "nan", 3))) {
        p += 3;
        is_float = true;
    } else {
        size_t d0 = p;
        while (p < r->n && is_digit(s[p]))
            p++;
        size_t intd = p - d0, fracd = 0;
        if (p < r->n && s[p] == '.') {
            is_float = true;
            p++;
            size_t f0 = p;
            while (p < r->n && is_digit(s[p]))
                p++;
            fracd = p - f0;
        }
        if (!intd && !fracd)
            return qp__tr_fail(r, QP_ERR_PARSE, start + 1, "malformed number");
        if (p < r->n && (s[p] == 'e' || s[p] == 'E')) {
            size_t q = p + 1;
            if (q < r->n && (s[q] == '+' || s[q] == '-'))
                q++;
            size_t e0 = q;
            while (q < r->n && is_digit(s[q]))
                q++;
            if (q == e0)
                return qp__tr_fail(r, QP_ERR_PARSE, start + 1, "malformed exponent");
            if (!intd)
                return qp__tr_fail(r, QP_ERR_PARSE, start + 1, "malformed number");
            p = q;
            is_float = true;
        }
    }
    if (p < r->n && (qp__is_word(s[p]) || s[p] == '.'))
        return qp__tr_fail(r, QP_ERR_PARSE, start + 1, "malformed number");
    r->pos = p;
    memset(v, 0, sizeof *v);
    v->depth = 1;
    if (is_float) {
        v->kind = QP_VAL_FLOAT;
        if (!qp__parse_float(s + start, p - start, &v->u.f))
            return qp__tr_fail(r, QP_ERR_PARSE, start + 1, "malformed or over-long float");
        return QP_OK;
    }
    v->kind = QP_VAL_INT;
    bool neg = s[start] == '-';
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t i = start + neg; i < p; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (lim - d) / 10)
            return qp__tr_fail(r, QP_ERR_PARSE, start + 1, "integer %.*s outside 64 bits",
                               (int)(p - start > 40 ? 40 : p - start), s + start);
        acc = acc * 10 + d;
    }
    v->u.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return QP_OK;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static qp_status
check_keys(struct reader *r, uint32_t first, uint32_t n, uint32_t col)
{
    if (n < 2)
        return QP_OK;
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = 0; j < i; j++)
                if (r->items[first + i].key == r->items[first + j].key)
                    return qp__tr_fail(r, QP_ERR_PARSE, col, "duplicate key '%.64s'",
                                       qp__sym_str(r->g, r->items[first + i].key));
        return QP_OK;
    }
    if (n > r->capkeys) {
        uint32_t *k =
            qp__realloc(r->g, r->keys, (size_t)r->capkeys * sizeof *k, (size_t)n * sizeof *k);
        if (!k)
            return qp__tr_fail(r, QP_ERR_NOMEM, col, "out of memory");
        r->keys = k;
        r->capkeys = n;
    }
    for (uint32_t i = 0; i < n; i++)
        r->keys[i] = r->items[first + i].key;
    qsort(r->keys, n, sizeof *r->keys, cmp_u32);
    for (uint32_t i = 1; i < n; i++)
        if (r->keys[i] == r->keys[i - 1])
            return qp__tr_fail(r, QP_ERR_PARSE, col, "duplicate key '%.64s'",
                               qp__sym_str(r->g, r->keys[i]));
    return QP_OK;
}

/* Moves the items of the top frame into the pool; *out gets the aggregate record. */
static qp_status
close_frame(struct reader *r, struct frame *f, struct qp__val *out)
{
    qp_graph *g = r->g;
    uint32_t n = r->nitems - f->first, first = 0;
    if (f->kind == QP_VAL_DICT) {
        qp_status rc = check_keys(r, f->first, n, f->col);
        if (rc)
            return rc;
    }
    uint8_t depth = 0;
    if (n) {
        qp_status rc = qp__val_push(g, n, &first);
        if (rc)
            return qp__tr_fail_g(r, rc);
        memcpy(&g->vals[first], &r->items[f->first], (size_t)n * sizeof *g->vals);
        for (uint32_t i = 0; i < n; i++) {
            struct qp__val *v = &g->vals[first + i];
            if (v->depth > depth)
                depth = v->depth;
            if (v->kind != QP_VAL_NODE)
                continue;
            /* a = name sym, b = column, until the references are resolved */
            if (r->nrefs == r->caprefs) {
                rc = QP__GROW(g, r->refs, r->nrefs, r->caprefs, 1);
                if (rc)
                    return qp__tr_fail_g(r, rc);
            }
            r->refs[r->nrefs++] = (struct ref){first + i, r->lineno, v->b};
            v->b = 0;
        }
    }
    r->nitems = f->first;
    memset(out, 0, sizeof *out);
    out->kind = f->kind;
    out->depth = (uint8_t)(depth + 1);
    out->a = first;
    out->b = n;
    if (f->kind == QP_VAL_CALL)
        out->u.name = f->name;
    return QP_OK;
}

/*
 * Parses one container value at r->pos, which must open with `open`, and
 * returns its pool id. Scalars and nested containers go through one loop.
 */
qp_status
qp__tr_container(struct reader *r, char open, const char *what, uint32_t *out)
{
    skip_ws(r);
    if (r->pos >= r->n || r->s[r->pos] != open)
        return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "expected '%c' to open the %s", open, what);
    int top = 0;
    struct frame *f = &r->frames[0];
    f->kind = open == '(' ? QP_VAL_TUPLE : open == '[' ? QP_VAL_LIST : QP_VAL_DICT;
    f->close = open == '(' ? ')' : open == '[' ? ']' : '}';
    f->first = r->nitems;
    f->col = (uint32_t)r->pos + 1;
    f->key = 0;
    r->pos++;
    /* after an item: ',' or the close; before one: an item or the close */
    bool need_sep = false;
    for (;;) {
        f = &r->frames[top];
        skip_ws(r);
        if (r->pos >= r->n)
            return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1,
                               "expected '%c' to close the value opened "
                               "at column %u",
                               f->close, (unsigned)f->col);
        char c = r->s[r->pos];
        struct qp__val v;
        if (c == f->close) {
            r->pos++;
            qp_status rc = close_frame(r, f, &v);
            if (rc)
                return rc;
            if (top == 0) {
                uint32_t id;
                rc = qp__val_push(r->g, 1, &id);
                if (rc)
                    return qp__tr_fail_g(r, rc);
                r->g->vals[id] = v;
                *out = id;
                return QP_OK;
            }
            top--;
            f = &r->frames[top];
            v.key = f->key;
            rc = push_item(r, &v);
            if (rc)
                return rc;
            need_sep = true;
            continue;
        }
        if (need_sep) {
            if (c != ',')
                return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "expected ',' or '%c'", f->close);
            r->pos++;
            need_sep = false;
            continue;
        }
        if (top + 1 > QP__MAX_DEPTH)
            return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "values nested deeper than %d",
                               QP__MAX_DEPTH);
        /* a DICT item starts with its key */
        if (f->kind == QP_VAL_DICT) {
            size_t k0 = r->pos;
            uint32_t key;
            qp_status rc;
            if (c == '"') {
                /* any string, "" included (MQBench's preserve_attr uses it for the root) */
                rc = string(r, &key);
                if (rc)
                    return rc;
            } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') {
                while (r->pos < r->n && (qp__is_word(r->s[r->pos]) || r->s[r->pos] == '.'))
                    r->pos++;
                if (r->pos - k0 > QP_MAX_NAME)
                    return qp__tr_fail(r, QP_ERR_LIMIT, k0 + 1, "key longer than %u bytes",
                                       QP_MAX_NAME);
                rc = qp__tr_intern(r, r->s + k0, r->pos - k0, &key);
                if (rc)
                    return rc;
            } else {
                return qp__tr_fail(r, QP_ERR_PARSE, k0 + 1, "expected a key");
            }
            skip_ws(r);
            if (r->pos >= r->n || r->s[r->pos] != ':')
                return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "expected ':' after the key");
            r->pos++;
            skip_ws(r);
            f->key = key;
            if (r->pos >= r->n)
                return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "expected a value");
            c = r->s[r->pos];
        } else {
            f->key = 0;
        }
        size_t vcol = r->pos + 1;
        memset(&v, 0, sizeof v);
        v.depth = 1;
        v.key = f->key;
        if (c == '(' || c == '[' || c == '{') {
            struct frame *nf = &r->frames[++top];
            nf->kind = c == '(' ? QP_VAL_TUPLE : c == '[' ? QP_VAL_LIST : QP_VAL_DICT;
            nf->close = c == '(' ? ')' : c == '[' ? ']' : '}';
            nf->first = r->nitems;
            nf->col = (uint32_t)vcol;
            nf->key = 0;
            nf->name = 0;
            r->pos++;
            need_sep = false;
            continue;
        }
        qp_status rc = QP_OK;
        if (c == '%') {
            size_t p = ++r->pos;
            while (r->pos < r->n && qp__is_word(r->s[r->pos]))
                r->pos++;
            if (r->pos == p)
                return qp__tr_fail(r, QP_ERR_PARSE, vcol, "expected a node name after '%%'");
            if (r->pos - p > QP_MAX_NAME)
                return qp__tr_fail(r, QP_ERR_LIMIT, vcol, "node name longer than %u bytes",
                                   QP_MAX_NAME);
            v.kind = QP_VAL_NODE;
            uint32_t y = among(r->g, r->recent_nodes, 8, r->s + p, r->pos - p);
            rc = y ? QP_OK : qp__tr_intern(r, r->s + p, r->pos - p, &y);
            v.a = y;
            v.b = (uint32_t)vcol; /* kept until the reference is resolved */
        } else if (c == '"') {
            v.kind = QP_VAL_STR;
            rc = string(r, &v.a);
        } else if (c == '-' || c == '.' || is_digit(c) ||
                   (r->pos + 3 <= r->n &&
                    (!memcmp(r->s + r->pos, "inf", 3) || !memcmp(r->s + r->pos, "nan", 3)) &&
                    (r->pos + 3 == r->n ||
                     !(qp__is_word(r->s[r->pos + 3]) || r->s[r->pos + 3] == '.')))) {
            rc = number(r, &v);
            v.key = f->key;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') {
            size_t p = r->pos;
            while (r->pos < r->n && (qp__is_word(r->s[r->pos]) || r->s[r->pos] == '.'))
                r->pos++;
            size_t len = r->pos - p;
            if (len > QP_MAX_NAME)
                return qp__tr_fail(r, QP_ERR_LIMIT, vcol, "identifier longer than %u bytes",
                                   QP_MAX_NAME);
            const char *id = r->s + p;
            if (len == 4 && !memcmp(id, "True", 4)) {
                v.kind = QP_VAL_BOOL;
                v.u.i = 1;
            } else if (len == 5 && !memcmp(id, "False", 5)) {
                v.kind = QP_VAL_BOOL;
            } else if (len == 4 && !memcmp(id, "None", 4)) {
                v.kind = QP_VAL_NONE;
            } else {
                uint32_t sym;
                rc = qp__tr_intern(r, id, len, &sym);
                if (rc)
                    return rc;
                skip_ws(r);
                if (r->pos < r->n && r->s[r->pos] == '(') {
                    struct frame *nf = &r->frames[++top];
                    nf->kind = QP_VAL_CALL;
                    nf->close = ')';
                    nf->first = r->nitems;
                    nf->col = (uint32_t)vcol;
                    nf->key = 0;
                    nf->name = sym;
                    r->pos++;
                    need_sep = false;
                    continue;
                }
                v.kind = QP_VAL_IDENT;
                v.a = sym;
            }
        } else {
            return qp__tr_fail(r, QP_ERR_PARSE, vcol, "unexpected '%c'", c);
        }
        if (rc)
            return rc;
        rc = push_item(r, &v);
        if (rc)
            return rc;
        need_sep = true;
    }
}

void
qp__tr_free_scratch(struct reader *r)
{
    qp__free(r->g, r->refs, (size_t)r->caprefs * sizeof *r->refs);
    qp__free(r->g, r->items, (size_t)r->capitems * sizeof *r->items);
    qp__free(r->g, r->sbuf, r->scap);
    qp__free(r->g, r->keys, (size_t)r->capkeys * sizeof *r->keys);
}

qp_status
qp__parse_value(qp_graph *g, const char *s, size_t n, size_t *pos, uint32_t *out, char *msg,
                size_t cap)
{
    struct reader r;
    qp_error e;
    memset(&r, 0, sizeof r);
    memset(&e, 0, sizeof e);
    r.g = g;
    r.err = &e;
    r.s = s;
    r.n = n;
    r.pos = *pos;
    r.lineno = 1;
    *out = 0;
    skip_ws(&r);
    char open = r.pos < n ? s[r.pos] : 0;
    qp_status rc;
    if (open != '(' && open != '[' && open != '{')
        rc = qp__tr_fail(&r, QP_ERR_PARSE, r.pos + 1, "expected a dict, list or tuple");
    else
        rc = qp__tr_container(&r, open, "value", out);
    if (!rc && r.nrefs)
        rc = qp__tr_fail(&r, QP_ERR_PARSE, r.refs[0].col, "node references are not allowed here");
    qp__tr_free_scratch(&r);
    if (rc) {
        *out = 0;
        *pos = e.col ? e.col - 1 : r.pos;
        qp__fmt(msg, cap, "%s", e.msg);
        return rc;
    }
    *pos = r.pos;
    return QP_OK;
}
