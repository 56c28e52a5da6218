/* fuzz-model.c -- libFuzzer harness for ccload's traffic model loader.
 *
 * The input is the text of a model file (bench/scenarios/, CCLOAD.md). It
 * is loaded with model_load_string(), the loader behind model_load(). A
 * model owns no memory (fixed arrays), so there is nothing to release; a
 * crash, an undefined behaviour or a leak inside the loader or libyaml's
 * use of it is a finding. The harness also checks what ccload-model.h
 * promises:
 *
 *   - an error comes with a message, and the loader says 0 or -1;
 *   - loading is a function of the text: the same text loads again into
 *     an identical struct model (model_load_string() starts from a memset);
 *   - a loaded model is self-consistent: counts within their arrays, names
 *     terminated, at least one class, share_total the positive sum of the
 *     shares, every [lo, hi] range ordered;
 *   - what ccload then does with it is defined: model_rate_at() over the
 *     run, model_pick_class() returns a class, dist_sample() of every
 *     distribution is -1 for "never" and otherwise a number >= 0;
 *   - agent schedules are ordered and within their group's count.
 *
 * The text is handed over without a terminating NUL, in an allocation of
 * exactly its length, so that a read past `len` is an ASan report.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccload-model.h"
#include "fuzz-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(s) (memchr((s), 0, sizeof(s)) != NULL)

static void check_dist(const struct dist *d, struct rng *r, const char *what)
{
    if (d->kind == DIST_NONE) {
        double x = dist_sample(d, r);
        FUZZ_CHECK(x == -1, "%s: never, but sampled %g", what, x);
        return;
    }
    for (int i = 0; i < 4; i++) {
        double x = dist_sample(d, r);
        FUZZ_CHECK(x >= 0, "%s: kind %d mean %g sigma %g [%g, %g] sampled %g",
                   what, (int)d->kind, d->mean_ms, d->sigma, d->min_ms,
                   d->max_ms, x);
    }
}

static void check_loaded(const struct model *m)
{
    struct rng r;
    double total = 0;

    FUZZ_CHECK(TERMINATED(m->name), "name is not terminated");
    FUZZ_CHECK(m->nclasses >= 1 && m->nclasses <= MODEL_MAX_CLASSES,
               "%u classes", m->nclasses);
    FUZZ_CHECK(m->ngroups <= MODEL_MAX_GROUPS, "%u groups", m->ngroups);
    FUZZ_CHECK(m->ncurve <= MODEL_MAX_CURVE, "%u curve points", m->ncurve);

    rng_seed(&r, m->seed);
    for (unsigned i = 0; i < m->nclasses; i++) {
        const struct model_class *c = &m->classes[i];
        FUZZ_CHECK(TERMINATED(c->name) && TERMINATED(c->queue) &&
                   TERMINATED(c->language) && TERMINATED(c->product),
                   "class %u: a name is not terminated", i);
        FUZZ_CHECK(c->nskills <= MODEL_MAX_REQ, "class %u: %u skills", i,
                   c->nskills);
        for (unsigned j = 0; j < c->nskills; j++)
            FUZZ_CHECK(TERMINATED(c->skills[j].name), "class %u skill %u", i,
                       j);
        FUZZ_CHECK(c->priority_lo <= c->priority_hi &&
                   c->value_lo <= c->value_hi, "class %u: a range is "
                   "reversed", i);
        FUZZ_CHECK(c->share >= 0, "class %u: share %g", i, c->share);
        total += c->share;
        check_dist(&c->patience, &r, "patience");
    }
    FUZZ_CHECK(m->share_total > 0 && m->share_total == total,
               "share_total %g, shares add up to %g", m->share_total, total);
    for (unsigned i = 0; i < m->ngroups; i++) {
        const struct model_group *g = &m->groups[i];
        FUZZ_CHECK(TERMINATED(g->name), "group %u: name", i);
        FUZZ_CHECK(g->nskills <= MODEL_MAX_SKILLS && g->nqueues <=
                   MODEL_MAX_QUEUES, "group %u: %u skills, %u queues", i,
                   g->nskills, g->nqueues);
        for (unsigned j = 0; j < g->nskills; j++)
            FUZZ_CHECK(TERMINATED(g->skills[j].name), "group %u skill %u", i,
                       j);
        for (unsigned j = 0; j < g->nqueues; j++)
            FUZZ_CHECK(TERMINATED(g->queues[j]), "group %u queue %u", i, j);
        check_dist(&g->think, &r, "think");
        check_dist(&g->handle, &r, "handle");
        check_dist(&g->wrapup, &r, "wrapup");
        /* schedules (ccsim): ordered shifts, breaks of some length, no
         * count above the group's */
        FUZZ_CHECK(g->nshifts <= MODEL_MAX_SHIFTS &&
                   g->nbreaks <= MODEL_MAX_BREAKS, "group %u: %u shifts, "
                   "%u breaks", i, g->nshifts, g->nbreaks);
        for (unsigned j = 0; j < g->nshifts; j++) {
            const struct model_shift *sh = &g->shifts[j];
            FUZZ_CHECK(sh->login_s >= 0 && sh->logout_s > sh->login_s &&
                       sh->first >= 1 &&
                       (uint64_t)sh->first - 1 + sh->count <= g->count &&
                       (j == 0 ||
                       sh->login_s >= g->shifts[j - 1].logout_s),
                       "group %u shift %u: %g..%g count %u", i, j,
                       sh->login_s, sh->logout_s, sh->count);
        }
        for (unsigned j = 0; j < g->nbreaks; j++) {
            const struct model_break *b = &g->breaks[j];
            FUZZ_CHECK(TERMINATED(b->reason) && b->reason[0] &&
                       b->at_s >= 0 && b->for_s > 0 && b->first >= 1 &&
                       (uint64_t)b->first - 1 + b->count <= g->count,
                       "group %u break %u", i, j);
        }
    }
    for (int i = 0; i < 16; i++)
        FUZZ_CHECK(model_pick_class(m, &r) < m->nclasses, "class out of range");

    /* The rate over the run: before, at and after every curve point. A
     * rate is what the loader accepted, so it is never negative. */
    for (unsigned i = 0; i < m->ncurve; i++) {
        double t = m->curve[i].at_s;
        double v[3] = { model_rate_at(m, t - 1), model_rate_at(m, t),
                        model_rate_at(m, t + 0.5) };
        for (int j = 0; j < 3; j++)
            FUZZ_CHECK(v[j] >= 0, "rate %g near %g s", v[j], t);
    }
    FUZZ_CHECK(model_rate_at(m, m->duration_s) >= 0, "rate at the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* About 250 KiB each: static, not on the stack. */
    static struct model m, m2;
    char err[512], err2[512];
    char *text = malloc(size ? size : 1);
    int rc;

    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    err[0] = '\0';
    rc = model_load_string(&m, "fuzz.yaml", text, size, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "model_load_string returned %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
    } else {
        check_loaded(&m);
        rc = model_load_string(&m2, "fuzz.yaml", text, size, err2,
                               sizeof(err2));
        FUZZ_CHECK(rc == 0, "loaded once, then failed: %s", err2);
        FUZZ_CHECK(memcmp(&m, &m2, sizeof(m)) == 0,
                   "a second load of the same text gives another model");
    }
    free(text);
    return 0;
}
