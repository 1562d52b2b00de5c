/* proxyd error log: formats a whole line with a timestamp and level, then writes it with one write(2) on an
 * O_APPEND descriptor, so lines from different workers never interleave and no lock is needed. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "notice", "warn", "error"};

/* Process-wide by nature (one error log per process); the fd is swapped atomically on reopen. */
static atomic_int log_fd = 2;
static atomic_int log_level = PX_LOG_WARN;
static char log_path[4096];

/* A set of log files, process-wide like the error log and replaced in place on reopen (see px_log_swap_fd): the
 * access logs (sink 0 is [global]'s access_log; the others [server] access_log files) and the [server] error logs
 * (sink 0 unused: [global]'s is log_fd). One sink per distinct path, kept open until exit so that a worker still
 * serving an older configuration never writes to a reused number. */
typedef struct sink_table {
    atomic_int fd[PX_ACCESS_SINKS];
    char path[PX_ACCESS_SINKS][4096];
    atomic_bool used[PX_ACCESS_SINKS]; /* sinks the running configuration names: SIGUSR1 reopens these */
} sink_table;

#define SINKS_CLOSED                                                                                                   \
    {                                                                                                                  \
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    \
            -1, -1, -1, -1, -1                                                                                         \
    }
static sink_table access_sinks = {SINKS_CLOSED, {{0}}, {0}};
static sink_table error_sinks = {SINKS_CLOSED, {{0}}, {0}};

/* The [server] error log sink the line being written belongs to (px_log_route); 0: [global]'s error_log. */
static _Thread_local int route_sink;

int px_log_level_parse(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int px_log_enabled(int level)
{
    return level >= atomic_load(&log_level);
}

int px_log_every_due(px_log_every *e, uint64_t now_ms, uint64_t interval_ms, uint64_t *held)
{
    uint64_t next = atomic_load_explicit(&e->next_ms, memory_order_relaxed);
    /* The one thread that moves next_ms on writes the line; the others count themselves as held back. */
    if (now_ms < next || !atomic_compare_exchange_strong(&e->next_ms, &next, now_ms + interval_ms)) {
        atomic_fetch_add_explicit(&e->held, 1, memory_order_relaxed);
        return 0;
    }
    *held = atomic_exchange_explicit(&e->held, 0, memory_order_relaxed);
    return 1;
}

static int open_path(const char *path)
{
    if (!path || !*path || strcmp(path, "stderr") == 0)
        return 2;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

/* Puts fd (or nothing, -1) in place of the descriptor in *slot. Other workers may be writing to the old number at
 * this very moment: closing it would let accept4 hand the number to a client socket, and log lines (other clients'
 * addresses and URLs) would go to that client. So the new file is dup2'd onto the old number, which stays in use.
 * A log turned off keeps its number pointed at /dev/null for the same reason. */
int px_log_swap_fd(atomic_int *slot, int fd, int keep_below)
{
    int old = atomic_load(slot);
    if (old < keep_below) { /* a standard stream or nothing: never closed, so the swap alone is safe */
        atomic_store(slot, fd);
        return 0;
    }
    int src = fd >= 0 ? fd : open("/dev/null", O_WRONLY | O_CLOEXEC);
    int rc = src >= 0 && dup2(src, old) >= 0 ? 0 : -errno;
    if (src >= keep_below)
        close(src);
    if (fd < 0)
        atomic_store(slot, -1);
    return rc;
}

int px_log_open(const char *path, int level)
{
    int fd = open_path(path);
    if (fd < 0)
        return fd;
    if (path != log_path) /* a reopen passes log_path itself */
        snprintf(log_path, sizeof(log_path), "%s", path ? path : "stderr");
    int rc = px_log_swap_fd(&log_fd, fd, 3);
    atomic_store(&log_level, level);
    return rc;
}

int px_log_reopen(void)
{
    return px_log_open(log_path, atomic_load(&log_level));
}

void px_log_close(void)
{
    int old = atomic_exchange(&log_fd, 2);
    if (old > 2)
        close(old); /* at exit, once every worker thread has been joined */
}

size_t px_log_escape(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = 0;
    return o;
}

/* The descriptor a line goes to: the [server]'s error log it was routed to, else [global]'s. */
static int line_fd(int sink)
{
    int fd = sink > 0 && sink < PX_ACCESS_SINKS ? atomic_load(&error_sinks.fd[sink]) : -1;
    return fd >= 0 ? fd : atomic_load(&log_fd);
}

void px_log(int level, const char *fmt, ...)
{
    int sink = route_sink; /* the routing set while this line's arguments were formed holds for it alone */
    route_sink = 0;
    if (!px_log_enabled(level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, " [%s] ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : n + (size_t)m < sizeof(line) - 1 ? n + (size_t)m : sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(line_fd(sink), line, n);
    (void)w;
}

/* ---------------------------------------------------------------- log files of [server] sections */

static int sink_open(sink_table *t, int sink, const char *path)
{
    int fd = -1;
    if (path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -errno;
        if (path != t->path[sink]) /* a reopen passes the table's path itself */
            snprintf(t->path[sink], sizeof(t->path[sink]), "%s", path);
    }
    return px_log_swap_fd(&t->fd[sink], fd, 0);
}

static int table_sink_open(sink_table *t, const char *path)
{
    int free_sink = 0;
    for (int i = 1; i < PX_ACCESS_SINKS; i++) {
        if (t->path[i][0] && strcmp(t->path[i], path) == 0)
            return i; /* already open: SIGUSR1 moves it to a new file */
        if (!t->path[i][0] && !free_sink)
            free_sink = i;
    }
    if (!free_sink)
        return -ENOSPC;
    int rc = sink_open(t, free_sink, path);
    return rc < 0 ? rc : free_sink;
}

static void table_used(sink_table *t, const int *sinks, int n)
{
    for (int i = 1; i < PX_ACCESS_SINKS; i++)
        atomic_store(&t->used[i], 0);
    for (int i = 0; i < n; i++)
        if (sinks[i] > 0 && sinks[i] < PX_ACCESS_SINKS)
            atomic_store(&t->used[sinks[i]], 1);
}

static int table_reopen(sink_table *t, int with_zero)
{
    int rc = 0;
    for (int i = 0; i < PX_ACCESS_SINKS; i++)
        if (atomic_load(&t->fd[i]) >= 0 && ((i == 0 && with_zero) || (i > 0 && atomic_load(&t->used[i])))) {
            int r = sink_open(t, i, t->path[i]);
            rc = rc ? rc : r;
        }
    return rc;
}

int px_access_open(const char *path)
{
    return sink_open(&access_sinks, 0, path);
}

int px_access_sink_open(const char *path)
{
    return table_sink_open(&access_sinks, path);
}

void px_access_sinks_used(const int *sinks, int n)
{
    table_used(&access_sinks, sinks, n);
}

int px_access_reopen(void)
{
    return table_reopen(&access_sinks, 1);
}

int px_access_enabled(void)
{
    return atomic_load(&access_sinks.fd[0]) >= 0;
}

int px_access_sink_enabled(int sink)
{
    return sink >= 0 && sink < PX_ACCESS_SINKS && atomic_load(&access_sinks.fd[sink]) >= 0;
}

int px_error_sink_open(const char *path)
{
    return table_sink_open(&error_sinks, path);
}

void px_error_sinks_used(const int *sinks, int n)
{
    table_used(&error_sinks, sinks, n);
}

int px_error_sinks_reopen(void)
{
    return table_reopen(&error_sinks, 0);
}

void px_log_route(int sink)
{
    route_sink = sink;
}

void px_alog_flush(px_alog *a)
{
    int fd = atomic_load(&access_sinks.fd[a->sink]);
    if (a->len && fd >= 0) {
        ssize_t n = write(fd, a->buf, a->len);
        (void)n;
    }
    a->len = 0;
    if (a->loop)
        wire_timer_stop(a->loop, &a->timer);
}

void px_alog_use(px_alog *a, int sink)
{
    if (a->sink != sink) {
        px_alog_flush(a);
        a->sink = sink;
    }
}

static void on_alog_timer(wire_loop *loop, wire_timer *t)
{
    px_alog_flush(t->data);
}

void px_alog_init(px_alog *a, wire_loop *loop)
{
    a->len = 0;
    a->sink = 0;
    a->loop = loop;
    wire_timer_init(&a->timer, on_alog_timer, a);
}

void px_alog_printf(px_alog *a, const char *fmt, ...)
{
    if (sizeof(a->buf) - a->len < PX_ALOG_LINE_MAX)
        px_alog_flush(a);
    if (!wire_timer_active(&a->timer))
        wire_timer_start(a->loop, &a->timer, PX_ALOG_FLUSH_MS);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->buf + a->len, sizeof(a->buf) - a->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(a->buf) - a->len)
        a->len += (size_t)n;
}
