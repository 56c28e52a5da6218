/* seeds.c -- writes the generated seed corpora of fuzz-envelope and
 * fuzz-frame.
 *
 *   seeds OUTDIR
 *
 * writes OUTDIR/fuzz-envelope/<message>.pb (one packed Envelope per body
 * case, every field set, repeated fields with two elements) and
 * OUTDIR/fuzz-frame/<name>.bin (fuzz-frame's layout: 4 bytes limit, then a
 * receive buffer): each Envelope as one frame, all of them in one stream
 * with a partial frame at its end, and the edges of the length prefix.
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
    free(stream);
    return 0;
}
