/* log.c -- timestamped, levelled lines on stderr; see log.h.
 *
 * Each line is formatted into one buffer and written with a single write(2)
 * so that lines from a daemon and its test harness never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    log_level = level;
}

int log_level_parse(const char *name)
{
    if (!strcasecmp(name, "debug"))
        return LOG_DEBUG;
    if (!strcasecmp(name, "info"))
        return LOG_INFO;
    if (!strcasecmp(name, "warn") || !strcasecmp(name, "warning"))
        return LOG_WARN;
    if (!strcasecmp(name, "error"))
        return LOG_ERROR;
    return -1;
}

static const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARN: return "WARN";
    case LOG_ERROR: return "ERROR";
    }
    return "?";
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap);

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

/* ---- the budget of client lines ---- */

static unsigned long long real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (unsigned long long)ts.tv_sec * 1000 +
           (unsigned long long)ts.tv_nsec / 1000000;
}

static unsigned long long (*client_clock)(void) = real_now_ms;
static unsigned long long client_window;   /* start of the current second */
static unsigned client_lines;              /* written in it */
static unsigned long long client_left_out; /* since the last count line */

void log_set_clock(unsigned long long (*now_ms)(void))
{
    client_clock = now_ms ? now_ms : real_now_ms;
    client_window = 0;
    client_lines = 0;
    client_left_out = 0;
}

void log_client_flush(void)
{
    if (client_left_out)
        log_msg(LOG_INFO, "%llu lines about clients left out (more than %d "
                "a second)", client_left_out, LOG_CLIENT_PER_SECOND);
    client_left_out = 0;
}

void log_client(const char *fmt, ...)
{
    va_list ap;
    if (LOG_INFO < log_level)
        return;
    unsigned long long now = client_clock();
    if (now - client_window >= 1000) {
        client_window = now;
        client_lines = 0;
        log_client_flush();
    }
    if (client_lines >= LOG_CLIENT_PER_SECOND) {
        client_left_out++;
        return;
    }
    client_lines++;
    va_start(ap, fmt);
    log_vmsg(LOG_INFO, fmt, ap);
    va_end(ap);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    size_t n;

    if (level < log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ ccrouted[%d] %s ",
                          (int)(tv.tv_usec / 1000), (int)getpid(),
                          log_level_name(level));
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
