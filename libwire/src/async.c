/* async.c: cross-thread wake-ups over an eventfd; sends before the loop runs coalesce into one callback.
 * wire_async_send only writes to the eventfd, so it is safe from any thread and from signal handlers. */
#include "internal.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void async_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    wire_async *a = wire_container_of(io, wire_async, _io);
    uint64_t count;
    ssize_t r;
    (void)events;
    do {
        r = read(io->fd, &count, sizeof count); /* resets the counter: one callback for all pending sends */
    } while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof count)
        return; /* EAGAIN: another reader (none in this design) or a spurious wake-up */
    a->cb(loop, a);
}

int wire_async_start(wire_loop *loop, wire_async *a, wire_async_cb cb, void *data)
{
    if (!cb)
        return -EINVAL;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    a->cb = cb;
    a->data = data;
    a->_loop = loop;
    wire_io_init(&a->_io, fd, async_io_cb, NULL);
    int err = wire_io_start(loop, &a->_io, WIRE_READ);
    if (err) {
        close(fd);
        a->_io.fd = -1;
        return err;
    }
    return 0;
}

void wire_async_send(wire_async *a)
{
    int saved = errno; /* async-signal-safe: a handler must not clobber the interrupted code's errno */
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated, which still wakes the loop: nothing to retry. */
    while (write(a->_io.fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    errno = saved;
}

void wire_async_stop(wire_loop *loop, wire_async *a)
{
    if (a->_io.fd < 0 || !a->_io._active)
        return;
    wire_io_stop(loop, &a->_io);
    close(a->_io.fd);
    a->_io.fd = -1;
}
