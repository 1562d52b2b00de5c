/* proxyd status endpoint: the [status] listener answers GET /metrics with Prometheus text summed over every
 * worker's counters (relaxed atomic reads, no locks) and the shared upstream health, and /healthz and /readyz for
 * load balancers and orchestrators. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "handler/internal.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

static uint64_t sum(const px_daemon *d, size_t offset)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < d->nworkers; i++)
        s += atomic_load_explicit((_Atomic uint64_t *)(void *)((char *)&d->workers[i].stats + offset),
                                  memory_order_relaxed);
    return s;
}

static void counters(sbuf *b, const px_daemon *d)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } m[] = {
        {"proxyd_connections_accepted_total", "Client connections accepted", offsetof(px_stats, accepted)},
        {"proxyd_requests_total", "Requests received", offsetof(px_stats, requests)},
        {"proxyd_upstream_connections_opened_total", "Upstream connections opened", offsetof(px_stats, up_opened)},
        {"proxyd_upstream_connections_reused_total", "Requests sent on a pooled upstream connection",
         offsetof(px_stats, up_reused)},
        {"proxyd_bytes_received_total", "Bytes received from clients", offsetof(px_stats, bytes_in)},
        {"proxyd_bytes_sent_total", "Bytes sent to clients", offsetof(px_stats, bytes_out)},
        {"proxyd_tls_handshakes_total", "Client TLS handshakes completed", offsetof(px_stats, tls_handshakes)},
        {"proxyd_tls_handshakes_resumed_total", "Client TLS handshakes that resumed a session",
         offsetof(px_stats, tls_resumed)},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        put(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m[i].name, m[i].help, m[i].name, m[i].name,
            (unsigned long long)sum(d, m[i].off));
    put(b, "# HELP proxyd_responses_total Responses by status class\n# TYPE proxyd_responses_total counter\n");
    for (int k = 1; k <= 5; k++)
        put(b, "proxyd_responses_total{class=\"%dxx\"} %llu\n", k,
            (unsigned long long)sum(d, offsetof(px_stats, status) + (size_t)k * sizeof(_Atomic uint64_t)));
    put(b,
        "# HELP proxyd_connections Open client connections\n# TYPE proxyd_connections gauge\n"
        "proxyd_connections %llu\n",
        (unsigned long long)sum(d, offsetof(px_stats, conns)));
    static const char *const states[] = {"reading", "active", "idle"};
    put(b, "# HELP proxyd_connections_by_state Open client connections: reading a request head, in an exchange "
           "(waiting on or streaming from the upstream), or idle between keep-alive requests\n"
           "# TYPE proxyd_connections_by_state gauge\n");
    for (int k = 0; k < 3; k++)
        put(b, "proxyd_connections_by_state{state=\"%s\"} %llu\n", states[k],
            (unsigned long long)sum(d, offsetof(px_stats, by_state) + (size_t)k * sizeof(_Atomic uint64_t)));
    put(b,
        "# HELP proxyd_reloads_total Configuration reloads\n# TYPE proxyd_reloads_total counter\n"
        "proxyd_reloads_total %llu\n",
        (unsigned long long)atomic_load(&((px_daemon *)d)->reloads));
}

static void health(sbuf *b, const px_runtime *rt, uint64_t now)
{
    put(b, "# HELP proxyd_upstream_server_up 1 when the server is in rotation (passive and active health)\n"
           "# TYPE proxyd_upstream_server_up gauge\n");
    for (int u = 0; u < rt->cfg->nupstreams; u++) {
        const px_upstream *up = &rt->cfg->upstreams[u];
        for (int s = 0; s < up->nservers; s++) {
            const px_health *h = &rt->health[rt->health_base[u] + s];
            int up_now =
                !atomic_load(&((px_health *)h)->active_down) && atomic_load(&((px_health *)h)->down_until) <= now;
            put(b, "proxyd_upstream_server_up{upstream=\"%s\",server=\"%s\"} %d\n", up->name, up->servers[s].text,
                up_now);
        }
    }
}

/* /healthz: whether this instance wants new connections, for an L4 balancer's health check: 503 from SIGQUIT on
 * (through drain_delay, while it still serves). /readyz: also 503 until every worker runs. */
static px_step probe(px_conn *c, int readiness)
{
    px_daemon *d = c->w->daemon;
    if (atomic_load(&d->draining))
        return px_respond_body(c, 503, "text/plain", "draining\n", 9);
    if (readiness && atomic_load(&d->ready) < (int)d->nworkers)
        return px_respond_body(c, 503, "text/plain", "starting\n", 9);
    return px_respond_body(c, 200, "text/plain", "ok\n", 3);
}

/* Whether path is name, with or without a query. */
static int path_is(http_slice path, const char *name)
{
    size_t n = strlen(name);
    return path.len >= n && memcmp(path.base, name, n) == 0 && (path.len == n || path.base[n] == '?');
}

static px_step metrics(px_conn *c)
{
    /* The answer must fit one pending-output block, since a slow scraper may take it in pieces. */
    size_t cap = PX_WS(c)->out_pool.block_size - PX_STATUS_HEAD_ROOM;
    sbuf b = {malloc(cap), 0, cap};
    if (!b.p)
        return px_respond_error(c, 500, "out of memory");
    b.p[0] = 0;
    counters(&b, c->w->daemon);
    health(&b, c->rt, wire_now(c->w->loop));
    b.len += px_auth_guard_metrics(c->rt, b.p + b.len, b.cap - b.len);
    if (b.len >= cap - 1) {
        static const char cut[] = "\n# truncated: more upstream servers than one answer holds\n";
        memcpy(b.p + cap - sizeof(cut), cut, sizeof(cut) - 1);
        b.len = cap - 1;
    }
    px_step r = px_respond_body(c, 200, "text/plain; version=0.0.4", b.p, b.len);
    free(b.p);
    return r;
}

px_step px_status_respond(px_conn *c)
{
    if (!px_acl_allows(&c->rt->cfg->status_acl, &c->peer_ip))
        return px_refuse(c, PX_REFUSED_ACCESS, 403, "access to the status listener forbidden by rule", 0);
    http_slice path = c->x->req.path;
    if (path_is(path, "/healthz"))
        return probe(c, 0);
    if (path_is(path, "/readyz"))
        return probe(c, 1);
    if (path_is(path, "/metrics"))
        return metrics(c);
    if (path_is(path, "/auth-guard") || path_is(path, "/auth-guard/clear"))
        return px_auth_guard_status(c);
    return px_respond_error(c, 404, "status: only /metrics, /healthz and /readyz");
}
