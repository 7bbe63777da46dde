/* SPDX-License-Identifier: MIT */
/*
 * executor.c - what every executor shares (see executor.h): the allocation
 * of an executor with its common header (ops, report queue, application)
 * filled in, so the three constructors differ only in their own state.
 */
#include "exec/executor.h"

#include <stdlib.h>

void *weft__executor_alloc(size_t size, const weft__executor_ops *ops, weft__app *app,
                           weft__reports *reports, char *err)
{
    weft__executor *ex = calloc(1, size);
    if (!ex) {
        weft__err(err, WEFT_ENOMEM, "out of memory");
        return NULL;
    }
    ex->ops = ops;
    ex->reports = reports;
    ex->app = app;
    return ex;
}
