/* proxyd logging: the error log (levels, one write(2) per line so threads never interleave) and the place
 * where library error codes become log text. Secrets (keys, Authorization values) are never passed here. */
#ifndef PROXYD_COMMON_LOG_H
#define PROXYD_COMMON_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <wire/wire.h>

#include "common/constants.h"

/* Log files of each kind: the access logs ([global]'s and those of [server] sections), and the [server] error logs;
 * distinct paths since start. */
#define PX_ACCESS_SINKS 32

enum px_log_level { PX_LOG_DEBUG = 0, PX_LOG_INFO, PX_LOG_NOTICE, PX_LOG_WARN, PX_LOG_ERROR };

/* "debug".."error" to a level, or -1. */
int px_log_level_parse(const char *s);

/* Opens path ("stderr" or NULL: standard error) for appending. 0 or -errno. Replaces the previous log. */
int px_log_open(const char *path, int level);
/* Reopens the same path (logrotate) onto the same descriptor number. 0 or -errno. Any thread. */
int px_log_reopen(void);
/* Closes the log at exit (standard error from then on). Main thread, after the workers are joined. */
void px_log_close(void);
/* Whether a line of this level would be written. Any thread. */
int px_log_enabled(int level);
/* Replaces the descriptor in *slot by fd without ever freeing the old number while it may be written to (see
 * log.c): dup2 onto it when both are >= keep_below. Takes fd. 0 or -errno. Main thread. */
int px_log_swap_fd(atomic_int *slot, int fd, int keep_below);
/* Copies n bytes of client-controlled text into out (NUL-terminated), escaping control bytes, DEL, bytes >= 0x80,
 * '"' and '\\' as \\xHH so that nothing a client sends can forge or break a log line. Stops early when out is
 * full. Returns the length written. */
size_t px_log_escape(const char *s, size_t n, char *out, size_t cap);

void px_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* At most one line per interval for one kind of event, from any thread. */
typedef struct px_log_every {
    _Atomic uint64_t next_ms;
    _Atomic uint64_t held; /* lines not written since the last one */
} px_log_every;
/* Whether a line may be written at now_ms; when it may, *held is how many were held back since the last one
 * (the caller says so in its line). Any thread. */
int px_log_every_due(px_log_every *e, uint64_t now_ms, uint64_t interval_ms, uint64_t *held);

#define px_debug(...) (px_log_enabled(PX_LOG_DEBUG) ? px_log(PX_LOG_DEBUG, __VA_ARGS__) : (void)0)
#define px_info(...) px_log(PX_LOG_INFO, __VA_ARGS__)
#define px_notice(...) px_log(PX_LOG_NOTICE, __VA_ARGS__)
#define px_warn(...) px_log(PX_LOG_WARN, __VA_ARGS__)
#define px_error(...) px_log(PX_LOG_ERROR, __VA_ARGS__)

/* The access log: one process-wide descriptor, and a per-worker buffer of formatted lines written with one
 * write(2) when it fills or at least every PX_ALOG_FLUSH_MS, so workers never contend and a clean stop loses nothing.
 */
typedef struct px_alog {
    char buf[PX_ALOG_BUF];
    size_t len;
    int sink; /* the file what is buffered goes to (px_alog_use) */
    wire_timer timer;
    wire_loop *loop;
} px_alog;

/* Opens path for appending (NULL: access logging off), onto the previous descriptor's number. 0 or -errno.
 * Main thread. */
int px_access_open(const char *path);
/* Reopens [global]'s path and those of the sinks in use (logrotate) onto the same numbers. 0 or -errno. Main
 * thread. */
int px_access_reopen(void);
/* Whether access logging is on. Any thread. */
int px_access_enabled(void);
/* A [server]'s access_log: the sink (1..PX_ACCESS_SINKS-1) of path, opened for appending unless a sink already
 * has that path. -errno, or -ENOSPC when PX_ACCESS_SINKS - 1 distinct paths were opened since start (sinks are
 * never reused: a worker on an older configuration may still write). Main thread. */
int px_access_sink_open(const char *path);
/* The sinks the configuration now running names (a sink no longer named keeps its file but is not reopened by
 * SIGUSR1, so that a rotated-away file is not created again). Main thread. */
void px_access_sinks_used(const int *sinks, int n);
/* Whether sink (0: [global]'s access_log) is open. Any thread. */
int px_access_sink_enabled(int sink);
/* A [server]'s error_log: the sink (1..PX_ACCESS_SINKS-1) of path, opened for appending unless a sink already has
 * that path; -errno, or -ENOSPC when too many distinct paths were opened since start. Main thread. */
int px_error_sink_open(const char *path);
/* The [server] error logs the running configuration names (SIGUSR1 reopens these). Main thread. */
void px_error_sinks_used(const int *sinks, int n);
/* Reopens the [server] error logs in use onto the same numbers (logrotate). 0 or -errno. Main thread. */
int px_error_sinks_reopen(void);
/* Sends the next px_log line of this thread to error sink `sink` (0: [global]'s error_log): the line about a
 * request of a [server] with its own error_log. http/respond.c's px_log_context, which ends every such line, calls
 * it; px_log takes it back to 0 whether it writes or not. */
void px_log_route(int sink);

/* Prepares a worker's buffer on its loop. */
void px_alog_init(px_alog *a, wire_loop *loop);
/* Makes what follows go to sink, writing what was buffered for another sink first. Worker's thread. */
void px_alog_use(px_alog *a, int sink);
/* Appends one line; the line is dropped whole rather than written cut when it does not fit. Worker's thread. */
void px_alog_printf(px_alog *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes what is buffered and stops the flush timer. Worker's thread. */
void px_alog_flush(px_alog *a);

#endif
