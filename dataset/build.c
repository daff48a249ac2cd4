/* build.c — `swaplab dataset`'s pipeline (build.h): real samples, face-swap fakes and self-blended
 * fakes through one crop and one PNG path, so only the manipulation tells them apart; identity
 * splits; masks, landmarks, labels.csv, dataset.json and the DeepfakeBench index. */
#include "dataset/build.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/consent.h"
#include "data/faceset.h"
#include "data/video.h"
#include "dataset/export.h"
#include "dataset/sbi.h"
#include "infer/colour.h"
#include "infer/provenance.h"
#include "infer/staged.h"
#include "infer/swap_video.h"
#include "infer/watermark.h"
#include "nn/device.h"
#include "model/run.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/progress.h"
#include "util/rng.h"


void ds_config_default(DsConfig *c) {
    memset(c, 0, sizeof *c);
    c->frac[0] = 0.70, c->frac[1] = 0.15, c->frac[2] = 0.15;
    c->splits = "70/15/15";
    c->fakes = DS_FAKE_SWAP;
    c->with_label = 0; /* the visible label is a shortcut a detector learns (DsConfig) */
    swap_options_default(&c->swap);
    c->size = 0; /* the model's face size; DS_DEFAULT_SIZE without a model */
    c->seed = 1;
    c->frames_per_clip = DSX_DEFAULT_FRAMES_PER_CLIP;
    c->device = NULL; /* auto, quiet about the CPU fallback */
}

int ds_parse_method(const char *s, int *fakes, SlErr *err) {
    if (!strcmp(s, "swap")) *fakes = DS_FAKE_SWAP;
    else if (!strcmp(s, "sbi")) *fakes = DS_FAKE_SBI;
    else if (!strcmp(s, "swap+sbi") || !strcmp(s, "sbi+swap")) *fakes = DS_FAKE_SWAP | DS_FAKE_SBI;
    else return sl_fail(err, "--method must be swap, sbi or swap+sbi, not '%s'", s);
    return 0;
}

const char *ds_method_name(int fakes) {
    return fakes == DS_FAKE_SWAP ? "swap" : fakes == DS_FAKE_SBI ? "sbi" : "swap+sbi";
}

int ds_write_landmarks_npy(const char *path, const float lm[][2], int n, SlErr *err) {
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 2), }", n);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    size_t len = (size_t)total + pad + (size_t)n * 2 * sizeof(float);
    unsigned char *b = xmalloc(len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    int hlen = hl + pad + 1;
    b[8] = (unsigned char)(hlen & 0xff), b[9] = (unsigned char)(hlen >> 8);
    memcpy(b + 10, hdr, (size_t)hl);
    memset(b + 10 + hl, ' ', (size_t)pad);
    b[10 + hl + pad] = '\n';
    memcpy(b + 10 + hlen, lm, (size_t)n * 2 * sizeof(float)); /* little-endian hosts only (asserted by the build) */
    int rc = sl_write_atomic(path, b, len, err);
    free(b);
    return rc;
}

typedef struct {
    char dir[SL_PATH_MAX];
    ConsentInfo ci;
    FaceSet fs;
    int model_id;   /* decoder index in the model (swaps); -1 for an --into set */
    int into;       /* an --into set: a person the model need not know, test split only, whose frames
                       receive the faces of the model's test identities */
    int split;
    int *faces;     /* chosen face indices (ascending) */
    int n_faces;
    char safe[128]; /* subject as a file-name part */
    int n_real, n_fake;
    int *clip_face; /* faces from video: one face index per distinct clip (by SHA-256), in order */
    int n_clips;
    int idx;        /* its place in the identities sorted by subject (the one-process order) */
} DsIdentity;

/* The index in id->clip_face of face i's clip, or -1 for a photo. */
static int clip_of(const DsIdentity *id, int i) {
    const FaceRecord *r = &id->fs.faces[i];
    if (!r->clip[0]) return -1;
    for (int k = 0; k < id->n_clips; k++)
        if (!strcmp(id->fs.faces[id->clip_face[k]].clip_sha256, r->clip_sha256)) return k;
    SL_ASSERT(!"a face's clip is in the identity's clip list");
    return -1;
}

/* The id of clip k of id: SUBJECT_NAME-SHA8 (NAME the clip's file name without its extension). */
static void video_id(char *out, size_t n, const DsIdentity *id, int k) {
    const FaceRecord *r = &id->fs.faces[id->clip_face[k]];
    const char *base = strrchr(r->clip, '/');
    base = base ? base + 1 : r->clip;
    char name[200];
    snprintf(name, sizeof name, "%.199s", base);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
    char safe[200];
    dsx_safe_name(safe, sizeof safe, name);
    snprintf(out, n, "%.100s_%.120s-%.8s", id->safe, safe, r->clip_sha256);
}

static int cmp_ids(const void *a, const void *b) {
    return strcmp(((const DsIdentity *)a)->ci.subject, ((const DsIdentity *)b)->ci.subject);
}
static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* A sample written: identity `id` (the person in the frame), `source` (the identity whose face is
 * in it), the face, the method (DS_REAL, DS_SBI, DS_SWAP) and its place in id's samples. labels.csv
 * and the index are written from these at the end, in (id, seq) order: one process's order. */
enum { DS_REAL = 0, DS_SBI = 1, DS_SWAP = 2 };
typedef struct {
    int32_t id, source, face, method, seq;
} DsRec;

typedef struct {
    const DsConfig *c;
    const char *preset, *model_sha;
    uint32_t payload;
    const SlKeypair *key;
    FILE *csv;   /* labels.csv (rank 0, at the end) */
    json_t *dfb; /* label name -> split -> clip -> {"label", "frames"} (rank 0, at the end) */
    long done, skipped;
    SlProgress *prog;
    uint64_t seed;
    int failed; /* a sample could not be written (a full disk): err says why; nothing more is written */
    SlErr err;
    int seq;            /* the next sample's place in its identity's samples */
    DsRec *recs;        /* the samples this process wrote */
    int nrec, rcap;
    int stage;          /* ranks > 1: fakes staged until rank 0 has logged them (infer/staged.h) */
    StagedList staged;
} DsWriter;

/* The sample's path in the dataset: SPLIT/real/T_FACE.png, SPLIT/fake/T_sbi_FACE.png or
 * SPLIT/fake/T_to_S_FACE.png (T the target, S the source). */
static void sample_rel(char *rel, size_t n, const DsIdentity *target, const DsIdentity *source, int method, int i) {
    const char *sp = dsx_split_name(target->split);
    if (method == DS_REAL) snprintf(rel, n, "%s/real/%s_%06d.png", sp, target->safe, i);
    else if (method == DS_SBI) snprintf(rel, n, "%s/fake/%s_sbi_%06d.png", sp, target->safe, i);
    else snprintf(rel, n, "%s/fake/%s_to_%s_%06d.png", sp, target->safe, source->safe, i);
}

static void add_rec(DsWriter *w, const DsIdentity *target, const DsIdentity *source, int method, int face) {
    if (w->nrec == w->rcap) {
        w->rcap = w->rcap ? 2 * w->rcap : 256;
        w->recs = xrealloc(w->recs, sizeof *w->recs * (size_t)w->rcap);
    }
    w->recs[w->nrec++] = (DsRec){target->idx, source->idx, face, method, w->seq++};
}

/* A fake with provenance: written (and logged) at once in one process; under a launcher made and
 * staged with its log entry, keyed by its place in the one-process order (infer/staged.h). */
static int put_fake(DsWriter *w, const DsIdentity *target, const char *path, const Image *im,
                    const ProvenanceInfo *pi, SlErr *err) {
    if (!w->stage) return provenance_write_png(path, im, pi, w->key, err);
    ProvOutput po;
    if (provenance_make_png(path, im, pi, w->key, &po, err)) return -1;
    int r = staged_put(&w->staged, target->idx, w->seq, path, &po, err);
    prov_output_free(&po);
    return r;
}

/* A write failed (a full disk, a removed directory): remembered, and nothing more is written. */
static void write_failed(DsWriter *w, const SlErr *err) {
    if (!w->failed) w->err = *err;
    w->failed = 1;
}

/* The clip a sample (face i of target) belongs to: the video its frame came from
 * (SUBJECT_NAME-SHA8, video_id) or, for photos, one clip per identity (SUBJECT); a swap's clip is
 * "<target clip>_<source>" as FaceForensics++ names its fakes, a self-blended one "<clip>_sbi". */
static void clip_id(char *out, size_t n, const DsIdentity *target, const DsIdentity *source, const char *method, int i) {
    char base[300];
    int k = clip_of(target, i);
    if (k >= 0) video_id(base, sizeof base, target, k);
    else snprintf(base, sizeof base, "%s", target->safe);
    if (!strcmp(method, "original")) snprintf(out, n, "%s", base);
    else if (!strcmp(method, "sbi")) snprintf(out, n, "%.250s_sbi", base);
    else snprintf(out, n, "%.240s_%.50s", base, source->safe);
}

/* One labels.csv row. source = the identity whose face is in the sample's face region (for a swap
 * the inserted face), target = the person in the frame (FaceForensics++). */
static void csv_row(DsWriter *w, const char *rel, const char *method, const DsIdentity *source,
                    const DsIdentity *target, int face, const char *clip) {
    FILE *f = w->csv;
    int fake = strcmp(method, "original") != 0, swap = !strcmp(method, "swap");
    const DsConfig *c = w->c;
    dsx_csv_field(f, rel), fputc(',', f);
    fputs(fake ? "fake," : "real,", f);
    dsx_csv_field(f, source->ci.subject), fputc(',', f);
    dsx_csv_field(f, target->ci.subject), fputc(',', f);
    fprintf(f, "%s,%s,", dsx_split_name(target->split), method);
    if (swap) {
        dsx_csv_field(f, w->preset), fputc(',', f);
        dsx_csv_field(f, c->swap.mask_str), fputc(',', f);
        fprintf(f, "%s,%s,%s,%s,", c->swap.colour_str, c->swap.blend_str, c->with_label ? "1" : "0",
                w->model_sha);
    } else if (fake) {
        fprintf(f, ",sbi,jitter,alpha,%s,,", c->with_label ? "1" : "0");
    } else {
        fputs(",,,,0,,", f);
    }
    dsx_csv_field(f, target->fs.faces[face].source), fputc(',', f);
    fprintf(f, "%d,", face);
    dsx_csv_field(f, clip);
    const FaceRecord *r = &target->fs.faces[face];
    if (r->clip[0]) fprintf(f, ",%.6f\n", r->clip_time);
    else fputs(",\n", f);
}

static void skip_sample(DsWriter *w, const char *what, const SlErr *err) {
    sl_warn("skipped %s: %s", what, err->msg);
    w->skipped++;
}

/* DIR/<kind>/<rel with ext> */
static void side_path(char *out, size_t n, const DsWriter *w, const char *kind, const char *rel, const char *ext) {
    char r[512];
    snprintf(r, sizeof r, "%s", rel);
    char *dot = strrchr(r, '.');
    if (dot) *dot = 0;
    sl_snprintf(out, n, "%s/%s/%s%s", w->c->out, kind, r, ext);
}

/* The sample's mask (fakes) and landmarks (all). */
static void write_side(DsWriter *w, const char *rel, const float *mask, const float lm[ALIGN_NLM][2]) {
    SlErr err;
    char path[SL_PATH_MAX];
    int S = w->c->size;
    if (mask) {
        Image m = image_new(S, S, 1);
        for (size_t i = 0; i < (size_t)S * S; i++) m.px[i] = (uint8_t)lroundf(fminf(fmaxf(mask[i], 0), 1) * 255);
        side_path(path, sizeof path, w, "masks", rel, ".png");
        if (image_save_png(path, &m, NULL, 0, &err)) write_failed(w, &err);
        image_free(&m);
    }
    side_path(path, sizeof path, w, "landmarks", rel, ".npy");
    if (ds_write_landmarks_npy(path, lm, ALIGN_NLM, &err)) write_failed(w, &err);
}

/* The sample's row in the DeepfakeBench index. */
static void index_add(DsWriter *w, const char *rel, const char *label_name, const char *split, const char *clip,
                      const FaceRecord *r) {
    json_t *lab = json_object_get(w->dfb, label_name);
    if (!lab) json_object_set_new(w->dfb, label_name, lab = json_pack("{s:{},s:{},s:{}}", "train", "val", "test"));
    json_t *sp = json_object_get(lab, split), *cl = json_object_get(sp, clip);
    if (!cl) {
        json_object_set_new(sp, clip, cl = json_pack("{s:s,s:[]}", "label", label_name, "frames"));
        if (r->clip[0]) { /* from a video: which one, and each frame's time in it */
            json_object_set_new(cl, "clip_sha256", json_string(r->clip_sha256));
            json_object_set_new(cl, "times", json_array());
        }
    }
    char fr[600];
    snprintf(fr, sizeof fr, "frames/%s", rel);
    json_array_append_new(json_object_get(cl, "frames"), json_string(fr));
    json_t *times = json_object_get(cl, "times");
    if (times) json_array_append_new(times, json_real(r->clip_time));
}

static void progress(DsWriter *w) {
    sl_progress_update(w->prog, w->done + w->skipped, NULL);
}

/* The real sample of face i of id (its frame cropped by the face box, marked, written) and, with
 * sbi, its self-blended fake. */
static void write_real(DsWriter *w, DsIdentity *id, int i) {
    SlErr err;
    char src[SL_PATH_MAX], rel[512], path[SL_PATH_MAX];
    const DsConfig *c = w->c;
    faceset_source_path(&id->fs, i, src, sizeof src);
    Image frame;
    if (image_load(src, 3, &frame, &err)) {
        skip_sample(w, "a real sample", &err);
        return;
    }
    const FaceRecord *r = &id->fs.faces[i];
    if (r->src_w > 0 && (frame.w != r->src_w || frame.h != r->src_h)) {
        sl_fail(&err, "%s: %dx%d, but faces.jsonl records %dx%d", src, frame.w, frame.h, r->src_w, r->src_h);
        image_free(&frame);
        skip_sample(w, "a real sample", &err);
        return;
    }
    Affine box;
    dsx_face_box(&r->affine, r->crop, c->size, &box);
    Image crop;
    dsx_crop(&frame, &box, c->size, &crop);
    image_free(&frame);
    float lm[ALIGN_NLM][2];
    align_transform_landmarks(&box, r->lm_src, lm);
    Image sbi = {0};
    float *mask = NULL;
    if (c->fakes & DS_FAKE_SBI) {
        SlRng base, rng;
        sl_rng_seed(&base, w->seed ^ 0x5b1b1e4dULL);
        /* the stream depends on the seed, the subject and the face, not on the order of the face sets */
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = id->ci.subject; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        rng = sl_rng_fork(&base, h ^ ((uint64_t)i << 1));
        mask = xmalloc((size_t)c->size * c->size * sizeof *mask);
        sbi_make(&crop, lm, &rng, &sbi, mask, NULL);
    }
    WmKey wk;
    wm_key_from_string(&wk, c->wm_key);
    sample_rel(rel, sizeof rel, id, id, DS_REAL, i);
    sl_path_join(path, sizeof path, c->out, rel);
    if (wm_embed(&crop, &wk, w->payload, &err) || image_save_png(path, &crop, NULL, 0, &err)) {
        image_free(&crop);
        image_free(&sbi);
        free(mask);
        write_failed(w, &err);
        return;
    }
    image_free(&crop);
    write_side(w, rel, NULL, lm);
    add_rec(w, id, id, DS_REAL, i);
    w->done++;
    progress(w);
    if (!(c->fakes & DS_FAKE_SBI)) return;
    ProvenanceInfo pi;
    provenance_info_init(&pi);
    pi.source_subject = pi.target_subject = id->ci.subject;
    pi.source_consent_sha256 = pi.target_consent_sha256 = id->ci.digest;
    pi.preset = "sbi (self-blended image, Shiohara & Yamasaki 2022)";
    pi.mask = "landmark hull, eroded/dilated, elastic, blurred";
    pi.colour = "jitter";
    pi.blend = "alpha";
    pi.input = r->source;
    pi.label = c->with_label;
    pi.wm_key = c->wm_key;
    pi.has_payload = 1;
    pi.payload = w->payload;
    sample_rel(rel, sizeof rel, id, id, DS_SBI, i);
    sl_path_join(path, sizeof path, c->out, rel);
    int wf = put_fake(w, id, path, &sbi, &pi, &err);
    image_free(&sbi);
    if (wf) {
        free(mask);
        write_failed(w, &err);
        return;
    }
    write_side(w, rel, mask, lm);
    free(mask);
    add_rec(w, id, id, DS_SBI, i);
    w->done++;
    progress(w);
}

/* What one pair's swaps need in swap_faces' callback. */
typedef struct {
    DsWriter *w;
    SwapModel *m;
    const RunInfo *run;
    SwapGate g;
    DsIdentity *frame_of, *face_of;
} DsSwapJob;

static void swap_skipped(int face, const SlErr *why, void *user) {
    (void)face;
    skip_sample(((DsSwapJob *)user)->w, "a fake sample", why);
}

/* One composited swap of face i: cropped by the same box as its real sample and written with
 * provenance, with its mask and landmarks. A failed write stops the run (write_failed). */
static int swap_written(int i, SwapResult *res, void *user, SlErr *err) {
    DsSwapJob *J = user;
    DsWriter *w = J->w;
    const DsConfig *c = w->c;
    DsIdentity *frame_of = J->frame_of, *face_of = J->face_of;
    const int C = frame_of->fs.crop, S = c->size;
    const FaceRecord *r = &frame_of->fs.faces[i];
    Affine box;
    dsx_face_box(&r->affine, C, S, &box);
    Image crop;
    dsx_crop(&res->frame, &box, S, &crop);
    /* the mask at sample size: the sample box is the crop's affine scaled by S / C */
    Image ms = res->mask.w == S ? image_clone(&res->mask) : image_resize(&res->mask, S, S);
    float *mask = xmalloc((size_t)S * S * sizeof *mask);
    for (size_t p = 0; p < (size_t)S * S; p++) mask[p] = ms.px[p * ms.c] / 255.0f;
    image_free(&ms);
    ProvenanceInfo pi;
    swap_provenance(&pi, J->run, &J->g, J->m, &c->swap, r->source, c->with_label);
    pi.wm_key = c->wm_key;
    pi.has_payload = 1;
    pi.payload = w->payload;
    char rel[512], path[SL_PATH_MAX];
    sample_rel(rel, sizeof rel, frame_of, face_of, DS_SWAP, i);
    sl_path_join(path, sizeof path, c->out, rel);
    int wf = put_fake(w, frame_of, path, &crop, &pi, err);
    image_free(&crop);
    if (wf) {
        free(mask);
        write_failed(w, err);
        return -1;
    }
    float lm[ALIGN_NLM][2];
    align_transform_landmarks(&box, r->lm_src, lm);
    write_side(w, rel, mask, lm);
    free(mask);
    add_rec(w, frame_of, face_of, DS_SWAP, i);
    w->done++;
    progress(w);
    return w->failed ? -1 : 0;
}

/* The swaps of faces[0..n) of `frame_of` (the target: the person in the frame) receiving the face
 * of `face_of` (the source), through the swap runner shared with `swaplab swap` (infer/swap.h). */
static void write_swaps(DsWriter *w, SwapModel *m, NnCtx *ctx, const RunInfo *run, DsIdentity *frame_of,
                        DsIdentity *face_of, const int *faces, int n) {
    DsSwapJob J = {w, m, run, {0}, frame_of, face_of};
    J.g.target = face_of->model_id;
    J.g.from = frame_of->ci, J.g.to = face_of->ci;
    snprintf(J.g.from_dir, sizeof J.g.from_dir, "%s", frame_of->dir);
    snprintf(J.g.to_dir, sizeof J.g.to_dir, "%s", face_of->dir);
    SlErr err;
    if (swap_faces(m, ctx, J.g.target, &frame_of->fs, faces, n, &w->c->swap, swap_written, swap_skipped, &J, &err) &&
        !w->failed)
        write_failed(w, &err);
}

static json_t *str_array_of_split(const DsIdentity *ids, int n, int split) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        if (ids[i].split == split) json_array_append_new(a, json_string(ids[i].ci.subject));
    return a;
}

static int cmp_clip_frame(const void *a, const void *b, void *fs) {
    const FaceRecord *x = &((const FaceSet *)fs)->faces[*(const int *)a], *y = &((const FaceSet *)fs)->faces[*(const int *)b];
    return (x->clip_frame > y->clip_frame) - (x->clip_frame < y->clip_frame);
}

/* The faces of d that can be samples (they keep their frame): every photo's, and of each clip at
 * most frames_per_clip, evenly spaced in time (dsx_sample_evenly over the clip's faces in frame
 * order). Fills d->faces (ascending), d->n_faces, d->clip_face and d->n_clips. */
static void select_faces(DsIdentity *d, int frames_per_clip) {
    const FaceSet *fs = &d->fs;
    d->clip_face = xmalloc(((size_t)fs->n + 1) * sizeof *d->clip_face);
    int *of = xmalloc(((size_t)fs->n + 1) * sizeof *of), *pick = xmalloc(((size_t)fs->n + 1) * sizeof *pick);
    for (int k = 0; k < fs->n; k++) {
        const FaceRecord *r = &fs->faces[k];
        if (!r->clip[0]) {
            if (r->source[0]) d->faces[d->n_faces++] = k;
            continue;
        }
        int c = 0;
        while (c < d->n_clips && strcmp(fs->faces[d->clip_face[c]].clip_sha256, r->clip_sha256)) c++;
        if (c < d->n_clips) continue; /* this clip's faces were taken with its first */
        d->clip_face[d->n_clips++] = k;
        int m = 0;
        for (int j = k; j < fs->n; j++)
            if (fs->faces[j].source[0] && fs->faces[j].clip[0] && !strcmp(fs->faces[j].clip_sha256, r->clip_sha256))
                of[m++] = j;
        qsort_r(of, (size_t)m, sizeof *of, cmp_clip_frame, (void *)fs);
        int np = dsx_sample_evenly(m, frames_per_clip, pick);
        for (int j = 0; j < np; j++) d->faces[d->n_faces++] = of[pick[j]];
    }
    qsort(d->faces, (size_t)d->n_faces, sizeof *d->faces, cmp_int);
    free(of);
    free(pick);
}

/* Clips follow their identity into its split: a clip in the face sets of two identities of
 * different splits is refused (dsx_check_clip_splits). */
static int check_clip_splits(const DsIdentity *ids, int n, const int *split, SlErr *err) {
    int total = 0;
    for (int i = 0; i < n; i++) total += ids[i].n_clips;
    DsxClip *cl = xmalloc(((size_t)total + 1) * sizeof *cl);
    const char **subjects = xmalloc(((size_t)n + 1) * sizeof *subjects);
    int k = 0;
    for (int i = 0; i < n; i++) {
        subjects[i] = ids[i].ci.subject;
        for (int c = 0; c < ids[i].n_clips; c++) {
            const FaceRecord *r = &ids[i].fs.faces[ids[i].clip_face[c]];
            cl[k++] = (DsxClip){r->clip_sha256, r->clip, i};
        }
    }
    int rc = dsx_check_clip_splits(cl, k, split, subjects, err);
    free(cl);
    free(subjects);
    return rc;
}

/* ---- --video-versions: each clip re-encoded, each swapped clip encoded, at H.264 CRFs ------ */

/* in re-encoded as H.264 at crf into out (every frame at its time, marked with the dataset's
 * watermark as the swapped clips are, so the mark is no shortcut; the audio copied unchanged;
 * written atomically by data/video.h). *frames receives the frames written. */
static int reencode(const char *in, const char *out, int crf, int threads, const WmKey *wk, uint32_t payload,
                    long *frames, SlErr *err) {
    VideoReader *r;
    VideoInfo vi;
    if (video_open(in, threads, &r, &vi, err)) return -1;
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.crf = crf;
    o.threads = threads;
    if (vi.fps > 0) o.fps = vi.fps;
    if (vi.has_audio) o.audio_from = in;
    VideoWriter *w = NULL;
    int rc = -1, k;
    if (video_writer_open(&w, out, vi.w, vi.h, &o, err)) goto done;
    Image f;
    double t;
    while ((k = video_read(r, &f, &t, err)) == 1) {
        int a = wm_embed(&f, wk, payload, err) || video_writer_add(w, &f, t, err);
        image_free(&f);
        if (a) goto done;
    }
    if (k < 0 || video_writer_finish(w, NULL, NULL, err)) goto done;
    *frames = video_writer_frames(w);
    rc = 0;
done:
    video_writer_free(w);
    video_close(r);
    return rc;
}

typedef struct {
    const DsConfig *c;
    DsIdentity *ids;
    int n;
    SwapModel *m; /* NULL: reals only (sbi) */
    NnCtx *ctx;
    const RunInfo *run;
    const SlKeypair *key;
    uint32_t payload;
    json_t *list; /* dataset.json "videos" */
} DsVideos;

static json_t *video_entry(const char *rel, const char *label, const DsIdentity *source, const DsIdentity *target,
                           const char *clip, const FaceRecord *r, int crf, long frames) {
    char ver[16];
    snprintf(ver, sizeof ver, "c%d", crf);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I}", "path", rel, "label", label, "split",
                     dsx_split_name(target->split), "version", ver, "clip", clip, "codec", "h264", "crf", crf, "source",
                     source->ci.subject, "target", target->ci.subject, "frames", (json_int_t)frames);
}

/* The split partners of identity i: the other identities of its split that the model knows (not
 * --into sets), in order; the faces of i's frames are shared round robin among them. */
static int partners_of(const DsIdentity *ids, int n, int i, int *partners) {
    int np = 0;
    for (int b = 0; b < n; b++)
        if (b != i && ids[b].split == ids[i].split && !ids[b].into) partners[np++] = b;
    return np;
}

/* Per clip of every identity and per CRF: DIR/videos/cCRF/SPLIT/real/CLIP.mp4 (the clip
 * re-encoded, watermarked like every real sample) and, with swaps, DIR/videos/cCRF/SPLIT/fake/CLIP_SOURCE.mp4: the clip swapped by
 * infer/swap_video.h (as `swaplab swap --in` does: every frame labelled as settled by --label,
 * watermarked with the dataset's payload, the signed record and XMP in the MP4) with the face of
 * a partner from the same split, round robin over the identity's clips. */
static int write_videos(DsVideos *V, SlErr *err) {
    const DsConfig *c = V->c;
    char rel[600], path[SL_PATH_MAX], dir[SL_PATH_MAX], vid[300], name[400];
    WmKey wk;
    wm_key_from_string(&wk, c->wm_key);
    for (int v = 0; v < c->n_video; v++)
        for (int s = 0; s < DSX_NSPLITS; s++)
            for (int f = 0; f < 2; f++) {
                sl_snprintf(dir, sizeof dir, "%s/videos/c%d/%s/%s", c->out, c->video_crf[v], dsx_split_name(s),
                            f ? "fake" : "real");
                if (f && !V->m) continue;
                if (sl_mkdirs(dir, err)) return sl_failctx(err, "cannot create the video directory");
            }
    for (int i = 0; i < V->n; i++) {
        DsIdentity *d = &V->ids[i];
        int partners[DS_MAX_IDS], np = partners_of(V->ids, V->n, i, partners);
        SL_ASSERT(np > 0);
        for (int k = 0; k < d->n_clips; k++) {
            const FaceRecord *r = &d->fs.faces[d->clip_face[k]];
            video_id(vid, sizeof vid, d, k);
            for (int v = 0; v < c->n_video; v++) {
                int crf = c->video_crf[v];
                long frames = 0;
                snprintf(rel, sizeof rel, "videos/c%d/%s/real/%s.mp4", crf, dsx_split_name(d->split), vid);
                sl_path_join(path, sizeof path, c->out, rel);
                if (reencode(r->clip, path, crf, c->threads, &wk, V->payload, &frames, err)) return -1;
                json_array_append_new(V->list, video_entry(rel, "real", d, d, vid, r, crf, frames));
                if (!V->m) continue;
                DsIdentity *to = &V->ids[partners[dsx_partner(i, k, np)]];
                SwapGate g = {0};
                g.target = to->model_id;
                g.from = d->ci, g.to = to->ci;
                snprintf(g.from_dir, sizeof g.from_dir, "%s", d->dir);
                snprintf(g.to_dir, sizeof g.to_dir, "%s", to->dir);
                ProvenanceInfo pi;
                swap_provenance(&pi, V->run, &g, V->m, &c->swap, r->clip, c->with_label);
                pi.wm_key = c->wm_key;
                pi.has_payload = 1;
                pi.payload = V->payload;
                SwapVideoOptions vo;
                swap_video_options_default(&vo);
                vo.crf = crf;
                vo.crop = d->fs.crop;
                vo.coverage = d->fs.coverage;
                ExtractOptions ex;
                extract_options_default(&ex);
                SwapVideoStats st;
                snprintf(name, sizeof name, "%.250s_%.100s", vid, to->safe);
                snprintf(rel, sizeof rel, "videos/c%d/%s/fake/%s.mp4", crf, dsx_split_name(d->split), name);
                sl_path_join(path, sizeof path, c->out, rel);
                if (swap_video_run(V->m, V->ctx, to->model_id, r->clip, path, &c->swap, &vo, &ex, &pi, V->key, &st, err))
                    return -1;
                json_array_append_new(V->list, video_entry(rel, "fake", to, d, name, r, crf, st.frames));
            }
        }
    }
    return 0;
}

static int mk_tree(const char *out, const char *sub, SlErr *err) {
    char path[SL_PATH_MAX];
    for (int s = 0; s < DSX_NSPLITS; s++)
        for (int c = 0; c < 2; c++) {
            if (sub) sl_snprintf(path, sizeof path, "%s/%s/%s/%s", out, sub, dsx_split_name(s), c ? "fake" : "real");
            else sl_snprintf(path, sizeof path, "%s/%s/%s", out, dsx_split_name(s), c ? "fake" : "real");
            if (sl_mkdirs(path, err)) return sl_failctx(err, "cannot create the output directory");
        }
    return 0;
}

/* Identities per rank between two log-and-rename rounds (ranks > 1): bounds the log entries rank 0
 * holds and what a failing rank discards (the rounds before stay logged and in place, as the samples
 * a failing single process had written). $SWAPLAB_DATASET_ROUND overrides it (tests: 1). */
#define ROUND_IDS 4

static int round_ids(void) {
    const char *v = getenv("SWAPLAB_DATASET_ROUND");
    int k = v && *v ? atoi(v) : 0;
    return k >= 1 && k <= DS_MAX_IDS ? k : ROUND_IDS;
}

/* Every sample of identity i: its real samples (and self-blended fakes), then its swaps with each
 * split partner (the frames shared round robin among them), in the one-process order. */
static void write_identity(DsWriter *w, DsIdentity *ids, int n, int i, SwapModel *m, NnCtx *ctx, const RunInfo *run) {
    DsIdentity *d = &ids[i];
    w->seq = 0;
    for (int j = 0; j < d->n_faces && !w->failed; j++) write_real(w, d, d->faces[j]);
    if (!m) return;
    int partners[DS_MAX_IDS], np = partners_of(ids, n, i, partners);
    SL_ASSERT(np > 0);
    int *sel = xmalloc(sizeof(int) * ((size_t)d->n_faces + 1));
    for (int p = 0; p < np; p++) {
        int ns = 0;
        for (int j = 0; j < d->n_faces; j++)
            if (dsx_partner(i, j, np) == p) sel[ns++] = d->faces[j];
        if (ns && !w->failed) write_swaps(w, m, ctx, run, d, &ids[partners[p]], sel, ns);
    }
    free(sel);
}

/* The options (every flag that changes an output) and what the ranks read (the model's SHA-256,
 * each identity's face set, consent manifest digest and faces.jsonl digest, the signing key) as
 * "key=value" texts every rank must share with rank 0. --threads and --device may differ. */
static int ranks_agree(SlMpi *mpi, const DsConfig *c, const RunInfo *run, int swaps, const DsIdentity *ids, int n,
                       const SlKeypair *key, SlErr *err) {
    if (mpi->size <= 1) return 0;
    size_t cap = 4096 + ((size_t)c->n_sets + (size_t)c->n_into + 1) * (SL_PATH_MAX + 512);
    char *t = xmalloc(cap), wk[65] = "-", crfs[DSX_MAX_VERSIONS * 8 + 2] = "", pk[65], faces[65], fj[SL_PATH_MAX];
    if (c->wm_key) sl_sha256_hex(c->wm_key, strlen(c->wm_key), wk);
    for (int v = 0; v < c->n_video; v++) {
        size_t l = strlen(crfs);
        snprintf(crfs + l, sizeof crfs - l, "%sc%d", v ? "," : "", c->video_crf[v]);
    }
    size_t l = (size_t)snprintf(
        t, cap,
        "method=%s splits=%s label=%d mask=%s colour=%s blend=%s detail=%.9g size=%d per-identity=%d seed=%d "
        "frames-per-clip=%d video-versions=%s wm-key=%.16s model=%s out=%s key=%s revocations=%s policy=%s facesets=",
        ds_method_name(c->fakes), c->splits, c->with_label, c->swap.mask_str, c->swap.colour_str,
        c->swap.blend_str, (double)c->swap.detail, c->size, c->per_identity, c->seed, c->frames_per_clip,
        crfs[0] ? crfs : "none", wk, c->model ? c->model : "-", c->out, c->key_path ? c->key_path : "-",
        c->revocations ? c->revocations : "-", c->policy ? c->policy : "-");
    for (int i = 0; i < c->n_sets && l < cap; i++) l += (size_t)snprintf(t + l, cap - l, "%s%s", i ? "," : "", c->facesets[i]);
    if (l < cap) l += (size_t)snprintf(t + l, cap - l, " into=");
    for (int i = 0; i < c->n_into && l < cap; i++) l += (size_t)snprintf(t + l, cap - l, "%s%s", i ? "," : "", c->into[i]);
    int rc = sl_mpi_agree(mpi, "options", t, err);
    if (!rc) {
        sl_hex(pk, key->pk, 32);
        snprintf(t, cap, "model_sha256=%s signing_key=%s", swaps ? run->sha256 : "-", pk);
        rc = sl_mpi_agree(mpi, "model or signing key", t, err);
    }
    /* one identity at a time (the same identities on every rank: the options agree), so that the
     * message names the face set that differs */
    for (int i = 0; i < n && !rc; i++) {
        SlErr e;
        sl_path_join(fj, sizeof fj, ids[i].dir, "faces.jsonl");
        if (sl_sha256_file(fj, faces, &e)) snprintf(faces, sizeof faces, "unreadable");
        snprintf(t, cap, "faceset=%s|subject=%s|consent=%s|faces=%s|n=%d|crop=%d", ids[i].dir, ids[i].ci.subject,
                 ids[i].ci.digest, faces, ids[i].fs.n, ids[i].fs.crop);
        rc = sl_mpi_agree(mpi, "face set, consent manifest or faces", t, err);
    }
    free(t);
    if (rc && mpi->rank != 0) err->msg[0] = 0; /* every rank has the same verdict: rank 0 says it */
    return rc;
}

static int cmp_rec(const void *a, const void *b) {
    const DsRec *x = a, *y = b;
    return x->id != y->id ? (x->id > y->id) - (x->id < y->id) : (x->seq > y->seq) - (x->seq < y->seq);
}

int ds_build(const DsConfig *cfg, DsReport *rep, SlErr *err) {
    SlMpi one = {.rank = 0, .size = 1, .on = 0};
    return ds_build_mpi(&one, cfg, rep, err);
}

int ds_build_mpi(SlMpi *mpi, const DsConfig *cfg, DsReport *rep, SlErr *err) {
    memset(rep, 0, sizeof *rep);
    rep->ranks = mpi->size;
    const int many = mpi->size > 1, rank0 = mpi->rank == 0;
    DsConfig cc = *cfg; /* with the sample size settled (0: the model's face size) */
    const DsConfig *c = &cc;
    int swaps = (c->fakes & DS_FAKE_SWAP) != 0;
    int rc = -1, n = 0, n_main = 0, dev = 0, csv_open = 0, ok = 0;
    RunInfo run;
    memset(&run, 0, sizeof run);
    NnCtx ctx;
    SlAtomicFile af;
    const int n_all = (c->n_sets > 0 ? c->n_sets : 0) + (c->n_into > 0 ? c->n_into : 0);
    DsIdentity *ids = xcalloc((size_t)n_all + 1, sizeof *ids);
    json_t *dfb = json_object(), *videos = json_array(); /* the index of frames; dataset.json "videos" */
    SlProgress prog;
    int prog_on = 0;
    SwapModel *m = NULL;
    SlLock lock = {.fd = -1};
    DsWriter w = {0};
    DsRec *recs = NULL;
    size_t *lens = NULL;
    int split[DS_MAX_IDS], counts[3];
    long mine_total = 0; /* the samples of this rank's identities */

    /* 1. every rank: the consent gate, the face sets, the splits, the device. Under a launcher rank 0
     * loads the signing key first (the default per-user key is made on first use; every rank must
     * sign with the same one) */
    SlKeypair key;
    SlErr key_err = {{0}};
    int key_ok = 1;
    if (many) {
        if (rank0) key_ok = provenance_load_key(c->key_path, &key, &key_err) == 0;
        sl_mpi_count_failed(mpi, 1); /* a barrier */
        if (!rank0) key_ok = provenance_load_key(c->key_path, &key, &key_err) == 0;
    }
    if (swaps && !c->model) {
        sl_fail(err, "face-swap fakes need --model (a run that knows every subject)");
        goto setup_end;
    }
    if (n_all > DS_MAX_IDS) {
        sl_fail(err, "at most %d face sets (--facesets and --into together)", DS_MAX_IDS);
        goto setup_end;
    }
    if (consent_policy_select(c->policy, err)) goto setup_end;
    if (swaps && !(m = run_load_model(c->model, &run, err))) goto setup_end;
    if (swaps && swap_check_mask(m, &c->swap, run.model_path, err)) goto setup_end;
    if (!cc.size) {
        int s = swaps ? m->arch.size : DS_DEFAULT_SIZE;
        cc.size = s < WM_MIN_DIM ? WM_MIN_DIM : s > DS_MAX_SIZE ? DS_MAX_SIZE : s;
    }

    /* the consent gate and the face sets */
    ConsentOptions copt = {.revocations = c->revocations};
    for (int i = 0; i < n_all; i++) {
        DsIdentity *d = &ids[i];
        d->into = i >= c->n_sets;
        d->model_id = -1;
        snprintf(d->dir, sizeof d->dir, "%s", d->into ? c->into[i - c->n_sets] : c->facesets[i]);
        if (consent_check(d->dir, "dataset", &copt, &d->ci, NULL, err)) goto setup_end;
        if (faceset_load(d->dir, &d->fs, err)) goto setup_end;
        n++;
        if (swaps && swap_check_sizes(m, &d->fs, err)) goto setup_end;
        if (swaps && !d->into) { /* an --into set lends only its frames: no decoder needed */
            d->model_id = run_find_identity(&run, d->ci.subject);
            if (d->model_id < 0) {
                char list[1024] = "";
                for (int k = 0; k < run.n_ids; k++) {
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", run.ids[k].subject);
                }
                sl_fail(err, "%s: subject %s is not an identity of the model %s (it knows %s); fakes need its decoder",
                        d->dir, d->ci.subject, run.model_path, list);
                goto setup_end;
            }
        }
        dsx_safe_name(d->safe, sizeof d->safe, d->ci.subject);
        for (int k = 0; k < i; k++)
            if (!strcmp(ids[k].ci.subject, d->ci.subject)) {
                sl_fail(err, "%s and %s are both subject %s: give each identity once", ids[k].dir, d->dir, d->ci.subject);
                goto setup_end;
            }
    }
    /* the model's identities sorted by subject, then the --into sets sorted by subject */
    n_main = c->n_sets;
    qsort(ids, (size_t)n_main, sizeof *ids, cmp_ids);
    qsort(ids + n_main, (size_t)(n - n_main), sizeof *ids, cmp_ids);
    for (int i = 0; i < n; i++) ids[i].idx = i;
    for (int i = 1; i < n; i++)
        if (!strcmp(ids[i].safe, ids[i - 1].safe)) {
            sl_fail(err, "subjects %s and %s give the same file names: rename one pseudonym", ids[i - 1].ci.subject,
                    ids[i].ci.subject);
            goto setup_end;
        }

    /* splits by identity, frames by seed: the same on every rank */
    if (dsx_assign_splits(n_main, c->frac, (uint64_t)c->seed, split, counts, err)) goto setup_end;
    for (int i = n_main; i < n; i++) split[i] = DSX_TEST; /* --into: held out, test only */
    for (int i = 0; i < n; i++) ids[i].split = split[i];
    SlRng rng;
    sl_rng_seed(&rng, (uint64_t)c->seed);
    mine_total = 0;
    for (int i = 0; i < n; i++) {
        DsIdentity *d = &ids[i];
        d->faces = xmalloc(((size_t)d->fs.n + 1) * sizeof *d->faces);
        select_faces(d, c->frames_per_clip);
        if (d->n_faces == 0) {
            sl_fail(err, "%s: no face keeps its source frame (frames/); real and fake samples are cut from frames", d->dir);
            goto setup_end;
        }
        SlRng fr = sl_rng_fork(&rng, (uint64_t)i + 1);
        for (int k = d->n_faces - 1; k > 0; k--) {
            int j = sl_rng_int(&fr, k + 1), t = d->faces[k];
            d->faces[k] = d->faces[j], d->faces[j] = t;
        }
        if (c->per_identity > 0 && c->per_identity < d->n_faces) d->n_faces = c->per_identity;
        qsort(d->faces, (size_t)d->n_faces, sizeof *d->faces, cmp_int);
        if (i % mpi->size == mpi->rank) mine_total += (long)d->n_faces * (1 + swaps + ((c->fakes & DS_FAKE_SBI) != 0));
    }
    if (check_clip_splits(ids, n, split, err)) goto setup_end;
    /* clips that will be read (--video-versions) are bound to their consented face sets as
     * `swap --in` binds them: the clip's digest recorded there and its frame reproducing the crop */
    for (int i = 0; c->n_video && i < n; i++)
        for (int k = 0; k < ids[i].n_clips; k++)
            if (swap_video_check_clip(&ids[i].fs, ids[i].fs.faces[ids[i].clip_face[k]].clip, err)) goto setup_end;
    if (many && !key_ok) {
        *err = key_err;
        goto setup_end;
    }
    if (swaps) {
        nn_ctx_init(&ctx, c->threads, 1);
        if (nn_device_select(&ctx, c->device, err)) goto setup_end;
        dev = 1;
    }
    ok = 1;
setup_end:
    if (sl_mpi_all_ok(mpi, ok, err)) goto fail;
    if (ranks_agree(mpi, c, &run, swaps, ids, n, &key, err)) goto fail;
    for (int i = 0; swaps && rank0 && i < n; i++) {
        int partners[DS_MAX_IDS], k = partners_of(ids, n, i, partners);
        if (ids[i].n_faces < k && !ids[i].into) /* an --into set lends no face: each frame still gets one fake */
            sl_warn("%s: %d frames for %d partners in split %s: some pairs get no fakes (raise --per-identity)",
                    ids[i].ci.subject, ids[i].n_faces, k, dsx_split_name(ids[i].split));
    }
    if (c->with_label && rank0)
        sl_warn("--label visible: every fake shows the SYNTHETIC label, a shortcut any detector learns; use --label none "
                "to train detectors");

    /* 2. the output directory: rank 0 locks it before it is checked and makes the tree; then every
     * rank checks that it can write there */
    char path[SL_PATH_MAX], path2[SL_PATH_MAX];
    ok = 0;
    if (rank0) {
        if (sl_mkdirs(c->out, err) || sl_lock_dir(&lock, c->out, "swaplab dataset", err)) goto out_end;
        sl_path_join(path, sizeof path, c->out, "labels.csv");
        sl_path_join(path2, sizeof path2, c->out, "dataset.json");
        if (sl_is_file(path) || sl_is_file(path2)) {
            sl_fail(err, "%s: already holds a dataset; choose a new --out", c->out);
            goto out_end;
        }
        if (mk_tree(c->out, NULL, err) || mk_tree(c->out, "masks", err) || mk_tree(c->out, "landmarks", err)) goto out_end;
        for (int s = 0; s < DSX_NSPLITS; s++) { /* what a killed earlier job staged */
            sl_snprintf(path, sizeof path, "%s/%s/fake", c->out, dsx_split_name(s));
            staged_remove_stale(path);
        }
    }
    ok = 1;
out_end:
    if (sl_mpi_all_ok(mpi, ok, err)) goto fail;
    ok = 0;
    snprintf(path, sizeof path, "%s/.swaplab-write-test.%ld", c->out, (long)getpid());
    if (sl_write_atomic(path, "", 0, err)) sl_failctx(err, "the output directory is not writable");
    else ok = 1, unlink(path);
    if (sl_mpi_all_ok(mpi, ok, err)) goto fail;
    if (!many && provenance_load_key(c->key_path, &key, err)) goto fail;

    /* the dataset id: a digest of everything that decides the bytes (not the time) */
    char idtext[8192], dsid[65];
    int l = snprintf(idtext, sizeof idtext, "swaplab-dataset/2\n%s\n%s %s %s %s %d %d %d %s %s %s\n",
                     swaps ? run.sha256 : "-", c->swap.mask_str, c->swap.colour_str, c->swap.blend_str,
                     c->with_label ? "visible" : "none", c->size, c->per_identity, c->seed, c->splits,
                     c->wm_key ? "custom" : "default", ds_method_name(c->fakes));
    for (int i = 0; i < n && l < (int)sizeof idtext; i++)
        l += snprintf(idtext + l, sizeof idtext - (size_t)l, "%s %s%s\n", ids[i].ci.subject, ids[i].ci.digest,
                      ids[i].into ? " into" : ""); /* (the ids of datasets without --into stay as they were) */
    int any_clip = 0;
    for (int i = 0; i < n; i++) any_clip |= ids[i].n_clips > 0;
    if (any_clip && l < (int)sizeof idtext) /* only then: the ids of photo datasets stay as they were */
        l += snprintf(idtext + l, sizeof idtext - (size_t)l, "frames_per_clip %d\n", c->frames_per_clip);
    for (int v = 0; any_clip && v < c->n_video && l < (int)sizeof idtext; v++)
        l += snprintf(idtext + l, sizeof idtext - (size_t)l, "video c%d\n", c->video_crf[v]);
    if (c->n_video && !any_clip && rank0) sl_warn("--video-versions: no face set comes from a video clip; no videos are written");
    sl_sha256_hex(idtext, strlen(idtext), dsid);
    char payload_hex[9];
    memcpy(payload_hex, dsid, 8);
    payload_hex[8] = 0;
    uint32_t payload = (uint32_t)strtoul(payload_hex, NULL, 16);

    /* 3. the samples: rank r writes identities r, r + N, ...; under a launcher in rounds of
     * ROUND_IDS identities per rank, after each of which rank 0 logs the round's fakes in the
     * one-process order and every rank moves its own into place (one round, no staging, in one process) */
    w = (DsWriter){.c = c, .preset = swaps ? m->arch.preset : "", .model_sha = swaps ? run.sha256 : "",
                   .payload = payload, .key = &key, .dfb = dfb, .prog = &prog, .seed = (uint64_t)c->seed, .stage = many};
    sl_progress_begin(&prog, many ? "dataset (this rank)" : "dataset", mine_total);
    prog_on = 1;
    double t0 = sl_now();
    const int per_round = many ? round_ids() * mpi->size : (n > 0 ? n : 1);
    for (int r0 = 0; r0 < n; r0 += per_round) {
        for (int i = r0 + mpi->rank; i < r0 + per_round && i < n && !w.failed; i += mpi->size)
            write_identity(&w, ids, n, i, swaps ? m : NULL, &ctx, &run);
        if (!many) continue;
        if (w.failed)
            sl_fail(err, "%s; the dataset in %s is incomplete and has no labels.csv (free space, then run it again "
                         "into a new --out)", w.err.msg, c->out);
        if (sl_mpi_all_ok(mpi, !w.failed, err)) goto fail;
        if (staged_log(mpi, &w.staged, &key, err)) goto fail;
        ok = staged_commit(&w.staged, err) == 0;
        if (sl_mpi_all_ok(mpi, ok, err)) goto fail;
    }
    /* the --video-versions: rank 0 alone, after every sample (so the log reads as one process's) */
    ok = 1;
    if (rank0 && !w.failed && c->n_video) {
        DsVideos V = {c, ids, n, swaps ? m : NULL, &ctx, &run, &key, payload, videos};
        if (write_videos(&V, err)) {
            sl_failctx(err, "writing the --video-versions; the dataset in %s is incomplete and has no labels.csv", c->out);
            ok = 0;
        }
    }
    if (sl_mpi_all_ok(mpi, ok, err)) goto fail;
    if (w.failed) {
        sl_fail(err, "%s; the dataset in %s is incomplete and has no labels.csv (free space, then run it again "
                     "into a new --out)", w.err.msg, c->out);
        goto fail;
    }
    double secs = sl_now() - t0;
    char summary[200];
    snprintf(summary, sizeof summary, "%ld samples in %.1f s (%.2f/s), %ld skipped%s", w.done, secs,
             secs > 0 ? w.done / secs : 0, w.skipped, many ? " on this rank" : "");
    sl_progress_end(&prog, summary);
    prog_on = 0;

    /* 4. rank 0: labels.csv, the index and dataset.json from every rank's samples, in the
     * one-process order (identity by identity, each in the order it was written) */
    double skipped = (double)w.skipped;
    sl_mpi_sum_f64(mpi, &skipped, 1);
    lens = xcalloc((size_t)mpi->size, sizeof *lens);
    void *gathered = NULL;
    sl_mpi_gatherv(mpi, w.recs, sizeof(DsRec) * (size_t)w.nrec, &gathered, lens);
    recs = gathered;
    secs = sl_now() - t0;
    ok = 0;
    if (!rank0) {
        ok = 1;
        goto summary_end;
    }
    size_t nrec = 0;
    for (int r = 0; r < mpi->size; r++) nrec += lens[r] / sizeof(DsRec);
    qsort(recs, nrec, sizeof *recs, cmp_rec);
    for (size_t k = 0; k < nrec; k++) {
        SL_ASSERT(recs[k].id >= 0 && recs[k].id < n && recs[k].source >= 0 && recs[k].source < n);
        if (recs[k].method == DS_REAL) ids[recs[k].id].n_real++;
        else ids[recs[k].id].n_fake++;
    }

    /* every split needs both classes */
    int cls[3][2] = {{0}};
    for (int i = 0; i < n; i++) cls[ids[i].split][0] += ids[i].n_real, cls[ids[i].split][1] += ids[i].n_fake;
    for (int s = 0; s < DSX_NSPLITS; s++)
        if (!cls[s][0] || !cls[s][1]) {
            sl_fail(err, "%s: split %s got %d real and %d fake samples (%.0f skipped); both are needed", c->out,
                    dsx_split_name(s), cls[s][0], cls[s][1], skipped);
            goto summary_end;
        }
    sl_path_join(path, sizeof path, c->out, "labels.csv");
    if (sl_atomic_open(&af, path, err)) goto summary_end;
    csv_open = 1;
    fputs("path,label,source,target,split,method,preset,mask,colour,blend,visible_label,model_sha256,frame,face,clip,"
          "time\n",
          af.f);
    w.csv = af.f;
    for (size_t k = 0; k < nrec; k++) {
        static const char *const methods[] = {"original", "sbi", "swap"}, *const labels[] = {"swaplab-real", "swaplab-sbi",
                                                                                              "swaplab-swap"};
        const DsRec *q = &recs[k];
        const DsIdentity *t = &ids[q->id], *src = &ids[q->source];
        char rel[512], clip[300];
        sample_rel(rel, sizeof rel, t, src, q->method, q->face);
        clip_id(clip, sizeof clip, t, src, methods[q->method], q->face);
        csv_row(&w, rel, methods[q->method], src, t, q->face, clip);
        index_add(&w, rel, labels[q->method], dsx_split_name(t->split), clip, &t->fs.faces[q->face]);
    }
    csv_open = 0;
    if (sl_atomic_commit(&af, err)) goto summary_end;

    /* the DeepfakeBench index: frames/ is a link to the dataset itself, so that its loaders' path
     * convention (frames -> masks, frames -> landmarks) finds masks/ and landmarks/ */
    char dname[64];
    snprintf(dname, sizeof dname, "swaplab-%.8s", dsid);
    json_t *jd = json_object();
    json_object_set(jd, dname, dfb);
    char *ds = json_dumps(jd, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(jd);
    sl_path_join(path, sizeof path, c->out, "deepfakebench.json");
    int wr = sl_write_atomic(path, ds, strlen(ds), err);
    free(ds);
    if (wr) goto summary_end;
    sl_path_join(path, sizeof path, c->out, "frames");
    if (!sl_is_dir(path) && symlink(".", path)) {
        sl_fail(err, "%s: cannot create the link frames -> . for the DeepfakeBench index", path);
        goto summary_end;
    }
    /* dataset.json */
    char when[32], keyfp[65];
    sl_utc_iso8601(when);
    WmKey wk;
    wm_key_from_string(&wk, c->wm_key);
    sl_sha256_hex(wk.k, sizeof wk.k, keyfp);
    keyfp[16] = 0;
    char pk[65];
    sl_hex(pk, key.pk, 32);
    json_t *j = json_object(), *jsplits = json_object(), *jids = json_array();
    json_object_set_new(j, "format", json_string("swaplab-dataset/2"));
    json_object_set_new(j, "tool", json_string("swaplab dataset"));
    json_object_set_new(j, "version", json_string(SL_VERSION));
    json_object_set_new(j, "created", json_string(when));
    json_object_set_new(j, "dataset_id", json_string(dsid));
    json_object_set_new(j, "method", json_string(ds_method_name(c->fakes)));
    json_object_set_new(j, "model", swaps ? json_pack("{s:s,s:s,s:I,s:s}", "path", run.model_path, "sha256", run.sha256,
                                                      "step", (json_int_t)run.step, "preset", m->arch.preset)
                                          : json_null());
    json_object_set_new(j, "settings",
                        json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:[f,f,f],s:s}", "mask", c->swap.mask_str, "colour",
                                  c->swap.colour_str, "blend", c->swap.blend_str, "label",
                                  c->with_label ? "visible" : "none", "size", c->size, "per_identity", c->per_identity,
                                  "seed", c->seed, "splits", c->frac[0], c->frac[1], c->frac[2], "box",
                                  "the face's alignment crop (faces.jsonl affine) scaled to size"));
    json_object_set_new(json_object_get(j, "settings"), "frames_per_clip", json_integer(c->frames_per_clip));
    json_t *jv = json_array();
    for (int v = 0; v < c->n_video; v++) json_array_append_new(jv, json_integer(c->video_crf[v]));
    json_object_set_new(json_object_get(j, "settings"), "video_crf", jv);
    json_object_set_new(j, "watermark",
                        json_pack("{s:s,s:s,s:s,s:s,s:s}", "scheme", WM_SCHEME, "key", c->wm_key ? "custom" : "default",
                                  "key_fingerprint", keyfp, "payload", payload_hex, "on",
                                  "every sample, real and fake alike (payload = dataset id)"));
    json_object_set_new(j, "signature", json_pack("{s:s,s:s}", "alg", "Ed25519", "public_key", pk));
    json_object_set_new(j, "index", json_pack("{s:s,s:s,s:s,s:s}", "deepfakebench", "deepfakebench.json", "dataset_name",
                                              dname, "masks", "masks/<path>.png (fakes)", "landmarks",
                                              "landmarks/<path without .png>.npy (68 x 2 float32, sample pixels)"));
    for (int s = 0; s < DSX_NSPLITS; s++) {
        json_t *jp = json_array();
        int partners[DS_MAX_IDS];
        for (int i = 0; swaps && i < n; i++) /* [the person in the frame, the face swapped into it] */
            for (int p = 0, np = ids[i].split == s ? partners_of(ids, n, i, partners) : 0; p < np; p++)
                json_array_append_new(jp, json_pack("[s,s]", ids[i].ci.subject, ids[partners[p]].ci.subject));
        json_object_set_new(jsplits, dsx_split_name(s),
                            json_pack("{s:o,s:i,s:i,s:o}", "identities", str_array_of_split(ids, n, s), "real",
                                      cls[s][0], "fake", cls[s][1], "pairs", jp));
        if (s == DSX_TEST && n > n_main) {
            json_t *ji = json_array();
            for (int i = n_main; i < n; i++) json_array_append_new(ji, json_string(ids[i].ci.subject));
            json_object_set_new(json_object_get(jsplits, "test"), "into", ji);
        }
        rep->real[s] = cls[s][0], rep->fake[s] = cls[s][1];
        rep->identities[s] = counts[s] + (s == DSX_TEST ? n - n_main : 0);
    }
    json_object_set_new(j, "splits", jsplits);
    for (int i = 0; i < n; i++) {
        json_t *jc = json_array();
        for (int k = 0; k < ids[i].n_clips; k++) {
            const FaceRecord *r = &ids[i].fs.faces[ids[i].clip_face[k]];
            const char *base = strrchr(r->clip, '/');
            char vid[300];
            video_id(vid, sizeof vid, &ids[i], k);
            json_array_append_new(jc, json_pack("{s:s,s:s,s:s}", "id", vid, "file", base ? base + 1 : r->clip, "sha256",
                                                r->clip_sha256));
        }
        json_array_append_new(jids, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:o}", "subject", ids[i].ci.subject, "kind",
                                              ids[i].ci.kind, "consent_sha256", ids[i].ci.digest, "split",
                                              dsx_split_name(ids[i].split), "real", ids[i].n_real, "fake", ids[i].n_fake,
                                              "clips", jc));
        if (ids[i].into) json_object_set_new(json_array_get(jids, json_array_size(jids) - 1), "into", json_true());
    }
    json_object_set_new(j, "identities", jids);
    json_object_set(j, "videos", videos);
    json_object_set_new(j, "counts", json_pack("{s:I,s:I}", "samples", (json_int_t)nrec, "skipped", (json_int_t)skipped));
    json_object_set_new(j, "seconds", json_real(secs));
    if (many) json_object_set_new(j, "ranks", json_integer(mpi->size)); /* only under an MPI launcher */
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(j);
    sl_path_join(path, sizeof path, c->out, "dataset.json");
    wr = sl_write_atomic(path, s, strlen(s), err);
    free(s);
    if (wr) goto summary_end;
    rep->samples = (long)nrec, rep->skipped = (long)skipped, rep->seconds = secs;
    rep->videos = (long)json_array_size(videos);
    ok = 1;
summary_end:
    if (sl_mpi_all_ok(mpi, ok, err)) goto fail;
    rc = 0;
    goto done;
fail:
    if (prog_on) sl_progress_end(&prog, "stopped");
    if (csv_open) sl_atomic_abort(&af);
done:
    json_decref(dfb);
    json_decref(videos);
    if (dev) {
        if (m) nn_model_release_device(&m->model, &ctx);
        nn_device_release(&ctx);
    }
    sl_unlock(&lock);
    for (int i = 0; i < n; i++) {
        faceset_free(&ids[i].fs);
        free(ids[i].faces);
        free(ids[i].clip_face);
    }
    free(ids);
    if (m) swap_model_free(m);
    staged_free(&w.staged, 1); /* what was not moved into place (a failed job) */
    free(w.recs), free(recs), free(lens);
    return rc;
}
