/* proxyd static files: `root` answers GET and HEAD for paths no route takes, with sendfile(2) on plain
 * connections and bounded reads over TLS. Paths are decoded once, and any ".." segment is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "handler/internal.h"

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html"},        {"htm", "text/html"},  {"css", "text/css"},     {"js", "application/javascript"},
    {"json", "application/json"}, {"txt", "text/plain"}, {"xml", "text/xml"},     {"svg", "image/svg+xml"},
    {"png", "image/png"},         {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},  {"gif", "image/gif"},
    {"ico", "image/x-icon"},      {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"pdf", "application/pdf"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

long px_static_decode_path(http_slice path, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < path.len && path.base[i] != '?'; i++) {
        char ch = path.base[i];
        if (ch == '%') {
            int hi = i + 2 < path.len ? hexval(path.base[i + 1]) : -1, lo = hi >= 0 ? hexval(path.base[i + 2]) : -1;
            if (lo < 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (ch == 0 || n + 1 >= cap)
            return -1;
        out[n++] = ch;
    }
    out[n] = 0;
    if (n == 0 || out[0] != '/' || strstr(out, "/../") || (n >= 3 && strcmp(out + n - 3, "/..") == 0))
        return -1;
    return (long)n;
}

/* Opens the file the request names under root. Returns the descriptor, or -1 with the status to answer. */
static int open_file(px_conn *c, char *full, size_t cap, struct stat *st, int *status)
{
    const px_server *s = c->server;
    char rel[2048];
    long n = px_static_decode_path(c->x->req.path, rel, sizeof(rel));
    if (n < 0) {
        *status = 400;
        return -1;
    }
    const char *index = rel[n - 1] == '/' ? (s->index ? s->index : "index.html") : "";
    int len = snprintf(full, cap, "%s%s%s", s->root, rel, index);
    if (len < 0 || (size_t)len >= cap) {
        *status = 414;
        return -1;
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        int err = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        *status = err == EACCES ? 403 : 404;
        return -1;
    }
    return fd;
}

px_step px_static_respond(px_conn *c)
{
    px_exchange *x = c->x;
    char full[4096];
    struct stat st;
    int status = 0;
    if (x->req.method_id != HTTP_M_GET && x->req.method_id != HTTP_M_HEAD)
        return px_respond_error(c, 405, "static files answer GET and HEAD only");
    if (x->req_body != BODY_DONE)
        x->keep_alive = 0; /* the body is not read: what follows it must never pass for a request */
    int fd = open_file(c, full, sizeof(full), &st, &status);
    if (fd < 0)
        return px_respond_error(c, status,
                                status == 400   ? "path not servable"
                                : status == 414 ? "path too long"
                                                : "no such file");
    return px_static_send_fd(c, fd, content_type(full), (uint64_t)st.st_size);
}

px_step px_static_send_fd(px_conn *c, int fd, const char *ctype, uint64_t size)
{
    px_exchange *x = c->x;
    x->file_fd = fd; /* closed by static_end, however the exchange ends */
    x->handler = &px_static_handler;
    if (px_respond_head(c, 200, NULL, ctype, size, NULL, 0) < 0)
        return PX_CLOSE;
    if (x->req.method_id == HTTP_M_HEAD || size == 0)
        return px_conn_answered(c);
    x->file_off = 0;
    x->file_left = size;
    c->state = CS_HANDLER;
    return PX_AGAIN;
}

/* Sends the next piece of the file: sendfile(2) on a plain connection, a bounded pread and write over TLS. */
static ssize_t send_piece(px_conn *c)
{
    px_exchange *x = c->x;
    if (!c->s.tls)
        return wire_sendfile(c->s.io.fd, x->file_fd, &x->file_off, x->file_left);
    char *blk = c->w->scratch;
    size_t want = x->file_left < 16384 ? (size_t)x->file_left : 16384;
    ssize_t n = pread(x->file_fd, blk, want, x->file_off);
    if (n == 0)
        return -EIO; /* the file shrank under us */
    if (n < 0)
        return -errno;
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, blk, (size_t)n);
    x->file_off += n;
    return px_conn_write(c, &b) < 0 ? -EPIPE : n;
}

/* CS_HANDLER for a static file: the body, after the head has left. */
static px_step static_step(px_conn *c)
{
    px_exchange *x = c->x;
    if (c->s.out.len) {
        if (!c->s.ready_write)
            return PX_WAIT;
        int r = px_stream_flush(&c->s);
        return r < 0 ? PX_CLOSE : r ? PX_AGAIN : PX_WAIT;
    }
    if (x->file_left == 0) {
        close(x->file_fd);
        x->file_fd = -1;
        return px_conn_answered(c);
    }
    if (!c->s.ready_write)
        return PX_WAIT;
    ssize_t n = send_piece(c);
    if (n == -EAGAIN) {
        c->s.ready_write = 0;
        return PX_WAIT;
    }
    if (n <= 0) {
        px_info("static file: %s%s", wire_strerror(n ? (int)n : -EIO), px_log_context(c));
        return PX_CLOSE;
    }
    x->file_left -= (uint64_t)n;
    PX_ADD(c->w->stats.bytes_out, n);
    return PX_AGAIN;
}

static void static_end(px_conn *c)
{
    if (c->x->file_fd >= 0)
        close(c->x->file_fd);
    c->x->file_fd = -1;
}

const px_handler px_static_handler = {"static", static_step, NULL, static_end};
