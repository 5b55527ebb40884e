/*
 * fuzz_config.c - libFuzzer target for the .qcfg configuration reader, and for
 * what prepare makes of a configuration that reads.
 *
 * Properties checked on every input:
 *  - reading never crashes or leaks; a failure names its line and has a message;
 *  - failing one allocation (picked from the input's hash) fails the read with
 *    QP_ERR_NOMEM and leaks nothing;
 *  - a configuration that reads is used to prepare a small graph (conv, bn,
 *    relu, linear, add, cat, a method) for a backend picked from the hash:
 *    prepare succeeds with a graph that verifies and reads back, or fails with
 *    a message and leaves the graph's text unchanged.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static const char graph_text[] =
    "qgraph 1\n"
    "module conv1 nn.Conv2d {in_channels: 3, out_channels: 8, kernel_size: (3, 3), stride: "
    "(1, 1), padding: (1, 1), dilation: (1, 1), groups: 1, bias: False, padding_mode: "
    "\"zeros\"}\n"
    "module bn1 nn.BatchNorm2d {num_features: 8, eps: 1e-05, momentum: 0.1, affine: True, "
    "track_running_stats: True}\n"
    "module relu nn.ReLU {inplace: True}\n"
    "module layer.conv nn.Conv2d {in_channels: 8, out_channels: 8, kernel_size: (1, 1), "
    "stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, bias: True, padding_mode: "
    "\"zeros\"}\n"
    "module fc nn.Linear {in_features: 16, out_features: 10, bias: True}\n"
    "%x = placeholder x () {}\n"
    "%conv1 = call_module conv1 (%x,) {}\n"
    "%bn1 = call_module bn1 (%conv1,) {}\n"
    "%relu = call_module relu (%bn1,) {}\n"
    "%layer_conv = call_module layer.conv (%relu,) {}\n"
    "%add = call_function operator.add (%layer_conv, %relu) {}\n"
    "%cat = call_function torch.cat ([%add, %relu],) {dim: 1}\n"
    "%mean = call_method mean (%cat, (2, 3)) {}\n"
    "%fc = call_module fc (%mean,) {}\n"
    "%output = output output (%fc,) {}\n";

static void
prepare_with(const qp_config *cfg, uint64_t h)
{
    fz_alloc st = {0};
    qp_allocator a = fz_allocator(&st);
    qp_error err;
    qp_graph *g = fz_read(graph_text, sizeof graph_text - 1, 0, &a, &err);
    FZ_CHECK(g != NULL, err.msg);
    qp_backend be = (qp_backend)(h % QP_BACKEND_COUNT);
    char *before = fz_text(g, &st, NULL);
    qp_status rc = qp_prepare_qat(g, be, cfg);
    free(fz_check_prepare(g, &st, rc, before));
    free(before);
    qp_graph_destroy(g);
    FZ_CHECK(st.live == 0 && st.live_blocks == 0, "leak (prepare)");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint64_t h = fz_hash(data, size);
    fz_alloc st = {0};
    qp_allocator a = fz_allocator(&st);
    qp_config *c = (qp_config *)1;
    qp_error err;
    qp_status rc = qp_config_read_text(text, size, &a, &c, &err);
    if (rc) {
        FZ_CHECK(c == NULL, "out not NULL after a failed read");
        FZ_CHECK(err.status == rc, err.msg);
        FZ_CHECK(rc == QP_ERR_NOMEM || err.line > 0, err.msg);
        FZ_CHECK(err.msg[0] != 0, "empty message");
    } else {
        prepare_with(c, h);
        qp_config_destroy(c);
    }
    FZ_CHECK(st.live == 0 && st.live_blocks == 0, "leak");

    size_t n = st.calls;
    if (n) {
        fz_alloc f = {0};
        f.fail_at = 1 + (size_t)(h % n);
        f.fail_after = (int)(h >> 63);
        qp_allocator fa = fz_allocator(&f);
        c = NULL;
        rc = qp_config_read_text(text, size, &fa, &c, &err);
        FZ_CHECK(rc == QP_ERR_NOMEM && c == NULL, "a failed allocation was not NOMEM");
        FZ_CHECK(f.live == 0 && f.live_blocks == 0, "leak after NOMEM");
    }
    return 0;
}
