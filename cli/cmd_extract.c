/* cmd_extract.c — `swaplab extract`: finds faces in volunteers' photos (OpenCV Haar cascade,
 * data/haar.h), places 68 landmarks on each (dlib's shape predictor, data/landmarks.h), aligns and
 * crops them into a face set (data/faceset.h) and writes a DRAFT consent manifest (data/consent.h)
 * that `swaplab consent init` completes. How it works: docs/EXTRACT.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/align.h"
#include "data/consent.h"
#include "data/exif.h"
#include "data/faceset.h"
#include "data/haar.h"
#include "data/landmarks.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/progress.h"

#define CMD "extract"

typedef struct {
    char **v;
    int n, cap;
} PathList;

static void pl_add(PathList *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = xstrdup(s);
}

typedef struct {
    char *text;
    size_t len, cap;
} Buf;

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[SL_PATH_MAX];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    size_t n = (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->text = xrealloc(b->text, b->cap);
    }
    memcpy(b->text + b->len, tmp, n);
    b->len += n;
    b->text[b->len] = 0;
}

/* One line of the report: no tabs or newlines from file names. */
static void clean(char *s) {
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r') *s = ' ';
}

static int box_area_cmp(const HaarBox *a, const HaarBox *b) {
    long aa = (long)a->w * a->h, bb = (long)b->w * b->h;
    return aa > bb ? 1 : aa < bb ? -1 : 0;
}

int cmd_extract(int argc, char **argv) {
    SlStrList in = {0};
    const char *out = NULL, *subject = NULL, *cascade = "default";
    int size = 128, min_face = 40, all = 0, detect_size = 1024;
    double coverage = ALIGN_DEFAULT_COVERAGE;
    SlArg spec[] = {
        {"--in", SL_ARG_LIST, &in, "PATH", "photos, or directories of photos (PNG, JPEG, BMP, PGM/PPM); required"},
        {"--out", SL_ARG_STR, &out, "FACESET", "the face-set directory to create; required"},
        {"--subject", SL_ARG_STR, &subject, "ID", "the volunteer's pseudonym (never a real name); required"},
        {"--size", SL_ARG_INT, &size, "N", "side of the aligned crops in pixels (default 128)", 16, 4096},
        {"--coverage", SL_ARG_DOUBLE, &coverage, "F", "fraction of the crop the face template fills (default 0.625)", 0.05, 1.5},
        {"--min-face", SL_ARG_INT, &min_face, "PX", "smallest face to detect, in pixels (default 40)", 20, 100000},
        {"--all", SL_ARG_FLAG, &all, NULL, "keep every face of a photo, not only the largest"},
        {"--cascade", SL_ARG_STR, &cascade, "NAME", "Haar cascade: default or alt2 (default: default)"},
        {"--detect-size", SL_ARG_INT, &detect_size, "PX", "detect on a copy scaled to at most PX a side (default 1024; 0 = full size)", 0, 16384},
        {0},
    };
    int r = sl_args_parse(CMD, "--in PATH... --out FACESET --subject ID [--size N] [--coverage F] [--min-face PX] [--all] [--cascade NAME] [--detect-size PX]",
                          "Finds faces in volunteers' photos, places 68 landmarks, aligns and crops them into\n"
                          "a face set (aligned/, frames/, faces.jsonl) and writes a DRAFT consent.json: nothing\n"
                          "can be trained on it until `swaplab consent init` records the subject's consent.\n"
                          "Photos without a face are listed in FACESET/extract_report.txt, not an error.\n"
                          "Models: OpenCV's Haar cascade (BSD-3, Debian opencv-data) and dlib's 68-point\n"
                          "predictor (trained on iBUG 300-W: non-commercial use only; Debian libdlib-data).",
                          spec, argc, argv, NULL);
    if (r) {
        free(in.v);
        return r == 1 ? 0 : 2;
    }
    int rc = 2;
    if (in.n == 0) rc = sl_usage_error(CMD, "--in is required");
    else if (!out) rc = sl_usage_error(CMD, "--out is required");
    else if (!subject || !*subject) rc = sl_usage_error(CMD, "--subject is required");
    else if (size < 16 || size > 4096) rc = sl_usage_error(CMD, "--size must be 16 to 4096");
    else if (!(coverage > 0.05 && coverage <= 1.5)) rc = sl_usage_error(CMD, "--coverage must be in (0.05, 1.5]");
    else if (min_face < 20 || min_face > 100000) rc = sl_usage_error(CMD, "--min-face must be 20 to 100000");
    else if (detect_size != 0 && (detect_size < 64 || detect_size > 16384))
        rc = sl_usage_error(CMD, "--detect-size must be 0 or 64 to 16384");
    else if (strcmp(cascade, "default") != 0 && strcmp(cascade, "alt2") != 0)
        rc = sl_usage_error(CMD, "--cascade must be default or alt2");
    else rc = 0;
    if (rc) {
        free(in.v);
        return rc;
    }

    SlErr err;
    /* the inputs: files as given, directories listed (every regular file, sorted by name) */
    PathList files = {0};
    for (int i = 0; i < in.n; i++) {
        if (sl_is_dir(in.v[i])) {
            char **names;
            int n = sl_list_dir(in.v[i], NULL, &names, &err);
            if (n < 0) {
                fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
                rc = 1;
                break;
            }
            for (int k = 0; k < n; k++) {
                if (names[k][0] == '.') continue;
                char p[8192];
                sl_path_join(p, sizeof p, in.v[i], names[k]);
                pl_add(&files, p);
            }
            sl_free_list(names, n);
        } else if (sl_is_file(in.v[i])) {
            pl_add(&files, in.v[i]);
        } else {
            SlErr why;
            if (!sl_check_regular(in.v[i], &why)) sl_fail(&why, "%s: not a file or directory", in.v[i]);
            fprintf(stderr, "swaplab %s: %s\n", CMD, why.msg);
            rc = 1;
            break;
        }
    }
    free(in.v);
    HaarCascade *hc = NULL;
    LmModel *lm = NULL;
    FaceSetWriter fw;
    int writer_open = 0;
    if (!rc && files.n == 0) {
        fprintf(stderr, "swaplab %s: no input files\n", CMD);
        rc = 1;
    }
    if (!rc && haar_load(haar_default_path(strcmp(cascade, "alt2") == 0 ? HAAR_FRONTALFACE_ALT2 : HAAR_FRONTALFACE_DEFAULT), &hc, &err)) {
        fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
        rc = 1;
    }
    if (!rc && lm_load(lm_default_path(), &lm, &err)) {
        fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
        rc = 1;
    }
    if (!rc && faceset_writer_open(&fw, out, size, (float)coverage, 1, &err)) {
        fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
        rc = 1;
    }
    if (!rc) writer_open = 1;

    Buf report = {0};
    int nread = 0, nfaces = 0, nnoface = 0, nbad = 0, nfail = 0;
    if (!rc) {
        buf_printf(&report, "# swaplab extract report: one line per input file: file, status, detail\n");
        buf_printf(&report, "# status: faces (the face-set indices), no-face, unreadable, failed\n");
        HaarParams hp = haar_params_default();
        hp.min_w = hp.min_h = min_face;
        hp.threads = 0; /* pyramid levels on every OpenMP thread; same boxes */
        SlProgress prog;
        sl_progress_begin(&prog, "extract", files.n);
        for (int i = 0; i < files.n; i++) {
            char name[SL_PATH_MAX];
            snprintf(name, sizeof name, "%s", files.v[i]);
            clean(name);
            Image img;
            int orient;
            if (exif_load_image(files.v[i], 3, &img, &orient, &err)) {
                nbad++;
                clean(err.msg);
                buf_printf(&report, "%s\tunreadable\t%s\n", name, err.msg);
                sl_progress_update(&prog, i + 1, NULL);
                continue;
            }
            nread++;
            uint8_t *grey = haar_grey_from_image(&img);
            HaarBox *boxes;
            int nb;
            int big = img.w > img.h ? img.w : img.h;
            if (detect_size > 0 && big > detect_size) {
                /* large photos: detect on a smaller copy (the same resize as the pyramid), then
                 * scale the boxes back; landmarks still use the full-size photo */
                double k = (double)big / detect_size;
                int dw = (int)lrint(img.w / k), dh = (int)lrint(img.h / k);
                if (dw < 1) dw = 1;
                if (dh < 1) dh = 1;
                uint8_t *small = xmalloc((size_t)dw * dh);
                haar_resize_exact(grey, img.w, img.h, small, dw, dh);
                HaarParams sp = hp;
                sp.min_w = sp.min_h = (int)ceil(min_face / k);
                nb = haar_detect(hc, small, dw, dh, &sp, &boxes);
                for (int q = 0; q < nb; q++) {
                    boxes[q].x = (int)lrint(boxes[q].x * k);
                    boxes[q].y = (int)lrint(boxes[q].y * k);
                    boxes[q].w = (int)lrint(boxes[q].w * k);
                    boxes[q].h = (int)lrint(boxes[q].h * k);
                }
                free(small);
            } else {
                nb = haar_detect(hc, grey, img.w, img.h, &hp, &boxes);
            }
            free(grey);
            if (nb == 0) {
                nnoface++;
                buf_printf(&report, "%s\tno-face\t%dx%d, no face of at least %d px found\n", name, img.w, img.h, min_face);
            } else {
                /* largest first (stable for equal areas: boxes come sorted by position) */
                for (int a = 1; a < nb; a++)
                    for (int b = a; b > 0 && box_area_cmp(&boxes[b], &boxes[b - 1]) > 0; b--) {
                        HaarBox t = boxes[b];
                        boxes[b] = boxes[b - 1];
                        boxes[b - 1] = t;
                    }
                int keep = all ? nb : 1;
                uint8_t *inten = lm_intensity_from_image(&img);
                Buf idx = {0};
                for (int k = 0; k < keep; k++) {
                    LmRect box = lm_rect_from_haar(boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h);
                    double xy[2 * ALIGN_NLM];
                    lm_predict(lm, inten, img.w, img.h, box, xy);
                    float pts[ALIGN_NLM][2];
                    /* dlib's points are pixel indices; align.h puts pixel centres at +0.5 */
                    for (int q = 0; q < ALIGN_NLM; q++) {
                        pts[q][0] = (float)(xy[2 * q] + 0.5);
                        pts[q][1] = (float)(xy[2 * q + 1] + 0.5);
                    }
                    int fi = faceset_writer_add(&fw, &img, pts, NULL, &err);
                    if (fi < 0) {
                        nfail++;
                        clean(err.msg);
                        buf_printf(&report, "%s\tfailed\tface at %d,%d %dx%d: %s\n", name, boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h, err.msg);
                        continue;
                    }
                    nfaces++;
                    buf_printf(&idx, "%s%d (box %d,%d %dx%d)", idx.len ? ", " : "", fi, boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h);
                }
                if (idx.len)
                    buf_printf(&report, "%s\tfaces\t%s%s%s\n", name, idx.text,
                               orient != 1 ? "; EXIF orientation applied" : "",
                               !all && nb > 1 ? "; other boxes ignored (use --all)" : "");
                free(idx.text);
                free(inten);
            }
            free(boxes);
            image_free(&img);
            char extra[64];
            snprintf(extra, sizeof extra, "faces %d", nfaces);
            sl_progress_update(&prog, i + 1, extra);
        }
        char summary[256];
        snprintf(summary, sizeof summary, "%d images, %d faces", nread, nfaces);
        sl_progress_end(&prog, summary);

        if (faceset_writer_finish(&fw, &err)) {
            fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
            rc = 1;
        }
        char rp[SL_PATH_MAX];
        sl_path_join(rp, sizeof rp, out, "extract_report.txt");
        if (!rc && sl_write_atomic(rp, report.text, report.len, &err)) {
            fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
            rc = 1;
        }
        if (!rc) {
            char src[512];
            snprintf(src, sizeof src, "subject %s: %d faces extracted by swaplab extract from %d photos (%s)", subject,
                     nfaces, nread, files.n == 1 ? files.v[0] : "see extract_report.txt");
            if (consent_write_draft(out, src, &err)) {
                fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
                rc = 1;
            }
        }
        if (!rc) {
            printf("%s: %d files, %d images read, %d faces extracted; %d without a face, %d unreadable, %d failed\n",
                   out, files.n, nread, nfaces, nnoface, nbad, nfail);
            if (nnoface + nbad + nfail) printf("details: %s\n", rp);
            printf("consent.json is a DRAFT: run `swaplab consent init %s ...` once %s has signed the consent form\n", out, subject);
        }
    }
    free(report.text);
    if (writer_open) faceset_writer_free(&fw);
    haar_free(hc);
    lm_free(lm);
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    return rc;
}
