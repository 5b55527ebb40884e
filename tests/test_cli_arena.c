/*
 * test_cli_arena.c - the qprep tool's arena allocator for small graphs
 * (examples/cli/cli_arena.c):
 *
 *  - blocks come out in order; the last one grows, shrinks and is freed in place;
 *    another grows by moving with its bytes; what does not fit comes from malloc,
 *    and malloc's blocks are resized and freed by malloc;
 *  - every input fixture read, prepared and written with the arena (of a size that
 *    holds it all, and of sizes that run out early and late) gives the same text
 *    as with the library's default allocator.
 */
#include "testlib.h"

#include "cli.h"

static _Alignas(16) char mem[2u << 20];

static bool
inside(const cli_arena *a, const void *p)
{
    return (uintptr_t)p >= (uintptr_t)a->base && (uintptr_t)p < (uintptr_t)a->end;
}

static void
test_order_and_reuse(void **state)
{
    (void)state;
    cli_arena a;
    qp_allocator al = cli_arena_allocator(&a, mem, 4096);
    char *p = al.fn(al.ud, NULL, 0, 10);
    char *q = al.fn(al.ud, NULL, 0, 20);
    assert_ptr_equal(p, mem);
    assert_ptr_equal(q, mem + 16); /* 16-byte steps */
    memset(q, 'q', 20);
    /* the last block grows in place */
    char *q2 = al.fn(al.ud, q, 20, 100);
    assert_ptr_equal(q2, q);
    assert_int_equal(q2[19], 'q');
    /* another block grows by moving, bytes and all */
    memset(p, 'p', 10);
    char *p2 = al.fn(al.ud, p, 10, 40);
    assert_ptr_not_equal(p2, p);
    assert_true(inside(&a, p2));
    assert_memory_equal(p2, "pppppppppp", 10);
    /* and shrinks where it is */
    assert_ptr_equal(al.fn(al.ud, p2, 40, 8), p2);
    /* the last block freed: its room is the next block */
    char *r = al.fn(al.ud, NULL, 0, 32);
    assert_null(al.fn(al.ud, r, 32, 0));
    assert_ptr_equal(al.fn(al.ud, NULL, 0, 48), r);
    /* a block freed elsewhere leaves its room unused */
    assert_null(al.fn(al.ud, q2, 100, 0));
    char *s = al.fn(al.ud, NULL, 0, 16);
    assert_true(s > r);
    /* what does not fit is malloc's, and malloc resizes and frees it */
    char *big = al.fn(al.ud, NULL, 0, 8192);
    assert_non_null(big);
    assert_false(inside(&a, big));
    memset(big, 'b', 8192);
    char *big2 = al.fn(al.ud, big, 8192, 16384);
    assert_non_null(big2);
    assert_false(inside(&a, big2));
    assert_int_equal(big2[8191], 'b');
    assert_null(al.fn(al.ud, big2, 16384, 0));
    /* the last block grown past the end moves to malloc, and its room comes back */
    char *t = al.fn(al.ud, NULL, 0, 64);
    memset(t, 't', 64);
    char *t2 = al.fn(al.ud, t, 64, 8192);
    assert_false(inside(&a, t2));
    assert_int_equal(t2[63], 't');
    assert_ptr_equal(al.fn(al.ud, NULL, 0, 16), t);
    assert_null(al.fn(al.ud, t2, 8192, 0));
}

/* The prepared text of in (NULL on a failed prepare) with allocator al (NULL: default). */
static char *
prepared(const char *in, size_t len, const qp_allocator *al, qp_backend be)
{
    qp_read_opts o = {al, 0, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    assert_int_equal(qp_graph_read_text(in, len, &o, &g, &err), QP_OK);
    char *t = qp_prepare_qat(g, be, NULL) ? NULL : qpt_graph_text(g);
    qp_graph_destroy(g);
    return t;
}

static void
test_fixtures_same_text(void **state)
{
    (void)state;
    char **names;
    size_t n = qpt_list("fixtures", ".in.qg", &names);
    assert_true(n > 5);
    static const size_t sizes[] = {sizeof mem, 64u << 10, 4096};
    static const qp_backend backends[] = {QP_BACKEND_TENSORRT, QP_BACKEND_SNPE};
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/%s", names[i]);
        size_t len;
        char *in = qpt_read_file(rel, &len);
        for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
            char *want = prepared(in, len, NULL, backends[b]);
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                cli_arena a;
                qp_allocator al = cli_arena_allocator(&a, mem, sizes[k]);
                char *got = prepared(in, len, &al, backends[b]);
                if (!want || !got) {
                    assert_true(!want && !got);
                    continue;
                }
                if (strcmp(want, got))
                    fail_msg("%s, arena of %zu bytes: the prepared text differs", names[i],
                             sizes[k]);
                test_free(got);
            }
            if (want)
                test_free(want);
        }
        test_free(in);
    }
    qpt_free_list(names, n);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_order_and_reuse),
    cmocka_unit_test(test_fixtures_same_text),
};

QPT_MAIN(tests)
