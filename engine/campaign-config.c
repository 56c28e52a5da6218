/* campaign-config.c -- the `campaigns:` section; see campaign-config.h.
 *
 * Durations (retry_busy, compliance, dial_timeout, ramp_up...) take the
 * configuration's duration syntax ("5m", "2s") where CampaignUpsert has
 * the same name with _ms: a bare number of milliseconds in a file would
 * be the one place where a duration has no unit. The values are checked
 * by campaign_config_check after the defaults, the same words
 * CampaignUpsert's Error uses, so the two ways cannot accept different
 * campaigns.
 */
#include "campaign-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"

enum {
    CK_NAME, CK_QUEUE, CK_MODE, CK_WSTART, CK_WEND, CK_ATTEMPTS,
    CK_R_BUSY, CK_R_NOANS, CK_R_MACHINE, CK_R_FAILED, CK_R_DROPPED,
    CK_PRIORITY, CK_CALLER, CK_DIALER, CK_ABANDON, CK_COMPLIANCE,
    CK_DIAL_TIMEOUT, CK_BLEND, CK_MARGIN, CK_SHARE, CK_RAMP, CK_START,
};

static const char *const camp_keys[] = {
    "name", "queue", "mode", "window_start_hour", "window_end_hour",
    "max_attempts", "retry_busy", "retry_no_answer", "retry_machine",
    "retry_failed", "retry_dropped", "priority", "caller_id", "dialer",
    "abandon_cap_bp", "compliance", "dial_timeout", "blend_queues",
    "blend_margin_pct", "agent_share_pct", "ramp_up", "start", NULL,
};

struct walk {
    struct config_campaign *e;
    bool window_set;
};

static int blend_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *v, const char *path)
{
    struct campaign_config *c = ctx;
    if (yamlwalk_str(w, v, path, c->blend[i], sizeof(c->blend[i]), false) < 0)
        return -1;
    c->nblend = (unsigned)i + 1;
    return 0;
}

static int camp_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    static const char *const modes[] = {
        [CAMPAIGN_MODE_PREVIEW] = "preview",
        [CAMPAIGN_MODE_PROGRESSIVE] = "progressive",
        [CAMPAIGN_MODE_PREDICTIVE] = "predictive",
    };
    struct config_campaign *e = ctx;
    struct campaign_config *c = &e->cfg;
    uint32_t u;
    int m;
    switch (key) {
    case CK_NAME:
        if (yamlwalk_str(w, v, path, c->name, sizeof(c->name), false) < 0)
            return -1;
        if (strchr(c->name, '|'))
            return yamlwalk_fail(w, yamlwalk_line(v), path, "a campaign "
                                 "name has no '|'");
        return 0;
    case CK_QUEUE:
        return yamlwalk_str(w, v, path, c->queue, sizeof(c->queue), false);
    case CK_MODE:
        if (yamlwalk_enum(w, v, path, "mode", modes,
                          (int)(sizeof(modes) / sizeof(modes[0])), &m) < 0)
            return -1;
        c->mode = (enum campaign_mode)m;
        return 0;
    case CK_WSTART:
    case CK_WEND:
        if (yamlwalk_u32(w, v, path, 0, 24, &u) < 0)
            return -1;
        *(key == CK_WSTART ? &c->window_start_h : &c->window_end_h) =
            (uint8_t)u;
        return 0;
    case CK_ATTEMPTS:
        return yamlwalk_u32(w, v, path, 1, 100, &c->max_attempts);
    case CK_R_BUSY:
        return yamlwalk_duration_ms(w, v, path,
                                    &c->retry_ms[CAMPAIGN_OUT_BUSY]);
    case CK_R_NOANS:
        return yamlwalk_duration_ms(w, v, path,
                                    &c->retry_ms[CAMPAIGN_OUT_NO_ANSWER]);
    case CK_R_MACHINE:
        return yamlwalk_duration_ms(w, v, path,
                                    &c->retry_ms[CAMPAIGN_OUT_MACHINE]);
    case CK_R_FAILED:
        return yamlwalk_duration_ms(w, v, path,
                                    &c->retry_ms[CAMPAIGN_OUT_FAILED]);
    case CK_R_DROPPED:
        return yamlwalk_duration_ms(w, v, path,
                                    &c->retry_ms[CAMPAIGN_OUT_DROPPED]);
    case CK_PRIORITY:
        return yamlwalk_u32(w, v, path, 0, 100, &c->priority);
    case CK_CALLER:
        return yamlwalk_str(w, v, path, c->caller_id, sizeof(c->caller_id),
                            true);
    case CK_DIALER:
        return yamlwalk_str(w, v, path, c->dialer, sizeof(c->dialer), false);
    case CK_ABANDON:
        return yamlwalk_u32(w, v, path, 1, 10000, &c->abandon_cap_bp);
    case CK_COMPLIANCE:
        return yamlwalk_duration_ms(w, v, path, &c->compliance_ms);
    case CK_DIAL_TIMEOUT:
        return yamlwalk_duration_ms(w, v, path, &c->dial_timeout_ms);
    case CK_BLEND:
        return yamlwalk_list(w, v, path, CAMPAIGN_BLEND_MAX, "blend queues",
                             blend_item, c);
    case CK_MARGIN:
        return yamlwalk_u32(w, v, path, 1, 100, &c->blend_margin_pct);
    case CK_SHARE:
        return yamlwalk_u32(w, v, path, 1, 100, &c->agent_share_pct);
    case CK_RAMP:
        return yamlwalk_duration_ms(w, v, path, &c->ramp_up_ms);
    case CK_START:
        return yamlwalk_bool(w, v, path, &e->start);
    }
    return -1;
}

static int camp_item(struct yamlwalk *w, void *ctx, size_t i,
                     yaml_node_t *v, const char *path)
{
    struct config_campaign *all = ctx, *e = &all[i];
    e->line = yamlwalk_line(v);
    if (yamlwalk_map(w, v, path, camp_keys, camp_field, e) < 0)
        return -1;
    if (!e->cfg.name[0])
        return yamlwalk_fail(w, e->line, path, "name is missing");
    if (!e->cfg.queue[0])
        return yamlwalk_fail(w, e->line, path, "queue is missing");
    if (!e->cfg.dialer[0])
        return yamlwalk_fail(w, e->line, path, "dialer is missing");
    for (size_t k = 0; k < i; k++)
        if (!strcmp(all[k].cfg.name, e->cfg.name))
            return yamlwalk_fail(w, e->line, path, "campaign \"%s\" is "
                                 "already defined at line %lu", e->cfg.name,
                                 all[k].line);
    return 0;
}

int campaign_config_walk(struct yamlwalk *w, yaml_node_t *v, const char *path,
                         struct config_campaign **out, unsigned *n)
{
    struct config_campaign *all;
    if (v->type != YAML_SEQUENCE_NODE)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "expected a list "
                             "of campaigns");
    all = calloc(CAMPAIGN_MAX, sizeof(*all));
    if (!all)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "out of memory");
    free(*out);
    *out = all;
    *n = 0;
    if (yamlwalk_list(w, v, path, CAMPAIGN_MAX, "campaigns", camp_item,
                      all) < 0)
        return -1;
    *n = (unsigned)(v->data.sequence.items.top - v->data.sequence.items.start);
    return 0;
}

static bool queue_known(const struct router_config *rc, const char *q)
{
    for (unsigned i = 0; i < rc->nqueues; i++)
        if (!strcmp(rc->queues[i].name, q))
            return true;
    return false;
}

int campaign_config_verify(struct yamlwalk *w, struct config_campaign *v,
                           unsigned n, const char *path,
                           const struct router_config *rc)
{
    const char *why = "";
    char at[48];
    for (unsigned i = 0; i < n; i++) {
        struct campaign_config *c = &v[i].cfg;
        snprintf(at, sizeof(at), "%s[%u]", path, i);
        if (!queue_known(rc, c->queue))
            return yamlwalk_fail(w, v[i].line, at, "campaign %s: unknown "
                                 "queue \"%s\" (a campaign needs a "
                                 "configured queue)", c->name, c->queue);
        for (unsigned b = 0; b < c->nblend; b++)
            if (!queue_known(rc, c->blend[b]))
                return yamlwalk_fail(w, v[i].line, at, "campaign %s: "
                                     "unknown blend queue \"%s\"", c->name,
                                     c->blend[b]);
        campaign_config_defaults(c);
        if (campaign_config_check(c, &why) < 0)
            return yamlwalk_fail(w, v[i].line, at, "campaign %s: %s",
                                 c->name, why);
    }
    return 0;
}
