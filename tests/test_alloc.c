/*
 * test_alloc.c - the library's default allocator (alloc.c): blocks keep their
 * bytes through every resize, small to big (mapped, huge-page advised on
 * Linux), big to bigger (remapped), big to smaller, back under the mapping
 * threshold and freed; big blocks are 2 MiB aligned where they are mapped.
 */
#include "testlib.h"

#include "internal.h"

#include <stdint.h>
#include <string.h>

static void
fill(unsigned char *p, size_t from, size_t to, unsigned seed)
{
    for (size_t i = from; i < to; i++)
        p[i] = (unsigned char)(i * 131u + seed);
}

static void
check(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 509) /* a prime stride: every page, varied offsets */
        if (p[i] != (unsigned char)(i * 131u + seed))
            fail_msg("byte %zu of %zu lost", i, n);
    if (n && p[n - 1] != (unsigned char)((n - 1) * 131u + 7))
        fail_msg("last byte of %zu lost", n);
}

static void
every_resize_keeps_the_bytes(void **state)
{
    (void)state;
    qp_allocator a = qp_allocator_default(); /* what a NULL qp_allocator* means */
    const size_t MiB = (size_t)1 << 20;
    /* sizes crossing the 2 MiB line both ways and moving within both classes */
    const size_t sizes[] = {1 * MiB,        3 * MiB + 123,   13 * MiB + 7,   13 * MiB + 9,
                            9 * MiB,        2 * MiB,         2 * MiB - 1,    MiB / 2,
                            6 * MiB + 4095, 64 * MiB + 4097, 2 * MiB + 4097, 8 * MiB};
    size_t cur = 0;
    unsigned char *p = NULL;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        p = a.fn(a.ud, p, cur, n);
        assert_non_null(p);
        check(p, cur < n ? cur : n, 7);
        if (n > cur)
            fill(p, cur, n, 7);
        check(p, n, 7);
#if defined(__linux__) && !defined(QP_NO_HUGE_PAGES) /* alloc.c maps big blocks itself */
        /* aligned when mapped; where a grown block moves is the kernel's choice */
        if (n >= 2 * MiB && cur < 2 * MiB)
            assert_int_equal((uintptr_t)p % (2 * MiB), 0);
#endif
        cur = n;
    }
    assert_null(a.fn(a.ud, p, cur, 0));
}

/* Two big blocks growing in turn, as a graph's arrays do while it is read, each
 * move landing among the other's runs: bytes kept in both. (Under valgrind, the
 * big graph below is what showed moves onto a run mapped first going astray.) */
static void
blocks_growing_in_turn_keep_their_bytes(void **state)
{
    (void)state;
    qp_allocator a = qp_allocator_default();
    unsigned char *p[2] = {NULL, NULL};
    size_t cur[2] = {0, 0};
    for (size_t n = 1000; n < ((size_t)24 << 20); n = n * 3 / 2 + 4097) {
        for (int k = 0; k < 2; k++) {
            size_t want = n + (size_t)k * 289000;
            p[k] = a.fn(a.ud, p[k], cur[k], want);
            assert_non_null(p[k]);
            check(p[k], cur[k], 7);
            fill(p[k], cur[k], want, 7);
            cur[k] = want;
        }
        check(p[0], cur[0], 7);
        check(p[1], cur[1], 7);
    }
    for (int k = 0; k < 2; k++)
        assert_null(a.fn(a.ud, p[k], cur[k], 0));
}

static void
a_big_graph_through_the_default_allocator(void **state)
{
    (void)state;
    /* a chain long enough for the graph's arrays and string chunks to pass 2 MiB,
     * be remapped while growing and trimmed after reading */
    enum { N = 150000 };
    size_t len;
    char *text = qpt_relu_chain(N, "relu", &len);
    qp_graph *g = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, len, NULL, &g, &err);
    if (rc)
        fail_msg("line %u: %s", (unsigned)err.line, err.msg);
    assert_int_equal(qp_graph_num_nodes(g), (uint32_t)N + 2);
    assert_int_equal(qp_node_op(g, qp_graph_find_node(g, "relu_149999")), QP_OP_CALL_FUNCTION);
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    qp_graph_destroy(g);
    test_free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_resize_keeps_the_bytes),
        cmocka_unit_test(blocks_growing_in_turn_keep_their_bytes),
        cmocka_unit_test(a_big_graph_through_the_default_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
