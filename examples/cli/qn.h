/*
 * qn.h - quantizer numerics case files (.qn, tests/data/numerics/FORMAT.md):
 * reading, writing and comparing them, for `qprep replay` and its tests.
 *
 * The reader checks the syntax FORMAT.md gives (and qnum.py, its reference
 * reader, accepts): `qnum 1`, then cases of head lines, steps and tensors of
 * kinds f32, i32, i64, u8 and bool. It allocates through the caller's
 * allocator only, never recurses, and on failure returns a status with the
 * line, column and message in a qp_error, and nothing allocated. It keeps
 * every line it does not interpret (module lines, comments before a case or in
 * its head) as written, so that writing what it read gives the same file,
 * except for comments inside steps and blank lines, which are dropped.
 */
#ifndef QPREP_CLI_QN_H
#define QPREP_CLI_QN_H

#include <qprep/quant.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest number token (in characters) the reader accepts. */
#define QN_MAX_NUMBER 100

/* A line kept as written (without its newline). */
typedef struct qn_line {
    char *text;
    uint32_t line;
} qn_line;

/* `tensor NAME KIND (SHAPE) [VALUES]`. t.data holds t.numel floats (f32), int32_t
 * (i32), int64_t (i64) or bytes (u8, bool: 0 or 1); NULL when numel is 0. */
typedef struct qn_tensor {
    char *name;
    uint32_t line;
    qp_tensor t;
} qn_tensor;

/* `step {observer: BOOL, fake_quant: BOOL[, lr: FLOAT]}` and its tensors. */
typedef struct qn_step {
    char *text; /* the dict as written after "step " */
    uint32_t line;
    bool observer, fake_quant, has_lr;
    double lr;
    qn_tensor *t;
    uint32_t nt, cap;
} qn_step;

typedef struct qn_case {
    char *name;
    uint32_t line; /* of its `case` line */
    qn_line *pre;  /* comment lines before the `case` line */
    uint32_t npre, cappre;
    qn_line *head; /* every line between `case` and the first step, comments too */
    uint32_t nhead, caphead;
    /* what the head lines say; the strings point into them */
    const char *backend; /* NUL-terminated */
    qp_side role;
    const char *config; /* the `{...}` after "config ", or NULL */
    uint32_t config_line;
    bool has_role, has_ch_axis;
    int ch_axis;
    const char *quant_type; /* static "tensor", "param", "input", or NULL */
    qn_step *steps;
    uint32_t nsteps, capsteps;
} qn_case;

typedef struct qn_file {
    qp_allocator alloc;
    qn_case *cases;
    uint32_t ncases, cap;
    qn_line *tail; /* comment lines after the last case */
    uint32_t ntail, captail;
} qn_file;

/*
 * Reads a case file from text[0..len) (no NUL needed). alloc NULL: malloc.
 * On success *out is a file to free with qn_free. On failure *out is NULL and
 * err (if not NULL) holds the status (QP_ERR_PARSE, QP_ERR_NOMEM), the 1-based
 * line and column, and a message.
 */
qp_status qn_read(const char *text, size_t len, const qp_allocator *alloc, qn_file **out,
                  qp_error *err);
void qn_free(qn_file *f);

/* "f32", "i32", "i64", "u8", "bool" ("?" out of range), without the runtime. */
const char *qn_kind_name(qp_dtype t);
/* Bytes per element of a kind. */
size_t qn_kind_size(qp_dtype t);

/* A tensor of a step by name, or NULL. */
const qn_tensor *qn_step_find(const qn_step *s, const char *name);

/* ==== writing ==== */

/* A buffered text sink over a qp_write_fn; the first failure of fn sticks. */
typedef struct qn_out {
    qp_write_fn fn;
    void *ud;
    int failed;
    size_t n;
    char buf[8192];
} qn_out;

void qn_out_init(qn_out *o, qp_write_fn fn, void *ud);
void qn_out_bytes(qn_out *o, const char *s, size_t len);
void qn_out_str(qn_out *o, const char *s);
/* Flushes; returns QP_OK, or QP_ERR_IO if fn failed at any point. */
qp_status qn_out_flush(qn_out *o);

/*
 * The shortest decimal that reads back (strtod) to the same double, as Python's
 * repr prints it ("0.1", "1e-05", "3.0", "inf", "-inf", "nan"), whatever the
 * locale. buf holds at least 32 bytes; returns the length.
 */
size_t qn_fmt_double(double v, char *buf);

/* `qnum 1` */
void qn_write_header(qn_out *o);
/* A case's comments, `case` line and head lines (the steps are the caller's). */
void qn_write_case_head(qn_out *o, const qn_case *c);
/* `step ...` as read. */
void qn_write_step_line(qn_out *o, const qn_step *s);
/* `tensor NAME KIND (SHAPE) [VALUES]` */
void qn_write_tensor(qn_out *o, const char *name, const qp_tensor *t);
/* A whole file as read (steps with their tensors; comments inside steps dropped). */
void qn_write_file(qn_out *o, const qn_file *f);

/* ==== comparing (FORMAT.md "Comparison", as qnum.py compares) ==== */

/* quant_max - quant_min + 1 from the case's `module q` line (256 if it has none). */
int64_t qn_grid_span(const qn_case *c);
/* The absolute floor of a grad.* tensor's tolerance in a step: 1e-8 * sum|dy| * span /
 * numel(expected grad) (0 without dy). */
double qn_grad_floor(const qn_step *expected, const qn_tensor *grad, int64_t span);
/*
 * Compares a produced tensor with the expected one under FORMAT.md's rules for
 * a tensor called `name` (grad.* tolerances, the share of y and dx elements
 * allowed past tolerance). Returns true when they match; *exact says whether
 * bit for bit (equal values, nan matching nan). On a mismatch msg gets one line.
 */
bool qn_compare_tensor(const char *name, const qp_tensor *expected, const qp_tensor *got,
                       double grad_floor, bool *exact, char *msg, size_t cap);

#endif
