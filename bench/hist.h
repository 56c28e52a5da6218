/* hist.h -- a log-linear (HDR-style) histogram of unsigned 64-bit values.
 *
 * Debian 12 ships no C HdrHistogram, so this is a small one with the same
 * layout and the same guarantee: every recorded value v is counted in a
 * bucket whose width is at most v / 10^sigfigs (relative error bounded by
 * the configured number of significant decimal digits), across the whole
 * range [0, highest]. Memory is O(log2(highest) * 10^sigfigs) counters:
 * sigfigs 3 up to one hour in nanoseconds is about 270 KiB, up to one
 * minute in microseconds about 150 KiB.
 *
 * Layout: values are split into "buckets" by powers of two; each bucket
 * holds sub_count/2 linear sub-buckets (the first holds sub_count), so the
 * index of a value is two shifts and a count-leading-zeros. Recording is
 * O(1) and never allocates; percentile queries walk the counters, O(size).
 *
 * Values above `highest` are clamped to `highest` and counted in
 * hist_overflow() as well, so a stalled engine still shows up in the tail
 * (at the clamp) instead of silently disappearing.
 *
 * min, max and sum are kept exactly (not rounded to buckets); percentiles
 * are reported as the highest value equivalent to the bucket they fall in
 * (HdrHistogram's convention, so p100 >= max and no percentile under-reports).
 *
 * Not thread-safe; one histogram per thread, merge at the end.
 */
#ifndef CCROUTE_HIST_H
#define CCROUTE_HIST_H

#include <stddef.h>
#include <stdint.h>

struct hist;

/* Creates a histogram tracking values in [0, highest] with `sigfigs`
 * significant decimal digits (1..5). highest must be >= 2. Returns NULL on
 * bad arguments or out of memory. The caller frees it with hist_free(). */
struct hist *hist_new(uint64_t highest, int sigfigs);
void hist_free(struct hist *h);

/* Forgets every value; the configuration stays. */
void hist_reset(struct hist *h);

/* Records v once (or n times). Values above the highest trackable value are
 * clamped to it and counted in hist_overflow(). Never allocates. */
void hist_record(struct hist *h, uint64_t v);
void hist_record_n(struct hist *h, uint64_t v, uint64_t n);

/* Adds every value of src to dst. Histograms of the same configuration are
 * merged counter by counter (exact); otherwise each src bucket is recorded
 * into dst at its median equivalent value (within dst's precision). Values
 * above dst's range are clamped and counted as overflow. */
void hist_merge(struct hist *dst, const struct hist *src);

uint64_t hist_count(const struct hist *h);
uint64_t hist_overflow(const struct hist *h);
/* Exact smallest / largest recorded value (after clamping); 0 when empty. */
uint64_t hist_min(const struct hist *h);
uint64_t hist_max(const struct hist *h);
/* Exact arithmetic mean of the (clamped) recorded values; 0 when empty. */
double hist_mean(const struct hist *h);
double hist_stddev(const struct hist *h);

/* The value at percentile p (0..100): the smallest bucket such that at
 * least p% of the values are at or below it, reported as the highest value
 * equivalent to that bucket, and never above hist_max(). 0 when empty.
 * p <= 0 gives hist_min(), p >= 100 gives hist_max(). */
uint64_t hist_percentile(const struct hist *h, double p);

/* Precision helpers (exposed for tests and for readers of the output). */
/* The smallest and largest values that share v's bucket. */
uint64_t hist_lowest_equivalent(const struct hist *h, uint64_t v);
uint64_t hist_highest_equivalent(const struct hist *h, uint64_t v);
/* Memory used by the counters, in bytes. */
size_t hist_footprint(const struct hist *h);

/* Iterates the non-empty buckets in increasing order: calls fn with the
 * bucket's highest equivalent value and its count. */
void hist_foreach(const struct hist *h,
                  void (*fn)(void *arg, uint64_t value, uint64_t count),
                  void *arg);

#endif
