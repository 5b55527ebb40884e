/*
 * graph.c - the node arena: lifecycle, clone and swap, the execution-order
 * list, use lists, torch.fx naming, and the public node read/mutate API.
 *
 * Nodes live in g->nodes[1..nnodes); slot 0 is the sentinel of the circular
 * order list. A node's args tree is owned by that node alone, and each NODE
 * record in it is linked into its producer's use list, so replacing the uses
 * of a node costs O(its uses) and touches nothing else (torch.fx semantics:
 * users in insertion order, erased nodes are tombstones whose names stay taken).
 */
#include "internal.h"

#include <string.h>

enum { EMPTY_TUPLE = 1, EMPTY_DICT = 2 };

/* ==== lifecycle ==== */

static void
free_all(qp_graph *g)
{
    qp__sym_free(g);
    qp__free(g, g->nodes, (size_t)g->capnodes * sizeof *g->nodes);
    qp__free(g, g->vals, (size_t)g->capvals * sizeof *g->vals);
    qp__free(g, g->mods, (size_t)g->capmods * sizeof *g->mods);
    qp__free(g, g->params, (size_t)g->capparams * sizeof *g->params);
    qp__free(g, g->comments, (size_t)g->capcomments * sizeof *g->comments);
    qp__free(g, g->ptrs, (size_t)g->capptrs * sizeof *g->ptrs);
    g->nodes = NULL;
    g->vals = NULL;
    g->mods = NULL;
    g->params = NULL;
    g->comments = NULL;
    g->ptrs = NULL;
}

void qp__explain_free(qp_graph *g);

static qp_status
init(qp_graph *g)
{
    qp_status rc = qp__sym_init(g);
    if (!rc)
        rc = QP__GROW(g, g->nodes, 0, g->capnodes, 64);
    if (!rc)
        rc = QP__GROW(g, g->vals, 0, g->capvals, 256);
    if (!rc)
        rc = QP__GROW(g, g->mods, 0, g->capmods, 16);
    if (rc)
        return rc;
    memset(&g->nodes[0], 0, sizeof g->nodes[0]);
    g->nnodes = 1;
    /* value 0 is null; 1 and 2 are the shared empty tuple and dict */
    memset(g->vals, 0, 3 * sizeof *g->vals);
    g->vals[EMPTY_TUPLE].kind = QP_VAL_TUPLE;
    g->vals[EMPTY_TUPLE].depth = 1;
    g->vals[EMPTY_DICT].kind = QP_VAL_DICT;
    g->vals[EMPTY_DICT].depth = 1;
    g->nvals = 3;
    memset(&g->mods[0], 0, sizeof g->mods[0]);
    g->nmods = 1;
    return QP_OK;
}

qp_status
qp_graph_create(const qp_allocator *alloc, qp_graph **out)
{
    if (!out)
        return QP_ERR_NULL_ARG;
    *out = NULL;
    qp_graph *g = qp__raw_alloc(alloc, NULL, 0, sizeof *g);
    if (!g)
        return QP_ERR_NOMEM;
    memset(g, 0, sizeof *g);
    if (alloc)
        g->alloc = *alloc;
    qp_status rc = init(g);
    if (rc) {
        free_all(g);
        qp__raw_alloc(alloc, g, sizeof *g, 0);
        return rc;
    }
    *out = g;
    return QP_OK;
}

void
qp_graph_destroy(qp_graph *g)
{
    if (!g)
        return;
    qp__explain_free(g);
    free_all(g);
    qp_allocator a = g->alloc;
    qp__raw_alloc(&a, g, sizeof *g, 0);
}

/* Copies n elements of an array into a fresh block of the same capacity. */
static qp_status
dup_array(qp_graph *g, void **dst, const void *src, size_t n, size_t cap, size_t esz)
{
    *dst = NULL;
    if (!cap)
        return QP_OK;
    void *p = qp__alloc(g, cap * esz);
    if (!p)
        return qp__err(g, QP_ERR_NOMEM, "out of memory cloning the graph");
    if (n)
        memcpy(p, src, n * esz);
    *dst = p;
    return QP_OK;
}

qp_status
qp_graph_clone(const qp_graph *g, qp_graph **out)
{
    if (!out)
        return QP_ERR_NULL_ARG;
    *out = NULL;
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_graph *h = qp__raw_alloc(&g->alloc, NULL, 0, sizeof *h);
    if (!h)
        return QP_ERR_NOMEM;
    memset(h, 0, sizeof *h);
    h->alloc = g->alloc;
    h->log = g->log;
    h->log_ud = g->log_ud;
    h->report = g->report;
    h->gattrs = g->gattrs;
    const struct qp__symtab *s = &g->st;
    struct qp__symtab *t = &h->st;
    qp_status rc = dup_array(h, (void **)&t->chunks, s->chunks, s->nchunks, s->capchunks,
                             sizeof *s->chunks);
    if (!rc) {
        t->capchunks = s->capchunks;
        /* chunk bytes: the chunk table now points at g's; replace each as it is copied */
        for (uint32_t i = 0; i < s->nchunks && !rc; i++) {
            char *p = qp__alloc(h, s->chunks[i].size);
            if (!p) {
                rc = QP_ERR_NOMEM;
                break;
            }
            memcpy(p, s->chunks[i].p, s->chunks[i].used);
            t->chunks[i].p = p;
            t->nchunks = i + 1;
        }
        t->cur = s->cur;
    }
    if (!rc && (rc = dup_array(h, (void **)&t->syms, s->syms, s->n, s->capsyms,
                               sizeof *s->syms)) == QP_OK) {
        t->n = s->n;
        t->capsyms = s->capsyms;
    }
    if (!rc && (rc = dup_array(h, (void **)&t->slots, s->slots, s->nslots, s->nslots,
                               sizeof *s->slots)) == QP_OK)
        t->nslots = s->nslots;
#define DUP(f, n, cap)                                                                     \
    if (!rc && (rc = dup_array(h, (void **)&h->f, g->f, g->n, g->cap, sizeof *g->f)) == QP_OK) { \
        h->n = g->n;                                                                       \
        h->cap = g->cap;                                                                   \
    }
    DUP(nodes, nnodes, capnodes)
    DUP(vals, nvals, capvals)
    DUP(mods, nmods, capmods)
    DUP(params, nparams, capparams)
    DUP(comments, ncomments, capcomments)
    DUP(ptrs, nptrs, capptrs)
#undef DUP
    if (rc) {
        /* the chunk table may still hold g's pointers past t->nchunks: forget them */
        free_all(h);
        qp_allocator a = h->alloc;
        qp__raw_alloc(&a, h, sizeof *h, 0);
        return QP_ERR_NOMEM;
    }
    h->nlive = g->nlive;
    h->nlivemods = g->nlivemods;
    *out = h;
    return QP_OK;
}

void
qp__graph_swap(qp_graph *a, qp_graph *b)
{
    qp_graph t = *a;
    *a = *b;
    *b = t;
    /* the handle-level settings stay with each handle */
    b->alloc = a->alloc;
    b->log = a->log;
    b->log_ud = a->log_ud;
    memcpy(b->errmsg, a->errmsg, sizeof b->errmsg);
    b->errnode = a->errnode;
    a->alloc = t.alloc;
    a->log = t.log;
    a->log_ud = t.log_ud;
    memcpy(a->errmsg, t.errmsg, sizeof a->errmsg);
    a->errnode = t.errnode;
    /* memory accounting follows the arrays */
    size_t m = a->mem, p = a->mem_peak;
    a->mem = b->mem;
    a->mem_peak = b->mem_peak > p ? b->mem_peak : p;
    b->mem = m;
}

void
qp_graph_set_log(qp_graph *g, qp_log_fn fn, void *ud)
{
    if (!g)
        return;
    g->log = fn;
    g->log_ud = ud;
}

size_t
qp_graph_mem_used(const qp_graph *g)
{
    return g ? g->mem : 0;
}

size_t
qp_graph_mem_peak(const qp_graph *g)
{
    return g ? g->mem_peak : 0;
}

/* ==== order list and records ==== */

bool
qp__node_live(const qp_graph *g, uint32_t id)
{
    return g && id > 0 && id < g->nnodes && !(g->nodes[id].flags & QP__NODE_ERASED);
}

static void
link_use(qp_graph *g, uint32_t producer, uint32_t r, uint32_t after)
{
    struct qp__node *p = &g->nodes[producer];
    struct qp__val *v = &g->vals[r];
    uint32_t next = after ? g->vals[after].u.use.next : p->use_head;
    v->u.use.prev = after;
    v->u.use.next = next;
    if (after)
        g->vals[after].u.use.next = r;
    else
        p->use_head = r;
    if (next)
        g->vals[next].u.use.prev = r;
    else
        p->use_tail = r;
}

static void
unlink_use(qp_graph *g, uint32_t r)
{
    struct qp__val *v = &g->vals[r];
    struct qp__node *p = &g->nodes[v->a];
    if (v->u.use.prev)
        g->vals[v->u.use.prev].u.use.next = v->u.use.next;
    else
        p->use_head = v->u.use.next;
    if (v->u.use.next)
        g->vals[v->u.use.next].u.use.prev = v->u.use.prev;
    else
        p->use_tail = v->u.use.prev;
    v->u.use.prev = v->u.use.next = 0;
}

static void
attach_one(qp_graph *g, uint32_t r, void *ud)
{
    uint32_t user = *(uint32_t *)ud;
    g->vals[r].b = user;
    link_use(g, g->vals[r].a, r, g->nodes[g->vals[r].a].use_tail);
}

static void
detach_one(qp_graph *g, uint32_t r, void *ud)
{
    (void)ud;
    if (g->vals[r].b) {
        unlink_use(g, r);
        g->vals[r].b = 0;
    }
}

void
qp__uses_attach(qp_graph *g, uint32_t user, uint32_t tree)
{
    qp__val_each_node(g, tree, attach_one, &user);
}

void
qp__uses_detach(qp_graph *g, uint32_t tree)
{
    qp__val_each_node(g, tree, detach_one, NULL);
}

qp_status
qp__node_new(qp_graph *g, uint32_t after, uint8_t op, uint32_t name, uint32_t target,
             uint32_t args, uint32_t kwargs, uint32_t *out)
{
    qp_status rc = QP__GROW(g, g->nodes, g->nnodes, g->capnodes, 1);
    if (rc)
        return rc;
    uint32_t id = g->nnodes++;
    struct qp__node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = name;
    n->target = target;
    n->args = args ? args : EMPTY_TUPLE;
    n->kwargs = kwargs ? kwargs : EMPTY_DICT;
    n->prev = after;
    n->next = g->nodes[after].next;
    g->nodes[n->next].prev = id;
    g->nodes[after].next = id;
    if (name && !g->st.syms[name].node)
        g->st.syms[name].node = id;
    g->nlive++;
    qp__uses_attach(g, id, n->args);
    qp__uses_attach(g, id, n->kwargs);
    *out = id;
    return QP_OK;
}

void
qp__node_set_args(qp_graph *g, uint32_t n, uint32_t args)
{
    qp__uses_detach(g, g->nodes[n].args);
    g->nodes[n].args = args;
    qp__uses_attach(g, n, args);
}

void
qp__node_set_kwargs(qp_graph *g, uint32_t n, uint32_t kwargs)
{
    qp__uses_detach(g, g->nodes[n].kwargs);
    g->nodes[n].kwargs = kwargs;
    qp__uses_attach(g, n, kwargs);
}

void
qp__node_erase(qp_graph *g, uint32_t id)
{
    struct qp__node *n = &g->nodes[id];
    qp__uses_detach(g, n->args);
    qp__uses_detach(g, n->kwargs);
    g->nodes[n->prev].next = n->next;
    g->nodes[n->next].prev = n->prev;
    n->flags |= QP__NODE_ERASED;
    g->nlive--;
}

/* The last use record of `user` in `to`'s list, found through user's own trees
 * (records of one user stay adjacent in a list), or 0. */
struct find_ud {
    uint32_t to, found;
};

static void
find_one(qp_graph *g, uint32_t r, void *ud)
{
    struct find_ud *f = ud;
    if (g->vals[r].a == f->to && g->vals[r].b)
        f->found = r;
}

static uint32_t
last_use_by(qp_graph *g, uint32_t to, uint32_t user)
{
    struct find_ud f = {to, 0};
    qp__val_each_node(g, g->nodes[user].args, find_one, &f);
    qp__val_each_node(g, g->nodes[user].kwargs, find_one, &f);
    if (!f.found)
        return 0;
    uint32_t r = f.found;
    while (g->vals[r].u.use.next && g->vals[g->vals[r].u.use.next].b == user)
        r = g->vals[r].u.use.next;
    return r;
}

uint32_t
qp__node_replace_uses(qp_graph *g, uint32_t from, uint32_t to, uint32_t skip)
{
    uint32_t count = 0, r = g->nodes[from].use_head, user = 0, after = 0;
    while (r) {
        uint32_t next = g->vals[r].u.use.next;
        if (g->vals[r].b == skip) {
            r = next;
            continue;
        }
        unlink_use(g, r);
        if (g->vals[r].b != user) {
            /* A user's records are one run in each list, so where its run goes in
             * `to`'s list is found once per user, not once per record: a user
             * holding k references costs O(k + its args), not O(k * its args). */
            user = g->vals[r].b;
            after = g->nodes[to].use_head ? last_use_by(g, to, user) : 0;
            if (!after)
                after = g->nodes[to].use_tail;
        }
        g->vals[r].a = to;
        link_use(g, to, r, after);
        after = r;
        count++;
        r = next;
    }
    return count;
}

uint32_t
qp__node_next_user(const qp_graph *g, uint32_t n, uint32_t *it)
{
    uint32_t r = *it ? g->vals[*it].u.use.next : g->nodes[n].use_head;
    uint32_t prev_user = *it ? g->vals[*it].b : 0;
    while (r && g->vals[r].b == prev_user)
        r = g->vals[r].u.use.next;
    *it = r;
    return r ? g->vals[r].b : 0;
}

uint32_t
qp__node_num_users(const qp_graph *g, uint32_t n)
{
    uint32_t it = 0, count = 0;
    while (qp__node_next_user(g, n, &it))
        count++;
    return count;
}

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

static bool
is_word(char c)
{
    return is_lower(c) || is_upper(c) || (c >= '0' && c <= '9') || c == '_';
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
        if (is_word(cand[i])) {
            buf[n++] = cand[i++];
            continue;
        }
        while (i < len && !is_word(cand[i]))
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
    qp_status rc = qp__sym_reserve(g, 2);
    if (rc)
        return rc;
    uint32_t base;
    rc = qp__sym_intern(g, buf, base_len, &base);
    if (rc)
        return rc;
    /* count: every base_1..base_count is known taken (names are never freed) */
    uint32_t known = g->st.syms[base].count;
    if (name_taken(g, buf, n)) {
        if (num < known)
            num = known;
        do {
            num++;
            n = base_len + (size_t)sprintf(buf + base_len, "_%llu", (unsigned long long)num);
        } while (name_taken(g, buf, n));
    }
    rc = qp__sym_intern(g, buf, n, out);
    if (rc)
        return rc;
    /* The name is taken only once the caller links a node to it, and nothing
     * may fail after this: insert() reserves the node record first. */
    if (num == (uint64_t)known + 1 && num <= UINT32_MAX)
        g->st.syms[base].count = (uint32_t)num;
    return QP_OK;
}

/* ==== public read API ==== */

static const struct qp__node *
node_rec(const qp_graph *g, qp_node n)
{
    return g && n.id > 0 && n.id < g->nnodes ? &g->nodes[n.id] : NULL;
}

uint32_t
qp_graph_num_nodes(const qp_graph *g)
{
    return g ? g->nlive : 0;
}

qp_node
qp_graph_first(const qp_graph *g)
{
    qp_node n = {g ? g->nodes[0].next : 0};
    return n;
}

qp_node
qp_graph_last(const qp_graph *g)
{
    qp_node n = {g ? g->nodes[0].prev : 0};
    return n;
}

qp_node
qp_node_next(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    uint32_t id = r ? r->next : 0;
    while (id && (g->nodes[id].flags & QP__NODE_ERASED))
        id = g->nodes[id].next;
    qp_node out = {id};
    return out;
}

qp_node
qp_node_prev(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    uint32_t id = r ? r->prev : 0;
    while (id && (g->nodes[id].flags & QP__NODE_ERASED))
        id = g->nodes[id].prev;
    qp_node out = {id};
    return out;
}

qp_node
qp_graph_find_node(const qp_graph *g, const char *name)
{
    qp_node out = {0};
    if (!g || !name)
        return out;
    uint32_t sym = qp__sym_find(g, name, strlen(name));
    uint32_t id = sym ? g->st.syms[sym].node : 0;
    out.id = qp__node_live(g, id) ? id : 0;
    return out;
}

bool
qp_node_is_live(const qp_graph *g, qp_node n)
{
    return qp__node_live(g, n.id);
}

qp_op
qp_node_op(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? (qp_op)r->op : QP_OP_COUNT;
}

const char *
qp_node_name(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? qp__sym_str(g, r->name) : "";
}

const char *
qp_node_target(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? qp__sym_str(g, r->target) : "";
}

qp_val
qp_node_args(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    qp_val v = {r ? r->args : 0};
    return v;
}

qp_val
qp_node_kwargs(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    qp_val v = {r ? r->kwargs : 0};
    return v;
}

uint32_t
qp_node_num_users(const qp_graph *g, qp_node n)
{
    return node_rec(g, n) ? qp__node_num_users(g, n.id) : 0;
}

uint32_t
qp_node_users(const qp_graph *g, qp_node n, qp_node *buf, uint32_t cap)
{
    if (!node_rec(g, n))
        return 0;
    uint32_t it = 0, count = 0, u;
    while ((u = qp__node_next_user(g, n.id, &it)) != 0) {
        if (buf && count < cap)
            buf[count].id = u;
        count++;
    }
    return count;
}

qp_node
qp_node_fq_producer(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    qp_node out = {r && (r->flags & QP__NODE_FQ) ? r->fq_of : 0};
    return out;
}

uint32_t
qp_node_line(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? r->line : 0;
}

void *
qp_node_user_data(const qp_graph *g, qp_node n)
{
    const struct qp__node *r = node_rec(g, n);
    return r ? r->user : NULL;
}

qp_status
qp_node_set_user_data(qp_graph *g, qp_node n, void *user)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not a live node", (unsigned)n.id);
    g->nodes[n.id].user = user;
    return QP_OK;
}

/* ==== public mutation API ==== */

static const char *const op_names[] = {
#define QP__OP_NAME(name, text) text,
    QP_OP_MAP(QP__OP_NAME)
#undef QP__OP_NAME
};

const char *
qp_op_name(qp_op op)
{
    return (unsigned)op < QP_OP_COUNT ? op_names[op] : NULL;
}

qp_status
qp_op_from_name(const char *name, qp_op *out)
{
    if (!name || !out)
        return QP_ERR_NULL_ARG;
    for (int i = 0; i < QP_OP_COUNT; i++)
        if (!strcmp(name, op_names[i])) {
            *out = (qp_op)i;
            return QP_OK;
        }
    return QP_ERR_NOT_FOUND;
}

static const char *const kind_names[] = {
#define QP__KIND_NAME(name, text) text,
    QP_VAL_KIND_MAP(QP__KIND_NAME)
#undef QP__KIND_NAME
};

const char *
qp_val_kind_name(qp_val_kind kind)
{
    return (unsigned)kind < QP_VAL_KIND_COUNT ? kind_names[kind] : NULL;
}

/* Prepares a tree to be attached to a node: checks its kind and that every node
 * it names is live, and copies it when it is already attached somewhere. */
struct own_ud {
    uint32_t bad;
};

static void
own_one(qp_graph *g, uint32_t r, void *ud)
{
    struct own_ud *o = ud;
    if (!qp__node_live(g, g->vals[r].a) && !o->bad)
        o->bad = r;
}

static qp_status
own_tree(qp_graph *g, uint32_t v, uint8_t kind, const char *what, uint32_t *out)
{
    if (!v) {
        *out = kind == QP_VAL_DICT ? EMPTY_DICT : EMPTY_TUPLE;
        return QP_OK;
    }
    if (!qp__val_valid(g, v))
        return qp__err(g, QP_ERR_INVALID_ARG, "%s is not a value of this graph", what);
    if (g->vals[v].kind != kind)
        return qp__err(g, QP_ERR_INVALID_ARG, "%s must be a %s, not a %s", what,
                       kind_names[kind], kind_names[g->vals[v].kind]);
    struct own_ud o = {0};
    qp__val_each_node(g, v, own_one, &o);
    if (o.bad)
        return qp__err(g, QP_ERR_DANGLING_EDGE, "%s refers to node #%u, which is not live",
                       what, (unsigned)g->vals[o.bad].a);
    /* A tree with node references must be owned by one node: one attached elsewhere,
     * or built with one run twice (a tuple made from the same sub-tuple twice), would
     * corrupt use lists, so such trees are always copied fresh. */
    if (qp__val_has_nodes(g, v)) {
        uint32_t c = qp__val_copy(g, v);
        if (!c)
            return QP_ERR_NOMEM;
        v = c;
    }
    *out = v;
    return QP_OK;
}

static qp_status
check_target(qp_graph *g, const char *target, const char *what)
{
    if (!target)
        return qp__err(g, QP_ERR_NULL_ARG, "%s is NULL", what);
    size_t len = strlen(target);
    if (!len || len > QP_MAX_NAME)
        return qp__err(g, QP_ERR_INVALID_NAME, "%s is empty or longer than %u bytes", what,
                       QP_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= ' ' || c == 0x7f)
            return qp__err(g, QP_ERR_INVALID_NAME, "%s '%.64s' has white space or a control "
                           "character", what, target);
    }
    /* written unquoted on a line the reader checks for UTF-8 */
    if (!qp__utf8_valid(target, len))
        return qp__err(g, QP_ERR_INVALID_NAME, "%s is not valid UTF-8", what);
    return QP_OK;
}

static qp_status
insert(qp_graph *g, uint32_t after, const qp_node_spec *spec, qp_node *out)
{
    if (out)
        out->id = 0;
    if (!g || !spec || !out)
        return qp__err(g, QP_ERR_NULL_ARG, "%s is NULL", !spec ? "spec" : "out");
    qp__clear_err(g);
    if ((unsigned)spec->op >= QP_OP_COUNT)
        return qp__err(g, QP_ERR_INVALID_ARG, "op %d is not a qp_op", (int)spec->op);
    qp_status rc = check_target(g, spec->target, "target");
    if (rc)
        return rc;
    if (spec->op == QP_OP_OUTPUT) {
        for (uint32_t i = g->nodes[0].next; i; i = g->nodes[i].next)
            if (g->nodes[i].op == QP_OP_OUTPUT)
                return qp__errn(g, QP_ERR_INVALID_GRAPH, i, "the graph already has an output "
                                "node, %%%s", qp__sym_str(g, g->nodes[i].name));
    }
    /* everything that can fail comes before the first change a caller could see */
    uint32_t args, kwargs, target, name;
    if ((rc = own_tree(g, spec->args.id, QP_VAL_TUPLE, "args", &args)) ||
        (rc = own_tree(g, spec->kwargs.id, QP_VAL_DICT, "kwargs", &kwargs)))
        return rc;
    char cand[QP_MAX_NAME + 1];
    const char *c = spec->name;
    size_t clen;
    if (c) {
        clen = strlen(c);
    } else {
        clen = qp__target_to_name((uint8_t)spec->op, spec->target, cand, sizeof cand);
        c = cand;
    }
    /* the node record is reserved before the name is made: qp__name_create
     * advances the namespace counter, so nothing may fail after it */
    if ((rc = QP__GROW(g, g->nodes, g->nnodes, g->capnodes, 1)) ||
        (rc = qp__sym_intern(g, spec->target, strlen(spec->target), &target)) ||
        (rc = qp__name_create(g, c, clen, &name)))
        return rc;
    uint32_t id;
    rc = qp__node_new(g, after, (uint8_t)spec->op, name, target, args, kwargs, &id);
    if (rc)
        return rc;
    out->id = id;
    return QP_OK;
}

static qp_status
check_anchor(qp_graph *g, qp_node anchor)
{
    if (anchor.id && !qp__node_live(g, anchor.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "anchor node #%u is not live",
                       (unsigned)anchor.id);
    return QP_OK;
}

qp_status
qp_graph_insert_after(qp_graph *g, qp_node anchor, const qp_node_spec *spec, qp_node *out)
{
    if (out)
        out->id = 0; /* null on every failure, the anchor's included */
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_status rc = check_anchor(g, anchor);
    return rc ? rc : insert(g, anchor.id, spec, out);
}

qp_status
qp_graph_insert_before(qp_graph *g, qp_node anchor, const qp_node_spec *spec, qp_node *out)
{
    if (out)
        out->id = 0;
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_status rc = check_anchor(g, anchor);
    return rc ? rc : insert(g, g->nodes[anchor.id].prev, spec, out);
}

qp_status
qp_node_replace_uses(qp_graph *g, qp_node from, qp_node to, uint32_t *count)
{
    if (count)
        *count = 0;
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, from.id) || !qp__node_live(g, to.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live",
                       (unsigned)(qp__node_live(g, from.id) ? to.id : from.id));
    if (from.id == to.id)
        return QP_OK;
    uint32_t c = qp__node_replace_uses(g, from.id, to.id, to.id);
    if (count)
        *count = c;
    return QP_OK;
}

qp_status
qp_graph_erase_node(qp_graph *g, qp_node n)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    if (g->nodes[n.id].use_head) {
        uint32_t u = g->vals[g->nodes[n.id].use_head].b;
        return qp__errn(g, QP_ERR_INVALID_ARG, n.id, "cannot erase %%%s: %%%s still uses it",
                        qp__sym_str(g, g->nodes[n.id].name), qp__sym_str(g, g->nodes[u].name));
    }
    qp__node_erase(g, n.id);
    return QP_OK;
}

qp_status
qp_node_set_args(qp_graph *g, qp_node n, qp_val args)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    uint32_t v = 0;
    qp_status rc = own_tree(g, args.id, QP_VAL_TUPLE, "args", &v);
    if (rc)
        return rc;
    qp__node_set_args(g, n.id, v);
    return QP_OK;
}

qp_status
qp_node_set_kwargs(qp_graph *g, qp_node n, qp_val kwargs)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    uint32_t v = 0;
    qp_status rc = own_tree(g, kwargs.id, QP_VAL_DICT, "kwargs", &v);
    if (rc)
        return rc;
    qp__node_set_kwargs(g, n.id, v);
    return QP_OK;
}

qp_status
qp_node_set_target(qp_graph *g, qp_node n, const char *target)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!qp__node_live(g, n.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "node #%u is not live", (unsigned)n.id);
    qp_status rc = check_target(g, target, "target");
    uint32_t sym;
    if (rc || (rc = qp__sym_intern(g, target, strlen(target), &sym)))
        return rc;
    g->nodes[n.id].target = sym;
    return QP_OK;
}

void
qp__use_move(qp_graph *g, uint32_t r, uint32_t to)
{
    uint32_t user = g->vals[r].b;
    unlink_use(g, r);
    uint32_t after = g->nodes[to].use_head ? last_use_by(g, to, user) : 0;
    if (!after)
        after = g->nodes[to].use_tail;
    g->vals[r].a = to;
    link_use(g, to, r, after);
}
