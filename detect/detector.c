/* detector.c — the registry of detector kinds and the model handle (detector.h). */
#include "detect/detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/heatmap.h"
#include "detect/meso.h"
#include "detect/resnet.h"
#include "nn/safetensors.h"
#include "util/crypto.h"

/* ---- the spectral baseline ------------------------------------------------------------------- */

static int spec_load(DetModel *m, const char *path, SlErr *err) {
    return spectral_load(path, &m->spectral, err);
}
static float spec_logit(DetModel *m, const Image *img) {
    return spectral_logit(&m->spectral, img);
}
static void spec_free(DetModel *m) {
    spectral_free(&m->spectral);
}
static int spec_save(const DetModel *m, const char *path, const char *const *meta, SlErr *err) {
    return spectral_save_meta(path, &m->spectral, meta, err);
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

static float *spec_heatmap(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw) {
    HeatmapOpts o = {patch, stride, 0.5f};
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

/* ---- every CNN (detect/cnn.h) ----------------------------------------------------------------- */

static int cnn_load(DetModel *m, const char *path, SlErr *err) {
    return detcnn_load(path, m->kind->cnn, &m->cnn, err);
}
static float cnn_logit(DetModel *m, const Image *img) {
    return detcnn_logit_image(&m->cnn, &m->ctx, img);
}
static void cnn_free(DetModel *m) {
    detcnn_free(&m->cnn);
}
static int cnn_save(const DetModel *m, const char *path, const char *const *meta, SlErr *err) {
    return detcnn_save(path, &m->cnn, meta, err);
}
static float *cnn_heatmap(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw) {
    HeatmapOpts o = {patch, stride, 0.5f};
    int s = m->cnn.size;
    float *chw = xmalloc((size_t)3 * s * s * sizeof *chw), *heat = xmalloc((size_t)s * s * sizeof *heat);
    detcnn_input(img, s, chw);
    DetCnnHeatCtx ctx = {&m->cnn, &m->ctx};
    heatmap_occlusion(chw, 3, s, s, detcnn_heatmap_score, &ctx, &o, heat);
    free(chw);
    *hh = *hw = s;
    return heat;
}

#define CNN_KIND(NAME, ARCH, ABOUT) {NAME, NAME, NULL, ABOUT, &ARCH, cnn_load, cnn_logit, cnn_heatmap, cnn_save, cnn_free}

/* The registry. A new detector: one file, one row. */
static const DetKind KINDS[] = {
    {"spectral", "durall2019-spectral-lr", "spectral", "log spectrum + logistic regression (Durall et al. 2019)", NULL,
     spec_load, spec_logit, spec_heatmap, spec_save, spec_free},
    CNN_KIND("meso4", DETCNN_MESO4, "Meso-4 (Afchar et al. 2018), 28k parameters"),
    CNN_KIND("mesoinception4", DETCNN_MESOINCEPTION4, "MesoInception-4 (Afchar et al. 2018), inception blocks"),
    CNN_KIND("resnet10", DETCNN_RESNET10, "a small residual net (He et al. 2016), 10 weight layers"),
};
enum { N_KINDS = sizeof KINDS / sizeof KINDS[0] };

int det_kind_count(void) {
    return N_KINDS;
}
const DetKind *det_kind_at(int i) {
    SL_ASSERT(i >= 0 && i < N_KINDS);
    return &KINDS[i];
}
const DetKind *det_kind_by_name(const char *name) {
    for (int i = 0; name && i < N_KINDS; i++)
        if (!strcmp(KINDS[i].name, name)) return &KINDS[i];
    return NULL;
}
const DetKind *det_kind_by_arch(const char *arch) {
    for (int i = 0; arch && i < N_KINDS; i++)
        if (!strcmp(KINDS[i].arch, arch)) return &KINDS[i];
    return NULL;
}
static const char *kind_title(const DetKind *k) {
    return k->cnn ? k->cnn->title : k->title;
}
void det_kind_names(char *buf, size_t n) {
    size_t l = 0;
    buf[0] = 0;
    for (int i = 0; i < N_KINDS && l < n; i++) l += (size_t)snprintf(buf + l, n - l, "%s%s", i ? ", " : "", KINDS[i].name);
}

/* ---- the handle ------------------------------------------------------------------------------- */

int det_model_load(const char *path, int nthreads, const DetKind *want, DetModel *m, SlErr *err) {
    memset(m, 0, sizeof *m);
    StFile *f = st_open(path, err);
    if (!f) return -1;
    const char *arch = st_meta(f, "arch"), *cal = st_meta(f, "calibration");
    const DetKind *k = det_kind_by_arch(arch);
    char archbuf[64], names[256];
    snprintf(archbuf, sizeof archbuf, "%s", arch ? arch : "missing");
    det_kind_names(names, sizeof names);
    int rc = 0;
    if (!k) rc = sl_fail(err, "%s: not a detector model (metadata arch '%s'; the detectors are %s)", path, archbuf, names);
    else if (want && k != want)
        rc = sl_fail(err, "%s is a %s model (arch %s), not %s: give a %s file or the method that made it", path,
                     kind_title(k), k->arch, kind_title(want), want->name);
    else if (cal && calib_from_json(cal, path, &m->calib, err))
        rc = -1;
    st_close(f);
    if (rc) return -1;
    m->kind = k;
    if (k->load(m, path, err)) {
        memset(m, 0, sizeof *m);
        return -1;
    }
    nn_ctx_init(&m->ctx, nthreads, 0);
    if (sl_sha256_file(path, m->sha256, err)) {
        det_model_free(m);
        return -1;
    }
    return 0;
}

void det_model_free(DetModel *m) {
    if (m->kind) m->kind->free(m);
    memset(m, 0, sizeof *m);
}

const char *det_model_arch(const DetModel *m) {
    return m->kind->arch;
}

int det_model_input_side(const DetModel *m) {
    return m->kind->cnn ? m->cnn.size : 0;
}

float det_model_logit(DetModel *m, const Image *img) {
    return m->kind->logit(m, img);
}

float det_model_score(DetModel *m, const Image *img) {
    return detcnn_sigmoid(det_model_logit(m, img));
}

double det_model_prob(const DetModel *m, double logit) {
    return calib_prob(&m->calib, logit);
}

int det_model_decide(const DetModel *m, double logit) {
    return calib_decide(&m->calib, logit);
}

float *det_model_heatmap(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw) {
    return m->kind->heatmap(m, img, patch, stride, hh, hw);
}

int det_model_save_calibrated(const DetModel *m, const char *path, const DetCalib *c, SlErr *err) {
    /* keep the file's own metadata (training settings), except what the writer sets and the old calibration */
    static const char *const own[] = {"arch", "input_size", "step", "n_bins", "l2", "format_version", "calibration", NULL};
    StFile *f = st_open(path, err);
    if (!f) return -1;
    int nm = st_meta_count(f), n = 0;
    char **kv = xcalloc((size_t)2 * nm + 3, sizeof *kv);
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        if (st_meta_at(f, i, &k, &v)) continue;
        int skip = 0;
        for (int j = 0; own[j]; j++) skip |= !strcmp(own[j], k);
        if (!skip) kv[n++] = xstrdup(k), kv[n++] = xstrdup(v);
    }
    st_close(f);
    char *cj = c && c->present ? calib_to_json(c) : NULL;
    if (cj) kv[n++] = xstrdup("calibration"), kv[n++] = cj;
    kv[n] = NULL;
    int rc = m->kind->save(m, path, (const char *const *)kv, err);
    for (int i = 0; i < n; i++) free(kv[i]);
    free(kv);
    return rc;
}

int det_scan_file(DetModel *m, const char *image_path, DetVerdict *v, SlErr *err) {
    Image im;
    if (image_load(image_path, 3, &im, err)) return -1;
    v->logit = det_model_logit(m, &im);
    v->prob = det_model_prob(m, v->logit);
    v->fake = det_model_decide(m, v->logit);
    v->calibrated = m->calib.present;
    v->threshold = m->calib.present ? m->calib.threshold : 0;
    image_free(&im);
    return 0;
}
