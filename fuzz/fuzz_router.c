/* SPDX-License-Identifier: MIT */
/*
 * fuzz_router.c - libFuzzer target for the web view's router and query
 * parser (src/web/router.c): the first byte picks a method, the bytes up to
 * '?' are the path and the rest the raw query string.  Checks what the
 * server relies on: an id that comes out of the router is one of weft's
 * id characters and never "." or "..", and a parsed limit is 1 to 500.
 * `make fuzz FUZZ_SECONDS=60` builds and runs it beside fuzz_toml.
 */
#include "web/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT"};
    if (size == 0) return 0;
    const char *method = methods[data[0] % 4];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *qm = memchr(rest, '?', n);
    size_t plen = qm ? (size_t)(qm - rest) : n;
    char *path = malloc(plen + 1);
    if (!path) return 0;
    memcpy(path, rest, plen);
    path[plen] = '\0';

    weft__route r;
    weft__route_match(method, path, &r);
    size_t idlen = strlen(r.id);
    if (idlen > WEFT__ID_MAX) abort();
    if (!strcmp(r.id, ".") || !strcmp(r.id, "..") || strchr(r.id, '/')) abort();
    if (r.kind != WEFT__R_NOTFOUND && r.kind != WEFT__R_BADMETHOD && path[0] != '/') abort();

    weft__query q = {0};
    if (qm) weft__query_parse(&q, qm + 1, n - plen - 1);
    if (q.n > WEFT__QUERY_MAX) abort();
    weft__page_args a;
    if (weft__page_args_parse(&q, &a, NULL) == WEFT_OK) {
        if (a.limit < 1 || a.limit > 500 || a.after < 0 || a.status >= WEFT_JOB_NSTATUS) abort();
        if (a.submission && strchr(a.submission, '/')) abort();
    }
    free(path);
    return 0;
}
