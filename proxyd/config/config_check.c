/* proxyd configuration checks: defaults, inheritance of [global] limits into each [server], and the
 * cross-references (routes to upstreams, listen addresses, certificate pairs) checked once the file is read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "common/log.h"

void px__config_defaults(px_config *cfg)
{
    cfg->workers = 0;
    cfg->max_connections = 4096;
    cfg->nofile = 8192;
    cfg->log_level = PX_LOG_WARN;
    cfg->tls_session_cache = 10 * 1024 * 1024;
    cfg->tls_session_tickets = 1;
    cfg->shutdown_timeout = 30000;
    cfg->drain_delay = 0;               /* as before drain_delay existed: SIGQUIT stops accepting at once */
    cfg->limit_table_size = 100000;     /* clients: about 6 MB */
    cfg->auth_guard_table_size = 65536; /* accounts, clients and pairs: about 7 MB, allocated only when used */
    cfg->request_id = 1;                /* one id in the access log, the origin's log and the client's report */
    px_limits *l = &cfg->limits;
    l->client_header_timeout = 60000;
    l->client_body_timeout = 60000;
    l->keepalive_timeout = 10000;
    l->send_timeout = 60000;
    l->client_max_body_size = 10 * 1024 * 1024;
    l->keepalive_requests = 10000;
    l->reset_timedout_connection = 1;
    l->client_header_buffer_size = 16384;
    l->max_header_fields = 100;
    l->underscores_in_headers = 0; /* as nginx: such fields are dropped, never forwarded */
    px_gzip *g = &cfg->gzip;
    g->on = 0;
    g->level = 1;
    g->min_length = 20;
    g->ntypes = 0;
    g->vary = 1;
    g->proxied_any = 1;
}

#define INHERIT(dst, src, field, unset)                                                                                \
    do {                                                                                                               \
        if ((dst)->field == (unset))                                                                                   \
            (dst)->field = (src)->field;                                                                               \
    } while (0)

/* The server's own copy of the [global] gzip_types, so that each server frees its list. */
static void inherit_types(load_ctx *c, px_server *s)
{
    s->gzip.ntypes = 0;
    for (int i = 0; i < c->cfg->gzip.ntypes; i++) {
        if (!(s->gzip.types[i] = px__strdup(c->cfg->gzip.types[i]))) {
            px__cfg_error(c, "gzip_types", "%s", px__oom);
            return;
        }
        s->gzip.ntypes++;
    }
}

static void inherit(load_ctx *c, px_server *s)
{
    const px_config *cfg = c->cfg;
    px_limits *l = &s->limits;
    const px_limits *g = &cfg->limits;
    INHERIT(l, g, client_header_timeout, UNSET);
    INHERIT(l, g, client_body_timeout, UNSET);
    INHERIT(l, g, keepalive_timeout, UNSET);
    INHERIT(l, g, send_timeout, UNSET);
    INHERIT(l, g, client_max_body_size, UNSET);
    INHERIT(l, g, keepalive_requests, UNSET);
    INHERIT(l, g, client_header_buffer_size, UNSET);
    INHERIT(l, g, max_header_fields, UNSET);
    INHERIT(l, g, reset_timedout_connection, -1);
    INHERIT(l, g, underscores_in_headers, -1);
    INHERIT(&s->gzip, &cfg->gzip, on, -1);
    INHERIT(&s->gzip, &cfg->gzip, level, -1);
    INHERIT(&s->gzip, &cfg->gzip, vary, -1);
    INHERIT(&s->gzip, &cfg->gzip, proxied_any, -1);
    INHERIT(&s->gzip, &cfg->gzip, min_length, UNSET);
    if (s->gzip.ntypes < 0)
        inherit_types(c, s);
    INHERIT(s, cfg, server_tokens, -1);
    INHERIT(s, cfg, request_id, -1);
}

/* A route's timeouts not given as options are its upstream's. A route that lengthens read_timeout (a long poll) yet
 * inherits a shorter header_timeout would still cut the poll, which waits for its response head: said at -t. */
static void resolve_route(load_ctx *c, px_route *r)
{
    const px_upstream *u = r->upstream;
    if (r->header_timeout == UNSET && r->read_timeout != UNSET && u->header_timeout &&
        u->header_timeout < r->read_timeout)
        px__cfg_warn(c, "route",
                     "%s: the header_timeout of [upstream %s] (%llums) is shorter than this route's read_timeout; a "
                     "long poll waits for its response head: add header_timeout= to the route",
                     r->prefix, u->name, (unsigned long long)u->header_timeout);
    if (r->read_timeout == UNSET)
        r->read_timeout = u->read_timeout;
    if (r->header_timeout == UNSET)
        r->header_timeout = u->header_timeout;
}

/* nginx's rule, no match allows, makes a list of allow rules alone a no-op: say so rather than let it look safe. */
static void check_acl(load_ctx *c, const px_acl *acl, int line)
{
    c->lineno = px_line_or(line, c->lineno);
    if (acl->n && !px_acl_has_deny(acl))
        px__cfg_warn(c, "allow",
                     "no deny rule: every address is allowed (a client no rule matches is let in, as "
                     "in nginx); end the list with deny = all");
}

static int route_cmp(const void *a, const void *b)
{
    const px_route *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

/* A file the configuration names (path may be NULL: not set) must be readable; the error says why not. */
static void check_readable(load_ctx *c, const char *key, const char *path)
{
    if (path && access(path, R_OK) != 0)
        px__cfg_error(c, key, "cannot read %s: %s", path, strerror(errno));
}

static void check_server(load_ctx *c, px_server *s)
{
    c->lineno = s->line;
    snprintf(c->section, sizeof(c->section), "server %s", s->name);
    inherit(c, s);
    if (s->nlisten == 0)
        px__cfg_error(c, "listen", "a server needs at least one listen address");
    int tls = 0;
    for (int i = 0; i < s->nlisten; i++)
        tls |= s->listen[i].tls;
    if (s->ncert != s->nkey)
        px__cfg_error(c, "tls_cert", "%d tls_cert but %d tls_key: they pair in order", s->ncert, s->nkey);
    if (tls && s->ncert == 0)
        px__cfg_error(c, "tls_cert", "a tls listen address needs tls_cert and tls_key");
    for (int i = 0; i < s->ncert && i < s->nkey; i++) {
        c->lineno = s->cert_line[i];
        check_readable(c, "tls_cert", s->tls_cert[i]);
        c->lineno = s->key_line[i];
        check_readable(c, "tls_key", s->tls_key[i]);
    }
    for (int i = 0; i < s->nroutes; i++) {
        s->routes[i].upstream = px_config_upstream(c->cfg, s->routes[i].upstream_name);
        c->lineno = s->routes[i].line;
        if (!s->routes[i].upstream)
            px__cfg_error(c, s->routes[i].len == 1 ? "proxy_pass" : "route", "no [upstream %s] is defined",
                          s->routes[i].upstream_name);
        else
            resolve_route(c, &s->routes[i]);
        if (s->routes[i].auth_guard < 0)
            s->routes[i].auth_guard = s->auth_guard.on;
        check_acl(c, &s->routes[i].acl, s->routes[i].line);
    }
    c->lineno = s->line;
    qsort(s->routes, (size_t)s->nroutes, sizeof(s->routes[0]), route_cmp);
    if (s->nroutes == 0 && s->return_status == 0 && !s->root)
        px__cfg_error(c, "proxy_pass", "a server needs proxy_pass, route, return or root");
    check_acl(c, &s->acl, s->acl_line);
}

/* Each server's key in the limit table: a hash of its name, so that a reload keeps every client's counts with the
 * server they belong to; names whose hashes meet take the next free value. */
static uint32_t fnv1a(uint32_t h, const char *p)
{
    for (; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

/* Whether zone h is taken by a server before server i, or by a route of servers[0..i] before route r of server i. */
static int zone_taken(const px_config *cfg, int i, int r, uint32_t h)
{
    for (int k = 0; k <= i; k++) {
        if (k < i && cfg->servers[k].limit_zone == h)
            return 1;
        for (int j = 0; j < (k < i ? cfg->servers[k].nroutes : r); j++)
            if (cfg->servers[k].routes[j].limit_zone == h)
                return 1;
    }
    return r >= 0 && cfg->servers[i].limit_zone == h;
}

/* Routes with limit_req have zones of their own: the server's name and the prefix, the same across reloads. */
static void limit_zones(px_config *cfg)
{
    for (int i = 0; i < cfg->nservers; i++) {
        px_server *s = &cfg->servers[i];
        uint32_t h = fnv1a(2166136261u, s->name);
        while (zone_taken(cfg, i, -1, h))
            h++;
        s->limit_zone = h;
        for (int r = 0; r < s->nroutes; r++) {
            h = fnv1a(fnv1a(fnv1a(2166136261u, s->name), "\n"), s->routes[r].prefix);
            while (zone_taken(cfg, i, r, h))
                h++;
            s->routes[r].limit_zone = h;
        }
    }
}

/* The status listener answers local clients only (loopback, or a unix socket) unless [status] has its own
 * allow/deny. */
static void status_acl(load_ctx *c)
{
    static const char *const local[] = {"127.0.0.0/8", "::1", "unix:", "all"};
    enum { NLOCAL = sizeof(local) / sizeof(local[0]) };
    px_acl *acl = &c->cfg->status_acl;
    c->lineno = c->status_line;
    snprintf(c->section, sizeof(c->section), "status");
    if (acl->n) {
        check_acl(c, acl, c->cfg->status_acl_line);
        return;
    }
    acl->rules = calloc(NLOCAL, sizeof(px_acl_rule));
    if (!acl->rules) {
        px__cfg_error(c, "allow", "%s", px__oom);
        return;
    }
    for (int i = 0; i < NLOCAL; i++) {
        px_cidr_parse(local[i], &acl->rules[i].net);
        acl->rules[i].allow = i < NLOCAL - 1; /* the last, all, denies */
    }
    acl->n = NLOCAL;
}

/* A scheme that contradicts the upstream: what to write instead, at the proxy_pass or route that has it. */
static void scheme_error(load_ctx *c, const px_server *s, const px_route *r, const px_upstream *u, int by_key)
{
    const char *key = r->len == 1 ? "proxy_pass" : "route", *n = u->name;
    const char *said = r->scheme_tls ? "https" : "http", *other = r->scheme_tls ? "http" : "https";
    c->lineno = r->line;
    snprintf(c->section, sizeof(c->section), "server %s", s->name);
    if (by_key)
        px__cfg_error(c, key, "%s://%s, but [upstream %s] has tls = %s (line %d): write %s://%s or %s alone%s", said, n,
                      n, u->tls ? "on" : "off", u->tls_line, other, n, n,
                      r->scheme_tls ? ", or set tls = on there" : "");
    else
        px__cfg_error(c, key,
                      "%s://%s, but line %d names it %s://%s: an upstream is TLS or plain, not both; write one "
                      "scheme, or set tls in [upstream %s] and write %s alone",
                      said, n, u->tls_line, other, n, n, n);
}

/* proxy_pass = https://NAME (nginx's spelling) makes [upstream NAME] TLS when its `tls` is not given, and
 * http://NAME plain; a scheme that contradicts `tls` or another scheme for the same upstream is an error, so that
 * the scheme written is never silently ignored. */
static void resolve_scheme(load_ctx *c, px_upstream *u)
{
    int by_key = u->tls >= 0;
    for (int i = 0; i < c->cfg->nservers; i++) {
        const px_server *s = &c->cfg->servers[i];
        for (int k = 0; k < s->nroutes; k++) {
            const px_route *r = &s->routes[k];
            if (r->scheme_tls < 0 || strcmp(r->upstream_name, u->name) != 0)
                continue;
            if (u->tls < 0) {
                u->tls = r->scheme_tls;
                u->tls_line = r->line;
            } else if (u->tls != r->scheme_tls) {
                scheme_error(c, s, r, u, by_key);
            }
        }
    }
    if (u->tls < 0)
        u->tls = 0;
}

/* The port of "host:port" as written. */
static long server_port(const px_upstream_server *s)
{
    const char *colon = strrchr(s->text, ':');
    return colon ? strtol(colon + 1, NULL, 10) : 0;
}

/* A plain upstream nothing declared plain, on a port that speaks TLS in a Lync or IIS setup: every request would
 * get 502, so say what to write before the first one. */
static void check_tls_port(load_ctx *c, const px_upstream *u)
{
    for (int i = 0; i < u->nservers && !u->tls && !u->tls_line; i++) {
        long port = server_port(&u->servers[i]);
        c->lineno = u->servers[i].line;
        if (port == 443 || port == 4443)
            px__cfg_warn(c, "server",
                         "%s is an HTTPS port (IIS, the Lync External Web Site) but the upstream is "
                         "plain: write proxy_pass = https://%s or tls = on (tls = off if it really is plain HTTP)",
                         u->servers[i].text, u->name);
    }
}

static void check_upstream(load_ctx *c, px_upstream *u)
{
    c->lineno = u->line;
    snprintf(c->section, sizeof(c->section), "upstream %s", u->name);
    if (u->nservers == 0)
        px__cfg_error(c, "server", "an upstream needs at least one server");
    check_tls_port(c, u);
    c->lineno = u->line;
    if (!!u->tls_cert != !!u->tls_key)
        px__cfg_error(c, "tls_cert", "tls_cert and tls_key go together");
    c->lineno = px_line_or(u->tls_ca_line, u->line);
    check_readable(c, "tls_ca", u->tls_ca); /* before mbedTLS's "PK - Read/write of file failed" */
    c->lineno = px_line_or(u->tls_cert_line, u->line);
    check_readable(c, "tls_cert", u->tls_cert);
    c->lineno = px_line_or(u->tls_key_line, u->line);
    check_readable(c, "tls_key", u->tls_key);
    c->lineno = u->line; /* tls_ca missing: the section */
    if (u->tls && u->tls_verify && !u->tls_ca)
        px__cfg_warn(c, "tls_ca", "no tls_ca: the upstream certificate is verified against the system CAs");
    c->lineno = px_line_or(u->tls_verify_line, u->line);
    if (u->tls && !u->tls_verify)
        px__cfg_warn(c, "tls_verify", "upstream certificate verification is off");
    c->lineno = px_line_or(u->read_timeout_line, u->line);
    if (u->read_timeout < 1000)
        px__cfg_warn(c, "read_timeout", "below 1s: long polls will be cut");
}

static int same_addr(const wire_addr *a, const wire_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Two servers on the same address need server_name to tell them apart; only one may be the default. */
static void check_listens(load_ctx *c)
{
    px_config *cfg = c->cfg;
    for (int i = 0; i < cfg->nservers; i++)
        for (int j = 0; j < cfg->servers[i].nlisten; j++) {
            px_listen *a = &cfg->servers[i].listen[j];
            for (int k = i + 1; k < cfg->nservers; k++)
                for (int m = 0; m < cfg->servers[k].nlisten; m++) {
                    px_listen *b = &cfg->servers[k].listen[m];
                    if (!same_addr(&a->addr, &b->addr))
                        continue;
                    c->lineno = cfg->servers[k].line;
                    snprintf(c->section, sizeof(c->section), "server %s", cfg->servers[k].name);
                    if (a->tls != b->tls)
                        px__cfg_error(c, "listen", "%s is tls in one server and plain in another", b->text);
                    if (a->is_default && b->is_default)
                        px__cfg_error(c, "listen", "%s has two default servers", b->text);
                    if (a->proxy_protocol != b->proxy_protocol)
                        px__cfg_error(c, "listen", "%s has proxy_protocol in one server and not in another", b->text);
                }
        }
}

/* A listen address with proxy_protocol believes the header of the peers proxy_protocol_from lists, and only theirs:
 * without the list, every client could choose its own address. */
static void check_proxy_protocol(load_ctx *c)
{
    px_config *cfg = c->cfg;
    if (cfg->proxy_protocol_from.n)
        return;
    for (int i = 0; i < cfg->nservers; i++)
        for (int j = 0; j < cfg->servers[i].nlisten; j++)
            if (cfg->servers[i].listen[j].proxy_protocol) {
                c->lineno = cfg->servers[i].line;
                snprintf(c->section, sizeof(c->section), "server %s", cfg->servers[i].name);
                px__cfg_error(c, "listen",
                              "%s has proxy_protocol but [global] proxy_protocol_from lists no trusted peer",
                              cfg->servers[i].listen[j].text);
                return;
            }
}

/* The first address servers a and b both listen on, or NULL. */
static const px_listen *shared_listen(const px_server *a, const px_server *b)
{
    for (int j = 0; j < a->nlisten; j++)
        for (int m = 0; m < b->nlisten; m++)
            if (same_addr(&a->listen[j].addr, &b->listen[m].addr))
                return &a->listen[j];
    return NULL;
}

/* A name two servers on one address both claim goes to the first of them (px_select_server): the second never
 * sees it. nginx warns ("conflicting server name"); so does proxyd, once per pair and name. */
static void check_name_conflicts(load_ctx *c)
{
    const px_config *cfg = c->cfg;
    for (int k = 1; k < cfg->nservers; k++)
        for (int i = 0; i < k; i++) {
            const px_server *first = &cfg->servers[i], *later = &cfg->servers[k];
            const px_listen *l = shared_listen(first, later);
            for (int n = 0; l && n < later->nnames; n++)
                for (int m = 0; m < first->nnames; m++) {
                    if (strcmp(later->names[n], first->names[m]) != 0)
                        continue;
                    c->lineno = later->names_line;
                    snprintf(c->section, sizeof(c->section), "server %s", later->name);
                    px__cfg_warn(c, "server_name",
                                 "conflicting server name \"%s\" on %s: [server %s] (line %d) has it too "
                                 "and answers it, so this server never does; remove it from one of them",
                                 later->names[n], l->text, first->name, first->names_line);
                }
        }
}

/* Whether servers[i].listen[j] is the first mention of its address (the runtime opens one bind per address). */
static int first_mention(const px_config *cfg, int i, int j)
{
    const wire_addr *a = &cfg->servers[i].listen[j].addr;
    for (int k = 0; k <= i; k++)
        for (int m = 0; m < (k == i ? j : cfg->servers[k].nlisten); m++)
            if (same_addr(&cfg->servers[k].listen[m].addr, a))
                return 0;
    return 1;
}

static void bind_limit_error(load_ctx *c, const px_server *s, const char *addr, const char *what, int limit)
{
    c->lineno = s->line;
    snprintf(c->section, sizeof(c->section), "server %s", s->name);
    px__cfg_error(c, "listen", "%s: too many %s (at most %d)", addr, what, limit);
}

/* Counts, like the runtime, the servers (one per listen line) and certificates on the address first mentioned
 * by servers[i]; the server that goes beyond the runtime's arrays is named. */
static void check_bind(load_ctx *c, int i, const px_listen *l)
{
    const px_config *cfg = c->cfg;
    int nsrv = 0, ncert = 0;
    for (int k = i; k < cfg->nservers; k++)
        for (int m = 0; m < cfg->servers[k].nlisten; m++) {
            const px_server *s = &cfg->servers[k];
            if (!same_addr(&s->listen[m].addr, &l->addr))
                continue;
            if (++nsrv == PX_MAX_BIND_SERVERS + 1)
                bind_limit_error(c, s, l->text, "servers listen on this address", PX_MAX_BIND_SERVERS);
            int before = ncert;
            ncert += l->tls ? s->ncert : 0;
            if (before <= PX_MAX_BIND_CERTS && ncert > PX_MAX_BIND_CERTS)
                bind_limit_error(c, s, l->text, "certificates among the servers on this address", PX_MAX_BIND_CERTS);
        }
}

/* The runtime's fixed arrays per address and of addresses: beyond them is an error here, at -t and at reload,
 * rather than servers or certificates silently dropped. */
static void check_binds(load_ctx *c)
{
    const px_config *cfg = c->cfg;
    int nbinds = cfg->status_on; /* the [status] listener is one more */
    for (int i = 0; i < cfg->nservers; i++)
        for (int j = 0; j < cfg->servers[i].nlisten; j++) {
            const px_listen *l = &cfg->servers[i].listen[j];
            if (!first_mention(cfg, i, j))
                continue;
            if (++nbinds == PX_MAX_BINDS + 1)
                bind_limit_error(c, &cfg->servers[i], l->text, "distinct listen addresses, the [status] one included",
                                 PX_MAX_BINDS);
            check_bind(c, i, l);
        }
}

/* access_log's FORMAT: a built-in name, or a log_format defined anywhere in [global]. 0, or -1 when unknown. */
static int find_format(const px_config *cfg, const char *name, int *json, const px_logfmt **f)
{
    if (strcmp(name, "combined") == 0 || strcmp(name, "json") == 0) {
        *json = name[0] == 'j';
        *f = NULL;
        return 0;
    }
    for (int i = 0; i < cfg->nlog_formats; i++)
        if (strcmp(cfg->log_formats[i].name, name) == 0) {
            *f = &cfg->log_formats[i];
            return 0;
        }
    return -1;
}

static void format_error(load_ctx *c, int line, const char *section, const char *name)
{
    c->lineno = line;
    snprintf(c->section, sizeof(c->section), "%s", section);
    px__cfg_error(c, "access_log", "unknown format %s (combined, json or a log_format's name)", name);
}

/* [global]'s access_log format, then each [server]'s: its own FORMAT, else [global]'s. */
static void resolve_access_formats(load_ctx *c)
{
    px_config *cfg = c->cfg;
    if (cfg->access_log_format && find_format(cfg, cfg->access_log_format, &cfg->access_log_json, &cfg->access_logfmt))
        format_error(c, cfg->access_log_line, "global", cfg->access_log_format);
    for (int i = 0; i < cfg->nservers; i++) {
        px_server *s = &cfg->servers[i];
        s->access_log_json = cfg->access_log_json;
        s->access_logfmt = cfg->access_logfmt;
        if (s->access_log_format && find_format(cfg, s->access_log_format, &s->access_log_json, &s->access_logfmt)) {
            char section[128];
            snprintf(section, sizeof(section), "server %s", s->name);
            format_error(c, s->access_log_line, section, s->access_log_format);
        }
    }
}

void px__config_finish(load_ctx *c)
{
    px_config *cfg = c->cfg;
    resolve_access_formats(c);
    if (!cfg->pid_file && !(cfg->pid_file = px__strdup(PX_PID_FILE_DEFAULT))) { /* -s and the daemon agree */
        c->lineno = 0;
        snprintf(c->section, sizeof(c->section), "global");
        px__cfg_error(c, "pid_file", "%s", px__oom);
    }
    if (cfg->nservers == 0) {
        c->lineno = 0;
        px__cfg_error(c, NULL, "no [server] section: nothing to listen on");
    }
    for (int i = 0; i < cfg->nupstreams; i++)
        resolve_scheme(c, &cfg->upstreams[i]);
    for (int i = 0; i < cfg->nupstreams; i++) {
        cfg->upstreams[i].index = i;
        check_upstream(c, &cfg->upstreams[i]);
    }
    for (int i = 0; i < cfg->nservers; i++) {
        cfg->servers[i].slot = i;
        check_server(c, &cfg->servers[i]);
    }
    check_listens(c);
    check_proxy_protocol(c);
    check_name_conflicts(c);
    check_binds(c);
    limit_zones(cfg);
    if (cfg->status_on)
        status_acl(c);
}
