/*
 * pot_search.c - the power-of-two grid of Vitis' quantizers (pot_search.h):
 * TQT's rounding, and the exponent search of MinMaxFloorObserver and
 * PoTModeObserver (mqbench/observer.py), in float32 as torch computes them.
 *
 * MQBench computes a few of these steps with Python numbers; the float32
 * results here are the same (powers of two are exact; a double out of float
 * range becomes inf in both). Where Python raises (int() of an infinite or nan
 * exponent, min_val > max_val, no input seen), the calls fail instead.
 */
#include "pot_search.h"

#include "tsum.h"

#include <math.h>
#include <string.h>

float
qp__pot_exponent(float scale)
{
    if (scale < 0x1p-15f)
        return 0.0f;
    return floorf(log2f(1.0f / scale));
}

void
qp__pot_grid(const float *x, float *y, size_t n, float step, float lo, float hi, bool half_even)
{
    /* step is a power of two (or inf): x * (1 / step) is x / step exactly */
    const float inv = 1.0f / step;
    if (half_even) {
        /* (round(t) - t) + t is round(t) exactly; then the clamp */
        for (size_t i = 0; i < n; i++) {
            float r = nearbyintf(x[i] * inv);
            r = r < lo ? lo : r;
            r = r > hi ? hi : r;
            y[i] = r * step;
        }
    } else {
        /* clamp first; a negative tie goes up (ceil), others to even */
        for (size_t i = 0; i < n; i++) {
            float t = x[i] * inv;
            t = t < lo ? lo : t;
            t = t > hi ? hi : t;
            float r = qp__pot_round_negup(t);
            y[i] = r * step;
        }
    }
}

/* The squared error of x on the grid, ((grid(x) - x) ** 2).sum() as torch
 * computes it: squares in float (overflowing to inf as torch's do) into
 * tmp, then torch's float sum of them. */
static float
grid_loss(const float *x, float *tmp, size_t n, float step, float lo, float hi, bool half_even)
{
    qp__pot_grid(x, tmp, n, step, lo, hi, half_even);
    for (size_t i = 0; i < n; i++) {
        float d = tmp[i] - x[i];
        tmp[i] = d * d;
    }
    return qp__tsum_row(tmp, n);
}

/* a / b for b an integer bound that may be 0 (IEEE's inf or nan, spelled out). */
static float
div_bound(float a, int64_t b)
{
    if (b != 0)
        return a / (float)b;
    return a > 0.0f ? INFINITY : a < 0.0f ? -INFINITY : NAN;
}

/* ==== the observers' common part ==== */

static struct qp__potobs *
priv(qp_quant *q)
{
    return (struct qp__potobs *)q->obs_priv;
}

qp_status
qp__potobs_init(qp_quant *q)
{
    qp_status rc = qp__obs_base_init(q);
    if (rc)
        return rc;
    struct qp__potobs *p = qp__qalloc(q, sizeof *p);
    if (!p)
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory");
    memset(p, 0, sizeof *p);
    q->obs_priv = p;
    q->obs_priv_size = sizeof *p;
    return QP_OK;
}

qp_status
qp__potobs_observe(qp_quant *q, const float *x, const struct qp__shape *s)
{
    struct qp__potobs *p = priv(q);
    size_t n = s->numel;
    if (n > p->cap) { /* grow the block before anything changes */
        if (n > (SIZE_MAX - sizeof *p) / (2 * sizeof(float)))
            return qp__qerr(q, QP_ERR_LIMIT, "x is too large to keep");
        size_t sz = sizeof *p + 2 * n * sizeof(float); /* x, then the search's scratch */
        struct qp__potobs *np = qp__qalloc(q, sz);
        if (!np)
            return qp__qerr(q, QP_ERR_NOMEM, "out of memory keeping the observed input");
        memcpy(np, p, sizeof *p);
        np->cap = n;
        qp__qfree(q, p, q->obs_priv_size);
        q->obs_priv = p = np;
        q->obs_priv_size = sz;
    }
    /* torch.aminmax over the whole tensor; MQBench only warns for per channel */
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    /* min_val / max_val stay scalars (a per-channel scheme registered them so) */
    int64_t none[1] = {0};
    qp__qs_reshape(q, q->obs_min, 0, none);
    qp__qs_reshape(q, q->obs_max, 0, none);
    qp__qs_f32(q, q->obs_min)[0] = mn;
    qp__qs_f32(q, q->obs_max)[0] = mx;
    memmove(p->x, x, n * sizeof *x);
    p->n = n;
    return QP_OK;
}

qp_status
qp__potobs_search(qp_quant *q, int *exp, bool *won, float *base)
{
    const struct qp__qargs *a = &q->a;
    const char *kind = qp_obs_kind_name(a->obs);
    struct qp__potobs *p = priv(q);
    if (a->quant_type < 1 || a->quant_type > 3)
        return qp__qerr(q, QP_ERR_INVALID_CONFIG,
                        "%s needs a quant_type (\"param\", \"tensor\" or \"input\"): "
                        "MQBench raises 'You should set the observer type before forward!'",
                        kind);
    if (q->st[q->obs_min].numel != 1 || q->st[q->obs_max].numel != 1)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "%s: activation_post_process.min_val / max_val hold %zu / %zu "
                        "values, one wanted",
                        kind, q->st[q->obs_min].numel, q->st[q->obs_max].numel);
    float mn = qp__qs_f32(q, q->obs_min)[0], mx = qp__qs_f32(q, q->obs_max)[0];
    /* torch's _calculate_qparams first: its checks, and its scale * 0 (nan if inf) */
    float tb = 0.0f;
    if (!(mn == INFINITY && mx == -INFINITY)) {
        if (!(mn <= mx))
            return qp__qerr(q, QP_ERR_INVALID_ARG,
                            "%s: min_val %g is not below max_val %g (torch asserts)", kind,
                            (double)mn, (double)mx);
        float neg = mn < 0.0f ? mn : 0.0f, pos = mx > 0.0f ? mx : 0.0f;
        float t = a->symmetric ? (-neg > pos ? -neg : pos) : pos - neg;
        tb = isinf(t) ? NAN : 0.0f;
    }
    float lo = div_bound(mn, a->quant_min), hi = div_bound(mx, a->quant_max);
    float sc = tb + (hi > lo ? hi : lo); /* Python's max(): the first unless the second is above */
    float e0 = qp__pot_exponent(sc);
    *base = sc * 0.0f;
    if (!isfinite(e0))
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "%s: the range [%g, %g] gives scale %g, whose power-of-two "
                        "exponent is not finite (MQBench raises in int())",
                        kind, (double)mn, (double)mx, (double)sc);
    if (p->n == 0)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "%s: calculate_qparams before any input was observed", kind);
    int first = (int)e0, range = a->quant_type == 3 ? 1 : 5;
    bool half_even = qp__pot_half_even(q);
    float qlo = (float)a->quant_min, qhi = (float)a->quant_max, best = INFINITY;
    *exp = first;
    *won = false;
    for (int e = first; e < first + range; e++) {
        float loss = grid_loss(p->x, p->x + p->cap, p->n, ldexpf(1.0f, -e), qlo, qhi, half_even);
        if (loss < best) {
            best = loss;
            *exp = e;
            *won = true;
        }
    }
    return QP_OK;
}

qp_status
qp__potobs_result(qp_quant *q, int e, float base, float *scale, int32_t *zero_point, size_t n)
{
    const struct qp__qargs *a = &q->a;
    float sc = base + ldexpf(1.0f, -e), zp = 0.0f;
    float mn = qp__qs_f32(q, q->obs_min)[0];
    if (!a->symmetric && mn >= 0.0f) {
        zp = (float)a->quant_min - nearbyintf(mn / sc);
        if (!(zp >= -0x1p31f && zp < 0x1p31f))
            return qp__qerr(q, QP_ERR_INVALID_ARG,
                            "%s: zero point %g (min_val %g, scale %g) is out of int32 range",
                            qp_obs_kind_name(a->obs), (double)zp, (double)mn, (double)sc);
    }
    for (size_t c = 0; c < n; c++) {
        scale[c] = sc;
        zero_point[c] = (int32_t)zp;
    }
    return QP_OK;
}
