/* web/: the HTTP server and JSON API of custos (docs/api.md): sign-in,
 * sessions and API tokens, roles, health and /metrics. The daemon starts it
 * as one of its services; `custos web` runs it alone. */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include <stddef.h>

#include "core/config.h"

typedef struct web_server web_server;

/* Starts the web server on cfg->web_listen (TLS when web.tls_cert is set)
 * with its own pool of PostgreSQL connections, and returns at once: worker
 * threads serve requests until web_service_stop. The database must be at
 * this binary's schema version. cfg is borrowed and must outlive the
 * result. Returns NULL with err (bad address, port taken, TLS files
 * unreadable or TLS unsupported, database unreachable or behind). The
 * caller owns the result: web_service_stop(). */
web_server *web_service_start(const core_config *cfg, char *err, size_t errlen);

/* Stops accepting, lets the requests in progress finish, closes the
 * connections and frees ws. NULL is a no-op. */
void web_service_stop(web_server *ws);

/* The TCP port ws listens on (the one chosen when web.listen says port 0). */
int web_service_port(const web_server *ws);

/* custos web: the console and API alone (no collector), until SIGTERM. */
int web_cmd_web(int argc, char **argv);
/* custos user add NAME --role ROLE | list | disable NAME | enable NAME |
 * role NAME ROLE | passwd NAME; passwords from a no-echo prompt or stdin. */
int web_cmd_user(int argc, char **argv);
/* custos token create --role ROLE --name NAME | list | revoke NAME */
int web_cmd_token(int argc, char **argv);

#endif
