/*
 * prepare.h - preparing a graph for quantization-aware training, as MQBench's
 * prepare_by_platform does: backends, configuration (MQBench's
 * prepare_custom_config_dict and more), the report, and qp_prepare_qat().
 */
#ifndef QPREP_PREPARE_H
#define QPREP_PREPARE_H

#include "qprep/qprep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Backends ==== */

/* X(ENUM, MQBench's BackendType name). */
#define QP_BACKEND_MAP(X)                                                                  \
    X(TENSORRT, "Tensorrt")                                                                \
    X(SNPE, "SNPE")                                                                        \
    X(PPLW8A16, "PPLW8A16")                                                                \
    X(NNIE, "NNIE")                                                                        \
    X(VITIS, "Vitis")                                                                      \
    X(ONNX_QNN, "ONNX_QNN")                                                                \
    X(PPLCUDA, "PPLCUDA")                                                                  \
    X(OPENVINO, "OPENVINO")                                                                \
    X(TENGINE_U8, "Tengine_u8")                                                            \
    X(STPU, "STPU")                                                                        \
    X(QDQ, "QDQ")                                                                          \
    X(TENSORRT_NLP, "Tensorrt_NLP")                                                        \
    X(ACADEMIC, "Academic")                                                                \
    X(ACADEMIC_NLP, "Academic_NLP")

typedef enum qp_backend {
#define QP__BACKEND_ENUM(e, name) QP_BACKEND_##e,
    QP_BACKEND_MAP(QP__BACKEND_ENUM)
#undef QP__BACKEND_ENUM
        QP_BACKEND_COUNT
} qp_backend;

/* MQBench's name of a backend ("Tensorrt"), or NULL if out of range. */
QP_API const char *qp_backend_name(qp_backend be);
/* Looks a backend up by MQBench's name (case-insensitive); QP_ERR_UNSUPPORTED_BACKEND if none. */
QP_API qp_status qp_backend_from_name(const char *name, qp_backend *out);
/* One line on where the backend puts activation fake-quantizers (static text). */
QP_API const char *qp_backend_summary(qp_backend be);

/* ==== Configuration ==== */

/*
 * A qp_config says what MQBench's prepare_custom_config_dict can say, and
 * more. Every setter validates its input and returns QP_ERR_INVALID_CONFIG
 * (or QP_ERR_INVALID_QCONFIG for a quantization scheme) with a message in
 * qp_config_errmsg() naming the key, leaving the config unchanged. Settings
 * the backend ignores (NNIE's fixed schemes) are checked all the same.
 */
typedef struct qp_config qp_config;

/* Creates an empty configuration (the backend's defaults everywhere). */
QP_API qp_status qp_config_create(const qp_allocator *alloc, qp_config **out);
/* Frees a configuration. NULL is a no-op. */
QP_API void qp_config_destroy(qp_config *c);
/* The detail message of the last failed call on c ("" if none). */
QP_API const char *qp_config_errmsg(const qp_config *c);

/*
 * Reads a .qcfg text (FORMAT.md "Configuration files"): `qcfg 1`, then
 * `KEY = {DICT}` lines for extra_qconfig_dict, extra_quantizer_dict,
 * extra_fuse_dict, preserve_attr, qprep_overrides and qprep_options. On
 * failure *out is NULL and *err names the line, column and key.
 */
QP_API qp_status qp_config_read_text(const char *text, size_t len, const qp_allocator *alloc,
                                     qp_config **out, qp_error *err);
QP_API qp_status qp_config_read_file(FILE *f, const qp_allocator *alloc, qp_config **out,
                                     qp_error *err);

/* Which side of a layer a setting is for. */
typedef enum qp_side { QP_WEIGHT, QP_ACT } qp_side;

/* MQBench's QuantizeScheme. quant range: symmetric ? [-2^(b-1) (+1 if symmetric_range),
 * 2^(b-1)-1] : [0, 2^b-1]. bit: 2..16 or 32. */
typedef struct qp_qscheme {
    int bit;
    bool symmetry, per_channel, pot_scale, symmetric_range;
} qp_qscheme;

/* QuantizeScheme's defaults: 8-bit, symmetric, per-tensor. */
QP_API qp_qscheme qp_qscheme_default(void);

/* extra_qconfig_dict: observer / fake-quantizer kinds by MQBench's names
 * ("EMAMinMaxObserver", "LearnableFakeQuantize", ...). */
QP_API qp_status qp_config_set_observer(qp_config *c, qp_side side, const char *name);
QP_API qp_status qp_config_set_fakequant(qp_config *c, qp_side side, const char *name);
/* extra_qconfig_dict w_qscheme / a_qscheme: replaces the backend's scheme whole. */
QP_API qp_status qp_config_set_qscheme(qp_config *c, qp_side side, const qp_qscheme *s);

/* A scalar for keyword arguments. */
typedef enum qp_scalar_kind {
    QP_SCALAR_NONE,
    QP_SCALAR_BOOL,
    QP_SCALAR_INT,
    QP_SCALAR_FLOAT,
    QP_SCALAR_STR
} qp_scalar_kind;
typedef struct qp_scalar {
    qp_scalar_kind kind;
    bool b;
    int64_t i;
    double f;
    const char *s; /* copied */
} qp_scalar;

/* Keyword-argument dicts of extra_qconfig_dict. */
typedef enum qp_kwargs {
    QP_W_FAKEQ_PARAMS,       /* w_fakeq_params */
    QP_A_FAKEQ_PARAMS,       /* a_fakeq_params */
    QP_W_OBSERVER_EXTRA_ARGS, /* w_observer_extra_args */
    QP_A_OBSERVER_EXTRA_ARGS  /* a_observer_extra_args */
} qp_kwargs;
/* Sets one keyword argument (later values replace earlier ones). */
QP_API qp_status qp_config_set_kwarg(qp_config *c, qp_kwargs which, const char *key,
                                     qp_scalar value);

/* Name lists of extra_quantizer_dict, with MQBench's meaning and precedence. */
typedef enum qp_list {
    QP_EXCLUDE_NODE_NAME,
    QP_EXCLUDE_MODULE_NAME,
    QP_EXCLUDE_FUNCTION_TYPE,  /* "operator.add"; a bare name is a method ("mean") */
    QP_ADDITIONAL_NODE_NAME,
    QP_ADDITIONAL_FUNCTION_TYPE,
    QP_ADDITIONAL_MODULE_TYPE, /* "nn.ReLU" */
    QP_LIST_COUNT
} qp_list;
QP_API qp_status qp_config_add_name(qp_config *c, qp_list which, const char *name);
/* extra_quantizer_dict academic_mode (read by OPENVINO only). */
QP_API qp_status qp_config_set_academic_mode(qp_config *c, bool on);

/* extra_fuse_dict: a fusion pattern, module types in forward order (2 or 3 of them,
 * e.g. {"nn.Conv2d", "nn.GroupNorm"}), fused into a container of type fused_type. */
QP_API qp_status qp_config_add_fusion(qp_config *c, uint32_t n, const char *const *types,
                                      const char *fused_type);
/* extra_fuse_dict additional_qat_module_mapping: float type -> QAT type (replaces a
 * backend mapping of the same float type). */
QP_API qp_status qp_config_add_qat_mapping(qp_config *c, const char *float_type,
                                           const char *qat_type);

/* preserve_attr: the attribute `attr` of the module at `path` ("" = the graph's own
 * attributes, qp_graph_set_attr) must survive prepare unchanged. */
QP_API qp_status qp_config_preserve_attr(qp_config *c, const char *path, const char *attr);

/* Beyond MQBench: per-module qconfig overrides, as torch's QConfigMapping.
 * A rule matches modules by exact path (and their submodules), by type
 * (isinstance; a fused container matches as its first child, so "nn.Conv2d"
 * matches a fused conv), or by a glob pattern over the path (`*` any run, `?`
 * one character); later rules win. w gives the weight scheme, a the scheme
 * of the activation fake-quantizers the module asks for (on its inputs, or its
 * output on output-based backends); a NULL side keeps the default. Both NULL
 * means "no quantization": the module stays float (no QAT swap, no weight
 * fake-quantizer) and asks for no activation fake-quantizer. Kinds (observer,
 * fake-quantizer) and keyword arguments are the configuration's. */
typedef enum qp_match { QP_MATCH_PATH, QP_MATCH_TYPE, QP_MATCH_PATTERN } qp_match;
QP_API qp_status qp_config_add_override(qp_config *c, qp_match how, const char *what,
                                        const qp_qscheme *w, const qp_qscheme *a);

/* Fixed mode (off by default): fixes each MQBench bug of MQBENCH.md section 5
 * instead of reproducing it (see README). */
QP_API qp_status qp_config_set_fix(qp_config *c, bool on);
/* Run qp_graph_verify after every pass (debugging aid; off by default). */
QP_API qp_status qp_config_set_verify_each(qp_config *c, bool on);
/* Record the explanations (qp_graph_explain_at): on by default. Off, prepare
 * keeps none (qp_graph_num_explain gives 0) and saves 16 bytes per placement
 * decision, for callers that never ask why (`qprep prepare`); the prepared
 * graph and the report are the same. QP_ERR_NULL_ARG if c is NULL. */
QP_API qp_status qp_config_set_explain(qp_config *c, bool on);

/* ==== Graph attributes (for preserve_attr) ==== */

/* Attributes of the graph itself (MQBench: attributes of the root module). Not part
 * of the text format. */
QP_API qp_status qp_graph_set_attr(qp_graph *g, const char *key, qp_val value);
QP_API qp_val qp_graph_attr(const qp_graph *g, const char *key);

/* ==== Report and explanations ==== */

/* What one pass did. */
typedef struct qp_pass_stats {
    const char *pass; /* static name: "ffswap", "dup", "fuse", "qconfig", "swap", "fakequant" */
    uint32_t matched;  /* patterns matched / modules duplicated / producers chosen */
    uint32_t nodes_added, nodes_erased, uses_rewired;
    uint32_t modules_added, modules_swapped, modules_removed;
    uint32_t fq_inserted;
} qp_pass_stats;

/* What the last successful qp_prepare_qat on a graph did, pass by pass. */
typedef struct qp_report {
    uint32_t npass;
    qp_pass_stats pass[8];
    uint32_t nodes_before, nodes_after;
    uint32_t modules_before, modules_after;
} qp_report;

/* The graph's report (zeroed before any prepare); borrowed. */
QP_API const qp_report *qp_graph_report(const qp_graph *g);

/* Why a fake-quantizer is where it is, or why a candidate got none. */
typedef enum qp_reason {
    QP_WHY_CONSUMER_INPUT,     /* inserted: an input of a listed consumer */
    QP_WHY_PASSTHROUGH_OUTPUT, /* inserted: output of a pass-through op after a listed op */
    QP_WHY_OP_OUTPUT,          /* inserted: output of a listed op */
    QP_WHY_GRAPH_OUTPUT,       /* inserted: a graph output (Tengine) */
    QP_WHY_PLACEHOLDER,        /* inserted: a graph input (OPENVINO) */
    QP_WHY_FEEDS_QUANTIZABLE,  /* inserted: feeds a quantizable op (OPENVINO) */
    QP_WHY_SKIP_IMPLICIT_MERGE, /* skipped: (consumer, producer) merge, e.g. mul -> add */
    QP_WHY_SKIP_EXCLUDED,      /* skipped: excluded by the configuration */
    QP_WHY_SKIP_PASSED,        /* skipped: a pass-through op (getitem, cat on OPENVINO) */
    QP_WHY_SKIP_LAST_LAYER,    /* skipped: feeds the graph output (OPENVINO) */
    QP_WHY_SKIP_PROPAGATED,    /* skipped: pool/flatten feeding a conv (OPENVINO) */
    QP_WHY_SKIP_NON_TENSOR,    /* skipped: consumer with a non-tensor argument */
    QP_WHY_SKIP_EMBEDDING_ADD, /* skipped: sum of embeddings (Tensorrt_NLP) */
    QP_WHY_SKIP_FLOAT,         /* skipped: consumer left float by an override */
    QP_WHY_DUPLICATE,          /* already quantized for an earlier reason */
    QP_REASON_COUNT
} qp_reason;

/* Static text of a reason ("input of a listed consumer"). */
QP_API const char *qp_reason_str(qp_reason r);

/* One explanation: `node` is the producer (to be) quantized, `fq` its inserted
 * fake-quantizer node (null when skipped), `cause` the consumer or op that
 * caused it (may be null). Names are copied, so they outlive later edits. */
typedef struct qp_explain_item {
    qp_reason reason;
    qp_node node, fq, cause;
    const char *node_name, *cause_name;
} qp_explain_item;

/* The explanations recorded by the last qp_prepare_qat on g, in decision order. */
QP_API uint32_t qp_graph_num_explain(const qp_graph *g);
QP_API qp_status qp_graph_explain_at(const qp_graph *g, uint32_t i, qp_explain_item *out);

/* ==== Prepare ==== */

/*
 * Prepares g for QAT on a backend, exactly as MQBench's prepare_by_platform
 * (reused modules duplicated, Conv/Linear/BN/ReLU fused, float modules
 * swapped for QAT modules with weight fake-quantizers, activation
 * fake-quantizer nodes inserted). cfg NULL means the backend's defaults; the
 * Academic backends require a cfg with both qschemes and all four kinds.
 * Works on g in place and, on failure, puts it back as it was (its text, names,
 * report and explanations; memory the passes took is given back where the
 * allocator can shrink) and qp_graph_errmsg(g) names the node, module or key at
 * fault. Either way, strings got from g before the call stay valid (strings
 * never move). Fails with
 * QP_ERR_ALREADY_PREPARED on a graph that already holds fake-quantizers.
 * The report (qp_graph_report) and explanations are kept on g.
 */
QP_API qp_status qp_prepare_qat(qp_graph *g, qp_backend be, const qp_config *cfg);

/*
 * qp_prepare_qat for a caller that has no use for g when prepare fails (a
 * command-line tool, a build step): the same result on success, but without the
 * undo log qp_prepare_qat keeps to put g back, which holds about 100 bytes per
 * node of a graph read from text while the passes run (a million-node graph:
 * about 100 MB of peak memory, and the time to fill it).
 * On failure g is cleared instead: it is as qp_graph_create made it (no nodes,
 * modules, parameters, comments, report or explanations; same allocator and log
 * hook), qp_graph_errmsg(g) names the node, module or key at fault and
 * qp_graph_errline(g) the text line of that node (qp_graph_errnode is null: the
 * node is gone). Strings got from g before the call are then invalid. The one
 * exception: QP_ERR_NOMEM before anything ran (not even the empty graph to clear
 * into could be made) leaves g unchanged. QP_ERR_NULL_ARG if g is NULL. Destroy g
 * with qp_graph_destroy either way.
 */
QP_API qp_status qp_prepare_qat_or_clear(qp_graph *g, qp_backend be, const qp_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* QPREP_PREPARE_H */
