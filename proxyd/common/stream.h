/* proxyd streams: one socket (plain or TLS) with its input block, its pending output and its readiness flags,
 * embedded in both the client and the upstream connection; and the iovec batches written to it in one writev. */
#ifndef PROXYD_COMMON_STREAM_H
#define PROXYD_COMMON_STREAM_H

#include <sys/types.h>
#include <sys/uio.h>

#include <tlsio/tlsio.h>
#include <wire/wire.h>

#include "common/constants.h"

/* Pending output: bytes that a write could not take, kept until the socket is writable. Output is produced only
 * when nothing is pending, so a pending block never holds more than one batch: memory stays bounded. */
typedef struct px_out {
    char *buf; /* block from the stream's out_pool, NULL when empty */
    size_t off, len;
} px_out;

/* Readiness follows edge-triggered epoll: a flag is set by an event and cleared only when an operation would block
 * (or a short plain read drained the socket), never guessed. */
typedef struct px_stream {
    wire_io io;      /* the descriptor and its watcher; io.data is the owner */
    tlsio_conn *tls; /* NULL on a plain connection; freed with the stream */
    wire_buf in;     /* input block from in_pool, taken when bytes are awaited (see px_stream_alloc_in) */
    px_out out;
    wire_pool *in_pool, *out_pool; /* the owner's runtime's pools for this worker: blocks go back there */
    int ready_read, ready_write;
    int eof; /* a read returned end of stream or an error */
    int hup; /* the peer half-closed or the socket failed (RDHUP, HUP, ERR) */
} px_stream;

typedef struct px_batch {
    struct iovec iov[PX_IOV_MAX];
    int n;
    size_t total;
    char hdr[PX_IOV_MAX / 3 + 2][20]; /* chunk-size lines */
    int nhdr;
} px_batch;

/* Sets up a stream on fd (owned by the stream from now on) without watching it yet. Never fails. */
void px_stream_init(px_stream *s, int fd, wire_io_cb cb, void *owner, wire_pool *in_pool, wire_pool *out_pool);
/* Watches the descriptor for reads, writes and half-closes, edge-triggered. 0 or -errno. */
int px_stream_watch(px_stream *s, wire_loop *loop);
/* Records what an epoll event says about the socket. Call first in the owner's I/O callback. */
void px_stream_on_events(px_stream *s, unsigned events);
/* Stops watching, frees TLS, closes the descriptor (with RST when reset), gives the blocks back. */
void px_stream_close(px_stream *s, wire_loop *loop, int reset);

/* Drives the TLS handshake (s->tls set): tlsio_handshake()'s result, with the readiness flags kept true: WANT_READ
 * or WANT_WRITE clears the flag it waits on, and a finished handshake that left input buffered sets ready_read. */
int px_stream_handshake(px_stream *s);

/* Takes an input block of in_cap usable bytes if the stream has none. 0 or -ENOMEM. */
int px_stream_alloc_in(px_stream *s, size_t in_cap);
/* Gives the input block back when it holds nothing. */
void px_stream_release_in(px_stream *s);
/* Reads into the input block's room. Returns bytes read (> 0), 0 when nothing is ready or there is no room, or
 * -1 at end of stream or on an error (eof is set then). Clears ready_read when the socket is drained. */
ssize_t px_stream_read(px_stream *s);
/* Reads into buf instead of the input block, with the same readiness rules: > 0, 0 nothing ready, -1 end. */
ssize_t px_stream_read_into(px_stream *s, void *buf, size_t len);
/* Writes pending output. Returns 1 when everything is written (the block goes back), 0 when the socket would
 * block (ready_write cleared), or -errno. */
int px_stream_flush(px_stream *s);
/* Writes the batch unless output is pending (or the socket is not connected, fd < 0); what is not written is
 * copied into the pending block. Over TLS the batch is copied first: mbedTLS encrypts from one buffer that must
 * stay unchanged until the record is sent. Returns the bytes written now (>= 0; ready_write cleared when short) or
 * -errno. */
ssize_t px_stream_write(px_stream *s, const px_batch *b);

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

/* Adds n bytes that must stay valid until the batch is written. */
void px_batch_add(px_batch *b, const void *p, size_t n);
/* Adds data as one chunk: "<hex>\r\n" data "\r\n". */
void px_batch_add_chunk(px_batch *b, const void *p, size_t n);

#endif
