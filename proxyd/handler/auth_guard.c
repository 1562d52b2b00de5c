/* proxyd auth_guard: a request with credentials for a blocked account or from a blocked client is answered here
 * before any upstream connection; the upstream's answer to credentials counts a failed login or clears one; the
 * block and unblock log lines, the proxyd_auth_guard_* metrics and /auth-guard on the status listener. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "handler/internal.h"
#include "upstream/upstream.h"

/* ---------------------------------------------------------------- log lines */

static const char *kind_name(unsigned bit)
{
    return bit == PX_AG_BY_ACCOUNT ? "account" : "client";
}

/* One line per block started and per block lifted: the account (escaped: a client wrote it), the client, counts. */
static void log_events(px_conn *c, const px_ag_verdict *v, const px_auth_guard *g)
{
    char acc[4 * PX_CRED_ACCOUNT_MAX + 1];
    if (!v->started && !v->ended)
        return;
    px_log_escape(c->x->ag_account, strlen(c->x->ag_account), acc, sizeof(acc));
    for (unsigned bit = PX_AG_BY_ACCOUNT; bit <= PX_AG_BY_CLIENT; bit <<= 1) {
        const px_ag_limit *l = bit == PX_AG_BY_ACCOUNT ? &g->account : &g->client;
        if (v->started & bit)
            px_warn("auth_guard: %s blocked for %llus after %u failed logins (max %u): account \"%s\" (%u "
                    "failures), client %s (%u failures)%s",
                    kind_name(bit), (unsigned long long)(l->window_ms / 1000),
                    bit == PX_AG_BY_ACCOUNT ? v->account_fails : v->client_fails, l->max, acc, v->account_fails,
                    c->peer, v->client_fails, px_log_context(c));
        if (v->ended & bit)
            px_warn("auth_guard: %s unblocked, its block is over: %s %s%s", kind_name(bit), kind_name(bit),
                    bit == PX_AG_BY_ACCOUNT ? acc : c->peer, px_log_context(c));
    }
}

/* ---------------------------------------------------------------- before the upstream */

/* Whether ip is inside one of the trusted blocks (allow rules; no match is not trusted). */
static int trusted(const px_acl *acl, const px_ip *ip)
{
    for (int i = 0; i < acl->n; i++)
        if (px_cidr_match(&acl->rules[i].net, ip))
            return 1;
    return 0;
}

/* The credentials of the request, read into the exchange. PX_CRED_NONE: nothing to guard. */
static px_cred_kind read_credentials(px_conn *c)
{
    px_exchange *x = c->x;
    const http_request *r = &x->req;
    long i = http_find_field(r->fields, r->nfields, "authorization", 0);
    if (i < 0)
        return PX_CRED_NONE;
    http_slice v = r->fields[i].value;
    return px_cred_parse(v.base, v.len, x->ag_account, sizeof(x->ag_account));
}

int px_auth_guard_admit(px_conn *c, px_step *step)
{
    px_exchange *x = c->x;
    const px_auth_guard *g = &c->server->auth_guard;
    px_ag_table *t = c->rt->auth_guard;
    if (!x->route->auth_guard || !t || !c->peer_ip.family || trusted(&g->trusted, &c->peer_ip))
        return 1;
    px_cred_kind kind = read_credentials(c);
    if (kind == PX_CRED_NONE)
        return 1;
    x->ag_kind = (uint8_t)kind;
    if (kind == PX_CRED_NTLM_START)
        return 1; /* not a login (the directory counts nothing): a blocked client is answered at its type 3 */
    px_ag_verdict v;
    px_ag_check(t, x->ag_account, &c->peer_ip, &g->account, &g->client, wire_now(c->w->loop), &v);
    log_events(c, &v, g);
    if (!v.blocked)
        return 1;
    x->ag_kind = PX_CRED_NONE; /* proxyd answers: nothing to count */
    atomic_fetch_add_explicit(&px_ag_table_stats(t)->refused, 1, memory_order_relaxed);
    if (c->pinned) { /* the NTLM handshake in progress on it must not go on: the origin never sees the attempt */
        px_upstream_close(c->pinned);
        c->pinned = NULL;
        c->pin = 0;
        x->keep_alive = 0;
    }
    *step = px_refuse(c, PX_REFUSED_AUTH, g->answer,
                      v.blocked & PX_AG_BY_CLIENT ? "login refused, the client is blocked (auth_guard)"
                                                  : "login refused, the account is blocked (auth_guard)",
                      g->answer == 429 ? v.retry_ms : 0);
    return 0;
}

/* ---------------------------------------------------------------- the upstream's answer */

/* Whether a 401 to a Negotiate token goes on with a token of its own (Kerberos or SPNEGO continuing), which is
 * not a failed login. */
static int negotiate_continues(const http_response *resp)
{
    for (long j = http_find_field(resp->fields, resp->nfields, "www-authenticate", 0); j >= 0;
         j = http_find_field(resp->fields, resp->nfields, "www-authenticate", (size_t)j + 1)) {
        http_slice v = resp->fields[j].value;
        if (v.len > 10 && strncasecmp(v.base, "Negotiate ", 10) == 0)
            return 1;
    }
    return 0;
}

void px_auth_guard_response(px_conn *c, const http_response *resp)
{
    px_exchange *x = c->x;
    if (x->ag_kind == PX_CRED_NONE || x->ag_kind == PX_CRED_NTLM_START)
        return;
    const px_auth_guard *g = &c->server->auth_guard;
    uint64_t now = wire_now(c->w->loop);
    if (resp->status == 401 && !(x->ag_kind == PX_CRED_TOKEN && negotiate_continues(resp))) {
        px_ag_verdict v;
        px_ag_fail(c->rt->auth_guard, x->ag_account, &c->peer_ip, &g->account, &g->client, now, &v);
        log_events(c, &v, g);
    } else if (resp->status >= 200 && resp->status < 300) {
        px_ag_succeed(c->rt->auth_guard, x->ag_account, &c->peer_ip, &g->account, &g->client, now);
    }
    x->ag_kind = PX_CRED_NONE; /* counted once, whatever follows (a retry, a 100) */
}

/* ---------------------------------------------------------------- the status listener */

typedef struct out {
    char *p;
    size_t len, cap;
    uint32_t listed;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = o->len < o->cap ? vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap) : 0;
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

static void ip_text(const px_ip *ip, char *buf, size_t cap)
{
    if (!inet_ntop(ip->family == PX_IP_V4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)cap))
        snprintf(buf, cap, "?");
}

static void list_one(void *arg, const char *account, const px_ip *ip, uint32_t fails, uint64_t left_ms)
{
    out *o = arg;
    char text[4 * PX_CRED_ACCOUNT_MAX + 1];
    if (o->listed++ >= PX_AG_LIST_MAX)
        return;
    if (account)
        px_log_escape(account, strlen(account), text, sizeof(text));
    else
        ip_text(ip, text, sizeof(text));
    put(o, "%s %s failures=%u remaining=%llus\n", account ? "account" : "client", text, fails,
        (unsigned long long)((left_ms + 999) / 1000));
}

/* The value of name= in the query of path, percent-decoded into buf. -1 when absent or malformed. */
static long query_param(http_slice path, const char *name, char *buf, size_t cap)
{
    const char *q = memchr(path.base, '?', path.len), *end = path.base + path.len;
    size_t nl = strlen(name);
    for (const char *p = q ? q + 1 : end; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t k = 0;
            for (const char *s = p + nl + 1; s < stop; s++) {
                unsigned v;
                char hex[3] = {0};
                if (k + 1 >= cap)
                    return -1;
                if (*s == '%' && stop - s >= 3 && (hex[0] = s[1], hex[1] = s[2], sscanf(hex, "%2x", &v) == 1)) {
                    buf[k++] = (char)v;
                    s += 2;
                } else
                    buf[k++] = *s == '+' ? ' ' : *s;
            }
            buf[k] = 0;
            return (long)k;
        }
        p = stop + 1;
    }
    return -1;
}

/* POST /auth-guard/clear?account=NAME or ?client=ADDRESS: lifts a block, logged. */
static px_step clear(px_conn *c, px_ag_table *t)
{
    char v[256], key[PX_CRED_ACCOUNT_MAX + 1] = "", msg[512];
    http_slice path = c->x->req.path;
    px_ip ip = {0};
    int rc;
    if (query_param(path, "account", v, sizeof(v)) > 0 && px_cred_account_key(v, strlen(v), key, sizeof(key))) {
        rc = px_ag_clear(t, key, NULL, wire_now(c->w->loop));
    } else if (query_param(path, "client", v, sizeof(v)) > 0) {
        px_cidr net;
        if (px_cidr_parse(v, &net) != 0 || (net.family != PX_IP_V4 && net.family != PX_IP_V6) ||
            net.bits != (net.family == PX_IP_V4 ? 32 : 128))
            return px_respond_error(c, 400, "auth-guard: client= needs one IPv4 or IPv6 address");
        ip.family = net.family;
        memcpy(ip.addr, net.addr, sizeof(ip.addr));
        rc = px_ag_clear(t, NULL, &ip, wire_now(c->w->loop));
    } else
        return px_respond_error(c, 400, "auth-guard: expected ?account=NAME or ?client=ADDRESS");
    char esc[4 * sizeof(v)];
    const char *shown = ip.family ? v : key; /* the account as counted: `CONTOSO\Alice` is alice */
    px_log_escape(shown, strlen(shown), esc, sizeof(esc));
    if (rc == 1)
        px_warn("auth_guard: %s \"%s\" unblocked through /auth-guard/clear%s", ip.family ? "client" : "account", esc,
                px_log_context(c));
    int n = snprintf(msg, sizeof(msg), "%s %s: %s\n", ip.family ? "client" : "account", esc,
                     rc == 1   ? "unblocked"
                     : rc == 0 ? "not blocked, failures forgotten"
                               : "unknown");
    return px_respond_body(c, rc < 0 ? 404 : 200, "text/plain", msg, (size_t)n);
}

px_step px_auth_guard_status(px_conn *c)
{
    px_ag_table *t = c->rt->auth_guard;
    const http_request *r = &c->x->req;
    int is_clear = r->path.len >= 17 && memcmp(r->path.base, "/auth-guard/clear", 17) == 0;
    if (!t)
        return px_respond_body(c, 404, "text/plain", "auth_guard is off\n", 18);
    if (is_clear)
        return r->method_id == HTTP_M_POST || r->method_id == HTTP_M_DELETE
                   ? clear(c, t)
                   : px_respond_error(c, 405, "auth-guard: clear with POST or DELETE");
    if (r->method_id != HTTP_M_GET && r->method_id != HTTP_M_HEAD)
        return px_respond_error(c, 405, "auth-guard: list with GET");
    size_t cap = PX_WS(c)->out_pool.block_size - PX_STATUS_HEAD_ROOM;
    out o = {malloc(cap), 0, cap, 0};
    if (!o.p)
        return px_respond_error(c, 500, "out of memory");
    uint32_t n = px_ag_list_blocked(t, wire_now(c->w->loop), list_one, &o);
    if (o.listed > PX_AG_LIST_MAX || o.len >= cap - 1)
        put(&o, "# and more: %u blocked in all\n", n);
    put(&o, "# %u blocked; table: %u of %u entries in use\n", n, px_ag_table_count(t), px_ag_table_capacity(t));
    px_step s = px_respond_body(c, 200, "text/plain", o.p, o.len);
    free(o.p);
    return s;
}
