/*
 * test_pass_qconfig.c - the qconfig pass (pass_qconfig.c): each backend's weight
 * and activation qconfig, OPENVINO's 7-bit weights, Academic's 8-bit first and
 * last layers (keyed by node target, by node in fixed mode), inheritance of a
 * qprep_overrides rule from the nearest ancestor (a module, or a container a path
 * rule names), range errors
 * raised when the qconfig is built, and the pass's report. Expected values were
 * checked against proto.py (MQBench's model) where it covers them.
 */
#include "qgraph_lines.h"
#include "testlib.h"

#include <string.h>

#define CONV(name)                                                                         \
    "module " name " nn.Conv2d {in_channels: 8, out_channels: 8, kernel_size: (1, 1), "      \
    "stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", " \
    "output_padding: (0, 0), bias: True, weight_shape: (8, 8, 1, 1)}\n"

#define EPS "{eps: 1.1920928955078125e-07, "

static const char chain[] =
    "qgraph 1\n" CONV("conv") CONV("conv2")
    "module fc nn.Linear {in_features: 8, out_features: 4, bias: True, weight_shape: (4, 8)}\n"
    "%x = placeholder x () {}\n"
    "%conv = call_module conv (%x,) {}\n"
    "%conv2 = call_module conv2 (%conv,) {}\n"
    "%flatten = call_function torch.flatten (%conv2, 1) {}\n"
    "%fc = call_module fc (%flatten,) {}\n"
    "%output = output output (%fc,) {}\n";

#define ACADEMIC                                                                           \
    "qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxObserver\", a_observer: "            \
    "\"EMAMinMaxObserver\", w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: "        \
    "\"FixedFakeQuantize\", w_qscheme: {bit: 4, symmetry: False, per_channel: True, "       \
    "pot_scale: False}, a_qscheme: {bit: 4, symmetry: False, per_channel: False, "          \
    "pot_scale: False}}\n"

/* The backend rows: schemes, kinds and observers per side. */
static void
backend_rows_give_each_side_its_qconfig(void **state)
{
    (void)state;
    char *out = qpt_prepare(chain, QP_BACKEND_SNPE, NULL, QP_OK);
    qpt_contains(out, "module conv.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: 0, quant_max: 255, ch_axis: -1, pot_scale: False, bitwidth: "
                      "8, qscheme: \"per_tensor_affine\",");
    qpt_contains(out, "module conv.weight_fake_quant.activation_post_process obs.MinMaxObserver");
    qpt_contains(out, "module conv_post_act_fake_quantizer.activation_post_process "
                      "obs.EMAMinMaxObserver " EPS "min_val: inf, max_val: -inf, quant_min: 0, "
                      "quant_max: 255,");
    test_free(out);
    /* PPLW8A16: 16-bit activations, 8-bit weights */
    out = qpt_prepare(chain, QP_BACKEND_PPLW8A16, NULL, QP_OK);
    qpt_contains(out, "module x_post_act_fake_quantizer fq.LearnableFakeQuantize " EPS
                      "quant_min: 0, quant_max: 65535, ch_axis: -1, pot_scale: False, "
                      "bitwidth: 16,");
    qpt_contains(out, "module fc.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: 0, quant_max: 255,");
    test_free(out);
    /* PPLCUDA: asymmetric per-channel weights */
    out = qpt_prepare(chain, QP_BACKEND_PPLCUDA, NULL, QP_OK);
    qpt_contains(out, "module conv2.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: 0, quant_max: 255, ch_axis: 0, pot_scale: False, bitwidth: 8, "
                      "qscheme: \"per_channel_affine\",");
    test_free(out);
    /* STPU: fixed fake-quantizers, symmetric range on both sides */
    out = qpt_prepare(chain, QP_BACKEND_STPU, NULL, QP_OK);
    qpt_contains(out, "module conv.weight_fake_quant fq.FixedFakeQuantize {quant_min: -127, "
                      "quant_max: 127, ch_axis: -1, pot_scale: False, bitwidth: 7, qscheme: "
                      "\"per_tensor_symmetric\"");
    qpt_contains(out, "module flatten_post_act_fake_quantizer fq.FixedFakeQuantize "
                      "{quant_min: -127, quant_max: 127,");
    test_free(out);
}

/* OPENVINO's weights are 7-bit: [-64, 63], [0, 127] asymmetric, [-63, 63] in
 * academic_mode; activations keep the scheme's 8 bits. */
static void
openvino_weights_are_seven_bit(void **state)
{
    (void)state;
    char *out = qpt_prepare(chain, QP_BACKEND_OPENVINO, NULL, QP_OK);
    qpt_contains(out, "module conv.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -64, quant_max: 63, ch_axis: 0, pot_scale: False, bitwidth: 7,");
    qpt_contains(out, "module x_post_act_fake_quantizer fq.LearnableFakeQuantize " EPS
                      "quant_min: -128, quant_max: 127,");
    test_free(out);
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_qscheme: {symmetry: False, "
                              "per_channel: True}}\n");
    out = qpt_prepare(chain, QP_BACKEND_OPENVINO, c, QP_OK);
    qpt_contains(out, "module fc.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: 0, quant_max: 127, ch_axis: 0,");
    test_free(out);
    qp_config_destroy(c);
    c = qpt_config("qcfg 1\nextra_quantizer_dict = {academic_mode: True}\n");
    out = qpt_prepare(chain, QP_BACKEND_OPENVINO, c, QP_OK);
    qpt_contains(out, "module conv2.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -63, quant_max: 63,");
    test_free(out);
    qp_config_destroy(c);
}

/* Academic: the first (reads a graph input) and last (returned) layers get 8-bit
 * weights and 8-bit input quantizers; the middle keeps the configured 4 bits. */
static void
academic_first_and_last_layers_are_eight_bit(void **state)
{
    (void)state;
    qp_config *c = qpt_config(ACADEMIC);
    char *out = qpt_prepare(chain, QP_BACKEND_ACADEMIC, c, QP_OK);
    qpt_contains(out, "module conv.weight_fake_quant fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 255, ch_axis: 0, pot_scale: False, bitwidth: 8, qscheme: "
                      "\"per_channel_affine\"");
    qpt_contains(out, "module conv2.weight_fake_quant fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 15, ch_axis: 0,");
    qpt_contains(out, "module fc.weight_fake_quant fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 255,");
    qpt_contains(out, "module x_post_act_fake_quantizer fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 255, ch_axis: -1,");
    qpt_contains(out, "module conv_post_act_fake_quantizer fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 15,");
    qpt_contains(out, "module flatten_post_act_fake_quantizer fq.FixedFakeQuantize "
                      "{quant_min: 0, quant_max: 255,");
    test_free(out);
    qp_config_destroy(c);
}

/* Two first-layer adds share the target operator.add: MQBench keeps only the last
 * one's inputs 8-bit (conv_a stays 4-bit); fixed mode keys them by node. */
static void
academic_io_layers_are_keyed_by_target(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("conv_a") CONV("conv_b") CONV("conv_c")
        "%x = placeholder x () {}\n"
        "%conv_a = call_module conv_a (%x,) {}\n"
        "%add = call_function operator.add (%conv_a, %x) {}\n"
        "%conv_b = call_module conv_b (%add,) {}\n"
        "%add_1 = call_function operator.add (%conv_b, %x) {}\n"
        "%conv_c = call_module conv_c (%add_1,) {}\n"
        "%output = output output (%conv_c,) {}\n";
    qp_config *c = qpt_config(ACADEMIC "extra_quantizer_dict = {additional_function_type: "
                                       "[\"operator.add\"]}\n");
    char *out = qpt_prepare(g, QP_BACKEND_ACADEMIC, c, QP_OK);
    qpt_contains(out, "module conv_a_post_act_fake_quantizer fq.FixedFakeQuantize {quant_min: "
                      "0, quant_max: 15,");
    qpt_contains(out, "module conv_b_post_act_fake_quantizer fq.FixedFakeQuantize {quant_min: "
                      "0, quant_max: 255,");
    qpt_contains(out, "module conv_b.weight_fake_quant fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 15,");
    qpt_contains(out, "module conv_c.weight_fake_quant fq.FixedFakeQuantize {quant_min: 0, "
                      "quant_max: 255,");
    test_free(out);
    qp_config_destroy(c);
    c = qpt_config(ACADEMIC "extra_quantizer_dict = {additional_function_type: "
                            "[\"operator.add\"]}\nqprep_options = {fix: True}\n");
    out = qpt_prepare(g, QP_BACKEND_ACADEMIC, c, QP_OK);
    qpt_contains(out, "module conv_a_post_act_fake_quantizer fq.FixedFakeQuantize {quant_min: "
                      "0, quant_max: 255,");
    test_free(out);
    qp_config_destroy(c);
}

/* A module with no rule of its own takes the nearest called ancestor's qconfig, both
 * sides together (propagate_qconfig_). */
static void
override_is_inherited_from_nearest_ancestor(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "module blk mylib.Block {}\n" CONV("blk.conv")
                            "module blk.sub mylib.Sub {}\n" CONV("blk.sub.conv") CONV("head")
                            "%x = placeholder x () {}\n"
                            "%blk = call_module blk (%x,) {}\n"
                            "%blk_conv = call_module blk.conv (%blk,) {}\n"
                            "%blk_sub = call_module blk.sub (%blk_conv,) {}\n"
                            "%blk_sub_conv = call_module blk.sub.conv (%blk_sub,) {}\n"
                            "%head = call_module head (%blk_sub_conv,) {}\n"
                            "%output = output output (%head,) {}\n";
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{path: \"blk.sub\", w: {bit: 6}}, "
                              "{path: \"blk\", w: {bit: 4}, a: {bit: 4, symmetry: False}}]\n");
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module blk.conv.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -8, quant_max: 7, ch_axis: -1,");
    qpt_contains(out, "module blk_post_act_fake_quantizer fq.LearnableFakeQuantize " EPS
                      "quant_min: 0, quant_max: 15,");
    /* blk.sub's rule is nearer: 6-bit weights and the default activations */
    qpt_contains(out, "module blk.sub.conv.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -32, quant_max: 31,");
    qpt_contains(out, "module blk_sub_post_act_fake_quantizer fq.LearnableFakeQuantize " EPS
                      "quant_min: -127, quant_max: 127,");
    qpt_contains(out, "module head.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -127, quant_max: 127, ch_axis: 0,");
    test_free(out);
    qp_config_destroy(c);
}

/* A float rule on a container keeps its submodules float: ONNX_QNN no longer tries
 * (and fails) to swap MultiheadAttention's out_proj. */
/* A path rule may name a container (layer1, a Sequential): torch.fx calls only its
 * leaves, so it is no module of the table, yet QConfigMapping's qconfig for it passes
 * down to the modules under it, the nearest named ancestor winning. */
static void
container_path_rule_reaches_the_modules_under_it(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("block.0") CONV("block.inner.0")
        "module block.inner.called mylib.Block {}\n"
        "module block.inner.called.sub mylib.Sub {}\n"
        CONV("block.inner.called.sub.conv") CONV("blocked") CONV("head")
        "%x = placeholder x () {}\n"
        "%block_0 = call_module block.0 (%x,) {}\n"
        "%block_inner_0 = call_module block.inner.0 (%block_0,) {}\n"
        "%block_inner_called = call_module block.inner.called (%block_inner_0,) {}\n"
        "%block_inner_called_sub = call_module block.inner.called.sub (%block_inner_called,) {}\n"
        "%block_inner_called_sub_conv = call_module block.inner.called.sub.conv "
        "(%block_inner_called_sub,) {}\n"
        "%blocked = call_module blocked (%block_inner_called_sub_conv,) {}\n"
        "%head = call_module head (%blocked,) {}\n"
        "%output = output output (%head,) {}\n";
    qp_config *c = qpt_config(
        "qcfg 1\nqprep_overrides = [{path: \"block\", w: {bit: 4}}, "
        "{path: \"block.inner\", w: {bit: 5}}, {path: \"block.inner.called\", w: {bit: 3}}, "
        "{path: \"block.inner\", w: {bit: 6}}]\n");
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    /* under block only */
    qpt_contains(out, "module block.0.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -8, quant_max: 7,");
    /* block.inner is nearer than block; of its two rules the later wins */
    qpt_contains(out, "module block.inner.0.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -32, quant_max: 31,");
    /* under a module with its own rule, that rule (the module is nearer) */
    qpt_contains(out, "module block.inner.called.sub.conv.weight_fake_quant "
                      "fq.LearnableFakeQuantize " EPS "quant_min: -4, quant_max: 3,");
    /* a path that merely starts with the same letters is not under it */
    qpt_contains(out, "module blocked.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -127, quant_max: 127,");
    qpt_contains(out, "module head.weight_fake_quant fq.LearnableFakeQuantize " EPS
                      "quant_min: -127, quant_max: 127,");
    test_free(out);
    qp_config_destroy(c);
}

/* A float rule on a container keeps everything under it float. */
static void
float_container_keeps_its_modules_float(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("block.0") CONV("head")
        "%x = placeholder x () {}\n"
        "%block_0 = call_module block.0 (%x,) {}\n"
        "%head = call_module head (%block_0,) {}\n"
        "%output = output output (%head,) {}\n";
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{path: \"block\", float: True}]\n");
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module block.0 nn.Conv2d {");
    qpt_lacks(out, "module block.0.weight_fake_quant");
    qpt_contains(out, "module head nnqat.Conv2d {");
    test_free(out);
    qp_config_destroy(c);
}

static void
float_ancestor_keeps_submodules_float(void **state)
{
    (void)state;
    static const char g[] = MHA_GRAPH;
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{type: \"nn.MultiheadAttention\", "
                              "float: True}]\n");
    char *out = qpt_prepare(g, QP_BACKEND_ONNX_QNN, c, QP_OK);
    qpt_contains(out, "module mha.out_proj nn.NonDynamicallyQuantizableLinear {");
    qpt_lacks(out, "weight_fake_quant");
    test_free(out);
    qp_config_destroy(c);
}

/* Ranges are checked when the qconfig is built, before any quantizer exists. */
static void
bad_ranges_fail_when_qconfig_is_built(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%y = placeholder y () {}\n"
                            "%cat = call_function torch.cat ([%x, %y],) {}\n"
                            "%output = output output (%cat,) {}\n";
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {a_observer_extra_args: "
                              "{quant_min: 1, quant_max: 10}}\n");
    char *msg = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "quantization range [1, 10] must include 0");
    test_free(msg);
    qp_config_destroy(c);
    c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer_extra_args: "
                   "{quant_min: 0, quant_max: 0}}\n");
    msg = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "quant_min 0 must be less than quant_max 0");
    test_free(msg);
    qp_config_destroy(c);
    /* an override's spec is built only for the modules it matches: a per-channel
     * activation for a per-tensor-only observer in a rule matching nothing is accepted */
    c = qpt_config("qcfg 1\nextra_qconfig_dict = {a_observer: \"EMAQuantileObserver\"}\n"
                   "qprep_overrides = [{path: \"nothing\", a: {per_channel: True}}]\n");
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    test_free(out);
    qp_config_destroy(c);
}

/* The report: the qconfig pass counts distinct specs (weight, activation, and one per
 * different override). */
static void
report_counts_distinct_qconfigs(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(chain, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    assert_int_equal(qpt_pass_stats(qp_graph_report(g), "qconfig")->matched, 2);
    qp_graph_destroy(g);
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{path: \"conv2\", w: {bit: 4}}, "
                              "{path: \"fc\", w: {bit: 6}, a: {bit: 6}}]\n");
    g = qpt_parse(chain, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, c), QP_OK);
    assert_int_equal(qpt_pass_stats(qp_graph_report(g), "qconfig")->matched, 5);
    qp_graph_destroy(g);
    qp_config_destroy(c);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backend_rows_give_each_side_its_qconfig),
        cmocka_unit_test(openvino_weights_are_seven_bit),
        cmocka_unit_test(academic_first_and_last_layers_are_eight_bit),
        cmocka_unit_test(academic_io_layers_are_keyed_by_target),
        cmocka_unit_test(override_is_inherited_from_nearest_ancestor),
        cmocka_unit_test(container_path_rule_reaches_the_modules_under_it),
        cmocka_unit_test(float_container_keeps_its_modules_float),
        cmocka_unit_test(float_ancestor_keeps_submodules_float),
        cmocka_unit_test(bad_ranges_fail_when_qconfig_is_built),
        cmocka_unit_test(report_counts_distinct_qconfigs),
    };
    return cmocka_run_group_tests_name("pass_qconfig", tests, NULL, NULL);
}
