/* tests/proxyd: core/: a runtime built for more workers than the old fixed arrays held (defect: `workers = auto`
 * on a host with more than 256 CPUs wrote past fds[256]), and its sockets and state sized by the worker count; the
 * limit table carried over a reload; allow/deny decided at accept only when every server on an address has a list;
 * -t checks of the pid file's folder and of what `user` can re-read (issue 19.1). */
#include <arpa/inet.h>
#include <check.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/probe.h"
#include "core/runtime.h"
#include "upstream/upstream.h"

static px_config *load(const char *text)
{
    char path[] = "/tmp/pxcore-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    px_config *cfg = px_config_load(path, stderr);
    unlink(path);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

START_TEST(runtime_for_many_workers)
{
    enum { WORKERS = 300 };
    px_config *cfg = load("[upstream app]\nserver = 127.0.0.1:9\n"
                          "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\n"
                          "[server b]\nlisten = 127.0.0.2:0\nproxy_pass = app\n");
    char err[256] = "";
    px_runtime *rt = px_runtime_new(cfg, WORKERS, 64, NULL, err, sizeof(err));
    ck_assert_msg(rt != NULL, "%s", err);
    ck_assert_int_eq(rt->nbinds, 2);
    for (int i = 0; i < rt->nbinds; i++) {
        ck_assert_int_eq(rt->binds[i].index, i);
        ck_assert_int_eq(rt->binds[i].status, 0);
        ck_assert_int_eq(rt->binds[i].nservers, 1);
        for (int k = 0; k < WORKERS; k++)
            ck_assert_int_ge(rt->binds[i].fds[k], 0);
    }
    ck_assert_ptr_eq(rt->binds[1].default_server, &cfg->servers[1]);
    ck_assert_uint_eq(rt->nworkers, WORKERS);
    ck_assert_uint_eq(px_runtime_in_block_size(rt), rt->buf_size + rt->fields_cap * sizeof(http_field) + 64);
    px_runtime_unref(rt); /* closes 600 sockets, frees everything: ASan checks */
}
END_TEST

/* A failed runtime leaves the configuration to the caller and leaks nothing. */
START_TEST(runtime_failure_leaves_config)
{
    px_config *cfg = load("[upstream app]\nserver = 127.0.0.1:9\n"
                          "[server a]\nlisten = 192.0.2.1:1\nproxy_pass = app\n"); /* not an address of ours */
    char err[256] = "";
    ck_assert_ptr_null(px_runtime_new(cfg, 2, 64, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "cannot listen on 192.0.2.1:1"), "%s", err);
    px_config_free(cfg);
}
END_TEST

#define APP "[upstream app]\nserver = 127.0.0.1:9\n"

static px_runtime *runtime(const char *text, px_runtime *old)
{
    char err[256] = "";
    px_runtime *rt = px_runtime_new(load(text), 1, 64, old, err, sizeof(err));
    ck_assert_msg(rt != NULL, "%s", err);
    return rt;
}

/* A reload keeps the table (and so every client's counts) while limit_table_size is the same, and makes a new one
 * when it changes; without limits there is none. */
START_TEST(limit_table_carried_over_reload)
{
    px_runtime *r1 = runtime("[global]\nlimit_table_size = 1000\n" APP
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\nlimit_conn = 2\n",
                             NULL);
    ck_assert_ptr_nonnull(r1->limits);
    ck_assert_uint_eq(px_limit_table_capacity(r1->limits), 1024); /* whole stripes */
    px_runtime *r2 = runtime("[global]\nlimit_table_size = 1000\n" APP
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\nlimit_req = 5r/s\n",
                             r1);
    ck_assert_ptr_eq(r2->limits, r1->limits);
    px_runtime *r3 = runtime("[global]\nlimit_table_size = 2000\n" APP
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\nlimit_req = 5r/s\n",
                             r2);
    ck_assert_ptr_ne(r3->limits, r2->limits);
    px_runtime *r4 = runtime(APP "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\n", r3);
    ck_assert_ptr_null(r4->limits);
    px_runtime_unref(r1); /* r2 still holds the shared table: ASan checks */
    px_runtime_unref(r2);
    px_runtime_unref(r3);
    px_runtime_unref(r4);
}
END_TEST

/* Active health checks (issue 18.2): fall bad checks in a row take a server down, rise good ones bring it back;
 * each change is reported once with its text, and a good check between bad ones starts the count again. */
START_TEST(probe_rise_fall)
{
    px_probe_state st = {0};
    char msg[256] = "";
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "timeout after 2s", msg, sizeof(msg)), 0);
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "timeout after 2s", msg, sizeof(msg)), 0);
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 1, "status 200", msg, sizeof(msg)), 0); /* the count starts again */
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "connection refused", msg, sizeof(msg)), 0);
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "connection refused", msg, sizeof(msg)), 0);
    ck_assert_int_eq(st.down, 0);
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "timeout after 2s", msg, sizeof(msg)), 1);
    ck_assert_int_eq(st.down, 1);
    ck_assert_str_eq(msg, "marked down: 3 failed checks, last: timeout after 2s");
    msg[0] = 0;
    for (int i = 0; i < 5; i++) /* still down: nothing more to say */
        ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "status 503", msg, sizeof(msg)), 0);
    ck_assert_str_eq(msg, "");
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 1, "status 200", msg, sizeof(msg)), 0);
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 0, "status 503", msg, sizeof(msg)), 0); /* not two in a row */
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 1, "status 200", msg, sizeof(msg)), 0);
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 1, "status 200", msg, sizeof(msg)), 1);
    ck_assert_int_eq(st.down, 0);
    ck_assert_str_eq(msg, "back up after 2 good checks");
    ck_assert_int_eq(px_probe_step(&st, 2, 3, 1, "status 200", msg, sizeof(msg)), 0);
    /* rise = fall = 1 */
    px_probe_state one = {0};
    ck_assert_int_eq(px_probe_step(&one, 1, 1, 0, "connection reset", msg, sizeof(msg)), 1);
    ck_assert_str_eq(msg, "marked down: 1 failed check, last: connection reset");
    ck_assert_int_eq(px_probe_step(&one, 1, 1, 1, "status 200", msg, sizeof(msg)), 1);
    ck_assert_str_eq(msg, "back up after 1 good check");
    char d[16];
    px_probe_duration(2000, d, sizeof(d));
    ck_assert_str_eq(d, "2s");
    px_probe_duration(200, d, sizeof(d));
    ck_assert_str_eq(d, "200ms");
}
END_TEST

/* A server active checks hold down is out of rotation, even alone; the state carries over a reload for the servers
 * both configurations check, and new ones start up. */
START_TEST(probe_state_in_rotation_and_reload)
{
    px_runtime *r1 = runtime("[upstream app]\nserver = 127.0.0.1:9\nserver = 127.0.0.2:9\nhealth_check = tcp\n"
                             "[upstream solo]\nserver = 127.0.0.3:9\nhealth_check = GET /\n"
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\n",
                             NULL);
    const px_upstream *app = &r1->cfg->upstreams[0], *solo = &r1->cfg->upstreams[1];
    ck_assert_int_eq(px_upstream_server_up(r1, app, 0, 1), 1);
    atomic_store(&px_runtime_health(r1, app, 0)->active_down, 1);
    px_runtime_health(r1, app, 0)->probe.down = 1;
    atomic_store(&px_runtime_health(r1, solo, 0)->active_down, 1);
    ck_assert_int_eq(px_upstream_server_up(r1, app, 0, 1), 0);
    ck_assert_int_eq(px_upstream_server_up(r1, app, 1, 1), 1);
    ck_assert_int_eq(px_upstream_server_up(r1, solo, 0, 1), 0); /* a lone server too */
    px_runtime *r2 = runtime("[upstream app]\nserver = 127.0.0.4:9\nserver = 127.0.0.1:9\nhealth_check = tcp\n"
                             "[upstream solo]\nserver = 127.0.0.3:9\n"
                             "[server a]\nlisten = 127.0.0.1:0\nproxy_pass = app\n",
                             r1);
    const px_upstream *app2 = &r2->cfg->upstreams[0], *solo2 = &r2->cfg->upstreams[1];
    ck_assert_int_eq(px_upstream_server_up(r2, app2, 0, 1), 1);      /* new: starts up */
    ck_assert_int_eq(px_upstream_server_up(r2, app2, 1, 1), 0);      /* 127.0.0.1:9 carried over */
    ck_assert_int_eq(px_upstream_server_up(r2, solo2, 0, 1), 1);     /* no longer checked */
    ck_assert_int_eq(px_runtime_health(r2, app2, 1)->probe.down, 0); /* counts: the checker's, on its thread */
    px_probe_carry(r2, r1, 1);
    ck_assert_int_eq(px_runtime_health(r2, app2, 1)->probe.down, 1);
    px_runtime_unref(r1);
    px_runtime_unref(r2);
}
END_TEST

static px_ip v4(const char *text)
{
    px_ip ip = {PX_IP_V4, {0}};
    ck_assert_int_eq(inet_pton(AF_INET, text, ip.addr), 1);
    return ip;
}

/* A client is refused at accept only when every server on the address denies it; one server without a list lets
 * everyone through to the per-request check. */
START_TEST(acl_at_accept_needs_every_server)
{
    px_runtime *rt = runtime(APP "[server a]\nlisten = 127.0.0.1:0\nserver_name = a\nproxy_pass = app\n"
                                 "deny = 127.0.0.2\n"
                                 "[server b]\nlisten = 127.0.0.1:0\nserver_name = b\nproxy_pass = app\n"
                                 "allow = 127.0.0.3\ndeny = 127.0.0.0/8\n"
                                 "[server c]\nlisten = 127.0.0.2:0\nproxy_pass = app\nallow = 127.0.0.1\ndeny = all\n"
                                 "listen = 127.0.0.1:0\n",
                             NULL);
    ck_assert_int_eq(rt->nbinds, 2);
    px_bind *shared = &rt->binds[0], *other = &rt->binds[1];
    ck_assert_int_eq(shared->nservers, 3);
    ck_assert_int_eq(shared->acl_at_accept, 1);
    px_ip two = v4("127.0.0.2"), three = v4("127.0.0.3"), four = v4("127.0.0.4");
    ck_assert_int_eq(px_bind_refuses(shared, &two), 1);   /* a, b and c all deny it */
    ck_assert_int_eq(px_bind_refuses(shared, &three), 0); /* a lets it in (no rule matches) */
    ck_assert_int_eq(px_bind_refuses(shared, &four), 0);
    ck_assert_int_eq(other->acl_at_accept, 1);
    px_runtime_unref(rt);
    rt = runtime(APP "[server a]\nlisten = 127.0.0.1:0\nserver_name = a\nproxy_pass = app\ndeny = all\n"
                     "[server b]\nlisten = 127.0.0.1:0\nserver_name = b\nproxy_pass = app\n",
                 NULL);
    ck_assert_int_eq(rt->binds[0].acl_at_accept, 0);
    px_runtime_unref(rt);
}
END_TEST

/* ---------------------------------------------------------------- -t: the pid file and `user` */

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/pxchk-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0); /* nobody may traverse it */
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The configuration text written to dir/proxyd.ini and loaded (the file stays, for the checks that read it). */
static px_config *load_in_dir(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/proxyd.ini", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    px_config *cfg = px_config_load(path, stderr);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

/* Runs px_check_pid_file, as nobody when root (root may write anywhere: the check must hold for the user who
 * starts proxyd, e.g. the systemd unit's www-data). Returns its count; its text goes to out. */
static int pid_check_as_starter(const px_config *cfg, char *out, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/check.out", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *fp = fopen(path, "w");
        struct passwd *pw = getpwnam("nobody");
        if (!fp || (geteuid() == 0 && (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)))
            _exit(100);
        int n = px_check_pid_file(cfg, fp);
        fclose(fp);
        _exit(n);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 100);
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(out, 1, cap - 1, fp) : 0;
    out[n] = 0;
    if (fp)
        fclose(fp);
    return WEXITSTATUS(st);
}

/* The pid file's folder: writable is fine; not writable by the user who starts proxyd, or missing (and not
 * creatable), is an error naming pid_file and what to do. */
START_TEST(pid_folder_checked)
{
    char text[512], out[2048];
    make_dir();
    snprintf(text, sizeof text,
             "[global]\npid_file = %s/run/proxyd.pid\n[upstream a]\nserver = 127.0.0.1:9\n"
             "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = a\n",
             dir);
    snprintf(out, sizeof out, "%s/run", dir);
    ck_assert_int_eq(mkdir(out, 0777), 0);
    ck_assert_int_eq(chmod(out, 0777), 0);
    px_config *cfg = load_in_dir(text);
    ck_assert_msg(pid_check_as_starter(cfg, out, sizeof out) == 0, "%s", out);
    snprintf(out, sizeof out, "%s/run", dir);
    ck_assert_int_eq(chmod(out, 0555), 0);
    ck_assert_int_eq(pid_check_as_starter(cfg, out, sizeof out), 1);
    char want[256];
    snprintf(want, sizeof want,
             "proxyd.ini:2: [global] pid_file: %s/run/proxyd.pid: the folder %s/run is not writable by", dir, dir);
    ck_assert_msg(strstr(out, want) && strstr(out, "use the default /run/proxyd/proxyd.pid"), "%s", out);
    px_config_free(cfg);
    snprintf(text, sizeof text,
             "[global]\npid_file = %s/no/such/proxyd.pid\n[upstream a]\nserver = 127.0.0.1:9\n"
             "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = a\n",
             dir);
    cfg = load_in_dir(text);
    ck_assert_int_eq(pid_check_as_starter(cfg, out, sizeof out), 1);
    snprintf(want, sizeof want, "the folder %s/no/such does not exist", dir);
    ck_assert_msg(strstr(out, want), "%s", out);
    px_config_free(cfg);
    remove_dir();
}
END_TEST

/* An ECDSA P-256 self-signed pair in dir: key.pem (0600) and cert.pem (0644). */
static void make_ec_pair(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=t "
             "-keyout key.pem -out cert.pem >/dev/null 2>&1 && chmod 600 key.pem && chmod 644 cert.pem",
             dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* What a reload re-reads must be readable by `user`: checked as that user. A key 0600 root is not readable by
 * nobody (a root that skips permission checks would not see it); 0640 with nobody's group is. */
START_TEST(user_must_read_keys)
{
    char text[1024], out[4096] = "", key[128], cmd[512], want[256];
    if (geteuid() != 0) {
        fprintf(stderr, "user_must_read_keys: not root, `user` is ignored: nothing to check\n");
        return;
    }
    make_dir();
    make_ec_pair();
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(text, sizeof text,
             "[global]\nuser = nobody\npid_file = %s/proxyd.pid\n[upstream a]\nserver = 127.0.0.1:9\n"
             "[server s]\nlisten = 127.0.0.1:8443 tls\ntls_cert = %s/cert.pem\ntls_key = %s\n"
             "proxy_pass = a\n",
             dir, dir, key);
    px_config *cfg = load_in_dir(text);
    FILE *fp = fmemopen(out, sizeof out, "w");
    ck_assert_int_eq(px_check_user_access(cfg, fp), 1);
    fclose(fp);
    snprintf(want, sizeof want,
             "proxyd.ini:9: [server s] tls_key: %s is not readable by user nobody (Permission denied)", key);
    ck_assert_msg(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "the pid file at stop");
    ck_assert_msg(strstr(out, "warning: [global] pid_file:") && strstr(out, want), "%s", out); /* dir is root's */
    struct passwd *pw = getpwnam("nobody");
    ck_assert_int_eq(chown(key, 0, pw->pw_gid), 0);
    ck_assert_int_eq(chmod(key, 0640), 0);
    fp = fmemopen(out, sizeof out, "w");
    ck_assert_int_eq(px_check_user_access(cfg, fp), 0);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s/proxyd.ini", dir);
    ck_assert_int_eq(chmod(cmd, 0600), 0); /* the configuration itself */
    fp = fmemopen(out, sizeof out, "w");
    ck_assert_int_eq(px_check_user_access(cfg, fp), 1);
    fclose(fp);
    ck_assert_msg(strstr(out, "configuration (-c): ") && strstr(out, "is not readable by user nobody"), "%s", out);
    px_config_free(cfg);
    remove_dir();
}
END_TEST

START_TEST(user_must_exist)
{
    char out[1024] = "";
    if (geteuid() != 0)
        return;
    make_dir();
    px_config *cfg = load_in_dir("[global]\nuser = no-such-user-px\n[upstream a]\nserver = 127.0.0.1:9\n"
                                 "[server s]\nlisten = 127.0.0.1:8080\nproxy_pass = a\n");
    FILE *fp = fmemopen(out, sizeof out, "w");
    ck_assert_int_eq(px_check_user_access(cfg, fp), 1);
    fclose(fp);
    ck_assert_msg(strstr(out, "proxyd.ini:2: [global] user: there is no user \"no-such-user-px\""), "%s", out);
    px_config_free(cfg);
    remove_dir();
}
END_TEST

/* tls_cert and tls_key swapped: the key file holds a certificate, which is public, so its mode is not the
 * problem; -t says what is (issue 19 item 7). */
START_TEST(swapped_cert_and_key_named)
{
    char text[1024], out[2048] = "";
    make_dir();
    make_ec_pair();
    snprintf(text, sizeof text,
             "[global]\npid_file = %s/proxyd.pid\n[upstream a]\nserver = 127.0.0.1:9\n"
             "[server s]\nlisten = 127.0.0.1:8443 tls\ntls_cert = %s/key.pem\ntls_key = %s/cert.pem\nproxy_pass = a\n",
             dir, dir, dir);
    px_config *cfg = load_in_dir(text);
    FILE *fp = fmemopen(out, sizeof out, "w");
    ck_assert_int_eq(px_check_keys(cfg, fp), 1);
    fclose(fp);
    ck_assert_msg(strstr(out, "cert.pem holds a certificate, not a private key (tls_cert and tls_key swapped?)"), "%s",
                  out);
    ck_assert_msg(!strstr(out, "readable by other users"), "%s", out);
    px_config_free(cfg);
    remove_dir();
}
END_TEST

/* [global] tls_protocols and tls_ciphers are judged by libtlsio while -t builds each TLS listener: their messages
 * name the [global] line and the full key, once however many servers use them (issue 19 item 7). */
START_TEST(global_tls_keys_named)
{
    char text[1024], out[2048] = "";
    make_dir();
    make_ec_pair();
    static const char *const tail[] = {"tls_protocols = TLSv1.1 TLSv1.2\n", "tls_ciphers = FOO\n"};
    static const char *const want[] = {":15: warning: [global] tls_protocols: TLSv1.1 ignored",
                                       ":15: [global] tls_ciphers: unknown cipher suite 'FOO'"};
    for (int i = 0; i < 2; i++) {
        snprintf(
            text, sizeof text,
            "[upstream a]\nserver = 127.0.0.1:9\n"
            "[server s]\nlisten = 127.0.0.1:8443 tls\ntls_cert = %s/cert.pem\ntls_key = %s/key.pem\nproxy_pass = a\n"
            "[server t]\nlisten = 127.0.0.1:8444 tls\ntls_cert = %s/cert.pem\ntls_key = %s/key.pem\nproxy_pass = a\n"
            "[global]\npid_file = %s/proxyd.pid\n%s",
            dir, dir, dir, dir, dir, tail[i]);
        px_config *cfg = load_in_dir(text);
        FILE *fp = fmemopen(out, sizeof out, "w");
        ck_assert_int_eq(px_tls_check(cfg, fp) > 0, i); /* the warning is no error; the unknown cipher is */
        fclose(fp);
        ck_assert_msg(strstr(out, want[i]), "%s", out);
        ck_assert_msg(strstr(strstr(out, want[i]) + 1, want[i]) == NULL, "said twice: %s", out);
        ck_assert_msg(strstr(out, "[server") == NULL, "a [global] key blamed on a server: %s", out);
        px_config_free(cfg);
    }
    remove_dir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_core");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, runtime_for_many_workers);
    tcase_add_test(tc, runtime_failure_leaves_config);
    tcase_add_test(tc, limit_table_carried_over_reload);
    tcase_add_test(tc, acl_at_accept_needs_every_server);
    tcase_add_test(tc, pid_folder_checked);
    tcase_add_test(tc, user_must_read_keys);
    tcase_add_test(tc, user_must_exist);
    tcase_add_test(tc, swapped_cert_and_key_named);
    tcase_add_test(tc, global_tls_keys_named);
    tcase_add_test(tc, probe_rise_fall);
    tcase_add_test(tc, probe_state_in_rotation_and_reload);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
