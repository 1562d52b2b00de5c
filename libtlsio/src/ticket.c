/* libtlsio fleet session tickets: loading the ticket key file shared by several machines, and the mbedTLS
 * ticket write/parse callbacks that seal a session with AES-256-GCM under the key the ticket names. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>

#include "internal.h"

/*
 * Key file: one or more 80-byte records, nothing else (the nginx ssl_session_ticket_key layout, so
 * `openssl rand 80 > ticket.key` makes one): name (16 bytes) | AES-256 key (32) | reserved (32, nginx's HMAC
 * secret, unused here). The first record seals new tickets; every record opens tickets naming it.
 *
 * Ticket: name (16) | IV (12, random) | GCM ciphertext of [created (8, big-endian Unix milliseconds) | EMS (1:
 * tlsio__ems_stamp(), ems.c) | session as mbedtls_ssl_session_save() writes it, TLS 1.2 or 1.3] | tag (16). The
 * name and IV are authenticated as additional data. The creation time is the wall clock's, so that another
 * machine of the fleet can tell the ticket's age (mbedTLS's own TLS 1.3 creation time counts from this host's boot).
 */
#define REC_LEN 80
#define NAME_LEN 16
#define AES_LEN 32
#define IV_LEN 12
#define TIME_LEN 9 /* created (8) and the EMS byte */
#define TAG_LEN 16
#define HEAD_LEN (NAME_LEN + IV_LEN)
#define MAX_KEYS 64
#define FUTURE_SKEW 60000 /* ms a ticket may seem to come from the future: clocks differ across the fleet */

struct tlsio__ticket_key {
    unsigned char name[NAME_LEN];
    unsigned char aes[AES_LEN];
};

struct tlsio__ticket_keys {
    uint32_t lifetime; /* seconds */
    size_t nkeys;
    struct tlsio__ticket_key keys[];
};

void tlsio__ticket_keys_free(struct tlsio__ticket_keys *k)
{
    if (k == NULL)
        return;
    mbedtls_platform_zeroize(k, sizeof *k + k->nkeys * sizeof k->keys[0]);
    free(k);
}

/* Opens the file and checks what can be checked before reading it; returns the fd or -1 with err set. */
static int open_checked(const char *path, size_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        tlsio__msg(err, errlen, "%s: cannot read ticket key file: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        tlsio__msg(err, errlen, "%s: ticket key file is not a regular file", path);
        goto fail;
    }
    if (st.st_mode & S_IROTH) {
        tlsio__msg(err, errlen, "%s: ticket key file is readable by other users; refusing it (chmod o-r %s)", path,
                   path);
        goto fail;
    }
    if (st.st_size <= 0 || st.st_size % REC_LEN != 0 || st.st_size > (off_t)REC_LEN * MAX_KEYS) {
        tlsio__msg(err, errlen,
                   "%s: ticket key file is %lld bytes; it must be a multiple of 80 bytes "
                   "(openssl rand 80), at most %d keys",
                   path, (long long)st.st_size, MAX_KEYS);
        goto fail;
    }
    *size = (size_t)st.st_size;
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Reads exactly len bytes; a file that shrank or grew while read is refused rather than half used. */
static int read_all(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    unsigned char extra;
    ssize_t n;
    while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR)
        ;
    return n == 0 ? 0 : -1;
}

/* Splits the records into keys; two keys with one name would make the second unreachable: refused. */
static int parse_records(struct tlsio__ticket_keys *k, const unsigned char *raw, const char *path, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < k->nkeys; i++) {
        memcpy(k->keys[i].name, raw + i * REC_LEN, NAME_LEN);
        memcpy(k->keys[i].aes, raw + i * REC_LEN + NAME_LEN, AES_LEN);
        for (size_t j = 0; j < i; j++) {
            if (memcmp(k->keys[i].name, k->keys[j].name, NAME_LEN) == 0) {
                tlsio__msg(err, errlen, "%s: ticket keys %zu and %zu have the same name (first 16 bytes)", path, j + 1,
                           i + 1);
                return TLSIO_ECONFIG;
            }
        }
    }
    return TLSIO_OK;
}

int tlsio__ticket_keys_load(struct tlsio__ticket_keys **out, const char *path, unsigned lifetime, char *err,
                            size_t errlen)
{
    *out = NULL;
    size_t size;
    int fd = open_checked(path, &size, err, errlen);
    if (fd < 0)
        return TLSIO_ECONFIG;
    unsigned char raw[REC_LEN * MAX_KEYS];
    int rc = read_all(fd, raw, size);
    close(fd);
    if (rc != 0) {
        mbedtls_platform_zeroize(raw, sizeof raw);
        tlsio__msg(err, errlen, "%s: cannot read ticket key file (read error or file changed while read)", path);
        return TLSIO_ECONFIG;
    }
    size_t nkeys = size / REC_LEN;
    struct tlsio__ticket_keys *k = calloc(1, sizeof *k + nkeys * sizeof k->keys[0]);
    if (k == NULL) {
        mbedtls_platform_zeroize(raw, sizeof raw);
        tlsio__msg(err, errlen, "%s: out of memory", path);
        return TLSIO_ENOMEM;
    }
    k->lifetime = lifetime;
    k->nkeys = nkeys;
    rc = parse_records(k, raw, path, err, errlen);
    mbedtls_platform_zeroize(raw, sizeof raw);
    if (rc != TLSIO_OK) {
        tlsio__ticket_keys_free(k);
        return rc;
    }
    *out = k;
    return TLSIO_OK;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fill_random(unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* mbedtls_ssl_ticket_write_t. Called by many workers at once: the key set is immutable, and the GCM context
 * (which holds per-operation state) lives on this call's stack. */
int tlsio__ticket_write(void *p_ticket, const mbedtls_ssl_session *session, unsigned char *start,
                        const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
    const struct tlsio__ticket_keys *k = p_ticket;
    const struct tlsio__ticket_key *key = &k->keys[0];
    *tlen = 0;
    if (end < start || (size_t)(end - start) < HEAD_LEN + TIME_LEN + TAG_LEN)
        return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
    unsigned char *plain = start + HEAD_LEN;
    size_t room = (size_t)(end - start) - HEAD_LEN - TIME_LEN - TAG_LEN, slen;
    int ret = mbedtls_ssl_session_save(session, plain + TIME_LEN, room, &slen);
    if (ret != 0)
        return ret;
    memcpy(start, key->name, NAME_LEN);
    if (fill_random(start + NAME_LEN, IV_LEN) != 0)
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    put_be64(plain, wall_ms());
    plain[TIME_LEN - 1] = (unsigned char)tlsio__ems_stamp();
    size_t plen = TIME_LEN + slen;
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key->aes, AES_LEN * 8);
    if (ret == 0)
        ret = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, plen, start + NAME_LEN, IV_LEN, start, HEAD_LEN,
                                        plain, plain, TAG_LEN, plain + plen);
    mbedtls_gcm_free(&gcm);
    if (ret != 0) {
        mbedtls_platform_zeroize(plain, plen);
        return ret;
    }
    *tlen = HEAD_LEN + plen + TAG_LEN;
    *lifetime = k->lifetime;
    return 0;
}

static const struct tlsio__ticket_key *find_key(const struct tlsio__ticket_keys *k, const unsigned char *name)
{
    for (size_t i = 0; i < k->nkeys; i++)
        if (memcmp(k->keys[i].name, name, NAME_LEN) == 0)
            return &k->keys[i];
    return NULL;
}

/* Authenticates and decrypts in place, then checks the age (*age_ms): 0, or the mbedTLS error for the handshake. */
static int open_ticket(const struct tlsio__ticket_keys *k, unsigned char *buf, size_t len, int64_t *age_ms)
{
    const struct tlsio__ticket_key *key = find_key(k, buf);
    if (key == NULL)
        return MBEDTLS_ERR_SSL_INVALID_MAC; /* another fleet's key, or one retired since */
    size_t clen = len - HEAD_LEN - TAG_LEN;
    unsigned char *cipher = buf + HEAD_LEN;
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    int ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key->aes, AES_LEN * 8);
    if (ret == 0)
        ret = mbedtls_gcm_auth_decrypt(&gcm, clen, buf + NAME_LEN, IV_LEN, buf, HEAD_LEN, cipher + clen, TAG_LEN,
                                       cipher, cipher);
    mbedtls_gcm_free(&gcm);
    if (ret == MBEDTLS_ERR_GCM_AUTH_FAILED)
        return MBEDTLS_ERR_SSL_INVALID_MAC;
    if (ret != 0)
        return ret;
    uint64_t created = get_be64(cipher), now = wall_ms();
    if (created > now + FUTURE_SKEW || (now > created && now - created > (uint64_t)k->lifetime * 1000u))
        return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
    *age_ms = now > created ? (int64_t)(now - created) : 0;
    return 0;
}

/* mbedtls_ssl_ticket_parse_t: any error makes mbedTLS fall back to a full handshake. */
int tlsio__ticket_parse(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    const struct tlsio__ticket_keys *k = p_ticket;
    if (len < HEAD_LEN + TIME_LEN + TAG_LEN)
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    int64_t age_ms = 0;
    int ret = open_ticket(k, buf, len, &age_ms);
    size_t clen = len - HEAD_LEN - TAG_LEN;
    if (ret == 0 && tlsio__ems_refused(buf[HEAD_LEN + TIME_LEN - 1]))
        ret = MBEDTLS_ERR_SSL_INVALID_MAC; /* refused: a full handshake, or the abort decided there */
    if (ret == 0)
        ret = mbedtls_ssl_session_load(session, buf + HEAD_LEN + TIME_LEN, clen - TIME_LEN);
    if (ret == 0)
        tlsio__session_set_age(session, age_ms);
    mbedtls_platform_zeroize(buf + HEAD_LEN, clen); /* the decrypted session, master secret included */
    return ret;
}
