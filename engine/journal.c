/* journal.c -- the packed form of a write batch, and its replay (see
 * journal.h).
 *
 * Replay keeps one record per key the per-key layout would have: a
 * contact's hash and its membership of `contacts`, an agent's hash and
 * its membership of `agents`, an outbound object's member of `ob` and its
 * data. Records live in an array, found through an open-addressing table
 * keyed by (kind, id); a deleted key's record is emptied, not removed, so
 * nothing is ever rehashed but on growth.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "storebatch.h"

void journal_buf_free(struct journal_buf *o)
{
    free(o->p);
    memset(o, 0, sizeof(*o));
}

static int buf_room(struct journal_buf *o, size_t n)
{
    if (o->len + n <= o->cap)
        return 0;
    size_t c = o->cap ? o->cap : 4096;
    while (c < o->len + n)
        c *= 2;
    uint8_t *p = realloc(o->p, c);
    if (!p)
        return -1;
    o->p = p;
    o->cap = c;
    return 0;
}

static void put_varint(struct journal_buf *o, uint64_t v)
{
    while (v >= 0x80) {
        o->p[o->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o->p[o->len++] = (uint8_t)v;
}

int journal_pack_ops(const struct storebatch *b, size_t from, size_t to,
                     struct journal_buf *out)
{
    for (size_t k = from; k < to && k < b->nops; k++) {
        size_t a0 = b->opat[k];
        size_t a1 = k + 1 < b->nops ? b->opat[k + 1] : b->nargs;
        size_t bytes = b->off[a1 - 1] + b->alen[a1 - 1] - b->off[a0];
        if (buf_room(out, 1 + 10 + (a1 - a0) * 10 + bytes) < 0)
            return -1;
        /* the opcode is the op's first argument, one byte */
        out->p[out->len++] = b->alen[a0] ? (uint8_t)b->buf[b->off[a0]] : 0;
        put_varint(out, a1 - a0 - 1);
        for (size_t i = a0 + 1; i < a1; i++) {
            put_varint(out, b->alen[i]);
            if (b->alen[i])
                memcpy(out->p + out->len, b->buf + b->off[i], b->alen[i]);
            out->len += b->alen[i];
        }
    }
    return 0;
}

int journal_pack(const struct storebatch *b, struct journal_buf *out)
{
    return journal_pack_ops(b, 0, b->nops, out);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t journal_packed_size(const struct storebatch *b)
{
    size_t n = 0;
    for (size_t k = 0; k < b->nops; k++) {
        size_t a0 = b->opat[k];
        size_t a1 = k + 1 < b->nops ? b->opat[k + 1] : b->nargs;
        n += 1 + varint_len(a1 - a0 - 1);
        for (size_t i = a0 + 1; i < a1; i++)
            n += varint_len(b->alen[i]) + b->alen[i];
    }
    return n;
}

/* journal_pack_ops' loop, writing to a place of known size instead of a
 * growing buffer: the same bytes (tests/test-respcmd.c compares them). */
uint8_t *journal_pack_to(const struct storebatch *b, uint8_t *o)
{
    for (size_t k = 0; k < b->nops; k++) {
        size_t a0 = b->opat[k];
        size_t a1 = k + 1 < b->nops ? b->opat[k + 1] : b->nargs;
        *o++ = b->alen[a0] ? (uint8_t)b->buf[b->off[a0]] : 0;
        uint64_t v = a1 - a0 - 1;
        for (;; v >>= 7) {
            if (v < 0x80) {
                *o++ = (uint8_t)v;
                break;
            }
            *o++ = (uint8_t)(v | 0x80);
        }
        for (size_t i = a0 + 1; i < a1; i++) {
            for (v = b->alen[i];; v >>= 7) {
                if (v < 0x80) {
                    *o++ = (uint8_t)v;
                    break;
                }
                *o++ = (uint8_t)(v | 0x80);
            }
            if (b->alen[i])
                memcpy(o, b->buf + b->off[i], b->alen[i]);
            o += b->alen[i];
        }
    }
    return o;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (*p >= end)
            return -1;
        uint8_t c = *(*p)++;
        if (sh == 63 && (c & 0x7f) > 1)
            return -1;          /* past 64 bits: not read as a wrapped value */
        x |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

int journal_next(const uint8_t **p, const uint8_t *end,
                 struct journal_op *op)
{
    if (*p >= end)
        return 0;
    const uint8_t *q = *p;
    op->code = *q++;
    uint64_t nf;
    if (get_varint(&q, end, &nf) < 0 || nf > JOURNAL_MAX_FIELDS)
        return -1;
    op->nf = (size_t)nf;
    for (size_t i = 0; i < op->nf; i++) {
        uint64_t l;
        if (get_varint(&q, end, &l) < 0 || l > (uint64_t)(end - q))
            return -1;
        op->f[i] = q;
        op->fl[i] = (size_t)l;
        q += l;
    }
    *p = q;
    return 1;
}

/* ---- replay ---- */

enum { K_CONTACT = 'c', K_AGENT = 'a', K_OB = 'o' };

/* fields of a record, per kind (the hash fields the layout has) */
enum {
    CF_ARRIVED, CF_US, CF_SEQ, CF_OWNER, CF_PRINCIPAL, CF_STATE, CF_QUEUE,
    CF_AGENT, CF_DEADLINE,
};
enum { AF_LOGIN, AF_OWNER, AF_PRINCIPAL, AF_STATE, AF_REASON, AF_SINCE };
enum { OF_DATA };
#define NF 9

struct jfield {
    char *p;                    /* NUL-terminated copy, NULL: absent */
    size_t n;
};

struct jrec {
    uint8_t kind;
    bool in_set;                /* member of contacts / agents / ob */
    double score;               /* its score (contacts: seq; ob) */
    uint64_t gone_entry;        /* entry number of its last 'x' */
    char *id;
    size_t idlen;
    uint32_t hash;
    struct jfield f[NF];
};

struct journal_replay {
    struct jrec *rec;
    size_t n, cap;
    uint32_t *slot;             /* index + 1, 0 empty */
    size_t nslots;
    uint64_t entry;             /* entries applied (numbers 'x') */
    size_t unknown;
    const struct jrec *visiting;    /* during journal_replay_each */
    /* journal_replay_step()'s visit order (into rec: an apply, which may
     * move rec, forgets it) and the next position in it */
    const struct jrec **order;
    size_t norder, at;
};

static void order_forget(struct journal_replay *j)
{
    free(j->order);
    j->order = NULL;
    j->norder = j->at = 0;
}

struct journal_replay *journal_replay_new(void)
{
    return calloc(1, sizeof(struct journal_replay));
}

static void rec_clear(struct jrec *r)
{
    for (int i = 0; i < NF; i++) {
        free(r->f[i].p);
        r->f[i].p = NULL;
        r->f[i].n = 0;
    }
    r->in_set = false;
    r->score = 0;
}

void journal_replay_reset(struct journal_replay *j)
{
    order_forget(j);
    for (size_t i = 0; i < j->n; i++)
        rec_clear(&j->rec[i]);
}

void journal_replay_free(struct journal_replay *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        rec_clear(&j->rec[i]);
        free(j->rec[i].id);
    }
    free(j->rec);
    free(j->slot);
    free(j->order);
    free(j);
}

size_t journal_replay_unknown(const struct journal_replay *j)
{
    return j->unknown;
}

static uint32_t key_hash(uint8_t kind, const uint8_t *id, size_t n)
{
    uint32_t h = 2166136261u ^ kind;      /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ id[i]) * 16777619u;
    return h;
}

static int rehash(struct journal_replay *j, size_t nslots)
{
    uint32_t *s = calloc(nslots, sizeof(*s));
    if (!s)
        return -1;
    for (size_t i = 0; i < j->n; i++) {
        size_t k = j->rec[i].hash & (nslots - 1);
        while (s[k])
            k = (k + 1) & (nslots - 1);
        s[k] = (uint32_t)(i + 1);
    }
    free(j->slot);
    j->slot = s;
    j->nslots = nslots;
    return 0;
}

/* The record of (kind, id), made when missing. NULL without memory. */
static struct jrec *rec_get(struct journal_replay *j, uint8_t kind,
                            const uint8_t *id, size_t n)
{
    uint32_t h = key_hash(kind, id, n);
    if (j->nslots) {
        for (size_t k = h & (j->nslots - 1); j->slot[k];
             k = (k + 1) & (j->nslots - 1)) {
            struct jrec *r = &j->rec[j->slot[k] - 1];
            if (r->hash == h && r->kind == kind && r->idlen == n &&
                !memcmp(r->id, id, n))
                return r;
        }
    }
    if (j->n == j->cap) {
        size_t c = j->cap ? j->cap * 2 : 256;
        struct jrec *a = realloc(j->rec, c * sizeof(*a));
        if (!a)
            return NULL;
        j->rec = a;
        j->cap = c;
    }
    if ((j->n + 1) * 2 > j->nslots &&
        rehash(j, j->nslots ? j->nslots * 2 : 512) < 0)
        return NULL;
    struct jrec *r = &j->rec[j->n];
    memset(r, 0, sizeof(*r));
    if (!(r->id = malloc(n + 1)))
        return NULL;
    memcpy(r->id, id, n);
    r->id[n] = '\0';
    r->idlen = n;
    r->kind = kind;
    r->hash = h;
    size_t k = h & (j->nslots - 1);
    while (j->slot[k])
        k = (k + 1) & (j->nslots - 1);
    j->slot[k] = (uint32_t)(j->n + 1);
    j->n++;
    return r;
}

static int fset(struct jrec *r, int i, const uint8_t *p, size_t n)
{
    char *c = realloc(r->f[i].p, n + 1);
    if (!c)
        return -1;
    if (n)
        memcpy(c, p, n);
    c[n] = '\0';
    r->f[i].p = c;
    r->f[i].n = n;
    return 0;
}

static double num(const uint8_t *p, size_t n)
{
    char t[32];
    if (n >= sizeof(t))
        n = sizeof(t) - 1;
    memcpy(t, p, n);
    t[n] = '\0';
    double d = strtod(t, NULL);
    /* a damaged "nan" (Redis refuses it as a score) would make the load
     * order's comparison inconsistent */
    return d == d ? d : 0;
}

/* Sets fields `idx` of r from op fields first.. (the op's order). */
static int fsets(struct jrec *r, const struct journal_op *op, size_t first,
                 const int *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fset(r, idx[i], op->f[first + i], op->fl[first + i]) < 0)
            return -1;
    return 0;
}

/* Fields a known op needs at least (storebatch.h): 0 for Z and the
 * history ops (any count), -1 for an op this engine does not know. */
static int op_need(uint8_t code)
{
    switch (code) {
    case 'Z': case 'e': case 'E': case 'q': case 'V': return 0;
    case 'N': return 10;
    case 'c': return 5;
    case 'x': return 1;
    case 'a': return 4;
    case 'G': return 7;
    case 'A': return 6;
    case 'L': return 4;
    case 'o': return 1;
    case 'B': return 3;
    case 'b': return 1;
    default: return -1;
    }
}

/* One op, as the batch script applies it (storebatch.c). 0, -1 bad op
 * (too few fields), -2 out of memory. */
static int apply_op(struct journal_replay *j, const struct journal_op *op)
{
    static const int c_new[] = { CF_ARRIVED, CF_US, CF_SEQ, CF_OWNER,
                                 CF_PRINCIPAL, CF_STATE, CF_QUEUE, CF_AGENT,
                                 CF_DEADLINE };
    static const int c_state[] = { CF_STATE, CF_QUEUE, CF_AGENT,
                                   CF_DEADLINE };
    static const int a_new[] = { AF_LOGIN, AF_OWNER, AF_PRINCIPAL, AF_STATE,
                                 AF_REASON, AF_SINCE };
    static const int a_state[] = { AF_STATE, AF_REASON, AF_SINCE };
    struct jrec *r = NULL;
    int need = op_need(op->code);
    if (need < 0) {
        j->unknown++;
        return 0;
    }
    if (op->nf < (size_t)need)
        return -1;
    if (op->code == 'Z') {
        journal_replay_reset(j);
        return 0;
    }
    if (!need)
        return 0;                               /* history, not state */
    uint8_t kind = strchr("NcxA", op->code) ? K_CONTACT
                   : strchr("aGLo", op->code) ? K_AGENT : K_OB;
    if (!(r = rec_get(j, kind, op->f[0], op->fl[0])))
        return -2;
    int rc = 0;
    switch (op->code) {
    case 'N':
        rc = fsets(r, op, 1, c_new, 9);
        r->in_set = true;
        r->score = num(op->f[3], op->fl[3]);
        break;
    case 'A':
        if (r->gone_entry == j->entry)
            break;                   /* left earlier in this batch */
        rc = fsets(r, op, 1, c_new, 5);
        r->in_set = true;
        r->score = num(op->f[3], op->fl[3]);
        break;
    case 'c':
        if (r->gone_entry != j->entry)
            rc = fsets(r, op, 1, c_state, 4);
        break;
    case 'x':
        r->gone_entry = j->entry;
        rec_clear(r);
        break;
    case 'G':
        rc = fsets(r, op, 1, a_new, 6);
        r->in_set = true;
        break;
    case 'L':
        rc = fsets(r, op, 1, a_new, 3);
        r->in_set = true;
        break;
    case 'a':
        rc = fsets(r, op, 1, a_state, 3);
        break;
    case 'o':
    case 'b':
        rec_clear(r);
        break;
    case 'B':
        rc = fset(r, OF_DATA, op->f[2], op->fl[2]);
        r->in_set = true;
        r->score = num(op->f[1], op->fl[1]);
        break;
    }
    return rc < 0 ? -2 : 0;
}

int journal_replay_apply(struct journal_replay *j, const uint8_t *p,
                         size_t len)
{
    const uint8_t *end = p + len;
    struct journal_op op;
    int rc;
    order_forget(j);
    j->entry++;
    /* A damaged entry (truncated, a partial write) changes nothing: every
     * op is read and checked before the first is applied, so a batch is
     * replayed whole or not at all, as the batch script applied it. */
    for (const uint8_t *q = p; (rc = journal_next(&q, end, &op)) != 0;) {
        int need = rc == 1 ? op_need(op.code) : 0;
        if (rc < 0 || (need > 0 && op.nf < (size_t)need))
            return -1;
    }
    while ((rc = journal_next(&p, end, &op)) == 1) {
        int a = apply_op(j, &op);
        if (a < 0)
            return a;
    }
    return rc;
}

static int idcmp(const struct jrec *a, const struct jrec *b)
{
    size_t n = a->idlen < b->idlen ? a->idlen : b->idlen;
    int c = memcmp(a->id, b->id, n);
    if (c)
        return c;
    return a->idlen < b->idlen ? -1 : a->idlen > b->idlen;
}

/* The load order of kinds: outbound objects, agents, contacts. */
static int kind_rank(uint8_t k)
{
    return k == K_OB ? 0 : k == K_AGENT ? 1 : 2;
}

static int by_score(const void *x, const void *y)
{
    const struct jrec *a = *(const struct jrec *const *)x;
    const struct jrec *b = *(const struct jrec *const *)y;
    if (a->kind != b->kind)
        return kind_rank(a->kind) < kind_rank(b->kind) ? -1 : 1;
    if (a->kind != K_AGENT && a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return idcmp(a, b);
}

static const char *fs(const struct jrec *r, int i)
{
    return r->f[i].p ? r->f[i].p : "";
}

static uint64_t fu(const struct jrec *r, int i)
{
    return r->f[i].p ? strtoull(r->f[i].p, NULL, 10) : 0;
}

static void visit_one(struct journal_replay *j, const struct jrec *r,
                      const struct journal_visit *v, void *arg,
                      size_t *skipped)
{
    j->visiting = r;
    if (r->kind == K_OB) {
        if (v->outbound)
            v->outbound(arg, r->id, r->idlen,
                        (const uint8_t *)fs(r, OF_DATA), r->f[OF_DATA].n);
    } else if (r->kind == K_AGENT) {
        if (!r->f[AF_LOGIN].n) {
            (*skipped)++;
        } else if (v->agent) {
            v->agent(arg, (const uint8_t *)r->f[AF_LOGIN].p,
                     r->f[AF_LOGIN].n, atoi(fs(r, AF_STATE)),
                     fs(r, AF_REASON), fs(r, AF_OWNER), fs(r, AF_PRINCIPAL));
        }
    } else {
        if (!r->f[CF_ARRIVED].n) {
            (*skipped)++;
        } else if (v->contact) {
            struct journal_contact c = {
                .arrived = (const uint8_t *)r->f[CF_ARRIVED].p,
                .len = r->f[CF_ARRIVED].n,
                .arrived_us = fu(r, CF_US),
                .seq = fu(r, CF_SEQ),
                .state = atoi(fs(r, CF_STATE)),
                .queue = fs(r, CF_QUEUE),
                .agent = fs(r, CF_AGENT),
                .owner = fs(r, CF_OWNER),
                .principal = fs(r, CF_PRINCIPAL),
            };
            v->contact(arg, &c);
        }
    }
    j->visiting = NULL;
}

int journal_replay_step(struct journal_replay *j,
                        const struct journal_visit *v, void *arg,
                        size_t *skipped, size_t max)
{
    if (!j->order) {
        if (!(j->order = malloc((j->n ? j->n : 1) * sizeof(*j->order))))
            return -2;
        size_t n = 0;
        for (size_t i = 0; i < j->n; i++)
            if (j->rec[i].in_set)
                j->order[n++] = &j->rec[i];
        qsort(j->order, n, sizeof(*j->order), by_score);
        j->norder = n;
        j->at = 0;
    }
    for (size_t k = 0; k < max && j->at < j->norder; k++)
        visit_one(j, j->order[j->at++], v, arg, skipped);
    return j->at >= j->norder ? 1 : 0;
}

int journal_replay_each(struct journal_replay *j,
                        const struct journal_visit *v, void *arg,
                        size_t *skipped)
{
    order_forget(j);
    int rc = journal_replay_step(j, v, arg, skipped, SIZE_MAX);
    order_forget(j);
    return rc < 0 ? rc : 0;
}

const char *journal_replay_visiting(const struct journal_replay *j,
                                    size_t *len)
{
    if (!j->visiting)
        return NULL;
    *len = j->visiting->idlen;
    return j->visiting->id;
}
