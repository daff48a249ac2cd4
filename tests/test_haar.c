/* test_haar.c — the Haar detector against OpenCV 4.6's boxes (tests/fixtures/faces/golden_haar.tsv,
 * both cascades, 19 images), the grey conversion against golden_gray.tsv, the exact resize, the
 * grouping rules, and hostile cascade files (truncated, wrong counts, garbage). */
#include <stdlib.h>
#include <string.h>

#include "data/exif.h"
#include "data/haar.h"
#include "data/image.h"
#include "test.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/rng.h"

#define FIX "tests/fixtures/faces"

static const char *IMAGES[] = {
    "london_001_neutral.png", "london_001_smiling.png", "london_002_neutral.png", "london_002_smiling.png",
    "london_003_neutral.png", "london_003_smiling.png", "london_004_neutral.png", "london_004_smiling.png",
    "london_005_neutral.png", "london_005_smiling.png", "london_006_neutral.png", "london_006_smiling.png",
    "london_007_neutral.png", "london_007_smiling.png", "london_008_neutral.png", "london_008_smiling.png",
    "neg_grey.png",           "neg_gradient.png",       "neg_noise.png"};
#define NIMG ((int)(sizeof IMAGES / sizeof *IMAGES))

static int have_cascades(void) {
    return sl_is_file(haar_default_path(HAAR_FRONTALFACE_DEFAULT)) && sl_is_file(haar_default_path(HAAR_FRONTALFACE_ALT2));
}

/* Finds the line of a TSV whose first field is `key` (and second `key2` when non-NULL) and returns
 * a malloc'ed copy of it; NULL if none. `skip` matching lines are passed over. */
static char *tsv_find(const char *tsv, const char *key, const char *key2, int skip) {
    size_t kl = strlen(key);
    for (const char *l = tsv; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n > kl && strncmp(l, key, kl) == 0 && l[kl] == '\t') {
            int ok = 1;
            if (key2) {
                size_t k2 = strlen(key2);
                ok = n > kl + 1 + k2 && strncmp(l + kl + 1, key2, k2) == 0 && l[kl + 1 + k2] == '\t';
            }
            if (ok && skip-- == 0) {
                char *r = xmalloc(n + 1);
                memcpy(r, l, n);
                r[n] = 0;
                return r;
            }
        }
        l = e ? e + 1 : l + n;
    }
    return NULL;
}

static void t_grey_matches_opencv(void) {
    char *tsv;
    size_t len;
    SlErr err;
    CHECK(sl_read_file(FIX "/golden_gray.tsv", 1 << 20, &tsv, &len, &err) == 0);
    for (int i = 0; i < NIMG; i++) {
        char path[512];
        snprintf(path, sizeof path, FIX "/%s", IMAGES[i]);
        Image img;
        CHECKF(image_load(path, 0, &img, &err) == 0, "%s", err.msg);
        uint8_t *g = haar_grey_from_image(&img);
        char hex[65];
        sl_sha256_hex(g, (size_t)img.w * img.h, hex);
        char *line = tsv_find(tsv, IMAGES[i], NULL, 0);
        CHECKF(line && strstr(line, hex), "%s: grey sha256 %s not in golden_gray.tsv", IMAGES[i], hex);
        free(line);
        free(g);
        image_free(&img);
    }
    free(tsv);
}

static int parse_golden(const char *tsv, const char *image, const char *cascade, HaarBox *out, int max) {
    int n = 0;
    for (int k = 0; k < max; k++) {
        char *line = tsv_find(tsv, image, cascade, k);
        if (!line) break;
        HaarBox b;
        char *p = line + strlen(image) + 1 + strlen(cascade) + 1;
        if (sscanf(p, "%d\t%d\t%d\t%d", &b.x, &b.y, &b.w, &b.h) == 4) out[n++] = b;
        free(line);
    }
    return n;
}

static void t_boxes_match_opencv(void) {
    if (!have_cascades()) SKIP("OpenCV cascades not installed (Debian package opencv-data)");
    const char *names[2] = {"haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"};
    HaarCascade *cas[2];
    SlErr err;
    for (int m = 0; m < 2; m++) {
        int rc = haar_load(haar_default_path((HaarModel)m), &cas[m], &err);
        CHECKF(rc == 0, "%s", err.msg);
        if (rc) return;
    }
    char *tsv;
    size_t len;
    CHECK(sl_read_file(FIX "/golden_haar.tsv", 1 << 20, &tsv, &len, &err) == 0);
    int pairs_ok = 0, neck = 0;
    HaarParams p = haar_params_default();
    for (int i = 0; i < NIMG; i++) {
        char path[512];
        snprintf(path, sizeof path, FIX "/%s", IMAGES[i]);
        Image img;
        CHECKF(image_load(path, 0, &img, &err) == 0, "%s", err.msg);
        uint8_t *g = haar_grey_from_image(&img);
        for (int m = 0; m < 2; m++) {
            HaarBox want[16], *got;
            int nw = parse_golden(tsv, IMAGES[i], names[m], want, 16);
            int ng = haar_detect(cas[m], g, img.w, img.h, &p, &got);
            /* every OpenMP thread scanning pyramid levels finds the same boxes */
            if (i % 6 == 2) {
                HaarParams pp = p;
                pp.threads = 0;
                HaarBox *got2;
                int ng2 = haar_detect(cas[m], g, img.w, img.h, &pp, &got2);
                CHECKF(ng2 == ng && (ng == 0 || memcmp(got, got2, (size_t)ng * sizeof *got) == 0), "%s: threads change the boxes", IMAGES[i]);
                free(got2);
            }
            int same = nw == ng;
            for (int k = 0; same && k < nw; k++)
                same = memcmp(&want[k], &got[k], sizeof(HaarBox)) == 0; /* both sorted by (x,y,w,h) */
            if (same) pairs_ok++;
            else {
                fprintf(stderr, "  %s %s: want", IMAGES[i], names[m]);
                for (int k = 0; k < nw; k++) fprintf(stderr, " (%d,%d,%d,%d)", want[k].x, want[k].y, want[k].w, want[k].h);
                fprintf(stderr, "; got");
                for (int k = 0; k < ng; k++) fprintf(stderr, " (%d,%d,%d,%d)", got[k].x, got[k].y, got[k].w, got[k].h);
                fprintf(stderr, "\n");
            }
            if (same && strstr(IMAGES[i], "london_008") && ng == 2) neck++;
            free(got);
        }
        free(g);
        image_free(&img);
    }
    CHECKF(pairs_ok == 2 * NIMG, "%d of %d image x cascade pairs identical", pairs_ok, 2 * NIMG);
    CHECKF(neck == 3, "london_008 neck false positive reproduced in %d of 3 pairs", neck);
    free(tsv);
    haar_free(cas[0]);
    haar_free(cas[1]);
}

/* Resize: identity copies; constant images stay constant; a 2-pixel ramp interpolates with the
 * fixed-point coefficients (hand-computed for 4 -> 3). */
static void t_resize_exact(void) {
    SlRng rng;
    sl_rng_seed(&rng, 77);
    uint8_t src[64 * 48], dst[64 * 48];
    for (int i = 0; i < 64 * 48; i++) src[i] = (uint8_t)(sl_rng_u64(&rng) & 255);
    haar_resize_exact(src, 64, 48, dst, 64, 48);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    uint8_t k = (uint8_t)(1 + (sl_rng_u64(&rng) % 250));
    memset(src, k, sizeof src);
    haar_resize_exact(src, 64, 48, dst, 37, 29);
    int allk = 1;
    for (int i = 0; i < 37 * 29; i++) allk &= dst[i] == k;
    CHECK(allk);
    /* 4 -> 3 columns: scale 4/3; dx=0: fval=1/6 -> ofs 0, c1=round(256/6)=43; dx=1: fval=1.5 -> c1=128;
     * dx=2: fval=17/6 -> ofs 2, c1=213. One row, so the vertical pass is the identity. */
    uint8_t row[4] = {0, 100, 200, 40}, out[3];
    haar_resize_exact(row, 4, 1, out, 3, 1);
    CHECK(out[0] == (uint8_t)(((213 * 0 + 43 * 100) * 256 + 32768) >> 16));
    CHECK(out[1] == (uint8_t)(((128 * 100 + 128 * 200) * 256 + 32768) >> 16));
    CHECK(out[2] == (uint8_t)(((43 * 200 + 213 * 40) * 256 + 32768) >> 16));
}

/* groupRectangles: a cluster needs more than `thr` members; its box is the rounded mean; a small
 * cluster inside a bigger, stronger one is dropped. */
static void t_group_rectangles(void) {
    SlRng rng;
    sl_rng_seed(&rng, 5);
    HaarBox r[32];
    int n = 0;
    int bx = 100 + (int)(sl_rng_u64(&rng) % 50), by = 80 + (int)(sl_rng_u64(&rng) % 50);
    for (int i = 0; i < 5; i++) r[n++] = (HaarBox){bx + i, by - i, 60, 60};
    for (int i = 0; i < 3; i++) r[n++] = (HaarBox){10 + i, 10, 30, 30}; /* 3 members: not > 3 */
    for (int i = 0; i < 4; i++) r[n++] = (HaarBox){bx + 20, by + 20, 20, 20}; /* inside the first, weaker */
    int m = haar_group_rectangles(r, n, 3, 0.2);
    CHECKF(m == 1, "got %d groups", m);
    CHECK(r[0].x == bx + 2 && r[0].y == by - 2 && r[0].w == 60 && r[0].h == 60);
}

static void expect_parse_error(const char *xml, const char *want) {
    HaarCascade *c = (HaarCascade *)1;
    SlErr err = {{0}};
    int rc = haar_parse(xml, strlen(xml), "bad.xml", &c, &err);
    CHECKF(rc == -1 && c == NULL, "accepted: %.60s", xml);
    CHECKF(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

#define HEAD "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade type_id=\"opencv-cascade-classifier\"><stageType>BOOST</stageType><featureType>HAAR</featureType><height>24</height><width>24</width>"
#define STAGE1 "<stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>-1.5</stageThreshold><weakClassifiers><_><internalNodes>0 -1 0 0.5</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>"
#define FEAT1 "<features><_><rects><_>0 0 12 24 -1.</_><_>12 0 12 24 1.</_></rects></_></features>"

static void t_hostile_xml(void) {
    const char *good = HEAD "<stageNum>1</stageNum>" STAGE1 FEAT1 "</cascade></opencv_storage>\n";
    HaarCascade *c;
    SlErr err;
    CHECKF(haar_parse(good, strlen(good), "good.xml", &c, &err) == 0, "%s", err.msg);
    int ww, wh, ns, nf;
    haar_info(c, &ww, &wh, &ns, &nf);
    CHECK(ww == 24 && wh == 24 && ns == 1 && nf == 1);
    haar_free(c);
    /* every truncation of a valid file is refused with a message, never a crash */
    size_t L = strlen(good);
    int refused = 0;
    for (size_t k = 0; k + 2 < L; k += 7) {
        HaarCascade *t = NULL;
        if (haar_parse(good, k, "trunc.xml", &t, &err) != 0 && err.msg[0]) refused++;
        haar_free(t);
    }
    CHECKF(refused == (int)((L - 3) / 7 + 1), "%d truncations refused", refused);
    expect_parse_error(HEAD "<stageNum>2</stageNum>" STAGE1 FEAT1 "</cascade></opencv_storage>", "stageNum");
    expect_parse_error(HEAD "<stageNum>1</stageNum><stages><_><maxWeakCount>3</maxWeakCount><stageThreshold>1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 0 0.5</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>" FEAT1 "</cascade></opencv_storage>", "maxWeakCount");
    expect_parse_error(HEAD "<stageNum>1</stageNum><stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 7 0.5</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>" FEAT1 "</cascade></opencv_storage>", "feature 7");
    expect_parse_error(HEAD "<stageNum>1</stageNum><stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 0</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>" FEAT1 "</cascade></opencv_storage>", "groups of 4");
    expect_parse_error(HEAD "<stageNum>1</stageNum><stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 0 0.5</internalNodes><leafValues>-1.</leafValues></_></weakClassifiers></_></stages>" FEAT1 "</cascade></opencv_storage>", "leafValues");
    expect_parse_error(HEAD "<stageNum>1</stageNum><stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>1</stageThreshold><weakClassifiers><_><internalNodes>0 -5 0 0.5</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>" FEAT1 "</cascade></opencv_storage>", "leaf 5");
    expect_parse_error(HEAD "<stageNum>1</stageNum>" STAGE1 "<features><_><rects><_>20 0 12 24 -1.</_></rects></_></features></cascade></opencv_storage>", "outside");
    expect_parse_error(HEAD "<stageNum>1</stageNum>" STAGE1 "<features><_><rects><_>0 0 12 24 abc</_></rects></_></features></cascade></opencv_storage>", "not a number");
    expect_parse_error(HEAD "<stageNum>1</stageNum>" STAGE1 FEAT1 "</cascade></opencv_storage><x/>", "after the root");
    expect_parse_error(HEAD "<stageNum>1</stageNum>" STAGE1 FEAT1 "</cascadeX></opencv_storage>", "does not match");
    expect_parse_error("\x89PNG\r\n garbage", "not an XML");
    expect_parse_error("", "no root");
    char deep[4000] = "<a>";
    for (int i = 0; i < 100; i++) strcat(deep, "<b>");
    expect_parse_error(deep, "nested");
    /* random bytes never crash */
    SlRng rng;
    sl_rng_seed(&rng, 99);
    for (int t = 0; t < 200; t++) {
        char buf[600];
        size_t L2 = strlen(good) < sizeof buf ? strlen(good) : sizeof buf;
        memcpy(buf, good, L2);
        for (int k = 0; k < 3; k++) buf[sl_rng_u64(&rng) % L2] = (char)(sl_rng_u64(&rng) & 255);
        HaarCascade *x = NULL;
        if (haar_parse(buf, L2, "fuzz.xml", &x, &err) == 0) haar_free(x);
    }
    SlErr e2;
    CHECK(haar_load("/nonexistent/cascade.xml", &c, &e2) == -1 && strstr(e2.msg, "not found"));
}

/* Tiny images and flat images give no boxes and no crash. */
static void t_small_and_flat(void) {
    if (!have_cascades()) SKIP("OpenCV cascades not installed (Debian package opencv-data)");
    HaarCascade *c;
    SlErr err;
    CHECKF(haar_load(haar_default_path(HAAR_FRONTALFACE_DEFAULT), &c, &err) == 0, "%s", err.msg);
    HaarParams p = haar_params_default();
    HaarBox *b;
    uint8_t px[40 * 40];
    memset(px, 200, sizeof px);
    CHECK(haar_detect(c, px, 1, 1, &p, &b) == 0 && b == NULL);
    CHECK(haar_detect(c, px, 40, 1, &p, &b) == 0);
    CHECK(haar_detect(c, px, 40, 40, &p, &b) == 0);
    haar_free(c);
}

/* EXIF orientation (data/exif.h, the detector's input path for JPEG photos): a JPEG with an Exif
 * block spliced in loads rotated; a damaged block is ignored. */
static size_t exif_block(uint8_t *b, int le, int orient, int damage) {
    static const uint8_t mm[] = {'M', 'M', 0, 42, 0, 0, 0, 8}, ii[] = {'I', 'I', 42, 0, 8, 0, 0, 0};
    size_t o = 0;
    b[o++] = 0xFF, b[o++] = 0xE1;
    size_t lenpos = o;
    o += 2;
    memcpy(b + o, "Exif\0\0", 6), o += 6;
    memcpy(b + o, le ? ii : mm, 8), o += 8;
    uint8_t ent[2 + 12 + 4] = {0};
    if (le) {
        ent[0] = damage ? 0xFF : 1;
        ent[2] = 0x12, ent[3] = 0x01, ent[4] = 3, ent[6] = 1, ent[10] = (uint8_t)orient;
    } else {
        ent[1] = damage ? 0xFF : 1;
        ent[2] = 0x01, ent[3] = 0x12, ent[5] = 3, ent[9] = 1, ent[11] = (uint8_t)orient;
    }
    memcpy(b + o, ent, sizeof ent), o += sizeof ent;
    b[lenpos] = (uint8_t)((o - 2) >> 8), b[lenpos + 1] = (uint8_t)((o - 2) & 255);
    return o;
}

static void t_exif_orientation(void) {
    SlRng rng;
    sl_rng_seed(&rng, 1234);
    Image a = image_new(40, 24, 3);
    for (size_t i = 0; i < (size_t)40 * 24 * 3; i++) a.px[i] = (uint8_t)(sl_rng_u64(&rng) & 255);
    char jp[600], jx[600];
    snprintf(jp, sizeof jp, "%s/plain.jpg", test_tmpdir());
    snprintf(jx, sizeof jx, "%s/exif.jpg", test_tmpdir());
    SlErr err;
    CHECKF(image_save_jpeg(jp, &a, 95, &err) == 0, "%s", err.msg);
    image_free(&a);
    Image ref;
    CHECKF(image_load(jp, 3, &ref, &err) == 0, "%s", err.msg);
    char *data;
    size_t len;
    CHECK(sl_read_file(jp, 1 << 20, &data, &len, &err) == 0);
    struct { int le, orient, damage, want; } cases[] = {{0, 6, 0, 6}, {1, 3, 0, 3}, {1, 8, 0, 8}, {0, 2, 0, 2}, {0, 6, 1, 1}};
    for (int c = 0; c < 5; c++) {
        uint8_t *buf = xmalloc(len + 64);
        buf[0] = 0xFF, buf[1] = 0xD8;
        size_t o = 2 + exif_block(buf + 2, cases[c].le, cases[c].orient, cases[c].damage);
        memcpy(buf + o, data + 2, len - 2);
        CHECK(sl_write_atomic(jx, buf, o + len - 2, &err) == 0);
        CHECK(exif_jpeg_orientation(buf, o + len - 2) == cases[c].want);
        free(buf);
        Image b;
        int orient;
        CHECKF(exif_load_image(jx, 3, &b, &orient, &err) == 0, "%s", err.msg);
        CHECK(orient == cases[c].want);
        int W = ref.w, H = ref.h, ok = 1;
        if (cases[c].want >= 5) ok = b.w == H && b.h == W;
        else ok = b.w == W && b.h == H;
        for (int y = 0; ok && y < b.h; y++)
            for (int x = 0; ok && x < b.w; x++) {
                int sx = x, sy = y;
                switch (cases[c].want) {
                case 2: sx = W - 1 - x; break;
                case 3: sx = W - 1 - x, sy = H - 1 - y; break;
                case 6: sx = y, sy = H - 1 - x; break;
                case 8: sx = W - 1 - y, sy = x; break;
                default: break;
                }
                ok = memcmp(b.px + ((size_t)y * b.w + x) * 3, ref.px + ((size_t)sy * W + sx) * 3, 3) == 0;
            }
        CHECKF(ok, "orientation %d: pixels not where the tag says", cases[c].want);
        image_free(&b);
    }
    /* truncated inside the Exif block: orientation 1, never a crash */
    uint8_t small[40];
    small[0] = 0xFF, small[1] = 0xD8;
    size_t o = 2 + exif_block(small + 2, 0, 6, 0);
    for (size_t k = 0; k < o; k++) CHECK(exif_jpeg_orientation(small, k) == 1 || k == o);
    free(data);
    image_free(&ref);
}

int main(void) {
    RUN(t_grey_matches_opencv);
    RUN(t_boxes_match_opencv);
    RUN(t_resize_exact);
    RUN(t_group_rectangles);
    RUN(t_hostile_xml);
    RUN(t_small_and_flat);
    RUN(t_exif_orientation);
    return test_summary("test_haar");
}
