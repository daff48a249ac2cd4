/* haar.c — OpenCV Haar cascades in plain C: a small XML reader for the cascade files and a detector
 * that reproduces OpenCV 4.6's CascadeClassifier::detectMultiScale exactly (Viola & Jones 2001;
 * OpenCV: modules/objdetect/src/cascadedetect.cpp, modules/imgproc/src/resize.cpp). See haar.h. */
#include "data/haar.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define HAAR_MAX_FILE (64u * 1024u * 1024u)
#define XML_MAX_DEPTH 32
#define HAAR_MAX_WIN 1024

/* ---- a small XML reader: elements, text, attributes (skipped), comments, <?...?> ------------- */

typedef struct XNode {
    char *name;
    char *text; /* concatenated character data, NULL when none */
    struct XNode *kids;
    int nkids, cap;
    int line;
} XNode;

typedef struct {
    const char *s;
    size_t n, i;
    int line;
    const char *file;
    SlErr *err;
} XParser;

static void xnode_free(XNode *x) {
    for (int i = 0; i < x->nkids; i++) xnode_free(&x->kids[i]);
    free(x->kids);
    free(x->name);
    free(x->text);
}

static int xfail(XParser *p, const char *what) {
    return sl_fail(p->err, "%s: line %d: %s (a truncated or damaged cascade file? reinstall opencv-data)",
                   p->file, p->line, what);
}

static int xpeek(XParser *p, const char *lit) {
    size_t k = strlen(lit);
    return p->i + k <= p->n && memcmp(p->s + p->i, lit, k) == 0;
}

static void xadvance(XParser *p, size_t k) {
    for (size_t j = 0; j < k && p->i < p->n; j++, p->i++)
        if (p->s[p->i] == '\n') p->line++;
}

/* Skips to just after `end`; -1 when the file ends first. */
static int xskip_past(XParser *p, const char *end, const char *what) {
    size_t k = strlen(end);
    while (p->i + k <= p->n) {
        if (memcmp(p->s + p->i, end, k) == 0) {
            xadvance(p, k);
            return 0;
        }
        xadvance(p, 1);
    }
    return xfail(p, what);
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
}

static void xappend_text(XNode *x, const char *s, size_t k) {
    size_t old = x->text ? strlen(x->text) : 0;
    x->text = xrealloc(x->text, old + k + 1);
    memcpy(x->text + old, s, k);
    x->text[old + k] = 0;
}

static int xparse_name(XParser *p, char **out) {
    size_t st = p->i;
    while (p->i < p->n && is_name_char(p->s[p->i])) p->i++;
    if (p->i == st) return xfail(p, "expected an element name");
    size_t k = p->i - st;
    *out = xmalloc(k + 1);
    memcpy(*out, p->s + st, k);
    (*out)[k] = 0;
    return 0;
}

static void xskip_ws(XParser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\r' || p->s[p->i] == '\n'))
        xadvance(p, 1);
}

/* Parses one element starting at '<'. */
static int xparse_element(XParser *p, XNode *x, int depth) {
    memset(x, 0, sizeof *x);
    if (depth > XML_MAX_DEPTH) return xfail(p, "elements nested too deeply");
    x->line = p->line;
    xadvance(p, 1); /* '<' */
    if (xparse_name(p, &x->name)) return -1;
    /* attributes: name="value" pairs, skipped */
    for (;;) {
        xskip_ws(p);
        if (p->i >= p->n) return xfail(p, "file ends inside a tag");
        char c = p->s[p->i];
        if (c == '/') {
            if (!xpeek(p, "/>")) return xfail(p, "expected '/>'");
            xadvance(p, 2);
            return 0;
        }
        if (c == '>') {
            xadvance(p, 1);
            break;
        }
        char *an;
        if (xparse_name(p, &an)) return -1;
        free(an);
        xskip_ws(p);
        if (p->i >= p->n || p->s[p->i] != '=') return xfail(p, "expected '=' after an attribute name");
        xadvance(p, 1);
        xskip_ws(p);
        if (p->i >= p->n || (p->s[p->i] != '"' && p->s[p->i] != '\'')) return xfail(p, "expected a quoted attribute value");
        char q = p->s[p->i];
        xadvance(p, 1);
        while (p->i < p->n && p->s[p->i] != q) xadvance(p, 1);
        if (p->i >= p->n) return xfail(p, "file ends inside an attribute value");
        xadvance(p, 1);
    }
    /* content */
    for (;;) {
        if (p->i >= p->n) {
            char m[200];
            snprintf(m, sizeof m, "file ends before </%s> (element opened on line %d)", x->name, x->line);
            return xfail(p, m);
        }
        if (xpeek(p, "<!--")) {
            if (xskip_past(p, "-->", "unterminated comment")) return -1;
        } else if (xpeek(p, "<![CDATA[") || xpeek(p, "<!") || xpeek(p, "<?")) {
            return xfail(p, "unexpected markup inside an element");
        } else if (xpeek(p, "</")) {
            xadvance(p, 2);
            char *nm;
            if (xparse_name(p, &nm)) return -1;
            int same = strcmp(nm, x->name) == 0;
            free(nm);
            if (!same) {
                char m[200];
                snprintf(m, sizeof m, "closing tag does not match <%s> opened on line %d", x->name, x->line);
                return xfail(p, m);
            }
            xskip_ws(p);
            if (p->i >= p->n || p->s[p->i] != '>') return xfail(p, "expected '>'");
            xadvance(p, 1);
            return 0;
        } else if (p->s[p->i] == '<') {
            if (x->nkids == x->cap) {
                x->cap = x->cap ? 2 * x->cap : 4;
                x->kids = xrealloc(x->kids, (size_t)x->cap * sizeof *x->kids);
            }
            XNode *k = &x->kids[x->nkids++];
            if (xparse_element(p, k, depth + 1)) {
                x->nkids--;
                xnode_free(k);
                return -1;
            }
        } else {
            size_t st = p->i;
            while (p->i < p->n && p->s[p->i] != '<') {
                if (p->s[p->i] == '&') {
                    return xfail(p, "character entities are not used in cascade files");
                }
                if (p->s[p->i] == 0) return xfail(p, "NUL byte in the text");
                xadvance(p, 1);
            }
            xappend_text(x, p->s + st, p->i - st);
        }
    }
}

static int xparse_document(XParser *p, XNode *root) {
    for (;;) {
        xskip_ws(p);
        if (p->i >= p->n) return xfail(p, "no root element (empty or not an XML file)");
        if (xpeek(p, "<?")) {
            if (xskip_past(p, "?>", "unterminated <?...?>")) return -1;
        } else if (xpeek(p, "<!--")) {
            if (xskip_past(p, "-->", "unterminated comment")) return -1;
        } else if (p->s[p->i] == '<' && p->i + 1 < p->n && is_name_char(p->s[p->i + 1])) {
            break;
        } else {
            return xfail(p, "not an XML file");
        }
    }
    if (xparse_element(p, root, 0)) {
        xnode_free(root);
        return -1;
    }
    for (;;) {
        xskip_ws(p);
        if (p->i >= p->n) return 0;
        if (xpeek(p, "<!--")) {
            if (xskip_past(p, "-->", "unterminated comment")) {
                xnode_free(root);
                return -1;
            }
        } else {
            xnode_free(root);
            return xfail(p, "content after the root element");
        }
    }
}

static const XNode *xchild(const XNode *x, const char *name) {
    for (int i = 0; i < x->nkids; i++)
        if (strcmp(x->kids[i].name, name) == 0) return &x->kids[i];
    return NULL;
}

/* ---- cascade -------------------------------------------------------------------------------- */

typedef struct {
    int x[3], y[3], w[3], h[3];
    float weight[3];
    int nrects;
} HFeature;

typedef struct {
    int left, right, feature;
    float threshold;
} HNode;

typedef struct {
    int first_node, nnodes, first_leaf;
} HTree;

typedef struct {
    int first_tree, ntrees;
    float threshold; /* stageThreshold - 1e-5, as OpenCV */
} HStage;

struct HaarCascade {
    int win_w, win_h;
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    HStage *stages;
    HTree *trees;
    HNode *nodes;
    float *leaves;
    HFeature *features;
    int max_nodes_per_tree;
};

void haar_free(HaarCascade *c) {
    if (!c) return;
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->features);
    free(c);
}

void haar_info(const HaarCascade *c, int *win_w, int *win_h, int *nstages, int *nfeatures) {
    if (win_w) *win_w = c->win_w;
    if (win_h) *win_h = c->win_h;
    if (nstages) *nstages = c->nstages;
    if (nfeatures) *nfeatures = c->nfeatures;
}

/* Parses whitespace-separated numbers of a text node into vals (at most maxn). Returns the count
 * or -1 with err. */
static int parse_numbers(const XNode *x, double *vals, int maxn, const char *file, const char *what,
                         SlErr *err) {
    const char *s = x->text ? x->text : "";
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
        if (!*s) return n;
        if (n == maxn) return sl_fail(err, "%s: line %d: too many numbers in <%s>", file, x->line, what);
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') ||
            !isfinite(v))
            return sl_fail(err, "%s: line %d: <%s> holds something that is not a number", file, x->line, what);
        vals[n++] = v;
        s = end;
    }
}

static int get_int(const XNode *parent, const char *name, int lo, int hi, int *out, const char *file,
                   SlErr *err) {
    const XNode *x = xchild(parent, name);
    if (!x) return sl_fail(err, "%s: line %d: <%s> is missing", file, parent->line, name);
    double v;
    int n = parse_numbers(x, &v, 1, file, name, err);
    if (n < 0) return -1;
    if (n != 1 || v != floor(v) || v < lo || v > hi)
        return sl_fail(err, "%s: line %d: <%s> must be an integer in %d..%d", file, x->line, name, lo, hi);
    *out = (int)v;
    return 0;
}

static int is_int(double v) { return v == floor(v) && fabs(v) < 1e9; }

static int parse_cascade(const XNode *root, const char *file, HaarCascade *c, SlErr *err) {
    if (strcmp(root->name, "opencv_storage") != 0)
        return sl_fail(err, "%s: root element is <%s>, expected <opencv_storage> (not an OpenCV cascade file)",
                       file, root->name);
    const XNode *cas = xchild(root, "cascade");
    if (!cas) {
        if (root->nkids > 0 && xchild(&root->kids[0], "trees"))
            return sl_fail(err, "%s: old-style cascade format (from haartraining); use a new-style cascade such as haarcascade_frontalface_default.xml", file);
        return sl_fail(err, "%s: no <cascade> element (not an OpenCV cascade file)", file);
    }
    const XNode *st = xchild(cas, "stageType"), *ft = xchild(cas, "featureType");
    if (!st || !st->text || strstr(st->text, "BOOST") == NULL)
        return sl_fail(err, "%s: <stageType> must be BOOST", file);
    if (!ft || !ft->text || strstr(ft->text, "HAAR") == NULL)
        return sl_fail(err, "%s: <featureType> must be HAAR (LBP and HOG cascades are not supported)", file);
    if (get_int(cas, "width", 3, HAAR_MAX_WIN, &c->win_w, file, err)) return -1;
    if (get_int(cas, "height", 3, HAAR_MAX_WIN, &c->win_h, file, err)) return -1;
    int stage_num;
    if (get_int(cas, "stageNum", 1, 10000, &stage_num, file, err)) return -1;
    const XNode *stages = xchild(cas, "stages"), *features = xchild(cas, "features");
    if (!stages) return sl_fail(err, "%s: <stages> is missing", file);
    if (!features) return sl_fail(err, "%s: <features> is missing", file);
    if (stages->nkids != stage_num)
        return sl_fail(err, "%s: <stageNum> says %d stages but <stages> holds %d", file, stage_num, stages->nkids);

    /* features */
    c->nfeatures = features->nkids;
    if (c->nfeatures == 0) return sl_fail(err, "%s: <features> is empty", file);
    c->features = xcalloc((size_t)c->nfeatures, sizeof *c->features);
    for (int fi = 0; fi < c->nfeatures; fi++) {
        const XNode *f = &features->kids[fi];
        const XNode *rects = xchild(f, "rects");
        if (!rects) return sl_fail(err, "%s: line %d: feature %d has no <rects>", file, f->line, fi);
        const XNode *tl = xchild(f, "tilted");
        if (tl) {
            int t;
            if (get_int(f, "tilted", 0, 1, &t, file, err)) return -1;
            if (t) return sl_fail(err, "%s: line %d: feature %d is tilted; tilted Haar features are not supported", file, tl->line, fi);
        }
        if (rects->nkids < 1 || rects->nkids > 3)
            return sl_fail(err, "%s: line %d: feature %d has %d rectangles, expected 1 to 3", file, rects->line, fi, rects->nkids);
        HFeature *hf = &c->features[fi];
        hf->nrects = rects->nkids;
        for (int ri = 0; ri < rects->nkids; ri++) {
            double v[5];
            int n = parse_numbers(&rects->kids[ri], v, 5, file, "rects", err);
            if (n < 0) return -1;
            if (n != 5 || !is_int(v[0]) || !is_int(v[1]) || !is_int(v[2]) || !is_int(v[3]))
                return sl_fail(err, "%s: line %d: a rectangle must be \"x y w h weight\" with integer x y w h", file, rects->kids[ri].line);
            int x = (int)v[0], y = (int)v[1], w = (int)v[2], h = (int)v[3];
            if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > c->win_w || y + h > c->win_h)
                return sl_fail(err, "%s: line %d: rectangle %d %d %d %d lies outside the %dx%d window", file,
                               rects->kids[ri].line, x, y, w, h, c->win_w, c->win_h);
            hf->x[ri] = x;
            hf->y[ri] = y;
            hf->w[ri] = w;
            hf->h[ri] = h;
            hf->weight[ri] = (float)v[4];
        }
    }

    /* stages: count first, then fill */
    c->nstages = stage_num;
    c->stages = xcalloc((size_t)stage_num, sizeof *c->stages);
    int ntrees = 0, nnodes = 0, nleaves = 0;
    for (int si = 0; si < stage_num; si++) {
        const XNode *s = &stages->kids[si];
        const XNode *wc = xchild(s, "weakClassifiers");
        if (!wc || wc->nkids == 0) return sl_fail(err, "%s: line %d: stage %d has no <weakClassifiers>", file, s->line, si);
        int mwc;
        if (get_int(s, "maxWeakCount", 1, 100000, &mwc, file, err)) return -1;
        if (mwc != wc->nkids)
            return sl_fail(err, "%s: line %d: stage %d: <maxWeakCount> says %d but there are %d weak classifiers", file, s->line, si, mwc, wc->nkids);
        ntrees += wc->nkids;
        for (int k = 0; k < wc->nkids; k++) {
            const XNode *in = xchild(&wc->kids[k], "internalNodes"), *lv = xchild(&wc->kids[k], "leafValues");
            if (!in || !lv) return sl_fail(err, "%s: line %d: a weak classifier lacks <internalNodes> or <leafValues>", file, wc->kids[k].line);
            int cnt = 0;
            for (const char *q = in->text ? in->text : ""; *q;) {
                while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') q++;
                if (!*q) break;
                cnt++;
                while (*q && *q != ' ' && *q != '\n' && *q != '\t' && *q != '\r') q++;
            }
            if (cnt == 0 || cnt % 4 != 0)
                return sl_fail(err, "%s: line %d: <internalNodes> must hold groups of 4 numbers (left right feature threshold), found %d", file, in->line, cnt);
            if (cnt / 4 > 1024) return sl_fail(err, "%s: line %d: tree too large", file, in->line);
            nnodes += cnt / 4;
            nleaves += cnt / 4 + 1;
        }
        if (ntrees > 10000000) return sl_fail(err, "%s: too many weak classifiers", file);
    }
    c->ntrees = ntrees;
    c->nnodes = nnodes;
    c->nleaves = nleaves;
    c->trees = xcalloc((size_t)ntrees, sizeof *c->trees);
    c->nodes = xcalloc((size_t)nnodes, sizeof *c->nodes);
    c->leaves = xcalloc((size_t)nleaves, sizeof *c->leaves);
    int ti = 0, ni = 0, li = 0;
    double buf[4 * 1024 + 8];
    for (int si = 0; si < stage_num; si++) {
        const XNode *s = &stages->kids[si];
        const XNode *thr = xchild(s, "stageThreshold");
        if (!thr) return sl_fail(err, "%s: line %d: stage %d has no <stageThreshold>", file, s->line, si);
        double tv;
        int n = parse_numbers(thr, &tv, 1, file, "stageThreshold", err);
        if (n < 0) return -1;
        if (n != 1) return sl_fail(err, "%s: line %d: <stageThreshold> must be one number", file, thr->line);
        c->stages[si].threshold = (float)tv - 1e-5f;
        const XNode *wc = xchild(s, "weakClassifiers");
        c->stages[si].first_tree = ti;
        c->stages[si].ntrees = wc->nkids;
        for (int k = 0; k < wc->nkids; k++, ti++) {
            const XNode *in = xchild(&wc->kids[k], "internalNodes"), *lv = xchild(&wc->kids[k], "leafValues");
            int cnt = parse_numbers(in, buf, 4 * 1024, file, "internalNodes", err);
            if (cnt < 0) return -1;
            int nn = cnt / 4;
            HTree *t = &c->trees[ti];
            t->first_node = ni;
            t->nnodes = nn;
            t->first_leaf = li;
            if (nn > c->max_nodes_per_tree) c->max_nodes_per_tree = nn;
            for (int j = 0; j < nn; j++) {
                double *v = buf + 4 * j;
                if (!is_int(v[0]) || !is_int(v[1]) || !is_int(v[2]))
                    return sl_fail(err, "%s: line %d: node %d: left, right and feature must be integers", file, in->line, j);
                HNode *hn = &c->nodes[ni + j];
                hn->left = (int)v[0];
                hn->right = (int)v[1];
                hn->feature = (int)v[2];
                hn->threshold = (float)v[3];
                if (hn->feature < 0 || hn->feature >= c->nfeatures)
                    return sl_fail(err, "%s: line %d: node %d uses feature %d, but there are %d features", file, in->line, j, hn->feature, c->nfeatures);
                /* children: > 0 is a later node of this tree, <= 0 is leaf -idx */
                int ch[2] = {hn->left, hn->right};
                for (int q = 0; q < 2; q++) {
                    if (ch[q] > 0 && (ch[q] <= j || ch[q] >= nn))
                        return sl_fail(err, "%s: line %d: node %d points to node %d, outside this tree (or backwards)", file, in->line, j, ch[q]);
                    if (ch[q] <= 0 && -ch[q] > nn)
                        return sl_fail(err, "%s: line %d: node %d points to leaf %d, but the tree has %d leaves", file, in->line, j, -ch[q], nn + 1);
                }
            }
            ni += nn;
            int nl = parse_numbers(lv, buf, 4 * 1024, file, "leafValues", err);
            if (nl < 0) return -1;
            if (nl != nn + 1)
                return sl_fail(err, "%s: line %d: a tree with %d nodes needs %d <leafValues>, found %d", file, lv->line, nn, nn + 1, nl);
            for (int j = 0; j < nl; j++) c->leaves[li + j] = (float)buf[j];
            li += nl;
        }
    }
    return 0;
}

int haar_parse(const char *xml, size_t len, const char *name, HaarCascade **out, SlErr *err) {
    *out = NULL;
    XParser p = {.s = xml, .n = len, .i = 0, .line = 1, .file = name, .err = err};
    XNode root;
    if (xparse_document(&p, &root)) return -1;
    HaarCascade *c = xcalloc(1, sizeof *c);
    int rc = parse_cascade(&root, name, c, err);
    xnode_free(&root);
    if (rc) {
        haar_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int haar_load(const char *path, HaarCascade **out, SlErr *err) {
    char *data;
    size_t len;
    *out = NULL;
    if (sl_read_file(path, HAAR_MAX_FILE, &data, &len, err)) {
        if (access(path, F_OK) != 0)
            return sl_fail(err, "%s: cascade file not found (install Debian's opencv-data, or set SWAPLAB_HAAR_DIR)", path);
        return -1;
    }
    int rc = haar_parse(data, len, path, out, err);
    free(data);
    return rc;
}

const char *haar_default_path(HaarModel m) {
    static char buf[3][SL_PATH_MAX];
    const char *file = m == HAAR_FRONTALFACE_ALT2 ? "haarcascade_frontalface_alt2.xml"
                       : m == HAAR_EYE            ? "haarcascade_eye.xml"
                                                  : "haarcascade_frontalface_default.xml";
    const char *dir = getenv("SWAPLAB_HAAR_DIR");
    if (!dir || !*dir) dir = "/usr/share/opencv4/haarcascades";
    int k = m == HAAR_FRONTALFACE_ALT2 ? 1 : m == HAAR_EYE ? 2 : 0;
    sl_path_join(buf[k], sizeof buf[0], dir, file);
    return buf[k];
}

HaarParams haar_params_default(void) {
    HaarParams p = {.scale_factor = 1.1, .min_neighbors = 3, .min_w = 30, .min_h = 30, .max_w = 0, .max_h = 0, .threads = 1};
    return p;
}

uint8_t *haar_grey_from_image(const Image *img) {
    size_t n = (size_t)img->w * (size_t)img->h;
    uint8_t *g = xmalloc(n ? n : 1);
    if (img->c == 1) {
        memcpy(g, img->px, n);
    } else {
        SL_ASSERT(img->c >= 3);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = img->px + i * (size_t)img->c;
            uint32_t r = q[0], gg = q[1], b = q[2];
            g[i] = (r == gg && r == b) ? (uint8_t)r : (uint8_t)((9797u * r + 19234u * gg + 3737u * b) >> 15);
        }
    }
    return g;
}

/* ---- cv::resize INTER_LINEAR_EXACT for 8-bit, one channel ------------------------------------ */

typedef struct {
    int *ofs;
    uint16_t *c0, *c1; /* 8 fractional bits; c0 + c1 = 256 */
    int minofs, maxofs;
} LinCoeffs;

static void lin_coeffs(LinCoeffs *lc, int ssize, int dsize) {
    lc->ofs = xcalloc((size_t)dsize, sizeof(int));
    lc->c0 = xcalloc((size_t)dsize, sizeof(uint16_t));
    lc->c1 = xcalloc((size_t)dsize, sizeof(uint16_t));
    lc->minofs = 0;
    lc->maxofs = dsize;
    double inv_scale = (double)dsize / (double)ssize;
    double scale = 1.0 / inv_scale;
    for (int d = 0; d < dsize; d++) {
        double fval = scale * ((double)d + 0.5) - 0.5;
        int ival = (int)floor(fval);
        if (ival >= 0 && ssize > 1) {
            if (ival < ssize - 1) {
                lc->ofs[d] = ival;
                double fr = fval - (double)ival;
                uint16_t c1 = (uint16_t)lrint(fr * 256.0);
                lc->c1[d] = c1;
                lc->c0[d] = (uint16_t)(256 - c1);
            } else {
                lc->ofs[d] = ssize - 1;
                if (d < lc->maxofs) lc->maxofs = d;
            }
        } else if (d + 1 > lc->minofs) {
            lc->minofs = d + 1;
        }
    }
}

static void lin_free(LinCoeffs *lc) {
    free(lc->ofs);
    free(lc->c0);
    free(lc->c1);
}

static void hline(const uint8_t *src, const LinCoeffs *x, uint16_t *dst, int dw) {
    int i = 0;
    for (; i < x->minofs && i < dw; i++) dst[i] = (uint16_t)(src[0] << 8);
    for (; i < x->maxofs; i++) {
        const uint8_t *p = src + x->ofs[i];
        dst[i] = (uint16_t)(x->c0[i] * p[0] + x->c1[i] * p[1]);
    }
    uint16_t last = (uint16_t)(src[x->ofs[dw - 1]] << 8);
    for (; i < dw; i++) dst[i] = last;
}

void haar_resize_exact(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    SL_ASSERT(sw > 0 && sh > 0 && dw > 0 && dh > 0);
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh);
        return;
    }
    if (sw == 2 * dw && sh == 2 * dh) { /* OpenCV switches to INTER_AREA for an exact halving */
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                const uint8_t *p = src + (size_t)(2 * y) * sw + 2 * x;
                dst[(size_t)y * dw + x] = (uint8_t)((p[0] + p[1] + p[sw] + p[sw + 1] + 2) >> 2);
            }
        return;
    }
    LinCoeffs cx, cy;
    lin_coeffs(&cx, sw, dw);
    lin_coeffs(&cy, sh, dh);
    uint16_t *l0 = xmalloc((size_t)dw * sizeof(uint16_t)), *l1 = xmalloc((size_t)dw * sizeof(uint16_t));
    int have0 = -1, have1 = -1; /* source rows held in l0, l1 */
    for (int y = 0; y < dh; y++) {
        uint8_t *d = dst + (size_t)y * dw;
        int row = -1;
        if (y < cy.minofs) row = 0;
        else if (y >= cy.maxofs) row = sh - 1;
        if (row >= 0) {
            hline(src + (size_t)row * sw, &cx, l0, dw);
            have0 = -1;
            for (int x = 0; x < dw; x++) d[x] = (uint8_t)((l0[x] + 128) >> 8);
            continue;
        }
        int r = cy.ofs[y];
        if (have0 != r) {
            if (have1 == r) {
                uint16_t *t = l0;
                l0 = l1;
                l1 = t;
                have0 = r;
                have1 = -1;
            } else {
                hline(src + (size_t)r * sw, &cx, l0, dw);
                have0 = r;
            }
        }
        if (have1 != r + 1) {
            hline(src + (size_t)(r + 1) * sw, &cx, l1, dw);
            have1 = r + 1;
        }
        uint32_t m0 = cy.c0[y], m1 = cy.c1[y];
        for (int x = 0; x < dw; x++) {
            uint32_t v = ((uint32_t)l0[x] * m0 + (uint32_t)l1[x] * m1 + 32768u) >> 16;
            d[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    free(l0);
    free(l1);
    lin_free(&cx);
    lin_free(&cy);
}

/* ---- groupRectangles ------------------------------------------------------------------------- */

static int similar(const HaarBox *a, const HaarBox *b, double eps) {
    double delta = eps * ((a->w < b->w ? a->w : b->w) + (a->h < b->h ? a->h : b->h)) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta &&
           abs(a->x + a->w - b->x - b->w) <= delta && abs(a->y + a->h - b->y - b->h) <= delta;
}

int haar_group_rectangles(HaarBox *r, int n, int thr, double eps) {
    if (thr <= 0 || n == 0) return n;
    /* cv::partition: union-find over all similar pairs; labels in order of first appearance */
    int *parent = xmalloc((size_t)n * sizeof(int)), *rank = xcalloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) parent[i] = -1;
    for (int i = 0; i < n; i++) {
        int root = i;
        while (parent[root] >= 0) root = parent[root];
        for (int j = 0; j < n; j++) {
            if (i == j || !similar(&r[i], &r[j], eps)) continue;
            int root2 = j;
            while (parent[root2] >= 0) root2 = parent[root2];
            if (root2 != root) {
                if (rank[root] > rank[root2]) {
                    parent[root2] = root;
                } else {
                    parent[root] = root2;
                    rank[root2] += rank[root] == rank[root2];
                    root = root2;
                }
                int k = j, p;
                while ((p = parent[k]) >= 0) { parent[k] = root; k = p; }
                k = i;
                while ((p = parent[k]) >= 0) { parent[k] = root; k = p; }
            }
        }
    }
    int *label = xmalloc((size_t)n * sizeof(int)), *cls_of_root = xmalloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) cls_of_root[i] = -1;
    int ncls = 0;
    for (int i = 0; i < n; i++) {
        int root = i;
        while (parent[root] >= 0) root = parent[root];
        if (cls_of_root[root] < 0) cls_of_root[root] = ncls++;
        label[i] = cls_of_root[root];
    }
    long long (*sum)[4] = xcalloc((size_t)ncls, sizeof *sum);
    int *cnt = xcalloc((size_t)ncls, sizeof(int));
    for (int i = 0; i < n; i++) {
        int c = label[i];
        sum[c][0] += r[i].x;
        sum[c][1] += r[i].y;
        sum[c][2] += r[i].w;
        sum[c][3] += r[i].h;
        cnt[c]++;
    }
    HaarBox *avg = xmalloc((size_t)ncls * sizeof *avg);
    for (int c = 0; c < ncls; c++) {
        float s = 1.f / (float)cnt[c];
        avg[c].x = (int)lrintf((float)(int)sum[c][0] * s);
        avg[c].y = (int)lrintf((float)(int)sum[c][1] * s);
        avg[c].w = (int)lrintf((float)(int)sum[c][2] * s);
        avg[c].h = (int)lrintf((float)(int)sum[c][3] * s);
    }
    int out = 0;
    for (int i = 0; i < ncls; i++) {
        HaarBox r1 = avg[i];
        int n1 = cnt[i];
        if (n1 <= thr) continue;
        int j;
        for (j = 0; j < ncls; j++) {
            int n2 = cnt[j];
            if (j == i || n2 <= thr) continue;
            HaarBox r2 = avg[j];
            int dx = (int)lrint(r2.w * eps), dy = (int)lrint(r2.h * eps);
            if (r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx &&
                r1.y + r1.h <= r2.y + r2.h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3))
                break;
        }
        if (j == ncls) r[out++] = r1;
    }
    free(parent);
    free(rank);
    free(label);
    free(cls_of_root);
    free(sum);
    free(cnt);
    free(avg);
    return out;
}

/* ---- detection -------------------------------------------------------------------------------- */

typedef struct {
    int ofs[3][4];
    float weight[3];
} OptFeature;

/* A stump (a tree of one node: all of OpenCV's Haar cascades) with its feature's offsets in the
 * level's stride and its two leaves, in tree order: a window's stage sums read one array in order
 * instead of following tree -> node -> feature -> leaves. */
typedef struct {
    int ofs[3][4];
    float weight[3];
    float threshold, leaf[2];
} OptStump;

static int box_cmp(const void *a, const void *b) {
    const HaarBox *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    if (p->w != q->w) return p->w < q->w ? -1 : 1;
    if (p->h != q->h) return p->h < q->h ? -1 : 1;
    return 0;
}

static inline int32_t rsum(const uint32_t *p, const int o[4]) {
    return (int32_t)(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]);
}

/* One window: -1 rejected by the variance test, -si rejected at stage si (0 for the first), 1 accepted. */
static int run_at(const HaarCascade *c, const OptFeature *of, const OptStump *stumps, const uint32_t *pwin,
                  const uint32_t *pq, const int nofs[4], double area) {
    int32_t valsum = rsum(pwin, nofs);
    uint32_t valsqsum = (uint32_t)rsum(pq, nofs);
    double nf = area * valsqsum - (double)valsum * valsum;
    float vnf;
    if (nf > 0.) {
        nf = sqrt(nf);
        vnf = (float)(1. / nf);
        if (!(area * vnf < 1e-1)) return -1;
    } else {
        return -1;
    }
    for (int si = 0; si < c->nstages; si++) {
        const HStage *st = &c->stages[si];
        double sum = 0;
        if (stumps) {
            const OptStump *f = stumps + st->first_tree;
            for (int t = 0; t < st->ntrees; t++, f++) {
                float fv = f->weight[0] * (float)rsum(pwin, f->ofs[0]) + f->weight[1] * (float)rsum(pwin, f->ofs[1]);
                if (f->weight[2] != 0.0f) fv += f->weight[2] * (float)rsum(pwin, f->ofs[2]);
                double val = (double)(fv * vnf);
                sum += val < f->threshold ? f->leaf[0] : f->leaf[1];
            }
            if (sum < st->threshold) return -si;
            continue;
        }
        for (int t = st->first_tree; t < st->first_tree + st->ntrees; t++) {
            const HTree *tr = &c->trees[t];
            int idx = 0;
            do {
                const HNode *nd = &c->nodes[tr->first_node + idx];
                const OptFeature *f = &of[nd->feature];
                float fv = f->weight[0] * (float)rsum(pwin, f->ofs[0]) + f->weight[1] * (float)rsum(pwin, f->ofs[1]);
                if (f->weight[2] != 0.0f) fv += f->weight[2] * (float)rsum(pwin, f->ofs[2]);
                double val = (double)(fv * vnf);
                idx = val < nd->threshold ? nd->left : nd->right;
            } while (idx > 0);
            sum += c->leaves[tr->first_leaf - idx];
        }
        if (sum < st->threshold) return -si;
    }
    return 1;
}

typedef struct {
    HaarBox *v;
    int n, cap;
} BoxList;

typedef struct {
    const HaarCascade *c;
    const OptFeature *of;
    const OptStump *stumps; /* NULL unless every tree is a stump */
    const int *nofs;
    double area;
    const uint8_t *grey;
    int w, h, w0, h0, stride;
} ScanCtx;

/* One pyramid level: resize, integral images, every window; accepted windows go to out. img, sum
 * and sq are scratch buffers of the largest level. */
static void scan_scale(const ScanCtx *x, float sc, uint8_t *img, uint32_t *sum, uint32_t *sq, BoxList *out) {
    const HaarCascade *c = x->c;
    const int stride = x->stride;
    int sw = (int)lrintf((float)x->w / sc), sh = (int)lrintf((float)x->h / sc);
    if (sw > x->w0) sw = x->w0;
    if (sh > x->h0) sh = x->h0;
    if (sw <= 0 || sh <= 0) return;
    int ystep = sc >= 2 ? 1 : 2;
    haar_resize_exact(x->grey, x->w, x->h, img, sw, sh);
    /* integral images, (sh+1) x (sw+1) in the shared stride; 32-bit wrap-around like OpenCV */
    for (int i = 0; i <= sw; i++) sum[i] = sq[i] = 0;
    for (int y = 0; y < sh; y++) {
        uint32_t rs = 0, rq = 0;
        uint32_t *sp = sum + (size_t)(y + 1) * stride, *qp = sq + (size_t)(y + 1) * stride;
        const uint32_t *sp0 = sum + (size_t)y * stride, *qp0 = sq + (size_t)y * stride;
        const uint8_t *row = img + (size_t)y * sw;
        sp[0] = qp[0] = 0;
        for (int i = 0; i < sw; i++) {
            uint32_t v = row[i];
            rs += v;
            rq += v * v;
            sp[i + 1] = sp0[i + 1] + rs;
            qp[i + 1] = qp0[i + 1] + rq;
        }
    }
    int szw_w = sw + 1 - c->win_w, szw_h = sh + 1 - c->win_h;
    if (szw_w < 0) szw_w = 0;
    if (szw_h < 0) szw_h = 0;
    int bw = (int)lrintf((float)c->win_w * sc), bh = (int)lrintf((float)c->win_h * sc);
    for (int y = 0; y < szw_h; y += ystep) {
        for (int i = 0; i < szw_w; i += ystep) {
            int result = -1;
            if (i + c->win_w < sw + 1 && y + c->win_h < sh + 1) {
                size_t o = (size_t)y * stride + i;
                result = run_at(c, x->of, x->stumps, sum + o, sq + o, x->nofs, x->area);
            }
            if (result > 0) {
                if (out->n == out->cap) {
                    out->cap = out->cap ? 2 * out->cap : 64;
                    out->v = xrealloc(out->v, (size_t)out->cap * sizeof *out->v);
                }
                out->v[out->n++] = (HaarBox){(int)lrintf((float)i * sc), (int)lrintf((float)y * sc), bw, bh};
            }
            if (result == 0) i += ystep;
        }
    }
}

int haar_detect(const HaarCascade *c, const uint8_t *grey, int w, int h, const HaarParams *p, HaarBox **boxes) {
    *boxes = NULL;
    SL_ASSERT(p->scale_factor > 1.0);
    if (w < c->win_w || h < c->win_h) return 0;
    int maxw = p->max_w > 0 ? p->max_w : w, maxh = p->max_h > 0 ? p->max_h : h;
    /* the scales OpenCV keeps (float, as it stores them) */
    float *scales = NULL;
    int nscales = 0, cap = 0;
    for (double factor = 1;; factor *= p->scale_factor) {
        int ww = (int)lrint(c->win_w * factor), wh = (int)lrint(c->win_h * factor);
        if (ww > maxw || wh > maxh || ww > w || wh > h) break;
        if (ww < p->min_w || wh < p->min_h) continue;
        if (nscales == cap) {
            cap = cap ? 2 * cap : 64;
            scales = xrealloc(scales, (size_t)cap * sizeof *scales);
        }
        scales[nscales++] = (float)factor;
    }
    if (nscales == 0) {
        free(scales);
        return 0;
    }
    /* one stride for every level's integral images, so feature offsets are computed once */
    int w0 = (int)lrintf((float)w / scales[0]), h0 = (int)lrintf((float)h / scales[0]);
    int stride = w0 + 1;
    size_t isz = (size_t)stride * (size_t)(h0 + 1);
    OptFeature *of = xmalloc((size_t)c->nfeatures * sizeof *of);
    for (int fi = 0; fi < c->nfeatures; fi++) {
        const HFeature *f = &c->features[fi];
        memset(&of[fi], 0, sizeof of[fi]);
        for (int ri = 0; ri < 3; ri++) {
            if (ri >= f->nrects) {
                of[fi].weight[ri] = 0.f;
                continue;
            }
            of[fi].weight[ri] = f->weight[ri];
            int x = f->x[ri], y = f->y[ri], rw = f->w[ri], rh = f->h[ri];
            of[fi].ofs[ri][0] = y * stride + x;
            of[fi].ofs[ri][1] = y * stride + x + rw;
            of[fi].ofs[ri][2] = (y + rh) * stride + x;
            of[fi].ofs[ri][3] = (y + rh) * stride + x + rw;
        }
    }
    int nofs[4] = {1 * stride + 1, 1 * stride + 1 + c->win_w - 2, (1 + c->win_h - 2) * stride + 1,
                   (1 + c->win_h - 2) * stride + 1 + c->win_w - 2};
    double area = (double)(c->win_w - 2) * (c->win_h - 2);
    OptStump *stumps = NULL;
    if (c->max_nodes_per_tree == 1) {
        stumps = xmalloc((size_t)(c->ntrees ? c->ntrees : 1) * sizeof *stumps);
        for (int t = 0; t < c->ntrees; t++) {
            const HTree *tr = &c->trees[t];
            const HNode *nd = &c->nodes[tr->first_node];
            memcpy(stumps[t].ofs, of[nd->feature].ofs, sizeof stumps[t].ofs);
            memcpy(stumps[t].weight, of[nd->feature].weight, sizeof stumps[t].weight);
            stumps[t].threshold = nd->threshold;
            stumps[t].leaf[0] = c->leaves[tr->first_leaf];
            stumps[t].leaf[1] = c->leaves[tr->first_leaf + 1];
        }
    }

    BoxList *lists = xcalloc((size_t)nscales, sizeof *lists);
    const ScanCtx ctx = {c, of, stumps, nofs, area, grey, w, h, w0, h0, stride};
#ifdef _OPENMP
#pragma omp parallel if (p->threads != 1) num_threads(p->threads > 0 ? p->threads : omp_get_max_threads())
#endif
    {
        uint32_t *sum = xmalloc(isz * sizeof(uint32_t)), *sq = xmalloc(isz * sizeof(uint32_t));
        uint8_t *img = xmalloc((size_t)w0 * h0);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int s = 0; s < nscales; s++) scan_scale(&ctx, scales[s], img, sum, sq, &lists[s]);
        free(sum);
        free(sq);
        free(img);
    }
    /* candidates in scale order, as one thread would find them */
    HaarBox *cand = NULL;
    int ncand = 0;
    for (int s = 0; s < nscales; s++) ncand += lists[s].n;
    if (ncand) cand = xmalloc((size_t)ncand * sizeof *cand);
    for (int s = 0, k = 0; s < nscales; s++) {
        if (lists[s].n) memcpy(cand + k, lists[s].v, (size_t)lists[s].n * sizeof *cand);
        k += lists[s].n;
        free(lists[s].v);
    }
    free(lists);
    free(stumps);
    free(of);
    free(scales);
    int n = haar_group_rectangles(cand, ncand, p->min_neighbors, 0.2);
    if (n == 0) {
        free(cand);
        return 0;
    }
    qsort(cand, (size_t)n, sizeof *cand, box_cmp);
    *boxes = cand;
    return n;
}
