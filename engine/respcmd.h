/* respcmd.h -- one Redis command in the request protocol (RESP), formatted
 * into a buffer the caller owns and reuses.
 *
 * The store sends its write batches with redisAsyncFormattedCommand(): the
 * command is formatted here, then hiredis copies it once into its output
 * buffer. hiredis' own redisAsyncCommandArgv() formats every command
 * into a new sds string (an allocation, a printf-style pass per argument,
 * a copy of every argument and a free), which for a batch of packed
 * events is a second copy of the batch per send. Here the buffer grows to
 * the largest command once and is kept, the lengths are written by a
 * plain digit loop, and a bulk argument of known length can be written in
 * place (respcmd_open): the journal packs its batch straight into the
 * command.
 *
 * The bytes are exactly hiredis' redisFormatCommandArgv() for the same
 * arguments (tests/test-respcmd.c checks it on random ones):
 *
 *     "*" argc "\r\n", then per argument "$" len "\r\n" bytes "\r\n"
 *
 * Errors are sticky: an argument that cannot be added (out of memory, or
 * more arguments than respcmd_begin announced) marks the command failed
 * and every later call until the next respcmd_begin does nothing;
 * respcmd_end() says whether the command is whole.
 */
#ifndef CCROUTE_RESPCMD_H
#define CCROUTE_RESPCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct respcmd {
    char *p;                    /* the command's bytes (owned) */
    size_t len, cap;
    size_t left;                /* arguments still to come */
    bool failed;
};

/* Releases the buffer; the struct may be used again (zeroed). */
void respcmd_free(struct respcmd *c);

/* Starts a command of exactly `argc` arguments; forgets the previous one
 * (its memory is kept). */
void respcmd_begin(struct respcmd *c, size_t argc);
/* Starts `c` as a copy of `from`: a command begun and partly filled once
 * (the arguments every command of a kind shares), whose bytes and
 * arguments still expected `c` takes over; `from` is unchanged. */
void respcmd_copy(struct respcmd *c, const struct respcmd *from);
/* Appends one argument of `n` bytes (binary-safe; n may be 0, p then may
 * be NULL). */
void respcmd_arg(struct respcmd *c, const void *p, size_t n);
/* Appends a NUL-terminated string (NULL: empty). */
void respcmd_str(struct respcmd *c, const char *s);
/* Appends the decimal digits of v (as "%" PRIu64 would print them). */
void respcmd_u64(struct respcmd *c, uint64_t v);
/* Appends an argument of exactly `n` bytes that the caller writes: the
 * returned pointer, valid until the next call on `c`. NULL when the
 * command failed (nothing to write then). */
uint8_t *respcmd_open(struct respcmd *c, size_t n);
/* Appends `argc` arguments (argvlen[i] bytes at argv[i]). */
void respcmd_argv(struct respcmd *c, size_t argc, const char *const *argv,
                  const size_t *argvlen);
/* true when every announced argument was added: c->p, c->len then hold
 * the whole command. false after a failure or with arguments missing. */
bool respcmd_end(const struct respcmd *c);

#endif
