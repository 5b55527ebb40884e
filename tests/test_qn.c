/*
 * test_qn.c - the .qn case reader, writer and comparator of `qprep replay`
 * (examples/cli/qn*.c; FORMAT.md in data/numerics):
 *
 *  - every recorded case file reads and writes back byte for byte (the floats
 *    printed as Python's repr printed them), with nothing leaked;
 *  - floats print as the shortest decimal that reads back, for random and edge
 *    float32 values;
 *  - bad inputs give ERR_PARSE with the line, column and a message naming the
 *    construct; every truncation of a case fails cleanly or reads; hostile
 *    sizes (100000 tensors in a step, a 10 MB line, 100000 cases, a huge shape,
 *    100000 nested parentheses) fail or read in time without a big allocation;
 *  - the comparator applies FORMAT.md's tolerances and can fail.
 */
#include "testlib.h"

#include "qn.h"
#include "textbuf.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void *
re(void *p, size_t n)
{
    return test_realloc(p, n);
}

static int
buf_write(void *ud, const char *data, size_t len)
{
    return qpt_textbuf_append(ud, data, len, re);
}

/* The file's text as the writer prints it (test_malloc'd). */
static char *
written(const qn_file *f)
{
    qpt_textbuf b = {NULL, 0, 0};
    qn_out *o = test_malloc(sizeof *o);
    qn_out_init(o, buf_write, &b);
    qn_write_file(o, f);
    assert_int_equal(qn_out_flush(o), QP_OK);
    test_free(o);
    if (!b.p) {
        b.p = test_malloc(1);
        b.p[0] = 0;
    }
    return b.p;
}

static qn_file *
read_ok(const char *text, size_t len, qpt_alloc *st)
{
    qpt_alloc_reset(st);
    qp_allocator a = qpt_allocator(st);
    qn_file *f = NULL;
    qp_error err;
    qp_status rc = qn_read(text, len, &a, &f, &err);
    if (rc) {
        print_error("%u:%u: %s\n", (unsigned)err.line, (unsigned)err.col, err.msg);
        fail();
    }
    return f;
}

/* ==== the recorded cases ==== */

static void
every_case_file_reads_and_writes_back_as_recorded(void **state)
{
    (void)state;
    char **names;
    size_t n = qpt_list("numerics/cases", ".qn", &names), cases = 0, tensors = 0;
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "numerics/cases/%s", names[i]);
        size_t len;
        char *text = qpt_read_file(rel, &len);
        qpt_alloc st;
        qn_file *f = read_ok(text, len, &st);
        assert_true(f->ncases > 0);
        for (uint32_t c = 0; c < f->ncases; c++) {
            cases++;
            assert_non_null(f->cases[c].backend);
            for (uint32_t k = 0; k < f->cases[c].nsteps; k++) {
                tensors += f->cases[c].steps[k].nt;
                assert_non_null(qn_step_find(&f->cases[c].steps[k], "x"));
            }
        }
        char *back = written(f);
        if (strcmp(back, text)) {
            size_t j = 0;
            while (back[j] && back[j] == text[j])
                j++;
            print_error("%s: written differently from byte %zu: '%.60s' for '%.60s'\n", rel, j,
                        back + j, text + j);
            fail();
        }
        test_free(back);
        qn_free(f);
        assert_int_equal(st.live, 0);
        test_free(text);
    }
    print_message("%zu files, %zu cases, %zu tensors read and written back\n", n, cases, tensors);
    qpt_free_list(names, n);
}

/* ==== floats ==== */

/* The fewest %.*e digits that read back (an upper bound on the shortest). */
static int
digits_needed(double v)
{
    char b[64];
    for (int p = 0; p < 17; p++) {
        snprintf(b, sizeof b, "%.*e", p, v);
        if (strtod(b, NULL) == v)
            return p + 1;
    }
    return 17;
}

static int
digits_of(const char *s)
{
    int n = 0, lead = 1, zeros = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (lead && *s == '0')
            continue;
        lead = 0;
        n++;
        zeros = *s == '0' ? zeros + 1 : 0;
    }
    return n - zeros; /* "30.0": one significant digit */
}

static void
check_float(float f)
{
    char b[40];
    size_t n = qn_fmt_double((double)f, b);
    assert_int_equal(n, strlen(b));
    double back = strtod(b, NULL);
    if (isnan(f)) {
        assert_string_equal(b, "nan");
        return;
    }
    if (back != (double)f || !signbit(back) != !signbit(f)) {
        print_error("%a printed as %s\n", (double)f, b);
        fail();
    }
    if (isfinite(f) && f != 0 && digits_of(b) > digits_needed((double)f)) {
        print_error("%a printed as %s: longer than needed\n", (double)f, b);
        fail();
    }
}

static void
floats_print_shortest_and_read_back(void **state)
{
    (void)state;
    /* Python's repr of these doubles (its documented format) */
    static const struct {
        double v;
        const char *s;
    } known[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {3.0, "3.0"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {1e16, "1e+16"},
        {1e15, "1000000000000000.0"},
        {-2.5e-20, "-2.5e-20"},
        {0.5, "0.5"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {(double)0.1f, "0.10000000149011612"},
        {(double)FLT_MAX, "3.4028234663852886e+38"},
        {(double)FLT_TRUE_MIN, "1.401298464324817e-45"},
        {1.1920928955078125e-07, "1.1920928955078125e-07"},
    };
    char b[40];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        qn_fmt_double(known[i].v, b);
        assert_string_equal(b, known[i].s);
    }
    qn_fmt_double(NAN, b);
    assert_string_equal(b, "nan");
    /* every power of two, its neighbours, and random bit patterns */
    for (int e = -149; e <= 127; e++) {
        float p = ldexpf(1.0f, e);
        check_float(p);
        check_float(nextafterf(p, 0));
        check_float(-nextafterf(p, INFINITY));
    }
    uint64_t h = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        h ^= h << 13, h ^= h >> 7, h ^= h << 17;
        uint32_t bits = (uint32_t)(h >> 32);
        float f;
        memcpy(&f, &bits, sizeof f);
        check_float(f);
    }
}

/* ==== bad inputs ==== */

#define HEAD "qnum 1\ncase c\nbackend Tensorrt\nrole weight\n"
#define STEP "step {observer: True, fake_quant: False}\n"

static const struct bad {
    const char *text;
    uint32_t line, col;
    const char *msg;
} bad[] = {
    {"", 1, 1, "the first line must be 'qnum 1'"},
    {"qnum 2\n", 1, 1, "the first line must be 'qnum 1'"},
    {"qnum 1\nbackend Tensorrt\n", 2, 1, "outside a case"},
    {"qnum 1\ncase\n", 2, 5, "expected the case's name"},
    {"qnum 1\ncase   \n", 2, 8, "expected the case's name"},
    {HEAD, 2, 1, "case c has no 'end'"},
    {HEAD "case d\n", 5, 1, "case before the previous one's 'end' (line 2)"},
    {"qnum 1\ncase c\nrole weight\nend\n", 4, 1, "case c has no backend line"},
    {"qnum 1\ncase c\nbackend Tensorrt\nend\n", 4, 1, "case c has no role line"},
    {"qnum 1\nend\n", 2, 1, "outside a case"},
    {HEAD "colour red\nend\n", 5, 1, "unknown line 'colour'"},
    {HEAD "backend SNPE\nend\n", 5, 1, "backend twice in the case"},
    {HEAD STEP "backend SNPE\nend\n", 6, 1, "backend line after the first step"},
    {"qnum 1\ncase c\nbackend Tensorrt\nrole input\nend\n", 4, 6,
     "role must be weight or activation"},
    {"qnum 1\ncase c\nbackend Tens rt\n", 3, 13, "a backend name has no spaces"},
    {HEAD "ch_axis x\nend\n", 5, 9, "ch_axis must be an integer"},
    {HEAD "ch_axis 8\nend\n", 5, 9, "ch_axis must be an integer in [-1, 7]"},
    {HEAD "quant_type \"weights\"\nend\n", 5, 12, "quant_type must be"},
    {HEAD "config [1]\nend\n", 5, 8, "config must be a {...} dict"},
    {HEAD "module\nend\n", 5, 7, "module needs a value"},
    {HEAD "step {observer: True}\nend\n", 5, 6, "the step needs observer and fake_quant"},
    {HEAD "step {observer: Yes, fake_quant: False}\nend\n", 5, 17,
     "observer must be True or False"},
    {HEAD "step {observer: True, observer: True}\n", 5, 23, "observer twice in the step"},
    {HEAD "step {observer: True, fake_quant: False, lr: fast}\n", 5, 46,
     "lr must be a finite number"},
    {HEAD "step {observer: True, fake_quant: False, lr: inf}\n", 5, 46,
     "lr must be a finite number"},
    {HEAD "step {observer: True, fake_quant: False, speed: 1}\n", 5, 42,
     "unknown step key 'speed'"},
    {HEAD "step {observer: True, fake_quant: False\n", 5, 40, "the step has no '}'"},
    {HEAD "step {observer: True, fake_quant: False} x\n", 5, 41, "text after the step's '}'"},
    {HEAD "step observer\n", 5, 6, "expected '{observer: BOOL"},
    {HEAD "tensor x f32 (1,) [0.0]\n", 5, 1, "a tensor before the first step"},
    {HEAD STEP "tensor x f16 (1,) [0.0]\n", 6, 10, "unknown kind 'f16'"},
    {HEAD STEP "tensor x f32 [0.0]\n", 6, 14, "expected '(' and the shape"},
    {HEAD STEP "tensor x f32 (-1,) []\n", 6, 15, "bad size in the shape"},
    {HEAD STEP "tensor x f32 (1, 2 [0, 0]\n", 6, 20, "expected ',' or ')' in the shape"},
    {HEAD STEP "tensor x f32 (1,1,1,1,1,1,1,1,1) [0]\n", 6, 31, "more than 8 dimensions"},
    {HEAD STEP "tensor x f32 (4294967296, 4294967296) [0]\n", 6, 27,
     "the shape has too many elements"},
    {HEAD STEP "tensor x f32 (2,) [1.0, 2.0, 3.0]\n", 6, 19, "x has 3 values for shape (2,)"},
    {HEAD STEP "tensor x f32 (2, 2) [1.0]\n", 6, 21, "x has 1 values for shape (2, 2)"},
    {HEAD STEP "tensor x f32 () []\n", 6, 17, "x has 0 values for shape ()"},
    {HEAD STEP "tensor x f32 (1000000000000,) [0]\n", 6, 31,
     "x has 1 values for shape (1000000000000,)"},
    {HEAD STEP "tensor x f32 (2,) [1.0, 2.0\n", 6, 28, "the values do not end with ']'"},
    {HEAD STEP "tensor x f32 (2,)\n", 6, 18, "expected ' [' and the values"},
    {HEAD STEP "tensor x f32 (2,) [1.0,]\n", 6, 24, "empty value"},
    {HEAD STEP "tensor x f32 (1,) [1.2.3]\n", 6, 20, "bad number '1.2.3'"},
    {HEAD STEP "tensor x f32 (1,) [0x10]\n", 6, 20, "bad number '0x10'"},
    {HEAD STEP "tensor x f32 (1,) [infinity]\n", 6, 20, "bad number 'infinity'"},
    {HEAD STEP "tensor x f32 (1,) [1e]\n", 6, 20, "bad number '1e'"},
    {HEAD STEP "tensor x f32 (1,) [-nan]\n", 6, 20, "bad number '-nan'"},
    {HEAD STEP "tensor x f32 (1,) [1e39]\n", 6, 20, "1e39 is out of the float32 range"},
    {HEAD STEP "tensor x i32 (1,) [2147483648]\n", 6, 20, "bad i32 value '2147483648'"},
    {HEAD STEP "tensor x i64 (1,) [9223372036854775808]\n", 6, 20, "bad i64 value"},
    {HEAD STEP "tensor x u8 (1,) [256]\n", 6, 19, "bad u8 value '256'"},
    {HEAD STEP "tensor x bool (1,) [2]\n", 6, 21, "bad bool value '2'"},
    {HEAD STEP "tensor x i32 (1,) [1.0]\n", 6, 20, "bad i32 value '1.0'"},
    {HEAD STEP "tensor x f32 (1,) [0.0]\ntensor x f32 (1,) [0.0]\nend\n", 7, 8,
     "tensor (in one step) x twice (first on line 6)"},
    {HEAD STEP "tensor  f32 (1,) [0.0]\n", 6, 8, "expected the tensor's name"},
    {HEAD "end\ncase c\nbackend SNPE\nrole weight\nend\n", 6, 6, "case c twice (first on line 2)"},
    {HEAD "\x01\n", 5, 1, "control character 0x01"},
    {"qnum 1\ncase c\x00\n", 2, 7, "control character 0x00"},
};

static void
bad_inputs_name_the_place(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct bad *b = &bad[i];
        size_t len = strlen(b->text);
        if (!strcmp(b->text, "qnum 1\ncase c"))
            len = 15; /* the NUL byte and what follows */
        qpt_alloc st;
        qpt_alloc_reset(&st);
        qp_allocator a = qpt_allocator(&st);
        qn_file *f = (qn_file *)1;
        qp_error err;
        qp_status rc = qn_read(b->text, len, &a, &f, &err);
        if (rc != QP_ERR_PARSE || err.status != rc || err.line != b->line || err.col != b->col ||
            !strstr(err.msg, b->msg)) {
            print_error("bad input %zu: got %s %u:%u: %s\nwanted %u:%u: %s\n", i, qp_status_str(rc),
                        (unsigned)err.line, (unsigned)err.col, err.msg, (unsigned)b->line,
                        (unsigned)b->col, b->msg);
            fail();
        }
        assert_null(f);
        assert_int_equal(st.live, 0);
    }
}

/* A small case of every construct, cut after every byte: each prefix reads or fails
 * with a place and a message, and leaks nothing. */
static void
every_truncation_fails_cleanly_or_reads(void **state)
{
    (void)state;
    static const char text[] =
        "qnum 1\n# a comment\ncase t\nbackend Academic\nrole activation\n"
        "config {a_fakequantize: \"LearnableFakeQuantize\"}\nch_axis 1\nquant_type \"param\"\n"
        "module q fq.LearnableFakeQuantize {quant_min: 0, quant_max: 255}\n"
        "step {observer: True, fake_quant: False, lr: 0.01}\n"
        "tensor x f32 (2, 1) [1.5, -inf]\ntensor dy f32 (2, 1) [nan, 1.52587890625e-05]\n"
        "tensor state.zero_point i32 (1,) [-3]\ntensor state.n i64 () [9223372036854775807]\n"
        "tensor state.f u8 (1,) [255]\ntensor state.b bool (0,) []\nend\n";
    size_t n = sizeof text - 1, ok = 0;
    for (size_t len = 0; len <= n; len++) {
        qpt_alloc st;
        qpt_alloc_reset(&st);
        qp_allocator a = qpt_allocator(&st);
        qn_file *f = NULL;
        qp_error err;
        qp_status rc = qn_read(text, len, &a, &f, &err);
        if (rc) {
            assert_int_equal(rc, QP_ERR_PARSE);
            assert_true(err.line > 0 && err.col > 0 && err.msg[0]);
        } else {
            ok++;
            char *back = written(f);
            /* what was read, as written: the text up to the cut, its last line ended */
            bool ended = len && text[len - 1] == '\n';
            if (strlen(back) != len + !ended || strncmp(back, text, len)) {
                print_error("cut at %zu: written as\n%s\n", len, back);
                fail();
            }
            test_free(back);
            qn_free(f);
        }
        assert_int_equal(st.live, 0);
    }
    /* cut after "qnum 1" and after "end" (each with and without the newline), and
     * anywhere in the comment line before the case (12 cuts) */
    assert_int_equal(ok, 16);
}

/* ==== hostile sizes ==== */

struct big {
    char *p;
    size_t n, cap;
};

static void
put(struct big *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        b->p = test_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

static qp_status
read_big(const struct big *b, qp_error *err, size_t *peak)
{
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qn_file *f = NULL;
    qp_status rc = qn_read(b->p, b->n, &a, &f, err);
    *peak = st.live;
    qn_free(f);
    assert_int_equal(st.live, 0);
    return rc;
}

static void
hostile_sizes_fail_or_read_in_time(void **state)
{
    (void)state;
    qp_error err;
    size_t peak;
    char line[96];
    /* 100000 tensors in one step, the last one's name repeated */
    struct big b = {NULL, 0, 0};
    put(&b, HEAD STEP);
    for (int i = 0; i < 100000; i++) {
        snprintf(line, sizeof line, "tensor t%d f32 () [1.0]\n", i == 99999 ? 7 : i);
        put(&b, line);
    }
    put(&b, "end\n");
    assert_int_equal(read_big(&b, &err, &peak), QP_ERR_PARSE);
    assert_int_equal(err.line, 100005);
    assert_non_null(strstr(err.msg, "t7 twice (first on line 13)"));
    /* 100000 cases, one name twice */
    b.n = 0;
    put(&b, "qnum 1\n");
    for (int i = 0; i < 100000; i++) {
        snprintf(line, sizeof line, "case c%d\nbackend SNPE\nrole weight\nend\n",
                 i == 50000 ? 3 : i);
        put(&b, line);
    }
    assert_int_equal(read_big(&b, &err, &peak), QP_ERR_PARSE);
    assert_int_equal(err.line, 2 + 4 * 50000);
    assert_non_null(strstr(err.msg, "case c3 twice"));
    /* a 10 MB line: 2.5 million values read; one more value than the shape says fails
     * before any allocation for the values */
    for (int extra = 0; extra < 2; extra++) {
        b.n = 0;
        put(&b, HEAD STEP "tensor x f32 (2500000,) [");
        for (int i = 0; i < 2500000 + extra; i++)
            put(&b, i ? ", 1" : "1");
        put(&b, "]\nend\n");
        qp_status rc = read_big(&b, &err, &peak);
        if (extra) {
            assert_int_equal(rc, QP_ERR_PARSE);
            assert_non_null(strstr(err.msg, "x has 2500001 values for shape (2500000,)"));
            assert_true(peak < 4096);
        } else {
            assert_int_equal(rc, QP_OK);
            assert_true(peak >= 2500000 * sizeof(float));
        }
    }
    /* 100000 opening parentheses in a shape, and a 1000-digit number */
    b.n = 0;
    put(&b, HEAD STEP "tensor x f32 ");
    for (int i = 0; i < 100000; i++)
        put(&b, "(");
    put(&b, "\n");
    assert_int_equal(read_big(&b, &err, &peak), QP_ERR_PARSE);
    assert_int_equal(err.col, 15);
    b.n = 0;
    put(&b, HEAD STEP "tensor x f32 (1,) [");
    for (int i = 0; i < 1000; i++)
        put(&b, "9");
    put(&b, "]\nend\n");
    assert_int_equal(read_big(&b, &err, &peak), QP_ERR_PARSE);
    assert_non_null(strstr(err.msg, "bad number"));
    test_free(b.p);
}

/* ==== the comparator ==== */

static qp_tensor
f32_tensor(float *data, size_t n)
{
    qp_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = QP_DT_F32;
    t.ndim = 1;
    t.shape[0] = (int64_t)n;
    t.numel = n;
    t.data = data;
    return t;
}

static void
the_comparator_applies_the_tolerances(void **state)
{
    (void)state;
    float e[200], g[200];
    for (int i = 0; i < 200; i++)
        e[i] = g[i] = (float)(i - 100) * 0.25f;
    qp_tensor te = f32_tensor(e, 200), tg = f32_tensor(g, 200);
    char msg[512];
    bool exact;
    assert_true(qn_compare_tensor("state.scale", &te, &tg, 0, &exact, msg, sizeof msg));
    assert_true(exact);
    /* within 1e-5 relative: a match, not bit for bit */
    g[10] = nextafterf(e[10], 0);
    assert_true(qn_compare_tensor("state.scale", &te, &tg, 0, &exact, msg, sizeof msg));
    assert_false(exact);
    /* past it: a state tensor fails, y allows 1% (two of 200), not three */
    g[10] = e[10] * 1.001f;
    assert_false(qn_compare_tensor("state.scale", &te, &tg, 0, &exact, msg, sizeof msg));
    assert_non_null(strstr(msg, "1 of 200 values past tolerance (first at 10"));
    g[20] = e[20] + 0.25f;
    assert_true(qn_compare_tensor("y", &te, &tg, 0, &exact, msg, sizeof msg));
    g[30] = e[30] + 0.25f;
    assert_false(qn_compare_tensor("y", &te, &tg, 0, &exact, msg, sizeof msg));
    /* a gradient: 1e-4 relative, and the floor given */
    memcpy(g, e, sizeof g);
    g[50] = e[50] * 1.00005f;
    assert_true(qn_compare_tensor("grad.scale", &te, &tg, 0, &exact, msg, sizeof msg));
    assert_false(qn_compare_tensor("state.scale", &te, &tg, 0, &exact, msg, sizeof msg));
    g[50] = e[50] + 1.0f;
    assert_false(qn_compare_tensor("grad.scale", &te, &tg, 0, &exact, msg, sizeof msg));
    assert_true(qn_compare_tensor("grad.scale", &te, &tg, 2.0, &exact, msg, sizeof msg));
    /* nan matches only nan; infinities only themselves */
    memcpy(g, e, sizeof g);
    e[0] = g[0] = NAN;
    assert_true(qn_compare_tensor("y", &te, &tg, 0, &exact, msg, sizeof msg));
    assert_true(exact);
    e[1] = INFINITY;
    g[1] = FLT_MAX;
    e[2] = -INFINITY;
    g[2] = -FLT_MAX;
    assert_false(qn_compare_tensor("state.min_val", &te, &tg, 0, &exact, msg, sizeof msg));
    /* kinds, shapes and integers must agree exactly */
    int32_t ie[3] = {1, 2, 3}, ig[3] = {1, 2, 4};
    qp_tensor ti = f32_tensor(NULL, 3), tj;
    ti.dtype = QP_DT_I32;
    ti.data = ie;
    tj = ti;
    tj.data = ig;
    assert_false(qn_compare_tensor("state.zero_point", &ti, &tj, 0, &exact, msg, sizeof msg));
    assert_non_null(strstr(msg, "1 of 3 values differ (first at 2: expected 3, got 4)"));
    tj = f32_tensor(g, 3);
    assert_false(qn_compare_tensor("state.zero_point", &ti, &tj, 0, &exact, msg, sizeof msg));
    assert_non_null(strstr(msg, "expected i32 (3,), got f32 (3,)"));
    tj = ti;
    tj.ndim = 2;
    tj.shape[0] = 1;
    tj.shape[1] = 3;
    assert_false(qn_compare_tensor("state.zero_point", &ti, &tj, 0, &exact, msg, sizeof msg));
}

/* The tolerance inputs qnum.py takes from a case: the grid from the `module q` line
 * and the gradient floor from dy. */
static void
grid_span_and_gradient_floor_come_from_the_case(void **state)
{
    (void)state;
    static const char text[] =
        "qnum 1\ncase c\nbackend Tensorrt\nrole weight\n"
        "module q.activation_post_process obs.MinMaxObserver {quant_min: 0, quant_max: 3}\n"
        "module q fq.LearnableFakeQuantize {eps: 1e-07, quant_min: -127, quant_max: 127}\n"
        "step {observer: False, fake_quant: True}\n"
        "tensor x f32 (4,) [1.0, 2.0, 3.0, 4.0]\ntensor dy f32 (4,) [1.0, -2.0, nan, 0.5]\n"
        "tensor grad.scale f32 (2,) [0.0, 0.0]\nend\n";
    qpt_alloc st;
    qn_file *f = read_ok(text, sizeof text - 1, &st);
    const qn_case *c = &f->cases[0];
    assert_int_equal(qn_grid_span(c), 255);
    const qn_tensor *g = qn_step_find(&c->steps[0], "grad.scale");
    assert_non_null(g);
    double floor = qn_grad_floor(&c->steps[0], g, 255);
    assert_true(fabs(floor - 1e-8 * 3.5 * 255 / 2) < 1e-18);
    qn_free(f);
    assert_int_equal(st.live, 0);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_case_file_reads_and_writes_back_as_recorded),
        cmocka_unit_test(floats_print_shortest_and_read_back),
        cmocka_unit_test(bad_inputs_name_the_place),
        cmocka_unit_test(every_truncation_fails_cleanly_or_reads),
        cmocka_unit_test(hostile_sizes_fail_or_read_in_time),
        cmocka_unit_test(the_comparator_applies_the_tolerances),
        cmocka_unit_test(grid_span_and_gradient_floor_come_from_the_case),
    };
    return cmocka_run_group_tests_name("qn", tests, NULL, NULL);
}
