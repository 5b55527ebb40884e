/*
 * test_dot.c - Graphviz output (dot.c): valid DOT for every fixture, labels
 * escaped so Graphviz shows the text as it is, an edge per reference, and
 * fake-quantizers filled.
 */
#include "testlib.h"

#include <string.h>

struct buf {
    char *p;
    size_t n, cap;
};

static int
buf_write(void *ud, const char *data, size_t len)
{
    struct buf *b = ud;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + len + 1)
            cap *= 2;
        b->p = test_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = 0;
    return 0;
}

static char *
dot_of(const qp_graph *g)
{
    struct buf b = {NULL, 0, 0};
    assert_int_equal(qp_graph_write_dot(g, buf_write, &b), QP_OK);
    return b.p;
}

/*
 * A strict reading of the subset of DOT the writer emits: the header, then
 * statements "  nID [attr=value, ...];" and "  nA -> nB;", then "}". Quoted
 * strings may hold \-escapes and no raw newline. Returns the number of nodes and
 * edges; every edge joins declared nodes.
 */
static void
check_dot(const char *s, uint32_t *nodes, uint32_t *edges)
{
    static const char head[] = "digraph qgraph {\n";
    assert_memory_equal(s, head, sizeof head - 1);
    size_t len = strlen(s);
    assert_true(len >= sizeof head + 1);
    assert_string_equal(s + len - 2, "}\n");
    uint32_t declared[4096];
    uint32_t nd = 0, ne = 0;
    const char *p = s + sizeof head - 1;
    while (*p != '}') {
        assert_memory_equal(p, "  ", 2);
        p += 2;
        if (*p == 'n' && p[1] >= '0' && p[1] <= '9') {
            char *end;
            unsigned long a = strtoul(p + 1, &end, 10);
            p = end;
            if (!strncmp(p, " -> n", 5)) {
                unsigned long b = strtoul(p + 5, &end, 10);
                bool fa = false, fb = false;
                for (uint32_t i = 0; i < nd; i++) {
                    fa |= declared[i] == a;
                    fb |= declared[i] == b;
                }
                assert_true(fa && fb);
                p = end;
                ne++;
            } else {
                assert_true(nd < 4096);
                declared[nd++] = (uint32_t)a;
                assert_memory_equal(p, " [", 2);
                p += 2;
                /* attr=value pairs; values are words or quoted strings */
                for (;;) {
                    while ((*p >= 'a' && *p <= 'z'))
                        p++;
                    assert_int_equal(*p++, '=');
                    if (*p == '"') {
                        for (p++; *p != '"'; p++) {
                            assert_true(*p != '\n' && *p != 0);
                            if (*p == '\\') {
                                p++;
                                assert_true(*p != '\n' && *p != 0);
                            }
                        }
                        p++;
                    } else {
                        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
                            p++;
                    }
                    if (*p == ']')
                        break;
                    assert_memory_equal(p, ", ", 2);
                    p += 2;
                }
                p++;
            }
        } else {
            /* graph and default attributes: "rankdir=TB;" "node [...];" */
            while (*p && *p != ';' && *p != '\n')
                p++;
        }
        assert_memory_equal(p, ";\n", 2);
        p += 2;
    }
    assert_string_equal(p, "}\n");
    *nodes = nd;
    *edges = ne;
}

/* Runs the real Graphviz on the text when it is installed. */
static void
graphviz_accepts(const char *dot)
{
    if (system("dot -V > /dev/null 2>&1") != 0)
        return;
    char path[] = "qp_test_dot.gv";
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(dot, f);
    fclose(f);
    int rc = system("dot -Tcanon qp_test_dot.gv > /dev/null 2>&1");
    remove(path);
    assert_int_equal(rc, 0);
}

static uint32_t
count_refs(const qp_graph *g, qp_val v)
{
    qp_val_kind k = qp_val_kind_of(g, v);
    if (k == QP_VAL_NODE)
        return 1;
    uint32_t n = 0;
    for (uint32_t i = 0; i < qp_val_num_items(g, v); i++)
        n += count_refs(g, qp_val_item_at(g, v, i));
    return n;
}

static void
dot_is_valid_for_every_fixture(void **state)
{
    (void)state;
    char **names;
    size_t n = qpt_list("fixtures", ".qg", &names);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "fixtures/%s", names[i]);
        char *text = qpt_read_file(rel, NULL);
        qpt_alloc st;
        qpt_alloc_reset(&st);
        qp_allocator a = qpt_allocator(&st);
        qp_graph *g = qpt_parse(text, &a);
        char *dot = dot_of(g);
        uint32_t nodes, edges, refs = 0;
        check_dot(dot, &nodes, &edges);
        for (qp_node x = qp_graph_first(g); !qp_node_is_null(x); x = qp_node_next(g, x))
            refs += count_refs(g, qp_node_args(g, x)) + count_refs(g, qp_node_kwargs(g, x));
        assert_int_equal(nodes, qp_graph_num_nodes(g));
        assert_int_equal(edges, refs); /* one edge per reference */
        if (i % 20 == 0)
            graphviz_accepts(dot);
        test_free(dot);
        qp_graph_destroy(g);
        assert_int_equal(st.live, 0);
        test_free(text);
    }
    qpt_free_list(names, n);
}

static void
labels_are_escaped(void **state)
{
    (void)state;
    /* a module type and a target holding every character DOT treats specially */
    const char *text = "qgraph 1\n"
                       "module m a\"b\\c{d}<e>|f\\N {}\n"
                       "%x = placeholder x\"y\\l () {}\n"
                       "%m = call_module m (%x,) {}\n"
                       "%output = output output (%m,) {}\n";
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse(text, &a);
    char *dot = dot_of(g);
    uint32_t nodes, edges;
    check_dot(dot, &nodes, &edges);
    assert_int_equal(nodes, 3);
    assert_int_equal(edges, 2);
    /* \N, \l and friends would be Graphviz escapes: the backslash is doubled */
    assert_non_null(strstr(dot, "label=\"x\\nplaceholder x\\\"y\\\\l\""));
    assert_non_null(strstr(dot, "\\na\\\"b\\\\c\\{d\\}\\<e\\>\\|f\\\\N\""));
    graphviz_accepts(dot);
    test_free(dot);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

static void
fake_quantizers_are_filled(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n"
                       "module conv nn.Conv2d {}\n"
                       "module conv_post_act_fake_quantizer fq.LearnableFakeQuantize {}\n"
                       "%x = placeholder x () {}\n"
                       "%conv = call_module conv (%x,) {}\n"
                       "%conv_post_act_fake_quantizer = call_module "
                       "conv_post_act_fake_quantizer (%conv,) {}\n"
                       "%relu = call_function torch.relu (%conv_post_act_fake_quantizer,) {}\n"
                       "%output = output output (%relu,) {}\n";
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse(text, &a);
    /* a node prepare flagged as an inserted fake-quantizer is filled too */
    qp_node relu = qp_graph_find_node(g, "relu"), conv = qp_graph_find_node(g, "conv");
    g->nodes[relu.id].flags |= QP__NODE_FQ;
    g->nodes[relu.id].fq_of = conv.id;
    assert_int_equal(qp_node_fq_producer(g, relu).id, conv.id);
    char *dot = dot_of(g);
    uint32_t nodes, edges;
    check_dot(dot, &nodes, &edges);
    char line[256];
    snprintf(line, sizeof line, "  n%u [label=\"conv_post_act_fake_quantizer\\n",
             (unsigned)qp_graph_find_node(g, "conv_post_act_fake_quantizer").id);
    const char *fq = strstr(dot, line);
    assert_non_null(fq);
    assert_non_null(strstr(fq, "\\nfq.LearnableFakeQuantize\", style=filled"));
    snprintf(line, sizeof line, "  n%u [label=\"relu\\ncall_function torch.relu\", style=filled",
             (unsigned)relu.id);
    assert_non_null(strstr(dot, line));
    /* ordinary nodes are not; inputs and the output are ellipses */
    snprintf(line, sizeof line, "  n%u [label=\"conv\\ncall_module conv\\nnn.Conv2d\"];\n",
             (unsigned)conv.id);
    assert_non_null(strstr(dot, line));
    assert_non_null(strstr(dot, "[label=\"x\\nplaceholder x\", shape=ellipse];\n"));
    assert_non_null(strstr(dot, "[label=\"output\\noutput output\", shape=ellipse];\n"));
    graphviz_accepts(dot);
    test_free(dot);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

static void
edges_follow_every_reference(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n"
                       "%x = placeholder x () {}\n"
                       "%y = placeholder y () {}\n"
                       "%cat = call_function torch.cat ([%x, %x, (%y,)],) {out: %y}\n"
                       "%output = output output ({a: %cat},) {}\n";
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g = qpt_parse(text, &a);
    char *dot = dot_of(g);
    uint32_t nodes, edges;
    check_dot(dot, &nodes, &edges);
    assert_int_equal(nodes, 4);
    assert_int_equal(edges, 5);
    assert_non_null(
        strstr(dot, "  n1 -> n3;\n  n1 -> n3;\n  n2 -> n3;\n  n2 -> n3;\n  n3 -> n4;\n"));
    /* erased nodes are not drawn */
    qp_node_spec s = {QP_OP_CALL_FUNCTION, "torch.relu", NULL, QP_NULL_VAL, QP_NULL_VAL};
    qp_node r;
    assert_int_equal(qp_graph_insert_after(g, qp_graph_find_node(g, "y"), &s, &r), QP_OK);
    assert_int_equal(qp_graph_erase_node(g, r), QP_OK);
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    char *again = dot_of(g);
    assert_string_equal(dot, again);
    test_free(again);
    test_free(dot);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

static void
empty_graphs_and_bad_arguments(void **state)
{
    (void)state;
    qpt_alloc st;
    qpt_alloc_reset(&st);
    qp_allocator a = qpt_allocator(&st);
    qp_graph *g;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    char *dot = dot_of(g);
    uint32_t nodes, edges;
    check_dot(dot, &nodes, &edges);
    assert_int_equal(nodes + edges, 0);
    test_free(dot);
    struct buf b = {NULL, 0, 0};
    assert_int_equal(qp_graph_write_dot(NULL, buf_write, &b), QP_ERR_NULL_ARG);
    assert_int_equal(qp_graph_write_dot(g, NULL, &b), QP_ERR_NULL_ARG);
    assert_null(b.p);
    qp_graph_destroy(g);
    assert_int_equal(st.live, 0);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dot_is_valid_for_every_fixture),
        cmocka_unit_test(labels_are_escaped),
        cmocka_unit_test(fake_quantizers_are_filled),
        cmocka_unit_test(edges_follow_every_reference),
        cmocka_unit_test(empty_graphs_and_bad_arguments),
    };
    return cmocka_run_group_tests_name("dot", tests, NULL, NULL);
}
