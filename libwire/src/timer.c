/* timer.c: one-shot timers in a hierarchical hashed wheel (1 ms ticks, 64 slots x 11 levels, cascading).
 * Insert and cancel are O(1) list operations on intrusive circular lists; expiry moves due timers to a list. */
#include "internal.h"

#include <limits.h>

/* A timer lives in slot (level, index) where level is the highest 6-bit group in which its due tick differs
 * from the wheel's current tick. Invariant: every linked timer shares the current tick's groups above its level
 * and has a larger group at its level, so the first slot set at the lowest level is the next thing to do. */

static void list_init(wire_timer *head)
{
    head->_next = head->_prev = head;
}

static int list_empty(const wire_timer *head)
{
    return head->_next == head;
}

static void list_push(wire_timer *head, wire_timer *t)
{
    t->_prev = head->_prev;
    t->_next = head;
    head->_prev->_next = t;
    head->_prev = t;
}

static void list_unlink(wire_timer *t)
{
    t->_prev->_next = t->_next;
    t->_next->_prev = t->_prev;
    t->_next = t->_prev = NULL;
}

void wire__wheel_init(wire__wheel *w, uint64_t now)
{
    w->cur = now;
    for (unsigned l = 0; l < WIRE__WHEEL_LEVELS; l++) {
        w->pending[l] = 0;
        for (unsigned s = 0; s < WIRE__WHEEL_SLOTS; s++)
            list_init(&w->slots[l][s]);
    }
    list_init(&w->expired);
}

/* Links t (t->_due > ref) relative to the tick ref. */
static void wheel_place(wire__wheel *w, wire_timer *t, uint64_t ref)
{
    unsigned high = 63u - (unsigned)__builtin_clzll(t->_due ^ ref);
    unsigned level = high / WIRE__WHEEL_BITS;
    unsigned slot = (unsigned)(t->_due >> (level * WIRE__WHEEL_BITS)) & (WIRE__WHEEL_SLOTS - 1);
    list_push(&w->slots[level][slot], t);
    w->pending[level] |= 1ull << slot;
    t->_active = WIRE__TIMER_WHEEL;
}

/* The tick at which the earliest non-empty slot must be processed: the exact due time at level 0, the slot's
 * start (a lower bound of its timers' due times) above. Returns 0 when the wheel is empty. */
static int wheel_next(wire__wheel *w, uint64_t *when)
{
    for (unsigned l = 0; l < WIRE__WHEEL_LEVELS; l++) {
        while (w->pending[l]) {
            unsigned s = (unsigned)__builtin_ctzll(w->pending[l]);
            if (list_empty(&w->slots[l][s])) {
                w->pending[l] &= ~(1ull << s); /* emptied by wire_timer_stop */
                continue;
            }
            unsigned shift = l * WIRE__WHEEL_BITS;
            uint64_t prefix = shift + WIRE__WHEEL_BITS >= 64 ? 0 : w->cur >> (shift + WIRE__WHEEL_BITS);
            uint64_t base = shift + WIRE__WHEEL_BITS >= 64 ? 0 : prefix << (shift + WIRE__WHEEL_BITS);
            *when = base | ((uint64_t)s << shift);
            return 1;
        }
    }
    return 0;
}

/* Empties one slot: timers due at tick go to the expired list, the others move to lower levels. */
static void wheel_cascade(wire__wheel *w, unsigned level, unsigned slot, uint64_t tick)
{
    wire_timer *head = &w->slots[level][slot];
    while (!list_empty(head)) {
        wire_timer *t = head->_next;
        list_unlink(t);
        if (t->_due <= tick) {
            list_push(&w->expired, t);
            t->_active = WIRE__TIMER_EXPIRED;
        } else {
            wheel_place(w, t, tick);
        }
    }
    w->pending[level] &= ~(1ull << slot);
}

/* Processes tick (the earliest tick with work): cascades every level whose group rolls over at tick, highest
 * first, then expires the level-0 slot. Ticks skipped before it had only empty slots. */
static void wheel_tick(wire__wheel *w, uint64_t tick)
{
    for (unsigned l = WIRE__WHEEL_LEVELS - 1; l >= 1; l--) {
        unsigned shift = l * WIRE__WHEEL_BITS;
        if (tick & ((1ull << shift) - 1))
            continue;
        wheel_cascade(w, l, (unsigned)(tick >> shift) & (WIRE__WHEEL_SLOTS - 1), tick);
    }
    wheel_cascade(w, 0, (unsigned)tick & (WIRE__WHEEL_SLOTS - 1), tick);
    w->cur = tick;
}

/* Moves every timer due at or before now to the expired list, in due order. */
static void wheel_advance(wire__wheel *w, uint64_t now)
{
    uint64_t when;
    while (w->cur < now) {
        if (!wheel_next(w, &when) || when > now) {
            w->cur = now;
            return;
        }
        wheel_tick(w, when);
    }
}

void wire_timer_init(wire_timer *t, wire_timer_cb cb, void *data)
{
    t->cb = cb;
    t->data = data;
    t->_due = 0;
    t->_next = t->_prev = NULL;
    t->_active = WIRE__TIMER_IDLE;
}

void wire_timer_start(wire_loop *loop, wire_timer *t, uint64_t ms)
{
    wire__wheel *w = &loop->wheel;
    wire_timer_stop(loop, t);
    uint64_t due = ms > UINT64_MAX - loop->now ? UINT64_MAX : loop->now + ms;
    /* The current tick is already processed: a timer due now fires at the next tick, never in this expiry. */
    t->_due = due > w->cur ? due : w->cur + 1;
    wheel_place(w, t, w->cur);
    loop->timer_count++;
}

void wire_timer_stop(wire_loop *loop, wire_timer *t)
{
    if (t->_active == WIRE__TIMER_IDLE)
        return;
    list_unlink(t); /* from a wheel slot or from the expired list: both are circular */
    t->_active = WIRE__TIMER_IDLE;
    loop->timer_count--;
}

int wire__timer_timeout(wire_loop *loop)
{
    uint64_t when;
    if (loop->timer_count == 0 || !wheel_next(&loop->wheel, &when))
        return -1;
    if (when <= loop->now)
        return 0;
    uint64_t wait = when - loop->now;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

int wire__timer_expire(wire_loop *loop)
{
    wire__wheel *w = &loop->wheel;
    int fired = 0;
    if (loop->timer_count == 0) {
        w->cur = loop->now;
        return 0;
    }
    wheel_advance(w, loop->now);
    /* Pop one at a time: a callback may stop, re-arm or free any timer, including ones still listed here. */
    while (!list_empty(&w->expired)) {
        wire_timer *t = w->expired._next;
        list_unlink(t);
        t->_active = WIRE__TIMER_IDLE;
        loop->timer_count--;
        t->cb(loop, t);
        fired++;
    }
    return fired;
}
