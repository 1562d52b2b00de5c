/* tests/e2e/ops: helpers shared by the operations tests (log polling, metrics scraping, reaping with a deadline).
 * Everything here ck_asserts only on test-environment failures, never on proxyd behaviour. */
#include "ops.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

int64_t ops_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ops_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int ops_file_count(const char *path, const char *needle)
{
    char *text = px_read_file(path);
    int n = 0;
    for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    free(text);
    return n;
}

int ops_file_has(const char *path, const char *needle, int timeout_ms)
{
    int64_t deadline = ops_now_ms() + timeout_ms;
    for (;;) {
        if (ops_file_count(path, needle) > 0)
            return 1;
        if (ops_now_ms() >= deadline)
            return 0;
        ops_sleep_ms(20);
    }
}

char *ops_scrape(int status_port)
{
    ts_response r;
    if (ts_request(status_port, "GET /metrics HTTP/1.1\r\nHost: status\r\nConnection: close\r\n\r\n", &r) < 0)
        return NULL;
    if (r.status != 200)
        ts_response_free(&r);
    return r.status == 200 ? r.body : NULL; /* ts_response_free only frees the body */
}

long ops_sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            return strtol(line + n + 1, NULL, 10);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

long ops_metric(int status_port, const char *name)
{
    char *text = ops_scrape(status_port);
    long v = text ? ops_sample(text, name) : -1;
    free(text);
    return v;
}

int ops_reap(pid_t pid, int timeout_ms)
{
    int64_t deadline = ops_now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        ck_assert_msg(got == 0 || errno == EINTR, "waitpid %d: %s", (int)pid, strerror(errno));
        if (ops_now_ms() >= deadline)
            return -1;
        ops_sleep_ms(10);
    }
}

const char *ops_get_field(int port, const char *target, const char *name)
{
    static char value[256];
    char raw[512];
    ts_response r;
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n", target);
    if (ts_request(port, raw, &r) < 0)
        return NULL;
    const char *v = r.status == 200 ? ts_header(&r, name) : NULL;
    if (v)
        snprintf(value, sizeof value, "%s", v);
    ts_response_free(&r);
    return v ? value : NULL;
}
