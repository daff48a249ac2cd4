/* fuzz_jumbf.c — libFuzzer harness: a C2PA manifest store (JUMBF boxes, claim CBOR, COSE, X.509)
 * found in PNG (caBX) or JPEG (APP11) bytes, or the input taken as a bare store, is validated
 * (infer/provenance/c2pa.h). Bad input must give a result with a reason, never a crash or a leak.
 * Seeds: tests/fuzz/corpus/jumbf/ (a swaplab PNG and JPEG with manifests, a bare store). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "infer/provenance/c2pa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    C2paResult r;
    c2pa_verify_file_bytes(data, size, NULL, NULL, 0, &r);
    if (r.present && !r.valid && !r.why[0]) __builtin_trap(); /* an invalid store always says why */
    c2pa_verify_store(data, size, data, size, NULL, NULL, 0, &r);
    if (!r.valid && !r.why[0]) __builtin_trap();
    return 0;
}
