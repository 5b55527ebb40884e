/*
 * test_big.c - large and hostile shapes (ctest label `big`): a graph of a
 * million nodes (200000 modules, 200000 parameters), one tensor with 100000
 * users, a 100000-deep chain, and a 100000-node cycle. Each is read, verified,
 * cloned, prepared for Tensorrt and OPENVINO, and written as text and DOT.
 *
 * Nothing here is timed as an assertion, but everything must finish: any
 * recursion per node would overflow the stack, and anything quadratic would
 * take hours. Memory is asserted to stay within a fixed number of bytes per
 * node (qp_graph_mem_peak). Each step prints its time, for the report.
 */
#include "testlib.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

/* big buffers come from the C library, not cmocka's tracked blocks */
#undef malloc
#undef realloc
#undef free

/* ==== text building ==== */

struct buf {
    char *p;
    size_t n, cap;
};

static void
put(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        assert_true(k >= 0);
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1 << 20;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
}

static double
now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char conv_attrs[] =
    "{in_channels: 8, out_channels: 8, kernel_size: (1, 1), stride: (1, 1), padding: (0, 0), "
    "dilation: (1, 1), groups: 1, bias: False, padding_mode: \"zeros\"}";

/* ==== running the steps ==== */

struct sink {
    size_t bytes, calls;
};

static int
sink_write(void *ud, const char *data, size_t len)
{
    (void)data;
    struct sink *s = ud;
    s->bytes += len;
    s->calls++;
    return 0;
}

static qp_graph *
timed_read(const char *what, const struct buf *b, unsigned flags, qp_status want)
{
    qp_read_opts o = {NULL, flags, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    double t = now();
    qp_status rc = qp_graph_read_text(b->p, b->n, &o, &g, &err);
    print_message("%-18s read     %8.2f s  (%zu MB of text, %u nodes)\n", what, now() - t,
                  b->n >> 20, g ? qp_graph_num_nodes(g) : 0u);
    if (rc != want) {
        print_error("%s: read gave %s at %u:%u: %s\n", what, qp_status_str(rc), (unsigned)err.line,
                    (unsigned)err.col, err.msg);
        fail();
    }
    return g;
}

/* Verify, clone, write text and DOT: the steps every shape goes through. */
static void
common_steps(const char *what, qp_graph *g, size_t text_len)
{
    double t = now();
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    print_message("%-18s verify   %8.2f s\n", what, now() - t);
    t = now();
    qp_graph *h = NULL;
    assert_int_equal(qp_graph_clone(g, &h), QP_OK);
    qp_graph_destroy(h);
    print_message("%-18s clone    %8.2f s\n", what, now() - t);
    t = now();
    struct sink s = {0, 0};
    assert_int_equal(qp_graph_write_text(g, sink_write, &s), QP_OK);
    print_message("%-18s write    %8.2f s  (%zu MB)\n", what, now() - t, s.bytes >> 20);
    if (text_len)
        assert_int_equal(s.bytes, text_len); /* the canonical text round-trips */
    t = now();
    struct sink d = {0, 0};
    assert_int_equal(qp_graph_write_dot(g, sink_write, &d), QP_OK);
    print_message("%-18s dot      %8.2f s  (%zu MB)\n", what, now() - t, d.bytes >> 20);
}

/* Prepares a fresh copy of the text for a backend; checks the result and the memory
 * used per node. Returns the prepared graph's node count. */
static uint32_t
prepare_step(const char *what, const struct buf *b, qp_backend be, size_t bytes_per_node)
{
    qp_graph *g = timed_read(what, b, 0, QP_OK);
    uint32_t before = qp_graph_num_nodes(g);
    double t = now();
    qp_status rc = qp_prepare_qat(g, be, NULL);
    if (rc) {
        print_error("%s: prepare for %s: %s: %s\n", what, qp_backend_name(be), qp_status_str(rc),
                    qp_graph_errmsg(g));
        fail();
    }
    const qp_report *r = qp_graph_report(g);
    uint32_t fq = 0;
    for (uint32_t i = 0; i < r->npass; i++)
        fq += r->pass[i].fq_inserted;
    print_message("%-18s prepare  %8.2f s  for %-8s (%u -> %u nodes, %u fake-quantizers, "
                  "peak %zu MB)\n",
                  what, now() - t, qp_backend_name(be), before, qp_graph_num_nodes(g), fq,
                  qp_graph_mem_peak(g) >> 20);
    assert_true(fq > 0);
    size_t peak = qp_graph_mem_peak(g);
    if (peak > (size_t)before * bytes_per_node) {
        print_error("%s: %zu bytes at the peak for %u nodes (more than %zu a node)\n", what, peak,
                    before, bytes_per_node);
        fail();
    }
    t = now();
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    struct sink s = {0, 0};
    assert_int_equal(qp_graph_write_text(g, sink_write, &s), QP_OK);
    print_message("%-18s verify+write prepared %5.2f s (%zu MB)\n", what, now() - t, s.bytes >> 20);
    uint32_t n = qp_graph_num_nodes(g);
    qp_graph_destroy(g);
    return n;
}

/* ==== the shapes ==== */

/* 200000 blocks of five nodes: conv (a module), functional relu, residual add, a
 * parameter read with get_attr, mul. A million nodes, 200000 modules, 200000
 * parameters, and a dependency chain as long as the graph. */
static void
a_million_nodes(void **state)
{
    (void)state;
    enum { B = 200000 };
    struct buf b = {NULL, 0, 0};
    put(&b, "qgraph 1\n# a million nodes\n");
    for (int i = 0; i < B; i++)
        put(&b, "module c%d nn.Conv2d %s\n", i, conv_attrs);
    for (int i = 0; i < B; i++)
        put(&b, "attr w%d {shape: (8, 1, 1)}\n", i);
    put(&b, "%%x = placeholder x () {}\n");
    const char *prev = "x";
    char pb[32];
    for (int i = 0; i < B; i++) {
        put(&b, "%%c%d = call_module c%d (%%%s,) {}\n", i, i, prev);
        put(&b, "%%r%d = call_function torch.nn.functional.relu (%%c%d,) {inplace: False}\n", i, i);
        put(&b, "%%a%d = call_function operator.add (%%r%d, %%%s) {}\n", i, i, prev);
        put(&b, "%%w%d = get_attr w%d () {}\n", i, i);
        put(&b, "%%m%d = call_function operator.mul (%%a%d, %%w%d) {}\n", i, i, i);
        snprintf(pb, sizeof pb, "m%d", i);
        prev = pb;
    }
    put(&b, "%%output = output output (%%%s,) {}\n", prev);
    qp_graph *g = timed_read("1M nodes", &b, 0, QP_OK);
    assert_int_equal(qp_graph_num_nodes(g), 5 * B + 2);
    common_steps("1M nodes", g, b.n);
    print_message("%-18s memory   %zu MB for %u nodes (%zu bytes a node)\n", "1M nodes",
                  qp_graph_mem_used(g) >> 20, qp_graph_num_nodes(g),
                  qp_graph_mem_used(g) / qp_graph_num_nodes(g));
    qp_graph_destroy(g);
    prepare_step("1M nodes", &b, QP_BACKEND_TENSORRT, 4096);
    prepare_step("1M nodes", &b, QP_BACKEND_OPENVINO, 4096);
    free(b.p);
}

/* One tensor used by 100000 convolutions: one fake-quantizer, shared by all of
 * them (rewiring 100000 users touches each once). */
static void
one_tensor_with_100000_users(void **state)
{
    (void)state;
    enum { U = 100000 };
    struct buf b = {NULL, 0, 0};
    put(&b, "qgraph 1\nmodule stem nn.Conv2d %s\nmodule relu nn.ReLU {inplace: False}\n",
        conv_attrs);
    for (int i = 0; i < U; i++)
        put(&b, "module c%d nn.Conv2d %s\n", i, conv_attrs);
    put(&b, "%%x = placeholder x () {}\n%%stem = call_module stem (%%x,) {}\n"
            "%%relu = call_module relu (%%stem,) {}\n");
    for (int i = 0; i < U; i++)
        put(&b, "%%c%d = call_module c%d (%%relu,) {}\n", i, i);
    put(&b, "%%cat = call_function torch.cat ([");
    for (int i = 0; i < U; i++)
        put(&b, "%s%%c%d", i ? ", " : "", i);
    put(&b, "],) {dim: 1}\n%%output = output output (%%cat,) {}\n");
    qp_graph *g = timed_read("100000 users", &b, 0, QP_OK);
    qp_node relu = qp_graph_find_node(g, "relu");
    assert_int_equal(qp_node_num_users(g, relu), U);
    common_steps("100000 users", g, b.n);
    qp_graph_destroy(g);
    for (int k = 0; k < 2; k++) {
        qp_backend be = k ? QP_BACKEND_OPENVINO : QP_BACKEND_TENSORRT;
        g = timed_read("100000 users", &b, 0, QP_OK);
        double t = now();
        assert_int_equal(qp_prepare_qat(g, be, NULL), QP_OK);
        print_message("%-18s prepare  %8.2f s  for %s\n", "100000 users", now() - t,
                      qp_backend_name(be));
        /* the shared input is quantized once: every conv reads that one node */
        qp_node c0 = qp_graph_find_node(g, "c0");
        qp_node fq = qp_val_as_node(g, qp_val_item_at(g, qp_node_args(g, c0), 0));
        assert_false(qp_node_is_null(qp_node_fq_producer(g, fq)));
        assert_non_null(strstr(qp_node_name(g, fq), "_post_act_fake_quantizer"));
        assert_int_equal(qp_node_num_users(g, fq), U);
        assert_int_equal(qp_node_num_users(g, qp_node_fq_producer(g, fq)), 1);
        assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
        qp_graph_destroy(g);
    }
    /* replacing 100000 uses at once, through the API */
    g = timed_read("100000 users", &b, 0, QP_OK);
    relu = qp_graph_find_node(g, "relu");
    qp_node stem = qp_graph_find_node(g, "stem");
    uint32_t count = 0;
    double t = now();
    assert_int_equal(qp_node_replace_uses(g, relu, stem, &count), QP_OK);
    print_message("%-18s replace_uses %5.2f s (%u uses)\n", "100000 users", now() - t,
                  (unsigned)count);
    assert_int_equal(count, U);
    assert_int_equal(qp_node_num_users(g, stem), U + 1);
    assert_int_equal(qp_graph_erase_node(g, relu), QP_OK);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    qp_graph_destroy(g);
    free(b.p);
}

/* A chain 100000 deep of conv -> bn pairs (fused two by two), then the same chain
 * closed into a cycle, which the verifier must name without recursing. */
static void
a_chain_100000_deep_and_a_cycle_as_long(void **state)
{
    (void)state;
    enum { D = 50000 }; /* pairs: 100000 nodes in a row */
    struct buf b = {NULL, 0, 0};
    put(&b, "qgraph 1\n");
    for (int i = 0; i < D; i++)
        put(&b,
            "module c%d nn.Conv2d %s\nmodule b%d nn.BatchNorm2d {num_features: 8, eps: "
            "1e-05, momentum: 0.1, affine: True, track_running_stats: True}\n",
            i, conv_attrs, i);
    put(&b, "%%x = placeholder x () {}\n");
    char prev[32] = "x";
    for (int i = 0; i < D; i++) {
        put(&b, "%%c%d = call_module c%d (%%%s,) {}\n%%b%d = call_module b%d (%%c%d,) {}\n", i, i,
            prev, i, i, i);
        snprintf(prev, sizeof prev, "b%d", i);
    }
    put(&b, "%%output = output output (%%%s,) {}\n", prev);
    qp_graph *g = timed_read("100000 deep", &b, 0, QP_OK);
    common_steps("100000 deep", g, b.n);
    qp_graph_destroy(g);
    uint32_t n = prepare_step("100000 deep", &b, QP_BACKEND_TENSORRT, 4096);
    assert_int_equal(n, 2 * D + 2); /* conv+bn fused, one fake-quantizer before each conv */
    prepare_step("100000 deep", &b, QP_BACKEND_OPENVINO, 4096);
    /* the first conv reads the last bn: a cycle through every node */
    char *first = strstr(b.p, "%c0 = call_module c0 (%x,) {}");
    assert_non_null(first);
    struct buf c = {NULL, 0, 0};
    put(&c, "%.*s%%c0 = call_module c0 (%%%s,) {}%s", (int)(first - b.p), b.p, prev,
        first + strlen("%c0 = call_module c0 (%x,) {}"));
    g = timed_read("100000 cycle", &c, QP_READ_NO_VERIFY, QP_OK);
    double t = now();
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_ERR_NOT_TOPO_SORTED);
    print_message("%-18s verify   %8.2f s  '%.100s'\n", "100000 cycle", now() - t,
                  qp_graph_errmsg(g));
    qp_graph_destroy(g);
    /* read strictly, the forward reference is refused on its line */
    g = timed_read("100000 cycle", &c, 0, QP_ERR_NOT_TOPO_SORTED);
    assert_null(g);
    /* and prepare refuses the cyclic graph, unchanged */
    g = timed_read("100000 cycle", &c, QP_READ_NO_VERIFY, QP_OK);
    t = now();
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_ERR_NOT_TOPO_SORTED);
    print_message("%-18s prepare refused %4.2f s\n", "100000 cycle", now() - t);
    qp_graph_destroy(g);
    free(c.p);
    free(b.p);
}

/* The verifier names the cycle through a 100000-node loop: its diagnostics list a
 * CYCLE problem with a path of at most 8 names. */
struct cycles {
    unsigned n;
    char msg[512];
};

static void
on_diag(void *ud, const qp_diag *d)
{
    struct cycles *c = ud;
    if (d->status == QP_ERR_CYCLE && !c->n++)
        snprintf(c->msg, sizeof c->msg, "%s", d->msg);
}

static void
a_cycle_through_100000_nodes_is_named(void **state)
{
    (void)state;
    enum { D = 100000 };
    struct buf b = {NULL, 0, 0};
    put(&b, "qgraph 1\n%%x = placeholder x () {}\n");
    put(&b, "%%n0 = call_function operator.add (%%x, %%n%d) {}\n", D - 1);
    for (int i = 1; i < D; i++)
        put(&b, "%%n%d = call_function torch.relu (%%n%d,) {}\n", i, i - 1);
    put(&b, "%%output = output output (%%n%d,) {}\n", D - 1);
    qp_graph *g = timed_read("100000 loop", &b, QP_READ_NO_VERIFY, QP_OK);
    struct cycles c = {0, ""};
    double t = now();
    assert_int_equal(qp_graph_verify(g, on_diag, &c), QP_ERR_NOT_TOPO_SORTED);
    print_message("%-18s verify   %8.2f s  '%s'\n", "100000 loop", now() - t, c.msg);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.msg, "cycle: %n"));
    assert_non_null(strstr(c.msg, "<- ..."));
    qp_graph_destroy(g);
    free(b.p);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_million_nodes),
        cmocka_unit_test(one_tensor_with_100000_users),
        cmocka_unit_test(a_chain_100000_deep_and_a_cycle_as_long),
        cmocka_unit_test(a_cycle_through_100000_nodes_is_named),
    };
    return cmocka_run_group_tests_name("big", tests, NULL, NULL);
}
