/* tests/support processes: free ports, spawning a daemon and waiting until it is ready, stopping it.
 * Owns the stdout pipe of spawned children and the threads that forward their later output to stderr. */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int ts_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* In the child: default signal mask, stdout to out_fd (when >= 0), then exec. Never returns. */
static void exec_child(const char *const argv[], int out_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
        _exit(127);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "ts_spawn: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static void *forward_output(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
            break;
    close(fd);
    return NULL;
}

/* Hands the pipe to a detached thread once the ready line was seen; rest holds bytes already read after it. */
static void forward_rest(int fd, const char *rest, size_t n)
{
    pthread_t t;
    if (n > 0 && write(STDERR_FILENO, rest, n) < 0) {
        /* stderr gone: nothing useful to do */
    }
    if (pthread_create(&t, NULL, forward_output, (void *)(intptr_t)fd) != 0) {
        close(fd); /* the child then gets EPIPE on later output, which is still better than blocking */
        return;
    }
    pthread_detach(t);
}

/* Reads lines until one starts with prefix. Returns 0 with the line copied, -1 on timeout or end of file. */
static int wait_line(int fd, const char *prefix, char *out, size_t cap, int timeout_ms)
{
    char buf[8192];
    size_t have = 0;
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', have)) != NULL) {
            size_t len = (size_t)(nl - buf);
            if (len >= strlen(prefix) && memcmp(buf, prefix, strlen(prefix)) == 0) {
                if (out && cap > 0) {
                    size_t k = len < cap - 1 ? len : cap - 1;
                    memcpy(out, buf, k);
                    out[k] = '\0';
                }
                forward_rest(fd, nl + 1, have - len - 1);
                return 0;
            }
            fprintf(stderr, "%.*s\n", (int)len, buf); /* not the line we wait for: show it */
            memmove(buf, nl + 1, have - len - 1);
            have -= len + 1;
        }
        if (have == sizeof buf)
            have = 0; /* an endless line: drop it */
        long long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return -1;
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            return -1;
        if (n > 0)
            have += (size_t)n;
    }
}

pid_t ts_spawn(const char *const argv[], const char *wait_line_prefix, char *first_line_out, size_t cap, int timeout_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0)
        exec_child(argv, p[1]);
    close(p[1]);
    if (wait_line(p[0], wait_line_prefix, first_line_out, cap, timeout_ms) < 0) {
        close(p[0]);
        kill_and_reap(pid);
        return -1;
    }
    return pid;
}

static int can_connect(int port)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

pid_t ts_spawn_port(const char *const argv[], int port, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        exec_child(argv, -1);
    while (!can_connect(port)) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1; /* exited early: already reaped */
        if (now_ms() >= deadline) {
            kill_and_reap(pid);
            return -1;
        }
        sleep_ms(10);
    }
    return pid;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int ts_stop(pid_t pid, int sig, int timeout_ms)
{
    int status;
    long long deadline = now_ms() + timeout_ms;
    if (pid <= 0 || kill(pid, sig) < 0)
        return -1;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return exit_code(status);
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() >= deadline)
            break;
        sleep_ms(5);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 128 + SIGKILL;
}
