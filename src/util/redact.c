/* SPDX-License-Identifier: MIT */
/*
 * redact.c - the one place that hides the password of a URL before it is
 * shown: broker URLs reach error messages, log lines, `weft config` and
 * `weft workers`, and each of them goes through weft__url_redact() (or
 * weft__url_redact_span() for a URL inside a longer text).
 *
 * The rule is conservative, because the URLs that most need masking are
 * the malformed ones (a password with an unencoded '/', '#' or '?' that
 * the URL parser rejects): the userinfo runs to the last '@' of the URL,
 * not to the first '/', so a password is hidden however it is written.
 * A well-formed user name stays visible ("amqp://weft:***@host/v");
 * when even the user part holds a '/', '?' or '#', the whole userinfo is
 * replaced by three stars.  Anything between "//" and the last '@'
 * other than that user name is never shown.
 */
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether s[0..n) holds one of the bytes that end a URL's authority. */
static bool has_delim(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '?' || s[i] == '#') return true;
    return false;
}

size_t weft__url_redact_span(const char *s, size_t n, char *out)
{
    size_t auth = 0;
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            auth = i + 3;
            break;
        }
    size_t at = n;
    for (size_t i = n; i > auth; i--)
        if (s[i - 1] == '@') {
            at = i - 1;
            break;
        }
    if (at == n) { /* no userinfo: nothing secret */
        memcpy(out, s, n);
        return n;
    }
    const char *colon = memchr(s + auth, ':', at - auth);
    size_t user = colon ? (size_t)(colon - s) - auth : at - auth;
    size_t o = auth;
    memcpy(out, s, auth);
    if (has_delim(s + auth, user)) {
        memcpy(out + o, "***", 3); /* malformed: not even the user name */
        o += 3;
    } else if (colon) {
        memcpy(out + o, s + auth, user);
        o += user;
        memcpy(out + o, ":***", 4);
        o += 4;
    } else {
        memcpy(out + o, s + auth, user); /* a user and no password */
        o += user;
    }
    memcpy(out + o, s + at, n - at);
    return o + n - at;
}

void weft__url_redact(const char *url, char *buf, size_t size)
{
    if (!size) return;
    if (!url) {
        snprintf(buf, size, "(none)");
        return;
    }
    size_t n = strlen(url);
    char small[1024], *tmp = n + WEFT__REDACT_EXTRA <= sizeof small ? small : malloc(n + WEFT__REDACT_EXTRA);
    if (!tmp) {
        snprintf(buf, size, "(a URL)"); /* no memory: say nothing of it */
        return;
    }
    size_t len = weft__url_redact_span(url, n, tmp);
    snprintf(buf, size, "%.*s", (int)len, tmp);
    if (tmp != small) free(tmp);
}
