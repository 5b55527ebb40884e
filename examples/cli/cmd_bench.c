/*
 * cmd_bench.c - qprep bench and qprep gen: time reading, preparing and
 * writing a graph (a file, or a generated residual stack of any size, in
 * resstack.c's layout or sepstack.c's), and write a generated stack as text.
 * bench --process (whole processes) and the floor it times are
 * cmd_benchproc.c's.
 *
 * The benchmark holds the input text in memory, then per repeat reads it into
 * a fresh graph, prepares that graph and writes the result to a sink that only
 * counts bytes, timing each phase. It reports the median of each phase over
 * the repeats and the peak of the bytes the library held at once (through a
 * counting allocator, both graphs of prepare included), per input node.
 *
 * Every repeat of every graph starts from the same memory state, in one of two
 * ways. By default all repeats run in this process, and with glibc the
 * process keeps what is freed mapped (no mmap for big blocks, no trimming), so
 * from the second repeat on the library runs on pages already faulted in, at
 * any size: its own work, the steady state of a program that prepares graph
 * after graph. Left to its defaults glibc would keep freed blocks of up to 32
 * MiB mapped but map bigger ones afresh and hand them back on free, so a small
 * graph's repeats would run on warm pages and a big graph's on new ones (and
 * the same small graph measures a quarter faster after the generator ran than
 * after a file was read). With --fresh-process each repeat runs in a child
 * process of its own (where there is fork()): none of the memory the library
 * gets has been used before, as in a program that prepares its model once,
 * page faults included.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, fork */
#define _DEFAULT_SOURCE         /* mallopt (glibc) */

#include "cli.h"
#include "resstack.h"
#include "sepstack.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GLIBC__)
#include <malloc.h>
#define BENCH_KEEPS ", freed memory kept mapped"
#else
#define BENCH_KEEPS ""
#endif

#if defined(__unix__) || defined(__APPLE__)
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#define BENCH_FORK 1
#else
#define BENCH_FORK 0
#endif

/* ==== helpers ==== */

/* Microseconds on a monotonic clock. */
static double
now_us(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC
    clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    timespec_get(&ts, TIME_UTC);
#endif
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Microseconds of CPU time this process used (user + system): on a busy machine
 * the wall clock also counts time other processes had the core. */
static double
cpu_us(void)
{
#ifdef CLOCK_PROCESS_CPUTIME_ID
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
#else
    return (double)clock() * 1e6 / CLOCKS_PER_SEC;
#endif
}

/* A growable byte buffer (malloc'd; the text is not the library's memory). */
struct buf {
    char *p;
    size_t n, cap;
};

static int
buf_write(void *ud, const char *data, size_t len)
{
    struct buf *b = ud;
    if (b->cap - b->n < len) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap - b->n < len)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return 0;
}

/* Reads a whole file ("-": stdin) into b; prints an error and returns nonzero on failure. */
static int
slurp(const char *path, struct buf *b)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    char chunk[1 << 16];
    size_t k;
    int bad = 0;
    while (!bad && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        bad = buf_write(b, chunk, k);
    if (ferror(f) || bad) {
        fprintf(stderr, "%s: %s\n", path, bad ? "out of memory" : "read error");
        bad = 1;
    }
    if (f != stdin)
        fclose(f);
    return bad;
}

/* A qp_write_fn that only counts. */
static int
count_write(void *ud, const char *data, size_t len)
{
    (void)data;
    *(size_t *)ud += len;
    return 0;
}

/* The counting allocator: what the library holds now, and the most it held at once,
 * over `under`: in a fresh process the library's own default (big blocks in huge
 * pages, as any program gets it), in the warm in-process mode the C library's
 * realloc (whose freed memory mallopt keeps mapped from repeat to repeat). */
struct counter {
    size_t cur, peak;
    qp_allocator under;
};

static void *
c_realloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

static void *
counting_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    struct counter *c = ud;
    if (nsize == 0) {
        c->under.fn(c->under.ud, p, osize, 0);
        c->cur -= osize;
        return NULL;
    }
    void *q = c->under.fn(c->under.ud, p, osize, nsize);
    if (!q)
        return NULL;
    c->cur = c->cur - osize + nsize;
    if (c->cur > c->peak)
        c->peak = c->cur;
    return q;
}

/* What qprep gen and qprep bench --gen-* generate. */
struct gen {
    bool separate;     /* --layout separate: sepstack.c's, else resstack.c's ("basic") */
    uint64_t blocks;   /* --blocks, or from --nodes */
    uint64_t nodes;    /* --nodes (0: not given) */
    uint64_t channels; /* --channels (basic) */
    uint64_t seed;     /* --seed (separate) */
};

/* Records the stack gn describes (blocks set) and writes its text through fn. */
static qp_status
gen_text(const struct gen *gn, qp_write_fn fn, void *ud)
{
    qp_tracer *t = NULL;
    qp_status st = qp_tracer_create(NULL, &t);
    if (st)
        return st;
    char line[96];
    if (gn->separate) {
        st = qp_example_trace_sepstack(t, (uint32_t)gn->blocks, gn->seed);
        snprintf(line, sizeof line, "model sepstack: %lu blocks, separate ReLUs, seed %llu",
                 (unsigned long)gn->blocks, (unsigned long long)gn->seed);
    } else {
        st = qp_example_trace_resstack(t, (uint32_t)gn->blocks, (int64_t)gn->channels);
        snprintf(line, sizeof line, "model resstack: %lu BasicBlocks of %lld channels",
                 (unsigned long)gn->blocks, (long long)gn->channels);
    }
    if (!st)
        st = qp_graph_add_comment(qp_tracer_graph(t), line);
    if (!st)
        st = qp_graph_add_comment(qp_tracer_graph(t), "generated by qprep gen");
    if (st) {
        fprintf(stderr, "qprep: generating failed: %s: %s\n", qp_status_str(st),
                qp_graph_errmsg(qp_tracer_graph(t)));
        qp_tracer_destroy(t);
        return st;
    }
    qp_graph *g = NULL;
    if ((st = qp_tracer_finish(t, &g)) != QP_OK) {
        fprintf(stderr, "qprep: generating failed: %s\n", qp_status_str(st));
        return st;
    }
    st = qp_graph_write_text(g, fn, ud);
    qp_graph_destroy(g);
    return st;
}

/* Parses a positive count; 0 if it is not one. */
static uint64_t
count_arg(const char *s)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end); /* takes 1e6 as well as 1000000 */
    if (errno || *end || !(d >= 1) || d > 4e9)
        return 0;
    return (uint64_t)(d + 0.5);
}

/* Parses a seed: any integer from 0 to 2^64 - 1; returns nonzero if it is not one. */
static int
seed_arg(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s || *s == '-')
        return 1;
    *out = v;
    return 0;
}

/* Takes argv[*i] (and its value) if it is a generator option; returns 1 if taken, 0 if not
 * one, -1 for a bad value. `prefix` is "--" for qprep gen, "--gen-" for qprep bench. */
static int
gen_option(struct gen *g, const char *prefix, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    size_t n = strlen(prefix);
    if (*i + 1 >= argc)
        return 0;
    const char *v = argv[*i + 1];
    if (!strncmp(a, prefix, n) && !strcmp(a + n, "blocks"))
        g->blocks = count_arg(v);
    else if (!strncmp(a, prefix, n) && !strcmp(a + n, "nodes"))
        g->nodes = count_arg(v);
    else if (!strcmp(a, "--layout") && (!strcmp(v, "basic") || !strcmp(v, "separate")))
        g->separate = !strcmp(v, "separate");
    else if (!strcmp(a, "--seed")) {
        if (seed_arg(v, &g->seed))
            return -1;
    } else
        return 0;
    ++*i;
    return 1;
}

/* Picks the number of blocks from --nodes unless --blocks gave it; returns whether g is a
 * stack the generator makes. */
static bool
gen_ready(struct gen *g)
{
    if (g->nodes && !g->blocks)
        g->blocks = g->separate ? qp_example_sepstack_blocks(g->nodes)
                                : qp_example_resstack_blocks(g->nodes);
    return g->blocks && g->blocks <= (g->separate ? UINT32_MAX / 9 : UINT32_MAX / 8) && g->channels;
}

/* ==== qprep gen ==== */

int
cmd_gen(int argc, char **argv)
{
    static const char usage[] = "qprep gen (--blocks N | --nodes N) [--layout basic|separate]\n"
                                "                 [--channels C] [--seed S] [-o OUT.qg]";
    struct gen g = {false, 0, 0, 64, 7};
    bool channels = false;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int took = gen_option(&g, "--", argc, argv, &i);
        if (took > 0)
            continue;
        if (!took && !strcmp(a, "--channels") && i + 1 < argc)
            g.channels = count_arg(argv[++i]), channels = true;
        else if (!took && !strcmp(a, "-o") && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: %s\n", usage);
            return EXIT_USAGE;
        }
    }
    if (!gen_ready(&g) || (g.separate && channels)) { /* separate draws its channels */
        fprintf(stderr, "usage: %s\n", usage);
        return EXIT_USAGE;
    }
    FILE *f = cli_open_out(out);
    if (!f)
        return EXIT_BAD;
    qp_status st = gen_text(&g, cli_file_write, f);
    int rc = cli_close_out(f, out ? out : "-");
    if (st) {
        fprintf(stderr, "qprep gen: %s\n", qp_status_str(st));
        return EXIT_BAD;
    }
    return rc;
}

/* ==== qprep bench ==== */

struct sample {
    double read, prepare, write; /* wall clock */
    double cpu;                  /* CPU time of all three */
};

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the field at byte offset `off` of n samples. */
static double
median(const struct sample *s, uint32_t n, size_t off)
{
    double *v = malloc(n * sizeof *v);
    if (!v)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        memcpy(&v[i], (const char *)&s[i] + off, sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    double m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    free(v);
    return m;
}

/* What one benchmark run measured. */
struct result {
    uint32_t nodes_in, nodes_out, modules_in, modules_out;
    size_t bytes_out;
    size_t peak;       /* counting allocator: most bytes held at once */
    size_t graph_peak; /* qp_graph_mem_peak of the prepared graph */
};

/* One repeat: read, prepare, write; fills s and r. */
static int
bench_once(const struct buf *text, qp_backend be, const qp_config *cfg, bool fresh,
           struct sample *s, struct result *r)
{
    struct counter c = {0, 0, fresh ? qp_allocator_default() : (qp_allocator){c_realloc, NULL}};
    qp_allocator alloc = {counting_alloc, &c};
    qp_read_opts opts = {&alloc, 0, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    double c0 = cpu_us(), t0 = now_us();
    qp_status st = qp_graph_read_text(text->p, text->n, &opts, &g, &err);
    double t1 = now_us();
    if (st) {
        fprintf(stderr, "qprep bench: reading failed at %u:%u: %s\n", (unsigned)err.line,
                (unsigned)err.col, err.msg);
        return EXIT_BAD;
    }
    r->nodes_in = qp_graph_num_nodes(g);
    r->modules_in = qp_graph_num_modules(g);
    st = qp_prepare_qat(g, be, cfg);
    double t2 = now_us();
    if (st) {
        fprintf(stderr, "qprep bench: prepare failed: %s (%s)\n", qp_graph_errmsg(g),
                qp_status_str(st));
        qp_graph_destroy(g);
        return EXIT_BAD;
    }
    size_t bytes = 0;
    st = qp_graph_write_text(g, count_write, &bytes);
    double t3 = now_us(), c3 = cpu_us();
    r->nodes_out = qp_graph_num_nodes(g);
    r->modules_out = qp_graph_num_modules(g);
    r->bytes_out = bytes;
    r->graph_peak = qp_graph_mem_peak(g);
    qp_graph_destroy(g);
    r->peak = c.peak;
    if (st) {
        fprintf(stderr, "qprep bench: writing failed: %s\n", qp_status_str(st));
        return EXIT_BAD;
    }
    s->read = t1 - t0;
    s->prepare = t2 - t1;
    s->write = t3 - t2;
    s->cpu = c3 - c0;
    return EXIT_OK;
}

#if BENCH_FORK
/* bench_once in a child process, whose results come back through a pipe. */
static int
bench_fresh(const struct buf *text, qp_backend be, const qp_config *cfg, struct sample *s,
            struct result *r)
{
    struct {
        struct sample s;
        struct result r;
    } m;
    int fd[2];
    if (pipe(fd)) {
        perror("qprep bench: pipe");
        return EXIT_BAD;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        perror("qprep bench: fork");
        close(fd[0]);
        close(fd[1]);
        return EXIT_BAD;
    }
    if (pid == 0) {
        close(fd[0]);
        int rc = bench_once(text, be, cfg, true, &m.s, &m.r);
        const char *p = (const char *)&m;
        for (size_t left = sizeof m; !rc && left;) {
            ssize_t k = write(fd[1], p, left);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                rc = EXIT_BAD;
            else
                p += k, left -= (size_t)k;
        }
        fflush(NULL);
        _exit(rc);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof m) {
        ssize_t k = read(fd[0], (char *)&m + got, sizeof m - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof m) {
        /* the child said why, unless it died */
        if (WIFSIGNALED(status))
            fprintf(stderr, "qprep bench: the repeat's process died of signal %d\n",
                    WTERMSIG(status));
        return WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : EXIT_BAD;
    }
    *s = m.s;
    *r = m.r;
    return EXIT_OK;
}
#endif

int
cmd_bench(int argc, char **argv)
{
    static const char usage[] =
        "qprep bench [--backend NAME] [--config FILE.qcfg] [--repeat N] [--fresh-process]\n"
        "                   [--json] (IN.qg | (--gen-nodes N | --gen-blocks N)\n"
        "                   [--layout basic|separate] [--seed S])\n"
        "       qprep bench --process [--backend NAME] [--config FILE.qcfg] [--repeat N]\n"
        "                   [--json] IN.qg";
    if (argc > 1 && !strcmp(argv[1], "--floor"))
        return cmd_bench_floor(argc, argv);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--process"))
            return cmd_bench_process(argc, argv);
    const char *in = NULL, *backend = "Tensorrt", *config = NULL;
    uint64_t repeat = 5;
    struct gen gn = {false, 0, 0, 64, 7};
    bool json = false, fresh = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--backend") && i + 1 < argc)
            backend = argv[++i];
        else if (!strcmp(a, "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(a, "--repeat") && i + 1 < argc)
            repeat = count_arg(argv[++i]);
        else if (gen_option(&gn, "--gen-", argc, argv, &i) > 0)
            continue;
        else if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--fresh-process") && BENCH_FORK)
            fresh = true;
        else if ((a[0] != '-' || !a[1]) && !in)
            in = a;
        else {
            fprintf(stderr, "usage: %s\n", usage);
            return EXIT_USAGE;
        }
    }
    bool gen = gn.blocks || gn.nodes;
    if (!repeat || repeat > 100000 || (!in) == !gen || (gen && !gen_ready(&gn))) {
        fprintf(stderr, "usage: %s\n", usage);
        return EXIT_USAGE;
    }
    qp_backend be;
    if (qp_backend_from_name(backend, &be)) {
        fprintf(stderr, "qprep bench: unknown backend '%s'\n", backend);
        return EXIT_USAGE;
    }
    qp_config *cfg = NULL;
    if (config && !(cfg = cli_read_config(config)))
        return EXIT_BAD;

#if defined(__GLIBC__)
    if (!fresh) {
        /* freed memory stays mapped: every repeat but the first runs on warm pages */
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, INT_MAX);
    }
#endif
    struct buf text = {NULL, 0, 0};
    char what[64];
    int rc = EXIT_OK;
    if (in) {
        rc = slurp(in, &text);
    } else {
        if (gn.separate)
            snprintf(what, sizeof what, "sepstack(%lu blocks, seed %llu)", (unsigned long)gn.blocks,
                     (unsigned long long)gn.seed);
        else
            snprintf(what, sizeof what, "resstack(%lu blocks)", (unsigned long)gn.blocks);
        if (gen_text(&gn, buf_write, &text))
            rc = EXIT_BAD;
    }
    struct sample *s = rc ? NULL : malloc(repeat * sizeof *s);
    if (!rc && !s) {
        fprintf(stderr, "qprep bench: out of memory\n");
        rc = EXIT_BAD;
    }
    struct result r = {0};
    size_t peak = 0;
    for (uint64_t i = 0; !rc && i < repeat; i++) {
#if BENCH_FORK
        if (fresh)
            rc = bench_fresh(&text, be, cfg, &s[i], &r);
        else
#endif
            rc = bench_once(&text, be, cfg, false, &s[i], &r);
        if (r.peak > peak)
            peak = r.peak;
    }
    if (!rc) {
        uint32_t n = (uint32_t)repeat;
        double rd = median(s, n, offsetof(struct sample, read));
        double pr = median(s, n, offsetof(struct sample, prepare));
        double wr = median(s, n, offsetof(struct sample, write));
        double total = rd + pr + wr, cpu = median(s, n, offsetof(struct sample, cpu));
        double nps = total > 0 ? r.nodes_in / (total / 1e6) : 0;
        double per_node = r.nodes_in ? (double)peak / r.nodes_in : 0;
        const char *name = in ? in : what;
        const char *mode = fresh ? "fresh-process" : "in-process";
        if (json) {
            printf("{\"graph\": \"");
            for (const char *p = name; *p; p++) { /* a path: escape what JSON needs */
                if (*p == '"' || *p == '\\')
                    putchar('\\');
                putchar((unsigned char)*p < 0x20 ? '?' : *p);
            }
            printf("\", \"backend\": \"%s\", \"repeat\": %u, \"mode\": \"%s\", \"nodes_in\": %u, "
                   "\"nodes_out\": %u, \"modules_in\": %u, \"modules_out\": %u, "
                   "\"bytes_in\": %zu, \"bytes_out\": %zu, \"read_us\": %.1f, "
                   "\"prepare_us\": %.1f, \"write_us\": %.1f, \"total_us\": %.1f, "
                   "\"read_prepare_us\": %.1f, \"cpu_us\": %.1f, \"nodes_per_sec\": %.0f, "
                   "\"ns_per_node\": %.1f, \"peak_bytes\": %zu, \"peak_bytes_per_node\": %.1f, "
                   "\"graph_mem_peak\": %zu}\n",
                   qp_backend_name(be), (unsigned)n, mode, (unsigned)r.nodes_in,
                   (unsigned)r.nodes_out, (unsigned)r.modules_in, (unsigned)r.modules_out, text.n,
                   r.bytes_out, rd, pr, wr, total, rd + pr, cpu, nps,
                   r.nodes_in ? total * 1e3 / r.nodes_in : 0.0, peak, per_node, r.graph_peak);
        } else {
            printf("graph    %s\n", name);
            printf("backend  %s, median of %u, %s\n", qp_backend_name(be), (unsigned)n,
                   fresh ? "each repeat in a fresh process"
                         : "all repeats in this process" BENCH_KEEPS);
            printf("nodes    %u -> %u, modules %u -> %u\n", (unsigned)r.nodes_in,
                   (unsigned)r.nodes_out, (unsigned)r.modules_in, (unsigned)r.modules_out);
            printf("text     %zu bytes in, %zu bytes out\n", text.n, r.bytes_out);
            printf("read     %12.1f us\n", rd);
            printf("prepare  %12.1f us\n", pr);
            printf("write    %12.1f us\n", wr);
            printf("total    %12.1f us  (read + prepare %.1f us; CPU time %.1f us)\n", total,
                   rd + pr, cpu);
            printf("rate     %12.0f nodes/s  (%.1f ns per node)\n", nps,
                   r.nodes_in ? total * 1e3 / r.nodes_in : 0.0);
            printf("peak     %12zu bytes  (%.1f bytes per node; graph's own peak %zu)\n", peak,
                   per_node, r.graph_peak);
        }
        rc = cli_close_out(stdout, "-");
    }
    free(s);
    free(text.p);
    qp_config_destroy(cfg);
    return rc;
}
