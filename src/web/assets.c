/* SPDX-License-Identifier: MIT */
/*
 * assets.c - the embedded files of the page (embed.S) by route, with
 * their content types.
 */
#include "web/web.h"

extern const char weft__asset_html[], weft__asset_html_end[];
extern const char weft__asset_css[], weft__asset_css_end[];
extern const char weft__asset_js[], weft__asset_js_end[];

const char *weft__asset(weft__route_kind kind, size_t *len, const char **ctype)
{
    const char *a, *end;
    switch (kind) {
    case WEFT__R_PAGE:
        a = weft__asset_html, end = weft__asset_html_end, *ctype = "text/html; charset=utf-8";
        break;
    case WEFT__R_CSS:
        a = weft__asset_css, end = weft__asset_css_end, *ctype = "text/css; charset=utf-8";
        break;
    case WEFT__R_JS:
        a = weft__asset_js, end = weft__asset_js_end, *ctype = "text/javascript; charset=utf-8";
        break;
    default: return NULL;
    }
    *len = (size_t)(end - a) - 1; /* the NUL after each file */
    return a;
}
