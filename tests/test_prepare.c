/*
 * test_prepare.c - qp_prepare_qat end to end on small graphs: the report's
 * exact counts, failures that leave the graph unchanged, refusal of prepared
 * graphs, explanations, the caller's pointers kept across fusion and swap,
 * the log hook, and every backend on a model that exercises it.
 */
#include "testlib.h"

#include <string.h>

static const char small[] =
    "qgraph 1\n"
    "module conv nn.Conv2d {in_channels: 3, out_channels: 8, kernel_size: (3, 3), stride: "
    "(1, 1), padding: (1, 1), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", "
    "output_padding: (0, 0), bias: True, weight_shape: (8, 3, 3, 3)}\n"
    "module bn nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: 0.1, affine: True, "
    "track_running_stats: True, bias: True, weight_shape: (8,)}\n"
    "module relu nn.ReLU {inplace: False}\n"
    "module pool nn.AdaptiveAvgPool2d {output_size: (1, 1)}\n"
    "module fc nn.Linear {in_features: 8, out_features: 4, bias: True, weight_shape: (4, 8)}\n"
    "%x = placeholder x () {}\n"
    "%conv = call_module conv (%x,) {}\n"
    "%bn = call_module bn (%conv,) {}\n"
    "%relu = call_module relu (%bn,) {}\n"
    "%pool = call_module pool (%relu,) {}\n"
    "%flatten = call_function torch.flatten (%pool, 1) {}\n"
    "%fc = call_module fc (%flatten,) {}\n"
    "%output = output output (%fc,) {}\n";

static void
report_counts_are_exact(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(small, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_report *r = qp_graph_report(g);
    assert_int_equal(r->npass, 6);
    assert_int_equal(r->nodes_before, 8);
    assert_int_equal(r->nodes_after, 9);
    assert_int_equal(r->modules_before, 5);
    const qp_pass_stats *f = qpt_pass_stats(r, "fuse");
    assert_int_equal(f->matched, 1);
    assert_int_equal(f->nodes_erased, 2);
    const qp_pass_stats *s = qpt_pass_stats(r, "swap");
    assert_int_equal(s->modules_swapped, 2);
    const qp_pass_stats *q = qpt_pass_stats(r, "fakequant");
    assert_int_equal(q->fq_inserted, 3); /* x (conv), conv (pool), flatten (fc) */
    assert_int_equal(q->nodes_added, 3);
    assert_int_equal(q->uses_rewired, 3);
    /* the modules: the fused conv with its bn, two weight quantizers, three activation ones */
    assert_int_equal(r->modules_after, 2 + 1 + 2 * 2 + 3 * 2 + 1);
    char *out = qpt_graph_text(g);
    qpt_contains(out, "module conv nniqat.ConvBnReLU2d {");
    qpt_contains(out, "module conv.bn nn.BatchNorm2d {num_features: 8");
    qpt_contains(out,
                 "%x_post_act_fake_quantizer = call_module x_post_act_fake_quantizer (%x,) {}");
    qpt_contains(out, "%conv = call_module conv (%x_post_act_fake_quantizer,) {}");
    qpt_contains(out, "%fc = call_module fc (%flatten_post_act_fake_quantizer,) {}");
    qpt_lacks(out, "module relu ");
    test_free(out);
    qp_graph_destroy(g);
}

static void
failure_leaves_graph_unchanged(void **state)
{
    (void)state;
    char *msg = qpt_prepare(small, QP_BACKEND_ACADEMIC, NULL, QP_ERR_INVALID_CONFIG);
    qpt_contains(msg, "Academic");
    qpt_contains(msg, "w_qscheme");
    test_free(msg);
    /* a configuration that lacks one required key names it */
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxObserver\", "
                              "a_observer: \"EMAMinMaxObserver\", w_fakequantize: "
                              "\"FixedFakeQuantize\", w_qscheme: {bit: 4}, a_qscheme: {bit: 4}}\n");
    msg = qpt_prepare(small, QP_BACKEND_ACADEMIC, c, QP_ERR_INVALID_CONFIG);
    qpt_contains(msg, "a_fakequantize");
    test_free(msg);
    qp_config_destroy(c);
    /* an observer that rejects a keyword fails inside the passes: still unchanged */
    c = qpt_config("qcfg 1\nextra_qconfig_dict = {a_observer: \"MinMaxObserver\", "
                   "a_observer_extra_args: {ema_ratio: 0.5}}\n");
    msg = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_ERR_INVALID_CONFIG);
    qpt_contains(msg, "MinMaxObserver");
    qpt_contains(msg, "ema_ratio");
    test_free(msg);
    qp_config_destroy(c);
}

static void
prepared_graph_is_refused(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(small, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_SNPE, NULL), QP_OK);
    char *before = qpt_graph_text(g);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_SNPE, NULL), QP_ERR_ALREADY_PREPARED);
    qpt_contains(qp_graph_errmsg(g), "already prepared");
    char *after = qpt_graph_text(g);
    assert_string_equal(before, after);
    test_free(before);
    test_free(after);
    qp_graph_destroy(g);
}

static void
bad_arguments_are_refused(void **state)
{
    (void)state;
    assert_int_equal(qp_prepare_qat(NULL, QP_BACKEND_TENSORRT, NULL), QP_ERR_NULL_ARG);
    qp_graph *g = qpt_parse(small, NULL);
    assert_int_equal(qp_prepare_qat(g, (qp_backend)99, NULL), QP_ERR_UNSUPPORTED_BACKEND);
    qp_backend be;
    assert_int_equal(qp_backend_from_name("tensorrt", &be), QP_OK);
    assert_int_equal(be, QP_BACKEND_TENSORRT);
    assert_int_equal(qp_backend_from_name("TensorRT9", &be), QP_ERR_UNSUPPORTED_BACKEND);
    for (int b = 0; b < QP_BACKEND_COUNT; b++) {
        assert_non_null(qp_backend_name((qp_backend)b));
        assert_non_null(qp_backend_summary((qp_backend)b));
        assert_int_equal(qp_backend_from_name(qp_backend_name((qp_backend)b), &be), QP_OK);
        assert_int_equal(be, b);
    }
    assert_null(qp_backend_name(QP_BACKEND_COUNT));
    qp_graph_destroy(g);
}

static void
explanations_name_producer_and_cause(void **state)
{
    (void)state;
    /* a mul feeding an add is an implicit merge on Tensorrt: no quantizer between */
    static const char g_text[] = "qgraph 1\n"
                                 "%x = placeholder x () {}\n"
                                 "%y = placeholder y () {}\n"
                                 "%mul = call_function operator.mul (%x, %y) {}\n"
                                 "%add = call_function operator.add (%mul, %y) {}\n"
                                 "%output = output output (%add,) {}\n";
    qp_graph *g = qpt_parse(g_text, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    uint32_t n = qp_graph_num_explain(g);
    bool merge = false, x_in = false;
    for (uint32_t i = 0; i < n; i++) {
        qp_explain_item it;
        assert_int_equal(qp_graph_explain_at(g, i, &it), QP_OK);
        if (it.reason == QP_WHY_SKIP_IMPLICIT_MERGE) {
            merge = true;
            assert_string_equal(it.node_name, "mul");
            assert_string_equal(it.cause_name, "add");
            assert_true(qp_node_is_null(it.fq));
        }
        if (it.reason == QP_WHY_CONSUMER_INPUT && !strcmp(it.node_name, "x")) {
            x_in = true;
            assert_string_equal(it.cause_name, "mul");
            assert_string_equal(qp_node_name(g, it.fq), "x_post_act_fake_quantizer");
            assert_int_equal(qp_node_fq_producer(g, it.fq).id, qp_graph_find_node(g, "x").id);
        }
    }
    assert_true(merge);
    assert_true(x_in);
    qp_explain_item it;
    assert_int_equal(qp_graph_explain_at(g, n, &it), QP_ERR_INVALID_ARG);
    assert_string_equal(qp_reason_str(QP_WHY_SKIP_IMPLICIT_MERGE),
                        "skipped: implicit merge (no quantizer between these two)");
    char *out = qpt_graph_text(g);
    qpt_contains(out, "%add = call_function operator.add (%mul, %y_post_act_fake_quantizer) {}");
    test_free(out);
    qp_graph_destroy(g);
}

static void
caller_pointers_survive_fusion_and_swap(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(small, NULL);
    static int conv_tag, bn_tag, relu_tag, node_tag;
    qp_module_set_user_data(g, qp_graph_find_module(g, "conv"), &conv_tag);
    qp_module_set_user_data(g, qp_graph_find_module(g, "bn"), &bn_tag);
    qp_module_set_user_data(g, qp_graph_find_module(g, "relu"), &relu_tag);
    qp_node_set_user_data(g, qp_graph_find_node(g, "conv"), &node_tag);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    qp_module conv = qp_graph_find_module(g, "conv");
    assert_string_equal(qp_module_type(g, conv), "nniqat.ConvBnReLU2d");
    assert_ptr_equal(qp_module_user_data(g, conv), &conv_tag);
    assert_int_equal(qp_module_num_origins(g, conv), 3);
    assert_ptr_equal(qp_module_origin_at(g, conv, 0), &conv_tag);
    assert_ptr_equal(qp_module_origin_at(g, conv, 1), &bn_tag);
    assert_ptr_equal(qp_module_origin_at(g, conv, 2), &relu_tag);
    assert_ptr_equal(qp_module_user_data(g, qp_graph_find_module(g, "conv.bn")), &bn_tag);
    assert_ptr_equal(qp_node_user_data(g, qp_graph_find_node(g, "conv")), &node_tag);
    qp_graph_destroy(g);
}

static void
origins_without_pointers_keep_their_count(void **state)
{
    (void)state;
    /* no user pointers at all (a graph read from text): counts, no stored pointers */
    qp_graph *g = qpt_parse(small, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    qp_module conv = qp_graph_find_module(g, "conv");
    assert_int_equal(qp_module_num_origins(g, conv), 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_null(qp_module_origin_at(g, conv, i));
    assert_int_equal(g->nptrs, 0);
    qp_graph_destroy(g);
    /* one pointer among them: stored in place, the others null */
    g = qpt_parse(small, NULL);
    static int bn_tag;
    qp_module_set_user_data(g, qp_graph_find_module(g, "bn"), &bn_tag);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    conv = qp_graph_find_module(g, "conv");
    assert_int_equal(qp_module_num_origins(g, conv), 3);
    assert_null(qp_module_origin_at(g, conv, 0));
    assert_ptr_equal(qp_module_origin_at(g, conv, 1), &bn_tag);
    assert_null(qp_module_origin_at(g, conv, 2));
    qp_graph_destroy(g);
}

/* qp_config_set_explain(c, false): no explanations, and nothing else differs,
 * on every fixture and backend (the Academic ones with a configuration). */
struct explain_run {
    qp_config *on[2], *off[2]; /* [1]: the Academic configuration */
    unsigned ok, explained;
};

static void
explain_on_off(void *ud, const char *name, const char *text, qp_backend b, const qp_config *cfg)
{
    (void)name;
    struct explain_run *r = ud;
    int k = cfg != NULL;
    qp_graph *g = qpt_parse(text, NULL), *h = qpt_parse(text, NULL);
    qp_status rc = qp_prepare_qat(g, b, r->on[k]);
    assert_int_equal(qp_prepare_qat(h, b, r->off[k]), rc);
    assert_string_equal(qp_graph_errmsg(h), qp_graph_errmsg(g));
    if (!rc) {
        char *a = qpt_graph_text(g), *t = qpt_graph_text(h);
        assert_string_equal(t, a);
        test_free(a);
        test_free(t);
        assert_memory_equal(qp_graph_report(h), qp_graph_report(g), sizeof(qp_report));
        r->explained += qp_graph_num_explain(g);
        assert_int_equal(qp_graph_num_explain(h), 0);
        assert_true(qp_graph_mem_peak(h) <= qp_graph_mem_peak(g));
        r->ok++;
    }
    qp_graph_destroy(g);
    qp_graph_destroy(h);
}

static void
explanations_off_change_nothing_else(void **state)
{
    (void)state;
    struct explain_run r = {{NULL, qpt_config_file("configs/academic.qcfg")},
                            {NULL, qpt_config_file("configs/academic.qcfg")},
                            0,
                            0};
    assert_int_equal(qp_config_create(NULL, &r.on[0]), QP_OK);
    assert_int_equal(qp_config_create(NULL, &r.off[0]), QP_OK);
    for (int k = 0; k < 2; k++)
        assert_int_equal(qp_config_set_explain(r.off[k], false), QP_OK);
    assert_int_equal(qp_config_set_explain(NULL, false), QP_ERR_NULL_ARG);
    qpt_each_fixture_backend(explain_on_off, &r);
    assert_true(r.ok > 0 && r.explained > r.ok);
    for (int k = 0; k < 2; k++) {
        qp_config_destroy(r.on[k]);
        qp_config_destroy(r.off[k]);
    }
}

/* A backend without defaults says the same for no configuration and for one that
 * sets none of what it needs, and names the first key a partial one lacks. */
static void
academic_without_its_keys_says_which(void **state)
{
    (void)state;
    qp_graph *a = qpt_parse(small, NULL), *b = qpt_parse(small, NULL), *c = qpt_parse(small, NULL);
    qp_config *empty = NULL, *part = NULL;
    assert_int_equal(qp_config_create(NULL, &empty), QP_OK);
    assert_int_equal(qp_config_create(NULL, &part), QP_OK);
    assert_int_equal(qp_config_set_observer(part, QP_WEIGHT, "MinMaxObserver"), QP_OK);
    assert_int_equal(qp_prepare_qat(a, QP_BACKEND_ACADEMIC, NULL), QP_ERR_INVALID_CONFIG);
    assert_int_equal(qp_prepare_qat(b, QP_BACKEND_ACADEMIC, empty), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_graph_errmsg(a), "backend Academic has no defaults: its configuration must "
                                     "give extra_qconfig_dict w_qscheme, a_qscheme");
    assert_string_equal(qp_graph_errmsg(b), qp_graph_errmsg(a));
    assert_int_equal(qp_prepare_qat(c, QP_BACKEND_ACADEMIC, part), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_graph_errmsg(c), "must give extra_qconfig_dict.w_qscheme");
    qp_config_destroy(empty);
    qp_config_destroy(part);
    qp_graph_destroy(a);
    qp_graph_destroy(b);
    qp_graph_destroy(c);
}

struct logs {
    unsigned n;
    bool fuse, fakequant;
};

static void
on_log(void *ud, qp_log_level level, const char *where, const char *msg)
{
    struct logs *l = ud;
    (void)level;
    assert_non_null(msg);
    l->n++;
    l->fuse |= !strcmp(where, "fuse");
    l->fakequant |= !strcmp(where, "fakequant");
}

static void
log_hook_hears_each_pass(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(small, NULL);
    struct logs l = {0, false, false};
    qp_graph_set_log(g, on_log, &l);
    qp_config *c;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    assert_int_equal(qp_config_set_verify_each(c, true), QP_OK);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_VITIS, c), QP_OK);
    assert_true(l.n >= 6);
    assert_true(l.fuse && l.fakequant);
    qp_config_destroy(c);
    qp_graph_destroy(g);
}

struct every_run {
    unsigned runs, refused;
};

static void
prepare_one(void *ud, const char *name, const char *text, qp_backend b, const qp_config *cfg)
{
    (void)name;
    struct every_run *r = ud;
    qp_graph *g = qpt_parse(text, NULL);
    qp_status rc = qp_prepare_qat(g, b, cfg);
    r->runs++;
    if (rc) {
        /* MQBench fails too: per-channel LSQ on an embedding */
        assert_int_equal(rc, QP_ERR_INVALID_QCONFIG);
        qpt_contains(qp_graph_errmsg(g), "out_channels or out_features");
        r->refused++;
    } else {
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    }
    qp_graph_destroy(g);
}

static void
every_backend_prepares_every_model(void **state)
{
    (void)state;
    struct every_run r = {0, 0};
    qpt_each_fixture_backend(prepare_one, &r);
    print_message("%u runs, %u refused as MQBench refuses them\n", r.runs, r.refused);
    assert_true(r.refused > 0 && r.refused < 8);
}

/* prepare's working copy reads the original's strings in place and takes them over
 * on success: strings handed out before stay valid, and the prepared graph owns,
 * counts and frees every string, old and new, and keeps interning after them. */
static void
prepared_graph_owns_its_strings(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    size_t len = 0;
    char *text = qpt_read_file("fixtures/resnet18.in.qg", &len);
    qp_graph *g = qpt_parse(text, &a);
    test_free(text);
    /* strings the library returned stay valid until the graph is destroyed (qprep.h),
     * a successful prepare included */
    const char *path = qp_module_path(g, qp_graph_find_module(g, "layer1.0.conv1"));
    const char *name = qp_node_name(g, qp_graph_find_node(g, "layer1_0_relu_1"));
    assert_string_equal(path, "layer1.0.conv1");
    assert_string_equal(name, "layer1_0_relu_1");
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    assert_string_equal(path, "layer1.0.conv1");
    assert_string_equal(name, "layer1_0_relu_1");
    assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), st.live);
    /* a refused prepare leaves the prepared graph as it was */
    char *before = qpt_graph_text(g);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_ERR_ALREADY_PREPARED);
    char *after = qpt_graph_text(g);
    assert_string_equal(before, after);
    test_free(before);
    test_free(after);
    /* new strings, enough for several chunks, after the adopted ones */
    char buf[160];
    for (int i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf,
                 "extra.%d.a_long_module_path_to_fill_string_chunks_quickly_"
                 "and_then_some_more_bytes_%d",
                 i, i);
        qp_module m;
        assert_int_equal(qp_graph_add_module(g, buf, "nn.Identity", QP_NULL_VAL, &m), QP_OK);
    }
    assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), st.live);
    /* the strings read before prepare are still there, and the new ones */
    qp_module m = qp_graph_find_module(g, "layer1.0.conv1");
    assert_true(m.id != 0);
    qp_module x = qp_graph_find_module(g, "extra.2999.a_long_module_path_to_fill_string_chunks_"
                                          "quickly_and_then_some_more_bytes_2999");
    assert_true(x.id != 0);
    /* and a graph prepared from it (a clone of the prepared one) does the same */
    qp_graph *h = NULL;
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    char *gt = qpt_graph_text(g), *ht = qpt_graph_text(h);
    assert_string_equal(gt, ht);
    test_free(gt);
    test_free(ht);
    qp_graph_destroy(h);
    qpt_done(g, &st); /* every byte given back, once */
}

/* Inserts two nodes whose names go through torch.fx's namespace: one named from its
 * target, one from a name prepare also makes. Returns their names, test_malloc'd. */
static char *
insert_two(qp_graph *g)
{
    qp_node last = qp_graph_last(g), a, b;
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.flatten", NULL, QP_NULL_VAL, QP_NULL_VAL};
    assert_int_equal(qp_graph_insert_before(g, last, &s, &a), QP_OK);
    s.name = "x_post_act_fake_quantizer";
    assert_int_equal(qp_graph_insert_before(g, last, &s, &b), QP_OK);
    const char *na = qp_node_name(g, a), *nb = qp_node_name(g, b);
    char *out = test_malloc(strlen(na) + strlen(nb) + 2);
    strcpy(out, na);
    strcat(out, " ");
    strcat(out, nb);
    return out;
}

/* A failure in the last step, after every pass has changed the graph (preserve_attr
 * naming a module that fusion removed), puts the graph back exactly: its text, what
 * it verifies to, its report, and what later work depends on (the name counters, the
 * symbol table): prepare and inserts afterwards give what they give on a graph that
 * never failed. */
static void
late_failure_restores_graph_exactly(void **state)
{
    (void)state;
    char *text = qpt_read_file("fixtures/resnet18.in.qg", NULL);
    qp_graph *g = qpt_parse(text, NULL), *h = qpt_parse(text, NULL);
    /* an input that takes the name prepare wants for x's quantizer: prepare bumps the
     * name counter of a sym that existed before it */
    qp_node_spec in = {QP_OP_PLACEHOLDER, "y", "x_post_act_fake_quantizer", QP_NULL_VAL,
                       QP_NULL_VAL};
    qp_node y;
    assert_int_equal(qp_graph_insert_after(g, qp_graph_first(g), &in, &y), QP_OK);
    assert_int_equal(qp_graph_insert_after(h, qp_graph_first(h), &in, &y), QP_OK);
    char *before = qpt_graph_text(g);
    qp_config *c = NULL;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    assert_int_equal(qp_config_preserve_attr(c, "bn1", "eps"), QP_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, c), QP_ERR_INVALID_CONFIG);
        qpt_contains(qp_graph_errmsg(g), "no module 'bn1' after prepare");
        char *now = qpt_graph_text(g);
        assert_string_equal(now, before);
        test_free(now);
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
        assert_memory_equal(qp_graph_report(g), qp_graph_report(h), sizeof(qp_report));
        assert_int_equal(qp_graph_num_explain(g), 0);
        assert_int_equal(qp_graph_num_modules(g), qp_graph_num_modules(h));
        assert_int_equal(qp_graph_num_nodes(g), qp_graph_num_nodes(h));
        assert_true(qp_graph_find_module(g, "conv1_post_act_fake_quantizer").id == 0);
        assert_true(qp_graph_find_node(g, "x_post_act_fake_quantizer_1").id == 0);
    }
    /* an insert before prepare names as on the graph that never failed */
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.add", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node ga, ha;
    assert_int_equal(qp_graph_insert_before(g, qp_graph_last(g), &s, &ga), QP_OK);
    assert_int_equal(qp_graph_insert_before(h, qp_graph_last(h), &s, &ha), QP_OK);
    assert_string_equal(qp_node_name(g, ga), qp_node_name(h, ha));
    assert_int_equal(qp_graph_erase_node(g, ga), QP_OK);
    assert_int_equal(qp_graph_erase_node(h, ha), QP_OK);
    /* prepare then succeeds on both alike */
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    assert_int_equal(qp_prepare_qat(h, QP_BACKEND_TENSORRT, NULL), QP_OK);
    char *gt = qpt_graph_text(g), *ht = qpt_graph_text(h);
    qpt_contains(gt, "%x_post_act_fake_quantizer_1 = call_module");
    assert_string_equal(gt, ht);
    assert_memory_equal(qp_graph_report(g), qp_graph_report(h), sizeof(qp_report));
    assert_int_equal(qp_graph_num_explain(g), qp_graph_num_explain(h));
    test_free(gt);
    test_free(ht);
    char *gn = insert_two(g), *hn = insert_two(h);
    assert_string_equal(gn, hn);
    test_free(gn);
    test_free(hn);
    gt = qpt_graph_text(g);
    ht = qpt_graph_text(h);
    assert_string_equal(gt, ht);
    test_free(gt);
    test_free(ht);
    qp_config_destroy(c);
    test_free(before);
    test_free(text);
    qp_graph_destroy(g);
    qp_graph_destroy(h);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_counts_are_exact),
        cmocka_unit_test(failure_leaves_graph_unchanged),
        cmocka_unit_test(late_failure_restores_graph_exactly),
        cmocka_unit_test(prepared_graph_is_refused),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(explanations_name_producer_and_cause),
        cmocka_unit_test(caller_pointers_survive_fusion_and_swap),
        cmocka_unit_test(origins_without_pointers_keep_their_count),
        cmocka_unit_test(explanations_off_change_nothing_else),
        cmocka_unit_test(academic_without_its_keys_says_which),
        cmocka_unit_test(log_hook_hears_each_pass),
        cmocka_unit_test(every_backend_prepares_every_model),
        cmocka_unit_test(prepared_graph_owns_its_strings),
    };
    return cmocka_run_group_tests_name("prepare", tests, NULL, NULL);
}
