/*
 * prep.h - private machinery of qp_prepare_qat: the type vocabulary, the
 * backend table, the resolved configuration, quantization specs, and the
 * context every pass receives. Grouped by the file that defines it.
 */
#ifndef QPREP_PREP_H
#define QPREP_PREP_H

#include "internal.h"

/* ==== vocab.c: torch / MQBench facts ==== */

/* An op-list entry: a module type (isinstance), a function (canonical qualified
 * name, call_function only) or a method name (call_method only). */
enum { QP__E_END, QP__E_MOD, QP__E_FUNC, QP__E_METH };
struct qp__entry {
    uint8_t kind;
    const char *name;
};

/* True if module type t is w or derives from it (torch/MQBench class bases). */
bool qp__type_isa(const char *t, const char *w);
/* Every w for which qp__type_isa(t, w) holds (t first), at most cap of them: the
 * walk done once, to test many w. Returns the count. */
uint32_t qp__type_ancestors(const char *t, const char **out, uint32_t cap);
/* The canonical spelling of a function's qualified name (operator.add for
 * _operator.add, torch.conv2d for torch.nn.functional.conv2d, ...); static or s. */
const char *qp__canon_fn(const char *s);

/* Fake-quantizer kinds (fake_quantize/) and observer kinds (observer.py). */
struct qp__fqkind {
    const char *name;
    const char *const *consumes; /* kwargs the fake-quantizer takes for itself */
    bool eps, grad_scaling, quant_type; /* printed extras */
};
struct qp__obskind {
    const char *name;
    bool p, ema_ratio, quant_type; /* printed extras (defaults 2.0, 0.9, None) */
    const char *const *accepted;   /* other accepted kwargs (not printed) */
    bool per_tensor_only;
};
/* Index of a kind by MQBench's name, or -1. */
int qp__fq_find(const char *name);
int qp__obs_find(const char *name);
const struct qp__fqkind *qp__fq_kind(int i);
const struct qp__obskind *qp__obs_kind(int i);
/* Names for messages: "MinMaxObserver, EMAMinMaxObserver, ..." */
const char *qp__obs_names(void);
const char *qp__fq_names(void);

/* ==== backend.c: one row per backend ==== */

/* A fusion pattern, last op first: {relu, bn, conv} matches conv -> bn -> relu. */
struct qp__pattern {
    uint8_t n;
    struct qp__entry e[3];
    const char *fused; /* fused container type */
    const char *error; /* fusing it is an error in MQBench (message) */
};

struct qp__map {
    const char *from, *to;
    const char *error; /* swapping it fails in torch (message); to is then what it tries */
};

/* An implicit-merge pattern (consumer, producer): no fake-quantizer between them. */
struct qp__merge {
    struct qp__entry consumer, producer;
};

struct qp__scheme {
    int bit;
    bool sym, per_channel, pot, symrange;
};

enum { QP__PLACE_INPUT, QP__PLACE_OPENVINO, QP__PLACE_OUTPUT };
enum { QP__WRANGE_NONE, QP__WRANGE_OPENVINO };

struct qp__backend {
    const char *name, *summary;
    bool requires_config;  /* Academic: schemes and kinds must come from the config */
    bool fixed_fakequant;  /* NNIE: schemes and fake-quantizers fixed, observers free */
    struct qp__scheme w, a;
    const char *w_fq, *a_fq, *w_obs, *a_obs;
    bool fuse;
    const struct qp__map *qat_map;
    uint8_t weight_range; /* QP__WRANGE_* */
    uint8_t strategy;     /* QP__PLACE_* */
    /* consumer-input placement (ModelQuantizer._find_act_quants and variants) */
    const struct qp__entry *consumers;
    bool use_additional_types;
    const struct qp__merge *merges;
    bool map_getitem, skip_nontensor, skip_embedding_add, exclude_methods, eightbit_io;
    bool check_getitem; /* runs getitem2node for its errors only (Vitis) */
    /* the second loop of TotalINT / Tengine / ONNX_QNN */
    bool post;
    const struct qp__entry *passthrough;
    bool check_merge, output_args, map_getitem_all;
    /* OPENVINO */
    bool reads_academic_mode;
    /* Vitis */
    const struct qp__entry *outputs;
    bool quant_type_marking;
};

const struct qp__backend *qp__backend_get(qp_backend be);
/* Fusion patterns (NULL-name-terminated by n == 0) and the OPENVINO lists. */
extern const struct qp__pattern qp__fusion_patterns[];
struct qp__ov_lists {
    const struct qp__entry *funcs, *modules, *academic_modules, *passed, *passed_nonacademic,
        *prop_prev, *prop_cur, *unsigned_ops, *academic_unsigned, *maybe_unsigned;
};
extern const struct qp__ov_lists qp__ov;
/* Consumer types fixed mode adds (inputs of LinearBn1d and frozen-BN convs quantized). */
extern const struct qp__entry qp__fix_consumers[];
/* Types whose QAT weight fake-quantizer works per channel on axis 1. */
bool qp__ch_axis1_type(const char *qat_type);
/* QAT types that carry freeze_bn (written just before `bias`) and a `bn` child. */
bool qp__freeze_bn_type(const char *qat_type);
/* QAT types that build their own BatchNorm of out_features (MQBench's LinearBn1d) and
 * copy the float BN's tensors into it. */
bool qp__bn_out_features_type(const char *qat_type);

/* ==== config.c: the resolved configuration ==== */

struct qp__fusion_rule {
    uint32_t n, types[3], fused; /* syms of the config store, forward order */
};
struct qp__override {
    uint8_t how; /* qp_match */
    uint32_t what;
    bool has_w, has_a;
    qp_qscheme w, a;
};
struct qp__preserve {
    uint32_t path, attr;
};

struct qp_config {
    qp_allocator alloc;
    qp_graph *store; /* owns the config's strings and values */
    char errmsg[512];
    uint32_t obs[2], fq[2];      /* syms; 0 unset (index qp_side) */
    uint32_t qscheme[2];         /* DICT values; 0 unset */
    uint32_t kwargs[4];          /* DICT values (qp_kwargs); 0 unset */
    uint32_t *names[QP_LIST_COUNT];
    uint32_t nnames[QP_LIST_COUNT], capnames[QP_LIST_COUNT];
    bool academic_mode, fix, verify_each;
    bool no_explain; /* qp_config_set_explain(c, false) */
    struct qp__fusion_rule *fusions;
    uint32_t nfusions, capfusions;
    struct qp__map_sym {
        uint32_t from, to;
    } *qatmaps;
    uint32_t nqatmaps, capqatmaps;
    struct qp__preserve *preserve;
    uint32_t npreserve, cappreserve;
    struct qp__override *overrides;
    uint32_t noverrides, capoverrides;
};

/* Checks a scheme dict of the config store (keys, types, bit range) and fills s
 * with it over QuantizeScheme's defaults. */
qp_status qp__config_scheme(qp_config *c, uint32_t dict, qp_qscheme *s, const char *what);

/* ==== qspec.c: quantization specs and fake-quantizer modules ==== */

/* A fake-quantizer spec: kinds plus the kwargs MQBench passes to
 * FQ.with_args(observer=OBS, **fakeq_params, **observer_params): a DICT of the
 * working graph. */
struct qp__qspec {
    int8_t fq, obs;
    uint32_t kwargs;
    /* the built attribute dicts, per ch_axis override (0: none, 1: axis 1) and
     * quant_type (0: None, 1 "tensor", 2 "param", 3 "input"): 0 until built */
    uint32_t fq_attrs[2][4], obs_attrs[2][4];
    uint32_t fq_type, obs_type; /* syms "fq.<kind>", "obs.<kind>": 0 until made */
};

/* ==== the context of a prepare run (context.c) ==== */

/* Op lists a pass asks about; each is built once per run (backend + config). */
enum {
    QP__L_CONSUMER,  /* consumer-input strategy: listed consumers */
    QP__L_BASE,      /* the backend's own consumer list (for explanations) */
    QP__L_PASS,      /* pass-through users (post loop) */
    QP__L_OUTPUT,    /* Vitis: ops whose output is quantized */
    QP__L_OV_QUAL,   /* OPENVINO: quantizable users */
    QP__L_OV_PASSED, /* OPENVINO: pass-through producers */
    QP__L_OV_PREV,   /* OPENVINO: propagated producer */
    QP__L_OV_CUR,    /* OPENVINO: propagated user */
    QP__L_OV_UNS,    /* OPENVINO: real unsigned */
    QP__L_OV_MAYBE,  /* OPENVINO: maybe unsigned */
    QP__L_EMBED,     /* nn.Embedding (Tensorrt_NLP) */
    QP__L_EXCL_FN,   /* config exclude_function_type */
    QP__L_FUSED,     /* fused containers (nni._FusedModule) */
    QP__L_GETITEM,   /* operator.getitem */
    QP__L_ADD,       /* operator.add */
    QP__L_COUNT
};

/* Per-sym facts, computed lazily: bit 3*L + k says the sym is in list L as a
 * module type (k = 0), function (1) or method (2). */
struct qp__symclass {
    uint64_t bits;
    uint32_t sym; /* the sym the entry is for (0: a free slot) */
    uint8_t done;
    uint8_t flags; /* QP__SF_* exact-name facts from the config */
};
enum {
    QP__SF_EXCL_MODULE = 1, /* exclude_module_name: full module path */
    QP__SF_EXCL_NODE = 2,   /* exclude_node_name */
    QP__SF_ADD_NODE = 4,    /* additional_node_name */
    QP__SF_EXCL_LOCAL = 8   /* exclude_module_name as a local name (swap) */
};

struct qp__oplist {
    struct qp__entry *e;
    uint32_t n, cap;
};

/* One decision, 16 bytes (a million-node prepare makes half a million): the
 * names qp_graph_explain_at gives are read from the nodes when asked (a node
 * keeps its name for the graph's life, erased or not). */
struct qp__why {
    uint32_t reason; /* qp_reason */
    uint32_t node, fq, cause;
};

struct qp__explain {
    struct qp__why *items;
    uint32_t n, cap;
};

/* A fused container whose children were not made (fusekids.c): what the swap reads
 * from them. attrs: the root module's attributes (its .0); bn: the matched BatchNorm
 * module (removed, its record intact), 0 if none; nkids: the children not made. */
struct qp__fkid {
    uint32_t m, attrs, bn, nkids;
};

struct qp__prep {
    qp_graph *g;  /* the graph being prepared (in place, undo.c logs it) */
    qp_graph *orig;
    const struct qp__backend *be;
    const qp_config *cfg; /* never NULL during a run (an empty one for defaults) */
    bool fix, academic_mode, fuse;
    struct qp__oplist lists[QP__L_COUNT];
    struct qp__merge *merges;
    uint32_t nmerges;
    /* facts per sym, kept only for the syms asked about (types, targets, config
     * names): open addressing by sym, capcls slots (a power of two), nclsent used */
    struct qp__symclass *cls, cls_spare;
    uint32_t ncls; /* syms that existed at the last refresh; later ones have no facts */
    uint32_t capcls, nclsent;
    bool cls_oom; /* an entry could not be made: the run fails with NOMEM */
    /* qconfig */
    struct qp__qspec *specs; /* spec 0 is "none": not quantized */
    uint32_t nspecs, capspecs;
    uint32_t wspec, aspec;      /* defaults */
    uint32_t *mod_w, *mod_a;    /* per module slot: weight spec / act spec of its inputs */
    uint32_t nmod_spec;
    /* fused containers made without children (fusekids.c), in the order made, and
     * their index by module after qp__fkids_seal: fkidx[m - fklo] is 1 + the record of
     * module m, for m in fklo .. fklo + capfkidx - 1 */
    struct qp__fkid *fk;
    uint32_t nfk, capfk, nfk_swapped;
    uint32_t *fkidx;
    uint32_t fklo, capfkidx;
    uint8_t *eight;             /* per node: its output FQ is 8-bit (Academic io inputs) */
    uint32_t neight;
    qp_pass_stats *st;
    struct qp__explain ex;
    uint32_t ncand_cap;
    struct {
        uint32_t from, qt, to;
    } qtc[8]; /* quant_type marking: attribute dicts already marked */
    uint32_t nqtc;
    /* names the passes ask for by static text (keys, types), pointer -> sym; an
     * entry counts only if the sym's text is still the pointer's (qp__prep_sym) */
    struct qp__name_cache {
        const char *s;
        uint32_t sym;
    } names[64];
};

/* Classification: the facts about a sym (computed on first use). */
const struct qp__symclass *qp__cls(struct qp__prep *P, uint32_t sym);
/* Makes room for every sym that exists now (call at the start of a pass). */
qp_status qp__cls_refresh(struct qp__prep *P);
/* The QP__SF_* flags of a sym (0 for syms made after the last refresh). */
uint8_t qp__cls_flags(struct qp__prep *P, uint32_t sym);
/* Is a module type a fused container (torch's, MQBench's or the configuration's)? */
bool qp__is_fused(struct qp__prep *P, uint32_t type);
/* Is node n in list L (module type isinstance / function / method)? */
bool qp__in_list(struct qp__prep *P, uint32_t n, int list);
/* Does node n match an entry exactly (module: exact type; function: canonical)? */
bool qp__node_is(struct qp__prep *P, uint32_t n, const struct qp__entry *e);
/* The sym of a static name in the working graph (interned; 0 on NOMEM). */
uint32_t qp__prep_sym(struct qp__prep *P, const char *s);
/* The sym of a name if the working graph has it, else 0 (not interned). */
uint32_t qp__prep_key(struct qp__prep *P, const char *s);
/* Module m's attribute `key`, or NULL (qp__mod_attr through the name cache). */
const struct qp__val *qp__prep_attr(struct qp__prep *P, uint32_t m, const char *key);
/* Records an explanation (copies the names). */
qp_status qp__explain_add(struct qp__prep *P, qp_reason why, uint32_t node, uint32_t fq,
                          uint32_t cause);
/* Frees the per-module specs (mod_w, mod_a) once nothing reads them: later
 * readers get the defaults (nmod_spec 0). */
void qp__prep_drop_module_specs(struct qp__prep *P);
/* Starts a run: builds the op lists from P->be and P->cfg and flags the configuration's
 * exact names on their syms. QP_ERR_NOMEM (message on P->g) when out of memory. */
qp_status qp__prep_start(struct qp__prep *P);
/* Hands the run's explanations (P->ex, emptied) to P->g, replacing any it had, and
 * installs the hook that frees them with the graph. QP_ERR_NOMEM (message on P->g,
 * P->ex kept) when out of memory. */
qp_status qp__explain_keep(struct qp__prep *P);

/* qspec.c */
/* Spec from kinds + a scheme + kwargs dicts (config store values), validated. */
qp_status qp__spec_make(struct qp__prep *P, int fq, int obs, const qp_qscheme *s,
                        uint32_t scheme_dict, uint32_t fakeq_params, uint32_t obs_args,
                        const char *what, uint32_t *out);
/* The spec of one side from the backend's row and the configuration (MQBench's
 * get_qconfig_by_platform); override (if not NULL) replaces the scheme. */
qp_status qp__spec_side(struct qp__prep *P, qp_side side, const qp_qscheme *override,
                        uint32_t *out);
/* OPENVINO: P->wspec narrowed to [-64, 63] (symmetric), [0, 127] (affine) or [-63, 63]
 * (academic mode); other backends: unchanged. */
qp_status qp__spec_weight_range(struct qp__prep *P);
/* A copy of spec with quant_min/quant_max replaced (cached per spec and range). */
qp_status qp__spec_range(struct qp__prep *P, uint32_t spec, int64_t qmin, int64_t qmax,
                         uint32_t *out);
bool qp__spec_symmetric(struct qp__prep *P, uint32_t spec);
/* The range and axis checks a quantizer of the spec runs when constructed: torch's
 * propagate_qconfig_ probes every qconfig once, so they fail a prepare even when no
 * such quantizer is inserted (keyword errors, TypeError there, do not). */
qp_status qp__spec_probe(struct qp__prep *P, uint32_t spec);
int64_t qp__spec_int(struct qp__prep *P, uint32_t spec, const char *key, int64_t dflt);
/* Adds fake-quantizer module `path` (+ .activation_post_process) built from spec,
 * after table entry `after` (0: at the end). axis1: per-channel on axis 1;
 * quant_type 0..3 as in qp__qspec. `what` names the module in errors. */
qp_status qp__fq_module_add(struct qp__prep *P, uint32_t spec, uint32_t path, bool axis1,
                            int quant_type, uint32_t after);
/* Sets quant_type on an existing fake-quantizer module and its observer. */
qp_status qp__fq_set_quant_type(struct qp__prep *P, uint32_t fq_module, int quant_type);

/* modtree.c: the module table as torch's module tree */
/* Parent lookups along a walk of the table. Neighbouring paths share their
 * leading components, so the module found for each dotted prefix of the last
 * path is kept, and only the prefixes that differ are looked up (hashed). */
#define QP__ANC_LEVELS 32
struct qp__anc {
    bool valid;   /* false before the first lookup */
    /* two bits per live module's path hash: a prefix whose bits are not both set is
     * no module, known without probing the symbol table (a cache miss on a big
     * graph) */
    uint8_t *filt;
    uint32_t fmask;      /* bits - 1 */
    uint8_t small[1024]; /* filt for up to 512 modules */
    uint32_t path; /* the last path looked at */
    uint32_t n;   /* its dotted prefixes, shortest first: length, live module or 0 */
    uint32_t len[QP__ANC_LEVELS], mod[QP__ANC_LEVELS];
    uint32_t self_mod; /* the module of the last path, and whether it is live */
    bool self_live;
};
/* The nearest live module whose path is a dotted proper prefix of m's, or 0.
 * The cache c (from qp__anc_init) stays right while the table does not change
 * between calls. */
uint32_t qp__mod_parent(const qp_graph *g, uint32_t m, struct qp__anc *c);
/* A cache for qp__mod_parent over g's table as it is now, with its filter (freed by
 * qp__anc_free). QP_ERR_NOMEM (message set) when the filter cannot be allocated. */
qp_status qp__anc_init(qp_graph *g, struct qp__anc *c);
void qp__anc_free(qp_graph *g, struct qp__anc *c);
/* Reorders the table as named_modules() would list it (a subtree is a contiguous run). */
qp_status qp__mod_tree_order(qp_graph *g);
/* modorder.c: the table in the prepared GraphModule's named_modules() order: targets
 * installed in node order (sorted stably by depth if by_depth), walked in pre-order,
 * the activation fake-quantizers last. */
qp_status qp__mod_named_order(qp_graph *g, bool by_depth);
/* Drops modules no call_module node calls (keeping their submodules) and parameters no
 * get_attr reads, as rebuilding a GraphModule does. */
qp_status qp__mod_gc(qp_graph *g);
/* Removes module m and its subtree; *removed (if set) counts them. */
void qp__mod_remove_subtree(qp_graph *g, uint32_t m, uint32_t *removed);
/* Copies module m and its subtree to path to_path (after table entry `after`). */
qp_status qp__mod_copy_subtree(qp_graph *g, uint32_t m, uint32_t to_path, uint32_t after,
                               uint32_t *added);
/* The attribute `key` of module m, or NULL. */
const struct qp__val *qp__mod_attr(const qp_graph *g, uint32_t m, const char *key);
/* The sym of sym a followed by blen bytes of b (0 on failure, message set). */
uint32_t qp__sym_join(qp_graph *g, uint32_t a, const char *b, size_t blen);
/* The live module at sym a's path followed by blen bytes of b, else 0 (h: those
 * bytes' qp__hash when known, else NULL; never allocates). */
uint32_t qp__mod_find_join(const qp_graph *g, uint32_t a, const char *b, size_t blen,
                           const uint32_t *h);
/* qp__sym_join with the joined bytes' hash given (h NULL: computed). */
uint32_t qp__sym_join_h(qp_graph *g, uint32_t a, const char *b, size_t blen, const uint32_t *h);
/* qp__sym_prefetch of what qp__sym_join(g, a, b, blen) will look up: a pass calls it
 * for the names it is about to make, so their table misses overlap. On true, *h is
 * the joined bytes' hash (for qp__sym_join_h); false: too long to bother. */
bool qp__sym_prefetch_join(const qp_graph *g, uint32_t a, const char *b, size_t blen,
                           uint32_t *h);

/* fusekids.c: fused containers made without children */
/* Will the swap replace a container of this type, with nothing before it reading the
 * container's children? (No overrides, no excluded names, a QAT mapping without error.) */
bool qp__fkids_deferrable(struct qp__prep *P, const char *fused);
/* Records container m made without children. QP_ERR_NOMEM when out of memory. */
qp_status qp__fkids_add(struct qp__prep *P, uint32_t m, uint32_t attrs, uint32_t bn,
                        uint32_t nkids);
/* Indexes the records by module (after the fuse pass), for qp__fkids_find.
 * QP_ERR_NOMEM when out of memory (the records stay, for qp__fkids_free). */
qp_status qp__fkids_seal(struct qp__prep *P);
/* The record of container m, or NULL. */
const struct qp__fkid *qp__fkids_find(const struct qp__prep *P, uint32_t m);
void qp__fkids_free(struct qp__prep *P);
/* The QAT type a float type maps to (configuration first, then the backend), NULL if
 * none; *error: why torch cannot swap it, or NULL. Interns nothing. */
const char *qp__qat_name(struct qp__prep *P, const char *type, const char **error);

/* Passes: one file each, one function each, run in this order by prepare.c. */
qp_status qp__pass_ffswap(struct qp__prep *P);
qp_status qp__pass_dup(struct qp__prep *P);
qp_status qp__pass_fuse(struct qp__prep *P);
qp_status qp__pass_qconfig(struct qp__prep *P);
qp_status qp__pass_swap(struct qp__prep *P);
qp_status qp__pass_fakequant(struct qp__prep *P);
/* prepare.c */
/* For the quantizer runtime: adds to g (a scratch graph) the fake-quantizer module
 * "q" and its "q.activation_post_process", as prepare builds the quantizer of one
 * side on backend be with cfg (NULL: defaults), per-channel on axis 1 if axis1,
 * quant_type 0..3 as in qp__qspec, exactly as get_qconfig_by_platform builds it (so
 * without OPENVINO's 7-bit weight range, which its quantizer applies in prepare).
 * *fq_mod is the module, *kwargs the DICT of every
 * keyword argument MQBench's FQ.with_args receives (in g). Message on g on failure. */
qp_status qp__prepare_quantizer(qp_graph *g, qp_backend be, const qp_config *cfg, qp_side side,
                                bool axis1, int quant_type, uint32_t *fq_mod, uint32_t *kwargs);
/* placement.c */
/* A producer to quantize, why, because of which node, and with which spec. */
struct qp__cand {
    uint32_t node, cause, spec;
    uint8_t why; /* qp_reason */
};
/* The producers to quantize, in MQBench's discovery order (may repeat); *out is
 * allocated on the graph (capacity in P->ncand_cap). */
qp_status qp__placement(struct qp__prep *P, struct qp__cand **out, uint32_t *n);
/* OPENVINO: is the output of `node` unsigned? fq_unsigned[fq node] says it of the
 * fake-quantizers inserted so far; mark (stamped with `stamp`) and queue (2 entries
 * per node) are scratch arrays as large as the node arena. */
qp_status qp__ov_unsigned(struct qp__prep *P, uint32_t node, const uint8_t *fq_unsigned,
                          uint32_t *mark, uint32_t stamp, uint32_t *queue, bool *out);

#endif /* QPREP_PREP_H */
