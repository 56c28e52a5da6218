/* test-log.c -- the budget of client lines (engine/log.c, log_client),
 * the JSON format and its escaping, and the log file.
 *
 * stderr goes to a file for each case; the budget's clock is injected, so
 * "a second" is whatever the test says. JSON lines are parsed back with
 * jansson: what a line says must be what was logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

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

/* Escaping alone: quotes, backslashes, control characters, valid UTF-8
 * kept, invalid bytes replaced, and a short buffer never cuts an escape
 * or a sequence. */
static void test_json_escape(void **state)
{
    char out[256];
    assert_int_equal(log_json_escape(out, sizeof(out), "plain"), 5);
    assert_string_equal(out, "plain");
    log_json_escape(out, sizeof(out), "a\"b\\c\nd\re\tf");
    assert_string_equal(out, "a\\\"b\\\\c\\nd\\re\\tf");
    log_json_escape(out, sizeof(out), "\x01\x1f\x7f");
    assert_string_equal(out, "\\u0001\\u001f\\u007f");
    /* é (2 bytes), € (3), 😀 (4): kept as they are */
    log_json_escape(out, sizeof(out), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* a lone continuation byte, a truncated sequence, an overlong '/',
     * a surrogate, 0xff: each bad byte becomes \ufffd */
    log_json_escape(out, sizeof(out), "x\x80y");
    assert_string_equal(out, "x\\ufffdy");
    log_json_escape(out, sizeof(out), "\xe2\x82");
    assert_string_equal(out, "\\ufffd\\ufffd");
    log_json_escape(out, sizeof(out), "\xc0\xaf");
    assert_string_equal(out, "\\ufffd\\ufffd");
    log_json_escape(out, sizeof(out), "\xed\xa0\x80");
    assert_string_equal(out, "\\ufffd\\ufffd\\ufffd");
    log_json_escape(out, sizeof(out), "\xff");
    assert_string_equal(out, "\\ufffd");
    /* room for 4 bytes: "ab" fits, the escape of '"' (2) would not */
    assert_int_equal(log_json_escape(out, 5, "ab\"\"\""), 4);
    assert_string_equal(out, "ab\\\"");
    assert_int_equal(log_json_escape(out, 4, "ab\"\"\""), 2);
    assert_string_equal(out, "ab");
    /* a 3-byte sequence that does not fit whole is left out */
    assert_int_equal(log_json_escape(out, 4, "a\xe2\x82\xac"), 1);
    assert_string_equal(out, "a");
    assert_int_equal(log_json_escape(out, 1, "abc"), 0);
    assert_string_equal(out, "");
}

/* JSON lines: one object per line with ts, level, pid and msg, the
 * message back exactly as logged; levels below the configured one still
 * dropped. */
static void test_json_lines(void **state)
{
    static char buf[1 << 16];
    static const char *const msgs[] = {
        "client \"pbx-1\" said Hello",
        "path C:\\temp\nsecond line\ttab",
        "bell \x07 and caf\xc3\xa9",
    };
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_JSON);
    capture();
    log_debug("dropped");
    log_info("%s", msgs[0]);
    log_warn("%s", msgs[1]);
    log_error("%s", msgs[2]);
    int lines = release(buf, sizeof(buf));
    log_set_format(LOG_FORMAT_TEXT);
    assert_int_equal(lines, 3);
    static const char *const levels[] = { "info", "warn", "error" };
    char *line = buf;
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j)
            fail_msg("line %d is not JSON (%s): %s", i, je.text, line);
        assert_true(json_is_object(j));
        assert_int_equal(json_object_size(j), 4);
        assert_string_equal(json_string_value(json_object_get(j, "level")),
                            levels[i]);
        assert_string_equal(json_string_value(json_object_get(j, "msg")),
                            msgs[i]);
        assert_int_equal(json_integer_value(json_object_get(j, "pid")),
                         getpid());
        const char *ts = json_string_value(json_object_get(j, "ts"));
        assert_non_null(ts);
        assert_int_equal(strlen(ts), 24);   /* 2024-05-01T12:00:00.123Z */
        assert_int_equal(ts[10], 'T');
        assert_int_equal(ts[23], 'Z');
        json_decref(j);
        line = nl + 1;
    }
}

/* A message longer than the line's budget: still one line, still JSON
 * (cut between escapes), and a text line is cut too. */
static void test_json_long(void **state)
{
    static char buf[1 << 16], big[4000];
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_JSON);
    capture();
    log_info("%s", big);
    int lines = release(buf, sizeof(buf));
    log_set_format(LOG_FORMAT_TEXT);
    assert_int_equal(lines, 1);
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    const char *m = json_string_value(json_object_get(j, "msg"));
    assert_non_null(m);
    assert_true(strlen(m) > 500 && strlen(m) < sizeof(big) - 1);
    assert_true(strspn(m, "\"") == strlen(m));
    json_decref(j);
}

/* log_set_file: lines go to the file (appended), back to stderr after
 * log_set_file(NULL); a path that cannot be opened is refused and changes
 * nothing. */
static void test_log_file(void **state)
{
    static char buf[4096];
    char file[] = "/tmp/ccr-logfile-XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "before\n", 7), 7);
    close(fd);
    log_set_level(LOG_INFO);
    capture();
    assert_int_equal(log_set_file(file), 0);
    log_info("into the file");
    assert_true(log_set_file("/nonexistent-dir/x.log") < 0);
    log_info("still into the file");
    assert_int_equal(log_set_file(NULL), 0);
    log_info("on stderr again");
    int lines = release(buf, sizeof(buf));
    assert_int_equal(lines, 1);
    assert_non_null(strstr(buf, "INFO on stderr again"));
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    unlink(file);
    assert_true(strncmp(buf, "before\n", 7) == 0);
    assert_non_null(strstr(buf, "INFO into the file\n"));
    assert_non_null(strstr(buf, "INFO still into the file\n"));
    assert_null(strstr(buf, "stderr again"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blip),
        cmocka_unit_test(test_under_budget),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_json_long),
        cmocka_unit_test(test_log_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
