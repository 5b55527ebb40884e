/*
 * train_resnet18.c - README's "Training with the prepared graph": the demo's
 * ResNet-18 traced and prepared for a backend, every quantizer of the
 * prepared graph created at once (qp_quant_set_create), calibrated on random
 * data, switched to quantization-aware training for one SGD step of its
 * learnable parameters, frozen, saved to a state file and loaded back into a
 * fresh set. Prints one line per quantizer (path, role, kinds, axis, range of
 * its scale) and checks, as it goes, what must hold on any backend:
 *
 *  - the set has one quantizer per fake-quantizer module of the graph;
 *  - a weight quantizer's per-channel scale has one value per channel of its
 *    module's weight (weight_shape) on its axis (1 for ConvTranspose);
 *  - after calibration every scale is finite and positive;
 *  - after the training step the learnable parameters moved (a quantizer
 *    of a 16-bit range may well get a negative scale from so crude a step:
 *    LearnableFakeQuantize takes |scale| at its next forward, as MQBench);
 *  - the state file loads back into a fresh set bit for bit, writes the same
 *    text again, and the reloaded quantizers compute the same outputs.
 *
 * The data come from a fixed generator: a weight quantizer sees a tensor of
 * its weight's shape scaled as Kaiming's initialisation, an activation
 * quantizer a (4, 16, 8, 8) tensor (ReLU outputs where the backend's range is
 * unsigned). Exits 1 if a check fails.
 *
 * usage: qprep_train_resnet18 [BACKEND [STATE_FILE]]   (Tensorrt, resnet18.qstate)
 */
#include "resnet18.h"

#include <qprep/prepare.h>
#include <qprep/quant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACT_N (4 * 16 * 8 * 8)

static int failures;

static void
check(bool ok, const char *what, const char *path)
{
    if (!ok) {
        fprintf(stderr, "qprep_train_resnet18: %s: %s\n", path, what);
        failures++;
    }
}

/* xorshift64*, roughly normal values (a sum of four uniforms) */
static uint64_t rng = 0x2545f4914f6cdd1dull;

static float
normal(void)
{
    float acc = 0;
    for (int k = 0; k < 4; k++) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        acc += (float)((rng * 2685821657736338717ull) >> 40) / (float)(1u << 24) - 0.5f;
    }
    return acc * 1.7320508f; /* unit variance */
}

/* The tensor a quantizer is fed: its shape and numel, for the graph g. */
struct feed {
    int64_t shape[QP_QUANT_MAX_DIMS];
    uint32_t ndim;
    size_t numel;
    float std;
    bool relu;
};

static bool
feed_of(const qp_graph *g, const qp_quant_entry *e, struct feed *f)
{
    memset(f, 0, sizeof *f);
    if (e->role == QP_WEIGHT) {
        qp_val ws = qp_module_attr(g, qp_graph_find_module(g, e->owner), "weight_shape");
        uint32_t n = qp_val_num_items(g, ws);
        if (!ws.id || !n || n > QP_QUANT_MAX_DIMS)
            return false;
        f->ndim = n;
        f->numel = 1;
        for (uint32_t d = 0; d < n; d++) {
            f->shape[d] = qp_val_as_int(g, qp_val_item_at(g, ws, d));
            f->numel *= (size_t)f->shape[d];
        }
        /* Kaiming: std = sqrt(2 / fan_in), fan_in = numel / out_channels */
        f->std = sqrtf(2.0f * (float)f->shape[0] / (float)f->numel);
        return true;
    }
    static const int64_t act[4] = {4, 16, 8, 8};
    memcpy(f->shape, act, sizeof act);
    f->ndim = 4;
    f->numel = ACT_N;
    f->std = 1.0f;
    qp_quant_info in;
    qp_quant_get_info(e->q, &in);
    f->relu = in.quant_min == 0;
    return true;
}

static void
fill(float *x, const struct feed *f)
{
    for (size_t i = 0; i < f->numel; i++) {
        float v = normal() * f->std;
        x[i] = f->relu && v < 0 ? 0 : v;
    }
}

/* Runs every quantizer once forward (and backward when dy is given). */
static qp_status
step(qp_quant_set *s, const qp_graph *g, float *x, float *y, float *dy, const char **who)
{
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        struct feed f;
        qp_quant_set_at(s, i, &e);
        *who = e.path;
        if (!feed_of(g, &e, &f))
            return QP_ERR_INVALID_GRAPH;
        fill(x, &f);
        qp_status rc = qp_quant_forward(e.q, x, y, f.shape, f.ndim);
        if (!rc && dy) {
            for (size_t k = 0; k < f.numel; k++)
                dy[k] = normal() * 1e-2f;
            rc = qp_quant_backward(e.q, x, dy, dy, f.shape, f.ndim);
        }
        if (rc)
            return rc;
    }
    return QP_OK;
}

/* Smallest and largest value of the quantizer's "scale" (or false if it has none). */
static bool
scale_range(const qp_quant *q, double *lo, double *hi)
{
    qp_tensor t;
    if (qp_quant_state_get(q, "scale", &t) || t.dtype != QP_DT_F32 || !t.numel)
        return false;
    const float *v = t.data;
    *lo = *hi = v[0];
    for (size_t i = 1; i < t.numel; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
    return true;
}

static int
text_write(void *ud, const char *data, size_t len)
{
    char **buf = ud;
    size_t n = *buf ? strlen(*buf) : 0;
    char *p = realloc(*buf, n + len + 1);
    if (!p)
        return 1;
    memcpy(p + n, data, len);
    p[n + len] = 0;
    *buf = p;
    return 0;
}

static size_t
dt_size(qp_dtype t)
{
    return t == QP_DT_I64 ? 8 : t == QP_DT_F32 || t == QP_DT_I32 ? 4 : 1;
}

int
main(int argc, char **argv)
{
    const char *bname = argc > 1 ? argv[1] : "Tensorrt";
    const char *state_path = argc > 2 ? argv[2] : "resnet18.qstate";
    qp_backend be;
    if (argc > 3 || qp_backend_from_name(bname, &be)) {
        fprintf(stderr, "usage: qprep_train_resnet18 [BACKEND [STATE_FILE]]\n");
        return 2;
    }
    /* 1. trace and prepare (the Academic backends get a 4-bit LSQ configuration) */
    qp_tracer *t;
    qp_graph *g = NULL;
    qp_config *cfg = NULL;
    if (qp_tracer_create(NULL, &t)) {
        fprintf(stderr, "qprep_train_resnet18: out of memory\n");
        return 1;
    }
    qp_status rc = qp_example_trace_resnet18(t);
    if (!rc)
        rc = qp_tracer_finish(t, &g);
    else
        qp_tracer_destroy(t);
    if (!rc && (be == QP_BACKEND_ACADEMIC || be == QP_BACKEND_ACADEMIC_NLP)) {
        qp_qscheme w = {4, false, true, false, false}, a = {4, false, false, false, false};
        rc = qp_config_create(NULL, &cfg);
        rc = rc ? rc : qp_config_set_qscheme(cfg, QP_WEIGHT, &w);
        rc = rc ? rc : qp_config_set_qscheme(cfg, QP_ACT, &a);
        rc = rc ? rc : qp_config_set_observer(cfg, QP_WEIGHT, "MinMaxObserver");
        rc = rc ? rc : qp_config_set_observer(cfg, QP_ACT, "EMAMinMaxObserver");
        rc = rc ? rc : qp_config_set_fakequant(cfg, QP_WEIGHT, "LearnableFakeQuantize");
        rc = rc ? rc : qp_config_set_fakequant(cfg, QP_ACT, "LearnableFakeQuantize");
    }
    if (rc)
        fprintf(stderr, "qprep_train_resnet18: tracing failed: %s\n", qp_status_str(rc));
    if (!rc && (rc = qp_prepare_qat(g, be, cfg)))
        fprintf(stderr, "qprep_train_resnet18: prepare: %s\n", qp_graph_errmsg(g));
    /* 2. every quantizer of the prepared graph */
    qp_quant_set *s = NULL, *s2 = NULL;
    qp_error err;
    if (!rc && (rc = qp_quant_set_create(g, be, cfg, NULL, &s, &err)))
        fprintf(stderr, "qprep_train_resnet18: quantizers: %s\n", err.msg);
    if (rc) {
        qp_config_destroy(cfg);
        qp_graph_destroy(g);
        return 1;
    }
    uint32_t nfq = 0, nw = 0;
    for (qp_module m = qp_graph_first_module(g); m.id; m = qp_module_next(g, m))
        nfq += !strncmp(qp_module_type(g, m), "fq.", 3);
    check(qp_quant_set_size(s) == nfq, "not one quantizer per fake-quantizer module", "set");
    size_t cap = ACT_N;
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        struct feed f;
        qp_quant_set_at(s, i, &e);
        nw += e.role == QP_WEIGHT;
        check(feed_of(g, &e, &f), "its module has no weight_shape", e.path);
        cap = f.numel > cap ? f.numel : cap;
    }
    float *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y),
          *dy = malloc(cap * sizeof *dy);
    double *sums = malloc(qp_quant_set_size(s) * sizeof *sums + 1);
    const char *who = "";
    char *saved = NULL, *again = NULL;
    if (!x || !y || !dy || !sums) {
        fprintf(stderr, "qprep_train_resnet18: out of memory\n");
        failures++;
        goto out;
    }
    /* 3. calibrate: observers on, fake quantization off (mqbench enable_calibration) */
    qp_quant_set_enable_calibration(s);
    for (int it = 0; it < 2 && !rc; it++)
        rc = step(s, g, x, y, NULL, &who);
    for (uint32_t i = 0; !rc && i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        double lo, hi;
        qp_quant_set_at(s, i, &e);
        check(!scale_range(e.q, &lo, &hi) || (isfinite(lo) && isfinite(hi) && lo > 0),
              "a scale is not finite and > 0 after calibration", e.path);
    }
    /* 4. train: fake quantization on, observers off; one SGD step on every parameter */
    qp_quant_set_enable_quantization(s, false, false);
    qp_quant_set_zero_grad(s);
    if (!rc)
        rc = step(s, g, x, y, dy, &who);
    size_t moved = 0;
    for (uint32_t i = 0; !rc && i < qp_quant_set_num_params(s); i++) {
        qp_quant_param p;
        qp_quant_set_param_at(s, i, &p);
        for (size_t k = 0; k < p.numel; k++) {
            float v = fmaf(p.grad[k], -0.01f, p.data[k]);
            moved += v != p.data[k];
            p.data[k] = v;
        }
    }
    check(rc || !qp_quant_set_num_params(s) || moved, "no learnable parameter moved", "set");
    if (rc) {
        fprintf(stderr, "qprep_train_resnet18: %s: %s\n", who,
                qp_quant_errmsg(qp_quant_set_find(s, who)));
        failures++;
        goto out;
    }
    /* 5. freeze: observers stay off, fake quantization on (as deployed) */
    qp_quant_set_enable_quantization(s, false, false);
    printf("ResNet-18 prepared for %s: %u quantizers (%u weight, %u activation), %u state "
           "entries, %u learnable parameters\n",
           qp_backend_name(be), qp_quant_set_size(s), nw, qp_quant_set_size(s) - nw,
           qp_quant_set_num_state(s), qp_quant_set_num_params(s));
    printf("%-40s %-4s %-24s %-20s %4s  %s\n", "path", "role", "fake quantizer", "observer", "axis",
           "scale (min .. max)");
    for (uint32_t i = 0; i < qp_quant_set_size(s); i++) {
        qp_quant_entry e;
        qp_quant_info in;
        struct feed f;
        double lo, hi;
        qp_quant_set_at(s, i, &e);
        qp_quant_get_info(e.q, &in);
        feed_of(g, &e, &f);
        bool has = scale_range(e.q, &lo, &hi);
        printf("%-40s %-4s %-24s %-20s %4d  ", e.path, e.role == QP_WEIGHT ? "w" : "a",
               qp_fq_kind_name(in.fake_quant), qp_obs_kind_name(in.observer), in.ch_axis);
        if (has)
            printf("%.6g .. %.6g\n", lo, hi);
        else
            printf("-\n");
        if (has && e.role == QP_WEIGHT && in.ch_axis >= 0) {
            qp_tensor sc;
            qp_quant_state_get(e.q, "scale", &sc);
            check(sc.numel == (size_t)f.shape[in.ch_axis],
                  "the scale has not one value per channel of the weight", e.path);
        }
    }
    /* 6. save, and load into a fresh set of the same graph */
    FILE *fp = fopen(state_path, "wb");
    if (!fp || qp_quant_set_save_file(s, fp) || fclose(fp)) {
        fprintf(stderr, "qprep_train_resnet18: cannot write %s\n", state_path);
        failures++;
        goto out;
    }
    if ((rc = qp_quant_set_create(g, be, cfg, NULL, &s2, &err))) {
        fprintf(stderr, "qprep_train_resnet18: %s\n", err.msg);
        failures++;
        goto out;
    }
    fp = fopen(state_path, "rb");
    rc = fp ? qp_quant_set_load_file(s2, fp, &err) : QP_ERR_IO;
    if (fp)
        fclose(fp);
    if (rc) {
        fprintf(stderr, "%s:%u:%u: %s\n", state_path, err.line, err.col, err.msg);
        failures++;
        goto out;
    }
    uint32_t same = 0;
    for (uint32_t i = 0; i < qp_quant_set_num_state(s); i++) {
        const char *name;
        qp_tensor a, b;
        qp_quant_set_state_at(s, i, &name, &a);
        bool ok = !qp_quant_set_state_get(s2, name, &b) && a.dtype == b.dtype && a.ndim == b.ndim &&
                  a.numel == b.numel && !memcmp(a.shape, b.shape, sizeof a.shape) &&
                  !memcmp(a.data, b.data, a.numel * dt_size(a.dtype));
        check(ok, "differs after the reload", name);
        same += ok;
    }
    qp_quant_set_save(s, text_write, &saved);
    qp_quant_set_save(s2, text_write, &again);
    check(saved && again && !strcmp(saved, again), "the reloaded state writes other text",
          state_path);
    /* the reloaded quantizers compute what the trained ones compute */
    uint64_t seed = rng;
    for (int pass = 0; pass < 2; pass++) {
        rng = seed;
        qp_quant_set *which = pass ? s2 : s;
        for (uint32_t i = 0; i < qp_quant_set_size(which); i++) {
            qp_quant_entry e;
            struct feed f;
            qp_quant_set_at(which, i, &e);
            feed_of(g, &e, &f);
            fill(x, &f);
            qp_quant_forward(e.q, x, y, f.shape, f.ndim);
            /* a checksum of the outputs, compared across the two passes */
            double sum = 0;
            for (size_t k = 0; k < f.numel; k++)
                sum += (double)y[k] * (double)((k % 13) + 1);
            if (!pass)
                sums[i] = sum;
            else
                check(sums[i] == sum, "the reloaded quantizer computes otherwise", e.path);
        }
    }
    printf("state: %u entries saved to %s and reloaded into a fresh set: %u of %u bit for bit\n",
           qp_quant_set_num_state(s), state_path, same, qp_quant_set_num_state(s));
out:
    free(saved);
    free(again);
    free(x);
    free(y);
    free(dy);
    free(sums);
    qp_quant_set_destroy(s2);
    qp_quant_set_destroy(s);
    qp_config_destroy(cfg);
    qp_graph_destroy(g);
    if (failures)
        fprintf(stderr, "qprep_train_resnet18: %d check(s) failed\n", failures);
    else
        printf("all checks passed\n");
    return failures ? 1 : 0;
}
