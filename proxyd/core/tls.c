/* proxyd TLS contexts: libtlsio settings per listening address (every certificate of the servers on it, chosen by
 * SNI) and per-worker configs, client configs toward https upstreams, and the -t check of every TLS file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "core/runtime.h"

static void server_opts(const px_config *cfg, struct tlsio_server_opts *o, struct tlsio_cert_spec *specs, size_t n)
{
    memset(o, 0, sizeof(*o));
    o->certs = specs;
    o->ncerts = n;
    o->ciphers = cfg->tls_ciphers;
    o->protocols = cfg->tls_protocols;
    o->session_cache_bytes = (size_t)cfg->tls_session_cache;
    o->no_session_cache = cfg->tls_session_cache == 0;
    o->no_session_tickets = !cfg->tls_session_tickets;
    o->ticket_key_file = cfg->tls_ticket_key_file; /* shared by a fleet: resumption on any machine */
}

static void client_opts(const px_upstream *up, struct tlsio_client_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->ca_path = up->tls_ca;
    o->verify_none = !up->tls_verify;
    o->cert_path = up->tls_cert;
    o->key_path = up->tls_key;
}

/* Collects the certificates of every server listening on b, first server first (the SNI default). */
static size_t bind_certs(const px_bind *b, struct tlsio_cert_spec *specs, size_t cap)
{
    size_t n = 0;
    for (int i = -1; i < b->nservers; i++) {
        const px_server *s = i < 0 ? b->default_server : b->servers[i];
        if (i >= 0 && s == b->default_server)
            continue;
        for (int k = 0; k < s->ncert && n < cap; k++) {
            specs[n].cert_path = s->tls_cert[k];
            specs[n].key_path = s->tls_key[k];
            n++;
        }
    }
    return n;
}

static int init_binds(px_runtime *rt, char *err, size_t errlen)
{
    char e[512], warn[512];
    struct tlsio_cert_spec specs[PX_MAX_BIND_CERTS]; /* the loader refuses more on one address */
    for (int i = 0; i < rt->nbinds; i++) {
        px_bind *b = &rt->binds[i];
        if (!b->tls)
            continue;
        struct tlsio_server_opts o;
        server_opts(rt->cfg, &o, specs, bind_certs(b, specs, PX_MAX_BIND_CERTS));
        warn[0] = 0;
        if (tlsio_server_settings_new(&b->tls_settings, &o, e, sizeof(e), warn, sizeof(warn)) != TLSIO_OK) {
            snprintf(err, errlen, "tls on %s: %s", b->text, e);
            return -1;
        }
        if (warn[0])
            px_warn("tls on %s: %s", b->text, warn);
        for (unsigned k = 0; k < rt->nworkers; k++)
            if (tlsio_server_config_new(&rt->ws[k].tls_server[i], b->tls_settings, e, sizeof(e)) != TLSIO_OK) {
                snprintf(err, errlen, "tls on %s: %s", b->text, e);
                return -1;
            }
    }
    return 0;
}

static int init_upstreams(px_runtime *rt, char *err, size_t errlen)
{
    char e[512], warn[512];
    const px_config *cfg = rt->cfg;
    for (unsigned k = 0; k < rt->nworkers; k++) {
        px_wstate *ws = &rt->ws[k];
        ws->tls_client = calloc((size_t)cfg->nupstreams + 1, sizeof(*ws->tls_client));
        ws->sessions = calloc((size_t)rt->nhealth + 1, sizeof(*ws->sessions));
        if (!ws->tls_client || !ws->sessions) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (int u = 0; u < cfg->nupstreams; u++) {
            const px_upstream *up = &cfg->upstreams[u];
            if (!up->tls)
                continue;
            struct tlsio_client_opts o;
            client_opts(up, &o);
            warn[0] = 0;
            if (tlsio_client_config_new(&ws->tls_client[u], &o, e, sizeof(e), warn, sizeof(warn)) != TLSIO_OK) {
                snprintf(err, errlen, "upstream %s: tls: %s", up->name, e);
                return -1;
            }
            if (warn[0] && k == 0)
                px_warn("upstream %s: tls: %s", up->name, warn);
        }
    }
    return 0;
}

int px_tls_client_new(const px_upstream *up, tlsio_client_config **out, char *err, size_t errlen)
{
    char warn[512];
    struct tlsio_client_opts o;
    client_opts(up, &o);
    warn[0] = 0;
    if (tlsio_client_config_new(out, &o, err, errlen, warn, sizeof(warn)) != TLSIO_OK)
        return -1;
    return 0;
}

int px_tls_runtime_init(px_runtime *rt, char *err, size_t errlen)
{
    if (init_binds(rt, err, errlen) < 0)
        return -1;
    return init_upstreams(rt, err, errlen);
}

void px_tls_runtime_free(px_runtime *rt)
{
    for (unsigned k = 0; rt->ws && k < rt->nworkers; k++) {
        px_wstate *ws = &rt->ws[k];
        for (int i = 0; i < rt->nbinds; i++)
            if (ws->tls_server[i])
                tlsio_server_config_free(ws->tls_server[i]);
        for (int u = 0; ws->tls_client && rt->cfg && u < rt->cfg->nupstreams; u++)
            if (ws->tls_client[u])
                tlsio_client_config_free(ws->tls_client[u]);
        for (int h = 0; ws->sessions && h < rt->nhealth; h++)
            if (ws->sessions[h])
                tlsio_session_free(ws->sessions[h]);
        free(ws->tls_client);
        free(ws->sessions);
    }
    for (int i = 0; i < rt->nbinds; i++)
        if (rt->binds[i].tls_settings)
            tlsio_server_settings_free(rt->binds[i].tls_settings);
}

/* The [global] keys libtlsio judges while it builds a TLS listener, and the prefix of its messages about each. */
static const char *const global_keys[] = {"tls_ciphers", "tls_protocols", "tls_ticket_key_file"};

/* Which of global_keys a libtlsio message is about, with its line and the message without its prefix; -1: a
 * message about the server's own certificates. */
static int global_key(const px_config *cfg, const char *msg, int *line, const char **rest)
{
    *rest = msg;
    if (strncmp(msg, "ciphers: ", 9) == 0) {
        *line = cfg->tls_ciphers_line;
        *rest = msg + 9;
        return 0;
    }
    if (strncmp(msg, "protocols: ", 11) == 0) {
        *line = cfg->tls_protocols_line;
        *rest = msg + 11;
        return 1;
    }
    if (cfg->tls_ticket_key_file && strstr(msg, "ticket key file")) {
        *line = cfg->tls_ticket_key_line;
        return 2;
    }
    return -1;
}

/* One libtlsio message (a warning when warning) for [server] s: a [global] key's at that key's line, once for all
 * servers (printed: a bit per key and kind); else at the server's line. Each part of a warning list ("a; b") is
 * placed on its own. */
static void tls_report(const px_config *cfg, FILE *errfp, const px_server *s, const char *msg, int warning,
                       unsigned *printed)
{
    char part[512];
    const char *w = warning ? "warning: " : "";
    while (*msg) {
        const char *end = warning ? strstr(msg, "; ") : NULL;
        size_t n = end ? (size_t)(end - msg) : strlen(msg);
        snprintf(part, sizeof(part), "%.*s", (int)n, msg);
        msg += n + (end ? 2 : 0);
        int line = 0;
        const char *rest;
        int k = global_key(cfg, part, &line, &rest);
        if (k < 0) {
            fprintf(errfp, "%s:%d: %s[server %s] %s%s\n", cfg->path, s->line, w, s->name,
                    warning ? "" : "tls_cert: ", part);
            continue;
        }
        unsigned bit = 1u << (k * 2 + warning);
        if (!(*printed & bit))
            fprintf(errfp, "%s:%d: %s[global] %s: %s\n", cfg->path, line, w, global_keys[k], rest);
        *printed |= bit;
    }
}

/* -t: loads every certificate, key and CA file once, reporting each problem with the server or upstream, or with
 * the [global] key it comes from. */
int px_tls_check(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    char e[512], warn[512];
    int errors = 0;
    unsigned printed = 0;
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        struct tlsio_cert_spec specs[PX_MAX_CERTS];
        for (int k = 0; k < s->ncert; k++) {
            specs[k].cert_path = s->tls_cert[k];
            specs[k].key_path = s->tls_key[k];
        }
        if (s->ncert == 0)
            continue;
        struct tlsio_server_opts o;
        tlsio_server_settings *st = NULL;
        server_opts(cfg, &o, specs, (size_t)s->ncert);
        warn[0] = 0;
        if (tlsio_server_settings_new(&st, &o, e, sizeof(e), warn, sizeof(warn)) != TLSIO_OK) {
            tls_report(cfg, errfp, s, e, 0, &printed);
            errors++;
            continue;
        }
        if (warn[0])
            tls_report(cfg, errfp, s, warn, 1, &printed);
        tlsio_server_settings_free(st);
    }
    for (int u = 0; u < cfg->nupstreams; u++) {
        const px_upstream *up = &cfg->upstreams[u];
        if (!up->tls)
            continue;
        struct tlsio_client_opts o;
        tlsio_client_config *cc = NULL;
        client_opts(up, &o);
        if (tlsio_client_config_new(&cc, &o, e, sizeof(e), warn, sizeof(warn)) != TLSIO_OK) {
            fprintf(errfp, "%s:%d: [upstream %s] tls_ca: %s\n", cfg->path, px_line_or(up->tls_ca_line, up->line),
                    up->name, e);
            errors++;
            continue;
        }
        tlsio_client_config_free(cc);
    }
    return errors;
}
