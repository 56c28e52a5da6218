/* router-check.c -- router_check(): every invariant of the routing core,
 * checked by walking every structure (O(everything)). The tests call it
 * after each event; the engine never does.
 *
 * What it checks, and why each matters:
 *  - queues: the waiting fifo holds exactly the waiting contacts of the
 *    queue (and its derived queues) in arrival order; the level masks and
 *    cached first nodes agree with the trees; every treap is a heap and a
 *    search tree with exact sizes and weight sums;
 *  - pools: a valid ring record, heap record or treap entry belongs to
 *    an agent that can take the channel now, with the key it would get
 *    now, once per pool, and the pool counters count exactly the valid
 *    ones (lazy membership, see router.c); rings are in key order, heaps
 *    in heap order, weighted pools in uid order with exact weights and
 *    Fenwick sums;
 *  - agents: the work list matches the busy counters, never over
 *    capacity; wrap-up iff a wrap-up timer; logged-out agents only while
 *    they finish contacts;
 *  - contacts: every live contact has exactly the timer its state asks
 *    for, is reachable from the index its state says, and is counted
 *    waiting iff queued or offered;
 *  - the timer heap is in order; every timer fifo is linked both ways,
 *    holds only live contacts that name it, in strict (due, seq) order
 *    (so that it can stand in the heap for all of them), and its heap
 *    node is keyed like its head iff it is not empty.
 */
#include <stdio.h>
#include <stdlib.h>

#include "router.h"
#include "router-int.h"

#define FAIL(...)                                   \
    do {                                            \
        if (buf && len)                             \
            snprintf(buf, len, __VA_ARGS__);        \
        return ROUTER_ESTATE;                       \
    } while (0)

static int check_tree(const struct tnode *n, const struct tnode *parent,
                      uint32_t *count)
{
    if (!n)
        return 0;
    if (n->p != parent)
        return -1;
    if (parent && parent->prio < n->prio)
        return -1;
    if (n->l && !tnode_less(n->l, n))
        return -1;
    if (n->r && !tnode_less(n, n->r))
        return -1;
    uint32_t cl = 0, cr = 0;
    if (check_tree(n->l, n, &cl) < 0 || check_tree(n->r, n, &cr) < 0)
        return -1;
    if (n->size != 1 + cl + cr)
        return -1;
    uint64_t w = n->w + (n->l ? n->l->wsum : 0) + (n->r ? n->r->wsum : 0);
    if (n->wsum != w)
        return -1;
    *count = n->size;
    return 0;
}

/* The agent's score in queue qi: what its record references must carry
 * (the order of most skilled heaps, the weights of weighted random). */
static unsigned skill_score_of(const struct router *r, const struct agent *a,
                               unsigned qi)
{
    const struct queue *q = &r->queues[qi];
    unsigned s = 0;
    for (unsigned i = 0; i < q->nreq; i++)
        for (unsigned k = 0; k < a->nskills; k++)
            if (a->skill[k] == q->req_skill[i])
                s += a->level[k];
    return s;
}

/* Whether agent a, with a valid record in least occupied pool (qi, tier,
 * ch), can take the channel and has its reference to that pool. */
static bool lo_ref_ok(const struct router *r, const struct agent *a,
                      unsigned qi, unsigned tier, unsigned ch)
{
    for (unsigned k = 0; k < a->nev[ch]; k++)
        if (a->ev[ch][k].queue == qi && a->ev[ch][k].tier == tier &&
            a->ev[ch][k].strat == ROUTER_STRATEGY_LEAST_OCCUPIED)
            return can_take(r, a, ch);
    return false;
}

/* stamp: max_agents zeroed words, to find an agent twice in one heap. */
static int check_all(const struct router *r, char *buf, size_t len,
                     uint32_t *stamp)
{
    uint32_t heapno = 0;
    uint32_t inpools = 0, treecount = 0, n, pooled = 0, entries = 0;
    uint32_t lrecs = 0, members = 0, lrefs = 0, lwant = 0;
    uint32_t wmembers = 0, wrefs = 0, pmembers = 0, plists = 0;
    uint32_t oplaces = 0, orefs = 0;
    uint32_t perch[NCH] = {0}, nwaiting = 0, nunused = 0;
    for (unsigned qi = 0; qi < r->nq; qi++) {
        const struct queue *q = &r->queues[qi];
        uint32_t fifo = 0, nref = 0, early = 0;
        if (q->dead) {
            if (idmap_find(&r->queue_map, q->name, idmap_hash(q->name)) ==
                qi)
                FAIL("freed queue %u still named", qi);
            continue;
        }
        /* nref: the live contacts whose queue this is; a created queue
         * without any is on the list to free (see "Freeing queues") */
        for (uint32_t i = 0; i < r->max_contacts; i++)
            nref += r->contacts[i].live && !r->contacts[i].gone &&
                    r->contacts[i].queue == (int)qi;
        if (nref != q->nref)
            FAIL("queue %s: %u contacts but nref %u", q->name, nref, q->nref);
        if (qi >= r->nconf && !nref && !q->doomed && !q->isgrp)
            FAIL("queue %s: unused and not to be freed", q->name);
        nunused += qi >= r->nconf && !nref && !q->isgrp;
        /* skill groups (router.c, "Skill groups"): each virtual queue
         * of a group names it back; the mask of waiting contacts and the
         * members per tier agree with the queues and the agents */
        if (q->isgrp) {
            unsigned ch = (unsigned)__builtin_ctz(q->channel_mask);
            uint32_t refs = 0;
            if (q->nref || q->waiting || q->virt || q->grouped)
                FAIL("skill group %s has contacts or is a queue", q->name);
            for (unsigned t = 0; t < NLEV; t++) {
                uint32_t want = 0;
                for (uint32_t i = 0; i < r->max_agents; i++) {
                    const struct agent *a = &r->agents[i];
                    if (!a->live || a->gone)
                        continue;
                    for (unsigned k = 0; k < a->nev[ch]; k++)
                        want += a->ev[ch][k].queue == qi &&
                                a->ev[ch][k].tier == t;
                }
                if (want != q->gtier[t])
                    FAIL("skill group %s: %u members of tier %u, counted "
                         "%u", q->name, want, t, q->gtier[t]);
                if (!q->gvq[t]) {
                    if (q->gmask & (1U << t))
                        FAIL("skill group %s: mask without a queue",
                             q->name);
                    continue;
                }
                refs++;
                unsigned vi = q->gvq[t] - 1u;
                const struct queue *v = &r->queues[vi];
                if (vi >= r->nq || v->dead || !v->virt || !v->grouped ||
                    v->grp != qi || v->gtop != t ||
                    v->channel_mask != q->channel_mask)
                    FAIL("skill group %s: tier %u names queue %u, which "
                         "does not read it", q->name, t, vi);
                if (!!(q->gmask & (1U << t)) != !!v->cpool[0][ch].root)
                    FAIL("skill group %s: mask wrong", q->name);
            }
            if (refs != q->gref)
                FAIL("skill group %s: %u queues but gref %u", q->name, refs,
                     q->gref);
        }
        if (q->grouped) {
            const struct queue *g = &r->queues[q->grp];
            if (!q->virt || q->grp >= r->nq || g->dead || !g->isgrp ||
                g->gvq[q->gtop] != qi + 1)
                FAIL("queue %s: its skill group does not name it", q->name);
            if (q->staffed)
                FAIL("queue %s: grouped, yet staffed", q->name);
        }
        for (uint32_t h = q->fifo_head; h != NONE; h = r->contacts[h].qnext) {
            const struct contact *c = &r->contacts[h];
            if (!c->infifo || r->queues[c->queue].base != (int)qi)
                FAIL("queue %s: fifo holds contact %s of another queue",
                     q->name, c->id);
            if (!c->fifo_early && c->arrived_at > q->fifo_max)
                FAIL("queue %s: contact %s arrived after fifo_max", q->name,
                     c->id);
            if (!q->nfifo_early && c->qnext != NONE &&
                r->contacts[c->qnext].arrived_at < c->arrived_at)
                FAIL("queue %s: no early contact, yet out of order",
                     q->name);
            early += c->fifo_early;
            fifo++;
        }
        if (early != q->nfifo_early)
            FAIL("queue %s: %u early contacts but nfifo_early %u", q->name,
                 early, q->nfifo_early);
        if (fifo != q->waiting)
            FAIL("queue %s: waiting %u but fifo %u", q->name, q->waiting, fifo);
        nwaiting += fifo;
        /* nserv: the agents with an entry here, channel by channel */
        for (unsigned ch = 0; ch < NCH; ch++) {
            uint32_t want = 0;
            for (uint32_t i = 0; i < r->max_agents; i++) {
                const struct agent *a = &r->agents[i];
                if (!a->live || a->gone)
                    continue;
                for (unsigned k = 0; k < a->nev[ch]; k++)
                    want += a->ev[ch][k].queue == qi;
            }
            if (want != q->nserv[ch])
                FAIL("queue %s: %u agents could serve channel %u but "
                     "nserv says %u", q->name, want, ch, q->nserv[ch]);
        }
        for (unsigned l = 0; l < NLEV; l++)
            for (unsigned ch = 0; ch < NCH; ch++) {
                const struct apool *p = &q->apool[l][ch];
                if (treap_first(&q->cpool[l][ch]) !=
                        treap_leftmost(&q->cpool[l][ch]) ||
                    (pool_is_treap(q) &&
                     treap_first(&p->t) != treap_leftmost(&p->t)))
                    FAIL("queue %s: cached first node wrong", q->name);
                if (!!(q->cmask[ch] & (1U << l)) != !!q->cpool[l][ch].root)
                    FAIL("queue %s: level mask wrong", q->name);
                n = 0;
                if (check_tree(q->cpool[l][ch].root, NULL, &n) < 0 ||
                    (pool_is_treap(q) && check_tree(p->t.root, NULL, &n) < 0))
                    FAIL("queue %s: treap broken", q->name);
                if (l > q->nsteps && (q->cpool[l][ch].root || p->n))
                    FAIL("queue %s: pool beyond its levels", q->name);
                treecount += treap_size(&q->cpool[l][ch]);
                perch[ch] += treap_size(&q->cpool[l][ch]);
                uint32_t valid = 0;
                uint32_t pid = pool_id(qi, l, ch);
                const struct pmembers *pm = pool_members(r, qi, l, ch);
                if (pm)
                    plists += pm->n;
                if ((!l || (!pool_is_ring(q) && !pool_is_oring(q) &&
                            !pool_is_sring(q))) &&
                    pm && pm->n)
                    FAIL("queue %s: member list of a pool that cannot "
                         "sleep", q->name);
                if (pool_asleep(r, pid)) {
                    /* sleeping: nothing kept but the member list, or a
                     * weighted pool's slots with every weight 0 */
                    if (!l || q->strategy == ROUTER_STRATEGY_ROUND_ROBIN)
                        FAIL("queue %s: pool of tier %u asleep", q->name, l);
                    if (p->n || p->sets)
                        FAIL("queue %s: sleeping pool counts %u, %u sets",
                             q->name, p->n, p->sets);
                    if (pool_is_wpool(q)) {
                        if (!wpool_check(&p->w) || p->w.total)
                            FAIL("queue %s: sleeping weighted pool has "
                                 "weight", q->name);
                        wmembers += p->w.members;
                        continue;
                    }
                    if (pool_is_sring(q)) {
                        if (!sring_check(&p->s))
                            FAIL("queue %s: score rings broken", q->name);
                        for (uint32_t sc = 0; sc < p->s.nr; sc++)
                            if (p->s.ring[sc].len)
                                FAIL("queue %s: sleeping score ring holds "
                                     "records", q->name);
                        members += p->s.members;
                        continue;
                    }
                    if (pool_is_oring(q)) {
                        if (!oring_check(&p->o) || p->o.h.len)
                            FAIL("queue %s: sleeping least occupied pool "
                                 "broken or holding records", q->name);
                        for (uint32_t b = 0; b < p->o.nr; b++) {
                            if (p->o.ring[b].len)
                                FAIL("queue %s: sleeping busy ring holds "
                                     "records", q->name);
                            oplaces += p->o.ring[b].members;
                        }
                        oplaces += p->o.h.members;
                        members += p->o.members;
                        continue;
                    }
                    members += p->li.members;
                    continue;
                }
                if (pool_is_ring(q)) {
                    /* valid records in key order, each of an agent that
                     * can take the channel and has an entry here */
                    if (!lring_sizes_ok(&p->li))
                        FAIL("queue %s: ring sizes wrong", q->name);
                    const struct agent *prev = NULL;
                    for (uint32_t i = 0; i < p->li.len; i++) {
                        const struct lrec *x = lring_at(&p->li, i);
                        if (x->agent >= r->max_agents)
                            FAIL("queue %s: ring holds a bad handle", q->name);
                        if (!lrec_valid(r, x, ch))
                            continue;
                        const struct agent *a = &r->agents[x->agent];
                        if (prev && !li_less(prev, a))
                            FAIL("queue %s: ring out of order", q->name);
                        if (a->idle_since > p->li.last_since ||
                            (a->idle_since == p->li.last_since &&
                             a->idle_seq > p->li.last_seq))
                            FAIL("queue %s: ring key past the last", q->name);
                        bool has = false;
                        for (unsigned k = 0; k < a->nev[ch]; k++)
                            has |= a->ev[ch][k].queue == qi &&
                                   a->ev[ch][k].tier == l &&
                                   a->ev[ch][k].strat ==
                                       ROUTER_STRATEGY_LONGEST_IDLE;
                        if (!has || !can_take(r, a, ch))
                            FAIL("queue %s: valid record of agent %s that "
                                 "cannot take it", q->name, a->id);
                        prev = a;
                        valid++;
                    }
                    lrecs += valid;
                    members += p->li.members;
                } else if (pool_is_oring(q)) {
                    /* each busy count's ring in idle order, its valid
                     * records of agents at that busy count; the heap in
                     * heap order, its valid records carrying their
                     * agent's current key; each valid record of an agent
                     * that can take the channel and has a reference
                     * here; one valid record each over rings and heap */
                    if (!oring_check(&p->o))
                        FAIL("queue %s: least occupied rings broken",
                             q->name);
                    heapno++;
                    for (uint32_t b = 0; b < p->o.nr; b++) {
                        const struct lring *g = &p->o.ring[b];
                        const struct agent *prev = NULL;
                        oplaces += g->members;
                        for (uint32_t i = 0; i < g->len; i++) {
                            const struct lrec *x = lring_at(g, i);
                            if (x->agent >= r->max_agents)
                                FAIL("queue %s: busy ring holds a bad "
                                     "handle", q->name);
                            if (!lrec_valid_lo(r, x, ch))
                                continue;
                            const struct agent *a = &r->agents[x->agent];
                            if (prev && !li_less(prev, a))
                                FAIL("queue %s: busy ring out of order",
                                     q->name);
                            if (a->idle_since > g->last_since ||
                                (a->idle_since == g->last_since &&
                                 a->idle_seq > g->last_seq))
                                FAIL("queue %s: busy ring key past the "
                                     "last", q->name);
                            if (a->busy_total != b)
                                FAIL("queue %s: agent %s with %u busy in "
                                     "the ring of %u", q->name, a->id,
                                     a->busy_total, b);
                            if (!lo_ref_ok(r, a, qi, l, ch))
                                FAIL("queue %s: valid record of agent %s "
                                     "that cannot take it", q->name, a->id);
                            if (stamp[x->agent] == heapno)
                                FAIL("queue %s: two valid records of agent "
                                     "%s", q->name, a->id);
                            stamp[x->agent] = heapno;
                            prev = a;
                            valid++;
                        }
                    }
                    oplaces += p->o.h.members;
                    for (uint32_t i = 0; i < p->o.h.len; i++) {
                        const struct hrec *x = &p->o.h.v[i];
                        if (x->agent >= r->max_agents)
                            FAIL("queue %s: heap holds a bad handle",
                                 q->name);
                        if (!hrec_valid(r, x, q->strategy, ch))
                            continue;
                        const struct agent *a = &r->agents[x->agent];
                        if (!lo_ref_ok(r, a, qi, l, ch))
                            FAIL("queue %s: valid record of agent %s that "
                                 "cannot take it", q->name, a->id);
                        uint64_t k1, k2;
                        hrec_key(a, q->strategy, 0, &k1, &k2);
                        if (k1 != x->k1 || k2 != x->k2)
                            FAIL("queue %s: stale key of agent %s in a heap",
                                 q->name, a->id);
                        if (stamp[x->agent] == heapno)
                            FAIL("queue %s: two valid records of agent "
                                 "%s", q->name, a->id);
                        stamp[x->agent] = heapno;
                        valid++;
                    }
                    lrecs += valid;
                    members += p->o.members;
                } else if (pool_is_sring(q)) {
                    /* each score's ring in idle order; each valid record
                     * of an agent that can take the channel and whose
                     * reference here has that score; one valid record
                     * each */
                    if (!sring_check(&p->s))
                        FAIL("queue %s: score rings broken", q->name);
                    heapno++;
                    for (uint32_t sc = 0; sc < p->s.nr; sc++) {
                        const struct lring *g = &p->s.ring[sc];
                        const struct agent *prev = NULL;
                        for (uint32_t i = 0; i < g->len; i++) {
                            const struct lrec *x = lring_at(g, i);
                            if (x->agent >= r->max_agents)
                                FAIL("queue %s: score ring holds a bad "
                                     "handle", q->name);
                            if (!lrec_valid(r, x, ch))
                                continue;
                            const struct agent *a = &r->agents[x->agent];
                            if (prev && !li_less(prev, a))
                                FAIL("queue %s: score ring out of order",
                                     q->name);
                            if (a->idle_since > g->last_since ||
                                (a->idle_since == g->last_since &&
                                 a->idle_seq > g->last_seq))
                                FAIL("queue %s: score ring key past the "
                                     "last", q->name);
                            const struct aref *f = NULL;
                            for (unsigned k = 0; k < a->nev[ch]; k++)
                                if (a->ev[ch][k].queue == qi &&
                                    a->ev[ch][k].tier == l &&
                                    a->ev[ch][k].strat ==
                                        ROUTER_STRATEGY_MOST_SKILLED)
                                    f = &a->ev[ch][k];
                            if (!f || !can_take(r, a, ch) || f->score != sc)
                                FAIL("queue %s: valid record of agent %s "
                                     "that cannot take it or of another "
                                     "score", q->name, a->id);
                            if (stamp[x->agent] == heapno)
                                FAIL("queue %s: two valid records of agent "
                                     "%s", q->name, a->id);
                            stamp[x->agent] = heapno;
                            prev = a;
                            valid++;
                        }
                    }
                    lrecs += valid;
                    members += p->s.members;
                } else if (pool_is_wpool(q)) {
                    /* each member's slot named by its reference, weighted
                     * iff the agent can take the channel */
                    if (!wpool_check(&p->w))
                        FAIL("queue %s: weighted pool broken", q->name);
                    for (uint32_t i = 0; i < p->w.len; i++) {
                        uint32_t ag = p->w.agent[i];
                        if (ag == WPOOL_HOLE)
                            continue;
                        if (ag >= r->max_agents)
                            FAIL("queue %s: weighted pool holds a bad "
                                 "handle", q->name);
                        const struct agent *a = &r->agents[ag];
                        const struct aref *f = NULL;
                        for (unsigned k = 0; k < a->nev[ch]; k++)
                            if (a->ev[ch][k].queue == qi &&
                                a->ev[ch][k].tier == l)
                                f = &a->ev[ch][k];
                        if (!f || f->slot != i)
                            FAIL("queue %s: slot %u of agent %s not its "
                                 "reference's", q->name, i, a->id);
                        uint32_t want = can_take(r, a, ch)
                                            ? wr_weight(f->score) : 0;
                        if (p->w.w[i] != want)
                            FAIL("queue %s: agent %s weighs %u, not %u",
                                 q->name, a->id, p->w.w[i], want);
                        if (i && p->w.agent[i - 1] != WPOOL_HOLE &&
                            r->agents[p->w.agent[i - 1]].uid >= a->uid)
                            FAIL("queue %s: weighted pool not in uid order",
                                 q->name);
                        valid += want != 0;
                    }
                    wmembers += p->w.members;
                } else {
                    /* every linked entry, valid or stale, in key order */
                    uint32_t cnt = 0;
                    const struct tnode *prev = NULL;
                    for (const struct tnode *x = treap_first(&p->t); x;
                         x = treap_next(x)) {
                        const struct aent *e = (const struct aent *)x;
                        if ((prev && !tnode_less(prev, x)) ||
                            e->queue != qi || e->tier != l || e->ch != ch ||
                            !e->inpool)
                            FAIL("queue %s: agent pool broken", q->name);
                        if (aent_valid(r, e))
                            valid++;
                        prev = x;
                        cnt++;
                    }
                    if (cnt != treap_size(&p->t))
                        FAIL("queue %s: treap size wrong", q->name);
                    pooled += cnt;
                }
                if (valid != p->n)
                    FAIL("queue %s: pool count %u but %u valid agents",
                         q->name, p->n, valid);
            }
    }
    uint32_t live_agents = 0, live_contacts = 0;
    for (uint32_t i = 0; i < r->max_agents; i++) {
        const struct agent *a = &r->agents[i];
        if (!a->live || a->gone)
            continue;
        live_agents++;
        uint8_t busy[NCH] = {0};
        unsigned total = 0;
        for (uint32_t h = a->work_head; h != NONE; h = r->contacts[h].wnext) {
            const struct contact *c = &r->contacts[h];
            if (c->agent != i || (c->state != ROUTER_CONTACT_OFFERED &&
                                  c->state != ROUTER_CONTACT_ASSIGNED))
                FAIL("agent %s: work list holds contact %s not its own",
                     a->id, c->id);
            busy[c->channel]++;
            total++;
        }
        for (unsigned ch = 0; ch < NCH; ch++) {
            if (busy[ch] != a->busy[ch])
                FAIL("agent %s: busy[%u]=%u but %u contacts", a->id, ch,
                     a->busy[ch], busy[ch]);
            if (busy[ch] > a->cap[ch])
                FAIL("agent %s: over capacity on channel %u", a->id, ch);
        }
        if (total != a->busy_total)
            FAIL("agent %s: busy_total wrong", a->id);
        if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT &&
            (a->nev[0] || a->nev[1] || a->nev[2] || a->nev[3] ||
             a->work_head == NONE || a->pref.root))
            FAIL("agent %s: logged out but indexed or idle", a->id);
        if ((a->state == ROUTER_AGENT_STATE_WRAPUP) !=
            (timerheap_node_active(&a->timer) &&
             a->timer.due == a->wrap_until))
            FAIL("agent %s: wrap-up without timer or timer without wrap-up",
                 a->id);
        n = 0;
        if (treap_first(&a->pref) != treap_leftmost(&a->pref))
            FAIL("agent %s: cached first preferred contact wrong", a->id);
        if (check_tree(a->pref.root, NULL, &n) < 0)
            FAIL("agent %s: pref treap broken", a->id);
        treecount += n;
        for (unsigned ch = 0; ch < NCH; ch++) {
            bool want = can_take(r, a, ch) && a->nev[ch];
            if (want != !!(a->pooled & (1U << ch)))
                FAIL("agent %s: pooled mask wrong for channel %u", a->id, ch);
            for (unsigned i = 0; i < a->nev[ch]; i++) {
                const struct aref *f = &a->ev[ch][i];
                if (f->strat != r->queues[f->queue].strategy ||
                    f->score != skill_score_of(r, a, f->queue))
                    FAIL("agent %s: entry of the wrong kind", a->id);
                if (f->strat == ROUTER_STRATEGY_WEIGHTED_RANDOM) {
                    wrefs++;
                    continue;
                }
                if (f->strat == ROUTER_STRATEGY_LEAST_OCCUPIED) {
                    /* its places: the rings of busy counts 0..top,
                     * and the heap when it can move up (oring.h) */
                    unsigned top = lo_top(r, a, ch);
                    orefs += (top < ORING_RINGS ? top + 1 : ORING_RINGS) +
                             (top != 0);
                }
                if (f->strat != ROUTER_STRATEGY_ROUND_ROBIN) {
                    lrefs++;
                    if (!aref_may_sleep(f)) {
                        lwant += can_take(r, a, ch);
                        continue;
                    }
                    /* its place in the pool's member list */
                    const struct pmembers *m =
                        pool_members(r, f->queue, f->tier, ch);
                    if (!m || f->slot >= m->n ||
                        m->a[f->slot] != (uint32_t)(a - r->agents))
                        FAIL("agent %s: not at its place in the members of "
                             "queue %s", a->id, r->queues[f->queue].name);
                    pmembers++;
                    lwant += can_take(r, a, ch) && !aref_asleep(r, f, ch);
                    continue;
                }
                if (f->e->ch != ch || f->e->queue != f->queue ||
                    f->e->tier != f->tier ||
                    f->e->agent != (uint32_t)(a - r->agents))
                    FAIL("agent %s: entry on the wrong channel list", a->id);
            }
        }
        for (unsigned ch = 0; ch < NCH; ch++)
        for (unsigned i = 0; i < a->nev[ch]; i++) {
            if (a->ev[ch][i].strat != ROUTER_STRATEGY_ROUND_ROBIN)
                continue;
            const struct aent *e = a->ev[ch][i].e;
            const struct queue *q = &r->queues[e->queue];
            bool want = can_take(r, a, e->ch);
            /* an agent that can take the channel has a valid entry in
             * each of its pools; one that cannot has none */
            if (want != aent_valid(r, e))
                FAIL("agent %s: pool membership for queue %s channel %u "
                     "disagrees with state", a->id, q->name, e->ch);
            if (!e->inpool)
                continue;
            entries++;
            if (!want)
                continue;
            if (treap_root_of((struct tnode *)&e->node) !=
                    q->apool[e->tier][e->ch].t.root)
                FAIL("agent %s: entry not reachable from its pool", a->id);
            uint64_t k1, k2;
            aent_key(r, a, e, &k1, &k2);
            if (k1 != e->node.k1 || k2 != e->node.k2)
                FAIL("agent %s: stale key in the pool of queue %s", a->id,
                     q->name);
        }
    }
    for (uint32_t i = 0; i < r->max_contacts; i++) {
        const struct contact *c = &r->contacts[i];
        if (!c->live || c->gone)
            continue;
        live_contacts++;
        uint64_t due = router__contact_due(r, c);
        if (due != NEVER &&
            (!contact_timer_active(c) || c->timer.due != due))
            FAIL("contact %s: timer %llu missing", c->id,
                 (unsigned long long)due);
        if (due == NEVER && contact_timer_active(c))
            FAIL("contact %s: stray timer", c->id);
        switch (c->state) {
        case ROUTER_CONTACT_QUEUED: {
            inpools++;
            const struct treap *t;
            if (c->inpref)
                t = &r->agents[c->agent].pref;
            else
                t = &r->queues[c->queue].cpool[c->level][c->channel];
            if (treap_root_of((struct tnode *)&c->node) != t->root)
                FAIL("contact %s: queued but not reachable from its queue",
                     c->id);
            if (!c->infifo)
                FAIL("contact %s: queued but not counted waiting", c->id);
            break;
        }
        case ROUTER_CONTACT_OFFERED:
            if (c->node.p || c->node.l || c->node.r)
                FAIL("contact %s: offered and still in a queue", c->id);
            /* its timer: the deadline, or its maximum age before it */
            if (!contact_timer_active(c) ||
                c->deadline < c->timer.due)
                FAIL("contact %s: offer without a live deadline", c->id);
            if (!c->infifo)
                FAIL("contact %s: offered but not counted waiting", c->id);
            break;
        case ROUTER_CONTACT_ASSIGNED:
            if (c->infifo)
                FAIL("contact %s: assigned but counted waiting", c->id);
            break;
        default:
            FAIL("contact %s: live in final state", c->id);
        }
    }
    for (unsigned ch = 0; ch < NCH; ch++)
        if (perch[ch] != r->npooled[ch])
            FAIL("channel %u: %u contacts pooled but counter says %u", ch,
                 perch[ch], r->npooled[ch]);
    if (pooled != entries)
        FAIL("%u agent entries in pools but %u marked", pooled, entries);
    if (plists != pmembers)
        FAIL("%u pool member list places for %u references", plists,
             pmembers);
    if (oplaces != orefs)
        FAIL("%u places in least occupied rings and heaps for %u "
             "reserved", oplaces, orefs);
    if (wmembers != wrefs)
        FAIL("%u weighted pool members for %u references", wmembers, wrefs);
    if (lrecs != lwant || members != lrefs)
        FAIL("%u valid ring records for %u agents that can take them, "
             "%u members for %u entries", lrecs, lwant, members, lrefs);
    if (nunused != r->nunused)
        FAIL("%u created queues unused but nunused %u", nunused, r->nunused);
    if (nwaiting != r->nwaiting)
        FAIL("%u contacts in waiting fifos but nwaiting %u", nwaiting,
             r->nwaiting);
    if (inpools != treecount)
        FAIL("%u queued contacts but %u in the indexes", inpools, treecount);
    if (live_agents != r->nagents || live_contacts != r->ncontacts)
        FAIL("counts disagree: agents %u/%u contacts %u/%u", live_agents,
             r->nagents, live_contacts, r->ncontacts);
    if (!timerheap_check(&r->timers))
        FAIL("timer heap order broken");
    uint32_t infifos = 0, wantfifos = 0;
    for (uint32_t i = 0; i < r->max_contacts; i++)
        if (r->contacts[i].live && !r->contacts[i].gone &&
            r->contacts[i].tf != NONE)
            wantfifos++;
    for (uint32_t i = 0; i < TF_N; i++) {
        const struct tfifo *f = &r->tfifo[i];
        if ((f->head == NONE) != (f->tail == NONE))
            FAIL("timer fifo %u: head and tail disagree", i);
        if (f->head == NONE) {
            if (timerheap_node_active(&f->hn))
                FAIL("timer fifo %u: empty but in the heap", i);
            continue;
        }
        const struct contact *h = &r->contacts[f->head];
        if (!timerheap_node_active(&f->hn) || f->hn.due != h->timer.due ||
            f->hn.seq != h->timer.seq)
            FAIL("timer fifo %u: heap node not keyed like its head", i);
        uint32_t prev = NONE;
        for (uint32_t x = f->head; x != NONE; x = r->contacts[x].tnext) {
            const struct contact *c = &r->contacts[x];
            if (++infifos > wantfifos)
                FAIL("timer fifo %u: more members than contacts naming one",
                     i);
            if (!c->live || c->gone || c->tf != i || c->tprev != prev ||
                timerheap_node_active(&c->timer))
                FAIL("timer fifo %u: contact %s misplaced", i, c->id);
            if (prev != NONE &&
                !timerheap_less(&r->contacts[prev].timer, &c->timer))
                FAIL("timer fifo %u: contact %s out of order", i, c->id);
            prev = x;
        }
        if (prev != f->tail)
            FAIL("timer fifo %u: tail is not the last member", i);
    }
    if (infifos != wantfifos)
        FAIL("%u contacts in timer fifos but %u name one", infifos,
             wantfifos);
    if (buf && len)
        buf[0] = 0;
    return 0;
}

int router_check(const struct router *r, char *buf, size_t len)
{
    uint32_t *stamp = calloc(r->max_agents ? r->max_agents : 1,
                             sizeof(*stamp));
    if (!stamp) {
        if (buf && len)
            snprintf(buf, len, "out of memory for the check");
        return ROUTER_ENOMEM;
    }
    int rc = check_all(r, buf, len, stamp);
    free(stamp);
    return rc;
}
