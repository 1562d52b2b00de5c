/* proxyd active health checks: one checker thread per instance (not per worker) probes every server of the
 * upstreams that set health_check, and publishes up/down through px_health.active_down, which every worker reads. */
#ifndef PROXYD_CORE_PROBE_H
#define PROXYD_CORE_PROBE_H

#include <stddef.h>

#include "core/runtime.h"

typedef struct px_prober px_prober;
typedef struct px_daemon px_daemon;

/* One check's result: good, or bad with why ("timeout after 2s", "connection refused", "status 503"). Returns 1
 * when the server changes state (down after fall bad checks in a row, up again after rise good ones in a row),
 * with the event in msg ("marked down: 3 failed checks, last: timeout after 2s", "back up after 2 good checks"),
 * else 0. Pure. */
int px_probe_step(px_probe_state *st, int rise, int fall, int good, const char *why, char *msg, size_t len);
/* Writes ms as a duration ("2s", "200ms"). */
void px_probe_duration(uint64_t ms, char *buf, size_t len);
/* Carries the active state of the servers rt and old both check (same upstream name and server text) from old
 * to rt: all of it on the checker's thread (counts included), only the up/down flag on any other. */
void px_probe_carry(px_runtime *rt, const px_runtime *old, int counts);

/* Starts the checker thread on the daemon's runtime. NULL when it cannot (logged). Main thread. */
px_prober *px_prober_start(px_daemon *d);
/* Asks the checker to look at the daemon's runtime (a reload). Any thread. */
void px_prober_wake(px_prober *p);
/* Stops the checker, waits for its thread and frees it. Main thread. */
void px_prober_stop(px_prober *p);

#endif
