/* fuzz_state.c — libFuzzer harness: a training run's state.json (train/config.h train_state_parse)
 * on arbitrary bytes. A refusal must say why; an accepted state must have every field in range and
 * terminated, and must survive train_state_dump -> train_state_parse unchanged (the writer and the
 * reader agree on everything the parser lets through). */
#include <math.h>

#include "train/config.h"

#include "tests/fuzz/fuzz.h"

static int terminated(const char *s, size_t n) { return memchr(s, 0, n) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static TrainState st, back; /* ~150 KB each: static, not on the stack */
    SlErr err;
    err.msg[0] = 0;
    if (train_state_parse((const char *)data, size, "state.json", &st, &err)) {
        if (!err.msg[0]) abort(); /* a refusal names its reason */
        return 0;
    }
    if (st.format < 1 || st.format > TRAIN_STATE_FORMAT_VERSION || st.step < 0 || st.step > TRAIN_STATE_MAX_STEP ||
        st.nids < 2 || st.nids > SWAP_MAX_IDS || !isfinite(st.train_seconds) || st.train_seconds < 0 || st.ranks < 1 ||
        st.cfg.batch < 1 || !(st.cfg.lr > 0) || !isfinite(st.cfg.warp))
        abort();
    if (!terminated(st.model, sizeof st.model) || !terminated(st.optimizer, sizeof st.optimizer) ||
        !terminated(st.cfg.preset, sizeof st.cfg.preset) || !terminated(st.saved, sizeof st.saved) ||
        !terminated(st.version, sizeof st.version))
        abort();
    for (int i = 0; i < st.nids; i++)
        if (!terminated(st.facesets[i], sizeof st.facesets[i]) || !st.facesets[i][0] ||
            !terminated(st.subjects[i], sizeof st.subjects[i]) || !st.subjects[i][0] ||
            (st.has_digests && strlen(st.digests[i]) != 64))
            abort();
    char *text = train_state_dump(&st);
    if (train_state_parse(text, strlen(text), "dumped", &back, &err)) {
        fprintf(stderr, "dumped state refused: %s\n%s\n", err.msg, text);
        abort();
    }
    if (memcmp(&st, &back, sizeof st)) {
        fprintf(stderr, "dumped state reads back differently:\n%s\n", text);
        abort();
    }
    free(text);
    return 0;
}
