/*
 * state_text.c - a quantizer set's state as text (README "Quantizer state
 * files"): `qstate 1`, then `tensor NAME KIND (SHAPE) [VALUES]` per state_dict
 * entry, the tensor-line syntax of the numerics cases (.qn), floats as the
 * shortest decimal that reads back to the same double (the float32 value
 * widened: Python's repr of tensor.tolist()'s items, so PyTorch writes the same
 * bytes). The reader checks every line against the set before it applies any,
 * so a bad file leaves the state as it was.
 */
#include "../internal.h"
#include "qset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUMBER 100 /* longest number token, in bytes */

static const struct {
    const char *name;
    qp_dtype t;
    uint8_t size;
    int64_t lo, hi;
} kinds[] = {
    {"f32", QP_DT_F32, 4, 0, 0},
    {"i32", QP_DT_I32, 4, INT32_MIN, INT32_MAX},
    {"i64", QP_DT_I64, 8, INT64_MIN, INT64_MAX},
    {"u8", QP_DT_U8, 1, 0, 255},
    {"bool", QP_DT_BOOL, 1, 0, 1},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static unsigned
kind_of(qp_dtype t)
{
    for (unsigned k = 0; k < NKINDS; k++)
        if (kinds[k].t == t)
            return k;
    return 0;
}

/* ==== writing ==== */

/* A float32 value widened to double, as the qgraph writer writes floats (the
 * shortest decimal that reads back, nearest among those: Python's repr). buf holds
 * 32 bytes. */
static size_t
fmt_f32(float f, char *buf)
{
    return qp__fmt_float((double)f, buf);
}

size_t
qp__qset_fmt_f32(float f, char *buf)
{
    return fmt_f32(f, buf);
}

static void
put_int(qp__out *o, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    qp__out_bytes(o, b, (size_t)n);
}

static void
put_tensor(qp__out *o, const char *name, const qp_tensor *t)
{
    qp__out_str(o, "tensor ");
    qp__out_str(o, name);
    qp__out_char(o, ' ');
    qp__out_str(o, kinds[kind_of(t->dtype)].name);
    qp__out_str(o, " (");
    for (uint32_t d = 0; d < t->ndim; d++) {
        if (d)
            qp__out_str(o, ", ");
        put_int(o, t->shape[d]);
    }
    qp__out_str(o, t->ndim == 1 ? ",) [" : ") [");
    char b[32];
    for (size_t i = 0; i < t->numel; i++) {
        if (i)
            qp__out_str(o, ", ");
        switch (t->dtype) {
        case QP_DT_F32:
            qp__out_bytes(o, b, fmt_f32(((const float *)t->data)[i], b));
            break;
        case QP_DT_I32:
            put_int(o, ((const int32_t *)t->data)[i]);
            break;
        case QP_DT_I64:
            put_int(o, ((const int64_t *)t->data)[i]);
            break;
        default:
            put_int(o, ((const uint8_t *)t->data)[i]);
            break;
        }
    }
    qp__out_str(o, "]\n");
}

qp_status
qp_quant_set_save(const qp_quant_set *s, qp_write_fn fn, void *ud)
{
    if (!s || !fn)
        return QP_ERR_NULL_ARG;
    qp__out o;
    qp__out_init(&o, fn, ud);
    qp__out_str(&o, "qstate 1\n");
    for (uint32_t i = 0; i < s->nstate; i++) {
        const char *name;
        qp_tensor t;
        if (!qp_quant_set_state_at(s, i, &name, &t))
            put_tensor(&o, name, &t);
    }
    return qp__out_flush(&o);
}

static int
file_write(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ud) != len;
}

qp_status
qp_quant_set_save_file(const qp_quant_set *s, FILE *f)
{
    if (!s || !f)
        return QP_ERR_NULL_ARG;
    qp_status rc = qp_quant_set_save(s, file_write, f);
    if (!rc && fflush(f))
        rc = QP_ERR_IO;
    return rc;
}

/* ==== reading ==== */

/* One tensor line read and checked: its values sit in the reader's arena. */
struct item {
    uint32_t qi, st, line;
    size_t off; /* in the arena */
    qp_tensor t;
};

struct rd {
    qp_quant_set *s;
    qp_error *err;
    const char *ls; /* the current line, without its end */
    size_t ll;
    uint32_t line;
    struct item *it;
    uint32_t nit, capit;
    unsigned char *arena;
    size_t narena, caparena;
    uint32_t *seen; /* per state entry of the set: 1 + the item setting it, 0 none */
};

static qp_status fail(struct rd *r, qp_status st, size_t col, const char *fmt, ...)
    QP__QPRINTF(4, 5);

static qp_status
fail(struct rd *r, qp_status st, size_t col, const char *fmt, ...)
{
    char msg[sizeof r->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* running out of memory is no place in the file */
    uint32_t l = st == QP_ERR_NOMEM ? 0 : r->line, c = st == QP_ERR_NOMEM ? 0 : (uint32_t)(col + 1);
    if (r->err) {
        r->err->status = st;
        r->err->line = l;
        r->err->col = c;
        memcpy(r->err->msg, msg, sizeof msg);
    }
    if (l)
        snprintf(r->s->errmsg, sizeof r->s->errmsg, "%u:%u: %.230s", l, c, msg);
    else
        snprintf(r->s->errmsg, sizeof r->s->errmsg, "%.240s", msg);
    return st;
}

static int
shown(size_t n)
{
    return n > 60 ? 60 : (int)n;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* A decimal real (digits, an optional fraction and exponent), inf, -inf or nan. */
static bool
parse_real(const char *s, size_t n, double *out)
{
    if (n == 0 || n > MAX_NUMBER)
        return false;
    size_t i = s[0] == '-' || s[0] == '+';
    if (n - i == 3 && !memcmp(s + i, "inf", 3)) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (n == 3 && !memcmp(s, "nan", 3)) {
        *out = NAN;
        return true;
    }
    size_t digits = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t ed = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ed++;
        if (!ed)
            return false;
    }
    return i == n && qp__parse_float(s, n, out);
}

static bool
parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '-' || s[0] == '+'))
        neg = s[i++] == '-';
    if (i == n || n > MAX_NUMBER)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return *out >= lo && *out <= hi;
}

static qp_status
nomem(struct rd *r)
{
    return fail(r, QP_ERR_NOMEM, 0, "out of memory");
}

/* Room for `bytes` more in the arena, 8-aligned. */
static qp_status
arena_take(struct rd *r, size_t bytes, size_t *off)
{
    size_t at = (r->narena + 7) & ~(size_t)7;
    if (bytes > SIZE_MAX / 4 - at)
        return fail(r, QP_ERR_LIMIT, 0, "the file's values are too many");
    if (at + bytes > r->caparena) {
        size_t cap = r->caparena ? r->caparena : 256;
        while (cap < at + bytes)
            cap *= 2;
        unsigned char *p = r->s->alloc.fn(r->s->alloc.ud, r->arena, r->caparena, cap);
        if (!p)
            return nomem(r);
        r->arena = p;
        r->caparena = cap;
    }
    *off = at;
    r->narena = at + bytes;
    return QP_OK;
}

/* `(D0, D1, ...)` at *pi; *pi ends past ')'. */
static qp_status
read_shape(struct rd *r, size_t *pi, qp_tensor *t, const char *name, size_t nlen)
{
    const char *s = r->ls;
    size_t n = r->ll, i = *pi;
    if (i >= n || s[i] != '(')
        return fail(r, QP_ERR_PARSE, i, "%.*s: expected '(' and the shape", shown(nlen), name);
    i++;
    while (i < n && is_space(s[i]))
        i++;
    t->ndim = 0;
    t->numel = 1;
    while (i < n && s[i] != ')') {
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        int64_t d;
        if (i == st || !parse_int(s + st, i - st, 0, INT64_MAX, &d))
            return fail(r, QP_ERR_PARSE, st, "%.*s: bad size in the shape (a count: 0, 1, ...)",
                        shown(nlen), name);
        if (t->ndim == QP_QUANT_MAX_DIMS)
            return fail(r, QP_ERR_PARSE, st, "%.*s: more than %d dimensions", shown(nlen), name,
                        QP_QUANT_MAX_DIMS);
        if (d && t->numel > (SIZE_MAX / 16) / (uint64_t)d)
            return fail(r, QP_ERR_LIMIT, st, "%.*s: the shape has too many elements", shown(nlen),
                        name);
        t->shape[t->ndim++] = d;
        t->numel *= (size_t)d;
        while (i < n && is_space(s[i]))
            i++;
        if (i < n && s[i] == ',') {
            i++;
            while (i < n && is_space(s[i]))
                i++;
        } else if (i < n && s[i] != ')') {
            return fail(r, QP_ERR_PARSE, i, "%.*s: expected ',' or ')' in the shape", shown(nlen),
                        name);
        }
    }
    if (i >= n)
        return fail(r, QP_ERR_PARSE, i, "%.*s: the shape has no ')'", shown(nlen), name);
    *pi = i + 1;
    return QP_OK;
}

/* `tensor NAME KIND (SHAPE) [VALUES]`: read, checked against the set, kept. */
static qp_status
read_tensor(struct rd *r)
{
    const char *s = r->ls;
    size_t n = r->ll, i = 7; /* past "tensor " */
    qp_quant_set *set = r->s;
    size_t name0 = i;
    while (i < n && !is_space(s[i]))
        i++;
    const char *name = s + name0;
    size_t nlen = i - name0;
    if (!nlen)
        return fail(r, QP_ERR_PARSE, i, "expected the entry's name after 'tensor '");
    uint32_t qi, st;
    if (!qp__qset_resolve(set, name, nlen, &qi, &st))
        return fail(r, QP_ERR_NOT_FOUND, name0, "%.*s: no quantizer of the set has this entry",
                    shown(nlen), name);
    uint32_t slot = set->e[qi].state0 + st;
    if (r->seen[slot])
        return fail(r, QP_ERR_DUP_NAME, name0, "%.*s: given again (first on line %u)", shown(nlen),
                    name, r->it[r->seen[slot] - 1].line);
    if (i >= n || s[i] != ' ')
        return fail(r, QP_ERR_PARSE, i, "%.*s: expected ' ' and the kind after the name",
                    shown(nlen), name);
    size_t k0 = ++i;
    while (i < n && !is_space(s[i]))
        i++;
    unsigned k = 0;
    while (k < NKINDS &&
           !(strlen(kinds[k].name) == i - k0 && !memcmp(kinds[k].name, s + k0, i - k0)))
        k++;
    if (k == NKINDS)
        return fail(r, QP_ERR_PARSE, k0, "%.*s: unknown kind '%.*s' (f32, i32, i64, u8 or bool)",
                    shown(nlen), name, shown(i - k0), s + k0);
    if (i >= n || s[i] != ' ')
        return fail(r, QP_ERR_PARSE, i, "%.*s: expected ' ' and the shape after the kind",
                    shown(nlen), name);
    size_t shape0 = ++i;
    qp_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = kinds[k].t;
    qp_status rc = read_shape(r, &i, &t, name, nlen);
    if (rc)
        return rc;
    if (i + 1 >= n || s[i] != ' ' || s[i + 1] != '[')
        return fail(r, QP_ERR_PARSE, i, "%.*s: expected ' [' and the values after the shape",
                    shown(nlen), name);
    if (s[n - 1] != ']')
        return fail(r, QP_ERR_PARSE, n, "%.*s: the values do not end with ']'", shown(nlen), name);
    /* the kind and shape against the entry, before the values are believed */
    qp_quant *q = set->e[qi].q;
    if ((rc = qp__qs_check(q, st, &t)))
        return fail(r, rc, t.dtype != q->st[st].dtype ? k0 : shape0, "%.*s: %s", shown(nlen), name,
                    qp_quant_errmsg(q));
    size_t b0 = i + 2, b1 = n - 1, count = 0;
    bool any = false;
    for (size_t j = b0; j < b1; j++) {
        if (s[j] == ',')
            count++;
        else if (!is_space(s[j]))
            any = true;
    }
    if (any || count)
        count++;
    if (count != t.numel)
        return fail(r, QP_ERR_PARSE, b0 - 1, "%.*s: %zu values for %zu elements", shown(nlen), name,
                    count, t.numel);
    size_t off = 0;
    if ((rc = arena_take(r, t.numel * kinds[k].size, &off)))
        return rc;
    void *data = r->arena + off;
    size_t j = b0;
    for (size_t e = 0; e < t.numel; e++) {
        while (j < b1 && is_space(s[j]))
            j++;
        size_t v0 = j;
        while (j < b1 && s[j] != ',')
            j++;
        size_t v1 = j;
        while (v1 > v0 && is_space(s[v1 - 1]))
            v1--;
        j++; /* past ',' */
        if (t.dtype == QP_DT_F32) {
            double d;
            if (!parse_real(s + v0, v1 - v0, &d))
                return fail(r, QP_ERR_PARSE, v0, "%.*s: bad number '%.*s'", shown(nlen), name,
                            shown(v1 - v0), s + v0);
            float f = (float)d;
            if (isinf(f) && !isinf(d))
                return fail(r, QP_ERR_PARSE, v0, "%.*s: %.*s is out of the float32 range",
                            shown(nlen), name, shown(v1 - v0), s + v0);
            ((float *)data)[e] = f;
            continue;
        }
        int64_t v;
        if (!parse_int(s + v0, v1 - v0, kinds[k].lo, kinds[k].hi, &v))
            return fail(r, QP_ERR_PARSE, v0,
                        "%.*s: bad %s value '%.*s' (an integer in [%lld, %lld])", shown(nlen), name,
                        kinds[k].name, shown(v1 - v0), s + v0, (long long)kinds[k].lo,
                        (long long)kinds[k].hi);
        if (t.dtype == QP_DT_I32)
            ((int32_t *)data)[e] = (int32_t)v;
        else if (t.dtype == QP_DT_I64)
            ((int64_t *)data)[e] = v;
        else
            ((uint8_t *)data)[e] = (uint8_t)v;
    }
    if (r->nit == r->capit) {
        uint32_t cap = r->capit ? r->capit * 2 : 16;
        if (cap <= r->capit)
            return fail(r, QP_ERR_LIMIT, 0, "too many tensor lines");
        struct item *p = set->alloc.fn(set->alloc.ud, r->it, (size_t)r->capit * sizeof *p,
                                       (size_t)cap * sizeof *p);
        if (!p)
            return nomem(r);
        r->it = p;
        r->capit = cap;
    }
    struct item *it = &r->it[r->nit++];
    it->qi = qi;
    it->st = st;
    it->line = r->line;
    it->off = off;
    it->t = t;
    r->seen[slot] = r->nit;
    return QP_OK;
}

static qp_status
read_all(struct rd *r, const char *text, size_t len)
{
    bool head = false;
    size_t p = 0;
    while (p < len) {
        size_t e = p;
        while (e < len && text[e] != '\n')
            e++;
        r->line++;
        r->ls = text + p;
        r->ll = e - p;
        p = e + 1;
        while (r->ll && (is_space(r->ls[r->ll - 1]) || r->ls[r->ll - 1] == '\r'))
            r->ll--;
        size_t b = 0;
        while (b < r->ll && is_space(r->ls[b]))
            b++;
        if (b == r->ll || r->ls[b] == '#')
            continue;
        if (b)
            return fail(r, QP_ERR_PARSE, 0, "a line starts with a space");
        if (!head) {
            if (r->ll != 8 || memcmp(r->ls, "qstate 1", 8))
                return fail(r, QP_ERR_PARSE, 0, "expected 'qstate 1' (a quantizer state file)");
            head = true;
            continue;
        }
        if (r->ll < 7 || memcmp(r->ls, "tensor ", 7))
            return fail(r, QP_ERR_PARSE, 0, "expected 'tensor NAME KIND (SHAPE) [VALUES]'");
        qp_status rc = read_tensor(r);
        if (rc)
            return rc;
    }
    if (!head) {
        r->line = r->line ? r->line : 1;
        r->ls = text;
        r->ll = 0;
        return fail(r, QP_ERR_PARSE, 0, "expected 'qstate 1' (a quantizer state file)");
    }
    return QP_OK;
}

/* Makes room for every item in its entry (values untouched), then sets them:
 * after the first loop nothing can fail. */
static qp_status
apply(struct rd *r)
{
    qp_quant_set *s = r->s;
    for (uint32_t i = 0; i < r->nit; i++) {
        struct item *it = &r->it[i];
        qp_quant *q = s->e[it->qi].q;
        if (qp__qs_reserve(q, it->st, it->t.numel)) {
            r->line = it->line;
            return fail(r, QP_ERR_NOMEM, 0, "%s.%s: out of memory", s->text + s->e[it->qi].path,
                        q->st[it->st].name);
        }
    }
    for (uint32_t i = 0; i < r->nit; i++) {
        struct item *it = &r->it[i];
        qp_quant *q = s->e[it->qi].q;
        it->t.data = it->t.numel ? r->arena + it->off : NULL;
        qp_status rc = qp_quant_state_set(q, q->st[it->st].name, &it->t);
        if (rc) { /* cannot happen: checked and reserved */
            r->line = it->line;
            return fail(r, QP_ERR_INTERNAL, 0, "%s", qp_quant_errmsg(q));
        }
    }
    return QP_OK;
}

qp_status
qp_quant_set_load_text(qp_quant_set *s, const char *text, size_t len, qp_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!s || (!text && len)) {
        if (err) {
            err->status = QP_ERR_NULL_ARG;
            snprintf(err->msg, sizeof err->msg, "%s is NULL", !s ? "the set" : "text");
        }
        return QP_ERR_NULL_ARG;
    }
    s->errmsg[0] = 0;
    struct rd r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.err = err;
    qp_status rc = QP_OK;
    size_t nseen = (size_t)(s->nstate ? s->nstate : 1) * sizeof *r.seen;
    r.seen = qp__qset_alloc(s, nseen);
    if (!r.seen)
        rc = nomem(&r);
    if (!rc) {
        memset(r.seen, 0, nseen);
        rc = read_all(&r, text ? text : "", len);
    }
    if (!rc)
        rc = apply(&r);
    qp__qset_free(s, r.seen, nseen);
    qp__qset_free(s, r.it, (size_t)r.capit * sizeof *r.it);
    qp__qset_free(s, r.arena, r.caparena);
    return rc;
}

qp_status
qp_quant_set_load_file(qp_quant_set *s, FILE *f, qp_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!s || !f) {
        if (err) {
            err->status = QP_ERR_NULL_ARG;
            snprintf(err->msg, sizeof err->msg, "%s is NULL", !s ? "the set" : "the file");
        }
        return QP_ERR_NULL_ARG;
    }
    size_t cap = 0, n = 0;
    char *buf = NULL;
    qp_status rc = QP_OK;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 4096;
            char *p = nc > cap ? s->alloc.fn(s->alloc.ud, buf, cap, nc) : NULL;
            if (!p) {
                rc = QP_ERR_NOMEM;
                break;
            }
            buf = p;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!rc && ferror(f))
        rc = QP_ERR_IO;
    if (rc) {
        snprintf(s->errmsg, sizeof s->errmsg, "%s",
                 rc == QP_ERR_IO ? "reading the file failed" : "out of memory");
        if (err) {
            err->status = rc;
            snprintf(err->msg, sizeof err->msg, "%s", s->errmsg);
        }
    } else {
        rc = qp_quant_set_load_text(s, buf, n, err);
    }
    qp__qset_free(s, buf, cap);
    return rc;
}
