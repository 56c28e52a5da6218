/* test-outbound.c -- end to end: outbound campaigns on the real ccrouted
 * and a real redis-server (tests/e2e-util.h). The test plays the admin
 * (campaigns, leads, do-not-call), the dialer (it answers DialRequests
 * with scripted outcomes over the real protocol) and an agent desk.
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

#define EC(x) E2E_EC(x)

/* Sends env: its request id, 0 on a failed send. */
static uint64_t ccr_send(struct ccr_client *c, ccr_envelope *env)
{
    env->request_id = 0;
    return ccr_client_send(c, env) < 0 ? 0 : env->request_id;
}
#define BODY(x) E2E_BODY(x)

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    obfx_config_text(buf, len, redis_port, "ot",
                     "routing: {offer_timeout: 60s, max_no_answer: 100%s}\n"
                     "skills: [sales, care]\n"
                     "queues:\n"
                     "  - name: sales\n"
                     "    skills: {sales: 1}\n"
                     "  - name: care\n"
                     "    skills: {care: 1}\n"
                     "%s",
                     arg ? ((const char *const *)arg)[0] : "",
                     arg ? ((const char *const *)arg)[1] : "");
}

static int setup(void **state)
{
    return e2e_env_start(state, true, config_text, NULL);
}

/* Small input limits: at most 2 attributes of at most 24 bytes per
 * contact or lead; at most 3 do-not-call numbers. */
static const char *const small_limits[2] = {
    ", max_attributes: 2, max_attribute_bytes: 24",
    "limits: {max_dnc: 3}\n",
};

static int setup_small(void **state)
{
    return e2e_env_start(state, true, config_text, small_limits);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

/* ---- requests (tests/outbound-fx.h) ---- */

/* A campaign of the dialer "dlr" with a compliance time of 300 ms. */
static int upsert_mode(struct e2e_client *e, const char *name,
                       const char *queue, uint32_t max_attempts,
                       Ccroute__V1__DialMode mode, char *msg, size_t mlen)
{
    const struct obfx_campaign c = { .name = name, .queue = queue,
                                     .mode = mode,
                                     .max_attempts = max_attempts,
                                     .compliance_ms = 300 };
    return obfx_upsert(e, &c, msg, mlen);
}

static int upsert(struct e2e_client *e, const char *name, const char *queue,
                  uint32_t max_attempts, char *msg, size_t mlen)
{
    return upsert_mode(e, name, queue, max_attempts,
                       CCROUTE__V1__DIAL_MODE__DIAL_MODE_PROGRESSIVE, msg,
                       mlen);
}

static int dnc(struct e2e_client *e, bool add, const char *number)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__DncAdd m = CCROUTE__V1__DNC_ADD__INIT;
    char *nums[1] = { (char *)number };
    m.numbers = nums;
    m.n_numbers = 1;
    env.body_case = add ? BODY(DNC_ADD) : BODY(DNC_REMOVE);
    env.dnc_add = &m;           /* same shape as DncRemove */
    return e2e_call(e, &env, E2E_T_MS);
}

#define OUT(x) OBFX_OUT(x)

/* The next DialRequest to the dialer (fails the test after the default
 * timeout): its dial id, lead and contact id. */
static uint64_t next_dial(struct e2e_client *dl, char *lead, size_t llen,
                          char *contact, size_t clen)
{
    ccr_envelope *env = e2e_expect(dl, BODY(DIAL_REQUEST), E2E_T_MS);
    uint64_t id = env->dial_request->dial_id;
    assert_string_equal(env->dial_request->caller_id, "+15550000");
    assert_true(env->dial_request->dial_timeout_ms > 0);
    assert_int_equal(env->dial_request->n_attributes, 1);
    snprintf(lead, llen, "%s", env->dial_request->lead_id);
    snprintf(contact, clen, "%s", env->dial_request->contact_id);
    ccr_free(env);
    return id;
}

static void accept_offer(struct e2e_client *desk, const char *cid)
{
    ccr_envelope *o = e2e_wait_offer(desk, cid, E2E_T_MS);
    assert_non_null(o);
    assert_string_equal(o->offer->agent_id, "a1");
    /* the lead's attributes reach the agent's Offer, with its campaign
     * and lead; an answered call is not a preview */
    assert_true(o->offer->n_attributes >= 1);
    assert_string_equal(o->offer->campaign, "c1");
    assert_true(o->offer->lead_id[0] != '\0');
    assert_false(o->offer->preview);
    ccr_free(o);
    assert_int_equal(e2e_simple(desk, BODY(OFFER_ACCEPTED), cid, "a1"), 0);
}

/* Stats: campaign `arg` counts one lead exhausted. */
static bool one_exhausted(const ccr_envelope *st, const void *arg)
{
    const Ccroute__V1__CampaignStats *cs = obfx_camp_stats(st, arg);
    return cs && cs->leads_exhausted == 1;
}

/* Leads move through attempts and outcomes; an answered call reaches the
 * agent as an Offer; campaigns and leads survive kill -9 of the engine and
 * dialing resumes. */
static void test_campaign_end_to_end(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    char msg[384], lead1[64], lead2[64], c1[64], c2[64];
    const struct obfx_lead in[2] = {
        { "L1", "+15550001", "America/New_York" },
        { "L2", "+15550002", "Europe/Paris" },
    };
    ccr_envelope *st;
    const Ccroute__V1__CampaignStats *cs;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);

    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "c1", in, 2, msg, sizeof(msg)), 0);
    /* Ack is a promise: the campaign and its two leads are in Redis */
    assert_int_equal(peek_n(f->r, "ot", 'o'), 3);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "c1"), 0);

    /* progressive, one free agent: one dial; busy, then the next one */
    dial = next_dial(&dl, lead1, sizeof(lead1), c1, sizeof(c1));
    assert_int_equal(obfx_result(&dl, dial, OUT(BUSY), msg, sizeof(msg)), 0);
    dial = next_dial(&dl, lead2, sizeof(lead2), c2, sizeof(c2));
    assert_string_not_equal(c1, c2);
    /* answered by a person: a contact of the campaign's queue, offered
     * to the agent at once */
    assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    accept_offer(&desk, c2);
    ccr_free(e2e_expect(&dl, BODY(CONTACT_ASSIGNED), E2E_T_MS));

    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->run, CCROUTE__V1__CAMPAIGN_RUN__CAMPAIGN_RUN_RUNNING);
    assert_int_equal(cs->leads, 2);
    assert_int_equal(cs->busy, 1);
    assert_int_equal(cs->human, 1);
    assert_true(cs->dials >= 2);
    ccr_free(st);

    /* the stream says so, each entry in the batch of the lead's record:
     * the busy lead waits, the other one was answered */
    assert_true(obfx_lead_entry(f->r, "ot", "lead", lead1, "waiting", "busy",
                                0));
    assert_true(obfx_lead_entry(f->r, "ot", "lead", lead2, "active", "human",
                                0));
    /* the lead that was busy has one attempt in Redis */
    {
        char key[96], v[256];
        snprintf(key, sizeof(key), "l|c1|%s", lead1);
        assert_true(peek_field(f->r, "ot", 'o', key, "data", v, sizeof(v)));
        assert_int_equal(atoi(strchr(v, ' ') + 1), 1);
    }

    /* crash: the campaign (running), its leads and the answered call */
    harness_daemon_kill(d);
    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    e2e_expect_log(d, "loaded 3 outbound objects", 5000);
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello_retry(&dl, d->port, "dlr", E2E_ROLE(DIALER), true);
    e2e_open_hello_retry(&desk, d->port, "desk1", E2E_ROLE(AGENT), true);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->run, CCROUTE__V1__CAMPAIGN_RUN__CAMPAIGN_RUN_RUNNING);
    assert_int_equal(cs->leads, 2);
    /* the reached lead is done (its call is a recovered contact), the
     * busy one waits for its next attempt */
    assert_int_equal(cs->leads_done, 1);
    assert_int_equal(cs->leads_waiting + cs->leads_active, 1);
    ccr_free(st);

    /* the agent is still on the answered call; when it ends, the agent is
     * free and dialing resumes with the lead that was busy */
    assert_int_equal(e2e_simple(&dl, BODY(CONTACT_COMPLETED), c2, NULL), 0);
    dial = next_dial(&dl, lead2, sizeof(lead2), c1, sizeof(c1));
    assert_string_equal(lead2, lead1);
    assert_int_equal(obfx_result(&dl, dial, OUT(NO_ANSWER), msg, sizeof(msg)),
                     0);
    dial = next_dial(&dl, lead2, sizeof(lead2), c1, sizeof(c1));
    assert_string_equal(lead2, lead1);
    assert_int_equal(obfx_result(&dl, dial, OUT(MACHINE), msg, sizeof(msg)),
                     0);
    /* three attempts: exhausted, nothing more to dial */
    obfx_wait_stats(&adm, one_exhausted, "c1", E2E_T_MS);
    assert_null(e2e_wait(&dl, BODY(DIAL_REQUEST), 0, 300));

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
}

/* Bad input: each refused with a clear Error, nothing else touched. */
static void test_bad_input(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, other, desk, sw;
    char msg[384], lead[64], cid[64];
    const struct obfx_lead nonum[2] = {
        { "ok", "+15550009", "Asia/Tokyo" },
        { "bad", "", "Asia/Tokyo" },
    };
    const struct obfx_lead badzone[1] = {
        { "z", "+15550008", "Mars/Olympus" },
    };
    const struct obfx_lead good[1] = { { "g", "+15550007", "Europe/Paris" } };
    ccr_envelope *st;
    const Ccroute__V1__CampaignStats *cs;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&other, d->port, "dlr2", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);

    /* a campaign whose queue nobody could serve: accepted, warned */
    assert_int_equal(upsert(&adm, "c2", "care", 3, msg, sizeof(msg)), 0);
    e2e_expect_log(d, "campaign c2: no logged-in agent", 5000);
    assert_int_equal(upsert(&adm, "cx", "nowhere", 3, msg, sizeof(msg)),
                     EC(UNKNOWN_QUEUE));
    /* the supervisor's agent share cap: 1..100 (percent) */
    {
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__CampaignUpsert m = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
        m.name = "c4";
        m.queue = "sales";
        m.dialer = "dlr";
        m.agent_share_pct = 101;
        env.body_case = BODY(CAMPAIGN_UPSERT);
        env.campaign_upsert = &m;
        assert_int_equal(e2e_call(&adm, &env, E2E_T_MS), EC(INVALID_FIELD));
        m.agent_share_pct = 40;
        /* the ramp-up: 0.1..3600 s */
        m.ramp_up_ms = 99;
        assert_int_equal(e2e_call(&adm, &env, E2E_T_MS), EC(INVALID_FIELD));
        m.ramp_up_ms = 3600001;
        assert_int_equal(e2e_call(&adm, &env, E2E_T_MS), EC(INVALID_FIELD));
        m.ramp_up_ms = 100;
        assert_int_equal(e2e_call(&adm, &env, E2E_T_MS), 0);
        assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_STOP), "c4"), 0);
    }
    /* only the admin manages campaigns */
    assert_int_equal(upsert(&dl, "c3", "sales", 3, msg, sizeof(msg)),
                     EC(FORBIDDEN));

    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "nope"),
                     EC(UNKNOWN_CAMPAIGN));
    assert_int_equal(obfx_leads(&adm, "nope", good, 1, msg, sizeof(msg)),
                     EC(UNKNOWN_CAMPAIGN));
    assert_int_equal(obfx_leads(&adm, "c2", nonum, 2, msg, sizeof(msg)),
                     EC(INVALID_LEAD));
    assert_non_null(strstr(msg, "no number"));
    assert_int_equal(obfx_leads(&adm, "c2", badzone, 1, msg, sizeof(msg)),
                     EC(INVALID_LEAD));
    assert_non_null(strstr(msg, "time zone"));
    /* nothing of the refused batches: the campaigns c2 and c4 only */
    assert_int_equal(peek_n(f->r, "ot", 'o'), 2);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c2"));
    assert_int_equal(cs->leads, 0);
    ccr_free(st);

    assert_int_equal(obfx_result(&dl, 12345, OUT(BUSY), msg, sizeof(msg)),
                     EC(UNKNOWN_DIAL));
    /* the engine's fields of ContactArrived are not the client's */
    {
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
        m.contact_id = "x1";
        m.queue = "sales";
        m.campaign = "c2";
        env.body_case = BODY(CONTACT_ARRIVED);
        env.contact_arrived = &m;
        assert_int_equal(e2e_call(&sw, &env, E2E_T_MS), EC(INVALID_FIELD));
    }

    /* do-not-call: a listed number is never dialed */
    assert_int_equal(dnc(&adm, true, "+15550007"), 0);
    assert_int_equal(peek_has(f->r, "ot", 'o', "n|+15550007"),
                     1);
    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    const struct obfx_lead two[2] = {
        { "d", "+15550007", "Europe/Paris" },
        { "e", "+15550006", "Europe/Paris" },
    };
    assert_int_equal(obfx_leads(&adm, "c1", two, 2, msg, sizeof(msg)), 0);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "c1"), 0);
    dial = next_dial(&dl, lead, sizeof(lead), cid, sizeof(cid));
    assert_string_equal(lead, "e");
    /* a result from another dialer than the one asked: refused, the dial
     * is untouched and its own dialer's result is taken */
    assert_int_equal(obfx_result(&other, dial, OUT(BUSY), msg, sizeof(msg)),
                     EC(NOT_DIALER));
    assert_int_equal(obfx_result(&dl, dial, OUT(FAILED), msg, sizeof(msg)), 0);
    /* twice: the dial is over */
    assert_int_equal(obfx_result(&dl, dial, OUT(FAILED), msg, sizeof(msg)),
                     EC(UNKNOWN_DIAL));
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->leads_dnc, 1);
    assert_int_equal(cs->failed, 1);
    assert_int_equal(cs->busy, 0);
    ccr_free(st);
    /* in the event stream: the lead found on the do-not-call set, the
     * other one's dial and its failure (waiting for its retry) */
    assert_true(obfx_lead_entry(f->r, "ot", "lead", "d", "dnc", NULL,
                                E2E_T_MS));
    assert_true(obfx_lead_entry(f->r, "ot", "lead_dial", "e", "active",
                                NULL, 0));
    assert_true(obfx_lead_entry(f->r, "ot", "lead", "e", "waiting",
                                "failed", 0));

    /* an answered call that no agent takes within the compliance time is
     * dropped: the dialer is told (the failed lead is retried at once) */
    dial = next_dial(&dl, lead, sizeof(lead), cid, sizeof(cid));
    assert_int_equal(e2e_agent_state(&desk, "a1",
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                                     "break"), 0);
    assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    {
        ccr_envelope *cd = e2e_expect(&dl, BODY(CALL_DROPPED), E2E_T_MS);
        assert_int_equal(cd->call_dropped->dial_id, dial);
        assert_string_equal(cd->call_dropped->contact_id, cid);
        ccr_free(cd);
    }
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->dropped, 1);
    assert_true(cs->drop_rate > 0.99);
    ccr_free(st);

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&other);
    e2e_close(&desk);
    e2e_close(&sw);
}

/* The next Offer to the desk: a preview of campaign pv; its contact id
 * and lead. */
static void next_preview(struct e2e_client *desk, char *cid, size_t clen,
                         char *lead, size_t llen)
{
    ccr_envelope *o = e2e_wait_offer(desk, NULL, E2E_T_MS);
    assert_non_null(o);
    assert_true(o->offer->preview);
    assert_string_equal(o->offer->campaign, "pv");
    assert_true(o->offer->number[0] == '+');
    assert_int_equal(o->offer->n_attributes, 1);
    snprintf(cid, clen, "%s", o->offer->contact_id);
    snprintf(lead, llen, "%s", o->offer->lead_id);
    ccr_free(o);
}

/* The attempts of lead `id` of campaign pv in Redis. */
static int attempts(struct e2e_env *f, const char *id)
{
    char key[96], v[256];
    snprintf(key, sizeof(key), "l|pv|%s", id);
    assert_true(peek_field(f->r, "ot", 'o', key, "data", v, sizeof(v)));
    return atoi(strchr(v, ' ') + 1);
}

/* Preview: the agent is offered the lead before any dial; a skip
 * (OfferRejected) makes it due again without an attempt; an accept
 * dials, and the answered call is the agent's at once; an unanswered
 * one frees the agent. */
static void test_preview(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    char msg[384], cid[64], lead[64], skipped[64], dcid[64], dlead[64];
    const struct obfx_lead in[2] = {
        { "P1", "+15550101", "Europe/Paris" },
        { "P2", "+15550102", "Europe/Paris" },
    };
    ccr_envelope *st, *env;
    const Ccroute__V1__CampaignStats *cs;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(upsert_mode(&adm, "pv", "sales", 3,
                                 CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREVIEW,
                                 msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "pv", in, 2, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "pv"), 0);

    /* offered before any dial; skipped: no dial, no attempt */
    next_preview(&desk, cid, sizeof(cid), skipped, sizeof(skipped));
    assert_null(e2e_wait(&dl, BODY(DIAL_REQUEST), 0, 300));
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_REJECTED), cid, "a1"), 0);
    assert_int_equal(attempts(f, skipped), 0);

    /* the other lead next; accepted: the dialer dials it, for the
     * contact the agent has */
    next_preview(&desk, cid, sizeof(cid), lead, sizeof(lead));
    assert_string_not_equal(lead, skipped);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), cid, "a1"), 0);
    dial = next_dial(&dl, dlead, sizeof(dlead), dcid, sizeof(dcid));
    assert_string_equal(dlead, lead);
    assert_string_equal(dcid, cid);
    assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "pv"));
    assert_int_equal(cs->human, 1);
    assert_int_equal(cs->connected, 1);
    assert_int_equal(cs->dials, 1);
    ccr_free(st);
    /* the call ends: the agent is free, the skipped lead comes again */
    assert_int_equal(e2e_simple(&dl, BODY(CONTACT_COMPLETED), cid, NULL), 0);
    next_preview(&desk, cid, sizeof(cid), lead, sizeof(lead));
    assert_string_equal(lead, skipped);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), cid, "a1"), 0);
    dial = next_dial(&dl, dlead, sizeof(dlead), dcid, sizeof(dcid));
    /* busy: the contact leaves the agent (told), an attempt counts */
    assert_int_equal(obfx_result(&dl, dial, OUT(BUSY), msg, sizeof(msg)), 0);
    env = e2e_expect(&desk, BODY(OFFER_REVOKED), E2E_T_MS);
    assert_string_equal(env->offer_revoked->contact_id, cid);
    ccr_free(env);
    assert_int_equal(attempts(f, skipped), 1);
    /* the agent is free again: the lead is previewed again after its
     * retry delay */
    next_preview(&desk, cid, sizeof(cid), lead, sizeof(lead));
    assert_string_equal(lead, skipped);

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
}

/* A preview out to an agent when the engine is killed is not dialed:
 * its contact is removed after the restart and the lead is previewed
 * again, as a new contact. */
static void test_preview_survives_kill(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    char msg[384], cid[64], lead[64], cid2[64], lead2[64];
    const struct obfx_lead in[1] = { { "K1", "+15550201", "Europe/Paris" } };

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(upsert_mode(&adm, "pv", "sales", 3,
                                 CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREVIEW,
                                 msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "pv", in, 1, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "pv"), 0);
    next_preview(&desk, cid, sizeof(cid), lead, sizeof(lead));
    assert_string_equal(lead, "K1");

    harness_daemon_kill(d);
    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));
    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello_retry(&dl, d->port, "dlr", E2E_ROLE(DIALER), true);
    e2e_open_hello_retry(&desk, d->port, "desk1", E2E_ROLE(AGENT), true);

    /* the lead again, as a new preview contact; the old one is gone */
    next_preview(&desk, cid2, sizeof(cid2), lead2, sizeof(lead2));
    assert_string_equal(lead2, "K1");
    assert_string_not_equal(cid2, cid);
    assert_int_equal(e2e_simple(&dl, BODY(CONTACT_ABANDONED), cid, NULL),
                     EC(UNKNOWN_CONTACT));
    /* and it is dialed when accepted */
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), cid2, "a1"), 0);
    {
        char dlead[64], dcid[64];
        uint64_t dial = next_dial(&dl, dlead, sizeof(dlead), dcid,
                                  sizeof(dcid));
        assert_string_equal(dcid, cid2);
        assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    }

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
}

/* The dialer is the connection of the campaign's dialer name with role
 * DIALER or SWITCH (proto/README.md): a connection of that name with
 * another role (here a monitor, which could never answer with a
 * DialResult) gets no DialRequest -- no lead's number -- and the campaign
 * dials nothing while only it is there. Two campaigns share the queue's
 * one free agent, the higher priority first: the one whose "dialer" is a
 * monitor must leave the agent to the other. */
static void test_dialer_role(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, mon, desk;
    char msg[384], lead[64], cid[64];
    const struct obfx_lead hi[1] = { { "h1", "+15550031", "Europe/Paris" } };
    const struct obfx_lead lo[1] = { { "o1", "+15550032", "Europe/Paris" } };
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignUpsert m = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&mon, d->port, "mon", E2E_ROLE(MONITOR), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);

    /* "lo": the ordinary dialer, priority 0 */
    assert_int_equal(upsert(&adm, "lo", "sales", 3, msg, sizeof(msg)), 0);
    /* "hi": priority 100, its dialer name held by a monitor */
    m.name = "hi";
    m.queue = "sales";
    m.dialer = "mon";
    m.caller_id = "+15550000";
    m.window_end_hour = 24;
    m.priority = 100;
    env.body_case = BODY(CAMPAIGN_UPSERT);
    env.campaign_upsert = &m;
    assert_int_equal(e2e_call(&adm, &env, E2E_T_MS), 0);
    assert_int_equal(obfx_leads(&adm, "hi", hi, 1, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "lo", lo, 1, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "hi"), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "lo"), 0);

    /* the agent goes to "lo"; the monitor was sent nothing */
    next_dial(&dl, lead, sizeof(lead), cid, sizeof(cid));
    assert_string_equal(lead, "o1");
    assert_null(e2e_wait(&mon, BODY(DIAL_REQUEST), 0, 0));

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&mon);
    e2e_close(&desk);
}

/* Contact ids "ob-..." are the engine's: the contact ids of answered
 * calls are predictable (the dialer and the agent see them), so a client
 * that took the next one first with its own ContactArrived would make the
 * engine refuse the call a person just answered. */
static void test_outbound_ids_reserved(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk, sw;
    char msg[384], lead[64], c1[64], c2[64], next[80];
    const struct obfx_lead two[2] = {
        { "r1", "+15550041", "Europe/Paris" },
        { "r2", "+15550042", "Europe/Paris" },
    };
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    uint64_t dial;
    const char *dash;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "c1", two, 2, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "c1"), 0);

    dial = next_dial(&dl, lead, sizeof(lead), c1, sizeof(c1));
    /* "ob-<base>-<n>": the next dial's contact is "ob-<base>-<n+1>" */
    assert_non_null(dash = strrchr(c1, '-'));
    snprintf(next, sizeof(next), "%.*s-%lld", (int)(dash - c1), c1,
             atoll(dash + 1) + 1);
    m.contact_id = next;
    m.queue = "care";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(e2e_call(&sw, &env, E2E_T_MS), EC(INVALID_FIELD));

    assert_int_equal(obfx_result(&dl, dial, OUT(BUSY), msg, sizeof(msg)), 0);
    dial = next_dial(&dl, lead, sizeof(lead), c2, sizeof(c2));
    assert_string_equal(c2, next);
    /* the person who answered reaches the agent */
    assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    accept_offer(&desk, c2);

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
    e2e_close(&sw);
}

/* CallDropped goes to the dialer that placed the call, even when the
 * campaign was given another dialer since: the one that holds the line
 * must hang up (with the message the law asks for). */
static void test_drop_to_its_dialer(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, dl2, desk;
    char msg[384], lead[64], cid[64];
    const struct obfx_lead one[1] = { { "p1", "+15550051", "Europe/Paris" } };
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignUpsert m = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
    ccr_envelope *cd;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&dl2, d->port, "dlr2", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "c1", one, 1, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "c1"), 0);
    dial = next_dial(&dl, lead, sizeof(lead), cid, sizeof(cid));

    /* the agent leaves; the campaign moves to the second dialer while the
     * first one's call rings */
    assert_int_equal(e2e_agent_state(&desk, "a1",
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                                     "break"), 0);
    m.name = "c1";
    m.queue = "sales";
    m.dialer = "dlr2";
    m.caller_id = "+15550000";
    m.window_end_hour = 24;
    m.compliance_ms = 300;
    env.body_case = BODY(CAMPAIGN_UPSERT);
    env.campaign_upsert = &m;
    assert_int_equal(e2e_call(&adm, &env, E2E_T_MS), 0);

    /* answered, no agent: dropped, and the first dialer is told */
    assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    cd = e2e_expect(&dl, BODY(CALL_DROPPED), E2E_T_MS);
    assert_int_equal(cd->call_dropped->dial_id, dial);
    assert_string_equal(cd->call_dropped->contact_id, cid);
    ccr_free(cd);
    assert_null(e2e_wait(&dl2, BODY(CALL_DROPPED), 0, 0));

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&dl2);
    e2e_close(&desk);
}


/* An answered call that an agent accepts and the dialer completes at once
 * -- all between two pacing turns -- counts as connected, not dropped, and
 * the dialer gets no CallDropped: the engine learns that the call reached
 * an agent when the Offer goes out, not at its next pacing turn. */
static void test_fast_call_connected(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    char msg[384], lead[64], cid[64];
    const struct obfx_lead one[1] = { { "f1", "+15550061", "Europe/Paris" } };
    const Ccroute__V1__CampaignStats *cs;
    ccr_envelope *st;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "c1", one, 1, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_START), "c1"), 0);

    dial = next_dial(&dl, lead, sizeof(lead), cid, sizeof(cid));
    assert_int_equal(obfx_result(&dl, dial, OUT(HUMAN), msg, sizeof(msg)),
                     0);
    accept_offer(&desk, cid);
    assert_int_equal(e2e_simple(&dl, BODY(CONTACT_COMPLETED), cid, NULL), 0);
    /* past the compliance time (300 ms): still no drop */
    assert_null(e2e_wait(&dl, BODY(CALL_DROPPED), 0, 800));
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->human, 1);
    assert_int_equal(cs->connected, 1);
    assert_int_equal(cs->dropped, 0);
    ccr_free(st);

    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
}

/* LeadsAdd is safe to retry: a resent batch (its Ack lost) is Acked and
 * adds nothing; the same id with another number is refused, nothing of
 * its batch added. */
static void test_leads_resend(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm;
    char msg[384];
    const struct obfx_lead two[2] = {
        { "r1", "+15550101", "Europe/Paris" },
        { "r2", "+15550102", "Asia/Tokyo" },
    };
    /* a new lead first, then r1 changed: all or none */
    const struct obfx_lead changed[2] = {
        { "r3", "+15550103", "Europe/Paris" },
        { "r1", "+15550199", "Europe/Paris" },
    };
    /* a resend with one new lead: the new one is added */
    const struct obfx_lead more[3] = {
        { "r1", "+15550101", "Europe/Paris" },
        { "r2", "+15550102", "Asia/Tokyo" },
        { "r4", "+15550104", "Asia/Tokyo" },
    };
    ccr_envelope *st;
    const Ccroute__V1__CampaignStats *cs;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_leads(&adm, "c1", two, 2, msg, sizeof(msg)), 0);
    assert_int_equal(peek_n(f->r, "ot", 'o'), 3);
    /* the same batch again: Acked, nothing duplicated */
    assert_int_equal(obfx_leads(&adm, "c1", two, 2, msg, sizeof(msg)), 0);
    assert_int_equal(peek_n(f->r, "ot", 'o'), 3);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->leads, 2);
    ccr_free(st);
    /* r1 with another number: refused, naming it; r3 is not added */
    assert_int_equal(obfx_leads(&adm, "c1", changed, 2, msg, sizeof(msg)),
                     EC(INVALID_LEAD));
    assert_non_null(strstr(msg, "leads[1] (r1)"));
    assert_non_null(strstr(msg, "already in the campaign"));
    assert_int_equal(peek_n(f->r, "ot", 'o'), 3);
    assert_int_equal(peek_has(f->r, "ot", 'o', "l|c1|r3"), 0);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->leads, 2);
    ccr_free(st);
    assert_int_equal(obfx_leads(&adm, "c1", more, 3, msg, sizeof(msg)), 0);
    assert_int_equal(peek_n(f->r, "ot", 'o'), 4);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->leads, 3);
    ccr_free(st);
    e2e_close(&adm);
}

/* One lead "q" with n attributes key "k<i>", value v. */
static int lead_attrs(struct e2e_client *e, const char *camp, size_t n,
                      const char *v, char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__LeadsAdd m = CCROUTE__V1__LEADS_ADD__INIT;
    Ccroute__V1__Lead l = CCROUTE__V1__LEAD__INIT, *lp = &l;
    Ccroute__V1__Attribute at[4], *atp[4];
    char keys[4][4];
    uint64_t id;
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        ccroute__v1__attribute__init(&at[i]);
        keys[i][0] = 'k';
        keys[i][1] = (char)('0' + i);
        keys[i][2] = '\0';
        at[i].key = keys[i];
        at[i].value = (char *)v;
        atp[i] = &at[i];
    }
    l.lead_id = "q";
    l.number = "+15550301";
    l.time_zone = "Europe/Paris";
    l.attributes = atp;
    l.n_attributes = n;
    m.campaign = (char *)camp;
    m.leads = &lp;
    m.n_leads = 1;
    env.body_case = BODY(LEADS_ADD);
    env.leads_add = &m;
    if (!(id = ccr_send(e->c, &env)))
        return -EPIPE;
    return e2e_reply_msg(e, id, E2E_T_MS, msg, mlen);
}

/* A lead's attributes become the contact's: routing.max_attributes and
 * max_attribute_bytes hold for them as for a ContactArrived. */
static void test_lead_attribute_limits(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm;
    char msg[384];
    ccr_envelope *st;
    const Ccroute__V1__CampaignStats *cs;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    assert_int_equal(upsert(&adm, "c1", "sales", 3, msg, sizeof(msg)), 0);
    assert_int_equal(lead_attrs(&adm, "c1", 3, "v", msg, sizeof(msg)),
                     EC(INVALID_FIELD));
    assert_non_null(strstr(msg, "LeadsAdd.leads[0].attributes: 3 "
                                "attributes, at most 2"));
    assert_int_equal(lead_attrs(&adm, "c1", 2, "0123456789a", msg,
                                sizeof(msg)), EC(INVALID_FIELD));
    assert_non_null(strstr(msg, "26 bytes of keys and values, at most 24"));
    assert_int_equal(peek_n(f->r, "ot", 'o'), 1);
    /* at the limits: taken */
    assert_int_equal(lead_attrs(&adm, "c1", 2, "0123456789", msg,
                                sizeof(msg)), 0);
    assert_int_equal(peek_n(f->r, "ot", 'o'), 2);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "c1"));
    assert_int_equal(cs->leads, 1);
    ccr_free(st);
    e2e_close(&adm);
}

/* DncAdd of n numbers: the Error code (0: Ack), its words in msg. */
static int dnc_n(struct e2e_client *e, const char *const *nums, size_t n,
                 char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__DncAdd m = CCROUTE__V1__DNC_ADD__INIT;
    uint64_t id;
    m.numbers = (char **)nums;
    m.n_numbers = n;
    env.body_case = BODY(DNC_ADD);
    env.dnc_add = &m;
    if (!(id = ccr_send(e->c, &env)))
        return -EPIPE;
    return e2e_reply_msg(e, id, E2E_T_MS, msg, mlen);
}

/* limits.max_dnc bounds the do-not-call set; a DncAdd that would pass
 * it adds nothing, in memory or in Redis. */
static void test_dnc_limit(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm;
    char msg[384];
    const char *const ab[2] = { "+15550401", "+15550402" };
    /* c fits (3 of 3), d does not: c must not stay either */
    const char *const acd[3] = { "+15550401", "+15550403", "+15550404" };
    const char *const e1[1] = { "+15550405" };
    const char *const f1[1] = { "+15550406" };

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    assert_int_equal(dnc_n(&adm, ab, 2, msg, sizeof(msg)), 0);
    assert_int_equal(dnc_n(&adm, ab, 2, msg, sizeof(msg)), 0);
    assert_int_equal(dnc_n(&adm, acd, 3, msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    assert_non_null(strstr(msg, "limits.max_dnc"));
    assert_int_equal(peek_n(f->r, "ot", 'o'), 2);
    assert_int_equal(peek_has(f->r, "ot", 'o', "n|+15550403"),
                     0);
    /* the set still has room for exactly one: +15550403 went back out */
    assert_int_equal(dnc_n(&adm, e1, 1, msg, sizeof(msg)), 0);
    assert_int_equal(dnc_n(&adm, f1, 1, msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    assert_int_equal(peek_n(f->r, "ot", 'o'), 3);
    /* a removal makes room */
    assert_int_equal(dnc(&adm, false, "+15550401"), 0);
    assert_int_equal(dnc_n(&adm, f1, 1, msg, sizeof(msg)), 0);
    assert_int_equal(peek_n(f->r, "ot", 'o'), 3);
    e2e_close(&adm);
}

/* ---- campaigns of the configuration (campaign-config.h) ---- */

static const char *const file_campaign[2] = {
    "",
    "campaigns:\n"
    "  - name: cf\n"
    "    queue: sales\n"
    "    dialer: dlr\n"
    "    caller_id: \"+15550000\"\n"
    "    max_attempts: 2\n"
    "    window_start_hour: 0\n"     /* any time of day: the test's */
    "    window_end_hour: 24\n"
    "    compliance: 300ms\n"
    "    start: true\n",
};

static int setup_file_campaign(void **state)
{
    return e2e_env_start(state, true, config_text, file_campaign);
}

/* The stored record of campaign `name`: its run byte and max_attempts
 * (the record is the run byte and a packed CampaignUpsert). */
static void stored_campaign(redisContext *r, const char *name, char *run,
                            uint32_t *max_attempts)
{
    char member[128];
    snprintf(member, sizeof(member), "k|%s", name);
    struct peek *p = peek_read(r, "ot");
    size_t len = 0;
    const char *d = peek_get(peek_find(p, 'o', member), "data", &len);
    Ccroute__V1__CampaignUpsert *m;
    assert_non_null(d);
    assert_true(len > 1);
    *run = d[0];
    m = ccroute__v1__campaign_upsert__unpack(NULL, len - 1,
                                             (const uint8_t *)d + 1);
    assert_non_null(m);
    *max_attempts = m->max_attempts;
    ccroute__v1__campaign_upsert__free_unpacked(m, NULL);
    peek_free(p);
}

/* Polls Redis (bounded) until campaign `name`'s record holds
 * max_attempts `want`: the engine writes it in its own loop turn, on
 * another connection than the test's. Its run byte in *run. */
static void wait_stored(redisContext *r, const char *name, uint32_t want,
                        char *run)
{
    long long t0 = harness_now_ms();
    uint32_t att = 0;
    for (;;) {
        char member[128];
        snprintf(member, sizeof(member), "k|%s", name);
        bool there = peek_has(r, "ot", 'o', member);
        if (there) {
            stored_campaign(r, name, run, &att);
            if (att == want)
                return;
        }
        if (harness_now_ms() - t0 > E2E_T_MS)
            fail_msg("campaign %s: max_attempts %u in Redis, never %u", name,
                     att, want);
        harness_pause_ms(5);
    }
}

/* The run state of `name` in Stats, once it shows (bounded wait): the
 * engine applies the file when it owns the tenant, after recovery. */
static int wait_campaign(struct e2e_client *adm, const char *name)
{
    long long t0 = harness_now_ms();
    int run = -1;
    while (run < 0 && harness_now_ms() - t0 < E2E_T_MS) {
        ccr_envelope *st = e2e_stats(adm);
        const Ccroute__V1__CampaignStats *cs = obfx_camp_stats(st, name);
        if (cs)
            run = (int)cs->run;
        ccr_free(st);
    }
    return run;
}

/* A campaign of the file: in Stats and Redis after the start, running
 * (start: true), it dials to its dialer once given leads; a change made
 * through the protocol lasts until the engine next owns the tenant, when
 * the file's definition wins again; leads and the run state a supervisor
 * set survive kill -9. */
static void test_file_campaign(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, dl, desk;
    char msg[384], lead[64], cid[64], run;
    const struct obfx_lead in[1] = {
        { "L1", "+15550001", "America/New_York" },
    };
    const struct obfx_campaign more = { .name = "cf", .queue = "sales",
                                        .max_attempts = 5,
                                        .compliance_ms = 300 };
    const Ccroute__V1__CampaignStats *cs;
    ccr_envelope *st;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    assert_int_equal(wait_campaign(&adm, "cf"),
                     CCROUTE__V1__CAMPAIGN_RUN__CAMPAIGN_RUN_RUNNING);
    wait_stored(f->r, "cf", 2, &run);
    assert_int_equal(run, '1');

    e2e_open_hello(&dl, d->port, "dlr", E2E_ROLE(DIALER), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(obfx_leads(&adm, "cf", in, 1, msg, sizeof(msg)), 0);
    dial = next_dial(&dl, lead, sizeof(lead), cid, sizeof(cid));
    assert_string_equal(lead, "L1");
    assert_int_equal(obfx_result(&dl, dial, OUT(BUSY), msg, sizeof(msg)), 0);

    /* the protocol may change it; a supervisor pauses it */
    assert_int_equal(obfx_upsert(&adm, &more, msg, sizeof(msg)), 0);
    assert_int_equal(obfx_run(&adm, BODY(CAMPAIGN_PAUSE), "cf"), 0);
    wait_stored(f->r, "cf", 5, &run);     /* acknowledged: already there */
    assert_int_equal(run, '2');

    harness_daemon_kill(d);
    e2e_close(&adm);
    e2e_close(&dl);
    e2e_close(&desk);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    /* recovery read the campaign and its lead, then the file applied */
    e2e_expect_log(d, "loaded 2 outbound objects", 5000);

    /* the file's definition again, in Redis (the log spans both starts:
     * the record itself is the condition); its lead and its paused state
     * kept (start: true runs only a campaign the file creates) */
    wait_stored(f->r, "cf", 2, &run);
    assert_int_equal(run, '2');
    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "cf"));
    assert_int_equal(cs->run, CCROUTE__V1__CAMPAIGN_RUN__CAMPAIGN_RUN_PAUSED);
    assert_int_equal(cs->leads, 1);
    ccr_free(st);

    /* a reload: cf changed, cg added (and started) the same way */
    {
        static const char *const changed[2] = {
            "",
            "campaigns:\n"
            "  - {name: cf, queue: sales, dialer: dlr, max_attempts: 4,\n"
            "     window_start_hour: 0, window_end_hour: 24}\n"
            "  - {name: cg, queue: care, dialer: dlr, start: true}\n",
        };
        char text[4096];
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__ConfigReload m = CCROUTE__V1__CONFIG_RELOAD__INIT;
        FILE *fp = fopen(d->config, "w");
        config_text(text, sizeof(text), f->redis.port, changed);
        assert_non_null(fp);
        fputs(text, fp);
        assert_int_equal(fclose(fp), 0);
        env.body_case = BODY(CONFIG_RELOAD);
        env.config_reload = &m;
        assert_int_equal(ccr_client_send(adm.c, &env), 0);
        assert_int_equal(e2e_reply_msg(&adm, env.request_id, E2E_T_MS, msg,
                                       sizeof(msg)), 0);
    }
    wait_stored(f->r, "cf", 4, &run);
    assert_int_equal(run, '2');         /* still paused: leads kept */
    assert_int_equal(wait_campaign(&adm, "cg"),
                     CCROUTE__V1__CAMPAIGN_RUN__CAMPAIGN_RUN_RUNNING);
    wait_stored(f->r, "cg", 3, &run);     /* the default max_attempts */
    assert_int_equal(run, '1');
    st = e2e_stats(&adm);
    assert_non_null(cs = obfx_camp_stats(st, "cf"));
    assert_int_equal(cs->leads, 1);
    ccr_free(st);
    e2e_close(&adm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_campaign_end_to_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_campaign,
                                        setup_file_campaign, teardown),
        cmocka_unit_test_setup_teardown(test_dialer_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbound_ids_reserved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drop_to_its_dialer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fast_call_connected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_preview, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preview_survives_kill, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_leads_resend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lead_attribute_limits,
                                        setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_dnc_limit, setup_small,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
