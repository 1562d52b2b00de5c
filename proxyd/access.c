/* proxyd access log: one line per answered request (nginx's combined format plus request time, upstream address
 * and upstream time, or one JSON object), formatted into a per-worker buffer and written with one write(2) when
 * it fills or at least every second, so workers never contend and nothing is lost at a clean stop. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proxyd.h"

/* The access log descriptor is process-wide (one file); reopen swaps it atomically. */
static atomic_int access_fd = -1;
static char access_path[4096];

int px_access_open(const char *path)
{
    int fd = -1;
    if (path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -errno;
        snprintf(access_path, sizeof(access_path), "%s", path);
    }
    int old = atomic_exchange(&access_fd, fd);
    if (old >= 0)
        close(old);
    return 0;
}

int px_access_reopen(void)
{
    return atomic_load(&access_fd) >= 0 ? px_access_open(access_path) : 0;
}

void px_access_flush(px_worker *w)
{
    int fd = atomic_load(&access_fd);
    if (w->alog_len && fd >= 0) {
        ssize_t n = write(fd, w->alog, w->alog_len);
        (void)n;
    }
    w->alog_len = 0;
}

static void on_flush_timer(wire_loop *loop, wire_timer *t)
{
    px_access_flush(t->data);
}

/* Appends one formatted line to the worker's buffer. */
static void emit(px_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(px_worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->alog + w->alog_len, sizeof(w->alog) - w->alog_len, fmt, ap);
    va_end(ap);
    /* 3 KiB are free before each line and escaped fields are bounded below that: a line that still did not fit
     * is dropped whole rather than written cut. */
    if (n >= 0 && (size_t)n < sizeof(w->alog) - w->alog_len)
        w->alog_len += (size_t)n;
}

/* Copies a field value into out, escaping what could forge a line or break JSON. */
static const char *escape(http_slice s, char *out, size_t cap, int json)
{
    size_t n = 0;
    if (!s.len)
        return json ? "" : "-";
    for (size_t i = 0; i < s.len && n + 7 < cap; i++) {
        unsigned char ch = (unsigned char)s.base[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
            n += (size_t)snprintf(out + n, cap - n, json ? "\\u%04x" : "\\x%02X", ch);
        else
            out[n++] = (char)ch;
    }
    out[n] = 0;
    return out;
}

static http_slice field(const px_conn *c, const char *name)
{
    long i = c->x->req.method.len ? http_find_field(c->x->req.fields, c->x->req.nfields, name, 0) : -1;
    return i >= 0 ? c->x->req.fields[i].value : http_slice_of("", 0);
}

static void local_time(px_worker *w, char *buf, size_t cap, int iso)
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
    int status = c->resp_status;
    c->resp_status = 0; /* counted and logged once, whichever of next-request or close comes first */
    if (status >= 100 && status <= 599)
        PX_ADD(w->stats.status[status / 100], 1);
    if (atomic_load(&access_fd) < 0 || !status)
        return;
    if (!wire_timer_active(&w->alog_timer)) {
        wire_timer_init(&w->alog_timer, on_flush_timer, w);
        wire_timer_start(w->loop, &w->alog_timer, 1000);
    }
    char when[64], req[1024], ref[512], ua[512];
    const char *peer = c->peer;
    local_time(w, when, sizeof(when), w->rt->cfg->access_log_json);
    uint64_t now = wire_now(w->loop);
    double rt = (double)(now - c->started_ms) / 1000.0;
    double ut = c->up_ms ? (double)c->up_ms / 1000.0 : 0;
    http_slice line = c->x->req.method.len ? http_slice_of(c->x->req.method.base, (size_t)(c->x->req.target.base +
                                                                                     c->x->req.target.len -
                                                                                     c->x->req.method.base))
                                        : http_slice_of("", 0);
    int json = w->rt->cfg->access_log_json;
    if (sizeof(w->alog) - w->alog_len < 3072)
        px_access_flush(w);
    const char *rq = escape(line, req, sizeof(req), json);
    const char *rf = escape(field(c, "referer"), ref, sizeof(ref), json);
    const char *ag = escape(field(c, "user-agent"), ua, sizeof(ua), json);
    const char *ua_addr = c->up_addr ? c->up_addr : "-";
    if (json)
        emit(w,
             "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"request\":\"%s%s\",\"status\":%d,\"bytes_sent\":%llu,"
             "\"referer\":\"%s\",\"user_agent\":\"%s\",\"request_time\":%.3f,\"upstream_addr\":\"%s\","
             "\"upstream_time\":%.3f}\n",
             when, peer, rq, c->x->req.method.len ? (c->x->req.minor ? " HTTP/1.1" : " HTTP/1.0") : "", status,
             (unsigned long long)c->resp_bytes, rf, ag, rt, ua_addr, ut);
    else
        emit(w, "%s - - [%s] \"%s%s\" %d %llu \"%s\" \"%s\" rt=%.3f uaddr=%s ut=%.3f\n", peer, when, rq,
             c->x->req.method.len ? (c->x->req.minor ? " HTTP/1.1" : " HTTP/1.0") : "", status,
             (unsigned long long)c->resp_bytes, rf, ag, rt, ua_addr, ut);
}
