/* fuzz_revocations.c — libFuzzer harness: the consent revocation list and the lab policy
 * (data/consent.h): the first byte chooses which reader gets the rest — consent_revocations_load
 * (with its signature check) and the lookups, or consent_policy_load. */
#include "data/consent.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    SlErr err;
    if (data[0] & 1) {
        const char *p = fuzz_write("policy.json", data + 1, size - 1);
        ConsentPolicy pol;
        if (consent_policy_load(p, &pol, &err) == 0) {
            if (pol.nkeys < 1 || pol.nkeys > CONSENT_POLICY_MAX_KEYS) abort();
            (void)consent_policy_key(&pol, pol.pk[0]);
        }
        return 0;
    }
    const char *p = fuzz_write("revoked.json", data + 1, size - 1);
    ConsentRevocations r;
    if (consent_revocations_load(p, &r, &err) == 0) {
        for (int i = 0; i < r.n; i++) {
            if (!r.v[i].subject || !r.v[i].sha256 || !r.v[i].date || !r.v[i].reason) abort();
            if (*r.v[i].subject && consent_revocations_find(&r, r.v[i].subject) == NULL) abort();
            if (*r.v[i].sha256 && consent_revocations_find_digest(&r, r.v[i].sha256) == NULL) abort();
        }
        consent_revocations_free(&r);
    }
    return 0;
}
