/* test_ledger.c — the transparency log (infer/ledger.h): Merkle roots against the RFC 6962 test
 * vectors, every inclusion and consistency proof of small trees verifies and any change breaks it,
 * signed tree heads, the folder (append, torn last line after a crash, concurrent writers in
 * separate processes), and the audit finding a rewritten or deleted entry. */
#include "infer/ledger.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/test.h"
#include "util/fs.h"

/* RFC 6962 / Certificate Transparency test leaves and the roots of their first n (n = 1..8). */
static const char *const ROOTS[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void t_rfc6962_roots(void) {
    static const uint8_t l3[] = {0x20, 0x21}, l4[] = {0x30, 0x31}, l5[] = {0x40, 0x41, 0x42, 0x43};
    uint8_t l6[8], l7[16];
    for (int i = 0; i < 8; i++) l6[i] = (uint8_t)(0x50 + i);
    for (int i = 0; i < 16; i++) l7[i] = (uint8_t)(0x60 + i);
    const uint8_t z = 0, t = 0x10;
    const void *d[8] = {"", &z, &t, l3, l4, l5, l6, l7};
    const size_t n[8] = {0, 1, 1, 2, 2, 4, 8, 16};
    uint8_t leaf[8][32], root[32];
    for (int i = 0; i < 8; i++) ledger_leaf_hash(d[i], n[i], leaf[i]);
    for (int k = 1; k <= 8; k++) {
        char hex[65];
        ledger_root((const uint8_t(*)[32])leaf, (uint64_t)k, root);
        sl_hex(hex, root, 32);
        CHECKF(!strcmp(hex, ROOTS[k - 1]), "root of %d leaves: %s", k, hex);
    }
    ledger_root(NULL, 0, root); /* the empty tree: SHA-256 of nothing */
    CHECK(root[0] == 0xe3 && root[1] == 0xb0 && root[31] == 0x55);
}

static void t_proofs(void) {
    enum { N = 33 };
    uint8_t leaf[N][32], root[N + 1][32], path[LEDGER_MAX_PROOF][32];
    for (int i = 0; i < N; i++) {
        char e[32];
        snprintf(e, sizeof e, "{\"i\":%d}", i);
        ledger_leaf_hash(e, strlen(e), leaf[i]);
    }
    for (int n = 1; n <= N; n++) ledger_root((const uint8_t(*)[32])leaf, (uint64_t)n, root[n]);
    int bad_inc = 0, bad_con = 0, forged = 0;
    for (int n = 1; n <= N; n++)
        for (int m = 0; m < n; m++) {
            int len = ledger_inclusion_proof((const uint8_t(*)[32])leaf, (uint64_t)n, (uint64_t)m, path);
            bad_inc += !ledger_verify_inclusion(leaf[m], (uint64_t)m, (uint64_t)n, (const uint8_t(*)[32])path, len, root[n]);
            /* another leaf, index, size or a changed path element: refused */
            forged += ledger_verify_inclusion(leaf[(m + 1) % N], (uint64_t)m, (uint64_t)n, (const uint8_t(*)[32])path, len, root[n]);
            if (n > 1) forged += ledger_verify_inclusion(leaf[m], (uint64_t)((m + 1) % n), (uint64_t)n, (const uint8_t(*)[32])path, len, root[n]);
            /* (the size is bound by the signed head, not by the proof: a later tree's root is refused) */
            if (n < N) forged += ledger_verify_inclusion(leaf[m], (uint64_t)m, (uint64_t)n + 1, (const uint8_t(*)[32])path, len, root[n + 1]);
            if (len) {
                path[len / 2][7] ^= 1;
                forged += ledger_verify_inclusion(leaf[m], (uint64_t)m, (uint64_t)n, (const uint8_t(*)[32])path, len, root[n]);
            }
        }
    for (int n2 = 1; n2 <= N; n2++)
        for (int n1 = 1; n1 <= n2; n1++) {
            int len = ledger_consistency_proof((const uint8_t(*)[32])leaf, (uint64_t)n1, (uint64_t)n2, path);
            bad_con += !ledger_verify_consistency((uint64_t)n1, (uint64_t)n2, root[n1], root[n2], (const uint8_t(*)[32])path, len);
            if (n1 < n2) { /* a rewritten old tree is not consistent */
                uint8_t other[32];
                memcpy(other, root[n1], 32);
                other[0] ^= 1;
                forged += ledger_verify_consistency((uint64_t)n1, (uint64_t)n2, other, root[n2], (const uint8_t(*)[32])path, len);
                forged += ledger_verify_consistency((uint64_t)n1, (uint64_t)n2, root[n1], root[n2 - 1], (const uint8_t(*)[32])path, len);
            }
        }
    CHECKF(bad_inc == 0 && bad_con == 0, "%d inclusion and %d consistency proofs fail", bad_inc, bad_con);
    CHECKF(forged == 0, "%d forged proofs verified", forged);
}

static SlKeypair lab_key(const char *dir, const char *name) {
    char prefix[4096];
    sl_path_join(prefix, sizeof prefix, dir, name);
    SlKeypair kp;
    SlErr err;
    SL_ASSERT(sl_key_generate(prefix, &kp, &err) == 0);
    return kp;
}

static void t_folder_and_audit(void) {
    const char *dir = test_tmpdir();
    char lg_dir[4096], p[4200], why[400];
    sl_path_join(lg_dir, sizeof lg_dir, dir, "log");
    SlKeypair kp = lab_key(dir, "lab"), other = lab_key(dir, "other");
    SlErr err;
    for (int i = 0; i < 6; i++) {
        char e[128];
        snprintf(e, sizeof e, "{\"sha256\":\"%064d\",\"n\":%d}", i, i);
        uint64_t idx;
        CHECK(ledger_append(lg_dir, e, &kp, &idx, &err) == 0 && idx == (uint64_t)i);
    }
    Ledger lg;
    CHECK(ledger_load(lg_dir, &lg, &err) == 0 && lg.n == 6 && lg.n_sth == 6);
    CHECK(ledger_audit(&lg, kp.pk, why, sizeof why) == 0);
    CHECK(ledger_audit(&lg, other.pk, why, sizeof why) == -1 && strstr(why, "not the trusted one"));
    char sha[65];
    snprintf(sha, sizeof sha, "%064d", 3);
    CHECK(ledger_find(&lg, sha) == 3);
    LedgerSth old = lg.sth[3]; /* an auditor kept head 3 (4 entries) */
    ledger_free(&lg);
    CHECK(ledger_append(lg_dir, "bad\nentry", &kp, NULL, &err) == -1);

    /* a crash mid-append: a torn last line is ignored by readers and cut by the next append */
    sl_path_join(p, sizeof p, lg_dir, "entries.log");
    int fd = open(p, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "{\"sha256\":\"torn", 15) == 15);
    close(fd);
    CHECK(ledger_load(lg_dir, &lg, &err) == 0 && lg.n == 6 && ledger_audit(&lg, kp.pk, why, sizeof why) == 0);
    ledger_free(&lg);
    CHECK(ledger_append(lg_dir, "{\"sha256\":\"after\"}", &kp, NULL, &err) == 0);
    CHECK(ledger_load(lg_dir, &lg, &err) == 0 && lg.n == 7 && !strcmp(lg.entry[6], "{\"sha256\":\"after\"}"));
    CHECK(ledger_audit(&lg, kp.pk, why, sizeof why) == 0 && ledger_check_old_head(&lg, &old, why, sizeof why) == 0);
    ledger_free(&lg);
    /* a crash between an entry's fsync and its head's: the next append's head covers both */
    fd = open(p, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "{\"sha256\":\"orphan\"}\n", 20) == 20);
    close(fd);
    CHECK(ledger_append(lg_dir, "{\"sha256\":\"next\"}", &kp, NULL, &err) == 0);
    CHECK(ledger_load(lg_dir, &lg, &err) == 0 && lg.n == 9 && lg.sth[lg.n_sth - 1].tree_size == 9);
    CHECK(ledger_audit(&lg, kp.pk, why, sizeof why) == 0 && ledger_find(&lg, "orphan") == 7);
    ledger_free(&lg);

    /* a rewritten entry: the audit names the first head that no longer holds */
    char *data;
    size_t len;
    CHECK(sl_read_file(p, 1 << 20, &data, &len, &err) == 0);
    char *at = strstr(data, "\"n\":2");
    CHECK(at != NULL);
    if (at) at[4] = '9';
    char rw[4200];
    sl_path_join(rw, sizeof rw, dir, "rewritten");
    CHECK(sl_mkdirs(rw, &err) == 0);
    char q[4300];
    sl_path_join(q, sizeof q, rw, "entries.log");
    CHECK(sl_write_atomic(q, data, len, &err) == 0);
    char *sd;
    size_t sl;
    sl_path_join(q, sizeof q, lg_dir, "sth.log");
    CHECK(sl_read_file(q, 1 << 20, &sd, &sl, &err) == 0);
    sl_path_join(q, sizeof q, rw, "sth.log");
    CHECK(sl_write_atomic(q, sd, sl, &err) == 0);
    CHECK(ledger_load(rw, &lg, &err) == 0);
    CHECK(ledger_audit(&lg, kp.pk, why, sizeof why) == -1 && strstr(why, "tree head 2 ") && strstr(why, "rewritten"));
    ledger_free(&lg);

    /* deleting entry 2 and re-signing a whole new history with the lab key: the log audits clean,
     * but the head the auditor kept is not consistent with it */
    char del[4200];
    sl_path_join(del, sizeof del, dir, "resigned");
    if (at) at[4] = '2';
    char *line = data;
    for (int i = 0; i < 9; i++) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        if (i != 2) CHECK(ledger_append(del, line, &kp, NULL, &err) == 0);
        line = nl + 1;
    }
    CHECK(ledger_load(del, &lg, &err) == 0 && lg.n == 8 && ledger_audit(&lg, kp.pk, why, sizeof why) == 0);
    CHECK(ledger_check_old_head(&lg, &old, why, sizeof why) == -1 && strstr(why, "NOT consistent"));
    ledger_free(&lg);
    free(data), free(sd);

    /* proofs as text, checked offline */
    CHECK(ledger_load(lg_dir, &lg, &err) == 0);
    char ex[4200];
    sl_path_join(ex, sizeof ex, dir, "export");
    CHECK(ledger_export(&lg, ex, &err) == 0);
    snprintf(q, sizeof q, "%s/proofs/%064d.json", ex, 4);
    char *proof;
    CHECK(sl_read_file(q, 1 << 20, &proof, &len, &err) == 0);
    CHECK(ledger_check_proof(proof, NULL, kp.pk, why, sizeof why) == 0);
    CHECK(ledger_check_proof(proof, NULL, other.pk, why, sizeof why) == -1);
    char *e4 = strstr(proof, "\\\"n\\\":4");
    CHECK(e4 != NULL);
    if (e4) e4[6] = '5';
    CHECK(ledger_check_proof(proof, NULL, kp.pk, why, sizeof why) == -1 && strstr(why, "does not reach"));
    CHECK(ledger_check_proof("{\"path\": 3}", NULL, NULL, why, sizeof why) == -1);
    free(proof);
    Ledger ex_lg; /* the export is itself a loadable, auditable log */
    CHECK(ledger_load(ex, &ex_lg, &err) == 0 && ex_lg.n == lg.n && ledger_audit(&ex_lg, kp.pk, why, sizeof why) == 0);
    ledger_free(&ex_lg);
    ledger_free(&lg);
}

/* Writers in separate processes: every acknowledged entry is there once, the heads stay consistent. */
static void t_concurrent(void) {
    const char *dir = test_tmpdir();
    char lg_dir[4096], why[400];
    sl_path_join(lg_dir, sizeof lg_dir, dir, "clog");
    SlKeypair kp = lab_key(dir, "clab");
    enum { P = 4, M = 8 };
    pid_t pid[P];
    for (int w = 0; w < P; w++) {
        pid[w] = fork();
        SL_ASSERT(pid[w] >= 0);
        if (pid[w] == 0) {
            SlErr err;
            for (int i = 0; i < M; i++) {
                char e[64];
                snprintf(e, sizeof e, "{\"sha256\":\"w%d-%d\"}", w, i);
                if (ledger_append(lg_dir, e, &kp, NULL, &err)) _exit(1);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int w = 0; w < P; w++) {
        int st;
        waitpid(pid[w], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(ok);
    Ledger lg;
    SlErr err;
    CHECK(ledger_load(lg_dir, &lg, &err) == 0 && lg.n == P * M && lg.n_sth == P * M);
    CHECK(ledger_audit(&lg, kp.pk, why, sizeof why) == 0);
    int found = 0;
    for (int w = 0; w < P; w++)
        for (int i = 0; i < M; i++) {
            char s[32];
            snprintf(s, sizeof s, "w%d-%d", w, i);
            found += ledger_find(&lg, s) >= 0;
        }
    CHECK(found == P * M);
    ledger_free(&lg);
}

static void t_hostile(void) {
    char dir[4096];
    SlErr err;
    sl_path_join(dir, sizeof dir, test_tmpdir(), "hostile");
    SL_ASSERT(sl_mkdirs(dir, &err) == 0);
    Ledger lg;
    CHECK(ledger_load(dir, &lg, &err) == -1 && strstr(err.msg, "not a swaplab ledger"));
    char p[4200];
    sl_path_join(p, sizeof p, dir, "entries.log");
    CHECK(sl_write_atomic(p, "x\ny\n", 4, &err) == 0);
    sl_path_join(p, sizeof p, dir, "sth.log");
    CHECK(sl_write_atomic(p, "{\"tree_size\":-1}\n", 17, &err) == 0);
    CHECK(ledger_load(dir, &lg, &err) == -1 && strstr(err.msg, "sth.log"));
    LedgerSth s;
    CHECK(ledger_sth_parse("{\"tree_size\":2,\"root\":\"zz\"}", &s) == -1);
    uint8_t leaf[32] = {0}, path[1][32] = {{0}};
    CHECK(!ledger_verify_inclusion(leaf, 5, 3, (const uint8_t(*)[32])path, 1, leaf));
    CHECK(!ledger_verify_consistency(0, 3, leaf, leaf, (const uint8_t(*)[32])path, 1));
    CHECK(!ledger_verify_consistency(2, 3, leaf, leaf, (const uint8_t(*)[32])path, 0));
}

int main(void) {
    sl_crypto_init();
    RUN(t_rfc6962_roots);
    RUN(t_proofs);
    RUN(t_folder_and_audit);
    RUN(t_concurrent);
    RUN(t_hostile);
    return test_summary("test_ledger");
}
