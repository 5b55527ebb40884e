/*
 * trace_resnet18.c - records torchvision's resnet18 through the tracer and
 * writes its canonical qgraph text to stdout: the same text torch.fx's trace
 * gives (tests/data/fixtures/resnet18.in.qg).
 *
 * usage: trace_resnet18            exit status 0 ok, 1 failure
 */
#include "resnet18.h"

#include <stdio.h>

/* Prints one verifier problem of the unfinished trace. */
static void
print_diag(void *ud, const qp_diag *d)
{
    (void)ud;
    fprintf(stderr, "trace_resnet18: %s\n", d->msg);
}

int
main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: trace_resnet18\n");
        return 2;
    }
    qp_tracer *t = NULL;
    qp_status st = qp_tracer_create(NULL, &t);
    if (st) {
        fprintf(stderr, "trace_resnet18: %s\n", qp_status_str(st));
        return 1;
    }
    qp_graph *tg = qp_tracer_graph(t);
    st = qp_example_trace_resnet18(t);
    if (!st)
        st = qp_graph_add_comment(tg, "model resnet18");
    if (!st)
        st = qp_graph_add_comment(tg, "traced by torch.fx symbolic_trace (torch 1.13)");
    /* qp_tracer_finish verifies too, but frees the graph (and its message) on failure */
    if (!st)
        st = qp_graph_verify(tg, print_diag, NULL);
    if (st) {
        fprintf(stderr, "trace_resnet18: %s: %s\n", qp_status_str(st), qp_graph_errmsg(tg));
        qp_tracer_destroy(t);
        return 1;
    }
    qp_graph *g = NULL;
    st = qp_tracer_finish(t, &g);
    if (st) {
        fprintf(stderr, "trace_resnet18: finishing the trace failed: %s\n", qp_status_str(st));
        return 1;
    }
    st = qp_graph_write_file(g, stdout);
    qp_graph_destroy(g);
    if (st || fflush(stdout)) {
        fprintf(stderr, "trace_resnet18: writing failed: %s\n", qp_status_str(st ? st : QP_ERR_IO));
        return 1;
    }
    return 0;
}
