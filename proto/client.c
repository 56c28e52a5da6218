/* client.c -- blocking protocol client; see client.h.
 *
 * One receive buffer per client, grown to the largest frame seen (engine
 * frames are bounded by the engine's own limit); frames are cut with
 * frame_next() exactly as the engine does on its side.
 */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

#define CLIENT_MAX_FRAME (16u * 1024 * 1024)

struct ccr_client {
    int fd;
    uint64_t next_id;
    uint8_t *buf;       /* received, not yet consumed: buf[0..len) */
    size_t len, cap;
};

int ccr_client_connect(const char *host, int port, struct ccr_client **out)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char service[16];
    int fd = -1, rc;

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return -EHOSTUNREACH;
    rc = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return rc;

    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct ccr_client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    c->next_id = 1;
    *out = c;
    return 0;
}

void ccr_client_close(struct ccr_client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

int ccr_client_fd(const struct ccr_client *c)
{
    return c->fd;
}

int ccr_client_send_raw(struct ccr_client *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ccr_client_send(struct ccr_client *c, ccr_envelope *env)
{
    uint8_t stackbuf[4096], *buf = stackbuf;
    size_t plen, hlen;
    int rc;

    if (env->request_id == 0)
        env->request_id = c->next_id++;
    plen = ccroute__v1__envelope__get_packed_size(env);
    if (plen + FRAME_VARINT_MAX > sizeof(stackbuf)) {
        buf = malloc(plen + FRAME_VARINT_MAX);
        if (!buf)
            return -ENOMEM;
    }
    hlen = frame_varint_put(plen, buf);
    ccroute__v1__envelope__pack(env, buf + hlen);
    rc = ccr_client_send_raw(c, buf, hlen + plen);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* Reads whatever is available into the buffer, waiting up to timeout_ms. */
static int client_fill(struct ccr_client *c, int timeout_ms)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int rc;

    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    if (rc == 0)
        return -ETIMEDOUT;
    if (c->cap - c->len < 4096) {
        size_t ncap = c->cap ? c->cap * 2 : 16384;
        uint8_t *nb = realloc(c->buf, ncap);
        if (!nb)
            return -ENOMEM;
        c->buf = nb;
        c->cap = ncap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return -EPIPE;
    c->len += (size_t)n;
    return 0;
}

int ccr_client_recv(struct ccr_client *c, int timeout_ms, ccr_envelope **out)
{
    for (;;) {
        const uint8_t *payload;
        size_t plen, used;
        int st = frame_next(c->buf, c->len, CLIENT_MAX_FRAME, &payload,
                            &plen, &used);
        if (st == FRAME_OK) {
            ccr_envelope *env =
                ccroute__v1__envelope__unpack(NULL, plen, payload);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            if (!env)
                return -EPROTO;
            *out = env;
            return 0;
        }
        if (st < 0)
            return -EPROTO;
        int rc = client_fill(c, timeout_ms);
        if (rc < 0)
            return rc;
    }
}

void ccr_free(ccr_envelope *env)
{
    if (env)
        ccroute__v1__envelope__free_unpacked(env, NULL);
}

int ccr_client_call(struct ccr_client *c, ccr_envelope *env, int timeout_ms,
                    void (*on_event)(void *arg, ccr_envelope *ev), void *arg,
                    ccr_envelope **reply)
{
    int rc = ccr_client_send(c, env);
    if (rc < 0)
        return rc;
    for (;;) {
        ccr_envelope *in;
        rc = ccr_client_recv(c, timeout_ms, &in);
        if (rc < 0)
            return rc;
        if (in->request_id == env->request_id &&
            (in->body_case == CCROUTE__V1__ENVELOPE__BODY_ACK ||
             in->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR)) {
            *reply = in;
            return 0;
        }
        if (on_event)
            on_event(arg, in);
        else
            ccr_free(in);
    }
}

int ccr_client_hello(struct ccr_client *c, const char *name,
                     Ccroute__V1__Role role, int reattach, int timeout_ms)
{
    return ccr_client_hello_cred(c, name, role, reattach, NULL, timeout_ms);
}

int ccr_token_load(const char *path, char *buf, size_t cap)
{
    const char *env;
    size_t n;

    if (cap == 0)
        return -ENAMETOOLONG;
    buf[0] = '\0';
    if (path) {
        FILE *f = fopen(path, "r");
        int rc = 0;
        if (!f)
            return -errno;
        if (!fgets(buf, (int)cap, f))
            rc = ferror(f) ? -EIO : 0;
        else if (!strchr(buf, '\n') && !feof(f) && fgetc(f) != EOF)
            rc = -ENAMETOOLONG;
        fclose(f);
        if (rc < 0) {
            buf[0] = '\0';
            return rc;
        }
    } else if ((env = getenv("CCROUTE_TOKEN"))) {
        if (strlen(env) >= cap)
            return -ENAMETOOLONG;
        memcpy(buf, env, strlen(env) + 1);
    }
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

int ccr_client_hello_cred(struct ccr_client *c, const char *name,
                          Ccroute__V1__Role role, int reattach,
                          const char *credential, int timeout_ms)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello hello = CCROUTE__V1__HELLO__INIT;
    ccr_envelope *reply = NULL;
    int rc;

    hello.client_name = (char *)name;
    hello.role = role;
    hello.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    hello.reattach = reattach != 0;
    if (credential && *credential)
        hello.credential = (char *)credential;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    rc = ccr_client_call(c, &env, timeout_ms, NULL, NULL, &reply);
    if (rc < 0)
        return rc;
    if (reply->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR)
        rc = reply->error ? (int)reply->error->code : -EPROTO;
    ccr_free(reply);
    return rc;
}
