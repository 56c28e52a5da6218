/* bench-reload.c -- what a configuration reload costs the routing core
 * (engine/router.c, "reload: the queue set and a queue's shape"), in
 * process: a router with AGENTS agents (three skills each) over QUEUES
 * queues (one skill each, ten skills in all) and CONTACTS contacts
 * waiting, spread evenly; then, timed one by one, a strategy change of
 * one queue (router_queue_reshape), a queue added (router_queue_add) and
 * a queue removed with its contacts moved to the next one
 * (router_queue_remove), each followed by router_check() (not timed).
 * Prints the wall time of each call; a figure, never a verdict (exit 1
 * only when a call fails or an invariant breaks).
 *
 * usage: bench-reload [AGENTS [QUEUES [CONTACTS]]]   (10000 20 20000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int checked(struct router *r, const char *what, int rc, double ms)
{
    char buf[256];
    int ck = router_check(r, buf, sizeof(buf));
    router_out_clear(r);
    printf("%-34s %8.2f ms\n", what, ms);
    if (rc < 0 || ck < 0) {
        fprintf(stderr, "%s: %s\n", what, rc < 0 ? ccr_strerror(rc) : buf);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned na = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
    unsigned nq = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
    unsigned nc = argc > 3 ? (unsigned)atoi(argv[3]) : 20000;
    if (nq < 3 || nq > 500 || !na || !nc) {
        fprintf(stderr, "usage: bench-reload [AGENTS [QUEUES(3..500) "
                "[CONTACTS]]]\n");
        return 2;
    }
    struct router_queue_config *q = calloc(nq, sizeof(*q));
    if (!q)
        return 1;
    for (unsigned i = 0; i < nq; i++) {
        snprintf(q[i].name, sizeof(q[i].name), "q%u", i);
        q[i].nreq = 1;
        snprintf(q[i].req[0].skill, ROUTER_ID_MAX, "s%u", i % 10);
        q[i].req[0].min_level = 1;
        q[i].strategy = (enum router_strategy)(i % 5);
    }
    struct router_config c;
    memset(&c, 0, sizeof(c));
    c.queues = q;
    c.nqueues = nq;
    c.max_agents = na + 1;
    c.max_contacts = nc + 1;
    c.priority_weight_ms = 1000;
    c.value_weight_ms = 10;
    c.max_no_answer = 3;
    c.voice_blocks_others = true;
    const char *err = NULL;
    struct router *r = router_new(&c, 1, &err);
    if (!r) {
        fprintf(stderr, "router_new: %s\n", err);
        return 1;
    }
    uint64_t t = 1000000;
    uint32_t h;
    char id[32];
    for (unsigned i = 0; i < na; i++) {
        struct router_agent_spec s;
        memset(&s, 0, sizeof(s));
        snprintf(id, sizeof(id), "a%u", i);
        s.id = id;
        s.nskills = 3;
        for (unsigned k = 0; k < 3; k++) {
            snprintf(s.skills[k].skill, ROUTER_ID_MAX, "s%u", (i + k) % 10);
            s.skills[k].level = (uint8_t)(1 + i % 5);
        }
        router_agent_login(r, t, &s, 0, &h);
        router_out_clear(r);
    }
    for (unsigned i = 0; i < nc; i++) {
        struct router_contact_spec s;
        memset(&s, 0, sizeof(s));
        snprintf(id, sizeof(id), "c%u", i);
        s.id = id;
        s.queue = q[i % nq].name;
        router_contact_arrive(r, t + i, &s, 0, &h);
        router_out_clear(r);
    }
    t += nc;
    printf("%u agents, %u queues, %u contacts (%u waiting)\n",
           router_agent_count(r), nq, router_contact_count(r),
           router_waiting_count(r));

    struct router_queue_config n = q[3];
    n.strategy = ROUTER_STRATEGY_MOST_SKILLED;
    double a = now_ms();
    int rc = router_queue_reshape(r, t, 3, &n);
    if (checked(r, "reshape (strategy) of q3", rc, now_ms() - a) < 0)
        return 1;
    struct router_queue_config add;
    memset(&add, 0, sizeof(add));
    snprintf(add.name, sizeof(add.name), "added");
    add.nreq = 1;
    snprintf(add.req[0].skill, ROUTER_ID_MAX, "s1");
    add.req[0].min_level = 1;
    a = now_ms();
    rc = router_queue_add(r, &add);
    if (checked(r, "add a queue", rc, now_ms() - a) < 0)
        return 1;
    a = now_ms();
    rc = router_queue_remove(r, t, 5, 6);
    char what[64];
    snprintf(what, sizeof(what), "remove q5 (%u contacts to q6)", nc / nq);
    if (checked(r, what, rc, now_ms() - a) < 0)
        return 1;
    router_free(r);
    free(q);
    return 0;
}
