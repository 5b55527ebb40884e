/*
 * sepstack.c - a residual stack whose blocks call two separate nn.ReLU
 * modules and change channel count at random (through a projection conv),
 * recorded through the qprep tracer: a graph of another layout than
 * resstack.c's, at any size, for the benchmark.
 *
 * The channels are drawn as Python's random.choice([4, 8, ..., 512]) after
 * random.seed(seed) draws them (MT19937 seeded by init_by_array with the
 * seed's 32-bit words, a 4-bit draw rejected when >= 8), so a generator
 * script and this one make the same model from the same seed.
 */
#include "sepstack.h"
#include "record.h"

#include <stdio.h>

/* ==== Python's random: MT19937 ==== */

enum { MT_N = 624, MT_M = 397 };

typedef struct mt {
    uint32_t s[MT_N];
    int i;
} mt;

static void
mt_init(mt *m, uint32_t seed)
{
    m->s[0] = seed;
    for (int i = 1; i < MT_N; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
    m->i = MT_N;
}

/* random.seed(n) for a non-negative integer n: init_by_array of its 32-bit words */
static void
mt_seed(mt *m, uint64_t n)
{
    uint32_t key[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
    int len = key[1] ? 2 : 1;
    mt_init(m, 19650218u);
    int i = 1, j = 0;
    for (int k = MT_N > len ? MT_N : len; k; k--) {
        m->s[i] =
            (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        if (++i >= MT_N)
            m->s[0] = m->s[MT_N - 1], i = 1;
        if (++j >= len)
            j = 0;
    }
    for (int k = MT_N - 1; k; k--) {
        m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        if (++i >= MT_N)
            m->s[0] = m->s[MT_N - 1], i = 1;
    }
    m->s[0] = 0x80000000u;
    m->i = MT_N;
}

static uint32_t
mt_next(mt *m)
{
    if (m->i >= MT_N) {
        for (int k = 0; k < MT_N; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % MT_N] & 0x7fffffffu);
            m->s[k] = m->s[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* random.choice of 8 items: getrandbits(4) (the top 4 bits of a word) until below 8 */
static int64_t
draw_channels(mt *m)
{
    uint32_t r;
    do
        r = mt_next(m) >> 28;
    while (r >= 8);
    return (int64_t)4 << r; /* [4, 8, 16, 32, 64, 128, 256, 512][r] */
}

/* ==== the model ==== */

/* "layers.I.name" into buf */
static const char *
path_of(char *buf, size_t cap, uint32_t block, const char *name)
{
    snprintf(buf, cap, "layers.%lu.%s", (unsigned long)block, name);
    return buf;
}

static qp_node
call(rec *r, uint32_t block, const char *name, qp_node x)
{
    char path[48];
    return rec_call(r, path_of(path, sizeof path, block, name), x);
}

uint32_t
qp_example_sepstack_blocks(uint64_t nodes)
{
    uint64_t b = nodes > 11 ? (nodes - 3) / 8 : 1;
    return b > UINT32_MAX / 9 ? UINT32_MAX / 9 : (uint32_t)b;
}

qp_status
qp_example_trace_sepstack(qp_tracer *t, uint32_t blocks, uint64_t seed)
{
    if (!t)
        return QP_ERR_NULL_ARG;
    if (blocks == 0 || blocks > UINT32_MAX / 9)
        return QP_ERR_INVALID_ARG;
    rec r = rec_begin(t);
    char path[48];
    mt m;
    /* construction: the channels are drawn block by block (one ahead, for the projection) */
    mt_seed(&m, seed);
    int64_t c = draw_channels(&m);
    rec_conv2d(&r, "stem", 3, c, 3, 1, 1);
    for (uint32_t i = 0; i < blocks && !r.st; i++) {
        int64_t next = i + 1 < blocks ? draw_channels(&m) : c;
        rec_conv2d(&r, path_of(path, sizeof path, i, "conv1"), c, c, 3, 1, 1);
        rec_batchnorm2d(&r, path_of(path, sizeof path, i, "bn1"), c);
        rec_relu(&r, path_of(path, sizeof path, i, "relu1"));
        rec_conv2d(&r, path_of(path, sizeof path, i, "conv2"), c, c, 3, 1, 1);
        rec_batchnorm2d(&r, path_of(path, sizeof path, i, "bn2"), c);
        rec_relu(&r, path_of(path, sizeof path, i, "relu2"));
        if (next != c)
            rec_conv2d(&r, path_of(path, sizeof path, i, "proj"), c, next, 3, 1, 1);
        c = next;
    }
    /* the forward pass: the same draws again tell where the projections are */
    mt_seed(&m, seed);
    c = draw_channels(&m);
    qp_node x = QP_NULL_NODE;
    rec_ok(&r, qp_tracer_placeholder(t, "x", QP_NULL_VAL, &x));
    x = rec_call(&r, "stem", x);
    for (uint32_t i = 0; i < blocks && !r.st; i++) {
        int64_t next = i + 1 < blocks ? draw_channels(&m) : c;
        qp_node out = call(&r, i, "conv1", x);
        out = call(&r, i, "bn1", out);
        out = call(&r, i, "relu1", out);
        out = call(&r, i, "conv2", out);
        out = call(&r, i, "bn2", out);
        qp_val sum[2] = {rec_node(&r, out), rec_node(&r, x)};
        out = rec_call_function(&r, "operator.add", 2, sum);
        x = call(&r, i, "relu2", out);
        if (next != c)
            x = call(&r, i, "proj", x);
        c = next;
    }
    qp_val result = rec_node(&r, x);
    if (!r.st)
        rec_ok(&r, qp_tracer_output(t, result));
    return r.st;
}
