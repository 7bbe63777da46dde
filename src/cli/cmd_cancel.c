/* SPDX-License-Identifier: MIT */
/*
 * cmd_cancel.c - `weft cancel ID`: cancel a job, or every unfinished job of
 * a submission, from any terminal.  The store is opened read-only, so this
 * works while `weft run` holds it: weft_cancel() then records a request
 * that the live orchestrator honours, and we wait a little for the job to
 * reach its final status so the person sees the outcome.
 *
 * When no orchestrator holds the store (the one that ran the submission
 * was killed), a request would wait for no one: the store is then opened
 * read-write, whose recovery settles what the dead orchestrator left, and
 * the command says what the status now is.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int cmd_cancel(int argc, char **argv);

/* weft_cancel() found no orchestrator to leave the request to. */
#define CANCEL_ORPHANED (-1)

/* How long to wait for the orchestrator to act on the request. */
#define CANCEL_WAIT_MS 5000
#define CANCEL_POLL_MS 100

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The job's status once final, or its last status after CANCEL_WAIT_MS. */
static weft_job_status wait_job(weft_orchestrator *o, const char *id, weft_job_status st)
{
    for (long waited = 0; !weft_job_status_is_final(st) && waited < CANCEL_WAIT_MS;
         waited += CANCEL_POLL_MS) {
        sleep_ms(CANCEL_POLL_MS);
        weft_job_info *j = NULL;
        if (weft_job_get(o, id, &j, NULL) == WEFT_OK) st = j->status;
        weft_job_info_free(j);
    }
    return st;
}

static int cancel_job(weft_orchestrator *o, const char *given, bool wait)
{
    char err[WEFT_ERRBUF_SIZE] = "", when[64];
    weft_job_info *j = NULL;
    weft_err e = cli_find_job(o, given, &j, err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    int rc = CLI_OK;
    if (weft_job_status_is_final(j->status)) {
        cli_error("job %s already finished: %s at %s; nothing to cancel", j->id,
                  weft_job_status_name(j->status), out_time(out_job_status_time_us(j), true, when, sizeof when));
        rc = CLI_FAILED;
    } else if ((e = weft_cancel(o, j->id, err)) != WEFT_OK) {
        if (e == WEFT_EMODE)
            rc = CANCEL_ORPHANED;
        else if (e == WEFT_ESTATE)
            cli_error("job %s already finished; nothing to cancel (%s)", j->id, err[0] ? err : weft_strerror(e));
        else
            cli_error("cannot cancel %s: %s", j->id, err[0] ? err : weft_strerror(e));
        if (rc != CANCEL_ORPHANED) rc = CLI_FAILED;
    } else {
        weft_job_status st = wait ? wait_job(o, j->id, j->status) : j->status;
        if (weft_job_status_is_final(st))
            printf("%s %s\n", j->id, weft_job_status_name(st));
        else
            printf("%s: cancel requested (still %s); the orchestrator running it will stop it\n", j->id,
                   weft_job_status_name(st));
    }
    weft_job_info_free(j);
    return rc;
}

static int cancel_submission(weft_orchestrator *o, const char *id, bool wait)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_submission_info *s = NULL;
    weft_err e = weft_submission_get(o, id, &s, err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    int rc = CLI_OK;
    if (s->finished_us > 0 || s->status == WEFT_SUBMISSION_COMPLETED || s->status == WEFT_SUBMISSION_FAILED ||
        s->status == WEFT_SUBMISSION_CANCELED) {
        cli_error("submission %s already finished (%s); nothing to cancel", id,
                  weft_submission_status_name(s->status));
        weft_submission_info_free(s);
        return CLI_FAILED;
    }
    weft_submission_info_free(s);
    s = NULL;
    if ((e = weft_cancel(o, id, err)) != WEFT_OK) {
        if (e == WEFT_EMODE) return CANCEL_ORPHANED;
        cli_error("cannot cancel %s: %s", id, err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    bool final = false;
    for (long waited = 0; wait && waited < CANCEL_WAIT_MS; waited += CANCEL_POLL_MS) {
        sleep_ms(CANCEL_POLL_MS);
        weft_submission_info_free(s);
        s = NULL;
        if (weft_submission_get(o, id, &s, NULL) == WEFT_OK && s->finished_us > 0) {
            final = true;
            break;
        }
    }
    if (final)
        printf("%s %s\n", id, weft_submission_status_name(s->status));
    else
        printf("%s: cancel requested; the orchestrator running it will stop its jobs\n", id);
    weft_submission_info_free(s);
    return rc;
}

/* The status of job or submission `id` in "STATUS" form, into buf; false
 * when it is not final (or cannot be read). */
static bool final_status(weft_orchestrator *o, const char *id, bool sub, char *buf, size_t size)
{
    bool final = false;
    snprintf(buf, size, "?");
    if (sub) {
        weft_submission_info *s = NULL;
        if (weft_submission_get(o, id, &s, NULL) == WEFT_OK) {
            snprintf(buf, size, "%s", weft_submission_status_name(s->status));
            final = s->finished_us > 0;
        }
        weft_submission_info_free(s);
    } else {
        weft_job_info *j = NULL;
        if (weft_job_get(o, id, &j, NULL) == WEFT_OK) {
            snprintf(buf, size, "%s", weft_job_status_name(j->status));
            final = weft_job_status_is_final(j->status);
        }
        weft_job_info_free(j);
    }
    return final;
}

/*
 * `id` (a full id) belongs to a submission whose orchestrator is gone:
 * opening the store read-write lets recovery settle it (development and
 * standalone jobs end; cluster ones are resumed, and canceled here).
 * Prints one line with the status it has now; CLI_OK unless the store
 * cannot be opened (another orchestrator took it meanwhile).
 */
static int cancel_orphaned(const char *config, const char *id)
{
    weft_config *cfg;
    weft_orchestrator *o;
    int rc = cli_open(config, false, NULL, &cfg, &o);
    if (rc) return rc;
    bool sub = strncmp(id, "SUBMISSION_", 11) == 0;
    char st[64], err[WEFT_ERRBUF_SIZE] = "";
    if (final_status(o, id, sub, st, sizeof st)) {
        printf("%s %s: its orchestrator had stopped, and the store's recovery ended it\n", id, st);
    } else if (weft_cancel(o, id, err) == WEFT_OK || final_status(o, id, sub, st, sizeof st)) {
        if (final_status(o, id, sub, st, sizeof st))
            printf("%s %s: its orchestrator had stopped; canceled\n", id, st);
        else /* cluster mode resumes: the next orchestrator on the store acts on it */
            printf("%s: its orchestrator had stopped; cancel requested (still %s)\n", id, st);
    } else {
        cli_error("its orchestrator had stopped; cannot cancel %s (%s): %s", id, st,
                  err[0] ? err : "unknown error");
        rc = CLI_FAILED;
    }
    cli_close(cfg, o);
    return rc;
}

int cmd_cancel(int argc, char **argv)
{
    const char *config = NULL, *pos[1];
    bool no_wait = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("no-wait", 0, &no_wait), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "cancel", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0)
        return cli_usage_error("cancel", "what to cancel? give a job or submission id (see 'weft jobs')");
    const char *id = pos[0];

    weft_config *cfg;
    weft_orchestrator *o;
    rc = cli_open_for(config, "job", id, &cfg, &o);
    if (rc) return rc;
    /* A job's full id: cancel_orphaned() needs it, `id` may be a prefix. */
    char full[512];
    snprintf(full, sizeof full, "%s", id);
    weft_job_info *j = NULL;
    if (strncmp(id, "SUBMISSION_", 11) != 0 && cli_find_job(o, id, &j, NULL) == WEFT_OK)
        snprintf(full, sizeof full, "%s", j->id);
    weft_job_info_free(j);
    rc = strncmp(id, "SUBMISSION_", 11) == 0 ? cancel_submission(o, id, !no_wait) : cancel_job(o, id, !no_wait);
    cli_close(cfg, o);
    if (rc == CANCEL_ORPHANED) rc = cancel_orphaned(config, full);
    return rc;
}
