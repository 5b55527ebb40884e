/*
 * test_pass_fakequant.c - the fakequant pass (pass_fakequant.c with placement.c):
 * `<producer>_post_act_fake_quantizer` nodes inserted right after the chosen
 * producers and shared by every use, module + observer pairs in discovery
 * order, placement per backend strategy (consumer inputs, TotalINT/Tengine
 * outputs, ONNX_QNN fixed lists, Vitis outputs), implicit merges, and Vitis
 * quant types. Expected values were checked against proto.py (MQBench's model).
 */
#include "testlib.h"

#include <string.h>

#define CONV(name)                                                                         \
    "module " name " nn.Conv2d {in_channels: 8, out_channels: 8, kernel_size: (1, 1), "      \
    "stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", " \
    "output_padding: (0, 0), bias: True, weight_shape: (8, 8, 1, 1)}\n"

#define FQ(name) "%" name "_post_act_fake_quantizer = call_module " name "_post_act_fake_quantizer"

/* conv feeds a listed pool, an unlisted cat and the output directly */
static const char shared[] =
    "qgraph 1\n" CONV("conv")
    "module pool nn.AdaptiveAvgPool2d {output_size: (1, 1)}\n"
    "module relu nn.ReLU {inplace: False}\n"
    "%x = placeholder x () {}\n"
    "%conv = call_module conv (%x,) {}\n"
    "%pool = call_module pool (%conv,) {}\n"
    "%relu = call_module relu (%pool,) {}\n"
    "%cat = call_function torch.cat ([%conv, %relu],) {dim: 1}\n"
    "%output = output output ((%cat, %conv),) {}\n";

/* a mul feeding an add: MQBench's implicit merge */
static const char muladd[] = "qgraph 1\n"
                             "%x = placeholder x () {}\n"
                             "%y = placeholder y () {}\n"
                             "%mul = call_function operator.mul (%x, %y) {}\n"
                             "%add = call_function operator.add (%mul, %y) {}\n"
                             "%output = output output (%add,) {}\n";

/* One quantizer per producer, right after it; every use moves to it, also those of
 * consumers that did not ask for it (cat, the output tuple). */
static void
quantizer_is_shared_by_every_use(void **state)
{
    (void)state;
    qp_graph *g = qpt_parse(shared, NULL);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    const qp_pass_stats *f = qpt_pass_stats(qp_graph_report(g), "fakequant");
    assert_int_equal(f->fq_inserted, 2);   /* x (for conv), conv (for pool) */
    assert_int_equal(f->nodes_added, 2);
    assert_int_equal(f->modules_added, 4); /* each with its observer */
    assert_int_equal(f->uses_rewired, 4);  /* x once; conv in pool, cat and output */
    char *out = qpt_graph_text(g);
    qpt_contains(out, "%conv = call_module conv (%x_post_act_fake_quantizer,) {}\n" FQ("conv")
                      " (%conv,) {}\n%pool");
    qpt_contains(out, "%pool = call_module pool (%conv_post_act_fake_quantizer,) {}");
    qpt_contains(out, "%relu = call_module relu (%pool,) {}");
    qpt_contains(out, "torch.cat ([%conv_post_act_fake_quantizer, %relu],) {dim: 1}");
    qpt_contains(out, "output ((%cat, %conv_post_act_fake_quantizer),) {}");
    qpt_contains(out, "module conv_post_act_fake_quantizer fq.LearnableFakeQuantize {");
    qpt_contains(out, "module conv_post_act_fake_quantizer.activation_post_process "
                      "obs.EMAMinMaxObserver {eps: 1.1920928955078125e-07, min_val: inf, max_val: "
                      "-inf, quant_min: -127, quant_max: 127, ch_axis: -1,");
    qpt_lacks(out, "pool_post_act_fake_quantizer");
    qpt_lacks(out, "relu_post_act_fake_quantizer");
    test_free(out);
    qp_graph_destroy(g);
}

/* Tensorrt skips a mul feeding an add (its inputs are still quantized); SNPE's output
 * loop skips it too; Tengine and ONNX_QNN have no merge and quantize the mul. */
static void
implicit_merge_follows_the_backend(void **state)
{
    (void)state;
    char *out = qpt_prepare(muladd, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, FQ("x") " (%x,) {}");
    qpt_contains(out, "%add = call_function operator.add (%mul, %y_post_act_fake_quantizer) {}");
    qpt_lacks(out, "mul_post_act_fake_quantizer");
    qpt_lacks(out, "add_post_act_fake_quantizer");
    test_free(out);
    out = qpt_prepare(muladd, QP_BACKEND_SNPE, NULL, QP_OK);
    qpt_lacks(out, "mul_post_act_fake_quantizer");
    qpt_contains(out, "%output = output output (%add_post_act_fake_quantizer,) {}");
    test_free(out);
    out = qpt_prepare(muladd, QP_BACKEND_TENGINE_U8, NULL, QP_OK);
    qpt_contains(out, "%add = call_function operator.add (%mul_post_act_fake_quantizer, "
                      "%y_post_act_fake_quantizer) {}");
    test_free(out);
    /* ONNX_QNN's list has no mul: x is not quantized, mul's output is (add's input) */
    out = qpt_prepare(muladd, QP_BACKEND_ONNX_QNN, NULL, QP_OK);
    qpt_lacks(out, "x_post_act_fake_quantizer");
    qpt_contains(out, "%mul = call_function operator.mul (%x, %y_post_act_fake_quantizer) {}");
    qpt_contains(out, FQ("mul") " (%mul,) {}");
    test_free(out);
}

/* TotalINT and Tengine quantize listed ops' outputs, after a following pass-through:
 * the pool's ReLU output, not the pool's. Tengine lists cat and quantizes the graph's
 * outputs; its modules come in discovery order (relu before pool), its nodes after
 * their producers. */
static void
output_loop_moves_past_pass_throughs(void **state)
{
    (void)state;
    char *out = qpt_prepare(shared, QP_BACKEND_SNPE, NULL, QP_OK);
    qpt_contains(out, "%relu = call_module relu (%pool,) {}\n" FQ("relu") " (%relu,) {}");
    qpt_lacks(out, "pool_post_act_fake_quantizer");
    qpt_lacks(out, "cat_post_act_fake_quantizer");
    test_free(out);
    out = qpt_prepare(shared, QP_BACKEND_TENGINE_U8, NULL, QP_OK);
    qpt_contains(out, FQ("pool") " (%pool,) {}\n%relu = call_module relu "
                      "(%pool_post_act_fake_quantizer,) {}\n" FQ("relu"));
    qpt_contains(out, FQ("cat") " (%cat,) {}");
    const char *r = strstr(out, "module relu_post_act_fake_quantizer ");
    const char *p = strstr(out, "module pool_post_act_fake_quantizer ");
    assert_non_null(r);
    assert_non_null(p);
    assert_true(r < p);
    test_free(out);
}

/* additional_module_type adds a consumer; exclude_node_name drops one; ONNX_QNN's
 * fixed lists ignore additional_function_type. */
static void
quantizer_dict_changes_placement(void **state)
{
    (void)state;
    qp_config *c = qpt_config("qcfg 1\nextra_quantizer_dict = {additional_module_type: "
                              "[\"nn.ReLU\"], additional_function_type: [\"torch.cat\"], "
                              "exclude_node_name: [\"pool\"]}\n");
    char *out = qpt_prepare(shared, QP_BACKEND_TENSORRT, c, QP_OK);
    /* relu asks for pool's output, cat for relu's; pool is excluded but conv is still
     * quantized for cat */
    qpt_contains(out, "%relu = call_module relu (%pool_post_act_fake_quantizer,) {}");
    qpt_contains(out, "torch.cat ([%conv_post_act_fake_quantizer, "
                      "%relu_post_act_fake_quantizer],) {dim: 1}");
    test_free(out);
    out = qpt_prepare(shared, QP_BACKEND_ONNX_QNN, c, QP_OK);
    qpt_lacks(out, "pool_post_act_fake_quantizer");
    qpt_lacks(out, "cat_post_act_fake_quantizer");
    test_free(out);
    qp_config_destroy(c);
    /* excluding the only consumer of x leaves x raw */
    c = qpt_config("qcfg 1\nextra_quantizer_dict = {exclude_module_name: [\"conv\"]}\n");
    out = qpt_prepare(shared, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_lacks(out, "x_post_act_fake_quantizer");
    qpt_contains(out, "%pool = call_module pool (%conv_post_act_fake_quantizer,) {}");
    test_free(out);
    qp_config_destroy(c);
}

/* Vitis quantizes outputs of listed ops, never graph inputs; activation quantizers are
 * "tensor", weight ones "param"; an excluded op's output stays raw. */
static void
vitis_quantizes_outputs_with_quant_types(void **state)
{
    (void)state;
    char *out = qpt_prepare(shared, QP_BACKEND_VITIS, NULL, QP_OK);
    qpt_lacks(out, "x_post_act_fake_quantizer");
    qpt_contains(out, FQ("conv") " (%conv,) {}");
    qpt_contains(out, FQ("pool") " (%pool,) {}");
    qpt_contains(out, FQ("cat") " (%cat,) {}");
    qpt_contains(out, "module conv_post_act_fake_quantizer fq.TqtFakeQuantize {");
    const char *a = strstr(out, "module cat_post_act_fake_quantizer fq.TqtFakeQuantize {");
    assert_non_null(a);
    const char *eol = strchr(a, '\n');
    const char *qt = strstr(a, "quant_type: \"tensor\"");
    assert_true(qt && qt < eol);
    const char *w = strstr(out, "module conv.weight_fake_quant ");
    assert_non_null(w);
    eol = strchr(w, '\n');
    qt = strstr(w, "quant_type: \"param\"");
    assert_true(qt && qt < eol);
    test_free(out);
    qp_config *c = qpt_config("qcfg 1\nextra_quantizer_dict = {exclude_function_type: "
                              "[\"torch.cat\"]}\n");
    out = qpt_prepare(shared, QP_BACKEND_VITIS, c, QP_OK);
    qpt_lacks(out, "cat_post_act_fake_quantizer");
    qpt_contains(out, FQ("relu") " (%relu,) {}");
    test_free(out);
    qp_config_destroy(c);
}

/* OPENVINO: graph inputs quantized, the last layer not, a ReLU'd tensor unsigned. */
static void
openvino_quantizes_what_feeds_quantizable_ops(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("conv") CONV("conv2")
        "module relu nn.ReLU {inplace: False}\n"
        "module pool nn.AdaptiveAvgPool2d {output_size: (1, 1)}\n"
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%relu = call_module relu (%conv,) {}\n"
        "%pool = call_module pool (%relu,) {}\n"
        "%conv2 = call_module conv2 (%pool,) {}\n"
        "%output = output output (%conv2,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_OPENVINO, NULL, QP_OK);
    qpt_contains(out, "module x_post_act_fake_quantizer fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -128, quant_max: 127,");
    qpt_contains(out, "module conv_post_act_fake_quantizer fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: 0, quant_max: 255,");
    qpt_contains(out, "module pool_post_act_fake_quantizer fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: 0, quant_max: 255,");
    qpt_lacks(out, "conv2_post_act_fake_quantizer");
    test_free(out);
}

/* Academic quantizes conv/linear inputs only, and skips a listed consumer that has a
 * non-tensor argument. */
static void
academic_skips_non_tensor_consumers(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("conv") CONV("conv2")
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%add = call_function operator.add (%conv, 1) {}\n"
        "%mul = call_function operator.mul (%add, %conv) {}\n"
        "%conv2 = call_module conv2 (%mul,) {}\n"
        "%output = output output (%conv2,) {}\n";
    qp_config *c = qpt_config(
        "qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxObserver\", a_observer: "
        "\"EMAMinMaxObserver\", w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: "
        "\"FixedFakeQuantize\", w_qscheme: {bit: 4, symmetry: False, per_channel: True}, "
        "a_qscheme: {bit: 4, symmetry: False}}\n"
        "extra_quantizer_dict = {additional_function_type: [\"operator.add\", "
        "\"operator.mul\"]}\n");
    char *out = qpt_prepare(g, QP_BACKEND_ACADEMIC, c, QP_OK);
    qpt_contains(out, "%add = call_function operator.add (%conv_post_act_fake_quantizer, 1) {}");
    qpt_contains(out, FQ("add") " (%add,) {}");
    qpt_contains(out, FQ("mul") " (%mul,) {}");
    test_free(out);
    qp_config_destroy(c);
}

/* A called module already at a quantizer's observer path (its parent no module):
 * the observer, whose path prepare derives from the quantizer's instead of
 * storing it, would be a second module there. Prepare refuses, in both modes;
 * without such a module anywhere it does not even look. */
static void
a_module_at_an_observer_path_is_a_duplicate(void **state)
{
    (void)state;
    static const char clash[] =
        "qgraph 1\n" CONV("conv")
        "module x_post_act_fake_quantizer.activation_post_process nn.Identity {}\n"
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%idn = call_module x_post_act_fake_quantizer.activation_post_process (%conv,) {}\n"
        "%output = output output (%idn,) {}\n";
    qp_config *fix = qpt_config("qcfg 1\nqprep_options = {fix: True}\n");
    for (int mode = 0; mode < 2; mode++) {
        char *msg = qpt_prepare(clash, QP_BACKEND_TENSORRT, mode ? fix : NULL, QP_ERR_DUP_NAME);
        assert_string_equal(msg, "module x_post_act_fake_quantizer already exists");
        test_free(msg);
    }
    qp_config_destroy(fix);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantizer_is_shared_by_every_use),
        cmocka_unit_test(implicit_merge_follows_the_backend),
        cmocka_unit_test(output_loop_moves_past_pass_throughs),
        cmocka_unit_test(quantizer_dict_changes_placement),
        cmocka_unit_test(vitis_quantizes_outputs_with_quant_types),
        cmocka_unit_test(openvino_quantizes_what_feeds_quantizable_ops),
        cmocka_unit_test(academic_skips_non_tensor_consumers),
        cmocka_unit_test(a_module_at_an_observer_path_is_a_duplicate),
    };
    return cmocka_run_group_tests_name("pass_fakequant", tests, NULL, NULL);
}
