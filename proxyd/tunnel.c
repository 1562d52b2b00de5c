/* proxyd tunnels: after 101 Switching Protocols (WebSocket and other upgrades) both connections carry bytes
 * both ways unchanged, each direction through its own fixed buffer, idle-bounded by the upstream read_timeout. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "io.h"
#include "log.h"
#include "proxyd.h"

int px_tunnel_begin(px_conn *c, const http_response *resp, size_t head_len)
{
    px_worker *w = c->w;
    http_writer hw;
    http_writer_init(&hw, w->scratch, w->scratch_size);
    http_write_status_line(&hw, 1, 101, resp->reason);
    for (size_t i = 0; i < resp->nfields; i++)
        if (!http_slice_eq_ci(resp->fields[i].name, "server"))
            http_write_field(&hw, resp->fields[i].name, resp->fields[i].value);
    c->keep_alive = 1; /* no "Connection: close" on a switch */
    px_write_common_fields(c, &hw, 101);
    long hl = http_write_end(&hw);
    px_upconn *u = c->up;
    u->in.start += head_len;
    c->resp_status = 101;
    c->resp_head_sent = 1;
    c->keep_alive = 0;
    if (hl < 0) {
        px_conn_close(c);
        return -1;
    }
    /* Bytes the client sent after its request head are the first tunnel bytes. */
    size_t left = c->in.end - c->body_off;
    memmove(c->in.base, c->in.base + c->body_off, left);
    c->in.start = 0;
    c->in.end = left;
    c->req_body = BODY_DONE;
    c->state = CS_TUNNEL;
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, w->scratch, (size_t)hl);
    px_batch_add(&b, wire_buf_data(&u->in), wire_buf_len(&u->in));
    ssize_t n = px_batch_write(PX_WS(c), c->io.fd, c->tls, &c->out, &b);
    u->in.start = u->in.end = 0;
    if (n < 0) {
        px_conn_close(c);
        return -1;
    }
    if ((size_t)n < b.total)
        c->ready_write = 0;
    return 1;
}

/* Moves one buffer's worth from src to dst. Returns 1 on progress, 0 when nothing moved, -1 on end or error. */
static int pump(px_wstate *ws, wire_buf *in, int *src_ready, int src_fd, tlsio_conn *src_tls, px_out *dst_out,
                int *dst_ready, int dst_fd, tlsio_conn *dst_tls)
{
    if (dst_out->len) {
        if (!*dst_ready)
            return 0;
        int r = px_out_flush(ws, dst_fd, dst_tls, dst_out);
        if (r == 0)
            *dst_ready = 0;
        return r < 0 ? -1 : r;
    }
    if (wire_buf_len(in) == 0) {
        in->start = in->end = 0;
        if (!*src_ready)
            return 0;
        ssize_t n = px_sock_read(src_fd, src_tls, wire_buf_tail(in), wire_buf_room(in));
        if (n == -EAGAIN) {
            *src_ready = 0;
            return 0;
        }
        if (n <= 0)
            return -1;
        in->end += (size_t)n;
    }
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, wire_buf_data(in), wire_buf_len(in));
    ssize_t n = px_batch_write(ws, dst_fd, dst_tls, dst_out, &b);
    if (n < 0)
        return -1;
    if ((size_t)n < b.total)
        *dst_ready = 0;
    in->start = in->end = 0;
    return 1;
}

int px_tunnel_step(px_conn *c)
{
    px_upconn *u = c->up;
    if (px_upstream_alloc_in(u) < 0) {
        px_conn_close(c);
        return -1;
    }
    int up = pump(PX_WS(c), &c->in, &c->ready_read, c->io.fd, c->tls, &u->out, &u->ready_write, u->io.fd, u->tls);
    int down = up < 0 ? 0
                      : pump(PX_WS(c), &u->in, &u->ready_read, u->io.fd, u->tls, &c->out, &c->ready_write, c->io.fd, c->tls);
    if (up < 0 || down < 0) {
        px_conn_close(c);
        return -1;
    }
    if (up || down)
        wire_timer_start(c->w->loop, &u->timer, u->up->read_timeout);
    return up || down;
}
