/*
 * cmd_benchproc.c - qprep bench --process: time exactly what a user runs, a
 * new `qprep prepare` process reading a file and writing a file, against the
 * I/O floor and an empty process, side by side in one run.
 *
 * Per repeat, interleaved (so the machine's noise falls on all three alike),
 * this executable is started three times, each with its standard output on
 * the null device:
 *   prepare  `qprep prepare --backend B [--config F] IN.qg -o DIR/prepare.qg`;
 *   floor    `qprep bench --floor IN.qg BYTES DIR/floor.qg`: reads IN.qg whole
 *            into memory and writes as many bytes as the prepare wrote to a
 *            file through stdio, as prepare does: the I/O any prepare pays;
 *   empty    `qprep --version`: starting a process of this executable.
 * Each is timed from spawn to wait on a monotonic clock, with the child's
 * peak resident set from wait4. Each output file is removed after its run,
 * outside the timing (so no run pays for truncating an old file, and one
 * output at most is on disk), and the directory (under TMPDIR or /tmp) at
 * the end.
 *
 * One warm-up prepare with --stats comes first, untimed: it gives the node
 * and module counts and the output's size, and faults the input file into
 * the page cache. This process never reads the graph itself: on Linux a
 * child's ru_maxrss starts at the high-water mark of the process that
 * spawned it, so the benchmark keeps its own memory small.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, mkdtemp, posix_spawn */
#define _DEFAULT_SOURCE         /* wait4 (glibc) */

#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#define BENCH_SPAWN 1
extern char **environ;
#else
#define BENCH_SPAWN 0
#endif

/* ==== the floor (portable C) ==== */

int
cmd_bench_floor(int argc, char **argv)
{
    /* qprep bench --floor IN.qg BYTES OUT */
    char *end;
    errno = 0;
    unsigned long long want = argc == 5 ? strtoull(argv[3], &end, 10) : 0;
    if (argc != 5 || errno || *end || !*argv[3] || *argv[3] == '-') {
        fprintf(stderr, "usage: qprep bench --floor IN.qg BYTES OUT\n");
        return EXIT_USAGE;
    }
    const char *in = argv[2], *out = argv[4];
    FILE *f = fopen(in, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", in, strerror(errno));
        return EXIT_BAD;
    }
    /* the whole file in one block of its size, as a reader that holds its input would */
    long size = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    char *text = size >= 0 && !fseek(f, 0, SEEK_SET) ? malloc((size_t)size + 1) : NULL;
    size_t got = text ? fread(text, 1, (size_t)size, f) : 0;
    int bad = !text || got != (size_t)size || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: %s\n", in, text ? "read error" : "out of memory");
        free(text);
        return EXIT_BAD;
    }
    FILE *o = cli_open_out(out);
    if (!o) {
        free(text);
        return EXIT_BAD;
    }
    /* the input's bytes again and again (zeros if it is empty), in chunks of at most 1 MiB */
    static const char zeros[4096];
    const char *src = got ? text : zeros;
    size_t cycle = got ? got : sizeof zeros, at = 0;
    for (unsigned long long left = want; left && !bad;) {
        size_t k = cycle - at < (1u << 20) ? cycle - at : (1u << 20);
        if (k > left)
            k = (size_t)left;
        bad = cli_file_write(o, src + at, k);
        left -= k;
        at = at + k == cycle ? 0 : at + k;
    }
    free(text);
    int rc = cli_close_out(o, out);
    if (bad) {
        fprintf(stderr, "%s: write error\n", out);
        return EXIT_BAD;
    }
    return rc;
}

/* ==== qprep bench --process ==== */

#if BENCH_SPAWN

/* What one child process took. */
struct run {
    double wall_us, cpu_us;
    double rss; /* peak resident set, bytes */
};

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Runs argv (argv[0] the program) with stdout on the null device and stderr on errpath
 * (NULL: ours); fills r. Returns the child's exit status, or -1 after printing why it could
 * not run or how it died. */
static int
spawn_wait(char *const *argv, const char *errpath, struct run *r)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa))
        return -1;
    int e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!e && errpath)
        e = posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    fflush(NULL);
    double t0 = now_us();
    if (!e)
        e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ); /* argv[0] may be a bare name */
    posix_spawn_file_actions_destroy(&fa);
    if (e) {
        fprintf(stderr, "qprep bench: cannot start %s: %s\n", argv[0], strerror(e));
        return -1;
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("qprep bench: wait4");
            return -1;
        }
    }
    double t1 = now_us();
    r->wall_us = t1 - t0;
    r->cpu_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
                (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
#if defined(__APPLE__)
    r->rss = (double)ru.ru_maxrss; /* bytes there */
#else
    r->rss = (double)ru.ru_maxrss * 1024.0; /* kilobytes on Linux and the BSDs */
#endif
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "qprep bench: %s %s died of signal %d\n", argv[0], argv[1],
                WTERMSIG(status));
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Prints a file (a failed child's stderr) to our stderr. */
static void
copy_to_stderr(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, k, stderr);
    fclose(f);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, least and most of a field over n runs. */
struct stat3 {
    double med, min, max;
};

static struct stat3
summarize(const struct run *runs, uint32_t n, size_t off, double *scratch)
{
    for (uint32_t i = 0; i < n; i++)
        memcpy(&scratch[i], (const char *)&runs[i] + off, sizeof *scratch);
    qsort(scratch, n, sizeof *scratch, cmp_double);
    struct stat3 s = {n % 2 ? scratch[n / 2] : (scratch[n / 2 - 1] + scratch[n / 2]) / 2,
                      scratch[0], scratch[n - 1]};
    return s;
}

/* The path this executable runs from: /proc/self/exe where it exists, else argv[0]. */
static const char *
self_path(char *buf, size_t cap)
{
    ssize_t k = readlink("/proc/self/exe", buf, cap - 1);
    if (k > 0 && (size_t)k < cap - 1) {
        buf[k] = '\0';
        return buf;
    }
    return cli_argv0();
}

/* Prints s as a JSON string. */
static void
json_str(const char *s)
{
    putchar('"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar((unsigned char)*p < 0x20 ? '?' : *p);
    }
    putchar('"');
}

enum { PREPARE, FLOOR, EMPTY, NKINDS };
static const char *const kind_name[NKINDS] = {"prepare", "floor", "empty"};

int
cmd_bench_process(int argc, char **argv)
{
    static const char usage[] = "qprep bench --process [--backend NAME] [--config FILE.qcfg] "
                                "[--repeat N] [--json] IN.qg";
    const char *in = NULL, *backend = "Tensorrt", *config = NULL;
    long repeat = 5;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (!strcmp(a, "--process"))
            continue;
        if (!strcmp(a, "--backend") && i + 1 < argc)
            backend = argv[++i];
        else if (!strcmp(a, "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(a, "--repeat") && i + 1 < argc) {
            repeat = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i])
                repeat = 0;
        } else if (!strcmp(a, "--json"))
            json = true;
        else if (a[0] != '-' && !in)
            in = a;
        else {
            fprintf(stderr, "usage: %s\n", usage);
            return EXIT_USAGE;
        }
    }
    if (!in || repeat < 1 || repeat > 100000) {
        fprintf(stderr, "usage: %s\n", usage);
        return EXIT_USAGE;
    }
    qp_backend be;
    if (qp_backend_from_name(backend, &be)) {
        fprintf(stderr, "qprep bench: unknown backend '%s'\n", backend);
        return EXIT_USAGE;
    }
    struct stat sb;
    if (stat(in, &sb)) {
        fprintf(stderr, "%s: %s\n", in, strerror(errno));
        return EXIT_BAD;
    }
    char exe[4096], dir[4096], out_prep[4200], out_floor[4200], err_file[4200], bytes[32];
    const char *self = self_path(exe, sizeof exe);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/qprep-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "qprep bench: cannot make a directory %s: %s\n", dir, strerror(errno));
        return EXIT_BAD;
    }
    snprintf(out_prep, sizeof out_prep, "%s/prepare.qg", dir);
    snprintf(out_floor, sizeof out_floor, "%s/floor.qg", dir);
    snprintf(err_file, sizeof err_file, "%s/stats.txt", dir);

    /* the commands; argv strings are not modified by posix_spawn */
    char *prep_argv[12], *stats_argv[13], *floor_argv[7], *empty_argv[3];
    int n = 0;
    prep_argv[n++] = (char *)self;
    prep_argv[n++] = "prepare";
    prep_argv[n++] = "--backend";
    prep_argv[n++] = (char *)backend;
    if (config) {
        prep_argv[n++] = "--config";
        prep_argv[n++] = (char *)config;
    }
    prep_argv[n++] = (char *)in;
    prep_argv[n++] = "-o";
    prep_argv[n++] = out_prep;
    prep_argv[n] = NULL;
    memcpy(stats_argv, prep_argv, (size_t)(n + 1) * sizeof *prep_argv);
    stats_argv[n] = "--stats";
    stats_argv[n + 1] = NULL;
    char *fa[] = {(char *)self, "bench", "--floor", (char *)in, bytes, out_floor, NULL};
    char *ea[] = {(char *)self, "--version", NULL};
    memcpy(floor_argv, fa, sizeof fa);
    memcpy(empty_argv, ea, sizeof ea);
    char *const *cmd[NKINDS] = {prep_argv, floor_argv, empty_argv};

    struct run *runs = malloc((size_t)repeat * NKINDS * sizeof *runs);
    double *scratch = malloc((size_t)repeat * sizeof *scratch);
    unsigned nodes_in = 0, nodes_out = 0, modules_in = 0, modules_out = 0;
    unsigned long long bytes_out = 0;
    int rc = runs && scratch ? EXIT_OK : EXIT_BAD;
    if (rc)
        fprintf(stderr, "qprep bench: out of memory\n");

    /* the warm-up: counts and the output's size */
    struct run warm;
    if (!rc) {
        int st = spawn_wait(stats_argv, err_file, &warm);
        FILE *f = fopen(err_file, "rb");
        if (st || !f ||
            fscanf(f, "nodes %u -> %u, modules %u -> %u", &nodes_in, &nodes_out, &modules_in,
                   &modules_out) != 4) {
            fprintf(stderr, "qprep bench: the warm-up prepare failed (%d):\n", st);
            copy_to_stderr(err_file);
            rc = st > 0 ? st : EXIT_BAD;
        }
        if (f)
            fclose(f);
        struct stat ob;
        if (!rc && stat(out_prep, &ob)) {
            fprintf(stderr, "%s: %s\n", out_prep, strerror(errno));
            rc = EXIT_BAD;
        }
        bytes_out = rc ? 0 : (unsigned long long)ob.st_size;
        snprintf(bytes, sizeof bytes, "%llu", bytes_out);
        remove(err_file);
        remove(out_prep);
    }
    /* the repeats, interleaved; each output is checked and removed after its run (outside
     * the timing), so one at most is on disk */
    const char *made[NKINDS] = {out_prep, out_floor, NULL};
    for (long i = 0; !rc && i < repeat; i++) {
        for (int k = 0; !rc && k < NKINDS; k++) {
            int st = spawn_wait(cmd[k], NULL, &runs[i * NKINDS + k]);
            if (st) {
                fprintf(stderr, "qprep bench: the %s process failed (%d)\n", kind_name[k], st);
                rc = st > 0 ? st : EXIT_BAD;
            }
            struct stat ob;
            if (!rc && made[k] &&
                (stat(made[k], &ob) || (unsigned long long)ob.st_size != bytes_out)) {
                fprintf(stderr, "qprep bench: the %s process wrote no file of %llu bytes\n",
                        kind_name[k], bytes_out);
                rc = EXIT_BAD;
            }
            if (made[k])
                remove(made[k]);
        }
    }
    remove(out_prep);
    remove(out_floor);
    rmdir(dir);

    if (!rc) {
        uint32_t m = (uint32_t)repeat;
        struct stat3 wall[NKINDS], rss[NKINDS], cpu[NKINDS];
        /* the runs of one kind are every NKINDS-th: gather them first */
        struct run *kind = malloc((size_t)repeat * sizeof *kind);
        if (!kind) {
            fprintf(stderr, "qprep bench: out of memory\n");
            rc = EXIT_BAD;
        }
        for (int k = 0; !rc && k < NKINDS; k++) {
            for (uint32_t i = 0; i < m; i++)
                kind[i] = runs[i * NKINDS + k];
            wall[k] = summarize(kind, m, offsetof(struct run, wall_us), scratch);
            rss[k] = summarize(kind, m, offsetof(struct run, rss), scratch);
            cpu[k] = summarize(kind, m, offsetof(struct run, cpu_us), scratch);
        }
        free(kind);
        double over_floor = wall[FLOOR].med > 0 ? wall[PREPARE].med / wall[FLOOR].med : 0;
        double over_empty = wall[EMPTY].med > 0 ? wall[PREPARE].med / wall[EMPTY].med : 0;
        double per_node = nodes_in ? rss[PREPARE].med / nodes_in : 0;
        if (!rc && json) {
            printf("{\"graph\": ");
            json_str(in);
            printf(", \"backend\": \"%s\", \"repeat\": %u, \"mode\": \"process\", \"executable\": ",
                   qp_backend_name(be), (unsigned)m);
            json_str(self);
            printf(", \"nodes_in\": %u, \"nodes_out\": %u, \"modules_in\": %u, "
                   "\"modules_out\": %u, \"bytes_in\": %llu, \"bytes_out\": %llu",
                   nodes_in, nodes_out, modules_in, modules_out, (unsigned long long)sb.st_size,
                   bytes_out);
            for (int k = 0; k < NKINDS; k++)
                printf(", \"%s_us\": %.1f, \"%s_us_min\": %.1f, \"%s_us_max\": %.1f, "
                       "\"%s_cpu_us\": %.1f, \"%s_peak_rss\": %.0f, \"%s_peak_rss_min\": %.0f, "
                       "\"%s_peak_rss_max\": %.0f",
                       kind_name[k], wall[k].med, kind_name[k], wall[k].min, kind_name[k],
                       wall[k].max, kind_name[k], cpu[k].med, kind_name[k], rss[k].med,
                       kind_name[k], rss[k].min, kind_name[k], rss[k].max);
            printf(", \"prepare_over_floor\": %.3f, \"prepare_over_empty\": %.3f, "
                   "\"peak_rss_per_node\": %.1f}\n",
                   over_floor, over_empty, per_node);
        } else if (!rc) {
            printf("graph    %s\n", in);
            printf("backend  %s, median (min-max) of %u, each run a new process of %s,\n"
                   "         the three interleaved, after one warm-up prepare\n",
                   qp_backend_name(be), (unsigned)m, self);
            printf("nodes    %u -> %u, modules %u -> %u\n", nodes_in, nodes_out, modules_in,
                   modules_out);
            printf("file     %llu bytes in, %llu bytes out\n", (unsigned long long)sb.st_size,
                   bytes_out);
            static const char *const what[NKINDS] = {"qprep prepare, file to file",
                                                     "read the file, write as many bytes",
                                                     "qprep --version"};
            for (int k = 0; k < NKINDS; k++)
                printf("%-8s %12.1f us (%.1f-%.1f; CPU %.1f us)  peak RSS %.0f KiB "
                       "(%.0f-%.0f)  %s\n",
                       kind_name[k], wall[k].med, wall[k].min, wall[k].max, cpu[k].med,
                       rss[k].med / 1024, rss[k].min / 1024, rss[k].max / 1024, what[k]);
            printf("ratios   prepare / floor %.2f, prepare / empty %.2f\n", over_floor, over_empty);
            printf("memory   %.1f bytes of peak RSS per input node\n", per_node);
        }
        if (!rc)
            rc = cli_close_out(stdout, "-");
    }
    free(runs);
    free(scratch);
    return rc;
}

#else

int
cmd_bench_process(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "qprep bench: --process is not supported here (no posix_spawn)\n");
    return EXIT_USAGE;
}

#endif
