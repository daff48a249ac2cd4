/* fuzz_mp4.c — libFuzzer harness: a video file as `swaplab verify` reads it (infer/provenance/
 * mp4_carrier.h): FFmpeg opens and decodes the frames, our code walks the top-level boxes, parses
 * the swaplab record and signature boxes and the XMP box, and reads every frame's watermark and
 * label. Bad input must be refused with a message or give a consistent result, never a crash or a
 * leak. Seeds: tests/fuzz/corpus/mp4/ (a marked 3-frame 64x64 clip with its provenance boxes, the
 * same with a changed record byte, a clip without boxes), written once with swaplab's own video
 * writer and mp4_carrier_append as tests/test_swap_video.c writes its clips (make_corpus.py cannot
 * encode H.264). */
#include <stddef.h>
#include <stdint.h>

#include "infer/provenance/mp4_carrier.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("clip.mp4", data, size);
    ProvTrust trust = {0}; /* no trusted key: only the watermark can establish a mark */
    Mp4VerifyResult r;
    SlErr err;
    if (mp4_verify(path, &trust, 1, &r, &err)) {
        if (!err.msg[0]) __builtin_trap(); /* a refusal always says why */
        return 0;
    }
    if (r.wm_frames > r.frames || r.label_frames > r.frames || r.wm_payload_frames > r.wm_frames) __builtin_trap();
    if (r.sig_trusted || (r.marked && !r.wm_clip)) __builtin_trap();
    if (r.box && !r.record) __builtin_trap();
    mp4_verify_result_free(&r);
    return 0;
}
