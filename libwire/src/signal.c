/* signal.c: delivers blocked signals to a callback on the loop through one signalfd per loop.
 * The signals stay blocked in the thread after wire_signal_stop; the caller restores its mask if it wants. */
#include "internal.h"

#include <errno.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void signal_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    struct signalfd_siginfo info;
    (void)events;
    for (;;) {
        ssize_t r = read(io->fd, &info, sizeof info);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof info)
            return; /* EAGAIN: drained */
        loop->sig_cb(loop, (int)info.ssi_signo, loop->sig_data);
        if (!loop->sig_io._active)
            return; /* the callback called wire_signal_stop */
    }
}

int wire_signal_start(wire_loop *loop, const sigset_t *set, wire_signal_cb cb, void *data)
{
    if (!cb || !set)
        return -EINVAL;
    if (loop->sig_io._active)
        return -EBUSY;
    int err = pthread_sigmask(SIG_BLOCK, set, NULL);
    if (err)
        return -err;
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    loop->sig_cb = cb;
    loop->sig_data = data;
    wire_io_init(&loop->sig_io, fd, signal_io_cb, data);
    err = wire_io_start(loop, &loop->sig_io, WIRE_READ);
    if (err) {
        close(fd);
        loop->sig_io.fd = -1;
    }
    return err;
}

void wire_signal_stop(wire_loop *loop)
{
    if (!loop->sig_io._active)
        return;
    wire_io_stop(loop, &loop->sig_io);
    close(loop->sig_io.fd);
    loop->sig_io.fd = -1;
}
