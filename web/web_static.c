/* The console: its HTML shell for every page path (a one-page app with deep
 * links), and its assets under content-hashed names. Both are compiled into
 * the binary at build time (web/console/embed.cmake), so that the binary is
 * the whole console: nothing is read from disk, no share folder to keep in
 * step with the binary, and a name that changes with every change of the
 * content, so an asset can be cached for a year. */
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

typedef struct {
    const char *name, *ctype;
    const char *data;
    size_t len;
} web_asset;

/* In the generated console_assets.c. */
extern const web_asset web_console_assets[];
extern const size_t web_console_assets_count;
extern const char web_console_shell[];
extern const size_t web_console_shell_len;

/* Answers a copy of data (the server frees the body it sends). */
static web_result reply_bytes(web_req *r, const char *data, size_t len, const char *ctype)
{
    char *b = malloc(len ? len : 1);
    if (!b)
        return web_fail(r, "out of memory for a %zu-byte asset", len);
    memcpy(b, data, len);
    r->status = 200;
    r->body = b;
    r->body_len = len;
    r->ctype = ctype;
    return WEB_DONE;
}

/* GET /, /signin, /queue, /sessions, /incidents/{id}: the shell. It names
 * the current assets, so it is never cached (the server's no-store). */
web_result web_h_console_shell(web_req *r)
{
    return reply_bytes(r, web_console_shell, web_console_shell_len, "text/html; charset=utf-8");
}

/* GET /assets/{file}: one asset by its hashed name; 404 for any other. */
web_result web_h_console_asset(web_req *r)
{
    const char *want = r->params.v[0];
    for (size_t i = 0; i < web_console_assets_count; i++) {
        const web_asset *a = &web_console_assets[i];
        if (strcmp(a->name, want) != 0)
            continue;
        web_reply_header(r, "Cache-Control", "public, max-age=31536000, immutable");
        return reply_bytes(r, a->data, a->len, a->ctype);
    }
    return web_reply_error(r, 404, "not_found", "no such asset");
}
