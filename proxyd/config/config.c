/* proxyd configuration loader: reads the INI file line by line through inih, checks every key against the
 * contract table, reports each error with file, line and key, and resolves references once the file is read. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* A reload runs the loader inside the serving daemon: out of memory is an error like any other, never an exit. */
const char px__oom[] = "out of memory";

char *px__strdup(const char *s)
{
    return strdup(s ? s : "");
}

void px__cfg_error(load_ctx *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    fprintf(c->errfp, "%s:%d: ", c->path, c->lineno);
    if (c->section[0])
        fprintf(c->errfp, "[%s] ", c->section);
    if (key)
        fprintf(c->errfp, "%s: ", key);
    va_start(ap, fmt);
    vfprintf(c->errfp, fmt, ap);
    va_end(ap);
    fputc('\n', c->errfp);
    c->errors++;
}

void px__cfg_warn(load_ctx *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    fprintf(c->errfp, "%s:%d: warning: ", c->path, c->lineno);
    if (c->section[0]) /* as errors do: the section, then the key as written in it */
        fprintf(c->errfp, "[%s] ", c->section);
    if (key)
        fprintf(c->errfp, "%s: ", key);
    va_start(ap, fmt);
    vfprintf(c->errfp, fmt, ap);
    va_end(ap);
    fputc('\n', c->errfp);
    c->cfg->warnings++;
}

/* ---------------------------------------------------------------- value parsers */

static int parse_u64_suffix(const char *s, uint64_t *out, const char *const *suffixes, const uint64_t *mult,
                            int nsuffix, uint64_t bare_mult)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t m = bare_mult;
    if (*end) {
        int i;
        for (i = 0; i < nsuffix; i++)
            if (strcmp(end, suffixes[i]) == 0)
                break;
        if (i == nsuffix)
            return -1;
        m = mult[i];
    }
    if (m && v > UINT64_MAX / 4 / m)
        return -1;
    *out = (uint64_t)v * m;
    return 0;
}

int px_parse_duration(const char *s, uint64_t *ms)
{
    static const char *const suf[] = {"ms", "s", "m", "h", "d"};
    static const uint64_t mult[] = {1, 1000, 60000, 3600000, 86400000};
    return parse_u64_suffix(s, ms, suf, mult, 5, 1000);
}

int px_parse_size(const char *s, uint64_t *bytes)
{
    static const char *const suf[] = {"k", "K", "m", "M", "g", "G"};
    static const uint64_t mult[] = {1024, 1024, 1048576, 1048576, 1073741824, 1073741824};
    return parse_u64_suffix(s, bytes, suf, mult, 6, 1);
}

int px__parse_switch(const char *s, int *out)
{
    if (strcmp(s, "on") == 0)
        *out = 1;
    else if (strcmp(s, "off") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

int px__parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    px_var var;
} var_names[] = {
    /* a name that is a prefix of another comes after it: the first whole-word match wins */
    {"proxy_add_x_forwarded_for", PX_VAR_PROXY_ADD_XFF},
    {"request_uri", PX_VAR_REQUEST_URI},
    {"remote_addr", PX_VAR_REMOTE_ADDR},
    {"server_name", PX_VAR_SERVER_NAME},
    {"scheme", PX_VAR_SCHEME},
    {"http_host", PX_VAR_HTTP_HOST},
    {"host", PX_VAR_HOST},
    {"request_id", PX_VAR_REQUEST_ID},
    {"server", PX_VAR_SERVER},
    {"time_local", PX_VAR_TIME_LOCAL},
    {"time_iso8601", PX_VAR_TIME_ISO8601},
    {"request_method", PX_VAR_REQUEST_METHOD},
    {"request_time", PX_VAR_REQUEST_TIME},
    {"request", PX_VAR_REQUEST},
    {"status", PX_VAR_STATUS},
    {"body_bytes_sent", PX_VAR_BODY_BYTES_SENT},
    {"http_referer", PX_VAR_HTTP_REFERER},
    {"http_user_agent", PX_VAR_HTTP_USER_AGENT},
    {"upstream_addr", PX_VAR_UPSTREAM_ADDR},
    {"upstream_status", PX_VAR_UPSTREAM_STATUS},
    {"upstream_response_time", PX_VAR_UPSTREAM_RESPONSE_TIME},
    {"ssl_protocol", PX_VAR_SSL_PROTOCOL},
    {"ssl_cipher", PX_VAR_SSL_CIPHER},
};

static const char unknown_var[] =
    "unknown variable (known: $host $http_host $request_uri $scheme $remote_addr $proxy_add_x_forwarded_for "
    "$server_name $server $request_id $time_local $time_iso8601 $request $request_method $status "
    "$body_bytes_sent $http_referer $http_user_agent $upstream_addr $upstream_status $request_time "
    "$upstream_response_time $ssl_protocol $ssl_cipher; ${name} also works)";

/* The variable named at p (just after '$'), bare or braced; its length in *used. NONE when unknown. */
static px_var var_at(const char *p, size_t *used)
{
    int braced = *p == '{';
    const char *name = p + braced;
    for (size_t i = 0; i < sizeof(var_names) / sizeof(var_names[0]); i++) {
        size_t l = strlen(var_names[i].name);
        if (strncmp(name, var_names[i].name, l) != 0)
            continue;
        if (braced ? name[l] != '}' : isalnum((unsigned char)name[l]) || name[l] == '_')
            continue;
        *used = l + (braced ? 2 : 0);
        return var_names[i].var;
    }
    return PX_VAR_NONE;
}

/* The next part of a template at *p: the literal up to the next $variable (or the end) and that variable (NONE at
 * the end). Returns 1 for a part, 0 when nothing is left, -1 for an unknown variable. Shared by templates and
 * log formats, so both read "$name" and "${name}" alike. */
static int next_part(const char **p, const char **lit, size_t *len, px_var *v)
{
    const char *start = *p, *q = start;
    while (*q && *q != '$')
        q++;
    *lit = start;
    *len = (size_t)(q - start);
    *v = PX_VAR_NONE;
    if (!*q) {
        *p = q;
        return q > start;
    }
    size_t used = 0;
    if ((*v = var_at(q + 1, &used)) == PX_VAR_NONE)
        return -1;
    *p = q + 1 + used;
    return 1;
}

/* Compiles "text $var text" into parts. Returns NULL or an error message. */
const char *px__tpl_compile(px_tpl *t, const char *text)
{
    memset(t, 0, sizeof(*t));
    t->text = px__strdup(text);
    if (!t->text)
        return px__oom;
    const char *p = t->text, *lit;
    size_t len;
    px_var v;
    int r;
    while ((r = next_part(&p, &lit, &len, &v)) != 0 || t->nparts == 0) {
        if (r < 0)
            return unknown_var;
        if (t->nparts == PX_TPL_MAX_PARTS)
            return "too many variables";
        t->parts[t->nparts].lit = lit;
        t->parts[t->nparts].len = len;
        t->parts[t->nparts].var = v;
        t->nparts++;
    }
    return NULL;
}

const char *px_logfmt_compile(px_logfmt *f, const char *text)
{
    f->text = px__strdup(text);
    f->parts = NULL;
    f->nparts = 0;
    if (!f->text)
        return px__oom;
    int cap = 1;
    for (const char *q = text; *q; q++)
        cap += *q == '$';
    if (!(f->parts = calloc((size_t)cap, sizeof(*f->parts))))
        return px__oom;
    const char *p = f->text, *lit;
    size_t len;
    px_var v;
    int r;
    while ((r = next_part(&p, &lit, &len, &v)) != 0 || f->nparts == 0) {
        if (r < 0)
            return unknown_var;
        f->parts[f->nparts++] = (px_logfmt_part){lit, len, v};
    }
    return NULL;
}

void px_logfmt_free(px_logfmt *f)
{
    free(f->name);
    free(f->text);
    free(f->parts);
}

int px__is_token(const char *s, size_t n)
{
    static const char *tchar = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(tchar, s[i]))
            return 0;
    return 1;
}

/* "Name: value" with an optional trailing " always" for add_header. */
const char *px__parse_header(px_header *h, const char *v, int allow_always)
{
    const char *colon = strchr(v, ':');
    if (!colon || !px__is_token(v, (size_t)(colon - v)))
        return "expected \"Name: value\" with a valid field name";
    h->name = strndup(v, (size_t)(colon - v));
    const char *val = colon + 1;
    while (*val == ' ' || *val == '\t')
        val++;
    char *copy = px__strdup(val);
    if (!h->name || !copy) {
        free(copy);
        return px__oom; /* h->name, if any, is freed with the server: the header is counted */
    }
    size_t n = strlen(copy);
    while (n && (copy[n - 1] == ' ' || copy[n - 1] == '\t'))
        copy[--n] = 0;
    if (allow_always && n >= 7 && strcmp(copy + n - 7, " always") == 0) {
        h->always = 1;
        copy[n -= 7] = 0;
        while (n && copy[n - 1] == ' ')
            copy[--n] = 0;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)copy[i] < 0x20 && copy[i] != '\t') {
            free(copy);
            return "control character in field value";
        }
    const char *err = px__tpl_compile(&h->value, copy);
    free(copy);
    return err;
}

/* ---------------------------------------------------------------- sections */

/* Appends a zeroed element to a growing array; NULL when out of memory (the array is unchanged). */
static void *append(void *arrp, int *n, size_t size)
{
    void **arr = arrp;
    char *grown = realloc(*arr, size * (size_t)(*n + 1));
    if (!grown)
        return NULL;
    *arr = grown;
    memset(grown + size * (size_t)*n, 0, size);
    return grown + size * (size_t)(*n)++;
}

static px_upstream *new_upstream(load_ctx *c, const char *name)
{
    px_upstream *u = append(&c->cfg->upstreams, &c->cfg->nupstreams, sizeof(*u));
    if (!u)
        return NULL;
    u->name = px__strdup(name);
    if (!u->name) {
        c->cfg->nupstreams--; /* lookups by name must not meet a NULL one */
        return NULL;
    }
    u->line = c->lineno;
    u->tls = -1; /* decided once the file is read: `tls`, else a scheme naming it, else off */
    u->keepalive = 32;
    u->tls_verify = 1;
    u->connect_timeout = 5000;
    u->read_timeout = 60000;
    u->send_timeout = 60000;
    u->ntlm = 1;
    u->health_interval = 5000;
    u->health_timeout = 2000;
    u->health_rise = 2;
    u->health_fall = 3;
    u->health_status_lo = 200;
    u->health_status_hi = 399;
    return u;
}

static void limits_unset(px_limits *l)
{
    l->client_header_timeout = l->client_body_timeout = l->keepalive_timeout = l->send_timeout = UNSET;
    l->client_max_body_size = l->keepalive_requests = l->client_header_buffer_size = l->max_header_fields = UNSET;
    l->reset_timedout_connection = l->underscores_in_headers = -1;
}

static void gzip_unset(px_gzip *g)
{
    g->on = g->level = g->vary = g->proxied_any = -1;
    g->min_length = UNSET;
    g->ntypes = -1;
}

static px_server *new_server(load_ctx *c, const char *name)
{
    px_server *s = append(&c->cfg->servers, &c->cfg->nservers, sizeof(*s));
    if (!s)
        return NULL;
    s->name = px__strdup(name);
    if (!s->name) {
        c->cfg->nservers--;
        return NULL;
    }
    s->line = c->lineno;
    s->proxy_buffering = 1;
    s->proxy_buffers_num = 8;
    s->proxy_buffers_size = 4096;
    s->proxy_redirect = 1;
    s->server_tokens = -1;
    s->request_id = -1;
    limits_unset(&s->limits);
    gzip_unset(&s->gzip);
    s->auth_guard.account = (px_ag_limit){5, 15 * 60000}; /* below AD's usual lockout threshold (10) and window */
    s->auth_guard.client = (px_ag_limit){20, 15 * 60000};
    s->auth_guard.answer = 429;
    return s;
}

/* The section's keys are then skipped, as after any section error. */
static int section_oom(load_ctx *c)
{
    px__cfg_error(c, NULL, "%s", px__oom);
    c->kind = SECT_NONE;
    return 0;
}

static int open_section(load_ctx *c, const char *section)
{
    snprintf(c->section, sizeof(c->section), "%s", section);
    c->in_section = 1;
    c->nseen = 0;
    c->up = NULL;
    c->srv = NULL;
    const char *sp = strchr(section, ' ');
    size_t kw = sp ? (size_t)(sp - section) : strlen(section);
    const char *arg = sp ? sp + 1 : "";
    while (*arg == ' ')
        arg++;
    if (kw == 6 && strncmp(section, "global", 6) == 0 && !*arg)
        c->kind = SECT_GLOBAL;
    else if (kw == 6 && strncmp(section, "status", 6) == 0 && !*arg) {
        c->kind = SECT_STATUS;
        c->status_line = c->lineno;
    } else if (kw == 8 && strncmp(section, "upstream", 8) == 0 && *arg) {
        c->kind = SECT_UPSTREAM;
        if (px_config_upstream(c->cfg, arg)) {
            px__cfg_error(c, NULL, "upstream \"%s\" defined twice", arg);
            c->kind = SECT_NONE;
            return 0;
        }
        c->up = new_upstream(c, arg);
        if (!c->up)
            return section_oom(c);
    } else if (kw == 6 && strncmp(section, "server", 6) == 0 && *arg) {
        c->kind = SECT_SERVER;
        for (int i = 0; i < c->cfg->nservers; i++)
            if (strcmp(c->cfg->servers[i].name, arg) == 0) {
                px__cfg_error(c, NULL, "server \"%s\" defined twice", arg);
                c->kind = SECT_NONE;
                return 0;
            }
        c->srv = new_server(c, arg);
        if (!c->srv)
            return section_oom(c);
    } else {
        c->kind = SECT_NONE;
        px__cfg_error(c, NULL, "unknown section (expected [global], [upstream NAME], [server NAME] or [status])");
        return 0;
    }
    return 1;
}

static int seen_before(load_ctx *c, const char *key)
{
    for (int i = 0; i < c->nseen; i++)
        if (strcmp(c->seen[i], key) == 0)
            return 1;
    if (c->nseen < (int)(sizeof(c->seen) / sizeof(c->seen[0])))
        c->seen[c->nseen++] = key;
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *c = user;
    if (!c->in_section) {
        px__cfg_error(c, name, "key outside any section (start with [global], [upstream NAME] or [server NAME])");
        return 1;
    }
    if (c->kind == SECT_NONE)
        return 1; /* the section error was reported once */
    const key_def *k = px__find_key(c->kind, name);
    if (!k) {
        char hint[128];
        px__cfg_error(c, name, "unknown key in this section%s",
                      px__unknown_key_hint(c->kind, name, hint, sizeof(hint)));
        return 1;
    }
    if (c->continuation && !(k->flags & K_LIST)) {
        px__cfg_error(c, name, "continuation lines are only allowed for list keys");
        return 1;
    }
    if (!c->continuation && !(k->flags & (K_REPEAT | K_LIST)) && seen_before(c, k->name)) {
        px__cfg_error(c, name, "key given twice (only keys marked * in the reference may repeat)");
        return 1;
    }
    const char *err = k->fn(c, value);
    if (err == px__oom)
        px__cfg_error(c, name, "%s", px__oom);
    else if (err)
        px__cfg_error(c, name, "%s (got \"%s\")", err, value);
    return 1;
}

/* inih reads through this so that line numbers and section boundaries are known exactly. */
static char *reader(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    if (!fgets(str, num, c->fp))
        return NULL;
    c->lineno++;
    size_t n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(c->fp)) {
        fprintf(c->errfp,
                "%s:%d: line longer than %d characters: split list values over indented "
                "continuation lines\n",
                c->path, c->lineno, num - 2);
        c->errors++;
        int ch;
        while ((ch = fgetc(c->fp)) != EOF && ch != '\n')
            ;
        str[0] = '\n';
        str[1] = 0;
        return str;
    }
    const char *p = str;
    c->continuation = (*p == ' ' || *p == '\t');
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\n' || *p == 0 || *p == ';' || *p == '#')
        c->continuation = 0;
    if (*p == '[') {
        /* Sections open here rather than at their first key, so that an empty one still exists and
         * errors about it name its own line. */
        const char *end = strchr(p, ']');
        if (end) {
            char name[128];
            const char *b = p + 1;
            while (*b == ' ' || *b == '\t')
                b++;
            size_t nl = (size_t)(end - b);
            while (nl && (b[nl - 1] == ' ' || b[nl - 1] == '\t'))
                nl--;
            snprintf(name, sizeof(name), "%.*s", (int)nl, b);
            open_section(c, name);
        }
    }
    return str;
}

/* ---------------------------------------------------------------- after the file is read */

px_config *px_config_load(const char *path, void *errfp_v)
{
    FILE *errfp = errfp_v;
    load_ctx c = {0};
    c.path = path;
    c.errfp = errfp;
    c.cfg = calloc(1, sizeof(*c.cfg));
    if (c.cfg) {
        px__config_defaults(c.cfg);
        c.cfg->path = px__strdup(path);
    }
    if (!c.cfg || !c.cfg->path) {
        px__cfg_error(&c, NULL, "%s", px__oom);
        px_config_free(c.cfg);
        return NULL;
    }
    c.fp = fopen(path, "r");
    if (!c.fp) {
        fprintf(errfp, "%s: cannot open: %s\n", path, strerror(errno));
        px_config_free(c.cfg);
        return NULL;
    }
    int rc = ini_parse_stream(reader, &c, handler, &c);
    fclose(c.fp);
    if (rc > 0 && c.errors == 0) {
        c.lineno = rc;
        px__cfg_error(&c, NULL, "syntax error (expected \"key = value\" or \"[section]\")");
    } else if (rc < 0) {
        fprintf(errfp, "%s: cannot read\n", path);
        c.errors++;
    }
    if (c.errors == 0)
        px__config_finish(&c);
    if (c.errors) {
        px_config_free(c.cfg);
        return NULL;
    }
    return c.cfg;
}

static void tpl_free(px_tpl *t)
{
    free(t->text);
}

static void server_free(px_server *s)
{
    free(s->name);
    for (int i = 0; i < s->nlisten; i++)
        free(s->listen[i].text);
    for (int i = 0; i < s->nnames; i++)
        free(s->names[i]);
    for (int i = 0; i < s->ncert; i++)
        free(s->tls_cert[i]);
    for (int i = 0; i < s->nkey; i++)
        free(s->tls_key[i]);
    for (int i = 0; i < s->nroutes; i++) {
        free(s->routes[i].prefix);
        free(s->routes[i].upstream_name);
        free(s->routes[i].acl.rules);
    }
    tpl_free(&s->return_url);
    free(s->access_log);
    free(s->access_log_format);
    free(s->error_log);
    for (int i = 0; i < s->nset_headers; i++) {
        free(s->set_headers[i].name);
        tpl_free(&s->set_headers[i].value);
    }
    for (int i = 0; i < s->nadd_headers; i++) {
        free(s->add_headers[i].name);
        tpl_free(&s->add_headers[i].value);
    }
    for (int i = 0; i < s->nredirects; i++) {
        tpl_free(&s->redirects[i].from);
        tpl_free(&s->redirects[i].to);
    }
    free(s->root);
    free(s->index);
    free(s->acl.rules);
    free(s->auth_guard.trusted.rules);
    for (int i = 0; i < s->gzip.ntypes; i++)
        free(s->gzip.types[i]);
}

void px_config_free(px_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nupstreams; i++) {
        px_upstream *u = &cfg->upstreams[i];
        free(u->name);
        for (int j = 0; j < u->nservers; j++) {
            free(u->servers[j].text);
            free(u->servers[j].host);
        }
        free(u->tls_ca);
        free(u->tls_server_name);
        free(u->health_path);
        free(u->health_host);
        free(u->tls_cert);
        free(u->tls_key);
    }
    free(cfg->upstreams);
    for (int i = 0; i < cfg->nservers; i++)
        server_free(&cfg->servers[i]);
    free(cfg->servers);
    for (int i = 0; i < cfg->gzip.ntypes; i++)
        free(cfg->gzip.types[i]);
    free(cfg->path);
    free(cfg->user);
    free(cfg->pid_file);
    free(cfg->error_log);
    free(cfg->access_log);
    free(cfg->access_log_format);
    for (int i = 0; i < cfg->nlog_formats; i++)
        px_logfmt_free(&cfg->log_formats[i]);
    free(cfg->log_formats);
    free(cfg->tls_ticket_key_file);
    free(cfg->tls_protocols);
    free(cfg->tls_ciphers);
    free(cfg->status_listen);
    free(cfg->status_acl.rules);
    free(cfg->proxy_protocol_from.rules);
    free(cfg);
}

px_upstream *px_config_upstream(const px_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nupstreams; i++)
        if (strcmp(cfg->upstreams[i].name, name) == 0)
            return &cfg->upstreams[i];
    return NULL;
}
