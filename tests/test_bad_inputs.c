/*
 * test_bad_inputs.c - the bad-input corpus (tests/data/bad/) and hostile
 * inputs made on the fly. Every file in data/bad is run as data/bad/EXPECT
 * says (read, read-and-verify, read a configuration, or prepare) and must give
 * its status with a message naming the place: the line and column, or the
 * node, key or module. Nothing may crash or leak, out-params are NULL on
 * failure, and a failed prepare leaves the graph's text as it was (and
 * qp_prepare_qat_or_clear gives the same status, message and line, clearing it).
 *
 * Made here rather than committed: 1 MB names, paths, keys and strings, 10 MB
 * lines, 100000-deep nesting, 100000 dict keys with one repeated, a 1000-digit
 * integer, and every truncation of a small model and a configuration at each
 * token boundary.
 */
#include "testlib.h"

#include <string.h>

/* ==== running one input ==== */

static const char *const status_names[] = {
#define QPT_STATUS_NAME(name, msg) #name,
    QP_STATUS_MAP(QPT_STATUS_NAME)
#undef QPT_STATUS_NAME
};

static int
status_from_name(const char *s)
{
    for (int i = 0; i < QP_STATUS_COUNT; i++)
        if (!strcmp(s, status_names[i]))
            return i;
    return -1;
}

/* What a run gave: status, place, message, and the text written on success. */
struct result {
    qp_status st;
    uint32_t line, col;
    char msg[1024];
    char *text; /* test_malloc'd or NULL */
};

static qp_graph *
read_graph(const char *text, size_t len, unsigned flags, qpt_alloc *al, qp_error *err)
{
    qpt_alloc_reset(al);
    qp_allocator a = qpt_allocator(al);
    qp_read_opts o = {&a, flags, NULL, NULL};
    qp_graph *g = (qp_graph *)1;
    qp_status rc = qp_graph_read_text(text, len, &o, &g, err);
    assert_int_equal(err->status, rc);
    if (rc) {
        assert_null(g);
        assert_int_equal(al->live, 0);
        assert_true(err->msg[0] != 0);
        return NULL;
    }
    return g;
}

static void
run_read(const char *text, size_t len, struct result *r)
{
    qpt_alloc al;
    qp_error err;
    qp_graph *g = read_graph(text, len, 0, &al, &err);
    r->st = err.status;
    r->line = err.line;
    r->col = err.col;
    snprintf(r->msg, sizeof r->msg, "%s", err.msg);
    if (g) {
        r->text = qpt_graph_text(g);
        qp_graph_destroy(g);
        assert_int_equal(al.live, 0);
    }
}

/* check: the verifier's problems; the one that matches wins, else the first. */
struct want {
    qp_status st;
    uint32_t line;
    const char *text;
};

struct diags {
    const struct want *w;
    struct result *r;
    bool matched;
    unsigned count;
};

static void
on_diag(void *ud, const qp_diag *d)
{
    struct diags *x = ud;
    x->count++;
    bool match = d->status == x->w->st && d->line == x->w->line && strstr(d->msg, x->w->text);
    if ((x->count == 1 || match) && !x->matched) {
        x->r->st = d->status;
        x->r->line = d->line;
        x->r->col = d->col;
        snprintf(x->r->msg, sizeof x->r->msg, "%s", d->msg);
        x->matched = match;
    }
}

static void
run_check(const char *text, size_t len, const struct want *w, struct result *r)
{
    qpt_alloc al;
    qp_error err;
    qp_graph *g = read_graph(text, len, QP_READ_NO_VERIFY, &al, &err);
    if (!g) { /* a syntax error: not for the verifier */
        r->st = err.status;
        r->line = err.line;
        r->col = err.col;
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        return;
    }
    struct diags x = {w, r, false, 0};
    qp_status rc = qp_graph_verify(g, on_diag, &x);
    if (!x.count)
        r->st = rc;
    assert_true((rc == QP_OK) == (x.count == 0));
    /* the graph's message is the first problem */
    assert_true(rc == QP_OK || qp_graph_errmsg(g)[0]);
    qp_graph_destroy(g);
    assert_int_equal(al.live, 0);
}

static void
run_config(const char *text, size_t len, struct result *r)
{
    qpt_alloc al;
    qpt_alloc_reset(&al);
    qp_allocator a = qpt_allocator(&al);
    qp_config *c = (qp_config *)1;
    qp_error err;
    qp_status rc = qp_config_read_text(text, len, &a, &c, &err);
    assert_int_equal(err.status, rc);
    r->st = rc;
    r->line = err.line;
    r->col = err.col;
    snprintf(r->msg, sizeof r->msg, "%s", err.msg);
    if (rc) {
        assert_null(c);
        assert_true(err.msg[0] != 0);
    }
    qp_config_destroy(c == (qp_config *)1 ? NULL : c);
    assert_int_equal(al.live, 0);
}

static void
run_prepare(const char *text, size_t len, const char *backend, const char *cfg_rel,
            struct result *r)
{
    qp_backend be;
    assert_int_equal(qp_backend_from_name(backend, &be), QP_OK);
    qp_config *c = NULL;
    if (cfg_rel)
        c = qpt_config_file(cfg_rel);
    qpt_alloc al;
    qp_error err;
    qp_graph *g = read_graph(text, len, 0, &al, &err);
    if (!g) {
        print_error("the graph does not read: %u:%u: %s\n", (unsigned)err.line, (unsigned)err.col,
                    err.msg);
        fail();
    }
    char *before = qpt_graph_text(g);
    size_t live = al.live;
    r->st = qp_prepare_qat(g, be, c);
    r->line = qp_node_line(g, qp_graph_errnode(g));
    r->col = 0;
    snprintf(r->msg, sizeof r->msg, "%s", qp_graph_errmsg(g));
    r->text = qpt_graph_text(g);
    if (r->st) {
        /* the strong guarantee: nothing changed, nothing kept */
        assert_true(r->msg[0] != 0);
        assert_string_equal(r->text, before);
        assert_int_equal(al.live, live);
    } else {
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
        assert_string_equal(qp_graph_errmsg(g), "");
    }
    test_free(before);
    qp_graph_destroy(g);
    assert_int_equal(al.live, 0);
    /* without the undo log: the same status, message and line; on failure the graph
     * is cleared, on success the same text */
    g = read_graph(text, len, 0, &al, &err);
    assert_non_null(g);
    assert_int_equal(qp_prepare_qat_or_clear(g, be, c), r->st);
    assert_string_equal(qp_graph_errmsg(g), r->msg);
    assert_int_equal(qp_graph_errline(g), r->line);
    char *after = qpt_graph_text(g);
    if (r->st)
        assert_int_equal(qp_graph_num_nodes(g), 0);
    else
        assert_string_equal(after, r->text);
    test_free(after);
    qp_graph_destroy(g);
    assert_int_equal(al.live, 0);
    qp_config_destroy(c);
}

/* ==== the manifest ==== */

struct entry {
    char file[128], op[256], status[64], line[16], col[16], text[512];
    unsigned lineno;
};

/* Splits one manifest line; false for comments and blank lines. */
static bool
parse_entry(char *s, unsigned lineno, struct entry *e)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == '#' || *s == '\n')
        return false;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
    char *fields[5];
    size_t sizes[5] = {sizeof e->file, sizeof e->op, sizeof e->status, sizeof e->line,
                       sizeof e->col};
    char *outs[5] = {e->file, e->op, e->status, e->line, e->col};
    for (int i = 0; i < 5; i++) {
        while (*s == ' ' || *s == '\t')
            s++;
        fields[i] = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        if (!*s) {
            print_error("EXPECT:%u: fewer than 6 fields\n", lineno);
            fail();
        }
        *s++ = 0;
        assert_true(strlen(fields[i]) < sizes[i]);
        strcpy(outs[i], fields[i]);
    }
    while (*s == ' ' || *s == '\t')
        s++;
    assert_true(strlen(s) < sizeof e->text);
    strcpy(e->text, s);
    e->lineno = lineno;
    return true;
}

static bool
field_is(const char *f, uint32_t v)
{
    return !strcmp(f, "-") || strtoul(f, NULL, 10) == v;
}

static void
run_entry(const struct entry *e)
{
    char rel[256];
    snprintf(rel, sizeof rel, "bad/%s", e->file);
    size_t len;
    char *text = qpt_read_file(rel, &len);
    struct result r;
    memset(&r, 0, sizeof r);
    int want = status_from_name(e->status);
    if (want < 0) {
        print_error("EXPECT:%u: unknown status %s\n", e->lineno, e->status);
        fail();
    }
    struct want w = {(qp_status)want, (uint32_t)strtoul(e->line, NULL, 10), e->text};
    if (!strcmp(e->op, "read")) {
        run_read(text, len, &r);
    } else if (!strcmp(e->op, "check")) {
        run_check(text, len, &w, &r);
    } else if (!strcmp(e->op, "config")) {
        run_config(text, len, &r);
    } else if (!strncmp(e->op, "prepare:", 8)) {
        char backend[64], *cfg = NULL;
        snprintf(backend, sizeof backend, "%s", e->op + 8);
        char *colon = strchr(backend, ':');
        if (colon) {
            *colon = 0;
            cfg = strchr(e->op + 8, ':') + 1;
        }
        run_prepare(text, len, backend, cfg, &r);
    } else {
        print_error("EXPECT:%u: unknown op %s\n", e->lineno, e->op);
        fail();
    }
    bool ok = (int)r.st == want;
    if (want == QP_OK) {
        /* the text written after the run holds TEXT ("-": nothing to look for) */
        ok = ok && (!strcmp(e->text, "-") || (r.text && strstr(r.text, e->text)));
    } else {
        /* the place is named: a line (0 only for the whole input), a column where
         * the manifest gives one, and the text */
        ok = ok && field_is(e->line, r.line) && field_is(e->col, r.col) &&
             strstr(r.msg, e->text) != NULL;
        if (strcmp(e->col, "-") && !r.col)
            ok = false;
    }
    if (!ok) {
        print_error("EXPECT:%u: %s %s: got %s at %u:%u '%s'\n  want %s at %s:%s '%s'\n", e->lineno,
                    e->file, e->op, status_names[r.st], (unsigned)r.line, (unsigned)r.col, r.msg,
                    e->status, e->line, e->col, e->text);
        fail();
    }
    if (r.text)
        test_free(r.text);
    test_free(text);
}

static void
every_bad_input_gives_its_status_and_names_the_place(void **state)
{
    (void)state;
    size_t len;
    char *manifest = qpt_read_file("bad/EXPECT", &len);
    char **qg, **qcfg;
    size_t nqg = qpt_list("bad", ".qg", &qg), ncfg = qpt_list("bad", ".qcfg", &qcfg);
    bool *seen = test_calloc(nqg + ncfg, sizeof *seen);
    unsigned runs = 0, lineno = 0;
    for (char *s = manifest; *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        struct entry e;
        if (parse_entry(s, lineno, &e)) {
            run_entry(&e);
            runs++;
            bool known = false;
            for (size_t i = 0; i < nqg; i++)
                if (!strcmp(qg[i], e.file))
                    known = seen[i] = true;
            for (size_t i = 0; i < ncfg; i++)
                if (!strcmp(qcfg[i], e.file))
                    known = seen[nqg + i] = true;
            if (!known) {
                print_error("EXPECT:%u: no file bad/%s\n", lineno, e.file);
                fail();
            }
        }
        if (!nl)
            break;
        s = nl + 1;
    }
    for (size_t i = 0; i < nqg + ncfg; i++)
        if (!seen[i]) {
            print_error("bad/%s is not in EXPECT\n", i < nqg ? qg[i] : qcfg[i - nqg]);
            fail();
        }
    print_message("%zu bad inputs (%zu graphs, %zu configurations), %u runs, each with its "
                  "status and place\n",
                  nqg + ncfg, nqg, ncfg, runs);
    assert_true(nqg + ncfg >= 40);
    test_free(seen);
    qpt_free_list(qg, nqg);
    qpt_free_list(qcfg, ncfg);
    test_free(manifest);
}

/* ==== hostile inputs made here ==== */

/* A buffer of n bytes of c (test_malloc'd, NUL-terminated). */
static char *
filled(size_t n, char c)
{
    char *p = test_malloc(n + 1);
    memset(p, c, n);
    p[n] = 0;
    return p;
}

/* prefix + n bytes of c + suffix */
static char *
make(const char *prefix, size_t n, char c, const char *suffix, size_t *len)
{
    size_t a = strlen(prefix), b = strlen(suffix);
    char *p = test_malloc(a + n + b + 1);
    memcpy(p, prefix, a);
    memset(p + a, c, n);
    memcpy(p + a + n, suffix, b + 1);
    *len = a + n + b;
    return p;
}

/* r failed with st at line:col (col 0: any) with needle in its message. */
static void
expect_result(const struct result *r, qp_status st, uint32_t line, uint32_t col, const char *needle)
{
    if (r->st != st || r->line != line || (col && r->col != col) || !strstr(r->msg, needle)) {
        print_error("got %s at %u:%u '%.200s'; want %s at %u:%u '%s'\n", status_names[r->st],
                    (unsigned)r->line, (unsigned)r->col, r->msg, status_names[st], (unsigned)line,
                    (unsigned)col, needle);
        fail();
    }
}

static void
expect_read(const char *text, size_t len, qp_status st, uint32_t line, uint32_t col,
            const char *needle)
{
    struct result r;
    memset(&r, 0, sizeof r);
    run_read(text, len, &r);
    expect_result(&r, st, line, col, needle);
    if (r.text)
        test_free(r.text);
}

static void
expect_config(const char *text, size_t len, qp_status st, uint32_t line, uint32_t col,
              const char *needle)
{
    struct result r;
    memset(&r, 0, sizeof r);
    run_config(text, len, &r);
    expect_result(&r, st, line, col, needle);
}

#define MB (1u << 20)

static void
huge_names_lines_and_nesting_are_refused_with_their_place(void **state)
{
    (void)state;
    size_t len;
    char *t;
    /* a 1 MB node name (the line itself is allowed: 4 MiB) */
    t = make("qgraph 1\n%", MB, 'n', " = placeholder x () {}\n%output = output output (%x,) {}\n",
             &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 2, "node name longer than 4096 bytes");
    test_free(t);
    /* a 1 MB reference to a node */
    t = make("qgraph 1\n%x = placeholder x () {}\n%output = output output (%", MB, 'r', ",) {}\n",
             &len);
    expect_read(t, len, QP_ERR_LIMIT, 3, 26, "node name longer than 4096 bytes");
    test_free(t);
    /* a 1 MB module path, type, target, key, identifier */
    t = make("qgraph 1\nmodule ", MB, 'm', " nn.ReLU {}\n", &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 8, "module path longer than 4096 bytes");
    test_free(t);
    t = make("qgraph 1\nmodule m nn.", MB, 'T', " {}\n", &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 10, "module type longer than 4096 bytes");
    test_free(t);
    t = make("qgraph 1\n%x = placeholder ", MB, 't', " () {}\n", &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 18, "target longer than 4096 bytes");
    test_free(t);
    t = make("qgraph 1\nmodule m nn.ReLU {", MB, 'k', ": 1}\n", &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 19, "key longer than 4096 bytes");
    test_free(t);
    t = make("qgraph 1\nmodule m nn.ReLU {k: ", MB, 'i', "}\n", &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 22, "identifier longer than 4096 bytes");
    test_free(t);
    /* a 1 MB string is a value like any other: it reads and round-trips */
    t = make("qgraph 1\nmodule m nn.ReLU {doc: \"", MB, 's',
             "\"}\n%x = placeholder x () {}\n%output = output output (%x,) {}\n", &len);
    struct result r;
    memset(&r, 0, sizeof r);
    run_read(t, len, &r);
    assert_int_equal(r.st, QP_OK);
    assert_string_equal(r.text, t);
    test_free(r.text);
    test_free(t);
    /* a 10 MB line, in the middle of a file and as the last line without a newline */
    t = make("qgraph 1\n# ok\n", 10 * MB, '#', "\n%x = placeholder x () {}\n", &len);
    expect_read(t, len, QP_ERR_LIMIT, 3, 0, "line longer than");
    test_free(t);
    t = make("qgraph 1\n", 10 * MB, 'x', "", &len);
    expect_read(t, len, QP_ERR_LIMIT, 2, 0, "line longer than");
    test_free(t);
    /* 100000-deep nesting: refused at depth 65, no recursion on the way */
    char *open = filled(100000, '(');
    t = make("qgraph 1\n%x = placeholder x (", 0, ' ', "", &len);
    size_t n = 100000;
    char *deep = test_malloc(len + n + 64);
    memcpy(deep, t, len);
    memcpy(deep + len, open, n);
    memcpy(deep + len + n, ") {}\n", 6);
    expect_read(deep, len + n + 5, QP_ERR_PARSE, 2, 85, "values nested deeper than 64");
    test_free(deep);
    test_free(t);
    test_free(open);
    /* a 1000-digit integer */
    t = make("qgraph 1\nmodule m nn.ReLU {k: ", 1000, '9', "}\n", &len);
    expect_read(t, len, QP_ERR_PARSE, 2, 22, "outside 64 bits");
    test_free(t);
    /* 100000 keys, the last one repeating the first */
    size_t cap = 100000 * 16 + 64, o = 0;
    char *d = test_malloc(cap);
    o += (size_t)snprintf(d + o, cap - o, "qgraph 1\nmodule m nn.ReLU {");
    for (int i = 0; i < 100000; i++)
        o += (size_t)snprintf(d + o, cap - o, "k%d: %d, ", i, i);
    o += (size_t)snprintf(d + o, cap - o, "k0: 0}\n");
    expect_read(d, o, QP_ERR_PARSE, 2, 18, "duplicate key 'k0'");
    test_free(d);
}

static void
huge_configurations_are_refused_with_their_place(void **state)
{
    (void)state;
    size_t len;
    char *t =
        make("qcfg 1\nextra_quantizer_dict = {exclude_node_name: [\"", MB, 'n', "\"]}\n", &len);
    expect_config(t, len, QP_ERR_INVALID_CONFIG, 2, 24, "at most 4096 bytes");
    test_free(t);
    t = make("qcfg 1\n# ", 10 * MB, 'c', "\n", &len);
    expect_config(t, len, QP_ERR_LIMIT, 2, 0, "line longer than");
    test_free(t);
    t = make("qcfg 1\nqprep_overrides = [{pattern: \"", MB, '*', "\", float: True}]\n", &len);
    expect_config(t, len, QP_ERR_INVALID_CONFIG, 2, 19, "over-long pattern");
    test_free(t);
    char *open = filled(100000, '[');
    t = make("qcfg 1\nextra_qconfig_dict = {w_fakeq_params: ", 0, ' ', "", &len);
    char *deep = test_malloc(len + 100000 + 8);
    memcpy(deep, t, len);
    memcpy(deep + len, open, 100000);
    memcpy(deep + len + 100000, "}\n", 3);
    expect_config(deep, len + 100002, QP_ERR_PARSE, 2, 0, "values nested deeper than 64");
    test_free(deep);
    test_free(t);
    test_free(open);
}

/* ==== truncation ==== */

static bool
is_word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Token boundaries: every position where a word ends or a punctuation byte is. */
static bool
token_boundary(const char *s, size_t i)
{
    return i == 0 || !is_word_char(s[i - 1]) || !is_word_char(s[i]);
}

static void
truncated_models_and_configurations_are_never_taken_for_whole(void **state)
{
    (void)state;
    size_t len, cuts = 0;
    char *text = qpt_read_file("bad/graph.qg", &len);
    /* the last line is the output; a cut anywhere before its end fails, on the line
     * where the text stops (or, cut between lines, for want of an output) */
    size_t last_nl = len - 1;
    size_t out_start = last_nl;
    while (out_start > 0 && text[out_start - 1] != '\n')
        out_start--;
    for (size_t cut = 0; cut < last_nl; cut++) {
        if (!token_boundary(text, cut))
            continue;
        uint32_t line = 1;
        for (size_t i = 0; i < cut; i++)
            line += text[i] == '\n';
        char *p = test_malloc(cut ? cut : 1);
        memcpy(p, text, cut);
        struct result r;
        memset(&r, 0, sizeof r);
        run_read(p, cut, &r);
        bool between = cut == 0 || text[cut - 1] == '\n';
        /* a cut right after the output's closing brace keeps a whole graph */
        bool whole = cut == last_nl;
        if (whole) {
            assert_int_equal(r.st, QP_OK);
        } else if (r.st == QP_OK || r.line == 0 || !r.msg[0] || (!between && r.line != line)) {
            print_error("cut at byte %zu (line %u): got %s at %u:%u '%s'\n", cut, (unsigned)line,
                        status_names[r.st], (unsigned)r.line, (unsigned)r.col, r.msg);
            fail();
        }
        if (r.text)
            test_free(r.text);
        test_free(p);
        cuts++;
    }
    test_free(text);
    /* a configuration: a cut inside a line fails on that line; between lines the
     * lines before are a whole configuration */
    text = qpt_read_file("configs/academic.qcfg", &len);
    size_t ccuts = 0;
    for (size_t cut = 0; cut < len; cut++) {
        if (!token_boundary(text, cut))
            continue;
        uint32_t line = 1;
        for (size_t i = 0; i < cut; i++)
            line += text[i] == '\n';
        char *p = test_malloc(cut ? cut : 1);
        memcpy(p, text, cut);
        struct result r;
        memset(&r, 0, sizeof r);
        run_config(p, cut, &r);
        bool between = cut > 0 && text[cut - 1] == '\n';
        bool comment = line == 2;                               /* "# ..." */
        bool whole = cut == len - 1 || (line == 1 && cut == 6); /* a whole last line */
        if (between || comment || whole) {
            if (line > 1 || cut == 6)
                assert_int_equal(r.st, QP_OK);
        } else if (r.st == QP_OK || r.line != line || !r.msg[0]) {
            print_error("config cut at byte %zu (line %u): got %s at %u:%u '%s'\n", cut,
                        (unsigned)line, status_names[r.st], (unsigned)r.line, (unsigned)r.col,
                        r.msg);
            fail();
        }
        test_free(p);
        ccuts++;
    }
    test_free(text);
    print_message("%zu truncations of a model and %zu of a configuration, at every token\n", cuts,
                  ccuts);
    assert_true(cuts > 100 && ccuts > 50);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_bad_input_gives_its_status_and_names_the_place),
        cmocka_unit_test(huge_names_lines_and_nesting_are_refused_with_their_place),
        cmocka_unit_test(huge_configurations_are_refused_with_their_place),
        cmocka_unit_test(truncated_models_and_configurations_are_never_taken_for_whole),
    };
    return cmocka_run_group_tests_name("bad_inputs", tests, NULL, NULL);
}
