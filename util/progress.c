/* progress.c — progress bars on stderr (see progress.h). */
#include "util/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

void sl_format_duration(char *out, int n, double s) {
    if (s < 0 || s != s) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, (size_t)n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(out, (size_t)n, "%ld:%02ld", t / 60, t % 60);
}

void sl_progress_begin(SlProgress *p, const char *label, long total) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->t0 = sl_now();
    p->tty = isatty(2);
    const char *q = getenv("SL_QUIET");
    p->quiet = q && *q && strcmp(q, "0") != 0;
    p->every = SL_PROGRESS_LOG_EVERY;
    p->last_draw = p->t0;
    if (!p->quiet && !p->tty) {
        if (total > 0) fprintf(stderr, "%s: started, %ld to do\n", p->label, total);
        else fprintf(stderr, "%s: started\n", p->label);
        fflush(stderr);
    }
}

static void draw(SlProgress *p, const char *extra, int final) {
    double el = sl_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32] = "";
    if (p->total > 0 && rate > 0 && !final)
        sl_format_duration(eta, sizeof eta, (double)(p->total - p->done) / rate);
    char bar[32] = "";
    if (p->total > 0) {
        int w = 20, k = (int)((double)w * (double)p->done / (double)p->total);
        if (k > w) k = w;
        bar[0] = '[';
        for (int i = 0; i < w; i++) bar[1 + i] = i < k ? '#' : '.';
        bar[w + 1] = ']';
        bar[w + 2] = 0;
    }
    char elapsed[32];
    sl_format_duration(elapsed, sizeof elapsed, el);
    if (p->total > 0)
        fprintf(stderr, "%s%s %s %ld/%ld %.1f/s %s%s%s%s", p->tty ? "\r\033[K" : "", p->label, bar,
                p->done, p->total, rate, final ? "in " : (eta[0] ? "ETA " : ""),
                final ? elapsed : eta, extra ? "  " : "", extra ? extra : "");
    else
        fprintf(stderr, "%s%s %ld %.1f/s %s%s%s", p->tty ? "\r\033[K" : "", p->label, p->done, rate,
                elapsed, extra ? "  " : "", extra ? extra : "");
    if (!p->tty || final) fputc('\n', stderr);
    fflush(stderr);
}

void sl_progress_update(SlProgress *p, long done, const char *extra) {
    p->done = done;
    if (p->quiet) return;
    double now = sl_now();
    if (now - p->last_draw < (p->tty ? 0.1 : p->every)) return;
    p->last_draw = now;
    draw(p, extra, 0);
}

void sl_progress_end(SlProgress *p, const char *summary) {
    if (p->quiet) return;
    draw(p, summary, 1);
}
