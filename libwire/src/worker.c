/* worker.c: worker threads (optionally pinned to one CPU), the CPU count and the descriptor limit.
 * The thread body is the caller's: typically create a loop, run it, free it. */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

static void *worker_main(void *arg)
{
    wire_worker *w = arg;
    w->fn(w);
    return NULL;
}

static int worker_attr(pthread_attr_t *attr, int cpu)
{
    cpu_set_t set;
    if (cpu < 0)
        return 0;
    if (cpu >= CPU_SETSIZE)
        return -EINVAL;
    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    return -pthread_attr_setaffinity_np(attr, sizeof set, &set);
}

int wire_worker_start(wire_worker *w, wire_worker_fn fn, void *data)
{
    pthread_attr_t attr;
    if (!fn || w->_started)
        return -EINVAL;
    w->fn = fn;
    w->data = data;
    int err = -pthread_attr_init(&attr);
    if (err)
        return err;
    err = worker_attr(&attr, w->cpu);
    if (!err)
        err = -pthread_create(&w->_thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (!err)
        w->_started = 1;
    return err;
}

int wire_worker_join(wire_worker *w)
{
    if (!w->_started)
        return -EINVAL;
    int err = -pthread_join(w->_thread, NULL);
    if (!err)
        w->_started = 0;
    return err;
}

unsigned wire_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

long wire_raise_nofile(long want)
{
    struct rlimit rl;
    if (want < 0)
        return -EINVAL;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want) {
        struct rlimit up = {.rlim_cur = (rlim_t)want, .rlim_max = rl.rlim_max};
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)want)
            up.rlim_max = (rlim_t)want; /* needs CAP_SYS_RESOURCE and want <= fs.nr_open */
        if (setrlimit(RLIMIT_NOFILE, &up) < 0) {
            up.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
            up.rlim_max = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &up) < 0)
                return -errno;
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
            return -errno;
    }
    return rl.rlim_cur == RLIM_INFINITY ? (long)(~0ul >> 1) : (long)rl.rlim_cur;
}
