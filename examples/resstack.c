/*
 * resstack.c - a residual stack of N torchvision BasicBlocks recorded through
 * the qprep tracer, from a few nodes to millions: the benchmark's graph.
 *
 * Each block is BasicBlock without downsampling (conv3x3, bn, relu, conv3x3,
 * bn, + identity, relu, the relu module called twice), so the stack has the
 * shape of resnet18's layer1 repeated: every pass of prepare has work on it
 * (duplicate the reused relu, fuse conv-bn-relu and conv-bn, swap to QAT
 * modules, insert fake-quantizers) in the same proportion at any size.
 */
#include "resstack.h"
#include "record.h"

#include <stdio.h>

/* "blocks.I.name" into buf */
static const char *
path_of(char *buf, size_t cap, uint32_t block, const char *name)
{
    snprintf(buf, cap, "blocks.%lu.%s", (unsigned long)block, name);
    return buf;
}

/* self.blocks[I].<name>(x) */
static qp_node
call(rec *r, uint32_t block, const char *name, qp_node x)
{
    char path[48];
    return rec_call(r, path_of(path, sizeof path, block, name), x);
}

/* BasicBlock.forward: out = relu(bn2(conv2(relu(bn1(conv1(x)))))) + x), relu twice */
static qp_node
block_forward(rec *r, uint32_t block, qp_node x)
{
    qp_node out = call(r, block, "conv1", x);
    out = call(r, block, "bn1", out);
    out = call(r, block, "relu", out);
    out = call(r, block, "conv2", out);
    out = call(r, block, "bn2", out);
    qp_val sum[2] = {rec_node(r, out), rec_node(r, x)}; /* out += identity */
    out = rec_call_function(r, "operator.add", 2, sum);
    return call(r, block, "relu", out);
}

uint64_t
qp_example_resstack_nodes(uint32_t blocks)
{
    return 7u * (uint64_t)blocks + 2u;
}

uint32_t
qp_example_resstack_blocks(uint64_t nodes)
{
    uint64_t b = nodes > 9 ? (nodes - 2 + 3) / 7 : 1; /* rounded to the nearest */
    return b > UINT32_MAX / 8 ? UINT32_MAX / 8 : (uint32_t)b;
}

qp_status
qp_example_trace_resstack(qp_tracer *t, uint32_t blocks, int64_t channels)
{
    if (!t)
        return QP_ERR_NULL_ARG;
    if (blocks == 0 || blocks > UINT32_MAX / 8 || channels < 1)
        return QP_ERR_INVALID_ARG;
    rec r = rec_begin(t);
    char path[48];
    /* construction: every leaf module in named_modules() order */
    for (uint32_t i = 0; i < blocks && !r.st; i++) {
        /* nn.Conv2d(c, c, kernel_size=3, stride=1, padding=1, bias=False) */
        rec_conv2d(&r, path_of(path, sizeof path, i, "conv1"), channels, channels, 3, 1, 1);
        rec_batchnorm2d(&r, path_of(path, sizeof path, i, "bn1"), channels);
        rec_relu(&r, path_of(path, sizeof path, i, "relu"));
        rec_conv2d(&r, path_of(path, sizeof path, i, "conv2"), channels, channels, 3, 1, 1);
        rec_batchnorm2d(&r, path_of(path, sizeof path, i, "bn2"), channels);
    }
    /* the forward pass */
    qp_node x = QP_NULL_NODE;
    rec_ok(&r, qp_tracer_placeholder(t, "x", QP_NULL_VAL, &x));
    for (uint32_t i = 0; i < blocks && !r.st; i++)
        x = block_forward(&r, i, x);
    qp_val result = rec_node(&r, x);
    if (!r.st)
        rec_ok(&r, qp_tracer_output(t, result));
    return r.st;
}
