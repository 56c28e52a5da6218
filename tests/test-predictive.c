/* test-predictive.c -- end to end: predictive pacing on the real ccrouted
 * and a real redis-server. The test plays the admin, four agents on one
 * desk, a switch with inbound callers, and the dialer: it answers each
 * DialRequest, in the order they came, with a scripted outcome (every
 * fourth a person, the others busy, no answer or machine); a customer who
 * answered talks until the dialer has answered TALK more dials, or until
 * nothing else is left to do. The pacing turns of the engine run on their
 * own clock, so the test asserts what holds whatever their timing: the
 * engine dialed more leads than agents were free, every person who
 * answered reached an agent or was dropped (and the dialer told), the
 * engine's counters equal the dialer's own counts, and the abandon rate
 * is under the cap. With inbound blending, no dial while an inbound
 * caller waits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "client.h"
#include "e2e-util.h"
#include "harness.h"
#include "outbound-fx.h"
#include "store-peek.h"

#define BODY(x) E2E_BODY(x)
#define OUT(x) OBFX_OUT(x)
#define PREDICTIVE CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREDICTIVE
#define AWAY CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY
#define AVAILABLE CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE

#define AGENTS 4
#define LEADS 200
#define TALK 6          /* dial results a customer talks for */

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    (void)arg;
    obfx_config_text(buf, len, redis_port, "pd",
                     "routing: {offer_timeout: 60s, max_no_answer: 100}\n"
                     "skills: [sales, care]\n"
                     "queues:\n"
                     "  - name: sales\n"
                     "    skills: {sales: 1}\n"
                     "  - name: care\n"
                     "    skills: {care: 1}\n"
                     "    service_level: {percent: 80, seconds: 4}\n");
}

static int setup(void **state)
{
    return e2e_env_start(state, true, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

/* n leads "L<i>" in two zones. */
static void add_leads(struct e2e_client *adm, const char *camp, int n)
{
    struct obfx_lead in[50];
    char ids[50][16], nums[50][16];
    char msg[256];
    for (int base = 0; base < n; base += 50) {
        int k = n - base < 50 ? n - base : 50;
        for (int i = 0; i < k; i++) {
            snprintf(ids[i], sizeof(ids[i]), "L%03d", base + i);
            snprintf(nums[i], sizeof(nums[i]), "+1555%06d", base + i);
            in[i] = (struct obfx_lead){ ids[i], nums[i],
                                        i % 2 ? "Europe/Paris"
                                              : "America/New_York" };
        }
        assert_int_equal(obfx_leads(adm, camp, in, (size_t)k, msg,
                                    sizeof(msg)), 0);
    }
}

/* What the dialer and the desk saw and did. */
struct world {
    struct e2e_client *dl, *desk;
    uint64_t pend[LEADS];               /* ringing, in arrival order */
    char pcid[LEADS][64];
    int npend, phead;
    char talk[AGENTS * 4][64];          /* customers talking */
    int talk_left[AGENTS * 4];
    int ntalk;
    char wait[LEADS][64];               /* answered, not yet offered */
    int nwait;
    /* the dialer's own counts */
    int requests, results, out[8], dropped, accepted, busy_agents;
};

static void forget_wait(struct world *w, const char *cid)
{
    for (int i = 0; i < w->nwait; i++)
        if (!strcmp(w->wait[i], cid)) {
            memmove(w->wait[i], w->wait[i + 1],
                    (size_t)(w->nwait - i - 1) * sizeof(w->wait[0]));
            w->nwait--;
            return;
        }
    fail_msg("no answered call %s waits", cid);
}

/* Takes what reached the dialer: DialRequests and CallDropped. */
static void dialer_pump(struct world *w, int timeout_ms)
{
    ccr_envelope *env;
    while ((env = e2e_next(w->dl, timeout_ms))) {
        timeout_ms = 0;
        if (env->body_case == BODY(DIAL_REQUEST)) {
            assert_true(w->npend < LEADS);
            assert_string_equal(env->dial_request->campaign, "pd");
            w->pend[w->npend] = env->dial_request->dial_id;
            snprintf(w->pcid[w->npend], sizeof(w->pcid[0]), "%s",
                     env->dial_request->contact_id);
            w->npend++;
            w->requests++;
        } else if (env->body_case == BODY(CALL_DROPPED)) {
            forget_wait(w, env->call_dropped->contact_id);
            w->dropped++;
        }
        ccr_free(env);
    }
}

/* The desk accepts every Offer: the customer talks. */
static void desk_pump(struct world *w, int timeout_ms)
{
    ccr_envelope *env;
    while ((env = e2e_next(w->desk, timeout_ms))) {
        timeout_ms = 0;
        if (env->body_case == BODY(OFFER)) {
            const char *cid = env->offer->contact_id;
            assert_string_equal(env->offer->campaign, "pd");
            assert_int_equal(e2e_simple(w->desk, BODY(OFFER_ACCEPTED), cid,
                                        env->offer->agent_id), 0);
            forget_wait(w, cid);
            assert_true(w->ntalk < AGENTS);     /* one call per agent */
            snprintf(w->talk[w->ntalk], sizeof(w->talk[0]), "%s", cid);
            w->talk_left[w->ntalk++] = TALK;
            w->accepted++;
        }
        ccr_free(env);
    }
}

/* The customer of talk[i] hangs up (the dialer ends the call). */
static void hang_up(struct world *w, int i)
{
    assert_int_equal(e2e_simple(w->dl, BODY(CONTACT_COMPLETED), w->talk[i],
                                NULL), 0);
    memmove(w->talk[i], w->talk[i + 1],
            (size_t)(w->ntalk - i - 1) * sizeof(w->talk[0]));
    memmove(&w->talk_left[i], &w->talk_left[i + 1],
            (size_t)(w->ntalk - i - 1) * sizeof(w->talk_left[0]));
    w->ntalk--;
}

/* The outcome of the k-th dial (from 0): a person every fourth. */
static Ccroute__V1__DialOutcome script(int k)
{
    static const Ccroute__V1__DialOutcome o[4] = {
        OUT(HUMAN), OUT(NO_ANSWER), OUT(BUSY), OUT(MACHINE),
    };
    return o[k % 4];
}

/* Field `name` of one stream entry's field list, or "" when missing. */
static const char *field(const struct peek_obj *e, const char *name)
{
    const char *v = peek_get(e, name, NULL);
    return v ? v : "";
}

/* What the leads' entries in the event stream (docs/redis.md) say. */
struct lead_evs {
    int dial, human, done, exhausted;
};

/* Reads the stream; checks each lead entry's fields: a lead_dial per dial
 * with its lead, contact and attempt; a `lead` entry per person who
 * answered (with the call's contact) and per state change; each lead
 * done after its dial. */
static void read_lead_events(struct e2e_env *f, struct lead_evs *n)
{
    struct peek *r = peek_read(f->r, "pd");   /* stream or journal */
    static char dialed[LEADS][8];
    memset(n, 0, sizeof(*n));
    for (size_t i = 0; i < r->nev; i++) {
        const struct peek_obj *fl = &r->ev[i];
        const char *type = field(fl, "type");
        if (strncmp(type, "lead", 4) != 0)
            continue;
        assert_string_equal(field(fl, "campaign"), "pd");
        assert_true(field(fl, "lead")[0] == 'L');
        assert_true(field(fl, "ts")[0] != '\0');
        assert_true(field(fl, "token")[0] != '\0');
        if (!strcmp(type, "lead_dial")) {
            assert_string_equal(field(fl, "state"), "active");
            assert_string_equal(field(fl, "attempts"), "1");
            assert_true(!strncmp(field(fl, "contact"), "ob-", 3));
            assert_true(n->dial < LEADS);
            snprintf(dialed[n->dial++], sizeof(dialed[0]), "%s",
                     field(fl, "lead"));
            continue;
        }
        assert_string_equal(type, "lead");
        if (!strcmp(field(fl, "outcome"), "human") &&
            !strcmp(field(fl, "state"), "active")) {
            assert_true(!strncmp(field(fl, "contact"), "ob-", 3));
            n->human++;
        } else if (!strcmp(field(fl, "state"), "done")) {
            bool seen = false;
            for (int k = 0; k < n->dial && !seen; k++)
                seen = !strcmp(dialed[k], field(fl, "lead"));
            assert_true(seen);
            assert_string_equal(field(fl, "outcome"), "human");
            n->done++;
        } else if (!strcmp(field(fl, "state"), "exhausted")) {
            assert_true(strcmp(field(fl, "outcome"), "human") != 0);
            n->exhausted++;
        }
    }
    peek_free(r);
}

/* The stream has the lead entries of the run: a lead done is written by
 * the pacing turn after its Offer, so it is waited for (bounded). */
static void check_lead_events(struct e2e_env *f, int dials, int persons,
                              int done)
{
    struct lead_evs n;
    long long t0 = harness_now_ms();
    do
        read_lead_events(f, &n);
    while ((n.dial != dials || n.human != persons || n.done != done ||
            n.exhausted != dials - done) &&
           harness_now_ms() - t0 < E2E_T_MS);
    assert_int_equal(n.dial, dials);
    assert_int_equal(n.human, persons);
    assert_int_equal(n.done, done);
    assert_int_equal(n.exhausted, dials - done);
}

/* Predictive, four free agents, 200 leads with one attempt each: the
 * engine dials more leads than agents are free; every person reaches an
 * agent or is dropped; the engine's counts are the dialer's; the abandon
 * rate is under the cap (3%). */
static void test_predictive_paces(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    static struct world wd;
    struct world *w = &wd;
    char msg[256];
    const struct obfx_campaign pd = { .name = "pd", .queue = "sales",
                                      .mode = PREDICTIVE, .max_attempts = 1,
                                      .compliance_ms = 2000,
                                      /* no ramp-up: dials ahead at once */
                                      .ramp_up_ms = 100 };
    const Ccroute__V1__CampaignStats *cs;
    ccr_envelope *st;
    long long t0, run0;
    int burst;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk", E2E_ROLE(AGENT), false);
    for (int i = 0; i < AGENTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i + 1);
        assert_int_equal(e2e_agent_login(&desk, id, "sales", 1, 1, 0), 0);
    }
    w->dl = &dl;
    w->desk = &desk;
    assert_int_equal(obfx_upsert(&adm, &pd, msg, sizeof(msg)), 0);
    add_leads(&adm, "pd", LEADS);
    run0 = harness_now_ms();
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "pd"), 0);

    /* dialing ahead: more calls ring than agents are free, before any
     * outcome (progressive would stop at four) */
    t0 = harness_now_ms();
    while (w->npend <= AGENTS && harness_now_ms() - t0 < E2E_T_MS)
        dialer_pump(w, 200);
    assert_true(w->npend > AGENTS);
    dialer_pump(w, 0);
    burst = w->npend;

    /* the run: every lead is dialed once */
    t0 = harness_now_ms();
    while (w->results < LEADS && harness_now_ms() - t0 < 60000) {
        dialer_pump(w, 0);
        desk_pump(w, 0);
        if (w->phead < w->npend) {
            Ccroute__V1__DialOutcome o = script(w->results);
            int k = w->phead++;
            assert_int_equal(obfx_result(&dl, w->pend[k], o, NULL, 0), 0);
            w->results++;
            w->out[o]++;
            if (o == OUT(HUMAN)) {
                assert_true(w->nwait < LEADS);
                memcpy(w->wait[w->nwait++], w->pcid[k], sizeof(w->wait[0]));
            }
            for (int i = 0; i < w->ntalk;)
                if (--w->talk_left[i] <= 0)
                    hang_up(w, i);
                else
                    i++;
        } else if (w->ntalk > 0 && w->nwait == 0) {
            /* nothing rings: the oldest call ends, an agent is free */
            hang_up(w, 0);
        } else if (w->ntalk > 0) {
            /* an answered call waits for an agent: it has one when the
             * desk is offered it, so one talk ends first */
            hang_up(w, 0);
            desk_pump(w, 500);
        } else {
            /* wait for the engine: a dial, an Offer or a drop */
            dialer_pump(w, 200);
            desk_pump(w, w->nwait ? 200 : 0);
        }
    }
    assert_int_equal(w->results, LEADS);
    /* the last answered calls reach agents or are dropped */
    t0 = harness_now_ms();
    while ((w->nwait > 0 || w->ntalk > 0) &&
           harness_now_ms() - t0 < E2E_T_MS) {
        desk_pump(w, 100);
        dialer_pump(w, 0);
        while (w->ntalk > 0)
            hang_up(w, 0);
    }
    assert_int_equal(w->nwait, 0);
    /* no lead is left: nothing more is dialed */
    assert_null(e2e_wait(&dl, BODY(DIAL_REQUEST), 0, 300));

    /* the engine's counters are the dialer's */
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "pd"));
    assert_int_equal(cs->dials, w->requests);
    assert_int_equal(cs->dials, LEADS);
    assert_int_equal(cs->human, w->out[OUT(HUMAN)]);
    assert_int_equal(cs->human, LEADS / 4);
    assert_int_equal(cs->no_answer, w->out[OUT(NO_ANSWER)]);
    assert_int_equal(cs->busy, w->out[OUT(BUSY)]);
    assert_int_equal(cs->machine, w->out[OUT(MACHINE)]);
    assert_int_equal(cs->failed, 0);
    assert_int_equal(cs->dropped, w->dropped);
    assert_int_equal(cs->connected, w->accepted);
    assert_int_equal(cs->connected + cs->dropped, cs->human);
    /* the abandon rate: the dialer's drops over its persons, under 3% */
    assert_true(cs->drop_rate * cs->human >= w->dropped - 0.001 &&
                cs->drop_rate * cs->human <= w->dropped + 0.001);
    assert_true(cs->drop_rate < 0.03);
    /* every lead was dialed once: done when reached, else exhausted */
    assert_int_equal(cs->leads_done, w->accepted);
    assert_int_equal(cs->leads_done + cs->leads_exhausted, LEADS);
    /* the agents' time on the calls: some, and at most four agents for
     * the whole run */
    assert_true(cs->agent_ms > 0);
    assert_true(cs->agent_ms <=
                (uint64_t)(harness_now_ms() - run0) * AGENTS);
    print_message("predictive: %d calls rang before any outcome, for %d "
                  "free agents; %d dials, %d persons, %d connected, "
                  "%d dropped (drop rate %.4f)\n", burst, AGENTS, w->requests,
                  w->out[OUT(HUMAN)], w->accepted, w->dropped,
                  cs->drop_rate);
    ccr_free(st);
    check_lead_events(f, LEADS, w->out[OUT(HUMAN)], w->accepted);

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
}

/* The abandon cap's guard end to end: a person answers while every
 * agent is away, the call is dropped (1 of 1 answered: past 80% of the
 * 3% cap), and from then on the campaign dials no more calls than agents
 * are free, as progressive would, where predictive had dialed ahead. */
static void test_predictive_guard(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    static struct world wd;
    struct world *w = &wd;
    char msg[256];
    const struct obfx_campaign pd = { .name = "pd", .queue = "sales",
                                      .mode = PREDICTIVE, .max_attempts = 1,
                                      .compliance_ms = 300,
                                      .ramp_up_ms = 100 };
    const Ccroute__V1__CampaignStats *cs;
    ccr_envelope *st, *cd;
    long long t0;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk", E2E_ROLE(AGENT), false);
    for (int i = 0; i < AGENTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i + 1);
        assert_int_equal(e2e_agent_login(&desk, id, "sales", 1, 1, 0), 0);
    }
    w->dl = &dl;
    w->desk = &desk;
    assert_int_equal(obfx_upsert(&adm, &pd, msg, sizeof(msg)), 0);
    add_leads(&adm, "pd", 100);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "pd"), 0);

    /* predictive dials ahead */
    t0 = harness_now_ms();
    while (w->npend <= AGENTS && harness_now_ms() - t0 < E2E_T_MS)
        dialer_pump(w, 200);
    assert_true(w->npend > AGENTS);

    /* every agent goes away; the first call is answered by a person and
     * dropped, the others are not answered */
    for (int i = 0; i < AGENTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i + 1);
        assert_int_equal(e2e_agent_state(&desk, id, AWAY, "break"), 0);
    }
    dialer_pump(w, 0);
    assert_int_equal(obfx_result(&dl, w->pend[w->phead++], OUT(HUMAN), NULL,
                                 0), 0);
    cd = e2e_expect(&dl, BODY(CALL_DROPPED), E2E_T_MS);
    ccr_free(cd);
    while (w->phead < w->npend) {
        assert_int_equal(obfx_result(&dl, w->pend[w->phead++],
                                     OUT(NO_ANSWER), NULL, 0), 0);
        dialer_pump(w, 0);
    }
    /* nothing rings now (no agent is free: no new dial) */
    assert_null(e2e_wait(&dl, BODY(DIAL_REQUEST), 0, 300));
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "pd"));
    assert_int_equal(cs->dropped, 1);
    assert_true(cs->drop_rate > 0.03);
    ccr_free(st);

    /* the agents are back: four calls ring for four free agents, and no
     * more (predictive had dialed more than four at the start) */
    for (int i = 0; i < AGENTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i + 1);
        assert_int_equal(e2e_agent_state(&desk, id, AVAILABLE, NULL), 0);
    }
    int before = w->npend;
    t0 = harness_now_ms();
    while (w->npend < before + AGENTS && harness_now_ms() - t0 < E2E_T_MS)
        dialer_pump(w, 200);
    assert_int_equal(w->npend, before + AGENTS);
    assert_null(e2e_wait(&dl, BODY(DIAL_REQUEST), 0, 500));

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
}

/* Stats.campaigns[pd].dials. */
static uint64_t dials(struct e2e_client *adm)
{
    ccr_envelope *st = e2e_stats(adm);
    const Ccroute__V1__CampaignStats *cs = obfx_camp_stats(st, "pd");
    uint64_t n;
    assert_non_null(cs);
    n = cs->dials;
    ccr_free(st);
    return n;
}

/* The ringing dials end unanswered, until none has come for 300 ms. */
static void drain_dials(struct e2e_client *dl)
{
    ccr_envelope *env;
    while ((env = e2e_wait(dl, BODY(DIAL_REQUEST), 0, 300))) {
        assert_int_equal(obfx_result(dl, env->dial_request->dial_id,
                                     OUT(NO_ANSWER), NULL, 0), 0);
        ccr_free(env);
    }
}

/* Waits until queue q's longest wait is at least ms (bounded). */
static void wait_longest(struct e2e_client *adm, const char *q, uint32_t ms)
{
    const char *const qs[1] = { q };
    long long t0 = harness_now_ms();
    bool ok = false;
    while (!ok && harness_now_ms() - t0 < ms + E2E_T_MS) {
        ccr_envelope *st = e2e_stats_queues(adm, qs, 1);
        assert_int_equal(st->stats->n_queues, 1);
        ok = st->stats->queues[0]->longest_wait_ms >= ms;
        ccr_free(st);
    }
    assert_true(ok);
}

/* Blending: a predictive campaign that blends with the inbound queue
 * care dials nothing while a caller waits there, and dials once care is
 * served within its service level; an inbound caller who comes while
 * dials ring stops new dials again; and so does a service level under
 * care's target plus the margin once nobody waits. */
static void test_predictive_blend(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk, desk2, sw;
    char msg[256];
    const struct obfx_campaign pd = { .name = "pd", .queue = "sales",
                                      .mode = PREDICTIVE, .max_attempts = 3,
                                      .blend = { "care" } };
    ccr_envelope *env;
    uint64_t d0;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk", E2E_ROLE(AGENT), false);
    e2e_open_hello(&desk2, d->port, "desk2", E2E_ROLE(AGENT), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    for (int i = 0; i < AGENTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i + 1);
        assert_int_equal(e2e_agent_login(&desk, id, "sales", 1, 1, 0), 0);
    }
    assert_int_equal(obfx_upsert(&adm, &pd, msg, sizeof(msg)), 0);
    add_leads(&adm, "pd", 50);

    /* a caller waits in care, which nobody serves yet: four free sales
     * agents, and no dial */
    assert_int_equal(e2e_contact(&sw, "in1", "care", E2E_VOICE), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "pd"), 0);
    assert_null(e2e_wait(&dl, BODY(DIAL_REQUEST), 0, 600));
    assert_int_equal(dials(&adm), 0);

    /* a care agent takes the caller at once: care is at 100% of its
     * target 80 (+5 margin), and dialing starts */
    assert_int_equal(e2e_agent_login(&desk2, "c1", "care", 1, 1, 0), 0);
    obfx_accept(&desk2, "in1", "c1");
    env = e2e_expect(&dl, BODY(DIAL_REQUEST), E2E_T_MS);
    ccr_free(env);

    /* another caller waits in care (its agent is busy): from the Ack on,
     * no new dial, whatever becomes of the ringing ones */
    assert_int_equal(e2e_contact(&sw, "in2", "care", E2E_VOICE), 0);
    d0 = dials(&adm);
    drain_dials(&dl);
    assert_int_equal(dials(&adm), d0);

    /* care is served again: dialing resumes */
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_COMPLETED), "in1", NULL),
                     0);
    obfx_accept(&desk2, "in2", "c1");
    env = e2e_expect(&dl, BODY(DIAL_REQUEST), E2E_T_MS);
    ccr_free(env);
    assert_true(dials(&adm) > d0);

    /* below its service level with nobody waiting: a third caller waits
     * past the 4 s of care's service level (in2 still has the agent),
     * then is answered: 2 of 3 in time, 67% < 80 + 5, and no new dial */
    assert_int_equal(e2e_contact(&sw, "in3", "care", E2E_VOICE), 0);
    d0 = dials(&adm);
    drain_dials(&dl);
    assert_int_equal(dials(&adm), d0);
    wait_longest(&adm, "care", 4500);
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_COMPLETED), "in2", NULL),
                     0);
    obfx_accept(&desk2, "in3", "c1");
    {
        static const char *const q[] = { "care" };
        ccr_envelope *st = e2e_stats_queues(&adm, q, 1);
        assert_int_equal(st->stats->queues[0]->waiting, 0);
        assert_true(st->stats->queues[0]->service_level < 0.7);
        ccr_free(st);
    }
    drain_dials(&dl);
    assert_int_equal(dials(&adm), d0);

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
    e2e_close(&desk2);
    e2e_close(&sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_predictive_paces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_predictive_guard, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_predictive_blend, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
