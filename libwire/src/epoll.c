/* epoll.c: io watcher registration (epoll_ctl) and the rule that a stopped watcher receives nothing more.
 * The event bits of wire.h are the EPOLL* values, so no translation happens here. */
#include "internal.h"

#include <errno.h>

void wire_io_init(wire_io *io, int fd, wire_io_cb cb, void *data)
{
    io->fd = fd;
    io->events = 0;
    io->cb = cb;
    io->data = data;
    io->_active = 0;
}

static int io_ctl(wire_loop *loop, wire_io *io, int op, unsigned events)
{
    struct epoll_event ev = {.events = events & WIRE__INTEREST_MASK, .data.ptr = io};
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return -errno;
    io->events = events & WIRE__INTEREST_MASK;
    return 0;
}

int wire_io_start(wire_loop *loop, wire_io *io, unsigned events)
{
    if (io->_active)
        return wire_io_modify(loop, io, events);
    if (io->fd < 0 || !io->cb)
        return -EINVAL;
    int err = io_ctl(loop, io, EPOLL_CTL_ADD, events);
    if (err)
        return err;
    io->_active = 1;
    loop->io_count++;
    return 0;
}

int wire_io_modify(wire_loop *loop, wire_io *io, unsigned events)
{
    if (!io->_active)
        return wire_io_start(loop, io, events);
    if ((events & WIRE__INTEREST_MASK) == io->events)
        return 0;
    return io_ctl(loop, io, EPOLL_CTL_MOD, events);
}

/* Drops events already fetched for io in this iteration: the owner may free io as soon as we return. */
static void drop_fetched(wire_loop *loop, const wire_io *io)
{
    for (int i = loop->cursor + 1; i < loop->nready; i++) {
        if (loop->events[i].data.ptr == io)
            loop->events[i].data.ptr = NULL;
    }
}

void wire_io_stop(wire_loop *loop, wire_io *io)
{
    if (!io->_active)
        return;
    /* EBADF/ENOENT: the fd was closed first, which removed it from the set unless another descriptor shares
     * the open file (closing a dup'ed fd before wire_io_stop is a caller bug we cannot detect). */
    struct epoll_event ev = {0};
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, &ev);
    io->_active = 0;
    io->events = 0;
    loop->io_count--;
    drop_fetched(loop, io);
}
