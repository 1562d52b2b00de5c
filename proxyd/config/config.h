/* proxyd configuration: the INI contract ([global], [upstream NAME], [server NAME], [status]) loaded with inih
 * into immutable structs shared read-only by all workers. A reload builds a new px_config; nothing mutates one. */
#ifndef PROXYD_CONFIG_H
#define PROXYD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <wire/wire.h>

#include "common/acl.h"
#include "common/authguard.h"
#include "common/limit.h"

#define PX_MAX_LISTEN 16
#define PX_MAX_SERVERS_PER_UPSTREAM 64
#define PX_MAX_NAMES 32
#define PX_MAX_CERTS 8
#define PX_MAX_ROUTES 64
#define PX_MAX_HEADERS 32
#define PX_MAX_REDIRECTS 16
#define PX_MAX_TYPES 32
/* Sizes of the runtime's fixed arrays: the loader rejects what would not fit, so -t and a reload report it. */
#define PX_MAX_WORKERS 256
#define PX_MAX_BINDS 32        /* distinct listen addresses, the [status] one included */
#define PX_MAX_BIND_SERVERS 64 /* servers listening on one address */
#define PX_MAX_BIND_CERTS 64   /* certificates of all the servers on one tls address */
/* allow/deny rules in one list: each request walks its server's list, so its length is its cost. */
#define PX_MAX_ACL_RULES 4096

/* A value template: literal text with $variables expanded per request. */
typedef enum px_var {
    PX_VAR_NONE = 0,
    PX_VAR_HOST,
    PX_VAR_REQUEST_URI,
    PX_VAR_SCHEME,
    PX_VAR_REMOTE_ADDR,
    PX_VAR_PROXY_ADD_XFF,
    PX_VAR_SERVER_NAME,
    PX_VAR_HTTP_HOST,  /* the Host field (or absolute-form authority) as received, port included */
    PX_VAR_REQUEST_ID, /* the valid X-Request-ID received, else 32 random hex digits (http/vars.c) */
    PX_VAR_SERVER,     /* the [server] section's name */
    /* mostly for log_format (nginx's names), valid in any template */
    PX_VAR_TIME_LOCAL,
    PX_VAR_TIME_ISO8601,
    PX_VAR_REQUEST,
    PX_VAR_REQUEST_METHOD,
    PX_VAR_STATUS,
    PX_VAR_BODY_BYTES_SENT,
    PX_VAR_HTTP_REFERER,
    PX_VAR_HTTP_USER_AGENT,
    PX_VAR_UPSTREAM_ADDR,
    PX_VAR_UPSTREAM_STATUS,
    PX_VAR_REQUEST_TIME,
    PX_VAR_UPSTREAM_RESPONSE_TIME,
    PX_VAR_SSL_PROTOCOL,
    PX_VAR_SSL_CIPHER,
} px_var;

#define PX_TPL_MAX_PARTS 8
typedef struct px_tpl {
    char *text; /* the whole template as written */
    struct {
        const char *lit; /* points into text (not NUL-terminated) */
        size_t len;
        px_var var; /* expanded after the literal, or NONE */
    } parts[PX_TPL_MAX_PARTS];
    int nparts;
} px_tpl;

/* A log_format: like a template, but with any number of parts, and an escaping rule for the values. */
typedef enum px_escape { PX_ESCAPE_DEFAULT = 0, PX_ESCAPE_JSON } px_escape;
typedef struct px_logfmt_part {
    const char *lit; /* points into text (not NUL-terminated) */
    size_t len;
    px_var var; /* expanded after the literal, or NONE */
} px_logfmt_part;
typedef struct px_logfmt {
    char *name;
    char *text;
    px_escape escape;
    px_logfmt_part *parts;
    int nparts;
} px_logfmt;

typedef struct px_header {
    char *name;
    px_tpl value; /* empty value: remove the field (proxy_set_header) */
    int always;   /* add_header ... always */
} px_header;

/* One proxy_redirect rule: `default`, or a URL prefix FROM replaced by TO (both with $variables). */
typedef struct px_redirect {
    int is_default;
    px_tpl from, to; /* unused by default */
} px_redirect;

/* Limits and timeouts that a [server] may override. Durations in ms, sizes in bytes. */
typedef struct px_limits {
    uint64_t client_header_timeout;
    uint64_t client_body_timeout;
    uint64_t keepalive_timeout;
    uint64_t send_timeout;
    uint64_t client_max_body_size; /* 0: no limit */
    uint64_t keepalive_requests;   /* requests per client connection before closing it */
    int reset_timedout_connection;
    uint64_t client_header_buffer_size; /* largest request head accepted (431 beyond) */
    uint64_t max_header_fields;
    int underscores_in_headers; /* forward request fields whose name contains '_' (dropped when off) */
} px_limits;

typedef struct px_gzip {
    int on;
    int level;
    uint64_t min_length;
    char *types[PX_MAX_TYPES];
    int ntypes;
    int vary;
    int proxied_any;
} px_gzip;

typedef enum px_balance { PX_BALANCE_ROUND_ROBIN = 0, PX_BALANCE_LEAST_CONN } px_balance;

/* Active health checks of an upstream: none, GET PATH, or a connect (and TLS handshake) only. */
typedef enum px_health_kind { PX_HEALTH_NONE = 0, PX_HEALTH_GET, PX_HEALTH_TCP } px_health_kind;

typedef struct px_upstream_server {
    char *text; /* "host:port" as written */
    char *host; /* host part, for SNI and Host defaults */
    wire_addr addr;
    int weight;
    int max_fails;
    uint64_t fail_timeout;
    int backup;
    int line; /* where it was written */
} px_upstream_server;

typedef struct px_upstream {
    char *name;
    int line;
    px_upstream_server servers[PX_MAX_SERVERS_PER_UPSTREAM];
    int nservers;
    px_balance balance;
    uint64_t keepalive;
    int tls;      /* 0 or 1 once loaded: `tls`, else the scheme of the proxy_pass/route naming it, else off */
    int tls_line; /* where `tls` or the first scheme naming the upstream was written; 0: neither */
    int tls_verify;
    char *tls_ca;
    char *tls_server_name;
    char *tls_cert;
    char *tls_key;
    /* where these keys were written, for messages found after the file is read; 0: unset (the section's line) */
    int tls_verify_line, tls_ca_line, tls_cert_line, tls_key_line, read_timeout_line;
    uint64_t connect_timeout;
    uint64_t read_timeout;
    uint64_t header_timeout; /* request sent to the first response byte; 0: off (read_timeout bounds that wait) */
    uint64_t send_timeout;
    int ntlm;
    px_health_kind health_check; /* active health checks (core/probe.c); PX_HEALTH_NONE: passive only */
    char *health_path;           /* PX_HEALTH_GET: the path requested */
    char *health_host;           /* Host of the check; NULL: tls_server_name, else the server's host */
    uint64_t health_interval;
    uint64_t health_timeout;
    int health_rise; /* good checks in a row that bring a down server back */
    int health_fall; /* bad checks in a row that take a server down */
    int health_status_lo, health_status_hi;
    int proxy_protocol; /* send a PROXY v2 header (the client's connection) first on every new connection */
    int index;          /* position in px_config.upstreams */
} px_upstream;

typedef struct px_listen {
    char *text;
    wire_addr addr;
    int tls;
    int is_default;
    int proxy_protocol; /* each connection starts with a PROXY header (v1 or v2) from a proxy_protocol_from peer */
} px_listen;

typedef struct px_route {
    int line; /* where it was written, for errors found after the file is read */
    char *prefix;
    size_t len;
    char *upstream_name;
    int scheme_tls; /* -1: the upstream written alone; 0: http://NAME; 1: https://NAME */
    px_upstream *upstream;
    /* Options after the upstream name (config_keys.c, route_options), resolved against the upstream once the
     * file is read: what the requests of this route use. */
    uint64_t read_timeout;   /* between two reads from the upstream */
    uint64_t header_timeout; /* request sent to the first response byte; 0: off */
    int auth_guard;          /* auth_guard=on|off; the server's auth_guard once the file is read */
    px_acl acl;              /* allow=, deny=: checked after the server's list (a client must pass both) */
    px_rate limit_req;       /* limit_req=: a bucket of its own per client, after the server's; per_ks 0: none */
    uint32_t limit_zone;     /* the route's key in the limit table (server name and prefix) */
} px_route;

/* auth_guard of a [server]: failed logins counted per account and client address, blocks answered by proxyd. */
typedef struct px_auth_guard {
    int on;              /* the server's routes, unless a route says auth_guard=off */
    px_ag_limit account; /* auth_guard_account: failures per account (5/15m) */
    px_ag_limit client;  /* auth_guard_client: failures per client address, any account (20/15m) */
    px_acl trusted;      /* auth_guard_trusted: never counted, never blocked (allow rules only) */
    int answer;          /* auth_guard_answer: 429, or 401 */
} px_auth_guard;

/* Statuses whose `return` argument is a URL (nginx's rule); any other status takes it as the body text. */
static inline int px_return_is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

typedef struct px_server {
    char *name;
    int line;
    px_listen listen[PX_MAX_LISTEN];
    int nlisten;
    char *names[PX_MAX_NAMES]; /* server_name entries: exact or "*.suffix" */
    int nnames;
    int names_line; /* where server_name was written, for the conflict warning */
    char *tls_cert[PX_MAX_CERTS];
    char *tls_key[PX_MAX_CERTS];
    int cert_line[PX_MAX_CERTS], key_line[PX_MAX_CERTS];
    int ncert, nkey;
    px_route routes[PX_MAX_ROUTES]; /* sorted longest prefix first */
    int nroutes;
    int return_status; /* 0: none */
    px_tpl return_url;
    px_header set_headers[PX_MAX_HEADERS];
    int nset_headers;
    px_header add_headers[PX_MAX_HEADERS];
    int nadd_headers;
    int proxy_buffering;
    uint64_t proxy_buffers_num;
    uint64_t proxy_buffers_size;
    int proxy_redirect;                      /* 0: off; 1: the rules below, or `default` alone when none is listed */
    px_redirect redirects[PX_MAX_REDIRECTS]; /* in order: the first that matches rewrites */
    int nredirects;
    int ignore_client_abort; /* keep the exchange when the client half-closes after its request */
    px_acl acl;              /* allow/deny in the order written; empty: every client */
    int acl_line;            /* where the first allow or deny was written */
    uint32_t limit_conn;     /* requests in progress per client address; 0: no limit */
    px_rate limit_req;       /* requests per client address; per_ks 0: no limit */
    uint32_t limit_zone;     /* the server's key in the limit table: a hash of its name, stable across reloads */
    px_auth_guard auth_guard;
    char *root;
    char *index;
    px_limits limits;
    px_gzip gzip;
    int server_tokens;
    int request_id; /* keep a valid X-Request-ID, else make one; send it upstream */
    /* access_log in [server]: its own file (access_log set), none (access_log_off), else [global]'s */
    char *access_log;
    char *access_log_format; /* as written; NULL: [global]'s format */
    int access_log_line;
    int access_log_off;
    int access_log_json;
    const px_logfmt *access_logfmt;
    int access_sink; /* the daemon's sink for access_log (px_access_sink_open), set before any worker sees it */
    /* error_log in [server]: lines about its requests go to this file instead of [global]'s */
    char *error_log;
    int error_sink; /* the daemon's sink for error_log (px_error_sink_open), set before any worker sees it */
    int slot;       /* position in px_config.servers (the status listener's: nservers), for its metrics */
} px_server;

typedef struct px_config {
    char *path;
    /* [global] */
    long workers; /* 0: auto */
    uint64_t max_connections;
    uint64_t nofile;
    char *user;
    int user_line;
    /* Never NULL once loaded: when unset, PX_PID_FILE_DEFAULT, which meson's pid_file option defines (one place:
     * meson_options.txt, /run/proxyd/proxyd.pid, the systemd unit's RuntimeDirectory); -s reads the same. */
    char *pid_file;
    int pid_file_line; /* 0: unset */
    char *error_log;
    int log_level;    /* px_log_level */
    char *access_log; /* NULL: off */
    int access_log_json;
    char *access_log_format;        /* the FORMAT after access_log's path, as written; NULL: access_log_format */
    int access_log_line;            /* where access_log was written */
    const px_logfmt *access_logfmt; /* a log_format, or NULL: the built-in line (access_log_json) */
    px_logfmt *log_formats;
    int nlog_formats;
    int request_id;
    int server_tokens;
    uint64_t tls_session_cache;
    int tls_session_tickets;
    char *tls_ticket_key_file;
    int tls_ticket_key_line;
    char *tls_protocols;
    char *tls_ciphers;
    int tls_protocols_line, tls_ciphers_line; /* where they were written; 0: unset */
    uint64_t shutdown_timeout;                /* graceful stop: longest wait for in-flight requests */
    uint64_t drain_delay;                     /* graceful stop: /healthz answers 503 this long before accepting stops */
    uint64_t limit_table_size;      /* entries (client address and [server]) of the limit_conn/limit_req table */
    uint64_t auth_guard_table_size; /* entries (accounts, clients, pairs) of the auth_guard table */
    px_limits limits;               /* defaults for servers */
    px_gzip gzip;
    /* Peers trusted to send a PROXY header (allow rules only); required by a listen with proxy_protocol. */
    px_acl proxy_protocol_from;
    /* [status] */
    int status_on;
    wire_addr status_addr;
    char *status_listen;
    px_acl status_acl; /* loopback only when [status] sets no allow/deny */
    int status_acl_line;

    px_upstream *upstreams;
    int nupstreams;
    px_server *servers;
    int nservers;
    int warnings; /* count of warnings printed during load */
} px_config;

/* Loads and validates path. On failure returns NULL and has written one line per error to errfp
 * ("FILE:LINE: [section] key: message"). Warnings also go to errfp. */
px_config *px_config_load(const char *path, void *errfp);

/* Frees a configuration returned by px_config_load. */
void px_config_free(px_config *cfg);

/* Parses "10s", "500ms", "5m", "1h", "30" (seconds) into ms. 0 or -1. */
int px_parse_duration(const char *s, uint64_t *ms);
/* Parses "10m", "4k", "1g", "100" (bytes). 0 or -1. */
int px_parse_size(const char *s, uint64_t *bytes);

/* Compiles a log_format's text into f->parts (f then owns a copy of text; name and escape are the caller's).
 * NULL, or why it is refused (an unknown $variable). px_logfmt_free releases it either way. */
const char *px_logfmt_compile(px_logfmt *f, const char *text);
void px_logfmt_free(px_logfmt *f);

/* The line a key was written on, or fallback (its section's line) when it was not. */
static inline int px_line_or(int line, int fallback)
{
    return line ? line : fallback;
}

/* Finds the upstream by name, or NULL. */
px_upstream *px_config_upstream(const px_config *cfg, const char *name);

#endif
