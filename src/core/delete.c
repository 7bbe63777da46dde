/* SPDX-License-Identifier: MIT */
/*
 * delete.c - deleting entities (weft_delete, weft_version_delete,
 * weft_clean): Taipy's rules on what goes with what, the refusal of
 * unfinished work (or, forced, its cancellation first), one transaction for
 * every row, and the data node files removed only after the commit.
 *
 * Why files last: a crash between the commit and the unlinks leaves files
 * that no data node names (harmless, swept by weft_clean()); the other
 * order could leave data nodes whose files are gone.
 */
#define _GNU_SOURCE /* asprintf */
#include "core/orchestrator_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What one deletion collects into the store's set (store.h, delete.c). */
typedef struct del_what {
    enum { DEL_ID, DEL_VERSION, DEL_ALL, DEL_OLDER } kind;
    const char *id;        /* DEL_ID: a job, submission, scenario or cycle; DEL_VERSION: a name */
    int64_t before_us;     /* DEL_OLDER */
} del_what;

/* Taipy's is_deletable: a cycle's primary scenario is deleted only with the
 * cycle's other scenarios. */
static weft_err check_primary(weft_orchestrator *o, const char *id, char *err)
{
    char *cycle = NULL;
    weft_err e = weft__store_del_primary_left(o->store, &cycle, err);
    if (!e && cycle)
        e = weft__err(err, WEFT_ESTATE,
                      "scenario %s is the primary scenario of cycle %s, which has other scenarios: "
                      "make another one primary first ('weft primary SCENARIO_ID') or delete the "
                      "cycle ('weft delete %s')",
                      id, cycle, cycle);
    free(cycle);
    return e;
}

static weft_err collect_id(weft_orchestrator *o, const char *id, char *err)
{
    if (strncmp(id, "JOB_", 4) == 0) return weft__store_del_job(o->store, id, err);
    if (strncmp(id, "SUBMISSION_", 11) == 0) return weft__store_del_submission(o->store, id, err);
    if (strncmp(id, "SCENARIO_", 9) == 0) {
        weft_err e = weft__store_del_scenario(o->store, id, err);
        return e ? e : check_primary(o, id, err);
    }
    /* a cycle goes with its scenarios (Taipy's _CycleManager hard delete) */
    if (strncmp(id, "CYCLE_", 6) == 0) return weft__store_del_cycle(o->store, id, err);
    return weft__err(err, WEFT_ENOTFOUND,
                     "no job, submission, scenario or cycle %s (ids start with JOB_, SUBMISSION_, "
                     "SCENARIO_ or CYCLE_; see 'weft jobs', 'weft submissions', 'weft scenarios', "
                     "'weft cycles')",
                     id);
}

static weft_err collect(weft_orchestrator *o, const del_what *w, char *err)
{
    weft_err e = weft__store_del_begin(o->store, err);
    if (e) return e;
    switch (w->kind) {
    case DEL_ID: return collect_id(o, w->id, err);
    case DEL_VERSION: return weft__store_del_version(o->store, w->id, err);
    case DEL_ALL: return weft__store_del_all(o->store, err);
    case DEL_OLDER: return weft__store_del_older(o->store, w->before_us, err);
    }
    return weft__err(err, WEFT_EINVAL, "unknown deletion");
}

/* Forced: cancels the unfinished submissions the deletion takes and waits
 * for them, without holding the lock (their loop may need it). */
static weft_err cancel_first(weft_orchestrator *o, const del_what *w, char *err)
{
    char **subs = NULL;
    size_t n = 0;
    weft__orch_lock(o);
    weft_err e = o->in_tx ? weft__err(err, WEFT_ESTATE, "weft_delete: called inside a step")
                          : weft__store_begin_read(o->store, err);
    if (!e) {
        if (!(e = collect(o, w, err))) e = weft__store_del_unfinished_subs(o->store, &subs, &n, err);
        weft__store_rollback(o->store); /* only read: nothing to keep */
    }
    weft__orch_unlock(o);
    for (size_t i = 0; !e && i < n; i++) {
        char cerr[WEFT_ERRBUF_SIZE] = "";
        weft_err c = weft_cancel(o, subs[i], cerr);
        if (c && c != WEFT_ESTATE) {
            e = weft__err(err, c, "cannot cancel %s before deleting it: %s", subs[i], cerr);
            break;
        }
        weft__log(&o->log, WEFT_LOG_INFO, "delete", "canceled %s to delete it", subs[i]);
        if ((c = weft_submission_wait(o, subs[i], WEFT_DELETE_FORCE_WAIT_MS, cerr)))
            e = weft__err(err, c, "submission %s did not stop: %s", subs[i], cerr);
    }
    weft_strv_free(subs, n);
    return e;
}

/* The refusal of a deletion that takes an unfinished job. */
static weft_err check_finished(weft_orchestrator *o, char *err)
{
    char *job = NULL, *sub = NULL;
    weft_job_status st = WEFT_JOB_SUBMITTED;
    weft_err e = weft__store_del_unfinished(o->store, &job, &sub, &st, err);
    if (!e && job)
        e = weft__err(err, WEFT_ESTATE,
                      "job %s (submission %s) is %s: wait for it, cancel it ('weft cancel %s') "
                      "or delete with --force",
                      job, sub, weft_job_status_name(st), sub);
    free(job);
    free(sub);
    return e;
}

/* Removes the files of deleted data nodes; a file already gone is fine. */
static size_t unlink_all(weft_orchestrator *o, char **paths, size_t n)
{
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (unlink(paths[i]) == 0)
            removed++;
        else if (errno != ENOENT)
            weft__log(&o->log, WEFT_LOG_WARN, "delete", "cannot remove %s: %s", paths[i],
                      strerror(errno));
    }
    return removed;
}

/* Removes the generated files under <storage>/data/ that no data node
 * names: what a crash between a deletion's commit and its unlinks left.
 * O(files) store lookups. */
static size_t sweep_orphans(weft_orchestrator *o)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/data", o->storage) < 0) return 0;
    DIR *d = opendir(dir);
    size_t removed = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *dot = strrchr(de->d_name, '.');
        if (strncmp(de->d_name, "DATANODE_", 9) != 0 || !dot) continue;
        char *id = strndup(de->d_name, (size_t)(dot - de->d_name));
        bool exists = true;
        weft__orch_lock(o);
        if (id) weft__store_dn_exists(o->store, id, &exists, NULL);
        weft__orch_unlock(o);
        char *path = NULL;
        if (!exists && asprintf(&path, "%s/%s", dir, de->d_name) >= 0) {
            char *one[] = {path};
            removed += unlink_all(o, one, 1);
            free(path);
        }
        free(id);
    }
    if (d) closedir(d);
    free(dir);
    return removed;
}

static weft_err delete_rows(weft_orchestrator *o, const del_what *w, weft_delete_counts *c,
                            char ***paths, size_t *npaths, char *err)
{
    weft__orch_lock(o);
    weft_err e = weft__orch_begin(o, err);
    if (!e) e = collect(o, w, err);
    if (!e) e = check_finished(o, err);
    if (!e)
        e = weft__store_del_apply(o->store, w->kind == DEL_VERSION ? w->id : NULL,
                                  w->kind == DEL_ALL, c, paths, npaths, err);
    if (e) {
        weft__orch_abort(o, false);
    } else if ((e = weft__orch_commit(o, err))) {
        weft_strv_free(*paths, *npaths);
        *paths = NULL;
        *npaths = 0;
    }
    weft__orch_unlock(o);
    return e;
}

/* WEFT_DELETE_CHECK: collect and check in a read transaction, roll back. */
static weft_err check_only(weft_orchestrator *o, const del_what *w, weft_delete_counts *c,
                           char *err)
{
    weft__orch_lock(o);
    weft_err e = o->in_tx ? weft__err(err, WEFT_ESTATE, "weft_delete: called inside a step")
                          : weft__store_begin_read(o->store, err);
    if (!e) {
        if (!(e = collect(o, w, err)) && !(e = check_finished(o, err)))
            e = weft__store_del_counts(o->store, c, err);
        weft__store_rollback(o->store);
    }
    weft__orch_unlock(o);
    return e;
}

static weft_err run_delete(weft_orchestrator *o, const del_what *w, unsigned flags,
                           weft_delete_counts *counts, char *err)
{
    weft_delete_counts c;
    memset(&c, 0, sizeof c);
    if (flags & WEFT_DELETE_CHECK) {
        weft_err e = check_only(o, w, &c, err);
        if (!e && counts) *counts = c;
        return e;
    }
    if (o->read_only)
        return weft__err(err, WEFT_EMODE,
                         "this orchestrator is read-only (opened for queries): open the store "
                         "read-write to delete");
    weft_err e = WEFT_OK;
    if ((flags & WEFT_DELETE_FORCE) && (e = cancel_first(o, w, err))) return e;
    char **paths = NULL;
    size_t npaths = 0;
    if ((e = delete_rows(o, w, &c, &paths, &npaths, err))) return e;
    c.files = unlink_all(o, paths, npaths);
    weft_strv_free(paths, npaths);
    if (w->kind == DEL_ALL || w->kind == DEL_OLDER) c.files += sweep_orphans(o);
    weft__log(&o->log, WEFT_LOG_DEBUG, "delete",
              "deleted %zu scenarios, %zu tasks, %zu data nodes, %zu submissions, %zu jobs, "
              "%zu files",
              c.scenarios, c.tasks, c.data_nodes, c.submissions, c.jobs, c.files);
    if (counts) *counts = c;
    return WEFT_OK;
}

weft_err weft_delete(weft_orchestrator *o, const char *id, unsigned flags,
                     weft_delete_counts *counts, char *err)
{
    if (!o || !id) return weft__err(err, WEFT_EINVAL, "weft_delete: NULL argument");
    del_what w = {.kind = DEL_ID, .id = id};
    return run_delete(o, &w, flags, counts, err);
}

weft_err weft_version_delete(weft_orchestrator *o, const char *name, unsigned flags,
                             weft_delete_counts *counts, char *err)
{
    if (!o || !name) return weft__err(err, WEFT_EINVAL, "weft_version_delete: NULL argument");
    del_what w = {.kind = DEL_VERSION, .id = name};
    return run_delete(o, &w, flags, counts, err);
}

weft_err weft_clean(weft_orchestrator *o, int64_t older_than_us, unsigned flags,
                    weft_delete_counts *counts, char *err)
{
    if (!o) return weft__err(err, WEFT_EINVAL, "weft_clean: NULL argument");
    if (older_than_us < 0)
        return weft__err(err, WEFT_EINVAL, "weft_clean: older_than_us must be 0 or more");
    del_what w = {.kind = older_than_us ? DEL_OLDER : DEL_ALL,
                  .before_us = weft__now_us() - older_than_us};
    /* Old work that is still unfinished is left alone, never canceled. */
    if (w.kind == DEL_OLDER) flags &= ~WEFT_DELETE_FORCE;
    return run_delete(o, &w, flags, counts, err);
}
