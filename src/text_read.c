/*
 * text_read.c - the qgraph text reader (FORMAT.md), streaming line by line.
 *
 * Bytes come from a callback in chunks; a line is checked (length, control
 * characters, UTF-8) before it is parsed, and every error names its line and
 * column. Values (args, kwargs, attribute dicts) are parsed by text_values.c.
 * Node references are resolved once the whole text is read, so forward
 * references can be reported precisely (or kept, with QP_READ_NO_VERIFY, for
 * the verifier).
 */
#include "text_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== errors ==== */

qp_status
qp__tr_fail(struct reader *r, qp_status st, size_t col, const char *fmt, ...)
{
    if (r->err && r->err->status == QP_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
        va_end(ap);
        r->err->status = st;
        r->err->line = r->lineno;
        r->err->col = (uint32_t)(col > UINT32_MAX ? UINT32_MAX : col);
    }
    return st;
}

qp_status
qp__tr_fail_g(struct reader *r, qp_status st)
{
    return qp__tr_fail(r, st, 1, "%s", r->g->errmsg[0] ? r->g->errmsg : qp_status_str(st));
}

/* ==== input ==== */

static qp_status
fill(struct reader *r)
{
    r->cpos = 0;
    r->clen = 0;
    if (r->eof)
        return QP_OK;
    if (r->direct) { /* all of it, once */
        r->data = r->text;
        r->clen = r->textlen;
        r->eof = true;
        return QP_OK;
    }
    r->data = r->chunk;
    size_t got = r->fn(r->ud, r->chunk, CHUNK);
    if (got == (size_t)-1 || got > CHUNK) {
        r->lineno++; /* the line being read; reading stops here */
        return qp__tr_fail(r, QP_ERR_IO, 1,
                           got == (size_t)-1 ? "reading the input failed"
                                             : "the read callback returned more "
                                               "than asked");
    }
    if (got == 0)
        r->eof = true;
    r->clen = got;
    return QP_OK;
}

/* Next line into r->s / r->n without its newline; *have = false at the end. */
static qp_status
next_line(struct reader *r, bool *have)
{
    size_t len = 0;
    bool assembled = false, too_long = false;
    *have = false;
    for (;;) {
        if (r->cpos == r->clen) {
            qp_status rc = fill(r);
            if (rc)
                return rc;
            if (r->clen == 0)
                break;
        }
        const char *start = r->data + r->cpos;
        size_t avail = r->clen - r->cpos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (!assembled && nl) {
            /* the whole line is inside this chunk: no copy */
            r->cpos += take + 1;
            r->s = start;
            r->n = take;
            r->lineno++;
            *have = true;
            goto got;
        }
        if (!too_long) {
            /* one byte more than the limit: a "\r" ending the line is not part of it */
            if (len + take > QP_MAX_LINE + 1) {
                too_long = true;
            } else {
                if (len + take > r->linecap) {
                    size_t cap = r->linecap ? r->linecap : 256;
                    while (cap < len + take)
                        cap *= 2;
                    if (cap > QP_MAX_LINE + 1)
                        cap = QP_MAX_LINE + 1;
                    char *p = qp__realloc(r->g, r->line, r->linecap, cap);
                    if (!p) {
                        r->lineno++;
                        return qp__tr_fail(r, QP_ERR_NOMEM, 1, "out of memory reading a line");
                    }
                    r->line = p;
                    r->linecap = cap;
                }
                memcpy(r->line + len, start, take);
                len += take;
            }
        }
        assembled = true;
        r->cpos += take + (nl ? 1 : 0);
        if (nl)
            break;
    }
    if (!assembled)
        return QP_OK;
    r->lineno++;
    if (too_long)
        return qp__tr_fail(r, QP_ERR_LIMIT, (size_t)QP_MAX_LINE + 1, "line longer than %u bytes",
                           QP_MAX_LINE);
    r->s = r->line;
    r->n = len;
    *have = true;
got:
    if (r->n && r->s[r->n - 1] == '\r')
        r->n--;
    if (r->n > QP_MAX_LINE)
        return qp__tr_fail(r, QP_ERR_LIMIT, (size_t)QP_MAX_LINE + 1, "line longer than %u bytes",
                           QP_MAX_LINE);
    /* bytes: UTF-8, no control characters but tab */
    const unsigned char *u = (const unsigned char *)r->s;
    for (size_t i = 0; i < r->n;) {
        /* eight printable ASCII bytes at a time (0x20..0x7e): no byte below 0x20,
         * none at or above 0x7f */
        for (uint64_t w; i + 8 <= r->n; i += 8) {
            memcpy(&w, u + i, 8);
            const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
            if (((w - ones * 0x20) | (w + ones * 0x01) | w) & highs)
                break;
        }
        if (i >= r->n)
            break;
        unsigned c = u[i];
        if (c == 0)
            return qp__tr_fail(r, QP_ERR_PARSE, i + 1, "NUL byte");
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return qp__tr_fail(r, QP_ERR_PARSE, i + 1, "control character 0x%02x", c);
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = qp__utf8_len(u + i, r->n - i);
        if (!k)
            return qp__tr_fail(r, QP_ERR_PARSE, i + 1, "invalid UTF-8 byte 0x%02x", c);
        i += k;
    }
    return QP_OK;
}

/* ==== tokens ==== */

/* A run of non-white-space characters (a path, type, op or target). */
static qp_status
word(struct reader *r, const char *what, size_t *start, size_t *len)
{
    skip_ws(r);
    *start = r->pos;
    while (r->pos < r->n && r->s[r->pos] != ' ' && r->s[r->pos] != '\t')
        r->pos++;
    *len = r->pos - *start;
    if (!*len)
        return qp__tr_fail(r, QP_ERR_PARSE, *start + 1, "expected %s", what);
    if (*len > QP_MAX_NAME)
        return qp__tr_fail(r, QP_ERR_LIMIT, *start + 1, "%s longer than %u bytes", what,
                           QP_MAX_NAME);
    return QP_OK;
}

qp_status
qp__tr_intern(struct reader *r, const char *s, size_t len, uint32_t *out)
{
    qp_status rc = qp__sym_intern(r->g, s, len, out);
    return rc ? qp__tr_fail_g(r, rc) : QP_OK;
}

/* qp__tr_intern() of the name a line defines, with the hash prefetch_next made of it. */
static qp_status
intern_defined(struct reader *r, const char *s, size_t len, uint32_t *out)
{
    qp_status rc = s == r->cur_s && len == r->cur_len
                       ? qp__sym_intern_h(r->g, s, len, r->cur_hash, out)
                       : qp__sym_intern(r->g, s, len, out);
    return rc ? qp__tr_fail_g(r, rc) : QP_OK;
}

/* qp__tr_intern() trying the ring of recent syms first; a sym interned goes in the ring. */
static qp_status
intern_recent(struct reader *r, uint32_t *ring, uint32_t n, uint32_t *next, const char *s,
              size_t len, uint32_t *out)
{
    uint32_t y = among(r->g, ring, n, s, len);
    if (y) {
        *out = y;
        return QP_OK;
    }
    qp_status rc = qp__tr_intern(r, s, len, out);
    if (!rc && *out) {
        ring[*next % n] = *out;
        (*next)++;
    }
    return rc;
}

/* The sym of a node's target; for call_module, the modules next in the table
 * and those called last are tried first. The reader adds modules at the end,
 * so table order is id order. */
static qp_status
target_sym(struct reader *r, qp_op op, const char *s, size_t len, uint32_t *out)
{
    const qp_graph *g = r->g;
    if (op != QP_OP_CALL_MODULE)
        return qp__tr_intern(r, s, len, out);
    uint32_t c[6] = {r->frontier + 1,     r->frontier + 2,     r->recent_called[0],
                     r->recent_called[1], r->recent_called[2], r->recent_called[3]};
    uint32_t m = 0;
    for (int i = 0; i < 6 && !m; i++) {
        uint32_t p = c[i] && c[i] < g->nmods ? g->mods[c[i]].path : 0;
        if (p && qp__sym_len(g, p) == len && !memcmp(qp__sym_str(g, p), s, len))
            m = c[i];
    }
    if (m) {
        *out = g->mods[m].path;
    } else {
        qp_status rc = qp__tr_intern(r, s, len, out);
        if (rc)
            return rc;
        m = qp__mod_find(g, *out);
    }
    if (m) {
        if (m > r->frontier)
            r->frontier = m;
        if (m != r->recent_called[0] && m != r->recent_called[1] && m != r->recent_called[2] &&
            m != r->recent_called[3])
            r->recent_called[r->next_called++ % 4] = m;
    }
    return QP_OK;
}

static qp_status
line_end(struct reader *r)
{
    skip_ws(r);
    if (r->pos < r->n)
        return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "trailing text");
    return QP_OK;
}

/* ==== lines ==== */

/* The memo's entry for a text (hash h, len bytes): the slot holding it, or the
 * empty slot where it would go; NULL without a table. */
static struct amemo *
amemo_slot(struct reader *r, const char *s, size_t len, uint32_t h)
{
    if (!r->capamemo)
        return NULL;
    for (uint32_t i = h & (r->capamemo - 1);; i = (i + 1) & (r->capamemo - 1)) {
        struct amemo *e = &r->amemo[i];
        if (!e->val || (e->hash == h && e->len == len && !memcmp(r->amemo_text + e->off, s, len)))
            return e;
    }
}

/* Keeps text s -> val in the memo. Best effort: without memory, or past the memo's
 * limits, the text is simply not kept (values are then not shared; the graph is the
 * same). */
static void
amemo_keep(struct reader *r, const char *s, size_t len, uint32_t h, uint32_t val)
{
    if (r->namemo >= AMEMO_MAX || r->amemo_used + len > AMEMO_BYTES)
        return;
    if ((r->namemo + 1) * 4 > r->capamemo * 3) { /* at most 3/4 full */
        uint32_t ncap = r->capamemo ? r->capamemo * 2 : 64;
        struct amemo *t = qp__alloc(r->g, (size_t)ncap * sizeof *t);
        if (!t) {
            qp__clear_err(r->g);
            return;
        }
        memset(t, 0, (size_t)ncap * sizeof *t);
        for (uint32_t i = 0; i < r->capamemo; i++) {
            const struct amemo *e = &r->amemo[i];
            if (!e->val)
                continue;
            uint32_t j = e->hash & (ncap - 1);
            while (t[j].val)
                j = (j + 1) & (ncap - 1);
            t[j] = *e;
        }
        qp__free(r->g, r->amemo, (size_t)r->capamemo * sizeof *r->amemo);
        r->amemo = t;
        r->capamemo = ncap;
    }
    if (r->amemo_used + len > r->amemo_cap) {
        size_t ncap = r->amemo_cap ? r->amemo_cap * 2 : 4096;
        while (ncap < r->amemo_used + len)
            ncap *= 2;
        char *t = qp__realloc(r->g, r->amemo_text, r->amemo_cap, ncap);
        if (!t) {
            qp__clear_err(r->g);
            return;
        }
        r->amemo_text = t;
        r->amemo_cap = ncap;
    }
    struct amemo *e = amemo_slot(r, s, len, h);
    memcpy(r->amemo_text + r->amemo_used, s, len);
    *e = (struct amemo){h, (uint32_t)len, val, (uint32_t)r->amemo_used};
    r->amemo_used += len;
    r->namemo++;
}

/*
 * The attribute dict at r->pos, which must end the line. Models repeat
 * attribute texts (every BatchNorm2d(64), every ReLU(inplace=True)), so a line
 * whose rest is byte for byte one read before gets the value that text gave,
 * without parsing it again: values are immutable and attribute dicts hold no
 * node references, so modules may share one.
 */
static qp_status
attrs_value(struct reader *r, const char *what, uint32_t *out)
{
    const char *rest = r->s + r->pos;
    size_t len = r->n - r->pos;
    bool memo = len <= AMEMO_TEXT;
    uint32_t h = memo ? qp__hash(rest, len) : 0;
    const struct amemo *e = memo ? amemo_slot(r, rest, len, h) : NULL;
    if (e && e->val) {
        r->pos = r->n;
        *out = e->val;
        return QP_OK;
    }
    uint32_t nref = r->nrefs;
    qp_status rc;
    if ((rc = qp__tr_container(r, '{', what, out)) || (rc = line_end(r)))
        return rc;
    if (r->nrefs != nref)
        return qp__tr_fail(r, QP_ERR_PARSE, r->refs[nref].col, "%s may not refer to nodes", what);
    if (memo)
        amemo_keep(r, rest, len, h, *out);
    return QP_OK;
}

static qp_status
module_line(struct reader *r)
{
    qp_graph *g = r->g;
    size_t p0, pl, t0, tl;
    qp_status rc;
    if ((rc = word(r, "a module path", &p0, &pl)) || (rc = word(r, "a module type", &t0, &tl)))
        return rc;
    uint32_t path, type, attrs;
    if ((rc = intern_defined(r, r->s + p0, pl, &path)) ||
        (rc = intern_recent(r, r->recent_types, 4, &r->next_type, r->s + t0, tl, &type)))
        return rc;
    if (qp__mod_find(g, path))
        return qp__tr_fail(r, QP_ERR_DUP_NAME, p0 + 1, "module %.*s defined twice", (int)pl,
                           r->s + p0);
    if ((rc = attrs_value(r, "module attributes", &attrs)))
        return rc;
    uint32_t id;
    rc = qp__mod_add(g, path, type, attrs, 0, &id);
    return rc ? qp__tr_fail_g(r, rc) : QP_OK;
}

static qp_status
attr_line(struct reader *r)
{
    qp_graph *g = r->g;
    size_t p0, pl;
    qp_status rc = word(r, "a parameter name", &p0, &pl);
    uint32_t name, attrs;
    if (rc || (rc = qp__tr_intern(r, r->s + p0, pl, &name)))
        return rc;
    if (qp__sym_param(g, name)) /* one probe, not a scan: 10^5 attr lines stay linear */
        return qp__tr_fail(r, QP_ERR_DUP_NAME, p0 + 1, "attr %.*s defined twice", (int)pl,
                           r->s + p0);
    if ((rc = attrs_value(r, "parameter attributes", &attrs)))
        return rc;
    if ((rc = QP__GROW(g, g->params, g->nparams, g->capparams, 1)))
        return qp__tr_fail_g(r, rc);
    if ((rc = qp__sym_extra_reserve(g, 1)))
        return qp__tr_fail_g(r, rc);
    g->params[g->nparams].name = name;
    g->params[g->nparams].attrs = attrs;
    qp__sym_set_param(g, name, ++g->nparams); /* room reserved: cannot fail */
    return QP_OK;
}

static qp_status
node_line(struct reader *r)
{
    qp_graph *g = r->g;
    bool strict = !(r->flags & QP_READ_NO_VERIFY);
    size_t n0 = ++r->pos;
    while (r->pos < r->n && qp__is_word(r->s[r->pos]))
        r->pos++;
    size_t nl = r->pos - n0;
    /* columns point at the name, as for a name defined twice */
    if (!nl || (r->pos < r->n && r->s[r->pos] != ' ' && r->s[r->pos] != '\t'))
        return qp__tr_fail(r, QP_ERR_PARSE, n0 + 1, "a node name is '%%' and [A-Za-z0-9_]+");
    if (nl > QP_MAX_NAME)
        return qp__tr_fail(r, QP_ERR_LIMIT, n0 + 1, "node name longer than %u bytes", QP_MAX_NAME);
    skip_ws(r);
    if (r->pos >= r->n || r->s[r->pos] != '=' ||
        (r->pos + 1 < r->n && r->s[r->pos + 1] != ' ' && r->s[r->pos + 1] != '\t'))
        return qp__tr_fail(r, QP_ERR_PARSE, r->pos + 1, "expected '=' after the node name");
    r->pos++;
    size_t o0, ol, t0, tl;
    qp_status rc;
    if ((rc = word(r, "an op", &o0, &ol)))
        return rc;
    qp_op op = QP_OP_COUNT;
    for (int i = 0; i < QP_OP_COUNT; i++) {
        const char *nm = qp_op_name((qp_op)i);
        if (strlen(nm) == ol && !memcmp(nm, r->s + o0, ol))
            op = (qp_op)i;
    }
    if (op == QP_OP_COUNT)
        return qp__tr_fail(r, QP_ERR_PARSE, o0 + 1, "unknown op '%.*s'", (int)(ol > 64 ? 64 : ol),
                           r->s + o0);
    if ((rc = word(r, "a target", &t0, &tl)))
        return rc;
    uint32_t name, target, args, kwargs;
    if ((rc = intern_defined(r, r->s + n0, nl, &name)) ||
        (rc = target_sym(r, op, r->s + t0, tl, &target)))
        return rc;
    uint32_t prior = g->st.syms[name].node;
    if (prior && strict)
        return qp__tr_fail(r, QP_ERR_DUP_NAME, n0 + 1,
                           "node %%%.*s defined twice (first on line %u)", (int)nl, r->s + n0,
                           (unsigned)g->nodes[prior].line);
    if (r->output_seen && strict)
        return qp__tr_fail(r, QP_ERR_INVALID_GRAPH, 1, "text after the output node (line %u)",
                           (unsigned)r->output_line);
    if ((rc = qp__tr_container(r, '(', "args", &args)) ||
        (rc = qp__tr_container(r, '{', "kwargs", &kwargs)) || (rc = line_end(r)))
        return rc;
    /* () and {} (most kwargs): the graph's shared empty records, as nodes built
     * through the API get; the record just pushed goes back */
    if (kwargs == g->nvals - 1 && g->vals[kwargs].kind == QP_VAL_DICT && !g->vals[kwargs].b) {
        g->nvals--;
        kwargs = QP__VAL_EMPTY_DICT;
    }
    if (args == g->nvals - 1 && g->vals[args].kind == QP_VAL_TUPLE && !g->vals[args].b) {
        g->nvals--;
        args = QP__VAL_EMPTY_TUPLE;
    }
    /* references stay unattached until the end: link the node without them */
    rc = QP__GROW(g, g->nodes, g->nnodes, g->capnodes, 1);
    if (rc)
        return qp__tr_fail_g(r, rc);
    uint32_t id = g->nnodes++;
    struct qp__node *nd = &g->nodes[id];
    memset(nd, 0, sizeof *nd);
    nd->op = (uint8_t)op;
    nd->name = name;
    nd->target = target;
    nd->args = args;
    nd->kwargs = kwargs;
    nd->line = r->lineno;
    nd->prev = g->nodes[0].prev;
    nd->next = 0;
    g->nodes[nd->prev].next = id;
    g->nodes[0].prev = id;
    if (!prior)
        g->st.syms[name].node = id;
    r->recent_nodes[r->next_node++ % 8] = name;
    g->nlive++;
    if (op == QP_OP_OUTPUT && !r->output_seen) {
        r->output_seen = true;
        r->output_line = r->lineno;
    }
    return QP_OK;
}

static qp_status
body_line(struct reader *r)
{
    r->pos = 0;
    skip_ws(r);
    if (r->pos == r->n || r->s[r->pos] == '#')
        return QP_OK;
    size_t w0 = r->pos;
    if (r->s[w0] == '%')
        return node_line(r);
    if (r->output_seen)
        return qp__tr_fail(r, QP_ERR_INVALID_GRAPH, w0 + 1, "text after the output node (line %u)",
                           (unsigned)r->output_line);
    size_t w1 = w0;
    while (w1 < r->n && r->s[w1] != ' ' && r->s[w1] != '\t')
        w1++;
    r->pos = w1;
    if (w1 - w0 == 6 && !memcmp(r->s + w0, "module", 6))
        return module_line(r);
    if (w1 - w0 == 4 && !memcmp(r->s + w0, "attr", 4))
        return attr_line(r);
    return qp__tr_fail(r, QP_ERR_PARSE, w0 + 1, "unknown line kind '%.*s'",
                       (int)(w1 - w0 > 32 ? 32 : w1 - w0), r->s + w0);
}

/* The name the next line defines (a node name or a module path) is about to be
 * interned: start loading its table slot now, so the miss overlaps this line's
 * work. Only a hint: a next line not whole in the chunk is skipped. */
static void
prefetch_next(struct reader *r)
{
    /* what was hashed for this line is this line's, if it is the same bytes */
    r->cur_s = r->pf_s;
    r->cur_len = r->pf_len;
    r->cur_hash = r->pf_hash;
    r->pf_s = NULL;
    const char *p = r->data + r->cpos, *e = r->data + r->clen;
    if (e - p > 256) /* the name is near the start */
        e = p + 256;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p < e && *p == '%') {
        const char *q = ++p;
        while (q < e && qp__is_word(*q))
            q++;
        if (q < e && q > p) {
            r->pf_s = p;
            r->pf_len = (size_t)(q - p);
            r->pf_hash = qp__sym_prefetch(r->g, p, r->pf_len);
        }
    } else if (e - p > 7 && !memcmp(p, "module ", 7)) {
        const char *q = p += 7;
        while (q < e && *q != ' ' && *q != '\t' && *q != '\n')
            q++;
        if (q < e && q > p) {
            r->pf_s = p;
            r->pf_len = (size_t)(q - p);
            r->pf_hash = qp__sym_prefetch(r->g, p, r->pf_len);
        }
    }
}

/* Resolves every reference by name; strict readers refuse forward references. */
static qp_status
resolve(struct reader *r)
{
    qp_graph *g = r->g;
    bool strict = !(r->flags & QP_READ_NO_VERIFY);
    for (uint32_t i = 0; i < r->nrefs; i++) {
        struct ref *f = &r->refs[i];
        struct qp__val *v = &g->vals[f->rec];
        uint32_t target = g->st.syms[v->a].node;
        if (!target) {
            r->lineno = f->line;
            return qp__tr_fail(r, QP_ERR_DANGLING_EDGE, f->col, "undefined node %%%s",
                               qp__sym_str(g, v->a));
        }
        if (strict && g->nodes[target].line >= f->line) {
            r->lineno = f->line;
            return qp__tr_fail(r, QP_ERR_NOT_TOPO_SORTED, f->col,
                               "%%%s is used before it is "
                               "defined (line %u)",
                               qp__sym_str(g, v->a), (unsigned)g->nodes[target].line);
        }
        v->a = target;
    }
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next) {
        qp__uses_attach(g, n, g->nodes[n].args);
        qp__uses_attach(g, n, g->nodes[n].kwargs);
    }
    return QP_OK;
}

struct first_diag {
    struct reader *r;
    qp_diag_fn fn;
    void *ud;
};

static void
on_diag(void *ud, const qp_diag *d)
{
    struct first_diag *fd = ud;
    if (fd->r->err && fd->r->err->status == QP_OK) {
        fd->r->lineno = d->line;
        qp__tr_fail(fd->r, d->status, d->col ? d->col : 1, "%s", d->msg);
    }
    if (fd->fn)
        fd->fn(fd->ud, d);
}

static qp_status
run(struct reader *r)
{
    bool have;
    qp_status rc = next_line(r, &have);
    if (rc)
        return rc;
    if (!have) {
        r->lineno = 1;
        return qp__tr_fail(r, QP_ERR_PARSE, 1, "empty input: expected the header 'qgraph 1'");
    }
    if (!(r->n == 8 && !memcmp(r->s, "qgraph 1", 8))) {
        if (r->n > 7 && !memcmp(r->s, "qgraph ", 7))
            return qp__tr_fail(r, QP_ERR_PARSE, 8, "unsupported qgraph version '%.*s'",
                               (int)(r->n - 7 > 16 ? 16 : r->n - 7), r->s + 7);
        return qp__tr_fail(r, QP_ERR_PARSE, 1, "expected the header 'qgraph 1'");
    }
    r->in_header_comments = true;
    for (;;) {
        rc = next_line(r, &have);
        if (rc || !have)
            break;
        if (r->in_header_comments) {
            if (r->n && r->s[0] == '#') {
                uint32_t sym;
                if ((rc = qp__tr_intern(r, r->s, r->n, &sym)))
                    return rc;
                if ((rc = QP__GROW(r->g, r->g->comments, r->g->ncomments, r->g->capcomments, 1)))
                    return qp__tr_fail_g(r, rc);
                r->g->comments[r->g->ncomments++] = sym;
                continue;
            }
            r->in_header_comments = false;
        }
        prefetch_next(r);
        rc = body_line(r);
        if (rc)
            return rc;
    }
    if (rc)
        return rc;
    /* a missing output is a structural problem: QP_READ_NO_VERIFY keeps it for
     * qp_graph_verify to report, like the others */
    if (!r->output_seen && !(r->flags & QP_READ_NO_VERIFY))
        return qp__tr_fail(r, QP_ERR_INVALID_GRAPH, 1, "the graph has no output node");
    return resolve(r);
}

/* qp_graph_read from fn, or (direct) in place from text[0..len). */
static qp_status
read_graph(qp_read_fn fn, void *ud, const char *text, size_t len, bool direct,
           const qp_read_opts *opts, qp_graph **out, qp_error *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
    }
    if (!out || (!direct && !fn)) {
        if (err) {
            err->status = QP_ERR_NULL_ARG;
            qp__fmt(err->msg, sizeof err->msg, "%s is NULL", !out ? "out" : "the read callback");
        }
        return QP_ERR_NULL_ARG;
    }
    *out = NULL;
    qp_error local;
    memset(&local, 0, sizeof local);
    struct reader r;
    memset(&r, 0, sizeof r);
    r.err = err ? err : &local;
    r.flags = opts ? opts->flags : 0;
    r.fn = fn;
    r.ud = ud;
    r.direct = direct;
    r.text = text;
    r.textlen = direct ? len : 0;
    qp_status rc = qp_graph_create(opts ? opts->alloc : NULL, &r.g);
    if (rc) {
        r.err->status = rc;
        qp__fmt(r.err->msg, sizeof r.err->msg, "%s", "out of memory creating the graph");
        return rc;
    }
    /* about a new name per 128 bytes: the symbol table sized once for a large text
     * (len: its length, or for a stream the bytes it is expected to give; a hint:
     * failing to is no error) */
    if (len >= 65536) {
        qp__sym_presize(r.g, len / 128);
        qp__sym_expect_bytes(r.g, len / 6); /* names are about a sixth of a text */
        /* and the arrays, generously (what is not used is never touched, and is
         * given back at the end): growth would copy them on the way */
        uint32_t est = len / 128 > UINT32_MAX / 4 ? UINT32_MAX / 4 : (uint32_t)(len / 128);
        qp_graph *g = r.g;
        if (QP__GROW(g, g->nodes, g->nnodes, g->capnodes, est) ||
            QP__GROW(g, g->vals, g->nvals, g->capvals, 2 * est) ||
            QP__GROW(g, g->mods, g->nmods, g->capmods, est) ||
            QP__GROW(g, g->st.syms, g->st.n, g->st.capsyms, est))
            qp__clear_err(g); /* only a hint */
    } else if (len > 4096) {
        /* a small text (a model's, of 10^2 to 10^3 nodes) may be value-dense: attribute
         * dicts of tuples (ResNet-50's: a value per 28 bytes, a name per 100, a node
         * per 190). Room for a value per 16 bytes and a node, module or name per 64
         * costs only the pages used; growing by halves would copy each array four or
         * five times into new ones. */
        uint32_t est = (uint32_t)(len / 64);
        qp_graph *g = r.g;
        if (QP__GROW(g, g->nodes, g->nnodes, g->capnodes, est) ||
            QP__GROW(g, g->vals, g->nvals, g->capvals, 4 * est) ||
            QP__GROW(g, g->mods, g->nmods, g->capmods, est) ||
            QP__GROW(g, g->st.syms, g->st.n, g->st.capsyms, est))
            qp__clear_err(g); /* only a hint */
    }
    r.chunk = r.direct ? NULL : qp__alloc(r.g, CHUNK);
    if (!r.direct && !r.chunk)
        rc = qp__tr_fail(&r, QP_ERR_NOMEM, 1, "out of memory");
    else
        rc = run(&r);
    if (!rc && !(r.flags & QP_READ_NO_VERIFY)) {
        struct first_diag fd = {&r, opts ? opts->diag : NULL, opts ? opts->diag_ud : NULL};
        rc = qp__verify(r.g, on_diag, &fd);
    }
    qp__free(r.g, r.chunk, r.chunk ? CHUNK : 0);
    qp__free(r.g, r.line, r.linecap);
    qp__tr_free_scratch(&r);
    qp__free(r.g, r.amemo, (size_t)r.capamemo * sizeof *r.amemo);
    qp__free(r.g, r.amemo_text, r.amemo_cap);
    if (rc) {
        if (r.err->status == QP_OK)
            qp__tr_fail(&r, rc, 1, "%s", r.g->errmsg[0] ? r.g->errmsg : qp_status_str(rc));
        qp_graph_destroy(r.g);
        return rc;
    }
    qp__graph_trim(r.g);
    qp__clear_err(r.g);
    *out = r.g;
    return QP_OK;
}

/* A read refused before it starts: *out NULL, err (if any) says why; returns st. */
static qp_status
refuse(qp_graph **out, qp_error *err, qp_status st, const char *msg)
{
    if (out)
        *out = NULL;
    if (err) {
        memset(err, 0, sizeof *err);
        err->status = st;
        qp__fmt(err->msg, sizeof err->msg, "%s", msg);
    }
    return st;
}

qp_status
qp_graph_read_text(const char *text, size_t len, const qp_read_opts *opts, qp_graph **out,
                   qp_error *err)
{
    if (!text && len) {
        return refuse(out, err, QP_ERR_NULL_ARG, "text is NULL");
    }
    return read_graph(NULL, NULL, text, len, true, opts, out, err); /* read in place */
}

qp_status
qp_graph_read(qp_read_fn fn, void *ud, const qp_read_opts *opts, qp_graph **out, qp_error *err)
{
    return read_graph(fn, ud, NULL, 0, false, opts, out, err);
}

static size_t
file_read(void *ud, char *buf, size_t cap)
{
    FILE *f = ud;
    size_t n = fread(buf, 1, cap, f);
    if (n == 0 && ferror(f))
        return (size_t)-1;
    return n;
}

qp_status
qp_graph_read_file(FILE *f, const qp_read_opts *opts, qp_graph **out, qp_error *err)
{
    if (!f) {
        return refuse(out, err, QP_ERR_NULL_ARG, "file is NULL");
    }
    /* a file's remaining size, where it can be seeked, sizes the graph at once (as for
     * a text in memory) instead of by doublings and rehashes on the way */
    size_t hint = 0;
    long at = ftell(f);
    if (at >= 0 && fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        if (fseek(f, at, SEEK_SET) != 0) {
            return refuse(out, err, QP_ERR_IO, "cannot seek back in the file");
        }
        if (end > at)
            hint = (size_t)(end - at);
    }
    clearerr(f); /* a failed seek on a stream (a pipe) leaves it as it was */
    return read_graph(file_read, f, NULL, hint, false, opts, out, err);
}
