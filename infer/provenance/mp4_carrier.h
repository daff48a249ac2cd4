/* mp4_carrier.h — provenance of a swapped video, carried in the MP4 file itself and read back by
 * `swaplab verify clip.mp4`. Two top-level `uuid` boxes (ISO/IEC 14496-12 §4.2) are appended after
 * the finished file:
 *   - XMP (UUID BE7ACFCB-97A9-42E8-9C71-999491E3AFAC, as XMP Specification Part 3 §1.1.4 places it
 *     in MP4; exiftool reads it) with the IPTC digital source type trainedAlgorithmicMedia;
 *   - the swaplab box (UUID "swaplab-prov-mp4" in ASCII): the number of bytes signed (everything
 *     before the two boxes), the provenance record (JSON, format swaplab.provenance/1 with "media"
 *     video/mp4, the SHA-256 of the signed bytes and the clip's facts) and an Ed25519 signature over
 *     "swaplab-video-signature-v1\n" + that SHA-256 + "\n" + the record.
 * Every frame also carries the invisible watermark and by default the visible label (added by the
 * video swap, infer/swap_video.h); verify reads both back frame by frame. Formats: docs/WATERMARK.md. */
#ifndef SL_PROV_MP4_CARRIER_H
#define SL_PROV_MP4_CARRIER_H

#include <stdint.h>

#include "infer/provenance.h"
#include "util/crypto.h"
#include "util/util.h"

#define MP4_SIG_DOMAIN "swaplab-video-signature-v1\n"

typedef struct {
    const ProvenanceInfo *info; /* model, subjects, method, label, watermark key and payload */
    const SlKeypair *key;       /* signs the record */
    int w, h;
    long frames, swapped;       /* frames written; frames in which a face was swapped */
    double fps;
    int crf;
    const char *input_sha256;   /* of the input clip */
} Mp4Provenance;

/* Appends the XMP and swaplab boxes to the finished MP4 at path (in place: call it on the temp
 * file before it is renamed; it fits VideoFinishHook with ctx = Mp4Provenance*). */
int mp4_carrier_append(const char *path, void *mp4_provenance, SlErr *err);

typedef struct {
    int box;                 /* the swaplab box is present and parses */
    char *record;            /* its record (owned; NULL if absent) */
    int xmp;                 /* the XMP box is present */
    char source_type[160];   /* IPTC digital source type (XMP, else the record), or "" */
    ProvSigState sig;
    int sig_trusted;
    char sig_pubkey[65];
    char sig_reason[160];
    int bytes_match;         /* the signed bytes hash to the record's file.sha256 */
    int trailing;            /* other data after the signed bytes than the two boxes */
    long frames;             /* frames decoded */
    long wm_frames;          /* frames whose watermark was found (p < 1e-6 each) */
    long wm_payload_frames;  /* of those, frames whose payload matches the record (or decodes, without one) */
    double z_median;         /* median pilot z over the frames */
    int wm_clip;             /* the clip-level watermark verdict: found in >= max(1, 10%) of frames */
    uint32_t payload;        /* the most frequent decoded payload */
    long label_frames;       /* frames where the visible label box was found */
    int label_record;        /* -1 unknown, 0 none, 1 recorded */
    int w, h;
    ProvVerdict verdict;     /* by the images' rules: MARKED when a trusted key's valid signature or
                                wm_clip establishes it and no signature fails; ALTERED when
                                established but the signature fails; FORGED for swaplab boxes or a
                                signature that nothing establishes; else NOT_MARKED */
    int marked;              /* verdict == PROV_MARKED */
} Mp4VerifyResult;

/* Reads path: the boxes, the signature, and the watermark and label in every frame (every=1; or
 * every Nth frame). -1 with err only when the file cannot be read as a video. */
int mp4_verify(const char *path, const ProvTrust *trust, int every, Mp4VerifyResult *r, SlErr *err);
void mp4_verify_result_free(Mp4VerifyResult *r);

/* `swaplab verify` for a video file: prints the result as text, or appends it to json_array (a
 * json_t * array) when not NULL. Returns the ProvVerdict, or -1 when the file cannot be read as a
 * video (printed, or "UNREADABLE" in the JSON). trust: the pubkeys and wm_key are used (C2PA and
 * the ledger are for images). */
int mp4_verify_report(const char *path, const ProvTrust *trust, void *json_array);

#endif
