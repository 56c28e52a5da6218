/* respcmd.c -- one Redis command in RESP, formatted into a reused buffer
 * (see respcmd.h). */
#include <stdlib.h>
#include <string.h>

#include "respcmd.h"

void respcmd_free(struct respcmd *c)
{
    free(c->p);
    memset(c, 0, sizeof(*c));
}

/* Room for n more bytes; false (and the command failed) without memory. */
static bool room(struct respcmd *c, size_t n)
{
    if (c->failed)
        return false;
    if (c->len + n <= c->cap)
        return true;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + n)
        cap *= 2;
    char *p = realloc(c->p, cap);
    if (!p) {
        c->failed = true;
        return false;
    }
    c->p = p;
    c->cap = cap;
    return true;
}

/* Writes `lead`, the digits of v and CRLF; room for 24 bytes is taken. */
static void put_line(struct respcmd *c, char lead, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *o = c->p + c->len;
    *o++ = lead;
    while (n)
        *o++ = d[--n];
    *o++ = '\r';
    *o++ = '\n';
    c->len = (size_t)(o - c->p);
}

void respcmd_begin(struct respcmd *c, size_t argc)
{
    c->len = 0;
    c->failed = false;
    c->left = argc;
    if (room(c, 24))
        put_line(c, '*', argc);
}

void respcmd_copy(struct respcmd *c, const struct respcmd *from)
{
    c->len = 0;
    c->failed = from->failed;
    c->left = from->left;
    if (room(c, from->len)) {
        memcpy(c->p, from->p, from->len);
        c->len = from->len;
    }
}

uint8_t *respcmd_open(struct respcmd *c, size_t n)
{
    if (c->failed)
        return NULL;
    if (!c->left) {
        c->failed = true;
        return NULL;
    }
    if (n > SIZE_MAX - 26 || !room(c, 24 + n + 2))
        return NULL;
    c->left--;
    put_line(c, '$', n);
    uint8_t *at = (uint8_t *)c->p + c->len;
    c->len += n;
    c->p[c->len++] = '\r';
    c->p[c->len++] = '\n';
    return at;
}

void respcmd_arg(struct respcmd *c, const void *p, size_t n)
{
    uint8_t *at = respcmd_open(c, n);
    if (at && n)
        memcpy(at, p, n);
}

void respcmd_str(struct respcmd *c, const char *s)
{
    respcmd_arg(c, s, s ? strlen(s) : 0);
}

void respcmd_u64(struct respcmd *c, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    uint8_t *at = respcmd_open(c, n);
    if (!at)
        return;
    for (size_t i = 0; i < n; i++)
        at[i] = (uint8_t)d[n - 1 - i];
}

void respcmd_argv(struct respcmd *c, size_t argc, const char *const *argv,
                  const size_t *argvlen)
{
    size_t need = 0;
    for (size_t i = 0; i < argc; i++)
        need += 26 + argvlen[i];
    if (!room(c, need))
        return;
    for (size_t i = 0; i < argc; i++)
        respcmd_arg(c, argv[i], argvlen[i]);
}

bool respcmd_end(const struct respcmd *c)
{
    return !c->failed && c->left == 0;
}
