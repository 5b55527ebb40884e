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

#include <stdio.h>

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* A recording session; the first failure is kept and later steps do nothing. */
typedef struct rec {
    qp_tracer *t;
    qp_graph *g;
    qp_status st;
} rec;

static int
ok(rec *r, qp_status st)
{
    if (st && !r->st)
        r->st = st;
    return !r->st;
}

static qp_val
v_int(rec *r, int64_t i)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        ok(r, qp_val_new_int(r->g, i, &v));
    return v;
}

static qp_val
v_bool(rec *r, bool b)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        ok(r, qp_val_new_bool(r->g, b, &v));
    return v;
}

static qp_val
v_float(rec *r, double f)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        ok(r, qp_val_new_float(r->g, f, &v));
    return v;
}

static qp_val
v_tuple(rec *r, uint32_t n, const qp_val *items)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        ok(r, qp_val_new_tuple(r->g, n, items, &v));
    return v;
}

/* A tuple of n (at most 4) integers. */
static qp_val
v_ints(rec *r, uint32_t n, const int64_t *xs)
{
    qp_val items[4];
    for (uint32_t i = 0; i < n && i < 4; i++)
        items[i] = v_int(r, xs[i]);
    return v_tuple(r, n < 4 ? n : 4, items);
}

/* (a, a): torch.nn's _pair. */
static qp_val
v_pair(rec *r, int64_t a)
{
    const int64_t xs[2] = {a, a};
    return v_ints(r, 2, xs);
}

static void
declare(rec *r, const char *path, const char *type, uint32_t n, const char *const *keys,
        const qp_val *items)
{
    qp_val attrs = QP_NULL_VAL;
    if (r->st || !ok(r, qp_val_new_dict(r->g, n, keys, items, &attrs)))
        return;
    ok(r, qp_tracer_module(r->t, path, type, attrs, NULL));
}

/* nn.Conv2d(c, c, kernel_size=3, stride=1, padding=1, bias=False) */
static void
conv3x3(rec *r, const char *path, int64_t c)
{
    static const char *const keys[] = {
        "in_channels", "out_channels", "kernel_size",    "stride", "padding",     "dilation",
        "groups",      "padding_mode", "output_padding", "bias",   "weight_shape"};
    const int64_t shape[4] = {c, c, 3, 3};
    qp_val items[COUNT(keys)];
    uint32_t n = 0;
    items[n++] = v_int(r, c);
    items[n++] = v_int(r, c);
    items[n++] = v_pair(r, 3);
    items[n++] = v_pair(r, 1);
    items[n++] = v_pair(r, 1);
    items[n++] = v_pair(r, 1);
    items[n++] = v_int(r, 1);
    if (!r->st)
        ok(r, qp_val_new_str(r->g, "zeros", 5, &items[n]));
    n++;
    items[n++] = v_pair(r, 0);
    items[n++] = v_bool(r, false);
    items[n++] = v_ints(r, 4, shape);
    declare(r, path, "nn.Conv2d", n, keys, items);
}

/* nn.BatchNorm2d(c) */
static void
batchnorm2d(rec *r, const char *path, int64_t c)
{
    static const char *const keys[] = {"num_features",        "eps",  "momentum",    "affine",
                                       "track_running_stats", "bias", "weight_shape"};
    qp_val items[COUNT(keys)];
    uint32_t n = 0;
    items[n++] = v_int(r, c);
    items[n++] = v_float(r, 1e-5);
    items[n++] = v_float(r, 0.1);
    items[n++] = v_bool(r, true);
    items[n++] = v_bool(r, true);
    items[n++] = v_bool(r, true);
    items[n++] = v_ints(r, 1, &c);
    declare(r, path, "nn.BatchNorm2d", n, keys, items);
}

/* nn.ReLU(inplace=True) */
static void
relu(rec *r, const char *path)
{
    static const char *const keys[] = {"inplace"};
    qp_val items[1] = {v_bool(r, true)};
    declare(r, path, "nn.ReLU", 1, keys, items);
}

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
    qp_node out = QP_NULL_NODE;
    qp_val arg = QP_NULL_VAL, args;
    char path[48];
    if (!r->st)
        ok(r, qp_val_new_node(r->g, x, &arg));
    args = v_tuple(r, 1, &arg);
    if (!r->st)
        ok(r, qp_tracer_call_module(r->t, path_of(path, sizeof path, block, name), args,
                                    QP_NULL_VAL, &out));
    return out;
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
    qp_val sum[2] = {QP_NULL_VAL, QP_NULL_VAL};
    if (!r->st)
        ok(r, qp_val_new_node(r->g, out, &sum[0]));
    if (!r->st)
        ok(r, qp_val_new_node(r->g, x, &sum[1]));
    qp_val args = v_tuple(r, 2, sum);
    out = QP_NULL_NODE;
    if (!r->st)
        ok(r, qp_tracer_call_function(r->t, "operator.add", args, QP_NULL_VAL, &out));
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
    rec r = {t, qp_tracer_graph(t), qp_tracer_status(t)};
    char path[48];
    /* construction: every leaf module in named_modules() order */
    for (uint32_t i = 0; i < blocks && !r.st; i++) {
        conv3x3(&r, path_of(path, sizeof path, i, "conv1"), channels);
        batchnorm2d(&r, path_of(path, sizeof path, i, "bn1"), channels);
        relu(&r, path_of(path, sizeof path, i, "relu"));
        conv3x3(&r, path_of(path, sizeof path, i, "conv2"), channels);
        batchnorm2d(&r, path_of(path, sizeof path, i, "bn2"), channels);
    }
    /* the forward pass */
    qp_node x = QP_NULL_NODE;
    ok(&r, qp_tracer_placeholder(t, "x", QP_NULL_VAL, &x));
    for (uint32_t i = 0; i < blocks && !r.st; i++)
        x = block_forward(&r, i, x);
    qp_val result = QP_NULL_VAL;
    if (!r.st)
        ok(&r, qp_val_new_node(r.g, x, &result));
    if (!r.st)
        ok(&r, qp_tracer_output(t, result));
    return r.st;
}
