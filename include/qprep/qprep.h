/*
 * qprep.h - core API of qprep: version, status, hooks, the graph IR
 * (nodes, values, modules, parameters), mutation, verification, the tracer
 * and qgraph text I/O.
 *
 * Ownership: a qp_graph owns everything reachable from it. Functions named
 * *_create / *_clone / *_read* hand the caller an object to destroy; every
 * other function borrows. Strings returned by the library stay valid until
 * the graph is destroyed. Handles (qp_node, qp_module, qp_val) are indices
 * that stay valid while the graph lives, whatever is inserted; an erased
 * node keeps its handle (a tombstone) and is refused by mutators.
 *
 * Errors: functions that can fail return a qp_status (QP_OK is 0); on
 * failure the graph is unchanged and qp_graph_errmsg() names the node, line
 * or parameter at fault. Out-parameters are set to a null handle or NULL on
 * failure. Nothing here prints, aborts or keeps global state.
 *
 * Threads: two threads may use two graphs at once; one graph is one thread's at
 * a time, reads included (qp_module_path of an observer prepare made writes its
 * path's bytes on first use).
 */
#ifndef QPREP_QPREP_H
#define QPREP_QPREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(QP_SHARED)
#ifdef QP_BUILDING
#define QP_API __declspec(dllexport)
#else
#define QP_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && defined(QP_BUILDING)
#define QP_API __attribute__((visibility("default")))
#else
#define QP_API
#endif

/* ==== Version ==== */

#define QP_VERSION_MAJOR 0
#define QP_VERSION_MINOR 1
#define QP_VERSION_PATCH 0
#define QP_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define QP_VERSION_NUMBER (QP_VERSION_MAJOR * 10000 + QP_VERSION_MINOR * 100 + QP_VERSION_PATCH)

/* The library's version as "MAJOR.MINOR.PATCH" (static storage). */
QP_API const char *qp_version(void);
/* The library's QP_VERSION_NUMBER, to compare with the header's at run time. */
QP_API unsigned qp_version_number(void);

/* ==== Status ==== */

/* X(NAME, message): one list generates the enum and qp_status_str(). */
#define QP_STATUS_MAP(X)                                                                   \
    X(OK, "ok")                                                                            \
    X(ERR_NOMEM, "out of memory")                                                          \
    X(ERR_NULL_ARG, "a required argument is NULL")                                         \
    X(ERR_INVALID_ARG, "invalid argument")                                                 \
    X(ERR_PARSE, "malformed text")                                                         \
    X(ERR_INVALID_GRAPH, "invalid graph")                                                  \
    X(ERR_CYCLE, "graph has a cycle")                                                      \
    X(ERR_DANGLING_EDGE, "reference to a missing or erased node")                          \
    X(ERR_NOT_TOPO_SORTED, "node used before it is defined")                               \
    X(ERR_DUP_NAME, "duplicate name")                                                      \
    X(ERR_INVALID_NAME, "invalid name")                                                    \
    X(ERR_NOT_FOUND, "not found")                                                          \
    X(ERR_INVALID_CONFIG, "invalid configuration")                                         \
    X(ERR_INVALID_QCONFIG, "invalid quantization scheme")                                  \
    X(ERR_UNSUPPORTED_BACKEND, "unsupported backend")                                      \
    X(ERR_ALREADY_PREPARED, "graph already holds fake-quantizers")                         \
    X(ERR_LIMIT, "size limit exceeded")                                                    \
    X(ERR_IO, "input/output error")                                                        \
    X(ERR_INTERNAL, "internal inconsistency")

typedef enum qp_status {
#define QP__STATUS_ENUM(name, msg) QP_##name,
    QP_STATUS_MAP(QP__STATUS_ENUM)
#undef QP__STATUS_ENUM
        QP_STATUS_COUNT
} qp_status;

/* A static, never-NULL description of a status ("unknown status" if out of range). */
QP_API const char *qp_status_str(qp_status st);

/* ==== Hooks ==== */

/*
 * Allocator (Lua's lua_Alloc): fn(ud, NULL, 0, n) allocates, fn(ud, p, o, n)
 * resizes a block of o bytes to n, fn(ud, p, o, 0) frees and returns NULL.
 * Returning NULL for n > 0 means out of memory; the library then fails with
 * QP_ERR_NOMEM and leaves the graph unchanged. o is always the block's size
 * as last allocated. A NULL qp_allocator* means the C library's
 * malloc/realloc/free, except that on Linux blocks of 2 MiB or more are mapped
 * on their own, 2 MiB aligned, and advised for transparent huge pages
 * (MADV_HUGEPAGE; the kernel may decline), so that a big graph's arrays are
 * not faulted in 4 KiB at a time (a build with -DQP_NO_HUGE_PAGES keeps to
 * malloc alone).
 */
typedef void *(*qp_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);
typedef struct qp_allocator {
    qp_alloc_fn fn;
    void *ud;
} qp_allocator;

/* The allocator a NULL qp_allocator* stands for (described above), for a caller
 * that wraps it (to count, say) and still wants its huge pages. */
QP_API qp_allocator qp_allocator_default(void);

typedef enum qp_log_level { QP_LOG_DEBUG, QP_LOG_INFO, QP_LOG_WARN } qp_log_level;
/* Log callback: `where` is the pass or component ("fuse", "reader"), `msg` one line. */
typedef void (*qp_log_fn)(void *ud, qp_log_level level, const char *where, const char *msg);

/* Text sink: write len bytes; return 0 on success, non-zero to stop with QP_ERR_IO. */
typedef int (*qp_write_fn)(void *ud, const char *data, size_t len);
/* Text source: fill up to cap bytes; return the count, 0 at end of input, or (size_t)-1 on
 * error. */
typedef size_t (*qp_read_fn)(void *ud, char *buf, size_t cap);

/* ==== Handles and enums ==== */

typedef struct qp_graph qp_graph;
typedef struct qp_tracer qp_tracer;

/* Handles are one-field structs so a module cannot be passed as a node. Id 0 is null. */
typedef struct qp_node {
    uint32_t id;
} qp_node;
typedef struct qp_module {
    uint32_t id;
} qp_module;
typedef struct qp_val {
    uint32_t id;
} qp_val;

#ifdef __cplusplus
#define QP_NULL_NODE (qp_node{0})
#define QP_NULL_MODULE (qp_module{0})
#define QP_NULL_VAL (qp_val{0})
#else
#define QP_NULL_NODE ((qp_node){0})
#define QP_NULL_MODULE ((qp_module){0})
#define QP_NULL_VAL ((qp_val){0})
#endif

#define QP_OP_MAP(X)                                                                       \
    X(PLACEHOLDER, "placeholder")                                                          \
    X(GET_ATTR, "get_attr")                                                                \
    X(CALL_MODULE, "call_module")                                                          \
    X(CALL_FUNCTION, "call_function")                                                      \
    X(CALL_METHOD, "call_method")                                                          \
    X(OUTPUT, "output")

/* A node's operation, as torch.fx's Node.op. */
typedef enum qp_op {
#define QP__OP_ENUM(name, text) QP_OP_##name,
    QP_OP_MAP(QP__OP_ENUM)
#undef QP__OP_ENUM
        QP_OP_COUNT
} qp_op;

#define QP_VAL_KIND_MAP(X)                                                                 \
    X(NONE, "none")                                                                        \
    X(BOOL, "bool")                                                                        \
    X(INT, "int")                                                                          \
    X(FLOAT, "float")                                                                      \
    X(STR, "str")                                                                          \
    X(NODE, "node")                                                                        \
    X(TUPLE, "tuple")                                                                      \
    X(LIST, "list")                                                                        \
    X(DICT, "dict")                                                                        \
    X(IDENT, "ident")                                                                      \
    X(CALL, "call")

/* The kind of an argument value (FORMAT.md "Values"). */
typedef enum qp_val_kind {
#define QP__KIND_ENUM(name, text) QP_VAL_##name,
    QP_VAL_KIND_MAP(QP__KIND_ENUM)
#undef QP__KIND_ENUM
        QP_VAL_KIND_COUNT
} qp_val_kind;

/* Static name of an op ("call_module"), or NULL if out of range. */
QP_API const char *qp_op_name(qp_op op);
/* Looks an op up by its text name; QP_ERR_NOT_FOUND if there is none. */
QP_API qp_status qp_op_from_name(const char *name, qp_op *out);
/* Static name of a value kind ("tuple"), or NULL if out of range. */
QP_API const char *qp_val_kind_name(qp_val_kind kind);

static inline bool
qp_node_is_null(qp_node n)
{
    return n.id == 0;
}
static inline bool
qp_module_is_null(qp_module m)
{
    return m.id == 0;
}
static inline bool
qp_val_is_null(qp_val v)
{
    return v.id == 0;
}

/* ==== Graph lifecycle ==== */

/* Creates an empty graph using `alloc` (NULL: malloc). Destroy with qp_graph_destroy. */
QP_API qp_status qp_graph_create(const qp_allocator *alloc, qp_graph **out);
/* Frees the graph and everything it owns. NULL is a no-op. */
QP_API void qp_graph_destroy(qp_graph *g);
/* Deep copy, same allocator, same handles. Destroy the copy with qp_graph_destroy. */
QP_API qp_status qp_graph_clone(const qp_graph *g, qp_graph **out);
/* Sets the graph's log callback (NULL: silent). */
QP_API void qp_graph_set_log(qp_graph *g, qp_log_fn fn, void *ud);
/* The detail message of the last failed call on g ("" if none); valid until the next call. */
QP_API const char *qp_graph_errmsg(const qp_graph *g);
/* The node the last failure was about, or a null handle. */
QP_API qp_node qp_graph_errnode(const qp_graph *g);
/* The text line (1-based) the node the last failure was about was read from: 0 if
 * the failure named no node or that node was not read from text. Still given after
 * qp_prepare_qat_or_clear cleared the graph and the node with it. */
QP_API uint32_t qp_graph_errline(const qp_graph *g);
/* Bytes currently allocated by the graph, and the most ever allocated at once. */
QP_API size_t qp_graph_mem_used(const qp_graph *g);
QP_API size_t qp_graph_mem_peak(const qp_graph *g);

/* ==== Reading the graph ==== */

/* Live (not erased) node count. */
QP_API uint32_t qp_graph_num_nodes(const qp_graph *g);
/* First / last live node in execution order, or null. */
QP_API qp_node qp_graph_first(const qp_graph *g);
QP_API qp_node qp_graph_last(const qp_graph *g);
/* Next / previous live node, or null at the end. Valid on a node erased while iterating. */
QP_API qp_node qp_node_next(const qp_graph *g, qp_node n);
QP_API qp_node qp_node_prev(const qp_graph *g, qp_node n);
/* The live node with this name, or null. */
QP_API qp_node qp_graph_find_node(const qp_graph *g, const char *name);
/* True if n is a handle of g that has not been erased. */
QP_API bool qp_node_is_live(const qp_graph *g, qp_node n);
/* Node fields; for an invalid handle: QP_OP_COUNT, "" and null values. */
QP_API qp_op qp_node_op(const qp_graph *g, qp_node n);
QP_API const char *qp_node_name(const qp_graph *g, qp_node n);
QP_API const char *qp_node_target(const qp_graph *g, qp_node n);
/* The node's args (a tuple) and kwargs (a dict). */
QP_API qp_val qp_node_args(const qp_graph *g, qp_node n);
QP_API qp_val qp_node_kwargs(const qp_graph *g, qp_node n);
/* Number of distinct nodes using n (torch.fx len(node.users)). */
QP_API uint32_t qp_node_num_users(const qp_graph *g, qp_node n);
/* Fills up to cap distinct users of n in use order; returns how many there are in all. */
QP_API uint32_t qp_node_users(const qp_graph *g, qp_node n, qp_node *buf, uint32_t cap);
/* For a fake-quantizer node inserted by prepare: the producer it follows; else null. */
QP_API qp_node qp_node_fq_producer(const qp_graph *g, qp_node n);
/* The 1-based text line a node was read from, 0 if it was not read from text. */
QP_API uint32_t qp_node_line(const qp_graph *g, qp_node n);
/* The caller's opaque pointer attached to a node (NULL if none). */
QP_API void *qp_node_user_data(const qp_graph *g, qp_node n);
QP_API qp_status qp_node_set_user_data(qp_graph *g, qp_node n, void *user);

/* ==== Values ==== */

/*
 * Values are immutable trees owned by the graph: args, kwargs, module and
 * parameter attributes. Constructors append to the graph's value pool and
 * fail only with QP_ERR_NOMEM, QP_ERR_NULL_ARG, QP_ERR_INVALID_ARG (an item
 * handle that is not a value of g, a node that is not live),
 * QP_ERR_INVALID_NAME (a bad identifier, call name or dict key),
 * QP_ERR_DUP_NAME (a dict key given twice) or QP_ERR_LIMIT (nested deeper
 * than FORMAT.md allows: an item of args, kwargs or attributes at most 64
 * deep). *out is written last, so it may be one of the items. Accessors on the
 * wrong kind return 0 / false / NULL / a null handle.
 */
QP_API qp_val_kind qp_val_kind_of(const qp_graph *g, qp_val v);
QP_API bool qp_val_as_bool(const qp_graph *g, qp_val v);
QP_API int64_t qp_val_as_int(const qp_graph *g, qp_val v);
/* FLOAT as is, INT converted; else 0. */
QP_API double qp_val_as_float(const qp_graph *g, qp_val v);
/* Text of a STR or IDENT, or a CALL's function name; *len (if non-NULL) gets its byte length. */
QP_API const char *qp_val_as_str(const qp_graph *g, qp_val v, size_t *len);
QP_API qp_node qp_val_as_node(const qp_graph *g, qp_val v);
/* Items of a TUPLE, LIST, DICT (values) or CALL (arguments). */
QP_API uint32_t qp_val_num_items(const qp_graph *g, qp_val v);
QP_API qp_val qp_val_item_at(const qp_graph *g, qp_val v, uint32_t i);
/* Key of the i-th DICT item, or NULL. */
QP_API const char *qp_val_key_at(const qp_graph *g, qp_val v, uint32_t i);
/* The DICT item with this key, or a null handle. */
QP_API qp_val qp_val_dict_get(const qp_graph *g, qp_val v, const char *key);
/* True if a and b are equal values, as qgraph.py compares them: kinds must match (1 is not
 * 1.0), floats by value (NaN equal to NaN), dicts by keys in any order. */
QP_API bool qp_val_equal(const qp_graph *g, qp_val a, qp_val b);

QP_API qp_status qp_val_new_none(qp_graph *g, qp_val *out);
QP_API qp_status qp_val_new_bool(qp_graph *g, bool b, qp_val *out);
QP_API qp_status qp_val_new_int(qp_graph *g, int64_t i, qp_val *out);
QP_API qp_status qp_val_new_float(qp_graph *g, double f, qp_val *out);
/* A string of len bytes (any bytes; escaped when written). */
QP_API qp_status qp_val_new_str(qp_graph *g, const char *s, size_t len, qp_val *out);
/* An identifier such as torch.float32: [A-Za-z_][A-Za-z0-9_.]* other than True, False,
 * None, inf and nan (which read back as literals), else QP_ERR_INVALID_NAME. */
QP_API qp_status qp_val_new_ident(qp_graph *g, const char *name, qp_val *out);
/* A reference to a live node of g. */
QP_API qp_status qp_val_new_node(qp_graph *g, qp_node n, qp_val *out);
QP_API qp_status qp_val_new_tuple(qp_graph *g, uint32_t n, const qp_val *items, qp_val *out);
QP_API qp_status qp_val_new_list(qp_graph *g, uint32_t n, const qp_val *items, qp_val *out);
/* A dict; keys must be distinct non-empty strings without white space. */
QP_API qp_status qp_val_new_dict(qp_graph *g, uint32_t n, const char *const *keys,
                                 const qp_val *items, qp_val *out);
/* A call such as slice(None, 16, None); `name` follows the identifier rule. */
QP_API qp_status qp_val_new_call(qp_graph *g, const char *name, uint32_t n, const qp_val *items,
                                 qp_val *out);

/* ==== Modules and parameters ==== */

/*
 * The module table holds leaf modules by dotted path ("layer1.0.conv1") with
 * a type name ("nn.Conv2d") and an attribute dict; submodules are their own
 * entries ("conv1.bn"). Parameters are what get_attr nodes read.
 */
QP_API uint32_t qp_graph_num_modules(const qp_graph *g);
/* First module in table order / the next one, or null. */
QP_API qp_module qp_graph_first_module(const qp_graph *g);
QP_API qp_module qp_module_next(const qp_graph *g, qp_module m);
QP_API qp_module qp_graph_find_module(const qp_graph *g, const char *path);
/* The module's dotted path ("" for a handle that is no live module of g), valid
 * until g is destroyed. Never fails: the observers prepare makes
 * ("X.activation_post_process") keep their path as X's plus the suffix, in room
 * prepare reserved, and the first call writes it there (a million-node prepare
 * makes 843k such paths; the writer and lookups never need their bytes). */
QP_API const char *qp_module_path(const qp_graph *g, qp_module m);
QP_API const char *qp_module_type(const qp_graph *g, qp_module m);
/* The module's attributes (a DICT), and one of them by key (null if absent). */
QP_API qp_val qp_module_attrs(const qp_graph *g, qp_module m);
QP_API qp_val qp_module_attr(const qp_graph *g, qp_module m, const char *key);
/* The caller's pointer attached to a module; after fusion a module also keeps
 * the pointers of the modules it absorbed ("origins"), in pattern order. */
QP_API void *qp_module_user_data(const qp_graph *g, qp_module m);
QP_API qp_status qp_module_set_user_data(qp_graph *g, qp_module m, void *user);
QP_API uint32_t qp_module_num_origins(const qp_graph *g, qp_module m);
QP_API void *qp_module_origin_at(const qp_graph *g, qp_module m, uint32_t i);

/* Adds a module (attrs: a DICT of g, or null for {}); QP_ERR_DUP_NAME if the path exists. */
QP_API qp_status qp_graph_add_module(qp_graph *g, const char *path, const char *type, qp_val attrs,
                                     qp_module *out);
/* Gives a module a new type and attributes (null attrs: keep them). */
QP_API qp_status qp_module_replace(qp_graph *g, qp_module m, const char *type, qp_val attrs);
/* Sets one attribute (added at the end if new). */
QP_API qp_status qp_module_set_attr(qp_graph *g, qp_module m, const char *key, qp_val value);
/* Removes a module no live call_module node targets (else QP_ERR_INVALID_ARG). */
QP_API qp_status qp_graph_remove_module(qp_graph *g, qp_module m);

/* Parameters read by get_attr nodes ("attr NAME {shape: ...}" lines), in table order. */
QP_API uint32_t qp_graph_num_params(const qp_graph *g);
QP_API const char *qp_graph_param_name(const qp_graph *g, uint32_t i);
QP_API qp_val qp_graph_param_attrs(const qp_graph *g, uint32_t i);
/* Adds a parameter; QP_ERR_DUP_NAME if it exists. */
QP_API qp_status qp_graph_add_param(qp_graph *g, const char *name, qp_val attrs);

/* Description comment lines (each starting "#"), kept and written after the header. */
QP_API uint32_t qp_graph_num_comments(const qp_graph *g);
QP_API const char *qp_graph_comment_at(const qp_graph *g, uint32_t i);
/* Adds one comment line; "# " is prepended unless it starts with '#'. It must read back as
 * a line: valid UTF-8 without control characters but tab (else QP_ERR_INVALID_ARG). */
QP_API qp_status qp_graph_add_comment(qp_graph *g, const char *text);

/* ==== Mutation ==== */

/* What to create: name NULL generates one the way torch.fx does ("add", "add_1", ...;
 * target "layer1.0.conv1" gives "layer1_0_conv1"); a name given goes through the same
 * namespace ("x" taken gives "x_1"). target: one word of valid UTF-8 without white space
 * or control characters, at most QP_MAX_NAME bytes (module paths, module types and
 * parameter names follow the same rule). args: a TUPLE or null for (); kwargs: a DICT or
 * null for {}. */
typedef struct qp_node_spec {
    qp_op op;
    const char *target;
    const char *name;
    qp_val args;
    qp_val kwargs;
} qp_node_spec;

/* Inserts a node after `anchor` (null anchor: at the start). */
QP_API qp_status qp_graph_insert_after(qp_graph *g, qp_node anchor, const qp_node_spec *spec,
                                       qp_node *out);
/* Inserts a node before `anchor` (null anchor: at the end). */
QP_API qp_status qp_graph_insert_before(qp_graph *g, qp_node anchor, const qp_node_spec *spec,
                                        qp_node *out);
/* Makes every user of `from` use `to` instead, touching only from's users;
 * *count (if non-NULL) gets the number of references rewritten. */
QP_API qp_status qp_node_replace_uses(qp_graph *g, qp_node from, qp_node to, uint32_t *count);
/* Erases a node that has no users (else QP_ERR_INVALID_ARG); its handle becomes a tombstone. */
QP_API qp_status qp_graph_erase_node(qp_graph *g, qp_node n);
/* Replaces a node's args (a TUPLE) / kwargs (a DICT) / target. */
QP_API qp_status qp_node_set_args(qp_graph *g, qp_node n, qp_val args);
QP_API qp_status qp_node_set_kwargs(qp_graph *g, qp_node n, qp_val kwargs);
QP_API qp_status qp_node_set_target(qp_graph *g, qp_node n, const char *target);

/* ==== Verification ==== */

/* One problem found by the verifier or a reader. */
typedef struct qp_diag {
    qp_status status;
    uint32_t line; /* 1-based text line, 0 if unknown */
    uint32_t col;  /* 1-based byte column, 0 if unknown */
    qp_node node;  /* the node at fault, or null */
    const char *msg;
} qp_diag;
typedef void (*qp_diag_fn)(void *ud, const qp_diag *d);

/*
 * Checks every torch.fx Graph.lint() invariant and more: names valid and
 * unique, args a tuple and kwargs a dict, every reference to a live node
 * defined earlier (no cycle), exactly one output node and it is last,
 * call_module targets in the module table, get_attr targets in the parameter
 * table, use lists consistent with args. Calls fn (may be NULL) once per
 * problem and returns the status of the first (QP_OK if none); the graph's
 * errmsg holds the first message and the number of problems.
 */
QP_API qp_status qp_graph_verify(qp_graph *g, qp_diag_fn fn, void *ud);

/* ==== Tracer ==== */

/*
 * A framework runs its model once and reports each step; the tracer records
 * the graph torch.fx's symbolic trace records, with torch.fx's node names.
 * Calls are sticky: after the first failure every call returns that status
 * and does nothing, so a caller may check only qp_tracer_finish(). Running out
 * of memory anywhere on the tracer's graph counts, qp_val_new_* included.
 * Values for args/kwargs are built on qp_tracer_graph(t) with qp_val_new_*.
 */
QP_API qp_status qp_tracer_create(const qp_allocator *alloc, qp_tracer **out);
/* Frees the tracer and its unfinished graph. NULL is a no-op. */
QP_API void qp_tracer_destroy(qp_tracer *t);
/* The graph being recorded (borrowed; owned by the tracer until finish). */
QP_API qp_graph *qp_tracer_graph(qp_tracer *t);
/* The first failure so far, or QP_OK; its message is in qp_graph_errmsg(qp_tracer_graph(t)). */
QP_API qp_status qp_tracer_status(const qp_tracer *t);
/* Declares a leaf module before it is called; `user` is the caller's pointer for it. */
QP_API qp_status qp_tracer_module(qp_tracer *t, const char *path, const char *type, qp_val attrs,
                                  void *user);
/* Declares a parameter or buffer that get_attr reads. */
QP_API qp_status qp_tracer_param(qp_tracer *t, const char *name, qp_val attrs);
/* Records a graph input named `name` (default args: null, or a TUPLE). */
QP_API qp_status qp_tracer_placeholder(qp_tracer *t, const char *name, qp_val args, qp_node *out);
QP_API qp_status qp_tracer_get_attr(qp_tracer *t, const char *target, qp_node *out);
/* Records a call of a declared module. args: a TUPLE (null: ()), kwargs: a DICT (null: {}). */
QP_API qp_status qp_tracer_call_module(qp_tracer *t, const char *path, qp_val args, qp_val kwargs,
                                       qp_node *out);
/* Records a call of a function by qualified name ("operator.add", "torch.cat"). */
QP_API qp_status qp_tracer_call_function(qp_tracer *t, const char *qualname, qp_val args,
                                         qp_val kwargs, qp_node *out);
/* Records a method call ("size", "view"); the receiver is args[0]. */
QP_API qp_status qp_tracer_call_method(qp_tracer *t, const char *method, qp_val args,
                                       qp_val kwargs, qp_node *out);
/* Records the output node (value: what the model returns). Once only. */
QP_API qp_status qp_tracer_output(qp_tracer *t, qp_val value);
/* Verifies the recording and hands the graph over in *out, with the allocator given to
 * qp_tracer_create (tracer freed either way, so finish is called once; on failure *out
 * is NULL and the message is gone with the tracer: read qp_tracer_status and
 * qp_graph_errmsg(qp_tracer_graph(t)) first if it matters). */
QP_API qp_status qp_tracer_finish(qp_tracer *t, qp_graph **out);

/* ==== Text I/O (qgraph format, FORMAT.md) ==== */

/* A reader's first error: status, position and message (without the position). */
typedef struct qp_error {
    qp_status status;
    uint32_t line, col;
    char msg[512];
} qp_error;

/* Reader options; a NULL pointer means all defaults. */
typedef struct qp_read_opts {
    const qp_allocator *alloc; /* NULL: malloc */
    unsigned flags;            /* QP_READ_* */
    qp_diag_fn diag;           /* called for every structural problem (see verify) */
    void *diag_ud;
} qp_read_opts;
/* Keep a graph with structural problems (forward references, duplicate names, no output
 * or more than one, output not last, ...) instead of failing, so qp_graph_verify can list
 * them all. Syntax errors and undefined references still fail. */
#define QP_READ_NO_VERIFY 1u

/* Longest accepted line and name, in bytes (longer: QP_ERR_LIMIT with the line). */
#define QP_MAX_LINE (4u << 20)
#define QP_MAX_NAME 4096u

/*
 * Reads a qgraph text and verifies it. On success *out is a new graph; on
 * failure *out is NULL and *err (if non-NULL) has the status, the 1-based
 * line and column and a message. Never reads past len; any bytes are safe.
 */
QP_API qp_status qp_graph_read_text(const char *text, size_t len, const qp_read_opts *opts,
                                    qp_graph **out, qp_error *err);
/* The same, pulling text from a callback (streaming; memory does not grow with line count
 * beyond the graph itself). */
QP_API qp_status qp_graph_read(qp_read_fn fn, void *ud, const qp_read_opts *opts, qp_graph **out,
                               qp_error *err);
/* The same from a FILE* the caller opened (read to its end, not closed). */
QP_API qp_status qp_graph_read_file(FILE *f, const qp_read_opts *opts, qp_graph **out,
                                    qp_error *err);

/* Writes the canonical text: header, description comments, modules, parameters,
 * nodes. Fails with QP_ERR_IO when fn does; never allocates (it works in about
 * 22 KB of stack: its output buffer and the text of recent attribute dicts). */
QP_API qp_status qp_graph_write_text(const qp_graph *g, qp_write_fn fn, void *ud);
/* The same to a FILE* (QP_ERR_IO on a short write). */
QP_API qp_status qp_graph_write_file(const qp_graph *g, FILE *f);
/* Writes Graphviz DOT: one box per node, edges for references, fake-quantizers filled. */
QP_API qp_status qp_graph_write_dot(const qp_graph *g, qp_write_fn fn, void *ud);

/* Room qp_format_double needs, its NUL included. */
#define QP_FORMAT_DOUBLE_MAX 32
/* Writes v as the text writer does: the shortest decimal that reads back as the
 * same double, nearest v among those (Python's repr: "0.1", "1e-05", "-0.0",
 * "inf", "nan"), whatever the locale, NUL-terminated, into buf (at least
 * QP_FORMAT_DOUBLE_MAX bytes). Returns its length; 0 only for a NULL buf. */
QP_API size_t qp_format_double(double v, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* QPREP_QPREP_H */
