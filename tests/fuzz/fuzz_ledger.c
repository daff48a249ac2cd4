/* fuzz_ledger.c — libFuzzer harness for the transparency log's readers (infer/ledger.h): the input
 * as an inclusion proof (JSON), as a signed tree head, and as the two log files of a folder loaded
 * and audited. Bad input must be an error with a reason, never a crash. Seeds:
 * tests/fuzz/corpus/ledger/ (a proof, a head, an entries/sth pair separated by a NUL byte). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer/ledger.h"

static void put(const char *path, const uint8_t *d, size_t n) { /* no fsync: a fuzzer needs speed */
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(d, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    char why[300];
    if (ledger_check_proof(text, NULL, NULL, why, sizeof why) && !why[0]) __builtin_trap();
    LedgerSth s;
    ledger_sth_parse(text, &s);
    /* the folder: entries.log before the first NUL byte, sth.log after it */
    char dir[] = "/tmp/fuzz-ledger-XXXXXX", p[64];
    if (mkdtemp(dir)) {
        size_t cut = strlen(text);
        SlErr err;
        snprintf(p, sizeof p, "%s/entries.log", dir);
        put(p, data, cut);
        snprintf(p, sizeof p, "%s/sth.log", dir);
        put(p, cut < size ? data + cut + 1 : data, cut < size ? size - cut - 1 : 0);
        Ledger lg;
        if (ledger_load(dir, &lg, &err) == 0) {
            ledger_audit(&lg, NULL, why, sizeof why);
            ledger_free(&lg);
        }
        snprintf(p, sizeof p, "%s/entries.log", dir), unlink(p);
        snprintf(p, sizeof p, "%s/sth.log", dir), unlink(p);
        rmdir(dir);
    }
    free(text);
    return 0;
}
