/*
 * cmd_prepare.c - qprep prepare and qprep explain: run qp_prepare_qat on a
 * graph file for a backend (and a .qcfg configuration), write the prepared
 * graph, or say why each fake-quantizer is where it is.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
    const char *backend, *config, *in, *out;
    bool fix, verify_each, stats;
    bool explain; /* qprep explain: keep the explanations */
};

static int
parse(int argc, char **argv, struct opts *o, const char *usage)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--backend") && i + 1 < argc)
            o->backend = argv[++i];
        else if (!strcmp(a, "--config") && i + 1 < argc)
            o->config = argv[++i];
        else if (!strcmp(a, "-o") && i + 1 < argc)
            o->out = argv[++i];
        else if (!strcmp(a, "--fix"))
            o->fix = true;
        else if (!strcmp(a, "--verify-each"))
            o->verify_each = true;
        else if (!strcmp(a, "--stats"))
            o->stats = true;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qprep: unknown option '%s'\nusage: %s\n", a, usage);
            return EXIT_USAGE;
        } else if (!o->in)
            o->in = a;
        else {
            fprintf(stderr, "qprep: one input file only\nusage: %s\n", usage);
            return EXIT_USAGE;
        }
    }
    if (!o->backend || !o->in) {
        fprintf(stderr, "usage: %s\n", usage);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static void
list_backends(FILE *f)
{
    fprintf(f, "backends:");
    for (int b = 0; b < QP_BACKEND_COUNT; b++)
        fprintf(f, " %s", qp_backend_name((qp_backend)b));
    fprintf(f, "\n");
}

/* Reads the graph and configuration and prepares; returns the graph or NULL. */
static qp_graph *
run(const struct opts *o, int *status)
{
    qp_backend be;
    if (qp_backend_from_name(o->backend, &be)) {
        fprintf(stderr, "qprep: unknown backend '%s'\n", o->backend);
        list_backends(stderr);
        *status = EXIT_USAGE;
        return NULL;
    }
    qp_config *cfg = NULL;
    if (o->config) {
        cfg = cli_read_config(o->config);
        if (!cfg) {
            *status = EXIT_BAD;
            return NULL;
        }
    }
    if (!cfg && qp_config_create(NULL, &cfg)) {
        fprintf(stderr, "qprep: out of memory\n");
        *status = EXIT_BAD;
        return NULL;
    }
    /* the flags add to what the configuration file says */
    if (o->fix)
        qp_config_set_fix(cfg, true);
    if (o->verify_each)
        qp_config_set_verify_each(cfg, true);
    /* qprep prepare never prints the explanations: not recorded, 16 bytes a
     * decision less at the peak */
    qp_config_set_explain(cfg, o->explain);
    qp_graph *g = cli_read_graph(o->in, 0);
    if (!g) {
        qp_config_destroy(cfg);
        *status = EXIT_BAD;
        return NULL;
    }
    /* the graph is dropped when prepare fails: no undo log needed (its memory is
     * about a sixth of the peak) */
    qp_status rc = qp_prepare_qat_or_clear(g, be, cfg);
    qp_config_destroy(cfg);
    if (rc) {
        uint32_t line = qp_graph_errline(g);
        if (line)
            fprintf(stderr, "%s:%u:1: %s\n", o->in, (unsigned)line, qp_graph_errmsg(g));
        else
            fprintf(stderr, "%s: prepare for %s failed: %s (%s)\n", o->in, qp_backend_name(be),
                    qp_graph_errmsg(g), qp_status_str(rc));
        qp_graph_destroy(g);
        *status = EXIT_BAD;
        return NULL;
    }
    *status = EXIT_OK;
    return g;
}

static void
print_stats(const qp_graph *g)
{
    const qp_report *r = qp_graph_report(g);
    fprintf(stderr, "nodes %u -> %u, modules %u -> %u\n", (unsigned)r->nodes_before,
            (unsigned)r->nodes_after, (unsigned)r->modules_before, (unsigned)r->modules_after);
    for (uint32_t i = 0; i < r->npass; i++) {
        const qp_pass_stats *s = &r->pass[i];
        fprintf(stderr,
                "  %-9s matched %u, nodes +%u -%u, uses rewired %u, modules +%u "
                "swapped %u -%u, fake-quantizers %u\n",
                s->pass, (unsigned)s->matched, (unsigned)s->nodes_added, (unsigned)s->nodes_erased,
                (unsigned)s->uses_rewired, (unsigned)s->modules_added, (unsigned)s->modules_swapped,
                (unsigned)s->modules_removed, (unsigned)s->fq_inserted);
    }
}

int
cmd_prepare(int argc, char **argv)
{
    static const char usage[] = "qprep prepare --backend NAME [--config FILE.qcfg] [--fix] "
                                "[--verify-each] [--stats] IN.qg [-o OUT.qg]";
    struct opts o;
    int st = parse(argc, argv, &o, usage);
    if (st)
        return st;
    qp_graph *g = run(&o, &st);
    if (!g)
        return st;
    if (o.stats)
        print_stats(g);
    char line[160];
    snprintf(line, sizeof line, "# prepared by qprep %s for backend %s%s", qp_version(), o.backend,
             o.fix ? " (fixed mode)" : "");
    qp_graph_add_comment(g, line);
    FILE *f = cli_open_out(o.out);
    if (!f) {
        qp_graph_destroy(g);
        return EXIT_BAD;
    }
    qp_status rc = cli_write_graph(g, f);
    qp_graph_destroy(g);
    st = cli_close_out(f, o.out ? o.out : "-");
    if (rc) {
        fprintf(stderr, "qprep prepare: writing failed: %s\n", qp_status_str(rc));
        return EXIT_BAD;
    }
    return st;
}

int
cmd_explain(int argc, char **argv)
{
    static const char usage[] = "qprep explain --backend NAME [--config FILE.qcfg] [--fix] IN.qg";
    struct opts o;
    int st = parse(argc, argv, &o, usage);
    if (st)
        return st;
    o.explain = true;
    qp_graph *g = run(&o, &st);
    if (!g)
        return st;
    uint32_t n = qp_graph_num_explain(g), inserted = 0;
    for (uint32_t i = 0; i < n; i++) {
        qp_explain_item it;
        qp_graph_explain_at(g, i, &it);
        if (!qp_node_is_null(it.fq)) {
            inserted++;
            printf("%%%s -> %%%s: %s", it.node_name, qp_node_name(g, it.fq),
                   qp_reason_str(it.reason));
        } else {
            printf("%%%s: %s", it.node_name ? it.node_name : "?", qp_reason_str(it.reason));
        }
        if (it.cause_name && (!it.node_name || strcmp(it.cause_name, it.node_name)))
            printf(" (%%%s)", it.cause_name);
        printf("\n");
    }
    printf("%u fake-quantizers inserted; %u decisions listed\n", (unsigned)inserted, (unsigned)n);
    print_stats(g);
    qp_graph_destroy(g);
    return cli_close_out(stdout, "-");
}
