/* fuzz_png.c — libFuzzer harness: data/image.h on arbitrary bytes — image_load_mem (PNG through
 * libpng, JPEG through libjpeg-turbo, the rest through stb) keeping and converting channels, and
 * image_read_png_texts (tEXt, zTXt, iTXt chunks) on the same bytes as a file. */
#include "data/image.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    SlErr err;
    Image im;
    for (int c = 0; c <= 3; c += 3)
        if (image_load_mem(data, size, c, &im, "fuzz.png", &err) == 0) {
            if (im.w <= 0 || im.h <= 0 || (im.c != 1 && im.c != 3)) abort();
            image_free(&im);
        }
    const char *p = fuzz_write("in.png", data, size);
    char **keys, **texts;
    int n;
    if (image_read_png_texts(p, &keys, &texts, &n, &err) == 0) {
        volatile size_t sum = 0;
        for (int i = 0; i < n; i++) sum += strlen(keys[i]) + strlen(texts[i]);
        image_free_texts(keys, texts, n);
    }
    return 0;
}
