/* campaign-config-t.h -- one entry of the configuration's `campaigns:`
 * (campaign-config.h reads it, config.h holds the list). A type header of
 * its own so that config.h and campaign-config.c share it without
 * including each other.
 */
#ifndef CCROUTE_CAMPAIGN_CONFIG_T_H
#define CCROUTE_CAMPAIGN_CONFIG_T_H

#include <stdbool.h>

#include "campaign-t.h"

/* A CampaignUpsert as the file spells it, defaults filled and checked at
 * load. */
struct config_campaign {
    struct campaign_config cfg;
    bool start;                   /* `start: true`: run it once created */
    unsigned long line;           /* of the entry, for messages */
};

#endif
