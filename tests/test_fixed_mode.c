/*
 * test_fixed_mode.c - each MQBench bug of MQBENCH.md section 5 is reproduced by
 * default and fixed with qp_config_set_fix (qprep_options fix, --fix): one
 * test per bug, checking both behaviours on the smallest graph that shows it.
 */
#include "testlib.h"

#include <string.h>

#define CONV(name, cin, cout, groups, wshape)                                              \
    "module " name " nn.Conv2d {in_channels: " #cin ", out_channels: " #cout ", kernel_size: " \
    "(3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: " #groups ", "       \
    "padding_mode: \"zeros\", output_padding: (0, 0), bias: True, weight_shape: " wshape "}\n"

static qp_config *
fixed(void)
{
    qp_config *c;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    assert_int_equal(qp_config_set_fix(c, true), QP_OK);
    return c;
}

static unsigned
count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Bug 1: a reused module is deep-copied per call site, so its weight is untied. */
static void
reused_weighted_module_keeps_one_weight(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("conv", 8, 8, 1, "(8, 8, 3, 3)")
        "module relu nn.ReLU {inplace: False}\n"
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%relu = call_module relu (%conv,) {}\n"
        "%conv_1 = call_module conv (%relu,) {}\n"
        "%relu_1 = call_module relu (%conv_1,) {}\n"
        "%output = output output (%relu_1,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module conv_dup1 nniqat.ConvReLU2d {");
    qpt_contains(out, "%conv_1 = call_module conv_dup1 (");
    assert_int_equal(count(out, ".weight_fake_quant fq."), 2);
    test_free(out);
    qp_config *c = fixed();
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_lacks(out, "conv_dup1");
    qpt_contains(out, "module conv nnqat.Conv2d {");
    qpt_contains(out, "%conv_1 = call_module conv (");
    assert_int_equal(count(out, ".weight_fake_quant fq."), 1);
    /* the stateless ReLU is still copied per call site */
    qpt_contains(out, "%relu_1 = call_module relu_dup1 (");
    test_free(out);
    qp_config_destroy(c);
}

/* Bug 2: LinearBn1d (and frozen-BN convs) are not in the consumer list. */
static void
linear_bn_input_is_quantized(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n"
        "module fc nn.Linear {in_features: 8, out_features: 4, bias: True, weight_shape: (4, 8)}\n"
        "module bn nn.BatchNorm1d {num_features: 4, eps: 1e-05, momentum: 0.1, affine: True, "
        "track_running_stats: True, bias: True, weight_shape: (4,)}\n"
        "%x = placeholder x () {}\n"
        "%fc = call_module fc (%x,) {}\n"
        "%bn = call_module bn (%fc,) {}\n"
        "%output = output output (%bn,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module fc qnniqat.LinearBn1d {");
    qpt_lacks(out, "x_post_act_fake_quantizer");
    test_free(out);
    qp_config *c = fixed();
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "%fc = call_module fc (%x_post_act_fake_quantizer,) {}");
    test_free(out);
    qp_config_destroy(c);
}

/* Bug 3: a per-channel ConvTranspose quantizes axis 1, wrong when groups > 1. */
static void
grouped_conv_transpose_is_per_tensor(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n"
        "module up nn.ConvTranspose2d {in_channels: 8, out_channels: 8, kernel_size: (2, 2), "
        "stride: (2, 2), padding: (0, 0), dilation: (1, 1), groups: 2, padding_mode: \"zeros\", "
        "output_padding: (0, 0), bias: True, weight_shape: (8, 4, 2, 2)}\n"
        "%x = placeholder x () {}\n"
        "%up = call_module up (%x,) {}\n"
        "%output = output output (%up,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module up.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -127, quant_max: 127, ch_axis: 1, "
                      "pot_scale: False, bitwidth: 7, qscheme: \"per_channel_symmetric\"");
    test_free(out);
    qp_config *c = fixed();
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module up.weight_fake_quant fq.LearnableFakeQuantize {eps: "
                      "1.1920928955078125e-07, quant_min: -127, quant_max: 127, ch_axis: -1, "
                      "pot_scale: False, bitwidth: 7, qscheme: \"per_tensor_symmetric\"");
    test_free(out);
    qp_config_destroy(c);
}

/* Bug 4: Tengine quantizes directly returned outputs only, not a returned tuple. */
static void
tengine_quantizes_tuple_outputs(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "module relu nn.ReLU {inplace: False}\n"
                            "%x = placeholder x () {}\n"
                            "%relu = call_module relu (%x,) {}\n"
                            "%neg = call_method neg (%x,) {}\n"
                            "%output = output output ((%relu, %neg),) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENGINE_U8, NULL, QP_OK);
    qpt_lacks(out, "_post_act_fake_quantizer");
    test_free(out);
    qp_config *c = fixed();
    out = qpt_prepare(g, QP_BACKEND_TENGINE_U8, c, QP_OK);
    qpt_contains(out, "%output = output output ((%relu_post_act_fake_quantizer, "
                      "%neg_post_act_fake_quantizer),) {}");
    test_free(out);
    qp_config_destroy(c);
    /* a directly returned node is quantized in both modes */
    static const char h[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%neg = call_method neg (%x,) {}\n"
                            "%output = output output (%neg,) {}\n";
    out = qpt_prepare(h, QP_BACKEND_TENGINE_U8, NULL, QP_OK);
    qpt_contains(out, "%output = output output (%neg_post_act_fake_quantizer,) {}");
    test_free(out);
}

/* Bug 5: Tensorrt_NLP's exclusion tests node.op == "all_method": methods are never
 * excluded by exclude_function_type. */
static void
tensorrt_nlp_excludes_methods(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%contiguous = call_method contiguous (%x,) {}\n"
                            "%output = output output (%contiguous,) {}\n";
    static const char cfg[] = "qcfg 1\nextra_quantizer_dict = {additional_function_type: "
                              "[\"contiguous\"], exclude_function_type: [\"contiguous\"]}\n"
                              "qprep_options = {fix: %s}\n";
    char text[512];
    snprintf(text, sizeof text, cfg, "False");
    qp_config *c = qpt_config(text);
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT_NLP, c, QP_OK);
    qpt_contains(out, "%contiguous = call_method contiguous (%x_post_act_fake_quantizer,) {}");
    test_free(out);
    qp_config_destroy(c);
    snprintf(text, sizeof text, cfg, "True");
    c = qpt_config(text);
    out = qpt_prepare(g, QP_BACKEND_TENSORRT_NLP, c, QP_OK);
    qpt_lacks(out, "_post_act_fake_quantizer");
    test_free(out);
    qp_config_destroy(c);
}

/* MQBench rewrites args only: a consumer reading the producer through a kwarg keeps
 * the raw tensor; and it cannot rewrite a dict argument holding a scalar. */
static void
kwargs_and_dict_args_are_rewritten(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%y = placeholder y () {}\n"
                            "%add = call_function operator.add (%y, %x) {}\n"
                            "%where = call_function torch.where (%x,) {other: %y}\n"
                            "%output = output output ((%add, %where),) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "%where = call_function torch.where (%x_post_act_fake_quantizer,) "
                      "{other: %y}");
    test_free(out);
    qp_config *c = fixed();
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "%where = call_function torch.where (%x_post_act_fake_quantizer,) "
                      "{other: %y_post_act_fake_quantizer}");
    test_free(out);
    static const char d[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%add = call_function operator.add (%x, %x) {}\n"
                            "%f = call_function mylib.f (%add, {k: 1, l: [%x]}) {}\n"
                            "%output = output output (%f,) {}\n";
    char *msg = qpt_prepare(d, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "%f has a dict argument holding a int");
    test_free(msg);
    out = qpt_prepare(d, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "%f = call_function mylib.f (%add, {k: 1, l: [%x_post_act_fake_quantizer]})");
    test_free(out);
    qp_config_destroy(c);
}

/* The swap compares exclude_module_name with each module's last name component. */
static void
swap_exclusion_uses_full_paths(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("a.conv", 8, 8, 1, "(8, 8, 3, 3)")
        CONV("b.conv", 8, 8, 1, "(8, 8, 3, 3)")
        "%x = placeholder x () {}\n"
        "%a_conv = call_module a.conv (%x,) {}\n"
        "%b_conv = call_module b.conv (%a_conv,) {}\n"
        "%output = output output (%b_conv,) {}\n";
    static const char cfg[] = "qcfg 1\nextra_quantizer_dict = {exclude_module_name: [%s]}\n"
                              "qprep_options = {fix: %s}\n";
    char text[256];
    /* MQBench: "conv" excludes both (local names), "a.conv" excludes nothing */
    snprintf(text, sizeof text, cfg, "\"conv\"", "False");
    qp_config *c = qpt_config(text);
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module a.conv nn.Conv2d {");
    qpt_contains(out, "module b.conv nn.Conv2d {");
    test_free(out);
    qp_config_destroy(c);
    snprintf(text, sizeof text, cfg, "\"a.conv\"", "False");
    c = qpt_config(text);
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module a.conv nnqat.Conv2d {");
    test_free(out);
    qp_config_destroy(c);
    /* fixed: full paths */
    snprintf(text, sizeof text, cfg, "\"a.conv\"", "True");
    c = qpt_config(text);
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module a.conv nn.Conv2d {");
    qpt_contains(out, "module b.conv nnqat.Conv2d {");
    test_free(out);
    qp_config_destroy(c);
    snprintf(text, sizeof text, cfg, "\"conv\"", "True");
    c = qpt_config(text);
    out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module a.conv nnqat.Conv2d {");
    test_free(out);
    qp_config_destroy(c);
}

/* SNPE's second loop ignores additional_node_name. */
static void
post_loop_honours_additional_node_name(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%neg = call_method neg (%x,) {}\n"
                            "%abs = call_method abs (%neg,) {}\n"
                            "%output = output output (%abs,) {}\n";
    static const char cfg[] = "qcfg 1\nextra_quantizer_dict = {additional_node_name: "
                              "[\"abs\"]}\nqprep_options = {fix: %s}\n";
    char text[256];
    snprintf(text, sizeof text, cfg, "False");
    qp_config *c = qpt_config(text);
    char *out = qpt_prepare(g, QP_BACKEND_SNPE, c, QP_OK);
    /* the input pass quantizes abs's input; the post pass does not see abs */
    qpt_contains(out, "%abs = call_method abs (%neg_post_act_fake_quantizer,) {}");
    qpt_lacks(out, "abs_post_act_fake_quantizer");
    test_free(out);
    qp_config_destroy(c);
    snprintf(text, sizeof text, cfg, "True");
    c = qpt_config(text);
    out = qpt_prepare(g, QP_BACKEND_SNPE, c, QP_OK);
    qpt_contains(out, "%output = output output (%abs_post_act_fake_quantizer,) {}");
    test_free(out);
    qp_config_destroy(c);
}

/* Per-channel LSQ needs out_channels or out_features: an Embedding fails. */
static void
per_channel_embedding_is_allowed(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n"
        "module emb nn.Embedding {num_embeddings: 10, embedding_dim: 4, padding_idx: None, "
        "weight_shape: (10, 4)}\n"
        "%ids = placeholder ids () {}\n"
        "%emb = call_module emb (%ids,) {}\n"
        "%output = output output (%emb,) {}\n";
    char *msg = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "Can not find out_channels or out_features");
    test_free(msg);
    qp_config *c = fixed();
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    qpt_contains(out, "module emb qnnqat.Embedding {");
    qpt_contains(out,
                 "ch_axis: 1, pot_scale: False, bitwidth: 7, qscheme: \"per_channel_symmetric\"");
    test_free(out);
    qp_config_destroy(c);
}

/* Vitis marks a fake-quantizer after a graph input; an unused input makes it fail. */
static void
vitis_accepts_unused_inputs(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%unused = placeholder unused () {}\n"
                            "%add = call_function operator.add (%x, %x) {}\n"
                            "%output = output output (%add,) {}\n";
    char *msg = qpt_prepare(g, QP_BACKEND_VITIS, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "graph input %unused has no users");
    test_free(msg);
    qp_config *c = fixed();
    char *out = qpt_prepare(g, QP_BACKEND_VITIS, c, QP_OK);
    qpt_contains(out, "quant_type: \"tensor\"");
    test_free(out);
    qp_config_destroy(c);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reused_weighted_module_keeps_one_weight),
        cmocka_unit_test(linear_bn_input_is_quantized),
        cmocka_unit_test(grouped_conv_transpose_is_per_tensor),
        cmocka_unit_test(tengine_quantizes_tuple_outputs),
        cmocka_unit_test(tensorrt_nlp_excludes_methods),
        cmocka_unit_test(kwargs_and_dict_args_are_rewritten),
        cmocka_unit_test(swap_exclusion_uses_full_paths),
        cmocka_unit_test(post_loop_honours_additional_node_name),
        cmocka_unit_test(per_channel_embedding_is_allowed),
        cmocka_unit_test(vitis_accepts_unused_inputs),
    };
    return cmocka_run_group_tests_name("fixed_mode", tests, NULL, NULL);
}
