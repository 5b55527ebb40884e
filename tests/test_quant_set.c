/*
 * test_quant_set.c - every quantizer of a prepared graph (include/qprep/quant.h,
 * "Every quantizer of a prepared graph"): sets built from the conformance
 * fixtures (roles, owners and nodes, kinds and axes as the modules print them,
 * a ConvTranspose weight on axis 1, Vitis' quant_type), the keyword arguments
 * of the configuration honoured as qp_quant_create honours them, lookup by
 * path and by full name, mqbench.utils.state's switches, parameters, and the
 * state file: a bit-exact round trip, and bad files refused at their line and
 * column with the state unchanged.
 */
#include "testlib.h"

#include "textbuf.h"

#include <float.h>
#include <math.h>
#include <qprep/quant.h>

#include "quant/qset.h"

/* ==== helpers ==== */

static qp_graph *
read_fixture(const char *rel)
{
    size_t len;
    char *text = qpt_read_file(rel, &len);
    qp_graph *g = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, len, NULL, &g, &err);
    if (rc)
        fail_msg("%s:%u:%u: %s", rel, err.line, err.col, err.msg);
    test_free(text);
    return g;
}

static qp_quant_set *
make_set(const qp_graph *g, const char *backend, const qp_config *cfg, const qp_allocator *a)
{
    qp_backend be;
    assert_int_equal(qp_backend_from_name(backend, &be), QP_OK);
    qp_quant_set *s = NULL;
    qp_error err;
    qp_status rc = qp_quant_set_create(g, be, cfg, a, &s, &err);
    if (rc)
        fail_msg("set on %s: %s: %s", backend, qp_status_str(rc), err.msg);
    return s;
}

static void *
re(void *p, size_t n)
{
    return test_realloc(p, n);
}

static int
buf_write(void *ud, const char *data, size_t len)
{
    return qpt_textbuf_append(ud, data, len, re);
}

/* The state file of s (test_malloc'd, NUL-terminated). */
static char *
saved(const qp_quant_set *s)
{
    qpt_textbuf b = {NULL, 0, 0};
    assert_int_equal(qp_quant_set_save(s, buf_write, &b), QP_OK);
    assert_non_null(b.p);
    return b.p;
}

static bool
ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* A deterministic generator (xorshift64*), normal-ish values in about [-3, 3]. */
static uint64_t rng = 88172645463325252ull;

static float
rnd(void)
{
    float acc = 0;
    for (int k = 0; k < 4; k++) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        acc += (float)((rng * 2685821657736338717ull) >> 40) / (float)(1u << 24) - 0.5f;
    }
    return acc * 1.7f;
}

/* Runs one forward of every quantizer on random data of shape (4, 3, 2, 2). */
static void
feed(qp_quant_set *s)
{
    static const int64_t shape[4] = {4, 3, 2, 2};
    float x[48], y[48];
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        assert_int_equal(qp_quant_set_at(s, i, &e), QP_OK);
        for (int k = 0; k < 48; k++)
            x[k] = rnd() * (float)(1 + i % 7);
        qp_status rc = qp_quant_forward(e.q, x, y, shape, 4);
        if (rc)
            fail_msg("%s: %s", e.path, qp_quant_errmsg(e.q));
    }
}

/* ==== creation ==== */

static void
resnet18_tensorrt_roles_owners_nodes(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    /* what the graph says, module by module */
    uint32_t nw = 0, na = 0;
    for (qp_module m = qp_graph_first_module(g); m.id; m = qp_module_next(g, m)) {
        const char *p = qp_module_path(g, m), *t = qp_module_type(g, m);
        if (strncmp(t, "fq.", 3))
            continue;
        ends_with(p, ".weight_fake_quant") ? nw++ : na++;
    }
    assert_true(nw > 0 && na > 0);
    assert_int_equal(qp_quant_set_size(s), nw + na);
    uint32_t sw = 0, sa = 0;
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        assert_int_equal(qp_quant_set_at(s, i, &e), QP_OK);
        assert_ptr_equal(qp_quant_set_find(s, e.path), e.q);
        qp_module m = qp_graph_find_module(g, e.path);
        assert_true(m.id != 0);
        qp_quant_info in;
        qp_quant_get_info(e.q, &in);
        /* the kinds are the module's and its observer's type names */
        char obs[512];
        snprintf(obs, sizeof obs, "%s.activation_post_process", e.path);
        qp_module om = qp_graph_find_module(g, obs);
        assert_true(om.id != 0);
        assert_string_equal(qp_module_type(g, m) + 3, qp_fq_kind_name(in.fake_quant));
        assert_string_equal(qp_module_type(g, om) + 4, qp_obs_kind_name(in.observer));
        assert_int_equal(in.quant_min, qp_val_as_int(g, qp_module_attr(g, m, "quant_min")));
        assert_int_equal(in.quant_max, qp_val_as_int(g, qp_module_attr(g, m, "quant_max")));
        if (e.role == QP_WEIGHT) {
            sw++;
            assert_null(e.node);
            assert_non_null(e.owner);
            assert_true(strlen(e.owner) + strlen(".weight_fake_quant") == strlen(e.path));
            assert_true(!strncmp(e.path, e.owner, strlen(e.owner)));
            /* the owner holds the weight */
            qp_module ow = qp_graph_find_module(g, e.owner);
            assert_true(ow.id != 0);
            assert_true(qp_module_attr(g, ow, "weight_shape").id != 0);
            assert_int_equal(in.ch_axis, 0); /* Tensorrt: per channel, no ConvTranspose */
        } else {
            sa++;
            assert_null(e.owner);
            assert_non_null(e.node);
            qp_node n = qp_graph_find_node(g, e.node);
            assert_int_equal(qp_node_op(g, n), QP_OP_CALL_MODULE);
            assert_string_equal(qp_node_target(g, n), e.path);
            assert_int_equal(in.ch_axis, -1);
        }
    }
    assert_int_equal(sw, nw);
    assert_int_equal(sa, na);
    assert_null(qp_quant_set_find(s, "conv1"));
    assert_null(qp_quant_set_find(s, "nonexistent"));
    assert_null(qp_quant_set_find(s, ""));
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

static void
conv_transpose_weight_is_per_channel_on_axis_1(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/seednet.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    uint32_t transposed = 0;
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        if (e.role != QP_WEIGHT)
            continue;
        qp_quant_info in;
        qp_quant_get_info(e.q, &in);
        bool tr = strstr(qp_module_type(g, qp_graph_find_module(g, e.owner)), "ConvTranspose");
        transposed += tr;
        assert_int_equal(in.ch_axis, tr ? 1 : 0);
        /* a weight of shape (in, out, kh, kw) observed per output channel */
        static const int64_t shape[4] = {3, 5, 2, 2};
        float x[60], y[60];
        for (int k = 0; k < 60; k++)
            x[k] = rnd();
        assert_int_equal(qp_quant_forward(e.q, x, y, shape, 4), QP_OK);
        char name[512];
        snprintf(name, sizeof name, "%s.scale", e.path);
        qp_tensor t;
        assert_int_equal(qp_quant_set_state_get(s, name, &t), QP_OK);
        assert_int_equal(t.numel, tr ? 5 : 3);
    }
    assert_true(transposed > 0);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

static void
vitis_quant_types_are_the_modules(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/seednet.Vitis.out.qg");
    qp_quant_set *s = make_set(g, "Vitis", NULL, NULL);
    uint32_t seen[2] = {0, 0};
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        qp_quant_info in;
        qp_quant_get_info(e.q, &in);
        qp_val v = qp_module_attr(g, qp_graph_find_module(g, e.path), "quant_type");
        assert_true(v.id != 0);
        assert_non_null(in.quant_type);
        assert_string_equal(in.quant_type, qp_val_as_str(g, v, NULL));
        seen[e.role]++;
    }
    assert_true(seen[QP_WEIGHT] > 0 && seen[QP_ACT] > 0);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

/* A quantizer of a set and the one qp_quant_create builds for its role from the
 * same backend, configuration, axis and quant_type: same info, same state after
 * the same data (so every keyword argument reached both). False (nothing
 * compared) where prepare gave the module another range (Academic keeps the
 * first and last layers at 8 bits). */
static bool
same_as_created(qp_backend be, const qp_config *cfg, const qp_quant_entry *e)
{
    qp_quant_info a, b;
    qp_quant_get_info(e->q, &a);
    qp_quant_opts o = qp_quant_opts_default();
    o.ch_axis = a.ch_axis;
    o.quant_type = a.quant_type;
    qp_quant *q = NULL;
    qp_error err;
    qp_status rc = qp_quant_create(NULL, be, e->role, cfg, &o, &q, &err);
    if (rc)
        fail_msg("%s: %s", e->path, err.msg);
    qp_quant_get_info(q, &b);
    if (a.quant_min != b.quant_min || a.quant_max != b.quant_max) {
        qp_quant_destroy(q);
        return false;
    }
    assert_int_equal(a.fake_quant, b.fake_quant);
    assert_int_equal(a.observer, b.observer);
    assert_int_equal(a.quant_min, b.quant_min);
    assert_int_equal(a.quant_max, b.quant_max);
    assert_int_equal(a.ch_axis, b.ch_axis);
    assert_int_equal(a.symmetric, b.symmetric);
    assert_int_equal(a.pot_scale, b.pot_scale);
    static const int64_t shape[2] = {6, 40};
    float x[240], y1[240], y2[240], dy[240], dx1[240], dx2[240];
    for (int step = 0; step < 3; step++) {
        for (int k = 0; k < 240; k++) {
            x[k] = rnd() * (float)(step + 1);
            dy[k] = rnd();
        }
        bool obs = step<2, fq = step> 0;
        qp_quant_enable_observer(e->q, obs);
        qp_quant_enable_observer(q, obs);
        qp_quant_enable_fake_quant(e->q, fq);
        qp_quant_enable_fake_quant(q, fq);
        assert_int_equal(qp_quant_forward(e->q, x, y1, shape, 2), QP_OK);
        assert_int_equal(qp_quant_forward(q, x, y2, shape, 2), QP_OK);
        assert_memory_equal(y1, y2, sizeof y1);
        assert_int_equal(qp_quant_backward(e->q, x, dy, dx1, shape, 2), QP_OK);
        assert_int_equal(qp_quant_backward(q, x, dy, dx2, shape, 2), QP_OK);
        assert_memory_equal(dx1, dx2, sizeof dx1);
    }
    assert_int_equal(qp_quant_num_state(e->q), qp_quant_num_state(q));
    for (uint32_t i = 0; i < qp_quant_num_state(q); i++) {
        const char *n1, *n2;
        qp_tensor t1, t2;
        qp_quant_state_at(e->q, i, &n1, &t1);
        qp_quant_state_at(q, i, &n2, &t2);
        assert_string_equal(n1, n2);
        assert_int_equal(t1.dtype, t2.dtype);
        assert_int_equal(t1.numel, t2.numel);
        size_t es = t1.dtype == QP_DT_I64 ? 8 : t1.dtype <= QP_DT_I32 ? 4 : 1;
        if (memcmp(t1.data, t2.data, t1.numel * es))
            fail_msg("%s.%s differs from qp_quant_create's", e->path, n1);
    }
    qp_quant_destroy(q);
    return true;
}

static void
keyword_arguments_reach_every_quantizer(void **state)
{
    (void)state;
    /* keywords the prepared graph does not print: PACT's alpha, the quantile
     * observer's threshold and bins, the MSE observer's p */
    static const char *const cfgs[] = {
        "qcfg 1\nextra_qconfig_dict = {w_observer: \"MSEObserver\", a_observer: "
        "\"EMAQuantileObserver\", w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: "
        "\"PACTFakeQuantize\", w_qscheme: {bit: 5, symmetry: True, per_channel: True, pot_scale: "
        "False}, a_qscheme: {bit: 6, symmetry: False, per_channel: False, pot_scale: False}, "
        "a_fakeq_params: {alpha: 2.5}, a_observer_extra_args: {threshold: 0.9, bins: 64}, "
        "w_observer_extra_args: {p: 2.4}}\n",
        "qcfg 1\nextra_qconfig_dict = {w_observer: \"ClipStdObserver\", a_observer: "
        "\"EMAMSEObserver\", w_fakequantize: \"LearnableFakeQuantize\", a_fakequantize: "
        "\"LearnableFakeQuantize\", w_qscheme: {bit: 4, symmetry: True, per_channel: False, "
        "pot_scale: False}, a_qscheme: {bit: 8, symmetry: False, per_channel: False, pot_scale: "
        "False}, w_observer_extra_args: {std_scale: 1.5}, a_observer_extra_args: {ema_ratio: "
        "0.5, p: 3.0}, a_fakeq_params: {use_grad_scaling: False}}\n",
    };
    size_t len;
    char *in = qpt_read_file("fixtures/resnet18.in.qg", &len);
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        qp_config *cfg = qpt_config(cfgs[c]);
        char *out = qpt_prepare(in, QP_BACKEND_ACADEMIC, cfg, QP_OK);
        qp_graph *g = qpt_parse(out, NULL);
        qp_quant_set *s = make_set(g, "Academic", cfg, NULL);
        assert_true(qp_quant_set_size(s) > 0);
        uint32_t compared[2] = {0, 0};
        for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
            qp_quant_entry e;
            qp_quant_set_at(s, i, &e);
            compared[e.role] += same_as_created(QP_BACKEND_ACADEMIC, cfg, &e);
        }
        assert_true(compared[QP_WEIGHT] > 10 && compared[QP_ACT] > 10);
        if (c == 0) {
            /* PACT's alpha as given, not its default */
            qp_tensor t;
            assert_int_equal(qp_quant_set_state_get(s, "x_post_act_fake_quantizer.alpha", &t),
                             QP_OK);
            assert_true(((float *)t.data)[0] == 2.5f);
        }
        qp_quant_set_destroy(s);
        qp_graph_destroy(g);
        test_free(out);
        qp_config_destroy(cfg);
    }
    test_free(in);
}

static void
every_fixture_makes_a_set(void **state)
{
    (void)state;
    char **names;
    size_t n = qpt_list("fixtures", ".out.qg", &names);
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        qpt_fixture fx;
        assert_true(qpt_fixture_parse(names[i], &fx));
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/%s", names[i]);
        qp_graph *g = read_fixture(rel);
        qp_config *cfg = fx.cfg_rel[0] ? qpt_config_file(fx.cfg_rel) : NULL;
        qp_quant_set *s = make_set(g, fx.backend, cfg, NULL);
        uint32_t nfq = 0;
        for (qp_module m = qp_graph_first_module(g); m.id; m = qp_module_next(g, m))
            nfq += !strncmp(qp_module_type(g, m), "fq.", 3);
        assert_int_equal(qp_quant_set_size(s), nfq);
        /* every state entry is reached by its full name */
        for (uint32_t k = 0; k < qp_quant_set_num_state(s); k++) {
            const char *name;
            qp_tensor a, b;
            assert_int_equal(qp_quant_set_state_at(s, k, &name, &a), QP_OK);
            assert_int_equal(qp_quant_set_state_get(s, name, &b), QP_OK);
            assert_ptr_equal(a.data, b.data);
        }
        qp_quant_set_destroy(s);
        qp_config_destroy(cfg);
        qp_graph_destroy(g);
    }
    qpt_free_list(names, n);
}

static void
bad_arguments(void **state)
{
    (void)state;
    qp_quant_set *s = (qp_quant_set *)1;
    qp_error err;
    assert_int_equal(qp_quant_set_create(NULL, QP_BACKEND_TENSORRT, NULL, NULL, &s, &err),
                     QP_ERR_NULL_ARG);
    assert_null(s);
    assert_int_equal(err.status, QP_ERR_NULL_ARG);
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    assert_int_equal(qp_quant_set_create(g, QP_BACKEND_TENSORRT, NULL, NULL, NULL, &err),
                     QP_ERR_NULL_ARG);
    /* an Academic backend has no defaults, as in prepare */
    s = (qp_quant_set *)1;
    assert_int_not_equal(qp_quant_set_create(g, QP_BACKEND_ACADEMIC, NULL, NULL, &s, &err), QP_OK);
    assert_null(s);
    assert_true(strlen(err.msg) > 0);
    /* a fake-quantizer without its observer, named in the message */
    qp_module m = qp_graph_find_module(g, "conv1.weight_fake_quant.activation_post_process");
    assert_int_equal(qp_graph_remove_module(g, m), QP_OK);
    s = (qp_quant_set *)1;
    assert_int_equal(qp_quant_set_create(g, QP_BACKEND_TENSORRT, NULL, NULL, &s, &err),
                     QP_ERR_INVALID_GRAPH);
    assert_null(s);
    qpt_contains(err.msg, "conv1.weight_fake_quant");
    qp_graph_destroy(g);
    /* a graph without fake-quantizers gives an empty set */
    g = read_fixture("fixtures/resnet18.in.qg");
    s = make_set(g, "Tensorrt", NULL, NULL);
    assert_int_equal(qp_quant_set_size(s), 0);
    assert_int_equal(qp_quant_set_num_state(s), 0);
    char *text = saved(s);
    assert_string_equal(text, "qstate 1\n");
    assert_int_equal(qp_quant_set_load_text(s, text, strlen(text), &err), QP_OK);
    test_free(text);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
    /* NULL everywhere else */
    assert_int_equal(qp_quant_set_size(NULL), 0);
    assert_null(qp_quant_set_find(NULL, "x"));
    assert_int_equal(qp_quant_set_save(NULL, buf_write, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_quant_set_load_text(NULL, "", 0, &err), QP_ERR_NULL_ARG);
    qp_quant_set_destroy(NULL);
}

/* ==== switches ==== */

static void
expect_switches(qp_quant_set *s, int wobs, int wfq, int aobs, int afq)
{
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        bool w = e.role == QP_WEIGHT;
        assert_int_equal(qp_quant_observer_enabled(e.q), w ? wobs : aobs);
        assert_int_equal(qp_quant_fake_quant_enabled(e.q), w ? wfq : afq);
        /* the buffers follow the flags */
        char name[512];
        qp_tensor t;
        snprintf(name, sizeof name, "%s.observer_enabled", e.path);
        assert_int_equal(qp_quant_set_state_get(s, name, &t), QP_OK);
        assert_int_equal(((uint8_t *)t.data)[0], w ? wobs : aobs);
        snprintf(name, sizeof name, "%s.fake_quant_enabled", e.path);
        assert_int_equal(qp_quant_set_state_get(s, name, &t), QP_OK);
        assert_int_equal(((uint8_t *)t.data)[0], w ? wfq : afq);
    }
}

static void
switches_as_mqbench_utils_state(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    expect_switches(s, 1, 1, 1, 1); /* as constructed */
    qp_quant_set_enable_calibration(s);
    expect_switches(s, 1, 0, 1, 0);
    qp_quant_set_enable_quantization(s, false, false);
    expect_switches(s, 0, 1, 0, 1);
    qp_quant_set_enable_quantization(s, true, false);
    expect_switches(s, 1, 1, 0, 1);
    qp_quant_set_enable_quantization(s, false, true);
    expect_switches(s, 0, 1, 1, 1);
    qp_quant_set_disable_all(s);
    expect_switches(s, 0, 0, 0, 0);
    qp_quant_set_enable_all(s);
    expect_switches(s, 1, 1, 1, 1);
    /* calibration of some by name, the others off */
    qp_quant_entry w, a;
    qp_quant_set_at(s, 0, &w);
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_set_at(s, i, &a);
        if (a.role == QP_ACT)
            break;
    }
    const char *names[2] = {w.path, a.path};
    assert_int_equal(qp_quant_set_calibrate_only(s, names, 2), QP_OK);
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        bool on = e.q == w.q || e.q == a.q;
        assert_int_equal(qp_quant_observer_enabled(e.q), on);
        assert_false(qp_quant_fake_quant_enabled(e.q));
    }
    /* an unknown name changes nothing */
    qp_quant_set_enable_all(s);
    const char *bad[2] = {w.path, "layer9.conv1.weight_fake_quant"};
    assert_int_equal(qp_quant_set_calibrate_only(s, bad, 2), QP_ERR_NOT_FOUND);
    qpt_contains(qp_quant_set_errmsg(s), "layer9.conv1.weight_fake_quant");
    expect_switches(s, 1, 1, 1, 1);
    assert_int_equal(qp_quant_set_calibrate_only(s, NULL, 0), QP_OK);
    expect_switches(s, 0, 0, 0, 0);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

/* ==== parameters and state by full name ==== */

static void
parameters_by_full_name(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    uint32_t total = 0;
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        total += qp_quant_num_params(e.q);
    }
    assert_true(total > 0);
    assert_int_equal(qp_quant_set_num_params(s), total);
    /* set-wide numbering: quantizer by quantizer, each in its own order */
    uint32_t k = 0;
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        for (uint32_t j = 0; j < qp_quant_num_params(e.q); j++, k++) {
            qp_quant_param p, sp;
            assert_int_equal(qp_quant_param_at(e.q, j, &p), QP_OK);
            assert_int_equal(qp_quant_set_param_at(s, k, &sp), QP_OK);
            char full[512];
            snprintf(full, sizeof full, "%s.%s", e.path, p.name);
            assert_string_equal(sp.name, full);
            assert_ptr_equal(sp.data, p.data);
            assert_ptr_equal(sp.grad, p.grad);
            assert_int_equal(sp.numel, p.numel);
            qp_tensor t;
            assert_int_equal(qp_quant_set_state_get(s, full, &t), QP_OK);
            assert_ptr_equal(t.data, p.data);
        }
    }
    qp_quant_param p;
    assert_int_equal(qp_quant_set_param_at(s, total, &p), QP_ERR_INVALID_ARG);
    /* gradients accumulate; zero_grad clears every one */
    qp_quant_set_enable_all(s);
    feed(s);
    static const int64_t shape[4] = {4, 3, 2, 2};
    float x[48], dy[48], dx[48];
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        for (int j = 0; j < 48; j++) {
            x[j] = rnd();
            dy[j] = rnd();
        }
        assert_int_equal(qp_quant_backward(e.q, x, dy, dx, shape, 4), QP_OK);
    }
    bool any = false;
    for (uint32_t i = 0; i < total; i++) {
        qp_quant_set_param_at(s, i, &p);
        for (size_t j = 0; j < p.numel; j++)
            any |= p.grad[j] != 0;
    }
    assert_true(any);
    qp_quant_set_zero_grad(s);
    for (uint32_t i = 0; i < total; i++) {
        qp_quant_set_param_at(s, i, &p);
        for (size_t j = 0; j < p.numel; j++)
            assert_true(p.grad[j] == 0);
    }
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

static void
state_by_full_name(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    uint32_t total = 0;
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_set_at(s, i, &e);
        for (uint32_t j = 0; j < qp_quant_num_state(e.q); j++, total++) {
            const char *key, *full;
            qp_tensor a, b;
            qp_quant_state_at(e.q, j, &key, &a);
            assert_int_equal(qp_quant_set_state_at(s, total, &full, &b), QP_OK);
            char want[512];
            snprintf(want, sizeof want, "%s.%s", e.path, key);
            assert_string_equal(full, want);
            assert_ptr_equal(a.data, b.data);
        }
    }
    assert_int_equal(qp_quant_set_num_state(s), total);
    qp_tensor t;
    const char *name;
    assert_int_equal(qp_quant_set_state_at(s, total, &name, &t), QP_ERR_INVALID_ARG);
    /* names that are no entry */
    static const char *const missing[] = {
        "conv1.weight_fake_quant",
        "conv1.weight_fake_quant.",
        "conv1.weight_fake_quant.alpha",
        "conv1.weight_fake_quant.activation_post_process",
        ".scale",
        "scale",
        "",
        "conv1.scale",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        assert_int_equal(qp_quant_set_state_get(s, missing[i], &t), QP_ERR_NOT_FOUND);
    /* set: a value, a wrong kind, a wrong shape, a per-channel resize */
    float v = 0.25f;
    qp_tensor in = {QP_DT_F32, 1, {1}, 1, &v};
    const char *sc = "x_post_act_fake_quantizer.scale";
    assert_int_equal(qp_quant_set_state_set(s, sc, &in), QP_OK);
    assert_int_equal(qp_quant_set_state_get(s, sc, &t), QP_OK);
    assert_true(((float *)t.data)[0] == 0.25f);
    in.dtype = QP_DT_I32;
    assert_int_equal(qp_quant_set_state_set(s, sc, &in), QP_ERR_INVALID_ARG);
    qpt_contains(qp_quant_set_errmsg(s), "x_post_act_fake_quantizer");
    float two[2] = {1, 2};
    qp_tensor in2 = {QP_DT_F32, 1, {2}, 2, two};
    assert_int_equal(qp_quant_set_state_set(s, sc, &in2), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_quant_set_state_set(s, "conv1.weight_fake_quant.scale", &in2), QP_OK);
    assert_int_equal(qp_quant_set_state_get(s, "conv1.weight_fake_quant.scale", &t), QP_OK);
    assert_int_equal(t.numel, 2);
    assert_int_equal(qp_quant_set_state_set(s, "conv1.weight_fake_quant.nope", &in2),
                     QP_ERR_NOT_FOUND);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

/* ==== state files ==== */

static void
save_load_round_trip_is_bit_exact(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *a = make_set(g, "Tensorrt", NULL, NULL);
    qp_quant_set *b = make_set(g, "Tensorrt", NULL, NULL);
    qp_quant_set_enable_calibration(a);
    feed(a);
    feed(a);
    qp_quant_set_enable_quantization(a, false, true);
    feed(a);
    /* awkward floats in a learnable scale: subnormals, extremes, -0, powers of two
     * and their neighbours, and random bit patterns */
    float odd[64];
    static const float fixed[] = {0.1f,  -0.0f, FLT_MIN, FLT_MAX,  -FLT_MAX,  FLT_TRUE_MIN, 1e-45f,
                                  1e38f, 1.0f,  0.5f,    INFINITY, -INFINITY, 3.0e-39f};
    size_t nf = sizeof fixed / sizeof fixed[0];
    memcpy(odd, fixed, sizeof fixed);
    for (size_t i = nf; i < 64; i++) {
        uint32_t u;
        do {
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            u = (uint32_t)((rng * 2685821657736338717ull) >> 32);
            if (i % 3 == 0)
                u = (u & 0x80000000u) | ((u & 0xffu) << 23) | 0x1u; /* just above a power of 2 */
        } while ((u & 0x7f800000u) == 0x7f800000u);
        memcpy(&odd[i], &u, 4);
    }
    qp_tensor t = {QP_DT_F32, 1, {64}, 64, odd};
    assert_int_equal(qp_quant_set_state_set(a, "conv1.weight_fake_quant.scale", &t), QP_OK);
    char *text = saved(a);
    qp_error err;
    assert_int_equal(qp_quant_set_load_text(b, text, strlen(text), &err), QP_OK);
    /* every entry bit for bit, and the same text again */
    assert_int_equal(qp_quant_set_num_state(a), qp_quant_set_num_state(b));
    for (uint32_t i = 0; i < qp_quant_set_num_state(a); i++) {
        const char *na, *nb;
        qp_tensor ta, tb;
        qp_quant_set_state_at(a, i, &na, &ta);
        qp_quant_set_state_at(b, i, &nb, &tb);
        assert_string_equal(na, nb);
        assert_int_equal(ta.dtype, tb.dtype);
        assert_int_equal(ta.ndim, tb.ndim);
        assert_memory_equal(ta.shape, tb.shape, sizeof ta.shape);
        assert_int_equal(ta.numel, tb.numel);
        size_t es = ta.dtype == QP_DT_I64 ? 8 : ta.dtype <= QP_DT_I32 ? 4 : 1;
        if (memcmp(ta.data, tb.data, ta.numel * es))
            fail_msg("%s differs after the round trip", na);
    }
    char *again = saved(b);
    assert_string_equal(text, again);
    /* switches come back with the buffers */
    for (uint32_t i = 0; i < qp_quant_set_size(a); i++) {
        qp_quant_entry ea, eb;
        qp_quant_set_at(a, i, &ea);
        qp_quant_set_at(b, i, &eb);
        assert_int_equal(qp_quant_observer_enabled(ea.q), qp_quant_observer_enabled(eb.q));
        assert_int_equal(qp_quant_fake_quant_enabled(ea.q), qp_quant_fake_quant_enabled(eb.q));
    }
    /* through a FILE as well */
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(qp_quant_set_save_file(a, f), QP_OK);
    rewind(f);
    qp_quant_set *c = make_set(g, "Tensorrt", NULL, NULL);
    assert_int_equal(qp_quant_set_load_file(c, f, &err), QP_OK);
    fclose(f);
    char *third = saved(c);
    assert_string_equal(text, third);
    test_free(third);
    test_free(again);
    test_free(text);
    qp_quant_set_destroy(c);
    qp_quant_set_destroy(b);
    qp_quant_set_destroy(a);
    qp_graph_destroy(g);
}

static void
partial_files_and_comments(void **state)
{
    (void)state;
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    char *before = saved(s);
    static const char file[] = "# a comment\n\nqstate 1\r\n"
                               "  # indented comment\n"
                               "tensor conv1.weight_fake_quant.scale f32 (3,) [0.5, 1e-3, 2]\n"
                               "tensor x_post_act_fake_quantizer.fake_quant_enabled u8 ( 1 , ) "
                               "[ 0 ]  \n"
                               "tensor conv1.weight_fake_quant.activation_post_process.min_val "
                               "f32 (3,) [-inf, -1.5, nan]";
    qp_error err;
    qp_status rc = qp_quant_set_load_text(s, file, sizeof file - 1, &err);
    if (rc)
        fail_msg("%u:%u: %s", err.line, err.col, err.msg);
    qp_tensor t;
    assert_int_equal(qp_quant_set_state_get(s, "conv1.weight_fake_quant.scale", &t), QP_OK);
    assert_int_equal(t.numel, 3);
    assert_true(((float *)t.data)[1] == 1e-3f && ((float *)t.data)[2] == 2.0f);
    assert_int_equal(
        qp_quant_set_state_get(s, "conv1.weight_fake_quant.activation_post_process.min_val", &t),
        QP_OK);
    assert_true(isinf(((float *)t.data)[0]) && isnan(((float *)t.data)[2]));
    assert_false(qp_quant_fake_quant_enabled(qp_quant_set_find(s, "x_post_act_fake_quantizer")));
    assert_true(qp_quant_observer_enabled(qp_quant_set_find(s, "x_post_act_fake_quantizer")));
    /* the rest kept its values: only the three lines differ */
    char *after = saved(s);
    size_t diff = 0;
    for (const char *p = before, *q = after; *p && *q;) {
        const char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
        diff += (pe - p != qe - q) || memcmp(p, q, (size_t)(pe - p));
        p = pe + 1;
        q = qe + 1;
    }
    assert_int_equal(diff, 3);
    test_free(after);
    test_free(before);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

struct bad {
    const char *text;
    qp_status st;
    uint32_t line, col;
    const char *says;
};

static void
bad_files_are_refused_where_they_are_wrong(void **state)
{
    (void)state;
#define GOOD "tensor conv1.weight_fake_quant.scale f32 (2,) [3.5, 4.5]\n"
    static const struct bad cases[] = {
        {"", QP_ERR_PARSE, 1, 1, "qstate 1"},
        {"# only a comment\n", QP_ERR_PARSE, 1, 1, "qstate 1"},
        {"qstate 2\n", QP_ERR_PARSE, 1, 1, "qstate 1"},
        {"qnum 1\n", QP_ERR_PARSE, 1, 1, "qstate 1"},
        {"qstate 1\n" GOOD "tensor conv1.weight_fake_quant.sc f32 (1,) [1.0]\n", QP_ERR_NOT_FOUND,
         3, 8, "conv1.weight_fake_quant.sc"},
        {"qstate 1\n" GOOD "tensor nothing.scale f32 (1,) [1.0]\n", QP_ERR_NOT_FOUND, 3, 8,
         "nothing.scale"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale i32 (1,) [1]\n",
         QP_ERR_INVALID_ARG, 3, 40, "x_post_act_fake_quantizer.scale"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (2,) [1.0, 2.0]\n",
         QP_ERR_INVALID_ARG, 3, 44, "x_post_act_fake_quantizer.scale"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 () [1.0]\n",
         QP_ERR_INVALID_ARG, 3, 44, "x_post_act_fake_quantizer.scale"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (1,) [1.0, 2.0]\n",
         QP_ERR_PARSE, 3, 49, "2 values for 1 elements"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (1,) []\n", QP_ERR_PARSE, 3,
         49, "0 values for 1 elements"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (1,) [1.0x]\n", QP_ERR_PARSE,
         3, 50, "bad number '1.0x'"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (1,) [1e39]\n", QP_ERR_PARSE,
         3, 50, "float32 range"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (1,) [1.0\n", QP_ERR_PARSE,
         3, 53, "']'"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f32 (1, [1.0]\n", QP_ERR_PARSE,
         3, 48, "shape"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.scale f64 (1,) [1.0]\n", QP_ERR_PARSE,
         3, 40, "unknown kind 'f64'"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.fake_quant_enabled u8 (1,) [256]\n",
         QP_ERR_PARSE, 3, 62, "x_post_act_fake_quantizer.fake_quant_enabled"},
        {"qstate 1\n" GOOD "tensor x_post_act_fake_quantizer.fake_quant_enabled u8 (1,) [-1]\n",
         QP_ERR_PARSE, 3, 62, "[0, 255]"},
        {"qstate 1\n" GOOD "tensor conv1.weight_fake_quant.scale f32 (1,) [1.0]\n", QP_ERR_DUP_NAME,
         3, 8, "line 2"},
        {"qstate 1\n" GOOD "tensor\n", QP_ERR_PARSE, 3, 1, "tensor NAME"},
        {"qstate 1\n" GOOD "tensor \n", QP_ERR_PARSE, 3, 1, "tensor NAME"},
        {"qstate 1\n" GOOD "scale 1.0\n", QP_ERR_PARSE, 3, 1, "tensor NAME"},
        {"qstate 1\n" GOOD " tensor a f32 () [1]\n", QP_ERR_PARSE, 3, 1, "space"},
        {"qstate 1\nqstate 1\n", QP_ERR_PARSE, 2, 1, "tensor NAME"},
        {"qstate 1\n" GOOD "tensor conv1.weight_fake_quant.eps\n", QP_ERR_PARSE, 3, 35, "kind"},
        {"qstate 1\n" GOOD "tensor conv1.weight_fake_quant.zero_point f32 (2, 2) [1, 2, 3, 4]\n",
         QP_ERR_INVALID_ARG, 3, 47, "conv1.weight_fake_quant.zero_point"},
        {"qstate 1\n" GOOD "tensor conv1.weight_fake_quant.eps f32 (99999999999999999999,) [1]\n",
         QP_ERR_PARSE, 3, 41, "bad size"},
        {"qstate 1\n" GOOD "tensor conv1.weight_fake_quant.eps f32 (1,)[1]\n", QP_ERR_PARSE, 3, 44,
         "' ['"},
    };
#undef GOOD
    qp_graph *g = read_fixture("fixtures/resnet18.Tensorrt.out.qg");
    qp_quant_set *s = make_set(g, "Tensorrt", NULL, NULL);
    qp_quant_set_enable_calibration(s);
    feed(s);
    char *before = saved(s);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad *c = &cases[i];
        qp_error err;
        qp_status rc = qp_quant_set_load_text(s, c->text, strlen(c->text), &err);
        if ((rc != c->st || err.line != c->line || err.col != c->col || !strstr(err.msg, c->says)))
            fail_msg("case %zu: got %s at %u:%u: %s; wanted %s at %u:%u saying %s", i,
                     qp_status_str(rc), err.line, err.col, err.msg, qp_status_str(c->st), c->line,
                     c->col, c->says);
        assert_int_equal(err.status, rc);
        /* the set's message says the same, with the place */
        char where[32];
        snprintf(where, sizeof where, "%u:%u: ", c->line, c->col);
        assert_true(!strncmp(qp_quant_set_errmsg(s), where, strlen(where)));
        /* nothing applied, not even the good line before */
        char *after = saved(s);
        assert_string_equal(before, after);
        test_free(after);
        /* without an error record too */
        assert_int_equal(qp_quant_set_load_text(s, c->text, strlen(c->text), NULL), c->st);
    }
    test_free(before);
    qp_quant_set_destroy(s);
    qp_graph_destroy(g);
}

/* The state file's float32 writer (a binary search over lengths) writes what
 * qp__fmt_float (one try per length) writes for the value widened. */
static void
floats_are_written_as_the_library_writes_them(void **state)
{
    (void)state;
    char a[32], b[32];
    uint64_t r = 0x853c49e6748fea9bull;
    for (uint32_t i = 0; i < 200000; i++) {
        uint32_t u;
        if (i < 1024) { /* every exponent, mantissas at and next to the power of two */
            u = ((i >> 2) << 23) | (i & 1 ? 1u : i & 2 ? 0x7fffffu : 0u);
            u |= (i & 512) ? 0x80000000u : 0;
        } else {
            r ^= r >> 12;
            r ^= r << 25;
            r ^= r >> 27;
            u = (uint32_t)((r * 2685821657736338717ull) >> 32);
        }
        float f;
        memcpy(&f, &u, sizeof f);
        size_t na = qp__qset_fmt_f32(f, a), nb = qp__fmt_float((double)f, b);
        a[na] = b[nb] = 0;
        if (strcmp(a, b))
            fail_msg("0x%08x: %s, not %s", (unsigned)u, a, b);
    }
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resnet18_tensorrt_roles_owners_nodes),
        cmocka_unit_test(conv_transpose_weight_is_per_channel_on_axis_1),
        cmocka_unit_test(vitis_quant_types_are_the_modules),
        cmocka_unit_test(keyword_arguments_reach_every_quantizer),
        cmocka_unit_test(every_fixture_makes_a_set),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(switches_as_mqbench_utils_state),
        cmocka_unit_test(parameters_by_full_name),
        cmocka_unit_test(state_by_full_name),
        cmocka_unit_test(save_load_round_trip_is_bit_exact),
        cmocka_unit_test(partial_files_and_comments),
        cmocka_unit_test(bad_files_are_refused_where_they_are_wrong),
        cmocka_unit_test(floats_are_written_as_the_library_writes_them),
    };
    return cmocka_run_group_tests_name("quant_set", tests, NULL, NULL);
}
