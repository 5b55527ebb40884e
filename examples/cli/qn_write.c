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

size_t
qn_fmt_double(double v, char *buf)
{
    return qp_format_double(v, buf); /* the library's: the same text as qgraph's */
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
