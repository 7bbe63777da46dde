/* SPDX-License-Identifier: MIT */
/*
 * store_file.c - the store's files seen as files, before SQLite is let
 * near them: a garbage or truncated weft.db is reported as corrupt (SQLite
 * itself would say "file is not a database" at the first query, or read
 * zeros past the end of a truncated file), and the -wal/-shm files are kept
 * at the store's permission bits.  Both run at every open: one stat and one
 * 100-byte read per file, nothing that grows with the store.
 */
#include "store/store_internal.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE 100
#define MAGIC "SQLite format 3"

static weft_err corrupt(const char *path, const char *why, char *err)
{
    return weft__err(err, WEFT_ESTORE, "%s is corrupt (%s): move it aside; weft will create a new "
                     "store", path, why);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Size of a side file ("-wal"), 0 when there is none. */
static off_t side_size(const char *path, const char *suffix)
{
    char side[4096];
    struct stat st;
    if ((size_t)snprintf(side, sizeof side, "%s%s", path, suffix) >= sizeof side) return 0;
    return stat(side, &st) == 0 ? st.st_size : 0;
}

weft_err weft__store_file_check(const char *path, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return WEFT_OK; /* none (created later), or SQLite says why it cannot open it */
    struct stat st;
    unsigned char h[HEADER_SIZE];
    ssize_t got = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0) got = pread(fd, h, sizeof h, 0);
    close(fd);
    if (st.st_size == 0) return WEFT_OK; /* an empty file is an empty database to SQLite */
    if (got != HEADER_SIZE || memcmp(h, MAGIC, sizeof MAGIC) != 0)
        return corrupt(path, "file is not a database", err);
    /* Page size at offset 16 (1 means 65536), size in pages at 28, valid
     * when the change counter (24) equals "version valid for" (92). */
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1) page = 65536;
    uint32_t npages = be32(h + 28);
    if (page < 512 || (page & (page - 1)) != 0)
        return corrupt(path, "file is not a database", err);
    if (be32(h + 24) != be32(h + 92) || npages == 0) return WEFT_OK; /* size not recorded */
    /* Pages newer than the file may wait in the write-ahead log. */
    if (side_size(path, "-wal") > 0) return WEFT_OK;
    long long want = (long long)npages * page;
    if ((long long)st.st_size < want) {
        char why[96];
        snprintf(why, sizeof why, "truncated: %lld of %lld bytes", (long long)st.st_size, want);
        return corrupt(path, why, err);
    }
    return WEFT_OK;
}

weft_err weft__store_side_modes(const char *path, char *err)
{
    struct stat db;
    if (stat(path, &db) != 0 || access(path, W_OK) != 0) return WEFT_OK;
    mode_t want = db.st_mode & 07777;
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char side[4096];
        struct stat st;
        if ((size_t)snprintf(side, sizeof side, "%s%s", path, suffixes[i]) >= sizeof side ||
            stat(side, &st) != 0 || (st.st_mode & 07777) == want)
            continue;
        if (chmod(side, want) != 0)
            return weft__err(err, WEFT_ESTORE,
                             "%s has mode %04o but the store %s has %04o, and it cannot be "
                             "changed: %s",
                             side, (unsigned)(st.st_mode & 07777), path, (unsigned)want,
                             strerror(errno));
    }
    return WEFT_OK;
}
