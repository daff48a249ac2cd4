/* test_report.c — the report's building blocks: round chart ticks (detect/plot.h), preview grids cut
 * back into tiles (report/previews.h) and JPEG thumbnails in the HTML buffer (report/html.h). */
#include <stdlib.h>
#include <string.h>

#include "detect/plot.h"
#include "report/html.h"
#include "report/previews.h"
#include "test.h"

static void t_nice_step(void) {
    CHECK_NEAR(plot_nice_step(0, 1000, 5), 200, 1e-9);
    CHECK_NEAR(plot_nice_step(0, 0.358, 5), 0.1, 1e-12);
    CHECK_NEAR(plot_nice_step(16.2, 18.4, 5), 0.5, 1e-12);
    CHECK_NEAR(plot_nice_step(0, 1, 5), 0.2, 1e-12);
    CHECK_NEAR(plot_nice_step(3, 3, 5), 1, 0); /* empty range: a step, not a division by zero */
    char t[48];
    plot_format_tick(t, sizeof t, 1000, 200);
    CHECK(!strcmp(t, "1000"));
    plot_format_tick(t, sizeof t, 0.30000000000000004, 0.1);
    CHECK(!strcmp(t, "0.3"));
    plot_format_tick(t, sizeof t, 0.25, 0.05);
    CHECK(!strcmp(t, "0.25"));
    plot_format_tick(t, sizeof t, -1e-17, 0.2);
    CHECK(!strcmp(t, "0.0"));
    plot_format_tick(t, sizeof t, 250000, 50000);
    CHECK(!strcmp(t, "250000"));
}

/* Every tick label of an SVG: plain decimals, evenly spaced by a 1-2-5 step, covering [lo, hi]. */
static void check_ticks(const char *svg, const char *anchor, double lo, double hi) {
    double v[32];
    int n = 0;
    char pat[64];
    snprintf(pat, sizeof pat, "text-anchor=\"%s\">", anchor);
    for (const char *p = svg; (p = strstr(p, "<text class=\"tick\"")) && n < 32; p++) {
        const char *e = strchr(p, '>'), *a = strstr(p, pat);
        if (!a || a > e) continue;
        char *end;
        v[n] = strtod(e + 1, &end);
        CHECKF(*end == '<' && !memchr(e + 1, 'e', (size_t)(end - e - 1)), "tick label '%.12s'", e + 1);
        n++;
    }
    CHECKF(n >= 3 && n <= 12, "%d ticks", n);
    if (n < 2) return;
    double st = v[1] - v[0], mag = pow(10, floor(log10(st) + 1e-9)), f = st / mag;
    CHECKF(fabs(f - 1) < 1e-6 || fabs(f - 2) < 1e-6 || fabs(f - 5) < 1e-6, "step %g", st);
    for (int i = 1; i < n; i++) CHECK_NEAR(v[i] - v[i - 1], st, st * 1e-6);
    CHECKF(v[0] <= lo + st * 1e-6 && v[n - 1] >= hi - st * 1e-6, "ticks %g..%g for data %g..%g", v[0], v[n - 1], lo, hi);
}

static void t_chart_ticks(void) {
    double x[3] = {0, 640, 1234}, y[3] = {0.0123, 0.2, 0.358};
    PlotSeries s = {"loss", x, y, 3};
    PlotOpts o = {"loss", "step", "loss", 640, 320, 0, 0, 0, 0, 0};
    char *svg = plot_svg_lines(&o, &s, 1);
    check_ticks(svg, "middle", 0, 1234); /* x */
    check_ticks(svg, "end", 0.0123, 0.358);
    CHECK(!strstr(svg, "e+0") && !strstr(svg, "0.358<"));
    free(svg);
    const char *labels[2] = {"none", "jpeg:50"};
    double v[2] = {0.93, 0.71};
    svg = plot_svg_bars("AUC", "AUC", labels, v, NULL, NULL, 2, 0, 1);
    check_ticks(svg, "end", 0, 1);
    free(svg);
}

/* A grid laid out as train/trainer.c writes one: tile (id, face, column) filled with a colour that
 * names it, each model pixel drawn as a 2x2 block when up == 2. */
static Image make_grid(int nids, int s, int up) {
    int T = s * up, cols = nids + 1, rows = nids * PREVIEW_GRID_FACES;
    Image g = image_new(cols * T + (cols + 1) * PREVIEW_GRID_GAP,
                        rows * T + (rows + 1) * PREVIEW_GRID_GAP + (nids - 1) * PREVIEW_GRID_ID_GAP, 3);
    memset(g.px, 40, (size_t)g.w * g.h * 3);
    for (int i = 0; i < nids; i++)
        for (int f = 0; f < PREVIEW_GRID_FACES; f++)
            for (int c = 0; c < cols; c++) {
                int r = i * PREVIEW_GRID_FACES + f;
                int ox = PREVIEW_GRID_GAP + c * (T + PREVIEW_GRID_GAP);
                int oy = PREVIEW_GRID_GAP + r * (T + PREVIEW_GRID_GAP) + i * PREVIEW_GRID_ID_GAP;
                for (int yy = 0; yy < T; yy++)
                    for (int xx = 0; xx < T; xx++) {
                        uint8_t *p = g.px + ((size_t)(oy + yy) * g.w + ox + xx) * 3;
                        p[0] = (uint8_t)(50 * i + 1), p[1] = (uint8_t)(40 * f + 1), p[2] = (uint8_t)(30 * c + 1);
                        if (up == 1 && ((xx + yy) & 1)) p[1]++; /* texture: not a 2x upscale */
                    }
            }
    return g;
}

static void t_preview_tiles(void) {
    Image g = make_grid(3, 8, 2);
    PreviewGrid L;
    SlErr e;
    CHECK(preview_grid_layout(&g, 3, &L, "grid.png", &e) == 0);
    CHECK(L.nids == 3 && L.tile == 16 && L.up == 2);
    /* columns: 0 input, 1 own, then the other decoders in set order */
    for (int id = 0; id < 3; id++)
        for (int d = -1; d < 3; d++) {
            int col = d < 0 ? 0 : d == id ? 1 : d < id ? d + 2 : d + 1;
            Image t = preview_grid_tile(&g, &L, id, 2, d);
            CHECK(t.w == 8 && t.h == 8);
            int ok = 1;
            for (int k = 0; k < 64; k++)
                ok &= t.px[k * 3] == 50 * id + 1 && t.px[k * 3 + 1] == 40 * 2 + 1 && t.px[k * 3 + 2] == 30 * col + 1;
            CHECKF(ok, "identity %d decoder %d: column %d expected", id, d, col);
            image_free(&t);
        }
    Image nat = preview_grid_native(&g, &L);
    CHECK(nat.w == g.w / 2 && nat.h == g.h / 2);
    image_free(&nat);
    /* the wrong number of identities, or a grid that is not one, is refused by name */
    CHECK(preview_grid_layout(&g, 4, &L, "grid.png", &e) == -1 && strstr(e.msg, "grid.png"));
    image_free(&g);
    g = make_grid(2, 9, 1);
    CHECK(preview_grid_layout(&g, 2, &L, "g", &e) == 0 && L.up == 1 && L.tile == 9);
    Image t = preview_grid_tile(&g, &L, 1, 3, 0);
    CHECK(t.w == 9 && t.px[0] == 51 && t.px[2] == 30 * 2 + 1);
    image_free(&t);
    image_free(&g);
}

static void t_html_jpeg(void) {
    Image im = image_new(64, 64, 3);
    for (int i = 0; i < 64 * 64 * 3; i++) im.px[i] = (uint8_t)(i * 7);
    HtmlBuf b = {0};
    hb_img_jpeg(&b, &im, 90, "a \"face\"", "tile");
    CHECK(!strncmp(b.s, "<img src=\"data:image/jpeg;base64,/9j/", 37)); /* FF D8 FF */
    CHECK(strstr(b.s, "width=\"64\" height=\"64\" alt=\"a &quot;face&quot;\" class=\"tile\">"));
    hb_free(&b);
    image_free(&im);
}

int main(void) {
    RUN(t_nice_step);
    RUN(t_chart_ticks);
    RUN(t_preview_tiles);
    RUN(t_html_jpeg);
    return test_summary("test_report");
}
