/* cmd_dataset.c — `swaplab dataset`: a labelled real/fake dataset for detector training, split by
 * identity, in torchvision's ImageFolder layout plus labels.csv and dataset.json. Real and fake
 * samples take the same crop, resize, watermark and PNG path, so only the swap tells them apart.
 * Format: docs/FORMATS.md "Detector dataset"; the watermark choice: docs/WATERMARK.md. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "data/faceset.h"
#include "detect/export.h"
#include "infer/provenance.h"
#include "infer/swap.h"
#include "infer/watermark.h"
#include "nn/device.h"
#include "train/run.h"
#include "util/args.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/rng.h"

#define DS_BATCH 8
#define DS_MAX_SIZE 1024
#define DS_MAX_IDS 256

static const char *ABOUT =
    "Builds a detector dataset from consented face sets (consent scope 'dataset') and a swap model that\n"
    "knows their subjects. Identities are assigned to train/val/test from --seed and --splits (by\n"
    "identity, never by frame; train and test get at least 2 identities each; val gets 0 or >= 2, as\n"
    "one identity alone has no partner to swap with; fewer than 4 identities are refused). Real samples are frames of each set; fake samples are swaps between\n"
    "identities of the same split, in both directions: the chosen frames of each identity are shared\n"
    "round robin among its split partners, so every frame appears once as real and once swapped, and the\n"
    "classes are balanced. Both are the frame (original or composited) cropped by the face's alignment\n"
    "box at --size and written by the same PNG writer.\n"
    "\n"
    "Watermark: real and fake samples carry the same keyed invisible watermark (--wm-key) with the same\n"
    "payload, the dataset id, so the mark cannot be a shortcut; fakes also carry the signed provenance\n"
    "record and XMP (PNG chunks, not pixels). --label visible (the default) draws the SYNTHETIC label on\n"
    "fakes, which a detector learns at once: use --label none for detector training.\n"
    "\n"
    "Output: DIR/{train,val,test}/{real,fake}/*.png, DIR/labels.csv (path,label,source,target,split,\n"
    "method,preset,mask,colour,blend,visible_label,model_sha256,frame,face) and DIR/dataset.json. Frames\n"
    "that cannot be read are reported and skipped with a count.";

typedef struct {
    char dir[4096];
    ConsentInfo ci;
    FaceSet fs;
    int model_id;   /* decoder index in the model */
    int split;
    int *faces;     /* chosen face indices (ascending) */
    int n_faces;
    char safe[128]; /* subject as a file-name part */
    int n_real, n_fake;
} DsIdentity;

static int cmp_ids(const void *a, const void *b) {
    return strcmp(((const DsIdentity *)a)->ci.subject, ((const DsIdentity *)b)->ci.subject);
}
static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *out, *mask, *colour, *blend, *preset, *model_sha, *wm_key;
    int label, size;
    uint32_t payload;
    const SlKeypair *key;
    FILE *csv;
    long done, skipped;
    SlProgress *prog;
} DsWriter;

static void csv_row(DsWriter *w, const char *rel, int fake, const DsIdentity *face_of, const DsIdentity *frame_of,
                    int face) {
    FILE *f = w->csv;
    char num[32];
    dsx_csv_field(f, rel), fputc(',', f);
    fputs(fake ? "fake," : "real,", f);
    dsx_csv_field(f, face_of->ci.subject), fputc(',', f);
    dsx_csv_field(f, frame_of->ci.subject), fputc(',', f);
    fprintf(f, "%s,%s,", dsx_split_name(frame_of->split), fake ? "swap" : "original");
    if (fake) {
        dsx_csv_field(f, w->preset), fputc(',', f);
        dsx_csv_field(f, w->mask), fputc(',', f);
        fprintf(f, "%s,%s,%s,%s,", w->colour, w->blend, w->label ? "1" : "0", w->model_sha);
    } else {
        fputs(",,,,0,,", f);
    }
    dsx_csv_field(f, frame_of->fs.faces[face].source), fputc(',', f);
    snprintf(num, sizeof num, "%d\n", face);
    fputs(num, f);
}

static void skip_sample(DsWriter *w, const char *what, const SlErr *err) {
    sl_warn("skipped %s: %s", what, err->msg);
    w->skipped++;
}

/* The real sample of face i of id: its frame cropped by the face box, marked, written. */
static void write_real(DsWriter *w, DsIdentity *id, int i) {
    SlErr err;
    char src[4200], rel[512], path[4700];
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
    dsx_face_box(&r->affine, r->crop, w->size, &box);
    Image crop;
    dsx_crop(&frame, &box, w->size, &crop);
    image_free(&frame);
    WmKey wk;
    wm_key_from_string(&wk, w->wm_key);
    snprintf(rel, sizeof rel, "%s/real/%s_%06d.png", dsx_split_name(id->split), id->safe, i);
    sl_path_join(path, sizeof path, w->out, rel);
    if (wm_embed(&crop, &wk, w->payload, &err) || image_save_png(path, &crop, NULL, 0, &err)) {
        image_free(&crop);
        SL_DIE("%s", err.msg); /* sizes are checked up front; a failed write is a system failure */
    }
    image_free(&crop);
    csv_row(w, rel, 0, id, id, i);
    id->n_real++;
    w->done++;
    sl_progress_update(w->prog, w->done + w->skipped, NULL);
}

/* The fakes of faces[0..n) of `from`, swapped to `to`: one batched model step, then each face is
 * composited into its frame, cropped by the same box as its real sample and written with provenance. */
static void write_fakes(DsWriter *w, SwapModel *m, NnCtx *ctx, const RunInfo *run, const SwapOptions *o,
                        DsIdentity *from, DsIdentity *to, const int *faces, int n, float *in, float *dec) {
    SwapGate g;
    memset(&g, 0, sizeof g);
    g.target = to->model_id;
    g.from = from->ci, g.to = to->ci;
    snprintf(g.from_dir, sizeof g.from_dir, "%s", from->dir);
    snprintf(g.to_dir, sizeof g.to_dir, "%s", to->dir);
    const int C = from->fs.crop;
    const size_t cimg = 3 * (size_t)C * C;
    for (int b0 = 0; b0 < n; b0 += DS_BATCH) {
        int idx[DS_BATCH], nb = 0;
        SlErr err;
        for (int k = b0; k < n && k < b0 + DS_BATCH; k++) {
            if (faceset_load_face(&from->fs, faces[k], in + cimg * nb, &err)) skip_sample(w, "a fake sample", &err);
            else idx[nb++] = faces[k];
        }
        if (nb == 0) continue;
        swap_run_model(m, ctx, g.target, in, nb, C, dec);
        for (int k = 0; k < nb; k++) {
            int i = idx[k];
            SwapResult res;
            if (swap_finish_face(&from->fs, i, in + cimg * k, dec + cimg * k, o, &res, &err)) {
                skip_sample(w, "a fake sample", &err);
                continue;
            }
            Affine box;
            dsx_face_box(&from->fs.faces[i].affine, C, w->size, &box);
            Image crop;
            dsx_crop(&res.frame, &box, w->size, &crop);
            swap_result_free(&res);
            ProvenanceInfo pi;
            swap_provenance(&pi, run, &g, m, o, from->fs.faces[i].source, w->label);
            pi.wm_key = w->wm_key;
            pi.has_payload = 1;
            pi.payload = w->payload;
            char rel[512], path[4700];
            snprintf(rel, sizeof rel, "%s/fake/%s_to_%s_%06d.png", dsx_split_name(from->split), from->safe, to->safe, i);
            sl_path_join(path, sizeof path, w->out, rel);
            if (provenance_write_png(path, &crop, &pi, w->key, &err)) SL_DIE("%s", err.msg);
            image_free(&crop);
            csv_row(w, rel, 1, to, from, i);
            from->n_fake++;
            w->done++;
            sl_progress_update(w->prog, w->done + w->skipped, NULL);
        }
    }
}

static json_t *str_array_of_split(const DsIdentity *ids, int n, int split) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        if (ids[i].split == split) json_array_append_new(a, json_string(ids[i].ci.subject));
    return a;
}

int cmd_dataset(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *splits = "70/15/15", *label = "visible", *mask = SWAP_DEFAULT_MASK,
               *colour = SWAP_DEFAULT_COLOUR, *blend = SWAP_DEFAULT_BLEND, *key_path = NULL, *wm_key = NULL, *revocations = NULL,
               *device = "auto";
    int size = 128, per_identity = 0, seed = 1, threads = 0;
    SlStrList sets = {0};
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "RUN", "run directory or model file from swaplab train (knows every subject)"},
        {"--facesets", SL_ARG_LIST, &sets, "DIR...", "consented face sets (scope dataset), one per identity, >= 4"},
        {"--out", SL_ARG_STR, &out, "DIR", "output directory (created; must not hold a dataset already)"},
        {"--splits", SL_ARG_STR, &splits, "T/V/T", "identity shares of train/val/test (70/15/15)"},
        {"--label", SL_ARG_STR, &label, "L", "visible (default) or none: the SYNTHETIC label on fakes (a shortcut)"},
        {"--mask", SL_ARG_STR, &mask, "M", "face, face:E,F, hull, hull:E,F, erode:N or blur:N (" SWAP_DEFAULT_MASK ")"},
        {"--color", SL_ARG_STR, &colour, "C", "colour transfer: none, avg, rct, lct or hist (" SWAP_DEFAULT_COLOUR ")"},
        {"--colour", SL_ARG_STR, &colour, "C", "the same as --color"},
        {"--blend", SL_ARG_STR, &blend, "B", "alpha or poisson (" SWAP_DEFAULT_BLEND ")"},
        {"--size", SL_ARG_INT, &size, "PX", "side of every sample, 64..1024 (128)"},
        {"--per-identity", SL_ARG_INT, &per_identity, "N", "frames per identity, chosen by --seed (0 = all)"},
        {"--seed", SL_ARG_INT, &seed, "S", "seed of the split and frame choice (1)"},
        {"--key", SL_ARG_STR, &key_path, "KEYFILE", "signing key of the fakes (default: your per-user lab key)"},
        {"--wm-key", SL_ARG_STR, &wm_key, "STRING", "watermark key string of every sample (default: the public key)"},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "consent revocation list (default: per-user list)"},
        {"--device", SL_ARG_STR, &device, "D", "cpu, cuda or auto (auto)"},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)"},
        {0},
    };
    int r = sl_args_parse("dataset", "--model RUN --facesets DIR... --out DIR [--splits 70/15/15] [--label none|visible]",
                          ABOUT, spec, argc, argv, NULL);
    if (r) {
        free(sets.v);
        return r == 1 ? 0 : 2;
    }
    SlErr err;
    SwapOptions o;
    swap_options_default(&o);
    double frac[3];
    int with_label = -1;
    if (!strcmp(label, "visible")) with_label = 1;
    else if (!strcmp(label, "none")) with_label = 0;
    const char *usage = NULL;
    char ubuf[300];
    if (!model || !out || sets.n == 0) usage = "--model, --facesets and --out are required";
    else if (with_label < 0) snprintf(ubuf, sizeof ubuf, "--label must be visible or none, not '%s'", label), usage = ubuf;
    else if (size < WM_MIN_DIM || size > DS_MAX_SIZE) usage = "--size must be 64..1024 (the watermark needs 64 px)";
    else if (per_identity < 0 || seed < 0 || threads < 0) usage = "--per-identity, --seed and --threads must not be negative";
    else if (sets.n > DS_MAX_IDS) usage = "at most 256 face sets";
    else if (swap_options_set_mask(&o, mask, &err) || swap_options_set_colour(&o, colour, &err) ||
             swap_options_set_blend(&o, blend, &err) || dsx_parse_splits(splits, frac, &err))
        usage = err.msg;
    if (usage) {
        free(sets.v);
        return sl_usage_error("dataset", "%s", usage);
    }

    int rc = 1, n = 0, dev = 0, csv_open = 0, n_pairs = 0;
    RunInfo run;
    NnCtx ctx;
    SlAtomicFile af;
    DsIdentity *ids = xcalloc((size_t)sets.n, sizeof *ids);
    DsxPair *pairs = NULL;
    float *in = NULL, *dec = NULL;
    SlProgress prog;
    int prog_on = 0;
    SwapModel *m = run_load_model(model, &run, &err);
    if (!m) goto fail;

    /* the consent gate and the face sets */
    ConsentOptions copt = {revocations, NULL, NULL};
    for (int i = 0; i < sets.n; i++) {
        DsIdentity *d = &ids[i];
        snprintf(d->dir, sizeof d->dir, "%s", sets.v[i]);
        if (consent_check(d->dir, "dataset", &copt, &d->ci, NULL, &err)) goto fail;
        if (faceset_load(d->dir, &d->fs, &err)) goto fail;
        n++;
        if (swap_check_sizes(m, &d->fs, &err)) goto fail;
        d->model_id = run_find_identity(&run, d->ci.subject);
        if (d->model_id < 0) {
            char list[1024] = "";
            for (int k = 0; k < run.n_ids; k++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", run.ids[k].subject);
            }
            sl_fail(&err, "%s: subject %s is not an identity of the model %s (it knows %s); fakes need its decoder",
                    d->dir, d->ci.subject, run.model_path, list);
            goto fail;
        }
        dsx_safe_name(d->safe, sizeof d->safe, d->ci.subject);
        for (int k = 0; k < i; k++)
            if (!strcmp(ids[k].ci.subject, d->ci.subject)) {
                sl_fail(&err, "%s and %s are both subject %s: give each identity once", ids[k].dir, d->dir, d->ci.subject);
                goto fail;
            }
    }
    qsort(ids, (size_t)n, sizeof *ids, cmp_ids);
    for (int i = 1; i < n; i++)
        if (!strcmp(ids[i].safe, ids[i - 1].safe)) {
            sl_fail(&err, "subjects %s and %s give the same file names: rename one pseudonym", ids[i - 1].ci.subject,
                    ids[i].ci.subject);
            goto fail;
        }

    /* splits by identity, frames by seed */
    int split[DS_MAX_IDS], counts[3];
    if (dsx_assign_splits(n, frac, (uint64_t)seed, split, counts, &err)) goto fail;
    for (int i = 0; i < n; i++) ids[i].split = split[i];
    pairs = dsx_pairs(n, split, &n_pairs);
    SlRng rng;
    sl_rng_seed(&rng, (uint64_t)seed);
    long total = 0;
    for (int i = 0; i < n; i++) {
        DsIdentity *d = &ids[i];
        d->faces = xmalloc(((size_t)d->fs.n + 1) * sizeof *d->faces);
        for (int k = 0; k < d->fs.n; k++)
            if (d->fs.faces[k].source[0]) d->faces[d->n_faces++] = k;
        if (d->n_faces == 0) {
            sl_fail(&err, "%s: no face keeps its source frame (frames/); real and fake samples are cut from frames",
                    d->dir);
            goto fail;
        }
        SlRng fr = sl_rng_fork(&rng, (uint64_t)i + 1);
        for (int k = d->n_faces - 1; k > 0; k--) {
            int j = sl_rng_int(&fr, k + 1), t = d->faces[k];
            d->faces[k] = d->faces[j], d->faces[j] = t;
        }
        if (per_identity > 0 && per_identity < d->n_faces) d->n_faces = per_identity;
        qsort(d->faces, (size_t)d->n_faces, sizeof *d->faces, cmp_int);
        total += 2L * d->n_faces;
    }
    for (int i = 0; i < n; i++) {
        int k = counts[ids[i].split] - 1;
        if (ids[i].n_faces < k)
            sl_warn("%s: %d frames for %d partners in split %s: some pairs get no fakes (raise --per-identity)",
                    ids[i].ci.subject, ids[i].n_faces, k, dsx_split_name(ids[i].split));
    }
    if (counts[DSX_VAL] == 0) sl_info("dataset: the val split is empty (%d identities: train %d, test %d)", n,
                                      counts[DSX_TRAIN], counts[DSX_TEST]);
    if (with_label) sl_warn("--label visible: every fake shows the SYNTHETIC label, a shortcut any detector learns; "
                            "use --label none to train detectors");

    /* the output directory */
    char path[4700];
    sl_path_join(path, sizeof path, out, "labels.csv");
    char path2[4700];
    sl_path_join(path2, sizeof path2, out, "dataset.json");
    if (sl_is_file(path) || sl_is_file(path2)) {
        sl_fail(&err, "%s: already holds a dataset; choose a new --out", out);
        goto fail;
    }
    for (int s = 0; s < DSX_NSPLITS; s++) {
        if (counts[s] == 0) continue;
        for (int c = 0; c < 2; c++) {
            snprintf(path, sizeof path, "%s/%s/%s", out, dsx_split_name(s), c ? "fake" : "real");
            if (sl_mkdirs(path, &err)) {
                sl_failctx(&err, "cannot create the output directory");
                goto fail;
            }
        }
    }
    snprintf(path, sizeof path, "%s/.swaplab-write-test.%ld", out, (long)getpid());
    if (sl_write_atomic(path, "", 0, &err)) {
        sl_failctx(&err, "the output directory is not writable");
        goto fail;
    }
    unlink(path);
    SlKeypair key;
    if (provenance_load_key(key_path, &key, &err)) goto fail;

    /* the dataset id: a digest of everything that decides the bytes (not the time) */
    char idtext[8192], dsid[65];
    int l = snprintf(idtext, sizeof idtext, "swaplab-dataset/1\n%s\n%s %s %s %s %d %d %d %s %s\n", run.sha256, o.mask_str,
                     colour_mode_name(o.colour), o.blend_str, label, size, per_identity, seed, splits,
                     wm_key ? "custom" : "default");
    for (int i = 0; i < n && l < (int)sizeof idtext; i++)
        l += snprintf(idtext + l, sizeof idtext - (size_t)l, "%s %s\n", ids[i].ci.subject, ids[i].ci.digest);
    sl_sha256_hex(idtext, strlen(idtext), dsid);
    char payload_hex[9];
    memcpy(payload_hex, dsid, 8);
    payload_hex[8] = 0;
    uint32_t payload = (uint32_t)strtoul(payload_hex, NULL, 16);

    sl_path_join(path, sizeof path, out, "labels.csv");
    if (sl_atomic_open(&af, path, &err)) goto fail;
    csv_open = 1;
    fputs("path,label,source,target,split,method,preset,mask,colour,blend,visible_label,model_sha256,frame,face\n", af.f);

    nn_ctx_init(&ctx, threads, 1);
    if (nn_device_select(&ctx, device, &err)) goto fail;
    dev = 1;
    int maxc = 0;
    for (int i = 0; i < n; i++)
        if (ids[i].fs.crop > maxc) maxc = ids[i].fs.crop;
    const size_t cimg = 3 * (size_t)maxc * maxc;
    in = xmalloc(sizeof(float) * cimg * DS_BATCH);
    dec = xmalloc(sizeof(float) * cimg * DS_BATCH);
    DsWriter w = {out, o.mask_str, colour_mode_name(o.colour), o.blend_str, m->arch.preset, run.sha256, wm_key,
                  with_label, size, payload, &key, af.f, 0, 0, &prog};
    sl_progress_begin(&prog, "dataset", total);
    prog_on = 1;
    double t0 = sl_now();
    int *sel = xmalloc(sizeof(int) * 1);
    for (int i = 0; i < n; i++) {
        DsIdentity *d = &ids[i];
        for (int j = 0; j < d->n_faces; j++) write_real(&w, d, d->faces[j]);
        int k = counts[d->split] - 1, partners[DS_MAX_IDS], np = 0;
        for (int b = 0; b < n; b++)
            if (b != i && ids[b].split == d->split) partners[np++] = b;
        SL_ASSERT(np == k);
        sel = xrealloc(sel, sizeof(int) * (size_t)d->n_faces);
        for (int p = 0; p < np; p++) {
            int ns = 0;
            for (int j = 0; j < d->n_faces; j++)
                if (dsx_partner(i, j, np) == p) sel[ns++] = d->faces[j];
            if (ns) write_fakes(&w, m, &ctx, &run, &o, d, &ids[partners[p]], sel, ns, in, dec);
        }
    }
    free(sel);
    double secs = sl_now() - t0;
    char summary[200];
    snprintf(summary, sizeof summary, "%ld samples in %.1f s (%.2f/s), %ld skipped", w.done, secs,
             secs > 0 ? w.done / secs : 0, w.skipped);
    sl_progress_end(&prog, summary);
    prog_on = 0;

    /* every non-empty split needs both classes */
    int cls[3][2] = {{0}};
    for (int i = 0; i < n; i++) cls[ids[i].split][0] += ids[i].n_real, cls[ids[i].split][1] += ids[i].n_fake;
    for (int s = 0; s < DSX_NSPLITS; s++)
        if (counts[s] && (!cls[s][0] || !cls[s][1])) {
            sl_fail(&err, "%s: split %s got %d real and %d fake samples (%ld skipped); both are needed", out,
                    dsx_split_name(s), cls[s][0], cls[s][1], w.skipped);
            goto fail;
        }
    if (sl_atomic_commit(&af, &err)) {
        csv_open = 0;
        goto fail;
    }
    csv_open = 0;

    /* dataset.json */
    char when[32], keyfp[65];
    sl_utc_iso8601(when);
    WmKey wk;
    wm_key_from_string(&wk, wm_key);
    sl_sha256_hex(wk.k, sizeof wk.k, keyfp);
    keyfp[16] = 0;
    char pk[65];
    sl_hex(pk, key.pk, 32);
    json_t *j = json_object(), *jsplits = json_object(), *jids = json_array();
    json_object_set_new(j, "format", json_string("swaplab-dataset/1"));
    json_object_set_new(j, "tool", json_string("swaplab dataset"));
    json_object_set_new(j, "version", json_string(SL_VERSION));
    json_object_set_new(j, "created", json_string(when));
    json_object_set_new(j, "dataset_id", json_string(dsid));
    json_object_set_new(j, "model", json_pack("{s:s,s:s,s:I,s:s}", "path", run.model_path, "sha256", run.sha256, "step",
                                              (json_int_t)run.step, "preset", m->arch.preset));
    json_object_set_new(j, "settings",
                        json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:[f,f,f],s:s}", "mask", o.mask_str, "colour",
                                  colour_mode_name(o.colour), "blend", o.blend_str, "label", with_label ? "visible" : "none",
                                  "size", size, "per_identity", per_identity, "seed", seed, "splits", frac[0], frac[1],
                                  frac[2], "box", "the face's alignment crop (faces.jsonl affine) scaled to size"));
    json_object_set_new(j, "watermark",
                        json_pack("{s:s,s:s,s:s,s:s,s:s}", "scheme", WM_SCHEME, "key", wm_key ? "custom" : "default",
                                  "key_fingerprint", keyfp, "payload", payload_hex, "on",
                                  "every sample, real and fake alike (payload = dataset id)"));
    json_object_set_new(j, "signature", json_pack("{s:s,s:s}", "alg", "Ed25519", "public_key", pk));
    for (int s = 0; s < DSX_NSPLITS; s++) {
        json_t *jp = json_array();
        for (int p = 0; p < n_pairs; p++)
            if (split[pairs[p].from] == s)
                json_array_append_new(jp, json_pack("[s,s]", ids[pairs[p].from].ci.subject, ids[pairs[p].to].ci.subject));
        json_object_set_new(jsplits, dsx_split_name(s),
                            json_pack("{s:o,s:i,s:i,s:o,s:s}", "identities", str_array_of_split(ids, n, s), "real",
                                      cls[s][0], "fake", cls[s][1], "pairs", jp, "note",
                                      counts[s] ? "" : "empty: it needs >= 2 identities (fakes are swaps inside a split)"));
    }
    json_object_set_new(j, "splits", jsplits);
    for (int i = 0; i < n; i++)
        json_array_append_new(jids, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i}", "subject", ids[i].ci.subject, "kind",
                                              ids[i].ci.kind, "consent_sha256", ids[i].ci.digest, "split",
                                              dsx_split_name(ids[i].split), "real", ids[i].n_real, "fake", ids[i].n_fake));
    json_object_set_new(j, "identities", jids);
    json_object_set_new(j, "counts", json_pack("{s:I,s:I}", "samples", (json_int_t)w.done, "skipped", (json_int_t)w.skipped));
    json_object_set_new(j, "seconds", json_real(secs));
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(j);
    sl_path_join(path, sizeof path, out, "dataset.json");
    int wr = sl_write_atomic(path, s, strlen(s), &err);
    free(s);
    if (wr) goto fail;
    if (w.skipped) fprintf(stderr, "swaplab dataset: %ld samples skipped (unreadable files; see the warnings above)\n",
                           w.skipped);
    printf("swaplab dataset: %ld samples (train %d+%d, val %d+%d, test %d+%d real+fake; identities %d/%d/%d) -> %s "
           "(%.2f samples/s)\n",
           w.done, cls[0][0], cls[0][1], cls[1][0], cls[1][1], cls[2][0], cls[2][1], counts[0], counts[1], counts[2], out,
           secs > 0 ? w.done / secs : 0);
    rc = 0;
    goto done;
fail:
    if (prog_on) sl_progress_end(&prog, "stopped");
    if (csv_open) sl_atomic_abort(&af);
    fprintf(stderr, "swaplab dataset: %s\n", err.msg);
done:
    free(in), free(dec), free(pairs);
    if (dev) nn_device_release(&ctx);
    for (int i = 0; i < n; i++) {
        faceset_free(&ids[i].fs);
        free(ids[i].faces);
    }
    free(ids);
    free(sets.v);
    swap_model_free(m);
    return rc;
}
