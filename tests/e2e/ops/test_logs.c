/* End-to-end tests of the access log: combined lines moved to a new file by SIGUSR1 (logrotate's way), the
 * one-second flush, and one JSON object per line with access_log_format = json. */
#include "ops.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static px_env env;

#define LOG_SERVER                                                                                                     \
    "[upstream o]\nserver = 127.0.0.1:@O0@\nkeepalive = 8\n"                                                           \
    "[server s]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = o\n"

static void get(const char *target, int want)
{
    char raw[256];
    ts_response r;
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: logs\r\nUser-Agent: ops-test\r\n\r\n", target);
    px_req(env.port, raw, &r);
    ck_assert_int_eq(r.status, want);
    ts_response_free(&r);
}

/* Checks a combined line: the client, the quoted request line, the status, the user agent. */
static void assert_combined(const char *path, const char *target, int status)
{
    char want[256];
    char *text = px_read_file(path);
    ck_assert_msg(text != NULL, "no access log %s", path);
    snprintf(want, sizeof want, "\"GET %s HTTP/1.1\" %d ", target, status);
    const char *at = strstr(text, want);
    ck_assert_msg(at != NULL, "%s lacks %s:\n%s", path, want, text);
    const char *bol = at;
    while (bol > text && bol[-1] != '\n')
        bol--;
    ck_assert_msg(strncmp(bol, "127.0.0.1 - - [", 15) == 0, "not a combined line: %.200s", bol);
    const char *eol = strchr(at, '\n');
    ck_assert_msg(eol && memmem(at, (size_t)(eol - at), "\"ops-test\"", 10), "no user agent: %.200s", bol);
    free(text);
}

/* SIGUSR1 after logrotate renamed both logs: the access log's and the error log's new lines go to new files. */
START_TEST(reopen_moves_to_new_file)
{
    char alog[128], old[128], elog_old[128], uaddr[64];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    snprintf(old, sizeof old, "%s/access.log.1", env.dir);
    snprintf(elog_old, sizeof elog_old, "%s/error.log.1", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log\n" LOG_SERVER);
    get("/size/1?first", 200);
    ck_assert_msg(ops_file_has(alog, "/size/1?first", 1500), "the first line was not flushed within 1.5 s");
    snprintf(uaddr, sizeof uaddr, " uaddr=127.0.0.1:%d ut=", env.oport[0]);
    ck_assert_msg(ops_file_count(alog, uaddr) == 1, "no%s in the access line", uaddr);
    ck_assert_int_eq(rename(alog, old), 0);
    ck_assert_int_eq(rename(env.log, elog_old), 0);
    ck_assert_int_eq(kill(env.pid, SIGUSR1), 0);
    ck_assert_msg(ops_file_has(env.log, "logs reopened", 3000), "no \"logs reopened\" in a new error log");
    ck_assert_int_eq(ops_file_count(elog_old, "logs reopened"), 0);
    ck_assert_int_eq(ops_file_count(elog_old, "started"), 1);
    ck_assert_msg(access(alog, F_OK) == 0, "SIGUSR1 did not create a new access log");
    get("/size/2?second", 200);
    get("/status/404?third", 404);
    ck_assert_msg(ops_file_has(alog, "/status/404?third", 1500), "the new file did not get the new lines in 1.5 s");
    assert_combined(alog, "/size/2?second", 200);
    assert_combined(alog, "/status/404?third", 404);
    assert_combined(old, "/size/1?first", 200);
    ck_assert_int_eq(ops_file_count(alog, "?first"), 0);
    ck_assert_int_eq(ops_file_count(old, "?second"), 0);
    ck_assert_int_eq(ops_file_count(old, "?third"), 0);
    px_env_done(&env);
}
END_TEST

/* Lines still buffered at a clean stop are written, not lost. */
START_TEST(flushed_at_stop)
{
    char alog[128];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log\n" LOG_SERVER);
    for (int i = 0; i < 5; i++)
        get("/size/5?at-stop", 200);
    ck_assert_int_eq(px_proxy_stop(&env), 0);
    ck_assert_int_eq(ops_file_count(alog, "?at-stop"), 5);
    px_env_done(&env);
}
END_TEST

START_TEST(json_lines)
{
    char alog[128];
    px_env_init(&env, 1);
    snprintf(alog, sizeof alog, "%s/access.log", env.dir);
    px_proxy_start(&env, PX_GLOBAL "access_log = @DIR@/access.log\naccess_log_format = json\n" LOG_SERVER);
    get("/size/10?a=\"q\"", 200);
    get("/size/20", 200);
    get("/status/404", 404);
    ck_assert_msg(ops_file_has(alog, "/status/404", 1500), "no flush within 1.5 s");
    char *text = px_read_file(alog);
    int lines = 0, ok200 = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line);
        lines++;
        ck_assert_msg(n > 2 && line[0] == '{' && line[n - 1] == '}', "not a JSON object: %s", line);
        ck_assert_msg(strstr(line, "\"request\":\"GET /size/") || strstr(line, "\"request\":\"GET /status/404"),
                      "no request: %s", line);
        ok200 += strstr(line, "\"status\":200") != NULL;
        ck_assert_msg(!strstr(line, "a=\"q"), "an unescaped quote breaks the JSON: %s", line);
    }
    ck_assert_int_eq(lines, 3);
    ck_assert_int_eq(ok200, 2);
    ck_assert_int_eq(ops_file_count(alog, "\"status\":404"), 1);
    free(text);
    px_env_done(&env);
}
END_TEST

/* The client is named by address and port, or (as nginx does) by address alone: 127.0.0.1 then appears once
 * more than in the upstream's address. */
static int client_named(const char *line, const char *client)
{
    int n = 0;
    for (const char *p = strstr(line, "127.0.0.1"); p; p = strstr(p + 1, "127.0.0.1"))
        n++;
    return strstr(line, client) || n >= 2;
}

/* An error line about an upstream failure names the client, the server and the upstream (issue 8). */
START_TEST(error_line_context)
{
    char want_client[64], want_up[64];
    ts_response r;
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    px_env_init(&env, 0);
    px_proxy_start(&env, PX_GLOBAL "[upstream opsback]\nserver = 127.0.0.1:@DEAD@\n"
                                   "[server opsfront]\nlisten = 127.0.0.1:@PORT@\nproxy_pass = opsback\n");
    int fd = ts_connect(env.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    const char *req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    ck_assert_int_eq(ts_send(fd, req, strlen(req)), 0);
    ck_assert_int_eq(ts_read_response(fd, &r, 0), 0);
    ck_assert_int_eq(r.status, 502);
    ts_response_free(&r);
    close(fd);
    snprintf(want_client, sizeof want_client, "127.0.0.1:%d", ntohs(me.sin_port));
    snprintf(want_up, sizeof want_up, "127.0.0.1:%d", env.dead);
    ck_assert_msg(ops_file_has(env.log, want_up, 2000), "the upstream %s is not named", want_up);
    char *log = px_read_file(env.log), *copy = strdup(log);
    int found = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n"))
        found |= strstr(line, want_up) && client_named(line, want_client) && strstr(line, "opsfront");
    ck_assert_msg(found, "no error line names client %s, server opsfront and upstream %s:\n%s", want_client, want_up,
                  log);
    free(copy);
    free(log);
    px_env_done(&env);
}
END_TEST

static Suite *logs_suite(void)
{
    Suite *s = suite_create("e2e_ops_logs");
    TCase *tc = tcase_create("logs");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reopen_moves_to_new_file);
    tcase_add_test(tc, flushed_at_stop);
    tcase_add_test(tc, json_lines);
    tcase_add_test(tc, error_line_context);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(logs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
