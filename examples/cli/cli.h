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

/* Reads a graph file ("-" is stdin); prints FILE:LINE:COL: message and returns NULL on error. */
qp_graph *cli_read_graph(const char *path, unsigned flags);
/* Opens an output file ("-" or NULL is stdout); prints an error and returns NULL on failure. */
FILE *cli_open_out(const char *path);
/* A qp_write_fn writing to the FILE* in ud. */
int cli_file_write(void *ud, const char *data, size_t len);
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
