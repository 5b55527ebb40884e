/*
 * dot.c - Graphviz DOT output: a box per node, an edge per reference;
 * inserted fake-quantizers are filled so they stand out.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static void
label_text(qp__out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '<' || c == '>' || c == '|')
            qp__out_char(o, '\\');
        qp__out_char(o, c);
    }
}

struct edge_ud {
    qp__out *o;
    uint32_t user;
};

static void
edge(qp_graph *g, uint32_t r, void *ud)
{
    struct edge_ud *e = ud;
    char buf[48];
    snprintf(buf, sizeof buf, "  n%u -> n%u;\n", (unsigned)g->vals[r].a, (unsigned)e->user);
    qp__out_str(e->o, buf);
}

static bool
is_fq(const qp_graph *g, uint32_t n)
{
    if (g->nodes[n].flags & QP__NODE_FQ)
        return true;
    uint32_t m = qp__node_module(g, n);
    return m && !strncmp(qp__sym_str(g, g->mods[m].type), "fq.", 3);
}

qp_status
qp_graph_write_dot(const qp_graph *g, qp_write_fn fn, void *ud)
{
    if (!g || !fn)
        return QP_ERR_NULL_ARG;
    qp__out o;
    qp__out_init(&o, fn, ud);
    qp__out_str(&o, "digraph qgraph {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", "
                    "fontsize=10];\n");
    char buf[64];
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next) {
        const struct qp__node *r = &g->nodes[n];
        snprintf(buf, sizeof buf, "  n%u [label=\"", (unsigned)n);
        qp__out_str(&o, buf);
        label_text(&o, qp__sym_str(g, r->name), qp__sym_len(g, r->name));
        qp__out_str(&o, "\\n");
        qp__out_str(&o, qp_op_name((qp_op)r->op));
        qp__out_char(&o, ' ');
        label_text(&o, qp__sym_str(g, r->target), qp__sym_len(g, r->target));
        uint32_t m = qp__node_module(g, n);
        if (m) {
            qp__out_str(&o, "\\n");
            label_text(&o, qp__sym_str(g, g->mods[m].type), qp__sym_len(g, g->mods[m].type));
        }
        qp__out_char(&o, '"');
        if (is_fq(g, n))
            qp__out_str(&o, ", style=filled, fillcolor=\"#ffd27f\"");
        else if (r->op == QP_OP_PLACEHOLDER || r->op == QP_OP_OUTPUT)
            qp__out_str(&o, ", shape=ellipse");
        qp__out_str(&o, "];\n");
    }
    for (uint32_t n = g->nodes[0].next; n; n = g->nodes[n].next) {
        struct edge_ud e = {&o, n};
        qp__val_each_node((qp_graph *)(uintptr_t)g, g->nodes[n].args, edge, &e);
        qp__val_each_node((qp_graph *)(uintptr_t)g, g->nodes[n].kwargs, edge, &e);
    }
    qp__out_str(&o, "}\n");
    return qp__out_flush(&o);
}
