/* journal.h -- the packed form of a write batch, and its replay (pure, no
 * I/O).
 *
 * With `redis.layout: journal` (docs/redis.md, "The journal layout") the
 * store does not turn a batch into per-key commands: it appends the batch
 * as ONE stream entry of `ccr:{t}:journal`, its ops packed here, and
 * recovery replays the entries (after the snapshot, when there is one)
 * into a table of final states that it hands to the load hooks in the
 * order the per-key layout gives them.
 *
 * Entry format (field `b` of a journal entry, and of a snapshot chunk):
 * ops back to back, each
 *
 *     opcode (1 byte) | nfields (varint) | nfields x (len (varint) | bytes)
 *
 * varint = unsigned LEB128 (7 bits a byte, low first, high bit: more).
 * The ops and their fields are exactly storebatch.h's (the opcode is the
 * op's first argument, the fields its other arguments), packed without
 * knowing what they mean, so an op added to storebatch is carried as is;
 * a reader that does not know an opcode can still skip it.
 *
 * Replay mirrors the batch script of the per-key layout (storebatch.c):
 * the same op on the same state gives the state the hashes would hold,
 * and journal_replay_each() visits it in the load script's order
 * (outbound objects by score then member, agents by id, contacts by
 * arrival sequence then id). It allocates as it goes (recovery only,
 * never on the routing path).
 */
#ifndef CCROUTE_JOURNAL_H
#define CCROUTE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct storebatch;

/* A growable byte buffer (owned; journal_buf_free releases it). */
struct journal_buf {
    uint8_t *p;
    size_t len, cap;
};

void journal_buf_free(struct journal_buf *o);

/* Appends the ops of `b` to `out` in the entry format. 0, or -1 (out of
 * memory; `out` may hold part of them). */
int journal_pack(const struct storebatch *b, struct journal_buf *out);
/* Appends ops [from, to) of `b`. Same returns. */
int journal_pack_ops(const struct storebatch *b, size_t from, size_t to,
                     struct journal_buf *out);
/* The bytes journal_pack() would append for `b`, and the same bytes
 * written at `dst` (journal_packed_size(b) of them, the caller's room;
 * returns the end). For packing a batch straight into the command that
 * sends it (engine/respcmd.h), without allocating. */
size_t journal_packed_size(const struct storebatch *b);
uint8_t *journal_pack_to(const struct storebatch *b, uint8_t *dst);

/* The most fields one op may have (storebatch's largest has 10). */
#define JOURNAL_MAX_FIELDS 32

/* One op, borrowed from the entry being read. */
struct journal_op {
    uint8_t code;
    size_t nf;
    const uint8_t *f[JOURNAL_MAX_FIELDS];
    size_t fl[JOURNAL_MAX_FIELDS];
};

/* Reads the op at *p (before end) into *op and moves *p past it. 1: an
 * op; 0: at the end; -1: malformed (truncated, a varint longer than 10
 * bytes or past 64 bits, or more than JOURNAL_MAX_FIELDS fields; *p is
 * not moved). */
int journal_next(const uint8_t **p, const uint8_t *end,
                 struct journal_op *op);

/* ---- replay ---- */

struct journal_replay;

struct journal_replay *journal_replay_new(void);
void journal_replay_free(struct journal_replay *j);
/* Forgets every object (as op Z). */
void journal_replay_reset(struct journal_replay *j);
/* Applies one entry (a batch, or a snapshot chunk). 0; -1 malformed (an
 * op cut short, a bad varint, more than JOURNAL_MAX_FIELDS fields, a known
 * op with too few fields: nothing of the entry is applied); -2 out of
 * memory (part of it may be). Ops it does not know are counted
 * (journal_replay_unknown) and skipped. */
int journal_replay_apply(struct journal_replay *j, const uint8_t *p,
                         size_t len);
size_t journal_replay_unknown(const struct journal_replay *j);

/* A live contact as recovery hands it on (borrowed during the call). */
struct journal_contact {
    const uint8_t *arrived;     /* packed ContactArrived */
    size_t len;
    uint64_t arrived_us, seq;
    int state;                  /* 0 when none was written */
    const char *queue, *agent, *owner, *principal;  /* "" when none */
};

struct journal_visit {
    void (*outbound)(void *arg, const char *member, size_t mlen,
                     const uint8_t *data, size_t len);
    void (*agent)(void *arg, const uint8_t *login, size_t len, int state,
                  const char *reason, const char *owner,
                  const char *principal);
    void (*contact)(void *arg, const struct journal_contact *c);
};

/* Visits every live object in the load order: outbound objects (score,
 * then member bytes), agents (id bytes), contacts (seq, then id). An
 * agent without its packed login or a contact without its packed arrival
 * is not visited and counted in *skipped. 0, or -2 out of memory
 * (nothing visited). */
int journal_replay_each(struct journal_replay *j,
                        const struct journal_visit *v, void *arg,
                        size_t *skipped);
/* Visits like journal_replay_each(), at most max objects per call (a
 * skipped one counts), each call going on where the previous one stopped;
 * the order is fixed at the first call and forgotten by an apply or a
 * reset. 1: every object is visited; 0: more to visit; -2 out of memory
 * (nothing visited). Lets the recovery hand the objects over across
 * several loop turns. */
int journal_replay_step(struct journal_replay *j,
                        const struct journal_visit *v, void *arg,
                        size_t *skipped, size_t max);
/* During a callback of journal_replay_each() or _step(): the id of the object
 * visited (its key's id: contact or agent id, outbound member; borrowed,
 * NUL-terminated, valid until the callback returns). NULL elsewhere.
 * For readers that want the key, not only the packed request. */
const char *journal_replay_visiting(const struct journal_replay *j,
                                    size_t *len);

#endif
