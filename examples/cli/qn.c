/*
 * qn.c - the .qn case reader (qn.h). One pass over the lines, no recursion;
 * every block comes from the caller's allocator and is given back on failure.
 */
#include "qn.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== allocation ==== */

static void *
std_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (!nsize) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static void *
mem_get(const qp_allocator *a, size_t n)
{
    return a->fn(a->ud, NULL, 0, n);
}

static void
mem_put(const qp_allocator *a, void *p, size_t n)
{
    if (p)
        a->fn(a->ud, p, n, 0);
}

/* Makes room for one more element in *p (cap *cap, n in use); false when out of memory. */
static bool
grow(const qp_allocator *a, void **p, uint32_t *cap, uint32_t n, size_t elem)
{
    if (n < *cap)
        return true;
    if (*cap >= UINT32_MAX / 2)
        return false;
    uint32_t nc = *cap ? 2 * *cap : 4;
    void *q = a->fn(a->ud, *p, (size_t)*cap * elem, (size_t)nc * elem);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

static char *
dup_text(const qp_allocator *a, const char *s, size_t n)
{
    char *d = mem_get(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void
free_str(const qp_allocator *a, char *s)
{
    if (s)
        mem_put(a, s, strlen(s) + 1);
}

size_t
qn_kind_size(qp_dtype t)
{
    switch (t) {
    case QP_DT_F32:
    case QP_DT_I32:
        return 4;
    case QP_DT_I64:
        return 8;
    default:
        return 1;
    }
}

static void
free_lines(const qp_allocator *a, qn_line *l, uint32_t n, uint32_t cap)
{
    for (uint32_t i = 0; i < n; i++)
        free_str(a, l[i].text);
    mem_put(a, l, (size_t)cap * sizeof *l);
}

static void
free_tensor(const qp_allocator *a, qn_tensor *t)
{
    free_str(a, t->name);
    mem_put(a, t->t.data, t->t.numel * qn_kind_size(t->t.dtype));
}

static void
free_step(const qp_allocator *a, qn_step *s)
{
    free_str(a, s->text);
    for (uint32_t i = 0; i < s->nt; i++)
        free_tensor(a, &s->t[i]);
    mem_put(a, s->t, (size_t)s->cap * sizeof *s->t);
}

static void
free_case(const qp_allocator *a, qn_case *c)
{
    free_str(a, c->name);
    free_lines(a, c->pre, c->npre, c->cappre);
    free_lines(a, c->head, c->nhead, c->caphead);
    for (uint32_t i = 0; i < c->nsteps; i++)
        free_step(a, &c->steps[i]);
    mem_put(a, c->steps, (size_t)c->capsteps * sizeof *c->steps);
}

void
qn_free(qn_file *f)
{
    if (!f)
        return;
    qp_allocator a = f->alloc;
    for (uint32_t i = 0; i < f->ncases; i++)
        free_case(&a, &f->cases[i]);
    mem_put(&a, f->cases, (size_t)f->cap * sizeof *f->cases);
    free_lines(&a, f->tail, f->ntail, f->captail);
    mem_put(&a, f, sizeof *f);
}

const qn_tensor *
qn_step_find(const qn_step *s, const char *name)
{
    for (uint32_t i = 0; i < s->nt; i++)
        if (!strcmp(s->t[i].name, name))
            return &s->t[i];
    return NULL;
}

/* ==== the reader ==== */

struct rd {
    qn_file *f;
    const qp_allocator *a;
    qp_error *err;
    uint32_t line;
    const char *ls; /* the current line, without its newline (and a final '\r') */
    size_t ll;
    qn_case *cur; /* the case being read, or NULL */
};

/* Records an error at column col (0-based offset in the line; past the end allowed). */
static qp_status
fail(struct rd *r, size_t col, const char *fmt, ...)
{
    r->err->status = QP_ERR_PARSE;
    r->err->line = r->line;
    r->err->col = (uint32_t)(col < UINT32_MAX - 1 ? col + 1 : UINT32_MAX);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
    va_end(ap);
    return QP_ERR_PARSE;
}

static qp_status
nomem(struct rd *r)
{
    r->err->status = QP_ERR_NOMEM;
    r->err->line = r->line;
    r->err->col = 0;
    snprintf(r->err->msg, sizeof r->err->msg, "out of memory");
    return QP_ERR_NOMEM;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t';
}

static size_t
skip_spaces(const char *s, size_t i, size_t n)
{
    while (i < n && is_space(s[i]))
        i++;
    return i;
}

/* Shows at most 40 bytes of s[0..n) in a message. */
static int
shown(size_t n)
{
    return n > 40 ? 40 : (int)n;
}

/* ---- numbers ---- */

/* A decimal real, inf, -inf or nan; false on anything else. Locale-independent. */
static bool
parse_real(const char *s, size_t n, double *out)
{
    size_t i = 0;
    if (n > QN_MAX_NUMBER)
        return false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    if (n - i == 3 && !memcmp(s + i, "inf", 3)) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (n == 3 && !memcmp(s, "nan", 3)) {
        *out = NAN;
        return true;
    }
    size_t digits = 0, point = n;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < n && s[i] == '.') {
        point = i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    }
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
    if (i != n)
        return false;
    /* strtod reads the locale's decimal point: put it in place of '.' */
    char buf[QN_MAX_NUMBER + 8];
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *dp = localeconv()->decimal_point;
    if (point < n && dp && dp[0] && !dp[1])
        buf[point] = dp[0];
    char *end;
    *out = strtod(buf, &end);
    return end == buf + n;
}

/* A decimal integer in [lo, hi]. */
static bool
parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
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

/* ---- tensor lines ---- */

static const struct {
    const char *name;
    qp_dtype t;
    int64_t lo, hi;
} kinds[] = {
    {"f32", QP_DT_F32, 0, 0},
    {"i32", QP_DT_I32, INT32_MIN, INT32_MAX},
    {"i64", QP_DT_I64, INT64_MIN, INT64_MAX},
    {"u8", QP_DT_U8, 0, 255},
    {"bool", QP_DT_BOOL, 0, 1},
};

const char *
qn_kind_name(qp_dtype t)
{
    for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (kinds[k].t == t)
            return kinds[k].name;
    return "?";
}

/* Reads one value of kind k at s[0..n) (column col) into data[i]. */
static qp_status
read_value(struct rd *r, unsigned k, const char *s, size_t n, size_t col, void *data, size_t i)
{
    if (!n)
        return fail(r, col, "empty value");
    if (kinds[k].t == QP_DT_F32) {
        double v;
        if (!parse_real(s, n, &v))
            return fail(r, col, "bad number '%.*s'", shown(n), s);
        float fv = (float)v;
        if (isinf(fv) && !isinf(v))
            return fail(r, col, "%.*s is out of the float32 range", shown(n), s);
        ((float *)data)[i] = fv;
        return QP_OK;
    }
    int64_t v;
    if (!parse_int(s, n, kinds[k].lo, kinds[k].hi, &v))
        return fail(r, col, "bad %s value '%.*s' (an integer in [%lld, %lld])", kinds[k].name,
                    shown(n), s, (long long)kinds[k].lo, (long long)kinds[k].hi);
    switch (kinds[k].t) {
    case QP_DT_I32:
        ((int32_t *)data)[i] = (int32_t)v;
        break;
    case QP_DT_I64:
        ((int64_t *)data)[i] = v;
        break;
    default:
        ((uint8_t *)data)[i] = (uint8_t)v;
        break;
    }
    return QP_OK;
}

/* `(D0, D1, ...)` from s[*i]; *i ends past ')'. */
static qp_status
read_shape(struct rd *r, size_t *pi, qp_tensor *t)
{
    const char *s = r->ls;
    size_t n = r->ll, i = *pi;
    if (i >= n || s[i] != '(')
        return fail(r, i, "expected '(' and the shape");
    i = skip_spaces(s, i + 1, n);
    t->ndim = 0;
    t->numel = 1;
    while (i < n && s[i] != ')') {
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        int64_t d;
        if (i == st || !parse_int(s + st, i - st, 0, INT64_MAX, &d))
            return fail(r, st, "bad size in the shape (a count: 0, 1, 2, ...)");
        if (t->ndim == QP_QUANT_MAX_DIMS)
            return fail(r, st, "more than %d dimensions", QP_QUANT_MAX_DIMS);
        if (d && t->numel > (SIZE_MAX / 8) / (uint64_t)d)
            return fail(r, st, "the shape has too many elements");
        t->shape[t->ndim++] = d;
        t->numel *= (size_t)d;
        i = skip_spaces(s, i, n);
        if (i < n && s[i] == ',')
            i = skip_spaces(s, i + 1, n);
        else if (i < n && s[i] != ')')
            return fail(r, i, "expected ',' or ')' in the shape");
    }
    if (i >= n)
        return fail(r, i, "the shape has no ')'");
    *pi = i + 1;
    return QP_OK;
}

static void
shape_text(const qp_tensor *t, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (uint32_t d = 0; d < t->ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, t->ndim == 1 ? ",)" : ")");
}

/* `tensor NAME KIND (SHAPE) [VALUES]` */
static qp_status
read_tensor(struct rd *r)
{
    const char *s = r->ls;
    size_t n = r->ll, i = 7;
    qn_case *c = r->cur;
    if (!c->nsteps)
        return fail(r, 0, "a tensor before the first step");
    qn_step *st = &c->steps[c->nsteps - 1];
    size_t name0 = i;
    while (i < n && !is_space(s[i]))
        i++;
    if (i == name0)
        return fail(r, i, "expected the tensor's name");
    size_t name1 = i;
    if (i >= n || s[i] != ' ')
        return fail(r, i, "expected ' ' and the kind after the name");
    size_t k0 = ++i;
    while (i < n && !is_space(s[i]))
        i++;
    unsigned k = 0;
    while (k < sizeof kinds / sizeof kinds[0] &&
           !(strlen(kinds[k].name) == i - k0 && !memcmp(kinds[k].name, s + k0, i - k0)))
        k++;
    if (k == sizeof kinds / sizeof kinds[0])
        return fail(r, k0, "unknown kind '%.*s' (f32, i32, i64, u8 or bool)", shown(i - k0),
                    s + k0);
    if (i >= n || s[i] != ' ')
        return fail(r, i, "expected ' ' and the shape after the kind");
    i++;
    qp_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = kinds[k].t;
    qp_status rc = read_shape(r, &i, &t);
    if (rc)
        return rc;
    if (i >= n || s[i] != ' ' || i + 1 >= n || s[i + 1] != '[')
        return fail(r, i, "expected ' [' and the values after the shape");
    size_t b0 = i + 2;
    if (s[n - 1] != ']')
        return fail(r, n, "the values do not end with ']' at the end of the line");
    size_t b1 = n - 1;
    /* count the values before allocating: a shape is believed only as far as the text */
    size_t count = 0;
    bool any = false;
    for (size_t j = b0; j < b1; j++) {
        if (s[j] == ',')
            count++;
        else if (!is_space(s[j]))
            any = true;
    }
    if (any || count)
        count++;
    if (count != t.numel) {
        char sh[160];
        shape_text(&t, sh, sizeof sh);
        return fail(r, b0 - 1, "%.*s has %zu values for shape %s", shown(name1 - name0), s + name0,
                    count, sh);
    }
    if (t.numel) {
        t.data = mem_get(r->a, t.numel * qn_kind_size(t.dtype));
        if (!t.data)
            return nomem(r);
    }
    size_t j = b0;
    for (size_t e = 0; e < t.numel; e++) {
        j = skip_spaces(s, j, b1);
        size_t v0 = j;
        while (j < b1 && s[j] != ',')
            j++;
        size_t v1 = j;
        while (v1 > v0 && is_space(s[v1 - 1]))
            v1--;
        rc = read_value(r, k, s + v0, v1 - v0, v0, t.data, e);
        if (rc) {
            mem_put(r->a, t.data, t.numel * qn_kind_size(t.dtype));
            return rc;
        }
        j++; /* past ',' */
    }
    qn_tensor nt = {NULL, r->line, t};
    nt.name = dup_text(r->a, s + name0, name1 - name0);
    if (!nt.name || !grow(r->a, (void **)&st->t, &st->cap, st->nt, sizeof *st->t)) {
        free_tensor(r->a, &nt);
        return nomem(r);
    }
    st->t[st->nt++] = nt;
    return QP_OK;
}

/* ---- step lines ---- */

/* `step {observer: BOOL, fake_quant: BOOL[, lr: FLOAT]}` */
static qp_status
read_step(struct rd *r)
{
    const char *s = r->ls;
    size_t n = r->ll, i = skip_spaces(s, 4, n);
    qn_case *c = r->cur;
    qn_step st;
    memset(&st, 0, sizeof st);
    st.line = r->line;
    if (i >= n || s[i] != '{')
        return fail(r, i, "expected '{observer: BOOL, fake_quant: BOOL[, lr: FLOAT]}'");
    size_t d0 = i;
    int seen_obs = 0, seen_fq = 0;
    i = skip_spaces(s, i + 1, n);
    while (i < n && s[i] != '}') {
        size_t k0 = i;
        while (i < n && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z')))
            i++;
        size_t k1 = i;
        i = skip_spaces(s, i, n);
        if (k1 == k0 || i >= n || s[i] != ':')
            return fail(r, k0, "expected 'KEY: VALUE' in the step");
        i = skip_spaces(s, i + 1, n);
        size_t v0 = i;
        while (i < n && s[i] != ',' && s[i] != '}')
            i++;
        size_t v1 = i;
        while (v1 > v0 && is_space(s[v1 - 1]))
            v1--;
        const char *k = s + k0, *v = s + v0;
        size_t kl = k1 - k0, vl = v1 - v0;
        bool *flag = NULL;
        int *seen = NULL;
        if (kl == 8 && !memcmp(k, "observer", 8))
            flag = &st.observer, seen = &seen_obs;
        else if (kl == 10 && !memcmp(k, "fake_quant", 10))
            flag = &st.fake_quant, seen = &seen_fq;
        if (flag) {
            if (*seen)
                return fail(r, k0, "%.*s twice in the step", (int)kl, k);
            *seen = 1;
            if (vl == 4 && !memcmp(v, "True", 4))
                *flag = true;
            else if (vl == 5 && !memcmp(v, "False", 5))
                *flag = false;
            else
                return fail(r, v0, "%.*s must be True or False", (int)kl, k);
        } else if (kl == 2 && !memcmp(k, "lr", 2)) {
            if (st.has_lr)
                return fail(r, k0, "lr twice in the step");
            if (!parse_real(v, vl, &st.lr) || !isfinite(st.lr))
                return fail(r, v0, "lr must be a finite number");
            st.has_lr = true;
        } else {
            return fail(r, k0, "unknown step key '%.*s' (observer, fake_quant, lr)", shown(kl), k);
        }
        if (i < n && s[i] == ',')
            i = skip_spaces(s, i + 1, n);
    }
    if (i >= n)
        return fail(r, i, "the step has no '}'");
    if (i + 1 != n)
        return fail(r, i + 1, "text after the step's '}'");
    if (!seen_obs || !seen_fq)
        return fail(r, d0, "the step needs observer and fake_quant");
    st.text = dup_text(r->a, s + d0, n - d0);
    if (!st.text || !grow(r->a, (void **)&c->steps, &c->capsteps, c->nsteps, sizeof *c->steps)) {
        free_str(r->a, st.text);
        return nomem(r);
    }
    c->steps[c->nsteps++] = st;
    return QP_OK;
}

/* ---- head lines ---- */

static qp_status
keep_line(struct rd *r, qn_line **l, uint32_t *n, uint32_t *cap)
{
    char *t = dup_text(r->a, r->ls, r->ll);
    if (!t || !grow(r->a, (void **)l, cap, *n, sizeof **l)) {
        free_str(r->a, t);
        return nomem(r);
    }
    (*l)[(*n)++] = (qn_line){t, r->line};
    return QP_OK;
}

static const char *const quant_types[] = {"tensor", "param", "input"};

/* backend, role, config, ch_axis, quant_type or module: kept, and read where it says
 * something the replay needs. */
static qp_status
read_head(struct rd *r, size_t klen)
{
    const char *s = r->ls, *k = r->ls;
    size_t n = r->ll;
    qn_case *c = r->cur;
    static const char *const keys[] = {"backend", "role",       "config",
                                       "ch_axis", "quant_type", "module"};
    unsigned key = 0;
    while (key < 6 && !(strlen(keys[key]) == klen && !memcmp(keys[key], k, klen)))
        key++;
    if (key == 6)
        return fail(r, 0,
                    "unknown line '%.*s' (backend, role, config, ch_axis, quant_type, "
                    "module, step, tensor, end)",
                    shown(klen), k);
    if (c->nsteps)
        return fail(r, 0, "%s line after the first step", keys[key]);
    if (klen >= n || s[klen] != ' ' || klen + 1 == n)
        return fail(r, klen, "%s needs a value after one space", keys[key]);
    const char *v = s + klen + 1;
    size_t vl = n - klen - 1, v0 = klen + 1;
    bool twice = false;
    switch (key) {
    case 0:
        twice = c->backend != NULL;
        for (size_t j = 0; j < vl; j++)
            if (is_space(v[j]))
                return fail(r, v0 + j, "a backend name has no spaces");
        break;
    case 1:
        twice = c->has_role;
        if (vl == 6 && !memcmp(v, "weight", 6))
            c->role = QP_WEIGHT;
        else if (vl == 10 && !memcmp(v, "activation", 10))
            c->role = QP_ACT;
        else
            return fail(r, v0, "role must be weight or activation");
        break;
    case 2:
        twice = c->config != NULL;
        if (v[0] != '{' || v[vl - 1] != '}')
            return fail(r, v0, "config must be a {...} dict (a .qcfg extra_qconfig_dict)");
        break;
    case 3: {
        twice = c->has_ch_axis;
        int64_t a;
        if (!parse_int(v, vl, -1, QP_QUANT_MAX_DIMS - 1, &a))
            return fail(r, v0, "ch_axis must be an integer in [-1, %d]", QP_QUANT_MAX_DIMS - 1);
        c->ch_axis = (int)a;
        break;
    }
    case 4: {
        twice = c->quant_type != NULL;
        unsigned q = 0;
        while (q < 3 && !(vl == strlen(quant_types[q]) + 2 && v[0] == '"' && v[vl - 1] == '"' &&
                          !memcmp(v + 1, quant_types[q], vl - 2)))
            q++;
        if (q == 3)
            return fail(r, v0, "quant_type must be \"tensor\", \"param\" or \"input\"");
        c->quant_type = quant_types[q];
        break;
    }
    default:
        break;
    }
    if (twice)
        return fail(r, 0, "%s twice in the case", keys[key]);
    qp_status rc = keep_line(r, &c->head, &c->nhead, &c->caphead);
    if (rc)
        return rc;
    const char *kept = c->head[c->nhead - 1].text + klen + 1;
    switch (key) {
    case 0:
        c->backend = kept;
        break;
    case 1:
        c->has_role = true;
        break;
    case 2:
        c->config = kept;
        c->config_line = r->line;
        break;
    case 3:
        c->has_ch_axis = true;
        break;
    default:
        break;
    }
    return QP_OK;
}

struct named {
    const char *name;
    uint32_t line;
};

static int
cmp_named(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : (x->line > y->line) - (x->line < y->line);
}

/* Names are unique: sorted, so that a million names cost no more than reading them.
 * v is the allocator's, n > 0; reports the later line of a pair. */
static qp_status
unique(struct rd *r, struct named *v, uint32_t n, const char *what, size_t col)
{
    qsort(v, n, sizeof *v, cmp_named);
    qp_status rc = QP_OK;
    for (uint32_t i = 1; i < n && !rc; i++)
        if (!strcmp(v[i].name, v[i - 1].name)) {
            r->line = v[i].line;
            rc = fail(r, col, "%s %.*s twice (first on line %u)", what, shown(strlen(v[i].name)),
                      v[i].name, (unsigned)v[i - 1].line);
        }
    mem_put(r->a, v, (size_t)n * sizeof *v);
    return rc;
}

/* No two tensors of a step have the same name. */
static qp_status
unique_tensors(struct rd *r, const qn_step *s)
{
    if (s->nt < 2)
        return QP_OK;
    struct named *v = mem_get(r->a, (size_t)s->nt * sizeof *v);
    if (!v)
        return nomem(r);
    for (uint32_t i = 0; i < s->nt; i++)
        v[i] = (struct named){s->t[i].name, s->t[i].line};
    return unique(r, v, s->nt, "tensor (in one step)", 7);
}

static qp_status
unique_cases(struct rd *r)
{
    qn_file *f = r->f;
    if (f->ncases < 2)
        return QP_OK;
    struct named *v = mem_get(r->a, (size_t)f->ncases * sizeof *v);
    if (!v)
        return nomem(r);
    for (uint32_t i = 0; i < f->ncases; i++)
        v[i] = (struct named){f->cases[i].name, f->cases[i].line};
    return unique(r, v, f->ncases, "case", 5);
}

/* ---- cases ---- */

static qp_status
begin_case(struct rd *r)
{
    qn_file *f = r->f;
    if (r->cur)
        return fail(r, 0, "case before the previous one's 'end' (line %u)", (unsigned)r->cur->line);
    size_t i = r->ll > 5 ? skip_spaces(r->ls, 5, r->ll) : r->ll, e = r->ll;
    while (e > i && is_space(r->ls[e - 1]))
        e--;
    if (e == i)
        return fail(r, i, "expected the case's name");
    qn_case c;
    memset(&c, 0, sizeof c);
    c.line = r->line;
    c.name = dup_text(r->a, r->ls + i, e - i);
    if (!c.name || !grow(r->a, (void **)&f->cases, &f->cap, f->ncases, sizeof *f->cases)) {
        free_str(r->a, c.name);
        return nomem(r);
    }
    /* the comments read since the last case are this one's */
    c.pre = f->tail, c.npre = f->ntail, c.cappre = f->captail;
    f->tail = NULL, f->ntail = f->captail = 0;
    f->cases[f->ncases++] = c;
    r->cur = &f->cases[f->ncases - 1];
    return QP_OK;
}

static qp_status
end_case(struct rd *r)
{
    qn_case *c = r->cur;
    if (!c)
        return fail(r, 0, "'end' outside a case");
    if (!c->backend || !c->has_role)
        return fail(r, 0, "case %.*s has no %s line", shown(strlen(c->name)), c->name,
                    c->backend ? "role" : "backend");
    uint32_t line = r->line;
    for (uint32_t i = 0; i < c->nsteps; i++) {
        qp_status rc = unique_tensors(r, &c->steps[i]);
        if (rc)
            return rc;
    }
    r->line = line;
    r->cur = NULL;
    return QP_OK;
}

static bool
starts(const struct rd *r, const char *word)
{
    size_t l = strlen(word);
    return r->ll >= l && !memcmp(r->ls, word, l) && (r->ll == l || r->ls[l] == ' ');
}

static qp_status
read_line(struct rd *r)
{
    const char *s = r->ls;
    size_t n = r->ll;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
            return fail(r, i, "control character 0x%02x", (unsigned)(unsigned char)s[i]);
    if (skip_spaces(s, 0, n) == n)
        return QP_OK; /* blank */
    if (s[0] == '#') {
        qn_case *c = r->cur;
        if (!c)
            return keep_line(r, &r->f->tail, &r->f->ntail, &r->f->captail);
        if (!c->nsteps)
            return keep_line(r, &c->head, &c->nhead, &c->caphead);
        return QP_OK; /* comments inside steps are not kept */
    }
    if (starts(r, "case"))
        return begin_case(r);
    if (!r->cur)
        return fail(r, 0, "outside a case (expected 'case NAME')");
    if (n == 3 && !memcmp(s, "end", 3))
        return end_case(r);
    if (starts(r, "step"))
        return read_step(r);
    if (starts(r, "tensor"))
        return read_tensor(r);
    size_t k = 0;
    while (k < n && s[k] != ' ')
        k++;
    return read_head(r, k);
}

qp_status
qn_read(const char *text, size_t len, const qp_allocator *alloc, qn_file **out, qp_error *err)
{
    qp_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    if (out)
        *out = NULL;
    if (!out || (!text && len)) {
        err->status = QP_ERR_NULL_ARG;
        snprintf(err->msg, sizeof err->msg, "a required argument is NULL");
        return QP_ERR_NULL_ARG;
    }
    qp_allocator a = {std_alloc, NULL};
    if (alloc && alloc->fn)
        a = *alloc;
    struct rd r;
    memset(&r, 0, sizeof r);
    r.err = err;
    r.line = 1;
    r.f = mem_get(&a, sizeof *r.f);
    if (!r.f)
        return nomem(&r);
    memset(r.f, 0, sizeof *r.f);
    r.f->alloc = a;
    r.a = &r.f->alloc;
    qp_status rc = QP_OK;
    size_t pos = 0;
    for (uint32_t line = 1; pos < len || line == 1; line++) {
        if (line == UINT32_MAX) {
            rc = fail(&r, 0, "too many lines");
            break;
        }
        const char *nl = text ? memchr(text + pos, '\n', len - pos) : NULL;
        size_t end = nl ? (size_t)(nl - text) : len;
        r.line = line;
        r.ls = text ? text + pos : "";
        r.ll = end - pos;
        if (r.ll && r.ls[r.ll - 1] == '\r')
            r.ll--;
        pos = nl ? end + 1 : len;
        if (line == 1) {
            if (!(r.ll == 6 && !memcmp(r.ls, "qnum 1", 6))) {
                rc = fail(&r, 0, "the first line must be 'qnum 1'");
                break;
            }
            continue;
        }
        rc = read_line(&r);
        if (rc)
            break;
    }
    if (!rc && r.cur) {
        r.line = r.cur->line;
        rc = fail(&r, 0, "case %.*s has no 'end'", shown(strlen(r.cur->name)), r.cur->name);
    }
    if (!rc)
        rc = unique_cases(&r);
    if (rc) {
        qn_free(r.f);
        return rc;
    }
    *out = r.f;
    return QP_OK;
}
