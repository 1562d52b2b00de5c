/* test_sock.c: socket plumbing (sock.c): refused and pending non-blocking connects, a connect timeout built
 * from a wire_timer, data transfer, EPIPE instead of SIGPIPE, sendfile, unix sockets. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire_test.h"

static wire_addr loopback_any_port(void)
{
    wire_addr a;
    ck_assert_int_eq(wire_addr_parse("127.0.0.1:0", &a), 0);
    return a;
}

/* Listens on an ephemeral loopback port; *bound receives the actual address. */
static int listen_loopback(int backlog, wire_addr *bound)
{
    wire_addr a = loopback_any_port();
    int fd = wire_listen(&a, backlog, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(wire_sockname(fd, bound), 0);
    return fd;
}

struct conn {
    wire_io io;
    wire_timer timeout;
    int result; /* 1 connected, <0 error, 0 pending */
    int timed_out;
};

static void conn_io_cb(wire_loop *loop, wire_io *io, unsigned events)
{
    struct conn *c = wire_container_of(io, struct conn, io);
    (void)events;
    int r = wire_connect_result(io->fd);
    c->result = r == 0 ? 1 : r;
    wire_io_stop(loop, io);
    wire_timer_stop(loop, &c->timeout);
}

static void conn_timeout_cb(wire_loop *loop, wire_timer *t)
{
    struct conn *c = wire_container_of(t, struct conn, timeout);
    c->timed_out = 1;
    wire_io_stop(loop, &c->io);
    close(c->io.fd); /* the caller abandons the attempt */
    c->io.fd = -1;
}

START_TEST(test_connect_refused)
{
    wire_loop *loop = test_loop_new();
    wire_addr a;
    int lfd = listen_loopback(1, &a); /* reserve a port, then close it: nothing listens there any more */
    close(lfd);
    int fd = wire_connect(&a);
    struct conn c = {0};
    if (fd == -ECONNREFUSED) {
        c.result = fd; /* refused synchronously: also a correct report */
    } else {
        ck_assert_int_ge(fd, 0);
        wire_io_init(&c.io, fd, conn_io_cb, NULL);
        wire_timer_init(&c.timeout, conn_timeout_cb, NULL);
        ck_assert_int_eq(wire_io_start(loop, &c.io, WIRE_WRITE), 0);
        wire_timer_start(loop, &c.timeout, 2000);
        while (wire_loop_alive(loop) > 0)
            ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
        close(fd);
    }
    ck_assert_int_eq(c.result, -ECONNREFUSED);
    ck_assert_str_eq(wire_strerror(c.result), "Connection refused");
    test_loop_free(loop);
}
END_TEST

/* A listener that never accepts, with its accept queue full: further SYNs are dropped, the connect stays
 * pending and the caller's timer gives up on it. */
START_TEST(test_connect_timeout)
{
    wire_loop *loop = test_loop_new();
    wire_addr a;
    int lfd = listen_loopback(0, &a);
    int fill[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_ge(fill[i] = wire_connect(&a), 0);
    usleep(100 * 1000); /* let the handshakes that fit complete */
    int fd = wire_connect(&a);
    ck_assert_int_ge(fd, 0);
    struct conn c = {0};
    wire_io_init(&c.io, fd, conn_io_cb, NULL);
    wire_timer_init(&c.timeout, conn_timeout_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &c.io, WIRE_WRITE), 0);
    wire_timer_start(loop, &c.timeout, 200);
    uint64_t t0 = wire_now(loop);
    while (wire_loop_alive(loop) > 0)
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
    ck_assert_int_eq(c.timed_out, 1);
    ck_assert_int_eq(c.result, 0);
    ck_assert_int_eq(c.io.fd, -1);
    ck_assert_uint_ge(wire_now(loop) - t0, 200);
    for (int i = 0; i < 8; i++)
        close(fill[i]);
    close(lfd);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_connect_transfer_and_epipe)
{
    wire_loop *loop = test_loop_new();
    wire_addr a, peer;
    int lfd = listen_loopback(16, &a);
    ck_assert_int_eq(wire_accept(lfd, &peer), -EAGAIN);
    int cfd = wire_connect(&a);
    ck_assert_int_ge(cfd, 0);
    struct conn c = {0};
    wire_io_init(&c.io, cfd, conn_io_cb, NULL);
    wire_timer_init(&c.timeout, conn_timeout_cb, NULL);
    ck_assert_int_eq(wire_io_start(loop, &c.io, WIRE_WRITE), 0);
    while (wire_loop_alive(loop) > 0)
        ck_assert_int_ge(wire_loop_run_once(loop, -1), 0);
    ck_assert_int_eq(c.result, 1);
    int sfd = wire_accept(lfd, &peer);
    ck_assert_int_ge(sfd, 0);
    ck_assert_int_eq(fcntl(sfd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    ck_assert_int_eq(fcntl(sfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    struct iovec iov[2] = {{.iov_base = "hel", .iov_len = 3}, {.iov_base = "lo", .iov_len = 2}};
    ck_assert_int_eq(wire_writev(cfd, iov, 2), 5);
    char buf[16];
    ck_assert_int_eq(wire_read(sfd, buf, sizeof buf), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(wire_read(sfd, buf, sizeof buf), -EAGAIN);
    ck_assert_int_eq(wire_set_linger0(sfd), 0);
    close(sfd); /* RST */
    usleep(20 * 1000);
    ssize_t w = wire_write(cfd, "x", 1); /* SIGPIPE would kill the test process instead */
    if (w == 1)
        w = wire_write(cfd, "x", 1);
    ck_assert(w == -EPIPE || w == -ECONNRESET);
    close(cfd);
    close(lfd);
    test_loop_free(loop);
}
END_TEST

START_TEST(test_sendfile_and_unix)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/wire-test-%d.sock", (int)getpid());
    char text[80];
    snprintf(text, sizeof text, "unix:%s", path);
    wire_addr a;
    ck_assert_int_eq(wire_addr_parse(text, &a), 0);
    int lfd = wire_listen(&a, 4, 0);
    ck_assert_int_ge(lfd, 0);
    close(lfd);
    lfd = wire_listen(&a, 4, 0); /* the stale socket file is replaced */
    ck_assert_int_ge(lfd, 0);
    int cfd = wire_connect(&a);
    ck_assert_int_ge(cfd, 0);
    int sfd = wire_accept(lfd, NULL);
    ck_assert_int_ge(sfd, 0);
    FILE *f = tmpfile();
    fputs("0123456789", f);
    fflush(f);
    off_t off = 2;
    ck_assert_int_eq(wire_sendfile(sfd, fileno(f), &off, 5), 5);
    ck_assert_int_eq(off, 7);
    char buf[16];
    ck_assert_int_eq(wire_read(cfd, buf, sizeof buf), 5);
    ck_assert_int_eq(memcmp(buf, "23456", 5), 0);
    fclose(f);
    close(sfd);
    ck_assert_int_eq(wire_read(cfd, buf, sizeof buf), 0);
    close(cfd);
    close(lfd);
    unlink(path);
    /* a path that exists and is not a socket is never removed */
    f = fopen(path, "w");
    fclose(f);
    ck_assert_int_eq(wire_listen(&a, 4, 0), -EADDRINUSE);
    ck_assert_int_eq(access(path, F_OK), 0);
    unlink(path);
}
END_TEST

START_TEST(test_listen_flags)
{
    wire_addr a, b;
    ck_assert_int_eq(wire_addr_parse("127.0.0.1:0", &a), 0);
    int l1 = wire_listen(&a, 4, WIRE_LISTEN_REUSEPORT);
    ck_assert_int_ge(l1, 0);
    ck_assert_int_eq(wire_sockname(l1, &b), 0);
    int l2 = wire_listen(&b, 4, WIRE_LISTEN_REUSEPORT); /* same port: one socket per worker */
    ck_assert_int_ge(l2, 0);
    ck_assert_int_eq(wire_listen(&b, 4, 0), -EADDRINUSE);
    ck_assert_int_eq(wire_listen(&b, 4, WIRE_LISTEN_PROBE), -EADDRINUSE); /* a probe sees the listeners too */
    close(l1);
    close(l2);
    /* A probe on a free address binds but never listens: a connect to it is refused, never accepted then reset. */
    int probe = wire_listen(&b, 4, WIRE_LISTEN_PROBE);
    ck_assert_int_ge(probe, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_lt(connect(fd, (const struct sockaddr *)&b.ss, b.len), 0);
    ck_assert_int_eq(errno, ECONNREFUSED);
    close(fd);
    close(probe);
    ck_assert_int_eq(wire_addr_parse("[::1]:0", &a), 0);
    int l6 = wire_listen(&a, 4, WIRE_LISTEN_V6ONLY);
    if (l6 != -EADDRNOTAVAIL && l6 != -EAFNOSUPPORT) { /* hosts without IPv6 */
        ck_assert_int_ge(l6, 0);
        int v6only = 0;
        socklen_t len = sizeof v6only;
        ck_assert_int_eq(getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
        ck_assert_int_eq(v6only, 1);
        close(l6);
    }
}
END_TEST

static Suite *sock_suite(void)
{
    Suite *s = suite_create("wire_sock");
    TCase *tc = tcase_create("sock");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_test(tc, test_connect_transfer_and_epipe);
    tcase_add_test(tc, test_sendfile_and_unix);
    tcase_add_test(tc, test_listen_flags);
    suite_add_tcase(s, tc);
    return s;
}

WIRE_TEST_MAIN(sock_suite)
