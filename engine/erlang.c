/* erlang.c -- Erlang C and Erlang A; see erlang.h.
 *
 * Notation: lambda the arrival rate, mu = 1/AHT the service rate, theta =
 * 1/patience the abandonment rate, c agents, a = lambda/mu the offered
 * load, T the service-level threshold.
 *
 * Erlang B without factorials. Let R(n) = sum_{k<=n} p_k / p_n for the
 * states 0..n of the truncated chain (p_k proportional to a^k/k!); then
 * R(0) = 1 and R(n) = 1 + (n/a) R(n-1), and Erlang B is 1/R(c). R grows
 * like c!/a^c, so it is kept as its logarithm:
 *   log R(n) = log R(n-1) + log(n/a) + log1p((a/n) / R(n-1)),
 * which neither overflows nor cancels for any c.
 *
 * Erlang C. With rho = a/c < 1, the probability of waiting is
 *   C = 1 / (1 + (1 - rho)(R(c) - 1)),
 * service level 1 - C exp(-(c mu - lambda) T), and the mean wait
 * C / (c mu - lambda) (everyone is answered, so that is the ASA too).
 *
 * Erlang A. The number in system is a birth-death chain: births lambda,
 * deaths n mu below c and c mu + (n - c) theta from c on. Relative to
 * p_c, the states below c weigh R(c) - 1 and the state c + k weighs
 *   y_k = prod_{j=1..k} lambda / (c mu + j theta),
 * whose terms fall geometrically once c mu + k theta > lambda; the sum is
 * cut where what is left is below 1e-17 of the largest term (the cut is
 * an explicit bound on the geometric tail, never a fixed count). Past the
 * agents (lambda > c mu) y_k first grows, so the sums are kept scaled by
 * their largest term (rescaled when a larger one comes).
 *
 * An arrival that finds c + k in the system (PASTA) waits at position
 * m = k + 1. At position j it moves up at rate c mu + (j - 1) theta
 * (a completion or an abandonment ahead) and abandons at rate theta, so
 * it leaves position j after an Exp(c mu + j theta) time, reaching the
 * agent with probability (c mu + (j-1) theta) / (c mu + j theta). Over
 * positions m..1 the product telescopes: answered with probability
 * c mu / (c mu + m theta), and its wait is the sum S_m of independent
 * Exp(c mu + j theta), j = 1..m (the time does not depend on which of
 * the competing clocks rings). S_m <= T exactly when a pure birth process
 * of rates theta (b + 1 + n), b = c mu / theta, has made m births by T,
 * and that count is negative binomial with r = b + 1, p = exp(-theta T):
 *   P(N = 0) = p^r,  P(N = n) = P(N = n-1) (n + b)/n (1 - p),
 * kept in logs as well. So, per position m, with H_m = sum_{j<=m}
 * 1/(c mu + j theta):
 *   answered in time   c mu/(c mu + m theta) P(N(T) >= m)
 *   answered, its wait c mu/(c mu + m theta) H_m (in expectation)
 *   abandoned          m theta/(c mu + m theta)
 * The abandon fraction also equals theta E[queue] / lambda (tests check
 * the two against each other).
 *
 * Cost: O(c) for Erlang B, O(K) for the tail, K the terms until the cut
 * (about c mu/theta + a few hundred when under the agents, about
 * (lambda - c mu)/theta more past them), bounded by ERLANG_MAX_TERMS.
 */
#include "erlang.h"

#include <math.h>

#include "error.h"

#define ERLANG_MAX_TERMS 100000000u
/* log(1e-17): a term this far below the largest no longer changes a sum */
#define LOG_NEGLIGIBLE (-39.1439465808987777)

static int finite_pos(double x)
{
    return isfinite(x) && x > 0;
}

/* log R(c): R(c) = 1 / ErlangB(c, a). */
static double log_inv_erlang_b(unsigned c, double a)
{
    double lr = 0; /* log R(0) */
    for (unsigned n = 1; n <= c; n++)
        lr = lr + log((double)n / a) + log1p(a / (double)n * exp(-lr));
    return lr;
}

/* log(R - 1) from log R (R > 1). */
static double log_r_minus_1(double lr)
{
    return lr + log(-expm1(-lr));
}

int erlang_c(double rate_per_s, double aht_s, unsigned agents,
             double target_s, struct erlang_result *out)
{
    if (!finite_pos(rate_per_s) || !finite_pos(aht_s) || agents == 0 ||
        !isfinite(target_s) || target_s < 0 || !out)
        return CCR_EINVAL;
    double a = rate_per_s * aht_s, c = (double)agents;
    double rho = a / c;
    if (!(rho < 1))
        return CCR_EINVAL;
    double lr1 = log_r_minus_1(log_inv_erlang_b(agents, a));
    /* (1 - rho)(R - 1) may overflow to inf: C is then 0, as it should */
    double pw = 1.0 / (1.0 + (1.0 - rho) * exp(lr1));
    double gap = (c - a) / aht_s; /* c mu - lambda, per second */
    out->load = a;
    out->occupancy = rho;
    out->p_wait = pw;
    out->service_level = 1.0 - pw * exp(-gap * target_s);
    out->asa_s = pw / gap;
    out->mean_wait_s = out->asa_s;
    out->p_abandon = 0;
    return 0;
}

int erlang_a(double rate_per_s, double aht_s, unsigned agents,
             double target_s, double patience_s, struct erlang_result *out)
{
    if (!finite_pos(rate_per_s) || !finite_pos(aht_s) || agents == 0 ||
        !isfinite(target_s) || target_s < 0 || !finite_pos(patience_s) ||
        !out)
        return CCR_EINVAL;
    double lambda = rate_per_s, mu = 1.0 / aht_s, theta = 1.0 / patience_s;
    double a = lambda / mu, cmu = (double)agents * mu;
    double l_below = log_r_minus_1(log_inv_erlang_b(agents, a));

    /* negative binomial count of births by T (see above) */
    double b = cmu / theta;
    double lp = -(b + 1.0) * theta * target_s; /* log P(N = 0) */
    double l1p = target_s > 0 ? log(-expm1(-theta * target_s)) : -INFINITY;
    double cdf = 0; /* P(N <= k) as k goes */

    /* sums over k (position m = k + 1), scaled by exp(-scale) */
    double scale = 0, ly = 0; /* log y_0 = 0 */
    double s_y = 0, s_q = 0, s_sl = 0, s_w = 0, s_ab = 0;
    double h = 0; /* H_m */
    unsigned k;
    for (k = 0;; k++) {
        if (k >= ERLANG_MAX_TERMS)
            return CCR_EINVAL;
        if (k > 0)
            ly += log(lambda / (cmu + (double)k * theta));
        if (ly > scale) {
            double f = exp(scale - ly);
            s_y *= f, s_q *= f, s_sl *= f, s_w *= f, s_ab *= f;
            scale = ly;
        }
        double m = (double)k + 1.0;
        double dep = cmu + m * theta; /* leaving position m */
        double served = cmu / dep;
        h += 1.0 / dep;
        /* P(N <= k) then P(N >= m) = 1 - P(N <= k) */
        if (target_s > 0) {
            if (k > 0)
                lp += log(((double)k + b) / (double)k) + l1p;
            cdf += exp(lp);
        } else {
            cdf = 1;
        }
        double tail = cdf >= 1 ? 0 : 1 - cdf;
        double y = exp(ly - scale);
        s_y += y;
        s_q += (double)k * y;
        s_sl += y * served * tail;
        s_w += y * served * h;
        s_ab += y * (m * theta / dep);
        /* the cut: ratio of the next term below 1 and the geometric tail
         * bound of what is left negligible */
        double r = lambda / (cmu + ((double)k + 1.0) * theta);
        if (r < 1 && ly - scale + log(r / (1 - r)) < LOG_NEGLIGIBLE)
            break;
    }
    double below = exp(l_below - scale); /* states 0..c-1, relative */
    double d = below + s_y;
    double p_ab = s_ab / d;
    out->load = a;
    out->p_wait = s_y / d;
    out->service_level = below / d + s_sl / d;
    out->p_abandon = p_ab;
    out->asa_s = p_ab < 1 ? (s_w / d) / (1 - p_ab) : 0;
    out->mean_wait_s = (s_q / d) / lambda;
    out->occupancy = a * (1 - p_ab) / (double)agents;
    return 0;
}
