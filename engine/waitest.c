/* waitest.c -- Erlang-based estimated wait; see waitest.h. */
#include "waitest.h"

#include <math.h>

static void decay(struct waitest *w, uint64_t now)
{
    if (now <= w->at_us)
        return;
    double f = exp(-(double)(now - w->at_us) / 1e6 / WAITEST_TAU_S);
    w->wait_s *= f;
    w->abandons *= f;
    w->at_us = now;
}

void waitest_left(struct waitest *w, uint64_t now, uint64_t waited_us,
                  bool abandoned)
{
    decay(w, now);
    w->wait_s += (double)waited_us / 1e6;
    if (abandoned)
        w->abandons += 1;
}

double waitest_theta(const struct waitest *w)
{
    return w->wait_s > 0 ? w->abandons / w->wait_s : 0;
}

uint32_t waitest_ms(uint32_t k, uint32_t agents, double busy_s,
                    double theta)
{
    if (k == 0 || !(busy_s > 0))
        return 0;
    double cmu = (agents ? agents : 1) / busy_s, s = 0;
    if (!(theta > 0)) {
        s = k / cmu;
    } else {
        uint32_t n = k < WAITEST_MAX_TERMS ? k : WAITEST_MAX_TERMS;
        for (uint32_t j = 0; j < n; j++)
            s += 1 / (cmu + j * theta);
        s += (double)(k - n) / (cmu + (n - 1) * theta);
    }
    double ms = s * 1000;
    return ms >= UINT32_MAX ? UINT32_MAX : (uint32_t)llround(ms);
}
