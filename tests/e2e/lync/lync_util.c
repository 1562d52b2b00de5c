/* tests/e2e/lync helpers: certificates through the openssl command, a TLS pipe through `openssl s_client`,
 * and exact reads with a deadline over plain fds (sockets or pipes). */
#include "lync_util.h"

#include "px_harness.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void lync_make_cert(const char *dir, const char *name)
{
    char cmd[1024], out[256];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=%s "
             "-addext subjectAltName=DNS:%s -keyout %s/%s.key -out %s/%s.crt 2>&1",
             name, name, dir, name, dir, name);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl req: %s", out);
}

void lync_tls_open(lync_tls *t, int port, const char *name)
{
    int to[2], from[2];
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    ck_assert(pipe(to) == 0 && pipe(from) == 0);
    t->pid = fork();
    ck_assert_int_ge(t->pid, 0);
    if (t->pid == 0) {
        dup2(to[0], 0), dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        execlp("openssl", "openssl", "s_client", "-quiet", "-connect", target, "-servername", name, (char *)NULL);
        _exit(127);
    }
    close(to[0]), close(from[1]);
    t->in = to[1];
    t->out = from[0];
}

void lync_tls_close(lync_tls *t)
{
    close(t->in), close(t->out);
    kill(t->pid, SIGTERM);
    waitpid(t->pid, NULL, 0);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int lync_read_full(int fd, void *p, size_t n, int timeout_ms)
{
    struct timespec t0;
    size_t got = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < n) {
        long left = timeout_ms - ms_since(&t0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return -1;
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

long lync_read_head(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (lync_read_full(fd, buf + n, 1, timeout_ms) < 0)
            return -1;
        n++;
        buf[n] = 0;
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
            return (long)n;
    }
    return -1;
}

int lync_write_full(int fd, const void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, (const char *)p + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}
