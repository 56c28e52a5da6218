/* wallboard.h -- the wallboard of the HTTP surface (docs/http.md): its
 * page, stylesheet and script, and the snapshot that its event stream
 * carries.
 *
 * The files live in engine/www/ as plain HTML, CSS and JavaScript; the
 * build turns them into C arrays (xxd -i, the Makefile's rule for
 * $(B)/gen/www.h), so the binary serves them with nothing to install and
 * nothing to read from disk. There is no build step for the files
 * themselves: what is in engine/www/ is what the browser gets.
 */
#ifndef CCROUTE_WALLBOARD_H
#define CCROUTE_WALLBOARD_H

#include <stddef.h>
#include <stdint.h>

struct tenant;

struct wallboard_file {
    const char *path;               /* "/", "/wallboard.css", ... */
    const char *content_type;
    const unsigned char *data;      /* static, len bytes */
    size_t len;
};

/* The embedded file served at `path` (len bytes, borrowed; without the
 * query), or NULL. */
const struct wallboard_file *wallboard_file(const char *path, size_t len);

/* Writes one snapshot for the event stream: a single line of JSON (no
 * newline in it, as an SSE data line wants) with `seq`, the wall-clock
 * time, readiness, the totals, every queue as /api/v1/queues gives it and
 * the logged-in agents counted by status, of tenant `s`. *out is new
 * (malloc'd; the caller frees it), *len its length. 0, or -ENOMEM. Reads
 * `s` only. */
int wallboard_snapshot(const struct tenant *s, uint64_t seq, char **out,
                       size_t *len);

#endif
