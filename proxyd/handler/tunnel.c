/* proxyd tunnels: after 101 Switching Protocols (WebSocket and other upgrades) both connections carry bytes both
 * ways unchanged, each direction through its own fixed buffer, idle-bounded by the upstream read_timeout. The
 * request head stays at the front of the client's input block, so log lines still name the original request. */
#include <string.h>

#include "common/log.h"
#include "handler/internal.h"
#include "upstream/upstream.h"

/* Moves one buffer's worth from src to dst through in. PX_AGAIN on progress, PX_WAIT when nothing moved,
 * PX_CLOSE at the end of either stream or on an error. */
static px_step pump(px_stream *src, wire_buf *in, px_stream *dst)
{
    if (dst->out.len) {
        if (!dst->ready_write)
            return PX_WAIT;
        int r = px_stream_flush(dst);
        return r < 0 ? PX_CLOSE : r ? PX_AGAIN : PX_WAIT;
    }
    if (wire_buf_len(in) == 0) {
        in->start = in->end = 0;
        ssize_t n = px_stream_read_into(src, wire_buf_tail(in), wire_buf_room(in));
        if (n < 0)
            return PX_CLOSE;
        if (n == 0)
            return PX_WAIT;
        in->end += (size_t)n;
    }
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, wire_buf_data(in), wire_buf_len(in));
    if (px_stream_write(dst, &b) < 0)
        return PX_CLOSE;
    in->start = in->end = 0;
    return PX_AGAIN;
}

static px_step tunnel_step(px_conn *c)
{
    px_upconn *u = c->x->up;
    if (px_upconn_alloc_in(u) < 0)
        return PX_CLOSE;
    px_step up = pump(&c->s, &c->x->tunnel_in, &u->s);
    if (up == PX_CLOSE)
        return PX_CLOSE;
    px_step down = pump(&u->s, &u->s.in, &c->s);
    if (down == PX_CLOSE)
        return PX_CLOSE;
    if (up == PX_AGAIN || down == PX_AGAIN) {
        px_upconn_arm(u, UT_READ);
        return PX_AGAIN;
    }
    return PX_WAIT;
}

static void tunnel_update_timer(px_conn *c, int progress)
{
    if (progress || c->tkind != T_TUNNEL)
        px_conn_set_timer(c, T_TUNNEL, c->x->route->read_timeout);
}

const px_handler px_tunnel_handler = {"tunnel", tunnel_step, tunnel_update_timer, px_proxy_abort};

/* The 101 head toward the client: the origin's fields but Server, then proxyd's. -1 when too large. */
static long build_switch_head(px_conn *c, const http_response *resp)
{
    http_writer hw;
    http_writer_init(&hw, c->w->scratch, c->w->scratch_size);
    http_write_status_line(&hw, 1, 101, resp->reason);
    for (size_t i = 0; i < resp->nfields; i++)
        if (!http_slice_eq_ci(resp->fields[i].name, "server"))
            http_write_field(&hw, resp->fields[i].name, resp->fields[i].value);
    c->x->keep_alive = 1; /* no "Connection: close" on a switch */
    px_write_common_fields(c, &hw, 101);
    c->x->keep_alive = 0; /* after a tunnel the connection ends */
    return http_write_end(&hw);
}

px_step px_tunnel_begin(px_conn *c, const http_response *resp, size_t head_len)
{
    px_exchange *x = c->x;
    px_upconn *u = x->up;
    long hl = build_switch_head(c, resp);
    u->s.in.start += head_len;
    x->resp_status = x->up_status = 101;
    x->resp_head_sent = 1;
    if (hl < 0)
        return PX_CLOSE;
    /* Bytes the client sent after its request head are the first tunnel bytes; they move next to the head,
     * which stays where it is for the log lines. */
    size_t left = c->s.in.end - x->body_off;
    memmove(c->s.in.base + x->head_len, c->s.in.base + x->body_off, left);
    x->tunnel_in.base = c->s.in.base + x->head_len;
    x->tunnel_in.cap = c->s.in.cap - x->head_len;
    x->tunnel_in.start = 0;
    x->tunnel_in.end = left;
    c->s.in.end = x->body_off = x->head_len;
    x->req_body = BODY_DONE;
    x->handler = &px_tunnel_handler;
    px_batch b;
    px_batch_init(&b);
    px_batch_add(&b, c->w->scratch, (size_t)hl);
    px_batch_add(&b, wire_buf_data(&u->s.in), wire_buf_len(&u->s.in));
    ssize_t n = px_conn_write(c, &b);
    u->s.in.start = u->s.in.end = 0;
    return n < 0 ? PX_CLOSE : PX_AGAIN;
}
