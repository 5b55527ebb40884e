/*
 * config_read.c - the .qcfg reader (FORMAT.md "Configuration files"):
 * `qcfg 1`, then `KEY = VALUE` lines in the qgraph value syntax. Keys are
 * MQBench's prepare_custom_config_dict keys plus qprep's own:
 *
 *   extra_qconfig_dict   = {w_observer: "...", w_qscheme: {bit: 4, ...}, ...}
 *   extra_quantizer_dict = {exclude_node_name: ["..."], ..., academic_mode: True}
 *   extra_fuse_dict      = {additional_fusion_pattern: [{pattern: ["nn.Conv2d",
 *                           "nn.GroupNorm"], fused: "mylib.ConvGN2d"}],
 *                           additional_qat_module_mapping: {nn.GroupNorm: "qat.GN"}}
 *   preserve_attr        = {"": ["attr"], "backbone": ["func"]}
 *   qprep_overrides      = [{path: "layer1.0.conv1", w: {bit: 4}, a: {bit: 4}},
 *                           {type: "nn.Linear", float: True}, {pattern: "layer4.*", ...}]
 *   qprep_options        = {fix: True, verify_each: False}
 *
 * Everything is checked through the qp_config setters, so a file and the C API
 * refuse the same things; an error names the line, the column of the value and
 * the key path (extra_qconfig_dict.w_qscheme.bit).
 */
#include "prep.h"

#include <stdio.h>
#include <string.h>

struct rd {
    qp_config *c;
    qp_error *err;
    uint32_t line, col;
    const char *key; /* the top-level key being read */
};

static qp_status
fail(struct rd *r, qp_status st, const char *fmt, ...) QP__PRINTF(3, 4);

static qp_status
fail(struct rd *r, qp_status st, const char *fmt, ...)
{
    if (r->err && !r->err->status) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
        va_end(ap);
        r->err->status = st;
        r->err->line = r->line;
        r->err->col = r->col;
    }
    return st;
}

/* A setter failed: its message already names the key. */
static qp_status
failc(struct rd *r, qp_status st)
{
    return fail(r, st, "%s", r->c->errmsg[0] ? r->c->errmsg : qp_status_str(st));
}

static const struct qp__val *
V(struct rd *r, uint32_t v)
{
    return &r->c->store->vals[v];
}

static const char *
S(struct rd *r, uint32_t sym)
{
    return qp__sym_str(r->c->store, sym);
}

static const char *
kind(struct rd *r, uint32_t v)
{
    return qp_val_kind_name((qp_val_kind)V(r, v)->kind);
}

static qp_status
want(struct rd *r, uint32_t v, uint8_t k, const char *path)
{
    if (V(r, v)->kind == k)
        return QP_OK;
    return fail(r, QP_ERR_INVALID_CONFIG, "%s must be a %s, not a %s", path,
                qp_val_kind_name((qp_val_kind)k), kind(r, v));
}

static bool
is_seq(const struct qp__val *v)
{
    return v->kind == QP_VAL_LIST || v->kind == QP_VAL_TUPLE;
}

static qp_status
names(struct rd *r, uint32_t v, qp_list which, const char *path)
{
    const struct qp__val *l = V(r, v);
    if (!is_seq(l))
        return fail(r, QP_ERR_INVALID_CONFIG, "%s must be a list of strings, not a %s", path,
                    kind(r, v));
    for (uint32_t i = 0; i < l->b; i++) {
        const struct qp__val *it = V(r, l->a + i);
        if (it->kind != QP_VAL_STR)
            return fail(r, QP_ERR_INVALID_CONFIG, "%s[%u] must be a string, not a %s", path,
                        (unsigned)i, kind(r, l->a + i));
        qp_status rc = qp_config_add_name(r->c, which, S(r, it->a));
        if (rc)
            return failc(r, rc);
    }
    return QP_OK;
}

static qp_status
scheme(struct rd *r, uint32_t v, const char *path, qp_qscheme *out)
{
    qp_status rc = want(r, v, QP_VAL_DICT, path);
    if (rc)
        return rc;
    if ((rc = qp__config_scheme(r->c, v, out, path)))
        return failc(r, rc);
    return QP_OK;
}

static qp_status
qconfig_dict(struct rd *r, uint32_t d)
{
    static const char *const kw_keys[4] = {"w_fakeq_params", "a_fakeq_params",
                                           "w_observer_extra_args", "a_observer_extra_args"};
    const struct qp__val *dv = V(r, d);
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < dv->b && !rc; i++) {
        uint32_t item = dv->a + i;
        const char *k = S(r, V(r, item)->key);
        char path[96];
        qp__fmt(path, sizeof path, "extra_qconfig_dict.%s", k);
        qp_side side = k[0] == 'a' ? QP_ACT : QP_WEIGHT;
        const struct qp__val *it = V(r, item);
        if (!strcmp(k, "w_observer") || !strcmp(k, "a_observer") ||
            !strcmp(k, "w_fakequantize") || !strcmp(k, "a_fakequantize")) {
            if (it->kind == QP_VAL_NONE) /* MQBench: a falsy value counts as absent */
                continue;
            if ((rc = want(r, item, QP_VAL_STR, path)))
                break;
            rc = strstr(k, "observer") ? qp_config_set_observer(r->c, side, S(r, it->a))
                                       : qp_config_set_fakequant(r->c, side, S(r, it->a));
            if (rc)
                rc = failc(r, rc);
        } else if (!strcmp(k, "w_qscheme") || !strcmp(k, "a_qscheme")) {
            qp_qscheme s;
            if (!(rc = scheme(r, item, path, &s)))
                r->c->qscheme[side] = item; /* kept whole: extra keys go to the observer */
        } else {
            int which = -1;
            for (int j = 0; j < 4; j++)
                if (!strcmp(k, kw_keys[j]))
                    which = j;
            if (which < 0) {
                rc = fail(r, QP_ERR_INVALID_CONFIG, "unknown key %s (known: w_observer, "
                          "a_observer, w_fakequantize, a_fakequantize, w_qscheme, a_qscheme, "
                          "w_fakeq_params, a_fakeq_params, w_observer_extra_args, "
                          "a_observer_extra_args)", path);
                break;
            }
            if ((rc = want(r, item, QP_VAL_DICT, path)))
                break;
            const struct qp__val *kv = V(r, item);
            for (uint32_t j = 0; j < kv->b && !rc; j++) {
                const struct qp__val *x = V(r, kv->a + j);
                if (x->kind == QP_VAL_TUPLE || x->kind == QP_VAL_LIST || x->kind == QP_VAL_DICT ||
                    x->kind == QP_VAL_NODE)
                    rc = fail(r, QP_ERR_INVALID_CONFIG, "%s.%s must be a number, bool, string "
                              "or None, not a %s", path, S(r, x->key), kind(r, kv->a + j));
            }
            if (!rc) {
                if (!strcmp(kw_keys[which] + 2, "fakeq_params")) {
                    uint32_t ob = qp__sym_find(r->c->store, "observer", 8);
                    if (ob && qp__val_get(r->c->store, item, ob))
                        rc = fail(r, QP_ERR_INVALID_CONFIG, "%s.observer: the observer is set "
                                  "by %c_observer", path, k[0]);
                }
                r->c->kwargs[which] = item;
            }
        }
    }
    return rc;
}

static qp_status
quantizer_dict(struct rd *r, uint32_t d)
{
    static const char *const lists[QP_LIST_COUNT] = {
        "exclude_node_name",   "exclude_module_name",      "exclude_function_type",
        "additional_node_name", "additional_function_type", "additional_module_type"};
    const struct qp__val *dv = V(r, d);
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < dv->b && !rc; i++) {
        uint32_t item = dv->a + i;
        const char *k = S(r, V(r, item)->key);
        char path[96];
        qp__fmt(path, sizeof path, "extra_quantizer_dict.%s", k);
        if (!strcmp(k, "academic_mode")) {
            if (!(rc = want(r, item, QP_VAL_BOOL, path)))
                qp_config_set_academic_mode(r->c, V(r, item)->u.i != 0);
            continue;
        }
        int which = -1;
        for (int j = 0; j < QP_LIST_COUNT; j++)
            if (!strcmp(k, lists[j]))
                which = j;
        if (which < 0)
            rc = fail(r, QP_ERR_INVALID_CONFIG, "unknown key %s (known: exclude_node_name, "
                      "exclude_module_name, exclude_function_type, additional_node_name, "
                      "additional_function_type, additional_module_type, academic_mode)", path);
        else
            rc = names(r, item, (qp_list)which, path);
    }
    return rc;
}

static qp_status
fuse_dict(struct rd *r, uint32_t d)
{
    const struct qp__val *dv = V(r, d);
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < dv->b && !rc; i++) {
        uint32_t item = dv->a + i;
        const char *k = S(r, V(r, item)->key);
        char path[96];
        qp__fmt(path, sizeof path, "extra_fuse_dict.%s", k);
        const struct qp__val *it = V(r, item);
        if (!strcmp(k, "additional_qat_module_mapping")) {
            if ((rc = want(r, item, QP_VAL_DICT, path)))
                break;
            for (uint32_t j = 0; j < it->b && !rc; j++) {
                const struct qp__val *x = V(r, it->a + j);
                if (x->kind != QP_VAL_STR)
                    rc = fail(r, QP_ERR_INVALID_CONFIG, "%s.%s must be a type name string", path,
                              S(r, x->key));
                else if ((rc = qp_config_add_qat_mapping(r->c, S(r, x->key), S(r, x->a))))
                    rc = failc(r, rc);
            }
        } else if (!strcmp(k, "additional_fusion_pattern")) {
            if (!is_seq(it)) {
                rc = fail(r, QP_ERR_INVALID_CONFIG, "%s must be a list of {pattern: [types], "
                          "fused: type}", path);
                break;
            }
            for (uint32_t j = 0; j < it->b && !rc; j++) {
                uint32_t e = it->a + j;
                uint32_t ps = qp__sym_find(r->c->store, "pattern", 7);
                uint32_t fs = qp__sym_find(r->c->store, "fused", 5);
                uint32_t pv =
                    V(r, e)->kind == QP_VAL_DICT && ps ? qp__val_get(r->c->store, e, ps) : 0;
                uint32_t fv =
                    V(r, e)->kind == QP_VAL_DICT && fs ? qp__val_get(r->c->store, e, fs) : 0;
                if (!pv || !fv || !is_seq(V(r, pv)) || V(r, fv)->kind != QP_VAL_STR ||
                    V(r, e)->b != 2) {
                    rc = fail(r, QP_ERR_INVALID_CONFIG, "%s[%u] must be {pattern: [\"type\", ...], "
                              "fused: \"type\"}", path, (unsigned)j);
                    break;
                }
                const char *types[3];
                uint32_t n = V(r, pv)->b;
                for (uint32_t t = 0; t < n && t < 3; t++) {
                    const struct qp__val *tv = V(r, V(r, pv)->a + t);
                    types[t] = tv->kind == QP_VAL_STR ? S(r, tv->a) : NULL;
                }
                if ((rc = qp_config_add_fusion(r->c, n, n <= 3 ? types : NULL, S(r, V(r, fv)->a))))
                    rc = failc(r, rc);
            }
        } else {
            rc = fail(r, QP_ERR_INVALID_CONFIG, "unknown key %s (known: additional_fusion_pattern, "
                      "additional_qat_module_mapping; fuser methods are code, not "
                      "configuration)", path);
        }
    }
    return rc;
}

static qp_status
preserve(struct rd *r, uint32_t d)
{
    const struct qp__val *dv = V(r, d);
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < dv->b && !rc; i++) {
        uint32_t item = dv->a + i;
        const char *path = S(r, V(r, item)->key);
        const struct qp__val *it = V(r, item);
        if (!is_seq(it)) {
            rc = fail(r, QP_ERR_INVALID_CONFIG, "preserve_attr[\"%s\"] must be a list of "
                      "attribute names", path);
            break;
        }
        for (uint32_t j = 0; j < it->b && !rc; j++) {
            const struct qp__val *x = V(r, it->a + j);
            if (x->kind != QP_VAL_STR)
                rc = fail(r, QP_ERR_INVALID_CONFIG, "preserve_attr[\"%s\"][%u] must be a "
                          "string", path, (unsigned)j);
            else if ((rc = qp_config_preserve_attr(r->c, path, S(r, x->a))))
                rc = failc(r, rc);
        }
    }
    return rc;
}

static qp_status
overrides(struct rd *r, uint32_t l)
{
    const struct qp__val *lv = V(r, l);
    if (!is_seq(lv))
        return fail(r, QP_ERR_INVALID_CONFIG, "qprep_overrides must be a list of rules");
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < lv->b && !rc; i++) {
        uint32_t e = lv->a + i;
        char path[64];
        qp__fmt(path, sizeof path, "qprep_overrides[%u]", (unsigned)i);
        if ((rc = want(r, e, QP_VAL_DICT, path)))
            break;
        const struct qp__val *ev = V(r, e);
        int how = -1;
        const char *what = NULL;
        bool has_w = false, has_a = false, flt = false;
        qp_qscheme w, a;
        for (uint32_t j = 0; j < ev->b && !rc; j++) {
            uint32_t x = ev->a + j;
            const char *k = S(r, V(r, x)->key);
            char kp[96];
            qp__fmt(kp, sizeof kp, "%s.%s", path, k);
            if (!strcmp(k, "path") || !strcmp(k, "type") || !strcmp(k, "pattern")) {
                if (how >= 0)
                    rc = fail(r, QP_ERR_INVALID_CONFIG, "%s: give one of path, type, pattern",
                              path);
                else if (!(rc = want(r, x, QP_VAL_STR, kp))) {
                    how = k[1] == 'a' && k[2] == 't' && k[3] == 'h' ? QP_MATCH_PATH
                          : k[0] == 't'                              ? QP_MATCH_TYPE
                                                                     : QP_MATCH_PATTERN;
                    what = S(r, V(r, x)->a);
                }
            } else if (!strcmp(k, "w") || !strcmp(k, "a")) {
                if (V(r, x)->kind == QP_VAL_NONE)
                    continue;
                if (!(rc = scheme(r, x, kp, k[0] == 'w' ? &w : &a))) {
                    if (k[0] == 'w')
                        has_w = true;
                    else
                        has_a = true;
                }
            } else if (!strcmp(k, "float")) {
                if (!(rc = want(r, x, QP_VAL_BOOL, kp)))
                    flt = V(r, x)->u.i != 0;
            } else {
                rc = fail(r, QP_ERR_INVALID_CONFIG, "unknown key %s (known: path, type, "
                          "pattern, w, a, float)", kp);
            }
        }
        if (rc)
            break;
        if (how < 0)
            rc = fail(r, QP_ERR_INVALID_CONFIG, "%s needs path, type or pattern", path);
        else if (flt == (has_w || has_a))
            rc = fail(r, QP_ERR_INVALID_CONFIG, "%s needs w and/or a schemes, or float: True",
                      path);
        else if ((rc = qp_config_add_override(r->c, (qp_match)how, what, has_w ? &w : NULL,
                                              has_a ? &a : NULL)))
            rc = failc(r, rc);
    }
    return rc;
}

static qp_status
options(struct rd *r, uint32_t d)
{
    const struct qp__val *dv = V(r, d);
    qp_status rc = QP_OK;
    for (uint32_t i = 0; i < dv->b && !rc; i++) {
        uint32_t item = dv->a + i;
        const char *k = S(r, V(r, item)->key);
        char path[96];
        qp__fmt(path, sizeof path, "qprep_options.%s", k);
        if (strcmp(k, "fix") && strcmp(k, "verify_each")) {
            rc = fail(r, QP_ERR_INVALID_CONFIG, "unknown key %s (known: fix, verify_each)", path);
            break;
        }
        if ((rc = want(r, item, QP_VAL_BOOL, path)))
            break;
        if (!strcmp(k, "fix"))
            qp_config_set_fix(r->c, V(r, item)->u.i != 0);
        else
            qp_config_set_verify_each(r->c, V(r, item)->u.i != 0);
    }
    return rc;
}

static const struct {
    const char *key;
    uint8_t kind; /* of the value */
    qp_status (*read)(struct rd *, uint32_t);
} keys[] = {
    {"extra_qconfig_dict", QP_VAL_DICT, qconfig_dict},
    {"extra_quantizer_dict", QP_VAL_DICT, quantizer_dict},
    {"extra_fuse_dict", QP_VAL_DICT, fuse_dict},
    {"preserve_attr", QP_VAL_DICT, preserve},
    {"qprep_overrides", QP_VAL_LIST, overrides},
    {"qprep_options", QP_VAL_DICT, options},
};

/* One `KEY = VALUE` line. */
static qp_status
line(struct rd *r, bool *seen, const char *s, size_t n)
{
    size_t p = 0;
    while (p < n && (s[p] == ' ' || s[p] == '\t'))
        p++;
    if (p == n || s[p] == '#')
        return QP_OK;
    size_t k0 = p;
    while (p < n && s[p] != ' ' && s[p] != '\t' && s[p] != '=')
        p++;
    size_t kl = p - k0;
    r->col = (uint32_t)k0 + 1;
    int which = -1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].key) == kl && !memcmp(keys[i].key, s + k0, kl))
            which = (int)i;
    if (which < 0)
        return fail(r, QP_ERR_INVALID_CONFIG, "unknown key '%.*s' (known: extra_qconfig_dict, "
                    "extra_quantizer_dict, extra_fuse_dict, preserve_attr, qprep_overrides, "
                    "qprep_options)", (int)(kl > 64 ? 64 : kl), s + k0);
    if (seen[which])
        return fail(r, QP_ERR_INVALID_CONFIG, "%s given twice", keys[which].key);
    seen[which] = true;
    while (p < n && (s[p] == ' ' || s[p] == '\t'))
        p++;
    if (p == n || s[p] != '=') {
        r->col = (uint32_t)p + 1;
        return fail(r, QP_ERR_PARSE, "expected '=' after %s", keys[which].key);
    }
    p++;
    while (p < n && (s[p] == ' ' || s[p] == '\t'))
        p++;
    r->col = (uint32_t)p + 1;
    char msg[256];
    uint32_t v;
    size_t pos = p;
    qp_status rc = qp__parse_value(r->c->store, s, n, &pos, &v, msg, sizeof msg);
    if (rc) {
        r->col = (uint32_t)pos + 1;
        return fail(r, rc, "%s: %s", keys[which].key, msg);
    }
    while (pos < n && (s[pos] == ' ' || s[pos] == '\t'))
        pos++;
    if (pos < n) {
        r->col = (uint32_t)pos + 1;
        return fail(r, QP_ERR_PARSE, "trailing text after the value of %s", keys[which].key);
    }
    const struct qp__val *vv = V(r, v);
    bool ok = vv->kind == keys[which].kind ||
              (keys[which].kind == QP_VAL_LIST && vv->kind == QP_VAL_TUPLE);
    if (!ok)
        return fail(r, QP_ERR_INVALID_CONFIG, "%s must be a %s, not a %s", keys[which].key,
                    qp_val_kind_name((qp_val_kind)keys[which].kind), kind(r, v));
    r->key = keys[which].key;
    return keys[which].read(r, v);
}

qp_status
qp_config_read_text(const char *text, size_t len, const qp_allocator *alloc, qp_config **out,
                    qp_error *err)
{
    qp_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (!out || (!text && len)) {
        err->status = QP_ERR_NULL_ARG;
        qp__fmt(err->msg, sizeof err->msg, "%s is NULL", !out ? "out" : "text");
        return QP_ERR_NULL_ARG;
    }
    *out = NULL;
    qp_config *c;
    qp_status rc = qp_config_create(alloc, &c);
    if (rc) {
        err->status = rc;
        qp__fmt(err->msg, sizeof err->msg, "out of memory");
        return rc;
    }
    struct rd r = {c, err, 1, 1, NULL};
    bool seen[sizeof keys / sizeof keys[0]] = {false};
    size_t p = 0;
    rc = QP_OK;
    for (uint32_t ln = 1; p <= len && !rc; ln++) {
        const char *s = text + p;
        const char *nl = memchr(s, '\n', len - p);
        size_t n = nl ? (size_t)(nl - s) : len - p;
        r.line = ln;
        r.col = 1;
        if (n > QP_MAX_LINE) {
            rc = fail(&r, QP_ERR_LIMIT, "line longer than %u bytes", QP_MAX_LINE);
            break;
        }
        size_t m = n && s[n - 1] == '\r' ? n - 1 : n;
        for (size_t i = 0; i < m && !rc;) {
            unsigned char ch = (unsigned char)s[i];
            size_t k = ch < 0x80 ? 1 : qp__utf8_len((const unsigned char *)s + i, m - i);
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                r.col = (uint32_t)i + 1;
                rc = fail(&r, QP_ERR_PARSE, "control character 0x%02x", ch);
            } else if (!k) { /* UTF-8, as a qgraph text: names must not carry broken bytes */
                r.col = (uint32_t)i + 1;
                rc = fail(&r, QP_ERR_PARSE, "invalid UTF-8 byte 0x%02x", ch);
            }
            i += k;
        }
        if (rc)
            break;
        if (ln == 1) {
            if (!(m == 6 && !memcmp(s, "qcfg 1", 6)))
                rc = fail(&r, QP_ERR_PARSE, "expected the header 'qcfg 1'");
        } else {
            rc = line(&r, seen, s, m);
        }
        if (!nl)
            break;
        p += n + 1;
    }
    if (rc) {
        qp_config_destroy(c);
        return rc;
    }
    *out = c;
    return QP_OK;
}

qp_status
qp_config_read_file(FILE *f, const qp_allocator *alloc, qp_config **out, qp_error *err)
{
    if (!f || !out) {
        if (out)
            *out = NULL;
        if (err) {
            memset(err, 0, sizeof *err);
            err->status = QP_ERR_NULL_ARG;
            qp__fmt(err->msg, sizeof err->msg, "%s is NULL", !f ? "file" : "out");
        }
        return QP_ERR_NULL_ARG;
    }
    /* configuration files are small: read it whole, through the caller's allocator */
    size_t cap = 4096, n = 0;
    char *buf = qp__raw_alloc(alloc, NULL, 0, cap);
    qp_status rc = QP_OK;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f))
                rc = QP_ERR_IO;
            break;
        }
        if (cap >= (size_t)64 << 20) {
            rc = QP_ERR_LIMIT;
            break;
        }
        char *nb = qp__raw_alloc(alloc, buf, cap, cap * 2);
        if (!nb) {
            qp__raw_alloc(alloc, buf, cap, 0);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf || rc) {
        *out = NULL;
        if (err) {
            memset(err, 0, sizeof *err);
            err->status = buf ? rc : QP_ERR_NOMEM;
            qp__fmt(err->msg, sizeof err->msg, "%s", !buf ? "out of memory reading the file"
                    : rc == QP_ERR_IO ? "reading the file failed" : "file larger than 64 MiB");
        }
        if (buf)
            qp__raw_alloc(alloc, buf, cap, 0);
        return buf ? rc : QP_ERR_NOMEM;
    }
    rc = qp_config_read_text(buf, n, alloc, out, err);
    qp__raw_alloc(alloc, buf, cap, 0);
    return rc;
}
