/*
 * test_example_resnet18.c - examples/resnet18.c under memory faults: with
 * each allocation k failing in turn (alone, then with every later one), recording resnet18 either fails with
 * QP_ERR_NOMEM and leaks nothing, or gives exactly torch.fx's graph
 * (data/fixtures/resnet18.in.qg). A value that failed to build must never
 * turn into a silently different graph.
 */
#include "testlib.h"

#include "resnet18.h"

/* One round: trace, comment, finish. QP_OK with *out set, or the first failure. */
static qp_status
trace(const qp_allocator *a, qp_graph **out)
{
    *out = NULL;
    qp_tracer *t = NULL;
    qp_status st = qp_tracer_create(a, &t);
    if (st)
        return st;
    st = qp_example_trace_resnet18(t);
    if (!st)
        st = qp_graph_add_comment(qp_tracer_graph(t), "model resnet18");
    if (!st)
        st = qp_graph_add_comment(qp_tracer_graph(t),
                                  "traced by torch.fx symbolic_trace (torch 1.13)");
    if (st) {
        qp_tracer_destroy(t);
        return st;
    }
    return qp_tracer_finish(t, out);
}

/* after: fail allocation k and every later one (else k alone) */
static void
sweep(bool after)
{
    char *want = qpt_read_file("fixtures/resnet18.in.qg", NULL);
    qpt_alloc st;
    size_t rounds = 0;
    for (size_t k = 1;; k++) {
        qpt_alloc_reset(&st);
        st.fail_at = k;
        st.fail_after = after;
        qp_allocator a = qpt_allocator(&st);
        qp_graph *g = NULL;
        qp_status rc = trace(&a, &g);
        if (rc) {
            if (rc != QP_ERR_NOMEM)
                print_error("allocation %zu failing gave %s\n", k, qp_status_str(rc));
            assert_int_equal(rc, QP_ERR_NOMEM);
            assert_null(g);
            assert_int_equal(st.live, 0);
            assert_int_equal(st.live_blocks, 0);
            continue;
        }
        char *got = qpt_graph_text(g);
        if (strcmp(got, want)) {
            print_error("allocation %zu failing (of %zu) gave a different graph:\n%s\n", k,
                        st.calls, got);
            fail();
        }
        test_free(got);
        qp_graph_destroy(g);
        assert_int_equal(st.live, 0);
        rounds = k;
        if (st.failed == 0) { /* no failure injected: every allocation point was tried */
            printf("%zu allocations, each failed %s\n", st.calls,
                   after ? "with every later one" : "once");
            break;
        }
    }
    assert_true(rounds > 10); /* the sweep did run */
    test_free(want);
}

static void
resnet18_trace_is_torch_fx_graph_or_nomem(void **state)
{
    (void)state;
    sweep(false);
}

static void
resnet18_trace_fails_from_any_allocation_on(void **state)
{
    (void)state;
    sweep(true);
}

int
main(int argc, char **argv)
{
    qpt_data_dir = argc > 1 ? argv[1] : "tests/data";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resnet18_trace_is_torch_fx_graph_or_nomem),
        cmocka_unit_test(resnet18_trace_fails_from_any_allocation_on),
    };
    return cmocka_run_group_tests_name("example_resnet18", tests, NULL, NULL);
}
