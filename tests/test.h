/* test.h — the 40-line test harness every tests/test_*.c uses.
 *
 *   static void t_roundtrip(void) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-5); }
 *   int main(void) { RUN(t_roundtrip); return test_summary("test_image"); }
 *
 * A test case passes when none of its checks failed; SKIP("reason") ends a case as skipped (only
 * for missing hardware or an uninstallable package, and the reason is printed). The summary line
 * "NAME: N passed, N failed, N skipped" is what tests/run.sh adds up. */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed, t_skipped, t_case_failed;
static jmp_buf t_skip_jmp;
static const char *t_current;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "  FAIL %s:%d in %s: %s\n", __FILE__, __LINE__, t_current, #cond); \
            t_case_failed = 1;                                                             \
        }                                                                                  \
    } while (0)
#define CHECKF(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "  FAIL %s:%d in %s: %s: ", __FILE__, __LINE__, t_current, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            t_case_failed = 1;                                                             \
        }                                                                                  \
    } while (0)
#define CHECK_NEAR(a, b, tol) \
    CHECKF(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %g)", (double)(a), (double)(b), (double)(tol))
#define SKIP(reason)                                                 \
    do {                                                             \
        fprintf(stderr, "  skipped %s: %s\n", t_current, reason);    \
        longjmp(t_skip_jmp, 1);                                      \
    } while (0)
#define RUN(fn) test_run(#fn, fn)

static void test_run(const char *name, void (*fn)(void)) {
    t_current = name;
    t_case_failed = 0;
    if (setjmp(t_skip_jmp)) {
        t_skipped++;
        return;
    }
    fn();
    if (t_case_failed) {
        t_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        t_passed++;
    }
}

static int test_summary(const char *prog) {
    printf("%s: %d passed, %d failed, %d skipped\n", prog, t_passed, t_failed, t_skipped);
    return t_failed ? 1 : 0;
}

/* A fresh scratch directory under $TMPDIR (or /tmp); aborts on failure. */
__attribute__((unused)) static const char *test_tmpdir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/swaplab-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) { perror("mkdtemp"); abort(); }
    }
    return dir;
}

#endif
