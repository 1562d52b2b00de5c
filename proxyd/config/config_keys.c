/* proxyd configuration keys: the contract table (section, key, parser, repeatability) and one small parser per
 * key. A parser returns NULL or a message saying what the value should look like. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "common/log.h"

static px_limits *limits_of(load_ctx *c)
{
    return c->kind == SECT_SERVER ? &c->srv->limits : &c->cfg->limits;
}

static px_gzip *gzip_of(load_ctx *c)
{
    return c->kind == SECT_SERVER ? &c->srv->gzip : &c->cfg->gzip;
}

#define DURATION_MSG "expected a duration such as 500ms, 60s, 5m or 1h (a bare number is seconds)"
#define SIZE_MSG "expected a size such as 512, 16k, 10m or 1g (a bare number is bytes)"
#define SWITCH_MSG "expected on or off"
#define TIMEOUT_OFF_MSG "expected off or a duration above 0, such as 60s"
#define K_STR_(x) #x
#define K_STR(x) K_STR_(x) /* a numeric constant inside a message literal */

/* A timeout that may be switched off: a duration above 0, or off (0). 0 or -1. */
static int parse_timeout_or_off(const char *v, uint64_t *ms)
{
    if (strcmp(v, "off") == 0) {
        *ms = 0;
        return 0;
    }
    return px_parse_duration(v, ms) || *ms == 0 ? -1 : 0;
}

/* Each limit key parses into its own field of px_limits. */
#define LIMIT_DURATION(field)                                                                                          \
    static const char *k_##field(load_ctx *c, const char *v)                                                           \
    {                                                                                                                  \
        return px_parse_duration(v, &limits_of(c)->field) ? DURATION_MSG : NULL;                                       \
    }
#define LIMIT_SIZE(field)                                                                                              \
    static const char *k_##field(load_ctx *c, const char *v)                                                           \
    {                                                                                                                  \
        return px_parse_size(v, &limits_of(c)->field) ? SIZE_MSG : NULL;                                               \
    }
LIMIT_DURATION(client_header_timeout)
LIMIT_DURATION(client_body_timeout)
LIMIT_DURATION(keepalive_timeout)
LIMIT_DURATION(send_timeout)
LIMIT_SIZE(client_max_body_size)

/* Checked where it is written, [global] or [server]: a range error found later would name the [server] that
 * inherited the value rather than the line that set it. */
static const char *k_client_header_buffer_size(load_ctx *c, const char *v)
{
    uint64_t n;
    if (px_parse_size(v, &n) || n < 1024 || n > 1048576)
        return "expected a size from 1k to 1m";
    limits_of(c)->client_header_buffer_size = n;
    return NULL;
}

static const char *k_keepalive_requests(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 0, 100000000, &n))
        return "expected a number of requests (0: no limit)";
    limits_of(c)->keepalive_requests = (uint64_t)n;
    return NULL;
}

static const char *k_max_header_fields(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 1, 1000, &n))
        return "expected a number from 1 to 1000";
    limits_of(c)->max_header_fields = (uint64_t)n;
    return NULL;
}

static const char *k_reset_timedout_connection(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &limits_of(c)->reset_timedout_connection) ? SWITCH_MSG : NULL;
}

static const char *k_underscores_in_headers(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &limits_of(c)->underscores_in_headers) ? SWITCH_MSG : NULL;
}

static const char *k_server_tokens(load_ctx *c, const char *v)
{
    int *dst = c->kind == SECT_SERVER ? &c->srv->server_tokens : &c->cfg->server_tokens;
    return px__parse_switch(v, dst) ? SWITCH_MSG : NULL;
}

static const char *k_request_id(load_ctx *c, const char *v)
{
    int *dst = c->kind == SECT_SERVER ? &c->srv->request_id : &c->cfg->request_id;
    return px__parse_switch(v, dst) ? SWITCH_MSG : NULL;
}

/* ---------------------------------------------------------------- gzip */

static const char *k_gzip(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &gzip_of(c)->on) ? SWITCH_MSG : NULL;
}

static const char *k_gzip_level(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 1, 9, &n))
        return "expected a compression level from 1 to 9";
    gzip_of(c)->level = (int)n;
    return NULL;
}

static const char *k_gzip_min_length(load_ctx *c, const char *v)
{
    return px_parse_size(v, &gzip_of(c)->min_length) ? SIZE_MSG : NULL;
}

static const char *k_gzip_types(load_ctx *c, const char *v)
{
    px_gzip *g = gzip_of(c);
    if (g->ntypes < 0)
        g->ntypes = 0;
    char *copy = px__strdup(v), *save = NULL;
    const char *err = copy ? NULL : px__oom;
    for (char *t = copy ? strtok_r(copy, " \t", &save) : NULL; t && !err; t = strtok_r(NULL, " \t", &save)) {
        if (g->ntypes == PX_MAX_TYPES)
            err = "too many types";
        else if (!strchr(t, '/') && strcmp(t, "*") != 0)
            err = "expected MIME types such as text/html (or *)";
        else if (!(g->types[g->ntypes] = px__strdup(t)))
            err = px__oom;
        else
            g->ntypes++;
    }
    free(copy);
    return err;
}

static const char *k_gzip_vary(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &gzip_of(c)->vary) ? SWITCH_MSG : NULL;
}

static const char *k_gzip_proxied(load_ctx *c, const char *v)
{
    if (strcmp(v, "any") == 0)
        gzip_of(c)->proxied_any = 1;
    else if (strcmp(v, "off") == 0)
        gzip_of(c)->proxied_any = 0;
    else
        return "expected any or off";
    return NULL;
}

/* ---------------------------------------------------------------- [global] */

static const char *k_limit_table_size(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 64, 10000000, &n))
        return "expected a number of entries (client address and [server]) from 64 to 10000000";
    c->cfg->limit_table_size = (uint64_t)n;
    return NULL;
}

static const char *k_shutdown_timeout(load_ctx *c, const char *v)
{
    return px_parse_duration(v, &c->cfg->shutdown_timeout) ? DURATION_MSG : NULL;
}

static const char *k_drain_delay(load_ctx *c, const char *v)
{
    return px_parse_duration(v, &c->cfg->drain_delay) ? DURATION_MSG : NULL;
}

static const char *k_workers(load_ctx *c, const char *v)
{
    if (strcmp(v, "auto") == 0) {
        c->cfg->workers = 0;
        return NULL;
    }
    if (px__parse_int(v, 1, PX_MAX_WORKERS, &c->cfg->workers))
        return "expected auto or a number from 1 to " K_STR(PX_MAX_WORKERS);
    return NULL;
}

static const char *k_max_connections(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 1, 10000000, &n))
        return "expected a number of connections per worker";
    c->cfg->max_connections = (uint64_t)n;
    return NULL;
}

static const char *k_nofile(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 16, 100000000, &n))
        return "expected a number of file descriptors (at least 16)";
    c->cfg->nofile = (uint64_t)n;
    return NULL;
}

#define STRING_KEY(fn, field)                                                                                          \
    static const char *fn(load_ctx *c, const char *v)                                                                  \
    {                                                                                                                  \
        if (!*v)                                                                                                       \
            return "expected a value";                                                                                 \
        free(field);                                                                                                   \
        field = px__strdup(v);                                                                                         \
        return field ? NULL : px__oom;                                                                                 \
    }
STRING_KEY(k_user_name, c->cfg->user)
STRING_KEY(k_pid_path, c->cfg->pid_file)
STRING_KEY(k_error_log, c->cfg->error_log)
STRING_KEY(k_ticket_key_path, c->cfg->tls_ticket_key_file)

static const char *k_user(load_ctx *c, const char *v)
{
    c->cfg->user_line = c->lineno;
    return k_user_name(c, v);
}

static const char *k_pid_file(load_ctx *c, const char *v)
{
    c->cfg->pid_file_line = c->lineno;
    return k_pid_path(c, v);
}

static const char *k_ticket_key_file(load_ctx *c, const char *v)
{
    c->cfg->tls_ticket_key_line = c->lineno;
    return k_ticket_key_path(c, v);
}
STRING_KEY(k_tls_protocols_value, c->cfg->tls_protocols)
STRING_KEY(k_tls_ciphers_value, c->cfg->tls_ciphers)

/* Their lines: libtlsio judges the values when -t builds each TLS listener, and its messages point back here. */
static const char *k_tls_protocols(load_ctx *c, const char *v)
{
    c->cfg->tls_protocols_line = c->lineno;
    return k_tls_protocols_value(c, v);
}

static const char *k_tls_ciphers(load_ctx *c, const char *v)
{
    c->cfg->tls_ciphers_line = c->lineno;
    return k_tls_ciphers_value(c, v);
}

/* "PATH [FORMAT]" or "off"; FORMAT (combined, json or a log_format's name) is resolved once the file is read. */
static const char *k_access_log(load_ctx *c, const char *v)
{
    int in_server = c->kind == SECT_SERVER;
    char **path = in_server ? &c->srv->access_log : &c->cfg->access_log;
    char **format = in_server ? &c->srv->access_log_format : &c->cfg->access_log_format;
    free(*path);
    free(*format);
    *path = *format = NULL;
    *(in_server ? &c->srv->access_log_line : &c->cfg->access_log_line) = c->lineno;
    if (in_server)
        c->srv->access_log_off = 0;
    if (strcmp(v, "off") == 0) {
        if (in_server)
            c->srv->access_log_off = 1;
        return NULL;
    }
    size_t n = strcspn(v, " \t");
    const char *fmt = v + n + strspn(v + n, " \t");
    if (*fmt && fmt[strcspn(fmt, " \t")])
        return "expected PATH [FORMAT] or off";
    *path = strndup(v, n);
    if (*fmt)
        *format = px__strdup(fmt);
    return *path && (!*fmt || *format) ? NULL : px__oom;
}

/* An indented continuation line adds to the last log_format, after one space. */
static const char *log_format_more(load_ctx *c, const char *v)
{
    px_config *cfg = c->cfg;
    if (!cfg->nlog_formats)
        return "a continuation line without a log_format before it";
    px_logfmt *f = &cfg->log_formats[cfg->nlog_formats - 1];
    size_t n = strlen(f->text), m = strlen(v);
    char *joined = malloc(n + m + 2);
    if (!joined)
        return px__oom;
    memcpy(joined, f->text, n);
    joined[n] = ' ';
    memcpy(joined + n + 1, v, m + 1);
    free(f->text);
    free(f->parts);
    const char *err = px_logfmt_compile(f, joined);
    free(joined);
    return err;
}

/* "NAME [escape=default|json] FORMAT", FORMAT going on over indented continuation lines. */
static const char *k_log_format(load_ctx *c, const char *v)
{
    if (c->continuation)
        return log_format_more(c, v);
    size_t n = strcspn(v, " \t");
    const char *rest = v + n + strspn(v + n, " \t");
    if (!px__is_token(v, n) || !*rest)
        return "expected NAME [escape=default|json] FORMAT";
    if ((n == 8 && strncmp(v, "combined", 8) == 0) || (n == 4 && strncmp(v, "json", 4) == 0))
        return "combined and json are the built-in formats' names";
    px_config *cfg = c->cfg;
    for (int i = 0; i < cfg->nlog_formats; i++)
        if (strlen(cfg->log_formats[i].name) == n && strncmp(cfg->log_formats[i].name, v, n) == 0)
            return "a log_format of this name is already defined";
    px_escape esc = PX_ESCAPE_DEFAULT;
    if (strncmp(rest, "escape=", 7) == 0) {
        size_t m = strcspn(rest, " \t");
        if (m == 14 && strncmp(rest, "escape=default", 14) == 0)
            esc = PX_ESCAPE_DEFAULT;
        else if (m == 11 && strncmp(rest, "escape=json", 11) == 0)
            esc = PX_ESCAPE_JSON;
        else
            return "expected escape=default or escape=json";
        rest += m + strspn(rest + m, " \t");
        if (!*rest)
            return "expected a FORMAT after escape=";
    }
    px_logfmt *grown = realloc(cfg->log_formats, sizeof(*grown) * (size_t)(cfg->nlog_formats + 1));
    if (!grown)
        return px__oom;
    cfg->log_formats = grown;
    px_logfmt *f = &grown[cfg->nlog_formats++];
    memset(f, 0, sizeof(*f));
    f->escape = esc;
    f->name = strndup(v, n);
    const char *err = f->name ? px_logfmt_compile(f, rest) : px__oom;
    if (err) {
        px_logfmt_free(f);
        cfg->nlog_formats--;
    }
    return err;
}

static const char *k_access_log_format(load_ctx *c, const char *v)
{
    if (strcmp(v, "combined") == 0)
        c->cfg->access_log_json = 0;
    else if (strcmp(v, "json") == 0)
        c->cfg->access_log_json = 1;
    else
        return "expected combined or json";
    return NULL;
}

static const char *k_log_level(load_ctx *c, const char *v)
{
    int l = px_log_level_parse(v);
    if (l < 0)
        return "expected debug, info, notice, warn or error";
    c->cfg->log_level = l;
    return NULL;
}

static const char *k_tls_session_cache(load_ctx *c, const char *v)
{
    if (strcmp(v, "off") == 0) {
        c->cfg->tls_session_cache = 0;
        return NULL;
    }
    return px_parse_size(v, &c->cfg->tls_session_cache) ? "expected off or a size such as 10m" : NULL;
}

static const char *k_tls_session_tickets(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &c->cfg->tls_session_tickets) ? SWITCH_MSG : NULL;
}

static const char *k_tls_stapling(load_ctx *c, const char *v)
{
    px__cfg_warn(c, "tls_stapling", "OCSP stapling is not supported by mbedTLS 3.6; the setting is ignored");
    return NULL;
}

/* ---------------------------------------------------------------- [status] */

static const char *k_status_listen(load_ctx *c, const char *v)
{
    if (wire_addr_parse(v, &c->cfg->status_addr))
        return "expected ADDR:PORT, e.g. 127.0.0.1:9145";
    free(c->cfg->status_listen);
    c->cfg->status_listen = px__strdup(v);
    if (!c->cfg->status_listen)
        return px__oom;
    c->cfg->status_on = 1;
    return NULL;
}

/* ---------------------------------------------------------------- [upstream NAME] */

/* Keeps "HOST:PORT" as written and its host part; the server counts only once both are copied. */
static const char *up_server_names(px_upstream *u, px_upstream_server *s, char *addr)
{
    s->text = px__strdup(addr);
    char *colon = strrchr(addr, ':');
    if (colon)
        *colon = 0;
    if (addr[0] == '[') {
        addr++;
        addr[strlen(addr) - 1] = 0;
    }
    s->host = px__strdup(addr);
    if (!s->text || !s->host) {
        free(s->text);
        free(s->host);
        return px__oom;
    }
    u->nservers++;
    return NULL;
}

/* "HOST:PORT [weight=N] [max_fails=N] [fail_timeout=10s] [backup]" */
static const char *k_up_server(load_ctx *c, const char *v)
{
    px_upstream *u = c->up;
    if (u->nservers == PX_MAX_SERVERS_PER_UPSTREAM)
        return "too many servers in one upstream";
    px_upstream_server *s = &u->servers[u->nservers];
    memset(s, 0, sizeof(*s));
    s->weight = 1;
    s->max_fails = 1;
    s->fail_timeout = 10000;
    s->line = c->lineno;
    char *copy = px__strdup(v), *save = NULL;
    if (!copy)
        return px__oom;
    const char *err = NULL;
    char *addr = strtok_r(copy, " \t", &save);
    int rc = addr ? wire_addr_parse(addr, &s->addr) : -EINVAL;
    if (rc == -ENOENT) /* the syntax is right: say what is really wrong */
        err = "cannot resolve the host name (names are resolved at start and at reload): write an address, or a "
              "name this machine's resolver knows";
    else if (rc < 0)
        err = "expected HOST:PORT then optional weight=N max_fails=N fail_timeout=T backup";
    for (char *t = addr ? strtok_r(NULL, " \t", &save) : NULL; t && !err; t = strtok_r(NULL, " \t", &save)) {
        long n;
        if (strncmp(t, "weight=", 7) == 0 && !px__parse_int(t + 7, 1, 1000, &n))
            s->weight = (int)n;
        else if (strncmp(t, "max_fails=", 10) == 0 && !px__parse_int(t + 10, 0, 1000, &n))
            s->max_fails = (int)n;
        else if (strncmp(t, "fail_timeout=", 13) == 0 && !px_parse_duration(t + 13, &s->fail_timeout))
            ;
        else if (strcmp(t, "backup") == 0)
            s->backup = 1;
        else
            err = "unknown or invalid server parameter (weight=1..1000, max_fails=0..1000, fail_timeout=T, backup)";
    }
    if (!err)
        err = up_server_names(u, s, addr);
    free(copy);
    return err;
}

static const char *k_up_balance(load_ctx *c, const char *v)
{
    if (strcmp(v, "round_robin") == 0)
        c->up->balance = PX_BALANCE_ROUND_ROBIN;
    else if (strcmp(v, "least_conn") == 0)
        c->up->balance = PX_BALANCE_LEAST_CONN;
    else
        return "expected round_robin or least_conn";
    return NULL;
}

static const char *k_up_keepalive(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 0, 100000, &n))
        return "expected the number of idle upstream connections kept per worker (0 to 100000)";
    c->up->keepalive = (uint64_t)n;
    return NULL;
}

static const char *k_up_tls(load_ctx *c, const char *v)
{
    c->up->tls_line = c->lineno;
    return px__parse_switch(v, &c->up->tls) ? SWITCH_MSG : NULL;
}

static const char *k_up_tls_verify(load_ctx *c, const char *v)
{
    c->up->tls_verify_line = c->lineno;
    return px__parse_switch(v, &c->up->tls_verify) ? SWITCH_MSG : NULL;
}

static const char *k_up_ntlm(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &c->up->ntlm) ? SWITCH_MSG : NULL;
}

/* on: every new connection to a server starts with a PROXY v2 header naming the client (HAProxy's send-proxy-v2). */
static const char *k_up_proxy_protocol(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &c->up->proxy_protocol) ? SWITCH_MSG : NULL;
}

STRING_KEY(k_up_tls_ca_path, c->up->tls_ca)
STRING_KEY(k_up_tls_server_name, c->up->tls_server_name)
STRING_KEY(k_up_tls_cert_path, c->up->tls_cert)
STRING_KEY(k_up_tls_key_path, c->up->tls_key)

/* The files' lines: -t reads them after the file (readable, a key not a certificate) and names these lines. */
static const char *k_up_tls_ca(load_ctx *c, const char *v)
{
    c->up->tls_ca_line = c->lineno;
    return k_up_tls_ca_path(c, v);
}

static const char *k_up_tls_cert(load_ctx *c, const char *v)
{
    c->up->tls_cert_line = c->lineno;
    return k_up_tls_cert_path(c, v);
}

static const char *k_up_tls_key(load_ctx *c, const char *v)
{
    c->up->tls_key_line = c->lineno;
    return k_up_tls_key_path(c, v);
}

static const char *k_up_connect_timeout(load_ctx *c, const char *v)
{
    return px_parse_duration(v, &c->up->connect_timeout) ? DURATION_MSG : NULL;
}

static const char *k_up_read_timeout(load_ctx *c, const char *v)
{
    c->up->read_timeout_line = c->lineno;
    return px_parse_duration(v, &c->up->read_timeout) ? DURATION_MSG : NULL;
}

static const char *k_up_header_timeout(load_ctx *c, const char *v)
{
    return parse_timeout_or_off(v, &c->up->header_timeout) ? TIMEOUT_OFF_MSG : NULL;
}

static const char *k_up_send_timeout(load_ctx *c, const char *v)
{
    return px_parse_duration(v, &c->up->send_timeout) ? DURATION_MSG : NULL;
}

/* "GET /path", "tcp" or "off" */
static const char *k_up_health_check(load_ctx *c, const char *v)
{
    px_upstream *u = c->up;
    free(u->health_path);
    u->health_path = NULL;
    if (strcmp(v, "off") == 0) {
        u->health_check = PX_HEALTH_NONE;
        return NULL;
    }
    if (strcmp(v, "tcp") == 0) {
        u->health_check = PX_HEALTH_TCP;
        return NULL;
    }
    const char *msg = "expected GET /PATH, tcp or off";
    if (strncmp(v, "GET ", 4) != 0)
        return msg;
    const char *path = v + 4;
    while (*path == ' ')
        path++;
    if (*path != '/')
        return msg;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "the health check path must not contain spaces or control characters";
    u->health_path = px__strdup(path);
    if (!u->health_path)
        return px__oom;
    u->health_check = PX_HEALTH_GET;
    return NULL;
}

STRING_KEY(k_up_health_host, c->up->health_host)

static const char *k_up_health_interval(load_ctx *c, const char *v)
{
    uint64_t ms;
    if (px_parse_duration(v, &ms) || ms == 0)
        return "expected a duration above 0 (e.g. 5s, 500ms)";
    c->up->health_interval = ms;
    return NULL;
}

static const char *k_up_health_timeout(load_ctx *c, const char *v)
{
    uint64_t ms;
    if (px_parse_duration(v, &ms) || ms == 0)
        return "expected a duration above 0 (e.g. 2s, 500ms)";
    c->up->health_timeout = ms;
    return NULL;
}

static const char *k_up_health_rise(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 1, 100, &n))
        return "expected a count from 1 to 100";
    c->up->health_rise = (int)n;
    return NULL;
}

static const char *k_up_health_fall(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 1, 100, &n))
        return "expected a count from 1 to 100";
    c->up->health_fall = (int)n;
    return NULL;
}

/* "200-399" or one status "200" */
static const char *k_up_health_status(load_ctx *c, const char *v)
{
    const char *msg = "expected a status or a range of statuses, e.g. 200-399 or 200";
    char lo[8], hi[8];
    const char *dash = strchr(v, '-');
    size_t n = dash ? (size_t)(dash - v) : strlen(v);
    if (n == 0 || n >= sizeof(lo) || (dash && (strlen(dash + 1) == 0 || strlen(dash + 1) >= sizeof(hi))))
        return msg;
    memcpy(lo, v, n);
    lo[n] = 0;
    snprintf(hi, sizeof(hi), "%s", dash ? dash + 1 : lo);
    long a, b;
    if (px__parse_int(lo, 100, 599, &a) || px__parse_int(hi, 100, 599, &b) || a > b)
        return msg;
    c->up->health_status_lo = (int)a;
    c->up->health_status_hi = (int)b;
    return NULL;
}

/* ---------------------------------------------------------------- [server NAME] */

/* "ADDR:PORT [tls] [default] [proxy_protocol]" */
static const char *k_srv_listen(load_ctx *c, const char *v)
{
    px_server *s = c->srv;
    if (s->nlisten == PX_MAX_LISTEN)
        return "too many listen addresses";
    px_listen *l = &s->listen[s->nlisten];
    memset(l, 0, sizeof(*l));
    char *copy = px__strdup(v), *save = NULL;
    if (!copy)
        return px__oom;
    const char *err = NULL;
    char *addr = strtok_r(copy, " \t", &save);
    if (!addr || wire_addr_parse(addr, &l->addr))
        err = "expected ADDR:PORT (e.g. 0.0.0.0:443, [::]:443, *:80) then optional tls, default and proxy_protocol";
    for (char *t = addr ? strtok_r(NULL, " \t", &save) : NULL; t && !err; t = strtok_r(NULL, " \t", &save)) {
        if (strcmp(t, "tls") == 0 || strcmp(t, "ssl") == 0)
            l->tls = 1;
        else if (strcmp(t, "default") == 0 || strcmp(t, "default_server") == 0)
            l->is_default = 1;
        else if (strcmp(t, "proxy_protocol") == 0)
            l->proxy_protocol = 1;
        else
            err = "unknown listen parameter (tls, default, proxy_protocol)";
    }
    if (!err && !(l->text = px__strdup(addr)))
        err = px__oom;
    if (!err)
        s->nlisten++;
    free(copy);
    return err;
}

static const char *k_srv_server_name(load_ctx *c, const char *v)
{
    px_server *s = c->srv;
    if (!s->names_line)
        s->names_line = c->lineno;
    char *copy = px__strdup(v), *save = NULL;
    const char *err = copy ? NULL : px__oom;
    for (char *t = copy ? strtok_r(copy, " \t", &save) : NULL; t && !err; t = strtok_r(NULL, " \t", &save)) {
        if (s->nnames == PX_MAX_NAMES)
            err = "too many names";
        else if (strchr(t + 1, '*') || (t[0] == '*' && t[1] != '.'))
            err = "a wildcard name must start with \"*.\" (e.g. *.example.com)";
        else {
            for (char *p = t; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            if (!(s->names[s->nnames] = px__strdup(t)))
                err = px__oom;
            else
                s->nnames++;
        }
    }
    free(copy);
    return err;
}

static const char *k_srv_tls_cert(load_ctx *c, const char *v)
{
    if (c->srv->ncert == PX_MAX_CERTS)
        return "too many certificates";
    if (!(c->srv->tls_cert[c->srv->ncert] = px__strdup(v)))
        return px__oom;
    c->srv->cert_line[c->srv->ncert++] = c->lineno;
    return NULL;
}

static const char *k_srv_tls_key(load_ctx *c, const char *v)
{
    if (c->srv->nkey == PX_MAX_CERTS)
        return "too many keys";
    if (!(c->srv->tls_key[c->srv->nkey] = px__strdup(v)))
        return px__oom;
    c->srv->key_line[c->srv->nkey++] = c->lineno;
    return NULL;
}

/* UPSTREAM, http://UPSTREAM or https://UPSTREAM (nginx's spelling): the scheme must agree with the upstream's
 * tls, checked once the file is read. */
static const char *add_route(load_ctx *c, const char *prefix, size_t plen, const char *upstream)
{
    px_server *s = c->srv;
    int scheme_tls = -1;
    if (strncmp(upstream, "http://", 7) == 0)
        upstream += 7, scheme_tls = 0;
    else if (strncmp(upstream, "https://", 8) == 0)
        upstream += 8, scheme_tls = 1;
    if (s->nroutes == PX_MAX_ROUTES)
        return "too many routes";
    if (!*upstream || strpbrk(upstream, " \t/:"))
        return "expected an upstream name, alone or after http:// or https:// (a [upstream NAME], not a URL)";
    for (int i = 0; i < s->nroutes; i++)
        if (s->routes[i].len == plen && strncmp(s->routes[i].prefix, prefix, plen) == 0)
            return "route prefix given twice";
    char *p = strndup(prefix, plen), *name = px__strdup(upstream);
    if (!p || !name) {
        free(p);
        free(name);
        return px__oom; /* not counted: later routes compare against every counted prefix */
    }
    px_route *r = &s->routes[s->nroutes++];
    r->line = c->lineno;
    r->prefix = p;
    r->len = plen;
    r->upstream_name = name;
    r->scheme_tls = scheme_tls;
    r->read_timeout = r->header_timeout = UNSET; /* the upstream's, unless an option says otherwise */
    r->auth_guard = -1;                          /* the server's */
    return NULL;
}

/* ---------------------------------------------------------------- route options */

/* "name=value" after "route = /PREFIX UPSTREAM". An option is a field of px_route, a parser and a row of
 * route_opts (and, when it falls back to the upstream's value, a line in config_check.c's resolve_route). */
typedef const char *(*route_opt_fn)(load_ctx *c, px_route *r, const char *value);

static const char *ro_read_timeout(load_ctx *c, px_route *r, const char *v)
{
    (void)c;
    if (px_parse_duration(v, &r->read_timeout) || r->read_timeout == 0)
        return "read_timeout: expected a duration above 0, such as 1800s";
    return NULL;
}

static const char *ro_header_timeout(load_ctx *c, px_route *r, const char *v)
{
    (void)c;
    return parse_timeout_or_off(v, &r->header_timeout) ? "header_timeout: " TIMEOUT_OFF_MSG : NULL;
}

static const char *acl_into(load_ctx *c, px_acl *acl, int allow, const char *v);
static const char *parse_limit_req(const char *v, const char *seps, px_rate *out);

/* allow=CIDR[,CIDR...] and deny=...: the route's own list, rules in the order written (both may repeat). */
static const char *ro_acl(load_ctx *c, px_acl *acl, int allow, const char *v)
{
    char *copy = px__strdup(v);
    if (!copy)
        return px__oom;
    for (char *p = copy; *p; p++)
        if (*p == ',')
            *p = ' ';
    const char *err = acl_into(c, acl, allow, copy);
    free(copy);
    return err;
}

static const char *ro_allow(load_ctx *c, px_route *r, const char *v)
{
    return ro_acl(c, &r->acl, 1, v);
}

static const char *ro_deny(load_ctx *c, px_route *r, const char *v)
{
    return ro_acl(c, &r->acl, 0, v);
}

/* limit_req=RATE[,burst=N][,nodelay] */
static const char *ro_limit_req(load_ctx *c, px_route *r, const char *v)
{
    (void)c;
    return parse_limit_req(v, ",", &r->limit_req);
}

static const char *ro_auth_guard(load_ctx *c, px_route *r, const char *v)
{
    (void)c;
    return px__parse_switch(v, &r->auth_guard) ? "auth_guard: " SWITCH_MSG : NULL;
}

static const struct {
    const char *name;
    route_opt_fn fn;
} route_opts[] = {
    {"read_timeout", ro_read_timeout},
    {"header_timeout", ro_header_timeout},
    {"auth_guard", ro_auth_guard},
    {"allow", ro_allow},
    {"deny", ro_deny},
    {"limit_req", ro_limit_req},
};
#define RO_REPEATABLE(name) (strcmp(name, "allow") == 0 || strcmp(name, "deny") == 0)
#define ROUTE_MSG "expected \"/PREFIX UPSTREAM [option=value ...]\""
#define ROUTE_OPTS_MSG                                                                                                 \
    "unknown route option (known: read_timeout=T, header_timeout=T|off, auth_guard=on|off, allow=CIDR,..., "           \
    "deny=CIDR,..., limit_req=RATE[,burst=N][,nodelay])"

/* Parses the blank-separated options of opts (cut in place) into r, each at most once. */
static const char *route_options(load_ctx *c, px_route *r, char *opts)
{
    unsigned seen = 0;
    char *save = NULL;
    for (char *t = strtok_r(opts, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        const char *eq = strchr(t, '=');
        size_t i, n = sizeof(route_opts) / sizeof(route_opts[0]);
        for (i = 0; eq && i < n; i++)
            if (strlen(route_opts[i].name) == (size_t)(eq - t) && strncmp(t, route_opts[i].name, (size_t)(eq - t)) == 0)
                break;
        if (!eq || i == n)
            return ROUTE_OPTS_MSG;
        if ((seen & (1u << i)) && !RO_REPEATABLE(route_opts[i].name))
            return "route option given twice";
        seen |= 1u << i;
        const char *err = route_opts[i].fn(c, r, eq + 1);
        if (err)
            return err;
    }
    return NULL;
}

static const char *k_srv_proxy_pass(load_ctx *c, const char *v)
{
    return add_route(c, "/", 1, v);
}

/* "/PREFIX UPSTREAM [option=value ...]" */
static const char *k_srv_route(load_ctx *c, const char *v)
{
    const char *sp = strpbrk(v, " \t");
    if (v[0] != '/' || !sp)
        return ROUTE_MSG;
    char *rest = px__strdup(sp), *save = NULL;
    if (!rest)
        return px__oom;
    char *up = strtok_r(rest, " \t", &save);
    const char *err = up ? add_route(c, v, (size_t)(sp - v), up) : ROUTE_MSG;
    if (!err) /* the route is counted: on an error it is freed with the server */
        err = route_options(c, &c->srv->routes[c->srv->nroutes - 1], save);
    free(rest);
    return err;
}

static const char *k_srv_return(load_ctx *c, const char *v)
{
    char *end;
    long status = strtol(v, &end, 10);
    if (end == v || status < 200 || status > 599 || (*end && *end != ' '))
        return "expected \"STATUS [URL]\", e.g. 301 https://$host$request_uri";
    while (*end == ' ')
        end++;
    if (px_return_is_redirect((int)status) && !*end)
        return "a redirect status (301, 302, 303, 307, 308) needs a URL";
    c->srv->return_status = (int)status;
    return px__tpl_compile(&c->srv->return_url, end);
}

static const char *k_srv_proxy_set_header(load_ctx *c, const char *v)
{
    px_server *s = c->srv;
    if (s->nset_headers == PX_MAX_HEADERS)
        return "too many proxy_set_header";
    const char *err = px__parse_header(&s->set_headers[s->nset_headers], v, 0);
    s->nset_headers++; /* counted even on error so that the strings are freed */
    return err;
}

static const char *k_srv_add_header(load_ctx *c, const char *v)
{
    px_server *s = c->srv;
    if (s->nadd_headers == PX_MAX_HEADERS)
        return "too many add_header";
    const char *err = px__parse_header(&s->add_headers[s->nadd_headers], v, 1);
    s->nadd_headers++;
    return err;
}

/* nginx's response buffering (read the whole response ahead of a slow client) is not built: proxyd streams
 * through its fixed per-connection buffers. Say so at -t and start rather than pretend. */
static const char *k_srv_proxy_buffering(load_ctx *c, const char *v)
{
    if (px__parse_switch(v, &c->srv->proxy_buffering))
        return SWITCH_MSG;
    if (c->srv->proxy_buffering)
        px__cfg_warn(c, "proxy_buffering",
                     "proxyd streams responses through fixed per-connection buffers; "
                     "\"on\" is accepted for nginx compatibility and behaves as \"off\"");
    return NULL;
}

static const char *k_srv_ignore_client_abort(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &c->srv->ignore_client_abort) ? SWITCH_MSG : NULL;
}

static const char *k_srv_proxy_buffers(load_ctx *c, const char *v)
{
    char num[32], size[32];
    long n;
    if (sscanf(v, "%31s %31s", num, size) != 2 || px__parse_int(num, 1, 1024, &n) ||
        px_parse_size(size, &c->srv->proxy_buffers_size) || c->srv->proxy_buffers_size < 1024 ||
        c->srv->proxy_buffers_size > 1048576)
        return "expected \"NUMBER SIZE\", e.g. 128 4k (size from 1k to 1m)";
    c->srv->proxy_buffers_num = (uint64_t)n;
    px__cfg_warn(c, "proxy_buffers", "accepted for nginx compatibility; it has no effect (see proxy_buffering)");
    return NULL;
}

#define REDIRECT_MSG "expected default, off, or \"FROM TO\" (e.g. https://$host:4443/ https://$host/)"

/* "FROM TO": two templates; the rule is counted even on error so that its strings are freed. */
static const char *redirect_rule(px_server *s, const char *v)
{
    if (v[0] == '~')
        return "regular expressions (~) are not supported: give the URL prefix to replace";
    char *copy = px__strdup(v), *save = NULL;
    if (!copy)
        return px__oom;
    const char *from = strtok_r(copy, " \t", &save), *to = from ? strtok_r(NULL, " \t", &save) : NULL;
    const char *err = !to || strtok_r(NULL, " \t", &save) ? REDIRECT_MSG : NULL;
    if (!err) {
        px_redirect *r = &s->redirects[s->nredirects++];
        err = px__tpl_compile(&r->from, from);
        if (!err)
            err = px__tpl_compile(&r->to, to);
    }
    free(copy);
    return err;
}

/* nginx's proxy_redirect: default, off, or FROM TO; the lines may repeat and are tried in order. Listing rules
 * replaces the default unless `default` is one of them, as in nginx. */
static const char *k_srv_proxy_redirect(load_ctx *c, const char *v)
{
    px_server *s = c->srv;
    if (strcmp(v, "off") == 0) {
        if (s->nredirects)
            return "off cannot be combined with other proxy_redirect lines";
        s->proxy_redirect = 0;
        return NULL;
    }
    if (!s->proxy_redirect)
        return "proxy_redirect = off was given: remove it to list rules";
    if (s->nredirects == PX_MAX_REDIRECTS)
        return "too many proxy_redirect lines (at most " K_STR(PX_MAX_REDIRECTS) ")";
    if (strcmp(v, "default") != 0)
        return redirect_rule(s, v);
    for (int i = 0; i < s->nredirects; i++)
        if (s->redirects[i].is_default)
            return "default given twice";
    s->redirects[s->nredirects++].is_default = 1;
    return NULL;
}

/* ---------------------------------------------------------------- allow, deny, per-client limits */

#define ACL_MSG "expected addresses or CIDR blocks (192.0.2.1, 10.0.0.0/8, 2001:db8::/32), unix: or all"

/* Appends one rule (the array grows at load only). */
static const char *acl_append(px_acl *acl, const px_cidr *net, int allow)
{
    if (acl->n == PX_MAX_ACL_RULES)
        return "too many allow/deny rules in one list (at most " K_STR(PX_MAX_ACL_RULES) ")";
    px_acl_rule *grown = realloc(acl->rules, (size_t)(acl->n + 1) * sizeof(*grown));
    if (!grown)
        return px__oom;
    acl->rules = grown;
    grown[acl->n].net = *net;
    grown[acl->n].allow = (uint8_t)allow;
    acl->n++;
    return NULL;
}

/* "CIDR ...": each address, block or `all` is one rule, in the order written, into the [server] or [status] list
 * (allow, deny), or the [global] proxy_protocol_from list (allow rules only). */
static const char *acl_into(load_ctx *c, px_acl *acl, int allow, const char *v)
{
    char *copy = px__strdup(v), *save = NULL;
    const char *err = copy ? NULL : px__oom;
    int rules = 0;
    for (char *t = copy ? strtok_r(copy, " \t", &save) : NULL; t && !err; t = strtok_r(NULL, " \t", &save)) {
        px_cidr net;
        int rc = px_cidr_parse(t, &net);
        rules++;
        if (rc < 0)
            err = ACL_MSG;
        else if (!(err = acl_append(acl, &net, allow)) && rc == 1)
            px__cfg_warn(c,
                         acl == &c->cfg->proxy_protocol_from                            ? "proxy_protocol_from"
                         : c->kind == SECT_SERVER && acl == &c->srv->auth_guard.trusted ? "auth_guard_trusted"
                         : allow                                                        ? "allow"
                                                                                        : "deny",
                         "low address bits of %s are meaningless", t);
    }
    free(copy);
    return err ? err : rules ? NULL : ACL_MSG;
}

static const char *acl_add(load_ctx *c, int allow, const char *v)
{
    int *line = c->kind == SECT_SERVER ? &c->srv->acl_line : &c->cfg->status_acl_line;
    if (!*line) /* the list's first rule: where a warning about the whole list points */
        *line = c->lineno;
    return acl_into(c, c->kind == SECT_SERVER ? &c->srv->acl : &c->cfg->status_acl, allow, v);
}

/* "CIDR ...": the load balancers whose PROXY header is believed, on listen addresses with proxy_protocol. */
static const char *k_proxy_protocol_from(load_ctx *c, const char *v)
{
    return acl_into(c, &c->cfg->proxy_protocol_from, 1, v);
}

static const char *k_allow(load_ctx *c, const char *v)
{
    return acl_add(c, 1, v);
}

static const char *k_deny(load_ctx *c, const char *v)
{
    return acl_add(c, 0, v);
}

static const char *k_srv_limit_conn(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 1, 1000000, &n))
        return "expected the number of requests in progress per client address (1 to 1000000)";
    c->srv->limit_conn = (uint32_t)n;
    return NULL;
}

/* nginx's rate: "10r/s" or "600r/m", kept as requests per 1000 s. -1 when not one. */
static int parse_rate(const char *t, uint32_t *per_ks)
{
    long n;
    char num[16];
    size_t len = strlen(t);
    if (len < 4 || len - 3 >= sizeof(num) || strncmp(t + len - 3, "r/", 2) != 0)
        return -1;
    memcpy(num, t, len - 3);
    num[len - 3] = 0;
    if (t[len - 1] == 's' && !px__parse_int(num, 1, 1000000, &n))
        *per_ks = (uint32_t)n * 1000;
    else if (t[len - 1] == 'm' && !px__parse_int(num, 1, 60000000, &n))
        *per_ks = (uint32_t)((uint64_t)n * 1000 / 60);
    else
        return -1;
    return 0;
}

/* "RATE [burst=N] [nodelay]", the parts separated by any of seps. */
static const char *parse_limit_req(const char *v, const char *seps, px_rate *out)
{
    px_rate r = {0, 0, 0};
    char *copy = px__strdup(v), *save = NULL;
    if (!copy)
        return px__oom;
    const char *err = NULL;
    char *rate = strtok_r(copy, seps, &save);
    if (!rate || parse_rate(rate, &r.per_ks) < 0)
        err = "expected a rate such as 10r/s or 600r/m (1r/m to 1000000r/s), then optional burst=N and nodelay";
    for (char *t = rate ? strtok_r(NULL, seps, &save) : NULL; t && !err; t = strtok_r(NULL, seps, &save)) {
        long n;
        if (strncmp(t, "burst=", 6) == 0 && !px__parse_int(t + 6, 0, 1000000, &n))
            r.burst = (uint32_t)n;
        else if (strcmp(t, "nodelay") == 0)
            r.nodelay = 1;
        else
            err = "unknown or invalid limit_req parameter (burst=0..1000000, nodelay)";
    }
    if (!err)
        *out = r;
    free(copy);
    return err;
}

static const char *k_srv_limit_req(load_ctx *c, const char *v)
{
    return parse_limit_req(v, " \t", &c->srv->limit_req);
}

/* ---------------------------------------------------------------- auth_guard */

static const char *k_auth_guard_table_size(load_ctx *c, const char *v)
{
    long n;
    if (px__parse_int(v, 64, 10000000, &n))
        return "expected a number of entries (accounts, client addresses, pairs) from 64 to 10000000";
    c->cfg->auth_guard_table_size = (uint64_t)n;
    return NULL;
}

static const char *k_srv_auth_guard(load_ctx *c, const char *v)
{
    return px__parse_switch(v, &c->srv->auth_guard.on) ? SWITCH_MSG : NULL;
}

/* "N/DURATION": N failed logins within DURATION block for DURATION. */
static const char *parse_ag_limit(const char *v, px_ag_limit *out)
{
    static const char msg[] = "expected FAILURES/WINDOW such as 5/15m (1 to 100000 failures, a window from 1s to 24h)";
    const char *slash = strchr(v, '/');
    char num[16];
    long n;
    uint64_t ms;
    if (!slash || (size_t)(slash - v) >= sizeof(num))
        return msg;
    memcpy(num, v, (size_t)(slash - v));
    num[slash - v] = 0;
    if (px__parse_int(num, 1, 100000, &n) || px_parse_duration(slash + 1, &ms) || ms < 1000 || ms > 86400000)
        return msg;
    *out = (px_ag_limit){(uint32_t)n, ms};
    return NULL;
}

static const char *k_srv_auth_guard_account(load_ctx *c, const char *v)
{
    return parse_ag_limit(v, &c->srv->auth_guard.account);
}

static const char *k_srv_auth_guard_client(load_ctx *c, const char *v)
{
    return parse_ag_limit(v, &c->srv->auth_guard.client);
}

/* "CIDR ...": the internal network, whose logins auth_guard neither counts nor blocks. */
static const char *k_srv_auth_guard_trusted(load_ctx *c, const char *v)
{
    return acl_into(c, &c->srv->auth_guard.trusted, 1, v);
}

static const char *k_srv_auth_guard_answer(load_ctx *c, const char *v)
{
    if (strcmp(v, "429") == 0 || strcmp(v, "401") == 0)
        c->srv->auth_guard.answer = atoi(v);
    else
        return "expected 429 (Too Many Requests, with Retry-After) or 401 (Unauthorized, without a challenge)";
    return NULL;
}

STRING_KEY(k_srv_root, c->srv->root)
STRING_KEY(k_srv_error_log, c->srv->error_log)
STRING_KEY(k_srv_index, c->srv->index)

static const key_def keys[] = {
    {SECT_GLOBAL, "workers", k_workers, 0},
    {SECT_GLOBAL, "max_connections", k_max_connections, 0},
    {SECT_GLOBAL, "nofile", k_nofile, 0},
    {SECT_GLOBAL, "shutdown_timeout", k_shutdown_timeout, 0},
    {SECT_GLOBAL, "drain_delay", k_drain_delay, 0},
    {SECT_GLOBAL, "limit_table_size", k_limit_table_size, 0},
    {SECT_GLOBAL, "auth_guard_table_size", k_auth_guard_table_size, 0},
    {SECT_GLOBAL, "proxy_protocol_from", k_proxy_protocol_from, K_REPEAT | K_LIST},
    {SECT_GLOBAL, "user", k_user, 0},
    {SECT_GLOBAL, "pid_file", k_pid_file, 0},
    {SECT_GLOBAL, "error_log", k_error_log, 0},
    {SECT_GLOBAL, "log_level", k_log_level, 0},
    {SECT_GLOBAL, "access_log", k_access_log, 0},
    {SECT_GLOBAL, "access_log_format", k_access_log_format, 0},
    {SECT_GLOBAL, "log_format", k_log_format, K_REPEAT | K_LIST},
    {SECT_GLOBAL, "tls_session_cache", k_tls_session_cache, 0},
    {SECT_GLOBAL, "tls_session_tickets", k_tls_session_tickets, 0},
    {SECT_GLOBAL, "tls_ticket_key_file", k_ticket_key_file, 0},
    {SECT_GLOBAL, "tls_protocols", k_tls_protocols, 0},
    {SECT_GLOBAL, "tls_ciphers", k_tls_ciphers, 0},
    {SECT_GLOBAL, "tls_stapling", k_tls_stapling, 0},
    {SECT_NONE, "server_tokens", k_server_tokens, 0},
    {SECT_NONE, "request_id", k_request_id, 0},
    {SECT_NONE, "client_header_timeout", k_client_header_timeout, 0},
    {SECT_NONE, "client_body_timeout", k_client_body_timeout, 0},
    {SECT_NONE, "keepalive_timeout", k_keepalive_timeout, 0},
    {SECT_NONE, "send_timeout", k_send_timeout, 0},
    {SECT_NONE, "reset_timedout_connection", k_reset_timedout_connection, 0},
    {SECT_NONE, "client_max_body_size", k_client_max_body_size, 0},
    {SECT_NONE, "client_header_buffer_size", k_client_header_buffer_size, 0},
    {SECT_NONE, "max_header_fields", k_max_header_fields, 0},
    {SECT_NONE, "underscores_in_headers", k_underscores_in_headers, 0},
    {SECT_NONE, "keepalive_requests", k_keepalive_requests, 0},
    {SECT_NONE, "gzip", k_gzip, 0},
    {SECT_NONE, "gzip_level", k_gzip_level, 0},
    {SECT_NONE, "gzip_min_length", k_gzip_min_length, 0},
    {SECT_NONE, "gzip_types", k_gzip_types, K_LIST},
    {SECT_NONE, "gzip_vary", k_gzip_vary, 0},
    {SECT_NONE, "gzip_proxied", k_gzip_proxied, 0},
    {SECT_UPSTREAM, "server", k_up_server, K_REPEAT},
    {SECT_UPSTREAM, "balance", k_up_balance, 0},
    {SECT_UPSTREAM, "keepalive", k_up_keepalive, 0},
    {SECT_UPSTREAM, "tls", k_up_tls, 0},
    {SECT_UPSTREAM, "tls_verify", k_up_tls_verify, 0},
    {SECT_UPSTREAM, "tls_ca", k_up_tls_ca, 0},
    {SECT_UPSTREAM, "tls_server_name", k_up_tls_server_name, 0},
    {SECT_UPSTREAM, "tls_cert", k_up_tls_cert, 0},
    {SECT_UPSTREAM, "tls_key", k_up_tls_key, 0},
    {SECT_UPSTREAM, "connect_timeout", k_up_connect_timeout, 0},
    {SECT_UPSTREAM, "read_timeout", k_up_read_timeout, 0},
    {SECT_UPSTREAM, "header_timeout", k_up_header_timeout, 0},
    {SECT_UPSTREAM, "send_timeout", k_up_send_timeout, 0},
    {SECT_UPSTREAM, "ntlm", k_up_ntlm, 0},
    {SECT_UPSTREAM, "proxy_protocol", k_up_proxy_protocol, 0},
    {SECT_UPSTREAM, "health_check", k_up_health_check, 0},
    {SECT_UPSTREAM, "health_interval", k_up_health_interval, 0},
    {SECT_UPSTREAM, "health_timeout", k_up_health_timeout, 0},
    {SECT_UPSTREAM, "health_rise", k_up_health_rise, 0},
    {SECT_UPSTREAM, "health_fall", k_up_health_fall, 0},
    {SECT_UPSTREAM, "health_status", k_up_health_status, 0},
    {SECT_UPSTREAM, "health_host", k_up_health_host, 0},
    {SECT_SERVER, "listen", k_srv_listen, K_REPEAT},
    {SECT_SERVER, "server_name", k_srv_server_name, K_LIST},
    {SECT_SERVER, "access_log", k_access_log, 0},
    {SECT_SERVER, "error_log", k_srv_error_log, 0},
    {SECT_SERVER, "tls_cert", k_srv_tls_cert, K_REPEAT},
    {SECT_SERVER, "tls_key", k_srv_tls_key, K_REPEAT},
    {SECT_SERVER, "proxy_pass", k_srv_proxy_pass, 0},
    {SECT_SERVER, "route", k_srv_route, K_REPEAT},
    {SECT_SERVER, "return", k_srv_return, 0},
    {SECT_SERVER, "proxy_set_header", k_srv_proxy_set_header, K_REPEAT},
    {SECT_SERVER, "add_header", k_srv_add_header, K_REPEAT},
    {SECT_SERVER, "proxy_buffering", k_srv_proxy_buffering, 0},
    {SECT_SERVER, "proxy_buffers", k_srv_proxy_buffers, 0},
    {SECT_SERVER, "proxy_redirect", k_srv_proxy_redirect, K_REPEAT},
    {SECT_SERVER, "proxy_ignore_client_abort", k_srv_ignore_client_abort, 0},
    {SECT_SERVER, "allow", k_allow, K_REPEAT | K_LIST},
    {SECT_SERVER, "deny", k_deny, K_REPEAT | K_LIST},
    {SECT_SERVER, "limit_conn", k_srv_limit_conn, 0},
    {SECT_SERVER, "limit_req", k_srv_limit_req, 0},
    {SECT_SERVER, "auth_guard", k_srv_auth_guard, 0},
    {SECT_SERVER, "auth_guard_account", k_srv_auth_guard_account, 0},
    {SECT_SERVER, "auth_guard_client", k_srv_auth_guard_client, 0},
    {SECT_SERVER, "auth_guard_trusted", k_srv_auth_guard_trusted, K_REPEAT | K_LIST},
    {SECT_SERVER, "auth_guard_answer", k_srv_auth_guard_answer, 0},
    {SECT_SERVER, "root", k_srv_root, 0},
    {SECT_SERVER, "index", k_srv_index, 0},
    {SECT_STATUS, "listen", k_status_listen, 0},
    {SECT_STATUS, "allow", k_allow, K_REPEAT | K_LIST},
    {SECT_STATUS, "deny", k_deny, K_REPEAT | K_LIST},
};

/* Levenshtein distance of a and b, or limit + 1 once it is certain to exceed limit. Names are short (< 64). */
static size_t distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 64 || lb >= 64 || (la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0], best = row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], cost = a[i - 1] != b[j - 1];
            size_t v = diag + cost < up + 1 ? diag + cost : up + 1;
            row[j] = v < row[j - 1] + 1 ? v : row[j - 1] + 1;
            diag = up;
            best = row[j] < best ? row[j] : best;
        }
        if (best > limit)
            return limit + 1;
    }
    return row[lb];
}

static int valid_in(const key_def *k, sect_kind kind)
{
    return k->kind == kind || (k->kind == SECT_NONE && (kind == SECT_GLOBAL || kind == SECT_SERVER));
}

static const char *section_name(sect_kind kind)
{
    switch (kind) {
    case SECT_GLOBAL: return "[global]";
    case SECT_UPSTREAM: return "[upstream NAME]";
    case SECT_SERVER: return "[server NAME]";
    case SECT_STATUS: return "[status]";
    default: return "[global] or [server NAME]";
    }
}

const char *px__unknown_key_hint(sect_kind kind, const char *name, char *out, size_t cap)
{
    const key_def *best = NULL;
    size_t best_d = strlen(name) <= 4 ? 1 : 2; /* a short name is too easily near any other */
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].name, name) == 0 && !valid_in(&keys[i], kind)) {
            snprintf(out, cap, " (it belongs in %s)", section_name(keys[i].kind));
            return out;
        }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t d = valid_in(&keys[i], kind) ? distance(name, keys[i].name, best_d) : best_d + 1;
        if (d <= best_d && (!best || d < best_d))
            best = &keys[i], best_d = d;
    }
    if (best)
        snprintf(out, cap, "; did you mean %s?", best->name);
    else
        out[0] = 0;
    return out;
}

const key_def *px__find_key(sect_kind kind, const char *name)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(keys[i].name, name) != 0)
            continue;
        if (keys[i].kind == kind)
            return &keys[i];
        if (keys[i].kind == SECT_NONE && (kind == SECT_GLOBAL || kind == SECT_SERVER))
            return &keys[i];
    }
    return NULL;
}
