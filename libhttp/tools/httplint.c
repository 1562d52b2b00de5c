/* httplint: checks one raw HTTP/1.1 message (request or response) with libhttp and prints it normalised.
 * Owns the command line, bounded input reading and error reporting; all parsing is libhttp's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define MAX_INPUT (16u * 1024u * 1024u) /* bytes; a linter input, not a stream */
#define MAX_FIELDS 100                  /* matches libhttp's default field limit */

enum { EXIT_LINT = 1, EXIT_USAGE = 2 };

typedef struct options {
    int response;      /* --response, or input starting with "HTTP/" */
    int head_request;  /* --head-request: the response answers a HEAD */
    int body;          /* --body: print the decoded body */
    int allow_te_cl;   /* --allow-te-cl: accept Transfer-Encoding with Content-Length */
    const char *path;  /* NULL or "-" for stdin */
    const char *label; /* file name used in diagnostics */
} options;

typedef struct input {
    char *buf;
    size_t len;
} input;

/* What the head parse found, common to requests and responses. */
typedef struct head {
    size_t len;
    http_body body;
    uint64_t content_length;
    int must_close;
} head;

static const char usage_text[] =
    "NAME\n"
    "    httplint - check one raw HTTP/1.1 message and print it normalised\n"
    "\n"
    "SYNOPSIS\n"
    "    httplint [--response] [--head-request] [--allow-te-cl] [--body] [FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads a request or response (head and body) from FILE, or from standard input when FILE is absent\n"
    "    or \"-\", at most 16 MiB. Input starting with \"HTTP/\" is taken as a response. The head is parsed\n"
    "    by libhttp, the body is framed by Content-Length, chunked coding, or (responses) the end of input.\n"
    "    Prints the start line, each field as \"Name: value\", a blank line and a summary such as\n"
    "    \"body: chunked, 42 bytes decoded\", \"body: length 10\" or \"body: none\".\n"
    "\n"
    "OPTIONS\n"
    "    --response      parse a response even if the input does not start with \"HTTP/\"\n"
    "    --head-request  the response answers a HEAD request (so it has no body)\n"
    "    --allow-te-cl   accept Transfer-Encoding with Content-Length (chunked wins, connection must close);\n"
    "                    by default the message is rejected as a smuggling risk\n"
    "    --body          after the summary print \"--- body ---\" and the decoded body bytes\n"
    "    -h, --help      print this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 valid message; 1 invalid or incomplete message, reported on stderr as\n"
    "    \"httplint: FILE:OFFSET: reason (status N)\"; 2 usage or I/O error.\n";

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "httplint: %s '%s'\n", what, arg);
    fprintf(stderr, "usage: httplint [--response] [--head-request] [--allow-te-cl] [--body] [FILE]\n");
    return EXIT_USAGE;
}

/* Returns 0, EXIT_USAGE, or -1 when help was printed. */
static int parse_args(int argc, char **argv, options *o)
{
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0)
            only_files = 1;
        else if (!only_files && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0))
            return fputs(usage_text, stdout), -1;
        else if (!only_files && strcmp(a, "--response") == 0)
            o->response = 1;
        else if (!only_files && strcmp(a, "--head-request") == 0)
            o->head_request = 1;
        else if (!only_files && strcmp(a, "--allow-te-cl") == 0)
            o->allow_te_cl = 1;
        else if (!only_files && strcmp(a, "--body") == 0)
            o->body = 1;
        else if (!only_files && a[0] == '-' && a[1] != '\0')
            return usage_error("unknown option", a);
        else if (o->path != NULL)
            return usage_error("more than one input file:", a);
        else
            o->path = a;
    }
    int from_stdin = o->path == NULL || strcmp(o->path, "-") == 0;
    o->label = from_stdin ? "<stdin>" : o->path;
    return 0;
}

/* Reads all of f into in, refusing more than MAX_INPUT bytes. Returns 0 or an errno value (EFBIG when too large). */
static int read_all(FILE *f, input *in)
{
    size_t cap = 0;
    for (;;) {
        if (in->len == cap) {
            if (cap > MAX_INPUT)
                return EFBIG;
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            if (ncap > MAX_INPUT + 1)
                ncap = MAX_INPUT + 1; /* one spare byte detects oversized input */
            char *nbuf = realloc(in->buf, ncap);
            if (nbuf == NULL)
                return ENOMEM;
            in->buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(in->buf + in->len, 1, cap - in->len, f);
        in->len += n;
        if (n == 0)
            return ferror(f) ? EIO : 0;
        if (in->len > MAX_INPUT)
            return EFBIG;
    }
}

static int load_input(const options *o, input *in)
{
    int from_stdin = o->path == NULL || strcmp(o->path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(o->path, "rb");
    if (f == NULL) {
        fprintf(stderr, "httplint: %s: %s\n", o->label, strerror(errno));
        return EXIT_USAGE;
    }
    int err = read_all(f, in);
    if (!from_stdin)
        fclose(f);
    if (err == EFBIG)
        fprintf(stderr, "httplint: %s: input larger than %u bytes\n", o->label, MAX_INPUT);
    else if (err != 0)
        fprintf(stderr, "httplint: %s: %s\n", o->label, strerror(err));
    return err == 0 ? 0 : EXIT_USAGE;
}

static int lint_error(const options *o, size_t offset, int err)
{
    fprintf(stderr, "httplint: %s:%zu: %s (status %d)\n", o->label, offset, http_strerror(err), http_err_status(err));
    return EXIT_LINT;
}

static int incomplete(const options *o, size_t offset)
{
    fprintf(stderr, "httplint: %s:%zu: incomplete message at byte %zu\n", o->label, offset, offset);
    return EXIT_LINT;
}

static void print_slice(http_slice s)
{
    fwrite(s.base, 1, s.len, stdout);
}

static void print_fields(const http_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        print_slice(f[i].name);
        fputs(": ", stdout);
        print_slice(f[i].value);
        fputc('\n', stdout);
    }
    fputc('\n', stdout);
}

static void init_limits(const options *o, http_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->max_fields = MAX_FIELDS;
    lim->flags = o->allow_te_cl ? 0 : HTTP_F_REJECT_TE_AND_CL;
}

/* A parsed head, kept until the body is framed so that nothing is printed for an invalid message. */
typedef struct message {
    int response;
    http_request req;
    http_response resp;
    head h;
} message;

static int parse_request_head(const options *o, const input *in, http_field *fields, message *m)
{
    http_limits lim;
    m->req.fields = fields;
    m->req.fields_cap = MAX_FIELDS;
    init_limits(o, &lim);
    long r = http_parse_request(in->buf, in->len, 0, &m->req, &lim);
    if (r == HTTP_INCOMPLETE)
        return incomplete(o, in->len);
    if (r < 0)
        return lint_error(o, m->req.err_offset, (int)r);
    m->h = (head){(size_t)r, m->req.body, m->req.content_length, m->req.must_close};
    return 0;
}

static int parse_response_head(const options *o, const input *in, http_field *fields, message *m)
{
    http_limits lim;
    m->resp.fields = fields;
    m->resp.fields_cap = MAX_FIELDS;
    init_limits(o, &lim);
    long r = http_parse_response(in->buf, in->len, 0, &m->resp, &lim, o->head_request ? HTTP_RESP_TO_HEAD : 0);
    if (r == HTTP_INCOMPLETE)
        return incomplete(o, in->len);
    if (r < 0)
        return lint_error(o, m->resp.err_offset, (int)r);
    m->h = (head){(size_t)r, m->resp.body, m->resp.content_length, m->resp.must_close};
    return 0;
}

static void print_head(const message *m)
{
    if (m->response) {
        printf("HTTP/1.%d %d ", m->resp.minor, m->resp.status);
        print_slice(m->resp.reason);
        fputc('\n', stdout);
        print_fields(m->resp.fields, m->resp.nfields);
        return;
    }
    print_slice(m->req.method);
    fputc(' ', stdout);
    print_slice(m->req.target);
    printf(" HTTP/1.%d\n", m->req.minor);
    print_fields(m->req.fields, m->req.nfields);
}

/* The offset of the byte that makes the decoder fail, found by replaying the failed call from a copy of the
 * decoder taken before it, one more byte at a time: the decoder reports no offset of its own. */
static size_t chunked_error_offset(const http_chunked *before, const input *in, size_t pos)
{
    http_chunked d = *before;
    size_t window = 1;
    while (!d.done && pos + window <= in->len) {
        http_slice data;
        long r = http_chunked_decode(&d, in->buf + pos, window, &data);
        if (r < 0)
            return pos + window - 1;
        if (r > 0) {
            pos += (size_t)r;
            window = 1;
        } else {
            window++;
        }
    }
    return pos; /* not reproduced: report where the failing call started */
}

/* Decodes the chunked body at in->buf[pos..], appending the body bytes to out (room for in->len - pos bytes).
 * Returns 0 with *end set past the last chunk and trailers, or an exit status. */
static int decode_chunked(const options *o, const input *in, size_t pos, char *out, size_t *out_len, size_t *end)
{
    http_chunked d;
    memset(&d, 0, sizeof d);
    http_chunked_init(&d, 0, 0);
    while (!d.done) {
        http_chunked before = d;
        http_slice data = {NULL, 0};
        long r = http_chunked_decode(&d, in->buf + pos, in->len - pos, &data);
        if (r < 0)
            return lint_error(o, chunked_error_offset(&before, in, pos), (int)r);
        if (r == 0 && !d.done)
            return incomplete(o, in->len);
        if (data.len > 0)
            memcpy(out + *out_len, data.base, data.len);
        *out_len += data.len;
        pos += (size_t)r;
    }
    *end = pos;
    return 0;
}

/* The framed body: where it is, how long, and where the message ends. */
typedef struct body {
    const char *base;
    size_t len;
    size_t end;    /* offset just past the message */
    char *decoded; /* owned copy for chunked bodies, else NULL */
} body;

/* Frames the body after the head per m->h. Returns 0 or an exit status. */
static int frame_body(const options *o, const input *in, const message *m, body *b)
{
    size_t avail = in->len - m->h.len;
    b->base = in->buf + m->h.len;
    b->end = m->h.len;
    switch (m->h.body) {
    case HTTP_BODY_NONE: return 0;
    case HTTP_BODY_LENGTH:
        if (m->h.content_length > avail)
            return incomplete(o, in->len);
        b->len = (size_t)m->h.content_length;
        b->end += b->len;
        return 0;
    case HTTP_BODY_CLOSE:
        b->len = avail;
        b->end = in->len;
        return 0;
    case HTTP_BODY_CHUNKED:
        b->decoded = malloc(avail + 1);
        if (b->decoded == NULL)
            return fprintf(stderr, "httplint: %s\n", strerror(ENOMEM)), EXIT_USAGE;
        b->base = b->decoded;
        return decode_chunked(o, in, m->h.len, b->decoded, &b->len, &b->end);
    }
    return fprintf(stderr, "httplint: unknown body framing %d\n", (int)m->h.body), EXIT_USAGE;
}

static void print_summary(const options *o, const input *in, const message *m, const body *b)
{
    if (m->h.body == HTTP_BODY_NONE)
        puts("body: none");
    else if (m->h.body == HTTP_BODY_LENGTH)
        printf("body: length %zu\n", b->len);
    else if (m->h.body == HTTP_BODY_CLOSE)
        printf("body: close-delimited, %zu bytes\n", b->len);
    else
        printf("body: chunked, %zu bytes decoded\n", b->len);
    if (m->h.must_close)
        puts("framing: Transfer-Encoding with Content-Length, connection must close");
    if (b->end < in->len)
        printf("trailing: %zu bytes after the message\n", in->len - b->end);
    if (o->body) {
        puts("--- body ---");
        fwrite(b->base, 1, b->len, stdout);
    }
}

static int lint(const options *o, const input *in)
{
    static http_field fields[MAX_FIELDS];
    message m;
    body b = {NULL, 0, 0, NULL};
    memset(&m, 0, sizeof m);
    m.response = o->response || (in->len >= 5 && memcmp(in->buf, "HTTP/", 5) == 0);
    int rc = m.response ? parse_response_head(o, in, fields, &m) : parse_request_head(o, in, fields, &m);
    if (rc == 0)
        rc = frame_body(o, in, &m, &b);
    if (rc == 0) {
        print_head(&m);
        print_summary(o, in, &m, &b);
    }
    free(b.decoded);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    input in = {NULL, 0};
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    rc = load_input(&o, &in);
    if (rc == 0)
        rc = lint(&o, &in);
    free(in.buf);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "httplint: writing output: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    return rc;
}
