/* care.c -- dispositions, their counts and the emotional-load rules; see
 * care.h and docs/care.md.
 *
 * Counts. A *scope* is the whole tenant, an agent group, a configured
 * queue or a product (the first CARE_PRODUCTS_MAX seen at arrival, named
 * in a small table searched linearly). Each holds, for the interval and the day it last counted in,
 * one counter per configured code, and a bounded open-addressing table
 * of tags (linear probing; a full table drops the tag and counts it in
 * `untracked`). A scope rolls over lazily when it counts in a later
 * interval or day: interval counters are zeroed; at a new day today's
 * tag counts become yesterday's (only when the days are consecutive) and
 * the table is rebuilt with the tags that still have a count, so that
 * yesterday's rare tags make room. Readers never roll: they read a count
 * of another interval or day as 0 (or as yesterday's), so statistics stay
 * correct for a scope that has not counted for a while. All of it is a
 * bounded number of steps per completion, and nothing allocates.
 *
 * Routine-only modes, like pauses, are kept in a dense list of agent
 * handles scanned for the next deadline.
 *
 * Load. Per agent slot: a ring of the last CARE_RING difficult
 * completions (monotonic us), the rolling occupancy in CARE_OCC_BUCKETS
 * slices of the group's window (handle time attributed to the slice in
 * which the contact completed), and the pause in progress. Pauses are
 * kept in a dense list of agent handles (an agent is in it at most once),
 * scanned for the next deadline: it holds only agents pausing now.
 */
#include "care.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define DAY_MS 86400000ull

struct tag_slot {
    char tag[CARE_WORD_MAX];      /* "" = free */
    uint32_t interval, today, yesterday;
};

struct scope {
    uint64_t ino, dno;            /* interval and day of the counts */
    uint32_t code_interval[CARE_CODES_MAX];
    uint32_t code_today[CARE_CODES_MAX];
    uint32_t difficult_today, completed_today;
    uint32_t pauses_today, extended_today;
    uint32_t yields_today, routine_today;
    struct tag_slot *tags;        /* into care.tagmem */
    uint32_t nslots;
};

struct cagent {
    char id[ROUTER_ID_MAX];       /* "" = never used */
    int16_t group;                /* -1: none */
    uint8_t head, n;              /* ring of difficult completions */
    uint64_t ring[CARE_RING];
    uint64_t occ_no[CARE_OCC_BUCKETS];    /* slice number of each bucket */
    uint32_t occ_ms[CARE_OCC_BUCKETS];
    uint64_t pause_until;         /* 0: none */
    uint64_t paused_at;           /* the last recovery pause began: only
                                     later difficult contacts count toward
                                     the next one */
    uint8_t pause;                /* enum care_action */
    uint64_t routine_until;       /* routine-only mode ends; 0: none */
    uint64_t routine_at;          /* the last routine mode began: only
                                     later difficult contacts count toward
                                     the next one */
};

struct ccontact {
    uint64_t assigned_at;         /* 0: not assigned (or unknown) */
    int16_t queue1;               /* configured queue + 1; 0: none (so
                                     that zeroed memory is a valid state
                                     and calloc'd pages stay untouched) */
    uint8_t difficult;
    uint8_t product1;             /* product + 1; 0: none or untracked */
    uint8_t product_lost;         /* a product the table had no room for */
};

struct care {
    const struct care_config *cfg;
    unsigned nqueues;
    int16_t *qlist;               /* per configured queue: list or -1 */
    struct scope *scopes;         /* 1 + ngroups + nqueues */
    unsigned nscopes;
    struct tag_slot *tagmem;
    struct cagent *agents;
    uint32_t nagents;
    struct ccontact *contacts;
    uint32_t ncontacts;
    uint32_t *paused;             /* agent handles with a pause */
    uint32_t npaused;
    uint32_t *routine;            /* agent handles in routine-only mode */
    uint32_t nroutine;
    char (*products)[ROUTER_ID_MAX];  /* CARE_PRODUCTS_MAX names */
    unsigned nproducts;
    uint64_t products_untracked;
    uint64_t untracked;
};

void care_config_defaults(struct care_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->interval_ms = 15 * 60 * 1000;
    cfg->max_tags = 8;
    cfg->top_tags = 10;
    cfg->difficult_sentiment = -50;
}

int care_config_code(const struct care_config *cfg, const char *code)
{
    for (unsigned i = 0; i < cfg->ncodes; i++)
        if (!strcmp(cfg->codes[i], code))
            return (int)i;
    return -1;
}

/* ---- life ---- */

struct care *care_new(const struct care_config *cfg,
                      const struct router_config *rc)
{
    struct care *c = calloc(1, sizeof(*c));
    size_t ntag = 0;
    int star = -1;
    if (!c)
        return NULL;
    c->cfg = cfg;
    c->nqueues = rc->nqueues;
    c->nscopes = 1 + cfg->ngroups + rc->nqueues + CARE_PRODUCTS_MAX;
    c->nagents = rc->max_agents ? rc->max_agents : 10000;
    c->ncontacts = rc->max_contacts ? rc->max_contacts : 100000;
    ntag = CARE_TAGS_TOTAL + (size_t)cfg->ngroups * CARE_TAGS_GROUP +
           ((size_t)rc->nqueues + CARE_PRODUCTS_MAX) * CARE_TAGS_QUEUE;
    c->qlist = calloc(rc->nqueues ? rc->nqueues : 1, sizeof(*c->qlist));
    c->scopes = calloc(c->nscopes, sizeof(*c->scopes));
    c->tagmem = calloc(ntag, sizeof(*c->tagmem));
    c->agents = calloc(c->nagents, sizeof(*c->agents));
    c->contacts = calloc(c->ncontacts, sizeof(*c->contacts));
    c->paused = calloc(c->nagents, sizeof(*c->paused));
    c->routine = calloc(c->nagents, sizeof(*c->routine));
    c->products = calloc(CARE_PRODUCTS_MAX, sizeof(*c->products));
    if (!c->qlist || !c->scopes || !c->tagmem || !c->agents ||
        !c->contacts || !c->paused || !c->routine || !c->products) {
        care_free(c);
        return NULL;
    }
    for (unsigned l = 0; l < cfg->nlists; l++)
        if (!strcmp(cfg->lists[l].queue, "*"))
            star = (int)l;
    for (unsigned q = 0; q < rc->nqueues; q++) {
        c->qlist[q] = (int16_t)star;
        for (unsigned l = 0; l < cfg->nlists; l++)
            if (!strcmp(cfg->lists[l].queue, rc->queues[q].name))
                c->qlist[q] = (int16_t)l;
    }
    ntag = 0;
    for (unsigned s = 0; s < c->nscopes; s++) {
        uint32_t n = s == 0 ? CARE_TAGS_TOTAL
                     : s <= cfg->ngroups ? CARE_TAGS_GROUP : CARE_TAGS_QUEUE;
        c->scopes[s].tags = c->tagmem + ntag;
        c->scopes[s].nslots = n;
        ntag += n;
    }
    return c;
}

int care_queues_moved(struct care *c, const struct router_config *rc,
                      const int *old_of_new)
{
    unsigned n = rc->nqueues, g = c->cfg->ngroups, ns = 1 + g + n;
    size_t ntag = CARE_TAGS_TOTAL + (size_t)g * CARE_TAGS_GROUP +
                  (size_t)n * CARE_TAGS_QUEUE, off = 0;
    int16_t *ql = calloc(n ? n : 1, sizeof(*ql));
    struct scope *sc = calloc(ns, sizeof(*sc));
    struct tag_slot *tm = calloc(ntag, sizeof(*tm));
    int16_t *q1 = calloc(c->nqueues + 1, sizeof(*q1)); /* old +1 -> new +1 */
    int star = -1;
    if (!ql || !sc || !tm || !q1) {
        free(ql);
        free(sc);
        free(tm);
        free(q1);
        return CCR_ENOMEM;
    }
    for (unsigned l = 0; l < c->cfg->nlists; l++)
        if (!strcmp(c->cfg->lists[l].queue, "*"))
            star = (int)l;
    for (unsigned q = 0; q < n; q++) {       /* as care_new() */
        ql[q] = (int16_t)star;
        for (unsigned l = 0; l < c->cfg->nlists; l++)
            if (!strcmp(c->cfg->lists[l].queue, rc->queues[q].name))
                ql[q] = (int16_t)l;
        if (old_of_new[q] >= 0 && (unsigned)old_of_new[q] < c->nqueues)
            q1[old_of_new[q] + 1] = (int16_t)(q + 1);
    }
    for (unsigned s = 0; s < ns; s++) {
        uint32_t slots = s == 0 ? CARE_TAGS_TOTAL
                         : s <= g ? CARE_TAGS_GROUP : CARE_TAGS_QUEUE;
        int from = (int)s;
        if (s > g)
            from = old_of_new[s - 1 - g] >= 0 &&
                   (unsigned)old_of_new[s - 1 - g] < c->nqueues
                       ? (int)(1 + g + (unsigned)old_of_new[s - 1 - g]) : -1;
        if (from >= 0) {
            sc[s] = c->scopes[from];
            memcpy(tm + off, c->scopes[from].tags, slots * sizeof(*tm));
        }
        sc[s].tags = tm + off;
        sc[s].nslots = slots;
        off += slots;
    }
    for (uint32_t i = 0; i < c->ncontacts; i++)
        if (c->contacts[i].queue1 > 0 &&
            (unsigned)c->contacts[i].queue1 <= c->nqueues)
            c->contacts[i].queue1 = q1[c->contacts[i].queue1];
    free(q1);
    free(c->qlist);
    free(c->scopes);
    free(c->tagmem);
    c->qlist = ql;
    c->scopes = sc;
    c->tagmem = tm;
    c->nqueues = n;
    c->nscopes = ns;
    return 0;
}

void care_free(struct care *c)
{
    if (!c)
        return;
    free(c->qlist);
    free(c->scopes);
    free(c->tagmem);
    free(c->agents);
    free(c->contacts);
    free(c->paused);
    free(c->routine);
    free(c->products);
    free(c);
}

void care_forget(struct care *c)
{
    memset(c->agents, 0, (size_t)c->nagents * sizeof(*c->agents));
    memset(c->contacts, 0, (size_t)c->ncontacts * sizeof(*c->contacts));
    c->npaused = 0;
    c->nroutine = 0;
}

/* ---- checks ---- */

static const struct care_list *queue_list(const struct care *c, int queue)
{
    if (queue < 0 || (unsigned)queue >= c->nqueues || c->qlist[queue] < 0)
        return NULL;
    return &c->cfg->lists[c->qlist[queue]];
}

/* Index of global code `code` in list l, or -1. */
static int list_pos(const struct care_list *l, int code)
{
    for (unsigned i = 0; l && i < l->ncodes; i++)
        if (l->code[i] == code)
            return (int)i;
    return -1;
}

const struct care_list *care_followup(const struct care *c, int queue,
                                      int code)
{
    const struct care_list *l = queue_list(c, queue);
    int k = code >= 0 ? list_pos(l, code) : -1;
    return k >= 0 && (l->followup >> k & 1) ? l : NULL;
}

int care_check(const struct care *c, int queue, const char *code,
               const char *const *tags, size_t ntags, const char *note,
               int *code_id, char *why, size_t whylen)
{
    const struct care_list *l = queue_list(c, queue);
    *code_id = -1;
    /* tags and note first: an error with an empty code is then only the
     * missing required code (dispatch answers MISSING_FIELD for it) */
    if (ntags > c->cfg->max_tags) {
        snprintf(why, whylen, "%zu tags; at most %u (care.max_tags)", ntags,
                 c->cfg->max_tags);
        return CCR_EINVAL;
    }
    for (size_t i = 0; i < ntags; i++) {
        size_t n = tags[i] ? strlen(tags[i]) : 0;
        if (n == 0 || n >= CARE_WORD_MAX) {
            snprintf(why, whylen, "tags[%zu] must have 1 to %d bytes", i,
                     CARE_WORD_MAX - 1);
            return CCR_EINVAL;
        }
        if (strchr(tags[i], ',')) {
            snprintf(why, whylen, "tags[%zu] holds a comma (the event "
                     "stream separates tags with commas)", i);
            return CCR_EINVAL;
        }
    }
    if (note && strlen(note) >= CARE_NOTE_MAX) {
        snprintf(why, whylen, "note_ref has more than %d bytes",
                 CARE_NOTE_MAX - 1);
        return CCR_EINVAL;
    }
    if (code && *code) {
        int g = care_config_code(c->cfg, code);
        if (!l) {
            snprintf(why, whylen, "disposition \"%.31s\": the contact's "
                     "queue has no disposition codes (care.dispositions)",
                     code);
            return CCR_EINVAL;
        }
        if (g < 0 || list_pos(l, g) < 0) {
            snprintf(why, whylen, "disposition \"%.31s\" is not a code of "
                     "queue \"%s\"", code, l->queue);
            return CCR_EINVAL;
        }
        *code_id = g;
    } else if (l && l->required) {
        snprintf(why, whylen, "queue \"%s\" requires a disposition",
                 l->queue);
        return CCR_EINVAL;
    }
    return 0;
}

/* ---- contacts ---- */

bool care_difficult_arrival(const struct care *c, bool complaint,
                            int32_t sentiment)
{
    return complaint || (sentiment < 0 &&
                         sentiment <= c->cfg->difficult_sentiment);
}

void care_contact_arrived(struct care *c, uint32_t contact, int queue,
                          bool difficult)
{
    if (contact >= c->ncontacts)
        return;
    c->contacts[contact] = (struct ccontact){
        .queue1 = (int16_t)(queue >= 0 && (unsigned)queue < c->nqueues
                                ? queue + 1 : 0),
        .difficult = difficult,
    };
}

void care_contact_product(struct care *c, uint32_t contact,
                          const char *product)
{
    unsigned p;
    if (contact >= c->ncontacts || !product || !*product ||
        strnlen(product, ROUTER_ID_MAX) >= ROUTER_ID_MAX)
        return;
    for (p = 0; p < c->nproducts; p++)
        if (!strcmp(c->products[p], product))
            break;
    if (p == c->nproducts) {
        if (p == CARE_PRODUCTS_MAX) {
            /* counted at the completion, where it would have counted */
            c->contacts[contact].product1 = 0;
            c->contacts[contact].product_lost = 1;
            return;
        }
        snprintf(c->products[p], ROUTER_ID_MAX, "%s", product);
        c->nproducts++;
    }
    c->contacts[contact].product1 = (uint8_t)(p + 1);
}

int care_contact_queue(const struct care *c, uint32_t contact)
{
    return contact < c->ncontacts ? c->contacts[contact].queue1 - 1 : -1;
}

void care_contact_assigned(struct care *c, uint32_t contact, uint64_t now_us)
{
    if (contact < c->ncontacts)
        c->contacts[contact].assigned_at = now_us ? now_us : 1;
}

/* ---- counting ---- */

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;       /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot of `tag` in scope k, or the free slot where it goes; NULL when
 * it is absent and the table is full. */
static struct tag_slot *tag_find(const struct scope *k, const char *tag)
{
    uint32_t i = hash(tag) % k->nslots;
    for (uint32_t n = 0; n < k->nslots; n++, i = (i + 1) % k->nslots) {
        struct tag_slot *t = &k->tags[i];
        if (!t->tag[0] || !strcmp(t->tag, tag))
            return t;
    }
    return NULL;
}

static void roll(struct scope *k, uint64_t ino, uint64_t dno)
{
    if (k->dno != dno) {
        /* keep the tags of the day before (as yesterday's), drop the
         * rest: rebuilt in place through a copy of the survivors */
        struct tag_slot keep[CARE_TAGS_TOTAL];
        uint32_t nk = 0;
        bool next = k->dno + 1 == dno;
        for (uint32_t i = 0; next && i < k->nslots; i++)
            if (k->tags[i].tag[0] && k->tags[i].today) {
                keep[nk] = (struct tag_slot){ .yesterday = k->tags[i].today };
                memcpy(keep[nk].tag, k->tags[i].tag, CARE_WORD_MAX);
                nk++;
            }
        memset(k->tags, 0, k->nslots * sizeof(*k->tags));
        for (uint32_t i = 0; i < nk; i++)
            *tag_find(k, keep[i].tag) = keep[i];
        memset(k->code_today, 0, sizeof(k->code_today));
        k->difficult_today = k->completed_today = 0;
        k->pauses_today = k->extended_today = k->yields_today = 0;
        k->routine_today = 0;
        k->dno = dno;
    }
    if (k->ino != ino) {
        memset(k->code_interval, 0, sizeof(k->code_interval));
        for (uint32_t i = 0; i < k->nslots; i++)
            k->tags[i].interval = 0;
        k->ino = ino;
    }
}

static void count(struct care *c, struct scope *k, int code,
                  const char *const *tags, size_t ntags, bool difficult)
{
    if (code >= 0) {
        k->code_interval[code]++;
        k->code_today[code]++;
    }
    for (size_t i = 0; i < ntags; i++) {
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= !strcmp(tags[i], tags[j]);
        if (dup)
            continue;           /* a tag counts once per contact */
        struct tag_slot *t = tag_find(k, tags[i]);
        if (!t) {
            c->untracked++;
            continue;
        }
        if (!t->tag[0])
            snprintf(t->tag, sizeof(t->tag), "%s", tags[i]);
        t->interval++;
        t->today++;
    }
    k->completed_today++;
    k->difficult_today += difficult;
}

/* ---- agents ---- */

static int group_of(const struct care_config *cfg, const char *id)
{
    for (unsigned g = 0; g < cfg->ngroups; g++)
        for (unsigned p = 0; p < cfg->groups[g].nagents; p++) {
            const char *pat = cfg->groups[g].agents[p];
            size_t n = strlen(pat);
            if (n && pat[n - 1] == '*' ? !strncmp(pat, id, n - 1)
                                       : !strcmp(pat, id))
                return (int)g;
        }
    return -1;
}

/* Forgets agent h's routine-only mode (the list and the slot). */
static void routine_drop(struct care *c, uint32_t h)
{
    if (h >= c->nagents || !c->agents[h].routine_until)
        return;
    c->agents[h].routine_until = 0;
    for (uint32_t i = 0; i < c->nroutine; i++)
        if (c->routine[i] == h) {
            c->routine[i] = c->routine[--c->nroutine];
            break;
        }
}

/* The slot of agent `h` for id `id`, reset when it held another agent. */
static struct cagent *agent_slot(struct care *c, uint32_t h, const char *id)
{
    struct cagent *a;
    if (h >= c->nagents || !id)
        return NULL;
    a = &c->agents[h];
    if (strcmp(a->id, id) != 0) {
        care_pause_cancel(c, h);
        routine_drop(c, h);
        memset(a, 0, sizeof(*a));
        snprintf(a->id, sizeof(a->id), "%s", id);
        a->group = (int16_t)group_of(c->cfg, id);
    }
    return a;
}

/* Difficult completions within `within_ms`, after `since`. */
static unsigned recent_in(const struct cagent *a, uint32_t within_ms,
                          uint64_t now_us, uint64_t since)
{
    unsigned n = 0;
    uint64_t w = (uint64_t)within_ms * 1000;
    for (unsigned i = 0; i < a->n; i++) {
        uint64_t t = a->ring[(a->head + CARE_RING - 1 - i) % CARE_RING];
        if (now_us - t < w && t > since)
            n++;
    }
    return n;
}

/* Difficult completions within the group's recovery window. */
static unsigned recent(const struct cagent *a, const struct care_group *g,
                       uint64_t now_us, uint64_t since)
{
    return recent_in(a, g->recovery_within_ms, now_us, since);
}

static uint64_t slice_us(const struct care_group *g)
{
    uint64_t s = (uint64_t)g->occupancy_window_ms * 1000 / CARE_OCC_BUCKETS;
    return s ? s : 1;
}

/* Handle time completed in the window / the window, 0..1 (may exceed 1
 * for an agent of several channels). */
static double occupancy(const struct cagent *a, const struct care_group *g,
                        uint64_t now_us)
{
    uint64_t cur = now_us / slice_us(g), ms = 0;
    if (!g->occupancy_window_ms)
        return 0;
    for (unsigned i = 0; i < CARE_OCC_BUCKETS; i++)
        if (a->occ_no[i] + CARE_OCC_BUCKETS > cur && a->occ_no[i] <= cur)
            ms += a->occ_ms[i];
    return (double)ms / g->occupancy_window_ms;
}

static void pause_start(struct care *c, uint32_t h, struct cagent *a,
                        enum care_action kind, uint64_t until)
{
    if (!a->pause_until)
        c->paused[c->npaused++] = h;
    a->pause_until = until ? until : 1;
    a->pause = (uint8_t)kind;
}

void care_pause_cancel(struct care *c, uint32_t agent)
{
    if (agent >= c->nagents || !c->agents[agent].pause_until)
        return;
    c->agents[agent].pause_until = 0;
    c->agents[agent].pause = CARE_NONE;
    for (uint32_t i = 0; i < c->npaused; i++)
        if (c->paused[i] == agent) {
            c->paused[i] = c->paused[--c->npaused];
            break;
        }
}

void care_pause_restore(struct care *c, uint32_t agent, const char *id,
                        const char *reason, uint64_t now_us)
{
    struct cagent *a = agent_slot(c, agent, id);
    const struct care_group *g;
    bool rec = reason && !strcmp(reason, CARE_REASON_RECOVERY);
    if (!a || a->group < 0 || !reason ||
        (!rec && strcmp(reason, CARE_REASON_WRAPUP) != 0))
        return;
    g = &c->cfg->groups[a->group];
    pause_start(c, agent, a, rec ? CARE_RECOVERY : CARE_WRAPUP_EXTENDED,
                now_us + (uint64_t)(rec ? g->recovery_pause_ms
                                        : g->wrapup_extend_ms) * 1000);
}

bool care_completion_difficult(const struct care *c,
                               const struct care_completion *e)
{
    const struct care_list *l = queue_list(c, e->queue);
    int pos = list_pos(l, e->code);
    return e->difficult ||
           (e->contact < c->ncontacts && c->contacts[e->contact].difficult) ||
           (pos >= 0 && ((l->difficult >> pos) & 1));
}

bool care_sl_yields(const struct care_group *g,
                    const struct care_completion *e)
{
    return g->sl_yield && e->sl_target && e->waiting &&
           e->sl_level * 100.0 + (double)g->sl_margin < (double)e->sl_target;
}

enum care_action care_contact_completed(struct care *c,
                                        const struct care_completion *e,
                                        uint64_t now_us, uint64_t wall_ms,
                                        uint32_t *pause_ms)
{
    uint64_t ino = wall_ms / c->cfg->interval_ms, dno = wall_ms / DAY_MS;
    struct ccontact *ct = e->contact < c->ncontacts
                              ? &c->contacts[e->contact] : NULL;
    struct cagent *a = e->agent_id ? agent_slot(c, e->agent, e->agent_id)
                                   : NULL;
    const struct care_group *g = a && a->group >= 0
                                     ? &c->cfg->groups[a->group] : NULL;
    bool difficult = care_completion_difficult(c, e);
    enum care_action act = CARE_NONE;

    *pause_ms = 0;
    struct scope *ks[4] = {
        &c->scopes[0],
        g ? &c->scopes[1 + a->group] : NULL,
        e->queue >= 0 && (unsigned)e->queue < c->nqueues
            ? &c->scopes[1 + c->cfg->ngroups + e->queue] : NULL,
        ct && ct->product1
            ? &c->scopes[1 + c->cfg->ngroups + c->nqueues + ct->product1 - 1]
            : NULL,
    };
    if (ct && ct->product_lost)
        c->products_untracked++;
    for (int i = 0; i < 4; i++)
        if (ks[i]) {
            roll(ks[i], ino, dno);
            count(c, ks[i], e->code, e->tags, e->ntags, difficult);
        }
    if (!a)
        goto out;
    if (difficult) {
        a->ring[a->head] = now_us;
        a->head = (uint8_t)((a->head + 1) % CARE_RING);
        if (a->n < CARE_RING)
            a->n++;
    }
    if (ct && ct->assigned_at && g && g->occupancy_window_ms) {
        uint64_t no = now_us / slice_us(g);
        unsigned b = (unsigned)(no % CARE_OCC_BUCKETS);
        if (a->occ_no[b] != no) {
            a->occ_no[b] = no;
            a->occ_ms[b] = 0;
        }
        a->occ_ms[b] += (uint32_t)((now_us - ct->assigned_at) / 1000);
    }
    if (!g)
        goto out;
    if (difficult && g->recovery_after &&
        recent(a, g, now_us, a->paused_at) >= g->recovery_after) {
        act = CARE_RECOVERY;
    } else if (g->occupancy_cap &&
               occupancy(a, g, now_us) * 100 > g->occupancy_cap) {
        act = CARE_WRAPUP_EXTENDED;
    }
    if (act != CARE_NONE && care_sl_yields(g, e)) {
        /* the queue's callers come first; a recovery is not spent: the
         * next difficult completion asks again */
        ks[1]->yields_today++;
        if (ks[2])
            ks[2]->yields_today++;
        act = CARE_NONE;
    } else if (act == CARE_RECOVERY) {
        *pause_ms = g->recovery_pause_ms;
        a->paused_at = now_us;  /* the next pause needs N new ones */
        ks[1]->pauses_today++;
    } else if (act == CARE_WRAPUP_EXTENDED) {
        *pause_ms = e->wrapup_ms + g->wrapup_extend_ms;
        ks[1]->extended_today++;
    }
    if (act != CARE_NONE)
        pause_start(c, e->agent, a, act, now_us + (uint64_t)*pause_ms * 1000);
out:
    if (ct)
        memset(ct, 0, sizeof(*ct));
    return act;
}

uint64_t care_next_deadline(const struct care *c)
{
    uint64_t due = UINT64_MAX;
    for (uint32_t i = 0; i < c->npaused; i++) {
        uint64_t t = c->agents[c->paused[i]].pause_until;
        if (t < due)
            due = t;
    }
    for (uint32_t i = 0; i < c->nroutine; i++) {
        uint64_t t = c->agents[c->routine[i]].routine_until;
        if (t < due)
            due = t;
    }
    return due;
}

bool care_routine_begin(struct care *c, const struct care_completion *e,
                        uint64_t now_us, uint64_t wall_ms)
{
    struct cagent *a = e->agent_id ? agent_slot(c, e->agent, e->agent_id)
                                   : NULL;
    const struct care_group *g = a && a->group >= 0
                                     ? &c->cfg->groups[a->group] : NULL;
    uint64_t ino = wall_ms / c->cfg->interval_ms, dno = wall_ms / DAY_MS;
    struct scope *kg, *kq;
    if (!g || !g->routine_after || a->routine_until ||
        !care_completion_difficult(c, e) ||
        recent_in(a, g->routine_within_ms, now_us, a->routine_at) + 1 <
            g->routine_after)
        return false;
    kg = &c->scopes[1 + a->group];
    kq = e->queue >= 0 && (unsigned)e->queue < c->nqueues
             ? &c->scopes[1 + c->cfg->ngroups + e->queue] : NULL;
    roll(kg, ino, dno);
    if (kq)
        roll(kq, ino, dno);
    if (care_sl_yields(g, e)) {
        kg->yields_today++;
        if (kq)
            kq->yields_today++;
        return false;
    }
    a->routine_until = now_us + (uint64_t)g->routine_for_ms * 1000;
    a->routine_at = now_us;
    c->routine[c->nroutine++] = e->agent;
    kg->routine_today++;
    return true;
}

void care_routine_cancel(struct care *c, uint32_t agent)
{
    routine_drop(c, agent);
}

uint32_t care_routine_pop(struct care *c, uint64_t now_us)
{
    for (uint32_t i = 0; i < c->nroutine; i++) {
        uint32_t h = c->routine[i];
        if (c->agents[h].routine_until > now_us)
            continue;
        routine_drop(c, h);
        return h;
    }
    return UINT32_MAX;
}

uint32_t care_agent_shift_ms(const struct care *c, uint32_t agent,
                             const char *id, uint64_t now_us, bool difficult)
{
    const struct cagent *a;
    const struct care_group *g;
    int gi = id ? group_of(c->cfg, id) : -1;
    unsigned n = difficult;
    if (gi < 0 || !c->cfg->groups[gi].spread_weight_ms)
        return 0;
    g = &c->cfg->groups[gi];
    a = agent < c->nagents ? &c->agents[agent] : NULL;
    if (a && !strcmp(a->id, id))
        n += recent_in(a, g->spread_within_ms, now_us, 0);
    return (uint32_t)n * g->spread_weight_ms;
}

uint32_t care_pause_pop(struct care *c, uint64_t now_us, const char **reason)
{
    for (uint32_t i = 0; i < c->npaused; i++) {
        uint32_t h = c->paused[i];
        struct cagent *a = &c->agents[h];
        if (a->pause_until > now_us)
            continue;
        *reason = a->pause == CARE_RECOVERY ? CARE_REASON_RECOVERY
                                            : CARE_REASON_WRAPUP;
        care_pause_cancel(c, h);
        return h;
    }
    return UINT32_MAX;
}

/* ---- reading ---- */

int care_scope_group(const struct care *c, unsigned group)
{
    return group < c->cfg->ngroups ? (int)(1 + group) : -1;
}

int care_scope_queue(const struct care *c, int queue)
{
    return queue >= 0 && (unsigned)queue < c->nqueues
               ? (int)(1 + c->cfg->ngroups + (unsigned)queue) : -1;
}

int care_scope_product(const struct care *c, unsigned product)
{
    return product < c->nproducts
               ? (int)(1 + c->cfg->ngroups + c->nqueues + product) : -1;
}

unsigned care_product_count(const struct care *c)
{
    return c->nproducts;
}

const char *care_product_name(const struct care *c, unsigned product)
{
    return product < c->nproducts ? c->products[product] : NULL;
}

uint64_t care_products_untracked(const struct care *c)
{
    return c->products_untracked;
}

unsigned care_group_count(const struct care *c)
{
    return c->cfg->ngroups;
}

const char *care_group_name(const struct care *c, unsigned group)
{
    return group < c->cfg->ngroups ? c->cfg->groups[group].name : NULL;
}

unsigned care_code_count(const struct care *c)
{
    return c->cfg->ncodes;
}

const char *care_code_name(const struct care *c, unsigned code)
{
    return code < c->cfg->ncodes ? c->cfg->codes[code] : NULL;
}

void care_scope_view(const struct care *c, int scope, uint64_t wall_ms,
                     struct care_scope_view *out)
{
    memset(out, 0, sizeof(*out));
    if (scope < 0 || (unsigned)scope >= c->nscopes)
        return;
    const struct scope *k = &c->scopes[scope];
    if (k->dno != wall_ms / DAY_MS)
        return;
    out->difficult_today = k->difficult_today;
    out->completed_today = k->completed_today;
    out->pauses_today = k->pauses_today;
    out->extended_today = k->extended_today;
    out->yields_today = k->yields_today;
    out->routine_today = k->routine_today;
}

bool care_scope_code(const struct care *c, int scope, unsigned code,
                     uint64_t wall_ms, uint64_t *interval, uint64_t *today)
{
    *interval = *today = 0;
    if (scope < 0 || (unsigned)scope >= c->nscopes || code >= c->cfg->ncodes)
        return false;
    if ((unsigned)scope > c->cfg->ngroups &&
        (unsigned)scope <= c->cfg->ngroups + c->nqueues &&
        list_pos(queue_list(c, scope - 1 - (int)c->cfg->ngroups),
                 (int)code) < 0)
        return false;
    const struct scope *k = &c->scopes[scope];
    if (k->dno == wall_ms / DAY_MS)
        *today = k->code_today[code];
    if (k->ino == wall_ms / c->cfg->interval_ms)
        *interval = k->code_interval[code];
    return true;
}

/* Whether x ranks before y in a top list. */
static bool tag_before(const struct care_tag_count *x,
                       const struct care_tag_count *y)
{
    if (x->today != y->today)
        return x->today > y->today;
    if (x->yesterday != y->yesterday)
        return x->yesterday > y->yesterday;
    return strcmp(x->tag, y->tag) < 0;
}

size_t care_top_tags(const struct care *c, int scope, uint64_t wall_ms,
                     struct care_tag_count *out, size_t max)
{
    size_t n = 0;
    uint64_t dno = wall_ms / DAY_MS, ino = wall_ms / c->cfg->interval_ms;
    if (max > c->cfg->top_tags)
        max = c->cfg->top_tags;
    if (scope < 0 || (unsigned)scope >= c->nscopes || !max)
        return 0;
    const struct scope *k = &c->scopes[scope];
    for (uint32_t i = 0; i < k->nslots; i++) {
        const struct tag_slot *t = &k->tags[i];
        struct care_tag_count x = {0};
        if (!t->tag[0])
            continue;
        memcpy(x.tag, t->tag, sizeof(x.tag));
        if (k->dno == dno) {
            x.today = t->today;
            x.yesterday = t->yesterday;
            x.interval = k->ino == ino ? t->interval : 0;
        } else if (k->dno + 1 == dno) {
            x.yesterday = t->today;
        }
        if (!x.today && !x.yesterday)
            continue;
        x.rising = x.today >= CARE_RISING_MIN && x.today > x.yesterday;
        /* insertion into the sorted top list */
        size_t j;
        if (n < max) {
            j = n++;
        } else if (tag_before(&x, &out[max - 1])) {
            j = max - 1;
        } else {
            continue;
        }
        while (j > 0 && tag_before(&x, &out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    return n;
}

uint64_t care_tags_untracked(const struct care *c)
{
    return c->untracked;
}

uint64_t care_interval_start_ms(const struct care *c, uint64_t wall_ms)
{
    return wall_ms - wall_ms % c->cfg->interval_ms;
}

void care_agent_view(const struct care *c, uint32_t agent, const char *id,
                     uint64_t now_us, struct care_agent_view *out)
{
    const struct cagent *a;
    memset(out, 0, sizeof(*out));
    out->group = id ? group_of(c->cfg, id) : -1;
    if (agent >= c->nagents || !id || strcmp(c->agents[agent].id, id) != 0)
        return;
    a = &c->agents[agent];
    if (a->pause_until > now_us)
        out->pause_left_ms = (uint32_t)((a->pause_until - now_us) / 1000);
    if (a->routine_until > now_us)
        out->routine_left_ms = (uint32_t)((a->routine_until - now_us) / 1000);
    if (a->group < 0)
        return;
    const struct care_group *g = &c->cfg->groups[a->group];
    if (g->recovery_within_ms)
        out->difficult_recent = recent(a, g, now_us, 0);
    out->occupancy = occupancy(a, g, now_us);
}
