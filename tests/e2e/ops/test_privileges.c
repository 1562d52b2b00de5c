/* End-to-end tests of privileges: started as root with `user = nobody`, every proxyd thread runs as nobody
 * and still serves; the pid file is written before the switch; a TLS private key readable by other users is
 * refused with a clear message, by `proxyd -t` and at start. */
#include "ops.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static px_env env;

#define PRIV_SERVER                                                                                                    \
    "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                          \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

/* The "Uid:" or "Gid:" line of /proc/pid/task/tid/status, without the tag (copied into out). */
static const char *id_line(pid_t pid, const char *tid, const char *tag, char *out, size_t cap)
{
    char path[300]; /* tid is a d_name: up to 255 bytes */
    snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, tid);
    char *text = px_read_file(path);
    const char *p = text ? strstr(text, tag) : NULL;
    out[0] = 0;
    if (p) {
        p += strlen(tag);
        while (*p == '\t' || *p == ' ')
            p++;
        size_t n = strcspn(p, "\n");
        snprintf(out, cap, "%.*s", (int)n, p);
    }
    free(text);
    return out;
}

/* The "Groups:" line holds exactly the user's groups as /etc/group lists them (initgroups, as nginx: a group such as
 * ssl-cert is how Debian lets a service read a private key), in any order. */
static int same_groups(const char *line, const struct passwd *pw)
{
    gid_t want[64];
    int n = 64;
    if (getgrouplist(pw->pw_name, pw->pw_gid, want, &n) < 0)
        return 0;
    int seen = 0;
    for (const char *p = line; *p;) {
        char *end;
        unsigned long g = strtoul(p, &end, 10);
        if (end == p)
            break;
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= want[i] == (gid_t)g;
        if (!found)
            return 0;
        seen++;
        p = end;
    }
    return seen == n;
}

START_TEST(drops_to_user)
{
    char want_uid[64], want_gid[64], got[64];
    ts_response r;
    if (geteuid() != 0) {
        fprintf(stderr, "drops_to_user: not root, nothing to check\n");
        return;
    }
    struct passwd *pw = getpwnam("nobody");
    ck_assert_ptr_nonnull(pw);
    snprintf(want_uid, sizeof want_uid, "%u\t%u\t%u\t%u", pw->pw_uid, pw->pw_uid, pw->pw_uid, pw->pw_uid);
    snprintf(want_gid, sizeof want_gid, "%u\t%u\t%u\t%u", pw->pw_gid, pw->pw_gid, pw->pw_gid, pw->pw_gid);
    px_env_init(&env, 1);
    ck_assert_int_eq(chmod(env.dir, 0711), 0); /* nobody re-reads the configuration at a reload */
    px_proxy_start(&env, "[global]\nworkers = 2\nuser = nobody\nerror_log = @LOG@\nlog_level = info\npid_file = "
                         "@DIR@/proxyd.pid\n" PRIV_SERVER);
    /* The port accepts once it is bound, before the main thread has created the workers; it logs this line after
     * the last one is up. Counting threads earlier finds one missing on a busy machine. */
    ck_assert_msg(ops_file_has(env.log, "started with 2 worker(s)", 10000), "proxyd did not log its start");
    px_req(env.port, "GET /size/5 HTTP/1.1\r\nHost: p\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ts_response_free(&r);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)env.pid);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int threads = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        threads++;
        ck_assert_msg(strcmp(id_line(env.pid, e->d_name, "Uid:", got, sizeof got), want_uid) == 0,
                      "thread %s Uid: %s, expected %s", e->d_name, got, want_uid);
        ck_assert_msg(strcmp(id_line(env.pid, e->d_name, "Gid:", got, sizeof got), want_gid) == 0,
                      "thread %s Gid: %s, expected %s", e->d_name, got, want_gid);
        ck_assert_msg(same_groups(id_line(env.pid, e->d_name, "Groups:", got, sizeof got), pw),
                      "thread %s Groups: %s, expected the groups of %s (initgroups)", e->d_name, got, pw->pw_name);
    }
    closedir(d);
    ck_assert_int_ge(threads, 3); /* the main thread and two workers */
    px_env_done(&env);
}
END_TEST

/* The pid file lives where only root may write (like /run); proxyd writes it before dropping privileges, so
 * that `proxyd -s` works. */
START_TEST(pid_file_written_as_root)
{
    char path[160];
    if (geteuid() != 0) {
        fprintf(stderr, "pid_file_written_as_root: not root, nothing to check\n");
        return;
    }
    px_env_init(&env, 1);
    ck_assert_int_eq(chmod(env.dir, 0711), 0); /* nobody re-reads the configuration at a reload */
    px_proxy_start(
        &env, "[global]\nworkers = 1\nuser = nobody\nerror_log = @LOG@\npid_file = @DIR@/proxyd.pid\n" PRIV_SERVER);
    snprintf(path, sizeof path, "%s/proxyd.pid", env.dir);
    char *pid = px_read_file(path);
    ck_assert_msg(pid != NULL, "no pid file %s with user = nobody", path);
    ck_assert_int_eq(atoi(pid), env.pid);
    free(pid);
    px_env_done(&env);
}
END_TEST

/* ------------------------------------------------------------------ private key permissions */

/* A self-signed certificate for CN=cn in @DIR@/cert.pem, its key in @DIR@/key.pem (both replaced). */
static void make_cert(const char *cn)
{
    char cmd[512], out[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=%s "
             "-keyout key.new -out cert.new 2>&1 && chmod 600 key.new && mv key.new key.pem && mv cert.new cert.pem",
             env.dir, cn);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl: %s", out);
}

static void make_key(void)
{
    make_cert("localhost");
}

static void key_mode(mode_t mode)
{
    char path[128];
    snprintf(path, sizeof path, "%s/key.pem", env.dir);
    ck_assert_int_eq(chmod(path, mode), 0);
}

#define TLS_CONF                                                                                                       \
    PX_GLOBAL "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                \
              "[server s]\nlisten = 127.0.0.1:@PORT@ tls\ntls_cert = @DIR@/cert.pem\ntls_key = @DIR@/key.pem\n"        \
              "proxy_pass = o\n"

START_TEST(key_mode_checked_by_t)
{
    char out[4096], want[160];
    px_env_init(&env, 1);
    make_key();
    key_mode(0644);
    ck_assert_int_eq(px_check_config(&env, TLS_CONF, out, sizeof out), 1);
    snprintf(want, sizeof want, "%s/key.pem is readable by other users", env.dir);
    ck_assert_msg(strstr(out, want) != NULL, "proxyd -t said: %s", out);
    ck_assert_msg(strstr(out, "tls_key") != NULL, "the key is not named: %s", out);
    key_mode(0600);
    ck_assert_msg(px_check_config(&env, TLS_CONF, out, sizeof out) == 0, "0600 key refused: %s", out);
    key_mode(0640);
    ck_assert_msg(px_check_config(&env, TLS_CONF, out, sizeof out) == 0, "0640 key refused: %s", out);
    px_env_done(&env);
}
END_TEST

/* Starting (not only -t) refuses the key: exits non-zero with the message, before serving anything. */
START_TEST(key_mode_refused_at_start)
{
    char errpath[160];
    px_env_init(&env, 1);
    make_key();
    key_mode(0644);
    char *conf = px_expand(&env, TLS_CONF);
    px_write_file(env.conf, conf);
    free(conf);
    snprintf(errpath, sizeof errpath, "%s/start.err", env.dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        execl(getenv("PROXYD_BIN"), "proxyd", "-c", env.conf, (char *)NULL);
        _exit(127);
    }
    int st = ops_reap(pid, 3000);
    if (st < 0) {
        kill(pid, SIGKILL);
        ops_reap(pid, 2000);
    }
    char *err = px_read_file(errpath), *log = px_read_file(env.log);
    ck_assert_msg(st > 0 && st < 126, "proxyd started with a world-readable key (status %d)", st);
    ck_assert_msg((err && strstr(err, "readable by other users")) || (log && strstr(log, "readable by other users")),
                  "no clear message: stderr %s, log %s", err ? err : "", log ? log : "");
    free(err);
    free(log);
    px_env_done(&env);
}
END_TEST

/* The subject of the certificate proxyd presents on @PORT@. */
static void served_subject(char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%d -servername localhost </dev/null 2>/dev/null | "
             "openssl x509 -noout -subject 2>&1",
             env.port);
    px_run(cmd, out, cap);
}

/* As root: the key owned by root, group nobody's, mode 0640. */
static void key_for_nobody(int root)
{
    char key[128];
    struct passwd *pw = getpwnam("nobody");
    if (!root)
        return;
    ck_assert_ptr_nonnull(pw);
    snprintf(key, sizeof key, "%s/key.pem", env.dir);
    ck_assert_int_eq(chown(key, 0, pw->pw_gid), 0);
    ck_assert_int_eq(chmod(key, 0640), 0);
}

/* SIGHUP re-reads certificates and keys: new connections get the new certificate. Started as root with
 * `user = nobody`, the reload runs as nobody, so the key is readable by nobody's group (0640, as the systemd
 * unit and the manual recommend) and the directory traversable. */
START_TEST(reload_certificate)
{
    char subject[512];
    int root = geteuid() == 0;
    px_env_init(&env, 1);
    make_cert("first.test");
    if (root)
        ck_assert_int_eq(chmod(env.dir, 0711), 0); /* nobody reaches the files it is given by name */
    const char *tpl =
        root
            ? "[global]\nworkers = 2\nuser = nobody\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n"
              "[upstream o]\nserver = 127.0.0.1:@O0@\n[server s]\nlisten = 127.0.0.1:@PORT@ tls\n"
              "tls_cert = @DIR@/cert.pem\ntls_key = @DIR@/key.pem\nproxy_pass = o\n"
            : TLS_CONF;
    key_for_nobody(root);
    px_proxy_start(&env, tpl);
    served_subject(subject, sizeof subject);
    ck_assert_msg(strstr(subject, "first.test") != NULL, "served at start: %s", subject);
    make_cert("second.test");
    key_for_nobody(root);
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    int64_t deadline = ops_now_ms() + 5000;
    while (!ops_file_count(env.log, "reloaded") && !ops_file_count(env.log, "reload failed") && ops_now_ms() < deadline)
        ops_sleep_ms(20);
    ck_assert_msg(ops_file_count(env.log, "reloaded") == 1, "the reload with new certificates failed");
    served_subject(subject, sizeof subject);
    ck_assert_msg(strstr(subject, "second.test") != NULL, "served after the reload: %s", subject);
    px_env_done(&env);
}
END_TEST

static Suite *priv_suite(void)
{
    Suite *s = suite_create("e2e_ops_privileges");
    TCase *tc = tcase_create("privileges");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, drops_to_user);
    tcase_add_test(tc, pid_file_written_as_root);
    tcase_add_test(tc, key_mode_checked_by_t);
    tcase_add_test(tc, key_mode_refused_at_start);
    tcase_add_test(tc, reload_certificate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(priv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
