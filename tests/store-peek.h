/* store-peek.h -- what a tenant holds in Redis, read the same way on
 * either `redis.layout` (tests only).
 *
 * Store tests check that an Ack meant the state was in Redis. With the
 * per-key layout they could read the hashes; with the journal the state
 * is a snapshot plus a tail of packed batches. This reader gives both as
 * one view, so a test asserts the same facts on either layout:
 *
 *  - hashes: the members of `contacts`, `agents` and `ob`, their hashes
 *    (`ob:data`), and the `events` stream;
 *  - journal: the current snapshot's chunks and the journal after it,
 *    replayed by the engine's own decoder (engine/journal.c, as recovery
 *    and build/ccjournal do), and the events (ops `e`, `E`, `V`) of every
 *    journal entry still held, named as the `events` stream names them.
 *
 * The objects are what a recovery would load and nothing more: a contact
 * (kind 'c') has `arrived`, `arrived_us`, `arrived_ms`, `seq`, `owner`,
 * `principal`, `state` (left out when none was written), `queue`,
 * `agent`; an agent ('a') `login`, `owner`, `principal`, `state`,
 * `reason`; an outbound object ('o', member of `ob`: `k|..`, `l|..|..`,
 * `n|..`, `c|..`) `data`. A contact without `arrived` or an agent without
 * `login` is left out, as recovery leaves it out. Fields the load does
 * not read (`deadline_ms`, `since_ms`) are not offered: a test that needs
 * them is about the hashes layout and reads the hashes.
 *
 * An event is an entry of the `events` stream (hashes) or one event op of
 * a journal entry; `id` is the stream entry's id (several events share
 * the id of their journal entry). Its fields are those of the `events`
 * stream (docs/redis.md), `token` included.
 *
 * Every call fails the test (cmocka fail_msg) on a Redis error or a
 * malformed journal; the layout is told by the keys present (a journal
 * or snapshot key: journal).
 */
#ifndef CCROUTE_STORE_PEEK_H
#define CCROUTE_STORE_PEEK_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

/* One object or event: named fields, values binary-safe and NUL-ended. */
struct peek_obj {
    char kind;                  /* 'c', 'a', 'o', or 'e' for an event */
    char *id;                   /* object id; an event's stream entry id */
    size_t nf;
    char **name;
    char **val;
    size_t *vlen;
};

struct peek {
    char layout;                /* 'h' hashes, 'j' journal */
    struct peek_obj *obj;       /* objects, in the load order */
    size_t nobj, capobj;
    struct peek_obj *ev;        /* events, in order */
    size_t nev, capev;
    size_t skipped;             /* peek_read: contacts without `arrived`
                                 * and agents without `login`, left out */
};

/* Reads tenant `tenant` through `r`. Returns a new peek (peek_free). */
struct peek *peek_read(redisContext *r, const char *tenant);
void peek_free(struct peek *p);

/* The object (kind, id), or NULL when the tenant does not hold it. */
const struct peek_obj *peek_find(const struct peek *p, char kind,
                                 const char *id);
/* Field `name` of o (borrowed, NUL-ended; *len its length when len is
 * not NULL), or NULL when absent (o NULL included). */
const char *peek_get(const struct peek_obj *o, const char *name,
                     size_t *len);
/* The i-th object of `kind` in the load order ('e': the i-th event), or
 * NULL. */
const struct peek_obj *peek_nth(const struct peek *p, char kind, size_t i);
/* How many objects of `kind` ('e': events). */
size_t peek_count(const struct peek *p, char kind);

/* One-shot forms (each reads the whole tenant). */
/* Objects of `kind` ('e': events) the tenant holds. */
long long peek_n(redisContext *r, const char *tenant, char kind);
/* True when the tenant holds object (kind, id). */
bool peek_has(redisContext *r, const char *tenant, char kind,
              const char *id);
/* Field `field` of object (kind, id) into out ("" when missing); true
 * when both exist. */
bool peek_field(redisContext *r, const char *tenant, char kind,
                const char *id, const char *field, char *out, size_t len);

#endif
