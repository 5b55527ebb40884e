/*
 * testlib.h - what every qprep test includes: cmocka (in the include order
 * cmocka 1.1.5 needs), the library, its internals, and the test allocator.
 */
#ifndef QP_TESTLIB_H
#define QP_TESTLIB_H

/* libc headers first: with UNIT_TESTING cmocka.h turns malloc and free into macros */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_alloc.h"
#include "internal.h"
#include <qprep/prepare.h>
#include <qprep/qprep.h>

#include <stdbool.h>
#include <stdio.h>

/*
 * A test allocator (fault_alloc.h) whose blocks come from cmocka's test_malloc,
 * so a leak fails the test; realloc always moves; the k-th call (1-based) can be
 * made to fail, alone or with every later one.
 */
typedef qpt_fault qpt_alloc;

/* A qp_allocator over st (which must outlive every graph made with it). */
qp_allocator qpt_allocator(qpt_alloc *st);
void qpt_alloc_reset(qpt_alloc *st);

/* The data folder (argv[1] of every test). Set by qpt_main. */
extern const char *qpt_data_dir;
/* Reads a whole file under the data folder into a test_malloc'd buffer; *len its size. */
char *qpt_read_file(const char *rel, size_t *len);
/* Whether rel (under the data folder) can be opened. */
bool qpt_data_exists(const char *rel);
/* The canonical text of a graph, test_malloc'd, NUL-terminated. */
char *qpt_graph_text(const qp_graph *g);
/* Reads a graph from text (asserts success). */
qp_graph *qpt_parse(const char *text, const qp_allocator *a);
/* Lists the files of a data sub-folder ending in suffix; returns the count; names are
 * test_malloc'd (free with qpt_free_list). */
size_t qpt_list(const char *reldir, const char *suffix, char ***names);
void qpt_free_list(char **names, size_t n);

/* graph_util.c: the report's line for pass `name` ("dup", "fuse", ...), failing the
 * test when the report has none. */
const qp_pass_stats *qpt_pass_stats(const qp_report *r, const char *name);
/* graph_util.c: an empty graph over st (reset first; asserts success). */
qp_graph *qpt_mkgraph(qpt_alloc *st);
/* Ends g with an output if it has none (declaring the modules and parameters its
 * call_module and get_attr nodes name) and asserts qp_graph_verify accepts it. */
void qpt_close_and_verify(qp_graph *g);
/* qpt_close_and_verify, then destroys g and asserts nothing st gave out is live. */
void qpt_done(qp_graph *g, qpt_alloc *st);
/* Asserts qp_graph_verify accepts g as it is. */
void qpt_verify_ok(qp_graph *g);
/* The qgraph text of a chain x -> BASE_0 -> ... -> BASE_{n-1} -> output of
 * torch.relu calls (a big graph made on the spot); test_malloc'd, *len its length. */
char *qpt_relu_chain(int n, const char *base, size_t *len);

/* prep_util.c: a config from .qcfg text (asserts success); prepare a text graph for
 * a backend expecting status `want`; returns the prepared text or, on the expected
 * failure, the error message (checking the graph was left unchanged). test_malloc'd. */
qp_config *qpt_config(const char *text);
/* The same for a file under the data folder (its path in the message). */
qp_config *qpt_config_file(const char *rel);
/* A conformance fixture's name MODEL.BACKEND[.CFG].out.qg taken apart: model, backend,
 * and the configuration FORMAT.md pairs with it under the data folder ("": none):
 * configs/MODEL-CFG.qcfg if there is one, else configs/CFG.qcfg, and
 * configs/academic.qcfg for an Academic backend's default fixture. False when the
 * name has not that shape. */
typedef struct qpt_fixture {
    char model[128], backend[64], cfg_rel[256];
} qpt_fixture;
bool qpt_fixture_parse(const char *name, qpt_fixture *f);
char *qpt_prepare(const char *in, qp_backend be, const qp_config *cfg, qp_status want);
/* Calls fn for every fixture input (fixtures/NAME.in.qg) on every backend, with the
 * fixture's name and text, the backend, and cfg: configs/academic.qcfg for the
 * Academic backends (they have no defaults), NULL for the others. */
typedef void qpt_run_fn(void *ud, const char *name, const char *text, qp_backend b,
                        const qp_config *cfg);
void qpt_each_fixture_backend(qpt_run_fn *fn, void *ud);
/* Fail unless hay contains / lacks needle, printing both. */
void qpt_contains(const char *hay, const char *needle);
void qpt_lacks(const char *hay, const char *needle);

#define QPT_MAIN(group)                                                                    \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        qpt_data_dir = argc > 1 ? argv[1] : "tests/data";                                   \
        return cmocka_run_group_tests_name(#group, group, NULL, NULL);                     \
    }

#endif
