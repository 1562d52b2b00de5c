/* proxyd output plumbing: an iovec batch collected from parsed input, written with one writev, and the pending
 * output block that keeps what a socket did not take. Output is produced only when nothing is pending, so a
 * pending block never holds more than one batch: memory per connection stays bounded. */
#ifndef PROXYD_IO_H
#define PROXYD_IO_H

#include <sys/uio.h>

#include "proxyd.h"

typedef struct px_batch {
    struct iovec iov[PX_IOV_MAX];
    int n;
    size_t total;
    char hdr[PX_IOV_MAX / 3 + 2][20]; /* chunk-size lines */
    int nhdr;
} px_batch;

static inline void px_batch_init(px_batch *b)
{
    b->n = 0;
    b->total = 0;
    b->nhdr = 0;
}

/* Room for one more re-encoded chunk (size line, data, CRLF) plus the last chunk. */
static inline int px_batch_full(const px_batch *b)
{
    return b->n + 4 > PX_IOV_MAX;
}

void px_batch_add(px_batch *b, const void *p, size_t n);
/* Adds data as one chunk: "<hex>\r\n" data "\r\n". */
void px_batch_add_chunk(px_batch *b, const void *p, size_t n);

/* Writes the batch to fd unless output is pending (or fd < 0: not connected yet); whatever is not written is
 * copied into out. Over TLS the batch is copied into out first: mbedTLS encrypts from one buffer that must stay
 * unchanged until the record is sent. Returns the bytes written to the socket (>= 0) or -errno for a write error. */
ssize_t px_batch_write(px_wstate *ws, int fd, tlsio_conn *tls, px_out *out, const px_batch *b);

/* Writes pending output. Returns 1 when everything is written (the block goes back to the pool), 0 when the
 * socket would block, or -errno. */
int px_out_flush(px_wstate *ws, int fd, tlsio_conn *tls, px_out *out);

/* Reads from a plain or TLS socket: bytes (> 0), 0 at end of stream, -EAGAIN when it would block, or -errno. */
ssize_t px_sock_read(int fd, tlsio_conn *tls, void *buf, size_t len);

void px_out_release(px_wstate *ws, px_out *out);

#endif
