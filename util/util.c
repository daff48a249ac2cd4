/* util.c — assertions, checked allocation, error messages, time and logging (see util.h). */
#include "util/util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Noreturn void sl_die_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "swaplab: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *sl_malloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) sl_die_at(file, line, "out of memory allocating %zu bytes", n);
    return p;
}

void *sl_malloc_aligned_at(size_t n, const char *file, int line) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1)) sl_die_at(file, line, "out of memory allocating %zu bytes", n);
    return p;
}

void *sl_calloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) sl_die_at(file, line, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *sl_realloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) sl_die_at(file, line, "out of memory reallocating %zu bytes", n);
    return q;
}

char *sl_strdup_at(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = sl_malloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}

int sl_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int sl_fail(SlErr *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int sl_failctx(SlErr *err, const char *fmt, ...) {
    if (err) {
        char prefix[512], old[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        snprintf(err->msg, sizeof err->msg, "%.500s: %.500s", prefix, old);
    }
    return -1;
}

void sl_snprintf(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n) SL_DIE("string too long for buffer of %zu bytes: %s", n, fmt);
}

int sl_endswith(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void sl_hex(char *out, const uint8_t *bytes, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[bytes[i] >> 4];
        out[2 * i + 1] = d[bytes[i] & 15];
    }
    out[2 * n] = 0;
}

double sl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sl_utc_iso8601(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sl_utc_date(char out[16]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static int quiet(void) {
    const char *q = getenv("SL_QUIET");
    return q && *q && strcmp(q, "0") != 0;
}

void sl_info(const char *fmt, ...) {
    if (quiet()) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void sl_warn(const char *fmt, ...) {
    va_list ap;
    fputs("swaplab: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
