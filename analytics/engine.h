/* Kept only for daemon/main.c, which loads the signature rules for `custos
 * config check` (an_rules_load): it should include analytics/an_rules.h, or
 * better a check function in analytics.h, when the command table moves.
 * Nothing in analytics includes this. */
#ifndef AN_ENGINE_COMPAT_H
#define AN_ENGINE_COMPAT_H

#include "analytics/an_rules.h"

#endif
