/* "host", "host:port", "[v6]" and "[v6]:port": the one splitter behind
 * web.listen, web.allowed_hosts and the Host header check, so that the
 * configuration is refused at load (file, line, key) by the same rules the
 * server applies later. */
#ifndef CORE_HOSTPORT_H
#define CORE_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

#define CORE_HOST_MAX 262      /* "[" 255 "]:" 5 */
#define CORE_HOSTLIST_MAX 32   /* names in one list */

/* Splits s[0..len) into its host (an IPv6 address keeps its brackets) and
 * port (-1 when none). The host is letters, digits and ".-_:[]" only.
 * Returns 0, or -1 when malformed or host does not fit in hostlen. */
int core_hostport_split(const char *s, size_t len, char *host, size_t hostlen, int *port);

/* The next name of a list separated by commas and spaces: *item and *len,
 * and *p moves past it. False at the end of the list. */
bool core_hostlist_next(const char **p, const char **item, size_t *len);

/* A list setting (web.allowed_hosts): every entry splits, at most
 * CORE_HOSTLIST_MAX of them, and a value that is not empty names at least
 * one. 0, or -1 with why. */
int core_hostlist_check(const char *value, char *why, size_t whylen);

/* A listen address (web.listen): HOST:PORT or [V6]:PORT, a port required;
 * host comes back without brackets. 0, or -1. */
int core_listen_split(const char *s, char *host, size_t hostlen, int *port);

#endif
