/* SPDX-License-Identifier: MIT */
/*
 * app.c - the application context of a job (see app.h): the config and
 * the absolute application path, the cache of dlopen()ed task modules, and
 * the in-memory data nodes of development mode.  One mutex guards both
 * caches, since jobs of the development executor may run on several
 * threads; lookups are linear, as an application has a handful of modules
 * and development mode few in-memory nodes.
 */
#include "job/app.h"

#include "util/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct app_module {
    char *path;
    void *handle;
} app_module;

typedef struct app_mem {
    char *id;
    char *data;
    size_t len;
} app_mem;

struct weft__app {
    const weft_config *cfg;
    char *path;
    pthread_mutex_t lock; /* guards mods and mems */
    app_module *mods;
    size_t nmods, capmods;
    app_mem *mems;
    size_t nmems, capmems;
};

weft_err weft__app_new(const weft_config *cfg, const char *application_path, weft__app **out, char *err)
{
    if (!cfg) return weft__err(err, WEFT_EINVAL, "no configuration");
    if (!application_path) application_path = weft_config_application_path(cfg);
    if (!application_path || !*application_path) application_path = ".";
    weft__app *app = calloc(1, sizeof *app);
    if (!app) return weft__err(err, WEFT_ENOMEM, "out of memory");
    app->cfg = cfg;
    if (!(app->path = realpath(application_path, NULL))) {
        weft_err e = errno == ENOMEM ? WEFT_ENOMEM : WEFT_ENOTFOUND;
        weft__err(err, e, "application path %s: %s", application_path, strerror(errno));
        free(app);
        return e;
    }
    pthread_mutex_init(&app->lock, NULL);
    *out = app;
    return WEFT_OK;
}

void weft__app_free(weft__app *app)
{
    if (!app) return;
    for (size_t i = 0; i < app->nmods; i++) {
        dlclose(app->mods[i].handle);
        free(app->mods[i].path);
    }
    for (size_t i = 0; i < app->nmems; i++) {
        free(app->mems[i].id);
        free(app->mems[i].data);
    }
    free(app->mods);
    free(app->mems);
    free(app->path);
    pthread_mutex_destroy(&app->lock);
    free(app);
}

const weft_config *weft__app_config(const weft__app *app) { return app->cfg; }
const char *weft__app_path(const weft__app *app) { return app->path; }

weft_err weft__app_module(weft__app *app, const char *path, void **handle, char *err)
{
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&app->lock);
    for (size_t i = 0; i < app->nmods; i++) {
        if (strcmp(app->mods[i].path, path) == 0) {
            *handle = app->mods[i].handle;
            goto done;
        }
    }
    char *p = NULL;
    if (WEFT__GROW(app->mods, app->nmods + 1, app->capmods) || !(p = strdup(path))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *d = dlerror();
        e = weft__err(err, WEFT_EIO, "cannot load %s: %s", path, d ? d : "unknown error");
        free(p);
        goto done;
    }
    app->mods[app->nmods].path = p;
    app->mods[app->nmods].handle = h;
    app->nmods++;
    *handle = h;
done:
    pthread_mutex_unlock(&app->lock);
    return e;
}

weft_err weft__app_mem_get(weft__app *app, const char *id, char **data, size_t *len, bool *found)
{
    weft_err e = WEFT_OK;
    *found = false;
    pthread_mutex_lock(&app->lock);
    for (size_t i = 0; i < app->nmems; i++) {
        if (strcmp(app->mems[i].id, id) == 0) {
            char *d = weft__strndup(app->mems[i].data, app->mems[i].len);
            if (!d) {
                e = WEFT_ENOMEM;
                break;
            }
            *data = d;
            *len = app->mems[i].len;
            *found = true;
            break;
        }
    }
    pthread_mutex_unlock(&app->lock);
    return e;
}

weft_err weft__app_mem_put(weft__app *app, const char *id, const void *data, size_t len)
{
    char *d = weft__strndup(data, len);
    if (!d) return WEFT_ENOMEM;
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&app->lock);
    for (size_t i = 0; i < app->nmems; i++) {
        if (strcmp(app->mems[i].id, id) == 0) {
            free(app->mems[i].data);
            app->mems[i].data = d;
            app->mems[i].len = len;
            d = NULL;
            goto done;
        }
    }
    char *idc = NULL;
    if (WEFT__GROW(app->mems, app->nmems + 1, app->capmems) || !(idc = strdup(id))) {
        e = WEFT_ENOMEM;
        goto done;
    }
    app->mems[app->nmems++] = (app_mem){idc, d, len};
    d = NULL;
done:
    pthread_mutex_unlock(&app->lock);
    free(d);
    return e;
}
