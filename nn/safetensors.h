/* safetensors.h — reading and writing the safetensors tensor file format, so PyTorch users can load
 * swaplab weights and swaplab can load theirs. Format: https://github.com/huggingface/safetensors
 *
 * Layout: 8-byte little-endian header length N; N bytes of JSON (padded with spaces to a multiple
 * of 8): {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "value", ...}}; then the raw little-endian tensor bytes, offsets relative
 * to the start of that byte buffer. Tensors are written in the order given, densely packed.
 *
 *   StTensor t = {.name = "enc.conv1.weight", .dtype = ST_F32, .ndim = 4,
 *                 .shape = {128, 3, 5, 5}, .data = w, .nbytes = sizeof(float) * 128 * 3 * 5 * 5};
 *   const char *meta[] = {"arch", "{...}", NULL};
 *   if (st_write("model.safetensors", &t, 1, meta, &err)) { ... err.msg ... }
 *   StFile *f = st_open("model.safetensors", &err);   // NULL + err.msg on any malformed input
 *   const StTensor *w = st_find(f, "enc.conv1.weight"); // data points into f; valid until st_close
 *   st_close(f);
 *
 * The reader validates everything before returning: header length within the file and at most
 * ST_MAX_HEADER bytes, JSON object, known dtype names, shape × dtype size == offset span, offsets
 * in range, non-overlapping and covering the whole byte buffer, unique names, string metadata.
 * Errors name the file and the tensor. */
#ifndef SL_SAFETENSORS_H
#define SL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u * 1024u * 1024u) /* bytes of JSON header accepted by st_open */
#define ST_MAX_FILE ((size_t)16 << 30)       /* whole-file limit of st_open (16 GiB) */

typedef enum {
    ST_F64, ST_F32, ST_F16, ST_BF16,
    ST_I64, ST_I32, ST_I16, ST_I8,
    ST_U64, ST_U32, ST_U16, ST_U8,
    ST_BOOL,
    ST_NDTYPES
} StDtype;

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;                     /* 0 (a scalar) .. ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS];
    const void *data;             /* little-endian bytes; from st_open aligned to the dtype size */
    size_t nbytes;                /* must equal product(shape) * st_dtype_size(dtype) */
} StTensor;

/* Bytes per element (BOOL: 1) and the format's name ("F32", "BF16", ...). */
size_t st_dtype_size(StDtype d);
const char *st_dtype_name(StDtype d);
/* Parses a dtype name; returns -1 if unknown. */
int st_dtype_parse(const char *name, StDtype *out);
/* Element count of a tensor (product of its shape; 1 for a scalar). */
int64_t st_numel(const StTensor *t);

/* Writes n tensors and the metadata (alternating key, value strings ending with NULL; meta may be
 * NULL) to path atomically (util/fs.h). Returns 0, or -1 with err (duplicate names, nbytes that do
 * not match the shape, a write failure). Bugs (NULL data with nbytes > 0, ndim out of range) abort. */
int st_write(const char *path, const StTensor *t, int n, const char *const *meta, SlErr *err);

typedef struct StFile StFile;
/* Reads and validates the whole file; NULL with err on any problem. */
StFile *st_open(const char *path, SlErr *err);
/* The same from a buffer in memory (name is used in messages); the bytes are copied. */
StFile *st_open_mem(const void *buf, size_t len, const char *name, SlErr *err);
int st_count(const StFile *f);
/* Tensors in file order (sorted by data offset). */
const StTensor *st_at(const StFile *f, int i);
const StTensor *st_find(const StFile *f, const char *name); /* NULL if absent */
const char *st_meta(const StFile *f, const char *key);      /* NULL if absent */
int st_meta_count(const StFile *f);
/* i-th metadata pair (sorted by key); returns 0, or -1 if i is out of range. */
int st_meta_at(const StFile *f, int i, const char **key, const char **value);
void st_close(StFile *f); /* NULL is fine */

#endif
