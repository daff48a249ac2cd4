/* toy.h — a synthetic "real vs fake" task for detector tests and labs, with no faces: "real" images
 * are smooth Gaussian noise fields; "fake" ones are made at half resolution and 2x nearest-neighbour
 * up-sampled, with a faint checkerboard — the periodic traces transposed convolutions and
 * up-sampling leave in generated images (Odena et al. 2016, https://distill.pub/2016/deconv-checkerboard/). */
#ifndef SL_TOY_H
#define SL_TOY_H

#include "data/image.h"
#include "util/rng.h"

/* A w x h image (c = 1 or 3; w, h even) of the given class (fake = 1), drawn from rng. The
 * checkerboard amplitude is in 8-bit levels (default 3). */
Image toy_artifact_image(int w, int h, int c, int fake, float checker_amp, SlRng *rng);

#endif
