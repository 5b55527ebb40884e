/*
 * test_oom.c - the out-of-memory sweep, as SQLite runs it: for each public
 * operation, allocation k fails for k = 1, 2, ... until the operation
 * succeeds, once failing only the k-th allocation and once failing every
 * allocation from the k-th on. Every failed run must return QP_ERR_NOMEM,
 * leave the graph's text byte for byte as it was (and verifiable as before),
 * and leak nothing; the run that finally succeeds must give the same result
 * as a run without faults. Writing text or DOT must not allocate at all.
 *
 * Operations: reading text (from memory, streaming, from a FILE), reading
 * configurations (every tests/data/configs file, from memory and FILE),
 * tracing, creating and cloning graphs, the mutators, verifying (a valid
 * graph and one with cycles), preparing for every backend (with the
 * fixtures that exercise it, the configuration fixtures, fixed mode and
 * verify-each), writing text and DOT. Each test prints how many allocation
 * points it covered.
 */
#include "testlib.h"

#include "prep.h"

#include <string.h>

unsigned qpt_compare(const qp_graph *e, const qp_graph *a, char *out, size_t cap);

/* ==== sweeping an operation that makes a new object ==== */

/* Runs the operation with allocator a; on success *result is a test_malloc'd text
 * describing what it made (compared with the fault-free run), and the object is
 * already destroyed. */
typedef qp_status (*make_fn)(const void *arg, const qp_allocator *a, char **result);

/* Runs that succeeded without an optional allocation (with the same result). */
static size_t optional_total;

/* Returns the number of allocation points (allocations of the fault-free run). */
static size_t
sweep_make(const char *what, make_fn op, const void *arg)
{
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    char *want = NULL;
    qp_status rc = op(arg, &a, &want);
    if (rc) {
        print_error("%s: fails without a fault: %s\n", what, qp_status_str(rc));
        fail();
    }
    assert_int_equal(st.live, 0);
    size_t points = st.calls, optional = 0;
    for (size_t k = 1;; k++) {
        for (int after = 0; after < 2; after++) {
            qpt_alloc_reset(&st);
            st.fail_at = k;
            st.fail_after = after;
            char *got = NULL;
            rc = op(arg, &a, &got);
            if (rc == QP_OK && st.failed) {
                /* an optional allocation (a cache, say): allowed only when the result is
                 * exactly the fault-free one and nothing leaks */
                if (strcmp(got, want)) {
                    print_error("%s: allocation %zu failing%s gave a different result\n", what, k,
                                after ? " (and every later one)" : "");
                    fail();
                }
                test_free(got);
                assert_int_equal(st.live, 0);
                optional++;
                continue;
            }
            if (st.failed == 0) {
                /* past the last allocation: the operation succeeds as it did */
                assert_int_equal(rc, QP_OK);
                assert_int_equal(k, points + 1);
                assert_string_equal(got, want);
                test_free(got);
                test_free(want);
                optional_total += optional;
                return points;
            }
            if (rc != QP_ERR_NOMEM) {
                print_error("%s: allocation %zu failing%s gave %s\n", what, k,
                            after ? " (and every later one)" : "", qp_status_str(rc));
                fail();
            }
            assert_null(got);
            if (st.live || st.live_blocks) {
                print_error("%s: allocation %zu failing%s leaked %zu bytes\n", what, k,
                            after ? " (and every later one)" : "", st.live);
                fail();
            }
        }
    }
}

/* ==== sweeping an operation on an existing graph ==== */

typedef qp_status (*graph_fn)(qp_graph *g, const void *arg);

/* Runs op(g, arg) with st's k-th allocation from now failing (and, with after,
 * every later one too), then disarms st; *failed: the allocations that failed (0:
 * the run made fewer than k). */
static qp_status
run_armed(qpt_alloc *st, size_t k, int after, graph_fn op, qp_graph *g, const void *arg,
          size_t *failed)
{
    st->failed = 0;
    st->fail_at = st->calls + k;
    st->fail_after = after;
    qp_status rc = op(g, arg);
    *failed = st->failed;
    st->fail_at = 0;
    st->fail_after = 0;
    return rc;
}

enum {
    SW_STRICT = 1, /* the bytes g holds must not change either (work done on a copy) */
    SW_MSG = 2     /* a failure leaves a message on g */
};

/* g was made with st's allocator. The operation runs on g until it succeeds (gives
 * `want`); every failed run must give NOMEM and leave g as it was. Returns the
 * number of allocation points. */
static size_t
sweep_graph(const char *what, qp_graph *g, qpt_alloc *st, graph_fn op, const void *arg,
            qp_status want, unsigned flags)
{
    char *before = qpt_graph_text(g);
    qp_status verified = qp_graph_verify(g, NULL, NULL);
    char vmsg[sizeof g->errmsg];
    memcpy(vmsg, g->errmsg, sizeof vmsg);
    size_t live = st->live, blocks = st->live_blocks;
    for (size_t k = 1;; k++) {
        for (int after = 0; after < 2; after++) {
            size_t base = st->calls, failed;
            qp_status rc = run_armed(st, k, after, op, g, arg, &failed);
            size_t made = st->calls - base;
            if (failed == 0) {
                if (rc != want) {
                    print_error("%s: gave %s (%s) without a fault, not %s\n", what,
                                qp_status_str(rc), qp_graph_errmsg(g), qp_status_str(want));
                    fail();
                }
                /* a failed run that left no trace left no array grown either */
                if (flags & SW_STRICT)
                    assert_int_equal(made, k - 1);
                test_free(before);
                return k - 1; /* the positions failed (past failures may have grown arrays) */
            }
            if (rc != QP_ERR_NOMEM) {
                print_error("%s: allocation %zu of %zu failing%s gave %s: %s\n", what, k, made,
                            after ? " (and every later one)" : "", qp_status_str(rc),
                            qp_graph_errmsg(g));
                fail();
            }
            if ((flags & SW_MSG) && !qp_graph_errmsg(g)[0]) {
                print_error("%s: QP_ERR_NOMEM without a message\n", what);
                fail();
            }
            char *now = qpt_graph_text(g);
            if (strcmp(now, before)) {
                print_error("%s: allocation %zu failing%s changed the graph\n", what, k,
                            after ? " (and every later one)" : "");
                fail();
            }
            test_free(now);
            if ((flags & SW_STRICT) && (st->live != live || st->live_blocks != blocks)) {
                print_error("%s: allocation %zu failing%s left %zu bytes in %zu blocks, not "
                            "%zu in %zu\n",
                            what, k, after ? " (and every later one)" : "", st->live,
                            st->live_blocks, live, blocks);
                fail();
            }
            /* the graph still verifies as it did */
            assert_int_equal(qp_graph_verify(g, NULL, NULL), verified);
            assert_string_equal(g->errmsg, vmsg);
        }
    }
}

/* Makes every growable array of g exactly full, and the string chunk being filled
 * too, so that the next append of any kind must allocate: the sweep then meets
 * the growth paths instead of spare room. */
static void
tighten(qp_graph *g)
{
#define TIGHT(arr, n, cap)                                                                         \
    do {                                                                                           \
        if (n && cap > n) {                                                                        \
            void *p = qp__realloc(g, arr, (size_t)cap * sizeof *arr, (size_t)n * sizeof *arr);     \
            assert_non_null(p);                                                                    \
            arr = p;                                                                               \
            cap = n;                                                                               \
        }                                                                                          \
    } while (0)
    TIGHT(g->nodes, g->nnodes, g->capnodes);
    TIGHT(g->vals, g->nvals, g->capvals);
    TIGHT(g->mods, g->nmods, g->capmods);
    TIGHT(g->params, g->nparams, g->capparams);
    TIGHT(g->comments, g->ncomments, g->capcomments);
    TIGHT(g->ptrs, g->nptrs, g->capptrs);
    TIGHT(g->st.syms, g->st.n, g->st.capsyms);
    TIGHT(g->st.chunks, g->st.nchunks, g->st.capchunks);
#undef TIGHT
    g->st.chunks[g->st.cur].used = g->st.chunks[g->st.cur].size;
}

static qp_graph *
read_with(const char *rel, qpt_alloc *st, unsigned flags)
{
    size_t len;
    char *text = qpt_read_file(rel, &len);
    qpt_alloc_reset(st);
    qp_allocator a = qpt_allocator(st);
    qp_read_opts o = {&a, flags, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    if (qp_graph_read_text(text, len, &o, &g, &err)) {
        print_error("%s:%u:%u: %s\n", rel, (unsigned)err.line, (unsigned)err.col, err.msg);
        fail();
    }
    test_free(text);
    return g;
}

/* ==== reading text ==== */

struct read_arg {
    const char *text;
    size_t len;
    unsigned flags;
    size_t chunk; /* 0: from memory; else streamed this many bytes at a time */
    bool file;    /* from a FILE */
};

struct chunked {
    const char *p;
    size_t left, step;
};

static size_t
chunk_read(void *ud, char *buf, size_t cap)
{
    struct chunked *c = ud;
    size_t n = c->step < cap ? c->step : cap;
    if (n > c->left)
        n = c->left;
    memcpy(buf, c->p, n);
    c->p += n;
    c->left -= n;
    return n;
}

static qp_status
read_op(const void *arg, const qp_allocator *a, char **result)
{
    const struct read_arg *r = arg;
    qp_read_opts o = {a, r->flags, NULL, NULL};
    qp_graph *g = (qp_graph *)1;
    qp_error err;
    qp_status rc;
    if (r->file) {
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_int_equal(fwrite(r->text, 1, r->len, f), r->len);
        rewind(f);
        rc = qp_graph_read_file(f, &o, &g, &err);
        fclose(f);
    } else if (r->chunk) {
        struct chunked c = {r->text, r->len, r->chunk};
        rc = qp_graph_read(chunk_read, &c, &o, &g, &err);
    } else {
        rc = qp_graph_read_text(r->text, r->len, &o, &g, &err);
    }
    assert_int_equal(err.status, rc);
    if (rc) {
        assert_null(g);
        assert_true(err.msg[0] != 0);
        return rc;
    }
    *result = qpt_graph_text(g);
    qp_graph_destroy(g);
    return QP_OK;
}

static void
reading_text_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    static const char *const files[] = {
        "fixtures/opsnet.in.qg",
        "fixtures/resnet18.in.qg",
        "fixtures/tinyencoder.in.qg",
        "fixtures/resnet18.Tensorrt.out.qg",
        "fixtures/mobilenet_v3_large.OPENVINO.out.qg",
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct read_arg r = {NULL, 0, 0, 0, false};
        char *text = qpt_read_file(files[i], &r.len);
        r.text = text;
        size_t mem = sweep_make(files[i], read_op, &r);
        r.chunk = 7; /* lines assembled across chunks */
        size_t stream = sweep_make(files[i], read_op, &r);
        r.chunk = 0;
        r.file = true;
        size_t file = sweep_make(files[i], read_op, &r);
        r.file = false;
        r.flags = QP_READ_NO_VERIFY;
        size_t nov = sweep_make(files[i], read_op, &r);
        print_message("read %-44s %4zu points (memory), %4zu (streamed), %4zu (FILE), %4zu "
                      "(no verify)\n",
                      files[i], mem, stream, file, nov);
        total += mem + stream + file + nov;
        test_free(text);
    }
    /* structural problems kept for the verifier */
    static const char cyclic[] = "qgraph 1\n# a cycle, a self-use and a forward reference\n"
                                 "%x = placeholder x () {}\n"
                                 "%a = call_function operator.add (%x, %c) {}\n"
                                 "%b = call_function operator.mul (%a, %a) {}\n"
                                 "%c = call_function torch.relu (%b,) {}\n"
                                 "%d = call_function torch.relu (%d,) {}\n"
                                 "%output = output output (%c,) {}\n";
    struct read_arg r = {cyclic, sizeof cyclic - 1, QP_READ_NO_VERIFY, 0, false};
    size_t n = sweep_make("cyclic text", read_op, &r);
    print_message("read %-44s %4zu points (no verify)\n", "a graph with cycles", n);
    total += n;
    print_message("read text: %zu allocation points in all, each failed alone and with every "
                  "later one (%zu runs succeeded without an optional allocation, giving the "
                  "same graph)\n",
                  total, optional_total);
}

/* ==== reading configurations ==== */

/* What a configuration holds, as text, to compare runs. */
static char *
config_summary(const qp_config *c)
{
    char *out = test_malloc(8192);
    size_t o = 0;
#define PUT(...) o += (size_t)snprintf(out + o, o < 8192 ? 8192 - o : 0, __VA_ARGS__)
    const qp_graph *s = c->store;
    for (int i = 0; i < 2; i++)
        PUT("obs%d=%s fq%d=%s qs%d=%u ", i, qp__sym_str(s, c->obs[i]), i, qp__sym_str(s, c->fq[i]),
            i, c->qscheme[i] ? s->vals[c->qscheme[i]].b : 0u);
    for (int i = 0; i < 4; i++)
        PUT("kw%d=%u ", i, c->kwargs[i] ? s->vals[c->kwargs[i]].b : 0u);
    for (int l = 0; l < QP_LIST_COUNT; l++)
        for (uint32_t i = 0; i < c->nnames[l]; i++)
            PUT("l%d:%s ", l, qp__sym_str(s, c->names[l][i]));
    PUT("academic=%d fix=%d verify=%d fusions=%u maps=%u preserve=%u overrides=%u",
        c->academic_mode, c->fix, c->verify_each, (unsigned)c->nfusions, (unsigned)c->nqatmaps,
        (unsigned)c->npreserve, (unsigned)c->noverrides);
#undef PUT
    assert_true(o < 8192);
    return out;
}

struct config_arg {
    const char *text;
    size_t len;
    bool file;
};

static qp_status
config_op(const void *arg, const qp_allocator *a, char **result)
{
    const struct config_arg *r = arg;
    qp_config *c = (qp_config *)1;
    qp_error err;
    qp_status rc;
    if (r->file) {
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_int_equal(fwrite(r->text, 1, r->len, f), r->len);
        rewind(f);
        rc = qp_config_read_file(f, a, &c, &err);
        fclose(f);
    } else {
        rc = qp_config_read_text(r->text, r->len, a, &c, &err);
    }
    assert_int_equal(err.status, rc);
    if (rc) {
        assert_null(c);
        assert_true(err.msg[0] != 0);
        return rc;
    }
    *result = config_summary(c);
    qp_config_destroy(c);
    return QP_OK;
}

/* Every setting a file can hold, to reach every allocation of the reader. */
static const char every_key[] =
    "qcfg 1\n"
    "extra_qconfig_dict = {w_observer: \"MSEObserver\", a_observer: \"EMAMinMaxObserver\", "
    "w_fakequantize: \"LearnableFakeQuantize\", a_fakequantize: \"FixedFakeQuantize\", "
    "w_qscheme: {bit: 4, symmetry: False, per_channel: True, pot_scale: False}, a_qscheme: "
    "{bit: 8, symmetry: True}, w_fakeq_params: {use_grad_scaling: True}, a_fakeq_params: {}, "
    "w_observer_extra_args: {}, a_observer_extra_args: {ema_ratio: 0.5}}\n"
    "extra_quantizer_dict = {exclude_node_name: [\"a\", \"b\"], exclude_module_name: "
    "[\"layer1\"], exclude_function_type: [\"operator.add\"], additional_node_name: [\"c\"], "
    "additional_function_type: [\"torch.cat\"], additional_module_type: [\"nn.ReLU\"], "
    "academic_mode: True}\n"
    "extra_fuse_dict = {additional_fusion_pattern: [{pattern: [\"nn.Conv2d\", "
    "\"nn.GroupNorm\"], fused: \"my.ConvGN\"}], additional_qat_module_mapping: {my.ConvGN: "
    "\"my.QATConvGN\"}}\n"
    "preserve_attr = {\"\": [\"version\"], \"layer1\": [\"tag\", \"other\"]}\n"
    "qprep_overrides = [{path: \"layer1.0.conv1\", w: {bit: 4}, a: {bit: 4}}, {type: "
    "\"nn.Linear\", float: True}, {pattern: \"layer4.*\", w: {bit: 6}}]\n"
    "qprep_options = {fix: True, verify_each: True}\n";

static void
reading_configs_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    char **names;
    size_t n = qpt_list("configs", ".qcfg", &names), total = 0;
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "configs/%s", names[i]);
        struct config_arg r = {NULL, 0, false};
        char *text = qpt_read_file(rel, &r.len);
        r.text = text;
        size_t mem = sweep_make(rel, config_op, &r);
        r.file = true;
        size_t file = sweep_make(rel, config_op, &r);
        print_message("config %-38s %4zu points (memory), %4zu (FILE)\n", rel, mem, file);
        total += mem + file;
        test_free(text);
    }
    qpt_free_list(names, n);
    struct config_arg r = {every_key, sizeof every_key - 1, false};
    size_t mem = sweep_make("every key", config_op, &r);
    r.file = true;
    size_t file = sweep_make("every key", config_op, &r);
    print_message("config %-38s %4zu points (memory), %4zu (FILE)\n", "(every key)", mem, file);
    total += mem + file;
    print_message("read config: %zu allocation points in all\n", total);
}

/* ==== tracing, creating, cloning ==== */

static qp_val
ints(qp_graph *g, int n, const int64_t *v)
{
    qp_val items[8], out = QP_NULL_VAL;
    for (int i = 0; i < n; i++)
        qp_val_new_int(g, v[i], &items[i]);
    qp_val_new_tuple(g, (uint32_t)n, items, &out);
    return out;
}

static qp_val
node_args(qp_graph *g, int n, const qp_node *nodes)
{
    qp_val items[4], out = QP_NULL_VAL;
    for (int i = 0; i < n; i++)
        qp_val_new_node(g, nodes[i], &items[i]);
    qp_val_new_tuple(g, (uint32_t)n, items, &out);
    return out;
}

/* A small model through every tracer call; statuses are sticky, so only finish counts. */
static qp_status
trace_op(const void *arg, const qp_allocator *a, char **result)
{
    (void)arg;
    qp_tracer *t = NULL;
    qp_status rc = qp_tracer_create(a, &t);
    if (rc)
        return rc;
    qp_graph *g = qp_tracer_graph(t);
    static const int64_t k33[] = {3, 3}, shape[] = {1, 8, 1, 1}, dims[] = {2, 3};
    static const char *const conv_keys[] = {"in_channels", "out_channels", "kernel_size", "bias"};
    qp_val cv[4], attrs = QP_NULL_VAL, v = QP_NULL_VAL;
    qp_val_new_int(g, 3, &cv[0]);
    qp_val_new_int(g, 8, &cv[1]);
    cv[2] = ints(g, 2, k33);
    qp_val_new_bool(g, false, &cv[3]);
    qp_val_new_dict(g, 4, conv_keys, cv, &attrs);
    qp_tracer_module(t, "conv1", "nn.Conv2d", attrs, (void *)1);
    static const char *const bn_keys[] = {"num_features", "eps"};
    qp_val_new_int(g, 8, &cv[0]);
    qp_val_new_float(g, 1e-05, &cv[1]);
    qp_val_new_dict(g, 2, bn_keys, cv, &attrs);
    qp_tracer_module(t, "bn1", "nn.BatchNorm2d", attrs, (void *)2);
    qp_tracer_module(t, "relu", "nn.ReLU", QP_NULL_VAL, NULL);
    qp_tracer_module(t, "fc", "nn.Linear", QP_NULL_VAL, NULL);
    static const char *const shape_key[] = {"shape"};
    v = ints(g, 4, shape);
    qp_val_new_dict(g, 1, shape_key, &v, &attrs);
    qp_tracer_param(t, "scale", attrs);
    qp_node x = QP_NULL_NODE, c = x, b = x, r = x, s = x, m = x, ad = x, mean = x, f = x;
    qp_tracer_placeholder(t, "x", QP_NULL_VAL, &x);
    qp_tracer_call_module(t, "conv1", node_args(g, 1, &x), QP_NULL_VAL, &c);
    qp_tracer_call_module(t, "bn1", node_args(g, 1, &c), QP_NULL_VAL, &b);
    qp_tracer_call_module(t, "relu", node_args(g, 1, &b), QP_NULL_VAL, &r);
    qp_tracer_get_attr(t, "scale", &s);
    qp_node rs[2] = {r, s};
    qp_tracer_call_function(t, "operator.mul", node_args(g, 2, rs), QP_NULL_VAL, &m);
    qp_node mr[2] = {m, r};
    qp_tracer_call_function(t, "operator.add", node_args(g, 2, mr), QP_NULL_VAL, &ad);
    qp_val items[2], kw = QP_NULL_VAL;
    qp_val_new_node(g, ad, &items[0]);
    items[1] = ints(g, 2, dims);
    qp_val_new_tuple(g, 2, items, &v);
    static const char *const kw_keys[] = {"keepdim"};
    qp_val_new_bool(g, false, &items[0]);
    qp_val_new_dict(g, 1, kw_keys, items, &kw);
    qp_tracer_call_method(t, "mean", v, kw, &mean);
    qp_tracer_call_module(t, "fc", node_args(g, 1, &mean), QP_NULL_VAL, &f);
    qp_val_new_node(g, f, &v);
    qp_tracer_output(t, v);
    qp_graph_add_comment(g, "traced under memory faults");
    qp_graph *out = NULL;
    rc = qp_tracer_finish(t, &out);
    if (rc) {
        assert_null(out);
        return rc;
    }
    *result = qpt_graph_text(out);
    qp_graph_destroy(out);
    return QP_OK;
}

static qp_status
create_op(const void *arg, const qp_allocator *a, char **result)
{
    (void)arg;
    qp_graph *g = (qp_graph *)1;
    qp_status rc = qp_graph_create(a, &g);
    if (rc) {
        assert_null(g);
        return rc;
    }
    *result = qpt_graph_text(g);
    qp_graph_destroy(g);
    return QP_OK;
}

static qp_status
clone_op(qp_graph *g, const void *arg)
{
    (void)arg;
    qp_graph *h = (qp_graph *)1;
    qp_status rc = qp_graph_clone(g, &h);
    if (rc) {
        assert_null(h); /* (g is const: no message) */
        return rc;
    }
    char *a = qpt_graph_text(g), *b = qpt_graph_text(h);
    assert_string_equal(a, b);
    test_free(a);
    test_free(b);
    qp_graph_destroy(h);
    return QP_OK;
}

static void
tracing_creating_and_cloning_fail_cleanly(void **state)
{
    (void)state;
    size_t trace = sweep_make("trace", trace_op, NULL);
    size_t create = sweep_make("create", create_op, NULL);
    qpt_alloc st;
    qp_graph *g = read_with("fixtures/resnet18.Tensorrt.out.qg", &st, 0);
    size_t clone = sweep_graph("clone", g, &st, clone_op, NULL, QP_OK, SW_STRICT);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    assert_true(trace > 10 && create > 3 && clone > 5);
    print_message("trace: %zu allocation points; create: %zu; clone: %zu\n", trace, create, clone);
}

/* ==== mutators ==== */

enum {
    M_INSERT,
    M_INSERT_NAMED,
    M_SET_ARGS,
    M_SET_KWARGS,
    M_SET_TARGET,
    M_ADD_MODULE,
    M_SET_ATTR,
    M_REPLACE_MODULE,
    M_ADD_PARAM,
    M_ADD_COMMENT,
    M_VALUES,
    M_GRAPH_ATTR,
    M_COUNT
};
static const char *const mutator_name[M_COUNT] = {
    "insert_after", "insert_before (named)", "node_set_args",  "node_set_kwargs", "node_set_target",
    "add_module",   "module_set_attr",       "module_replace", "add_param",       "add_comment",
    "val_new_*",    "graph_set_attr"};

/* The mutators build what they need first; those values may stay in the pool (values
 * are not text), but the graph's text must not change unless the call succeeds. */
static qp_status
mutate_op(qp_graph *g, const void *arg)
{
    int which = *(const int *)arg;
    qp_node relu = qp_graph_find_node(g, "relu"), conv = qp_graph_find_node(g, "conv1");
    qp_module m = qp_graph_find_module(g, "conv1");
    qp_status rc;
    qp_val v, t, items[3];
    switch (which) {
    case M_INSERT:
    case M_INSERT_NAMED: {
        if ((rc = qp_val_new_node(g, which == M_INSERT ? relu : conv, &items[0])) ||
            (rc = qp_val_new_tuple(g, 1, items, &t)))
            return rc;
        qp_node_spec spec = {QP_OP_CALL_FUNCTION, "torch.nn.functional.relu",
                             which == M_INSERT ? NULL : "relu", t, QP_NULL_VAL};
        qp_node out;
        return which == M_INSERT ? qp_graph_insert_after(g, relu, &spec, &out)
                                 : qp_graph_insert_before(g, relu, &spec, &out);
    }
    case M_SET_ARGS:
        if ((rc = qp_val_new_node(g, conv, &items[0])) || (rc = qp_val_new_int(g, 7, &items[1])) ||
            (rc = qp_val_new_tuple(g, 2, items, &t)))
            return rc;
        return qp_node_set_args(g, relu, t);
    case M_SET_KWARGS: {
        static const char *const keys[] = {"inplace", "fresh_key_for_kwargs"};
        if ((rc = qp_val_new_bool(g, true, &items[0])) ||
            (rc = qp_val_new_node(g, conv, &items[1])) ||
            (rc = qp_val_new_dict(g, 2, keys, items, &t)))
            return rc;
        return qp_node_set_kwargs(g, relu, t);
    }
    case M_SET_TARGET:
        return qp_node_set_target(g, qp_graph_find_node(g, "add"), "torch.never_seen_before");
    case M_ADD_MODULE: {
        qp_module nm;
        return qp_graph_add_module(g, "brand.new.module", "nn.Identity", QP_NULL_VAL, &nm);
    }
    case M_SET_ATTR:
        if ((rc = qp_val_new_str(g, "a string never seen", 19, &v)))
            return rc;
        return qp_module_set_attr(g, m, "fresh_attribute", v);
    case M_REPLACE_MODULE: {
        static const char *const keys[] = {"k"};
        if ((rc = qp_val_new_float(g, 0.5, &items[0])) ||
            (rc = qp_val_new_dict(g, 1, keys, items, &v)))
            return rc;
        return qp_module_replace(g, m, "nn.SomethingNew", v);
    }
    case M_ADD_PARAM: {
        static const char *const keys[] = {"shape"};
        if ((rc = qp_val_new_int(g, 4, &items[0])) || (rc = qp_val_new_tuple(g, 1, items, &t)) ||
            (rc = qp_val_new_dict(g, 1, keys, &t, &v)))
            return rc;
        return qp_graph_add_param(g, "fresh.param", v);
    }
    case M_ADD_COMMENT:
        return qp_graph_add_comment(g, "a comment never seen before");
    case M_VALUES:
        /* values alone never change the text */
        if ((rc = qp_val_new_none(g, &items[0])) ||
            (rc = qp_val_new_ident(g, "torch.float16", &items[1])) ||
            (rc = qp_val_new_call(g, "slice", 2, items, &items[2])) ||
            (rc = qp_val_new_list(g, 3, items, &v)))
            return rc;
        return QP_OK;
    case M_GRAPH_ATTR:
        if ((rc = qp_val_new_str(g, "v1", 2, &v)))
            return rc;
        return qp_graph_set_attr(g, "version_of_the_model", v);
    default:
        return QP_ERR_INTERNAL;
    }
}

/* A mutator may keep arrays it grew before failing (capacity is not state), so each
 * run starts from a fresh graph, and the run k fails the k-th allocation of that
 * fresh start. */
static size_t
sweep_mutator(int which, bool tight)
{
    char *text = qpt_read_file("fixtures/resnet18.in.qg", NULL);
    for (size_t k = 1;; k++) {
        for (int after = 0; after < 2; after++) {
            qpt_alloc st;
            qp_graph *g = read_with("fixtures/resnet18.in.qg", &st, 0);
            if (tight)
                tighten(g);
            size_t failed;
            qp_status rc = run_armed(&st, k, after, mutate_op, g, &which, &failed);
            if (!failed) {
                assert_int_equal(rc, QP_OK);
                assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
                qp_graph_destroy(g);
                assert_int_equal(st.live, 0);
                test_free(text);
                return k - 1;
            }
            if (rc != QP_ERR_NOMEM || !qp_graph_errmsg(g)[0]) {
                print_error("%s: allocation %zu failing%s gave %s: '%s'\n", mutator_name[which], k,
                            after ? " (and every later one)" : "", qp_status_str(rc),
                            qp_graph_errmsg(g));
                fail();
            }
            char *now = qpt_graph_text(g);
            assert_string_equal(now, text);
            test_free(now);
            assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
            qp_graph_destroy(g);
            assert_int_equal(st.live, 0);
        }
    }
}

static void
mutators_fail_cleanly_at_every_allocation(void **state)
{
    (void)state;
    size_t total = 0;
    for (int i = 0; i < M_COUNT; i++) {
        size_t spare = sweep_mutator(i, false), full = sweep_mutator(i, true);
        print_message("mutate %-24s %4zu points (spare room), %4zu (arrays full)\n",
                      mutator_name[i], spare, full);
        assert_true(full > 0);
        total += spare + full;
    }
    print_message("mutators: %zu allocation points in all\n", total);
}

/* ==== verify ==== */

static qp_status
verify_op(qp_graph *g, const void *arg)
{
    (void)arg;
    return qp_graph_verify(g, NULL, NULL);
}

static void
verifying_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = read_with("fixtures/mobilenet_v2.PPLCUDA.out.qg", &st, 0);
    size_t ok = sweep_graph("verify", g, &st, verify_op, NULL, QP_OK, SW_STRICT | SW_MSG);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    /* with cycles the verifier needs more: Kahn, then Tarjan */
    static const char cyclic[] = "qgraph 1\n"
                                 "%x = placeholder x () {}\n"
                                 "%a = call_function operator.add (%x, %c) {}\n"
                                 "%b = call_function operator.mul (%a, %a) {}\n"
                                 "%c = call_function torch.relu (%b,) {}\n"
                                 "%output = output output (%c,) {}\n";
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_read_opts o = {&a, QP_READ_NO_VERIFY, NULL, NULL};
    qp_error err;
    assert_int_equal(qp_graph_read_text(cyclic, sizeof cyclic - 1, &o, &g, &err), QP_OK);
    size_t cyc = sweep_graph("verify (cycles)", g, &st, verify_op, NULL, QP_ERR_NOT_TOPO_SORTED,
                             SW_STRICT | SW_MSG);
    assert_non_null(strstr(qp_graph_errmsg(g), "more problems"));
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    assert_true(ok >= 1 && cyc >= 2);
    print_message("verify: %zu allocation points (valid graph), %zu (with cycles)\n", ok, cyc);
}

/* ==== prepare ==== */

struct prep_arg {
    qp_backend be;
    const qp_config *cfg;
};

static qp_status
prepare_op(qp_graph *g, const void *arg)
{
    const struct prep_arg *p = arg;
    return qp_prepare_qat(g, p->be, p->cfg);
}

/* Reads a graph from text in memory with st's allocator. */
static qp_graph *
parse_with(const char *rel, const char *text, size_t len, qpt_alloc *st)
{
    qpt_alloc_reset(st);
    qp_allocator a = qpt_allocator(st);
    qp_read_opts o = {&a, 0, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    if (qp_graph_read_text(text, len, &o, &g, &err)) {
        print_error("%s:%u:%u: %s\n", rel, (unsigned)err.line, (unsigned)err.col, err.msg);
        fail();
    }
    return g;
}

/* Sweeps prepare of MODEL for a backend and checks the result against the fixture
 * (NULL: no fixture, e.g. fixed mode). tight: every array of the input full, so the
 * first append of each kind allocates too. Prepare works on the graph in place and
 * may keep arrays it grew before failing (capacity is not state), so each run starts
 * from a freshly read graph, as the mutators' sweep does, and run k fails the k-th
 * allocation of that fresh start. Every failed run must give NOMEM with a message,
 * leave the text byte for byte as it was and verifying as before, and free all it
 * took (checked by destroying the graph). Returns the allocation points. */
static size_t
sweep_prepare(const char *model, const char *backend, const char *cfg_rel, const char *fixture,
              bool fix, bool verify_each, bool tight)
{
    char rel[256], what[512];
    if (strchr(model, '/') || strstr(model, ".qg")) /* a data file, not a fixture */
        snprintf(rel, sizeof rel, "%s", model);
    else
        snprintf(rel, sizeof rel, "fixtures/%s.in.qg", model);
    snprintf(what, sizeof what, "prepare %s for %s%s%s%s%s%s", model, backend,
             cfg_rel ? " with " : "", cfg_rel ? cfg_rel : "", fix ? " (fixed mode)" : "",
             verify_each ? " (verify each)" : "", tight ? " (arrays full)" : "");
    struct prep_arg p;
    assert_int_equal(qp_backend_from_name(backend, &p.be), QP_OK);
    qp_config *c = cfg_rel ? qpt_config_file(cfg_rel) : NULL;
    if (fix || verify_each) {
        if (!c)
            assert_int_equal(qp_config_create(NULL, &c), QP_OK);
        assert_int_equal(qp_config_set_fix(c, fix), QP_OK);
        assert_int_equal(qp_config_set_verify_each(c, verify_each), QP_OK);
    }
    p.cfg = c;
    size_t len;
    char *text = qpt_read_file(rel, &len);
    qpt_alloc st;
    qp_graph *g = parse_with(rel, text, len, &st);
    char *before = qpt_graph_text(g);
    qp_status verified = qp_graph_verify(g, NULL, NULL);
    char vmsg[sizeof g->errmsg];
    memcpy(vmsg, g->errmsg, sizeof vmsg);
    qp_graph_destroy(g);
    size_t n = 0;
    for (size_t k = 1; !n; k++) {
        for (int after = 0; after < 2; after++) {
            g = parse_with(rel, text, len, &st);
            if (tight)
                tighten(g);
            size_t failed;
            qp_status rc = run_armed(&st, k, after, prepare_op, g, &p, &failed);
            if (!failed) {
                if (rc != QP_OK) {
                    print_error("%s: gave %s (%s) without a fault\n", what, qp_status_str(rc),
                                qp_graph_errmsg(g));
                    fail();
                }
                n = k - 1;
                break;
            }
            if (rc != QP_ERR_NOMEM || !qp_graph_errmsg(g)[0]) {
                print_error("%s: allocation %zu failing%s gave %s: '%s'\n", what, k,
                            after ? " (and every later one)" : "", qp_status_str(rc),
                            qp_graph_errmsg(g));
                fail();
            }
            char *now = qpt_graph_text(g);
            if (strcmp(now, before)) {
                print_error("%s: allocation %zu failing%s changed the graph\n", what, k,
                            after ? " (and every later one)" : "");
                fail();
            }
            test_free(now);
            assert_int_equal(qp_graph_verify(g, NULL, NULL), verified);
            assert_string_equal(g->errmsg, vmsg);
            qp_graph_destroy(g);
            if (st.live) {
                print_error("%s: allocation %zu failing%s leaked %zu bytes\n", what, k,
                            after ? " (and every later one)" : "", st.live);
                fail();
            }
        }
    }
    test_free(before);
    test_free(text);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    if (fixture) {
        char *want = qpt_read_file(fixture, NULL);
        qp_graph *e = qpt_parse(want, NULL);
        char diff[2048];
        unsigned d = qpt_compare(e, g, diff, sizeof diff);
        if (d) {
            print_error("%s: after the sweep, %u differences from %s\n%s", what, d, fixture, diff);
            fail();
        }
        qp_graph_destroy(e);
        test_free(want);
    }
    /* a second prepare is refused and changes nothing, not even capacities, under faults */
    sweep_graph(what, g, &st, prepare_op, &p, QP_ERR_ALREADY_PREPARED, SW_STRICT | SW_MSG);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    qp_config_destroy(c);
    return n;
}

/* Every conformance fixture MODEL.BACKEND[.CFG].out.qg (the configuration found as
 * FORMAT.md says), with the input's arrays as read and full: every backend on every
 * model that exercises it. */
static void
prepare_fails_cleanly_for_every_fixture(void **state)
{
    (void)state;
    size_t per_backend[QP_BACKEND_COUNT] = {0}, runs[QP_BACKEND_COUNT] = {0}, total = 0;
    char **names;
    size_t n = qpt_list("fixtures", ".out.qg", &names);
    assert_true(n > 100);
    for (size_t i = 0; i < n; i++) {
        char fixture[512];
        qpt_fixture f;
        assert_true(qpt_fixture_parse(names[i], &f));
        const char *cfgp = f.cfg_rel[0] ? f.cfg_rel : NULL;
        snprintf(fixture, sizeof fixture, "fixtures/%s", names[i]);
        qp_backend be;
        assert_int_equal(qp_backend_from_name(f.backend, &be), QP_OK);
        size_t a = sweep_prepare(f.model, f.backend, cfgp, fixture, false, false, false);
        size_t b = sweep_prepare(f.model, f.backend, cfgp, fixture, false, false, true);
        print_message("prepare %-44s %4zu points (as read), %4zu (arrays full)\n", names[i], a, b);
        per_backend[be] += a + b;
        runs[be]++;
        total += a + b;
    }
    qpt_free_list(names, n);
    for (int b = 0; b < QP_BACKEND_COUNT; b++) {
        print_message("prepare for %-13s %5zu allocation points over %2zu fixtures\n",
                      qp_backend_name((qp_backend)b), per_backend[b], runs[b]);
        assert_true(runs[b] > 0);
    }
    print_message("prepare: %zu allocation points in all, each failed alone and with every "
                  "later one\n",
                  total);
}

/* Fixed mode and verify-each reach allocations the fixtures do not. */
static void
prepare_fails_cleanly_in_fixed_mode_and_verifying_each_pass(void **state)
{
    (void)state;
    static const char *const models[] = {"mobilenet_v3_large", "opsnet", "seednet"};
    size_t total = 0;
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++)
        for (int b = 0; b < QP_BACKEND_COUNT; b++) {
            const char *name = qp_backend_name((qp_backend)b);
            bool academic = !strncmp(name, "Academic", 8), nlp = strstr(name, "NLP") != NULL;
            if (nlp)
                continue;
            size_t n = sweep_prepare(models[m], name, academic ? "configs/academic.qcfg" : NULL,
                                     NULL, true, true, false);
            total += n;
        }
    size_t t = sweep_prepare("tinyencoder", "Academic_NLP", "configs/academic.qcfg", NULL, true,
                             true, false);
    size_t u = sweep_prepare("tinyattention", "Tensorrt_NLP", NULL, NULL, true, true, false);
    total += t + u;
    print_message("prepare in fixed mode, verifying each pass: %zu allocation points\n", total);
}

/* A table past the 512 modules whose module-tree filter is kept inline, and more than
 * the 16 override rules whose container flags are kept inline: those allocations (tree
 * order, qconfig propagation) fail cleanly too. */
static void
prepare_fails_cleanly_on_a_large_module_table(void **state)
{
    (void)state;
    size_t n = sweep_prepare("resstack110.qg", "Tensorrt", "resstack-override.qcfg", NULL, false,
                             false, false);
    print_message("prepare resstack110 (550 modules) with a per-module qconfig: %zu allocation "
                  "points\n",
                  n);
}

/* ==== prepare without the undo log ==== */

static qp_status
prepare_or_clear_op(qp_graph *g, const void *arg)
{
    const struct prep_arg *p = arg;
    return qp_prepare_qat_or_clear(g, p->be, p->cfg);
}

/* Sweeps qp_prepare_qat_or_clear of fixtures/MODEL.in.qg: run k fails the k-th
 * allocation (alone, then with every later one) of a freshly read graph. Every
 * failed run must give NOMEM with a message and leave either the graph as it was
 * (the first allocation is the empty graph to clear into) or a cleared one,
 * verifying as it did or as a new graph does, and leak nothing; the run without a
 * fault must give the fixture. Returns the allocation points. */
static size_t
sweep_prepare_or_clear(const char *model, const char *backend, const char *cfg_rel,
                       const char *fixture)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s.in.qg", model);
    struct prep_arg p;
    assert_int_equal(qp_backend_from_name(backend, &p.be), QP_OK);
    qp_config *c = cfg_rel ? qpt_config_file(cfg_rel) : NULL;
    p.cfg = c;
    size_t len;
    char *text = qpt_read_file(rel, &len);
    qpt_alloc st;
    qp_graph *g = parse_with(rel, text, len, &st), *e = NULL;
    char *before = qpt_graph_text(g);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    qp_graph_destroy(g);
    assert_int_equal(qp_graph_create(NULL, &e), QP_OK);
    char *empty = qpt_graph_text(e);
    qp_status empty_verified = qp_graph_verify(e, NULL, NULL);
    qp_graph_destroy(e);
    size_t n = 0, kept = 0, cleared = 0;
    for (size_t k = 1; !n; k++) {
        for (int after = 0; after < 2; after++) {
            g = parse_with(rel, text, len, &st);
            size_t failed;
            qp_status rc = run_armed(&st, k, after, prepare_or_clear_op, g, &p, &failed);
            if (!failed) {
                assert_int_equal(rc, QP_OK);
                n = k - 1;
                break;
            }
            if (rc != QP_ERR_NOMEM || !qp_graph_errmsg(g)[0]) {
                print_error("prepare_or_clear %s for %s: allocation %zu failing%s gave %s: '%s'\n",
                            model, backend, k, after ? " (and every later one)" : "",
                            qp_status_str(rc), qp_graph_errmsg(g));
                fail();
            }
            char *now = qpt_graph_text(g);
            if (!strcmp(now, before)) {
                kept++;
                assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
            } else if (!strcmp(now, empty)) {
                cleared++;
                assert_int_equal(qp_graph_num_nodes(g), 0);
                assert_int_equal(qp_graph_num_modules(g), 0);
                assert_int_equal(qp_graph_verify(g, NULL, NULL), empty_verified);
            } else {
                print_error("prepare_or_clear %s for %s: allocation %zu failing%s left a graph "
                            "neither as it was nor cleared\n",
                            model, backend, k, after ? " (and every later one)" : "");
                fail();
            }
            test_free(now);
            qp_graph_destroy(g);
            if (st.live) {
                print_error("prepare_or_clear %s for %s: allocation %zu failing%s leaked %zu "
                            "bytes\n",
                            model, backend, k, after ? " (and every later one)" : "", st.live);
                fail();
            }
        }
    }
    /* only the spare's own allocations leave the graph as it was */
    assert_true(cleared > kept && kept > 0);
    char *want = qpt_read_file(fixture, NULL);
    qp_graph *f = qpt_parse(want, NULL);
    char diff[2048];
    unsigned d = qpt_compare(f, g, diff, sizeof diff);
    if (d) {
        print_error("prepare_or_clear %s for %s: %u differences from %s\n%s", model, backend, d,
                    fixture, diff);
        fail();
    }
    qp_graph_destroy(f);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    test_free(want);
    test_free(empty);
    test_free(before);
    test_free(text);
    qp_config_destroy(c);
    return n;
}

static void
prepare_or_clear_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    size_t a =
        sweep_prepare_or_clear("resnet18", "Tensorrt", NULL, "fixtures/resnet18.Tensorrt.out.qg");
    size_t b = sweep_prepare_or_clear("tinyencoder", "Academic_NLP", "configs/academic.qcfg",
                                      "fixtures/tinyencoder.Academic_NLP.out.qg");
    size_t c = sweep_prepare_or_clear("mobilenet_v3_large", "OPENVINO", NULL,
                                      "fixtures/mobilenet_v3_large.OPENVINO.out.qg");
    print_message("prepare_or_clear: %zu + %zu + %zu allocation points\n", a, b, c);
}

/* ==== writing never allocates ==== */

struct sink {
    size_t bytes;
};

static int
sink_write(void *ud, const char *data, size_t len)
{
    (void)data;
    ((struct sink *)ud)->bytes += len;
    return 0;
}

static void
writing_text_and_dot_never_allocates(void **state)
{
    (void)state;
    static const char *const files[] = {"fixtures/resnet50.OPENVINO.out.qg",
                                        "fixtures/tinyencoder.Academic_NLP.out.qg",
                                        "fixtures/opsnet.in.qg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        qpt_alloc st;
        qp_graph *g = read_with(files[i], &st, 0);
        size_t calls = st.calls;
        /* every allocation from here on fails: writing must not notice */
        st.fail_at = calls + 1;
        st.fail_after = 1;
        struct sink a = {0}, b = {0};
        assert_int_equal(qp_graph_write_text(g, sink_write, &a), QP_OK);
        assert_int_equal(qp_graph_write_dot(g, sink_write, &b), QP_OK);
        FILE *f = tmpfile();
        assert_non_null(f);
        assert_int_equal(qp_graph_write_file(g, f), QP_OK);
        assert_int_equal((size_t)ftell(f), a.bytes);
        fclose(f);
        assert_int_equal(st.calls, calls);
        assert_int_equal(st.failed, 0);
        assert_true(a.bytes > 1000 && b.bytes > 1000);
        st.fail_at = 0;
        qp_graph_destroy(g);
        assert_int_equal(st.live, 0);
    }
    print_message("write text, write DOT: 0 allocation points (asserted)\n");
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reading_text_fails_cleanly_at_every_allocation),
        cmocka_unit_test(reading_configs_fails_cleanly_at_every_allocation),
        cmocka_unit_test(tracing_creating_and_cloning_fail_cleanly),
        cmocka_unit_test(mutators_fail_cleanly_at_every_allocation),
        cmocka_unit_test(verifying_fails_cleanly_at_every_allocation),
        cmocka_unit_test(prepare_fails_cleanly_for_every_fixture),
        cmocka_unit_test(prepare_fails_cleanly_in_fixed_mode_and_verifying_each_pass),
        cmocka_unit_test(prepare_fails_cleanly_on_a_large_module_table),
        cmocka_unit_test(prepare_or_clear_fails_cleanly_at_every_allocation),
        cmocka_unit_test(writing_text_and_dot_never_allocates),
    };
    return cmocka_run_group_tests_name("oom", tests, NULL, NULL);
}
