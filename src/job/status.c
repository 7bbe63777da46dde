/* SPDX-License-Identifier: MIT */
/*
 * status.c - the job and submission status model: status names and parsing,
 * which job status transitions are legal, and how a submission's status
 * follows from the statuses of its jobs.  The orchestrator refuses every
 * change that weft_job_transition_ok() rejects (WEFT_ESTATE), so this table
 * is the single place the rules live.  Also the free functions of the
 * snapshot structs.
 */
#include "job/status.h"

#include <stdlib.h>
#include <strings.h>

static const char *const job_status_names[WEFT_JOB_NSTATUS] = {
    "SUBMITTED", "BLOCKED", "PENDING", "RUNNING", "CANCELED",
    "FAILED", "COMPLETED", "SKIPPED", "ABANDONED",
};

const char *weft_job_status_name(weft_job_status s)
{
    if ((int)s < 0 || (int)s >= WEFT_JOB_NSTATUS) return NULL;
    return job_status_names[s];
}

int weft_job_status_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < WEFT_JOB_NSTATUS; i++)
        if (strcasecmp(name, job_status_names[i]) == 0) return i;
    return -1;
}

bool weft_job_status_is_final(weft_job_status s)
{
    switch (s) {
    case WEFT_JOB_CANCELED:
    case WEFT_JOB_FAILED:
    case WEFT_JOB_COMPLETED:
    case WEFT_JOB_SKIPPED:
    case WEFT_JOB_ABANDONED:
        return true;
    case WEFT_JOB_SUBMITTED:
    case WEFT_JOB_BLOCKED:
    case WEFT_JOB_PENDING:
    case WEFT_JOB_RUNNING:
        return false;
    }
    return false;
}

/* Bit i of allowed[from] is set when from -> i is legal. */
#define B(s) (1u << (s))
static const unsigned allowed[WEFT_JOB_NSTATUS] = {
    [WEFT_JOB_SUBMITTED] = B(WEFT_JOB_BLOCKED) | B(WEFT_JOB_PENDING) | B(WEFT_JOB_SKIPPED) |
                           B(WEFT_JOB_CANCELED) | B(WEFT_JOB_ABANDONED),
    [WEFT_JOB_BLOCKED] = B(WEFT_JOB_PENDING) | B(WEFT_JOB_CANCELED) | B(WEFT_JOB_ABANDONED),
    [WEFT_JOB_PENDING] = B(WEFT_JOB_RUNNING) | B(WEFT_JOB_SKIPPED) | B(WEFT_JOB_CANCELED) |
                         B(WEFT_JOB_ABANDONED),
    [WEFT_JOB_RUNNING] = B(WEFT_JOB_COMPLETED) | B(WEFT_JOB_FAILED) | B(WEFT_JOB_CANCELED) |
                         B(WEFT_JOB_PENDING),
};
#undef B

bool weft_job_transition_ok(weft_job_status from, weft_job_status to)
{
    if ((int)from < 0 || (int)from >= WEFT_JOB_NSTATUS) return false;
    if ((int)to < 0 || (int)to >= WEFT_JOB_NSTATUS) return false;
    return (allowed[from] >> to) & 1u;
}

const char *weft_submission_status_name(weft_submission_status s)
{
    switch (s) {
    case WEFT_SUBMISSION_SUBMITTED: return "SUBMITTED";
    case WEFT_SUBMISSION_BLOCKED: return "BLOCKED";
    case WEFT_SUBMISSION_PENDING: return "PENDING";
    case WEFT_SUBMISSION_RUNNING: return "RUNNING";
    case WEFT_SUBMISSION_CANCELED: return "CANCELED";
    case WEFT_SUBMISSION_FAILED: return "FAILED";
    case WEFT_SUBMISSION_COMPLETED: return "COMPLETED";
    }
    return NULL;
}

weft_submission_status weft__submission_status_of_counts(const size_t count[WEFT_JOB_NSTATUS])
{
    size_t total = 0;
    for (int i = 0; i < WEFT_JOB_NSTATUS; i++) total += count[i];
    if (count[WEFT_JOB_FAILED]) return WEFT_SUBMISSION_FAILED;
    if (count[WEFT_JOB_CANCELED] || count[WEFT_JOB_ABANDONED]) return WEFT_SUBMISSION_CANCELED;
    if (count[WEFT_JOB_RUNNING]) return WEFT_SUBMISSION_RUNNING;
    if (count[WEFT_JOB_PENDING]) return WEFT_SUBMISSION_PENDING;
    if (count[WEFT_JOB_BLOCKED]) return WEFT_SUBMISSION_BLOCKED;
    if (count[WEFT_JOB_COMPLETED] + count[WEFT_JOB_SKIPPED] == total)
        return WEFT_SUBMISSION_COMPLETED;
    return WEFT_SUBMISSION_SUBMITTED;
}

weft_submission_status weft_submission_status_of(const weft_job_status *jobs, size_t n)
{
    size_t count[WEFT_JOB_NSTATUS] = {0};
    for (size_t i = 0; i < n; i++)
        if ((int)jobs[i] >= 0 && (int)jobs[i] < WEFT_JOB_NSTATUS) count[jobs[i]]++;
    return weft__submission_status_of_counts(count);
}

void weft_job_info_free(weft_job_info *job)
{
    if (!job) return;
    free(job->id);
    free(job->task_id);
    free(job->task_config_id);
    free(job->submission_id);
    free(job->entity_id);
    free(job->error);
    free(job->log_tail);
    free(job->worker);
    free(job);
}

void weft_job_list_free(weft_job_info **jobs, size_t n)
{
    if (!jobs) return;
    for (size_t i = 0; i < n; i++) weft_job_info_free(jobs[i]);
    free(jobs);
}

void weft_submission_info_free(weft_submission_info *sub)
{
    if (!sub) return;
    free(sub->id);
    free(sub->entity_id);
    free(sub->entity_config_id);
    free(sub);
}

void weft_submission_list_free(weft_submission_info **subs, size_t n)
{
    if (!subs) return;
    for (size_t i = 0; i < n; i++) weft_submission_info_free(subs[i]);
    free(subs);
}

void weft_strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
