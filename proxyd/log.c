/* proxyd error log: formats a whole line with a timestamp and level, then writes it with one write(2) on an
 * O_APPEND descriptor, so lines from different workers never interleave and no lock is needed. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
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

static int open_path(const char *path)
{
    if (!path || !*path || strcmp(path, "stderr") == 0)
        return 2;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

int px_log_open(const char *path, int level)
{
    int fd = open_path(path);
    if (fd < 0)
        return fd;
    snprintf(log_path, sizeof(log_path), "%s", path ? path : "stderr");
    int old = atomic_exchange(&log_fd, fd);
    if (old > 2)
        close(old);
    atomic_store(&log_level, level);
    return 0;
}

int px_log_reopen(void)
{
    return px_log_open(log_path, atomic_load(&log_level));
}

void px_log_close(void)
{
    int old = atomic_exchange(&log_fd, 2);
    if (old > 2)
        close(old);
}

void px_log(int level, const char *fmt, ...)
{
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
    ssize_t w = write(atomic_load(&log_fd), line, n);
    (void)w;
}
