/* fuzz_safetensors.c — libFuzzer harness: nn/safetensors.h st_open_mem on arbitrary bytes, every
 * tensor and metadata entry read back, and the model metadata's identities (train/run.h) parsed. */
#include "nn/safetensors.h"
#include "tests/fuzz/fuzz.h"
#include "model/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    SlErr err;
    StFile *f = st_open_mem(data, size, "fuzz.safetensors", &err);
    if (!f) return 0;
    volatile double sum = 0;
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_at(f, i);
        sum += (double)st_numel(t);
        if (st_find(f, t->name) == NULL) abort();
    }
    for (int i = 0; i < st_meta_count(f); i++) {
        const char *k, *v;
        st_meta_at(f, i, &k, &v);
        sum += strlen(k) + strlen(v);
    }
    const char *ids = st_meta(f, RUN_IDENTITIES_KEY);
    if (ids) {
        RunIdentity r[SWAP_MAX_IDS];
        int n;
        (void)run_identities_parse(ids, r, SWAP_MAX_IDS, &n, &err);
    }
    st_close(f);
    return 0;
}
