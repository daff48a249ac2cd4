/* meso.h — Meso-4 and MesoInception-4, the compact face-forgery detectors of Afchar et al. 2018,
 * "MesoNet: a Compact Facial Video Forgery Detection Network" (https://arxiv.org/abs/1809.00888),
 * as CNN detectors (detect/cnn.h) on the nn/ engine.
 *
 * Meso-4 ("meso4"):
 *   conv 3x3 x8, BN, ReLU, maxpool 2      conv 5x5 x8, BN, ReLU, maxpool 2
 *   conv 5x5 x16, BN, ReLU, maxpool 2     conv 5x5 x16, BN, ReLU, maxpool 4
 *   dropout 0.5, dense 16, leaky ReLU 0.1, dropout 0.5, dense 1 (a logit; sigmoid = P(fake))
 * The paper's input is 256x256 RGB; any side that is a multiple of 32 works (the flattened size is
 * 16 (size/32)²). Tensor names are PyTorch style under the prefix "meso4" ("meso4.conv1.weight",
 * "meso4.bn1.running_mean", "meso4.fc2.bias", ...).
 *
 * MesoInception-4 ("mesoinception4"): the first two blocks of Meso-4 replaced by inception blocks
 * of four branches concatenated on channels, then BN and maxpool 2:
 *   a: conv 1x1 x A, ReLU      b: conv 1x1 x B, ReLU, conv 3x3 x B, ReLU
 *   c: conv 1x1 x C, ReLU, conv 5x5 x C, ReLU     d: conv 1x1 x D, ReLU, conv 7x7 x D, ReLU
 * with (A, B, C, D) = (1, 4, 4, 2) and (2, 4, 4, 2); the paper's branches c and d are 3x3 convs
 * dilated 2 and 3 (receptive fields 5 and 7): the engine has no dilation, so they are plain 5x5 and
 * 7x7 convs with the same receptive field (more weights). The rest is Meso-4's blocks 3 and 4 and
 * head. Tensor prefixes "mi4.b1a" .. "mi4.b2d" (branches), "mi4.bn1", "mi4.bn2", "mi4.tail". */
#ifndef SL_MESO_H
#define SL_MESO_H

#include "detect/cnn.h"

#define MESO4_DEFAULT_SIZE 128

extern const DetCnnArch DETCNN_MESO4;
extern const DetCnnArch DETCNN_MESOINCEPTION4;

#endif
