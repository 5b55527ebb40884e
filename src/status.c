/*
 * status.c - status strings, version, and the per-graph error message.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *
qp_version(void)
{
    return QP_VERSION_STRING;
}

unsigned
qp_version_number(void)
{
    return QP_VERSION_NUMBER;
}

const char *
qp_status_str(qp_status st)
{
    switch (st) {
#define QP__STATUS_CASE(name, msg)                                                                 \
    case QP_##name:                                                                                \
        return msg;
        QP_STATUS_MAP(QP__STATUS_CASE)
#undef QP__STATUS_CASE
    default:
        return "unknown status";
    }
}

void
qp__fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 && cap)
        buf[0] = 0;
}

static void
verr(qp_graph *g, const char *fmt, va_list ap)
{
    int n = vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    if (n < 0)
        g->errmsg[0] = 0;
}

qp_status
qp__err(qp_graph *g, qp_status st, const char *fmt, ...)
{
    if (!g)
        return st;
    va_list ap;
    va_start(ap, fmt);
    verr(g, fmt, ap);
    va_end(ap);
    g->errnode = 0;
    g->errline = 0;
    return st;
}

qp_status
qp__errn(qp_graph *g, qp_status st, uint32_t node, const char *fmt, ...)
{
    if (!g)
        return st;
    va_list ap;
    va_start(ap, fmt);
    verr(g, fmt, ap);
    va_end(ap);
    g->errnode = node;
    g->errline = 0;
    return st;
}

void
qp__clear_err(qp_graph *g)
{
    g->errmsg[0] = 0;
    g->errnode = 0;
    g->errline = 0;
}

void
qp__logf(qp_graph *g, qp_log_level level, const char *where, const char *fmt, ...)
{
    if (!g || !g->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    g->log(g->log_ud, level, where, line);
}

const char *
qp_graph_errmsg(const qp_graph *g)
{
    return g ? g->errmsg : "no graph";
}

qp_node
qp_graph_errnode(const qp_graph *g)
{
    qp_node n = {g ? g->errnode : 0};
    return n;
}

uint32_t
qp_graph_errline(const qp_graph *g)
{
    if (!g)
        return 0;
    if (g->errnode && g->errnode < g->nnodes)
        return g->nodes[g->errnode].line;
    return g->errline;
}
