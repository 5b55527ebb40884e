/*
 * test_quant_adaround_qdrop.c - what the numerics cases do not cover of DSQ,
 * DoReFa, PACT, AdaRound and QDrop:
 * - AdaRound and QDrop as MQBench runs them before any reconstruction, DoReFa
 *   and PACT backpropagating with fake quantization off, and channel axis 1,
 *   against data/quant/adaround_qdrop.qn: cases recorded from MQBench's own
 *   classes on torch 1.13 by data/quant/gen_adaround_qdrop.py, in the numerics
 *   format (FORMAT.md), replayed step by step from the state recorded before;
 * - DSQ's and DoReFa's tanh against torch.tanh (data/quant/tanh_torch.txt);
 * - where MQBench itself fails (QDrop's per-channel zero point that torch
 *   cannot broadcast, PACT fake-quantizing per channel): an error, no change;
 * - non-finite data, and every allocation failing in turn.
 */
#include "testlib.h"

#include <math.h>
#include <qprep/quant.h>

#include "quant/tanh_aten.h"

#define MAXT 24

struct tens {
    char name[80];
    qp_dtype dtype;
    uint32_t ndim;
    int64_t shape[QP_QUANT_MAX_DIMS];
    size_t numel;
    double *v;
};

struct step {
    bool obs, fq;
    double lr; /* 0: none */
    struct tens t[MAXT];
    int n;
};

static void
tens_free(struct step *s)
{
    for (int i = 0; i < s->n; i++)
        test_free(s->t[i].v);
    s->n = 0;
}

static const struct tens *
find(const struct step *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name))
            return &s->t[i];
    return NULL;
}

/* "tensor NAME KIND (SHAPE) [VALUES]" */
static void
parse_tensor(const char *line, struct tens *t)
{
    char kind[8];
    int used = 0;
    assert_int_equal(sscanf(line, "tensor %79s %7s (%n", t->name, kind, &used), 2);
    static const char *const kinds[] = {"f32", "i32", "i64", "u8", "bool"};
    int k = 0;
    while (k < 5 && strcmp(kind, kinds[k]))
        k++;
    assert_true(k < 5);
    t->dtype = (qp_dtype)k;
    const char *p = line + used;
    t->ndim = 0;
    t->numel = 1;
    while (*p != ')') {
        char *end;
        long long d = strtoll(p, &end, 10);
        assert_true(end != p && t->ndim < QP_QUANT_MAX_DIMS);
        t->shape[t->ndim++] = d;
        t->numel *= (size_t)d;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    p = strchr(p, '[');
    assert_non_null(p);
    p++;
    t->v = test_malloc((t->numel ? t->numel : 1) * sizeof *t->v);
    for (size_t i = 0; i < t->numel; i++) {
        char *end;
        t->v[i] = strtod(p, &end);
        assert_true(end != p);
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    assert_int_equal(*p, ']');
}

/* Float tensors as FORMAT.md compares them (bit for bit is counted); ints exactly. */
static void
check(const char *what, const struct tens *e, const void *data, qp_dtype dt, size_t numel,
      bool grad, int *exact)
{
    if (dt != e->dtype || numel != e->numel)
        fail_msg("%s: %s dtype %d numel %zu, expected %d %zu", what, e->name, (int)dt, numel,
                 (int)e->dtype, e->numel);
    double mx = 0.0;
    for (size_t i = 0; i < numel; i++)
        mx = fabs(e->v[i]) > mx ? fabs(e->v[i]) : mx;
    for (size_t i = 0; i < numel; i++) {
        double g = dt == QP_DT_F32   ? (double)((const float *)data)[i]
                   : dt == QP_DT_I32 ? (double)((const int32_t *)data)[i]
                   : dt == QP_DT_I64 ? (double)((const int64_t *)data)[i]
                                     : (double)((const uint8_t *)data)[i];
        if (g == e->v[i] || (isnan(g) && isnan(e->v[i])))
            continue;
        *exact = 0;
        double tol = dt != QP_DT_F32 ? 0.0
                     : grad          ? 1e-4 * fabs(e->v[i]) + 1e-6 * mx
                                     : 1e-5 * fabs(e->v[i]) + 1e-7 * mx;
        if (!(fabs(g - e->v[i]) <= tol))
            fail_msg("%s: %s[%zu] = %.9g, expected %.9g", what, e->name, i, g, e->v[i]);
    }
}

static void
set_state(qp_quant *q, const struct step *prev)
{
    for (int i = 0; i < prev->n; i++) {
        const struct tens *t = &prev->t[i];
        if (strncmp(t->name, "state.", 6))
            continue;
        size_t es = t->dtype == QP_DT_I64                            ? 8
                    : t->dtype == QP_DT_F32 || t->dtype == QP_DT_I32 ? 4
                                                                     : 1;
        unsigned char *buf = test_malloc((t->numel ? t->numel : 1) * es);
        for (size_t k = 0; k < t->numel; k++) {
            if (t->dtype == QP_DT_F32)
                ((float *)buf)[k] = (float)t->v[k];
            else if (t->dtype == QP_DT_I32)
                ((int32_t *)buf)[k] = (int32_t)t->v[k];
            else if (t->dtype == QP_DT_I64)
                ((int64_t *)buf)[k] = (int64_t)t->v[k];
            else
                buf[k] = (unsigned char)t->v[k];
        }
        qp_tensor v = {t->dtype, t->ndim, {0}, t->numel, buf};
        memcpy(v.shape, t->shape, sizeof v.shape);
        qp_status rc = qp_quant_state_set(q, t->name + 6, &v);
        if (rc)
            fail_msg("state_set %s: %s", t->name, qp_quant_errmsg(q));
        test_free(buf);
    }
}

static float *
floats(const struct tens *t)
{
    float *f = test_malloc(t->numel * sizeof *f);
    for (size_t i = 0; i < t->numel; i++)
        f[i] = (float)t->v[i];
    return f;
}

/* One step from the state recorded before it; returns 1 if bit for bit. */
static int
run_step(const char *cname, int k, qp_quant *q, const struct step *prev, const struct step *st)
{
    char what[160];
    snprintf(what, sizeof what, "%s step %d", cname, k);
    int exact = 1;
    if (prev)
        set_state(q, prev);
    qp_quant_enable_observer(q, st->obs);
    qp_quant_enable_fake_quant(q, st->fq);
    const struct tens *tx = find(st, "x"), *tdy = find(st, "dy");
    assert_non_null(tx);
    float *x = floats(tx), *y = test_malloc(tx->numel * sizeof *y);
    if (qp_quant_forward(q, x, y, tx->shape, tx->ndim))
        fail_msg("%s: forward: %s", what, qp_quant_errmsg(q));
    check(what, find(st, "y"), y, QP_DT_F32, tx->numel, false, &exact);
    if (tdy) {
        float *dy = floats(tdy), *dx = test_malloc(tx->numel * sizeof *dx);
        qp_quant_zero_grad(q);
        if (qp_quant_backward(q, x, dy, dx, tx->shape, tx->ndim))
            fail_msg("%s: backward: %s", what, qp_quant_errmsg(q));
        check(what, find(st, "dx"), dx, QP_DT_F32, tx->numel, false, &exact);
        for (uint32_t i = 0; i < qp_quant_num_params(q); i++) {
            qp_quant_param p;
            assert_int_equal(qp_quant_param_at(q, i, &p), QP_OK);
            char gname[80];
            snprintf(gname, sizeof gname, "grad.%s", p.name);
            const struct tens *eg = find(st, gname);
            assert_non_null(eg);
            check(what, eg, p.grad, QP_DT_F32, p.numel, true, &exact);
            for (size_t j = 0; j < p.numel && st->lr != 0.0; j++) /* torch's add_(g, alpha=-lr) */
                p.data[j] = fmaf(p.grad[j], (float)-st->lr, p.data[j]);
        }
        test_free(dy);
        test_free(dx);
    }
    int nstate = 0;
    for (int i = 0; i < st->n; i++) {
        const struct tens *e = &st->t[i];
        if (strncmp(e->name, "state.", 6))
            continue;
        nstate++;
        qp_tensor got;
        if (qp_quant_state_get(q, e->name + 6, &got))
            fail_msg("%s: no state entry %s", what, e->name);
        assert_int_equal(got.ndim, e->ndim);
        for (uint32_t d = 0; d < e->ndim; d++)
            assert_int_equal(got.shape[d], e->shape[d]);
        check(what, e, got.data, got.dtype, got.numel, false, &exact);
    }
    assert_int_equal((uint32_t)nstate, qp_quant_num_state(q));
    test_free(x);
    test_free(y);
    return exact;
}

static void
recorded_cases_match(void **state)
{
    (void)state;
    size_t len;
    char *text = qpt_read_file("quant/adaround_qdrop.qn", &len);
    struct step steps[2];
    memset(steps, 0, sizeof steps);
    struct step *prev = NULL, *cur = NULL;
    char cname[128] = "", cfgline[2048] = "";
    qp_side side = QP_WEIGHT;
    qp_quant_opts opts = qp_quant_opts_default();
    qp_quant *q = NULL;
    int k = 0, cases = 0, exact_cases = 0, exact = 1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "case ", 5)) {
            snprintf(cname, sizeof cname, "%s", line + 5);
            opts = qp_quant_opts_default();
        } else if (!strncmp(line, "ch_axis ", 8)) {
            opts.ch_axis = atoi(line + 8);
        } else if (!strncmp(line, "role ", 5)) {
            side = !strcmp(line + 5, "weight") ? QP_WEIGHT : QP_ACT;
        } else if (!strncmp(line, "config ", 7)) {
            snprintf(cfgline, sizeof cfgline, "qcfg 1\nextra_qconfig_dict = %s\n", line + 7);
        } else if (!strncmp(line, "step ", 5) || !strcmp(line, "end")) {
            if (cur)
                exact &= run_step(cname, k, q, prev, cur);
            if (prev)
                tens_free(prev);
            prev = cur;
            if (!strcmp(line, "end")) {
                if (prev)
                    tens_free(prev);
                qp_quant_destroy(q);
                q = NULL;
                prev = cur = NULL;
                cases++;
                exact_cases += exact;
                continue;
            }
            if (!q) {
                qp_config *cfg = qpt_config(cfgline);
                qp_error err;
                if (qp_quant_create(NULL, QP_BACKEND_ACADEMIC, side, cfg, &opts, &q, &err))
                    fail_msg("%s: %s", cname, err.msg);
                qp_config_destroy(cfg);
                k = 0;
                exact = 1;
            }
            cur = prev == &steps[0] ? &steps[1] : &steps[0];
            memset(cur, 0, sizeof *cur);
            cur->obs = strstr(line, "observer: True") != NULL;
            cur->fq = strstr(line, "fake_quant: True") != NULL;
            const char *lr = strstr(line, "lr: ");
            cur->lr = lr ? strtod(lr + 4, NULL) : 0.0;
            k++;
        } else if (!strncmp(line, "tensor ", 7)) {
            assert_non_null(cur);
            assert_true(cur->n < MAXT);
            parse_tensor(line, &cur->t[cur->n++]);
        }
    }
    test_free(text);
    assert_int_equal(cases, 14);
    print_message("%d/%d recorded cases match, %d bit for bit\n", cases, cases, exact_cases);
}

static qp_quant *
make_with(const qp_allocator *al, const char *fq, const char *scheme, qp_side side, qp_status *rc)
{
    char text[1024];
    snprintf(text, sizeof text,
             "qcfg 1\nextra_qconfig_dict = {w_observer: \"MinMaxObserver\", a_observer: "
             "\"MinMaxObserver\", w_fakequantize: \"%s\", a_fakequantize: \"%s\", "
             "w_qscheme: %s, a_qscheme: %s}\n",
             fq, fq, scheme, scheme);
    qp_config *cfg = qpt_config(text);
    qp_quant *q = NULL;
    qp_error err;
    *rc = qp_quant_create(al, QP_BACKEND_ACADEMIC, side, cfg, NULL, &q, &err);
    if (*rc && *rc != QP_ERR_NOMEM)
        fail_msg("%s: %s", fq, err.msg);
    qp_config_destroy(cfg);
    return q;
}

static qp_quant *
make(const char *fq, const char *scheme, qp_side side)
{
    qp_status rc;
    qp_quant *q = make_with(NULL, fq, scheme, side, &rc);
    assert_int_equal(rc, QP_OK);
    return q;
}

/* A copy of every state entry's bytes, to see a failed call changed nothing. */
static size_t
snapshot(const qp_quant *q, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < qp_quant_num_state(q); i++) {
        const char *name;
        qp_tensor t;
        assert_int_equal(qp_quant_state_at(q, i, &name, &t), QP_OK);
        size_t es = t.dtype == QP_DT_I64 ? 8 : t.dtype == QP_DT_F32 || t.dtype == QP_DT_I32 ? 4 : 1;
        assert_true(n + t.numel * es + 8 <= cap);
        memcpy(buf + n, &t.numel, sizeof t.numel);
        n += sizeof t.numel;
        memcpy(buf + n, t.data, t.numel * es);
        n += t.numel * es;
    }
    return n;
}

static void
where_mqbench_fails_an_error_and_no_change(void **state)
{
    (void)state;
    static unsigned char a[4096], b[4096];
    float x[24], y[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i / 7.0f - 1.5f;
    const int64_t bad[4] = {3, 2, 2, 2}, good[3] = {3, 2, 4}, flat[2] = {4, 6};

    /* QDrop per channel: the zero point (3,) cannot broadcast on a last axis of 2 */
    qp_quant *q = make("QDropFakeQuantize",
                       "{bit: 4, symmetry: False, per_channel: True, pot_scale: False}", QP_WEIGHT);
    qp_quant_enable_fake_quant(q, false);
    assert_int_equal(qp_quant_forward(q, x, y, bad, 4), QP_OK); /* calibrates: 3 channels */
    qp_quant_enable_fake_quant(q, true);
    size_t na = snapshot(q, a, sizeof a);
    assert_int_equal(qp_quant_forward(q, x, y, bad, 4), QP_ERR_INVALID_ARG);
    qpt_contains(qp_quant_errmsg(q), "last axis");
    assert_int_equal(snapshot(q, b, sizeof b), na);
    assert_memory_equal(a, b, na);
    qp_quant_destroy(q);

    /* ... and on a last axis of the channel count it broadcasts there, as torch does */
    q = make("QDropFakeQuantize", "{bit: 4, symmetry: False, per_channel: True, pot_scale: False}",
             QP_WEIGHT);
    assert_int_equal(qp_quant_forward(q, x, y, good, 3), QP_ERR_INVALID_ARG); /* 3 vs 4 */
    qp_quant_destroy(q);

    /* PACT per channel: MQBench's scale.item() fails on more than one channel */
    q = make("PACTFakeQuantize", "{bit: 8, symmetry: True, per_channel: True, pot_scale: False}",
             QP_WEIGHT);
    na = snapshot(q, a, sizeof a);
    assert_int_equal(qp_quant_forward(q, x, y, flat, 2), QP_ERR_INVALID_ARG);
    qpt_contains(qp_quant_errmsg(q), "per tensor");
    assert_int_equal(snapshot(q, b, sizeof b), na);
    assert_memory_equal(a, b, na);
    qp_quant_enable_fake_quant(q, false); /* observing alone works */
    assert_int_equal(qp_quant_forward(q, x, y, flat, 2), QP_OK);
    qp_quant_destroy(q);
}

/* Non-finite and huge values with the observer off (DSQ's observer always runs,
 * and refuses them): defined results, finite where x is finite (DoReFa's
 * squash maps inf to a grid point too; the others clamp it to the grid's
 * ends), nan where x is nan. */
static void
hostile_values_give_defined_results(void **state)
{
    (void)state;
    static const char *const fqs[] = {"DoReFaFakeQuantize", "PACTFakeQuantize",
                                      "AdaRoundFakeQuantize", "QDropFakeQuantize"};
    const int64_t shape[2] = {2, 4}, calib[2] = {2, 4};
    float c[8] = {-1.0f, 0.5f, 2.0f, -0.25f, 1.5f, -2.0f, 0.0f, 0.75f};
    float x[8] = {INFINITY, -INFINITY, NAN, 3e38f, -3e38f, 1e-40f, -0.0f, 1.0f};
    float y[8], dx[8];
    for (size_t k = 0; k < sizeof fqs / sizeof fqs[0]; k++) {
        qp_quant *q =
            make(fqs[k], "{bit: 4, symmetry: False, per_channel: False, pot_scale: False}", QP_ACT);
        qp_quant_enable_fake_quant(q, false);
        assert_int_equal(qp_quant_forward(q, c, y, calib, 2), QP_OK);
        assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_ERR_INVALID_ARG); /* observer */
        float inplace[8]; /* a failed call leaves the caller's buffer as it was, x = y too */
        memcpy(inplace, x, sizeof inplace);
        assert_int_equal(qp_quant_forward(q, inplace, inplace, shape, 2), QP_ERR_INVALID_ARG);
        assert_memory_equal(inplace, x, sizeof inplace);
        qp_quant_enable_observer(q, false);
        qp_quant_enable_fake_quant(q, true);
        assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_OK);
        assert_int_equal(qp_quant_backward(q, x, x, dx, shape, 2), QP_OK);
        for (int i = 0; i < 8; i++) {
            if (isnan(x[i]))
                assert_true(isnan(y[i]));
            else /* clamped to the grid's ends */
                assert_true(isfinite(y[i]));
        }
        qp_quant_destroy(q);
    }
    /* DSQ observes at every call: non-finite data is refused, state unchanged */
    qp_quant *q = make("DSQFakeQuantize",
                       "{bit: 4, symmetry: False, per_channel: False, pot_scale: False}", QP_ACT);
    static unsigned char a[4096], b[4096];
    assert_int_equal(qp_quant_forward(q, c, y, calib, 2), QP_OK);
    qp_quant_enable_observer(q, false);
    size_t na = snapshot(q, a, sizeof a);
    assert_int_equal(qp_quant_forward(q, x, y, shape, 2), QP_ERR_INVALID_ARG);
    assert_int_equal(snapshot(q, b, sizeof b), na);
    assert_memory_equal(a, b, na);
    qp_quant_destroy(q);
}

/* DSQ's and DoReFa's tanh against torch.tanh (data/quant/tanh_torch.txt, written
 * by gen_tanh.py): bit for bit, signed zeros, saturation and nan included. */
static void
tanh_is_torchs(void **state)
{
    (void)state;
    size_t len, n = 0;
    char *text = qpt_read_file("quant/tanh_torch.txt", &len);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *end;
        float x = strtof(line, &end), want = strtof(end, NULL);
        float got = qp__tanh_aten(x);
        if (isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof got) != 0)
            fail_msg("tanh(%a) = %a, torch %a", (double)x, (double)got, (double)want);
        n++;
    }
    test_free(text);
    assert_true(n > 6000);
}

/* Every allocation of creation, a calibrating forward, a quantizing forward and
 * a backward failing in turn: NOMEM, the state as it was, nothing leaked. 80
 * channels: more than the kinds' stack buffers. */
static void
out_of_memory_sweep(void **state)
{
    (void)state;
    static const struct {
        const char *fq, *scheme;
        int64_t shape[3];
    } kinds[] = {
        {"DSQFakeQuantize",
         "{bit: 4, symmetry: False, per_channel: True, pot_scale: False}",
         {80, 2, 3}},
        {"DoReFaFakeQuantize",
         "{bit: 4, symmetry: False, per_channel: True, pot_scale: False}",
         {80, 2, 3}},
        {"PACTFakeQuantize",
         "{bit: 8, symmetry: False, per_channel: False, pot_scale: False}",
         {80, 2, 3}},
        {"AdaRoundFakeQuantize",
         "{bit: 4, symmetry: True, per_channel: True, pot_scale: False}",
         {80, 2, 3}},
        {"QDropFakeQuantize",
         "{bit: 4, symmetry: False, per_channel: True, pot_scale: False}",
         {80, 1, 80}},
    };
    static float x[6400], y[6400], dx[6400];
    static unsigned char a[65536], b[65536];
    for (int i = 0; i < 6400; i++)
        x[i] = (float)((i * 37) % 101) / 25.0f - 2.0f;
    for (size_t kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
        const int64_t *shape = kinds[kd].shape;
        size_t points = 0;
        for (size_t k = 1;; k++) {
            qpt_alloc st;
            qpt_alloc_reset(&st);
            qp_allocator al = qpt_allocator(&st);
            st.fail_at = k;
            qp_status rc;
            qp_quant *q = make_with(&al, kinds[kd].fq, kinds[kd].scheme, QP_WEIGHT, &rc);
            if (rc) {
                assert_null(q);
                assert_int_equal(st.live, 0);
                points++;
                continue;
            }
            bool failed = false;
            for (int stage = 0; stage < 3 && !failed; stage++) {
                qp_quant_enable_fake_quant(q, stage > 0);
                size_t na = snapshot(q, a, sizeof a);
                rc = stage < 2 ? qp_quant_forward(q, x, y, shape, 3)
                               : qp_quant_backward(q, x, y, dx, shape, 3);
                if (rc) {
                    assert_int_equal(rc, QP_ERR_NOMEM);
                    assert_int_equal(snapshot(q, b, sizeof b), na);
                    assert_memory_equal(a, b, na);
                    failed = true;
                    points++;
                }
            }
            qp_quant_destroy(q);
            assert_int_equal(st.live, 0);
            if (!failed && !st.failed)
                break; /* k is past every allocation */
        }
        print_message("%s: %zu allocation points\n", kinds[kd].fq, points);
        assert_true(points > 3);
    }
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recorded_cases_match),
        cmocka_unit_test(tanh_is_torchs),
        cmocka_unit_test(where_mqbench_fails_an_error_and_no_change),
        cmocka_unit_test(hostile_values_give_defined_results),
        cmocka_unit_test(out_of_memory_sweep),
    };
    return cmocka_run_group_tests_name("quant_adaround_qdrop", tests, NULL, NULL);
}
