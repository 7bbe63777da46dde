/* SPDX-License-Identifier: MIT */
/*
 * cmd_submissions.c - `weft submissions`: every submission of the store,
 * oldest first, with its status, times and job counts, as a table or JSON.
 * Opens the store read-only.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <string.h>

int cmd_submissions(int argc, char **argv);

/* "3 completed, 1 failed" into buf. */
static const char *job_counts(const weft_submission_info *s, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int st = 0; st < WEFT_JOB_NSTATUS && o < size; st++) {
        if (!s->count[st]) continue;
        char name[16];
        snprintf(name, sizeof name, "%s", weft_job_status_name((weft_job_status)st));
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        int k = snprintf(buf + o, size - o, "%s%zu %s", o ? ", " : "", s->count[st], name);
        if (k > 0) o += (size_t)k;
    }
    if (!o) snprintf(buf, size, "%zu", s->njobs);
    return buf;
}

int cmd_submissions(int argc, char **argv)
{
    bool json, no_store;
    weft_config *cfg;
    weft_orchestrator *o;
    int rc = cli_list_open("submissions", argc, argv, &json, &no_store, &cfg, &o);
    if (rc) return rc;

    char err[WEFT_ERRBUF_SIZE] = "";
    weft_submission_info **subs = NULL;
    size_t n = 0;
    if (o) {
        weft_err e = weft_submissions_list(o, &subs, &n, err);
        if (e) {
            cli_error("cannot list submissions: %s", err[0] ? err : weft_strerror(e));
            cli_close(cfg, o);
            return CLI_FAILED;
        }
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, out_submission_json(subs[i]));
        rc = out_json_print(arr);
    } else if (n == 0) {
        fprintf(stderr, "weft: no submissions%s\n", no_store ? " (nothing has run yet)" : "");
    } else {
        out_table t = OUT_TABLE_INIT;
        static const char *const head[] = {"SUBMISSION", "SCENARIO", "STATUS", "CREATED", "DURATION", "JOBS"};
        out_table_header(&t, 6, head);
        for (size_t i = 0; i < n; i++) {
            const weft_submission_info *s = subs[i];
            char when[64], d[32], counts[256];
            const char *row[] = {s->id, s->entity_config_id ? s->entity_config_id : s->entity_id,
                                 weft_submission_status_name(s->status),
                                 out_time(s->created_us, true, when, sizeof when),
                                 out_duration(s->finished_us > 0 ? s->finished_us - s->created_us : -1, d,
                                              sizeof d),
                                 job_counts(s, counts, sizeof counts)};
            out_table_row(&t, row);
        }
        out_table_print(&t, stdout);
        out_table_release(&t);
    }
    weft_submission_list_free(subs, n);
    cli_close(cfg, o);
    return rc;
}
