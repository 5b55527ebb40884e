/*
 * table.c - the kinds the runtime implements, indexed by qp_fq_kind and
 * qp_obs_kind. A NULL row is a kind not implemented: creating such a
 * quantizer fails with a message naming it.
 */
#include "qint.h"

const struct qp__fq_ops *const qp__fq_table[QP_FQ_COUNT] = {
    [QP_FQ_LEARNABLE] = &qp__fq_learnable,
    [QP_FQ_DOREFA] = &qp__fq_dorefa,
    [QP_FQ_DSQ] = &qp__fq_dsq,
    [QP_FQ_PACT] = &qp__fq_pact,
    [QP_FQ_ADAROUND] = &qp__fq_adaround,
    [QP_FQ_QDROP] = &qp__fq_qdrop,
    [QP_FQ_FIXED] = &qp__fq_fixed,
    [QP_FQ_NNIE] = &qp__fq_nnie,
    [QP_FQ_TQT] = &qp__fq_tqt,
};

const struct qp__obs_ops *const qp__obs_table[QP_OBS_COUNT] = {
    [QP_OBS_MINMAX] = &qp__obs_minmax,
    [QP_OBS_EMA_MINMAX] = &qp__obs_ema_minmax,
    [QP_OBS_MINMAX_FLOOR] = &qp__obs_minmax_floor,
    [QP_OBS_POT_MODE] = &qp__obs_pot_mode,
    [QP_OBS_LSQ] = &qp__obs_lsq,
    [QP_OBS_EMA_QUANTILE] = &qp__obs_ema_quantile,
    [QP_OBS_CLIP_STD] = &qp__obs_clip_std,
    [QP_OBS_MSE] = &qp__obs_mse,
    [QP_OBS_EMA_MSE] = &qp__obs_ema_mse,
};
