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

/* -t: loads every certificate, key and CA file once, reporting each problem with the server or upstream. */
int px_tls_check(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    char e[512], warn[512];
    int errors = 0;
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
            fprintf(errfp, "%s:%d: [server %s] tls_cert: %s\n", cfg->path, s->line, s->name, e);
            errors++;
            continue;
        }
        if (warn[0])
            fprintf(errfp, "%s:%d: warning: [server %s] %s\n", cfg->path, s->line, s->name, warn);
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
            fprintf(errfp, "%s:%d: [upstream %s] tls_ca: %s\n", cfg->path, up->line, up->name, e);
            errors++;
            continue;
        }
        tlsio_client_config_free(cc);
    }
    return errors;
}
