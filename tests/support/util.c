#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
/*
 * util.c - file and text helpers for the tests.
 */
#include "testlib.h"
#include "textbuf.h"

#include <stdlib.h>
#include <string.h>

const char *qpt_data_dir = "tests/data";

bool
qpt_data_exists(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", qpt_data_dir, rel);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

char *
qpt_read_file(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", qpt_data_dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open %s\n", path);
        fail();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = test_malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    assert_int_equal(got, (size_t)n);
    buf[n] = 0;
    if (len)
        *len = (size_t)n;
    return buf;
}

/* cmocka's realloc, as a function (test_realloc is a macro) */
static void *
re(void *p, size_t n)
{
    return test_realloc(p, n);
}

static int
sbuf_write(void *ud, const char *data, size_t len)
{
    return qpt_textbuf_append(ud, data, len, re);
}

char *
qpt_graph_text(const qp_graph *g)
{
    qpt_textbuf b = {NULL, 0, 0};
    assert_int_equal(qp_graph_write_text(g, sbuf_write, &b), QP_OK);
    if (!b.p) {
        b.p = test_malloc(1);
        b.p[0] = 0;
    }
    return b.p;
}

qp_graph *
qpt_parse(const char *text, const qp_allocator *a)
{
    qp_read_opts o = {a, 0, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, strlen(text), &o, &g, &err);
    if (rc) {
        print_error("parse failed: %u:%u: %s\n", (unsigned)err.line, (unsigned)err.col, err.msg);
        fail();
    }
    return g;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
qpt_list(const char *reldir, const char *suffix, char ***names)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", qpt_data_dir, reldir);
    DIR *d = opendir(path);
    if (!d) {
        print_error("cannot open %s\n", path);
        fail();
    }
    size_t n = 0, cap = 0, sl = strlen(suffix);
    char **out = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < sl || strcmp(e->d_name + l - sl, suffix))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            out = test_realloc(out, cap * sizeof *out);
        }
        out[n] = test_malloc(l + 1);
        memcpy(out[n], e->d_name, l + 1);
        n++;
    }
    closedir(d);
    if (n)
        qsort(out, n, sizeof *out, cmp_str);
    *names = out;
    return n;
}

void
qpt_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        test_free(names[i]);
    test_free(names);
}
