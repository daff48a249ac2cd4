/* json.c — the bounded JSON file reader (see json.h). */
#include "util/json.h"

#include <stdlib.h>

#include "util/fs.h"

json_t *sl_json_read(const char *path, size_t max_len, int flags, int want_object, SlErr *err) {
    char *data;
    size_t len;
    if (sl_read_file(path, max_len ? max_len : SL_JSON_MAX_BYTES, &data, &len, err)) return NULL;
    json_error_t je;
    json_t *j = json_loadb(data, len, flags, &je);
    free(data);
    if (!j) {
        sl_fail(err, "%s: line %d, column %d: malformed JSON: %s", path, je.line, je.column, je.text);
        return NULL;
    }
    if (want_object && !json_is_object(j)) {
        json_decref(j);
        sl_fail(err, "%s: not a JSON object", path);
        return NULL;
    }
    return j;
}
