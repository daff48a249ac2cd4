/* carriers.h — the pieces of provenance (infer/provenance.h), one file each: the record and its
 * signature (record.c), XMP (xmp.c), the PNG container with iTXt texts and the C2PA caBX chunk
 * (png_carrier.c) and C2PA itself (c2pa.c, jumbf.c, cose.c). Internal to infer/provenance*. */
#ifndef SL_PROV_CARRIERS_H
#define SL_PROV_CARRIERS_H

#include <jansson.h>

#include "infer/provenance.h"
#include "infer/provenance/c2pa.h"

/* ---- record.c ---- */
/* The IPTC digital source type for info: trainedAlgorithmicMedia when the frame's subject is
 * synthetic (nothing in the image was photographed), else compositeWithTrainedAlgorithmicMedia. */
const char *prov_source_type(const ProvenanceInfo *info);
/* The record (format swaplab.provenance/2) as compact JSON; malloc'ed. */
/* The fields every provenance record starts with (format, the optional media type, tool, version,
 * created, digital source type, model, source, target with target_role's words, method, label), in
 * that order; the image record (prov_record_build) and the MP4 record add theirs after them. */
json_t *prov_record_head(const ProvenanceInfo *info, const char *when, const char *media, const char *target_role);
char *prov_record_build(const ProvenanceInfo *info, const char *when, const char *pixel_hex, int w, int h,
                        uint32_t payload, const char *wm_key_fp);
/* The signature text (JSON: alg, public_key, signature) over pixel_hex and record; malloc'ed. */
char *prov_signature_build(const SlKeypair *key, const char *pixel_hex, const char *record);
/* Checks sigtext against record and pixel_hex: fills res->sig, sig_pubkey, sig_reason, sig_trusted. */
void prov_signature_check(VerifyResult *res, const char *sigtext, const char *record, const char *pixel_hex,
                          const uint8_t *const *trusted_pk, int n_trusted);

/* ---- xmp.c ---- */
char *prov_xmp_build(const ProvenanceInfo *info, const char *when);
/* The XMP packet (malloc'ed) of info's source type, created `when`, with the description desc
 * (plain text; escaped here): prov_xmp_build's with prov_xmp_description, the MP4 carrier's with
 * its own words for a video. */
char *prov_xmp_packet(const ProvenanceInfo *info, const char *when, const char *desc);
/* The words of the XMP description for info (also used by tests to compare). */
void prov_xmp_description(const ProvenanceInfo *info, char *out, size_t n);
void prov_xmp_source_type(const char *xmp, char *out, size_t n);

/* ---- png_carrier.c ---- */
/* Encodes img as PNG with the texts and, when ci is given, a C2PA manifest (caBX) signed by key. */
int prov_png_encode(const Image *img, const PngText *texts, int nt, const C2paInfo *ci, const SlKeypair *key,
                    uint8_t **out, size_t *len, SlErr *err);

/* ---- jpeg_carrier.c ---- */
/* Encodes img as JPEG with an XMP packet (APP1) and, when ci is given, a C2PA manifest (APP11). */
int prov_jpeg_encode(const Image *img, int quality, const char *xmp, const C2paInfo *ci, const SlKeypair *key,
                     uint8_t **out, size_t *len, SlErr *err);
/* The XMP packet of a JPEG's APP1 segment (malloc'ed) or NULL. */
char *prov_jpeg_xmp(const uint8_t *jpg, size_t len);

#endif
