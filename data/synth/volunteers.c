/* volunteers.c — the library of consented volunteers the composites are made of
 * (data/synth/composite.h): templates, 68-point files, digests, the mean shape and its Delaunay
 * triangulation, and the one-off preparation of the 68-point files with haar.c + landmarks.c. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/haar.h"
#include "data/landmarks.h"
#include "data/synth/composite.h"
#include "util/crypto.h"
#include "util/fs.h"

void vol_default_dir(char *out, size_t n) {
    const char *e = getenv("SWAPLAB_VOLUNTEERS");
    if (e && *e) {
        sl_snprintf(out, n, "%s", e);
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const ups[] = {"", "/..", "/../.."};
        for (int i = 0; i < 3; i++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s%s/data/volunteers", exe, ups[i]);
            if (sl_is_dir(cand)) {
                sl_snprintf(out, n, "%s", cand);
                return;
            }
        }
    }
    sl_snprintf(out, n, "data/volunteers");
}

int vol_read_points(const char *path, int want, float (*pts)[2], SlErr *err) {
    char *data;
    size_t len;
    if (sl_read_file(path, 1u << 20, &data, &len, err)) return -1;
    char *p = data, *end;
    long count = strtol(p, &end, 10);
    if (end == p) {
        free(data);
        return sl_fail(err, "%s: not a point file (expected the point count on the first line)", path);
    }
    if (count != want) {
        free(data);
        return sl_fail(err, "%s: has %ld points, expected %d", path, count, want);
    }
    p = end;
    for (int i = 0; i < want; i++) {
        for (int c = 0; c < 2; c++) {
            double v = strtod(p, &end);
            if (end == p || !isfinite(v) || v < -4096 || v > 8192) {
                free(data);
                return sl_fail(err, "%s: point %d: expected two numbers (x y) in pixels", path, i);
            }
            pts[i][c] = (float)v;
            p = end;
        }
    }
    free(data);
    return 0;
}

static int write_points(const char *path, int n, const double *xy, SlErr *err) {
    size_t cap = 32 + (size_t)n * 40, len = 0;
    char *s = xmalloc(cap);
    len += (size_t)snprintf(s + len, cap - len, "%d\n", n);
    for (int i = 0; i < n; i++) len += (size_t)snprintf(s + len, cap - len, "%.2f\t%.2f\n", xy[2 * i], xy[2 * i + 1]);
    int rc = sl_write_atomic(path, s, len, err);
    free(s);
    return rc;
}

static const char TEM_SUFFIX[] = "_neutral.tem189";

static int list_ids(const char *dir, char ***names, SlErr *err) {
    const char *const suf[] = {TEM_SUFFIX, NULL};
    int n = sl_list_dir(dir, suf, names, err);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) (*names)[i][strlen((*names)[i]) - strlen(TEM_SUFFIX)] = 0;
    return n;
}

/* ---- Delaunay triangulation (Bowyer-Watson; n is a few hundred) -------------------------------- */
typedef struct {
    int v[3];
    double cx, cy, r2;
} DTri;

static void circum(const double *x, const double *y, DTri *t) {
    double ax = x[t->v[0]], ay = y[t->v[0]], bx = x[t->v[1]], by = y[t->v[1]], cx = x[t->v[2]], cy = y[t->v[2]];
    double d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by));
    if (fabs(d) < 1e-12) d = 1e-12;
    double a2 = ax * ax + ay * ay, b2 = bx * bx + by * by, c2 = cx * cx + cy * cy;
    t->cx = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d;
    t->cy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d;
    t->r2 = (ax - t->cx) * (ax - t->cx) + (ay - t->cy) * (ay - t->cy);
}

static int delaunay(const float (*p)[2], int n, int (**out)[3]) {
    double *x = xmalloc(sizeof(double) * (size_t)(n + 3)), *y = xmalloc(sizeof(double) * (size_t)(n + 3));
    for (int i = 0; i < n; i++) x[i] = p[i][0], y[i] = p[i][1];
    x[n] = -1e5, y[n] = -1e5, x[n + 1] = 1e5, y[n + 1] = -1e5, x[n + 2] = 0, y[n + 2] = 1e5;
    int cap = 8 * n + 16, nt = 1;
    DTri *t = xmalloc(sizeof(DTri) * (size_t)cap);
    t[0].v[0] = n, t[0].v[1] = n + 1, t[0].v[2] = n + 2;
    circum(x, y, &t[0]);
    int (*edges)[2] = xmalloc(sizeof(int[2]) * (size_t)cap * 3);
    for (int i = 0; i < n; i++) {
        int ne = 0, keep = 0;
        for (int k = 0; k < nt; k++) {
            double dx = x[i] - t[k].cx, dy = y[i] - t[k].cy;
            if (dx * dx + dy * dy < t[k].r2) {
                for (int e = 0; e < 3; e++) {
                    int a = t[k].v[e], b = t[k].v[(e + 1) % 3], dup = -1;
                    for (int q = 0; q < ne; q++)
                        if ((edges[q][0] == b && edges[q][1] == a) || (edges[q][0] == a && edges[q][1] == b)) dup = q;
                    if (dup >= 0) edges[dup][0] = -1;
                    else edges[ne][0] = a, edges[ne][1] = b, ne++;
                }
            } else {
                t[keep++] = t[k];
            }
        }
        nt = keep;
        for (int q = 0; q < ne; q++) {
            if (edges[q][0] < 0) continue;
            SL_ASSERT(nt < cap);
            t[nt].v[0] = edges[q][0], t[nt].v[1] = edges[q][1], t[nt].v[2] = i;
            circum(x, y, &t[nt]);
            nt++;
        }
    }
    int m = 0;
    *out = xmalloc(sizeof(int[3]) * (size_t)nt);
    for (int k = 0; k < nt; k++) {
        if (t[k].v[0] >= n || t[k].v[1] >= n || t[k].v[2] >= n) continue;
        for (int e = 0; e < 3; e++) (*out)[m][e] = t[k].v[e];
        m++;
    }
    free(x), free(y), free(t), free(edges);
    return m;
}

/* Similarity mapping the pupils (template points 0 and 1) of a onto b's. */
static void pupil_similarity(const float a0[2], const float a1[2], const float b0[2], const float b1[2], float m[6]) {
    float ax = a1[0] - a0[0], ay = a1[1] - a0[1], bx = b1[0] - b0[0], by = b1[1] - b0[1];
    float d = ax * ax + ay * ay;
    float c = (ax * bx + ay * by) / d, s = (ax * by - ay * bx) / d;
    m[0] = c, m[1] = -s, m[3] = s, m[4] = c;
    m[2] = b0[0] - (c * a0[0] - s * a0[1]);
    m[5] = b0[1] - (s * a0[0] + c * a0[1]);
}

/* The smiling photo's template: the neutral template moved by the similarity between the two
 * photos' 68 stable points (eyes, nose) plus a smooth field of the 68 points' remaining motion. */
static void smile_template(Volunteer *v) {
    static const int stable[] = {27, 28, 29, 30, 36, 39, 42, 45};
    const int ns = (int)(sizeof stable / sizeof stable[0]);
    double sx[2] = {0}, sy[2] = {0};
    for (int i = 0; i < ns; i++)
        for (int w = 0; w < 2; w++) sx[w] += v->lm[w][stable[i]][0] / ns, sy[w] += v->lm[w][stable[i]][1] / ns;
    double sxx = 0, sxy = 0, sn = 0;
    for (int i = 0; i < ns; i++) {
        double ax = v->lm[0][stable[i]][0] - sx[0], ay = v->lm[0][stable[i]][1] - sy[0];
        double bx = v->lm[1][stable[i]][0] - sx[1], by = v->lm[1][stable[i]][1] - sy[1];
        sxx += ax * bx + ay * by, sxy += ax * by - ay * bx, sn += ax * ax + ay * ay;
    }
    double c = sxx / sn, s = sxy / sn;
    float iod = hypotf(v->tem[0][1][0] - v->tem[0][0][0], v->tem[0][1][1] - v->tem[0][0][1]);
    float res[68][2];
    for (int k = 0; k < 68; k++) {
        double ax = v->lm[0][k][0] - sx[0], ay = v->lm[0][k][1] - sy[0];
        res[k][0] = v->lm[1][k][0] - (float)(sx[1] + c * ax - s * ay);
        res[k][1] = v->lm[1][k][1] - (float)(sy[1] + s * ax + c * ay);
    }
    for (int i = 0; i < VOL_TEM_POINTS; i++) {
        double ax = v->tem[0][i][0] - sx[0], ay = v->tem[0][i][1] - sy[0];
        float px = (float)(sx[1] + c * ax - s * ay), py = (float)(sy[1] + s * ax + c * ay);
        /* Shepard interpolation (power 4): near a predicted point, its motion; far from all, none */
        float e2 = (0.03f * iod) * (0.03f * iod), far = 0.6f * iod * 0.6f * iod;
        float wsum = 1 / (far * far), dx = 0, dy = 0;
        for (int k = 0; k < 68; k++) {
            float ex = v->lm[0][k][0] - v->tem[0][i][0], ey = v->lm[0][k][1] - v->tem[0][i][1];
            float d2 = ex * ex + ey * ey + e2, w = 1 / (d2 * d2);
            wsum += w, dx += w * res[k][0], dy += w * res[k][1];
        }
        v->tem[1][i][0] = px + dx / wsum;
        v->tem[1][i][1] = py + dy / wsum;
    }
}

static int load_volunteer(const char *dir, const char *id, Volunteer *v, SlErr *err) {
    memset(v, 0, sizeof *v);
    if (strlen(id) >= sizeof v->id) return sl_fail(err, "%s/%s%s: volunteer id too long", dir, id, TEM_SUFFIX);
    strcpy(v->id, id);
    char path[4096], name[128];
    static const char *const sfx[2] = {"neutral", "smiling"};
    for (int w = 0; w < 2; w++) {
        snprintf(name, sizeof name, "%s_%s.jpg", id, sfx[w]);
        sl_path_join(path, sizeof path, dir, name);
        if (!sl_is_file(path)) return sl_fail(err, "%s: missing volunteer photo", path);
        if (sl_sha256_file(path, w ? v->sha_smiling : v->sha_neutral, err)) return -1;
        snprintf(name, sizeof name, "%s_%s.lm68", id, sfx[w]);
        sl_path_join(path, sizeof path, dir, name);
        if (!sl_is_file(path))
            return sl_fail(err, "%s: missing 68-point file (make it with 'swaplab synth --prepare-volunteers %s')", path, dir);
        if (vol_read_points(path, 68, v->lm[w], err)) return -1;
        for (int k = 0; k < 68; k++) v->lm[w][k][0] += 0.5f, v->lm[w][k][1] += 0.5f; /* dlib: centres at .0 */
    }
    snprintf(name, sizeof name, "%s%s", id, TEM_SUFFIX);
    sl_path_join(path, sizeof path, dir, name);
    if (sl_sha256_file(path, v->sha_tem, err)) return -1;
    if (vol_read_points(path, VOL_TEM_POINTS, v->tem[0], err)) return -1;
    float iod = hypotf(v->tem[0][1][0] - v->tem[0][0][0], v->tem[0][1][1] - v->tem[0][0][1]);
    if (!(iod > 10 && iod < COMP_TEX / 2))
        return sl_fail(err, "%s: the pupils (points 0 and 1) are %.1f px apart: not a face template", path, iod);
    smile_template(v);
    return 0;
}

int vol_lib_open(const char *dir, VolunteerLib *lib, SlErr *err) {
    memset(lib, 0, sizeof *lib);
    sl_crypto_init();
    sl_snprintf(lib->dir, sizeof lib->dir, "%s", dir);
    if (!sl_is_dir(dir)) return sl_fail(err, "%s: no volunteer folder (set SWAPLAB_VOLUNTEERS)", dir);
    char **ids;
    int n = list_ids(dir, &ids, err);
    if (n < 0) return -1;
    if (n < COMP_MIN_CONTRIB) {
        sl_free_list(ids, n);
        return sl_fail(err, "%s: %d volunteer%s (*%s), a composite needs at least %d", dir, n, n == 1 ? "" : "s",
                       TEM_SUFFIX, COMP_MIN_CONTRIB);
    }
    if (n > VOL_MAX) n = VOL_MAX;
    lib->v = xcalloc((size_t)n, sizeof *lib->v);
    for (int i = 0; i < n; i++) {
        if (load_volunteer(dir, ids[i], &lib->v[i], err)) {
            sl_free_list(ids, n);
            vol_lib_free(lib);
            return -1;
        }
        lib->n++;
    }
    sl_free_list(ids, n);
    /* mean shape: each template's pupils moved onto the mean pupils by a similarity */
    float p0[2] = {0, 0}, p1[2] = {0, 0};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) p0[c] += lib->v[i].tem[0][0][c] / n, p1[c] += lib->v[i].tem[0][1][c] / n;
    float (*mt)[2] = xcalloc(VOL_TEM_POINTS, sizeof *mt);
    for (int i = 0; i < n; i++) {
        float m[6];
        pupil_similarity(lib->v[i].tem[0][0], lib->v[i].tem[0][1], p0, p1, m);
        for (int k = 0; k < VOL_TEM_POINTS; k++) {
            float x = lib->v[i].tem[0][k][0], y = lib->v[i].tem[0][k][1];
            mt[k][0] += (m[0] * x + m[1] * y + m[2]) / n;
            mt[k][1] += (m[3] * x + m[4] * y + m[5]) / n;
        }
    }
    int nm = 0;
    for (int k = 0; k < VOL_TEM_POINTS; k++) {
        int dup = 0;
        if (k >= 99 && k <= 103) mt[k][1] += 1.0f; /* the inner lips meet in a closed mouth: keep both
                                                      lines (they part when it opens) */
        for (int q = 0; q < nm; q++)
            if (hypotf(lib->mean[q][0] - mt[k][0], lib->mean[q][1] - mt[k][1]) < 0.5f) dup = 1;
        if (dup) continue;
        lib->mesh_tem[nm] = k;
        lib->mean[nm][0] = mt[k][0], lib->mean[nm][1] = mt[k][1];
        nm++;
    }
    free(mt);
    for (int b = 0; b < VOL_BORDER; b++) {
        int side = b / 5, j = b % 5;
        float t = j / 5.0f * COMP_TEX, e = (float)COMP_TEX;
        float x = side == 0 ? t : side == 1 ? e : side == 2 ? e - t : 0;
        float y = side == 0 ? 0 : side == 1 ? t : side == 2 ? e : e - t;
        lib->border[b][0] = x, lib->border[b][1] = y;
        lib->mesh_tem[nm] = -1;
        lib->mean[nm][0] = x, lib->mean[nm][1] = y;
        nm++;
    }
    lib->nmesh = nm;
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < n; i++) {
            float m[6];
            const Volunteer *v = &lib->v[i];
            pupil_similarity(v->tem[w][0], v->tem[w][1], p0, p1, m);
            for (int q = 0; q < nm; q++) {
                int k = lib->mesh_tem[q];
                if (k < 0) {
                    lib->avg[w][q][0] = lib->mean[q][0], lib->avg[w][q][1] = lib->mean[q][1];
                    continue;
                }
                float x = v->tem[w][k][0], y = v->tem[w][k][1];
                lib->avg[w][q][0] += (m[0] * x + m[1] * y + m[2]) / n;
                lib->avg[w][q][1] += (m[3] * x + m[4] * y + m[5]) / n;
            }
        }
    lib->ntri = delaunay((const float(*)[2])lib->mean, nm, &lib->tri);
    lib->tri_mouth = xcalloc((size_t)lib->ntri, 1);
    for (int t = 0; t < lib->ntri; t++) {
        int all = 1;
        for (int e = 0; e < 3; e++) {
            int k = lib->mesh_tem[lib->tri[t][e]];
            if (!(k == 87 || k == 93 || (k >= 94 && k <= 103))) all = 0;
        }
        lib->tri_mouth[t] = (unsigned char)all;
    }
    return 0;
}

void vol_lib_free(VolunteerLib *lib) {
    free(lib->v);
    free(lib->tri);
    free(lib->tri_mouth);
    memset(lib, 0, sizeof *lib);
}

int vol_lib_find(const VolunteerLib *lib, const char *id) {
    for (int i = 0; i < lib->n; i++)
        if (!strcmp(lib->v[i].id, id)) return i;
    return -1;
}

int vol_load_photo(const VolunteerLib *lib, int i, int which, Image *out, SlErr *err) {
    SL_ASSERT(i >= 0 && i < lib->n && (which == 0 || which == 1));
    char path[4096], name[128];
    snprintf(name, sizeof name, "%s_%s.jpg", lib->v[i].id, which ? "smiling" : "neutral");
    sl_path_join(path, sizeof path, lib->dir, name);
    char *data;
    size_t len;
    if (sl_read_file(path, 64u << 20, &data, &len, err)) return -1;
    char hex[65];
    sl_sha256_hex(data, len, hex);
    if (strcmp(hex, which ? lib->v[i].sha_smiling : lib->v[i].sha_neutral)) {
        free(data);
        return sl_fail(err, "%s: changed since the volunteer library was read (SHA-256 differs)", path);
    }
    int rc = image_load_mem((const uint8_t *)data, len, 3, out, path, err);
    free(data);
    if (rc) return -1;
    if (out->w != COMP_TEX || out->h != COMP_TEX) {
        image_free(out);
        return sl_fail(err, "%s: is %dx%d, a volunteer photo must be %dx%d", path, out->w, out->h, COMP_TEX, COMP_TEX);
    }
    return 0;
}

int vol_prepare_landmarks(const char *dir, SlErr *err) {
    char **ids;
    int n = list_ids(dir, &ids, err);
    if (n < 0) return -1;
    HaarCascade *hc = NULL;
    LmModel *lm = NULL;
    int rc = haar_load(haar_default_path(HAAR_FRONTALFACE_DEFAULT), &hc, err);
    if (!rc) rc = lm_load(lm_default_path(), &lm, err);
    for (int i = 0; i < n && !rc; i++) {
        for (int w = 0; w < 2 && !rc; w++) {
            char path[4096], name[160];
            snprintf(name, sizeof name, "%s_%s.jpg", ids[i], w ? "smiling" : "neutral");
            sl_path_join(path, sizeof path, dir, name);
            Image img;
            if ((rc = image_load(path, 3, &img, err))) break;
            uint8_t *grey = haar_grey_from_image(&img);
            HaarParams hp = haar_params_default();
            HaarBox *boxes;
            int nb = haar_detect(hc, grey, img.w, img.h, &hp, &boxes);
            free(grey);
            if (nb <= 0) {
                image_free(&img);
                rc = sl_fail(err, "%s: no face found by the Haar cascade", path);
                break;
            }
            int best = 0;
            for (int b = 1; b < nb; b++)
                if (boxes[b].w > boxes[best].w) best = b;
            uint8_t *in = lm_intensity_from_image(&img);
            double xy[2 * 68];
            lm_predict(lm, in, img.w, img.h, lm_rect_from_haar(boxes[best].x, boxes[best].y, boxes[best].w, boxes[best].h), xy);
            free(in), free(boxes);
            image_free(&img);
            snprintf(name, sizeof name, "%s_%s.lm68", ids[i], w ? "smiling" : "neutral");
            sl_path_join(path, sizeof path, dir, name);
            rc = write_points(path, 68, xy, err);
        }
    }
    if (hc) haar_free(hc);
    if (lm) lm_free(lm);
    sl_free_list(ids, n);
    return rc;
}
