/* tests/proxyd: the balancer's choice (weights, least_conn, backups, servers down or already tried) over many
 * rounds, as proportions, and passive health's marking. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#include "upstream/upstream.h"

static px_upstream up;
static unsigned active[8];
static int rr[8];
static int alive[8];

static void setup_servers(int n, const int *weights, const int *backup, px_balance how)
{
    memset(&up, 0, sizeof(up));
    memset(active, 0, sizeof(active));
    memset(rr, 0, sizeof(rr));
    up.nservers = n;
    up.balance = how;
    for (int i = 0; i < n; i++) {
        up.servers[i].weight = weights[i];
        up.servers[i].backup = backup ? backup[i] : 0;
        alive[i] = 1;
    }
}

static int choose(uint64_t tried)
{
    px_balance_view v = {&up, active, rr, alive};
    int s = px_balance_choose(&v, 0, tried);
    return s >= 0 ? s : px_balance_choose(&v, 1, tried);
}

START_TEST(round_robin_follows_weights)
{
    int w[] = {5, 1, 1};
    int count[3] = {0};
    setup_servers(3, w, NULL, PX_BALANCE_ROUND_ROBIN);
    for (int i = 0; i < 700; i++)
        count[choose(0)]++;
    ck_assert_int_eq(count[0], 500);
    ck_assert_int_eq(count[1], 100);
    ck_assert_int_eq(count[2], 100);
}
END_TEST

/* nginx's smooth round robin spreads the heavy server: a a b a c a a for 5/1/1, so at most four in a row across
 * two rounds, where a plain weighted rotation would send five. */
START_TEST(round_robin_is_smooth)
{
    int w[] = {5, 1, 1};
    setup_servers(3, w, NULL, PX_BALANCE_ROUND_ROBIN);
    int run = 0, longest = 0;
    for (int i = 0; i < 70; i++) {
        run = choose(0) == 0 ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    ck_assert_int_le(longest, 4);
}
END_TEST

START_TEST(down_and_tried_are_skipped)
{
    int w[] = {1, 1, 1};
    setup_servers(3, w, NULL, PX_BALANCE_ROUND_ROBIN);
    alive[1] = 0;
    for (int i = 0; i < 30; i++) {
        int s = choose(1ull << 0);
        ck_assert_int_eq(s, 2);
    }
    ck_assert_int_eq(choose((1ull << 0) | (1ull << 2)), -1);
}
END_TEST

START_TEST(backups_only_when_primaries_are_gone)
{
    int w[] = {1, 1, 1};
    int b[] = {0, 0, 1};
    setup_servers(3, w, b, PX_BALANCE_ROUND_ROBIN);
    for (int i = 0; i < 20; i++)
        ck_assert_int_ne(choose(0), 2);
    alive[0] = alive[1] = 0;
    ck_assert_int_eq(choose(0), 2);
    alive[0] = 1;
    ck_assert_int_eq(choose(0), 0);
}
END_TEST

START_TEST(least_conn_prefers_fewer_per_weight)
{
    int w[] = {1, 1, 2};
    setup_servers(3, w, NULL, PX_BALANCE_LEAST_CONN);
    active[0] = 3;
    active[1] = 1;
    active[2] = 4; /* 2 per weight */
    ck_assert_int_eq(choose(0), 1);
    active[1] = 5;
    ck_assert_int_eq(choose(0), 2); /* 4/2 < 3/1 */
    /* equal load: round robin among equals, so both get turns */
    memset(active, 0, sizeof(active));
    int seen[3] = {0};
    for (int i = 0; i < 40; i++)
        seen[choose(0)]++;
    ck_assert_int_gt(seen[0], 0);
    ck_assert_int_gt(seen[1], 0);
    ck_assert_int_gt(seen[2], seen[0]);
}
END_TEST

START_TEST(no_server)
{
    int w[] = {1};
    setup_servers(1, w, NULL, PX_BALANCE_ROUND_ROBIN);
    alive[0] = 0;
    ck_assert_int_eq(choose(0), -1);
}
END_TEST

static int count_lines(const char *path, const char *needle)
{
    char line[512];
    int n = 0;
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    while (fgets(line, sizeof(line), fp))
        n += strstr(line, needle) != NULL;
    fclose(fp);
    return n;
}

/* max_fails failures within fail_timeout take a server out for fail_timeout; a lone server never. Down and back
 * are each logged once, however many workers see the change. */
START_TEST(passive_health_marks_down)
{
    char log[] = "/tmp/pxhealth-XXXXXX";
    close(mkstemp(log));
    ck_assert_int_eq(px_log_open(log, PX_LOG_WARN), 0);
    px_runtime rt;
    px_health health[2];
    int base[1] = {0};
    memset(&rt, 0, sizeof(rt));
    memset(health, 0, sizeof(health));
    rt.health = health;
    rt.health_base = base;
    int w[] = {1, 1};
    setup_servers(2, w, NULL, PX_BALANCE_ROUND_ROBIN);
    up.servers[0].max_fails = 2;
    up.servers[0].fail_timeout = 10000;
    up.servers[0].text = (char *)"a:1";
    ck_assert(px_upstream_server_up(&rt, &up, 0, 1000));
    px_upstream_mark_failure(&rt, &up, 0, 1000);
    ck_assert(px_upstream_server_up(&rt, &up, 0, 1000));
    px_upstream_mark_failure(&rt, &up, 0, 2000);
    px_upstream_mark_failure(&rt, &up, 0, 2001); /* more failures while down: no second event */
    px_upstream_mark_failure(&rt, &up, 0, 2002);
    ck_assert(!px_upstream_server_up(&rt, &up, 0, 2000));
    ck_assert(!px_upstream_server_up(&rt, &up, 0, 11999));
    ck_assert(px_upstream_server_up(&rt, &up, 0, 12000));
    ck_assert(px_upstream_server_up(&rt, &up, 0, 12001)); /* every worker asks; one says it */
    ck_assert(px_upstream_server_up(&rt, &up, 1, 2000));
    up.nservers = 1;
    ck_assert(px_upstream_server_up(&rt, &up, 0, 2000)); /* as nginx: a lone server stays in */
    px_log_close();
    ck_assert_int_eq(count_lines(log, "upstream a:1: marked down for 10000ms after 2 failure(s)"), 1);
    ck_assert_int_eq(count_lines(log, "upstream a:1: back in rotation after 10000ms out"), 1);
    unlink(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxyd_upstream");
    TCase *tc = tcase_create("balance");
    tcase_add_test(tc, round_robin_follows_weights);
    tcase_add_test(tc, round_robin_is_smooth);
    tcase_add_test(tc, down_and_tried_are_skipped);
    tcase_add_test(tc, backups_only_when_primaries_are_gone);
    tcase_add_test(tc, least_conn_prefers_fewer_per_weight);
    tcase_add_test(tc, no_server);
    tcase_add_test(tc, passive_health_marks_down);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
