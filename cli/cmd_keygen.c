/* cmd_keygen.c — `swaplab keygen`: creates an Ed25519 lab key (PREFIX.key secret, PREFIX.pub
 * public) for signing consent manifests and swap outputs. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "util/args.h"
#include "util/crypto.h"
#include "util/fs.h"

int cmd_keygen(int argc, char **argv) {
    const char *out = NULL;
    SlArg spec[] = {
        {"--out", SL_ARG_STR, &out, "PREFIX", "write PREFIX.key and PREFIX.pub (default: the per-user lab key)"},
        {0},
    };
    int r = sl_args_parse("keygen", "[--out PREFIX]",
                          "Creates an Ed25519 key pair. The secret key (mode 0600) signs consent manifests\n"
                          "and swap outputs; share the .pub file with whoever verifies them.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    char def[4096], prefix[4096];
    if (!out) {
        sl_key_default_path(def, sizeof def);
        sl_snprintf(prefix, sizeof prefix, "%.*s", (int)(sl_endswith(def, ".key") ? strlen(def) - 4 : strlen(def)), def);
        char dir[4096];
        sl_snprintf(dir, sizeof dir, "%s", prefix);
        char *slash = strrchr(dir, '/');
        SlErr err;
        if (slash) {
            *slash = 0;
            if (*dir && sl_mkdirs(dir, &err)) {
                fprintf(stderr, "swaplab keygen: %s\n", err.msg);
                return 1;
            }
        }
    } else {
        sl_snprintf(prefix, sizeof prefix, "%s", out);
    }
    SlErr err;
    SlKeypair kp;
    if (sl_key_generate(prefix, &kp, &err)) {
        fprintf(stderr, "swaplab keygen: %s\n", err.msg);
        return 1;
    }
    char hex[65];
    sl_hex(hex, kp.pk, 32);
    printf("secret key: %s.key (keep it private)\npublic key: %s.pub\nfingerprint: %.16s\n", prefix, prefix, hex);
    return 0;
}
