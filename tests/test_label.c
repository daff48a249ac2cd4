/* test_label.c — the visible label (infer/label.h): the stamp made once per size draws exactly
 * label_draw's pixels, only inside label_box, and label_detect finds it. */
#include "infer/label.h"

#include <string.h>

#include "tests/test.h"
#include "util/rng.h"

static Image noise_image(SlRng *r, int w, int h, int c) {
    Image im = image_new(w, h, c);
    for (size_t i = 0; i < (size_t)w * h * c; i++) im.px[i] = (uint8_t)(sl_rng_u64(r) >> 56);
    return im;
}

static void t_stamp_matches_draw(void) {
    SlRng r;
    sl_rng_seed(&r, 3);
    const int sizes[][3] = {{640, 360, 3}, {1280, 720, 3}, {96, 64, 3}, {200, 100, 1}, {128, 96, 4}, {40, 30, 3}};
    for (int i = 0; i < 6; i++) {
        int w = sizes[i][0], h = sizes[i][1], c = sizes[i][2];
        LabelStamp s;
        label_stamp_init(&s, w, h);
        LabelBox b = label_box(w, h);
        CHECK(s.box.x == b.x && s.box.y == b.y && s.box.w == b.w && s.box.h == b.h);
        for (int f = 0; f < 2; f++) { /* one stamp, several frames */
            Image im = noise_image(&r, w, h, c), a = image_clone(&im), d = image_clone(&im);
            label_draw(&a);
            label_stamp_draw(&s, &d);
            CHECKF(memcmp(a.px, d.px, (size_t)w * h * c) == 0, "%dx%dx%d frame %d", w, h, c, f);
            size_t changed = 0, outside = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int k = 0; k < c; k++) {
                        size_t q = ((size_t)y * w + x) * c + k;
                        int in = x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h;
                        changed += d.px[q] != im.px[q];
                        outside += !in && d.px[q] != im.px[q];
                    }
            CHECK(changed > 0);
            CHECK(outside == 0);
            if (c == 3 && w >= 96) CHECKF(label_detect(&d, NULL), "%dx%d", w, h);
            image_free(&im), image_free(&a), image_free(&d);
        }
        label_stamp_free(&s);
        CHECK(s.cover == NULL);
    }
}

int main(void) {
    (void)test_tmpdir; /* this program writes no files */
    RUN(t_stamp_matches_draw);
    return test_summary("test_label");
}
