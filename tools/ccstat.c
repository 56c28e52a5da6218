/* ccstat -- print a running engine's statistics.
 *
 * Connects to ccrouted as a monitor, sends one StatsRequest and prints the
 * Stats reply as a table: per queue waiting contacts (and how many of them
 * no logged-in agent could ever serve), longest wait, offered, answered,
 * abandoned, service level, average speed of answer and handle time,
 * available agents; with --agents, one line per agent. `make run` calls it
 * at the end of the demo; operators use it against any engine. The token
 * of a monitor principal comes from --token-file or CCROUTE_TOKEN.
 *
 * Exit status: 0 printed, 1 the engine could not be reached or refused the
 * request, 2 bad arguments, 3 (with --fail-unservable) some contact waits
 * that no logged-in agent could ever serve.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x

struct reply {
    ccr_envelope *stats;        /* the Stats event, owned */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: ccstat [options] [HOST[:PORT]]\n"
"Prints the statistics of a running ccrouted (default 127.0.0.1:7400).\n"
"  -q, --queue NAME      only this queue (repeatable; default: all)\n"
"  -a, --agents          also print every logged-in agent\n"
"  -t, --timeout MS      give up after MS milliseconds (default 5000)\n"
"  -T, --token-file FILE the credential (first line of FILE; default: the\n"
"                        environment variable CCROUTE_TOKEN, else none)\n"
"      --fail-unservable exit 3 when a waiting contact has no logged-in\n"
"                        agent that could ever serve it\n"
"  -h, --help\n"
"Exit status: 0 printed, 1 engine unreachable or request refused,\n"
"2 bad arguments, 3 unservable contacts (with --fail-unservable).\n");
}

static void on_event(void *arg, ccr_envelope *ev)
{
    struct reply *r = arg;
    if (ev->body_case == BODY(STATS) && !r->stats) {
        r->stats = ev;
        return;
    }
    ccr_free(ev);
}

static const char *agent_status(const Ccroute__V1__AgentStats *a)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &ccroute__v1__agent_status__descriptor, (int)a->status);
    const char *n = v ? v->name : "?";
    /* Enum value names are AGENT_STATUS_X; print x. */
    if (!strncmp(n, "AGENT_STATUS_", 13))
        n += 13;
    return n;
}

static void print_stats(const Ccroute__V1__Stats *st, int agents)
{
    printf("%-20s %7s %11s %8s %8s %8s %8s %7s %8s %8s %6s\n", "queue",
           "waiting", "unservable", "longest", "offered", "answered",
           "abandon", "SL", "ASA", "AHT", "avail");
    for (size_t i = 0; i < st->n_queues; i++) {
        const Ccroute__V1__QueueStats *q = st->queues[i];
        printf("%-20s %7u %11u %7.1fs %8llu %8llu %8llu %6.1f%% %7.2fs "
               "%7.1fs %6u\n",
               q->queue, q->waiting, q->contacts_unservable,
               q->longest_wait_ms / 1000.0, (unsigned long long)q->offered,
               (unsigned long long)q->answered,
               (unsigned long long)q->abandoned, q->service_level * 100.0,
               q->avg_speed_of_answer_ms / 1000.0,
               q->avg_handle_time_ms / 1000.0, q->agents_available);
    }
    printf("contacts waiting %u, agents logged in %u, clients in their grace "
           "period %u\n", st->contacts_waiting, st->agents_logged_in,
           st->clients_in_grace);
    printf("refused Hellos (credential) %llu, requests refused by a quota "
           "%llu\n", (unsigned long long)st->auth_failures,
           (unsigned long long)st->quota_refusals);
    if (!agents)
        return;
    printf("\n%-24s %-12s %-16s %9s %9s %6s\n", "agent", "status", "reason",
           "in state", "occupancy", "active");
    for (size_t i = 0; i < st->n_agents; i++) {
        const Ccroute__V1__AgentStats *a = st->agents[i];
        printf("%-24s %-12s %-16s %8.1fs %8.1f%% %6u%s\n", a->agent_id,
               agent_status(a), a->reason, a->time_in_state_ms / 1000.0,
               a->occupancy * 100.0, a->active_contacts,
               a->in_wrapup ? " wrap-up" : "");
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"queue", required_argument, NULL, 'q'},
        {"agents", no_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"fail-unservable", no_argument, NULL, 'U'},
        {"token-file", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *queues[64];
    size_t nqueues = 0;
    int agents = 0, fail_unservable = 0, timeout_ms = 5000, ch, rc, port = 7400;
    char host[256] = "127.0.0.1";
    struct ccr_client *c = NULL;
    struct reply r = {NULL};
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT, *reply = NULL;
    Ccroute__V1__StatsRequest req = CCROUTE__V1__STATS_REQUEST__INIT;
    char name[64];
    char token[4097];
    const char *token_file = NULL;
    unsigned long unservable = 0;

    while ((ch = getopt_long(argc, argv, "q:at:T:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            if (nqueues == sizeof(queues) / sizeof(queues[0])) {
                fprintf(stderr, "ccstat: at most 64 --queue options\n");
                return 2;
            }
            queues[nqueues++] = optarg;
            break;
        case 'a':
            agents = 1;
            break;
        case 'U':
            fail_unservable = 1;
            break;
        case 'T':
            token_file = optarg;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v <= 0 || v > 3600000) {
                fprintf(stderr, "ccstat: --timeout: not a number of "
                        "milliseconds: %s\n", optarg);
                return 2;
            }
            timeout_ms = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc - 1) {
        usage(stderr);
        return 2;
    }
    if (optind == argc - 1) {
        const char *a = argv[optind], *colon = strrchr(a, ':');
        size_t hl = colon ? (size_t)(colon - a) : strlen(a);
        if (colon) {
            char *end;
            long p = strtol(colon + 1, &end, 10);
            if (*end || p <= 0 || p > 65535) {
                fprintf(stderr, "ccstat: bad port in %s\n", a);
                return 2;
            }
            port = (int)p;
        }
        if (hl == 0 || hl >= sizeof(host)) {
            fprintf(stderr, "ccstat: bad host in %s\n", a);
            return 2;
        }
        memcpy(host, a, hl);
        host[hl] = '\0';
    }

    if ((rc = ccr_token_load(token_file, token, sizeof(token))) < 0) {
        fprintf(stderr, "ccstat: --token-file %s: %s\n",
                token_file ? token_file : "(CCROUTE_TOKEN)", strerror(-rc));
        return 2;
    }
    if ((rc = ccr_client_connect(host, port, &c)) < 0) {
        fprintf(stderr, "ccstat: cannot connect to %s:%d: %s\n", host, port,
                strerror(-rc));
        return 1;
    }
    snprintf(name, sizeof(name), "ccstat-%ld", (long)getpid());
    rc = ccr_client_hello_cred(c, name, CCROUTE__V1__ROLE__ROLE_MONITOR, 0,
                               token, timeout_ms);
    if (rc < 0) {
        /* The engine may have answered before closing (a full engine sends
         * RESOURCE_EXHAUSTED right after the connect): say what it said. */
        ccr_envelope *early = NULL;
        if (ccr_client_recv(c, 200, &early) == 0 && early &&
            early->body_case == BODY(ERROR)) {
            fprintf(stderr, "ccstat: %s:%d refused the connection: %s\n",
                    host, port, early->error->message);
            ccr_free(early);
            ccr_client_close(c);
            return 1;
        }
        if (early)
            ccr_free(early);
    }
    if (rc != 0) {
        fprintf(stderr, "ccstat: Hello refused by %s:%d: %s\n", host, port,
                rc < 0 ? strerror(-rc) :
                rc == CCROUTE__V1__ERROR_CODE__ERROR_CODE_UNAUTHENTICATED ?
                "credential refused (--token-file, CCROUTE_TOKEN)" :
                rc == CCROUTE__V1__ERROR_CODE__ERROR_CODE_FORBIDDEN ?
                "this principal may not connect as monitor ccstat-*" :
                "see the engine's log");
        ccr_client_close(c);
        return 1;
    }
    req.n_queues = nqueues;
    req.queues = queues;
    req.all_agents = agents;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &req;
    rc = ccr_client_call(c, &env, timeout_ms, on_event, &r, &reply);
    if (rc < 0) {
        fprintf(stderr, "ccstat: StatsRequest: %s\n", strerror(-rc));
    } else if (reply->body_case == BODY(ERROR)) {
        fprintf(stderr, "ccstat: StatsRequest refused: %s\n",
                reply->error->message);
        rc = -EPROTO;
    } else if (!r.stats) {
        fprintf(stderr, "ccstat: Ack without Stats\n");
        rc = -EPROTO;
    } else {
        print_stats(r.stats->stats, agents);
        for (size_t i = 0; i < r.stats->stats->n_queues; i++)
            if (r.stats->stats->queues[i]->contacts_unservable)
                unservable += r.stats->stats->queues[i]->contacts_unservable;
    }
    if (reply)
        ccr_free(reply);
    if (r.stats)
        ccr_free(r.stats);
    ccr_client_close(c);
    if (rc < 0)
        return 1;
    if (fail_unservable && unservable) {
        fprintf(stderr, "ccstat: %lu waiting contacts have no logged-in agent "
                "that could ever serve them\n", unservable);
        return 3;
    }
    return 0;
}
