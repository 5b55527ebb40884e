/*
 * main.c - the qprep command-line tool: dispatches to one command.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"fmt", cmd_fmt, "fmt FILE                  canonical rewrite to stdout"},
    {"check", cmd_check, "check FILE...             read and verify; list every problem"},
    {"dot", cmd_dot, "dot FILE [-o OUT.dot]     Graphviz picture"},
    {"prepare", cmd_prepare,
     "prepare --backend NAME [--config FILE.qcfg] [--fix] [--stats] IN.qg [-o OUT.qg]\n"
     "                            prepare for quantization-aware training, as MQBench"},
    {"explain", cmd_explain,
     "explain --backend NAME [--config FILE.qcfg] [--fix] IN.qg\n"
     "                            why each fake-quantizer is where it is"},
    {"bench", cmd_bench,
     "bench [--backend NAME] [--config FILE.qcfg] [--repeat N] [--fresh-process] [--json]\n"
     "            (IN.qg | (--gen-nodes N | --gen-blocks N) [--layout L] [--seed S])\n"
     "                            median time of read, prepare and write; peak memory\n"
     "  qprep bench --process [--backend NAME] [--config FILE.qcfg] [--repeat N] [--json] IN.qg\n"
     "                            whole processes: prepare file to file, the I/O floor, an\n"
     "                            empty process; medians, spreads, peak RSS"},
    {"replay", cmd_replay,
     "replay CASE.qn [-o OUT.qn] | replay --check [--by-kind] CASE.qn...\n"
     "                            run the quantizer runtime through numerics cases (.qn)"},
    {"bench-quant", cmd_benchquant,
     "bench-quant --backend NAME --role weight|activation [--config FILE.qcfg]\n"
     "            --shape D0,D1,... [--ch-axis N] [--repeat N] [--json]\n"
     "                            median time of one quantizer's observer, forward, backward"},
    {"gen", cmd_gen,
     "gen (--blocks N | --nodes N) [--layout basic|separate] [--channels C] [--seed S]\n"
     "            [-o OUT.qg]     write a residual stack (benchmark graph): N BasicBlocks,\n"
     "                            or blocks with separate ReLUs and 4 to 512 channels"},
};

static int
usage(FILE *f)
{
    fprintf(f, "usage: qprep COMMAND ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  qprep %s\n", commands[i].help);
    fprintf(f, "\nExit status: 0 ok, 1 bad input, 2 usage. qprep %s\n", qp_version());
    return f == stdout ? EXIT_OK : EXIT_USAGE;
}

static const char *argv0 = "qprep"; /* set once, by main */

const char *
cli_argv0(void)
{
    return argv0;
}

int
main(int argc, char **argv)
{
    if (argc > 0 && argv[0] && *argv[0])
        argv0 = argv[0];
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("qprep %s\n", qp_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qprep: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
