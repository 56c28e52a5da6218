/* storebatch.h -- the Redis write batch of one loop turn (pure, no I/O).
 *
 * The store gathers every write of a loop turn into one batch and sends it
 * as ONE `EVALSHA` of the batch script (storebatch_script): the script
 * checks the lease's fencing token, drops a batch it has applied already
 * (resend after a reconnect), then applies every op in order. One batch is
 * therefore atomic, fenced and idempotent.
 *
 * A batch is a flat list of script arguments (ARGV): a header that the
 * store adds when it sends (prefix, token, sequence, stream bound) and the
 * ops, each an opcode followed by a fixed number of arguments:
 *
 *   A id arrived arrived_us seq owner principal
 *                                       contact arrived (packed
 *                                       ContactArrived); arrived_us is
 *                                       the arrival in wall-clock us (one
 *                                       fixed offset from the router's
 *                                       clock per engine, so arrivals keep
 *                                       their exact spacing), seq the
 *                                       arrival sequence (the score in the
 *                                       contacts set, the recovery order)
 *   c id state queue agent deadline     contact state snapshot
 *   x id state                          contact gone (completed / abandoned)
 *   L id login owner principal          agent login (packed AgentLogin)
 *   a id state reason since_ms          agent state snapshot
 *   o id                                agent logged out
 *   e type contact agent queue ts detail   one event-stream entry
 *   q name index                        queue of the configuration
 *   B member score data / b member      outbound object (see below)
 *   V type campaign lead contact state attempts outcome ts
 *                                       one event-stream entry of a lead
 *                                       (see below)
 *   Z                                   clear the tenant's state (contacts,
 *                                       agents, queues; not the stream):
 *                                       first op of a full rewrite
 *
 * `owner` is the Hello client_name of the connection that sent the
 * request (empty when unknown) and `principal` the name of that
 * connection's principal (empty when the engine runs open); recovery uses
 * both to let that client, and only a client of that principal, re-attach
 * its contacts and agents (Hello reattach).
 *
 * Arguments are binary-safe byte strings kept in one growing buffer; the
 * batch owns its memory. Keys are built by the script from the prefix
 * "ccr:{<tenant>}:" so that every key of a tenant hashes to one slot.
 */
#ifndef CCROUTE_STOREBATCH_H
#define CCROUTE_STOREBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct storebatch {
    char *buf;                  /* argument bytes, back to back */
    size_t len, cap;
    size_t *off, *alen;         /* argument i = buf[off[i]], alen[i] bytes */
    size_t nargs, capargs;
    size_t nops;                /* ops (commands) in the batch */
    size_t *opat;               /* op k starts at argument opat[k] (its
                                   opcode); capargs + 1 entries */
};

/* Number of header arguments the store puts before the ops. */
#define STOREBATCH_HDR_ARGS 4

void storebatch_init(struct storebatch *b);
void storebatch_free(struct storebatch *b);
/* Forgets the ops, keeps the memory. */
void storebatch_reset(struct storebatch *b);
/* Moves every op of `src` to the end of `dst`; `src` is left empty.
 * Returns 0 or -1 (out of memory; both unchanged). */
int storebatch_append(struct storebatch *dst, struct storebatch *src);
/* Swaps two batches (cheap). */
void storebatch_swap(struct storebatch *a, struct storebatch *b);

/* Grows the batch so that `bytes` more argument bytes in `args` more
 * arguments fit without allocating. Returns 0 or -1 (out of memory; the
 * batch is unchanged, only its capacity may have grown). */
int storebatch_reserve(struct storebatch *b, size_t bytes, size_t args);

/* The most one storebatch_event() op takes: 7 arguments; the type (at most
 * 11 bytes), three ids or names below 64 bytes each, a timestamp and a
 * detail of at most 20 digits. store.c reserves room per event with it. */
#define STOREBATCH_EVENT_ARGS 7
#define STOREBATCH_EVENT_BYTES 256

/* Ops. Strings may be NULL (sent empty). Return 0 or -1 (out of memory,
 * nothing added). */
int storebatch_contact_arrived(struct storebatch *b, const char *id,
                               const uint8_t *arrived, size_t len,
                               uint64_t arrived_us, uint64_t seq,
                               const char *owner, const char *principal);
int storebatch_contact_state(struct storebatch *b, const char *id,
                             int state, const char *queue, const char *agent,
                             uint64_t deadline_ms);
int storebatch_contact_gone(struct storebatch *b, const char *id, int state);
int storebatch_agent_login(struct storebatch *b, const char *id,
                           const uint8_t *login, size_t len,
                           const char *owner, const char *principal);
int storebatch_agent_state(struct storebatch *b, const char *id, int state,
                           const char *reason, uint64_t since_ms);
int storebatch_agent_logout(struct storebatch *b, const char *id);
int storebatch_event(struct storebatch *b, const char *type,
                     const char *contact, const char *agent,
                     const char *queue, uint64_t ts_ms, const char *detail);
/* An event that carries a disposition (op E: the fields of op e, then
 * disposition, tags, note_ref, difficult "1" or "" and the contact's
 * product, ContactArrived.product; docs/redis.md). */
int storebatch_event_disposition(struct storebatch *b, const char *type,
                                 const char *contact, const char *agent,
                                 const char *queue, uint64_t ts_ms,
                                 const char *detail, const char *code,
                                 const char *tags, const char *note,
                                 bool difficult, const char *product);
int storebatch_queue(struct storebatch *b, const char *name, int index);
/* Op Z: the first op of a full rewrite (store.c, state lost); the script
 * skips its generation check for such a batch. */
int storebatch_clear(struct storebatch *b);

/* Outbound objects (campaigns, do-not-call numbers, leads: engine/
 * outbound.c says what the member and the data hold). One sorted set
 * `ob` of members (score: the load order, campaigns before leads) and one
 * hash `ob:data` of their data:
 *
 *   B member score data                 put (ZADD + HSET)
 *   b member                            delete (ZREM + HDEL)
 *
 * Op Z clears both. */
int storebatch_ob_put(struct storebatch *b, const char *member,
                      unsigned score, const void *blob, size_t len);
int storebatch_ob_del(struct storebatch *b, const char *member);
/* Op V: a lead's entry in the event stream (docs/redis.md), written in
 * the batch of the lead's record: `type` lead_dial or lead, its campaign
 * and lead id, the answered call's `contact` (may be empty), its `state`
 * and `outcome` names (outcome may be empty), attempts, wall ms. At most
 * STOREBATCH_LEAD_EVENT_BYTES bytes in 9 arguments when the ids are
 * below 64 bytes. */
#define STOREBATCH_LEAD_EVENT_ARGS 9
#define STOREBATCH_LEAD_EVENT_BYTES 360
int storebatch_lead_event(struct storebatch *b, const char *type,
                          const char *campaign, const char *lead,
                          const char *contact, const char *state,
                          uint32_t attempts, const char *outcome,
                          uint64_t ts_ms);

/* Combined ops written by storestate_emit() (one per key and batch):
 *
 *   N id arrived arrived_us seq owner principal state queue agent deadline
 *                                       new contact with its state (one
 *                                       HSET of every field + ZADD)
 *   G id login owner principal state reason since_ms
 *                                       agent login with its state (one
 *                                       HSET of every field + SADD)
 */
int storebatch_contact_new(struct storebatch *b, const char *id,
                           const uint8_t *arrived, size_t len,
                           uint64_t arrived_us, uint64_t seq,
                           const char *owner, const char *principal,
                           int state, const char *queue, const char *agent,
                           uint64_t deadline_ms);
int storebatch_agent_new(struct storebatch *b, const char *id,
                         const uint8_t *login, size_t len, const char *owner,
                         const char *principal, int state, const char *reason,
                         uint64_t since_ms);

/* Decimal digits of v into buf (at least 21 bytes); returns the length
 * (no NUL written). */
size_t storebatch_u64(char *buf, uint64_t v);

/* ---- the final state of every key touched by a batch ----
 *
 * The store does not write a key per event: it records here the *final*
 * state of each contact and agent touched since the batch started (a small
 * open-addressing table keyed by id, reset per batch, no allocation once
 * grown), and storestate_emit() turns it into at most one op per key when
 * the batch is sent. A contact that arrives and leaves within one batch
 * costs no key write at all (only its stream entries); an agent whose
 * state flips several times costs one HSET. Ids are copied, so the table
 * survives router_out_clear() and several loop turns. */
struct storestate_ent {
    uint32_t hash;
    uint8_t agent;              /* 0 contact, 1 agent */
    uint8_t flags;              /* STORESTATE_F_* */
    int state;
    uint64_t t;                 /* contact: deadline_ms; agent: since_ms */
    uint64_t arrived_us, seq;  /* contact arrival (F_NEW) */
    size_t data_off, data_len;  /* packed ContactArrived / AgentLogin */
    size_t owner_off, owner_len;  /* owner, NUL, principal, NUL */
    char id[64];
    char s1[64];                /* contact: queue; agent: reason */
    char s2[64];                /* contact: agent id */
};

struct storestate {
    struct storestate_ent *ent; /* in first-touch order */
    size_t n, cap;
    uint32_t *slot;             /* index + 1 into ent, 0 empty */
    uint32_t *gen;              /* slot valid when gen[i] == cur_gen */
    uint32_t cur_gen;
    size_t nslots;              /* power of two, >= 2 * cap */
    char *arena;                /* packed requests and owners */
    size_t alen, acap;
};

void storestate_init(struct storestate *t);
void storestate_free(struct storestate *t);
void storestate_reset(struct storestate *t);
/* Grows the table so that `keys` more entries and `bytes` more packed
 * request and owner bytes (storestate_contact_arrived / _agent_login, an
 * owner and a principal, each with its NUL) fit without allocating: the ops below then cannot
 * fail for those. Returns 0 or -1 (out of memory; nothing recorded is
 * lost, only capacity may have grown). */
int storestate_reserve(struct storestate *t, size_t keys, size_t bytes);
/* Each returns 0 or -1 (out of memory; nothing recorded). */
int storestate_contact_arrived(struct storestate *t, const char *id,
                               const uint8_t *arrived, size_t len,
                               uint64_t arrived_us, uint64_t seq,
                               const char *owner, const char *principal);
int storestate_contact_state(struct storestate *t, const char *id, int state,
                             const char *queue, const char *agent,
                             uint64_t deadline_ms);
int storestate_contact_gone(struct storestate *t, const char *id);
int storestate_agent_login(struct storestate *t, const char *id,
                           const uint8_t *login, size_t len,
                           const char *owner, const char *principal);
int storestate_agent_state(struct storestate *t, const char *id, int state,
                           const char *reason, uint64_t since_ms);
int storestate_agent_logout(struct storestate *t, const char *id);
/* Appends one op per key (none for a key created and removed within the
 * batch) to `b`, then resets the table. Returns the number of ops, or -1
 * (out of memory: `b` may hold part of them, the table is kept). */
long storestate_emit(struct storestate *t, struct storebatch *b);

/* Argument i of the ops (0-based); *len receives its length. */
const char *storebatch_arg(const struct storebatch *b, size_t i, size_t *len);

/* Builds the full EVALSHA command for sending: fills argv/argvlen (which
 * must hold storebatch_argc(b) entries) with pointers into `b`, `sha`,
 * `keys` and the header strings; valid until `b` changes. */
size_t storebatch_argc(const struct storebatch *b);
void storebatch_command(const struct storebatch *b, const char *sha,
                        const char *const keys[3], const char *prefix,
                        const char *token, const char *seq,
                        const char *maxlen, const char **argv,
                        size_t *argvlen);

/* Key names. Writes "ccr:{tenant}:<suffix>" to buf (NUL-terminated,
 * truncated to len) and returns the length it needed. */
size_t storebatch_key(char *buf, size_t len, const char *tenant,
                      const char *suffix);

/* Lua sources. */
extern const char storebatch_script[];   /* the batch script */
extern const char storebatch_lease_script[];
extern const char storebatch_load_script[];
extern const char storebatch_release_script[];
/* redis.layout journal (engine/journal.h, docs/redis.md) */
extern const char storebatch_journal_script[];
extern const char storebatch_journal_load_script[];
extern const char storebatch_snapshot_script[];

#endif
