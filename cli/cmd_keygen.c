/* cmd_keygen.c — `swaplab keygen`: creates an Ed25519 lab key (PREFIX.key secret, PREFIX.pub
 * public) for signing consent manifests and swap outputs, and the lab CA (PREFIX-ca.key,
 * PREFIX-ca.crt) with the key's X.509 certificate (PREFIX.crt) for C2PA content credentials. */
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
                          "Creates an Ed25519 key pair. The secret key (mode 0600) signs consent manifests,\n"
                          "swap outputs and the transparency log's tree heads; share the .pub file with whoever\n"
                          "verifies them. Also creates a lab CA (PREFIX-ca.key, mode 0600; PREFIX-ca.crt, valid\n"
                          "10 years) and the key's certificate issued by it (PREFIX.crt, valid 2 years), which sign\n"
                          "the C2PA content credentials of outputs; share PREFIX-ca.crt too (swaplab verify --ca).",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    char def[SL_PATH_MAX], prefix[SL_PATH_MAX];
    if (!out) {
        sl_key_default_path(def, sizeof def);
        sl_snprintf(prefix, sizeof prefix, "%.*s", (int)(sl_endswith(def, ".key") ? strlen(def) - 4 : strlen(def)), def);
        char dir[SL_PATH_MAX];
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
    printf("secret key: %s.key (keep it private)\npublic key: %s.pub\nfingerprint: %.16s\n"
           "lab CA: %s-ca.crt (secret part %s-ca.key: keep it private)\ncertificate: %s.crt\n",
           prefix, prefix, hex, prefix, prefix, prefix);
    return 0;
}
