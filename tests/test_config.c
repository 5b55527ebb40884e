/*
 * test_config.c - qp_config through the C API and .qcfg files: every key of
 * MQBench's prepare_custom_config_dict acts as MQBench's does, and a bad
 * configuration is refused before anything changes, naming the key and, in a
 * file, its line and column.
 */
#include "testlib.h"

#include <string.h>

static const char small[] =
    "qgraph 1\n"
    "module conv nn.Conv2d {in_channels: 3, out_channels: 8, kernel_size: (3, 3), stride: "
    "(1, 1), padding: (1, 1), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", "
    "output_padding: (0, 0), bias: True, weight_shape: (8, 3, 3, 3)}\n"
    "module gn nn.GroupNorm {num_groups: 2, num_channels: 8}\n"
    "module relu nn.ReLU {inplace: False}\n"
    "module fc nn.Linear {in_features: 8, out_features: 4, bias: True, weight_shape: (4, 8)}\n"
    "%x = placeholder x () {}\n"
    "%conv = call_module conv (%x,) {}\n"
    "%gn = call_module gn (%conv,) {}\n"
    "%relu = call_module relu (%gn,) {}\n"
    "%add = call_function operator.add (%relu, %x) {}\n"
    "%flatten = call_function torch.flatten (%add, 1) {}\n"
    "%fc = call_module fc (%flatten,) {}\n"
    "%output = output output (%fc,) {}\n";

static void
expect_file_error(const char *text, qp_status st, uint32_t line, uint32_t col,
                  const char *needle)
{
    qp_config *c = (qp_config *)1;
    qp_error err;
    qp_status rc = qp_config_read_text(text, strlen(text), NULL, &c, &err);
    if (rc != st || err.line != line || (col && err.col != col) || !strstr(err.msg, needle)) {
        print_error("got %s at %u:%u '%s'; want %s at %u:%u '%s'\n", qp_status_str(rc),
                    (unsigned)err.line, (unsigned)err.col, err.msg, qp_status_str(st),
                    (unsigned)line, (unsigned)col, needle);
        fail();
    }
    assert_null(c);
}

static void
bad_files_name_line_column_and_key(void **state)
{
    (void)state;
    expect_file_error("", QP_ERR_PARSE, 1, 1, "qcfg 1");
    expect_file_error("qcfg 2\n", QP_ERR_PARSE, 1, 1, "qcfg 1");
    expect_file_error("qcfg 1\nextra_stuff = {}\n", QP_ERR_INVALID_CONFIG, 2, 1,
                      "unknown key 'extra_stuff'");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_bits: 4}\n", QP_ERR_INVALID_CONFIG, 2, 0,
                      "extra_qconfig_dict.w_bits");
    expect_file_error("qcfg 1\n# a comment\nextra_qconfig_dict = {w_qscheme: {bit: 33}}\n",
                      QP_ERR_INVALID_QCONFIG, 3, 0, "w_qscheme: bit width 33");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {a_qscheme: {bit: 1}}\n",
                      QP_ERR_INVALID_QCONFIG, 2, 0, "a_qscheme: bit width 1");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_qscheme: {bit: \"4\"}}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "w_qscheme.bit must be an integer");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_qscheme: {symmetry: 1}}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "w_qscheme.symmetry must be True or False");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_observer: \"MaxObserver\"}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "w_observer: unknown observer 'MaxObserver'");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {a_fakequantize: \"LSQ\"}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "a_fakequantize: unknown fake-quantizer");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_observer: 3}\n", QP_ERR_INVALID_CONFIG, 2,
                      0, "extra_qconfig_dict.w_observer must be a str, not a int");
    expect_file_error("qcfg 1\nextra_quantizer_dict = {exclude_node_name: \"conv\"}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "exclude_node_name must be a list");
    expect_file_error("qcfg 1\nextra_quantizer_dict = {exclude_node_name: [3]}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "exclude_node_name[0] must be a string");
    expect_file_error("qcfg 1\nextra_quantizer_dict = {exclude_nodes: []}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "extra_quantizer_dict.exclude_nodes");
    expect_file_error("qcfg 1\nextra_quantizer_dict = {}\nextra_quantizer_dict = {}\n",
                      QP_ERR_INVALID_CONFIG, 3, 1, "given twice");
    expect_file_error("qcfg 1\nextra_qconfig_dict {}\n", QP_ERR_PARSE, 2, 20, "expected '='");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_observer: }\n", QP_ERR_PARSE, 2, 0,
                      "extra_qconfig_dict");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {} x\n", QP_ERR_PARSE, 2, 25, "trailing");
    expect_file_error("qcfg 1\nextra_qconfig_dict = [1]\n", QP_ERR_INVALID_CONFIG, 2, 0,
                      "must be a dict, not a list");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {w_fakeq_params: {observer: 1}}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "observer");
    expect_file_error("qcfg 1\nextra_fuse_dict = {additional_fuser_method_mapping: {}}\n",
                      QP_ERR_INVALID_CONFIG, 2, 0, "fuser methods are code");
    expect_file_error("qcfg 1\nqprep_overrides = [{path: \"conv\"}]\n", QP_ERR_INVALID_CONFIG,
                      2, 0, "qprep_overrides[0] needs w and/or a");
    expect_file_error("qcfg 1\nqprep_options = {fix: 1}\n", QP_ERR_INVALID_CONFIG, 2, 0,
                      "qprep_options.fix must be a bool");
    expect_file_error("qcfg 1\nextra_qconfig_dict = {}\n\x01\n", QP_ERR_PARSE, 3, 1,
                      "control character");
}

static void
api_setters_validate_and_change_nothing_on_failure(void **state)
{
    (void)state;
    qp_config *c;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    qp_qscheme s = qp_qscheme_default();
    assert_int_equal(s.bit, 8);
    assert_true(s.symmetry);
    qp_config *c2;
    assert_int_equal(qp_config_create(NULL, &c2), QP_OK);
    for (int bit = -1; bit <= 40; bit++) {
        s.bit = bit;
        qp_status want = (bit >= 2 && bit <= 16) || bit == 32 ? QP_OK : QP_ERR_INVALID_QCONFIG;
        assert_int_equal(qp_config_set_qscheme(c2, QP_WEIGHT, &s), want);
        if (want) {
            qpt_contains(qp_config_errmsg(c2), "w_qscheme: bit width");
            assert_int_equal(qp_config_set_qscheme(c, QP_ACT, &s), want);
        }
    }
    qp_config_destroy(c2);
    assert_int_equal(qp_config_set_observer(c, QP_ACT, "NoSuchObserver"), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_config_errmsg(c), "a_observer");
    assert_int_equal(qp_config_set_fakequant(c, QP_WEIGHT, "NoSuchFQ"), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_config_errmsg(c), "w_fakequantize");
    assert_int_equal(qp_config_set_observer(c, (qp_side)7, "MinMaxObserver"),
                     QP_ERR_INVALID_ARG);
    assert_int_equal(qp_config_set_observer(c, QP_ACT, NULL), QP_ERR_NULL_ARG);
    assert_int_equal(qp_config_add_name(c, QP_EXCLUDE_NODE_NAME, ""), QP_ERR_INVALID_CONFIG);
    assert_int_equal(qp_config_add_name(c, QP_LIST_COUNT, "x"), QP_ERR_INVALID_ARG);
    assert_int_equal(qp_config_add_fusion(c, 1, (const char *[]){"nn.Conv2d"}, "x.Y"),
                     QP_ERR_INVALID_CONFIG);
    qp_scalar v = {QP_SCALAR_FLOAT, false, 0, 0.5, NULL};
    assert_int_equal(qp_config_set_kwarg(c, QP_A_FAKEQ_PARAMS, "observer", v),
                     QP_ERR_INVALID_CONFIG);
    assert_int_equal(qp_config_add_override(c, QP_MATCH_PATH, "", NULL, NULL),
                     QP_ERR_INVALID_CONFIG);
    s.bit = 99;
    assert_int_equal(qp_config_add_override(c, QP_MATCH_PATH, "conv", &s, NULL),
                     QP_ERR_INVALID_QCONFIG);
    /* none of the refused calls left anything behind: prepare sees the defaults */
    char *out = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    char *ref = qpt_prepare(small, QP_BACKEND_TENSORRT, NULL, QP_OK);
    assert_string_equal(out, ref);
    test_free(out);
    test_free(ref);
    assert_string_equal(qp_config_errmsg(NULL), "no config");
    qp_config_destroy(c);
    qp_config_destroy(NULL);
}

static void
qconfig_dict_sets_kinds_schemes_and_kwargs(void **state)
{
    (void)state;
    qp_config *c = qpt_config(
        "qcfg 1\n"
        "extra_qconfig_dict = {w_observer: \"MSEObserver\", a_observer: \"EMAMinMaxObserver\", "
        "w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: \"LearnableFakeQuantize\", "
        "w_qscheme: {bit: 4, symmetry: False, per_channel: True}, "
        "a_qscheme: {bit: 6, symmetric_range: True}, "
        "a_fakeq_params: {use_grad_scaling: False}, a_observer_extra_args: {ema_ratio: 0.5}, "
        "w_observer_extra_args: {p: 2.4}}\n");
    char *out = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    /* 4-bit asymmetric per-channel weights with MSE (p: 2.4) */
    qpt_contains(out, "module conv.weight_fake_quant fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 15, ch_axis: 0, pot_scale: False, bitwidth: 4, qscheme: "
                      "\"per_channel_affine\", is_symmetric_quant: False, dtype: \"quint8\"}");
    qpt_contains(out, "obs.MSEObserver {eps: 1.1920928955078125e-07, p: 2.4, min_val: inf");
    /* 6-bit symmetric-range activations, grad scaling off, EMA ratio 0.5 */
    qpt_contains(out, "module x_post_act_fake_quantizer fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -31, quant_max: 31, ch_axis: -1, "
                      "pot_scale: False, bitwidth: 5, qscheme: \"per_tensor_symmetric\", "
                      "is_symmetric_quant: True, dtype: \"qint8\", use_grad_scaling: False}");
    qpt_contains(out, "dtype: \"qint8\", ema_ratio: 0.5, reduce_range: False}");
    test_free(out);
    qp_config_destroy(c);
    /* the same through the API */
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    qp_qscheme w = {4, false, true, false, false}, a = {6, true, false, false, true};
    qp_scalar no = {QP_SCALAR_BOOL, false, 0, 0, NULL},
              half = {QP_SCALAR_FLOAT, false, 0, 0.5, NULL};
    qp_scalar p = {QP_SCALAR_FLOAT, false, 0, 2.4, NULL};
    assert_int_equal(qp_config_set_observer(c, QP_WEIGHT, "MSEObserver"), QP_OK);
    assert_int_equal(qp_config_set_observer(c, QP_ACT, "EMAMinMaxObserver"), QP_OK);
    assert_int_equal(qp_config_set_fakequant(c, QP_WEIGHT, "FixedFakeQuantize"), QP_OK);
    assert_int_equal(qp_config_set_fakequant(c, QP_ACT, "LearnableFakeQuantize"), QP_OK);
    assert_int_equal(qp_config_set_qscheme(c, QP_WEIGHT, &w), QP_OK);
    assert_int_equal(qp_config_set_qscheme(c, QP_ACT, &a), QP_OK);
    assert_int_equal(qp_config_set_kwarg(c, QP_A_FAKEQ_PARAMS, "use_grad_scaling", no), QP_OK);
    assert_int_equal(qp_config_set_kwarg(c, QP_A_OBSERVER_EXTRA_ARGS, "ema_ratio", half), QP_OK);
    assert_int_equal(qp_config_set_kwarg(c, QP_W_OBSERVER_EXTRA_ARGS, "p", p), QP_OK);
    char *api = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    qp_config *fc = qpt_config(
        "qcfg 1\n"
        "extra_qconfig_dict = {w_observer: \"MSEObserver\", a_observer: \"EMAMinMaxObserver\", "
        "w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: \"LearnableFakeQuantize\", "
        "w_qscheme: {bit: 4, symmetry: False, per_channel: True}, "
        "a_qscheme: {bit: 6, symmetric_range: True}, "
        "a_fakeq_params: {use_grad_scaling: False}, a_observer_extra_args: {ema_ratio: 0.5}, "
        "w_observer_extra_args: {p: 2.4}}\n");
    char *file = qpt_prepare(small, QP_BACKEND_TENSORRT, fc, QP_OK);
    assert_string_equal(api, file);
    test_free(api);
    test_free(file);
    qp_config_destroy(c);
    qp_config_destroy(fc);
}

static void
qscheme_replaces_backend_scheme_whole(void **state)
{
    (void)state;
    /* Tensorrt weights are symmetric-range per-channel; {bit: 8} alone is QuantizeScheme's
     * defaults: symmetric per-tensor [-128, 127] */
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_qscheme: {bit: 8}}\n");
    char *out = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -128, quant_max: 127, ch_axis: -1,");
    test_free(out);
    qp_config_destroy(c);
    /* NNIE ignores schemes and fake-quantizers, takes observers */
    c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_qscheme: {bit: 4}, a_fakequantize: "
                   "\"PACTFakeQuantize\", a_observer: \"MinMaxObserver\"}\n");
    out = qpt_prepare(small, QP_BACKEND_NNIE, c, QP_OK);
    qpt_contains(out, "module x_post_act_fake_quantizer fq.NNIEFakeQuantize {quant_min: -128, "
                      "quant_max: 127,");
    qpt_contains(out, "module x_post_act_fake_quantizer.activation_post_process "
                      "obs.MinMaxObserver {");
    test_free(out);
    qp_config_destroy(c);
}

static void
quantizer_lists_follow_mqbench_precedence(void **state)
{
    (void)state;
    /* exclude_module_name on the swap compares local names (MQBench's scope bug) */
    qp_config *c = qpt_config("qcfg 1\nextra_quantizer_dict = {exclude_module_name: [\"fc\"], "
                              "exclude_function_type: [\"operator.add\"], "
                              "additional_function_type: [\"torch.flatten\"], "
                              "exclude_node_name: [\"flatten\"], additional_node_name: "
                              "[\"flatten\"]}\n");
    char *out = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module fc nn.Linear {");          /* excluded from the swap */
    qpt_lacks(out, "module fc.weight_fake_quant ");
    qpt_lacks(out, "%relu_post_act_fake_quantizer");    /* add excluded as a consumer */
    /* flatten: listed by type, excluded by name, rescued by additional_node_name */
    qpt_contains(out, "%flatten = call_function torch.flatten (%add_post_act_fake_quantizer, 1)");
    test_free(out);
    qp_config_destroy(c);
}

static void
extra_fuse_dict_adds_patterns_and_mappings(void **state)
{
    (void)state;
    qp_config *c;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    const char *pat[] = {"nn.Conv2d", "nn.GroupNorm"};
    assert_int_equal(qp_config_add_fusion(c, 2, pat, "mylib.ConvGN2d"), QP_OK);
    assert_int_equal(qp_config_add_qat_mapping(c, "mylib.ConvGN2d", "mylib.qat.ConvGN2d"), QP_OK);
    char *out = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module conv mylib.qat.ConvGN2d {in_channels: 3,");
    qpt_contains(out, "module conv.weight_fake_quant fq.LearnableFakeQuantize");
    qpt_contains(out, "%conv = call_module conv (%x_post_act_fake_quantizer,) {}\n%relu =");
    qpt_lacks(out, "%gn =");
    test_free(out);
    qp_config_destroy(c);
    /* the same from a file */
    c = qpt_config("qcfg 1\nextra_fuse_dict = {additional_fusion_pattern: [{pattern: "
                   "[\"nn.Conv2d\", \"nn.GroupNorm\"], fused: \"mylib.ConvGN2d\"}], "
                   "additional_qat_module_mapping: {mylib.ConvGN2d: \"mylib.qat.ConvGN2d\"}}\n");
    char *f = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(f, "module conv mylib.qat.ConvGN2d {in_channels: 3,");
    test_free(f);
    qp_config_destroy(c);
}

static void
preserve_attr_keeps_named_attributes(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse(small, &a);
    qp_val v, w;
    assert_int_equal(qp_val_new_str(g, "imagenet", 8, &v), QP_OK);
    assert_int_equal(qp_graph_set_attr(g, "dataset", v), QP_OK);
    assert_int_equal(qp_val_new_int(g, 7, &w), QP_OK);
    assert_int_equal(qp_module_set_attr(g, qp_graph_find_module(g, "conv"), "tag", w), QP_OK);
    qp_config *c = qpt_config("qcfg 1\npreserve_attr = {\"\": [\"dataset\"], conv: [\"tag\"]}\n");
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, c), QP_OK);
    size_t len;
    assert_string_equal(qp_val_as_str(g, qp_graph_attr(g, "dataset"), &len), "imagenet");
    qp_module conv = qp_graph_find_module(g, "conv");
    assert_string_equal(qp_module_type(g, conv), "nnqat.Conv2d");
    assert_int_equal(qp_val_as_int(g, qp_module_attr(g, conv, "tag")), 7);
    qp_config_destroy(c);
    /* a missing attribute is an error, as MQBench's getattr raises */
    c = qpt_config("qcfg 1\npreserve_attr = {relu: [\"nothing\"]}\n");
    qp_graph *h = qpt_parse(small, &a);
    assert_int_equal(qp_prepare_qat(h, QP_BACKEND_TENSORRT, c), QP_ERR_INVALID_CONFIG);
    qpt_contains(qp_graph_errmsg(h), "module 'relu' has no attribute 'nothing'");
    qp_config_destroy(c);
    qp_graph_destroy(h);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

static void
per_channel_axis_out_of_range_is_refused(void **state)
{
    (void)state;
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer_extra_args: "
                              "{ch_axis: 4}}\n");
    char *msg = qpt_prepare(small, QP_BACKEND_TENSORRT, c, QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "per-channel axis 4 out of range for the rank-");
    test_free(msg);
    qp_config_destroy(c);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_files_name_line_column_and_key),
        cmocka_unit_test(api_setters_validate_and_change_nothing_on_failure),
        cmocka_unit_test(qconfig_dict_sets_kinds_schemes_and_kwargs),
        cmocka_unit_test(qscheme_replaces_backend_scheme_whole),
        cmocka_unit_test(quantizer_lists_follow_mqbench_precedence),
        cmocka_unit_test(extra_fuse_dict_adds_patterns_and_mappings),
        cmocka_unit_test(preserve_attr_keeps_named_attributes),
        cmocka_unit_test(per_channel_axis_out_of_range_is_refused),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
