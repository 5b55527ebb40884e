/*
 * qint.h - private machinery of the quantizer runtime (include/qprep/quant.h):
 * the quantizer record, its state entries, and the tables of fake-quantizer
 * and observer kinds. Each kind is one file (fq_*.c, obs_*.c) exporting one
 * ops record; the core (quant.c) dispatches through the tables, never by a
 * switch on the kind.
 *
 * Layer: beside prepare. The kernels (kernels.c) depend on the C library only;
 * quant.c and the kinds use only this header; build.c alone reads graphs and
 * configurations (internal.h, prep.h).
 */
#ifndef QPREP_QINT_H
#define QPREP_QINT_H

#include "qprep/quant.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define QP__QPRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define QP__QPRINTF(f, a)
#endif

#define QP__EPS_F32 1.1920928955078125e-07 /* torch.finfo(torch.float32).eps */
#define QP__QMAX_STATE 24                  /* state entries of one quantizer, at most */

/* ==== Construction arguments ==== */

/* Every keyword argument MQBench's constructors read, resolved (defaults filled). */
struct qp__qargs {
    qp_fq_kind fq;
    qp_obs_kind obs;
    int64_t quant_min, quant_max;
    int ch_axis;    /* -1: per tensor */
    bool symmetric; /* qscheme is *_symmetric */
    bool pot_scale;
    bool reduce_range;
    bool qint8;                     /* dtype qint8 (else quint8) */
    double eps;                     /* the eps buffers' value */
    double ema_ratio;               /* 0.9 */
    double p;                       /* MSE observers' norm: 2.0 */
    double threshold;               /* EMAQuantileObserver: 0.99999 */
    int64_t bins;                   /* EMAQuantileObserver: 2048 */
    double std_scale;               /* ClipStdObserver: 2.6 */
    bool has_alpha;                 /* fakeq_params alpha given */
    double alpha;                   /* PACT: 6.0; DSQ: 0.4 */
    bool has_scale, has_zero_point; /* LSQ / TQT initial scale and zero point given */
    double scale, zero_point;       /* 1.0, 0.0 */
    bool use_grad_scaling;          /* LSQ: true */
    int quant_type;                 /* 0 None, 1 "tensor", 2 "param", 3 "input" */
    bool fix; /* the configuration's fixed mode: MQBench's bugs fixed, not reproduced */
};

/* ==== State entries ==== */

enum {
    QP__QS_PARAM = 1, /* a learnable parameter (has a gradient; listed first) */
    QP__QS_OBS = 2,   /* the observer's (activation_post_process.*; listed last) */
    QP__QS_PERCH = 4, /* per channel: load_state_dict may resize it (MQBench's loader) */
};

/* One state_dict entry. data holds cap elements; numel of them are the value. */
struct qp__qs {
    const char *name; /* static text, relative to the quantizer module */
    qp_dtype dtype;
    uint8_t flags;
    uint32_t ndim;
    int64_t shape[QP_QUANT_MAX_DIMS];
    size_t numel, cap;
    void *data;
    float *grad; /* QP__QS_PARAM: cap floats */
};

/* The shape of the tensor a forward or backward works on, split at the channel
 * axis: numel = outer * C * inner (C = 1, inner = numel for per tensor). */
struct qp__shape {
    const int64_t *dims;
    uint32_t ndim;
    size_t numel, outer, C, inner;
    int axis; /* -1: per tensor */
};

/* ==== Kinds ==== */

struct qp__fq_ops {
    qp_fq_kind kind;
    /* Registers the kind's own state entries (the core has registered
     * fake_quant_enabled and observer_enabled) and sets their initial values. */
    qp_status (*init)(qp_quant *q);
    /* The module's whole forward in training mode: runs the observer when
     * q->obs_on (qp__observe), takes qparams as the kind does, fake-quantizes
     * when q->fq_on, else copies x to y. State unchanged on failure. */
    qp_status (*forward)(qp_quant *q, const float *x, float *y, const struct qp__shape *s);
    /* dx from dy (fake quant on; the core handles off) and grads added to the
     * QP__QS_PARAM entries' grad buffers. */
    qp_status (*backward)(qp_quant *q, const float *x, const float *dy, float *dx,
                          const struct qp__shape *s);
};

struct qp__obs_ops {
    qp_obs_kind kind;
    /* Registers "activation_post_process.*" entries (eps, min_val, max_val, ...). */
    qp_status (*init)(qp_quant *q);
    /* The observer's forward on x (statistics updated). State unchanged on failure. */
    qp_status (*observe)(qp_quant *q, const float *x, const struct qp__shape *s);
    /* calculate_qparams: n = channels (per channel) or 1; scale and zero point out. */
    qp_status (*qparams)(qp_quant *q, float *scale, int32_t *zero_point, size_t n);
};

/* The tables (table.c): NULL where a kind is not implemented. */
extern const struct qp__fq_ops *const qp__fq_table[QP_FQ_COUNT];
extern const struct qp__obs_ops *const qp__obs_table[QP_OBS_COUNT];

/* One record per kind, each defined in its own file. */
extern const struct qp__fq_ops qp__fq_fixed, qp__fq_learnable, qp__fq_nnie, qp__fq_dorefa,
    qp__fq_dsq, qp__fq_pact, qp__fq_tqt, qp__fq_adaround, qp__fq_qdrop;
extern const struct qp__obs_ops qp__obs_minmax, qp__obs_ema_minmax, qp__obs_minmax_floor,
    qp__obs_pot_mode, qp__obs_ema_quantile, qp__obs_clip_std, qp__obs_lsq, qp__obs_mse,
    qp__obs_ema_mse;

/* ==== The quantizer ==== */

struct qp_quant {
    qp_allocator alloc;
    struct qp__qargs a;
    const struct qp__fq_ops *fq;
    const struct qp__obs_ops *obs;
    struct qp__qs st[QP__QMAX_STATE];
    uint32_t nst;
    uint8_t order[QP__QMAX_STATE];      /* state_dict order: params, buffers, observer's */
    uint32_t fq_en, obs_en;             /* entries fake_quant_enabled, observer_enabled */
    uint32_t ix[6];                     /* the fake-quantizer kind's own entries (its choice) */
    uint32_t obs_eps, obs_min, obs_max; /* the observer's eps, min_val, max_val (obs_base.c) */
    uint32_t obs_ix[4];                 /* the observer kind's further entries */
    bool fq_on, obs_on;                 /* mirrors of those two buffers */
    /* set by the kind's init: its backward also runs with fake quant off, as it
     * transforms x outside the fake quantization (DoReFa's tanh squash, PACT's
     * clipping), so dx != dy there */
    bool fq_bwd_off;
    /* set by the observer's init: per tensor its calculate_qparams gives 0-d
     * tensors (LSQObserver, from its 0-d tensor_norm), not torch's (1,), so
     * fake-quantizers that resize scale and zero point to the observer's
     * (Fixed, DSQ, DoReFa, PACT) make them () */
    bool obs_qp_0d;
    /* what a kind keeps outside the state_dict (freed by the core) */
    void *fq_priv, *obs_priv;
    size_t fq_priv_size, obs_priv_size;
    char errmsg[256];
};

/* ==== quant.c: core helpers for the kinds ==== */

void *qp__qalloc(qp_quant *q, size_t n);
void qp__qfree(qp_quant *q, void *p, size_t n);
/* Formats the message into q->errmsg and returns st. */
qp_status qp__qerr(qp_quant *q, qp_status st, const char *fmt, ...) QP__QPRINTF(3, 4);
/* Appends a state entry of shape (ndim, shape), zero-filled; *idx its index. */
qp_status qp__qs_add(qp_quant *q, const char *name, qp_dtype dt, uint8_t flags, uint32_t ndim,
                     const int64_t *shape, uint32_t *idx);
/* Makes room for numel elements in entry i (and its grad) without changing its
 * value: call before mutating, so a resize later cannot fail. */
qp_status qp__qs_reserve(qp_quant *q, uint32_t i, size_t numel);
/* Sets entry i's shape (room must be reserved); new elements are zero. */
void qp__qs_reshape(qp_quant *q, uint32_t i, uint32_t ndim, const int64_t *shape);
/* Typed views of an entry's data. */
float *qp__qs_f32(qp_quant *q, uint32_t i);
int32_t *qp__qs_i32(qp_quant *q, uint32_t i);
uint8_t *qp__qs_u8(qp_quant *q, uint32_t i);
/* The entry named so, or UINT32_MAX. */
uint32_t qp__qs_find(const qp_quant *q, const char *name);
/* Whether v may replace entry i (qp_quant_state_set's checks: dtype, shape or a
 * per-channel resize, numel); the message in q->errmsg, the state untouched.
 * After it and qp__qs_reserve(q, i, v->numel), qp_quant_state_set cannot fail. */
qp_status qp__qs_check(qp_quant *q, uint32_t i, const qp_tensor *v);
/* The observer's forward (checks values are finite first). */
qp_status qp__observe(qp_quant *q, const float *x, const struct qp__shape *s);
/* The observer's calculate_qparams for n channels. */
qp_status qp__obs_qparams(qp_quant *q, float *scale, int32_t *zero_point, size_t n);

/* build.c: the arguments of the fake-quantizer module fq_mod of graph mg (and its
 * observer module obs_mod, 0 if none), as prepare printed them, completed by the
 * keyword DICT kwargs of graph kg (0: none) for what the attributes do not print
 * (alpha, threshold, bins, std_scale, initial scale / zero point). On failure a
 * message naming the module goes to err. */
struct qp_graph;
qp_status qp__qargs_resolve(const struct qp_graph *mg, uint32_t fq_mod, uint32_t obs_mod,
                            const struct qp_graph *kg, uint32_t kwargs, struct qp__qargs *a,
                            char *err, size_t cap);

/* Creates a quantizer from resolved arguments (build.c resolves them). */
qp_status qp__quant_new(const qp_allocator *alloc, const struct qp__qargs *a, qp_quant **out,
                        char *errbuf, size_t errcap);

/* ==== obs_base.c: what every MQBench observer has ==== */

/* Registers activation_post_process.eps (1,), .min_val (), .max_val () (inf, -inf). */
qp_status qp__obs_base_init(qp_quant *q);
/* Makes room for C channels in min_val / max_val (per channel), before mutating. */
qp_status qp__obs_reserve(qp_quant *q, size_t C);
/* Sets min_val / max_val to n values (shape () per tensor, (n,) per channel). */
void qp__obs_set_range(qp_quant *q, const float *mn, const float *mx, size_t n);
/* Checks that a running per-channel range has C channels (broadcast rule). */
qp_status qp__obs_check_channels(qp_quant *q, size_t C);
/* Per channel, MQBench's observers flatten x.permute(...) from dimension 1, which
 * raises IndexError on a 1-d x: the same refusal, as a status. */
qp_status qp__obs_check_flatten(qp_quant *q, const struct qp__shape *s);
/* calculate_qparams from min_val / max_val (the common observers' qparams op). */
qp_status qp__obs_minmax_qparams(qp_quant *q, float *scale, int32_t *zero_point, size_t n);

/* ==== qparams.c ==== */

/* torch's _ObserverBase._calculate_qparams + MQBench's ObserverBase.calculate_qparams
 * (zero point as int, pot_scale) from n min/max pairs: symmetric or affine per q->a;
 * a per-tensor pair never observed (inf, -inf) gives (1.0, 0). */
void qp__qparams_minmax(const qp_quant *q, const float *min_val, const float *max_val, size_t n,
                        float *scale, int32_t *zero_point);
/* MQBench's pot_quantization (mode round): 2 ** round(log2(s)), in float32. */
float qp__pot_round(float s);

/* ==== kernels.c: elementwise fake-quantization (C library only) ==== */

/* torch.aminmax over the whole tensor (C = 1) or per channel: min[c], max[c]. */
void qp__aminmax(const float *x, const struct qp__shape *s, float *min, float *max);

/* torch.fake_quantize_per_{tensor,channel}_affine forward: scale[c], zp[c] per
 * channel (n = s->C values; per tensor n = 1). */
void qp__fq_affine_fwd(const float *x, float *y, const struct qp__shape *s, const float *scale,
                       const int32_t *zp, int64_t qmin, int64_t qmax);
/* Its straight-through backward: dx = dy inside [qmin, qmax] after rounding, else 0. */
void qp__fq_affine_bwd(const float *x, const float *dy, float *dx, const struct qp__shape *s,
                       const float *scale, const int32_t *zp, int64_t qmin, int64_t qmax);

#endif /* QPREP_QINT_H */
