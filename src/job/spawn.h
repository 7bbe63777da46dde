/* SPDX-License-Identifier: MIT */
/*
 * spawn.h - starting, watching and stopping child processes safely from a
 * (possibly multi-threaded) program: argv without a shell, fork followed at
 * once by exec with only async-signal-safe calls in between, exec errors
 * reported through a close-on-exec pipe, waitpid retried on EINTR, and
 * SIGTERM-then-SIGKILL stopping of the child's whole process group.
 *
 * Used by the runner for command tasks; the standalone pool, whose workers
 * come from its fork server, uses only the wait status decoding.
 */
#ifndef WEFT_SPAWN_H
#define WEFT_SPAWN_H

#include "weft.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct weft__spawn_opts {
    /* NULL-terminated; argv[0] without a '/' is searched in $PATH (before
     * forking).  Required. */
    const char *const *argv;
    /* NULL-terminated environment; NULL inherits the caller's. */
    const char *const *envp;
    /* Working directory of the child; NULL keeps the caller's. */
    const char *cwd;
    /* true: stdout and stderr both go to one pipe whose read end (non-blocking,
     * close-on-exec) is proc->out_fd.  false: they are inherited. */
    bool capture_output;
    /* true: stdin is inherited; false (default): stdin is /dev/null. */
    bool inherit_stdin;
    /* true: the child stays in the caller's process group; false (default):
     * it leads a new group, so that stopping it also stops what it started. */
    bool same_pgroup;
} weft__spawn_opts;

/* A started child.  WEFT__PROC_INIT is "no process". */
typedef struct weft__proc {
    pid_t pid;     /* -1 when none */
    int out_fd;    /* read end of the output pipe, -1 when none or closed */
    bool pgroup;   /* the child leads its own process group */
    bool reaped;   /* waited for: `status` is valid and `pid` may be reused */
    int status;    /* raw wait status once reaped */
} weft__proc;
#define WEFT__PROC_INIT {-1, -1, false, false, 0}

/*
 * Starts a child.  WEFT_ESPAWN with "cannot run 'x': <strerror>" in err when
 * the program cannot be found or executed (the child's exec errno comes back
 * through a close-on-exec pipe, so the message is exact), or when fork/pipe
 * fail.  On failure *proc is WEFT__PROC_INIT.
 */
weft_err weft__spawn(const weft__spawn_opts *opts, weft__proc *proc, char *err);

/* Whether the child has ended, without reaping it (its pid and process group
 * stay reserved until weft__proc_wait()).  True also when already reaped. */
bool weft__proc_exited(weft__proc *p);

/* Reaps the child, blocking; retries on EINTR.  Fills p->status. */
weft_err weft__proc_wait(weft__proc *p, char *err);

/* Sends `sig` to the child's process group (or the child alone when it has
 * none).  Does nothing once reaped, so a reused pid is never signalled. */
void weft__proc_signal(weft__proc *p, int sig);

/* Stops the child: SIGTERM, then SIGKILL when it has not ended within
 * `grace_ms`, then reaps it.  Leftover members of its group are killed. */
void weft__proc_stop(weft__proc *p, int64_t grace_ms);

/* Closes the output pipe; a child still running is stopped (SIGKILL) and
 * reaped.  Resets to WEFT__PROC_INIT; safe to call twice. */
void weft__proc_release(weft__proc *p);

/* Decoding of a wait status. */
/* The exit code, or -1 when the process did not exit normally. */
int weft__status_exit_code(int status);
/* The terminating signal, or 0. */
int weft__status_signal(int status);
/* "exited with status 3", "killed by signal 9 (Killed)". */
void weft__status_describe(int status, char *buf, size_t size);

#endif
