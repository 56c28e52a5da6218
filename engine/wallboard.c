/* wallboard.c -- the wallboard's files and snapshot; see wallboard.h.
 *
 * The snapshot reuses the JSON API's view of the queues (api_get
 * "queues": the same queues, names and figures as Stats) and of the
 * campaigns and callbacks (api_campaign_members), and adds the agents
 * counted by the status Stats gives them. It is built once per
 * tick of the event streams (sse.c) and copied to every stream, so the
 * cost is one walk of the queues and one of the agents a second, and
 * only while a wallboard is open; nothing here runs on the routing path.
 */
#include "wallboard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "config.h"
#include "router.h"
#include "store.h"
#include "tenant-t.h"

/* xxd -i of engine/www/<file>: <file>_<ext>[] and <file>_<ext>_len */
#include "www.h"

static const struct wallboard_file files[] = {
    { "/", "text/html; charset=utf-8", index_html, sizeof(index_html) },
    { "/index.html", "text/html; charset=utf-8", index_html,
      sizeof(index_html) },
    { "/wallboard.css", "text/css; charset=utf-8", wallboard_css,
      sizeof(wallboard_css) },
    { "/wallboard.js", "text/javascript; charset=utf-8", wallboard_js,
      sizeof(wallboard_js) },
};

const struct wallboard_file *wallboard_file(const char *path, size_t len)
{
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (strlen(files[i].path) == len && !memcmp(files[i].path, path, len))
            return &files[i];
    return NULL;
}

enum { ST_AVAILABLE, ST_OFFERED, ST_ON_CONTACT, ST_AWAY, ST_WRAPUP,
       ST_COUNT };

static const char *const status_names[ST_COUNT] = {
    "available", "offered", "on_contact", "away", "wrapup",
};

/* The logged-in agents by status; the walk stops after
 * router_agent_count() agents, as api.c's. */
static void count_agents(const struct tenant *s, uint64_t now,
                         unsigned n[ST_COUNT])
{
    const struct router *r = s->router;
    unsigned want = router_agent_count(r), seen = 0;
    uint32_t max = s->cfg->router.max_agents;

    memset(n, 0, ST_COUNT * sizeof(n[0]));
    for (uint32_t h = 0; seen < want && h < max; h++) {
        struct router_agent_info in;
        const char *st;
        if (!router_agent_id(r, h))
            continue;
        seen++;
        router_agent_info(r, h, now, &in);
        st = api_agent_status(&in);
        for (int i = 0; i < ST_COUNT; i++)
            if (!strcmp(st, status_names[i]))
                n[i]++;
    }
}

int wallboard_snapshot(const struct tenant *s, uint64_t seq, char **out,
                       size_t *len)
{
    char *queues = NULL, *buf = NULL, *camps;
    size_t qlen = 0, blen = 0, clen = 0;
    unsigned n[ST_COUNT];
    FILE *f;
    int rc;

    *out = NULL;
    *len = 0;
    /* {"contacts_waiting":..,"agents_logged_in":..,"queues":[..]}, one
     * line: jansson's compact form escapes every control character */
    if (api_get(s, "queues", 6, &queues, &qlen) != 200 || !queues ||
        qlen < 2 || queues[0] != '{') {
        free(queues);
        return -ENOMEM;
    }
    count_agents(s, clock_mono_us(), n);
    /* "campaigns":[..],"callbacks":{..} (api_get "campaigns") */
    if (!(camps = api_campaign_members(s, &clen))) {
        free(queues);
        return -ENOMEM;
    }
    f = open_memstream(&buf, &blen);
    if (!f) {
        free(queues);
        free(camps);
        return -ENOMEM;
    }
    fprintf(f, "{\"seq\":%" PRIu64 ",\"time_ms\":%" PRIu64 ",\"ready\":%s,"
            "\"agents\":{", seq, clock_wall_ms(),
            store_ready(s->store) ? "true" : "false");
    for (int i = 0; i < ST_COUNT; i++)
        fprintf(f, "%s\"%s\":%u", i ? "," : "", status_names[i], n[i]);
    fputs("},", f);
    fwrite(camps, 1, clen, f);
    fputc(',', f);
    fwrite(queues + 1, 1, qlen - 1, f);      /* the rest of the object */
    rc = ferror(f) ? -ENOMEM : 0;
    if (fclose(f) != 0)
        rc = -ENOMEM;
    free(queues);
    free(camps);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = blen;
    return 0;
}
