/* SPDX-License-Identifier: MIT */
/*
 * forkserver.c - the single-threaded process, forked before the
 * orchestrator starts any thread, that forks standalone worker processes on
 * request, hands the pool their channels over SCM_RIGHTS, signals them and
 * reports their exit (see forkserver.h for why it exists).
 */
#define _GNU_SOURCE
#include "standalone/forkserver.h"

#include "job/python.h"
#include "util/defaults.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    OP_SPAWN = 1,  /* pool -> server: slot */
    OP_SIGNAL = 2, /* pool -> server: pid, sig, value */
    /* server -> pool: the weft__fs_event_type values */
};

typedef struct fs_msg {
    int32_t op;
    int32_t slot;
    int32_t pid;
    int32_t sig;
    int32_t value;
    int32_t status;
    int32_t err_no;
} fs_msg;

/* Spawn requests the server holds at once (asked, not yet answered).  The
 * channel is a socket with a bounded buffer in each direction: if the pool
 * asked for 1000 workers at once, the server's answers would fill its
 * buffer while the pool was still writing requests, and both would block
 * in send() for good.  With a window, the answers the server may owe are
 * bounded (WINDOW spawns, plus one exit per worker, read as they come), and
 * a request that does not fit waits in our queue, never in send().  It also
 * bounds what the server must get through before it sees end of file. */
#define SPAWN_WINDOW 16

/* Requests not yet written (the socket was full, or the window is). */
typedef struct msg_queue {
    fs_msg *m;
    size_t head, n, cap; /* m[head, n) wait */
} msg_queue;

struct weft__forkserver {
    int fd;    /* our end of the control channel, non-blocking */
    pid_t pid; /* the server */
    msg_queue sigq;   /* signal requests: sent first, never held by the window */
    msg_queue spawnq; /* spawn requests */
    int inflight;     /* spawn requests sent and not yet answered */
    bool dead;        /* a write failed: the server is gone */
};

/* ---- the server process ------------------------------------------------- */

static int sigchld_pipe[2] = {-1, -1};

/* SIGCHLD writes 'c', SIGTERM (the death signal: the orchestrator died) 't'. */
static void on_signal(int sig)
{
    int saved = errno;
    ssize_t r = write(sigchld_pipe[1], sig == SIGCHLD ? "c" : "t", 1); /* full: one is pending */
    (void)r;
    errno = saved;
}

/* Every handler the embedding program installed back to its default; the
 * mask emptied.  The server and its workers inherit nothing of the
 * orchestrator's signal handling. */
static void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        struct sigaction old;
        if (sigaction(s, NULL, &old) == 0 && old.sa_handler != SIG_DFL &&
            old.sa_handler != SIG_IGN)
            sigaction(s, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

typedef struct children {
    pid_t *pids;
    size_t n, cap;
} children;

static bool children_add(children *c, pid_t pid)
{
    if (WEFT__GROW(c->pids, c->n + 1, c->cap)) return false;
    c->pids[c->n++] = pid;
    return true;
}

/* The index of `pid` among the workers, or -1 (a pool has a few workers:
 * a linear scan). */
static ptrdiff_t children_find(const children *c, pid_t pid)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->pids[i] == pid) return (ptrdiff_t)i;
    return -1;
}

static bool children_remove(children *c, pid_t pid)
{
    ptrdiff_t i = children_find(c, pid);
    if (i < 0) return false;
    c->pids[i] = c->pids[--c->n];
    return true;
}

/* Room for the one descriptor a message may carry. */
typedef union fd_cmsg {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
} fd_cmsg;

/* A message of one fs_msg; with `c`, room for a descriptor in it. */
static void msg_prepare(struct msghdr *mh, struct iovec *iov, const fs_msg *m, fd_cmsg *c)
{
    *iov = (struct iovec){(void *)m, sizeof *m};
    memset(mh, 0, sizeof *mh);
    mh->msg_iov = iov;
    mh->msg_iovlen = 1;
    if (c) {
        memset(c, 0, sizeof *c);
        mh->msg_control = c->buf;
        mh->msg_controllen = sizeof c->buf;
    }
}

static void server_send(int ctl, const fs_msg *m, int fd)
{
    struct iovec iov;
    fd_cmsg u;
    struct msghdr mh;
    msg_prepare(&mh, &iov, m, fd >= 0 ? &u : NULL);
    if (fd >= 0) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    while (sendmsg(ctl, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

/*
 * The server is a child subreaper: what a dead worker left running (a
 * command task's process group, when the worker was SIGKILLed for a
 * cancel or a timeout before it could stop it) becomes the server's child
 * instead of init's.  Any child that is not a worker is such an orphan:
 * kill it with its process group.  Its own children, orphaned in turn, come
 * back here and go the same way.
 */
static void kill_orphans(const children *kids)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = '\0';
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid <= 0 || children_find(kids, (pid_t)pid) >= 0) continue;
        if (getpgid((pid_t)pid) == (pid_t)pid) kill(-(pid_t)pid, SIGKILL);
        kill((pid_t)pid, SIGKILL);
    }
}

static void reap(int ctl, children *kids)
{
    bool reaped = false;
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p < 0 && errno == EINTR) continue;
        if (p <= 0) break;
        reaped = true;
        if (!children_remove(kids, p)) continue; /* an orphan we adopted */
        fs_msg ev = {.op = WEFT__FS_EXITED, .pid = p, .status = st};
        if (ctl >= 0) server_send(ctl, &ev, -1);
    }
    if (reaped) kill_orphans(kids); /* a dead worker's or orphan's children came to us */
}

/* fork() with the embedded interpreter's state made safe across it, as
 * os.fork() does.  Returns fork()'s result with its errno kept. */
static pid_t fork_clean(void)
{
    weft__py_fork pf;
    weft__py_fork_before(&pf);
    pid_t pid = fork();
    int e = errno;
    weft__py_fork_after(&pf, pid == 0);
    errno = e;
    return pid;
}

static void spawn_worker(int ctl, children *kids, int slot, weft__worker_fn fn, void *arg)
{
    fs_msg ev = {.op = WEFT__FS_SPAWN_FAILED, .slot = slot};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        ev.err_no = errno;
        server_send(ctl, &ev, -1);
        return;
    }
    pid_t server = getpid();
    pid_t pid = fork_clean();
    if (pid < 0) {
        ev.err_no = errno;
        close(sv[0]);
        close(sv[1]);
        server_send(ctl, &ev, -1);
        return;
    }
    if (pid == 0) {
        close(ctl);
        close(sv[0]);
        close(sigchld_pipe[0]);
        close(sigchld_pipe[1]);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != server) _exit(1); /* the server died before prctl */
        _exit(fn(sv[1], slot, arg));
    }
    close(sv[1]);
    if (!children_add(kids, pid)) {
        kill(pid, SIGKILL); /* reaped and reported as any other child */
        close(sv[0]);
        ev.err_no = ENOMEM;
        server_send(ctl, &ev, -1);
        return;
    }
    ev.op = WEFT__FS_SPAWNED;
    ev.pid = pid;
    server_send(ctl, &ev, sv[0]);
    close(sv[0]);
}

static _Noreturn void server_main(int ctl, weft__worker_fn fn, void *arg, pid_t parent)
{
    reset_signals();
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) _exit(1);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* SIGTERM rather than SIGKILL: the server still kills what its workers
     * started before it goes, and can tell a thread's end from the
     * process's (see the loop). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);
    setpgid(0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    children kids = {NULL, 0, 0};
    for (;;) {
        struct pollfd p[2] = {{ctl, POLLIN, 0}, {sigchld_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) {
            char b[64];
            bool term = false;
            ssize_t n;
            while ((n = read(sigchld_pipe[0], b, sizeof b)) > 0) term |= memchr(b, 't', (size_t)n) != NULL;
            reap(ctl, &kids);
            /* The death signal also comes when the *thread* that forked us
             * ends while its process lives on: only a new parent (init or
             * a subreaper) means the orchestrator is gone. */
            if (term && getppid() != parent) break;
        }
        if (p[0].revents) {
            fs_msg m;
            ssize_t n = recv(ctl, &m, sizeof m, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break; /* the orchestrator closed its end or died */
            if ((size_t)n != sizeof m) continue;
            if (m.op == OP_SPAWN) {
                spawn_worker(ctl, &kids, m.slot, fn, arg);
            } else if (m.op == OP_SIGNAL && children_find(&kids, m.pid) >= 0) {
                /* Only its own workers: a stale pid may belong to anyone now. */
                union sigval v;
                v.sival_int = m.value;
                sigqueue(m.pid, m.sig, v);
            }
        }
    }
    /* Orphaned: no one will read results any more.  Kill the workers, then
     * whatever they leave behind, until no child is left. */
    for (size_t i = 0; i < kids.n; i++) kill(kids.pids[i], SIGKILL);
    kids.n = 0;
    kill_orphans(&kids);
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR) continue;
        if (p < 0) break; /* ECHILD: all reaped */
        kill_orphans(&kids);
    }
    _exit(0);
}

/* ---- the orchestrator's side ------------------------------------------- */

weft_err weft__forkserver_start(weft__worker_fn fn, void *arg, weft__forkserver **out,
                                char *err)
{
    *out = NULL;
    weft__forkserver *fs = calloc(1, sizeof *fs);
    if (!fs) return weft__err(err, WEFT_ENOMEM, "out of memory");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        free(fs);
        return weft__err(err, WEFT_ESPAWN, "socketpair: %s", strerror(errno));
    }
    /* What is buffered now would otherwise be written again by each worker. */
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork_clean();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        free(fs);
        return weft__err(err, WEFT_ESPAWN, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(sv[0]);
        free(fs); /* the orchestrator's handle, not ours */
        server_main(sv[1], fn, arg, parent);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    fs->fd = sv[0];
    fs->pid = pid;
    *out = fs;
    return WEFT_OK;
}

int weft__forkserver_fd(const weft__forkserver *fs) { return fs->fd; }

pid_t weft__forkserver_pid(const weft__forkserver *fs) { return fs->pid; }

static weft_err queue_push(msg_queue *q, const fs_msg *m)
{
    if (q->head == q->n) q->head = q->n = 0;
    if (WEFT__GROW(q->m, q->n + 1, q->cap)) return WEFT_ENOMEM;
    q->m[q->n++] = *m;
    return WEFT_OK;
}

/* Sends the head of `q` if the socket takes it: 1 sent, 0 full, -1 gone. */
static int queue_send_one(weft__forkserver *fs, msg_queue *q)
{
    ssize_t n;
    do {
        n = send(fs->fd, &q->m[q->head], sizeof *q->m, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n != (ssize_t)sizeof *q->m) return -1;
    q->head++;
    return 1;
}

weft_err weft__forkserver_flush(weft__forkserver *fs, char *err)
{
    int r = 1;
    while (!fs->dead && r > 0 && fs->sigq.head < fs->sigq.n) r = queue_send_one(fs, &fs->sigq);
    while (!fs->dead && r > 0 && fs->spawnq.head < fs->spawnq.n && fs->inflight < SPAWN_WINDOW)
        if ((r = queue_send_one(fs, &fs->spawnq)) > 0) fs->inflight++;
    if (r < 0) fs->dead = true;
    if (fs->dead) return weft__err(err, WEFT_ESPAWN, "fork server: %s", "the channel is closed");
    return WEFT_OK;
}

bool weft__forkserver_wants_write(const weft__forkserver *fs)
{
    return !fs->dead && (fs->sigq.head < fs->sigq.n ||
                         (fs->spawnq.head < fs->spawnq.n && fs->inflight < SPAWN_WINDOW));
}

weft_err weft__forkserver_spawn(weft__forkserver *fs, int slot, char *err)
{
    fs_msg m = {.op = OP_SPAWN, .slot = slot};
    if (queue_push(&fs->spawnq, &m)) return weft__err(err, WEFT_ENOMEM, "out of memory");
    return weft__forkserver_flush(fs, err);
}

weft_err weft__forkserver_signal(weft__forkserver *fs, pid_t pid, int sig, int value,
                                 char *err)
{
    fs_msg m = {.op = OP_SIGNAL, .pid = pid, .sig = sig, .value = value};
    if (queue_push(&fs->sigq, &m)) return weft__err(err, WEFT_ENOMEM, "out of memory");
    return weft__forkserver_flush(fs, err);
}

int weft__forkserver_next(weft__forkserver *fs, weft__fs_event *ev, char *err)
{
    fs_msg m;
    struct iovec iov;
    fd_cmsg u;
    struct msghdr mh;
    msg_prepare(&mh, &iov, &m, &u);
    ssize_t n;
    do {
        n = recvmsg(fs->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0) {
        weft__err(err, WEFT_ESPAWN, "fork server: %s", strerror(errno));
        return -1;
    }
    if (n == 0) {
        weft__err(err, WEFT_ESPAWN, "fork server exited");
        return -1;
    }
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
    if ((size_t)n != sizeof m) {
        if (fd >= 0) close(fd);
        weft__err(err, WEFT_ESPAWN, "fork server: malformed message");
        return -1;
    }
    memset(ev, 0, sizeof *ev);
    ev->type = (weft__fs_event_type)m.op;
    ev->slot = m.slot;
    ev->pid = m.pid;
    ev->status = m.status;
    ev->err_no = m.err_no;
    ev->fd = fd;
    if (ev->type == WEFT__FS_SPAWNED || ev->type == WEFT__FS_SPAWN_FAILED) {
        if (fs->inflight > 0) fs->inflight--;
        weft__forkserver_flush(fs, NULL); /* the window has room again */
    }
    if (ev->type == WEFT__FS_SPAWNED && fd < 0) {
        /* The descriptor was dropped on the way in (we are out of file
         * descriptors, MSG_CTRUNC): the worker is of no use. */
        ev->type = WEFT__FS_SPAWN_FAILED;
        ev->err_no = (mh.msg_flags & MSG_CTRUNC) ? EMFILE : EPROTO;
        weft__forkserver_signal(fs, ev->pid, SIGKILL, 0, NULL);
        ev->pid = 0;
    }
    return 1;
}

/* Waits up to `ms` for the server to exit; true when it was reaped. */
static bool wait_server(pid_t pid, int ms)
{
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (r < 0 && errno == EINTR) continue;
        if (waited >= ms) return false;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void weft__forkserver_stop(weft__forkserver *fs)
{
    if (!fs) return;
    close(fs->fd);
    /* A stopped server (SIGSTOP, a debugger) would never see the end of
     * file: wake it.  One that still does not exit is killed; its workers
     * then die of their PR_SET_PDEATHSIG, and only what they started is
     * left to init. */
    kill(fs->pid, SIGCONT);
    if (!wait_server(fs->pid, WEFT__FORKSERVER_EXIT_MS)) {
        kill(fs->pid, SIGKILL);
        int st;
        while (waitpid(fs->pid, &st, 0) < 0 && errno == EINTR) {}
    }
    free(fs->sigq.m);
    free(fs->spawnq.m);
    free(fs);
}
