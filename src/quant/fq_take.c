/*
 * fq_take.c - the observer's qparams copied into a fake-quantizer's scale and
 * zero point (fq_take.h).
 */
#include "fq_take.h"

qp_status
qp__take_begin(qp_quant *q, struct qp__take *t, size_t C, uint32_t si, uint32_t zi)
{
    t->C = C;
    t->sc = C <= 64 ? t->small_s : qp__qalloc(q, C * sizeof *t->sc);
    t->zp = C <= 64 ? t->small_z : qp__qalloc(q, C * sizeof *t->zp);
    if (!t->sc || !t->zp)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    qp_status rc = qp__qs_reserve(q, si, C);
    return rc ? rc : qp__qs_reserve(q, zi, C);
}

qp_status
qp__take_store(qp_quant *q, struct qp__take *t, uint32_t si, uint32_t zi, bool resize_0d)
{
    qp_status rc = qp__obs_qparams(q, t->sc, t->zp, t->C);
    if (rc)
        return rc;
    int64_t shape[1] = {(int64_t)t->C};
    uint32_t nd = resize_0d && q->a.ch_axis < 0 && q->obs_qp_0d ? 0 : 1;
    qp__qs_reshape(q, si, nd, shape);
    qp__qs_reshape(q, zi, nd, shape);
    float *S = qp__qs_f32(q, si);
    for (size_t c = 0; c < t->C; c++)
        S[c] = t->sc[c];
    if (q->st[zi].dtype == QP_DT_F32) {
        float *Z = qp__qs_f32(q, zi);
        for (size_t c = 0; c < t->C; c++)
            Z[c] = (float)t->zp[c];
    } else {
        int32_t *Z = qp__qs_i32(q, zi);
        for (size_t c = 0; c < t->C; c++)
            Z[c] = t->zp[c];
    }
    return QP_OK;
}

void
qp__take_end(qp_quant *q, struct qp__take *t)
{
    if (t->sc && t->sc != t->small_s)
        qp__qfree(q, t->sc, t->C * sizeof *t->sc);
    if (t->zp && t->zp != t->small_z)
        qp__qfree(q, t->zp, t->C * sizeof *t->zp);
    t->sc = NULL;
    t->zp = NULL;
}

qp_status
qp__take_check(qp_quant *q, uint32_t si, uint32_t zi, size_t n)
{
    size_t ns = q->st[si].numel, nz = q->st[zi].numel;
    if (ns != n || nz != n)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "scale holds %zu and zero_point %zu values, %zu wanted (channels on "
                        "axis %d): calibrate first or load a matching state",
                        ns, nz, n, q->a.ch_axis);
    return QP_OK;
}
