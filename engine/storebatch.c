/* storebatch.c -- the Redis write batch of one loop turn (see storebatch.h).
 *
 * The ops are encoded as script arguments in one growing buffer so that a
 * batch costs two reallocations at most per loop turn in steady state (the
 * store reuses its batches). The Lua scripts below are the only code that
 * writes the tenant's keys; docs/redis.md describes the layout they keep.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storebatch.h"

void storebatch_init(struct storebatch *b)
{
    memset(b, 0, sizeof(*b));
}

void storebatch_free(struct storebatch *b)
{
    free(b->buf);
    free(b->off);
    free(b->alen);
    free(b->opat);
    memset(b, 0, sizeof(*b));
}

void storebatch_reset(struct storebatch *b)
{
    b->len = 0;
    b->nargs = 0;
    b->nops = 0;
}

void storebatch_swap(struct storebatch *a, struct storebatch *b)
{
    struct storebatch t = *a;
    *a = *b;
    *b = t;
}

/* Grows the byte buffer *buf of capacity *cap (doubling, from 4 KiB) to
 * hold at least `need` bytes; *buf may move. 0, or -1 (unchanged) without
 * memory. */
static int bytes_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* Grows the batch for `bytes` more bytes in `args` more arguments, and
 * notes that the next op, if one follows, starts at argument nargs: every
 * op function reserves before its opcode, so op boundaries are known for
 * any op (the journal packs ops generically, engine/journal.c). */
static int reserve(struct storebatch *b, size_t bytes, size_t args)
{
    if (bytes_grow(&b->buf, &b->cap, b->len + bytes) < 0)
        return -1;
    if (b->nargs + args > b->capargs || !b->opat) {
        size_t n = b->capargs ? b->capargs : 128;
        while (n < b->nargs + args)
            n *= 2;
        size_t *o = realloc(b->off, n * sizeof(*o));
        if (!o)
            return -1;
        b->off = o;
        size_t *l = realloc(b->alen, n * sizeof(*l));
        if (!l)
            return -1;
        b->alen = l;
        size_t *a = realloc(b->opat, (n + 1) * sizeof(*a));
        if (!a)
            return -1;
        b->opat = a;
        b->capargs = n;
    }
    b->opat[b->nops] = b->nargs;
    return 0;
}

int storebatch_reserve(struct storebatch *b, size_t bytes, size_t args)
{
    return reserve(b, bytes, args);
}

/* Appends one argument; the caller reserved room. */
static void put(struct storebatch *b, const void *p, size_t n)
{
    if (n)
        memcpy(b->buf + b->len, p, n);
    b->off[b->nargs] = b->len;
    b->alen[b->nargs] = n;
    b->len += n;
    b->nargs++;
}

static void puts_(struct storebatch *b, const char *s)
{
    put(b, s ? s : "", s ? strlen(s) : 0);
}

size_t storebatch_u64(char *buf, uint64_t v)
{
    char t[24];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = t[n - 1 - i];
    return n;
}

static void putu(struct storebatch *b, uint64_t v)
{
    char t[24];
    put(b, t, storebatch_u64(t, v));
}

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

int storebatch_append(struct storebatch *dst, struct storebatch *src)
{
    if (src->nargs == 0)
        return 0;
    if (dst->nargs == 0) {
        storebatch_swap(dst, src);
        storebatch_reset(src);
        return 0;
    }
    if (reserve(dst, src->len, src->nargs) < 0)
        return -1;
    size_t base = dst->len;
    memcpy(dst->buf + base, src->buf, src->len);
    for (size_t i = 0; i < src->nargs; i++) {
        dst->off[dst->nargs + i] = base + src->off[i];
        dst->alen[dst->nargs + i] = src->alen[i];
    }
    for (size_t i = 0; i < src->nops; i++)
        dst->opat[dst->nops + i] = dst->nargs + src->opat[i];
    dst->len += src->len;
    dst->nargs += src->nargs;
    dst->nops += src->nops;
    storebatch_reset(src);
    return 0;
}

int storebatch_contact_arrived(struct storebatch *b, const char *id,
                               const uint8_t *arrived, size_t len,
                               uint64_t arrived_us, uint64_t seq,
                               const char *owner, const char *principal)
{
    if (reserve(b, 1 + slen(id) + len + 48 + slen(owner) + slen(principal),
                7) < 0)
        return -1;
    put(b, "A", 1);
    puts_(b, id);
    put(b, arrived, len);
    putu(b, arrived_us);
    putu(b, seq);
    puts_(b, owner);
    puts_(b, principal);
    b->nops++;
    return 0;
}

int storebatch_contact_state(struct storebatch *b, const char *id,
                             int state, const char *queue, const char *agent,
                             uint64_t deadline_ms)
{
    if (reserve(b, 1 + slen(id) + slen(queue) + slen(agent) + 48, 6) < 0)
        return -1;
    put(b, "c", 1);
    puts_(b, id);
    putu(b, (uint64_t)(state < 0 ? 0 : state));
    puts_(b, queue);
    puts_(b, agent);
    putu(b, deadline_ms);
    b->nops++;
    return 0;
}

int storebatch_contact_gone(struct storebatch *b, const char *id, int state)
{
    if (reserve(b, 1 + slen(id) + 24, 3) < 0)
        return -1;
    put(b, "x", 1);
    puts_(b, id);
    putu(b, (uint64_t)(state < 0 ? 0 : state));
    b->nops++;
    return 0;
}

int storebatch_agent_login(struct storebatch *b, const char *id,
                           const uint8_t *login, size_t len,
                           const char *owner, const char *principal)
{
    if (reserve(b, 1 + slen(id) + len + slen(owner) + slen(principal), 5) < 0)
        return -1;
    put(b, "L", 1);
    puts_(b, id);
    put(b, login, len);
    puts_(b, owner);
    puts_(b, principal);
    b->nops++;
    return 0;
}

int storebatch_agent_state(struct storebatch *b, const char *id, int state,
                           const char *reason, uint64_t since_ms)
{
    if (reserve(b, 1 + slen(id) + slen(reason) + 48, 5) < 0)
        return -1;
    put(b, "a", 1);
    puts_(b, id);
    putu(b, (uint64_t)(state < 0 ? 0 : state));
    puts_(b, reason);
    putu(b, since_ms);
    b->nops++;
    return 0;
}

/* ---- outbound objects (engine/outbound.c) ---- */

int storebatch_ob_put(struct storebatch *b, const char *member,
                      unsigned score, const void *blob, size_t len)
{
    if (reserve(b, 1 + slen(member) + 24 + len, 4) < 0)
        return -1;
    put(b, "B", 1);
    puts_(b, member);
    putu(b, score);
    put(b, blob, len);
    b->nops++;
    return 0;
}

int storebatch_ob_del(struct storebatch *b, const char *member)
{
    if (reserve(b, 1 + slen(member), 2) < 0)
        return -1;
    put(b, "b", 1);
    puts_(b, member);
    b->nops++;
    return 0;
}

int storebatch_agent_logout(struct storebatch *b, const char *id)
{
    if (reserve(b, 1 + slen(id), 2) < 0)
        return -1;
    put(b, "o", 1);
    puts_(b, id);
    b->nops++;
    return 0;
}

int storebatch_event(struct storebatch *b, const char *type,
                     const char *contact, const char *agent,
                     const char *queue, uint64_t ts_ms, const char *detail)
{
    if (reserve(b, 1 + slen(type) + slen(contact) + slen(agent) +
                   slen(queue) + slen(detail) + 24, 7) < 0)
        return -1;
    put(b, "e", 1);
    puts_(b, type);
    puts_(b, contact);
    puts_(b, agent);
    puts_(b, queue);
    putu(b, ts_ms);
    puts_(b, detail);
    b->nops++;
    return 0;
}

int storebatch_lead_event(struct storebatch *b, const char *type,
                          const char *campaign, const char *lead,
                          const char *contact, const char *state,
                          uint32_t attempts, const char *outcome,
                          uint64_t ts_ms)
{
    if (reserve(b, 1 + slen(type) + slen(campaign) + slen(lead) +
                   slen(contact) + slen(state) + slen(outcome) + 44,
                STOREBATCH_LEAD_EVENT_ARGS) < 0)
        return -1;
    put(b, "V", 1);
    puts_(b, type);
    puts_(b, campaign);
    puts_(b, lead);
    puts_(b, contact);
    puts_(b, state);
    putu(b, attempts);
    puts_(b, outcome);
    putu(b, ts_ms);
    b->nops++;
    return 0;
}

int storebatch_event_disposition(struct storebatch *b, const char *type,
                                 const char *contact, const char *agent,
                                 const char *queue, uint64_t ts_ms,
                                 const char *detail, const char *code,
                                 const char *tags, const char *note,
                                 bool difficult, const char *product)
{
    if (reserve(b, 1 + slen(type) + slen(contact) + slen(agent) +
                   slen(queue) + slen(detail) + 24 + slen(code) +
                   slen(tags) + slen(note) + 1 + slen(product), 12) < 0)
        return -1;
    put(b, "E", 1);
    puts_(b, type);
    puts_(b, contact);
    puts_(b, agent);
    puts_(b, queue);
    putu(b, ts_ms);
    puts_(b, detail);
    puts_(b, code);
    puts_(b, tags);
    puts_(b, note);
    puts_(b, difficult ? "1" : "");
    puts_(b, product);
    b->nops++;
    return 0;
}

int storebatch_contact_new(struct storebatch *b, const char *id,
                           const uint8_t *arrived, size_t len,
                           uint64_t arrived_us, uint64_t seq,
                           const char *owner, const char *principal,
                           int state, const char *queue, const char *agent,
                           uint64_t deadline_ms)
{
    if (reserve(b, 1 + slen(id) + len + slen(owner) + slen(principal) +
                   slen(queue) + slen(agent) + 96, 11) < 0)
        return -1;
    put(b, "N", 1);
    puts_(b, id);
    put(b, arrived, len);
    putu(b, arrived_us);
    putu(b, seq);
    puts_(b, owner);
    puts_(b, principal);
    putu(b, (uint64_t)(state < 0 ? 0 : state));
    puts_(b, queue);
    puts_(b, agent);
    putu(b, deadline_ms);
    b->nops++;
    return 0;
}

int storebatch_agent_new(struct storebatch *b, const char *id,
                         const uint8_t *login, size_t len, const char *owner,
                         const char *principal, int state, const char *reason,
                         uint64_t since_ms)
{
    if (reserve(b, 1 + slen(id) + len + slen(owner) + slen(principal) +
                   slen(reason) + 48, 8) < 0)
        return -1;
    put(b, "G", 1);
    puts_(b, id);
    put(b, login, len);
    puts_(b, owner);
    puts_(b, principal);
    putu(b, (uint64_t)(state < 0 ? 0 : state));
    puts_(b, reason);
    putu(b, since_ms);
    b->nops++;
    return 0;
}

int storebatch_clear(struct storebatch *b)
{
    if (reserve(b, 1, 1) < 0)
        return -1;
    put(b, "Z", 1);
    b->nops++;
    return 0;
}

int storebatch_queue(struct storebatch *b, const char *name, int index)
{
    if (reserve(b, 1 + slen(name) + 24, 3) < 0)
        return -1;
    put(b, "q", 1);
    puts_(b, name);
    putu(b, (uint64_t)(index < 0 ? 0 : index));
    b->nops++;
    return 0;
}

/* ---------------------------------------------------------------- */
/* final state per key */

enum {
    F_NEW = 1,      /* arrival / login in this batch: write every field */
    F_STATE = 2,    /* state fields valid */
    F_GONE = 4,     /* final: removed */
    F_STORED = 8,   /* the key may exist from before this batch */
};

void storestate_init(struct storestate *t)
{
    memset(t, 0, sizeof(*t));
    t->cur_gen = 1;
}

void storestate_free(struct storestate *t)
{
    free(t->ent);
    free(t->slot);
    free(t->gen);
    free(t->arena);
    storestate_init(t);
}

void storestate_reset(struct storestate *t)
{
    t->n = 0;
    t->alen = 0;
    if (++t->cur_gen == 0) {          /* wrapped: forget every slot */
        if (t->gen)
            memset(t->gen, 0, t->nslots * sizeof(*t->gen));
        t->cur_gen = 1;
    }
}

static uint32_t id_hash(const char *id, size_t *len)
{
    uint32_t h = 2166136261u;         /* FNV-1a */
    const unsigned char *p = (const unsigned char *)id;
    size_t n = 0;
    for (; p[n]; n++)
        h = (h ^ p[n]) * 16777619u;
    *len = n;
    return h;
}

static void copy_id(char dst[64], const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n > 63)
        n = 63;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static int rehash(struct storestate *t, size_t nslots)
{
    uint32_t *slot = malloc(nslots * sizeof(*slot));
    uint32_t *gen = calloc(nslots, sizeof(*gen));
    if (!slot || !gen) {
        free(slot);
        free(gen);
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t k = t->ent[i].hash & (nslots - 1);
        while (gen[k] == 1)
            k = (k + 1) & (nslots - 1);
        gen[k] = 1;
        slot[k] = (uint32_t)i + 1;
    }
    free(t->slot);
    free(t->gen);
    t->slot = slot;
    t->gen = gen;
    t->nslots = nslots;
    t->cur_gen = 1;
    return 0;
}

/* The entry of (agent, id), created when missing (*created set). */
static struct storestate_ent *ent_get(struct storestate *t, int agent,
                                      const char *id, bool *created)
{
    size_t len;
    uint32_t h = id_hash(id, &len) ^ (agent ? 0x9e3779b9u : 0);
    if (len > 63)
        len = 63;
    if (t->nslots) {
        size_t k = h & (t->nslots - 1);
        while (t->gen[k] == t->cur_gen) {
            struct storestate_ent *e = &t->ent[t->slot[k] - 1];
            if (e->hash == h && e->agent == agent &&
                strncmp(e->id, id, len) == 0 && e->id[len] == '\0') {
                *created = false;
                return e;
            }
            k = (k + 1) & (t->nslots - 1);
        }
    }
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 256;
        struct storestate_ent *ne = realloc(t->ent, c * sizeof(*ne));
        if (!ne)
            return NULL;
        t->ent = ne;
        t->cap = c;
    }
    if (t->nslots < 2 * (t->n + 1) && rehash(t, 4 * t->cap) < 0)
        return NULL;
    size_t k = h & (t->nslots - 1);
    while (t->gen[k] == t->cur_gen)
        k = (k + 1) & (t->nslots - 1);
    struct storestate_ent *e = &t->ent[t->n];
    e->hash = h;
    e->agent = (uint8_t)agent;
    e->flags = 0;
    e->state = 0;
    e->t = 0;
    e->arrived_us = e->seq = 0;
    e->data_off = e->data_len = e->owner_off = e->owner_len = 0;
    e->s1[0] = e->s2[0] = '\0';
    memcpy(e->id, id, len);
    e->id[len] = '\0';
    t->gen[k] = t->cur_gen;
    t->slot[k] = (uint32_t)++t->n;
    *created = true;
    return e;
}

static int arena_put(struct storestate *t, const void *p, size_t n,
                     size_t *off)
{
    if (bytes_grow(&t->arena, &t->acap, t->alen + n) < 0)
        return -1;
    if (n)
        memcpy(t->arena + t->alen, p, n);
    *off = t->alen;
    t->alen += n;
    return 0;
}

int storestate_reserve(struct storestate *t, size_t keys, size_t bytes)
{
    size_t need = t->n + keys;
    if (need > t->cap) {
        size_t c = t->cap ? t->cap : 256;
        while (c < need)
            c *= 2;
        struct storestate_ent *ne = realloc(t->ent, c * sizeof(*ne));
        if (!ne)
            return -1;
        t->ent = ne;
        t->cap = c;
    }
    /* ent_get rehashes when nslots < 2 * (n + 1): make that false up to
     * `need` entries, with the size ent_get itself would pick. */
    if (t->nslots < 2 * need && rehash(t, 4 * t->cap) < 0)
        return -1;
    return bytes_grow(&t->arena, &t->acap, t->alen + bytes);
}

static int ent_new(struct storestate *t, int agent, const char *id,
                   const uint8_t *data, size_t len, const char *owner,
                   const char *principal)
{
    size_t ol = slen(owner), pl = slen(principal), doff, ooff, poff;
    /* owner and principal follow each other, each with its NUL */
    if (arena_put(t, data, len, &doff) < 0 ||
        arena_put(t, owner ? owner : "", ol + 1, &ooff) < 0 ||
        arena_put(t, principal ? principal : "", pl + 1, &poff) < 0)
        return -1;
    bool created;
    struct storestate_ent *e = ent_get(t, agent, id, &created);
    if (!e)
        return -1;
    e->flags = (uint8_t)((e->flags & F_STORED) | F_NEW);
    e->data_off = doff;
    e->data_len = len;
    e->owner_off = ooff;
    e->owner_len = ol;
    return 0;
}

static struct storestate_ent *ent_touch(struct storestate *t, int agent,
                                        const char *id)
{
    bool created;
    struct storestate_ent *e = ent_get(t, agent, id, &created);
    if (e && created)
        e->flags = F_STORED;          /* first seen without its arrival */
    return e;
}

int storestate_contact_arrived(struct storestate *t, const char *id,
                               const uint8_t *arrived, size_t len,
                               uint64_t arrived_us, uint64_t seq,
                               const char *owner, const char *principal)
{
    if (ent_new(t, 0, id, arrived, len, owner, principal) < 0)
        return -1;
    bool created;
    struct storestate_ent *e = ent_get(t, 0, id, &created);
    e->arrived_us = arrived_us;
    e->seq = seq;
    return 0;
}

int storestate_contact_state(struct storestate *t, const char *id, int state,
                             const char *queue, const char *agent,
                             uint64_t deadline_ms)
{
    struct storestate_ent *e = ent_touch(t, 0, id);
    if (!e)
        return -1;
    e->flags = (uint8_t)((e->flags & ~F_GONE) | F_STATE);
    e->state = state;
    e->t = deadline_ms;
    copy_id(e->s1, queue);
    copy_id(e->s2, agent);
    return 0;
}

static int ent_gone(struct storestate *t, int agent, const char *id)
{
    struct storestate_ent *e = ent_touch(t, agent, id);
    if (!e)
        return -1;
    e->flags = (uint8_t)((e->flags & F_STORED) | F_GONE);
    return 0;
}

int storestate_contact_gone(struct storestate *t, const char *id)
{
    return ent_gone(t, 0, id);
}

int storestate_agent_login(struct storestate *t, const char *id,
                           const uint8_t *login, size_t len,
                           const char *owner, const char *principal)
{
    return ent_new(t, 1, id, login, len, owner, principal);
}

int storestate_agent_state(struct storestate *t, const char *id, int state,
                           const char *reason, uint64_t since_ms)
{
    struct storestate_ent *e = ent_touch(t, 1, id);
    if (!e)
        return -1;
    e->flags = (uint8_t)((e->flags & ~F_GONE) | F_STATE);
    e->state = state;
    e->t = since_ms;
    copy_id(e->s1, reason);
    return 0;
}

int storestate_agent_logout(struct storestate *t, const char *id)
{
    return ent_gone(t, 1, id);
}

long storestate_emit(struct storestate *t, struct storebatch *b)
{
    size_t len0 = b->len, nargs0 = b->nargs, nops0 = b->nops;
    long ops = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct storestate_ent *e = &t->ent[i];
        const uint8_t *data = NULL;
        const char *owner = "", *principal = "";
        if (e->flags & F_NEW) {
            data = (const uint8_t *)t->arena + e->data_off;
            owner = t->arena + e->owner_off;          /* NUL-terminated */
            principal = owner + e->owner_len + 1;     /* right after it */
        }
        int rc = 0;
        if (e->flags & F_GONE) {
            if (!(e->flags & F_STORED))
                continue;               /* created and removed here */
            rc = e->agent ? storebatch_agent_logout(b, e->id)
                          : storebatch_contact_gone(b, e->id, 0);
        } else if (e->agent) {
            if ((e->flags & (F_NEW | F_STATE)) == (F_NEW | F_STATE))
                rc = storebatch_agent_new(b, e->id, data, e->data_len, owner,
                                          principal, e->state, e->s1, e->t);
            else if (e->flags & F_NEW)
                rc = storebatch_agent_login(b, e->id, data, e->data_len,
                                            owner, principal);
            else if (e->flags & F_STATE)
                rc = storebatch_agent_state(b, e->id, e->state, e->s1, e->t);
            else
                continue;
        } else {
            if ((e->flags & (F_NEW | F_STATE)) == (F_NEW | F_STATE))
                rc = storebatch_contact_new(b, e->id, data, e->data_len,
                                            e->arrived_us, e->seq, owner,
                                            principal, e->state, e->s1, e->s2,
                                            e->t);
            else if (e->flags & F_NEW)
                rc = storebatch_contact_arrived(b, e->id, data, e->data_len,
                                                e->arrived_us, e->seq,
                                                owner, principal);
            else if (e->flags & F_STATE)
                rc = storebatch_contact_state(b, e->id, e->state, e->s1,
                                              e->s2, e->t);
            else
                continue;
        }
        if (rc < 0) {
            b->len = len0;
            b->nargs = nargs0;
            b->nops = nops0;
            return -1;
        }
        ops++;
    }
    storestate_reset(t);
    return ops;
}

const char *storebatch_arg(const struct storebatch *b, size_t i, size_t *len)
{
    if (i >= b->nargs) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = b->alen[i];
    return b->buf + b->off[i];
}

/* EVALSHA sha 3 k1 k2 k3 + header + ops */
size_t storebatch_argc(const struct storebatch *b)
{
    return 6 + STOREBATCH_HDR_ARGS + b->nargs;
}

void storebatch_command(const struct storebatch *b, const char *sha,
                        const char *const keys[3], const char *prefix,
                        const char *token, const char *seq,
                        const char *maxlen, const char **argv,
                        size_t *argvlen)
{
    size_t n = 0;
#define ARG(s) do { argv[n] = (s); argvlen[n] = strlen(s); n++; } while (0)
    ARG("EVALSHA");
    ARG(sha);
    ARG("3");
    ARG(keys[0]);
    ARG(keys[1]);
    ARG(keys[2]);
    ARG(prefix);
    ARG(token);
    ARG(seq);
    ARG(maxlen);
#undef ARG
    for (size_t i = 0; i < b->nargs; i++) {
        argv[n] = b->buf + b->off[i];
        argvlen[n] = b->alen[i];
        n++;
    }
}

size_t storebatch_key(char *buf, size_t len, const char *tenant,
                      const char *suffix)
{
    int n = snprintf(buf, len, "ccr:{%s}:%s", tenant, suffix);
    return n < 0 ? 0 : (size_t)n;
}

/* The batch script. KEYS: lease, fence, applied. ARGV: prefix, token,
 * sequence, stream bound, ops... Refuses a batch whose token does not
 * hold the lease ("FENCED"); a lapsed lease that nobody took since (the
 * fence counter still equals the token) still counts as held. A fence
 * counter below the token, or a generation marker (`applied`, "token:seq")
 * that is missing or of another token, means Redis lost this term's writes:
 * "LOST", nothing applied (the store writes its whole state back, op 'Z'
 * first, see store.c). A batch applied before returns 0 (resend after a
 * reconnect); one whose predecessor was not applied is refused ("GAP"), so
 * that a batch refused in the middle of a pipeline is never skipped by the
 * dedup check when it is sent again. Returns the number of ops applied. */
/* The fencing and generation checks every write script begins with (the
 * batch script of the per-key layout, the journal append, the snapshot
 * swap); ARGV[2] token, ARGV[3] sequence, ARGV[5] the first opcode ('Z':
 * a full rewrite, no generation check). FENCE_LUA adds the generation
 * marker's update. */
#define FENCE_CHECK_LUA \
    "local st = redis.call('MGET', KEYS[1], KEYS[3])\n" \
    "local lease = st[1]\n" \
    "local tok = ARGV[2]\n" \
    "if lease then\n" \
    "  local lt = string.match(lease, '^(%d+)|')\n" \
    "  if lt ~= tok then\n" \
    "    return redis.error_reply('FENCED lease held by token ' .. tostring(lt))\n" \
    "  end\n" \
    "else\n" \
    "  local f = tonumber(redis.call('GET', KEYS[2]) or '0')\n" \
    "  if f > tonumber(tok) then\n" \
    "    return redis.error_reply('FENCED no lease for token ' .. tok)\n" \
    "  elseif f < tonumber(tok) then\n" \
    "    return redis.error_reply('LOST fence counter ' .. f ..\n" \
    "                             ' below token ' .. tok)\n" \
    "  end\n" \
    "end\n" \
    "local seq = tonumber(ARGV[3])\n" \
    "if ARGV[5] ~= 'Z' then\n" \
    "  local ap = st[2]\n" \
    "  if not ap then\n" \
    "    return redis.error_reply('LOST generation marker missing')\n" \
    "  end\n" \
    "  local at, as = string.match(ap, '^(%d+):(%d+)$')\n" \
    "  if at ~= tok then\n" \
    "    return redis.error_reply('LOST generation marker of token ' ..\n" \
    "                             tostring(at))\n" \
    "  end\n" \
    "  if tonumber(as) >= seq then return 0 end\n" \
    "  if tonumber(as) ~= seq - 1 then\n" \
    "    return redis.error_reply('GAP batch ' .. ARGV[3] .. ' after ' .. as)\n" \
    "  end\n" \
    "end\n"

#define FENCE_LUA FENCE_CHECK_LUA \
    "redis.call('SET', KEYS[3], tok .. ':' .. ARGV[3])\n"

const char storebatch_script[] =
    FENCE_LUA
    "local function ms(us)\n"
    "  if #us <= 3 then return '0' end\n"
    "  return string.sub(us, 1, #us - 3)\n"
    "end\n"
    "local p = ARGV[1]\n"
    "local pc = p .. 'contact:'\n"
    "local pa = p .. 'agent:'\n"
    "local kc = p .. 'contacts'\n"
    "local ka = p .. 'agents'\n"
    "local ke = p .. 'events'\n"
    "local gone = {}\n"
    "local i = 5\n"
    "local n = #ARGV\n"
    "local ops = 0\n"
    "local evs = 0\n"
    "while i <= n do\n"
    "  local op = ARGV[i]\n"
    "  if op == 'Z' then\n"
    "    for _, id in ipairs(redis.call('ZRANGE', kc, 0, -1)) do\n"
    "      redis.call('DEL', pc .. id)\n"
    "    end\n"
    "    for _, id in ipairs(redis.call('SMEMBERS', ka)) do\n"
    "      redis.call('DEL', pa .. id)\n"
    "    end\n"
    "    redis.call('DEL', kc, ka, p .. 'queues', p .. 'ob', p .. 'ob:data')\n"
    "    i = i + 1\n"
    "  elseif op == 'e' or op == 'E' then\n"
    "    local f = {'type', ARGV[i+1]}\n"
    "    if ARGV[i+2] ~= '' then f[#f+1] = 'contact'; f[#f+1] = ARGV[i+2] end\n"
    "    if ARGV[i+3] ~= '' then f[#f+1] = 'agent'; f[#f+1] = ARGV[i+3] end\n"
    "    if ARGV[i+4] ~= '' then f[#f+1] = 'queue'; f[#f+1] = ARGV[i+4] end\n"
    "    f[#f+1] = 'ts'; f[#f+1] = ARGV[i+5]\n"
    "    if ARGV[i+6] ~= '' then f[#f+1] = 'detail'; f[#f+1] = ARGV[i+6] end\n"
    "    if op == 'E' then\n"
    "      local names = {'disposition', 'tags', 'note_ref', 'difficult',\n"
    "                     'product'}\n"
    "      for k = 1, 5 do\n"
    "        if ARGV[i+6+k] ~= '' then\n"
    "          f[#f+1] = names[k]; f[#f+1] = ARGV[i+6+k]\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    f[#f+1] = 'token'; f[#f+1] = tok\n"
    "    redis.call('XADD', ke, '*', unpack(f))\n"
    "    evs = evs + 1\n"
    "    i = i + (op == 'E' and 12 or 7)\n"
    "  elseif op == 'V' then\n"
    "    local f = {'type', ARGV[i+1], 'campaign', ARGV[i+2],\n"
    "               'lead', ARGV[i+3]}\n"
    "    if ARGV[i+4] ~= '' then f[#f+1] = 'contact'; f[#f+1] = ARGV[i+4] end\n"
    "    f[#f+1] = 'state'; f[#f+1] = ARGV[i+5]\n"
    "    f[#f+1] = 'attempts'; f[#f+1] = ARGV[i+6]\n"
    "    if ARGV[i+7] ~= '' then f[#f+1] = 'outcome'; f[#f+1] = ARGV[i+7] end\n"
    "    f[#f+1] = 'ts'; f[#f+1] = ARGV[i+8]\n"
    "    f[#f+1] = 'token'; f[#f+1] = tok\n"
    "    redis.call('XADD', ke, '*', unpack(f))\n"
    "    evs = evs + 1\n"
    "    i = i + 9\n"
    "  elseif op == 'N' then\n"
    "    local id = ARGV[i+1]\n"
    "    redis.call('HSET', pc .. id, 'arrived', ARGV[i+2],\n"
    "               'arrived_us', ARGV[i+3], 'arrived_ms', ms(ARGV[i+3]),\n"
    "               'seq', ARGV[i+4], 'owner', ARGV[i+5],\n"
    "               'principal', ARGV[i+6],\n"
    "               'state', ARGV[i+7], 'queue', ARGV[i+8],\n"
    "               'agent', ARGV[i+9], 'deadline_ms', ARGV[i+10])\n"
    "    redis.call('ZADD', kc, ARGV[i+4], id)\n"
    "    i = i + 11\n"
    "  elseif op == 'c' then\n"
    "    local id = ARGV[i+1]\n"
    "    if not gone[id] then\n"
    "      redis.call('HSET', pc .. id, 'state', ARGV[i+2],\n"
    "                 'queue', ARGV[i+3], 'agent', ARGV[i+4],\n"
    "                 'deadline_ms', ARGV[i+5])\n"
    "    end\n"
    "    i = i + 6\n"
    "  elseif op == 'x' then\n"
    "    local id = ARGV[i+1]\n"
    "    gone[id] = true\n"
    "    redis.call('DEL', pc .. id)\n"
    "    redis.call('ZREM', kc, id)\n"
    "    i = i + 3\n"
    "  elseif op == 'a' then\n"
    "    redis.call('HSET', pa .. ARGV[i+1], 'state', ARGV[i+2],\n"
    "               'reason', ARGV[i+3], 'since_ms', ARGV[i+4])\n"
    "    i = i + 5\n"
    "  elseif op == 'G' then\n"
    "    local id = ARGV[i+1]\n"
    "    redis.call('HSET', pa .. id, 'login', ARGV[i+2], 'owner', ARGV[i+3],\n"
    "               'principal', ARGV[i+4],\n"
    "               'state', ARGV[i+5], 'reason', ARGV[i+6],\n"
    "               'since_ms', ARGV[i+7])\n"
    "    redis.call('SADD', ka, id)\n"
    "    i = i + 8\n"
    "  elseif op == 'A' then\n"
    "    local id = ARGV[i+1]\n"
    "    if not gone[id] then\n"
    "      redis.call('HSET', pc .. id, 'arrived', ARGV[i+2],\n"
    "                 'arrived_us', ARGV[i+3], 'arrived_ms', ms(ARGV[i+3]),\n"
    "                 'seq', ARGV[i+4], 'owner', ARGV[i+5],\n"
    "                 'principal', ARGV[i+6])\n"
    "      redis.call('ZADD', kc, ARGV[i+4], id)\n"
    "    end\n"
    "    i = i + 7\n"
    "  elseif op == 'L' then\n"
    "    local id = ARGV[i+1]\n"
    "    redis.call('HSET', pa .. id, 'login', ARGV[i+2],\n"
    "               'owner', ARGV[i+3], 'principal', ARGV[i+4])\n"
    "    redis.call('SADD', ka, id)\n"
    "    i = i + 5\n"
    "  elseif op == 'o' then\n"
    "    local id = ARGV[i+1]\n"
    "    redis.call('DEL', pa .. id)\n"
    "    redis.call('SREM', ka, id)\n"
    "    i = i + 2\n"
    "  elseif op == 'B' then\n"
    "    redis.call('ZADD', p .. 'ob', ARGV[i+2], ARGV[i+1])\n"
    "    redis.call('HSET', p .. 'ob:data', ARGV[i+1], ARGV[i+3])\n"
    "    i = i + 4\n"
    "  elseif op == 'b' then\n"
    "    redis.call('ZREM', p .. 'ob', ARGV[i+1])\n"
    "    redis.call('HDEL', p .. 'ob:data', ARGV[i+1])\n"
    "    i = i + 2\n"
    "  elseif op == 'q' then\n"
    "    redis.call('HSET', p .. 'queues', ARGV[i+1], ARGV[i+2])\n"
    "    i = i + 3\n"
    "  else\n"
    "    return redis.error_reply('ERR ccroute batch: bad op ' .. tostring(op))\n"
    "  end\n"
    "  ops = ops + 1\n"
    "end\n"
    "if evs > 0 then\n"
    "  redis.call('XTRIM', ke, 'MAXLEN', '~', ARGV[4])\n"
    "end\n"
    "return ops\n";

/* The lease script. KEYS: lease, fence, applied. ARGV: mine ("token|addr"
 * or ""), token ("0" for none), addr, lease_ms, may_acquire ("1"/"0"),
 * confirmed (the sequence number of the last batch this term saw
 * confirmed). Returns {1, value}: this term kept (renewed, or re-set when
 * it had lapsed and nobody took it since); {3, value}: this term kept, but
 * Redis lost its writes -- the fence counter was below the token, or the
 * generation marker (`applied`, "token:seq") is missing, of another token
 * or behind `confirmed` (a restart without its data, a failover to a
 * replica that missed the last writes): the lease and the counter are set
 * again and the engine must write its whole state back; {2, value}: a new
 * term acquired (value "token|addr", the token from INCR of the fence
 * counter; the marker starts at "token:0"); {0, value}: someone else
 * holds the lease (value, or "" when free and not taken). */
const char storebatch_lease_script[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "local mine = ARGV[1]\n"
    "local function marker_ok()\n"
    "  local ap = redis.call('GET', KEYS[3])\n"
    "  if not ap then return false end\n"
    "  local at, as = string.match(ap, '^(%d+):(%d+)$')\n"
    "  return at == ARGV[2] and tonumber(as) >= tonumber(ARGV[6])\n"
    "end\n"
    "if cur and mine ~= '' and cur == mine then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "  if not marker_ok() then return {3, cur} end\n"
    "  return {1, cur}\n"
    "end\n"
    "if not cur then\n"
    "  local f = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "  if mine ~= '' and f <= tonumber(ARGV[2]) then\n"
    "    redis.call('SET', KEYS[2], ARGV[2])\n"
    "    redis.call('SET', KEYS[1], mine, 'PX', ARGV[4])\n"
    "    if f < tonumber(ARGV[2]) or not marker_ok() then\n"
    "      return {3, mine}\n"
    "    end\n"
    "    return {1, mine}\n"
    "  end\n"
    "  if ARGV[5] == '1' then\n"
    "    local t = redis.call('INCR', KEYS[2])\n"
    "    local v = tostring(t) .. '|' .. ARGV[3]\n"
    "    redis.call('SET', KEYS[1], v, 'PX', ARGV[4])\n"
    "    redis.call('SET', KEYS[3], tostring(t) .. ':0')\n"
    "    return {2, v}\n"
    "  end\n"
    "  return {0, ''}\n"
    "end\n"
    "return {0, cur}\n";

/* The load script, one chunk per call. KEYS: lease. ARGV: prefix, mine,
 * kind ("o" outbound objects, "a" agents, "c" contacts), offset, count.
 * Outbound objects come in the order of the `ob` sorted set (score, then
 * member): member, data. Returns, flat, at most
 * `count` objects from rank `offset` on:
 *   agents in id order (SORT ALPHA of the agents set): id, login, state,
 *   reason, since_ms, owner, principal;
 *   contacts in the order of the contacts set (its score is the arrival
 *   sequence): id, arrived, arrived_ms, state, queue, agent, deadline_ms,
 *   owner, arrived_us, seq, principal.
 * Fewer than `count` objects: that kind is done. A missing field (e.g. no
 * `owner` or `arrived_us` in data written before it existed) comes back
 * empty; a missing `seq` is the set's score. Refuses when `mine` does not
 * hold the lease. Ranks are stable between calls because only the lease
 * holder writes the tenant's keys, and it writes nothing while it loads
 * (store.c, "Recovery"). The first call ("o" from 0) answers the error
 * "LAYOUT journal" when the tenant holds a journal or a snapshot: its
 * state is in the other layout (docs/redis.md, "Changing the layout"). */
const char storebatch_load_script[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[2] then\n"
    "  return redis.error_reply('FENCED lease not held')\n"
    "end\n"
    "local p = ARGV[1]\n"
    "local off = tonumber(ARGV[4])\n"
    "local cnt = tonumber(ARGV[5])\n"
    "local function s(v) if v then return v end return '' end\n"
    "local out = {}\n"
    "if ARGV[3] == 'o' and off == 0 and\n"
    "   redis.call('EXISTS', p .. 'journal', p .. 'snapshot') > 0 then\n"
    "  return redis.error_reply('LAYOUT journal')\n"
    "end\n"
    "if ARGV[3] == 'a' then\n"
    "  local ids = redis.call('SORT', p .. 'agents', 'ALPHA', 'LIMIT', off,\n"
    "                         cnt)\n"
    "  for _, id in ipairs(ids) do\n"
    "    local h = redis.call('HMGET', p .. 'agent:' .. id, 'login',\n"
    "                         'state', 'reason', 'since_ms', 'owner',\n"
    "                         'principal')\n"
    "    out[#out+1] = id\n"
    "    for k = 1, 6 do out[#out+1] = s(h[k]) end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "if ARGV[3] == 'o' then\n"
    "  local ms = redis.call('ZRANGE', p .. 'ob', off, off + cnt - 1)\n"
    "  for _, m in ipairs(ms) do\n"
    "    out[#out+1] = m\n"
    "    out[#out+1] = s(redis.call('HGET', p .. 'ob:data', m))\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local cids = redis.call('ZRANGE', p .. 'contacts', off, off + cnt - 1,\n"
    "                        'WITHSCORES')\n"
    "for j = 1, #cids, 2 do\n"
    "  local id = cids[j]\n"
    "  local h = redis.call('HMGET', p .. 'contact:' .. id, 'arrived',\n"
    "                       'arrived_ms', 'state', 'queue', 'agent',\n"
    "                       'deadline_ms', 'owner', 'arrived_us', 'seq',\n"
    "                       'principal')\n"
    "  out[#out+1] = id\n"
    "  for k = 1, 8 do out[#out+1] = s(h[k]) end\n"
    "  out[#out+1] = h[9] or cids[j+1]\n"
    "  out[#out+1] = s(h[10])\n"
    "end\n"
    "return out\n";

/* The release script. KEYS: lease. ARGV: mine. */
const char storebatch_release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* The journal append (redis.layout journal, engine/journal.h). KEYS:
 * lease, fence, applied. ARGV: prefix, token, sequence, unused, the
 * batch's first opcode ('Z' for a full rewrite: no generation check), the
 * packed batch. The same checks as the batch script, then ONE stream
 * entry: b (the packed ops), t (token), s (sequence). Returns its id. */
const char storebatch_journal_script[] =
    FENCE_LUA
    "return redis.call('XADD', ARGV[1] .. 'journal', '*', 'b', ARGV[6],\n"
    "                  't', tok, 's', ARGV[3])\n";

/* The snapshot swap (redis.layout journal): makes a snapshot whose chunks
 * (`snap:<token>:<seq>:<i>`, packed ops, written by plain SETs just
 * before) current. KEYS: lease, fence, applied. ARGV: prefix, token,
 * sequence (the snapshot's place in the batch sequence), chunk count,
 * 'Z' for the rewrite after Redis lost the state (no generation check)
 * or "" for a periodic one. The fencing and generation checks of a batch;
 * every chunk must exist (else nothing changes: "ERR snapshot chunk
 * missing", and the store sends it again); then `snapshot` =
 * "<token>:<seq>:<chunks>:<journal id>", the id of the journal's last
 * entry -- every batch before the snapshot in the sequence is applied
 * (GAP otherwise), so the snapshot holds everything up to that entry and
 * recovery replays the entries after it. The previous snapshot's chunks
 * are unlinked and the journal is trimmed below the previous snapshot's
 * entry (so a reader of the events keeps at least one snapshot interval
 * of history). A swap applied already (a resend of the rewrite) changes
 * nothing. Chunks are written with an expiry, and only where no such key
 * exists (store.c, SNAP_CHUNK_TTL: a resend never touches current
 * chunks), which the swap removes from the chunks it makes current, so
 * that orphan chunks, whose swap never ran, go by themselves. Returns
 * the journal id. */
const char storebatch_snapshot_script[] =
    FENCE_CHECK_LUA
    "local p = ARGV[1]\n"
    "local n = tonumber(ARGV[4])\n"
    "local me = tok .. ':' .. ARGV[3]\n"
    "local old = redis.call('GET', p .. 'snapshot')\n"
    "if old and string.sub(old, 1, #me + 1) == me .. ':' then\n"
    "  return 0\n"
    "end\n"
    "for i = 0, n - 1 do\n"
    "  if redis.call('EXISTS', p .. 'snap:' .. me .. ':' .. i) == 0 then\n"
    "    return redis.error_reply('ERR snapshot chunk missing: ' .. i)\n"
    "  end\n"
    "end\n"
    "for i = 0, n - 1 do\n"
    "  redis.call('PERSIST', p .. 'snap:' .. me .. ':' .. i)\n"
    "end\n"
    "redis.call('SET', KEYS[3], me)\n"
    "local top = redis.call('XREVRANGE', p .. 'journal', '+', '-', 'COUNT', 1)\n"
    "local pos = '0-0'\n"
    "if #top > 0 then pos = top[1][1] end\n"
    "redis.call('SET', p .. 'snapshot', me .. ':' .. n .. ':' .. pos)\n"
    "if old then\n"
    "  local ot, os, on, opos = string.match(old, '^(%d+):(%d+):(%d+):(.+)$')\n"
    "  if ot then\n"
    "    for i = 0, tonumber(on) - 1 do\n"
    "      redis.call('UNLINK', p .. 'snap:' .. ot .. ':' .. os .. ':' .. i)\n"
    "    end\n"
    "    redis.call('XTRIM', p .. 'journal', 'MINID', opos)\n"
    "  end\n"
    "end\n"
    "return pos\n";

/* The journal's load script, one call per chunk. KEYS: lease. ARGV:
 * prefix, mine, kind, arg, count. Kinds: "p" the snapshot pointer
 * ("<token>:<seq>:<chunks>:<journal id>", or "" when none); "s" the
 * snapshot chunk `snap:<arg>` (nil when missing); "j" journal entries
 * from `arg` ("-" or "(<id>") on, at most `count`, flat: id, packed ops.
 * Refuses when `mine` does not hold the lease. The first call ("p")
 * answers the error "LAYOUT hashes" when the tenant holds per-key state
 * (`contacts`, `agents` or `ob`): docs/redis.md, "Changing the layout". */
const char storebatch_journal_load_script[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[2] then\n"
    "  return redis.error_reply('FENCED lease not held')\n"
    "end\n"
    "local p = ARGV[1]\n"
    "if ARGV[3] == 'p' then\n"
    "  if redis.call('EXISTS', p .. 'contacts', p .. 'agents',\n"
    "                p .. 'ob') > 0 then\n"
    "    return redis.error_reply('LAYOUT hashes')\n"
    "  end\n"
    "  return redis.call('GET', p .. 'snapshot') or ''\n"
    "end\n"
    "if ARGV[3] == 's' then\n"
    "  return redis.call('GET', p .. 'snap:' .. ARGV[4])\n"
    "end\n"
    "local out = {}\n"
    "local es = redis.call('XRANGE', p .. 'journal', ARGV[4], '+', 'COUNT',\n"
    "                      ARGV[5])\n"
    "for _, e in ipairs(es) do\n"
    "  local f = e[2]\n"
    "  local b = ''\n"
    "  for k = 1, #f, 2 do if f[k] == 'b' then b = f[k+1] end end\n"
    "  out[#out+1] = e[1]\n"
    "  out[#out+1] = b\n"
    "end\n"
    "return out\n";
