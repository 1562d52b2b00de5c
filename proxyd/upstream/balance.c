/* proxyd load balancing: which server of an upstream takes the next request. Smooth weighted round robin as
 * nginx's, least connections per weight, backups only when no primary is left. Pure: unit-tested alone. */
#include "upstream/upstream.h"

static int eligible(const px_balance_view *v, int i, int backup, uint64_t tried)
{
    return v->up->servers[i].backup == backup && !(tried & (1ull << (i & 63))) && v->up_now[i];
}

/* Fewer active connections per weight wins: a/wa < b/wb, compared without division. */
static int fewer(const px_balance_view *v, int a, int b)
{
    uint64_t lhs = (uint64_t)v->active[a] * (uint64_t)v->up->servers[b].weight;
    uint64_t rhs = (uint64_t)v->active[b] * (uint64_t)v->up->servers[a].weight;
    return lhs < rhs || (lhs == rhs && v->rr_weight[a] > v->rr_weight[b]);
}

/* Each eligible server gains its weight, the best wins and pays back the total (nginx's smooth round robin);
 * least_conn compares active connections first and uses the same state to break ties. */
int px_balance_choose(px_balance_view *v, int backup, uint64_t tried)
{
    const px_upstream *up = v->up;
    int best = -1, total = 0;
    for (int i = 0; i < up->nservers; i++) {
        if (!eligible(v, i, backup, tried))
            continue;
        if (best < 0 || (up->balance == PX_BALANCE_LEAST_CONN ? fewer(v, i, best) : 0))
            best = i;
        v->rr_weight[i] += up->servers[i].weight;
        total += up->servers[i].weight;
        if (up->balance != PX_BALANCE_LEAST_CONN && v->rr_weight[i] > v->rr_weight[best])
            best = i;
    }
    if (best >= 0)
        v->rr_weight[best] -= total;
    return best;
}
