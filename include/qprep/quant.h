/*
 * quant.h - the quantizer runtime: MQBench's fake-quantizers and observers,
 * forward and backward, their switches, learnable parameters and state_dict
 * entries, for the quantizers a prepared graph holds (or any one built from a
 * backend and a configuration as MQBench's get_qconfig_by_platform builds it).
 *
 * Conventions as in qprep.h: every fallible call returns a qp_status and, on
 * failure, leaves the quantizer unchanged with a message in
 * qp_quant_errmsg(); memory goes through the caller's allocator; no global
 * state, nothing printed. Two threads may use two quantizers (or sets) at once.
 * Tensors are float32, row-major (C order), of at most QP_QUANT_MAX_DIMS
 * dimensions; a per-channel quantizer's channel axis is its ch_axis.
 */
#ifndef QPREP_QUANT_H
#define QPREP_QUANT_H

#include "qprep/prepare.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Kinds ==== */

/* X(ENUM, MQBench's class name) */
#define QP_FAKEQUANT_MAP(X)                                                                        \
    X(FIXED, "FixedFakeQuantize")                                                                  \
    X(LEARNABLE, "LearnableFakeQuantize")                                                          \
    X(NNIE, "NNIEFakeQuantize")                                                                    \
    X(DOREFA, "DoReFaFakeQuantize")                                                                \
    X(DSQ, "DSQFakeQuantize")                                                                      \
    X(PACT, "PACTFakeQuantize")                                                                    \
    X(TQT, "TqtFakeQuantize")                                                                      \
    X(ADAROUND, "AdaRoundFakeQuantize")                                                            \
    X(QDROP, "QDropFakeQuantize")

#define QP_OBSERVER_MAP(X)                                                                         \
    X(MINMAX, "MinMaxObserver")                                                                    \
    X(EMA_MINMAX, "EMAMinMaxObserver")                                                             \
    X(MINMAX_FLOOR, "MinMaxFloorObserver")                                                         \
    X(POT_MODE, "PoTModeObserver")                                                                 \
    X(EMA_QUANTILE, "EMAQuantileObserver")                                                         \
    X(CLIP_STD, "ClipStdObserver")                                                                 \
    X(LSQ, "LSQObserver")                                                                          \
    X(MSE, "MSEObserver")                                                                          \
    X(EMA_MSE, "EMAMSEObserver")

typedef enum qp_fq_kind {
#define QP__FQ_ENUM(e, name) QP_FQ_##e,
    QP_FAKEQUANT_MAP(QP__FQ_ENUM)
#undef QP__FQ_ENUM
        QP_FQ_COUNT
} qp_fq_kind;

typedef enum qp_obs_kind {
#define QP__OBS_ENUM(e, name) QP_OBS_##e,
    QP_OBSERVER_MAP(QP__OBS_ENUM)
#undef QP__OBS_ENUM
        QP_OBS_COUNT
} qp_obs_kind;

/* MQBench's class name of a kind ("LearnableFakeQuantize"), or NULL if out of range. */
QP_API const char *qp_fq_kind_name(qp_fq_kind k);
QP_API const char *qp_obs_kind_name(qp_obs_kind k);

/* ==== Tensors ==== */

#define QP_QUANT_MAX_DIMS 8

/* Element types of state entries, as torch's dtypes (float32, int32, int64, uint8, bool). */
typedef enum qp_dtype { QP_DT_F32, QP_DT_I32, QP_DT_I64, QP_DT_U8, QP_DT_BOOL } qp_dtype;

/* "f32", "i32", "i64", "u8", "bool" (the .qn and state-file spelling), or NULL. */
QP_API const char *qp_dtype_name(qp_dtype t);

/* A view of a tensor: `data` holds numel elements of dtype (bool and u8 one byte
 * each) in row-major order; ndim 0 is a scalar (numel 1). */
typedef struct qp_tensor {
    qp_dtype dtype;
    uint32_t ndim;
    int64_t shape[QP_QUANT_MAX_DIMS];
    size_t numel;
    void *data;
} qp_tensor;

/* ==== One quantizer ==== */

/* A fake-quantizer module with its observer (activation_post_process). */
typedef struct qp_quant qp_quant;

/* Construction options; a NULL pointer means all defaults. */
typedef struct qp_quant_opts {
    int ch_axis;            /* < 0: the scheme's (0 when per channel); else the per-channel
                               axis, as prepare gives a ConvTranspose weight (1); ignored
                               by per-tensor quantizers */
    const char *quant_type; /* NULL, "tensor", "param" or "input" (Vitis set_quant_type) */
} qp_quant_opts;

/* The defaults: { ch_axis = -1, quant_type = NULL }. */
QP_API qp_quant_opts qp_quant_opts_default(void);

/*
 * Creates the weight (side QP_WEIGHT) or activation (QP_ACT) quantizer of a
 * backend exactly as MQBench's get_qconfig_by_platform(backend, cfg) followed by
 * qconfig.weight() / qconfig.activation() builds it: kinds, scheme, range
 * and every keyword argument of cfg (OPENVINO's 7-bit weight range is applied
 * by its prepare, so it shows in qp_quant_set_create's quantizers, not here)
 * (cfg NULL: the backend's defaults; the Academic backends require one). The
 * quantizer starts with both switches on, as constructed. On failure *out is
 * NULL and err (if not NULL) holds the status and a message naming the key.
 * The caller destroys the result with qp_quant_destroy.
 */
QP_API qp_status qp_quant_create(const qp_allocator *alloc, qp_backend be, qp_side side,
                                 const qp_config *cfg, const qp_quant_opts *opts, qp_quant **out,
                                 qp_error *err);
/* Frees a quantizer. NULL is a no-op. */
QP_API void qp_quant_destroy(qp_quant *q);
/* The message of the last failed call on q ("" after a success). */
QP_API const char *qp_quant_errmsg(const qp_quant *q);

/* What a quantizer is. */
typedef struct qp_quant_info {
    qp_fq_kind fake_quant;
    qp_obs_kind observer;
    int64_t quant_min, quant_max;
    int ch_axis;    /* -1 per tensor */
    bool symmetric; /* qscheme *_symmetric */
    bool pot_scale;
    const char *quant_type; /* NULL or "tensor" / "param" / "input" (static text) */
} qp_quant_info;
QP_API void qp_quant_get_info(const qp_quant *q, qp_quant_info *out);

/* The two switches (the fake_quant_enabled / observer_enabled buffers). */
QP_API void qp_quant_enable_observer(qp_quant *q, bool on);
QP_API void qp_quant_enable_fake_quant(qp_quant *q, bool on);
QP_API bool qp_quant_observer_enabled(const qp_quant *q);
QP_API bool qp_quant_fake_quant_enabled(const qp_quant *q);

/*
 * y = q(x) in training mode, as the MQBench module's forward: updates the
 * observer (and the qparams it sets) when the observer is on, fake-quantizes
 * when fake quant is on, else copies x. x and y may be the same buffer.
 * shape has ndim sizes (ndim 0: a scalar). Fails with QP_ERR_INVALID_ARG on a
 * zero-size tensor, a channel axis the shape lacks, non-finite values reaching
 * an observer or NULL, the state unchanged.
 */
QP_API qp_status qp_quant_forward(qp_quant *q, const float *x, float *y, const int64_t *shape,
                                  uint32_t ndim);
/*
 * Backpropagates dy through the last forward's fake-quantization of x (the same
 * x and the same state the forward left): writes dx (dx may be dy) and ADDS the
 * gradient of every learnable parameter into its grad buffer (qp_quant_param),
 * as autograd accumulates. With fake quant off, dx = dy, except where the kind
 * transforms x outside its fake quantization (DoReFa's tanh squash, PACT's
 * clipping while its observer is on), whose gradient dx then carries.
 */
QP_API qp_status qp_quant_backward(qp_quant *q, const float *x, const float *dy, float *dx,
                                   const int64_t *shape, uint32_t ndim);
/* Sets every learnable parameter's gradient to zero. */
QP_API void qp_quant_zero_grad(qp_quant *q);

/* A learnable parameter for the caller's optimizer: `name` as in state_dict
 * ("scale", "zero_point", "alpha"), `data` and `grad` numel floats each. The
 * pointers are borrowed and stay valid until a call that can resize the state
 * (forward with the observer on, state_set, load). */
typedef struct qp_quant_param {
    const char *name;
    float *data, *grad;
    size_t numel;
} qp_quant_param;
QP_API uint32_t qp_quant_num_params(const qp_quant *q);
QP_API qp_status qp_quant_param_at(qp_quant *q, uint32_t i, qp_quant_param *out);

/*
 * The state_dict of the quantizer module, in PyTorch's order: keys relative to
 * the module ("scale", "zero_point", "fake_quant_enabled", "observer_enabled",
 * "eps", "activation_post_process.min_val", ...). *name and out->data are
 * borrowed, valid until the next call that changes q.
 */
QP_API uint32_t qp_quant_num_state(const qp_quant *q);
QP_API qp_status qp_quant_state_at(const qp_quant *q, uint32_t i, const char **name,
                                   qp_tensor *out);
/* The entry named `name`; QP_ERR_NOT_FOUND if there is none. */
QP_API qp_status qp_quant_state_get(const qp_quant *q, const char *name, qp_tensor *out);
/*
 * Replaces an entry's value (copied), as load_state_dict does: the dtype must
 * be the entry's, the shape the entry's, except where MQBench's loader resizes
 * (per-channel scale, zero point and observer statistics take any length that
 * fits the quantizer). QP_ERR_NOT_FOUND / QP_ERR_INVALID_ARG naming the entry,
 * q unchanged, otherwise.
 */
QP_API qp_status qp_quant_state_set(qp_quant *q, const char *name, const qp_tensor *value);

/* ==== Every quantizer of a prepared graph ==== */

typedef struct qp_quant_set qp_quant_set;

/*
 * Creates one quantizer per fake-quantizer module of a prepared graph g: each
 * activation fake-quantizer node's module (`x_post_act_fake_quantizer`) and
 * each `*.weight_fake_quant`, in g's module-table order, built from the
 * module's attributes as prepare wrote them (kinds, range, axis, quant_type)
 * plus the keyword arguments of cfg the attributes do not print (be and cfg
 * as given to qp_prepare_qat; cfg NULL: defaults). On failure *out is NULL and
 * err names the module. g is only read; the set does not refer to it later.
 */
QP_API qp_status qp_quant_set_create(const qp_graph *g, qp_backend be, const qp_config *cfg,
                                     const qp_allocator *alloc, qp_quant_set **out, qp_error *err);
QP_API void qp_quant_set_destroy(qp_quant_set *s);
QP_API const char *qp_quant_set_errmsg(const qp_quant_set *s);

/* One quantizer of a set. `path` is its module path; `node` the name of the
 * first call_module node calling it (NULL for a weight quantizer, or an
 * activation quantizer no node calls); `owner` the module whose weight it
 * quantizes (NULL for an activation). role: QP_WEIGHT when the path ends in
 * ".weight_fake_quant", else QP_ACT. Strings borrowed from s, valid while s
 * lives. qp_quant_set_at fails with QP_ERR_INVALID_ARG past the end. */
typedef struct qp_quant_entry {
    const char *path;
    qp_side role;
    const char *node, *owner;
    qp_quant *q;
} qp_quant_entry;
QP_API uint32_t qp_quant_set_size(const qp_quant_set *s);
QP_API qp_status qp_quant_set_at(qp_quant_set *s, uint32_t i, qp_quant_entry *out);
/* The quantizer of module `path` (a hash lookup), or NULL. q belongs to s. */
QP_API qp_quant *qp_quant_set_find(qp_quant_set *s, const char *path);

/* mqbench.utils.state, over the whole set. */
/* enable_calibration: observers on, fake quant off. */
QP_API void qp_quant_set_enable_calibration(qp_quant_set *s);
/* enable_quantization: fake quant on; observers off, except, as MQBench tests the
 * names, those whose path holds "weight_fake_quant" (weight_cali_on) or
 * "act_fake_quant" (act_cali_on): every weight / activation quantizer prepare makes. */
QP_API void qp_quant_set_enable_quantization(qp_quant_set *s, bool weight_cali_on,
                                             bool act_cali_on);
/* disable_all: both off; enable_all: both on. */
QP_API void qp_quant_set_disable_all(qp_quant_set *s);
QP_API void qp_quant_set_enable_all(qp_quant_set *s);
/* enable_calibration_woquantization by name: observers on and fake quant off for
 * the quantizers whose path is one of names[0..n), both off for the others.
 * QP_ERR_NOT_FOUND (no change) if a name is no quantizer's. */
QP_API qp_status qp_quant_set_calibrate_only(qp_quant_set *s, const char *const *names, uint32_t n);

/* Learnable parameters with their full names ("conv1.weight_fake_quant.scale"),
 * quantizer by quantizer; pointers as qp_quant_param_at's (O(log n) per call). */
QP_API uint32_t qp_quant_set_num_params(const qp_quant_set *s);
QP_API qp_status qp_quant_set_param_at(qp_quant_set *s, uint32_t i, qp_quant_param *out);
QP_API void qp_quant_set_zero_grad(qp_quant_set *s);

/* State entries by full name ("layer1.0.conv1.weight_fake_quant.scale"), in
 * state_dict order (the set's order, then each quantizer's); views and names
 * borrowed as qp_quant_state_at's. _get / _set: QP_ERR_NOT_FOUND for a name no
 * quantizer has (O(length of the name) to find); _set checks and copies as
 * qp_quant_state_set, the set's message naming the quantizer. */
QP_API uint32_t qp_quant_set_num_state(const qp_quant_set *s);
QP_API qp_status qp_quant_set_state_at(const qp_quant_set *s, uint32_t i, const char **name,
                                       qp_tensor *out);
QP_API qp_status qp_quant_set_state_get(const qp_quant_set *s, const char *name, qp_tensor *out);
QP_API qp_status qp_quant_set_state_set(qp_quant_set *s, const char *name, const qp_tensor *value);

/*
 * Checkpoints: the state as text (README "Quantizer state files"): `qstate 1`,
 * then one `tensor NAME KIND (SHAPE) [VALUES]` line per entry, floats as the
 * shortest decimal that reads back to the same value (exact round trip).
 * Saving fails only when fn does (QP_ERR_IO). Loading reads every entry, checks
 * names, dtypes and shapes against the set, and applies them only if all are
 * good: on failure the state is unchanged and err holds FILE:LINE:COL's line
 * and column and a message naming the entry. Entries the file lacks keep their
 * values; names the set lacks are an error.
 */
/* Load failures: QP_ERR_PARSE (syntax), QP_ERR_NOT_FOUND (a name no quantizer
 * has), QP_ERR_INVALID_ARG (a kind or shape the entry cannot take),
 * QP_ERR_DUP_NAME (an entry given twice), QP_ERR_LIMIT, QP_ERR_NOMEM (line and
 * column 0), QP_ERR_IO (reading f); qp_quant_set_errmsg says "LINE:COL: msg". */
QP_API qp_status qp_quant_set_save(const qp_quant_set *s, qp_write_fn fn, void *ud);
QP_API qp_status qp_quant_set_save_file(const qp_quant_set *s, FILE *f);
QP_API qp_status qp_quant_set_load_text(qp_quant_set *s, const char *text, size_t len,
                                        qp_error *err);
QP_API qp_status qp_quant_set_load_file(qp_quant_set *s, FILE *f, qp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* QPREP_QUANT_H */
