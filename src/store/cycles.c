/* SPDX-License-Identifier: MIT */
/*
 * cycles.c - the store's side of Taipy's cycles (store.h, "cycles"): the
 * cycles table, which cycle a scenario belongs to and whether it is the
 * cycle's primary scenario, and the listing `weft cycles` prints.
 *
 * These statements run once per scenario created or per listing, never per
 * job, so they are prepared on each call instead of joining store.c's cache:
 * a prepare costs tens of microseconds, nothing next to the commit around it.
 * Every lookup goes through an index (cycles_period, scenarios_cycle).
 */
#include "store/store_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static weft_err prep(weft__store *s, const char *sql, sqlite3_stmt **st, char *err)
{
    sqlite3 *db = weft__store_sqlite(s);
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return weft__err(err, WEFT_ESTORE, "store %s: cannot prepare a cycle query: %s",
                         weft__store_path(s), sqlite3_errmsg(db));
    return WEFT_OK;
}

static void bind(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static char *text(sqlite3_stmt *st, int i, bool *oom)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *c = strdup(t);
    if (!c) *oom = true;
    return c;
}

static weft_err fail_step(weft__store *s, const char *what, char *err)
{
    return weft__err(err, WEFT_ESTORE, "store %s: %s: %s", weft__store_path(s), what,
                     sqlite3_errmsg(weft__store_sqlite(s)));
}

/* Runs a statement that returns no row and finalizes it. */
static weft_err run_once(weft__store *s, sqlite3_stmt *st, const char *what, char *err)
{
    int rc = sqlite3_step(st);
    weft_err e = rc == SQLITE_DONE ? WEFT_OK : fail_step(s, what, err);
    sqlite3_finalize(st);
    return e;
}

void weft__store_cycle_release(weft__store_cycle *c)
{
    free(c->id);
    free(c->frequency);
    free(c->name);
    free(c->start_date);
    free(c->end_date);
    free(c->creation_date);
    memset(c, 0, sizeof *c);
}

#define CYCLE_COLS "id, frequency, name, start_date, end_date, creation_date"

static bool read_cycle(sqlite3_stmt *st, int col, weft__store_cycle *c)
{
    bool oom = false;
    c->id = text(st, col, &oom);
    c->frequency = text(st, col + 1, &oom);
    c->name = text(st, col + 2, &oom);
    c->start_date = text(st, col + 3, &oom);
    c->end_date = text(st, col + 4, &oom);
    c->creation_date = text(st, col + 5, &oom);
    return !oom;
}

weft_err weft__store_cycle_find(weft__store *s, const char *frequency, const char *start_date,
                                weft__store_cycle *out, char *err)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    weft_err e = prep(s, "SELECT " CYCLE_COLS " FROM cycles WHERE frequency = ?1 AND start_date = ?2",
                      &st, err);
    if (e) return e;
    bind(st, 1, frequency);
    bind(st, 2, start_date);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = read_cycle(st, 0, out) ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "out of memory");
    else if (rc == SQLITE_DONE)
        e = weft__err(err, WEFT_ENOTFOUND, "no %s cycle starting %s", frequency, start_date);
    else
        e = fail_step(s, "cannot read a cycle", err);
    sqlite3_finalize(st);
    if (e) weft__store_cycle_release(out);
    return e;
}

weft_err weft__store_cycle_insert(weft__store *s, const weft__store_cycle *c, int64_t at_us,
                                  char *err)
{
    sqlite3_stmt *st;
    weft_err e = prep(s, "INSERT INTO cycles(" CYCLE_COLS ", created_us)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st, err);
    if (e) return e;
    bind(st, 1, c->id);
    bind(st, 2, c->frequency);
    bind(st, 3, c->name);
    bind(st, 4, c->start_date);
    bind(st, 5, c->end_date);
    bind(st, 6, c->creation_date);
    sqlite3_bind_int64(st, 7, at_us);
    return run_once(s, st, "cannot store a cycle", err);
}

weft_err weft__store_scenario_attach(weft__store *s, const char *scenario_id, const char *cycle_id,
                                     const char *creation_date, char *err)
{
    sqlite3_stmt *st;
    /* Taipy: the first scenario of a cycle is its primary one */
    weft_err e = prep(s, "UPDATE scenarios SET cycle_id = ?2, creation_date = ?3,"
                         " is_primary = ?2 IS NOT NULL AND NOT EXISTS("
                         "  SELECT 1 FROM scenarios WHERE cycle_id = ?2 AND id <> ?1)"
                         " WHERE id = ?1", &st, err);
    if (e) return e;
    bind(st, 1, scenario_id);
    bind(st, 2, cycle_id);
    bind(st, 3, creation_date);
    return run_once(s, st, "cannot attach a scenario to its cycle", err);
}

weft_err weft__store_scenario_cycle(weft__store *s, const char *scenario_id, char **cycle_id,
                                    bool *is_primary, char *err)
{
    sqlite3_stmt *st;
    *cycle_id = NULL;
    if (is_primary) *is_primary = false;
    weft_err e = prep(s, "SELECT cycle_id, is_primary FROM scenarios WHERE id = ?1", &st, err);
    if (e) return e;
    bind(st, 1, scenario_id);
    int rc = sqlite3_step(st);
    bool oom = false;
    if (rc == SQLITE_ROW) {
        *cycle_id = text(st, 0, &oom);
        if (is_primary) *is_primary = sqlite3_column_int(st, 1) != 0;
        if (oom) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = weft__err(err, WEFT_ENOTFOUND, "no scenario %s", scenario_id);
    } else {
        e = fail_step(s, "cannot read a scenario", err);
    }
    sqlite3_finalize(st);
    return e;
}

weft_err weft__store_set_primary(weft__store *s, const char *scenario_id, const char *cycle_id,
                                 char *err)
{
    sqlite3_stmt *st;
    weft_err e = prep(s, "UPDATE scenarios SET is_primary = (id = ?1) WHERE cycle_id = ?2"
                         " AND (is_primary OR id = ?1)", &st, err);
    if (e) return e;
    bind(st, 1, scenario_id);
    bind(st, 2, cycle_id);
    return run_once(s, st, "cannot change the primary scenario", err);
}

/* Appends the row's scenario to c (the rows of one cycle are consecutive
 * in the listing's order). */
static weft_err add_scenario(weft_cycle_info *c, sqlite3_stmt *st, size_t *cap)
{
    if (WEFT__GROW(c->scenarios, c->nscenarios + 1, *cap)) return WEFT_ENOMEM;
    weft_cycle_scenario *sc = &c->scenarios[c->nscenarios++];
    bool oom = false;
    sc->id = text(st, 6, &oom);
    sc->config_id = text(st, 7, &oom);
    sc->is_primary = sqlite3_column_int(st, 8) != 0;
    sc->creation_date = text(st, 9, &oom);
    return oom ? WEFT_ENOMEM : WEFT_OK;
}

void weft_cycle_info_free(weft_cycle_info *c)
{
    if (!c) return;
    free(c->id);
    free(c->frequency);
    free(c->name);
    free(c->start_date);
    free(c->end_date);
    free(c->creation_date);
    for (size_t i = 0; i < c->nscenarios; i++) {
        free(c->scenarios[i].id);
        free(c->scenarios[i].config_id);
        free(c->scenarios[i].creation_date);
    }
    free(c->scenarios);
    free(c);
}

void weft_cycle_list_free(weft_cycle_info **cycles, size_t n)
{
    for (size_t i = 0; cycles && i < n; i++) weft_cycle_info_free(cycles[i]);
    free(cycles);
}

/* A new weft_cycle_info from the cycle columns of the row. */
static weft_cycle_info *new_info(sqlite3_stmt *st)
{
    weft_cycle_info *c = calloc(1, sizeof *c);
    weft__store_cycle row = {0};
    if (!c) return NULL;
    if (!read_cycle(st, 0, &row)) {
        weft__store_cycle_release(&row);
        free(c);
        return NULL;
    }
    c->id = row.id;
    c->frequency = row.frequency;
    c->name = row.name;
    c->start_date = row.start_date;
    c->end_date = row.end_date;
    c->creation_date = row.creation_date;
    return c;
}

weft_err weft__store_cycles(weft__store *s, weft_cycle_info ***out, size_t *n, char *err)
{
    sqlite3_stmt *st;
    weft_cycle_info **v = NULL;
    size_t nv = 0, capv = 0, caps = 0;
    *out = NULL;
    *n = 0;
    weft_err e = prep(s, "SELECT c.id, c.frequency, c.name, c.start_date, c.end_date,"
                         " c.creation_date, s.id, s.config_id, s.is_primary, s.creation_date"
                         " FROM cycles c LEFT JOIN scenarios s ON s.cycle_id = c.id"
                         " ORDER BY c.start_date, c.frequency, s.seq", &st, err);
    if (e) return e;
    int rc;
    while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!nv || strcmp(v[nv - 1]->id, id) != 0) {
            if (WEFT__GROW(v, nv + 1, capv) || !(v[nv] = new_info(st))) {
                e = WEFT_ENOMEM;
                break;
            }
            nv++;
            caps = 0;
        }
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) e = add_scenario(v[nv - 1], st, &caps);
    }
    if (!e && rc != SQLITE_DONE) e = fail_step(s, "cannot list cycles", err);
    else if (e == WEFT_ENOMEM) weft__err(err, e, "out of memory");
    sqlite3_finalize(st);
    if (e) {
        weft_cycle_list_free(v, nv);
        return e;
    }
    *out = v;
    *n = nv;
    return WEFT_OK;
}
