/* fuzz.h — helpers for the libFuzzer harnesses tests/fuzz/fuzz_*.c (docs/ARCHITECTURE.md, "Fuzzing"):
 * a scratch directory made once per process (in /dev/shm when there is one: the parsers that read
 * a folder get their input written there) and a file writer that aborts on a system failure. */
#ifndef SL_FUZZ_H
#define SL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/swaplab-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir)) abort();
        setenv("SL_QUIET", "1", 1);
    }
    return dir;
}

/* Writes data to dir/name (name may contain folders, created); returns the path. */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t len) {
    static char path[512];
    size_t base = strlen(fuzz_dir());
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    for (char *p = path + base + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (access(path, F_OK) != 0 && mkdir(path, 0755) != 0) abort();
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len && fwrite(data, 1, len, f) != len) abort();
    if (fclose(f) != 0) abort();
    return path;
}

#endif
