/* carestats.h -- the care module's figures as protocol messages (the
 * care fields of QueueStats, AgentStats and Stats; docs/care.md).
 */
#ifndef CCROUTE_CARESTATS_H
#define CCROUTE_CARESTATS_H

#include <stdint.h>

#include "ccroute.pb-c.h"

struct arena;
struct care;

/* Each fills the care fields of an initialised message; everything they
 * point to lives in arena `a` (or in the care configuration) until the
 * reply is sent. 0, or -1 out of arena memory. */
int carestats_queue(const struct care *c, struct arena *a, int queue,
                    uint64_t wall_ms, Ccroute__V1__QueueStats *o);
int carestats_agent(const struct care *c, struct arena *a, uint32_t agent,
                    const char *id, uint64_t now_us,
                    Ccroute__V1__AgentStats *o);
int carestats_stats(const struct care *c, struct arena *a, uint64_t wall_ms,
                    Ccroute__V1__Stats *o);

#endif
