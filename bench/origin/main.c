/* origin main: arguments, listening sockets (one SO_REUSEPORT socket per worker and address), worker threads,
 * and a clean SIGINT/SIGTERM shutdown that frees everything. */
#include "origin.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 256
#define BACKLOG 1024
#define POOL_MAX_FREE 1024

typedef struct origin {
    wire_addr addrs[ORIGIN_MAX_LISTEN];
    size_t naddrs;
    unsigned nworkers;
    int quiet;
    origin_worker *workers;
    wire_loop *loop; /* main thread: signals and worker failures */
    wire_async failed;
    int status; /* exit status */
} origin;

static const char usage_text[] = "usage: origin -l ADDR:PORT [-l ADDR:PORT ...] [-w WORKERS] [-q] [-h]\n";

/* -h: the endpoints, so that a test or a benchmark can be written without reading routes.c. */
static void help(void)
{
    printf("%s"
           "  -l ADDR:PORT  listen (repeatable; :0 picks a port, printed as \"origin: listening on ...\")\n"
           "  -w WORKERS    worker threads (default 1)\n"
           "  -q            no access lines\n"
           "endpoints (any method; HEAD gets the head only):\n"
           "  /               100 bytes\n"
           "  /size/N         N bytes, Content-Length\n"
           "  /chunked/N      N bytes, chunked (?chunks=K: in K chunks)\n"
           "  /type/T/N       N bytes typed T, '_' for '/' (/type/text_html/2000)\n"
           "  /echo           the request body back (chunked when the request was)\n"
           "  /status/S       a short text answer with status S (200-599)\n"
           "  /header         200 with the fields of the query (?X-A=1&status=302)\n"
           "  /ntlm           NTLM handshake: alice/Wonderland1, bob/Builder2, carol/Singer3 verified as NTLMv2;\n"
           "                  any other user passes when its NT response begins with the challenge\n"
           "  /basic          Basic authentication of the same users (401 with a challenge, or 200)\n"
           "  /auth/attempts  login attempts (NTLM type 3, Basic) that reached the origin, per user\n"
           "  /ws             WebSocket echo after 101\n"
           "  /close          answers, then closes the connection\n"
           "  /stats          connections and requests counted so far\n"
           "  /stats/reset    the same, then zeroes them\n"
           "query on any endpoint: ?delay=MS waits before answering\n"
           "anything else: 404\n",
           usage_text);
    exit(0);
}

static void usage(void)
{
    fprintf(stderr, "%s", usage_text);
    exit(2);
}

static void parse_args(origin *o, int argc, char **argv)
{
    int ch;
    o->nworkers = 1;
    while ((ch = getopt(argc, argv, "l:w:qh")) != -1) {
        switch (ch) {
        case 'l':
            if (o->naddrs == ORIGIN_MAX_LISTEN || wire_addr_parse(optarg, &o->addrs[o->naddrs]) < 0) {
                fprintf(stderr, "origin: bad or too many listen addresses: %s\n", optarg);
                exit(2);
            }
            o->naddrs++;
            break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > MAX_WORKERS)
                usage();
            o->nworkers = (unsigned)n;
            break;
        }
        case 'q': o->quiet = 1; break;
        case 'h': help(); break;
        default: usage();
        }
    }
    if (o->naddrs == 0 || optind != argc)
        usage();
}

/* Opens one socket per worker for address i. Port 0 is resolved by the first socket so the others share it. */
static int open_address(origin *o, size_t i)
{
    for (unsigned k = 0; k < o->nworkers; k++) {
        int fd = wire_listen(&o->addrs[i], BACKLOG, WIRE_LISTEN_REUSEPORT);
        if (fd < 0) {
            char buf[128];
            fprintf(stderr, "origin: listen %s: %s\n", wire_addr_format(&o->addrs[i], buf, sizeof buf),
                    wire_strerror(fd));
            return -1;
        }
        o->workers[k].fds[i] = fd;
        o->workers[k].nfds = i + 1;
        if (k == 0 && wire_sockname(fd, &o->addrs[i]) < 0)
            return -1;
    }
    return 0;
}

static void close_listeners(origin *o)
{
    for (unsigned k = 0; k < o->nworkers; k++)
        for (size_t i = 0; i < o->workers[k].nfds; i++)
            close(o->workers[k].fds[i]);
}

static origin *the_origin; /* for worker_main's failure report */

static void worker_main(wire_worker *t)
{
    origin_worker *w = t->data;
    size_t started = 0;
    int err = 0;
    for (; started < w->nfds && err == 0; started++)
        err = wire_listener_start(w->loop, &w->listeners[started], w->fds[started], conn_accept, w);
    if (err < 0)
        started--; /* the failed one is not running */
    else
        err = wire_loop_run(w->loop);
    for (size_t i = 0; i < started; i++)
        wire_listener_stop(&w->listeners[i]);
    conn_free_all(w);
    wire_pool_drain(&w->in_pool);
    wire_pool_drain(&w->out_pool);
    pthread_mutex_lock(&w->lock);
    if (wire_loop_free(w->loop) < 0 && err == 0)
        err = -EBUSY;
    w->loop = NULL;
    w->err = err;
    pthread_mutex_unlock(&w->lock);
    if (err < 0)
        wire_async_send(&the_origin->failed);
}

static void stop_workers(origin *o)
{
    for (unsigned k = 0; k < o->nworkers; k++) {
        origin_worker *w = &o->workers[k];
        pthread_mutex_lock(&w->lock);
        if (w->loop)
            wire_loop_stop(w->loop);
        pthread_mutex_unlock(&w->lock);
    }
}

static void on_signal(wire_loop *loop, int signo, void *data)
{
    wire_loop_stop(loop);
}

static void on_failed(wire_loop *loop, wire_async *a)
{
    origin *o = a->data;
    o->status = 1;
    wire_loop_stop(loop);
}

/* Creates each worker's loop and pools and starts its thread. Returns the number started. */
static unsigned start_workers(origin *o)
{
    unsigned k = 0;
    for (; k < o->nworkers; k++) {
        origin_worker *w = &o->workers[k];
        int err = wire_loop_new(&w->loop);
        if (err == 0) {
            wire_pool_init(&w->in_pool, ORIGIN_IN_SIZE, POOL_MAX_FREE);
            wire_pool_init(&w->out_pool, ORIGIN_OUT_SIZE, POOL_MAX_FREE);
            w->thread.cpu = -1;
            w->thread.id = k;
            err = wire_worker_start(&w->thread, worker_main, w);
            if (err < 0)
                wire_loop_free(w->loop);
        }
        if (err < 0) {
            w->loop = NULL;
            fprintf(stderr, "origin: worker %u: %s\n", k, wire_strerror(err));
            o->status = 1;
            break;
        }
    }
    return k;
}

static void announce(const origin *o)
{
    for (size_t i = 0; i < o->naddrs; i++) {
        char buf[128];
        printf("origin: listening on %s\n", wire_addr_format(&o->addrs[i], buf, sizeof buf));
    }
    fflush(stdout);
    if (!o->quiet)
        fprintf(stderr, "origin: %u worker(s)\n", o->nworkers);
}

/* Runs the main loop until a signal or a worker failure, then stops and joins every worker. */
static void run(origin *o)
{
    unsigned started = start_workers(o);
    if (started == o->nworkers) {
        announce(o);
        int err = wire_loop_run(o->loop);
        if (err < 0) {
            fprintf(stderr, "origin: main loop: %s\n", wire_strerror(err));
            o->status = 1;
        }
    }
    stop_workers(o);
    for (unsigned k = 0; k < started; k++) {
        wire_worker_join(&o->workers[k].thread);
        if (o->workers[k].err < 0) {
            fprintf(stderr, "origin: worker %u: %s\n", k, wire_strerror(o->workers[k].err));
            o->status = 1;
        }
    }
}

int main(int argc, char **argv)
{
    origin o = {0};
    sigset_t set;
    parse_args(&o, argc, argv);
    the_origin = &o;
    routes_init();
    signal(SIGPIPE, SIG_IGN);
    (void)wire_raise_nofile(65536);
    o.workers = calloc(o.nworkers, sizeof *o.workers);
    if (!o.workers || wire_loop_new(&o.loop) < 0) {
        fprintf(stderr, "origin: out of memory\n");
        return 1;
    }
    for (unsigned k = 0; k < o.nworkers; k++)
        pthread_mutex_init(&o.workers[k].lock, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Signals are blocked before any worker starts, so the threads inherit the mask. */
    int err = wire_signal_start(o.loop, &set, on_signal, &o);
    if (err == 0)
        err = wire_async_start(o.loop, &o.failed, on_failed, &o);
    if (err < 0) {
        fprintf(stderr, "origin: %s\n", wire_strerror(err));
        o.status = 1;
    }
    for (size_t i = 0; i < o.naddrs && o.status == 0; i++)
        if (open_address(&o, i) < 0)
            o.status = 1;
    if (o.status == 0)
        run(&o);
    else if (!o.quiet)
        fprintf(stderr, "origin: not started\n");
    if (!o.quiet)
        fprintf(stderr, "origin: stopped\n");
    close_listeners(&o);
    wire_async_stop(o.loop, &o.failed);
    wire_signal_stop(o.loop);
    wire_loop_free(o.loop);
    for (unsigned k = 0; k < o.nworkers; k++)
        pthread_mutex_destroy(&o.workers[k].lock);
    free(o.workers);
    return o.status;
}
