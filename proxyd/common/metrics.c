/* proxyd metric tables: status code slots, latency buckets, the tables' allocation and Prometheus label escaping;
 * what the workers update per request and the status endpoint sums at a scrape. */
#include <stdlib.h>

#include "common/metrics.h"

/* Code to slot, 0 for a code not counted on its own: a constant table, one load per response. */
static const unsigned char code_map[500] = {
#define PX_CODE_MAP(c) [(c)-100] = PX_CODE_SLOT_##c,
    PX_METRIC_CODES(PX_CODE_MAP)
#undef PX_CODE_MAP
};

static const short slot_code[PX_CODE_SLOTS] = {
#define PX_CODE_BACK(c) [PX_CODE_SLOT_##c] = (c),
    PX_METRIC_CODES(PX_CODE_BACK)
#undef PX_CODE_BACK
};

static const uint64_t bounds[PX_HIST_FINITE] = PX_HIST_BOUNDS_MS;

unsigned px_code_slot(int status)
{
    if (status < 100 || status > 599)
        return PX_CODE_OTHER_BASE;
    unsigned s = code_map[status - 100];
    return s ? s : PX_CODE_OTHER_BASE + (unsigned)(status / 100 - 1);
}

int px_code_of_slot(unsigned slot)
{
    return slot < PX_CODE_SLOTS ? slot_code[slot] : 0;
}

unsigned px_hist_slot(uint64_t ms)
{
    unsigned i = 0;
    while (i < PX_HIST_FINITE && ms > bounds[i])
        i++;
    return i;
}

uint64_t px_hist_bound(unsigned i)
{
    return i < PX_HIST_FINITE ? bounds[i] : UINT64_MAX;
}

void px_hist_add(px_hist *h, uint64_t ms)
{
    px_metric_add(&h->bucket[px_hist_slot(ms)], 1);
    px_metric_add(&h->sum_ms, ms);
}

const char *px_up_error_name(px_up_error kind)
{
    static const char *const names[PX_UPERR_KINDS] = {
        "refused",        "connect",      "connect_timeout", "tls",      "reset",
        "header_timeout", "read_timeout", "invalid",         "http_5xx",
    };
    return (unsigned)kind < PX_UPERR_KINDS ? names[kind] : "unknown";
}

static void add_to(_Atomic uint64_t *dst, const _Atomic uint64_t *src)
{
    px_metric_add(dst, px_metric_get(src));
}

static void hist_add_to(px_hist *dst, const px_hist *src)
{
    for (int i = 0; i < PX_HIST_SLOTS; i++)
        add_to(&dst->bucket[i], &src->bucket[i]);
    add_to(&dst->sum_ms, &src->sum_ms);
}

void px_server_metrics_add(px_server_metrics *dst, const px_server_metrics *src)
{
    for (int i = 0; i < PX_CODE_SLOTS; i++)
        add_to(&dst->codes[i], &src->codes[i]);
    hist_add_to(&dst->request_time, &src->request_time);
}

void px_upserver_metrics_add(px_upserver_metrics *dst, const px_upserver_metrics *src)
{
    add_to(&dst->requests, &src->requests);
    for (int i = 0; i < 6; i++)
        add_to(&dst->responses[i], &src->responses[i]);
    for (int i = 0; i < PX_UPERR_KINDS; i++)
        add_to(&dst->errors[i], &src->errors[i]);
    hist_add_to(&dst->response_time, &src->response_time);
}

int px_metrics_alloc(px_metrics *m, int nservers, int nupservers, int nupstreams)
{
    m->servers = calloc((size_t)nservers + 1, sizeof(px_server_metrics));
    m->upservers = calloc((size_t)nupservers + 1, sizeof(px_upserver_metrics));
    m->upstreams = calloc((size_t)nupstreams + 1, sizeof(px_upstream_metrics));
    return m->servers && m->upservers && m->upstreams ? 0 : -1;
}

void px_metrics_free(px_metrics *m)
{
    free(m->servers);
    free(m->upservers);
    free(m->upstreams);
    m->servers = NULL;
    m->upservers = NULL;
    m->upstreams = NULL;
}

const char *px_prom_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 3 < cap; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            out[n++] = '\\';
            out[n++] = *s == '\n' ? 'n' : *s;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = 0;
    return out;
}
