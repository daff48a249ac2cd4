/* previews.c — preview grids back into labelled tiles (previews.h). */
#include "report/previews.h"

#include <string.h>

static int tile_x(const PreviewGrid *L, int col) { return PREVIEW_GRID_GAP + col * (L->tile + PREVIEW_GRID_GAP); }

static int tile_y(const PreviewGrid *L, int id, int face) {
    int row = id * PREVIEW_GRID_FACES + face;
    return PREVIEW_GRID_GAP + row * (L->tile + PREVIEW_GRID_GAP) + id * PREVIEW_GRID_ID_GAP;
}

/* Column of decoder dec in identity id's rows: 0 input, 1 own, then the others in set order. */
static int column_of(int id, int dec) {
    if (dec < 0) return 0;
    if (dec == id) return 1;
    return dec < id ? dec + 2 : dec + 1;
}

int preview_grid_layout(const Image *g, int nids, PreviewGrid *L, const char *name, SlErr *err) {
    memset(L, 0, sizeof *L);
    if (nids < 1 || g->c != 3) return sl_fail(err, "%s: not a preview grid (%d identities, %d channels)", name, nids, g->c);
    int cols = nids + 1, rows = nids * PREVIEW_GRID_FACES;
    int t = (g->w - (cols + 1) * PREVIEW_GRID_GAP) / cols;
    if (t < 4 || cols * t + (cols + 1) * PREVIEW_GRID_GAP != g->w ||
        rows * t + (rows + 1) * PREVIEW_GRID_GAP + (nids - 1) * PREVIEW_GRID_ID_GAP != g->h)
        return sl_fail(err, "%s: %dx%d is not the size of a preview grid of %d identities", name, g->w, g->h, nids);
    L->nids = nids, L->tile = t, L->up = 1;
    if (t % 2) return 0;
    /* 2x nearest when every 2x2 block of every tile is one colour */
    for (int id = 0; id < nids; id++)
        for (int f = 0; f < PREVIEW_GRID_FACES; f++)
            for (int c = 0; c < cols; c++) {
                int x0 = tile_x(L, c), y0 = tile_y(L, id, f);
                for (int y = 0; y < t; y += 2)
                    for (int x = 0; x < t; x += 2) {
                        const uint8_t *p = g->px + ((size_t)(y0 + y) * g->w + x0 + x) * 3;
                        const uint8_t *q = p + (size_t)g->w * 3;
                        if (memcmp(p, p + 3, 3) || memcmp(p, q, 3) || memcmp(p, q + 3, 3)) return 0;
                    }
            }
    L->up = 2;
    return 0;
}

Image preview_grid_tile(const Image *g, const PreviewGrid *L, int id, int face, int dec) {
    SL_ASSERT(id >= 0 && id < L->nids && face >= 0 && face < PREVIEW_GRID_FACES && dec < L->nids);
    int s = L->tile / L->up, x0 = tile_x(L, column_of(id, dec)), y0 = tile_y(L, id, face);
    Image o = image_new(s, s, 3);
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++)
            memcpy(o.px + ((size_t)y * s + x) * 3, g->px + ((size_t)(y0 + y * L->up) * g->w + x0 + x * L->up) * 3, 3);
    return o;
}

Image preview_grid_native(const Image *g, const PreviewGrid *L) {
    int w = g->w / L->up, h = g->h / L->up;
    Image o = image_new(w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(o.px + ((size_t)y * w + x) * 3, g->px + ((size_t)y * L->up * g->w + (size_t)x * L->up) * 3, 3);
    return o;
}
