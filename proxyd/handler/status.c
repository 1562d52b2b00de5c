/* proxyd status endpoint: the [status] listener answers GET /metrics with Prometheus text summed over every
 * worker's counters (relaxed atomic reads, no locks) and the shared upstream health, and /healthz and /readyz for
 * load balancers and orchestrators. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "handler/internal.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

/* Appends to the scrape's text, growing it (a scrape may allocate: it is not a request of the proxied traffic).
 * When memory runs out the buffer is dropped and p is NULL: the scrape answers 500. */
static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    for (int pass = 0; b->p && pass < 2; pass++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            free(b->p);
        b->p = p;
        b->cap = cap;
    }
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

/* The server label of server s of up: its address as written, with "#k" on its k-th occurrence when the upstream
 * lists the same address more than once (each stays its own series). Written into buf. */
static const char *server_text(const px_upstream *up, int s, char *buf, size_t cap)
{
    int k = 1;
    for (int i = 0; i < s; i++)
        k += strcmp(up->servers[i].text, up->servers[s].text) == 0;
    if (k == 1)
        return up->servers[s].text;
    snprintf(buf, cap, "%s#%d", up->servers[s].text, k);
    return buf;
}

static char *label_of(const char *upstream, const char *server);
static int bare(const char *l);

/* Whether upstream server h (a health index) is in rotation at now: neither active checks nor passive health took
 * it out. */
static int in_rotation(const px_runtime *rt, int h, uint64_t now)
{
    px_health *hs = &rt->health[h];
    return !atomic_load(&hs->active_down) && atomic_load(&hs->down_until) <= now;
}

static void health(sbuf *b, const px_runtime *rt, uint64_t now)
{
    put(b, "# HELP proxyd_upstream_server_up 1 when the server is in rotation (passive and active health)\n"
           "# TYPE proxyd_upstream_server_up gauge\n");
    for (int u = 0; u < rt->cfg->nupstreams; u++) {
        const px_upstream *up = &rt->cfg->upstreams[u];
        for (int s = 0; s < up->nservers; s++) {
            int up_now = in_rotation(rt, rt->health_base[u] + s, now);
            char text[PX_ADDR_TEXT_MAX + 16];
            char *l = label_of(up->name, server_text(up, s, text, sizeof(text)));
            if (l)
                put(b, "proxyd_upstream_server_up{%.*s} %d\n", bare(l), l, up_now);
            free(l);
        }
    }
}

/* ---------------------------------------------------------------- per [server], upstream and upstream server */

/* A histogram summed over the workers (bucket counts not cumulative yet), and an upstream server's counters. */
typedef struct hist_sum {
    uint64_t bucket[PX_HIST_SLOTS];
    uint64_t sum_ms;
} hist_sum;

typedef struct upserver_sum {
    uint64_t requests, responses[6], errors[PX_UPERR_KINDS];
    int64_t active;
    int up; /* in rotation */
    hist_sum time;
} upserver_sum;

static void add_hist(hist_sum *h, const px_hist *w)
{
    for (int i = 0; i < PX_HIST_SLOTS; i++)
        h->bucket[i] += px_metric_get(&w->bucket[i]);
    h->sum_ms += px_metric_get(&w->sum_ms);
}

static void add_upserver(upserver_sum *o, const px_upserver_metrics *m)
{
    o->requests += px_metric_get(&m->requests);
    for (int k = 0; k < 6; k++)
        o->responses[k] += px_metric_get(&m->responses[k]);
    for (int k = 0; k < PX_UPERR_KINDS; k++)
        o->errors[k] += px_metric_get(&m->errors[k]);
    o->active += (int64_t)px_metric_get(&m->active);
    add_hist(&o->time, &m->response_time);
}

/* Upstream server h (a health index) summed over the workers of rt. */
static void sum_upserver(const px_runtime *rt, int h, upserver_sum *o)
{
    memset(o, 0, sizeof(*o));
    for (unsigned k = 0; k < rt->nworkers; k++)
        add_upserver(o, &rt->ws[k].metrics.upservers[h]);
}

/* The _bucket lines (cumulative, le in seconds), _sum and _count of one histogram; labels end in a comma. */
static void put_hist(sbuf *b, const char *name, const char *labels, const hist_sum *h)
{
    uint64_t cum = 0;
    for (unsigned i = 0; i < PX_HIST_FINITE; i++) {
        cum += h->bucket[i];
        put(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, (double)px_hist_bound(i) / 1000.0,
            (unsigned long long)cum);
    }
    cum += h->bucket[PX_HIST_FINITE];
    put(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
    size_t n = strlen(labels); /* _sum and _count take the labels without the trailing comma */
    put(b, "%s_sum{%.*s} %.3f\n%s_count{%.*s} %llu\n", name, (int)(n ? n - 1 : 0), labels, (double)h->sum_ms / 1000.0,
        name, (int)(n ? n - 1 : 0), labels, (unsigned long long)cum);
}

static void put_family(sbuf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The label text server="NAME", of server slot i (the status listener's: "[status]"), escaped; allocated (free
 * it), NULL when out of memory. */
static char *server_label(const px_runtime *rt, int i)
{
    const char *name = i < rt->cfg->nservers ? rt->cfg->servers[i].name : "[status]";
    size_t cap = 2 * strlen(name) + 16;
    char *l = malloc(cap);
    if (!l)
        return NULL;
    memcpy(l, "server=\"", 8);
    px_prom_escape(name, l + 8, cap - 8);
    strcat(l, "\",");
    return l;
}

/* Responses by [server], class and code (only those seen), and the request time of each [server]. */
static void server_codes(sbuf *b, const px_runtime *rt, int i, const char *label)
{
    for (unsigned slot = 0; slot < PX_CODE_SLOTS; slot++) {
        uint64_t n = 0;
        for (unsigned k = 0; k < rt->nworkers; k++)
            n += px_metric_get(&rt->ws[k].metrics.servers[i].codes[slot]);
        int code = px_code_of_slot(slot);
        char ctext[16];
        snprintf(ctext, sizeof(ctext), "%d", code);
        if (n)
            put(b, "proxyd_server_responses_total{%sclass=\"%dxx\",code=\"%s\"} %llu\n", label,
                code ? code / 100 : (int)slot + 1, code ? ctext : "other", (unsigned long long)n);
    }
}

static void servers(sbuf *b, const px_runtime *rt)
{
    int n = rt->cfg->nservers + 1; /* and the status listener */
    char **lab = calloc((size_t)n, sizeof(*lab));
    int ok = lab != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = (lab[i] = server_label(rt, i)) != NULL;
    put_family(b, "proxyd_server_responses_total", "counter",
               "Responses by [server], status class and code (code=\"other\": a code not counted alone)");
    for (int i = 0; ok && i < n; i++)
        server_codes(b, rt, i, lab[i]);
    put_family(b, "proxyd_server_request_duration_seconds", "histogram",
               "Time from a request head to its answer logged, by [server]");
    for (int i = 0; ok && i < n; i++) {
        hist_sum h = {{0}, 0};
        for (unsigned k = 0; k < rt->nworkers; k++)
            add_hist(&h, &rt->ws[k].metrics.servers[i].request_time);
        put_hist(b, "proxyd_server_request_duration_seconds", lab[i], &h);
    }
    if (!ok) { /* out of memory: no answer rather than one missing series */
        free(b->p);
        b->p = NULL;
    }
    for (int i = 0; lab && i < n; i++)
        free(lab[i]);
    free(lab);
}

/* Label text "upstream=\"U\",server=\"S\"," (S NULL: the upstream's own), escaped, whatever the names' length.
 * Allocated (free it); NULL when out of memory. */
static char *label_of(const char *upstream, const char *server)
{
    size_t cap = 2 * strlen(upstream) + 2 * (server ? strlen(server) : 0) + 32;
    char *l = malloc(cap);
    if (!l)
        return NULL;
    size_t n = (size_t)snprintf(l, cap, "upstream=\"");
    px_prom_escape(upstream, l + n, cap - n);
    n += strlen(l + n);
    if (server) {
        n += (size_t)snprintf(l + n, cap - n, "\",server=\"");
        px_prom_escape(server, l + n, cap - n);
        n += strlen(l + n);
    }
    snprintf(l + n, cap - n, "\",");
    return l;
}

/* Labels without the trailing comma, for a sample that adds none. */
static int bare(const char *l)
{
    return (int)strlen(l) - 1;
}

static void sum_hist(hist_sum *h, const hist_sum *t)
{
    for (int i = 0; i < PX_HIST_SLOTS; i++)
        h->bucket[i] += t->bucket[i];
    h->sum_ms += t->sum_ms;
}

/* Per upstream: the sums of its servers, and the 502s for want of a live server. */
static void upstream_totals(sbuf *b, const px_runtime *rt, const upserver_sum *all)
{
    const px_config *cfg = rt->cfg;
    char *l;
    put_family(b, "proxyd_upstream_requests_total", "counter", "Requests sent to the upstream (each try counts)");
    for (int u = 0; u < cfg->nupstreams; u++) {
        uint64_t n = 0;
        for (int s = 0; s < cfg->upstreams[u].nservers; s++)
            n += all[rt->health_base[u] + s].requests;
        if ((l = label_of(cfg->upstreams[u].name, NULL)))
            put(b, "proxyd_upstream_requests_total{%.*s} %llu\n", bare(l), l, (unsigned long long)n);
        free(l);
    }
    put_family(
        b, "proxyd_upstream_errors_total", "counter",
        "Failures by kind toward the upstream's servers, and kind=\"no_live_server\": 502 with no server to try");
    for (int u = 0; u < cfg->nupstreams; u++) {
        if (!(l = label_of(cfg->upstreams[u].name, NULL)))
            continue;
        for (int k = 0; k <= PX_UPERR_KINDS; k++) {
            uint64_t n = 0;
            for (int s = 0; k < PX_UPERR_KINDS && s < cfg->upstreams[u].nservers; s++)
                n += all[rt->health_base[u] + s].errors[k];
            for (unsigned w = 0; k == PX_UPERR_KINDS && w < rt->nworkers; w++)
                n += px_metric_get(&rt->ws[w].metrics.upstreams[u].no_server);
            put(b, "proxyd_upstream_errors_total{%skind=\"%s\"} %llu\n", l,
                k < PX_UPERR_KINDS ? px_up_error_name((px_up_error)k) : "no_live_server", (unsigned long long)n);
        }
        free(l);
    }
    put_family(b, "proxyd_upstream_response_duration_seconds", "histogram",
               "Time from the request head to the upstream's response head, by upstream");
    for (int u = 0; u < cfg->nupstreams; u++) {
        hist_sum h = {{0}, 0};
        for (int s = 0; s < cfg->upstreams[u].nservers; s++)
            sum_hist(&h, &all[rt->health_base[u] + s].time);
        if ((l = label_of(cfg->upstreams[u].name, NULL)))
            put_hist(b, "proxyd_upstream_response_duration_seconds", l, &h);
        free(l);
    }
}

/* Per upstream: connections in use and servers in rotation, summed over its servers. */
static void upstream_gauges(sbuf *b, const px_runtime *rt, const upserver_sum *all)
{
    const px_config *cfg = rt->cfg;
    for (int g = 0; g < 2; g++) {
        const char *name = g ? "proxyd_upstream_servers_up" : "proxyd_upstream_active_connections";
        put_family(b, name, "gauge",
                   g ? "Servers of the upstream in rotation (passive and active health)"
                     : "Connections to the upstream's servers serving a request now");
        for (int u = 0; u < cfg->nupstreams; u++) {
            long long n = 0;
            for (int s = 0; s < cfg->upstreams[u].nservers; s++) {
                const upserver_sum *o = &all[rt->health_base[u] + s];
                n += g ? o->up : (o->active > 0 ? o->active : 0);
            }
            char *l = label_of(cfg->upstreams[u].name, NULL);
            if (l)
                put(b, "%s{%.*s} %lld\n", name, bare(l), l, n);
            free(l);
        }
    }
}

/* Per upstream server: requests, responses by class, errors by kind, connections in use, response time. */
static void upstream_servers(sbuf *b, const px_runtime *rt, const upserver_sum *all, char *const *lab)
{
    int n = rt->nhealth;
    put_family(b, "proxyd_upstream_server_requests_total", "counter",
               "Requests sent to the upstream server (each try counts, a refused connect too)");
    for (int h = 0; h < n; h++)
        put(b, "proxyd_upstream_server_requests_total{%.*s} %llu\n", bare(lab[h]), lab[h],
            (unsigned long long)all[h].requests);
    put_family(b, "proxyd_upstream_server_responses_total", "counter",
               "Response heads received from the upstream server, by status class");
    for (int h = 0; h < n; h++)
        for (int k = 1; k <= 5; k++)
            put(b, "proxyd_upstream_server_responses_total{%sclass=\"%dxx\"} %llu\n", lab[h], k,
                (unsigned long long)all[h].responses[k]);
    put_family(b, "proxyd_upstream_server_errors_total", "counter",
               "Failures of the upstream server by kind (refused, connect, connect_timeout, tls, reset, "
               "header_timeout, read_timeout, invalid, http_5xx)");
    for (int h = 0; h < n; h++)
        for (int k = 0; k < PX_UPERR_KINDS; k++)
            put(b, "proxyd_upstream_server_errors_total{%skind=\"%s\"} %llu\n", lab[h],
                px_up_error_name((px_up_error)k), (unsigned long long)all[h].errors[k]);
    put_family(b, "proxyd_upstream_server_active_connections", "gauge",
               "Connections to the upstream server serving a request now (idle pooled ones not counted)");
    for (int h = 0; h < n; h++)
        put(b, "proxyd_upstream_server_active_connections{%.*s} %lld\n", bare(lab[h]), lab[h],
            (long long)(all[h].active > 0 ? all[h].active : 0));
    put_family(b, "proxyd_upstream_server_response_duration_seconds", "histogram",
               "Time from the request head to the upstream server's response head ($upstream_response_time)");
    for (int h = 0; h < n; h++)
        put_hist(b, "proxyd_upstream_server_response_duration_seconds", lab[h], &all[h].time);
}

/* Everything counted per [server], upstream and upstream server of rt (the scraping connection's runtime). */
static void status_detail(sbuf *b, const px_runtime *rt, uint64_t now)
{
    servers(b, rt);
    upserver_sum *all = calloc((size_t)rt->nhealth + 1, sizeof(*all));
    char **lab = calloc((size_t)rt->nhealth + 1, sizeof(*lab));
    int ok = all && lab;
    for (int u = 0; ok && u < rt->cfg->nupstreams; u++)
        for (int s = 0; ok && s < rt->cfg->upstreams[u].nservers; s++) {
            int h = rt->health_base[u] + s;
            sum_upserver(rt, h, &all[h]);
            all[h].up = in_rotation(rt, h, now);
            char text[PX_ADDR_TEXT_MAX + 16];
            const px_upstream *up = &rt->cfg->upstreams[u];
            ok = (lab[h] = label_of(up->name, server_text(up, s, text, sizeof(text)))) != NULL;
        }
    if (ok) {
        upstream_totals(b, rt, all);
        upstream_gauges(b, rt, all);
        upstream_servers(b, rt, all, lab);
    } else {
        free(b->p); /* an answer without these tables would read as zeros: none at all */
        b->p = NULL;
    }
    for (int h = 0; lab && h < rt->nhealth; h++)
        free(lab[h]);
    free(all);
    free(lab);
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

/* auth_guard's table counters (common/authguard.c): one table for the instance, so no per-worker sum. */
static void auth_guard(sbuf *b, const px_runtime *rt)
{
    px_ag_table *t = rt->auth_guard;
    if (!t)
        return;
    px_ag_stats *st = px_ag_table_stats(t);
#define AG_LOAD(field) (unsigned long long)atomic_load_explicit(&st->field, memory_order_relaxed)
    static const char *const kinds[] = {"account", "client"};
    put(b,
        "# HELP proxyd_auth_guard_failures_total Failed logins counted (401 to credentials)\n"
        "# TYPE proxyd_auth_guard_failures_total counter\nproxyd_auth_guard_failures_total %llu\n"
        "# HELP proxyd_auth_guard_cleared_total Logins that cleared their account and client's failures\n"
        "# TYPE proxyd_auth_guard_cleared_total counter\nproxyd_auth_guard_cleared_total %llu\n"
        "# HELP proxyd_auth_guard_refused_total Requests with credentials answered by proxyd during a block\n"
        "# TYPE proxyd_auth_guard_refused_total counter\nproxyd_auth_guard_refused_total %llu\n",
        AG_LOAD(failures), AG_LOAD(successes), AG_LOAD(refused));
    put(b, "# HELP proxyd_auth_guard_blocks_total Blocks started\n# TYPE proxyd_auth_guard_blocks_total counter\n");
    for (int k = 0; k < 2; k++)
        put(b, "proxyd_auth_guard_blocks_total{kind=\"%s\"} %llu\n", kinds[k], AG_LOAD(blocks[k]));
    put(b, "# HELP proxyd_auth_guard_unblocks_total Blocks ended (time over or cleared)\n"
           "# TYPE proxyd_auth_guard_unblocks_total counter\n");
    for (int k = 0; k < 2; k++)
        put(b, "proxyd_auth_guard_unblocks_total{kind=\"%s\"} %llu\n", kinds[k], AG_LOAD(unblocks[k]));
    put(b,
        "# HELP proxyd_auth_guard_evicted_blocked_total Blocked entries evicted to make room "
        "(auth_guard_table_size too small)\n# TYPE proxyd_auth_guard_evicted_blocked_total counter\n"
        "proxyd_auth_guard_evicted_blocked_total %llu\n"
        "# HELP proxyd_auth_guard_table_entries Entries in use (accounts, clients, pairs)\n"
        "# TYPE proxyd_auth_guard_table_entries gauge\nproxyd_auth_guard_table_entries %u\n"
        "# HELP proxyd_auth_guard_table_capacity Entries of the table (auth_guard_table_size)\n"
        "# TYPE proxyd_auth_guard_table_capacity gauge\nproxyd_auth_guard_table_capacity %u\n",
        AG_LOAD(evicted_blocked), px_ag_table_count(t), px_ag_table_capacity(t));
#undef AG_LOAD
}

/* The text in an anonymous memory file, sent like a static file (handler/static.c): any size, taken by a slow
 * scraper at its own pace without holding the worker's output blocks. The descriptor, or -errno. */
static int text_file(const sbuf *b)
{
    int fd = memfd_create("proxyd-metrics", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (size_t off = 0; off < b->len;) {
        ssize_t n = write(fd, b->p + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? -errno : -EIO;
            close(fd);
            return err;
        }
        off += (size_t)n;
    }
    return fd;
}

static px_step metrics(px_conn *c)
{
    sbuf b = {malloc(PX_STATUS_TEXT_START), 0, PX_STATUS_TEXT_START};
    if (b.p)
        b.p[0] = 0;
    counters(&b, c->w->daemon);
    health(&b, c->rt, wire_now(c->w->loop));
    status_detail(&b, c->rt, wire_now(c->w->loop));
    auth_guard(&b, c->rt);
    if (!b.p)
        return px_respond_error(c, 500, "out of memory for the metrics text");
    int fd = text_file(&b);
    free(b.p);
    if (fd < 0)
        return px_respond_error(c, 500, "cannot hold the metrics text");
    return px_static_send_fd(c, fd, "text/plain; version=0.0.4", b.len);
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
