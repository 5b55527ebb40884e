/*
 * names.c - node names the way torch.fx makes them: Graph._target_to_str
 * (snake_case of a target, a function's __name__) and
 * _Namespace.create_name (illegal characters, a trailing _<n> counter,
 * Python keywords and builtins avoided, names never reused).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ==== torch.fx naming ==== */

/* Python keywords, builtins (dir(builtins), dunders included) and torch.fx's
 * custom builtins (Python 3.11, torch 1.13): names a generated node name must
 * not take. Sorted by bytes, for the binary search. */
static const char *const reserved[] = {
    "ArithmeticError", "AssertionError", "AttributeError", "BaseException",
    "BaseExceptionGroup", "BlockingIOError", "BrokenPipeError", "BufferError", "BytesWarning",
    "ChildProcessError", "ConnectionAbortedError", "ConnectionError", "ConnectionRefusedError",
    "ConnectionResetError", "DeprecationWarning", "EOFError", "Ellipsis", "EncodingWarning",
    "EnvironmentError", "Exception", "ExceptionGroup", "False", "FileExistsError",
    "FileNotFoundError", "FloatingPointError", "FutureWarning", "GeneratorExit", "IOError",
    "ImportError", "ImportWarning", "IndentationError", "IndexError", "InterruptedError",
    "IsADirectoryError", "KeyError", "KeyboardInterrupt", "LookupError", "MemoryError",
    "ModuleNotFoundError", "NameError", "None", "NoneType", "NotADirectoryError",
    "NotImplemented", "NotImplementedError", "OSError", "OverflowError",
    "PendingDeprecationWarning", "PermissionError", "ProcessLookupError", "RecursionError",
    "ReferenceError", "ResourceWarning", "RuntimeError", "RuntimeWarning",
    "StopAsyncIteration", "StopIteration", "SyntaxError", "SyntaxWarning", "SystemError",
    "SystemExit", "TabError", "TimeoutError", "True", "TypeError", "UnboundLocalError",
    "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError", "UnicodeTranslateError",
    "UnicodeWarning", "UserWarning", "ValueError", "Warning", "ZeroDivisionError",
    "__build_class__", "__debug__", "__doc__", "__import__", "__loader__", "__name__",
    "__package__", "__spec__", "abs",
    "aiter", "all", "and", "anext", "any", "as", "ascii", "assert", "async", "await", "bin",
    "bool", "break", "breakpoint", "bytearray", "bytes", "callable", "chr", "class",
    "classmethod", "compile", "complex", "continue", "copyright", "credits", "def", "del",
    "delattr", "device", "dict", "dir", "divmod", "elif", "else", "enumerate", "eval",
    "except", "exec", "exit", "filter", "finally", "float", "for", "format", "from",
    "frozenset", "fx_pytree", "getattr", "global", "globals", "hasattr", "hash", "help", "hex",
    "id", "if", "import", "in", "inf", "input", "int", "is", "isinstance", "issubclass",
    "iter", "lambda", "len", "license", "list", "locals", "map", "max", "memoryview", "min",
    "nan", "next", "nonlocal", "not", "object", "oct", "open", "or", "ord", "pass", "pow",
    "print", "property", "pytree", "quit", "raise", "range", "repr", "return", "reversed",
    "round", "set", "setattr", "slice", "sorted", "staticmethod", "str", "sum", "super",
    "torch", "try", "tuple", "type", "vars", "while", "with", "yield", "zip"};

static bool
is_reserved(const char *s, size_t len)
{
    size_t lo = 0, hi = sizeof reserved / sizeof reserved[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *r = reserved[mid];
        size_t rl = strlen(r);
        int c = memcmp(s, r, len < rl ? len : rl);
        if (c == 0)
            c = len < rl ? -1 : len > rl;
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

static bool
is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

size_t
qp__target_to_name(uint8_t op, const char *target, char *buf, size_t cap)
{
    const char *s = target;
    size_t len = strlen(target);
    if (op == QP_OP_CALL_FUNCTION) {
        /* a function's __name__: the last component of its qualified name */
        const char *dot = strrchr(target, '.');
        if (dot && dot[1]) {
            s = dot + 1;
            len = strlen(s);
        }
    } else if (len > 4 && s[0] == '_' && s[1] == '_' && s[len - 1] == '_' && s[len - 2] == '_') {
        s += 2; /* _is_magic: "__add__" -> "add" */
        len -= 4;
    }
    /* _snake_case: '_' before an upper-case letter that follows a lower-case one */
    size_t o = 0;
    bool prev_lower = false;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        char c = s[i];
        if (prev_lower && is_upper(c))
            buf[o++] = '_';
        buf[o++] = is_upper(c) ? (char)(c - 'A' + 'a') : c;
        prev_lower = is_lower(c);
    }
    buf[o] = 0;
    return o;
}

/* Whether torch.fx would name a call of target s (len bytes) s itself, if free:
 * lower-case letters, digits and '_' only (no snake_case to insert, nothing to
 * replace), no leading digit, not "__magic__", and no "_123" to split off (the
 * last byte is not a digit). */
static bool
names_itself(const char *s, size_t len)
{
    if (len == 0 || len > QP_MAX_NAME || (s[0] >= '0' && s[0] <= '9') ||
        (s[len - 1] >= '0' && s[len - 1] <= '9'))
        return false;
    if (len > 4 && s[0] == '_' && s[1] == '_' && s[len - 1] == '_' && s[len - 2] == '_')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(is_lower(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

qp_status
qp__name_for_call(qp_graph *g, uint32_t target, uint32_t *out)
{
    const char *s = qp__sym_str(g, target);
    size_t len = qp__sym_len(g, target);
    /* the usual case (a fake-quantizer's path): the target is its own name, and
     * qp__name_create would intern those same bytes, find them free and keep them */
    if (names_itself(s, len) && !g->st.syms[target].node && !is_reserved(s, len)) {
        *out = target;
        return QP_OK;
    }
    char cand[QP_MAX_NAME + 64];
    size_t cl = qp__target_to_name(QP_OP_CALL_MODULE, s, cand, sizeof cand);
    return qp__name_create(g, cand, cl, out);
}

static bool
name_taken(const qp_graph *g, const char *s, size_t len)
{
    uint32_t sym = qp__sym_find(g, s, len);
    return (sym && g->st.syms[sym].node) || is_reserved(s, len);
}

qp_status
qp__name_create(qp_graph *g, const char *cand, size_t len, uint32_t *out)
{
    char buf[QP_MAX_NAME + 32];
    size_t n = 0;
    if (len == 0)
        return qp__err(g, QP_ERR_INVALID_NAME, "empty node name");
    if (len > QP_MAX_NAME)
        return qp__err(g, QP_ERR_INVALID_NAME, "node name of %zu bytes is longer than %u",
                       len, QP_MAX_NAME);
    /* illegal characters: each run becomes one '_'; a leading digit gets '_' */
    for (size_t i = 0; i < len;) {
        if (qp__is_word(cand[i])) {
            buf[n++] = cand[i++];
            continue;
        }
        while (i < len && !qp__is_word(cand[i]))
            i++;
        buf[n++] = '_';
    }
    if (buf[0] >= '0' && buf[0] <= '9') {
        memmove(buf + 1, buf, n);
        buf[0] = '_';
        n++;
    }
    /* split "base_123" as the regex (.*)_(\d+)$ does. The number is a Python int:
     * up to 19 significant digits fit 64 bits; a longer one (rare enough) is
     * kept as part of the base, which differs from fx only once it is taken */
    size_t d = n;
    while (d > 0 && buf[d - 1] >= '0' && buf[d - 1] <= '9')
        d--;
    size_t base_len = n, z = d;
    while (z + 1 < n && buf[z] == '0')
        z++;
    uint64_t num = 0;
    if (d < n && d >= 1 && buf[d - 1] == '_' && n - z <= 19) {
        base_len = d - 1;
        for (size_t i = z; i < n; i++)
            num = num * 10 + (uint64_t)(buf[i] - '0');
        /* f'{base}_{num}' drops leading zeros */
        n = base_len + (size_t)sprintf(buf + base_len, "_%llu", (unsigned long long)num);
    }
    /* room for the base's count too: nothing may fail once the name is chosen */
    qp_status rc = qp__sym_reserve(g, 2);
    if (rc || (rc = qp__sym_extra_reserve(g, 1)))
        return rc;
    uint32_t base;
    rc = qp__sym_intern(g, buf, base_len, &base);
    if (rc)
        return rc;
    /* count: every base_1..base_count is known taken (names are never freed) */
    uint32_t known = qp__sym_count(g, base);
    /* a candidate without a number is the base itself: no second lookup */
    bool is_base = n == base_len;
    bool taken = is_base ? g->st.syms[base].node || is_reserved(buf, n) : name_taken(g, buf, n);
    if (taken) {
        if (num < known)
            num = known;
        do {
            num++;
            n = base_len + (size_t)sprintf(buf + base_len, "_%llu", (unsigned long long)num);
        } while (name_taken(g, buf, n));
    }
    if (is_base && !taken)
        *out = base;
    else if ((rc = qp__sym_intern(g, buf, n, out)) != QP_OK)
        return rc;
    /* The name is taken only once the caller links a node to it, and nothing
     * may fail after this: insert() reserves the node record first. */
    if (num == (uint64_t)known + 1 && num <= UINT32_MAX)
        qp__sym_set_count(g, base, (uint32_t)num); /* room reserved: cannot fail */
    return QP_OK;
}
