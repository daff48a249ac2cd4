/* staged.c — outputs staged by the ranks until rank 0 has logged them in the one-process order
 * (staged.h). */
#include "infer/staged.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer/ledger.h"
#include "util/fs.h"

void staged_add(StagedList *l, int k1, int k2, const char *final, const char *staged) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
    }
    StagedOutput *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->k1 = k1, s->k2 = k2;
    s->final = xstrdup(final), s->staged = xstrdup(staged);
    s->ledger_dir = xstrdup("");
}

int staged_put(StagedList *l, int k1, int k2, const char *path, ProvOutput *po, SlErr *err) {
    char staged[SL_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash) sl_snprintf(staged, sizeof staged, "%.*s/.%s" STAGED_SUFFIX, (int)(slash - path), path, slash + 1);
    else sl_snprintf(staged, sizeof staged, ".%s" STAGED_SUFFIX, path);
    if (sl_write_atomic(staged, po->bytes, po->len, err)) return -1;
    staged_add(l, k1, k2, path, staged);
    StagedOutput *s = &l->v[l->n - 1];
    s->entry = po->entry, po->entry = NULL;
    free(s->ledger_dir);
    s->ledger_dir = xstrdup(po->ledger_dir);
    return 0;
}

void staged_free(StagedList *l, int remove_files) {
    for (int k = 0; k < l->n; k++) {
        if (remove_files) unlink(l->v[k].staged);
        free(l->v[k].final), free(l->v[k].staged), free(l->v[k].entry), free(l->v[k].ledger_dir);
    }
    free(l->v);
    l->v = NULL, l->n = l->cap = 0;
}

int staged_commit(StagedList *l, SlErr *err) {
    for (int k = 0; k < l->n; k++)
        if (rename(l->v[k].staged, l->v[k].final))
            return sl_fail(err, "%s: cannot move it into place (%s) after it was logged", l->v[k].final, strerror(errno));
    staged_free(l, 0);
    return 0;
}

void staged_remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[SL_PATH_MAX];
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && sl_endswith(e->d_name, STAGED_SUFFIX)) {
            sl_path_join(p, sizeof p, dir, e->d_name);
            unlink(p);
        }
    closedir(d);
}

/* Records on the wire: int32 k1, int32 k2, then NUL-terminated log folder, entry and final path. */
typedef struct {
    int k1, k2;
    const char *dir, *entry, *final;
} Entry;

static int cmp_entry(const void *x, const void *y) {
    const Entry *a = x, *b = y;
    return a->k1 != b->k1 ? (a->k1 > b->k1) - (a->k1 < b->k1) : (a->k2 > b->k2) - (a->k2 < b->k2);
}

int staged_log(SlMpi *mpi, const StagedList *l, const SlKeypair *key, SlErr *err) {
    size_t n = 0;
    for (int k = 0; k < l->n; k++)
        if (l->v[k].entry) n += 8 + strlen(l->v[k].ledger_dir) + strlen(l->v[k].entry) + strlen(l->v[k].final) + 3;
    char *buf = xmalloc(n ? n : 1), *p = buf;
    for (int k = 0; k < l->n; k++) {
        const StagedOutput *s = &l->v[k];
        if (!s->entry) continue;
        int32_t h[2] = {s->k1, s->k2};
        memcpy(p, h, 8), p += 8;
        const char *parts[3] = {s->ledger_dir, s->entry, s->final};
        for (int q = 0; q < 3; q++) {
            size_t len = strlen(parts[q]) + 1;
            memcpy(p, parts[q], len), p += len;
        }
    }
    void *all = NULL;
    size_t *lens = xcalloc((size_t)mpi->size, sizeof *lens);
    sl_mpi_gatherv(mpi, buf, n, &all, lens);
    free(buf);
    int ok = 1;
    if (mpi->rank == 0) {
        size_t total = 0, cap = 64, ne = 0;
        for (int r = 0; r < mpi->size; r++) total += lens[r];
        Entry *e = xmalloc(sizeof *e * cap);
        for (const char *q = all, *end = (const char *)all + total; q < end;) {
            int32_t h[2];
            memcpy(h, q, 8), q += 8;
            if (ne == cap) e = xrealloc(e, sizeof *e * (cap *= 2));
            e[ne].k1 = h[0], e[ne].k2 = h[1];
            e[ne].dir = q, q += strlen(q) + 1;
            e[ne].entry = q, q += strlen(q) + 1;
            e[ne++].final = q, q += strlen(q) + 1;
        }
        qsort(e, ne, sizeof *e, cmp_entry);
        for (size_t k = 0; k < ne && ok; k++)
            if (ledger_append(e[k].dir, e[k].entry, key, NULL, err)) {
                sl_failctx(err, "%s: cannot log the output (nothing moved into place)", e[k].final);
                ok = 0;
            }
        free(e);
    }
    free(all), free(lens);
    sl_mpi_bcast(mpi, &ok, sizeof ok, 0);
    if (ok) return 0;
    if (mpi->rank != 0) err->msg[0] = 0;
    return -1;
}
