/* test-simsched.c -- ccsim's agent schedules and routing-quality figures
 * (bench/sim.c; docs/ccsim.md, "Agent schedules" and "Routing quality").
 *
 * Each test runs the simulator in-process on a small configuration and
 * traffic model written here, with a fixed seed, and checks what the
 * schedule or the routing configuration must do to the report:
 *  - a group logging out mid-day: its queue answers nothing from that
 *    half hour on, every contact arriving then waits, and the agents
 *    logged in drop to zero (after those holding a contact finish it);
 *  - a break of the whole group: occupancy (busy / logged-in time) falls
 *    to about nothing in its half hour while the agents stay logged in,
 *    against the same traffic without the break;
 *  - expansion steps: contacts answered by agents the queue takes only
 *    from step 1 and step 2 on; without steps none, and the answering
 *    agents' proficiency is then the first level's.
 * The figures compared are far apart (the assertions leave a wide
 * margin), so they hold for any seed, not only the one used. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccload-model.h"
#include "config.h"
#include "sim.h"

static struct config cfg;
static struct model model;

/* The fixtures' pieces: queue q wanting skill s at a level, and the
 * traffic of one class into q. */
#define QUEUE_Q(level)                                  \
    "queues:\n"                                         \
    "  - name: q\n"                                     \
    "    skills: {s: " #level "}\n"                      \
    "    service_level: {percent: 80, seconds: 20}\n"   \
    "    wrapup: 0\n"
#define MIX_Q "mix:\n  - {name: q, queue: q}\n"
/* ... and a group of 5 agents with s at 1, for the schedule checks */
#define GROUP_A5 \
    MIX_Q "agents:\n  - group: a\n    count: 5\n    skills: {s: 1}\n"

static const char one_queue[] = QUEUE_Q(1);

/* Runs `routing` with `traffic` for `hours`; the report in *rep and its
 * figures (sim_report_values) returned. */
static double *run(const char *routing, const char *traffic, double hours,
                   struct sim_report **rep)
{
    char err[512];
    config_defaults(&cfg);
    if (config_load_string(&cfg, "routing.yaml", routing, strlen(routing),
                           err, sizeof(err)) < 0)
        fail_msg("%s", err);
    if (model_load_string(&model, "model.yaml", traffic, strlen(traffic),
                          err, sizeof(err)) < 0)
        fail_msg("%s", err);
    struct sim_opts so = { .seed = 11, .hours = hours, .interval_s = 1800 };
    if (sim_run(&cfg.router, "routing.yaml", &model, "model.yaml", &so, rep,
                err, sizeof(err)) < 0)
        fail_msg("%s", err);
    config_fini(&cfg);      /* the report keeps nothing of it */
    double *v = sim_report_values(*rep);
    assert_non_null(v);
    return v;
}

static double fig(const struct sim_report *rep, const double *v,
                  unsigned row, unsigned iv, enum sim_fig f)
{
    return v[sim_value_index(rep, row, iv, f)];
}

static const struct sim_cell *cellp(const struct sim_report *rep,
                                    unsigned row, unsigned iv)
{
    return &rep->cells[(size_t)row * rep->nintervals + iv];
}

static void test_logout_mid_day(void **state)
{
    (void)state;
    /* 3 Erlangs on 5 agents with 5-minute contacts, the shift ends at
     * 2 h of 4; customers wait for ever (nobody abandons), so what
     * arrives after the logout is still waiting at the end */
    static const char traffic[] =
        "arrivals: {rate: 0.01}\n"
        "patience: none\n"
        MIX_Q
        "agents:\n"
        "  - group: day\n"
        "    count: 5\n"
        "    skills: {s: 1}\n"
        "    handle: 5m\n"
        "    shifts:\n"
        "      - {login: 0, logout: 2h}\n";
    /* and the router never ends a contact for its age */
    char routing[512];
    snprintf(routing, sizeof(routing), "routing: {max_contact_age: 0}\n%s", one_queue);
    struct sim_report *rep;
    double *v = run(routing, traffic, 4, &rep);
    assert_true(rep->scheduled);
    assert_int_equal(rep->nintervals, 8);
    for (unsigned i = 0; i < 4; i++) {
        assert_true(cellp(rep, 0, i)->answered > 0);
        assert_true(fig(rep, v, 0, i, SIM_F_STAFFED) > 4.99);
    }
    double busy_after = 0;
    for (unsigned i = 4; i < 8; i++) {
        const struct sim_cell *x = cellp(rep, 0, i);
        assert_true(x->offered > 5);
        assert_int_equal(x->answered, 0);
        /* nobody to offer it to: every one of them waits */
        assert_int_equal(x->waited, x->offered);
        assert_int_equal(x->cut, x->offered);
        busy_after += x->busy_s;
    }
    /* at 2 h the agents holding a contact finished it before logging
     * out: busy and logged-in time in the 02:00 half hour, then none */
    assert_true(busy_after > 0);
    assert_true(cellp(rep, 0, 4)->staffed_s > 0);
    assert_true(fig(rep, v, 0, 4, SIM_F_STAFFED) < 5);
    assert_true(fabs(cellp(rep, 0, 4)->busy_s - cellp(rep, 0, 4)->staffed_s)
                < 1e-6);
    for (unsigned i = 5; i < 8; i++)
        assert_true(fig(rep, v, 0, i, SIM_F_STAFFED) == 0);
    /* the contacts answered before the logout all completed */
    struct sim_cell before;
    sim_report_sum(rep, 0, 0, 4, &before);
    assert_int_equal(before.answered + before.cut, before.offered);
    free(v);
    sim_report_free(rep);
}

static void test_breaks_lower_occupancy(void **state)
{
    (void)state;
    static const char base[] =
        "arrivals: {rate: 0.02}\n"
        "patience: {dist: exponential, mean: 1m}\n"
        GROUP_A5
        "    handle: {dist: exponential, mean: 2m}\n";
    char with_break[1024];
    snprintf(with_break, sizeof(with_break), "%s"
             "    breaks:\n"
             "      - {at: 1h, for: 30m, reason: lunch}\n", base);
    struct sim_report *r0, *r1;
    double *v0 = run(one_queue, base, 3, &r0);
    double *v1 = run(one_queue, with_break, 3, &r1);
    assert_false(r0->scheduled);
    assert_true(r1->scheduled);
    /* 2.4 Erlangs on 5 agents: about half busy without the break */
    double occ0 = fig(r0, v0, 0, 2, SIM_F_OCC);
    double occ1 = fig(r1, v1, 0, 2, SIM_F_OCC);
    assert_true(occ0 > 0.3);
    /* the break: only contacts accepted before 01:00 still held */
    assert_true(occ1 < 0.1);
    /* logged in all the same */
    assert_true(fabs(fig(r1, v1, 0, 2, SIM_F_STAFFED) - 5) < 1e-9);
    assert_true(cellp(r1, 0, 2)->answered < cellp(r0, 0, 2)->answered / 4);
    assert_true(cellp(r1, 0, 2)->abandoned > cellp(r0, 0, 2)->abandoned);
    /* the same traffic (common random numbers): the same arrivals */
    for (unsigned i = 0; i < r0->nintervals; i++)
        assert_int_equal(cellp(r0, 0, i)->offered, cellp(r1, 0, i)->offered);
    /* the day's occupancy falls too */
    assert_true(fig(r1, v1, 0, r1->nintervals, SIM_F_OCC) <
                fig(r0, v0, 0, r0->nintervals, SIM_F_OCC));
    free(v0);
    free(v1);
    sim_report_free(r0);
    sim_report_free(r1);
}

static void test_bad_schedule_names_line(void **state)
{
    (void)state;
    static const char bad[] =
        GROUP_A5
        "    shifts:\n"
        "      - {login: 2h, logout: 1h}\n";
    static const char over[] =
        GROUP_A5
        "    breaks:\n"
        "      - {at: 1h, for: 10m, count: 6}\n";
    char err[512];
    assert_int_equal(model_load_string(&model, "m.yaml", bad, strlen(bad),
                                       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "m.yaml:8: agents[0].shifts[0]"));
    assert_int_equal(model_load_string(&model, "m.yaml", over, strlen(over),
                                       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "m.yaml:4: agents[0]"));
    assert_non_null(strstr(err, "breaks[0].count 6 from agent 1"));
}

/* Expert agents (s at 5), then agents at 3 and at 1; the queue wants 5,
 * with steps lowering it to 3 after 10 s and to 1 after 20 s. */
static const char steps_routing[] =
    QUEUE_Q(5)
    "    steps:\n"
    "      - {after: 10s, lower: {skill: s, level: 3}}\n"
    "      - {after: 20s, lower: {skill: s, level: 1}}\n";
static const char flat_routing[] = QUEUE_Q(5);
static const char tiers_traffic[] =
    "arrivals: {rate: 0.05}\n"
    "patience: {dist: exponential, mean: 2m}\n"
    MIX_Q
    "agents:\n"
    "  - {group: expert, count: 2, skills: {s: 5},\n"
    "     handle: {dist: exponential, mean: 1m}}\n"
    "  - {group: mid, count: 2, skills: {s: 3},\n"
    "     handle: {dist: exponential, mean: 1m}}\n"
    "  - {group: novice, count: 2, skills: {s: 1},\n"
    "     handle: {dist: exponential, mean: 1m}}\n";

static void test_quality_expansion_steps(void **state)
{
    (void)state;
    struct sim_report *rs, *rf;
    double *vs = run(steps_routing, tiers_traffic, 4, &rs);
    double *vf = run(flat_routing, tiers_traffic, 4, &rf);
    struct sim_cell s, f;
    unsigned t = rs->nintervals;
    sim_report_sum(rs, 0, 0, t, &s);
    sim_report_sum(rf, 0, 0, t, &f);
    /* 3 Erlangs on 2 experts: contacts wait past both steps */
    assert_true(s.by_tier[0] > 0);
    assert_true(s.by_tier[1] > 0);
    assert_true(s.by_tier[2] > 0);
    assert_int_equal(s.by_tier[3], 0);
    assert_int_equal(s.by_tier[0] + s.by_tier[1] + s.by_tier[2], s.answered);
    assert_true(fig(rs, vs, 0, t, SIM_F_STEP1) > 0.05);
    assert_true(fig(rs, vs, 0, t, SIM_F_STEP2) > 0.05);
    assert_true(fig(rs, vs, 0, t, SIM_F_PROFICIENCY) < 4.5);
    /* proficiency is the answering agents' mean level */
    double prof = (5.0 * s.by_tier[0] + 3.0 * s.by_tier[1] +
                   1.0 * s.by_tier[2]) / (double)s.answered;
    assert_true(fabs(fig(rs, vs, 0, t, SIM_F_PROFICIENCY) - prof) < 1e-9);
    /* without steps: experts only */
    assert_true(f.answered > 0);
    assert_int_equal(f.by_tier[0], f.answered);
    assert_int_equal(f.by_tier[1] + f.by_tier[2] + f.by_tier[3], 0);
    assert_true(fig(rf, vf, 0, t, SIM_F_FIRST_LEVEL) == 1);
    assert_true(fig(rf, vf, 0, t, SIM_F_STEP1) == 0);
    assert_true(fig(rf, vf, 0, t, SIM_F_STEP2) == 0);
    assert_true(fig(rf, vf, 0, t, SIM_F_PROFICIENCY) == 5);
    assert_true(fig(rf, vf, 0, t, SIM_F_OVERFLOWED) == 0);
    /* the steps answer more */
    assert_true(s.answered > f.answered);
    free(vs);
    free(vf);
    sim_report_free(rs);
    sim_report_free(rf);
}

/* Overflow: a contact answered from the queue it overflowed to counts
 * as overflowed in its own row. */
static void test_quality_overflow(void **state)
{
    (void)state;
    static const char routing[] =
        "queues:\n"
        "  - name: q\n"
        "    skills: {s: 1}\n"
        "    wrapup: 0\n"
        "    max_wait: 15s\n"
        "    overflow: backup\n"
        "  - name: backup\n"
        "    skills: {b: 1}\n"
        "    wrapup: 0\n";
    static const char traffic[] =
        "arrivals: {rate: 0.05}\n"
        "patience: {dist: exponential, mean: 2m}\n"
        MIX_Q
        "agents:\n"
        "  - {group: a, count: 2, skills: {s: 1},\n"
        "     handle: {dist: exponential, mean: 1m}}\n"
        "  - {group: b, count: 3, skills: {b: 2},\n"
        "     handle: {dist: exponential, mean: 1m}}\n";
    struct sim_report *rep;
    double *v = run(routing, traffic, 3, &rep);
    struct sim_cell x;
    sim_report_sum(rep, 0, 0, rep->nintervals, &x);
    assert_true(x.overflowed > 0);
    assert_true(x.overflowed < x.answered);
    double share = fig(rep, v, 0, rep->nintervals, SIM_F_OVERFLOWED);
    assert_true(fabs(share - (double)x.overflowed / (double)x.answered)
                < 1e-12);
    free(v);
    sim_report_free(rep);
}

/* An agent whose think time runs past the offer timeout: after
 * max_no_answer (3) timeouts in a row the router sets it away
 * (no-answer), and the simulated agent is available again 30 s later.
 * One agent, an offer timeout of 1 s and think times of 0 to 1.5 s: a
 * third of the offers time out, and three in a row come within minutes;
 * the agent must still be answering in the last half hour. */
static void test_no_answer_agent_comes_back(void **state)
{
    (void)state;
    static const char routing[] =
        QUEUE_Q(1)
        "    offer_timeout: 1s\n";
    static const char traffic[] =
        "arrivals: {rate: 0.02}\n"
        "patience: none\n"
        MIX_Q
        "agents:\n"
        "  - {group: a, count: 1, skills: {s: 1}, handle: 5s,\n"
        "     think: {dist: uniform, min: 0, max: 1500ms}}\n";
    struct sim_report *rep;
    double *v = run(routing, traffic, 4, &rep);
    struct sim_cell last;
    sim_report_sum(rep, 0, rep->nintervals - 1, rep->nintervals, &last);
    assert_true(last.offered > 10);
    assert_true(last.answered > last.offered / 2);
    struct sim_cell all;
    sim_report_sum(rep, 0, 0, rep->nintervals, &all);
    assert_int_equal(all.cut, 0);
    free(v);
    sim_report_free(rep);
}

/* ccsim staff's view of a schedule: agents logged in and not on a break,
 * mean over a span. */
static void test_scheduled_agents(void **state)
{
    (void)state;
    static const char traffic[] =
        MIX_Q
        "agents:\n"
        "  - group: a\n"
        "    count: 10\n"
        "    skills: {s: 1}\n"
        "    shifts:\n"
        "      - {login: 0, logout: 1h, count: 4}\n"
        "      - {login: 1h, logout: 3h, first: 3, count: 8}\n"
        "    breaks:\n"
        "      - {at: 90m, for: 30m, count: 5}\n"
        "      - {at: 100m, for: 10m, first: 4, count: 1}\n"
        "  - group: b\n"
        "    count: 6\n"
        "    skills: {s: 1}\n"
        "    breaks:\n"
        "      - {at: 20m, for: 20m, count: 2}\n";
    char err[512];
    if (model_load_string(&model, "m.yaml", traffic, strlen(traffic), err,
                          sizeof(err)) < 0)
        fail_msg("%s", err);
    /* agents 1..4, then 3..10; agents 3, 4, 5 away 90..120 min (agent 4's
     * second break inside its first counts once) */
    assert_true(fabs(sim_scheduled_agents(&model, 0, 0, 1800) - 4) < 1e-9);
    assert_true(fabs(sim_scheduled_agents(&model, 0, 3600, 5400) - 8) < 1e-9);
    assert_true(fabs(sim_scheduled_agents(&model, 0, 5400, 7200) - 5) < 1e-9);
    assert_true(fabs(sim_scheduled_agents(&model, 0, 4500, 6300) - 6.5)
                < 1e-9);
    assert_true(sim_scheduled_agents(&model, 0, 10800, 12600) == 0);
    /* all the run; 2 of 6 away from 20 to 40 min */
    assert_true(fabs(sim_scheduled_agents(&model, 1, 1800, 3600) -
                     (6 - 2 * 600.0 / 1800)) < 1e-9);
    assert_true(isnan(sim_scheduled_agents(&model, 1, 60, 60)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logout_mid_day),
        cmocka_unit_test(test_breaks_lower_occupancy),
        cmocka_unit_test(test_bad_schedule_names_line),
        cmocka_unit_test(test_quality_expansion_steps),
        cmocka_unit_test(test_quality_overflow),
        cmocka_unit_test(test_scheduled_agents),
        cmocka_unit_test(test_no_answer_agent_comes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
