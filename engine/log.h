/* log.h -- the engine's log: one line per event worth telling, on stderr.
 *
 * Format: "2024-05-01T12:00:00.123Z ccrouted[pid] LEVEL message". Levels
 * below the configured one are dropped before formatting. Policy: info is
 * for transitions (listening, a client connected / said Hello / went away,
 * lease won or lost), each logged once; per-request chatter is debug.
 */
#ifndef CCROUTE_LOG_H
#define CCROUTE_LOG_H

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn"/"warning", "error"; -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
