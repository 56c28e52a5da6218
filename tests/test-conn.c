/* test-conn.c -- the connection module (engine/conn.c) on its own: a real
 * libuv loop, a real listener on 127.0.0.1, and a plain blocking client
 * socket on the other end. The connection set's callbacks record what they
 * are given; nothing above conn.c (dispatch, router, store) is linked in
 * the path under test.
 *
 * Synchronisation: every wait turns the loop (UV_RUN_NOWAIT) and polls the
 * client socket until a real condition holds (bytes received by the
 * connection, frames delivered, EOF), with a deadline; timing is never
 * asserted.
 */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "conn.h"
#include "frame.h"

#define DEADLINE_MS 5000
#define NFRAMES 16

struct fx {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_prepare_t prepare;            /* the owner's per-turn flush */
    struct conn_set cs;
    int port;
    int fd;                          /* the client's socket */
    /* what the callbacks saw */
    int nframes;
    uint8_t frame[NFRAMES][512];
    size_t flen[NFRAMES];
    struct conn *frame_conn[NFRAMES];
    void *frame_arg;
    int ncloses;
    struct conn *closed;
    uint32_t closed_id;
    bool closed_id_resolved;         /* conn_lookup(id) inside on_close */
    void *close_arg;
    int hello_role;                  /* a frame makes the conn say Hello as
                                        this role (0: no) */
    /* client side */
    uint8_t in[8192];
    size_t inlen;
    bool eof;
    bool reset;                      /* the connection was reset */
};

static void on_frame(void *arg, struct conn *c, const uint8_t *payload,
                     size_t len)
{
    struct fx *f = arg;
    f->frame_arg = arg;
    assert_true(f->nframes < NFRAMES);
    memcpy(f->frame[f->nframes], payload,
           len < sizeof(f->frame[0]) ? len : sizeof(f->frame[0]));
    f->flen[f->nframes] = len;
    f->frame_conn[f->nframes] = c;
    f->nframes++;
    if (f->hello_role) {            /* as dispatch.c does on a Hello */
        c->hello = true;
        c->role = f->hello_role;
    }
}

static void on_close(void *arg, struct conn *c)
{
    struct fx *f = arg;
    f->close_arg = arg;
    f->ncloses++;
    f->closed = c;
    f->closed_id = c->id;
    f->closed_id_resolved = conn_lookup(&f->cs, c->id) != NULL;
}

/* As server.c does: every pending output is written once per turn. */
static void on_prepare(uv_prepare_t *p)
{
    struct fx *f = p->data;
    conn_flush_all(&f->cs);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct fx *f = l->data;
    assert_int_equal(status, 0);
    int rc = conn_accept(&f->cs, l);
    assert_true(rc == 0 || rc == -EBUSY);     /* -EBUSY: refused, limit */
}

static long long now_ms(void)
{
    return (long long)(uv_hrtime() / 1000000);
}

/* Reads what the client socket has (non-blocking), notes EOF -- and
 * answers it with its own FIN, as a client does; a reset (the Error
 * lost) is counted apart. */
static void client_read(struct fx *f)
{
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    while (!f->eof && poll(&p, 1, 0) == 1) {
        ssize_t n = recv(f->fd, f->in + f->inlen, sizeof(f->in) - f->inlen,
                         0);
        if (n <= 0) {
            f->eof = true;
            f->reset = n < 0;
            shutdown(f->fd, SHUT_WR);
            break;
        }
        f->inlen += (size_t)n;
    }
}

typedef bool (*cond_fn)(struct fx *f, void *arg);

/* Turns the loop and reads the client until cond holds; fails the test
 * at the deadline. */
static void run_until(struct fx *f, cond_fn cond, void *arg)
{
    long long deadline = now_ms() + DEADLINE_MS;
    for (;;) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        client_read(f);
        if (cond(f, arg))
            return;
        if (now_ms() > deadline)
            fail_msg("condition not reached within %d ms", DEADLINE_MS);
        struct pollfd p = { .fd = uv_backend_fd(&f->loop), .events = POLLIN };
        poll(&p, 1, 1);   /* wait for loop I/O, at most 1 ms per turn */
    }
}

static bool have_conn(struct fx *f, void *arg)
{
    return f->cs.nconns == 1;
}

static bool have_frames(struct fx *f, void *arg)
{
    return f->nframes >= *(int *)arg;
}

static bool conn_has_bytes(struct fx *f, void *arg)
{
    struct conn *c = NULL;
    for (uint32_t i = 0; i < f->cs.nslots; i++)
        if (f->cs.slots[i])
            c = f->cs.slots[i];
    return c && c->rlen >= *(size_t *)arg;
}

static bool client_eof(struct fx *f, void *arg)
{
    return f->eof && f->ncloses > 0 && f->cs.nconns == 0;
}

static bool client_has_frame(struct fx *f, void *arg)
{
    const uint8_t *payload;
    size_t plen = 0, used = 0;
    return frame_next(f->in, f->inlen, 1 << 20, &payload, &plen, &used) ==
           FRAME_OK;
}

static struct conn *the_conn(struct fx *f)
{
    for (uint32_t i = 0; i < f->cs.nslots; i++)
        if (f->cs.slots[i])
            return f->cs.slots[i];
    return NULL;
}

/* Limits for a test: long deadlines unless the test shortens them. */
static struct conn_limits test_limits(size_t max_frame, size_t max_output)
{
    struct conn_limits lim = {
        .max_frame = max_frame, .max_output = max_output, .max_conns = 100,
        .hello_ms = 60000, .frame_ms = 60000, .pong_ms = 60000,
        .linger_ms = 2000,
    };
    return lim;
}

static struct fx *fx_new_lim(const struct conn_limits *lim)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);

    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(conn_set_init(&f->cs, &f->loop, lim, on_frame,
                                   on_close, f), 0);
    assert_int_equal(uv_prepare_init(&f->loop, &f->prepare), 0);
    f->prepare.data = f;
    assert_int_equal(uv_prepare_start(&f->prepare, on_prepare), 0);
    assert_int_equal(uv_tcp_init(&f->loop, &f->listener), 0);
    f->listener.data = f;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
    assert_int_equal(uv_tcp_bind(&f->listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 8,
                               on_connection), 0);
    assert_int_equal(uv_tcp_getsockname(&f->listener,
                                        (struct sockaddr *)&ss, &sslen), 0);
    f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);

    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    a.sin_port = htons((uint16_t)f->port);
    assert_int_equal(connect(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    run_until(f, have_conn, NULL);
    return f;
}

static struct fx *fx_new(size_t max_frame, size_t max_output)
{
    struct conn_limits lim = test_limits(max_frame, max_output);
    return fx_new_lim(&lim);
}

static void fx_free(struct fx *f)
{
    if (f->fd >= 0)
        close(f->fd);
    conn_set_stop(&f->cs, "test over");
    uv_close((uv_handle_t *)&f->listener, NULL);
    uv_close((uv_handle_t *)&f->prepare, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    conn_set_fini(&f->cs);
    /* every handle conn.c opened was closed */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

static void client_send(struct fx *f, const void *buf, size_t len)
{
    assert_int_equal(send(f->fd, buf, len, 0), (ssize_t)len);
}

/* varint(len) || bytes 0,1,2... (len bytes); returns the frame length. */
static size_t make_frame(uint8_t *out, size_t len, uint8_t seed)
{
    size_t n = frame_varint_put(len, out);
    for (size_t i = 0; i < len; i++)
        out[n + i] = (uint8_t)(seed + i);
    return n + len;
}

/* The next frame the client received, unpacked (NULL when none whole). */
static Ccroute__V1__Envelope *client_next(struct fx *f)
{
    const uint8_t *payload;
    size_t plen = 0, used = 0;
    if (frame_next(f->in, f->inlen, 1 << 20, &payload, &plen, &used) !=
        FRAME_OK)
        return NULL;
    Ccroute__V1__Envelope *e = ccroute__v1__envelope__unpack(NULL, plen,
                                                            payload);
    memmove(f->in, f->in + used, f->inlen - used);
    f->inlen -= used;
    return e;
}

/* ---- tests ---- */

/* A frame that arrives in pieces -- split inside the length prefix and
 * inside the payload -- is delivered once, whole, after its last byte. */
static void test_frame_across_reads(void **state)
{
    struct fx *f = fx_new(1024, 1 << 20);
    uint8_t buf[400];
    size_t n = make_frame(buf, 300, 7), got;
    int one = 1;

    assert_int_equal(n, 302);            /* two-byte prefix */
    client_send(f, buf, 1);              /* half the prefix */
    got = 1;
    run_until(f, conn_has_bytes, &got);
    assert_int_equal(f->nframes, 0);
    client_send(f, buf + 1, 100);        /* rest of prefix, part of payload */
    got = 101;
    run_until(f, conn_has_bytes, &got);
    assert_int_equal(f->nframes, 0);
    client_send(f, buf + 101, n - 101);
    run_until(f, have_frames, &one);
    assert_int_equal(f->nframes, 1);
    assert_int_equal(f->flen[0], 300);
    assert_memory_equal(f->frame[0], buf + 2, 300);
    assert_int_equal(the_conn(f)->rlen, 0);   /* nothing left over */
    fx_free(f);
}

/* Several frames sent at once come out as several callbacks, in order,
 * and a partial one behind them is kept for the next read. */
static void test_several_frames_one_read(void **state)
{
    struct fx *f = fx_new(1024, 1 << 20);
    uint8_t buf[2048];
    size_t off = 0, lens[3] = { 5, 200, 0 }, starts[3];
    int three = 3, four = 4;

    for (int i = 0; i < 3; i++) {
        starts[i] = off + (lens[i] < 128 ? 1 : 2);
        off += make_frame(buf + off, lens[i], (uint8_t)(i * 50));
    }
    size_t tail = make_frame(buf + off, 40, 99);
    client_send(f, buf, off + 10);       /* 3 frames + 10 bytes of a 4th */
    run_until(f, have_frames, &three);
    size_t partial = 10;
    run_until(f, conn_has_bytes, &partial);
    assert_int_equal(f->nframes, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->flen[i], lens[i]);
        assert_memory_equal(f->frame[i], buf + starts[i], lens[i]);
        assert_ptr_equal(f->frame_conn[i], the_conn(f));
    }
    client_send(f, buf + off + 10, tail - 10);
    run_until(f, have_frames, &four);
    assert_int_equal(f->flen[3], 40);
    assert_memory_equal(f->frame[3], buf + off + 1, 40);
    fx_free(f);
}

static void frame_refused(uint8_t *bytes, size_t n, int code)
{
    struct fx *f = fx_new(64, 1 << 20);
    client_send(f, bytes, n);
    run_until(f, client_eof, NULL);
    assert_int_equal(f->nframes, 0);         /* nothing went up */
    assert_int_equal(f->ncloses, 1);
    Ccroute__V1__Envelope *e = client_next(f);
    assert_non_null(e);                      /* the Error came first */
    assert_int_equal(e->body_case, CCROUTE__V1__ENVELOPE__BODY_ERROR);
    assert_int_equal(e->request_id, 0);
    assert_int_equal(e->error->code, code);
    ccroute__v1__envelope__free_unpacked(e, NULL);
    assert_null(client_next(f));             /* and nothing after it */
    fx_free(f);
}

/* A length prefix above max_frame: Error FRAME_TOO_LARGE, then close. */
static void test_oversized_frame(void **state)
{
    uint8_t b[FRAME_VARINT_MAX];
    size_t n = frame_varint_put(65, b);
    frame_refused(b, n, CCROUTE__V1__ERROR_CODE__ERROR_CODE_FRAME_TOO_LARGE);
}

/* A prefix that is not a varint (11 continuation bytes): MALFORMED. */
static void test_malformed_prefix(void **state)
{
    uint8_t b[11];
    memset(b, 0x80, sizeof(b));
    frame_refused(b, sizeof(b), CCROUTE__V1__ERROR_CODE__ERROR_CODE_MALFORMED);
}

/* Output within the bound is written at the flush; output past it closes
 * the connection (on_close, id no longer resolves, client sees EOF). */
static void test_output_bound(void **state)
{
    struct fx *f = fx_new(1024, 300);
    struct conn *c = the_conn(f);
    uint32_t id = c->id;
    char big[400];

    assert_ptr_equal(conn_lookup(&f->cs, id), c);
    assert_int_equal(conn_send_ack(c, 42), 0);
    run_until(f, client_has_frame, NULL);
    Ccroute__V1__Envelope *e = client_next(f);
    assert_non_null(e);
    assert_int_equal(e->body_case, CCROUTE__V1__ENVELOPE__BODY_ACK);
    assert_int_equal(e->request_id, 42);
    ccroute__v1__envelope__free_unpacked(e, NULL);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(conn_send_error(c, 7, 19, "%s", big), -ENOBUFS);
    assert_int_equal(f->ncloses, 1);
    assert_int_equal(f->closed_id, id);
    assert_false(f->closed_id_resolved);
    assert_null(conn_lookup(&f->cs, id));
    run_until(f, client_eof, NULL);
    assert_int_equal(f->inlen, 0);       /* the oversized reply never left */
    fx_free(f);
}

/* conn_close_after_flush: the reply queued before it is written, then the
 * connection closes; frames arriving after it are not delivered. */
static void test_close_after_flush(void **state)
{
    struct fx *f = fx_new(1024, 1 << 20);
    struct conn *c = the_conn(f);
    uint8_t buf[64];
    size_t n = make_frame(buf, 10, 1);

    assert_int_equal(conn_send_ack(c, 5), 0);
    conn_close_after_flush(c, "test");
    client_send(f, buf, n);
    run_until(f, client_eof, NULL);
    Ccroute__V1__Envelope *e = client_next(f);
    assert_non_null(e);
    assert_int_equal(e->request_id, 5);
    ccroute__v1__envelope__free_unpacked(e, NULL);
    assert_int_equal(f->nframes, 0);
    assert_int_equal(f->ncloses, 1);
    fx_free(f);
}

/* The callbacks get the owner's argument and the connection; a peer that
 * goes away gives exactly one on_close, during which the id no longer
 * resolves, and the set counts no connection after it. */
static void test_callbacks_arguments(void **state)
{
    struct fx *f = fx_new(1024, 1 << 20);
    struct conn *c = the_conn(f);
    uint32_t id = c->id;
    uint8_t buf[64];
    int one = 1;

    assert_true(id != CONN_ID_NONE);
    assert_int_equal(f->cs.nconns, 1);
    client_send(f, buf, make_frame(buf, 3, 0));
    run_until(f, have_frames, &one);
    assert_ptr_equal(f->frame_arg, f);
    assert_ptr_equal(f->frame_conn[0], c);
    assert_ptr_equal(conn_lookup(&f->cs, id), c);
    assert_int_equal(f->ncloses, 0);

    close(f->fd);
    f->fd = -1;
    f->eof = true;                       /* nothing to read on our side */
    run_until(f, client_eof, NULL);
    assert_int_equal(f->ncloses, 1);
    assert_ptr_equal(f->close_arg, f);
    assert_int_equal(f->closed_id, id);
    assert_false(f->closed_id_resolved);
    assert_null(conn_lookup(&f->cs, id));
    assert_int_equal(f->cs.nconns, 0);
    fx_free(f);
}

/* A second client socket to the fixture's listener. */
static int client_connect(struct fx *f)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", f->port, &a), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static bool stat_reached(struct fx *f, void *arg)
{
    return *(volatile uint64_t *)arg >= 1;
}

static bool client_saw_eof(struct fx *f, void *arg)
{
    return f->eof;
}

/* The Error first, then EOF (not a reset), on the fixture's client. */
static void expect_error_then_eof(struct fx *f, int code)
{
    run_until(f, client_saw_eof, NULL);
    assert_false(f->reset);
    Ccroute__V1__Envelope *e = client_next(f);
    assert_non_null(e);
    assert_int_equal(e->body_case, CCROUTE__V1__ENVELOPE__BODY_ERROR);
    assert_int_equal(e->error->code, code);
    ccroute__v1__envelope__free_unpacked(e, NULL);
}

/* The read buffer follows the bytes that came, not the length declared:
 * a frame announcing 60,000 bytes leaves it at CONN_RBUF_MIN while 100
 * have come, it grows as the payload arrives (never past the whole
 * frame), and it is back to CONN_RBUF_MIN once the frame went up. */
static void test_rbuf_grows_with_frame(void **state)
{
    struct fx *f = fx_new(1 << 20, 1 << 20);
    struct conn *c = the_conn(f);
    size_t len = 60000, n, got;
    uint8_t *buf = malloc(len + FRAME_VARINT_MAX);
    int one = 1;

    assert_non_null(buf);
    n = make_frame(buf, len, 3);
    assert_int_equal(n, len + 3);
    assert_int_equal(conn_rbuf_cap(c), CONN_RBUF_MIN);
    assert_int_equal(f->cs.stats.rbuf_bytes, CONN_RBUF_MIN);
    client_send(f, buf, 103);
    got = 103;
    run_until(f, conn_has_bytes, &got);
    assert_int_equal(conn_rbuf_cap(c), CONN_RBUF_MIN);   /* not 60,003 */
    assert_int_equal(f->cs.stats.rbuf_bytes, CONN_RBUF_MIN);
    client_send(f, buf + 103, 10000 - 103);
    got = 10000;
    run_until(f, conn_has_bytes, &got);
    assert_true(conn_rbuf_cap(c) >= 10000);
    assert_true(conn_rbuf_cap(c) <= 2 * 10000);
    client_send(f, buf + 10000, n - 10000);
    run_until(f, have_frames, &one);
    assert_int_equal(f->flen[0], len);
    assert_memory_equal(f->frame[0], buf + 3, sizeof(f->frame[0]));
    assert_int_equal(conn_rbuf_cap(c), CONN_RBUF_MIN);   /* shrunk back */
    assert_int_equal(f->cs.stats.rbuf_bytes, CONN_RBUF_MIN);
    assert_int_equal(f->cs.stats.rbuf_peak, n);          /* never past it */
    free(buf);
    fx_free(f);
}

/* An oversized frame whose payload keeps coming: the client still reads
 * the FRAME_TOO_LARGE Error, then a clean EOF -- not a reset that would
 * throw the Error away with the unread input. */
static void test_oversized_frame_error_survives_input(void **state)
{
    struct fx *f = fx_new(64, 1 << 20);
    size_t len = 200000;
    uint8_t *buf = calloc(1, len + FRAME_VARINT_MAX);
    size_t n;

    assert_non_null(buf);
    n = frame_varint_put(len, buf) + len;
    /* Non-blocking: whatever the socket takes now; the rest is moot. */
    send(f->fd, buf, n, MSG_DONTWAIT);
    expect_error_then_eof(f, CCROUTE__V1__ERROR_CODE__ERROR_CODE_FRAME_TOO_LARGE);
    assert_int_equal(f->cs.stats.frames_too_large, 1);
    assert_int_equal(f->nframes, 0);
    free(buf);
    fx_free(f);
}

/* No Hello (no frame at all) within hello_ms: Error TIMEOUT, close. */
static void test_hello_deadline(void **state)
{
    struct conn_limits lim = test_limits(1024, 1 << 20);
    lim.hello_ms = 50;
    struct fx *f = fx_new_lim(&lim);
    expect_error_then_eof(f, CCROUTE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT);
    assert_int_equal(f->cs.stats.hello_timeouts, 1);
    run_until(f, client_eof, NULL);     /* our FIN closes it at once */
    assert_int_equal(f->ncloses, 1);
    assert_int_equal(f->cs.stats.linger_expired, 0);
    fx_free(f);
}

/* A frame begun and not finished within frame_ms (slow-loris): Error
 * TIMEOUT, close; the frame never goes up. */
static void test_frame_deadline(void **state)
{
    struct conn_limits lim = test_limits(1024, 1 << 20);
    lim.frame_ms = 50;
    struct fx *f = fx_new_lim(&lim);
    uint8_t buf[400];
    size_t n = make_frame(buf, 300, 1);
    client_send(f, buf, n - 10);
    expect_error_then_eof(f, CCROUTE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT);
    assert_int_equal(f->cs.stats.frame_timeouts, 1);
    assert_int_equal(f->nframes, 0);
    fx_free(f);
}

/* Past max_conns the oldest connection without Hello makes room; once
 * every connection has said Hello, a new one is refused with
 * RESOURCE_EXHAUSTED and the others stay. */
static void test_max_conns_evict_then_refuse(void **state)
{
    struct conn_limits lim = test_limits(1024, 1 << 20);
    lim.max_conns = 1;
    struct fx *f = fx_new_lim(&lim);
    struct conn *first = the_conn(f);
    uint32_t first_id = first->id;
    int old = f->fd;
    uint8_t buf[64];
    int one = 1;

    f->fd = client_connect(f);          /* the fixture now reads this one */
    run_until(f, stat_reached, &f->cs.stats.evicted_no_hello);
    assert_int_equal(f->ncloses, 1);
    assert_int_equal(f->closed_id, first_id);
    run_until(f, have_conn, NULL);
    assert_int_equal(f->cs.stats.accepted, 2);
    close(old);

    f->hello_role = CCROUTE__V1__ROLE__ROLE_SWITCH;
    client_send(f, buf, make_frame(buf, 3, 0));     /* "Hello" */
    run_until(f, have_frames, &one);
    int keep = f->fd;
    f->fd = client_connect(f);
    expect_error_then_eof(f, CCROUTE__V1__ERROR_CODE__ERROR_CODE_RESOURCE_EXHAUSTED);
    assert_int_equal(f->cs.stats.refused_full, 1);
    assert_int_equal(f->cs.nconns, 1);              /* the Hello'd one */
    assert_int_equal(f->ncloses, 1);
    close(f->fd);
    f->fd = keep;
    fx_free(f);
}

static bool client_got_ping(struct fx *f, void *arg)
{
    return client_has_frame(f, NULL);
}

/* A desk silent for ping_ms gets a Ping (a non-zero request id); when
 * nothing comes back within pong_ms it is closed at once -- on_close, so
 * the owner's grace period applies. A desk that answers stays. */
static void test_desk_ping(void **state)
{
    struct conn_limits lim = test_limits(1024, 1 << 20);
    lim.ping_ms = 30;
    lim.pong_ms = 60000;
    struct fx *f = fx_new_lim(&lim);
    uint8_t buf[64];
    int one = 1, two = 2;
    Ccroute__V1__Envelope *e;

    f->hello_role = CCROUTE__V1__ROLE__ROLE_AGENT;
    client_send(f, buf, make_frame(buf, 3, 0));     /* "Hello" as a desk */
    run_until(f, have_frames, &one);
    run_until(f, client_got_ping, NULL);
    e = client_next(f);
    assert_non_null(e);
    assert_int_equal(e->body_case, CCROUTE__V1__ENVELOPE__BODY_PING);
    assert_true(e->request_id != 0);
    ccroute__v1__envelope__free_unpacked(e, NULL);
    client_send(f, buf, make_frame(buf, 3, 0));     /* its "Pong" */
    run_until(f, have_frames, &two);
    run_until(f, client_got_ping, NULL);            /* pinged again later */
    assert_int_equal(f->ncloses, 0);
    assert_true(f->cs.stats.pings_sent >= 2);
    fx_free(f);

    lim.pong_ms = 30;                               /* now it stays silent */
    f = fx_new_lim(&lim);
    f->hello_role = CCROUTE__V1__ROLE__ROLE_AGENT;
    client_send(f, buf, make_frame(buf, 3, 0));
    run_until(f, have_frames, &one);
    run_until(f, client_eof, NULL);
    assert_int_equal(f->cs.stats.pong_timeouts, 1);
    assert_int_equal(f->ncloses, 1);
    e = client_next(f);
    assert_non_null(e);
    assert_int_equal(e->body_case, CCROUTE__V1__ENVELOPE__BODY_PING);
    ccroute__v1__envelope__free_unpacked(e, NULL);
    fx_free(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_across_reads),
        cmocka_unit_test(test_several_frames_one_read),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_malformed_prefix),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_close_after_flush),
        cmocka_unit_test(test_callbacks_arguments),
        cmocka_unit_test(test_rbuf_grows_with_frame),
        cmocka_unit_test(test_oversized_frame_error_survives_input),
        cmocka_unit_test(test_hello_deadline),
        cmocka_unit_test(test_frame_deadline),
        cmocka_unit_test(test_max_conns_evict_then_refuse),
        cmocka_unit_test(test_desk_ping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
