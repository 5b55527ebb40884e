/*
 * test_overrides.c - per-module qconfig overrides (qprep_overrides, as torch's
 * QConfigMapping): by path, type and glob, later rules winning, mixed bit
 * widths in one graph, and modules left float.
 */
#include "testlib.h"

#include <string.h>

#define CONV(name, wshape)                                                                 \
    "module " name " nn.Conv2d {in_channels: 8, out_channels: 8, kernel_size: (3, 3), "      \
    "stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", " \
    "output_padding: (0, 0), bias: True, weight_shape: " wshape "}\n"

static const char net[] =
    "qgraph 1\n" CONV("layer1.conv", "(8, 8, 3, 3)") CONV("layer2.conv", "(8, 8, 3, 3)")
    "module fc nn.Linear {in_features: 8, out_features: 4, bias: True, weight_shape: (4, 8)}\n"
    "%x = placeholder x () {}\n"
    "%layer1_conv = call_module layer1.conv (%x,) {}\n"
    "%layer2_conv = call_module layer2.conv (%layer1_conv,) {}\n"
    "%flatten = call_function torch.flatten (%layer2_conv, 1) {}\n"
    "%fc = call_module fc (%flatten,) {}\n"
    "%output = output output (%fc,) {}\n";

#define W8 "quant_min: -127, quant_max: 127, ch_axis: 0"
#define W4 "quant_min: -8, quant_max: 7, ch_axis: -1"

static void
path_override_mixes_bit_widths(void **state)
{
    (void)state;
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{path: \"layer2.conv\", w: {bit: 4}, "
                              "a: {bit: 4}}]\n");
    char *out = qpt_prepare(net, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module layer1.conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, " W8);
    qpt_contains(out, "module layer2.conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, " W4);
    /* layer2.conv's input quantizer follows its consumer's activation scheme */
    qpt_contains(out, "module layer1_conv_post_act_fake_quantizer fq.LearnableFakeQuantize "
                      "{eps: 1.1920928955078125e-07, quant_min: -8, quant_max: 7,");
    qpt_contains(out, "module x_post_act_fake_quantizer fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -127, quant_max: 127,");
    test_free(out);
    qp_config_destroy(c);
}

static void
type_override_leaves_module_float(void **state)
{
    (void)state;
    qp_config *c;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    assert_int_equal(qp_config_add_override(c, QP_MATCH_TYPE, "nn.Linear", NULL, NULL), QP_OK);
    char *out = qpt_prepare(net, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module fc nn.Linear {");
    qpt_lacks(out, "module fc.weight_fake_quant");
    qpt_contains(out, "%fc = call_module fc (%flatten,) {}");
    qpt_contains(out, "module layer2.conv nnqat.Conv2d {");
    test_free(out);
    qp_config_destroy(c);
}

static void
pattern_and_later_rules_win(void **state)
{
    (void)state;
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{pattern: \"layer*\", w: {bit: 4}}, "
                              "{path: \"layer1.conv\", float: True}, {type: \"nn.Conv2d\", "
                              "w: {bit: 6}, a: None}]\n");
    /* the last rule matches both convs by type: 6-bit weights, default activations */
    char *out = qpt_prepare(net, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module layer1.conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -32, quant_max: 31,");
    qpt_contains(out, "module layer2.conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -32, quant_max: 31,");
    test_free(out);
    qp_config_destroy(c);
    c = qpt_config("qcfg 1\nqprep_overrides = [{pattern: \"layer?.conv\", w: {bit: 4}}, "
                   "{path: \"layer1.conv\", float: True}]\n");
    out = qpt_prepare(net, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module layer1.conv nn.Conv2d {");
    qpt_lacks(out, "x_post_act_fake_quantizer"); /* a float conv asks for no input quantizer */
    qpt_contains(out, "module layer2.conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, " W4);
    test_free(out);
    qp_config_destroy(c);
}

static void
type_override_sees_through_fusion(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n" CONV("conv", "(8, 8, 3, 3)")
        "module relu nn.ReLU {inplace: False}\n"
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%relu = call_module relu (%conv,) {}\n"
        "%output = output output (%relu,) {}\n";
    qp_config *c = qpt_config("qcfg 1\nqprep_overrides = [{type: \"nn.Conv2d\", w: {bit: 4}}]\n");
    char *out = qpt_prepare(g, QP_BACKEND_SNPE, c, QP_OK);
    qpt_contains(out, "module conv nniqat.ConvReLU2d {");
    qpt_contains(out, "module conv.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, " W4);
    test_free(out);
    qp_config_destroy(c);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_override_mixes_bit_widths),
        cmocka_unit_test(type_override_leaves_module_float),
        cmocka_unit_test(pattern_and_later_rules_win),
        cmocka_unit_test(type_override_sees_through_fusion),
    };
    return cmocka_run_group_tests_name("overrides", tests, NULL, NULL);
}
