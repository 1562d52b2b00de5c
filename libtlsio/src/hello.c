/* libtlsio handshake pre-check: walks the records a server receives until the handshake ends (bounds on sizes,
 * warning alerts and empty records) and parses the ClientHello they carry, reassembled across records. */
#include <stdlib.h>
#include <string.h>

#include "hello.h"

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23 };
enum { EXT_SNI = 0, EXT_GROUPS = 10, EXT_POINT_FORMATS = 11, EXT_SIG_ALGS = 13, EXT_EMS = 23, EXT_VERSIONS = 43 };

/* A bounded reader over one message: every take checks the length left, so no read passes the end. */
struct rd {
    const unsigned char *p;
    size_t left;
};

static int take(struct rd *r, size_t n, struct rd *out)
{
    if (r->left < n)
        return -1;
    out->p = r->p;
    out->left = n;
    r->p += n;
    r->left -= n;
    return 0;
}

static int take_u(struct rd *r, size_t bytes, size_t *v)
{
    struct rd x;
    if (take(r, bytes, &x) != 0)
        return -1;
    *v = 0;
    for (size_t i = 0; i < bytes; i++)
        *v = *v << 8 | x.p[i];
    return 0;
}

/* A vector with a length prefix of `bytes` bytes. */
static int take_vec(struct rd *r, size_t bytes, struct rd *out)
{
    size_t n;
    return take_u(r, bytes, &n) == 0 ? take(r, n, out) : -1;
}

/* A vector that must fill the extension exactly, be non-empty and have a length that is a multiple of unit. */
static int whole_vec(struct rd data, size_t bytes, size_t unit, struct rd *out)
{
    if (take_vec(&data, bytes, out) != 0 || data.left != 0 || out->left == 0 || out->left % unit != 0)
        return -1;
    return 0;
}

/* server_name: a non-empty list of (type, non-empty name). */
static int check_sni(struct rd data)
{
    struct rd list, name;
    size_t type;
    if (whole_vec(data, 2, 1, &list) != 0)
        return -1;
    while (list.left > 0)
        if (take_u(&list, 1, &type) != 0 || take_vec(&list, 2, &name) != 0 || name.left == 0)
            return -1;
    return 0;
}

/* supported_groups: 1 when one of the server's groups is listed, 0 when none, -1 when malformed. */
static int check_groups(struct rd data, const uint16_t *groups, size_t ngroups)
{
    struct rd list;
    size_t g;
    int common = 0;
    if (whole_vec(data, 2, 2, &list) != 0)
        return -1;
    while (take_u(&list, 2, &g) == 0)
        for (size_t i = 0; i < ngroups; i++)
            common |= groups[i] == g;
    return common;
}

static int offers_tls13(struct rd data)
{
    struct rd list;
    size_t v;
    if (whole_vec(data, 1, 2, &list) != 0)
        return -1;
    while (take_u(&list, 2, &v) == 0)
        if (v == 0x0304)
            return 1;
    return 0;
}

struct hello_state {
    const uint16_t *groups;
    size_t ngroups;
    int common;    /* -1: no supported_groups seen; else whether one group is shared */
    uint64_t seen; /* extension types below 64 already seen */
    struct tlsio__hello_info *info;
};

/* One extension: 0, or the alert. */
static int check_ext(struct hello_state *st, size_t type, struct rd data)
{
    struct rd v;
    if (type < 64) {
        if (st->seen >> type & 1)
            return TLSIO__ALERT_ILLEGAL_PARAMETER; /* RFC 5246 §7.4.1.4: one extension of each type */
        st->seen |= (uint64_t)1 << type;
    }
    switch (type) {
    case EXT_SNI: return check_sni(data) == 0 ? 0 : TLSIO__ALERT_DECODE_ERROR;
    case EXT_POINT_FORMATS: return whole_vec(data, 1, 1, &v) == 0 ? 0 : TLSIO__ALERT_DECODE_ERROR;
    case EXT_SIG_ALGS: return whole_vec(data, 2, 2, &v) == 0 ? 0 : TLSIO__ALERT_DECODE_ERROR;
    case EXT_GROUPS:
        st->common = check_groups(data, st->groups, st->ngroups);
        return st->common < 0 ? TLSIO__ALERT_DECODE_ERROR : 0;
    case EXT_EMS: st->info->ems = 1; return data.left == 0 ? 0 : TLSIO__ALERT_DECODE_ERROR;
    case EXT_VERSIONS: st->info->tls13 = offers_tls13(data); return st->info->tls13 < 0 ? TLSIO__ALERT_DECODE_ERROR : 0;
    default: return 0;
    }
}

/* The extensions block, when present: it must fill the rest of the message exactly. */
static int check_exts(struct hello_state *st, struct rd *r)
{
    struct rd exts, data;
    size_t type;
    if (r->left == 0)
        return 0;
    if (take_vec(r, 2, &exts) != 0 || r->left != 0)
        return TLSIO__ALERT_DECODE_ERROR;
    while (exts.left > 0) {
        if (take_u(&exts, 2, &type) != 0 || take_vec(&exts, 2, &data) != 0)
            return TLSIO__ALERT_DECODE_ERROR;
        int alert = check_ext(st, type, data);
        if (alert != 0)
            return alert;
    }
    return 0;
}

int tlsio__hello_parse(const unsigned char *msg, size_t len, const uint16_t *groups, size_t ngroups,
                       struct tlsio__hello_info *info)
{
    struct rd r = {msg, len}, x, suites, comp;
    size_t type, body;
    struct hello_state st = {groups, ngroups, -1, 0, info};
    memset(info, 0, sizeof *info);
    if (take_u(&r, 1, &type) != 0 || type != 1)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE;
    if (take_u(&r, 3, &body) != 0 || body != r.left)
        return TLSIO__ALERT_DECODE_ERROR;
    /* legacy_version and random, session id (at most 32 bytes), suites (pairs, at least one), compression */
    if (take(&r, 2 + 32, &x) != 0 || take_vec(&r, 1, &x) != 0 || x.left > 32 || take_vec(&r, 2, &suites) != 0 ||
        suites.left == 0 || suites.left % 2 != 0 || take_vec(&r, 1, &comp) != 0 || comp.left == 0)
        return TLSIO__ALERT_DECODE_ERROR;
    if (memchr(comp.p, 0, comp.left) == NULL)
        return TLSIO__ALERT_DECODE_ERROR; /* RFC 5246 §7.4.1.2: null compression MUST be offered */
    int alert = check_exts(&st, &r);
    if (alert != 0)
        return alert;
    /* Every suite proxyd offers is (EC)DHE over these groups: no shared group, no handshake (RFC 8422 §5.1). */
    return st.common == 0 ? TLSIO__ALERT_HANDSHAKE_FAILURE : 0;
}

/* A plaintext handshake message header is complete: the first message must be a ClientHello (copied whole for
 * the check), later ones only what a client sends before its ChangeCipherSpec. */
static int on_message_header(struct tlsio__precheck *p)
{
    unsigned type = p->hs_hdr[0];
    p->hs_left = (size_t)p->hs_hdr[1] << 16 | (size_t)p->hs_hdr[2] << 8 | p->hs_hdr[3];
    if (p->hs_count == 0) {
        if (type != 1)
            return TLSIO__ALERT_UNEXPECTED_MESSAGE;
        if (p->hs_left > TLSIO__HELLO_MAX - 4)
            return TLSIO__ALERT_ILLEGAL_PARAMETER; /* as OpenSSL's "excessive message size" */
        if ((p->hello = malloc(4 + p->hs_left)) == NULL)
            return TLSIO__ALERT_INTERNAL_ERROR;
        memcpy(p->hello, p->hs_hdr, 4);
        p->hello_have = 4;
        return 0;
    }
    if (type == 16)
        p->cke_len = p->hs_left;
    /* Certificate, ClientKeyExchange, CertificateVerify; a second ClientHello only after a TLS 1.3 retry request. */
    if (type == 11 || type == 16 || type == 15 || (type == 1 && p->info.tls13))
        return 0;
    return TLSIO__ALERT_UNEXPECTED_MESSAGE; /* e.g. Finished before ClientKeyExchange: a skipped message */
}

static int on_message_end(struct tlsio__precheck *p)
{
    p->hs_hdr_len = 0;
    if (p->hs_hdr[0] == 16 && p->hs_count > 0)
        p->cke_framed = p->cke_len > 1 && (size_t)p->cke_first + 1 == p->cke_len;
    if (p->hs_count++ > 0)
        return 0;
    p->hello_done = 1;
    int alert = tlsio__hello_parse(p->hello, p->hello_have, p->groups, p->ngroups, &p->info);
    tlsio__precheck_free(p);
    return alert;
}

/* Bytes of a plaintext handshake record: messages are followed across records (RFC 5246 §6.2.1 allows any
 * fragmentation). */
static int handshake_bytes(struct tlsio__precheck *p, const unsigned char *d, size_t n)
{
    while (n > 0) {
        int alert = 0;
        if (p->hs_hdr_len < 4) {
            p->hs_hdr[p->hs_hdr_len++] = *d++;
            n--;
            if (p->hs_hdr_len == 4 && (alert = on_message_header(p)) == 0 && p->hs_left == 0)
                alert = on_message_end(p);
            if (alert != 0)
                return alert;
            continue;
        }
        size_t m = p->hs_left < n ? p->hs_left : n;
        if (p->hs_hdr[0] == 16 && p->hs_left == p->cke_len)
            p->cke_first = d[0];
        if (p->hello != NULL) { /* the ClientHello: copied for the whole-message check */
            memcpy(p->hello + p->hello_have, d, m);
            p->hello_have += m;
        }
        p->hs_left -= m;
        d += m;
        n -= m;
        if (p->hs_left == 0 && (alert = on_message_end(p)) != 0)
            return alert;
    }
    return 0;
}

/* A record header is complete: the checks that need only the header. */
static int on_header(struct tlsio__precheck *p)
{
    unsigned type = p->hdr[0];
    p->left = (size_t)p->hdr[3] << 8 | p->hdr[4];
    p->alert_len = 0;
    if (type < CT_CCS || type > CT_APPDATA)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE; /* heartbeat (24) and unknown types: nothing was negotiated */
    if (!p->encrypted && type != CT_HANDSHAKE && p->hs_hdr_len > 0)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE; /* interleaved with a handshake message (RFC 8446 §5.1) */
    if (type == CT_CCS && p->left != 1)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE; /* a ChangeCipherSpec is one byte, 1 */
    if (type == CT_APPDATA && p->info.tls13)
        p->encrypted = 1; /* TLS 1.3 records after the ServerHello, with or without a compatibility CCS */
    if (type == CT_APPDATA && p->info.tls13 && ++p->sealed >= TLSIO__TLS13_SEALED_MAX)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE;
    if (p->left > (p->encrypted ? TLSIO__RECORD_CIPHER_MAX : TLSIO__RECORD_PLAIN_MAX))
        return TLSIO__ALERT_RECORD_OVERFLOW;
    if (p->encrypted && type != CT_CCS && p->left < TLSIO__RECORD_AEAD_MIN)
        return TLSIO__ALERT_BAD_RECORD_MAC; /* too short to hold a tag: it cannot authenticate */
    if (p->left == 0 && ++p->empties >= TLSIO__EMPTY_RECORDS_MAX)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE;
    if (type == CT_ALERT && p->encrypted && ++p->warnings >= TLSIO__WARN_ALERTS_MAX)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE; /* its level is hidden: a fatal one would have ended the handshake */
    if (type == CT_HANDSHAKE && p->left > 0)
        p->warnings = p->empties = 0; /* progress: the bounds count records in a row */
    return 0;
}

/* Body bytes of the current record. */
static int on_body(struct tlsio__precheck *p, const unsigned char *d, size_t m)
{
    unsigned type = p->hdr[0];
    if (p->encrypted)
        return 0;
    if (type == CT_HANDSHAKE)
        return handshake_bytes(p, d, m);
    if (type == CT_CCS && d[0] != 1)
        return TLSIO__ALERT_UNEXPECTED_MESSAGE;
    if (type == CT_ALERT)
        for (size_t i = 0; i < m && p->alert_len < 2; i++)
            if (p->alert_len++ == 0 && (p->alert_level = d[i]) == 1 && ++p->warnings >= TLSIO__WARN_ALERTS_MAX)
                return TLSIO__ALERT_UNEXPECTED_MESSAGE;
    return 0;
}

static int feed(struct tlsio__precheck *p, const unsigned char *d, size_t n)
{
    while (n > 0) {
        if (p->hdr_len < 5) {
            p->hdr[p->hdr_len++] = *d++;
            n--;
            int alert = p->hdr_len == 5 ? on_header(p) : 0;
            if (alert != 0)
                return alert;
        }
        size_t m = p->left < n ? p->left : n;
        int alert = m > 0 ? on_body(p, d, m) : 0;
        if (alert != 0)
            return alert;
        p->left -= m;
        d += m;
        n -= m;
        if (p->hdr_len == 5 && p->left == 0) {
            p->hdr_len = 0;
            p->encrypted |= p->hdr[0] == CT_CCS;
        }
    }
    return 0;
}

int tlsio__precheck_feed(struct tlsio__precheck *p, const unsigned char *data, size_t n)
{
    if (p->verdict == 0)
        p->verdict = (uint8_t)feed(p, data, n);
    if (p->verdict != 0)
        tlsio__precheck_free(p);
    return p->verdict;
}

void tlsio__precheck_free(struct tlsio__precheck *p)
{
    free(p->hello);
    p->hello = NULL;
}
