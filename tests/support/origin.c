/* tests/support origin conveniences: starting the bench origin server named by $PROXYD_ORIGIN and reading its
 * /stats counters. */
#include "support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN_READY "origin: listening on "

char *ts_origin_start(int *port_out, pid_t *pid_out)
{
    const char *bin = getenv("PROXYD_ORIGIN");
    char line[256], *colon, *end;
    if (!bin || !*bin) {
        fprintf(stderr, "ts_origin_start: PROXYD_ORIGIN is not set\n");
        return NULL;
    }
    const char *const argv[] = {bin, "-l", "127.0.0.1:0", "-w", "1", "-q", NULL};
    pid_t pid = ts_spawn(argv, ORIGIN_READY, line, sizeof line, 10000);
    if (pid < 0)
        return NULL;
    colon = strrchr(line, ':');
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    char *addr = strdup(line + strlen(ORIGIN_READY));
    if (!colon || *end || port <= 0 || port > 65535 || !addr) {
        free(addr);
        ts_stop(pid, SIGKILL, 1000);
        return NULL;
    }
    *port_out = (int)port;
    *pid_out = pid;
    return addr;
}

int ts_count_connections(int origin_port)
{
    ts_response r;
    const char *p;
    long n = -1;
    if (ts_request(origin_port, "GET /stats HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n", &r) < 0)
        return -1;
    if (r.status == 200 && (p = strstr(r.body, "\"connections\":")) != NULL) {
        char *end;
        n = strtol(p + strlen("\"connections\":"), &end, 10);
        if (end == p + strlen("\"connections\":"))
            n = -1;
    }
    ts_response_free(&r);
    return (int)n;
}

int ts_reset_stats(int origin_port)
{
    ts_response r;
    if (ts_request(origin_port, "POST /stats/reset HTTP/1.1\r\nHost: origin\r\nContent-Length: 0\r\n\r\n", &r) < 0)
        return -1;
    int ok = r.status == 200;
    ts_response_free(&r);
    return ok ? 0 : -1;
}
