/* test-router.c -- unit tests of the routing core (engine/router.c), one
 * rule per test. Every call goes through a wrapper that runs router_check()
 * afterwards, so each event is also an invariant test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "router-fx.h"

#define S(x) ((uint64_t)(x) * 1000000ULL)   /* seconds -> us */
#define MS(x) ((uint64_t)(x) * 1000ULL)

static void check(struct router *r)
{
    char buf[256];
    int rc = router_check(r, buf, sizeof(buf));
    if (rc != 0)
        fail_msg("router_check: %s", buf);
}

static struct router *mk(struct router_queue_config *q, unsigned nq,
                         struct router_config *tweak)
{
    struct router_config c = fx_config(q, nq);
    if (tweak) {
        tweak->queues = q;
        tweak->nqueues = nq;
        c = *tweak;
    }
    const char *err = NULL;
    struct router *r = router_new(&c, 42, &err);
    if (!r)
        fail_msg("router_new: %s", err);
    return r;
}

static int arrive_full(struct router *r, uint64_t now, const char *id,
                       const char *queue, const char *skills,
                       enum router_channel ch, uint32_t prio, uint32_t value,
                       const char *pref)
{
    struct router_contact_spec s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.channel = ch;
    s.queue = queue;
    s.nskills = skills ? fx_reqs(s.skills, skills) : 0;
    s.priority = prio;
    s.value = value;
    s.preferred_agent = pref;
    uint32_t h;
    int rc = router_contact_arrive(r, now, &s, 7, &h);
    check(r);
    return rc;
}

static int arrive(struct router *r, uint64_t now, const char *id,
                  const char *queue)
{
    return arrive_full(r, now, id, queue, NULL, ROUTER_CH_VOICE, 0, 0, NULL);
}

static int login_full(struct router *r, uint64_t now, const char *id,
                      const char *skills, const uint8_t *cap,
                      const char *const *queues, unsigned nqueues)
{
    struct router_agent_spec s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.nskills = fx_skills(s.skills, skills);
    if (cap)
        memcpy(s.capacity, cap, sizeof(s.capacity));
    s.queues = queues;
    s.nqueues = nqueues;
    uint32_t h;
    int rc = router_agent_login(r, now, &s, 9, &h);
    check(r);
    return rc;
}

static int login(struct router *r, uint64_t now, const char *id,
                 const char *skills)
{
    return login_full(r, now, id, skills, NULL, NULL, 0);
}

#define CALL(r, expr)           \
    ({                          \
        int rc_ = (expr);       \
        check(r);               \
        rc_;                    \
    })

static void tick(struct router *r, uint64_t now)
{
    router_tick(r, now);
    check(r);
}

/* The agent id of the n-th (0-based) event of `type` about contact `cid`
 * in the output list, or NULL. */
static const char *ev_agent(struct router *r, enum router_event_type type,
                            const char *cid, int nth)
{
    for (size_t i = 0; i < router_out_count(r); i++) {
        const struct router_event *e = router_out_get(r, i);
        if (e->type != type)
            continue;
        if (cid && (e->contact == UINT32_MAX ||
                    strcmp(router_contact_id(r, e->contact), cid) != 0))
            continue;
        if (nth-- == 0)
            return e->agent == UINT32_MAX ? "" : router_agent_id(r, e->agent);
    }
    return NULL;
}

static const struct router_event *ev_find(struct router *r,
                                          enum router_event_type type,
                                          const char *cid, const char *aid)
{
    for (size_t i = 0; i < router_out_count(r); i++) {
        const struct router_event *e = router_out_get(r, i);
        if (e->type != type)
            continue;
        if (cid && (e->contact == UINT32_MAX ||
                    strcmp(router_contact_id(r, e->contact), cid) != 0))
            continue;
        if (aid && (e->agent == UINT32_MAX ||
                    strcmp(router_agent_id(r, e->agent), aid) != 0))
            continue;
        return e;
    }
    return NULL;
}

static size_t ev_count(struct router *r, enum router_event_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < router_out_count(r); i++)
        n += router_out_get(r, i)->type == type;
    return n;
}

static enum router_agent_state agent_state(struct router *r, const char *id)
{
    uint32_t h;
    struct router_agent_info ai;
    assert_int_equal(router_agent_find(r, id, &h), 0);
    router_agent_info(r, h, 0, &ai);
    return ai.state;
}

static enum router_contact_state contact_state(struct router *r, const char *id)
{
    uint32_t h;
    struct router_contact_info ci;
    if (router_contact_find(r, id, &h) != 0)
        return 0;
    router_contact_info(r, h, &ci);
    return ci.state;
}

/* ---- tests ---- */

static void test_lifecycle(void **state)
{
    struct router_queue_config q[1] = {fx_queue("sales", "sales:1")};
    q[0].wrapup_ms = 5000;
    struct router *r = mk(q, 1, NULL);
    assert_int_equal(router_queue_count(r), 1);
    assert_int_equal(router_queue_find(r, "sales"), 0);
    assert_string_equal(router_queue_name(r, 0), "sales");

    assert_int_equal(login(r, S(1), "a1", "sales:5"), 0);
    const struct router_event *e = ev_find(r, ROUTER_EV_AGENT_STATE, NULL, "a1");
    assert_non_null(e);
    assert_int_equal(e->u.agent_state, ROUTER_AGENT_STATE_AVAILABLE);
    router_out_clear(r);

    assert_int_equal(arrive(r, S(2), "c1", "sales"), 0);
    assert_int_equal(router_out_count(r), 2);
    e = router_out_get(r, 0);
    assert_int_equal(e->type, ROUTER_EV_QUEUED);
    assert_int_equal(e->position, 1);
    assert_int_equal(e->queue, 0);
    e = router_out_get(r, 1);
    assert_int_equal(e->type, ROUTER_EV_OFFER);
    assert_string_equal(router_agent_id(r, e->agent), "a1");
    assert_int_equal(e->deadline, S(2) + MS(10000));
    assert_int_equal(router_next_deadline(r), S(2) + MS(10000));
    router_out_clear(r);

    assert_int_equal(CALL(r, router_offer_accept(r, S(3), "c1", "a1")), 0);
    assert_non_null(ev_find(r, ROUTER_EV_ASSIGNED, "c1", "a1"));
    assert_int_equal(contact_state(r, "c1"), ROUTER_CONTACT_ASSIGNED);
    assert_int_equal(router_next_deadline(r), UINT64_MAX);
    router_out_clear(r);

    assert_int_equal(CALL(r, router_contact_complete(r, S(10), "c1")), 0);
    e = ev_find(r, ROUTER_EV_CONTACT_GONE, "c1", NULL);
    assert_non_null(e);
    assert_int_equal(e->u.gone, ROUTER_CONTACT_COMPLETED);
    e = ev_find(r, ROUTER_EV_AGENT_STATE, NULL, "a1");
    assert_int_equal(e->u.agent_state, ROUTER_AGENT_STATE_WRAPUP);
    assert_int_equal(router_next_deadline(r), S(15));
    /* the handle stays readable until out_clear */
    assert_int_equal(router_contact_find(r, "c1", NULL), ROUTER_ENOCONTACT);
    router_out_clear(r);

    tick(r, S(14));
    assert_int_equal(router_out_count(r), 0);
    tick(r, S(15));
    assert_int_equal(agent_state(r, "a1"), ROUTER_AGENT_STATE_AVAILABLE);
    router_out_clear(r);

    struct router_queue_stats st;
    router_queue_stats(r, 0, S(15), &st);
    assert_int_equal(st.offered, 1);
    assert_int_equal(st.answered, 1);
    assert_int_equal(st.answered_in_sl, 1);
    assert_int_equal(st.asa_ms, 1000);
    assert_int_equal(st.aht_ms, 7000);
    assert_int_equal(st.agents_available, 1);
    assert_int_equal(st.waiting, 0);
    router_free(r);
}

static void test_longest_idle(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(2), "a2", "x:1");
    login(r, S(1), "a1", "x:1");     /* idle since 1 s: longer */
    login(r, S(3), "a3", "x:1");
    router_out_clear(r);
    arrive(r, S(4), "c1", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    arrive(r, S(4), "c2", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a2");
    router_free(r);
}

/* A longest idle pool that is never picked from fills with stale records
 * as its agents cycle; compaction keeps it bounded and in order. */
static void test_longest_idle_stale_records(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "x:1")};
    struct router *r = mk(q, 2, NULL);
    login(r, S(1), "a1", "x:1");
    login(r, S(1), "a2", "x:1");
    char id[16];
    for (unsigned i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "c%u", i);
        uint64_t t = S(2 + i);
        arrive(r, t, id, "q1");
        const char *a = ev_agent(r, ROUTER_EV_OFFER, id, 0);
        assert_non_null(a);
        assert_string_equal(a, i % 2 ? "a2" : "a1");
        assert_int_equal(CALL(r, router_offer_accept(r, t, id, a)), 0);
        assert_int_equal(CALL(r, router_contact_complete(r, t, id)), 0);
        router_out_clear(r);
    }
    struct router_queue_stats st;
    router_queue_stats(r, 1, S(400), &st);
    assert_int_equal(st.agents_available, 2);
    /* q2 still gives the longest idle first */
    arrive(r, S(400), "last", "q2");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "last", 0), "a1");
    router_free(r);
}

/* Agents idle since the same time: who became idle first goes first,
 * whatever the login order (router.c, "Longest idle"). */
static void test_longest_idle_ties(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(1), "a1", "x:1");
    login(r, S(1), "a2", "x:1");
    arrive(r, S(2), "c1", "q");
    arrive(r, S(2), "c2", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a2");
    assert_int_equal(CALL(r, router_offer_accept(r, S(2), "c1", "a1")), 0);
    assert_int_equal(CALL(r, router_offer_accept(r, S(2), "c2", "a2")), 0);
    router_out_clear(r);
    /* both free at 3 s, a2 first */
    assert_int_equal(CALL(r, router_contact_complete(r, S(3), "c2")), 0);
    assert_int_equal(CALL(r, router_contact_complete(r, S(3), "c1")), 0);
    router_out_clear(r);
    arrive(r, S(4), "c3", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a2");
    arrive(r, S(4), "c4", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c4", 0), "a1");
    router_free(r);
}

/* The care load (router_agent_set_load) breaks ties of idle_since before
 * the order of becoming idle, in each strategy that uses that order; it
 * is read when the agent becomes idle, not when it is set. */
static void test_care_load_ties(void **state)
{
    static const enum router_strategy strat[] = {
        ROUTER_STRATEGY_LONGEST_IDLE, ROUTER_STRATEGY_MOST_SKILLED,
        ROUTER_STRATEGY_LEAST_OCCUPIED,
    };
    for (size_t k = 0; k < sizeof(strat) / sizeof(strat[0]); k++) {
        struct router_queue_config q[1] = {fx_queue("q", "x:1")};
        q[0].strategy = strat[k];
        struct router *r = mk(q, 1, NULL);
        login(r, S(1), "a1", "x:1");
        login(r, S(1), "a2", "x:1");
        arrive(r, S(2), "c1", "q");
        arrive(r, S(2), "c2", "q");
        assert_int_equal(CALL(r, router_offer_accept(r, S(2), "c1", "a1")),
                         0);
        assert_int_equal(CALL(r, router_offer_accept(r, S(2), "c2", "a2")),
                         0);
        /* a2's load, set while it is busy: no effect on the pools yet */
        assert_int_equal(router_agent_set_load(r, "a2", 2), 0);
        assert_int_equal(router_agent_set_load(r, "nobody", 2),
                         ROUTER_ENOAGENT);
        router_out_clear(r);
        /* both free at 3 s, a2 first: without its load a2 would be next */
        assert_int_equal(CALL(r, router_contact_complete(r, S(3), "c2")), 0);
        assert_int_equal(CALL(r, router_contact_complete(r, S(3), "c1")), 0);
        router_out_clear(r);
        arrive(r, S(4), "c3", "q");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a1");
        arrive(r, S(4), "c4", "q");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c4", 0), "a2");
        /* idle since different moments: the longer idle wins whatever
         * its load */
        assert_int_equal(CALL(r, router_offer_accept(r, S(4), "c3", "a1")),
                         0);
        assert_int_equal(CALL(r, router_offer_accept(r, S(4), "c4", "a2")),
                         0);
        assert_int_equal(CALL(r, router_contact_complete(r, S(5), "c4")), 0);
        assert_int_equal(CALL(r, router_contact_complete(r, S(6), "c3")), 0);
        router_out_clear(r);
        arrive(r, S(7), "c5", "q");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c5", 0), "a2");
        router_free(r);
    }
    (void)state;
}

static int arrive_difficult(struct router *r, uint64_t now, const char *id,
                            const char *queue)
{
    struct router_contact_spec s;
    uint32_t h;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.channel = ROUTER_CH_VOICE;
    s.queue = queue;
    s.difficult = true;
    return CALL(r, router_contact_arrive(r, now, &s, 1, &h));
}

/* The care weight (router_agent_set_idle_shift) orders the agents
 * available for a difficult contact as if each had become idle its shift
 * later, in each strategy that orders by idle time; a routine contact
 * ignores it. Without it, a1 (idle since 3 s) would take both. */
static void test_care_weight(void **state)
{
    static const enum router_strategy strat[] = {
        ROUTER_STRATEGY_LONGEST_IDLE, ROUTER_STRATEGY_MOST_SKILLED,
        ROUTER_STRATEGY_LEAST_OCCUPIED,
    };
    for (size_t k = 0; k < sizeof(strat) / sizeof(strat[0]); k++) {
        struct router_queue_config q[1] = {fx_queue("q", "x:1")};
        q[0].strategy = strat[k];
        struct router *r = mk(q, 1, NULL);
        login(r, S(1), "a1", "x:1");
        login(r, S(2), "a2", "x:1");
        arrive(r, S(2), "c1", "q");
        assert_int_equal(CALL(r, router_offer_accept(r, S(2), "c1", "a1")),
                         0);
        /* a1 gets a weight of 30 s (one recent difficult contact) */
        assert_int_equal(router_agent_set_idle_shift(r, "a1", 30000), 0);
        assert_int_equal(router_agent_set_idle_shift(r, "nobody", 1),
                         ROUTER_ENOAGENT);
        assert_int_equal(CALL(r, router_contact_complete(r, S(3), "c1")), 0);
        router_out_clear(r);
        /* a2 (idle since 2 s) takes c2 and is free again at 5 s, so
         * that a1 (free at 3 s) is the longer idle */
        arrive(r, S(4), "c2", "q");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a2");
        assert_int_equal(CALL(r, router_offer_accept(r, S(4), "c2", "a2")),
                         0);
        assert_int_equal(CALL(r, router_contact_complete(r, S(5), "c2")), 0);
        router_out_clear(r);
        /* a1 idle since 3 s (+30 s: 33 s), a2 since 5 s: a difficult
         * contact goes to a2, a routine one to a1 */
        arrive_difficult(r, S(6), "d1", "q");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "d1", 0), "a2");
        arrive(r, S(6), "c3", "q");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a1");
        router_free(r);
    }
    (void)state;
}

/* Routine-only mode (router_agent_set_routine): a difficult contact is
 * not offered to the agent and waits; a routine one is; the end of the
 * mode offers the waiting difficult contact at once. */
static void test_care_routine(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(1), "a1", "x:1");
    assert_int_equal(CALL(r, router_agent_set_routine(r, S(1), "a1", true)),
                     0);
    assert_int_equal(router_agent_set_routine(r, S(1), "nobody", true),
                     ROUTER_ENOAGENT);
    router_out_clear(r);
    arrive_difficult(r, S(2), "d1", "q");
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "d1", 0));
    arrive(r, S(3), "c1", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    assert_int_equal(CALL(r, router_offer_accept(r, S(3), "c1", "a1")), 0);
    assert_int_equal(CALL(r, router_contact_complete(r, S(4), "c1")), 0);
    router_out_clear(r);
    tick(r, S(60));             /* wrap-up over: still not offered */
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "d1", 0));
    router_out_clear(r);
    assert_int_equal(CALL(r, router_agent_set_routine(r, S(61), "a1", false)),
                     0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "d1", 0), "a1");
    router_free(r);
    (void)state;
}

static void test_most_skilled(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1,y:1")};
    q[0].strategy = ROUTER_STRATEGY_MOST_SKILLED;
    struct router *r = mk(q, 1, NULL);
    login(r, S(1), "a1", "x:3,y:3");
    login(r, S(2), "a2", "x:9,y:2");   /* 11: best */
    login(r, S(3), "a3", "x:5,y:6");   /* 11, idle shorter */
    router_out_clear(r);
    arrive(r, S(4), "c1", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a2");
    arrive(r, S(4), "c2", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a3");
    arrive(r, S(4), "c3", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a1");
    router_free(r);
}

/* Most skilled pools keep one ring per score (sring.h): the pick is the
 * highest score, then the longest idle; records of agents that went busy
 * or changed keys go stale in their rings (many cycles make the rings
 * compact) and are dropped when met; a contact that excludes the best
 * agent takes the next of that score, not one of a lower score. Every
 * call runs router_check(), which checks each ring's order, the score of
 * each valid record, the marks of the non-empty rings and the counts:
 * without the rings' upkeep this fails. */
static void test_most_skilled_score_rings(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].strategy = ROUTER_STRATEGY_MOST_SKILLED;
    struct router *r = mk(q, 1, NULL);
    static const char *const cyc[4] = {"s9", "s7b", "s3", "s7a"};
    login(r, S(1), "s7a", "x:7");
    login(r, S(1), "s3", "x:3");
    login(r, S(1), "s7b", "x:7");
    login(r, S(1), "s9", "x:9");
    uint64_t now = S(2);
    for (unsigned i = 0; i < 40; i++)
        for (unsigned k = 0; k < 4; k++) {
            now += MS(10);
            assert_int_equal(CALL(r, router_agent_set_state(
                                         r, now, cyc[k], ROUTER_AGENT_AWAY,
                                         "x")), 0);
            assert_int_equal(CALL(r, router_agent_set_state(
                                         r, now, cyc[k],
                                         ROUTER_AGENT_AVAILABLE, NULL)), 0);
        }
    /* idle order now s9, s7b, s3, s7a */
    router_out_clear(r);
    now += S(1);
    arrive(r, now, "cx", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "cx", 0), "s9");
    router_out_clear(r);
    /* cx excludes s9: the next of score 7, idle longest */
    assert_int_equal(CALL(r, router_offer_reject(r, now, "cx", "s9")), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "cx", 0), "s7b");
    router_out_clear(r);
    /* s9 is back (its old record stale, a new one at its ring's back) */
    arrive(r, now + 1, "c1", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "s9");
    arrive(r, now + 2, "c2", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "s7a");
    arrive(r, now + 3, "c3", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "s3");
    arrive(r, now + 4, "c4", "q");
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "c4", 0));
    router_free(r);
    (void)state;
}

static void test_least_occupied(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].strategy = ROUTER_STRATEGY_LEAST_OCCUPIED;
    struct router *r = mk(q, 1, NULL);
    uint8_t cap[ROUTER_CH_COUNT] = {0, 3, 0, 0};
    login_full(r, S(1), "a1", "x:1", cap, NULL, 0);
    login_full(r, S(2), "a2", "x:1", cap, NULL, 0);
    router_out_clear(r);
    arrive_full(r, S(3), "c1", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    /* a1 has one chat: a2 (less occupied) gets the next, then a1 again as
     * both have one and a1 has been idle longer */
    arrive_full(r, S(3), "c2", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a2");
    arrive_full(r, S(3), "c3", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a1");
    router_free(r);
}

/* Least occupied pools keep one ring per busy count and a heap
 * (oring.h): an agent that becomes idle or frees a slot has the newest
 * key and joins the back of its busy count's ring; one offered a contact
 * that still takes the channel keeps its idle_since at the next busy
 * count, behind agents idle since later, and goes to the heap. Here a3,
 * then a1, then a2 move up to one chat (a1 and a2 out of order, a3 in
 * order): the next offers still go by (busy, idle since), a1 before a2
 * before a3, and a contact that excludes the heap's top takes the next
 * in the heap. Every call runs router_check(), which checks each ring's
 * order and busy count, each valid record's key and the places reserved:
 * a ring that took every key at its back would offer c2 to a3. */
static void test_least_occupied_busy_rings(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].strategy = ROUTER_STRATEGY_LEAST_OCCUPIED;
    struct router *r = mk(q, 1, NULL);
    uint8_t cap[ROUTER_CH_COUNT] = {0, 3, 0, 0};
    login_full(r, S(1), "a1", "x:1", cap, NULL, 0);
    login_full(r, S(2), "a2", "x:1", cap, NULL, 0);
    login_full(r, S(3), "a3", "x:1", cap, NULL, 0);
    login_full(r, S(4), "a4", "x:1", NULL, NULL, 0);   /* voice only */
    router_out_clear(r);
    /* a3 then a1 up to one chat, by name (their idle_since kept) */
    arrive_full(r, S(5), "p3", "q", NULL, ROUTER_CH_CHAT, 0, 0, "a3");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "p3", 0), "a3");
    arrive_full(r, S(5), "p1", "q", NULL, ROUTER_CH_CHAT, 0, 0, "a1");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "p1", 0), "a1");
    router_out_clear(r);
    /* a2 is the only one at 0 */
    arrive_full(r, S(6), "c1", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a2");
    /* all at one chat: idle since S(1), S(2), S(3) */
    arrive_full(r, S(6), "c2", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a1");
    router_out_clear(r);
    /* c2 back from a1 (its slot freed: a1 idle since S(7), one chat):
     * a2, idle since S(2), is the best at one chat */
    assert_int_equal(CALL(r, router_offer_reject(r, S(7), "c2", "a1")), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a2");
    router_out_clear(r);
    /* at one chat a3 (S(3)) then a1 (S(7)); c3 excludes a3 */
    arrive_full(r, S(8), "c3", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a3");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_offer_reject(r, S(9), "c3", "a3")), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a1");
    router_out_clear(r);
    /* a1, a2 at two chats, a3 at one (idle since S(9)) */
    arrive_full(r, S(10), "c4", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c4", 0), "a3");
    /* all at two chats: a2 (idle since S(2)), a1 (S(7)), a3 (S(9)) */
    arrive_full(r, S(10), "c5", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c5", 0), "a2");
    arrive_full(r, S(10), "c6", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c6", 0), "a1");
    arrive_full(r, S(10), "c7", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c7", 0), "a3");
    arrive_full(r, S(10), "c8", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "c8", 0));
    /* voice: a4 alone, in ring 0 */
    arrive(r, S(11), "v1", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "v1", 0), "a4");
    router_free(r);
    (void)state;
}

static void test_round_robin(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].strategy = ROUTER_STRATEGY_ROUND_ROBIN;
    struct router *r = mk(q, 1, NULL);
    uint8_t cap[ROUTER_CH_COUNT] = {0, 5, 0, 0};
    login_full(r, S(3), "a1", "x:1", cap, NULL, 0);
    login_full(r, S(2), "a2", "x:1", cap, NULL, 0);
    login_full(r, S(1), "a3", "x:1", cap, NULL, 0);
    router_out_clear(r);
    const char *want[] = {"a1", "a2", "a3", "a1", "a2", "a3", "a1"};
    for (int i = 0; i < 7; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        arrive_full(r, S(4), id, "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, id, 0), want[i]);
    }
    router_free(r);
}

static void test_weighted_random(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].strategy = ROUTER_STRATEGY_WEIGHTED_RANDOM;
    int hits[2][2] = {{0}};
    for (int run = 0; run < 2; run++) {
        struct router *r = mk(q, 1, NULL);
        uint8_t cap[ROUTER_CH_COUNT] = {0, 255, 0, 0};
        login_full(r, S(1), "lo", "x:1", cap, NULL, 0);
        login_full(r, S(1), "hi", "x:9", cap, NULL, 0);
        for (int i = 0; i < 200; i++) {
            char id[16];
            snprintf(id, sizeof(id), "c%d", i);
            router_out_clear(r);
            arrive_full(r, S(2), id, "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
            const char *a = ev_agent(r, ROUTER_EV_OFFER, id, 0);
            assert_non_null(a);
            hits[run][strcmp(a, "hi") == 0]++;
            router_contact_abandon(r, S(2), id);
            check(r);
        }
        router_free(r);
    }
    /* same seed, same choices; weights 1:9 */
    assert_int_equal(hits[0][0], hits[1][0]);
    assert_true(hits[0][1] > 150 && hits[0][0] > 5);
}

/* Agents come and go many times over in a weighted random queue: the
 * pool's slots fill with holes and are compacted (the slots of the agents
 * that stay move); every offer still goes to an agent that can take it,
 * and with one heavy agent left among light ones the draw still follows
 * the weights. router_check after every call checks the slots, the
 * weights and their sums. */
static void test_weighted_random_churn(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].strategy = ROUTER_STRATEGY_WEIGHTED_RANDOM;
    struct router *r = mk(q, 1, NULL);
    uint8_t cap[ROUTER_CH_COUNT] = {0, 255, 0, 0};
    login_full(r, S(1), "heavy", "x:10", cap, NULL, 0);
    char id[16];
    for (int i = 0; i < 300; i++) {
        router_out_clear(r);    /* frees the slots of agents gone */
        snprintf(id, sizeof(id), "l%d", i);
        assert_int_equal(login_full(r, S(1), id, "x:1", cap, NULL, 0), 0);
        if (i >= 3) {
            snprintf(id, sizeof(id), "l%d", i - 3);
            assert_int_equal(CALL(r, router_agent_logout(r, S(1), id)), 0);
        }
    }
    /* heavy (weight 10) and l297..l299 (weight 1 each) remain */
    int heavy = 0;
    for (int i = 0; i < 400; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        router_out_clear(r);
        arrive_full(r, S(2), id, "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
        const char *a = ev_agent(r, ROUTER_EV_OFFER, id, 0);
        assert_non_null(a);
        assert_true(!strcmp(a, "heavy") || !strcmp(a, "l297") ||
                    !strcmp(a, "l298") || !strcmp(a, "l299"));
        heavy += !strcmp(a, "heavy");
        router_contact_abandon(r, S(2), id);
        check(r);
    }
    assert_true(heavy > 200 && heavy < 380);    /* 10/13 of 400 = 308 */
    router_free(r);
}

static void test_expansion_steps(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q", "x:8,y:5"),
                                       fx_queue("other", "z:1")};
    q[0].nsteps = 3;
    q[0].steps[0] = (struct router_step){.after_ms = 10000,
                                         .kind = ROUTER_STEP_LOWER_LEVEL,
                                         .skill = "x", .level = 4};
    q[0].steps[1] = (struct router_step){.after_ms = 20000,
                                         .kind = ROUTER_STEP_DROP_SKILL,
                                         .skill = "y"};
    q[0].steps[2] = (struct router_step){.after_ms = 30000,
                                         .kind = ROUTER_STEP_ADD_QUEUE,
                                         .queue = "other"};
    struct router *r = mk(q, 2, NULL);
    login(r, S(0), "low", "x:5,y:5");     /* tier 1 */
    login(r, S(0), "noy", "x:9");         /* tier 2 */
    login(r, S(0), "zed", "z:3");         /* tier 3 via ADD_QUEUE */
    router_out_clear(r);
    arrive(r, S(1), "c1", "q");
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "c1", 0));
    assert_int_equal(router_next_deadline(r), S(11));
    tick(r, S(10));
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    tick(r, S(11));
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "low");
    router_offer_accept(r, S(11), "c1", "low");
    check(r);
    router_out_clear(r);
    arrive(r, S(12), "c2", "q");
    tick(r, S(31));
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    tick(r, S(33));   /* two steps at once: level 2 -> noy */
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "noy");
    router_offer_accept(r, S(33), "c2", "noy");
    router_out_clear(r);
    arrive(r, S(40), "c3", "q");
    tick(r, S(69));
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    tick(r, S(70));
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "zed");
    router_free(r);
}

static void test_priority_and_aging(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    arrive_full(r, S(100), "old", "q", NULL, 0, 0, 0, NULL);
    arrive_full(r, S(101), "vip", "q", NULL, 0, 5, 0, NULL);   /* key 96 */
    arrive_full(r, S(102), "rich", "q", NULL, 0, 0, 1000, NULL); /* key 92 */
    arrive_full(r, S(110), "late", "q", NULL, 0, 5, 0, NULL);  /* key 105 */
    arrive_full(r, S(100), "tie", "q", NULL, 0, 0, 0, NULL);   /* FCFS */
    const struct router_event *e = ev_find(r, ROUTER_EV_QUEUED, "rich", NULL);
    assert_int_equal(e->position, 1);
    e = ev_find(r, ROUTER_EV_QUEUED, "late", NULL);
    assert_int_equal(e->position, 4);
    e = ev_find(r, ROUTER_EV_QUEUED, "tie", NULL);
    assert_int_equal(e->position, 4);
    router_out_clear(r);
    const char *order[] = {"rich", "vip", "old", "tie", "late"};
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i);
        login(r, S(200), id, "x:1");
        assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, order[i], 0), id);
    }
    router_free(r);
}

static void test_cross_queue_fairness(void **state)
{
    struct router_queue_config q[3] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "x:1"),
                                       fx_queue("q3", "x:1")};
    struct router *r = mk(q, 3, NULL);
    arrive(r, S(5), "c1", "q1");
    arrive(r, S(3), "c2", "q2");
    arrive(r, S(4), "c3", "q3");
    router_out_clear(r);
    const char *served[] = {"q1", "q2", "q3"};
    login_full(r, S(10), "a", "x:1", NULL, served, 3);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a");
    router_offer_accept(r, S(10), "c2", "a");
    router_contact_complete(r, S(11), "c2");
    check(r);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a");
    /* an agent that lists only q1 gets c1 */
    const char *only[] = {"q1"};
    login_full(r, S(12), "b", "x:1", NULL, only, 1);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "b");
    router_free(r);
}

static void test_capacity_voice_blocks(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    uint8_t cap[ROUTER_CH_COUNT] = {1, 2, 0, 0};
    login_full(r, S(1), "a", "x:1", cap, NULL, 0);
    arrive_full(r, S(2), "chat1", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    arrive_full(r, S(2), "voice", "q", NULL, ROUTER_CH_VOICE, 0, 0, NULL);
    arrive_full(r, S(2), "chat2", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    arrive_full(r, S(2), "chat3", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_non_null(ev_agent(r, ROUTER_EV_OFFER, "chat1", 0));
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "voice", 0));
    assert_non_null(ev_agent(r, ROUTER_EV_OFFER, "chat2", 0));
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "chat3", 0));  /* capacity */
    router_out_clear(r);
    router_offer_accept(r, S(3), "chat1", "a");
    router_offer_accept(r, S(3), "chat2", "a");
    router_contact_complete(r, S(4), "chat1");
    check(r);
    /* a chat slot is free, voice still blocked by chat2: chat3 goes */
    assert_non_null(ev_agent(r, ROUTER_EV_OFFER, "chat3", 0));
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "voice", 0));
    router_offer_accept(r, S(4), "chat3", "a");
    router_contact_complete(r, S(5), "chat2");
    router_contact_complete(r, S(5), "chat3");
    check(r);
    assert_non_null(ev_agent(r, ROUTER_EV_OFFER, "voice", 0));
    router_out_clear(r);
    /* and the voice call blocks chats */
    arrive_full(r, S(6), "chat4", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "chat4", 0));
    router_free(r);

    /* without the rule, both at once */
    struct router_config c = fx_config(q, 1);
    c.voice_blocks_others = false;
    r = mk(q, 1, &c);
    login_full(r, S(1), "a", "x:1", cap, NULL, 0);
    arrive_full(r, S(2), "chat1", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    arrive_full(r, S(2), "voice", "q", NULL, ROUTER_CH_VOICE, 0, 0, NULL);
    assert_non_null(ev_agent(r, ROUTER_EV_OFFER, "voice", 0));
    /* all-zero capacity means voice 1 */
    login(r, S(3), "v", "x:1");
    arrive_full(r, S(3), "chat2", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "chat2", 0), "a");
    router_free(r);
}

static void test_reject_reoffer(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(1), "a1", "x:1");
    login(r, S(2), "a2", "x:1");
    arrive(r, S(3), "c", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c", 0), "a1");
    router_out_clear(r);
    assert_int_equal(router_offer_reject(r, S(4), "c", "a2"), ROUTER_ESTATE);
    assert_int_equal(CALL(r, router_offer_reject(r, S(4), "c", "a1")), 0);
    assert_non_null(ev_find(r, ROUTER_EV_REJECTED, "c", "a1"));
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c", 0), "a2");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_offer_reject(r, S(5), "c", "a2")), 0);
    /* both excluded: waits, even though both are free */
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    assert_int_equal(contact_state(r, "c"), ROUTER_CONTACT_QUEUED);
    router_out_clear(r);
    /* a re-login is still the same agent */
    router_agent_logout(r, S(6), "a1");
    login(r, S(6), "a1", "x:1");
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    login(r, S(7), "a3", "x:1");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c", 0), "a3");
    router_free(r);
}

static void test_timeout_no_answer(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].offer_timeout_ms = 1000;
    struct router_config c = fx_config(q, 1);
    c.max_no_answer = 2;
    struct router *r = mk(q, 1, &c);
    login(r, S(1), "a1", "x:1");
    login(r, S(2), "a2", "x:1");
    arrive(r, S(3), "c1", "q");
    router_out_clear(r);
    tick(r, S(4));
    const struct router_event *e = ev_find(r, ROUTER_EV_REVOKED, "c1", "a1");
    assert_non_null(e);
    assert_int_equal(e->u.revoke, ROUTER_REVOKE_TIMEOUT);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a2");
    assert_int_equal(agent_state(r, "a1"), ROUTER_AGENT_STATE_AVAILABLE);
    router_out_clear(r);
    arrive(r, S(5), "c2", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a1");
    router_out_clear(r);
    tick(r, S(6));   /* both time out; a1 twice in a row -> away */
    e = ev_find(r, ROUTER_EV_AGENT_STATE, NULL, "a1");
    assert_non_null(e);
    assert_int_equal(e->u.agent_state, ROUTER_AGENT_STATE_AWAY);
    uint32_t h;
    struct router_agent_info ai;
    router_agent_find(r, "a1", &h);
    router_agent_info(r, h, S(6), &ai);
    assert_string_equal(ai.reason, "no-answer");
    /* c2 went to a2 (c1 excluded both and waits) */
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a2");
    assert_int_equal(contact_state(r, "c1"), ROUTER_CONTACT_QUEUED);
    router_free(r);
}

static void test_abandon(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(1), "a", "x:1");
    arrive(r, S(2), "c1", "q");
    arrive(r, S(3), "c2", "q");
    arrive(r, S(4), "c3", "q");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_contact_abandon(r, S(5), "c1")), 0);
    const struct router_event *e = router_out_get(r, 0);
    assert_int_equal(e->type, ROUTER_EV_REVOKED);
    assert_int_equal(e->u.revoke, ROUTER_REVOKE_ABANDONED);
    e = ev_find(r, ROUTER_EV_CONTACT_GONE, "c1", NULL);
    assert_int_equal(e->u.gone, ROUTER_CONTACT_ABANDONED);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_contact_abandon(r, S(6), "c3")), 0);
    assert_non_null(ev_find(r, ROUTER_EV_CONTACT_GONE, "c3", NULL));
    router_offer_accept(r, S(6), "c2", "a");
    assert_int_equal(router_contact_abandon(r, S(6), "c2"), ROUTER_ESTATE);
    struct router_queue_stats st;
    router_queue_stats(r, 0, S(6), &st);
    assert_int_equal(st.abandoned, 2);
    assert_int_equal(st.answered, 1);
    assert_int_equal(st.answered_in_sl, 1);
    assert_true(st.service_level > 0.33 && st.service_level < 0.34);
    /* the recent level (blending's, engine/slwin.h) counts the same
     * contacts while they are in its window, and none after it: a
     * queue nobody left lately meets its target */
    assert_int_equal(st.recent_done, 3);
    assert_true(st.recent_service_level == st.service_level);
    router_queue_stats(r, 0, S(6 + 16 * 60), &st);
    assert_int_equal(st.recent_done, 0);
    assert_true(st.recent_service_level == 1.0);
    assert_true(st.service_level > 0.33 && st.service_level < 0.34);
    router_free(r);
}

/* router_contact_withdraw (callbacks): a queued or assigned contact
 * leaves without being counted; an assigned one's agent is free at once
 * (no wrap-up); an offered one cannot; with `abandoned` it counts so. */
static void test_withdraw(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    q[0].wrapup_ms = 30000;
    struct router *r = mk(q, 1, NULL);
    struct router_queue_stats st;
    const struct router_event *e;
    uint32_t h;
    login(r, S(1), "a", "x:1");
    arrive(r, S(2), "c1", "q");
    arrive(r, S(3), "c2", "q");
    arrive(r, S(4), "c3", "q");
    /* c1 offered: cannot */
    assert_int_equal(router_contact_withdraw(r, S(5), "c1", false),
                     ROUTER_ESTATE);
    /* c2 queued: leaves, not counted */
    router_out_clear(r);
    assert_int_equal(CALL(r, router_contact_withdraw(r, S(5), "c2", false)),
                     0);
    e = ev_find(r, ROUTER_EV_CONTACT_GONE, "c2", NULL);
    assert_non_null(e);
    assert_int_equal(e->u.gone, ROUTER_CONTACT_QUEUED);
    router_out_clear(r);
    assert_int_equal(router_contact_find(r, "c2", &h), ROUTER_ENOCONTACT);
    /* c1 assigned: leaves, the agent is available at once and takes c3 */
    router_offer_accept(r, S(6), "c1", "a");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_contact_withdraw(r, S(7), "c1", false)),
                     0);
    assert_int_equal(agent_state(r, "a"), ROUTER_AGENT_STATE_AVAILABLE);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a");
    router_queue_stats(r, 0, S(7), &st);
    assert_int_equal(st.abandoned, 0);
    assert_int_equal(st.waiting, 1);      /* c3, offered */
    /* given up: counted abandoned */
    router_offer_accept(r, S(8), "c3", "a");
    assert_int_equal(CALL(r, router_contact_withdraw(r, S(9), "c3", true)),
                     0);
    e = ev_find(r, ROUTER_EV_CONTACT_GONE, "c3", NULL);
    assert_int_equal(e->u.gone, ROUTER_CONTACT_ABANDONED);
    router_queue_stats(r, 0, S(9), &st);
    assert_int_equal(st.abandoned, 1);
    assert_int_equal(router_contact_withdraw(r, S(9), "nope", false),
                     ROUTER_ENOCONTACT);
    router_free(r);
}

/* A queued contact withdrawn as abandoned (a callback whose last dial
 * went unanswered) counts in the live abandonment rate of the estimated
 * wait like an abandon: the same scenario as test_tags_and_stats's
 * estimate, with c2 withdrawn instead of abandoned, gives the same 15 s
 * (without it, 2 x 10 s). */
static void test_withdraw_estimate(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(0), "a", "x:1");
    arrive(r, S(0), "c1", "q");
    arrive(r, S(0), "c2", "q");
    router_offer_accept(r, S(0), "c1", "a");
    assert_int_equal(router_contact_withdraw(r, S(10), "c2", true), 0);
    router_contact_complete(r, S(10), "c1");
    router_agent_set_state(r, S(10), "a", ROUTER_AGENT_AWAY, "lunch");
    check(r);
    arrive(r, S(20), "c3", "q");
    arrive(r, S(20), "c4", "q");
    assert_int_equal(router_estimated_wait(r, 0, S(20)), 15000);
    router_free(r);
}

static void test_transfer(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "y:1")};
    q[0].wrapup_ms = 0;
    struct router *r = mk(q, 2, NULL);
    login(r, S(1), "a", "x:1");
    arrive(r, S(10), "c", "q1");
    router_offer_accept(r, S(11), "c", "a");
    router_out_clear(r);
    assert_int_equal(router_contact_transfer(r, S(20), "c", 1, "a"),
                     ROUTER_EINVAL);
    assert_int_equal(router_contact_transfer(r, S(20), "c", 5, NULL),
                     ROUTER_ENOQUEUE);
    assert_int_equal(CALL(r, router_contact_transfer(r, S(20), "c", 1, NULL)),
                     0);
    const struct router_event *e = ev_find(r, ROUTER_EV_MOVED, "c", NULL);
    assert_int_equal(e->queue, 1);
    assert_non_null(ev_find(r, ROUTER_EV_QUEUED, "c", NULL));
    uint32_t h;
    struct router_contact_info ci;
    router_contact_find(r, "c", &h);
    router_contact_info(r, h, &ci);
    assert_int_equal(ci.arrived_at, S(10));
    assert_int_equal(ci.queued_at, S(20));
    assert_int_equal(ci.queue, 1);
    router_out_clear(r);
    login(r, S(40), "b", "y:1");
    router_offer_accept(r, S(40), "c", "b");
    check(r);
    struct router_queue_stats st;
    router_queue_stats(r, 1, S(40), &st);
    assert_int_equal(st.answered, 1);
    assert_int_equal(st.answered_in_sl, 0);   /* 30 s since arrival */
    assert_int_equal(st.asa_ms, 30000);
    router_out_clear(r);
    /* to a named agent: waits for that agent only */
    login(r, S(41), "z", "y:1");
    assert_int_equal(CALL(r, router_contact_transfer(r, S(42), "c", -1, "a")),
                     0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c", 0), "a");
    assert_int_equal(router_contact_transfer(r, S(42), "c", -1, "z"),
                     ROUTER_ESTATE);
    router_free(r);
}

static void test_wrapup_across_queues(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "x:1")};
    q[0].wrapup_ms = 3000;
    struct router *r = mk(q, 2, NULL);
    login(r, S(1), "a", "x:1");
    arrive(r, S(2), "c1", "q1");
    router_offer_accept(r, S(2), "c1", "a");
    router_contact_complete(r, S(5), "c1");
    check(r);
    router_out_clear(r);
    arrive(r, S(6), "c2", "q2");
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    struct router_queue_stats st;
    router_queue_stats(r, 1, S(6), &st);
    assert_int_equal(st.agents_available, 0);
    assert_int_equal(st.waiting, 1);
    assert_int_equal(st.longest_wait_ms, 0);
    router_queue_stats(r, 1, S(7), &st);
    assert_int_equal(st.longest_wait_ms, 1000);
    tick(r, S(8));
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a");
    /* WRAPUP_DONE ends wrap-up early */
    router_offer_accept(r, S(8), "c2", "a");
    router_contact_complete(r, S(9), "c2");   /* q2: no wrap-up */
    assert_int_equal(agent_state(r, "a"), ROUTER_AGENT_STATE_AVAILABLE);
    assert_int_equal(router_agent_set_state(r, S(9), "a",
                                            ROUTER_AGENT_WRAPUP_DONE, NULL),
                     ROUTER_ESTATE);
    arrive(r, S(10), "c3", "q1");
    router_offer_accept(r, S(10), "c3", "a");
    router_contact_complete(r, S(11), "c3");
    assert_int_equal(agent_state(r, "a"), ROUTER_AGENT_STATE_WRAPUP);
    assert_int_equal(CALL(r, router_agent_set_state(
                                 r, S(12), "a", ROUTER_AGENT_WRAPUP_DONE, NULL)),
                     0);
    assert_int_equal(agent_state(r, "a"), ROUTER_AGENT_STATE_AVAILABLE);
    assert_int_equal(router_next_deadline(r), UINT64_MAX);
    router_free(r);
}

static void test_preferred_agent(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router_config c = fx_config(q, 1);
    c.preferred_wait_ms = 5000;
    struct router *r = mk(q, 1, &c);
    login(r, S(1), "pref", "x:1");
    login(r, S(2), "other", "x:1");
    arrive(r, S(3), "busy", "q");        /* takes pref */
    router_offer_accept(r, S(3), "busy", "pref");
    router_out_clear(r);
    arrive_full(r, S(4), "c1", "q", NULL, 0, 0, 0, "pref");
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);   /* other is free */
    router_contact_complete(r, S(6), "busy");
    check(r);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "pref");
    router_offer_accept(r, S(6), "c1", "pref");
    router_out_clear(r);
    /* giving up after the wait */
    arrive_full(r, S(10), "c2", "q", NULL, 0, 0, 0, "pref");
    assert_int_equal(router_next_deadline(r), S(15));
    tick(r, S(14));
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    tick(r, S(15));
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "other");
    router_out_clear(r);
    /* unknown / logged-out preferred agent: no wait */
    login(r, S(16), "third", "x:1");
    arrive_full(r, S(16), "c3", "q", NULL, 0, 0, 0, "nobody");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "third");
    router_free(r);
}

static void test_overflow(void **state)
{
    struct router_queue_config q[3] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "y:1"),
                                       fx_queue("q3", "x:1")};
    q[0].max_len = 2;
    snprintf(q[0].overflow, ROUTER_ID_MAX, "q2");
    q[1].max_wait_ms = 30000;
    snprintf(q[1].overflow, ROUTER_ID_MAX, "q3");
    q[2].max_len = 1;
    struct router *r = mk(q, 3, NULL);
    assert_int_equal(arrive(r, S(1), "c1", "q1"), 0);
    assert_int_equal(arrive(r, S(1), "c2", "q1"), 0);
    router_out_clear(r);
    assert_int_equal(arrive(r, S(2), "c3", "q1"), 0);
    const struct router_event *e = ev_find(r, ROUTER_EV_QUEUED, "c3", NULL);
    assert_int_equal(e->queue, 1);
    assert_int_equal(router_next_deadline(r), S(32));
    router_out_clear(r);
    tick(r, S(32));
    e = ev_find(r, ROUTER_EV_MOVED, "c3", NULL);
    assert_non_null(e);
    assert_int_equal(e->queue, 2);
    login(r, S(33), "a", "x:1");
    router_out_clear(r);
    /* q3 full (c3 offered counts as waiting) and no overflow */
    assert_int_equal(arrive(r, S(34), "c4", "q3"), ROUTER_EFULL);
    assert_int_equal(router_out_count(r), 0);
    assert_int_equal(router_contact_find(r, "c4", NULL), ROUTER_ENOCONTACT);
    router_free(r);
}

/* router_queue_set_limits (reload): the new max_wait and overflow reach
 * the contacts already waiting (in the queue and in a queue derived from
 * it), counted from when they entered; a new offer timeout applies to the
 * next offer, not to one out; a bad overflow changes nothing. */
static void test_set_limits(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "y:1")};
    struct router *r = mk(q, 2, NULL);
    struct router_queue_config nq = q[0];
    assert_int_equal(arrive(r, S(1), "c1", "q1"), 0);
    assert_int_equal(arrive_full(r, S(2), "c2", "q1", "es:1", ROUTER_CH_VOICE,
                                 0, 0, NULL), 0);
    router_out_clear(r);
    assert_int_equal(router_next_deadline(r), UINT64_MAX);

    /* refused: unknown overflow, overflow to itself, bad index */
    snprintf(nq.overflow, ROUTER_ID_MAX, "nope");
    nq.max_wait_ms = 10000;
    assert_int_equal(router_queue_set_limits(r, 0, &nq), ROUTER_ENOQUEUE);
    snprintf(nq.overflow, ROUTER_ID_MAX, "q1");
    assert_int_equal(router_queue_set_limits(r, 0, &nq), ROUTER_EINVAL);
    assert_int_equal(router_queue_set_limits(r, 2, &nq), ROUTER_EINVAL);
    check(r);
    assert_int_equal(router_next_deadline(r), UINT64_MAX);

    snprintf(nq.overflow, ROUTER_ID_MAX, "q2");
    nq.offer_timeout_ms = 5000;
    assert_int_equal(router_queue_set_limits(r, 0, &nq), 0);
    check(r);
    assert_int_equal(router_next_deadline(r), S(11));
    tick(r, S(11));
    assert_int_equal(ev_find(r, ROUTER_EV_MOVED, "c1", NULL)->queue, 1);
    assert_null(ev_find(r, ROUTER_EV_MOVED, "c2", NULL));
    router_out_clear(r);
    assert_int_equal(router_next_deadline(r), S(12));
    tick(r, S(12));
    assert_int_equal(ev_find(r, ROUTER_EV_MOVED, "c2", NULL)->queue, 1);
    router_out_clear(r);

    /* the offer timeout: 5 s for the next offer */
    login(r, S(20), "a", "x:1");
    router_out_clear(r);
    assert_int_equal(arrive(r, S(21), "c3", "q1"), 0);
    assert_int_equal(ev_find(r, ROUTER_EV_OFFER, "c3", NULL)->deadline,
                     S(26));
    router_out_clear(r);
    /* ... and an offer out keeps its deadline through another change */
    nq.offer_timeout_ms = 60000;
    assert_int_equal(router_queue_set_limits(r, 0, &nq), 0);
    check(r);
    tick(r, S(26));
    assert_non_null(ev_find(r, ROUTER_EV_REVOKED, "c3", NULL));
    router_free(r);
}

/* Timers in fifos (router.c, "Timers"): reloads that shorten and
 * lengthen max_wait re-arm waiting contacts out of their fifo's order, a
 * restore arms one with an old arrival, two contacts share a due time;
 * they still fire one by one in (due, arrival) order, each at its due,
 * and router_check() (the fifos' order and links) holds after every
 * step. */
static void test_timer_fifo_order(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q1", "x:1"),
                                       fx_queue("q2", "y:1")};
    q[0].max_wait_ms = 60000;
    snprintf(q[0].overflow, ROUTER_ID_MAX, "q2");
    struct router *r = mk(q, 2, NULL);
    struct router_queue_config nq = q[0];
    assert_int_equal(arrive(r, S(1), "c1", "q1"), 0);
    assert_int_equal(arrive(r, S(2), "c2", "q1"), 0);
    assert_int_equal(arrive(r, S(3), "c3a", "q1"), 0);
    assert_int_equal(arrive(r, S(3), "c3b", "q1"), 0);
    assert_int_equal(arrive(r, S(4), "c4", "q1"), 0);
    assert_int_equal(router_next_deadline(r), S(61));
    nq.max_wait_ms = 30000;
    assert_int_equal(router_queue_set_limits(r, 0, &nq), 0);
    check(r);
    assert_int_equal(router_next_deadline(r), S(31));
    assert_int_equal(arrive(r, S(5), "c5", "q1"), 0);
    struct router_contact_spec s = {.id = "r0", .queue = "q1"};
    uint32_t h;
    assert_int_equal(router_contact_restore(r, S(5), &s, S(0), NULL, 0, &h),
                     0);
    check(r);
    assert_int_equal(router_next_deadline(r), S(5));
    tick(r, S(5));
    assert_int_equal(router_next_deadline(r), S(30));
    nq.max_wait_ms = 40000;
    assert_int_equal(router_queue_set_limits(r, 0, &nq), 0);
    check(r);
    assert_int_equal(router_next_deadline(r), S(40));
    assert_int_equal(arrive(r, S(6), "c6", "q1"), 0);
    nq.max_wait_ms = 30000;
    assert_int_equal(router_queue_set_limits(r, 0, &nq), 0);
    check(r);
    assert_int_equal(router_next_deadline(r), S(30));
    char got[256] = "";
    size_t len = 0;
    for (unsigned sec = 7; sec <= 70; sec++) {
        router_out_clear(r);
        tick(r, S(sec));
        for (size_t i = 0; i < router_out_count(r); i++) {
            const struct router_event *e = router_out_get(r, i);
            if (e->type == ROUTER_EV_MOVED)
                len += (size_t)snprintf(got + len, sizeof(got) - len,
                                        "%s@%u ",
                                        router_contact_id(r, e->contact),
                                        sec);
        }
    }
    assert_string_equal(got, "r0@30 c1@31 c2@32 c3a@33 c3b@33 c4@34 "
                             "c5@35 c6@36 ");
    assert_int_equal(router_next_deadline(r), UINT64_MAX);
    router_free(r);
}

/* router_queue_set_step_times (reload): a step brought earlier widens a
 * contact that waited past it at the next tick (and it is offered); one
 * put later narrows it back; a queue derived from it follows (c2's
 * timer moves too, else the next deadline would stay at 62 s); a change in more than the times (another
 * level, another count) is refused and changes nothing. */
static void test_set_step_times(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q1", "x:5")};
    q[0].nsteps = 1;
    q[0].steps[0] = (struct router_step){.after_ms = 60000,
                                         .kind = ROUTER_STEP_LOWER_LEVEL,
                                         .skill = "x", .level = 1};
    struct router *r = mk(q, 1, NULL);
    struct router_queue_config nq = q[0];
    login(r, S(1), "a", "x:2");
    assert_int_equal(arrive(r, S(2), "c1", "q1"), 0);
    /* c2 waits in a queue derived from q1 (es: nobody has it) */
    assert_int_equal(arrive_full(r, S(2), "c2", "q1", "es:1", ROUTER_CH_VOICE,
                                 0, 0, NULL), 0);
    assert_null(ev_find(r, ROUTER_EV_OFFER, "c1", NULL));
    router_out_clear(r);

    nq.steps[0].level = 2;
    assert_int_equal(router_queue_set_step_times(r, S(3), 0, &nq),
                     ROUTER_EINVAL);
    nq.steps[0].level = 1;
    nq.nsteps = 0;
    assert_int_equal(router_queue_set_step_times(r, S(3), 0, &nq),
                     ROUTER_EINVAL);
    assert_int_equal(router_queue_set_step_times(r, S(3), 1, &q[0]),
                     ROUTER_EINVAL);
    check(r);
    assert_int_equal(router_next_deadline(r), S(62));

    /* later first: c1 (2 s waited) stays narrow, its step at 2 + 90 s */
    nq.nsteps = 1;
    nq.steps[0].after_ms = 90000;
    assert_int_equal(router_queue_set_step_times(r, S(4), 0, &nq), 0);
    check(r);
    tick(r, S(4));
    assert_null(ev_find(r, ROUTER_EV_OFFER, "c1", NULL));
    assert_int_equal(router_next_deadline(r), S(92));
    router_out_clear(r);

    /* then 5 s: c1 has waited 8 s, widens and is offered at once */
    nq.steps[0].after_ms = 5000;
    assert_int_equal(router_queue_set_step_times(r, S(10), 0, &nq), 0);
    check(r);
    assert_true(router_next_deadline(r) <= S(10));
    tick(r, S(10));
    assert_non_null(ev_find(r, ROUTER_EV_OFFER, "c1", "a"));
    check(r);
    router_free(r);
}

static void test_logout(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    uint8_t cap[ROUTER_CH_COUNT] = {0, 2, 0, 0};
    login_full(r, S(1), "a", "x:1", cap, NULL, 0);
    login_full(r, S(2), "b", "x:1", cap, NULL, 0);
    /* longest idle does not move on an offer: a fills first */
    arrive_full(r, S(3), "c1", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    arrive_full(r, S(3), "c2", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    arrive_full(r, S(3), "c3", "q", NULL, ROUTER_CH_CHAT, 0, 0, NULL);
    router_offer_accept(r, S(3), "c1", "a");
    check(r);
    /* a: c1 assigned, c2 offered; b: c3 offered */
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "b");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_agent_logout(r, S(4), "a")), 0);
    const struct router_event *e = ev_find(r, ROUTER_EV_REVOKED, "c2", "a");
    assert_int_equal(e->u.revoke, ROUTER_REVOKE_AGENT_LOGOUT);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "b");
    assert_int_equal(agent_state(r, "a"), ROUTER_AGENT_STATE_LOGGED_OUT);
    assert_int_equal(router_agent_logout(r, S(4), "a"), ROUTER_ENOAGENT);
    assert_int_equal(router_agent_set_state(r, S(4), "a",
                                            ROUTER_AGENT_AVAILABLE, NULL),
                     ROUTER_ENOAGENT);
    assert_int_equal(router_agent_count(r), 2);
    router_out_clear(r);
    assert_int_equal(CALL(r, router_contact_complete(r, S(5), "c1")), 0);
    assert_int_equal(router_agent_count(r), 1);
    assert_int_equal(router_agent_find(r, "a", NULL), ROUTER_ENOAGENT);
    router_out_clear(r);
    assert_int_equal(login_full(r, S(6), "a", "x:1", cap, NULL, 0), 0);
    router_free(r);
}

static void test_skills_contact(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    const char *skills[] = {"fr", "billing"};
    struct router_config c = fx_config(q, 1);
    c.skills = skills;
    c.nskills = 2;
    struct router *r = mk(q, 1, &c);
    const char *only[] = {"q"};
    login_full(r, S(1), "listed", "fr:9,billing:9", NULL, only, 1);
    router_offer_accept(r, S(1), "nothing", "listed");
    assert_int_equal(arrive_full(r, S(2), "c0", NULL, "klingon:1", 0, 0, 0,
                                 NULL),
                     ROUTER_ENOSKILL);
    assert_int_equal(arrive_full(r, S(2), "c1", NULL, "fr:5,billing:3", 0, 0, 0,
                                 NULL),
                     0);
    /* virtual queues are open to any agent with the skills */
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "listed");
    assert_int_equal(ev_find(r, ROUTER_EV_QUEUED, "c1", NULL)->queue, -1);
    assert_int_equal(router_queue_count(r), 1);
    login(r, S(3), "weak", "fr:4,billing:9");
    router_out_clear(r);
    assert_int_equal(arrive_full(r, S(4), "c2", NULL, "billing:3,fr:5", 0, 0, 0,
                                 NULL),
                     0);
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    login(r, S(5), "good", "fr:5,billing:3");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "good");
    router_free(r);
}

/* Language / product skills with a queue (what dispatch.c sends): only
 * agents of the queue who also hold the extra skills; an unknown language
 * waits instead of failing; events and statistics are the base queue's;
 * overflow keeps the extra skills. */
static void test_queue_extra_skills(void **state)
{
    struct router_queue_config q[2] = {fx_queue("support", "x:3"),
                                       fx_queue("spill", "x:1")};
    q[0].max_len = 2;
    snprintf(q[0].overflow, ROUTER_ID_MAX, "%s", "spill");
    struct router *r = mk(q, 2, NULL);
    const char *only_spill[] = {"spill"};
    login(r, S(1), "en", "x:9,lang-en:9");
    login(r, S(2), "fr-weak", "x:9,lang-fr:2");
    login_full(r, S(3), "fr-other", "x:9,lang-fr:9", NULL, only_spill, 1);
    router_out_clear(r);
    /* fr at 3: not "en" (longest idle), not the weak speaker, not an agent
     * outside the queue */
    assert_int_equal(arrive_full(r, S(4), "c1", "support", "lang-fr:3",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    const struct router_event *e = ev_find(r, ROUTER_EV_QUEUED, "c1", NULL);
    assert_non_null(e);
    assert_int_equal(e->queue, router_queue_find(r, "support"));
    assert_int_equal(e->position, 1);
    assert_int_equal(router_queue_count(r), 2);
    /* an unknown language is not an error: it waits */
    assert_int_equal(arrive_full(r, S(5), "c2", "support", "lang-tlh:1",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    e = ev_find(r, ROUTER_EV_QUEUED, "c2", NULL);
    assert_int_equal(e->position, 2);       /* behind c1 in "support" */
    struct router_queue_stats st;
    router_queue_stats(r, 0, S(5), &st);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.offered, 2);
    /* max_len 2 reached: a plain contact overflows to "spill" and goes to
     * the free agent there */
    router_out_clear(r);
    assert_int_equal(arrive(r, S(6), "c3", "support"), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "en");
    assert_int_equal(ev_find(r, ROUTER_EV_OFFER, "c3", NULL)->queue, 1);
    /* so does the next French contact, keeping its language: "fr-other"
     * serves spill */
    router_out_clear(r);
    assert_int_equal(arrive_full(r, S(7), "c4", "support", "lang-fr:3",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c4", 0), "fr-other");
    assert_int_equal(ev_find(r, ROUTER_EV_OFFER, "c4", NULL)->queue,
                     router_queue_find(r, "spill"));
    /* a French speaker of the queue logs in: c1 is offered to it */
    router_out_clear(r);
    login(r, S(8), "fr", "x:5,lang-fr:4");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "fr");
    assert_int_equal(CALL(r, router_offer_accept(r, S(9), "c1", "fr")), 0);
    router_queue_stats(r, 0, S(9), &st);
    assert_int_equal(st.answered, 1);
    assert_int_equal(st.waiting, 1);        /* c2 */
    /* bad extra skills are still bad input */
    assert_int_equal(arrive_full(r, S(10), "c5", "support", "lang-fr:0",
                                 ROUTER_CH_VOICE, 0, 0, NULL), ROUTER_EINVAL);
    assert_int_equal(arrive_full(r, S(10), "c5", "support",
                                 "lang-fr:1,lang-fr:2", ROUTER_CH_VOICE, 0, 0,
                                 NULL), ROUTER_EINVAL);
    /* the contact's info names the base queue */
    uint32_t h;
    struct router_contact_info ci;
    assert_int_equal(router_contact_find(r, "c2", &h), 0);
    router_contact_info(r, h, &ci);
    assert_int_equal(ci.queue, 0);
    router_free(r);
}

static void test_duplicates_and_errors(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    assert_int_equal(arrive(r, S(1), "c", "q"), 0);
    uint32_t h1, h2;
    router_contact_find(r, "c", &h1);
    struct router_contact_spec s = {.id = "c", .queue = "q"};
    assert_int_equal(router_contact_arrive(r, S(2), &s, 0, &h2),
                     ROUTER_EDUPLICATE);
    assert_int_equal(h1, h2);
    assert_int_equal(arrive(r, S(1), "d", "nope"), ROUTER_ENOQUEUE);
    assert_int_equal(arrive(r, S(1), "", "q"), ROUTER_EINVAL);
    assert_int_equal(arrive_full(r, S(1), "e", "q", NULL, 0, 101, 0, NULL),
                     ROUTER_EINVAL);
    assert_int_equal(arrive_full(r, S(1), "e", NULL, NULL, 0, 0, 0, NULL),
                     ROUTER_EINVAL);
    assert_int_equal(login(r, S(1), "a", "x:1"), 0);
    assert_int_equal(login(r, S(1), "a", "x:1"), ROUTER_EEXIST);
    assert_int_equal(login(r, S(1), "b", "x:11"), ROUTER_EINVAL);
    const char *bad[] = {"nope"};
    assert_int_equal(login_full(r, S(1), "b", "x:1", NULL, bad, 1),
                     ROUTER_ENOQUEUE);
    assert_int_equal(router_contact_complete(r, S(1), "zz"), ROUTER_ENOCONTACT);
    assert_int_equal(router_contact_abandon(r, S(1), "zz"), ROUTER_ENOCONTACT);
    assert_int_equal(router_offer_accept(r, S(1), "c", "zz"), ROUTER_ENOAGENT);
    assert_int_equal(router_offer_accept(r, S(1), "zz", "a"), ROUTER_ENOCONTACT);
    assert_int_equal(router_offer_reject(r, S(1), "zz", "a"), ROUTER_ENOCONTACT);
    assert_int_equal(router_agent_logout(r, S(1), "zz"), ROUTER_ENOAGENT);
    assert_int_equal(router_agent_set_state(r, S(1), "zz",
                                            ROUTER_AGENT_AWAY, "x"),
                     ROUTER_ENOAGENT);
    assert_int_equal(router_contact_transfer(r, S(1), "zz", 0, NULL),
                     ROUTER_ENOCONTACT);
    assert_int_equal(router_contact_transfer(r, S(1), "c", -1, "zz"),
                     ROUTER_ENOAGENT);
    assert_int_equal(router_contact_complete(r, S(1), "c"), ROUTER_ESTATE);
    assert_string_equal(ccr_strerror(ROUTER_EFULL), "queue full");
    check(r);
    router_free(r);

    /* bad configurations */
    struct router_queue_config bq[1] = {fx_queue("q", "x:1")};
    snprintf(bq[0].overflow, ROUTER_ID_MAX, "missing");
    struct router_config c = fx_config(bq, 1);
    const char *err = NULL;
    assert_null(router_new(&c, 1, &err));
    assert_non_null(err);
    bq[0].overflow[0] = 0;
    bq[0].nsteps = 1;
    bq[0].steps[0] = (struct router_step){.after_ms = 1,
                                          .kind = ROUTER_STEP_DROP_SKILL,
                                          .skill = "y"};
    assert_null(router_new(&c, 1, &err));
}

static void test_restore(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(100), "a", "x:1");
    login(r, S(100), "b", "x:1");
    struct router_contact_spec s = {.id = "old", .queue = "q"};
    uint32_t h;
    router_out_clear(r);
    assert_int_equal(router_contact_restore(r, S(100), &s, S(50), "a", 3, &h),
                     0);
    check(r);
    assert_int_equal(router_out_count(r), 0);
    assert_int_equal(router_next_deadline(r), S(100));
    tick(r, S(100));
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "old", 0), "b");
    struct router_contact_info ci;
    router_contact_info(r, h, &ci);
    assert_int_equal(ci.arrived_at, S(50));
    assert_int_equal(ci.tag, 3);
    s.id = "busy";
    s.channel = ROUTER_CH_VOICE;
    assert_int_equal(router_contact_restore_assigned(r, S(100), &s, S(60), "a",
                                                     4, &h),
                     0);
    check(r);
    router_contact_info(r, h, &ci);
    assert_int_equal(ci.state, ROUTER_CONTACT_ASSIGNED);
    assert_int_equal(router_contact_restore_assigned(r, S(100), &s, S(60), "b",
                                                     4, &h),
                     ROUTER_EDUPLICATE);
    s.id = "more";
    assert_int_equal(router_contact_restore_assigned(r, S(100), &s, S(60), "a",
                                                     4, &h),
                     ROUTER_ESTATE);
    router_out_clear(r);
    router_contact_complete(r, S(101), "busy");
    check(r);
    assert_non_null(ev_find(r, ROUTER_EV_CONTACT_GONE, "busy", NULL));
    router_free(r);
}

static void test_tags_and_stats(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(0), "a", "x:1");            /* tag 9 */
    arrive(r, S(0), "c1", "q");            /* tag 7 */
    arrive(r, S(0), "c2", "q");
    uint32_t h;
    router_contact_find(r, "c2", &h);
    assert_int_equal(router_contact_tag(r, h), 7);
    router_agent_find(r, "a", &h);
    assert_int_equal(router_agent_tag(r, h), 9);
    assert_int_equal(router_contact_count(r), 2);
    router_offer_accept(r, S(0), "c1", "a");
    struct router_agent_info ai;
    router_agent_info(r, h, S(10), &ai);
    assert_true(ai.occupancy > 0.99);
    assert_int_equal(ai.busy[0], 1);
    router_contact_complete(r, S(10), "c1");
    check(r);
    router_contact_abandon(r, S(10), "c2");
    check(r);
    router_agent_info(r, h, S(20), &ai);
    assert_true(ai.occupancy > 0.49 && ai.occupancy < 0.51);
    /* estimate: 2 waiting, nobody available, 1 staffed agent, AHT 10 s,
     * one abandonment in 10 s waited (c1 0 s, c2 10 s): theta 0.1/s, so
     * 1 / 0.1 + 1 / (0.1 + 0.1) = 15 s (engine/waitest.h) */
    router_agent_set_state(r, S(20), "a", ROUTER_AGENT_AWAY, "lunch");
    arrive(r, S(20), "c3", "q");
    arrive(r, S(20), "c4", "q");
    struct router_queue_stats st;
    router_queue_stats(r, 0, S(20), &st);
    assert_int_equal(st.aht_ms, 10000);
    assert_int_equal(st.agents_available, 0);
    assert_int_equal(router_estimated_wait(r, 0, S(20)), 15000);
    router_agent_info(r, h, S(20), &ai);
    assert_int_equal(ai.state, ROUTER_AGENT_STATE_AWAY);
    assert_string_equal(ai.reason, "lunch");
    router_free(r);
}

/* ---- protocol semantics: what the router reports ---- */

/* A reject is an answer: it resets the consecutive no-answer count, so
 * timeout, reject, timeout does not reach max_no_answer = 2. */
static void test_reject_resets_no_answer(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router_config c = fx_config(q, 1);
    c.max_no_answer = 2;
    struct router *r = mk(q, 1, &c);
    login(r, S(0), "a1", "x:1");
    arrive(r, S(0), "c1", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    router_out_clear(r);
    tick(r, S(10));                                  /* no answer: 1 */
    assert_non_null(ev_find(r, ROUTER_EV_REVOKED, "c1", "a1"));
    assert_int_equal(agent_state(r, "a1"), ROUTER_AGENT_STATE_AVAILABLE);
    router_out_clear(r);
    arrive(r, S(11), "c2", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a1");
    assert_int_equal(CALL(r, router_offer_reject(r, S(12), "c2", "a1")), 0);
    router_out_clear(r);
    arrive(r, S(13), "c3", "q");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "a1");
    router_out_clear(r);
    tick(r, S(23));                                  /* no answer: 1 again */
    assert_non_null(ev_find(r, ROUTER_EV_REVOKED, "c3", "a1"));
    assert_null(ev_find(r, ROUTER_EV_AGENT_STATE, NULL, "a1"));
    assert_int_equal(agent_state(r, "a1"), ROUTER_AGENT_STATE_AVAILABLE);
    router_out_clear(r);
    /* two timeouts in a row still do */
    arrive(r, S(24), "c4", "q");
    router_out_clear(r);
    tick(r, S(34));
    const struct router_event *e = ev_find(r, ROUTER_EV_AGENT_STATE, NULL,
                                           "a1");
    assert_non_null(e);
    assert_int_equal(e->u.agent_state, ROUTER_AGENT_STATE_AWAY);
    router_free(r);
}

/* A transfer keeps the arrival time: the target queue's waiting order and
 * longest wait count from it. */
static void test_transfer_keeps_arrival(void **state)
{
    struct router_queue_config q[2] = {fx_queue("q0", "x:1"),
                                       fx_queue("q1", "y:1")};
    struct router *r = mk(q, 2, NULL);
    arrive(r, S(0), "c1", "q0");
    arrive(r, S(20), "c2", "q1");
    assert_int_equal(CALL(r, router_contact_transfer(r, S(30), "c1", 1,
                                                     NULL)), 0);
    struct router_queue_stats st;
    router_queue_stats(r, 1, S(40), &st);
    assert_int_equal(st.waiting, 2);
    assert_int_equal(st.longest_wait_ms, 40000);     /* c1, from 0 s */
    router_queue_stats(r, 0, S(40), &st);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.longest_wait_ms, 0);
    uint32_t h;
    struct router_contact_info ci;
    assert_int_equal(router_contact_find(r, "c1", &h), 0);
    router_contact_info(r, h, &ci);
    assert_int_equal(ci.arrived_at, S(0));
    router_free(r);
}

/* The only QUEUED event in the output, which must be about `cid` with a
 * 1-based position. */
static const struct router_event *one_queued(struct router *r, const char *cid)
{
    assert_int_equal(ev_count(r, ROUTER_EV_QUEUED), 1);
    const struct router_event *e = ev_find(r, ROUTER_EV_QUEUED, cid, NULL);
    assert_non_null(e);
    assert_true(e->position >= 1);
    return e;
}

/* Every time a contact waits again, exactly one QUEUED event: expansion
 * step, rejected offer, expired offer, revoke on logout, overflow,
 * transfer. */
static void test_queued_once_per_wait(void **state)
{
    struct router_queue_config q[3] = {fx_queue("main", "x:5"),
                                       fx_queue("spill", "x:1"),
                                       fx_queue("other", "y:1")};
    q[0].nsteps = 1;
    q[0].steps[0] = (struct router_step){.after_ms = 5000,
                                         .kind = ROUTER_STEP_LOWER_LEVEL,
                                         .skill = "x", .level = 1};
    q[0].max_wait_ms = 60000;
    snprintf(q[0].overflow, ROUTER_ID_MAX, "spill");
    struct router *r = mk(q, 3, NULL);
    arrive(r, S(0), "c0", "other");                  /* ahead of nobody */
    arrive(r, S(0), "c1", "main");
    router_out_clear(r);
    tick(r, S(5));                                   /* expansion step */
    assert_int_equal(one_queued(r, "c1")->position, 1);
    router_out_clear(r);
    login(r, S(6), "a1", "x:1");                     /* tier 1 */
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_offer_reject(r, S(7), "c1", "a1")), 0);
    assert_int_equal(one_queued(r, "c1")->position, 1);   /* rejected */
    router_out_clear(r);
    login(r, S(8), "a2", "x:1");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a2");
    router_out_clear(r);
    tick(r, S(18));                                  /* expired */
    assert_non_null(ev_find(r, ROUTER_EV_REVOKED, "c1", "a2"));
    one_queued(r, "c1");
    router_out_clear(r);
    login(r, S(19), "a3", "x:1");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a3");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_agent_logout(r, S(20), "a3")), 0);
    const struct router_event *e = ev_find(r, ROUTER_EV_REVOKED, "c1", "a3");
    assert_non_null(e);
    assert_int_equal(e->u.revoke, ROUTER_REVOKE_AGENT_LOGOUT);
    one_queued(r, "c1");                             /* revoked */
    router_out_clear(r);
    tick(r, S(60));                                  /* overflow */
    assert_int_equal(ev_count(r, ROUTER_EV_MOVED), 1);
    e = one_queued(r, "c1");
    assert_int_equal(e->queue, 1);
    router_out_clear(r);
    assert_int_equal(CALL(r, router_contact_transfer(r, S(61), "c1", 2,
                                                     NULL)), 0);
    e = one_queued(r, "c1");                         /* transfer */
    assert_int_equal(e->queue, 2);
    assert_int_equal(e->position, 2);                /* behind c0 */
    router_free(r);
}

static uint32_t stats_unservable(struct router *r, int queue)
{
    struct router_queue_stats st;
    router_queue_stats(r, queue, S(100), &st);
    return st.unservable;
}

static bool info_unservable(struct router *r, const char *cid)
{
    uint32_t h;
    struct router_contact_info ci;
    assert_int_equal(router_contact_find(r, cid, &h), 0);
    router_contact_info(r, h, &ci);
    return ci.unservable;
}

/* A waiting contact that no logged-in agent could ever serve (at any
 * expansion level) is reported unservable, in its QUEUED event, in its
 * info and counted per queue; a matching login ends it, a logout brings
 * it back. Extra skills (derived queues) count in the base queue. */
static void test_unservable(void **state)
{
    struct router_queue_config q[1] = {fx_queue("sales", "sales:5")};
    q[0].nsteps = 1;
    q[0].steps[0] = (struct router_step){.after_ms = 50000,
                                         .kind = ROUTER_STEP_LOWER_LEVEL,
                                         .skill = "sales", .level = 1};
    struct router *r = mk(q, 1, NULL);
    arrive(r, S(0), "c1", "sales");
    const struct router_event *e = ev_find(r, ROUTER_EV_QUEUED, "c1", NULL);
    assert_non_null(e);
    assert_true(e->unservable);
    assert_true(info_unservable(r, "c1"));
    assert_int_equal(stats_unservable(r, 0), 1);
    router_out_clear(r);
    login(r, S(1), "other", "support:5");            /* no sales skill */
    uint8_t chat_only[ROUTER_CH_COUNT] = {0, 1, 0, 0};
    login_full(r, S(1), "chatter", "sales:9", chat_only, NULL, 0);
    assert_int_equal(stats_unservable(r, 0), 1);
    assert_true(info_unservable(r, "c1"));
    login(r, S(2), "low", "sales:1");                /* tier 1: servable */
    assert_null(ev_find(r, ROUTER_EV_OFFER, "c1", NULL));
    assert_int_equal(stats_unservable(r, 0), 0);
    assert_false(info_unservable(r, "c1"));
    router_out_clear(r);
    assert_int_equal(CALL(r, router_agent_logout(r, S(3), "low")), 0);
    assert_int_equal(stats_unservable(r, 0), 1);
    router_out_clear(r);
    /* a contact with an extra skill nobody has: unservable in the base
     * queue's count even with a sales agent logged in */
    login(r, S(4), "top", "sales:9");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "top");
    router_out_clear(r);
    arrive_full(r, S(5), "c2", "sales", "french:1", ROUTER_CH_VOICE, 0, 0,
                NULL);
    e = ev_find(r, ROUTER_EV_QUEUED, "c2", NULL);
    assert_non_null(e);
    assert_true(e->unservable);
    assert_int_equal(stats_unservable(r, 0), 1);
    router_out_clear(r);
    /* waiting for a named agent is never unservable */
    assert_int_equal(CALL(r, router_contact_transfer(r, S(6), "c2", -1,
                                                     "top")), 0);
    e = ev_find(r, ROUTER_EV_QUEUED, "c2", NULL);
    assert_non_null(e);
    assert_false(e->unservable);
    assert_false(info_unservable(r, "c2"));
    assert_int_equal(stats_unservable(r, 0), 0);
    router_free(r);
}

/* ---- freeing derived and virtual queues ---- */

/* The attack of issue 9: more distinct language combinations than the
 * queue table holds, each contact abandoned at once. Unused derived
 * queues beyond ROUTER_QUEUES_KEPT are freed at each router_out_clear(),
 * so each arrival succeeds, the table never fills, and a new combination
 * routes as before. Some of the languages are spoken by a logged-in
 * agent, so freeing also drops pool entries (router_check after every
 * call checks the agent's arrays, the pool counts and that every unused
 * queue is on the list to free). */
static void test_derived_queues_freed(void **state)
{
    struct router_queue_config q[1] = {fx_queue("sales", "sales:1")};
    struct router_config c = fx_config(q, 1);
    c.max_contacts = 16;
    struct router *r = mk(q, 1, &c);
    uint8_t both[ROUTER_CH_COUNT] = {1, 1, 0, 0};
    login_full(r, S(0), "poly", "sales:5,l1:1,l2:1,l3:1",
               both, NULL, 0);
    router_out_clear(r);
    char id[32], lang[48];
    for (unsigned i = 0; i < 1500; i++) {
        snprintf(id, sizeof(id), "c%u", i);
        snprintf(lang, sizeof(lang), "l%u:1", i % 2 ? i : i % 4);
        /* every second contact waits for a language nobody speaks; the
         * others (l0, l2) may be offered to `poly` */
        int rc = arrive_full(r, S(1) + i, id, "sales", lang,
                             i % 3 ? ROUTER_CH_VOICE : ROUTER_CH_CHAT, 0, 0,
                             NULL);
        assert_int_equal(rc, 0);
        assert_true(router_queue_created(r) >= 1);
        assert_int_equal(CALL(r, router_contact_abandon(r, S(1) + i, id)), 0);
        router_out_clear(r);
        check(r);
        assert_true(router_queue_created(r) <= ROUTER_QUEUES_KEPT);
    }
    /* far more distinct combinations than that went by: the cache is full */
    assert_int_equal(router_queue_created(r), ROUTER_QUEUES_KEPT);
    /* slots were reused: the index space stayed small */
    assert_true(router_queue_total(r) <= 1 + ROUTER_QUEUES_KEPT + 1);
    /* a new combination still works end to end */
    arrive_full(r, S(10), "new", "sales", "l3:1", ROUTER_CH_VOICE, 0, 0,
                NULL);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "new", 0), "poly");
    router_out_clear(r);
    assert_int_equal(CALL(r, router_offer_accept(r, S(11), "new", "poly")),
                     0);
    router_out_clear(r);
    /* in use while assigned: one more than the kept ones; once the
     * contact completes the oldest unused one goes */
    assert_int_equal(router_queue_created(r), ROUTER_QUEUES_KEPT + 1);
    assert_int_equal(CALL(r, router_contact_complete(r, S(12), "new")), 0);
    router_out_clear(r);
    check(r);
    assert_int_equal(router_queue_created(r), ROUTER_QUEUES_KEPT);
    router_free(r);
}

/* Skills-only virtual queues are freed like derived ones -- more distinct
 * skill sets than the table holds come and go -- and a queue in use is
 * never freed, however many unused ones go around it. */
static void test_virtual_queues_freed(void **state)
{
    struct router_queue_config q[1] = {fx_queue("sales", "sales:1")};
    struct router_config c = fx_config(q, 1);
    const char *names[40];
    char nbuf[40][8];
    for (unsigned i = 0; i < 40; i++) {
        snprintf(nbuf[i], sizeof(nbuf[i]), "k%u", i);
        names[i] = nbuf[i];
    }
    c.skills = names;
    c.nskills = 40;
    struct router *r = mk(q, 1, &c);
    login(r, S(0), "a1", "k1:10,k2:3");
    router_out_clear(r);
    char id[32], sk[32];
    for (unsigned i = 0; i < 1200; i++) {
        snprintf(id, sizeof(id), "v%u", i);
        snprintf(sk, sizeof(sk), "k%u:%u", (i / 10) % 40, i % 10 + 1);
        assert_int_equal(arrive_full(r, S(1), id, NULL, sk, ROUTER_CH_VOICE,
                                     0, 0, NULL), 0);
        /* an offered contact (k1 at any level) leaves through the offer */
        assert_int_equal(CALL(r, router_contact_abandon(r, S(1), id)), 0);
        router_out_clear(r);
        check(r);
        assert_true(router_queue_created(r) <= ROUTER_QUEUES_KEPT);
    }
    /* the kept queues, the last 32 contacts' (4 skills, 10 levels a
     * skill), and the skill groups of those skills (router.c, "Skill
     * groups": levels 1..9 of a skill and channel share one) */
    assert_true(router_queue_total(r) <= 1 + ROUTER_QUEUES_KEPT + 1 + 5);
    /* a contact waits in a virtual queue (no agent has k7) while more
     * than ROUTER_QUEUES_KEPT others come and go: its queue stays */
    arrive_full(r, S(2), "x1", NULL, "k7:2", ROUTER_CH_VOICE, 0, 0, NULL);
    router_out_clear(r);
    int vq = -1;
    char want[64], label[64];
    for (int i = router_queue_count(r); i < router_queue_total(r); i++)
        if (router_queue_is_virtual(r, i) &&
            router_queue_label(r, i, label, sizeof(label)) > 0 &&
            !strcmp(label, "~voice/k7@2"))
            vq = i;
    assert_true(vq >= 1);
    for (unsigned i = 0; i < 3 * ROUTER_QUEUES_KEPT; i++) {
        snprintf(id, sizeof(id), "w%u", i);
        snprintf(sk, sizeof(sk), "k%u:%u", 10 + i / 10, i % 10 + 1);
        assert_int_equal(arrive_full(r, S(3), id, NULL, sk, ROUTER_CH_CHAT,
                                     0, 0, NULL), 0);
        assert_int_equal(CALL(r, router_contact_abandon(r, S(3), id)), 0);
        router_out_clear(r);
    }
    snprintf(want, sizeof(want), "~voice/k7@2");
    assert_true(router_queue_is_virtual(r, vq));
    assert_true(router_queue_label(r, vq, label, sizeof(label)) > 0);
    assert_string_equal(label, want);
    struct router_queue_stats st;
    router_queue_stats(r, vq, S(3), &st);
    assert_int_equal(st.waiting, 1);
    assert_int_equal(st.offered, 1);
    router_free(r);
}

/* The index of the virtual queue labelled `label`, or -1. */
static int vq_find(const struct router *r, const char *label)
{
    char buf[64];
    for (int i = router_queue_count(r); i < router_queue_total(r); i++)
        if (router_queue_is_virtual(r, i) &&
            router_queue_label(r, i, buf, sizeof(buf)) > 0 &&
            !strcmp(buf, label))
            return i;
    return -1;
}

/* Skill groups (router.c): the virtual queues of one skill at min levels
 * 1..9 on one channel share the pools of a group, tier by the agents'
 * level. Each queue still gets exactly its agents (the skill at its
 * level or above), longest idle over all of them, both when a contact
 * arrives (the group's tiers) and when an agent frees up (the group's
 * queues with waiting contacts); its counts are its own; level 10 has a
 * queue of its own. */
static void test_skill_groups(void **state)
{
    (void)state;
    struct router_queue_config q[1] = {fx_queue("sales", "sales:1")};
    struct router *r = mk(q, 1, NULL);
    /* idle in this order: l1 longest, then l2, l5, l9, l10 */
    login(r, S(0), "l1", "k:1");
    login(r, S(1), "l2", "k:2");
    login(r, S(2), "l5", "k:5");
    login(r, S(3), "l9", "k:9");
    login(r, S(4), "l10", "k:10");
    router_out_clear(r);
    /* k:3 reads the tiers of levels 3..10: l5 has been idle longest */
    assert_int_equal(arrive_full(r, S(5), "c3", NULL, "k:3",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "l5");
    router_out_clear(r);
    int v3 = vq_find(r, "~voice/k@3");
    assert_true(v3 >= 1);
    assert_int_equal(router_queue_staffed(r, v3), 3);       /* l5 l9 l10 */
    assert_int_equal(router_queue_free(r, v3, ROUTER_CH_VOICE), 2);
    assert_int_equal(router_queue_free(r, v3, ROUTER_CH_CHAT), 0);
    uint32_t h9, h2;
    assert_int_equal(router_agent_find(r, "l9", &h9), 0);
    assert_int_equal(router_agent_find(r, "l2", &h2), 0);
    assert_true(router_agent_free_for(r, h9, v3, ROUTER_CH_VOICE));
    assert_false(router_agent_free_for(r, h2, v3, ROUTER_CH_VOICE));
    /* the same group: k:9 takes l9 (not l1, l2, l5: below its level) */
    assert_int_equal(arrive_full(r, S(6), "c9", NULL, "k:9",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c9", 0), "l9");
    router_out_clear(r);
    /* k:1 takes l1; k:10 (a queue of its own) l10 */
    assert_int_equal(arrive_full(r, S(7), "c1", NULL, "k:1",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "l1");
    assert_int_equal(arrive_full(r, S(7), "c10", NULL, "k:10",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c10", 0), "l10");
    router_out_clear(r);
    /* only l2 is free: k:4 and k:6 wait, unservable neither */
    assert_int_equal(arrive_full(r, S(8), "c4", NULL, "k:4",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_int_equal(arrive_full(r, S(9), "c6", NULL, "k:6",
                                 ROUTER_CH_VOICE, 0, 0, NULL), 0);
    assert_int_equal(ev_count(r, ROUTER_EV_OFFER), 0);
    const struct router_event *e = ev_find(r, ROUTER_EV_QUEUED, "c6", NULL);
    assert_non_null(e);
    assert_false(e->unservable);
    router_out_clear(r);
    /* an agent of level 5 frees up: it serves k:4, not k:6 */
    assert_int_equal(CALL(r, router_offer_reject(r, S(10), "c3", "l5")), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c4", 0), "l5");
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "c6", 0));
    router_out_clear(r);
    /* c3 (rejected by l5) waits; a level 7 agent logs in: of c3 and c6,
     * which it both serves, the earlier arrival first */
    login(r, S(11), "l7", "k:7");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c3", 0), "l7");
    router_out_clear(r);
    /* a skill on another channel is another group: nobody takes chat */
    uint8_t chat[ROUTER_CH_COUNT] = {0, 1, 0, 0};
    login_full(r, S(12), "c-l8", "k:8", chat, NULL, 0);
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "c6", 0));
    router_out_clear(r);
    assert_int_equal(arrive_full(r, S(13), "h5", NULL, "k:5",
                                 ROUTER_CH_CHAT, 0, 0, NULL), 0);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "h5", 0), "c-l8");
    int h5q = vq_find(r, "~chat/k@5");
    assert_true(h5q >= 1);
    assert_int_equal(router_queue_staffed(r, h5q), 1);
    router_free(r);
}

/* A contact refused after its queue was created (queue full, no
 * overflow) leaves an unused queue that is freed like the others: many
 * refused combinations do not fill the table. */
static void test_refused_contact_frees_queue(void **state)
{
    struct router_queue_config q[1] = {fx_queue("sales", "sales:1")};
    q[0].max_len = 1;
    struct router *r = mk(q, 1, NULL);
    arrive(r, S(0), "c0", "sales");
    router_out_clear(r);
    char sk[32];
    for (unsigned i = 0; i < 1100; i++) {
        snprintf(sk, sizeof(sk), "fr%u:1", i);
        assert_int_equal(arrive_full(r, S(1), "c1", "sales", sk,
                                     ROUTER_CH_VOICE, 0, 0, NULL),
                         ROUTER_EFULL);
        router_out_clear(r);
        check(r);
        assert_true(router_queue_created(r) <= ROUTER_QUEUES_KEPT);
    }
    router_free(r);
}

/* ---- maximum contact age ---- */

/* Sleeping pools (router.c): a pool above a queue's first level that
 * fills up while no contact waits at its levels goes to sleep instead of
 * compacting; a contact that reaches those levels wakes it, and gets the
 * agent that the strategy would have picked had the pool been kept up to
 * date. For the four strategies whose pools may sleep (a weighted pool
 * "fills up" with weights set; expect NULL: any tier 1 agent). */
static void sleeping_pools_case(enum router_strategy strat,
                                const char *expect)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:8")};
    q[0].strategy = strat;
    q[0].nsteps = 1;
    q[0].steps[0] = (struct router_step){.after_ms = 10000,
                                         .kind = ROUTER_STEP_LOWER_LEVEL,
                                         .skill = "x", .level = 1};
    struct router *r = mk(q, 1, NULL);
    static const char *const tier1[3] = {"t1", "t2", "t3"};
    login(r, S(0), "top", "x:9");          /* tier 0, kept away */
    login(r, S(0), "t1", "x:2");
    login(r, S(0), "t2", "x:5");
    login(r, S(0), "t3", "x:3");
    CALL(r, router_agent_set_state(r, S(0), "top", ROUTER_AGENT_AWAY, "x"));
    /* many availability cycles, no contact: the tier 1 ring or heap
     * fills with stale records and sleeps */
    uint64_t now = S(1);
    for (unsigned i = 0; i < 60; i++)
        for (unsigned k = 0; k < 3; k++) {
            now += MS(10);
            assert_int_equal(CALL(r, router_agent_set_state(
                                         r, now, tier1[k], ROUTER_AGENT_AWAY,
                                         "x")), 0);
            assert_int_equal(CALL(r, router_agent_set_state(
                                         r, now, tier1[k],
                                         ROUTER_AGENT_AVAILABLE, NULL)), 0);
        }
    uint64_t sleeps, wakes;
    router_pool_sleeps(r, &sleeps, &wakes);
    assert_true(sleeps >= 1);
    assert_int_equal(wakes, 0);
    /* the order the pick must follow: t3 idle longest, then t1, then t2 */
    static const char *const order[3] = {"t3", "t1", "t2"};
    for (unsigned k = 0; k < 3; k++) {
        now += S(1);
        CALL(r, router_agent_set_state(r, now, order[k], ROUTER_AGENT_AWAY,
                                       "x"));
        CALL(r, router_agent_set_state(r, now, order[k],
                                       ROUTER_AGENT_AVAILABLE, NULL));
    }
    router_out_clear(r);
    arrive(r, now + S(1), "c1", "q");      /* nobody at tier 0: waits */
    assert_null(ev_agent(r, ROUTER_EV_OFFER, "c1", 0));
    router_pool_sleeps(r, NULL, &wakes);
    assert_int_equal(wakes, 0);
    tick(r, now + S(11));                  /* level 1: the pool wakes */
    router_pool_sleeps(r, NULL, &wakes);
    assert_int_equal(wakes, 1);
    if (!expect) {
        /* weighted random: one of the tier 1 agents, as the draw says
         * (without the wake's weights, nobody) */
        expect = ev_agent(r, ROUTER_EV_OFFER, "c1", 0);
        assert_non_null(expect);
        assert_string_not_equal(expect, "top");
    }
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), expect);
    /* awake, it is kept up to date again: the next contact that reaches
     * level 1 gets the next agent, without another wake */
    assert_int_equal(CALL(r, router_offer_accept(r, now + S(11), "c1",
                                                 expect)), 0);
    router_out_clear(r);
    arrive(r, now + S(12), "c2", "q");
    tick(r, now + S(22));
    router_pool_sleeps(r, NULL, &wakes);
    assert_int_equal(wakes, 1);
    const char *second = ev_agent(r, ROUTER_EV_OFFER, "c2", 0);
    assert_non_null(second);
    assert_string_not_equal(second, expect);
    router_free(r);
}

static void test_sleeping_pools(void **state)
{
    sleeping_pools_case(ROUTER_STRATEGY_LONGEST_IDLE, "t3");
    sleeping_pools_case(ROUTER_STRATEGY_MOST_SKILLED, "t2");    /* x:5 */
    sleeping_pools_case(ROUTER_STRATEGY_LEAST_OCCUPIED, "t3");
    sleeping_pools_case(ROUTER_STRATEGY_WEIGHTED_RANDOM, NULL);
}

/* A contact still waiting at max_contact_age after its arrival ends as
 * abandoned even in a queue without max_wait; an offered one has its
 * offer revoked (reason ABANDONED) and the agent gets the next contact;
 * an assigned one is not touched. */
static void test_max_contact_age(void **state)
{
    struct router_queue_config q[1] = {fx_queue("sales", "sales:1")};
    q[0].offer_timeout_ms = 60000;
    struct router_config c = fx_config(q, 1);
    c.max_contact_age_ms = 10000;
    struct router *r = mk(q, 1, &c);
    arrive(r, S(0), "old", "sales");
    router_out_clear(r);
    assert_int_equal(router_next_deadline(r), S(10));
    tick(r, S(10) - 1);
    assert_int_equal(router_out_count(r), 0);
    tick(r, S(10));
    const struct router_event *e = ev_find(r, ROUTER_EV_CONTACT_GONE, "old",
                                           NULL);
    assert_non_null(e);
    assert_int_equal(e->u.gone, ROUTER_CONTACT_ABANDONED);
    assert_int_equal(e->queue, 0);
    router_out_clear(r);
    uint32_t h;
    assert_int_equal(router_contact_find(r, "old", &h), ROUTER_ENOCONTACT);
    struct router_queue_stats st;
    router_queue_stats(r, 0, S(10), &st);
    assert_int_equal(st.abandoned, 1);
    assert_int_equal(st.waiting, 0);

    /* offered at the age: revoked, the agent takes the next one */
    arrive(r, S(20), "c1", "sales");
    arrive(r, S(25), "c2", "sales");
    router_out_clear(r);
    login(r, S(26), "a1", "sales:1");
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c1", 0), "a1");
    router_out_clear(r);
    tick(r, S(30));
    e = ev_find(r, ROUTER_EV_REVOKED, "c1", "a1");
    assert_non_null(e);
    assert_int_equal(e->u.revoke, ROUTER_REVOKE_ABANDONED);
    e = ev_find(r, ROUTER_EV_CONTACT_GONE, "c1", NULL);
    assert_non_null(e);
    assert_int_equal(e->u.gone, ROUTER_CONTACT_ABANDONED);
    assert_string_equal(ev_agent(r, ROUTER_EV_OFFER, "c2", 0), "a1");
    router_out_clear(r);
    /* assigned before its age: stays */
    assert_int_equal(CALL(r, router_offer_accept(r, S(31), "c2", "a1")), 0);
    router_out_clear(r);
    tick(r, S(100));
    assert_null(ev_find(r, ROUTER_EV_CONTACT_GONE, "c2", NULL));
    assert_int_equal(router_contact_find(r, "c2", &h), 0);
    router_free(r);
}

/* Skills-only contacts are counted waiting and get stats under a stable
 * label that does not depend on the order skills were interned. */
static void test_virtual_queue_stats(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(0), "a1", "zulu:1,alpha:1");          /* interns zulu first */
    arrive(r, S(0), "c0", "q");
    arrive_full(r, S(1), "c1", NULL, "zulu:2,alpha:3", ROUTER_CH_CHAT, 0, 0,
                NULL);
    assert_int_equal(router_waiting_count(r), 2);
    int found = -1;
    for (int i = router_queue_count(r); i < router_queue_total(r); i++)
        if (router_queue_is_virtual(r, i))
            found = i;
    assert_true(found >= 1);
    char label[128];
    assert_int_equal(router_queue_label(r, found, label, sizeof(label)),
                     (int)strlen("~chat/alpha@3+zulu@2"));
    assert_string_equal(label, "~chat/alpha@3+zulu@2");
    assert_int_equal(router_queue_label(r, found, NULL, 0),
                     (int)strlen(label));
    assert_int_equal(router_queue_label(r, 0, label, sizeof(label)), 1);
    assert_string_equal(label, "q");
    struct router_queue_stats st;
    router_queue_stats(r, found, S(11), &st);
    assert_int_equal(st.waiting, 1);
    assert_int_equal(st.longest_wait_ms, 10000);
    assert_int_equal(st.unservable, 1);              /* a1 lacks the levels */
    router_free(r);
}

/* router_agent_info counts the offers an agent holds apart from its
 * assigned contacts. */
static void test_agent_info_offers(void **state)
{
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1, NULL);
    login(r, S(0), "a1", "x:1");
    arrive(r, S(1), "c1", "q");
    uint32_t h;
    struct router_agent_info ai;
    assert_int_equal(router_agent_find(r, "a1", &h), 0);
    router_agent_info(r, h, S(1), &ai);
    assert_int_equal(ai.offers, 1);
    assert_int_equal(ai.busy[ROUTER_CH_VOICE], 1);
    assert_int_equal(CALL(r, router_offer_accept(r, S(2), "c1", "a1")), 0);
    router_agent_info(r, h, S(2), &ai);
    assert_int_equal(ai.offers, 0);
    assert_int_equal(ai.busy[ROUTER_CH_VOICE], 1);
    router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_longest_idle),
        cmocka_unit_test(test_longest_idle_ties),
        cmocka_unit_test(test_care_load_ties),
        cmocka_unit_test(test_care_weight),
        cmocka_unit_test(test_care_routine),
        cmocka_unit_test(test_longest_idle_stale_records),
        cmocka_unit_test(test_most_skilled),
        cmocka_unit_test(test_least_occupied),
        cmocka_unit_test(test_least_occupied_busy_rings),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_weighted_random),
        cmocka_unit_test(test_weighted_random_churn),
        cmocka_unit_test(test_expansion_steps),
        cmocka_unit_test(test_priority_and_aging),
        cmocka_unit_test(test_cross_queue_fairness),
        cmocka_unit_test(test_capacity_voice_blocks),
        cmocka_unit_test(test_reject_reoffer),
        cmocka_unit_test(test_timeout_no_answer),
        cmocka_unit_test(test_abandon),
        cmocka_unit_test(test_withdraw),
        cmocka_unit_test(test_withdraw_estimate),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_wrapup_across_queues),
        cmocka_unit_test(test_preferred_agent),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_timer_fifo_order),
        cmocka_unit_test(test_set_step_times),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_skills_contact),
        cmocka_unit_test(test_queue_extra_skills),
        cmocka_unit_test(test_duplicates_and_errors),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_tags_and_stats),
        cmocka_unit_test(test_reject_resets_no_answer),
        cmocka_unit_test(test_transfer_keeps_arrival),
        cmocka_unit_test(test_queued_once_per_wait),
        cmocka_unit_test(test_unservable),
        cmocka_unit_test(test_virtual_queue_stats),
        cmocka_unit_test(test_derived_queues_freed),
        cmocka_unit_test(test_virtual_queues_freed),
        cmocka_unit_test(test_skill_groups),
        cmocka_unit_test(test_refused_contact_frees_queue),
        cmocka_unit_test(test_max_contact_age),
        cmocka_unit_test(test_sleeping_pools),
        cmocka_unit_test(test_most_skilled_score_rings),
        cmocka_unit_test(test_agent_info_offers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
