/* test_heatmap.c — occlusion heatmaps: a toy scorer that only looks at one region gives a map that
 * peaks there and is zero elsewhere; every pixel is covered; the overlay keeps unimportant pixels,
 * colours the region and round-trips through PNG; the spectral detector plugs in as a scorer. */
#include "detect/heatmap.h"
#include "detect/spectral.h"
#include "detect/toy.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

typedef struct {
    int h, w, y0, x0, size;
    int calls;
} RegionScorer;

/* "Fake" probability from the mean of channel 1 inside one square region only. */
static float region_score(const float *chw, void *ctx) {
    RegionScorer *r = ctx;
    r->calls++;
    const float *plane = chw + (size_t)r->h * r->w;
    double s = 0;
    for (int y = r->y0; y < r->y0 + r->size; y++)
        for (int x = r->x0; x < r->x0 + r->size; x++) s += plane[y * r->w + x];
    s /= r->size * r->size;
    return (float)(1 / (1 + exp(-10 * (s - 0.5))));
}

static void t_region_peak(void) {
    SlRng rng;
    sl_rng_seed(&rng, 1234);
    int H = 48, W = 64;
    RegionScorer r = {H, W, 8 + sl_rng_int(&rng, 20), 8 + sl_rng_int(&rng, 40), 8, 0};
    float *chw = xmalloc((size_t)3 * H * W * sizeof *chw);
    for (int i = 0; i < 3 * H * W; i++) chw[i] = sl_rng_uniform(&rng);
    for (int y = r.y0; y < r.y0 + r.size; y++) /* the region is bright: the scorer says "fake" */
        for (int x = r.x0; x < r.x0 + r.size; x++) chw[(size_t)H * W + y * W + x] = 0.8f + 0.2f * sl_rng_uniform(&rng);
    float *heat = xmalloc((size_t)H * W * sizeof *heat);
    HeatmapOpts o = {8, 4, 0.5f};
    float base = heatmap_occlusion(chw, 3, H, W, region_score, &r, &o, heat);
    CHECK(base > 0.9f);
    CHECK(r.calls == 1 + 11 * 15); /* positions 0,4,..,40 (11) x 0,4,..,56 (15) */
    int arg = 0;
    for (int i = 1; i < H * W; i++)
        if (heat[i] > heat[arg]) arg = i;
    int ay = arg / W, ax = arg % W;
    CHECKF(ay >= r.y0 && ay < r.y0 + r.size && ax >= r.x0 && ax < r.x0 + r.size, "peak at (%d,%d), region at (%d,%d)", ay,
           ax, r.y0, r.x0);
    CHECKF(heat[arg] > 0.1f, "peak %g", heat[arg]);
    /* patches that do not touch the region change nothing: pixels farther than a patch are 0 */
    int zero_far = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (y < r.y0 - 8 || y >= r.y0 + r.size + 8 || x < r.x0 - 8 || x >= r.x0 + r.size + 8) zero_far &= heat[y * W + x] == 0;
    CHECK(zero_far);
    /* the input is not modified */
    int bright = 1;
    for (int y = r.y0; y < r.y0 + r.size; y++)
        for (int x = r.x0; x < r.x0 + r.size; x++) bright &= chw[(size_t)H * W + y * W + x] >= 0.8f;
    CHECK(bright);
    /* a stride that does not divide the size still covers the far edge */
    RegionScorer edge = {H, W, H - 8, W - 8, 8, 0};
    for (int y = H - 8; y < H; y++)
        for (int x = W - 8; x < W; x++) chw[(size_t)H * W + y * W + x] = 1.0f;
    HeatmapOpts o2 = {7, 5, 0.0f};
    heatmap_occlusion(chw, 3, H, W, region_score, &edge, &o2, heat);
    CHECK(heat[(H - 1) * W + (W - 1)] > 0.1f);

    /* overlay: region coloured, far pixels untouched; PNG round trip */
    Image img = image_new(W, H, 3);
    for (int i = 0; i < W * H; i++)
        for (int k = 0; k < 3; k++) img.px[i * 3 + k] = (uint8_t)lroundf(255 * chw[(size_t)k * H * W + i]);
    heatmap_occlusion(chw, 3, H, W, region_score, &r, &o, heat);
    Image ov = heatmap_overlay(&img, heat, H, W, 0.6f);
    CHECK(ov.w == W && ov.h == H && ov.c == 3);
    int untouched = 1, nzero = 0;
    for (int i = 0; i < W * H; i++)
        if (heat[i] == 0) nzero++, untouched &= !memcmp(ov.px + i * 3, img.px + i * 3, 3);
    CHECK(nzero > W * H / 2 && untouched);
    uint8_t top[3];
    heatmap_color(1, top);
    const uint8_t *pk = ov.px + (size_t)arg * 3, *src = img.px + (size_t)arg * 3;
    int expect_ok = 1;
    for (int k = 0; k < 3; k++) expect_ok &= abs((int)pk[k] - (int)lroundf(0.4f * src[k] + 0.6f * top[k])) <= 1;
    CHECK(expect_ok);
    char path[600];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "heat.png");
    PngText t = {"swaplab.heatmap", "occlusion 8/4"};
    CHECK(heatmap_save_png(path, &img, heat, H, W, 0.6f, &t, 1, &err) == 0);
    Image back;
    CHECK(image_load(path, 3, &back, &err) == 0);
    CHECK(back.w == W && back.h == H && !memcmp(back.px, ov.px, (size_t)W * H * 3));
    image_free(&back);
    /* a half-resolution map is resampled to the image */
    float small[24 * 32];
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 32; x++) small[y * 32 + x] = heat[(2 * y) * W + 2 * x];
    Image ov2 = heatmap_overlay(&img, small, 24, 32, 0.6f);
    CHECK(ov2.w == W && ov2.h == H);
    image_free(&ov2);
    image_free(&ov);
    image_free(&img);
    free(chw), free(heat);
}

static void t_colormap(void) {
    uint8_t a[3], b[3], c[3];
    heatmap_color(0, a), heatmap_color(1, b), heatmap_color(2, c);
    CHECK(a[0] == 68 && a[2] == 84 && b[0] == 253 && b[1] == 231);
    CHECK(!memcmp(b, c, 3));
    /* brightness (R+G+B) increases along the map */
    int prev = -1, mono = 1;
    for (int i = 0; i <= 20; i++) {
        heatmap_color(i / 20.0f, a);
        int s = a[0] + a[1] + a[2];
        mono &= s > prev;
        prev = s;
    }
    CHECK(mono);
}

typedef struct {
    const SpectralDetector *det;
    int h, w;
} SpecCtx;

static float spectral_cb(const float *chw, void *ctx) {
    SpecCtx *s = ctx;
    Image im = image_new(s->w, s->h, 1);
    for (int i = 0; i < s->w * s->h; i++) im.px[i] = (uint8_t)lroundf(fminf(fmaxf(chw[i], 0), 1) * 255);
    float p = spectral_score(s->det, &im);
    image_free(&im);
    return p;
}

/* The spectral detector works through the same callback (a smoke test of the plumbing: the map is
 * finite and the intact score matches a direct call). */
static void t_spectral_scorer(void) {
    SlRng r;
    sl_rng_seed(&r, 77);
    int n = 60;
    float *f = xmalloc((size_t)n * 32 * sizeof *f);
    int *y = xmalloc((size_t)n * sizeof *y);
    for (int i = 0; i < n; i++) {
        Image im = toy_artifact_image(32, 32, 1, i % 2, 3, &r);
        y[i] = i % 2;
        spectral_features(&im, 32, f + (size_t)i * 32);
        image_free(&im);
    }
    SpectralDetector det;
    SlErr err;
    CHECK(spectral_train(&det, f, y, n, 32, NULL, NULL, &err) == 0);
    Image probe = toy_artifact_image(32, 32, 1, 1, 3, &r);
    float *chw = heatmap_image_to_chw(&probe), heat[32 * 32];
    SpecCtx ctx = {&det, 32, 32};
    float base = heatmap_occlusion(chw, 1, 32, 32, spectral_cb, &ctx, NULL, heat);
    CHECK_NEAR(base, spectral_score(&det, &probe), 1e-6);
    int finite = 1;
    for (int i = 0; i < 32 * 32; i++) finite &= isfinite(heat[i]);
    CHECK(finite);
    free(chw), free(f), free(y);
    image_free(&probe);
    spectral_free(&det);
}

int main(void) {
    RUN(t_region_peak);
    RUN(t_colormap);
    RUN(t_spectral_scorer);
    return test_summary("test_heatmap");
}
