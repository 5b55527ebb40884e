/*
 * prep_util.c - helpers for prepare tests: run qp_prepare_qat on a text graph
 * with the leak-checked allocator and hand back the prepared text.
 */
#include "testlib.h"

#include <string.h>

qp_config *
qpt_config(const char *text)
{
    qp_config *c = NULL;
    qp_error err;
    if (qp_config_read_text(text, strlen(text), NULL, &c, &err)) {
        print_error("config: %u:%u: %s\n", (unsigned)err.line, (unsigned)err.col, err.msg);
        fail();
    }
    return c;
}

qp_config *
qpt_config_file(const char *rel)
{
    size_t len;
    char *text = qpt_read_file(rel, &len);
    qp_config *c = NULL;
    qp_error err;
    if (qp_config_read_text(text, len, NULL, &c, &err)) {
        print_error("%s:%u:%u: %s\n", rel, (unsigned)err.line, (unsigned)err.col, err.msg);
        fail();
    }
    test_free(text);
    return c;
}

bool
qpt_fixture_parse(const char *name, qpt_fixture *f)
{
    const char *d1 = strchr(name, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2)
        return false;
    snprintf(f->model, sizeof f->model, "%.*s", (int)(d1 - name), name);
    snprintf(f->backend, sizeof f->backend, "%.*s", (int)(d2 - d1 - 1), d1 + 1);
    f->cfg_rel[0] = 0;
    if (strncmp(d2, ".out.qg", 7)) {
        const char *d3 = strchr(d2 + 1, '.');
        if (!d3)
            return false;
        snprintf(f->cfg_rel, sizeof f->cfg_rel, "configs/%s-%.*s.qcfg", f->model,
                 (int)(d3 - d2 - 1), d2 + 1);
        if (!qpt_data_exists(f->cfg_rel))
            snprintf(f->cfg_rel, sizeof f->cfg_rel, "configs/%.*s.qcfg", (int)(d3 - d2 - 1),
                     d2 + 1);
    } else if (!strncmp(f->backend, "Academic", 8)) {
        snprintf(f->cfg_rel, sizeof f->cfg_rel, "configs/academic.qcfg");
    }
    return true;
}

char *
qpt_prepare(const char *in, qp_backend be, const qp_config *cfg, qp_status want)
{
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse(in, &a);
    char *before = qpt_graph_text(g);
    qp_status rc = qp_prepare_qat(g, be, cfg);
    if (rc != want) {
        print_error("prepare for %s: %s (%s), wanted %s\n", qp_backend_name(be),
                    qp_status_str(rc), qp_graph_errmsg(g), qp_status_str(want));
        fail();
    }
    char *out = qpt_graph_text(g);
    if (rc) {
        /* a failure leaves the graph as it was; the caller gets the message */
        assert_string_equal(before, out);
        test_free(out);
        size_t n = strlen(qp_graph_errmsg(g));
        out = test_malloc(n + 1);
        memcpy(out, qp_graph_errmsg(g), n + 1);
    } else {
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    }
    test_free(before);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
    return out;
}

void
qpt_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("expected to find:\n  %s\nin:\n%s\n", needle, hay);
        fail();
    }
}

void
qpt_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle)) {
        print_error("expected not to find:\n  %s\nin:\n%s\n", needle, hay);
        fail();
    }
}

void
qpt_each_fixture_backend(qpt_run_fn *fn, void *ud)
{
    char **names;
    size_t n = qpt_list("fixtures", ".in.qg", &names);
    qp_config *ac = qpt_config_file("configs/academic.qcfg");
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/%s", names[i]);
        char *text = qpt_read_file(rel, NULL);
        for (int b = 0; b < QP_BACKEND_COUNT; b++) {
            bool academic = b == QP_BACKEND_ACADEMIC || b == QP_BACKEND_ACADEMIC_NLP;
            fn(ud, names[i], text, (qp_backend)b, academic ? ac : NULL);
        }
        test_free(text);
    }
    qp_config_destroy(ac);
    qpt_free_list(names, n);
}
