/* detector.c — loading and running any detector model file (detector.h). */
#include "detect/detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/heatmap.h"
#include "nn/safetensors.h"
#include "util/crypto.h"

int det_model_load(const char *path, int nthreads, DetModel *m, SlErr *err) {
    memset(m, 0, sizeof *m);
    StFile *f = st_open(path, err);
    if (!f) return -1;
    const char *arch = st_meta(f, "arch");
    int kind = arch && !strcmp(arch, "durall2019-spectral-lr") ? DET_SPECTRAL : arch && !strcmp(arch, "meso4") ? DET_MESO4 : 0;
    char archbuf[64];
    snprintf(archbuf, sizeof archbuf, "%s", arch ? arch : "missing");
    st_close(f);
    if (!kind)
        return sl_fail(err, "%s: not a detector model (metadata arch '%s'; expected durall2019-spectral-lr or meso4)", path,
                       archbuf);
    int rc = kind == DET_SPECTRAL ? spectral_load(path, &m->spectral, err) : meso4_load(path, &m->meso, err);
    if (rc) return -1;
    m->kind = kind;
    nn_ctx_init(&m->ctx, nthreads, 0);
    if (sl_sha256_file(path, m->sha256, err)) {
        det_model_free(m);
        return -1;
    }
    return 0;
}

void det_model_free(DetModel *m) {
    if (m->kind == DET_SPECTRAL) spectral_free(&m->spectral);
    if (m->kind == DET_MESO4) meso4_free(&m->meso);
    memset(m, 0, sizeof *m);
}

const char *det_model_arch(const DetModel *m) {
    return m->kind == DET_SPECTRAL ? "durall2019-spectral-lr" : "meso4";
}

float det_model_score(DetModel *m, const Image *img) {
    if (m->kind == DET_SPECTRAL) return spectral_score(&m->spectral, img);
    return meso4_score_image(&m->meso, &m->ctx, img);
}

typedef struct {
    const SpectralDetector *det;
    int h, w;
} SpecHeat;

static float spectral_heat_score(const float *chw, void *ctx) {
    SpecHeat *s = ctx;
    size_t n = (size_t)s->w * s->h;
    Image im = image_new(s->w, s->h, 3);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < n; i++) im.px[i * 3 + k] = (uint8_t)lroundf(fminf(fmaxf(chw[k * n + i], 0), 1) * 255);
    float p = spectral_score(s->det, &im);
    image_free(&im);
    return p;
}

float *det_model_heatmap(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw) {
    HeatmapOpts o = {patch, stride, 0.5f};
    if (m->kind == DET_SPECTRAL) {
        Image rgb = image_new(img->w, img->h, 3);
        for (size_t i = 0; i < (size_t)img->w * img->h; i++)
            for (int k = 0; k < 3; k++) rgb.px[i * 3 + k] = img->px[i * img->c + (img->c >= 3 ? k : 0)];
        float *chw = heatmap_image_to_chw(&rgb), *heat = xmalloc((size_t)img->w * img->h * sizeof *heat);
        SpecHeat ctx = {&m->spectral, img->h, img->w};
        heatmap_occlusion(chw, 3, img->h, img->w, spectral_heat_score, &ctx, &o, heat);
        free(chw);
        image_free(&rgb);
        *hh = img->h, *hw = img->w;
        return heat;
    }
    int s = m->meso.size;
    float *chw = xmalloc((size_t)3 * s * s * sizeof *chw), *heat = xmalloc((size_t)s * s * sizeof *heat);
    meso4_input(img, s, chw);
    Meso4HeatCtx ctx = {&m->meso, &m->ctx};
    heatmap_occlusion(chw, 3, s, s, meso4_heatmap_score, &ctx, &o, heat);
    free(chw);
    *hh = *hw = s;
    return heat;
}
