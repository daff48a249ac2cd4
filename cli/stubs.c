/* stubs.c — weak placeholders for subcommands whose module has not landed yet. A module's own
 * definition replaces its placeholder at link time; a placeholder says so and exits 1. */
#include <stdio.h>

#include "cli/commands.h"

#define NOT_YET(name, issue)                                                                \
    __attribute__((weak)) int cmd_##name(int argc, char **argv) {                          \
        (void)argc, (void)argv;                                                             \
        fprintf(stderr, "swaplab " #name ": not yet implemented (tracked in issue " #issue ")\n"); \
        return 1;                                                                           \
    }

NOT_YET(synth, 3)
NOT_YET(consent, 3)
NOT_YET(keygen, 5)
NOT_YET(extract, 7)
NOT_YET(train, 4)
NOT_YET(eval, 4)
NOT_YET(swap, 5)
NOT_YET(verify, 5)
NOT_YET(dataset, 6)
NOT_YET(detect, 6)
NOT_YET(report, 9)
NOT_YET(demo, 9)
NOT_YET(info, 2)
