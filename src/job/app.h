/* SPDX-License-Identifier: MIT */
/*
 * app.h - the application a job runs in (app.c): the checked config, the
 * folder its task modules and relative paths are resolved against, the
 * shared objects loaded so far, and the in-memory data nodes of development
 * mode.  The lowest file of job/: it calls no other file of the folder, and
 * functions.c, datanode.c, ctx.c and runner.c all build on it.
 */
#ifndef WEFT_JOB_APP_H
#define WEFT_JOB_APP_H

#include "weft.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct weft__app weft__app;

/* `cfg` is borrowed for the app's lifetime.  Caller frees with weft__app_free(). */
weft_err weft__app_new(const weft_config *cfg, const char *application_path,
                       weft__app **out, char *err);
void weft__app_free(weft__app *app);
const weft_config *weft__app_config(const weft__app *app);
/* Absolute application path (borrowed). */
const char *weft__app_path(const weft__app *app);

/* The app's cache of loaded shared objects.  Opens `path` with dlopen()
 * once per app (RTLD_NOW | RTLD_LOCAL) and returns the handle (borrowed,
 * valid until weft__app_free()).  WEFT_EIO with dlerror().  Thread-safe. */
weft_err weft__app_module(weft__app *app, const char *path, void **handle, char *err);

/* The in-memory data nodes of development mode, by instance id.  get:
 * *found false when nothing was put; *data is a NUL-terminated copy the
 * caller frees.  put copies.  Thread-safe. */
weft_err weft__app_mem_get(weft__app *app, const char *id, char **data, size_t *len, bool *found);
weft_err weft__app_mem_put(weft__app *app, const char *id, const void *data, size_t len);

#endif
