/* SPDX-License-Identifier: MIT */
/*
 * ids.c - entity ids: random (version 4) UUIDs read from getrandom(), and
 * the "<PREFIX>_<config id>_<uuid>" ids of jobs, tasks, data nodes,
 * scenarios and submissions built from them, as Taipy names its entities.
 */
#include "core/orchestrator_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

weft_err weft__uuid(char out[WEFT__UUID_LEN + 1])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return WEFT_EIO;
        }
        got += (size_t)r;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, WEFT__UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
    return WEFT_OK;
}

weft_err weft__make_id(const char *prefix, const char *config_id, char **out, char *err)
{
    char uuid[WEFT__UUID_LEN + 1];
    *out = NULL;
    if (weft__uuid(uuid) != WEFT_OK)
        return weft__err(err, WEFT_EIO, "cannot make an id: getrandom: %s", strerror(errno));
    size_t n = strlen(prefix) + (config_id ? strlen(config_id) + 1 : 0) + WEFT__UUID_LEN + 2;
    char *s = malloc(n);
    if (!s) return weft__err(err, WEFT_ENOMEM, "out of memory");
    if (config_id)
        snprintf(s, n, "%s_%s_%s", prefix, config_id, uuid);
    else
        snprintf(s, n, "%s_%s", prefix, uuid);
    *out = s;
    return WEFT_OK;
}
