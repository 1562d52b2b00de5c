/* Private to proxyd/upstream/: what pool.c and connect.c share. Nothing outside this folder includes it. */
#ifndef PROXYD_UPSTREAM_INTERNAL_H
#define PROXYD_UPSTREAM_INTERNAL_H

#include "upstream/upstream.h"

/* Opens a non-blocking connection to server s of up for a->owner (UP_CONNECTING; ops->ready follows). Returns it,
 * or NULL with *err (-errno; the failure is logged and counted against the server). */
px_upconn *px__upstream_connect(px_worker *w, px_runtime *rt, const px_upstream *up, int s, const px_acquire *a,
                                int *err);

/* Connections in use toward server hidx: the balancer's count (least_conn) and its copy in the metrics, which other
 * workers read at a scrape. Worker's thread. */
static inline void px__active_add(px_wstate *ws, int hidx, int delta)
{
    ws->active[hidx] = (unsigned)((int)ws->active[hidx] + delta);
    px_metric_add(&ws->metrics.upservers[hidx].active, (uint64_t)(int64_t)delta);
}

/* Keeps the TLS session u can give (tlsio_conn_session_pending) for the next connection to its server. */
void px__upstream_save_session(px_upconn *u);

#endif
