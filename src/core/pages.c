/* SPDX-License-Identifier: MIT */
/*
 * pages.c - lends an orchestrator's store to the web view's page queries
 * (pages.h), under the lock that serializes every use of its connection.
 */
#include "core/orchestrator_internal.h"
#include "core/pages.h"

weft_err weft__orch_query(weft_orchestrator *o, weft_err (*fn)(weft__store *s, void *ud, char *err),
                          void *ud, char *err)
{
    if (!o || !fn) return weft__err(err, WEFT_EINVAL, "weft__orch_query: NULL argument");
    weft__orch_lock(o);
    weft_err e = fn(o->store, ud, err);
    weft__orch_unlock(o);
    return e;
}

const char *weft__orch_storage(const weft_orchestrator *o)
{
    return o->storage;
}
