/* lock.c — exclusive locks on outputs through flock(2) on a lock file (see lock.h). */
#include "util/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies s into out with every character outside printable ASCII (and the newline the record
 * uses as a separator) replaced by '?', so a hostile record cannot forge lines in a message. */
static void clean(char *out, size_t n, const char *s, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < len && s[i] && k + 1 < n; i++) out[k++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    out[k] = 0;
}

/* The value of "key value" in a record, cleaned, or "" when absent. */
static void field(const char *rec, const char *key, char *out, size_t n) {
    out[0] = 0;
    size_t kl = strlen(key);
    for (const char *p = rec; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            clean(out, n, v, e ? (size_t)(e - v) : strlen(v));
            return;
        }
    }
}

static int holder_message(int fd, const char *path, const char *resource, SlErr *err) {
    char rec[1024] = "";
    ssize_t r = pread(fd, rec, sizeof rec - 1, 0);
    rec[r > 0 ? r : 0] = 0;
    char pid[32], host[128], cmd[160], since[40];
    field(rec, "pid", pid, sizeof pid);
    field(rec, "host", host, sizeof host);
    field(rec, "command", cmd, sizeof cmd);
    field(rec, "since", since, sizeof since);
    if (!*pid)
        return sl_fail(err, "%s is in use by another process (it has not written its record to %s yet); wait for it "
                            "to finish or choose another output", resource, path);
    return sl_fail(err, "%s is in use by %s (pid %s on host %s, since %s; lock file %s); wait for it to finish or "
                        "choose another output", resource, *cmd ? cmd : "another swaplab", pid, *host ? host : "?",
                   *since ? since : "?", path);
}

static int lock_at(SlLock *l, const char *path, const char *resource, const char *what, SlErr *err) {
    l->fd = -1;
    l->path[0] = 0;
    if (strlen(path) >= sizeof l->path) return sl_fail(err, "%.200s...: the path of the lock file is too long", path);
    for (int attempt = 0; attempt < 16; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) return sl_fail(err, "%s: cannot open the lock file: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return sl_fail(err, "%s: the lock file is not a regular file", path);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            int rc = e == EWOULDBLOCK ? holder_message(fd, path, resource, err)
                                      : sl_fail(err, "%s: cannot lock it (%s); this file system may not support flock",
                                                path, strerror(e));
            close(fd);
            return rc;
        }
        /* The holder before us unlinks the file as it unlocks: the inode we locked must still be
         * the one at path, else try again with the new file. */
        struct stat ps;
        if (stat(path, &ps) != 0 || ps.st_ino != st.st_ino || ps.st_dev != st.st_dev) {
            close(fd);
            continue;
        }
        char host[256] = "", since[32], rec[1024], w[160];
        if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "unknown");
        sl_utc_iso8601(since);
        clean(w, sizeof w, what ? what : "swaplab", what ? strlen(what) : 7);
        int n = snprintf(rec, sizeof rec, "pid %ld\nhost %s\ncommand %s\nsince %s\n", (long)getpid(), host, w, since);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, rec, (size_t)n, 0) != n) {
            int e = errno;
            close(fd);
            return sl_fail(err, "%s: cannot write the lock file: %s", path, strerror(e));
        }
        l->fd = fd;
        snprintf(l->path, sizeof l->path, "%s", path);
        return 0;
    }
    return sl_fail(err, "%s: the lock file keeps being replaced by other processes; try again", path);
}

int sl_lock_dir(SlLock *l, const char *dir, const char *what, SlErr *err) {
    char path[SL_PATH_MAX];
    size_t n = strlen(dir);
    if (n + sizeof SL_LOCK_NAME + 1 >= sizeof path) {
        l->fd = -1;
        return sl_fail(err, "%.200s...: the directory's path is too long", dir);
    }
    snprintf(path, sizeof path, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", SL_LOCK_NAME);
    return lock_at(l, path, dir, what, err);
}

int sl_lock_file(SlLock *l, const char *lock_path, const char *what, SlErr *err) {
    return lock_at(l, lock_path, lock_path, what, err);
}

void sl_unlock(SlLock *l) {
    if (!l || l->fd < 0) return;
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}
