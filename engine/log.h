/* log.h -- the engine's log: one line per event worth telling, on stderr
 * or in a file (`log: {format, file}`, docs/configuration.md).
 *
 * Format text (the default): "2024-05-01T12:00:00.123Z ccrouted[pid] LEVEL
 * message". Format json: one object per line,
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","pid":42,"msg":"..."}
 * with the message escaped as a JSON string (quotes, backslashes, control
 * characters; a byte that is not part of valid UTF-8 becomes U+FFFD), so
 * that every line parses whatever a client put in a name. Either way a
 * line is written with one write(2). Levels below the configured one are
 * dropped before formatting. Policy: info is
 * for transitions (listening, a client connected / said Hello / went away,
 * lease won or lost), each logged once; per-request chatter is debug.
 *
 * Lines about one client's life (connected, Hello, closed, gone, back or
 * not) go through log_client(): an info line each, but at most
 * LOG_CLIENT_PER_SECOND a second. Past that they are counted, not written,
 * and the next line written after the second is over says how many were
 * left out -- so 10,000 desks dropping at once (a network blip) cost a
 * few dozen lines and a count, not 10,000 lines written from the loop.
 */
#ifndef CCROUTE_LOG_H
#define CCROUTE_LOG_H

#include <stddef.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON,
};

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* Lines go to `path` from now on (opened for appending, created 0640 if
 * missing); NULL or "": back to stderr. 0, or a negative errno (the
 * destination is then unchanged). */
int log_set_file(const char *path);
/* Escapes `src` (NUL-terminated) as the inside of a JSON string into
 * dst (cap bytes, NUL included), never cutting an escape or a UTF-8
 * sequence in two. Returns the length written (without the NUL). */
size_t log_json_escape(char *dst, size_t cap, const char *src);
/* Parses "debug", "info", "warn"/"warning", "error"; -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_CLIENT_PER_SECOND 50

void log_client(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes the count of client lines left out, if any (at shutdown). */
void log_client_flush(void);
/* For tests: the clock of log_client's budget (monotonic ms); NULL
 * restores the real one. */
void log_set_clock(unsigned long long (*now_ms)(void));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
