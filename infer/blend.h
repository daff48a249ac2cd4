/* blend.h — the compositing half of a swap: shaping the face mask (erode, feather) and blending a
 * warped face into its frame, by the mask (alpha) or by solving the Poisson equation (seamless
 * cloning: Pérez, Gangnet, Blake, "Poisson Image Editing", SIGGRAPH 2003,
 * https://doi.org/10.1145/882262.882269).
 *
 * Images are planar float (CHW: nch planes of w*h), masks w*h floats in [0,1], row-major. */
#ifndef SL_BLEND_H
#define SL_BLEND_H

/* Distance (chamfer 3-4, in pixels, error < 8%) from each pixel with mask >= 0.5 to the nearest
 * pixel with mask < 0.5, pixels outside the image counting as outside; 0 outside. */
void blend_mask_distance(const float *mask, int w, int h, float *dist);
/* erode:N — keeps the mask only where it is at least n pixels inside its edge:
 * mask = min(mask, clamp(dist - n, 0, 1)). n = 0 leaves the mask as it is. */
void blend_mask_erode(float *mask, int w, int h, float n);
/* Separable Gaussian blur of one plane (sigma in pixels, kernel radius ceil(3 sigma), zero outside). */
void blend_gaussian(float *plane, int w, int h, float sigma);
/* blur:N — feathers the edge over about n pixels inside it: erodes by n/2, then a Gaussian blur with
 * sigma n/3, so the mask rises from ~0.07 at the original edge to ~0.93 n pixels inside it. */
void blend_mask_feather(float *mask, int w, int h, float n);

/* dst = mask * src + (1 - mask) * dst, per channel. */
void blend_alpha(float *dst, const float *src, const float *mask, int w, int h, int nch);

/* Seamless cloning: in the region R = {mask > 0} the result f solves the discrete Poisson
 * equation  Δf = Δsrc  (5-point Laplacian; the guidance field is src's gradient) with f = dst on
 * the pixels next to R (Dirichlet boundary from the destination; pixel neighbours outside the image
 * are left out, i.e. a Neumann edge). Solved for f - src (harmonic, boundary dst - src) by
 * conjugate gradients, started from a row/column interpolation of the boundary values, until the
 * residual falls below tol times the right-hand side's norm or after max_iter iterations (0: 300). Then
 * dst = mask * f + (1 - mask) * dst, so a feathered mask still fades the edge. Returns the
 * iterations used (the most over channels). */
int blend_poisson(float *dst, const float *src, const float *mask, int w, int h, int nch, int max_iter,
                  float tol);

#endif
