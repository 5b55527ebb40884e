/*
 * cmd_benchquant.c - qprep bench-quant: time one quantizer of a backend (as
 * qp_quant_create builds it for a role and configuration) on a tensor of a
 * given shape, one thread: one observer update (observer on, fake quant off,
 * in place, so no copy is timed), one forward (observer off, fake quant on)
 * and one backward (dy to dx and the parameters' gradients), each the median
 * of --repeat runs after one untimed warm-up, by the wall clock and by the
 * thread's CPU time (steadier on a shared machine). The data are deterministic
 * (a fixed generator), roughly normal, so the fake quantizer sees values on
 * both sides of its range.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "cli.h"

#include <qprep/quant.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU time of this thread: steadier than the wall clock on a shared machine */
static double
cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "D0,D1,..." into shape; returns ndim, 0 on a bad list. */
static uint32_t
parse_shape(const char *s, int64_t *shape)
{
    uint32_t n = 0;
    while (*s) {
        char *end;
        long long d = strtoll(s, &end, 10);
        if (end == s || d <= 0 || n == QP_QUANT_MAX_DIMS)
            return 0;
        shape[n++] = d;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return 0;
    }
    return n;
}

static void
fill(float *x, size_t n, uint64_t seed)
{
    uint64_t r = seed;
    for (size_t i = 0; i < n; i++) {
        float acc = 0;
        for (int k = 0; k < 4; k++) {
            r ^= r >> 12;
            r ^= r << 25;
            r ^= r >> 27;
            acc += (float)((r * 2685821657736338717ull) >> 40) / (float)(1u << 24) - 0.5f;
        }
        x[i] = acc * 1.7f;
    }
}

static int
bench_usage(void)
{
    fprintf(stderr, "usage: qprep bench-quant --backend NAME --role weight|activation "
                    "[--config F.qcfg] --shape D0,D1,... [--ch-axis N] [--repeat N] [--json]\n");
    return EXIT_USAGE;
}

int
cmd_benchquant(int argc, char **argv)
{
    const char *backend = NULL, *role = NULL, *cfg_path = NULL, *shape_s = NULL;
    unsigned repeat = 20;
    int ch_axis = -1;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--backend") && has)
            backend = argv[++i];
        else if (!strcmp(a, "--role") && has)
            role = argv[++i];
        else if (!strcmp(a, "--config") && has)
            cfg_path = argv[++i];
        else if (!strcmp(a, "--shape") && has)
            shape_s = argv[++i];
        else if (!strcmp(a, "--repeat") && has)
            repeat = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--ch-axis") && has)
            ch_axis = atoi(argv[++i]);
        else if (!strcmp(a, "--json"))
            json = true;
        else
            return bench_usage();
    }
    if (!backend || !role || !shape_s || repeat < 1 || repeat > 100000)
        return bench_usage();
    qp_backend be;
    if (qp_backend_from_name(backend, &be)) {
        fprintf(stderr, "qprep: unknown backend '%s'\n", backend);
        return EXIT_USAGE;
    }
    qp_side side;
    if (!strcmp(role, "weight"))
        side = QP_WEIGHT;
    else if (!strcmp(role, "activation"))
        side = QP_ACT;
    else
        return bench_usage();
    int64_t shape[QP_QUANT_MAX_DIMS];
    uint32_t ndim = parse_shape(shape_s, shape);
    if (!ndim) {
        fprintf(stderr, "qprep: --shape wants sizes > 0 separated by commas, at most %d\n",
                QP_QUANT_MAX_DIMS);
        return EXIT_USAGE;
    }
    size_t numel = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if ((uint64_t)shape[d] > (SIZE_MAX / 16) / numel) {
            fprintf(stderr, "qprep: the shape is too large\n");
            return EXIT_USAGE;
        }
        numel *= (size_t)shape[d];
    }
    qp_config *cfg = NULL;
    if (cfg_path && !(cfg = cli_read_config(cfg_path)))
        return EXIT_BAD;
    qp_quant_opts o = qp_quant_opts_default();
    o.ch_axis = ch_axis;
    qp_quant *q = NULL;
    qp_error err;
    qp_status rc = qp_quant_create(NULL, be, side, cfg, &o, &q, &err);
    qp_config_destroy(cfg);
    if (rc) {
        fprintf(stderr, "qprep: %s\n", err.msg);
        return EXIT_BAD;
    }
    float *x = malloc(numel * sizeof *x), *y = malloc(numel * sizeof *y);
    float *dy = malloc(numel * sizeof *dy), *dx = malloc(numel * sizeof *dx);
    /* wall-clock times of observer, forward, backward, then their CPU times */
    double *t[6];
    for (int k = 0; k < 6; k++)
        t[k] = malloc(repeat * sizeof(double));
    int status = EXIT_OK;
    if (!x || !y || !dy || !dx || !t[0] || !t[1] || !t[2] || !t[3] || !t[4] || !t[5]) {
        fprintf(stderr, "qprep: out of memory\n");
        status = EXIT_BAD;
        goto out;
    }
    fill(x, numel, 88172645463325252ull);
    fill(dy, numel, 0x9e3779b97f4a7c15ull);
    /* the observer alone: in place (fake quant off copies nothing then) */
    qp_quant_enable_fake_quant(q, false);
    qp_quant_enable_observer(q, true);
    for (unsigned r = 0; r <= repeat && !rc; r++) {
        double t0 = now_us(), c0 = cpu_us();
        rc = qp_quant_forward(q, x, x, shape, ndim);
        if (r) {
            t[0][r - 1] = now_us() - t0;
            t[3][r - 1] = cpu_us() - c0;
        }
    }
    /* fake quantization with the qparams the observer set, and its backward */
    qp_quant_enable_observer(q, false);
    qp_quant_enable_fake_quant(q, true);
    for (unsigned r = 0; r <= repeat && !rc; r++) {
        double t0 = now_us(), c0 = cpu_us();
        rc = qp_quant_forward(q, x, y, shape, ndim);
        double t1 = now_us(), c1 = cpu_us();
        if (!rc)
            rc = qp_quant_backward(q, x, dy, dx, shape, ndim);
        double t2 = now_us(), c2 = cpu_us();
        qp_quant_zero_grad(q);
        if (r) {
            t[1][r - 1] = t1 - t0;
            t[2][r - 1] = t2 - t1;
            t[4][r - 1] = c1 - c0;
            t[5][r - 1] = c2 - c1;
        }
    }
    if (rc) {
        fprintf(stderr, "qprep: %s\n", qp_quant_errmsg(q));
        status = EXIT_BAD;
        goto out;
    }
    double obs = median(t[0], repeat), fwd = median(t[1], repeat), bwd = median(t[2], repeat);
    double cobs = median(t[3], repeat), cfwd = median(t[4], repeat), cbwd = median(t[5], repeat);
    double nspe = (fwd + bwd) * 1e3 / (double)numel;
    qp_quant_info in;
    qp_quant_get_info(q, &in);
    if (json) {
        printf("{\"backend\": \"%s\", \"role\": \"%s\", \"fake_quant\": \"%s\", \"observer\": "
               "\"%s\", \"ch_axis\": %d, \"shape\": [",
               qp_backend_name(be), role, qp_fq_kind_name(in.fake_quant),
               qp_obs_kind_name(in.observer), in.ch_axis);
        for (uint32_t d = 0; d < ndim; d++)
            printf(d ? ", %lld" : "%lld", (long long)shape[d]);
        printf("], \"elements\": %zu, \"repeat\": %u, \"observer_us\": %.1f, \"forward_us\": "
               "%.1f, \"backward_us\": %.1f, \"ns_per_element\": %.3f, \"observer_cpu_us\": "
               "%.1f, \"forward_cpu_us\": %.1f, \"backward_cpu_us\": %.1f}\n",
               numel, repeat, obs, fwd, bwd, nspe, cobs, cfwd, cbwd);
    } else {
        printf("%s %s quantizer: %s with %s, %s", qp_backend_name(be), role,
               qp_fq_kind_name(in.fake_quant), qp_obs_kind_name(in.observer),
               in.ch_axis < 0 ? "per tensor" : "per channel");
        if (in.ch_axis >= 0)
            printf(" (axis %d)", in.ch_axis);
        printf("\nshape %s, %zu elements, median of %u, one thread\n", shape_s, numel, repeat);
        printf("           %10s    %10s\n", "wall", "thread CPU");
        printf("observer   %10.1f us %10.1f us\n", obs, cobs);
        printf("forward    %10.1f us %10.1f us\n", fwd, cfwd);
        printf("backward   %10.1f us %10.1f us\n", bwd, cbwd);
        printf("fwd+bwd    %10.1f us %10.1f us  (%.3f ns/element, wall)\n", fwd + bwd, cfwd + cbwd,
               nspe);
    }
out:
    free(x);
    free(y);
    free(dy);
    free(dx);
    for (int k = 0; k < 6; k++)
        free(t[k]);
    qp_quant_destroy(q);
    return status;
}
