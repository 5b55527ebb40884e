/*
 * prepare.c - qp_prepare_qat: checks the input, runs the passes in order on
 * the graph itself (QBE's main.c: straight-line calls) with an undo log
 * (undo.c) that puts it back as it was when any of them fails, or, for a caller
 * that discards the graph on failure (qp_prepare_qat_or_clear), without one. The per-run context
 * the passes share (op lists, facts per symbol, explanations) is context.c's.
 */
#include "prep.h"

#include <string.h>

/* ==== the driver ==== */

static const struct {
    const char *name;
    qp_status (*run)(struct qp__prep *);
} passes[] = {
    {"ffswap", qp__pass_ffswap},   {"dup", qp__pass_dup},   {"fuse", qp__pass_fuse},
    {"qconfig", qp__pass_qconfig}, {"swap", qp__pass_swap}, {"fakequant", qp__pass_fakequant},
};

static void
prep_free(struct qp__prep *P)
{
    qp_graph *g = P->g;
    for (int L = 0; L < QP__L_COUNT; L++)
        qp__free(g, P->lists[L].e, (size_t)P->lists[L].cap * sizeof *P->lists[L].e);
    qp__free(g, P->cls, (size_t)P->capcls * sizeof *P->cls);
    qp__free(g, P->specs, (size_t)P->capspecs * sizeof *P->specs);
    qp__prep_drop_module_specs(P);
    qp__free(g, P->ex.items, (size_t)P->ex.cap * sizeof *P->ex.items);
    qp__free(g, P->eight, P->neight);
    qp__fkids_free(P);
    memset(P, 0, sizeof *P);
}

/* A backend that needs a configuration got none, or one that sets none of it
 * (what qprep passes without --config): one message for both. */
static qp_status
no_defaults(qp_graph *g, const struct qp__backend *be)
{
    return qp__err(g, QP_ERR_INVALID_CONFIG,
                   "backend %s has no defaults: its configuration must give "
                   "extra_qconfig_dict w_qscheme, a_qscheme, w_observer, a_observer, "
                   "w_fakequantize and a_fakequantize",
                   be->name);
}

/* Checks what the backend demands of the configuration before anything runs. */
static qp_status
check_config(qp_graph *g, const struct qp__backend *be, const qp_config *c)
{
    if (be->requires_config) {
        static const char *const need[] = {"w_qscheme",  "a_qscheme",      "w_observer",
                                           "a_observer", "w_fakequantize", "a_fakequantize"};
        bool have[6] = {c->qscheme[0] != 0, c->qscheme[1] != 0, c->obs[0] != 0,
                        c->obs[1] != 0,     c->fq[0] != 0,      c->fq[1] != 0};
        if (!(have[0] || have[1] || have[2] || have[3] || have[4] || have[5]))
            return no_defaults(g, be);
        for (int i = 0; i < 6; i++)
            if (!have[i])
                return qp__err(g, QP_ERR_INVALID_CONFIG,
                               "backend %s has no defaults: the "
                               "configuration must give extra_qconfig_dict.%s (and all of "
                               "w_qscheme, a_qscheme, w_observer, a_observer, w_fakequantize, "
                               "a_fakequantize)",
                               be->name, need[i]);
    }
    return QP_OK;
}

static bool
already_prepared(const qp_graph *g, uint32_t *which)
{
    for (uint32_t m = g->mods[0].next; m; m = g->mods[m].next)
        if (!strncmp(qp__sym_str(g, g->mods[m].type), "fq.", 3)) {
            *which = m;
            return true;
        }
    return false;
}

/* preserve_attr: the values of the named attributes, read before the passes (the
 * passes append values and never change these) and set again after them.
 * Missing attributes, or modules gone after prepare, are errors, as in MQBench. */
static qp_status
preserve(struct qp__prep *P, uint32_t *vals, bool restore)
{
    qp_graph *g = P->g;
    const qp_config *c = P->cfg;
    for (uint32_t i = 0; i < c->npreserve; i++) {
        const struct qp__preserve *pr = &c->preserve[i];
        const char *path = pr->path ? qp__sym_str(c->store, pr->path) : "";
        const char *attr = qp__sym_str(c->store, pr->attr);
        uint32_t m = 0;
        if (pr->path && !(m = qp__mod_find_str(g, path, strlen(path))))
            return qp__err(g, QP_ERR_INVALID_CONFIG, "preserve_attr: no module '%s' %s prepare",
                           path, restore ? "after" : "before");
        if (!restore) {
            qp_val v = m ? qp_module_attr(g, (qp_module){m}, attr) : qp_graph_attr(g, attr);
            if (!v.id)
                return qp__err(g, QP_ERR_INVALID_CONFIG,
                               "preserve_attr: %s%s%s has no "
                               "attribute '%s'",
                               m ? "module '" : "the graph", path, m ? "'" : "", attr);
            vals[i] = v.id;
            continue;
        }
        qp_val v = {vals[i]};
        qp_status rc =
            m ? qp_module_set_attr(g, (qp_module){m}, attr, v) : qp_graph_set_attr(g, attr, v);
        if (rc)
            return rc;
    }
    return QP_OK;
}

static qp_status
run(struct qp__prep *P)
{
    qp_graph *g = P->g;
    qp_status rc = qp__prep_start(P);
    if (rc)
        return rc;
    uint32_t *kept = NULL, nkeep = P->cfg->npreserve;
    if (nkeep && !(kept = qp__alloc(g, (size_t)nkeep * sizeof *kept)))
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    if (nkeep && (rc = preserve(P, kept, false))) {
        qp__free(g, kept, (size_t)nkeep * sizeof *kept);
        return rc;
    }
    g->report.npass = 0;
    for (size_t i = 0; i < sizeof passes / sizeof passes[0] && !rc; i++) {
        qp_pass_stats *st = &g->report.pass[g->report.npass++];
        memset(st, 0, sizeof *st);
        st->pass = passes[i].name;
        P->st = st;
        if ((rc = qp__cls_refresh(P)) || (rc = passes[i].run(P)) || P->cls_oom) {
            /* a fact about a sym could not be kept (qp__cls): out of memory wins over
             * whatever else the pass ran into, as SQLite's sticky mallocFailed does, so
             * a failed allocation always reads as QP_ERR_NOMEM */
            if (P->cls_oom)
                rc = qp__err(g, QP_ERR_NOMEM, "out of memory");
            break;
        }
        if (P->cfg->verify_each && (rc = qp__verify(g, NULL, NULL)) != QP_OK) {
            char msg[sizeof g->errmsg];
            memcpy(msg, g->errmsg, sizeof msg);
            /* the verifier running out of memory is not a broken invariant: keep NOMEM */
            rc = qp__err(g, rc == QP_ERR_NOMEM ? rc : QP_ERR_INTERNAL, "after pass %s: %s",
                         passes[i].name, msg);
            break;
        }
        qp__logf(g, QP_LOG_INFO, passes[i].name,
                 "%u matched, %u nodes added, %u erased, %u "
                 "modules swapped, %u fake-quantizers",
                 (unsigned)st->matched, (unsigned)st->nodes_added, (unsigned)st->nodes_erased,
                 (unsigned)st->modules_swapped, (unsigned)st->fq_inserted);
    }
    /* MQBench builds its GraphModule from a dict when nothing fuses: its modules are
     * listed by depth. Otherwise the passes already keep torch's order (the table's,
     * with copies and fused children where torch puts them). */
    if (!rc && !P->be->fuse)
        rc = qp__mod_named_order(g, true);
    if (!rc && nkeep)
        rc = preserve(P, kept, true);
    qp__free(g, kept, (size_t)nkeep * sizeof *kept);
    return rc;
}

qp_status
qp__prepare_quantizer(qp_graph *g, qp_backend be, const qp_config *cfg, qp_side side, bool axis1,
                      int quant_type, uint32_t *fq_mod, uint32_t *kwargs)
{
    const struct qp__backend *row = qp__backend_get(be);
    if (!row)
        return qp__err(g, QP_ERR_UNSUPPORTED_BACKEND, "backend %d is not a qp_backend", (int)be);
    if (side != QP_WEIGHT && side != QP_ACT)
        return qp__err(g, QP_ERR_INVALID_ARG, "side %d is neither QP_WEIGHT nor QP_ACT", (int)side);
    qp_config *empty = NULL;
    qp_status rc;
    if (!cfg) {
        if ((rc = qp_config_create(&g->alloc, &empty)))
            return qp__err(g, rc, "out of memory");
        cfg = empty;
    }
    struct qp__prep P;
    memset(&P, 0, sizeof P);
    P.g = g;
    P.orig = g;
    P.be = row;
    P.cfg = cfg;
    P.fix = cfg->fix;
    P.academic_mode = cfg->academic_mode && row->reads_academic_mode;
    uint32_t spec = 0, path = 0;
    if ((rc = check_config(g, row, cfg)))
        goto out;
    /* spec 0 is "none", as the qconfig pass keeps it */
    if ((rc = QP__GROW(g, P.specs, 0, P.capspecs, 4)))
        goto out;
    memset(&P.specs[0], 0, sizeof P.specs[0]);
    P.specs[0].fq = P.specs[0].obs = -1;
    P.nspecs = 1;
    if ((rc = qp__spec_side(&P, side, NULL, &spec)))
        goto out;
    /* no qp__spec_weight_range: OPENVINO narrows weights to 7 bits while preparing
     * (OPENVINOQuantizer), not in get_qconfig_by_platform */
    if ((rc = qp__spec_probe(&P, spec)))
        goto out;
    if (qp__sym_intern(g, "q", 1, &path)) {
        rc = qp__err(g, QP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = qp__fq_module_add(&P, spec, path, axis1, quant_type, 0)))
        goto out;
    *fq_mod = qp__mod_find(g, path);
    *kwargs = P.specs[spec].kwargs;
out:
    prep_free(&P);
    qp_config_destroy(empty);
    return rc;
}

/* Prepares g in place. keep: the caller gets g back unchanged on failure (an undo
 * log of what the passes change, about 100 bytes a node of a read graph); else g
 * is cleared on failure, through a spare made first so that clearing cannot fail. */
static qp_status
prepare(qp_graph *g, qp_backend be, const qp_config *cfg, bool keep)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    qp__clear_err(g);
    qp_graph spare;
    if (!keep && qp__graph_spare(g, &spare))
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    const struct qp__backend *row = qp__backend_get(be);
    qp_config *empty = NULL;
    qp_status rc;
    if (!row) {
        rc = qp__err(g, QP_ERR_UNSUPPORTED_BACKEND, "backend %d is not a qp_backend", (int)be);
        goto out;
    }
    if (!cfg) {
        if (row->requires_config) {
            rc = no_defaults(g, row);
            goto out;
        }
        if ((rc = qp_config_create(&g->alloc, &empty))) {
            rc = qp__err(g, rc, "out of memory");
            goto out;
        }
        cfg = empty;
    }
    if ((rc = check_config(g, row, cfg)))
        goto out;
    uint32_t fqm;
    if (already_prepared(g, &fqm)) {
        rc = qp__err(g, QP_ERR_ALREADY_PREPARED,
                     "the graph is already prepared: module %s is "
                     "a fake-quantizer",
                     qp__sym_str(g, g->mods[fqm].path));
        goto out;
    }
    if ((rc = qp__verify(g, NULL, NULL)))
        goto out;
    /* the names the passes make (paths of fused, QAT and fake-quantizer modules,
     * quantizer nodes): the symbol table is sized for them at once, not by
     * doublings (a rehash: no sym changes). An estimate: a few hundred fixed
     * names, then about 0.6 a node and module on big models (0.59 to 0.64 on
     * mobilenet and the generated million-node stacks; the observers' paths are
     * derived and take no slot). More only costs one doubling on the way; an
     * overestimate costs a table twice as big, faulted in at once. */
    uint64_t syms =
        (uint64_t)g->st.n - g->st.nder + 256u + ((uint64_t)g->nlive + g->nlivemods) * 5u / 8u;
    /* the passes run on g itself; what they change (the table's size included)
     * is logged first, and taken back if any of them fails */
    struct qp__undo u;
    if (keep && (rc = qp__undo_begin(g, &u)))
        goto out;
    struct qp__prep P;
    memset(&P, 0, sizeof P);
    P.g = g;
    P.orig = g;
    P.be = row;
    P.cfg = cfg;
    P.fix = cfg->fix;
    P.academic_mode = cfg->academic_mode && row->reads_academic_mode;
    P.fuse = row->fuse && !P.academic_mode;
    g->report.nodes_before = g->nlive;
    g->report.modules_before = g->nlivemods;
    rc = qp__sym_presize(g, syms);
    if (!rc)
        rc = run(&P);
    if (!rc)
        rc = qp__explain_keep(&P);
    prep_free(&P);
    if (rc) {
        if (keep) {
            /* the message was written while the names it gives still existed */
            qp__undo_rollback(g, &u);
            if (g->errnode >= g->nnodes)
                g->errnode = 0;
        }
        goto out;
    }
    if (keep)
        qp__undo_end(g, &u);
    g->report.nodes_after = g->nlive;
    g->report.modules_after = g->nlivemods;
    qp__clear_err(g);
out:
    qp_config_destroy(empty);
    if (!keep) {
        if (rc)
            qp__graph_clear(g, &spare);
        else
            qp__graph_spare_free(&spare);
    }
    return rc;
}

qp_status
qp_prepare_qat(qp_graph *g, qp_backend be, const qp_config *cfg)
{
    return prepare(g, be, cfg, true);
}

qp_status
qp_prepare_qat_or_clear(qp_graph *g, qp_backend be, const qp_config *cfg)
{
    return prepare(g, be, cfg, false);
}
