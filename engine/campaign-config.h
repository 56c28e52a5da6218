/* campaign-config.h -- the `campaigns:` section of the configuration
 * (docs/configuration.md, docs/outbound.md), read by config.c.
 *
 * Each entry is the configuration's spelling of one CampaignUpsert: the
 * same names, durations where the message carries milliseconds. The
 * loader fills the defaults and runs campaign_config_check, so a file
 * that loads holds only campaigns CampaignUpsert would accept; outbound.c
 * applies them when the engine owns a tenant, and reload.c on a reload.
 */
#ifndef CCROUTE_CAMPAIGN_CONFIG_H
#define CCROUTE_CAMPAIGN_CONFIG_H

#include "campaign-config-t.h"
#include "router-t.h"
#include "yamlwalk.h"

/* Reads list `v` (path `path`) into a fresh array *out of *n entries
 * (free() it). 0, or -1 with the message (file:line: path: ...). */
int campaign_config_walk(struct yamlwalk *w, yaml_node_t *v, const char *path,
                         struct config_campaign **out, unsigned *n);
/* After the queues: every queue and blend queue is a configured one, and
 * each campaign passes campaign_config_check. 0 or -1 with the message. */
int campaign_config_verify(struct yamlwalk *w, struct config_campaign *v,
                           unsigned n, const char *path,
                           const struct router_config *rc);

#endif
