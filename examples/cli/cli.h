/*
 * cli.h - shared helpers of the qprep command-line tool.
 */
#ifndef QPREP_CLI_H
#define QPREP_CLI_H

#include <qprep/prepare.h>
#include <qprep/qprep.h>

#include <stdio.h>

/* Exit statuses: 0 ok, 1 bad input, 2 usage. */
enum { EXIT_OK = 0, EXIT_BAD = 1, EXIT_USAGE = 2 };

/* Reads a graph file ("-" is stdin); prints FILE:LINE:COL: message and returns NULL on error.
 * A small regular file's graph gets cli_small_allocator's allocator where there is one. */
qp_graph *cli_read_graph(const char *path, unsigned flags);
/* The input size up to which cli_read_graph gives a graph cli_small_allocator's allocator.
 * Preparing takes 8 to 18 bytes per byte of text: up to 100 to 250 KB of text it all fits
 * the arena's 2 MiB, and past that the rest comes from malloc. Up to 1 MiB of text no
 * array reaches the 4 MiB from which the library's default allocator maps blocks in huge
 * pages itself (which the arena's overflow to malloc would not do). */
#define CLI_SMALL_INPUT ((size_t)1 << 20)
/* An allocator for one small graph, its blocks in a 2 MiB transparent huge page (where the
 * system gives one on request, and not under AddressSanitizer), else NULL: the library's
 * default. The process has one; it is never unmapped, and the graph must be destroyed
 * with it. */
const qp_allocator *cli_small_allocator(void);
/* An allocator handing out mem[0..size) in order (mem 16-byte aligned): the last block
 * grows, shrinks and is freed in place, a block freed elsewhere leaves its room
 * unused, and what does not fit comes from malloc. a holds its state. */
typedef struct cli_arena {
    char *base, *top, *end;
} cli_arena;
qp_allocator cli_arena_allocator(cli_arena *a, void *mem, size_t size);
/* Opens an output file ("-" or NULL is stdout); prints an error and returns NULL on failure. */
FILE *cli_open_out(const char *path);
/* A qp_write_fn writing to the FILE* in ud. */
int cli_file_write(void *ud, const char *data, size_t len);

/*
 * Output to a FILE in writes that grow with it: the first MiB goes through stdio
 * as the library hands it over (4 KiB pieces, through the FILE's own small
 * buffer), so a small graph's output touches no more memory than that; past it,
 * pieces are gathered into blocks of 64 KiB, and past 64 MiB of 1 MiB, each one
 * write (a prepared million-node graph is 750 MB: a system call per MiB, not per
 * 4 KiB). glibc ignores the size setvbuf is given without a buffer, so stdio
 * alone would not do this.
 */
typedef struct cli_out {
    FILE *f;
    char *buf; /* cap bytes once past the first MiB, else NULL */
    size_t n, cap, total;
    bool failed;
} cli_out;
void cli_out_init(cli_out *o, FILE *f);
/* A qp_write_fn over the cli_out in ud; -1 once a write failed. */
int cli_out_write(void *ud, const char *data, size_t len);
/* Writes what is gathered and frees the block; 0, or -1 if any write failed. The FILE
 * stays open. */
int cli_out_finish(cli_out *o);
/* qp_graph_write_text to f through a cli_out; QP_ERR_IO if writing failed. */
qp_status cli_write_graph(const qp_graph *g, FILE *f);
/* Closes what cli_open_out opened; returns 0, or 1 after printing an error. */
int cli_close_out(FILE *f, const char *path);

/* Reads a .qcfg file; prints FILE:LINE:COL: message and returns NULL on error. */
qp_config *cli_read_config(const char *path);

/* The name this program was started as (main's argv[0]). */
const char *cli_argv0(void);

int cmd_fmt(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_dot(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_gen(int argc, char **argv);
/* qprep bench --process ... (cmd_benchproc.c): whole processes of this executable; exit 2
 * where processes cannot be started. */
int cmd_bench_process(int argc, char **argv);
/* qprep bench --floor IN.qg BYTES OUT: reads IN.qg whole, writes BYTES bytes (its text again
 * and again) to OUT; the I/O floor --process measures. */
int cmd_bench_floor(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_benchquant(int argc, char **argv);

#endif
