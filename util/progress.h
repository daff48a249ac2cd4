/* progress.h — the progress line of long work: "label [#####.....] 42/100 12.3/s ETA 0:05 extra".
 * On a terminal it redraws one line (at most 10 times a second); otherwise it prints a line every
 * 10% so logs stay short. Output goes to stderr; SL_QUIET=1 silences it. */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

typedef struct {
    char label[64];
    long total; /* 0 = unknown */
    long done;
    double t0, last_draw;
    int tty, quiet, last_decile;
} SlProgress;

void sl_progress_begin(SlProgress *p, const char *label, long total);
/* extra (may be NULL) is appended to the line, e.g. "loss 0.0123". */
void sl_progress_update(SlProgress *p, long done, const char *extra);
void sl_progress_end(SlProgress *p, const char *summary);
/* "1:02:03" or "2:03" */
void sl_format_duration(char *out, int n, double seconds);

#endif
