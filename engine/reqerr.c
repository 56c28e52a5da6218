/* reqerr.c -- see reqerr.h. */
#include "reqerr.h"

#include <stdarg.h>
#include <stdio.h>

int reqerr(int *code, char *msg, size_t len, int c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    *code = c;
    return -1;
}
