/* test-owner.c -- engine/owner.c: owner records, their lists, the grace
 * FIFO and the per-principal quotas, without a router or a socket.
 *
 * Connections are plain struct conn values (owner.c reads only id, name
 * and principal). The list tests run against a model: for each handle the
 * record it is linked to, and the walks and counts must agree with it
 * after every step of a random sequence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth-t.h"
#include "conn-t.h"
#include "owner.h"
#include "rng.h"

#define NC 64               /* contact handles */
#define NA 16               /* agent handles */
#define S(x) ((uint64_t)(x) * 1000000u)

static struct auth_principal principals[2];
static struct auth_config auth;

static void auth_setup(uint32_t qc, uint32_t qa, uint32_t rps)
{
    memset(principals, 0, sizeof(principals));
    memset(&auth, 0, sizeof(auth));
    snprintf(principals[0].name, sizeof(principals[0].name), "pbx");
    snprintf(principals[1].name, sizeof(principals[1].name), "desks");
    principals[0].quota_contacts = qc;
    principals[0].quota_agents = qa;
    principals[0].quota_rps = rps;
    auth.principals = principals;
    auth.nprincipals = 2;
}

static struct conn mkconn(uint32_t id, const char *name, int principal)
{
    struct conn c;
    memset(&c, 0, sizeof(c));
    c.id = id;
    snprintf(c.name, sizeof(c.name), "%s", name);
    c.principal = principal;
    return c;
}

static struct owner_index ix;

static void init(void)
{
    assert_int_equal(owner_index_init(&ix, &auth, NC, NA), 0);
}

static void test_attach_detach(void **state)
{
    unsigned held = 99;
    auth_setup(0, 0, 0);
    init();
    struct conn c = mkconn(0x10001, "sw1", 0);
    uint32_t id = owner_attach(&ix, &c, false, &held);
    assert_int_not_equal(id, OWNER_NONE);
    assert_int_equal(held, 0);
    assert_int_equal(owner_find(&ix, "sw1"), id);
    assert_int_equal(owner_conn(&ix, id), c.id);
    assert_int_equal(owner_principal(&ix, id), 0);
    assert_int_equal(ix.nlive, 1);
    /* a record that holds nothing is freed at the close */
    assert_int_equal(owner_detach(&ix, id, S(30)), 0);
    assert_int_equal(ix.nlive, 0);
    assert_int_equal(ix.ngrace, 0);
    assert_int_equal(owner_find(&ix, "sw1"), OWNER_NONE);
    assert_int_equal(owner_conn(&ix, id), CONN_ID_NONE);

    /* one that holds something waits, without a connection */
    id = owner_attach(&ix, &c, false, &held);
    owner_contact_link(&ix, 3, id);
    owner_agent_link(&ix, 1, id);
    assert_int_equal(owner_detach(&ix, id, S(30)), 2);
    assert_int_equal(ix.ngrace, 1);
    assert_int_equal(owner_conn(&ix, id), CONN_ID_NONE);
    assert_int_equal(owner_grace_next(&ix), S(30));
    assert_int_equal(owner_find(&ix, "sw1"), id);
    owner_index_fini(&ix);
}

static void test_reattach_takes_over(void **state)
{
    unsigned held;
    auth_setup(0, 0, 0);
    init();
    struct conn a = mkconn(0x10001, "desk", 1), b = mkconn(0x20001, "desk", 1);
    uint32_t id = owner_attach(&ix, &a, false, &held);
    owner_agent_link(&ix, 0, id);
    owner_agent_link(&ix, 5, id);
    owner_contact_link(&ix, 7, id);
    owner_detach(&ix, id, S(30));

    /* the same record, now pointing at b; out of the grace FIFO */
    assert_int_equal(owner_attach(&ix, &b, true, &held), id);
    assert_int_equal(held, 3);
    assert_int_equal(owner_conn(&ix, id), b.id);
    assert_int_equal(ix.ngrace, 0);
    assert_int_equal(owner_grace_next(&ix), UINT64_MAX);
    assert_int_equal(owner_grace_pop(&ix, S(100)), OWNER_NONE);
    assert_int_equal(owner_get(&ix, id)->nagents, 2);
    owner_index_fini(&ix);
}

static void test_fresh_hello_leaves_old_alone(void **state)
{
    unsigned held;
    auth_setup(0, 0, 0);
    init();
    struct conn a = mkconn(0x10001, "sw", 0), b = mkconn(0x20001, "sw", 0);
    uint32_t old = owner_attach(&ix, &a, false, &held);
    owner_contact_link(&ix, 1, old);
    owner_detach(&ix, old, S(30));

    uint32_t id = owner_attach(&ix, &b, false, &held);
    assert_int_not_equal(id, old);
    assert_int_equal(held, 0);
    assert_int_equal(owner_find(&ix, "sw"), id);
    /* the old record still waits, unreachable by name, and expires */
    assert_int_equal(ix.ngrace, 1);
    assert_int_equal(owner_grace_pop(&ix, S(29)), OWNER_NONE);
    assert_int_equal(owner_grace_pop(&ix, S(30)), old);
    assert_int_equal(owner_get(&ix, old)->ncontacts, 1);
    /* ending what it held frees it */
    owner_contact_unlink(&ix, 1);
    assert_null(owner_get(&ix, old));
    assert_int_equal(ix.nlive, 1);
    owner_index_fini(&ix);
}

static void test_grace_fifo_order(void **state)
{
    unsigned held;
    uint32_t ids[4];
    char name[16];
    auth_setup(0, 0, 0);
    init();
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        struct conn c = mkconn(0x10000u * (unsigned)(i + 1) + 1, name, 0);
        ids[i] = owner_attach(&ix, &c, false, &held);
        owner_contact_link(&ix, (uint32_t)i, ids[i]);
    }
    for (int i = 0; i < 4; i++)
        owner_detach(&ix, ids[i], S(10 + i));
    assert_int_equal(ix.ngrace, 4);
    /* a re-attach takes one out of the middle */
    struct conn back = mkconn(0x90001, "c2", 0);
    assert_int_equal(owner_attach(&ix, &back, true, &held), ids[2]);
    assert_int_equal(ix.ngrace, 3);
    assert_int_equal(owner_grace_next(&ix), S(10));
    assert_int_equal(owner_grace_pop(&ix, S(9)), OWNER_NONE);
    assert_int_equal(owner_grace_pop(&ix, S(11)), ids[0]);
    assert_int_equal(owner_grace_pop(&ix, S(11)), ids[1]);
    assert_int_equal(owner_grace_pop(&ix, S(11)), OWNER_NONE);
    assert_int_equal(owner_grace_next(&ix), S(13));
    assert_int_equal(owner_grace_pop(&ix, S(13)), ids[3]);
    assert_int_equal(ix.ngrace, 0);
    /* the re-attached one is untouched */
    assert_int_equal(owner_conn(&ix, ids[2]), back.id);
    owner_index_fini(&ix);
}

/* Random link / unlink / re-link of every handle against a model. */
static void test_lists_against_model(void **state)
{
    unsigned held;
    uint32_t ids[5], cmodel[NC], amodel[NA];
    struct rng rng;
    char name[16];
    auth_setup(0, 0, 0);
    init();
    rng_seed(&rng, 42);
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "o%d", i);
        struct conn c = mkconn(0x10000u * (unsigned)(i + 1) + 1, name,
                               i % 2);
        ids[i] = owner_attach(&ix, &c, false, &held);
    }
    for (int h = 0; h < NC; h++)
        cmodel[h] = OWNER_NONE;
    for (int h = 0; h < NA; h++)
        amodel[h] = OWNER_NONE;
    for (int step = 0; step < 20000; step++) {
        uint32_t r = (uint32_t)rng_next(&rng);
        bool agent = r & 1;
        uint32_t h = (r >> 1) % (agent ? NA : NC);
        uint32_t o = ids[(r >> 8) % 5];
        bool link = (r >> 16) % 3 != 0;
        if (agent) {
            if (link) {
                owner_agent_link(&ix, h, o);
                amodel[h] = o;
            } else {
                owner_agent_unlink(&ix, h);
                amodel[h] = OWNER_NONE;
            }
        } else {
            if (link) {
                owner_contact_link(&ix, h, o);
                cmodel[h] = o;
            } else {
                owner_contact_unlink(&ix, h);
                cmodel[h] = OWNER_NONE;
            }
        }
        if (step % 97 != 0)
            continue;
        for (int i = 0; i < 5; i++) {
            unsigned nc = 0, na = 0, mc = 0, ma = 0;
            for (uint32_t x = owner_contacts_first(&ix, ids[i]);
                 x != UINT32_MAX; x = owner_contacts_next(&ix, x)) {
                assert_int_equal(cmodel[x], ids[i]);
                nc++;
            }
            for (uint32_t x = owner_agents_first(&ix, ids[i]);
                 x != UINT32_MAX; x = owner_agents_next(&ix, x)) {
                assert_int_equal(amodel[x], ids[i]);
                na++;
            }
            for (int x = 0; x < NC; x++)
                mc += cmodel[x] == ids[i];
            for (int x = 0; x < NA; x++)
                ma += amodel[x] == ids[i];
            assert_int_equal(nc, mc);
            assert_int_equal(na, ma);
            assert_int_equal(owner_get(&ix, ids[i])->ncontacts, mc);
            assert_int_equal(owner_get(&ix, ids[i])->nagents, ma);
        }
        /* per principal: records 0, 2, 4 are principal 0 */
        unsigned p0c = 0, p0a = 0;
        for (int x = 0; x < NC; x++)
            p0c += cmodel[x] == ids[0] || cmodel[x] == ids[2] ||
                   cmodel[x] == ids[4];
        for (int x = 0; x < NA; x++)
            p0a += amodel[x] == ids[0] || amodel[x] == ids[2] ||
                   amodel[x] == ids[4];
        assert_int_equal(owner_quota_use(&ix, 0).contacts, p0c);
        assert_int_equal(owner_quota_use(&ix, 0).agents, p0a);
    }
    owner_index_fini(&ix);
}

static void test_recovered_records(void **state)
{
    unsigned held;
    bool made;
    auth_setup(0, 0, 0);
    init();
    assert_int_equal(owner_recovered(&ix, "", AUTH_PRINCIPAL_UNKNOWN, S(30), &made), OWNER_NONE);
    uint32_t id = owner_recovered(&ix, "pbx-1", AUTH_PRINCIPAL_UNKNOWN, S(30), &made);
    assert_int_not_equal(id, OWNER_NONE);
    assert_true(made);
    assert_int_equal(owner_recovered(&ix, "pbx-1", AUTH_PRINCIPAL_UNKNOWN, S(31), &made), id);
    assert_false(made);
    assert_int_equal(owner_principal(&ix, id), AUTH_PRINCIPAL_UNKNOWN);
    assert_int_equal(ix.ngrace, 1);
    owner_contact_link(&ix, 4, id);
    owner_contact_link(&ix, 9, id);
    owner_agent_link(&ix, 2, id);
    /* an unknown principal's holdings count for nobody ... */
    assert_int_equal(owner_quota_use(&ix, 0).contacts, 0);
    /* ... until a connection of a principal re-attaches them */
    struct conn c = mkconn(0x10001, "pbx-1", 0);
    assert_int_equal(owner_attach(&ix, &c, true, &held), id);
    assert_int_equal(held, 3);
    assert_int_equal(owner_principal(&ix, id), 0);
    assert_int_equal(owner_quota_use(&ix, 0).contacts, 2);
    assert_int_equal(owner_quota_use(&ix, 0).agents, 1);
    owner_contact_unlink(&ix, 4);
    assert_int_equal(owner_quota_use(&ix, 0).contacts, 1);
    /* a record restored with its principal (Redis keeps it) belongs to it
     * from the load on: its holdings count for that principal at once */
    uint32_t id2 = owner_recovered(&ix, "pbx-2", 0, S(30), &made);
    assert_true(made);
    assert_int_equal(owner_principal(&ix, id2), 0);
    owner_contact_link(&ix, 11, id2);
    assert_int_equal(owner_quota_use(&ix, 0).contacts, 2);
    owner_index_fini(&ix);
}

static void test_reset(void **state)
{
    unsigned held;
    auth_setup(0, 0, 0);
    init();
    struct conn a = mkconn(0x10001, "live", 0), b = mkconn(0x20001, "gone", 0);
    uint32_t la = owner_attach(&ix, &a, false, &held);
    uint32_t gb = owner_attach(&ix, &b, false, &held);
    owner_contact_link(&ix, 1, la);
    owner_contact_link(&ix, 2, gb);
    owner_detach(&ix, gb, S(30));
    owner_index_reset(&ix);
    assert_int_equal(ix.nlive, 1);
    assert_int_equal(ix.ngrace, 0);
    assert_int_equal(owner_conn(&ix, la), a.id);
    assert_int_equal(owner_get(&ix, la)->ncontacts, 0);
    assert_int_equal(owner_contacts_first(&ix, la), UINT32_MAX);
    assert_null(owner_get(&ix, gb));
    assert_int_equal(owner_find(&ix, "gone"), OWNER_NONE);
    assert_int_equal(owner_quota_use(&ix, 0).contacts, 0);
    owner_index_fini(&ix);
}

static void test_quota_holdings(void **state)
{
    unsigned held;
    auth_setup(2, 1, 0);
    init();
    struct conn a = mkconn(0x10001, "sw", 0), d = mkconn(0x20001, "dk", 1);
    uint32_t id = owner_attach(&ix, &a, false, &held);
    uint32_t other = owner_attach(&ix, &d, false, &held);
    assert_int_equal(owner_quota_contact(&ix, 0), 0);
    owner_contact_link(&ix, 0, id);
    owner_contact_link(&ix, 1, id);
    assert_int_equal(owner_quota_contact(&ix, 0), -EDQUOT);
    assert_int_equal(ix.quota_refusals, 1);
    /* another principal without quotas is not limited by them */
    for (uint32_t h = 2; h < 10; h++)
        owner_contact_link(&ix, h, other);
    assert_int_equal(owner_quota_contact(&ix, 1), 0);
    owner_contact_unlink(&ix, 0);
    assert_int_equal(owner_quota_contact(&ix, 0), 0);
    owner_agent_link(&ix, 3, id);
    assert_int_equal(owner_quota_agent(&ix, 0), -EDQUOT);
    assert_int_equal(ix.quota_refusals, 2);
    /* open mode and unknown principals: no quota */
    assert_int_equal(owner_quota_agent(&ix, AUTH_PRINCIPAL_OPEN), 0);
    assert_int_equal(owner_quota_contact(&ix, AUTH_PRINCIPAL_UNKNOWN), 0);
    owner_index_fini(&ix);
}

static void test_quota_rate(void **state)
{
    bool log;
    auth_setup(0, 0, 4);
    init();
    uint64_t t = S(100);
    /* a full bucket: one second's worth at once */
    for (int i = 0; i < 4; i++)
        assert_int_equal(owner_quota_request(&ix, 0, t, &log), 0);
    assert_int_equal(owner_quota_request(&ix, 0, t, &log), -EAGAIN);
    assert_true(log);
    assert_int_equal(owner_quota_request(&ix, 0, t + 1000, &log), -EAGAIN);
    assert_false(log);              /* one log line a second */
    assert_int_equal(ix.quota_refusals, 2);
    /* a quarter second refills one request, not two */
    assert_int_equal(owner_quota_request(&ix, 0, t + 251000, &log), 0);
    assert_int_equal(owner_quota_request(&ix, 0, t + 251000, &log), -EAGAIN);
    /* a long pause refills only up to the capacity */
    for (int i = 0; i < 4; i++)
        assert_int_equal(owner_quota_request(&ix, 0, t + S(60), &log), 0);
    assert_int_equal(owner_quota_request(&ix, 0, t + S(60), &log), -EAGAIN);
    assert_true(log);
    /* the other principal has no rate quota */
    for (int i = 0; i < 100; i++)
        assert_int_equal(owner_quota_request(&ix, 1, t, &log), 0);
    owner_index_fini(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_detach),
        cmocka_unit_test(test_reattach_takes_over),
        cmocka_unit_test(test_fresh_hello_leaves_old_alone),
        cmocka_unit_test(test_grace_fifo_order),
        cmocka_unit_test(test_lists_against_model),
        cmocka_unit_test(test_recovered_records),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_quota_holdings),
        cmocka_unit_test(test_quota_rate),
    };
    return cmocka_run_group_tests_name("owner", tests, NULL, NULL);
}
