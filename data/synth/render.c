/* render.c — the synthetic-volunteer renderer. A parametric head surface (an ellipsoid deformed
 * into a face: flattened front, tapering jaw, chin, cheekbones, with nose, eye sockets, lips and
 * hair as displacements), ears, neck, shoulders and a long-hair curtain are meshed, projected with
 * a pinhole camera and rasterised into a visibility buffer (z-buffer); each pixel is then shaded
 * once, with the eyes, brows, lips and nostrils painted analytically in the head's (longitude,
 * latitude) coordinates. The 68 landmarks are points of the same surface, projected the same way.
 * Rasterisation by edge functions: https://www.scratchapixel.com/lessons/3d-basic-rendering/rasterization-practical-implementation
 * Shading: Blinn–Phong, https://en.wikipedia.org/wiki/Blinn%E2%80%93Phong_reflection_model */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth/synth.h"

#define PI_F 3.14159265f
#define NL_MAX 120 /* head mesh columns (longitude) at the largest sizes */
#define NHL 256     /* hairline table entries over |longitude| in [0, pi] */
#define NT 64  /* value-noise table side */

enum { M_HEAD, M_EAR, M_NECK, M_TORSO, M_CURTAIN };

typedef struct {
    float x, y, z;
} V3;

typedef struct {
    float sx, sy, z;    /* screen position, camera depth (larger = nearer) */
    float nx, ny, nz;   /* camera-space normal */
    float u, v;         /* surface parameters (head: longitude, latitude) */
} Vert;

typedef struct {
    int i0, i1, i2, mat;
} Tri;

typedef struct {
    Vert *v;
    int nv, cap_v;
    Tri *t;
    int nt, cap_t;
} Mesh;

typedef struct {
    const SynthIdentity *O, *I; /* outer head, inner face */
    const SynthFrame *F;
    int size;
    /* outer shape */
    float a, b, c, jaw, chin, cheek, jaw_drop, hair_T;
    int style;
    /* inner layout, in (X, beta) units with X = lambda * kx */
    float kx, eye_b, eye_X, eye_w, eye_up, eye_lo, eye_tan, blink, gaze_x, gaze_y;
    float brow_b, brow_mid, brow_hw, brow_arch, brow_th, brow_raise;
    float nose_br, nose_tip, nose_h, ala_w;
    float mouth_b, mouth_hw, lip_u, lip_l, gap, lift;
    /* camera */
    float Rh[9], Rb[9], piv[3];
    float Fo, cx, cy, D, Yc;
    float L[3], H[3], lcol[3], amb, expo;
    float noise_o[NT * NT], noise_i[NT * NT], noise_bg[NT * NT];
    float hl_tab[NHL + 1];
} Ctx;

/* ---- small math ------------------------------------------------------------------------------ */

static inline V3 v3(float x, float y, float z) { V3 r = {x, y, z}; return r; }
static inline V3 vsub(V3 a, V3 b) { return v3(a.x - b.x, a.y - b.y, a.z - b.z); }
static inline V3 vcross(V3 a, V3 b) {
    return v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
static inline float vdot(V3 a, V3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static inline V3 vnorm(V3 a) {
    float l = sqrtf(vdot(a, a));
    if (!(l > 1e-12f)) return v3(0, 0, 1);
    float r = 1 / l;
    return v3(a.x * r, a.y * r, a.z * r);
}
static inline V3 mrot(const float *m, V3 p) {
    return v3(m[0] * p.x + m[1] * p.y + m[2] * p.z, m[3] * p.x + m[4] * p.y + m[5] * p.z,
              m[6] * p.x + m[7] * p.y + m[8] * p.z);
}
/* two selects the compiler turns into maxss/minss (no branches) */
static inline float clampf(float x, float lo, float hi) {
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}
static inline float lerpf(float a, float b, float t) { return a + (b - a) * t; }
/* floor and ceil without a libm call (-O2 without SSE4.1 does not inline floorf); |x| < 2^31 */
static inline int ifloor(float x) { int i = (int)x; return i - (x < (float)i); }
static inline int iceil(float x) { int i = (int)x; return i + (x > (float)i); }
static inline float min3(float a, float b, float c) { float m = a < b ? a : b; return m < c ? m : c; }
static inline float max3(float a, float b, float c) { float m = a > b ? a : b; return m > c ? m : c; }
/* 0 at e0, 1 at e1 (either order), smooth between. */
static inline float sstep(float e0, float e1, float x) {
    float t = clampf((x - e0) * (1.0f / (e1 - e0)), 0, 1);
    return t * t * (3 - 2 * t);
}
/* A smooth bump with compact support: (1 - r²)² inside the unit disc, 0 outside. Everything the
 * inner identity changes is built from these, so it stays inside the face region exactly. */
static inline float bump(float r2) { return r2 < 1 ? (1 - r2) * (1 - r2) : 0; }

static inline uint32_t hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static void noise_table(float *t, uint32_t seed) {
    uint32_t s = hash32(seed ^ 0x5bd1e995U);
    for (uint32_t i = 0; i < NT * NT; i++)
        t[i] = (float)(hash32(s + i * 0x9e3779b9U) >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* Periodic value noise in [-1, 1] (smooth interpolation of the table). */
static float vnoise(const float *t, float x, float y) {
    int fx = ifloor(x), fy = ifloor(y);
    int ix = fx & (NT - 1), iy = fy & (NT - 1);
    int jx = (ix + 1) & (NT - 1), jy = (iy + 1) & (NT - 1);
    float ux = x - (float)fx, uy = y - (float)fy;
    ux = ux * ux * (3 - 2 * ux);
    uy = uy * uy * (3 - 2 * uy);
    float a = lerpf(t[iy * NT + ix], t[iy * NT + jx], ux);
    float b = lerpf(t[jy * NT + ix], t[jy * NT + jx], ux);
    return lerpf(a, b, uy);
}

/* ---- set-up ------------------------------------------------------------------------------------ */

static void rot_zxy(float *m, float yaw, float pitch, float roll) {
    float cy = cosf(yaw), sy = sinf(yaw), cp = cosf(pitch), sp = sinf(pitch), cr = cosf(roll),
          sr = sinf(roll);
    float Ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy};
    float Rx[9] = {1, 0, 0, 0, cp, sp, 0, -sp, cp};
    float Rz[9] = {cr, -sr, 0, sr, cr, 0, 0, 0, 1};
    float t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) t[i * 3 + j] += Rx[i * 3 + k] * Ry[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            m[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) m[i * 3 + j] += Rz[i * 3 + k] * t[k * 3 + j];
        }
}

static float hairline(const Ctx *k, float al);

static void ctx_init(Ctx *k, const SynthIdentity *O, const SynthIdentity *I, const SynthFrame *F,
                     int size) {
    k->O = O;
    k->I = I;
    k->F = F;
    k->size = size;
    float mo = clampf(F->mouth_open, 0, 1), sm = clampf(F->smile, 0, 1);
    float br = clampf(F->brow_raise, 0, 1);
    k->a = O->head_w;
    k->b = 1.38f * O->head_h;
    k->c = 1.08f * O->head_d;
    k->jaw = O->jaw_width;
    k->chin = 0.05f + 0.1f * O->chin_len;
    k->cheek = O->cheek;
    k->jaw_drop = 0.16f * mo;
    k->style = O->hair_style;
    float vol = O->hair_volume;
    static const float t0[SYNTH_HAIR_STYLES] = {0.07f, 0.07f, 0.012f, 0.12f, 0.07f};
    static const float t1[SYNTH_HAIR_STYLES] = {0.08f, 0.08f, 0.0f, 0.14f, 0.08f};
    k->hair_T = t0[k->style] + t1[k->style] * vol;

    k->kx = k->a / k->b;
    k->eye_b = 0.02f;
    k->eye_X = 0.39f * I->eye_spacing * k->kx;
    k->eye_w = 0.17f * I->eye_size * k->kx;
    k->eye_up = 0.42f * k->eye_w * (1 + 0.15f * br);
    k->eye_lo = 0.30f * k->eye_w * (1 - 0.3f * sm);
    k->eye_tan = tanf(I->eye_slant * 0.14f);
    k->blink = clampf(F->blink, 0, 1);
    k->gaze_x = clampf(F->gaze_x, -1, 1);
    k->gaze_y = clampf(F->gaze_y, -1, 1);
    k->brow_raise = br;
    k->brow_b = k->eye_b + 0.14f + 0.05f * br;
    k->brow_mid = k->eye_X + 0.2f * k->eye_w;
    k->brow_hw = 1.3f * k->eye_w;
    k->brow_arch = 0.008f + 0.03f * I->brow_arch;
    k->brow_th = 0.03f * I->brow_thick + 0.01f;
    k->nose_br = k->eye_b + 0.03f;
    k->nose_tip = k->eye_b - 0.315f * I->nose_len;
    k->nose_h = 0.26f * (0.8f + 0.2f * I->nose_len);
    k->ala_w = 0.12f * I->nose_width;
    k->mouth_b = k->nose_tip - 0.32f;
    k->mouth_hw = 0.4f * I->mouth_width * k->kx * (1 + 0.16f * sm);
    k->lip_u = 0.058f * I->lip_thick;
    k->lip_l = 0.085f * I->lip_thick;
    k->gap = 0.11f * mo;
    k->lift = 0.075f * sm;

    float d2r = PI_F / 180;
    rot_zxy(k->Rh, F->yaw * d2r, F->pitch * d2r, F->roll * d2r);
    rot_zxy(k->Rb, 0.3f * F->yaw * d2r, 0, 0.15f * F->roll * d2r);
    k->piv[0] = 0;
    k->piv[1] = -1.0f;
    k->piv[2] = -0.2f;
    k->D = 10;
    k->Fo = 2.1f * (float)size * F->cam_scale;
    k->cx = (float)size * (0.5f + F->cam_dx);
    k->cy = (float)size * (0.5f + F->cam_dy);
    k->Yc = -0.3f;

    V3 L = vnorm(v3(F->light_dir[0], F->light_dir[1], F->light_dir[2]));
    k->L[0] = L.x;
    k->L[1] = L.y;
    k->L[2] = L.z;
    V3 H = vnorm(v3(L.x, L.y, L.z + 1));
    k->H[0] = H.x;
    k->H[1] = H.y;
    k->H[2] = H.z;
    float t = clampf(F->light_temp, -1, 1), in = F->light_intensity;
    k->lcol[0] = in * (1 + 0.16f * t);
    k->lcol[1] = in * (1 + 0.02f * t);
    k->lcol[2] = in * (1 - 0.22f * t);
    k->amb = 0.38f + 0.1f * in;
    /* the camera's auto-exposure: the face's forward direction comes out about equally bright
     * whatever the light, so light changes the shading, not the skin tone as a whole */
    V3 fwd = mrot(k->Rh, v3(0, 0, 1));
    float d0 = clampf((vdot(fwd, L) + 0.2f) / 1.2f, 0, 1);
    float lum = (k->lcol[0] + k->lcol[1] + k->lcol[2]) / 3;
    k->expo = clampf((0.9f + 0.1f * in) / (k->amb * (0.85f + 0.15f * fwd.y) + 0.65f * d0 * lum), 0.8f, 1.15f);
    noise_table(k->noise_o, O->texture_seed);
    noise_table(k->noise_i, I->texture_seed);
    noise_table(k->noise_bg, F->bg_seed);
    for (int i = 0; i <= NHL; i++) k->hl_tab[i] = hairline(k, PI_F * (float)i / NHL);
}

/* ---- geometry ---------------------------------------------------------------------------------- */

/* The hairline's latitude at |longitude| al: forehead, temples, above the ears, nape. */
static float hairline(const Ctx *k, float al) {
    float h = 0.60f - 0.15f * sstep(0.35f, 0.9f, al) - 0.17f * sstep(0.9f, 1.4f, al) -
              0.62f * sstep(1.75f, 2.3f, al) - 0.3f * sstep(2.3f, 3.1f, al);
    if (k->style == 4) h -= 0.2f * sstep(1.0f, 0.6f, al);
    return h;
}

static float hair_thickness(const Ctx *k, float lam, float bet, float hl) {
    float cov = sstep(hl - 0.03f, hl + 0.07f, bet);
    if (cov <= 0) return 0;
    float T = k->hair_T * cov * (1 + 0.6f * sstep(0.5f, 1.3f, bet)); /* fuller on top */
    if (k->style == 3) T *= 1 + 0.45f * vnoise(k->noise_o, lam * 4.5f + 7, bet * 5);
    return T;
}

/* Inner-face relief along +z: nose, eye sockets and eyeballs, brow ridge, lips. */
static float face_relief(const Ctx *k, float lam, float bet) {
    float z = 0, X = lam * k->kx, al = fabsf(lam), Xa = al * k->kx;
    if (al < 0.3f && bet < k->nose_br + 0.08f && bet > k->nose_tip - 0.2f) {
        float span = k->nose_br - k->nose_tip;
        float s = (k->nose_br - bet) / span;
        float sc = clampf(s, 0, 1);
        float w = 0.085f + 0.06f * sc;
        float hr = k->nose_h * (0.06f + 0.94f * sc * sc) * sstep(-0.25f, 0.05f, s) * sstep(1.35f, 0.98f, s);
        z += hr * bump((lam / w) * (lam / w));
        float dt = (bet - k->nose_tip) / 0.07f;
        z += 0.25f * k->nose_h * bump((lam / 0.09f) * (lam / 0.09f) + dt * dt);
        float da = (al - 0.75f * k->ala_w) / 0.06f, db = (bet - k->nose_tip + 0.05f) / 0.06f;
        z += 0.32f * k->nose_h * bump(da * da + db * db);
    }
    float ex = (Xa - k->eye_X) / (0.22f * k->kx + k->eye_w), ey = (bet - k->eye_b - 0.015f) / 0.15f;
    z -= 0.055f * bump(ex * ex + ey * ey);
    float bx = (Xa - k->eye_X) / (0.3f * k->kx + k->eye_w), by = (bet - k->brow_b) / 0.08f;
    z += 0.02f * bump(bx * bx + by * by);
    float ox = (Xa - k->eye_X) / k->eye_w, oy = (bet - k->eye_b) / (0.55f * k->eye_w);
    z += 0.03f * bump(ox * ox + oy * oy);
    float mx = X / (1.05f * k->mouth_hw), my = (bet - k->mouth_b + 0.005f) / 0.085f;
    z += 0.035f * bump(mx * mx + my * my);
    return z;
}

/* Per-longitude and per-latitude terms of the head surface, so the mesh computes each once. */
typedef struct {
    float lam, sl, cl, front, hl;
} HeadCol;
typedef struct {
    float bet, sb, cb, cbx, push, low, chin, drop;
} HeadRow;

static HeadCol head_col(const Ctx *k, float lam) {
    HeadCol c;
    c.lam = lam;
    c.sl = sinf(lam);
    c.cl = cosf(lam);
    c.front = c.cl > 0 ? c.cl * c.cl * (2 - c.cl) : 0; /* smooth at the sides */
    c.hl = hairline(k, fabsf(lam));
    return c;
}

static HeadRow head_row(const Ctx *k, float bet) {
    HeadRow r;
    r.bet = bet;
    r.sb = sinf(bet);
    r.cb = cosf(bet);
    /* the lower head is a superellipse in x: a squarer jaw than an ellipsoid's */
    r.cbx = powf(r.cb, bet < 0 ? lerpf(1.0f, 0.55f, sstep(0.0f, -0.7f, bet))
                               : lerpf(1.0f, 0.7f, sstep(0.2f, 1.0f, bet))); /* and a rounder dome */
    r.push = (0.25f + 0.52f * sstep(0.1f, -0.3f, bet)) * sstep(-1.5708f, -1.05f, bet) *
             sstep(1.3f, 0.5f, bet);
    r.low = 1 - (1 - k->jaw) * sstep(-0.25f, -1.1f, bet);
    r.chin = k->chin * sstep(-0.55f, -1.15f, bet);
    r.drop = k->jaw_drop * sstep(-0.6f, -0.8f, bet);
    return r;
}

static V3 head_point_cr(const Ctx *k, const HeadCol *c, const HeadRow *r) {
    float lam = c->lam, bet = r->bet;
    float x = k->a * c->sl * r->cbx, y = k->b * r->sb, z = k->c * c->cl * r->cb;
    /* flatten the face: push the front forward where the ellipsoid curves back */
    z += k->c * c->front * (1 - r->cb) * r->push;
    x *= r->low; /* the jaw tapers */
    /* cheekbones */
    float ch = (fabsf(lam) - 0.8f) * 2.5f, cv = (bet + 0.12f) * 4.5f;
    float r2 = ch * ch + cv * cv;
    if (r2 < 1) {
        float chb = bump(r2) * 0.05f * k->cheek;
        x += c->sl * chb;
        z += c->cl * chb;
    }
    /* chin length and the jaw dropping with an open mouth (fixed region, not the inner face's) */
    y -= r->chin * c->front;
    if (r->drop > 0) y -= r->drop * sstep(0.05f, 0.55f, c->cl);
    if (fabsf(lam) < 1.0f && bet > -1.2f && bet < 0.55f) z += face_relief(k, lam, bet);
    if (bet > c->hl - 0.03f) {
        float T = hair_thickness(k, lam, bet, c->hl);
        x *= 1 + T;
        y *= 1 + T;
        z *= 1 + T;
    }
    return v3(x, y, z);
}

/* A point of the head surface (head coordinates: x right, y up, z toward the camera at rest). */
static V3 head_point(const Ctx *k, float lam, float bet) {
    HeadCol c = head_col(k, lam);
    HeadRow r = head_row(k, bet);
    return head_point_cr(k, &c, &r);
}

static V3 ear_point(const Ctx *k, float u, float v, int side) {
    float es = k->O->ear_size;
    V3 base = head_point(k, side * 1.5708f, -0.02f);
    float rx = 0.07f, ry = 0.26f * es, rz = 0.16f * es;
    float x = rx * sinf(u) * cosf(v), y = ry * sinf(v), z = rz * cosf(u) * cosf(v);
    /* ears stand out from the head a little and lean back at the top; the ellipsoid itself is not
     * mirrored, so both ears keep the outward winding the rasteriser culls by */
    return v3(base.x + x + side * 0.02f + side * 0.02f * (1 + sinf(v)),
              base.y - 0.06f + y, base.z - 0.12f + z - 0.08f * sinf(v));
}

/* Maps a head/body point to camera space; body points rotate less than the head. */
static V3 to_camera(const Ctx *k, V3 p, int body) {
    V3 q = mrot(body ? k->Rb : k->Rh, vsub(p, v3(k->piv[0], k->piv[1], k->piv[2])));
    return v3(q.x + k->piv[0], q.y + k->piv[1], q.z + k->piv[2]);
}

static void project(const Ctx *k, V3 c, float *sx, float *sy) {
    float d = k->D - c.z;
    if (d < 0.1f) d = 0.1f;
    *sx = k->cx + k->Fo * c.x / d;
    *sy = k->cy - k->Fo * (c.y - k->Yc) / d;
}

/* ---- meshes ------------------------------------------------------------------------------------ */

typedef V3 (*SurfFn)(const Ctx *k, float u, float v, int arg);

static V3 surf_ear(const Ctx *k, float u, float v, int side) { return ear_point(k, u, v, side); }
static V3 surf_neck(const Ctx *k, float u, float v, int arg) {
    (void)arg;
    float r = 0.5f * k->a * (1 + 0.25f * sstep(-1.6f, -2.3f, v));
    return v3(r * sinf(u), v, -0.22f + 0.9f * r * cosf(u));
}
static V3 surf_torso(const Ctx *k, float u, float v, int arg) {
    (void)arg;
    return v3(1.95f * k->a * sinf(u) * cosf(v), -2.7f + 1.05f * sinf(v), -0.35f + 0.8f * cosf(u) * cosf(v));
}
static V3 surf_curtain(const Ctx *k, float u, float v, int arg) {
    (void)arg;
    float vol = k->O->hair_volume;
    float len = 1.3f + 1.4f * k->O->hair_len;
    float r = k->a * (0.82f + 0.26f * sstep(0, 0.35f, v) + 0.12f * v) + 0.08f * vol;
    float phi = PI_F + u * 1.78f;
    float wav = 0.02f * sinf(u * 23 + v * 3);
    return v3((r + wav) * sinf(phi), 0.75f - v * len, -0.05f + (r + wav) * cosf(phi) * 0.95f);
}

static void mesh_reserve(Mesh *m, int nv, int nt) {
    if (m->nv + nv > m->cap_v) {
        m->cap_v = (m->nv + nv) * 2;
        m->v = xrealloc(m->v, (size_t)m->cap_v * sizeof *m->v);
    }
    if (m->nt + nt > m->cap_t) {
        m->cap_t = (m->nt + nt) * 2;
        m->t = xrealloc(m->t, (size_t)m->cap_t * sizeof *m->t);
    }
}

/* Meshes the surface f over the grid us[0..nu] x vs[0..nv]; normals from the grid (central
 * differences, wrapping in u when wrap_u), triangles with material mat. */
static void add_grid(Mesh *m, const Ctx *k, SurfFn f, int arg, const float *us, int nu,
                     const float *vs, int nv, int wrap_u, int mat, int body) {
    int W = nu + 1, Hh = nv + 1, base = m->nv;
    mesh_reserve(m, W * Hh, 2 * nu * nv);
    V3 *P = xmalloc((size_t)W * Hh * sizeof *P);
    if (f) {
        for (int j = 0; j < Hh; j++)
            for (int i = 0; i < W; i++) P[j * W + i] = f(k, us[i], vs[j], arg);
    } else { /* the head, with its separable terms computed once per row and column */
        HeadCol *cols = xmalloc((size_t)W * sizeof *cols);
        for (int i = 0; i < W; i++) cols[i] = head_col(k, us[i]);
        for (int j = 0; j < Hh; j++) {
            HeadRow r = head_row(k, vs[j]);
            for (int i = 0; i < W; i++) P[j * W + i] = head_point_cr(k, &cols[i], &r);
        }
        free(cols);
    }
    for (int j = 0; j < Hh; j++) {
        for (int i = 0; i < W; i++) {
            int il = i - 1, ir = i + 1;
            if (wrap_u) {
                if (il < 0) il = nu - 1;
                if (ir > nu) ir = 1;
            } else {
                if (il < 0) il = 0;
                if (ir > nu) ir = nu;
            }
            int jd = j > 0 ? j - 1 : 0, ju = j < nv ? j + 1 : nv;
            V3 du = vsub(P[j * W + ir], P[j * W + il]), dv = vsub(P[ju * W + i], P[jd * W + i]);
            V3 n = vcross(du, dv);
            if (vdot(n, n) < 1e-14f) n = P[j * W + i]; /* a pole: radial */
            n = mrot(body ? k->Rb : k->Rh, vnorm(n)); /* a rotation keeps unit length */
            V3 c = to_camera(k, P[j * W + i], body);
            Vert *vt = &m->v[base + j * W + i];
            project(k, c, &vt->sx, &vt->sy);
            vt->z = k->D - c.z > 0.1f ? c.z : -1e9f;
            vt->nx = n.x;
            vt->ny = n.y;
            vt->nz = n.z;
            vt->u = us[i];
            vt->v = vs[j];
        }
    }
    free(P);
    m->nv += W * Hh;
    for (int j = 0; j < nv; j++)
        for (int i = 0; i < nu; i++) {
            int a = base + j * W + i, b = a + 1, c = a + W + 1, d = a + W;
            m->t[m->nt++] = (Tri){a, b, c, mat};
            m->t[m->nt++] = (Tri){a, c, d, mat};
        }
    m->nv = base + W * Hh;
}

static void linspace(float *o, int n, float a, float b) {
    for (int i = 0; i <= n; i++) o[i] = a + (b - a) * (float)i / (float)n;
}

static void build_meshes(const Ctx *k, Mesh *m) {
    /* about 2-3 pixels per cell in front: finer meshes only cost time */
    int NL = k->size >= 384 ? NL_MAX : k->size >= 192 ? 84 : 60, NB = NL * 5 / 6;
    float us[NL_MAX + 1], vs[NL_MAX + 1];
    /* denser near the face: lambda = pi (0.4 t + 0.6 t^3), beta warped around the face middle */
    for (int i = 0; i <= NL; i++) {
        float t = -1 + 2 * (float)i / NL;
        us[i] = PI_F * (0.4f * t + 0.6f * t * t * t);
    }
    for (int j = 0; j <= NB; j++) {
        float t = -1 + 2 * (float)j / NB;
        float w = 0.55f * t + 0.45f * t * t * t; /* -1..1, denser in the middle */
        float b = -0.25f + (w > 0 ? 1.5707f + 0.25f : 1.5707f - 0.25f) * w;
        vs[j] = clampf(b, -1.5707f, 1.5707f);
    }
    vs[0] = -1.5707f;
    vs[NB] = 1.5707f;
    add_grid(m, k, NULL, 0, us, NL, vs, NB, 1, M_HEAD, 0);
    float eu[17], ev[13];
    linspace(eu, 16, -PI_F, PI_F);
    linspace(ev, 12, -1.5f, 1.5f);
    add_grid(m, k, surf_ear, -1, eu, 16, ev, 12, 1, M_EAR, 0);
    add_grid(m, k, surf_ear, 1, eu, 16, ev, 12, 1, M_EAR, 0);
    float nu[25], nv[9];
    linspace(nu, 24, -PI_F, PI_F);
    linspace(nv, 8, -2.6f, -0.4f);
    add_grid(m, k, surf_neck, 0, nu, 24, nv, 8, 1, M_NECK, 1);
    float tu[33], tv[17];
    linspace(tu, 32, -PI_F, PI_F);
    linspace(tv, 16, -1.5f, 1.5f);
    add_grid(m, k, surf_torso, 0, tu, 32, tv, 16, 1, M_TORSO, 1);
    if (k->style == 1) {
        float cu[31], cv[17];
        linspace(cu, 30, -1, 1);
        linspace(cv, 16, 0, 1);
        add_grid(m, k, surf_curtain, 0, cu, 30, cv, 16, 0, M_CURTAIN, 0);
    }
}

/* ---- rasterisation into a visibility buffer ------------------------------------------------------ */

typedef struct {
    float *z, *b1, *b2;
    int *tri;
} VisBuf;

static void raster(const Mesh *m, VisBuf *vb, int size) {
    for (int t = 0; t < m->nt; t++) {
        const Tri *tr = &m->t[t];
        const Vert *a = &m->v[tr->i0], *b = &m->v[tr->i1], *c = &m->v[tr->i2];
        float area = (b->sx - a->sx) * (c->sy - a->sy) - (c->sx - a->sx) * (b->sy - a->sy);
        /* closed surfaces face the camera when their (u right, v up) grid is clockwise on screen */
        if (tr->mat != M_CURTAIN && area >= 0) continue;
        if (area == 0 || !(fabsf(area) < 1e12f)) continue;
        if (a->z < -1e8f || b->z < -1e8f || c->z < -1e8f) continue;
        float minx = min3(a->sx, b->sx, c->sx), maxx = max3(a->sx, b->sx, c->sx);
        float miny = min3(a->sy, b->sy, c->sy), maxy = max3(a->sy, b->sy, c->sy);
        if (!(maxx >= 0.5f && minx <= size - 0.5f && maxy >= 0.5f && miny <= size - 0.5f)) continue;
        minx = minx < 0 ? 0 : minx;
        miny = miny < 0 ? 0 : miny;
        maxx = maxx > size ? size : maxx;
        maxy = maxy > size ? size : maxy;
        int x0 = iceil(minx - 0.5f), x1 = ifloor(maxx - 0.5f);
        int y0 = iceil(miny - 0.5f), y1 = ifloor(maxy - 0.5f);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > size - 1) x1 = size - 1;
        if (y1 > size - 1) y1 = size - 1;
        if (x0 > x1 || y0 > y1) continue;
        float inv = 1 / area;
        /* barycentrics are affine in x: start values per row, constant steps along it */
        float d0 = -(c->sy - b->sy) * inv, d1 = -(a->sy - c->sy) * inv;
        for (int y = y0; y <= y1; y++) {
            float py = y + 0.5f, px0 = x0 + 0.5f;
            float w0 = ((c->sx - b->sx) * (py - b->sy) - (c->sy - b->sy) * (px0 - b->sx)) * inv;
            float w1 = ((a->sx - c->sx) * (py - c->sy) - (a->sy - c->sy) * (px0 - c->sx)) * inv;
            for (int x = x0; x <= x1; x++, w0 += d0, w1 += d1) {
                float w2 = 1 - w0 - w1;
                if (w0 < 0 || w1 < 0 || w2 < 0) continue;
                float z = w0 * a->z + w1 * b->z + w2 * c->z;
                int p = y * size + x;
                if (z > vb->z[p]) {
                    vb->z[p] = z;
                    vb->tri[p] = t;
                    vb->b1[p] = w1;
                    vb->b2[p] = w2;
                }
            }
        }
    }
}

/* ---- shading ------------------------------------------------------------------------------------- */

typedef struct {
    float rgb[3];
    float spec, shin; /* specular strength and Blinn exponent (power of two steps) */
    float ao;         /* ambient-occlusion-like darkening */
    float glow[3];    /* unlit addition (eye highlights) */
} Surf;

static void mixc(float *c, const float *d, float t) {
    for (int i = 0; i < 3; i++) c[i] += (d[i] - c[i]) * t;
}

/* Eyes: lids, sclera, iris, pupil, highlight, lashes. s = -1 subject's right (image left). */
static void shade_eye(const Ctx *k, float X, float bet, int s, Surf *o) {
    float exo = s * (X - s * k->eye_X); /* toward the outer corner */
    float eyo = bet - k->eye_b;
    float ey = eyo - exo * k->eye_tan;
    float u = exo / k->eye_w;
    float w = k->eye_w;
    if (fabsf(u) > 1.6f || fabsf(ey) > 1.3f * w) return;
    float q = 1 - u * u;
    float up = k->eye_up * q * (1 - 0.18f * u), lo = -k->eye_lo * q * (1 + 0.1f * u);
    float upe = lo + (up - lo) * (1 - 0.97f * k->blink);
    float aa = 0.004f;
    /* socket shading around the eye, stronger above (under the brow) */
    float sx = u / 1.5f, sy = (ey - 0.2f * w) / (1.1f * w);
    o->ao *= 1 - 0.4f * bump(sx * sx + sy * sy);
    if (fabsf(u) < 1) {
        float inside = sstep(lo - aa, lo + aa, ey) * sstep(upe + aa, upe - aa, ey);
        if (inside > 0) {
            /* the eyeball sits in the socket's shade: darker with darker skin, as in photos */
            const float *sk = k->I->skin_rgb;
            float lum = 0.3f * sk[0] + 0.59f * sk[1] + 0.11f * sk[2], sb = 0.55f + 0.35f * lum;
            float sc[3] = {0.95f * sb, 0.92f * sb, 0.88f * sb};
            float shade = (0.72f + 0.28f * q) * (1 - 0.3f * sstep(upe - 0.25f * w, upe, ey));
            float col[3] = {sc[0] * shade, sc[1] * shade, sc[2] * shade};
            float ix = s * k->eye_X + 0.32f * w * k->gaze_x, iy = k->eye_b + 0.04f * w + 0.18f * w * k->gaze_y;
            float dx = X - ix, dy = bet - iy, ri = 0.43f * w;
            float r = sqrtf(dx * dx + dy * dy) / ri;
            if (r < 1.08f) {
                float ic[3];
                float ang = atan2f(dy, dx);
                float fib = 0.75f + 0.25f * vnoise(k->noise_i, ang * 10.2f, r * 3);
                float ring = 1 - 0.45f * sstep(0.75f, 1.0f, r);
                for (int i = 0; i < 3; i++) ic[i] = k->I->iris_rgb[i] * fib * ring * (0.8f + 0.3f * r);
                float pupil[3] = {0.03f, 0.025f, 0.025f};
                mixc(ic, pupil, sstep(0.42f, 0.36f, r));
                mixc(col, ic, sstep(1.05f, 0.97f, r));
                float hx = (dx / ri - (-0.35f + 0.25f * k->L[0])), hy = (dy / ri - (0.35f + 0.2f * k->L[1]));
                float hl = sstep(0.2f, 0.1f, sqrtf(hx * hx + hy * hy));
                for (int i = 0; i < 3; i++) o->glow[i] += 0.75f * hl * inside;
            }
            mixc(o->rgb, col, inside);
            o->spec = lerpf(o->spec, 0.1f, inside);
        }
        /* lash line (upper, darker toward the outer corner) and lower lid line */
        float lash = sstep(0.024f * (0.7f + 0.5f * (u + 1) * 0.5f) + aa, 0.0f, ey - upe) * sstep(-aa, aa, ey - upe);
        lash *= sstep(1.0f, 0.85f, fabsf(u));
        float dark[3] = {0.05f, 0.04f, 0.04f};
        mixc(o->rgb, dark, 0.9f * lash);
        float lowl = sstep(0.012f, 0.0f, fabsf(ey - lo)) * (1 - 0.5f * k->blink);
        mixc(o->rgb, dark, 0.35f * lowl * q);
        /* lid crease */
        float crease = sstep(0.012f, 0.0f, fabsf(ey - (up + 0.35f * w * q + 0.02f)));
        o->ao *= 1 - 0.25f * crease * q;
    }
}

static void shade_brow(const Ctx *k, float X, float bet, int s, Surf *o) {
    float Xa = s * X;
    float t = (Xa - k->brow_mid) / k->brow_hw; /* -1 inner .. 1 outer */
    if (t < -1.2f || t > 1.25f) return;
    float tt = (t - 0.2f) / 1.2f;
    float yc = k->brow_b + k->brow_arch * (1 - tt * tt) + 0.025f * k->brow_raise * (1 - t) * 0.5f -
               0.01f * t;
    float th = k->brow_th * (1 - 0.35f * (t + 1) * 0.5f);
    float d = fabsf(bet - yc);
    if (d > th * 1.3f) return;
    float a = sstep(th * 1.1f, th * 0.55f, d) * sstep(-1.15f, -0.9f, t) * sstep(1.2f, 0.85f, t);
    a *= 0.72f + 0.28f * vnoise(k->noise_i, X * 160, bet * 40);
    mixc(o->rgb, k->I->brow_rgb, a);
}

static void mouth_curves(const Ctx *k, float mx, float *yuo, float *yui, float *yli, float *ylo) {
    float q = 1 - mx * mx;
    if (q < 0) q = 0;
    float sq = sqrtf(q);
    float lift = k->lift * mx * mx;
    *yui = k->mouth_b + k->gap * 0.35f * q + lift;
    *yli = k->mouth_b - k->gap * 0.65f * q + lift;
    float bow = 1 - 0.35f * expf(-(mx / 0.13f) * (mx / 0.13f));
    *yuo = *yui + k->lip_u * sq * bow;
    *ylo = *yli - k->lip_l * sq;
}

static void shade_mouth(const Ctx *k, float X, float bet, Surf *o) {
    float mx = X / k->mouth_hw;
    if (fabsf(mx) > 1.25f || fabsf(bet - k->mouth_b) > 0.13f) return;
    float dark[3] = {0.06f, 0.03f, 0.03f};
    /* corners: a small shadow dimple */
    float cx = (fabsf(mx) - 1) / 0.12f, cy = (bet - k->mouth_b - k->lift) / 0.03f;
    o->ao *= 1 - 0.3f * bump(cx * cx + cy * cy);
    if (fabsf(mx) >= 1) return;
    float yuo, yui, yli, ylo, aa = 0.005f;
    mouth_curves(k, mx, &yuo, &yui, &yli, &ylo);
    float lips = sstep(ylo - aa, ylo + aa, bet) * sstep(yuo + aa, yuo - aa, bet);
    if (lips <= 0) return;
    float col[3];
    float upper = bet > yui ? 1.0f : 0.0f;
    for (int i = 0; i < 3; i++) col[i] = k->I->lip_rgb[i] * (upper ? 0.82f : 1.0f);
    /* mouth interior with teeth */
    float open = sstep(yli - aa, yli + aa, bet) * sstep(yui + aa, yui - aa, bet);
    if (open > 0) {
        float in[3] = {0.22f, 0.07f, 0.07f};
        float teeth = sstep(yui - 0.4f * (yui - yli), yui - 0.3f * (yui - yli), bet) * sstep(0.8f, 0.6f, fabsf(mx));
        float tc[3] = {0.82f, 0.80f, 0.74f};
        mixc(in, tc, teeth * sstep(0.02f, 0.05f, k->gap));
        mixc(col, in, open);
    }
    /* the line between the lips */
    float line = sstep(0.008f, 0.0f, fabsf(bet - 0.5f * (yui + yli))) * sstep(0.03f, 0.0f, k->gap);
    mixc(col, dark, 0.7f * line);
    mixc(o->rgb, col, lips);
    o->spec = lerpf(o->spec, 0.18f, lips);
    o->shin = 32;
}

/* Face-region weight of the inner identity's skin: 1 in the face, fading to 0 toward the head
 * outline and the forehead. A fixed function of the surface coordinates. */
static float face_mask(float lam, float bet) {
    float dx = lam / 0.95f, dy = (bet + 0.3f) / (bet > -0.3f ? 0.75f : 1.0f);
    float r2 = dx * dx + dy * dy;
    return 1 - sstep(0.62f, 1.0f, r2);
}

static void shade_head(const Ctx *k, float lam, float bet, Surf *o) {
    float fm = face_mask(lam, bet);
    float tex;
    float n_o = 0, n_i = 0;
    if (fm < 1)
        n_o = 0.6f * vnoise(k->noise_o, lam * 5, bet * 5) + 0.4f * vnoise(k->noise_o, lam * 60, bet * 60);
    if (fm > 0)
        n_i = 0.6f * vnoise(k->noise_i, lam * 5, bet * 5) + 0.4f * vnoise(k->noise_i, lam * 60, bet * 60);
    tex = 1 + 0.06f * lerpf(n_o, n_i, fm);
    for (int i = 0; i < 3; i++) o->rgb[i] = lerpf(k->O->skin_rgb[i], k->I->skin_rgb[i], fm) * tex;
    o->spec = 0.07f;
    o->shin = 16;
    o->ao = 1;
    o->glow[0] = o->glow[1] = o->glow[2] = 0;
    float al = fabsf(lam);
    if (fm > 0) {
        float X = lam * k->kx;
        /* cheeks: a little warmth */
        float cx = (al - 0.55f) / 0.3f, cy = (bet + 0.25f) / 0.18f;
        float blush = 0.05f * bump(cx * cx + cy * cy) * fm;
        o->rgb[1] *= 1 - blush;
        o->rgb[2] *= 1 - blush;
        if (bet > k->eye_b - 0.2f && bet < k->brow_b + 0.12f) {
            int s = lam < 0 ? -1 : 1;
            shade_eye(k, X, bet, s, o);
            shade_brow(k, X, bet, s, o);
        }
        if (al < 0.3f && bet < k->nose_tip + 0.02f && bet > k->nose_tip - 0.19f) {
            /* nostrils and the shadow under the nose */
            float nx = (al - 0.45f * k->ala_w) / 0.035f, ny = (bet - k->nose_tip + 0.085f) / 0.02f;
            float dark[3] = {0.10f * o->rgb[0], 0.07f * o->rgb[1], 0.07f * o->rgb[2]};
            mixc(o->rgb, dark, 0.8f * bump(nx * nx + ny * ny));
            float sx = lam / 0.2f, sy = (bet - k->nose_tip + 0.13f) / 0.05f;
            o->ao *= 1 - 0.25f * bump(sx * sx + sy * sy);
        }
        shade_mouth(k, X, bet, o);
        /* under the lower lip */
        float ux = X / k->mouth_hw, uy = (bet - k->mouth_b + 0.09f) / 0.035f;
        o->ao *= 1 - 0.15f * bump(ux * ux + uy * uy);
    }
    /* hair */
    float ht = al * (NHL / PI_F);
    int hi = (int)ht;
    if (hi > NHL - 1) hi = NHL - 1;
    float hl = lerpf(k->hl_tab[hi], k->hl_tab[hi + 1], ht - (float)hi);
    float ha = sstep(hl - 0.005f, hl + 0.045f, bet);
    if (k->style == 4 && al < 1.0f) ha = sstep(hl - 0.015f + 0.02f * vnoise(k->noise_o, lam * 25, 3), hl + 0.02f, bet);
    if (k->style == 2) ha *= 0.55f;
    if (ha > 0) {
        float str = k->style == 3 ? vnoise(k->noise_o, lam * 30, bet * 30) : vnoise(k->noise_o, lam * 45, bet * 4);
        float hc[3];
        float f = 0.8f + 0.3f * str;
        for (int i = 0; i < 3; i++) hc[i] = k->O->hair_rgb[i] * f;
        mixc(o->rgb, hc, ha);
        o->spec = lerpf(o->spec, 0.16f, ha);
        o->shin = 16;
    }
}

/* Per-frame background constants. */
typedef struct {
    float dx, dy, cx, cy;
    float disc[7][3]; /* bokeh discs: x, y, radius */
} Bg;

static void bg_init(const Ctx *k, Bg *g) {
    uint32_t h = hash32(k->F->bg_seed);
    float ang = (float)(h & 1023) / 1024.0f * 2 * PI_F;
    g->dx = 0.7f * cosf(ang);
    g->dy = 0.7f * sinf(ang);
    g->cx = 0.3f + 0.4f * (float)((h >> 10) & 255) / 255.0f;
    g->cy = 0.2f + 0.4f * (float)((h >> 18) & 255) / 255.0f;
    for (int i = 0; i < 7; i++) {
        uint32_t q = hash32(k->F->bg_seed + (uint32_t)i * 7919U);
        g->disc[i][0] = (float)(q & 255) / 255.0f;
        g->disc[i][1] = (float)((q >> 8) & 255) / 255.0f;
        g->disc[i][2] = 0.04f + 0.1f * (float)((q >> 16) & 255) / 255.0f;
    }
}

static void shade_background(const Ctx *k, const Bg *g, int x, int y, float *rgb) {
    const SynthFrame *F = k->F;
    float inv = 1.0f / (float)k->size, u = (x + 0.5f) * inv, v = (y + 0.5f) * inv, t, add = 0;
    switch (F->bg_kind) {
    case 0: t = v; break;
    case 1: t = 0.5f + (u - 0.5f) * g->dx + (v - 0.5f) * g->dy; break;
    case 2: t = 1.3f * sqrtf((u - g->cx) * (u - g->cx) + (v - g->cy) * (v - g->cy)); break;
    case 3:
        t = 0.5f + 0.45f * vnoise(k->noise_bg, u * 5, v * 5) + 0.15f * vnoise(k->noise_bg, u * 23 + 9, v * 23);
        break;
    default:
        t = v * 0.8f;
        for (int i = 0; i < 7; i++) {
            float bx = u - g->disc[i][0], by = v - g->disc[i][1], br = g->disc[i][2];
            float d2 = bx * bx + by * by;
            if (d2 < br * br) add += 0.2f * sstep(br, br * 0.8f, sqrtf(d2));
        }
        break;
    }
    t = clampf(t, 0, 1);
    float fine = 1 + 0.03f * ((float)(hash32(F->bg_seed ^ (uint32_t)(y * 4099 + x)) >> 8) * (1.0f / 16777216.0f) - 0.5f);
    for (int i = 0; i < 3; i++) rgb[i] = lerpf(F->bg_rgb1[i], F->bg_rgb2[i], t) * fine + add;
}

static void shade_pixel(const Ctx *k, const Mesh *m, const VisBuf *vb, int p, float *rgb) {
    const Tri *tr = &m->t[vb->tri[p]];
    const Vert *a = &m->v[tr->i0], *b = &m->v[tr->i1], *c = &m->v[tr->i2];
    float w1 = vb->b1[p], w2 = vb->b2[p], w0 = 1 - w1 - w2;
    V3 n = vnorm(v3(w0 * a->nx + w1 * b->nx + w2 * c->nx, w0 * a->ny + w1 * b->ny + w2 * c->ny,
                    w0 * a->nz + w1 * b->nz + w2 * c->nz));
    float u = w0 * a->u + w1 * b->u + w2 * c->u, v = w0 * a->v + w1 * b->v + w2 * c->v;
    Surf s;
    s.spec = 0.05f;
    s.shin = 16;
    s.ao = 1;
    s.glow[0] = s.glow[1] = s.glow[2] = 0;
    const float *skin = k->O->skin_rgb;
    switch (tr->mat) {
    case M_HEAD: shade_head(k, u, v, &s); break;
    case M_EAR: {
        float cv = (fabsf(u) - 1.5708f) / 0.9f, cw = v / 0.9f;
        float con = bump(cv * cv + cw * cw);
        for (int i = 0; i < 3; i++) s.rgb[i] = skin[i] * (i ? 0.9f : 0.97f);
        s.ao = 1 - 0.35f * con;
        break;
    }
    case M_NECK: {
        for (int i = 0; i < 3; i++) s.rgb[i] = skin[i] * 0.95f;
        s.ao = 1 - 0.45f * sstep(-1.5f, -0.75f, v);
        break;
    }
    case M_TORSO: {
        float f = 1 + 0.08f * vnoise(k->noise_o, u * 6 + 20, v * 6);
        for (int i = 0; i < 3; i++) s.rgb[i] = k->O->cloth_rgb[i] * f;
        s.spec = 0.02f;
        break;
    }
    default: {
        if (n.z < 0) n = v3(-n.x, -n.y, -n.z);
        float f = 0.78f + 0.3f * vnoise(k->noise_o, u * 40, v * 3);
        for (int i = 0; i < 3; i++) s.rgb[i] = k->O->hair_rgb[i] * f;
        s.ao = 0.8f;
        s.spec = 0.14f;
        break;
    }
    }
    float ndl = n.x * k->L[0] + n.y * k->L[1] + n.z * k->L[2];
    float diff = clampf((ndl + 0.2f) / 1.2f, 0, 1);
    float ndh = clampf(n.x * k->H[0] + n.y * k->H[1] + n.z * k->H[2], 0, 1);
    float sp = ndh * ndh;
    sp *= sp;
    sp *= sp;
    sp *= sp; /* ^16 */
    if (s.shin > 16) sp *= sp;
    sp *= s.spec * (ndl > 0 ? 1.0f : 0.0f);
    float amb = k->amb * (0.85f + 0.15f * n.y);
    for (int i = 0; i < 3; i++)
        rgb[i] = k->expo * (s.rgb[i] * s.ao * (amb + 0.65f * diff * k->lcol[i]) + sp * k->lcol[i]) + s.glow[i];
}

/* ---- landmarks ------------------------------------------------------------------------------------ */

static V3 head_normal(const Ctx *k, float lam, float bet) {
    const float h = 2e-3f;
    V3 du = vsub(head_point(k, lam + h, bet), head_point(k, lam - h, bet));
    V3 dv = vsub(head_point(k, lam, bet + h), head_point(k, lam, bet - h));
    return vnorm(vcross(du, dv));
}

/* Does the camera see the outside of the head at (lam, bet)? */
static int facing(const Ctx *k, float lam, float bet) {
    V3 p = to_camera(k, head_point(k, lam, bet), 0);
    V3 n = mrot(k->Rh, head_normal(k, lam, bet));
    return vdot(n, v3(-p.x, k->Yc - p.y, k->D - p.z)) > 0;
}

static void lm_at(const Ctx *k, float lam, float bet, float *out) {
    project(k, to_camera(k, head_point(k, lam, bet), 0), &out[0], &out[1]);
}

/* Jaw contour: the silhouette of the neutral frontal head (local normal z = 0) along rays from the
 * face centre, resampled evenly by arc length; hidden points marched to the visible silhouette. */
static void jaw_landmarks(const Ctx *k, float lm[68][2]) {
    enum { NR = 33 };
    const float c0l = 0, c0b = -0.32f, th = 1.8f;
    float cl[NR], cb[NR], px[NR], py[NR], acc[NR];
    for (int r = 0; r < NR; r++) {
        float psi = -th + 2 * th * (float)r / (NR - 1);
        float dl = sinf(psi), db = -cosf(psi);
        float lo = 0.2f, hi = 0.2f;
        if (head_normal(k, c0l + 0.8f * dl, c0b + 0.8f * db).z > 0) lo = hi = 0.8f;
        while (hi < 2.4f) {
            hi += 0.08f;
            if (head_normal(k, c0l + hi * dl, c0b + hi * db).z <= 0) break;
            lo = hi;
        }
        for (int it = 0; it < 11; it++) {
            float mid = 0.5f * (lo + hi);
            if (head_normal(k, c0l + mid * dl, c0b + mid * db).z > 0) lo = mid;
            else hi = mid;
        }
        cl[r] = c0l + lo * dl;
        cb[r] = clampf(c0b + lo * db, -1.55f, 1.55f);
        V3 p = head_point(k, cl[r], cb[r]);
        px[r] = p.x;
        py[r] = p.y;
        acc[r] = r ? acc[r - 1] + hypotf(px[r] - px[r - 1], py[r] - py[r - 1]) : 0;
    }
    int seg = 0;
    for (int i = 0; i < 17; i++) {
        float target = acc[NR - 1] * (float)i / 16;
        while (seg < NR - 2 && acc[seg + 1] < target) seg++;
        float len = acc[seg + 1] - acc[seg];
        float f = len > 0 ? clampf((target - acc[seg]) / len, 0, 1) : 0;
        float lam = lerpf(cl[seg], cl[seg + 1], f), bet = lerpf(cb[seg], cb[seg + 1], f);
        if (!facing(k, lam, bet)) {
            /* march toward the face centre to the silhouette the camera sees */
            float lo = 0, hi = 1; /* fraction of the way from the point to the centre */
            for (int it = 0; it < 16; it++) {
                float mid = 0.5f * (lo + hi);
                if (facing(k, lerpf(lam, c0l, mid), lerpf(bet, c0b, mid))) hi = mid;
                else lo = mid;
            }
            lam = lerpf(lam, c0l, hi);
            bet = lerpf(bet, c0b, hi);
        }
        lm_at(k, lam, bet, lm[i]);
    }
}

static void eye_point(const Ctx *k, int s, float u, int upper, float *out) {
    float w = k->eye_w, q = 1 - u * u;
    float up = k->eye_up * q * (1 - 0.18f * u), lo = -k->eye_lo * q * (1 + 0.1f * u);
    float ey = upper ? lo + (up - lo) * (1 - 0.97f * k->blink) : lo;
    float exo = u * w;
    float eyo = ey + exo * k->eye_tan;
    float X = s * k->eye_X + s * exo;
    lm_at(k, X / k->kx, k->eye_b + eyo, out);
}

static void brow_point(const Ctx *k, int s, float t, float *out) {
    float tt = (t - 0.2f) / 1.2f;
    float yc = k->brow_b + k->brow_arch * (1 - tt * tt) + 0.025f * k->brow_raise * (1 - t) * 0.5f - 0.01f * t;
    float th = k->brow_th * (1 - 0.35f * (t + 1) * 0.5f);
    float Xa = k->brow_mid + t * k->brow_hw;
    lm_at(k, s * Xa / k->kx, yc + 0.75f * th, out);
}

static void face_landmarks(const Ctx *k, float lm[68][2]) {
    jaw_landmarks(k, lm);
    for (int i = 0; i < 5; i++) {
        float t = 1 - 0.5f * (float)i; /* outer .. inner */
        brow_point(k, -1, t, lm[17 + i]);
        brow_point(k, 1, -t, lm[22 + i]);
    }
    for (int i = 0; i < 4; i++) {
        float bet = lerpf(k->eye_b + 0.01f, k->nose_tip, (float)i / 3);
        lm_at(k, 0, bet, lm[27 + i]);
    }
    const float nl[5] = {-1.0f, -0.5f, 0, 0.5f, 1.0f}, nb[5] = {0.075f, 0.095f, 0.11f, 0.095f, 0.075f};
    for (int i = 0; i < 5; i++) lm_at(k, nl[i] * k->ala_w, k->nose_tip - nb[i], lm[31 + i]);
    /* eyes: 36 outer, 37 38 upper, 39 inner, 40 41 lower (subject's right); 42..47 mirrored */
    eye_point(k, -1, 1, 0, lm[36]);
    eye_point(k, -1, 1.0f / 3, 1, lm[37]);
    eye_point(k, -1, -1.0f / 3, 1, lm[38]);
    eye_point(k, -1, -1, 0, lm[39]);
    eye_point(k, -1, -1.0f / 3, 0, lm[40]);
    eye_point(k, -1, 1.0f / 3, 0, lm[41]);
    eye_point(k, 1, -1, 0, lm[42]);
    eye_point(k, 1, -1.0f / 3, 1, lm[43]);
    eye_point(k, 1, 1.0f / 3, 1, lm[44]);
    eye_point(k, 1, 1, 0, lm[45]);
    eye_point(k, 1, 1.0f / 3, 0, lm[46]);
    eye_point(k, 1, -1.0f / 3, 0, lm[47]);
    /* mouth: outer 48..59 clockwise from the subject's right corner, inner 60..67 */
    const float om[12] = {-1, -2.0f / 3, -1.0f / 3, 0, 1.0f / 3, 2.0f / 3, 1, 2.0f / 3, 1.0f / 3, 0, -1.0f / 3, -2.0f / 3};
    for (int i = 0; i < 12; i++) {
        float yuo, yui, yli, ylo;
        mouth_curves(k, om[i], &yuo, &yui, &yli, &ylo);
        float bet = (i == 0 || i == 6) ? 0.5f * (yui + yli) : i < 6 ? yuo : ylo;
        lm_at(k, om[i] * k->mouth_hw / k->kx, bet, lm[48 + i]);
    }
    const float im[8] = {-0.88f, -0.4f, 0, 0.4f, 0.88f, 0.4f, 0, -0.4f};
    for (int i = 0; i < 8; i++) {
        float yuo, yui, yli, ylo;
        mouth_curves(k, im[i], &yuo, &yui, &yli, &ylo);
        float bet = (i == 0 || i == 4) ? 0.5f * (yui + yli) : i < 4 ? yui : yli;
        lm_at(k, im[i] * k->mouth_hw / k->kx, bet, lm[60 + i]);
    }
}

/* ---- post-processing ------------------------------------------------------------------------------ */

/* Softens silhouettes: pixels where the visible surface changes object (head, ear, neck, shirt,
 * hair, background) are replaced by their 3x3 mean — a cheap stand-in for supersampling. */
static void smooth_edges(float *img, const VisBuf *vb, const Mesh *m, int size) {
    size_t np = (size_t)size * size;
    uint8_t *obj = xmalloc(np);
    for (size_t p = 0; p < np; p++) obj[p] = vb->tri[p] < 0 ? 255 : (uint8_t)m->t[vb->tri[p]].mat;
    /* new colours of the edge pixels, written back after all are computed */
    size_t n = 0, cap = 1024;
    float *val = xmalloc(cap * 4 * sizeof *val);
    for (int y = 1; y < size - 1; y++)
        for (int x = 1; x < size - 1; x++) {
            size_t p = (size_t)y * size + x;
            uint8_t o = obj[p];
            if (o == obj[p + 1] && o == obj[p - 1] && o == obj[p + size] && o == obj[p - size]) continue;
            if (n == cap) {
                cap *= 2;
                val = xrealloc(val, cap * 4 * sizeof *val);
            }
            float *v = val + n++ * 4;
            v[0] = v[1] = v[2] = 0;
            v[3] = (float)p; /* exact: p < 2^24 for size <= 4096 */
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const float *q = img + (p + (size_t)((ptrdiff_t)dy * size + dx)) * 3;
                    v[0] += q[0] * (1.0f / 9);
                    v[1] += q[1] * (1.0f / 9);
                    v[2] += q[2] * (1.0f / 9);
                }
        }
    for (size_t i = 0; i < n; i++) {
        size_t p = (size_t)val[i * 4 + 3];
        memcpy(img + p * 3, val + i * 4, 3 * sizeof *val);
    }
    free(val);
    free(obj);
}

static void blur_rgb(float *img, int size, float sigma) {
    int r = (int)ceilf(2.5f * sigma);
    if (r > 12) r = 12;
    float kern[25], sum = 0;
    for (int i = -r; i <= r; i++) sum += kern[i + r] = expf(-(float)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i < 2 * r + 1; i++) kern[i] /= sum;
    int n = size + 2 * r;
    float *line = xmalloc((size_t)n * 3 * sizeof *line);
    /* horizontal, then vertical passes through a clamped-edge line buffer */
    for (int pass = 0; pass < 2; pass++) {
        size_t step = pass ? (size_t)size * 3 : 3, lstep = pass ? 3 : (size_t)size * 3;
        for (int l = 0; l < size; l++) {
            float *base = img + l * lstep;
            for (int i = 0; i < n; i++) {
                int s = i - r;
                s = s < 0 ? 0 : s >= size ? size - 1 : s;
                memcpy(line + i * 3, base + s * step, 3 * sizeof *line);
            }
            for (int i = 0; i < size; i++) {
                float a0 = 0, a1 = 0, a2 = 0;
                const float *q = line + i * 3;
                for (int t = 0; t <= 2 * r; t++, q += 3) {
                    a0 += kern[t] * q[0];
                    a1 += kern[t] * q[1];
                    a2 += kern[t] * q[2];
                }
                float *d = base + i * step;
                d[0] = a0;
                d[1] = a1;
                d[2] = a2;
            }
        }
    }
    free(line);
}

/* ---- entry point ---------------------------------------------------------------------------------- */

void synth_render(const SynthIdentity *outer, const SynthIdentity *inner, const SynthFrame *fr,
                  int size, Image *out, float lm[68][2]) {
    SL_ASSERT(outer && inner && fr && out && lm);
    SL_ASSERT(size >= 16 && size <= 4096);
    SL_ASSERT(outer->hair_style >= 0 && outer->hair_style < SYNTH_HAIR_STYLES);
    SL_ASSERT(fr->bg_kind >= 0 && fr->bg_kind < SYNTH_BG_KINDS);
    Ctx *k = xcalloc(1, sizeof *k);
    ctx_init(k, outer, inner, fr, size);
    Mesh m = {0};
    build_meshes(k, &m);
    size_t np = (size_t)size * size;
    VisBuf vb;
    vb.z = xmalloc(np * sizeof *vb.z);
    vb.b1 = xmalloc(np * sizeof *vb.b1);
    vb.b2 = xmalloc(np * sizeof *vb.b2);
    vb.tri = xmalloc(np * sizeof *vb.tri);
    for (size_t i = 0; i < np; i++) {
        vb.z[i] = -1e30f;
        vb.tri[i] = -1;
        vb.b1[i] = vb.b2[i] = 0;
    }
    raster(&m, &vb, size);
    float *img = xmalloc(np * 3 * sizeof *img);
    Bg bg;
    bg_init(k, &bg);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            size_t p = (size_t)y * size + x;
            if (vb.tri[p] < 0) shade_background(k, &bg, x, y, img + p * 3);
            else shade_pixel(k, &m, &vb, (int)p, img + p * 3);
        }
    smooth_edges(img, &vb, &m, size);
    if (fr->blur >= 0.25f) blur_rgb(img, size, fminf(fr->blur, 4.0f));
    *out = image_new(size, size, 3);
    float ns = fr->noise_sigma * (1.7320508f / 255.0f);
    for (int y = 0; y < size; y++) {
        /* approximately normal noise: a sum of four byte-uniforms scaled to unit variance, from a
         * xorshift stream seeded per row */
        uint32_t h = hash32(fr->noise_seed * 0x9e3779b9U + (uint32_t)y) | 1;
        for (size_t i = (size_t)y * size * 3; i < (size_t)(y + 1) * size * 3; i++) {
            float v = img[i] * 255.0f;
            if (ns > 0) {
                h ^= h << 13;
                h ^= h >> 17;
                h ^= h << 5;
                float sum = (float)((h & 255) + ((h >> 8) & 255) + ((h >> 16) & 255) + (h >> 24));
                v += ns * (sum - 510.0f);
            }
            v = clampf(v + 0.5f, 0, 255);
            out->px[i] = (uint8_t)v;
        }
    }
    face_landmarks(k, lm);
    free(img);
    free(vb.z);
    free(vb.b1);
    free(vb.b2);
    free(vb.tri);
    free(m.v);
    free(m.t);
    free(k);
}
