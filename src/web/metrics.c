/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - /metrics in Prometheus' text format (version 0.0.4): jobs by
 * status, a histogram of job run times (RUNNING to COMPLETED) per task, and
 * finished submissions by status.  Computed from the store at each scrape:
 * one GROUP BY and one scan of the jobs table (scripts/bench-ui measures
 * it), which a scrape every 15 s affords; a store much larger would want
 * the histogram kept incrementally by the poller instead.  Each task is a
 * label: 10,000 distinct tasks make 130,000 lines.
 */
#include "core/pages.h"
#include "web/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double bounds[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800};
#define NB (sizeof bounds / sizeof bounds[0])

typedef struct hist {
    char *task;
    int64_t count[NB + 1]; /* the last: +Inf */
    double sum;
} hist;

typedef struct scrape {
    int64_t jobs[WEFT_JOB_NSTATUS], subs[WEFT_JOB_NSTATUS];
    hist *h;
    size_t nh, caph;
    weft__strmap index; /* task -> position in h + 1: O(1) per job, not O(tasks) */
    bool nomem;
} scrape;

static void add_duration(void *ud, const char *task, int64_t us)
{
    scrape *sc = ud;
    size_t i = (size_t)(uintptr_t)weft__strmap_get(&sc->index, task);
    if (i) {
        i--;
    } else {
        i = sc->nh;
        if (WEFT__GROW(sc->h, sc->nh + 1, sc->caph) || !(sc->h[i].task = weft__strdup(task)) ||
            weft__strmap_put(&sc->index, sc->h[i].task, (void *)(uintptr_t)(i + 1))) {
            sc->nomem = true;
            return;
        }
        memset(sc->h[i].count, 0, sizeof sc->h[i].count);
        sc->h[i].sum = 0;
        sc->nh++;
    }
    double s = (double)(us < 0 ? 0 : us) / 1e6;
    size_t b = 0;
    while (b < NB && s > bounds[b]) b++;
    sc->h[i].count[b]++;
    sc->h[i].sum += s;
}

static weft_err collect(weft__store *s, void *ud, char *err)
{
    scrape *sc = ud;
    weft_err e = weft__page_job_counts(s, sc->jobs, err);
    if (!e) e = weft__page_sub_counts(s, sc->subs, err);
    if (!e) e = weft__page_durations(s, add_duration, sc, err);
    return e;
}

void weft__prom_label(weft__buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') weft__buf_addc(b, '\\');
        if (*v == '\n') weft__buf_adds(b, "\\n");
        else weft__buf_addc(b, *v);
    }
}

static void histograms(weft__buf *b, const scrape *sc)
{
    weft__buf_adds(b, "# HELP weft_job_duration_seconds Run time of completed jobs, by task.\n"
                      "# TYPE weft_job_duration_seconds histogram\n");
    for (size_t i = 0; i < sc->nh; i++) {
        int64_t cum = 0;
        for (size_t k = 0; k <= NB; k++) {
            cum += sc->h[i].count[k];
            weft__buf_adds(b, "weft_job_duration_seconds_bucket{task=\"");
            weft__prom_label(b, sc->h[i].task);
            if (k < NB) weft__buf_addf(b, "\",le=\"%g\"} %lld\n", bounds[k], (long long)cum);
            else weft__buf_addf(b, "\",le=\"+Inf\"} %lld\n", (long long)cum);
        }
        weft__buf_adds(b, "weft_job_duration_seconds_sum{task=\"");
        weft__prom_label(b, sc->h[i].task);
        weft__buf_addf(b, "\"} %.6f\nweft_job_duration_seconds_count{task=\"", sc->h[i].sum);
        weft__prom_label(b, sc->h[i].task);
        weft__buf_addf(b, "\"} %lld\n", (long long)cum);
    }
}

void weft__metrics(weft_ui *ui, weft__resp *r)
{
    scrape sc = {0};
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_orchestrator *o = weft__ui_orch(ui);
    if (o && weft__orch_query(o, collect, &sc, err)) {
        weft__resp_error(r, 500, "%s", err);
        goto out;
    }
    weft__buf b = WEFT_BUF_INIT;
    weft__buf_adds(&b, "# HELP weft_jobs Jobs in the store, by status.\n# TYPE weft_jobs gauge\n");
    for (int k = 0; k < WEFT_JOB_NSTATUS; k++)
        weft__buf_addf(&b, "weft_jobs{status=\"%s\"} %lld\n", weft_job_status_name((weft_job_status)k),
                       (long long)sc.jobs[k]);
    weft__buf_adds(&b, "# HELP weft_submissions_finished_total Finished submissions, by status.\n"
                       "# TYPE weft_submissions_finished_total counter\n");
    for (int k = WEFT_SUBMISSION_CANCELED; k <= WEFT_SUBMISSION_COMPLETED; k++)
        weft__buf_addf(&b, "weft_submissions_finished_total{status=\"%s\"} %lld\n",
                       weft_submission_status_name((weft_submission_status)k), (long long)sc.subs[k]);
    histograms(&b, &sc);
    weft__cluster_metrics(ui, &b);
    weft__buf_addf(&b, "# HELP weft_ui_store_available Whether the store exists yet.\n"
                       "# TYPE weft_ui_store_available gauge\nweft_ui_store_available %d\n", o != NULL);
    r->status = sc.nomem ? 500 : 200;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    r->body = weft__buf_detach(&b, &r->len);
    if (!r->body) r->status = 500;
out:
    weft__strmap_release(&sc.index);
    for (size_t i = 0; i < sc.nh; i++) free(sc.h[i].task);
    free(sc.h);
}
