/* conv_dnnl.c — convolutions on oneDNN's primitives (Debian's libdnnl, the library PyTorch's CPU
 * convolutions run on) when built with SL_HAVE_DNNL: blocked-layout JIT kernels (direct, or
 * Winograd F(4x4,3x3) for 3x3 stride 1) that ran the presets' layers 1.2-3x faster than the
 * engine's own im2col and Winograd paths on the 2-CPU AVX-512 EPYC of docs/PERFORMANCE.md.
 *
 * The engine's tensors are NCHW, and each call reorders the input, weights and output gradient into
 * the layouts the primitive chose and the results back (adding into din and dw, as every backward
 * of ops.h does, with a reorder whose sum post-op adds), except for activations a net keeps in the
 * blocked layout (act: NN_ACT_SRC, NN_ACT_DST; ops.h, blocked.c), which the primitive, made for that
 * layout, reads and writes as they are. Primitives are made once per shape and
 * thread count and kept in a process-wide table; the blocked copies and the primitives' scratchpad
 * live in a per-thread arena that grows to the largest layer, so calls from several threads at once
 * are safe and the engine's workspace sizes do not change.
 * API: https://oneapi-src.github.io/oneDNN/v2/dev_guide_convolution.html (oneDNN 2.x C API) */
#include "nn/ops/ops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#ifdef SL_HAVE_DNNL
#include <dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int dnnl_conv_on = -1; /* -1: not yet read from SL_CONV */
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t eng;

int conv_dnnl_enabled(void) {
    if (dnnl_conv_on < 0) {
        const char *e = getenv("SL_CONV");
        int on = !(e && !strcmp(e, "own"));
        pthread_mutex_lock(&tab_mu);
        if (dnnl_conv_on < 0) dnnl_conv_on = on;
        pthread_mutex_unlock(&tab_mu);
    }
    return dnnl_conv_on;
}
void conv_dnnl_set(int on) {
    conv_dnnl_enabled();
    dnnl_conv_on = on ? 1 : 0;
}

/* The channel block of the blocked activation layout (nChw16c where oneDNN runs AVX-512 kernels,
 * else nChw8c: the layouts its direct and Winograd kernels read and write), 0 when off. */
static int act_block = -1;
static int isa_block(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? 16 : 8;
}
int conv_dnnl_block(void) {
    if (!conv_dnnl_enabled()) return 0;
    if (__atomic_load_n(&act_block, __ATOMIC_RELAXED) < 0) {
        const char *e = getenv("SL_ACT_LAYOUT");
        /* the same value from every thread that computes it (no lock: entry_build asks with tab_mu held) */
        __atomic_store_n(&act_block, e && !strcmp(e, "plain") ? 0 : isa_block(), __ATOMIC_RELAXED);
    }
    return __atomic_load_n(&act_block, __ATOMIC_RELAXED);
}

/* A reorder between two layouts, or none when they are the same. */
typedef struct {
    dnnl_primitive_t p;
    size_t bytes; /* of the blocked side, in the arena */
} Reorder;

/* An inference forward: its primitive and the layouts it chose. */
typedef struct {
    int tried;
    float slope;
    dnnl_primitive_t p; /* NULL: oneDNN has none */
    dnnl_memory_desc_t src, w, dst;
    Reorder src_in, w_in, dst_out;
    size_t scratch;
} Inf;

typedef struct Entry {
    int key[10]; /* B, Cin, H, W, Cout, K, S, winograd asked, threads, act (NN_ACT_*: the caller's layouts) */
    int alg;    /* NN_CONV_DNNL_DIRECT or NN_CONV_DNNL_WINO, or 0: oneDNN has no kernel for it */
    dnnl_memory_desc_t src_pl, w_pl, dst_pl, b_md;
    /* forward; fwd_leaky: the same with leaky ReLU of slope leaky_slope as a post-op (built on first
     * use, for one slope; 0 when oneDNN has none) */
    dnnl_primitive_t fwd, fwd_leaky;
    float leaky_slope;
    int leaky_tried;
    dnnl_memory_desc_t f_src, f_w, f_dst;
    Reorder f_src_in, f_w_in, f_dst_out;
    size_t f_scratch;
    /* backward data and weights */
    dnnl_primitive_t bwd_d, bwd_w;
    dnnl_memory_desc_t d_dsrc, d_w, d_ddst, w_src, w_dw, w_ddst;
    Reorder d_ddst_in, d_w_in, d_dsrc_add, d_dsrc_out, w_src_in, w_ddst_in, w_dw_add;
    size_t d_scratch, w_scratch;
    /* inference forwards (forward_inference: the primitive may keep weights in a layout of its own,
     * Winograd's pre-transformed one), plain [0] and with a leaky ReLU post-op [1], built on first use */
    Inf inf[2];
    struct Entry *next;
} Entry;
static Entry *table;

#define CK(x) (x) == dnnl_success

static int reorder_make(Reorder *r, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, int add,
                        const dnnl_memory_desc_t *blocked) {
    memset(r, 0, sizeof *r);
    r->bytes = dnnl_memory_desc_get_size(blocked);
    if (!add && dnnl_memory_desc_equal(from, to)) return 1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int ok = 1;
    if (add) {
        ok = CK(dnnl_primitive_attr_create(&attr)) && CK(dnnl_post_ops_create(&po)) &&
             CK(dnnl_post_ops_append_sum(po, 1.0f)) && CK(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    dnnl_primitive_desc_t pd = NULL;
    ok = ok && CK(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr)) && CK(dnnl_primitive_create(&r->p, pd));
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

static size_t scratch_size(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}
static dnnl_memory_desc_t pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t q) {
    return *dnnl_primitive_desc_query_md(pd, q, 0);
}

static int threads_set(int n) {
#ifdef _OPENMP
    if (!omp_in_parallel() && omp_get_max_threads() != n) {
        int prev = omp_get_max_threads();
        omp_set_num_threads(n);
        return prev;
    }
#endif
    (void)n;
    return 0;
}
static void threads_restore(int prev) {
#ifdef _OPENMP
    if (prev) omp_set_num_threads(prev);
#endif
    (void)prev;
}

/* Builds the primitives of one shape; 0 when oneDNN has no implementation for it. */
static int entry_build(Entry *e, int wino) {
    int B = e->key[0], Cin = e->key[1], H = e->key[2], W = e->key[3], Cout = e->key[4], K = e->key[5], S = e->key[6];
    int act = e->key[9];
    dnnl_format_tag_t blk = act && conv_dnnl_block() == 16 ? dnnl_nChw16c : dnnl_nChw8c;
    int P = K / 2, Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    dnnl_dims_t sd = {B, Cin, H, W}, wd = {Cout, Cin, K, K}, bd = {Cout}, dd = {B, Cout, Ho, Wo};
    dnnl_dims_t st = {S, S}, pl = {P, P}, pr = {(Ho - 1) * S + K - H - P, (Wo - 1) * S + K - W - P};
    dnnl_memory_desc_t s_any, w_any, d_any;
    /* the caller's layouts: NCHW, or blocked where act says so (the primitive then reads and writes
     * them as they are: no reorders of activations) */
    if (!(CK(dnnl_memory_desc_init_by_tag(&e->src_pl, 4, sd, dnnl_f32, act & NN_ACT_SRC ? blk : dnnl_nchw)) &&
          CK(dnnl_memory_desc_init_by_tag(&e->w_pl, 4, wd, dnnl_f32, dnnl_oihw)) &&
          CK(dnnl_memory_desc_init_by_tag(&e->dst_pl, 4, dd, dnnl_f32, act & NN_ACT_DST ? blk : dnnl_nchw)) &&
          CK(dnnl_memory_desc_init_by_tag(&e->b_md, 1, bd, dnnl_f32, dnnl_x)) &&
          CK(dnnl_memory_desc_init_by_tag(&s_any, 4, sd, dnnl_f32, dnnl_format_tag_any)) &&
          CK(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any)) &&
          CK(dnnl_memory_desc_init_by_tag(&d_any, 4, dd, dnnl_f32, dnnl_format_tag_any))))
        return 0;
    if (act & NN_ACT_SRC) s_any = e->src_pl;
    if (act & NN_ACT_DST) d_any = e->dst_pl;
    dnnl_primitive_attr_t attr;
    if (!CK(dnnl_primitive_attr_create(&attr))) return 0;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
    dnnl_convolution_desc_t cd;
    int ok = 0;
    /* Winograd where asked and oneDNN has it for the shape, else direct */
    for (int tryw = wino; tryw >= 0 && !fpd; tryw--) {
        dnnl_alg_kind_t alg = tryw ? dnnl_convolution_winograd : dnnl_convolution_direct;
        if (!CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &s_any, &w_any, &e->b_md, &d_any, st, pl, pr)))
            continue;
        if (!CK(dnnl_primitive_desc_create(&fpd, &cd, attr, eng, NULL))) {
            fpd = NULL;
            continue;
        }
        dnnl_convolution_desc_t dcd, wcd;
        if (!(CK(dnnl_convolution_backward_data_desc_init(&dcd, alg, &s_any, &w_any, &d_any, st, pl, pr)) &&
              CK(dnnl_primitive_desc_create(&dpd, &dcd, attr, eng, fpd)) &&
              CK(dnnl_convolution_backward_weights_desc_init(&wcd, alg, &s_any, &w_any, &e->b_md, &d_any, st, pl, pr)) &&
              CK(dnnl_primitive_desc_create(&wpd, &wcd, attr, eng, fpd)))) {
            if (dpd) dnnl_primitive_desc_destroy(dpd);
            dnnl_primitive_desc_destroy(fpd);
            fpd = dpd = wpd = NULL;
            continue;
        }
        e->alg = tryw ? NN_CONV_DNNL_WINO : NN_CONV_DNNL_DIRECT;
    }
    dnnl_primitive_attr_destroy(attr);
    if (!fpd) return 0;
    e->f_src = pd_md(fpd, dnnl_query_src_md), e->f_w = pd_md(fpd, dnnl_query_weights_md), e->f_dst = pd_md(fpd, dnnl_query_dst_md);
    e->d_dsrc = pd_md(dpd, dnnl_query_diff_src_md), e->d_w = pd_md(dpd, dnnl_query_weights_md),
    e->d_ddst = pd_md(dpd, dnnl_query_diff_dst_md);
    e->w_src = pd_md(wpd, dnnl_query_src_md), e->w_dw = pd_md(wpd, dnnl_query_diff_weights_md),
    e->w_ddst = pd_md(wpd, dnnl_query_diff_dst_md);
    e->f_scratch = scratch_size(fpd), e->d_scratch = scratch_size(dpd), e->w_scratch = scratch_size(wpd);
    ok = CK(dnnl_primitive_create(&e->fwd, fpd)) && CK(dnnl_primitive_create(&e->bwd_d, dpd)) &&
         CK(dnnl_primitive_create(&e->bwd_w, wpd)) &&
         reorder_make(&e->f_src_in, &e->src_pl, &e->f_src, 0, &e->f_src) &&
         reorder_make(&e->f_w_in, &e->w_pl, &e->f_w, 0, &e->f_w) &&
         reorder_make(&e->f_dst_out, &e->f_dst, &e->dst_pl, 0, &e->f_dst) &&
         reorder_make(&e->d_ddst_in, &e->dst_pl, &e->d_ddst, 0, &e->d_ddst) &&
         reorder_make(&e->d_w_in, &e->w_pl, &e->d_w, 0, &e->d_w) &&
         reorder_make(&e->d_dsrc_add, &e->d_dsrc, &e->src_pl, 1, &e->d_dsrc) &&
         reorder_make(&e->d_dsrc_out, &e->d_dsrc, &e->src_pl, 0, &e->d_dsrc) &&
         reorder_make(&e->w_src_in, &e->src_pl, &e->w_src, 0, &e->w_src) &&
         reorder_make(&e->w_ddst_in, &e->dst_pl, &e->w_ddst, 0, &e->w_ddst) &&
         reorder_make(&e->w_dw_add, &e->w_dw, &e->w_pl, 1, &e->w_dw);
    dnnl_primitive_desc_destroy(fpd), dnnl_primitive_desc_destroy(dpd), dnnl_primitive_desc_destroy(wpd);
    return ok;
}

/* The forward primitive with a leaky ReLU post-op, on the layouts the plain forward chose (so that
 * its reorders serve both). Called with tab_mu held. */
static void entry_build_leaky(Entry *e, float slope) {
    e->leaky_tried = 1, e->leaky_slope = slope;
    int S = e->key[6], K = e->key[5], H = e->key[2], W = e->key[3], P = K / 2;
    int Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    dnnl_dims_t st = {S, S}, pl = {P, P}, pr = {(Ho - 1) * S + K - H - P, (Wo - 1) * S + K - W - P};
    dnnl_alg_kind_t alg = e->alg == NN_CONV_DNNL_WINO ? dnnl_convolution_winograd : dnnl_convolution_direct;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_convolution_desc_t cd;
    int ok = CK(dnnl_primitive_attr_create(&attr)) && CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) &&
             CK(dnnl_post_ops_create(&po)) && CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, slope, 0.0f)) &&
             CK(dnnl_primitive_attr_set_post_ops(attr, po)) &&
             CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &e->f_src, &e->f_w, &e->b_md, &e->f_dst, st, pl, pr)) &&
             CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL)) && scratch_size(pd) <= e->f_scratch &&
             CK(dnnl_primitive_create(&e->fwd_leaky, pd));
    if (!ok) e->fwd_leaky = NULL;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
}

static Entry *entry_get(int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int nthreads, int act) {
    int key[10] = {B, Cin, H, W, Cout, K, S, wino, nthreads, act};
    pthread_mutex_lock(&tab_mu);
    Entry *e = table;
    while (e && memcmp(e->key, key, sizeof key)) e = e->next;
    if (!e) {
        if (!eng && !CK(dnnl_engine_create(&eng, dnnl_cpu, 0))) eng = NULL;
        e = xcalloc(1, sizeof *e);
        memcpy(e->key, key, sizeof key);
        if (eng) {
            /* primitives pick their blocking for the thread count they will run on */
            int prev = threads_set(nthreads);
            if (!entry_build(e, wino)) e->alg = 0;
            threads_restore(prev);
        }
        e->next = table;
        table = e;
    }
    pthread_mutex_unlock(&tab_mu);
    return e;
}

int conv_dnnl_alg(int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int nthreads) {
    if (!conv_dnnl_enabled()) return 0;
    return entry_get(B, Cin, H, W, Cout, K, S, wino, nthreads, 0)->alg;
}

/* ---- per-thread arena and stream ---------------------------------------------------------------- */
typedef struct {
    char *buf;
    size_t cap;
    dnnl_stream_t stream;
} Arena;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static void arena_free(void *p) {
    Arena *a = p;
    if (a->stream) dnnl_stream_destroy(a->stream);
    free(a->buf);
    free(a);
}
static void arena_init(void) { pthread_key_create(&arena_key, arena_free); }

#define ALIGN 64
static size_t up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static Arena *arena_get(size_t need) {
    pthread_once(&arena_once, arena_init);
    Arena *a = pthread_getspecific(arena_key);
    if (!a) {
        a = xcalloc(1, sizeof *a);
        pthread_setspecific(arena_key, a);
    }
    if (!a->stream && !CK(dnnl_stream_create(&a->stream, eng, dnnl_stream_default_flags))) a->stream = NULL;
    if (need > a->cap) {
        free(a->buf);
        a->buf = NULL;
        if (posix_memalign((void **)&a->buf, ALIGN, need)) SL_DIE("out of memory (%zu bytes for oneDNN's convolution buffers)", need);
        a->cap = need;
    }
    return a;
}

size_t conv_dnnl_arena_bytes(void) {
    pthread_once(&arena_once, arena_init);
    const Arena *a = pthread_getspecific(arena_key);
    return a ? a->cap : 0;
}

/* Memory objects are made per call (cheap) so that no two threads share one. */
static dnnl_memory_t mem(const dnnl_memory_desc_t *md, const void *p) {
    dnnl_memory_t m;
    if (!CK(dnnl_memory_create(&m, md, eng, (void *)p))) SL_DIE("oneDNN: cannot wrap a buffer");
    return m;
}
static void run(dnnl_primitive_t p, dnnl_stream_t s, int n, const dnnl_exec_arg_t *args) {
    if (!CK(dnnl_primitive_execute(p, s, n, args))) SL_DIE("oneDNN: a convolution primitive failed");
}
/* from -> to (the reorder's layouts) */
static void reorder_run(const Reorder *r, dnnl_stream_t s, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    run(r->p, s, 2, a);
}
/* The memory a primitive reads for a plain input: the plain buffer itself, or its copy in the
 * arena at *off in the primitive's layout. */
static dnnl_memory_t stage_in(const Reorder *r, const dnnl_memory_desc_t *pl, const dnnl_memory_desc_t *bl, const float *x,
                              Arena *a, size_t *off) {
    if (!r->p) return mem(pl, x);
    dnnl_memory_t from = mem(pl, x), to = mem(bl, a->buf + *off);
    *off += up(r->bytes);
    reorder_run(r, a->stream, from, to);
    dnnl_memory_destroy(from);
    return to;
}
static dnnl_memory_t scratch(Arena *a, size_t off, size_t bytes) {
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {(dnnl_dim_t)(bytes ? bytes : 1)};
    dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_u8, dnnl_x);
    return mem(&md, a->buf + off);
}

/* Runs a forward primitive on its staged input mx and weights mw (both destroyed here), with the
 * bias b (NULL: zeros) and its output at arena offset off when dst_out reorders it into out. */
static void exec_forward(dnnl_primitive_t prim, const Entry *e, Arena *a, size_t off, dnnl_memory_t mx, dnnl_memory_t mw,
                         const float *b, const dnnl_memory_desc_t *dst, const Reorder *dst_out, size_t scratch_bytes,
                         float *out) {
    float *zero_b = NULL;
    if (!b) zero_b = xcalloc((size_t)e->key[4], sizeof(float));
    dnnl_memory_t mb = mem(&e->b_md, b ? b : zero_b);
    dnnl_memory_t my = dst_out->p ? mem(dst, a->buf + off) : mem(&e->dst_pl, out);
    off += up(dst_out->bytes);
    dnnl_memory_t ms = scratch(a, off, scratch_bytes);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my}, {DNNL_ARG_SCRATCHPAD, ms}};
    run(prim, a->stream, 5, args);
    if (dst_out->p) {
        dnnl_memory_t mo = mem(&e->dst_pl, out);
        reorder_run(dst_out, a->stream, my, mo);
        dnnl_memory_destroy(mo);
    }
    dnnl_memory_destroy(mx), dnnl_memory_destroy(mw), dnnl_memory_destroy(mb), dnnl_memory_destroy(my), dnnl_memory_destroy(ms);
    free(zero_b);
}

/* Whether the input copy the forward makes serves the weight gradient as it is (the same layout). */
static int keepable(const Entry *e) { return e->f_src_in.p && e->w_src_in.p && dnnl_memory_desc_equal(&e->f_src, &e->w_src); }

/* Whether the backward reorders dout once for both passes (both read it in the same layout, the usual
 * case), and the arena bytes the backward needs: that shared copy, then the larger of the two passes. */
static int bwd_shares(const Entry *e) { return e->d_ddst_in.p && e->w_ddst_in.p && dnnl_memory_desc_equal(&e->d_ddst, &e->w_ddst); }
static size_t bwd_need(const Entry *e, int Cout, int share) {
    size_t need_d = up(e->d_ddst_in.bytes) + up(e->d_w_in.bytes) + up(e->d_dsrc_add.bytes) + up(e->d_scratch);
    size_t need_w = up(e->w_src_in.bytes) + up(e->w_ddst_in.bytes) + up(e->w_dw_add.bytes) + up(sizeof(float) * Cout) +
                    up(e->w_scratch);
    size_t base = share ? up(e->d_ddst_in.bytes) : 0;
    if (share) need_d -= base, need_w -= up(e->w_ddst_in.bytes);
    return base + (need_d > need_w ? need_d : need_w) + ALIGN;
}

static int forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                   int K, int S, int wino, int leaky, float slope, ConvKeep *keep, const void *tag, int nthreads, int act) {
    const int training = keep != NULL || act; /* a backward of this layer follows */
    if (keep) keep->owner = NULL;
    if (!conv_dnnl_enabled() || (act && !conv_dnnl_block())) return -1;
    Entry *e = entry_get(B, Cin, H, W, Cout, K, S, wino, nthreads, act);
    if (!e->alg) return -1;
    dnnl_primitive_t prim = e->fwd;
    if (leaky) {
        pthread_mutex_lock(&tab_mu);
        if (!e->leaky_tried) {
            int prev = threads_set(nthreads);
            entry_build_leaky(e, slope);
            threads_restore(prev);
        }
        prim = e->leaky_slope == slope ? e->fwd_leaky : NULL;
        pthread_mutex_unlock(&tab_mu);
        if (!prim) return -1;
    }
    if (keep && !keepable(e)) keep = NULL;
    size_t need = up(e->f_src_in.bytes) + up(e->f_w_in.bytes) + up(e->f_dst_out.bytes) + up(e->f_scratch) + ALIGN;
    /* In training the arena is grown here to what this layer's backward will need too, so that it
     * reaches its final size in the first forward pass, whose later layers then touch its pages:
     * grown in the backward instead, the pages the earlier layers use were first touched (page
     * faults) in the second step, which ran 1.6-1.8x as long as the next ones (ResNet-10, batch 64). */
    if (training) {
        size_t nb = bwd_need(e, Cout, bwd_shares(e));
        if (nb > need) need = nb;
    }
    Arena *a = arena_get(need);
    if (!a->stream) return -1;
    int prev = threads_set(nthreads);
    size_t off = 0;
    dnnl_memory_t mx;
    if (keep) { /* the input's copy into the layer's buffer, where the backward finds it */
        if (keep->cap < e->f_src_in.bytes) {
            free(keep->buf);
            keep->buf = NULL;
            if (posix_memalign(&keep->buf, ALIGN, e->f_src_in.bytes))
                SL_DIE("out of memory (%zu bytes for a layer's kept input)", e->f_src_in.bytes);
            keep->cap = e->f_src_in.bytes;
        }
        dnnl_memory_t from = mem(&e->src_pl, in);
        mx = mem(&e->f_src, keep->buf);
        reorder_run(&e->f_src_in, a->stream, from, mx);
        dnnl_memory_destroy(from);
        keep->owner = e, keep->tag = tag;
    } else {
        mx = stage_in(&e->f_src_in, &e->src_pl, &e->f_src, in, a, &off);
    }
    dnnl_memory_t mw = stage_in(&e->f_w_in, &e->w_pl, &e->f_w, w, a, &off);
    exec_forward(prim, e, a, off, mx, mw, b, &e->f_dst, &e->f_dst_out, e->f_scratch, out);
    threads_restore(prev);
    return 0;
}

int conv_dnnl_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                      int Cout, int K, int S, int wino, int leaky, float slope, ConvKeep *keep, const void *tag,
                      int nthreads) {
    return forward(out, in, w, b, B, Cin, H, W, Cout, K, S, wino, leaky, slope, keep, tag, nthreads, 0);
}

int conv_dnnl_forward_act(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, int wino, int act, int nthreads) {
    return forward(out, in, w, b, B, Cin, H, W, Cout, K, S, wino, 0, 0.0f, NULL, NULL, nthreads, act);
}

int conv_dnnl_kept(const ConvKeep *keep, const void *tag, int B, int Cin, int H, int W, int Cout, int K, int S, int wino,
                   int nthreads) {
    if (!keep || !keep->owner || keep->tag != tag || !conv_dnnl_enabled()) return 0;
    return keep->owner == entry_get(B, Cin, H, W, Cout, K, S, wino, nthreads, 0);
}

static int backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B, int Cin,
                    int H, int W, int Cout, int K, int S, int wino, const ConvKeep *keep, const void *tag, int din_write,
                    int nthreads, int act) {
    if (!conv_dnnl_enabled() || (act && !conv_dnnl_block())) return -1;
    Entry *e = entry_get(B, Cin, H, W, Cout, K, S, wino, nthreads, act);
    if (!e->alg) return -1;
    int kept = keep && keep->owner == e && keep->tag == tag;
    const Reorder *dsrc_out = din_write ? &e->d_dsrc_out : &e->d_dsrc_add;
    /* both passes read dout in the same layout (the usual case): reorder it once, ahead of both */
    int share = din && (dw || db) && bwd_shares(e);
    size_t base = share ? up(e->d_ddst_in.bytes) : 0;
    Arena *a = arena_get(bwd_need(e, Cout, share));
    if (!a->stream) return -1;
    int prev = threads_set(nthreads);
    dnnl_memory_t shared = NULL;
    if (share) {
        size_t off = 0;
        shared = stage_in(&e->d_ddst_in, &e->dst_pl, &e->d_ddst, dout, a, &off);
    }
    if (din) {
        size_t off = base;
        dnnl_memory_t mg = share ? shared : stage_in(&e->d_ddst_in, &e->dst_pl, &e->d_ddst, dout, a, &off);
        dnnl_memory_t mw = stage_in(&e->d_w_in, &e->w_pl, &e->d_w, w, a, &off);
        /* the input gradient in the arena, then added into din (or written: into din itself where
         * the layouts are the same) */
        dnnl_memory_t mdx = dsrc_out->p ? mem(&e->d_dsrc, a->buf + off) : mem(&e->src_pl, din);
        off += up(e->d_dsrc_add.bytes);
        dnnl_memory_t ms = scratch(a, off, e->d_scratch);
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, mg}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, mdx}, {DNNL_ARG_SCRATCHPAD, ms}};
        run(e->bwd_d, a->stream, 4, args);
        if (dsrc_out->p) {
            dnnl_memory_t mo = mem(&e->src_pl, din);
            reorder_run(dsrc_out, a->stream, mdx, mo); /* din += or din = */
            dnnl_memory_destroy(mo);
        }
        if (!share) dnnl_memory_destroy(mg);
        dnnl_memory_destroy(mw), dnnl_memory_destroy(mdx), dnnl_memory_destroy(ms);
    }
    if (dw || db) {
        size_t off = base;
        dnnl_memory_t mx = kept ? mem(&e->w_src, keep->buf) : stage_in(&e->w_src_in, &e->src_pl, &e->w_src, in, a, &off);
        dnnl_memory_t mg = share ? shared : stage_in(&e->w_ddst_in, &e->dst_pl, &e->w_ddst, dout, a, &off);
        dnnl_memory_t mdw = mem(&e->w_dw, a->buf + off);
        off += up(e->w_dw_add.bytes);
        float *gb = (float *)(a->buf + off);
        dnnl_memory_t mdb = mem(&e->b_md, gb);
        off += up(sizeof(float) * Cout);
        dnnl_memory_t ms = scratch(a, off, e->w_scratch);
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mg}, {DNNL_ARG_DIFF_WEIGHTS, mdw},
                                   {DNNL_ARG_DIFF_BIAS, mdb}, {DNNL_ARG_SCRATCHPAD, ms}};
        run(e->bwd_w, a->stream, 5, args);
        if (dw) {
            dnnl_memory_t mo = mem(&e->w_pl, dw);
            reorder_run(&e->w_dw_add, a->stream, mdw, mo); /* dw += */
            dnnl_memory_destroy(mo);
        }
        if (db)
            for (int co = 0; co < Cout; co++) db[co] += gb[co];
        if (!share) dnnl_memory_destroy(mg);
        dnnl_memory_destroy(mx), dnnl_memory_destroy(mdw), dnnl_memory_destroy(mdb), dnnl_memory_destroy(ms);
    }
    if (shared) dnnl_memory_destroy(shared);
    threads_restore(prev);
    return 0;
}

int conv_dnnl_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                       int Cin, int H, int W, int Cout, int K, int S, int wino, const ConvKeep *keep, const void *tag,
                       int din_write, int nthreads) {
    return backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, wino, keep, tag, din_write, nthreads, 0);
}

int conv_dnnl_backward_act(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                           int Cin, int H, int W, int Cout, int K, int S, int wino, int act, int nthreads) {
    return backward(din, dw, db, dout, in, w, B, Cin, H, W, Cout, K, S, wino, NULL, NULL, 1, nthreads, act);
}


/* ---- inference: weights kept in the primitive's layout between calls --------------------------- */
/* Builds e's inference forward (leaky: with the post-op of slope). Called with tab_mu held. */
static void inf_build(Entry *e, Inf *I, int leaky, float slope) {
    I->tried = 1, I->slope = slope;
    int B = e->key[0], Cin = e->key[1], H = e->key[2], W = e->key[3], Cout = e->key[4], K = e->key[5], S = e->key[6];
    int P = K / 2, Ho = conv_out_size(H, K, S), Wo = conv_out_size(W, K, S);
    dnnl_dims_t sd = {B, Cin, H, W}, wd = {Cout, Cin, K, K}, dd = {B, Cout, Ho, Wo};
    dnnl_dims_t st = {S, S}, pl = {P, P}, pr = {(Ho - 1) * S + K - H - P, (Wo - 1) * S + K - W - P};
    dnnl_alg_kind_t alg = e->alg == NN_CONV_DNNL_WINO ? dnnl_convolution_winograd : dnnl_convolution_direct;
    dnnl_memory_desc_t s_any, w_any, d_any;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_convolution_desc_t cd;
    int ok = CK(dnnl_memory_desc_init_by_tag(&s_any, 4, sd, dnnl_f32, dnnl_format_tag_any)) &&
             CK(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any)) &&
             CK(dnnl_memory_desc_init_by_tag(&d_any, 4, dd, dnnl_f32, dnnl_format_tag_any)) &&
             CK(dnnl_primitive_attr_create(&attr)) && CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (e->key[9] & NN_ACT_SRC) s_any = e->src_pl;
    if (e->key[9] & NN_ACT_DST) d_any = e->dst_pl;
    if (ok && leaky)
        ok = CK(dnnl_post_ops_create(&po)) && CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, slope, 0.0f)) &&
             CK(dnnl_primitive_attr_set_post_ops(attr, po));
    ok = ok && CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, alg, &s_any, &w_any, &e->b_md, &d_any, st, pl, pr)) &&
         CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
    if (ok) {
        I->src = pd_md(pd, dnnl_query_src_md), I->w = pd_md(pd, dnnl_query_weights_md), I->dst = pd_md(pd, dnnl_query_dst_md);
        I->scratch = scratch_size(pd);
        ok = CK(dnnl_primitive_create(&I->p, pd)) && reorder_make(&I->src_in, &e->src_pl, &I->src, 0, &I->src) &&
             reorder_make(&I->w_in, &e->w_pl, &I->w, 0, &I->w) && reorder_make(&I->dst_out, &I->dst, &e->dst_pl, 0, &I->dst);
    }
    if (!ok) I->p = NULL;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
}

static Inf *inf_get(int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int leaky, float slope, int nthreads,
                    int act) {
    if (!conv_dnnl_enabled() || (act && !conv_dnnl_block())) return NULL;
    Entry *e = entry_get(B, Cin, H, W, Cout, K, S, wino, nthreads, act);
    if (!e->alg) return NULL;
    Inf *I = &e->inf[leaky != 0];
    pthread_mutex_lock(&tab_mu);
    if (!I->tried) {
        int prev = threads_set(nthreads);
        inf_build(e, I, leaky, slope);
        threads_restore(prev);
    }
    pthread_mutex_unlock(&tab_mu);
    return I->p && (!leaky || I->slope == slope) ? I : NULL;
}

int conv_dnnl_infer_packed(const ConvPacked *pk, int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int leaky,
                           float slope, int nthreads) {
    const Inf *I = inf_get(B, Cin, H, W, Cout, K, S, wino, leaky, slope, nthreads, 0);
    return !I ? -1 : pk && pk->owner == I;
}

static int infer(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout, int K,
                 int S, int wino, int leaky, float slope, ConvPacked *pk, int nthreads, int act) {
    Inf *I = inf_get(B, Cin, H, W, Cout, K, S, wino, leaky, slope, nthreads, act);
    if (!I) return -1;
    Entry *e = entry_get(B, Cin, H, W, Cout, K, S, wino, nthreads, act);
    int packed = pk && pk->owner == I && I->w_in.p;
    if (!w && !packed) return -1;
    size_t need = up(I->src_in.bytes) + up(I->dst_out.bytes) + up(I->scratch) + ALIGN;
    if (!pk) need += up(I->w_in.bytes);
    Arena *a = arena_get(need);
    if (!a->stream) return -1;
    int prev = threads_set(nthreads);
    size_t off = 0;
    dnnl_memory_t mx = stage_in(&I->src_in, &e->src_pl, &I->src, in, a, &off), mw;
    if (!I->w_in.p) {
        mw = mem(&e->w_pl, w); /* the primitive reads the weights as they are */
    } else if (pk) {
        if (!packed) { /* into the caller's buffer, kept for the next call */
            if (pk->cap < I->w_in.bytes) {
                free(pk->buf);
                pk->buf = NULL;
                if (posix_memalign(&pk->buf, ALIGN, I->w_in.bytes))
                    SL_DIE("out of memory (%zu bytes for a layer's packed weights)", I->w_in.bytes);
                pk->cap = I->w_in.bytes;
            }
            dnnl_memory_t from = mem(&e->w_pl, w), to = mem(&I->w, pk->buf);
            reorder_run(&I->w_in, a->stream, from, to);
            dnnl_memory_destroy(from), dnnl_memory_destroy(to);
            pk->owner = I;
        }
        mw = mem(&I->w, pk->buf);
    } else {
        mw = stage_in(&I->w_in, &e->w_pl, &I->w, w, a, &off);
    }
    exec_forward(I->p, e, a, off, mx, mw, b, &I->dst, &I->dst_out, I->scratch, out);
    threads_restore(prev);
    return 0;
}

int conv_dnnl_infer(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                    int K, int S, int wino, int leaky, float slope, ConvPacked *pk, int nthreads) {
    return infer(out, in, w, b, B, Cin, H, W, Cout, K, S, wino, leaky, slope, pk, nthreads, 0);
}

int conv_dnnl_infer_act(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, int wino, int act, ConvPacked *pk, int nthreads) {
    return infer(out, in, w, b, B, Cin, H, W, Cout, K, S, wino, 0, 0.0f, pk, nthreads, act);
}

#else /* no oneDNN in this build */
int conv_dnnl_enabled(void) { return 0; }
int conv_dnnl_block(void) { return 0; }
int conv_dnnl_forward_act(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                          int Cout, int K, int S, int wino, int act, int nthreads) {
    return -1;
}
int conv_dnnl_backward_act(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                           int Cin, int H, int W, int Cout, int K, int S, int wino, int act, int nthreads) {
    return -1;
}
int conv_dnnl_infer_act(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                        int Cout, int K, int S, int wino, int act, ConvPacked *pk, int nthreads) {
    return -1;
}
void conv_dnnl_set(int on) { (void)on; }
int conv_dnnl_alg(int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int nthreads) { return 0; }
int conv_dnnl_infer_packed(const ConvPacked *pk, int B, int Cin, int H, int W, int Cout, int K, int S, int wino, int leaky,
                           float slope, int nthreads) {
    return -1;
}
size_t conv_dnnl_arena_bytes(void) { return 0; }
int conv_dnnl_infer(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W, int Cout,
                    int K, int S, int wino, int leaky, float slope, ConvPacked *pk, int nthreads) {
    return -1;
}
int conv_dnnl_forward(float *out, const float *in, const float *w, const float *b, int B, int Cin, int H, int W,
                      int Cout, int K, int S, int wino, int leaky, float slope, ConvKeep *keep, const void *tag,
                      int nthreads) {
    if (keep) keep->owner = NULL;
    return -1;
}
int conv_dnnl_kept(const ConvKeep *keep, const void *tag, int B, int Cin, int H, int W, int Cout, int K, int S, int wino,
                   int nthreads) {
    return 0;
}
int conv_dnnl_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                       int Cin, int H, int W, int Cout, int K, int S, int wino, const ConvKeep *keep, const void *tag,
                       int din_write, int nthreads) {
    return -1;
}
#endif
