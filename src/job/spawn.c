/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - careful process spawning (see spawn.h): the program is looked
 * up in $PATH and argv/env are ready before fork(); the child only makes
 * async-signal-safe calls (reset signal dispositions and mask, new process
 * group, dup2, chdir, execve) and reports a failure as {stage, errno}
 * through a close-on-exec pipe, which the parent reads: EOF means exec
 * succeeded.  Because nothing but those calls runs in the child, this is
 * safe in a multi-threaded process.
 */
#define _GNU_SOURCE /* close_range, sigdescr_np */
#include "job/spawn.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Where the child failed before exec: the parent words the error by it. */
typedef enum child_stage { STAGE_EXEC = 0, STAGE_CHDIR = 1, STAGE_SETUP = 2 } child_stage;

struct child_report {
    child_stage stage;
    int errnum;
};

/* Looks `name` up in $PATH like execvp() would, but in the parent.  Returns
 * a malloc'd path, or NULL with errno set (ENOENT, EACCES or ENOMEM). */
static char *find_program(const char *name)
{
    if (strchr(name, '/')) {
        char *p = strdup(name);
        if (!p) errno = ENOMEM;
        return p;
    }
    if (!*name) {
        errno = ENOENT;
        return NULL;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    int found_errno = ENOENT;
    size_t nlen = strlen(name);
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        if (!end) end = p + strlen(p);
        size_t dlen = (size_t)(end - p);
        const char *dir = dlen ? p : ".";
        if (!dlen) dlen = 1;
        char *cand = malloc(dlen + nlen + 2);
        if (!cand) {
            errno = ENOMEM;
            return NULL;
        }
        memcpy(cand, dir, dlen);
        cand[dlen] = '/';
        memcpy(cand + dlen + 1, name, nlen + 1);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0) return cand;
            found_errno = EACCES;
        }
        free(cand);
        if (!*end) break;
        p = end;
    }
    errno = found_errno;
    return NULL;
}

/* Moves a new descriptor above 2, so that dup2() onto 0..2 in the child
 * cannot clobber it (possible when the caller closed its stdio). */
static int fd_above_stdio(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return nfd;
}

/* Async-signal-safe: makes `fd` the descriptor `target`, inheritable. */
static int child_dup(int fd, int target)
{
    if (fd == target) return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static _Noreturn void child_fail(int errfd, child_stage stage)
{
    struct child_report r = {stage, errno};
    ssize_t n;
    do n = write(errfd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    _exit(127);
}

/* Runs in the child between fork() and execve(): async-signal-safe calls only. */
static _Noreturn void child_run(const weft__spawn_opts *o, const char *prog, char *const *argv,
                                char *const *envp, int nullfd, int outw, int errw)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* fails harmlessly for KILL/STOP */
    sigset_t none;
    sigemptyset(&none);
    if (!o->same_pgroup && setpgid(0, 0) < 0) child_fail(errw, STAGE_SETUP);
    if (nullfd >= 0 && child_dup(nullfd, 0) < 0) child_fail(errw, STAGE_SETUP);
    if (outw >= 0 && (child_dup(outw, 1) < 0 || child_dup(outw, 2) < 0)) child_fail(errw, STAGE_SETUP);
    if (o->cwd && chdir(o->cwd) < 0) child_fail(errw, STAGE_CHDIR);
    /* Descriptors the caller left inheritable (other jobs' pipes, sockets)
     * must not leak into the command. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(prog, argv, envp);
    child_fail(errw, STAGE_EXEC);
}

/* A close-on-exec pipe with both ends above stdio; -1 with errno set. */
static int cloexec_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0 || (p[0] = fd_above_stdio(p[0])) < 0 ||
        (p[1] = fd_above_stdio(p[1])) < 0)
        return -1;
    return 0;
}

/* The descriptors the child needs, made before fork(): /dev/null for its
 * stdin unless inherited, the output pipe (read end non-blocking) when
 * captured, and the exec-error pipe.  The caller closes them. */
static weft_err child_fds(const weft__spawn_opts *o, const char *name, int *nullfd, int outp[2],
                          int errp[2], char *err)
{
    if (!o->inherit_stdin &&
        (*nullfd = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0)
        return weft__err(err, WEFT_ESPAWN, "cannot run '%s': /dev/null: %s", name,
                         strerror(errno));
    if (o->capture_output) {
        if (cloexec_pipe(outp) < 0)
            return weft__err(err, WEFT_ESPAWN, "cannot run '%s': pipe: %s", name, strerror(errno));
        fcntl(outp[0], F_SETFL, fcntl(outp[0], F_GETFL) | O_NONBLOCK);
    }
    if (cloexec_pipe(errp) < 0)
        return weft__err(err, WEFT_ESPAWN, "cannot run '%s': pipe: %s", name, strerror(errno));
    return WEFT_OK;
}

weft_err weft__spawn(const weft__spawn_opts *o, weft__proc *proc, char *err)
{
    weft__proc p = WEFT__PROC_INIT;
    weft_err e = WEFT_OK;
    char *prog = NULL;
    int nullfd = -1, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    const char *name = o && o->argv && o->argv[0] ? o->argv[0] : NULL;

    *proc = p;
    if (!name) return weft__err(err, WEFT_EINVAL, "cannot run a command: empty argv");
    if (!(prog = find_program(name))) {
        e = errno == ENOMEM ? WEFT_ENOMEM : WEFT_ESPAWN;
        weft__err(err, e, "cannot run '%s': %s", name, strerror(errno));
        goto done;
    }
    if ((e = child_fds(o, name, &nullfd, outp, errp, err))) goto done;

    char *const *argv = (char *const *)o->argv;
    char *const *envp = o->envp ? (char *const *)o->envp : environ;
    /* Block every signal across fork() so that no handler of ours runs in
     * the child before its dispositions are reset. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) child_run(o, prog, argv, envp, nullfd, outp[1], errp[1]);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        e = weft__err(err, WEFT_ESPAWN, "cannot run '%s': fork: %s", name, strerror(fork_errno));
        goto done;
    }
    p.pid = pid;
    p.pgroup = !o->same_pgroup;
    /* Also set in the parent, so that signalling the group works at once;
     * EACCES once the child has exec'd is fine. */
    if (p.pgroup) setpgid(pid, pid);

    close(errp[1]);
    errp[1] = -1;
    struct child_report r;
    ssize_t n;
    do n = read(errp[0], &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof r) {
        weft__proc_wait(&p, NULL);
        p = (weft__proc)WEFT__PROC_INIT;
        if (r.stage == STAGE_CHDIR)
            e = weft__err(err, WEFT_ESPAWN, "cannot run '%s': %s: %s", name, o->cwd,
                          strerror(r.errnum));
        else
            e = weft__err(err, WEFT_ESPAWN, "cannot run '%s': %s", name, strerror(r.errnum));
        goto done;
    }
    p.out_fd = outp[0];
    outp[0] = -1;
    *proc = p;

done:
    if (nullfd >= 0) close(nullfd);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0) close(outp[i]);
        if (errp[i] >= 0) close(errp[i]);
    }
    free(prog);
    return e;
}

static void mark_lost(weft__proc *p)
{
    /* ECHILD: someone else reaped it (SIGCHLD ignored?); its status is lost. */
    p->reaped = true;
    p->status = 255 << 8;
}

bool weft__proc_exited(weft__proc *p)
{
    if (p->pid <= 0 || p->reaped) return true;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
            return si.si_pid != 0;
        if (errno == EINTR) continue;
        if (errno == ECHILD) mark_lost(p);
        return true;
    }
}

weft_err weft__proc_wait(weft__proc *p, char *err)
{
    if (p->pid <= 0) return weft__err(err, WEFT_EINVAL, "no process to wait for");
    if (p->reaped) return WEFT_OK;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, 0);
        if (r == p->pid) {
            p->reaped = true;
            p->status = st;
            return WEFT_OK;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == ECHILD) {
            mark_lost(p);
            return weft__err(err, WEFT_EIO, "waitpid %d: %s", (int)p->pid, strerror(errno));
        }
        if (r < 0) return weft__err(err, WEFT_EIO, "waitpid %d: %s", (int)p->pid, strerror(errno));
    }
}

void weft__proc_signal(weft__proc *p, int sig)
{
    if (p->pid <= 0 || p->reaped) return;
    if (!p->pgroup || kill(-p->pid, sig) < 0) kill(p->pid, sig);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

void weft__proc_stop(weft__proc *p, int64_t grace_ms)
{
    if (p->pid <= 0 || p->reaped) return;
    weft__proc_signal(p, SIGTERM);
    int64_t deadline = weft__mono_ns() + grace_ms * 1000000;
    while (!weft__proc_exited(p) && weft__mono_ns() < deadline) sleep_ms(10);
    /* The leader is at worst a zombie here, so its group id is still ours. */
    weft__proc_signal(p, SIGKILL);
    weft__proc_wait(p, NULL);
}

void weft__proc_release(weft__proc *p)
{
    if (p->out_fd >= 0) close(p->out_fd);
    if (p->pid > 0 && !p->reaped) {
        weft__proc_signal(p, SIGKILL);
        weft__proc_wait(p, NULL);
    }
    *p = (weft__proc)WEFT__PROC_INIT;
}

int weft__status_exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

int weft__status_signal(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }

void weft__status_describe(int status, char *buf, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        const char *d = sigdescr_np(WTERMSIG(status));
        snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(status), d ? d : "unknown",
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        snprintf(buf, size, "ended with wait status 0x%x", (unsigned)status);
    }
}
