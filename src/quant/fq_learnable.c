/*
 * fq_learnable.c - LearnableFakeQuantize (LSQ, mqbench/fake_quantize/lsq.py):
 * scale and zero point are parameters. With the observer on they are
 * overwritten by its qparams at every call; with it off the scale is kept
 * at |scale| >= eps. Fake quantization is ATen's
 * _fake_quantize_learnable_per_{tensor,channel}_affine, whose backward gives
 * the scale and zero-point gradients scaled by grad_factor.
 *
 * Arithmetic at ties as FORMAT.md (numerics) states it: the forward rounds
 * x * inv and adds the zero point; the backward rounds the fused x * inv + zp.
 */
#include "qint.h"
#include "tsum.h"

#include <math.h>
#include <string.h>

enum { SCALE, ZP, EPS };

static qp_status
init(qp_quant *q)
{
    static const int64_t one[1] = {1};
    uint8_t pc = q->a.ch_axis >= 0 ? QP__QS_PERCH : 0;
    qp_status rc;
    if ((rc = qp__qs_add(q, "scale", QP_DT_F32, QP__QS_PARAM | pc, 1, one, &q->ix[SCALE])) ||
        (rc = qp__qs_add(q, "zero_point", QP_DT_F32, QP__QS_PARAM | pc, 1, one, &q->ix[ZP])) ||
        (rc = qp__qs_add(q, "eps", QP_DT_F32, 0, 1, one, &q->ix[EPS])))
        return rc;
    qp__qs_f32(q, q->ix[SCALE])[0] = (float)(q->a.has_scale ? q->a.scale : 1.0);
    qp__qs_f32(q, q->ix[ZP])[0] = (float)(q->a.has_zero_point ? q->a.zero_point : 0.0);
    qp__qs_f32(q, q->ix[EPS])[0] = (float)q->a.eps;
    return QP_OK;
}

/* The scale's and zero point's length must be the channel count (per tensor: 1). */
static qp_status
check_len(qp_quant *q, size_t C)
{
    size_t ns = q->st[q->ix[SCALE]].numel, nz = q->st[q->ix[ZP]].numel;
    if (ns != C || nz != C)
        return qp__qerr(q, QP_ERR_INVALID_ARG,
                        "scale holds %zu and zero_point %zu values, x has "
                        "%zu channels on axis %d: calibrate first or load a matching state",
                        ns, nz, C, q->a.ch_axis);
    return QP_OK;
}

/* The zero point the forward uses, channel c: nearbyint, clamped. */
static float
zp_fwd(const qp_quant *q, float z)
{
    float r = nearbyintf(z);
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    return r < lo ? lo : r > hi ? hi : r;
}

/* Per tensor, ATen's backward takes (int64)clamp(zp + 0.5f) instead. */
static float
zp_bwd(const qp_quant *q, float z)
{
    if (q->a.ch_axis >= 0)
        return zp_fwd(q, z);
    float r = z + 0.5f;
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    r = r < lo ? lo : r > hi ? hi : r;
    return truncf(r);
}

static qp_status
forward(qp_quant *q, const float *x, float *y, const struct qp__shape *s)
{
    size_t C = s->C;
    qp_status rc;
    if (q->obs_on) {
        /* everything that can fail before anything changes */
        float small[64];
        int32_t zsmall[64];
        float *sc = C <= 64 ? small : qp__qalloc(q, C * sizeof *sc);
        int32_t *zp = C <= 64 ? zsmall : qp__qalloc(q, C * sizeof *zp);
        rc = !sc || !zp ? qp__qerr(q, QP_ERR_NOMEM, "out of memory") : QP_OK;
        if (!rc && !(rc = qp__qs_reserve(q, q->ix[SCALE], C)) &&
            !(rc = qp__qs_reserve(q, q->ix[ZP], C)) && !(rc = qp__observe(q, x, s)) &&
            !(rc = qp__obs_qparams(q, sc, zp, C))) {
            int64_t shape[1] = {(int64_t)C};
            qp__qs_reshape(q, q->ix[SCALE], 1, shape);
            qp__qs_reshape(q, q->ix[ZP], 1, shape);
            float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
            for (size_t c = 0; c < C; c++) {
                S[c] = sc[c];
                Z[c] = (float)zp[c];
            }
        }
        if (sc && sc != small)
            qp__qfree(q, sc, C * sizeof *sc);
        if (zp && zp != zsmall)
            qp__qfree(q, zp, C * sizeof *zp);
        if (rc)
            return rc;
    } else {
        float *S = qp__qs_f32(q, q->ix[SCALE]);
        float eps = qp__qs_f32(q, q->ix[EPS])[0];
        for (size_t c = 0; c < q->st[q->ix[SCALE]].numel; c++) {
            float a = fabsf(S[c]);
            S[c] = a < eps ? eps : a;
        }
    }
    if (!q->fq_on) {
        if (y != x)
            memmove(y, x, s->numel * sizeof *y);
        return QP_OK;
    }
    if ((rc = check_len(q, C)))
        return rc;
    float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max;
    for (size_t c = 0; c < C; c++) /* in place, as MQBench's zero_()/clamp_() */
        Z[c] = q->a.symmetric ? 0.0f : Z[c] < lo ? lo : Z[c] > hi ? hi : Z[c];
    for (size_t o = 0; o < s->outer; o++)
        for (size_t c = 0; c < C; c++) {
            size_t off = (o * C + c) * s->inner;
            float sc = S[c], inv = 1.0f / sc, z = zp_fwd(q, Z[c]);
            const float *xp = x + off;
            float *yp = y + off;
            for (size_t i = 0; i < s->inner; i++) {
                float v = z + nearbyintf(xp[i] * inv);
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                yp[i] = (v - z) * sc;
            }
        }
    return QP_OK;
}

/* grad_factor as MQBench computes it in Python (double, ** 0.5), then as ATen's float. */
static float
grad_factor(const qp_quant *q, const struct qp__shape *s)
{
    if (!q->a.use_grad_scaling)
        return 1.0f;
    double n = q->a.ch_axis >= 0 ? (double)s->numel / (double)s->C : (double)s->numel;
    return (float)(1.0 / pow(n * (double)q->a.quant_max, 0.5));
}

/* One channel's constants of the backward. */
struct bctx {
    float sc, inv, z, lo, hi, dsmall, dbig, gf;
};

/* ATen's terms for n elements of one channel: dx, and the scale and zero-point
 * terms into ts and tz. */
static void
terms(const struct bctx *b, const float *x, const float *dy, float *dx, size_t n, float *ts,
      float *tz)
{
    if (b->z == 0.0f) {
        /* Zero point 0 (every symmetric quantizer): both fused sums are exact in
         * double (x * inv is a product of two floats; (xq - 0) * sc lies within a
         * factor of two of x, or is 0), so rounding the double once to float is
         * fmaf's result, in a loop the compiler vectorizes (fmaf is a call). */
        double sc = b->sc, inv = b->inv;
        for (size_t i = 0; i < n; i++) {
            float xi = x[i], d = dy[i];
            float xq = nearbyintf((float)((double)xi * inv));
            bool out = xq < b->lo || xq > b->hi;
            float in_s = d * (float)((double)xq * sc - (double)xi) * b->inv * b->gf;
            float out_s = d * (xq < b->lo ? b->dsmall : b->dbig) * b->gf;
            ts[i] = out ? out_s : in_s;
            tz[i] = out ? d * -1.0f * b->sc * b->gf : 0.0f;
            dx[i] = out ? 0.0f : d;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float xi = x[i], d = dy[i];
        float xq = nearbyintf(fmaf(xi, b->inv, b->z));
        if (xq < b->lo || xq > b->hi) {
            ts[i] = d * (xq < b->lo ? b->dsmall : b->dbig) * b->gf;
            tz[i] = d * -1.0f * b->sc * b->gf;
            dx[i] = 0.0f;
        } else {
            ts[i] = d * fmaf(xq - b->z, b->sc, -xi) * b->inv * b->gf;
            tz[i] = 0.0f;
            dx[i] = d;
        }
    }
}

static int
ceil_log2(size_t x)
{
    int r = 0;
    if (x <= 2)
        return 1;
    for (size_t v = x - 1; v; v >>= 1)
        r++;
    return r;
}

enum { BLK = 32, CHUNK_MAX = 1024 }; /* a multi_row element: 4 rows of 8 lanes */

/*
 * The two sums (scale terms, zero-point terms) of one contiguous row of n
 * elements, in torch.sum's order (tsum.c's contiguous row: 8-lane vectors, four
 * rows interleaved, four cascade levels, then leftover vectors, the scalar tail
 * and the lanes), with the terms made chunk by chunk into buf (2 * CHUNK_MAX
 * * BLK floats) instead of a tensor as large as x. dx is written on the way.
 */
static void
row_sums(const struct bctx *b, const float *x, const float *dy, float *dx, size_t n, float *buf,
         float out[2])
{
    float *bs = buf, *bz = buf + CHUNK_MAX * BLK;
    if (n < 8) {
        terms(b, x, dy, dx, n, bs, bz);
        out[0] = qp__tsum_row(bs, n);
        out[1] = qp__tsum_row(bz, n);
        return;
    }
    size_t nv = n / 8, nilp = nv / 4;
    int lp = ceil_log2(nilp) / 4;
    lp = lp > 4 ? lp : 4;
    size_t step = (size_t)1 << lp, mask = step - 1;
    float acc[2][4][BLK];
    memset(acc, 0, sizeof acc);
    size_t i = 0;
    while (i + step <= nilp) {
        /* step blocks, made at most CHUNK_MAX at a time (step > CHUNK_MAX only
         * past 2^42 elements) */
        for (size_t j0 = 0; j0 < step; j0 += CHUNK_MAX) {
            size_t m = step - j0 < CHUNK_MAX ? step - j0 : CHUNK_MAX;
            size_t e = (i + j0) * BLK;
            terms(b, x + e, dy + e, dx + e, m * BLK, bs, bz);
            for (size_t j = 0; j < m; j++)
                for (size_t t = 0; t < BLK; t++) {
                    acc[0][0][t] += bs[j * BLK + t];
                    acc[1][0][t] += bz[j * BLK + t];
                }
        }
        i += step;
        for (int j = 1; j < 4; j++) {
            for (size_t t = 0; t < BLK; t++) {
                acc[0][j][t] += acc[0][j - 1][t];
                acc[0][j - 1][t] = 0.0f;
                acc[1][j][t] += acc[1][j - 1][t];
                acc[1][j - 1][t] = 0.0f;
            }
            if ((i & (mask << (j * lp))) != 0)
                break;
        }
    }
    if (i < nilp) { /* fewer than step blocks left: < CHUNK_MAX */
        size_t m = nilp - i, e = i * BLK;
        terms(b, x + e, dy + e, dx + e, m * BLK, bs, bz);
        for (size_t j = 0; j < m; j++)
            for (size_t t = 0; t < BLK; t++) {
                acc[0][0][t] += bs[j * BLK + t];
                acc[1][0][t] += bz[j * BLK + t];
            }
    }
    for (int s = 0; s < 2; s++) {
        for (int j = 1; j < 4; j++)
            for (size_t t = 0; t < BLK; t++)
                acc[s][0][t] += acc[s][j][t];
    }
    /* the leftover vectors (fewer than 4) and the scalar tail */
    size_t e = nilp * 4 * 8, rest = n - e;
    terms(b, x + e, dy + e, dx + e, rest, bs, bz);
    for (int s = 0; s < 2; s++) {
        float *part = acc[s][0];
        const float *tv = s ? bz : bs;
        for (size_t v = 0; v < nv - nilp * 4; v++)
            for (size_t l = 0; l < 8; l++)
                part[l] += tv[v * 8 + l];
        for (int k = 1; k < 4; k++)
            for (int l = 0; l < 8; l++)
                part[l] += part[k * 8 + l];
        float r = 0.0f;
        for (size_t k = (nv - nilp * 4) * 8; k < rest; k++)
            r += tv[k];
        for (int l = 0; l < 8; l++)
            r += part[l];
        out[s] = 0.0f + r;
    }
}

/*
 * ATen writes each element's scale and zero-point terms to two tensors and sums
 * them with torch.sum (over everything, or every dimension but the channel
 * one); the sums here add the same terms in the same order (tsum.h), so the
 * gradients are MQBench's to the bit, without tensors as large as x.
 */
static qp_status
backward(qp_quant *q, const float *x, const float *dy, float *dx, const struct qp__shape *s)
{
    size_t C = s->C, n = s->numel;
    qp_status rc = check_len(q, C);
    if (rc)
        return rc;
    /* the channel axis last (rows of one element): torch reduces across rows, so
     * the terms are laid out whole first */
    bool whole = C > 1 && s->inner == 1;
    size_t nbuf = whole ? 2 * n : 2 * (size_t)CHUNK_MAX * BLK;
    float *buf = qp__qalloc(q, nbuf * sizeof *buf);
    float *sums = whole ? qp__qalloc(q, 2 * C * sizeof *sums) : NULL;
    if (!buf || (whole && !sums)) {
        qp__qfree(q, buf, buf ? nbuf * sizeof *buf : 0);
        qp__qfree(q, sums, sums ? 2 * C * sizeof *sums : 0);
        return qp__qerr(q, QP_ERR_NOMEM, "out of memory for the backward's gradient terms");
    }
    const float *S = qp__qs_f32(q, q->ix[SCALE]), *Z = qp__qs_f32(q, q->ix[ZP]);
    float *gS = q->st[q->ix[SCALE]].grad, *gZ = q->st[q->ix[ZP]].grad;
    float lo = (float)q->a.quant_min, hi = (float)q->a.quant_max, gf = grad_factor(q, s);
    for (size_t c = 0; c < C; c++) {
        struct bctx b;
        b.sc = S[c];
        b.inv = 1.0f / b.sc;
        b.z = zp_bwd(q, Z[c]);
        b.lo = lo;
        b.hi = hi;
        b.dsmall = lo - b.z;
        b.dbig = hi - b.z;
        b.gf = gf;
        if (whole) {
            for (size_t o = 0; o < s->outer; o++) {
                size_t off = o * C + c;
                terms(&b, x + off, dy + off, dx + off, 1, buf + off, buf + n + off);
            }
            continue;
        }
        if (C == 1) { /* one contiguous row: the whole tensor */
            float r[2];
            row_sums(&b, x, dy, dx, n, buf, r);
            gS[0] += r[0];
            gZ[0] += r[1];
            continue;
        }
        float accs = 0.0f, accz = 0.0f; /* rows of inner, added into the output in turn */
        for (size_t o = 0; o < s->outer; o++) {
            size_t off = (o * C + c) * s->inner;
            float r[2];
            row_sums(&b, x + off, dy + off, dx + off, s->inner, buf, r);
            accs += r[0];
            accz += r[1];
        }
        gS[c] += accs;
        gZ[c] += accz;
    }
    if (whole) {
        qp__tsum_perch(buf, s->outer, C, 1, sums);
        qp__tsum_perch(buf + n, s->outer, C, 1, sums + C);
        for (size_t c = 0; c < C; c++) {
            gS[c] += sums[c];
            gZ[c] += sums[C + c];
        }
        qp__qfree(q, sums, 2 * C * sizeof *sums);
    }
    qp__qfree(q, buf, nbuf * sizeof *buf);
    return QP_OK;
}

const struct qp__fq_ops qp__fq_learnable = {QP_FQ_LEARNABLE, init, forward, backward};
