/* SPDX-License-Identifier: MIT */
/*
 * broker.h - what the test programs that talk to the test broker share:
 * its URL (WEFT_TEST_BROKER_URL, set by scripts/run-tests), the removal
 * of the queues and exchanges a test declared for its job queue,
 * starting and stopping a real `weft run-worker`, and the counts of a
 * queue as the broker reports them (rabbitmqctl).  Static functions: each
 * test program includes it once.
 */
#ifndef WEFT_TEST_BROKER_H
#define WEFT_TEST_BROKER_H

#include "test.h"

#include "cluster/amqp_client.h"
#include "util/util.h" /* weft__mono_ns */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The broker's URL; fails the test when none is set. */
static inline const char *broker_url(void)
{
    const char *u = getenv("WEFT_TEST_BROKER_URL");
    if (!u || !*u)
        FAIL("WEFT_TEST_BROKER_URL is not set: run through scripts/run-tests, or start one with "
             "scripts/broker start DIR and export WEFT_TEST_BROKER_URL=$(cat DIR/url) "
             "WEFT_TEST_BROKER_DIR=DIR");
    return u;
}

/* Deletes Q, Q.dead, Q.status, the orchestrators' Q.status.<id> and the
 * exchanges Q.control and Q.workers
 * (best effort: housekeeping, not an assertion). */
static inline void broker_cleanup(const char *queue)
{
    char err[WEFT_ERRBUF_SIZE];
    weft__amqp_opts o = {.url = broker_url()};
    weft__amqp *c = NULL;
    if (weft__amqp_open(&o, &c, err) != WEFT_OK) return;
    const char *sfx[] = {"", ".dead", ".status"};
    char n[256];
    for (int i = 0; i < 3 && !weft__amqp_broken(c); i++) {
        snprintf(n, sizeof n, "%s%s", queue, sfx[i]);
        weft__amqp_delete_queue(c, n, err);
    }
    /* The reply queues of the orchestrators that ran in this test's folder
     * (src/cluster/identity.c: <queue>.status.<id of <storage>/cluster-id>). */
    const char *pat[] = {"*/cluster-id", ".*/cluster-id"};
    for (int k = 0; k < 2; k++) {
        glob_t g;
        if (glob(pat[k], 0, NULL, &g) != 0) continue;
        for (size_t i = 0; i < g.gl_pathc && !weft__amqp_broken(c); i++) {
            FILE *f = fopen(g.gl_pathv[i], "r");
            char id[64] = "";
            if (f && fscanf(f, "%63s", id) == 1) {
                snprintf(n, sizeof n, "%s.status.%s", queue, id);
                weft__amqp_delete_queue(c, n, err);
            }
            if (f) fclose(f);
        }
        globfree(&g);
    }
    const char *xsfx[] = {".control", ".workers"};
    for (int i = 0; i < 2 && !weft__amqp_broken(c); i++) {
        snprintf(n, sizeof n, "%s%s", queue, xsfx[i]);
        weft__amqp_delete_exchange(c, n, err);
    }
    weft__amqp_close(c);
}

/* Starts the build's `weft` with `args` (NULL-terminated, after the
 * program name: "run-worker", ...), its stdout and stderr appended to
 * `log`.  The child's pid. */
static inline pid_t weft_spawn_logged(const char *log, const char *const *args)
{
    char weft[4200];
    snprintf(weft, sizeof weft, "%s/weft", test_build_dir());
    const char *argv[32] = {"weft"};
    size_t n = 1;
    for (; args[n - 1] && n < 31; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) FAIL("fork");
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(weft, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* SIGTERM (a worker drains) and wait up to 30 s, then SIGKILL; the exit
 * status (128+sig when killed by a signal), -1 when it had to be killed. */
static inline int worker_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* A listening socket on a free loopback port (*port): the kernel completes
 * every TCP handshake and nobody ever answers, as a broker that hangs.
 * Close it to free the port. */
static inline int broker_silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, len) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        FAIL("cannot listen on a loopback port: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return s;
}

/* What the broker says of a queue (rabbitmqctl list_queues): -1 each when
 * it does not list it. */
typedef struct qcounts {
    long ready, unacked, consumers;
} qcounts;

static inline qcounts broker_counts(const char *queue)
{
    const char *dir = getenv("WEFT_TEST_BROKER_DIR");
    if (!dir || !*dir) FAIL("WEFT_TEST_BROKER_DIR is not set (needed to ask the broker)");
    char nodef[4200], cmd[8600];
    snprintf(nodef, sizeof nodef, "%s/node", dir);
    char *node = test_read_file(nodef, NULL);
    node[strcspn(node, "\n")] = '\0';
    snprintf(cmd, sizeof cmd, "HOME='%s' /usr/lib/rabbitmq/bin/rabbitmqctl -n '%s' list_queues -q "
             "--no-table-headers name messages_ready messages_unacknowledged consumers", dir, node);
    FILE *p = popen(cmd, "r");
    if (!p) FAIL("popen %s", cmd);
    char name[256];
    long r, u, c;
    qcounts q = {-1, -1, -1};
    while (fscanf(p, "%255s %ld %ld %ld", name, &r, &u, &c) == 4)
        if (strcmp(name, queue) == 0) q = (qcounts){r, u, c};
    pclose(p);
    free(node);
    return q;
}

/* Waits (up to 30 s) until the broker reports `want` for the queue twice
 * in a row; fails the test with the last counts otherwise. */
static inline void await_broker_counts(const char *queue, qcounts want)
{
    qcounts q = {-1, -1, -1};
    int same = 0;
    for (int64_t end = weft__mono_ns() + 30000000000LL; weft__mono_ns() < end;) {
        q = broker_counts(queue);
        same = q.ready == want.ready && q.unacked == want.unacked &&
                       q.consumers == want.consumers ? same + 1 : 0;
        if (same == 2) return;
        struct timespec ts = {0, 200 * 1000000};
        nanosleep(&ts, NULL);
    }
    FAIL("the broker reports ready %ld, unacked %ld, consumers %ld for %s, not %ld, %ld, %ld",
         q.ready, q.unacked, q.consumers, queue, want.ready, want.unacked, want.consumers);
}

#endif
