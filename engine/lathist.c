/* lathist.c -- latency histograms of fixed buckets; see lathist.h.
 *
 * The bounds cover what the engine measures: an Ack written in the turn
 * its request was read takes microseconds, one that waits for Redis
 * (durability redis or replicated) a round trip of a millisecond or more,
 * a contact that waits for an agent seconds. Fixed bounds keep every
 * engine's histograms summable in Prometheus.
 */
#include "lathist.h"

const uint64_t lathist_bounds_us[LATHIST_NBOUNDS] = {
    10, 25, 50, 100, 250, 500,
    1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

void lathist_observe(struct lathist *h, uint64_t us)
{
    unsigned i = 0;
    while (i < LATHIST_NBOUNDS && us > lathist_bounds_us[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum_us += us;
}
