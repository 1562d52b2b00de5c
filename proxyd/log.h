/* proxyd logging: the error log (levels, one write(2) per line so threads never interleave) and the place
 * where library error codes become log text. Secrets (keys, Authorization values) are never passed here. */
#ifndef PROXYD_LOG_H
#define PROXYD_LOG_H

enum px_log_level { PX_LOG_DEBUG = 0, PX_LOG_INFO, PX_LOG_NOTICE, PX_LOG_WARN, PX_LOG_ERROR };

/* "debug".."error" to a level, or -1. */
int px_log_level_parse(const char *s);

/* Opens path ("stderr" or NULL: standard error) for appending. 0 or -errno. Replaces the previous log. */
int px_log_open(const char *path, int level);
/* Reopens the same path (logrotate). */
int px_log_reopen(void);
void px_log_close(void);
int px_log_enabled(int level);

void px_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define px_debug(...) (px_log_enabled(PX_LOG_DEBUG) ? px_log(PX_LOG_DEBUG, __VA_ARGS__) : (void)0)
#define px_info(...) px_log(PX_LOG_INFO, __VA_ARGS__)
#define px_notice(...) px_log(PX_LOG_NOTICE, __VA_ARGS__)
#define px_warn(...) px_log(PX_LOG_WARN, __VA_ARGS__)
#define px_error(...) px_log(PX_LOG_ERROR, __VA_ARGS__)

#endif
