/* log.c -- timestamped, levelled lines on stderr or a file, as text or
 * JSON; see log.h.
 *
 * Each line is formatted into one buffer and written with a single write(2)
 * so that lines from a daemon and its test harness never interleave (and,
 * with O_APPEND, lines of two processes sharing a file).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;
static int log_fd = STDERR_FILENO;

void log_set_level(enum log_level level)
{
    log_level = level;
}

void log_set_format(enum log_format format)
{
    log_format = format;
}

int log_set_file(const char *path)
{
    int fd = STDERR_FILENO;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -errno;
    }
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes
 * there are not one (overlong forms, surrogates and values past U+10FFFF
 * included). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;           /* also stops at the NUL */
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

size_t log_json_escape(char *dst, size_t cap, const char *src)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t n = 0;
    if (cap == 0)
        return 0;
    while (*p) {
        char esc[8];
        const char *out = esc;
        size_t k, adv = 1;
        switch (*p) {
        case '"': out = "\\\""; k = 2; break;
        case '\\': out = "\\\\"; k = 2; break;
        case '\n': out = "\\n"; k = 2; break;
        case '\r': out = "\\r"; k = 2; break;
        case '\t': out = "\\t"; k = 2; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
            } else if (*p < 0x80) {
                out = (const char *)p;
                k = 1;
            } else if ((adv = utf8_len(p)) > 0) {
                out = (const char *)p;
                k = adv;
            } else {
                out = "\\ufffd";      /* not UTF-8: the replacement */
                k = 6;
                adv = 1;
            }
        }
        if (n + k >= cap)
            break;              /* whole escapes and sequences only */
        memcpy(dst + n, out, k);
        n += k;
        p += adv;
    }
    dst[n] = '\0';
    return n;
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

static const char *log_level_name(enum log_level level, bool lower)
{
    switch (level) {
    case LOG_DEBUG: return lower ? "debug" : "DEBUG";
    case LOG_INFO: return lower ? "info" : "INFO";
    case LOG_WARN: return lower ? "warn" : "WARN";
    case LOG_ERROR: return lower ? "error" : "ERROR";
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
    /* json: the message may grow six times when escaped; the line keeps
     * room for it and for the fields around it */
    char line[1024 * 6 + 128], msg[1024], ts[40];
    struct timeval tv;
    struct tm tm;
    size_t n;

    if (level < log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (m < 0)
        msg[0] = '\0';
    if (log_format == LOG_FORMAT_JSON) {
        n = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":"
                             "\"%s\",\"pid\":%d,\"msg\":\"", ts,
                             log_level_name(level, true), (int)getpid());
        n += log_json_escape(line + n, sizeof(line) - n - 4, msg);
        memcpy(line + n, "\"}\n", 3);
        n += 3;
    } else {
        n = (size_t)snprintf(line, sizeof(line), "%s ccrouted[%d] %s %s", ts,
                             (int)getpid(), log_level_name(level, false),
                             msg);
        if (n > sizeof(line) - 2)
            n = sizeof(line) - 2;
        line[n++] = '\n';
    }
    ssize_t w = write(log_fd, line, n);
    (void)w;
}
