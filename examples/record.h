/*
 * record.h - helpers the examples' models use to record themselves through
 * the qprep tracer: a recording session that keeps its first failure, value
 * constructors, the torch.nn leaf modules they declare (with the attribute
 * dicts torch.fx's trace gives them), and module and function calls.
 *
 * Every helper does nothing once the session has failed (and returns a null
 * value or node), so a model records straight through and checks rec.st once.
 */
#ifndef QPREP_EXAMPLE_RECORD_H
#define QPREP_EXAMPLE_RECORD_H

#include <qprep/qprep.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A recording session on tracer t (g is its graph); st the first failure. */
typedef struct rec {
    qp_tracer *t;
    qp_graph *g;
    qp_status st;
} rec;

/* A session on t, failed already if t has. */
rec rec_begin(qp_tracer *t);
/* Keeps st if it is the first failure; returns whether the session is still ok. */
int rec_ok(rec *r, qp_status st);

/* Values in r's graph (QP_NULL_VAL once the session has failed). */
qp_val rec_int(rec *r, int64_t i);
qp_val rec_bool(rec *r, bool b);
qp_val rec_float(rec *r, double f);
qp_val rec_str(rec *r, const char *s);
qp_val rec_node(rec *r, qp_node n);
qp_val rec_tuple(rec *r, uint32_t n, const qp_val *items);
/* A tuple of n (at most 4) integers: a shape or a torch.nn "_size_any_t". */
qp_val rec_ints(rec *r, uint32_t n, const int64_t *xs);
/* (a, a): what torch.nn's _pair makes of an int. */
qp_val rec_pair(rec *r, int64_t a);

/* Declares a leaf module at path with the attribute dict keys[i]: items[i]. */
void rec_declare(rec *r, const char *path, const char *type, uint32_t n, const char *const *keys,
                 const qp_val *items);
/* nn.Conv2d(in, out, kernel_size=k, stride=stride, padding=pad, bias=False) */
void rec_conv2d(rec *r, const char *path, int64_t in, int64_t out, int64_t k, int64_t stride,
                int64_t pad);
/* nn.BatchNorm2d(features) */
void rec_batchnorm2d(rec *r, const char *path, int64_t features);
/* nn.ReLU(inplace=True) */
void rec_relu(rec *r, const char *path);

/* self.<path>(x): the node recorded (QP_NULL_NODE once the session has failed). */
qp_node rec_call(rec *r, const char *path, qp_node x);
/* fn(items...) for a function by its qualified name, e.g. "operator.add". */
qp_node rec_call_function(rec *r, const char *fn, uint32_t n, const qp_val *items);

#ifdef __cplusplus
}
#endif

#endif
