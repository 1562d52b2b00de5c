/* bench/http_parse: times http_parse_request on one ~700-byte browser request, parsed again and again.
 * Prints the iteration count and, on its last line, requests_per_s=N ns_per_request=N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"

/* The "kittyhell" request, byte for byte from picohttpparser's bench.c (github.com/h2o/picohttpparser, bench.c),
 * so that figures compare with phr_parse_request's. */
#define REQ                                                                                                            \
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"                                    \
    "Host: www.kittyhell.com\r\n"                                                                                      \
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 "               \
    "Firefox/3.6.3 Pathtraq/0.9\r\n"                                                                                   \
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"                                      \
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"                                                                     \
    "Accept-Encoding: gzip,deflate\r\n"                                                                                \
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"                                                                \
    "Keep-Alive: 115\r\n"                                                                                              \
    "Connection: keep-alive\r\n"                                                                                       \
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "                                              \
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "                                                 \
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n" \
    "\r\n"

static const char req_bytes[] = REQ;

/* Makes the compiler assume p's memory is read and written here, so no iteration can be elided or hoisted. */
#define BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory")

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_count(int argc, char **argv, unsigned long *n)
{
    if (argc == 1)
        return 0;
    char *end = NULL;
    if (argc == 3 && strcmp(argv[1], "-n") == 0) {
        *n = strtoul(argv[2], &end, 10);
        if (argv[2][0] != '\0' && argv[2][0] != '-' && *end == '\0' && *n > 0)
            return 0;
    }
    fprintf(stderr, "usage: http_parse [-n ITERATIONS]   (default 10000000)\n");
    return 2;
}

int main(int argc, char **argv)
{
    static http_field fields[32];
    const http_limits lim = {0, 0, 0, 0}; /* defaults */
    unsigned long n = 10000000;
    int rc = parse_count(argc, argv, &n);
    if (rc != 0)
        return rc;
    const size_t len = sizeof req_bytes - 1;
    unsigned long bad = 0;
    double t0 = now_s();
    for (unsigned long i = 0; i < n; i++) {
        http_request req;
        memset(&req, 0, sizeof req);
        req.fields = fields;
        req.fields_cap = sizeof fields / sizeof fields[0];
        BARRIER(req_bytes);
        long r = http_parse_request(req_bytes, len, 0, &req, &lim);
        BARRIER(&req);
        bad += r != (long)len;
    }
    double secs = now_s() - t0;
    if (bad != 0) {
        fprintf(stderr, "http_parse: %lu of %lu parses did not return %zu\n", bad, n, len);
        return 1;
    }
    printf("request_bytes=%zu iterations=%lu seconds=%.3f\n", len, n, secs);
    printf("requests_per_s=%.0f ns_per_request=%.1f\n", (double)n / secs, secs * 1e9 / (double)n);
    return 0;
}
