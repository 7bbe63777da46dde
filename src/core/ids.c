/* SPDX-License-Identifier: MIT */
/*
 * ids.c - entity ids: random (version 4) UUIDs read from getrandom(), and
 * the "<PREFIX>_<config id>_<uuid>" ids of jobs, tasks, data nodes,
 * scenarios and submissions built from them, as Taipy names its entities;
 * and sequence ids, which Taipy derives from their scenario's id instead.
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

/* Taipy's Sequence._new_id: "SEQUENCE_<name>_<scenario id>", spaces of the
 * name spelt TPSPACE.  Derived, not random: a sequence exists with its
 * scenario instance, so nothing needs storing, and the id of a scenario
 * created before weft knew sequences is as good as any. */
#define SEQ_PREFIX "SEQUENCE_"
#define SEQ_SPACE "TPSPACE"

weft_err weft_sequence_id(const char *scenario_id, const char *name, char **sequence_id, char *err)
{
    if (!scenario_id || !name || !sequence_id)
        return weft__err(err, WEFT_EINVAL, "weft_sequence_id: NULL argument");
    *sequence_id = NULL;
    weft__buf b = WEFT_BUF_INIT;
    weft_err e = weft__buf_adds(&b, SEQ_PREFIX);
    for (const char *p = name; *p && !e; p++)
        e = *p == ' ' ? weft__buf_adds(&b, SEQ_SPACE) : weft__buf_addc(&b, *p);
    if (!e) e = weft__buf_addc(&b, '_');
    if (!e) e = weft__buf_adds(&b, scenario_id);
    if (e) {
        weft__buf_release(&b);
        return weft__err(err, e, "out of memory");
    }
    if (!(*sequence_id = weft__buf_detach(&b, NULL))) return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

weft_err weft__sequence_parse(const char *id, char **scenario_id, char **name, char *err)
{
    *scenario_id = *name = NULL;
    /* A sequence name cannot contain "SCENARIO" (Taipy's _validate_id), so
     * the first "_SCENARIO_" ends it. */
    const char *end = strncmp(id, SEQ_PREFIX, strlen(SEQ_PREFIX)) == 0 ? strstr(id, "_SCENARIO_") : NULL;
    const char *start = id + strlen(SEQ_PREFIX);
    if (!end || end == start) return weft__err(err, WEFT_ENOTFOUND, "no sequence %s", id);
    weft__buf b = WEFT_BUF_INIT;
    weft_err e = WEFT_OK;
    for (const char *p = start; p < end && !e;) {
        bool space = strncmp(p, SEQ_SPACE, strlen(SEQ_SPACE)) == 0;
        e = weft__buf_addc(&b, space ? ' ' : *p);
        p += space ? strlen(SEQ_SPACE) : 1;
    }
    if (e || !(*scenario_id = strdup(end + 1))) {
        weft__buf_release(&b);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    if (!(*name = weft__buf_detach(&b, NULL))) {
        free(*scenario_id);
        *scenario_id = NULL;
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    return WEFT_OK;
}
