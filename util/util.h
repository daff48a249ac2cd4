/* util.h — the two error kinds of swaplab, checked allocation and small helpers shared by every layer.
 *
 * Bugs and system failures (a violated invariant, out of memory) abort with file:line through
 * SL_ASSERT / SL_DIE; they are never compiled out. Bad user data (a malformed file, a refused
 * consent, a wrong flag) is reported through an SlErr: the function fills it with a human message
 * and returns -1, and the CLI prints the message and exits non-zero.
 */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_VERSION "0.1.0"
/* The one path-buffer size: a path from the command line (at most SL_ARG_MAX_LEN = 3072 bytes,
 * util/args.h) joined with any file name swaplab writes inside it. */
#define SL_PATH_MAX 4608

/* ---- bugs: always-on assertions ---------------------------------------------------------- */
_Noreturn void sl_die_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SL_DIE(...) sl_die_at(__FILE__, __LINE__, __VA_ARGS__)
#define SL_ASSERT(cond) \
    do { if (!(cond)) sl_die_at(__FILE__, __LINE__, "assertion failed: %s", #cond); } while (0)

void *sl_malloc_at(size_t n, const char *file, int line);
void *sl_calloc_at(size_t n, size_t size, const char *file, int line);
void *sl_realloc_at(void *p, size_t n, const char *file, int line);
char *sl_strdup_at(const char *s, const char *file, int line);
#define xmalloc(n) sl_malloc_at((n), __FILE__, __LINE__)
/* 64-byte aligned (a cache line: vector kernels' loads never split one), freed with free() */
void *sl_malloc_aligned_at(size_t n, const char *file, int line);
#define xmalloc_aligned(n) sl_malloc_aligned_at((n), __FILE__, __LINE__)
#define xcalloc(n, s) sl_calloc_at((n), (s), __FILE__, __LINE__)
#define xrealloc(p, n) sl_realloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s) sl_strdup_at((s), __FILE__, __LINE__)

/* Multiplies sizes, returning 0 (and leaving *out untouched) on overflow. Use it on every size
 * that comes from a file or the command line. */
int sl_mul_ok(size_t a, size_t b, size_t *out);

/* ---- bad data: a status and a message ----------------------------------------------------- */
typedef struct {
    char msg[1024];
} SlErr;

/* Fills err (may be NULL) with the formatted message and returns -1, so callers can write
 * `return sl_fail(err, "%s: not a PNG file", path);`. */
int sl_fail(SlErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "context: old message". Returns -1. */
int sl_failctx(SlErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- strings ------------------------------------------------------------------------------ */
/* snprintf into a fixed buffer; aborts if the result would be truncated (a bug for paths). */
void sl_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sl_endswith(const char *s, const char *suffix);
/* Hex of n bytes into out (2n+1 chars). */
void sl_hex(char *out, const uint8_t *bytes, size_t n);

/* ---- time --------------------------------------------------------------------------------- */
double sl_now(void);               /* monotonic seconds */
void sl_utc_iso8601(char out[32]); /* "2026-11-22T15:52:59Z" */
void sl_utc_date(char out[16]);    /* "2026-11-22" */

/* ---- logging to stderr; quiet when SL_QUIET=1 in the environment ----------------------------- */
void sl_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
