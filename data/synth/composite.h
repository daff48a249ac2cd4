/* composite.h — real-looking synthetic volunteers: people who do not exist, made as face-research
 * composites of at least three consented real volunteers (data/volunteers/: Face Research Lab
 * London Set, CC BY 4.0, signed consent to use "in their original or altered forms"), rendered with
 * pose, expression, light, background, camera noise and JPEG, with exact 68-point landmarks.
 *
 * How a composite is made (as face labs make them, e.g. Benson & Perrett 1993; DeBruine's
 * webmorph): every contributor's neutral and smiling photo is warped piecewise-affinely (Delaunay
 * triangles over the 189 template points and the image border) onto the weighted average shape,
 * then the warped photos are blended with the same weights on the inner face (brows to chin; above
 * the brows, only where a contributor shows skin, not a fringe). Forehead, hair, ears, neck and
 * clothes are the leading contributor's (the largest weight) warped photo, and the averaged face
 * takes its light and skin colour at low frequencies, so no seam shows: an average of several
 * hairstyles and outlines is a ghost no camera makes. Each photo's matte comes from its backdrop,
 * fitted as a smooth surface (person_mask). The smiling photos have no template:
 * their points are the neutral template moved by the difference of the project's 68-point
 * predictions (data/landmarks.*) on the two photos, stored beside the photos as .lm68 files by
 * `swaplab synth --prepare-volunteers DIR`.
 *
 * How a frame is rendered: the composite's shape is morphed neutral -> smile (the two textures
 * cross-dissolve), mouth open, blink and brow raise move template points; a 2.5-D head (an
 * ellipsoid with a nose, in units of the inter-ocular distance) gives each point a depth, so yaw,
 * pitch and roll move the mesh, triangles are painted back to front, and the light shades the
 * texture through the head's normals (shading = photo texture x light ratio). The 68 landmarks
 * travel through the same triangles (barycentric coordinates), so they are exact for the pixels.
 *
 * The right answer of a swap A -> B (composite_build_swap): A's outer head (jaw, hairline, ears,
 * hair) with B's inner face (brows, eyes, nose, mouth, cheeks; B's points moved onto A's face by a
 * similarity, B's texture inside the swap's face mask, align_face_mask), rendered with A's frame. */
#ifndef SL_SYNTH_COMPOSITE_H
#define SL_SYNTH_COMPOSITE_H

#include <jansson.h>
#include <stdint.h>

#include "data/image.h"
#include "data/synth/synth.h"
#include "util/rng.h"

#define VOL_TEM_POINTS 189   /* points of a template (.tem189) */
#define VOL_MAX 256          /* volunteers in a library */
#define VOL_BORDER 20        /* mesh points on the image border */
#define VOL_MESH_MAX (VOL_TEM_POINTS + VOL_BORDER)
#define COMP_MIN_CONTRIB 3
#define COMP_MAX_CONTRIB 4
#define COMP_CARICATURE 1.5f  /* a composite's shape is pushed this far from the library's mean
                                 shape (shape caricature), so averaging does not make everyone alike */
#define COMP_MAX_WEIGHT 0.40f /* no contributor weighs more: the result is nobody */
#define COMP_TEX 512          /* side of the photos and of a composite's texture */
#define VOL_LICENCE "CC BY 4.0 (Face Research Lab London Set, DeBruine & Jones 2017, doi:10.6084/m9.figshare.5047666.v5)"
#define VOL_CONSENT_STATEMENT                                                                      \
    "All individuals gave signed consent for their images to be \"used in lab-based and web-based " \
    "studies in their original or altered forms and to illustrate research (e.g., in scientific "   \
    "journals, news media or presentations).\""

typedef struct {
    char id[32];                   /* "london_001": the file prefix and the consent subject */
    char sha_neutral[65], sha_smiling[65], sha_tem[65]; /* SHA-256 of the three files */
    float tem[2][VOL_TEM_POINTS][2]; /* neutral template; smiling estimate (see above) */
    float lm[2][68][2];            /* 68 points predicted on the neutral / smiling photo */
} Volunteer;

/* A library of volunteers: the folder's templates and point files (photos are read on demand), and
 * one triangulation of the mean shape shared by every face. */
typedef struct {
    char dir[4096];
    int n;
    Volunteer *v;
    int nmesh;                 /* mesh vertices: kept template points, then VOL_BORDER border points */
    int mesh_tem[VOL_MESH_MAX];/* template index of mesh vertex i, -1 for a border point */
    float border[VOL_BORDER][2];
    int ntri;
    int (*tri)[3];
    unsigned char *tri_mouth;  /* 1: the triangle lies between the inner lips (dark when open) */
    float mean[VOL_MESH_MAX][2]; /* the mean neutral shape (pupils at the library's mean place) */
    float avg[2][VOL_MESH_MAX][2]; /* the mean neutral and smiling shapes, pupils aligned alike */
} VolunteerLib;

/* $SWAPLAB_VOLUNTEERS if set, else data/volunteers beside the swaplab executable (or one folder
 * above it, for build/swaplab), else ./data/volunteers. Returns a static-free copy in out. */
void vol_default_dir(char *out, size_t n);

/* Reads every london-style volunteer of dir: ID_neutral.jpg, ID_smiling.jpg, ID_neutral.tem189,
 * ID_neutral.lm68, ID_smiling.lm68 (IDs from the *_neutral.tem189 files). A missing or corrupt
 * file, a template with another point count: -1 with err naming the file. Fewer than
 * COMP_MIN_CONTRIB volunteers is an error too. Hashes every file (the consent record). */
int vol_lib_open(const char *dir, VolunteerLib *lib, SlErr *err);
void vol_lib_free(VolunteerLib *lib);
/* Index of volunteer id, or -1. */
int vol_lib_find(const VolunteerLib *lib, const char *id);
/* Loads volunteer i's photo (0 neutral, 1 smiling) as RGB COMP_TEX x COMP_TEX; checks its digest. */
int vol_load_photo(const VolunteerLib *lib, int i, int which, Image *out, SlErr *err);
/* Writes ID_neutral.lm68 and ID_smiling.lm68 for every volunteer of dir: Haar box (haar.c) and the
 * 68-point predictor (landmarks.c), the model files at their default paths. */
int vol_prepare_landmarks(const char *dir, SlErr *err);
/* Reads a point file: first line the count, then "x<TAB>y" lines; want = expected count. */
int vol_read_points(const char *path, int want, float (*pts)[2], SlErr *err);

/* A composite person: which volunteers, with which weights. */
typedef struct {
    int k;
    int idx[COMP_MAX_CONTRIB];  /* indices into the library */
    float w[COMP_MAX_CONTRIB];  /* sum 1, each <= COMP_MAX_WEIGHT */
} CompositeRecipe;

/* Draws k in COMP_MIN_CONTRIB..COMP_MAX_CONTRIB distinct volunteers and their weights from rng. */
void composite_recipe_draw(const VolunteerLib *lib, SlRng *rng, CompositeRecipe *r);
/* Nobody's double (issue 15, item 6): no composite may be closer to one of its contributors than
 * that contributor's own neutral and smiling photos are to each other. ratio[j] (j < r->k) is the
 * composite_descriptor distance of the composite's neutral frontal frame (composite_frame_neutral,
 * 256x256; only the neutral texture is built) to contributor j's neutral photo, divided by the
 * distance between that contributor's own neutral and smiling photos (both photos with their
 * .lm68 points). Reads the contributors' photos (a missing or changed one: -1, err names it). */
#define COMP_DISTINCT_MARGIN 1.05f /* every ratio must exceed this (5% beyond the own pair) */
#define COMP_DISTINCT_TRIES 32     /* draws before composite_recipe_draw_distinct gives up */
int composite_recipe_ratios(const VolunteerLib *lib, const CompositeRecipe *r, float ratio[COMP_MAX_CONTRIB], SlErr *err);
/* composite_recipe_draw, repeated on the same rng until every ratio of the recipe exceeds
 * COMP_DISTINCT_MARGIN: deterministic for a given rng state. After COMP_DISTINCT_TRIES draws
 * without one: -1, err naming the library. What `swaplab synth` draws. */
int composite_recipe_draw_distinct(const VolunteerLib *lib, SlRng *rng, CompositeRecipe *r, SlErr *err);
/* {"style":"composite","contributors":[{"id","weight","neutral_sha256","smiling_sha256",
 * "template_sha256"}...]}; from_json checks ids exist and digests match the library. */
json_t *composite_recipe_to_json(const VolunteerLib *lib, const CompositeRecipe *r);
int composite_recipe_from_json(const VolunteerLib *lib, const json_t *j, CompositeRecipe *r, SlErr *err);
/* 1 when an identity JSON object is a composite recipe. */
int composite_json_is(const json_t *identity);
/* The consent manifest's "contributors" array: per contributor its subject (id), its images
 * (path + sha256), the licence and the consent statement. */
json_t *composite_contributors_json(const VolunteerLib *lib, const CompositeRecipe *r);

typedef struct {
    Image tex[2];                      /* RGBA COMP_TEX^2, neutral and smiling; alpha = person */
    Image half[2];                     /* the same at half size (for small frames) */
    float pts[2][VOL_MESH_MAX][2];     /* mesh vertices on the two textures */
    float lm[2][68][2];                /* the 68 landmarks on the two textures */
    float iod, cx, cy;                 /* inter-ocular distance and pupil midpoint (neutral) */
} Composite;

int composite_build(const VolunteerLib *lib, const CompositeRecipe *r, Composite *c, SlErr *err);
/* The perfect A -> B swap's person: outer head of a, inner face of b (see the top). */
int composite_build_swap(const VolunteerLib *lib, const CompositeRecipe *outer,
                         const CompositeRecipe *inner, Composite *c, SlErr *err);
/* The same with expressions 1: the neutral texture only (enough to render frames whose smile is 0;
 * about half the work), 2: both (= composite_build_swap). */
int composite_build_swap_n(const VolunteerLib *lib, const CompositeRecipe *outer, const CompositeRecipe *inner,
                           int expressions, Composite *c, SlErr *err);
/* The swap person from the two people already built (composite_build, or any build with at least
 * `expressions` textures): the same pixels as composite_build_swap_n on their recipes, without
 * building them again (callers that swap many pairs keep each person once). c is allocated. */
void composite_swap_of(const VolunteerLib *lib, const Composite *outer, const Composite *inner, int expressions,
                       Composite *c);
void composite_free(Composite *c);

/* What a composite frame adds to SynthFrame (whose pose composite_frame_random keeps within yaw
 * +-22, pitch +-10 and roll +-15: a frontal photo turned further on the 2.5-D head shears nose and
 * mouth; a clip's smooth motion, composite_clip_frame, within yaw +-25, pitch and roll +-15): the
 * JPEG quality of the camera (0: none). */
typedef struct {
    SynthFrame f;
    int jpeg_quality;
} CompFrame;

void composite_frame_random(CompFrame *fr, SlRng *rng);
void composite_frame_neutral(CompFrame *fr);
json_t *composite_frame_to_json(const CompFrame *fr);
int composite_frame_from_json(const json_t *j, CompFrame *fr, SlErr *err);

/* Renders a size x size RGB frame (allocated; image_free) and its 68 landmarks (pixel centres at
 * +0.5, like synth_render). The smile (fr->f.smile) morphs the shape everywhere but takes the
 * smiling texture on the inner face only; hair, ears, neck and clothes stay the neutral photo's
 * (two outlines cross-faded are a double exposure). Deterministic. size 16..4096. */
void composite_render(const VolunteerLib *lib, const Composite *c, const CompFrame *fr, int size,
                      Image *out, float lm[68][2]);

/* A plain identity descriptor for measurements (bench, tests): the face aligned from its 68
 * landmarks (align_face, 96 px, coverage 0.8), grey, and its uniform LBP histograms over an 8 x 8
 * grid (Ahonen et al. 2006) after Tan & Triggs' illumination normalisation (gamma 0.2, difference
 * of blurs), square-rooted; compare with composite_desc_dist (L2). */
#define COMP_DESC_GRID 8
#define COMP_DESC_ROWS 8 /* cell rows used (all: the mouth too) */
#define COMP_DESC_LEN (COMP_DESC_GRID * COMP_DESC_ROWS * 59)
int composite_descriptor(const Image *frame, const float lm[68][2], float *desc, SlErr *err);
float composite_desc_dist(const float *a, const float *b);

/* ---- clips (--video): 25 fps, smooth head motion, blinks 15-20 a minute of 100-400 ms, talking,
 * slow light drift. A clip is its seed and base frame; frame t is a pure function of them. */
#define CLIP_FPS 25
typedef struct {
    CompFrame base;         /* background, camera, noise level, JPEG: fixed over the clip */
    int nframes;
    float blink_t[64], blink_len[64]; /* blink starts and durations (seconds) */
    int nblinks;
    float ph[12];           /* phases and rates of the smooth motions */
    float talk_on[16], talk_off[16];  /* talking segments (seconds) */
    int ntalk;
    uint64_t seed;
} ClipPlan;

void composite_clip_plan(ClipPlan *p, int nframes, SlRng *rng);
/* Frame t's parameters (base + motion at t / CLIP_FPS seconds). */
void composite_clip_frame(const ClipPlan *p, int t, CompFrame *fr);

#endif
