/* omp_env.c — OpenMP threads that sleep instead of spinning while they wait. The training step
 * shares the cores with data-loader threads (and, on a student's laptop, with everything else);
 * spinning waiters steal that time: measured 1.6x faster training on a busy 2-core machine
 * (docs/PERFORMANCE.md), with identical results. libgomp reads OMP_WAIT_POLICY once, in a load-time
 * constructor, so the only way to set it from inside is to start again with it set. */
#include <stdlib.h>
#include <unistd.h>

#include "cli/commands.h"

void sl_prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return; /* the user's choice, or we already re-executed */
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the default policy */
}
