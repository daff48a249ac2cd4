/* fuzz_dlib.c — libFuzzer harness: a dlib shape_predictor model (data/landmarks.h lm_parse) and,
 * when it loads, a prediction on a small fixed image, so hostile split features and anchors that
 * parse are also run. */
#include "data/landmarks.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LmModel *m;
    SlErr err;
    if (lm_parse(data, size, "fuzz.dat", &m, &err)) return 0;
    int nc, nt;
    lm_info(m, &nc, &nt);
    int np = lm_num_parts(m);
    if (np < 1 || np > 100000) abort();
    static uint8_t img[40 * 32];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 13);
    double *xy = malloc(sizeof(double) * 2 * (size_t)np);
    if (!xy) abort();
    LmRect box = {4, 3, 30, 25};
    lm_predict(m, img, 40, 32, box, xy);
    free(xy);
    lm_free(m);
    return 0;
}
