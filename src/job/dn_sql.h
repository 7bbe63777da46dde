/* SPDX-License-Identifier: MIT */
/*
 * dn_sql.h - joins datanode.c (SQLite, and the dispatch by storage type)
 * and dn_pg.c (PostgreSQL through libpq) for the two SQL storage types:
 * sql_table (a table seen as a JSON array of row objects) and sql (rows
 * read by `read_query`, written by the statements of `write_query`).
 * datanode.c calls the weft__pg_* functions when the node's db_engine is
 * "postgresql"; dn_pg.c uses the row helpers of datanode.c, so both
 * engines read and write the same JSON shape.
 */
#ifndef WEFT_DN_SQL_H
#define WEFT_DN_SQL_H

#include "job/app.h"
#include "weft.h"

#include <jansson.h>
#include <stdbool.h>

/* datanode.c: the columns of `rows` into the array `cols`: every key, in
 * order of first appearance.  WEFT_EDATA when `rows` is not an array of
 * objects. */
weft_err weft__sql_columns(const char *config_id, const json_t *rows, json_t *cols, char *err);

/* datanode.c: the statements of a sql node's `write_query` (a string, or a
 * list of strings run in order): the i-th (i < *n) into stmts[i], borrowed
 * from the config.  WEFT_EDATA when the node has none. */
weft_err weft__sql_write_statements(const weft__app *app, const char *config_id, const char **stmts,
                                    size_t max, size_t *n, char *err);

/* dn_pg.c: whether the node is on PostgreSQL (db_engine = "postgresql"). */
bool weft__pg_engine(const weft__app *app, const char *config_id);

/* dn_pg.c: the rows of `query`, or of the node's table_name when `query` is
 * NULL, as a JSON array of objects (caller json_decref()s *out). */
weft_err weft__pg_read(const weft__app *app, const char *config_id, const char *query, json_t **out,
                       char *err);

/* dn_pg.c: replaces the content of the node's table by `rows` in one
 * transaction (DELETE then INSERT; CREATE TABLE with columns typed from
 * the values when it does not exist).  Nothing changes on error. */
weft_err weft__pg_write_table(const weft__app *app, const char *config_id, const json_t *rows,
                              char *err);

/* dn_pg.c: runs the node's write_query statements in one transaction: a
 * statement with parameters once per row ($k bound to the k-th column),
 * one without once.  Nothing changes on error. */
weft_err weft__pg_write_query(const weft__app *app, const char *config_id, const json_t *rows,
                              char *err);

/* dn_pg.c: 1 when the node's table exists, 0 when the server says it does
 * not, -1 when that cannot be known (no connection: reading says why). */
int weft__pg_has_table(const weft__app *app, const char *config_id);

#endif
