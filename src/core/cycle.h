/* SPDX-License-Identifier: MIT */
/*
 * cycle.h - Taipy's cycles inside core/ (cycle.c): the period of a
 * frequency that contains a date, its name and id, and attaching a new
 * scenario instance to its cycle.  Joins cycle.c and submit.c; the tests
 * call the date arithmetic directly.
 */
#ifndef WEFT_CORE_CYCLE_H
#define WEFT_CORE_CYCLE_H

#include "weft.h"

/* A naive local datetime, as Taipy's datetime without tzinfo. */
typedef struct weft__date {
    int year, month, day;   /* 1..9999, 1..12, 1..31 */
    int hour, min, sec;
} weft__date;

#define WEFT__DATE_TEXT 32  /* room for "YYYY-MM-DDTHH:MM:SS.ffffff" */

/* The period of a frequency that contains a date, as Taipy's
 * _CycleManager computes it, with Taipy's Cycle name. */
typedef struct weft__period {
    char start[WEFT__DATE_TEXT]; /* "2026-05-01T00:00:00" */
    char end[WEFT__DATE_TEXT];   /* "2026-05-31T23:59:59.999999" */
    char name[64];               /* "May 2026" */
} weft__period;

/* Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]" (a space may replace the
 * T) into *d; WEFT_EINVAL with a message saying the form otherwise.  A
 * date that does not exist (2025-02-29) is refused. */
weft_err weft__date_parse(const char *s, weft__date *d, char *err);
/* Now, in local time (the TZ environment variable, as Taipy's datetime.now()). */
void weft__date_now(weft__date *d);
/* "YYYY-MM-DDTHH:MM:SS" into buf (WEFT__DATE_TEXT bytes). */
void weft__date_format(const weft__date *d, char *buf);

/* The period of `frequency` ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY",
 * "YEARLY") that contains `d`; WEFT_EINVAL for another frequency. */
weft_err weft__cycle_period(const char *frequency, const weft__date *d, weft__period *out,
                            char *err);
/* Taipy's Cycle._new_id: "CYCLE_<name>_<uuid>", spaces made _ and every
 * character but letters, digits, _, - and . dropped.  Caller frees. */
weft_err weft__cycle_id(const char *name, char **id, char *err);

struct weft_orchestrator;
/* In the caller's transaction: attaches stored scenario `scenario_id` of
 * config `config_id` to the cycle of its frequency containing `date`
 * (created when missing) and records its creation date.  *cycle_id gets the
 * cycle (caller frees), NULL when the config has no frequency. */
weft_err weft__cycle_attach(struct weft_orchestrator *o, const char *config_id,
                            const char *scenario_id, const weft__date *date, char **cycle_id,
                            char *err);

#endif
