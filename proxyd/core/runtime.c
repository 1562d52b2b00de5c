/* proxyd runtime: what one configuration becomes once loaded — the listening sockets (one SO_REUSEPORT socket
 * per worker and address, carried over across reloads), virtual-server tables and shared upstream health. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/constants.h"
#include "common/log.h"
#include "core/probe.h"
#include "core/runtime.h"

static px_bind *find_bind(px_runtime *rt, const wire_addr *a)
{
    for (int i = 0; i < rt->nbinds; i++)
        if (rt->binds[i].addr.len == a->len && memcmp(&rt->binds[i].addr.ss, &a->ss, a->len) == 0)
            return &rt->binds[i];
    return NULL;
}

/* A new bind with every per-worker socket closed, or NULL (err set). */
static px_bind *new_bind(px_runtime *rt, const wire_addr *addr, char *err, size_t errlen)
{
    if (rt->nbinds == PX_MAX_BINDS) { /* the loader refuses this first; kept for a configuration built by hand */
        snprintf(err, errlen, "more than %d listen addresses", PX_MAX_BINDS);
        return NULL;
    }
    px_bind *b = &rt->binds[rt->nbinds];
    memset(b, 0, sizeof(*b));
    b->fds = malloc(rt->nworkers * sizeof(int));
    if (!b->fds) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned k = 0; k < rt->nworkers; k++)
        b->fds[k] = -1;
    b->addr = *addr;
    b->index = rt->nbinds++;
    wire_addr_format(addr, b->text, sizeof(b->text));
    return b;
}

static int add_server_to_binds(px_runtime *rt, px_server *s, char *err, size_t errlen)
{
    for (int j = 0; j < s->nlisten; j++) {
        px_listen *l = &s->listen[j];
        px_bind *b = find_bind(rt, &l->addr);
        if (!b) {
            if (!(b = new_bind(rt, &l->addr, err, errlen)))
                return -1;
            b->tls = l->tls;
            b->proxy_protocol = l->proxy_protocol; /* the same in every server on the address (config_check.c) */
        }
        if (b->nservers == PX_MAX_BIND_SERVERS) {
            snprintf(err, errlen, "too many servers on %s", b->text);
            return -1;
        }
        b->servers[b->nservers++] = s;
        if (l->is_default || !b->default_server)
            b->default_server = s;
    }
    return 0;
}

/* A client that every server on an address denies could only ever get 403: it is refused at accept, before a TLS
 * handshake costs anything. One server without a list lets everyone in, so then nothing is decided at accept. */
static void acl_at_accept(px_runtime *rt)
{
    for (int i = 0; i < rt->nbinds; i++) {
        px_bind *b = &rt->binds[i];
        b->acl_at_accept = b->nservers > 0;
        for (int k = 0; k < b->nservers; k++)
            b->acl_at_accept &= b->servers[k]->acl.n > 0;
    }
}

int px_bind_refuses(const px_bind *b, const px_ip *ip)
{
    for (int k = 0; k < b->nservers; k++)
        if (px_acl_allows(&b->servers[k]->acl, ip))
            return 0;
    return 1;
}

/* The [status] listener is a bind of its own, answered by proxyd; its limits are the [global] ones. */
static int add_status_bind(px_runtime *rt, char *err, size_t errlen)
{
    const px_config *cfg = rt->cfg;
    if (!cfg->status_on)
        return 0;
    if (find_bind(rt, &cfg->status_addr)) {
        snprintf(err, errlen, "[status] listen %s is also a server's address", cfg->status_listen);
        return -1;
    }
    px_bind *b = new_bind(rt, &cfg->status_addr, err, errlen);
    if (!b)
        return -1;
    rt->status_server = calloc(1, sizeof(px_server));
    if (!rt->status_server) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->status_server->name = (char *)"status";
    rt->status_server->slot = cfg->nservers; /* the last metrics slot */
    rt->status_server->limits = cfg->limits;
    b->status = 1;
    b->default_server = rt->status_server;
    return 0;
}

static int open_new(px_bind *b, unsigned workers, px_bind *ob, char *err, size_t errlen)
{
    unsigned v6 = b->addr.ss.ss_family == AF_INET6 ? WIRE_LISTEN_V6ONLY : 0;
    if (!ob) {
        /* SO_REUSEPORT would let a second proxyd share the port silently: probe without it first. The probe only
         * binds: a listening probe could accept a client's connect and then reset it when closed. */
        int probe = wire_listen(&b->addr, 1, v6 | WIRE_LISTEN_PROBE);
        if (probe < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", b->text, wire_strerror(probe));
            return -1;
        }
        close(probe);
    }
    for (unsigned k = 0; k < workers; k++) {
        if (ob && ob->fds[k] >= 0)
            continue; /* taken over below, once every new socket exists */
        int fd = wire_listen(&b->addr, PX_LISTEN_BACKLOG, WIRE_LISTEN_REUSEPORT | v6);
        if (fd < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", b->text, wire_strerror(fd));
            return -1;
        }
        b->fds[k] = fd;
    }
    return 0;
}

/* Opens one socket per worker for each address, or takes the ones the previous runtime had open. The taking
 * happens only after every new socket is open, so a reload that fails leaves the running sockets untouched. */
static int open_sockets(px_runtime *rt, unsigned workers, px_runtime *old, char *err, size_t errlen)
{
    for (int i = 0; i < rt->nbinds; i++)
        if (open_new(&rt->binds[i], workers, old ? find_bind(old, &rt->binds[i].addr) : NULL, err, errlen) < 0)
            return -1;
    for (int i = 0; old && i < rt->nbinds; i++) {
        px_bind *b = &rt->binds[i], *ob = find_bind(old, &b->addr);
        for (unsigned k = 0; ob && k < workers; k++)
            if (ob->fds[k] >= 0) {
                b->fds[k] = ob->fds[k];
                ob->fds[k] = -1; /* moved: the old runtime must not close it */
            }
    }
    return 0;
}

/* After a reload: the addresses the new configuration dropped stop listening now, not when the last connection
 * of the old configuration ends (the kernel would queue connections nobody accepts). */
void px_runtime_close_listeners(px_runtime *rt)
{
    for (int i = 0; i < rt->nbinds; i++)
        for (unsigned k = 0; k < rt->nworkers; k++)
            if (rt->binds[i].fds[k] >= 0) {
                close(rt->binds[i].fds[k]);
                rt->binds[i].fds[k] = -1;
            }
}

/* Every client may need a second descriptor toward its upstream: accepting more than the descriptor limit can
 * carry would leave accepted clients without an answer, so the cap follows RLIMIT_NOFILE. */
static void cap_connections(px_runtime *rt, unsigned workers)
{
    struct rlimit rl;
    uint64_t cap = rt->cfg->max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t reserve = PX_FD_RESERVE + (uint64_t)rt->nbinds * workers;
        uint64_t fit = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / 2 / workers : 1;
        if (fit < cap) {
            px_warn("max_connections lowered to %llu per worker: nofile %llu leaves room for no more",
                    (unsigned long long)(fit ? fit : 1), (unsigned long long)rl.rlim_cur);
            cap = fit ? fit : 1;
        }
    }
    rt->conn_cap = cap;
}

static int uses_limits(const px_config *cfg)
{
    for (int i = 0; i < cfg->nservers; i++) {
        if (cfg->servers[i].limit_conn || cfg->servers[i].limit_req.per_ks)
            return 1;
        for (int k = 0; k < cfg->servers[i].nroutes; k++)
            if (cfg->servers[i].routes[k].limit_req.per_ks)
                return 1;
    }
    return 0;
}

/* The limit table: the previous runtime's when its size is unchanged, so that a reload neither forgets clients'
 * counts nor holds two tables while old connections finish; else a new one, reported once. */
/* A random seed for a shared table's hashes, so that clients cannot aim their keys at one chain. */
static uint64_t table_seed(const px_runtime *rt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)rt; /* early boot: still differs per process */
    return seed;
}

static int limits_init(px_runtime *rt, const px_runtime *old, char *err, size_t errlen)
{
    const px_config *cfg = rt->cfg;
    if (!uses_limits(cfg))
        return 0;
    if (old && old->limits && old->cfg->limit_table_size == cfg->limit_table_size) {
        px_limit_table_ref(old->limits);
        rt->limits = old->limits;
        return 0;
    }
    rt->limits = px_limit_table_new((uint32_t)cfg->limit_table_size, PX_LIMIT_STRIPES, table_seed(rt));
    if (!rt->limits) {
        snprintf(err, errlen, "out of memory for the limit table (limit_table_size = %llu)",
                 (unsigned long long)cfg->limit_table_size);
        return -1;
    }
    px_notice("limit table: %u entries (client address and [server]), %.1f MiB shared by all workers",
              px_limit_table_capacity(rt->limits), (double)px_limit_table_bytes(rt->limits) / (1024.0 * 1024.0));
    return 0;
}

static int uses_auth_guard(const px_config *cfg)
{
    for (int i = 0; i < cfg->nservers; i++)
        for (int k = 0; k < cfg->servers[i].nroutes; k++)
            if (cfg->servers[i].routes[k].auth_guard > 0)
                return 1;
    return 0;
}

/* The auth_guard table, kept over a reload as the limit table is (blocks survive a reload). */
static int auth_guard_init(px_runtime *rt, const px_runtime *old, char *err, size_t errlen)
{
    const px_config *cfg = rt->cfg;
    if (!uses_auth_guard(cfg))
        return 0;
    if (old && old->auth_guard && old->cfg->auth_guard_table_size == cfg->auth_guard_table_size) {
        px_ag_table_ref(old->auth_guard);
        rt->auth_guard = old->auth_guard;
        return 0;
    }
    rt->auth_guard = px_ag_table_new((uint32_t)cfg->auth_guard_table_size, PX_AG_STRIPES, table_seed(rt));
    if (!rt->auth_guard) {
        snprintf(err, errlen, "out of memory for the auth_guard table (auth_guard_table_size = %llu)",
                 (unsigned long long)cfg->auth_guard_table_size);
        return -1;
    }
    px_notice("auth_guard table: %u entries (accounts, clients, pairs), %.1f MiB shared by all workers",
              px_ag_table_capacity(rt->auth_guard), (double)px_ag_table_bytes(rt->auth_guard) / (1024.0 * 1024.0));
    return 0;
}

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

static void size_buffers(px_runtime *rt)
{
    size_t head = 0, fields = 0;
    for (int i = 0; i < rt->cfg->nservers; i++) {
        const px_limits *l = &rt->cfg->servers[i].limits;
        if (l->client_header_buffer_size > head)
            head = l->client_header_buffer_size;
        if (l->max_header_fields > fields)
            fields = l->max_header_fields;
    }
    /* Room after the largest head for body bytes, so a request body always moves. */
    rt->buf_size = round_up(head + PX_BODY_ROOM, 4096);
    rt->fields_cap = fields;
}

static void runtime_free(px_runtime *rt)
{
    px_tls_runtime_free(rt);
    px_runtime_close_listeners(rt);
    for (int i = 0; i < rt->nbinds; i++)
        free(rt->binds[i].fds);
    for (unsigned k = 0; rt->ws && k < rt->nworkers; k++) {
        wire_pool_drain(&rt->ws[k].in_pool);
        wire_pool_drain(&rt->ws[k].out_pool);
        free(rt->ws[k].pools);
        free(rt->ws[k].active);
        free(rt->ws[k].rr_weight);
        px_metrics_free(&rt->ws[k].metrics);
    }
    free(rt->ws);
    free(rt->health);
    free(rt->health_base);
    free(rt->status_server);
    px_limit_table_unref(rt->limits);
    px_ag_table_unref(rt->auth_guard);
    px_config_free(rt->cfg);
    free(rt);
}

size_t px_runtime_in_block_size(const px_runtime *rt)
{
    return rt->buf_size + rt->fields_cap * sizeof(http_field) + rt->exchange_size;
}

/* Health slots shared by all workers, and each worker's pools and balancer state, one per upstream server. */
static int alloc_state(px_runtime *rt)
{
    const px_config *cfg = rt->cfg;
    rt->health_base = calloc((size_t)cfg->nupstreams + 1, sizeof(int));
    if (!rt->health_base)
        return -1;
    for (int i = 0; i < cfg->nupstreams; i++) {
        rt->health_base[i] = rt->nhealth;
        rt->nhealth += cfg->upstreams[i].nservers;
    }
    size_t slots = (size_t)rt->nhealth + 1;
    rt->health = calloc(slots, sizeof(px_health));
    rt->ws = calloc(rt->nworkers, sizeof(px_wstate));
    if (!rt->health || !rt->ws)
        return -1;
    for (unsigned k = 0; k < rt->nworkers; k++) {
        px_wstate *ws = &rt->ws[k];
        wire_pool_init(&ws->in_pool, px_runtime_in_block_size(rt), PX_IN_POOL_CACHE);
        wire_pool_init(&ws->out_pool, 2 * rt->buf_size + PX_HEAD_EXTRA, PX_OUT_POOL_CACHE);
        ws->pools = calloc(slots, sizeof(px_pool));
        ws->active = calloc(slots, sizeof(unsigned));
        ws->rr_weight = calloc(slots, sizeof(int));
        if (!ws->pools || !ws->active || !ws->rr_weight ||
            px_metrics_alloc(&ws->metrics, cfg->nservers, rt->nhealth, cfg->nupstreams) < 0)
            return -1;
    }
    return 0;
}

/* The index of server s (an address as written, its k-th occurrence) in old's upstream of the same name, or -1. */
static int old_server(const px_upstream *ou, const px_upstream *up, int s)
{
    int k = 0;
    for (int i = 0; i < s; i++)
        k += strcmp(up->servers[i].text, up->servers[s].text) == 0;
    for (int i = 0; ou && i < ou->nservers; i++)
        if (strcmp(ou->servers[i].text, up->servers[s].text) == 0 && k-- == 0)
            return i;
    return -1;
}

/* A reload carries each [server]'s, upstream's and upstream server's counts (matched by name) into worker 0's new
 * tables, so that /metrics goes on counting rather than starting again; the new tables have no writer yet.
 * Exchanges that end under the old runtime after this are not counted (an old connection's last answers). */
static void metrics_carry(px_runtime *rt, const px_runtime *old)
{
    const px_config *cfg = rt->cfg, *ocfg = old->cfg;
    px_metrics *to = &rt->ws[0].metrics;
    for (unsigned k = 0; k < old->nworkers; k++) {
        const px_metrics *from = &old->ws[k].metrics;
        px_server_metrics_add(&to->servers[cfg->nservers], &from->servers[ocfg->nservers]); /* [status] */
        for (int i = 0; i < cfg->nservers; i++)
            for (int j = 0; j < ocfg->nservers; j++)
                if (strcmp(cfg->servers[i].name, ocfg->servers[j].name) == 0)
                    px_server_metrics_add(&to->servers[i], &from->servers[j]);
        for (int u = 0; u < cfg->nupstreams; u++) {
            const px_upstream *up = &cfg->upstreams[u], *ou = px_config_upstream(ocfg, up->name);
            if (!ou)
                continue;
            px_metric_add(&to->upstreams[u].no_server, px_metric_get(&from->upstreams[ou->index].no_server));
            for (int s = 0; s < up->nservers; s++) {
                int os = old_server(ou, up, s);
                if (os >= 0)
                    px_upserver_metrics_add(&to->upservers[rt->health_base[u] + s],
                                            &from->upservers[old->health_base[ou->index] + os]);
            }
        }
    }
}

px_runtime *px_runtime_new(px_config *cfg, unsigned workers, size_t exchange_size, px_runtime *old, char *err,
                           size_t errlen)
{
    px_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->cfg = cfg;
    atomic_init(&rt->refs, 1);
    rt->generation = old ? old->generation + 1 : 1;
    rt->exchange_size = exchange_size;
    rt->nworkers = workers;
    size_buffers(rt);
    int rc = alloc_state(rt);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    for (int i = 0; rc == 0 && i < cfg->nservers; i++)
        rc = add_server_to_binds(rt, &cfg->servers[i], err, errlen);
    if (rc == 0)
        rc = add_status_bind(rt, err, errlen);
    if (rc == 0) {
        acl_at_accept(rt);
        rc = limits_init(rt, old, err, errlen);
        if (rc == 0)
            rc = auth_guard_init(rt, old, err, errlen);
    }
    if (rc == 0)
        rc = px_tls_runtime_init(rt, err, errlen);
    if (rc == 0)
        rc = open_sockets(rt, workers, old, err, errlen);
    if (rc == 0) {
        cap_connections(rt, workers);
        px_probe_carry(rt, old, 0); /* the checker carries the counts when it takes rt */
        if (old)
            metrics_carry(rt, old);
    }
    if (rc < 0) {
        rt->cfg = NULL; /* the caller still owns cfg on failure */
        runtime_free(rt);
        return NULL;
    }
    return rt;
}

void px_runtime_ref(px_runtime *rt)
{
    atomic_fetch_add(&rt->refs, 1);
}

void px_runtime_unref(px_runtime *rt)
{
    if (atomic_fetch_sub(&rt->refs, 1) == 1)
        runtime_free(rt);
}
