/* fidelity.c — swap fidelity against the synthetic ground truth, with baselines and identity
 * transfer (see fidelity.h). SSIM: Wang et al. 2004, https://doi.org/10.1109/TIP.2003.819861 */
#include "train/fidelity.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/groundtruth.h"

#define FEAT 12 /* inner-face feature: FEAT x FEAT x 3 */

int fidelity_is_heldout(int i, int n, int every) {
    return every > 0 && n >= every && i % every == every - 1;
}

void fidelity_resize_planes(const float *in, int s0, int nplanes, float *out, int s1) {
    if (s0 == s1) {
        memcpy(out, in, sizeof(float) * (size_t)nplanes * (size_t)s0 * (size_t)s0);
        return;
    }
    double sc = (double)s0 / s1;
    for (int p = 0; p < nplanes; p++) {
        const float *src = in + (size_t)p * s0 * s0;
        float *dst = out + (size_t)p * s1 * s1;
        for (int y = 0; y < s1; y++) {
            double fy = (y + 0.5) * sc - 0.5;
            if (fy < 0) fy = 0;
            int y0 = (int)fy;
            if (y0 > s0 - 1) y0 = s0 - 1;
            int y1 = y0 + 1 < s0 ? y0 + 1 : s0 - 1;
            double wy = fy - y0;
            for (int x = 0; x < s1; x++) {
                double fx = (x + 0.5) * sc - 0.5;
                if (fx < 0) fx = 0;
                int x0 = (int)fx;
                if (x0 > s0 - 1) x0 = s0 - 1;
                int x1 = x0 + 1 < s0 ? x0 + 1 : s0 - 1;
                double wx = fx - x0;
                double v = (1 - wy) * ((1 - wx) * src[y0 * s0 + x0] + wx * src[y0 * s0 + x1]) +
                           wy * ((1 - wx) * src[y1 * s0 + x0] + wx * src[y1 * s0 + x1]);
                dst[y * s1 + x] = (float)v;
            }
        }
    }
}

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

static void scale_landmarks(const float in[ALIGN_NLM][2], float k, float out[ALIGN_NLM][2]) {
    for (int j = 0; j < ALIGN_NLM; j++) out[j][0] = in[j][0] * k, out[j][1] = in[j][1] * k;
}

Fidelity *fidelity_prepare(const FaceSet *sets, int nsets, int size, int holdout_every, int max_faces,
                           SlErr *err) {
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
    const int S = size;
    const size_t img = 3 * (size_t)S * S;
    for (int a = 0; a < nsets; a++) {
        const FaceSet *fs = &sets[a];
        IdEval *e = &f->id[a];
        int crop = fs->crop;
        float *tmp = xmalloc(sizeof(float) * 3 * (size_t)crop * crop);
        float *tmpm = xmalloc(sizeof(float) * (size_t)crop * crop);
        e->idx = xmalloc(sizeof(int) * (size_t)fs->n);
        for (int i = 0; i < fs->n && e->n < max_faces; i++)
            if (fidelity_is_heldout(i, fs->n, holdout_every)) e->idx[e->n++] = i;
        if (e->n == 0) {
            f->heldout = 0;
            for (int i = 0; i < fs->n && e->n < max_faces; i++) e->idx[e->n++] = i;
        }
        e->x = xmalloc(sizeof(float) * img * (size_t)e->n);
        e->mask = xmalloc(sizeof(float) * (size_t)S * S * (size_t)e->n);
        e->lm = xmalloc(sizeof *e->lm * (size_t)e->n);
        for (int k = 0; k < e->n; k++) {
            int i = e->idx[k];
            if (faceset_load_face(fs, i, tmp, err)) goto fail_tmp;
            fidelity_resize_planes(tmp, crop, 3, e->x + img * k, S);
            faceset_face_mask(fs, i, tmpm, NULL);
            fidelity_resize_planes(tmpm, crop, 1, e->mask + (size_t)S * S * k, S);
            scale_landmarks(fs->faces[i].lm_crop, (float)S / crop, e->lm[k]);
        }
        /* mean face and classifier features from training faces (at most 200, evenly spread) */
        e->mean = xcalloc(img, sizeof(float));
        e->feat = xmalloc(sizeof(float) * 3 * FEAT * FEAT * 200);
        float *small = xmalloc(sizeof(float) * img);
        int ntrain = 0;
        for (int i = 0; i < fs->n; i++) ntrain += !fidelity_is_heldout(i, fs->n, holdout_every);
        int stride = ntrain > 200 ? (ntrain + 199) / 200 : 1, t = 0, used = 0;
        for (int i = 0; i < fs->n; i++) {
            if (fidelity_is_heldout(i, fs->n, holdout_every)) continue;
            if (t++ % stride || e->nfeat >= 200) continue;
            if (faceset_load_face(fs, i, tmp, err)) {
                free(small);
                goto fail_tmp;
            }
            fidelity_resize_planes(tmp, crop, 3, small, S);
            for (size_t j = 0; j < img; j++) e->mean[j] += small[j];
            used++;
            float lm[ALIGN_NLM][2];
            scale_landmarks(fs->faces[i].lm_crop, (float)S / crop, lm);
            inner_feature(small, S, lm, e->feat + (size_t)3 * FEAT * FEAT * e->nfeat++);
        }
        free(small);
        if (used)
            for (size_t j = 0; j < img; j++) e->mean[j] /= (float)used;
        free(tmp);
        free(tmpm);
        continue;
    fail_tmp:
        free(tmp);
        free(tmpm);
        fidelity_free(f);
        return NULL;
    }
    for (int a = 0; a < nsets; a++)
        for (int b = 0; b < nsets; b++) {
            if (a == b) continue;
            IdEval *e = &f->id[a];
            int crop = sets[a].crop;
            float *tmp = xmalloc(sizeof(float) * 3 * (size_t)crop * crop);
            float *g = f->gt[a * nsets + b] = xmalloc(sizeof(float) * img * (size_t)e->n);
            for (int k = 0; k < e->n; k++) {
                if (groundtruth_swap_chw(&sets[a], e->idx[k], &sets[b], tmp, err)) {
                    free(tmp);
                    fidelity_free(f);
                    return NULL;
                }
                fidelity_resize_planes(tmp, crop, 3, g + img * k, S);
            }
            free(tmp);
        }
    train_classifier(f);
    return f;
}

void fidelity_free(Fidelity *f) {
    if (!f) return;
    for (int a = 0; a < f->nsets; a++) {
        IdEval *e = &f->id[a];
        free(e->idx), free(e->x), free(e->mask), free(e->lm), free(e->mean), free(e->feat);
    }
    for (int i = 0; i < f->nsets * f->nsets; i++) free(f->gt[i]);
    free(f->gt);
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
        const float *z = nn_net_forward(m->encoder, ctx, e->x, e->n);
        for (int b = 0; b < f->nsets; b++) {
            if (a == b) continue;
            /* the encoder output is overwritten only by the encoder's next forward: reuse z */
            const float *y = nn_net_forward(m->decoders[b], ctx, z, e->n);
            FidelityPair *p = &r->pair[r->npairs++];
            p->a = a, p->b = b, p->n = e->n;
            const float *g = f->gt[a * f->nsets + b];
            int to_b = 0, stay = 0;
            for (int k = 0; k < e->n; k++) {
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
            all->n += p->n;
            all->psnr += p->psnr, all->ssim += p->ssim, all->psnr_src += p->psnr_src;
            all->ssim_src += p->ssim_src, all->psnr_mean += p->psnr_mean, all->ssim_mean += p->ssim_mean;
            all->id_transfer += p->id_transfer, all->id_stay += p->id_stay;
        }
    }
    if (r->npairs) {
        double n = r->npairs;
        all->psnr /= n, all->ssim /= n, all->psnr_src /= n, all->ssim_src /= n;
        all->psnr_mean /= n, all->ssim_mean /= n, all->id_transfer /= n, all->id_stay /= n;
    }
    ctx->training = was_training;
    return 0;
}

static json_t *pair_json(const FidelityPair *p, const FaceSet *sets) {
    json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "faces", p->n, "psnr", p->psnr,
                          "ssim", p->ssim, "psnr_source_baseline", p->psnr_src, "ssim_source_baseline",
                          p->ssim_src, "psnr_mean_face_baseline", p->psnr_mean, "ssim_mean_face_baseline",
                          p->ssim_mean, "identity_transfer", p->id_transfer, "identity_stays_source",
                          p->id_stay);
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
    }
    fprintf(out, "  identity classifier accuracy on real held-out crops: %.0f%%\n", 100 * r->id_acc_real);
    fprintf(out, "  A swap is good when its PSNR/SSIM beat both baselines (source unchanged; B's mean face)\n"
                 "  and the classifier calls it B.\n");
}
