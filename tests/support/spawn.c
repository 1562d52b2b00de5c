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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* Test ports come from a pool outside the kernel's ephemeral range, so that no bind(:0) or connect() of a parallel
 * test takes one between our pick and the daemon's bind. Returns the pool [*lo, *hi]. */
static void port_pool(int *lo, int *hi)
{
    int elo = 32768, ehi = 60999;
    FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (fp) {
        if (fscanf(fp, "%d %d", &elo, &ehi) != 2)
            elo = 32768, ehi = 60999;
        fclose(fp);
    }
    if (elo - TS_PORT_MIN >= 1000) { /* the usual case: below the ephemeral range */
        *lo = TS_PORT_MIN;
        *hi = elo - 1;
    } else if (65535 - ehi >= 1000) {
        *lo = ehi + 1;
        *hi = 65535;
    } else { /* an ephemeral range over nearly everything: the locks still keep parallel tests apart */
        *lo = TS_PORT_MIN;
        *hi = 65535;
    }
}

/* Takes the lock file of port; the lock lasts while the fd is open (close-on-exec: daemons do not inherit it).
 * flock conflicts between open file descriptions, so a second call in the same process fails too. Returns the fd,
 * or -1 when another process (or this one) holds it. */
static int lock_port(int port)
{
    char path[64];
    snprintf(path, sizeof path, TS_PORT_LOCK_DIR "/%d", port);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return -1;
    }
    fchmod(fd, 0666); /* best effort, for other users' test runs (umask) */
    return fd;
}

/* Whether 127.0.0.1:port can be bound right now without SO_REUSEADDR: nothing listens there and no connection
 * (not even one in TIME_WAIT) uses it, so a test's own plain bind works as well as a daemon's. */
static int bindable(int port)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

int ts_free_port(void)
{
    static pid_t owner;   /* a forked test process starts its own scan */
    static unsigned next; /* where the scan goes on, spread over the pool by pid */
    int lo, hi;
    port_pool(&lo, &hi);
    unsigned span = (unsigned)(hi - lo + 1);
    if (mkdir(TS_PORT_LOCK_DIR, 01777) == 0)
        chmod(TS_PORT_LOCK_DIR, 01777); /* sticky and shared: mkdir's mode went through the umask */
    if (owner != getpid()) {
        owner = getpid();
        next = (unsigned)owner * 2654435761u;
    }
    for (unsigned tries = 0; tries < span; tries++) {
        int port = lo + (int)(next++ % span), fd = lock_port(port);
        if (fd < 0)
            continue;
        if (bindable(port))
            return port; /* fd stays open: the port is ours until the process exits */
        close(fd);       /* used outside the pool's discipline, or in TIME_WAIT: skipped */
    }
    fprintf(stderr, "ts_free_port: no free port in %d-%d (is " TS_PORT_LOCK_DIR " writable?)\n", lo, hi);
    return -1;
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
    if (can_connect(port)) { /* the readiness check below would take that listener for the child */
        fprintf(stderr, "ts_spawn_port: something already listens on 127.0.0.1:%d\n", port);
        return -1;
    }
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
