/* SPDX-License-Identifier: MIT */
/*
 * broker.h - what the test programs that talk to the test broker share:
 * its URL (WEFT_TEST_BROKER_URL, set by scripts/run-tests) and the removal
 * of the queues and exchanges a test declared for its job queue.  Static
 * functions: each test program includes it once.
 */
#ifndef WEFT_TEST_BROKER_H
#define WEFT_TEST_BROKER_H

#include "test.h"

#include "cluster/amqp_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* Deletes Q, Q.dead, Q.status and the exchanges Q.control and Q.workers
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
    const char *xsfx[] = {".control", ".workers"};
    for (int i = 0; i < 2 && !weft__amqp_broken(c); i++) {
        snprintf(n, sizeof n, "%s%s", queue, xsfx[i]);
        weft__amqp_delete_exchange(c, n, err);
    }
    weft__amqp_close(c);
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

#endif
