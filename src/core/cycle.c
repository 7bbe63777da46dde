/* SPDX-License-Identifier: MIT */
/*
 * cycle.c - Taipy's cycles: the period of a frequency that contains a
 * scenario's creation date (taipy/core/cycle/_cycle_manager.py), its name
 * and id (cycle.py), attaching a new scenario to its cycle with Taipy's
 * primary rule (the first scenario of a cycle), weft_scenario_set_primary(),
 * and the read API (weft_cycles_list(), weft_scenario_cycle()).
 *
 * Dates are naive local datetimes, as Taipy's: a date is a day number in
 * the proleptic Gregorian calendar (Howard Hinnant's days_from_civil), so
 * week and month arithmetic never goes through time_t, mktime or the
 * time zone's daylight-saving gaps.
 */
#include "core/cycle.h"
#include "core/orchestrator_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- calendar ---- */

static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 for Monday .. 6 for Sunday (Python's weekday()); 1970-01-01 was a Thursday. */
static int weekday(long days) { return (int)(((days % 7) + 7 + 3) % 7); }

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* English names, whatever the process's locale: a cycle's name is part of
 * its id, which must not change with LC_TIME (Taipy's strftime does). */
static const char *const month_names[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};
static const char *const day_names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

/* ---- dates ---- */

static bool digits(const char *s, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        *out = *out * 10 + (s[i] - '0');
    }
    return true;
}

weft_err weft__date_parse(const char *s, weft__date *d, char *err)
{
    memset(d, 0, sizeof *d);
    size_t n = s ? strlen(s) : 0;
    bool ok = (n == 10 || n == 16 || n == 19) && digits(s, 4, &d->year) && s[4] == '-' &&
              digits(s + 5, 2, &d->month) && s[7] == '-' && digits(s + 8, 2, &d->day);
    if (ok && n > 10)
        ok = (s[10] == 'T' || s[10] == ' ') && digits(s + 11, 2, &d->hour) && s[13] == ':' &&
             digits(s + 14, 2, &d->min) && (n == 16 || (s[16] == ':' && digits(s + 17, 2, &d->sec)));
    if (!ok)
        return weft__err(err, WEFT_EINVAL,
                         "'%s' is not a date: write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS", s ? s : "");
    if (d->year < 1 || d->month < 1 || d->month > 12 || d->day < 1 ||
        d->day > month_days(d->year, d->month) || d->hour > 23 || d->min > 59 || d->sec > 59)
        return weft__err(err, WEFT_EINVAL, "'%s' is not a date of the calendar", s);
    return WEFT_OK;
}

void weft__date_now(weft__date *d)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    *d = (weft__date){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec > 59 ? 59 : tm.tm_sec};
}

void weft__date_format(const weft__date *d, char *buf)
{
    snprintf(buf, WEFT__DATE_TEXT, "%04d-%02d-%02dT%02d:%02d:%02d", d->year, d->month, d->day,
             d->hour, d->min, d->sec);
}

/* ---- periods ---- */

static const char *const frequencies[] = {"DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"};
enum { DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY };

/* Taipy's Cycle._new_name for the period starting on (y, m, d). */
static void period_name(int f, int y, int m, int d, char *buf, size_t size)
{
    long days = days_from_civil(y, m, d);
    int yday = (int)(days - days_from_civil(y, 1, 1));
    switch (f) {
    case DAILY: /* "%A, %d. %B %Y" */
        snprintf(buf, size, "%s, %02d. %s %04d", day_names[weekday(days)], d, month_names[m - 1], y);
        break;
    case WEEKLY: /* "Week %W %Y, from %d. %B": %W counts Mondays, week 0 before the first */
        snprintf(buf, size, "Week %02d %04d, from %02d. %s", (yday + 7 - weekday(days)) / 7, y, d,
                 month_names[m - 1]);
        break;
    case MONTHLY: snprintf(buf, size, "%s %04d", month_names[m - 1], y); break;
    case QUARTERLY: snprintf(buf, size, "%04d Q%d", y, (m - 1) / 3 + 1); break;
    default: snprintf(buf, size, "%04d", y); break;
    }
}

weft_err weft__cycle_period(const char *frequency, const weft__date *date, weft__period *out,
                            char *err)
{
    int f = -1;
    for (int i = 0; i < 5 && frequency; i++)
        if (strcmp(frequency, frequencies[i]) == 0) f = i;
    if (f < 0)
        return weft__err(err, WEFT_EINVAL, "'%s' is not a frequency (DAILY, WEEKLY, MONTHLY, "
                                           "QUARTERLY or YEARLY)", frequency ? frequency : "");
    int y = date->year, m = date->month, d = date->day;
    long start = days_from_civil(y, m, d), end = start; /* end: the period's last day */
    switch (f) {
    case DAILY: break;
    case WEEKLY:
        start -= weekday(start);
        end = start + 6;
        break;
    case MONTHLY:
        start = days_from_civil(y, m, 1);
        end = days_from_civil(y, m, month_days(y, m));
        break;
    case QUARTERLY: {
        int q = (m - 1) / 3 * 3 + 1;
        start = days_from_civil(y, q, 1);
        end = days_from_civil(y, q + 2, month_days(y, q + 2));
        break;
    }
    default:
        start = days_from_civil(y, 1, 1);
        end = days_from_civil(y, 12, 31);
        break;
    }
    int sy, sm, sd, ey, em, ed;
    civil_from_days(start, &sy, &sm, &sd);
    civil_from_days(end, &ey, &em, &ed);
    snprintf(out->start, sizeof out->start, "%04d-%02d-%02dT00:00:00", sy, sm, sd);
    snprintf(out->end, sizeof out->end, "%04d-%02d-%02dT23:59:59.999999", ey, em, ed);
    period_name(f, sy, sm, sd, out->name, sizeof out->name);
    return WEFT_OK;
}

weft_err weft__cycle_id(const char *name, char **id, char *err)
{
    /* Taipy's _get_valid_filename (Django's): spaces to _, then only
     * [-\w.] kept; its \w also keeps non-ASCII letters, as bytes >= 0x80 here */
    char *raw = NULL;
    weft_err e = weft__make_id("CYCLE", name, &raw, err);
    if (e) return e;
    size_t j = 0;
    for (size_t i = 0; raw[i]; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == ' ') c = '_';
        if (isalnum(c) || c == '_' || c == '-' || c == '.' || c >= 0x80) raw[j++] = (char)c;
    }
    raw[j] = '\0';
    *id = raw;
    return WEFT_OK;
}

/* ---- the orchestrator's side ---- */

/* The frequency name of a scenario config ("MONTHLY"), or NULL for none. */
static const char *config_frequency(weft_orchestrator *o, const char *config_id)
{
    char section[512];
    if ((size_t)snprintf(section, sizeof section, "SCENARIO.%s", config_id) >= sizeof section)
        return NULL;
    const weft_value *v = weft_config_lookup(o->cfg, section, "frequency");
    if (!v || weft_value_type_of(v) != WEFT_VALUE_FREQUENCY) return NULL;
    const char *t = weft_value_text(v);
    return t && *t ? t : NULL;
}

/* The cycle of `frequency` containing `date`, created when missing (Taipy's
 * _get_or_create: one cycle per frequency and start date). */
static weft_err get_or_create(weft_orchestrator *o, const char *frequency, const weft__date *date,
                              weft__store_cycle *c, char *err)
{
    weft__period p;
    weft_err e = weft__cycle_period(frequency, date, &p, err);
    if (e) return e;
    if ((e = weft__store_cycle_find(o->store, frequency, p.start, c, err)) != WEFT_ENOTFOUND)
        return e;
    char created[WEFT__DATE_TEXT];
    weft__date_format(date, created);
    memset(c, 0, sizeof *c);
    if ((e = weft__cycle_id(p.name, &c->id, err))) return e;
    c->frequency = strdup(frequency);
    c->name = strdup(p.name);
    c->start_date = strdup(p.start);
    c->end_date = strdup(p.end);
    c->creation_date = strdup(created);
    if (!c->frequency || !c->name || !c->start_date || !c->end_date || !c->creation_date)
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!e) e = weft__store_cycle_insert(o->store, c, weft__now_us(), err);
    if (!e)
        weft__log(&o->log, WEFT_LOG_INFO, "orchestrator", "created cycle %s (%s to %s)", c->id,
                  c->start_date, c->end_date);
    if (e) weft__store_cycle_release(c);
    return e;
}

weft_err weft__cycle_attach(weft_orchestrator *o, const char *config_id, const char *scenario_id,
                            const weft__date *date, char **cycle_id, char *err)
{
    char created[WEFT__DATE_TEXT];
    const char *frequency = config_frequency(o, config_id);
    weft__store_cycle c = {0};
    weft_err e = WEFT_OK;
    *cycle_id = NULL;
    weft__date_format(date, created);
    if (frequency && (e = get_or_create(o, frequency, date, &c, err))) return e;
    e = weft__store_scenario_attach(o->store, scenario_id, c.id, created, err);
    if (!e) {
        *cycle_id = c.id;
        c.id = NULL;
    }
    weft__store_cycle_release(&c);
    return e;
}

weft_err weft_scenario_set_primary(weft_orchestrator *o, const char *scenario_id, char *err)
{
    if (!o || !scenario_id)
        return weft__err(err, WEFT_EINVAL, "weft_scenario_set_primary: NULL argument");
    if (o->read_only)
        return weft__err(err, WEFT_EMODE, "this orchestrator is read-only (opened for queries)");
    weft__orch_lock(o);
    char *cycle = NULL;
    weft_err e = weft__orch_begin(o, err);
    if (!e) e = weft__store_scenario_cycle(o->store, scenario_id, &cycle, NULL, err);
    if (!e && !cycle)
        e = weft__err(err, WEFT_EINVAL,
                      "scenario %s belongs to no cycle (its config has no frequency): only a "
                      "scenario of a cycle can be primary", scenario_id);
    if (!e) e = weft__store_set_primary(o->store, scenario_id, cycle, err);
    if (!e)
        e = weft__orch_commit(o, err);
    else
        weft__orch_abort(o, false);
    free(cycle);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_scenario_cycle(weft_orchestrator *o, const char *scenario_id, char **cycle_id,
                             bool *is_primary, char *err)
{
    if (!o || !scenario_id || !cycle_id)
        return weft__err(err, WEFT_EINVAL, "weft_scenario_cycle: NULL argument");
    weft__orch_lock(o);
    weft_err e = weft__store_scenario_cycle(o->store, scenario_id, cycle_id, is_primary, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_cycles_list(weft_orchestrator *o, weft_cycle_info ***out, size_t *n, char *err)
{
    if (!o || !out || !n) return weft__err(err, WEFT_EINVAL, "weft_cycles_list: NULL argument");
    weft__orch_lock(o);
    weft_err e = weft__store_cycles(o->store, out, n, err);
    weft__orch_unlock(o);
    return e;
}
