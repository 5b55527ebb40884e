/*
 * backend.c - the backends as data: one row each (quantization schemes,
 * fake-quantizer and observer kinds, fusion, QAT mapping, where activation
 * fake-quantizers go and the op lists that decide it), plus the fusion
 * patterns and QAT mappings they share. Passes read these fields; none of
 * them tests a backend's name. Facts are MQBench HEAD's on torch 1.13.
 */
#include "prep.h"

#include <ctype.h>
#include <string.h>

#define MOD(t) {QP__E_MOD, t}
#define FN(f) {QP__E_FUNC, f}
#define METH(m) {QP__E_METH, m}
#define END {QP__E_END, NULL}

#define RELU_M MOD("nn.ReLU")
#define RELU_F FN("torch.nn.functional.relu")

/* torch's native backend config plus MQBench's additions, last op first.
 * Sorted longest first (torch's sorted_patterns_dict), stable. */
const struct qp__pattern qp__fusion_patterns[] = {
    {3, {RELU_M, MOD("nn.BatchNorm1d"), MOD("nn.Conv1d")}, "nni.ConvBnReLU1d", NULL},
    {3, {RELU_F, MOD("nn.BatchNorm1d"), MOD("nn.Conv1d")}, "nni.ConvBnReLU1d", NULL},
    {3, {RELU_M, MOD("nn.BatchNorm2d"), MOD("nn.Conv2d")}, "nni.ConvBnReLU2d", NULL},
    {3, {RELU_F, MOD("nn.BatchNorm2d"), MOD("nn.Conv2d")}, "nni.ConvBnReLU2d", NULL},
    {3, {RELU_M, MOD("nn.BatchNorm3d"), MOD("nn.Conv3d")}, "nni.ConvBnReLU3d", NULL},
    {3, {RELU_F, MOD("nn.BatchNorm3d"), MOD("nn.Conv3d")}, "nni.ConvBnReLU3d", NULL},
    /* MQBench _get_custom_conv_configs: ConvTranspose2d + BN2d + nn.ReLU (module only) */
    {3, {RELU_M, MOD("nn.BatchNorm2d"), MOD("nn.ConvTranspose2d")}, "qnni.ConvTransposeBnReLU2d",
     NULL},
    {2, {RELU_M, MOD("nn.Conv1d")}, "nni.ConvReLU1d", NULL},
    {2, {RELU_F, MOD("nn.Conv1d")}, "nni.ConvReLU1d", NULL},
    {2, {MOD("nn.BatchNorm1d"), MOD("nn.Conv1d")}, "nni.ConvBn1d", NULL},
    {2, {MOD("nn.BatchNorm1d"), MOD("nn.ConvTranspose1d")}, NULL,
     "Fusing ConvTranspose+BatchNorm not yet supported in QAT."},
    {2, {RELU_M, MOD("nn.Conv2d")}, "nni.ConvReLU2d", NULL},
    {2, {RELU_F, MOD("nn.Conv2d")}, "nni.ConvReLU2d", NULL},
    {2, {MOD("nn.BatchNorm2d"), MOD("nn.Conv2d")}, "nni.ConvBn2d", NULL},
    {2, {MOD("nn.BatchNorm2d"), MOD("nn.ConvTranspose2d")}, "qnni.ConvTransposeBn2d", NULL},
    {2, {RELU_M, MOD("nn.Conv3d")}, "nni.ConvReLU3d", NULL},
    {2, {RELU_F, MOD("nn.Conv3d")}, "nni.ConvReLU3d", NULL},
    {2, {MOD("nn.BatchNorm3d"), MOD("nn.Conv3d")}, "nni.ConvBn3d", NULL},
    {2, {MOD("nn.BatchNorm3d"), MOD("nn.ConvTranspose3d")}, NULL,
     "Fusing ConvTranspose+BatchNorm not yet supported in QAT."},
    {2, {RELU_M, MOD("nn.Linear")}, "nni.LinearReLU", NULL},
    {2, {RELU_F, MOD("nn.Linear")}, "nni.LinearReLU", NULL},
    /* MQBench replaces torch's (BN1d, Linear) -> nni.LinearBn1d */
    {2, {MOD("nn.BatchNorm1d"), MOD("nn.Linear")}, "qnni.LinearBn1d", NULL},
    {2, {RELU_M, MOD("nn.BatchNorm2d")}, "nni.BNReLU2d", NULL},
    {2, {RELU_F, MOD("nn.BatchNorm2d")}, "nni.BNReLU2d", NULL},
    {2, {RELU_M, MOD("nn.BatchNorm3d")}, "nni.BNReLU3d", NULL},
    {2, {RELU_F, MOD("nn.BatchNorm3d")}, "nni.BNReLU3d", NULL},
    {0, {END, END, END}, NULL, NULL},
};

/* get_module_to_qat_module(native backend config + MQBench's custom configs),
 * with the nn.Embedding default the fixtures restore. */
static const struct qp__map qat_backend_config[] = {
    {"nn.Conv1d", "nnqat.Conv1d", NULL},
    {"nni.ConvReLU1d", "nniqat.ConvReLU1d", NULL},
    {"nni.ConvBn1d", "nniqat.ConvBn1d", NULL},
    {"nni.ConvBnReLU1d", "nniqat.ConvBnReLU1d", NULL},
    {"nn.Conv2d", "nnqat.Conv2d", NULL},
    {"nni.ConvReLU2d", "nniqat.ConvReLU2d", NULL},
    {"nni.ConvBn2d", "nniqat.ConvBn2d", NULL},
    {"nni.ConvBnReLU2d", "nniqat.ConvBnReLU2d", NULL},
    {"nn.Conv3d", "nnqat.Conv3d", NULL},
    {"nni.ConvReLU3d", "nniqat.ConvReLU3d", NULL},
    {"nni.ConvBn3d", "nniqat.ConvBn3d", NULL},
    {"nni.ConvBnReLU3d", "nniqat.ConvBnReLU3d", NULL},
    {"nn.Linear", "nnqat.Linear", NULL},
    {"nni.LinearReLU", "nniqat.LinearReLU", NULL},
    {"nni.LinearBn1d", "nniqat.LinearBn1d", NULL},
    {"nn.Embedding", "qnnqat.Embedding", NULL},
    {"nn.EmbeddingBag", "nnqat.EmbeddingBag", NULL},
    {"nn.ConvTranspose2d", "qnnqat.ConvTranspose2d", NULL},
    {"qnni.ConvTransposeBn2d", "qnniqat.ConvTransposeBn2d", NULL},
    {"qnni.ConvTransposeBnReLU2d", "qnniqat.ConvTransposeBnReLU2d", NULL},
    {"qnni.LinearBn1d", "qnniqat.LinearBn1d", NULL},
    {NULL, NULL, NULL},
};

/* ONNX_QNN: torch's get_default_qat_module_mappings() without Linear, LinearReLU
 * ("no QLinearFC in ONNX"). */
static const struct qp__map qat_torch_default_no_linear[] = {
    {"nn.Conv2d", "nnqat.Conv2d", NULL},
    {"nn.Conv3d", "nnqat.Conv3d", NULL},
    /* torch maps it, then nnqat.Linear.from_float asserts the type is exactly nn.Linear:
     * ONNX_QNN fails on every nn.MultiheadAttention (its out_proj) */
    {"nn.NonDynamicallyQuantizableLinear", "nnqat.Linear",
     "qat.Linear.from_float only works for Linear"},
    {"nni.ConvBn1d", "nniqat.ConvBn1d", NULL},
    {"nni.ConvBn2d", "nniqat.ConvBn2d", NULL},
    {"nni.ConvBn3d", "nniqat.ConvBn3d", NULL},
    {"nni.ConvBnReLU1d", "nniqat.ConvBnReLU1d", NULL},
    {"nni.ConvBnReLU2d", "nniqat.ConvBnReLU2d", NULL},
    {"nni.ConvBnReLU3d", "nniqat.ConvBnReLU3d", NULL},
    {"nni.ConvReLU2d", "nniqat.ConvReLU2d", NULL},
    {"nni.ConvReLU3d", "nniqat.ConvReLU3d", NULL},
    {"nni.LinearBn1d", "nniqat.LinearBn1d", NULL},
    {NULL, NULL, NULL},
};

/* ==== op lists ==== */

#define BASE_FUNCS                                                                         \
    FN("operator.add"), FN("operator.mul"), FN("torch.nn.functional.adaptive_avg_pool2d"),  \
        FN("torch.nn.functional.interpolate")
#define BASE_MODULES                                                                       \
    MOD("nniqat.ConvBnReLU2d"), MOD("nniqat.ConvBn2d"), MOD("nnqat.Conv2d"),                \
        MOD("nn.ConvTranspose2d"), MOD("nnqat.Linear"), MOD("nn.MaxPool2d"),                \
        MOD("nn.AvgPool2d"), MOD("nn.AdaptiveAvgPool2d"), MOD("nn.BatchNorm2d"),            \
        MOD("nn.PReLU"), MOD("nn.Upsample")

static const struct qp__entry base_consumers[] = {BASE_FUNCS, BASE_MODULES, END};
static const struct qp__entry tengine_consumers[] = {
    FN("torch.cat"), FN("torch.nn.functional.hardswish"), FN("torch.nn.functional.sigmoid"),
    BASE_FUNCS, MOD("nn.Hardswish"), MOD("nn.Sigmoid"), BASE_MODULES, END};
static const struct qp__entry onnx_consumers[] = {
    FN("operator.add"),          FN("torch.nn.functional.adaptive_avg_pool2d"),
    MOD("nniqat.ConvBnReLU2d"),  MOD("nniqat.ConvBn2d"),
    MOD("nnqat.Conv2d"),         MOD("nnqat.Linear"),
    MOD("qnniqat.LinearBn1d"),   MOD("nn.AvgPool2d"),
    MOD("nn.AdaptiveAvgPool2d"), END};
static const struct qp__entry academic_consumers[] = {MOD("nnqat.Conv2d"), MOD("nnqat.Linear"),
                                                      END};
static const struct qp__entry academic_nlp_consumers[] = {FN("torch.matmul"),
                                                          MOD("nnqat.Linear"), END};
static const struct qp__entry trt_nlp_consumers[] = {FN("operator.add"), FN("torch.matmul"),
                                                     MOD("nnqat.Linear"), END};

static const struct qp__entry totalint_pass[] = {
    FN("torch.nn.functional.relu"), FN("torch.nn.functional.relu6"), FN("torch.flatten"),
    MOD("nn.Dropout2d"), MOD("nn.ReLU"), MOD("nn.ReLU6"), END};
static const struct qp__entry tengine_pass[] = {FN("torch.flatten"), END};
static const struct qp__entry onnx_pass[] = {FN("torch.nn.functional.relu"),
                                             FN("torch.nn.functional.relu6"), MOD("nn.ReLU"),
                                             MOD("nn.ReLU6"), END};

static const struct qp__entry vitis_outputs[] = {
    MOD("nniqat.ConvBnReLU2d"),
    MOD("nniqat.ConvBn2d"),
    MOD("nnqat.Conv2d"),
    MOD("qnniqat.ConvBnReLU2d"),
    MOD("qnniqat.ConvBn2d"),
    MOD("qnniqat.ConvReLU2d"),
    MOD("nn.ConvTranspose2d"),
    MOD("nnqat.Linear"),
    MOD("nn.AvgPool2d"),
    MOD("nn.AdaptiveAvgPool2d"),
    MOD("nn.BatchNorm2d"),
    MOD("nn.ReLU"),
    MOD("nn.PReLU"),
    MOD("nn.Upsample"),
    FN("operator.add"),
    FN("operator.mul"),
    FN("torch.cat"),
    FN("torch.nn.functional.adaptive_avg_pool2d"),
    FN("torch._C._nn.avg_pool2d"),
    FN("torch.nn.functional.relu"),
    FN("torch.conv2d"),
    FN("torch._C._nn.linear"),
    FN("torch.nn.functional.interpolate"),
    END};

static const struct qp__merge base_merges[] = {{FN("operator.add"), FN("operator.mul")},
                                               {END, END}};
static const struct qp__merge no_merges[] = {{END, END}};
static const struct qp__merge onnx_merges[] = {{MOD("nn.ReLU"), FN("operator.add")}, {END, END}};
static const struct qp__merge trt_nlp_merges[] = {{FN("operator.add"), FN("operator.mul")},
                                                  {FN("operator.add"), FN("operator.truediv")},
                                                  {END, END}};

/* OPENVINO's lists (OPENVINOQuantizer). */
static const struct qp__entry ov_funcs[] = {
    FN("operator.add"),           FN("torch.nn.functional.adaptive_avg_pool2d"),
    FN("torch.nn.functional.max_pool2d"), FN("torch._C._nn.avg_pool2d"),
    FN("torch.flatten"),          METH("mean"),
    METH("sum"),                  FN("torch.nn.functional.interpolate"),
    END};
static const struct qp__entry ov_modules[] = {
    MOD("nniqat.ConvBnReLU2d"), MOD("nniqat.ConvBnReLU1d"), MOD("nniqat.ConvReLU2d"),
    MOD("nniqat.ConvBn2d"),     MOD("nniqat.ConvBn1d"),     MOD("nnqat.Conv2d"),
    MOD("nnqat.Linear"),        MOD("nn.AvgPool2d"),        MOD("nn.AdaptiveAvgPool2d"),
    MOD("nn.MaxPool2d"),        MOD("nn.Upsample"),         END};
static const struct qp__entry ov_academic_modules[] = {
    MOD("nnqat.Conv2d"),         MOD("nnqat.Linear"), MOD("nn.AvgPool2d"),
    MOD("nn.AdaptiveAvgPool2d"), MOD("nn.MaxPool2d"), MOD("nn.Upsample"),
    END};
static const struct qp__entry ov_passed[] = {FN("operator.getitem"), FN("getattr"), END};
static const struct qp__entry ov_passed_nonacademic[] = {FN("torch.cat"), END};
static const struct qp__entry ov_prop_prev[] = {FN("torch.nn.functional.max_pool2d"),
                                                FN("torch.flatten"), MOD("nn.MaxPool2d"),
                                                MOD("nn.Flatten"), END};
static const struct qp__entry ov_prop_cur[] = {
    FN("torch.conv2d"),         FN("torch.conv1d"),         FN("torch.conv3d"),
    FN("torch.matmul"),         MOD("nnqat.Conv2d"),        MOD("nniqat.ConvBnReLU2d"),
    MOD("nniqat.ConvBnReLU1d"), MOD("nniqat.ConvReLU2d"),   MOD("nniqat.ConvBn2d"),
    MOD("nniqat.ConvBn1d"),     MOD("nnqat.Linear"),        END};
static const struct qp__entry ov_unsigned[] = {FN("torch.nn.functional.relu"), MOD("nn.ReLU"),
                                               MOD("nniqat.ConvBnReLU2d"),
                                               MOD("nniqat.ConvBnReLU1d"),
                                               MOD("nniqat.ConvReLU2d"), END};
static const struct qp__entry ov_academic_unsigned[] = {FN("torch.nn.functional.relu"),
                                                        MOD("nn.ReLU"), END};
static const struct qp__entry ov_maybe_unsigned[] = {MOD("nn.Upsample"), MOD("nn.MaxPool2d"),
                                                     MOD("nn.AvgPool2d"),
                                                     MOD("nn.AdaptiveAvgPool2d"), END};

const struct qp__ov_lists qp__ov = {
    ov_funcs,       ov_modules,   ov_academic_modules, ov_passed,         ov_passed_nonacademic,
    ov_prop_prev,   ov_prop_cur,  ov_unsigned,         ov_academic_unsigned, ov_maybe_unsigned};

const struct qp__entry qp__fix_consumers[] = {
    MOD("qnniqat.LinearBn1d"), MOD("nniqat.LinearBn1d"), MOD("qnniqat.ConvFreezebn2d"),
    MOD("qnniqat.ConvFreezebnReLU2d"), MOD("qnniqat.ConvTransposeFreezebn2d"),
    MOD("qnniqat.ConvTransposeFreezebnReLU2d"), END};

/* ==== the table ==== */

/* QuantizeScheme(bit, symmetry, per_channel, pot_scale, symmetric_range) */
#define SYM8 {8, true, false, false, false}
#define SYM8R {8, true, false, false, true}
#define SYM8P {8, true, false, true, false}
#define ASYM8 {8, false, false, false, false}
#define LSQ_FQ "LearnableFakeQuantize"

/* Fields left out are zero: no fusion, no post loop, no lists. */
static const struct qp__backend backends[QP_BACKEND_COUNT] = {
    [QP_BACKEND_TENSORRT] =
        {.name = "Tensorrt",
         .summary = "inputs of listed consumers (conv, linear, pools, BN, add, mul, ...); "
                    "a mul feeding an add is not quantized",
         .w = {8, true, true, false, true}, .a = SYM8R, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ,
         .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = base_consumers, .use_additional_types = true, .merges = base_merges,
         .map_getitem = true, .exclude_methods = true},
    [QP_BACKEND_QDQ] =
        {.name = "QDQ", .summary = "as Tensorrt",
         .w = {8, true, true, false, true}, .a = SYM8R, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ,
         .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = base_consumers, .use_additional_types = true, .merges = base_merges,
         .map_getitem = true, .exclude_methods = true},
    [QP_BACKEND_NNIE] =
        {.name = "NNIE", .summary = "as Tensorrt; NNIE's fake-quantizer and schemes are fixed",
         .fixed_fakequant = true, .w = SYM8, .a = SYM8, .w_fq = "NNIEFakeQuantize",
         .a_fq = "NNIEFakeQuantize", .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver",
         .fuse = true, .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = base_consumers, .use_additional_types = true, .merges = base_merges,
         .map_getitem = true, .exclude_methods = true},
    [QP_BACKEND_SNPE] =
        {.name = "SNPE",
         .summary = "inputs and outputs of listed ops; after a following ReLU, ReLU6, "
                    "flatten or Dropout2d instead of the op itself",
         .w = ASYM8, .a = ASYM8, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ, .w_obs = "MinMaxObserver",
         .a_obs = "EMAMinMaxObserver", .fuse = true, .qat_map = qat_backend_config,
         .strategy = QP__PLACE_INPUT, .consumers = base_consumers,
         .use_additional_types = true, .merges = base_merges, .map_getitem = true,
         .exclude_methods = true, .post = true, .passthrough = totalint_pass,
         .check_merge = true},
    [QP_BACKEND_PPLW8A16] =
        {.name = "PPLW8A16", .summary = "as SNPE, with 16-bit activations",
         .w = ASYM8, .a = {16, false, false, false, false}, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ,
         .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = base_consumers, .use_additional_types = true, .merges = base_merges,
         .map_getitem = true, .exclude_methods = true, .post = true,
         .passthrough = totalint_pass, .check_merge = true},
    [QP_BACKEND_PPLCUDA] =
        {.name = "PPLCUDA", .summary = "as SNPE, with per-channel weights",
         .w = {8, false, true, false, false}, .a = ASYM8, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ,
         .w_obs = "MinMaxObserver", .a_obs = "MinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = base_consumers, .use_additional_types = true, .merges = base_merges,
         .map_getitem = true, .exclude_methods = true, .post = true,
         .passthrough = totalint_pass, .check_merge = true},
    [QP_BACKEND_STPU] =
        {.name = "STPU", .summary = "as SNPE, symmetric 8-bit with FixedFakeQuantize",
         .w = SYM8R, .a = SYM8R, .w_fq = "FixedFakeQuantize", .a_fq = "FixedFakeQuantize",
         .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = base_consumers, .use_additional_types = true, .merges = base_merges,
         .map_getitem = true, .exclude_methods = true, .post = true,
         .passthrough = totalint_pass, .check_merge = true},
    [QP_BACKEND_TENGINE_U8] =
        {.name = "Tengine_u8",
         .summary = "inputs and outputs of listed ops (also cat, sigmoid, hardswish) and the "
                    "graph's outputs; a mul feeding an add is quantized",
         .w = ASYM8, .a = ASYM8, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ, .w_obs = "MinMaxObserver",
         .a_obs = "EMAMinMaxObserver", .fuse = true, .qat_map = qat_backend_config,
         .strategy = QP__PLACE_INPUT, .consumers = tengine_consumers,
         .use_additional_types = true, .merges = no_merges, .map_getitem = true,
         .exclude_methods = true, .post = true, .passthrough = tengine_pass,
         .output_args = true, .map_getitem_all = true},
    [QP_BACKEND_ONNX_QNN] =
        {.name = "ONNX_QNN",
         .summary = "inputs and outputs of a fixed list (conv, linear, add, average pools), "
                    "after a following ReLU; Linear weights stay float",
         .w = ASYM8, .a = ASYM8, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ, .w_obs = "MinMaxObserver",
         .a_obs = "MinMaxObserver", .fuse = true, .qat_map = qat_torch_default_no_linear,
         .strategy = QP__PLACE_INPUT, .consumers = onnx_consumers, .merges = onnx_merges,
         .map_getitem = true, .exclude_methods = true, .post = true, .passthrough = onnx_pass},
    [QP_BACKEND_OPENVINO] =
        {.name = "OPENVINO",
         .summary = "every tensor that feeds a quantizable op, graph inputs too, never the "
                    "last layer; unsigned after ReLU; 7-bit weights",
         .w = {8, true, true, false, false}, .a = SYM8, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ,
         .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .weight_range = QP__WRANGE_OPENVINO,
         .strategy = QP__PLACE_OPENVINO, .use_additional_types = true, .merges = no_merges,
         .exclude_methods = true, .reads_academic_mode = true},
    [QP_BACKEND_VITIS] =
        {.name = "Vitis",
         .summary = "outputs of listed ops (conv, linear, pools, BN, ReLU, add, mul, cat); "
                    "power-of-two scales; quant_type marked",
         .w = SYM8P, .a = SYM8P, .w_fq = "TqtFakeQuantize", .a_fq = "TqtFakeQuantize",
         .w_obs = "MinMaxFloorObserver", .a_obs = "PoTModeObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_OUTPUT, .merges = no_merges,
         .exclude_methods = true, .check_getitem = true, .outputs = vitis_outputs,
         .quant_type_marking = true},
    [QP_BACKEND_TENSORRT_NLP] =
        {.name = "Tensorrt_NLP",
         .summary = "inputs of Linear, matmul and add (not sums of embeddings, not after a "
                    "mul or a division)",
         .w = {8, true, true, false, true}, .a = SYM8R, .w_fq = LSQ_FQ, .a_fq = LSQ_FQ,
         .w_obs = "MinMaxObserver", .a_obs = "EMAMinMaxObserver", .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = trt_nlp_consumers, .use_additional_types = true,
         .merges = trt_nlp_merges, .skip_nontensor = true, .skip_embedding_add = true},
    [QP_BACKEND_ACADEMIC] =
        {.name = "Academic",
         .summary = "inputs of conv and linear layers, no fusion; first and last layers "
                    "8-bit (config required)",
         .requires_config = true, .w = SYM8, .a = SYM8, .qat_map = qat_backend_config,
         .strategy = QP__PLACE_INPUT, .consumers = academic_consumers,
         .use_additional_types = true, .merges = base_merges, .map_getitem = true,
         .skip_nontensor = true, .exclude_methods = true, .eightbit_io = true},
    [QP_BACKEND_ACADEMIC_NLP] =
        {.name = "Academic_NLP", .summary = "inputs of Linear and matmul (config required)",
         .requires_config = true, .w = SYM8, .a = SYM8, .fuse = true,
         .qat_map = qat_backend_config, .strategy = QP__PLACE_INPUT,
         .consumers = academic_nlp_consumers, .use_additional_types = true,
         .merges = base_merges, .map_getitem = true, .exclude_methods = true},
};

const struct qp__backend *
qp__backend_get(qp_backend be)
{
    return (unsigned)be < QP_BACKEND_COUNT ? &backends[be] : NULL;
}

const char *
qp_backend_name(qp_backend be)
{
    return (unsigned)be < QP_BACKEND_COUNT ? backends[be].name : NULL;
}

const char *
qp_backend_summary(qp_backend be)
{
    return (unsigned)be < QP_BACKEND_COUNT ? backends[be].summary : NULL;
}

qp_status
qp_backend_from_name(const char *name, qp_backend *out)
{
    if (!name || !out)
        return QP_ERR_NULL_ARG;
    for (int i = 0; i < QP_BACKEND_COUNT; i++) {
        const char *a = backends[i].name, *b = name;
        while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b))
            a++, b++;
        if (!*a && !*b) {
            *out = (qp_backend)i;
            return QP_OK;
        }
    }
    return QP_ERR_UNSUPPORTED_BACKEND;
}

static bool
in(const char *t, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(t, *set))
            return true;
    return false;
}

bool
qp__ch_axis1_type(const char *t)
{
    static const char *const set[] = {"qnnqat.ConvTranspose2d", "qnniqat.ConvTransposeBn2d",
                                      "qnniqat.ConvTransposeBnReLU2d", "qnnqat.Embedding", NULL};
    return in(t, set);
}

bool
qp__bn_out_features_type(const char *t)
{
    static const char *const set[] = {"qnniqat.LinearBn1d", "nniqat.LinearBn1d", NULL};
    return in(t, set);
}

bool
qp__freeze_bn_type(const char *t)
{
    static const char *const set[] = {
        "nniqat.ConvBn1d",      "nniqat.ConvBn2d",          "nniqat.ConvBn3d",
        "nniqat.ConvBnReLU1d",  "nniqat.ConvBnReLU2d",      "nniqat.ConvBnReLU3d",
        "qnniqat.LinearBn1d",   "qnniqat.ConvTransposeBn2d", "qnniqat.ConvTransposeBnReLU2d",
        "nniqat.LinearBn1d",    NULL};
    return in(t, set);
}
