/* test-journal.c -- `redis.layout: journal` end to end: the real ccrouted
 * on a real redis-server (tests/e2e-util.h), crashed with SIGKILL and
 * restarted; what it recovers from the journal is what the per-key layout
 * gives back (the same scenarios run on both layouts where it matters).
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
#include "journal.h"
#include "storebatch.h"
#include "store-peek.h"

/* ---- packing and replay, in process ---- */

/* Every op kind of storebatch.h, binary and empty fields among them, is
 * packed as its arguments: the opcode, then the other arguments as
 * fields, byte for byte; an appended batch packs as the two one after
 * the other. */
static void test_pack_roundtrip(void **state)
{
    (void)state;
    struct storebatch a, b;
    storebatch_init(&a);
    storebatch_init(&b);
    static const uint8_t blob[] = { 0, 1, 2, 0xff, '\n', 0 };
    assert_int_equal(storebatch_contact_arrived(&a, "c1", blob, sizeof(blob),
                                                1234567, 7, "sw", NULL), 0);
    assert_int_equal(storebatch_contact_state(&a, "c1", 2, "q", "a1", 99), 0);
    assert_int_equal(storebatch_contact_gone(&a, "c1", 4), 0);
    assert_int_equal(storebatch_agent_login(&a, "a1", blob, 3, "", "p"), 0);
    assert_int_equal(storebatch_agent_state(&a, "a1", 2, "lunch", 5), 0);
    assert_int_equal(storebatch_agent_logout(&a, "a1"), 0);
    assert_int_equal(storebatch_event(&a, "queued", "c1", NULL, "q", 8, ""),
                     0);
    assert_int_equal(storebatch_event_disposition(&a, "gone", "c1", "a1", "q",
                                                  9, "completed", "sale",
                                                  "x,y", "n1", true,
                                                  "widget"), 0);
    assert_int_equal(storebatch_queue(&b, "q", 0), 0);
    assert_int_equal(storebatch_ob_put(&b, "k|camp", 0, blob, sizeof(blob)),
                     0);
    assert_int_equal(storebatch_ob_del(&b, "k|camp"), 0);
    assert_int_equal(storebatch_clear(&b), 0);
    assert_int_equal(storebatch_contact_new(&b, "c2", blob, 2, 1, 2, "o",
                                            "p", 1, "q", "", 0), 0);
    assert_int_equal(storebatch_lead_event(&b, "lead_dial", "camp", "l1",
                                           "ob-1", "active", 1, "", 77), 0);
    assert_int_equal(storebatch_agent_new(&b, "a2", blob, 2, "o", "p", 1, "",
                                          3), 0);
    size_t na = a.nops, nb = b.nops;
    struct journal_buf pa = { 0 }, pb = { 0 }, pab = { 0 };
    assert_int_equal(journal_pack(&a, &pa), 0);
    assert_int_equal(journal_pack(&b, &pb), 0);
    assert_int_equal(storebatch_append(&a, &b), 0);
    assert_int_equal(a.nops, na + nb);
    assert_int_equal(journal_pack(&a, &pab), 0);
    assert_int_equal(pab.len, pa.len + pb.len);
    assert_memory_equal(pab.p, pa.p, pa.len);
    assert_memory_equal(pab.p + pa.len, pb.p, pb.len);

    const uint8_t *p = pab.p, *end = pab.p + pab.len;
    struct journal_op op;
    size_t arg = 0, k = 0;
    while (journal_next(&p, end, &op) == 1) {
        size_t l;
        const char *code = storebatch_arg(&a, arg++, &l);
        assert_int_equal(l, 1);
        assert_int_equal(op.code, (uint8_t)code[0]);
        for (size_t i = 0; i < op.nf; i++) {
            const char *f = storebatch_arg(&a, arg++, &l);
            assert_int_equal(op.fl[i], l);
            if (l)
                assert_memory_equal(op.f[i], f, l);
        }
        k++;
    }
    assert_int_equal(k, na + nb);
    assert_int_equal(arg, a.nargs);
    assert_true(p == end);
    /* truncated: malformed, never read past the end */
    p = pab.p;
    end = pab.p + 5;
    int rc;
    while ((rc = journal_next(&p, end, &op)) == 1)
        ;
    assert_int_equal(rc, -1);
    journal_buf_free(&pa);
    journal_buf_free(&pb);
    journal_buf_free(&pab);
    storebatch_free(&a);
    storebatch_free(&b);
}

struct seen {
    char line[2048];
    size_t at;
};

static void v_ob(void *arg, const char *m, size_t ml, const uint8_t *d,
                 size_t dl)
{
    struct seen *s = arg;
    s->at += (size_t)snprintf(s->line + s->at, sizeof(s->line) - s->at,
                              "ob %.*s %.*s;", (int)ml, m, (int)dl,
                              (const char *)d);
}

static void v_agent(void *arg, const uint8_t *login, size_t len, int state,
                    const char *reason, const char *owner,
                    const char *principal)
{
    struct seen *s = arg;
    s->at += (size_t)snprintf(s->line + s->at, sizeof(s->line) - s->at,
                              "agent %.*s %d %s %s %s;", (int)len,
                              (const char *)login, state, reason, owner,
                              principal);
}

static void v_contact(void *arg, const struct journal_contact *c)
{
    struct seen *s = arg;
    s->at += (size_t)snprintf(s->line + s->at, sizeof(s->line) - s->at,
                              "contact %.*s %llu %llu %d %s %s %s;",
                              (int)c->len, (const char *)c->arrived,
                              (unsigned long long)c->arrived_us,
                              (unsigned long long)c->seq, c->state, c->queue,
                              c->agent, c->owner);
}

static void apply(struct journal_replay *j, struct storebatch *b)
{
    struct journal_buf o = { 0 };
    assert_int_equal(journal_pack(b, &o), 0);
    assert_int_equal(journal_replay_apply(j, o.p, o.len), 0);
    journal_buf_free(&o);
    storebatch_reset(b);
}

/* Replay follows the batch script's rules and visits in the load order:
 * outbound by score then member, agents by id, contacts by seq; a state
 * op after a removal in the same batch is dropped, one in a later batch
 * leaves an incomplete record that is skipped; an unknown op is counted
 * and skipped; Z forgets everything before it. */
static void test_replay_rules(void **state)
{
    (void)state;
    struct journal_replay *j = journal_replay_new();
    assert_non_null(j);
    struct storebatch b;
    storebatch_init(&b);
    const uint8_t *u = (const uint8_t *)"X";
    assert_int_equal(storebatch_contact_new(&b, "c1", u, 1, 100, 5, "sw", "",
                                            1, "q", "", 0), 0);
    assert_int_equal(storebatch_contact_new(&b, "c2", u, 1, 90, 3, "sw", "",
                                            1, "q", "", 0), 0);
    assert_int_equal(storebatch_contact_arrived(&b, "c4", u, 1, 80, 4, "sw",
                                                ""), 0);
    assert_int_equal(storebatch_agent_new(&b, "b2", u, 1, "d", "", 1, "", 0),
                     0);
    assert_int_equal(storebatch_agent_login(&b, "a9", u, 1, "d", ""), 0);
    assert_int_equal(storebatch_agent_state(&b, "a9", 2, "lunch", 7), 0);
    assert_int_equal(storebatch_ob_put(&b, "l|c|1", 2, "L", 1), 0);
    assert_int_equal(storebatch_ob_put(&b, "k|c", 0, "K", 1), 0);
    assert_int_equal(storebatch_ob_put(&b, "k|b", 0, "J", 1), 0);
    apply(j, &b);
    /* c2 leaves, then a state op for it in the same batch: dropped */
    assert_int_equal(storebatch_contact_gone(&b, "c2", 4), 0);
    assert_int_equal(storebatch_contact_state(&b, "c2", 2, "q", "a9", 1), 0);
    assert_int_equal(storebatch_contact_state(&b, "c1", 3, "q", "b2", 0), 0);
    assert_int_equal(storebatch_ob_del(&b, "k|b"), 0);
    assert_int_equal(storebatch_event(&b, "gone", "c2", "", "q", 1, ""), 0);
    /* an op no engine of this version writes: 3 fields, skipped */
    assert_int_equal(storebatch_queue(&b, "zz", 1), 0);
    b.buf[b.off[b.opat[b.nops - 1]]] = '!';
    apply(j, &b);
    /* a lead's stream entry (op V) is history, not state: no unknown op */
    assert_int_equal(storebatch_lead_event(&b, "lead", "c", "1", "", "waiting",
                                           1, "busy", 2), 0);
    apply(j, &b);
    /* a state op for a contact gone in an earlier batch: incomplete */
    assert_int_equal(storebatch_contact_state(&b, "c2", 2, "q", "", 0), 0);
    apply(j, &b);
    assert_int_equal(journal_replay_unknown(j), 1);

    struct seen s = { .at = 0 };
    static const struct journal_visit v = { v_ob, v_agent, v_contact };
    size_t skipped = 0;
    assert_int_equal(journal_replay_each(j, &v, &s, &skipped), 0);
    assert_string_equal(s.line,
                        "ob k|c K;ob l|c|1 L;"
                        "agent X 2 lunch d ;agent X 1  d ;"
                        "contact X 80 4 0   sw;contact X 100 5 3 q b2 sw;");
    assert_int_equal(skipped, 0);

    /* Z: only what follows it counts */
    assert_int_equal(storebatch_clear(&b), 0);
    assert_int_equal(storebatch_contact_new(&b, "c7", u, 1, 1, 9, "", "", 1,
                                            "q", "", 0), 0);
    apply(j, &b);
    s.at = 0;
    s.line[0] = '\0';
    assert_int_equal(journal_replay_each(j, &v, &s, &skipped), 0);
    assert_string_equal(s.line, "contact X 1 9 1 q  ;");
    storebatch_free(&b);
    journal_replay_free(j);
}

/* arg: the layout ("journal" or "hashes"). */
static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  port: %d\n"
             "  tenant: rj\n"
             "  lease: 600ms\n"
             "  layout: %s\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "priority_weight: 1h}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice]\n"
             "    wrapup: 0s\n",
             redis_port, (const char *)arg);
}

static int setup_journal(void **state)
{
    return e2e_env_start(state, true, config_text, "journal");
}

static int setup_hashes(void **state)
{
    return e2e_env_start(state, true, config_text, "hashes");
}

static long long xlen(redisContext *r)
{
    return e2e_rint(r, "XLEN ccr:{rj}:journal");
}

/* Agents (one away), contacts queued, one assigned, one offered, one
 * completed; kill -9; the restarted engine has them all back: the loaded
 * line counts them, the away agent is away, the assigned contact can be
 * completed (it is known and assigned), and nothing was written in the
 * per-key layout. */
static void test_crash_recovery(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    redisContext *r = env->r;
    struct e2e_client sw, d1, d2, d3;
    e2e_expect_log(d, "serving clients", 5000);

    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk-1", E2E_ROLE(AGENT), false);
    e2e_open_hello(&d2, d->port, "desk-2", E2E_ROLE(AGENT), false);
    e2e_open_hello(&d3, d->port, "desk-3", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&d3, "a3", "sales", 1, 1, 0), 0);
    assert_int_equal(e2e_agent_state(
                         &d3, "a3",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                         "lunch"), 0);
    assert_int_equal(e2e_agent_login(&d1, "a1", "sales", 1, 1, 0), 0);
    char id[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }
    /* a1 takes k0 and completes it, then takes k1 and keeps it */
    for (int i = 0; i < 2; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        ccr_envelope *o = e2e_wait_offer(&d1, id, E2E_T_MS);
        assert_non_null(o);
        ccr_free(o);
        assert_int_equal(e2e_simple(&d1, E2E_BODY(OFFER_ACCEPTED), id, "a1"),
                         0);
        if (i == 0)
            assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), id,
                                        NULL), 0);
    }
    /* a2 logs in and is offered k2 (an offer in flight at the crash) */
    assert_int_equal(e2e_agent_login(&d2, "a2", "sales", 1, 1, 0), 0);
    ccr_envelope *o = e2e_wait_offer(&d2, "k2", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);

    /* only the journal was written */
    assert_true(xlen(r) > 0);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{rj}:contacts ccr:{rj}:agents "
                                 "ccr:{rj}:events ccr:{rj}:contact:k1 "
                                 "ccr:{rj}:agent:a1"), 0);
    harness_daemon_kill(d);
    e2e_close(&sw);
    e2e_close(&d1);
    e2e_close(&d2);
    e2e_close(&d3);

    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    e2e_expect_log(d, "loaded 3 agents, 5 contacts", 10000);
    e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), true);
    e2e_open_hello_retry(&d3, d->port, "desk-3", E2E_ROLE(AGENT), true);
    ccr_envelope *st = e2e_stats(&d3);
    const Ccroute__V1__AgentStats *a3 = e2e_stats_agent(st, "a3");
    assert_non_null(a3);
    assert_int_equal(a3->status, CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY);
    assert_string_equal(a3->reason, "lunch");
    const Ccroute__V1__AgentStats *a1 = e2e_stats_agent(st, "a1");
    assert_non_null(a1);
    assert_int_equal(a1->active_contacts, 1);
    assert_null(e2e_stats_agent(st, "a9"));
    ccr_free(st);
    /* k1 is assigned: completing it is acknowledged; k0 was completed
     * before the crash and is unknown now */
    assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), "k1", NULL),
                     0);
    assert_true(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), "k0", NULL) != 0);
    e2e_close(&sw);
    e2e_close(&d3);
}

/* ---- the order and the priorities ---- */

#define NORDER 40

/* NORDER contacts pipelined, every fifth with priority 1 (priority_weight
 * 1h: they go first), kill -9, restart, one agent takes them one by one:
 * the priority ones in arrival order, then the others in arrival order.
 * Run on both layouts: both must give exactly this order. */
static void check_order(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    static char ids[NORDER][16];
    const char *want[NORDER];
    uint64_t rid[NORDER];
    struct e2e_client sw, desk;
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    for (int i = 0; i < NORDER; i++) {
        snprintf(ids[i], sizeof(ids[i]), "o%02d", i);
        rid[i] = e2e_send_contact_prio(&sw, ids[i], "sales", E2E_VOICE,
                                       i % 5 == 0 ? 1 : 0);
        assert_true(rid[i] != 0);
    }
    for (int i = 0; i < NORDER; i++)
        assert_int_equal(e2e_reply(&sw, rid[i], E2E_T_MS), 0);
    e2e_crash_restart(d, 0, NORDER, 10000);
    e2e_close(&sw);
    e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), true);
    e2e_open_hello_retry(&desk, d->port, "desk-1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 5, 1, 0), 0);
    /* the priority ones in arrival order, then the others */
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < NORDER; i++)
            if ((i % 5 == 0) == (pass == 0))
                want[k++] = ids[i];
    e2e_take_in_order(&desk, &sw, "a1", want, NORDER, "after the restart");
    e2e_close(&desk);
    e2e_close(&sw);
}

static void test_order_journal(void **state)
{
    check_order(state);
    assert_true(xlen((*(struct e2e_env **)state)->r) > 0);
}

static void test_order_hashes(void **state)
{
    check_order(state);
    assert_int_equal(xlen((*(struct e2e_env **)state)->r), 0);
}

/* ---- fencing ---- */

/* Another engine takes the tenant (the lease and the fence counter move
 * to token 999 behind this engine's back): the next ContactArrived's
 * append is refused (FENCED), nothing of it reaches Redis, and the client
 * is not acknowledged. Returns what the client got (e2e_reply). */
static int fenced_outcome(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    redisContext *r = env->r;
    struct e2e_client sw;
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    assert_int_equal(e2e_contact(&sw, "f1", "sales", E2E_VOICE), 0);
    long long before = xlen(r);
    redisReply *p = redisCommand(r, "SET ccr:{rj}:fence 999");
    assert_non_null(p);
    freeReplyObject(p);
    p = redisCommand(r, "SET ccr:{rj}:lease 999|127.0.0.1:9 PX 60000");
    assert_non_null(p);
    freeReplyObject(p);
    uint64_t rq = e2e_send_contact(&sw, "f2", "sales", E2E_VOICE);
    assert_true(rq != 0);
    int rc = e2e_reply(&sw, rq, E2E_T_MS);
    assert_true(rc != 0);                        /* never an Ack */
    e2e_expect_log(d, "FENCED", 5000);
    assert_int_equal(xlen(r), before);           /* nothing appended */
    e2e_close(&sw);
    /* let teardown stop it: the lease is free again */
    p = redisCommand(r, "DEL ccr:{rj}:lease");
    assert_non_null(p);
    freeReplyObject(p);
    return rc;
}

static int fenced_hashes_rc = 1;

static void test_fenced_hashes(void **state)
{
    fenced_hashes_rc = fenced_outcome(state);
    assert_int_equal(e2e_rint((*(struct e2e_env **)state)->r,
                              "EXISTS ccr:{rj}:contact:f2"), 0);
}

static void test_fenced_journal(void **state)
{
    int rc = fenced_outcome(state);
    /* the same answer as the per-key layout gave (that test ran first) */
    assert_int_equal(rc, fenced_hashes_rc);
}

/* ---- durability redis waits for the append ---- */

/* Redis holds writes (CLIENT PAUSE WRITE): a ContactArrived is not
 * acknowledged while its append cannot run; once Redis takes writes
 * again it is, and the journal holds it then. */
static void test_ack_waits_for_append(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    redisContext *r = env->r;
    struct e2e_client sw;
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    assert_int_equal(e2e_contact(&sw, "w1", "sales", E2E_VOICE), 0);
    long long before = xlen(r);
    redisReply *p = redisCommand(r, "CLIENT PAUSE 20000 WRITE");
    assert_non_null(p);
    assert_int_equal(p->type, REDIS_REPLY_STATUS);
    freeReplyObject(p);
    uint64_t rq = e2e_send_contact(&sw, "w2", "sales", E2E_VOICE);
    assert_true(rq != 0);
    /* nothing comes while the append is held */
    assert_int_equal(e2e_reply(&sw, rq, 300), -ETIMEDOUT);
    assert_int_equal(xlen(r), before);
    p = redisCommand(r, "CLIENT UNPAUSE");
    assert_non_null(p);
    freeReplyObject(p);
    assert_int_equal(e2e_reply(&sw, rq, E2E_T_MS), 0);
    /* acknowledged = appended */
    assert_true(xlen(r) > before);
    e2e_close(&sw);
}

/* ---- the reporting stream: build/ccjournal ---- */

/* One contact's life (queued, offered, assigned, completed with a
 * disposition) and an agent going away: the same events on both layouts,
 * read from `events` (hashes) or expanded from the journal by ccjournal,
 * as "type=..|contact=..|agent=..|queue=..|detail=..|disposition=.."
 * lines (the token and ts differ between runs, so they are left out). */
static void life(struct e2e_env *env)
{
    struct harness_daemon *d = &env->d;
    struct e2e_client sw, desk;
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk-1", E2E_ROLE(AGENT), false);
    /* a1 has the product's skill, v1 a product: the completion's entry
     * carries it (op E's last field) */
    {
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__AgentLogin lg = CCROUTE__V1__AGENT_LOGIN__INIT;
        Ccroute__V1__AgentSkill sk[2] = { CCROUTE__V1__AGENT_SKILL__INIT,
                                          CCROUTE__V1__AGENT_SKILL__INIT };
        Ccroute__V1__AgentSkill *skp[2] = { &sk[0], &sk[1] };
        Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
        sk[0].skill = "sales";
        sk[0].level = 1;
        sk[1].skill = "product:widget";
        sk[1].level = 1;
        lg.agent_id = "a1";
        lg.skills = skp;
        lg.n_skills = 2;                    /* capacity: voice 1 */
        env.body_case = E2E_BODY(AGENT_LOGIN);
        env.agent_login = &lg;
        assert_int_equal(e2e_call(&desk, &env, E2E_T_MS), 0);
        ca.contact_id = "v1";
        ca.queue = "sales";
        ca.channel = E2E_VOICE;
        ca.product = "widget";
        env.body_case = E2E_BODY(CONTACT_ARRIVED);
        env.contact_arrived = &ca;
        assert_int_equal(e2e_call(&sw, &env, E2E_T_MS), 0);
    }
    ccr_envelope *o = e2e_wait_offer(&desk, "v1", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, E2E_BODY(OFFER_ACCEPTED), "v1", "a1"),
                     0);
    assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), "v1", NULL),
                     0);
    assert_int_equal(e2e_agent_state(
                         &desk, "a1",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                         "coffee"), 0);
    e2e_close(&desk);
    e2e_close(&sw);
}

static const char *const keep[] = { "type", "contact", "agent", "queue",
                                    "detail", "disposition", "tags",
                                    "note_ref", "difficult", "product",
                                    NULL };

static bool kept(const char *f, size_t n)
{
    for (int i = 0; keep[i]; i++)
        if (strlen(keep[i]) == n && !memcmp(keep[i], f, n))
            return true;
    return false;
}

/* An offer's detail is its deadline (wall ms), which differs from run to
 * run: written as "deadline". */
static void put_field(char *buf, size_t len, size_t *at, bool offer,
                      const char *f, size_t fl, const char *v)
{
    if (offer && fl == 6 && !memcmp(f, "detail", 6))
        v = "deadline";
    *at += (size_t)snprintf(buf + *at, len - *at, "%.*s=%s|", (int)fl, f, v);
}

static char events_hashes[4096];

static void test_events_hashes(void **state)
{
    struct e2e_env *env = *state;
    life(env);
    redisReply *x = redisCommand(env->r, "XRANGE ccr:{rj}:events - +");
    assert_non_null(x);
    assert_int_equal(x->type, REDIS_REPLY_ARRAY);
    size_t at = 0;
    for (size_t i = 0; i < x->elements; i++) {
        redisReply *f = x->element[i]->element[1];
        bool offer = f->elements >= 2 && !strcmp(f->element[1]->str, "offer");
        for (size_t k = 0; k + 1 < f->elements; k += 2)
            if (kept(f->element[k]->str, f->element[k]->len))
                put_field(events_hashes, sizeof(events_hashes), &at, offer,
                          f->element[k]->str, f->element[k]->len,
                          f->element[k + 1]->str);
        at += (size_t)snprintf(events_hashes + at, sizeof(events_hashes) - at,
                               "\n");
    }
    freeReplyObject(x);
    assert_non_null(strstr(events_hashes, "type=assigned|contact=v1|"
                                          "agent=a1|queue=sales|"));
    assert_non_null(strstr(events_hashes, "type=gone|contact=v1|agent=a1|"
                                          "queue=sales|detail=completed|"
                                          "product=widget|\n"));
}

static void test_events_journal(void **state)
{
    struct e2e_env *env = *state;
    life(env);
    char exe[512], port[16], out[600];
    const char *b = getenv("CCROUTE_BUILD");
    snprintf(exe, sizeof(exe), "%s/ccjournal", b && *b ? b : "build");
    snprintf(port, sizeof(port), "%d", env->redis.port);
    snprintf(out, sizeof(out), "%s/ccjournal.out", env->d.dir);
    const char *argv[] = { exe, "-p", port, "-t", "rj", "-n", "2", NULL };
    struct harness_proc proc;
    assert_int_equal(harness_proc_start(&proc, argv, out, true), 0);
    assert_int_equal(harness_proc_wait(&proc, 10000), 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[1024], got[4096];
    size_t at = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL;
        char *tok = strtok_r(line, "\t", &save);   /* the entry id */
        assert_non_null(tok);
        assert_non_null(strchr(tok, '-'));
        bool has_ts = false, has_token = false;
        bool offer = strstr(save, "type=offer\t") == save;
        while ((tok = strtok_r(NULL, "\t", &save))) {
            char *eq = strchr(tok, '=');
            assert_non_null(eq);
            has_ts |= !strncmp(tok, "ts=", 3) && eq[1];
            has_token |= !strncmp(tok, "token=", 6) && eq[1];
            if (kept(tok, (size_t)(eq - tok)))
                put_field(got, sizeof(got), &at, offer, tok,
                          (size_t)(eq - tok), eq + 1);
        }
        assert_true(has_ts && has_token);
        at += (size_t)snprintf(got + at, sizeof(got) - at, "\n");
    }
    fclose(f);
    /* the journal layout wrote no events stream; ccjournal gives the
     * per-key layout's entries, field for field */
    assert_int_equal(e2e_rint(env->r, "EXISTS ccr:{rj}:events"), 0);
    assert_true(events_hashes[0] != '\0');
    assert_string_equal(got, events_hashes);
}

/* A campaign lead's entries (op V) come out of ccjournal with the
 * fields docs/redis.md lists for the per-key layout's `lead` and
 * `lead_dial` entries: contact and outcome left out when empty. The
 * journal entry is written here as the engine packs one. */
static void test_lead_entries_journal(void **state)
{
    struct e2e_env *env = *state;
    e2e_expect_log(&env->d, "serving clients", 5000);
    struct storebatch b;
    storebatch_init(&b);
    assert_int_equal(storebatch_lead_event(&b, "lead_dial", "spring", "l7",
                                           "ob-9", "active", 2, "", 1001), 0);
    assert_int_equal(storebatch_lead_event(&b, "lead", "spring", "l7", "",
                                           "waiting", 2, "busy", 1002), 0);
    struct journal_buf pk = { 0 };
    assert_int_equal(journal_pack(&b, &pk), 0);
    redisReply *x = redisCommand(env->r, "XADD ccr:{rj}:journal 9999999999999-0"
                                 " b %b t 42 s 1", pk.p, pk.len);
    assert_non_null(x);
    assert_int_equal(x->type, REDIS_REPLY_STRING);
    freeReplyObject(x);
    journal_buf_free(&pk);
    storebatch_free(&b);

    char exe[512], port[16], out[600];
    const char *bd = getenv("CCROUTE_BUILD");
    snprintf(exe, sizeof(exe), "%s/ccjournal", bd && *bd ? bd : "build");
    snprintf(port, sizeof(port), "%d", env->redis.port);
    snprintf(out, sizeof(out), "%s/ccjournal-lead.out", env->d.dir);
    const char *argv[] = { exe, "-p", port, "-t", "rj", NULL };
    struct harness_proc proc;
    assert_int_equal(harness_proc_start(&proc, argv, out, true), 0);
    assert_int_equal(harness_proc_wait(&proc, 10000), 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "9999999999999-0\t", 16))
            continue;
        line[strcspn(line, "\n")] = '\0';
        assert_string_equal(line + 16, n == 0
            ? "type=lead_dial\tcampaign=spring\tlead=l7\tcontact=ob-9\t"
              "state=active\tattempts=2\tts=1001\ttoken=42"
            : "type=lead\tcampaign=spring\tlead=l7\tstate=waiting\t"
              "attempts=2\toutcome=busy\tts=1002\ttoken=42");
        n++;
    }
    fclose(f);
    assert_int_equal(n, 2);
}

/* ---- snapshots ---- */

#define NSNAP 30
#define EVERY 5

static int setup_snap(void **state)
{
    return e2e_env_start(state, true, config_text,
                         "journal\n  snapshot_every: 5\n"
                         "  load_chunk: 3");
}

/* Chunk keys there are (KEYS is fine on a test's private Redis). */
static size_t snap_keys(redisContext *r)
{
    redisReply *k = redisCommand(r, "KEYS ccr:{rj}:snap:*");
    assert_non_null(k);
    assert_int_equal(k->type, REDIS_REPLY_ARRAY);
    size_t n = k->elements;
    freeReplyObject(k);
    return n;
}

/* The chunk count the snapshot pointer names (0 without one). */
static unsigned snap_chunks(redisContext *r)
{
    redisReply *v = redisCommand(r, "GET ccr:{rj}:snapshot");
    assert_non_null(v);
    unsigned long long t, q;
    unsigned n = 0;
    if (v->type == REDIS_REPLY_STRING)
        assert_int_equal(sscanf(v->str, "%llu:%llu:%u:", &t, &q, &n), 3);
    freeReplyObject(v);
    return n;
}

/* Many batches with snapshot_every 5: the journal stays short (trimmed
 * at each snapshot below the previous one), old chunks go, and a kill -9
 * recovers from the snapshot plus the journal's tail (read 3 entries a
 * call): every contact, its state and the arrival order. */
static void test_snapshot_trim(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    redisContext *r = env->r;
    struct e2e_client sw, d1, d2;
    static char ids[NSNAP][16];
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk-1", E2E_ROLE(AGENT), false);
    e2e_open_hello(&d2, d->port, "desk-2", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&d2, "a2", "sales", 1, 1, 0), 0);
    assert_int_equal(e2e_agent_state(
                         &d2, "a2",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                         "break"), 0);
    assert_int_equal(e2e_agent_login(&d1, "a1", "sales", 1, 1, 0), 0);
    long long most = 0;
    for (int i = 0; i < NSNAP; i++) {
        snprintf(ids[i], sizeof(ids[i]), "t%02d", i);
        assert_int_equal(e2e_contact(&sw, ids[i], "sales", E2E_VOICE), 0);
        long long n = xlen(r);
        if (n > most)
            most = n;
    }
    /* a1 takes t00 and completes it, then takes t01 and keeps it */
    for (int i = 0; i < 2; i++) {
        ccr_envelope *o = e2e_wait_offer(&d1, ids[i], E2E_T_MS);
        assert_non_null(o);
        ccr_free(o);
        assert_int_equal(e2e_simple(&d1, E2E_BODY(OFFER_ACCEPTED), ids[i],
                                    "a1"), 0);
        if (i == 0)
            assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED),
                                        ids[i], NULL), 0);
    }
    /* more than 30 batches went by; the journal never held more than
     * two snapshot intervals and what was in flight */
    assert_true(most > 0);
    assert_true(most <= 3 * EVERY);
    assert_true(snap_chunks(r) >= 1);
    assert_int_equal(snap_keys(r), snap_chunks(r));
    /* what a test reads (tests/store-peek.h: the snapshot, then the
     * entries after it) is what the engine holds: t00 gone, t01 a1's */
    struct peek *pk = peek_read(r, "rj");
    assert_int_equal(pk->layout, 'j');
    assert_int_equal(peek_count(pk, 'c'), NSNAP - 1);
    assert_int_equal(peek_count(pk, 'a'), 2);
    assert_null(peek_find(pk, 'c', ids[0]));
    assert_string_equal(peek_get(peek_find(pk, 'c', ids[1]), "agent", NULL),
                        "a1");
    assert_string_equal(peek_get(peek_find(pk, 'c', ids[1]), "state", NULL),
                        "3");
    assert_string_equal(peek_get(peek_find(pk, 'a', "a2"), "reason", NULL),
                        "break");
    peek_free(pk);
    harness_daemon_kill(d);
    e2e_close(&sw);
    e2e_close(&d1);
    e2e_close(&d2);

    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "loaded 2 agents, %d contacts", NSNAP - 1);
    e2e_expect_log(d, want, 10000);
    e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), true);
    e2e_open_hello_retry(&d1, d->port, "desk-1", E2E_ROLE(AGENT), true);
    ccr_envelope *st = e2e_stats(&d1);
    const Ccroute__V1__AgentStats *a2 = e2e_stats_agent(st, "a2");
    assert_non_null(a2);
    assert_int_equal(a2->status, CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY);
    assert_string_equal(a2->reason, "break");
    ccr_free(st);
    /* t01 is a1's; once completed a1 takes the rest in arrival order */
    assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), ids[1],
                                NULL), 0);
    for (int i = 2; i < NSNAP; i++) {
        ccr_envelope *o = e2e_wait_offer(&d1, NULL, E2E_T_MS);
        assert_non_null(o);
        char cid[16];
        snprintf(cid, sizeof(cid), "%s", o->offer->contact_id);
        ccr_free(o);
        if (strcmp(cid, ids[i]) != 0)
            fail_msg("offer for %s, expected %s", cid, ids[i]);
        assert_int_equal(e2e_simple(&d1, E2E_BODY(OFFER_ACCEPTED), cid, "a1"),
                         0);
        assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), cid,
                                    NULL), 0);
    }
    assert_true(xlen(r) <= 3 * EVERY);
    e2e_close(&d1);
    e2e_close(&sw);
}

/* Redis loses everything (FLUSHALL) under a live engine: it writes its
 * whole state back as a snapshot (chunks and the swap, no journal entry
 * replayed before it), and a restarted engine loads from that. */
static void test_lost_state_snapshot(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    redisContext *r = env->r;
    struct e2e_client sw;
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    assert_int_equal(e2e_contact(&sw, "l1", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(&sw, "l2", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{rj}:snapshot"), 0);
    redisReply *p = redisCommand(r, "FLUSHALL");
    assert_non_null(p);
    freeReplyObject(p);
    e2e_expect_log(d, "REDIS LOST THIS ENGINE'S STATE", 10000);
    /* a request after it is acknowledged once the state is back */
    assert_int_equal(e2e_contact(&sw, "l3", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{rj}:snapshot"), 1);
    assert_int_equal(snap_keys(r), snap_chunks(r));
    harness_daemon_kill(d);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    e2e_expect_log(d, "loaded 0 agents, 3 contacts", 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_roundtrip),
        cmocka_unit_test(test_replay_rules),
        cmocka_unit_test_setup_teardown(test_crash_recovery, setup_journal,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_order_hashes, setup_hashes,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_order_journal, setup_journal,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_fenced_hashes, setup_hashes,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_fenced_journal, setup_journal,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_ack_waits_for_append,
                                        setup_journal, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_events_hashes, setup_hashes,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_events_journal, setup_journal,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_lead_entries_journal,
                                        setup_journal, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_trim, setup_snap,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_lost_state_snapshot,
                                        setup_journal, e2e_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
