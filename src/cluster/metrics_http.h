/* SPDX-License-Identifier: MIT */
/*
 * metrics_http.h - the tiny HTTP listener of `weft run-worker --metrics`
 * (metrics_http.c), which the worker service polls in its loop.
 */
#ifndef WEFT_CLUSTER_METRICS_HTTP_H
#define WEFT_CLUSTER_METRICS_HTTP_H

#include "weft.h"

/* A non-blocking listening socket on "[ADDR:]PORT" (ADDR an IPv4 address,
 * default 127.0.0.1) in *fd, the caller's to close.  WEFT_EINVAL for a
 * malformed address, WEFT_EIO when it cannot listen. */
weft_err weft__metrics_listen(const char *addr, int *fd, char *err);

/* Answers the connections waiting on listening socket `fd` with `body`
 * (Prometheus text; borrowed), each given 200 ms at most. */
void weft__metrics_answer(int fd, const char *body);

#endif
