/* checkpoint.h — model and optimizer checkpoints: an NnModel's named tensors in safetensors files
 * (nn/safetensors.h), so a killed run resumes and PyTorch users can load the weights.
 *
 * Model file: every tensor of m->tensors (trainable params and buffers such as batch-norm running
 * stats) as F32 under its PyTorch-style name ("encoder.convs.0.weight"), plus __metadata__
 * {"format": "pt", "swaplab.kind": "model", caller's keys...}.
 * Optimizer file: Adam's first and second moments of every trainable tensor as
 * "<name>.exp_avg" and "<name>.exp_avg_sq" (torch.optim.Adam's state names), plus __metadata__
 * {"swaplab.kind": "adam", "step": "<count>", caller's keys...}. Gradients are not saved.
 * https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
 *
 * Loading checks every name and shape against the model already built (nn_model_finalize'd): a
 * file of another architecture is refused with a message naming the first mismatching tensor, and
 * the model is left untouched on any failure. Both writes are atomic (util/fs.h). */
#ifndef SL_CHECKPOINT_H
#define SL_CHECKPOINT_H

#include "nn/nn.h"
#include "nn/safetensors.h"
#include "util/util.h"

/* meta: alternating key, value strings ending with NULL (may be NULL). Keys "format" and
 * "swaplab.kind" are set by the function. Returns 0 or -1 with err. */
int nn_save_model(const char *path, const NnModel *m, const char *const *meta, SlErr *err);
int nn_load_model(const char *path, NnModel *m, SlErr *err);
/* The same from a file already opened with st_open (e.g. after reading its metadata); path is
 * only used in messages. */
int nn_load_model_st(const StFile *f, const char *path, NnModel *m, SlErr *err);

/* step: the number of Adam steps taken (saved as metadata "step"). */
int nn_save_optimizer(const char *path, const NnModel *m, long step, const char *const *meta,
                      SlErr *err);
/* Fills m->adam_m and m->adam_v and *step (may be NULL). */
int nn_load_optimizer(const char *path, NnModel *m, long *step, SlErr *err);

#endif
