/* fuzz_swap_options.c — libFuzzer harness: the compositing options of `swap`, `dataset` and `eval`
 * (infer/swap.h swap_options_set_mask, _colour and _blend; the first byte picks one) on arbitrary
 * strings. A refusal must say why and leave the options as they were; an accepted spelling's
 * canonical name must parse back to the same options and the same name. */
#include "infer/swap.h"

#include "tests/fuzz/fuzz.h"

static int set(SwapOptions *o, int which, const char *s, SlErr *err) {
    return which == 0 ? swap_options_set_mask(o, s, err)
           : which == 1 ? swap_options_set_colour(o, s, err)
                        : swap_options_set_blend(o, s, err);
}
static const char *name(const SwapOptions *o, int which) {
    return which == 0 ? o->mask_str : which == 1 ? o->colour_str : o->blend_str;
}
/* the same options, field by field (no padding compared) */
static int same(const SwapOptions *a, const SwapOptions *b) {
    return a->mask.shape == b->mask.shape && a->mask.relative == b->mask.relative && a->mask.erode == b->mask.erode &&
           a->mask.feather == b->mask.feather && a->colour == b->colour && a->colour_amount == b->colour_amount &&
           a->blend == b->blend && !strcmp(a->mask_str, b->mask_str) && !strcmp(a->colour_str, b->colour_str) &&
           !strcmp(a->blend_str, b->blend_str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] % 3;
    char *s = malloc(size);
    if (!s) abort();
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    SwapOptions o, before, back;
    swap_options_default(&o);
    before = o;
    SlErr err;
    err.msg[0] = 0;
    if (set(&o, which, s, &err)) {
        if (!err.msg[0] || !same(&o, &before)) abort(); /* a reason, and nothing changed */
        free(s);
        return 0;
    }
    swap_options_default(&back);
    char canon[64];
    snprintf(canon, sizeof canon, "%s", name(&o, which));
    if (set(&back, which, canon, &err) || !same(&back, &o)) {
        fprintf(stderr, "'%s' was accepted as '%s', which reads back differently\n", s, canon);
        abort();
    }
    free(s);
    return 0;
}
