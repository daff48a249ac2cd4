/* cose.c — COSE_Sign1 with EdDSA and x5chain for C2PA claim signatures (cose.h; RFC 9052 section
 * 4.4 for the Sig_structure, RFC 9360 for x5chain). CBOR by libcbor, X.509 by OpenSSL. */
#include "infer/provenance/cose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/provenance/cbor_util.h"

/* Sig_structure = ["Signature1", protected, external_aad = h'', payload] */
static size_t sig_structure(const uint8_t *prot, size_t pn, const uint8_t *payload, size_t n, uint8_t **out) {
    cbor_item_t *a = cbor_new_definite_array(4);
    cb_push(a, cbor_build_string("Signature1"));
    cb_push(a, cb_bytes(prot, pn));
    cb_push(a, cb_bytes("", 0));
    cb_push(a, cb_bytes(payload, n));
    size_t len = cb_dump(a, out);
    cbor_decref(&a);
    return len;
}

int cose_sign1(const SlKeypair *key, const uint8_t *payload, size_t n, uint8_t **out, size_t *olen, SlErr *err) {
    if (!key->cert_len || !key->ca_len)
        return sl_fail(err, "the lab key has no certificate (run 'swaplab keygen', or remove the key to start again)");
    cbor_item_t *ph = cbor_new_definite_map(2), *chain = cbor_new_definite_array(2);
    cb_puti(ph, 1, cb_int(COSE_ALG_EDDSA));
    cb_push(chain, cb_bytes(key->cert, key->cert_len));
    cb_push(chain, cb_bytes(key->ca, key->ca_len));
    cb_puti(ph, COSE_HDR_X5CHAIN, chain);
    uint8_t *prot, *tbs;
    size_t pn = cb_dump(ph, &prot);
    cbor_decref(&ph);
    size_t tn = sig_structure(prot, pn, payload, n, &tbs);
    uint8_t sig[64];
    sl_sign(key, tbs, tn, sig);
    free(tbs);
    cbor_item_t *arr = cbor_new_definite_array(4);
    cb_push(arr, cb_bytes(prot, pn));
    cb_push(arr, cbor_new_definite_map(0));
    cb_push(arr, cbor_new_null());
    cb_push(arr, cb_bytes(sig, 64));
    cbor_item_t *tag = cbor_build_tag(18, arr);
    cbor_decref(&arr);
    *olen = cb_dump(tag, out);
    cbor_decref(&tag);
    free(prot);
    return 0;
}

void cose_verify1(const uint8_t *cose, size_t n, const uint8_t *payload, size_t plen, const uint8_t *const *trusted,
                  const size_t *trusted_len, int n_trusted, CoseResult *r) {
    memset(r, 0, sizeof *r);
    /* libcbor before 0.10 refuses tags 6..20 as "unassigned": read the one-byte tag 18 (0xd2) here */
    int tagged = n > 0 && cose[0] == 0xd2;
    cbor_item_t *top = cb_load(cose + tagged, n - (size_t)tagged), *arr = NULL, *ph = NULL;
    const uint8_t *prot = NULL, *sig = NULL, *leaf = NULL, *ca = NULL;
    size_t pn = 0, sn = 0, ln = 0, cn = 0;
    if (top && cbor_isa_tag(top) && cbor_tag_value(top) == 18) arr = cbor_tag_item(top); /* a new reference */
    else if (top && cbor_isa_array(top)) arr = cbor_incref(top);
    if (!arr || !cbor_isa_array(arr) || !cbor_array_is_definite(arr) || cbor_array_size(arr) != 4) {
        snprintf(r->why, sizeof r->why, "the claim signature is not a COSE_Sign1 structure");
        goto done;
    }
    cbor_item_t **h = cbor_array_handle(arr);
    if (cb_bstr(h[0], &prot, &pn) || cb_bstr(h[3], &sig, &sn) || !(ph = cb_load(prot, pn))) {
        snprintf(r->why, sizeof r->why, "the COSE_Sign1 protected header or signature is malformed");
        goto done;
    }
    cbor_item_t *alg = cb_geti(ph, 1), *x5 = cb_geti(ph, COSE_HDR_X5CHAIN);
    if (!alg || !cbor_isa_negint(alg) || cbor_get_int(alg) != (uint64_t)(-1 - COSE_ALG_EDDSA)) {
        snprintf(r->why, sizeof r->why, "the COSE algorithm is not EdDSA (-8), the only one swaplab signs with");
        goto done;
    }
    if (x5 && cbor_isa_array(x5) && cbor_array_is_definite(x5) && cbor_array_size(x5) >= 1) {
        cbor_item_t **c = cbor_array_handle(x5);
        if (cb_bstr(c[0], &leaf, &ln)) leaf = NULL;
        if (cbor_array_size(x5) >= 2 && cb_bstr(c[1], &ca, &cn)) ca = NULL;
    } else if (x5 && cb_bstr(x5, &leaf, &ln)) {
        leaf = NULL;
    }
    if (!leaf || sn != 64) {
        snprintf(r->why, sizeof r->why, "the COSE_Sign1 lacks an x5chain certificate or a 64-byte signature");
        goto done;
    }
    r->parsed = 1;
    sl_cert_check(leaf, ln, ca, ca ? cn : 0, trusted, trusted_len, n_trusted, &r->cert);
    if (!r->cert.parsed) {
        snprintf(r->why, sizeof r->why, "%s", r->cert.why);
        goto done;
    }
    uint8_t *tbs;
    size_t tn = sig_structure(prot, pn, payload, plen, &tbs);
    r->sig_valid = sl_verify_sig(r->cert.pk, tbs, tn, sig);
    free(tbs);
    if (!r->sig_valid) snprintf(r->why, sizeof r->why, "the claim signature does not verify (the claim was changed)");
    else if (!r->cert.trusted) snprintf(r->why, sizeof r->why, "%s", r->cert.why);
done:
    if (ph) cbor_decref(&ph);
    if (arr) cbor_decref(&arr);
    if (top) cbor_decref(&top);
}
