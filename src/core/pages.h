/* SPDX-License-Identifier: MIT */
/*
 * pages.h - the store of an orchestrator, lent to a reader above core (the
 * web view) for the page queries of store/store.h, under the orchestrator's
 * lock: one SQLite connection serves every thread of the handle, one call at
 * a time.
 */
#ifndef WEFT_CORE_PAGES_H
#define WEFT_CORE_PAGES_H

#include "store/store.h"
#include "weft.h"

/* Calls fn(store, ud, err) with o's lock held and returns what it returns.
 * fn must not keep the store pointer nor call back into `o`. */
weft_err weft__orch_query(weft_orchestrator *o, weft_err (*fn)(weft__store *s, void *ud, char *err),
                          void *ud, char *err);

/* The absolute storage folder of `o` (borrowed, valid until it is closed). */
const char *weft__orch_storage(const weft_orchestrator *o);

#endif
