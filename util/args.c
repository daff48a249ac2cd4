/* args.c — the shared flag parser (see args.h). */
#include "util/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void sl_args_help(const char *cmd, const char *usage, const char *about, const SlArg *spec) {
    printf("usage: swaplab %s %s\n", cmd, usage ? usage : "[options]");
    if (about && *about) printf("\n%s\n", about);
    printf("\noptions:\n");
    for (const SlArg *a = spec; a && a->name; a++) {
        char left[96];
        if (a->type == SL_ARG_FLAG) sl_snprintf(left, sizeof left, "%s", a->name);
        else if (a->type == SL_ARG_LIST)
            sl_snprintf(left, sizeof left, "%s %s%s", a->name, a->metavar ? a->metavar : "X",
                        a->metavar && sl_endswith(a->metavar, "...") ? "" : "...");
        else sl_snprintf(left, sizeof left, "%s %s", a->name, a->metavar ? a->metavar : "X");
        char range[96] = "";
        if ((a->type == SL_ARG_INT || a->type == SL_ARG_DOUBLE || a->type == SL_ARG_U64) && a->min < a->max)
            snprintf(range, sizeof range, " [%.10g..%.10g]", a->min, a->max);
        else if (a->type == SL_ARG_INT || a->type == SL_ARG_DOUBLE)
            snprintf(range, sizeof range, " [no range: a bug]"); /* tests/e2e_cli.sh looks for it */
        printf("  %-26s %s%s\n", left, a->help ? a->help : "", range);
    }
    printf("  %-26s %s\n", "--quiet", "no progress or information lines on stderr (any command; or SL_QUIET=1)");
    printf("  %-26s %s\n", "--help", "show this help");
}

int sl_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "swaplab %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(run 'swaplab %s --help' for the options)\n", cmd);
    return 2;
}

static int out_of_range(const char *cmd, const SlArg *a, const char *val) {
    return sl_usage_error(cmd, "%s must be %.10g..%.10g, got '%s'", a->name, a->min, a->max, val);
}

static size_t max_len(const SlArg *a) {
    return a && a->max > 0 ? (size_t)a->max : SL_ARG_MAX_LEN;
}

static int check_len(const char *cmd, const SlArg *a, const char *val) {
    size_t n = strlen(val), m = max_len(a);
    if (n <= m) return 0;
    return sl_usage_error(cmd, "%s%s%.40s...' is %zu bytes long; at most %zu are accepted", a ? a->name : "",
                          a ? ": '" : "argument '", val, n, m);
}

static int set_value(const char *cmd, const SlArg *a, const char *val) {
    char *end;
    int ranged = a->min < a->max;
    switch (a->type) {
    case SL_ARG_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < -2147483647L || v > 2147483647L)
            return ranged ? out_of_range(cmd, a, val) : sl_usage_error(cmd, "%s expects an integer, got '%s'", a->name, val);
        if (ranged && ((double)v < a->min || (double)v > a->max)) return out_of_range(cmd, a, val);
        *(int *)a->dst = (int)v;
        return 0;
    }
    case SL_ARG_U64: {
        if (!*val || strspn(val, "0123456789") != strlen(val))
            return sl_usage_error(cmd, "%s expects a non-negative integer, got '%s'", a->name, val);
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (errno) return sl_usage_error(cmd, "%s expects a non-negative integer below 2^64, got '%s'", a->name, val);
        if (ranged && ((double)v < a->min || (double)v > a->max)) return out_of_range(cmd, a, val);
        *(unsigned long long *)a->dst = v;
        return 0;
    }
    case SL_ARG_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (end == val || *end) return sl_usage_error(cmd, "%s expects a number, got '%s'", a->name, val);
        if (!isfinite(v) || (errno == ERANGE && v != 0))
            return ranged ? out_of_range(cmd, a, val) : sl_usage_error(cmd, "%s expects a finite number, got '%s'", a->name, val);
        if (ranged && (v < a->min || v > a->max)) return out_of_range(cmd, a, val);
        *(double *)a->dst = v;
        return 0;
    }
    case SL_ARG_STR:
        if (check_len(cmd, a, val)) return 2;
        *(const char **)a->dst = val;
        return 0;
    default:
        SL_DIE("bad arg type");
    }
}

int sl_args_parse(const char *cmd, const char *usage, const char *about, const SlArg *spec,
                  int argc, char **argv, SlStrList *pos) {
    if (pos) pos->v = NULL, pos->n = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            sl_args_help(cmd, usage, about, spec);
            free(pos ? (void *)pos->v : NULL);
            if (pos) pos->v = NULL, pos->n = 0;
            return 1;
        }
        if (strcmp(w, "--quiet") == 0) { /* every command's flag (the help lists it): swaplab's main
                                              takes it first, programs of their own (bench/) here */
            setenv("SL_QUIET", "1", 1);
            continue;
        }
        if (strncmp(w, "--", 2) != 0 || strcmp(w, "--") == 0) {
            if (!pos) return sl_usage_error(cmd, "unexpected argument '%.200s'", w);
            if (check_len(cmd, NULL, w)) return 2;
            pos->v = xrealloc(pos->v, sizeof *pos->v * (size_t)(pos->n + 1));
            pos->v[pos->n++] = w;
            continue;
        }
        const char *eq = strchr(w, '=');
        size_t nl = eq ? (size_t)(eq - w) : strlen(w);
        const SlArg *a = NULL;
        for (const SlArg *s = spec; s && s->name; s++)
            if (strlen(s->name) == nl && strncmp(s->name, w, nl) == 0) a = s;
        if (!a) return sl_usage_error(cmd, "unknown option '%.*s'", nl > 200 ? 200 : (int)nl, w);
        if (a->type == SL_ARG_FLAG) {
            if (eq) return sl_usage_error(cmd, "%s takes no value", a->name);
            *(int *)a->dst = 1;
            continue;
        }
        if (a->type == SL_ARG_LIST) {
            SlStrList *l = a->dst;
            int added = 0;
            if (eq) {
                if (check_len(cmd, a, eq + 1)) return 2;
                l->v = xrealloc(l->v, sizeof *l->v * (size_t)(l->n + 1));
                l->v[l->n++] = eq + 1;
                added++;
            }
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (check_len(cmd, a, argv[i + 1])) return 2;
                l->v = xrealloc(l->v, sizeof *l->v * (size_t)(l->n + 1));
                l->v[l->n++] = argv[++i];
                added++;
            }
            if (!added) return sl_usage_error(cmd, "%s needs at least one %s", a->name,
                                              a->metavar ? a->metavar : "value");
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return sl_usage_error(cmd, "%s needs a value (%s)", a->name,
                                        a->metavar ? a->metavar : "X");
        if (set_value(cmd, a, val)) return 2;
    }
    return 0;
}

int sl_args_parse_some(const char *cmd, const char *usage, const char *about, const SlArg *spec,
                       int argc, char **argv, SlStrList *pos, const char *none) {
    int r = sl_args_parse(cmd, usage, about, spec, argc, argv, pos);
    if (r == 0 && pos->n > 0) return -1;
    free(pos->v);
    pos->v = NULL;
    if (r) return r == 1 ? 0 : 2;
    return sl_usage_error(cmd, "%s", none);
}
