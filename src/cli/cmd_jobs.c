/* SPDX-License-Identifier: MIT */
/*
 * cmd_jobs.c - `weft jobs`: list the jobs of the store, optionally those of
 * one submission or in one status, as a table or JSON.  It opens the store
 * read-only, so it works while `weft run` writes it.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <string.h>

int cmd_jobs(int argc, char **argv);

int cmd_jobs(int argc, char **argv)
{
    const char *config = NULL, *submission = NULL, *status_s = NULL;
    bool json = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_STRING("submission", 0, "an id", &submission),
                            CLI_STRING("status", 0, "a status", &status_s), CLI_FLAG("json", 0, &json),
                            CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "jobs", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    int status = -1;
    if (status_s && (status = weft_job_status_parse(status_s)) < 0)
        return cli_usage_error("jobs",
                               "unknown status '%s' (SUBMITTED, BLOCKED, PENDING, RUNNING, CANCELED, "
                               "FAILED, COMPLETED, SKIPPED or ABANDONED)",
                               status_s);

    weft_config *cfg;
    weft_orchestrator *o;
    bool no_store;
    rc = cli_open(config, true, &no_store, &cfg, &o);
    if (rc) return rc;

    char err[WEFT_ERRBUF_SIZE] = "";
    weft_job_info **jobs = NULL;
    size_t n = 0;
    if (o) {
        weft_job_filter filter = {.submission_id = submission, .status = status};
        weft_err e = weft_jobs_list(o, &filter, &jobs, &n, err);
        if (e) {
            cli_error("cannot list jobs: %s", err[0] ? err : weft_strerror(e));
            cli_close(cfg, o);
            return CLI_FAILED;
        }
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, out_job_json(jobs[i]));
        rc = out_json_print(arr);
    } else if (n == 0) {
        fprintf(stderr, "weft: no jobs%s\n", no_store ? " (nothing has run yet)" : "");
    } else {
        out_table t = OUT_TABLE_INIT;
        static const char *const head[] = {"JOB", "TASK", "STATUS", "SINCE", "DURATION", "SUBMISSION"};
        out_table_header(&t, 6, head);
        for (size_t i = 0; i < n; i++) {
            char when[64], d[32];
            const char *row[] = {jobs[i]->id,
                                 jobs[i]->task_config_id,
                                 weft_job_status_name(jobs[i]->status),
                                 out_time(out_job_status_time_us(jobs[i]), true, when, sizeof when),
                                 out_duration(out_job_duration_us(jobs[i]), d, sizeof d),
                                 jobs[i]->submission_id};
            out_table_row(&t, row);
            if (jobs[i]->error && jobs[i]->status != WEFT_JOB_COMPLETED) out_table_note(&t, jobs[i]->error);
        }
        out_table_print(&t, stdout);
        out_table_release(&t);
    }
    weft_job_list_free(jobs, n);
    cli_close(cfg, o);
    return rc;
}
