/* callback.h -- callbacks: waiting customers called back when their turn
 * comes (interface).
 *
 * One per tenant, owned by the outbound module (outbound.c), which runs
 * its pacing turn, hands it the CallbackRequests and the DialResults of
 * its dials, and loads its records. The design is in callback.c;
 * proto/README.md ("Callbacks") is the wire contract and docs/outbound.md
 * says what is built.
 *
 * It calls the layer that owns contacts and connections (dispatch.c) only
 * through the hooks it is given.
 */
#ifndef CCROUTE_CALLBACK_H
#define CCROUTE_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccroute.pb-c.h"

struct tenant;
struct conn;
struct callback_set;

/* Dial ids of callbacks carry this bit; campaign dial ids never do
 * (campaign.c: generation << 24 | slot, generations below 2^32). */
#define CALLBACK_DIAL_BIT (1ull << 62)

/* The waiting contact as it leaves the router (contact_hold). */
struct callback_saved {
    uint8_t *packed;              /* its ContactArrived; malloc'd, taken */
    size_t len;
    uint64_t arrived_wall_ms;     /* its original arrival */
    char owner[128];              /* client name of its owner */
    char principal[128];
};

struct callback_hooks {
    void *arg;
    /* The live connection of owner record `owner`, or NULL. */
    struct conn *(*conn_of_owner)(void *arg, uint32_t owner);
    /* Takes queued or assigned contact `id` out of the router (an assigned
     * one's agent is freed) and records that in Redis. Without
     * `abandoned` it still waits, outside the router, and *out receives
     * what is needed to put it back; with it, it ends as abandoned (out
     * may be NULL). 0, or -1 with an ErrorCode and words. */
    int (*contact_hold)(void *arg, const char *id, bool abandoned,
                        struct callback_saved *out, int *code, char *msg,
                        size_t msglen);
    /* Puts a held contact back in its queue with its original arrival
     * time (its place), under its owner's record, and records it in
     * Redis. Borrowed. 0, or -1 with an ErrorCode and words. */
    int (*contact_back)(void *arg, const struct callback_saved *sv,
                        int *code, char *msg, size_t msglen);
};

struct callback_set *callback_new(struct tenant *s,
                                  const struct callback_hooks *hooks);

/* Configuration reload (engine/reload.c). The callbacks and follow-ups
 * held out of the router that go back to configured queue `queue` (by
 * name: their ContactArrived's); the first one's contact id in `first`
 * (may be NULL). O(held callbacks), each decoded. */
unsigned callback_held_in(const struct callback_set *cb, const char *queue,
                          char *first, size_t len);
/* The configured queues were renumbered: the queue index each callback
 * keeps (for its queue's rules) follows `new_of_old` (old index -> new
 * index, -1 for a queue removed; `nold` entries). */
void callback_queues_moved(struct callback_set *cb, const int *new_of_old,
                           unsigned nold);
void callback_free(struct callback_set *cb);
/* Forgets every callback (the state is reloaded). */
void callback_reset(struct callback_set *cb);

/* Answer of a request that changed something: Ack after a store
 * barrier (its writes were admitted first). */
#define CALLBACK_DURABLE 1

/* A CallbackRequest from c, whose right to the contact dispatch.c has
 * checked (its principal's, as for every contact request). The dial goes
 * to the contact's owner connection, whoever asked. CALLBACK_DURABLE or -1 with the Error; nothing was changed. */
int callback_request(struct callback_set *cb, struct conn *c,
                     const Ccroute__V1__CallbackRequest *m, int *code,
                     char *msg, size_t msglen);
/* A DialResult for a callback dial (dial_id has CALLBACK_DIAL_BIT), from
 * the client it was sent to (else NOT_DIALER). CALLBACK_DURABLE or -1. */
int callback_result(struct callback_set *cb, struct conn *c,
                    const Ccroute__V1__DialResult *m, int *code, char *msg,
                    size_t msglen);
/* One turn: dials the callbacks whose agent accepted, puts back the held
 * ones that are due, times out dials with no result. */
void callback_pace(struct callback_set *cb);
/* Whether the pacing timer must run for callbacks. */
bool callback_busy(const struct callback_set *cb);

void callback_stats(const struct callback_set *cb, Ccroute__V1__Stats *st);

/* Follow-ups (docs/care.md): a scheduled callback (with a number) or task
 * (without) whose contact is a new one, held until due. */
struct callback_followup {
    const char *contact;          /* the new contact's id */
    const char *of;               /* the completed contact's */
    const char *agent;            /* its agent: preferred; NULL: none */
    const char *number;           /* NULL or "": a task, no dial */
    uint64_t overdue_at_ms;       /* 0: never overdue */
    uint32_t priority;            /* once overdue */
    struct callback_saved sv;     /* the new contact's ContactArrived
                                     (taken), owner, principal, and its
                                     due time in arrived_wall_ms */
};
/* Before anything changes: room for it, and the store's admission of
 * its record. 0, or -1 with the Error; nothing was changed. */
int callback_followup_check(struct callback_set *cb, const char *contact,
                            const char *number, int *code, char *msg,
                            size_t msglen);
/* After callback_followup_check(): the record, written to the store. */
void callback_followup_add(struct callback_set *cb,
                           const struct callback_followup *f);
struct callback_fu_fig {
    uint32_t scheduled, waiting;
    uint64_t created, overdue;
};
void callback_followup_fig(const struct callback_set *cb,
                           struct callback_fu_fig *out);

/* Recovery: a stored record `c|<contact>` (member without the "c|"). */
void callback_load(struct callback_set *cb, const char *contact,
                   const uint8_t *data, size_t len);
/* Full rewrite: every record again. */
void callback_snapshot(struct callback_set *cb);

#endif
