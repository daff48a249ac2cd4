/* progress.h — the progress line of long work: "label [#####.....] 42/100 12.3/s ETA 0:05 extra".
 * On a terminal it redraws one line (at most 10 times a second). Otherwise (a log file, a pipe) it
 * prints a line when the stage starts, a line a minute while it runs (SlProgress.every) and a line
 * when it ends, so a log holds two lines for a quick stage. Output goes to stderr; `--quiet` on any
 * command (or SL_QUIET=1 in the environment) silences it. */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#define SL_PROGRESS_LOG_EVERY 60.0 /* seconds between lines when stderr is not a terminal */

typedef struct {
    char label[64];
    long total; /* 0 = unknown */
    long done;
    double t0, last_draw;
    double every; /* seconds between lines when not on a terminal (SL_PROGRESS_LOG_EVERY) */
    int tty, quiet;
} SlProgress;

void sl_progress_begin(SlProgress *p, const char *label, long total);
/* extra (may be NULL) is appended to the line, e.g. "loss 0.0123". */
void sl_progress_update(SlProgress *p, long done, const char *extra);
void sl_progress_end(SlProgress *p, const char *summary);
/* "1:02:03" or "2:03" */
void sl_format_duration(char *out, int n, double seconds);

#endif
