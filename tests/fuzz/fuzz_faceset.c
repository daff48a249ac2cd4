/* fuzz_faceset.c — libFuzzer harness: data/faceset.h faceset_load on an arbitrary faces.jsonl in a
 * face set that holds one real 64x64 aligned face (aligned/000000.png) and its frame
 * (frames/000000.png), so the seeds' records pass and mutations reach every field's check. A run
 * of 64 'a' in the input is replaced by the aligned face's SHA-256, which the seeds use. */
#include "data/faceset.h"
#include "tests/fuzz/fuzz.h"
#include "util/crypto.h"
#include "util/fs.h"

static char g_set[400], g_sha[65];

static void make_set(void) {
    snprintf(g_set, sizeof g_set, "%s/set", fuzz_dir());
    char p[600];
    SlErr err;
    snprintf(p, sizeof p, "%s/aligned", g_set);
    if (sl_mkdirs(p, &err)) abort();
    snprintf(p, sizeof p, "%s/frames", g_set);
    if (sl_mkdirs(p, &err)) abort();
    Image a = image_new(64, 64, 3), f = image_new(128, 128, 3);
    for (size_t i = 0; i < (size_t)64 * 64 * 3; i++) a.px[i] = (uint8_t)(i * 7);
    snprintf(p, sizeof p, "%s/aligned/000000.png", g_set);
    if (image_save_png(p, &a, NULL, 0, &err)) abort();
    snprintf(p, sizeof p, "%s/frames/000000.png", g_set);
    if (image_save_png(p, &f, NULL, 0, &err)) abort();
    image_free(&a);
    image_free(&f);
    snprintf(p, sizeof p, "%s/aligned/000000.png", g_set);
    if (sl_sha256_file(p, g_sha, &err)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_set[0]) make_set();
    uint8_t *in = malloc(size + 1);
    if (!in) abort();
    memcpy(in, data, size);
    for (size_t i = 0; i + 64 <= size; i++) {
        size_t k = 0;
        while (k < 64 && in[i + k] == 'a') k++;
        if (k == 64) memcpy(in + i, g_sha, 64), i += 63;
    }
    fuzz_write("set/faces.jsonl", in, size);
    free(in);
    FaceSet fs;
    SlErr err;
    if (faceset_load(g_set, &fs, &err) == 0) {
        if (fs.n < 0 || (fs.n > 0 && !fs.faces)) abort();
        for (int i = 0; i < fs.n; i++) {
            char p[8192];
            faceset_face_path(&fs, i, p, sizeof p);
            faceset_source_path(&fs, i, p, sizeof p);
        }
        faceset_free(&fs);
    }
    return 0;
}
