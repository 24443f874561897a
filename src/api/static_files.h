/*
 * static_files.h - GET /web/{file}: the files of the configured web directory (web.dir).
 *
 * For the browser side of the API (the passkey test page today, a web app later). Only plain
 * names are served: [A-Za-z0-9_-]+ then one '.' and a known extension (html, js, css, svg,
 * png, ico, json, txt), which fixes the Content-Type; no dot files, no "..", no subdirectories,
 * no symbolic links (O_NOFOLLOW), only regular files of at most STATIC_FILES_BYTES_MAX. Every
 * answer carries a strict Content-Security-Policy (scripts, styles and fetches from this
 * origin only; no framing) besides the server's usual nosniff and no-store. A missing file,
 * a refused name and an unset web.dir all answer 404.
 *
 * Never: follow a path outside web.dir, or guess a type from the content.
 */
#ifndef TL_API_STATIC_FILES_H
#define TL_API_STATIC_FILES_H

#include "api/http.h"
#include "util/err.h"

#define STATIC_FILES_NAME_BYTES_MAX 64
#define STATIC_FILES_BYTES_MAX (512u * 1024u)
#define STATIC_FILES_CSP                                                                           \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* The Content-Type of a file name, or NULL when the name may not be served. Cannot fail. */
const char *static_files_type(const char *name);

enum tl_err static_files_get(struct http_request *req, struct http_response *resp);

#endif
