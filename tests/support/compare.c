/*
 * compare.c - the conformance comparator of FORMAT.md ("Conformance"), in C:
 * the same nodes in the same order (name, op, target, args, kwargs with node
 * references by name), the same module paths with the same types, and every
 * module attribute equal (dicts compared as key sets, floats by value).
 * qgraph.py compare is the reference for these rules.
 */
#include "testlib.h"

#include <string.h>

static bool
same(const qp_graph *a, uint32_t x, const qp_graph *b, uint32_t y)
{
    const struct qp__val *p = &a->vals[x], *q = &b->vals[y];
    if (p->kind != q->kind)
        return false;
    switch (p->kind) {
    case QP_VAL_NONE:
        return true;
    case QP_VAL_BOOL:
    case QP_VAL_INT:
        return p->u.i == q->u.i;
    case QP_VAL_FLOAT:
        return p->u.f == q->u.f || (p->u.f != p->u.f && q->u.f != q->u.f);
    case QP_VAL_STR:
    case QP_VAL_IDENT:
        return qp__sym_len(a, p->a) == qp__sym_len(b, q->a) &&
               !memcmp(qp__sym_str(a, p->a), qp__sym_str(b, q->a), qp__sym_len(a, p->a));
    case QP_VAL_NODE:
        return !strcmp(qp__sym_str(a, a->nodes[p->a].name), qp__sym_str(b, b->nodes[q->a].name));
    case QP_VAL_DICT:
        if (p->b != q->b)
            return false;
        for (uint32_t i = 0; i < p->b; i++) {
            const char *k = qp__sym_str(a, a->vals[p->a + i].key);
            uint32_t ks = qp__sym_find(b, k, strlen(k));
            uint32_t j = ks ? qp__val_get(b, y, ks) : 0;
            if (!j || !same(a, p->a + i, b, j))
                return false;
        }
        return true;
    case QP_VAL_CALL:
        if (strcmp(qp__sym_str(a, p->u.name), qp__sym_str(b, q->u.name)))
            return false;
        /* fall through */
    default:
        if (p->b != q->b)
            return false;
        for (uint32_t i = 0; i < p->b; i++)
            if (!same(a, p->a + i, b, q->a + i))
                return false;
        return true;
    }
}

static void
add(char *out, size_t cap, size_t *n, unsigned *count, const char *fmt, ...)
{
    (*count)++;
    if (*count > 8 || *n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

unsigned
qpt_compare(const qp_graph *e, const qp_graph *a, char *out, size_t cap)
{
    size_t n = 0;
    unsigned count = 0;
    out[0] = 0;
    uint32_t x = e->nodes[0].next, y = a->nodes[0].next;
    for (uint32_t i = 0; x || y; i++) {
        if (!x) {
            add(out, cap, &n, &count, "node %u: unexpected %%%s\n", (unsigned)i,
                qp__sym_str(a, a->nodes[y].name));
        } else if (!y) {
            add(out, cap, &n, &count, "node %u: missing %%%s\n", (unsigned)i,
                qp__sym_str(e, e->nodes[x].name));
        } else {
            const struct qp__node *p = &e->nodes[x], *q = &a->nodes[y];
            if (strcmp(qp__sym_str(e, p->name), qp__sym_str(a, q->name)) || p->op != q->op ||
                strcmp(qp__sym_str(e, p->target), qp__sym_str(a, q->target)) ||
                !same(e, p->args, a, q->args) || !same(e, p->kwargs, a, q->kwargs))
                add(out, cap, &n, &count, "node %u: expected %%%s = %s %s, got %%%s = %s %s\n",
                    (unsigned)i, qp__sym_str(e, p->name), qp_op_name((qp_op)p->op),
                    qp__sym_str(e, p->target), qp__sym_str(a, q->name),
                    qp_op_name((qp_op)q->op), qp__sym_str(a, q->target));
        }
        if (x)
            x = e->nodes[x].next;
        if (y)
            y = a->nodes[y].next;
    }
    for (uint32_t m = e->mods[0].next; m; m = e->mods[m].next) {
        const char *path = qp__sym_str(e, e->mods[m].path);
        uint32_t am = qp__mod_find_str(a, path, strlen(path));
        if (!am) {
            add(out, cap, &n, &count, "module %s: missing (%s)\n", path,
                qp__sym_str(e, e->mods[m].type));
            continue;
        }
        if (strcmp(qp__sym_str(e, e->mods[m].type), qp__sym_str(a, a->mods[am].type)))
            add(out, cap, &n, &count, "module %s: type %s, got %s\n", path,
                qp__sym_str(e, e->mods[m].type), qp__sym_str(a, a->mods[am].type));
        else if (!same(e, e->mods[m].attrs, a, a->mods[am].attrs))
            add(out, cap, &n, &count, "module %s: attributes differ\n", path);
    }
    for (uint32_t m = a->mods[0].next; m; m = a->mods[m].next) {
        const char *path = qp__sym_str(a, a->mods[m].path);
        if (!qp__mod_find_str(e, path, strlen(path)))
            add(out, cap, &n, &count, "module %s: unexpected (%s)\n", path,
                qp__sym_str(a, a->mods[m].type));
    }
    return count;
}
