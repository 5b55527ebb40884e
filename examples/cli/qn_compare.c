/*
 * qn_compare.c - FORMAT.md's comparison of a produced tensor with the one a
 * case recorded, as qnum.py's compare_tensor judges it (the same tolerances,
 * in double, on the float32 values).
 */
#include "qn.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define RTOL 1e-5       /* y, dx, state.*: per element, relative */
#define RTOL_GRAD 1e-4  /* grad.*: sums over many elements in any order */
#define FLIP_SHARE 0.01 /* y, dx: share of elements allowed past tolerance (at least one) */

/* An integer after "KEY: " in s, as qnum.py's regex `KEY: (-?\d+)` finds it. */
static bool
find_int(const char *s, const char *key, int64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = strstr(s, key); p; p = strstr(p + 1, key)) {
        const char *q = p + kl;
        bool neg = *q == '-';
        if (neg)
            q++;
        if (*q < '0' || *q > '9')
            continue;
        int64_t v = 0;
        for (; *q >= '0' && *q <= '9' && v < INT64_MAX / 10 - 9; q++)
            v = v * 10 + (*q - '0');
        *out = neg ? -v : v;
        return true;
    }
    return false;
}

int64_t
qn_grid_span(const qn_case *c)
{
    for (uint32_t i = 0; i < c->nhead; i++) {
        const char *t = c->head[i].text;
        int64_t lo, hi;
        if (!strncmp(t, "module q ", 9) && find_int(t, "quant_min: ", &lo) &&
            find_int(t, "quant_max: ", &hi))
            return hi - lo + 1;
    }
    return 256;
}

double
qn_grad_floor(const qn_step *expected, const qn_tensor *grad, int64_t span)
{
    const qn_tensor *dy = qn_step_find(expected, "dy");
    if (!dy || dy->t.dtype != QP_DT_F32)
        return 0;
    double sum = 0;
    const float *d = dy->t.data;
    for (size_t i = 0; i < dy->t.numel; i++)
        if (isfinite(d[i]))
            sum += fabs((double)d[i]);
    size_t n = grad->t.numel ? grad->t.numel : 1;
    return 1e-8 * sum * (double)span / (double)n;
}

static int64_t
int_at(const qp_tensor *t, size_t i)
{
    switch (t->dtype) {
    case QP_DT_I32:
        return ((const int32_t *)t->data)[i];
    case QP_DT_I64:
        return ((const int64_t *)t->data)[i];
    default:
        return ((const uint8_t *)t->data)[i];
    }
}

static void
shape_str(const qp_tensor *t, char *b, size_t cap)
{
    size_t k = (size_t)snprintf(b, cap, "%s (", qn_kind_name(t->dtype));
    for (uint32_t d = 0; d < t->ndim && k < cap; d++)
        k += (size_t)snprintf(b + k, cap - k, d ? ", %" PRId64 : "%" PRId64, t->shape[d]);
    if (k < cap)
        snprintf(b + k, cap - k, t->ndim == 1 ? ",)" : ")");
}

/* qnum.py's _close: nan only matches nan, an infinity only itself */
static bool
close_to(double a, double b, double rtol, double atol)
{
    if (isnan(b))
        return isnan(a);
    if (isinf(a) || isinf(b))
        return a == b;
    return fabs(a - b) <= rtol * fabs(b) + atol;
}

bool
qn_compare_tensor(const char *name, const qp_tensor *expected, const qp_tensor *got,
                  double grad_floor, bool *exact, char *msg, size_t cap)
{
    *exact = false;
    bool same_shape = expected->dtype == got->dtype && expected->ndim == got->ndim &&
                      expected->numel == got->numel;
    for (uint32_t d = 0; same_shape && d < expected->ndim; d++)
        same_shape = expected->shape[d] == got->shape[d];
    if (!same_shape) {
        char e[160], g[160];
        shape_str(expected, e, sizeof e);
        shape_str(got, g, sizeof g);
        snprintf(msg, cap, "%s: expected %s, got %s", name, e, g);
        return false;
    }
    size_t n = expected->numel;
    if (expected->dtype != QP_DT_F32) {
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < n; i++)
            if (int_at(expected, i) != int_at(got, i) && !bad++)
                first = i;
        if (bad) {
            snprintf(msg, cap,
                     "%s: %zu of %zu values differ (first at %zu: expected %" PRId64
                     ", got %" PRId64 ")",
                     name, bad, n, first, int_at(expected, first), int_at(got, first));
            return false;
        }
        *exact = true;
        return true;
    }
    const float *e = expected->data, *g = got->data;
    bool same = true;
    double scale = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(e[i] == g[i] || (isnan(e[i]) && isnan(g[i]))))
            same = false;
        if (isfinite(e[i]) && fabs((double)e[i]) > scale)
            scale = fabs((double)e[i]);
    }
    if (same) {
        *exact = true;
        return true;
    }
    bool grad = !strncmp(name, "grad.", 5);
    double rtol = grad ? RTOL_GRAD : RTOL;
    double atol = grad ? fmax(1e-6 * scale, grad_floor) : 1e-7 * scale;
    size_t allowed = 0, bad = 0, first = 0;
    if (!strcmp(name, "y") || !strcmp(name, "dx")) {
        allowed = (size_t)(FLIP_SHARE * (double)n);
        if (allowed < 1)
            allowed = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!close_to((double)g[i], (double)e[i], rtol, atol) && !bad++)
            first = i;
    if (bad > allowed) {
        char eb[32], gb[32];
        qn_fmt_double((double)e[first], eb);
        qn_fmt_double((double)g[first], gb);
        snprintf(msg, cap,
                 "%s: %zu of %zu values past tolerance (first at %zu: expected %s, "
                 "got %s)",
                 name, bad, n, first, eb, gb);
        return false;
    }
    return true;
}
