/*
 * test_mqbench_quirks.c - behaviours found by comparing qprep with a Python
 * model of MQBench's rules on 65 unseen models (12,740 runs), each checked
 * against MQBench's and torch 1.13's source: where MQBench replaces, fails or
 * maps in ways no fixture shows. Default mode reproduces MQBench.
 */
#include "qgraph_lines.h"
#include "testlib.h"

#include <string.h>

#define CONV(name, cin, cout)                                                              \
    "module " name " nn.Conv2d {in_channels: " #cin ", out_channels: " #cout ", kernel_size: " \
    "(1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: "   \
    "\"zeros\", output_padding: (0, 0), bias: True, weight_shape: (" #cout ", " #cin ", 1, 1)}\n"

/* MQBench installs a quantizer with setattr: a module already at its path is
 * replaced, and only the new node's name gets a suffix. */
static void
fake_quantizer_path_replaces_existing_module(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n"
        "module x_post_act_fake_quantizer nn.Identity {}\n" CONV("conv", 3, 8)
        "%x = placeholder x () {}\n"
        "%x_post_act_fake_quantizer = call_module x_post_act_fake_quantizer (%x,) {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%output = output output ((%conv, %x_post_act_fake_quantizer),) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_lacks(out, "nn.Identity");
    qpt_contains(out, "module x_post_act_fake_quantizer fq.LearnableFakeQuantize {");
    qpt_contains(out,
                 "%x_post_act_fake_quantizer_1 = call_module x_post_act_fake_quantizer (%x,) {}");
    qpt_contains(out, "%conv = call_module conv (%x_post_act_fake_quantizer_1,) {}");
    test_free(out);
}

/* getitem2node: a getitem reading a node stored with .update() is quantized as that
 * node, with Python's indexing (a negative index here). */
static void
getitem_of_updated_dict_maps_to_stored_node(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("conv", 3, 8)
        "%d = placeholder d () {}\n"
        "%getitem = call_function operator.getitem (%d, \"image\") {}\n"
        "%conv = call_module conv (%getitem,) {}\n"
        "%update = call_method update (%d, {a: [%conv]}) {}\n"
        "%getitem_1 = call_function operator.getitem (%d, \"a\") {}\n"
        "%getitem_2 = call_function operator.getitem (%getitem_1, -1) {}\n"
        "%add = call_function operator.add (%getitem_2, %getitem_2) {}\n"
        "%output = output output (%add,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    /* the add's input getitem_2 is mapped to conv: conv's output is quantized */
    qpt_contains(
        out, "%conv_post_act_fake_quantizer = call_module conv_post_act_fake_quantizer (%conv,)");
    qpt_lacks(out, "getitem_2_post_act_fake_quantizer");
    test_free(out);
}

/* getitem2node raises where MQBench's does, on every backend that runs it. */
static void
getitem2node_fails_where_mqbench_fails(void **state)
{
    (void)state;
    static const char kw[] = "qgraph 1\n" CONV("conv", 3, 8)
        "%d = placeholder d () {}\n"
        "%getitem = call_function operator.getitem (%d, \"image\") {}\n"
        "%conv = call_module conv (%getitem,) {}\n"
        "%update = call_method update (%d,) {feat: %conv}\n"
        "%output = output output (%conv,) {}\n";
    char *msg = qpt_prepare(kw, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "%update: IndexError");
    test_free(msg);
    msg = qpt_prepare(kw, QP_BACKEND_VITIS, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "getitem2node");
    test_free(msg);
    /* OPENVINO does not run it */
    char *out = qpt_prepare(kw, QP_BACKEND_OPENVINO, NULL, QP_OK);
    test_free(out);
    static const char idx[] = "qgraph 1\n" CONV("conv", 3, 8)
        "%d = placeholder d () {}\n"
        "%getitem = call_function operator.getitem (%d, \"image\") {}\n"
        "%conv = call_module conv (%getitem,) {}\n"
        "%update = call_method update (%d, {feat: %conv}) {}\n"
        "%getitem_1 = call_function operator.getitem (%d, \"feat\") {}\n"
        "%getitem_2 = call_function operator.getitem (%getitem_1, slice(0, 1, None)) {}\n"
        "%output = output output (%getitem_2,) {}\n";
    msg = qpt_prepare(idx, QP_BACKEND_SNPE, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "%getitem_2: TypeError: a graph node (a tensor) is not subscriptable");
    test_free(msg);
}

/* Vitis marks TqtFakeQuantize only, and its observer must take a quant_type. */
static void
vitis_marks_tqt_only(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n" CONV("conv", 3, 8) CONV("conv2", 8, 8)
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%conv2 = call_module conv2 (%conv,) {}\n"
        "%output = output output (%conv2,) {}\n";
    qp_config *c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_fakequantize: "
                              "\"DoReFaFakeQuantize\"}\n");
    char *out = qpt_prepare(g, QP_BACKEND_VITIS, c, QP_OK);
    qpt_contains(out, "module conv.weight_fake_quant fq.DoReFaFakeQuantize {");
    qpt_contains(out, "module conv.weight_fake_quant.activation_post_process "
                      "obs.MinMaxFloorObserver {eps: 1.1920928955078125e-07, min_val: inf, "
                      "max_val: -inf, quant_min: -128, quant_max: 127, ch_axis: -1, pot_scale: "
                      "True, qscheme: \"per_tensor_symmetric\", dtype: \"qint8\", "
                      "quant_type: None,");
    qpt_contains(out, "quant_type: \"tensor\"");
    test_free(out);
    qp_config_destroy(c);
    c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxObserver\"}\n");
    char *msg = qpt_prepare(g, QP_BACKEND_VITIS, c, QP_ERR_INVALID_CONFIG);
    qpt_contains(msg, "obs.MinMaxObserver has no quant_type to set");
    test_free(msg);
    qp_config_destroy(c);
}

/* ONNX_QNN: torch maps NonDynamicallyQuantizableLinear (MultiheadAttention's
 * out_proj) and then fails in nnqat.Linear.from_float. */
static void
onnx_qnn_fails_on_multihead_attention(void **state)
{
    (void)state;
    static const char g[] = MHA_GRAPH;
    char *msg = qpt_prepare(g, QP_BACKEND_ONNX_QNN, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "cannot swap mha.out_proj");
    qpt_contains(msg, "from_float only works for Linear");
    test_free(msg);
    /* other backends map it to nothing: it stays float */
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module mha.out_proj nn.NonDynamicallyQuantizableLinear {");
    test_free(out);
    qp_config *c;
    assert_int_equal(qp_config_create(NULL, &c), QP_OK);
    assert_int_equal(qp_config_set_fix(c, true), QP_OK);
    out = qpt_prepare(g, QP_BACKEND_ONNX_QNN, c, QP_OK);
    qpt_contains(out, "module mha.out_proj nn.NonDynamicallyQuantizableLinear {");
    test_free(out);
    qp_config_destroy(c);
}

/* MQBench's LinearBn1d builds BatchNorm1d(out_features): a BN over another axis
 * (Linear on (N, L, F), then BatchNorm1d(L)) prints num_features = out_features. */
static void
linear_bn_takes_out_features(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n"
        "module fc nn.Linear {in_features: 16, out_features: 32, bias: True, "
        "weight_shape: (32, 16)}\n"
        "module bn nn.BatchNorm1d {num_features: 8, eps: 1e-05, momentum: 0.1, affine: True, "
        "track_running_stats: True, bias: True, weight_shape: (8,)}\n"
        "%x = placeholder x () {}\n"
        "%fc = call_module fc (%x,) {}\n"
        "%bn = call_module bn (%fc,) {}\n"
        "%output = output output (%bn,) {}\n";
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_OK);
    qpt_contains(out, "module fc.bn nn.BatchNorm1d {num_features: 32, eps: 1e-05, momentum: 0.1, "
                      "affine: True, track_running_stats: True, bias: True, weight_shape: (8,)}");
    test_free(out);
}

/* torch's propagate_qconfig_ constructs each qconfig once: a per-channel quantile
 * observer fails even where no quantizer of it is ever inserted. */
static void
qconfig_is_probed_before_use(void **state)
{
    (void)state;
    static const char g[] = "qgraph 1\n"
                            "%x = placeholder x () {}\n"
                            "%y = placeholder y () {}\n"
                            "%add = call_function operator.add (%x, %y) {}\n"
                            "%output = output output (%add,) {}\n";
    qp_config *c =
        qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer: \"EMAQuantileObserver\"}\n");
    char *msg = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_ERR_INVALID_QCONFIG);
    qpt_contains(msg, "EMAQuantileObserver works per tensor only");
    test_free(msg);
    qp_config_destroy(c);
    /* a keyword the observer does not take fails only where a quantizer is built */
    c = qpt_config("qcfg 1\nextra_qconfig_dict = {w_observer_extra_args: {ema_ratio: 0.5}}\n");
    char *out = qpt_prepare(g, QP_BACKEND_TENSORRT, c, QP_OK);
    test_free(out);
    qp_config_destroy(c);
}

/* A fused or swapped module whose submodule another node calls cannot be rebuilt
 * (torch fails on the GraphModule): refused, not silently broken. */
static void
called_submodules_block_fusion_and_swap(void **state)
{
    (void)state;
    static const char g[] =
        "qgraph 1\n" CONV("conv", 8, 8) CONV("conv.inner", 8, 8)
        "module bn nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: 0.1, affine: True, "
        "track_running_stats: True, bias: True, weight_shape: (8,)}\n"
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%bn = call_module bn (%conv,) {}\n"
        "%inner = call_module conv.inner (%bn,) {}\n"
        "%output = output output (%inner,) {}\n";
    char *msg = qpt_prepare(g, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "its submodule conv.inner is called by a node");
    test_free(msg);
    static const char h[] =
        "qgraph 1\n" CONV("conv", 8, 8) CONV("conv.inner", 8, 8)
        "%x = placeholder x () {}\n"
        "%conv = call_module conv (%x,) {}\n"
        "%inner = call_module conv.inner (%conv,) {}\n"
        "%output = output output (%inner,) {}\n";
    msg = qpt_prepare(h, QP_BACKEND_TENSORRT, NULL, QP_ERR_INVALID_GRAPH);
    qpt_contains(msg, "cannot swap conv for nnqat.Conv2d: its submodule conv.inner is called");
    test_free(msg);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fake_quantizer_path_replaces_existing_module),
        cmocka_unit_test(getitem_of_updated_dict_maps_to_stored_node),
        cmocka_unit_test(getitem2node_fails_where_mqbench_fails),
        cmocka_unit_test(vitis_marks_tqt_only),
        cmocka_unit_test(onnx_qnn_fails_on_multihead_attention),
        cmocka_unit_test(linear_bn_takes_out_features),
        cmocka_unit_test(qconfig_is_probed_before_use),
        cmocka_unit_test(called_submodules_block_fusion_and_swap),
    };
    return cmocka_run_group_tests_name("mqbench_quirks", tests, NULL, NULL);
}
