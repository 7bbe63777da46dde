/* SPDX-License-Identifier: MIT */
/*
 * wire.c - length-prefixed framing over stream fds with a maximum frame
 * size: how job specs go to a standalone worker and results come back (see
 * wire.h).  Writes use sendmsg(MSG_NOSIGNAL) so a dead peer is an EPIPE
 * error, not a SIGPIPE that would kill the orchestrator.
 */
#include "standalone/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static size_t wire_max(const weft__wire_in *in)
{
    return in->max ? in->max : WEFT__WIRE_MAX_DEFAULT;
}

void weft__wire_in_release(weft__wire_in *in)
{
    weft__buf_release(&in->buf);
    in->start = 0;
}

void weft__wire_out_release(weft__wire_out *out)
{
    weft__buf_release(&out->buf);
    out->off = 0;
}

/* Makes room for `want` more bytes after the unread ones, moving them to the
 * front first (cheap: usually zero or a few bytes are left over). */
static weft_err in_reserve(weft__wire_in *in, size_t want)
{
    size_t unread = weft__wire_in_pending(in);
    if (in->start > 0 && (unread == 0 || in->buf.len + want + 1 > in->buf.cap)) {
        memmove(in->buf.data, in->buf.data + in->start, unread);
        in->buf.len = unread;
        in->start = 0;
    }
    return weft__buf_grow(&in->buf, want);
}

/* One read(2) of at most the free space, at least 4 KiB. */
static ssize_t in_read(weft__wire_in *in, int fd, weft_err *e)
{
    *e = in_reserve(in, 4096);
    if (*e) return -1;
    size_t room = in->buf.cap - in->buf.len - 1; /* the buffer's NUL stays */
    ssize_t n;
    do {
        n = read(fd, in->buf.data + in->buf.len, room);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        in->buf.len += (size_t)n;
        in->buf.data[in->buf.len] = '\0';
    }
    return n;
}

weft_err weft__wire_fill(weft__wire_in *in, int fd, bool *eof, char *err)
{
    weft_err e;
    *eof = false;
    ssize_t n = in_read(in, fd, &e);
    if (n < 0 && e) return e;
    if (n == 0) *eof = true;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return WEFT_OK;
        if (errno == ECONNRESET) {
            *eof = true;
            return WEFT_OK;
        }
        return weft__err(err, WEFT_EIO, "read: %s", strerror(errno));
    }
    return WEFT_OK;
}

int weft__wire_next(weft__wire_in *in, weft__frame *f, char *err)
{
    size_t unread = weft__wire_in_pending(in);
    if (unread < WEFT__WIRE_HDR) return 0;
    const char *h = in->buf.data + in->start;
    uint32_t len, type;
    uint64_t id;
    memcpy(&len, h, 4);
    memcpy(&type, h + 4, 4);
    memcpy(&id, h + 8, 8);
    if (len > wire_max(in)) {
        weft__err(err, WEFT_ELIMIT, "frame of %u bytes exceeds the maximum of %zu", len,
                  wire_max(in));
        return -1;
    }
    if (unread < WEFT__WIRE_HDR + (size_t)len) {
        /* Grow now so that the next read can take the whole payload. */
        if (in_reserve(in, WEFT__WIRE_HDR + (size_t)len - unread) != WEFT_OK) {
            weft__err(err, WEFT_ENOMEM, "out of memory");
            return -1;
        }
        return 0;
    }
    f->type = type;
    f->id = id;
    f->data = h + WEFT__WIRE_HDR;
    f->len = len;
    in->start += WEFT__WIRE_HDR + (size_t)len;
    return 1;
}

weft_err weft__wire_recv(weft__wire_in *in, int fd, weft__frame *f, bool *eof, char *err)
{
    *eof = false;
    for (;;) {
        int r = weft__wire_next(in, f, err);
        if (r > 0) return WEFT_OK;
        if (r < 0) return WEFT_ELIMIT;
        weft_err e;
        ssize_t n = in_read(in, fd, &e);
        if (n < 0 && e) return weft__err(err, e, "out of memory");
        if (n < 0) return weft__err(err, WEFT_EIO, "read: %s", strerror(errno));
        if (n == 0) {
            if (weft__wire_in_pending(in) == 0) {
                *eof = true;
                return WEFT_OK;
            }
            return weft__err(err, WEFT_EIO, "end of file inside a frame");
        }
    }
}

static void put_hdr(char *h, uint32_t type, uint64_t id, size_t len)
{
    uint32_t l = (uint32_t)len;
    memcpy(h, &l, 4);
    memcpy(h + 4, &type, 4);
    memcpy(h + 8, &id, 8);
}

weft_err weft__wire_queue(weft__wire_out *out, uint32_t type, uint64_t id,
                          const void *data, size_t len)
{
    if (len > WEFT__WIRE_MAX_DEFAULT) return WEFT_ELIMIT;
    if (out->off > 0 && out->off == out->buf.len) {
        weft__buf_reset(&out->buf);
        out->off = 0;
    }
    char h[WEFT__WIRE_HDR];
    put_hdr(h, type, id, len);
    weft_err e = weft__buf_grow(&out->buf, WEFT__WIRE_HDR + len);
    if (e) return e;
    weft__buf_add(&out->buf, h, sizeof h);
    return weft__buf_add(&out->buf, data, len);
}

/* sendmsg with MSG_NOSIGNAL; plain writev when fd is not a socket. */
static ssize_t send_iov(int fd, struct iovec *iov, int niov)
{
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)niov;
    ssize_t n;
    do {
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK) {
        do {
            n = writev(fd, iov, niov);
        } while (n < 0 && errno == EINTR);
    }
    return n;
}

weft_err weft__wire_flush(weft__wire_out *out, int fd, bool *done, char *err)
{
    while (out->off < out->buf.len) {
        struct iovec iov = {out->buf.data + out->off, out->buf.len - out->off};
        ssize_t n = send_iov(fd, &iov, 1);
        if (n < 0) {
            *done = false;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return WEFT_OK;
            return weft__err(err, WEFT_EIO, "write: %s", strerror(errno));
        }
        out->off += (size_t)n;
    }
    weft__buf_reset(&out->buf);
    out->off = 0;
    *done = true;
    return WEFT_OK;
}

weft_err weft__wire_send(int fd, uint32_t type, uint64_t id, const void *data, size_t len,
                         char *err)
{
    if (len > WEFT__WIRE_MAX_DEFAULT)
        return weft__err(err, WEFT_ELIMIT, "frame of %zu bytes exceeds the maximum", len);
    char h[WEFT__WIRE_HDR];
    put_hdr(h, type, id, len);
    struct iovec iov[2] = {{h, sizeof h}, {(void *)data, len}};
    int niov = len ? 2 : 1, i = 0;
    while (i < niov) {
        ssize_t n = send_iov(fd, iov + i, niov - i);
        if (n < 0) return weft__err(err, WEFT_EIO, "write: %s", strerror(errno));
        while (i < niov && (size_t)n >= iov[i].iov_len) {
            n -= (ssize_t)iov[i].iov_len;
            i++;
        }
        if (i < niov) {
            iov[i].iov_base = (char *)iov[i].iov_base + n;
            iov[i].iov_len -= (size_t)n;
        }
    }
    return WEFT_OK;
}
