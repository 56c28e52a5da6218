/* test-care.c -- the care module (engine/care.c) and its configuration
 * (engine/care-config.c) in simulated time: dispositions checked and
 * counted per queue, group and tenant over the interval and the day, top
 * and rising tags, the bounded tag tables, the recovery pause after N
 * difficult contacts within a window, the extended wrap-up above the
 * occupancy cap, and the pause's end. Clocks are plain numbers passed in:
 * `now` in microseconds (monotonic), `wall` in milliseconds (UTC). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "care.h"
#include "config.h"
#include "error.h"

#define MIN_US (60ull * 1000 * 1000)
#define MIN_MS (60ull * 1000)
#define DAY_MS (86400ull * 1000)
/* a Monday 08:00 UTC, in ms: a whole number of days plus 8 hours */
#define WALL0 (20000ull * DAY_MS + 8 * 60 * MIN_MS)

static const char base_yaml[] =
    "queues:\n"
    "  - name: support\n"
    "    skills: {support: 1}\n"
    "    wrapup: 10s\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "  - name: billing\n"
    "    skills: {billing: 1}\n"
    "care:\n"
    "  interval: 15m\n"
    "  max_tags: 3\n"
    "  top_tags: 5\n"
    "  difficult_sentiment: -40\n"
    "  dispositions:\n"
    "    - queue: support\n"
    "      codes: [resolved, escalated, complaint]\n"
    "      difficult: [complaint]\n"
    "    - queue: sales\n"
    "      codes: [sold, not-interested]\n"
    "      required: true\n"
    "  agent_groups:\n"
    "    - name: tier1\n"
    "      agents: [alice, \"t1-*\"]\n"
    "      recovery: {after: 3, within: 1h, pause: 5m}\n"
    "      yield_margin: 10\n"
    "    - name: busy\n"
    "      agents: [bob]\n"
    "      occupancy: {cap: 50, window: 1h, extend: 2m}\n"
    "      yield_margin: 0\n";

struct fx {
    struct config cfg;
    struct care *c;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[512];
    assert_non_null(f);
    config_defaults(&f->cfg);
    if (config_load_string(&f->cfg, "t.yaml", base_yaml, sizeof(base_yaml) - 1,
                           err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    f->cfg.router.max_agents = 16;
    f->cfg.router.max_contacts = 64;
    f->c = care_new(&f->cfg.care, &f->cfg.router);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    care_free(f->c);
    config_fini(&f->cfg);
    free(f);
    return 0;
}

/* Completes contact `h` of queue `q` handled by agent (handle a, id) with
 * `code` and tags; returns the action. */
static enum care_action complete(struct care *c, uint32_t h, int q,
                                 uint32_t a, const char *id, const char *code,
                                 const char *const *tags, size_t ntags,
                                 uint64_t now, uint64_t wall, uint32_t *pause)
{
    struct care_completion e = {
        .contact = h, .queue = q, .agent = a, .agent_id = id,
        .tags = tags, .ntags = ntags, .wrapup_ms = 10000,
    };
    char why[160];
    uint32_t p;
    assert_int_equal(care_check(c, q, code, tags, ntags, NULL, &e.code, why,
                                sizeof(why)), 0);
    return care_contact_completed(c, &e, now, wall, pause ? pause : &p);
}

static uint64_t code_today(struct care *c, int scope, const char *code,
                           uint64_t wall, uint64_t *interval)
{
    uint64_t iv = 0, td = 0;
    for (unsigned k = 0; k < care_code_count(c); k++)
        if (!strcmp(care_code_name(c, k), code))
            assert_true(care_scope_code(c, scope, k, wall, &iv, &td));
    if (interval)
        *interval = iv;
    return td;
}

static void load_fails(const char *yaml, const char *want)
{
    struct config cfg;
    char err[512] = "";
    config_defaults(&cfg);
    assert_int_equal(config_load_string(&cfg, "t.yaml", yaml, strlen(yaml),
                                        err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    config_fini(&cfg);
}

static void test_config_errors(void **state)
{
    (void)state;
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: b, codes: [ok]}]}\n",
               "t.yaml:2: care.dispositions: queue \"b\" is not configured");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [ok], "
               "difficult: [bad]}]}\n",
               "\"bad\" is not one of this list's codes");
    load_fails("care: {interval: 7m}\n", "must be at least 1m and divide a "
               "day");
    load_fails("care: {max_tags: 17}\n", "care.max_tags");
    load_fails("care: {difficult_sentiment: 5}\n", "from -100 to -1");
    load_fails("care: {agent_groups: [{name: g, agents: [a], "
               "recovery: {after: 3}}]}\n", "needs after, within and pause");
    load_fails("care: {agent_groups: [{name: g, agents: [a], "
               "recovery: {after: 17, within: 1h, pause: 1m}}]}\n",
               "recovery.after");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [ok, ok]}]}\n",
               "\"ok\" is listed twice");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [\"o k\"]}]}\n",
               "may not hold a comma, a space");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [ok], "
               "followup: {codes: [bad], due_after: 1h}}]}\n",
               "\"bad\" is not one of this list's codes");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [ok], "
               "followup: {codes: [ok]}}]}\n",
               "needs codes and due_after");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [ok], "
               "followup: {codes: [ok], due_after: 1h, queue: b}}]}\n",
               "followup.queue \"b\" is not configured");
    load_fails("queues: [{name: a, skills: {x: 1}}]\n"
               "care: {dispositions: [{queue: a, codes: [ok], "
               "followup: {codes: [ok], due_after: 1h, "
               "overdue_priority: 101}}]}\n", "overdue_priority");
    load_fails("care: {agent_groups: [{name: g, agents: [a], "
               "spread: {weight: 30s}}]}\n", "needs weight and within");
    load_fails("care: {agent_groups: [{name: g, agents: [a], "
               "spread: {weight: 2h, within: 1h}}]}\n", "spread.weight");
    load_fails("care: {agent_groups: [{name: g, agents: [a], "
               "routine: {after: 2, within: 1h, for: 0s}}]}\n",
               "needs after, within and for");
    load_fails("care: {agent_groups: [{name: g, agents: [a], "
               "routine: {after: 17, within: 1h, for: 1m}}]}\n",
               "routine.after");
}

/* Which completions make a follow-up: the list's followup codes only. */
static void test_followup_codes(void **state)
{
    (void)state;
    static const char yaml[] =
        "queues: [{name: a, skills: {x: 1}}, {name: b, skills: {x: 1}}]\n"
        "care: {dispositions: [{queue: a, codes: [ok, esc], followup: "
        "{codes: [esc], due_after: 1h, queue: b, overdue_after: 2h, "
        "overdue_priority: 80}}]}\n";
    struct config cfg;
    struct care *c;
    const struct care_list *l;
    char err[512];
    config_defaults(&cfg);
    assert_int_equal(config_load_string(&cfg, "t", yaml, sizeof(yaml) - 1,
                                        err, sizeof(err)), 0);
    cfg.router.max_agents = 4;
    cfg.router.max_contacts = 4;
    assert_non_null(c = care_new(&cfg.care, &cfg.router));
    assert_null(care_followup(c, 0, care_config_code(&cfg.care, "ok")));
    assert_null(care_followup(c, 0, -1));
    /* queue b has no list */
    assert_null(care_followup(c, 1, care_config_code(&cfg.care, "esc")));
    l = care_followup(c, 0, care_config_code(&cfg.care, "esc"));
    assert_non_null(l);
    assert_int_equal(l->followup_after_ms, 3600000);
    assert_int_equal(l->followup_overdue_ms, 7200000);
    assert_int_equal(l->followup_priority, 80);
    assert_string_equal(l->followup_queue, "b");
    care_free(c);
    config_fini(&cfg);
}

static void test_check(void **state)
{
    struct fx *f = *state;
    const char *two[] = { "delivery", "billing" };
    const char *four[] = { "a", "b", "c", "d" };
    const char *comma[] = { "a,b" };
    const char *empty[] = { "" };
    const char *longt[] = { "0123456789012345678901234567890123" };
    char why[160], note[200];
    int code;
    /* support: 0, sales: 1 (required), billing: 2 (no list) */
    assert_int_equal(care_check(f->c, 0, "resolved", two, 2, "crm:1", &code,
                                why, sizeof(why)), 0);
    assert_string_equal(care_code_name(f->c, (unsigned)code), "resolved");
    assert_int_equal(care_check(f->c, 0, "", NULL, 0, NULL, &code, why,
                                sizeof(why)), 0);
    assert_int_equal(code, -1);
    assert_int_equal(care_check(f->c, 0, "sold", NULL, 0, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    assert_non_null(strstr(why, "not a code of queue \"support\""));
    assert_int_equal(care_check(f->c, 0, "nonsense", NULL, 0, NULL, &code,
                                why, sizeof(why)), CCR_EINVAL);
    assert_int_equal(care_check(f->c, 1, NULL, NULL, 0, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    assert_non_null(strstr(why, "requires a disposition"));
    assert_int_equal(care_check(f->c, 2, "resolved", NULL, 0, NULL, &code,
                                why, sizeof(why)), CCR_EINVAL);
    assert_non_null(strstr(why, "no disposition codes"));
    assert_int_equal(care_check(f->c, 2, "", two, 2, NULL, &code, why,
                                sizeof(why)), 0);
    assert_int_equal(care_check(f->c, 0, "", four, 4, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    assert_non_null(strstr(why, "at most 3"));
    assert_int_equal(care_check(f->c, 0, "", comma, 1, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    assert_int_equal(care_check(f->c, 0, "", empty, 1, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    assert_int_equal(care_check(f->c, 0, "", longt, 1, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    memset(note, 'n', sizeof(note) - 1);
    note[sizeof(note) - 1] = '\0';
    assert_int_equal(care_check(f->c, 0, "", NULL, 0, note, &code, why,
                                sizeof(why)), CCR_EINVAL);
}

static void test_star_list(void **state)
{
    static const char yaml[] =
        "queues: [{name: a, skills: {x: 1}}, {name: b, skills: {x: 1}}]\n"
        "care: {dispositions: [{queue: \"*\", codes: [ok]},"
        " {queue: b, codes: [other]}]}\n";
    struct config cfg;
    char err[256], why[160];
    int code;
    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_load_string(&cfg, "t", yaml, sizeof(yaml) - 1,
                                        err, sizeof(err)), 0);
    struct care *c = care_new(&cfg.care, &cfg.router);
    assert_non_null(c);
    assert_int_equal(care_check(c, 0, "ok", NULL, 0, NULL, &code, why,
                                sizeof(why)), 0);
    assert_int_equal(care_check(c, 1, "ok", NULL, 0, NULL, &code, why,
                                sizeof(why)), CCR_EINVAL);
    assert_int_equal(care_check(c, 1, "other", NULL, 0, NULL, &code, why,
                                sizeof(why)), 0);
    care_free(c);
    config_fini(&cfg);
}

static void test_counts_interval_and_day(void **state)
{
    struct fx *f = *state;
    const char *t1[] = { "delivery", "billing", "delivery" };
    uint64_t iv, now = 1000 * MIN_US, wall = WALL0;
    int qs = care_scope_queue(f->c, 0), gs = care_scope_group(f->c, 0);
    struct care_scope_view v;

    care_contact_arrived(f->c, 1, 0, false);
    complete(f->c, 1, 0, 0, "alice", "resolved", t1, 3, now, wall, NULL);
    care_contact_arrived(f->c, 2, 0, false);
    complete(f->c, 2, 0, 1, "carol", "resolved", NULL, 0, now, wall, NULL);
    care_contact_arrived(f->c, 3, 0, false);
    complete(f->c, 3, 0, 0, "alice", "escalated", NULL, 0, now, wall, NULL);

    assert_int_equal(code_today(f->c, qs, "resolved", wall, &iv), 2);
    assert_int_equal(iv, 2);
    assert_int_equal(code_today(f->c, qs, "escalated", wall, NULL), 1);
    assert_int_equal(code_today(f->c, 0, "resolved", wall, NULL), 2);
    /* carol is in no group: the group counts alice's only */
    assert_int_equal(code_today(f->c, gs, "resolved", wall, NULL), 1);
    care_scope_view(f->c, qs, wall, &v);
    assert_int_equal(v.completed_today, 3);
    assert_int_equal(v.difficult_today, 0);
    /* a code the queue does not take is not reported for it */
    for (unsigned k = 0; k < care_code_count(f->c); k++)
        if (!strcmp(care_code_name(f->c, k), "sold")) {
            uint64_t a, b;
            assert_false(care_scope_code(f->c, qs, k, wall, &a, &b));
        }

    /* the next interval: interval counts read 0, today's stay */
    wall += 15 * MIN_MS;
    assert_int_equal(code_today(f->c, qs, "resolved", wall, &iv), 2);
    assert_int_equal(iv, 0);
    care_contact_arrived(f->c, 4, 0, false);
    complete(f->c, 4, 0, 0, "alice", "resolved", NULL, 0, now, wall, NULL);
    assert_int_equal(code_today(f->c, qs, "resolved", wall, &iv), 3);
    assert_int_equal(iv, 1);
    assert_int_equal(care_interval_start_ms(f->c, wall + 7 * MIN_MS),
                     WALL0 + 15 * MIN_MS);

    /* the next day: everything reads 0 before and after counting */
    wall += DAY_MS;
    assert_int_equal(code_today(f->c, qs, "resolved", wall, &iv), 0);
    assert_int_equal(iv, 0);
    care_scope_view(f->c, qs, wall, &v);
    assert_int_equal(v.completed_today, 0);
}

static void test_top_and_rising_tags(void **state)
{
    struct fx *f = *state;
    struct care_tag_count top[CARE_TOP_MAX];
    uint64_t wall = WALL0;
    uint32_t h = 0;
    const char *d[] = { "delivery" }, *b[] = { "billing" },
               *x[] = { "defect" };
    /* day 1: delivery 4, billing 1 */
    for (int i = 0; i < 4; i++)
        complete(f->c, h++, 0, UINT32_MAX, NULL, "", d, 1, 0, wall, NULL);
    complete(f->c, h++, 0, UINT32_MAX, NULL, "", b, 1, 0, wall, NULL);
    assert_int_equal(care_top_tags(f->c, 0, wall, top, CARE_TOP_MAX), 2);
    assert_string_equal(top[0].tag, "delivery");
    assert_int_equal(top[0].today, 4);
    assert_true(top[0].rising);             /* nothing yesterday */
    assert_false(top[1].rising);            /* only 1 today */
    /* day 2: billing 3, defect 3, delivery 1 */
    wall += DAY_MS;
    for (int i = 0; i < 3; i++) {
        complete(f->c, h++, 0, UINT32_MAX, NULL, "", b, 1, 0, wall, NULL);
        complete(f->c, h++, 0, UINT32_MAX, NULL, "", x, 1, 0, wall, NULL);
    }
    complete(f->c, h++, 0, UINT32_MAX, NULL, "", d, 1, 0, wall, NULL);
    size_t n = care_top_tags(f->c, care_scope_queue(f->c, 0), wall, top,
                             CARE_TOP_MAX);
    assert_int_equal(n, 3);
    /* billing and defect tie at 3 today: billing had more yesterday */
    assert_string_equal(top[0].tag, "billing");
    assert_int_equal(top[0].yesterday, 1);
    assert_true(top[0].rising);
    assert_string_equal(top[1].tag, "defect");
    assert_true(top[1].rising);
    assert_string_equal(top[2].tag, "delivery");
    assert_int_equal(top[2].today, 1);
    assert_int_equal(top[2].yesterday, 4);
    assert_false(top[2].rising);
    /* top_tags bounds the list; max bounds it further */
    assert_int_equal(care_top_tags(f->c, 0, wall, top, 2), 2);
    /* two days later: yesterday was empty, so nothing is listed */
    assert_int_equal(care_top_tags(f->c, 0, wall + 2 * DAY_MS, top,
                                   CARE_TOP_MAX), 0);
}

static void test_tag_table_bounded(void **state)
{
    struct fx *f = *state;
    char name[32];
    const char *t[1] = { name };
    /* a queue's table holds CARE_TAGS_QUEUE tags; the tenant's more */
    for (int i = 0; i < CARE_TAGS_QUEUE + 5; i++) {
        snprintf(name, sizeof(name), "tag-%d", i);
        complete(f->c, 1, 0, UINT32_MAX, NULL, "", t, 1, 0, WALL0, NULL);
    }
    assert_int_equal(care_tags_untracked(f->c), 5);
    /* a known tag still counts in a full table */
    snprintf(name, sizeof(name), "tag-0");
    complete(f->c, 1, 0, UINT32_MAX, NULL, "", t, 1, 0, WALL0, NULL);
    assert_int_equal(care_tags_untracked(f->c), 5);
}

static void test_recovery_pause(void **state)
{
    struct fx *f = *state;
    uint64_t now = 1000 * MIN_US;
    uint32_t pause = 0;
    const char *reason = NULL;
    struct care_agent_view v;

    /* two complaints (arrival mark, then the difficult code), an easy
     * one, and a third difficult one after the first left the window:
     * no pause */
    care_contact_arrived(f->c, 1, 0, true);
    assert_int_equal(complete(f->c, 1, 0, 3, "t1-ann", "resolved", NULL, 0,
                              now, WALL0, &pause), CARE_NONE);
    care_contact_arrived(f->c, 2, 0, false);
    assert_int_equal(complete(f->c, 2, 0, 3, "t1-ann", "complaint", NULL, 0,
                              now + 50 * MIN_US, WALL0, &pause), CARE_NONE);
    care_contact_arrived(f->c, 3, 0, false);
    assert_int_equal(complete(f->c, 3, 0, 3, "t1-ann", "resolved", NULL, 0,
                              now + 51 * MIN_US, WALL0, &pause), CARE_NONE);
    care_agent_view(f->c, 3, "t1-ann", now + 52 * MIN_US, &v);
    assert_int_equal(v.group, 0);
    assert_int_equal(v.difficult_recent, 2);
    care_contact_arrived(f->c, 4, 0, true);
    assert_int_equal(complete(f->c, 4, 0, 3, "t1-ann", "resolved", NULL, 0,
                              now + 61 * MIN_US, WALL0, &pause), CARE_NONE);
    care_agent_view(f->c, 3, "t1-ann", now + 61 * MIN_US, &v);
    assert_int_equal(v.difficult_recent, 2);   /* the first is > 1 h ago */
    assert_int_equal(care_next_deadline(f->c), UINT64_MAX);

    /* a third within the hour: recovery for 5 minutes */
    care_contact_arrived(f->c, 5, 0, false);
    now += 62 * MIN_US;
    assert_int_equal(care_contact_queue(f->c, 5), 0);
    {
        struct care_completion e = { .contact = 5, .queue = 0, .agent = 3,
                                     .agent_id = "t1-ann", .code = -1,
                                     .difficult = true };
        assert_int_equal(care_contact_completed(f->c, &e, now, WALL0, &pause),
                         CARE_RECOVERY);
    }
    assert_int_equal(pause, 5 * 60 * 1000);
    assert_int_equal(care_next_deadline(f->c), now + 5 * MIN_US);
    care_agent_view(f->c, 3, "t1-ann", now + MIN_US, &v);
    assert_int_equal(v.pause_left_ms, 4 * 60 * 1000);
    assert_int_equal(v.difficult_recent, 3);   /* 2, 4, 5: within 1 h */
    {
        struct care_scope_view sv;
        care_scope_view(f->c, care_scope_group(f->c, 0), WALL0, &sv);
        assert_int_equal(sv.pauses_today, 1);
        assert_int_equal(sv.difficult_today, 4);
    }
    /* not due a microsecond early; due at the deadline, once */
    assert_int_equal(care_pause_pop(f->c, now + 5 * MIN_US - 1, &reason),
                     UINT32_MAX);
    assert_int_equal(care_pause_pop(f->c, now + 5 * MIN_US, &reason), 3);
    assert_string_equal(reason, CARE_REASON_RECOVERY);
    assert_int_equal(care_pause_pop(f->c, now + 5 * MIN_US, &reason),
                     UINT32_MAX);
    assert_int_equal(care_next_deadline(f->c), UINT64_MAX);
    /* the next pause needs 3 difficult contacts after this one: 2 more
     * are not enough, a third is */
    for (uint32_t h = 6; h <= 8; h++) {
        struct care_completion e = { .contact = h, .queue = 0, .agent = 3,
                                     .agent_id = "t1-ann", .code = -1,
                                     .difficult = true };
        now += 6 * MIN_US;
        assert_int_equal(care_contact_completed(f->c, &e, now, WALL0, &pause),
                         h < 8 ? CARE_NONE : CARE_RECOVERY);
    }
}

static void test_sentiment_marks(void **state)
{
    struct fx *f = *state;
    assert_true(care_difficult_arrival(f->c, true, 0));
    assert_true(care_difficult_arrival(f->c, false, -40));
    assert_false(care_difficult_arrival(f->c, false, -39));
    assert_false(care_difficult_arrival(f->c, false, 0));
    assert_false(care_difficult_arrival(f->c, false, 100));
}

static void test_occupancy_cap_extends_wrapup(void **state)
{
    struct fx *f = *state;
    uint64_t now = 1000 * MIN_US;
    uint32_t pause = 0;
    struct care_agent_view v;
    /* bob: 20 minutes of handling in the hour (33%): under the cap */
    care_contact_arrived(f->c, 1, 0, false);
    care_contact_assigned(f->c, 1, now);
    assert_int_equal(complete(f->c, 1, 0, 2, "bob", "", NULL, 0,
                              now + 20 * MIN_US, WALL0, &pause), CARE_NONE);
    care_agent_view(f->c, 2, "bob", now + 20 * MIN_US, &v);
    assert_int_equal(v.group, 1);
    assert_true(v.occupancy > 0.33 && v.occupancy < 0.34);
    /* 15 more: 35 of 60 minutes, above 50%: wrap-up + 2 minutes */
    care_contact_arrived(f->c, 2, 0, false);
    care_contact_assigned(f->c, 2, now + 21 * MIN_US);
    assert_int_equal(complete(f->c, 2, 0, 2, "bob", "", NULL, 0,
                              now + 36 * MIN_US, WALL0, &pause),
                     CARE_WRAPUP_EXTENDED);
    assert_int_equal(pause, 10000 + 2 * 60 * 1000);
    /* two hours on, the window holds none of it */
    care_agent_view(f->c, 2, "bob", now + 156 * MIN_US, &v);
    assert_true(v.occupancy == 0);
    /* cancel (the router refused the AWAY): no deadline left */
    care_pause_cancel(f->c, 2);
    assert_int_equal(care_next_deadline(f->c), UINT64_MAX);
}

/* Completes a difficult contact h of queue 0 by agent (a, id) at `now`
 * while the queue (target 80%) has reached `level` with `waiting`
 * contacts waiting. */
static enum care_action complete_sl(struct care *c, uint32_t h, uint32_t a,
                                    const char *id, bool difficult,
                                    uint64_t assigned, uint64_t now,
                                    double level, uint32_t waiting,
                                    uint32_t *pause)
{
    struct care_completion e = { .contact = h, .queue = 0, .agent = a,
                                 .agent_id = id, .code = -1,
                                 .difficult = difficult, .wrapup_ms = 10000,
                                 .sl_target = 80, .sl_level = level,
                                 .waiting = waiting };
    care_contact_arrived(c, h, 0, false);
    if (assigned)
        care_contact_assigned(c, h, assigned);
    return care_contact_completed(c, &e, now, WALL0, pause);
}

/* The rules yield to the service level: tier1 (margin 10) pauses nobody
 * while the queue is below 70% with contacts waiting; the recovery is not
 * spent and comes at the next difficult completion once the queue is
 * back; busy (margin 0) does not extend a wrap-up below 80%. Each yield
 * counts for the queue and the group. */
static void test_rules_yield_to_service_level(void **state)
{
    struct fx *f = *state;
    uint64_t now = 1000 * MIN_US;
    uint32_t pause = 0;
    struct care_scope_view qv, gv;

    /* two difficult contacts: no rule yet */
    for (uint32_t h = 1; h <= 2; h++)
        assert_int_equal(complete_sl(f->c, h, 3, "t1-ann", true, 0,
                                     now + h * MIN_US, 0.5, 4, &pause),
                         CARE_NONE);
    /* the third would pause; the queue is at 69% with callers waiting */
    assert_int_equal(complete_sl(f->c, 3, 3, "t1-ann", true, 0,
                                 now + 3 * MIN_US, 0.69, 4, &pause),
                     CARE_NONE);
    assert_int_equal(care_next_deadline(f->c), UINT64_MAX);
    /* the fourth: 71% (within the margin) -- the recovery was not spent */
    assert_int_equal(complete_sl(f->c, 4, 3, "t1-ann", true, 0,
                                 now + 4 * MIN_US, 0.71, 4, &pause),
                     CARE_RECOVERY);
    assert_int_equal(pause, 5 * 60 * 1000);
    care_pause_cancel(f->c, 3);
    /* far below the target but nobody waits: no yield either */
    for (uint32_t h = 5; h <= 7; h++)
        assert_int_equal(complete_sl(f->c, h, 3, "t1-ann", true, 0,
                                     now + (4 + h) * MIN_US, 0.1, 0, &pause),
                         h < 7 ? CARE_NONE : CARE_RECOVERY);
    care_pause_cancel(f->c, 3);

    /* bob: 35 minutes of handling in the hour, above the 50% cap */
    assert_int_equal(complete_sl(f->c, 8, 2, "bob", false, now,
                                 now + 35 * MIN_US, 0.79, 1, &pause),
                     CARE_NONE);
    assert_int_equal(complete_sl(f->c, 9, 2, "bob", false, now + 35 * MIN_US,
                                 now + 36 * MIN_US, 0.80, 1, &pause),
                     CARE_WRAPUP_EXTENDED);
    care_pause_cancel(f->c, 2);

    care_scope_view(f->c, care_scope_queue(f->c, 0), WALL0, &qv);
    assert_int_equal(qv.yields_today, 2);
    care_scope_view(f->c, care_scope_group(f->c, 0), WALL0, &gv);
    assert_int_equal(gv.yields_today, 1);
    assert_int_equal(gv.pauses_today, 2);
    care_scope_view(f->c, care_scope_group(f->c, 1), WALL0, &gv);
    assert_int_equal(gv.yields_today, 1);
    assert_int_equal(gv.extended_today, 1);
    /* a new day starts from 0 */
    care_scope_view(f->c, care_scope_queue(f->c, 0), WALL0 + DAY_MS, &qv);
    assert_int_equal(qv.yields_today, 0);
}

static const char calm_yaml[] =
    "queues:\n"
    "  - name: support\n"
    "    skills: {support: 1}\n"
    "care:\n"
    "  agent_groups:\n"
    "    - name: calm\n"
    "      agents: [\"c-*\"]\n"
    "      spread: {weight: 30s, within: 1h}\n"
    "      routine: {after: 2, within: 30m, for: 20m}\n"
    "      yield_margin: 10\n";

static struct care *calm_new(struct config *cfg)
{
    char err[512];
    struct care *c;
    config_defaults(cfg);
    if (config_load_string(cfg, "t.yaml", calm_yaml, sizeof(calm_yaml) - 1,
                           err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    cfg->router.max_agents = 16;
    cfg->router.max_contacts = 64;
    assert_non_null(c = care_new(&cfg->care, &cfg->router));
    return c;
}

/* A difficult completion of contact h by agent (a, id) at now. */
static void calm_complete(struct care *c, uint32_t h, uint32_t a,
                          const char *id, uint64_t now)
{
    struct care_completion e = { .contact = h, .queue = 0, .agent = a,
                                 .agent_id = id, .code = -1,
                                 .difficult = true };
    uint32_t p;
    care_contact_arrived(c, h, 0, false);
    assert_int_equal(care_contact_completed(c, &e, now, WALL0, &p),
                     CARE_NONE);
}

/* spread: {weight, within}: the weight is 30 s per difficult contact
 * completed within the hour, the one being completed included; none
 * outside a spread group. */
static void test_spread_weight(void **state)
{
    struct config cfg;
    struct care *c = calm_new(&cfg);
    uint64_t now = 1000 * MIN_US;
    assert_int_equal(care_agent_shift_ms(c, 1, "c-ann", now, false), 0);
    assert_int_equal(care_agent_shift_ms(c, 1, "c-ann", now, true), 30000);
    calm_complete(c, 1, 1, "c-ann", now);
    calm_complete(c, 2, 1, "c-ann", now + 10 * MIN_US);
    assert_int_equal(care_agent_shift_ms(c, 1, "c-ann", now + 20 * MIN_US,
                                         false), 60000);
    assert_int_equal(care_agent_shift_ms(c, 1, "c-ann", now + 20 * MIN_US,
                                         true), 90000);
    /* the first leaves the hour */
    assert_int_equal(care_agent_shift_ms(c, 1, "c-ann", now + 65 * MIN_US,
                                         false), 30000);
    /* another agent in the slot starts clean; no group, no weight */
    assert_int_equal(care_agent_shift_ms(c, 1, "c-bob", now, false), 0);
    assert_int_equal(care_agent_shift_ms(c, 2, "zed", now, true), 0);
    care_free(c);
    config_fini(&cfg);
    (void)state;
}

static bool calm_routine(struct care *c, uint32_t h, uint32_t a,
                         const char *id, uint64_t now, double level,
                         uint32_t waiting)
{
    struct care_completion e = { .contact = h, .queue = 0, .agent = a,
                                 .agent_id = id, .code = -1,
                                 .difficult = true, .sl_target = 80,
                                 .sl_level = level, .waiting = waiting };
    return care_routine_begin(c, &e, now, WALL0);
}

/* routine: {after: 2, within: 30m, for: 20m}: the second difficult
 * completion within 30 minutes begins the mode (before the completion
 * is counted: care_routine_begin() counts it itself); it ends 20
 * minutes later, once; the next needs 2 new ones; a queue below its
 * target by more than the margin with callers waiting makes it yield. */
static void test_routine_mode(void **state)
{
    struct config cfg;
    struct care *c = calm_new(&cfg);
    uint64_t now = 1000 * MIN_US;
    struct care_agent_view v;
    struct care_scope_view gv;

    assert_false(calm_routine(c, 1, 1, "c-ann", now, 1, 0));
    calm_complete(c, 1, 1, "c-ann", now);
    /* the second, 40 minutes later: the first left the window */
    assert_false(calm_routine(c, 2, 1, "c-ann", now + 40 * MIN_US, 1, 0));
    calm_complete(c, 2, 1, "c-ann", now + 40 * MIN_US);
    now += 50 * MIN_US;
    /* the third within 30 min of the second, but the queue is at 60%
     * with callers waiting: it yields */
    assert_false(calm_routine(c, 3, 1, "c-ann", now, 0.6, 3));
    calm_complete(c, 3, 1, "c-ann", now);
    care_scope_view(c, care_scope_group(c, 0), WALL0, &gv);
    assert_int_equal(gv.yields_today, 1);
    assert_int_equal(gv.routine_today, 0);
    assert_int_equal(care_next_deadline(c), UINT64_MAX);
    /* the fourth, the queue fine: routine only for 20 minutes */
    now += MIN_US;
    assert_true(calm_routine(c, 4, 1, "c-ann", now, 0.9, 3));
    calm_complete(c, 4, 1, "c-ann", now);
    care_scope_view(c, care_scope_group(c, 0), WALL0, &gv);
    assert_int_equal(gv.routine_today, 1);
    assert_int_equal(care_next_deadline(c), now + 20 * MIN_US);
    care_agent_view(c, 1, "c-ann", now + 5 * MIN_US, &v);
    assert_int_equal(v.routine_left_ms, 15 * 60 * 1000);
    /* in the mode: no second one */
    assert_false(calm_routine(c, 5, 1, "c-ann", now + MIN_US, 1, 0));
    calm_complete(c, 5, 1, "c-ann", now + MIN_US);
    assert_int_equal(care_routine_pop(c, now + 20 * MIN_US - 1), UINT32_MAX);
    assert_int_equal(care_routine_pop(c, now + 20 * MIN_US), 1);
    assert_int_equal(care_routine_pop(c, now + 20 * MIN_US), UINT32_MAX);
    assert_int_equal(care_next_deadline(c), UINT64_MAX);
    /* the next mode needs 2 difficult ones after the last began: 5 and
     * this one */
    assert_true(calm_routine(c, 6, 1, "c-ann", now + 21 * MIN_US, 1, 0));
    care_routine_cancel(c, 1);
    assert_int_equal(care_next_deadline(c), UINT64_MAX);
    care_free(c);
    config_fini(&cfg);
    (void)state;
}

/* Counts per product (care_contact_product): every configured code, the
 * difficult ones and the tags, per product in the order first seen; the
 * first CARE_PRODUCTS_MAX products only, the rest counted untracked. */
static void test_products(void **state)
{
    struct fx *f = *state;
    uint64_t now = 1000 * MIN_US;
    const char *tags[] = { "broken" };
    struct care_scope_view v;
    char name[16];
    int sc;

    care_contact_arrived(f->c, 1, 0, true);
    care_contact_product(f->c, 1, "widget");
    complete(f->c, 1, 0, 3, "t1-ann", "resolved", tags, 1, now, WALL0, NULL);
    care_contact_arrived(f->c, 2, 0, false);
    care_contact_product(f->c, 2, "gadget");
    complete(f->c, 2, 0, 3, "t1-ann", "escalated", NULL, 0, now, WALL0, NULL);
    care_contact_arrived(f->c, 3, 0, false);
    care_contact_product(f->c, 3, "widget");
    complete(f->c, 3, 0, 3, "t1-ann", "resolved", NULL, 0, now, WALL0, NULL);
    /* no product: no product scope */
    care_contact_arrived(f->c, 4, 0, false);
    complete(f->c, 4, 0, 3, "t1-ann", "resolved", NULL, 0, now, WALL0, NULL);

    assert_int_equal(care_product_count(f->c), 2);
    assert_string_equal(care_product_name(f->c, 0), "widget");
    assert_string_equal(care_product_name(f->c, 1), "gadget");
    sc = care_scope_product(f->c, 0);
    assert_true(sc > 0);
    assert_int_equal(care_scope_product(f->c, 2), -1);
    care_scope_view(f->c, sc, WALL0, &v);
    assert_int_equal(v.completed_today, 2);
    assert_int_equal(v.difficult_today, 1);
    assert_int_equal(code_today(f->c, sc, "resolved", WALL0, NULL), 2);
    /* a product scope takes every configured code, like a group */
    assert_int_equal(code_today(f->c, sc, "sold", WALL0, NULL), 0);
    {
        struct care_tag_count top[4];
        assert_int_equal(care_top_tags(f->c, sc, WALL0, top, 4), 1);
        assert_string_equal(top[0].tag, "broken");
    }
    assert_int_equal(code_today(f->c, care_scope_product(f->c, 1),
                                "escalated", WALL0, NULL), 1);
    /* the table fills up: the products beyond it count as untracked */
    for (unsigned i = 2; i < CARE_PRODUCTS_MAX; i++) {
        snprintf(name, sizeof(name), "p%u", i);
        care_contact_product(f->c, 5, name);
    }
    assert_int_equal(care_product_count(f->c), CARE_PRODUCTS_MAX);
    care_contact_arrived(f->c, 6, 0, false);
    care_contact_product(f->c, 6, "one-too-many");
    complete(f->c, 6, 0, 3, "t1-ann", "resolved", NULL, 0, now, WALL0, NULL);
    assert_int_equal(care_product_count(f->c), CARE_PRODUCTS_MAX);
    assert_int_equal(care_products_untracked(f->c), 1);
    care_scope_view(f->c, sc, WALL0, &v);
    assert_int_equal(v.completed_today, 2);
}

static void test_slot_reuse_and_restore(void **state)
{
    struct fx *f = *state;
    struct care_agent_view v;
    uint32_t pause;
    care_contact_arrived(f->c, 1, 0, true);
    complete(f->c, 1, 0, 4, "alice", "", NULL, 0, MIN_US, WALL0, &pause);
    care_agent_view(f->c, 4, "alice", MIN_US, &v);
    assert_int_equal(v.difficult_recent, 1);
    /* another agent in the same slot starts clean */
    care_agent_view(f->c, 4, "t1-zed", MIN_US, &v);
    assert_int_equal(v.difficult_recent, 0);
    assert_int_equal(v.group, 0);
    /* an agent restored away in recovery gets a whole pause from now */
    care_pause_restore(f->c, 5, "t1-bea", CARE_REASON_RECOVERY, 10 * MIN_US);
    assert_int_equal(care_next_deadline(f->c), 15 * MIN_US);
    /* other reasons, or an agent outside every group: nothing */
    care_pause_restore(f->c, 6, "t1-cid", "lunch", 10 * MIN_US);
    care_pause_restore(f->c, 7, "nobody", CARE_REASON_RECOVERY, 10 * MIN_US);
    assert_int_equal(care_next_deadline(f->c), 15 * MIN_US);
    care_forget(f->c);
    assert_int_equal(care_next_deadline(f->c), UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_spread_weight),
        cmocka_unit_test(test_routine_mode),
        cmocka_unit_test(test_followup_codes),
        cmocka_unit_test_setup_teardown(test_rules_yield_to_service_level,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test(test_star_list),
        cmocka_unit_test_setup_teardown(test_counts_interval_and_day, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_top_and_rising_tags, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tag_table_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recovery_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sentiment_marks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_occupancy_cap_extends_wrapup,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_products, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_reuse_and_restore, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
