/*
 * pass_ffswap.c - FloatFunctional -> FXFloatFunctional (MQBench's
 * _swap_ff_with_fxff, which runs before tracing).
 *
 * A graph traced with nnq.FloatFunctional modules calls
 * `<ff>.activation_post_process` after each of their torch ops; the
 * FXFloatFunctional MQBench swaps in has no such call. So every such node
 * goes, its users read its input instead, and the FloatFunctional modules
 * leave the table. Other nodes and all names stay as they are.
 * Needs: a verified graph. Keeps: execution order, names.
 */
#include "prep.h"

#include <string.h>

qp_status
qp__pass_ffswap(struct qp__prep *P)
{
    qp_graph *g = P->g;
    qp_status rc;
    /* the syms "<ff>.activation_post_process" of every FloatFunctional */
    uint32_t nff = 0;
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        if (!strcmp(qp__sym_str(g, g->mods[m].type), "nnq.FloatFunctional"))
            nff++;
    if (!nff)
        return QP_OK;
    uint32_t *app = qp__alloc(g, (size_t)nff * sizeof *app);
    if (!app)
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    uint32_t k = 0;
    static const char suffix[] = ".activation_post_process";
    for (uint32_t m = g->mods[0].next; m && k < nff; m = g->mods[m].next)
        if (!strcmp(qp__sym_str(g, g->mods[m].type), "nnq.FloatFunctional")) {
            app[k] = qp__sym_join(g, g->mods[m].path, suffix, sizeof suffix - 1);
            if (!app[k++]) {
                qp__free(g, app, (size_t)nff * sizeof *app);
                return QP_ERR_NOMEM;
            }
        }
    rc = QP_OK;
    for (uint32_t n = g->nodes[0].next; n && !rc;) {
        uint32_t next = g->nodes[n].next;
        struct qp__node *r = &g->nodes[n];
        bool hit = false;
        for (uint32_t i = 0; r->op == QP_OP_CALL_MODULE && i < nff && !hit; i++)
            hit = r->target == app[i];
        if (hit) {
            uint32_t in = qp__val_item(g, r->args, 0);
            if (!in || g->vals[in].kind != QP_VAL_NODE) {
                rc = qp__errn(g, QP_ERR_INVALID_GRAPH, n, "%%%s calls %s without an input node",
                              qp__sym_str(g, r->name), qp__sym_str(g, r->target));
                break;
            }
            P->st->uses_rewired += qp__node_replace_uses(g, n, g->vals[in].a, 0);
            qp__node_erase(g, n);
            P->st->nodes_erased++;
            P->st->matched++;
        }
        n = next;
    }
    qp__free(g, app, (size_t)nff * sizeof *app);
    if (rc)
        return rc;
    /* the FloatFunctional modules and their submodules leave the table */
    for (uint32_t m = g->mods[0].next; m;) {
        if (!strcmp(qp__sym_str(g, g->mods[m].type), "nnq.FloatFunctional")) {
            uint32_t after = g->mods[m].prev;
            qp__mod_remove_subtree(g, m, &P->st->modules_removed);
            m = g->mods[after].next;
            continue;
        }
        m = g->mods[m].next;
    }
    return QP_OK;
}
