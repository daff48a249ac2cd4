/* dataset.c — labels.csv and ImageFolder detector datasets (dataset.h). */
#include "detect/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/image.h"
#include "util/fs.h"

/* Splits one CSV record starting at *p (RFC 4180) into fields (malloc'ed copies); advances *p past
 * the record's line end. Returns the field count, or -1 on an unterminated quote. */
static int csv_record(const char **p, char ***fields) {
    const char *s = *p;
    int n = 0, cap = 8;
    char **f = xmalloc((size_t)cap * sizeof *f);
    for (;;) {
        size_t len = 0, fcap = 32;
        char *buf = xmalloc(fcap);
        if (*s == '"') {
            s++;
            for (;;) {
                if (!*s) {
                    free(buf);
                    for (int i = 0; i < n; i++) free(f[i]);
                    free(f);
                    return -1;
                }
                if (*s == '"' && s[1] == '"') s += 2, buf[len++] = '"';
                else if (*s == '"') {
                    s++;
                    break;
                } else buf[len++] = *s++;
                if (len + 1 >= fcap) buf = xrealloc(buf, fcap *= 2);
            }
        }
        while (*s && *s != ',' && *s != '\n' && *s != '\r') {
            buf[len++] = *s++;
            if (len + 1 >= fcap) buf = xrealloc(buf, fcap *= 2);
        }
        buf[len] = 0;
        if (n == cap) f = xrealloc(f, (size_t)(cap *= 2) * sizeof *f);
        f[n++] = buf;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\r') s++;
        if (*s == '\n') s++;
        break;
    }
    *p = s;
    *fields = f;
    return n;
}

static void free_fields(char **f, int n) {
    for (int i = 0; i < n; i++) free(f[i]);
    free(f);
}

static int safe_relpath(const char *p) {
    if (!*p || p[0] == '/') return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t k = e ? (size_t)(e - s) : strlen(s);
        if (k == 2 && s[0] == '.' && s[1] == '.') return 0;
        if (!e) break;
        s = e + 1;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Numbers the groups: names[i] is sample i's group name (consumed). */
static void assign_groups(DetDataset *ds, char **names) {
    char **u = xmalloc((size_t)ds->n * sizeof *u);
    memcpy(u, names, (size_t)ds->n * sizeof *u);
    qsort(u, (size_t)ds->n, sizeof *u, cmp_str);
    int G = 0;
    for (int i = 0; i < ds->n; i++)
        if (i == 0 || strcmp(u[i], u[G - 1])) u[G++] = u[i];
    ds->groups = xmalloc((size_t)G * sizeof *ds->groups);
    for (int g = 0; g < G; g++) ds->groups[g] = xstrdup(u[g]);
    ds->n_groups = G;
    for (int i = 0; i < ds->n; i++) {
        char **hit = bsearch(&names[i], u, (size_t)G, sizeof *u, cmp_str);
        SL_ASSERT(hit);
        ds->s[i].group = (int)(hit - u);
    }
    free(u);
    for (int i = 0; i < ds->n; i++) free(names[i]);
    free(names);
}

/* Reads a CSV file (at most DETDS_MAX_CSV bytes, no NUL bytes) and its header record. On success
 * *text is the malloc'ed file (free it), *p points past the header and *h holds its *nh fields. */
static int csv_open(const char *csv, char **text, const char **p, char ***h, int *nh, SlErr *err) {
    size_t len;
    if (sl_read_file(csv, DETDS_MAX_CSV, text, &len, err)) return -1;
    if (strlen(*text) != len) {
        free(*text);
        return sl_fail(err, "%s: contains a NUL byte; not a CSV text file", csv);
    }
    *p = *text;
    *nh = csv_record(p, h);
    if (*nh < 0) {
        free(*text);
        return sl_fail(err, "%s:1: unterminated quote in the header", csv);
    }
    return 0;
}

static int load_csv(const char *dir, const char *csv, const char *split, DetDataset *ds, SlErr *err) {
    char *text, **h;
    const char *p;
    int nh, line = 1;
    if (csv_open(csv, &text, &p, &h, &nh, err)) return -1;
    int c_path = -1, c_label = -1, c_group = -1, c_split = -1, c_clip = -1, c_time = -1, c_method = -1;
    int c_target = -1, c_frame = -1;
    for (int i = 0; i < nh; i++) {
        if (!strcmp(h[i], "path")) c_path = i;
        else if (!strcmp(h[i], "label")) c_label = i;
        else if (!strcmp(h[i], "source") || (c_group < 0 && !strcmp(h[i], "subject"))) c_group = i;
        else if (!strcmp(h[i], "split")) c_split = i;
        else if (!strcmp(h[i], "clip")) c_clip = i;
        else if (!strcmp(h[i], "time")) c_time = i;
        else if (!strcmp(h[i], "method")) c_method = i;
        else if (!strcmp(h[i], "target")) c_target = i;
        else if (!strcmp(h[i], "frame")) c_frame = i;
    }
    free_fields(h, nh);
    if (c_path < 0 || c_label < 0) {
        free(text);
        return sl_fail(err, "%s:1: the header needs columns \"path\" and \"label\"", csv);
    }
    if (split && strcmp(split, "all") && c_split < 0) {
        free(text);
        return sl_fail(err, "%s: no \"split\" column, so there is no split '%s'; use --split all", csv, split);
    }
    int cap = 64;
    ds->s = xmalloc((size_t)cap * sizeof *ds->s);
    char **gnames = xmalloc((size_t)cap * sizeof *gnames);
    int rc = 0;
    while (*p) {
        line++;
        char **f;
        int nf = csv_record(&p, &f);
        if (nf < 0) {
            rc = sl_fail(err, "%s:%d: unterminated quote", csv, line);
            break;
        }
        if (nf == 1 && !f[0][0]) { /* blank line */
            free_fields(f, nf);
            continue;
        }
        int need = c_path > c_label ? c_path : c_label;
        if (c_group > need) need = c_group;
        if (c_split > need) need = c_split;
        if (c_clip > need) need = c_clip;
        if (c_time > need) need = c_time;
        if (c_method > need) need = c_method;
        if (c_target > need) need = c_target;
        if (c_frame > need) need = c_frame;
        if (nf <= need) {
            free_fields(f, nf);
            rc = sl_fail(err, "%s:%d: %d fields, the header has more; check the quoting", csv, line, nf);
            break;
        }
        const char *lab = f[c_label];
        int label = !strcmp(lab, "1") || !strcasecmp(lab, "fake") ? 1 : !strcmp(lab, "0") || !strcasecmp(lab, "real") ? 0 : -1;
        if (label < 0) {
            rc = sl_fail(err, "%s:%d: label '%.40s' is not 0/1/real/fake", csv, line, lab);
            free_fields(f, nf);
            break;
        }
        if (!safe_relpath(f[c_path])) {
            rc = sl_fail(err, "%s:%d: path '%.200s' must be relative to the dataset, without '..'", csv, line, f[c_path]);
            free_fields(f, nf);
            break;
        }
        const char *sp = c_split >= 0 ? f[c_split] : "";
        if (strlen(sp) >= sizeof ds->s[0].split) {
            rc = sl_fail(err, "%s:%d: split '%.40s' is not train, val or test", csv, line, sp);
            free_fields(f, nf);
            break;
        }
        if (split && strcmp(split, "all") && strcmp(split, sp)) {
            free_fields(f, nf);
            continue;
        }
        if (ds->n == cap) {
            cap *= 2;
            ds->s = xrealloc(ds->s, (size_t)cap * sizeof *ds->s);
            gnames = xrealloc(gnames, (size_t)cap * sizeof *gnames);
        }
        DetSample *s = &ds->s[ds->n];
        size_t plen = strlen(dir) + strlen(f[c_path]) + 2;
        s->path = xmalloc(plen);
        sl_path_join(s->path, plen, dir, f[c_path]);
        s->label = label;
        snprintf(s->split, sizeof s->split, "%s", sp);
        snprintf(s->method, sizeof s->method, "%s", c_method >= 0 ? f[c_method] : "");
        s->clip = c_clip >= 0 && f[c_clip][0] ? xstrdup(f[c_clip]) : NULL;
        s->frame_key = NULL;
        if (c_target >= 0 && c_frame >= 0 && f[c_target][0] && f[c_frame][0]) {
            size_t kl = strlen(f[c_target]) + strlen(f[c_frame]) + 2;
            s->frame_key = xmalloc(kl);
            snprintf(s->frame_key, kl, "%s\x1f%s", f[c_target], f[c_frame]); /* unit separator: in neither */
        }
        s->rel_off = (int)(strlen(s->path) - strlen(f[c_path]));
        s->time = NAN;
        if (c_time >= 0 && f[c_time][0]) {
            char *end;
            double t = strtod(f[c_time], &end);
            if (*end || !isfinite(t) || t < 0) {
                rc = sl_fail(err, "%s:%d: time '%.40s' is not a number of seconds >= 0", csv, line, f[c_time]);
                free(s->path), free(s->clip), free(s->frame_key);
                free_fields(f, nf);
                break;
            }
            s->time = t;
        }
        gnames[ds->n] = xstrdup(c_group >= 0 && f[c_group][0] ? f[c_group] : f[c_path]);
        ds->n++;
        free_fields(f, nf);
    }
    free(text);
    if (rc) {
        for (int i = 0; i < ds->n; i++) free(gnames[i]);
        free(gnames);
        return -1;
    }
    if (c_group < 0) sl_warn("%s: no \"source\" column; every image is its own bootstrap group", csv);
    assign_groups(ds, gnames);
    ds->from_csv = 1;
    return 0;
}

static int load_folder(const char *dir, DetDataset *ds, SlErr *err) {
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".bmp", NULL};
    int cap = 64;
    ds->s = xmalloc((size_t)cap * sizeof *ds->s);
    char **gnames = xmalloc((size_t)cap * sizeof *gnames);
    for (int label = 0; label < 2; label++) {
        char sub[SL_PATH_MAX];
        sl_path_join(sub, sizeof sub, dir, label ? "fake" : "real");
        if (!sl_is_dir(sub)) {
            for (int i = 0; i < ds->n; i++) free(gnames[i]);
            free(gnames);
            return sl_fail(err, "%s: no labels.csv and no %s/ folder; a detector dataset needs real/ and fake/ (or labels.csv)",
                           dir, label ? "fake" : "real");
        }
        char **names;
        int k = sl_list_dir(sub, exts, &names, err);
        if (k < 0) {
            for (int i = 0; i < ds->n; i++) free(gnames[i]);
            free(gnames);
            return -1;
        }
        for (int i = 0; i < k; i++) {
            if (ds->n == cap) {
                cap *= 2;
                ds->s = xrealloc(ds->s, (size_t)cap * sizeof *ds->s);
                gnames = xrealloc(gnames, (size_t)cap * sizeof *gnames);
            }
            DetSample *s = &ds->s[ds->n];
            size_t plen = strlen(sub) + strlen(names[i]) + 2;
            s->path = xmalloc(plen);
            sl_path_join(s->path, plen, sub, names[i]);
            s->label = label;
            s->split[0] = 0;
            s->method[0] = 0;
            s->clip = NULL;
            s->frame_key = NULL;
            s->time = NAN;
            s->rel_off = (int)(strlen(s->path) - strlen(names[i]) - strlen(label ? "fake/" : "real/"));
            gnames[ds->n++] = xstrdup(s->path);
        }
        sl_free_list(names, k);
    }
    sl_warn("%s: ImageFolder layout without labels.csv: every image is its own bootstrap group, so the intervals "
            "treat frames of one person as independent", dir);
    assign_groups(ds, gnames);
    return 0;
}

int detds_load(const char *dir, const char *split, DetDataset *ds, SlErr *err) {
    memset(ds, 0, sizeof *ds);
    char csv[SL_PATH_MAX];
    sl_path_join(csv, sizeof csv, dir, "labels.csv");
    int rc;
    if (sl_is_file(csv)) {
        rc = load_csv(dir, csv, split, ds, err);
    } else {
        if (split && strcmp(split, "all"))
            return sl_fail(err, "%s: no labels.csv, so there are no splits; use --split all or a dataset with labels.csv", dir);
        rc = load_folder(dir, ds, err);
    }
    if (rc) {
        detds_free(ds);
        return -1;
    }
    if (ds->n == 0) {
        detds_free(ds);
        return sl_fail(err, "%s: no images%s%s", dir, split ? " in split " : "", split ? split : "");
    }
    return 0;
}

void detds_free(DetDataset *ds) {
    for (int i = 0; i < ds->n; i++) free(ds->s[i].path), free(ds->s[i].clip), free(ds->s[i].frame_key);
    free(ds->s);
    for (int g = 0; g < ds->n_groups; g++) free(ds->groups[g]);
    free(ds->groups);
    memset(ds, 0, sizeof *ds);
}

int detds_load_scores(const char *csv, float **scores, int **labels, int **groups, int *n, int *n_groups,
                      SlErr *err) {
    char *text, **h;
    const char *p;
    int nh, line = 1;
    if (csv_open(csv, &text, &p, &h, &nh, err)) return -1;
    int c_score = -1, c_label = -1, c_group = -1;
    for (int i = 0; i < nh; i++) {
        if (!strcmp(h[i], "score")) c_score = i;
        else if (!strcmp(h[i], "label")) c_label = i;
        else if (!strcmp(h[i], "source") || (c_group < 0 && !strcmp(h[i], "group"))) c_group = i;
    }
    free_fields(h, nh);
    if (c_score < 0 || c_label < 0) {
        free(text);
        return sl_fail(err, "%s:1: the header needs columns \"score\" and \"label\"", csv);
    }
    int need = c_score > c_label ? c_score : c_label;
    if (c_group > need) need = c_group;
    int cap = 64, m = 0, rc = 0;
    float *s = xmalloc((size_t)cap * sizeof *s);
    DetDataset tmp = {0};
    tmp.s = xmalloc((size_t)cap * sizeof *tmp.s);
    char **gnames = xmalloc((size_t)cap * sizeof *gnames);
    while (*p) {
        line++;
        char **f;
        int nf = csv_record(&p, &f);
        if (nf < 0) {
            rc = sl_fail(err, "%s:%d: unterminated quote", csv, line);
            break;
        }
        if (nf == 1 && !f[0][0]) {
            free_fields(f, nf);
            continue;
        }
        if (nf <= need) {
            free_fields(f, nf);
            rc = sl_fail(err, "%s:%d: %d fields, the header has more; check the quoting", csv, line, nf);
            break;
        }
        char *end;
        double v = strtod(f[c_score], &end);
        const char *lab = f[c_label];
        int label = !strcmp(lab, "1") || !strcasecmp(lab, "fake") ? 1 : !strcmp(lab, "0") || !strcasecmp(lab, "real") ? 0 : -1;
        if (end == f[c_score] || *end || !isfinite(v) || fabs(v) > 3e38) {
            rc = sl_fail(err, "%s:%d: score '%.40s' is not a finite number", csv, line, f[c_score]);
        } else if (label < 0) {
            rc = sl_fail(err, "%s:%d: label '%.40s' is not 0/1/real/fake", csv, line, lab);
        }
        if (rc) {
            free_fields(f, nf);
            break;
        }
        if (m == cap) {
            cap *= 2;
            s = xrealloc(s, (size_t)cap * sizeof *s);
            tmp.s = xrealloc(tmp.s, (size_t)cap * sizeof *tmp.s);
            gnames = xrealloc(gnames, (size_t)cap * sizeof *gnames);
        }
        s[m] = (float)v;
        tmp.s[m].label = label;
        char row[32];
        snprintf(row, sizeof row, "row %09d", line);
        gnames[m] = xstrdup(c_group >= 0 && f[c_group][0] ? f[c_group] : row);
        m++;
        free_fields(f, nf);
    }
    free(text);
    if (!rc && m == 0) rc = sl_fail(err, "%s: no rows", csv);
    if (rc) {
        for (int i = 0; i < m; i++) free(gnames[i]);
        free(gnames), free(s), free(tmp.s);
        return -1;
    }
    tmp.n = m;
    assign_groups(&tmp, gnames);
    *labels = xmalloc((size_t)m * sizeof **labels);
    *groups = xmalloc((size_t)m * sizeof **groups);
    for (int i = 0; i < m; i++) (*labels)[i] = tmp.s[i].label, (*groups)[i] = tmp.s[i].group;
    *scores = s, *n = m, *n_groups = tmp.n_groups;
    for (int g = 0; g < tmp.n_groups; g++) free(tmp.groups[g]);
    free(tmp.groups), free(tmp.s);
    return 0;
}

int detds_drop_unreadable(DetDataset *ds) {
    int kept = 0, dropped = 0;
    for (int i = 0; i < ds->n; i++) {
        Image im;
        SlErr err;
        if (image_load(ds->s[i].path, 3, &im, &err)) {
            if (dropped < 5) sl_warn("skipping an unreadable image: %s", err.msg);
            dropped++;
            free(ds->s[i].path), free(ds->s[i].clip), free(ds->s[i].frame_key);
            continue;
        }
        image_free(&im);
        ds->s[kept++] = ds->s[i];
    }
    ds->n = kept;
    if (dropped) sl_warn("%d unreadable image%s skipped (%d left)", dropped, dropped == 1 ? "" : "s", kept);
    return dropped;
}

typedef struct {
    const char *key;
    int idx;
} KeyIdx;
static int cmp_key(const void *a, const void *b) {
    return strcmp(((const KeyIdx *)a)->key, ((const KeyIdx *)b)->key);
}
static int cmp_key_idx(const void *a, const void *b) {
    const KeyIdx *x = a, *y = b;
    int c = cmp_key(a, b);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

int *detds_pairs(const DetDataset *ds) {
    int n = ds->n, nr = 0, *pair = xmalloc((size_t)(n ? n : 1) * sizeof *pair);
    KeyIdx *reals = xmalloc((size_t)(n ? n : 1) * sizeof *reals);
    for (int i = 0; i < n; i++)
        if (!ds->s[i].label && ds->s[i].frame_key) reals[nr++] = (KeyIdx){ds->s[i].frame_key, i};
    qsort(reals, (size_t)nr, sizeof *reals, cmp_key_idx);
    for (int i = 0; i < n; i++) {
        const KeyIdx want = {ds->s[i].frame_key, i}, *hit;
        if (!want.key) pair[i] = -1;
        else if (!ds->s[i].label) pair[i] = i;
        else pair[i] = (hit = bsearch(&want, reals, (size_t)nr, sizeof *reals, cmp_key)) ? hit->idx : -1;
    }
    free(reals);
    return pair;
}

void detds_counts(const DetDataset *ds, int *n_real, int *n_fake) {
    *n_real = *n_fake = 0;
    for (int i = 0; i < ds->n; i++) ds->s[i].label ? (*n_fake)++ : (*n_real)++;
}

int detds_clips(const DetDataset *ds, int *clip_of) {
    DetDataset tmp = {0};
    tmp.n = ds->n;
    tmp.s = xcalloc((size_t)(ds->n ? ds->n : 1), sizeof *tmp.s);
    char **names = xmalloc((size_t)(ds->n ? ds->n : 1) * sizeof *names);
    for (int i = 0; i < ds->n; i++) names[i] = xstrdup(ds->s[i].clip ? ds->s[i].clip : ds->s[i].path);
    if (ds->n) assign_groups(&tmp, names);
    else free(names);
    for (int i = 0; i < ds->n; i++) clip_of[i] = tmp.s[i].group;
    int n = tmp.n_groups;
    for (int g = 0; g < tmp.n_groups; g++) free(tmp.groups[g]);
    free(tmp.groups), free(tmp.s);
    return n;
}

int detds_clip_order(const DetDataset *ds, int **order, int **start) {
    int n = ds->n, *clip_of = xmalloc((size_t)(n ? n : 1) * sizeof *clip_of);
    int n_clips = detds_clips(ds, clip_of);
    int *st = xcalloc((size_t)n_clips + 1, sizeof *st), *ord = xmalloc((size_t)(n ? n : 1) * sizeof *ord);
    for (int i = 0; i < n; i++) st[clip_of[i] + 1]++;
    for (int c = 0; c < n_clips; c++) st[c + 1] += st[c];
    int *fill = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *fill);
    memcpy(fill, st, (size_t)n_clips * sizeof *fill);
    for (int i = 0; i < n; i++) ord[fill[clip_of[i]]++] = i;
    free(fill), free(clip_of);
    *order = ord, *start = st;
    return n_clips;
}
