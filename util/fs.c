/* fs.c — atomic writes, bounded reads and directories (see fs.h). */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void fsync_dir_of(const char *path) {
    char dir[SL_PATH_MAX];
    sl_snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else sl_snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int sl_atomic_open(SlAtomicFile *af, const char *path, SlErr *err) {
    memset(af, 0, sizeof *af);
    sl_snprintf(af->path, sizeof af->path, "%s", path);
    sl_snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return sl_fail(err, "%s: cannot create file: %s", path, strerror(errno));
    return 0;
}

int sl_atomic_commit(SlAtomicFile *af, SlErr *err) {
    int bad = ferror(af->f);
    int e = errno;
    if (fflush(af->f) != 0) bad = 1, e = errno;
    if (!bad && fsync(fileno(af->f)) != 0) bad = 1, e = errno;
    if (fclose(af->f) != 0 && !bad) bad = 1, e = errno;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return sl_fail(err, "%s: write failed: %s (the previous file, if any, is unchanged)",
                       af->path, strerror(e));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return sl_fail(err, "%s: cannot rename temp file into place: %s", af->path, strerror(e));
    }
    fsync_dir_of(af->path);
    return 0;
}

void sl_atomic_abort(SlAtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}

int sl_write_atomic(const char *path, const void *data, size_t len, SlErr *err) {
    SlAtomicFile af;
    if (sl_atomic_open(&af, path, err)) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        sl_atomic_abort(&af);
        return sl_fail(err, "%s: write failed: %s (the previous file, if any, is unchanged)", path,
                       strerror(e));
    }
    return sl_atomic_commit(&af, err);
}

int sl_check_regular(const char *path, SlErr *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return sl_fail(err, "%s: no such file or directory", path);
        return sl_fail(err, "%s: cannot read: %s", path, strerror(errno));
    }
    if (S_ISREG(st.st_mode)) return 0;
    if (S_ISDIR(st.st_mode)) return sl_fail(err, "%s: is a directory, not a file", path);
    if (S_ISFIFO(st.st_mode)) return sl_fail(err, "%s: is a FIFO (named pipe), not a regular file", path);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return sl_fail(err, "%s: is a device, not a regular file", path);
    if (S_ISSOCK(st.st_mode)) return sl_fail(err, "%s: is a socket, not a regular file", path);
    return sl_fail(err, "%s: not a regular file", path);
}

FILE *sl_fopen_read(const char *path, SlErr *err) {
    if (sl_check_regular(path, err)) return NULL;
    /* O_NONBLOCK: a FIFO put there after the check must not block the open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        sl_fail(err, "%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    return f;
}

int sl_read_file(const char *path, size_t max_len, char **data, size_t *len, SlErr *err) {
    *data = NULL;
    if (len) *len = 0;
    FILE *f = sl_fopen_read(path, err);
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return sl_fail(err, "%s: cannot read: %s", path, strerror(errno));
    }
    if ((unsigned long long)st.st_size > max_len) {
        fclose(f);
        return sl_fail(err, "%s: file too large (%lld bytes, limit %zu)", path,
                       (long long)st.st_size, max_len);
    }
    size_t n = (size_t)st.st_size;
    char *buf = xmalloc(n + 1);
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (rerr || got != n) {
        free(buf);
        return sl_fail(err, "%s: read failed", path);
    }
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return 0;
}

int sl_mkdirs(const char *path, SlErr *err) {
    char tmp[SL_PATH_MAX];
    sl_snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return sl_fail(err, "%s: cannot create directory: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return sl_fail(err, "%s: cannot create directory: %s", tmp, strerror(errno));
    if (!sl_is_dir(tmp)) return sl_fail(err, "%s: exists and is not a directory", tmp);
    return 0;
}

int sl_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sl_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void sl_path_join(char *out, size_t n, const char *a, const char *b) {
    size_t la = strlen(a);
    if (la && a[la - 1] == '/') sl_snprintf(out, n, "%s%s", a, b);
    else sl_snprintf(out, n, "%s/%s", a, b);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_list_dir(const char *dir, const char *const *suffixes, char ***names, SlErr *err) {
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d) return sl_fail(err, "%s: cannot open directory: %s", dir, strerror(errno));
    int n = 0, cap = 16;
    char **v = xmalloc(sizeof *v * (size_t)cap);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char full[SL_PATH_MAX];
        sl_path_join(full, sizeof full, dir, e->d_name);
        if (!sl_is_file(full)) continue;
        int ok = suffixes == NULL;
        for (int i = 0; suffixes && suffixes[i]; i++) {
            size_t a = strlen(e->d_name), b = strlen(suffixes[i]);
            if (a >= b && strcasecmp(e->d_name + a - b, suffixes[i]) == 0) ok = 1;
        }
        if (!ok) continue;
        if (n == cap) v = xrealloc(v, sizeof *v * (size_t)(cap *= 2));
        v[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n == 0) { /* nothing to free for the caller */
        free(v);
        return 0;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

void sl_free_list(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}
