/*
 * test_shared_attrs.c - equal attribute dicts are one value: the reader gives
 * every module whose attribute text is byte for byte one read before that
 * text's value, however many distinct texts came between (a model has tens to
 * thousands), and the swap pass gives modules sharing a float dict one QAT
 * dict. Sharing is invisible in the text, so what is checked here is the
 * handles, and that texts which differ never share.
 */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

enum { DISTINCT = 300 }; /* far more than any small fixed memo would hold */

/* Blocks conv -> bn, first "a.I" for every I, then "b.I" for every I, with
 * padding I: each conv text recurs only after all the others. */
static char *
blocks_text(size_t *len)
{
    size_t cap = (size_t)DISTINCT * 2 * 700 + 512, n = 0;
    char *t = test_malloc(cap);
    n += (size_t)snprintf(t + n, cap - n, "qgraph 1\n");
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < DISTINCT; i++) {
            char p = pass ? 'b' : 'a';
            n += (size_t)snprintf(t + n, cap - n,
                                  "module %c.%d.conv nn.Conv2d {in_channels: 8, out_channels: 8, "
                                  "kernel_size: (3, 3), stride: (1, 1), padding: (%d, %d), "
                                  "dilation: (1, 1), groups: 1, padding_mode: \"zeros\", "
                                  "output_padding: (0, 0), bias: False, weight_shape: (8, 8, 3, "
                                  "3)}\n",
                                  p, i, i, i);
            n += (size_t)snprintf(t + n, cap - n,
                                  "module %c.%d.bn nn.BatchNorm2d {num_features: 8, eps: 1e-05, "
                                  "momentum: 0.1, affine: True, track_running_stats: True, "
                                  "bias: True, weight_shape: (8,)}\n",
                                  p, i);
        }
    n += (size_t)snprintf(t + n, cap - n, "%%x = placeholder x () {}\n");
    const char *prev = "x";
    char buf[2][64];
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < DISTINCT; i++) {
            char p = pass ? 'b' : 'a';
            n += (size_t)snprintf(t + n, cap - n,
                                  "%%%c_%d_conv = call_module %c.%d.conv (%%%s,) {}\n", p, i, p, i,
                                  prev);
            snprintf(buf[k], sizeof buf[k], "%c_%d_bn", p, i);
            n +=
                (size_t)snprintf(t + n, cap - n, "%%%s = call_module %c.%d.bn (%%%c_%d_conv,) {}\n",
                                 buf[k], p, i, p, i);
            prev = buf[k];
            k ^= 1;
        }
    n += (size_t)snprintf(t + n, cap - n, "%%output = output output (%%%s,) {}\n", prev);
    assert_true(n < cap);
    *len = n;
    return t;
}

static uint32_t
attrs_of(const qp_graph *g, char p, int i, const char *what)
{
    char path[64];
    snprintf(path, sizeof path, "%c.%d.%s", p, i, what);
    qp_module m = qp_graph_find_module(g, path);
    assert_true(m.id != 0);
    return qp_module_attrs(g, m).id;
}

static int64_t
padding_of(const qp_graph *g, char p, int i)
{
    char path[64];
    snprintf(path, sizeof path, "%c.%d.conv", p, i);
    qp_val pad = qp_val_dict_get(g, qp_module_attrs(g, qp_graph_find_module(g, path)), "padding");
    return qp_val_as_int(g, qp_val_item_at(g, pad, 0));
}

static void
equal_texts_share_one_value_however_many_between(void **state)
{
    (void)state;
    size_t len;
    char *text = blocks_text(&len);
    qp_graph *g = NULL;
    assert_int_equal(qp_graph_read_text(text, len, NULL, &g, NULL), QP_OK);
    uint32_t bn = attrs_of(g, 'a', 0, "bn");
    for (int i = 0; i < DISTINCT; i++) {
        assert_int_equal(attrs_of(g, 'a', i, "conv"), attrs_of(g, 'b', i, "conv"));
        assert_int_equal(attrs_of(g, 'a', i, "bn"), bn);
        assert_int_equal(attrs_of(g, 'b', i, "bn"), bn);
        if (i)
            assert_int_not_equal(attrs_of(g, 'a', i, "conv"), attrs_of(g, 'a', i - 1, "conv"));
        assert_int_equal(padding_of(g, 'a', i), i);
        assert_int_equal(padding_of(g, 'b', i), i);
    }
    /* prepare fuses each conv with its bn (freeze_bn: a new QAT dict per float dict) */
    assert_int_equal(qp_prepare_qat(g, QP_BACKEND_TENSORRT, NULL), QP_OK);
    for (int i = 0; i < DISTINCT; i++) {
        char path[64];
        snprintf(path, sizeof path, "a.%d.conv", i);
        assert_string_equal(qp_module_type(g, qp_graph_find_module(g, path)), "nniqat.ConvBn2d");
        assert_int_equal(attrs_of(g, 'a', i, "conv"), attrs_of(g, 'b', i, "conv"));
        if (i)
            assert_int_not_equal(attrs_of(g, 'a', i, "conv"), attrs_of(g, 'a', i - 1, "conv"));
        assert_int_equal(padding_of(g, 'b', i), i);
    }
    qp_graph_destroy(g);
    test_free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equal_texts_share_one_value_however_many_between),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
