/*
 * test_sym.c - string interning (sym.c): one id per distinct byte string,
 * lookups that do not intern, big and many strings, and bytes that never
 * move while the graph lives.
 */
#include "testlib.h"

#include <string.h>

static uint32_t
intern(qp_graph *g, const char *s, size_t len)
{
    uint32_t id = 0;
    assert_int_equal(qp__sym_intern(g, s, len, &id), QP_OK);
    return id;
}

static void
interning_the_same_bytes_gives_the_same_id(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    uint32_t a = intern(g, "conv1", 5);
    uint32_t b = intern(g, "conv1", 5);
    uint32_t c = intern(g, "conv2", 5);
    uint32_t d = intern(g, "conv", 4); /* a prefix is another string */
    assert_true(a != 0);
    assert_int_equal(a, b);
    assert_true(a != c && a != d && c != d);
    assert_string_equal(qp__sym_str(g, a), "conv1");
    assert_int_equal(qp__sym_len(g, a), 5);
    assert_string_equal(qp__sym_str(g, d), "conv");
    /* the string is copied: the caller's buffer may change */
    char buf[8] = "relu";
    uint32_t r = intern(g, buf, 4);
    buf[0] = 'X';
    assert_string_equal(qp__sym_str(g, r), "relu");
    assert_int_equal(intern(g, "relu", 4), r);
    qpt_done(g, &st);
}

static void
the_empty_string_is_sym_zero(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    assert_int_equal(intern(g, "", 0), 0);
    assert_int_equal(intern(g, NULL, 0), 0);
    assert_string_equal(qp__sym_str(g, 0), "");
    assert_int_equal(qp__sym_len(g, 0), 0);
    assert_int_equal(qp__sym_find(g, "", 0), 0);
    qpt_done(g, &st);
}

static void
lookup_does_not_intern(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    uint32_t n = g->st.n;
    assert_int_equal(qp__sym_find(g, "absent", 6), 0);
    assert_int_equal(g->st.n, n);
    uint32_t id = intern(g, "present", 7);
    assert_int_equal(qp__sym_find(g, "present", 7), id);
    assert_int_equal(qp__sym_find(g, "presen", 6), 0);
    assert_int_equal(qp__sym_find(g, "present!", 8), 0);
    /* by length, not by NUL: "a\0b" and "a" are different strings */
    uint32_t x = intern(g, "a\0b", 3);
    uint32_t y = intern(g, "a", 1);
    assert_true(x != y);
    assert_int_equal(qp__sym_len(g, x), 3);
    assert_memory_equal(qp__sym_str(g, x), "a\0b", 4); /* and NUL-terminated */
    assert_int_equal(qp__sym_find(g, "a\0b", 3), x);
    assert_int_equal(qp__sym_find(g, "a\0c", 3), 0);
    qpt_done(g, &st);
}

static void
big_strings_are_stored_whole(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* around the length where the header grows from one byte to five, the sizes
     * where a string gets a chunk of its own (a quarter chunk), a whole chunk, and
     * far beyond */
    static const size_t sizes[] = {1,     254,   255,   256,   16383,    16384,
                                   16385, 65535, 65536, 65537, 1u << 20, 3000000};
    uint32_t ids[sizeof sizes / sizeof sizes[0]];
    const char *ptrs[sizeof sizes / sizeof sizes[0]];
    char *buf = test_malloc(3000001);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (size_t i = 0; i < sizes[k]; i++)
            buf[i] = (char)('a' + (i * 7 + k) % 26);
        ids[k] = intern(g, buf, sizes[k]);
        ptrs[k] = qp__sym_str(g, ids[k]);
        /* small strings in between share chunks */
        char small[32];
        snprintf(small, sizeof small, "small%zu", k);
        intern(g, small, strlen(small));
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (size_t i = 0; i < sizes[k]; i++)
            buf[i] = (char)('a' + (i * 7 + k) % 26);
        assert_int_equal(qp__sym_len(g, ids[k]), sizes[k]);
        assert_ptr_equal(qp__sym_str(g, ids[k]), ptrs[k]);
        assert_memory_equal(ptrs[k], buf, sizes[k]);
        assert_int_equal(ptrs[k][sizes[k]], 0);
        assert_int_equal(qp__sym_find(g, buf, sizes[k]), ids[k]);
    }
    test_free(buf);
    qpt_done(g, &st);
}

static void
many_strings_keep_their_ids_and_bytes(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    enum { N = 200000 };
    uint32_t *ids = test_malloc(N * sizeof *ids);
    const char **ptrs = test_malloc(N * sizeof *ptrs);
    char s[32];
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(s, sizeof s, "node_%u", (unsigned)i);
        ids[i] = intern(g, s, (size_t)len);
        ptrs[i] = qp__sym_str(g, ids[i]);
    }
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(s, sizeof s, "node_%u", (unsigned)i);
        assert_int_equal(qp__sym_find(g, s, (size_t)len), ids[i]);
        assert_ptr_equal(qp__sym_str(g, ids[i]), ptrs[i]); /* bytes never moved */
        assert_string_equal(ptrs[i], s);
        for (uint32_t j = i + 1; j < N && j < i + 3; j++)
            assert_true(ids[i] != ids[j]);
    }
    assert_int_equal(g->st.n, N + 1);
    /* the hash table stays at most 3/4 full (the load bound sym.c keeps) */
    assert_true((uint64_t)g->st.n * 4 <= (uint64_t)g->st.nslots * 3);
    test_free(ptrs);
    test_free(ids);
    qpt_done(g, &st);
}

static void
reserve_makes_the_next_interns_need_no_table_growth(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    assert_int_equal(qp__sym_reserve(g, 1000), QP_OK);
    /* short strings fit in the current chunk: no allocation at all */
    st.fail_at = st.calls + 1;
    st.fail_after = 1;
    char s[16];
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(s, sizeof s, "r%d", i);
        intern(g, s, (size_t)len);
    }
    assert_int_equal(st.failed, 0);
    st.fail_at = 0;
    qpt_done(g, &st);
}

static void
intern_failure_leaves_the_table_intact(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    /* fill up to a growth point so interning has to allocate */
    char s[32];
    uint32_t n0 = g->st.capsyms - g->st.n;
    for (uint32_t i = 0; i < n0; i++) {
        int len = snprintf(s, sizeof s, "fill%u", (unsigned)i);
        intern(g, s, (size_t)len);
    }
    uint32_t count = g->st.n;
    for (size_t k = 1;; k++) {
        st.fail_at = st.calls + k;
        uint32_t id = 77;
        qp_status rc = qp__sym_intern(g, "newcomer", 8, &id);
        st.fail_at = 0;
        if (rc == QP_OK) {
            assert_int_equal(qp__sym_find(g, "newcomer", 8), id);
            break;
        }
        assert_int_equal(rc, QP_ERR_NOMEM);
        assert_int_equal(g->st.n, count);
        assert_int_equal(qp__sym_find(g, "newcomer", 8), 0);
        assert_int_equal(qp__sym_find(g, "fill0", 5), intern(g, "fill0", 5));
        assert_true(k < 50);
    }
    for (uint32_t i = 0; i < n0; i++) {
        int len = snprintf(s, sizeof s, "fill%u", (unsigned)i);
        assert_true(qp__sym_find(g, s, (size_t)len) != 0);
    }
    qpt_done(g, &st);
}

static void
public_strings_stay_valid_until_destroy(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    qp_val v;
    assert_int_equal(qp_val_new_str(g, "hello", 5, &v), QP_OK);
    size_t len = 0;
    const char *p = qp_val_as_str(g, v, &len);
    assert_int_equal(len, 5);
    char s[32];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(s, sizeof s, "filler%d", i);
        qp_val w;
        assert_int_equal(qp_val_new_str(g, s, (size_t)n, &w), QP_OK);
    }
    assert_ptr_equal(qp_val_as_str(g, v, NULL), p);
    assert_string_equal(p, "hello");
    qpt_done(g, &st);
}

static void
every_byte_of_a_string_changes_its_hash(void **state)
{
    (void)state;
    /* around the eight-byte words and the short tails, each byte of each
     * position: a byte the hash skipped would make those strings collide */
    char s[24], t[24];
    for (size_t len = 1; len <= sizeof s; len++) {
        for (size_t i = 0; i < len; i++)
            s[i] = (char)('a' + (i * 5 + len) % 26);
        uint32_t h = qp__hash(s, len);
        for (size_t i = 0; i < len; i++) {
            memcpy(t, s, len);
            for (int flip = 1; flip < 256; flip <<= 1) {
                t[i] = (char)(s[i] ^ flip);
                assert_true(qp__hash(t, len) != h);
            }
        }
        /* the same bytes with a NUL more (the length counts) */
        memcpy(t, s, len);
        if (len < sizeof t) {
            t[len] = 0;
            assert_true(qp__hash(t, len + 1) != h);
        }
    }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Two strings of 8 bytes whose whole 32-bit qp__hash is the same (found among
 * enough candidates that the birthday bound all but guarantees one). */
static void
same_hash_pair(char a[9], char b[9])
{
    enum { N = 600000 };
    uint64_t *k = test_malloc(N * sizeof *k);
    char s[16];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(s, sizeof s, "h%07u", (unsigned)i);
        k[i] = (uint64_t)qp__hash(s, 8) << 32 | i;
    }
    qsort(k, N, sizeof *k, cmp_u64);
    uint32_t i = 1;
    while (i < N && k[i] >> 32 != k[i - 1] >> 32)
        i++;
    assert_true(i < N);
    snprintf(a, 9, "h%07u", (unsigned)(k[i - 1] & 0xffffffffu));
    snprintf(b, 9, "h%07u", (unsigned)(k[i] & 0xffffffffu));
    test_free(k);
    assert_true(strcmp(a, b) != 0);
    assert_int_equal(qp__hash(a, 8), qp__hash(b, 8));
}

static void
strings_with_the_same_hash_are_told_apart(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    char a[9], b[9];
    same_hash_pair(a, b);
    /* same length and hash, so the same slot tag at every table size: only the
     * bytes tell them apart */
    uint32_t ia = intern(g, a, 8);
    assert_int_equal(qp__sym_find(g, b, 8), 0);
    uint32_t ib = intern(g, b, 8);
    assert_true(ia != ib);
    assert_int_equal(intern(g, a, 8), ia);
    assert_int_equal(intern(g, b, 8), ib);
    /* and still after the table grew (rebuilt from the strings) */
    uint32_t ns = g->st.nslots;
    char s[32];
    for (int i = 0; g->st.nslots < ns * 8; i++) {
        int len = snprintf(s, sizeof s, "grow%d", i);
        intern(g, s, (size_t)len);
    }
    assert_int_equal(qp__sym_find(g, a, 8), ia);
    assert_int_equal(qp__sym_find(g, b, 8), ib);
    assert_string_equal(qp__sym_str(g, ia), a);
    assert_string_equal(qp__sym_str(g, ib), b);
    qpt_done(g, &st);
}

/* The symbol state undo saves, and the string interned as sym i in the test below. */
static int
nth(char *s, size_t cap, uint32_t i)
{
    return snprintf(s, cap, "%s.%u", i % 3 ? "layer" : "m", (unsigned)i);
}

static void
truncate_forgets_later_syms_and_keeps_earlier_ones(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    enum { N0 = 3000, N1 = 200000 };
    char s[32], a[9], b[9];
    same_hash_pair(a, b);
    uint32_t *ids = test_malloc(N1 * sizeof *ids);
    for (uint32_t i = 0; i < N0; i++) {
        int len = nth(s, sizeof s, i);
        ids[i] = intern(g, s, (size_t)len);
    }
    uint32_t ia = intern(g, a, 8);
    /* a string in a chunk of its own before the saved state, one after it */
    char *big = test_malloc(40000);
    memset(big, 'x', 40000);
    uint32_t ibig = intern(g, big, 40000);
    struct qp__symtab old = g->st;
    uint32_t n = old.n, nchunks = old.nchunks, cur = old.cur, used = g->st.chunks[cur].used,
             nslots = old.nslots;
    const char *pa = qp__sym_str(g, ia);
    uint32_t ib = intern(g, b, 8);
    for (uint32_t i = N0; i < N1; i++) {
        int len = nth(s, sizeof s, i);
        ids[i] = intern(g, s, (size_t)len);
    }
    memset(big, 'y', 40000);
    intern(g, big, 40000);
    assert_true(g->st.nslots > nslots && g->st.nchunks > nchunks);
    assert_true(ib >= n);

    qp__sym_truncate(g, &old, used, 0);
    assert_int_equal(g->st.n, n);
    assert_int_equal(g->st.nslots, nslots); /* the test allocator can always shrink */
    assert_int_equal(g->st.nchunks, nchunks);
    assert_true((uint64_t)g->st.n * 4 <= (uint64_t)g->st.nslots * 3);
    for (uint32_t i = 0; i < N1; i++) {
        int len = nth(s, sizeof s, i);
        assert_int_equal(qp__sym_find(g, s, (size_t)len), i < N0 ? ids[i] : 0);
    }
    assert_int_equal(qp__sym_find(g, a, 8), ia);
    assert_ptr_equal(qp__sym_str(g, ia), pa);
    assert_int_equal(qp__sym_find(g, b, 8), 0);
    assert_int_equal(qp__sym_find(g, big, 40000), 0);
    memset(big, 'x', 40000);
    assert_int_equal(qp__sym_find(g, big, 40000), ibig);
    /* interning goes on from where the saved state was */
    assert_int_equal(intern(g, b, 8), n);
    assert_string_equal(qp__sym_str(g, n), b);
    assert_int_equal(qp__sym_find(g, a, 8), ia);
    int len = nth(s, sizeof s, N0);
    assert_int_equal(intern(g, s, (size_t)len), n + 1);
    test_free(big);
    test_free(ids);
    qpt_done(g, &st);
}

/* Told that tens of MB of names are coming (a big text), the table makes its next
 * chunks 4 MiB (huge pages) at once instead of doubling up to them; told of
 * a few KB it changes nothing. Ids and bytes are the same either way. */
static void
expected_bytes_size_the_chunks(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *small = qpt_mkgraph(&st), *big = NULL;
    assert_int_equal(qp_graph_create(NULL, &big), QP_OK);
    qp__sym_expect_bytes(small, 4096);
    qp__sym_expect_bytes(big, (uint64_t)40 << 20);
    qp__sym_expect_bytes(big, 4096); /* a smaller hint later does not shrink them */
    char name[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(name, sizeof name, "layer%d.conv", i);
        uint32_t a = intern(small, name, (size_t)n), b = intern(big, name, (size_t)n);
        assert_int_equal(a, b);
        assert_string_equal(qp__sym_str(big, b), name);
    }
    assert_int_equal(small->st.chunks[small->st.cur].size, 64u << 10);
    assert_true(big->st.nchunks == 2);
    assert_int_equal(big->st.chunks[1].size, 4u << 20);
    qp_graph_destroy(big);
    qpt_done(small, &st);
    /* a big text (60 MB) is read so */
    size_t len;
    char *text = qpt_relu_chain(600000, "a_rather_long_node_name", &len);
    qp_graph *g = NULL;
    qp_error err;
    assert_int_equal(qp_graph_read_text(text, len, NULL, &g, &err), QP_OK);
    assert_true(g->st.nchunks > 1);
    assert_true(g->st.chunks[1].size >= 2u << 20); /* the default allocator's huge class */
    qp_graph_destroy(g);
    test_free(text);
}

/* The bytes of the i-th string of the test below: lengths from 1 to 400, so some
 * take the five-byte header, and in 4 MiB chunks many cross a window's edge. */
static size_t
varied(char *s, uint32_t i)
{
    size_t len = 1 + (i * 2654435761u >> 7) % 400;
    for (size_t k = 0; k < len; k++)
        s[k] = (char)('!' + (i + k * 31) % 90);
    snprintf(s, 12, "%u", (unsigned)i); /* distinct (its NUL is overwritten below) */
    s[strlen(s)] = (char)('!' + i % 90);
    return len > strlen(s) ? len : strlen(s);
}

static void
check_varied(qp_graph *g, const uint32_t *ids, uint32_t n)
{
    char s[512];
    for (uint32_t i = 0; i < n; i++) {
        memset(s, 0, sizeof s);
        size_t len = varied(s, i);
        assert_int_equal(qp__sym_len(g, ids[i]), len);
        assert_memory_equal(qp__sym_str(g, ids[i]), s, len);
        assert_int_equal(qp__sym_str(g, ids[i])[len], 0);
        assert_int_equal(qp__sym_find(g, s, len), ids[i]);
    }
}

static void
positions_survive_window_edges_clone_and_truncate(void **state)
{
    (void)state;
    enum { N = 60000, HALF = N / 2 };
    qp_graph *g = NULL, *h = NULL;
    assert_int_equal(qp_graph_create(NULL, &g), QP_OK);
    qp__sym_expect_bytes(g, (uint64_t)64 << 20); /* 4 MiB chunks: 64 windows each */
    uint32_t *ids = test_malloc(N * sizeof *ids);
    char s[512];
    struct qp__symtab mid = {0};
    uint32_t mid_used = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (i == HALF) {
            mid = g->st;
            mid_used = g->st.chunks[g->st.cur].used;
        }
        memset(s, 0, sizeof s);
        ids[i] = intern(g, s, varied(s, i));
    }
    assert_true(mid.nchunks >= 2 && g->st.nchunks > mid.nchunks && g->st.nwin > 64);
    check_varied(g, ids, N);
    /* a clone has its own bytes, at the same positions */
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    assert_ptr_not_equal(qp__sym_str(h, ids[N - 1]), qp__sym_str(g, ids[N - 1]));
    check_varied(h, ids, N);
    qp_graph_destroy(h);
    /* back to the first half: its strings stay, the rest are gone, and interning
     * them again gives the same ids and positions */
    qp__sym_truncate(g, &mid, mid_used, 0);
    assert_int_equal(g->st.nwin, mid.nwin);
    check_varied(g, ids, HALF);
    for (uint32_t i = HALF; i < N; i++) {
        memset(s, 0, sizeof s);
        size_t len = varied(s, i);
        assert_int_equal(qp__sym_find(g, s, len), 0);
    }
    for (uint32_t i = HALF; i < N; i++) {
        memset(s, 0, sizeof s);
        assert_int_equal(intern(g, s, varied(s, i)), ids[i]);
    }
    check_varied(g, ids, N);
    test_free(ids);
    qp_graph_destroy(g);
}

static bool
written(const qp_graph *g, uint32_t sym)
{
    return (g->st.syms[sym].node & QP__SYM_WRITTEN) != 0;
}

static uint32_t
derive(qp_graph *g, uint32_t parent)
{
    uint32_t id = 0;
    assert_int_equal(qp__sym_derive_obs(g, parent, &id), QP_OK);
    assert_true(id != 0);
    return id;
}

static void
derived_syms_read_as_parent_and_suffix(void **state)
{
    (void)state;
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    uint32_t p = intern(g, "a.b", 3);
    uint32_t d = derive(g, p), dd = derive(g, d);
    const char *full = "a.b.activation_post_process";
    assert_int_equal(qp__sym_derived_parent(g, d), p);
    assert_int_equal(qp__sym_derived_parent(g, dd), d);
    assert_int_equal(qp__sym_derived_parent(g, p), 0);
    /* length and tree position are read without writing the bytes */
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(qp__sym_len(g, d), strlen(full));
        assert_int_equal(qp__sym_len(g, dd), strlen(full) + 24);
        assert_true(qp__sym_dotted_under(g, d, "a", 1));
        assert_true(qp__sym_dotted_under(g, d, "a.b", 3));
        assert_false(qp__sym_dotted_under(g, d, "a.c", 3));
        assert_false(qp__sym_dotted_under(g, d, "a.b.act", 7));
        assert_false(qp__sym_dotted_under(g, d, full, strlen(full)));
        assert_false(qp__sym_dotted_under(g, d, "a.b.activation_post_processX", 28));
        assert_true(qp__sym_dotted_under(g, dd, full, strlen(full)));
        assert_true(qp__sym_dotted_under(g, dd, "a.b", 3));
        assert_false(qp__sym_dotted_under(g, dd, "a.b.activation_post_process.act", 31));
        assert_false(qp__sym_dotted_under(g, p, "a.b", 3));
        assert_true(qp__sym_dotted_under(g, p, "a", 1));
        if (pass == 0) {
            assert_false(written(g, d) || written(g, dd));
            /* the first read writes a sym's own bytes, from its written base,
             * and leaves its unwritten parent as it is */
            assert_string_equal(qp__sym_str(g, dd),
                                "a.b.activation_post_process.activation_post_process");
            assert_true(written(g, dd) && !written(g, d));
            assert_string_equal(qp__sym_str(g, d), full);
            assert_true(written(g, d));
        }
    }
    /* not in the hash table: a lookup does not find them, and interning the same
     * bytes makes a sym of its own */
    assert_int_equal(qp__sym_find(g, full, strlen(full)), 0);
    uint32_t h = intern(g, full, strlen(full));
    assert_true(h != d);
    assert_int_equal(g->st.nder, 2);
    qpt_done(g, &st);
}

static void
derived_ids_never_outgrow_the_table(void **state)
{
    (void)state;
    enum { NDER = 5000, NSTR = 3000 };
    qpt_alloc st;
    qp_graph *g = qpt_mkgraph(&st);
    uint32_t p = intern(g, "q", 1), ids[NSTR];
    for (int i = 0; i < NDER; i++)
        derive(g, p);
    /* hashed syms now get ids past what their count alone would size the table for */
    char s[32];
    for (int i = 0; i < NSTR; i++)
        ids[i] = intern(g, s, (size_t)snprintf(s, sizeof s, "name%d", i));
    assert_true(g->st.n <= g->st.nslots);
    for (int i = 0; i < NSTR; i++) {
        int len = snprintf(s, sizeof s, "name%d", i);
        assert_int_equal(qp__sym_find(g, s, (size_t)len), ids[i]);
        assert_string_equal(qp__sym_str(g, ids[i]), s);
    }
    assert_int_equal(qp__sym_find(g, "q", 1), p);
    qpt_done(g, &st);
}

static void
truncate_and_clone_keep_derived_syms_right(void **state)
{
    (void)state;
    qp_graph *g = NULL, *h = NULL;
    assert_int_equal(qp_graph_create(NULL, &g), QP_OK);
    uint32_t p = intern(g, "fq", 2), d0 = derive(g, p);
    struct qp__symtab old = g->st;
    uint32_t used = g->st.chunks[g->st.cur].used, lused = g->st.chunks[g->st.lcur - 1].used;
    char big[200];
    memset(big, 'x', sizeof big);
    uint32_t q = intern(g, big, sizeof big), d1 = derive(g, q), d2 = derive(g, p);
    assert_int_equal(g->st.nder, 3);
    /* a clone reads them the same, written or not, and writes its own bytes */
    assert_string_equal(qp__sym_str(g, d2), "fq.activation_post_process");
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    assert_int_equal(h->st.nder, 3);
    assert_false(written(h, d1));
    assert_int_equal(qp__sym_len(h, d1), sizeof big + 24);
    assert_int_equal(memcmp(qp__sym_str(h, d1) + sizeof big, ".activation_post_process", 25), 0);
    assert_false(written(g, d1));
    assert_string_equal(qp__sym_str(h, d2), "fq.activation_post_process");
    qp_graph_destroy(h);
    /* truncated back: the later ones are gone, d0 stays, and making them again
     * gives the same ids */
    qp__sym_truncate(g, &old, used, lused);
    assert_int_equal(g->st.nder, 1);
    assert_int_equal(g->st.n, d0 + 1);
    assert_int_equal(qp__sym_find(g, big, sizeof big), 0);
    assert_string_equal(qp__sym_str(g, d0), "fq.activation_post_process");
    assert_int_equal(intern(g, big, sizeof big), q);
    assert_int_equal(derive(g, q), d1);
    assert_int_equal(memcmp(qp__sym_str(g, d1), big, sizeof big), 0);
    qp_graph_destroy(g);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interning_the_same_bytes_gives_the_same_id),
        cmocka_unit_test(the_empty_string_is_sym_zero),
        cmocka_unit_test(lookup_does_not_intern),
        cmocka_unit_test(big_strings_are_stored_whole),
        cmocka_unit_test(many_strings_keep_their_ids_and_bytes),
        cmocka_unit_test(reserve_makes_the_next_interns_need_no_table_growth),
        cmocka_unit_test(intern_failure_leaves_the_table_intact),
        cmocka_unit_test(public_strings_stay_valid_until_destroy),
        cmocka_unit_test(every_byte_of_a_string_changes_its_hash),
        cmocka_unit_test(strings_with_the_same_hash_are_told_apart),
        cmocka_unit_test(truncate_forgets_later_syms_and_keeps_earlier_ones),
        cmocka_unit_test(expected_bytes_size_the_chunks),
        cmocka_unit_test(positions_survive_window_edges_clone_and_truncate),
        cmocka_unit_test(derived_syms_read_as_parent_and_suffix),
        cmocka_unit_test(derived_ids_never_outgrow_the_table),
        cmocka_unit_test(truncate_and_clone_keep_derived_syms_right),
    };
    return cmocka_run_group_tests_name("sym", tests, NULL, NULL);
}
