/* fuzz_consent.c — libFuzzer harness: the consent gate (data/consent.h consent_check) on an
 * arbitrary consent.json in a face set holding one image (aligned/0000.png, whose SHA-256 the
 * seeds list), checked for every use against an empty revocation list and no lab policy. */
#include "data/consent.h"
#include <jansson.h>

#include "tests/fuzz/fuzz.h"

static char g_set[400], g_rev[400];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_set[0]) {
        static const uint8_t img[] = "\x89PNG\r\n\x1a\n not really a png, hashed only";
        fuzz_write("cset/aligned/0000.png", img, sizeof img - 1);
        snprintf(g_set, sizeof g_set, "%s/cset", fuzz_dir());
        static const char empty[] = "{\"format\": \"swaplab-revocations/1\", \"revoked\": []}";
        snprintf(g_rev, sizeof g_rev, "%s", fuzz_write("revoked.json", (const uint8_t *)empty, sizeof empty - 1));
        setenv("XDG_CONFIG_HOME", fuzz_dir(), 1); /* no per-user policy */
        unsetenv("SWAPLAB_POLICY");
    }
    fuzz_write("cset/consent.json", data, size);
    ConsentOptions o = {.revocations = g_rev, .today = "2026-06-01", .system_policy = "/nonexistent/policy.json"};
    static const char *const uses[] = {"train", "swap", "dataset", "report", NULL};
    for (int u = 0; u < 5; u++) {
        ConsentInfo info;
        ConsentReasons why;
        SlErr err;
        int rc = consent_check(g_set, uses[u], &o, &info, &why, &err);
        if ((rc == 0) != (why.n == 0)) abort();
        consent_reasons_free(&why);
        if (rc == 0 && (!info.subject[0] || strlen(info.digest) != 64)) abort();
    }
    void *root;
    SlErr err;
    if (consent_load(g_set, &root, &err) == 0) {
        char *c = consent_canonical(root);
        free(c);
        json_decref(root);
    }
    return 0;
}
