/*
 * resnet18.c - torchvision's resnet18 recorded through the qprep tracer.
 *
 * This is what a C training framework does with its own model: the model is
 * described as torchvision builds it (ResNet(BasicBlock, [2, 2, 2, 2]),
 * _make_layer doubling the width and halving the resolution from layer2 on),
 * then "constructed" (every leaf module declared, in named_modules() order)
 * and "run" once (the forward pass recorded call by call). The tracer names
 * the nodes as torch.fx does, so the result is torch.fx's graph of
 * torchvision.models.resnet18() (tests/data/fixtures/resnet18.in.qg).
 */
#include "resnet18.h"

#include <stdio.h>

/* ==== Model description (torchvision/models/resnet.py) ==== */

enum { NUM_LAYERS = 4, MAX_BLOCKS = 16, EXPANSION = 1 /* BasicBlock.expansion */ };

static const int blocks_per_layer[NUM_LAYERS] = {2, 2, 2, 2};
static const int64_t stem_planes = 64;
static const int64_t num_classes = 1000;

/* One BasicBlock: conv3x3-bn-relu-conv3x3-bn (+ downsample) + identity, relu. */
typedef struct block {
    char path[32]; /* "layer2.0" */
    int64_t inplanes, planes, stride;
    int downsample; /* conv1x1-bn on the identity path */
} block;

typedef struct resnet {
    block blocks[MAX_BLOCKS];
    int nblocks;
    int64_t fc_in;
} resnet;

/* ResNet.__init__ and ResNet._make_layer: lays out the blocks of every layer. */
static void
resnet_init(resnet *m)
{
    int64_t inplanes = stem_planes;
    m->nblocks = 0;
    for (int i = 0; i < NUM_LAYERS; i++) {
        int64_t planes = stem_planes << i;
        int64_t stride = i == 0 ? 1 : 2;
        for (int j = 0; j < blocks_per_layer[i] && m->nblocks < MAX_BLOCKS; j++) {
            block *b = &m->blocks[m->nblocks++];
            snprintf(b->path, sizeof b->path, "layer%d.%d", i + 1, j);
            b->inplanes = inplanes;
            b->planes = planes;
            b->stride = j == 0 ? stride : 1;
            b->downsample = j == 0 && (stride != 1 || inplanes != planes * EXPANSION);
            inplanes = planes * EXPANSION;
        }
    }
    m->fc_in = inplanes;
}

/* ==== Recording helpers ==== */

/* A recording session. The first failure (tracer or value constructor) is kept in
 * st, and every helper does nothing once it is set. */
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
v_str(rec *r, const char *s, size_t len)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        ok(r, qp_val_new_str(r->g, s, len, &v));
    return v;
}

static qp_val
v_node(rec *r, qp_node n)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        ok(r, qp_val_new_node(r->g, n, &v));
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

/* A tuple of n integers: a shape or a torch.nn "_size_any_t". */
static qp_val
v_ints(rec *r, uint32_t n, const int64_t *xs)
{
    qp_val items[4];
    if (n > 4)
        n = 4;
    for (uint32_t i = 0; i < n; i++)
        items[i] = v_int(r, xs[i]);
    return v_tuple(r, n, items);
}

/* (a, a): what torch.nn's _pair makes of an int. */
static qp_val
v_pair(rec *r, int64_t a)
{
    const int64_t xs[2] = {a, a};
    return v_ints(r, 2, xs);
}

/* Declares a leaf module with the attribute dict keys[i]: items[i]. */
static void
declare(rec *r, const char *path, const char *type, uint32_t n, const char *const *keys,
        const qp_val *items)
{
    qp_val attrs = QP_NULL_VAL;
    if (r->st || !ok(r, qp_val_new_dict(r->g, n, keys, items, &attrs)))
        return;
    ok(r, qp_tracer_module(r->t, path, type, attrs, NULL));
}

/* "prefix.name" into buf (just name when prefix is empty). */
static const char *
join(char *buf, size_t cap, const char *prefix, const char *name)
{
    snprintf(buf, cap, "%s%s%s", prefix, *prefix ? "." : "", name);
    return buf;
}

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* ==== Construction: the leaf modules, with the attributes the trace records ==== */

/* nn.Conv2d(in, out, kernel_size=k, stride=stride, padding=pad, bias=False) */
static void
conv2d(rec *r, const char *prefix, const char *name, int64_t in, int64_t out, int64_t k,
       int64_t stride, int64_t pad)
{
    static const char *const keys[] = {
        "in_channels", "out_channels", "kernel_size",    "stride", "padding",     "dilation",
        "groups",      "padding_mode", "output_padding", "bias",   "weight_shape"};
    const int64_t shape[4] = {out, in, k, k};
    qp_val items[COUNT(keys)];
    uint32_t n = 0;
    items[n++] = v_int(r, in);
    items[n++] = v_int(r, out);
    items[n++] = v_pair(r, k);
    items[n++] = v_pair(r, stride);
    items[n++] = v_pair(r, pad);
    items[n++] = v_pair(r, 1);
    items[n++] = v_int(r, 1);
    items[n++] = v_str(r, "zeros", 5);
    items[n++] = v_pair(r, 0);
    items[n++] = v_bool(r, false);
    items[n++] = v_ints(r, 4, shape);
    char path[64];
    declare(r, join(path, sizeof path, prefix, name), "nn.Conv2d", n, keys, items);
}

/* nn.BatchNorm2d(num_features) */
static void
batchnorm2d(rec *r, const char *prefix, const char *name, int64_t features)
{
    static const char *const keys[] = {"num_features",        "eps",  "momentum",    "affine",
                                       "track_running_stats", "bias", "weight_shape"};
    qp_val items[COUNT(keys)];
    uint32_t n = 0;
    items[n++] = v_int(r, features);
    items[n++] = v_float(r, 1e-5);
    items[n++] = v_float(r, 0.1);
    items[n++] = v_bool(r, true);
    items[n++] = v_bool(r, true);
    items[n++] = v_bool(r, true);
    items[n++] = v_ints(r, 1, &features);
    char path[64];
    declare(r, join(path, sizeof path, prefix, name), "nn.BatchNorm2d", n, keys, items);
}

/* nn.ReLU(inplace=True) */
static void
relu(rec *r, const char *prefix, const char *name)
{
    static const char *const keys[] = {"inplace"};
    qp_val items[1] = {v_bool(r, true)};
    char path[64];
    declare(r, join(path, sizeof path, prefix, name), "nn.ReLU", 1, keys, items);
}

/* BasicBlock.__init__: conv1, bn1, relu, conv2, bn2, downsample = Sequential(conv1x1, bn). */
static void
block_init(rec *r, const block *b)
{
    conv2d(r, b->path, "conv1", b->inplanes, b->planes, 3, b->stride, 1);
    batchnorm2d(r, b->path, "bn1", b->planes);
    relu(r, b->path, "relu");
    conv2d(r, b->path, "conv2", b->planes, b->planes, 3, 1, 1);
    batchnorm2d(r, b->path, "bn2", b->planes);
    if (b->downsample) {
        conv2d(r, b->path, "downsample.0", b->inplanes, b->planes * EXPANSION, 1, b->stride, 0);
        batchnorm2d(r, b->path, "downsample.1", b->planes * EXPANSION);
    }
}

/* ResNet.__init__: the stem, the layers, the head. */
static void
resnet_declare(rec *r, const resnet *m)
{
    conv2d(r, "", "conv1", 3, stem_planes, 7, 2, 3);
    batchnorm2d(r, "", "bn1", stem_planes);
    relu(r, "", "relu");
    {
        static const char *const keys[] = {"kernel_size", "stride",    "padding",
                                           "dilation",    "ceil_mode", "return_indices"};
        qp_val items[COUNT(keys)] = {v_int(r, 3), v_int(r, 2),      v_int(r, 1),
                                     v_int(r, 1), v_bool(r, false), v_bool(r, false)};
        declare(r, "maxpool", "nn.MaxPool2d", COUNT(keys), keys, items);
    }
    for (int i = 0; i < m->nblocks; i++)
        block_init(r, &m->blocks[i]);
    {
        static const char *const keys[] = {"output_size"};
        qp_val items[1] = {v_pair(r, 1)};
        declare(r, "avgpool", "nn.AdaptiveAvgPool2d", 1, keys, items);
    }
    {
        static const char *const keys[] = {"in_features", "out_features", "bias", "weight_shape"};
        const int64_t shape[2] = {num_classes, m->fc_in};
        qp_val items[COUNT(keys)] = {v_int(r, m->fc_in), v_int(r, num_classes), v_bool(r, true),
                                     v_ints(r, 2, shape)};
        declare(r, "fc", "nn.Linear", COUNT(keys), keys, items);
    }
}

/* ==== Forward: what torch.fx records when the model runs ==== */

/* self.<prefix.name>(x) */
static qp_node
call(rec *r, const char *prefix, const char *name, qp_node x)
{
    qp_node out = QP_NULL_NODE;
    qp_val arg = v_node(r, x);
    qp_val args = v_tuple(r, 1, &arg);
    char path[64];
    if (!r->st)
        ok(r, qp_tracer_call_module(r->t, join(path, sizeof path, prefix, name), args, QP_NULL_VAL,
                                    &out));
    return out;
}

/* fn(args...) for a function by its qualified name. */
static qp_node
call_function(rec *r, const char *fn, uint32_t n, const qp_val *items)
{
    qp_node out = QP_NULL_NODE;
    qp_val args = v_tuple(r, n, items);
    if (!r->st)
        ok(r, qp_tracer_call_function(r->t, fn, args, QP_NULL_VAL, &out));
    return out;
}

/* BasicBlock.forward */
static qp_node
block_forward(rec *r, const block *b, qp_node x)
{
    qp_node identity = x;
    qp_node out = call(r, b->path, "conv1", x);
    out = call(r, b->path, "bn1", out);
    out = call(r, b->path, "relu", out);
    out = call(r, b->path, "conv2", out);
    out = call(r, b->path, "bn2", out);
    if (b->downsample) /* nn.Sequential runs its children in order */
        identity = call(r, b->path, "downsample.1", call(r, b->path, "downsample.0", x));
    qp_val sum[2] = {v_node(r, out), v_node(r, identity)}; /* out += identity */
    out = call_function(r, "operator.add", 2, sum);
    return call(r, b->path, "relu", out);
}

/* ResNet._forward_impl */
static void
resnet_forward(rec *r, const resnet *m)
{
    qp_node x = QP_NULL_NODE;
    ok(r, qp_tracer_placeholder(r->t, "x", QP_NULL_VAL, &x));
    x = call(r, "", "conv1", x);
    x = call(r, "", "bn1", x);
    x = call(r, "", "relu", x);
    x = call(r, "", "maxpool", x);
    for (int i = 0; i < m->nblocks; i++)
        x = block_forward(r, &m->blocks[i], x);
    x = call(r, "", "avgpool", x);
    qp_val flat[2] = {v_node(r, x), v_int(r, 1)}; /* torch.flatten(x, 1) */
    x = call_function(r, "torch.flatten", 2, flat);
    x = call(r, "", "fc", x);
    qp_val result = v_node(r, x);
    if (!r->st)
        ok(r, qp_tracer_output(r->t, result));
}

qp_status
qp_example_trace_resnet18(qp_tracer *t)
{
    if (!t)
        return QP_ERR_NULL_ARG;
    rec r = {t, qp_tracer_graph(t), qp_tracer_status(t)};
    resnet m;
    resnet_init(&m);
    resnet_declare(&r, &m);
    resnet_forward(&r, &m);
    return r.st;
}
