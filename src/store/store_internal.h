/* SPDX-License-Identifier: MIT */
/*
 * store_internal.h - what the files of src/store share and nothing above
 * them uses: the checks made on the store's files before SQLite writes to
 * them (store_file.c) and the connection of a store handle.
 */
#ifndef WEFT_STORE_INTERNAL_H
#define WEFT_STORE_INTERNAL_H

#include "store/store.h"

#include <sqlite3.h>

/*
 * Looks at the file at `path` as bytes, before SQLite opens it: none or an
 * empty one is fine (a new store); anything else must start with SQLite's
 * header and, when no write-ahead log holds newer pages, be as long as the
 * header says.  WEFT_ESTORE, with "PATH is corrupt (...): move it aside;
 * weft will create a new store", otherwise.  O(1): one stat, one 100-byte
 * read.
 */
weft_err weft__store_file_check(const char *path, char *err);

/*
 * Gives the store's -wal and -shm files the store file's permission bits
 * when they differ (left behind by a process that ran while the store was
 * read-only: SQLite creates them with the store's mode of that moment, and
 * they would keep the store read-only after its own mode is fixed).  Only
 * when the store itself is writable; WEFT_ESTORE when one cannot be changed.
 */
weft_err weft__store_side_modes(const char *path, char *err);

/* The connection of a store (borrowed, valid until weft__store_close()). */
sqlite3 *weft__store_sqlite(weft__store *s);
/* The path the store was opened with (borrowed, same life). */
const char *weft__store_path(const weft__store *s);

#endif
