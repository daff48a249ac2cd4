/* swap_model.h — the face-swap autoencoder: one shared encoder, one decoder per identity (the
 * classic "deepfakes" model), built on the engine (nn/nn.h) from a preset or from the architecture
 * recorded in a model file. A swap A->B is decoder_B(encoder(face of A)).
 *
 * Encoder: size x size x 3 -> conv5x5/2 + leaky 0.1 for each width in enc[] -> flatten -> dense
 * `dense` -> dense bottleneck*s*s -> reshape (bottleneck, s, s), s = size >> nenc -> upscale enc_up.
 * Upscale c: conv3x3 to 4c + leaky 0.1 + pixel shuffle x2. Decoder: upscale each width in dec[]
 * (ndec = nenc - 1) -> conv5x5 to 3 + sigmoid. Images are NCHW float RGB in [0, 1].
 * With a learned mask (arch.mask = 1, `swaplab train --learn-mask`) the decoder's last conv has a
 * 4th output channel, under the same sigmoid: [B,4,size,size] = RGB, then the face mask in [0,1]
 * (trained against the landmark hull, train/trainer.c). Its out.weight is [4,Cin,5,5]; everything
 * else, and every model without a mask, is as above.
 *
 *   preset    size  enc                     dense  bottleneck  enc_up  dec              params (2 ids)
 *   original  64    128 256 512 1024        1024   1024 @4x4   512     256 128 64       82,062,470
 *   lite      64    64 128 256 512          512    512  @4x4   256     128 64 32        20,526,662
 *   tiny      64    32 64 128 256           256    256  @4x4   128     64 32 16          5,137,190
 *   hd128     128   64 128 256 512 1024     1024   1024 @4x4   512     256 128 64 32    82,405,446
 *   tiny128   128   32 64 128 256           256    256  @8x8   128     64 32 16         11,440,934
 *
 * Tensor names equal the PyTorch module in bench/torch_reference.py ("encoder.convs.0.weight",
 * "encoder.dense1.weight", "encoder.up1.conv.weight", "decoders.1.ups.0.conv.weight",
 * "decoders.1.out.weight"), so torch's load_state_dict takes a swaplab model file.
 * The architecture goes into the model file's metadata under SWAP_ARCH_KEY as JSON, e.g.
 * {"preset":"tiny","size":64,"enc":[32,64,128,256],"dense":256,"bottleneck":256,"enc_up":128,
 *  "dec":[64,32,16],"identities":2}; swap_model_from_metadata rebuilds the model from it. A model
 * with a mask channel adds "mask":true (absent = false, so a model without one has the same JSON,
 * and the same file, as before the mask existed). */
#ifndef SL_SWAP_MODEL_H
#define SL_SWAP_MODEL_H

#include "nn/nn.h"
#include "nn/safetensors.h"
#include "util/util.h"

#define SWAP_MAX_STAGES 6
#define SWAP_MAX_IDS 16
#define SWAP_ARCH_KEY "swaplab.arch"
/* Where the weights started (train/pretrain.h), JSON; absent when trained from scratch. */
#define SWAP_INIT_KEY "swaplab.init"

typedef struct {
    char preset[32]; /* "original", ... or "custom" */
    int size;        /* input and output side in pixels */
    int nenc, enc[SWAP_MAX_STAGES];
    int dense, bottleneck, enc_up;
    int ndec, dec[SWAP_MAX_STAGES];
    int mask;        /* 1: the decoders output a 4th channel, the learned face mask (not in presets) */
} SwapArch;

typedef struct {
    SwapArch arch;
    int n_ids;
    NnModel model;       /* every tensor of encoder and decoders; owns the nets */
    NnNet *encoder;      /* [B,3,size,size] -> [B,enc_up,2s,2s] */
    NnNet *decoders[SWAP_MAX_IDS]; /* [B,enc_up,2s,2s] -> [B,3(+1 mask),size,size] */
    char *init;          /* the SWAP_INIT_KEY record (malloc'ed) or NULL: saved and loaded with the model */
} SwapModel;

/* Names of the presets, NULL-terminated. */
extern const char *const swap_preset_names[];
/* Fills *a with a preset; -1 with err (listing the presets) for an unknown name. */
int swap_arch_preset(const char *name, SwapArch *a, SlErr *err);
/* Checks an architecture (sizes consistent, widths 1..8192, size a multiple of 2^nenc, ndec =
 * nenc - 1, at most 2e9 parameters). 0 or -1 with err. */
int swap_arch_check(const SwapArch *a, SlErr *err);

/* Builds a model (finalized, weights zero: call nn_model_init_weights(&m->model, rng) to train
 * from scratch, or load weights). n_identities: 2..SWAP_MAX_IDS. NULL with err on bad input. */
SwapModel *swap_model_new(const char *preset, int n_identities, SlErr *err);
SwapModel *swap_model_new_arch(const SwapArch *a, int n_identities, SlErr *err);
void swap_model_free(SwapModel *m); /* NULL is fine */

/* The architecture as one JSON line (malloc'ed; see above). */
char *swap_model_arch_json(const SwapModel *m);
/* Parses such JSON (from a file: every field checked). 0 or -1 with err. */
int swap_arch_parse(const char *json, SwapArch *a, int *n_identities, SlErr *err);
/* Rebuilds a model (weights zero) from the SWAP_ARCH_KEY metadata value. */
SwapModel *swap_model_from_metadata(const char *arch_json, SlErr *err);

/* Saves the weights (nn_save_model) with SWAP_ARCH_KEY (and SWAP_INIT_KEY when m->init) added to
 * meta. */
int swap_model_save(const SwapModel *m, const char *path, const char *const *meta, SlErr *err);
/* Opens a model file, rebuilds the architecture from its metadata and loads the weights.
 * If meta_out is not NULL the open file is returned there (for further metadata: identities,
 * consent digests; the caller st_close's it), else it is closed. */
SwapModel *swap_model_load(const char *path, StFile **meta_out, SlErr *err);

/* Channels a decoder outputs: 3 (RGB), or 4 with the learned mask (arch.mask). */
int swap_model_out_channels(const SwapModel *m);
/* Splits n decoder outputs in place: y holds [n, swap_model_out_channels(m), S, S]; afterwards its
 * first n*3*S*S floats are the RGB images [n,3,S,S] and, when mask is not NULL (a model with a mask
 * channel), mask gets the masks [n,1,S,S]. Without a mask channel nothing moves (mask must be NULL). */
void swap_model_split_output(const SwapModel *m, float *y, int n, float *mask);

/* How many identities' batches a training step sends through the shared encoder in one pass: the
 * encoder is per-sample, so one pass over the concatenated faces of k identities gives the same
 * codes and the same (summed) gradients as k passes, in fewer, larger convolutions and with the
 * encoder's weights reordered once instead of k times. Passes hold at most SWAP_ENCODER_FACES faces
 * (memory stays that of one pass of max(batch, SWAP_ENCODER_FACES) faces), and at least one
 * identity's batch. batch: faces per identity in the pass; nids: identities in the step. */
#define SWAP_ENCODER_FACES 64
int swap_encoder_group(int batch, int nids);

/* Forward FLOPs of one image through the encoder and one decoder (conv + dense, 2 per MAC). */
double swap_model_forward_flops(const SwapModel *m);

#endif
