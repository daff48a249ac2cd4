/* fidelity.c — swap fidelity against the synthetic ground truth, with baselines and identity
 * transfer (see fidelity.h). SSIM: Wang et al. 2004, https://doi.org/10.1109/TIP.2003.819861 */
#include "train/fidelity.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/groundtruth.h"
#include "data/landmarks.h"
#include "nn/device.h"
#include "train/facedata.h"

#define FEAT 12 /* inner-face feature: FEAT x FEAT x 3 */


double fidelity_psnr(const float *x, const float *y, const float *mask, int s) {
    double se = 0, w = 0;
    size_t np = (size_t)s * s;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++) {
            double m = mask ? mask[i] : 1.0, d = (double)x[c * np + i] - y[c * np + i];
            se += m * d * d;
            w += m;
        }
    if (w <= 0) return 0;
    double mse = se / w;
    return mse <= 1e-10 ? 100.0 : 10.0 * log10(1.0 / mse);
}

double fidelity_ssim(const float *x, const float *y, const float *mask, int s) {
    enum { K = 11, R = 5 };
    double g[K], gs = 0;
    for (int i = 0; i < K; i++) gs += g[i] = exp(-(double)(i - R) * (i - R) / (2 * 1.5 * 1.5));
    for (int i = 0; i < K; i++) g[i] /= gs;
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    size_t np = (size_t)s * s;
    double acc = 0, wsum = 0;
    for (int c = 0; c < 3; c++) {
        const float *a = x + c * np, *b = y + c * np;
        for (int cy = R; cy < s - R; cy++)
            for (int cx = R; cx < s - R; cx++) {
                double m = mask ? mask[cy * s + cx] : 1.0;
                if (m <= 0) continue;
                double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
                for (int dy = 0; dy < K; dy++)
                    for (int dx = 0; dx < K; dx++) {
                        double w = g[dy] * g[dx];
                        double va = a[(cy - R + dy) * s + cx - R + dx], vb = b[(cy - R + dy) * s + cx - R + dx];
                        ma += w * va, mb += w * vb, saa += w * va * va, sbb += w * vb * vb, sab += w * va * vb;
                    }
                double va = saa - ma * ma, vb = sbb - mb * mb, cov = sab - ma * mb;
                double ssim = ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
                acc += m * ssim;
                wsum += m;
            }
    }
    return wsum > 0 ? acc / wsum : 0;
}

/* The inner face (brows to mouth, outer eye corners widened a little) resampled to FEATxFEATx3. */
static void inner_feature(const float *chw, int s, const float lm[ALIGN_NLM][2], float *feat) {
    float x0 = FLT_MAX, x1 = -FLT_MAX, y0 = FLT_MAX, y1 = -FLT_MAX;
    for (int k = 17; k < 68; k++) {
        if (lm[k][0] < x0) x0 = lm[k][0];
        if (lm[k][0] > x1) x1 = lm[k][0];
        if (lm[k][1] < y0) y0 = lm[k][1];
        if (lm[k][1] > y1) y1 = lm[k][1];
    }
    size_t np = (size_t)s * s;
    for (int c = 0; c < 3; c++)
        for (int fy = 0; fy < FEAT; fy++)
            for (int fx = 0; fx < FEAT; fx++) {
                double sum = 0;
                int cnt = 0;
                for (int sy = 0; sy < 3; sy++)
                    for (int sx = 0; sx < 3; sx++) {
                        double px = x0 + (x1 - x0) * (fx + (sx + 0.5) / 3.0) / FEAT;
                        double py = y0 + (y1 - y0) * (fy + (sy + 0.5) / 3.0) / FEAT;
                        int ix = (int)px, iy = (int)py;
                        if (ix < 0) ix = 0;
                        if (iy < 0) iy = 0;
                        if (ix > s - 1) ix = s - 1;
                        if (iy > s - 1) iy = s - 1;
                        sum += chw[c * np + (size_t)iy * s + ix];
                        cnt++;
                    }
                feat[(c * FEAT + fy) * FEAT + fx] = (float)(sum / cnt);
            }
}

typedef struct {
    int n;        /* evaluation faces */
    int *idx;     /* their indices in the set */
    float *x;     /* n x 3 x S x S source crops */
    float *mask;  /* n x S x S */
    float (*lm)[ALIGN_NLM][2]; /* landmarks at model size */
    float *mean;  /* 3 x S x S mean of the training crops */
    int nfeat;
    float *feat;  /* nfeat x 3*FEAT*FEAT classifier features of training crops */
} IdEval;

#define NFEAT (3 * FEAT * FEAT)

struct Fidelity {
    int nsets, size, heldout;
    IdEval *id;
    float **gt; /* [a*nsets+b]: n_a x 3 x S x S */
    float (**gtlm)[ALIGN_NLM][2]; /* [a*nsets+b]: n_a ground-truth landmarks at model size */
    double *lm_src, *lm_mean, *lm_gt; /* [a*nsets+b]: baselines and floor of the landmark error */
    LmModel *lmm;                 /* dlib's predictor; NULL when not installed */
    /* identity classifier: softmax regression on standardised inner-face features */
    float mu[NFEAT], sd[NFEAT];
    float *W; /* nsets x NFEAT */
    float *bias;
};

/* Trains the softmax regression (full-batch gradient descent with L2, deterministic) on every
 * identity's training features. Lighting and pose vary within an identity's crops, so the
 * classifier learns what stays: skin tone, eyes, brows, lips. */
static void train_classifier(Fidelity *f) {
    int n = 0;
    for (int a = 0; a < f->nsets; a++) n += f->id[a].nfeat;
    for (int j = 0; j < NFEAT; j++) {
        double m = 0, v = 0;
        for (int a = 0; a < f->nsets; a++)
            for (int k = 0; k < f->id[a].nfeat; k++) m += f->id[a].feat[(size_t)NFEAT * k + j];
        m /= n > 0 ? n : 1;
        for (int a = 0; a < f->nsets; a++)
            for (int k = 0; k < f->id[a].nfeat; k++) {
                double d = f->id[a].feat[(size_t)NFEAT * k + j] - m;
                v += d * d;
            }
        f->mu[j] = (float)m;
        f->sd[j] = (float)sqrt(v / (n > 1 ? n - 1 : 1)) + 1e-3f;
    }
    const int C = f->nsets;
    f->W = xcalloc((size_t)C * NFEAT, sizeof(float));
    f->bias = xcalloc((size_t)C, sizeof(float));
    float *gW = xmalloc(sizeof(float) * (size_t)C * NFEAT), *gb = xmalloc(sizeof(float) * (size_t)C);
    float x[NFEAT];
    double p[SWAP_MAX_IDS];
    const float lr = 0.5f, l2 = 1e-3f;
    for (int it = 0; it < 300; it++) {
        memset(gW, 0, sizeof(float) * (size_t)C * NFEAT);
        memset(gb, 0, sizeof(float) * (size_t)C);
        for (int a = 0; a < C; a++)
            for (int k = 0; k < f->id[a].nfeat; k++) {
                const float *q = f->id[a].feat + (size_t)NFEAT * k;
                for (int j = 0; j < NFEAT; j++) x[j] = (q[j] - f->mu[j]) / f->sd[j];
                double mx = -DBL_MAX, z = 0;
                for (int c = 0; c < C; c++) {
                    double s = f->bias[c];
                    for (int j = 0; j < NFEAT; j++) s += (double)f->W[(size_t)c * NFEAT + j] * x[j];
                    p[c] = s;
                    if (s > mx) mx = s;
                }
                for (int c = 0; c < C; c++) z += p[c] = exp(p[c] - mx);
                for (int c = 0; c < C; c++) {
                    float g = (float)(p[c] / z - (c == a));
                    gb[c] += g;
                    for (int j = 0; j < NFEAT; j++) gW[(size_t)c * NFEAT + j] += g * x[j];
                }
            }
        for (int c = 0; c < C; c++) {
            f->bias[c] -= lr * gb[c] / (n > 0 ? n : 1);
            for (int j = 0; j < NFEAT; j++) {
                float *w = &f->W[(size_t)c * NFEAT + j];
                *w -= lr * (gW[(size_t)c * NFEAT + j] / (n > 0 ? n : 1) + l2 * *w);
            }
        }
    }
    free(gW);
    free(gb);
}

/* Landmark error of one CHW image of side S against the true points gt (model pixels): the image
 * is enlarged 4x (bilinear) so that the predictor's pixel lookups fall between model pixels, the
 * predictor starts from its mean shape fitted to gt (lm_rect_fit), and the mean point distance
 * comes back in model pixels. */
#define LM_UP 4
static double landmark_error(const LmModel *lmm, const float *chw, int S, const float gt[ALIGN_NLM][2]) {
    const int U = S * LM_UP;
    const size_t np = (size_t)U * U;
    float *big = xmalloc(sizeof(float) * 3 * np);
    uint8_t *in = xmalloc(np);
    image_resize_planes(chw, S, 3, big, U);
    for (size_t i = 0; i < np; i++) {
        int sum = 0;
        for (int c = 0; c < 3; c++) {
            float v = big[c * np + i];
            sum += (int)lrintf((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f);
        }
        in[i] = (uint8_t)(sum / 3);
    }
    double xy[2 * ALIGN_NLM], pred[2 * ALIGN_NLM];
    /* pixel centres: model pixel x covers [x, x+1), enlarged pixel X covers [X/U, (X+1)/U) */
    for (int j = 0; j < ALIGN_NLM; j++)
        for (int d = 0; d < 2; d++) xy[2 * j + d] = (gt[j][d] + 0.5) * LM_UP - 0.5;
    lm_predict(lmm, in, U, U, lm_rect_fit(lmm, xy), pred);
    double e = 0;
    for (int j = 0; j < ALIGN_NLM; j++) e += hypot(pred[2 * j] - xy[2 * j], pred[2 * j + 1] - xy[2 * j + 1]);
    free(big);
    free(in);
    return e / ALIGN_NLM / LM_UP;
}

static void scale_landmarks(const float in[ALIGN_NLM][2], float k, float out[ALIGN_NLM][2]) {
    for (int j = 0; j < ALIGN_NLM; j++) out[j][0] = in[j][0] * k, out[j][1] = in[j][1] * k;
}

Fidelity *fidelity_prepare(const FaceSet *sets, int nsets, int size, int holdout_every, int max_faces,
                           SlErr *err) {
    return fidelity_prepare_data(sets, NULL, nsets, size, holdout_every, max_faces, err);
}

Fidelity *fidelity_prepare_data(const FaceSet *sets, const FaceData *data, int nsets, int size, int holdout_every,
                                int max_faces, SlErr *err) {
    for (int a = 0; a < nsets; a++)
        if (!groundtruth_available(&sets[a])) {
            sl_fail(err, "%s: not a synthetic face set (no renderer parameters), so there is no ground truth to "
                    "measure swaps against", sets[a].dir);
            return NULL;
        }
    Fidelity *f = xcalloc(1, sizeof *f);
    f->nsets = nsets;
    f->size = size;
    f->heldout = 1;
    f->id = xcalloc((size_t)nsets, sizeof *f->id);
    f->gt = xcalloc((size_t)nsets * nsets, sizeof *f->gt);
    f->gtlm = xcalloc((size_t)nsets * nsets, sizeof *f->gtlm);
    f->lm_src = xcalloc((size_t)nsets * nsets, sizeof *f->lm_src);
    f->lm_gt = xcalloc((size_t)nsets * nsets, sizeof *f->lm_gt);
    f->lm_mean = xcalloc((size_t)nsets * nsets, sizeof *f->lm_mean);
    {
        SlErr lerr;
        if (lm_load(lm_default_path(), &f->lmm, &lerr) || lm_num_parts(f->lmm) != ALIGN_NLM) {
            if (f->lmm) lm_free(f->lmm);
            f->lmm = NULL; /* landmark error is then reported as not measured */
        }
    }
    const int S = size;
    const size_t img = 3 * (size_t)S * S;
    for (int a = 0; a < nsets; a++) {
        const FaceSet *fs = &sets[a];
        IdEval *e = &f->id[a];
        int crop = fs->crop;
        FaceData own = {0};
        const FaceData *fd = data ? &data[a] : &own;
        if (!data && facedata_load(&own, fs, S, err)) {
            fidelity_free(f);
            return NULL;
        }
        float *tmpm = xmalloc(sizeof(float) * (size_t)crop * crop);
        e->idx = xmalloc(sizeof(int) * (size_t)fs->n);
        for (int i = 0; i < fs->n && e->n < max_faces; i++)
            if (faceset_is_heldout(i, fs->n, holdout_every)) e->idx[e->n++] = i;
        if (e->n == 0) {
            f->heldout = 0;
            for (int i = 0; i < fs->n && e->n < max_faces; i++) e->idx[e->n++] = i;
        }
        e->x = xmalloc(sizeof(float) * img * (size_t)e->n);
        e->mask = xmalloc(sizeof(float) * (size_t)S * S * (size_t)e->n);
        e->lm = xmalloc(sizeof *e->lm * (size_t)e->n);
        for (int k = 0; k < e->n; k++) {
            int i = e->idx[k];
            facedata_face(fd, i, e->x + img * k);
            faceset_face_mask(fs, i, tmpm, NULL);
            image_resize_planes(tmpm, crop, 1, e->mask + (size_t)S * S * k, S);
            scale_landmarks(fs->faces[i].lm_crop, (float)S / crop, e->lm[k]);
        }
        /* mean face and classifier features from training faces (at most 200, evenly spread) */
        e->mean = xcalloc(img, sizeof(float));
        e->feat = xmalloc(sizeof(float) * 3 * FEAT * FEAT * 200);
        float *small = xmalloc(sizeof(float) * img);
        int ntrain = 0;
        for (int i = 0; i < fs->n; i++) ntrain += !faceset_is_heldout(i, fs->n, holdout_every);
        int stride = ntrain > 200 ? (ntrain + 199) / 200 : 1, t = 0, used = 0;
        for (int i = 0; i < fs->n; i++) {
            if (faceset_is_heldout(i, fs->n, holdout_every)) continue;
            if (t++ % stride || e->nfeat >= 200) continue;
            facedata_face(fd, i, small);
            for (size_t j = 0; j < img; j++) e->mean[j] += small[j];
            used++;
            float lm[ALIGN_NLM][2];
            scale_landmarks(fs->faces[i].lm_crop, (float)S / crop, lm);
            inner_feature(small, S, lm, e->feat + (size_t)3 * FEAT * FEAT * e->nfeat++);
        }
        free(small);
        if (used)
            for (size_t j = 0; j < img; j++) e->mean[j] /= (float)used;
        free(tmpm);
        facedata_free(&own);
    }
    GroundTruthCache *gtc = gt_cache_new(); /* each set's person and the pair's swap person, built once */
    for (int a = 0; a < nsets; a++)
        for (int b = 0; b < nsets; b++) {
            if (a == b) continue;
            IdEval *e = &f->id[a];
            int crop = sets[a].crop;
            float *tmp = xmalloc(sizeof(float) * 3 * (size_t)crop * crop);
            float *g = f->gt[a * nsets + b] = xmalloc(sizeof(float) * img * (size_t)e->n);
            float(*gl)[ALIGN_NLM][2] = f->gtlm[a * nsets + b] = xmalloc(sizeof *gl * (size_t)e->n);
            double es = 0, eg = 0, em = 0;
            for (int k = 0; k < e->n; k++) {
                float lm[ALIGN_NLM][2];
                if (groundtruth_swap_chw_lm_cached(gtc, &sets[a], e->idx[k], &sets[b], tmp, lm, err)) {
                    free(tmp);
                    gt_cache_free(gtc);
                    fidelity_free(f);
                    return NULL;
                }
                image_resize_planes(tmp, crop, 3, g + img * k, S);
                scale_landmarks(lm, (float)S / crop, gl[k]);
                if (f->lmm) {
                    es += landmark_error(f->lmm, e->x + img * k, S, (const float(*)[2])gl[k]);
                    eg += landmark_error(f->lmm, g + img * k, S, (const float(*)[2])gl[k]);
                    em += landmark_error(f->lmm, f->id[b].mean, S, (const float(*)[2])gl[k]);
                }
            }
            f->lm_src[a * nsets + b] = f->lmm && e->n ? es / e->n : -1;
            f->lm_gt[a * nsets + b] = f->lmm && e->n ? eg / e->n : -1;
            f->lm_mean[a * nsets + b] = f->lmm && e->n ? em / e->n : -1;
            free(tmp);
        }
    gt_cache_free(gtc);
    train_classifier(f);
    return f;
}

void fidelity_free(Fidelity *f) {
    if (!f) return;
    for (int a = 0; a < f->nsets; a++) {
        IdEval *e = &f->id[a];
        free(e->idx), free(e->x), free(e->mask), free(e->lm), free(e->mean), free(e->feat);
    }
    for (int i = 0; i < f->nsets * f->nsets; i++) free(f->gt[i]), free(f->gtlm[i]);
    free(f->gt);
    free(f->gtlm);
    free(f->lm_src);
    free(f->lm_gt);
    free(f->lm_mean);
    if (f->lmm) lm_free(f->lmm);
    free(f->W);
    free(f->bias);
    free(f->id);
    free(f);
}

/* The identity the classifier gives a feature vector. */
static int classify(const Fidelity *f, const float *feat) {
    int who = -1;
    double best = -DBL_MAX;
    for (int c = 0; c < f->nsets; c++) {
        double s = f->bias[c];
        for (int j = 0; j < NFEAT; j++) s += (double)f->W[(size_t)c * NFEAT + j] * ((feat[j] - f->mu[j]) / f->sd[j]);
        if (s > best) best = s, who = c;
    }
    return who;
}

int fidelity_run(Fidelity *f, SwapModel *m, NnCtx *ctx, FidelityReport *r, SlErr *err) {
    const int S = f->size;
    const size_t img = 3 * (size_t)S * S;
    if (m->arch.size != S) return sl_fail(err, "model size %d differs from evaluation size %d", m->arch.size, S);
    memset(r, 0, sizeof *r);
    r->heldout = f->heldout;
    int was_training = ctx->training;
    ctx->training = 0;
    int nmax = 1;
    for (int a = 0; a < f->nsets; a++)
        if (f->id[a].n > nmax) nmax = f->id[a].n;
    NnShape zs = nn_net_out_shape(m->encoder);
    float *z = xmalloc(sizeof(float) * (size_t)zs.c * zs.h * zs.w * nmax), *y = xmalloc(sizeof(float) * (size_t)swap_model_out_channels(m) * S * S * nmax);
    float feat[3 * FEAT * FEAT];
    int correct = 0, total = 0;
    for (int a = 0; a < f->nsets; a++) {
        const IdEval *e = &f->id[a];
        for (int k = 0; k < e->n; k++) {
            inner_feature(e->x + img * k, S, e->lm[k], feat);
            correct += classify(f, feat) == a;
            total++;
        }
    }
    r->id_acc_real = total ? (double)correct / total : 0;
    FidelityPair *all = &r->all;
    all->a = all->b = -1;
    for (int a = 0; a < f->nsets; a++) {
        const IdEval *e = &f->id[a];
        nn_infer(ctx, &m->encoder, 1, e->x, e->n, z);
        for (int b = 0; b < f->nsets; b++) {
            if (a == b) continue;
            nn_infer(ctx, &m->decoders[b], 1, z, e->n, y); /* on ctx's device, host in and out */
            swap_model_split_output(m, y, e->n, NULL); /* RGB only (a learned mask's channel dropped) */
            FidelityPair *p = &r->pair[r->npairs++];
            p->a = a, p->b = b, p->n = e->n;
            const float *g = f->gt[a * f->nsets + b];
            int to_b = 0, stay = 0;
            double lerr = 0;
            for (int k = 0; k < e->n; k++) {
                if (f->lmm) lerr += landmark_error(f->lmm, y + img * k, S, (const float(*)[2])f->gtlm[a * f->nsets + b][k]);
                const float *mk = e->mask + (size_t)S * S * k;
                p->psnr += fidelity_psnr(y + img * k, g + img * k, mk, S);
                p->ssim += fidelity_ssim(y + img * k, g + img * k, mk, S);
                p->psnr_src += fidelity_psnr(e->x + img * k, g + img * k, mk, S);
                p->ssim_src += fidelity_ssim(e->x + img * k, g + img * k, mk, S);
                p->psnr_mean += fidelity_psnr(f->id[b].mean, g + img * k, mk, S);
                p->ssim_mean += fidelity_ssim(f->id[b].mean, g + img * k, mk, S);
                inner_feature(y + img * k, S, e->lm[k], feat);
                int who = classify(f, feat);
                to_b += who == b;
                stay += who == a;
            }
            double n = e->n ? e->n : 1;
            p->psnr /= n, p->ssim /= n, p->psnr_src /= n, p->ssim_src /= n, p->psnr_mean /= n, p->ssim_mean /= n;
            p->id_transfer = to_b / n;
            p->id_stay = stay / n;
            p->lm_err = f->lmm ? lerr / n : -1;
            p->lm_err_src = f->lm_src[a * f->nsets + b];
            p->lm_err_gt = f->lm_gt[a * f->nsets + b];
            p->lm_err_mean = f->lm_mean[a * f->nsets + b];
            all->n += p->n;
            all->psnr += p->psnr, all->ssim += p->ssim, all->psnr_src += p->psnr_src;
            all->ssim_src += p->ssim_src, all->psnr_mean += p->psnr_mean, all->ssim_mean += p->ssim_mean;
            all->id_transfer += p->id_transfer, all->id_stay += p->id_stay;
            all->lm_err += p->lm_err, all->lm_err_src += p->lm_err_src, all->lm_err_gt += p->lm_err_gt,
            all->lm_err_mean += p->lm_err_mean;
        }
    }
    if (r->npairs) {
        double n = r->npairs;
        all->psnr /= n, all->ssim /= n, all->psnr_src /= n, all->ssim_src /= n;
        all->psnr_mean /= n, all->ssim_mean /= n, all->id_transfer /= n, all->id_stay /= n;
        if (f->lmm) all->lm_err /= n, all->lm_err_src /= n, all->lm_err_mean /= n, all->lm_err_gt /= n;
        else all->lm_err = all->lm_err_src = all->lm_err_mean = all->lm_err_gt = -1;
    }
    ctx->training = was_training;
    free(z);
    free(y);
    return 0;
}

static json_t *pair_json(const FidelityPair *p, const FaceSet *sets) {
    json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "faces", p->n, "psnr", p->psnr,
                          "ssim", p->ssim, "psnr_source_baseline", p->psnr_src, "ssim_source_baseline",
                          p->ssim_src, "psnr_mean_face_baseline", p->psnr_mean, "ssim_mean_face_baseline",
                          p->ssim_mean, "identity_transfer", p->id_transfer, "identity_stays_source",
                          p->id_stay);
    /* landmark errors: null when the landmark model is not installed */
    json_object_set_new(o, "landmark_error", p->lm_err >= 0 ? json_real(p->lm_err) : json_null());
    json_object_set_new(o, "landmark_error_source_baseline", p->lm_err_src >= 0 ? json_real(p->lm_err_src) : json_null());
    json_object_set_new(o, "landmark_error_mean_face_baseline", p->lm_err_mean >= 0 ? json_real(p->lm_err_mean) : json_null());
    json_object_set_new(o, "landmark_error_ground_truth", p->lm_err_gt >= 0 ? json_real(p->lm_err_gt) : json_null());
    if (p->a >= 0) {
        json_object_set_new(o, "source", json_string(sets[p->a].subject));
        json_object_set_new(o, "target", json_string(sets[p->b].subject));
    }
    return o;
}

json_t *fidelity_to_json(const FidelityReport *r, const FaceSet *sets) {
    json_t *pairs = json_array();
    for (int i = 0; i < r->npairs; i++) json_array_append_new(pairs, pair_json(&r->pair[i], sets));
    return json_pack("{s:I, s:b, s:f, s:o, s:o}", "step", (json_int_t)r->step, "held_out", r->heldout,
                     "classifier_accuracy_on_real", r->id_acc_real, "overall", pair_json(&r->all, sets),
                     "pairs", pairs);
}

void fidelity_print(FILE *out, const FidelityReport *r, const FaceSet *sets) {
    fprintf(out, "swap fidelity against the renderer's ground truth (%s frames, inside the face mask)\n",
            r->heldout ? "held-out" : "training (sets too small to hold any out)");
    fprintf(out, "  %-30s %5s %12s %12s %12s %9s\n", "pair", "faces", "PSNR swap", "PSNR source",
            "PSNR meanB", "id→B");
    for (int i = 0; i <= r->npairs; i++) {
        const FidelityPair *p = i < r->npairs ? &r->pair[i] : &r->all;
        char name[300];
        if (p->a >= 0) snprintf(name, sizeof name, "%s → %s", sets[p->a].subject, sets[p->b].subject);
        else snprintf(name, sizeof name, "all pairs (mean)");
        fprintf(out, "  %-30s %5d %9.2f dB %9.2f dB %9.2f dB %8.0f%%\n", name, p->n, p->psnr, p->psnr_src,
                p->psnr_mean, 100 * p->id_transfer);
        fprintf(out, "  %-30s %5s %12.4f %12.4f %12.4f   (SSIM)\n", "", "", p->ssim, p->ssim_src, p->ssim_mean);
        if (p->lm_err >= 0)
            fprintf(out, "  %-30s %5s %9.2f px %9.2f px %9.2f px   (landmarks; %.2f px on the ground truth)\n", "",
                    "", p->lm_err, p->lm_err_src, p->lm_err_mean, p->lm_err_gt);
    }
    if (r->all.lm_err < 0)
        fprintf(out, "  landmark error not measured: dlib's 68-point model is not installed (%s; Debian package "
                     "libdlib-data)\n", lm_default_path());
    fprintf(out, "  identity classifier accuracy on real held-out crops: %.0f%%\n", 100 * r->id_acc_real);
    fprintf(out, "  A swap is good when its PSNR/SSIM beat both baselines (source unchanged; B's mean face),\n"
                 "  the classifier calls it B, and its landmark error (expression and pose kept) is near the\n"
                 "  ground truth's own.\n");
}
