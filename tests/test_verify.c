/*
 * test_verify.c - qp_graph_verify (verify.c): every kind of problem is
 * reported, all of them and not just the first, each with its node and line;
 * cycles come with their path. Broken graphs are read with QP_READ_NO_VERIFY;
 * states the API cannot make (dangling references, corrupt use lists) are
 * made through the internals.
 */
#include "testlib.h"

#include <string.h>

#define MAXD 64

struct diags {
    int n;
    qp_status st[MAXD];
    uint32_t line[MAXD];
    uint32_t node[MAXD];
    char msg[MAXD][256];
};

static void
collect(void *ud, const qp_diag *d)
{
    struct diags *c = ud;
    if (c->n < MAXD) {
        c->st[c->n] = d->status;
        c->line[c->n] = d->line;
        c->node[c->n] = d->node.id;
        snprintf(c->msg[c->n], sizeof c->msg[c->n], "%s", d->msg);
    }
    c->n++;
}

/* The index of the first diagnostic with this status whose message holds needle, or -1. */
static int
find(const struct diags *c, qp_status st, const char *needle)
{
    for (int i = 0; i < c->n && i < MAXD; i++)
        if (c->st[i] == st && strstr(c->msg[i], needle))
            return i;
    return -1;
}

static void
dump(const struct diags *c)
{
    for (int i = 0; i < c->n && i < MAXD; i++)
        print_error("  %s line %u node #%u: %s\n", qp_status_str(c->st[i]), (unsigned)c->line[i],
                    (unsigned)c->node[i], c->msg[i]);
}

static void
expect(const struct diags *c, qp_status st, const char *needle, uint32_t line)
{
    int i = find(c, st, needle);
    if (i < 0 || (line && c->line[i] != line)) {
        print_error("missing: %s '%s' line %u; have:\n", qp_status_str(st), needle,
                    (unsigned)line);
        dump(c);
        fail();
    }
}

static qp_graph *
read_raw(const char *text, qpt_alloc *st)
{
    qpt_alloc_reset(st);
    qp_allocator a = qpt_allocator(st);
    qp_read_opts o = {&a, QP_READ_NO_VERIFY, NULL, NULL};
    qp_graph *g = NULL;
    qp_error err;
    qp_status rc = qp_graph_read_text(text, strlen(text), &o, &g, &err);
    if (rc) {
        print_error("read: %s at %u:%u: %s\n", qp_status_str(rc), (unsigned)err.line,
                    (unsigned)err.col, err.msg);
        fail();
    }
    return g;
}

static void
done(qp_graph *g, qpt_alloc *st)
{
    qp_graph_destroy(g);
    assert_int_equal(st->live, 0);
    assert_int_equal(st->live_blocks, 0);
}

/* Verifies, collecting; returns the status. */
static qp_status
run(qp_graph *g, struct diags *c)
{
    memset(c, 0, sizeof *c);
    return qp_graph_verify(g, collect, c);
}

/* One problem text: verify fails with st, the first message holds needle. */
static void
one_problem(const char *text, qp_status st, const char *needle, uint32_t line)
{
    qpt_alloc al;
    qp_graph *g = read_raw(text, &al);
    struct diags c;
    qp_status rc = run(g, &c);
    if (rc != st || !strstr(qp_graph_errmsg(g), needle)) {
        print_error("verify gave %s '%s', want %s '%s'\n", qp_status_str(rc),
                    qp_graph_errmsg(g), qp_status_str(st), needle);
        dump(&c);
        fail();
    }
    expect(&c, st, needle, line);
    /* without a callback: same status and message */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", qp_graph_errmsg(g));
    assert_int_equal(qp_graph_verify(g, NULL, NULL), st);
    assert_string_equal(qp_graph_errmsg(g), msg);
    /* the strict reader refuses the same text */
    qp_graph *h = (qp_graph *)1;
    qp_error err;
    qp_allocator a = qpt_allocator(&al);
    qp_read_opts o = {&a, 0, NULL, NULL};
    assert_true(qp_graph_read_text(text, strlen(text), &o, &h, &err) != QP_OK);
    assert_null(h);
    assert_true(err.line > 0);
    done(g, &al);
}

static void
verify_accepts_a_valid_graph(void **state)
{
    (void)state;
    qpt_alloc al;
    qp_graph *g = read_raw("qgraph 1\n"
                           "module conv nn.Conv2d {}\n"
                           "attr weight {shape: (1,)}\n"
                           "%x = placeholder x () {}\n"
                           "%w = get_attr weight () {}\n"
                           "%conv = call_module conv (%x,) {}\n"
                           "%add = call_function operator.add (%conv, %w) {alpha: %x}\n"
                           "%output = output output (%add,) {}\n",
                           &al);
    qp__err(g, QP_ERR_PARSE, "stale message");
    struct diags c;
    assert_int_equal(run(g, &c), QP_OK);
    assert_int_equal(c.n, 0);
    assert_string_equal(qp_graph_errmsg(g), ""); /* a success clears the message */
    assert_true(qp_node_is_null(qp_graph_errnode(g)));
    assert_int_equal(qp_graph_verify(NULL, NULL, NULL), QP_ERR_NULL_ARG);
    done(g, &al);
}

static void
verify_reports_an_empty_graph(void **state)
{
    (void)state;
    qpt_alloc al;
    qpt_alloc_reset(&al);
    qp_allocator a = qpt_allocator(&al);
    qp_graph *g;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    struct diags c;
    assert_int_equal(run(g, &c), QP_ERR_INVALID_GRAPH);
    assert_int_equal(c.n, 1);
    expect(&c, QP_ERR_INVALID_GRAPH, "graph has no nodes", 0);
    done(g, &al);
    one_problem("qgraph 1\n# nothing here\n", QP_ERR_INVALID_GRAPH, "graph has no nodes", 0);
}

static void
verify_reports_a_graph_without_output(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%x = placeholder x () {}\n%relu = call_function torch.relu (%x,) {}\n",
                QP_ERR_INVALID_GRAPH, "no output", 0);
}

static void
verify_reports_two_outputs(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n"
                "%output_1 = output output (%x,) {}\n",
                QP_ERR_INVALID_GRAPH, "second output node %output_1 (first %output)", 4);
}

static void
verify_reports_an_output_that_is_not_last(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%x = placeholder x () {}\n%output = output output (%x,) {}\n"
                "%y = placeholder y () {}\n",
                QP_ERR_INVALID_GRAPH, "output node %output is not the last node (%y follows it)",
                4);
}

static void
verify_reports_duplicate_names(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%x = placeholder x () {}\n%relu = call_function torch.relu (%x,) {}\n"
                "%x = placeholder x2 () {}\n%output = output output (%relu,) {}\n",
                QP_ERR_DUP_NAME, "node %x defined twice (lines 2 and 4)", 4);
}

static void
verify_reports_use_before_define(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%a = call_function torch.relu (%b,) {}\n%b = placeholder b () {}\n"
                "%output = output output (%a,) {}\n",
                QP_ERR_NOT_TOPO_SORTED, "%a uses %b before it is defined", 2);
}

static void
verify_reports_a_node_using_itself(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%x = placeholder x () {}\n"
                "%s = call_function operator.add (%x, [%s]) {}\n"
                "%output = output output (%s,) {}\n",
                QP_ERR_CYCLE, "%s uses itself", 3);
}

static void
verify_reports_a_cycle_with_its_path(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n"
                       "%x = placeholder x () {}\n"
                       "%a = call_function operator.add (%x, %c) {}\n"
                       "%b = call_function torch.relu (%a,) {}\n"
                       "%c = call_function torch.relu (%b,) {}\n"
                       "%output = output output (%c,) {}\n";
    qpt_alloc al;
    qp_graph *g = read_raw(text, &al);
    struct diags c;
    assert_int_equal(run(g, &c), QP_ERR_NOT_TOPO_SORTED); /* the first problem found */
    expect(&c, QP_ERR_NOT_TOPO_SORTED, "%a uses %c before it is defined", 3);
    int i = find(&c, QP_ERR_CYCLE, "cycle: ");
    if (i < 0) {
        dump(&c);
        fail();
    }
    /* the path names every node on the cycle, each after the one it uses */
    assert_non_null(strstr(c.msg[i], "%a <- %c <- %b"));
    assert_null(strstr(c.msg[i], "%x"));
    assert_null(strstr(c.msg[i], "%output"));
    assert_true(c.node[i] != 0);
    assert_true(c.line[i] >= 3 && c.line[i] <= 5);
    done(g, &al);
}

static void
verify_names_each_cycle_once(void **state)
{
    (void)state;
    /* two cycles, the second fed by the first, and a node behind both: each cycle
     * is named once, the node behind them is on none */
    const char *text = "qgraph 1\n"
                       "%x = placeholder x () {}\n"
                       "%a = call_function operator.add (%x, %b) {}\n"
                       "%b = call_function torch.relu (%a,) {}\n"
                       "%c = call_function operator.add (%a, %d) {}\n"
                       "%d = call_function torch.relu (%c,) {}\n"
                       "%e = call_function operator.add (%d, %e) {}\n"
                       "%output = output output (%d,) {}\n";
    qpt_alloc al;
    qp_graph *g = read_raw(text, &al);
    struct diags c;
    assert_int_equal(run(g, &c), QP_ERR_NOT_TOPO_SORTED);
    int cycles = 0, ab = 0, cd = 0;
    for (int i = 0; i < c.n; i++) {
        if (c.st[i] != QP_ERR_CYCLE || !strstr(c.msg[i], "cycle: "))
            continue;
        cycles++;
        ab += strstr(c.msg[i], "%a") && strstr(c.msg[i], "%b");
        cd += strstr(c.msg[i], "%c") && strstr(c.msg[i], "%d");
        assert_null(strstr(c.msg[i], "%output"));
        assert_null(strstr(c.msg[i], "%e"));
        assert_null(strstr(c.msg[i], "..."));
    }
    if (cycles != 2 || ab != 1 || cd != 1) {
        dump(&c);
        fail();
    }
    expect(&c, QP_ERR_CYCLE, "%e uses itself", 7);
    expect(&c, QP_ERR_CYCLE, "cycle: %a <- %b <- %a", 3);
    done(g, &al);
}

static void
verify_names_a_long_cycle_in_bounded_text(void **state)
{
    (void)state;
    /* n0 uses n99999, n_i uses n_(i-1): one cycle through 10^5 nodes; found without
     * recursion, reported with a bounded path */
    enum { N = 100000 };
    size_t cap = (size_t)N * 64 + 256, o = 0;
    char *text = test_malloc(cap);
    o += (size_t)snprintf(text + o, cap - o,
                          "qgraph 1\n%%n0 = call_function torch.relu (%%n%d,) {}\n", N - 1);
    for (int i = 1; i < N; i++)
        o += (size_t)snprintf(text + o, cap - o, "%%n%d = call_function torch.relu (%%n%d,) {}\n",
                              i, i - 1);
    o += (size_t)snprintf(text + o, cap - o, "%%output = output output (%%n%d,) {}\n", N - 1);
    qpt_alloc al;
    qp_graph *g = read_raw(text, &al);
    test_free(text);
    struct diags c;
    assert_int_equal(run(g, &c), QP_ERR_NOT_TOPO_SORTED);
    int i = find(&c, QP_ERR_CYCLE, "cycle: %n");
    if (i < 0) {
        dump(&c);
        fail();
    }
    assert_non_null(strstr(c.msg[i], " <- ..."));
    assert_true(strlen(c.msg[i]) < 300);
    done(g, &al);
}

static void
verify_reports_undeclared_modules_and_attributes(void **state)
{
    (void)state;
    one_problem("qgraph 1\n%x = placeholder x () {}\n%conv = call_module conv (%x,) {}\n"
                "%output = output output (%conv,) {}\n",
                QP_ERR_NOT_FOUND, "%conv calls undeclared module conv", 3);
    one_problem("qgraph 1\nmodule weight nn.X {}\n%w = get_attr weight () {}\n"
                "%output = output output (%w,) {}\n",
                QP_ERR_NOT_FOUND, "%w reads undeclared attr weight", 3);
}

static void
verify_reports_dangling_and_erased_references(void **state)
{
    (void)state;
    qpt_alloc al;
    qp_graph *g = read_raw("qgraph 1\n%x = placeholder x () {}\n%y = placeholder y () {}\n"
                           "%relu = call_function torch.relu (%x,) {}\n"
                           "%add = call_function operator.add (%relu, %y) {}\n"
                           "%output = output output (%add,) {}\n",
                           &al);
    qp_node x = qp_graph_find_node(g, "x"), relu = qp_graph_find_node(g, "relu");
    qp_node add = qp_graph_find_node(g, "add");
    /* what qp_graph_erase_node refuses: erasing a node that still has a user */
    qp__node_erase(g, x.id);
    /* and a reference to a node that does not exist */
    uint32_t r = qp__val_item(g, qp_node_args(g, add).id, 1);
    assert_int_equal(g->vals[r].kind, QP_VAL_NODE);
    g->vals[r].a = g->nnodes + 40;
    struct diags c;
    qp_status rc = run(g, &c);
    assert_true(rc == QP_ERR_DANGLING_EDGE || rc == QP_ERR_INTERNAL);
    expect(&c, QP_ERR_DANGLING_EDGE, "%relu uses erased node %x", 4);
    char want[64];
    snprintf(want, sizeof want, "%%add refers to missing node #%u", (unsigned)(g->nnodes + 40));
    expect(&c, QP_ERR_DANGLING_EDGE, want, 5);
    assert_int_equal(c.node[find(&c, QP_ERR_DANGLING_EDGE, "erased")], relu.id);
    g->vals[r].a = qp_graph_find_node(g, "y").id; /* undo, so the graph can be freed */
    done(g, &al);
}

static void
verify_catches_corruption_the_api_cannot_make(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n%x = placeholder x () {}\n%y = placeholder y () {}\n"
                       "%relu = call_function torch.relu (%x,) {}\n"
                       "%output = output output (%relu,) {}\n";
    qpt_alloc al;
    struct diags c;
    /* a use record that names the wrong user */
    qp_graph *g = read_raw(text, &al);
    qp_node relu = qp_graph_find_node(g, "relu"), y = qp_graph_find_node(g, "y");
    uint32_t r = qp__val_item(g, qp_node_args(g, relu).id, 0);
    g->vals[r].b = y.id;
    assert_int_equal(run(g, &c), QP_ERR_INTERNAL);
    expect(&c, QP_ERR_INTERNAL, "use list of %x disagrees with the args of %relu", 4);
    g->vals[r].b = relu.id;
    assert_int_equal(run(g, &c), QP_OK);
    /* a reference left out of its producer's use list */
    qp__uses_detach(g, qp_node_args(g, relu).id);
    assert_int_equal(run(g, &c), QP_ERR_INTERNAL);
    expect(&c, QP_ERR_INTERNAL, "use lists hold 1 references, args hold 2", 0);
    qp__uses_attach(g, relu.id, qp_node_args(g, relu).id);
    assert_int_equal(run(g, &c), QP_OK);
    /* args that are not a tuple, kwargs that are not a dict, a bad name, a bad op */
    uint32_t args = g->nodes[y.id].args, kwargs = g->nodes[y.id].kwargs;
    uint32_t name = g->nodes[y.id].name;
    g->nodes[y.id].args = qp__val_empty(g, QP_VAL_DICT);
    g->nodes[y.id].kwargs = qp__val_empty(g, QP_VAL_TUPLE);
    assert_int_equal(qp__sym_intern(g, "not-a-name", 10, &g->nodes[y.id].name), QP_OK);
    g->nodes[relu.id].op = 77;
    assert_int_equal(run(g, &c), QP_ERR_INVALID_NAME);
    expect(&c, QP_ERR_INVALID_GRAPH, "args of %not-a-name are not a tuple", 3);
    expect(&c, QP_ERR_INVALID_GRAPH, "kwargs of %not-a-name are not a dict", 3);
    expect(&c, QP_ERR_INVALID_NAME, "node name 'not-a-name' is not [A-Za-z0-9_]+", 3);
    expect(&c, QP_ERR_INVALID_GRAPH, "%relu has an unknown op 77", 4);
    g->nodes[y.id].args = args;
    g->nodes[y.id].kwargs = kwargs;
    g->nodes[y.id].name = name;
    g->nodes[relu.id].op = QP_OP_CALL_FUNCTION;
    /* an execution order that lost a node */
    uint32_t yprev = g->nodes[y.id].prev, ynext = g->nodes[y.id].next;
    g->nodes[yprev].next = ynext;
    assert_int_equal(run(g, &c), QP_ERR_INTERNAL);
    expect(&c, QP_ERR_INTERNAL, "execution order holds 3 nodes, 4 are live", 0);
    g->nodes[yprev].next = y.id;
    assert_int_equal(run(g, &c), QP_OK);
    done(g, &al);
}

static void
verify_reports_every_problem(void **state)
{
    (void)state;
    const char *text = "qgraph 1\n"
                       "%x = placeholder x () {}\n"                    /* 2 */
                       "%x = placeholder x2 () {}\n"                   /* 3: duplicate */
                       "%a = call_function torch.relu (%b,) {}\n"      /* 4: before define */
                       "%b = placeholder b () {}\n"                    /* 5 */
                       "%s = call_function torch.relu (%s,) {}\n"      /* 6: itself */
                       "%c = call_module conv (%x,) {}\n"              /* 7: no module */
                       "%w = get_attr weight () {}\n"                  /* 8: no attr */
                       "%p = call_function operator.add (%x, %r) {}\n" /* 9: cycle */
                       "%q = call_function torch.relu (%p,) {}\n"      /* 10 */
                       "%r = call_function torch.relu (%q,) {}\n"      /* 11 */
                       "%e = placeholder e () {}\n"                    /* 12 */
                       "%f = call_function torch.relu (%e,) {}\n"      /* 13: erased use */
                       "%output = output output (%x,) {}\n"            /* 14 */
                       "%output_1 = output output (%x,) {}\n"          /* 15: second */
                       "%tail = placeholder tail () {}\n";             /* 16: after output */
    qpt_alloc al;
    qp_graph *g = read_raw(text, &al);
    qp__node_erase(g, qp_graph_find_node(g, "e").id);
    struct diags c;
    assert_int_equal(run(g, &c), QP_ERR_DUP_NAME); /* the first, in order */
    expect(&c, QP_ERR_DUP_NAME, "node %x defined twice (lines 2 and 3)", 3);
    expect(&c, QP_ERR_NOT_TOPO_SORTED, "%a uses %b before it is defined", 4);
    expect(&c, QP_ERR_CYCLE, "%s uses itself", 6);
    expect(&c, QP_ERR_NOT_FOUND, "%c calls undeclared module conv", 7);
    expect(&c, QP_ERR_NOT_FOUND, "%w reads undeclared attr weight", 8);
    expect(&c, QP_ERR_NOT_TOPO_SORTED, "%p uses %r before it is defined", 9);
    expect(&c, QP_ERR_DANGLING_EDGE, "%f uses erased node %e", 13);
    expect(&c, QP_ERR_INVALID_GRAPH, "second output node %output_1", 15);
    expect(&c, QP_ERR_INVALID_GRAPH, "is not the last node (%tail follows it)", 16);
    int i = find(&c, QP_ERR_CYCLE, "cycle: ");
    if (i < 0) {
        dump(&c);
        fail();
    }
    assert_non_null(strstr(c.msg[i], "%p"));
    assert_non_null(strstr(c.msg[i], "%q"));
    assert_non_null(strstr(c.msg[i], "%r"));
    /* every diagnostic names its node, except the graph-wide ones */
    for (int k = 0; k < c.n; k++)
        if (c.st[k] != QP_ERR_INTERNAL)
            assert_true(c.node[k] != 0 && c.line[k] != 0);
    /* the message holds the first problem and how many more there are */
    char more[64];
    snprintf(more, sizeof more, "(and %d more problems)", c.n - 1);
    assert_non_null(strstr(qp_graph_errmsg(g), "node %x defined twice"));
    assert_non_null(strstr(qp_graph_errmsg(g), more));
    assert_int_equal(qp_graph_errnode(g).id, c.node[0]);
    assert_true(c.n >= 10);
    done(g, &al);
}

static void
reader_diag_callback_sees_every_problem(void **state)
{
    (void)state;
    /* the strict reader verifies too: its first error is the first problem, and the
     * diag callback sees them all */
    const char *text = "qgraph 1\n%x = placeholder x () {}\n%c = call_module conv (%x,) {}\n"
                       "%w = get_attr weight () {}\n%output = output output (%c,) {}\n";
    qpt_alloc al;
    qpt_alloc_reset(&al);
    qp_allocator a = qpt_allocator(&al);
    struct diags c;
    memset(&c, 0, sizeof c);
    qp_read_opts o = {&a, 0, collect, &c};
    qp_graph *g = (qp_graph *)1;
    qp_error err;
    assert_int_equal(qp_graph_read_text(text, strlen(text), &o, &g, &err), QP_ERR_NOT_FOUND);
    assert_null(g);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.msg, "undeclared module conv"));
    assert_int_equal(c.n, 2);
    expect(&c, QP_ERR_NOT_FOUND, "undeclared attr weight", 4);
    assert_int_equal(al.live, 0);
}

static void
verify_walks_a_deep_chain_without_recursion(void **state)
{
    (void)state;
    qpt_alloc al;
    qpt_alloc_reset(&al);
    qp_allocator a = qpt_allocator(&al);
    qp_tracer *t;
    assert_int_equal(qp_tracer_create(&a, &t), QP_OK);
    qp_graph *tg = qp_tracer_graph(t);
    qp_node n;
    qp_tracer_placeholder(t, "x", QP_NULL_VAL, &n);
    for (int i = 0; i < 300000; i++) {
        qp_val r, args;
        qp_val_new_node(tg, n, &r);
        qp_val_new_tuple(tg, 1, &r, &args);
        qp_tracer_call_function(t, "torch.relu", args, QP_NULL_VAL, &n);
    }
    qp_val r;
    qp_val_new_node(tg, n, &r);
    qp_tracer_output(t, r);
    qp_graph *g;
    assert_int_equal(qp_tracer_finish(t, &g), QP_OK); /* finish verifies */
    assert_int_equal(qp_graph_verify(g, NULL, NULL), QP_OK);
    assert_int_equal(qp_graph_num_nodes(g), 300002);
    qp_graph_destroy(g);
    assert_int_equal(al.live, 0);
}

static void
verify_fails_cleanly_without_memory(void **state)
{
    (void)state;
    qpt_alloc al;
    qp_graph *g = read_raw("qgraph 1\n%a = call_function torch.relu (%b,) {}\n"
                           "%b = call_function torch.relu (%a,) {}\n"
                           "%output = output output (%b,) {}\n",
                           &al);
    struct diags c;
    for (size_t k = 1;; k++) {
        al.fail_at = al.calls + k;
        qp_status rc = run(g, &c);
        al.fail_at = 0;
        if (al.failed == 0) {
            assert_int_equal(rc, QP_ERR_NOT_TOPO_SORTED);
            expect(&c, QP_ERR_CYCLE, "cycle", 0);
            break;
        }
        al.failed = 0;
        assert_true(rc == QP_ERR_NOMEM || rc == QP_ERR_NOT_TOPO_SORTED);
        assert_true(k < 10);
    }
    assert_int_equal(qp_graph_mem_used(g) + sizeof(qp_graph), al.live);
    done(g, &al);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_accepts_a_valid_graph),
        cmocka_unit_test(verify_reports_an_empty_graph),
        cmocka_unit_test(verify_reports_a_graph_without_output),
        cmocka_unit_test(verify_reports_two_outputs),
        cmocka_unit_test(verify_reports_an_output_that_is_not_last),
        cmocka_unit_test(verify_reports_duplicate_names),
        cmocka_unit_test(verify_reports_use_before_define),
        cmocka_unit_test(verify_reports_a_node_using_itself),
        cmocka_unit_test(verify_reports_a_cycle_with_its_path),
        cmocka_unit_test(verify_names_each_cycle_once),
        cmocka_unit_test(verify_names_a_long_cycle_in_bounded_text),
        cmocka_unit_test(verify_reports_undeclared_modules_and_attributes),
        cmocka_unit_test(verify_reports_dangling_and_erased_references),
        cmocka_unit_test(verify_catches_corruption_the_api_cannot_make),
        cmocka_unit_test(verify_reports_every_problem),
        cmocka_unit_test(reader_diag_callback_sees_every_problem),
        cmocka_unit_test(verify_walks_a_deep_chain_without_recursion),
        cmocka_unit_test(verify_fails_cleanly_without_memory),
    };
    return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
