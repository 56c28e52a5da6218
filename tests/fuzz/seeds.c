/* seeds.c -- writes the generated seed corpora of fuzz-envelope,
 * fuzz-frame, fuzz-session and fuzz-journal.
 *
 *   seeds OUTDIR
 *
 * writes OUTDIR/fuzz-envelope/<message>.pb (one packed Envelope per body
 * case, every field set, repeated fields with two elements) and
 * OUTDIR/fuzz-frame/<name>.bin (fuzz-frame's layout: 4 bytes limit, then a
 * receive buffer): each Envelope as one frame, all of them in one stream
 * with a partial frame at its end, and the edges of the length prefix;
 * and OUTDIR/fuzz-session/<name>.bin (scripts in fuzz-session.h's format):
 * each request Envelope sent by the client whose role sends it, and
 * sessions of typical work for each role (a switch sending contacts, a
 * desk answering offers, a supervisor asking Stats), in open and in auth
 * mode, with reconnects, foreign principals, garbage and split frames;
 * and OUTDIR/fuzz-journal/<name>.bin (fuzz-journal's layout: entries,
 * each a varint length and its bytes): real batches and a snapshot chunk
 * packed by journal_pack() from storebatch ops, and one journal cut short.
 *
 * The seeds are built from the schema's generated code at every run, so a
 * field added to proto/ccroute.proto reaches the corpus without a binary
 * file to regenerate; tests/fuzz/run.sh copies them into the run's scratch
 * corpus, never into the tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ccroute.pb-c.h"
#include "frame.h"
#include "fuzz-session.h"
#include "journal.h"
#include "storebatch.h"

typedef Ccroute__V1__Envelope envelope_t;

static const char *outdir;

static void write_file(const char *harness, const char *name,
                       const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", outdir, harness);
    if (mkdir(path, 0777) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, harness, name);
    f = fopen(path, "wb");
    if (!f || fwrite(a, 1, alen, f) != alen ||
        (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* The stream of every frame, grown as frames are added (malloc'd). */
static uint8_t *stream;
static size_t stream_len;

static void append(const uint8_t *p, size_t n)
{
    uint8_t *s = realloc(stream, stream_len + n);
    if (!s) {
        perror("realloc");
        exit(1);
    }
    memcpy(s + stream_len, p, n);
    stream = s;
    stream_len += n;
}

/* 4 bytes of fuzz-frame's input: the limit, little-endian. */
static void put_limit(uint8_t out[4], uint32_t max)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(max >> (8 * i));
}

/* ---- fuzz-session scripts (fuzz-session.h) ---- */

static uint8_t sess[1 << 16];
static size_t sess_len;

static void sess_put(const void *p, size_t n)
{
    if (sess_len + n > sizeof(sess)) {
        fprintf(stderr, "seeds: session script too long\n");
        exit(1);
    }
    memcpy(sess + sess_len, p, n);
    sess_len += n;
}

static void sess_begin(unsigned flags)
{
    uint8_t f = (uint8_t)flags;
    sess_len = 0;
    sess_put(&f, 1);
}

static void sess_bytes(int client, int op, const void *p, size_t n)
{
    uint8_t h[3] = { SESS_RECORD(client, op), (uint8_t)n,
                     (uint8_t)(n >> 8) };
    sess_put(h, 3);
    sess_put(p, n);
}

static void sess_env(int client, envelope_t *env)
{
    size_t n = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        perror("malloc");
        exit(1);
    }
    ccroute__v1__envelope__pack(env, p);
    sess_bytes(client, SESS_OP_FRAME, p, n);
    free(p);
}

static void sess_op(int client, int op)
{
    uint8_t h = SESS_RECORD(client, op);
    sess_put(&h, 1);
}

static void sess_end(const char *name)
{
    char file[256];
    snprintf(file, sizeof(file), "%s.bin", name);
    write_file("fuzz-session", file, sess, sess_len, NULL, 0);
}

/* The client whose automatic Hello gives it the role that sends this
 * body: 0 a switch, 1 a desk, 2 an admin; a Hello goes on client 3,
 * which says none itself. */
static int session_client(const envelope_t *env)
{
    switch (env->body_case) {
    case CCROUTE__V1__ENVELOPE__BODY_HELLO:
        return 3;
    case CCROUTE__V1__ENVELOPE__BODY_OFFER_ACCEPTED:
    case CCROUTE__V1__ENVELOPE__BODY_OFFER_REJECTED:
    case CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN:
    case CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGOUT:
        return 1;
    case CCROUTE__V1__ENVELOPE__BODY_AGENT_STATE:
    case CCROUTE__V1__ENVELOPE__BODY_STATS_REQUEST:
    case CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_UPSERT:
    case CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_START:
    case CCROUTE__V1__ENVELOPE__BODY_LEADS_ADD:
    case CCROUTE__V1__ENVELOPE__BODY_DNC_ADD:
        return 2;
    default:
        return 0;
    }
}

/* Every envelope seed as a one-frame session, open mode, clients 0-2 past
 * their Hello. */
static void session_of_envelope(const char *name, envelope_t *env)
{
    char file[256];
    sess_begin(SESS_HELLO(0) | SESS_HELLO(1) | SESS_HELLO(2));
    sess_env(session_client(env), env);
    snprintf(file, sizeof(file), "env-%s", name);
    sess_end(file);
}

/* Packs env, writes it as an envelope seed and as a frame seed, and
 * appends the frame to the stream. */
static void emit(const char *name, envelope_t *env)
{
    size_t n = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *frame = malloc(4 + FRAME_VARINT_MAX + n);
    char file[256];
    size_t h;

    if (!frame) {
        perror("malloc");
        exit(1);
    }
    put_limit(frame, FRAME_DEFAULT_MAX);
    h = frame_varint_put(n, frame + 4);
    ccroute__v1__envelope__pack(env, frame + 4 + h);

    snprintf(file, sizeof(file), "%s.pb", name);
    write_file("fuzz-envelope", file, frame + 4 + h, n, NULL, 0);
    snprintf(file, sizeof(file), "%s.bin", name);
    write_file("fuzz-frame", file, frame, 4 + h + n, NULL, 0);
    append(frame + 4, h + n);
    free(frame);
    session_of_envelope(name, env);
}

static void envelopes(void)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;

    Ccroute__V1__Hello hello = CCROUTE__V1__HELLO__INIT;
    hello.client_name = "switch-1";
    hello.role = CCROUTE__V1__ROLE__ROLE_SWITCH;
    hello.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    hello.reattach = 1;
    env.request_id = 1;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    emit("hello", &env);

    Ccroute__V1__SkillRequirement sr1 = CCROUTE__V1__SKILL_REQUIREMENT__INIT,
                                  sr2 = CCROUTE__V1__SKILL_REQUIREMENT__INIT;
    Ccroute__V1__SkillRequirement *srs[] = { &sr1, &sr2 };
    Ccroute__V1__Attribute at1 = CCROUTE__V1__ATTRIBUTE__INIT,
                           at2 = CCROUTE__V1__ATTRIBUTE__INIT;
    Ccroute__V1__Attribute *ats[] = { &at1, &at2 };
    sr1.skill = "sales";
    sr1.min_level = 3;
    sr2.skill = "lang:en";
    sr2.min_level = 5;
    at1.key = "crm";
    at1.value = "gold";
    at2.key = "ivr_path";
    at2.value = "1-3-2";
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ca.contact_id = "c-000001";
    ca.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    ca.queue = "sales_en";
    ca.n_skills = 2;
    ca.skills = srs;
    ca.language = "en";
    ca.product = "mobile";
    ca.priority = 50;
    ca.customer_id = "cust-42";
    ca.customer_value = 700;
    ca.preferred_agent = "a-7";
    ca.n_attributes = 2;
    ca.attributes = ats;
    env.request_id = 2;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED;
    env.contact_arrived = &ca;
    emit("contact_arrived", &env);

    Ccroute__V1__ContactAbandoned cab = CCROUTE__V1__CONTACT_ABANDONED__INIT;
    cab.contact_id = "c-000001";
    env.request_id = 3;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ABANDONED;
    env.contact_abandoned = &cab;
    emit("contact_abandoned", &env);

    Ccroute__V1__ContactCompleted cc = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    cc.contact_id = "c-000002";
    env.request_id = 4;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_COMPLETED;
    env.contact_completed = &cc;
    emit("contact_completed", &env);

    Ccroute__V1__OfferAccepted oa = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    oa.contact_id = "c-000002";
    oa.agent_id = "a-1";
    env.request_id = 5;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_ACCEPTED;
    env.offer_accepted = &oa;
    emit("offer_accepted", &env);

    Ccroute__V1__OfferRejected orj = CCROUTE__V1__OFFER_REJECTED__INIT;
    orj.contact_id = "c-000003";
    orj.agent_id = "a-2";
    orj.reason = "busy";
    env.request_id = 6;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_REJECTED;
    env.offer_rejected = &orj;
    emit("offer_rejected", &env);

    Ccroute__V1__ContactTransfer ct = CCROUTE__V1__CONTACT_TRANSFER__INIT;
    ct.contact_id = "c-000004";
    ct.to_queue = "support_en_tier1";
    env.request_id = 7;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_TRANSFER;
    env.contact_transfer = &ct;
    emit("contact_transfer", &env);

    Ccroute__V1__AgentSkill as1 = CCROUTE__V1__AGENT_SKILL__INIT,
                            as2 = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *ass[] = { &as1, &as2 };
    Ccroute__V1__ChannelCapacity cap1 = CCROUTE__V1__CHANNEL_CAPACITY__INIT,
                                 cap2 = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *caps[] = { &cap1, &cap2 };
    char *queues[] = { "sales_en", "sales_es" };
    as1.skill = "sales";
    as1.level = 7;
    as2.skill = "lang:es";
    as2.level = 9;
    cap1.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    cap1.capacity = 1;
    cap2.channel = CCROUTE__V1__CHANNEL__CHANNEL_CHAT;
    cap2.capacity = 3;
    Ccroute__V1__AgentLogin al = CCROUTE__V1__AGENT_LOGIN__INIT;
    al.agent_id = "a-1";
    al.n_skills = 2;
    al.skills = ass;
    al.n_capacity = 2;
    al.capacity = caps;
    al.n_queues = 2;
    al.queues = queues;
    env.request_id = 8;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &al;
    emit("agent_login", &env);

    Ccroute__V1__AgentLogout alo = CCROUTE__V1__AGENT_LOGOUT__INIT;
    alo.agent_id = "a-1";
    env.request_id = 9;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGOUT;
    env.agent_logout = &alo;
    emit("agent_logout", &env);

    Ccroute__V1__AgentState ast = CCROUTE__V1__AGENT_STATE__INIT;
    ast.agent_id = "a-2";
    ast.status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY;
    ast.reason = "lunch";
    env.request_id = 10;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_STATE;
    env.agent_state = &ast;
    emit("agent_state", &env);

    char *agents[] = { "a-1", "a-2" };
    Ccroute__V1__StatsRequest sq = CCROUTE__V1__STATS_REQUEST__INIT;
    sq.n_queues = 2;
    sq.queues = queues;
    sq.n_agents = 2;
    sq.agents = agents;
    sq.all_agents = 1;
    env.request_id = 11;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &sq;
    emit("stats_request", &env);

    /* Outbound campaigns (proto/README.md, "Outbound campaigns"). */
    Ccroute__V1__CampaignUpsert cu = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
    char *blend[] = { "sales_es" };
    cu.name = "winback";
    cu.queue = "sales_en";
    cu.mode = CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREDICTIVE;
    cu.window_start_hour = 9;
    cu.window_end_hour = 20;
    cu.max_attempts = 4;
    cu.retry_busy_ms = 60000;
    cu.priority = 10;
    cu.caller_id = "+15550000";
    cu.dialer = "dialer-1";
    cu.abandon_cap_bp = 300;
    cu.n_blend_queues = 1;
    cu.blend_queues = blend;
    env.request_id = 20;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_UPSERT;
    env.campaign_upsert = &cu;
    emit("campaign_upsert", &env);

    Ccroute__V1__CampaignStart cst = CCROUTE__V1__CAMPAIGN_START__INIT;
    cst.campaign = "winback";
    env.request_id = 21;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_START;
    env.campaign_start = &cst;
    emit("campaign_start", &env);

    Ccroute__V1__Lead ld1 = CCROUTE__V1__LEAD__INIT, ld2 = CCROUTE__V1__LEAD__INIT;
    Ccroute__V1__Lead *lds[] = { &ld1, &ld2 };
    ld1.lead_id = "L-1";
    ld1.number = "+15550001";
    ld1.time_zone = "America/New_York";
    ld1.n_attributes = 2;
    ld1.attributes = ats;
    ld2.number = "+33100000002";
    ld2.time_zone = "Europe/Paris";
    Ccroute__V1__LeadsAdd la = CCROUTE__V1__LEADS_ADD__INIT;
    la.campaign = "winback";
    la.n_leads = 2;
    la.leads = lds;
    env.request_id = 22;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_LEADS_ADD;
    env.leads_add = &la;
    emit("leads_add", &env);

    Ccroute__V1__DncAdd dna = CCROUTE__V1__DNC_ADD__INIT;
    char *dnums[] = { "+15550001" };
    dna.n_numbers = 1;
    dna.numbers = dnums;
    env.request_id = 23;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_DNC_ADD;
    env.dnc_add = &dna;
    emit("dnc_add", &env);

    Ccroute__V1__DialResult dres = CCROUTE__V1__DIAL_RESULT__INIT;
    dres.dial_id = 0x1000001;
    dres.outcome = CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN;
    env.request_id = 24;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_DIAL_RESULT;
    env.dial_result = &dres;
    emit("dial_result", &env);

    Ccroute__V1__CallbackRequest cbr = CCROUTE__V1__CALLBACK_REQUEST__INIT;
    cbr.contact_id = "c-1";
    cbr.number = "+15550002";
    cbr.start_at_ms = 1700000000000ull;
    env.request_id = 25;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CALLBACK_REQUEST;
    env.callback_request = &cbr;
    emit("callback_request", &env);

    Ccroute__V1__DialRequest dreq = CCROUTE__V1__DIAL_REQUEST__INIT;
    dreq.dial_id = 0x1000001;
    dreq.campaign = "winback";
    dreq.lead_id = "L-1";
    dreq.number = "+15550001";
    dreq.caller_id = "+15550000";
    dreq.dial_timeout_ms = 30000;
    dreq.contact_id = "ob-1-1";
    env.request_id = 0;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_DIAL_REQUEST;
    env.dial_request = &dreq;
    emit("dial_request", &env);

    /* Engine -> client: what a client library decodes. */
    Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
    env.request_id = 12;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    emit("ack", &env);

    Ccroute__V1__Error er = CCROUTE__V1__ERROR__INIT;
    er.code = CCROUTE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_QUEUE;
    er.message = "unknown queue \"nope\"";
    env.request_id = 13;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_ERROR;
    env.error = &er;
    emit("error", &env);

    Ccroute__V1__ContactQueued cq = CCROUTE__V1__CONTACT_QUEUED__INIT;
    cq.contact_id = "c-000001";
    cq.queue = "sales_en";
    cq.position = 3;
    cq.estimated_wait_ms = 12000;
    cq.status = CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED;
    env.request_id = 14;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_QUEUED;
    env.contact_queued = &cq;
    emit("contact_queued", &env);

    Ccroute__V1__Offer of = CCROUTE__V1__OFFER__INIT;
    of.contact_id = "c-000001";
    of.agent_id = "a-1";
    of.queue = "sales_en";
    of.deadline_ms = 1700000000000ull;
    of.channel = CCROUTE__V1__CHANNEL__CHANNEL_CHAT;
    of.n_attributes = 2;
    of.attributes = ats;
    env.request_id = 0;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER;
    env.offer = &of;
    emit("offer", &env);

    Ccroute__V1__OfferRevoked orv = CCROUTE__V1__OFFER_REVOKED__INIT;
    orv.contact_id = "c-000001";
    orv.agent_id = "a-1";
    orv.reason = CCROUTE__V1__REVOKE_REASON__REVOKE_REASON_TIMEOUT;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_REVOKED;
    env.offer_revoked = &orv;
    emit("offer_revoked", &env);

    Ccroute__V1__ContactAssigned cas = CCROUTE__V1__CONTACT_ASSIGNED__INIT;
    cas.contact_id = "c-000001";
    cas.agent_id = "a-1";
    cas.queue = "sales_en";
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ASSIGNED;
    env.contact_assigned = &cas;
    emit("contact_assigned", &env);

    Ccroute__V1__QueueStats qs1 = CCROUTE__V1__QUEUE_STATS__INIT,
                            qs2 = CCROUTE__V1__QUEUE_STATS__INIT;
    Ccroute__V1__QueueStats *qss[] = { &qs1, &qs2 };
    qs1.queue = "sales_en";
    qs1.waiting = 4;
    qs1.longest_wait_ms = 31000;
    qs1.offered = 120;
    qs1.answered = 110;
    qs1.abandoned = 6;
    qs1.service_level = 0.8125;
    qs1.avg_speed_of_answer_ms = 9000;
    qs1.avg_handle_time_ms = 240000;
    qs1.agents_available = 2;
    qs2.queue = "sales_es";
    qs2.service_level = 1.0;
    Ccroute__V1__AgentStats ags1 = CCROUTE__V1__AGENT_STATS__INIT,
                            ags2 = CCROUTE__V1__AGENT_STATS__INIT;
    Ccroute__V1__AgentStats *agss[] = { &ags1, &ags2 };
    ags1.agent_id = "a-1";
    ags1.status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE;
    ags1.time_in_state_ms = 5000;
    ags1.occupancy = 0.75;
    ags1.active_contacts = 1;
    ags2.agent_id = "a-2";
    ags2.status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY;
    ags2.reason = "lunch";
    ags2.in_wrapup = 1;
    Ccroute__V1__Stats st = CCROUTE__V1__STATS__INIT;
    st.n_queues = 2;
    st.queues = qss;
    st.n_agents = 2;
    st.agents = agss;
    st.contacts_waiting = 4;
    st.agents_logged_in = 2;
    env.request_id = 11;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_STATS;
    env.stats = &st;
    emit("stats", &env);

    /* No body: the engine answers UNKNOWN_MESSAGE. */
    env.request_id = 99;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY__NOT_SET;
    emit("empty", &env);
}

/* The length prefix at its edges, for fuzz-frame. */
static void frame_edges(void)
{
    uint8_t b[4 + 32];
    size_t h;

    /* Every frame in one read, and the first 3 bytes of a next one. */
    uint8_t lim[4];
    put_limit(lim, FRAME_DEFAULT_MAX);
    write_file("fuzz-frame", "stream.bin", lim, 4, stream, stream_len);
    uint8_t head[3];
    memcpy(head, stream, sizeof(head));   /* append() may move stream */
    append(head, sizeof(head));
    write_file("fuzz-frame", "stream-partial.bin", lim, 4, stream,
               stream_len);

    /* A frame exactly at the limit, and one byte above it. */
    put_limit(b, 5);
    h = frame_varint_put(5, b + 4);
    memcpy(b + 4 + h, "hello", 5);
    write_file("fuzz-frame", "at-limit.bin", b, 4 + h + 5, NULL, 0);
    put_limit(b, 4);
    write_file("fuzz-frame", "over-limit.bin", b, 4 + h + 5, NULL, 0);

    /* The largest 64-bit prefix (10 bytes), and an eleventh byte. */
    put_limit(b, 0xffffffffu);
    h = frame_varint_put(UINT64_MAX, b + 4);
    write_file("fuzz-frame", "varint-max.bin", b, 4 + h, NULL, 0);
    b[4 + h - 1] |= 0x80;
    b[4 + h] = 0x01;
    write_file("fuzz-frame", "varint-11.bin", b, 4 + h + 1, NULL, 0);

    /* A non-canonical (overlong) zero length, then an empty frame. */
    put_limit(b, FRAME_DEFAULT_MAX);
    b[4] = 0x80;
    b[5] = 0x80;
    b[6] = 0x00;
    b[7] = 0x00;
    write_file("fuzz-frame", "overlong-zero.bin", b, 8, NULL, 0);
}


/* ---- fuzz-session: typical work of each role ---- */

#define ROLE(x) CCROUTE__V1__ROLE__ROLE_##x
#define CHAN(x) CCROUTE__V1__CHANNEL__CHANNEL_##x
#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x

static void s_hello(int cl, uint64_t id, const char *name,
                    Ccroute__V1__Role role, const char *token, int reattach)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello m = CCROUTE__V1__HELLO__INIT;
    m.client_name = (char *)name;
    m.role = role;
    m.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    m.reattach = reattach;
    m.credential = (char *)token;
    env.request_id = id;
    env.body_case = BODY(HELLO);
    env.hello = &m;
    sess_env(cl, &env);
}

static void s_arrive(int cl, uint64_t id, const char *cid, const char *queue,
                     Ccroute__V1__Channel ch)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)cid;
    m.queue = (char *)queue;
    m.channel = ch;
    env.request_id = id;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    sess_env(cl, &env);
}

static void s_login(int cl, uint64_t id, const char *aid, const char *skill,
                    const char *queue)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *sks[] = { &sk };
    Ccroute__V1__ChannelCapacity c1 = CCROUTE__V1__CHANNEL_CAPACITY__INIT,
                                 c2 = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *caps[] = { &c1, &c2 };
    char *queues[] = { (char *)queue };
    sk.skill = (char *)skill;
    sk.level = 5;
    c1.channel = CHAN(VOICE);
    c1.capacity = 1;
    c2.channel = CHAN(CHAT);
    c2.capacity = 2;
    m.agent_id = (char *)aid;
    m.n_skills = 1;
    m.skills = sks;
    m.n_capacity = 2;
    m.capacity = caps;
    m.n_queues = 1;
    m.queues = queues;
    env.request_id = id;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &m;
    sess_env(cl, &env);
}

/* The requests that name a contact and/or an agent. */
static void s_simple(int cl, uint64_t id, int body, const char *cid,
                     const char *aid, const char *text)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactAbandoned ab = CCROUTE__V1__CONTACT_ABANDONED__INIT;
    Ccroute__V1__ContactCompleted co = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    Ccroute__V1__OfferAccepted oa = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    Ccroute__V1__OfferRejected orj = CCROUTE__V1__OFFER_REJECTED__INIT;
    Ccroute__V1__ContactTransfer tr = CCROUTE__V1__CONTACT_TRANSFER__INIT;
    Ccroute__V1__AgentLogout lo = CCROUTE__V1__AGENT_LOGOUT__INIT;
    Ccroute__V1__AgentState st = CCROUTE__V1__AGENT_STATE__INIT;
    Ccroute__V1__StatsRequest sq = CCROUTE__V1__STATS_REQUEST__INIT;
    Ccroute__V1__Ping pi = CCROUTE__V1__PING__INIT;

    env.request_id = id;
    env.body_case = (Ccroute__V1__Envelope__BodyCase)body;
    switch (body) {
    case BODY(CONTACT_ABANDONED):
        ab.contact_id = (char *)cid;
        env.contact_abandoned = &ab;
        break;
    case BODY(CONTACT_COMPLETED):
        co.contact_id = (char *)cid;
        env.contact_completed = &co;
        break;
    case BODY(OFFER_ACCEPTED):
        oa.contact_id = (char *)cid;
        oa.agent_id = (char *)aid;
        env.offer_accepted = &oa;
        break;
    case BODY(OFFER_REJECTED):
        orj.contact_id = (char *)cid;
        orj.agent_id = (char *)aid;
        orj.reason = (char *)text;
        env.offer_rejected = &orj;
        break;
    case BODY(CONTACT_TRANSFER):
        tr.contact_id = (char *)cid;
        tr.to_queue = (char *)text;
        env.contact_transfer = &tr;
        break;
    case BODY(AGENT_LOGOUT):
        lo.agent_id = (char *)aid;
        env.agent_logout = &lo;
        break;
    case BODY(AGENT_STATE):
        st.agent_id = (char *)aid;
        st.status = text ? CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY
                         : CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE;
        st.reason = (char *)text;
        env.agent_state = &st;
        break;
    case BODY(STATS_REQUEST):
        sq.all_agents = 1;
        env.stats_request = &sq;
        break;
    case BODY(PING):
        env.ping = &pi;
        break;
    }
    sess_env(cl, &env);
}

static void workday(unsigned mode, const char *name)
{
    sess_begin(SESS_HELLO(0) | SESS_HELLO(1) | SESS_HELLO(2) |
               SESS_HELLO(3) | mode);
    s_login(1, 2, "a-1", "sales", "sales");
    s_arrive(0, 2, "c-1", "sales", CHAN(VOICE));
    s_arrive(0, 3, "c-2", "sales", CHAN(CHAT));
    s_simple(1, 3, BODY(OFFER_ACCEPTED), "c-1", "a-1", NULL);
    s_simple(1, 4, BODY(OFFER_REJECTED), "c-2", "a-1", "busy");
    s_simple(0, 4, BODY(CONTACT_TRANSFER), "c-2", NULL, "support");
    s_simple(1, 5, BODY(PING), NULL, NULL, NULL);
    s_simple(0, 5, BODY(CONTACT_COMPLETED), "c-1", NULL, NULL);
    s_simple(2, 2, BODY(STATS_REQUEST), NULL, NULL, NULL);
    s_simple(2, 3, BODY(AGENT_STATE), NULL, "a-1", "lunch");
    s_simple(2, 4, BODY(AGENT_STATE), NULL, "a-1", NULL);
    s_arrive(3, 2, "w-1", "support", CHAN(EMAIL));
    s_simple(1, 6, BODY(AGENT_LOGOUT), NULL, "a-1", NULL);
    s_simple(0, 6, BODY(CONTACT_ABANDONED), "c-2", NULL, NULL);
    sess_end(name);
}

/* Clients drop and come back (Hello{reattach}) while they hold work. */
static void reattach(unsigned mode, const char *name)
{
    sess_begin(SESS_HELLO(0) | SESS_HELLO(1) | SESS_HELLO(2) | mode);
    s_arrive(0, 2, "c-1", "sales", CHAN(VOICE));
    s_login(1, 2, "a-1", "sales", "sales");
    sess_op(0, SESS_OP_CLOSE);
    sess_op(1, SESS_OP_CLOSE);
    s_arrive(0, 2, "c-3", "sales", CHAN(CHAT));
    s_simple(1, 2, BODY(OFFER_ACCEPTED), "c-1", "a-1", NULL);
    s_simple(0, 3, BODY(CONTACT_COMPLETED), "c-1", NULL, NULL);
    sess_op(1, SESS_OP_SHUT);
    s_simple(2, 2, BODY(STATS_REQUEST), NULL, NULL, NULL);
    sess_end(name);
}

static void sessions(void)
{
    workday(0, "workday-open");
    workday(SESS_AUTH, "workday-auth");
    reattach(0, "reattach-open");
    reattach(SESS_AUTH, "reattach-auth");

    /* Another principal's switch and desk reach for sw-1's work. */
    sess_begin(SESS_HELLO(0) | SESS_HELLO(1) | SESS_HELLO(2) |
               SESS_HELLO(3) | SESS_AUTH);
    s_arrive(0, 2, "c-1", "sales", CHAN(VOICE));
    s_simple(3, 2, BODY(CONTACT_ABANDONED), "c-1", NULL, NULL);
    s_arrive(3, 3, "c-1", "support", CHAN(VOICE));
    s_login(3, 4, "a-2", "support", "support");
    s_login(1, 2, "a-1", "sales", "sales");
    s_simple(3, 5, BODY(OFFER_ACCEPTED), "c-1", "a-1", NULL);
    s_simple(2, 2, BODY(AGENT_LOGOUT), NULL, "a-1", NULL);
    s_simple(2, 3, BODY(STATS_REQUEST), NULL, NULL, NULL);
    sess_end("foreign-auth");

    /* Explicit Hellos: right and wrong credentials, roles and names; a
     * monitor asks Stats. */
    sess_begin(SESS_AUTH);
    s_hello(0, 1, "sw-9", ROLE(SWITCH), SESS_TOKEN_PBX_EAST, 0);
    s_hello(1, 1, "desk-2", ROLE(AGENT), "wrong-token-00000000", 0);
    s_hello(2, 1, "wall-2", ROLE(MONITOR), SESS_TOKEN_WALL, 0);
    s_hello(3, 1, "desk-3", ROLE(SWITCH), SESS_TOKEN_DESKS, 0);
    s_arrive(0, 2, "c-1", "sales", CHAN(VOICE));
    s_simple(2, 2, BODY(STATS_REQUEST), NULL, NULL, NULL);
    s_hello(1, 2, "desk-2", ROLE(AGENT), SESS_TOKEN_DESKS, 1);
    s_login(1, 3, "a-1", "sales", "sales");
    sess_end("hellos-auth");

    sess_begin(0);
    s_hello(0, 1, "sw-9", ROLE(SWITCH), "", 0);
    s_hello(1, 1, "sw-9", ROLE(GATEWAY), "", 1);
    s_hello(2, 1, "wall-2", ROLE(MONITOR), "", 0);
    s_arrive(3, 1, "c-1", "sales", CHAN(VOICE));
    s_arrive(1, 2, "c-1", "sales", CHAN(CHAT));
    s_simple(2, 2, BODY(STATS_REQUEST), NULL, NULL, NULL);
    sess_end("hellos-open");

    /* Garbage next to good work: a bad prefix, an undecodable frame, an
     * oversized prefix, a frame split across writes with another
     * client's frame in between. */
    static const uint8_t bad_varint[11] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    };
    static const uint8_t junk[] = { 0x05, 'h', 'e', 'l', 'l', 'o' };
    static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0x7f };
    sess_begin(SESS_HELLO(0) | SESS_HELLO(1));
    s_arrive(0, 2, "c-1", "sales", CHAN(VOICE));
    sess_bytes(3, SESS_OP_WRITE, bad_varint, sizeof(bad_varint));
    sess_bytes(2, SESS_OP_WRITE, junk, sizeof(junk));
    sess_bytes(1, SESS_OP_WRITE, huge, sizeof(huge));
    {
        envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
        uint8_t f[128];
        size_t n, h;
        m.contact_id = "c-2";
        m.queue = "support";
        env.request_id = 3;
        env.body_case = BODY(CONTACT_ARRIVED);
        env.contact_arrived = &m;
        n = ccroute__v1__envelope__get_packed_size(&env);
        h = frame_varint_put(n, f);
        ccroute__v1__envelope__pack(&env, f + h);
        sess_bytes(0, SESS_OP_WRITE, f, 4);
        s_simple(3, 1, BODY(STATS_REQUEST), NULL, NULL, NULL);
        sess_bytes(0, SESS_OP_WRITE, f + 4, h + n - 4);
    }
    s_simple(0, 4, BODY(CONTACT_ABANDONED), "c-2", NULL, NULL);
    /* A whole frame that does not decode: Error MALFORMED, then close. */
    static const uint8_t undecodable[] = { 0xff, 0xff };
    sess_bytes(0, SESS_OP_FRAME, undecodable, sizeof(undecodable));
    sess_end("garbage");
}


/* ---- fuzz-journal: real packed batches ---- */

static struct journal_buf jfile;

/* Packs the ops of b as the next entry of jfile (varint length, bytes). */
static void jentry(struct storebatch *b)
{
    struct journal_buf e = { 0 };
    if (journal_pack(b, &e) < 0) {
        fprintf(stderr, "seeds: out of memory\n");
        exit(1);
    }
    uint8_t h[10];
    size_t hl = 0;
    for (uint64_t v = e.len; ; v >>= 7) {
        h[hl++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80)
            break;
    }
    uint8_t *p = realloc(jfile.p, jfile.len + hl + e.len);
    if (!p) {
        fprintf(stderr, "seeds: out of memory\n");
        exit(1);
    }
    jfile.p = p;
    memcpy(jfile.p + jfile.len, h, hl);
    if (e.len)
        memcpy(jfile.p + jfile.len + hl, e.p, e.len);
    jfile.len += hl + e.len;
    journal_buf_free(&e);
    storebatch_reset(b);
}

static void jwrite(const char *name, size_t cut)
{
    write_file("fuzz-journal", name, jfile.p, jfile.len - cut, NULL, 0);
    journal_buf_free(&jfile);
}

static void journals(void)
{
    static const uint8_t arr[] = { 0x0a, 0x02, 'c', '1', 0x12, 0x01, 'q' };
    static const uint8_t login[] = { 0x0a, 0x02, 'a', '1' };
    struct storebatch b;
    storebatch_init(&b);

    /* a working day, batch by batch, as the store appends them */
    storebatch_queue(&b, "sales", 0);
    storebatch_queue(&b, "support", 1);
    jentry(&b);
    storebatch_agent_login(&b, "a1", login, sizeof(login), "desk", "p1");
    storebatch_agent_state(&b, "a1", 1, "", 1000);
    storebatch_event(&b, "login", NULL, "a1", NULL, 1000, "");
    jentry(&b);
    storebatch_contact_arrived(&b, "c1", arr, sizeof(arr), 1700000000000000,
                               1, "switch", "p1");
    storebatch_contact_state(&b, "c1", 1, "sales", NULL, 0);
    storebatch_event(&b, "queued", "c1", NULL, "sales", 1001, "");
    jentry(&b);
    storebatch_contact_state(&b, "c1", 2, "sales", "a1", 31001);
    storebatch_agent_state(&b, "a1", 2, "", 1002);
    storebatch_event(&b, "offered", "c1", "a1", "sales", 1002, "");
    jentry(&b);
    storebatch_contact_gone(&b, "c1", 4);
    storebatch_contact_state(&b, "c1", 4, "sales", "a1", 0);
    storebatch_event_disposition(&b, "completed", "c1", "a1", "sales", 1003,
                                 "", "sold", "vip,upsell", "n-1", true,
                                 "gold");
    storebatch_agent_state(&b, "a1", 3, "wrapup", 1003);
    jentry(&b);
    storebatch_ob_put(&b, "k|spring", 0, "campaign", 8);
    storebatch_ob_put(&b, "l|spring|1", 2, "lead", 4);
    storebatch_lead_event(&b, "lead_dial", "spring", "1", "", "dialing", 1,
                          "", 1004);
    jentry(&b);
    storebatch_ob_del(&b, "l|spring|1");
    storebatch_agent_logout(&b, "a1");
    jentry(&b);
    jwrite("workday.bin", 0);

    /* the same journal with its last entry cut short (a partial write) */
    jfile.len = 0;
    storebatch_queue(&b, "sales", 0);
    jentry(&b);
    storebatch_contact_arrived(&b, "c2", arr, sizeof(arr), 1, 2, "sw", "");
    storebatch_contact_state(&b, "c2", 1, "sales", NULL, 0);
    jentry(&b);
    jwrite("cut-short.bin", 3);

    /* a snapshot chunk (Z, then the whole state) and the journal after */
    storebatch_clear(&b);
    storebatch_agent_new(&b, "a1", login, sizeof(login), "desk", "p1", 1, "",
                         5);
    storebatch_agent_new(&b, "a2", login, sizeof(login), "desk", "", 2,
                         "lunch", 6);
    storebatch_contact_new(&b, "c3", arr, sizeof(arr), 7, 9, "sw", "p1", 1,
                           "sales", "", 0);
    storebatch_contact_new(&b, "c4", arr, sizeof(arr), 8, 4, "sw", "", 2,
                           "support", "a2", 99);
    storebatch_ob_put(&b, "k|spring", 0, "campaign", 8);
    storebatch_queue(&b, "sales", 0);
    jentry(&b);
    storebatch_contact_gone(&b, "c3", 5);
    storebatch_contact_state(&b, "c4", 3, "support", "a2", 0);
    jentry(&b);
    jwrite("snapshot.bin", 0);
    storebatch_free(&b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0777) < 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    envelopes();
    frame_edges();
    sessions();
    journals();
    free(stream);
    return 0;
}
