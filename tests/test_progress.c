/* test_progress.c — progress lines when stderr is not a terminal (util/progress.h): a line at the
 * start and one at the end of a stage, one per `every` seconds in between, none under SL_QUIET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "util/progress.h"
#include "util/util.h"

/* Runs fn with stderr sent to a file; returns what it wrote (malloc'ed). */
static char *capture(void (*fn)(void)) {
    char path[600];
    snprintf(path, sizeof path, "%s/err.txt", test_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    if (!f || saved < 0 || dup2(fileno(f), 2) < 0) abort();
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    return s;
}

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void quick_stage(void) {
    SlProgress p;
    sl_progress_begin(&p, "load", 1000);
    for (long i = 1; i <= 1000; i++) sl_progress_update(&p, i, NULL);
    sl_progress_end(&p, "1000 faces");
}

static void slow_stage(void) {
    SlProgress p;
    sl_progress_begin(&p, "train", 0);
    p.every = 0.05; /* a minute, scaled down */
    for (long i = 1; i <= 12; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        sl_progress_update(&p, i, "loss 0.1");
    }
    sl_progress_end(&p, NULL);
}

static void t_quick_stage_two_lines(void) {
    unsetenv("SL_QUIET");
    char *s = capture(quick_stage);
    CHECKF(lines(s) == 2, "%d lines:\n%s", lines(s), s);
    CHECK(!strncmp(s, "load: started, 1000 to do\n", 26));
    CHECK(strstr(s, "1000/1000") && strstr(s, "1000 faces") && !strchr(s, '\r'));
    free(s);
}

static void t_long_stage_line_per_interval(void) {
    unsetenv("SL_QUIET");
    char *s = capture(slow_stage);
    /* 12 updates 20 ms apart with a line every 50 ms: start + about 4 + end */
    int n = lines(s);
    CHECKF(n >= 4 && n <= 8, "%d lines:\n%s", n, s);
    CHECK(!strncmp(s, "train: started\n", 15) && strstr(s, "loss 0.1"));
    CHECK(SL_PROGRESS_LOG_EVERY == 60.0);
    free(s);
}

static void t_quiet(void) {
    setenv("SL_QUIET", "1", 1);
    char *s = capture(quick_stage);
    CHECK(s[0] == 0);
    free(s);
}

int main(void) {
    RUN(t_quick_stage_two_lines);
    RUN(t_long_stage_line_per_interval);
    RUN(t_quiet);
    return test_summary("test_progress");
}
