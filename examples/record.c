/*
 * record.c - the examples' recording helpers (record.h).
 */
#include "record.h"

#include <string.h>

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

rec
rec_begin(qp_tracer *t)
{
    rec r = {t, qp_tracer_graph(t), qp_tracer_status(t)};
    return r;
}

int
rec_ok(rec *r, qp_status st)
{
    if (st && !r->st)
        r->st = st;
    return !r->st;
}

qp_val
rec_int(rec *r, int64_t i)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        rec_ok(r, qp_val_new_int(r->g, i, &v));
    return v;
}

qp_val
rec_bool(rec *r, bool b)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        rec_ok(r, qp_val_new_bool(r->g, b, &v));
    return v;
}

qp_val
rec_float(rec *r, double f)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        rec_ok(r, qp_val_new_float(r->g, f, &v));
    return v;
}

qp_val
rec_str(rec *r, const char *s)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        rec_ok(r, qp_val_new_str(r->g, s, strlen(s), &v));
    return v;
}

qp_val
rec_node(rec *r, qp_node n)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        rec_ok(r, qp_val_new_node(r->g, n, &v));
    return v;
}

qp_val
rec_tuple(rec *r, uint32_t n, const qp_val *items)
{
    qp_val v = QP_NULL_VAL;
    if (!r->st)
        rec_ok(r, qp_val_new_tuple(r->g, n, items, &v));
    return v;
}

qp_val
rec_ints(rec *r, uint32_t n, const int64_t *xs)
{
    qp_val items[4];
    if (n > 4)
        n = 4;
    for (uint32_t i = 0; i < n; i++)
        items[i] = rec_int(r, xs[i]);
    return rec_tuple(r, n, items);
}

qp_val
rec_pair(rec *r, int64_t a)
{
    const int64_t xs[2] = {a, a};
    return rec_ints(r, 2, xs);
}

void
rec_declare(rec *r, const char *path, const char *type, uint32_t n, const char *const *keys,
            const qp_val *items)
{
    qp_val attrs = QP_NULL_VAL;
    if (r->st || !rec_ok(r, qp_val_new_dict(r->g, n, keys, items, &attrs)))
        return;
    rec_ok(r, qp_tracer_module(r->t, path, type, attrs, NULL));
}

void
rec_conv2d(rec *r, const char *path, int64_t in, int64_t out, int64_t k, int64_t stride,
           int64_t pad)
{
    static const char *const keys[] = {
        "in_channels", "out_channels", "kernel_size",    "stride", "padding",     "dilation",
        "groups",      "padding_mode", "output_padding", "bias",   "weight_shape"};
    const int64_t shape[4] = {out, in, k, k};
    qp_val items[COUNT(keys)];
    uint32_t n = 0;
    items[n++] = rec_int(r, in);
    items[n++] = rec_int(r, out);
    items[n++] = rec_pair(r, k);
    items[n++] = rec_pair(r, stride);
    items[n++] = rec_pair(r, pad);
    items[n++] = rec_pair(r, 1);
    items[n++] = rec_int(r, 1);
    items[n++] = rec_str(r, "zeros");
    items[n++] = rec_pair(r, 0);
    items[n++] = rec_bool(r, false);
    items[n++] = rec_ints(r, 4, shape);
    rec_declare(r, path, "nn.Conv2d", n, keys, items);
}

void
rec_batchnorm2d(rec *r, const char *path, int64_t features)
{
    static const char *const keys[] = {"num_features",        "eps",  "momentum",    "affine",
                                       "track_running_stats", "bias", "weight_shape"};
    qp_val items[COUNT(keys)];
    uint32_t n = 0;
    items[n++] = rec_int(r, features);
    items[n++] = rec_float(r, 1e-5);
    items[n++] = rec_float(r, 0.1);
    items[n++] = rec_bool(r, true);
    items[n++] = rec_bool(r, true);
    items[n++] = rec_bool(r, true);
    items[n++] = rec_ints(r, 1, &features);
    rec_declare(r, path, "nn.BatchNorm2d", n, keys, items);
}

void
rec_relu(rec *r, const char *path)
{
    static const char *const keys[] = {"inplace"};
    qp_val items[1] = {rec_bool(r, true)};
    rec_declare(r, path, "nn.ReLU", 1, keys, items);
}

qp_node
rec_call(rec *r, const char *path, qp_node x)
{
    qp_node out = QP_NULL_NODE;
    qp_val arg = rec_node(r, x);
    qp_val args = rec_tuple(r, 1, &arg);
    if (!r->st)
        rec_ok(r, qp_tracer_call_module(r->t, path, args, QP_NULL_VAL, &out));
    return out;
}

qp_node
rec_call_function(rec *r, const char *fn, uint32_t n, const qp_val *items)
{
    qp_node out = QP_NULL_NODE;
    qp_val args = rec_tuple(r, n, items);
    if (!r->st)
        rec_ok(r, qp_tracer_call_function(r->t, fn, args, QP_NULL_VAL, &out));
    return out;
}
