/* SPDX-License-Identifier: MIT */
/*
 * metrics_http.c - the tiny HTTP listener of `weft run-worker --metrics
 * ADDR:PORT`: the worker service polls its socket in its own loop (no
 * thread, no HTTP library) and answers every request, whatever its path,
 * with the Prometheus text the service hands over.  Loopback unless an
 * address is given: the figures say how busy the fleet is, nothing secret,
 * but nobody else needs them.  A client gets 200 ms to send its request
 * and take the answer (socket timeouts), so a stalled scraper delays the
 * service's loop by that much at most, once per scrape.
 */
#include "cluster/metrics_http.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CLIENT_TIMEOUT_MS 200

weft_err weft__metrics_listen(const char *addr, int *fd, char *err)
{
    *fd = -1;
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    const char *port_s = colon ? colon + 1 : addr;
    if (colon && colon != addr) {
        size_t n = (size_t)(colon - addr);
        if (n >= sizeof host) return weft__err(err, WEFT_EINVAL, "--metrics %s: bad address", addr);
        memcpy(host, addr, n);
        host[n] = '\0';
    }
    char *end;
    long port = strtol(port_s, &end, 10);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!*port_s || *end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return weft__err(err, WEFT_EINVAL,
                         "--metrics needs [IPv4 ADDRESS:]PORT (default address 127.0.0.1), not '%s'",
                         addr);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) {
        weft_err e = weft__err(err, WEFT_EIO, "--metrics %s: %s", addr, strerror(errno));
        if (s >= 0) close(s);
        return e;
    }
    *fd = s;
    return WEFT_OK;
}

void weft__metrics_answer(int fd, const char *body)
{
    for (int k = 0; k < 8; k++) { /* the connections waiting now, a few at most */
        int c = accept(fd, NULL, NULL); /* blocking: Linux does not pass O_NONBLOCK on */
        if (c < 0) return;
        fcntl(c, F_SETFD, FD_CLOEXEC);
        struct timeval tv = {0, CLIENT_TIMEOUT_MS * 1000};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        char req[2048];
        ssize_t r = recv(c, req, sizeof req, 0); /* the request line is enough */
        if (r > 0) {
            char head[160];
            size_t len = strlen(body);
            int hn = snprintf(head, sizeof head,
                              "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
            if (send(c, head, (size_t)hn, MSG_NOSIGNAL) == hn)
                for (size_t off = 0; off < len;) {
                    ssize_t w = send(c, body + off, len - off, MSG_NOSIGNAL);
                    if (w <= 0) break;
                    off += (size_t)w;
                }
        }
        close(c);
    }
}
