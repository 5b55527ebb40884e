/*
 * demo.c - README's first command: trace ResNet-18 through the tracer API (as a
 * C training framework would), prepare it for QAT on a backend, print a short
 * summary and write the prepared graph and a Graphviz picture.
 *
 * usage: qprep_demo [BACKEND [OUTDIR]]     (defaults: Tensorrt, .)
 * Writes OUTDIR/resnet18.BACKEND.qg and OUTDIR/resnet18.BACKEND.dot.
 */
#include "resnet18.h"

#include <qprep/prepare.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
file_write(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : -1;
}

static int
write_to(const char *path, const qp_graph *g, bool dot)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    qp_status rc = dot ? qp_graph_write_dot(g, file_write, f) : qp_graph_write_file(g, f);
    if (fclose(f) || rc) {
        fprintf(stderr, "qprep_demo: writing %s failed\n", path);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char *bname = argc > 1 ? argv[1] : "Tensorrt";
    const char *dir = argc > 2 ? argv[2] : ".";
    qp_backend be;
    if (argc > 3 || qp_backend_from_name(bname, &be)) {
        fprintf(stderr, "usage: qprep_demo [BACKEND [OUTDIR]]\nbackends:");
        for (int b = 0; b < QP_BACKEND_COUNT; b++)
            fprintf(stderr, " %s", qp_backend_name((qp_backend)b));
        fprintf(stderr, "\n");
        return 2;
    }
    double t0 = now();
    qp_tracer *t;
    qp_graph *g = NULL;
    qp_status rc = qp_tracer_create(NULL, &t);
    if (!rc)
        rc = qp_example_trace_resnet18(t);
    if (!rc)
        rc = qp_tracer_finish(t, &g);
    else
        qp_tracer_destroy(t);
    if (rc) {
        fprintf(stderr, "qprep_demo: tracing failed: %s\n", qp_status_str(rc));
        return 1;
    }
    double t1 = now();
    /* the Academic backends have no defaults: give them a 4-bit configuration */
    qp_config *cfg = NULL;
    if (be == QP_BACKEND_ACADEMIC || be == QP_BACKEND_ACADEMIC_NLP) {
        qp_qscheme w = {4, false, true, false, false}, a = {4, false, false, false, false};
        if (qp_config_create(NULL, &cfg) || qp_config_set_qscheme(cfg, QP_WEIGHT, &w) ||
            qp_config_set_qscheme(cfg, QP_ACT, &a) ||
            qp_config_set_observer(cfg, QP_WEIGHT, "MinMaxObserver") ||
            qp_config_set_observer(cfg, QP_ACT, "EMAMinMaxObserver") ||
            qp_config_set_fakequant(cfg, QP_WEIGHT, "FixedFakeQuantize") ||
            qp_config_set_fakequant(cfg, QP_ACT, "FixedFakeQuantize")) {
            fprintf(stderr, "qprep_demo: %s\n", qp_config_errmsg(cfg));
            qp_config_destroy(cfg);
            qp_graph_destroy(g);
            return 1;
        }
    }
    rc = qp_prepare_qat(g, be, cfg);
    double t2 = now();
    qp_config_destroy(cfg);
    if (rc) {
        fprintf(stderr, "qprep_demo: prepare failed: %s\n", qp_graph_errmsg(g));
        qp_graph_destroy(g);
        return 1;
    }
    const qp_report *r = qp_graph_report(g);
    uint32_t fused = 0, swapped = 0, fq = 0;
    for (uint32_t i = 0; i < r->npass; i++) {
        if (!strcmp(r->pass[i].pass, "fuse"))
            fused = r->pass[i].matched;
        swapped += r->pass[i].modules_swapped;
        fq += r->pass[i].fq_inserted;
    }
    printf("ResNet-18 traced through the qprep API and prepared for %s\n", qp_backend_name(be));
    printf("  nodes            %u -> %u\n", (unsigned)r->nodes_before, (unsigned)r->nodes_after);
    printf("  modules          %u -> %u\n", (unsigned)r->modules_before,
           (unsigned)r->modules_after);
    printf("  patterns fused   %u\n", (unsigned)fused);
    printf("  modules swapped  %u (QAT modules with weight fake-quantizers)\n",
           (unsigned)swapped);
    printf("  act. quantizers  %u\n", (unsigned)fq);
    printf("  placement        %s\n", qp_backend_summary(be));
    printf("  time             trace %.3f ms, prepare %.3f ms\n", (t1 - t0) * 1e3,
           (t2 - t1) * 1e3);
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet18.%s.qg", dir, qp_backend_name(be));
    int bad = write_to(path, g, false);
    if (!bad)
        printf("  wrote            %s\n", path);
    snprintf(path, sizeof path, "%s/resnet18.%s.dot", dir, qp_backend_name(be));
    bad |= write_to(path, g, true);
    if (!bad)
        printf("  wrote            %s (render: dot -Tsvg %s -o resnet18.svg)\n", path, path);
    qp_graph_destroy(g);
    return bad;
}
