/*
 * qset.h - the record of a quantizer set (include/qprep/quant.h, "Every
 * quantizer of a prepared graph"), shared by set.c (creation, lookup,
 * switches, parameters and state by full name) and state_text.c (the state
 * file's writer and transactional reader).
 */
#ifndef QPREP_QSET_H
#define QPREP_QSET_H

#include "qint.h"

#define QP__QSET_NONE UINT32_MAX

/* One quantizer of the set. Strings are offsets into the set's text. */
struct qp__qent {
    uint32_t path, plen;
    uint32_t node, owner; /* QP__QSET_NONE: none */
    qp_side role;
    qp_quant *q;
    uint32_t state0, param0; /* its first state entry / parameter in the set's numbering */
    bool mark;               /* scratch of qp_quant_set_calibrate_only */
};

struct qp_quant_set {
    qp_allocator alloc;
    struct qp__qent *e;
    uint32_t n;
    char *text; /* paths, node names, owners, then the full names of the state */
    size_t ntext;
    uint32_t *full; /* nstate offsets into text: "PATH.KEY" in state_dict order */
    uint32_t nstate, nparam;
    uint32_t *slots; /* open addressing over paths: 1 + quantizer index, 0 empty */
    uint32_t nslots; /* a power of two */
    char errmsg[256];
};

/* Allocation through the set's allocator. */
void *qp__qset_alloc(qp_quant_set *s, size_t n);
void qp__qset_free(qp_quant_set *s, void *p, size_t n);
/* Formats s->errmsg and returns st. */
qp_status qp__qset_err(qp_quant_set *s, qp_status st, const char *fmt, ...) QP__QPRINTF(3, 4);

/* The quantizer whose path is name[0..len), or QP__QSET_NONE. O(len). */
uint32_t qp__qset_find(const qp_quant_set *s, const char *name, size_t len);
/* A full state name name[0..len) ("PATH.KEY"): *qi the quantizer, *st the index of
 * the entry in its q->st. False if no quantizer has such an entry. */
bool qp__qset_resolve(const qp_quant_set *s, const char *name, size_t len, uint32_t *qi,
                      uint32_t *st);

/* state_text.c: a float32 value as the state file writes it (qp__fmt_float of
 * the value widened, found faster); buf holds 32 bytes. Returns the length. */
size_t qp__qset_fmt_f32(float f, char *buf);

#endif /* QPREP_QSET_H */
