/* report.c — builds the static HTML report of a run (report.h). Charts come from detect/plot.h,
 * detector numbers from detect/metrics.h (computed here from the detector files and the dataset, so
 * the page shows what the models do now), images are embedded as data: URIs (report/html.h). */
#include "report/report.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/consent.h"
#include "data/faceset.h"
#include "data/image.h"
#include "detect/dataset.h"
#include "detect/detector.h"
#include "detect/heatmap.h"
#include "detect/metrics.h"
#include "detect/plot.h"
#include "detect/robust.h"
#include "detect/spectral.h"
#include "report/html.h"
#include "model/run.h"
#include "report/previews.h"
#include "util/fs.h"
#include "util/rng.h"

#define REPORT_MAX_JSONL (256u << 20)
#define REPORT_MAX_JSON (64u << 20)
#define REPORT_MAX_SETS 64
#define REPORT_MAX_DET 8
#define REPORT_MAX_SCORED 2000 /* test images scored per detector and perturbation */

typedef struct {
    const ReportOpts *o;
    char run[SL_PATH_MAX], sets[SL_PATH_MAX], swaps[SL_PATH_MAX], dataset[SL_PATH_MAX], detect[SL_PATH_MAX], verify[SL_PATH_MAX], out[SL_PATH_MAX], assets[SL_PATH_MAX];
    HtmlBuf b;
    ReportSummary *sum;
    int nsets;
    char assets_rel[256]; /* the assets folder's address relative to the page */
    int nids_grid;        /* identities in the preview grids */
    char idname[SWAP_MAX_IDS][128];
    char setdir[REPORT_MAX_SETS][SL_PATH_MAX];
    char setsubj[REPORT_MAX_SETS][128];
} Rep;

static void note_missing(Rep *r, const char *what) {
    size_t n = strlen(r->sum->missing);
    snprintf(r->sum->missing + n, sizeof r->sum->missing - n, "%s%s", n ? ", " : "", what);
}

static void para_missing(Rep *r, const char *what, const char *why) {
    hb_puts(&r->b, "<p class=\"missing\"><strong>Not available:</strong> ");
    hb_esc(&r->b, why);
    hb_puts(&r->b, "</p>\n");
    note_missing(r, what);
}

/* A JSON file of at most REPORT_MAX_JSON bytes; NULL when missing, too large or malformed. */
static json_t *load_json(const char *path, json_error_t *je) {
    char *data;
    size_t len;
    SlErr e;
    if (sl_read_file(path, REPORT_MAX_JSON, &data, &len, &e)) return NULL;
    json_t *j = json_loadb(data, len, 0, je);
    free(data);
    return j;
}

/* Embeds an image as a JPEG thumbnail; a missing file becomes a visible note rather than a broken
 * image. */
static void img(Rep *r, const char *path, const char *alt, const char *cls) {
    Image im;
    SlErr e;
    if (image_load(path, 3, &im, &e)) {
        hb_puts(&r->b, "<span class=\"missing\">(image unavailable: ");
        hb_esc(&r->b, e.msg);
        hb_puts(&r->b, ")</span>");
        return;
    }
    hb_img_jpeg(&r->b, &im, 90, alt, cls);
    image_free(&im);
}

/* Sub-directories of dir, sorted (caller frees with sl_free_list). */
static int list_subdirs(const char *dir, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[SL_PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (!sl_is_dir(p)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, (size_t)cap * sizeof **out);
        }
        (*out)[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp((*out)[j - 1], (*out)[j]) > 0; j--) {
            char *t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return n;
}

/* ---- consent --------------------------------------------------------------------------------- */
static void add_set(Rep *r, const char *dir) {
    char real[SL_PATH_MAX];
    if (!realpath(dir, real)) snprintf(real, sizeof real, "%s", dir);
    for (int i = 0; i < r->nsets; i++)
        if (!strcmp(r->setdir[i], real)) return;
    if (r->nsets < REPORT_MAX_SETS) snprintf(r->setdir[r->nsets++], sizeof r->setdir[0], "%s", real);
}

static int check_consent(Rep *r, const RunInfo *ri, SlErr *err) {
    char **names;
    int n = list_subdirs(r->sets, &names);
    for (int i = 0; i < n; i++) {
        char d[SL_PATH_MAX], c[SL_PATH_MAX];
        sl_snprintf(d, sizeof d, "%s/%s", r->sets, names[i]);
        /* a face set: a manifest, or faces without one (then refused by the check below) */
        char fj[SL_PATH_MAX];
        sl_path_join(c, sizeof c, d, CONSENT_FILE);
        sl_path_join(fj, sizeof fj, d, "faces.jsonl");
        if (sl_is_file(c) || sl_is_file(fj)) add_set(r, d);
    }
    sl_free_list(names, n);
    for (int i = 0; ri && i < ri->n_ids; i++) {
        const char *fs = ri->ids[i].faceset;
        if (fs[0] && sl_is_dir(fs)) {
            add_set(r, fs);
            continue;
        }
        const char *base = strrchr(fs, '/');
        char alt[SL_PATH_MAX];
        sl_snprintf(alt, sizeof alt, "%s/%s", r->sets, base ? base + 1 : ri->ids[i].subject);
        if (sl_is_dir(alt)) add_set(r, alt);
        else
            return sl_fail(err,
                           "%s: the model's identity '%s' comes from face set %s, which is not there: its consent "
                           "for 'report' cannot be checked (pass --sets with the folder holding it)",
                           r->run, ri->ids[i].subject, fs[0] ? fs : "(not recorded)");
    }
    ConsentOptions co = {0};
    co.revocations = r->o->revocations;
    HtmlBuf *b = &r->b;
    hb_puts(b, "<section id=\"consent\"><h2>Consent</h2>\n<p>Every face on this page belongs to a face set "
               "whose consent manifest was checked for the scope <code>report</code> when the page was "
               "written (present, unexpired, not revoked, every image listed with its SHA-256).</p>\n"
               "<div class=\"wide\"><table><caption>Face sets shown</caption><thead><tr><th scope=\"col\">subject</th>"
               "<th scope=\"col\">kind</th><th scope=\"col\">scopes</th><th scope=\"col\">granted</th>"
               "<th scope=\"col\">expires</th><th scope=\"col\">images</th><th scope=\"col\">manifest SHA-256</th>"
               "</tr></thead><tbody>\n");
    for (int i = 0; i < r->nsets; i++) {
        ConsentInfo ci;
        SlErr e;
        if (consent_check(r->setdir[i], "report", &co, &ci, NULL, &e))
            return sl_fail(err, "%s: no consent to show these faces in a report:\n%s", r->setdir[i], e.msg);
        snprintf(r->setsubj[i], sizeof r->setsubj[i], "%s", ci.subject);
        char scopes[64];
        consent_scopes_format(ci.scopes, scopes, sizeof scopes);
        hb_puts(b, "<tr><td>");
        hb_esc(b, ci.subject);
        hb_puts(b, "</td><td>");
        hb_esc(b, ci.kind);
        hb_puts(b, "</td><td>");
        hb_esc(b, scopes);
        hb_printf(b, "</td><td>%s</td><td>%s</td><td>%d</td><td><code>%.16s…</code></td></tr>\n", ci.granted,
                  ci.expires, ci.nimages, ci.digest);
    }
    hb_puts(b, "</tbody></table></div>\n<p>Synthetic subjects are renders of people who do not exist. See "
               "docs/CONSENT.md for what each scope allows and how consent is revoked.</p></section>\n");
    r->sum->facesets = r->nsets;
    return 0;
}

/* ---- training ---------------------------------------------------------------------------------- */
typedef struct {
    double *x, *y;
    int n, cap;
} Series;

static void series_add(Series *s, double x, double y) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->x = xrealloc(s->x, (size_t)s->cap * sizeof *s->x);
        s->y = xrealloc(s->y, (size_t)s->cap * sizeof *s->y);
    }
    s->x[s->n] = x, s->y[s->n] = y, s->n++;
}

static void series_free(Series *s) {
    free(s->x);
    free(s->y);
}

/* Calls fn on each JSON object line of path; returns the number of malformed lines, -1 if unreadable. */
static int read_jsonl(const char *path, void (*fn)(json_t *, void *), void *ctx) {
    char *data;
    size_t len;
    SlErr e;
    if (sl_read_file(path, REPORT_MAX_JSONL, &data, &len, &e)) return -1;
    int bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j || !json_is_object(j)) bad++;
        else fn(j, ctx);
        json_decref(j);
    }
    free(data);
    return bad;
}

typedef struct {
    Series s[SWAP_MAX_IDS];
    int nid;
} LossLog;

static void loss_line(json_t *j, void *ctx) {
    LossLog *L = ctx;
    json_t *step = json_object_get(j, "step"), *loss = json_object_get(j, "loss");
    if (!json_is_number(step) || !json_is_array(loss)) return;
    for (size_t i = 0; i < json_array_size(loss) && i < SWAP_MAX_IDS; i++) {
        json_t *v = json_array_get(loss, i);
        if (!json_is_number(v)) continue;
        series_add(&L->s[i], json_number_value(step), json_number_value(v));
        if ((int)i + 1 > L->nid) L->nid = (int)i + 1;
    }
}

typedef struct {
    Series psnr, psnr_src, psnr_mean, ssim, ssim_src, idt;
} FidLog;

static double jnum(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void fid_line(json_t *j, void *ctx) {
    FidLog *F = ctx;
    json_t *all = json_object_get(j, "overall");
    double step = jnum(j, "step");
    if (!json_is_object(all) || !isfinite(step)) return;
    series_add(&F->psnr, step, jnum(all, "psnr"));
    series_add(&F->psnr_src, step, jnum(all, "psnr_source_baseline"));
    series_add(&F->psnr_mean, step, jnum(all, "psnr_mean_face_baseline"));
    series_add(&F->ssim, step, jnum(all, "ssim"));
    series_add(&F->ssim_src, step, jnum(all, "ssim_source_baseline"));
    series_add(&F->idt, step, jnum(all, "identity_transfer"));
}

static void chart(Rep *r, char *svg, const char *label) {
    hb_puts(&r->b, "<figure class=\"chart\">");
    hb_svg(&r->b, svg, label);
    hb_puts(&r->b, "<figcaption>");
    hb_esc(&r->b, label);
    hb_puts(&r->b, "</figcaption></figure>\n");
    free(svg);
}

/* Writes im as a JPEG into the assets folder (sub-folder previews) and gives its address relative
 * to the page. */
static int asset_jpeg(Rep *r, const Image *im, const char *name, char *href, size_t n, SlErr *e) {
    char dir[SL_PATH_MAX], p[SL_PATH_MAX];
    sl_path_join(dir, sizeof dir, r->assets, "previews");
    sl_path_join(p, sizeof p, dir, name);
    if (sl_mkdirs(dir, e) || image_save_jpeg(p, im, 90, e)) return -1;
    snprintf(href, n, "%s/previews/%s", r->assets_rel, name);
    return 0;
}

/* A preview grid at the model's own resolution as assets/previews/NAME (the link target of its row). */
static int grid_asset(Rep *r, const char *png, const char *name, char *href, size_t n) {
    Image g;
    SlErr e;
    if (image_load(png, 3, &g, &e)) return -1;
    PreviewGrid L;
    int up = r->nids_grid > 0 && preview_grid_layout(&g, r->nids_grid, &L, png, &e) == 0 ? L.up : 1;
    Image nat = up > 1 ? preview_grid_native(&g, &L) : image_clone(&g);
    int rc = asset_jpeg(r, &nat, name, href, n, &e);
    image_free(&nat);
    image_free(&g);
    return rc;
}

/* The head of a labelled grid table: FIRST | input | as <identity> ... */
static void grid_head(Rep *r, int nids, const char *first, const char *caption) {
    HtmlBuf *b = &r->b;
    r->nids_grid = nids;
    /* as wide as its tiles need (a row head and at most 128 px a tile), not the whole page; never
     * so narrow that a tile drops under 40 px: then the table scrolls in its box */
    hb_printf(b, "<div class=\"wide\"><table class=\"grid\" style=\"max-width:calc(6em + %d * 124px);"
                 "min-width:calc(3em + %d * 42px)\"><caption>", nids + 1, nids + 1);
    hb_esc(b, caption);
    hb_printf(b, "</caption><thead><tr><th scope=\"col\" class=\"rowhead\">%s</th><th scope=\"col\">input</th>", first);
    for (int d = 0; d < nids; d++) {
        /* the name may break after its dash on a phone; " decoder" is dropped there */
        const char *nm = r->idname[d], *dash = strrchr(nm, '-');
        hb_puts(b, "<th scope=\"col\">");
        if (dash && dash[1]) {
            char head[128];
            snprintf(head, sizeof head, "%.*s", (int)(dash - nm + 1), nm);
            hb_esc(b, head);
            hb_puts(b, "<wbr>");
            hb_esc(b, dash + 1);
        } else {
            hb_esc(b, nm);
        }
        hb_puts(b, "<span class=\"dec\">&rsquo;s decoder</span></th>");
    }
    hb_puts(b, "</tr></thead><tbody>\n");
}

/* One row of a grid table: identity id's first face of the grid in png through every decoder. With
 * asset_name the row head links to the whole grid written as that asset. A grid that does not have
 * the expected layout is shown whole, scaled down. */
static void grid_row(Rep *r, const RunInfo *ri, const char *png, const char *asset_name, const char *label, int id) {
    HtmlBuf *b = &r->b;
    int nids = r->nids_grid;
    Image g;
    SlErr e;
    PreviewGrid L;
    hb_puts(b, "<tr><th scope=\"row\" class=\"rowhead\">");
    char href[SL_PATH_MAX], an[300];
    if (asset_name) {
        snprintf(an, sizeof an, "%.*s.jpg", (int)(strlen(asset_name) > 4 ? strlen(asset_name) - 4 : 0), asset_name);
        if (grid_asset(r, png, an, href, sizeof href) == 0) {
            hb_puts(b, "<a href=\"");
            hb_esc(b, href);
            hb_puts(b, "\">");
            hb_esc(b, label);
            hb_puts(b, "</a>");
        } else {
            hb_esc(b, label);
        }
    } else {
        hb_esc(b, label);
    }
    hb_puts(b, "</th>");
    if (image_load(png, 3, &g, &e)) {
        hb_printf(b, "<td colspan=\"%d\" class=\"missing\">(image unavailable: ", nids + 1);
        hb_esc(b, e.msg);
        hb_puts(b, ")</td></tr>\n");
        return;
    }
    if (nids < 1 || preview_grid_layout(&g, nids, &L, png, &e)) {
        int w = g.w > 640 ? 640 : g.w, h = (int)((long)g.h * w / g.w);
        Image s = image_resize(&g, w, h > 0 ? h : 1);
        hb_printf(b, "<td colspan=\"%d\">", nids + 1);
        hb_img_jpeg(b, &s, 85, "preview grid (not in the expected layout, shown whole)", "whole");
        hb_puts(b, "</td></tr>\n");
        image_free(&s);
        image_free(&g);
        return;
    }
    for (int d = -1; d < nids; d++) {
        char alt[512];
        const char *who = ri && id < ri->n_ids ? r->idname[id] : "identity";
        if (d < 0) snprintf(alt, sizeof alt, "%s: input face of %s", label, who);
        else if (d == id) snprintf(alt, sizeof alt, "%s: face of %s reconstructed by its own decoder", label, who);
        else snprintf(alt, sizeof alt, "%s: face of %s swapped through the decoder of %s", label, who, r->idname[d]);
        Image t = preview_grid_tile(&g, &L, id, 0, d);
        hb_puts(b, d == id ? "<td class=\"own\">" : "<td>");
        hb_img_jpeg(b, &t, 90, alt, "tile");
        hb_puts(b, "</td>");
        image_free(&t);
    }
    hb_puts(b, "</tr>\n");
    image_free(&g);
}

static void section_training(Rep *r, const RunInfo *ri) {
    HtmlBuf *b = &r->b;
    hb_puts(b, "<section id=\"training\"><h2>1. Training as it happened</h2>\n<p>One shared encoder learns a "
               "code for every face; one decoder per person learns to draw that person back from the code. "
               "Each preview grid shows, per identity, the input face, its reconstruction by its own decoder "
               "and the swap (the same code through the other decoder).</p>\n");
    char pdir[SL_PATH_MAX];
    sl_path_join(pdir, sizeof pdir, r->run, "previews");
    char **names = NULL;
    SlErr e;
    const char *png[] = {".png", NULL};
    int n = sl_list_dir(pdir, png, &names, &e);
    int nsteps = 0;
    for (int i = 0; i < n; i++)
        if (!strncmp(names[i], "step-", 5)) names[nsteps++] = names[i];
        else free(names[i]);
    int nids = ri ? ri->n_ids : 0;
    r->nids_grid = nids;
    if (nsteps > 0) {
        int k = r->o->max_previews > 0 ? r->o->max_previews : 12;
        if (k > nsteps) k = nsteps;
        hb_printf(b, "<h3>How the swap forms, step by step</h3>\n<p>One held-out face of %s at %d of the %d saved "
                     "steps, oldest first: the input, its reconstruction by its own decoder, and the swap: the same "
                     "code through each other identity's decoder. The earliest grids are flat grey, then a grey blur "
                     "of the average face; skin colour and the outline come next, the details (eyes, mouth) last. A step's number opens its "
                     "whole grid (every identity, %d faces each).</p>\n",
                  nids > 0 ? ri->ids[0].subject : "the first identity", k, nsteps, PREVIEW_GRID_FACES);
        grid_head(r, nids, "step", "the first identity's face through every decoder over the training steps");
        for (int j = 0; j < k; j++) {
            int idx = k == 1 ? nsteps - 1 : (int)((long)j * (nsteps - 1) / (k - 1));
            char p[SL_PATH_MAX], label[64];
            sl_path_join(p, sizeof p, pdir, names[idx]);
            long step = atol(names[idx] + 5);
            snprintf(label, sizeof label, "step %ld", step);
            grid_row(r, ri, p, names[idx], label, 0);
        }
        hb_puts(b, "</tbody></table></div>\n");
        r->sum->previews = k;
    }
    for (int i = 0; i < nsteps; i++) free(names[i]);
    free(names);
    char latest[SL_PATH_MAX];
    sl_path_join(latest, sizeof latest, pdir, "latest.png");
    if (sl_is_file(latest)) {
        hb_printf(b, "<h3>The latest preview (step %ld)</h3>\n<p>Each row is one identity's first face: the input, "
                     "then that face's code through every decoder. The outlined tile on the diagonal is the own "
                     "reconstruction; the others are swaps. <a href=\"", ri ? ri->step : 0L);
        char href[SL_PATH_MAX];
        if (grid_asset(r, latest, "latest.jpg", href, sizeof href) == 0) {
            hb_esc(b, href);
            hb_printf(b, "\">The whole grid</a> has %d faces per identity.</p>\n", PREVIEW_GRID_FACES);
        } else {
            hb_puts(b, "#training\">(whole grid unavailable)</a></p>\n");
        }
        grid_head(r, nids, "identity", "the latest preview: every identity's face through every decoder");
        for (int i = 0; i < nids; i++) grid_row(r, ri, latest, NULL, ri->ids[i].subject, i);
        hb_puts(b, "</tbody></table></div>\n");
    } else if (nsteps == 0) {
        para_missing(r, "previews", "the run has no preview grids (previews/latest.png, train with --timelapse for "
                                    "the steps).");
    }

    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, r->run, "log.jsonl");
    LossLog L;
    memset(&L, 0, sizeof L);
    int bad = read_jsonl(path, loss_line, &L);
    hb_puts(b, "<h3>Loss</h3>\n");
    if (bad < 0 || L.nid == 0) {
        para_missing(r, "loss curve", "no readable log.jsonl in the run.");
    } else {
        PlotSeries ps[SWAP_MAX_IDS];
        char lab[SWAP_MAX_IDS][160];
        for (int i = 0; i < L.nid; i++) {
            snprintf(lab[i], sizeof lab[i], "%s", ri && i < ri->n_ids ? ri->ids[i].subject : "identity");
            ps[i] = (PlotSeries){lab[i], L.s[i].x, L.s[i].y, L.s[i].n};
        }
        PlotOpts po = {"training loss (masked DSSIM + MSE) per identity", "step", "loss", 640, 320, 0, 0, 0, 0, 0};
        chart(r, plot_svg_lines(&po, ps, L.nid), "training loss per identity over the steps");
        if (bad) hb_printf(b, "<p class=\"note\">%d malformed line(s) of log.jsonl skipped.</p>\n", bad);
    }
    for (int i = 0; i < SWAP_MAX_IDS; i++) series_free(&L.s[i]);

    sl_path_join(path, sizeof path, r->run, "fidelity.jsonl");
    FidLog F;
    memset(&F, 0, sizeof F);
    bad = read_jsonl(path, fid_line, &F);
    hb_puts(b, "<h3>Fidelity against the ground truth during training</h3>\n");
    if (bad < 0 || F.psnr.n == 0) {
        para_missing(r, "fidelity curve", "no readable fidelity.jsonl in the run (the run was not on synthetic "
                                          "face sets, or had no evaluation yet).");
    } else {
        hb_puts(b, "<p>The swaps of held-out frames are compared with the renderer's right answer (the source "
                   "frame drawn with the target's face). The two baselines give the numbers a meaning: "
                   "<em>source</em> is what doing nothing scores, <em>mean face</em> what drawing an average "
                   "target scores. A swap is worth something once it beats both.</p>\n");
        PlotSeries p1[3] = {{"swap", F.psnr.x, F.psnr.y, F.psnr.n},
                            {"baseline: source", F.psnr_src.x, F.psnr_src.y, F.psnr_src.n},
                            {"baseline: mean face", F.psnr_mean.x, F.psnr_mean.y, F.psnr_mean.n}};
        PlotOpts po = {"swap PSNR vs ground truth (inside the face mask)", "step", "PSNR (dB)", 640, 320, 0, 0, 0, 0, 0};
        chart(r, plot_svg_lines(&po, p1, 3), "swap PSNR against the ground truth over the steps, with baselines");
        PlotSeries p2[3] = {{"swap SSIM", F.ssim.x, F.ssim.y, F.ssim.n},
                            {"baseline: source SSIM", F.ssim_src.x, F.ssim_src.y, F.ssim_src.n},
                            {"identity transfer", F.idt.x, F.idt.y, F.idt.n}};
        PlotOpts po2 = {"SSIM and identity transfer", "step", "0..1", 640, 320, 0, 0, 0, 1, 0};
        chart(r, plot_svg_lines(&po2, p2, 3), "swap SSIM, source baseline SSIM and identity transfer over the steps");
    }
    series_free(&F.psnr), series_free(&F.psnr_src), series_free(&F.psnr_mean);
    series_free(&F.ssim), series_free(&F.ssim_src), series_free(&F.idt);
    hb_puts(b, "</section>\n");
}

/* ---- swaps ------------------------------------------------------------------------------------- */
static void fid_row(HtmlBuf *b, json_t *p, const char *name) {
    hb_puts(b, "<tr><th scope=\"row\">");
    hb_esc(b, name);
    hb_printf(b, "</th><td>%d</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>"
                 "<td>%.0f%%</td>",
              (int)jnum(p, "faces"), jnum(p, "psnr"), jnum(p, "psnr_source_baseline"), jnum(p, "psnr_mean_face_baseline"),
              jnum(p, "ssim"), jnum(p, "ssim_source_baseline"), jnum(p, "ssim_mean_face_baseline"),
              100 * jnum(p, "identity_transfer"));
    static const char *const lm[] = {"landmark_error", "landmark_error_mean_face_baseline", "landmark_error_ground_truth"};
    for (int i = 0; i < 3; i++) {
        double v = jnum(p, lm[i]);
        if (isnan(v)) hb_puts(b, "<td>n/a</td>");
        else hb_printf(b, "<td>%.2f</td>", v);
    }
    hb_puts(b, "</tr>\n");
}

static void eval_table(Rep *r) {
    HtmlBuf *b = &r->b;
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, r->run, "eval.json");
    json_error_t je;
    json_t *j = sl_is_file(path) ? load_json(path, &je) : NULL;
    json_t *all = json_object_get(j, "overall"), *pairs = json_object_get(j, "pairs");
    if (!json_is_object(all)) {
        para_missing(r, "fidelity table", "no RUN/eval.json (run `swaplab eval --model RUN --facesets ...`).");
        json_decref(j);
        return;
    }
    hb_printf(b, "<h3>Fidelity of the final model</h3>\n<div class=\"wide\"><table><caption>Swap fidelity at step %.0f on %s frames "
                 "(RUN/eval.json): PSNR in dB and SSIM inside the face mask; identity transfer = share of swaps a "
                 "small identity classifier calls the target; landmark error = mean distance in pixels (64 px "
                 "crop) between dlib's 68 landmarks found on the image and the ground truth's true ones: how "
                 "well pose and expression are kept (the ground truth's own error is the predictor's floor)"
                 "</caption><thead><tr><th scope=\"col\">pair</th>"
                 "<th scope=\"col\">faces</th><th scope=\"col\">PSNR swap</th><th scope=\"col\">PSNR source</th>"
                 "<th scope=\"col\">PSNR mean face</th><th scope=\"col\">SSIM swap</th><th scope=\"col\">SSIM source</th>"
                 "<th scope=\"col\">SSIM mean face</th><th scope=\"col\">identity transfer</th>"
                 "<th scope=\"col\">landmark error swap</th><th scope=\"col\">landmark error mean face</th>"
                 "<th scope=\"col\">landmark error ground truth</th></tr></thead><tbody>\n",
              jnum(j, "step"), json_is_true(json_object_get(j, "held_out")) ? "held-out" : "training");
    for (size_t i = 0; i < json_array_size(pairs); i++) {
        json_t *p = json_array_get(pairs, i);
        char nm[300];
        snprintf(nm, sizeof nm, "%s → %s", json_string_value(json_object_get(p, "source")) ?: "?",
                 json_string_value(json_object_get(p, "target")) ?: "?");
        fid_row(b, p, nm);
    }
    fid_row(b, all, "mean over pairs");
    double ps = jnum(all, "psnr"), p0 = jnum(all, "psnr_source_baseline"), pm = jnum(all, "psnr_mean_face_baseline");
    hb_printf(b, "</tbody></table></div>\n<p><strong>What it means:</strong> the swap is %.1f dB %s than leaving the "
                 "source face in place and %.1f dB %s than pasting the target's average face. %s</p>\n",
              fabs(ps - p0), ps >= p0 ? "closer to the right answer" : "further from the right answer", fabs(ps - pm),
              ps >= pm ? "closer" : "further",
              ps >= p0 && ps >= pm ? "The model has learned something neither baseline has: the target's face in the "
                                     "source's pose, expression and light."
                                   : "The model has not yet beaten both baselines: train longer (or a larger preset) "
                                     "before trusting what it draws.");
    json_decref(j);
}

static void section_video(Rep *r);

static void section_swaps(Rep *r) {
    HtmlBuf *b = &r->b;
    hb_puts(b, "<section id=\"swaps\"><h2>2. The swaps</h2>\n<p>A swap encodes a frame of the source person and "
               "decodes the code with the <em>target's</em> decoder: pose, expression and light come from the "
               "code, the face from the decoder. Because these people are synthetic, the renderer also draws the "
               "right answer.</p>\n");
    eval_table(r);
    char **dirs;
    int nd = list_subdirs(r->swaps, &dirs);
    int shown = 0, kmax = r->o->max_examples > 0 ? r->o->max_examples : 4;
    char gtroot[SL_PATH_MAX];
    sl_path_join(gtroot, sizeof gtroot, r->sets, "ground-truth");
    char *seen_dirs[256];
    int nseen = 0;
    for (int d = -1; d < nd; d++) {
        char sdir[SL_PATH_MAX], sj[SL_PATH_MAX];
        if (d < 0) snprintf(sdir, sizeof sdir, "%s", r->swaps);
        else sl_snprintf(sdir, sizeof sdir, "%s/%s", r->swaps, dirs[d]);
        sl_path_join(sj, sizeof sj, sdir, "swap.json");
        if (!sl_is_file(sj)) continue;
        json_error_t je;
        json_t *j = load_json(sj, &je);
        json_t *from = json_object_get(j, "from"), *to = json_object_get(j, "to"), *outs = json_object_get(j, "outputs");
        const char *fs_dir = json_string_value(json_object_get(from, "faceset"));
        const char *fsub = json_string_value(json_object_get(from, "subject"));
        const char *tsub = json_string_value(json_object_get(to, "subject"));
        const char *pair = json_string_value(json_object_get(j, "directory"));
        if (!fs_dir || !fsub || !tsub || !pair || !json_is_array(outs) || strchr(pair, '/') || !strcmp(pair, "..") ||
            strchr(fsub, '/') || strchr(tsub, '/')) {
            hb_puts(b, "<p class=\"missing\">");
            hb_esc(b, sj);
            hb_puts(b, ": not a swap.json written by swaplab swap (skipped).</p>\n");
            json_decref(j);
            continue;
        }
        /* DIR/swap.json and DIR/<pair>/swap.json describe the same outputs: show them once */
        char outdir[SL_PATH_MAX];
        sl_snprintf(outdir, sizeof outdir, "%s/%s", sdir, pair);
        char *real = realpath(outdir, NULL);
        int seen = 0;
        if (real) {
            for (int q = 0; q < nseen; q++) seen |= !strcmp(seen_dirs[q], real);
            if (!seen && nseen < (int)(sizeof seen_dirs / sizeof *seen_dirs)) seen_dirs[nseen++] = real, real = NULL;
            free(real);
        }
        if (seen) {
            json_decref(j);
            continue;
        }
        FaceSet fs;
        SlErr e;
        int have_fs = faceset_load(fs_dir, &fs, &e) == 0;
        hb_puts(b, "<h3>");
        hb_esc(b, fsub);
        hb_puts(b, " → ");
        hb_esc(b, tsub);
        hb_printf(b, "</h3>\n<p>%d frames swapped by model step %.0f (%s).</p>\n<div class=\"wide\"><table class=\"swaps\"><caption>",
                  (int)json_array_size(outs), jnum(j, "model_step"),
                  json_string_value(json_object_get(j, "preset")) ?: "?");
        hb_esc(b, fsub);
        hb_puts(b, " → ");
        hb_esc(b, tsub);
        hb_puts(b, ": source frame, swapped frame, source face, decoded face, ground truth</caption><thead><tr>"
                   "<th scope=\"col\">source frame</th><th scope=\"col\">swapped frame (labelled)</th>"
                   "<th scope=\"col\">source face</th><th scope=\"col\">decoded face</th>"
                   "<th scope=\"col\">ground truth</th></tr></thead><tbody>\n");
        int k = (int)json_array_size(outs) < kmax ? (int)json_array_size(outs) : kmax;
        for (int i = 0; i < k; i++) {
            json_t *o = json_array_get(outs, i);
            int face = (int)jnum(o, "face");
            char p[SL_PATH_MAX], alt[512], nm[32];
            snprintf(nm, sizeof nm, "%06d.png", face);
            hb_puts(b, "<tr><td>");
            if (have_fs && face >= 0 && face < fs.n) {
                faceset_source_path(&fs, face, p, sizeof p);
                snprintf(alt, sizeof alt, "source frame %d of %s (synthetic person)", face, fsub);
                if (fs.faces[face].source[0]) img(r, p, alt, "frame");
            }
            hb_puts(b, "</td><td>");
            sl_snprintf(p, sizeof p, "%s/%s/%s", sdir, pair, nm);
            snprintf(alt, sizeof alt, "frame %d of %s with the face of %s swapped in, labelled SYNTHETIC", face, fsub, tsub);
            img(r, p, alt, "frame");
            hb_puts(b, "</td><td>");
            if (have_fs && face >= 0 && face < fs.n) {
                faceset_face_path(&fs, face, p, sizeof p);
                snprintf(alt, sizeof alt, "aligned face %d of %s", face, fsub);
                img(r, p, alt, "crop");
            }
            hb_puts(b, "</td><td>");
            sl_snprintf(p, sizeof p, "%s/%s/raw/%s", sdir, pair, nm);
            snprintf(alt, sizeof alt, "face %d of %s decoded with the decoder of %s", face, fsub, tsub);
            if (sl_is_file(p)) img(r, p, alt, "crop");
            else hb_puts(b, "<span class=\"missing\">(swap without --raw)</span>");
            hb_puts(b, "</td><td>");
            sl_snprintf(p, sizeof p, "%s/%s__%s/%s", gtroot, fsub, tsub, nm);
            snprintf(alt, sizeof alt, "ground truth: frame %d of %s rendered with the face of %s", face, fsub, tsub);
            if (sl_is_file(p)) img(r, p, alt, "crop");
            else hb_puts(b, "<span class=\"missing\">(no ground truth: synth --ground-truth)</span>");
            hb_puts(b, "</td></tr>\n");
        }
        hb_puts(b, "</tbody></table></div>\n");
        r->sum->swaps += k;
        shown++;
        if (have_fs) faceset_free(&fs);
        json_decref(j);
    }
    sl_free_list(dirs, nd);
    for (int q = 0; q < nseen; q++) free(seen_dirs[q]);
    if (!shown) para_missing(r, "swaps", "no swap outputs (a folder with swap.json from `swaplab swap`) were found.");
    section_video(r);
    hb_puts(b, "</section>\n");
}

/* ---- the swapped clip ------------------------------------------------------------------------- */
/* The first *.mp4 (sorted) in dir, or in its sub-folders down to `depth` levels. */
static int find_mp4(const char *dir, int depth, char *out, size_t n) {
    char **names;
    SlErr e;
    const char *mp4[] = {".mp4", NULL};
    int k = sl_list_dir(dir, mp4, &names, &e);
    if (k > 0) {
        sl_path_join(out, n, dir, names[0]);
        sl_free_list(names, k);
        return 1;
    }
    if (k >= 0) sl_free_list(names, k);
    if (depth <= 0) return 0;
    char **dirs;
    int nd = list_subdirs(dir, &dirs), found = 0;
    for (int i = 0; i < nd && !found; i++) {
        char sub[SL_PATH_MAX];
        sl_snprintf(sub, sizeof sub, "%s/%s", dir, dirs[i]);
        found = find_mp4(sub, depth - 1, out, n);
    }
    sl_free_list(dirs, nd);
    return found;
}

#define REPORT_MAX_VIDEO (512u << 20)

/* Copies clip into the assets folder's sub (e.g. "video") and gives its href beside the page and
 * its size. Returns -1 with e. */
static int copy_clip(Rep *r, const char *clip, const char *sub, char *href, size_t n, size_t *len, SlErr *e) {
    const char *base = strrchr(clip, '/') ? strrchr(clip, '/') + 1 : clip;
    char dst[SL_PATH_MAX], dir[SL_PATH_MAX];
    sl_path_join(dir, sizeof dir, r->assets, sub);
    sl_path_join(dst, sizeof dst, dir, base);
    char *data;
    if (sl_read_file(clip, REPORT_MAX_VIDEO, &data, len, e)) return -1;
    int rc = sl_mkdirs(dir, e) || sl_write_atomic(dst, data, *len, e);
    free(data);
    if (rc) return -1;
    snprintf(href, n, "%s/%s/%s", r->assets_rel, sub, base);
    return 0;
}

/* The clip a swap started from: --video-before, else (when --video is not given) the first
 * DIR/clip/<set>/clip.mp4 of `synth --video`. Shown only when the folder holding it is a face set
 * whose consent covers "report": it is a person's unmarked footage. 1: shown, 0: none or refused
 * (said on the page). */
static int video_before(Rep *r) {
    char clip[SL_PATH_MAX] = "";
    if (r->o->video_before) snprintf(clip, sizeof clip, "%s", r->o->video_before);
    else if (!r->o->video) {
        char cdir[SL_PATH_MAX], **dirs;
        sl_path_join(cdir, sizeof cdir, r->o->dir, "clip");
        int nd = list_subdirs(cdir, &dirs);
        for (int i = 0; i < nd && !clip[0]; i++) {
            char c[SL_PATH_MAX];
            sl_snprintf(c, sizeof c, "%s/%s/clip.mp4", cdir, dirs[i]);
            if (sl_is_file(c)) snprintf(clip, sizeof clip, "%s", c);
        }
        sl_free_list(dirs, nd);
    }
    if (!clip[0]) return 0;
    char setdir[SL_PATH_MAX];
    snprintf(setdir, sizeof setdir, "%s", clip);
    char *slash = strrchr(setdir, '/');
    if (slash) *slash = 0;
    else snprintf(setdir, sizeof setdir, ".");
    ConsentOptions co = {0};
    co.revocations = r->o->revocations;
    ConsentInfo ci;
    SlErr e, e2;
    if (consent_check(setdir, "report", &co, &ci, NULL, &e)) {
        sl_fail(&e2, "%s: the clip before the swap is not shown: the folder holding it is no face set with consent for "
                     "'report' (%s)", clip, e.msg);
        para_missing(r, "video (before)", e2.msg);
        return 0;
    }
    char href[SL_PATH_MAX];
    size_t len;
    if (copy_clip(r, clip, "video/before", href, sizeof href, &len, &e)) {
        para_missing(r, "video (before)", e.msg);
        return 0;
    }
    HtmlBuf *b = &r->b;
    hb_puts(b, "<figure><video controls preload=\"metadata\" src=\"");
    hb_esc(b, href);
    hb_puts(b, "\" aria-label=\"the clip before the swap\">Your browser cannot play the clip: <a href=\"");
    hb_esc(b, href);
    hb_puts(b, "\">download it</a>.</video><figcaption>Before: the clip of ");
    hb_esc(b, ci.subject);
    hb_printf(b, " (%s, %.0f kB; consent for <code>report</code> checked)%s.</figcaption></figure>\n", ci.kind, (double)len / 1e3,
              strcmp(ci.kind, "synthetic") ? "" : ", a synthetic person who does not exist, rendered by <code>swaplab synth --video</code>");
    return 1;
}

/* A <video> of the swapped clip, copied into the assets folder (a page cannot embed a video of
 * megabytes as a data: URI and stay readable), beside the clip it started from when there is one.
 * Nothing when the run has no swapped clip. */
static void section_video(Rep *r) {
    char clip[SL_PATH_MAX] = "", vdir[SL_PATH_MAX];
    if (r->o->video) snprintf(clip, sizeof clip, "%s", r->o->video);
    else {
        sl_path_join(vdir, sizeof vdir, r->o->dir, "video");
        if (!find_mp4(vdir, 1, clip, sizeof clip)) find_mp4(r->swaps, 2, clip, sizeof clip);
    }
    if (!clip[0]) return;
    HtmlBuf *b = &r->b;
    hb_puts(b, "<h3>The swap in motion</h3>\n<div class=\"pair\">\n");
    int before = video_before(r);
    size_t len;
    SlErr e;
    const char *base = strrchr(clip, '/') ? strrchr(clip, '/') + 1 : clip;
    char href[SL_PATH_MAX];
    if (copy_clip(r, clip, "video", href, sizeof href, &len, &e)) {
        para_missing(r, "video", e.msg);
        hb_puts(b, "</div>\n");
        return;
    }
    hb_puts(b, "<figure><video controls preload=\"metadata\" src=\"");
    hb_esc(b, href);
    hb_puts(b, "\" aria-label=\"the swapped clip, labelled SYNTHETIC\">Your browser cannot play the clip: <a href=\"");
    hb_esc(b, href);
    hb_puts(b, "\">download it</a>.</video><figcaption>");
    if (before) hb_puts(b, "After: ");
    hb_esc(b, base);
    hb_printf(b, " (%.0f kB): every frame carries the visible label and the watermark; the file carries the "
                 "signed provenance record. Watch the jaw line, the eyes and the flicker between frames.</figcaption>"
                 "</figure>\n</div>\n", (double)len / 1e3);
    r->sum->videos += 1 + before;
}

/* ---- detectors ---------------------------------------------------------------------------------- */
typedef struct {
    char path[SL_PATH_MAX];
    json_t *j; /* the eval JSON of `swaplab detect eval` */
} DetEval;

static const char *ci_cell(char *buf, size_t n, json_t *m) {
    json_t *v = json_object_get(m, "value"), *ci = json_object_get(m, "ci95");
    if (!json_is_number(v)) return snprintf(buf, n, "–"), buf;
    double lo = json_number_value(json_array_get(ci, 0)), hi = json_number_value(json_array_get(ci, 1));
    if (json_is_number(json_array_get(ci, 0)) && json_is_number(json_array_get(ci, 1)))
        snprintf(buf, n, "%.3f <span class=\"ci\">[%.3f, %.3f]</span>", json_number_value(v), lo, hi);
    else snprintf(buf, n, "%.3f", json_number_value(v));
    return buf;
}

static int find_det_evals(Rep *r, DetEval *ev, int max) {
    int n = 0;
    char **dirs;
    int nd = list_subdirs(r->detect, &dirs);
    for (int d = -1; d < nd && n < max; d++) {
        char dir[SL_PATH_MAX];
        if (d < 0) snprintf(dir, sizeof dir, "%s", r->detect);
        else sl_snprintf(dir, sizeof dir, "%s/%s", r->detect, dirs[d]);
        char **files;
        SlErr e;
        const char *js[] = {".json", NULL};
        int nf = sl_list_dir(dir, js, &files, &e);
        for (int i = 0; i < nf && n < max; i++) {
            char p[SL_PATH_MAX];
            sl_path_join(p, sizeof p, dir, files[i]);
            json_error_t je;
            json_t *j = load_json(p, &je);
            if (json_is_object(json_object_get(j, "results")) && json_is_string(json_object_get(j, "arch"))) {
                snprintf(ev[n].path, sizeof ev[n].path, "%s", p);
                ev[n++].j = j;
            } else {
                json_decref(j);
            }
        }
        if (nf > 0) sl_free_list(files, nf);
    }
    sl_free_list(dirs, nd);
    return n;
}

static const char *det_title(json_t *j) {
    const char *a = json_string_value(json_object_get(j, "arch"));
    return !a ? "detector" : !strcmp(a, "meso4") ? "Meso-4" : !strncmp(a, "durall", 6) ? "spectral" : a;
}

static void det_heatmaps(Rep *r, DetEval *ev, int n) {
    HtmlBuf *b = &r->b;
    const char *data = json_string_value(json_object_get(ev[0].j, "data"));
    const char *split = json_string_value(json_object_get(ev[0].j, "split"));
    DetDataset ds;
    SlErr e;
    if (!data || detds_load(data, split && strcmp(split, "all") ? split : NULL, &ds, &e)) {
        para_missing(r, "heatmaps", "the detectors' test set could not be read for the heatmaps.");
        return;
    }
    int kmax = r->o->max_examples > 0 ? r->o->max_examples : 4;
    hb_puts(b, "<h3>Where the detectors look</h3>\n<p>Occlusion heatmaps (Zeiler &amp; Fergus 2014): a grey patch "
               "slides over the image; yellow marks where hiding the pixels lowers the detector's fake score most, "
               "dark blue where it changes nothing. Compare with the blending edge and the inner face.</p>\n"
               "<div class=\"wide\"><table class=\"heat\"><caption>Heatmaps over example fakes of the test set</caption><thead><tr>"
               "<th scope=\"col\">fake image</th>");
    DetModel dm[REPORT_MAX_DET];
    int ok[REPORT_MAX_DET] = {0};
    for (int d = 0; d < n; d++) {
        const char *mp = json_string_value(json_object_get(ev[d].j, "model"));
        ok[d] = mp && det_model_load(mp, r->o->threads, NULL, &dm[d], &e) == 0;
        hb_puts(b, "<th scope=\"col\">");
        hb_esc(b, det_title(ev[d].j));
        hb_puts(b, "</th>");
    }
    hb_puts(b, "</tr></thead><tbody>\n");
    char adir[SL_PATH_MAX];
    sl_path_join(adir, sizeof adir, r->assets, "heatmaps");
    sl_mkdirs(adir, &e);
    int shown = 0;
    for (int i = 0; i < ds.n && shown < kmax; i++) {
        if (ds.s[i].label != 1) continue;
        Image im;
        if (image_load(ds.s[i].path, 3, &im, &e)) continue;
        const char *base = strrchr(ds.s[i].path, '/');
        char alt[512];
        snprintf(alt, sizeof alt, "fake test image %s (a swap, without visible label)", base ? base + 1 : ds.s[i].path);
        hb_puts(b, "<tr><td>");
        img(r, ds.s[i].path, alt, "crop");
        hb_puts(b, "</td>");
        for (int d = 0; d < n; d++) {
            hb_puts(b, "<td>");
            if (ok[d]) {
                int hh, hw;
                int side = im.w < im.h ? im.w : im.h;
                int patch = side / 8 > 2 ? side / 8 : 2;
                if (det_model_input_side(&dm[d])) patch = det_model_input_side(&dm[d]) / 8;
                float score = det_model_score(&dm[d], &im);
                float *heat = det_model_heatmap(&dm[d], &im, patch, patch / 2 > 0 ? patch / 2 : 1, &hh, &hw);
                char p[SL_PATH_MAX], nm[64];
                snprintf(nm, sizeof nm, "d%d-%d.png", d, shown);
                sl_path_join(p, sizeof p, adir, nm);
                if (heatmap_save_png(p, &im, heat, hh, hw, 0.6f, NULL, 0, &e) == 0) {
                    char a2[600];
                    snprintf(a2, sizeof a2, "%s heatmap over %s; fake score %.2f", det_title(ev[d].j), alt, score);
                    img(r, p, a2, "crop");
                    hb_printf(b, "<br><span class=\"note\">P(fake) %.2f</span>", score);
                }
                free(heat);
            } else {
                hb_puts(b, "<span class=\"missing\">(model file unreadable)</span>");
            }
            hb_puts(b, "</td>");
        }
        hb_puts(b, "</tr>\n");
        image_free(&im);
        shown++;
    }
    hb_puts(b, "</tbody></table></div>\n");
    for (int d = 0; d < n; d++)
        if (ok[d]) det_model_free(&dm[d]);

    /* mean spectra of real vs fake over the test set */
    int ns = ds.n < REPORT_MAX_SCORED ? ds.n : REPORT_MAX_SCORED, bins = SPECTRAL_DEFAULT_BINS, m = 0;
    float *feats = xmalloc((size_t)ns * bins * sizeof *feats);
    int *labels = xmalloc((size_t)ns * sizeof *labels), nr = 0, nf = 0;
    for (int i = 0; i < ns; i++) {
        Image im;
        if (image_load(ds.s[i].path, 3, &im, &e)) continue;
        spectral_features(&im, bins, feats + (size_t)m * bins);
        labels[m++] = ds.s[i].label;
        ds.s[i].label ? nf++ : nr++;
        image_free(&im);
    }
    if (nr && nf) {
        float mr[SPECTRAL_DEFAULT_BINS], mf[SPECTRAL_DEFAULT_BINS];
        spectral_class_means(feats, labels, m, bins, mr, mf);
        hb_printf(b, "<h3>Mean spectra of real and fake images</h3>\n<p>Azimuthally averaged log power spectrum "
                     "(Durall et al. 2020) over %d real and %d fake test images: upsampling in the decoder leaves "
                     "its trace at high frequencies (the right end), which is what the spectral detector "
                     "reads.</p>\n", nr, nf);
        chart(r, plot_svg_spectra("mean log spectrum: real vs fake", mr, mf, bins),
              "mean azimuthal log spectrum of real and fake test images against normalised frequency");
    }
    free(feats);
    free(labels);
    detds_free(&ds);
}

/* Decisions at each detector's calibrated threshold (detect eval's "at_threshold", "calibration" and
 * "reliability"; detect/README.md): the confusion matrix, accuracy, TPR, FPR and the calibration
 * error of its probabilities. */
static void det_decisions(Rep *r, DetEval *ev, int n) {
    HtmlBuf *b = &r->b;
    hb_puts(b, "<div class=\"wide\"><table><caption>Decisions on the clean test set at each detector's threshold (chosen on the "
               "validation identities at the stated false-positive rate; value [95% CI])</caption><thead><tr>"
               "<th scope=\"col\">detector</th><th scope=\"col\">threshold</th><th scope=\"col\">TP / FN / FP / TN</th>"
               "<th scope=\"col\">accuracy</th><th scope=\"col\">TPR</th><th scope=\"col\">FPR</th>"
               "<th scope=\"col\">calibration error (ECE)</th></tr></thead><tbody>\n");
    for (int d = 0; d < n; d++) {
        json_t *m = json_object_get(json_object_get(ev[d].j, "results"), "none"), *t = json_object_get(m, "at_threshold");
        json_t *cal = json_object_get(ev[d].j, "calibration"), *rel = json_object_get(ev[d].j, "reliability");
        json_t *cm = json_object_get(t, "confusion");
        if (!json_is_object(cm)) continue;
        char c1[128], c2[128], c3[128], thr[96];
        if (json_is_object(cal))
            snprintf(thr, sizeof thr, "validation FPR %.1f%%%s", 100 * jnum(cal, "target_fpr"),
                     json_is_string(json_object_get(cal, "scope")) && !strcmp(json_string_value(json_object_get(cal, "scope")), "identity")
                         ? " per identity" : "");
        else
            snprintf(thr, sizeof thr, "P = 0.5 (not calibrated)");
        hb_puts(b, "<tr><th scope=\"row\">");
        hb_esc(b, det_title(ev[d].j));
        hb_printf(b, "</th><td>%s</td><td>%.0f / %.0f / %.0f / %.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%.3f</td></tr>\n",
                  thr, jnum(cm, "tp"), jnum(cm, "fn"), jnum(cm, "fp"), jnum(cm, "tn"),
                  ci_cell(c1, sizeof c1, json_object_get(t, "accuracy")), ci_cell(c2, sizeof c2, json_object_get(t, "tpr")),
                  ci_cell(c3, sizeof c3, json_object_get(t, "fpr")), jnum(rel, "ece"));
    }
    hb_puts(b, "</tbody></table></div>\n");
}

static void section_detect(Rep *r) {
    HtmlBuf *b = &r->b;
    hb_puts(b, "<section id=\"detect\"><h2>3. Catching it: the detectors</h2>\n<p>Two detectors were trained on a "
               "labelled dataset of real frames and swaps (split by identity, so the test people were never seen "
               "in training): a spectral baseline (log spectrum + logistic regression) and Meso-4, a small CNN. "
               "Intervals are 95% bootstrap intervals over identities.</p>\n");
    DetEval ev[REPORT_MAX_DET];
    int n = find_det_evals(r, ev, REPORT_MAX_DET);
    if (n == 0) {
        para_missing(r, "detectors", "no detector evaluation (a JSON from `swaplab detect eval` in the detect folder).");
        hb_puts(b, "</section>\n");
        return;
    }
    PlotSeries roc[REPORT_MAX_DET];
    double *fx[REPORT_MAX_DET], *fy[REPORT_MAX_DET];
    char leg[REPORT_MAX_DET][128];
    int nroc = 0;
    hb_puts(b, "<div class=\"wide\"><table><caption>Detector metrics on the clean test set (value [95% CI])</caption><thead><tr>"
               "<th scope=\"col\">detector</th><th scope=\"col\">images (fake/real)</th><th scope=\"col\">AUC</th>"
               "<th scope=\"col\">AP</th><th scope=\"col\">EER</th><th scope=\"col\">accuracy at 0.5</th>"
               "<th scope=\"col\">TPR at 1% FPR</th></tr></thead><tbody>\n");
    for (int d = 0; d < n; d++) {
        json_t *res = json_object_get(ev[d].j, "results"), *m = json_object_get(res, "none");
        if (!json_is_object(m)) continue;
        char c1[128], c2[128], c3[128], c4[128], c5[128];
        hb_puts(b, "<tr><th scope=\"row\">");
        hb_esc(b, det_title(ev[d].j));
        hb_printf(b, "</th><td>%.0f/%.0f</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", jnum(m, "n_fake"),
                  jnum(m, "n_real"), ci_cell(c1, sizeof c1, json_object_get(m, "auc")),
                  ci_cell(c2, sizeof c2, json_object_get(m, "ap")), ci_cell(c3, sizeof c3, json_object_get(m, "eer")),
                  ci_cell(c4, sizeof c4, json_object_get(m, "accuracy_at_0.5")),
                  ci_cell(c5, sizeof c5, json_object_get(m, "tpr_at_fpr_1pct")));
        json_t *rc = json_object_get(m, "roc"), *fa = json_object_get(rc, "fpr"), *ta = json_object_get(rc, "tpr");
        int np = (int)json_array_size(fa);
        if (np < 2 || (int)json_array_size(ta) != np) continue;
        fx[nroc] = xmalloc((size_t)np * sizeof(double));
        fy[nroc] = xmalloc((size_t)np * sizeof(double));
        for (int i = 0; i < np; i++)
            fx[nroc][i] = json_number_value(json_array_get(fa, i)), fy[nroc][i] = json_number_value(json_array_get(ta, i));
        snprintf(leg[nroc], sizeof leg[nroc], "%s (AUC %.3f)", det_title(ev[d].j),
                 jnum(json_object_get(m, "auc"), "value"));
        roc[nroc] = (PlotSeries){leg[nroc], fx[nroc], fy[nroc], np};
        nroc++;
    }
    hb_puts(b, "</tbody></table></div>\n");
    r->sum->detectors = n;
    if (nroc) chart(r, plot_svg_roc("ROC on the clean test set", roc, nroc), "ROC curves of the detectors on the clean test set");
    for (int i = 0; i < nroc; i++) free(fx[i]), free(fy[i]);
    det_decisions(r, ev, n);

    hb_puts(b, "<h3>Robustness: the same test set after re-encoding</h3>\n<p>Social networks re-encode what is "
               "posted. Each bar is the AUC after a JPEG re-encode or a resize to half and back; 0.5 is "
               "guessing.</p>\n<div class=\"row\">");
    for (int d = 0; d < n; d++) {
        json_t *res = json_object_get(ev[d].j, "results");
        int k = (int)json_object_size(res), i = 0;
        if (k < 1) continue;
        const char **labels = xcalloc((size_t)k, sizeof *labels);
        double *v = xcalloc((size_t)k, sizeof *v), *lo = xcalloc((size_t)k, sizeof *lo), *hi = xcalloc((size_t)k, sizeof *hi);
        const char *key;
        json_t *m;
        json_object_foreach(res, key, m) {
            json_t *auc = json_object_get(m, "auc"), *ci = json_object_get(auc, "ci95");
            labels[i] = key;
            v[i] = jnum(auc, "value");
            lo[i] = json_is_number(json_array_get(ci, 0)) ? json_number_value(json_array_get(ci, 0)) : NAN;
            hi[i] = json_is_number(json_array_get(ci, 1)) ? json_number_value(json_array_get(ci, 1)) : NAN;
            i++;
        }
        char title[160], label[200];
        snprintf(title, sizeof title, "%s: AUC under perturbations", det_title(ev[d].j));
        snprintf(label, sizeof label, "bar chart: AUC of %s on clean and perturbed test images, with 95%% intervals",
                 det_title(ev[d].j));
        chart(r, plot_svg_bars(title, "AUC", labels, v, lo, hi, k, 0, 1), label);
        free(labels), free(v), free(lo), free(hi);
    }
    hb_puts(b, "</div>\n");
    det_heatmaps(r, ev, n);
    for (int d = 0; d < n; d++) json_decref(ev[d].j);
    hb_puts(b, "</section>\n");
}

/* ---- provenance ------------------------------------------------------------------------------ */
static void section_provenance(Rep *r) {
    HtmlBuf *b = &r->b;
    hb_puts(b, "<section id=\"provenance\"><h2>4. Provenance: what <code>swaplab verify</code> found</h2>\n<p>Every "
               "swap carries five marks: a PNG record of what made it, the IPTC digital source type "
               "<code>trainedAlgorithmicMedia</code> in XMP, an Ed25519 signature over pixels and record, an "
               "invisible keyed watermark and the visible SYNTHETIC label. A JPEG re-encode strips the metadata "
               "and breaks the signature; the watermark is meant to survive it.</p>\n");
    char **files = NULL;
    SlErr e;
    const char *js[] = {".json", NULL};
    int nf = sl_list_dir(r->verify, js, &files, &e);
    int tables = 0;
    for (int f = 0; f < nf; f++) {
        char p[SL_PATH_MAX];
        sl_path_join(p, sizeof p, r->verify, files[f]);
        json_error_t je;
        json_t *a = load_json(p, &je);
        if (!json_is_array(a)) {
            json_decref(a);
            continue;
        }
        int n = (int)json_array_size(a), marked = 0, sig = 0, wm = 0;
        for (int i = 0; i < n; i++) {
            json_t *o = json_array_get(a, i);
            marked += json_is_true(json_object_get(o, "marked"));
            sig += !strcmp(json_string_value(json_object_get(o, "signature")) ?: "", "valid");
            wm += json_is_true(json_object_get(json_object_get(o, "watermark"), "found"));
        }
        hb_puts(b, "<h3>");
        hb_esc(b, files[f]);
        hb_printf(b, "</h3>\n<p>%d file(s): %d marked as swaplab output, %d with a valid signature, %d with the "
                     "watermark found.</p>\n<div class=\"wide\"><table><caption>",
                  n, marked, sig, wm);
        hb_esc(b, files[f]);
        hb_puts(b, " (first rows)</caption><thead><tr><th scope=\"col\">file</th><th scope=\"col\">record</th>"
                   "<th scope=\"col\">source type</th><th scope=\"col\">signature</th><th scope=\"col\">watermark</th>"
                   "<th scope=\"col\">label</th><th scope=\"col\">verdict</th></tr></thead><tbody>\n");
        for (int i = 0; i < n && i < 8; i++) {
            json_t *o = json_array_get(a, i), *w = json_object_get(o, "watermark");
            const char *file = json_string_value(json_object_get(o, "file")) ?: "?";
            const char *base = strrchr(file, '/');
            const char *par = base;
            while (par && par > file && par[-1] != '/') par--;
            hb_puts(b, "<tr><td>");
            hb_esc(b, par && par > file ? par : file);
            hb_puts(b, "</td>");
            if (json_object_get(o, "error")) {
                hb_puts(b, "<td colspan=\"5\">");
                hb_esc(b, json_string_value(json_object_get(o, "error")));
                hb_puts(b, "</td>");
            } else {
                const char *st = json_string_value(json_object_get(o, "digital_source_type"));
                const char *sg = json_string_value(json_object_get(o, "signature")) ?: "?";
                hb_printf(b, "<td>%s</td><td>%s</td><td>%s</td>", json_is_true(json_object_get(o, "metadata")) ? "present" : "absent",
                          st ? "trainedAlgorithmicMedia" : "absent", sg);
                if (!strcmp(json_string_value(json_object_get(o, "media")) ?: "", "video")) { /* per frame */
                    hb_printf(b, "<td>%s in %.0f of %.0f frames (median z = %.1f)</td><td>visible in %.0f of %.0f frames</td>",
                              json_is_true(json_object_get(w, "found")) ? "found" : "not found", jnum(w, "frames_found"),
                              jnum(w, "frames"), jnum(w, "z_median"), jnum(o, "label_frames"), jnum(w, "frames"));
                } else {
                    if (json_is_true(json_object_get(w, "found")))
                        hb_printf(b, "<td>found (z = %.1f, p &le; %.1e)</td>", jnum(w, "z"), jnum(w, "p_false"));
                    else hb_printf(b, "<td>not found (z = %.1f)</td>", jnum(w, "z"));
                    hb_printf(b, "<td>%s</td>", json_is_true(json_object_get(o, "label_in_pixels")) ? "visible" : "not found");
                }
            }
            hb_printf(b, "<td class=\"%s\">%s</td></tr>\n", json_is_true(json_object_get(o, "marked")) ? "ok" : "bad",
                      json_is_true(json_object_get(o, "marked")) ? "marked" : "NOT marked");
        }
        hb_puts(b, "</tbody></table></div>\n");
        r->sum->verified += n;
        tables++;
        json_decref(a);
    }
    if (nf > 0) sl_free_list(files, nf);
    if (!tables) para_missing(r, "provenance", "no `swaplab verify --json` results in the verify folder.");
    hb_puts(b, "<p>What a watermark can and cannot promise: it shows that a file came from a marked tool; its "
               "absence proves nothing (other tools do not mark, and strong edits can remove it). Signatures "
               "prove who signed, not that the content is true.</p></section>\n");
}

static void section_lookfor(Rep *r) {
    hb_puts(&r->b,
            "<section id=\"lookfor\"><h2>5. What to look for</h2>\n<ul class=\"look\">\n"
            "<li><strong>Blending seams</strong>: a faint edge where the decoded face meets the frame, along the jaw "
            "and hairline (swapped frame column of section 2; the heatmaps of section 3 often light up there).</li>\n"
            "<li><strong>Colour mismatch</strong>: the inner face a shade warmer or cooler than neck and ears; colour "
            "transfer only matches the mean.</li>\n"
            "<li><strong>Blur</strong>: the decoded face is smoother than the frame around it (decoded face vs ground "
            "truth columns): a small autoencoder cannot draw pores or fine hair.</li>\n"
            "<li><strong>Eyes and teeth</strong>: gaze that does not follow the source, blinks that vanish, teeth as a "
            "single pale band.</li>\n"
            "<li><strong>Flicker</strong>: consecutive frames of the same swap differ in ways the scene does not "
            "(compare the rows of one swap table).</li>\n"
            "<li><strong>Frequency traces</strong>: invisible to the eye, visible in the spectra: the decoder's "
            "upsampling leaves a pattern at high frequencies.</li>\n</ul></section>\n");
}

/* ---- the page ---------------------------------------------------------------------------------- */
static const char *CSS =
    "body{font-family:system-ui,'DejaVu Sans',sans-serif;color:#1a1a1a;background:#fff;margin:0 auto;max-width:1100px;"
    "padding:1em 1.5em;line-height:1.45;overflow-wrap:break-word}h1{font-size:1.9em}"
    "h2{border-bottom:2px solid #1f4e79;color:#1f4e79;margin-top:1.6em}code{background:#f0f0f0;padding:0 .2em;"
    "overflow-wrap:anywhere}.wide{max-width:100%;overflow-x:auto}table{border-collapse:collapse;margin:.6em 0;"
    "font-size:.92em}caption{text-align:left;font-weight:600;padding:.3em 0}th,td{border:1px solid #999;"
    "padding:.25em .5em;text-align:center;vertical-align:middle}tbody th{white-space:nowrap}thead th{background:#e8eef5}"
    ".ci{color:#444;font-size:.85em}figure{margin:.5em 0}figcaption{font-size:.88em;color:#333}"
    "img{max-width:100%;height:auto}img.crop{width:112px;image-rendering:pixelated}img.frame{width:180px}"
    "table.grid{table-layout:fixed;width:100%}table.grid th,table.grid td{padding:2px}"
    "table.grid thead th{font-size:.8em;font-weight:600;overflow-wrap:anywhere}table.grid th.rowhead{width:5.5em;"
    "white-space:normal;font-size:.85em}table.grid img{display:block;margin:auto;width:100%;max-width:112px;"
    "image-rendering:pixelated}table.grid td.own{outline:3px solid #1f4e79;outline-offset:-3px}"
    "img.whole{width:640px}video{max-width:100%;height:auto;background:#000}"
    ".pair{display:flex;flex-wrap:wrap;gap:0 1.5em}.pair figure{flex:1 1 260px;min-width:0}.pair video{width:100%;max-width:384px}"
    "svg{max-width:100%;height:auto}.row{display:flex;flex-wrap:wrap;gap:1em}"
    ".missing{color:#8a1c1c}.note{color:#333;font-size:.9em}.ok{color:#0b5d1e;font-weight:600}"
    ".bad{color:#8a1c1c;font-weight:600}.look li{margin:.3em 0}nav ul{columns:2}"
    "header p.meta{color:#333}"
    "@media (max-width:640px){body{padding:.5em .4em}nav ul{columns:1;padding-left:1.2em}th,td{padding:.2em .25em}"
    "h1{font-size:1.5em}table.grid th.rowhead{width:3em;font-size:.75em}table.grid th,table.grid td{padding:1px}"
    "table.grid .dec{display:none}table.grid thead th{font-size:.7em}}"
    "@media print{body{max-width:none;font-size:10pt}.wide{overflow:visible}"
    "figure,table,tr,svg{page-break-inside:avoid;break-inside:avoid}h2{page-break-after:avoid;break-after:avoid}"
    "nav{display:none}a{color:#000;text-decoration:none}}";

int report_write(const ReportOpts *o, ReportSummary *sum, SlErr *err) {
    Rep r;
    memset(&r, 0, sizeof r);
    memset(sum, 0, sizeof *sum);
    r.o = o, r.sum = sum;
    char def[SL_PATH_MAX];
    sl_path_join(def, sizeof def, o->dir, "run");
    char mp[SL_PATH_MAX];
    sl_path_join(mp, sizeof mp, o->dir, "model.safetensors");
    snprintf(r.run, sizeof r.run, "%s", o->run ? o->run : sl_is_dir(def) && !sl_is_file(mp) ? def : o->dir);
#define DEF(field, name)                                                                     \
    if (o->field) snprintf(r.field, sizeof r.field, "%s", o->field);                           \
    else sl_path_join(r.field, sizeof r.field, o->dir, name);
    DEF(sets, "sets")
    DEF(swaps, "swaps")
    DEF(dataset, "dataset")
    DEF(detect, "detect")
    DEF(verify, "verify")
    DEF(out, "report/index.html")
#undef DEF
    char outdir[SL_PATH_MAX];
    snprintf(outdir, sizeof outdir, "%s", r.out);
    char *slash = strrchr(outdir, '/');
    if (slash) *slash = 0;
    else snprintf(outdir, sizeof outdir, ".");
    /* heatmap PNGs (also embedded): DIR/report/assets for index.html, else <name>-assets */
    const char *base = strrchr(r.out, '/') ? strrchr(r.out, '/') + 1 : r.out;
    char stem[256] = "assets";
    if (strcmp(base, "index.html")) {
        snprintf(stem, sizeof stem, "%.*s-assets", (int)(strcspn(base, ".") < 200 ? strcspn(base, ".") : 200), base);
    }
    sl_path_join(r.assets, sizeof r.assets, outdir, stem);
    snprintf(r.assets_rel, sizeof r.assets_rel, "%s", stem);

    RunInfo ri;
    SwapModel *m = run_load_model(r.run, &ri, err);
    if (!m) return sl_failctx(err, "the report needs a training run (--run DIR with model.safetensors or DIR/run)");
    swap_model_free(m);
    for (int i = 0; i < ri.n_ids && i < SWAP_MAX_IDS; i++) snprintf(r.idname[i], sizeof r.idname[i], "%s", ri.ids[i].subject);
    if (sl_mkdirs(outdir, err) || sl_mkdirs(r.assets, err)) return -1;

    HtmlBuf *b = &r.b;
    char when[32];
    sl_utc_iso8601(when);
    hb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
               "content=\"width=device-width, initial-scale=1\">\n<title>swaplab report</title>\n<style>");
    hb_puts(b, CSS);
    hb_puts(b, "</style>\n</head>\n<body>\n<header><h1>swaplab report: how a face swap forms, and how it is "
               "caught</h1>\n<p class=\"meta\">Written ");
    hb_esc(b, when);
    hb_printf(b, " by swaplab %s from the run <code>", SL_VERSION);
    hb_esc(b, r.run);
    hb_printf(b, "</code> (model step %ld, SHA-256 <code>%.16s…</code>, %d identities). Every face shown is "
                 "synthetic or consented; every swap is marked as synthetic.</p>\n", ri.step, ri.sha256, ri.n_ids);
    hb_puts(b, "<nav aria-label=\"contents\"><ul><li><a href=\"#consent\">Consent</a></li><li><a href=\"#training\">1. "
               "Training</a></li><li><a href=\"#swaps\">2. The swaps</a></li><li><a href=\"#detect\">3. The "
               "detectors</a></li><li><a href=\"#provenance\">4. Provenance</a></li><li><a href=\"#lookfor\">5. What to "
               "look for</a></li></ul></nav></header>\n<main>\n");
    if (check_consent(&r, &ri, err)) {
        hb_free(b);
        return -1;
    }
    section_training(&r, &ri);
    section_swaps(&r);
    section_detect(&r);
    section_provenance(&r);
    section_lookfor(&r);
    hb_puts(b, "</main>\n<footer><p class=\"note\">");
    if (sum->missing[0]) {
        hb_puts(b, "Sections without data: ");
        hb_esc(b, sum->missing);
        hb_puts(b, ". ");
    }
    hb_puts(b, "Made with swaplab, an educational tool: docs/labs/ has the exercises that go with this page."
               "</p></footer>\n</body>\n</html>\n");
    int rc = sl_write_atomic(r.out, b->s, b->n, err);
    snprintf(sum->path, sizeof sum->path, "%s", r.out);
    hb_free(b);
    return rc;
}
