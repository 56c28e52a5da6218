/* limit-server.c -- "the limit": the cheapest server that speaks ccroute.
 *
 * A baseline for the benchmark. It does what every server speaking this
 * protocol must do -- accept connections, cut frames, unpack each Envelope
 * with protobuf-c, pack replies, write them once per loop turn -- and
 * nothing else: no routing, no state, no Redis. Every request gets an Ack
 * (an Error MALFORMED when the frame does not decode); a ContactArrived
 * also gets an Offer on the same connection, so that ccload's latency path
 * (intended arrival -> Offer) works unchanged. The Offer names an agent
 * this connection logged in (round robin over its AgentLogin ids, no
 * bookkeeping of who is busy), or "limit-agent" if it logged none in.
 *
 * Whatever ccrouted does beyond this is the price of routing; whatever
 * ccload measures here is the floor of the measuring setup itself.
 *
 *   limit-server [--listen HOST:PORT] [--port-file FILE] [--config FILE]
 *
 * --config is accepted and ignored (same command line as ccrouted).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bconn.h"

#define LIMIT_MAX_AGENTS 4096

struct limit_conn {
    struct bconn bc;
    char **agents;              /* ids this connection logged in */
    size_t nagents, next;
};

static struct bconn_loop g_bl;
static uint64_t g_requests;

static void limit_on_close(struct bconn *bc, int err)
{
    struct limit_conn *lc = bc->data;
    for (size_t i = 0; i < lc->nagents; i++)
        free(lc->agents[i]);
    free(lc->agents);
    free(lc);
}

static void limit_reply_error(struct bconn *bc, uint64_t id,
                              Ccroute__V1__ErrorCode code, const char *msg)
{
    Ccroute__V1__Envelope out = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Error e = CCROUTE__V1__ERROR__INIT;
    e.code = code;
    e.message = (char *)msg;
    out.request_id = id;
    out.body_case = CCROUTE__V1__ENVELOPE__BODY_ERROR;
    out.error = &e;
    bconn_send(bc, &out);
}

static void limit_on_frame(struct bconn *bc, Ccroute__V1__Envelope *env)
{
    struct limit_conn *lc = bc->data;
    if (!env) {
        limit_reply_error(bc, 0, CCROUTE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                          "frame did not decode");
        return;
    }
    g_requests++;
    if (env->body_case == CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN &&
        env->agent_login && env->agent_login->agent_id &&
        lc->nagents < LIMIT_MAX_AGENTS) {
        char **na = realloc(lc->agents, (lc->nagents + 1) * sizeof(*na));
        if (na) {
            lc->agents = na;
            na[lc->nagents] = strdup(env->agent_login->agent_id);
            if (na[lc->nagents])
                lc->nagents++;
        }
    }

    Ccroute__V1__Envelope out = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
    out.request_id = env->request_id;
    out.body_case = CCROUTE__V1__ENVELOPE__BODY_ACK;
    out.ack = &ack;
    bconn_send(bc, &out);

    if (env->body_case == CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED &&
        env->contact_arrived) {
        Ccroute__V1__ContactArrived *ca = env->contact_arrived;
        Ccroute__V1__Envelope ev = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__Offer offer = CCROUTE__V1__OFFER__INIT;
        offer.contact_id = ca->contact_id;
        if (lc->nagents) {
            offer.agent_id = lc->agents[lc->next++ % lc->nagents];
        } else {
            offer.agent_id = "limit-agent";
        }
        offer.queue = ca->queue;
        offer.channel = ca->channel;
        offer.deadline_ms = uv_now(g_bl.loop) + 15000;
        ev.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER;
        ev.offer = &offer;
        bconn_send(bc, &ev);
    }
}

static void limit_on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct limit_conn *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return;
    lc->bc.data = lc;
    bconn_init(&g_bl, &lc->bc, limit_on_frame, limit_on_close);
    if (uv_accept(server, (uv_stream_t *)&lc->bc.tcp) < 0 ||
        bconn_start(&lc->bc) < 0) {
        bconn_close(&lc->bc, UV_ECONNABORTED);
        return;
    }
}

static void limit_on_signal(uv_signal_t *s, int signum)
{
    uv_stop(s->loop);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: limit-server [--listen HOST:PORT] [--port-file FILE]\n"
            "                    [--config FILE (ignored)]\n"
            "Answers every ccroute request with Ack (and an Offer for each\n"
            "ContactArrived), doing no routing: the protocol's floor.\n");
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:7400", *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(a, "--port-file") && i + 1 < argc)
            port_file = argv[++i];
        else if (!strcmp(a, "--config") && i + 1 < argc)
            i++;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    if (bconn_loop_init(&g_bl, loop) < 0)
        return 1;
    uv_tcp_t server;
    int port, rc = bconn_listen(loop, &server, listen, limit_on_connection,
                                &port);
    if (rc < 0) {
        fprintf(stderr, "limit-server: listen %s: %s\n", listen,
                uv_strerror(rc));
        return 1;
    }
    if (port_file && (rc = bconn_write_port_file(port_file, port)) < 0) {
        fprintf(stderr, "limit-server: %s: %s\n", port_file, strerror(-rc));
        return 1;
    }
    fprintf(stderr, "limit-server: listening on port %d\n", port);
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, limit_on_signal, SIGINT);
    uv_signal_start(&sigterm, limit_on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    fprintf(stderr, "limit-server: %llu requests\n",
            (unsigned long long)g_requests);
    return 0;
}
