/* hist.c -- log-linear histogram; see hist.h for the contract.
 *
 * The index arithmetic is HdrHistogram's with a lowest discernible value of
 * 1 (unit magnitude 0):
 *
 *   sub_count  = 2^ceil(log2(2 * 10^sigfigs))  linear steps per power of two
 *   half       = sub_count / 2
 *   bucket(v)  = bit length of (v | (sub_count-1)) - log2(sub_count)
 *   sub(v)     = v >> bucket(v)                 in [half, sub_count) once
 *                                               bucket > 0, [0, sub_count)
 *                                               for bucket 0
 *   index      = (bucket + 1) * half + (sub - half)
 *
 * so bucket 0 covers [0, sub_count) exactly, and bucket b > 0 covers
 * [half << b, sub_count << b) in steps of 2^b: the step over the value is
 * at most 1/half < 10^-sigfigs.
 */
#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hist {
    uint64_t highest;
    int sigfigs;
    unsigned sub_mag;       /* log2(sub_count) */
    unsigned half_mag;      /* log2(half) */
    uint64_t sub_mask;      /* sub_count - 1 */
    size_t ncounts;
    uint64_t total;
    uint64_t overflow;
    uint64_t min, max;
    double sum;
    uint64_t *counts;
};

static unsigned bucket_of(const struct hist *h, uint64_t v)
{
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | h->sub_mask);
    return bits - h->sub_mag;
}

static size_t index_of(const struct hist *h, uint64_t v)
{
    unsigned b = bucket_of(h, v);
    uint64_t s = v >> b;
    uint64_t half = 1ull << h->half_mag;
    return (size_t)((((uint64_t)b + 1) << h->half_mag) + (s - half));
}

static uint64_t value_at_index(const struct hist *h, size_t i)
{
    uint64_t half = 1ull << h->half_mag;
    int64_t b = (int64_t)(i >> h->half_mag) - 1;
    uint64_t s = (i & (half - 1)) + half;
    if (b < 0) {
        s -= half;
        b = 0;
    }
    return s << b;
}

uint64_t hist_lowest_equivalent(const struct hist *h, uint64_t v)
{
    unsigned b = bucket_of(h, v);
    return (v >> b) << b;
}

uint64_t hist_highest_equivalent(const struct hist *h, uint64_t v)
{
    unsigned b = bucket_of(h, v);
    return ((v >> b) << b) + ((1ull << b) - 1);
}

struct hist *hist_new(uint64_t highest, int sigfigs)
{
    if (sigfigs < 1 || sigfigs > 5 || highest < 2 || highest > INT64_MAX)
        return NULL;
    struct hist *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    uint64_t largest_single = 2;
    for (int i = 0; i < sigfigs; i++)
        largest_single *= 10;
    unsigned sub_mag = 0;
    while ((1ull << sub_mag) < largest_single)
        sub_mag++;
    h->highest = highest;
    h->sigfigs = sigfigs;
    h->sub_mag = sub_mag;
    h->half_mag = sub_mag - 1;
    h->sub_mask = (1ull << sub_mag) - 1;

    /* Buckets needed until the range covers `highest`. */
    size_t buckets = 1;
    uint64_t untrackable = 1ull << sub_mag;
    while (untrackable <= highest) {
        if (untrackable > (uint64_t)INT64_MAX / 2) {
            buckets++;
            break;
        }
        untrackable <<= 1;
        buckets++;
    }
    h->ncounts = (buckets + 1) << h->half_mag;
    h->counts = calloc(h->ncounts, sizeof(*h->counts));
    if (!h->counts) {
        free(h);
        return NULL;
    }
    return h;
}

void hist_free(struct hist *h)
{
    if (!h)
        return;
    free(h->counts);
    free(h);
}

void hist_reset(struct hist *h)
{
    memset(h->counts, 0, h->ncounts * sizeof(*h->counts));
    h->total = h->overflow = 0;
    h->min = h->max = 0;
    h->sum = 0;
}

void hist_record_n(struct hist *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v > h->highest) {
        v = h->highest;
        h->overflow += n;
    }
    h->counts[index_of(h, v)] += n;
    if (h->total == 0 || v < h->min)
        h->min = v;
    if (h->total == 0 || v > h->max)
        h->max = v;
    h->total += n;
    h->sum += (double)v * (double)n;
}

void hist_record(struct hist *h, uint64_t v)
{
    hist_record_n(h, v, 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->total == 0)
        return;
    if (dst->highest == src->highest && dst->sigfigs == src->sigfigs) {
        for (size_t i = 0; i < src->ncounts; i++)
            dst->counts[i] += src->counts[i];
        if (dst->total == 0 || src->min < dst->min)
            dst->min = src->min;
        if (dst->total == 0 || src->max > dst->max)
            dst->max = src->max;
        dst->total += src->total;
        dst->overflow += src->overflow;
        dst->sum += src->sum;
        return;
    }
    /* Different layouts: re-record each bucket at its middle value, kept
     * within the exact [min, max] of the source, then restore the exact
     * extremes (clamped to dst's range). */
    uint64_t had = dst->total, dmin = dst->min, dmax = dst->max;
    for (size_t i = 0; i < src->ncounts; i++) {
        uint64_t n = src->counts[i];
        if (!n)
            continue;
        uint64_t lo = value_at_index(src, i);
        uint64_t hi = hist_highest_equivalent(src, lo);
        uint64_t v = lo + (hi - lo) / 2;
        if (v < src->min)
            v = src->min;
        if (v > src->max)
            v = src->max;
        hist_record_n(dst, v, n);
    }
    dst->overflow += src->overflow;
    uint64_t smin = src->min > dst->highest ? dst->highest : src->min;
    uint64_t smax = src->max > dst->highest ? dst->highest : src->max;
    dst->min = (had && dmin < smin) ? dmin : smin;
    dst->max = (had && dmax > smax) ? dmax : smax;
}

uint64_t hist_count(const struct hist *h) { return h->total; }
uint64_t hist_overflow(const struct hist *h) { return h->overflow; }
uint64_t hist_min(const struct hist *h) { return h->min; }
uint64_t hist_max(const struct hist *h) { return h->max; }

size_t hist_footprint(const struct hist *h)
{
    return h->ncounts * sizeof(*h->counts) + sizeof(*h);
}

double hist_mean(const struct hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

/* From the buckets (at their middle values) around the exact mean, as
 * HdrHistogram does: precise to the histogram's precision. */
double hist_stddev(const struct hist *h)
{
    if (h->total == 0)
        return 0.0;
    double mean = hist_mean(h), acc = 0.0;
    for (size_t i = 0; i < h->ncounts; i++) {
        if (!h->counts[i])
            continue;
        uint64_t lo = value_at_index(h, i);
        uint64_t hi = hist_highest_equivalent(h, lo);
        double mid = (double)lo + (double)(hi - lo) / 2.0;
        if (mid < (double)h->min)
            mid = (double)h->min;
        if (mid > (double)h->max)
            mid = (double)h->max;
        double d = mid - mean;
        acc += d * d * (double)h->counts[i];
    }
    return sqrt(acc / (double)h->total);
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p >= 100.0)
        return h->max;
    /* The rank of the value: ceil(p% of the count), at least 1. The small
     * slack keeps 99.9% of 1000 at rank 999 despite rounding. */
    double x = p / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)ceil(x - 1e-9 * (x > 1.0 ? x : 1.0));
    if (rank < 1)
        rank = 1;
    if (rank > h->total)
        rank = h->total;
    uint64_t cum = 0;
    for (size_t i = 0; i < h->ncounts; i++) {
        cum += h->counts[i];
        if (cum >= rank) {
            uint64_t v = hist_highest_equivalent(h, value_at_index(h, i));
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

void hist_foreach(const struct hist *h,
                  void (*fn)(void *arg, uint64_t value, uint64_t count),
                  void *arg)
{
    for (size_t i = 0; i < h->ncounts; i++)
        if (h->counts[i])
            fn(arg, hist_highest_equivalent(h, value_at_index(h, i)),
               h->counts[i]);
}
