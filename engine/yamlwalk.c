/* yamlwalk.c -- the YAML walker; see yamlwalk.h.
 *
 * Loading: libyaml's parser fills one yaml_document_t (nodes in an array,
 * each with its start mark); the parser is then asked for the next
 * document, and anything but the end of the stream is an error naming the
 * line of the second "---". The parser is freed before returning: the
 * document owns copies of every scalar.
 *
 * Walking: the helpers never recurse on their own; the caller descends
 * through the structure it expects, so an alias that points back at its
 * own anchor (`&a [*a]`) can only fail a type check, never loop.
 *
 * Durations are parsed exactly, in integer microseconds (integer part
 * times the unit plus the fraction times the unit over 10^digits, which
 * must divide evenly), so "1.1s" is 1100000 us and not 1099999.
 */
#include "yamlwalk.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DUR_ESYNTAX (-1)
#define DUR_EBARE (-2)      /* a bare number other than 0 */
#define DUR_EFINE (-3)      /* finer than a microsecond */
#define DUR_ERANGE (-4)

static yaml_node_t *yw_node(struct yamlwalk *w, int index)
{
    return yaml_document_get_node(&w->doc, index);
}

unsigned long yamlwalk_line(const yaml_node_t *n)
{
    return (unsigned long)n->start_mark.line + 1;
}

int yamlwalk_fail(struct yamlwalk *w, unsigned long line, const char *path,
                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(w->err, w->errlen, "%s:%lu: %s: %s", w->file, line, path,
                 msg);
    else
        snprintf(w->err, w->errlen, "%s:%lu: %s", w->file, line, msg);
    return -1;
}

/* ---- loading ---- */

static int yw_syntax_error(struct yamlwalk *w, yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "parse error";
    const char *context = parser->context;
    snprintf(w->err, w->errlen, "%s:%lu: YAML syntax error: %s%s%s", w->file,
             (unsigned long)parser->problem_mark.line + 1, problem,
             context ? " " : "", context ? context : "");
    return -1;
}

int yamlwalk_load(struct yamlwalk *w, const char *file, const char *text,
                  size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    int rc = -1;

    memset(w, 0, sizeof(*w));
    w->file = file;
    w->err = err;
    w->errlen = errlen;
    err[0] = '\0';
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s:1: cannot initialise the YAML parser", file);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &w->doc)) {
        yw_syntax_error(w, &parser);
        goto out;
    }
    w->loaded = true;
    if (!yaml_document_get_root_node(&w->doc)) {
        rc = 0;     /* an empty stream: nothing can follow */
        goto out;
    }
    /* One file, one document: a second one would be ignored otherwise,
     * and whoever wrote it meant something by it. */
    if (!yaml_parser_load(&parser, &extra)) {
        yw_syntax_error(w, &parser);
        goto out;
    }
    if (yaml_document_get_root_node(&extra)) {
        yamlwalk_fail(w, (unsigned long)extra.start_mark.line + 1, "",
                      "a second YAML document (after \"---\"); the file "
                      "must hold exactly one");
        yaml_document_delete(&extra);
        goto out;
    }
    yaml_document_delete(&extra);
    rc = 0;
out:
    yaml_parser_delete(&parser);
    return rc;
}

int yamlwalk_load_file(struct yamlwalk *w, const char *path, char *err,
                       size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc;

    memset(w, 0, sizeof(*w));
    w->file = path;
    w->err = err;
    w->errlen = errlen;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *nt = realloc(text, ncap);
            if (!nt) {
                free(text);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            text = nt;
            cap = ncap;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        free(text);
        fclose(f);
        return -1;
    }
    fclose(f);
    rc = yamlwalk_load(w, path, text, len, err, errlen);
    free(text);
    return rc;
}

void yamlwalk_fini(struct yamlwalk *w)
{
    if (w->loaded)
        yaml_document_delete(&w->doc);
    w->loaded = false;
}

yaml_node_t *yamlwalk_root(struct yamlwalk *w)
{
    return w->loaded ? yaml_document_get_root_node(&w->doc) : NULL;
}

/* ---- structure ---- */

static void path_join(char *out, size_t len, const char *base,
                      const char *key)
{
    if (base && *base)
        snprintf(out, len, "%s.%s", base, key);
    else
        snprintf(out, len, "%s", key);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "mapping";
    case YAML_SEQUENCE_NODE: return "list";
    default: return "single value";
    }
}

/* The key text of pair `pr`, or fails at the key's line. Checks that no
 * earlier pair of the same mapping had the same key. */
static int pair_key(struct yamlwalk *w, yaml_node_t *map, yaml_node_pair_t *pr,
                    const char *path, const char **out)
{
    yaml_node_t *k = yw_node(w, pr->key);
    char sub[YAMLWALK_PATH_MAX];
    if (k->type != YAML_SCALAR_NODE)
        return yamlwalk_fail(w, yamlwalk_line(k), path, "keys must be plain "
                             "names, not a %s", node_kind(k));
    const char *ks = (const char *)k->data.scalar.value;
    for (yaml_node_pair_t *e = map->data.mapping.pairs.start; e < pr; e++) {
        yaml_node_t *ek = yw_node(w, e->key);
        if (ek->type == YAML_SCALAR_NODE &&
            !strcmp((const char *)ek->data.scalar.value, ks)) {
            path_join(sub, sizeof(sub), path, ks);
            return yamlwalk_fail(w, yamlwalk_line(k), sub, "given twice "
                                 "(first at line %lu)", yamlwalk_line(ek));
        }
    }
    *out = ks;
    return 0;
}

/* Joins names into buf as "a, b, c" (truncated to fit). */
static void names_join(char *buf, size_t len, const char *const *names,
                       int count)
{
    size_t el = 0;
    buf[0] = '\0';
    for (int i = 0; count < 0 ? names[i] != NULL : i < count; i++) {
        if (!names[i])
            continue;
        int n = snprintf(buf + el, len - el, "%s%s", el ? ", " : "",
                         names[i]);
        if (n < 0 || (size_t)n >= len - el)
            break;
        el += (size_t)n;
    }
}

/* An unknown key `ks`: the message lists the keys expected. "grace_ms"
 * where "grace" is a key gets a hint instead: durations carry their unit
 * (the "_ms" spelling was once accepted). */
static int unknown_key(struct yamlwalk *w, yaml_node_t *k, yaml_node_t *v,
                       const char *sub, const char *ks,
                       const char *const *keys)
{
    char expected[512];
    size_t kl = strlen(ks);
    for (int j = 0; keys[j]; j++) {
        size_t nl = strlen(keys[j]);
        if (kl == nl + 3 && !strncmp(ks, keys[j], nl) &&
            !strcmp(ks + nl, "_ms")) {
            const char *val = v->type == YAML_SCALAR_NODE ?
                (const char *)v->data.scalar.value : "";
            uint64_t us;
            if (!*val)
                return yamlwalk_fail(w, yamlwalk_line(k), sub, "unknown key: "
                                     "write \"%s\" with a unit (e.g. "
                                     "500ms)", keys[j]);
            /* "grace_ms: 45000" becomes "grace: 45000ms". */
            return yamlwalk_fail(w, yamlwalk_line(k), sub, "unknown key: "
                                 "durations carry their unit, write "
                                 "\"%s: %s%s\"", keys[j], val,
                                 yamlwalk_parse_duration(val, &us) < 0 &&
                                 strspn(val, "0123456789.") == strlen(val)
                                 ? "ms" : "");
        }
    }
    names_join(expected, sizeof(expected), keys, -1);
    return yamlwalk_fail(w, yamlwalk_line(k), sub, "unknown key (expected "
                         "one of: %s)", expected);
}

int yamlwalk_map(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 const char *const *keys, yamlwalk_field_cb cb, void *ctx)
{
    if (n->type != YAML_MAPPING_NODE)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "expected a mapping "
                             "(key: value lines), not a %s", node_kind(n));
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yw_node(w, pr->key), *v = yw_node(w, pr->value);
        char sub[YAMLWALK_PATH_MAX];
        const char *ks;
        int i;
        if (pair_key(w, n, pr, path, &ks) < 0)
            return -1;
        path_join(sub, sizeof(sub), path, ks);
        for (i = 0; keys[i]; i++)
            if (!strcmp(keys[i], ks))
                break;
        if (!keys[i])
            return unknown_key(w, k, v, sub, ks, keys);
        if (cb(w, ctx, i, v, sub) < 0)
            return -1;
    }
    return 0;
}

int yamlwalk_pairs(struct yamlwalk *w, yaml_node_t *n, const char *path,
                   const char *what, yamlwalk_pair_cb cb, void *ctx)
{
    if (n->type != YAML_MAPPING_NODE)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "expected a mapping "
                             "of %s, not a %s", what, node_kind(n));
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yw_node(w, pr->key), *v = yw_node(w, pr->value);
        char sub[YAMLWALK_PATH_MAX];
        const char *ks;
        if (pair_key(w, n, pr, path, &ks) < 0)
            return -1;
        path_join(sub, sizeof(sub), path, ks);
        if (cb(w, ctx, ks, k, v, sub) < 0)
            return -1;
    }
    return 0;
}

int yamlwalk_list(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  size_t max, const char *what, yamlwalk_item_cb cb,
                  void *ctx)
{
    size_t count;
    if (n->type != YAML_SEQUENCE_NODE)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "expected a list of "
                             "%s, not a %s", what, node_kind(n));
    count = (size_t)(n->data.sequence.items.top -
                     n->data.sequence.items.start);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it = yw_node(w, n->data.sequence.items.start[i]);
        char sub[YAMLWALK_PATH_MAX];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (max && i == max)
            return yamlwalk_fail(w, yamlwalk_line(it), sub, "at most %zu %s",
                                 max, what);
        if (cb(w, ctx, i, it, sub) < 0)
            return -1;
    }
    return 0;
}

/* ---- value syntax ---- */

/* Decimal digits only, into *v; *rest after them. */
static int parse_u64_prefix(const char *s, uint64_t *v, const char **rest)
{
    uint64_t x = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    *rest = s;
    return 0;
}

static int parse_duration(const char *s, uint64_t *us)
{
    uint64_t whole, frac = 0, scale = 1, mult;
    const char *p;
    unsigned digits = 0;

    if (parse_u64_prefix(s, &whole, &p) < 0)
        return DUR_ESYNTAX;
    if (*p == '.') {
        const char *f = ++p;
        const char *last = NULL;    /* last non-zero fraction digit */
        while (*p >= '0' && *p <= '9') {
            if (*p != '0')
                last = p;
            p++;
        }
        if (p == f)
            return DUR_ESYNTAX;     /* "1." */
        /* Trailing zeros change nothing; more than 9 significant digits
         * are finer than a microsecond in every unit. */
        for (const char *d = f; last && d <= last; d++) {
            if (++digits > 9)
                return DUR_EFINE;
            frac = frac * 10 + (uint64_t)(*d - '0');
            scale *= 10;
        }
    }
    while (*p == ' ')
        p++;
    if (!*p)
        return whole == 0 && frac == 0 ? (*us = 0, 0) : DUR_EBARE;
    if (!strcmp(p, "us"))
        mult = 1;
    else if (!strcmp(p, "ms"))
        mult = 1000;
    else if (!strcmp(p, "s"))
        mult = 1000000;
    else if (!strcmp(p, "m") || !strcmp(p, "min"))
        mult = 60000000;
    else if (!strcmp(p, "h"))
        mult = 3600000000ull;
    else
        return DUR_ESYNTAX;
    /* frac < 10^9 and mult <= 3.6e9: the product fits in 64 bits. */
    if ((frac * mult) % scale)
        return DUR_EFINE;
    if (whole > (UINT64_MAX - frac * mult / scale) / mult)
        return DUR_ERANGE;
    *us = whole * mult + frac * mult / scale;
    return 0;
}

int yamlwalk_parse_duration(const char *s, uint64_t *us)
{
    return s && parse_duration(s, us) == 0 ? 0 : -1;
}

int yamlwalk_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t v, mult;
    const char *unit;
    if (parse_u64_prefix(s, &v, &unit) < 0)
        return -1;
    while (*unit == ' ')
        unit++;
    if (!*unit || !strcasecmp(unit, "b"))
        mult = 1;
    else if (!strcasecmp(unit, "k") || !strcasecmp(unit, "kb") ||
             !strcasecmp(unit, "kib"))
        mult = 1024;
    else if (!strcasecmp(unit, "m") || !strcasecmp(unit, "mb") ||
             !strcasecmp(unit, "mib"))
        mult = 1024 * 1024;
    else if (!strcasecmp(unit, "g") || !strcasecmp(unit, "gb") ||
             !strcasecmp(unit, "gib"))
        mult = 1024ull * 1024 * 1024;
    else
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *bytes = v * mult;
    return 0;
}

/* ---- leaves ---- */

int yamlwalk_scalar(struct yamlwalk *w, yaml_node_t *n, const char *path,
                    const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "expected a single "
                             "value, not a %s", node_kind(n));
    *out = (const char *)n->data.scalar.value;
    return 0;
}

int yamlwalk_str(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 char *buf, size_t cap, bool allow_empty)
{
    const char *s = NULL;
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    if (!allow_empty && !*s)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "must not be empty");
    if (strlen(s) >= cap)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is too long "
                             "(at most %zu bytes)", s, cap - 1);
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

int yamlwalk_u64(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = NULL, *rest;
    uint64_t v;
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    if (parse_u64_prefix(s, &v, &rest) < 0 || *rest)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is not a "
                             "non-negative integer", s);
    if (v < min || v > max)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "%llu is out of "
                             "range (%llu..%llu)", (unsigned long long)v,
                             (unsigned long long)min,
                             (unsigned long long)max);
    *out = v;
    return 0;
}

int yamlwalk_u32(struct yamlwalk *w, yaml_node_t *n, const char *path,
                 uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (yamlwalk_u64(w, n, path, min, max, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int yamlwalk_double(struct yamlwalk *w, yaml_node_t *n, const char *path,
                    double lo, double hi, double *out)
{
    const char *s = NULL;
    char *end;
    double v;
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    errno = 0;
    v = *s ? strtod(s, &end) : 0;
    if (!*s || errno || *end || !isfinite(v))
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is not a "
                             "number", s);
    if (v < lo || v > hi)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "%g is out of range "
                             "(%g..%g)", v, lo, hi);
    *out = v;
    return 0;
}

int yamlwalk_bool(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  bool *out)
{
    const char *s = NULL;
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") ||
             !strcasecmp(s, "off"))
        *out = false;
    else
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is not a "
                             "boolean (expected true or false)", s);
    return 0;
}

int yamlwalk_enum(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  const char *what, const char *const *names, int count,
                  int *out)
{
    const char *s = NULL;
    char expected[256];
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    for (int i = 0; i < count; i++) {
        if (names[i] && !strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    }
    names_join(expected, sizeof(expected), names, count);
    return yamlwalk_fail(w, yamlwalk_line(n), path, "unknown %s \"%s\" "
                         "(expected %s)", what, s, expected);
}

int yamlwalk_size(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = NULL;
    uint64_t v;
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    if (yamlwalk_parse_size(s, &v) < 0)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is not a "
                             "size (e.g. 65536, 64KiB, 4MiB)", s);
    if (v < min || v > max)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "%s is out of range "
                             "(%llu..%llu bytes)", s,
                             (unsigned long long)min,
                             (unsigned long long)max);
    *out = v;
    return 0;
}

int yamlwalk_duration_us(struct yamlwalk *w, yaml_node_t *n,
                         const char *path, uint64_t *out)
{
    const char *s = NULL;
    if (yamlwalk_scalar(w, n, path, &s) < 0)
        return -1;
    switch (parse_duration(s, out)) {
    case 0:
        return 0;
    case DUR_EBARE:
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" needs a unit "
                             "(e.g. %ss or %sms)", s, s, s);
    case DUR_EFINE:
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is finer "
                             "than a microsecond", s);
    case DUR_ERANGE:
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is too "
                             "long", s);
    default:
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is not a "
                             "duration (e.g. 500ms, 20s, 2m, 1h)", s);
    }
}

int yamlwalk_duration_ms(struct yamlwalk *w, yaml_node_t *n,
                         const char *path, uint32_t *out)
{
    uint64_t us;
    if (yamlwalk_duration_us(w, n, path, &us) < 0)
        return -1;
    if (us % 1000)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is not a "
                             "whole number of milliseconds",
                             (const char *)n->data.scalar.value);
    if (us / 1000 > UINT32_MAX)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "\"%s\" is too long "
                             "(at most %llu ms)",
                             (const char *)n->data.scalar.value,
                             (unsigned long long)UINT32_MAX);
    *out = (uint32_t)(us / 1000);
    return 0;
}
