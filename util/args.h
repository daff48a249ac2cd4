/* args.h — one flag parser for every subcommand, so all of them accept `--flag value`,
 * `--flag=value` and `--help` the same way and reject unknown or malformed flags with exit 2.
 *
 * Every numeric flag has a range, checked here: {"--threads", SL_ARG_INT, &t, "N", "help", 1, 1024}
 * refuses 0, -1 and 100000 with a usage error (exit 2) naming the range, and --help prints it. A
 * number flag also refuses NaN, infinities and values that do not fit. Every string value (and
 * positional word) is at most SL_ARG_MAX_LEN bytes unless the flag's max says more, so a path
 * given on the command line always leaves room for the files a command writes inside it. */
#ifndef SL_ARGS_H
#define SL_ARGS_H

typedef enum { SL_ARG_FLAG, SL_ARG_INT, SL_ARG_DOUBLE, SL_ARG_STR, SL_ARG_LIST, SL_ARG_U64 } SlArgType;

/* The longest string value or positional word accepted (bytes), unless a flag's max says more:
 * the one path-length limit of the command line. Buffers of SL_PATH_MAX bytes (util/util.h) hold
 * such a path joined with any file name swaplab writes inside it. */
#define SL_ARG_MAX_LEN 3072
/* The ranges every --threads and --loaders flag uses. */
#define SL_ARG_MAX_THREADS 256
#define SL_ARG_MAX_LOADERS 64

/* A list flag (`--facesets A B C`) takes every following argument up to the next one that starts
 * with "--"; it may be repeated. The strings point into argv. Free v with free(). */
typedef struct {
    const char **v;
    int n;
} SlStrList;

typedef struct {
    const char *name;    /* "--steps" */
    SlArgType type;
    void *dst;           /* int* (FLAG: set to 1; INT), double*, const char**, SlStrList*,
                            unsigned long long* (U64: decimal digits only, no sign) */
    const char *metavar; /* "N"; NULL for flags */
    const char *help;    /* one line; say the default here */
    double min, max;     /* INT, DOUBLE, U64: the accepted range, inclusive (every INT and DOUBLE
                            flag has one: --help marks one without it "[no range: a bug]" and
                            tests/e2e_cli.sh fails on that); STR, LIST: max = longest value in
                            bytes (0: SL_ARG_MAX_LEN) */
} SlArg;

/* Parses argv[0..argc) (the words after the subcommand). Positional words go into pos when it is
 * non-NULL, otherwise they are an error. Returns 0 to go on, 1 when --help was printed (the
 * command should exit 0), 2 after printing an error (the command should exit 2). `usage` is the
 * synopsis line, `about` a paragraph printed under it by --help. The spec ends with {0}. --quiet,
 * which --help lists for every command, sets SL_QUIET=1 in the environment. */
int sl_args_parse(const char *cmd, const char *usage, const char *about, const SlArg *spec,
                  int argc, char **argv, SlStrList *pos);
/* sl_args_parse for commands that need at least one positional word: returns -1 to go on (pos
 * holds one or more words), else the command's exit code (0 after --help, 2 after an error,
 * including no positional word: then `none` is the message) with pos already freed. */
int sl_args_parse_some(const char *cmd, const char *usage, const char *about, const SlArg *spec,
                       int argc, char **argv, SlStrList *pos, const char *none);
void sl_args_help(const char *cmd, const char *usage, const char *about, const SlArg *spec);

/* For commands that check values after parsing: prints "swaplab CMD: MSG" and a hint to run
 * --help, returns 2. */
int sl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
