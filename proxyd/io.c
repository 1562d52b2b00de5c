/* proxyd output plumbing: iovec batches written with one writev, and the pending block for what the socket
 * did not take. The fast path copies nothing: body bytes go from the input block straight to the kernel. */
#include "io.h"

#include <errno.h>
#include <string.h>

void px_batch_add(px_batch *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    b->iov[b->n].iov_base = (void *)(uintptr_t)p;
    b->iov[b->n].iov_len = n;
    b->n++;
    b->total += n;
}

void px_batch_add_chunk(px_batch *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    char *h = b->hdr[b->nhdr++];
    size_t hl = http_chunk_header(h, n);
    px_batch_add(b, h, hl);
    px_batch_add(b, p, n);
    px_batch_add(b, "\r\n", 2);
}

static int out_append(px_wstate *ws, px_out *out, const px_batch *b, size_t skip)
{
    if (!out->buf) {
        out->buf = wire_pool_get(&ws->out_pool);
        if (!out->buf)
            return -ENOMEM;
        out->off = out->len = 0;
    }
    if (out->off) {
        memmove(out->buf, out->buf + out->off, out->len);
        out->off = 0;
    }
    for (int i = 0; i < b->n; i++) {
        size_t l = b->iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        l -= skip;
        if (out->len + l > ws->out_pool.block_size)
            return -ENOBUFS; /* cannot happen while output is produced only when nothing is pending */
        memcpy(out->buf + out->len, (char *)b->iov[i].iov_base + skip, l);
        out->len += l;
        skip = 0;
    }
    return 0;
}

static ssize_t tls_batch_write(px_wstate *ws, int fd, tlsio_conn *tls, px_out *out, const px_batch *b)
{
    int pending = out->len != 0;
    int rc = out_append(ws, out, b, 0);
    if (rc < 0)
        return rc;
    if (pending)
        return 0;
    rc = px_out_flush(ws, fd, tls, out);
    return rc < 0 ? rc : rc == 1 ? (ssize_t)b->total : 0;
}

ssize_t px_batch_write(px_wstate *ws, int fd, tlsio_conn *tls, px_out *out, const px_batch *b)
{
    ssize_t n = 0;
    if (b->total == 0)
        return 0;
    if (tls)
        return tls_batch_write(ws, fd, tls, out, b);
    if (fd >= 0 && out->len == 0) {
        n = wire_writev(fd, b->iov, b->n);
        if (n == -EAGAIN)
            n = 0;
        else if (n < 0)
            return n;
        if ((size_t)n == b->total)
            return n;
    }
    int rc = out_append(ws, out, b, (size_t)n);
    return rc < 0 ? rc : n;
}

static ssize_t tls_status(tlsio_conn *tls, ssize_t n)
{
    if (n >= 0)
        return n;
    if (n == TLSIO_WANT_READ || n == TLSIO_WANT_WRITE)
        return -EAGAIN;
    if (n == TLSIO_ESYSCALL && tlsio_conn_sys_errno(tls))
        return -tlsio_conn_sys_errno(tls);
    return -EPROTO;
}

ssize_t px_sock_read(int fd, tlsio_conn *tls, void *buf, size_t len)
{
    if (!tls)
        return wire_read(fd, buf, len);
    return tls_status(tls, tlsio_read(tls, buf, len));
}

int px_out_flush(px_wstate *ws, int fd, tlsio_conn *tls, px_out *out)
{
    while (out->len) {
        ssize_t n = tls ? tls_status(tls, tlsio_write(tls, out->buf + out->off, out->len))
                        : wire_write(fd, out->buf + out->off, out->len);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
        out->off += (size_t)n;
        out->len -= (size_t)n;
    }
    px_out_release(ws, out);
    return 1;
}

void px_out_release(px_wstate *ws, px_out *out)
{
    if (out->buf)
        wire_pool_put(&ws->out_pool, out->buf);
    out->buf = NULL;
    out->off = out->len = 0;
}
