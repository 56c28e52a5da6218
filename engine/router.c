/* router.c -- the skills-based routing core.
 *
 * What it does
 * ------------
 * Matches waiting contacts with available agents under the rules in
 * router.h: skills with levels, queues with expansion steps, five agent
 * strategies, multi-channel capacity, offers with timeouts and exclusion
 * lists, wrap-up, preferred agents, overflow, statistics. It is pure and
 * deterministic: all time comes in as `now`, all effects go out as events.
 *
 * Files: this one holds the decisions; router-int.h the structures it
 * shares with router-check.c (router_check(), the invariants); the timer
 * heap (timerheap.h, under the timer fifos here), the longest idle rings
 * (lring.h), the most skilled rings by score (sring.h), the least
 * occupied rings by busy count (oring.h, with a heap of records,
 * aheap.h) and the weighted pools (wpool.h) are helpers of their own,
 * the treap (treap.h) and the id maps (idmap.h) too.
 *
 * Model
 * -----
 * Queues. Configured queues have indexes 0..nconf-1. A contact that names
 * skills instead of a queue is put in a *virtual queue* interned from its
 * sorted (skill, min level) set and its channel, index >= nconf, created on
 * first use (O(agents) once) and freed some time after its last contact
 * has gone (see "Freeing queues"; ROUTER_ENOMEM when QUEUE_MAX queues are
 * in use at once). router_queue_count() counts
 * configured queues only; events about a virtual queue carry queue -1.
 * Virtual queues have no steps, no limits, no wrap-up and the default
 * offer timeout, and are open to every agent holding the skills (an
 * agent's `queues` list restricts configured queues only).
 *
 * Skill groups. The virtual queues of one skill at min levels 1..NLEV
 * (9) on one channel have nested eligible sets (every agent of min level
 * 5 is one of min level 3's), rarely identical ones, so they share the
 * pools of one *skill group* instead of having a pool each: a queue slot
 * (isgrp; no contacts, steps or statistics; named "~g<channel>:<skill>"
 * in the name map, neither virtual nor derived to the outside) whose
 * tier t holds the agents with the skill at level NLEV - t (tier 0: NLEV
 * and up), made exactly as a queue's tiers are (agent_tier on levels
 * NLEV, NLEV - 1, ..., 1 as its steps). The virtual queue of min level l
 * (grouped) keeps its contacts, fifo, timers and statistics, and reads
 * tiers 0..gtop = NLEV - l of the group as a contact at level L reads its
 * queue's tiers 0..L: best_agent() takes the group's pools at level
 * gtop, so the pick is the one a pool of its own would give (the same
 * keys over the same agents). An agent has one entry in the group
 * whatever number of its queues exist, where it had one per queue;
 * fill_agent() reads, for that entry of tier t, the contacts of the
 * group's queues with gtop >= t (gvq[gtop], a mask gmask of those with
 * contacts waiting, kept by cq_insert/cq_remove, the way cmask skips
 * levels). A grouped queue's staffed, unservable and free counts are
 * sums over the tiers it reads (gtier: members by tier; the pools'
 * counts), O(NLEV). The group is made (O(agents log agents)) with its
 * first queue and freed with its last (gref), so it lives no longer than
 * its queues under "Freeing queues" below, and at most one group a kept
 * queue adds to the table. Its pools never sleep: a grouped queue's
 * contacts read their tiers from arrival (no step brings them there
 * later), so a sleep would only trade appends for wakes. Its tiers
 * reach as far as its lowest level's queue reads (its nsteps, so that
 * an agent below every level is no member): a queue of a lower level
 * widens it (the agents of the new tiers join, O(agents log agents)),
 * and it is not narrowed when that queue goes. Left as they were: skill
 * sets of two skills or more, and min level 10 (the tenth tier NLEV
 * lacks).
 *
 * Derived queues. A contact that names a queue AND skills (dispatch.c
 * passes language as `lang:<x>`, product as `product:<x>`) goes to the
 * queue derived from (base queue, extra skill set, channel), interned on
 * first use like a virtual queue (O(agents) once; indexes >= nconf). It
 * copies the base's configuration (strategy, steps, SL threshold, offer
 * timeout, wrap-up, max_len, max_wait, overflow); its members are the base
 * queue's members who also hold every extra skill at its minimum level,
 * at every level (steps relax the base's skills only; agents taken in by
 * an ADD_QUEUE step need the extra skills too). Its score for most
 * skilled / weighted random is on the base's skills; round robin rotates
 * per derived queue. Events, router_contact_info, the waiting fifo, max_len
 * and every statistic are the base queue's; the QUEUED position counts
 * contacts ahead in the base and all its derived queues; the estimated
 * wait is the base queue's. Overflow and transfer to a queue keep the
 * extra skills (the contact moves to the target's derived queue; if
 * QUEUE_MAX is reached, to the target itself). Unknown extra skill names
 * are interned, not refused: a language no agent speaks yet makes the
 * contact wait until such an agent logs in (skills-only contacts still
 * get ROUTER_ENOSKILL for unknown names, as before).
 *
 * Freeing queues. Derived and virtual queues exist for their contacts: a
 * queue holds q->nref, the live contacts (queued, offered or assigned)
 * whose queue it is. When that drops to 0 (or a new queue gets no contact
 * after all: a refused arrival) the queue joins the back of the "doomed"
 * list, and router_out_clear() frees from its front while more than
 * ROUTER_QUEUES_KEPT created queues are unused: the least recently
 * emptied go first, a doomed queue that has a contact again is skipped.
 * Not at once, because the events of the call and the gone contacts'
 * slots may still name it until the output list is cleared; and not all,
 * because re-creating a queue costs O(agents log agents) and allocates,
 * which a combination used now and then (a rare language) would pay on
 * every contact -- the few kept bound the table all the same. Freeing
 * drops every agent's entries of that queue (O(agents + their entries),
 * like the creation), unlinks it from its base's derived list (a grouped
 * virtual queue from its skill group, which goes with its last queue)
 * and from the name map, and puts the slot on a free list that
 * intern_queue() takes from first. Agents' pool entries do not keep a
 * queue: they are rebuilt for the next contact that needs the
 * combination. A virtual queue's statistics go with it; derived queues
 * count in their base anyway. A freed slot has `dead` set; every walk
 * over 0..nq skips it.
 *
 * Maximum age. With cfg.max_contact_age_ms a contact still waiting
 * (queued or offered) that long after its original arrival ends as if
 * abandoned (offer revoked ABANDONED, CONTACT_GONE ABANDONED, counted as
 * abandoned in its queue): the limit holds even in a queue with no
 * max_wait, so that no contact waits for ever. Its timer is the earliest
 * of its other deadlines and that age.
 *
 * Levels and tiers. Queue Q with n expansion steps (sorted by after_ms) has
 * levels 0..n; level L applies the first L steps. A waiting contact's level
 * is the number of steps whose time has come (queued_at + after_ms <= now),
 * recomputed when it (re)enters the queue and by its timer. The eligible
 * agent set only widens with the level (LOWER_LEVEL takes the minimum of
 * the old and new level), so each agent has a *tier* in Q: the lowest level
 * at which it is eligible (member of Q and holding the skills at that
 * level, or member of a queue added by an ADD_QUEUE step at or before that
 * level and holding that queue's base skills), and it serves a contact of
 * Q iff tier <= contact level. Tiers are computed once at login.
 *
 * Indexes. Waiting contacts are in treaps (treap.h), intrusive, O(log n);
 * available agents in pools whose structure follows the strategy:
 *  - q->cpool[level][channel]: waiting contacts, key (score, seq) where
 *    score = arrival_us - priority*pw - value*vw (static, so nothing is
 *    re-sorted as time passes) and seq the arrival sequence (FCFS ties);
 *  - a->pref: contacts waiting for this agent as preferred / transfer
 *    target, same key;
 *  - q->apool[tier][channel]: agents that can take a contact of that
 *    channel right now, in the queue's strategy order (idle_seq orders
 *    the moments agents became idle, so it breaks ties of idle_since):
 *      longest idle  (idle_since, idle_seq)      a ring of (agent, epoch)
 *                                                records (lring.h)
 *      most skilled  (-score on the queue's base skills, idle_since,
 *                     idle_seq)                  one ring of (agent,
 *                                                epoch) records per score
 *                                                value (sring.h)
 *      least occupied(busy slots, idle_since,    one ring of (agent,
 *                     idle_seq)                  epoch) records per busy
 *                                                count, and a heap of
 *                                                (key, agent, epoch)
 *                                                records for the keys no
 *                                                ring takes in order
 *                                                (oring.h)
 *      round robin   (sequence of the agent's last offer from Q, uid)
 *                                                a treap of entries
 *      weighted rand (uid) with weight max(1, score): slots in uid order
 *                    and the sums of the weights by blocks of 64 and
 *                    4096 slots (wpool.h).
 *    A pool is one cache line: its count of valid members and, in a
 *    union, the one structure its strategy uses. An agent has one
 *    membership per (queue, tier, channel) it serves, made at login: a
 *    reserved place in a ring or heap, a slot in a weighted pool, or a
 *    struct aent (treap node, from a chunked free list) for round robin;
 *    the agent reaches them through per-channel arrays of struct aref
 *    (entry or slot, queue, score, tier, strategy), which most walks read
 *    alone. Which records count is the business of the next section.
 *
 * Lazy pool membership. Each agent has per channel three epochs: ep[ch]
 * (round robin entries), lep[ch] (ring records, most skilled ones too,
 * whose keys change with idle_since) and oep[ch] (least occupied
 * records, in rings or heap, whose keys also change with the busy
 * slots). An entry or
 * record is *valid* iff it carries the agent's current epoch; only valid
 * ones are candidates, and the pool's count n is of valid ones. A
 * weighted slot is valid iff its weight is not 0. Invariant
 * (router_check): an agent that can take the channel now (state
 * AVAILABLE, free capacity, voice-blocks rule) has a valid entry, record
 * or slot with the right key in each of its pools of the channel that is
 * awake (see "Sleeping pools"); one that cannot has none.
 * agent_reindex() restores it after every change of the agent:
 *  - it can no longer take the channel (offer, away, wrap-up): the epochs
 *    move on, O(1) + one counter per pool through the arefs; no record or
 *    entry is touched. Weighted slots, whose sums must stay exact for the
 *    draw, get weight 0 at once, O(1) (the weight and two block sums);
 *  - it can take it again: a record appended to each ring (a most
 *    skilled pool's: the ring of its score there; a least occupied
 *    pool's: the ring of its busy count), O(1); the weight set
 *    in each weighted pool, O(1); a round robin entry still linked
 *    with an unchanged key (no offer from that queue meanwhile)
 *    revalidated in place, O(1), else relinked, O(log n);
 *  - it still takes it but its key changed (a slot freed: new idle_since;
 *    least occupied: busy slots): the epochs of the changed keys move on
 *    and the records are appended again (a least occupied pool's goes
 *    to its heap when an offer moved it up: see below).
 * The walk first asks for all the pools it will touch (prefetch), so that
 * the cache misses of pools scattered over the queues overlap.
 * Stale records and entries are met only by best_agent(), which unlinks a
 * stale treap entry and drops a stale record at a ring's front or a
 * heap's top when it reaches them: each once, so amortized O(1) (a heap
 * pop is O(log n) on a contiguous array). A ring or heap is full only
 * when stale records fill it: it is then compacted, O(len), with capacity
 * >= 2 x members + 16 reserved at login, so that at least members + 16
 * appends separate two compactions (the same bound lets a weighted pool
 * compact its holes). Ring appends go to the back because agents become
 * idle with the newest key (idle_seq grows; `now` does not go back); a
 * key older than one appended takes an ordered insertion, O(len), so that
 * a caller whose clock steps back still gets the documented order. A
 * most skilled pool is a ring per score value
 * (sring.h) because an agent's score in a queue is fixed while it is
 * logged in: within one score the order is longest idle, so appends stay
 * O(1) and the pick is the first valid record of the highest non-empty
 * score (a bitmap of the rings that may hold records, cleared lazily by
 * best_agent()), with none of a heap's O(log n) pops of stale tops; each
 * score's ring reserves 2 x its members + 16 and compacts on its own.
 * A least occupied pool is a ring per busy count (oring.h, busy counts
 * below ORING_RINGS) and a heap: within one busy count the order is
 * longest idle, and an agent that becomes idle or frees a slot has the
 * newest key, so its record is appended to the ring of its busy count
 * in O(1). One key change makes no new idle_since: an offer to an agent
 * that can still take the channel (capacity left on it) moves it to the
 * next busy count with its old idle_since, and offers come from any
 * queue in any order, so no ring could take those keys in order without
 * an O(len) insertion. Such a record -- any key older than the last its
 * ring took, and a busy count >= ORING_RINGS -- goes to the pool's heap
 * instead (O(log n) there, as before), and the pick is the smaller of
 * the first valid record of the lowest busy count and the heap's top:
 * the same order, so the same decisions. An agent that can take the
 * channel only with nothing else busy (one slot in all; voice while
 * voice blocks the others) never moves up and has no place in the heap:
 * its rare out-of-order key (a clock that stepped back; a care load,
 * idle_seq's high bits, behind an agent idle since the same moment)
 * takes ring 0's ordered insertion. A member reserves a place in the
 * ring of every busy count at which it can take the channel and, if
 * that is more than one, in the heap, so each compacts on its own.
 * lep and oep live apart from the agents, in one dense array (struct
 * aepoch) that stays in cache for the compactions, which check every
 * record's epoch; they survive the reuse of an agent slot (its records
 * may still sit in rings and heaps).
 *  - an excluded agent at a least occupied heap's top: best_agent()
 *    walks down the heap
 *    only into subtrees whose root orders before the best candidate so
 *    far, O(records ahead of the answer).
 *
 * Sleeping pools. A pool of tier >= 1 is read only by contacts that
 * waited long enough to reach its level, which where agents are in
 * surplus is almost never; yet every availability change of each of its
 * members appends a record to it. So a longest idle ring, a most
 * skilled pool's rings, a least occupied pool or a weighted random pool
 * above tier 0 may sleep:
 *  - when a record is about to go to it (join or new key), it holds at
 *    least 2 x members + 16 records (or is full) and no contact of its
 *    queue and channel waits at its tier or above (q->cmask), it is
 *    emptied (count 0) and its bit set in r->asleep (by pool_id()),
 *    instead of compacted;
 *  - a weighted pool has no records, and a most skilled or least
 *    occupied pool's are spread over its rings (and heap): apool.sets
 *    counts the weights it set non-zero or the
 *    records it appended since it last woke or slept, and stands for the
 *    records held in that rule (2 x members + 16); a weighted pool
 *    asleep has every weight 0 (wpool_clear, O(slots used), which those
 *    sets pay for unless logouts left more holes than members: holes go
 *    only when the slots fill, wpool_add);
 *  - while asleep, the agents' walks (agent_reindex, aref_drop) skip it
 *    from the bitmap and their aref alone, without touching its line;
 *  - best_agent() for a contact at level L first wakes any sleeping pool
 *    of tiers 1..L of its queue and channel: a record with the current
 *    key and epoch for each member that can take the channel now, taken
 *    from the pool's member list (q->pmem: agent handles, kept at login,
 *    logout and queue creation; the aref of a ring or heap that may sleep
 *    holds its index there in `slot`), a ring (or a most skilled or
 *    least occupied pool's rings) filled in the order of a heapsort (no
 *    allocation), O(m log m). At least m + 16 records went to the pool
 *    since it was last empty or awake, so the wake is paid for in
 *    advance, and the woken pool holds exactly the valid records that
 *    eager upkeep would have (a least occupied pool may hold in a ring
 *    one that eager upkeep had put in its heap: the pick reads both in
 *    one order): decisions do not change. A weighted pool wakes from
 *    its own slots (its member list): the weight wr_weight(score) for
 *    each member that can take the channel now, O(slots), no sort, so
 *    the draw sees the weights eager upkeep would have kept, slot for
 *    slot.
 * fill_agent() reads the contacts' pools, not the agents', so it needs no
 * wake. Tier 0 pools (which the statistics, router_queue_free() and the
 * estimated wait read) and round robin treaps never sleep (a treap would
 * need its entries unlinked and a member list to relink them from).
 * router_pool_sleeps() counts sleeps and wakes.
 *  - timers (see "Timers" below): at most one per contact (the earliest
 *    of offer deadline, next expansion step, max wait, preferred wait,
 *    restore kick, maximum contact age) and one per agent (wrap-up end),
 *    fired in (due, seq) order; contacts' timers sit in timer fifos whose
 *    heads, with agents' timers, sit in one binary min-heap (timerheap.h).
 *  - idmaps (idmap.h) for contact ids, agent ids, queue names and skills.
 *
 * Timers. Every term of a contact's due time is an event time plus an
 * offset that is constant per queue or per router: the offer deadline is
 * the offer plus the queue's offer timeout, an expansion step the entry
 * into the queue plus that level's step, the max wait the same entry plus
 * the queue's max_wait, the preferred wait the entry plus
 * preferred_wait_ms, a restore kick the restore itself, the maximum age
 * the arrival plus max_contact_age_ms. Timers armed with one offset, in
 * the order of their events, are therefore armed in due order. So each
 * (queue, level), (queue, offer), (queue, max wait), and the router's
 * preferred waits, kicks and ages have a timer fifo (struct tfifo,
 * TF_N of them, preallocated): a doubly linked list through the contacts
 * (no allocation; cancelling is an O(1) unlink, with no stale entries
 * left behind as lazy cancellation would leave), kept in strict (due,
 * seq) order; only its head has a node in the heap, keyed like it. A
 * timer goes to its fifo's tail when it sorts after the tail, else into
 * the heap by itself: that covers what breaks the constant offset -- a
 * reload that changes a queue's max_wait or offer timeout
 * (router_queue_set_limits() re-arms the waiting contacts from when they
 * entered), a restore that re-arms an old arrival, a move that keeps the
 * arrival, a clock that goes back -- without rebuilding anything. The
 * heap's minimum is then the global minimum, and timers fire in exactly
 * the (due, seq) order one heap over every timer gave, so decisions do
 * not change. The heap holds a few hundred fifo heads, the agents in
 * wrap-up and the rare strays instead of every waiting contact, and
 * re-arming a contact whose due time did not change costs one
 * comparison. A fifo's node is re-keyed as soon as its head leaves,
 * although the departed head's key would remain a valid lower bound
 * until the node reached the heap's top: contacts leave oldest first,
 * so the fifo whose head leaves is most often the one at the top, and
 * the lag saved nothing. router_check() checks each fifo's links and
 * order and its head's key.
 *
 * Decisions. Two triggers keep the system "stable" (no waiting contact
 * with an available, eligible, non-excluded agent):
 *  - route_contact(C) when C becomes routable (arrival, requeue after
 *    reject/timeout/revoke, level change, preferred wait over, move): the
 *    best agent over apool[0..level][channel] by the strategy, skipping the
 *    agents C excludes; for weighted random, up to WR_TRIES draws of
 *    rng % total weight, then the first non-excluded in (tier, uid) order.
 *  - fill_agent(A) when A gains capacity (login, available, wrap-up end,
 *    slot released): repeatedly the best-keyed contact over A's preferred
 *    list and, for each of its entries (Q, tier, ch) -- read from its
 *    arefs, the entries themselves are not touched -- the first
 *    non-excluded contact of cpool[tier..n][ch] of Q -- the best key over
 *    all queues wins (cross-queue fairness).
 * When one event releases both a contact and an agent, the contact is
 * routed first, then the agent filled.
 *
 * Complexity (n = contacts or agents in one pool, E = pool memberships
 * of an agent, about queues served x tiers taken x channels, L = levels
 * of a queue, x = contacts/agents skipped because of exclusions):
 *   arrival             O(log n) insert + route + position O(L log n)
 *                       (treap ranks)
 *   route a contact     longest idle, most skilled O(L + x) amortized;
 *                       least occupied O(L + x), + O(log n) for each
 *                       stale heap top popped (once a record); round robin
 *                       O(L log n + x); weighted random O(L + n / 4096
 *                       + 128) a draw, up to WR_TRIES draws, then
 *                       O(slots) for the fallback walk
 *   fill an agent       O(E_ch) pool minima (cached, O(1) each, pools
 *                       skipped by level masks and per-channel counters)
 *                       per offer, + one reindex
 *   reindex an agent    going busy on a channel: O(E_ch) counters, no
 *                       record touched, + O(1) per weighted random
 *                       pool, + a ring append or a heap push
 *                       (O(log n)) per least occupied pool of a
 *                       channel it still takes; becoming idle: O(1)
 *                       per ring (amortized; most skilled and least
 *                       occupied too), O(1) per weighted pool, O(1)
 *                       or O(log n) per round robin entry;
 *                       a sleeping pool: one bit read
 *   wake a pool         O(m log m), m its members, paid for by the m + 16
 *                       records that went to it before it slept; a
 *                       weighted pool O(slots used), paid for by as
 *                       many weights set
 *   stale records       dropped once each when a pick meets them:
 *                       amortized O(1) (rings) or O(log n) (a least
 *                       occupied pool's heap); a most skilled pick reads
 *                       the bitmap of scores, O(SRING_SCORES / 64);
 *                       compactions amortized O(1) an append
 *   offer/accept/reject/timeout/complete/abandon: O(1) bookkeeping + the
 *                       above; a contact's timer O(1) in its fifo,
 *                       + O(log F) when it is or becomes a fifo's head
 *                       (F = fifos not empty + agents in wrap-up +
 *                       strays), O(log F) for an agent's or a stray's
 *   router_tick         O(log F) per due timer; next_deadline O(1)
 *   stats               O(1); estimated wait O(1)
 *   login               O(queues x (steps + skills)) to build E
 *                       memberships (a weighted pool's compaction, when
 *                       its slots are full, O(slots x E) once per
 *                       members + 16 logins); a new virtual or derived
 *                       queue O(agents log agents) once (a grouped
 *                       virtual queue: its group, once)
 *   router_check        O(everything)
 * No call allocates on the decision path: slots, maps, the timer heap,
 * the timer fifos and the output list are sized at router_new (the
 * output list doubles if a call emits more than its capacity); pool
 * entries come from a chunked free list, and rings, heaps, weighted
 * pools and the member lists of sleepable pools are sized, all at login
 * / queue creation.
 *
 * Cost model. The cost that dominates is E, the pool memberships of an
 * agent (configured queues at every tier, skills-only virtual queues'
 * skill groups, derived queues): every availability cycle of an agent
 * touches each of them once (a ring append, a heap push, a weight, an
 * O(1) revalidation or an O(log n) treap relink), one cache line a
 * pool; going busy costs
 * O(E) counter updates (lazy membership above). Sleeping pools take the
 * rings, heaps and weighted pools above tier 0 out of E while no contact
 * waits at their levels; round robin treaps above tier 0 could too. Most
 * skilled pools cost a ring append, not a heap push and a later O(log n)
 * pop; least occupied pools too, but for the keys an offer moves up to
 * the next busy count (the agent still takes the channel), which no ring
 * can take in order and which stay heap pushes and pops. Skill groups
 * give skills-only contacts of one skill one entry an agent per (skill,
 * channel) rather than one per virtual queue. So the levers left are,
 * in the order they would pay: fewer memberships (one pool shared by
 * configured queues whose eligible set and key at a tier are identical;
 * an expansion step that reads another queue's pool instead of entries
 * of its own; groups for skill sets of two or more skills); integer
 * handles instead of string ids on the hot API (each call hashes and
 * compares ids); with contacts waiting, the timers and each QUEUED
 * event: its position, an O(L log n) rank, and its estimated wait, O(1)
 * (waitest_ms(): at most WAITEST_EXACT_K or 10 divisions, then a closed
 * form with a log1p).
 * Measured figures are in bench/README.md, not here.
 *
 * Choices worth knowing
 * ---------------------
 *  - Capacity: all-zero capacity means voice 1. With voice_blocks_others a
 *    voice contact needs an agent with nothing else active, and other
 *    channels need no voice contact active. Offers count as busy.
 *  - Wrap-up: after complete (or transfer out) of an agent's last active
 *    contact, the agent enters WRAPUP for the queue's wrapup_ms and then
 *    becomes AVAILABLE by itself (every queue at once: it is one agent
 *    state). If it still has other contacts, no wrap-up: the slot frees.
 *  - Longest idle: idle_since is set when the agent becomes AVAILABLE and
 *    whenever it releases a slot (complete, reject, timeout, revoke);
 *    idle_seq (a counter) at the same moments. Agents idle since the same
 *    time are ordered by who became idle first (idle_seq), in longest
 *    idle, most skilled and least occupied alike (tests/router-ref.c
 *    applies the same rule). Before that order comes the agent's care
 *    load (router_agent_set_load, docs/care.md: its recent difficult
 *    contacts), carried in idle_seq's high bits from the moment the
 *    agent becomes idle, so that no pool changes its keys when a load
 *    changes; an agent appended to a ring behind one of the same
 *    idle_since and a higher load takes the ring's ordered insertion.
 *    The care *weight* (router_agent_set_idle_shift) applies to
 *    contacts marked difficult only, and at the choice, not in the
 *    pools: for such a contact best_agent() compares idle_since + the
 *    agent's shift (then idle_seq), as if each agent had become idle
 *    its shift later. The pools keep their keys; the walk goes on past
 *    the first candidate while a record's own key is not after the best
 *    shifted key so far (a ring in order; a heap's subtrees whose root
 *    is not after it), so it visits the agents idle within the best
 *    shifted key, and, when no agent has a shift, only those idle since
 *    the same moment as the first beyond what the plain walk visits.
 *  - Least occupied counts busy slots (offered + assigned), all channels.
 *  - Round robin: per (agent, queue) the sequence number of its last offer
 *    from that queue; new agents start at their login sequence.
 *  - Exclusions: up to EXCL_MAX agent ids per contact (hashes of the id, so
 *    they survive a re-login and work for restore); when full, the oldest
 *    is forgotten. A contact whose eligible agents are all excluded waits.
 *    A contact marked difficult (router_contact_spec.difficult) also
 *    treats every agent in routine-only mode (router_agent_set_routine)
 *    as excluded: the same walks skip them, at the same cost. A contact
 *    already waiting for such an agent by name (preferred agent,
 *    transfer) is still offered to it, as an excluded one would be.
 *  - Preferred agent: if logged in and (preferred_wait_ms > 0 or it can
 *    take the contact now), the contact waits in that agent's list only,
 *    ignoring skills, until preferred_wait_ms after entering the queue,
 *    then joins the queue. If it is not logged in, no wait. Its logout or
 *    its reject/timeout ends the wait at once. Transfer to a named agent
 *    uses the same list without a time limit.
 *  - no-answer: consecutive offer timeouts per agent; an answer, accept
 *    or reject, resets it; max_no_answer reached -> AWAY "no-answer".
 *  - Logout: offers are revoked (AGENT_LOGOUT, no exclusion) and those
 *    contacts re-routed, preferred waiters join their queue; assigned
 *    contacts stay with the agent and complete normally; the slot is freed
 *    when its last contact completes. A login with the same id meanwhile
 *    re-attaches to that slot (new skills and queues; capacity per channel
 *    at least what it still holds).
 *  - Abandon of an assigned contact is ROUTER_ESTATE (use complete).
 *    Transfer of an offered contact is ROUTER_ESTATE.
 *  - Moves (overflow, transfer) ignore max_len; max_wait without an
 *    overflow queue does nothing. Moves keep arrived_at, seq, exclusions.
 *  - "waiting" counts contacts in the queue not yet answered (queued or
 *    offered); longest_wait is from the oldest arrival among them (the
 *    fifo is in arrival order, which moves keep).
 *  - QUEUED: one event each time a contact waits (again): arrival,
 *    expansion step (level change by its timer), rejected or expired
 *    offer, revoke on logout (emitted once the agent is gone), overflow
 *    and transfer (after their MOVED). The end of a preferred wait and a
 *    restore are not events.
 *  - Unservable: a contact waiting in its queue's pools (not for a named
 *    agent) whose queue has no logged-in agent with an entry for its
 *    channel: q->nserv[ch], kept by agent_add_queue() and
 *    agent_drop_entries() (login, logout, re-login with new skills), so
 *    the QUEUED flag is O(1) and the per-queue count O(levels x channels)
 *    at stats time.
 *  - Restore: no event, no statistics; the contact is indexed at once and
 *    routed by the next router_tick() (a kick timer due at `now`).
 *  - Estimated wait (ms) for a position p: 0 if p <= agents available in
 *    the queue; else (p - available) * (AHT + wrap-up) / max(1, staffed),
 *    AHT the queue's mean handle time (60 s before any completion), staffed
 *    the logged-in agents of tier 0.
 */
#include "router.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router-int.h"

/* a pool is one cache line (router-int.h) */
_Static_assert(sizeof(struct apool) == 64, "struct apool is one line");

/* ---- small helpers ---- */

static const char *contact_key(const void *ctx, uint32_t h)
{
    return ((const struct router *)ctx)->contacts[h].id;
}

static const char *agent_key(const void *ctx, uint32_t h)
{
    return ((const struct router *)ctx)->agents[h].id;
}

static const char *queue_key(const void *ctx, uint32_t h)
{
    return ((const struct router *)ctx)->queues[h].name;
}

static const char *skill_key(const void *ctx, uint32_t h)
{
    return ((const struct router *)ctx)->skills[h];
}

static bool id_ok(const char *s)
{
    return s && s[0] && strnlen(s, ROUTER_ID_MAX) < ROUTER_ID_MAX;
}

/* Copies an id or name already checked to be shorter than ROUTER_ID_MAX
 * (id_ok, or a reason checked by the caller); snprintf costs more than the
 * rest of a decision's bookkeeping. */
static void copy_id(char *dst, const char *src)
{
    size_t n = strnlen(src, ROUTER_ID_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

static uint32_t next_prio(struct router *r)
{
    return (uint32_t)(rng_mix(++r->prio_ctr) >> 32);
}

static inline uint32_t ahandle(const struct router *r, const struct agent *a)
{
    return (uint32_t)(a - r->agents);
}

static inline uint32_t chandle(const struct router *r, const struct contact *c)
{
    return (uint32_t)(c - r->contacts);
}

/* The queue statistics, the waiting fifo and events belong to: the base
 * of a derived queue, else the queue itself. */
static inline struct queue *squeue(const struct router *r, int q)
{
    return &r->queues[r->queues[q].base];
}

static inline int ev_queue(const struct router *r, int q)
{
    if (q < 0)
        return -1;
    q = r->queues[q].base;
    return (unsigned)q < r->nconf ? q : -1;
}

static struct router_event *emit(struct router *r, enum router_event_type t,
                                 const struct contact *c,
                                 const struct agent *a)
{
    if (r->nout == r->out_cap) {
        size_t cap = r->out_cap * 2;
        struct router_event *o = realloc(r->out, cap * sizeof(*o));
        if (!o)
            abort(); /* cannot report a lost decision; out of memory */
        r->out = o;
        r->out_cap = cap;
    }
    struct router_event *e = &r->out[r->nout++];
    memset(e, 0, sizeof(*e));
    e->type = t;
    e->contact = c ? chandle(r, c) : NONE;
    e->agent = a ? ahandle(r, a) : NONE;
    e->queue = c ? ev_queue(r, c->queue) : -1;
    return e;
}

/* ---- timers (timerheap.h, timer fifos: see "Timers" above) ---- */

/* Sets, moves or (due == NEVER) removes an agent's timer. */
static void timer_arm(struct router *r, struct timerheap_node *n,
                      uint32_t seq, uint64_t due)
{
    if (due == NEVER)
        timerheap_remove(&r->timers, n);
    else
        timerheap_set(&r->timers, n, due, seq);
}

/* Whether timer node n is embedded in an agent (else in a contact or a
 * timer fifo). */
static inline bool timer_is_agent(const struct router *r,
                                  const struct timerheap_node *n)
{
    uintptr_t p = (uintptr_t)n, lo = (uintptr_t)r->agents;
    return p >= lo && p < (uintptr_t)(r->agents + r->max_agents);
}

/* The timer fifo whose heap node n is, or NULL. */
static inline struct tfifo *timer_fifo(const struct router *r,
                                       const struct timerheap_node *n)
{
    uintptr_t p = (uintptr_t)n, lo = (uintptr_t)r->tfifo;
    if (p < lo || p >= (uintptr_t)(r->tfifo + TF_N))
        return NULL;
    return r->tfifo + (p - lo) / sizeof(struct tfifo);
}

/* Keys fifo f's heap node like its head, or takes it out when empty. */
static void tfifo_rekey(struct router *r, struct tfifo *f)
{
    if (f->head == NONE) {
        timerheap_remove(&r->timers, &f->hn);
    } else {
        const struct contact *h = &r->contacts[f->head];
        timerheap_set(&r->timers, &f->hn, h->timer.due, h->timer.seq);
    }
}

/* Takes contact c's timer out of its fifo or the heap. */
static void contact_timer_clear(struct router *r, struct contact *c)
{
    if (c->tf == NONE) {
        timerheap_remove(&r->timers, &c->timer);
        return;
    }
    struct tfifo *f = &r->tfifo[c->tf];
    uint32_t h = chandle(r, c);
    bool was_head = f->head == h;
    if (c->tprev != NONE)
        r->contacts[c->tprev].tnext = c->tnext;
    else
        f->head = c->tnext;
    if (c->tnext != NONE)
        r->contacts[c->tnext].tprev = c->tprev;
    else
        f->tail = c->tprev;
    c->tf = c->tprev = c->tnext = NONE;
    if (was_head)
        tfifo_rekey(r, f);
}

/* Sets contact c's timer to `due` (NEVER: none), `tf` the fifo whose
 * offset gave it. The timer goes to the tail of that fifo when it sorts
 * after the tail's, else (an offset that changed, a restore with an old
 * arrival, a clock that went back) into the heap by itself: either way
 * timers fire in (due, seq) order, as from one heap. */
static void contact_timer_set(struct router *r, struct contact *c,
                              uint64_t due, uint32_t tf)
{
    if (contact_timer_active(c) && c->timer.due == due)
        return;                 /* same due, same seq: same place */
    contact_timer_clear(r, c);
    if (due == NEVER)
        return;
    c->timer.due = due;
    c->timer.seq = c->seq;
    if (tf < TF_N) {
        struct tfifo *f = &r->tfifo[tf];
        uint32_t h = chandle(r, c);
        if (f->tail == NONE) {
            f->head = f->tail = h;
            c->tf = tf;
            c->tprev = c->tnext = NONE;
            tfifo_rekey(r, f);
            r->tf_appends++;
            return;
        }
        struct contact *t = &r->contacts[f->tail];
        if (timerheap_less(&t->timer, &c->timer)) {
            t->tnext = h;
            c->tprev = f->tail;
            c->tnext = NONE;
            f->tail = h;
            c->tf = tf;
            r->tf_appends++;
            return;
        }
    }
    r->tf_strays++;
    timerheap_set(&r->timers, &c->timer, due, c->seq);
}

/* ---- queues: levels, scores ---- */

static unsigned level_at(const struct queue *q, uint64_t queued_at,
                         uint64_t now)
{
    unsigned l = 0;
    while (l < q->nsteps && queued_at + (uint64_t)q->step_ms[l] * 1000 <= now)
        l++;
    return l;
}

static int agent_skill_level(const struct agent *a, unsigned skill)
{
    for (unsigned i = 0; i < a->nskills; i++)
        if (a->skill[i] == skill)
            return a->level[i];
    return 0;
}

static bool meets_extra(const struct agent *a, const struct queue *q)
{
    for (unsigned i = 0; i < q->nextra; i++)
        if (agent_skill_level(a, q->xskill[i]) < (int)q->xlvl[i])
            return false;
    return true;
}

static bool meets(const struct agent *a, const struct queue *q, unsigned lvl)
{
    for (unsigned i = 0; i < q->nreq; i++) {
        unsigned m = q->lvl_min[lvl][i];
        if (m && agent_skill_level(a, q->req_skill[i]) < (int)m)
            return false;
    }
    return meets_extra(a, q);
}

static unsigned skill_score(const struct agent *a, const struct queue *q)
{
    unsigned s = 0;
    for (unsigned i = 0; i < q->nreq; i++)
        s += (unsigned)agent_skill_level(a, q->req_skill[i]);
    return s;
}

/* Whether the agent serves queue qi by its login list (a derived queue by
 * its base's membership; virtual queues are open to all). */
static bool served(const struct router *r, const struct agent *a, int qi)
{
    const struct queue *q = &r->queues[qi];
    if (q->virt || q->isgrp || a->nserved == 0)
        return true;
    for (unsigned i = 0; i < a->nserved; i++)
        if (a->served[i] == q->base)
            return true;
    return false;
}

/* The agent's tier in queue qi, or -1. Agents taken in by an ADD_QUEUE
 * step of a derived queue must hold its extra skills too. */
static int agent_tier(const struct router *r, const struct agent *a, int qi)
{
    const struct queue *q = &r->queues[qi];
    if (q->grouped)
        return -1;              /* its agents' entries are its group's */
    bool member = served(r, a, qi);
    for (unsigned l = 0; l <= q->nsteps; l++) {
        if (member && meets(a, q, l))
            return (int)l;
        if (l > 0 && q->addq[l - 1] >= 0) {
            int q2 = q->addq[l - 1];
            if (served(r, a, q2) && meets(a, &r->queues[q2], 0) &&
                meets_extra(a, q))
                return (int)l;
        }
    }
    return -1;
}

static uint64_t contact_score(const struct router *r, uint64_t arrived_at,
                              uint32_t priority, uint32_t value)
{
    int64_t k = (int64_t)arrived_at
              - (int64_t)priority * r->cfg.priority_weight_ms * 1000
              - (int64_t)value * r->cfg.value_weight_ms * 1000;
    return (uint64_t)k ^ (1ULL << 63);
}

/* ---- agents: capacity and pool membership ---- */

/* Treap pools (every strategy but longest idle). */
static inline void pool_insert(const struct queue *q, struct apool *p,
                               struct tnode *n)
{
    (void)q;
    treap_insert(&p->t, n);
}

static inline void pool_remove(const struct queue *q, struct apool *p,
                               struct tnode *n)
{
    (void)q;
    treap_remove(&p->t, n);
}

static inline struct tnode *pool_first(const struct queue *q,
                                       const struct apool *p)
{
    (void)q;
    return treap_first(&p->t);
}

static inline struct tnode *pool_next(const struct queue *q,
                                      const struct tnode *n)
{
    (void)q;
    return treap_next(n);
}

/* Frees what pool p of queue q owns (its kind is the queue's strategy). */
static void apool_free(const struct queue *q, struct apool *p)
{
    if (pool_is_ring(q))
        lring_free(&p->li);
    else if (pool_is_oring(q))
        oring_free(&p->o);
    else if (pool_is_sring(q))
        sring_free(&p->s);
    else if (pool_is_wpool(q))
        wpool_free(&p->w);
}

/* ---- longest idle rings (lring.h): the router's side ---- */

static bool lring_valid_cb_fn(const void *ctx, unsigned ch,
                              const struct lrec *x)
{
    return lrec_valid(ctx, x, ch);
}

static bool lring_before_cb_fn(const void *ctx, uint32_t a, uint32_t b)
{
    const struct router *r = ctx;
    return li_less(&r->agents[a], &r->agents[b]);
}

/* Appends a valid record of agent a to the ring of pool p (channel ch). */
static inline void lring_add(struct router *r, struct apool *p,
                             struct agent *a, unsigned ch)
{
    lring_append(&p->li, &r->lops, ch,
                 (struct lrec){ahandle(r, a), r->aep[ahandle(r, a)].lep[ch]},
                 a->idle_since,
                 a->idle_seq);
}

static inline struct apool *aref_pool(struct router *r, const struct aref *f,
                                      unsigned ch)
{
    return &r->queues[f->queue].apool[f->tier][ch];
}

/* ---- least occupied rings and heaps (oring.h) ---- */

static bool hops_lo_valid_fn(const void *ctx, unsigned ch,
                             const struct hrec *x)
{
    return hrec_valid(ctx, x, ROUTER_STRATEGY_LEAST_OCCUPIED, ch);
}

static bool lops_lo_valid_fn(const void *ctx, unsigned ch,
                             const struct lrec *x)
{
    return lrec_valid_lo(ctx, x, ch);
}

/* Adds a valid record of agent a, with its current key, to the least
 * occupied pool p (channel ch): to the ring of its busy count when the
 * key is the newest there, else to the pool's heap (oring.h). */
static inline void oring_add_agent(struct router *r, struct apool *p,
                                   struct agent *a, unsigned ch)
{
    uint32_t h = ahandle(r, a);
    uint32_t ep = r->aep[h].oep[ch];
    p->sets++;          /* read above tier 0 only (pool_full) */
    if (oring_fits(&p->o, a->busy_total, a->idle_since, a->idle_seq) ||
        lo_top(r, a, ch) == 0) {
        oring_add_ring(&p->o, &r->lops_lo, ch, a->busy_total,
                       (struct lrec){h, ep}, a->idle_since, a->idle_seq);
        return;
    }
    struct hrec x = {.agent = h, .ep = ep};
    hrec_key(a, ROUTER_STRATEGY_LEAST_OCCUPIED, 0, &x.k1, &x.k2);
    oring_add_heap(&p->o, &r->hops_lo, ch, x);
}

/* Appends a valid record of agent a to the ring of its score in the most
 * skilled pool p (reference f, channel ch). */
static inline void sring_add(struct router *r, struct apool *p,
                             struct agent *a, const struct aref *f,
                             unsigned ch)
{
    uint32_t h = ahandle(r, a);
    sring_append(&p->s, &r->lops, ch, f->score,
                 (struct lrec){h, r->aep[h].lep[ch]}, a->idle_since,
                 a->idle_seq);
}

/* (Re)links entry e of agent a with a fresh key and the current epoch. */
static void aent_relink(struct router *r, struct agent *a, struct aent *e)
{
    struct queue *q = &r->queues[e->queue];
    struct apool *p = &q->apool[e->tier][e->ch];
    if (e->inpool)
        pool_remove(q, p, &e->node);
    aent_key(r, a, e, &e->node.k1, &e->node.k2);
    e->ep = a->ep[e->ch];
    pool_insert(q, p, &e->node);
    e->inpool = 1;
}

/* Makes a stale or unlinked entry valid again: where it is when it is
 * still linked with the right key (a round robin entry whose agent had no
 * offer from the queue meanwhile, a least occupied one back to the same
 * busy count...), O(1); else relinked, O(log n). */
static void aent_rejoin(struct router *r, struct agent *a, struct aent *e)
{
    if (e->inpool) {
        uint64_t k1, k2;
        aent_key(r, a, e, &k1, &k2);
        if (k1 == e->node.k1 && k2 == e->node.k2) {
            e->ep = a->ep[e->ch];
            return;
        }
    }
    aent_relink(r, a, e);
}

/* ---- sleeping pools ---- */

/* Whether a contact waits in queue qi on channel ch at a level that pools
 * of `tier` serve (tier or above). */
static inline bool pool_wanted(const struct router *r, unsigned qi,
                               unsigned tier, unsigned ch)
{
    return (r->queues[qi].cmask[ch] >> tier) != 0;
}

/* Whether the ring or heap of f's pool holds at least 2 x members + 16
 * records (or is full): then at least members + 16 records went to it
 * since it was empty or woke (with at most `members` records), which pays
 * for a wake, O(members log members), in advance. A weighted pool has no
 * records: the count of weights it set non-zero since it woke or slept
 * plays their part, and pays for its clearing and its wake, O(slots used)
 * each. */
static inline bool pool_full(const struct apool *p, const struct aref *f)
{
    if (f->strat == ROUTER_STRATEGY_LONGEST_IDLE)
        return p->li.len >= 2 * p->li.members + 16 || p->li.len == p->li.cap;
    if (f->strat == ROUTER_STRATEGY_WEIGHTED_RANDOM)
        return p->sets >= 2 * p->w.members + 16;
    if (f->strat == ROUTER_STRATEGY_MOST_SKILLED)
        return p->sets >= 2 * p->s.members + 16;
    return p->sets >= 2 * p->o.members + 16;
}

/* Empties the ring or heap of pool p (it holds records of strategy
 * strat), or sets every weight of a weighted pool to 0. */
static void pool_clear(struct apool *p, unsigned strat)
{
    if (strat == ROUTER_STRATEGY_LONGEST_IDLE) {
        p->li.head = p->li.len = 0;
        p->li.last_since = p->li.last_seq = 0;
    } else if (strat == ROUTER_STRATEGY_WEIGHTED_RANDOM) {
        wpool_clear(&p->w);
    } else if (strat == ROUTER_STRATEGY_MOST_SKILLED) {
        sring_clear(&p->s);
    } else {
        oring_clear(&p->o);
    }
    p->n = 0;
    p->sets = 0;
}

/* Puts f's pool on channel ch to sleep: its records are dropped, and the
 * agents' walks skip it until pool_wake(). */
static void pool_sleep(struct router *r, const struct aref *f, unsigned ch)
{
    uint32_t id = pool_id(f->queue, f->tier, ch);
    pool_clear(aref_pool(r, f, ch), f->strat);
    r->asleep[id >> 6] |= 1ULL << (id & 63);
    r->pool_sleeps++;
}

/* Moves v[i] down the max-heap (in longest idle order) v[0..n). */
static void idle_sift(const struct router *r, uint32_t *v, uint32_t i,
                      uint32_t n)
{
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && li_less(&r->agents[v[c]], &r->agents[v[c + 1]]))
            c++;
        if (!li_less(&r->agents[v[i]], &r->agents[v[c]]))
            return;
        uint32_t t = v[i];
        v[i] = v[c];
        v[c] = t;
        i = c;
    }
}

/* Sorts the agent handles v[0..n) in longest idle order (li_less), in
 * place and without allocating (qsort may allocate): a heapsort,
 * O(n log n). */
static void idle_sort(const struct router *r, uint32_t *v, uint32_t n)
{
    for (uint32_t k = n / 2; k-- > 0;)
        idle_sift(r, v, k, n);
    for (uint32_t end = n; end > 1; end--) {
        uint32_t t = v[0];
        v[0] = v[end - 1];
        v[end - 1] = t;
        idle_sift(r, v, 0, end - 1);
    }
}

/* Wakes pool (qi, tier, ch): a record with the current key for each of
 * its members that can take the channel now, from the member list. O(m
 * log m) for m members; the pool slept only after at least m + 16
 * records were appended to it since it last compacted, so this is paid
 * for in advance. */
static void pool_wake(struct router *r, unsigned qi, unsigned tier,
                      unsigned ch)
{
    struct queue *q = &r->queues[qi];
    struct apool *p = &q->apool[tier][ch];
    uint32_t id = pool_id(qi, tier, ch);
    const struct pmembers *m = pool_members(r, qi, tier, ch);
    r->asleep[id >> 6] &= ~(1ULL << (id & 63));
    r->pool_wakes++;
    pool_clear(p, q->strategy);
    uint32_t k = 0;
    if (pool_is_wpool(q)) {
        /* the members are the slots; the weights were all 0 */
        for (uint32_t i = 0; i < p->w.len; i++) {
            if (p->w.agent[i] == WPOOL_HOLE)
                continue;
            struct agent *a = &r->agents[p->w.agent[i]];
            if (!can_take(r, a, ch))
                continue;
            wpool_set(&p->w, i, wr_weight((uint16_t)skill_score(a, q)));
            k++;
        }
        p->n = k;
        return;
    }
    for (uint32_t i = 0; m && i < m->n; i++)
        if (can_take(r, &r->agents[m->a[i]], ch))
            r->scratch[k++] = m->a[i];
    if (pool_is_ring(q)) {
        idle_sort(r, r->scratch, k);
        for (uint32_t i = 0; i < k; i++)
            lring_add(r, p, &r->agents[r->scratch[i]], ch);
    } else if (pool_is_sring(q)) {
        /* in idle order, so that each score's ring is */
        idle_sort(r, r->scratch, k);
        for (uint32_t i = 0; i < k; i++) {
            struct agent *a = &r->agents[r->scratch[i]];
            struct aref f = {.score = (uint16_t)skill_score(a, q)};
            sring_add(r, p, a, &f, ch);
        }
    } else {
        /* in idle order, so that each busy count's ring is */
        idle_sort(r, r->scratch, k);
        for (uint32_t i = 0; i < k; i++)
            oring_add_agent(r, p, &r->agents[r->scratch[i]], ch);
    }
    p->n = k;
}

/* Wakes the sleeping pools that a contact of queue qi at `level` on
 * channel ch reads. */
static inline void pools_wake_for(struct router *r, unsigned qi,
                                  unsigned level, unsigned ch)
{
    for (unsigned l = 1; l <= level; l++)
        if (pool_asleep(r, pool_id(qi, l, ch)))
            pool_wake(r, qi, l, ch);
}

/* Adds agent `agent` to the member list of pool (qi, tier, ch): its
 * index there, or ROUTER_ENOMEM. Login and queue creation only. */
static int pmem_add(struct router *r, unsigned qi, unsigned tier,
                    unsigned ch, uint32_t agent)
{
    struct queue *q = &r->queues[qi];
    if (!q->pmem && !(q->pmem = calloc(NLEV * NCH, sizeof(*q->pmem))))
        return ROUTER_ENOMEM;
    struct pmembers *m = &q->pmem[tier * NCH + ch];
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 8;
        uint32_t *v = realloc(m->a, sizeof(*v) * cap);
        if (!v)
            return ROUTER_ENOMEM;
        m->a = v;
        m->cap = cap;
    }
    m->a[m->n] = agent;
    return (int)m->n++;
}

/* Takes index i out of the member list of pool (qi, tier, ch); the last
 * member moves into its place, and its reference follows. */
static void pmem_del(struct router *r, unsigned qi, unsigned tier,
                     unsigned ch, uint32_t i)
{
    struct pmembers *m = pool_members(r, qi, tier, ch);
    uint32_t last = m->a[--m->n];
    if (i == m->n)
        return;
    m->a[i] = last;
    struct agent *b = &r->agents[last];
    for (unsigned k = 0; k < b->nev[ch]; k++)
        if (b->ev[ch][k].queue == qi) {
            b->ev[ch][k].slot = i;
            return;
        }
}

/* Frees the member lists of queue qi's pools and wakes them (a queue
 * slot starts with every pool awake). */
static void pmem_free_queue(struct router *r, unsigned qi)
{
    struct queue *q = &r->queues[qi];
    for (unsigned l = 0; l < NLEV; l++)
        for (unsigned ch = 0; ch < NCH; ch++) {
            uint32_t id = pool_id(qi, l, ch);
            if (q->pmem)
                free(q->pmem[l * NCH + ch].a);
            if (r->asleep)
                r->asleep[id >> 6] &= ~(1ULL << (id & 63));
        }
    free(q->pmem);
    q->pmem = NULL;
}

/* Asks for the pools of the agent's references on one channel before a
 * walk that touches each: they are scattered over the queues, and the
 * misses then overlap instead of coming one after the other. Sleeping
 * pools are not touched by the walk, so not asked for. */
static inline void pools_prefetch(struct router *r, const struct aref *ev,
                                  unsigned n, unsigned ch)
{
    for (unsigned i = 0; i < n; i++)
        if (!aref_asleep(r, &ev[i], ch))
            __builtin_prefetch(aref_pool(r, &ev[i], ch), 1);
}

/* Before a record goes to f's pool (channel ch), which may sleep: whether
 * to skip it because the pool sleeps, or is full and no contact wants it
 * (the pool then goes to sleep instead of compacting). Always inlined:
 * agent_reindex() asks it for every entry, and as a call (which gcc
 * chose once the file grew) it cost more than the test it makes. */
static inline __attribute__((always_inline)) bool
pool_skip(struct router *r, const struct aref *f, unsigned ch)
{
    if (!aref_may_sleep(f))
        return false;
    if (pool_asleep(r, pool_id(f->queue, f->tier, ch)))
        return true;
    if (pool_full(aref_pool(r, f, ch), f) &&
        !pool_wanted(r, f->queue, f->tier, ch)) {
        pool_sleep(r, f, ch);
        return true;
    }
    return false;
}

/* Brings the agent's pool membership up to date after any change of its
 * state, capacity use or keys ("Lazy pool membership" in the essay):
 *  - a channel it can no longer take: the epoch moves on, so that every
 *    entry of the channel goes stale at once, O(1) + a counter per pool
 *    (weighted random pools, which must stay exact, are unlinked);
 *  - a channel it can take again: every entry relinked with the new epoch;
 *  - a channel it still takes: only entries whose key changed (idle_since
 *    for longest idle, most skilled, least occupied; busy slots for least
 *    occupied) move.
 * Sleeping pools are skipped ("Sleeping pools"). */
/* Puts entry f of agent a (channel ch), out of its pool until now, into
 * it: a record with the agent's current key and epoch, a round robin
 * entry linked (rejoin: back where it left the ring, as an agent that
 * could not take the channel for a while; else with a fresh key, as a new
 * entry), a weight set. */
static inline void aref_pool_in(struct router *r, struct agent *a,
                                struct aref *f, unsigned ch, bool rejoin)
{
    struct apool *p = aref_pool(r, f, ch);
    switch (f->strat) {
    case ROUTER_STRATEGY_LONGEST_IDLE:
        lring_add(r, p, a, ch);
        break;
    case ROUTER_STRATEGY_ROUND_ROBIN:
        if (rejoin)
            aent_rejoin(r, a, f->e);
        else
            aent_relink(r, a, f->e);
        break;
    case ROUTER_STRATEGY_WEIGHTED_RANDOM:
        wpool_set(&p->w, f->slot, wr_weight(f->score));
        p->sets++;      /* read above tier 0 only (pool_full) */
        break;
    case ROUTER_STRATEGY_MOST_SKILLED:
        sring_add(r, p, a, f, ch);
        p->sets++;
        break;
    default:
        oring_add_agent(r, p, a, ch);
        break;
    }
    p->n++;
}

static void agent_reindex(struct router *r, struct agent *a)
{
    bool idle_chg = a->pidle != a->idle_seq;
    bool busy_chg = a->pbusy != a->busy_total;
    struct aepoch *ae = &r->aep[ahandle(r, a)];
    for (unsigned ch = 0; ch < NCH; ch++) {
        bool take = can_take(r, a, ch);
        bool was = a->pooled & (1U << ch);
        struct aref *ev = a->ev[ch];
        unsigned n = a->nev[ch];
        if (!take) {
            if (!was)
                continue;
            a->pooled &= (uint8_t)~(1U << ch);
            a->ep[ch]++;
            ae->lep[ch]++;
            ae->oep[ch]++;
            pools_prefetch(r, ev, n, ch);
            for (unsigned i = 0; i < n; i++) {
                if (aref_asleep(r, &ev[i], ch))
                    continue;
                struct apool *p = aref_pool(r, &ev[i], ch);
                p->n--;
                if (ev[i].strat == ROUTER_STRATEGY_WEIGHTED_RANDOM)
                    wpool_set(&p->w, ev[i].slot, 0);
            }
            continue;
        }
        if (!was) {
            pools_prefetch(r, ev, n, ch);
            for (unsigned i = 0; i < n; i++)
                if (ev[i].strat == ROUTER_STRATEGY_ROUND_ROBIN)
                    __builtin_prefetch((const char *)ev[i].e + 64);
            for (unsigned i = 0; i < n; i++)
                if (!pool_skip(r, &ev[i], ch))
                    aref_pool_in(r, a, &ev[i], ch, true);
            if (n)
                a->pooled |= (uint8_t)(1U << ch);
            continue;
        }
        if (!idle_chg && !busy_chg)
            continue;
        /* new keys: new records (the old ones go stale) */
        if (idle_chg)
            ae->lep[ch]++;
        ae->oep[ch]++;
        pools_prefetch(r, ev, n, ch);
        for (unsigned i = 0; i < n; i++) {
            switch (ev[i].strat) {
            case ROUTER_STRATEGY_LONGEST_IDLE:
                if (idle_chg && !pool_skip(r, &ev[i], ch))
                    lring_add(r, aref_pool(r, &ev[i], ch), a, ch);
                break;
            case ROUTER_STRATEGY_MOST_SKILLED:
                if (idle_chg && !pool_skip(r, &ev[i], ch)) {
                    struct apool *p = aref_pool(r, &ev[i], ch);
                    sring_add(r, p, a, &ev[i], ch);
                    p->sets++;
                }
                break;
            case ROUTER_STRATEGY_LEAST_OCCUPIED:
                if (!pool_skip(r, &ev[i], ch))
                    oring_add_agent(r, aref_pool(r, &ev[i], ch), a, ch);
                break;
            default:            /* keys of their own (round robin) or
                                   none (weighted random) */
                break;
            }
        }
    }
    a->pidle = a->idle_seq;
    a->pbusy = a->busy_total;
}

/* The idle_seq of agent a becoming idle now: its care load in the high
 * bits (router_agent_set_load), the order of becoming idle below, so that
 * among agents idle since the same moment the lower load comes first in
 * every strategy that breaks ties by idle_seq. With every load 0 it is
 * the plain counter. */
static inline uint64_t idle_seq_next(struct router *r, const struct agent *a)
{
    return (uint64_t)a->load << 48 | (++r->idle_ctr & ((1ULL << 48) - 1));
}

static void agent_set_state(struct router *r, struct agent *a, uint64_t now,
                            enum router_agent_state st, const char *reason)
{
    if (a->state == ROUTER_AGENT_STATE_WRAPUP &&
        st != ROUTER_AGENT_STATE_WRAPUP) {
        a->wrap_until = NEVER;
        timer_arm(r, &a->timer, a->uid, NEVER);
    }
    a->state = st;
    copy_id(a->reason, reason ? reason : "");
    a->state_since = now;
    if (st == ROUTER_AGENT_STATE_AVAILABLE) {
        a->idle_since = now;
        a->idle_seq = idle_seq_next(r, a);
    }
    struct router_event *e = emit(r, ROUTER_EV_AGENT_STATE, NULL, a);
    e->u.agent_state = st;
}

static void busy_add(struct agent *a, unsigned ch, int d, uint64_t now)
{
    if (d > 0) {
        if (a->busy_total == 0)
            a->busy_since = now;
        a->busy[ch]++;
        a->busy_total++;
    } else {
        a->busy[ch]--;
        a->busy_total--;
        if (a->busy_total == 0)
            a->busy_acc += now - a->busy_since;
    }
}

static void work_append(struct router *r, struct agent *a, struct contact *c)
{
    uint32_t h = chandle(r, c);
    c->wnext = NONE;
    c->wprev = a->work_tail;
    if (a->work_tail != NONE)
        r->contacts[a->work_tail].wnext = h;
    else
        a->work_head = h;
    a->work_tail = h;
}

static void work_remove(struct router *r, struct agent *a, struct contact *c)
{
    if (c->wprev != NONE)
        r->contacts[c->wprev].wnext = c->wnext;
    else
        a->work_head = c->wnext;
    if (c->wnext != NONE)
        r->contacts[c->wnext].wprev = c->wprev;
    else
        a->work_tail = c->wprev;
    c->wprev = c->wnext = NONE;
}

/* ---- contacts: queue membership ---- */

static struct treap *contact_tree(struct router *r, struct contact *c)
{
    if (c->inpref)
        return &r->agents[c->agent].pref;
    return &r->queues[c->queue].cpool[c->level][c->channel];
}

static void cq_insert(struct router *r, struct contact *c)
{
    treap_insert(contact_tree(r, c), &c->node);
    if (!c->inpref) {
        struct queue *q = &r->queues[c->queue];
        q->cmask[c->channel] |= (uint16_t)(1U << c->level);
        if (q->grouped)
            r->queues[q->grp].gmask |= (uint16_t)(1U << q->gtop);
        r->npooled[c->channel]++;
    }
}

static void cq_remove(struct router *r, struct contact *c)
{
    struct treap *t = contact_tree(r, c);
    treap_remove(t, &c->node);
    if (!c->inpref) {
        r->npooled[c->channel]--;
        if (!t->root) {
            struct queue *q = &r->queues[c->queue];
            q->cmask[c->channel] &= (uint16_t)~(1U << c->level);
            if (q->grouped)
                r->queues[q->grp].gmask &= (uint16_t)~(1U << q->gtop);
        }
    }
}

/* The waiting fifo of a queue is in arrival order (arrived_at, which a
 * move keeps), so that its head gives the longest wait. New contacts go
 * to the back in O(1); a moved one walks from the back to its place. */
/* Appends c to its queue's fifo: O(1). A contact that arrived before the
 * latest arrival appended (moved in by a step, an overflow or a transfer,
 * keeping its arrival) is counted as early instead of being walked into
 * arrival order,
 * which cost a walk over every later arrival of the queue per move. Only
 * the queue's longest wait needs the oldest arrival (fifo_oldest). */
static void fifo_add(struct router *r, struct contact *c)
{
    struct queue *q = squeue(r, c->queue);
    uint32_t h = chandle(r, c), t = q->fifo_tail;
    if (t == NONE)
        q->fifo_max = 0;
    c->fifo_early = c->arrived_at < q->fifo_max;
    q->nfifo_early += c->fifo_early;
    if (c->arrived_at > q->fifo_max)
        q->fifo_max = c->arrived_at;
    c->qprev = t;
    c->qnext = NONE;
    if (t == NONE)
        q->fifo_head = h;
    else
        r->contacts[t].qnext = h;
    q->fifo_tail = h;
    c->infifo = true;
    q->waiting++;
    r->nwaiting++;
}

/* The waiting contact of q that arrived first, or NONE: the head while no
 * early contact waits, else one pass over the fifo (Stats only, not the
 * routing path). */
static uint32_t fifo_oldest(const struct router *r, const struct queue *q)
{
    uint32_t best = q->fifo_head;
    if (!q->nfifo_early || best == NONE)
        return best;
    for (uint32_t h = r->contacts[best].qnext; h != NONE;
         h = r->contacts[h].qnext)
        if (r->contacts[h].arrived_at < r->contacts[best].arrived_at)
            best = h;
    return best;
}

static void fifo_remove(struct router *r, struct contact *c)
{
    if (!c->infifo)
        return;
    struct queue *q = squeue(r, c->queue);
    if (c->qprev != NONE)
        r->contacts[c->qprev].qnext = c->qnext;
    else
        q->fifo_head = c->qnext;
    if (c->qnext != NONE)
        r->contacts[c->qnext].qprev = c->qprev;
    else
        q->fifo_tail = c->qprev;
    c->qprev = c->qnext = NONE;
    c->infifo = false;
    q->nfifo_early -= c->fifo_early;
    c->fifo_early = false;
    q->waiting--;
    r->nwaiting--;
}

/* Whether contact c may not be offered to agent a: a's id is among c's
 * exclusions, or c is difficult and a in routine-only mode. */
static bool excluded(const struct contact *c, const struct agent *a)
{
    if (c->difficult && a->routine)
        return true;
    for (unsigned i = 0; i < c->nexcl; i++)
        if (c->excl[i] == a->idh)
            return true;
    return false;
}

static void excl_add(struct contact *c, uint64_t idh)
{
    for (unsigned i = 0; i < c->nexcl; i++)
        if (c->excl[i] == idh)
            return;
    if (c->nexcl == EXCL_MAX) {
        memmove(c->excl, c->excl + 1, sizeof(c->excl[0]) * (EXCL_MAX - 1));
        c->nexcl--;
    }
    c->excl[c->nexcl++] = idh;
}

static void excl_del(struct contact *c, uint64_t idh)
{
    for (unsigned i = 0; i < c->nexcl; i++)
        if (c->excl[i] == idh) {
            memmove(c->excl + i, c->excl + i + 1,
                    sizeof(c->excl[0]) * (c->nexcl - i - 1));
            c->nexcl--;
            return;
        }
}

/* router__contact_due(), and in *tf the timer fifo whose offset gave it
 * (TF_N: none). */
static uint64_t contact_due_fifo(const struct router *r,
                                 const struct contact *c, uint32_t *tf)
{
    uint64_t d = NEVER;
    uint32_t k = TF_N;
    if (c->state == ROUTER_CONTACT_OFFERED) {
        d = c->deadline;
        k = (uint32_t)c->queue * TF_PERQ + TF_OFFER;
    } else if (c->state == ROUTER_CONTACT_QUEUED) {
        if (c->inpref) {
            d = c->pref_until;
            k = TF_PREF;
        } else {
            const struct queue *q = &r->queues[c->queue];
            if (c->level < q->nsteps) {
                d = c->queued_at + (uint64_t)q->step_ms[c->level] * 1000;
                k = (uint32_t)c->queue * TF_PERQ + c->level;
            }
            if (q->max_wait_ms && q->overflow >= 0) {
                uint64_t w = c->queued_at + (uint64_t)q->max_wait_ms * 1000;
                if (w < d) {
                    d = w;
                    k = (uint32_t)c->queue * TF_PERQ + TF_MAXWAIT;
                }
            }
        }
        if (c->kick && c->kick_at < d) {
            d = c->kick_at;
            k = TF_KICK;
        }
    }
    if (r->cfg.max_contact_age_ms &&
        (c->state == ROUTER_CONTACT_QUEUED ||
         c->state == ROUTER_CONTACT_OFFERED)) {
        uint64_t age = c->arrived_at + (uint64_t)r->cfg.max_contact_age_ms *
                                       1000;
        if (age < d) {
            d = age;
            k = TF_AGE;
        }
    }
    *tf = k;
    return d;
}

uint64_t router__contact_due(const struct router *r, const struct contact *c)
{
    uint32_t tf;
    return contact_due_fifo(r, c, &tf);
}

static void contact_rearm(struct router *r, struct contact *c)
{
    uint32_t tf;
    uint64_t due = contact_due_fifo(r, c, &tf);
    contact_timer_set(r, c, due, tf);
}

/* Puts a QUEUED contact (not in any index) into its queue's pool at the
 * level its waiting time gives. */
static void contact_to_pool(struct router *r, struct contact *c, uint64_t now)
{
    c->inpref = 0;
    c->agent = NONE;
    c->state = ROUTER_CONTACT_QUEUED;
    c->level = (uint8_t)level_at(&r->queues[c->queue], c->queued_at, now);
    cq_insert(r, c);
    contact_rearm(r, c);
}

static uint32_t queue_count_less(const struct queue *q, const struct contact *c)
{
    uint32_t n = 0;
    for (unsigned l = 0; l <= q->nsteps; l++)
        for (unsigned ch = 0; ch < NCH; ch++)
            if (q->cpool[l][ch].root)
                n += treap_count_less(&q->cpool[l][ch], c->node.k1,
                                      c->node.k2);
    return n;
}

/* 1 + the contacts queued ahead (by key) in the contact's base queue and
 * every queue derived from it. */
static uint32_t contact_position(const struct router *r,
                                 const struct contact *c)
{
    const struct queue *b = squeue(r, c->queue);
    uint32_t pos = 1 + queue_count_less(b, c);
    for (int d = b->derived; d >= 0; d = r->queues[d].derived_next)
        pos += queue_count_less(&r->queues[d], c);
    return pos;
}

/* Whether no logged-in agent could ever serve the waiting contact c: it
 * waits in its queue's pools (not for a named agent) and no agent has an
 * entry in that queue for its channel, at any tier. O(1). */
static bool contact_unservable(const struct router *r,
                               const struct contact *c)
{
    return c->state == ROUTER_CONTACT_QUEUED && !c->inpref &&
           queue_nserv(r, &r->queues[c->queue], c->channel) == 0;
}

/* The contact waits (again): arrival, expansion step, rejected or expired
 * offer, revoke, overflow, transfer. One QUEUED event each. */
static void emit_queued(struct router *r, struct contact *c, uint64_t now)
{
    struct router_event *e = emit(r, ROUTER_EV_QUEUED, c, NULL);
    e->position = contact_position(r, c);
    e->unservable = contact_unservable(r, c);
    e->est_wait_ms = router_estimated_wait(r, r->queues[c->queue].base, now);
    /* the estimate is for the back of the queue; scale to the position */
    if (e->est_wait_ms) {
        uint32_t back = squeue(r, c->queue)->waiting;
        if (back > 0 && e->position < back)
            e->est_wait_ms = (uint32_t)((uint64_t)e->est_wait_ms *
                                        e->position / back);
    }
}

/* ---- slot management ---- */

/* One contact more (d = +1) or less (-1) in queue qi (qi < 0: none; d = 0
 * for a queue just created). A created queue left without contacts joins
 * the back of the doomed list: router_out_clear() frees from its front
 * while more than ROUTER_QUEUES_KEPT are unused. */
static void queue_ref(struct router *r, int qi, int d)
{
    if (qi < 0)
        return;
    struct queue *q = &r->queues[qi];
    uint32_t old = q->nref;
    q->nref = (uint32_t)((int64_t)old + d);
    if ((unsigned)qi < r->nconf)
        return;
    if (old == 0 && q->nref > 0) {
        r->nunused--;
    } else if (q->nref == 0 && (old > 0 || d == 0)) {
        r->nunused++;
        if (!q->doomed) {
            q->doomed = true;
            q->qnext = -1;
            if (r->queue_doomed < 0)
                r->queue_doomed = qi;
            else
                r->queues[r->queue_doomed_tail].qnext = qi;
            r->queue_doomed_tail = qi;
        }
    }
}

static void contact_release(struct router *r, struct contact *c,
                            enum router_contact_state st)
{
    queue_ref(r, c->queue, -1);
    fifo_remove(r, c);
    contact_timer_set(r, c, NEVER, TF_N);
    idmap_remove(&r->contact_map, c->idh, chandle(r, c));
    c->state = st;
    c->gone = 1;
    c->next = r->contact_gone;
    r->contact_gone = chandle(r, c);
    r->ncontacts--;
}

static void aent_put(struct router *r, struct aent *e)
{
    e->node.p = (struct tnode *)r->aent_free;
    r->aent_free = e;
}

static struct aent *aent_get(struct router *r)
{
    if (!r->aent_free) {
        void **ch = realloc(r->chunks, sizeof(*ch) * (r->nchunks + 1));
        if (!ch)
            return NULL;
        r->chunks = ch;
        struct aent *blk = calloc(AENT_CHUNK, sizeof(*blk));
        if (!blk)
            return NULL;
        r->chunks[r->nchunks++] = blk;
        for (unsigned i = 0; i < AENT_CHUNK; i++)
            aent_put(r, &blk[i]);
    }
    struct aent *e = r->aent_free;
    r->aent_free = (struct aent *)e->node.p;
    memset(e, 0, sizeof(*e));
    return e;
}

/* Undoes one pool membership of agent a (reference f, channel ch): the
 * queue's staffing counts, the pool's size, the ring reservation or the
 * pool entry. The caller takes f out of a->ev[ch]. */
static void aref_drop(struct router *r, const struct agent *a,
                      const struct aref *f, unsigned ch)
{
    struct queue *q = &r->queues[f->queue];
    struct apool *p = aref_pool(r, f, ch);
    if (f->first)
        q->staffed--;
    q->nserv[ch]--;
    q->gtier[f->tier] -= f->grp;
    if (f->strat != ROUTER_STRATEGY_ROUND_ROBIN) {
        if ((a->pooled & (1U << ch)) && !aref_asleep(r, f, ch))
            p->n--;
        if (aref_has_pmem(f))
            pmem_del(r, f->queue, f->tier, ch, f->slot);
        if (f->strat == ROUTER_STRATEGY_LONGEST_IDLE) {
            lring_unreserve(&p->li);
        } else if (f->strat == ROUTER_STRATEGY_WEIGHTED_RANDOM) {
            wpool_set(&p->w, f->slot, 0);
            wpool_remove(&p->w, f->slot);
        } else if (f->strat == ROUTER_STRATEGY_MOST_SKILLED) {
            sring_unreserve(&p->s, f->score);
        } else {
            oring_unreserve(&p->o, lo_top(r, a, ch));
        }
        return;
    }
    struct aent *e = f->e;
    if (aent_valid(r, e))
        p->n--;
    if (e->inpool)
        pool_remove(q, p, &e->node);
    aent_put(r, e);
}

static void agent_drop_entries(struct router *r, struct agent *a)
{
    for (unsigned ch = 0; ch < NCH; ch++) {
        for (unsigned i = 0; i < a->nev[ch]; i++)
            aref_drop(r, a, &a->ev[ch][i], ch);
        a->nev[ch] = 0;
        r->aep[ahandle(r, a)].lep[ch]++;    /* its records go stale */
        r->aep[ahandle(r, a)].oep[ch]++;
    }
    a->pooled = 0;
}

static void agent_release(struct router *r, struct agent *a)
{
    idmap_remove(&r->agent_map, a->idh, ahandle(r, a));
    free(a->served);
    a->served = NULL;
    a->nserved = 0;
    for (unsigned ch = 0; ch < NCH; ch++) {
        free(a->ev[ch]);
        a->ev[ch] = NULL;
        a->cev[ch] = 0;
    }
    a->gone = 1;
    a->next = r->agent_gone;
    r->agent_gone = ahandle(r, a);
    r->nagents--;
}

/* A weighted random pool's compaction moved `agent` to `slot`: its
 * reference follows. */
struct wmoved_ctx {
    struct router *r;
    uint16_t queue;
    unsigned ch;
};

static void wpool_moved_fn(void *ctx, uint32_t agent, uint32_t slot)
{
    const struct wmoved_ctx *mc = ctx;
    struct agent *a = &mc->r->agents[agent];
    for (unsigned i = 0; i < a->nev[mc->ch]; i++)
        if (a->ev[mc->ch][i].queue == mc->queue) {
            a->ev[mc->ch][i].slot = slot;
            return;
        }
}

/* Builds the entries of `a` for queue qi; `list` from the login spec. */
static int agent_add_queue(struct router *r, struct agent *a, int qi)
{
    int tier = agent_tier(r, a, qi);
    if (tier < 0)
        return 0;
    struct queue *q = &r->queues[qi];
    bool first = tier == 0;
    for (unsigned ch = 0; ch < NCH; ch++) {
        if (!a->cap[ch] || (q->channel_mask && !(q->channel_mask & (1U << ch))))
            continue;
        if (a->nev[ch] == a->cev[ch]) {
            unsigned cap = a->cev[ch] ? a->cev[ch] * 2u : 4u;
            if (cap > UINT16_MAX)
                return ROUTER_ENOMEM;
            struct aref *v = realloc(a->ev[ch], sizeof(*v) * cap);
            if (!v)
                return ROUTER_ENOMEM;
            a->ev[ch] = v;
            a->cev[ch] = (uint16_t)cap;
        }
        struct aref f = {.queue = (uint16_t)qi,
                         .score = (uint16_t)skill_score(a, q),
                         .tier = (uint8_t)tier,
                         .strat = (uint8_t)q->strategy,
                         .first = first,
                         .grp = q->isgrp};
        struct aent *e = NULL;
        if (pool_is_ring(q)) {
            if (lring_reserve(&q->apool[tier][ch].li) < 0)
                return ROUTER_ENOMEM;
        } else if (pool_is_oring(q)) {
            if (oring_reserve(&q->apool[tier][ch].o, lo_top(r, a, ch)) < 0)
                return ROUTER_ENOMEM;
        } else if (pool_is_sring(q)) {
            if (sring_reserve(&q->apool[tier][ch].s, f.score) < 0)
                return ROUTER_ENOMEM;
        }
        if (aref_has_pmem(&f)) {
            int mi = pmem_add(r, (unsigned)qi, (unsigned)tier, ch,
                              ahandle(r, a));
            if (mi < 0) {
                if (pool_is_ring(q))
                    lring_unreserve(&q->apool[tier][ch].li);
                else if (pool_is_sring(q))
                    sring_unreserve(&q->apool[tier][ch].s, f.score);
                else
                    oring_unreserve(&q->apool[tier][ch].o, lo_top(r, a, ch));
                return ROUTER_ENOMEM;
            }
            f.slot = (uint32_t)mi;
        } else if (pool_is_ring(q) || pool_is_oring(q) || pool_is_sring(q)) {
            /* tier 0: no member list */
        } else if (pool_is_wpool(q)) {
            struct wmoved_ctx mc = {r, (uint16_t)qi, ch};
            int s = wpool_add(&q->apool[tier][ch].w, ahandle(r, a),
                              wpool_moved_fn, &mc);
            if (s < 0)
                return ROUTER_ENOMEM;
            f.slot = (uint32_t)s;
        } else {
            if (!(e = aent_get(r)))
                return ROUTER_ENOMEM;
            e->agent = ahandle(r, a);
            e->queue = (uint16_t)qi;
            e->tier = (uint8_t)tier;
            e->ch = (uint8_t)ch;
            e->node.w = 1;
            e->rr = a->uid;
            e->node.prio = next_prio(r);
            f.e = e;
        }
        if (first)
            q->staffed++;
        q->nserv[ch]++;
        q->gtier[tier] += q->isgrp;
        a->ev[ch][a->nev[ch]++] = f;
        first = false;
    }
    return 0;
}

/* ---- decisions ---- */

/* The smallest valid record of heap h, from slot i down, of an agent that
 * c does not exclude and ordered before *best (when *found): a walk that
 * enters only subtrees whose root orders before the best so far, so it
 * visits the stale and excluded records ahead of the answer and their
 * children. Recursion depth <= the heap's height. */
static void heap_best(const struct router *r, const struct aheap *h,
                      uint32_t i, const struct contact *c,
                      aheap_valid_cb valid, unsigned ch, struct hrec *best,
                      bool *found)
{
    if (i >= h->len)
        return;
    const struct hrec *x = &h->v[i];
    if (*found && !hrec_less(x, best))
        return;
    if (valid(r, ch, x) && !excluded(c, &r->agents[x->agent])) {
        *best = *x;
        *found = true;
        return;
    }
    heap_best(r, h, 2 * i + 1, c, valid, ch, best, found);
    heap_best(r, h, 2 * i + 2, c, valid, ch, best, found);
}

/* An agent's care weight in microseconds (router_agent_set_idle_shift). */
static inline uint64_t shift_us(const struct agent *a)
{
    return (uint64_t)a->idle_shift_ms * 1000;
}

/* heap_best() for a difficult contact: the record of the smallest key
 * once each agent's shift is added to k1 (its idle_since bits; the
 * shift is capped far below a carry into the score or busy bits).
 * *eff holds the best's shifted k1. A subtree whose root's own key is
 * not before the best shifted key cannot hold a better one (every key
 * below is at least the root's, and a shift only adds). */
static void heap_best_w(const struct router *r, const struct aheap *h,
                        uint32_t i, const struct contact *c,
                        aheap_valid_cb valid, unsigned ch, struct hrec *best,
                        uint64_t *eff, bool *found)
{
    if (i >= h->len)
        return;
    const struct hrec *x = &h->v[i];
    if (*found && (x->k1 > *eff || (x->k1 == *eff && x->k2 >= best->k2)))
        return;
    if (valid(r, ch, x) && !excluded(c, &r->agents[x->agent])) {
        uint64_t e = x->k1 + shift_us(&r->agents[x->agent]);
        if (!*found || e < *eff || (e == *eff && x->k2 < best->k2)) {
            *best = *x;
            *eff = e;
            *found = true;
        }
    }
    heap_best_w(r, h, 2 * i + 1, c, valid, ch, best, eff, found);
    heap_best_w(r, h, 2 * i + 2, c, valid, ch, best, eff, found);
}

static struct agent *best_agent(struct router *r, struct contact *c)
{
    struct queue *q = &r->queues[c->queue];
    unsigned ch = c->channel;
    unsigned qi = (unsigned)c->queue, lev = c->level;
    if (q->grouped) {           /* its group's tiers 0..gtop */
        qi = q->grp;
        lev = q->gtop;
        q = &r->queues[qi];
    }
    if (c->inpref) {
        struct agent *p = &r->agents[c->agent];
        return can_take(r, p, ch) ? p : NULL;
    }
    if (q->strategy == ROUTER_STRATEGY_WEIGHTED_RANDOM) {
        pools_wake_for(r, qi, lev, ch);
        uint64_t total = 0;
        for (unsigned l = 0; l <= lev; l++)
            total += q->apool[l][ch].w.total;
        if (total == 0)
            return NULL;
        for (unsigned t = 0; t < WR_TRIES; t++) {
            uint64_t x = rng_next(&r->rng) % total;
            unsigned l = 0;
            while (x >= q->apool[l][ch].w.total) {
                x -= q->apool[l][ch].w.total;
                l++;
            }
            const struct wpool *w = &q->apool[l][ch].w;
            struct agent *a = &r->agents[w->agent[wpool_pick(w, x)]];
            if (!excluded(c, a))
                return a;
        }
        for (unsigned l = 0; l <= lev; l++) {
            const struct wpool *w = &q->apool[l][ch].w;
            for (uint32_t i = 0; w->total && i < w->len; i++) {
                if (!w->w[i])
                    continue;
                struct agent *a = &r->agents[w->agent[i]];
                if (!excluded(c, a))
                    return a;
            }
        }
        return NULL;
    }
    if (pool_is_ring(q) || pool_is_oring(q) || pool_is_sring(q))
        pools_wake_for(r, qi, lev, ch);
    if (pool_is_ring(q)) {
        struct agent *best = NULL;
        uint64_t eff = 0;               /* difficult: best's shifted key */
        for (unsigned l = 0; l <= lev; l++) {
            struct apool *p = &q->apool[l][ch];
            for (uint32_t i = 0; i < p->li.len;) {
                const struct lrec *x = lring_at(&p->li, i);
                struct agent *a = &r->agents[x->agent];
                if (r->aep[x->agent].lep[ch] != x->ep) {
                    if (i == 0) {       /* stale at the front: dropped */
                        lring_pop_front(&p->li);
                    } else {
                        i++;
                    }
                    continue;
                }
                if (c->difficult) {     /* the care weight (see above) */
                    if (best && a->idle_since > eff)
                        break;
                    uint64_t e = a->idle_since + shift_us(a);
                    if (!excluded(c, a) &&
                        (!best || e < eff ||
                         (e == eff && a->idle_seq < best->idle_seq))) {
                        best = a;
                        eff = e;
                    }
                    i++;
                    continue;
                }
                if (best && !li_less(a, best))
                    break;
                if (!excluded(c, a)) {
                    best = a;
                    break;
                }
                i++;
            }
        }
        return best;
    }
    if (pool_is_sring(q)) {
        /* the first valid, non-excluded record of the highest score over
         * the levels' pools; a score below the best so far ends a pool.
         * A difficult contact takes, within the highest score, the
         * smallest shifted idle time: a ring is in idle order, so its
         * walk ends at the first record idle after the best's shifted
         * key */
        struct agent *best = NULL;
        int bscore = -1;
        uint64_t eff = 0;               /* difficult: best's shifted key */
        for (unsigned l = 0; l <= lev; l++) {
            struct apool *p = &q->apool[l][ch];
            if (!p->n)
                continue;
            for (int s = sring_next(&p->s, SRING_SCORES);
                 s >= 0 && s >= bscore; s = sring_next(&p->s, s)) {
                struct lring *g = &p->s.ring[s];
                bool found = false;
                for (uint32_t i = 0; i < g->len;) {
                    const struct lrec *x = lring_at(g, i);
                    struct agent *a = &r->agents[x->agent];
                    if (r->aep[x->agent].lep[ch] != x->ep) {
                        if (i == 0) {   /* stale at the front: dropped */
                            lring_pop_front(g);
                        } else {
                            i++;
                        }
                        continue;
                    }
                    if (c->difficult) { /* the care weight, within a score */
                        if (s == bscore && a->idle_since > eff)
                            break;
                        uint64_t e = a->idle_since + shift_us(a);
                        if (!excluded(c, a) &&
                            (s > bscore || e < eff ||
                             (e == eff && a->idle_seq < best->idle_seq))) {
                            best = a;
                            bscore = s;
                            eff = e;
                            found = true;
                        }
                        i++;
                        continue;
                    }
                    if (s == bscore && !li_less(a, best))
                        break;
                    if (!excluded(c, a)) {
                        best = a;
                        bscore = s;
                        found = true;
                        break;
                    }
                    i++;
                }
                if (!g->len)
                    p->s.nonempty[s >> 6] &= ~(1ULL << (s & 63));
                if (found)
                    break;
            }
        }
        return best;
    }
    if (pool_is_oring(q)) {
        /* per level: the heap's best (stale tops dropped), then the
         * rings from the lowest busy count, each walked from its front
         * while its keys are before the best so far: a ring is in key
         * order and every key of a higher busy count is larger, so the
         * first valid, non-excluded record met ends the walk. A
         * difficult contact takes the smallest shifted key: the walk
         * goes on while a record's own key is before the best shifted
         * key, as heap_best_w() does in the heap. */
        const struct aheap_ops *o = &r->hops_lo;
        struct hrec best = {0};
        uint64_t eff = 0;
        bool found = false;
        for (unsigned l = 0; l <= lev; l++) {
            struct apool *p = &q->apool[l][ch];
            if (!p->n)
                continue;
            struct oring *g = &p->o;
            const struct hrec *x;
            while ((x = aheap_top(&g->h)) && !o->valid(r, ch, x))
                aheap_pop(&g->h);       /* stale at the top: dropped */
            if (x && c->difficult) {    /* the care weight */
                heap_best_w(r, &g->h, 0, c, o->valid, ch, &best, &eff,
                            &found);
            } else if (x && (!found || hrec_less(x, &best))) {
                if (!excluded(c, &r->agents[x->agent])) {
                    best = *x;
                    found = true;
                } else {
                    heap_best(r, &g->h, 0, c, o->valid, ch, &best, &found);
                }
            }
            for (int b = oring_next(g, 0); b >= 0;
                 b = oring_next(g, (unsigned)b + 1)) {
                struct lring *ring = &g->ring[b];
                bool stop = false;
                for (uint32_t i = 0; i < ring->len;) {
                    const struct lrec *y = lring_at(ring, i);
                    if (r->aep[y->agent].oep[ch] != y->ep) {
                        if (i == 0)     /* stale at the front: dropped */
                            lring_pop_front(ring);
                        else
                            i++;
                        continue;
                    }
                    struct agent *a = &r->agents[y->agent];
                    struct hrec k = {.agent = y->agent, .ep = y->ep};
                    hrec_key(a, ROUTER_STRATEGY_LEAST_OCCUPIED, 0, &k.k1,
                             &k.k2);
                    if (c->difficult) {
                        if (found && (k.k1 > eff ||
                                      (k.k1 == eff && k.k2 >= best.k2))) {
                            stop = true;
                            break;
                        }
                        uint64_t e = k.k1 + shift_us(a);
                        if (!excluded(c, a) &&
                            (!found || e < eff ||
                             (e == eff && k.k2 < best.k2))) {
                            best = k;
                            eff = e;
                            found = true;
                        }
                        i++;
                        continue;
                    }
                    if (found && !hrec_less(&k, &best)) {
                        stop = true;
                        break;
                    }
                    if (!excluded(c, a)) {
                        best = k;
                        found = true;
                        stop = true;
                        break;
                    }
                    i++;
                }
                if (!ring->len)
                    g->nonempty &= ~(1u << b);
                if (stop)
                    break;
            }
        }
        return found ? &r->agents[best.agent] : NULL;
    }
    struct tnode *best = NULL;
    for (unsigned l = 0; l <= lev; l++) {
        struct apool *p = &q->apool[l][ch];
        for (struct tnode *n = pool_first(q, p), *nx; n; n = nx) {
            struct aent *e = (struct aent *)n;
            nx = pool_next(q, n);
            if (!aent_valid(r, e)) {
                /* stale: met once, unlinked for good */
                pool_remove(q, p, n);
                e->inpool = 0;
                continue;
            }
            if (best && !tnode_less(n, best))
                break;
            if (excluded(c, &r->agents[e->agent]))
                continue;
            best = n;
            break;
        }
    }
    return best ? &r->agents[((struct aent *)best)->agent] : NULL;
}

static struct contact *best_contact(struct router *r, struct agent *a)
{
    struct contact *best = NULL;
    bool take[NCH];
    for (unsigned ch = 0; ch < NCH; ch++)
        take[ch] = can_take(r, a, ch);
    for (struct tnode *n = treap_first(&a->pref); n; n = treap_next(n)) {
        struct contact *c = (struct contact *)n;
        if (take[c->channel]) {
            best = c;
            break;
        }
    }
    for (unsigned ch = 0; ch < NCH; ch++) {
    if (!take[ch] || !r->npooled[ch])
        continue;
    for (unsigned i = 0; i < a->nev[ch]; i++) {
        const struct aref *f = &a->ev[ch][i];
        struct queue *q = &r->queues[f->queue];
        if (f->grp) {
            /* the virtual queues that read tier f->tier of the group:
             * gtop >= it; their contacts wait at level 0 */
            for (unsigned m = (unsigned)q->gmask >> f->tier, t = f->tier; m;
                 m >>= 1, t++) {
                if (!(m & 1))
                    continue;
                struct queue *vq = &r->queues[q->gvq[t] - 1];
                for (struct tnode *n = treap_first(&vq->cpool[0][ch]); n;
                     n = treap_next(n)) {
                    if (best && !tnode_less(n, &best->node))
                        break;
                    struct contact *c = (struct contact *)n;
                    if (excluded(c, a))
                        continue;
                    best = c;
                    break;
                }
            }
            continue;
        }
        for (unsigned m = q->cmask[ch] >> f->tier, l = f->tier; m;
             m >>= 1, l++)
            for (struct tnode *n = m & 1 ? treap_first(&q->cpool[l][ch])
                                         : NULL;
                 n; n = treap_next(n)) {
                if (best && !tnode_less(n, &best->node))
                    break;
                struct contact *c = (struct contact *)n;
                if (excluded(c, a))
                    continue;
                best = c;
                break;
            }
    }
    }
    return best;
}

static void offer(struct router *r, uint64_t now, struct contact *c,
                  struct agent *a)
{
    struct queue *q = &r->queues[c->queue];
    cq_remove(r, c);
    c->inpref = 0;
    c->kick = 0;
    c->state = ROUTER_CONTACT_OFFERED;
    c->agent = ahandle(r, a);
    c->deadline = now + (uint64_t)q->offer_timeout_ms * 1000;
    work_append(r, a, c);
    busy_add(a, c->channel, +1, now);
    if (q->strategy == ROUTER_STRATEGY_ROUND_ROBIN) {
        /* the queue's entries move to the back of its pools now; the
         * others of the agent are not touched */
        uint32_t v = ++r->seq;
        for (unsigned ch = 0; ch < NCH; ch++)
            for (unsigned i = 0; i < a->nev[ch]; i++) {
                struct aent *e = a->ev[ch][i].e;
                if (a->ev[ch][i].queue != c->queue)
                    continue;
                e->rr = v;
                if (!e->inpool)
                    continue;
                /* valid or stale, its place follows its key, so that a
                 * stale entry can be revalidated where it is */
                struct queue *eq = &r->queues[e->queue];
                struct apool *p = &eq->apool[e->tier][ch];
                pool_remove(eq, p, &e->node);
                aent_key(r, a, e, &e->node.k1, &e->node.k2);
                pool_insert(eq, p, &e->node);
            }
    }
    contact_rearm(r, c);
    struct router_event *ev = emit(r, ROUTER_EV_OFFER, c, a);
    ev->deadline = c->deadline;
}

static void route_contact(struct router *r, uint64_t now, struct contact *c)
{
    if (c->state != ROUTER_CONTACT_QUEUED)
        return;
    struct agent *a = best_agent(r, c);
    if (a) {
        offer(r, now, c, a);
        agent_reindex(r, a);
    }
}

/* Offers the agent the best contacts it can take, then brings its pool
 * entries up to date (once, not after every offer). */
static void fill_agent(struct router *r, uint64_t now, struct agent *a)
{
    while (a->state == ROUTER_AGENT_STATE_AVAILABLE) {
        struct contact *c = best_contact(r, a);
        if (!c)
            break;
        offer(r, now, c, a);
    }
    if (a->live && !a->gone)
        agent_reindex(r, a);
}

/* Frees the agent's slot of an offered/assigned contact. */
static void slot_free(struct router *r, struct agent *a, struct contact *c,
                      uint64_t now)
{
    work_remove(r, a, c);
    busy_add(a, c->channel, -1, now);
    a->idle_since = now;
    a->idle_seq = idle_seq_next(r, a);
}

/* After complete or transfer-out: wrap-up or back to work. */
static void agent_after_work(struct router *r, struct agent *a,
                             struct contact *c, uint64_t now,
                             uint32_t wrapup_ms)
{
    slot_free(r, a, c, now);
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT) {
        if (a->work_head == NONE)
            agent_release(r, a);
        return;
    }
    if (a->state == ROUTER_AGENT_STATE_AVAILABLE && a->busy_total == 0 &&
        wrapup_ms > 0) {
        agent_set_state(r, a, now, ROUTER_AGENT_STATE_WRAPUP, NULL);
        a->wrap_until = now + (uint64_t)wrapup_ms * 1000;
        timer_arm(r, &a->timer, a->uid, a->wrap_until);
    }
    /* the caller reindexes (fill_agent) before anything else routes */
}

/* An offer ends without answer: back to the queue (router decides). */
static void offer_unwind(struct router *r, struct contact *c,
                         struct agent *a, uint64_t now, bool exclude)
{
    if (exclude)
        excl_add(c, a->idh);
    slot_free(r, a, c, now);
    contact_to_pool(r, c, now);
}

static void offer_timeout(struct router *r, uint64_t now, struct contact *c)
{
    struct agent *a = &r->agents[c->agent];
    struct router_event *e = emit(r, ROUTER_EV_REVOKED, c, a);
    e->u.revoke = ROUTER_REVOKE_TIMEOUT;
    offer_unwind(r, c, a, now, true);
    emit_queued(r, c, now);
    if (++a->no_answer >= r->cfg.max_no_answer && r->cfg.max_no_answer) {
        a->no_answer = 0;
        agent_set_state(r, a, now, ROUTER_AGENT_STATE_AWAY, "no-answer");
    }
    agent_reindex(r, a);
    route_contact(r, now, c);
    fill_agent(r, now, a);
}

/* ---- queue moves ---- */

static void contact_enter_queue(struct router *r, struct contact *c, int qi,
                                uint64_t now)
{
    queue_ref(r, qi, +1);
    queue_ref(r, c->queue, -1);
    c->queue = qi;
    c->queued_at = now;
    fifo_add(r, c);
    squeue(r, qi)->offered++;
}

static void move_to_queue(struct router *r, uint64_t now, struct contact *c,
                          int qi)
{
    fifo_remove(r, c);
    contact_enter_queue(r, c, qi, now);
    contact_to_pool(r, c, now);
    emit(r, ROUTER_EV_MOVED, c, NULL);
    emit_queued(r, c, now);
}

/* ---- public: construction ---- */

/* Interns a skill name, returning its id (>= 0) or a negative error. Skill
 * names from configuration are interned by router_new(). */
static int router_skill_intern(struct router *r, const char *name)
{
    if (!id_ok(name))
        return ROUTER_EINVAL;
    uint64_t h = idmap_hash(name);
    uint32_t id = idmap_find(&r->skill_map, name, h);
    if (id != NONE)
        return (int)id;
    if (r->nskills >= 65535)
        return ROUTER_ENOMEM;
    if (r->nskills == r->skills_cap) {
        unsigned cap = r->skills_cap ? r->skills_cap * 2 : 64;
        void *s = realloc(r->skills, sizeof(*r->skills) * cap);
        if (!s)
            return ROUTER_ENOMEM;
        r->skills = s;
        r->skills_cap = cap;
    }
    snprintf(r->skills[r->nskills], ROUTER_ID_MAX, "%s", name);
    if (idmap_insert(&r->skill_map, h, r->nskills) < 0)
        return ROUTER_ENOMEM;
    return (int)r->nskills++;
}

static int skill_find(const struct router *r, const char *name)
{
    if (!id_ok(name))
        return ROUTER_EINVAL;
    uint32_t id = idmap_find(&r->skill_map, name, idmap_hash(name));
    return id == NONE ? ROUTER_ENOSKILL : (int)id;
}

static void queue_init_common(struct queue *q)
{
    q->fifo_head = q->fifo_tail = NONE;
    q->nfifo_early = 0;
    q->fifo_max = 0;
    q->overflow = -1;
    q->derived = q->derived_next = -1;
    for (unsigned i = 0; i < ROUTER_MAX_STEPS; i++)
        q->addq[i] = -1;
}

/* Configures queue slot `q` as configured queue qi from `qc` (router_new
 * with q = &r->queues[qi]; reload with a scratch queue whose shape it
 * then copies). Returns NULL or the reason it cannot. */
static const char *config_queue_into(struct router *r, unsigned qi,
                                     const struct router_queue_config *qc,
                                     struct queue *q)
{
    queue_init_common(q);
    q->base = (int)qi;
    if (!id_ok(qc->name))
        return "queue without a valid name";
    snprintf(q->name, sizeof(q->name), "%s", qc->name);
    if (qc->nreq > ROUTER_MAX_REQ || qc->nsteps > ROUTER_MAX_STEPS)
        return "too many required skills or steps";
    if ((unsigned)qc->strategy > ROUTER_STRATEGY_WEIGHTED_RANDOM)
        return "unknown strategy";
    if (qc->channel_mask >> NCH)
        return "unknown channel in channel_mask";
    q->nreq = qc->nreq;
    for (unsigned i = 0; i < qc->nreq; i++) {
        int s = router_skill_intern(r, qc->req[i].skill);
        if (s < 0)
            return "bad required skill";
        if (qc->req[i].min_level < 1 || qc->req[i].min_level > ROUTER_LEVEL_MAX)
            return "required skill level out of 1..10";
        for (unsigned j = 0; j < i; j++)
            if (q->req_skill[j] == s)
                return "skill required twice";
        q->req_skill[i] = (uint16_t)s;
        q->lvl_min[0][i] = qc->req[i].min_level;
    }
    /* steps sorted by after_ms, stable */
    unsigned ord[ROUTER_MAX_STEPS];
    for (unsigned i = 0; i < qc->nsteps; i++) {
        unsigned j = i;
        while (j > 0 && qc->steps[ord[j - 1]].after_ms > qc->steps[i].after_ms) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    q->nsteps = qc->nsteps;
    for (unsigned l = 0; l < qc->nsteps; l++) {
        const struct router_step *st = &qc->steps[ord[l]];
        memcpy(q->lvl_min[l + 1], q->lvl_min[l], sizeof(q->lvl_min[l]));
        q->step_ms[l] = st->after_ms;
        if (st->kind == ROUTER_STEP_ADD_QUEUE) {
            int t = router_queue_find(r, st->queue);
            if (t < 0)
                return "step names an unknown queue";
            q->addq[l] = t;
            continue;
        }
        if (st->kind != ROUTER_STEP_LOWER_LEVEL &&
            st->kind != ROUTER_STEP_DROP_SKILL)
            return "unknown step kind";
        int s = skill_find(r, st->skill);
        unsigned i = 0;
        while (i < q->nreq && (s < 0 || q->req_skill[i] != s))
            i++;
        if (i == q->nreq)
            return "step names a skill the queue does not require";
        if (st->kind == ROUTER_STEP_DROP_SKILL) {
            q->lvl_min[l + 1][i] = 0;
        } else {
            if (st->level < 1 || st->level > ROUTER_LEVEL_MAX)
                return "step level out of 1..10";
            if (q->lvl_min[l + 1][i] > st->level)
                q->lvl_min[l + 1][i] = st->level;
        }
    }
    q->channel_mask = qc->channel_mask;
    q->strategy = qc->strategy;
    q->sl_threshold_ms = qc->sl_threshold_ms;
    q->offer_timeout_ms = qc->offer_timeout_ms ? qc->offer_timeout_ms
                                               : r->cfg.default_offer_timeout_ms;
    q->wrapup_ms = qc->wrapup_ms;
    q->max_len = qc->max_len;
    q->max_wait_ms = qc->max_wait_ms;
    if (qc->overflow[0]) {
        q->overflow = router_queue_find(r, qc->overflow);
        if (q->overflow < 0)
            return "overflow names an unknown queue";
    }
    return NULL;
}

static const char *config_queue(struct router *r, unsigned qi)
{
    return config_queue_into(r, qi, &r->cfg.queues[qi], &r->queues[qi]);
}

struct router *router_new(const struct router_config *cfg, uint64_t seed,
                          const char **err)
{
    const char *msg = "out of memory";
    struct router *r = calloc(1, sizeof(*r));
    if (!r)
        goto fail;
    r->cfg = *cfg;
    r->cfg.queues = NULL;
    r->cfg.skills = NULL;
    if (!r->cfg.max_agents)
        r->cfg.max_agents = 10000;
    if (!r->cfg.max_contacts)
        r->cfg.max_contacts = 100000;
    if (!r->cfg.max_no_answer)
        r->cfg.max_no_answer = 3;
    if (!r->cfg.default_offer_timeout_ms)
        r->cfg.default_offer_timeout_ms = 15000;
    /* priority_weight_ms and value_weight_ms: 0 is a valid weight; the
     * config loader supplies the documented defaults. */
    r->max_agents = r->cfg.max_agents;
    r->max_contacts = r->cfg.max_contacts;
    rng_seed(&r->rng, seed);
    /* pools are cache-line aligned (struct apool): so is the array */
    r->queues = aligned_alloc(_Alignof(struct queue),
                              QUEUE_MAX * sizeof(*r->queues));
    if (r->queues)
        memset(r->queues, 0, QUEUE_MAX * sizeof(*r->queues));
    r->agents = calloc(r->max_agents, sizeof(*r->agents));
    r->aep = calloc(r->max_agents, sizeof(*r->aep));
    r->contacts = calloc(r->max_contacts, sizeof(*r->contacts));
    r->lops = (struct lring_ops){r, lring_valid_cb_fn, lring_before_cb_fn};
    r->hops_lo = (struct aheap_ops){r, hops_lo_valid_fn};
    r->lops_lo = (struct lring_ops){r, lops_lo_valid_fn, lring_before_cb_fn};
    r->scratch = malloc(sizeof(*r->scratch) * r->max_agents);
    r->asleep = calloc(POOL_IDS / 64, sizeof(*r->asleep));
    r->tfifo = malloc(sizeof(*r->tfifo) * TF_N);
    for (uint32_t i = 0; r->tfifo && i < TF_N; i++) {
        r->tfifo[i].head = r->tfifo[i].tail = NONE;
        timerheap_node_init(&r->tfifo[i].hn);
    }
    r->out_cap = 1024;
    r->out = malloc(sizeof(*r->out) * r->out_cap);
    if (!r->queues || !r->agents || !r->aep || !r->contacts || !r->out ||
        !r->scratch || !r->asleep || !r->tfifo ||
        r->max_agents > UINT32_MAX - r->max_contacts - TF_N ||
        timerheap_init(&r->timers,
                       r->max_agents + r->max_contacts + TF_N) < 0)
        goto fail;
    if (idmap_init(&r->skill_map, 256, skill_key, r) < 0 ||
        idmap_init(&r->queue_map, 64, queue_key, r) < 0 ||
        idmap_init(&r->agent_map, r->max_agents, agent_key, r) < 0 ||
        idmap_init(&r->contact_map, r->max_contacts, contact_key, r) < 0)
        goto fail;
    r->agent_free = r->contact_free = NONE;
    r->agent_gone = r->contact_gone = NONE;
    r->queue_free = r->queue_doomed = -1;
    for (uint32_t i = r->max_agents; i-- > 0;) {
        r->agents[i].next = r->agent_free;
        r->agent_free = i;
    }
    for (uint32_t i = r->max_contacts; i-- > 0;) {
        r->contacts[i].next = r->contact_free;
        r->contact_free = i;
    }
    msg = "too many queues";
    if (cfg->nqueues > QUEUE_MAX / 2 || (cfg->nqueues && !cfg->queues))
        goto fail;
    for (unsigned i = 0; i < cfg->nskills; i++) {
        msg = "bad skill name";
        if (router_skill_intern(r, cfg->skills[i]) < 0)
            goto fail;
    }
    /* names first, so steps and overflow may refer forward */
    r->cfg.queues = cfg->queues;
    for (unsigned i = 0; i < cfg->nqueues; i++) {
        msg = "queue without a valid name";
        if (!id_ok(cfg->queues[i].name))
            goto fail;
        snprintf(r->queues[i].name, ROUTER_ID_MAX, "%s", cfg->queues[i].name);
        msg = "duplicate queue name";
        uint64_t h = idmap_hash(r->queues[i].name);
        if (idmap_find(&r->queue_map, r->queues[i].name, h) != NONE)
            goto fail;
        msg = "out of memory";
        if (idmap_insert(&r->queue_map, h, i) < 0)
            goto fail;
    }
    r->nq = r->nconf = cfg->nqueues;
    for (unsigned i = 0; i < cfg->nqueues; i++)
        if ((msg = config_queue(r, i)) != NULL)
            goto fail;
    r->cfg.queues = NULL;
    if (err)
        *err = NULL;
    return r;
fail:
    if (err)
        *err = msg;
    if (r)
        r->cfg.queues = NULL;
    router_free(r);
    return NULL;
}

/* The bytes of an id map sized for `cap` keys (idmap_init()). */
static uint64_t idmap_bytes(uint32_t cap)
{
    uint64_t size = 16;
    while (size < cap * 2ULL && size < (1U << 31))
        size <<= 1;
    return size * sizeof(struct idmap_slot);
}

uint64_t router_memory_need(uint32_t max_agents, uint32_t max_contacts)
{
    uint64_t ma = max_agents ? max_agents : 10000;
    uint64_t mc = max_contacts ? max_contacts : 100000;
    return sizeof(struct router) + QUEUE_MAX * sizeof(struct queue) +
           ma * (sizeof(struct agent) + sizeof(struct aepoch) +
                 sizeof(uint32_t)) +                            /* scratch */
           POOL_IDS / 8 +                                 /* asleep */
           mc * sizeof(struct contact) +
           (ma + mc + TF_N) * sizeof(struct timerheap_ent) +
           TF_N * sizeof(struct tfifo) +
           idmap_bytes((uint32_t)ma) + idmap_bytes((uint32_t)mc) +
           idmap_bytes(256) + idmap_bytes(64) +
           1024 * sizeof(struct router_event);
}

void router_free(struct router *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->nchunks; i++)
        free(r->chunks[i]);
    free(r->chunks);
    idmap_free(&r->skill_map);
    idmap_free(&r->queue_map);
    idmap_free(&r->agent_map);
    idmap_free(&r->contact_map);
    free(r->skills);
    for (unsigned qi = 0; r->queues && qi < r->nq; qi++)
        pmem_free_queue(r, qi);
    for (unsigned qi = 0; r->queues && qi < r->nq; qi++)
        for (unsigned l = 0; l < NLEV; l++)
            for (unsigned ch = 0; ch < NCH; ch++)
            {
                apool_free(&r->queues[qi], &r->queues[qi].apool[l][ch]);
            }
    free(r->queues);
    for (uint32_t i = 0; r->agents && i < r->max_agents; i++) {
        free(r->agents[i].served);
        for (unsigned ch = 0; ch < NCH; ch++)
            free(r->agents[i].ev[ch]);
    }
    free(r->agents);
    free(r->contacts);
    timerheap_free(&r->timers);
    free(r->tfifo);
    free(r->scratch);
    free(r->asleep);
    free(r->aep);
    free(r->out);
    free(r);
}

int router_queue_find(const struct router *r, const char *name)
{
    if (!id_ok(name))
        return -1;
    uint32_t q = idmap_find(&r->queue_map, name, idmap_hash(name));
    return q == NONE ? -1 : (int)q;
}

bool router_queue_takes(const struct router *r, int queue, int channel)
{
    if (queue < 0 || (unsigned)queue >= r->nconf || channel < 0 ||
        (unsigned)channel >= NCH)
        return false;
    const struct queue *q = &r->queues[queue];
    return !q->channel_mask || (q->channel_mask & (1U << channel));
}

bool router_skill_known(const struct router *r, const char *name)
{
    return skill_find(r, name) >= 0;
}

const char *router_queue_name(const struct router *r, int queue)
{
    if (queue < 0 || (unsigned)queue >= r->nconf)
        return NULL;
    return r->queues[queue].name;
}

int router_queue_count(const struct router *r)
{
    return (int)r->nconf;
}

/* Sorts and checks a contact's skill list into ids and levels. With
 * `intern`, unknown names are interned (extra skills of a queue contact);
 * without, an unknown name is ROUTER_ENOSKILL (skills-only contact).
 * Returns the count or a negative error. */
static int spec_skills(struct router *r, const struct router_contact_spec *s,
                       bool intern, uint16_t *sk, uint8_t *lv)
{
    unsigned n = 0;
    if (s->nskills > ROUTER_MAX_REQ)
        return ROUTER_EINVAL;
    /* every check before any interning: bad input changes nothing */
    for (unsigned i = 0; i < s->nskills; i++) {
        if (!id_ok(s->skills[i].skill))
            return ROUTER_EINVAL;
        if (!intern && skill_find(r, s->skills[i].skill) < 0)
            return ROUTER_ENOSKILL;
        uint8_t l = s->skills[i].min_level;
        if (l < 1 || l > ROUTER_LEVEL_MAX)
            return ROUTER_EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (strcmp(s->skills[j].skill, s->skills[i].skill) == 0)
                return ROUTER_EINVAL;
    }
    for (unsigned i = 0; i < s->nskills; i++) {
        int id = intern ? router_skill_intern(r, s->skills[i].skill)
                        : skill_find(r, s->skills[i].skill);
        if (id < 0)
            return id;
        unsigned j = n;
        while (j > 0 && sk[j - 1] > id) {
            sk[j] = sk[j - 1];
            lv[j] = lv[j - 1];
            j--;
        }
        sk[j] = (uint16_t)id;
        lv[j] = s->skills[i].min_level;
        n++;
    }
    return (int)n;
}

static int uid_cmp(const void *x, const void *y, void *ctx)
{
    const struct router *r = ctx;
    uint32_t a = r->agents[*(const uint32_t *)x].uid;
    uint32_t b = r->agents[*(const uint32_t *)y].uid;
    return a < b ? -1 : a > b;
}

static int idle_cmp(const void *x, const void *y, void *ctx)
{
    const struct router *r = ctx;
    const struct agent *a = &r->agents[*(const uint32_t *)x];
    const struct agent *b = &r->agents[*(const uint32_t *)y];
    return li_less(a, b) ? -1 : li_less(b, a) ? 1 : 0;
}

/* Gives every logged-in agent of tier `from` or above its entry in the
 * new queue qi (one channel; from > 0: a skill group's new tiers); the
 * available ones are pooled at once, into a longest idle ring in key
 * order. O(agents log agents), once per queue. */
static int queue_index_agents(struct router *r, int qi, unsigned from)
{
    struct queue *q = &r->queues[qi];
    unsigned ch = (unsigned)__builtin_ctz(q->channel_mask);
    uint32_t nidx = 0;
    if (q->grouped)
        return qi;              /* its agents are its group's */
    if (pool_is_wpool(q)) {
        /* slots in uid order, the order of the weighted draw */
        uint32_t n = 0;
        for (uint32_t i = 0; i < r->max_agents; i++) {
            const struct agent *a = &r->agents[i];
            if (a->live && !a->gone &&
                a->state != ROUTER_AGENT_STATE_LOGGED_OUT &&
                (!from || agent_tier(r, a, qi) >= (int)from))
                r->scratch[n++] = i;
        }
        qsort_r(r->scratch, n, sizeof(r->scratch[0]), uid_cmp, r);
        for (uint32_t k = 0; k < n; k++) {
            struct agent *a = &r->agents[r->scratch[k]];
            unsigned before = a->nev[ch];
            if (agent_add_queue(r, a, qi) < 0)
                return ROUTER_ENOMEM;
            if (a->nev[ch] == before || !can_take(r, a, ch))
                continue;
            a->pooled |= (uint8_t)(1U << ch);
            const struct aref *f = &a->ev[ch][before];
            struct apool *p = &q->apool[f->tier][ch];
            p->n++;
            wpool_set(&p->w, f->slot, wr_weight(f->score));
        }
        return qi;
    }
    for (uint32_t i = 0; i < r->max_agents; i++) {
        struct agent *a = &r->agents[i];
        if (!a->live || a->gone || a->state == ROUTER_AGENT_STATE_LOGGED_OUT ||
            (from && agent_tier(r, a, qi) < (int)from))
            continue;
        unsigned before = a->nev[ch];
        if (agent_add_queue(r, a, qi) < 0)
            return ROUTER_ENOMEM;
        if (a->nev[ch] == before || !can_take(r, a, ch))
            continue;
        a->pooled |= (uint8_t)(1U << ch);
        const struct aref *f = &a->ev[ch][before];
        struct apool *p = &q->apool[f->tier][ch];
        p->n++;
        if (pool_is_treap(q))
            aent_relink(r, a, f->e);
        else
            r->scratch[nidx++] = i;
    }
    /* rings take their records in idle order */
    qsort_r(r->scratch, nidx, sizeof(r->scratch[0]), idle_cmp, r);
    for (uint32_t i = 0; i < nidx; i++) {
        struct agent *a = &r->agents[r->scratch[i]];
        const struct aref *f = &a->ev[ch][a->nev[ch] - 1];
        if (pool_is_sring(q))
            sring_add(r, &q->apool[f->tier][ch], a, f, ch);
        else if (pool_is_oring(q))
            oring_add_agent(r, &q->apool[f->tier][ch], a, ch);
        else
            lring_add(r, &q->apool[f->tier][ch], a, ch);
    }
    return qi;
}

static void group_unref(struct router *r, int gi);

/* Skill groups. The virtual queues of one skill at min levels 1..NLEV
 * and one channel share the pools of a group: its tier t holds the
 * agents with the skill at level NLEV - t (tier 0: NLEV and up), so
 * that an agent has one entry in the group however many of those queues
 * exist, and the queue of min level l reads tiers 0..NLEV - l, as a
 * queue at level L reads its tiers 0..L. A group is a queue slot made
 * by the first such virtual queue and freed with the last (gref); it
 * has no contacts, steps or statistics, and its pools never sleep. */
static int group_get(struct router *r, unsigned ch, uint16_t sk,
                     unsigned top)
{
    char name[ROUTER_ID_MAX];
    snprintf(name, sizeof(name), "~g%u:%04x", ch, sk);
    uint64_t h = idmap_hash(name);
    uint32_t gi = idmap_find(&r->queue_map, name, h);
    if (gi != NONE) {
        struct queue *g = &r->queues[gi];
        g->gref++;
        if (top > g->nsteps) {  /* a lower level: its agents join */
            unsigned from = g->nsteps + 1;
            g->nsteps = top;
            int rc = queue_index_agents(r, (int)gi, from);
            if (rc < 0) {
                group_unref(r, (int)gi);
                return rc;
            }
        }
        return (int)gi;
    }
    if (r->queue_free < 0 && r->nq >= QUEUE_MAX)
        return ROUTER_ENOMEM;
    gi = r->queue_free >= 0 ? (uint32_t)r->queue_free : r->nq;
    struct queue *g = &r->queues[gi];
    int free_next = g->qnext;
    memset(g, 0, sizeof(*g));
    queue_init_common(g);
    g->isgrp = true;
    g->base = (int)gi;
    g->nreq = 1;
    g->req_skill[0] = sk;
    for (unsigned t = 0; t < NLEV; t++)
        g->lvl_min[t][0] = (uint8_t)(NLEV - t);
    g->nsteps = top;            /* the tiers its queues read */
    g->offer_timeout_ms = r->cfg.default_offer_timeout_ms;
    g->channel_mask = 1U << ch;
    g->gref = 1;
    memcpy(g->name, name, sizeof(name));
    if (idmap_insert(&r->queue_map, h, gi) < 0) {
        memset(g, 0, sizeof(*g));
        g->dead = true;
        g->qnext = free_next;
        return ROUTER_ENOMEM;
    }
    if (gi == r->nq)
        r->nq++;
    else
        r->queue_free = free_next;
    int rc = queue_index_agents(r, (int)gi, 0);
    if (rc < 0) {
        group_unref(r, (int)gi);
        return rc;
    }
    return (int)gi;
}

/* Finds or creates the queue for skill set (sk, lv, n) and channel ch:
 * with base < 0 the virtual queue of a skills-only contact, else the
 * queue derived from configured queue `base` by the extra skills. */
static int intern_queue(struct router *r, int base, unsigned ch,
                        const uint16_t *sk, const uint8_t *lv, unsigned n)
{
    char name[ROUTER_ID_MAX];
    size_t off;
    if (base < 0)
        off = (size_t)snprintf(name, sizeof(name), "~%u", ch);
    else
        off = (size_t)snprintf(name, sizeof(name), "~%d/%u:", base, ch);
    for (unsigned i = 0; i < n; i++)
        off += (size_t)snprintf(name + off, sizeof(name) - off, "%04x%x",
                                sk[i], lv[i]);
    uint64_t h = idmap_hash(name);
    uint32_t qi = idmap_find(&r->queue_map, name, h);
    if (qi != NONE)
        return (int)qi;
    int g = -1;
    if (base < 0 && n == 1 && lv[0] <= NLEV &&
        (g = group_get(r, ch, sk[0], NLEV - lv[0])) < 0)
        return g;
    if (r->queue_free < 0 && r->nq >= QUEUE_MAX) {
        group_unref(r, g);
        return ROUTER_ENOMEM;
    }
    qi = r->queue_free >= 0 ? (uint32_t)r->queue_free : r->nq;
    struct queue *q = &r->queues[qi];
    int free_next = q->qnext;
    if (base < 0) {
        memset(q, 0, sizeof(*q));
        queue_init_common(q);
        q->virt = true;
        q->base = (int)qi;
        q->nreq = n;
        for (unsigned i = 0; i < n; i++) {
            q->req_skill[i] = sk[i];
            q->lvl_min[0][i] = lv[i];
        }
        q->offer_timeout_ms = r->cfg.default_offer_timeout_ms;
    } else {
        /* configuration of the base; pools, fifo and counters fresh */
        const struct queue *b = &r->queues[base];
        memset(q, 0, sizeof(*q));
        q->nreq = b->nreq;
        memcpy(q->req_skill, b->req_skill, sizeof(q->req_skill));
        memcpy(q->lvl_min, b->lvl_min, sizeof(q->lvl_min));
        memcpy(q->addq, b->addq, sizeof(q->addq));
        memcpy(q->step_ms, b->step_ms, sizeof(q->step_ms));
        q->nsteps = b->nsteps;
        q->strategy = b->strategy;
        q->sl_threshold_ms = b->sl_threshold_ms;
        q->offer_timeout_ms = b->offer_timeout_ms;
        q->wrapup_ms = b->wrapup_ms;
        q->max_len = b->max_len;
        q->max_wait_ms = b->max_wait_ms;
        q->overflow = b->overflow;
        q->fifo_head = q->fifo_tail = NONE;
        q->nfifo_early = 0;
        q->fifo_max = 0;
        q->derived = -1;
        q->base = base;
        q->nextra = n;
        memcpy(q->xskill, sk, sizeof(*sk) * n);
        memcpy(q->xlvl, lv, sizeof(*lv) * n);
    }
    memcpy(q->name, name, sizeof(name));
    q->channel_mask = 1U << ch;
    if (idmap_insert(&r->queue_map, h, qi) < 0) {
        memset(q, 0, sizeof(*q));
        q->dead = true;         /* still a free slot */
        q->qnext = free_next;
        group_unref(r, g);
        return ROUTER_ENOMEM;
    }
    if (g >= 0) {
        struct queue *gq = &r->queues[g];
        q->grouped = true;
        q->grp = (uint16_t)g;
        q->gtop = (uint8_t)(NLEV - lv[0]);
        gq->gvq[q->gtop] = (uint16_t)(qi + 1);
    }
    if (qi == r->nq)
        r->nq++;
    else
        r->queue_free = free_next;
    if (base >= 0) {
        q->derived_next = r->queues[base].derived;
        r->queues[base].derived = (int)qi;
    }
    /* unused until a contact enters it: freed at the next out_clear if
     * the call that made it does not put a contact in it after all */
    queue_ref(r, (int)qi, 0);
    return queue_index_agents(r, (int)qi, 0);
}

/* Drops the entries agent a holds in queue qi on channel ch (a created
 * queue has one channel), as agent_drop_entries() does for all of them. */
static void agent_drop_queue(struct router *r, struct agent *a, int qi,
                             unsigned ch)
{
    unsigned k = 0;
    for (unsigned i = 0; i < a->nev[ch]; i++) {
        const struct aref *f = &a->ev[ch][i];
        if (f->queue != qi)
            a->ev[ch][k++] = *f;
        else
            aref_drop(r, a, f, ch);
    }
    a->nev[ch] = (uint16_t)k;
    if (!k)
        a->pooled &= (uint8_t)~(1U << ch);
}

/* Frees created queue qi, which no contact uses: every agent's entries,
 * its rings, its place in its base's derived list and in the name map;
 * the slot goes on the free list. O(agents + their entries). */
static void queue_free(struct router *r, int qi)
{
    struct queue *q = &r->queues[qi];
    unsigned ch = (unsigned)__builtin_ctz(q->channel_mask);
    for (uint32_t i = 0; i < r->max_agents && q->nserv[ch]; i++) {
        struct agent *a = &r->agents[i];
        if (a->live && !a->gone && a->nev[ch])
            agent_drop_queue(r, a, qi, ch);
    }
    if (!q->virt) {
        int *pp = &r->queues[q->base].derived;
        while (*pp != qi)
            pp = &r->queues[*pp].derived_next;
        *pp = q->derived_next;
    }
    idmap_remove(&r->queue_map, idmap_hash(q->name), (uint32_t)qi);
    r->nunused--;
    if (q->grouped) {
        r->queues[q->grp].gvq[q->gtop] = 0;
        group_unref(r, q->grp);
    }
    for (unsigned l = 0; l < NLEV; l++)
        for (unsigned c = 0; c < NCH; c++)
        {
            apool_free(q, &q->apool[l][c]);
        }
    pmem_free_queue(r, (unsigned)qi);
    memset(q, 0, sizeof(*q));
    q->dead = true;
    q->qnext = r->queue_free;
    r->queue_free = qi;
}

/* One virtual queue less reads group gi (gi < 0: none); the last one
 * frees it: every agent's entries there, its pools, its name, its slot
 * on the free list. O(agents + their entries). */
static void group_unref(struct router *r, int gi)
{
    if (gi < 0 || --r->queues[gi].gref)
        return;
    struct queue *g = &r->queues[gi];
    unsigned ch = (unsigned)__builtin_ctz(g->channel_mask);
    for (uint32_t i = 0; i < r->max_agents && g->nserv[ch]; i++) {
        struct agent *a = &r->agents[i];
        if (a->live && !a->gone && a->nev[ch])
            agent_drop_queue(r, a, gi, ch);
    }
    idmap_remove(&r->queue_map, idmap_hash(g->name), (uint32_t)gi);
    for (unsigned l = 0; l < NLEV; l++)
        for (unsigned c = 0; c < NCH; c++)
            apool_free(g, &g->apool[l][c]);
    memset(g, 0, sizeof(*g));
    g->dead = true;
    g->qnext = r->queue_free;
    r->queue_free = gi;
}

/* The queue a contact of queue qi (any kind) takes when it moves to
 * configured queue `to`: derived from `to` by the same extra skills. When
 * that queue cannot be created (QUEUE_MAX), `to` itself. */
static int queue_carry(struct router *r, int qi, int to, unsigned ch)
{
    const struct queue *q = &r->queues[qi];
    if (!q->nextra)
        return to;
    int d = intern_queue(r, to, ch, q->xskill, q->xlvl, q->nextra);
    return d < 0 ? to : d;
}

/* ---- public: contacts ---- */

static int contact_lookup(const struct router *r, const char *id,
                          struct contact **out)
{
    if (!id_ok(id))
        return ROUTER_EINVAL;
    uint32_t h = idmap_find(&r->contact_map, id, idmap_hash(id));
    if (h == NONE)
        return ROUTER_ENOCONTACT;
    *out = &r->contacts[h];
    return 0;
}

static int agent_lookup(const struct router *r, const char *id,
                        struct agent **out)
{
    if (!id_ok(id))
        return ROUTER_EINVAL;
    uint32_t h = idmap_find(&r->agent_map, id, idmap_hash(id));
    if (h == NONE)
        return ROUTER_ENOAGENT;
    *out = &r->agents[h];
    return 0;
}

/* Validates a spec and resolves its queue. */
static int spec_queue(struct router *r, const struct router_contact_spec *s)
{
    if (!s || !id_ok(s->id) || (unsigned)s->channel >= NCH ||
        s->priority > 100 || s->value > 1000)
        return ROUTER_EINVAL;
    uint16_t sk[ROUTER_MAX_REQ];
    uint8_t lv[ROUTER_MAX_REQ];
    int n;
    if (!(s->queue && s->queue[0])) {
        if (s->nskills == 0)
            return ROUTER_EINVAL;
        if ((n = spec_skills(r, s, false, sk, lv)) < 0)
            return n;
        return intern_queue(r, -1, s->channel, sk, lv, (unsigned)n);
    }
    int qi = router_queue_find(r, s->queue);
    if (qi < 0 || (unsigned)qi >= r->nconf)
        return ROUTER_ENOQUEUE;
    const struct queue *q = &r->queues[qi];
    if (q->channel_mask && !(q->channel_mask & (1U << s->channel)))
        return ROUTER_EINVAL;
    if (s->nskills == 0)
        return qi;
    if ((n = spec_skills(r, s, true, sk, lv)) < 0)
        return n;
    return intern_queue(r, qi, s->channel, sk, lv, (unsigned)n);
}

static struct contact *contact_new(struct router *r,
                                   const struct router_contact_spec *s,
                                   uint64_t arrived_at, uint32_t tag)
{
    uint32_t h = r->contact_free;
    struct contact *c = &r->contacts[h];
    uint64_t idh = idmap_hash(s->id);
    if (idmap_insert(&r->contact_map, idh, h) < 0)
        return NULL;
    r->contact_free = c->next;
    memset(c, 0, sizeof(*c));
    copy_id(c->id, s->id);
    c->idh = idh;
    c->live = 1;
    c->tag = tag;
    c->seq = ++r->seq;
    c->channel = (uint8_t)s->channel;
    c->difficult = s->difficult;
    c->priority = s->priority;
    c->value = s->value;
    c->arrived_at = arrived_at;
    c->agent = NONE;
    c->queue = -1;              /* contact_enter_queue() or a restore */
    c->wprev = c->wnext = c->qprev = c->qnext = NONE;
    timerheap_node_init(&c->timer);
    c->tf = c->tprev = c->tnext = NONE;
    c->state = ROUTER_CONTACT_QUEUED;
    c->node.k1 = contact_score(r, arrived_at, s->priority, s->value);
    c->node.k2 = c->seq;
    c->node.w = 1;
    c->node.prio = next_prio(r);
    r->ncontacts++;
    return c;
}

/* Puts a new or re-queued contact in the preferred agent's list when the
 * rules say it should wait for it, else in its queue's pool. */
static void contact_place(struct router *r, struct contact *c, uint64_t now,
                          const char *preferred)
{
    struct agent *p;
    if (preferred && id_ok(preferred) && agent_lookup(r, preferred, &p) == 0 &&
        p->state != ROUTER_AGENT_STATE_LOGGED_OUT && !excluded(c, p) &&
        (r->cfg.preferred_wait_ms > 0 || can_take(r, p, c->channel))) {
        c->inpref = 1;
        c->agent = ahandle(r, p);
        c->state = ROUTER_CONTACT_QUEUED;
        c->pref_until = c->queued_at + (uint64_t)r->cfg.preferred_wait_ms * 1000;
        cq_insert(r, c);
        contact_rearm(r, c);
        return;
    }
    contact_to_pool(r, c, now);
}

int router_contact_arrive(struct router *r, uint64_t now,
                          const struct router_contact_spec *spec,
                          uint32_t tag, uint32_t *handle)
{
    struct contact *old;
    if (spec && id_ok(spec->id) && contact_lookup(r, spec->id, &old) == 0) {
        if (handle)
            *handle = chandle(r, old);
        return ROUTER_EDUPLICATE;
    }
    int qi = spec_queue(r, spec), from = qi;
    if (qi < 0)
        return qi;
    for (unsigned hops = 0; squeue(r, qi)->max_len &&
                            squeue(r, qi)->waiting >= squeue(r, qi)->max_len;
         hops++) {
        if (squeue(r, qi)->overflow < 0 || hops >= r->nconf)
            return ROUTER_EFULL;
        qi = squeue(r, qi)->overflow;
    }
    if (qi != from)
        qi = queue_carry(r, from, qi, spec->channel);
    if (r->contact_free == NONE)
        return ROUTER_ENOMEM;
    struct contact *c = contact_new(r, spec, now, tag);
    if (!c)
        return ROUTER_ENOMEM;
    contact_enter_queue(r, c, qi, now);
    contact_place(r, c, now, spec->preferred_agent);
    emit_queued(r, c, now);
    route_contact(r, now, c);
    if (handle)
        *handle = chandle(r, c);
    return 0;
}

/* A waiting (queued or offered) contact ends as abandoned: by its owner
 * or at its maximum age. */
static void contact_abandon(struct router *r, uint64_t now, struct contact *c)
{
    struct agent *a = NULL;
    if (c->state == ROUTER_CONTACT_QUEUED) {
        cq_remove(r, c);
    } else {
        a = &r->agents[c->agent];
        struct router_event *e = emit(r, ROUTER_EV_REVOKED, c, a);
        e->u.revoke = ROUTER_REVOKE_ABANDONED;
        slot_free(r, a, c, now);
    }
    squeue(r, c->queue)->abandoned++;
    slwin_left(&squeue(r, c->queue)->slw, now, false);
    waitest_left(&squeue(r, c->queue)->west, now, now - c->queued_at, true);
    struct router_event *e = emit(r, ROUTER_EV_CONTACT_GONE, c, NULL);
    e->u.gone = ROUTER_CONTACT_ABANDONED;
    contact_release(r, c, ROUTER_CONTACT_ABANDONED);
    if (a)
        fill_agent(r, now, a);
}

int router_contact_abandon(struct router *r, uint64_t now, const char *id)
{
    struct contact *c;
    int rc = contact_lookup(r, id, &c);
    if (rc < 0)
        return rc;
    if (c->state == ROUTER_CONTACT_ASSIGNED)
        return ROUTER_ESTATE;
    contact_abandon(r, now, c);
    return 0;
}

int router_contact_withdraw(struct router *r, uint64_t now, const char *id,
                            bool abandoned)
{
    struct contact *c;
    struct agent *a = NULL;
    struct router_event *e;
    int rc = contact_lookup(r, id, &c);
    if (rc < 0)
        return rc;
    if (c->state == ROUTER_CONTACT_OFFERED)
        return ROUTER_ESTATE;
    if (c->state == ROUTER_CONTACT_ASSIGNED) {
        /* the agent did no work on it: no wrap-up; its desk is told the
         * contact went away (REVOKED, ABANDONED) */
        a = &r->agents[c->agent];
        e = emit(r, ROUTER_EV_REVOKED, c, a);
        e->u.revoke = ROUTER_REVOKE_ABANDONED;
        agent_after_work(r, a, c, now, 0);
    } else {
        cq_remove(r, c);
        /* a caller who gave up while waiting is an abandonment for the
         * estimated wait too (waitest.h); a callback leaving its queue to
         * be held is not, and comes back with its arrival time */
        if (abandoned)
            waitest_left(&squeue(r, c->queue)->west, now, now - c->queued_at,
                         true);
    }
    if (abandoned) {
        squeue(r, c->queue)->abandoned++;
        slwin_left(&squeue(r, c->queue)->slw, now, false);
    }
    e = emit(r, ROUTER_EV_CONTACT_GONE, c, a);
    e->u.gone = abandoned ? ROUTER_CONTACT_ABANDONED : ROUTER_CONTACT_QUEUED;
    contact_release(r, c, abandoned ? ROUTER_CONTACT_ABANDONED
                                    : ROUTER_CONTACT_QUEUED);
    if (a)
        fill_agent(r, now, a);
    return 0;
}

int router_contact_complete(struct router *r, uint64_t now, const char *id)
{
    struct contact *c;
    int rc = contact_lookup(r, id, &c);
    if (rc < 0)
        return rc;
    if (c->state != ROUTER_CONTACT_ASSIGNED)
        return ROUTER_ESTATE;
    struct queue *q = squeue(r, c->queue);
    struct agent *a = &r->agents[c->agent];
    q->handled++;
    q->aht_sum += now - c->assigned_at;
    struct router_event *e = emit(r, ROUTER_EV_CONTACT_GONE, c, a);
    e->u.gone = ROUTER_CONTACT_COMPLETED;
    contact_release(r, c, ROUTER_CONTACT_COMPLETED);
    agent_after_work(r, a, c, now, q->wrapup_ms);
    fill_agent(r, now, a);
    return 0;
}

int router_contact_transfer(struct router *r, uint64_t now, const char *id,
                            int to_queue, const char *to_agent)
{
    struct contact *c;
    struct agent *x = NULL;
    int rc = contact_lookup(r, id, &c);
    if (rc < 0)
        return rc;
    if ((to_queue >= 0) == (to_agent != NULL))
        return ROUTER_EINVAL;
    if (to_queue >= 0) {
        if ((unsigned)to_queue >= r->nconf)
            return ROUTER_ENOQUEUE;
        const struct queue *q = &r->queues[to_queue];
        if (q->channel_mask && !(q->channel_mask & (1U << c->channel)))
            return ROUTER_EINVAL;
    } else {
        rc = agent_lookup(r, to_agent, &x);
        if (rc < 0)
            return rc;
        if (x->state == ROUTER_AGENT_STATE_LOGGED_OUT)
            return ROUTER_ENOAGENT;
    }
    if (c->state == ROUTER_CONTACT_OFFERED)
        return ROUTER_ESTATE;
    struct agent *from = NULL;
    if (c->state == ROUTER_CONTACT_ASSIGNED) {
        from = &r->agents[c->agent];
        agent_after_work(r, from, c, now, r->queues[c->queue].wrapup_ms);
        if (!from->gone)
            agent_reindex(r, from);
        c->agent = NONE;
        c->state = ROUTER_CONTACT_QUEUED;
    } else {
        cq_remove(r, c);
        c->inpref = 0;
        c->agent = NONE;
    }
    if (to_queue >= 0) {
        to_queue = queue_carry(r, c->queue, to_queue, c->channel);
        fifo_remove(r, c);
        contact_enter_queue(r, c, to_queue, now);
        contact_to_pool(r, c, now);
    } else {
        if (!c->infifo) {
            c->queued_at = now;
            fifo_add(r, c);
        }
        excl_del(c, x->idh);
        c->inpref = 1;
        c->agent = ahandle(r, x);
        c->state = ROUTER_CONTACT_QUEUED;
        c->pref_until = NEVER;
        cq_insert(r, c);
        contact_rearm(r, c);
    }
    emit(r, ROUTER_EV_MOVED, c, x);
    emit_queued(r, c, now);
    route_contact(r, now, c);
    if (from)
        fill_agent(r, now, from);
    return 0;
}

/* Finds the contact and agent of a pending offer: ROUTER_ENOCONTACT /
 * ROUTER_ENOAGENT for unknown ids, ROUTER_ESTATE when that contact is not
 * offered to that agent now. */
static int offer_lookup(struct router *r, const char *contact_id,
                        const char *agent_id, struct contact **c,
                        struct agent **a)
{
    int rc = contact_lookup(r, contact_id, c);
    if (rc < 0)
        return rc;
    if ((rc = agent_lookup(r, agent_id, a)) < 0)
        return rc;
    if ((*c)->state != ROUTER_CONTACT_OFFERED || (*c)->agent != ahandle(r, *a))
        return ROUTER_ESTATE;
    return 0;
}

int router_offer_accept(struct router *r, uint64_t now,
                        const char *contact_id, const char *agent_id)
{
    struct contact *c;
    struct agent *a;
    int rc = offer_lookup(r, contact_id, agent_id, &c, &a);
    if (rc < 0)
        return rc;
    struct queue *q = squeue(r, c->queue);
    c->state = ROUTER_CONTACT_ASSIGNED;
    c->assigned_at = now;
    contact_rearm(r, c);
    fifo_remove(r, c);
    a->no_answer = 0;
    q->answered++;
    uint64_t wait = now - c->arrived_at;
    q->asa_sum += wait;
    waitest_left(&q->west, now, now - c->queued_at, false);
    if (wait <= (uint64_t)q->sl_threshold_ms * 1000)
        q->in_sl++;
    slwin_left(&q->slw, now, wait <= (uint64_t)q->sl_threshold_ms * 1000);
    emit(r, ROUTER_EV_ASSIGNED, c, a);
    return 0;
}

int router_offer_reject(struct router *r, uint64_t now,
                        const char *contact_id, const char *agent_id)
{
    struct contact *c;
    struct agent *a;
    int rc = offer_lookup(r, contact_id, agent_id, &c, &a);
    if (rc < 0)
        return rc;
    emit(r, ROUTER_EV_REJECTED, c, a);
    offer_unwind(r, c, a, now, true);
    a->no_answer = 0;           /* a reject is an answer */
    emit_queued(r, c, now);
    agent_reindex(r, a);
    route_contact(r, now, c);
    fill_agent(r, now, a);
    return 0;
}

/* ---- public: agents ---- */

int router_agent_login(struct router *r, uint64_t now,
                       const struct router_agent_spec *spec, uint32_t tag,
                       uint32_t *handle)
{
    if (!spec || !id_ok(spec->id) || spec->nskills > ROUTER_MAX_SKILLS ||
        (spec->nqueues && !spec->queues))
        return ROUTER_EINVAL;
    uint16_t list[QUEUE_MAX / 2];
    if (spec->nqueues > QUEUE_MAX / 2)
        return ROUTER_EINVAL;
    for (unsigned i = 0; i < spec->nqueues; i++) {
        int qi = router_queue_find(r, spec->queues[i]);
        if ((qi < 0 || (unsigned)qi >= r->nconf) && !spec->gone_queues_ok)
            return ROUTER_ENOQUEUE;
        /* UINT16_MAX names no queue (as router_queue_remove leaves it) */
        list[i] = qi < 0 || (unsigned)qi >= r->nconf ? UINT16_MAX
                                                     : (uint16_t)qi;
    }
    for (unsigned i = 0; i < spec->nskills; i++)
        if (!id_ok(spec->skills[i].skill) || spec->skills[i].level < 1 ||
            spec->skills[i].level > ROUTER_LEVEL_MAX)
            return ROUTER_EINVAL;
    struct agent *a = NULL;
    if (agent_lookup(r, spec->id, &a) == 0) {
        if (a->state != ROUTER_AGENT_STATE_LOGGED_OUT)
            return ROUTER_EEXIST;
    } else {
        a = NULL;
        if (r->agent_free == NONE)
            return ROUTER_ENOMEM;
    }
    int skills[ROUTER_MAX_SKILLS];
    for (unsigned i = 0; i < spec->nskills; i++)
        if ((skills[i] = router_skill_intern(r, spec->skills[i].skill)) < 0)
            return skills[i];
    uint16_t *served = NULL;
    if (spec->nqueues) {
        served = malloc(sizeof(*served) * spec->nqueues);
        if (!served)
            return ROUTER_ENOMEM;
        memcpy(served, list, sizeof(*served) * spec->nqueues);
    }
    if (!a) {
        uint32_t h = r->agent_free;
        a = &r->agents[h];
        uint64_t idh = idmap_hash(spec->id);
        if (idmap_insert(&r->agent_map, idh, h) < 0) {
            free(served);
            return ROUTER_ENOMEM;
        }
        r->agent_free = a->next;
        /* r->aep[h], the record epochs, outlive the slot: stale records
         * of the agent that had it may still sit in rings and heaps */
        memset(a, 0, sizeof(*a));
        copy_id(a->id, spec->id);
        a->idh = idh;
        a->live = 1;
        a->work_head = a->work_tail = NONE;
        timerheap_node_init(&a->timer);
        a->login_at = now;
        r->nagents++;
    }
    a->tag = tag;
    a->uid = ++r->seq;
    free(a->served);
    a->served = served;
    a->nserved = (uint16_t)spec->nqueues;
    a->nskills = 0;
    for (unsigned i = 0; i < spec->nskills; i++) {
        unsigned j = 0;
        while (j < a->nskills && a->skill[j] != skills[i])
            j++;
        a->skill[j] = (uint16_t)skills[i];
        a->level[j] = spec->skills[i].level;
        if (j == a->nskills)
            a->nskills++;
    }
    bool any = false;
    for (unsigned ch = 0; ch < NCH; ch++) {
        a->cap[ch] = spec->capacity[ch];
        any |= a->cap[ch] != 0;
    }
    if (!any)
        a->cap[ROUTER_CH_VOICE] = 1;
    /* a re-login while contacts still finish never drops below them */
    for (unsigned ch = 0; ch < NCH; ch++)
        if (a->cap[ch] < a->busy[ch])
            a->cap[ch] = a->busy[ch];
    a->no_answer = 0;
    a->wrap_until = NEVER;
    a->state = ROUTER_AGENT_STATE_LOGGED_OUT;
    for (unsigned qi = 0; qi < r->nq; qi++)
        if (!r->queues[qi].dead && agent_add_queue(r, a, (int)qi) < 0) {
            agent_drop_entries(r, a);
            return ROUTER_ENOMEM;
        }
    /* the reference arrays grew by doubling: fit them */
    for (unsigned ch = 0; ch < NCH; ch++) {
        if (a->nev[ch] == a->cev[ch])
            continue;
        if (!a->nev[ch]) {
            free(a->ev[ch]);
            a->ev[ch] = NULL;
            a->cev[ch] = 0;
            continue;
        }
        struct aref *v = realloc(a->ev[ch], sizeof(*v) * a->nev[ch]);
        if (v) {
            a->ev[ch] = v;
            a->cev[ch] = a->nev[ch];
        }
    }
    agent_set_state(r, a, now, ROUTER_AGENT_STATE_AVAILABLE, NULL);
    if (handle)
        *handle = ahandle(r, a);
    fill_agent(r, now, a);
    return 0;
}

int router_agent_logout(struct router *r, uint64_t now, const char *id)
{
    struct agent *a;
    int rc = agent_lookup(r, id, &a);
    if (rc < 0)
        return rc;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    uint32_t head = NONE, *tail = &head;
    unsigned nrevoked = 0;
    for (uint32_t h = a->work_head, nx; h != NONE; h = nx) {
        struct contact *c = &r->contacts[h];
        nx = c->wnext;
        if (c->state != ROUTER_CONTACT_OFFERED)
            continue;
        struct router_event *e = emit(r, ROUTER_EV_REVOKED, c, a);
        e->u.revoke = ROUTER_REVOKE_AGENT_LOGOUT;
        offer_unwind(r, c, a, now, false);
        nrevoked++;
        c->rnext = NONE;
        *tail = h;
        tail = &c->rnext;
    }
    struct tnode *n;
    while ((n = treap_first(&a->pref)) != NULL) {
        struct contact *c = (struct contact *)n;
        cq_remove(r, c);
        contact_to_pool(r, c, now);
        c->rnext = NONE;
        *tail = chandle(r, c);
        tail = &c->rnext;
    }
    agent_drop_entries(r, a);
    agent_set_state(r, a, now, ROUTER_AGENT_STATE_LOGGED_OUT, NULL);
    if (a->work_head == NONE)
        agent_release(r, a);
    /* the revoked contacts wait again: told once the agent is gone, so
     * that `unservable` counts without it */
    for (uint32_t h = head; h != NONE && nrevoked; h = r->contacts[h].rnext,
                  nrevoked--)
        emit_queued(r, &r->contacts[h], now);
    for (uint32_t h = head; h != NONE; h = r->contacts[h].rnext)
        route_contact(r, now, &r->contacts[h]);
    return 0;
}

int router_agent_set_state(struct router *r, uint64_t now, const char *id,
                           enum router_agent_cmd cmd, const char *reason)
{
    struct agent *a;
    int rc = agent_lookup(r, id, &a);
    if (rc < 0)
        return rc;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (reason && strnlen(reason, ROUTER_ID_MAX) >= ROUTER_ID_MAX)
        return ROUTER_EINVAL;
    switch (cmd) {
    case ROUTER_AGENT_WRAPUP_DONE:
        if (a->state != ROUTER_AGENT_STATE_WRAPUP)
            return ROUTER_ESTATE;
        /* fall through */
    case ROUTER_AGENT_AVAILABLE:
        if (a->state == ROUTER_AGENT_STATE_AVAILABLE)
            return 0;
        agent_set_state(r, a, now, ROUTER_AGENT_STATE_AVAILABLE, NULL);
        fill_agent(r, now, a);
        return 0;
    case ROUTER_AGENT_AWAY:
        if (a->state == ROUTER_AGENT_STATE_AWAY &&
            strcmp(a->reason, reason ? reason : "") == 0)
            return 0;
        agent_set_state(r, a, now, ROUTER_AGENT_STATE_AWAY, reason);
        agent_reindex(r, a);
        return 0;
    }
    return ROUTER_EINVAL;
}

int router_agent_set_load(struct router *r, const char *id, uint32_t load)
{
    struct agent *a;
    int rc = agent_lookup(r, id, &a);
    if (rc < 0)
        return rc;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    a->load = (uint16_t)(load > UINT16_MAX ? UINT16_MAX : load);
    return 0;
}

int router_agent_set_routine(struct router *r, uint64_t now, const char *id,
                             bool on)
{
    struct agent *a;
    int rc = agent_lookup(r, id, &a);
    if (rc < 0)
        return rc;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (a->routine == on)
        return 0;
    a->routine = on;
    /* difficult contacts that waited because of the mode may go now */
    if (!on)
        fill_agent(r, now, a);
    return 0;
}

int router_agent_set_idle_shift(struct router *r, const char *id,
                                uint32_t shift_ms)
{
    struct agent *a;
    int rc = agent_lookup(r, id, &a);
    if (rc < 0)
        return rc;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    a->idle_shift_ms = shift_ms > ROUTER_IDLE_SHIFT_MAX_MS
                           ? ROUTER_IDLE_SHIFT_MAX_MS : shift_ms;
    return 0;
}

/* ---- timers ---- */

static void contact_timer(struct router *r, uint64_t now, struct contact *c)
{
    if (r->cfg.max_contact_age_ms &&
        (c->state == ROUTER_CONTACT_QUEUED ||
         c->state == ROUTER_CONTACT_OFFERED) &&
        now >= c->arrived_at + (uint64_t)r->cfg.max_contact_age_ms * 1000) {
        contact_abandon(r, now, c);
        return;
    }
    c->kick = 0;
    if (c->state == ROUTER_CONTACT_OFFERED) {
        if (c->deadline <= now)
            offer_timeout(r, now, c);
        else
            contact_rearm(r, c);
        return;
    }
    if (c->inpref && c->pref_until <= now) {
        cq_remove(r, c);
        contact_to_pool(r, c, now);
    }
    if (!c->inpref) {
        struct queue *q = &r->queues[c->queue];
        if (q->max_wait_ms && q->overflow >= 0 &&
            now >= c->queued_at + (uint64_t)q->max_wait_ms * 1000) {
            cq_remove(r, c);
            move_to_queue(r, now, c,
                          queue_carry(r, c->queue, q->overflow, c->channel));
            route_contact(r, now, c);
            return;
        }
        unsigned l = level_at(q, c->queued_at, now);
        if (l != c->level) {
            cq_remove(r, c);
            c->level = (uint8_t)l;
            cq_insert(r, c);
            emit_queued(r, c, now);
        }
    }
    contact_rearm(r, c);
    route_contact(r, now, c);
}

static void agent_timer(struct router *r, uint64_t now, struct agent *a)
{
    if (a->state == ROUTER_AGENT_STATE_WRAPUP && a->wrap_until <= now) {
        agent_set_state(r, a, now, ROUTER_AGENT_STATE_AVAILABLE, NULL);
        fill_agent(r, now, a);
    } else {
        timer_arm(r, &a->timer, a->uid, NEVER);
    }
}

void router_tick(struct router *r, uint64_t now)
{
    struct timerheap_node *n;
    while ((n = timerheap_min(&r->timers)) != NULL && n->due <= now) {
        struct tfifo *f = timer_fifo(r, n);
        if (f)
            contact_timer(r, now, &r->contacts[f->head]);
        else if (timer_is_agent(r, n))
            agent_timer(r, now, (struct agent *)(void *)
                                    ((char *)n - offsetof(struct agent, timer)));
        else
            contact_timer(r, now, (struct contact *)(void *)
                                      ((char *)n - offsetof(struct contact,
                                                            timer)));
    }
}

uint64_t router_next_deadline(const struct router *r)
{
    const struct timerheap_node *n = timerheap_min(&r->timers);
    return n ? n->due : NEVER;
}

/* ---- recovery ---- */

int router_contact_restore(struct router *r, uint64_t now,
                           const struct router_contact_spec *spec,
                           uint64_t arrived_at, const char *excluded_agent,
                           uint32_t tag, uint32_t *handle)
{
    struct contact *old;
    if (spec && id_ok(spec->id) && contact_lookup(r, spec->id, &old) == 0) {
        if (handle)
            *handle = chandle(r, old);
        return ROUTER_EDUPLICATE;
    }
    int qi = spec_queue(r, spec);
    if (qi < 0)
        return qi;
    if (excluded_agent && excluded_agent[0] && !id_ok(excluded_agent))
        return ROUTER_EINVAL;
    if (arrived_at > now)
        return ROUTER_EINVAL;
    if (r->contact_free == NONE)
        return ROUTER_ENOMEM;
    struct contact *c = contact_new(r, spec, arrived_at, tag);
    if (!c)
        return ROUTER_ENOMEM;
    if (excluded_agent && excluded_agent[0])
        excl_add(c, idmap_hash(excluded_agent));
    queue_ref(r, qi, +1);
    c->queue = qi;
    c->queued_at = arrived_at;
    fifo_add(r, c);
    c->kick = 1;
    c->kick_at = now;
    contact_place(r, c, now, spec->preferred_agent);
    if (handle)
        *handle = chandle(r, c);
    return 0;
}

int router_contact_restore_assigned(struct router *r, uint64_t now,
                                    const struct router_contact_spec *spec,
                                    uint64_t arrived_at, const char *agent_id,
                                    uint32_t tag, uint32_t *handle)
{
    struct contact *old;
    struct agent *a;
    if (spec && id_ok(spec->id) && contact_lookup(r, spec->id, &old) == 0) {
        if (handle)
            *handle = chandle(r, old);
        return ROUTER_EDUPLICATE;
    }
    int qi = spec_queue(r, spec);
    if (qi < 0)
        return qi;
    int rc = agent_lookup(r, agent_id, &a);
    if (rc < 0)
        return rc;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (a->busy[spec->channel] >= a->cap[spec->channel])
        return ROUTER_ESTATE;
    if (r->contact_free == NONE)
        return ROUTER_ENOMEM;
    struct contact *c = contact_new(r, spec, arrived_at, tag);
    if (!c)
        return ROUTER_ENOMEM;
    queue_ref(r, qi, +1);
    c->queue = qi;
    c->queued_at = arrived_at;
    c->state = ROUTER_CONTACT_ASSIGNED;
    c->assigned_at = now;
    c->agent = ahandle(r, a);
    work_append(r, a, c);
    busy_add(a, c->channel, +1, now);
    agent_reindex(r, a);
    if (handle)
        *handle = chandle(r, c);
    return 0;
}

/* ---- lookups ---- */

int router_contact_find(const struct router *r, const char *id,
                        uint32_t *handle)
{
    struct contact *c;
    int rc = contact_lookup(r, id, &c);
    if (rc == 0 && handle)
        *handle = chandle(r, c);
    return rc;
}

int router_agent_find(const struct router *r, const char *id,
                      uint32_t *handle)
{
    struct agent *a;
    int rc = agent_lookup(r, id, &a);
    if (rc == 0 && handle)
        *handle = ahandle(r, a);
    return rc;
}

const char *router_contact_id(const struct router *r, uint32_t handle)
{
    if (handle >= r->max_contacts || !r->contacts[handle].live)
        return NULL;
    return r->contacts[handle].id;
}

const char *router_agent_id(const struct router *r, uint32_t handle)
{
    if (handle >= r->max_agents || !r->agents[handle].live)
        return NULL;
    return r->agents[handle].id;
}

uint32_t router_contact_tag(const struct router *r, uint32_t handle)
{
    return handle < r->max_contacts ? r->contacts[handle].tag : 0;
}

uint32_t router_agent_tag(const struct router *r, uint32_t handle)
{
    return handle < r->max_agents ? r->agents[handle].tag : 0;
}

void router_contact_info(const struct router *r, uint32_t handle,
                         struct router_contact_info *out)
{
    memset(out, 0, sizeof(*out));
    if (handle >= r->max_contacts || !r->contacts[handle].live)
        return;
    const struct contact *c = &r->contacts[handle];
    out->id = c->id;
    out->state = c->state;
    out->channel = (enum router_channel)c->channel;
    out->queue = ev_queue(r, c->queue);
    out->arrived_at = c->arrived_at;
    out->queued_at = c->queued_at;
    out->priority = c->priority;
    out->value = c->value;
    out->agent = (c->state == ROUTER_CONTACT_OFFERED ||
                  c->state == ROUTER_CONTACT_ASSIGNED) ? c->agent : NONE;
    out->deadline = c->state == ROUTER_CONTACT_OFFERED ? c->deadline : 0;
    out->unservable = contact_unservable(r, c);
    out->seq = c->seq;
    out->tag = c->tag;
}

void router_agent_info(const struct router *r, uint32_t handle, uint64_t now,
                       struct router_agent_info *out)
{
    memset(out, 0, sizeof(*out));
    if (handle >= r->max_agents || !r->agents[handle].live)
        return;
    const struct agent *a = &r->agents[handle];
    out->id = a->id;
    out->state = a->state;
    memcpy(out->reason, a->reason, sizeof(out->reason));
    out->state_since = a->state_since;
    memcpy(out->capacity, a->cap, sizeof(out->capacity));
    memcpy(out->busy, a->busy, sizeof(out->busy));
    for (uint32_t h = a->work_head; h != NONE; h = r->contacts[h].wnext)
        out->offers += r->contacts[h].state == ROUTER_CONTACT_OFFERED;
    uint64_t busy = a->busy_acc;
    if (a->busy_total && now > a->busy_since)
        busy += now - a->busy_since;
    out->occupancy = now > a->login_at ? (double)busy / (double)(now - a->login_at)
                                       : 0.0;
    if (out->occupancy > 1.0)
        out->occupancy = 1.0;
    out->tag = a->tag;
}

/* ---- output ---- */

size_t router_out_count(const struct router *r)
{
    return r->nout;
}

const struct router_event *router_out_get(const struct router *r, size_t i)
{
    return i < r->nout ? &r->out[i] : NULL;
}

void router_out_clear(struct router *r)
{
    r->nout = 0;
    while (r->contact_gone != NONE) {
        struct contact *c = &r->contacts[r->contact_gone];
        r->contact_gone = c->next;
        c->live = c->gone = 0;
        c->next = r->contact_free;
        r->contact_free = chandle(r, c);
    }
    while (r->agent_gone != NONE) {
        struct agent *a = &r->agents[r->agent_gone];
        r->agent_gone = a->next;
        a->live = a->gone = 0;
        a->next = r->agent_free;
        r->agent_free = ahandle(r, a);
    }
    /* every unused created queue is on the doomed list: the loop ends */
    while (r->nunused > ROUTER_QUEUES_KEPT && r->queue_doomed >= 0) {
        int qi = r->queue_doomed;
        struct queue *q = &r->queues[qi];
        r->queue_doomed = q->qnext;
        q->doomed = false;
        if (q->nref == 0)
            queue_free(r, qi);
    }
}

/* ---- statistics ---- */

/* Agents of tier 0 that could take a contact of the queue now: the largest
 * tier-0 pool over the queue's channels. O(channels). */
static uint32_t queue_available(const struct router *r, const struct queue *q)
{
    uint32_t n = 0;
    for (unsigned ch = 0; ch < NCH; ch++)
        if (queue_free_n(r, q, ch) > n)
            n = queue_free_n(r, q, ch);
    return n;
}

/* Contacts waiting in the pools of queue q (one queue, not its derived
 * ones) on a channel no logged-in agent of q could ever serve.
 * O(levels x channels). */
static uint32_t queue_unservable(const struct router *r, const struct queue *q)
{
    uint32_t n = 0;
    for (unsigned ch = 0; ch < NCH; ch++) {
        if (queue_nserv(r, q, ch) || !(q->cmask[ch]))
            continue;
        for (unsigned l = 0; l <= q->nsteps; l++)
            n += treap_size(&q->cpool[l][ch]);
    }
    return n;
}

void router_queue_stats(const struct router *r, int queue, uint64_t now,
                        struct router_queue_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (queue < 0 || (unsigned)queue >= r->nq)
        return;
    const struct queue *q = &r->queues[queue];
    out->waiting = q->waiting;
    uint32_t oldest = fifo_oldest(r, q);
    if (oldest != NONE && now > r->contacts[oldest].arrived_at)
        out->longest_wait_ms =
            (uint32_t)((now - r->contacts[oldest].arrived_at) / 1000);
    out->unservable = queue_unservable(r, q);
    for (int d = q->derived; d >= 0; d = r->queues[d].derived_next)
        out->unservable += queue_unservable(r, &r->queues[d]);
    out->offered = q->offered;
    out->answered = q->answered;
    out->answered_in_sl = q->in_sl;
    out->abandoned = q->abandoned;
    uint64_t d = q->answered + q->abandoned;
    out->service_level = d ? (double)q->in_sl / (double)d : 1.0;
    out->recent_service_level = slwin_level(&q->slw, now, &out->recent_done);
    out->asa_ms = q->answered ? (uint32_t)(q->asa_sum / q->answered / 1000) : 0;
    out->aht_ms = q->handled ? (uint32_t)(q->aht_sum / q->handled / 1000) : 0;
    out->agents_available = queue_available(r, q);
}

unsigned router_agent_count(const struct router *r)
{
    return r->nagents;
}

unsigned router_contact_count(const struct router *r)
{
    return r->ncontacts;
}

unsigned router_waiting_count(const struct router *r)
{
    return r->nwaiting;
}

int router_queue_created(const struct router *r)
{
    int n = 0;
    for (unsigned qi = r->nconf; qi < r->nq; qi++)
        n += !r->queues[qi].dead && !r->queues[qi].isgrp;
    return n;
}

int router_queue_total(const struct router *r)
{
    return (int)r->nq;
}

bool router_queue_is_virtual(const struct router *r, int queue)
{
    return queue >= 0 && (unsigned)queue < r->nq && r->queues[queue].virt &&
           !r->queues[queue].dead;
}

static const char *const channel_names[NCH] = {"voice", "chat", "email",
                                               "social"};

int router_queue_label(const struct router *r, int queue, char *buf,
                       size_t len)
{
    char dummy;
    if (queue < 0 || (unsigned)queue >= r->nq)
        return ROUTER_EINVAL;
    if (!buf || !len) {         /* measuring only */
        buf = &dummy;
        len = 0;
    }
    const struct queue *q = &r->queues[queue];
    if ((unsigned)queue < r->nconf)
        return snprintf(buf, len, "%s", q->name);
    if (!q->virt)
        return ROUTER_EINVAL;
    /* skills by name, so that the label does not depend on the order in
     * which skill names were interned */
    unsigned ord[ROUTER_MAX_REQ];
    for (unsigned i = 0; i < q->nreq; i++) {
        unsigned j = i;
        while (j > 0 && strcmp(r->skills[q->req_skill[ord[j - 1]]],
                               r->skills[q->req_skill[i]]) > 0) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    size_t off = (size_t)snprintf(buf, len, "~%s/",
                                  channel_names[__builtin_ctz(q->channel_mask)]);
    for (unsigned i = 0; i < q->nreq; i++) {
        unsigned k = ord[i];
        off += (size_t)snprintf(buf + (off < len ? off : len),
                                off < len ? len - off : 0, "%s%s@%u",
                                i ? "+" : "", r->skills[q->req_skill[k]],
                                (unsigned)q->lvl_min[0][k]);
    }
    return (int)off;
}

uint32_t router_queue_free(const struct router *r, int queue, int channel)
{
    if (queue < 0 || (unsigned)queue >= r->nq || channel < 0 ||
        channel >= NCH || r->queues[queue].dead)
        return 0;
    return queue_free_n(r, &r->queues[queue], (unsigned)channel);
}

uint32_t router_queue_staffed(const struct router *r, int queue)
{
    if (queue < 0 || (unsigned)queue >= r->nq || r->queues[queue].dead)
        return 0;
    return queue_staffed_n(r, &r->queues[queue]);
}

bool router_agent_free_for(const struct router *r, uint32_t agent, int queue,
                           int channel)
{
    if (agent >= r->max_agents || channel < 0 || channel >= NCH)
        return false;
    const struct agent *a = &r->agents[agent];
    if (!a->live || a->gone || !can_take(r, a, (unsigned)channel) ||
        queue < 0 || (unsigned)queue >= r->nq)
        return false;
    const struct queue *q = &r->queues[queue];
    unsigned top = 0;
    if (q->grouped) {           /* its group's tiers it reads */
        top = q->gtop;
        queue = q->grp;
    }
    for (unsigned i = 0; i < a->nev[channel]; i++)
        if (a->ev[channel][i].queue == (uint16_t)queue &&
            a->ev[channel][i].tier <= top)
            return true;
    return false;
}

void router_pool_sleeps(const struct router *r, uint64_t *sleeps,
                        uint64_t *wakes)
{
    if (sleeps)
        *sleeps = r->pool_sleeps;
    if (wakes)
        *wakes = r->pool_wakes;
}

uint32_t router_estimated_wait(const struct router *r, int queue, uint64_t now)
{
    (void)now;
    if (queue < 0 || (unsigned)queue >= r->nq)
        return 0;
    const struct queue *q = &r->queues[queue];
    uint64_t pos = q->waiting ? q->waiting : 1;
    uint32_t avail = queue_available(r, q);
    if (pos <= avail)
        return 0;
    uint64_t aht = q->handled ? q->aht_sum / q->handled / 1000 : DEFAULT_AHT_MS;
    aht += q->wrapup_ms;
    return waitest_ms((uint32_t)(pos - avail), queue_staffed_n(r, q),
                      aht / 1000.0,
                      waitest_theta(&q->west));
}


/* Reload (engine/reload.c): only the values that nothing structural
 * hangs on. A derived queue carries copies of its base's values, so they
 * change together; the contacts waiting in the base's fifo (which holds
 * every derived queue's contacts too) get their timers re-armed, because
 * max_wait and overflow enter their due time (router__contact_due). */
int router_queue_set_limits(struct router *r, int queue,
                            const struct router_queue_config *qc)
{
    if (queue < 0 || (unsigned)queue >= r->nconf || !qc)
        return ROUTER_EINVAL;
    int ov = -1;
    if (qc->overflow[0]) {
        ov = router_queue_find(r, qc->overflow);
        if (ov < 0 || (unsigned)ov >= r->nconf)
            return ROUTER_ENOQUEUE;
        if (ov == queue)
            return ROUTER_EINVAL;
    }
    uint32_t offer_ms = qc->offer_timeout_ms ? qc->offer_timeout_ms
                                             : r->cfg.default_offer_timeout_ms;
    struct queue *b = &r->queues[queue];
    for (int qi = queue; qi >= 0;
         qi = qi == queue ? b->derived : r->queues[qi].derived_next) {
        struct queue *q = &r->queues[qi];
        q->sl_threshold_ms = qc->sl_threshold_ms;
        q->offer_timeout_ms = offer_ms;
        q->wrapup_ms = qc->wrapup_ms;
        q->max_len = qc->max_len;
        q->max_wait_ms = qc->max_wait_ms;
        q->overflow = ov;
    }
    for (uint32_t h = b->fifo_head; h != NONE; h = r->contacts[h].qnext)
        contact_rearm(r, &r->contacts[h]);
    return 0;
}

/* ---- reload: step times (engine/reload.c) ----
 *
 * Only the times change: the steps, sorted by time, must widen the queue
 * exactly as they do now (same levels, skills and added queues), so that
 * no pool, tier or agent entry changes and the offers out stay as they
 * are. Waiting contacts are kicked rather than moved here: the next
 * router_tick() gives each the level its waiting time has under the new
 * times (contact_timer), which may be lower than the one it has reached,
 * and routes it, as an expansion step would. */
int router_queue_set_step_times(struct router *r, uint64_t now, int queue,
                                const struct router_queue_config *qc)
{
    if (queue < 0 || (unsigned)queue >= r->nconf || !qc)
        return ROUTER_EINVAL;
    struct queue *b = &r->queues[queue];
    if (qc->nsteps != b->nsteps)
        return ROUTER_EINVAL;
    unsigned ord[ROUTER_MAX_STEPS];
    for (unsigned i = 0; i < qc->nsteps; i++) {     /* as config_queue() */
        unsigned j = i;
        while (j > 0 &&
               qc->steps[ord[j - 1]].after_ms > qc->steps[i].after_ms) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    uint8_t lvl[ROUTER_MAX_REQ];
    memcpy(lvl, b->lvl_min[0], sizeof(lvl));
    for (unsigned l = 0; l < qc->nsteps; l++) {
        const struct router_step *st = &qc->steps[ord[l]];
        int addq = -1;
        if (st->kind == ROUTER_STEP_ADD_QUEUE) {
            addq = router_queue_find(r, st->queue);
            if (addq < 0)
                return ROUTER_EINVAL;
        } else {
            int s = skill_find(r, st->skill);
            unsigned i = 0;
            while (i < b->nreq && (s < 0 || b->req_skill[i] != s))
                i++;
            if (i == b->nreq)
                return ROUTER_EINVAL;
            if (st->kind == ROUTER_STEP_DROP_SKILL)
                lvl[i] = 0;
            else if (st->kind == ROUTER_STEP_LOWER_LEVEL && lvl[i] > st->level)
                lvl[i] = st->level;
        }
        if (addq != b->addq[l] || memcmp(lvl, b->lvl_min[l + 1], sizeof(lvl)))
            return ROUTER_EINVAL;
    }
    for (int qi = queue; qi >= 0;
         qi = qi == queue ? b->derived : r->queues[qi].derived_next)
        for (unsigned l = 0; l < qc->nsteps; l++)
            r->queues[qi].step_ms[l] = qc->steps[ord[l]].after_ms;
    /* the base's fifo holds its derived queues' contacts too (squeue) */
    for (uint32_t h = b->fifo_head; h != NONE; h = r->contacts[h].qnext) {
        struct contact *c = &r->contacts[h];
        if (c->state != ROUTER_CONTACT_QUEUED || c->inpref)
            continue;
        c->kick = 1;
        c->kick_at = now;
        contact_rearm(r, c);
    }
    return 0;
}

/* ---- reload: the queue set and a queue's shape (engine/reload.c) ----
 *
 * A reload may add a configured queue, remove one, and change a queue's
 * strategy, skills, channels and steps while contacts wait and offers
 * are out. Contact and agent handles never change (dispatch, owner, care
 * and outbound index their tables by them); queue indexes change only as
 * written below, and only between two calls whose output was drained.
 *
 *  - Shape (router_queue_reshape): every agent's entries in the queues
 *    whose tiers hang on the queue (itself, its derived queues, and the
 *    queues whose ADD_QUEUE steps name it) are dropped, those queues'
 *    pools emptied, and the entries made again under the new shape and
 *    pooled at once (agents_detach, agents_attach); the agents' other
 *    entries are not touched, so decisions in the other queues do not
 *    change. Waiting contacts
 *    leave the pools before and come back after, at the level their time
 *    in the queue has under the new steps, with their arrival, place
 *    (score) and exclusions; they are kicked, so that the next
 *    router_tick() routes them in timer order. Offers out keep their
 *    agent and deadline; agents keep their state, wrap-up and counters.
 *  - Add (router_queue_add): the new queue takes index nconf, the end of
 *    the configured range, which the outside reads as 0..count-1. A
 *    created (derived or virtual) queue in that slot moves to a free slot
 *    first (queue_relocate).
 *  - Remove (router_queue_remove): the queue's contacts, in any state,
 *    move to the fallback queue keeping their arrival (queued ones wait
 *    there, kicked; an offer keeps its agent and deadline and, if it is
 *    not taken, the contact waits in the fallback; an assigned one is
 *    counted and wrapped up there); its derived queues are freed; the
 *    last configured queue moves into its slot (queue_relocate), so the
 *    configured range stays 0..count-1.
 * All three are O(agents x their entries + contacts): reload is rare. */

static inline bool agent_indexed(const struct agent *a)
{
    return a->live && !a->gone && a->state != ROUTER_AGENT_STATE_LOGGED_OUT;
}

/* Whether agent a has an entry in a queue marked in `aff`. */
static bool agent_in(const struct agent *a, const uint8_t *aff)
{
    for (unsigned ch = 0; ch < NCH; ch++)
        for (unsigned j = 0; j < a->nev[ch]; j++)
            if (aff[a->ev[ch][j].queue])
                return true;
    return false;
}

/* Drops every agent's entries in the queues marked in `aff` (as a
 * created queue's are dropped when it is freed: agent_drop_queue) and
 * empties those queues' pools, freed under their current strategy. The
 * agents' other entries are not touched. */
static void agents_detach(struct router *r, const uint8_t *aff)
{
    for (uint32_t i = 0; i < r->max_agents; i++) {
        struct agent *a = &r->agents[i];
        if (!agent_indexed(a) || !agent_in(a, aff))
            continue;
        for (unsigned ch = 0; ch < NCH; ch++) {
            unsigned k = 0;
            for (unsigned j = 0; j < a->nev[ch]; j++) {
                const struct aref *f = &a->ev[ch][j];
                if (aff[f->queue])
                    aref_drop(r, a, f, ch);
                else
                    a->ev[ch][k++] = *f;
            }
            a->nev[ch] = (uint16_t)k;
            if (!k)
                a->pooled &= (uint8_t)~(1U << ch);
        }
    }
    for (unsigned qi = 0; qi < r->nq; qi++) {
        struct queue *q = &r->queues[qi];
        if (!aff[qi] || q->dead)
            continue;
        pmem_free_queue(r, qi);
        for (unsigned l = 0; l < NLEV; l++)
            for (unsigned ch = 0; ch < NCH; ch++) {
                apool_free(q, &q->apool[l][ch]);
                memset(&q->apool[l][ch], 0, sizeof(q->apool[l][ch]));
            }
        q->staffed = 0;
        memset(q->nserv, 0, sizeof(q->nserv));
    }
}

/* Whether agent a qualifies for a queue marked in `aff` (it will have
 * an entry there). */
static bool agent_joins(const struct router *r, const struct agent *a,
                        const uint8_t *aff)
{
    for (unsigned qi = 0; qi < r->nq; qi++)
        if (aff[qi] && !r->queues[qi].dead && agent_tier(r, a, (int)qi) >= 0)
            return true;
    return false;
}

/* Pools agent a's entries ev[ch][from..] (new ones) when it can take
 * channel ch now, as agent_reindex() pools a channel it can take again:
 * a record with its current key and epoch, a round robin entry linked, a
 * weight set. */
static void agent_pool_new(struct router *r, struct agent *a, unsigned ch,
                           unsigned from)
{
    struct aref *ev = a->ev[ch];
    if (from >= a->nev[ch] || !can_take(r, a, ch))
        return;
    for (unsigned i = from; i < a->nev[ch]; i++)
        if (!pool_skip(r, &ev[i], ch))
            aref_pool_in(r, a, &ev[i], ch, false);
    a->pooled |= (uint8_t)(1U << ch);
}

/* Gives every agent that qualifies for a queue marked in `aff` its
 * entries there, pooled at once where it can take their channel; its
 * other entries are not touched. `before` has room for max_agents
 * agents. Entries are made in uid order (a weighted pool's slots are, for
 * its draw) and pooled in longest idle order (a ring then only appends).
 * ROUTER_ENOMEM when an entry cannot be made (the agent lacks it). */
static int agents_attach(struct router *r, const uint8_t *aff,
                         uint16_t (*before)[NCH])
{
    int rc = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->max_agents; i++)
        if (agent_indexed(&r->agents[i]) &&
            agent_joins(r, &r->agents[i], aff))
            r->scratch[n++] = i;
    qsort_r(r->scratch, n, sizeof(r->scratch[0]), uid_cmp, r);
    for (uint32_t k = 0; k < n; k++) {
        struct agent *a = &r->agents[r->scratch[k]];
        for (unsigned ch = 0; ch < NCH; ch++)
            before[r->scratch[k]][ch] = a->nev[ch];
        for (unsigned qi = 0; qi < r->nq; qi++)
            if (aff[qi] && !r->queues[qi].dead &&
                agent_add_queue(r, a, (int)qi) < 0)
                rc = ROUTER_ENOMEM;
    }
    qsort_r(r->scratch, n, sizeof(r->scratch[0]), idle_cmp, r);
    for (uint32_t k = 0; k < n; k++)
        for (unsigned ch = 0; ch < NCH; ch++)
            agent_pool_new(r, &r->agents[r->scratch[k]], ch,
                           before[r->scratch[k]][ch]);
    return rc;
}

/* Takes the contacts waiting in the pools of the queues marked in `aff`
 * out of them, linked through rnext; returns the list. */
static uint32_t contacts_detach(struct router *r, const uint8_t *aff)
{
    uint32_t list = NONE;
    for (uint32_t i = 0; i < r->max_contacts; i++) {
        struct contact *c = &r->contacts[i];
        if (!c->live || c->gone || c->state != ROUTER_CONTACT_QUEUED ||
            c->inpref || c->queue < 0 || !aff[c->queue])
            continue;
        cq_remove(r, c);
        contact_timer_set(r, c, NEVER, TF_N);   /* its fifo may change */
        c->rnext = list;
        list = i;
    }
    return list;
}

/* Puts the contacts of a contacts_detach() list back into their queues'
 * pools at the level their waiting time gives now, kicked: the next
 * router_tick() routes them. */
static void contacts_attach(struct router *r, uint64_t now, uint32_t list)
{
    while (list != NONE) {
        struct contact *c = &r->contacts[list];
        list = c->rnext;
        c->kick = 1;
        c->kick_at = now;
        contact_to_pool(r, c, now);
    }
}

/* Marks in `aff` queue qi and the queues derived from it. */
static void mark_with_derived(const struct router *r, uint8_t *aff, int qi)
{
    aff[qi] = 1;
    for (int d = r->queues[qi].derived; d >= 0; d = r->queues[d].derived_next)
        aff[d] = 1;
}

/* Takes created queue qi out of the doomed list, if it is on it. */
static void doomed_unlink(struct router *r, int qi)
{
    if (!r->queues[qi].doomed)
        return;
    int prev = -1;
    for (int i = r->queue_doomed; i >= 0; prev = i, i = r->queues[i].qnext) {
        if (i != qi)
            continue;
        if (prev < 0)
            r->queue_doomed = r->queues[i].qnext;
        else
            r->queues[prev].qnext = r->queues[i].qnext;
        if (r->queue_doomed_tail == qi)
            r->queue_doomed_tail = prev;
        break;
    }
    r->queues[qi].doomed = false;
}

/* Takes slot qi off the free list (it is dead). */
static void free_unlink(struct router *r, int qi)
{
    for (int *pp = &r->queue_free; *pp >= 0; pp = &r->queues[*pp].qnext)
        if (*pp == qi) {
            *pp = r->queues[qi].qnext;
            return;
        }
}

/* Renames derived queue d after its base moved to index `base`: the name
 * that intern_queue() gives it starts with its base's index. */
static void derived_rename(struct router *r, int d, int base)
{
    struct queue *q = &r->queues[d];
    const char *rest = strchr(q->name, '/');
    char name[ROUTER_ID_MAX];
    if (!rest)
        return;
    snprintf(name, sizeof(name), "~%d%s", base, rest);
    /* remove first: the map finds an entry by its handle, which both
     * would carry; an insert after a remove never grows the map */
    idmap_remove(&r->queue_map, idmap_hash(q->name), (uint32_t)d);
    idmap_insert(&r->queue_map, idmap_hash(name), (uint32_t)d);
    memcpy(q->name, name, sizeof(name));
}

/* Moves queue `from` (any kind, in use or not) to slot `to`, which is
 * free (dead and off the free list, or r->nq) and is left so: every
 * index that names it follows (its contacts, their timers and timer
 * fifos, the agents' entries and login lists, the sleeping bits, other
 * queues' steps and overflow, its base's derived list, the doomed list,
 * the name map, the events not yet drained). Slot `from` is left zeroed
 * and dead, on no list: the caller decides. Cannot fail: the name map
 * loses an entry before it gains one, so it does not grow. */
static void queue_relocate(struct router *r, int from, int to)
{
    struct queue *src = &r->queues[from];
    uint64_t h = idmap_hash(src->name);
    idmap_remove(&r->queue_map, h, (uint32_t)from);
    idmap_insert(&r->queue_map, h, (uint32_t)to);
    if ((unsigned)to >= r->nq)
        r->nq = (unsigned)to + 1;
    struct queue *q = &r->queues[to];
    *q = *src;
    q->dead = false;
    if (q->grouped)
        r->queues[q->grp].gvq[q->gtop] = (uint16_t)(to + 1);
    for (unsigned t = 0; q->isgrp && t < NLEV; t++)
        if (q->gvq[t])
            r->queues[q->gvq[t] - 1].grp = (uint16_t)to;
    if (q->virt || q->isgrp) {
        q->base = to;
    } else if (q->base == from) {
        q->base = to;
        for (int d = q->derived; d >= 0; d = r->queues[d].derived_next) {
            r->queues[d].base = to;
            derived_rename(r, d, to);
        }
    } else {
        int *pp = &r->queues[q->base].derived;
        while (*pp != from)
            pp = &r->queues[*pp].derived_next;
        *pp = to;
    }
    if (q->doomed) {
        if (r->queue_doomed == from)
            r->queue_doomed = to;
        for (int i = r->queue_doomed; i >= 0; i = r->queues[i].qnext)
            if (r->queues[i].qnext == from)
                r->queues[i].qnext = to;
        if (r->queue_doomed_tail == from)
            r->queue_doomed_tail = to;
    }
    for (unsigned k = 0; k < TF_PERQ; k++) {
        struct tfifo *a = &r->tfifo[(uint32_t)from * TF_PERQ + k];
        struct tfifo *b = &r->tfifo[(uint32_t)to * TF_PERQ + k];
        b->head = a->head;
        b->tail = a->tail;
        a->head = a->tail = NONE;
        timerheap_remove(&r->timers, &a->hn);
        if (b->head != NONE)
            tfifo_rekey(r, b);
    }
    for (uint32_t i = 0; i < r->max_contacts; i++) {
        struct contact *c = &r->contacts[i];
        if (!c->live)
            continue;
        if (c->queue == from)
            c->queue = to;
        if (c->tf < TF_PREF && c->tf / TF_PERQ == (uint32_t)from)
            c->tf = (uint32_t)to * TF_PERQ + c->tf % TF_PERQ;
    }
    for (uint32_t i = 0; i < r->max_agents; i++) {
        struct agent *a = &r->agents[i];
        if (!a->live)
            continue;
        for (unsigned ch = 0; ch < NCH; ch++)
            for (unsigned k = 0; a->ev[ch] && k < a->nev[ch]; k++) {
                struct aref *f = &a->ev[ch][k];
                if (f->queue != from)
                    continue;
                f->queue = (uint16_t)to;
                if (f->strat == ROUTER_STRATEGY_ROUND_ROBIN)
                    f->e->queue = (uint16_t)to;
            }
        for (unsigned k = 0; k < a->nserved; k++)
            if (a->served[k] == from)
                a->served[k] = (uint16_t)to;
    }
    for (unsigned l = 0; l < NLEV; l++)
        for (unsigned ch = 0; ch < NCH; ch++) {
            uint32_t f = pool_id((unsigned)from, l, ch);
            uint32_t t = pool_id((unsigned)to, l, ch);
            if (r->asleep[f >> 6] & (1ULL << (f & 63)))
                r->asleep[t >> 6] |= 1ULL << (t & 63);
            else
                r->asleep[t >> 6] &= ~(1ULL << (t & 63));
            r->asleep[f >> 6] &= ~(1ULL << (f & 63));
        }
    for (unsigned qi = 0; qi < r->nq; qi++) {
        struct queue *x = &r->queues[qi];
        if (x->dead)
            continue;
        for (unsigned l = 0; l < ROUTER_MAX_STEPS; l++)
            if (x->addq[l] == from)
                x->addq[l] = to;
        if (x->overflow == from)
            x->overflow = to;
    }
    for (size_t i = 0; i < r->nout; i++)
        if (r->out[i].queue == from)
            r->out[i].queue = to;
    memset(src, 0, sizeof(*src));
    src->dead = true;
}

/* Copies the shape (skills, levels, steps, channels, strategy) of `s`
 * into configured queue qi and its derived queues. */
static void queue_take_shape(struct router *r, int qi, const struct queue *s)
{
    for (int d = qi; d >= 0;
         d = d == qi ? r->queues[qi].derived : r->queues[d].derived_next) {
        struct queue *q = &r->queues[d];
        q->nreq = s->nreq;
        memcpy(q->req_skill, s->req_skill, sizeof(q->req_skill));
        memcpy(q->lvl_min, s->lvl_min, sizeof(q->lvl_min));
        memcpy(q->addq, s->addq, sizeof(q->addq));
        memcpy(q->step_ms, s->step_ms, sizeof(q->step_ms));
        q->nsteps = s->nsteps;
        q->strategy = s->strategy;
        if (d == qi)
            q->channel_mask = s->channel_mask;
    }
}

static struct queue *queue_scratch(void)
{
    struct queue *s = aligned_alloc(_Alignof(struct queue), sizeof(*s));
    if (s)
        memset(s, 0, sizeof(*s));
    return s;
}

int router_skill_add(struct router *r, const char *name)
{
    int rc = router_skill_intern(r, name);
    return rc < 0 ? rc : 0;
}

unsigned router_queue_holds(const struct router *r, int queue,
                            uint32_t channels, bool waiting_only,
                            char *first, size_t len)
{
    unsigned n = 0;
    if (first && len)
        first[0] = 0;
    if (queue < 0 || (unsigned)queue >= r->nconf)
        return 0;
    for (uint32_t i = 0; i < r->max_contacts; i++) {
        const struct contact *c = &r->contacts[i];
        if (!c->live || c->gone || c->queue < 0 ||
            r->queues[c->queue].base != queue ||
            !(channels & (1U << c->channel)) ||
            (waiting_only && c->state == ROUTER_CONTACT_ASSIGNED))
            continue;
        if (!n++ && first && len)
            snprintf(first, len, "%s", c->id);
    }
    return n;
}

int router_queue_reshape(struct router *r, uint64_t now, int queue,
                         const struct router_queue_config *qc)
{
    if (queue < 0 || (unsigned)queue >= r->nconf || !qc ||
        strcmp(qc->name, r->queues[queue].name))
        return ROUTER_EINVAL;
    struct queue *s = queue_scratch();
    uint16_t (*before)[NCH] = malloc(sizeof(*before) * r->max_agents);
    if (!s || !before) {
        free(s);
        free(before);
        return ROUTER_ENOMEM;
    }
    const char *why = config_queue_into(r, (unsigned)queue, qc, s);
    uint32_t all = (1U << NCH) - 1, om = r->queues[queue].channel_mask;
    uint32_t gone_ch = (om ? om : all) & ~(s->channel_mask ? s->channel_mask
                                                            : all);
    if (why || (gone_ch && router_queue_holds(r, queue, gone_ch, true,
                                              NULL, 0))) {
        free(s);
        free(before);
        return why ? ROUTER_EINVAL : ROUTER_ESTATE;
    }
    uint8_t aff[QUEUE_MAX] = {0};
    mark_with_derived(r, aff, queue);
    for (unsigned qi = 0; qi < r->nconf; qi++)
        for (unsigned l = 0; l < r->queues[qi].nsteps; l++)
            if (r->queues[qi].addq[l] == queue)
                mark_with_derived(r, aff, (int)qi);
    uint32_t list = contacts_detach(r, aff);
    agents_detach(r, aff);
    queue_take_shape(r, queue, s);
    free(s);
    int rc = agents_attach(r, aff, before);
    free(before);
    contacts_attach(r, now, list);
    return rc;
}

int router_queue_add(struct router *r, const struct router_queue_config *qc)
{
    if (!qc || !id_ok(qc->name) || router_queue_find(r, qc->name) >= 0)
        return ROUTER_EINVAL;
    if (r->nconf >= QUEUE_MAX / 2)
        return ROUTER_ENOMEM;
    int qi = (int)r->nconf;
    /* steps and overflow come with router_queue_reshape() and
     * router_queue_set_limits(): they may name queues added after it */
    struct router_queue_config bare = *qc;
    bare.nsteps = 0;
    bare.overflow[0] = 0;
    struct queue *s = queue_scratch();
    uint16_t (*before)[NCH] = malloc(sizeof(*before) * r->max_agents);
    if (!s || !before) {
        free(s);
        free(before);
        return ROUTER_ENOMEM;
    }
    if (config_queue_into(r, (unsigned)qi, &bare, s)) {
        free(s);
        free(before);
        return ROUTER_EINVAL;
    }
    if ((unsigned)qi < r->nq && !r->queues[qi].dead &&
        r->queue_free < 0 && r->nq >= QUEUE_MAX) {
        free(s);
        free(before);
        return ROUTER_ENOMEM;
    }
    if ((unsigned)qi < r->nq && r->queues[qi].dead) {
        free_unlink(r, qi);
    } else if ((unsigned)qi < r->nq) {
        /* a created queue sits there: it moves to a free slot */
        int to = r->queue_free;
        if (to >= 0)
            r->queue_free = r->queues[to].qnext;
        else
            to = (int)r->nq;
        queue_relocate(r, qi, to);
    }
    /* after the move: the map finds entries by handle, and the occupant
     * had this one */
    if (idmap_insert(&r->queue_map, idmap_hash(s->name), (uint32_t)qi) < 0) {
        free(s);
        free(before);
        if ((unsigned)qi < r->nq) {
            r->queues[qi].dead = true;
            r->queues[qi].qnext = r->queue_free;
            r->queue_free = qi;
        }
        return ROUTER_ENOMEM;
    }
    struct queue *q = &r->queues[qi];
    *q = *s;
    free(s);
    r->nconf++;
    if (r->nq < r->nconf)
        r->nq = r->nconf;
    uint8_t aff[QUEUE_MAX] = {0};
    aff[qi] = 1;
    int rc = agents_attach(r, aff, before);
    free(before);
    return rc < 0 ? rc : qi;
}

int router_queue_remove(struct router *r, uint64_t now, int queue,
                        int fallback)
{
    if (queue < 0 || (unsigned)queue >= r->nconf || fallback == queue ||
        (fallback >= 0 && (unsigned)fallback >= r->nconf))
        return ROUTER_EINVAL;
    for (unsigned qi = 0; qi < r->nconf; qi++) {
        const struct queue *x = &r->queues[qi];
        if ((int)qi == queue)
            continue;
        if (x->overflow == queue)
            return ROUTER_EINVAL;
        for (unsigned l = 0; l < x->nsteps; l++)
            if (x->addq[l] == queue)
                return ROUTER_EINVAL;
    }
    if (fallback < 0 &&
        router_queue_holds(r, queue, (1U << NCH) - 1, false, NULL, 0))
        return ROUTER_ESTATE;
    /* 1. its contacts go to the fallback, keeping their arrival */
    for (uint32_t i = 0; i < r->max_contacts; i++) {
        struct contact *c = &r->contacts[i];
        if (!c->live || c->gone || c->queue < 0 ||
            r->queues[c->queue].base != queue)
            continue;
        int to = queue_carry(r, c->queue, fallback, c->channel);
        /* out of the queue's timer fifos, even when the due time stays */
        contact_timer_set(r, c, NEVER, TF_N);
        if (c->state == ROUTER_CONTACT_QUEUED) {
            /* one waiting for a preferred agent stays in its list */
            if (!c->inpref)
                cq_remove(r, c);
            fifo_remove(r, c);
            contact_enter_queue(r, c, to, now);
            if (c->inpref) {
                contact_rearm(r, c);
            } else {
                c->kick = 1;
                c->kick_at = now;
                contact_to_pool(r, c, now);
            }
            emit(r, ROUTER_EV_MOVED, c, NULL);
            emit_queued(r, c, now);
        } else {
            /* an offer keeps its agent and deadline; work goes on */
            bool waits = c->infifo;
            fifo_remove(r, c);
            queue_ref(r, to, +1);
            queue_ref(r, c->queue, -1);
            c->queue = to;
            if (waits)
                fifo_add(r, c);
            contact_rearm(r, c);
            emit(r, ROUTER_EV_MOVED, c, NULL);
        }
    }
    /* 2. its derived queues, empty now, are freed */
    for (int d = r->queues[queue].derived; d >= 0;) {
        int next = r->queues[d].derived_next;
        doomed_unlink(r, d);
        queue_free(r, d);
        d = next;
    }
    /* 3. the agents' entries, its pools and its name go */
    uint8_t aff[QUEUE_MAX] = {0};
    aff[queue] = 1;
    agents_detach(r, aff);
    for (uint32_t i = 0; i < r->max_agents; i++) {
        struct agent *a = &r->agents[i];
        for (unsigned k = 0; a->live && k < a->nserved; k++)
            if (a->served[k] == queue)
                a->served[k] = UINT16_MAX;  /* matches no queue; the list
                                               must not empty into "all" */
    }
    idmap_remove(&r->queue_map, idmap_hash(r->queues[queue].name),
                 (uint32_t)queue);
    memset(&r->queues[queue], 0, sizeof(r->queues[queue]));
    r->queues[queue].dead = true;
    /* 4. the last configured queue takes its slot */
    int last = (int)r->nconf - 1;
    if (last != queue)
        queue_relocate(r, last, queue);
    r->nconf--;
    if ((unsigned)last == r->nq - 1) {
        r->nq--;
        memset(&r->queues[last], 0, sizeof(r->queues[last]));
    } else {
        r->queues[last].dead = true;
        r->queues[last].qnext = r->queue_free;
        r->queue_free = last;
    }
    return 0;
}
