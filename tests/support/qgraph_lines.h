/*
 * qgraph_lines.h - qgraph text the pass tests build their small graphs from:
 * module lines with the attribute dicts torch.fx records for nn.Conv1d/2d/3d,
 * nn.ConvTranspose1d/2d, nn.Linear and nn.ReLU, a chain x -> m -> n2 [-> n3]
 * -> output of call_module nodes, and a whole graph around nn.MultiheadAttention.
 */
#ifndef QPT_QGRAPH_LINES_H
#define QPT_QGRAPH_LINES_H

#define CONV1(name, cin, cout)                                                             \
    "module " name " nn.Conv1d {in_channels: " #cin ", out_channels: " #cout ", kernel_size: " \
    "(1,), stride: (1,), padding: (0,), dilation: (1,), groups: 1, padding_mode: \"zeros\", "  \
    "output_padding: (0,), bias: True, weight_shape: (" #cout ", " #cin ", 1)}\n"
#define CONV2(name, cin, cout)                                                             \
    "module " name " nn.Conv2d {in_channels: " #cin ", out_channels: " #cout ", kernel_size: " \
    "(1, 1), stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, padding_mode: "   \
    "\"zeros\", output_padding: (0, 0), bias: True, weight_shape: (" #cout ", " #cin ", 1, 1)}\n"
#define CONV3(name, cin, cout)                                                             \
    "module " name " nn.Conv3d {in_channels: " #cin ", out_channels: " #cout ", kernel_size: " \
    "(1, 1, 1), stride: (1, 1, 1), padding: (0, 0, 0), dilation: (1, 1, 1), groups: 1, "      \
    "padding_mode: \"zeros\", output_padding: (0, 0, 0), bias: True, weight_shape: (" #cout    \
    ", " #cin ", 1, 1, 1)}\n"
#define CONVT1(name, cin, cout)                                                            \
    "module " name " nn.ConvTranspose1d {in_channels: " #cin ", out_channels: " #cout         \
    ", kernel_size: (2,), stride: (2,), padding: (0,), dilation: (1,), groups: 1, "           \
    "padding_mode: \"zeros\", output_padding: (0,), bias: True, weight_shape: (" #cin ", "    \
    #cout ", 2)}\n"
#define CONVT2(name, cin, cout)                                                            \
    "module " name " nn.ConvTranspose2d {in_channels: " #cin ", out_channels: " #cout         \
    ", kernel_size: (2, 2), stride: (2, 2), padding: (0, 0), dilation: (1, 1), groups: 1, "   \
    "padding_mode: \"zeros\", output_padding: (0, 0), bias: True, weight_shape: (" #cin ", "  \
    #cout ", 2, 2)}\n"
#define LINEAR(name, in, out)                                                              \
    "module " name " nn.Linear {in_features: " #in ", out_features: " #out ", bias: True, "    \
    "weight_shape: (" #out ", " #in ")}\n"
#define RELU(name) "module " name " nn.ReLU {inplace: False}\n"

/* A chain x -> m -> n2 [-> n3] -> output. */
#define X "%x = placeholder x () {}\n"
#define HEAD X "%m = call_module m (%x,) {}\n"
#define MOD2(t) "%n2 = call_module " t " (%m,) {}\n"
#define MOD3(t) "%n3 = call_module " t " (%n2,) {}\n"
#define OUT(n) "%output = output output (%" n ",) {}\n"

/* nn.MultiheadAttention called on x three times, its out_proj a
 * NonDynamicallyQuantizableLinear (torch maps it to nnqat.Linear, whose from_float
 * then fails). */
#define MHA_GRAPH                                                                          \
    "qgraph 1\n"                                                                           \
    "module mha nn.MultiheadAttention {embed_dim: 16, num_heads: 2}\n"                     \
    "module mha.out_proj nn.NonDynamicallyQuantizableLinear {in_features: 16, "            \
    "out_features: 16, bias: True, weight_shape: (16, 16)}\n"                              \
    "%x = placeholder x () {}\n"                                                           \
    "%mha = call_module mha (%x, %x, %x) {}\n"                                             \
    "%getitem = call_function operator.getitem (%mha, 0) {}\n"                             \
    "%output = output output (%getitem,) {}\n"

#endif
