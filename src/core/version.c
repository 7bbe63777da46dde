/* SPDX-License-Identifier: MIT */
/*
 * version.c - the version an orchestrator tags its new entities with
 * (weft_version_set: Taipy's development, experiment and production
 * versions, checked by name and mode), and the list of the store's
 * versions.  Deleting a version is delete.c's.
 */
#include "core/orchestrator_internal.h"

#include <stdlib.h>
#include <string.h>

const char *weft_version_mode_name(weft_version_mode m)
{
    switch (m) {
    case WEFT_VERSION_DEVELOPMENT: return "development";
    case WEFT_VERSION_EXPERIMENT: return "experiment";
    case WEFT_VERSION_PRODUCTION: return "production";
    }
    return NULL;
}

/* A version name: 1..WEFT_VERSION_NAME_MAX of [A-Za-z0-9._-], starting with
 * a letter or digit (it is printed in tables and typed on command lines). */
static weft_err check_name(const char *name, char *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= WEFT_VERSION_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
    }
    if (!ok)
        return weft__err(err, WEFT_EINVAL,
                         "bad version name '%s': use 1 to %d letters, digits, '.', '_' or '-', "
                         "starting with a letter or a digit",
                         name, WEFT_VERSION_NAME_MAX);
    return WEFT_OK;
}

/* Taipy's rules between a version's stored mode and the one asked. */
static weft_err check_mode(weft_orchestrator *o, const char *name, weft_version_mode mode,
                           bool *promote, char *err)
{
    *promote = false;
    char *stored = NULL;
    weft_err e = weft__store_version_mode(o->store, name, &stored, err);
    if (e == WEFT_ENOTFOUND) return WEFT_OK;
    if (e) return e;
    const char *want = weft_version_mode_name(mode);
    if (strcmp(stored, want) != 0) {
        if (strcmp(stored, "experiment") == 0 && mode == WEFT_VERSION_PRODUCTION)
            *promote = true;
        else
            e = weft__err(err, WEFT_ESTATE,
                          "version %s is a %s version; it cannot become %s (use another name)",
                          name, stored, want);
    }
    free(stored);
    return e;
}

weft_err weft_version_set(weft_orchestrator *o, const char *name, weft_version_mode mode,
                          char *err)
{
    if (!o || !name) return weft__err(err, WEFT_EINVAL, "weft_version_set: NULL argument");
    const char *mname = weft_version_mode_name(mode);
    if (!mname) return weft__err(err, WEFT_EINVAL, "weft_version_set: unknown mode %d", (int)mode);
    if (o->read_only)
        return weft__err(err, WEFT_EMODE, "this orchestrator is read-only (opened for queries)");
    weft_err e = check_name(name, err);
    if (e) return e;
    bool dev_name = strcmp(name, WEFT_DEFAULT_VERSION) == 0;
    if (dev_name != (mode == WEFT_VERSION_DEVELOPMENT))
        return weft__err(err, WEFT_EINVAL,
                         dev_name ? "version name '%s' is the development version's; give "
                                    "experiment and production versions another name"
                                  : "the development version is named '" WEFT_DEFAULT_VERSION
                                    "', not '%s'",
                         name);
    weft__orch_lock(o);
    bool promote = false;
    if ((e = check_mode(o, name, mode, &promote, err))) goto out;
    if (promote) {
        if ((e = weft__orch_begin(o, err))) goto out;
        if ((e = weft__store_version_promote(o->store, name, mname, err))) {
            weft__orch_abort(o, false);
            goto out;
        }
        if ((e = weft__orch_commit(o, err))) goto out;
    }
    e = weft__store_set_version(o->store, name, mname, err);
out:
    weft__orch_unlock(o);
    return e;
}

weft_err weft_versions_list(weft_orchestrator *o, weft_version_info **out, size_t *n,
                            char *err)
{
    if (!o || !out || !n) return weft__err(err, WEFT_EINVAL, "weft_versions_list: NULL argument");
    weft__orch_lock(o);
    weft_err e = weft__store_versions_list(o->store, out, n, err);
    weft__orch_unlock(o);
    return e;
}
