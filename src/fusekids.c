/*
 * fusekids.c - fused containers whose children .0 .1 .2 are never made.
 *
 * fuse_fx copies the matched modules under a fused container, and the swap
 * replaces the container with its QAT module, dropping the copies: on a big
 * graph those are a third of the module records and of the path syms, all
 * dead in the result. When the fuse pass can tell that the swap will replace
 * a container, and that nothing in between reads its children, it keeps
 * instead one record of what the swap reads from them (the root's attributes,
 * the BatchNorm) and makes no copy.
 *
 * What the passes between read: the qconfig pass looks at a container's .0
 * only through overrides (object type, path, pattern rules), so a
 * configuration with overrides keeps the copies. What the swap needs to take
 * a container: not excluded by name, a QAT mapping without an error, and a
 * weight spec, which without overrides every module has. Names stay as they
 * were: a generated node name is taken only by a node (names.c), and a
 * container's child paths have dots, which no generated name has.
 */
#include "prep.h"

#include <stdlib.h>
#include <string.h>

/* Is a type a fused container by its text (qp__is_fused needs a sym that existed at
 * the start of the pass; the fuse pass interns the container types it makes)? */
static bool
fused_name(struct qp__prep *P, const char *s)
{
    const char *isa[16];
    uint32_t nisa = qp__type_ancestors(s, isa, 16);
    const struct qp__oplist *l = &P->lists[QP__L_FUSED];
    for (uint32_t i = 0; i < l->n; i++)
        for (uint32_t k = 0; l->e[i].kind == QP__E_MOD && k < nisa; k++)
            if (!strcmp(isa[k], l->e[i].name))
                return true;
    return false;
}

bool
qp__fkids_deferrable(struct qp__prep *P, const char *fused)
{
    const qp_config *c = P->cfg;
    if (c->noverrides || c->nnames[QP_EXCLUDE_MODULE_NAME] || !fused_name(P, fused))
        return false;
    const char *error;
    return qp__qat_name(P, fused, &error) && !error;
}

qp_status
qp__fkids_add(struct qp__prep *P, uint32_t m, uint32_t attrs, uint32_t bn, uint32_t nkids)
{
    qp_status rc = QP__GROW(P->g, P->fk, P->nfk, P->capfk, 1);
    if (rc)
        return rc;
    P->fk[P->nfk].m = m;
    P->fk[P->nfk].attrs = attrs;
    P->fk[P->nfk].bn = bn;
    P->fk[P->nfk++].nkids = nkids;
    return QP_OK;
}

static int
cmp_m(const void *a, const void *b)
{
    uint32_t x = ((const struct qp__fkid *)a)->m, y = ((const struct qp__fkid *)b)->m;
    return (x > y) - (x < y);
}

void
qp__fkids_seal(struct qp__prep *P)
{
    if (P->nfk > 1)
        qsort(P->fk, P->nfk, sizeof *P->fk, cmp_m);
}

const struct qp__fkid *
qp__fkids_find(const struct qp__prep *P, uint32_t m)
{
    uint32_t lo = 0, hi = P->nfk;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (P->fk[mid].m < m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < P->nfk && P->fk[lo].m == m ? &P->fk[lo] : NULL;
}

void
qp__fkids_free(struct qp__prep *P)
{
    qp__free(P->g, P->fk, (size_t)P->capfk * sizeof *P->fk);
    P->fk = NULL;
    P->nfk = P->capfk = 0;
}
