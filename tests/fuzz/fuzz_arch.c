/* fuzz_arch.c — libFuzzer harness: a model file's architecture record (the swaplab.arch metadata,
 * model/swap_model.h swap_arch_parse, with the learned mask's "mask" key) on arbitrary bytes. A
 * refusal must say why; an accepted architecture must pass swap_arch_check with a legal number of
 * identities, and must read back identically from what swap_model_arch_json writes for it. */
#include "model/swap_model.h"

#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = malloc(size + 1);
    if (!json) abort();
    memcpy(json, data, size);
    json[size] = 0;
    SwapArch a, back;
    int n = 0, n_back = 0;
    SlErr err;
    err.msg[0] = 0;
    if (swap_arch_parse(json, &a, &n, &err)) {
        if (!err.msg[0]) abort(); /* a refusal names its reason */
        free(json);
        return 0;
    }
    if (swap_arch_check(&a, &err) || n < 2 || n > SWAP_MAX_IDS || (a.mask != 0 && a.mask != 1) ||
        !memchr(a.preset, 0, sizeof a.preset))
        abort();
    SwapModel m; /* swap_model_arch_json reads the architecture and the identity count only */
    memset(&m, 0, sizeof m);
    m.arch = a;
    m.n_ids = n;
    char *text = swap_model_arch_json(&m);
    if (swap_arch_parse(text, &back, &n_back, &err)) {
        fprintf(stderr, "written architecture refused: %s\n%s\n", err.msg, text);
        abort();
    }
    if (n_back != n || a.size != back.size || a.nenc != back.nenc || a.ndec != back.ndec || a.dense != back.dense ||
        a.bottleneck != back.bottleneck || a.enc_up != back.enc_up || a.mask != back.mask ||
        strcmp(a.preset, back.preset) || memcmp(a.enc, back.enc, sizeof(int) * (size_t)a.nenc) ||
        memcmp(a.dec, back.dec, sizeof(int) * (size_t)a.ndec)) {
        fprintf(stderr, "written architecture reads back differently:\n%s\n", text);
        abort();
    }
    free(text);
    free(json);
    return 0;
}
