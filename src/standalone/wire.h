/* SPDX-License-Identifier: MIT */
/*
 * wire.h - length-prefixed frames over a stream fd (a socketpair between the
 * standalone pool and a worker process).
 *
 * A frame is a 16-byte header (payload length, a type, a 64-bit id, all in
 * host byte order since both ends are forks of one program) followed by the
 * payload.  A reader refuses a frame longer than its maximum, so a confused
 * or hostile peer cannot make the other side allocate without bound.
 *
 * Two styles share the buffers: blocking (the worker: weft__wire_recv() and
 * weft__wire_send() loop until done) and non-blocking (the pool's poll loop:
 * weft__wire_fill() reads what is there, weft__wire_next() pops complete
 * frames, weft__wire_flush() writes what the socket takes).
 */
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT__WIRE_HDR 16
#define WEFT__WIRE_MAX_DEFAULT (64u * 1024 * 1024) /* largest payload accepted */

typedef struct weft__frame {
    uint32_t type;
    uint64_t id;
    const char *data; /* borrowed from the reader, valid until its next call */
    size_t len;
} weft__frame;

/* Incoming bytes; `max` is the largest payload accepted (0: the default). */
typedef struct weft__wire_in {
    weft__buf buf; /* unread bytes are buf.data[start, buf.len) */
    size_t start;
    size_t max;
} weft__wire_in;
#define WEFT__WIRE_IN_INIT {WEFT_BUF_INIT, 0, 0}

/* Bytes read and not yet popped as frames. */
static inline size_t weft__wire_in_pending(const weft__wire_in *in)
{
    return in->buf.len - in->start;
}

/* Outgoing bytes not yet written. */
typedef struct weft__wire_out {
    weft__buf buf;
    size_t off; /* bytes of buf already written */
} weft__wire_out;
#define WEFT__WIRE_OUT_INIT {WEFT_BUF_INIT, 0}

/* Frees the buffers and resets to INIT (max kept); safe to call twice. */
void weft__wire_in_release(weft__wire_in *in);
void weft__wire_out_release(weft__wire_out *out);

/*
 * Non-blocking: reads what `fd` has (one read(2) call).  Returns WEFT_OK
 * with *eof set at end of file, WEFT_OK when nothing was there (EAGAIN),
 * WEFT_EIO on a read error, WEFT_ENOMEM.
 */
weft_err weft__wire_fill(weft__wire_in *in, int fd, bool *eof, char *err);

/*
 * Pops the next complete frame: 1 with *f filled (payload borrowed until the
 * next call on `in`), 0 when more bytes are needed, -1 when the frame is
 * larger than the maximum (the stream is then unusable; err says so).
 */
int weft__wire_next(weft__wire_in *in, weft__frame *f, char *err);

/* Blocking: the next frame from `fd`.  WEFT_OK with *eof set on a clean end
 * of file before any byte of a frame; WEFT_EIO on error or a truncated frame;
 * WEFT_ELIMIT for an oversized frame. */
weft_err weft__wire_recv(weft__wire_in *in, int fd, weft__frame *f, bool *eof, char *err);

/* Appends a frame to `out` (WEFT_ELIMIT past WEFT__WIRE_MAX_DEFAULT). */
weft_err weft__wire_queue(weft__wire_out *out, uint32_t type, uint64_t id,
                          const void *data, size_t len);

/* Non-blocking: writes what the fd takes.  *done is true once `out` is empty.
 * WEFT_EIO on a write error (EPIPE: the peer is gone). */
weft_err weft__wire_flush(weft__wire_out *out, int fd, bool *done, char *err);

/* Blocking: writes one whole frame (header and payload, one writev when it fits). */
weft_err weft__wire_send(int fd, uint32_t type, uint64_t id, const void *data, size_t len,
                         char *err);

#endif
