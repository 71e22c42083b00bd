/* forensics/ internals shared by its files; not for other modules. */
#ifndef FORENSICS_FO_INTERNAL_H
#define FORENSICS_FO_INTERNAL_H

#include "forensics/forensics.h"

/* The service's connection (reconnecting when it broke; NULL after logging
 * why), and its config. */
PGconn *forensics_service_db(forensics_service *s);
const core_config *forensics_service_cfg(forensics_service *s);
/* One retention pass of the service, logged (fo_retention.c). */
void forensics_service_retention(forensics_service *s);

#endif
