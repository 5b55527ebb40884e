/*
 * cmd_replay.c - qprep replay: runs the quantizer runtime through every case
 * of a .qn file (tests/data/numerics/FORMAT.md, "Step semantics") and writes
 * the file back with its own y, dx, grad.* and state.*, or (--check) compares
 * them with the recorded ones under FORMAT.md's tolerances, as qnum.py does,
 * so the numerics are checked without Python.
 */
#include "cli.h"
#include "qn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = "qprep replay CASE.qn [-o OUT.qn] | qprep replay --check "
                                 "[--by-kind] CASE.qn...";

/* ==== reading ==== */

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *b = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "%s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static qn_file *
read_cases(const char *path)
{
    size_t len = 0;
    char *text = slurp(path, &len);
    if (!text)
        return NULL;
    qn_file *f = NULL;
    qp_error err;
    if (qn_read(text, len, NULL, &f, &err))
        fprintf(stderr, "%s:%u:%u: %s\n", path, (unsigned)err.line,
                (unsigned)(err.col ? err.col : 1), err.msg);
    free(text);
    return f;
}

/* ==== one case ==== */

/* A tensor the replay produced: borrowed data, owned name. */
struct view {
    char *name;
    qp_tensor t;
    size_t rank; /* output order */
};

struct run {
    const char *path;
    const qn_case *c;
    qp_quant *q;
    struct view *v;
    size_t nv, capv;
    float *y, *dx;
    unsigned problems; /* --check: printed for this case so far */
};

static int
problem(const struct run *r, uint32_t line, uint32_t step, const char *what, const char *msg)
{
    fprintf(stderr, "%s:%u: case %s", r->path, (unsigned)line, r->c->name);
    if (step)
        fprintf(stderr, " step %u", (unsigned)step);
    fprintf(stderr, ": %s%s%s\n", what, msg && msg[0] ? ": " : "", msg ? msg : "");
    return EXIT_BAD;
}

static int
add_view(struct run *r, const char *prefix, const char *name, const qp_tensor *t)
{
    if (r->nv == r->capv) {
        size_t nc = r->capv ? 2 * r->capv : 32;
        struct view *v = realloc(r->v, nc * sizeof *v);
        if (!v)
            return -1;
        r->v = v;
        r->capv = nc;
    }
    size_t pl = strlen(prefix), nl = strlen(name);
    char *s = malloc(pl + nl + 1);
    if (!s)
        return -1;
    memcpy(s, prefix, pl);
    memcpy(s + pl, name, nl + 1);
    r->v[r->nv++] = (struct view){s, *t, 0};
    return 0;
}

static void
clear_views(struct run *r)
{
    for (size_t i = 0; i < r->nv; i++)
        free(r->v[i].name);
    r->nv = 0;
}

static qp_tensor
f32_like(const qp_tensor *x, float *data)
{
    qp_tensor t = *x;
    t.dtype = QP_DT_F32;
    t.data = data;
    return t;
}

/* Builds the quantizer the case describes; prints the problem and returns NULL. */
static qp_quant *
create(const struct run *r)
{
    const qn_case *c = r->c;
    qp_backend be;
    if (qp_backend_from_name(c->backend, &be)) {
        problem(r, c->line, 0, "unknown backend", c->backend);
        return NULL;
    }
    qp_config *cfg = NULL;
    qp_error err;
    if (c->config) {
        /* the value of a .qcfg extra_qconfig_dict line */
        static const char pre[] = "qcfg 1\nextra_qconfig_dict = ";
        size_t cl = strlen(c->config);
        char *text = malloc(sizeof pre + cl + 1);
        if (!text) {
            problem(r, c->config_line, 0, "out of memory", NULL);
            return NULL;
        }
        memcpy(text, pre, sizeof pre - 1);
        memcpy(text + sizeof pre - 1, c->config, cl);
        memcpy(text + sizeof pre - 1 + cl, "\n", 2);
        qp_status rc = qp_config_read_text(text, sizeof pre + cl, NULL, &cfg, &err);
        free(text);
        if (rc) {
            /* the column in the case file: "config " instead of "extra_qconfig_dict = " */
            unsigned col = err.line == 2 && err.col > 21 ? (unsigned)err.col - 21 + 7 : 1;
            fprintf(stderr, "%s:%u:%u: case %s: config: %s\n", r->path, (unsigned)c->config_line,
                    col, c->name, err.msg);
            return NULL;
        }
    }
    qp_quant_opts o = qp_quant_opts_default();
    if (c->has_ch_axis)
        o.ch_axis = c->ch_axis;
    o.quant_type = c->quant_type;
    qp_quant *q = NULL;
    qp_status rc = qp_quant_create(NULL, be, c->role, cfg, &o, &q, &err);
    qp_config_destroy(cfg);
    if (rc) {
        problem(r, c->line, 0, "creating the quantizer failed", err.msg);
        return NULL;
    }
    return q;
}

/* Runs step k (0-based) of the case: FORMAT.md's six rules; the produced tensors end up
 * in r->v, in the input's order where it has them. */
static int
run_step(struct run *r, uint32_t k)
{
    const qn_case *c = r->c;
    const qn_step *s = &c->steps[k];
    qp_quant *q = r->q;
    uint32_t K = k + 1;
    clear_views(r);
    /* 1. the state recorded after the previous step */
    if (k) {
        const qn_step *p = &c->steps[k - 1];
        for (uint32_t i = 0; i < p->nt; i++) {
            if (strncmp(p->t[i].name, "state.", 6))
                continue;
            if (qp_quant_state_set(q, p->t[i].name + 6, &p->t[i].t))
                return problem(r, p->t[i].line, K, "setting the recorded state failed",
                               qp_quant_errmsg(q));
        }
    }
    /* 2. the switches */
    qp_quant_enable_observer(q, s->observer);
    qp_quant_enable_fake_quant(q, s->fake_quant);
    /* 3. forward */
    const qn_tensor *x = qn_step_find(s, "x"), *dy = qn_step_find(s, "dy");
    if (!x || x->t.dtype != QP_DT_F32)
        return problem(r, s->line, K, x ? "x is not f32" : "no tensor x", NULL);
    if (dy && (dy->t.dtype != QP_DT_F32 || dy->t.numel != x->t.numel || dy->t.ndim != x->t.ndim ||
               memcmp(dy->t.shape, x->t.shape, x->t.ndim * sizeof x->t.shape[0])))
        return problem(r, dy->line, K, "dy is not an f32 tensor of x's shape", NULL);
    size_t n = x->t.numel ? x->t.numel : 1;
    free(r->y);
    free(r->dx);
    r->y = malloc(n * sizeof(float));
    r->dx = malloc(n * sizeof(float));
    if (!r->y || !r->dx)
        return problem(r, s->line, K, "out of memory", NULL);
    if (qp_quant_forward(q, x->t.data, r->y, x->t.shape, x->t.ndim))
        return problem(r, x->line, K, "forward failed", qp_quant_errmsg(q));
    qp_tensor t = f32_like(&x->t, r->y);
    if (add_view(r, "", "x", &x->t) || add_view(r, "", "y", &t))
        return problem(r, s->line, K, "out of memory", NULL);
    /* 4. backward, gradients from zero */
    if (dy) {
        qp_quant_zero_grad(q);
        if (qp_quant_backward(q, x->t.data, dy->t.data, r->dx, x->t.shape, x->t.ndim))
            return problem(r, dy->line, K, "backward failed", qp_quant_errmsg(q));
        t = f32_like(&x->t, r->dx);
        if (add_view(r, "", "dy", &dy->t) || add_view(r, "", "dx", &t))
            return problem(r, s->line, K, "out of memory", NULL);
        uint32_t np = qp_quant_num_params(q);
        for (uint32_t i = 0; i < np; i++) {
            qp_quant_param p;
            if (qp_quant_param_at(q, i, &p))
                return problem(r, s->line, K, "reading a parameter failed", qp_quant_errmsg(q));
            /* the parameter's shape is its state entry's */
            qp_tensor g;
            if (qp_quant_state_get(q, p.name, &g) || g.numel != p.numel || g.dtype != QP_DT_F32) {
                memset(&g, 0, sizeof g);
                g.ndim = 1;
                g.shape[0] = (int64_t)p.numel;
                g.numel = p.numel;
            }
            g.dtype = QP_DT_F32;
            g.data = p.grad;
            if (add_view(r, "grad.", p.name, &g))
                return problem(r, s->line, K, "out of memory", NULL);
            /* 5. plain SGD, one rounding: torch's p.add_(grad, alpha=-lr) */
            if (s->has_lr) {
                float a = (float)-s->lr;
                for (size_t e = 0; e < p.numel; e++)
                    p.data[e] = fmaf(p.grad[e], a, p.data[e]);
            }
        }
    }
    /* 6. the state after it all */
    uint32_t ns = qp_quant_num_state(q);
    for (uint32_t i = 0; i < ns; i++) {
        const char *name;
        if (qp_quant_state_at(q, i, &name, &t))
            return problem(r, s->line, K, "reading the state failed", qp_quant_errmsg(q));
        if (add_view(r, "state.", name, &t))
            return problem(r, s->line, K, "out of memory", NULL);
    }
    /* the input's order where it has the tensor, then the produced order */
    for (size_t i = 0; i < r->nv; i++) {
        r->v[i].rank = s->nt + i;
        for (uint32_t j = 0; j < s->nt; j++)
            if (!strcmp(s->t[j].name, r->v[i].name))
                r->v[i].rank = j;
    }
    for (size_t i = 1; i < r->nv; i++) /* insertion sort: stable, a handful of tensors */
        for (size_t j = i; j > 0 && r->v[j - 1].rank > r->v[j].rank; j--) {
            struct view tmp = r->v[j];
            r->v[j] = r->v[j - 1];
            r->v[j - 1] = tmp;
        }
    return EXIT_OK;
}

/* --check: counts, in all and (--by-kind) per fake-quantizer/observer pair. */
struct kind_count {
    char name[128];
    size_t cases, match, exact;
};
struct tally {
    size_t cases, match, exact;
    bool by_kind;
    struct kind_count *k;
    size_t nk, capk;
};

/* "LearnableFakeQuantize/MinMaxObserver", from the case's module lines (as written). */
static void
kind_of(const qn_case *c, char *buf, size_t cap)
{
    static const char *const pre[2] = {"module q fq.", "module q.activation_post_process obs."};
    const char *part[2] = {"?", "?"};
    int len[2] = {1, 1};
    for (uint32_t i = 0; i < c->nhead; i++)
        for (int j = 0; j < 2; j++)
            if (!strncmp(c->head[i].text, pre[j], strlen(pre[j]))) {
                part[j] = c->head[i].text + strlen(pre[j]);
                len[j] = (int)strcspn(part[j], " ");
            }
    snprintf(buf, cap, "%.*s/%.*s", len[0], part[0], len[1], part[1]);
}

/* The count of c's kind (NULL when out of memory: then counted in all only). */
static struct kind_count *
kind_count(struct tally *tl, const qn_case *c)
{
    char name[128];
    kind_of(c, name, sizeof name);
    for (size_t i = 0; i < tl->nk; i++)
        if (!strcmp(tl->k[i].name, name))
            return &tl->k[i];
    if (tl->nk == tl->capk) {
        size_t nc = tl->capk ? 2 * tl->capk : 32;
        struct kind_count *k = realloc(tl->k, nc * sizeof *k);
        if (!k)
            return NULL;
        tl->k = k;
        tl->capk = nc;
    }
    struct kind_count *k = &tl->k[tl->nk++];
    memset(k, 0, sizeof *k);
    memcpy(k->name, name, sizeof name);
    return k;
}

static int
cmp_kind(const void *a, const void *b)
{
    return strcmp(((const struct kind_count *)a)->name, ((const struct kind_count *)b)->name);
}

/* Prints a --check problem; after three in a case only counts them. */
static void
report(struct run *r, uint32_t k, const char *msg)
{
    if (r->problems++ < 3)
        printf("%s: %s: step %u: %s\n", r->path, r->c->name, (unsigned)k + 1, msg);
}

static bool
check_step(struct run *r, uint32_t k, bool *exact)
{
    const qn_step *s = &r->c->steps[k];
    int64_t span = qn_grid_span(r->c);
    bool ok = true;
    char msg[512];
    for (uint32_t i = 0; i < s->nt; i++) {
        const qn_tensor *e = &s->t[i];
        const struct view *g = NULL;
        for (size_t j = 0; j < r->nv && !g; j++)
            if (!strcmp(r->v[j].name, e->name))
                g = &r->v[j];
        bool ex = false;
        if (!g) {
            snprintf(msg, sizeof msg, "tensor %s missing", e->name);
        } else {
            double floor = strncmp(e->name, "grad.", 5) ? 0 : qn_grad_floor(s, e, span);
            if (qn_compare_tensor(e->name, &e->t, &g->t, floor, &ex, msg, sizeof msg))
                msg[0] = 0;
        }
        *exact = *exact && ex;
        if (msg[0]) {
            report(r, k, msg);
            ok = false;
        }
    }
    for (size_t j = 0; j < r->nv; j++)
        if (!qn_step_find(s, r->v[j].name)) {
            snprintf(msg, sizeof msg, "unexpected tensor %s", r->v[j].name);
            report(r, k, msg);
            ok = false;
        }
    return ok;
}

/* Replays one case: writes it to o (when o), or checks it into tally. */
static int
replay_case(const char *path, const qn_case *c, qn_out *o, struct tally *tl)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.c = c;
    r.q = create(&r);
    if (o)
        qn_write_case_head(o, c);
    int st = r.q ? EXIT_OK : EXIT_BAD;
    bool ok = true, exact = true;
    for (uint32_t k = 0; k < c->nsteps && !st; k++) {
        st = run_step(&r, k);
        if (st)
            break;
        if (o) {
            qn_write_step_line(o, &c->steps[k]);
            for (size_t i = 0; i < r.nv; i++)
                qn_write_tensor(o, r.v[i].name, &r.v[i].t);
        } else {
            ok = check_step(&r, k, &exact) && ok;
        }
    }
    if (o)
        qn_out_str(o, "end\n");
    if (r.problems > 3)
        printf("%s: %s: %u problems in all\n", path, c->name, r.problems);
    if (tl) {
        struct kind_count *kc = tl->by_kind ? kind_count(tl, c) : NULL;
        bool m = !st && ok, e = m && exact;
        tl->cases++, tl->match += m, tl->exact += e;
        if (kc)
            kc->cases++, kc->match += m, kc->exact += e;
    }
    clear_views(&r);
    free(r.v);
    free(r.y);
    free(r.dx);
    qp_quant_destroy(r.q);
    return st;
}

/* ==== the command ==== */

static int
check_files(int n, char **paths, bool by_kind)
{
    struct tally tl;
    memset(&tl, 0, sizeof tl);
    tl.by_kind = by_kind;
    int st = EXIT_OK;
    for (int i = 0; i < n; i++) {
        qn_file *f = read_cases(paths[i]);
        if (!f) {
            st = EXIT_BAD;
            continue;
        }
        for (uint32_t j = 0; j < f->ncases; j++)
            if (replay_case(paths[i], &f->cases[j], NULL, &tl))
                st = EXIT_BAD;
        qn_free(f);
    }
    if (tl.nk)
        qsort(tl.k, tl.nk, sizeof *tl.k, cmp_kind);
    for (size_t i = 0; i < tl.nk; i++)
        printf("%-45s %4zu/%-4zu match (%zu bit for bit)\n", tl.k[i].name, tl.k[i].match,
               tl.k[i].cases, tl.k[i].exact);
    free(tl.k);
    printf("%zu/%zu cases match (%zu bit for bit)\n", tl.match, tl.cases, tl.exact);
    if (!tl.cases || tl.match != tl.cases)
        st = EXIT_BAD;
    return st;
}

int
cmd_replay(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    if (argc >= 2 && !strcmp(argv[1], "--check")) {
        bool by_kind = argc >= 3 && !strcmp(argv[2], "--by-kind");
        int first = 2 + by_kind;
        if (argc <= first) {
            fprintf(stderr, "usage: %s\n", usage_text);
            return EXIT_USAGE;
        }
        return check_files(argc - first, argv + first, by_kind);
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "qprep: unknown option '%s'\nusage: %s\n", argv[i], usage_text);
            return EXIT_USAGE;
        } else if (!in) {
            in = argv[i];
        } else {
            fprintf(stderr, "qprep: one input file only\nusage: %s\n", usage_text);
            return EXIT_USAGE;
        }
    }
    if (!in) {
        fprintf(stderr, "usage: %s\n", usage_text);
        return EXIT_USAGE;
    }
    qn_file *f = read_cases(in);
    if (!f)
        return EXIT_BAD;
    FILE *fo = cli_open_out(out);
    if (!fo) {
        qn_free(f);
        return EXIT_BAD;
    }
    qn_out *o = malloc(sizeof *o);
    if (!o) {
        fprintf(stderr, "qprep: out of memory\n");
        qn_free(f);
        cli_close_out(fo, out ? out : "-");
        return EXIT_BAD;
    }
    qn_out_init(o, cli_file_write, fo);
    qn_write_header(o);
    /* every case that can be replayed is written; any failure makes the status 1 */
    int st = EXIT_OK;
    for (uint32_t j = 0; j < f->ncases; j++)
        if (replay_case(in, &f->cases[j], o, NULL))
            st = EXIT_BAD;
    for (uint32_t i = 0; i < f->ntail; i++) {
        qn_out_str(o, f->tail[i].text);
        qn_out_str(o, "\n");
    }
    if (qn_out_flush(o)) {
        fprintf(stderr, "%s: write error\n", out ? out : "stdout");
        st = EXIT_BAD;
    }
    free(o);
    qn_free(f);
    int cst = cli_close_out(fo, out ? out : "-");
    return st ? st : cst;
}
