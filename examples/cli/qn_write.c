/*
 * qn_write.c - writing .qn case files (qn.h): tensors with floats as the
 * shortest decimal that reads back to the same double, as Python's repr
 * prints them (so a file read and written again is the file recorded).
 */
#include "qn.h"

#include <inttypes.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
qn_out_init(qn_out *o, qp_write_fn fn, void *ud)
{
    o->fn = fn;
    o->ud = ud;
    o->failed = 0;
    o->n = 0;
}

static void
drain(qn_out *o)
{
    if (o->n && !o->failed && o->fn(o->ud, o->buf, o->n))
        o->failed = 1;
    o->n = 0;
}

void
qn_out_bytes(qn_out *o, const char *s, size_t len)
{
    while (len) {
        if (o->n == sizeof o->buf)
            drain(o);
        size_t k = sizeof o->buf - o->n;
        if (k > len)
            k = len;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        len -= k;
    }
}

void
qn_out_str(qn_out *o, const char *s)
{
    qn_out_bytes(o, s, strlen(s));
}

qp_status
qn_out_flush(qn_out *o)
{
    drain(o);
    return o->failed ? QP_ERR_IO : QP_OK;
}

/* ==== floats ==== */

/* digits d[0..nd) times 10^(e - nd + 1), read back without a decimal point (no locale) */
static double
read_back(const char *d, int nd, int e)
{
    char s[48];
    memcpy(s, d, (size_t)nd);
    snprintf(s + nd, sizeof s - (size_t)nd, "e%d", e - nd + 1);
    return strtod(s, NULL);
}

/* The correctly rounded digits of v > 0 at precision prec (prec + 1 digits) and their
 * decimal exponent; whether they read back as v. */
static bool
nearest(double v, int prec, char *digits, int *nd, int *exp10)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec, v);
    const char *p = tmp;
    *nd = 0;
    for (; *p && *p != 'e'; p++) /* skip the point, whatever the locale's */
        if (*p >= '0' && *p <= '9')
            digits[(*nd)++] = *p;
    *exp10 = *p == 'e' ? atoi(p + 1) : 0;
    return read_back(digits, *nd, *exp10) == v;
}

/* The next nd-digit decimal above digits (9.99e5 and one unit more: 1.00e6). */
static void
next_up(char *up, int nd, int *exp10)
{
    int i = nd - 1;
    while (i >= 0 && up[i] == '9')
        up[i--] = '0';
    if (i >= 0) {
        up[i]++;
    } else {
        up[0] = '1';
        (*exp10)++;
    }
}

/*
 * The digits and decimal exponent of the shortest decimal that reads back as
 * v > 0, the nearest to v among those (Python's repr); 17 digits always do.
 * Away from powers of two the doubles on either side are equally far, so only
 * the nearest candidate of each length can read back, and whether it does only
 * improves with length: a binary search finds the length. Just above a power of
 * two the doubles below are twice as close, so when the nearest digits fall out
 * below, the next digits up may still read back: each length is tried in turn.
 */
static int
shortest(double v, char *digits, int *exp10)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int nd, e;
    if (bits & ((UINT64_C(1) << 52) - 1)) {
        int lo = 0, hi = 16; /* precision 16 (17 digits) reads back */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (nearest(v, mid, digits, &nd, &e))
                hi = mid;
            else
                lo = mid + 1;
        }
        nearest(v, lo, digits, &nd, exp10);
    } else {
        for (int prec = 0;; prec++) {
            if (prec == 16 || nearest(v, prec, digits, &nd, exp10)) {
                if (prec == 16)
                    nearest(v, prec, digits, &nd, exp10);
                break;
            }
            char up[24];
            e = *exp10;
            memcpy(up, digits, (size_t)nd);
            next_up(up, nd, &e);
            if (read_back(up, nd, e) == v) {
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
qn_fmt_double(double v, char *buf)
{
    if (isnan(v))
        return (size_t)sprintf(buf, "nan");
    if (isinf(v))
        return (size_t)sprintf(buf, v < 0 ? "-inf" : "inf");
    char *o = buf;
    if (signbit(v)) {
        *o++ = '-';
        v = -v;
    }
    if (v == 0) {
        memcpy(o, "0.0", 4);
        return (size_t)(o + 3 - buf);
    }
    char d[24];
    int e;
    int nd = shortest(v, d, &e);
    int decpt = e + 1; /* v = 0.d[0..nd) * 10^decpt */
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

/* ==== lines ==== */

void
qn_write_header(qn_out *o)
{
    qn_out_str(o, "qnum 1\n");
}

static void
out_lines(qn_out *o, const qn_line *l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        qn_out_str(o, l[i].text);
        qn_out_bytes(o, "\n", 1);
    }
}

void
qn_write_case_head(qn_out *o, const qn_case *c)
{
    out_lines(o, c->pre, c->npre);
    qn_out_str(o, "case ");
    qn_out_str(o, c->name);
    qn_out_bytes(o, "\n", 1);
    out_lines(o, c->head, c->nhead);
}

void
qn_write_step_line(qn_out *o, const qn_step *s)
{
    qn_out_str(o, "step ");
    qn_out_str(o, s->text);
    qn_out_bytes(o, "\n", 1);
}

void
qn_write_tensor(qn_out *o, const char *name, const qp_tensor *t)
{
    char b[64];
    qn_out_str(o, "tensor ");
    qn_out_str(o, name);
    qn_out_bytes(o, " ", 1);
    qn_out_str(o, qn_kind_name(t->dtype));
    qn_out_str(o, " (");
    for (uint32_t d = 0; d < t->ndim; d++) {
        snprintf(b, sizeof b, d ? ", %" PRId64 : "%" PRId64, t->shape[d]);
        qn_out_str(o, b);
    }
    qn_out_str(o, t->ndim == 1 ? ",) [" : ") [");
    for (size_t i = 0; i < t->numel; i++) {
        if (i)
            qn_out_bytes(o, ", ", 2);
        size_t n;
        switch (t->dtype) {
        case QP_DT_F32:
            n = qn_fmt_double((double)((const float *)t->data)[i], b);
            break;
        case QP_DT_I32:
            n = (size_t)snprintf(b, sizeof b, "%" PRId32, ((const int32_t *)t->data)[i]);
            break;
        case QP_DT_I64:
            n = (size_t)snprintf(b, sizeof b, "%" PRId64, ((const int64_t *)t->data)[i]);
            break;
        default:
            n = (size_t)snprintf(b, sizeof b, "%u", (unsigned)((const uint8_t *)t->data)[i]);
            break;
        }
        qn_out_bytes(o, b, n);
    }
    qn_out_str(o, "]\n");
}

void
qn_write_file(qn_out *o, const qn_file *f)
{
    qn_write_header(o);
    for (uint32_t i = 0; i < f->ncases; i++) {
        const qn_case *c = &f->cases[i];
        qn_write_case_head(o, c);
        for (uint32_t k = 0; k < c->nsteps; k++) {
            const qn_step *s = &c->steps[k];
            qn_write_step_line(o, s);
            for (uint32_t j = 0; j < s->nt; j++)
                qn_write_tensor(o, s->t[j].name, &s->t[j].t);
        }
        qn_out_str(o, "end\n");
    }
    out_lines(o, f->tail, f->ntail);
}
