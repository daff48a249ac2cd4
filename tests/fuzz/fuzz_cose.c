/* fuzz_cose.c — libFuzzer harness: COSE_Sign1 bytes (CBOR, protected header, x5chain DER
 * certificates through OpenSSL) checked over a fixed payload (infer/provenance/cose.h). Bad input
 * must give a result with a reason, never a crash. Seeds: tests/fuzz/corpus/cose/ (a swaplab claim
 * signature). */
#include <stddef.h>
#include <stdint.h>

#include "infer/provenance/cose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t payload[] = "claim";
    CoseResult r;
    cose_verify1(data, size, payload, sizeof payload - 1, NULL, NULL, 0, &r);
    if (!r.sig_valid && !r.why[0]) __builtin_trap();
    return 0;
}
