/* tests/proxyd: the configuration loader under allocation failure. A reload runs the loader inside the serving
 * daemon, so the N-th allocation failing must give "out of memory" and NULL, never exit, and leak nothing.
 * The executable is linked with -Wl,--wrap for each allocator (and exit), so the loader's calls land here. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_exit(int status) __attribute__((noreturn));
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_exit(int status) __attribute__((noreturn));

/* Armed only around px_config_load: Check's own allocations are not counted. */
static struct {
    int armed;
    int sticky; /* every allocation from fail_at on fails (memory exhausted), not only that one */
    long fail_at;
    long count;
    long injected;
} inj;

static int fail_now(void)
{
    if (!inj.armed)
        return 0;
    inj.count++;
    if (inj.count == inj.fail_at || (inj.sticky && inj.count > inj.fail_at)) {
        inj.injected++;
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

/* The defect: exit(1) from the loader. Fail the test with the allocation that caused it instead. */
void __wrap_exit(int status)
{
    if (inj.armed) {
        long at = inj.fail_at;
        inj.armed = 0;
        ck_abort_msg("the loader called exit(%d) when allocation %ld failed", status, at);
    }
    __real_exit(status);
}

static char path[64], keypath[64];
static char errbuf[16384];

/* Several servers (one inheriting, one overriding), upstreams, routes, headers, templates, lists, allow/deny rules
 * and a [status] with its default allow list: every kind of allocation the loader makes. */
static const char *const conf_fmt =
    "[global]\n"
    "workers = 2\nuser = nobody\npid_file = /run/proxyd.pid\nerror_log = /var/log/proxyd/error.log\n"
    "access_log = /var/log/proxyd/access.log main\ntls_ticket_key_file = %s\n"
    "log_format = main $remote_addr \"$request\" $status $host\n  $server $request_id\n"
    "log_format = j escape=json {\"s\":$status}\n"
    "tls_protocols = TLSv1.2 TLSv1.3\ntls_ciphers = ECDHE-RSA-AES128\n"
    "keepalive_timeout = 15s\ngzip = on\ngzip_types = text/plain text/css\n  application/json\n"
    "[status]\nlisten = 127.0.0.1:9145\n"
    "[upstream app]\nserver = 127.0.0.1:8081 weight=3\nserver = 127.0.0.1:8082 backup\nbalance = least_conn\n"
    "[upstream api]\nserver = [::1]:8083\ntls = on\ntls_ca = %s\ntls_server_name = api.internal\n"
    "tls_cert = %s\ntls_key = %s\n"
    "[upstream static]\nserver = 127.0.0.1:8084\n"
    "[server www]\nlisten = 127.0.0.1:8080 default\nlisten = 127.0.0.1:8443 tls\n"
    "server_name = www.example.com example.com\n  *.example.org\ntls_cert = %s\ntls_key = %s\n"
    "proxy_pass = app\nroute = /api api read_timeout=90s header_timeout=10s\nroute = /static static\n"
    "proxy_set_header = X-Forwarded-For: $proxy_add_x_forwarded_for\nproxy_set_header = X-Real-IP: $remote_addr\n"
    "proxy_set_header = Host: $host\nadd_header = X-Frame-Options: DENY always\n"
    "add_header = X-Served-By: $server_name\n"
    "allow = 10.0.0.0/8 192.168.0.0/16\n  2001:db8::/32\ndeny = all\nlimit_conn = 10\nlimit_req = 10r/s burst=5\n"
    "proxy_redirect = https://$host:4443/ https://$host/\nproxy_redirect = default\n"
    "[server api]\nlisten = 127.0.0.1:8080\nserver_name = api.example.com\nproxy_pass = https://api\n"
    "gzip_types = application/xml\nkeepalive_timeout = 5s\naccess_log = /var/log/proxyd/api.log j\n"
    "[server redirect]\nlisten = 127.0.0.1:8080\nserver_name = old.example.com\n"
    "return = 301 https://www.example.com$request_uri\n"
    "[server files]\nlisten = 127.0.0.1:8090\nroot = /srv/www\nindex = index.html\n";

/* Writes the configuration and two files it names (tls_cert and tls_key must be readable). */
static void write_conf(void)
{
    char text[8192];
    strcpy(path, "/tmp/pxoom-XXXXXX");
    strcpy(keypath, "/tmp/pxoomk-XXXXXX");
    int fd = mkstemp(path), kfd = mkstemp(keypath);
    ck_assert(fd >= 0 && kfd >= 0);
    close(kfd);
    int n = snprintf(text, sizeof(text), conf_fmt, keypath, path, path, keypath, path, keypath);
    ck_assert(n > 0 && (size_t)n < sizeof(text));
    ck_assert_int_eq(write(fd, text, (size_t)n), n);
    close(fd);
}

static px_config *load_with(long fail_at, int sticky)
{
    FILE *err = fmemopen(errbuf, sizeof(errbuf), "w");
    ck_assert_ptr_nonnull(err);
    setvbuf(err, NULL, _IONBF, 0);
    inj.count = inj.injected = 0;
    inj.fail_at = fail_at;
    inj.sticky = sticky;
    inj.armed = 1;
    px_config *cfg = px_config_load(path, err);
    inj.armed = 0;
    fclose(err);
    return cfg;
}

/* Fails allocation N for N = 1, 2, ... until a load makes fewer than N allocations (and so succeeds). */
static void fail_each_allocation(int sticky)
{
    long n;
    for (n = 1; n < 100000; n++) {
        memset(errbuf, 0, sizeof(errbuf));
        px_config *cfg = load_with(n, sticky);
        if (!inj.injected) {
            ck_assert_msg(cfg != NULL, "no allocation failed but the load did: %s", errbuf);
            ck_assert_int_eq(cfg->nservers, 4);
            px_config_free(cfg);
            break;
        }
        ck_assert_msg(cfg == NULL, "allocation %ld failed but the load succeeded", n);
        ck_assert_msg(strstr(errbuf, "out of memory") != NULL, "allocation %ld: no \"out of memory\" in: %s", n,
                      errbuf);
        ck_assert_msg(strstr(errbuf, path) != NULL, "allocation %ld: the error does not name the file: %s", n, errbuf);
#ifdef __SANITIZE_ADDRESS__
        ck_assert_msg(__lsan_do_recoverable_leak_check() == 0, "allocation %ld failed: leak (report above)", n);
#endif
    }
    ck_assert_int_gt(n, 50); /* the configuration is realistic: many allocations were tried */
}

START_TEST(start_fails_each_allocation)
{
    write_conf();
    fail_each_allocation(_i);
    unlink(path);
    unlink(keypath);
}
END_TEST

/* A reload: the running configuration stays loaded while the new one fails, and is untouched by it. */
START_TEST(reload_fails_each_allocation)
{
    write_conf();
    memset(errbuf, 0, sizeof(errbuf));
    px_config *running = px_config_load(path, stderr);
    ck_assert_ptr_nonnull(running);
    fail_each_allocation(_i);
    ck_assert_int_eq(running->nservers, 4);
    ck_assert_str_eq(running->servers[0].set_headers[0].name, "X-Forwarded-For");
    ck_assert_str_eq(running->servers[1].gzip.types[0], "application/xml");
    ck_assert_str_eq(running->upstreams[1].tls_server_name, "api.internal");
    px_config_free(running);
    unlink(path);
    unlink(keypath);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_config_oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, start_fails_each_allocation, 0, 2); /* 0: only allocation N fails; 1: N and after */
    tcase_add_loop_test(tc, reload_fails_each_allocation, 0, 2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
