/*
 * fuzz_prepare.c - libFuzzer target for reading a graph and preparing it, for
 * every backend.
 *
 * Input: one control byte, then qgraph text, then optionally a line "@qcfg"
 * followed by a .qcfg configuration. The control byte picks the backend
 * (low 4 bits, modulo the backend count), fixed mode (0x10), verify-each
 * (0x20), reading with QP_READ_NO_VERIFY (0x40, so prepare's own check meets
 * structural problems) and a NULL configuration (0x80, else an empty one).
 * The Academic backends get configs/academic.qcfg unless the input has one.
 *
 * Properties checked:
 *  - prepare never crashes or leaks; on failure the graph's text is unchanged
 *    and the message is not empty; on success the graph verifies, its text
 *    reads back to the same text, DOT prints, and a second prepare is refused
 *    or changes nothing it should not (never crashes);
 *  - failing one allocation of prepare (picked from the input's hash, alone or
 *    from there on) gives QP_ERR_NOMEM and leaves the text unchanged. When
 *    prepare fails anyway, the allocations it makes after the failure (the undo
 *    log giving arrays their old capacities back, which may fail harmlessly)
 *    count too: failing one of those gives the same status and message as the
 *    run without a fault.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static const char academic[] =
    "qcfg 1\n"
    "extra_qconfig_dict = {w_observer: \"MinMaxObserver\", a_observer: \"EMAMinMaxObserver\", "
    "w_fakequantize: \"FixedFakeQuantize\", a_fakequantize: \"FixedFakeQuantize\", w_qscheme: "
    "{bit: 4, symmetry: False, per_channel: True, pot_scale: False}, a_qscheme: {bit: 4, "
    "symmetry: False, per_channel: False, pot_scale: False}}\n";

static const char marker[] = "\n@qcfg\n";

static const uint8_t *
find(const uint8_t *p, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(p + i, needle, m))
            return p + i;
    return NULL;
}

/* The configuration for this run (NULL for the backend's defaults); false: skip. */
static bool
config_for(uint8_t ctl, qp_backend be, const uint8_t *cfg, size_t cfglen, qp_config **out)
{
    *out = NULL;
    qp_error err;
    bool academic_be = be == QP_BACKEND_ACADEMIC || be == QP_BACKEND_ACADEMIC_NLP;
    if (cfg) {
        if (qp_config_read_text((const char *)cfg, cfglen, NULL, out, &err))
            return false;
    } else if (academic_be) {
        FZ_CHECK(qp_config_read_text(academic, sizeof academic - 1, NULL, out, &err) == QP_OK,
                 err.msg);
    } else if (!(ctl & 0x80) || (ctl & 0x30)) {
        FZ_CHECK(qp_config_create(NULL, out) == QP_OK, "config");
    }
    if (ctl & 0x10)
        FZ_CHECK(qp_config_set_fix(*out, true) == QP_OK, "fix");
    if (ctl & 0x20)
        FZ_CHECK(qp_config_set_verify_each(*out, true) == QP_OK, "verify_each");
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *text = data + 1, *cfg = NULL;
    size_t len = size - 1, cfglen = 0;
    const uint8_t *m = find(text, len, marker, sizeof marker - 1);
    if (m) {
        cfg = m + sizeof marker - 1;
        cfglen = (size_t)(text + len - cfg);
        len = (size_t)(m - text) + 1; /* keep the graph's last newline */
    }
    qp_backend be = (qp_backend)((ctl & 15) % QP_BACKEND_COUNT);
    unsigned flags = ctl & 0x40 ? QP_READ_NO_VERIFY : 0;
    qp_config *c;
    if (!config_for(ctl, be, cfg, cfglen, &c))
        return 0;
    uint64_t h = fz_hash(data, size);

    fz_alloc st = {0};
    qp_allocator a = fz_allocator(&st);
    qp_error err;
    qp_graph *g = fz_read((const char *)text, len, flags, &a, &err);
    if (!g) {
        qp_config_destroy(c);
        FZ_CHECK(st.live == 0, "leak (read)");
        return 0;
    }
    size_t tlen;
    char *before = fz_text(g, &st, &tlen);
    size_t calls0 = st.calls;
    qp_status rc = qp_prepare_qat(g, be, c), rc0 = rc;
    size_t n = st.calls - calls0;
    char msg0[512]; /* a graph's message is at most 511 bytes */
    snprintf(msg0, sizeof msg0, "%s", qp_graph_errmsg(g));
    char *t = fz_check_prepare(g, &st, rc, before);
    if (!rc) {
        fz_buf dot = {NULL, 0, 0};
        FZ_CHECK(qp_graph_write_dot(g, fz_buf_write, &dot) == QP_OK, "dot");
        fz_buf_free(&dot);
        for (uint32_t i = 0; i < qp_graph_num_explain(g); i++) {
            qp_explain_item it;
            FZ_CHECK(qp_graph_explain_at(g, i, &it) == QP_OK, "explain");
        }
        /* again: refused, or fine; a failure leaves the prepared text as it is */
        rc = qp_prepare_qat(g, be, c);
        char *t3 = fz_text(g, &st, NULL);
        if (rc)
            FZ_CHECK(strcmp(t, t3) == 0, "a failed second prepare changed the graph");
        free(t3);
        free(t);
    }
    qp_graph_destroy(g);
    FZ_CHECK(st.live == 0 && st.live_blocks == 0, "leak (prepare)");

    /* one allocation of prepare fails */
    if (n) {
        fz_alloc f = {0};
        qp_allocator fa = fz_allocator(&f);
        g = fz_read((const char *)text, len, flags, &fa, &err);
        FZ_CHECK(g != NULL, err.msg);
        f.fail_at = f.calls + 1 + (size_t)(h % n);
        f.fail_after = (int)(h >> 63);
        rc = qp_prepare_qat(g, be, c);
        FZ_CHECK(rc == QP_ERR_NOMEM ||
                     (rc0 && rc == rc0 && strcmp(qp_graph_errmsg(g), msg0) == 0),
                 qp_graph_errmsg(g));
        f.fail_at = 0;
        char *after = fz_text(g, &f, NULL);
        FZ_CHECK(strcmp(before, after) == 0, "prepare failing for memory changed the graph");
        free(after);
        qp_graph_destroy(g);
        FZ_CHECK(f.live == 0 && f.live_blocks == 0, "leak after NOMEM");
    }
    free(before);
    qp_config_destroy(c);
    return 0;
}
