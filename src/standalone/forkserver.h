/* SPDX-License-Identifier: MIT */
/*
 * forkserver.h - a single-threaded helper process that forks standalone
 * workers on request.
 *
 * The orchestrator is multi-threaded, and a fork() of a multi-threaded
 * process may only exec: any lock another thread held (malloc's, stdio's,
 * SQLite's, ours) stays locked forever in the child.  Workers must however
 * be forks of the embedding program, not an exec of another binary, so that
 * they see its functions registered with weft_register_function() and the
 * shared objects it loaded.  So weft_orchestrator_start() forks this server
 * first, while the process has no weft thread yet; the server stays
 * single-threaded and forks each worker from that clean image.  Functions
 * registered after the server started are not seen by workers: register
 * them before weft_orchestrator_start().
 *
 * An embedding program may have threads of its own when it starts the
 * orchestrator: python3 with the weft package always may, and weft's
 * Python cancel watcher (job/python.c) is a thread that outlives a
 * development-mode run in the same process.  When an interpreter runs in
 * the process, both forks (the server's and each worker's) follow
 * Python's fork protocol and reset the watcher in the child
 * (weft__py_fork_before/after, job/python.h), as os.fork() would.  Locks
 * that the embedder's other threads hold in C code at that moment are its
 * own affair, as with os.fork().
 *
 * Protocol (SOCK_SEQPACKET, one small fixed-size message per packet): the
 * pool asks for a worker for a slot, or for a signal to one of the server's
 * children; the server answers with the new worker's pid and the pool's end
 * of its channel (SCM_RIGHTS), and reports every child's exit with its wait
 * status.  Workers are the server's children, so only the server reaps
 * them, and it signals a pid only while that child is unreaped: a pid is
 * never signalled after it could have been reused.
 *
 * The server puts itself in its own process group, so a Ctrl-C at the
 * terminal reaches the orchestrator (which cancels jobs in order) and not
 * the workers.  It is a child subreaper: what a worker killed in the middle
 * of a command task leaves running comes back to it and is killed.  It exits, killing and reaping every worker, when its
 * channel to the orchestrator reaches end of file (the orchestrator stopped
 * or died); PR_SET_PDEATHSIG on the server (SIGTERM, then the same
 * cleanup) and on each worker (SIGKILL) is a second line.  Linux also sends
 * the server's death signal when the *thread* that forked it ends while the
 * process lives on; the server ignores it then (its parent did not change),
 * so weft_orchestrator_start() may be called from a short-lived thread.
 */
#ifndef WEFT_FORKSERVER_H
#define WEFT_FORKSERVER_H

#include "util/util.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * Runs in a new worker process (single-threaded, a fork of the server):
 * `fd` is the worker's end of its channel (close-on-exec), `slot` the number
 * the pool asked for.  Returns the process's exit status; the worker then
 * leaves with _exit(), so the embedding program's atexit handlers and stdio
 * buffers are never run or flushed twice.
 */
typedef int (*weft__worker_fn)(int fd, int slot, void *arg);

typedef struct weft__forkserver weft__forkserver;

/*
 * Forks the server.  `fn` and `arg` are what each worker runs; `arg` is
 * used in the server's copy of memory, as it was at this call.  Call it
 * before creating threads.  Caller frees with weft__forkserver_stop().
 */
weft_err weft__forkserver_start(weft__worker_fn fn, void *arg, weft__forkserver **out,
                                char *err);

/* The fd to poll for POLLIN: events are waiting (borrowed). */
int weft__forkserver_fd(const weft__forkserver *fs);
/* The server's pid. */
pid_t weft__forkserver_pid(const weft__forkserver *fs);

/*
 * Requests never block: they are queued and written as the channel takes
 * them (a server that is stopped or slow does not stop the caller), and at
 * most a window of spawn requests is outstanding at a time (forkserver.c).
 * Call weft__forkserver_flush() when the fd polls writable, and poll for
 * POLLOUT while weft__forkserver_wants_write().  WEFT_ESPAWN once the
 * server is gone, WEFT_ENOMEM.
 */
/* Asks for a new worker for `slot`; the answer comes as an event. */
weft_err weft__forkserver_spawn(weft__forkserver *fs, int slot, char *err);

/* Asks the server to send `sig` with sigqueue() value `value` to its child
 * `pid` (ignored when pid is no longer its unreaped child). */
weft_err weft__forkserver_signal(weft__forkserver *fs, pid_t pid, int sig, int value,
                                 char *err);

/* Writes queued requests that the channel and the window allow. */
weft_err weft__forkserver_flush(weft__forkserver *fs, char *err);
/* Queued requests could be written now (poll for POLLOUT). */
bool weft__forkserver_wants_write(const weft__forkserver *fs);

typedef enum weft__fs_event_type {
    WEFT__FS_SPAWNED = 1,     /* slot, pid, fd: a new worker (fd is the caller's to close) */
    WEFT__FS_SPAWN_FAILED = 2, /* slot, err_no (EMFILE: the channel could not be received) */
    WEFT__FS_EXITED = 3,      /* pid, status (as from waitpid) */
} weft__fs_event_type;

typedef struct weft__fs_event {
    weft__fs_event_type type;
    int slot;
    pid_t pid;
    int fd;
    int status;
    int err_no;
} weft__fs_event;

/* Non-blocking: 1 with *ev filled, 0 when none is waiting, -1 when the
 * server is gone (err says why). */
int weft__forkserver_next(weft__forkserver *fs, weft__fs_event *ev, char *err);

/* Closes the channel (the server kills and reaps its workers and exits),
 * waits for the server (SIGCONT first, SIGKILL after
 * WEFT__FORKSERVER_EXIT_MS: a stopped server does not hang the caller),
 * and frees.  NULL is ignored. */
void weft__forkserver_stop(weft__forkserver *fs);

#endif
