/* proxyd gzip: decides per response whether to compress (gzip on, the client accepts gzip, a listed type, not
 * already encoded, not HEAD/206/204/304, long enough), and deflates the body as it streams, within bounds. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "common/log.h"
#include "handler/internal.h"

struct px_gzip_state {
    z_stream z;
    char *out; /* block from out_pool: compressed bytes of the current batch */
    size_t len;
};

/* Input taken per batch is bounded so that the compressed output of one batch always fits the out block: at
 * most what zlib still holds (its literal buffer) plus deflateBound() of the new input. */
#define GZ_MEM_LEVEL 6 /* literal buffer of 4K symbols: a block never exceeds ~20 KiB */
#define GZ_HELD_MAX (20 * 1024)

/* One element of Accept-Encoding: 1 for "gzip" or "gzip;q=0.5", 0 for "gzip;q=0", -1 for any other coding.
 * *star gets the same verdict for "*" (which only counts when gzip is not named). */
static int element_gzip(const char *p, size_t n, int *star)
{
    size_t name = 0;
    while (name < n && p[name] != ';')
        name++;
    size_t b = 0, e = name;
    while (b < e && (p[b] == ' ' || p[b] == '\t'))
        b++;
    while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    int is_star = e - b == 1 && p[b] == '*';
    if (!(e - b == 4 && strncasecmp(p + b, "gzip", 4) == 0) && !is_star)
        return -1;
    int ok = 1;
    for (size_t i = name; i + 2 < n; i++)
        if ((p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=') {
            char q[8] = {0};
            memcpy(q, p + i + 2, n - i - 2 < sizeof(q) - 1 ? n - i - 2 : sizeof(q) - 1);
            ok = strtod(q, NULL) > 0;
            break;
        }
    if (is_star) {
        *star = ok;
        return -1;
    }
    return ok;
}

/* RFC 9110 12.5.3: gzip named (with q > 0) accepts and "gzip;q=0" refuses, whatever "*" says. */
int px_gzip_accepted(const http_field *fields, size_t nfields)
{
    int gzip = -1, star = 0;
    for (long i = http_find_field(fields, nfields, "accept-encoding", 0); i >= 0;
         i = http_find_field(fields, nfields, "accept-encoding", (size_t)i + 1)) {
        http_slice v = fields[i].value;
        size_t start = 0;
        for (size_t k = 0; k <= v.len; k++)
            if (k == v.len || v.base[k] == ',') {
                int g = element_gzip(v.base + start, k - start, &star);
                if (g >= 0)
                    gzip = g;
                start = k + 1;
            }
    }
    return gzip >= 0 ? gzip : star;
}

static int type_listed(const px_gzip *g, http_slice ct)
{
    size_t n = 0;
    while (n < ct.len && ct.base[n] != ';' && ct.base[n] != ' ')
        n++;
    if (n == 9 && strncasecmp(ct.base, "text/html", 9) == 0)
        return 1; /* as nginx: text/html is always compressed */
    for (int i = 0; i < g->ntypes; i++)
        if (strcmp(g->types[i], "*") == 0 || (strlen(g->types[i]) == n && strncasecmp(g->types[i], ct.base, n) == 0))
            return 1;
    return 0;
}

/* The Content-Length a response to HEAD declares (libhttp does not frame a body there), or UINT64_MAX without one. */
static uint64_t declared_length(const http_response *resp)
{
    long i = http_find_field(resp->fields, resp->nfields, "content-length", 0);
    if (i < 0)
        return UINT64_MAX;
    uint64_t n = 0;
    http_slice v = resp->fields[i].value;
    for (size_t k = 0; k < v.len && v.base[k] >= '0' && v.base[k] <= '9' && n < UINT64_MAX / 10; k++)
        n = n * 10 + (uint64_t)(v.base[k] - '0');
    return n;
}

/* Whether this response would be compressed for a client that accepts gzip (nginx's gzip_vary follows this). */
static int eligible(const px_conn *c, const http_response *resp)
{
    const px_gzip *g = &c->server->gzip;
    const http_request *r = &c->x->req;
    int head = r->method_id == HTTP_M_HEAD; /* judged as the GET it mirrors: its head must say the same */
    if (!g->on || resp->status != 200 || (resp->body == HTTP_BODY_NONE && !head))
        return 0;
    if (resp->body == HTTP_BODY_LENGTH && resp->content_length < g->min_length)
        return 0;
    if (head && declared_length(resp) < g->min_length)
        return 0;
    if (http_find_field(resp->fields, resp->nfields, "content-encoding", 0) >= 0)
        return 0;
    if (!g->proxied_any && http_find_field(r->fields, r->nfields, "via", 0) >= 0)
        return 0;
    long ct = http_find_field(resp->fields, resp->nfields, "content-type", 0);
    return ct >= 0 && type_listed(g, resp->fields[ct].value);
}

int px_gzip_wanted(const px_conn *c, const http_response *resp)
{
    return eligible(c, resp) && px_gzip_accepted(c->x->req.fields, c->x->req.nfields);
}

int px_gzip_vary(const px_conn *c, const http_response *resp)
{
    return c->server->gzip.vary && eligible(c, resp);
}

int px_gzip_start(px_conn *c)
{
    struct px_gzip_state *gz = calloc(1, sizeof(*gz));
    if (!gz)
        return -1;
    gz->out = wire_pool_get(&PX_WS(c)->out_pool);
    if (!gz->out ||
        deflateInit2(&gz->z, c->server->gzip.level, Z_DEFLATED, 15 + 16, GZ_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
        if (gz->out)
            wire_pool_put(&PX_WS(c)->out_pool, gz->out);
        free(gz);
        return -1;
    }
    c->x->gz = gz;
    return 0;
}

size_t px_gzip_input_budget(const px_conn *c)
{
    size_t cap = PX_WS(c)->out_pool.block_size;
    return cap > GZ_HELD_MAX + 2048 ? (cap - GZ_HELD_MAX - 2048) * 1000 / 1001 : 1024;
}

/* Deflates p[0..n) (and finishes the stream when finish) into the batch's out block. 0, or -1 if zlib failed
 * or the bound was wrong (the caller then drops the connection rather than send a corrupt body). */
int px_gzip_feed(px_conn *c, const char *p, size_t n, int finish)
{
    struct px_gzip_state *gz = c->x->gz;
    gz->z.next_in = (Bytef *)(uintptr_t)p;
    gz->z.avail_in = (uInt)n;
    gz->z.next_out = (Bytef *)gz->out + gz->len;
    gz->z.avail_out = (uInt)(PX_WS(c)->out_pool.block_size - gz->len);
    int rc = deflate(&gz->z, finish ? Z_FINISH : Z_NO_FLUSH);
    gz->len = PX_WS(c)->out_pool.block_size - gz->z.avail_out;
    if (rc == Z_STREAM_ERROR || gz->z.avail_in || (finish && rc != Z_STREAM_END)) {
        px_error("gzip: compressed output did not fit its buffer (%d)", rc);
        return -1;
    }
    return 0;
}

/* Hands the batch's compressed bytes to the caller and starts the next batch empty. */
http_slice px_gzip_take(px_conn *c)
{
    http_slice s = http_slice_of(c->x->gz->out, c->x->gz->len);
    c->x->gz->len = 0;
    return s;
}

void px_gzip_end(px_conn *c)
{
    if (!c->x->gz)
        return;
    deflateEnd(&c->x->gz->z);
    wire_pool_put(&PX_WS(c)->out_pool, c->x->gz->out);
    free(c->x->gz);
    c->x->gz = NULL;
}
