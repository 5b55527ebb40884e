/*
 * cmd_text.c - reading and writing graphs: qprep fmt, check and dot, and the
 * file helpers the other commands share.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

qp_graph *
cli_read_graph(const char *path, unsigned flags)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    qp_read_opts opts = {NULL, flags, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_file(f, &opts, &g, &err);
    if (f != stdin)
        fclose(f);
    if (rc) {
        fprintf(stderr, "%s:%u:%u: %s\n", path, (unsigned)err.line,
                (unsigned)(err.col ? err.col : 1), err.msg);
        return NULL;
    }
    return g;
}

int
cli_file_write(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : -1;
}

qp_config *
cli_read_config(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    qp_config *c = NULL;
    qp_error err;
    qp_status rc = qp_config_read_file(f, NULL, &c, &err);
    if (f != stdin)
        fclose(f);
    if (rc) {
        fprintf(stderr, "%s:%u:%u: %s\n", path, (unsigned)err.line,
                (unsigned)(err.col ? err.col : 1), err.msg);
        return NULL;
    }
    return c;
}

FILE *
cli_open_out(const char *path)
{
    FILE *f = !path || !strcmp(path, "-") ? stdout : fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    /* a prepared graph is hundreds of megabytes at a million nodes: written a page at a
     * time (stdio's default) that is a system call per 4 KiB; only the part of the buffer
     * a small graph fills is ever touched */
    setvbuf(f, NULL, _IOFBF, (size_t)1 << 20);
    return f;
}

int
cli_close_out(FILE *f, const char *path)
{
    if (f == stdout)
        return fflush(f) ? (perror("stdout"), EXIT_BAD) : EXIT_OK;
    if (fclose(f)) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return EXIT_BAD;
    }
    return EXIT_OK;
}

int
cmd_fmt(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: qprep fmt FILE\n");
        return EXIT_USAGE;
    }
    qp_graph *g = cli_read_graph(argv[1], 0);
    if (!g)
        return EXIT_BAD;
    qp_status rc = qp_graph_write_file(g, stdout);
    qp_graph_destroy(g);
    if (rc) {
        fprintf(stderr, "qprep fmt: writing failed: %s\n", qp_status_str(rc));
        return EXIT_BAD;
    }
    return cli_close_out(stdout, "-");
}

struct diag_ctx {
    const char *path;
    unsigned count;
};

static void
print_diag(void *ud, const qp_diag *d)
{
    struct diag_ctx *c = ud;
    c->count++;
    fprintf(stderr, "%s:%u:%u: %s\n", c->path, (unsigned)d->line, (unsigned)(d->col ? d->col : 1),
            d->msg);
}

int
cmd_check(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: qprep check FILE...\n");
        return EXIT_USAGE;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        qp_graph *g = cli_read_graph(argv[i], QP_READ_NO_VERIFY);
        if (!g) {
            bad = 1;
            continue;
        }
        struct diag_ctx c = {argv[i], 0};
        if (qp_graph_verify(g, print_diag, &c) != QP_OK || c.count)
            bad = 1;
        qp_graph_destroy(g);
    }
    return bad ? EXIT_BAD : EXIT_OK;
}

int
cmd_dot(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!in)
            in = argv[i];
        else
            in = NULL, i = argc;
    }
    if (!in) {
        fprintf(stderr, "usage: qprep dot FILE [-o OUT.dot]\n");
        return EXIT_USAGE;
    }
    qp_graph *g = cli_read_graph(in, 0);
    if (!g)
        return EXIT_BAD;
    FILE *f = cli_open_out(out);
    if (!f) {
        qp_graph_destroy(g);
        return EXIT_BAD;
    }
    qp_status rc = qp_graph_write_dot(g, cli_file_write, f);
    qp_graph_destroy(g);
    int st = cli_close_out(f, out);
    if (rc) {
        fprintf(stderr, "qprep dot: writing failed: %s\n", qp_status_str(rc));
        return EXIT_BAD;
    }
    return st;
}
