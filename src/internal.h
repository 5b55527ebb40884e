/*
 * internal.h - private structures and cross-file functions of qprep.
 *
 * Everything here is hidden from the shared library (qp__ prefix, default
 * hidden visibility). Grouped by the file that defines it, as QBE's all.h.
 */
#ifndef QPREP_INTERNAL_H
#define QPREP_INTERNAL_H

#include "qprep/prepare.h"
#include "qprep/qprep.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define QP__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define QP__PRINTF(f, a)
#endif

/* Values nest at most this deep (FORMAT.md "Limits and errors"). */
#define QP__MAX_DEPTH 64

/* ==== Records ==== */

/* Values 1 and 2 of every graph: the shared empty tuple and empty dict. */
#define QP__VAL_EMPTY_TUPLE 1u
#define QP__VAL_EMPTY_DICT 2u

enum { QP__NODE_ERASED = 1, QP__NODE_FQ = 2 };

/* A node; slot 0 of g->nodes is the sentinel root of the circular order list. */
struct qp__node {
    uint32_t prev, next;         /* execution order */
    uint32_t name, target;       /* syms */
    uint32_t args, kwargs;       /* values: TUPLE, DICT */
    uint32_t use_head, use_tail; /* NODE values that reference this node, in use order */
    uint32_t fq_of;              /* inserted fake-quantizer: the producer it follows */
    uint32_t line;               /* text line it was read from, 0 if none */
    uint8_t op, flags;
    /* no pointer here: a caller's user pointer lives in g->node_user, which exists
     * only once one is set (a graph read from text has none), so a record is 44
     * bytes, not 56 */
};

/*
 * A value record. Aggregates hold their items in one contiguous run of
 * records [a, a + b). Records are append-only; a node's args tree is owned by
 * that node alone, so its NODE records can form use lists:
 *   STR, IDENT: a = sym              BOOL, INT: u.i      FLOAT: u.f
 *   NODE: a = producer, b = user node (0 while not attached), u.use = list links
 *   TUPLE, LIST, DICT: a = first, b = count      CALL: same, u.name = function sym
 * key is the item's key when the record is a DICT item, else 0.
 */
struct qp__val {
    uint8_t kind, depth; /* depth: 1 for a scalar, 1 + max item depth for an aggregate */
    uint32_t key;
    uint32_t a, b;
    union {
        int64_t i;
        double f;
        struct {
            uint32_t prev, next;
        } use;
        uint32_t name;
    } u;
};

/* A module-table entry; slot 0 is the sentinel of the circular table-order list.
 * What few modules have (a caller's user pointer, the origins of a fused module)
 * is kept beside the table (g->mod_user, g->orig), and whether the slot is live
 * is told by its path's binding (qp__mod_live), so a record is 20 bytes. */
struct qp__module {
    uint32_t prev, next;
    uint32_t path, type; /* syms */
    uint32_t attrs;      /* DICT value */
};

/* The origins of a module (user pointers of the modules it absorbed): a run in
 * g->ptrs, or only a count when they are all null (QP__NULL_RUN). An entry of g->orig, open
 * addressing by module id (mod 0: empty). */
struct qp__origins {
    uint32_t mod, first, n;
};
/* origins.first of a run of n null pointers, which takes no room in g->ptrs */
#define QP__NULL_RUN UINT32_MAX

struct qp__param {
    uint32_t name, attrs;
};

/* An interned string. Its bytes live in chunks that never move, behind a length
 * header (one byte, or 0xFF and four): pos is where the header starts, in the
 * symtab's windows (struct qp__symtab). What few syms have (a name base's count,
 * a parameter) is kept beside them (struct qp__symx), and the hash is not kept
 * (the table's slots hold its high bits; a rebuild hashes the bytes again), so a
 * record is 12 bytes. */
struct qp__sym {
    uint32_t pos;
    uint32_t node;   /* node named so (live or erased), 0 if none; for a derived
                      * sym: QP__SYM_DERIVED | its parent, | QP__SYM_WRITTEN */
    uint32_t module; /* module with this path, 0 if none */
};

/* A derived sym is an observer's path, parent + QP__OBS_SFX, whose bytes are
 * written on first read (qp__sym_str) into room reserved when it was made: a
 * million-node prepare makes 843k of them and most are never read as strings
 * (the writer writes parent and suffix), so their pages are never touched. Not
 * in the hash table: qp__mod_find resolves them by their parent. A node's name is
 * always an interned sym, never a derived one, so the node field is free to hold
 * the parent. */
#define QP__SYM_DERIVED 0x80000000u
#define QP__SYM_WRITTEN 0x40000000u
#define QP__SYM_PARENT(node) ((node) & ~(QP__SYM_DERIVED | QP__SYM_WRITTEN))
#define QP__OBS_SFX ".activation_post_process"
#define QP__OBS_SFX_LEN (sizeof QP__OBS_SFX - 1)

/* A sym's rarer facts; an entry of st.x, open addressing by sym (sym 0: empty). */
struct qp__symx {
    uint32_t sym;
    uint32_t count; /* torch.fx namespace _base_count for this base name */
    uint32_t param; /* 1 + index in g->params of the parameter so named, 0 if none */
};

struct qp__chunk {
    char *p;
    uint32_t used, size;
    uint32_t win; /* its first window */
};

/* Sym positions are 32 bits: a window of QP__WIN bytes (pos >> QP__WIN_BITS)
 * and an offset in it. Chunks are laid out in the position space one after
 * another, each on whole windows, and win[w] is where window w starts in
 * memory, so a string's address is one table read away, without storing a
 * chunk index and an offset per sym. */
#define QP__WIN_BITS 16
#define QP__WIN (1u << QP__WIN_BITS)

struct qp__symtab {
    struct qp__chunk *chunks; /* bytes; chunks[cur] is being filled, big strings get their own */
    uint32_t nchunks, capchunks, cur;
    uint32_t lcur; /* 1 + the chunk derived syms reserve room in (never written
                    * otherwise, so its untouched pages stay unmapped), 0: none yet */
    char **win;    /* nwin windows used, capwin allocated */
    uint32_t nwin, capwin;
    struct qp__sym *syms;
    uint32_t n, capsyms; /* syms[0] is the empty string */
    uint32_t nder;       /* derived syms among the n (not in the hash table) */
    uint32_t *slots;     /* open addressing over sym ids, 0 = empty */
    uint32_t nslots;     /* power of two */
    struct qp__symx *x;  /* capx slots (0 or a power of two), nx used */
    uint32_t nx, capx;
    uint32_t min_k; /* chunks are at least CHUNK << min_k bytes (qp__sym_expect_bytes) */
};

struct qp_graph {
    qp_allocator alloc;
    qp_log_fn log;
    void *log_ud;
    size_t mem, mem_peak;

    struct qp__symtab st;

    struct qp__node *nodes;
    uint32_t nnodes, capnodes, nlive;

    struct qp__val *vals;
    uint32_t nvals, capvals;

    struct qp__module *mods;
    uint32_t nmods, capmods, nlivemods;
    /* some module was ever added at an interned path ending in QP__OBS_SFX (only
     * then can one clash with a derived observer path; never cleared) */
    bool obs_sfx_paths;

    struct qp__param *params;
    uint32_t nparams, capparams;

    uint32_t *comments; /* syms */
    uint32_t ncomments, capcomments;

    void **ptrs;
    uint32_t nptrs, capptrs;

    /* user pointers by node / module id, allocated when the first is set (NULL
     * and 0 until then; ids at or past the count have none) */
    void **node_user, **mod_user;
    uint32_t nnode_user, nmod_user;
    /* origins by module id: caporig slots (0 or a power of two), norig used */
    struct qp__origins *orig;
    uint32_t norig, caporig;

    uint32_t gattrs; /* DICT: the graph's own attributes (0: none) */
    qp_report report;
    /* what a higher layer hangs on the graph (prepare's explanations, context.c),
     * and the hook it installs to free it: the arena never calls up into that layer */
    void *explain;
    void (*explain_free)(qp_graph *g); /* NULL: nothing to free */

    uint32_t errnode;
    uint32_t errline; /* the line of a node a clearing took away (qp__graph_clear) */
    char errmsg[512];
};

/* ==== graph.c: clearing a graph without failing ==== */

/* Makes an empty graph's arrays in *spare with g's allocator (NOMEM: none made,
 * nothing to free), so that qp__graph_clear cannot fail later. */
qp_status qp__graph_spare(const qp_graph *g, qp_graph *spare);
/* Frees a spare that was not used. */
void qp__graph_spare_free(qp_graph *spare);
/* Empties g into the spare's arrays (the spare is consumed): g is then as
 * qp_graph_create made it, with its allocator, log hook, peak and error message
 * kept, and the text line of the node that error named (errline). */
void qp__graph_clear(qp_graph *g, qp_graph *spare);

/* ==== alloc.c ==== */

/* Allocates / resizes / frees through g's allocator, accounting g->mem.
 * qp__realloc returns NULL on failure and leaves the block untouched. */
void *qp__alloc(qp_graph *g, size_t n);
void *qp__realloc(qp_graph *g, void *p, size_t osize, size_t nsize);
void qp__free(qp_graph *g, void *p, size_t n);
/* *a, or the C library's allocator when a (or a->fn) is NULL. */
qp_allocator qp__allocator_or_std(const qp_allocator *a);
/* Allocates with a bare allocator (used before a graph exists). */
void *qp__raw_alloc(const qp_allocator *a, void *p, size_t osize, size_t nsize);
/*
 * Ensures room for `need` more elements of size `esz` in *arr (count n, capacity
 * *cap), growing by half. Returns QP_ERR_NOMEM (array untouched) or QP_ERR_LIMIT
 * when the count would pass UINT32_MAX.
 */
qp_status qp__grow(qp_graph *g, void **arr, uint32_t n, uint32_t *cap, uint32_t need, size_t esz);
/* Grows a side array of pointers by id (*n slots) to at least `want` slots, the
 * new ones NULL. NOMEM: untouched. */
qp_status qp__side_reserve(qp_graph *g, void ***arr, uint32_t *n, uint32_t want);
#define QP__GROW(g, arr, n, cap, need)                                                             \
    qp__grow((g), (void **)&(arr), (n), &(cap), (need), sizeof *(arr))
/* Gives back an array's capacity past `want` elements (want 0: frees it, *arr
 * NULL) where the allocator can; a failed shrink keeps the block as it was. */
void qp__shrink(qp_graph *g, void **arr, uint32_t *cap, uint32_t want, size_t esz);
/* *dst = a copy of the n elements at src in a new block of cap (>= n) elements, or
 * NULL when cap is 0. QP_ERR_NOMEM (*dst NULL) when out of memory. */
qp_status qp__dup(qp_graph *g, void **dst, const void *src, size_t n, size_t cap, size_t esz);

/* ==== status.c ==== */

/* Formats the graph's error message and returns st (g may be NULL). */
qp_status qp__err(qp_graph *g, qp_status st, const char *fmt, ...) QP__PRINTF(3, 4);
/* Same, naming the node the error is about. */
qp_status qp__errn(qp_graph *g, qp_status st, uint32_t node, const char *fmt, ...) QP__PRINTF(4, 5);
void qp__clear_err(qp_graph *g);
/* Calls the graph's log hook with a formatted line (no-op without a hook). */
void qp__logf(qp_graph *g, qp_log_level level, const char *where, const char *fmt, ...)
    QP__PRINTF(4, 5);
/* snprintf that never fails to terminate and tolerates truncation. */
void qp__fmt(char *buf, size_t cap, const char *fmt, ...) QP__PRINTF(3, 4);

/* ==== str.c: string checks ==== */

/* Length of the valid UTF-8 sequence at s (1..4, within avail), or 0 if there is none. */
size_t qp__utf8_len(const unsigned char *s, size_t avail);
/* True if s[0..len) is valid UTF-8: a name the API takes must be, since every
 * qgraph line must be and names are written unquoted. */
bool qp__utf8_valid(const char *s, size_t len);
/* An identifier character: ASCII letter, digit or underscore (node names, the
 * words of the text format). Inline: the reader calls it per byte. */
static inline bool
qp__is_word(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* ==== sym.c ==== */

qp_status qp__sym_init(qp_graph *g);
void qp__sym_free(qp_graph *g);
/* Interns len bytes; *out gets the sym id. */
qp_status qp__sym_intern(qp_graph *g, const char *s, size_t len, uint32_t *out);
/* A 32-bit hash of len bytes (the symbol table's), for other caches. */
uint32_t qp__hash(const char *s, size_t len);
/* A hint that len bytes are about to be interned or looked up: starts loading the
 * table slot where the search begins (a cache miss on a large table), so that
 * other work overlaps it. No effect on results. Returns the hash (qp__hash), for
 * qp__sym_intern_h. */
uint32_t qp__sym_prefetch(const qp_graph *g, const char *s, size_t len);
/* qp__sym_intern with the bytes' qp__hash already known. */
qp_status qp__sym_intern_h(qp_graph *g, const char *s, size_t len, uint32_t h, uint32_t *out);
/* Looks a string up without interning; 0 if absent (0 is also "" itself). */
uint32_t qp__sym_find(const qp_graph *g, const char *s, size_t len);
/* qp__sym_find with the bytes' qp__hash already known. */
uint32_t qp__sym_find_h(const qp_graph *g, const char *s, size_t len, uint32_t h);
/* Bytes (NUL-terminated) and length of a sym. A derived sym's bytes are written
 * in its reserved room on the first qp__sym_str (g is const to its callers: the
 * bytes are a cache of what the sym already is; one thread uses a graph). */
static inline const char *qp__sym_str(const qp_graph *g, uint32_t sym);
static inline uint32_t qp__sym_len(const qp_graph *g, uint32_t sym);
/* Whether sym's bytes are the len bytes at p, a dot, then more (sym names a
 * module under the path p), without writing a derived sym's bytes. */
bool qp__sym_dotted_under(const qp_graph *g, uint32_t sym, const char *p, size_t len);
/* A new derived sym: parent's path + QP__OBS_SFX, room for its bytes reserved but
 * not written. NOMEM / LIMIT (longer than a joined path may be): *out 0. */
qp_status qp__sym_derive_obs(qp_graph *g, uint32_t parent, uint32_t *out);
/* The parent of a derived sym, else 0. */
static inline uint32_t
qp__sym_derived_parent(const qp_graph *g, uint32_t sym)
{
    uint32_t v = g->st.syms[sym].node;
    return v & QP__SYM_DERIVED ? QP__SYM_PARENT(v) : 0;
}
/* A sym's bytes as those of a sym that has them written (the sym itself, or the
 * nearest ancestor of a derived one not yet written) and then *k suffixes. */
static inline uint32_t
qp__sym_base(const qp_graph *g, uint32_t sym, uint32_t *k)
{
    *k = 0;
    while (g->st.syms[sym].node & QP__SYM_DERIVED && !(g->st.syms[sym].node & QP__SYM_WRITTEN)) {
        sym = QP__SYM_PARENT(g->st.syms[sym].node);
        ++*k;
    }
    return sym;
}
#define QP__SYM(g, id) (&(g)->st.syms[id])
/* A string's header (sym.c writes them): its length in one byte, or QP__SYM_LONG
 * and the length in the four bytes after (strings of QP__SYM_LONG bytes or more
 * are rare). Inline with qp__sym_str and qp__sym_len, which the passes and the
 * writer call millions of times. */
#define QP__SYM_LONG 0xFFu
/* Where the bytes at pos are (sym.c writes through it). */
static inline char *
qp__sym_at(const struct qp__symtab *st, uint32_t pos)
{
    return st->win[pos >> QP__WIN_BITS] + (pos & (QP__WIN - 1));
}
/* Where the header at pos is. */
static inline const unsigned char *
qp__sym_head(const struct qp__symtab *st, uint32_t pos)
{
    return (const unsigned char *)qp__sym_at(st, pos);
}
static inline uint32_t
qp__sym_head_len(const unsigned char *h)
{
    if (*h != QP__SYM_LONG)
        return *h;
    uint32_t len;
    memcpy(&len, h + 1, 4);
    return len;
}
static inline const char *
qp__sym_head_str(const unsigned char *h)
{
    return (const char *)h + (*h != QP__SYM_LONG ? 1 : 5);
}
/* Writes a derived sym's bytes into its reserved room (sym.c). */
void qp__sym_write_derived(const qp_graph *g, uint32_t sym);
static inline const char *
qp__sym_str(const qp_graph *g, uint32_t sym)
{
    const struct qp__sym *y = &g->st.syms[sym];
    if (y->node & QP__SYM_DERIVED && !(y->node & QP__SYM_WRITTEN))
        qp__sym_write_derived(g, sym);
    return qp__sym_head_str(qp__sym_head(&g->st, y->pos));
}
static inline uint32_t
qp__sym_len(const qp_graph *g, uint32_t sym)
{
    uint32_t k, b = qp__sym_base(g, sym, &k); /* a derived sym's, without writing it */
    return qp__sym_head_len(qp__sym_head(&g->st, g->st.syms[b].pos)) +
           k * (uint32_t)QP__OBS_SFX_LEN;
}
/* Reserves room so that `n` more interns cannot fail for want of slots or records
 * (bytes may still be needed). */
qp_status qp__sym_reserve(qp_graph *g, uint32_t n);
/* Forgets every sym from old->n on and every string byte stored since the chunk
 * table was `old` with chunks[old->cur].used == used (and lused for the derived
 * syms' chunk): frees the chunks past old->nchunks, shrinks the hash table back
 * to old->nslots slots if it is bigger (when the allocator can: else it stays as
 * it is) and rebuilds it in place. */
void qp__sym_truncate(qp_graph *g, const struct qp__symtab *old, uint32_t used, uint32_t lused);
/* Copies src's whole table into h->st (which must be zeroed), allocating with h:
 * the records, the slots and the rarer facts as they are, the string bytes into
 * chunks of h's own. QP_ERR_NOMEM: h->st holds what was copied, for qp__sym_free. */
qp_status qp__sym_copy(qp_graph *h, const struct qp__symtab *src);
/* A sym's name-base count and parameter index (0 when it has none). */
uint32_t qp__sym_count(const qp_graph *g, uint32_t sym);
uint32_t qp__sym_param(const qp_graph *g, uint32_t sym);
/* Room for n more syms to get a count or parameter: setting them then cannot fail. */
qp_status qp__sym_extra_reserve(qp_graph *g, uint32_t n);
/* Sets them. Setting 0 where none was set, or changing a sym that has an entry,
 * allocates nothing; else NOMEM (nothing changed) when room was not reserved. */
qp_status qp__sym_set_count(qp_graph *g, uint32_t sym, uint32_t count);
qp_status qp__sym_set_param(qp_graph *g, uint32_t sym, uint32_t param);
/* Sizes the hash table for about `total` syms at once (an estimate: the table is
 * rebuilt once instead of at every doubling on the way); records are not reserved. */
qp_status qp__sym_presize(qp_graph *g, uint64_t total);
/* A hint that about `bytes` of string bytes are coming (a big text being read):
 * new chunks are then made big enough from the start for the default allocator
 * to map them in huge pages. Never fails; changes no sym. */
void qp__sym_expect_bytes(qp_graph *g, uint64_t bytes);

/* ==== value.c ==== */

#define QP__VAL(g, id) (&(g)->vals[id])
/* Whether s[0..len) is [A-Za-z_][A-Za-z0-9_.]*: an identifier value's spelling, and a
 * dict key the writer may leave unquoted. */
bool qp__is_dotted_name(const char *s, size_t len);
/* Appends n zeroed records and returns the first id in *first. */
qp_status qp__val_push(qp_graph *g, uint32_t n, uint32_t *first);
/* Scalar constructors returning the id (0 on NOMEM; the graph's errmsg is set). */
uint32_t qp__val_int(qp_graph *g, int64_t i);
uint32_t qp__val_bool(qp_graph *g, bool b);
uint32_t qp__val_float(qp_graph *g, double f);
uint32_t qp__val_none(qp_graph *g);
uint32_t qp__val_strsym(qp_graph *g, uint32_t kind, uint32_t sym);
/* Makes an aggregate of kind (TUPLE, LIST, DICT, CALL) whose items copy the
 * records items[0..n) (keys[i] set for a DICT; name for a CALL). */
uint32_t qp__val_agg(qp_graph *g, uint8_t kind, uint32_t name, uint32_t n, const uint32_t *items,
                     const uint32_t *keys);
/* An empty TUPLE / DICT (shared records made once per graph). */
uint32_t qp__val_empty(qp_graph *g, uint8_t kind);
/* Item i of an aggregate (0 if out of range). */
uint32_t qp__val_item(const qp_graph *g, uint32_t v, uint32_t i);
/* DICT item by key sym (0 if absent). */
uint32_t qp__val_get(const qp_graph *g, uint32_t dict, uint32_t key);
/* Returns a copy of DICT d with key set to value v (appended if new), 0 on NOMEM. */
uint32_t qp__val_dict_set(qp_graph *g, uint32_t d, uint32_t key, uint32_t v);
/* Deep equality (floats by value, NaN == NaN). */
bool qp__val_equal(const qp_graph *g, uint32_t a, uint32_t b);
/* True if the tree rooted at v holds a NODE record. */
bool qp__val_has_nodes(const qp_graph *g, uint32_t v);
/* A deep copy of v in fresh records (0 on NOMEM). */
uint32_t qp__val_copy(qp_graph *g, uint32_t v);
/* Visits every NODE record of the tree rooted at v in text order. Iterative. */
typedef void (*qp__val_visit_fn)(qp_graph *g, uint32_t rec, void *ud);
void qp__val_each_node(qp_graph *g, uint32_t v, qp__val_visit_fn fn, void *ud);
/* True if v is a valid value handle of g. */
bool qp__val_valid(const qp_graph *g, uint32_t v);

/* ==== graph.c ==== */

#define QP__NODE(g, id) (&(g)->nodes[id])
/* True if id is a live node of g. */
bool qp__node_live(const qp_graph *g, uint32_t id);
/* Appends a node record linked after `after` (0: at the start). The name sym
 * must be unused or `dup_ok`; args/kwargs trees must be exclusively owned (not
 * attached); they are attached here. Returns QP_OK or NOMEM (graph unchanged). */
qp_status qp__node_new(qp_graph *g, uint32_t after, uint8_t op, uint32_t name, uint32_t target,
                       uint32_t args, uint32_t kwargs, uint32_t *out);
/* Attaches / detaches the NODE records of a tree to / from their producers' use lists. */
void qp__uses_attach(qp_graph *g, uint32_t user, uint32_t tree);
void qp__uses_detach(qp_graph *g, uint32_t tree);
/* Replaces node n's args or kwargs tree (new tree exclusively owned, not attached). */
void qp__node_set_args(qp_graph *g, uint32_t n, uint32_t args);
void qp__node_set_kwargs(qp_graph *g, uint32_t n, uint32_t kwargs);
/* Moves every reference to `from` (except those held by `skip`) onto `to`; O(uses). */
uint32_t qp__node_replace_uses(qp_graph *g, uint32_t from, uint32_t to, uint32_t skip);
/* Moves one use record onto node `to` (it then refers to `to`, at the end of its
 * use list, next to other uses by the same user). O(args of the user). */
void qp__use_move(qp_graph *g, uint32_t rec, uint32_t to);
/* Unlinks node n (no users) from the order and marks it erased. */
void qp__node_erase(qp_graph *g, uint32_t n);
/* Distinct-user iteration: first user after use record *it (start with 0); 0 at end. */
uint32_t qp__node_next_user(const qp_graph *g, uint32_t n, uint32_t *it);
uint32_t qp__node_num_users(const qp_graph *g, uint32_t n);
/* Generates a unique node name from a candidate the way torch.fx's
 * _Namespace.create_name does; *out gets the sym. */
qp_status qp__name_create(qp_graph *g, const char *cand, size_t len, uint32_t *out);
/* torch.fx Graph._target_to_str: the candidate name for a target (snake_case of the
 * last component of a function's qualified name, else of the whole target). */
size_t qp__target_to_name(uint8_t op, const char *target, char *buf, size_t cap);
/* The name torch.fx gives a new call_module node of target sym (qp__target_to_name,
 * then qp__name_create); *out gets the sym. */
qp_status qp__name_for_call(qp_graph *g, uint32_t target, uint32_t *out);
/* Gives the arrays' spare capacity back (a reader's graph is final); best effort. */
void qp__graph_trim(qp_graph *g);

/* ==== undo.c ==== */

/* What qp__undo_begin saved of a graph so that work done on it in place can be
 * taken back (prepare runs its passes on the caller's graph). */
struct qp__undo {
    struct qp_graph hdr;          /* counts, chunk state, report, gattrs, ... */
    struct qp__node *nodes;       /* hdr.nnodes records */
    struct qp__module *mods;      /* hdr.nmods records */
    struct qp__param *params;     /* hdr.nparams */
    uint32_t *comments;           /* hdr.ncomments */
    void **ptrs;                  /* hdr.nptrs */
    void **node_user, **mod_user; /* hdr.nnode_user, hdr.nmod_user */
    struct qp__origins *orig;     /* hdr.caporig */
    struct qp__symx *symx;        /* hdr.st.capx: names' counts, params (slots as they were) */
    struct qp__undo_sym *syms;    /* hdr.st.n: the node and module a sym names */
    struct qp__undo_use *uses;    /* the NODE value records (use-list links) */
    uint32_t nuses, used;         /* nuses entries; used: hdr.st.chunks[cur].used */
    uint32_t lused;               /* hdr.st.chunks[lcur - 1].used (derived syms' room) */
};
/* Saves what later work on g may change (records appended after this are undone
 * by truncation; of the records that exist, only nodes, modules, syms' bindings,
 * params, comments, origins, user pointers and the use-list fields of NODE values
 * are ever rewritten: value records are otherwise append-only). NOMEM: nothing
 * saved, g unchanged. */
qp_status qp__undo_begin(qp_graph *g, struct qp__undo *u);
/* Puts g back exactly as it was at qp__undo_begin and frees the log. Arrays that
 * grew are shrunk back to their old capacities where the allocator can (else they
 * stay bigger: capacity is not state); errmsg and errnode are left as they are. */
void qp__undo_rollback(qp_graph *g, struct qp__undo *u);
/* Frees the log, keeping g as it is. */
void qp__undo_end(qp_graph *g, struct qp__undo *u);

/* ==== module.c ==== */

#define QP__MOD(g, id) (&(g)->mods[id])
/* Module slot m (> 0) is live while its path's sym names it: qp__mod_add binds the
 * path, qp__mod_remove unbinds it, and a later module on the same path binds it
 * anew (a flag byte would make every record 24 bytes, not 20). */
static inline bool
qp__mod_live(const qp_graph *g, uint32_t m)
{
    return m && g->st.syms[g->mods[m].path].module == m;
}
/* The live module with this path sym, 0 if none: the one the sym is bound to, or
 * (when another sym holds the same bytes) a derived-path observer with them. */
uint32_t qp__mod_find(const qp_graph *g, uint32_t path);
/* The live module at the path of len bytes at s, 0 if none (never allocates). */
uint32_t qp__mod_find_str(const qp_graph *g, const char *s, size_t len);
/* Adds a module after table entry `after` (0: at the end); path must be free. */
qp_status qp__mod_add(qp_graph *g, uint32_t path, uint32_t type, uint32_t attrs, uint32_t after,
                      uint32_t *out);
/* Removes a module from the table (its slot stays, not live). */
void qp__mod_remove(qp_graph *g, uint32_t m);
/* Appends user pointers as origins of module m. */
qp_status qp__mod_add_origins(qp_graph *g, uint32_t m, void *const *ptrs, uint32_t n);
/* Module m's origins (n 0 and first 0 when it has none). */
struct qp__origins qp__mod_origins(const qp_graph *g, uint32_t m);
/* Module m gets the run of origins [first, first + n) of g->ptrs (n 0: none).
 * Fails (NOMEM, nothing changed) only when the table must grow. */
qp_status qp__mod_set_origins(qp_graph *g, uint32_t m, uint32_t first, uint32_t n);
/* The user pointer of module / node id (NULL if none). */
void *qp__mod_user(const qp_graph *g, uint32_t m);
void *qp__node_user(const qp_graph *g, uint32_t n);
/* Sets it. Setting NULL where none was set allocates nothing; otherwise the side
 * array may grow: NOMEM, nothing changed. */
qp_status qp__mod_set_user(qp_graph *g, uint32_t m, void *user);
qp_status qp__node_set_user(qp_graph *g, uint32_t n, void *user);
/* Makes room so that setting the user pointer of any module id below n cannot fail. */
qp_status qp__mod_user_reserve(qp_graph *g, uint32_t n);
/* The last table entry whose path is `path` or starts with "path." (0 if none):
 * where a new submodule of `path` belongs in named_modules() order. */
uint32_t qp__mod_subtree_end(const qp_graph *g, uint32_t m);
/* The module called by a call_module node (0 if none). */
uint32_t qp__node_module(const qp_graph *g, uint32_t n);

/* ==== text_write.c / number formatting ==== */

/* Writes the shortest text that reads back to f, laid out as Python's repr; returns length.
 * buf must hold 32 bytes. */
size_t qp__fmt_float(double f, char *buf);
/* Reads a float token (no locale dependence); false if it is not one. */
bool qp__parse_float(const char *s, size_t len, double *out);

/* A buffered writer over a qp_write_fn (no allocation). Floats written recently
 * are kept formatted (a graph repeats a handful of them: eps, momentum, inf). */
#define QP__OUT_FLOATS 8
typedef struct qp__out {
    qp_write_fn fn;
    void *ud;
    int failed;
    unsigned drains; /* times buf was handed to fn: a run of output in buf is whole
                        if this did not change while it was written */
    size_t n;
    unsigned next_float; /* the slot the next new float replaces (round robin) */
    struct {
        uint64_t bits;
        uint8_t len; /* 0: empty slot */
        char text[31];
    } floats[QP__OUT_FLOATS];
    char buf[4096];
} qp__out;
void qp__out_init(qp__out *o, qp_write_fn fn, void *ud);
void qp__out_bytes(qp__out *o, const char *s, size_t len);
void qp__out_str(qp__out *o, const char *s);
void qp__out_char(qp__out *o, char c);
/* Writes a value in qgraph syntax. */
void qp__out_val(qp__out *o, const qp_graph *g, uint32_t v);
/* Writes a string value with quotes and escapes. */
void qp__out_quoted(qp__out *o, const char *s, size_t len);
qp_status qp__out_flush(qp__out *o);

/* ==== text_read.c ==== */

/* Parses one dict, list or tuple at s[*pos..n) in qgraph value syntax, without
 * node references, into g's pool. On success *pos is past it; on failure *pos is
 * at the offending byte (0-based) and msg says what is wrong. */
qp_status qp__parse_value(qp_graph *g, const char *s, size_t n, size_t *pos, uint32_t *out,
                          char *msg, size_t cap);

/* ==== verify.c ==== */

/* Runs the verifier; also used by the reader and, when configured, between passes. */
qp_status qp__verify(qp_graph *g, qp_diag_fn fn, void *ud);

#endif /* QPREP_INTERNAL_H */
