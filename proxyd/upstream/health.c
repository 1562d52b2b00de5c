/* proxyd passive health: failures counted per upstream server within fail_timeout, shared by all workers through
 * atomics; max_fails of them take the server out of rotation for fail_timeout. Going down and coming back are each
 * logged once per event, by the worker that changes the state, never once per worker. A server the active checks
 * (core/probe.c) hold down is out of rotation whatever the passive state. */
#include "upstream/upstream.h"

int px_upstream_server_up(const px_runtime *rt, const px_upstream *up, int s, uint64_t now)
{
    px_health *h = px_runtime_health(rt, up, s);
    if (atomic_load_explicit(&h->active_down, memory_order_relaxed))
        return 0; /* active checks (core/probe.c) take even a lone server out: its requests get 502 at once */
    if (up->nservers == 1)
        return 1; /* as in nginx: a lone server is never taken out of rotation passively */
    uint_fast64_t until = atomic_load(&h->down_until);
    if (until == 0)
        return 1;
    if (now < until)
        return 0;
    /* The down period is over: the one worker whose exchange wins says so, once per event. */
    if (atomic_compare_exchange_strong(&h->down_until, &until, 0))
        px_warn("upstream %s: back in rotation after %llums out", up->servers[s].text,
                (unsigned long long)up->servers[s].fail_timeout);
    return 1;
}

void px_upstream_mark_failure(px_runtime *rt, const px_upstream *up, int si, uint64_t now)
{
    const px_upstream_server *s = &up->servers[si];
    px_health *h = px_runtime_health(rt, up, si);
    if (s->max_fails == 0 || up->nservers == 1)
        return;
    if (now - atomic_load(&h->window_start) > s->fail_timeout) {
        atomic_store(&h->window_start, now);
        atomic_store(&h->fails, 0);
    }
    if (atomic_fetch_add(&h->fails, 1) + 1 < s->max_fails)
        return;
    atomic_store(&h->fails, 0);
    /* Workers may cross the threshold together: only the one that moves down_until logs the event. */
    uint_fast64_t until = atomic_load(&h->down_until);
    if (until > now || !atomic_compare_exchange_strong(&h->down_until, &until, now + s->fail_timeout))
        return;
    px_warn("upstream %s: marked down for %llums after %d failure(s)", s->text, (unsigned long long)s->fail_timeout,
            s->max_fails);
}

void px_upstream_failed(px_upconn *u)
{
    px_upstream_mark_failure(u->rt, u->up, u->server, wire_now(u->w->loop));
}

/* A valid response head (nginx's rule): a server that accepts connections and then fails is still counted. */
void px_upstream_succeeded(px_upconn *u)
{
    px_health *h = &u->rt->health[u->hidx];
    if (atomic_load(&h->fails))
        atomic_store(&h->fails, 0);
}
