/* landmarks.c — dlib's shape predictor in plain C: the .dat reader (dlib/serialize.h: variable-length
 * integers, floats as mantissa/exponent pairs) and the cascade of regression-tree forests (Kazemi &
 * Sullivan 2014; dlib/image_processing/shape_predictor.h). See landmarks.h. */
#include "data/landmarks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

#define LM_MAX_FILE (512u * 1024u * 1024u)
#define LM_MAX_PARTS 10000
#define LM_MAX_DEPTH_SPLITS 65535

typedef struct {
    uint32_t idx1, idx2;
    float thresh;
} LmSplit;

typedef struct {
    int nsplits;
    size_t split_ofs; /* into m->splits */
    size_t leaf_ofs;  /* into m->leaves, in floats */
} LmTree;

typedef struct {
    int npix;
    int *anchor;   /* npix */
    float *deltas; /* 2*npix */
    int ntrees;
    LmTree *trees;
} LmCascade;

struct LmModel {
    int nparts;
    float *initial; /* 2*nparts */
    int ncascades;
    LmCascade *cas;
    LmSplit *splits;
    size_t nsplits, cap_splits;
    float *leaves;
    size_t nleaves, cap_leaves; /* in floats */
};

void lm_free(LmModel *m) {
    if (!m) return;
    for (int c = 0; c < m->ncascades; c++) {
        free(m->cas[c].anchor);
        free(m->cas[c].deltas);
        free(m->cas[c].trees);
    }
    free(m->cas);
    free(m->initial);
    free(m->splits);
    free(m->leaves);
    free(m);
}

int lm_num_parts(const LmModel *m) { return m->nparts; }

void lm_info(const LmModel *m, int *ncascades, int *ntrees) {
    int t = 0;
    for (int c = 0; c < m->ncascades; c++) t += m->cas[c].ntrees;
    if (ncascades) *ncascades = m->ncascades;
    if (ntrees) *ntrees = t;
}

const char *lm_default_path(void) {
    const char *e = getenv("SWAPLAB_LANDMARKS");
    return e && *e ? e : "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
}

/* ---- dlib deserialization ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end, *start;
    const char *name;
    SlErr *err;
    int failed;
    double pow2[2200]; /* 2^(e) for e in [-1100, 1100) */
} Rd;

static int rd_fail(Rd *r, const char *what) {
    if (!r->failed)
        sl_fail(r->err, "%s: %s at byte %zu (a truncated or damaged dlib shape_predictor file?)", r->name, what,
                (size_t)(r->p - r->start));
    r->failed = 1;
    return -1;
}

/* dlib's pack_int format: one control byte (bit 7: negative, bits 0-3: byte count, bits 4-6 zero)
 * then that many little-endian bytes. */
static inline int rd_int(Rd *r, int maxbytes, int64_t *out) {
    if (r->p >= r->end) return rd_fail(r, "file ends inside an integer");
    uint8_t ctl = *r->p++;
    int size = ctl & 0x0F;
    if ((ctl & 0x70) || size == 0 || size > maxbytes) return rd_fail(r, "malformed integer");
    if (r->end - r->p < size) return rd_fail(r, "file ends inside an integer");
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--) v = (v << 8) | r->p[i];
    r->p += size;
    if (v > (uint64_t)INT64_MAX) return rd_fail(r, "integer out of range");
    *out = (ctl & 0x80) ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int rd_count(Rd *r, size_t min_bytes_each, size_t *out, const char *what) {
    int64_t v;
    if (rd_int(r, 8, &v)) return -1;
    if (v < 0) {
        char m[160];
        snprintf(m, sizeof m, "negative %s", what);
        return rd_fail(r, m);
    }
    size_t left = (size_t)(r->end - r->p);
    if (min_bytes_each && (uint64_t)v > left / min_bytes_each) {
        char m[160];
        snprintf(m, sizeof m, "%s of %lld is more than the rest of the file can hold", what, (long long)v);
        return rd_fail(r, m);
    }
    *out = (size_t)v;
    return 0;
}

/* dlib's float: int64 mantissa and int16 exponent, value = mantissa * 2^exponent. */
static inline int rd_float(Rd *r, float *out) {
    int64_t man, ex;
    if (rd_int(r, 8, &man) || rd_int(r, 2, &ex)) return -1;
    if (ex >= 32000 || ex < -1100 || ex >= 1100) return rd_fail(r, "non-finite or out-of-range float");
    if (man > ((int64_t)1 << 53) || man < -((int64_t)1 << 53)) return rd_fail(r, "float mantissa too large");
    double v = (double)man * r->pow2[ex + 1100];
    if (!isfinite(v) || fabs(v) > 3.0e38) return rd_fail(r, "float out of range");
    *out = (float)v;
    return 0;
}

/* matrix<float,0,1>: -nr, -nc (new format; positive in the old one), then nr*nc floats. */
static int rd_colvec(Rd *r, float *dst, size_t want, size_t *got) {
    int64_t nr, nc;
    if (rd_int(r, 8, &nr) || rd_int(r, 8, &nc)) return -1;
    if (nr < 0) nr = -nr;
    if (nc < 0) nc = -nc;
    if (nc != 1) return rd_fail(r, "a column vector must have one column");
    if (want && (size_t)nr != want) {
        char m[160];
        snprintf(m, sizeof m, "vector of %lld values where the shape has %zu", (long long)nr, want);
        return rd_fail(r, m);
    }
    if ((uint64_t)nr > (size_t)(r->end - r->p) / 4) return rd_fail(r, "vector longer than the rest of the file");
    for (int64_t i = 0; i < nr; i++)
        if (rd_float(r, &dst[i])) return -1;
    if (got) *got = (size_t)nr;
    return 0;
}

static int parse_model(Rd *r, LmModel *m) {
    int64_t version;
    if (rd_int(r, 8, &version)) return -1;
    if (version != 1) return rd_fail(r, "unknown shape_predictor version (expected 1)");
    /* initial_shape */
    int64_t nr, nc;
    const uint8_t *save = r->p;
    if (rd_int(r, 8, &nr) || rd_int(r, 8, &nc)) return -1;
    if (nr < 0) nr = -nr;
    if (nr < 2 || nr % 2 || nr > 2 * LM_MAX_PARTS) return rd_fail(r, "initial shape size must be even, 2 to 20000");
    r->p = save;
    m->nparts = (int)(nr / 2);
    size_t dim = (size_t)nr;
    m->initial = xmalloc(dim * sizeof(float));
    if (rd_colvec(r, m->initial, dim, NULL)) return -1;
    /* forests: vector<vector<regression_tree>> */
    size_t ncas;
    if (rd_count(r, 2, &ncas, "cascade count")) return -1;
    if (ncas == 0 || ncas > 1000) return rd_fail(r, "cascade count must be 1 to 1000");
    m->ncascades = (int)ncas;
    m->cas = xcalloc(ncas, sizeof *m->cas);
    for (size_t c = 0; c < ncas; c++) {
        size_t ntrees;
        if (rd_count(r, 4, &ntrees, "tree count")) return -1;
        if (ntrees > 1000000) return rd_fail(r, "too many trees");
        LmCascade *cc = &m->cas[c];
        cc->ntrees = (int)ntrees;
        cc->trees = xcalloc(ntrees ? ntrees : 1, sizeof *cc->trees);
        for (size_t t = 0; t < ntrees; t++) {
            size_t ns;
            if (rd_count(r, 6, &ns, "split count")) return -1;
            if (ns > LM_MAX_DEPTH_SPLITS) return rd_fail(r, "tree too large");
            if (m->nsplits + ns > m->cap_splits) {
                m->cap_splits = (m->cap_splits + ns) * 2;
                m->splits = xrealloc(m->splits, m->cap_splits * sizeof *m->splits);
            }
            LmTree *tr = &cc->trees[t];
            tr->nsplits = (int)ns;
            tr->split_ofs = m->nsplits;
            for (size_t s = 0; s < ns; s++) {
                int64_t a, b;
                LmSplit *sp = &m->splits[m->nsplits + s];
                if (rd_int(r, 8, &a) || rd_int(r, 8, &b) || rd_float(r, &sp->thresh)) return -1;
                if (a < 0 || b < 0 || a > 0xFFFFFFF || b > 0xFFFFFFF) return rd_fail(r, "split pixel index out of range");
                sp->idx1 = (uint32_t)a;
                sp->idx2 = (uint32_t)b;
            }
            m->nsplits += ns;
            size_t nl;
            if (rd_count(r, 2 + 4 * dim, &nl, "leaf count")) return -1;
            if (nl != ns + 1) return rd_fail(r, "a tree must have one more leaf than splits");
            if (m->nleaves + nl * dim > m->cap_leaves) {
                m->cap_leaves = (m->cap_leaves + nl * dim) * 2;
                m->leaves = xrealloc(m->leaves, m->cap_leaves * sizeof(float));
            }
            tr->leaf_ofs = m->nleaves;
            for (size_t l = 0; l < nl; l++)
                if (rd_colvec(r, m->leaves + m->nleaves + l * dim, dim, NULL)) return -1;
            m->nleaves += nl * dim;
        }
    }
    /* anchor_idx: vector<vector<unsigned long>> */
    size_t na;
    if (rd_count(r, 1, &na, "anchor list count")) return -1;
    if (na != ncas) return rd_fail(r, "anchor lists do not match the number of cascades");
    for (size_t c = 0; c < ncas; c++) {
        size_t np;
        if (rd_count(r, 2, &np, "anchor count")) return -1;
        if (np > 100000000) return rd_fail(r, "too many feature pixels");
        LmCascade *cc = &m->cas[c];
        cc->npix = (int)np;
        cc->anchor = xmalloc((np ? np : 1) * sizeof(int));
        for (size_t i = 0; i < np; i++) {
            int64_t v;
            if (rd_int(r, 8, &v)) return -1;
            if (v < 0 || v >= m->nparts) return rd_fail(r, "anchor index is not a landmark of the shape");
            cc->anchor[i] = (int)v;
        }
    }
    /* deltas: vector<vector<dlib::vector<float,2>>> */
    size_t nd;
    if (rd_count(r, 1, &nd, "delta list count")) return -1;
    if (nd != ncas) return rd_fail(r, "delta lists do not match the number of cascades");
    for (size_t c = 0; c < ncas; c++) {
        size_t np;
        if (rd_count(r, 8, &np, "delta count")) return -1;
        LmCascade *cc = &m->cas[c];
        if ((int)np != cc->npix) return rd_fail(r, "delta count differs from the anchor count");
        cc->deltas = xmalloc((np ? 2 * np : 1) * sizeof(float));
        for (size_t i = 0; i < 2 * np; i++)
            if (rd_float(r, &cc->deltas[i])) return -1;
        /* every split must name feature pixels of this cascade */
        for (int t = 0; t < cc->ntrees; t++) {
            const LmTree *tr = &cc->trees[t];
            for (int s = 0; s < tr->nsplits; s++) {
                const LmSplit *sp = &m->splits[tr->split_ofs + (size_t)s];
                if (sp->idx1 >= np || sp->idx2 >= np) return rd_fail(r, "a split uses a feature pixel that does not exist");
            }
        }
    }
    if (r->p != r->end) return rd_fail(r, "unexpected data after the model");
    return 0;
}

/* Asks for transparent huge pages under a large buffer about to be filled (the leaves: tens of MB
 * written once): a fault per 2 MB instead of per 4 KB page. Advice only; ignored where unsupported. */
static void huge_pages(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    const uintptr_t H = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + H - 1) & ~(H - 1), b = ((uintptr_t)p + n) & ~(H - 1);
    if (b > a) madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

int lm_parse(const uint8_t *data, size_t len, const char *name, LmModel **out, SlErr *err) {
    *out = NULL;
    Rd *r = xmalloc(sizeof *r);
    r->p = r->start = data;
    r->end = data + len;
    r->name = name;
    r->err = err;
    r->failed = 0;
    for (int e = -1100; e < 1100; e++) r->pow2[e + 1100] = ldexp(1.0, e);
    LmModel *m = xcalloc(1, sizeof *m);
    /* upper bounds from the file size (a float takes at least 4 bytes, a split 8), so the big arrays
     * are allocated once; untouched pages cost nothing */
    m->cap_leaves = len / 4 + 16;
    m->leaves = xmalloc(m->cap_leaves * sizeof(float));
    huge_pages(m->leaves, m->cap_leaves * sizeof(float));
    m->cap_splits = len / 8 + 16;
    m->splits = xmalloc(m->cap_splits * sizeof *m->splits);
    int rc = parse_model(r, m);
    free(r);
    if (rc) {
        lm_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int lm_load(const char *path, LmModel **out, SlErr *err) {
    *out = NULL;
    struct stat pst;
    if (stat(path, &pst) != 0)
        return sl_fail(err, "%s: landmark model not found (install Debian's libdlib-data, or set SWAPLAB_LANDMARKS)", path);
    if (sl_check_regular(path, err)) return -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > LM_MAX_FILE) {
        close(fd);
        return sl_fail(err, "%s: empty, unreadable or larger than %u MB", path, LM_MAX_FILE >> 20);
    }
    size_t len = (size_t)st.st_size;
    void *data = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) return sl_fail(err, "%s: cannot map: %s", path, strerror(errno));
    madvise(data, len, MADV_SEQUENTIAL);
    int rc = lm_parse((const uint8_t *)data, len, path, out, err);
    munmap(data, len);
    return rc;
}

/* ---- prediction ------------------------------------------------------------------------------ */

uint8_t *lm_intensity_from_image(const Image *img) {
    size_t n = (size_t)img->w * (size_t)img->h;
    uint8_t *g = xmalloc(n ? n : 1);
    if (img->c == 1) {
        memcpy(g, img->px, n);
    } else {
        SL_ASSERT(img->c >= 3);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = img->px + i * (size_t)img->c;
            g[i] = (uint8_t)(((unsigned)q[0] + q[1] + q[2]) / 3);
        }
    }
    return g;
}

/* dlib's find_similarity_transform (Umeyama 1991) from the reference to the current shape, in
 * closed form for 2-D: returns c*R as floats (row-major 2x2). */
static void similarity(const float *from, const float *to, int n, float out[4]) {
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < n; i++) {
        mfx += from[2 * i];
        mfy += from[2 * i + 1];
        mtx += to[2 * i];
        mty += to[2 * i + 1];
    }
    mfx /= n;
    mfy /= n;
    mtx /= n;
    mty /= n;
    double sf = 0, p = 0, q = 0, rr = 0, s = 0;
    for (int i = 0; i < n; i++) {
        double fx = from[2 * i] - mfx, fy = from[2 * i + 1] - mfy;
        double tx = to[2 * i] - mtx, ty = to[2 * i + 1] - mty;
        sf += fx * fx + fy * fy;
        p += tx * fx;
        q += tx * fy;
        rr += ty * fx;
        s += ty * fy;
    }
    sf /= n;
    p /= n;
    q /= n;
    rr /= n;
    s /= n;
    double a, b, m[4];
    double det = p * s - q * rr;
    if (det >= 0) {
        a = p + s;
        b = rr - q;
        double norm = sqrt(a * a + b * b);
        double c = sf != 0 ? 1.0 / sf : (norm > 0 ? 1.0 / norm : 1.0);
        if (sf == 0 && norm == 0) {
            m[0] = 1, m[1] = 0, m[2] = 0, m[3] = 1;
        } else {
            m[0] = c * a, m[1] = -c * b, m[2] = c * b, m[3] = c * a;
        }
    } else {
        /* the best fit includes a reflection: M = A + B with A a similarity and B an anti-similarity */
        double al = (p + s) / 2, be = (rr - q) / 2, ga = (p - s) / 2, de = (q + rr) / 2;
        double na = sqrt(al * al + be * be), nb = sqrt(ga * ga + de * de);
        double c = sf != 0 ? (2 * na) / sf : 1.0;
        m[0] = c * ga / nb, m[1] = c * de / nb, m[2] = c * de / nb, m[3] = -c * ga / nb;
        if (sf == 0) m[0] = ga / nb, m[1] = de / nb, m[2] = de / nb, m[3] = -ga / nb;
    }
    for (int k = 0; k < 4; k++) out[k] = (float)m[k];
}

LmRect lm_rect_fit(const LmModel *m, const double *xy) {
    /* x_i = l + (r - l) u_i and y_i = t + (b - t) v_i: one linear regression per axis */
    double c[2][2];
    for (int ax = 0; ax < 2; ax++) {
        double su = 0, sv = 0, suu = 0, suv = 0;
        int n = m->nparts;
        for (int i = 0; i < n; i++) {
            double u = m->initial[2 * i + ax], v = xy[2 * i + ax];
            su += u, sv += v, suu += u * u, suv += u * v;
        }
        double var = suu - su * su / n;
        double k = var > 0 ? (suv - su * sv / n) / var : 1.0;
        c[ax][0] = sv / n - k * su / n; /* offset */
        c[ax][1] = k;                   /* side */
    }
    LmRect r = {lround(c[0][0]), lround(c[1][0]), lround(c[0][0] + c[0][1]), lround(c[1][0] + c[1][1])};
    return r;
}

#define LM_PREFETCH 4 /* trees ahead whose leaves are fetched early */

/* cur += leaf, four at a time (the compiler makes them one vector add). */
static void add_leaf(float *restrict cur, const float *restrict leaf, int dim) {
    int k = 0;
    for (; k + 4 <= dim; k += 4) {
        cur[k] += leaf[k];
        cur[k + 1] += leaf[k + 1];
        cur[k + 2] += leaf[k + 2];
        cur[k + 3] += leaf[k + 3];
    }
    for (; k < dim; k++) cur[k] += leaf[k];
}

void lm_predict(const LmModel *m, const uint8_t *img, int w, int h, LmRect box, double *xy) {
    int dim = 2 * m->nparts;
    float *cur = xmalloc((size_t)dim * sizeof(float));
    memcpy(cur, m->initial, (size_t)dim * sizeof(float));
    int maxpix = 0;
    for (int c = 0; c < m->ncascades; c++)
        if (m->cas[c].npix > maxpix) maxpix = m->cas[c].npix;
    float *fpv = xmalloc((size_t)(maxpix ? maxpix : 1) * sizeof(float));
    int maxtrees = 1;
    for (int c = 0; c < m->ncascades; c++)
        if (m->cas[c].ntrees > maxtrees) maxtrees = m->cas[c].ntrees;
    const float **leafp = xmalloc((size_t)maxtrees * sizeof *leafp);
    const double sx = (double)(box.r - box.l), sy = (double)(box.b - box.t);
    const double ox = (double)box.l, oy = (double)box.t;
    for (int c = 0; c < m->ncascades; c++) {
        const LmCascade *cc = &m->cas[c];
        float tf[4];
        similarity(m->initial, cur, m->nparts, tf);
        for (int i = 0; i < cc->npix; i++) {
            int a = cc->anchor[i];
            float dx = cc->deltas[2 * i], dy = cc->deltas[2 * i + 1];
            float px = tf[0] * dx;
            px += tf[1] * dy;
            float py = tf[2] * dx;
            py += tf[3] * dy;
            px = px + cur[2 * a];
            py = py + cur[2 * a + 1];
            double X = (sx * (double)px + 0.0 * (double)py) + ox;
            double Y = (0.0 * (double)px + sy * (double)py) + oy;
            double fx = floor(X + 0.5), fy = floor(Y + 0.5);
            if (fx >= 0 && fy >= 0 && fx < w && fy < h)
                fpv[i] = (float)img[(size_t)fy * (size_t)w + (size_t)fx];
            else
                fpv[i] = 0;
        }
        /* the splits read only this cascade's feature pixels: every tree's leaf first, then the
         * leaves added in tree order with the ones a few trees ahead prefetched (the leaves are
         * tens of MB, one scattered read per tree, so the reads are what costs) */
        for (int t = 0; t < cc->ntrees; t++) {
            const LmTree *tr = &cc->trees[t];
            const LmSplit *sp = m->splits + tr->split_ofs;
            int i = 0;
            while (i < tr->nsplits) {
                if (fpv[sp[i].idx1] - fpv[sp[i].idx2] > sp[i].thresh)
                    i = 2 * i + 1;
                else
                    i = 2 * i + 2;
            }
            leafp[t] = m->leaves + tr->leaf_ofs + (size_t)(i - tr->nsplits) * (size_t)dim;
        }
        for (int t = 0; t < cc->ntrees; t++) {
            if (t + LM_PREFETCH < cc->ntrees)
                for (int k = 0; k < dim; k += 16) __builtin_prefetch(leafp[t + LM_PREFETCH] + k);
            add_leaf(cur, leafp[t], dim);
        }
    }
    for (int k = 0; k < m->nparts; k++) {
        xy[2 * k] = (sx * (double)cur[2 * k] + 0.0 * (double)cur[2 * k + 1]) + ox;
        xy[2 * k + 1] = (0.0 * (double)cur[2 * k] + sy * (double)cur[2 * k + 1]) + oy;
    }
    free(cur);
    free(fpv);
    free(leafp);
}

LmRect lm_rect_from_haar(int x, int y, int w, int h) {
    double cx = x + (w - 1) / 2.0, cy = y + (h - 1) / 2.0;
    double side = LM_HAAR_SCALE * w;
    cx += LM_HAAR_DX * w;
    cy += LM_HAAR_DY * w;
    long s = lround(side);
    if (s < 1) s = 1;
    LmRect r;
    r.l = lround(cx - (s - 1) / 2.0);
    r.t = lround(cy - (s - 1) / 2.0);
    r.r = r.l + s - 1;
    r.b = r.t + s - 1;
    return r;
}

double lm_shape_residual(const LmModel *m, const double *xy) {
    /* least-squares similarity z -> a z + t (complex form: rotation and scale, no reflection) of the
     * mean shape onto the points, then the RMS residual over the inter-ocular distance */
    const int n = m->nparts;
    double mux = 0, muy = 0, mpx = 0, mpy = 0;
    for (int i = 0; i < n; i++) mux += m->initial[2 * i], muy += m->initial[2 * i + 1], mpx += xy[2 * i], mpy += xy[2 * i + 1];
    mux /= n, muy /= n, mpx /= n, mpy /= n;
    double suu = 0, ar = 0, ai = 0;
    for (int i = 0; i < n; i++) {
        double ux = m->initial[2 * i] - mux, uy = m->initial[2 * i + 1] - muy;
        double px = xy[2 * i] - mpx, py = xy[2 * i + 1] - mpy;
        suu += ux * ux + uy * uy;
        ar += ux * px + uy * py; /* Re(conj(u) p) */
        ai += ux * py - uy * px; /* Im(conj(u) p) */
    }
    if (suu <= 0) return INFINITY;
    ar /= suu, ai /= suu;
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double ux = m->initial[2 * i] - mux, uy = m->initial[2 * i + 1] - muy;
        double fx = ar * ux - ai * uy + mpx, fy = ai * ux + ar * uy + mpy;
        double dx = xy[2 * i] - fx, dy = xy[2 * i + 1] - fy;
        ss += dx * dx + dy * dy;
    }
    double scale = sqrt(ar * ar + ai * ai);
    double iod = 1;
    if (n == 68) { /* eye centres: points 36-41 and 42-47 of the mean shape */
        double lx = 0, ly = 0, rx = 0, ry = 0;
        for (int i = 36; i < 42; i++) lx += m->initial[2 * i], ly += m->initial[2 * i + 1];
        for (int i = 42; i < 48; i++) rx += m->initial[2 * i], ry += m->initial[2 * i + 1];
        iod = hypot(rx - lx, ry - ly) / 6;
    }
    if (scale * iod <= 0) return INFINITY;
    return sqrt(ss / n) / (scale * iod);
}
