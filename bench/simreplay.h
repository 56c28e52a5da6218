/* simreplay.h -- a real day's arrivals for ccsim --replay: the events
 * a live engine wrote to Redis (docs/redis.md: the event ops of
 * ccr:{TENANT}:journal with redis.layout journal, the default, or the
 * stream ccr:{TENANT}:events with hashes), read back into arrivals that
 * sim_run replays against any routing configuration.
 *
 * What the stream says about a contact, and what the replay takes:
 *   - its arrival: the time (`ts`, wall milliseconds) of its first entry
 *     and the queue of its first `queued` entry (the queue it arrived in,
 *     before any step, overflow or transfer);
 *   - its handle time: from its first `assigned` entry to its `gone`
 *     entry with detail `completed` (the agent's time with it; wrap-up is
 *     not in the stream);
 *   - its patience, when it abandoned: from its arrival to its `gone`
 *     entry with detail `abandoned` (exact: the customer hung up then).
 *     A contact that was answered has no patience in the replay (it
 *     would have waited at least as long as it did; how much longer the
 *     stream cannot say), so it waits until answered;
 *   - not there: its channel (the replay takes the channel of the queue's
 *     configuration when it names one, else that of the traffic model's
 *     first class for the queue, else voice), priority and customer value
 *     (0), language and product. A contact routed by skills alone has no
 *     queue in the stream and its skills are not there either: it is left
 *     out and counted (`skills_only`).
 * Contacts still live at the end of the stream (no `gone`) keep their
 * arrival; a handle time not in the stream is drawn from the agent's
 * group, as for model traffic.
 */
#ifndef CCROUTE_SIMREPLAY_H
#define CCROUTE_SIMREPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "router-t.h"

struct sim_arrival {
    uint64_t t_us;              /* since the first arrival */
    char queue[ROUTER_ID_MAX];
    double handle_ms;           /* -1: drawn from the agent's group */
    double patience_ms;         /* -1: waits until answered */
};

struct sim_replay {
    struct sim_arrival *a;      /* by arrival time, then stream order */
    size_t n;
    uint64_t t0_ms;             /* wall time of the first arrival */
    double span_s;              /* first to last arrival */
    size_t entries;             /* events read (stream entries) */
    size_t skills_only;         /* contacts left out (see above) */
    size_t answered, abandoned; /* as the stream tells them */
};

/* Reads the tenant's events (its journal when it has one, else
 * ccr:{tenant}:events) from the Redis at host:port (a blocking
 * connection: ccsim is a command-line tool, not the engine's loop).
 * Returns 0, or -1 with a message in err (connection, an empty stream, a
 * malformed entry naming its id). */
int sim_replay_read(const char *host, int port, const char *tenant,
                    struct sim_replay *out, char *err, size_t errlen);
void sim_replay_free(struct sim_replay *r);

#endif
