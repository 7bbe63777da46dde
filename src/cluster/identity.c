/* SPDX-License-Identifier: MIT */
/*
 * identity.c - an orchestrator's own reply queue on the broker.  Several
 * orchestrators (two applications, or two storage folders of one
 * application) may share a job queue and its workers; each names its own
 * reply queue in every job message's reply_to, so a worker's statuses reach
 * the orchestrator that dispatched the job and no other (on one shared
 * queue, a status taken by the wrong orchestrator was dropped there as
 * unknown and lost to the right one).  The name carries a random id kept in
 * the storage folder, <storage>/cluster-id, so the next orchestrator that
 * opens the folder consumes the statuses that waited for it while it was
 * down.  The file is written once (O_EXCL) and read at every start: one
 * small read, nothing that grows.
 */
#define _GNU_SOURCE /* asprintf */
#include "cluster/exec_cluster.h"
#include "cluster/protocol.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define ID_HEX 32 /* 128 random bits: two folders never draw the same id */
#define ID_FILE "cluster-id"

static bool id_valid(const char *s, size_t n)
{
    if (n != ID_HEX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Reads the id of `path` into id (ID_HEX + 1).  WEFT_ENOTFOUND when the
 * file does not exist yet. */
static weft_err id_read(const char *path, char *id, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return WEFT_ENOTFOUND;
        return weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    }
    char buf[ID_HEX + 2];
    ssize_t r;
    do r = read(fd, buf, sizeof buf);
    while (r < 0 && errno == EINTR);
    close(fd);
    size_t n = r > 0 ? (size_t)r : 0;
    while (n && buf[n - 1] == '\n') n--;
    if (!id_valid(buf, n))
        return weft__err(err, WEFT_EIO, "%s is not an id of %d hex digits: delete it (this "
                         "folder then gets a new reply queue; statuses waiting in the old one "
                         "are lost to it)", path, ID_HEX);
    memcpy(id, buf, ID_HEX);
    id[ID_HEX] = '\0';
    return WEFT_OK;
}

/* Creates `path` with a new id; WEFT_EEXIST if another process did first. */
static weft_err id_create(const char *path, char *err)
{
    unsigned char b[ID_HEX / 2];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno != EINTR)
            return weft__err(err, WEFT_EIO, "getrandom: %s", strerror(errno));
        if (r > 0) got += (size_t)r;
    }
    char text[ID_HEX + 2];
    for (size_t i = 0; i < sizeof b; i++) snprintf(text + 2 * i, 3, "%02x", b[i]);
    text[ID_HEX] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return WEFT_EEXIST;
        return weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    }
    /* fsync: an id lost in a crash would strand the statuses of the jobs
     * dispatched under it. */
    bool ok = write(fd, text, ID_HEX + 1) == ID_HEX + 1 && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok) {
        unlink(path);
        return weft__err(err, WEFT_EIO, "%s: %s", path, strerror(saved));
    }
    return WEFT_OK;
}

weft_err weft__cluster_reply_queue(const char *storage_dir, const char *queue, char **out,
                                   char *err)
{
    *out = NULL;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", storage_dir, ID_FILE) < 0)
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    char id[ID_HEX + 1];
    weft_err e = id_read(path, id, err);
    if (e == WEFT_ENOTFOUND) {
        e = id_create(path, err);
        if (!e || e == WEFT_EEXIST) e = id_read(path, id, err);
    }
    free(path);
    if (e) return e;
    char sfx[sizeof "status." + ID_HEX];
    snprintf(sfx, sizeof sfx, "status.%s", id);
    if (!(*out = weft__cluster_name(queue, sfx)))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}
