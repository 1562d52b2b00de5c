/* proxyd access log: one line per answered request (nginx's combined format plus request time, upstream address,
 * upstream time, host, [server] and request id; or one JSON object; or a log_format), formatted into the worker's
 * buffer; client-controlled text escaped. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/access.h"
#include "http/vars.h"

/* Copies a field value into out, escaping what could forge a line or break JSON; a value longer than out ends in
 * "..." so that a cut is never silent. */
static const char *escape(http_slice s, char *out, size_t cap, int json)
{
    size_t n = 0, i = 0;
    if (!s.len)
        return json ? "" : "-";
    for (; i < s.len && n + 10 < cap; i++) {
        unsigned char ch = (unsigned char)s.base[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
            n += (size_t)snprintf(out + n, cap - n, json ? "\\u%04x" : "\\x%02X", ch);
        else
            out[n++] = (char)ch;
    }
    if (i < s.len)
        n += (size_t)snprintf(out + n, cap - n, "...");
    out[n] = 0;
    return out;
}

static http_slice field(const px_conn *c, const char *name)
{
    const http_request *r = &c->x->req;
    long i = r->method.len ? http_find_field(r->fields, r->nfields, name, 0) : -1;
    return i >= 0 ? r->fields[i].value : http_slice_of("", 0);
}

static void local_time(char *buf, size_t cap, int iso)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(buf, cap, iso ? "%Y-%m-%dT%H:%M:%S%z" : "%d/%b/%Y:%H:%M:%S %z", &tm);
}

/* The value of v for this request into out (NUL-terminated), escaped; an empty value is "-" (escape=default) or
 * nothing (escape=json), as in nginx. */
static const char *var_text(const px_conn *c, px_var v, char *out, size_t cap, int json)
{
    char raw[1024];
    http_writer hw;
    http_writer_init(&hw, raw, sizeof(raw));
    px_var_write(c, v, &hw);
    const char *t = escape(http_slice_of(raw, hw.len), out, cap, json);
    size_t n = strlen(t);
    if (hw.overflow && t == out && n + 4 <= cap) /* a value too long for raw: cut, and said so */
        memcpy(out + n, "...", 4);
    return t;
}

/* A log_format line: literals as written in the configuration, values escaped; cut values end in "...". */
static void custom_line(px_conn *c, const px_logfmt *f)
{
    char line[PX_ALOG_LINE_MAX], val[1024];
    size_t n = 0;
    int json = f->escape == PX_ESCAPE_JSON;
    for (int i = 0; i < f->nparts; i++) {
        const px_logfmt_part *p = &f->parts[i];
        size_t room = sizeof(line) - 2 - n; /* the newline and the NUL */
        size_t l = p->len < room ? p->len : room;
        memcpy(line + n, p->lit, l);
        n += l;
        if (p->var == PX_VAR_NONE)
            continue;
        room = sizeof(line) - 2 - n;
        if (room < 16)
            break; /* the line is full: the rest is dropped, never a cut escape */
        const char *t = var_text(c, p->var, val, room + 1 < sizeof(val) ? room + 1 : sizeof(val), json);
        l = strlen(t);
        memcpy(line + n, t, l < room ? l : room);
        n += l < room ? l : room;
    }
    line[n++] = '\n';
    px_alog_printf(&c->w->alog, "%.*s", (int)n, line);
}

/* The response in its [server]'s counters: by code, and the request time. */
static void count_response(px_conn *c, int status)
{
    px_server_metrics *m = &PX_WS(c)->metrics.servers[c->server->slot];
    px_metric_add(&m->codes[px_code_slot(status)], 1);
    px_hist_add(&m->request_time, wire_now(c->w->loop) - c->x->started_ms);
}

void px_access_log(px_conn *c)
{
    px_worker *w = c->w;
    px_exchange *x = c->x;
    const px_server *s = c->server;
    int status = x->resp_status;
    x->resp_status = 0; /* counted and logged once, whichever of next-request or close comes first */
    if (status >= 100 && status <= 599) {
        PX_ADD(w->stats.status[status / 100], 1);
        count_response(c, status);
    }
    int sink = s->access_log ? s->access_sink : 0;
    if (!status || s->access_log_off || !px_access_sink_enabled(sink))
        return;
    px_alog_use(&w->alog, sink);
    if (s->access_logfmt) {
        x->resp_status = status; /* for $status */
        custom_line(c, s->access_logfmt);
        x->resp_status = 0;
        return;
    }
    char when[64], req[1024], ref[512], ua[512], host[512];
    int json = s->access_log_json;
    local_time(when, sizeof(when), json);
    double rt = (double)(wire_now(w->loop) - x->started_ms) / 1000.0;
    double ut = x->up_ms ? (double)x->up_ms / 1000.0 : 0;
    const http_request *r = &x->req;
    http_slice line = r->method.len
                          ? http_slice_of(r->method.base, (size_t)(r->target.base + r->target.len - r->method.base))
                          : http_slice_of("", 0);
    const char *rq = escape(line, req, sizeof(req), json);
    const char *rf = escape(field(c, "referer"), ref, sizeof(ref), json);
    const char *ag = escape(field(c, "user-agent"), ua, sizeof(ua), json);
    const char *hs = var_text(c, PX_VAR_HOST, host, sizeof(host), json);
    const char *version = r->method.len ? (r->minor ? " HTTP/1.1" : " HTTP/1.0") : "";
    const char *ua_addr = x->up_addr ? x->up_addr : "-";
    const char *sname = c->server->nnames ? c->server->names[0] : "";
    const char *rid = px_request_id(c).base;
    if (json)
        px_alog_printf(&w->alog,
                       "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"request\":\"%s%s\",\"status\":%d,"
                       "\"bytes_sent\":%llu,\"referer\":\"%s\",\"user_agent\":\"%s\",\"request_time\":%.3f,"
                       "\"upstream_addr\":\"%s\",\"upstream_time\":%.3f,\"host\":\"%s\",\"server\":\"%s\","
                       "\"server_name\":\"%s\",\"request_id\":\"%s\"}\n",
                       when, c->peer, rq, version, status, (unsigned long long)x->resp_bytes, rf, ag, rt, ua_addr, ut,
                       hs, c->server->name, sname, rid);
    else
        px_alog_printf(&w->alog,
                       "%s - - [%s] \"%s%s\" %d %llu \"%s\" \"%s\" rt=%.3f uaddr=%s ut=%.3f host=%s server=%s rid=%s\n",
                       c->peer, when, rq, version, status, (unsigned long long)x->resp_bytes, rf, ag, rt, ua_addr, ut,
                       hs, c->server->name, rid);
}
