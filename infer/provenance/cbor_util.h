/* cbor_util.h — small helpers over libcbor (https://libcbor.readthedocs.io/) for the C2PA carrier:
 * building maps with minimal-width integers, and reading untrusted maps without assuming types. */
#ifndef SL_CBOR_UTIL_H
#define SL_CBOR_UTIL_H

#include <cbor.h>
#include <string.h>

static inline cbor_item_t *cb_uint(uint64_t v) {
    return v < 256 ? cbor_build_uint8((uint8_t)v) : v < 65536 ? cbor_build_uint16((uint16_t)v)
         : v <= 0xffffffffu ? cbor_build_uint32((uint32_t)v) : cbor_build_uint64(v);
}
static inline cbor_item_t *cb_int(int64_t v) {
    if (v >= 0) return cb_uint((uint64_t)v);
    uint64_t m = (uint64_t)(-1 - v);
    cbor_item_t *i = cb_uint(m);
    cbor_mark_negint(i);
    return i;
}
static inline cbor_item_t *cb_bytes(const void *p, size_t n) { return cbor_build_bytestring((cbor_data)p, n); }
/* map[key] = value; value's reference is moved into the map. */
static inline void cb_put(cbor_item_t *map, const char *key, cbor_item_t *value) {
    SL_ASSERT(value);
    SL_ASSERT(cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string(key)), .value = cbor_move(value)}));
}
static inline void cb_puti(cbor_item_t *map, int64_t key, cbor_item_t *value) {
    SL_ASSERT(value);
    SL_ASSERT(cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cb_int(key)), .value = cbor_move(value)}));
}
static inline void cb_push(cbor_item_t *arr, cbor_item_t *value) {
    SL_ASSERT(value);
    SL_ASSERT(cbor_array_push(arr, cbor_move(value)));
}
static inline size_t cb_dump(const cbor_item_t *item, uint8_t **out) {
    size_t cap = 0;
    size_t n = cbor_serialize_alloc(item, out, &cap);
    SL_ASSERT(n > 0);
    return n;
}

/* Reading: NULL when absent or of another type. */
static inline int cb_is_text(const cbor_item_t *v, const char *s) {
    size_t n = strlen(s);
    return v && cbor_isa_string(v) && cbor_string_is_definite(v) && cbor_string_length(v) == n &&
           memcmp(cbor_string_handle(v), s, n) == 0;
}
static inline cbor_item_t *cb_get(const cbor_item_t *map, const char *key) {
    if (!map || !cbor_isa_map(map) || !cbor_map_is_definite(map)) return NULL;
    struct cbor_pair *p = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); i++)
        if (cb_is_text(p[i].key, key)) return p[i].value;
    return NULL;
}
static inline cbor_item_t *cb_geti(const cbor_item_t *map, int64_t key) {
    if (!map || !cbor_isa_map(map) || !cbor_map_is_definite(map)) return NULL;
    struct cbor_pair *p = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); i++) {
        const cbor_item_t *k = p[i].key;
        if (key >= 0 && cbor_isa_uint(k) && cbor_get_int(k) == (uint64_t)key) return p[i].value;
        if (key < 0 && cbor_isa_negint(k) && cbor_get_int(k) == (uint64_t)(-1 - key)) return p[i].value;
    }
    return NULL;
}
/* Copies a definite text string into out (n bytes with the NUL); 0 if it is one and fits. */
static inline int cb_text(const cbor_item_t *v, char *out, size_t n) {
    if (!v || !cbor_isa_string(v) || !cbor_string_is_definite(v) || cbor_string_length(v) >= n) return -1;
    memcpy(out, cbor_string_handle(v), cbor_string_length(v));
    out[cbor_string_length(v)] = 0;
    return 0;
}
static inline int cb_bstr(const cbor_item_t *v, const uint8_t **p, size_t *n) {
    if (!v || !cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v)) return -1;
    *p = cbor_bytestring_handle(v);
    *n = cbor_bytestring_length(v);
    return 0;
}
static inline int cb_u64(const cbor_item_t *v, uint64_t *out) {
    if (!v || !cbor_isa_uint(v)) return -1;
    *out = cbor_get_int(v);
    return 0;
}
/* Walks one well-formed, definite-length CBOR item at *p (RFC 8949 section 3) without allocating:
 * every declared length must fit in the bytes left (libcbor 0.8 allocates what a header claims
 * before reading the items, so a 5-byte input could ask for gigabytes). 0 if it is one. */
static inline int cb_walk(const uint8_t **p, const uint8_t *end, int depth) {
    if (depth > 64 || *p >= end) return -1;
    uint8_t b = *(*p)++;
    int mt = b >> 5, ai = b & 31;
    uint64_t v = (uint64_t)ai;
    if (ai >= 28) return -1; /* reserved, or indefinite lengths (which swaplab never writes) */
    if (ai >= 24) {
        size_t nb = (size_t)1 << (ai - 24);
        if ((size_t)(end - *p) < nb) return -1;
        v = 0;
        for (size_t i = 0; i < nb; i++) v = v << 8 | *(*p)++;
    }
    size_t left = (size_t)(end - *p);
    switch (mt) {
    case 2:
    case 3:
        if (v > left) return -1;
        *p += v;
        return 0;
    case 4:
    case 5: {
        uint64_t items = mt == 5 ? 2 * v : v;
        if (v > left || items > left) return -1;
        for (uint64_t i = 0; i < items; i++)
            if (cb_walk(p, end, depth + 1)) return -1;
        return 0;
    }
    case 6: return cb_walk(p, end, depth + 1);
    default: return 0; /* integers, simple values, floats */
    }
}

/* Decodes exactly data[0..n) as one item; NULL when malformed or with trailing bytes. */
static inline cbor_item_t *cb_load(const uint8_t *data, size_t n) {
    const uint8_t *q = data;
    if (cb_walk(&q, data + n, 0) || q != data + n) return NULL;
    struct cbor_load_result r;
    cbor_item_t *it = cbor_load(data, n, &r);
    if (!it) return NULL;
    if (r.error.code != CBOR_ERR_NONE || r.read != n) {
        cbor_decref(&it);
        return NULL;
    }
    return it;
}

#endif
