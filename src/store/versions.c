/* SPDX-License-Identifier: MIT */
/*
 * versions.c - the versions table of the store: a version's mode, changing
 * it, and the list of versions with the number of entities each one tagged
 * (`weft versions`).  The tagging itself is done by store.c's inserts.
 */
#include "store/store_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static weft_err sql_err(weft__store *s, char *err, const char *what)
{
    return weft__err(err, WEFT_ESTORE, "%s: %s: %s", weft__store_path(s), what,
                     sqlite3_errmsg(weft__store_sqlite(s)));
}

weft_err weft__store_version_mode(weft__store *s, const char *name, char **mode, char *err)
{
    *mode = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(weft__store_sqlite(s), "SELECT mode FROM versions WHERE name = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot read versions");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    if (rc == SQLITE_ROW) {
        if (!(*mode = strdup((const char *)sqlite3_column_text(st, 0))))
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = weft__err(err, WEFT_ENOTFOUND, "no version %s (see 'weft versions')", name);
    } else {
        e = sql_err(s, err, "cannot read versions");
    }
    sqlite3_finalize(st);
    return e;
}

weft_err weft__store_version_promote(weft__store *s, const char *name, const char *mode,
                                     char *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(weft__store_sqlite(s), "UPDATE versions SET mode = ?2 WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot change a version");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mode, -1, SQLITE_STATIC);
    weft_err e = sqlite3_step(st) == SQLITE_DONE ? WEFT_OK : sql_err(s, err, "cannot change a version");
    sqlite3_finalize(st);
    return e;
}

static weft_version_mode mode_of(const char *text)
{
    if (text && strcmp(text, "experiment") == 0) return WEFT_VERSION_EXPERIMENT;
    if (text && strcmp(text, "production") == 0) return WEFT_VERSION_PRODUCTION;
    return WEFT_VERSION_DEVELOPMENT;
}

void weft_version_list_free(weft_version_info *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

weft_err weft__store_versions_list(weft__store *s, weft_version_info **out, size_t *n,
                                   char *err)
{
    /* One pass over each table (the version indexes of scenarios,
     * submissions and jobs; tasks and data nodes are read whole). */
    static const char sql[] =
        "SELECT v.name, v.mode, v.created_us, ifnull(c.n, 0) FROM versions v LEFT JOIN"
        " (SELECT version, sum(n) AS n FROM ("
        "   SELECT version, count(*) AS n FROM scenarios GROUP BY version UNION ALL"
        "   SELECT version, count(*) FROM tasks GROUP BY version UNION ALL"
        "   SELECT version, count(*) FROM data_nodes GROUP BY version UNION ALL"
        "   SELECT version, count(*) FROM submissions GROUP BY version UNION ALL"
        "   SELECT version, count(*) FROM jobs GROUP BY version)"
        "  GROUP BY version) c ON c.version = v.name"
        " ORDER BY v.created_us, v.name";
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(weft__store_sqlite(s), sql, -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot list versions");
    weft_version_info *v = NULL;
    size_t len = 0, cap = 0;
    weft_err e = WEFT_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (WEFT__GROW(v, len + 1, cap)) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        weft_version_info *x = &v[len];
        memset(x, 0, sizeof *x);
        if (!(x->name = strdup((const char *)sqlite3_column_text(st, 0)))) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        len++;
        x->mode = mode_of((const char *)sqlite3_column_text(st, 1));
        x->created_us = sqlite3_column_int64(st, 2);
        x->nentities = (size_t)sqlite3_column_int64(st, 3);
    }
    if (!e && rc != SQLITE_DONE) e = sql_err(s, err, "cannot list versions");
    sqlite3_finalize(st);
    if (e) {
        weft_version_list_free(v, len);
        return e;
    }
    *out = v;
    *n = len;
    return WEFT_OK;
}
