/* sock.c: socket system calls (listen, accept, connect, options, read/write/sendfile), retried on EINTR.
 * Every descriptor is created SOCK_NONBLOCK|SOCK_CLOEXEC; errors come back as -errno. */
#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int is_inet(const wire_addr *addr)
{
    return addr->ss.ss_family == AF_INET || addr->ss.ss_family == AF_INET6;
}

static int set_int_opt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

/* Removes a stale socket file left by a previous run; refuses to touch anything that is not a socket. */
static void unlink_stale(const wire_addr *addr)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&addr->ss;
    struct stat st;
    if (sun->sun_path[0] && lstat(sun->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(sun->sun_path);
}

static int listen_options(int fd, const wire_addr *addr, unsigned flags)
{
    int err = 0;
    if (is_inet(addr))
        err = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (!err && (flags & WIRE_LISTEN_REUSEPORT))
        err = set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (!err && addr->ss.ss_family == AF_INET6)
        err = set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & WIRE_LISTEN_V6ONLY) ? 1 : 0);
    return err;
}

int wire_listen(const wire_addr *addr, int backlog, unsigned flags)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = listen_options(fd, addr, flags);
    if (!err && addr->ss.ss_family == AF_UNIX)
        unlink_stale(addr);
    if (!err && bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
        err = -errno;
    if (!err && !(flags & WIRE_LISTEN_PROBE) && listen(fd, backlog) < 0)
        err = -errno;
    if (err) {
        close(fd);
        return err;
    }
    return fd;
}

int wire_accept(int lfd, wire_addr *peer)
{
    wire_addr tmp;
    wire_addr *p = peer ? peer : &tmp;
    int fd;
    do {
        p->len = sizeof p->ss;
        fd = accept4(lfd, (struct sockaddr *)&p->ss, &p->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return fd;
}

int wire_connect(const wire_addr *addr)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = is_inet(addr) ? wire_set_nodelay(fd) : 0;
    /* EINTR: the connect goes on asynchronously (retrying would give EALREADY), like EINPROGRESS. */
    if (!err && connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 && errno != EINPROGRESS &&
        errno != EINTR)
        err = -errno;
    if (err) {
        close(fd);
        return err;
    }
    return fd;
}

int wire_connect_result(int fd)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return -errno;
    return -soerr;
}

int wire_set_nodelay(int fd)
{
    return set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

int wire_set_linger0(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0 ? -errno : 0;
}

int wire_sockname(int fd, wire_addr *addr)
{
    addr->len = sizeof addr->ss;
    return getsockname(fd, (struct sockaddr *)&addr->ss, &addr->len) < 0 ? -errno : 0;
}

ssize_t wire_read(int fd, void *buf, size_t len)
{
    ssize_t n;
    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* sendmsg with MSG_NOSIGNAL: a peer that went away yields -EPIPE instead of killing the process with SIGPIPE.
 * One piece goes by send(), which skips copying and checking a msghdr in the kernel. Descriptors that are not
 * sockets (pipes, files) fall back to writev. */
ssize_t wire_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n;
    do {
        n = iovcnt == 1 ? send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL) : sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK) {
        do {
            n = writev(fd, iov, iovcnt);
        } while (n < 0 && errno == EINTR);
    }
    return n < 0 ? -errno : n;
}

ssize_t wire_write(int fd, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return wire_writev(fd, &iov, 1);
}

ssize_t wire_sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    ssize_t n;
    do {
        n = sendfile(out_fd, in_fd, offset, count);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}
