/*
 * module.c - the module table (leaf modules by dotted path, with a type and
 * an attribute dict), the parameter table read by get_attr nodes, and the
 * description comments.
 *
 * Table order is a circular list through g->mods (slot 0 is the sentinel) so a
 * submodule can be placed right after its parent's subtree, as torch's
 * named_modules() would list it. A path maps to its module through the sym.
 */
#include "internal.h"

#include <string.h>

/* Whether the len bytes at s are a path and then QP__OBS_SFX. */
static bool
ends_obs(const char *s, size_t len)
{
    return len > QP__OBS_SFX_LEN &&
           !memcmp(s + len - QP__OBS_SFX_LEN, QP__OBS_SFX, QP__OBS_SFX_LEN);
}

/* The observer at s (len bytes) when its path is derived: a derived sym is not in
 * the hash table, but its parent is the fake-quantizer made just before it. */
static uint32_t
find_derived(const qp_graph *g, const char *s, size_t len)
{
    if (!ends_obs(s, len))
        return 0;
    uint32_t parent = qp__sym_find(g, s, len - QP__OBS_SFX_LEN);
    uint32_t p = parent ? g->st.syms[parent].module : 0;
    if (!p || p + 1 >= g->nmods || !qp__mod_live(g, p + 1))
        return 0;
    return qp__sym_derived_parent(g, g->mods[p + 1].path) == parent ? p + 1 : 0;
}

uint32_t
qp__mod_find(const qp_graph *g, uint32_t path)
{
    if (!path)
        return 0;
    uint32_t m = g->st.syms[path].module; /* bound only to a live module */
    if (m || !g->st.nder || g->st.syms[path].node & QP__SYM_DERIVED)
        return m;
    return find_derived(g, qp__sym_str(g, path), qp__sym_len(g, path));
}

uint32_t
qp__mod_find_str(const qp_graph *g, const char *s, size_t len)
{
    uint32_t sym = qp__sym_find(g, s, len);
    uint32_t m = sym ? g->st.syms[sym].module : 0;
    return m || !g->st.nder ? m : find_derived(g, s, len);
}

uint32_t
qp__node_module(const qp_graph *g, uint32_t n)
{
    const struct qp__node *r = &g->nodes[n];
    return r->op == QP_OP_CALL_MODULE ? qp__mod_find(g, r->target) : 0;
}

qp_status
qp__mod_add(qp_graph *g, uint32_t path, uint32_t type, uint32_t attrs, uint32_t after,
            uint32_t *out)
{
    qp_status rc = QP__GROW(g, g->mods, g->nmods, g->capmods, 1);
    if (rc)
        return rc;
    uint32_t id = g->nmods++;
    struct qp__module *m = &g->mods[id];
    memset(m, 0, sizeof *m);
    m->path = path;
    m->type = type;
    m->attrs = attrs ? attrs : qp__val_empty(g, QP_VAL_DICT);
    if (!after)
        after = g->mods[0].prev;
    m->prev = after;
    m->next = g->mods[after].next;
    g->mods[m->next].prev = id;
    g->mods[after].next = id;
    g->st.syms[path].module = id;
    g->nlivemods++;
    if (!(g->st.syms[path].node & QP__SYM_DERIVED) && !g->obs_sfx_paths)
        g->obs_sfx_paths = ends_obs(qp__sym_str(g, path), qp__sym_len(g, path));
    *out = id;
    return QP_OK;
}

void
qp__mod_remove(qp_graph *g, uint32_t id)
{
    struct qp__module *m = &g->mods[id];
    g->mods[m->prev].next = m->next;
    g->mods[m->next].prev = m->prev;
    /* unbound: the slot is dead from now on (qp__mod_live) */
    if (g->st.syms[m->path].module == id)
        g->st.syms[m->path].module = 0;
    g->nlivemods--;
}

/* The slot of module m in the origins table, or the empty slot where it would go.
 * Ids in a run of 16 (m / 16) share a hashed home and sit next to each other
 * from it: the passes make and read the entries in module order, so they touch
 * a new part of the table once a run, not once an entry (hashing m alone cost
 * 14% of the fuse pass on a million-node graph), while runs still land apart,
 * so that no layout of ids piles them into one cluster. */
static struct qp__origins *
orig_slot(const qp_graph *g, uint32_t m)
{
    uint32_t cap = g->caporig, h = (m >> 4) * 0x9e3779b9u;
    for (uint32_t i = ((h ^ h >> 16) + (m & 15)) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!g->orig[i].mod || g->orig[i].mod == m)
            return &g->orig[i];
}

struct qp__origins
qp__mod_origins(const qp_graph *g, uint32_t m)
{
    if (g->caporig) {
        const struct qp__origins *e = orig_slot(g, m);
        if (e->mod)
            return *e;
    }
    return (struct qp__origins){m, 0, 0};
}

/* Room in the origins table for one more module. */
static qp_status
orig_room(qp_graph *g)
{
    if ((g->norig + 1) * 4 <= g->caporig * 3)
        return QP_OK;
    uint32_t ncap = g->caporig ? g->caporig * 2 : 16;
    if (ncap > (UINT32_MAX >> 2) || ncap <= g->caporig)
        return qp__err(g, QP_ERR_LIMIT, "too many fused modules");
    struct qp__origins *t = qp__alloc(g, (size_t)ncap * sizeof *t);
    if (!t)
        return QP_ERR_NOMEM;
    memset(t, 0, (size_t)ncap * sizeof *t);
    struct qp__origins *old = g->orig;
    uint32_t ocap = g->caporig;
    g->orig = t;
    g->caporig = ncap;
    for (uint32_t i = 0; i < ocap; i++)
        if (old[i].mod)
            *orig_slot(g, old[i].mod) = old[i];
    qp__free(g, old, (size_t)ocap * sizeof *old);
    return QP_OK;
}

qp_status
qp__mod_set_origins(qp_graph *g, uint32_t m, uint32_t first, uint32_t n)
{
    struct qp__origins *e = g->caporig ? orig_slot(g, m) : NULL;
    if (!(e && e->mod)) {
        if (!n)
            return QP_OK;
        qp_status rc = orig_room(g);
        if (rc)
            return rc;
        e = orig_slot(g, m);
        e->mod = m;
        g->norig++;
    }
    /* an entry stays once made (no tombstones): n 0 reads as none */
    e->first = n ? first : 0;
    e->n = n;
    return QP_OK;
}

static bool
all_null(void *const *ptrs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (ptrs[i])
            return false;
    return true;
}

qp_status
qp__mod_add_origins(qp_graph *g, uint32_t m, void *const *ptrs, uint32_t n)
{
    struct qp__origins r = qp__mod_origins(g, m);
    /* origins are one run: copy the old run and the new pointers to the end */
    uint32_t total = r.n + n;
    if (!total)
        return QP_OK;
    if (total < r.n)
        return qp__err(g, QP_ERR_LIMIT, "too many origins");
    qp_status rc;
    bool old_null = !r.n || r.first == QP__NULL_RUN;
    if (old_null && all_null(ptrs, n)) {
        /* a graph whose modules carry no user pointers (one read from text) keeps
         * only the count */
        if (!r.n && (rc = orig_room(g)))
            return rc;
        return qp__mod_set_origins(g, m, QP__NULL_RUN, total); /* the entry exists */
    }
    /* ptrs may be another module's run inside g->ptrs (a fusion handing its
     * origins on), which growing moves: keep its index, not the pointer */
    uintptr_t p = (uintptr_t)ptrs, lo = (uintptr_t)g->ptrs;
    bool inside = g->ptrs && p >= lo && p < lo + (uintptr_t)g->nptrs * sizeof *g->ptrs;
    size_t at = inside ? (size_t)(p - lo) / sizeof *g->ptrs : 0;
    rc = QP__GROW(g, g->ptrs, g->nptrs, g->capptrs, total);
    /* room for the table entry first: after it nothing can fail */
    if (rc || (!r.n && (rc = orig_room(g))))
        return rc;
    if (inside)
        ptrs = &g->ptrs[at];
    uint32_t first = g->nptrs;
    if (r.n && r.first == QP__NULL_RUN)
        memset(&g->ptrs[first], 0, r.n * sizeof *g->ptrs);
    else if (r.n)
        memmove(&g->ptrs[first], &g->ptrs[r.first], r.n * sizeof *g->ptrs);
    if (n)
        memmove(&g->ptrs[first + r.n], ptrs, n * sizeof *g->ptrs);
    g->nptrs += total;
    return qp__mod_set_origins(g, m, first, total); /* the entry exists: cannot fail */
}

void *
qp__mod_user(const qp_graph *g, uint32_t m)
{
    return m < g->nmod_user ? g->mod_user[m] : NULL;
}

qp_status
qp__mod_user_reserve(qp_graph *g, uint32_t n)
{
    return qp__side_reserve(g, &g->mod_user, &g->nmod_user, n < g->capmods ? g->capmods : n);
}

qp_status
qp__mod_set_user(qp_graph *g, uint32_t m, void *user)
{
    if (m >= g->nmod_user) {
        if (!user)
            return QP_OK;
        qp_status rc = qp__mod_user_reserve(g, m + 1);
        if (rc)
            return rc;
    }
    g->mod_user[m] = user;
    return QP_OK;
}

uint32_t
qp__mod_subtree_end(const qp_graph *g, uint32_t m)
{
    const char *p = qp__sym_str(g, g->mods[m].path);
    size_t len = qp__sym_len(g, g->mods[m].path);
    uint32_t last = m;
    for (uint32_t i = g->mods[m].next; i; i = g->mods[i].next) {
        if (!qp__sym_dotted_under(g, g->mods[i].path, p, len))
            break;
        last = i;
    }
    return last;
}

/* ==== public API ==== */

static bool
mod_live(const qp_graph *g, qp_module m)
{
    return g && m.id > 0 && m.id < g->nmods && qp__mod_live(g, m.id);
}

uint32_t
qp_graph_num_modules(const qp_graph *g)
{
    return g ? g->nlivemods : 0;
}

qp_module
qp_graph_first_module(const qp_graph *g)
{
    qp_module m = {g ? g->mods[0].next : 0};
    return m;
}

qp_module
qp_module_next(const qp_graph *g, qp_module m)
{
    qp_module out = {mod_live(g, m) ? g->mods[m.id].next : 0};
    return out;
}

qp_module
qp_graph_find_module(const qp_graph *g, const char *path)
{
    qp_module m = {0};
    if (g && path)
        m.id = qp__mod_find_str(g, path, strlen(path));
    return m;
}

const char *
qp_module_path(const qp_graph *g, qp_module m)
{
    return mod_live(g, m) ? qp__sym_str(g, g->mods[m.id].path) : "";
}

const char *
qp_module_type(const qp_graph *g, qp_module m)
{
    return mod_live(g, m) ? qp__sym_str(g, g->mods[m.id].type) : "";
}

qp_val
qp_module_attrs(const qp_graph *g, qp_module m)
{
    qp_val v = {mod_live(g, m) ? g->mods[m.id].attrs : 0};
    return v;
}

qp_val
qp_module_attr(const qp_graph *g, qp_module m, const char *key)
{
    return qp_val_dict_get(g, qp_module_attrs(g, m), key);
}

void *
qp_module_user_data(const qp_graph *g, qp_module m)
{
    return mod_live(g, m) ? qp__mod_user(g, m.id) : NULL;
}

qp_status
qp_module_set_user_data(qp_graph *g, qp_module m, void *user)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!mod_live(g, m))
        return qp__err(g, QP_ERR_INVALID_ARG, "module #%u is not in the table", (unsigned)m.id);
    if (qp__mod_set_user(g, m.id, user))
        return qp__err(g, QP_ERR_NOMEM, "out of memory");
    return QP_OK;
}

uint32_t
qp_module_num_origins(const qp_graph *g, qp_module m)
{
    return mod_live(g, m) ? qp__mod_origins(g, m.id).n : 0;
}

void *
qp_module_origin_at(const qp_graph *g, qp_module m, uint32_t i)
{
    struct qp__origins r = mod_live(g, m) ? qp__mod_origins(g, m.id) : (struct qp__origins){0};
    return i < r.n && r.first != QP__NULL_RUN ? g->ptrs[r.first + i] : NULL;
}

static qp_status
check_word(qp_graph *g, const char *s, const char *what)
{
    if (!s)
        return qp__err(g, QP_ERR_NULL_ARG, "%s is NULL", what);
    size_t len = strlen(s);
    if (!len || len > QP_MAX_NAME)
        return qp__err(g, QP_ERR_INVALID_NAME, "%s is empty or longer than %u bytes", what,
                       QP_MAX_NAME);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return qp__err(g, QP_ERR_INVALID_NAME,
                           "%s '%.64s' has white space or a control character", what, s);
    if (!qp__utf8_valid(s, len))
        return qp__err(g, QP_ERR_INVALID_NAME, "%s is not valid UTF-8", what);
    return QP_OK;
}

static qp_status
check_attrs(qp_graph *g, qp_val attrs, const char *what)
{
    if (!attrs.id)
        return QP_OK;
    if (!qp__val_valid(g, attrs.id) || g->vals[attrs.id].kind != QP_VAL_DICT)
        return qp__err(g, QP_ERR_INVALID_ARG, "%s must be a dict value of this graph", what);
    if (qp__val_has_nodes(g, attrs.id))
        return qp__err(g, QP_ERR_INVALID_ARG, "%s may not refer to nodes", what);
    return QP_OK;
}

qp_status
qp_graph_add_module(qp_graph *g, const char *path, const char *type, qp_val attrs, qp_module *out)
{
    if (out)
        out->id = 0;
    if (!g || !out)
        return qp__err(g, QP_ERR_NULL_ARG, "out is NULL");
    qp_status rc;
    if ((rc = check_word(g, path, "module path")) || (rc = check_word(g, type, "module type")) ||
        (rc = check_attrs(g, attrs, "module attributes")))
        return rc;
    uint32_t p, t;
    if ((rc = qp__sym_reserve(g, 2)) || (rc = qp__sym_intern(g, path, strlen(path), &p)) ||
        (rc = qp__sym_intern(g, type, strlen(type), &t)))
        return rc;
    if (qp__mod_find(g, p))
        return qp__err(g, QP_ERR_DUP_NAME, "module '%.200s' already exists", path);
    return qp__mod_add(g, p, t, attrs.id, 0, &out->id);
}

qp_status
qp_module_replace(qp_graph *g, qp_module m, const char *type, qp_val attrs)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!mod_live(g, m))
        return qp__err(g, QP_ERR_INVALID_ARG, "module #%u is not in the table", (unsigned)m.id);
    qp_status rc;
    uint32_t t;
    if ((rc = check_word(g, type, "module type")) ||
        (rc = check_attrs(g, attrs, "module attributes")) ||
        (rc = qp__sym_intern(g, type, strlen(type), &t)))
        return rc;
    g->mods[m.id].type = t;
    if (attrs.id)
        g->mods[m.id].attrs = attrs.id;
    return QP_OK;
}

/* Sets key in the attribute dict *dict (a copy with the key replaced or added). */
static qp_status
dict_put(qp_graph *g, uint32_t *dict, const char *key, qp_val value, const char *what)
{
    qp_status rc = check_word(g, key, "attribute key");
    if (rc)
        return rc;
    if (!qp__val_valid(g, value.id) || qp__val_has_nodes(g, value.id))
        return qp__err(g, QP_ERR_INVALID_ARG,
                       "%s '%.64s' must be a value of this graph "
                       "without node references",
                       what, key);
    /* checked here so that a failure of qp__val_dict_set below means memory */
    if (g->vals[value.id].depth > QP__MAX_DEPTH)
        return qp__err(g, QP_ERR_LIMIT, "%s '%.64s' is nested deeper than %d", what, key,
                       QP__MAX_DEPTH);
    uint32_t k;
    if ((rc = qp__sym_intern(g, key, strlen(key), &k)))
        return rc;
    uint32_t d = qp__val_dict_set(g, *dict ? *dict : qp__val_empty(g, QP_VAL_DICT), k, value.id);
    if (!d)
        return QP_ERR_NOMEM;
    *dict = d;
    return QP_OK;
}

qp_status
qp_module_set_attr(qp_graph *g, qp_module m, const char *key, qp_val value)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!mod_live(g, m))
        return qp__err(g, QP_ERR_INVALID_ARG, "module #%u is not in the table", (unsigned)m.id);
    return dict_put(g, &g->mods[m.id].attrs, key, value, "attribute");
}

qp_status
qp_graph_remove_module(qp_graph *g, qp_module m)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!mod_live(g, m))
        return qp__err(g, QP_ERR_INVALID_ARG, "module #%u is not in the table", (unsigned)m.id);
    uint32_t path = g->mods[m.id].path;
    for (uint32_t i = g->nodes[0].next; i; i = g->nodes[i].next)
        if (g->nodes[i].op == QP_OP_CALL_MODULE && g->nodes[i].target == path)
            return qp__errn(g, QP_ERR_INVALID_ARG, i, "module '%.200s' is still called by %%%s",
                            qp__sym_str(g, path), qp__sym_str(g, g->nodes[i].name));
    qp__mod_remove(g, m.id);
    return QP_OK;
}

/* ==== parameters and comments ==== */

uint32_t
qp_graph_num_params(const qp_graph *g)
{
    return g ? g->nparams : 0;
}

const char *
qp_graph_param_name(const qp_graph *g, uint32_t i)
{
    return g && i < g->nparams ? qp__sym_str(g, g->params[i].name) : NULL;
}

qp_val
qp_graph_param_attrs(const qp_graph *g, uint32_t i)
{
    qp_val v = {g && i < g->nparams ? g->params[i].attrs : 0};
    return v;
}

qp_status
qp_graph_add_param(qp_graph *g, const char *name, qp_val attrs)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    qp_status rc;
    if ((rc = check_word(g, name, "parameter name")) ||
        (rc = check_attrs(g, attrs, "parameter attributes")))
        return rc;
    uint32_t s;
    if ((rc = qp__sym_intern(g, name, strlen(name), &s)))
        return rc;
    if (qp__sym_param(g, s))
        return qp__err(g, QP_ERR_DUP_NAME, "parameter '%.200s' already exists", name);
    if ((rc = QP__GROW(g, g->params, g->nparams, g->capparams, 1)) ||
        (rc = qp__sym_extra_reserve(g, 1)))
        return rc;
    g->params[g->nparams].name = s;
    g->params[g->nparams].attrs = attrs.id ? attrs.id : qp__val_empty(g, QP_VAL_DICT);
    qp__sym_set_param(g, s, ++g->nparams); /* room reserved: cannot fail */
    return QP_OK;
}

uint32_t
qp_graph_num_comments(const qp_graph *g)
{
    return g ? g->ncomments : 0;
}

const char *
qp_graph_comment_at(const qp_graph *g, uint32_t i)
{
    return g && i < g->ncomments ? qp__sym_str(g, g->comments[i]) : NULL;
}

qp_status
qp_graph_add_comment(qp_graph *g, const char *text)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    if (!text)
        return qp__err(g, QP_ERR_NULL_ARG, "text is NULL");
    size_t len = strlen(text);
    /* written as a line of its own, so it must be one the reader takes back */
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)text[i] < ' ' && text[i] != '\t') || text[i] == 0x7f)
            return qp__err(g, QP_ERR_INVALID_ARG,
                           "a comment is one line without control "
                           "characters");
    if (!qp__utf8_valid(text, len))
        return qp__err(g, QP_ERR_INVALID_ARG, "a comment must be valid UTF-8");
    if (len > QP_MAX_LINE - 3)
        return qp__err(g, QP_ERR_LIMIT, "comment longer than a line may be");
    qp_status rc = QP__GROW(g, g->comments, g->ncomments, g->capcomments, 1);
    if (rc)
        return rc;
    uint32_t s;
    if (text[0] == '#') {
        rc = qp__sym_intern(g, text, len, &s);
    } else {
        char *tmp = qp__alloc(g, len + 2);
        if (!tmp)
            return qp__err(g, QP_ERR_NOMEM, "out of memory");
        tmp[0] = '#';
        tmp[1] = ' ';
        memcpy(tmp + 2, text, len);
        rc = qp__sym_intern(g, tmp, len + 2, &s);
        qp__free(g, tmp, len + 2);
    }
    if (rc)
        return rc;
    g->comments[g->ncomments++] = s;
    return QP_OK;
}

/* ==== graph attributes ==== */

qp_status
qp_graph_set_attr(qp_graph *g, const char *key, qp_val value)
{
    if (!g)
        return QP_ERR_NULL_ARG;
    return dict_put(g, &g->gattrs, key, value, "graph attribute");
}

qp_val
qp_graph_attr(const qp_graph *g, const char *key)
{
    qp_val v = {0};
    if (!g || !key || !g->gattrs)
        return v;
    uint32_t k = qp__sym_find(g, key, strlen(key));
    v.id = k ? qp__val_get(g, g->gattrs, k) : 0;
    return v;
}
