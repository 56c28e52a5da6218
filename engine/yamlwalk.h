/* yamlwalk.h -- one YAML walker for every ccroute file: the daemon's
 * configuration (engine/config.c) and ccload's traffic model
 * (bench/ccload-model.c).
 *
 * A file is loaded with libyaml's document API into a node graph that keeps
 * the line of every node, and must hold exactly one YAML document (a second
 * one, after "---", is an error rather than silently ignored). The caller
 * then walks it top-down with the helpers below, building the path of the
 * field as it descends ("queues[2].steps[0].after"). Every error is written
 * to the caller's buffer as
 *
 *   file:line: path.to.field: message
 *
 * and the helper returns -1, so a caller only propagates it.
 *
 * Mappings are read against a NULL-terminated list of the keys they may
 * hold: an unknown key is an error (a misspelt key must never fall back to
 * a default), and so is a key given twice in one mapping (libyaml itself
 * keeps both).
 *
 * Value syntax, the same in every file:
 *   durations  a number and a unit: "250us", "500ms", "20s", "1.5m" (or
 *              "1.5min"), "1h"; a fraction is allowed when the result is a
 *              whole number of microseconds. A bare number is an error
 *              (it would mean milliseconds to one reader and seconds to
 *              another), except 0, which is 0 in every unit.
 *   sizes      "64KiB", "4MiB", "1GiB" (K, KB, KiB... are all 1024-based)
 *              or a bare number of bytes.
 *   booleans   true/false, yes/no, on/off.
 *   integers   decimal digits only.
 *
 * Ownership: struct yamlwalk owns the parsed document; nodes returned by
 * the helpers are borrowed until yamlwalk_fini(). `file` and the error
 * buffer are borrowed from the caller for the walker's lifetime.
 */
#ifndef CCROUTE_YAMLWALK_H
#define CCROUTE_YAMLWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#define YAMLWALK_PATH_MAX 256

struct yamlwalk {
    const char *file;         /* borrowed: the name used in messages */
    char *err;                /* borrowed: the caller's message buffer */
    size_t errlen;
    yaml_document_t doc;      /* owned once loaded */
    bool loaded;
};

/* Parses `len` bytes of `text` as exactly one YAML document. Returns 0, or
 * -1 with "file:line: ..." in err. Call yamlwalk_fini() in both cases. */
int yamlwalk_load(struct yamlwalk *w, const char *file, const char *text,
                  size_t len, char *err, size_t errlen);
/* Reads the file at `path` and loads it as above; `path` is the name in
 * messages. */
int yamlwalk_load_file(struct yamlwalk *w, const char *path, char *err,
                       size_t errlen);
/* Frees the document; every node pointer becomes invalid. */
void yamlwalk_fini(struct yamlwalk *w);

/* The document's root node, or NULL for an empty file. */
yaml_node_t *yamlwalk_root(struct yamlwalk *w);
/* 1-based line of a node. */
unsigned long yamlwalk_line(const yaml_node_t *n);

/* Writes "file:line: path: message" (or "file:line: message" when path is
 * empty) to the error buffer and returns -1. */
int yamlwalk_fail(struct yamlwalk *w, unsigned long line, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- structure ---- */

/* Called for each key of a mapping: `key` is the index in the key list,
 * `val` the value node (borrowed), `path` the field's path (valid during
 * the call). Returns 0 or -1 (message already written). */
typedef int (*yamlwalk_field_cb)(struct yamlwalk *w, void *ctx, int key,
                                 yaml_node_t *val, const char *path);
/* Walks mapping `n` whose keys must be in `keys` (NULL-terminated) and may
 * appear once each. */
int yamlwalk_map(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 const char *const *keys, yamlwalk_field_cb cb, void *ctx);

/* Called for each pair of a free-form mapping (`skills: {sales: 3}`):
 * `name` is the key's text, `key` its node. */
typedef int (*yamlwalk_pair_cb)(struct yamlwalk *w, void *ctx,
                                const char *name, yaml_node_t *key,
                                yaml_node_t *val, const char *path);
/* Walks mapping `n` with any keys; a key given twice is an error.
 * `what` describes the expected mapping in the error ("skill: level"). */
int yamlwalk_pairs(struct yamlwalk *w, yaml_node_t *n, const char *path,
                   const char *what, yamlwalk_pair_cb cb, void *ctx);

/* Called for each item of a list; `path` is "list[i]". */
typedef int (*yamlwalk_item_cb)(struct yamlwalk *w, void *ctx, size_t i,
                                yaml_node_t *item, const char *path);
/* Walks list `n` of at most `max` items (0: no limit); `what` names the
 * items in messages ("queues", "steps"). */
int yamlwalk_list(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  size_t max, const char *what, yamlwalk_item_cb cb,
                  void *ctx);

/* ---- leaves: each checks and converts one value, or fails ---- */

/* The text of a scalar (borrowed from the document). */
int yamlwalk_scalar(struct yamlwalk *w, yaml_node_t *n, const char *path,
                    const char **out);
/* Copies a scalar into buf (cap bytes, NUL included). */
int yamlwalk_str(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 char *buf, size_t cap, bool allow_empty);
int yamlwalk_u64(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 uint64_t min, uint64_t max, uint64_t *out);
int yamlwalk_u32(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 uint32_t min, uint32_t max, uint32_t *out);
/* A finite decimal number in [lo, hi]. */
int yamlwalk_double(struct yamlwalk *w, yaml_node_t *n, const char *path,
                    double lo, double hi, double *out);
int yamlwalk_bool(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  bool *out);
/* One of names[0..count) (NULL entries skipped); *out is its index.
 * `what` names the kind of value in the message ("strategy"). */
int yamlwalk_enum(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  const char *what, const char *const *names, int count,
                  int *out);
/* A size in [min, max] bytes. */
int yamlwalk_size(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  uint64_t min, uint64_t max, uint64_t *out);
/* A duration in microseconds. */
int yamlwalk_duration_us(struct yamlwalk *w, yaml_node_t *n,
                         const char *path, uint64_t *out);
/* A duration that must be a whole number of milliseconds up to
 * UINT32_MAX (the engine's timers). */
int yamlwalk_duration_ms(struct yamlwalk *w, yaml_node_t *n,
                         const char *path, uint32_t *out);

/* ---- value syntax without a document (tests, command lines) ---- */

/* Parses a duration as described above into microseconds. 0 or -1. */
int yamlwalk_parse_duration(const char *s, uint64_t *us);
/* Parses a size into bytes. 0 or -1. */
int yamlwalk_parse_size(const char *s, uint64_t *bytes);

#endif
