/* tests/http/test_request.c: http_parse_request over tables of valid and invalid heads (smuggling shapes
 * included), fed whole, byte by byte and in 5-byte steps with last_len, always ending at a guard page. */
#include "helpers.h"

#include <http/http.h>
#include <string.h>

#define CAP 16

typedef struct vcase {
    const char *in;
    size_t len;
    size_t head; /* expected head length; 0: the whole input */
    http_method m;
    http_target_form form;
    const char *path, *host;
    int minor;
    http_body body;
    uint64_t cl;
    int ka, mc, ec, up;
    size_t nfields;
} vcase;

#define O HTTP_TARGET_ORIGIN
#define A HTTP_TARGET_ABSOLUTE
#define NONE HTTP_BODY_NONE
#define LEN HTTP_BODY_LENGTH
#define CHK HTTP_BODY_CHUNKED

static const vcase valid[] = {
    {S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET /p?q=1 HTTP/1.0\r\n\r\n"), 0, HTTP_M_GET, O, "/p?q=1", "", 0, NONE, 0, 0, 0, 0, 0, 0},
    {S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0, HTTP_M_GET, O, "/", "", 0, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.0\r\nConnection: keep-alive2\r\n\r\n"), 0, HTTP_M_GET, O, "/", "", 0, NONE, 0, 0, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 0, 0, 0, 0,
     2},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, CLOSE\r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 0, 0, 0, 0,
     2},
    {S("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"), 0, HTTP_M_GET,
     O, "/ws", "a", 1, NONE, 0, 1, 0, 0, 1, 3},
    {S("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n"), 0, HTTP_M_GET, O, "/ws", "a", 1, NONE, 0, 1, 0, 0,
     0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, LEN, 5, 1, 0, 0, 0,
     2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, LEN, 5, 1, 0, 0,
     0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a",
     1, LEN, 5, 1, 0, 0, 0, 3},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, LEN, 7, 1, 0, 0,
     0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, LEN, 0, 1, 0, 0, 0,
     2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1,
     LEN, 9223372036854775807ULL, 1, 0, 0, 0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, CHK, 0, 1,
     0, 0, 0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, CHK, 0, 1,
     0, 0, 0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:   chunked \t\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, CHK,
     0, 1, 0, 0, 0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n"), 0, HTTP_M_POST, O, "/f", "a", 1, CHK, 0,
     1, 0, 0, 0, 2},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 0, HTTP_M_POST, O,
     "/f", "a", 1, CHK, 0, 0, 1, 0, 0, 3},
    {S("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 0, HTTP_M_POST, O,
     "/f", "a", 1, CHK, 0, 0, 1, 0, 0, 3},
    {S("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"), 0, HTTP_M_PUT, O, "/f", "a",
     1, LEN, 1, 1, 0, 1, 0, 3},
    {S("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n"), 0, HTTP_M_PUT, O, "/f", "a", 1, NONE, 0, 1, 0, 1,
     0, 2},
    {S("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), 0, HTTP_M_PUT, O, "/f", "", 0, NONE, 0, 0, 0, 0, 0, 1},
    {S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET http://example.com:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n"), 0, HTTP_M_GET, A, "/x?y", "example.com:8080",
     1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET HTTPS://Example.com HTTP/1.1\r\nHost: Example.com\r\n\r\n"), 0, HTTP_M_GET, A, "/", "Example.com", 1, NONE,
     0, 1, 0, 0, 0, 1},
    {S("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n"), 0, HTTP_M_GET, A, "?q", "h", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET http://[::1]:81/ HTTP/1.0\r\n\r\n"), 0, HTTP_M_GET, A, "/", "[::1]:81", 0, NONE, 0, 0, 0, 0, 0, 0},
    {S("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 0, HTTP_M_CONNECT, HTTP_TARGET_AUTHORITY,
     "", "example.com:443", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_OPTIONS, HTTP_TARGET_ASTERISK, "*", "a", 1, NONE, 0, 1, 0, 0,
     0, 1},
    {S("OPTIONS http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_OPTIONS, A, "/", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 0, HTTP_M_GET, O, "/", "[::1]:8080", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 0, HTTP_M_GET, O, "/", "127.0.0.1", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example%41:65535\r\n\r\n"), 0, HTTP_M_GET, O, "/",
     "xn--bcher-kva.example%41:65535", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0, HTTP_M_GET, O, "/", "", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost:  a  \r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_OTHER, O, "/x", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("get / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_OTHER, O, "/", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_DELETE, O, "/x", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n"), 0, HTTP_M_PATCH, O, "/x", "a", 1, NONE, 0, 1, 0, 0, 0, 1},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\nY: a\tb\r\nZ:\r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0,
     1, 0, 0, 0, 4},
    {S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0 (X11; "
       "Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n\r\n"),
     0, HTTP_M_GET, O, "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?x=1&y=%20", "a", 1, NONE, 0, 1, 0, 0, 0, 2},
    {S("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"), 28, HTTP_M_GET, O, "/1", "a", 1, NONE,
     0, 1, 0, 0, 0, 1},
    {S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n"), 47, HTTP_M_POST, O, "/", "a", 1,
     LEN, 3, 1, 0, 0, 0, 2},
    /* shapes at the edges of the 16-byte SIMD blocks: names past one block, tchars other than letters, digits
     * and '-', obs-text and HTAB inside values, values ending on a block boundary */
    {S("GET / HTTP/1.1\r\nHost: a\r\nX-A-Very-Long-Field-Name: v\r\nX_y.z~!: \xff\xfe\tq \r\n\r\n"), 0, HTTP_M_GET, O,
     "/", "a", 1, NONE, 0, 1, 0, 0, 0, 3},
    {S("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdefghijklmnopqrstuvw\xc3\xa9xyz\tend\r\nY: 0123456789ab\r\n\r\n"),
     0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 1, 0, 0, 0, 3},
    {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n"), 0, HTTP_M_GET, O, "/", "a", 1, NONE, 0, 1, 0, 0,
     0, 2},
    {S("GET / HTTP/1.0\r\nConnection: CLOSE\r\n\r\n"), 0, HTTP_M_GET, O, "/", "", 0, NONE, 0, 0, 0, 0, 0, 1},
};

typedef struct icase {
    const char *in;
    size_t len;
    int err;
    size_t max_line, max_head, max_fields;
    unsigned flags;
} icase;

#define H11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define P11 "POST / HTTP/1.1\r\nHost: a\r\n"

static const icase invalid[] = {
    /* request line */
    {S("G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_METHOD, 0, 0, 0, 0},
    {S("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_METHOD, 0, 0, 0, 0},
    {S(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_METHOD, 0, 0, 0, 0},
    {S("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_METHOD, 0, 0, 0, 0},
    {S("GET\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET http://h:x/ HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), HTTP_E_VERSION, 0, 0, 0, 0},
    {S("GET / HTTP/3.0\r\nHost: a\r\n\r\n"), HTTP_E_VERSION, 0, 0, 0, 0},
    {S("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    {S("GET / http/1.1\r\nHost: a\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/2\r\nHost: a\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    {S("GET /\r\n\r\n"), HTTP_E_VERSION_INVALID, 0, 0, 0, 0},
    /* line endings */
    {S("GET / HTTP/1.1\nHost: a\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S(H11 "X: a\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S(H11 "\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\n\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\rHost: a\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S(H11 "X: a\rb\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S(H11 "X\r: a\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S(H11 "\r\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    {S("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_LINE_ENDING, 0, 0, 0, 0},
    /* field names and values */
    {S(H11 "Foo Bar: x\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "Foo\x01: x\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 ": x\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding : chunked\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "Foo\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "X\0: a\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "X\xc3\xa9: a\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "X: a\0b\r\n\r\n"), HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(H11 "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\0b\r\n\r\n"), HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(H11 "X: a\x7f\r\n\r\n"), HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(H11 "X: a\x1b[0m\r\n\r\n"), HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding:\x0b"
           "chunked\r\n\r\n"),
     HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding:\x0c"
           "chunked\r\n\r\n"),
     HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(H11 "X-A-Very-Long-Name_x y: v\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "ABCDEFGHIJKLMNOPQRSTU\r\n\r\n"), HTTP_E_FIELD_NAME, 0, 0, 0, 0},
    {S(H11 "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x7f\r\n\r\n"), HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(H11 "X: \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\r\n\r\n"),
     HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S(H11 "X: a\tb\tc\x7f\r\n\r\n"), HTTP_E_FIELD_VALUE, 0, 0, 0, 0},
    {S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x01b HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_TARGET, 0, 0, 0, 0},
    {S(H11 "X: a\r\n b\r\n\r\n"), HTTP_E_OBS_FOLD, 0, 0, 0, 0},
    {S(H11 "X: a\r\n\tb\r\n\r\n"), HTTP_E_OBS_FOLD, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), HTTP_E_OBS_FOLD, 0, 0, 0, 0},
    /* limits */
    {S(H11
       "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\nJ: 10\r\nK: 11\r\nL: 12\r\nM: 13\r\n"
       "N: 14\r\nO: 15\r\nP: 16\r\n\r\n"),
     HTTP_E_TOO_MANY_FIELDS, 0, 0, 0, 0},
    {S(H11 "A: 1\r\nB: 2\r\n\r\n"), HTTP_E_TOO_MANY_FIELDS, 0, 0, 2, 0},
    {S(H11 "A: 1111111111111111111111111111111\r\n\r\n"), HTTP_E_HEAD_TOO_LARGE, 0, 40, 0, 0},
    {S(H11 "A: 1111111111111111111111111111111"), HTTP_E_HEAD_TOO_LARGE, 0, 40, 0, 0},
    {S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"), HTTP_E_HEAD_TOO_LARGE, 0, 20, 0, 0},
    {S("GET /aaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_E_LINE_TOO_LONG, 16, 0, 0, 0},
    {S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), HTTP_E_LINE_TOO_LONG, 16, 0, 0, 0},
    {S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), HTTP_E_HEAD_TOO_LARGE, 32, 20, 0, 0},
    {S("GET / HTTP/1.1\r\n\r\n"), HTTP_E_LINE_TOO_LONG, 13, 0, 0, 0},
    /* Content-Length */
    {S(P11 "Content-Length: +5\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: -1\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 0x10\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 1 0\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 5.0\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length:\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 5, 6\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 5,\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: ,5\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 9223372036854775808\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 18446744073709551616\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    {S(P11 "Content-Length: 99999999999999999999999999\r\n\r\n"), HTTP_E_CONTENT_LENGTH, 0, 0, 0, 0},
    /* Transfer-Encoding */
    {S(P11 "Transfer-Encoding: xchunked\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: chunked, identity\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: identity\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: gzip\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: chunked;x\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: chunked, chunked\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: chunked\tgzip\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: \"chunked\"\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding:\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: ,\r\n\r\n"), HTTP_E_TE_NOT_CHUNKED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), HTTP_E_TE_UNSUPPORTED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: foo, chunked\r\n\r\n"), HTTP_E_TE_UNSUPPORTED, 0, 0, 0, 0},
    {S(P11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_E_TE_UNSUPPORTED, 0, 0, 0, 0},
    {S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_E_TE_HTTP10, 0, 0, 0, 0},
    {S("POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_E_TE_HTTP10, 0, 0, 0, 0},
    {S(P11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_E_TE_AND_CL, 0, 0, 0,
     HTTP_F_REJECT_TE_AND_CL},
    {S(P11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), HTTP_E_TE_AND_CL, 0, 0, 0,
     HTTP_F_REJECT_TE_AND_CL},
    /* Host */
    {S("GET / HTTP/1.1\r\n\r\n"), HTTP_E_HOST_MISSING, 0, 0, 0, 0},
    {S("GET http://a/ HTTP/1.1\r\n\r\n"), HTTP_E_HOST_MISSING, 0, 0, 0, 0},
    {S(H11 "Host: a\r\n\r\n"), HTTP_E_HOST_DUP, 0, 0, 0, 0},
    {S(H11 "Host: b\r\n\r\n"), HTTP_E_HOST_DUP, 0, 0, 0, 0},
    {S("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), HTTP_E_HOST_DUP, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a:\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    {S("GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n"), HTTP_E_HOST_INVALID, 0, 0, 0, 0},
    /* never complete */
    {S("GET / HTTP/1.1\r\nHost: a\r\n"), HTTP_INCOMPLETE, 0, 0, 0, 0},
    {S("GET / HTTP/1.1\r\nHost: a\r\r\r\r"), HTTP_INCOMPLETE, 0, 0, 0, 0},
    {S("\r\n\r\n"), HTTP_INCOMPLETE, 0, 0, 0, 0},
};

static long parse_row(const char *in, size_t len, size_t last, http_request *req, http_field *f, const http_limits *lim)
{
    memset(req, 0x5a, sizeof *req); /* outputs must all be rewritten */
    req->fields = f;
    req->fields_cap = CAP;
    return http_parse_request(in, len, last, req, lim);
}

static void check_slice(http_slice s, const char *want)
{
    ck_assert_uint_eq(s.len, strlen(want));
    ck_assert(memcmp(s.base, want, s.len) == 0);
}

static void check_valid(const vcase *c, const http_request *r, long got)
{
    size_t head = c->head ? c->head : c->len;
    ck_assert_int_eq(got, (long)head);
    ck_assert_uint_eq(r->head_len, head);
    ck_assert_int_eq(r->method_id, c->m);
    ck_assert_int_eq(r->form, c->form);
    check_slice(r->path, c->path);
    check_slice(r->host, c->host);
    ck_assert_int_eq(r->minor, c->minor);
    ck_assert_int_eq(r->body, c->body);
    if (c->body == HTTP_BODY_LENGTH)
        ck_assert_uint_eq(r->content_length, c->cl);
    ck_assert_int_eq(r->keep_alive, c->ka);
    ck_assert_int_eq(r->must_close, c->mc);
    ck_assert_int_eq(r->expect_continue, c->ec);
    ck_assert_int_eq(r->upgrade, c->up);
    ck_assert_uint_eq(r->nfields, c->nfields);
}

START_TEST(valid_whole)
{
    const vcase *c = &valid[_i];
    http_request req;
    http_field f[CAP];
    const char *in = guard_copy(c->in, c->len);
    check_valid(c, &req, parse_row(in, c->len, 0, &req, f, NULL));
    guard_free();
}
END_TEST

static http_limits row_limits(const icase *c)
{
    http_limits lim = {c->max_line, c->max_head, c->max_fields, c->flags};
    return lim;
}

START_TEST(invalid_whole)
{
    const icase *c = &invalid[_i];
    http_request req;
    http_field f[CAP];
    http_limits lim = row_limits(c);
    const char *in = guard_copy(c->in, c->len);
    long r = parse_row(in, c->len, 0, &req, f, &lim);
    ck_assert_msg(r == c->err, "row %d: got %ld (%s), want %d (%s)", _i, r, http_strerror((int)r), c->err,
                  http_strerror(c->err));
    if (r != HTTP_INCOMPLETE)
        ck_assert_uint_lt(req.err_offset, c->len + 1);
    guard_free();
}
END_TEST

/* Feeds growing prefixes (step bytes more each time) ending at a guard page, passing last_len, and checks
 * that the first result other than HTTP_INCOMPLETE equals the whole-message result. */
static void feed_split(const char *s, size_t len, const http_limits *lim, size_t step, long whole,
                       const http_request *want)
{
    http_request req;
    http_field f[CAP];
    size_t last = 0;
    for (size_t k = step < len ? step : len;; k = k + step < len ? k + step : len) {
        const char *in = guard_copy(s, k);
        long r = parse_row(in, k, last, &req, f, lim);
        last = k;
        if (r != HTTP_INCOMPLETE) {
            ck_assert_msg(r == whole, "prefix %zu: got %ld (%s), whole %ld", k, r, http_strerror((int)r), whole);
            if (r > 0) {
                ck_assert_int_eq(req.body, want->body);
                ck_assert_uint_eq(req.nfields, want->nfields);
                ck_assert_uint_eq(req.host.len, want->host.len);
                ck_assert_int_eq(req.keep_alive, want->keep_alive);
            }
            guard_free();
            return;
        }
        if (k == len)
            break;
    }
    ck_assert_int_eq(whole, HTTP_INCOMPLETE);
    guard_free();
}

static void split_valid(int i, size_t step)
{
    http_request whole;
    http_field f[CAP];
    long w = parse_row(valid[i].in, valid[i].len, 0, &whole, f, NULL);
    feed_split(valid[i].in, valid[i].len, NULL, step, w, &whole);
}

static void split_invalid(int i, size_t step)
{
    http_request whole;
    http_field f[CAP];
    http_limits lim = row_limits(&invalid[i]);
    long w = parse_row(invalid[i].in, invalid[i].len, 0, &whole, f, &lim);
    feed_split(invalid[i].in, invalid[i].len, &lim, step, w, &whole);
}

/* The whole-message tables again with the portable scanners (flag restored so no-fork runs are unaffected). */
START_TEST(valid_whole_scalar)
{
    http__force_scalar = true;
    const vcase *c = &valid[_i];
    http_request req;
    http_field f[CAP];
    const char *in = guard_copy(c->in, c->len);
    check_valid(c, &req, parse_row(in, c->len, 0, &req, f, NULL));
    guard_free();
    http__force_scalar = false;
}
END_TEST

START_TEST(invalid_whole_scalar)
{
    http__force_scalar = true;
    const icase *c = &invalid[_i];
    http_request req;
    http_field f[CAP];
    http_limits lim = row_limits(c);
    const char *in = guard_copy(c->in, c->len);
    long r = parse_row(in, c->len, 0, &req, f, &lim);
    ck_assert_msg(r == c->err, "row %d: got %ld (%s), want %d", _i, r, http_strerror((int)r), c->err);
    guard_free();
    http__force_scalar = false;
}
END_TEST

START_TEST(valid_bytewise)
{
    split_valid(_i, 1);
}
END_TEST
START_TEST(valid_step5)
{
    split_valid(_i, 5);
}
END_TEST
START_TEST(invalid_bytewise)
{
    split_invalid(_i, 1);
}
END_TEST
START_TEST(invalid_step5)
{
    split_invalid(_i, 5);
}
END_TEST

START_TEST(fields_and_slices)
{
    static const char in[] = "GET /x HTTP/1.1\r\nHost: a\r\nX-Long:   v  v \t\r\nEmpty:\r\n\r\n";
    http_request req;
    http_field f[CAP];
    ck_assert_int_eq(parse_row(in, sizeof in - 1, 0, &req, f, NULL), (long)sizeof in - 1);
    ck_assert_uint_eq(req.nfields, 3);
    check_slice(req.method, "GET");
    check_slice(req.target, "/x");
    check_slice(f[1].name, "X-Long");
    check_slice(f[1].value, "v  v");
    check_slice(f[2].name, "Empty");
    ck_assert_uint_eq(f[2].value.len, 0);
    ck_assert(req.method.base == in && f[0].value.base == in + 23); /* zero-copy: slices into the input */
}
END_TEST

START_TEST(zero_capacity_rejects_fields)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    http_request req = {0};
    ck_assert_int_eq(http_parse_request(in, sizeof in - 1, 0, &req, NULL), HTTP_E_TOO_MANY_FIELDS);
    static const char in10[] = "GET / HTTP/1.0\r\n\r\n";
    ck_assert_int_eq(http_parse_request(in10, sizeof in10 - 1, 0, &req, NULL), (long)sizeof in10 - 1);
}
END_TEST

START_TEST(error_offsets)
{
    http_request req;
    http_field f[CAP];
    ck_assert_int_eq(parse_row(S("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 0, &req, f, NULL),
                     HTTP_E_FIELD_VALUE);
    ck_assert_uint_eq(req.err_offset, 29);
    ck_assert_int_eq(parse_row(S("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 0, &req, f, NULL), HTTP_E_LINE_ENDING);
    ck_assert_uint_eq(req.err_offset, 23);
    ck_assert_int_eq(parse_row(S("G@T / HTTP/1.1\r\n\r\n"), 0, &req, f, NULL), HTTP_E_METHOD);
    ck_assert_uint_eq(req.err_offset, 1);
}
END_TEST

/* Strict by construction: a rejected head never yields a head length, whatever the limit flags. */
START_TEST(last_len_larger_than_len_is_ignored)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    http_request req;
    http_field f[CAP];
    ck_assert_int_eq(parse_row(in, sizeof in - 1, 1000, &req, f, NULL), (long)sizeof in - 1);
}
END_TEST

static Suite *request_suite(void)
{
    Suite *s = suite_create("http_request");
    TCase *tc = tcase_create("valid");
    tcase_add_loop_test(tc, valid_whole, 0, (int)NELEM(valid));
    tcase_add_loop_test(tc, valid_bytewise, 0, (int)NELEM(valid));
    tcase_add_loop_test(tc, valid_step5, 0, (int)NELEM(valid));
    tcase_add_loop_test(tc, valid_whole_scalar, 0, (int)NELEM(valid));
    tcase_add_test(tc, fields_and_slices);
    tcase_add_test(tc, zero_capacity_rejects_fields);
    tcase_add_test(tc, last_len_larger_than_len_is_ignored);
    suite_add_tcase(s, tc);
    tc = tcase_create("invalid");
    tcase_add_loop_test(tc, invalid_whole, 0, (int)NELEM(invalid));
    tcase_add_loop_test(tc, invalid_bytewise, 0, (int)NELEM(invalid));
    tcase_add_loop_test(tc, invalid_step5, 0, (int)NELEM(invalid));
    tcase_add_loop_test(tc, invalid_whole_scalar, 0, (int)NELEM(invalid));
    tcase_add_test(tc, error_offsets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(request_suite());
}
