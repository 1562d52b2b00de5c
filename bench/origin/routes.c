/* origin endpoints: maps a request head to a route_plan, then writes the response head and inline body.
 * Owns the static body patterns, query parsing and percent-decoding; knows nothing about sockets. */
#include "auth.h"
#include "codec.h"
#include "origin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PATTERN_SIZE 16380 /* a multiple of the sentence length, so the text wraps seamlessly */
#define INLINE_MAX 4096    /* bodies up to this size are copied into the output block */
#define DEFAULT_CHUNK 4096 /* /chunked without ?chunks= cuts the body into pieces of this size */
#define MAX_PAIRS 4        /* /header name/value pairs */
#define MAX_VALUE 1024     /* decoded /header value bytes */

static const char sentence[] = "The quick brown fox jumps over the lazy dog. "; /* 45 bytes */
static char xs[PATTERN_SIZE];
static char prose[PATTERN_SIZE];

origin_stats origin_totals;

void routes_init(void)
{
    memset(xs, 'x', sizeof xs);
    for (size_t i = 0; i < sizeof prose; i++)
        prose[i] = sentence[i % (sizeof sentence - 1)];
}

/* Decimal digits of the whole slice; 0 on success, -1 when empty, not digits, or over max. */
static int parse_u64(http_slice s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 19)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s.base[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Whether s starts with prefix; sets *rest to what follows. */
static int has_prefix(http_slice s, const char *prefix, http_slice *rest)
{
    size_t n = strlen(prefix);
    if (s.len < n || memcmp(s.base, prefix, n) != 0)
        return 0;
    *rest = http_slice_of(s.base + n, s.len - n);
    return 1;
}

static int slice_is(http_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.base, lit, s.len) == 0;
}

/* Iterates "k=v&k=v": returns 1 with the next key and value, 0 at the end. */
static int next_param(http_slice *q, http_slice *key, http_slice *val)
{
    while (q->len > 0) {
        const char *amp = memchr(q->base, '&', q->len);
        size_t n = amp ? (size_t)(amp - q->base) : q->len;
        http_slice item = http_slice_of(q->base, n);
        *q = amp ? http_slice_of(amp + 1, q->len - n - 1) : http_slice_of(q->base + n, 0);
        if (item.len == 0)
            continue;
        const char *eq = memchr(item.base, '=', item.len);
        size_t kl = eq ? (size_t)(eq - item.base) : item.len;
        *key = http_slice_of(item.base, kl);
        *val = eq ? http_slice_of(eq + 1, item.len - kl - 1) : http_slice_of(item.base + kl, 0);
        return 1;
    }
    return 0;
}

static void plan_bad(route_plan *p, const char *why)
{
    p->kind = ROUTE_BAD;
    p->status = 400;
    p->why = why;
}

/* Reads the parameters every route shares (delay) and /chunked's chunks=. */
static void plan_query(route_plan *p)
{
    http_slice q = p->query, k, v;
    uint64_t n;
    while (next_param(&q, &k, &v)) {
        if (slice_is(k, "delay")) {
            if (parse_u64(v, ORIGIN_MAX_DELAY_MS, &n) < 0) {
                plan_bad(p, "bad delay");
                return;
            }
            p->delay_ms = (uint32_t)n;
        } else if (slice_is(k, "chunks") && p->kind == ROUTE_CHUNKED) {
            if (parse_u64(v, 1000000, &n) < 0 || n == 0) {
                plan_bad(p, "bad chunks");
                return;
            }
            p->chunks = n;
        } else if (slice_is(k, "status") && p->kind == ROUTE_HEADER) {
            if (parse_u64(v, 599, &n) < 0 || n < 200) {
                plan_bad(p, "bad status");
                return;
            }
            p->status = (int)n;
        }
    }
}

/* Sets kind, n, status and type from the path alone. */
static void plan_path(http_slice path, route_plan *p)
{
    http_slice rest;
    const uint64_t max = UINT64_C(1) << 40;
    p->kind = ROUTE_SIZE;
    p->status = 200;
    p->n = 100;
    if (slice_is(path, "/"))
        return;
    if (has_prefix(path, "/size/", &rest)) {
        if (parse_u64(rest, max, &p->n) < 0)
            plan_bad(p, "bad size");
    } else if (has_prefix(path, "/chunked/", &rest)) {
        p->kind = ROUTE_CHUNKED;
        if (parse_u64(rest, max, &p->n) < 0)
            plan_bad(p, "bad size");
        p->chunks = p->n ? (p->n + DEFAULT_CHUNK - 1) / DEFAULT_CHUNK : 1;
    } else if (slice_is(path, "/echo")) {
        p->kind = ROUTE_ECHO;
    } else if (has_prefix(path, "/status/", &rest)) {
        uint64_t st;
        p->kind = ROUTE_STATUS;
        if (parse_u64(rest, 599, &st) < 0 || st < 200) {
            plan_bad(p, "bad status");
            return;
        }
        p->status = (int)st;
    } else if (slice_is(path, "/stats")) {
        p->kind = ROUTE_STATS;
    } else if (slice_is(path, "/stats/reset")) {
        p->kind = ROUTE_STATS_RESET;
    } else if (slice_is(path, "/header")) {
        p->kind = ROUTE_HEADER;
    } else if (slice_is(path, "/ntlm")) {
        p->kind = ROUTE_NTLM;
    } else if (slice_is(path, "/basic")) {
        p->kind = ROUTE_BASIC;
    } else if (slice_is(path, "/auth/attempts")) {
        p->kind = ROUTE_ATTEMPTS;
    } else if (slice_is(path, "/ws")) {
        p->kind = ROUTE_WS;
    } else if (slice_is(path, "/close")) {
        p->kind = ROUTE_CLOSE;
    } else if (has_prefix(path, "/type/", &rest)) {
        const char *slash = memchr(rest.base, '/', rest.len);
        p->kind = ROUTE_TYPE;
        if (!slash || slash == rest.base) {
            plan_bad(p, "bad type");
            return;
        }
        p->type = http_slice_of(rest.base, (size_t)(slash - rest.base));
        if (parse_u64(http_slice_of(slash + 1, rest.len - p->type.len - 1), max, &p->n) < 0)
            plan_bad(p, "bad size");
    } else {
        p->kind = ROUTE_NOT_FOUND;
        p->status = 404;
    }
}

void route_plan_request(const http_request *req, route_plan *p)
{
    http_slice path = req->path;
    const char *qm = memchr(path.base, '?', path.len);
    memset(p, 0, sizeof *p);
    if (qm) {
        p->query = http_slice_of(qm + 1, path.len - (size_t)(qm - path.base) - 1);
        path.len = (size_t)(qm - path.base);
    }
    plan_path(path, p);
    if (p->kind != ROUTE_BAD)
        plan_query(p);
}

size_t route_room(const route_plan *p, const http_request *req)
{
    if (p->delay_ms > 0)
        return 0; /* the held response must be alone in the block */
    if (p->kind == ROUTE_ECHO && req->body == HTTP_BODY_CHUNKED && req->method_id != HTTP_M_HEAD)
        return 0;
    if (p->kind == ROUTE_ECHO)
        return ORIGIN_ROUTE_ROOM + req->head_len;
    return ORIGIN_ROUTE_ROOM;
}

/* ---------------------------------------------------------------- writing responses */

static void head_begin(http_writer *wr, int status)
{
    http_write_status_line(wr, 1, status, http_slice_of(NULL, 0));
    http_write_str(wr, "Server: origin\r\n");
}

static void write_length(http_writer *wr, uint64_t n)
{
    http_write_str(wr, "Content-Length: ");
    http_write_u64(wr, n);
    http_write_str(wr, "\r\n");
}

static void head_end(http_writer *wr, const conn *c, int minor)
{
    if (!c->keep_alive)
        http_write_str(wr, "Connection: close\r\n");
    else if (minor == 0)
        http_write_str(wr, "Connection: keep-alive\r\n");
    http_write_end(wr);
}

/* A body of n pattern bytes: copied inline when small, else streamed by the generator. */
static void body_pattern(conn *c, http_writer *wr, const char *pat, uint64_t n)
{
    if (n <= INLINE_MAX) {
        http_write_raw(wr, pat, (size_t)n);
        return;
    }
    memset(&c->gen, 0, sizeof c->gen);
    c->gen.pat = pat;
    c->gen.period = PATTERN_SIZE;
    c->gen.left = n;
}

static void body_chunked(conn *c, uint64_t n, uint64_t chunks)
{
    memset(&c->gen, 0, sizeof c->gen);
    c->gen.pat = xs;
    c->gen.period = PATTERN_SIZE;
    c->gen.chunked = 1;
    c->gen.more = 1;
    c->gen.rest = n;
    c->gen.chunks = chunks > n ? (n ? n : 1) : chunks;
}

int gen_step(conn *c)
{
    body_gen *g = &c->gen;
    size_t n = 0;
    if (wire_buf_room(&c->out) < 32)
        wire_buf_compact(&c->out);
    if (wire_buf_room(&c->out) < 32)
        return -1;
    char *p = wire_buf_tail(&c->out);
    if (g->crlf) {
        memcpy(p, "\r\n", 2);
        n = 2;
        g->crlf = 0;
    }
    if (g->rest > 0) {
        uint64_t size = (g->rest + g->chunks - 1) / g->chunks; /* chunks <= rest: every chunk non-empty */
        g->rest -= size;
        g->chunks--;
        n += http_chunk_header(p + n, size);
        g->left = size;
        g->crlf = 1;
    } else {
        memcpy(p + n, HTTP_LAST_CHUNK, sizeof HTTP_LAST_CHUNK - 1);
        n += sizeof HTTP_LAST_CHUNK - 1;
        g->more = 0;
    }
    c->out.end += n;
    return 0;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes ('+' stays '+'). Returns the length, or -1 on a bad escape or overflow. */
static long pct_decode(http_slice in, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char ch = in.base[i];
        if (ch == '%') {
            if (in.len - i < 3) /* '%' and two hex digits */
                return -1;
            int hi = hex_value(in.base[i + 1]), lo = hex_value(in.base[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n == cap)
            return -1;
        out[n++] = ch;
    }
    return (long)n;
}

static int is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch >= '0' && ch <= '9') && !(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
            !strchr("!#$%&'*+-.^_`|~", ch))
            return 0;
    }
    return 1;
}

static int is_field_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    return 1;
}

/* Writes each name=X&value=Y pair of the query as a field. Returns 0, or -1 (with *why) when malformed. */
static int write_query_fields(http_writer *wr, http_slice q, const char **why)
{
    char name[128], value[MAX_VALUE];
    long nl = -1, vl, pairs = 0;
    http_slice k, v;
    while (next_param(&q, &k, &v)) {
        if (slice_is(k, "name")) {
            nl = pct_decode(v, name, sizeof name);
            if (nl < 0 || !is_token(name, (size_t)nl))
                return *why = "bad field name", -1;
        } else if (slice_is(k, "value")) {
            vl = pct_decode(v, value, sizeof value);
            if (nl < 0 || vl < 0 || !is_field_value(value, (size_t)vl) || ++pairs > MAX_PAIRS)
                return *why = "bad field value (or value before name)", -1;
            http_write_field(wr, http_slice_of(name, (size_t)nl), http_slice_of(value, (size_t)vl));
            nl = -1;
        }
    }
    return 0;
}

static void write_stats(http_writer *wr, conn *c, int minor, uint64_t conns, uint64_t reqs, int head_only)
{
    char body[96];
    int n = snprintf(body, sizeof body, "{\"connections\":%llu,\"requests\":%llu}\n", (unsigned long long)conns,
                     (unsigned long long)reqs);
    head_begin(wr, 200);
    http_write_str(wr, "Content-Type: application/json\r\n");
    write_length(wr, (uint64_t)n);
    head_end(wr, c, minor);
    if (!head_only)
        http_write_raw(wr, body, (size_t)n);
}

/* A short text body ("404 Not Found\n") for status, error and not-found replies; none for 204 and 304. */
static void write_text(http_writer *wr, conn *c, int minor, int status, const char *text, int head_only)
{
    char body[160];
    int n = snprintf(body, sizeof body, "%d %s\n", status, text ? text : http_reason(status));
    if (n < 0 || (size_t)n >= sizeof body)
        n = (int)sizeof body - 1;
    head_begin(wr, status);
    if (status == 204 || status == 304) {
        head_end(wr, c, minor);
        return;
    }
    http_write_str(wr, "Content-Type: text/plain\r\n");
    write_length(wr, (uint64_t)n);
    head_end(wr, c, minor);
    if (!head_only)
        http_write_raw(wr, body, (size_t)n);
}

/* /echo: the raw head, then the request body as it arrives (conn.c copies it). A chunked body's length is known
 * only at the end, so its head is written last into room reserved in front (route_echo_finish). */
static void write_echo(http_writer *wr, conn *c, const http_request *req, const char *head, size_t head_len,
                       int head_only)
{
    c->echo = !head_only && req->body != HTTP_BODY_NONE;
    if (c->echo && req->body == HTTP_BODY_CHUNKED) {
        c->echo_chunked = 1;
        c->hold_echo = 1;
        http_write_raw(wr, head, head_len);
        return;
    }
    head_begin(wr, 200);
    http_write_str(wr, "Content-Type: text/plain\r\n");
    write_length(wr, head_len + (req->body == HTTP_BODY_LENGTH ? req->content_length : 0));
    head_end(wr, c, req->minor);
    if (!head_only)
        http_write_raw(wr, head, head_len);
}

void route_echo_finish(conn *c)
{
    char tmp[ORIGIN_ECHO_RESERVE];
    http_writer wr;
    http_writer_init(&wr, tmp, sizeof tmp);
    head_begin(&wr, 200);
    http_write_str(&wr, "Content-Type: text/plain\r\n");
    write_length(&wr, wire_buf_len(&c->out));
    head_end(&wr, c, 1);
    /* The reserve is larger than this head can be (three fields, a 20-digit length). */
    memcpy(c->out.base + c->out.start - wr.len, tmp, wr.len);
    c->out.start -= wr.len;
    c->hold_echo = 0;
}

/* The body-carrying routes: sizes, types and chunked. */
static void write_generated(http_writer *wr, conn *c, const route_plan *p, int minor, int head_only)
{
    char type[128];
    const char *pat = xs;
    head_begin(wr, 200);
    if (p->kind == ROUTE_TYPE) {
        size_t n = p->type.len < sizeof type - 1 ? p->type.len : sizeof type - 1;
        for (size_t i = 0; i < n; i++)
            type[i] = p->type.base[i] == '_' ? '/' : p->type.base[i];
        http_write_str(wr, "Content-Type: ");
        http_write_raw(wr, type, n);
        http_write_str(wr, "\r\n");
        pat = prose;
    } else {
        http_write_str(wr, "Content-Type: text/plain\r\n");
    }
    if (p->kind == ROUTE_CHUNKED && minor == 1) {
        http_write_str(wr, "Transfer-Encoding: chunked\r\n");
        head_end(wr, c, minor);
        if (!head_only)
            body_chunked(c, p->n, p->chunks);
        return;
    }
    write_length(wr, p->n);
    head_end(wr, c, minor);
    if (!head_only)
        body_pattern(c, wr, pat, p->n);
}

/* /ntlm: 401 offering Negotiate and NTLM, 401 with a challenge, or 200 naming the authenticated user. */
static void write_ntlm(http_writer *wr, conn *c, const http_request *req, int head_only)
{
    ntlm_reply r;
    ntlm_step(c, req, &r);
    head_begin(wr, r.status);
    if (r.status == 401 && r.challenge[0]) {
        http_write_field(wr, http_slice_cstr("WWW-Authenticate"), http_slice_cstr(r.challenge));
    } else if (r.status == 401) {
        http_write_str(wr, "WWW-Authenticate: Negotiate\r\n");
        http_write_str(wr, "WWW-Authenticate: NTLM\r\n");
    }
    http_write_str(wr, "Content-Type: text/plain\r\n");
    write_length(wr, strlen(r.body));
    head_end(wr, c, req->minor);
    if (!head_only)
        http_write_str(wr, r.body);
}

/* /basic: 200 for a known user's Basic credentials, else 401 with a Basic challenge; each attempt counted. */
static void write_basic(http_writer *wr, conn *c, const http_request *req, int head_only)
{
    char cred[512], body[96];
    int status = 401;
    long i = http_find_field(req->fields, req->nfields, "Authorization", 0);
    http_slice v = i >= 0 ? req->fields[i].value : http_slice_of("", 0);
    long n = v.len > 6 && strncasecmp(v.base, "Basic ", 6) == 0
                 ? codec_b64_decode(v.base + 6, v.len - 6, cred, sizeof cred - 1)
                 : -1;
    char *colon = n > 0 ? memchr(cred, ':', (size_t)n) : NULL;
    if (colon) {
        cred[n] = 0;
        *colon = 0;
        auth_count_attempt(cred);
        if (auth_basic_ok(cred, colon + 1))
            status = 200;
        memset(cred, 0, sizeof cred);
    }
    int len = snprintf(body, sizeof body, status == 200 ? "authenticated\n" : "401 Unauthorized\n");
    head_begin(wr, status);
    if (status == 401)
        http_write_str(wr, "WWW-Authenticate: Basic realm=\"origin\"\r\n");
    http_write_str(wr, "Content-Type: text/plain\r\n");
    write_length(wr, (uint64_t)len);
    head_end(wr, c, req->minor);
    if (!head_only)
        http_write_raw(wr, body, (size_t)len);
}

/* /auth/attempts: the login attempts (NTLM type 3, Basic) that reached this origin, per user. */
static void write_attempts(http_writer *wr, conn *c, const http_request *req, int head_only)
{
    char body[4096];
    size_t len = auth_attempts_text(body, sizeof body);
    head_begin(wr, 200);
    http_write_str(wr, "Content-Type: text/plain\r\n");
    write_length(wr, len);
    head_end(wr, c, req->minor);
    if (!head_only)
        http_write_raw(wr, body, len);
}

/* /ws: 101 and frames from then on, or a refusal that stays ordinary HTTP. */
static void write_ws(http_writer *wr, conn *c, const http_request *req, int head_only)
{
    char accept[32];
    int status = ws_handshake(req, accept);
    if (status != 101) {
        if (status == 426) {
            head_begin(wr, 426);
            http_write_str(wr, "Sec-WebSocket-Version: 13\r\nContent-Type: text/plain\r\n");
            write_length(wr, 4);
            head_end(wr, c, req->minor);
            if (!head_only)
                http_write_str(wr, "426\n");
            return;
        }
        write_text(wr, c, req->minor, status, "bad Sec-WebSocket-Key", head_only);
        return;
    }
    c->ws = 1;
    head_begin(wr, 101);
    http_write_str(wr, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    http_write_str(wr, accept);
    http_write_str(wr, "\r\n");
    http_write_end(wr);
}

static void write_route(http_writer *wr, conn *c, const route_plan *p, const http_request *req, const char *head,
                        size_t head_len)
{
    int head_only = req->method_id == HTTP_M_HEAD, minor = req->minor;
    const char *why = NULL;
    switch (p->kind) {
    case ROUTE_SIZE:
    case ROUTE_CHUNKED:
    case ROUTE_TYPE: {
        write_generated(wr, c, p, minor, head_only);
        return;
    }
    case ROUTE_ECHO: {
        write_echo(wr, c, req, head, head_len, head_only);
        return;
    }
    case ROUTE_STATS:
    case ROUTE_STATS_RESET: {
        uint64_t conns = atomic_load_explicit(&origin_totals.connections, memory_order_relaxed);
        uint64_t reqs = atomic_load_explicit(&origin_totals.requests, memory_order_relaxed);
        if (p->kind == ROUTE_STATS_RESET) {
            atomic_store(&origin_totals.connections, 0);
            atomic_store(&origin_totals.requests, 0);
            conns = reqs = 0;
        }
        {
            write_stats(wr, c, minor, conns, reqs, head_only);
            return;
        }
    }
    case ROUTE_HEADER: {
        size_t mark = wr->len;
        head_begin(wr, p->status);
        if (write_query_fields(wr, p->query, &why) < 0) {
            wr->len = mark;
            {
                write_text(wr, c, minor, 400, why, head_only);
                return;
            }
        }
        write_length(wr, 3);
        head_end(wr, c, minor);
        if (!head_only)
            http_write_raw(wr, "ok\n", 3);
        return;
    }
    case ROUTE_NTLM: write_ntlm(wr, c, req, head_only); return;
    case ROUTE_BASIC: write_basic(wr, c, req, head_only); return;
    case ROUTE_ATTEMPTS: write_attempts(wr, c, req, head_only); return;
    case ROUTE_WS: write_ws(wr, c, req, head_only); return;
    case ROUTE_CLOSE:
        c->keep_alive = 0;
        {
            write_text(wr, c, minor, 200, "closing", head_only);
            return;
        }
    case ROUTE_STATUS:
    case ROUTE_NOT_FOUND: {
        write_text(wr, c, minor, p->status, NULL, head_only);
        return;
    }
    case ROUTE_BAD: {
        write_text(wr, c, minor, 400, p->why, head_only);
        return;
    }
    }
}

int route_write(conn *c, const route_plan *p, const http_request *req, const char *head, size_t head_len)
{
    http_writer wr;
    int counted = p->kind != ROUTE_STATS && p->kind != ROUTE_STATS_RESET;
    memset(&c->gen, 0, sizeof c->gen);
    c->echo = c->echo_chunked = c->hold_echo = 0;
    c->keep_alive = req->keep_alive && !req->must_close;
    if (counted) {
        atomic_fetch_add_explicit(&origin_totals.requests, 1, memory_order_relaxed);
        if (!c->counted)
            atomic_fetch_add_explicit(&origin_totals.connections, 1, memory_order_relaxed);
        c->counted = 1;
    }
    if (route_room(p, req) == 0 && wire_buf_len(&c->out) == 0) /* alone in the block: keep the echo reserve */
        c->out.start = c->out.end = ORIGIN_ECHO_RESERVE;
    http_writer_init(&wr, wire_buf_tail(&c->out), wire_buf_room(&c->out));
    if (req->expect_continue && req->body != HTTP_BODY_NONE && req->minor == 1)
        http_write_str(&wr, "HTTP/1.1 100 Continue\r\n\r\n");
    write_route(&wr, c, p, req, head, head_len);
    if (wr.overflow)
        return -1;
    c->out.end += wr.len;
    if (c->gen.chunked && gen_step(c) < 0)
        return -1;
    if (p->delay_ms > 0)
        conn_start_delay(c, p->delay_ms);
    return 0;
}

int route_error(conn *c, int status, const char *why)
{
    http_writer wr;
    c->keep_alive = 0;
    memset(&c->gen, 0, sizeof c->gen);
    http_writer_init(&wr, wire_buf_tail(&c->out), wire_buf_room(&c->out));
    write_text(&wr, c, 1, status, why, 0);
    if (wr.overflow)
        return -1;
    c->out.end += wr.len;
    return 0;
}
