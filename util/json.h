/* json.h — the one bounded reader of JSON files: the file is read with a size limit (util/fs.h) and
 * parsed by jansson, with errors that name the file, line and column. Every JSON file swaplab reads
 * (consent manifests, revocation lists, state.json, eval and dataset indexes) goes through it. */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "util/util.h"

/* Default size limit for small JSON files (manifests, state, summaries). */
#define SL_JSON_MAX_BYTES ((size_t)64 << 20)

/* Reads path (at most max_len bytes; 0 = SL_JSON_MAX_BYTES) and parses it with jansson's flags
 * (e.g. JSON_REJECT_DUPLICATES). want_object = 1 also refuses a top level that is not an object.
 * Returns a new reference, or NULL with err ("PATH: line L, column C: ..."; a missing or too
 * large file is said so). */
json_t *sl_json_read(const char *path, size_t max_len, int flags, int want_object, SlErr *err);

#endif
