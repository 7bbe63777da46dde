/* SPDX-License-Identifier: MIT */
/*
 * check.c - weft_store_check(): the health of a storage folder's store, for
 * `weft check --store`.  It opens the store read-only (so a store that
 * cannot be opened is reported as such: corrupt, foreign, too new), asks
 * the storage folder's lock whether an orchestrator owns it (a RUNNING job
 * is a problem only without one), and runs the store's checks.
 */
#include "core/orchestrator_internal.h"

weft_err weft_store_check(const weft_config *cfg, const weft_orchestrator_opts *opts,
                          char ***problems, size_t *nproblems, char *err)
{
    if (!cfg || !problems || !nproblems)
        return weft__err(err, WEFT_EINVAL, "weft_store_check: NULL argument");
    weft_orchestrator_opts ro = opts ? *opts : (weft_orchestrator_opts){0};
    ro.read_only = true;
    weft_orchestrator *o = NULL;
    weft_err e = weft_orchestrator_open(cfg, &ro, &o, err);
    if (e) return e;
    weft__orch_lock(o);
    e = weft__store_check(o->store, weft__storage_in_use(o), problems, nproblems, err);
    weft__orch_unlock(o);
    weft_orchestrator_close(o);
    return e;
}
