/* xmp.c — the XMP packet of swap outputs (carriers.h): the IPTC digital source type
 * (https://cv.iptc.org/newscodes/digitalsourcetype/) and a plain description naming the source (the
 * face inserted) and the target (the person in the frame). XMP in PNG:
 * https://github.com/adobe/XMP-Toolkit-SDK/blob/main/docs/XMPSpecificationPart3.pdf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/provenance/carriers.h"

/* XML-escapes s into a malloc'ed string. */
static char *xml_escape(const char *s) {
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' ? 6 : 1;
    char *o = xmalloc(n), *q = o;
    for (const char *p = s; *p; p++) {
        const char *r = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;" : NULL;
        if (r) q += sprintf(q, "%s", r);
        else *q++ = *p;
    }
    *q = 0;
    return o;
}

void prov_xmp_description(const ProvenanceInfo *info, char *out, size_t n) {
    snprintf(out, n,
             "Synthetic image: a face swap made by swaplab %s, an educational deepfake tool: the face of %s "
             "(source) inserted into a frame of %s (target). Not a photograph of a real event.",
             SL_VERSION, info->source_subject ? info->source_subject : "an unnamed subject",
             info->target_subject ? info->target_subject : "an unnamed subject");
}

char *prov_xmp_build(const ProvenanceInfo *info, const char *when) {
    char desc[1024];
    prov_xmp_description(info, desc, sizeof desc);
    return prov_xmp_packet(info, when, desc);
}

char *prov_xmp_packet(const ProvenanceInfo *info, const char *when, const char *desc) {
    char *d = xml_escape(desc);
    size_t n = strlen(d) + 2048;
    char *x = xmalloc(n);
    snprintf(x, n,
             "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
             "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
             " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
             "  <rdf:Description rdf:about=\"\"\n"
             "    xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\"\n"
             "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
             "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
             "    Iptc4xmpExt:DigitalSourceType=\"%s\"\n"
             "    xmp:CreatorTool=\"swaplab %s\"\n"
             "    xmp:CreateDate=\"%s\">\n"
             "   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">%s</rdf:li></rdf:Alt></dc:description>\n"
             "  </rdf:Description>\n"
             " </rdf:RDF>\n"
             "</x:xmpmeta>\n"
             "<?xpacket end=\"r\"?>",
             prov_source_type(info), SL_VERSION, when, d);
    free(d);
    return x;
}

/* Finds the DigitalSourceType in an XMP packet (attribute or element form). */
void prov_xmp_source_type(const char *x, char *out, size_t n) {
    out[0] = 0;
    const char *p = strstr(x, "DigitalSourceType");
    while (p) {
        const char *q = p + strlen("DigitalSourceType");
        while (*q == ' ') q++;
        char end = 0;
        if (*q == '=' && (q[1] == '"' || q[1] == '\'')) end = q[1], q += 2;
        else if (*q == '>') end = '<', q++;
        if (end) {
            size_t i = 0;
            while (q[i] && q[i] != end && i + 1 < n) out[i] = q[i], i++;
            out[i] = 0;
            if (i) return;
        }
        p = strstr(q, "DigitalSourceType");
    }
}
