/* store-peek.c -- a tenant's stored state on either layout (see
 * store-peek.h).
 *
 * The journal side is recovery's own path without the store around it:
 * the snapshot pointer, its chunks, the entries after its journal id,
 * each applied with journal_replay_apply(), and journal_replay_each()
 * hands over the objects in the load order. The hashes side reads the
 * sets and hashes and keeps only what the load script reads, so a test
 * cannot pass on one layout by a field the other never had.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal.h"
#include "store-peek.h"

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        fail_msg("store-peek: out of memory");
    return q;
}

static char *xdup(const void *s, size_t n)
{
    char *c = xrealloc(NULL, n + 1);
    if (n)
        memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static struct peek_obj *add(struct peek_obj **a, size_t *n, size_t *cap,
                            char kind, const void *id, size_t idlen)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *a = xrealloc(*a, *cap * sizeof(**a));
    }
    struct peek_obj *o = &(*a)[(*n)++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->id = xdup(id, idlen);
    return o;
}

static void set(struct peek_obj *o, const char *name, const void *v,
                size_t n)
{
    o->name = xrealloc(o->name, (o->nf + 1) * sizeof(*o->name));
    o->val = xrealloc(o->val, (o->nf + 1) * sizeof(*o->val));
    o->vlen = xrealloc(o->vlen, (o->nf + 1) * sizeof(*o->vlen));
    o->name[o->nf] = xdup(name, strlen(name));
    o->val[o->nf] = xdup(v, n);
    o->vlen[o->nf] = n;
    o->nf++;
}

static void sets(struct peek_obj *o, const char *name, const char *v)
{
    set(o, name, v, strlen(v));
}

static redisReply *cmd(redisContext *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *x = redisvCommand(r, fmt, ap);
    va_end(ap);
    if (!x)
        fail_msg("store-peek: redis: %s", r->errstr);
    if (x->type == REDIS_REPLY_ERROR)
        fail_msg("store-peek: redis: %s", x->str);
    return x;
}

/* ---- hashes ---- */

static const char *const c_fields[] = {
    "arrived", "arrived_us", "arrived_ms", "seq", "owner", "principal",
    "state", "queue", "agent",
};
static const char *const a_fields[] = {
    "login", "owner", "principal", "state", "reason",
};

/* The hash `key`'s fields among `want` into o; false when `need` is
 * missing (recovery skips such an object). */
static bool hash_into(redisContext *r, const char *key,
                      const char *const *want, size_t nwant,
                      const char *need, struct peek_obj *o)
{
    redisReply *h = cmd(r, "HGETALL %s", key);
    bool found = false;
    for (size_t w = 0; w < nwant; w++)
        for (size_t i = 0; i + 1 < h->elements; i += 2) {
            const redisReply *k = h->element[i], *v = h->element[i + 1];
            if (strcmp(k->str, want[w]))
                continue;
            /* no state written: as the journal's "0, none" */
            if (!strcmp(want[w], "state") && !strcmp(v->str, "0"))
                continue;
            set(o, want[w], v->str, v->len);
            if (!strcmp(want[w], need) && v->len)
                found = true;
        }
    freeReplyObject(h);
    return found;
}

static void drop_last(struct peek_obj *a, size_t *n);

static void read_hashes(struct peek *p, redisContext *r, const char *t)
{
    char key[512];
    redisReply *m = cmd(r, "ZRANGE ccr:{%s}:ob 0 -1", t);
    for (size_t i = 0; i < m->elements; i++) {
        redisReply *d = cmd(r, "HGET ccr:{%s}:ob:data %b", t,
                            m->element[i]->str, m->element[i]->len);
        struct peek_obj *o = add(&p->obj, &p->nobj, &p->capobj, 'o',
                                 m->element[i]->str, m->element[i]->len);
        if (d->type == REDIS_REPLY_STRING)
            set(o, "data", d->str, d->len);
        else
            set(o, "data", "", 0);
        freeReplyObject(d);
    }
    freeReplyObject(m);
    /* agents by id bytes, as the load script sorts them */
    m = cmd(r, "SORT ccr:{%s}:agents ALPHA", t);
    for (size_t i = 0; i < m->elements; i++) {
        snprintf(key, sizeof(key), "ccr:{%s}:agent:%s", t,
                 m->element[i]->str);
        add(&p->obj, &p->nobj, &p->capobj, 'a', m->element[i]->str,
            m->element[i]->len);
        if (!hash_into(r, key, a_fields, 5, "login",
                       &p->obj[p->nobj - 1])) {
            drop_last(p->obj, &p->nobj);
            p->skipped++;
        }
    }
    freeReplyObject(m);
    m = cmd(r, "ZRANGE ccr:{%s}:contacts 0 -1", t);
    for (size_t i = 0; i < m->elements; i++) {
        snprintf(key, sizeof(key), "ccr:{%s}:contact:%s", t,
                 m->element[i]->str);
        add(&p->obj, &p->nobj, &p->capobj, 'c', m->element[i]->str,
            m->element[i]->len);
        if (!hash_into(r, key, c_fields, 9, "arrived",
                       &p->obj[p->nobj - 1])) {
            drop_last(p->obj, &p->nobj);
            p->skipped++;
        }
    }
    freeReplyObject(m);
    char start[80] = "-";
    for (;;) {
        redisReply *x = cmd(r, "XRANGE ccr:{%s}:events %s + COUNT 1000", t,
                            start);
        for (size_t i = 0; i < x->elements; i++) {
            const redisReply *e = x->element[i];
            struct peek_obj *o = add(&p->ev, &p->nev, &p->capev, 'e',
                                     e->element[0]->str,
                                     e->element[0]->len);
            const redisReply *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                set(o, f->element[k]->str, f->element[k + 1]->str,
                    f->element[k + 1]->len);
            snprintf(start, sizeof(start), "(%s", e->element[0]->str);
        }
        size_t n = x->elements;
        freeReplyObject(x);
        if (n < 1000)
            break;
    }
}

/* ---- journal ---- */

static const char *const ev_names[] = {
    "type", "contact", "agent", "queue", "ts", "detail",
    "disposition", "tags", "note_ref", "difficult", "product",
};
static const char *const lead_names[] = {
    "type", "campaign", "lead", "contact", "state", "attempts", "outcome",
    "ts",
};

/* The events of one journal entry, named as the events stream names
 * them (the batch script's rule: type, ts and token always, the others
 * when not empty; build/ccjournal prints the same). */
static void entry_events(struct peek *p, const char *id, const char *b,
                         size_t bl, const char *tok, size_t tl)
{
    const uint8_t *q = (const uint8_t *)b, *end = q + bl;
    struct journal_op op;
    int rc;
    while ((rc = journal_next(&q, end, &op)) == 1) {
        const char *const *names;
        size_t nf;
        if (op.code == 'e' || op.code == 'E') {
            names = ev_names;
            nf = op.code == 'E' ? 11 : 6;
        } else if (op.code == 'V') {
            names = lead_names;
            nf = 8;
        } else {
            continue;
        }
        if (op.nf < nf)
            nf = op.nf;
        struct peek_obj *o = add(&p->ev, &p->nev, &p->capev, 'e', id,
                                 strlen(id));
        for (size_t i = 0; i < nf; i++) {
            bool always = names == ev_names ? (i == 0 || i == 4)
                                            : !(i == 3 || i == 6);
            if (op.fl[i] || always)
                set(o, names[i], op.f[i], op.fl[i]);
        }
        set(o, "token", tok, tl);
    }
    if (rc < 0)
        fail_msg("store-peek: journal entry %s is malformed", id);
}

/* journal_replay_each()'s callbacks: the object's id from
 * journal_replay_visiting(), its fields as the load hands them over. */
struct jctx {
    struct peek *p;
    struct journal_replay *jr;
};

static struct peek_obj *jadd(struct jctx *c, char kind)
{
    size_t n = 0;
    const char *id = journal_replay_visiting(c->jr, &n);
    if (!id)
        fail_msg("store-peek: no object visited");
    return add(&c->p->obj, &c->p->nobj, &c->p->capobj, kind, id, n);
}

static void v_outbound(void *arg, const char *member, size_t mlen,
                       const uint8_t *data, size_t len)
{
    (void)member;
    (void)mlen;
    set(jadd(arg, 'o'), "data", data, len);
}

static void v_agent(void *arg, const uint8_t *login, size_t len, int state,
                    const char *reason, const char *owner,
                    const char *principal)
{
    struct peek_obj *o = jadd(arg, 'a');
    char n[24];
    set(o, "login", login, len);
    sets(o, "owner", owner);
    sets(o, "principal", principal);
    if (state) {
        snprintf(n, sizeof(n), "%d", state);
        sets(o, "state", n);
    }
    sets(o, "reason", reason);
}

static void v_contact(void *arg, const struct journal_contact *c)
{
    struct peek_obj *o = jadd(arg, 'c');
    char n[24];
    set(o, "arrived", c->arrived, c->len);
    snprintf(n, sizeof(n), "%" PRIu64, c->arrived_us);
    sets(o, "arrived_us", n);
    snprintf(n, sizeof(n), "%" PRIu64, c->arrived_us / 1000);
    sets(o, "arrived_ms", n);
    snprintf(n, sizeof(n), "%" PRIu64, c->seq);
    sets(o, "seq", n);
    sets(o, "owner", c->owner);
    sets(o, "principal", c->principal);
    if (c->state) {
        snprintf(n, sizeof(n), "%d", c->state);
        sets(o, "state", n);
    }
    sets(o, "queue", c->queue);
    sets(o, "agent", c->agent);
}

static void read_journal(struct peek *p, redisContext *r, const char *t)
{
    struct journal_replay *jr = journal_replay_new();
    if (!jr)
        fail_msg("store-peek: out of memory");
    char after[80] = "-";
    redisReply *s = cmd(r, "GET ccr:{%s}:snapshot", t);
    if (s->type == REDIS_REPLY_STRING) {
        char tok[32], seq[32], jid[48];
        unsigned chunks;
        if (sscanf(s->str, "%31[^:]:%31[^:]:%u:%47s", tok, seq, &chunks,
                   jid) != 4)
            fail_msg("store-peek: snapshot pointer '%s'", s->str);
        for (unsigned i = 0; i < chunks; i++) {
            redisReply *c = cmd(r, "GET ccr:{%s}:snap:%s:%s:%u", t, tok,
                                seq, i);
            if (c->type != REDIS_REPLY_STRING)
                fail_msg("store-peek: snapshot chunk %u missing", i);
            if (journal_replay_apply(jr, (const uint8_t *)c->str,
                                     c->len) < 0)
                fail_msg("store-peek: snapshot chunk %u malformed", i);
            freeReplyObject(c);
        }
        if (strcmp(jid, "0-0"))
            snprintf(after, sizeof(after), "(%s", jid);
    }
    freeReplyObject(s);
    /* every entry held: events from all, state from those after the
     * snapshot's id (the snapshot already holds the earlier ones) */
    unsigned long long ams = 0, aseq = 0;
    if (strcmp(after, "-"))
        sscanf(after + 1, "%llu-%llu", &ams, &aseq);
    char start[80] = "-";
    for (;;) {
        redisReply *x = cmd(r, "XRANGE ccr:{%s}:journal %s + COUNT 1000",
                            t, start);
        for (size_t i = 0; i < x->elements; i++) {
            const redisReply *e = x->element[i];
            const char *id = e->element[0]->str;
            const redisReply *f = e->element[1];
            const char *b = "", *tk = "";
            size_t bl = 0, tl = 0;
            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                if (!strcmp(f->element[k]->str, "b")) {
                    b = f->element[k + 1]->str;
                    bl = f->element[k + 1]->len;
                } else if (!strcmp(f->element[k]->str, "t")) {
                    tk = f->element[k + 1]->str;
                    tl = f->element[k + 1]->len;
                }
            }
            entry_events(p, id, b, bl, tk, tl);
            unsigned long long ms = 0, sq = 0;
            sscanf(id, "%llu-%llu", &ms, &sq);
            bool replay = ms > ams || (ms == ams && sq > aseq);
            if (replay &&
                journal_replay_apply(jr, (const uint8_t *)b, bl) < 0)
                fail_msg("store-peek: journal entry %s malformed", id);
            snprintf(start, sizeof(start), "(%s", id);
        }
        size_t n = x->elements;
        freeReplyObject(x);
        if (n < 1000)
            break;
    }
    static const struct journal_visit v = {
        .outbound = v_outbound, .agent = v_agent, .contact = v_contact,
    };
    size_t skipped = 0;
    struct jctx c = { p, jr };
    if (journal_replay_each(jr, &v, &c, &skipped) < 0)
        fail_msg("store-peek: out of memory");
    p->skipped = skipped;
    journal_replay_free(jr);
}

/* ---- both ---- */

static bool is_journal(redisContext *r, const char *t)
{
    redisReply *x = cmd(r, "EXISTS ccr:{%s}:journal ccr:{%s}:snapshot", t,
                        t);
    bool j = x->type == REDIS_REPLY_INTEGER && x->integer > 0;
    freeReplyObject(x);
    return j;
}

struct peek *peek_read(redisContext *r, const char *tenant)
{
    struct peek *p = xrealloc(NULL, sizeof(*p));
    memset(p, 0, sizeof(*p));
    bool j = is_journal(r, tenant);
    p->layout = j ? 'j' : 'h';
    if (j)
        read_journal(p, r, tenant);
    else
        read_hashes(p, r, tenant);
    return p;
}

static void obj_free(struct peek_obj *o)
{
    for (size_t i = 0; i < o->nf; i++) {
        free(o->name[i]);
        free(o->val[i]);
    }
    free(o->name);
    free(o->val);
    free(o->vlen);
    free(o->id);
}

static void drop_last(struct peek_obj *a, size_t *n)
{
    obj_free(&a[--*n]);
}

void peek_free(struct peek *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nobj; i++)
        obj_free(&p->obj[i]);
    for (size_t i = 0; i < p->nev; i++)
        obj_free(&p->ev[i]);
    free(p->obj);
    free(p->ev);
    free(p);
}

const struct peek_obj *peek_find(const struct peek *p, char kind,
                                 const char *id)
{
    for (size_t i = 0; i < p->nobj; i++)
        if (p->obj[i].kind == kind && !strcmp(p->obj[i].id, id))
            return &p->obj[i];
    return NULL;
}

const char *peek_get(const struct peek_obj *o, const char *name,
                     size_t *len)
{
    if (!o)
        return NULL;
    for (size_t i = 0; i < o->nf; i++)
        if (!strcmp(o->name[i], name)) {
            if (len)
                *len = o->vlen[i];
            return o->val[i];
        }
    return NULL;
}

const struct peek_obj *peek_nth(const struct peek *p, char kind, size_t i)
{
    if (kind == 'e')
        return i < p->nev ? &p->ev[i] : NULL;
    for (size_t k = 0; k < p->nobj; k++)
        if (p->obj[k].kind == kind && i-- == 0)
            return &p->obj[k];
    return NULL;
}

size_t peek_count(const struct peek *p, char kind)
{
    if (kind == 'e')
        return p->nev;
    size_t n = 0;
    for (size_t i = 0; i < p->nobj; i++)
        n += p->obj[i].kind == kind;
    return n;
}

long long peek_n(redisContext *r, const char *tenant, char kind)
{
    struct peek *p = peek_read(r, tenant);
    long long n = (long long)peek_count(p, kind);
    peek_free(p);
    return n;
}

/* A peek that holds (kind, id) if the tenant does: with the per-key
 * layout only that object is read (a test asking about one contact in a
 * loop over hundreds stays linear), with the journal everything. */
static struct peek *read_one(redisContext *r, const char *t, char kind,
                             const char *id)
{
    if (is_journal(r, t))
        return peek_read(r, t);
    struct peek *p = xrealloc(NULL, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->layout = 'h';
    char key[512];
    redisReply *m;
    if (kind == 'a')
        m = cmd(r, "SISMEMBER ccr:{%s}:agents %s", t, id);
    else
        m = cmd(r, "ZSCORE ccr:{%s}:%s %s", t, kind == 'c' ? "contacts"
                                                            : "ob", id);
    bool in = m->type == REDIS_REPLY_STRING ||
              (m->type == REDIS_REPLY_INTEGER && m->integer == 1);
    freeReplyObject(m);
    if (!in)
        return p;
    struct peek_obj *o = add(&p->obj, &p->nobj, &p->capobj, kind, id,
                             strlen(id));
    if (kind == 'o') {
        redisReply *d = cmd(r, "HGET ccr:{%s}:ob:data %s", t, id);
        if (d->type == REDIS_REPLY_STRING)
            set(o, "data", d->str, d->len);
        else
            set(o, "data", "", 0);
        freeReplyObject(d);
        return p;
    }
    snprintf(key, sizeof(key), "ccr:{%s}:%s:%s", t,
             kind == 'c' ? "contact" : "agent", id);
    if (!(kind == 'c' ? hash_into(r, key, c_fields, 9, "arrived", o)
                      : hash_into(r, key, a_fields, 5, "login", o)))
        drop_last(p->obj, &p->nobj);
    return p;
}

bool peek_has(redisContext *r, const char *tenant, char kind,
              const char *id)
{
    struct peek *p = read_one(r, tenant, kind, id);
    bool has = peek_find(p, kind, id) != NULL;
    peek_free(p);
    return has;
}

bool peek_field(redisContext *r, const char *tenant, char kind,
                const char *id, const char *field, char *out, size_t len)
{
    struct peek *p = read_one(r, tenant, kind, id);
    const char *v = peek_get(peek_find(p, kind, id), field, NULL);
    snprintf(out, len, "%s", v ? v : "");
    peek_free(p);
    return v != NULL;
}
