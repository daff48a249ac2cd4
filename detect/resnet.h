/* resnet.h — a small residual network (He et al. 2016, "Deep Residual Learning for Image
 * Recognition", https://arxiv.org/abs/1512.03385) as a CNN detector (detect/cnn.h), deep enough to
 * learn more than Meso-4 and small enough to train on a CPU in minutes at 128 px ("resnet10"):
 *
 *   stem   conv 3x3 x16, BN, ReLU, maxpool 2                          (16, S/2)
 *   res1   [conv 3x3 x16, BN, ReLU, conv 3x3 x16, BN] + identity, ReLU
 *   down2  conv 3x3/2 x32, BN, ReLU                                    (32, S/4)
 *   res2   the same block at 32 channels
 *   down3  conv 3x3/2 x64, BN, ReLU                                    (64, S/8)
 *   res3   the same block at 64 channels
 *   head   maxpool 4, dropout 0.5, dense 1 (a logit)
 *
 * Ten weight layers (9 convs and the dense). Any side that is a multiple of 32 works. Tensor names
 * "resnet10.stem.conv", "resnet10.res1.conv1", ... "resnet10.head.fc". */
#ifndef SL_DETECT_RESNET_H
#define SL_DETECT_RESNET_H

#include "detect/cnn.h"

#define RESNET10_DEFAULT_SIZE 128

extern const DetCnnArch DETCNN_RESNET10;

#endif
