/* outbound-fx.c -- see outbound-fx.h. */
#include "outbound-fx.h"
#include "store-peek.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#define BODY(x) E2E_BODY(x)

void obfx_config_text(char *buf, size_t len, int redis_port,
                      const char *tenant, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(buf, len,
                     "listen: 127.0.0.1:0\n"
                     "log_level: info\n"
                     "grace: 60s\n"
                     "redis:\n"
                     "  enabled: true\n"
                     "  port: %d\n"
                     "  tenant: %s\n"
                     "  lease: 600ms\n",
                     redis_port, tenant);
    assert_true(n > 0 && (size_t)n < len);
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    assert_true(m >= 0 && (size_t)m < len - (size_t)n);
}

void obfx_wait_stats(struct e2e_client *adm,
                     bool (*ok)(const ccr_envelope *st, const void *arg),
                     const void *arg, int timeout_ms)
{
    long long t0 = harness_now_ms();
    bool done = false;
    while (!done && harness_now_ms() - t0 < timeout_ms) {
        ccr_envelope *st = e2e_stats(adm);
        done = ok(st, arg);
        ccr_free(st);
    }
    assert_true(done);
}

/* Sends env and waits for its answer, its Error's words in msg. */
static int call_msg(struct e2e_client *e, ccr_envelope *env, char *msg,
                    size_t mlen)
{
    char scratch[8];
    env->request_id = 0;
    if (ccr_client_send(e->c, env) < 0)
        return -EPIPE;
    if (!msg) {
        msg = scratch;
        mlen = sizeof(scratch);
    }
    return e2e_reply_msg(e, env->request_id, E2E_T_MS, msg, mlen);
}

int obfx_upsert(struct e2e_client *e, const struct obfx_campaign *c,
                char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignUpsert m = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
    uint32_t retry = c->retry_ms ? c->retry_ms : 1;
    char *blend[2];
    m.name = (char *)c->name;
    m.queue = (char *)c->queue;
    m.dialer = "dlr";
    m.caller_id = "+15550000";
    m.mode = c->mode ? c->mode : CCROUTE__V1__DIAL_MODE__DIAL_MODE_PROGRESSIVE;
    m.window_start_hour = 0;
    m.window_end_hour = 24;
    m.max_attempts = c->max_attempts;
    m.retry_busy_ms = retry;
    m.retry_no_answer_ms = retry;
    m.retry_failed_ms = retry;
    m.retry_machine_ms = retry;
    m.compliance_ms = c->compliance_ms;
    m.abandon_cap_bp = c->abandon_cap_bp;
    m.ramp_up_ms = c->ramp_up_ms;
    for (size_t i = 0; i < 2 && c->blend[i]; i++)
        blend[m.n_blend_queues++] = (char *)c->blend[i];
    m.blend_queues = blend;
    env.body_case = BODY(CAMPAIGN_UPSERT);
    env.campaign_upsert = &m;
    return call_msg(e, &env, msg, mlen);
}

int obfx_run(struct e2e_client *e, int body, const char *name)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignStart m = CCROUTE__V1__CAMPAIGN_START__INIT;
    m.campaign = (char *)name;
    env.body_case = body;
    /* CampaignStart, Pause and Stop have the same one field */
    env.campaign_start = &m;
    return e2e_call(e, &env, E2E_T_MS);
}

int obfx_leads(struct e2e_client *e, const char *camp,
               const struct obfx_lead *in, size_t n, char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__LeadsAdd m = CCROUTE__V1__LEADS_ADD__INIT;
    Ccroute__V1__Lead *ls, **lp;
    Ccroute__V1__Attribute at = CCROUTE__V1__ATTRIBUTE__INIT, *atp = &at;
    int rc;
    at.key = "offer";
    at.value = "winback";
    ls = test_calloc(n, sizeof(*ls));
    lp = test_calloc(n, sizeof(*lp));
    for (size_t i = 0; i < n; i++) {
        ccroute__v1__lead__init(&ls[i]);
        ls[i].lead_id = (char *)in[i].id;
        ls[i].number = (char *)in[i].number;
        ls[i].time_zone = (char *)in[i].zone;
        ls[i].attributes = &atp;
        ls[i].n_attributes = 1;
        lp[i] = &ls[i];
    }
    m.campaign = (char *)camp;
    m.leads = lp;
    m.n_leads = n;
    env.body_case = BODY(LEADS_ADD);
    env.leads_add = &m;
    rc = call_msg(e, &env, msg, mlen);
    test_free(ls);
    test_free(lp);
    return rc;
}

int obfx_result(struct e2e_client *e, uint64_t dial,
                Ccroute__V1__DialOutcome o, char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__DialResult m = CCROUTE__V1__DIAL_RESULT__INIT;
    m.dial_id = dial;
    m.outcome = o;
    env.body_case = BODY(DIAL_RESULT);
    env.dial_result = &m;
    return call_msg(e, &env, msg, mlen);
}

const Ccroute__V1__CampaignStats *obfx_camp_stats(const ccr_envelope *st,
                                                  const char *name)
{
    for (size_t i = 0; i < st->stats->n_campaigns; i++)
        if (!strcmp(st->stats->campaigns[i]->campaign, name))
            return st->stats->campaigns[i];
    return NULL;
}

void obfx_accept(struct e2e_client *desk, const char *cid, const char *aid)
{
    ccr_envelope *o = e2e_wait_offer(desk, cid, E2E_T_MS);
    char agent[64];
    assert_non_null(o);
    if (aid)
        assert_string_equal(o->offer->agent_id, aid);
    snprintf(agent, sizeof(agent), "%s", o->offer->agent_id);
    if (!cid)
        cid = o->offer->contact_id;
    assert_int_equal(e2e_simple(desk, BODY(OFFER_ACCEPTED), cid, agent), 0);
    ccr_free(o);
}

static bool is(const struct peek_obj *e, const char *name, const char *v)
{
    const char *x = peek_get(e, name, NULL);
    return !strcmp(x ? x : "", v);
}

/* in the events stream, or the journal's event ops (tests/store-peek.h) */
static bool has_entry(redisContext *r, const char *tenant, const char *type,
                      const char *lead, const char *state,
                      const char *outcome)
{
    struct peek *p = peek_read(r, tenant);
    bool found = false;
    for (size_t i = 0; i < p->nev && !found; i++) {
        const struct peek_obj *e = &p->ev[i];
        found = is(e, "type", type) && is(e, "lead", lead) &&
                (!state || is(e, "state", state)) &&
                (!outcome || is(e, "outcome", outcome));
    }
    peek_free(p);
    return found;
}

bool obfx_lead_entry(redisContext *r, const char *tenant, const char *type,
                     const char *lead, const char *state,
                     const char *outcome, int timeout_ms)
{
    long long t0 = harness_now_ms();
    do {
        if (has_entry(r, tenant, type, lead, state, outcome))
            return true;
    } while (harness_now_ms() - t0 < timeout_ms);
    return false;
}

uint64_t obfx_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}
