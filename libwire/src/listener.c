/* listener.c: batched accept on a level-triggered listening socket, paused on descriptor or memory shortage.
 * The socket is watched only while the listener is neither held (connection cap) nor paused (shortage). */
#include "internal.h"

#include <errno.h>

/* Watches the socket when nothing holds it back, unwatches otherwise. A failed restart retries later. */
static void listener_update(wire_listener *l)
{
    if (!l->_loop)
        return;
    int want = !l->_held && !l->_paused;
    if (want && !l->_io._active) {
        if (wire_io_start(l->_loop, &l->_io, WIRE_READ) < 0) {
            l->_paused = 1; /* ENOMEM/ENOSPC from epoll_ctl: try again after pause_ms */
            wire_timer_start(l->_loop, &l->_resume, l->pause_ms);
        }
    } else if (!want && l->_io._active) {
        wire_io_stop(l->_loop, &l->_io);
    }
}

static void listener_resume(wire_loop *loop, wire_timer *t)
{
    wire_listener *l = wire_container_of(t, wire_listener, _resume);
    (void)loop;
    l->_paused = 0;
    listener_update(l);
}

static void listener_pause(wire_listener *l)
{
    l->_paused = 1;
    l->paused_count++;
    listener_update(l);
    wire_timer_start(l->_loop, &l->_resume, l->pause_ms);
}

/* Errors that concern one aborted connection: accept the next one. */
static int transient(int err)
{
    return err == -ECONNABORTED || err == -EPROTO || err == -EPERM || err == -ENETDOWN || err == -ENOPROTOOPT ||
           err == -EHOSTDOWN || err == -ENONET || err == -EHOSTUNREACH || err == -EOPNOTSUPP || err == -ENETUNREACH;
}

static void listener_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    wire_listener *l = wire_container_of(io, wire_listener, _io);
    wire_addr peer;
    (void)loop;
    (void)events;
    for (unsigned i = 0; i < l->batch; i++) {
        int fd = wire_accept(l->fd, &peer);
        if (fd >= 0) {
            l->accepted++;
            l->cb(l, fd, &peer);
            if (!l->_io._active)
                return; /* the callback held or stopped the listener */
            continue;
        }
        if (fd == -EAGAIN)
            return;
        if (!transient(fd)) {
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM (or anything unexpected): level-triggered readiness would
             * report the same pending connection forever, so stop watching and retry later. */
            listener_pause(l);
            return;
        }
    }
}

int wire_listener_start(wire_loop *loop, wire_listener *l, int fd, wire_accept_cb cb, void *data)
{
    if (!cb || fd < 0)
        return -EINVAL;
    if (l->_loop)
        return -EBUSY;
    l->cb = cb;
    l->data = data;
    l->fd = fd;
    if (l->batch == 0)
        l->batch = 64;
    if (l->pause_ms == 0)
        l->pause_ms = 100;
    l->_paused = 0;
    wire_io_init(&l->_io, fd, listener_io_cb, l);
    wire_timer_init(&l->_resume, listener_resume, l);
    if (!l->_held) {
        int err = wire_io_start(loop, &l->_io, WIRE_READ);
        if (err)
            return err;
    }
    l->_loop = loop;
    return 0;
}

void wire_listener_hold(wire_listener *l)
{
    l->_held = 1;
    listener_update(l);
}

void wire_listener_release(wire_listener *l)
{
    l->_held = 0;
    listener_update(l);
}

void wire_listener_stop(wire_listener *l)
{
    if (!l->_loop)
        return;
    wire_io_stop(l->_loop, &l->_io);
    wire_timer_stop(l->_loop, &l->_resume);
    l->_paused = 0;
    l->_loop = NULL;
}
