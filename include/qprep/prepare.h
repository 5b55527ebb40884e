/*
 * prepare.h - preparing a graph for quantization-aware training, as MQBench's
 * prepare_by_platform does: backends, configuration, the report, and
 * qp_prepare_qat().
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

/* ==== Report ==== */

/* What one pass did. */
typedef struct qp_pass_stats {
    const char *pass; /* static name: "dup", "fuse", "qconfig", "swap", "fakequant" */
    uint32_t matched;         /* patterns or candidates examined and taken */
    uint32_t nodes_added, nodes_erased, uses_rewired;
    uint32_t modules_added, modules_swapped, modules_removed;
    uint32_t fq_inserted;
} qp_pass_stats;

/* What the last successful qp_prepare_qat on a graph did, pass by pass. */
typedef struct qp_report {
    uint32_t npass;
    qp_pass_stats pass[8];
    uint32_t nodes_before, nodes_after;
} qp_report;

/* The graph's report (zeroed before any prepare); borrowed. */
QP_API const qp_report *qp_graph_report(const qp_graph *g);

#ifdef __cplusplus
}
#endif

#endif /* QPREP_PREPARE_H */
