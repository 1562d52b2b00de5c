/* End-to-end tests of configuration reloads: five SIGHUPs under continuous keep-alive load with zero failed
 * requests, a broken configuration that leaves the running one serving, and `proxyd -s` through the pid file. */
#include "ops.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static px_env env;

#define RELOAD_GLOBAL "[global]\nworkers = 2\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n"
#define RELOAD_SERVER                                                                                                  \
    "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 32\n"                                                          \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

/* Writes the configuration of generation gen (its responses carry X-Gen: gen), plus extra lines in [global]. */
static void write_gen(int gen, const char *extra)
{
    char tpl[2048];
    snprintf(tpl, sizeof tpl, RELOAD_GLOBAL "%s" RELOAD_SERVER "add_header = X-Gen: %d\n", extra, gen);
    char *text = px_expand(&env, tpl);
    px_write_file(env.conf, text);
    free(text);
}

/* Starts proxyd on generation 0 (the written file is already expanded: no placeholders left). */
static void start_gen0(void)
{
    write_gen(0, "");
    char *text = px_read_file(env.conf);
    px_proxy_start(&env, text);
    free(text);
}

/* Polls fresh connections until their answers carry X-Gen: gen. Returns 1 when seen within timeout_ms. */
static int wait_gen(int gen, int timeout_ms)
{
    char want[16];
    snprintf(want, sizeof want, "%d", gen);
    int64_t deadline = ops_now_ms() + timeout_ms;
    do {
        const char *v = ops_get_field(env.port, "/size/1", "X-Gen");
        if (v && strcmp(v, want) == 0)
            return 1;
        ops_sleep_ms(20);
    } while (ops_now_ms() < deadline);
    return 0;
}

/* ------------------------------------------------------------------ reload under load */

#define LOAD_THREADS 4
#define LOAD_TOTAL 12000
#define LOAD_BODY 64

typedef struct load {
    atomic_int done, failed, reconnects, stop;
    pthread_mutex_t mu;
    char first_failure[512]; /* the first failure, for the assertion message */
    int last_gen[LOAD_THREADS];
} load;

static load ld = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void load_fail(const char *what, int port_fd, const ts_response *r)
{
    atomic_fetch_add(&ld.failed, 1);
    pthread_mutex_lock(&ld.mu);
    if (!ld.first_failure[0])
        snprintf(ld.first_failure, sizeof ld.first_failure, "%s (fd %d, after %d requests): %.200s", what, port_fd,
                 atomic_load(&ld.done), r ? r->head : "");
    pthread_mutex_unlock(&ld.mu);
}

/* One client: keep-alive requests back to back; reconnects only after an answer that announced the close. */
static void *load_client(void *arg)
{
    int id = (int)(intptr_t)arg, fd = ts_connect(env.port);
    const char *req = "GET /size/64 HTTP/1.1\r\nHost: load\r\n\r\n";
    ts_response r;
    while (fd >= 0 && !atomic_load(&ld.stop)) {
        if (ts_send(fd, req, strlen(req)) < 0) {
            load_fail("send failed on a keep-alive connection", fd, NULL);
            break;
        }
        if (ts_read_response(fd, &r, 0) < 0) {
            load_fail("no complete response (connection closed or reset without Connection: close)", fd, NULL);
            break;
        }
        const char *gen = ts_header(&r, "X-Gen");
        ld.last_gen[id] = gen ? atoi(gen) : -1;
        if (r.status != 200 || r.body_len != LOAD_BODY || !gen)
            load_fail("bad response", fd, &r);
        else
            atomic_fetch_add(&ld.done, 1);
        const char *conn = ts_header(&r, "Connection");
        int closing = r.closed || (conn && strcasecmp(conn, "close") == 0);
        ts_response_free(&r);
        if (closing) {
            close(fd);
            fd = ts_connect(env.port);
            atomic_fetch_add(&ld.reconnects, 1);
            if (fd < 0)
                load_fail("reconnect refused", fd, NULL);
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* A keep-alive connection that has been answered on generation gen (so proxyd has accepted it) and is left idle. */
static int idle_before_reload(int gen)
{
    ts_response r;
    const char *req = "GET /size/64 HTTP/1.1\r\nHost: idle\r\n\r\n";
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(ts_header(&r, "X-Gen"));
    ck_assert_int_eq(atoi(ts_header(&r, "X-Gen")), gen);
    ck_assert_int_eq(r.closed, 0);
    ts_response_free(&r);
    return fd;
}

/* A connection opened before reload gen and idle while it happened answers its first request (on the old
 * configuration or the new one) and announces its close, instead of being dropped. */
static void idle_after_reload(int fd, int gen)
{
    ts_response r;
    const char *req = "GET /size/64 HTTP/1.1\r\nHost: idle\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_msg(ts_read_response(fd, &r, 0) == 0, "reload %d: an idle keep-alive connection got no answer", gen);
    ck_assert_int_eq(r.status, 200);
    const char *conn = ts_header(&r, "Connection");
    ck_assert_msg(conn && strcasecmp(conn, "close") == 0 && r.closed,
                  "reload %d: a connection from before it was not retired: %s", gen, r.head);
    ts_response_free(&r);
    close(fd);
}

/* Waits (5 s at most) until the error log reports n completed reloads. */
static void wait_reloaded(int n)
{
    int64_t deadline = ops_now_ms() + 5000;
    while (ops_file_count(env.log, "reloaded") < n && ops_now_ms() < deadline)
        ops_sleep_ms(10);
    ck_assert_int_eq(ops_file_count(env.log, "reloaded"), n);
}

static void wait_done(int n)
{
    int64_t deadline = ops_now_ms() + 30000;
    while (atomic_load(&ld.done) < n && !atomic_load(&ld.failed) && ops_now_ms() < deadline)
        ops_sleep_ms(5);
}

START_TEST(reload_under_load)
{
    pthread_t t[LOAD_THREADS];
    px_env_init(&env, 1);
    start_gen0();
    for (int i = 0; i < LOAD_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, load_client, (void *)(intptr_t)i), 0);
    int seen_all = 1;
    for (int gen = 1; gen <= 5; gen++) {
        wait_done(gen * LOAD_TOTAL / 7);
        int idle = idle_before_reload(gen - 1); /* idle across the reload: where nginx loses requests */
        write_gen(gen, "");
        ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
        seen_all &= wait_gen(gen, 5000);
        wait_reloaded(gen); /* every worker has switched, not only the one that answered wait_gen */
        idle_after_reload(idle, gen);
    }
    int after_last = atomic_load(&ld.done); /* then 2000 more requests at least, all on generation 5 */
    wait_done(after_last + 2000 > LOAD_TOTAL ? after_last + 2000 : LOAD_TOTAL);
    atomic_store(&ld.stop, 1);
    for (int i = 0; i < LOAD_THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_msg(atomic_load(&ld.failed) == 0, "%d failed requests; first: %s", atomic_load(&ld.failed),
                  ld.first_failure);
    ck_assert_msg(seen_all, "a reload was not visible on new connections within 5 s");
    ck_assert_int_ge(atomic_load(&ld.done), LOAD_TOTAL);
    ck_assert_int_ge(atomic_load(&ld.done), after_last + 2000);
    for (int i = 0; i < LOAD_THREADS; i++)
        ck_assert_msg(ld.last_gen[i] == 5, "client %d's last answer carried X-Gen: %d", i, ld.last_gen[i]);
    /* Connections from before a reload are retired (with Connection: close), at least one per reload. */
    ck_assert_int_ge(atomic_load(&ld.reconnects), 5);
    ck_assert_int_eq(ops_file_count(env.log, "reloaded"), 5);
    fprintf(stderr, "reload_under_load: %d requests, %d reconnects, 0 failed\n", atomic_load(&ld.done),
            atomic_load(&ld.reconnects));
    px_env_done(&env);
}
END_TEST

/* ------------------------------------------------------------------ broken configuration */

/* Sends SIGHUP for a broken configuration and checks the old one keeps answering on an old connection (without
 * retiring it) and on a new one, and that the error log names the problem. */
static void broken_reload(int fd, const char *extra, const char *named, int failures_before)
{
    ts_response r;
    write_gen(9, extra);
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    int64_t deadline = ops_now_ms() + 5000;
    while (ops_file_count(env.log, "reload failed") <= failures_before && ops_now_ms() < deadline)
        ops_sleep_ms(20);
    ck_assert_msg(ops_file_count(env.log, "reload failed") == failures_before + 1, "no \"reload failed\" logged");
    char *log = px_read_file(env.log);
    ck_assert_msg(log && strstr(log, named), "the error log does not name the problem (%s):\n%s", named,
                  log ? log : "");
    free(log);
    const char *req = "GET /size/3 HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(ts_header(&r, "X-Gen"), "0");
    ck_assert_msg(!ts_header(&r, "Connection") && !r.closed, "a failed reload retired a connection");
    ts_response_free(&r);
    const char *v = ops_get_field(env.port, "/size/3", "X-Gen");
    ck_assert_msg(v && strcmp(v, "0") == 0, "new connection after a failed reload: X-Gen %s", v ? v : "(none)");
}

START_TEST(reload_broken_config)
{
    px_env_init(&env, 1);
    start_gen0();
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    broken_reload(fd, "bogus_key = 1\n", "bogus_key", 0);
    broken_reload(fd, "max_connections = lots\n", "max_connections", 1);
    ck_assert_int_eq(ops_file_count(env.log, "reloaded"), 0);
    /* A good configuration afterwards is taken. */
    write_gen(2, "");
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(wait_gen(2, 5000), "a valid reload after failed ones was not applied");
    close(fd);
    px_env_done(&env);
}
END_TEST

/* ------------------------------------------------------------------ proxyd -s through the pid file */

static int proxyd_signal(const char *name)
{
    char cmd[512], out[1024];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' -s %s 2>&1", getenv("PROXYD_BIN"), env.conf, name);
    int rc = px_run(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "proxyd -s %s: exit %d: %s\n", name, rc, out);
    return rc;
}

START_TEST(signal_through_pid_file)
{
    char path[160];
    px_env_init(&env, 1);
    start_gen0();
    snprintf(path, sizeof path, "%s/proxyd.pid", env.dir);
    char *pid = px_read_file(path);
    ck_assert_msg(pid != NULL, "no pid file %s", path);
    ck_assert_int_eq(atoi(pid), env.pid);
    free(pid);
    write_gen(1, "");
    ck_assert_int_eq(proxyd_signal("reload"), 0);
    ck_assert_msg(wait_gen(1, 5000), "proxyd -s reload did not reload");
    ck_assert_int_eq(proxyd_signal("reopen"), 0);
    ck_assert_msg(ops_file_has(env.log, "logs reopened", 3000), "proxyd -s reopen: no \"logs reopened\"");
    ck_assert_int_eq(proxyd_signal("quit"), 0);
    int st = ops_reap(env.pid, 10000);
    ck_assert_msg(st == 0, "proxyd -s quit: exit status %d", st);
    env.pid = 0;
    ck_assert_msg(access(path, F_OK) != 0, "the pid file survived a clean stop");
    /* With nothing running, -s fails with a message instead of signalling a stale pid. */
    ck_assert_int_ne(proxyd_signal("reload"), 0);
    px_env_done(&env);
}
END_TEST

static Suite *reload_suite(void)
{
    Suite *s = suite_create("e2e_ops_reload");
    TCase *tc = tcase_create("reload");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, reload_under_load);
    tcase_add_test(tc, reload_broken_config);
    tcase_add_test(tc, signal_through_pid_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reload_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
