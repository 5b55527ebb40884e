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

/* The index is direct, one slot per module id from the first container to the
 * last (at most 4 bytes a module, held from the fuse pass to the swap): the swap
 * looks each container up once, walking the table backwards, so the slots and
 * records it reads come nearly in order. A hashed index cost a cache miss a
 * lookup, 6% of a million-node prepare. */
qp_status
qp__fkids_seal(struct qp__prep *P)
{
    if (!P->nfk)
        return QP_OK;
    uint32_t lo = P->fk[0].m, hi = P->fk[0].m;
    for (uint32_t i = 1; i < P->nfk; i++) {
        if (P->fk[i].m < lo)
            lo = P->fk[i].m;
        if (P->fk[i].m > hi)
            hi = P->fk[i].m;
    }
    uint32_t cap = hi - lo + 1;
    uint32_t *t = qp__alloc(P->g, (size_t)cap * sizeof *t);
    if (!t)
        return qp__err(P->g, QP_ERR_NOMEM, "out of memory");
    memset(t, 0, (size_t)cap * sizeof *t);
    for (uint32_t i = 0; i < P->nfk; i++)
        t[P->fk[i].m - lo] = i + 1;
    P->fkidx = t;
    P->fklo = lo;
    P->capfkidx = cap;
    return QP_OK;
}

const struct qp__fkid *
qp__fkids_find(const struct qp__prep *P, uint32_t m)
{
    if (m < P->fklo || m - P->fklo >= P->capfkidx)
        return NULL;
    uint32_t i = P->fkidx[m - P->fklo];
    return i ? &P->fk[i - 1] : NULL;
}

void
qp__fkids_free(struct qp__prep *P)
{
    qp__free(P->g, P->fk, (size_t)P->capfk * sizeof *P->fk);
    qp__free(P->g, P->fkidx, (size_t)P->capfkidx * sizeof *P->fkidx);
    P->fk = NULL;
    P->fkidx = NULL;
    P->nfk = P->capfk = P->fklo = P->capfkidx = 0;
}
