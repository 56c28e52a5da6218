/* simreplay.c -- reading a live engine's event stream for ccsim
 * --replay; see simreplay.h.
 *
 * XRANGE in pages of 10,000 entries (of the events stream, or of the
 * journal, its event ops decoded by engine/journal.c's journal_next);
 * one record per contact in an open-addressing table keyed by its id
 * (FNV-1a), grown at half full; then the records in order of arrival
 * (ties: the order of their first entry in the stream). O(entries)
 * time, O(contacts) memory.
 */
#include "simreplay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "journal.h"

struct crec {
    char id[ROUTER_ID_MAX];
    char queue[ROUTER_ID_MAX];
    uint64_t first_ms, assigned_ms, gone_ms;
    uint64_t order;
    bool used, seen, queued, assigned, gone, abandoned;
};

struct table {
    struct crec *r;
    size_t cap, n;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct crec *lookup(struct table *t, const char *id)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct crec *r = calloc(cap, sizeof(*r));
        if (!r)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->r[i].used)
                continue;
            size_t k = fnv(t->r[i].id) & (cap - 1);
            while (r[k].used)
                k = (k + 1) & (cap - 1);
            r[k] = t->r[i];
        }
        free(t->r);
        t->r = r;
        t->cap = cap;
    }
    size_t k = fnv(id) & (t->cap - 1);
    while (t->r[k].used && strcmp(t->r[k].id, id))
        k = (k + 1) & (t->cap - 1);
    if (!t->r[k].used) {
        t->r[k].used = true;
        snprintf(t->r[k].id, sizeof(t->r[k].id), "%s", id);
        t->r[k].order = t->n++;
    }
    return &t->r[k];
}

static const char *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(f->element[i]->str, name) &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1]->str;
    return NULL;
}

/* One event into the table: its entry's id (for messages) and its
 * fields (NULL: absent). 0, or -1 (malformed: message). */
static int event(struct table *t, const char *id, const char *type,
                 const char *ts, const char *contact, const char *queue,
                 const char *detail, char *err, size_t errlen)
{
    if (!type || !ts) {
        snprintf(err, errlen, "stream entry %s: no type or ts", id);
        return -1;
    }
    if (!contact || !contact[0])
        return 0;   /* an agent's entry */
    if (!strncmp(type, "lead", 4))
        return 0;   /* a campaign lead's (its call's arrival is `queued`) */
    char *end;
    uint64_t ms = strtoull(ts, &end, 10);
    if (end == ts || *end) {
        snprintf(err, errlen, "stream entry %s: ts \"%s\" is not a number",
                 id, ts);
        return -1;
    }
    struct crec *c = lookup(t, contact);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!c->seen) {
        c->seen = true;
        c->first_ms = ms;
    }
    if (!strcmp(type, "queued") && !c->queued) {
        c->queued = true;
        snprintf(c->queue, sizeof(c->queue), "%s", queue ? queue : "");
    } else if (!strcmp(type, "assigned") && !c->assigned) {
        c->assigned = true;
        c->assigned_ms = ms;
    } else if (!strcmp(type, "gone") && !c->gone) {
        c->gone = true;
        c->gone_ms = ms;
        c->abandoned = detail && !strcmp(detail, "abandoned");
    }
    return 0;
}

/* One entry of the events stream. */
static int entry(struct table *t, const redisReply *e, char *err,
                 size_t errlen)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "a stream entry that is not [id, fields]");
        return -1;
    }
    const redisReply *f = e->element[1];
    return event(t, e->element[0]->str, field(f, "type"), field(f, "ts"),
                 field(f, "contact"), field(f, "queue"), field(f, "detail"),
                 err, errlen);
}

/* One journal entry: its event ops (`e`, `E`: type, contact, agent,
 * queue, ts, detail first), as the events stream would have them. The
 * number of events in *nev. */
static int jentry(struct table *t, const redisReply *e, size_t *nev,
                  char *err, size_t errlen)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "a journal entry that is not [id, fields]");
        return -1;
    }
    const char *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    const redisReply *b = NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(f->element[i]->str, "b"))
            b = f->element[i + 1];
    if (!b || b->type != REDIS_REPLY_STRING)
        return 0;
    const uint8_t *p = (const uint8_t *)b->str, *end = p + b->len;
    struct journal_op op;
    int rc;
    while ((rc = journal_next(&p, end, &op)) == 1) {
        if ((op.code != 'e' && op.code != 'E') || op.nf < 6)
            continue;
        char v[6][ROUTER_ID_MAX + 1];
        for (int i = 0; i < 6; i++)
            snprintf(v[i], sizeof(v[i]), "%.*s", (int)op.fl[i],
                     (const char *)op.f[i]);
        (*nev)++;
        if (event(t, id, v[0], v[4], v[1], v[3], v[5], err, errlen) < 0)
            return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "journal entry %s is malformed", id);
        return -1;
    }
    return 0;
}

static int by_arrival(const void *x, const void *y)
{
    const struct crec *a = *(const struct crec *const *)x;
    const struct crec *b = *(const struct crec *const *)y;
    if (a->first_ms != b->first_ms)
        return a->first_ms < b->first_ms ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

int sim_replay_read(const char *host, int port, const char *tenant,
                    struct sim_replay *out, char *err, size_t errlen)
{
    struct table t = { NULL, 0, 0 };
    struct crec **list = NULL;
    redisContext *rc;
    struct timeval tv = { 10, 0 };
    char key[ROUTER_ID_MAX + 32], start[64] = "-";
    int ret = -1;

    memset(out, 0, sizeof(*out));
    rc = redisConnectWithTimeout(host, port, tv);
    if (!rc || rc->err) {
        snprintf(err, errlen, "--replay %s:%d: %s", host, port,
                 rc ? rc->errstr : "out of memory");
        goto done;
    }
    redisSetTimeout(rc, tv);
    /* redis.layout journal (the default) keeps the events in the
     * journal's entries; hashes in the events stream */
    snprintf(key, sizeof(key), "ccr:{%s}:journal", tenant);
    redisReply *x = redisCommand(rc, "EXISTS %s", key);
    bool journal = x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
    freeReplyObject(x);
    if (!journal)
        snprintf(key, sizeof(key), "ccr:{%s}:events", tenant);
    for (;;) {
        redisReply *r = redisCommand(rc, "XRANGE %s %s + COUNT 10000", key,
                                     start);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "--replay %s:%d: XRANGE %s: %s", host,
                     port, key, !r ? rc->errstr : r->type ==
                     REDIS_REPLY_ERROR ? r->str : "not an array");
            freeReplyObject(r);
            goto done;
        }
        for (size_t i = 0; i < r->elements; i++)
            if ((journal ? jentry(&t, r->element[i], &out->entries, err,
                                  errlen)
                         : entry(&t, r->element[i], err, errlen)) < 0) {
                freeReplyObject(r);
                goto done;
            }
        if (!journal)
            out->entries += r->elements;
        size_t n = r->elements;
        if (n)
            snprintf(start, sizeof(start), "(%s",
                     r->element[n - 1]->element[0]->str);
        freeReplyObject(r);
        if (n < 10000)
            break;
    }
    list = malloc((t.n ? t.n : 1) * sizeof(*list));
    out->a = calloc(t.n ? t.n : 1, sizeof(*out->a));
    if (!list || !out->a) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < t.cap; i++) {
        struct crec *c = &t.r[i];
        if (!c->used)
            continue;
        if (!c->queued || !c->queue[0]) {
            out->skills_only += c->queued;
            continue;
        }
        list[n++] = c;
    }
    if (n == 0) {
        snprintf(err, errlen, "--replay %s:%d: %s has no contact with a "
                 "queue (%zu entries)", host, port, key, out->entries);
        goto done;
    }
    qsort(list, n, sizeof(*list), by_arrival);
    out->t0_ms = list[0]->first_ms;
    for (size_t i = 0; i < n; i++) {
        const struct crec *c = list[i];
        struct sim_arrival *a = &out->a[i];
        a->t_us = (c->first_ms - out->t0_ms) * 1000;
        snprintf(a->queue, sizeof(a->queue), "%s", c->queue);
        a->handle_ms = c->assigned && c->gone && !c->abandoned &&
                               c->gone_ms >= c->assigned_ms
                           ? (double)(c->gone_ms - c->assigned_ms) : -1;
        a->patience_ms = c->gone && c->abandoned && c->gone_ms >=
                                 c->first_ms
                             ? (double)(c->gone_ms - c->first_ms) : -1;
        out->answered += c->assigned;
        out->abandoned += c->gone && c->abandoned && !c->assigned;
    }
    out->n = n;
    out->span_s = (double)(list[n - 1]->first_ms - out->t0_ms) / 1000;
    ret = 0;
done:
    if (ret < 0)
        sim_replay_free(out);
    if (rc)
        redisFree(rc);
    free(list);
    free(t.r);
    return ret;
}

void sim_replay_free(struct sim_replay *r)
{
    free(r->a);
    memset(r, 0, sizeof(*r));
}
