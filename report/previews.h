/* previews.h — reads the preview grids `swaplab train` writes (train/trainer.c write_preview: per
 * identity 4 rows of [input | own reconstruction | swaps into the other identities' decoders in set
 * order], tiles 2 px apart, 4 px more between identities, small models drawn at 2x) back into
 * tiles, so the report can show them at a readable size under column labels, and at the model's
 * own resolution (the 2x nearest-neighbour upscale undone) to keep the page small. */
#ifndef SL_REPORT_PREVIEWS_H
#define SL_REPORT_PREVIEWS_H

#include "data/image.h"

#define PREVIEW_GRID_FACES 4 /* faces per identity (train/trainer.c PREVIEW_FACES) */
#define PREVIEW_GRID_GAP 2
#define PREVIEW_GRID_ID_GAP 4

typedef struct {
    int nids;  /* identities (rows of PREVIEW_GRID_FACES faces each; nids + 1 columns) */
    int tile;  /* tile side in the grid's pixels */
    int up;    /* 2 when every tile is a 2x nearest-neighbour upscale, else 1 */
} PreviewGrid;

/* Checks that g has the size of a grid of nids identities and finds its tile size and upscale.
 * Returns -1 with err (naming `name`) when it does not. */
int preview_grid_layout(const Image *g, int nids, PreviewGrid *L, const char *name, SlErr *err);
/* The tile of identity id's face `face` decoded by decoder dec (0..nids-1; dec == id is the own
 * reconstruction), or the input face when dec < 0; at tile/up pixels. */
Image preview_grid_tile(const Image *g, const PreviewGrid *L, int id, int face, int dec);
/* The whole grid at 1/up of its size (nearest: the model's own pixels). */
Image preview_grid_native(const Image *g, const PreviewGrid *L);

#endif
