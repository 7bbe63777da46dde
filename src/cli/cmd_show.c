/* SPDX-License-Identifier: MIT */
/*
 * cmd_show.c - `weft show ID`: everything the store knows about one job
 * (every status time, duration, attempt, worker, exit code or signal,
 * error, the end of its output), a submission and its jobs, or a data node
 * and its edit history (cmd_data.c prints it).  Opens the
 * store read-only.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

int cmd_show(int argc, char **argv);

/* Prints the last `lines` lines of `text` indented (all when lines <= 0). */
static void print_tail(const char *text, long lines)
{
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') len--;
    size_t start = 0, total = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') total++;
    if (lines > 0 && (size_t)lines < total) {
        size_t skip = total - (size_t)lines, seen = 0;
        for (size_t i = 0; i < len; i++)
            if (text[i] == '\n' && ++seen == skip) {
                start = i + 1;
                break;
            }
        printf("  (%zu earlier line%s; --lines 0 shows all)\n", skip, skip == 1 ? "" : "s");
    }
    char *safe = out_display(text + start, stdout);
    if (!safe) return;
    size_t sl = strlen(safe);
    while (sl && safe[sl - 1] == '\n') safe[--sl] = '\0';
    for (const char *p = safe; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        printf("  | %.*s\n", (int)l, p);
        p += l + (nl ? 1 : 0);
    }
    free(safe);
}

/* Values may come from the task (its error, its worker's name): escaped on
 * a terminal. */
static void field(const char *name, const char *value)
{
    char *shown = value && *value ? out_display(value, stdout) : NULL;
    printf("%-12s%s\n", name, shown ? shown : "-");
    free(shown);
}

static int show_job(const weft_job_info *j, long lines)
{
    char buf[256], d[32];
    field("job", j->id);
    snprintf(buf, sizeof buf, "%s (%s)", j->task_config_id, j->task_id ? j->task_id : "-");
    field("task", buf);
    field("submission", j->submission_id);
    field("entity", j->entity_id);
    field("status", weft_job_status_name(j->status));
    snprintf(buf, sizeof buf, "%d", j->attempt);
    field("attempt", buf);
    field("worker", j->worker);
    field("duration", out_duration(out_job_duration_us(j), d, sizeof d));
    if (j->exit_code >= 0) {
        snprintf(buf, sizeof buf, "%d", j->exit_code);
        field("exit code", buf);
    } else {
        field("exit code", NULL);
    }
    if (j->signal > 0) {
        snprintf(buf, sizeof buf, "%d (%s)", j->signal, strsignal(j->signal));
        field("signal", buf);
    } else {
        field("signal", NULL);
    }
    field("error", j->error);
    printf("times\n");
    for (int s = 0; s < WEFT_JOB_NSTATUS; s++)
        if (j->status_time_us[s] > 0)
            printf("  %-11s%s\n", weft_job_status_name((weft_job_status)s),
                   out_time(j->status_time_us[s], true, buf, sizeof buf));
    if (j->log_tail && *j->log_tail) {
        printf("log tail\n");
        print_tail(j->log_tail, lines);
    } else {
        printf("log tail    -\n");
    }
    return CLI_OK;
}

static int show_submission(weft_orchestrator *o, const weft_submission_info *s, bool json)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_job_filter filter = {.submission_id = s->id, .status = -1};
    weft_err e = weft_jobs_list(o, &filter, &jobs, &n, err);
    if (e) {
        cli_error("cannot list the jobs of %s: %s", s->id, err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    if (json) {
        json_t *v = out_submission_json(s);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, out_job_json(jobs[i]));
        json_object_set_new(v, "job_list", arr);
        weft_job_list_free(jobs, n);
        return out_json_print(v);
    }
    char buf[64], d[32];
    field("submission", s->id);
    snprintf(buf, sizeof buf, "%s", s->entity_config_id ? s->entity_config_id : "-");
    field("entity", s->entity_id);
    field("config", buf);
    field("status", weft_submission_status_name(s->status));
    field("created", out_time(s->created_us, true, buf, sizeof buf));
    field("finished", out_time(s->finished_us, true, buf, sizeof buf));
    field("duration", out_duration(s->finished_us > 0 ? s->finished_us - s->created_us : -1, d, sizeof d));
    printf("\n");
    out_table t = OUT_TABLE_INIT;
    static const char *const head[] = {"JOB", "TASK", "STATUS", "DURATION"};
    out_table_header(&t, 4, head);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = {jobs[i]->id, jobs[i]->task_config_id, weft_job_status_name(jobs[i]->status),
                             out_duration(out_job_duration_us(jobs[i]), d, sizeof d)};
        out_table_row(&t, row);
        if (jobs[i]->error && jobs[i]->status != WEFT_JOB_COMPLETED) out_table_note(&t, jobs[i]->error);
    }
    out_table_print(&t, stdout);
    out_table_release(&t);
    weft_job_list_free(jobs, n);
    return CLI_OK;
}

int cmd_show(int argc, char **argv)
{
    const char *config = NULL, *pos[1];
    bool json = false;
    long lines = 20;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_LONG("lines", 'n', &lines, 0, LONG_MAX),
                            CLI_FLAG("json", 0, &json), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "show", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0) return cli_usage_error("show", "which job, submission or data node? give its id (see 'weft jobs')");
    const char *id = pos[0];

    weft_config *cfg;
    weft_orchestrator *o;
    rc = cli_open_for(config, "job", id, &cfg, &o);
    if (rc) return rc;
    char err[WEFT_ERRBUF_SIZE] = "";
    if (strncmp(id, "DATANODE_", 9) == 0) {
        rc = cli_data_info(o, id, json);
    } else if (strncmp(id, "SUBMISSION_", 11) == 0) {
        weft_submission_info *s = NULL;
        weft_err e = weft_submission_get(o, id, &s, err);
        if (e) {
            cli_error("%s", err[0] ? err : weft_strerror(e));
            rc = CLI_FAILED;
        } else {
            rc = show_submission(o, s, json);
        }
        weft_submission_info_free(s);
    } else {
        weft_job_info *j = NULL;
        weft_err e = cli_find_job(o, id, &j, err);
        if (e) {
            cli_error("%s", err[0] ? err : weft_strerror(e));
            rc = CLI_FAILED;
        } else {
            rc = json ? out_json_print(out_job_json(j)) : show_job(j, lines);
        }
        weft_job_info_free(j);
    }
    cli_close(cfg, o);
    return rc;
}
