/* bench_synth.c — measures the synthetic-volunteer renderers. Composites of consented volunteers
 * (data/synth/composite.h; --composite runs only this part): (d) frames per CPU-second at 256x256,
 * (e) Haar detection (haar.c, default cascade) and dlib landmarks (landmarks.c) on 200 random
 * frontal frames against the rendered landmarks, (f) leave-one-out 1-NN identity accuracy over 20
 * composites (LBP descriptor), (g) each composite's distance to each contributor against that
 * contributor's own neutral-to-smiling distance; --composite-sheet PNG writes their contact sheet.
 * Cartoon heads (data/synth/synth.h): (a) frames per second at 256x256 on
 * one core, (b) mean PSNR of each identity's mean image against its frames (low = frames of one
 * person really differ), (c) leave-one-out nearest-neighbour identity accuracy on face crops (high
 * = people stay distinguishable). Also writes the contact sheet (--sheet) and a landmark preview
 * (--preview). Usage: bench_synth [--quick] [--no-pose] [--no-light] [--sheet PNG] [--preview PNG];
 * --no-pose / --no-light keep every frame of (b) and (c) frontal / under the neutral light, to show
 * which frame factor the pixel nearest-neighbour measure cannot see through. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stb_truetype.h>
#include <time.h>

#include "data/haar.h"
#include "data/landmarks.h"
#include "data/synth/composite.h"
#include "data/synth/synth.h"
#include "util/fs.h"

#define SHEET_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

/* CPU seconds of this thread: on a shared machine wall time also counts other programs' turns */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die_err(const SlErr *e) {
    fprintf(stderr, "bench_synth: %s\n", e->msg);
    exit(1);
}

static void blit(Image *dst, const Image *src, int ox, int oy) {
    for (int y = 0; y < src->h; y++)
        memcpy(dst->px + ((size_t)(oy + y) * dst->w + ox) * 3, src->px + (size_t)y * src->w * 3,
               (size_t)src->w * 3);
}

static void dot(Image *im, float fx, float fy, const uint8_t *c) {
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int x = (int)floorf(fx) + dx, y = (int)floorf(fy) + dy;
            if (x < 0 || y < 0 || x >= im->w || y >= im->h) continue;
            memcpy(im->px + ((size_t)y * im->w + x) * 3, c, 3);
        }
}

/* The five contact-sheet frames: neutral, smile, open mouth + raised brows, yaw ±30, pitch/roll
 * with another light. */
static void sheet_frame(SynthFrame *f, int col, int row) {
    synth_frame_neutral(f);
    switch (col) {
    case 1: f->smile = 0.9f; break;
    case 2: f->mouth_open = 0.8f; f->brow_raise = 1; break;
    case 3: f->yaw = row % 2 ? -30.0f : 30.0f; f->gaze_x = row % 2 ? -0.4f : 0.4f; break;
    case 4:
        f->pitch = row % 2 ? 15.0f : -15.0f;
        f->roll = row % 2 ? -15.0f : 15.0f;
        f->light_dir[0] = -0.9f;
        f->light_dir[1] = 0.5f;
        f->light_dir[2] = 0.5f;
        f->light_temp = 0.8f;
        f->bg_kind = 3;
        f->bg_rgb1[0] = 0.55f; f->bg_rgb1[1] = 0.45f; f->bg_rgb1[2] = 0.35f;
        f->bg_seed = 7 + (uint32_t)row;
        break;
    default: break;
    }
}

/* White text on im from the top-left corner (x0, y0), px pixels tall (stb_truetype,
 * https://github.com/nothings/stb/blob/master/stb_truetype.h). */
static void draw_text(Image *im, const stbtt_fontinfo *font, float px, int x0, int y0, const char *s) {
    float scale = stbtt_ScaleForPixelHeight(font, px), x = (float)x0;
    int asc;
    stbtt_GetFontVMetrics(font, &asc, NULL, NULL);
    int base = y0 + (int)((float)asc * scale);
    for (const char *p = s; *p; p++) {
        int adv, lsb, w, h, xo, yo;
        stbtt_GetCodepointHMetrics(font, *p, &adv, &lsb);
        unsigned char *bm = stbtt_GetCodepointBitmap(font, 0, scale, *p, &w, &h, &xo, &yo);
        for (int j = 0; bm && j < h; j++)
            for (int i = 0; i < w; i++) {
                int X = (int)x + xo + i, Y = base + yo + j;
                if (X < 0 || Y < 0 || X >= im->w || Y >= im->h) continue;
                uint8_t *d = im->px + ((size_t)Y * im->w + X) * 3;
                for (int c = 0; c < 3; c++) d[c] = (uint8_t)(d[c] + (255 - d[c]) * bm[j * w + i] / 255);
            }
        stbtt_FreeBitmap(bm, NULL);
        x += (float)adv * scale;
    }
}

static void write_sheet(const char *path, int tile) {
    static const char *labels[5] = {"neutral", "smile", "mouth open, brows up", "yaw +30 / -30",
                                    "pitch, roll, side light"};
    char *ttf = NULL;
    size_t len;
    stbtt_fontinfo font;
    int have_font = sl_read_file(SHEET_FONT, 16u << 20, &ttf, &len, NULL) == 0 &&
                    stbtt_InitFont(&font, (const unsigned char *)ttf, 0);
    int head = have_font ? 24 : 0;
    Image sheet = image_new(5 * tile, 6 * tile + head, 3);
    memset(sheet.px, 40, (size_t)sheet.w * head * 3);
    for (int col = 0; col < 5 && have_font; col++) draw_text(&sheet, &font, 15, col * tile + 6, 4, labels[col]);
    for (int row = 0; row < 6; row++) {
        SlRng r;
        sl_rng_seed(&r, 1000 + (uint64_t)row);
        SynthIdentity id;
        synth_identity_random(&id, &r);
        id.hair_style = row % SYNTH_HAIR_STYLES; /* show every hair style */
        for (int col = 0; col < 5; col++) {
            SynthFrame f;
            sheet_frame(&f, col, row);
            Image im;
            float lm[68][2];
            synth_render(&id, &id, &f, tile, &im, lm);
            blit(&sheet, &im, col * tile, head + row * tile);
            image_free(&im);
        }
    }
    free(ttf);
    SlErr err;
    if (image_save_png(path, &sheet, NULL, 0, &err)) die_err(&err);
    image_free(&sheet);
    printf("wrote %s (6 identities x 5 frames, %d px tiles%s)\n", path, tile, have_font ? ", labelled" : "");
}

static void write_preview(const char *path) {
    const int S = 256, C = 4, R = 3;
    Image sheet = image_new(C * S, R * S, 3);
    for (int i = 0; i < C * R; i++) {
        SlRng r;
        sl_rng_seed(&r, 77 + (uint64_t)i);
        SynthIdentity id;
        SynthFrame f;
        synth_identity_random(&id, &r);
        if (i < 4) {
            synth_frame_neutral(&f);
            if (i == 1) f.yaw = 35;
            if (i == 2) f.pitch = 20;
            if (i == 3) { f.yaw = -30; f.mouth_open = 1; f.smile = 1; }
        } else {
            synth_frame_random(&f, &r);
        }
        Image im;
        float lm[68][2];
        synth_render(&id, &id, &f, S, &im, lm);
        for (int p = 0; p < 68; p++) {
            uint8_t c[3] = {255, 40, 40};
            if (p >= 17) { c[0] = 40; c[1] = 255; }
            if (p >= 36) { c[1] = 40; c[2] = 255; }
            if (p >= 48) { c[0] = 255; c[1] = 255; c[2] = 0; }
            if (p == 0 || p == 36 || p == 48) { c[0] = 255; c[1] = 255; c[2] = 255; }
            dot(&im, lm[p][0], lm[p][1], c);
        }
        blit(&sheet, &im, (i % C) * S, (i / C) * S);
        image_free(&im);
    }
    SlErr err;
    if (image_save_png(path, &sheet, NULL, 0, &err)) die_err(&err);
    image_free(&sheet);
    printf("wrote %s\n", path);
}

/* Is (x, y) inside the face outline: the jaw 0..16 closed over the brows 26..17? */
static int in_face(float lm[68][2], float x, float y) {
    float px[27], py[27];
    int n = 0;
    for (int i = 0; i <= 16; i++) px[n] = lm[i][0], py[n++] = lm[i][1];
    for (int i = 26; i >= 17; i--) px[n] = lm[i][0], py[n++] = lm[i][1];
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++)
        if ((py[i] > y) != (py[j] > y) && x < (px[j] - px[i]) * (y - py[i]) / (py[j] - py[i]) + px[i]) in = !in;
    return in;
}

/* Bilinear crop of the landmarks' bounding square (enlarged by `grow`) to out x out RGB floats;
 * with mask, pixels outside the face outline are 0. */
static void bbox_crop(const Image *im, float lm[68][2], float grow, int mask, int out, float *dst) {
    float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
    for (int i = 0; i < 68; i++) {
        x0 = fminf(x0, lm[i][0]); x1 = fmaxf(x1, lm[i][0]);
        y0 = fminf(y0, lm[i][1]); y1 = fmaxf(y1, lm[i][1]);
    }
    float side = grow * fmaxf(x1 - x0, y1 - y0), cx = 0.5f * (x0 + x1), cy = 0.5f * (y0 + y1);
    for (int y = 0; y < out; y++)
        for (int x = 0; x < out; x++) {
            float sx = cx + ((x + 0.5f) / out - 0.5f) * side - 0.5f;
            float sy = cy + ((y + 0.5f) / out - 0.5f) * side - 0.5f;
            if (mask && !in_face(lm, sx + 0.5f, sy + 0.5f)) {
                for (int c = 0; c < 3; c++) dst[((size_t)y * out + x) * 3 + c] = 0;
                continue;
            }
            int ix = (int)floorf(sx), iy = (int)floorf(sy);
            float fx = sx - ix, fy = sy - iy;
            for (int c = 0; c < 3; c++) {
                float v = 0;
                for (int k = 0; k < 4; k++) {
                    int xx = ix + (k & 1), yy = iy + (k >> 1);
                    xx = xx < 0 ? 0 : xx >= im->w ? im->w - 1 : xx;
                    yy = yy < 0 ? 0 : yy >= im->h ? im->h - 1 : yy;
                    float w = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
                    v += w * im->px[((size_t)yy * im->w + xx) * 3 + c];
                }
                dst[((size_t)y * out + x) * 3 + c] = v;
            }
        }
}

/* ---- composites -------------------------------------------------------------------------------- */
static void open_lib(VolunteerLib *lib) {
    char dir[4096];
    vol_default_dir(dir, sizeof dir);
    SlErr err;
    if (vol_lib_open(dir, lib, &err)) die_err(&err);
}

/* The recipe as synth draws it (composite_recipe_draw_distinct); draw_cpu (may be NULL) gets the
 * CPU time of that draw, redrawn is set when the first plain draw was refused. */
static void build_seed(const VolunteerLib *lib, uint64_t seed, CompositeRecipe *r, Composite *c, SlRng *rng,
                       double *draw_cpu, int *redrawn) {
    sl_rng_seed(rng, seed);
    SlRng plain_rng = *rng;
    CompositeRecipe plain;
    composite_recipe_draw(lib, &plain_rng, &plain);
    SlErr err;
    double c0 = cpu_now();
    if (composite_recipe_draw_distinct(lib, rng, r, &err)) die_err(&err);
    if (draw_cpu) *draw_cpu = cpu_now() - c0;
    if (redrawn) *redrawn = memcmp(&plain, r, sizeof plain) != 0;
    if (composite_build(lib, r, c, &err)) die_err(&err);
}

/* The contact-sheet columns: neutral, smile, open mouth + raised brows, yaw +-30, pitch/roll with
 * side light; each row another composite on its own background. */
static void comp_sheet_frame(CompFrame *f, int col, int row) {
    composite_frame_neutral(f);
    SynthFrame *s = &f->f;
    s->bg_kind = row % SYNTH_BG_KINDS;
    s->bg_seed = 11 + (uint32_t)row;
    static const float bg[6][3] = {{0.55f, 0.6f, 0.68f}, {0.75f, 0.7f, 0.6f}, {0.35f, 0.45f, 0.4f},
                                   {0.6f, 0.5f, 0.55f}, {0.3f, 0.33f, 0.4f}, {0.8f, 0.8f, 0.78f}};
    for (int q = 0; q < 3; q++) s->bg_rgb1[q] = bg[row % 6][q], s->bg_rgb2[q] = bg[row % 6][q] * 0.7f;
    s->noise_sigma = 1.5f;
    f->jpeg_quality = 90;
    switch (col) {
    case 1: s->smile = 1; break;
    case 2: s->mouth_open = 0.8f; s->brow_raise = 1; break;
    case 3: s->yaw = row % 2 ? -30.0f : 30.0f; s->gaze_x = row % 2 ? -0.3f : 0.3f; break;
    case 4:
        s->pitch = row % 2 ? 15.0f : -15.0f;
        s->roll = row % 2 ? -15.0f : 15.0f;
        s->light_dir[0] = -0.9f, s->light_dir[1] = 0.5f, s->light_dir[2] = 0.6f;
        s->light_temp = 0.6f;
        break;
    default: break;
    }
}

static void write_comp_sheet(const char *path, int tile) {
    static const char *labels[5] = {"neutral", "smile", "mouth open, brows up", "yaw +30 / -30", "pitch, roll, side light"};
    VolunteerLib lib;
    open_lib(&lib);
    char *ttf = NULL;
    size_t len;
    stbtt_fontinfo font;
    int have_font = sl_read_file(SHEET_FONT, 16u << 20, &ttf, &len, NULL) == 0 &&
                    stbtt_InitFont(&font, (const unsigned char *)ttf, 0);
    int head = have_font ? 24 : 0;
    Image sheet = image_new(5 * tile, 6 * tile + head, 3);
    memset(sheet.px, 40, (size_t)sheet.w * head * 3);
    for (int col = 0; col < 5 && have_font; col++) draw_text(&sheet, &font, 15, col * tile + 6, 4, labels[col]);
    for (int row = 0; row < 6; row++) {
        CompositeRecipe r;
        Composite c;
        SlRng rng;
        build_seed(&lib, 2000 + (uint64_t)row, &r, &c, &rng, NULL, NULL);
        for (int col = 0; col < 5; col++) {
            CompFrame f;
            comp_sheet_frame(&f, col, row);
            Image im;
            float lm[68][2];
            composite_render(&lib, &c, &f, tile, &im, lm);
            blit(&sheet, &im, col * tile, head + row * tile);
            image_free(&im);
        }
        composite_free(&c);
    }
    free(ttf);
    SlErr err;
    if (image_save_png(path, &sheet, NULL, 0, &err)) die_err(&err);
    image_free(&sheet);
    vol_lib_free(&lib);
    printf("wrote %s (6 composites x 5 frames, %d px tiles%s)\n", path, tile, have_font ? ", labelled" : "");
}

static void bench_composite(int quick) {
    VolunteerLib lib;
    open_lib(&lib);
    SlErr err;
    const int NC = 20, NF = quick ? 3 : 10; /* composites; frontal frames each for (e) and (f) */
    /* (d) speed */
    double b0 = cpu_now(), draw_s = 0;
    CompositeRecipe rec[20];
    Composite *comp = xcalloc(NC, sizeof *comp);
    SlRng rng[20];
    int redrawn = 0;
    for (int n = 0; n < NC; n++) {
        double d;
        int re;
        build_seed(&lib, 3000 + (uint64_t)n, &rec[n], &comp[n], &rng[n], &d, &re);
        draw_s += d, redrawn += re;
    }
    double build_s = (cpu_now() - b0 - draw_s) / NC;
    int nf = quick ? 40 : 400;
    SlRng r;
    sl_rng_seed(&r, 42);
    double c0 = cpu_now(), t0 = sl_now();
    uint64_t check = 0;
    for (int i = 0; i < nf; i++) {
        CompFrame f;
        composite_frame_random(&f, &r);
        Image im;
        float lm[68][2];
        composite_render(&lib, &comp[i % NC], &f, 256, &im, lm);
        check += im.px[(size_t)128 * 256 * 3];
        image_free(&im);
    }
    double dc = cpu_now() - c0, dt = sl_now() - t0;
    printf("composite render 256x256, one thread: %d frames (random pose, expression, light, camera, JPEG) in %.2f s CPU = "
           "%.0f frames per CPU-second (%.2f s wall; checksum %llu); building a composite: %.3f CPU-s\n",
           nf, dc, nf / dc, dt, (unsigned long long)check, build_s);
    printf("  drawing its recipe with the likeness check (composite_recipe_draw_distinct, margin %.2f): %.3f CPU-s a "
           "composite; %d of %d first draws refused and redrawn\n",
           (double)COMP_DISTINCT_MARGIN, draw_s / NC, redrawn, NC);
    /* (e) Haar + landmarks on random frontal frames; (f) identity descriptors of the same frames */
    HaarCascade *hc;
    LmModel *lmm;
    if (haar_load(haar_default_path(HAAR_FRONTALFACE_DEFAULT), &hc, &err)) die_err(&err);
    if (lm_load(lm_default_path(), &lmm, &err)) die_err(&err);
    HaarParams hp = haar_params_default();
    int found = 0, total = 0, nlm = 0;
    double nme_sum = 0, nme_max = 0;
    float(*desc)[COMP_DESC_LEN] = xmalloc(sizeof(float[COMP_DESC_LEN]) * NC * NF);
    for (int n = 0; n < NC; n++) {
        for (int k = 0; k < NF; k++) {
            CompFrame f;
            composite_frame_random(&f, &rng[n]);
            f.f.yaw *= 0.15f, f.f.pitch *= 0.2f, f.f.roll *= 0.2f; /* frontal: within 4.5, 3, 3 degrees */
            Image im;
            float gt[68][2];
            composite_render(&lib, &comp[n], &f, 256, &im, gt);
            if (composite_descriptor(&im, gt, desc[n * NF + k], &err)) die_err(&err);
            float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
            for (int q = 0; q < 68; q++) {
                x0 = fminf(x0, gt[q][0]), x1 = fmaxf(x1, gt[q][0]);
                y0 = fminf(y0, gt[q][1]), y1 = fmaxf(y1, gt[q][1]);
            }
            uint8_t *g = haar_grey_from_image(&im);
            HaarBox *b;
            int nb = haar_detect(hc, g, im.w, im.h, &hp, &b), hit = -1;
            for (int q = 0; q < nb; q++) {
                float cx = b[q].x + b[q].w / 2.f, cy = b[q].y + b[q].h / 2.f;
                if (cx > x0 && cx < x1 && cy > y0 && cy < y1 && (hit < 0 || b[q].w > b[hit].w)) hit = q;
            }
            total++;
            if (hit >= 0) {
                found++;
                uint8_t *in = lm_intensity_from_image(&im);
                double xy[136];
                lm_predict(lmm, in, im.w, im.h, lm_rect_from_haar(b[hit].x, b[hit].y, b[hit].w, b[hit].h), xy);
                double io = hypot((gt[36][0] + gt[39][0] - gt[42][0] - gt[45][0]) / 2, (gt[36][1] + gt[39][1] - gt[42][1] - gt[45][1]) / 2);
                double e = 0;
                for (int q = 0; q < 68; q++) e += hypot(xy[2 * q] + 0.5 - gt[q][0], xy[2 * q + 1] + 0.5 - gt[q][1]);
                double nme = e / 68 / io;
                nme_sum += nme, nme_max = fmax(nme_max, nme), nlm++;
                free(in);
            }
            free(b), free(g);
            image_free(&im);
        }
    }
    printf("composite frontal frames (%d composites x %d random frames: |yaw| <= 4.5, |pitch|, |roll| <= 3 degrees; random "
           "expression, light, background, blur, noise, JPEG; 256x256):\n", NC, NF);
    printf("  Haar default cascade finds %d/%d (%.1f%%)\n", found, total, 100.0 * found / total);
    printf("  dlib landmarks on the found faces vs the rendered ones: mean %.2f%% of the inter-ocular distance (worst frame %.1f%%)\n",
           100 * nme_sum / (nlm ? nlm : 1), 100 * nme_max);
    int right = 0;
    for (int q = 0; q < NC * NF; q++) {
        int best = -1;
        float bd = 1e30f;
        for (int o = 0; o < NC * NF; o++)
            if (o != q) {
                float d = composite_desc_dist(desc[q], desc[o]);
                if (d < bd) bd = d, best = o;
            }
        right += best / NF == q / NF;
    }
    printf("  leave-one-out 1-NN identity accuracy (LBP descriptor): %d/%d = %.1f%% (chance %.0f%%)\n", right, NC * NF,
           100.0 * right / (NC * NF), 100.0 / NC);
    /* (g) no composite closer to a contributor than the contributor's own two photos */
    int pairs = 0, closer = 0, within = 0;
    double min_ratio = 1e9, sum_ratio = 0;
    for (int n = 0; n < NC; n++) {
        CompFrame f;
        composite_frame_neutral(&f);
        Image im;
        float lm[68][2];
        composite_render(&lib, &comp[n], &f, 256, &im, lm);
        float dc_[COMP_DESC_LEN];
        if (composite_descriptor(&im, lm, dc_, &err)) die_err(&err);
        image_free(&im);
        for (int j = 0; j < rec[n].k; j++) {
            int v = rec[n].idx[j];
            float dp[2][COMP_DESC_LEN];
            for (int w = 0; w < 2; w++) {
                Image ph;
                if (vol_load_photo(&lib, v, w, &ph, &err)) die_err(&err);
                if (composite_descriptor(&ph, (const float(*)[2])lib.v[v].lm[w], dp[w], &err)) die_err(&err);
                image_free(&ph);
            }
            float d_self = composite_desc_dist(dp[0], dp[1]), d_comp = composite_desc_dist(dc_, dp[0]);
            double ratio = d_comp / d_self;
            pairs++, closer += ratio <= 1, within += ratio <= COMP_DISTINCT_MARGIN, sum_ratio += ratio;
            if (ratio <= COMP_DISTINCT_MARGIN || getenv("BENCH_SYNTH_VERBOSE"))
                printf("    composite %d, contributor %s (weight %.2f of %d): distance %.3f, own neutral-smiling %.3f\n", n,
                       lib.v[v].id, rec[n].w[j], rec[n].k, d_comp, d_self);
            if (ratio < min_ratio) min_ratio = ratio;
        }
    }
    printf("  composite (neutral frontal frame) vs each contributor's neutral photo, over that contributor's neutral-vs-smiling "
           "distance: %d pairs, %d closer, %d within the margin %.2f, ratio min %.3f, mean %.2f\n", pairs, closer, within,
           (double)COMP_DISTINCT_MARGIN, min_ratio, sum_ratio / pairs);
    free(desc);
    for (int n = 0; n < NC; n++) composite_free(&comp[n]);
    free(comp);
    haar_free(hc);
    lm_free(lmm);
    vol_lib_free(&lib);
}

int main(int argc, char **argv) {
    int quick = 0, no_pose = 0, no_light = 0, composite_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--no-pose")) no_pose = 1;   /* (b), (c) with frontal frames */
        else if (!strcmp(argv[i], "--no-light")) no_light = 1; /* (b), (c) under the neutral light */
        else if (!strcmp(argv[i], "--sheet") && i + 1 < argc) { write_sheet(argv[++i], 192); return 0; }
        else if (!strcmp(argv[i], "--preview") && i + 1 < argc) { write_preview(argv[++i]); return 0; }
        else if (!strcmp(argv[i], "--composite-sheet") && i + 1 < argc) { write_comp_sheet(argv[++i], 192); return 0; }
        else if (!strcmp(argv[i], "--composite")) composite_only = 1;
        else { fprintf(stderr, "usage: bench_synth [--quick] [--composite] [--no-pose] [--no-light] [--sheet PNG] [--preview PNG] [--composite-sheet PNG]\n"); return 2; }
    }
    bench_composite(quick);
    if (composite_only) return 0;
    /* (a) speed: random identity and frame per render, 256x256, this thread only */
    int nf = quick ? 40 : 400;
    SlRng r;
    sl_rng_seed(&r, 42);
    double t0 = sl_now(), c0 = cpu_now();
    uint64_t check = 0;
    for (int i = 0; i < nf; i++) {
        SynthIdentity id;
        SynthFrame f;
        synth_identity_random(&id, &r);
        synth_frame_random(&f, &r);
        Image im;
        float lm[68][2];
        synth_render(&id, &id, &f, 256, &im, lm);
        check += im.px[(size_t)128 * 256 * 3];
        image_free(&im);
    }
    double dt = sl_now() - t0, dc = cpu_now() - c0;
    printf("synth render 256x256, one thread: %d frames in %.2f s CPU = %.0f frames per CPU-second "
           "(%.2f s wall = %.0f frames/s; checksum %llu)\n",
           nf, dc, nf / dc, dt, nf / dt, (unsigned long long)check);

    /* (b) identity mean image vs its frames; (c) leave-one-out 1-NN identity accuracy on 16x16
     * crops: [0] the head (landmark box x2: face, hair, ears) of each frame re-rendered on one plain
     * background, [1] the inside of the face outline only (jaw + brows), from the frames as drawn */
    int NI = quick ? 6 : 20, NF = quick ? 6 : 10, S = 128, CS = 16;
    size_t np = (size_t)S * S * 3, cp = (size_t)CS * CS * 3;
    float *mean = xmalloc(np * sizeof *mean);
    float *crops[2];
    for (int v = 0; v < 2; v++) crops[v] = xmalloc((size_t)NI * NF * cp * sizeof *crops[v]);
    uint8_t *frames = xmalloc((size_t)NF * np);
    double psnr_sum = 0;
    for (int i = 0; i < NI; i++) {
        SlRng ri;
        sl_rng_seed(&ri, 5000 + (uint64_t)i);
        SynthIdentity id;
        synth_identity_random(&id, &ri);
        memset(mean, 0, np * sizeof *mean);
        for (int j = 0; j < NF; j++) {
            SynthFrame f, g;
            synth_frame_random(&f, &ri);
            synth_frame_neutral(&g);
            if (no_pose) f.yaw = f.pitch = f.roll = 0;
            if (no_light) {
                memcpy(f.light_dir, g.light_dir, sizeof g.light_dir);
                f.light_intensity = g.light_intensity;
                f.light_temp = g.light_temp;
            }
            Image im;
            float lm[68][2];
            synth_render(&id, &id, &f, S, &im, lm);
            memcpy(frames + (size_t)j * np, im.px, np);
            for (size_t p = 0; p < np; p++) mean[p] += im.px[p] / (float)NF;
            bbox_crop(&im, lm, 1.1f, 1, CS, crops[1] + ((size_t)i * NF + j) * cp);
            image_free(&im);
            f.bg_kind = g.bg_kind;
            memcpy(f.bg_rgb1, g.bg_rgb1, sizeof g.bg_rgb1);
            memcpy(f.bg_rgb2, g.bg_rgb2, sizeof g.bg_rgb2);
            synth_render(&id, &id, &f, S, &im, lm);
            bbox_crop(&im, lm, 2.0f, 0, CS, crops[0] + ((size_t)i * NF + j) * cp);
            image_free(&im);
        }
        for (int j = 0; j < NF; j++) {
            double se = 0;
            for (size_t p = 0; p < np; p++) {
                double d = frames[(size_t)j * np + p] - mean[p];
                se += d * d;
            }
            psnr_sum += 10 * log10(255.0 * 255.0 / (se / (double)np));
        }
    }
    printf("identity mean image vs its frames (%d identities x %d frames, %dx%d): mean PSNR %.2f dB\n", NI,
           NF, S, S, psnr_sum / (NI * NF));
    for (int v = 0; v < 2; v++) {
        int correct = 0;
        for (int n = 0; n < NI * NF; n++) {
            double best = 1e300;
            int who = -1;
            for (int m = 0; m < NI * NF; m++) {
                if (m == n) continue;
                double d = 0;
                const float *a = crops[v] + (size_t)n * cp, *b = crops[v] + (size_t)m * cp;
                for (size_t p = 0; p < cp; p++) d += (double)(a[p] - b[p]) * (a[p] - b[p]);
                if (d < best) { best = d; who = m / NF; }
            }
            correct += who == n / NF;
        }
        printf("1-NN identity accuracy, leave-one-out, %d identities x %d frames, %dx%d crops of %s: %.1f%%\n",
               NI, NF, CS, CS, v ? "the face inside its outline" : "the head on a plain background",
               100.0 * correct / (NI * NF));
    }
    free(mean);
    free(crops[0]);
    free(crops[1]);
    free(frames);
    return 0;
}
