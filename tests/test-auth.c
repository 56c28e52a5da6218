/* test-auth.c -- who may do what (docs/security.md), against the real
 * daemon over a real socket.
 *
 * The configuration has two switch principals (sw-a, sw-b: roles switch,
 * gateway, dialer; agents a-* and b-*), two desk principals (desk-a,
 * desk-b), a monitor, an admin (agents a-*), a principal of another
 * tenant, and a token file (mode 0600) that holds desk-b's hash.
 *
 * The authorization matrix: every request type x every role x an object
 * of the caller's own principal or of another one, each answered with the
 * code docs/security.md promises. Every case builds its one object from
 * the fixture connections of the owning principal, sends the request from
 * a connection of the role under test, checks the answer, and cleans up,
 * so cases do not see each other's contacts or agents.
 *
 * Then the credentials (wrong, missing, out of scope, role, tenant, the
 * failure count closing the connection, a token that differs only at its
 * end), the token file's mode, the refusal to run open on a non-loopback
 * address, --hash-token, re-attach by another principal and the
 * one-connection-per-client-name rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"
#include "e2e-util.h"
#include "error.h"
#include "harness.h"
#include "store-peek.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

#define TOKEN(p) ("test-token-" p "-0123456789abcdef")

static const char *const tok_sw_a = TOKEN("sw-a");
static const char *const tok_sw_b = TOKEN("sw-b");
static const char *const tok_desk_a = TOKEN("desk-a");
static const char *const tok_desk_b = TOKEN("desk-b");
static const char *const tok_mon = TOKEN("mon");
static const char *const tok_adm = TOKEN("adm");
static const char *const tok_far = TOKEN("far");

static char tmpdir[64];
static char token_file[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The configuration under test; `token_file` must exist (mode 0600). */
static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    char a[65], b[65], da[65], mon[65], adm[65], far[65], redis[96];
    e2e_token_hex(tok_sw_a, a);
    e2e_token_hex(tok_sw_b, b);
    e2e_token_hex(tok_desk_a, da);
    e2e_token_hex(tok_mon, mon);
    e2e_token_hex(tok_adm, adm);
    e2e_token_hex(tok_far, far);
    if (redis_port)
        snprintf(redis, sizeof(redis), "redis: {port: %d, tenant: au}",
                 redis_port);
    else
        snprintf(redis, sizeof(redis), "redis: {enabled: false}");
    snprintf(buf, len,
        "log_level: info\n"
        "grace: 30s\n"
        "%s\n"
        "routing: {offer_timeout: 60s, max_agents: 100, max_contacts: 1000}\n"
        "skills: [s1]\n"
        "queues:\n"
        "  - {name: q1, skills: {s1: 1}}\n"
        "  - {name: q2, skills: {s1: 1}}\n"
        "auth: {failure_delay: 50ms, max_failures: 3, token_file: %s}\n"
        "principals:\n"
        "  - {name: sw-a, token_sha256: %s, roles: [switch, gateway, dialer],"
        " clients: [\"sw-a*\", \"shared-*\"], agents: [\"a-*\"]}\n"
        "  - {name: sw-b, token_sha256: %s, roles: [switch, gateway, dialer],"
        " clients: [\"sw-b*\", \"shared-*\"], agents: [\"b-*\"]}\n"
        "  - {name: desk-a, token_sha256: %s, roles: [desk],"
        " clients: [\"desk-a*\"], agents: [\"a-*\"]}\n"
        "  - {name: desk-b, roles: [agent], clients: [\"desk-b*\"],"
        " agents: [\"b-*\"]}\n"
        "  - {name: mon, token_sha256: %s, roles: [monitor],"
        " clients: [\"mon*\"]}\n"
        "  - {name: adm, token_sha256: %s, roles: [supervisor],"
        " clients: [\"adm*\"], agents: [\"a-*\"]}\n"
        "  - {name: far, token_sha256: %s, roles: [switch],"
        " clients: [\"far*\"], tenant: elsewhere}\n",
        redis, token_file, a, b, da, mon, adm, far);
}

static int setup_with(void **state, bool with_redis)
{
    char db[65], text[128];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ccr-auth-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(token_file, sizeof(token_file), "%s/tokens.yaml", tmpdir);
    e2e_token_hex(tok_desk_b, db);
    snprintf(text, sizeof(text), "# desk-b's token\ndesk-b: %s\n", db);
    write_file(token_file, text, 0600);
    return e2e_env_start(state, with_redis, config_text, NULL);
}

static int setup(void **state) { return setup_with(state, false); }
static int setup_redis(void **state) { return setup_with(state, true); }

static int teardown(void **state)
{
    int rc = e2e_env_teardown(state);
    unlink(token_file);
    rmdir(tmpdir);
    return rc;
}

/* ---- clients ---- */

/* Hello with a credential (NULL: none) on an open connection: 0 on Ack,
 * the ErrorCode, or a negative errno. */
static int hello(struct e2e_client *e, const char *name, int role,
                 const char *token, bool reattach)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.client_name = (char *)name;
    h.role = (Ccroute__V1__Role)role;
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    h.reattach = reattach;
    h.credential = (char *)(token ? token : "");
    env.body_case = BODY(HELLO);
    env.hello = &h;
    return e2e_call(&*e, &env, T_MS);
}

static struct e2e_client *dial_hello(struct e2e_env *f, const char *name,
                                     int role, const char *token)
{
    struct e2e_client *e = e2e_env_dial(f);
    int rc = hello(e, name, role, token, false);
    if (rc != 0)
        fail_msg("Hello %s: %d", name, rc);
    return e;
}

/* Sends one request of type `body` about contact cid / agent aid and
 * returns the answer (0 Ack, an ErrorCode); its message goes to msg. */
static int request(struct e2e_client *e, int body, const char *cid,
                   const char *aid, char *msg, size_t msglen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT, *reply = NULL;
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__ContactAbandoned ab = CCROUTE__V1__CONTACT_ABANDONED__INIT;
    Ccroute__V1__ContactCompleted co = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    Ccroute__V1__OfferAccepted ac = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    Ccroute__V1__OfferRejected rj = CCROUTE__V1__OFFER_REJECTED__INIT;
    Ccroute__V1__ContactTransfer tr = CCROUTE__V1__CONTACT_TRANSFER__INIT;
    Ccroute__V1__AgentLogin li = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentLogout lo = CCROUTE__V1__AGENT_LOGOUT__INIT;
    Ccroute__V1__AgentState as = CCROUTE__V1__AGENT_STATE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    char *agents[1] = { (char *)aid };
    Ccroute__V1__CampaignUpsert cu = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
    Ccroute__V1__CampaignStart cs = CCROUTE__V1__CAMPAIGN_START__INIT;
    Ccroute__V1__LeadsAdd la = CCROUTE__V1__LEADS_ADD__INIT;
    Ccroute__V1__DncAdd dn = CCROUTE__V1__DNC_ADD__INIT;
    Ccroute__V1__DialResult dr = CCROUTE__V1__DIAL_RESULT__INIT;
    Ccroute__V1__CallbackRequest cb = CCROUTE__V1__CALLBACK_REQUEST__INIT;
    Ccroute__V1__Lead lead = CCROUTE__V1__LEAD__INIT, *leadp = &lead;
    char *nums[1] = { "+15550100" };
    int rc;

    env.body_case = body;
    switch (body) {
    case BODY(CONTACT_ARRIVED):
        ca.contact_id = (char *)cid;
        ca.queue = "q1";
        env.contact_arrived = &ca;
        break;
    case BODY(CONTACT_ABANDONED):
        ab.contact_id = (char *)cid;
        env.contact_abandoned = &ab;
        break;
    case BODY(CONTACT_COMPLETED):
        co.contact_id = (char *)cid;
        env.contact_completed = &co;
        break;
    case BODY(OFFER_ACCEPTED):
        ac.contact_id = (char *)cid;
        ac.agent_id = (char *)aid;
        env.offer_accepted = &ac;
        break;
    case BODY(OFFER_REJECTED):
        rj.contact_id = (char *)cid;
        rj.agent_id = (char *)aid;
        env.offer_rejected = &rj;
        break;
    case BODY(CONTACT_TRANSFER):
        tr.contact_id = (char *)cid;
        tr.to_queue = "q2";
        env.contact_transfer = &tr;
        break;
    case BODY(AGENT_LOGIN):
        sk.skill = "s1";
        sk.level = 5;
        li.agent_id = (char *)aid;
        li.n_skills = 1;
        li.skills = &skp;
        env.agent_login = &li;
        break;
    case BODY(AGENT_LOGOUT):
        lo.agent_id = (char *)aid;
        env.agent_logout = &lo;
        break;
    case BODY(AGENT_STATE):
        as.agent_id = (char *)aid;
        as.status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY;
        as.reason = "break";
        env.agent_state = &as;
        break;
    case BODY(STATS_REQUEST):
        sr.n_agents = 1;
        sr.agents = agents;
        env.stats_request = &sr;
        break;
    /* campaigns are the tenant's, not a principal's: only the role
     * decides (an unknown campaign or dial after the role check) */
    case BODY(CAMPAIGN_UPSERT):
        cu.name = "camp";
        cu.queue = "q1";
        cu.dialer = "dialer-x";
        env.campaign_upsert = &cu;
        break;
    case BODY(CAMPAIGN_START):
    case BODY(CAMPAIGN_PAUSE):
    case BODY(CAMPAIGN_STOP):
        cs.campaign = "no-such-campaign";
        env.campaign_start = &cs;   /* the three have the same shape */
        break;
    case BODY(LEADS_ADD):
        lead.number = "+15550100";
        lead.time_zone = "Europe/Paris";
        la.campaign = "no-such-campaign";
        la.leads = &leadp;
        la.n_leads = 1;
        env.leads_add = &la;
        break;
    case BODY(DNC_ADD):
    case BODY(DNC_REMOVE):
        dn.numbers = nums;
        dn.n_numbers = 1;
        env.dnc_add = &dn;          /* DncRemove has the same shape */
        break;
    case BODY(DIAL_RESULT):
        dr.dial_id = 1;
        dr.outcome = CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_BUSY;
        env.dial_result = &dr;
        break;
    case BODY(CALLBACK_REQUEST):
        cb.contact_id = (char *)cid;
        cb.number = "+15550101";
        env.callback_request = &cb;
        break;
    default:
        fail_msg("request: body %d", body);
    }
    env.request_id = 0;
    rc = ccr_client_call(e->c, &env, T_MS, NULL, NULL, &reply);
    if (rc < 0)
        fail_msg("request %d: %s", body, strerror(-rc));
    if (msg)
        msg[0] = '\0';
    if (reply->body_case == BODY(ERROR)) {
        rc = (int)reply->error->code;
        if (msg)
            snprintf(msg, msglen, "%s", reply->error->message);
    }
    ccr_free(reply);
    return rc;
}

/* ---- the matrix ---- */

enum obj {
    OBJ_NONE,       /* nothing beforehand (a new contact, a new login) */
    OBJ_QUEUED,     /* a contact waiting, no agent logged in */
    OBJ_OFFERED,    /* a contact offered to the agent */
    OBJ_ASSIGNED,   /* a contact assigned to the agent */
    OBJ_AGENT,      /* the agent logged in */
};

/* The principals' fixture connections: [0] is sw-a / desk-a, [1] is
 * sw-b / desk-b. */
struct world {
    struct e2e_env *f;
    struct e2e_client *sw[2], *desk[2];
    struct e2e_client *tester[6];
};

static const int roles[6] = {
    ROLE(SWITCH), ROLE(GATEWAY), ROLE(DIALER), ROLE(AGENT), ROLE(MONITOR),
    ROLE(ADMIN),
};
static const char *const role_names[6] = {
    "switch", "gateway", "dialer", "agent", "monitor", "admin",
};

struct row {
    int body;
    const char *name;
    enum obj obj;
    /* per role (the order of roles[]): answer on own / foreign object */
    int own[6], foreign[6];
};

#define F EC(FORBIDDEN)
#define UC EC(UNKNOWN_CONTACT)
#define IF EC(INVALID_FIELD)
#define UCA EC(UNKNOWN_CAMPAIGN)
#define UD EC(UNKNOWN_DIAL)

static const struct row matrix[] = {
    { BODY(CONTACT_ARRIVED), "ContactArrived", OBJ_NONE,
      { 0, 0, 0, F, F, F }, { IF, IF, IF, F, F, F } },
    { BODY(CONTACT_ABANDONED), "ContactAbandoned", OBJ_QUEUED,
      { 0, 0, 0, F, F, F }, { UC, UC, UC, F, F, F } },
    { BODY(CONTACT_COMPLETED), "ContactCompleted", OBJ_ASSIGNED,
      { 0, 0, 0, 0, F, F }, { UC, UC, UC, UC, F, F } },
    { BODY(OFFER_ACCEPTED), "OfferAccepted", OBJ_OFFERED,
      { 0, 0, 0, 0, F, F }, { UC, UC, UC, UC, F, F } },
    { BODY(OFFER_REJECTED), "OfferRejected", OBJ_OFFERED,
      { 0, 0, 0, 0, F, F }, { UC, UC, UC, UC, F, F } },
    { BODY(CONTACT_TRANSFER), "ContactTransfer", OBJ_ASSIGNED,
      { 0, 0, 0, 0, F, F }, { UC, UC, UC, UC, F, F } },
    { BODY(AGENT_LOGIN), "AgentLogin", OBJ_NONE,
      { 0, 0, 0, 0, F, F }, { F, F, F, F, F, F } },
    { BODY(AGENT_LOGOUT), "AgentLogout", OBJ_AGENT,
      { 0, 0, 0, 0, F, 0 }, { F, F, F, F, F, F } },
    { BODY(AGENT_STATE), "AgentState", OBJ_AGENT,
      { 0, 0, 0, 0, F, 0 }, { F, F, F, F, F, F } },
    { BODY(STATS_REQUEST), "StatsRequest", OBJ_AGENT,
      { 0, 0, 0, 0, 0, 0 }, { F, F, F, F, 0, 0 } },
    { BODY(CAMPAIGN_UPSERT), "CampaignUpsert", OBJ_NONE,
      { F, F, F, F, F, 0 }, { F, F, F, F, F, 0 } },
    { BODY(CAMPAIGN_START), "CampaignStart", OBJ_NONE,
      { F, F, F, F, F, UCA }, { F, F, F, F, F, UCA } },
    { BODY(CAMPAIGN_PAUSE), "CampaignPause", OBJ_NONE,
      { F, F, F, F, F, UCA }, { F, F, F, F, F, UCA } },
    { BODY(CAMPAIGN_STOP), "CampaignStop", OBJ_NONE,
      { F, F, F, F, F, UCA }, { F, F, F, F, F, UCA } },
    { BODY(LEADS_ADD), "LeadsAdd", OBJ_NONE,
      { F, F, F, F, F, UCA }, { F, F, F, F, F, UCA } },
    { BODY(DNC_ADD), "DncAdd", OBJ_NONE,
      { F, F, F, F, F, 0 }, { F, F, F, F, F, 0 } },
    { BODY(DNC_REMOVE), "DncRemove", OBJ_NONE,
      { F, F, F, F, F, 0 }, { F, F, F, F, F, 0 } },
    { BODY(DIAL_RESULT), "DialResult", OBJ_NONE,
      { UD, F, UD, F, F, F }, { UD, F, UD, F, F, F } },
    { BODY(CALLBACK_REQUEST), "CallbackRequest", OBJ_QUEUED,
      { 0, F, 0, F, F, F }, { UC, F, UC, F, F, F } },
};

/* Builds the object of kind `o` for principal side p (0: a, 1: b). */
static void build(struct world *w, enum obj o, int p, const char *cid,
                  const char *aid)
{
    ccr_envelope *e;
    if (o == OBJ_AGENT || o == OBJ_OFFERED || o == OBJ_ASSIGNED)
        assert_int_equal(request(w->desk[p], BODY(AGENT_LOGIN), NULL, aid,
                                 NULL, 0), 0);
    if (o == OBJ_QUEUED || o == OBJ_OFFERED || o == OBJ_ASSIGNED)
        assert_int_equal(e2e_contact(w->sw[p], cid, "q1", E2E_VOICE), 0);
    if (o == OBJ_OFFERED || o == OBJ_ASSIGNED) {
        e = e2e_wait_offer(w->desk[p], cid, T_MS);
        assert_non_null(e);
        assert_string_equal(e->offer->agent_id, aid);
        ccr_free(e);
    }
    if (o == OBJ_ASSIGNED)
        assert_int_equal(e2e_simple(w->desk[p], BODY(OFFER_ACCEPTED), cid,
                                    aid), 0);
}

/* Removes whatever the case left: the owners end the contact and log the
 * agent out (answers ignored: some are gone already). */
static void clean(struct world *w, const char *cid, const char *aid)
{
    for (int p = 0; p < 2; p++) {
        (void)e2e_simple(w->sw[p], BODY(CONTACT_COMPLETED), cid, NULL);
        (void)e2e_simple(w->sw[p], BODY(CONTACT_ABANDONED), cid, NULL);
        (void)e2e_simple(w->desk[p], BODY(AGENT_LOGOUT), NULL, aid);
        e2e_flush(w->sw[p]);
        e2e_flush(w->desk[p]);
    }
}

static void test_matrix(void **state)
{
    struct world w = { .f = *state };
    static const char *const tester_names[6] = {
        "sw-a-t1", "sw-a-t2", "sw-a-t3", "desk-a-t", "mon-t", "adm-t",
    };
    const char *tester_tokens[6] = {
        tok_sw_a, tok_sw_a, tok_sw_a, tok_desk_a, tok_mon, tok_adm,
    };
    char cid[32], aid[32], msg[384], want[384];
    int n = 0;

    w.sw[0] = dial_hello(w.f, "sw-a-main", ROLE(SWITCH), tok_sw_a);
    w.sw[1] = dial_hello(w.f, "sw-b-main", ROLE(SWITCH), tok_sw_b);
    w.desk[0] = dial_hello(w.f, "desk-a-main", ROLE(AGENT), tok_desk_a);
    w.desk[1] = dial_hello(w.f, "desk-b-main", ROLE(AGENT), tok_desk_b);
    for (int r = 0; r < 6; r++)
        w.tester[r] = dial_hello(w.f, tester_names[r], roles[r],
                                 tester_tokens[r]);

    for (size_t m = 0; m < sizeof(matrix) / sizeof(matrix[0]); m++) {
        const struct row *row = &matrix[m];
        for (int r = 0; r < 6; r++) {
            for (int foreign = 0; foreign < 2; foreign++) {
                int want_code = foreign ? row->foreign[r] : row->own[r];
                int got;
                n++;
                snprintf(cid, sizeof(cid), "c%c-%d", foreign ? 'b' : 'a', n);
                snprintf(aid, sizeof(aid), "%c-%d", foreign ? 'b' : 'a', n);
                /* a new contact collides with the other principal's */
                build(&w, row->body == BODY(CONTACT_ARRIVED) && foreign
                              ? OBJ_QUEUED : row->obj,
                      foreign, cid, aid);
                got = request(w.tester[r], row->body, cid, aid, msg,
                              sizeof(msg));
                if (got != want_code)
                    fail_msg("%s by %s on %s object: answer %d, documented "
                             "%d (%s)", row->name, role_names[r],
                             foreign ? "a foreign" : "its own", got,
                             want_code, msg);
                if (got == UC) {
                    /* the words of a contact that does not exist */
                    snprintf(want, sizeof(want), "%s: %s", cid,
                             ccr_strerror(CCR_ENOCONTACT));
                    assert_string_equal(msg, want);
                }
                if (row->body == BODY(CONTACT_ARRIVED) && foreign &&
                    got == IF) {
                    /* nothing about the contact: no status, no queue */
                    assert_null(strstr(msg, "q1"));
                    assert_null(strstr(msg, "QUEUED"));
                }
                clean(&w, cid, aid);
            }
        }
    }
    /* a UNKNOWN_CONTACT for a contact that really does not exist has
     * the same words */
    assert_int_equal(request(w.tester[0], BODY(CONTACT_ABANDONED), "cx-0",
                             NULL, msg, sizeof(msg)), UC);
    snprintf(want, sizeof(want), "cx-0: %s", ccr_strerror(CCR_ENOCONTACT));
    assert_string_equal(msg, want);

    for (int r = 0; r < 6; r++)
        e2e_hang_up(w.tester[r]);
    for (int p = 0; p < 2; p++) {
        e2e_hang_up(w.sw[p]);
        e2e_hang_up(w.desk[p]);
    }
}

/* The foreign ContactArrived sends no ContactQueued (which would carry
 * the status and queue) before its Error. */
static void test_foreign_arrival_reveals_nothing(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client *b = dial_hello(f, "sw-b-1", ROLE(SWITCH), tok_sw_b);
    struct e2e_client *a = dial_hello(f, "sw-a-1", ROLE(SWITCH), tok_sw_a);
    ccr_envelope *e;

    assert_int_equal(e2e_contact(b, "secret-1", "q1", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(a, "secret-1", "q1", E2E_VOICE), IF);
    e = e2e_wait(a, BODY(CONTACT_QUEUED), 0, 0);
    assert_null(e);
    /* the owner's own re-sent id is still answered with its status */
    assert_int_equal(e2e_contact(b, "secret-1", "q1", E2E_VOICE), 0);
    e = e2e_wait(b, BODY(CONTACT_QUEUED), 0, T_MS);
    assert_non_null(e);
    assert_string_equal(e->contact_queued->contact_id, "secret-1");
    ccr_free(e);
    e2e_hang_up(a);
    e2e_hang_up(b);
}

/* ---- credentials ---- */

static void test_credentials(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client *e = e2e_env_dial(f);
    char bad[128];

    /* nothing before a valid Hello */
    assert_int_equal(request(e, BODY(STATS_REQUEST), NULL, "a-1", NULL, 0),
                     EC(NOT_HELLO));
    /* missing and wrong tokens */
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), NULL, false),
                     EC(UNAUTHENTICATED));
    assert_int_equal(request(e, BODY(STATS_REQUEST), NULL, "a-1", NULL, 0),
                     EC(NOT_HELLO));
    e2e_hang_up(e);

    e = e2e_env_dial(f);
    /* differs from sw-a's token only in its last byte: the whole token is
     * compared (by hash), not a prefix */
    snprintf(bad, sizeof(bad), "%s", tok_sw_a);
    bad[strlen(bad) - 1] ^= 1;
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), bad, false),
                     EC(UNAUTHENTICATED));
    /* a prefix of a valid token, and the token with a newline */
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(tok_sw_a) - 1, tok_sw_a);
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), bad, false),
                     EC(UNAUTHENTICATED));
    e2e_hang_up(e);

    e = e2e_env_dial(f);
    snprintf(bad, sizeof(bad), "%s\n", tok_sw_a);
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), bad, false),
                     EC(UNAUTHENTICATED));
    /* a valid token of another principal, with a client name outside its
     * scope */
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), tok_sw_b, false),
                     EC(FORBIDDEN));
    /* a role the principal does not have */
    assert_int_equal(hello(e, "desk-a-1", ROLE(SWITCH), tok_desk_a, false),
                     EC(FORBIDDEN));
    assert_int_equal(hello(e, "mon-1", ROLE(ADMIN), tok_mon, false),
                     EC(FORBIDDEN));
    /* a principal of another tenant */
    assert_int_equal(hello(e, "far-1", ROLE(SWITCH), tok_far, false),
                     EC(FORBIDDEN));
    /* the token from the token file */
    assert_int_equal(hello(e, "desk-b-1", ROLE(AGENT), tok_desk_b, false), 0);
    assert_int_equal(hello(e, "desk-b-1", ROLE(AGENT), tok_desk_b, false),
                     EC(INVALID_STATE));
    e2e_hang_up(e);
}

/* After max_failures (3) refused credentials the connection is closed;
 * every refusal is counted in Stats.auth_failures. */
static void test_failures_close(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client *mon = dial_hello(f, "mon-1", ROLE(MONITOR), tok_mon);
    struct e2e_client *e = e2e_env_dial(f);
    ccr_envelope *st;
    uint64_t before;

    st = e2e_stats(mon);
    before = st->stats->auth_failures;
    ccr_free(st);

    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), "wrong-1", false),
                     EC(UNAUTHENTICATED));
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), "wrong-2", false),
                     EC(UNAUTHENTICATED));
    assert_int_equal(hello(e, "sw-a-1", ROLE(SWITCH), "wrong-3", false),
                     EC(UNAUTHENTICATED));
    /* closed: even the right token is not heard any more */
    {
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
        h.client_name = "sw-a-1";
        h.role = ROLE(SWITCH);
        h.protocol_version =
            CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
        h.credential = (char *)tok_sw_a;
        env.body_case = BODY(HELLO);
        env.hello = &h;
        (void)ccr_client_send(e->c, &env);
        assert_null(e2e_wait(e, BODY(ACK), 0, T_MS));
        assert_true(e->eof);
    }
    e2e_hang_up(e);

    st = e2e_stats(mon);
    assert_int_equal(st->stats->auth_failures, before + 3);
    ccr_free(st);
    e2e_expect_log(&f->d, "Hello refused: credential not accepted (3 on "
                   "this connection", T_MS);
    /* the log never holds a token */
    assert_false(harness_log_contains(f->d.log, "wrong-1", 0));
    assert_false(harness_log_contains(f->d.log, tok_sw_a, 0));
    e2e_hang_up(mon);
}

/* ---- re-attach and client names ---- */

static void test_reattach_other_principal(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client *a = dial_hello(f, "shared-1", ROLE(SWITCH), tok_sw_a);
    struct e2e_client *b;

    assert_int_equal(e2e_contact(a, "cs-1", "q1", E2E_VOICE), 0);
    e2e_hang_up(a);
    e2e_expect_log(&f->d, "client shared-1 gone", T_MS);

    /* the name is in sw-b's scope too, but sw-a held it */
    b = e2e_env_dial(f);
    assert_int_equal(hello(b, "shared-1", ROLE(SWITCH), tok_sw_b, true),
                     EC(FORBIDDEN));
    e2e_hang_up(b);

    a = e2e_env_dial(f);
    assert_int_equal(hello(a, "shared-1", ROLE(SWITCH), tok_sw_a, true), 0);
    /* it got its contact back: it may abandon it */
    assert_int_equal(e2e_simple(a, BODY(CONTACT_ABANDONED), "cs-1", NULL), 0);
    e2e_hang_up(a);
}

/* A new connection's Hello once the engine serves: a starting or loading
 * engine answers STATE_UNAVAILABLE (docs/redis.md, Recovery), so that is
 * retried on a new connection until T_MS; any other answer is returned
 * with the connection in *out. */
static int hello_serving(struct e2e_env *f, const char *name, int role,
                         const char *token, bool reattach,
                         struct e2e_client **out)
{
    long long deadline = harness_now_ms() + T_MS;
    for (;;) {
        struct e2e_client *e = e2e_env_dial(f);
        int rc = hello(e, name, role, token, reattach);
        if (rc != EC(STATE_UNAVAILABLE) || harness_now_ms() > deadline) {
            *out = e;
            return rc;
        }
        e2e_hang_up(e);
        harness_pause_ms(20);
    }
}

/* The same after the engine restarted: Redis keeps the principal with the
 * client name, so a name in two principals' scope still re-attaches only
 * for the principal that held it. */
static void test_reattach_other_principal_after_restart(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client *a, *b;

    assert_int_equal(hello_serving(f, "shared-7", ROLE(SWITCH), tok_sw_a,
                                   false, &a), 0);

    assert_int_equal(e2e_contact(a, "cr-1", "q1", E2E_VOICE), 0);
    /* acknowledged: in Redis with its owner and principal */
    struct peek *pk = peek_read(f->r, "au");
    const struct peek_obj *o = peek_find(pk, 'c', "cr-1");
    assert_non_null(o);
    assert_string_equal(peek_get(o, "owner", NULL), "shared-7");
    assert_string_equal(peek_get(o, "principal", NULL), "sw-a");
    peek_free(pk);

    harness_daemon_kill(&f->d);
    e2e_hang_up(a);
    assert_int_equal(harness_daemon_restart(&f->d, NULL), 0);
    e2e_expect_log(&f->d, "contacts and agents of client shared-7 wait",
                   T_MS);

    assert_int_equal(hello_serving(f, "shared-7", ROLE(SWITCH), tok_sw_b,
                                   true, &b), EC(FORBIDDEN));
    e2e_hang_up(b);

    assert_int_equal(hello_serving(f, "shared-7", ROLE(SWITCH), tok_sw_a,
                                   true, &a), 0);
    assert_int_equal(e2e_simple(a, BODY(CONTACT_ABANDONED), "cr-1", NULL), 0);
    e2e_hang_up(a);
}

static void test_one_connection_per_name(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client *old = dial_hello(f, "shared-2", ROLE(SWITCH), tok_sw_a);
    struct e2e_client *b = e2e_env_dial(f), *neu;
    ccr_envelope *st;

    assert_int_equal(e2e_contact(old, "cs-2", "q1", E2E_VOICE), 0);
    /* another principal may not take a live name */
    assert_int_equal(hello(b, "shared-2", ROLE(SWITCH), tok_sw_b, false),
                     EC(FORBIDDEN));
    e2e_hang_up(b);
    st = e2e_stats_queues(old, NULL, 0);    /* still served */
    ccr_free(st);

    /* the same principal's new connection replaces the old one, and
     * with reattach takes its contacts */
    neu = e2e_env_dial(f);
    assert_int_equal(hello(neu, "shared-2", ROLE(SWITCH), tok_sw_a, true), 0);
    assert_null(e2e_wait(old, BODY(ACK), 0, T_MS));
    assert_true(old->eof);
    assert_int_equal(e2e_simple(neu, BODY(CONTACT_ABANDONED), "cs-2", NULL),
                     0);
    e2e_expect_log(&f->d, "replaced by a new connection with its client "
                   "name", T_MS);
    e2e_hang_up(old);
    e2e_hang_up(neu);
}

/* ---- the command line ---- */

static const char *build_dir(void)
{
    const char *b = getenv("CCROUTE_BUILD");
    return b && *b ? b : "build";
}

/* Runs sh -c cmd; its exit status, stdout+stderr into out. */
static int sh(const char *cmd, char *out, size_t outlen)
{
    FILE *p = popen(cmd, "r");
    size_t n;
    int st;
    assert_non_null(p);
    n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_token_file_mode(void **state)
{
    char dir[] = "/tmp/ccr-authcfg-XXXXXX", cfg[128], tok[128], cmd[512];
    char text[1024], out[2048], hex[65], want[512];
    assert_non_null(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/c.yaml", dir);
    snprintf(tok, sizeof(tok), "%s/t.yaml", dir);
    e2e_token_hex(tok_sw_a, hex);
    snprintf(text, sizeof(text), "sw-a: %s\n", hex);
    write_file(tok, text, 0644);
    snprintf(text, sizeof(text),
             "listen: 127.0.0.1:0\n"
             "auth:\n"
             "  token_file: t.yaml\n"
             "principals:\n"
             "  - {name: sw-a, roles: [switch], clients: [\"sw-a*\"]}\n");
    write_file(cfg, text, 0644);
    snprintf(cmd, sizeof(cmd), "%s/ccrouted --check-config --config %s 2>&1",
             build_dir(), cfg);

    /* readable by group and others: refused, naming the line */
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "%s:3: auth.token_file: %s has mode 0644",
             cfg, tok);
    if (!strstr(out, want))
        fail_msg("expected \"%s\" in: %s", want, out);
    /* group-readable only: still refused */
    assert_int_equal(chmod(tok, 0640), 0);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    /* private: accepted, relative to the configuration's directory */
    assert_int_equal(chmod(tok, 0600), 0);
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    assert_string_equal(out, "OK\n");
    /* several tokens for one principal (a rotation) */
    snprintf(text, sizeof(text), "sw-a: [%s, %s]\n", hex, hex);
    write_file(tok, text, 0600);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "t.yaml:1: sw-a[1]: this token hash is "
                            "already given to principal \"sw-a\""));
    {
        char other[65];
        e2e_token_hex(tok_sw_b, other);
        snprintf(text, sizeof(text), "sw-a: [%s, %s]\n", hex, other);
        write_file(tok, text, 0600);
        assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    }
    /* a principal the configuration does not have */
    snprintf(text, sizeof(text), "sw-z: %s\n", hex);
    write_file(tok, text, 0600);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "t.yaml:1: sw-z: no principal \"sw-z\""));
    /* a principal without any token is an error */
    write_file(tok, "{}\n", 0600);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "principal \"sw-a\" has no token"));
    unlink(tok);
    unlink(cfg);
    rmdir(dir);
}

/* No principals: open on loopback only. */
static void test_open_needs_loopback(void **state)
{
    char dir[] = "/tmp/ccr-authopen-XXXXXX", cfg[128], cmd[512], out[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/c.yaml", dir);
    write_file(cfg, "listen: 0.0.0.0:0\n", 0644);

    snprintf(cmd, sizeof(cmd), "%s/ccrouted --check-config --config %s 2>&1",
             build_dir(), cfg);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "0.0.0.0 is not a loopback address and no "
                            "principals are configured"));
    assert_non_null(strstr(out, "c.yaml:1: listen:"));  /* file and line */
    /* the daemon itself refuses to start */
    snprintf(cmd, sizeof(cmd), "%s/ccrouted --config %s 2>&1", build_dir(),
             cfg);
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "not a loopback address"));
    /* loopback: open, as before */
    snprintf(cmd, sizeof(cmd), "%s/ccrouted --check-config --config %s "
             "--listen 127.0.0.1:0 2>&1", build_dir(), cfg);
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    /* said explicitly */
    write_file(cfg, "listen: 0.0.0.0:0\nauth: {insecure_open: true}\n", 0644);
    snprintf(cmd, sizeof(cmd), "%s/ccrouted --check-config --config %s 2>&1",
             build_dir(), cfg);
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    unlink(cfg);
    rmdir(dir);
}

static void test_hash_token(void **state)
{
    char cmd[512], out[256], hex[65];
    e2e_token_hex(tok_sw_a, hex);
    snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | %s/ccrouted "
             "--hash-token", tok_sw_a, build_dir());
    assert_int_equal(sh(cmd, out, sizeof(out)), 0);
    assert_int_equal(strlen(out), 65);
    assert_memory_equal(out, hex, 64);
    /* too short to be a token */
    snprintf(cmd, sizeof(cmd), "printf short | %s/ccrouted --hash-token "
             "2>/dev/null", build_dir());
    assert_int_equal(sh(cmd, out, sizeof(out)), 1);
    assert_string_equal(out, "");
}

/* The lookup itself: every configured token is found, a wrong one is
 * not, whatever its position. */
static void test_lookup(void **state)
{
    struct auth_config a;
    const char *toks[3] = { tok_sw_a, tok_sw_b, tok_mon };
    auth_config_defaults(&a);
    a.nprincipals = 3;
    a.principals = calloc(3, sizeof(*a.principals));
    a.tokens = calloc(3, sizeof(*a.tokens));
    assert_non_null(a.principals);
    assert_non_null(a.tokens);
    a.ntokens = 3;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(auth_hash(toks[i], strlen(toks[i]),
                                   a.tokens[i].hash), 0);
        a.tokens[i].principal = 2 - i;
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth_lookup(&a, toks[i], strlen(toks[i])), 2 - i);
    assert_int_equal(auth_lookup(&a, "nope", 4), -1);
    assert_int_equal(auth_lookup(&a, tok_sw_a, strlen(tok_sw_a) - 1), -1);
    assert_int_equal(auth_lookup(&a, "", 0), -1);
    assert_int_equal(auth_lookup(&a, NULL, 0), -1);
    auth_config_fini(&a);
}

/* The `auth:` and `principals:` sections: each mistake refused with its
 * line and field. */
static void test_config_errors(void **state)
{
    static const struct { const char *text, *want; } cases[] = {
        { "principals:\n  - {name: p, token_sha256: abc, roles: [switch],"
          " clients: [x]}\n",
          "t.yaml:2: principals[0].token_sha256: expected the token's "
          "SHA-256 as 64 hex digits" },
        { "principals:\n  - {name: p, token_sha256: H, roles: [pilot],"
          " clients: [x]}\n",
          "t.yaml:2: principals[0].roles[0]: unknown role \"pilot\"" },
        { "principals:\n  - {name: p, token_sha256: H, roles: [switch],"
          " clients: [\"a*b\"]}\n",
          "t.yaml:2: principals[0].clients[0]: \"a*b\" is not a name or a "
          "prefix pattern" },
        { "principals:\n  - {name: p, token_sha256: H, roles: [switch]}\n",
          "t.yaml:2: principals[0]: missing \"clients\"" },
        { "principals:\n  - {name: p, token_sha256: H, clients: [x]}\n",
          "t.yaml:2: principals[0]: missing \"roles\"" },
        { "principals:\n  - {name: p, roles: [switch], clients: [x]}\n",
          "principal \"p\" has no token" },
        { "principals:\n"
          "  - {name: p, token_sha256: H, roles: [switch], clients: [x]}\n"
          "  - {name: p, token_sha256: G, roles: [switch], clients: [y]}\n",
          "t.yaml:3: principals[1]: principal \"p\" defined twice (first at "
          "line 2)" },
        { "principals:\n"
          "  - {name: p, token_sha256: H, roles: [switch], clients: [x]}\n"
          "  - {name: q, token_sha256: H, roles: [switch], clients: [y]}\n",
          "t.yaml:3: principals[1].token_sha256: this token hash is already "
          "given to principal \"p\"" },
        { "auth: {max_failures: 0}\n",
          "t.yaml:1: auth.max_failures:" },
        { "auth: {tokens: x}\n", "t.yaml:1: auth.tokens: unknown key" },
    };
    char h[65], g[65], text[1024], err[512];
    e2e_token_hex(tok_sw_a, h);
    e2e_token_hex(tok_sw_b, g);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config c;
        const char *in = cases[i].text;
        size_t o = 0;
        /* H and G stand for two valid hashes */
        for (; *in && o + 65 < sizeof(text); in++) {
            if (*in == 'H' && in[1] != 'e' && (in[-1] == ' ')) {
                memcpy(text + o, h, 64);
                o += 64;
            } else if (*in == 'G' && in[-1] == ' ') {
                memcpy(text + o, g, 64);
                o += 64;
            } else {
                text[o++] = *in;
            }
        }
        text[o] = '\0';
        config_defaults(&c);
        err[0] = '\0';
        if (config_load_string(&c, "t.yaml", text, o, err, sizeof(err)) == 0)
            fail_msg("case %zu accepted: %s", i, text);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" not in \"%s\"", i, cases[i].want, err);
        config_fini(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_arrival_reveals_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reattach_other_principal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_connection_per_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_reattach_other_principal_after_restart, setup_redis,
            teardown),
        cmocka_unit_test(test_token_file_mode),
        cmocka_unit_test(test_open_needs_loopback),
        cmocka_unit_test(test_hash_token),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
