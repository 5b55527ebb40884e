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
#include "record.h"

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

/* ==== Recording helpers (record.h) ==== */

/* "prefix.name" into buf (just name when prefix is empty). */
static const char *
join(char *buf, size_t cap, const char *prefix, const char *name)
{
    snprintf(buf, cap, "%s%s%s", prefix, *prefix ? "." : "", name);
    return buf;
}

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* ==== Construction: the leaf modules, with the attributes the trace records ==== */

/* The leaf modules at prefix.name (record.h declares them as torch.fx records them). */
static void
conv2d(rec *r, const char *prefix, const char *name, int64_t in, int64_t out, int64_t k,
       int64_t stride, int64_t pad)
{
    char path[64];
    rec_conv2d(r, join(path, sizeof path, prefix, name), in, out, k, stride, pad);
}

static void
batchnorm2d(rec *r, const char *prefix, const char *name, int64_t features)
{
    char path[64];
    rec_batchnorm2d(r, join(path, sizeof path, prefix, name), features);
}

static void
relu(rec *r, const char *prefix, const char *name)
{
    char path[64];
    rec_relu(r, join(path, sizeof path, prefix, name));
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
        qp_val items[COUNT(keys)] = {rec_int(r, 3), rec_int(r, 2),      rec_int(r, 1),
                                     rec_int(r, 1), rec_bool(r, false), rec_bool(r, false)};
        rec_declare(r, "maxpool", "nn.MaxPool2d", COUNT(keys), keys, items);
    }
    for (int i = 0; i < m->nblocks; i++)
        block_init(r, &m->blocks[i]);
    {
        static const char *const keys[] = {"output_size"};
        qp_val items[1] = {rec_pair(r, 1)};
        rec_declare(r, "avgpool", "nn.AdaptiveAvgPool2d", 1, keys, items);
    }
    {
        static const char *const keys[] = {"in_features", "out_features", "bias", "weight_shape"};
        const int64_t shape[2] = {num_classes, m->fc_in};
        qp_val items[COUNT(keys)] = {rec_int(r, m->fc_in), rec_int(r, num_classes),
                                     rec_bool(r, true), rec_ints(r, 2, shape)};
        rec_declare(r, "fc", "nn.Linear", COUNT(keys), keys, items);
    }
}

/* ==== Forward: what torch.fx records when the model runs ==== */

/* self.<prefix.name>(x) */
static qp_node
call(rec *r, const char *prefix, const char *name, qp_node x)
{
    char path[64];
    return rec_call(r, join(path, sizeof path, prefix, name), x);
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
    qp_val sum[2] = {rec_node(r, out), rec_node(r, identity)}; /* out += identity */
    out = rec_call_function(r, "operator.add", 2, sum);
    return call(r, b->path, "relu", out);
}

/* ResNet._forward_impl */
static void
resnet_forward(rec *r, const resnet *m)
{
    qp_node x = QP_NULL_NODE;
    rec_ok(r, qp_tracer_placeholder(r->t, "x", QP_NULL_VAL, &x));
    x = call(r, "", "conv1", x);
    x = call(r, "", "bn1", x);
    x = call(r, "", "relu", x);
    x = call(r, "", "maxpool", x);
    for (int i = 0; i < m->nblocks; i++)
        x = block_forward(r, &m->blocks[i], x);
    x = call(r, "", "avgpool", x);
    qp_val flat[2] = {rec_node(r, x), rec_int(r, 1)}; /* torch.flatten(x, 1) */
    x = rec_call_function(r, "torch.flatten", 2, flat);
    x = call(r, "", "fc", x);
    qp_val result = rec_node(r, x);
    if (!r->st)
        rec_ok(r, qp_tracer_output(r->t, result));
}

qp_status
qp_example_trace_resnet18(qp_tracer *t)
{
    if (!t)
        return QP_ERR_NULL_ARG;
    rec r = rec_begin(t);
    resnet m;
    resnet_init(&m);
    resnet_declare(&r, &m);
    resnet_forward(&r, &m);
    return r.st;
}
