/* ccjournal -- print the router events of a tenant's journal
 * (`redis.layout: journal`, docs/redis.md "The journal layout").
 *
 * Reads `ccr:{<tenant>}:journal` with XRANGE (a blocking hiredis
 * connection; never the engine's loop) and expands every entry's packed
 * ops (engine/journal.h): each event op (`e`, `E`) becomes one line with
 * the fields an entry of the per-key layout's `events` stream has, in the
 * same order and with the same rule (type, ts and token always; contact,
 * agent, queue, detail, disposition, tags, note_ref, difficult, product only
 * when not empty):
 *
 *     <entry id> TAB type=queued TAB contact=c1 TAB queue=sales TAB
 *     ts=1764500000000 TAB token=3
 *
 * With --ops every op is printed instead (opcode, then its fields), for
 * looking at state ops too. Bytes outside printable ASCII, a backslash, a
 * TAB or '=' in a value are written \xNN. The last line read is the place
 * to continue from: --from ID prints the entries after ID.
 *
 * Exit status: 0 printed, 1 Redis could not be read or an entry is
 * malformed, 2 bad arguments.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "journal.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: ccjournal [options]\n"
"Prints the router events in a tenant's journal (redis.layout: journal).\n"
"  -H, --host HOST     redis host (default 127.0.0.1)\n"
"  -p, --port PORT     redis port (default 6379)\n"
"  -a, --password PW   AUTH with PW\n"
"  -t, --tenant T      tenant (default \"default\")\n"
"  -f, --from ID       only entries after this id (default: all)\n"
"  -n, --count N       entries per XRANGE call (default 1000)\n"
"      --ops           print every op (opcode and fields), not events\n"
"  -h, --help          this text\n");
}

static void put_val(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == '=')
            printf("\\x%02x", c);
        else
            putchar((int)c);
    }
}

static const char *const ev_names[] = {
    "type", "contact", "agent", "queue", "ts", "detail",
    "disposition", "tags", "note_ref", "difficult", "product",
};

/* One event op as the events stream of the per-key layout has it. */
static void print_event(const char *id, const struct journal_op *op,
                        const char *token, size_t toklen)
{
    /* an E written before the product (10 fields) has none */
    size_t nf = op->code == 'E' ? 11 : 6;
    if (op->nf < nf)
        nf = op->nf;
    printf("%s", id);
    for (size_t i = 0; i < nf; i++) {
        /* type (0) and ts (4) always; the others when not empty */
        if (op->fl[i] == 0 && i != 0 && i != 4)
            continue;
        printf("\t%s=", ev_names[i]);
        put_val(op->f[i], op->fl[i]);
    }
    printf("\ttoken=");
    put_val((const uint8_t *)token, toklen);
    putchar('\n');
}

static const char *const lead_names[] = {
    "type", "campaign", "lead", "contact", "state", "attempts", "outcome",
    "ts",
};

/* One lead entry (op V) as the events stream of the per-key layout has
 * it: contact and outcome only when not empty. */
static void print_lead(const char *id, const struct journal_op *op,
                       const char *token, size_t toklen)
{
    size_t nf = op->nf < 8 ? op->nf : 8;
    printf("%s", id);
    for (size_t i = 0; i < nf; i++) {
        if (op->fl[i] == 0 && (i == 3 || i == 6))
            continue;
        printf("\t%s=", lead_names[i]);
        put_val(op->f[i], op->fl[i]);
    }
    printf("\ttoken=");
    put_val((const uint8_t *)token, toklen);
    putchar('\n');
}

static void print_op(const char *id, const struct journal_op *op)
{
    printf("%s\top=%c", id, op->code >= 0x21 && op->code < 0x7f
                            ? op->code : '?');
    for (size_t i = 0; i < op->nf; i++) {
        putchar('\t');
        put_val(op->f[i], op->fl[i]);
    }
    putchar('\n');
}

/* One journal entry (the reply's [id, [field, value, ...]]). 0 or -1. */
static int print_entry(const redisReply *e, bool ops)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    const char *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    const char *b = "", *t = "";
    size_t bl = 0, tl = 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (!strcmp(k->str, "b")) {
            b = v->str;
            bl = v->len;
        } else if (!strcmp(k->str, "t")) {
            t = v->str;
            tl = v->len;
        }
    }
    const uint8_t *p = (const uint8_t *)b, *end = p + bl;
    struct journal_op op;
    int rc;
    while ((rc = journal_next(&p, end, &op)) == 1) {
        if (ops)
            print_op(id, &op);
        else if (op.code == 'e' || op.code == 'E')
            print_event(id, &op, t, tl);
        else if (op.code == 'V')
            print_lead(id, &op, t, tl);
    }
    if (rc < 0) {
        fprintf(stderr, "ccjournal: entry %s is malformed\n", id);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *pw = NULL, *tenant = "default";
    const char *from = NULL;
    int port = 6379;
    long count = 1000;
    bool ops = false;
    static const struct option lo[] = {
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "password", required_argument, NULL, 'a' },
        { "tenant", required_argument, NULL, 't' },
        { "from", required_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "ops", no_argument, NULL, 'O' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "H:p:a:t:f:n:h", lo, NULL)) != -1) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'a': pw = optarg; break;
        case 't': tenant = optarg; break;
        case 'f': from = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'O': ops = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || port < 1 || port > 65535 || count < 1) {
        usage(stderr);
        return 2;
    }
    redisContext *r = redisConnect(host, port);
    if (!r || r->err) {
        fprintf(stderr, "ccjournal: cannot connect to redis %s:%d: %s\n",
                host, port, r ? r->errstr : "out of memory");
        return 1;
    }
    if (pw) {
        redisReply *a = redisCommand(r, "AUTH %s", pw);
        bool ok = a && a->type != REDIS_REPLY_ERROR;
        if (!ok)
            fprintf(stderr, "ccjournal: AUTH: %s\n",
                    a ? a->str : r->errstr);
        freeReplyObject(a);
        if (!ok) {
            redisFree(r);
            return 1;
        }
    }
    char key[256], start[80];
    snprintf(key, sizeof(key), "ccr:{%s}:journal", tenant);
    if (from)
        snprintf(start, sizeof(start), "(%s", from);
    else
        snprintf(start, sizeof(start), "-");
    int status = 0;
    for (;;) {
        redisReply *x = redisCommand(r, "XRANGE %s %s + COUNT %ld", key,
                                     start, count);
        if (!x || x->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "ccjournal: XRANGE %s: %s\n", key,
                    x && x->type == REDIS_REPLY_ERROR ? x->str : r->errstr);
            freeReplyObject(x);
            status = 1;
            break;
        }
        for (size_t i = 0; i < x->elements; i++) {
            if (print_entry(x->element[i], ops) < 0)
                status = 1;
            const redisReply *e = x->element[i];
            if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
                e->element[0]->type == REDIS_REPLY_STRING)
                snprintf(start, sizeof(start), "(%s", e->element[0]->str);
        }
        size_t n = x->elements;
        freeReplyObject(x);
        if (n < (size_t)count)
            break;
    }
    redisFree(r);
    return status;
}
