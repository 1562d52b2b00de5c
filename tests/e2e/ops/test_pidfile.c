/* End-to-end tests of the pid file and of what `user` must be able to read (issue 19.1): a pid file folder the
 * starting user cannot write fails -t and the start (it used to be logged while proxyd ran on, unreachable by -s
 * and logrotate); started as root, a missing folder is created for `user`, who removes the pid file at stop; a key
 * `user` cannot read fails -t and the start instead of the first reload. */
#include "ops.h"

#include <check.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static px_env env;

#define PID_SERVER                                                                                                     \
    "[upstream o]\nserver = 127.0.0.1:@O0@\n"                                                                          \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

/* proxyd with args on e->conf, as nobody when the test runs as root (root may write anywhere: the user who starts
 * proxyd, e.g. the systemd unit's www-data, may not), else as the test's user. Returns the exit status; stdout and
 * stderr land in out. */
static int run_proxyd(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "timeout 10 %s '%s' %s -c '%s' 2>&1",
             geteuid() == 0 ? "setpriv --reuid=nobody --regid=nogroup --clear-groups" : "", getenv("PROXYD_BIN"), args,
             env.conf);
    return px_run(cmd, out, cap);
}

/* @DIR@/run, which neither nobody nor (when not root) the test's user may write. */
static void make_run_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/run", env.dir);
    ck_assert_int_eq(mkdir(path, 0555), 0);
    ck_assert_int_eq(chmod(env.dir, 0711), 0); /* nobody reaches the files it is given by name */
}

/* The trap: the pid file where the user starting proxyd cannot write. -t fails with the reason (it used to
 * pass), and the start fails too, before serving (it used to log the error and run on). */
START_TEST(pid_folder_not_writable)
{
    char out[4096], want[256];
    px_env_init(&env, 1);
    make_run_dir();
    char *conf =
        px_expand(&env, "[global]\nworkers = 1\nerror_log = stderr\npid_file = @DIR@/run/proxyd.pid\n" PID_SERVER);
    px_write_file(env.conf, conf);
    free(conf);
    int rc = run_proxyd("-t", out, sizeof out);
    ck_assert_msg(rc == 1, "proxyd -t passed with an unwritable pid file folder (exit %d): %s", rc, out);
    snprintf(want, sizeof want, "proxyd.ini:4: [global] pid_file: %s/run/proxyd.pid: the folder %s/run is not writable",
             env.dir, env.dir);
    ck_assert_msg(strstr(out, want) && strstr(out, "use the default /run/proxyd/proxyd.pid"), "%s", out);
    rc = run_proxyd("", out, sizeof out);
    ck_assert_msg(rc == 1, "proxyd started with an unwritable pid file folder (exit %d): %s", rc, out);
    ck_assert_msg(strstr(out, want), "the start did not say why: %s", out);
    ck_assert_int_lt(ts_connect(env.port), 0); /* nothing listens */
    px_env_done(&env);
}
END_TEST

/* Started as root with `user`: the pid file's missing folder is created for that user (as systemd's
 * RuntimeDirectory= would), -s finds the process through it, and the user removes the pid file at stop. */
START_TEST(pid_folder_created_for_user)
{
    char path[160], out[1024];
    struct stat st;
    if (geteuid() != 0) {
        fprintf(stderr, "pid_folder_created_for_user: not root, nothing to check\n");
        return;
    }
    px_env_init(&env, 1);
    ck_assert_int_eq(chmod(env.dir, 0711), 0);
    px_proxy_start(&env, "[global]\nworkers = 1\nuser = nobody\nerror_log = stderr\nlog_level = info\n"
                         "pid_file = @DIR@/run/proxyd.pid\n" PID_SERVER);
    snprintf(path, sizeof path, "%s/run", env.dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg(S_ISDIR(st.st_mode) && st.st_uid == getpwnam("nobody")->pw_uid, "%s is not nobody's folder", path);
    snprintf(path, sizeof path, "%s/run/proxyd.pid", env.dir);
    char *pid = px_read_file(path);
    ck_assert_msg(pid && atoi(pid) == env.pid, "pid file %s: %s", path, pid ? pid : "missing");
    free(pid);
    snprintf(out, sizeof out, "'%s' -s quit -c '%s' 2>&1", getenv("PROXYD_BIN"), env.conf);
    char said[512];
    ck_assert_msg(px_run(out, said, sizeof said) == 0, "proxyd -s quit: %s", said);
    int rc = ops_reap(env.pid, 10000);
    env.pid = 0;
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(access(path, F_OK) != 0, "nobody could not remove the pid file at stop");
    px_env_done(&env);
}
END_TEST

/* The key as root made it (0600 root): nobody cannot read it, so the first reload would fail; -t and the start say
 * so now. Given to nobody's group (0640, as the manual says), it passes and a reload re-reads it. */
START_TEST(key_unreadable_by_user)
{
    char cmd[512], out[4096], want[256];
    if (geteuid() != 0) {
        fprintf(stderr, "key_unreadable_by_user: not root, `user` is ignored: nothing to check\n");
        return;
    }
    px_env_init(&env, 1);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
             "/CN=localhost -keyout key.pem -out cert.pem 2>&1 && chmod 600 key.pem && chmod 711 .",
             env.dir);
    ck_assert_msg(px_run(cmd, out, sizeof out) == 0, "openssl: %s", out);
    const char *tpl = "[global]\nworkers = 1\nuser = nobody\nerror_log = @LOG@\nlog_level = info\n"
                      "pid_file = @DIR@/run/proxyd.pid\n[upstream o]\nserver = 127.0.0.1:@O0@\n"
                      "[server s]\nlisten = 127.0.0.1:@PORT@ tls\ntls_cert = @DIR@/cert.pem\n"
                      "tls_key = @DIR@/key.pem\nproxy_pass = o\n";
    ck_assert_int_eq(px_check_config(&env, tpl, out, sizeof out), 1);
    snprintf(want, sizeof want, "proxyd.ini:12: [server s] tls_key: %s/key.pem is not readable by user nobody",
             env.dir);
    ck_assert_msg(strstr(out, want), "proxyd -t said: %s", out);
    snprintf(cmd, sizeof cmd, "timeout 10 '%s' -c '%s' 2>&1", getenv("PROXYD_BIN"), env.conf);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, want), "the start did not say why: %s", out);
    snprintf(cmd, sizeof cmd, "cd '%s' && chgrp nogroup key.pem && chmod 640 key.pem", env.dir);
    ck_assert_int_eq(px_run(cmd, out, sizeof out), 0);
    ck_assert_msg(px_check_config(&env, tpl, out, sizeof out) == 0, "%s", out);
    px_proxy_start(&env, tpl);
    ck_assert_int_eq(kill(env.pid, SIGHUP), 0);
    ck_assert_msg(ops_file_has(env.log, "reloaded", 5000), "the reload as nobody failed");
    px_env_done(&env);
}
END_TEST

static Suite *pidfile_suite(void)
{
    Suite *s = suite_create("e2e_ops_pidfile");
    TCase *tc = tcase_create("pidfile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pid_folder_not_writable);
    tcase_add_test(tc, pid_folder_created_for_user);
    tcase_add_test(tc, key_unreadable_by_user);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pidfile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
