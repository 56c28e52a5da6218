/* redis-harness.c -- the store tests' redis-server, on tests/harness.c. */
#include "redis-harness.h"

static const char *const rh_args[] = {
    "--appendfsync", "always", "--protected-mode", "no",
    "--loglevel", "warning", NULL
};

int rh_start(struct rh *h)
{
    int rc = harness_redis_start_args(&h->r, rh_args);
    h->port = h->r.port;
    return rc < 0 ? -1 : 0;
}

int rh_restart(struct rh *h)
{
    harness_redis_term(&h->r, HARNESS_STOP_TIMEOUT_MS);
    return harness_redis_restart(&h->r) < 0 ? -1 : 0;
}

void rh_stop(struct rh *h, bool kill9)
{
    if (kill9)
        harness_redis_kill(&h->r);
    else
        harness_redis_term(&h->r, HARNESS_STOP_TIMEOUT_MS);
}

void rh_free(struct rh *h)
{
    harness_redis_kill(&h->r);
    harness_rm_rf(h->r.dir);
    h->r.dir[0] = '\0';
}

int rh_free_port(void)
{
    int port = harness_free_port();
    return port > 0 ? port : -1;
}
