/* swaplab.c — the command line: a table of subcommands and nothing else. Each entry's run
 * function lives in the module it belongs to (see cli/commands.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "util/util.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Command;

static const Command COMMANDS[] = {
    {"synth", cmd_synth, "render synthetic volunteers (people who do not exist) as face sets"},
    {"consent", cmd_consent, "create, verify, show or revoke a face set's consent manifest"},
    {"keygen", cmd_keygen, "create an Ed25519 lab key for signing manifests and outputs"},
    {"extract", cmd_extract, "detect, landmark, track and align faces in volunteers' photos and clips"},
    {"clip", cmd_clip, "make a video clip from still images (test and workshop clips)"},
    {"train", cmd_train, "train the shared encoder and one decoder per identity"},
    {"eval", cmd_eval, "measure swap fidelity against the synthetic ground truth"},
    {"swap", cmd_swap, "swap faces into frames or clips, with provenance on every output"},
    {"verify", cmd_verify, "read back the provenance of images and videos (metadata, signature, C2PA, watermark)"},
    {"ledger", cmd_ledger, "the transparency log of outputs: add, prove, verify, export, show"},
    {"dataset", cmd_dataset, "export a labeled real/fake dataset for detector training"},
    {"detect", cmd_detect, "train, evaluate and run the deepfake detectors"},
    {"report", cmd_report, "write the static HTML report of a run"},
    {"demo", cmd_demo, "the whole story in one command: synth, train, swap, detect, report"},
    {"info", cmd_info, "show what a model or checkpoint file contains"},
};
#define NCOMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f,
            "swaplab %s — an educational face-swap trainer with provenance and a matching detector\n"
            "Trains only on consented or synthetic faces; every swap it writes is marked as synthetic.\n\n"
            "usage: swaplab COMMAND [options]\n\ncommands:\n",
            SL_VERSION);
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\nEvery command takes --quiet (no progress or information lines on stderr; results and\n"
               "errors still print; the same as SL_QUIET=1 in the environment).\n"
               "'swaplab help COMMAND' or 'swaplab COMMAND --help' shows a command's options.\n");
}

/* `--quiet` is one flag for every command: taken out of argv here (anywhere before a "--") and
 * passed on as SL_QUIET=1, which util/progress.c and sl_info read, so child processes (the demo's
 * steps) are quiet too. Returns the new argc. */
static int take_quiet(int argc, char **argv) {
    int n = 1, quiet = 0, rest = 0;
    for (int i = 1; i < argc; i++) {
        if (!rest && !strcmp(argv[i], "--")) rest = 1;
        if (!rest && !strcmp(argv[i], "--quiet")) {
            quiet = 1;
            continue;
        }
        argv[n++] = argv[i];
    }
    argv[n] = NULL;
    if (quiet) setenv("SL_QUIET", "1", 1);
    return n;
}

static const Command *find(const char *name) {
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

int main(int argc, char **argv) {
    argc = take_quiet(argc, argv);
    sl_prefer_passive_openmp(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *w = argv[1];
    if (!strcmp(w, "--help") || !strcmp(w, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(w, "--version")) {
        printf("swaplab %s\n", SL_VERSION);
        return 0;
    }
    if (!strcmp(w, "help")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const Command *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "swaplab: unknown command '%s' (run 'swaplab --help' for the list)\n", argv[2]);
            return 2;
        }
        char help[] = "--help";
        char *hv[] = {help, NULL};
        return c->run(1, hv);
    }
    const Command *c = find(w);
    if (!c) {
        fprintf(stderr, "swaplab: unknown %s '%s' (run 'swaplab --help' for the list)\n",
                w[0] == '-' ? "option" : "command", w);
        return 2;
    }
    return c->run(argc - 2, argv + 2);
}
