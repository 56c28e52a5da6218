/* test-router-reload.c -- the routing core's reload calls (engine/router.c,
 * "reload: the queue set and a queue's shape"): router_queue_reshape,
 * router_queue_add, router_queue_remove, router_queue_holds. Every call is
 * followed by router_check(), so each step is also an invariant test; the
 * last case runs random traffic with random reloads in between. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "router-fx.h"

#define S(x) ((uint64_t)(x) * 1000000ULL)   /* seconds -> us */

static void check(struct router *r)
{
    char buf[256];
    int rc = router_check(r, buf, sizeof(buf));
    if (rc != 0)
        fail_msg("router_check: %s", buf);
}

static struct router *mk(struct router_queue_config *q, unsigned nq)
{
    struct router_config c = fx_config(q, nq);
    const char *err = NULL;
    struct router *r = router_new(&c, 42, &err);
    if (!r)
        fail_msg("router_new: %s", err);
    return r;
}

static int arrive_sk(struct router *r, uint64_t now, const char *id,
                     const char *queue, const char *skills)
{
    struct router_contact_spec s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.channel = ROUTER_CH_VOICE;
    s.queue = queue;
    s.nskills = skills ? fx_reqs(s.skills, skills) : 0;
    uint32_t h;
    int rc = router_contact_arrive(r, now, &s, 7, &h);
    check(r);
    return rc;
}

static int arrive(struct router *r, uint64_t now, const char *id,
                  const char *queue)
{
    return arrive_sk(r, now, id, queue, NULL);
}

static int login_q(struct router *r, uint64_t now, const char *id,
                   const char *skills, const char *const *queues,
                   unsigned nqueues)
{
    struct router_agent_spec s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.nskills = fx_skills(s.skills, skills);
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
    return login_q(r, now, id, skills, NULL, 0);
}

static void tick(struct router *r, uint64_t now)
{
    router_tick(r, now);
    check(r);
}

/* The agent offered contact `cid` in the output list, or NULL. */
static const char *offered_to(struct router *r, const char *cid)
{
    for (size_t i = 0; i < router_out_count(r); i++) {
        const struct router_event *e = router_out_get(r, i);
        if (e->type == ROUTER_EV_OFFER &&
            !strcmp(router_contact_id(r, e->contact), cid))
            return router_agent_id(r, e->agent);
    }
    return NULL;
}

static bool has_event(struct router *r, enum router_event_type t,
                      const char *cid)
{
    for (size_t i = 0; i < router_out_count(r); i++) {
        const struct router_event *e = router_out_get(r, i);
        if (e->type == t && e->contact != UINT32_MAX &&
            !strcmp(router_contact_id(r, e->contact), cid))
            return true;
    }
    return false;
}

static struct router_contact_info info(struct router *r, const char *cid)
{
    uint32_t h;
    struct router_contact_info ci;
    assert_int_equal(router_contact_find(r, cid, &h), 0);
    router_contact_info(r, h, &ci);
    return ci;
}

static int qidx(struct router *r, const char *name)
{
    return router_queue_find(r, name);
}

/* A strategy change takes effect for the next decision: longest idle
 * offers the agent idle longest, most skilled the better one after the
 * reshape; the offer out keeps its agent and deadline. */
static void test_strategy(void **state)
{
    (void)state;
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1);
    login(r, S(1), "low", "x:1");
    login(r, S(2), "high", "x:9");
    assert_int_equal(arrive(r, S(3), "c1", "q"), 0);
    assert_string_equal(offered_to(r, "c1"), "low");
    uint64_t deadline = info(r, "c1").deadline;
    router_out_clear(r);

    struct router_queue_config nq = q[0];
    nq.strategy = ROUTER_STRATEGY_MOST_SKILLED;
    assert_int_equal(router_queue_reshape(r, S(4), 0, &nq), 0);
    check(r);
    struct router_contact_info ci = info(r, "c1");
    assert_int_equal(ci.state, ROUTER_CONTACT_OFFERED);
    assert_int_equal(ci.deadline, deadline);
    assert_int_equal(router_offer_reject(r, S(5), "c1", "low"), 0);
    check(r);
    /* low is excluded for c1; high takes it. c2 then waits for low? No:
     * low is available again and most skilled picks high first, so log
     * out high after its offer and check the order with two idle agents */
    assert_string_equal(offered_to(r, "c1"), "high");
    router_out_clear(r);
    login(r, S(6), "mid", "x:5");
    assert_int_equal(arrive(r, S(7), "c2", "q"), 0);
    /* longest idle would give "low" (idle since 5 s); most skilled "mid" */
    assert_string_equal(offered_to(r, "c2"), "mid");
    router_free(r);
}

/* A skills change re-evaluates every agent: the contact that nobody could
 * take is offered to the agent holding the new skill at the next tick,
 * with its arrival kept; the agent of the old skill no longer gets the
 * queue's contacts. */
static void test_skills(void **state)
{
    (void)state;
    struct router_queue_config q[2] = {fx_queue("q", "sales:1"),
                                       fx_queue("other", "y:1")};
    struct router *r = mk(q, 2);
    login(r, S(1), "s", "support:3");
    assert_int_equal(arrive(r, S(2), "c1", "q"), 0);
    assert_null(offered_to(r, "c1"));
    assert_true(info(r, "c1").unservable);
    router_out_clear(r);

    struct router_queue_config nq = q[0];
    nq.nreq = fx_reqs(nq.req, "support:2");
    assert_int_equal(router_queue_reshape(r, S(3), 0, &nq), 0);
    check(r);
    assert_true(router_next_deadline(r) <= S(3));
    tick(r, S(3));
    assert_string_equal(offered_to(r, "c1"), "s");
    assert_int_equal(info(r, "c1").arrived_at, S(2));
    router_out_clear(r);

    login(r, S(4), "old", "sales:9");
    assert_int_equal(arrive(r, S(5), "c2", "q"), 0);
    assert_null(offered_to(r, "c2"));     /* "old" lacks support */
    assert_int_equal(router_queue_holds(r, 0, 1u << ROUTER_CH_VOICE, true,
                                        NULL, 0), 2);
    router_free(r);
}

/* Channels taken away while a contact waits on them: ROUTER_ESTATE and
 * nothing changes; a reshape to an unknown step skill: ROUTER_EINVAL. */
static void test_reshape_refused(void **state)
{
    (void)state;
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1);
    assert_int_equal(arrive(r, S(1), "c1", "q"), 0);
    struct router_queue_config nq = q[0];
    nq.channel_mask = 1u << ROUTER_CH_CHAT;
    assert_int_equal(router_queue_reshape(r, S(2), 0, &nq), ROUTER_ESTATE);
    nq = q[0];
    nq.nsteps = 1;
    nq.steps[0] = (struct router_step){.after_ms = 1000,
                                       .kind = ROUTER_STEP_LOWER_LEVEL,
                                       .skill = "nope", .level = 1};
    assert_int_equal(router_queue_reshape(r, S(2), 0, &nq), ROUTER_EINVAL);
    check(r);
    login(r, S(3), "a", "x:1");
    assert_string_equal(offered_to(r, "c1"), "a");
    router_free(r);
}

/* Steps reshaped: a contact that waited 10 s reaches the new step's
 * lower level at once and is offered to the agent below the old level. */
static void test_steps(void **state)
{
    (void)state;
    struct router_queue_config q[1] = {fx_queue("q", "x:5")};
    struct router *r = mk(q, 1);
    login(r, S(1), "a", "x:2");
    assert_int_equal(arrive(r, S(2), "c1", "q"), 0);
    assert_null(offered_to(r, "c1"));
    struct router_queue_config nq = q[0];
    nq.nsteps = 1;
    nq.steps[0] = (struct router_step){.after_ms = 5000,
                                       .kind = ROUTER_STEP_LOWER_LEVEL,
                                       .skill = "x", .level = 2};
    assert_int_equal(router_queue_reshape(r, S(12), 0, &nq), 0);
    check(r);
    tick(r, S(12));
    assert_string_equal(offered_to(r, "c1"), "a");
    router_free(r);
}

/* A queue added takes index count(); a virtual queue that held that slot
 * moves, with its waiting contact, which an agent with the skill then
 * takes; the new queue routes to agents logged in for every queue, not to
 * one with a queue list. */
static void test_add(void **state)
{
    (void)state;
    struct router_queue_config q[1] = {fx_queue("q", "x:1")};
    struct router *r = mk(q, 1);
    const char *only_q[] = {"q"};
    login_q(r, S(1), "listed", "y:5", only_q, 1);
    assert_int_equal(arrive_sk(r, S(2), "v0", NULL, "z:1"), ROUTER_ENOSKILL);
    assert_int_equal(router_skill_add(r, "z"), 0);
    assert_int_equal(arrive_sk(r, S(2), "v1", NULL, "z:1"), 0);
    /* the virtual queue and its skill group (router.c, "Skill groups"),
     * which router_queue_add() below moves out of the new queue's slot */
    assert_int_equal(router_queue_total(r), 3);
    assert_false(router_queue_is_virtual(r, 1));
    assert_true(router_queue_is_virtual(r, 2));
    router_out_clear(r);

    struct router_queue_config add = fx_queue("new", "y:1");
    assert_int_equal(router_queue_add(r, &add), 1);
    check(r);
    assert_int_equal(router_queue_count(r), 2);
    assert_int_equal(qidx(r, "new"), 1);
    assert_string_equal(router_queue_name(r, 1), "new");
    assert_int_equal(router_queue_add(r, &add), ROUTER_EINVAL);
    assert_int_equal(arrive(r, S(3), "c1", "new"), 0);
    assert_null(offered_to(r, "c1"));     /* "listed" serves q only */
    login(r, S(4), "any", "y:1,z:1");
    /* c1 (arrived first, same key order) and v1 both wait for "any" */
    assert_true(offered_to(r, "c1") != NULL || offered_to(r, "v1") != NULL);
    check(r);
    router_free(r);
}

/* A removed queue's contacts move to the fallback with their arrival: the
 * queued one waits there (MOVED) and is routed, the offered one keeps its
 * agent and deadline, the assigned one stays assigned; a contact of a
 * queue derived from it goes to the fallback's derived queue; the last
 * queue takes the removed one's index with its own contact. */
static void test_remove(void **state)
{
    (void)state;
    struct router_queue_config q[3] = {fx_queue("gone", "x:1"),
                                       fx_queue("fb", "y:1"),
                                       fx_queue("last", "w:1")};
    struct router *r = mk(q, 3);
    login(r, S(1), "ax", "x:1");
    login(r, S(1), "ax2", "x:1");
    assert_int_equal(arrive(r, S(2), "assigned", "gone"), 0);
    assert_int_equal(router_offer_accept(r, S(2), "assigned", "ax"), 0);
    assert_int_equal(arrive(r, S(3), "offered", "gone"), 0);
    assert_string_equal(offered_to(r, "offered"), "ax2");
    uint64_t deadline = info(r, "offered").deadline;
    assert_int_equal(arrive(r, S(4), "queued", "gone"), 0);
    assert_int_equal(arrive_sk(r, S(5), "derived", "gone", "lang:1"), 0);
    assert_int_equal(arrive(r, S(6), "l1", "last"), 0);
    router_out_clear(r);

    char first[ROUTER_ID_MAX];
    assert_int_equal(router_queue_holds(r, 0, 0xf, false, first,
                                        sizeof(first)), 4);
    assert_int_equal(router_queue_holds(r, 0, 0xf, true, NULL, 0), 3);
    assert_int_equal(router_queue_remove(r, S(7), 0, -1), ROUTER_ESTATE);
    assert_int_equal(router_queue_remove(r, S(7), 0, 0), ROUTER_EINVAL);
    check(r);
    assert_int_equal(router_queue_count(r), 3);

    assert_int_equal(router_queue_remove(r, S(7), 0, 1), 0);
    check(r);
    assert_int_equal(router_queue_count(r), 2);
    assert_int_equal(qidx(r, "gone"), -1);
    assert_int_equal(qidx(r, "last"), 0);
    assert_int_equal(qidx(r, "fb"), 1);
    assert_true(has_event(r, ROUTER_EV_MOVED, "queued"));
    assert_true(has_event(r, ROUTER_EV_MOVED, "offered"));
    struct router_contact_info ci = info(r, "queued");
    assert_int_equal(ci.queue, 1);
    assert_int_equal(ci.arrived_at, S(4));
    ci = info(r, "offered");
    assert_int_equal(ci.state, ROUTER_CONTACT_OFFERED);
    assert_int_equal(ci.deadline, deadline);
    assert_int_equal(ci.queue, 1);
    ci = info(r, "assigned");
    assert_int_equal(ci.state, ROUTER_CONTACT_ASSIGNED);
    assert_int_equal(ci.queue, 1);
    ci = info(r, "derived");
    assert_int_equal(ci.queue, 1);
    assert_int_equal(ci.arrived_at, S(5));
    assert_int_equal(info(r, "l1").queue, 0);
    router_out_clear(r);

    /* the fallback's agents take them, in arrival order */
    login(r, S(8), "fy", "y:1");
    assert_string_equal(offered_to(r, "queued"), "fy");
    router_out_clear(r);
    /* the offer, rejected, waits in the fallback */
    assert_int_equal(router_offer_reject(r, S(9), "offered", "ax2"), 0);
    check(r);
    assert_int_equal(info(r, "offered").state, ROUTER_CONTACT_QUEUED);
    assert_int_equal(router_contact_complete(r, S(10), "assigned"), 0);
    check(r);
    /* the relocated queue still routes */
    login(r, S(11), "lw", "w:1");
    assert_string_equal(offered_to(r, "l1"), "lw");
    /* a new queue then takes index 2, and "~2/..." names nothing old */
    router_out_clear(r);
    struct router_queue_config add = fx_queue("again", "x:1");
    assert_int_equal(router_queue_add(r, &add), 2);
    check(r);
    assert_int_equal(arrive_sk(r, S(12), "d2", "again", "lang:1"), 0);
    assert_int_equal(info(r, "d2").queue, 2);
    router_free(r);
}

static unsigned rnd(uint64_t *x, unsigned n)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(*x >> 33) % n;
}

/* Random traffic with reshapes, adds and removes in between: every step
 * keeps every invariant (router_check), over a few seeds. */
static void test_random(void **state)
{
    (void)state;
    static const char *skills[] = {"a", "b", "c"};
    const char *env = getenv("CCROUTE_RELOAD_SEEDS");
    unsigned nseeds = env ? (unsigned)atoi(env) : 40;
    for (unsigned seed = 1; seed <= nseeds; seed++) {
        struct router_queue_config q[3] = {fx_queue("q0", "a:1"),
                                           fx_queue("q1", "b:2"),
                                           fx_queue("q2", "c:1")};
        struct router *r = mk(q, 3);
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL, now = S(1);
        unsigned next_q = 3, nc = 0;
        char id[32];
#define RND(n) rnd(&x, (n))
        for (unsigned step = 0; step < 400; step++) {
            now += S(1) / 4 * (1 + RND(8));
            int nq = router_queue_count(r);
            unsigned op = RND(20);
            if (op < 6) {
                snprintf(id, sizeof(id), "c%u", nc++);
                const char *qn = router_queue_name(r, (int)RND((unsigned)nq));
                if (RND(4) == 0)
                    arrive_sk(r, now, id, NULL, RND(2) ? "a:1" : "b:1");
                else if (RND(4) == 0)
                    arrive_sk(r, now, id, qn, "lang:1");
                else
                    arrive(r, now, id, qn);
            } else if (op < 9) {
                char aid[16], sk[32];
                snprintf(aid, sizeof(aid), "a%u", RND(12));
                snprintf(sk, sizeof(sk), "%s:%u,lang:1", skills[RND(3)],
                         1 + RND(3));
                if (login(r, now, aid, sk) == ROUTER_EEXIST)
                    router_agent_logout(r, now, aid);
                check(r);
            } else if (op < 13) {
                /* answer something offered or assigned */
                for (size_t i = 0; i < router_out_count(r); i++) {
                    const struct router_event *e = router_out_get(r, i);
                    if (e->type != ROUTER_EV_OFFER)
                        continue;
                    const char *cid = router_contact_id(r, e->contact);
                    const char *aid = router_agent_id(r, e->agent);
                    if (RND(2))
                        router_offer_accept(r, now, cid, aid);
                    else
                        router_offer_reject(r, now, cid, aid);
                    check(r);
                    break;
                }
                snprintf(id, sizeof(id), "c%u", nc ? RND(nc) : 0);
                router_contact_complete(r, now, id);
                check(r);
            } else if (op < 15) {
                tick(r, now);
            } else if (op < 17) {
                int qi = (int)RND((unsigned)nq);
                struct router_queue_config nqc =
                    fx_queue(router_queue_name(r, qi), "");
                nqc.nreq = fx_reqs(nqc.req, RND(2) ? "a:1" : "b:1,c:1");
                nqc.strategy = (enum router_strategy)RND(5);
                if (RND(2)) {
                    nqc.nsteps = 1;
                    nqc.steps[0] = (struct router_step){
                        .after_ms = 1000 * (1 + RND(5)),
                        .kind = ROUTER_STEP_DROP_SKILL};
                    snprintf(nqc.steps[0].skill, ROUTER_ID_MAX, "%s",
                             nqc.req[0].skill);
                }
                unsigned nw0 = router_waiting_count(r);
                router_out_clear(r);
                assert_int_equal(router_queue_reshape(r, now, qi, &nqc), 0);
                check(r);
                assert_int_equal(router_waiting_count(r), nw0);
            } else if (op < 18 && nq < 6) {
                char name[16];
                snprintf(name, sizeof(name), "q%u", next_q++);
                struct router_queue_config a =
                    fx_queue(name, RND(2) ? "a:1" : "c:2");
                router_out_clear(r);
                assert_true(router_queue_add(r, &a) == nq);
                check(r);
            } else if (op < 19 && nq > 1) {
                int qi = (int)RND((unsigned)nq);
                int fb = (qi + 1 + (int)RND((unsigned)nq - 1)) % nq;
                unsigned nc0 = router_contact_count(r);
                unsigned nw0 = router_waiting_count(r);
                router_out_clear(r);
                assert_int_equal(router_queue_remove(r, now, qi, fb), 0);
                check(r);
                assert_int_equal(router_contact_count(r), nc0);
                assert_int_equal(router_waiting_count(r), nw0);
            } else {
                router_out_clear(r);
            }
        }
#undef RND
        router_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy),
        cmocka_unit_test(test_skills),
        cmocka_unit_test(test_reshape_refused),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
