/* fuzz-config.c -- libFuzzer harness for the daemon's YAML configuration.
 *
 * The input is the text of a configuration file. It is loaded with
 * config_load_string() on top of config_defaults(), as config_load() does
 * with a file's contents, and always released with config_fini(): a crash,
 * an undefined behaviour or a leak on any path (valid file or error) is a
 * finding. The harness also checks what config.h promises:
 *
 *   - an error comes with a message (never an empty one), and a success
 *     with none;
 *   - loading is a function of the text: a configuration that loads loads
 *     again from the same text into a fresh struct, with the same result
 *     (every scalar, the store section, each queue, each skill name);
 *   - a loaded configuration is self-consistent: the counts match the
 *     arrays, and every queue and skill name is a terminated string;
 *   - "the loader checks everything router_new() would refuse": a loaded
 *     configuration builds a router. The slot counts (max_agents,
 *     max_contacts) only size memory, which the promise leaves out; they
 *     are lowered for router_new() so that an input costs microseconds,
 *     not the hundreds of megabytes a large count preallocates.
 *
 * The text is handed over without a terminating NUL, in an allocation of
 * exactly its length, so that a read past `len` is an ASan report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "config.h"
#include "fuzz-check.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_router(const struct config *c)
{
    struct router_config rc = c->router;
    const char *rerr = NULL;
    struct router *r;

    if (rc.max_agents > 64)
        rc.max_agents = 64;
    if (rc.max_contacts > 64)
        rc.max_contacts = 64;
    r = router_new(&rc, 1, &rerr);
    FUZZ_CHECK(r != NULL, "the loader accepted a configuration that "
               "router_new() refuses: %s", rerr ? rerr : "out of memory");
    router_free(r);
}

static void check_loaded(const struct config *c)
{
    const struct router_config *r = &c->router;

    FUZZ_CHECK(memchr(c->listen_host, 0, sizeof(c->listen_host)) != NULL,
               "listen_host is not terminated");
    /* campaign-config.h: a loaded campaign is one CampaignUpsert takes */
    for (unsigned i = 0; i < c->ncampaigns; i++)
        FUZZ_CHECK(campaign_config_check(&c->campaigns[i].cfg, NULL) == 0,
                   "campaign %u does not pass campaign_config_check", i);
    FUZZ_CHECK(r->nqueues == 0 || r->queues != NULL, "%u queues, no array",
               r->nqueues);
    FUZZ_CHECK(r->nskills == 0 || r->skills != NULL, "%u skills, no array",
               r->nskills);
    for (unsigned i = 0; i < r->nqueues; i++) {
        const struct router_queue_config *q = &r->queues[i];
        FUZZ_CHECK(memchr(q->name, 0, sizeof(q->name)) != NULL,
                   "queue %u: name is not terminated", i);
        FUZZ_CHECK(q->nreq <= ROUTER_MAX_REQ, "queue %u: %u requirements", i,
                   q->nreq);
        FUZZ_CHECK(q->nsteps <= ROUTER_MAX_STEPS, "queue %u: %u steps", i,
                   q->nsteps);
    }
    for (unsigned i = 0; i < r->nskills; i++)
        FUZZ_CHECK(r->skills[i] != NULL && strlen(r->skills[i]) < 1u << 20,
                   "skill %u", i);
}

static void check_same(const struct config *a, const struct config *b)
{
    struct config ta = *a, tb = *b;

    /* Everything but the two owned arrays compares as memory: both
     * structs started from config_defaults() (a memset) and were written
     * by the same code from the same text. */
    ta.router.queues = tb.router.queues = NULL;
    ta.router.skills = tb.router.skills = NULL;
    ta.auth.principals = tb.auth.principals = NULL;
    ta.auth.tokens = tb.auth.tokens = NULL;
    ta.auth.certs = tb.auth.certs = NULL;
    ta.campaigns = tb.campaigns = NULL;
    FUZZ_CHECK(memcmp(&ta, &tb, sizeof(ta)) == 0,
               "a second load of the same text gives another config");
    if (a->ncampaigns)
        FUZZ_CHECK(memcmp(a->campaigns, b->campaigns,
                          a->ncampaigns * sizeof(*a->campaigns)) == 0,
                   "a second load gives other campaigns");
    if (a->auth.ncerts)
        FUZZ_CHECK(memcmp(a->auth.certs, b->auth.certs,
                          a->auth.ncerts * sizeof(*a->auth.certs)) == 0,
                   "a second load gives other certificate fingerprints");
    if (a->auth.ntokens)
        FUZZ_CHECK(memcmp(a->auth.tokens, b->auth.tokens,
                          a->auth.ntokens * sizeof(*a->auth.tokens)) == 0,
                   "a second load gives other tokens");
    for (unsigned i = 0; i < a->auth.nprincipals; i++) {
        const struct auth_principal *pa = &a->auth.principals[i];
        const struct auth_principal *pb = &b->auth.principals[i];
        FUZZ_CHECK(strcmp(pa->name, pb->name) == 0 && pa->roles == pb->roles &&
                   pa->nclients == pb->nclients &&
                   pa->nagents == pb->nagents &&
                   strcmp(pa->tenant, pb->tenant) == 0 && pa->line == pb->line,
                   "a second load gives another principal %u", i);
        FUZZ_CHECK(pa->nclients == 0 ||
                   memcmp(pa->clients, pb->clients,
                          pa->nclients * sizeof(*pa->clients)) == 0,
                   "principal %u: other client patterns", i);
        FUZZ_CHECK(pa->nagents == 0 ||
                   memcmp(pa->agents, pb->agents,
                          pa->nagents * sizeof(*pa->agents)) == 0,
                   "principal %u: other agent patterns", i);
    }
    if (a->router.nqueues)
        FUZZ_CHECK(memcmp(a->router.queues, b->router.queues,
                          a->router.nqueues * sizeof(*a->router.queues)) == 0,
                   "a second load gives other queues");
    for (unsigned i = 0; i < a->router.nskills; i++)
        FUZZ_CHECK(strcmp(a->router.skills[i], b->router.skills[i]) == 0,
                   "a second load gives skill %u \"%s\", not \"%s\"", i,
                   b->router.skills[i], a->router.skills[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config c, c2;
    char err[512], err2[512];
    char *text = malloc(size ? size : 1);
    int rc;

    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);

    config_defaults(&c);
    rc = config_load_string(&c, "fuzz.yaml", text, size, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "config_load_string returned %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
    } else {
        FUZZ_CHECK(err[0] == '\0', "success with a message: %s", err);
        check_loaded(&c);

        config_defaults(&c2);
        rc = config_load_string(&c2, "fuzz.yaml", text, size, err2,
                                sizeof(err2));
        FUZZ_CHECK(rc == 0, "loaded once, then failed: %s", err2);
        check_same(&c, &c2);
        config_fini(&c2);
        check_router(&c);
    }
    config_fini(&c);
    free(text);
    return 0;
}
