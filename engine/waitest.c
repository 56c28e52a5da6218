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

/* sum_{j=0}^{k-1} 1/(a+j) for a >= 10, as psi(a+k) - psi(a) from the
 * asymptotic series of the digamma function, each term taken as a
 * difference (and the logarithms as log1p) so that nothing cancels when
 * k is small against a. Its error is below 1e-10 at a = 10. */
static double harmonic(double a, double k)
{
    double b = a + k, ia = 1 / a, ib = 1 / b;
    double ia2 = ia * ia, ib2 = ib * ib;
    return log1p(k / a) - (ib - ia) / 2 - (ib2 - ia2) / 12 +
           (ib2 * ib2 - ia2 * ia2) / 120 -
           (ib2 * ib2 * ib2 - ia2 * ia2 * ia2) / 252;
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
        /* a short queue term by term: its sum is often an exact
         * fraction (k = 1: busy_s / agents) on a millisecond's half,
         * which the closed form, a few ulps off, would round the other
         * way. A longer one term by term only while a + j < 10, where
         * the series is not yet accurate, then the rest in closed form:
         * O(1) however many wait, since this runs for every
         * ContactQueued (at most WAITEST_EXACT_K or 10 divisions) */
        double a = cmu / theta;
        uint32_t j = 0;
        for (; j < k && (k <= WAITEST_EXACT_K || a + j < 10); j++)
            s += 1 / (cmu + j * theta);
        if (j < k) {
            double rest = (double)(k - j);
            if (rest < 1e-6 * (a + j))
                /* the terms barely change: the midpoint rate */
                s += rest / (cmu + (j + (rest - 1) / 2) * theta);
            else
                s += harmonic(a + j, rest) / theta;
        }
    }
    double ms = s * 1000;
    return ms >= UINT32_MAX ? UINT32_MAX : (uint32_t)llround(ms);
}
