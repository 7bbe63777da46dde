/* SPDX-License-Identifier: MIT */
/*
 * faultvfs.c - a test hook in the manner of SQLite's own fault simulator:
 * a VFS that wraps the default one and fails the Nth write to the store's
 * files (xWrite, xSync or xTruncate of the database, its journal or its
 * write-ahead log) with an I/O error or "disk full", once or from then on.
 *
 * It is reachable only through weft__store_fault_arm(), an internal
 * function that tests and the fault-injection suite call: no environment
 * variable or configuration key turns it on, so production behaviour cannot
 * change.  Unarmed, it is not even registered.  Once armed, it stays the
 * default VFS of the process, passing everything through while disarmed
 * (a connection keeps the VFS it was opened with).  Counters are atomics:
 * SQLite calls it from whichever thread runs the store.
 */
#include "store/store.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

typedef struct ffile {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
} ffile;

static sqlite3_vfs shim, *real_vfs;
static atomic_long countdown;   /* writes left before the fault; 0: disarmed */
static atomic_long nwrites, ninjected;
static atomic_int fail_kind;
static atomic_bool persist, failing;

#define REAL(f) (((ffile *)(f))->real)

/* Counts one write; the SQLite error to return instead of doing it, or 0. */
static int fault(int ioerr)
{
    atomic_fetch_add(&nwrites, 1);
    if (atomic_load(&failing)) goto fail;
    long left = atomic_load(&countdown);
    if (left <= 0 || atomic_fetch_sub(&countdown, 1) != 1) return 0;
    if (atomic_load(&persist)) atomic_store(&failing, true);
fail:
    atomic_fetch_add(&ninjected, 1);
    return atomic_load(&fail_kind) == WEFT__FAULT_FULL ? SQLITE_FULL : ioerr;
}

static int f_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    f->pMethods = NULL;
    return rc;
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
    int rc = fault(SQLITE_IOERR_WRITE);
    return rc ? rc : REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fault(SQLITE_IOERR_TRUNCATE);
    return rc ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    int rc = fault(SQLITE_IOERR_FSYNC);
    return rc ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: the shared-memory methods WAL needs; no memory mapping (the
 * store never turns mmap_size on, and a fault must go through xWrite). */
static const sqlite3_io_methods methods = {
    .iVersion = 2, .xClose = f_close, .xRead = f_read, .xWrite = f_write,
    .xTruncate = f_truncate, .xSync = f_sync, .xFileSize = f_size, .xLock = f_lock,
    .xUnlock = f_unlock, .xCheckReservedLock = f_reserved, .xFileControl = f_control,
    .xSectorSize = f_sector, .xDeviceCharacteristics = f_devchar, .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock, .xShmBarrier = f_shm_barrier, .xShmUnmap = f_shm_unmap,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    ffile *ff = (ffile *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    memset(ff->real, 0, (size_t)real_vfs->szOsFile);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    f->pMethods = ff->real->pMethods ? &methods : NULL;
    return rc;
}

void weft__store_fault_arm(long nth, weft__fault_kind kind, bool persistent)
{
    if (!real_vfs) {
        real_vfs = sqlite3_vfs_find(NULL);
        shim = *real_vfs; /* its other methods (delete, access, time...) as they are */
        shim.zName = "weft-fault";
        shim.szOsFile = (int)sizeof(ffile) + real_vfs->szOsFile;
        shim.xOpen = f_open;
        shim.pNext = NULL;
        sqlite3_vfs_register(&shim, 1);
    }
    atomic_store(&failing, false);
    atomic_store(&nwrites, 0);
    atomic_store(&ninjected, 0);
    atomic_store(&fail_kind, (int)kind);
    atomic_store(&persist, persistent);
    atomic_store(&countdown, nth > 0 ? nth : 0);
}

void weft__store_fault_disarm(void)
{
    atomic_store(&countdown, 0);
    atomic_store(&failing, false);
}

long weft__store_fault_writes(void) { return atomic_load(&nwrites); }

long weft__store_fault_injected(void) { return atomic_load(&ninjected); }
