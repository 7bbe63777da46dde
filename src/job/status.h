/* SPDX-License-Identifier: MIT */
/*
 * status.h - the internal half of the status model (status.c): a
 * submission's status from the number of its jobs in each status.  The
 * public half (names, parsing, the transition table) is in weft.h.
 */
#ifndef WEFT_JOB_STATUS_H
#define WEFT_JOB_STATUS_H

#include "weft.h"

#include <stddef.h>

/* weft_submission_status_of() from the number of jobs in each status: O(1). */
weft_submission_status weft__submission_status_of_counts(const size_t count[WEFT_JOB_NSTATUS]);

#endif
