/* params.c — synthetic-volunteer parameters: random identities and frames drawn from SlRng, the
 * neutral frame, and the JSON form (jansson, https://jansson.readthedocs.io/) with a field table
 * that checks presence, type and range of every value read back. */
#include <stddef.h>
#include <string.h>

#include "data/synth/synth.h"

/* ---- random draws ---------------------------------------------------------------------------- */

static float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

static void jitter_rgb(float *dst, const float *src, float amount, SlRng *r) {
    float k = sl_rng_range(r, 1 - amount, 1 + amount);
    for (int i = 0; i < 3; i++) dst[i] = clamp01(src[i] * k * sl_rng_range(r, 1 - amount / 2, 1 + amount / 2));
}

/* Skin tone at position t in [0, 1] along the dark-to-light curve, with an undertone jitter drawn
 * from r (the lips follow the skin; see synth_identity_random). */
static void skin_tone(SynthIdentity *id, float t, SlRng *r) {
    static const float skin_pal[][3] = {
        {0.25f, 0.16f, 0.11f}, {0.42f, 0.27f, 0.18f}, {0.60f, 0.42f, 0.30f},
        {0.78f, 0.60f, 0.47f}, {0.93f, 0.78f, 0.68f},
    };
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float u = t * 4;
    int k = (int)u;
    if (k > 3) k = 3;
    float f = u - (float)k;
    for (int i = 0; i < 3; i++) id->skin_rgb[i] = skin_pal[k][i] * (1 - f) + skin_pal[k + 1][i] * f;
    id->skin_rgb[0] = clamp01(id->skin_rgb[0] * sl_rng_range(r, 0.97f, 1.06f));
    id->skin_rgb[2] = clamp01(id->skin_rgb[2] * sl_rng_range(r, 0.90f, 1.06f));
}

/* Lip colour follows the skin, with a jitter. */
static void lips_from_skin(SynthIdentity *id, SlRng *r) {
    float lip_k[3] = {0.80f, 0.52f, 0.55f}, lip_add[3] = {0.10f, 0.02f, 0.04f};
    for (int i = 0; i < 3; i++) id->lip_rgb[i] = clamp01(id->skin_rgb[i] * lip_k[i] + lip_add[i]);
    jitter_rgb(id->lip_rgb, id->lip_rgb, 0.08f, r);
}

void synth_identity_set_tone(SynthIdentity *id, float t, SlRng *r) {
    skin_tone(id, t, r);
    lips_from_skin(id, r);
}

void synth_identity_random(SynthIdentity *id, SlRng *r) {
    static const float hair_pal[][3] = {
        {0.05f, 0.045f, 0.04f}, {0.14f, 0.09f, 0.06f}, {0.30f, 0.19f, 0.11f}, {0.44f, 0.19f, 0.09f},
        {0.72f, 0.57f, 0.33f},  {0.86f, 0.80f, 0.68f}, {0.52f, 0.51f, 0.50f}, {0.58f, 0.24f, 0.10f},
        {0.09f, 0.07f, 0.06f},  {0.22f, 0.14f, 0.08f},
    };
    static const float iris_pal[][3] = {
        {0.20f, 0.11f, 0.05f}, {0.34f, 0.20f, 0.09f}, {0.44f, 0.36f, 0.16f},
        {0.28f, 0.42f, 0.24f}, {0.28f, 0.43f, 0.62f}, {0.44f, 0.49f, 0.54f},
    };
    static const float cloth_pal[][3] = {
        {0.15f, 0.20f, 0.40f}, {0.55f, 0.10f, 0.12f}, {0.85f, 0.85f, 0.82f}, {0.12f, 0.12f, 0.13f},
        {0.20f, 0.45f, 0.30f}, {0.75f, 0.60f, 0.20f}, {0.45f, 0.45f, 0.50f}, {0.40f, 0.25f, 0.50f},
    };
    memset(id, 0, sizeof *id);
    /* outer head */
    id->head_w = sl_rng_range(r, 0.92f, 1.08f);
    id->head_h = sl_rng_range(r, 0.94f, 1.08f);
    id->head_d = sl_rng_range(r, 0.94f, 1.08f);
    id->jaw_width = sl_rng_range(r, 0.74f, 0.97f);
    id->chin_len = sl_rng_uniform(r);
    id->cheek = sl_rng_uniform(r);
    id->ear_size = sl_rng_range(r, 0.85f, 1.2f);
    jitter_rgb(id->hair_rgb, hair_pal[sl_rng_int(r, 10)], 0.12f, r);
    id->hair_style = sl_rng_int(r, 5);
    id->hair_len = sl_rng_uniform(r);
    id->hair_volume = sl_rng_uniform(r);
    jitter_rgb(id->cloth_rgb, cloth_pal[sl_rng_int(r, 8)], 0.2f, r);
    /* inner face: skin tone anywhere along the dark-to-light curve, with undertone jitter */
    skin_tone(id, sl_rng_uniform(r), r);
    id->eye_spacing = sl_rng_range(r, 0.88f, 1.12f);
    id->eye_size = sl_rng_range(r, 0.85f, 1.15f);
    id->eye_slant = sl_rng_range(r, -1, 1);
    jitter_rgb(id->iris_rgb, iris_pal[sl_rng_int(r, 6)], 0.15f, r);
    id->brow_thick = sl_rng_range(r, 0.6f, 1.5f);
    id->brow_arch = sl_rng_uniform(r);
    float dark[3] = {0.06f, 0.05f, 0.04f};
    for (int i = 0; i < 3; i++) id->brow_rgb[i] = 0.45f * id->hair_rgb[i] + 0.55f * dark[i];
    jitter_rgb(id->brow_rgb, id->brow_rgb, 0.1f, r);
    id->nose_len = sl_rng_range(r, 0.85f, 1.15f);
    id->nose_width = sl_rng_range(r, 0.8f, 1.3f);
    id->mouth_width = sl_rng_range(r, 0.85f, 1.15f);
    id->lip_thick = sl_rng_range(r, 0.7f, 1.35f);
    lips_from_skin(id, r);
    id->texture_seed = (uint32_t)(sl_rng_u64(r) >> 32);
}

/* Half of the draws are 0 (a neutral part), the rest uniform in (0, 1). */
static float sometimes(SlRng *r, float p_zero) {
    return sl_rng_uniform(r) < p_zero ? 0.0f : sl_rng_uniform(r);
}

void synth_frame_random(SynthFrame *fr, SlRng *r) {
    memset(fr, 0, sizeof *fr);
    fr->smile = sometimes(r, 0.45f);
    fr->mouth_open = sometimes(r, 0.55f);
    fr->blink = sl_rng_uniform(r) < 0.85f ? 0.0f : sl_rng_range(r, 0.3f, 1.0f);
    fr->brow_raise = sometimes(r, 0.6f);
    fr->gaze_x = sl_rng_range(r, -0.8f, 0.8f);
    fr->gaze_y = sl_rng_range(r, -0.6f, 0.6f);
    fr->yaw = sl_rng_range(r, -35, 35);
    fr->pitch = sl_rng_range(r, -20, 20);
    fr->roll = sl_rng_range(r, -20, 20);
    fr->light_dir[0] = sl_rng_range(r, -1, 1);
    fr->light_dir[1] = sl_rng_range(r, -0.3f, 1);
    fr->light_dir[2] = sl_rng_range(r, 0.6f, 1.2f);
    fr->light_intensity = sl_rng_range(r, 0.8f, 1.2f);
    fr->light_temp = sl_rng_range(r, -0.7f, 0.7f);
    fr->bg_kind = sl_rng_int(r, SYNTH_BG_KINDS);
    for (int i = 0; i < 3; i++) fr->bg_rgb1[i] = sl_rng_range(r, 0.05f, 0.95f);
    for (int i = 0; i < 3; i++) fr->bg_rgb2[i] = sl_rng_range(r, 0.05f, 0.95f);
    fr->bg_seed = (uint32_t)(sl_rng_u64(r) >> 32);
    fr->noise_seed = (uint32_t)(sl_rng_u64(r) >> 32);
    fr->cam_scale = sl_rng_range(r, 0.85f, 1.15f);
    fr->cam_dx = sl_rng_range(r, -0.06f, 0.06f);
    fr->cam_dy = sl_rng_range(r, -0.05f, 0.05f);
    fr->blur = sl_rng_uniform(r) < 0.5f ? 0.0f : sl_rng_range(r, 0.3f, 1.3f);
    fr->noise_sigma = sl_rng_range(r, 0, 5);
}

void synth_frame_neutral(SynthFrame *fr) {
    memset(fr, 0, sizeof *fr);
    fr->light_dir[0] = 0.25f;
    fr->light_dir[1] = 0.35f;
    fr->light_dir[2] = 1.0f;
    fr->light_intensity = 1.0f;
    fr->bg_kind = 0;
    float c1[3] = {0.62f, 0.66f, 0.70f}, c2[3] = {0.40f, 0.43f, 0.47f};
    memcpy(fr->bg_rgb1, c1, sizeof c1);
    memcpy(fr->bg_rgb2, c2, sizeof c2);
    fr->bg_seed = 1;
    fr->noise_seed = 1;
    fr->cam_scale = 1.0f;
}

/* ---- JSON ------------------------------------------------------------------------------------- */

typedef enum { F_FLOAT, F_INT, F_U32 } FieldKind;
typedef struct {
    const char *name;
    size_t off;
    int n; /* 1 or 3 (an RGB / direction array) */
    FieldKind kind;
    double lo, hi; /* accepted range when read back */
} Field;

#define FI(name, n, kind, lo, hi) {#name, offsetof(SynthIdentity, name), n, kind, lo, hi}
static const Field id_fields[] = {
    FI(head_w, 1, F_FLOAT, 0.5, 2),      FI(head_h, 1, F_FLOAT, 0.5, 2),
    FI(head_d, 1, F_FLOAT, 0.5, 2),      FI(jaw_width, 1, F_FLOAT, 0.3, 1.2),
    FI(chin_len, 1, F_FLOAT, 0, 2),      FI(cheek, 1, F_FLOAT, 0, 2),
    FI(ear_size, 1, F_FLOAT, 0.3, 2),    FI(hair_rgb, 3, F_FLOAT, 0, 1),
    FI(hair_style, 1, F_INT, 0, SYNTH_HAIR_STYLES - 1),
    FI(hair_len, 1, F_FLOAT, 0, 1),      FI(hair_volume, 1, F_FLOAT, 0, 1),
    FI(cloth_rgb, 3, F_FLOAT, 0, 1),     FI(skin_rgb, 3, F_FLOAT, 0, 1),
    FI(eye_spacing, 1, F_FLOAT, 0.6, 1.4), FI(eye_size, 1, F_FLOAT, 0.5, 1.5),
    FI(eye_slant, 1, F_FLOAT, -2, 2),    FI(iris_rgb, 3, F_FLOAT, 0, 1),
    FI(brow_thick, 1, F_FLOAT, 0, 3),    FI(brow_arch, 1, F_FLOAT, 0, 2),
    FI(brow_rgb, 3, F_FLOAT, 0, 1),      FI(nose_len, 1, F_FLOAT, 0.5, 1.5),
    FI(nose_width, 1, F_FLOAT, 0.5, 1.8), FI(mouth_width, 1, F_FLOAT, 0.5, 1.5),
    FI(lip_thick, 1, F_FLOAT, 0.3, 2),   FI(lip_rgb, 3, F_FLOAT, 0, 1),
    FI(texture_seed, 1, F_U32, 0, 4294967295.0),
};
#undef FI
#define FF(name, n, kind, lo, hi) {#name, offsetof(SynthFrame, name), n, kind, lo, hi}
static const Field fr_fields[] = {
    FF(smile, 1, F_FLOAT, 0, 1),          FF(mouth_open, 1, F_FLOAT, 0, 1),
    FF(blink, 1, F_FLOAT, 0, 1),          FF(brow_raise, 1, F_FLOAT, 0, 1),
    FF(gaze_x, 1, F_FLOAT, -1, 1),        FF(gaze_y, 1, F_FLOAT, -1, 1),
    FF(yaw, 1, F_FLOAT, -60, 60),         FF(pitch, 1, F_FLOAT, -40, 40),
    FF(roll, 1, F_FLOAT, -45, 45),        FF(light_dir, 3, F_FLOAT, -10, 10),
    FF(light_intensity, 1, F_FLOAT, 0, 3), FF(light_temp, 1, F_FLOAT, -1, 1),
    FF(bg_kind, 1, F_INT, 0, SYNTH_BG_KINDS - 1),
    FF(bg_rgb1, 3, F_FLOAT, 0, 1),        FF(bg_rgb2, 3, F_FLOAT, 0, 1),
    FF(bg_seed, 1, F_U32, 0, 4294967295.0), FF(noise_seed, 1, F_U32, 0, 4294967295.0),
    FF(cam_scale, 1, F_FLOAT, 0.3, 3),    FF(cam_dx, 1, F_FLOAT, -0.5, 0.5),
    FF(cam_dy, 1, F_FLOAT, -0.5, 0.5),    FF(blur, 1, F_FLOAT, 0, 4),
    FF(noise_sigma, 1, F_FLOAT, 0, 64),
};
#undef FF

static json_t *to_json(const void *base, const Field *fs, size_t nf) {
    json_t *o = json_object();
    for (size_t i = 0; i < nf; i++) {
        const char *p = (const char *)base + fs[i].off;
        json_t *v;
        if (fs[i].kind == F_INT) {
            v = json_integer(*(const int *)p);
        } else if (fs[i].kind == F_U32) {
            v = json_integer((json_int_t) * (const uint32_t *)p);
        } else if (fs[i].n == 1) {
            v = json_real(*(const float *)p);
        } else {
            v = json_array();
            for (int k = 0; k < fs[i].n; k++) json_array_append_new(v, json_real(((const float *)p)[k]));
        }
        SL_ASSERT(v && json_object_set_new(o, fs[i].name, v) == 0);
    }
    return o;
}

static int number_in(const json_t *v, const Field *f, int k, double *out, const char *what, SlErr *err) {
    char name[80];
    if (k < 0) snprintf(name, sizeof name, "%s", f->name);
    else snprintf(name, sizeof name, "%s[%d]", f->name, k);
    if (f->kind == F_FLOAT ? !json_is_number(v) : !json_is_integer(v))
        return sl_fail(err, "%s: field '%s' must be %s", what, name,
                       f->kind == F_FLOAT ? "a number" : "an integer");
    double x = json_number_value(v);
    if (!(x >= f->lo && x <= f->hi))
        return sl_fail(err, "%s: field '%s' = %.10g is outside [%.10g, %.10g]", what, name, x, f->lo, f->hi);
    *out = x;
    return 0;
}

static int from_json(const json_t *j, void *base, const Field *fs, size_t nf, const char *what,
                     SlErr *err) {
    if (!json_is_object(j)) return sl_fail(err, "%s: expected a JSON object", what);
    for (size_t i = 0; i < nf; i++) {
        const Field *f = &fs[i];
        char *p = (char *)base + f->off;
        const json_t *v = json_object_get(j, f->name);
        if (!v) return sl_fail(err, "%s: missing field '%s'", what, f->name);
        double x;
        if (f->n == 1) {
            if (number_in(v, f, -1, &x, what, err)) return -1;
            if (f->kind == F_INT) *(int *)p = (int)x;
            else if (f->kind == F_U32) *(uint32_t *)p = (uint32_t)x;
            else *(float *)p = (float)x;
        } else {
            if (!json_is_array(v) || json_array_size(v) != (size_t)f->n)
                return sl_fail(err, "%s: field '%s' must be an array of %d numbers", what, f->name, f->n);
            for (int k = 0; k < f->n; k++) {
                if (number_in(json_array_get(v, (size_t)k), f, k, &x, what, err)) return -1;
                ((float *)p)[k] = (float)x;
            }
        }
    }
    return 0;
}

json_t *synth_identity_to_json(const SynthIdentity *id) {
    return to_json(id, id_fields, sizeof id_fields / sizeof id_fields[0]);
}

json_t *synth_frame_to_json(const SynthFrame *fr) {
    return to_json(fr, fr_fields, sizeof fr_fields / sizeof fr_fields[0]);
}

int synth_identity_from_json(const json_t *j, SynthIdentity *id, SlErr *err) {
    SynthIdentity t;
    memset(&t, 0, sizeof t);
    if (from_json(j, &t, id_fields, sizeof id_fields / sizeof id_fields[0], "synthetic identity", err))
        return -1;
    *id = t;
    return 0;
}

int synth_frame_from_json(const json_t *j, SynthFrame *fr, SlErr *err) {
    SynthFrame t;
    memset(&t, 0, sizeof t);
    if (from_json(j, &t, fr_fields, sizeof fr_fields / sizeof fr_fields[0], "synthetic frame", err))
        return -1;
    *fr = t;
    return 0;
}
