/* router-fx.h -- small helpers shared by the router tests: building
 * configurations and specs from short strings, reading the output list.
 * (Header-only, static functions, so each test program takes what it
 * uses.) */
#ifndef CCROUTE_ROUTER_FX_H
#define CCROUTE_ROUTER_FX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

/* "sales:5,en:3" -> skill requirements; returns the count. */
static inline unsigned fx_reqs(struct router_skill_req *req, const char *s)
{
    unsigned n = 0;
    while (s && *s) {
        const char *colon = strchr(s, ':');
        size_t len = (size_t)(colon - s);
        memcpy(req[n].skill, s, len);
        req[n].skill[len] = 0;
        req[n].min_level = (uint8_t)atoi(colon + 1);
        n++;
        s = strchr(colon, ',');
        if (s)
            s++;
    }
    return n;
}

static inline unsigned fx_skills(struct router_agent_skill *sk, const char *s)
{
    struct router_skill_req req[ROUTER_MAX_SKILLS];
    unsigned n = fx_reqs(req, s);
    for (unsigned i = 0; i < n; i++) {
        memcpy(sk[i].skill, req[i].skill, ROUTER_ID_MAX);
        sk[i].level = req[i].min_level;
    }
    return n;
}

static inline struct router_queue_config fx_queue(const char *name,
                                                  const char *reqs)
{
    struct router_queue_config q;
    memset(&q, 0, sizeof(q));
    snprintf(q.name, sizeof(q.name), "%s", name);
    q.nreq = fx_reqs(q.req, reqs);
    q.sl_percent = 80;
    q.sl_threshold_ms = 20000;
    q.offer_timeout_ms = 10000;
    return q;
}

static inline struct router_config fx_config(struct router_queue_config *q,
                                             unsigned nq)
{
    struct router_config c;
    memset(&c, 0, sizeof(c));
    c.queues = q;
    c.nqueues = nq;
    c.max_agents = 64;
    c.max_contacts = 256;
    c.priority_weight_ms = 1000;
    c.value_weight_ms = 10;
    c.max_no_answer = 3;
    c.voice_blocks_others = true;
    return c;
}

#endif
