/* waitest.h -- the estimated wait the engine announces in ContactQueued:
 * the expected time to an answer in Erlang's queueing models (M/M/c,
 * with abandonment M/M/c+M, the models of engine/erlang.h), from the
 * router's live figures.
 *
 * A contact that k service completions stand before (the router's
 * position at the back of the queue, less the agents free for it) waits,
 * when c agents each serve at rate mu = 1 / (handle time + wrap-up) and
 * each contact ahead of it abandons at rate theta, for
 *
 *     E[W] = sum_{j=0}^{k-1} 1 / (c mu + j theta)
 *
 * (with j contacts ahead, the next of them leaves, served or abandoned,
 * after an exponential time of rate c mu + j theta). With theta = 0 this
 * is Erlang C's k / (c mu). The arrival rate does not enter: under
 * first-come first-served nobody who arrives later is served earlier.
 * The wait is the time to an answer of a contact that stays: its own
 * patience is the customer's business, and announcing the wait is meant
 * to inform it.
 *
 * theta is estimated live, per queue, as the maximum-likelihood rate of
 * an exponential patience: abandonments / time spent waiting, over the
 * contacts that left the queue (answered or abandoned), both sums decayed
 * with a time constant of WAITEST_TAU_S so that the estimate follows the
 * day. mu comes from the router's own handle-time average.
 *
 * No allocation: the state is two numbers and a time inside the router's
 * queue. O(1) per estimate: a sum of at most WAITEST_EXACT_K terms one
 * by one; a longer one term by term while c mu / theta + j < 10 (none
 * when abandonment is slow against service), the rest as a difference
 * of digamma values (relative error below 1e-9).
 */
#ifndef CCROUTE_WAITEST_H
#define CCROUTE_WAITEST_H

#include <stdbool.h>
#include <stdint.h>

#define WAITEST_TAU_S 1800.0
#define WAITEST_EXACT_K 8u

struct waitest {
    double wait_s;      /* decayed time waited by contacts that left */
    double abandons;    /* decayed abandonments among them */
    uint64_t at_us;     /* time of the sums */
};

/* A contact left the queue after waiting `waited_us`: answered, or
 * abandoned. `now` in the router's microseconds. */
void waitest_left(struct waitest *w, uint64_t now, uint64_t waited_us,
                  bool abandoned);

/* Abandonment rate per waiting contact, per second (0: none seen). */
double waitest_theta(const struct waitest *w);

/* Expected wait in ms of a contact that `k` service completions stand
 * before, with `agents` agents (0 counts as 1) of mean busy time per
 * contact `busy_s` (> 0) and abandonment rate `theta` (per second). */
uint32_t waitest_ms(uint32_t k, uint32_t agents, double busy_s,
                    double theta);

#endif
