/* proxyd daemon: the main thread once the configuration is loaded: pid file, privileges, starting the workers, and
 * the signal loop (reload, reopen, graceful and fast stop). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/notify.h"
#include "core/probe.h"
#include "core/worker.h"

static int drop_privileges(const char *user)
{
    if (!user || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        px_error("user \"%s\" does not exist", user);
        return -1;
    }
    /* The user's own supplementary groups, as nginx: ssl-cert is how Debian lets a service read private keys. */
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        px_error("cannot switch to user \"%s\": %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

/* Started as root, a missing pid file folder is created (one level, 0755) and given to `user`, who removes the
 * pid file at stop: what systemd's RuntimeDirectory= does for the unit. */
static void make_pid_folder(const char *path, const char *user)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    if (geteuid() != 0 || mkdir(dir, 0755) != 0)
        return; /* not root, or it exists (or cannot be made: writing the file says why) */
    struct passwd *pw = user ? getpwnam(user) : NULL;
    if (pw && chown(dir, pw->pw_uid, pw->pw_gid) != 0)
        px_warn("pid file folder %s: cannot give it to user %s: %s", dir, user, strerror(errno));
}

/* Writes the pid file, before dropping privileges as nginx does; -s and logrotate find proxyd through it, so a
 * pid file that cannot be written stops the start (-t checks it beforehand). Never through a symbolic link: the
 * folder may be `user`'s, and root must not truncate whatever file that user points it at. */
static int write_pid(const px_config *cfg)
{
    make_pid_folder(cfg->pid_file, cfg->user);
    int fd = open(cfg->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || dprintf(fd, "%ld\n", (long)getpid()) < 0) {
        const char *why = strerror(errno);
        px_error("cannot write the pid file %s: %s (see proxyd -t)", cfg->pid_file, why);
        fprintf(stderr, "proxyd: cannot write the pid file %s: %s (see proxyd -t)\n", cfg->pid_file, why);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void broadcast(px_daemon *d)
{
    for (unsigned i = 0; i < d->nworkers; i++)
        px_worker_wake(&d->workers[i]);
}

int px_open_server_logs(px_config *cfg, char *err, size_t cap)
{
    for (int i = 0; i < cfg->nservers; i++) {
        px_server *s = &cfg->servers[i];
        if (!s->access_log || s->access_log_off)
            continue;
        int sink = px_access_sink_open(s->access_log);
        if (sink < 0) {
            snprintf(err, cap, "[server %s] cannot open access log %s: %s", s->name, s->access_log,
                     sink == -ENOSPC ? "too many distinct access_log files since start" : strerror(-sink));
            return -1;
        }
        s->access_sink = sink;
    }
    for (int i = 0; i < cfg->nservers; i++) {
        px_server *s = &cfg->servers[i];
        if (!s->error_log)
            continue;
        int sink = px_error_sink_open(s->error_log);
        if (sink < 0) {
            snprintf(err, cap, "[server %s] cannot open error log %s: %s", s->name, s->error_log,
                     sink == -ENOSPC ? "too many distinct error_log files since start" : strerror(-sink));
            return -1;
        }
        s->error_sink = sink;
    }
    return 0;
}

/* The per-server access logs SIGUSR1 reopens: those of the configuration now running. */
static void server_logs_in_use(const px_config *cfg)
{
    int used[PX_ACCESS_SINKS], n = 0;
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        int k = 0;
        while (k < n && used[k] != s->access_sink)
            k++;
        if (s->access_log && !s->access_log_off && k == n && n < PX_ACCESS_SINKS)
            used[n++] = s->access_sink; /* distinct sinks: fewer than PX_ACCESS_SINKS */
    }
    px_access_sinks_used(used, n);
    n = 0;
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        int k = 0;
        while (k < n && used[k] != s->error_sink)
            k++;
        if (s->error_log && k == n && n < PX_ACCESS_SINKS)
            used[n++] = s->error_sink;
    }
    px_error_sinks_used(used, n);
}

/* Loads a configuration with its error lines going to the error log, one log line each. */
static px_config *load_logged(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return px_config_load(path, stderr);
    px_config *cfg = px_config_load(path, mem);
    fclose(mem);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        cfg ? px_warn("%s", line) : px_error("%s", line);
    free(text);
    return cfg;
}

static void reload(px_daemon *d)
{
    char err[512];
    px_notice("reloading %s", d->conf_path);
    px_notify("RELOADING=1");
    px_config *cfg = load_logged(d->conf_path);
    if (!cfg) {
        px_error("reload failed: the configuration has errors (see above); still serving the previous one");
        px_notify("READY=1");
        return;
    }
    if (px_open_server_logs(cfg, err, sizeof(err)) < 0) {
        px_error("reload failed: %s; still serving the previous one", err);
        px_config_free(cfg);
        px_notify("READY=1");
        return;
    }
    px_runtime *old = atomic_load(&d->rt);
    px_runtime *rt = px_runtime_new(cfg, d->nworkers, d->hooks->exchange_size, old, err, sizeof(err));
    if (!rt) {
        px_error("reload failed: %s; still serving the previous one", err);
        px_config_free(cfg);
        px_notify("READY=1");
        return;
    }
    atomic_store(&d->acks, 0);
    atomic_store(&d->rt, rt);
    server_logs_in_use(cfg);
    broadcast(d);
    px_prober_wake(d->prober);
    for (int i = 0; i < 2000 && atomic_load(&d->acks) < (int)d->nworkers; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    px_log_open(cfg->error_log, cfg->log_level);
    px_access_open(cfg->access_log);
    if (atomic_load(&d->acks) >= (int)d->nworkers)
        px_runtime_close_listeners(old); /* every worker stopped accepting on them */
    px_runtime_unref(old);
    atomic_fetch_add(&d->reloads, 1);
    px_notice("reloaded (generation %u)", rt->generation);
    px_notify("READY=1");
}

/* The workers stop (1: gracefully, 2: at once); the main loop ends. */
static void stop(px_daemon *d, int how)
{
    px_notice(how == 1 ? "graceful stop: no longer accepting, finishing requests in flight" : "stop requested");
    wire_timer_stop(d->loop, &d->drain);
    atomic_store(&d->draining, 1);
    atomic_store(&d->stopping, how);
    broadcast(d);
    wire_loop_stop(d->loop);
}

static void on_drained(wire_loop *loop, wire_timer *t)
{
    stop(t->data, 1);
}

/* SIGQUIT: with drain_delay, /healthz answers 503 that long while everything still serves, so that an L4 balancer
 * moves new connections away before any is refused; then the graceful stop. A second SIGQUIT ends the delay. */
static void quit(px_daemon *d)
{
    uint64_t delay = atomic_load(&d->rt)->cfg->drain_delay;
    if (atomic_load(&d->draining) || !delay) {
        px_notice("graceful stop requested");
        stop(d, 1);
        return;
    }
    px_notice("graceful stop requested: draining for %llums (/healthz answers 503), then no longer accepting",
              (unsigned long long)delay);
    atomic_store(&d->draining, 1);
    wire_timer_start(d->loop, &d->drain, delay);
}

static void on_signal(wire_loop *loop, int signo, void *data)
{
    px_daemon *d = data;
    switch (signo) {
    case SIGHUP: reload(d); return;
    case SIGUSR1:
        px_log_reopen();
        px_error_sinks_reopen();
        px_access_reopen();
        px_notice("logs reopened");
        return;
    case SIGQUIT: quit(d); return;
    default: stop(d, 2); return;
    }
}

/* The main thread's loop and its signals; SIGPIPE ignored (a write to a closed socket is an error code). */
static int main_loop(px_daemon *d)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGHUP, SIGUSR1, SIGQUIT, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&set, sigs[i]);
    signal(SIGPIPE, SIG_IGN);
    if (wire_loop_new(&d->loop) < 0 || wire_signal_start(d->loop, &set, on_signal, d) < 0) {
        fprintf(stderr, "proxyd: cannot create the main event loop\n");
        return -1;
    }
    wire_timer_init(&d->drain, on_drained, d);
    return 0;
}

static int start_workers(px_daemon *d, px_runtime *rt)
{
    d->workers = calloc(d->nworkers, sizeof(px_worker));
    if (!d->workers) {
        fprintf(stderr, "proxyd: out of memory for %u workers\n", d->nworkers);
        return -1;
    }
    for (unsigned i = 0; i < d->nworkers; i++)
        if (px_worker_start(&d->workers[i], d, i, rt) < 0) {
            fprintf(stderr, "proxyd: cannot start worker %u\n", i);
            return -1;
        }
    while (atomic_load(&d->ready) < (int)d->nworkers)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return 0;
}

/* After the main loop stopped: the workers finish, then everything they shared goes. */
static void shut_down(px_daemon *d)
{
    for (unsigned i = 0; i < d->nworkers; i++)
        wire_worker_join(&d->workers[i].thread);
    free(d->workers);
    px_prober_stop(d->prober);
    wire_timer_stop(d->loop, &d->drain);
    wire_signal_stop(d->loop);
    wire_loop_free(d->loop);
    px_runtime *last = atomic_load(&d->rt);
    unlink(last->cfg->pid_file);
    px_runtime_unref(last);
    px_access_open(NULL);
    px_notice("stopped");
    px_log_close();
}

int px_daemon_run(px_daemon *d, px_config *cfg)
{
    char err[512];
    if (main_loop(d) < 0)
        return 1;
    long nofile = wire_raise_nofile((long)cfg->nofile);
    if (nofile < (long)cfg->nofile)
        px_warn("nofile: could only raise the descriptor limit to %ld", nofile);
    d->nworkers = cfg->workers ? (unsigned)cfg->workers : wire_cpu_count();
    px_runtime *rt = px_runtime_new(cfg, d->nworkers, d->hooks->exchange_size, NULL, err, sizeof(err));
    if (!rt) {
        fprintf(stderr, "proxyd: %s\n", err);
        px_config_free(cfg);
        return 1;
    }
    atomic_store(&d->rt, rt);
    server_logs_in_use(cfg);
    if (write_pid(cfg) < 0) {
        px_runtime_unref(rt);
        wire_signal_stop(d->loop);
        wire_loop_free(d->loop);
        return 1;
    }
    if (drop_privileges(cfg->user) < 0 || start_workers(d, rt) < 0)
        return 1;
    d->prober = px_prober_start(d);
    px_notice("proxyd %s started with %u worker(s)", PX_VERSION, d->nworkers);
    px_notify_ready();
    wire_loop_run(d->loop);
    shut_down(d);
    return 0;
}
