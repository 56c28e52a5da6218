/* blend.h -- whether inbound lets a blended campaign dial now: the one
 * check that the engine's pacing (engine/outbound.c) and ccsim's
 * (bench/sim.c) both make, so that the simulator prices what the engine
 * does.
 *
 * A campaign blended with inbound queues (campaign_config.blend) dials
 * only while each of them has nobody waiting and a recent service level
 * (the router's, over the last SLWIN_MINUTES minutes: engine/slwin.h) at
 * or above its target plus the campaign's margin. A queue that nobody
 * left in the window meets its target. A blend queue the router does not
 * know (removed by a reload) is not watched.
 */
#ifndef CCROUTE_BLEND_H
#define CCROUTE_BLEND_H

#include <stdint.h>

#include "campaign-t.h"
#include "router-t.h"

struct router;

/* Sets out->inbound_ok (the check above) and out->inbound_offered (the
 * blend queues' `offered` statistics, summed) for campaign `cfg` at `now`
 * (the router's microseconds); `rc` gives the queues' targets
 * (sl_percent, by queue index). No allocation; O(blend queues x
 * SLWIN_MINUTES). */
void blend_check(const struct router *r, const struct router_config *rc,
                 const struct campaign_config *cfg, uint64_t now,
                 struct campaign_capacity *out);

#endif
