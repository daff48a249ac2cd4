/* fs.h — files that are never half-written: atomic writes (temp file, fsync, rename), bounded
 * reads, directory creation. Every function reports failures through SlErr naming the path. */
#ifndef SL_FS_H
#define SL_FS_H

#include <stddef.h>
#include <stdio.h>

#include "util/util.h"

/* Writes len bytes to path atomically: path.tmp.PID is written, fsync'ed, renamed over path,
 * and the directory is fsync'ed. On failure path is untouched and the temp file removed. */
int sl_write_atomic(const char *path, const void *data, size_t len, SlErr *err);

/* Streaming form: open a temp file next to path, write with fwrite, then commit or abort.
 * sl_atomic_commit checks every write error (a full disk included) before renaming. */
typedef struct {
    FILE *f;
    char path[SL_PATH_MAX];
    char tmp[SL_PATH_MAX];
} SlAtomicFile;
int sl_atomic_open(SlAtomicFile *af, const char *path, SlErr *err);
int sl_atomic_commit(SlAtomicFile *af, SlErr *err); /* closes; on failure removes the temp */
void sl_atomic_abort(SlAtomicFile *af);              /* closes and removes the temp */

/* 0 when path is a regular file (symlinks followed), else -1 with err saying what is there
 * instead: "no such file or directory", "is a directory, not a file", "is a FIFO (named pipe), not a regular
 * file", "is a device, not a regular file". */
int sl_check_regular(const char *path, SlErr *err);

/* fopen(path, "rb") for a regular file only (sl_check_regular's message otherwise), without
 * blocking on a FIFO. NULL with err. */
FILE *sl_fopen_read(const char *path, SlErr *err);

/* Reads a whole file (at most max_len bytes, else an error) into a malloc'ed buffer with a
 * terminating NUL byte (not counted in *len). Anything but a regular file is refused as
 * sl_check_regular says, without blocking on a FIFO. */
int sl_read_file(const char *path, size_t max_len, char **data, size_t *len, SlErr *err);

/* mkdir -p. */
int sl_mkdirs(const char *path, SlErr *err);
int sl_is_dir(const char *path);
int sl_is_file(const char *path);
/* Joins a and b with one '/', aborting if the result exceeds n bytes. */
void sl_path_join(char *out, size_t n, const char *a, const char *b);

/* Lists the regular files in dir whose names end with one of the suffixes (NULL-terminated list,
 * case-insensitive; NULL list = all files), sorted by name. Returns count, or -1 with err. The
 * caller frees each name and the array with sl_free_list; with 0 or -1 there is nothing to free
 * (*names is NULL, and sl_free_list(NULL, 0) is harmless). */
int sl_list_dir(const char *dir, const char *const *suffixes, char ***names, SlErr *err);
void sl_free_list(char **names, int n);

#endif
