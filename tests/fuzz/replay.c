/*
 * replay.c - a plain C driver for the fuzz targets, so that a build without
 * libFuzzer (gcc, ctest) runs the seed corpus and every crash found so far.
 *
 *   replay [--prefix N] [--optional] PATH...
 *
 * Each PATH is a file or a folder (its files, sorted, not recursive; files
 * whose names start with '.' or "README" are skipped). Each file is passed to
 * LLVMFuzzerTestOneInput as it is, and after --prefix N (until the next
 * --prefix) also once behind each control byte 0..N-1 (fuzz_prepare's backend
 * and mode byte). After --optional a missing folder passes (a regressions
 * folder with nothing in it yet). A property that fails aborts, which fails
 * the test.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned prefix;
static size_t runs;

static void
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(1);
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    for (;;) {
        n += fread(buf + 1 + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap + 1);
    }
    fclose(f);
    /* the exact bytes, in a block of their size, so ASan sees any over-read */
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, buf + 1, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    runs++;
    for (unsigned b = 0; b < prefix; b++) {
        uint8_t *p = malloc(n + 1);
        p[0] = (uint8_t)b;
        memcpy(p + 1, buf + 1, n);
        LLVMFuzzerTestOneInput(p, n + 1);
        free(p);
        runs++;
    }
    free(buf);
}

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        exit(1);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "README", 6))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
        }
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        snprintf(names[n], l, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp);
    for (size_t i = 0; i < n; i++) {
        struct stat s;
        if (stat(names[i], &s) == 0 && S_ISREG(s.st_mode))
            run_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int
main(int argc, char **argv)
{
    int optional = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
            prefix = (unsigned)atoi(argv[++i]);
            continue;
        }
        if (!strcmp(argv[i], "--optional")) {
            optional = 1;
            continue;
        }
        struct stat s;
        if (stat(argv[i], &s) != 0) {
            if (optional)
                continue;
            fprintf(stderr, "replay: no such file or folder: %s\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(s.st_mode))
            run_dir(argv[i]);
        else
            run_file(argv[i]);
    }
    printf("replay: %zu inputs passed\n", runs);
    return runs ? 0 : 1;
}
