/* tests/e2e proxyd harness: temp directories, config templates, starting and stopping proxyd and origins, and
 * `proxyd -t` runs. Owns the at-exit cleanup of the current test's directory. */
#include "px_harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ORIGIN_READY "origin: listening on "
#define SETPRIV "/usr/bin/setpriv"

static px_env *current; /* for the at-exit cleanup when a failed assertion ends the test process */

static void remove_dir(const char *dir)
{
    char cmd[400];
    if (dir[0] && snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd && system(cmd) != 0)
        fprintf(stderr, "px_harness: cannot remove %s\n", dir);
}

static void dump_log(const px_env *e);

static void at_exit(void)
{
    if (!current)
        return;
    if (current->pid > 0)
        kill(current->pid, SIGKILL);
    dump_log(current);
    for (int i = 0; i < current->norigins; i++)
        if (current->opid[i] > 0)
            kill(current->opid[i], SIGKILL);
    remove_dir(current->dir);
}

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v && *v, "%s is not set (run through meson test)", name);
    return v;
}

/* An origin that dies with the test process. */
static void origin_start(px_env *e, int i)
{
    char line[256];
    const char *argv[] = {SETPRIV, "--pdeathsig", "KILL", "--", env_or_fail("PROXYD_ORIGIN"), "-l", "127.0.0.1:0",
                          "-w",    "1",           "-q",   NULL};
    pid_t pid = ts_spawn(argv, ORIGIN_READY, line, sizeof line, 10000);
    ck_assert_msg(pid > 0, "origin %d did not start", i);
    const char *colon = strrchr(line, ':');
    e->opid[i] = pid;
    e->norigins = i + 1;
    e->oport[i] = colon ? atoi(colon + 1) : 0;
    ck_assert_int_gt(e->oport[i], 0);
}

/* A failed assertion ends the test process without at-exit handlers: its directory (named after its pid) is
 * removed by a later test once that pid is gone. */
static void remove_stale_dirs(void)
{
    DIR *d = opendir("/tmp");
    struct dirent *de;
    char path[300];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        long pid;
        if (sscanf(de->d_name, "pxe2e-%ld-", &pid) != 1 || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "/tmp/%s", de->d_name);
        remove_dir(path);
    }
    closedir(d);
}

void px_env_init(px_env *e, int norigins)
{
    static int registered;
    memset(e, 0, sizeof *e);
    ck_assert_int_le(norigins, PX_MAX_ORIGINS);
    remove_stale_dirs();
    snprintf(e->dir, sizeof e->dir, "/tmp/pxe2e-%ld-XXXXXX", (long)getpid());
    ck_assert_msg(mkdtemp(e->dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(e->conf, sizeof e->conf, "%s/proxyd.ini", e->dir);
    snprintf(e->log, sizeof e->log, "%s/error.log", e->dir);
    current = e;
    if (!registered++)
        atexit(at_exit);
    e->port = ts_free_port(); /* three distinct ports, reserved until the test process exits */
    e->port2 = ts_free_port();
    e->dead = ts_free_port();
    ck_assert_msg(e->port > 0 && e->port2 > 0 && e->dead > 0, "no free test ports");
    for (int i = 0; i < norigins; i++)
        origin_start(e, i);
}

void px_env_done(px_env *e)
{
    if (e->pid > 0)
        ck_assert_msg(px_proxy_stop(e) == 0, "proxyd did not exit 0 on SIGTERM (sanitizer report or leak?)");
    for (int i = 0; i < e->norigins; i++)
        if (e->opid[i] > 0)
            ck_assert_msg(px_origin_stop(e, i) == 0, "origin %d did not exit 0", i);
    e->norigins = 0;
    remove_dir(e->dir);
    e->dir[0] = 0;
    current = NULL;
}

int px_origin_stop(px_env *e, int i)
{
    int st = ts_stop(e->opid[i], SIGTERM, 5000);
    e->opid[i] = 0;
    return st;
}

/* 1 when every thread of pid is in a stopped state ('T' or 't' in /proc/PID/task/TID/stat). */
static int all_threads_stopped(pid_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int stopped = 1;
    for (struct dirent *t; stopped && (t = readdir(d)) != NULL;) {
        if (t->d_name[0] == '.')
            continue;
        char file[384];
        if (snprintf(file, sizeof file, "%s/%s/stat", path, t->d_name) >= (int)sizeof file)
            continue;
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, stat, sizeof stat - 1) : -1;
        if (fd >= 0)
            close(fd);
        stat[n > 0 ? n : 0] = 0;
        const char *state = strrchr(stat, ')'); /* "TID (comm) S ...": comm may hold spaces */
        stopped = state != NULL && (state[2] == 'T' || state[2] == 't');
    }
    closedir(d);
    return stopped;
}

void px_origin_freeze(px_env *e, int i)
{
    ck_assert_int_eq(kill(e->opid[i], SIGSTOP), 0);
    for (int waited = 0; !all_threads_stopped(e->opid[i]); waited += 5) {
        ck_assert_msg(waited < 2000, "origin %d not stopped 2 s after SIGSTOP", i);
        poll(NULL, 0, 5);
    }
}

/* Appends n bytes to the growing string *s of length *len. */
static void append(char **s, size_t *len, const char *p, size_t n)
{
    char *grown = realloc(*s, *len + n + 1);
    ck_assert_ptr_nonnull(grown);
    memcpy(grown + *len, p, n);
    *len += n;
    grown[*len] = 0;
    *s = grown;
}

/* The value of placeholder name (without the @s), written into buf; NULL when unknown. */
static const char *placeholder(const px_env *e, const char *name, size_t n, char *buf, size_t cap)
{
    static const char *const ports[] = {"PORT", "PORT2", "DEAD", "O0", "O1", "O2"};
    const int values[] = {e->port, e->port2, e->dead, e->oport[0], e->oport[1], e->oport[2]};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (strlen(ports[i]) == n && memcmp(name, ports[i], n) == 0) {
            snprintf(buf, cap, "%d", values[i]);
            return buf;
        }
    if (n == 3 && memcmp(name, "DIR", 3) == 0)
        return e->dir;
    if (n == 3 && memcmp(name, "LOG", 3) == 0)
        return e->log;
    return NULL;
}

char *px_expand(const px_env *e, const char *tpl)
{
    char *out = NULL, num[16];
    size_t len = 0;
    append(&out, &len, "", 0);
    for (const char *p = tpl; *p;) {
        const char *at = strchr(p, '@'), *end = at ? strchr(at + 1, '@') : NULL;
        const char *v = end ? placeholder(e, at + 1, (size_t)(end - at - 1), num, sizeof num) : NULL;
        if (!at) {
            append(&out, &len, p, strlen(p));
            break;
        }
        if (!v) { /* a lone '@': copy it */
            append(&out, &len, p, (size_t)(at - p) + 1);
            p = at + 1;
            continue;
        }
        append(&out, &len, p, (size_t)(at - p));
        append(&out, &len, v, strlen(v));
        p = end + 1;
    }
    return out;
}

void px_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_msg(fp != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(text, fp) >= 0, 1);
    ck_assert_int_eq(fclose(fp), 0);
}

char *px_read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *s = NULL, buf[4096];
    size_t len = 0, n;
    if (!fp)
        return NULL;
    append(&s, &len, "", 0);
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        append(&s, &len, buf, n);
    fclose(fp);
    return s;
}

static void write_config(px_env *e, const char *tpl)
{
    char *text = px_expand(e, tpl);
    px_write_file(e->conf, text);
    free(text);
}

static void dump_log(const px_env *e)
{
    char *log = px_read_file(e->log);
    if (log && *log)
        fprintf(stderr, "---- proxyd error log (%s)\n%s----\n", e->log, log);
    free(log);
}

/* An abstract notify socket (no file: proxyd may have switched to another user) passed to the next proxyd through
 * NOTIFY_SOCKET. Returns the fd, or -1 when the test set NOTIFY_SOCKET itself (it then reads the socket). */
static int ready_socket_open(void)
{
    static unsigned seq;
    char name[64];
    if (getenv("NOTIFY_SOCKET"))
        return -1;
    int n = snprintf(name, sizeof name, "@pxe2e-ready-%ld-%u", (long)getpid(), seq++);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path + 1, name + 1, (size_t)n - 1); /* sun_path[0] = 0: the abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
    return fd;
}

/* Waits up to timeout_ms for READY=1 on fd. Returns 1 when it came. */
static int ready_wait(int fd, int timeout_ms)
{
    char msg[512];
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = 0;
        if (strstr(msg, "READY=1"))
            return 1;
    }
    return 0;
}

/* proxyd is ready when it says so (READY=1, sent once every worker runs), not when a connect succeeds: the port
 * accepts before the workers exist, and at start-up a probe socket listens on it for a moment and is then closed,
 * resetting what it accepted. */
void px_proxy_start(px_env *e, const char *tpl)
{
    /* The default pid file is root's (/run/proxyd): tests never need root for it, nor share it. */
    ck_assert_msg(strstr(tpl, "pid_file = ") != NULL, "the configuration sets no pid_file (PX_GLOBAL does)");
    write_config(e, tpl);
    const char *argv[] = {SETPRIV, "--pdeathsig", "KILL", "--", env_or_fail("PROXYD_BIN"), "-c", e->conf, NULL};
    int ready = ready_socket_open();
    e->pid = ts_spawn_port(argv, e->port, 10000);
    if (ready >= 0)
        unsetenv("NOTIFY_SOCKET");
    int said_ready = e->pid > 0 && (ready < 0 || ready_wait(ready, 10000));
    if (ready >= 0)
        close(ready);
    if (e->pid <= 0)
        e->pid = 0;
    if (!said_ready)
        dump_log(e);
    ck_assert_msg(e->pid > 0, "proxyd did not start listening on %d", e->port);
    ck_assert_msg(said_ready, "proxyd listens on %d but did not send READY=1 within 10 s", e->port);
}

int px_proxy_stop(px_env *e)
{
    int st = ts_stop(e->pid, SIGTERM, 10000);
    e->pid = 0;
    dump_log(e);
    return st;
}

int px_check_config(px_env *e, const char *tpl, char *out, size_t cap)
{
    char errpath[128];
    int status;
    write_config(e, tpl);
    snprintf(errpath, sizeof errpath, "%s/check.err", e->dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        execl(env_or_fail("PROXYD_BIN"), "proxyd", "-t", "-c", e->conf, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    char *err = px_read_file(errpath);
    snprintf(out, cap, "%s", err ? err : "");
    free(err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int px_origin_requests(int origin_port)
{
    ts_response r;
    long n = -1;
    if (ts_request(origin_port, "GET /stats HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n", &r) < 0)
        return -1;
    const char *p = r.status == 200 ? strstr(r.body, "\"requests\":") : NULL;
    if (p)
        n = strtol(p + strlen("\"requests\":"), NULL, 10);
    ts_response_free(&r);
    return (int)n;
}

void px_req(int port, const char *raw, ts_response *r)
{
    ck_assert_msg(ts_request(port, raw, r) == 0, "no complete response to: %s", raw);
}

int px_run(const char *cmd, char *out, size_t cap)
{
    FILE *fp = popen(cmd, "r");
    size_t len = 0, n;
    ck_assert_msg(fp != NULL, "popen %s", cmd);
    while (cap > 1 && len < cap - 1 && (n = fread(out + len, 1, cap - 1 - len, fp)) > 0)
        len += n;
    out[cap > 0 ? len : 0] = 0;
    char sink[4096];
    while (fread(sink, 1, sizeof sink, fp) > 0) {
    }
    int st = pclose(fp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int px_connect_from(const char *src, int port, int *sport)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    ck_assert_int_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
    ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind %s: %s", src, strerror(errno));
    struct timeval tv = {TS_IO_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    socklen_t len = sizeof a;
    if (sport) {
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        *sport = ntohs(a.sin_port);
    }
    return fd;
}
