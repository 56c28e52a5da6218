/* care-config.h -- the `care:` section of the configuration
 * (docs/configuration.md, docs/care.md), read by config.c.
 */
#ifndef CCROUTE_CARE_CONFIG_H
#define CCROUTE_CARE_CONFIG_H

#include "care-t.h"
#include "yamlwalk.h"

/* Reads mapping `v` (path `path`) into *cfg, on top of its defaults.
 * 0, or -1 with the message (file:line: path: ...) in the walker. */
int care_config_walk(struct yamlwalk *w, yaml_node_t *v, const char *path,
                     struct care_config *cfg);
/* After the queues: every disposition list names a configured queue (or
 * "*"), at most once. 0 or -1 with the message. */
int care_config_check(struct yamlwalk *w, const struct care_config *cfg,
                      const struct router_config *rc);

#endif
