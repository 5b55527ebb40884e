/*
 * graph_util.c - graph helpers the core unit tests share: a graph over the
 * test allocator, and the check every test ends with (close the graph with an
 * output, verify it, destroy it, nothing leaked), a pass's line of the
 * prepare report, and a long relu chain's text.
 */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

qp_graph *
qpt_mkgraph(qpt_alloc *st)
{
    qpt_alloc_reset(st);
    qp_allocator a = qpt_allocator(st);
    qp_graph *g = NULL;
    assert_int_equal(qp_graph_create(&a, &g), QP_OK);
    return g;
}

/* Ends the graph with an output if it has none (declaring what its call_module
 * and get_attr nodes name) and checks it verifies: every test's mutations must
 * leave a graph qp_graph_verify accepts. */
void
qpt_close_and_verify(qp_graph *g)
{
    for (qp_node n = qp_graph_first(g); !qp_node_is_null(n); n = qp_node_next(g, n)) {
        const char *t = qp_node_target(g, n);
        qp_module m;
        if (qp_node_op(g, n) == QP_OP_CALL_MODULE && qp_module_is_null(qp_graph_find_module(g, t)))
            assert_int_equal(qp_graph_add_module(g, t, "nn.Identity", QP_NULL_VAL, &m), QP_OK);
        if (qp_node_op(g, n) == QP_OP_GET_ATTR) {
            bool found = false;
            for (uint32_t i = 0; i < qp_graph_num_params(g); i++)
                found |= !strcmp(qp_graph_param_name(g, i), t);
            if (!found)
                assert_int_equal(qp_graph_add_param(g, t, QP_NULL_VAL), QP_OK);
        }
    }
    qp_node last = qp_graph_last(g);
    if (qp_node_is_null(last) || qp_node_op(g, last) != QP_OP_OUTPUT) {
        qp_node_spec s = {QP_OP_PLACEHOLDER, "closing_input", NULL, QP_NULL_VAL, QP_NULL_VAL};
        qp_node x, o;
        assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &s, &x), QP_OK);
        qp_val r, args;
        assert_int_equal(qp_val_new_node(g, x, &r), QP_OK);
        assert_int_equal(qp_val_new_tuple(g, 1, &r, &args), QP_OK);
        qp_node_spec out = {QP_OP_OUTPUT, "output", NULL, args, QP_NULL_VAL};
        assert_int_equal(qp_graph_insert_before(g, QP_NULL_NODE, &out, &o), QP_OK);
    }
    qpt_verify_ok(g);
}

void
qpt_done(qp_graph *g, qpt_alloc *st)
{
    qpt_close_and_verify(g);
    qp_graph_destroy(g);
    assert_int_equal(st->live, 0);
    assert_int_equal(st->live_blocks, 0);
}

void
qpt_verify_ok(qp_graph *g)
{
    qp_status rc = qp_graph_verify(g, NULL, NULL);
    if (rc) {
        print_error("verify: %s: %s\n", qp_status_str(rc), qp_graph_errmsg(g));
        fail();
    }
}

const qp_pass_stats *
qpt_pass_stats(const qp_report *r, const char *name)
{
    for (uint32_t i = 0; i < r->npass; i++)
        if (!strcmp(r->pass[i].pass, name))
            return &r->pass[i];
    fail_msg("no pass %s in the report", name);
    return NULL;
}

char *
qpt_relu_chain(int n, const char *base, size_t *len)
{
    size_t cap = (size_t)n * (strlen(base) * 2 + 64) + 256, k = 0;
    char *text = test_malloc(cap);
    k += (size_t)snprintf(text + k, cap - k, "qgraph 1\n%%x = placeholder x () {}\n");
    for (int i = 0; i < n; i++) {
        if (i)
            k += (size_t)snprintf(text + k, cap - k,
                                  "%%%s_%d = call_function torch.relu (%%%s_%d,) {}\n", base, i,
                                  base, i - 1);
        else
            k += (size_t)snprintf(text + k, cap - k,
                                  "%%%s_0 = call_function torch.relu (%%x,) {}\n", base);
    }
    k += (size_t)snprintf(text + k, cap - k, "%%output = output output (%%%s_%d,) {}\n", base,
                          n - 1);
    assert_true(k < cap);
    *len = k;
    return text;
}
