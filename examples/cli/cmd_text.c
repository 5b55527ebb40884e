/*
 * cmd_text.c - reading and writing graphs: qprep fmt, check and dot, and the
 * file helpers the other commands share.
 */
#define _DEFAULT_SOURCE /* open, fstat, mmap, MAP_POPULATE */

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define CLI_MAP 1
#ifndef MAP_POPULATE
#define MAP_POPULATE 0 /* Linux's: elsewhere the pages fault in as read */
#endif
#else
#define CLI_MAP 0
#endif

static qp_graph *
read_done(const char *path, qp_status rc, const qp_error *err, qp_graph *g)
{
    if (rc) {
        fprintf(stderr, "%s:%u:%u: %s\n", path, (unsigned)err->line,
                (unsigned)(err->col ? err->col : 1), err->msg);
        return NULL;
    }
    return g;
}

/*
 * A small regular file (up to CLI_SMALL_INPUT) is mapped and read in place
 * (qp_graph_read_text): no 64 KiB read buffer to fault in page by page, and the
 * kernel maps the file's cached pages all at once (MAP_POPULATE). A bigger one is
 * streamed: a mapping's pages stay resident until the whole text is read, and
 * with the graph built beside them that was the peak of the whole prepare (the
 * 197 MB million-node text: 416 MB mapped against 365 MB streamed, and no slower).
 * *done = false: not a small regular file, or it could not be mapped (stdin, a
 * pipe): the caller streams it.
 */
static qp_graph *
read_mapped(const char *path, const qp_read_opts *opts, bool *done)
{
    *done = false;
#if CLI_MAP
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL; /* fopen says why */
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (unsigned long long)st.st_size > (unsigned long long)CLI_SMALL_INPUT) {
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *done = true;
    qp_graph *g = NULL;
    qp_error err;
    qp_read_opts o = *opts;
    o.alloc = cli_small_allocator();
    qp_status rc = qp_graph_read_text(p, len, &o, &g, &err);
    munmap(p, len);
    return read_done(path, rc, &err, g);
#else
    (void)path;
    (void)opts;
    return NULL;
#endif
}

qp_graph *
cli_read_graph(const char *path, unsigned flags)
{
    qp_read_opts opts = {NULL, flags, NULL, NULL};
    bool done = false;
    qp_graph *g = strcmp(path, "-") ? read_mapped(path, &opts, &done) : NULL;
    if (done)
        return g;
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    qp_error err;
    qp_status rc = qp_graph_read_file(f, &opts, &g, &err);
    if (f != stdin)
        fclose(f);
    return read_done(path, rc, &err, g);
}

int
cli_file_write(void *ud, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : -1;
}

/* Output past the first MiB is gathered into writes of 64 KiB (16 pages to touch,
 * where a mid-sized output of a few MB would not repay touching 256 for fewer
 * calls), and past 64 MiB into writes of 1 MiB. */
enum { FIRST = 1 << 20, MID = 64 << 10, LATE = 64 << 20, BIG = 1 << 20 };

void
cli_out_init(cli_out *o, FILE *f)
{
    memset(o, 0, sizeof *o);
    o->f = f;
}

static int
out_drain(cli_out *o)
{
    if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n)
        o->failed = true;
    o->n = 0;
    if (!o->failed && o->cap < BIG && o->total > LATE) {
        char *p = realloc(o->buf, BIG); /* failing that, the smaller block does */
        if (p) {
            o->buf = p;
            o->cap = BIG;
        }
    }
    return o->failed ? -1 : 0;
}

int
cli_out_write(void *ud, const char *data, size_t len)
{
    cli_out *o = ud;
    if (o->failed)
        return -1;
    o->total += len;
    if (!o->buf && (o->total <= FIRST || !(o->buf = malloc(MID)))) {
        if (fwrite(data, 1, len, o->f) != len)
            o->failed = true;
        return o->failed ? -1 : 0;
    }
    if (!o->cap)
        o->cap = MID;
    while (len) {
        size_t k = o->cap - o->n < len ? o->cap - o->n : len;
        memcpy(o->buf + o->n, data, k);
        o->n += k;
        data += k;
        len -= k;
        if (o->n == o->cap && out_drain(o))
            return -1;
    }
    return 0;
}

int
cli_out_finish(cli_out *o)
{
    int rc = o->failed ? -1 : out_drain(o);
    free(o->buf);
    o->buf = NULL;
    return rc;
}

qp_status
cli_write_graph(const qp_graph *g, FILE *f)
{
    cli_out o;
    cli_out_init(&o, f);
    qp_status rc = qp_graph_write_text(g, cli_out_write, &o);
    if (cli_out_finish(&o) && !rc)
        rc = QP_ERR_IO;
    return rc;
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
    qp_status rc = cli_write_graph(g, stdout);
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
