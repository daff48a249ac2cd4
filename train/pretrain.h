/* pretrain.h — starting a pair from a pretrained model (DeepFaceLab's pretrain idea): the shared
 * encoder has already learnt faces from many people, so a new pair's training converges in a
 * fraction of the steps. The pretrained start is an ordinary `swaplab train` run on many synthetic
 * (or consented) face sets — every set passed the consent gate for 'train', and the model file
 * records those identities with their consent digests — and `swaplab train --init FROM` starts a
 * new run from it:
 *
 *   swaplab synth --out pre --identities 8 --frames 60 --crop 64 --seed 7
 *   swaplab train --facesets pre/synth-000? --out pretrained --preset tiny --minutes 5 --lr 5e-4
 *   swaplab train --facesets a b --out run --preset tiny --init pretrained --minutes 2 --lr 5e-4
 *
 * What --init takes: every encoder tensor, and for decoder d of the new run FROM's decoder
 * d mod (FROM's identities) (each decoder already draws a face). Adam's state starts afresh. The
 * new model's metadata records the start under SWAP_INIT_KEY (swap_model.h): FROM's file, SHA-256,
 * step, preset and identities (subject, consent digest, kind), and FROM's own start if it had one,
 * so the consent chain of every weight stays readable (`swaplab info`). */
#ifndef SL_PRETRAIN_H
#define SL_PRETRAIN_H

#include "model/swap_model.h"
#include "util/util.h"

/* Copies the weights of the model at from (a run directory or model file) into m (built, its own
 * weights initialised) and sets m's init record. Refuses (-1 with err, m unchanged): a file that
 * is not a swaplab model with recorded identities, another architecture than m's (naming both
 * presets and sizes), or a start trained on a subject whose consent is now revoked (revocations:
 * the list's path, NULL = the default; an unreadable list refuses too). */
int pretrain_init_model(SwapModel *m, const char *from, const char *revocations, SlErr *err);

#endif
