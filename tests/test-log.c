/* test-log.c -- the budget of client lines (engine/log.c, log_client).
 *
 * stderr goes to a file for each case; the budget's clock is injected, so
 * "a second" is whatever the test says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static unsigned long long fake_ms;
static unsigned long long fake_now(void) { return fake_ms; }

static char path[] = "/tmp/ccr-log-XXXXXX";
static int saved_fd = -1;

static void capture(void)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    saved_fd = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
}

/* Restores stderr; the captured text into buf, and its line count. */
static int release(char *buf, size_t len)
{
    fflush(stderr);
    assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
    close(saved_fd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    unlink(path);
    strcpy(path, "/tmp/ccr-log-XXXXXX");
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    return lines;
}

static int count(const char *buf, const char *needle)
{
    int n = 0;
    for (const char *p = buf; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* 10,000 closes within one second: the budget's lines, then one count
 * line with the rest once the next second has a client line. */
static void test_blip(void **state)
{
    static char buf[1 << 20];
    log_set_level(LOG_INFO);
    log_set_clock(fake_now);
    fake_ms = 5000;
    capture();
    for (int i = 0; i < 10000; i++) {
        if (i == 5000)
            fake_ms += 900;             /* still the same second */
        log_client("conn #%d closed: EOF", i);
    }
    fake_ms += 200;                     /* the next second */
    log_client("conn #late connected");
    int lines = release(buf, sizeof(buf));
    assert_int_equal(count(buf, "closed: EOF"), LOG_CLIENT_PER_SECOND);
    assert_non_null(strstr(buf, "conn #0 closed: EOF"));
    assert_null(strstr(buf, "conn #50 closed: EOF"));
    assert_int_equal(count(buf, "lines about clients left out"), 1);
    char want[96];
    snprintf(want, sizeof(want), "INFO %d lines about clients left out",
             10000 - LOG_CLIENT_PER_SECOND);
    assert_non_null(strstr(buf, want));
    /* the count comes before the first line of the new second */
    assert_true(strstr(buf, want) < strstr(buf, "conn #late connected"));
    assert_int_equal(lines, LOG_CLIENT_PER_SECOND + 2);
    log_set_clock(NULL);
}

/* Under the budget every line is written and nothing is counted; a
 * flush with nothing left out writes nothing; other lines are not part
 * of the budget. */
static void test_under_budget(void **state)
{
    static char buf[1 << 16];
    log_set_level(LOG_INFO);
    log_set_clock(fake_now);
    fake_ms = 100000;
    capture();
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < LOG_CLIENT_PER_SECOND; i++)
            log_client("client c%d-%d gone", s, i);
        for (int i = 0; i < 10; i++)
            log_info("store: other %d", i);
        fake_ms += 1000;
    }
    log_client_flush();
    int lines = release(buf, sizeof(buf));
    assert_int_equal(lines, 3 * (LOG_CLIENT_PER_SECOND + 10));
    assert_null(strstr(buf, "left out"));
    log_set_clock(NULL);
}

/* Left out at shutdown: log_client_flush writes the count at once. */
static void test_flush(void **state)
{
    static char buf[1 << 16];
    log_set_level(LOG_INFO);
    log_set_clock(fake_now);
    fake_ms = 7000;
    capture();
    for (int i = 0; i < LOG_CLIENT_PER_SECOND + 7; i++)
        log_client("conn #%d connected", i);
    log_client_flush();
    log_client_flush();                 /* once only */
    release(buf, sizeof(buf));
    assert_int_equal(count(buf, "INFO 7 lines about clients left out"), 1);
    /* below the level nothing is written or counted */
    log_set_level(LOG_WARN);
    capture();
    for (int i = 0; i < 2 * LOG_CLIENT_PER_SECOND; i++)
        log_client("conn #%d connected", i);
    log_client_flush();
    assert_int_equal(release(buf, sizeof(buf)), 0);
    log_set_level(LOG_INFO);
    log_set_clock(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blip),
        cmocka_unit_test(test_under_budget),
        cmocka_unit_test(test_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
