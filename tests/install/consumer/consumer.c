/*
 * consumer.c - a C program built against an installed qprep (find_package,
 * pkg-config or add_subdirectory): reads a qgraph file, verifies it, writes
 * it back and checks the text round-trips byte for byte.
 *
 * usage: consumer FILE.qg       exit status 0 ok, 1 failure
 */
#include <qprep/prepare.h> /* both public headers compile on their own */
#include <qprep/qprep.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t n, cap;
};

/* A qp_write_fn appending to a struct buf. */
static int
buf_write(void *ud, const char *data, size_t len)
{
    struct buf *b = ud;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + len)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    return 0;
}

static int
fail(const char *what, const char *detail)
{
    fprintf(stderr, "consumer: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

int
main(int argc, char **argv)
{
    if (argc != 2)
        return fail("usage: consumer FILE.qg", NULL);
    if (strcmp(qp_version(), QP_VERSION_STRING) || qp_version_number() != QP_VERSION_NUMBER)
        return fail("header and library versions differ", qp_version());
#ifdef QP_EXPECT_VERSION
    if (strcmp(qp_version(), QP_EXPECT_VERSION))
        return fail("the package's version is not the library's", QP_EXPECT_VERSION);
#endif

    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return fail("cannot open", argv[1]);
    struct buf in = {NULL, 0, 0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_write(&in, chunk, got))
            return fail("out of memory", NULL);
    fclose(f);

    qp_graph *g = NULL;
    qp_error err;
    qp_status st = qp_graph_read_text(in.p, in.n, NULL, &g, &err);
    if (st) {
        fprintf(stderr, "%s:%u:%u: %s\n", argv[1], (unsigned)err.line, (unsigned)err.col, err.msg);
        return 1;
    }
    st = qp_graph_verify(g, NULL, NULL);
    if (st)
        return fail("verify failed", qp_graph_errmsg(g));

    struct buf out = {NULL, 0, 0};
    st = qp_graph_write_text(g, buf_write, &out);
    if (st)
        return fail("write failed", qp_status_str(st));
    if (out.n != in.n || memcmp(out.p, in.p, in.n))
        return fail("the text does not round-trip", argv[1]);

    printf("consumer: qprep %s read, verified and wrote %s: %u nodes, %u modules, %zu bytes\n",
           qp_version(), argv[1], (unsigned)qp_graph_num_nodes(g),
           (unsigned)qp_graph_num_modules(g), out.n);
    qp_graph_destroy(g);
    free(in.p);
    free(out.p);
    return 0;
}
