/*
 * text_write.c - the canonical qgraph writer, and the number formatting both
 * directions share: floats as the shortest text that reads back to the same
 * double, laid out as Python's repr, whatever the C locale.
 *
 * Writing never allocates: text goes through a fixed buffer to the caller's
 * callback. Values recurse at most QP__MAX_DEPTH deep.
 */
#include "internal.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== numbers ==== */

/*
 * Clinger's fast path: digits that fit 53 bits times an exact power of ten up
 * to 10^22 is one correctly rounded IEEE operation, so it equals strtod's
 * result. Covers the floats graphs hold (1e-05, 0.1, 0.9); false otherwise.
 */
static bool
fast_float(const char *s, size_t len, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = false;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    bool any = false;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, any = true) {
        if (m || s[i] != '0')
            digits++;
        m = m * 10 + (uint64_t)(s[i] - '0');
        if (digits > 15)
            return false;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, any = true) {
            if (m || s[i] != '0')
                digits++;
            m = m * 10 + (uint64_t)(s[i] - '0');
            exp10--;
            if (digits > 15)
                return false;
        }
    }
    if (!any)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        int e = 0;
        size_t e0 = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (e > 1000)
                return false;
            e = e * 10 + (s[i] - '0');
        }
        if (i == e0)
            return false;
        exp10 += eneg ? -e : e;
    }
    if (i != len || exp10 < -22 || exp10 > 22)
        return false;
    double x = (double)m; /* exact: fewer than 16 digits */
    x = exp10 < 0 ? x / pow10[-exp10] : x * pow10[exp10];
    *out = neg ? -x : x;
    return true;
#else
    (void)s;
    (void)len;
    (void)out;
    return false;
#endif
}

bool
qp__parse_float(const char *s, size_t len, double *out)
{
    if (fast_float(s, len, out))
        return true;
    char buf[1100];
    if (len == 0 || len >= sizeof buf - 8)
        return false;
    const char *p = s;
    size_t n = len;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
        n--;
    }
    if (n == 3 && !memcmp(p, "inf", 3)) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return true;
    }
    if (n == 3 && !memcmp(p, "nan", 3)) {
        *out = neg ? -NAN : NAN;
        return true;
    }
    /* strtod follows LC_NUMERIC: put the locale's decimal point where '.' is */
    const char *dp = localeconv()->decimal_point;
    size_t dplen = dp && dp[0] ? strlen(dp) : 1;
    if (dplen > 4)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (dp && dp[0]) {
                memcpy(buf + o, dp, dplen);
                o += dplen;
            } else {
                buf[o++] = '.';
            }
        } else if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
            buf[o++] = c;
        } else {
            return false;
        }
    }
    buf[o] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (end != buf + o)
        return false;
    *out = d;
    return true;
}

/* Reads digits d[0..nd) x 10^(e - nd + 1) back; no decimal point, so no locale. */
static double
read_back(const char *d, int nd, int e)
{
    char s[48];
    memcpy(s, d, (size_t)nd);
    int k = snprintf(s + nd, sizeof s - (size_t)nd, "e%d", e - nd + 1);
    double x = 0;
    if (k > 0 && !qp__parse_float(s, (size_t)nd + (size_t)k, &x))
        x = 0;
    return x;
}

/* The correctly rounded digits of f > 0 at precision prec (prec + 1 digits), their
 * decimal exponent, and whether they read back as f. */
static bool
nearest(double f, int prec, char *digits, int *nd, int *exp10)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec, f);
    /* d<point>ddde[+-]xx: the point is the locale's, so skip non-digits */
    const char *p = tmp;
    *nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[(*nd)++] = *p;
    *exp10 = *p == 'e' ? atoi(p + 1) : 0;
    return read_back(digits, *nd, *exp10) == f;
}

/*
 * Digits and decimal exponent of the shortest text that reads back as f > 0,
 * the one nearest f among those (what Python's repr prints); 17 digits always
 * do. Away from powers of two the doubles on either side of f are equally far,
 * so only the nearest candidate of each length can read back, and whether it
 * does only improves with length: a binary search finds the length. Just above
 * a power of two the doubles below f are twice as close as those above, so the
 * nearest digits may fall out of the round-trip interval below while the next
 * digits up still read back as f: there both are tried, length by length.
 */
static int
shortest(double f, char *digits, int *exp10)
{
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    int nd = 0;
    if (bits & ((UINT64_C(1) << 52) - 1)) {
        int lo = 0, hi = 16; /* precision 16 (17 digits) reads back */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (nearest(f, mid, digits, &nd, exp10))
                hi = mid;
            else
                lo = mid + 1;
        }
        nearest(f, lo, digits, &nd, exp10);
    } else {
        for (int prec = 0; prec < 17; prec++) {
            if (nearest(f, prec, digits, &nd, exp10) || prec == 16)
                break;
            char up[24];
            int e = *exp10, i = nd - 1;
            memcpy(up, digits, (size_t)nd);
            while (i >= 0 && up[i] == '9')
                up[i--] = '0';
            if (i >= 0) {
                up[i]++;
            } else { /* 9.99e5 + 1 unit = 1.00e6 */
                up[0] = '1';
                e++;
            }
            if (read_back(up, nd, e) == f) {
                memcpy(digits, up, (size_t)nd);
                *exp10 = e;
                break;
            }
        }
    }
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    return nd;
}

size_t
qp_format_double(double v, char *buf)
{
    if (!buf)
        return 0;
    size_t n = qp__fmt_float(v, buf);
    buf[n] = 0;
    return n;
}

size_t
qp__fmt_float(double f, char *buf)
{
    if (f != f)
        return (size_t)sprintf(buf, "nan");
    if (isinf(f))
        return (size_t)sprintf(buf, f < 0 ? "-inf" : "inf");
    char *o = buf;
    if (signbit(f)) {
        *o++ = '-';
        f = -f;
    }
    if (f == 0) {
        memcpy(o, "0.0", 4);
        return (size_t)(o + 3 - buf);
    }
    char d[24];
    int e;
    int nd = shortest(f, d, &e);
    int decpt = e + 1; /* digits d[0..nd) times 10^(decpt - nd) */
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -decpt; i++)
                *o++ = '0';
            memcpy(o, d, (size_t)nd);
            o += nd;
        } else if (decpt < nd) {
            memcpy(o, d, (size_t)decpt);
            o += decpt;
            *o++ = '.';
            memcpy(o, d + decpt, (size_t)(nd - decpt));
            o += nd - decpt;
        } else {
            memcpy(o, d, (size_t)nd);
            o += nd;
            for (int i = nd; i < decpt; i++)
                *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        }
    } else {
        *o++ = d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        o += sprintf(o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    *o = 0;
    return (size_t)(o - buf);
}

/* ==== buffered output ==== */

void
qp__out_init(qp__out *o, qp_write_fn fn, void *ud)
{
    o->fn = fn;
    o->ud = ud;
    o->failed = 0;
    o->drains = 0;
    o->n = 0;
    for (int i = 0; i < QP__OUT_FLOATS; i++)
        o->floats[i].len = 0;
    o->next_float = 0;
}

static void
drain(qp__out *o)
{
    if (o->n && !o->failed && o->fn(o->ud, o->buf, o->n) != 0)
        o->failed = 1;
    o->n = 0;
    o->drains++;
}

void
qp__out_bytes(qp__out *o, const char *s, size_t len)
{
    if (o->failed)
        return;
    if (len > sizeof o->buf - o->n) {
        drain(o);
        if (len >= sizeof o->buf) {
            if (!o->failed && o->fn(o->ud, s, len) != 0)
                o->failed = 1;
            return;
        }
    }
    memcpy(o->buf + o->n, s, len);
    o->n += len;
}

void
qp__out_str(qp__out *o, const char *s)
{
    qp__out_bytes(o, s, strlen(s));
}

void
qp__out_char(qp__out *o, char c)
{
    if (o->n == sizeof o->buf)
        drain(o);
    if (!o->failed)
        o->buf[o->n++] = c;
}

qp_status
qp__out_flush(qp__out *o)
{
    drain(o);
    return o->failed ? QP_ERR_IO : QP_OK;
}

void
qp__out_quoted(qp__out *o, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    qp__out_char(o, '"');
    size_t run = 0; /* bytes written as they are, flushed in one piece */
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        const char *esc = NULL;
        char xb[4];
        size_t step = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\r')
            esc = "\\r";
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !(step = qp__utf8_len(u + i, len - i)))) {
            xb[0] = '\\';
            xb[1] = 'x';
            xb[2] = hex[c >> 4];
            xb[3] = hex[c & 15];
            step = 1;
            qp__out_bytes(o, s + i - run, run);
            run = 0;
            qp__out_bytes(o, xb, 4);
            i++;
            continue;
        }
        if (esc) {
            qp__out_bytes(o, s + i - run, run);
            run = 0;
            qp__out_str(o, esc);
            i++;
            continue;
        }
        run += step;
        i += step;
    }
    qp__out_bytes(o, s + len - run, run);
    qp__out_char(o, '"');
}

/* Decimal digits of a 64-bit integer, without printf. */
static void
out_int(qp__out *o, int64_t i)
{
    char buf[24], *e = buf + sizeof buf, *p = e;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        *--p = '-';
    qp__out_bytes(o, p, (size_t)(e - p));
}

/* A float through the writer's cache of recently formatted ones (keyed by bits;
 * searched whole, replaced in turn: a graph's handful of floats, eps, momentum,
 * inf, would collide in a direct-mapped table and be formatted again and again). */
static void
out_float(qp__out *o, double f)
{
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < QP__OUT_FLOATS; i++)
        if (o->floats[i].len && o->floats[i].bits == bits) {
            qp__out_bytes(o, o->floats[i].text, o->floats[i].len);
            return;
        }
    char buf[32];
    size_t len = qp__fmt_float(f, buf);
    if (len < sizeof o->floats[0].text) {
        unsigned slot = o->next_float++ % QP__OUT_FLOATS;
        o->floats[slot].bits = bits;
        o->floats[slot].len = (uint8_t)len;
        memcpy(o->floats[slot].text, buf, len);
    }
    qp__out_bytes(o, buf, len);
}

static bool
bare_key(const char *s, size_t len)
{
    if (!qp__is_dotted_name(s, len))
        return false;
    return !(len == 3 && (!memcmp(s, "inf", 3) || !memcmp(s, "nan", 3)));
}

static void
out_items(qp__out *o, const qp_graph *g, const struct qp__val *r, char open, char close)
{
    qp__out_char(o, open);
    for (uint32_t i = 0; i < r->b; i++) {
        if (i)
            qp__out_bytes(o, ", ", 2);
        const struct qp__val *it = &g->vals[r->a + i];
        if (r->kind == QP_VAL_DICT) {
            const char *k = qp__sym_str(g, it->key);
            size_t kl = qp__sym_len(g, it->key);
            if (bare_key(k, kl))
                qp__out_bytes(o, k, kl);
            else
                qp__out_quoted(o, k, kl);
            qp__out_bytes(o, ": ", 2);
        }
        qp__out_val(o, g, r->a + i);
    }
    if (r->kind == QP_VAL_TUPLE && r->b == 1)
        qp__out_char(o, ',');
    qp__out_char(o, close);
}

void
qp__out_val(qp__out *o, const qp_graph *g, uint32_t v)
{
    const struct qp__val *r = &g->vals[v];
    switch (r->kind) {
    case QP_VAL_NONE:
        qp__out_bytes(o, "None", 4);
        break;
    case QP_VAL_BOOL:
        qp__out_str(o, r->u.i ? "True" : "False");
        break;
    case QP_VAL_INT:
        out_int(o, r->u.i);
        break;
    case QP_VAL_FLOAT:
        out_float(o, r->u.f);
        break;
    case QP_VAL_STR:
        qp__out_quoted(o, qp__sym_str(g, r->a), qp__sym_len(g, r->a));
        break;
    case QP_VAL_IDENT:
        qp__out_bytes(o, qp__sym_str(g, r->a), qp__sym_len(g, r->a));
        break;
    case QP_VAL_NODE:
        qp__out_char(o, '%');
        qp__out_bytes(o, qp__sym_str(g, g->nodes[r->a].name), qp__sym_len(g, g->nodes[r->a].name));
        break;
    case QP_VAL_TUPLE:
        out_items(o, g, r, '(', ')');
        break;
    case QP_VAL_LIST:
        out_items(o, g, r, '[', ']');
        break;
    case QP_VAL_DICT:
        out_items(o, g, r, '{', '}');
        break;
    case QP_VAL_CALL:
        qp__out_bytes(o, qp__sym_str(g, r->u.name), qp__sym_len(g, r->u.name));
        out_items(o, g, r, '(', ')');
        break;
    default:
        qp__out_str(o, "<?>");
        break;
    }
}

static void
out_sym(qp__out *o, const qp_graph *g, uint32_t sym)
{
    qp__out_bytes(o, qp__sym_str(g, sym), qp__sym_len(g, sym));
}

/* A module path: a derived one (an observer's) as its parent's and the suffix,
 * without writing its bytes into the graph. */
static void
out_path(qp__out *o, const qp_graph *g, uint32_t sym)
{
    uint32_t k;
    out_sym(o, g, qp__sym_base(g, sym, &k));
    while (k--)
        qp__out_bytes(o, QP__OBS_SFX, QP__OBS_SFX_LEN);
}

/*
 * The text of attribute dicts written more than once. Modules share dicts
 * (every fake-quantizer of one kind, copies of a reused module, modules the
 * reader found equal), and a value never changes, so the text of a dict id is
 * kept after its second appearance and copied from then on. Direct-mapped by
 * id: a million-node stack cycles through a few dozen dicts (one per channel
 * count and module kind), which 64 slots mostly hold (8 round-robin slots
 * wrote 375k of its 2.4M dicts out again, 64 write 103k). A dict's text is
 * 100 to 230 bytes (longer ones are written out each time). Fixed size, on the
 * stack (17 KB): the writer does not allocate.
 */
enum { MEMO_SLOTS = 64, MEMO_TEXT = 256, MEMO_SEEN = 256 };
struct memo {
    uint32_t seen[MEMO_SEEN]; /* ids written once (direct-mapped) */
    uint32_t id[MEMO_SLOTS];
    uint16_t len[MEMO_SLOTS];
    char text[MEMO_SLOTS][MEMO_TEXT];
};

static void
out_attrs(qp__out *o, const qp_graph *g, uint32_t v, struct memo *mm)
{
    uint32_t h = (v * 2654435761u) >> 24; /* 0..255 */
    uint32_t k = h % MEMO_SLOTS;
    if (mm->id[k] == v) {
        qp__out_bytes(o, mm->text[k], mm->len[k]);
        return;
    }
    bool keep = mm->seen[h] == v;
    mm->seen[h] = v;
    if (!keep) {
        qp__out_val(o, g, v);
        return;
    }
    /* written whole into buf (room made first), it can be copied out of buf */
    if (sizeof o->buf - o->n < MEMO_TEXT)
        drain(o);
    size_t start = o->n;
    unsigned drains = o->drains;
    qp__out_val(o, g, v);
    if (o->failed || o->drains != drains || o->n - start > MEMO_TEXT)
        return;
    mm->id[k] = v;
    mm->len[k] = (uint16_t)(o->n - start);
    memcpy(mm->text[k], o->buf + start, o->n - start);
}

qp_status
qp_graph_write_text(const qp_graph *g, qp_write_fn fn, void *ud)
{
    if (!g || !fn)
        return QP_ERR_NULL_ARG;
    qp__out o;
    qp__out_init(&o, fn, ud);
    struct memo mm;
    memset(mm.seen, 0, sizeof mm.seen);
    memset(mm.id, 0, sizeof mm.id);
    qp__out_str(&o, "qgraph 1\n");
    for (uint32_t i = 0; i < g->ncomments; i++) {
        out_sym(&o, g, g->comments[i]);
        qp__out_char(&o, '\n');
    }
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next) {
        qp__out_str(&o, "module ");
        out_path(&o, g, g->mods[m].path);
        qp__out_char(&o, ' ');
        out_sym(&o, g, g->mods[m].type);
        qp__out_char(&o, ' ');
        out_attrs(&o, g, g->mods[m].attrs, &mm);
        qp__out_char(&o, '\n');
    }
    for (uint32_t i = 0; i < g->nparams; i++) {
        qp__out_str(&o, "attr ");
        out_sym(&o, g, g->params[i].name);
        qp__out_char(&o, ' ');
        qp__out_val(&o, g, g->params[i].attrs);
        qp__out_char(&o, '\n');
    }
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next) {
        const struct qp__node *r = &g->nodes[n];
        qp__out_char(&o, '%');
        out_sym(&o, g, r->name);
        qp__out_str(&o, " = ");
        qp__out_str(&o, qp_op_name((qp_op)r->op));
        qp__out_char(&o, ' ');
        out_sym(&o, g, r->target);
        qp__out_char(&o, ' ');
        qp__out_val(&o, g, r->args);
        qp__out_char(&o, ' ');
        qp__out_val(&o, g, r->kwargs);
        qp__out_char(&o, '\n');
    }
    return qp__out_flush(&o);
}

static int
file_write(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : -1;
}

qp_status
qp_graph_write_file(const qp_graph *g, FILE *f)
{
    if (!g || !f)
        return QP_ERR_NULL_ARG;
    return qp_graph_write_text(g, file_write, f);
}
