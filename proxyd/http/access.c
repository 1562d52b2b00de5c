/* proxyd access log: one line per answered request (nginx's combined format plus request time, upstream address
 * and upstream time, or one JSON object), formatted into the worker's buffer; client-controlled text escaped. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/access.h"

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

void px_access_log(px_conn *c)
{
    px_worker *w = c->w;
    px_exchange *x = c->x;
    int status = x->resp_status;
    x->resp_status = 0; /* counted and logged once, whichever of next-request or close comes first */
    if (status >= 100 && status <= 599)
        PX_ADD(w->stats.status[status / 100], 1);
    if (!status || !px_access_enabled())
        return;
    char when[64], req[1024], ref[512], ua[512];
    int json = w->rt->cfg->access_log_json;
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
    const char *version = r->method.len ? (r->minor ? " HTTP/1.1" : " HTTP/1.0") : "";
    const char *ua_addr = x->up_addr ? x->up_addr : "-";
    if (json)
        px_alog_printf(&w->alog,
                       "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"request\":\"%s%s\",\"status\":%d,"
                       "\"bytes_sent\":%llu,\"referer\":\"%s\",\"user_agent\":\"%s\",\"request_time\":%.3f,"
                       "\"upstream_addr\":\"%s\",\"upstream_time\":%.3f}\n",
                       when, c->peer, rq, version, status, (unsigned long long)x->resp_bytes, rf, ag, rt, ua_addr, ut);
    else
        px_alog_printf(&w->alog, "%s - - [%s] \"%s%s\" %d %llu \"%s\" \"%s\" rt=%.3f uaddr=%s ut=%.3f\n", c->peer, when,
                       rq, version, status, (unsigned long long)x->resp_bytes, rf, ag, rt, ua_addr, ut);
}
