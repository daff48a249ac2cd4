/* run.h — a training run directory and the model file's identities, shared by train, eval, swap
 * and dataset. A run directory holds:
 *   model.safetensors      the latest model (a hard link to the newest checkpoint's model file)
 *   optimizer.safetensors  -> ckpt/step-N.optim.safetensors (Adam state) via state.json
 *   state.json             step, configuration and the checkpoint files of the last checkpoint
 *   log.jsonl, fidelity.jsonl, previews/, timelapse/, ckpt/
 * The model file's metadata records the architecture (swaplab.arch) and the identities
 * (swaplab.identities: [{"subject", "consent_digest", "kind", "faceset"}], decoder order). */
#ifndef SL_RUN_H
#define SL_RUN_H

#include "nn/safetensors.h"
#include "model/swap_model.h"
#include "util/util.h"

#define RUN_IDENTITIES_KEY "swaplab.identities"
#define RUN_STEP_KEY "swaplab.step"

typedef struct {
    char subject[128];
    char consent_digest[65];
    char kind[16];
    char faceset[1024];
} RunIdentity;

typedef struct {
    char model_path[SL_PATH_MAX];
    char sha256[65]; /* of the model file */
    long step;
    int n_ids;
    RunIdentity ids[SWAP_MAX_IDS];
} RunInfo;

/* "RUN" (a directory with model.safetensors) or a model file -> the model file's path. */
void run_model_path(const char *arg, char *out, size_t n);
/* Loads a model (run directory or file): architecture, weights, identities, step and the file's
 * SHA-256. Returns NULL with err on any problem (missing, corrupt, not a swap model). */
SwapModel *run_load_model(const char *arg, RunInfo *info, SlErr *err);
/* The identities as the JSON metadata value (malloc'ed). */
char *run_identities_json(const RunIdentity *ids, int n);
int run_identities_parse(const char *json, RunIdentity *ids, int max, int *n, SlErr *err);
/* Index of subject in info, or -1. */
int run_find_identity(const RunInfo *info, const char *subject);

#endif
