/* proxyd static files: `root` answers GET and HEAD for paths no route takes, with sendfile(2) on plain
 * connections and bounded reads over TLS. Paths are decoded once, and any ".." segment is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html"}, {"htm", "text/html"},  {"css", "text/css"},        {"js", "application/javascript"},
    {"json", "application/json"}, {"txt", "text/plain"}, {"xml", "text/xml"}, {"svg", "image/svg+xml"},
    {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"ico", "image/x-icon"}, {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"pdf", "application/pdf"},
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
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Decodes the path (without query) into out. Returns its length, or -1 for a path that must not be served. */
static long decode_path(http_slice path, char *out, size_t cap)
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

int px_static_respond(px_conn *c)
{
    const px_server *s = c->server;
    char rel[2048], full[4096];
    if (c->x->req.method_id != HTTP_M_GET && c->x->req.method_id != HTTP_M_HEAD)
        return px_respond_error(c, 405, "static files answer GET and HEAD only");
    if (c->req_body != BODY_DONE)
        c->keep_alive = 0; /* the body is not read: what follows it must never pass for a request */
    long n = decode_path(c->x->req.path, rel, sizeof(rel));
    if (n < 0)
        return px_respond_error(c, 400, "path not servable");
    int len = snprintf(full, sizeof(full), "%s%s%s", s->root, rel, rel[n - 1] == '/' ? (s->index ? s->index : "index.html") : "");
    if (len < 0 || (size_t)len >= sizeof(full))
        return px_respond_error(c, 414, "path too long");
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        return px_respond_error(c, err == EACCES ? 403 : 404, "no such file");
    }
    if (px_respond_head(c, 200, NULL, content_type(full), (uint64_t)st.st_size, NULL, 0) < 0) {
        close(fd);
        px_conn_close(c);
        return -1;
    }
    if (c->x->req.method_id == HTTP_M_HEAD || st.st_size == 0) {
        close(fd);
        c->state = c->keep_alive ? CS_LOCAL : CS_CLOSING;
        return 1;
    }
    c->file_fd = fd;
    c->file_off = 0;
    c->file_left = (uint64_t)st.st_size;
    c->state = CS_FILE;
    return 1;
}

/* CS_FILE: the body, after the head has left. */
int px_static_step(px_conn *c)
{
    if (c->out.len) {
        if (!c->ready_write)
            return 0;
        int r = px_out_flush(PX_WS(c), c->io.fd, c->tls, &c->out);
        if (r <= 0) {
            if (r < 0)
                return px_conn_close(c), -1;
            c->ready_write = 0;
            return 0;
        }
        return 1;
    }
    if (c->file_left == 0) {
        close(c->file_fd);
        c->file_fd = -1;
        c->state = c->keep_alive ? CS_LOCAL : CS_CLOSING;
        return 1;
    }
    if (!c->ready_write)
        return 0;
    ssize_t n;
    if (!c->tls) {
        n = wire_sendfile(c->io.fd, c->file_fd, &c->file_off, c->file_left);
    } else {
        char *blk = c->w->scratch;
        size_t want = c->file_left < 16384 ? (size_t)c->file_left : 16384;
        n = pread(c->file_fd, blk, want, c->file_off);
        if (n > 0) {
            px_batch b;
            px_batch_init(&b);
            px_batch_add(&b, blk, (size_t)n);
            c->file_off += n;
            if (px_batch_write(PX_WS(c), c->io.fd, c->tls, &c->out, &b) < 0)
                n = -EPIPE;
        } else if (n == 0) {
            n = -EIO; /* the file shrank under us */
        }
    }
    if (n == -EAGAIN) {
        c->ready_write = 0;
        return 0;
    }
    if (n <= 0) {
        px_info("client %s: static file: %s", px_conn_peer(c), wire_strerror(n ? (int)n : -EIO));
        px_conn_close(c);
        return -1;
    }
    c->file_left -= (uint64_t)n;
    PX_ADD(c->w->stats.bytes_out, n);
    return 1;
}
