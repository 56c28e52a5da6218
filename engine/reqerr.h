/* reqerr.h -- the Error a request handler answers with, as the modules
 * that handle requests behind dispatch.c (outbound.c, callback.c) return
 * it: an ErrorCode in *code and its words in msg[0, len).
 */
#ifndef CCROUTE_REQERR_H
#define CCROUTE_REQERR_H

#include <stddef.h>

/* Sets *code to `c` and formats the words into msg (truncated to len);
 * returns -1, so that a handler can `return reqerr(...)`. */
int reqerr(int *code, char *msg, size_t len, int c, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
