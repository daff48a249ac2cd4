/* lock.h — one writer per output: an exclusive flock(2) on a lock file inside the output directory
 * (a training run, a swap folder, a dataset, the transparency ledger), so a second run into the
 * same place fails at once with a message saying who holds it, instead of interleaving files.
 *
 *     SlLock lk;
 *     if (sl_lock_dir(&lk, run_dir, "swaplab train", &err)) return -1;  // "RUN is in use: ..."
 *     ...write the run...
 *     sl_unlock(&lk);
 *
 * The lock file (SL_LOCK_NAME) records the holder as one JSON line: pid, host, command and start
 * time (UTC). The kernel drops a flock when its process dies (kill -9 included), so the lock of a
 * dead process is simply taken over; its record is then replaced. The descriptor is close-on-exec
 * (children do not inherit the lock). A file system without flock (some network mounts) is
 * reported as an error naming the path, never silently unlocked. */
#ifndef SL_LOCK_H
#define SL_LOCK_H

#include "util/util.h"

#define SL_LOCK_NAME ".swaplab.lock"

typedef struct {
    int fd;           /* -1 when not held */
    char path[SL_PATH_MAX];  /* the lock file */
} SlLock;

/* Locks dir (which must exist) through dir/SL_LOCK_NAME. what: the command, e.g. "swaplab swap".
 * Returns 0 with the lock held, or -1 with err: "DIR is in use by swaplab train (pid 4242 on host
 * lab-07, since 2026-12-03T09:12:44Z); wait for it to finish or choose another output". */
int sl_lock_dir(SlLock *l, const char *dir, const char *what, SlErr *err);
/* The same for a lock file at an explicit path (e.g. LEDGER.lock next to a ledger file). */
int sl_lock_file(SlLock *l, const char *lock_path, const char *what, SlErr *err);
/* Releases the lock and removes the lock file. Harmless on a lock not held. */
void sl_unlock(SlLock *l);

#endif
