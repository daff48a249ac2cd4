/* fuzz_haar.c — libFuzzer harness: an OpenCV Haar cascade XML (data/haar.h haar_parse) and, when
 * it loads, a detection on a small fixed grey image, so hostile windows, rectangles and thresholds
 * that parse are also run. */
#include "data/haar.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    HaarCascade *c;
    SlErr err;
    if (haar_parse((const char *)data, size, "fuzz.xml", &c, &err)) return 0;
    int ww, wh, ns, nf;
    haar_info(c, &ww, &wh, &ns, &nf);
    static uint8_t grey[48 * 40];
    for (size_t i = 0; i < sizeof grey; i++) grey[i] = (uint8_t)(i * 31 + (i / 48) * 7);
    HaarParams p = haar_params_default();
    p.min_w = p.min_h = 1;
    p.threads = 1;
    HaarBox *boxes = NULL;
    int n = haar_detect(c, grey, 48, 40, &p, &boxes);
    if (n < 0) abort();
    free(boxes);
    haar_free(c);
    return 0;
}
