/* libwire private header: the loop structure, the timer wheel layout and the helpers shared between sources.
 * Everything here is internal (prefix wire__); the public contract is include/wire/wire.h. */
#ifndef WIRE_INTERNAL_H
#define WIRE_INTERNAL_H

#include "wire/wire.h"

#include <stdatomic.h>
#include <sys/epoll.h>

#define WIRE__MAX_EVENTS 256 /* events fetched per epoll_wait */

/* Hierarchical timer wheel: 1 ms ticks, 64 slots per level, 11 levels cover the whole 64-bit range, so no
 * timer is ever clamped or revisited before its slot's time comes. */
#define WIRE__WHEEL_BITS 6
#define WIRE__WHEEL_SLOTS (1u << WIRE__WHEEL_BITS)
#define WIRE__WHEEL_LEVELS 11

/* What the callback may receive and what the caller may ask for. */
#define WIRE__RECV_MASK (WIRE_READ | WIRE_WRITE | WIRE_ERROR | WIRE_HUP | WIRE_RDHUP)
#define WIRE__INTEREST_MASK ((unsigned)WIRE_READ | WIRE_WRITE | WIRE_RDHUP | (unsigned)WIRE_EDGE)

/* wire_timer._active values. */
enum wire__timer_state {
    WIRE__TIMER_IDLE = 0,
    WIRE__TIMER_WHEEL = 1,   /* linked in a wheel slot */
    WIRE__TIMER_EXPIRED = 2, /* due, linked in the loop's expired list, callback not yet run */
};

typedef struct wire__wheel {
    uint64_t cur;                                            /* last tick processed */
    uint64_t pending[WIRE__WHEEL_LEVELS];                    /* slots that may be non-empty (cleared lazily) */
    wire_timer slots[WIRE__WHEEL_LEVELS][WIRE__WHEEL_SLOTS]; /* circular list sentinels */
    wire_timer expired;                                      /* sentinel: due timers awaiting their callback */
} wire__wheel;

struct wire_loop {
    int epfd;
    atomic_int stop; /* set by wire_loop_stop, possibly from another thread */
    uint64_t now;    /* cached CLOCK_MONOTONIC milliseconds */
    void *data;
    size_t io_count;    /* started io watchers, including the internal ones */
    size_t internal_io; /* watchers the loop owns itself (the wake-up eventfd) */
    size_t timer_count; /* active timers */
    /* events of the current iteration: wire_io_stop drops entries after the one being dispatched */
    struct epoll_event events[WIRE__MAX_EVENTS];
    int nready;
    int cursor;
    wire_async wake; /* wire_loop_stop's wake-up */
    /* signalfd watcher */
    wire_io sig_io;
    wire_signal_cb sig_cb;
    void *sig_data;
    wire__wheel wheel;
};

void wire__wheel_init(wire__wheel *w, uint64_t now);
/* Milliseconds until the next timer needs attention (a lower bound for far timers), or -1 when none. */
int wire__timer_timeout(wire_loop *loop);
/* Runs the callbacks of every timer due at wire_now(). Returns how many ran. */
int wire__timer_expire(wire_loop *loop);

#endif
