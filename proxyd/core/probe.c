/* proxyd active health checks: one thread with its own loop probes every server of the upstreams that set
 * health_check (GET PATH over the upstream's own TLS settings, or a connect and TLS handshake only), each
 * health_interval, bounded by health_timeout. After health_fall bad checks in a row a server is out of rotation for
 * every worker at once (px_health.active_down); after health_rise good ones it is back. Each change is logged once,
 * here, by the one thread that makes it. A reload hands the checker the new runtime: the up/down state of the
 * servers both configurations check carries over; new servers start up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proxyproto.h"
#include "core/probe.h"
#include "core/worker.h"

#define PROBE_BUF 4096   /* a response head must fit: more is a bad check */
#define PROBE_FIELDS 64  /* response fields parsed */
#define PROBE_REQ 2048   /* the request head */
#define PROBE_FIRST_MS 1 /* the first check of each server starts at once */

enum { P_IDLE = 0, P_CONNECT, P_HANDSHAKE, P_SEND, P_READ };

typedef struct px_probe {
    px_prober *p;
    const px_upstream *up;
    int s;
    px_health *h;
    wire_io io;
    wire_timer timer; /* idle: the next check; running: health_timeout */
    tlsio_conn *tls;
    int phase;
    uint64_t started;
    size_t sent, len, req_len;
    char req[PROBE_REQ];
    char buf[PROBE_BUF];
} px_probe;

struct px_prober {
    px_daemon *d;
    wire_worker thread;
    wire_loop *loop;
    wire_async wake;
    px_runtime *rt;
    px_probe *probes;
    int nprobes;
    tlsio_client_config **tls; /* [upstream]: NULL when plain or unchecked */
};

void px_probe_duration(uint64_t ms, char *buf, size_t len)
{
    if (ms && ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
}

int px_probe_step(px_probe_state *st, int rise, int fall, int good, const char *why, char *msg, size_t len)
{
    if (good) {
        st->bad = 0;
        if (!st->down || ++st->good < rise)
            return 0;
        st->down = 0;
        st->good = 0;
        snprintf(msg, len, "back up after %d good check%s", rise, rise == 1 ? "" : "s");
        return 1;
    }
    st->good = 0;
    if (st->down || ++st->bad < fall)
        return 0;
    st->down = 1;
    st->bad = 0;
    snprintf(msg, len, "marked down: %d failed check%s, last: %s", fall, fall == 1 ? "" : "s", why);
    return 1;
}

static const px_upstream *find_upstream(const px_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nupstreams; i++)
        if (strcmp(cfg->upstreams[i].name, name) == 0)
            return &cfg->upstreams[i];
    return NULL;
}

void px_probe_carry(px_runtime *rt, const px_runtime *old, int counts)
{
    for (int u = 0; old && u < rt->cfg->nupstreams; u++) {
        const px_upstream *up = &rt->cfg->upstreams[u];
        const px_upstream *ou = find_upstream(old->cfg, up->name);
        if (!up->health_check || !ou || !ou->health_check)
            continue;
        for (int s = 0; s < up->nservers; s++)
            for (int o = 0; o < ou->nservers; o++) {
                if (strcmp(up->servers[s].text, ou->servers[o].text) != 0)
                    continue;
                px_health *h = px_runtime_health(rt, up, s);
                px_health *oh = px_runtime_health(old, ou, o);
                atomic_store(&h->active_down, atomic_load(&oh->active_down));
                if (counts)
                    h->probe = oh->probe;
                break;
            }
    }
}

/* ---------------------------------------------------------------- one check */

static void probe_close(px_probe *pr)
{
    if (pr->phase == P_IDLE)
        return;
    wire_io_stop(pr->p->loop, &pr->io);
    if (pr->tls) {
        tlsio_conn_free(pr->tls);
        pr->tls = NULL;
    }
    close(pr->io.fd);
    pr->phase = P_IDLE;
}

/* The check is over: counted, logged when the state changes, and the next one scheduled. */
static void probe_done(px_probe *pr, int good, const char *why)
{
    char msg[512];
    probe_close(pr);
    if (px_probe_step(&pr->h->probe, pr->up->health_rise, pr->up->health_fall, good, why, msg, sizeof(msg))) {
        atomic_store(&pr->h->active_down, pr->h->probe.down);
        px_warn("upstream %s (%s): %s", pr->up->servers[pr->s].text, pr->up->name, msg);
    } else if (!good)
        px_debug("upstream %s (%s): health check failed: %s", pr->up->servers[pr->s].text, pr->up->name, why);
    uint64_t spent = wire_now(pr->p->loop) - pr->started;
    uint64_t interval = pr->up->health_interval;
    wire_timer_start(pr->p->loop, &pr->timer, spent < interval ? interval - spent : 1);
}

static void probe_failed_err(px_probe *pr, int err)
{
    char why[160];
    if (err == -ECONNREFUSED)
        snprintf(why, sizeof(why), "connection refused");
    else if (err == -ECONNRESET || err == -EPIPE)
        snprintf(why, sizeof(why), "connection reset");
    else
        snprintf(why, sizeof(why), "%s", wire_strerror(err));
    probe_done(pr, 0, why);
}

static void probe_tls_failed(px_probe *pr, int r)
{
    char why[400];
    if (r == TLSIO_ESYSCALL && tlsio_conn_sys_errno(pr->tls)) {
        probe_failed_err(pr, -tlsio_conn_sys_errno(pr->tls));
        return;
    }
    const char *detail = tlsio_conn_error_text(pr->tls);
    snprintf(why, sizeof(why), "TLS: %s%s%s", tlsio_strerror(r), *detail ? ": " : "", detail);
    probe_done(pr, 0, why);
}

static void want(px_probe *pr, unsigned events)
{
    wire_io_modify(pr->p->loop, &pr->io, events);
}

/* The head came: a status in health_status is good. */
static void probe_parse(px_probe *pr)
{
    http_field fields[PROBE_FIELDS];
    http_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.fields = fields;
    resp.fields_cap = PROBE_FIELDS;
    http_limits lim = {.max_line = PROBE_BUF, .max_head = PROBE_BUF, .max_fields = PROBE_FIELDS};
    long r = http_parse_response(pr->buf, pr->len, 0, &resp, &lim, 0);
    if (r == HTTP_INCOMPLETE) {
        if (pr->len == sizeof(pr->buf))
            probe_done(pr, 0, "response head too large");
        return;
    }
    if (r < 0) {
        probe_done(pr, 0, "invalid response head");
        return;
    }
    char why[64];
    snprintf(why, sizeof(why), "status %d", resp.status);
    probe_done(pr, resp.status >= pr->up->health_status_lo && resp.status <= pr->up->health_status_hi, why);
}

static void probe_read(px_probe *pr)
{
    for (;;) {
        ssize_t n = pr->tls ? tlsio_read(pr->tls, pr->buf + pr->len, sizeof(pr->buf) - pr->len)
                            : wire_read(pr->io.fd, pr->buf + pr->len, sizeof(pr->buf) - pr->len);
        if (n == 0) {
            probe_done(pr, 0, pr->len ? "closed within the response head" : "closed before a response");
            return;
        }
        if (pr->tls && (n == TLSIO_WANT_READ || n == TLSIO_WANT_WRITE)) {
            want(pr, n == TLSIO_WANT_READ ? WIRE_READ : WIRE_WRITE);
            return;
        }
        if (!pr->tls && n == -EAGAIN)
            return;
        if (n < 0) {
            pr->tls ? probe_tls_failed(pr, (int)n) : probe_failed_err(pr, (int)n);
            return;
        }
        pr->len += (size_t)n;
        int phase = pr->phase;
        probe_parse(pr);
        if (pr->phase != phase) /* done */
            return;
    }
}

static void probe_send(px_probe *pr)
{
    while (pr->sent < pr->req_len) {
        const char *b = pr->req + pr->sent;
        size_t left = pr->req_len - pr->sent;
        ssize_t n = pr->tls ? tlsio_write(pr->tls, b, left) : wire_write(pr->io.fd, b, left);
        if (pr->tls && (n == TLSIO_WANT_READ || n == TLSIO_WANT_WRITE)) {
            want(pr, n == TLSIO_WANT_READ ? WIRE_READ : WIRE_WRITE);
            return;
        }
        if (!pr->tls && n == -EAGAIN) {
            want(pr, WIRE_WRITE);
            return;
        }
        if (n < 0) {
            pr->tls ? probe_tls_failed(pr, (int)n) : probe_failed_err(pr, (int)n);
            return;
        }
        pr->sent += (size_t)n;
    }
    pr->phase = P_READ;
    want(pr, WIRE_READ);
    probe_read(pr);
}

/* Connected (and TLS done): tcp checks are good here; GET checks send their request. */
static void probe_connected(px_probe *pr)
{
    if (pr->up->health_check == PX_HEALTH_TCP) {
        probe_done(pr, 1, "connected");
        return;
    }
    pr->phase = P_SEND;
    pr->sent = pr->len = 0;
    probe_send(pr);
}

static void probe_handshake(px_probe *pr)
{
    int r = tlsio_handshake(pr->tls);
    if (r == TLSIO_WANT_READ || r == TLSIO_WANT_WRITE) {
        want(pr, r == TLSIO_WANT_READ ? WIRE_READ : WIRE_WRITE);
        return;
    }
    if (r != TLSIO_OK) {
        probe_tls_failed(pr, r);
        return;
    }
    probe_connected(pr);
}

static const char *tls_name(const px_upstream *up, int s)
{
    return up->tls_server_name ? up->tls_server_name : up->servers[s].host;
}

/* An upstream with proxy_protocol expects a PROXY header on every connection (its port refuses one without), so a
 * check starts with one too: LOCAL, the command the protocol has for a proxy's own connections (HAProxy's checks
 * send the same), which names no client. A new socket takes its 16 bytes whole. 0, or -1 when the check is over. */
static int probe_send_local(px_probe *pr)
{
    unsigned char hdr[PX_PP_V2_OUT_MAX];
    size_t n = px_pp_write_v2(hdr, sizeof(hdr), NULL, 0, NULL, 0);
    ssize_t sent = wire_write(pr->io.fd, hdr, n);
    if (sent == (ssize_t)n)
        return 0;
    probe_failed_err(pr, sent < 0 ? (int)sent : -EIO);
    return -1;
}

static void probe_io(wire_loop *loop, wire_io *io, unsigned events)
{
    px_probe *pr = io->data;
    switch (pr->phase) {
    case P_CONNECT: {
        int err = wire_connect_result(io->fd);
        if (err) {
            probe_failed_err(pr, err < 0 ? err : -err);
            return;
        }
        if (pr->up->proxy_protocol && probe_send_local(pr) < 0)
            return;
        if (!pr->up->tls) {
            probe_connected(pr);
            return;
        }
        if (tlsio_conn_new_client(&pr->tls, pr->p->tls[pr->up->index], tls_name(pr->up, pr->s)) != TLSIO_OK) {
            probe_done(pr, 0, "out of memory for TLS");
            return;
        }
        tlsio_conn_set_fd(pr->tls, io->fd);
        pr->phase = P_HANDSHAKE;
        probe_handshake(pr);
        return;
    }
    case P_HANDSHAKE: probe_handshake(pr); return;
    case P_SEND: probe_send(pr); return;
    case P_READ: probe_read(pr); return;
    default: return;
    }
}

static void probe_start(px_probe *pr)
{
    wire_loop *loop = pr->p->loop;
    pr->started = wire_now(loop);
    if (pr->up->tls && !pr->p->tls[pr->up->index]) {
        probe_done(pr, 0, "no TLS context");
        return;
    }
    int fd = wire_connect(&pr->up->servers[pr->s].addr);
    if (fd < 0) {
        probe_failed_err(pr, fd);
        return;
    }
    wire_io_init(&pr->io, fd, probe_io, pr);
    if (wire_io_start(loop, &pr->io, WIRE_WRITE) < 0) {
        close(fd);
        probe_done(pr, 0, "cannot watch the socket");
        return;
    }
    pr->phase = P_CONNECT;
    wire_timer_start(loop, &pr->timer, pr->up->health_timeout);
}

static void probe_timer(wire_loop *loop, wire_timer *t)
{
    px_probe *pr = t->data;
    if (pr->phase == P_IDLE) {
        probe_start(pr);
        return;
    }
    char why[64], d[32];
    px_probe_duration(pr->up->health_timeout, d, sizeof(d));
    snprintf(why, sizeof(why), "timeout after %s", d);
    probe_done(pr, 0, why);
}

static void build_request(px_probe *pr)
{
    const px_upstream *up = pr->up;
    const char *host = up->health_host ? up->health_host : tls_name(up, pr->s);
    int n = snprintf(pr->req, sizeof(pr->req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: proxyd-health-check\r\n\r\n",
                     up->health_path ? up->health_path : "/", host);
    pr->req_len = n < 0 ? 0 : (size_t)n >= sizeof(pr->req) ? sizeof(pr->req) - 1 : (size_t)n;
}

/* ---------------------------------------------------------------- the checker */

static void prober_clear(px_prober *p)
{
    for (int i = 0; i < p->nprobes; i++) {
        probe_close(&p->probes[i]);
        wire_timer_stop(p->loop, &p->probes[i].timer);
    }
    free(p->probes);
    p->probes = NULL;
    p->nprobes = 0;
    for (int u = 0; p->tls && p->rt && u < p->rt->cfg->nupstreams; u++)
        if (p->tls[u])
            tlsio_client_config_free(p->tls[u]);
    free(p->tls);
    p->tls = NULL;
}

/* Checks of every server of rt's upstreams that set health_check. */
static void prober_setup(px_prober *p)
{
    const px_config *cfg = p->rt->cfg;
    int n = 0;
    for (int u = 0; u < cfg->nupstreams; u++)
        if (cfg->upstreams[u].health_check)
            n += cfg->upstreams[u].nservers;
    if (n == 0)
        return;
    p->probes = calloc((size_t)n, sizeof(px_probe));
    p->tls = calloc((size_t)cfg->nupstreams, sizeof(*p->tls));
    if (!p->probes || !p->tls) {
        px_error("health checks: out of memory; no active checks");
        free(p->probes);
        p->probes = NULL;
        return;
    }
    for (int u = 0; u < cfg->nupstreams; u++) {
        const px_upstream *up = &cfg->upstreams[u];
        if (!up->health_check)
            continue;
        char err[512];
        if (up->tls && px_tls_client_new(up, &p->tls[u], err, sizeof(err)) < 0)
            px_error("upstream %s: health checks: tls: %s", up->name, err); /* each check then fails */
        for (int s = 0; s < up->nservers; s++) {
            px_probe *pr = &p->probes[p->nprobes++];
            pr->p = p;
            pr->up = up;
            pr->s = s;
            pr->h = px_runtime_health(p->rt, up, s);
            wire_timer_init(&pr->timer, probe_timer, pr);
            if (up->health_check == PX_HEALTH_GET)
                build_request(pr);
            wire_timer_start(p->loop, &pr->timer, PROBE_FIRST_MS);
        }
    }
}

static void prober_on_wake(wire_loop *loop, wire_async *a)
{
    px_prober *p = a->data;
    if (atomic_load(&p->d->stopping)) {
        prober_clear(p);
        wire_loop_stop(loop);
        return;
    }
    px_runtime *next = atomic_load(&p->d->rt);
    if (next == p->rt)
        return;
    prober_clear(p);
    px_probe_carry(next, p->rt, 1);
    px_runtime_unref(p->rt);
    px_runtime_ref(next);
    p->rt = next;
    prober_setup(p);
}

static void prober_main(wire_worker *ww)
{
    px_prober *p = ww->data;
    prober_setup(p);
    wire_loop_run(p->loop);
    prober_clear(p);
}

px_prober *px_prober_start(px_daemon *d)
{
    px_prober *p = calloc(1, sizeof(*p));
    if (!p || wire_loop_new(&p->loop) < 0) {
        px_error("health checks: cannot create the checker's loop");
        free(p);
        return NULL;
    }
    p->d = d;
    p->rt = atomic_load(&d->rt);
    px_runtime_ref(p->rt);
    p->thread.cpu = -1;
    int async = wire_async_start(p->loop, &p->wake, prober_on_wake, p) == 0;
    if (!async || wire_worker_start(&p->thread, prober_main, p) < 0) {
        px_error("health checks: cannot start the checker thread; no active checks");
        if (async)
            wire_async_stop(p->loop, &p->wake);
        wire_loop_free(p->loop);
        px_runtime_unref(p->rt);
        free(p);
        return NULL;
    }
    return p;
}

void px_prober_wake(px_prober *p)
{
    if (p)
        wire_async_send(&p->wake);
}

void px_prober_stop(px_prober *p)
{
    if (!p)
        return;
    wire_async_send(&p->wake); /* the daemon's stopping flag is set: the loop ends */
    wire_worker_join(&p->thread);
    wire_async_stop(p->loop, &p->wake);
    wire_loop_free(p->loop);
    px_runtime_unref(p->rt);
    free(p);
}
