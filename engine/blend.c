/* blend.c -- whether inbound lets a blended campaign dial (blend.h). */
#include "blend.h"

#include "router.h"

void blend_check(const struct router *r, const struct router_config *rc,
                 const struct campaign_config *cfg, uint64_t now,
                 struct campaign_capacity *out)
{
    out->inbound_ok = true;
    out->inbound_offered = 0;
    for (unsigned b = 0; b < cfg->nblend; b++) {
        struct router_queue_stats qs;
        int bq = router_queue_find(r, cfg->blend[b]);
        if (bq < 0)
            continue;
        router_queue_stats(r, bq, now, &qs);
        out->inbound_offered += qs.offered;
        uint32_t target =
            (unsigned)bq < rc->nqueues ? rc->queues[bq].sl_percent : 0;
        /* the recent level, not the day's: a peak that is over no longer
         * holds the campaign back (slwin.h) */
        if (qs.waiting > 0 || qs.recent_service_level * 100.0 <
                                  (double)(target + cfg->blend_margin_pct))
            out->inbound_ok = false;
    }
}
