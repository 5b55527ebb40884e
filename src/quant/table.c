/*
 * table.c - the kinds the runtime implements, indexed by qp_fq_kind and
 * qp_obs_kind. A NULL row is a kind not implemented: creating such a
 * quantizer fails with a message naming it.
 */
#include "qint.h"

const struct qp__fq_ops *const qp__fq_table[QP_FQ_COUNT] = {
    [QP_FQ_LEARNABLE] = &qp__fq_learnable,
};

const struct qp__obs_ops *const qp__obs_table[QP_OBS_COUNT] = {
    [QP_OBS_MINMAX] = &qp__obs_minmax,
    [QP_OBS_EMA_MINMAX] = &qp__obs_ema_minmax,
};
