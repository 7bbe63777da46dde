/* SPDX-License-Identifier: MIT */
/*
 * output.c - helpers the engine commands share (see output.h): opening the
 * configuration and the store, shortened and prefix-matched job ids,
 * durations and local times, aligned tables, JSON snapshots of jobs and
 * submissions, and error messages with URL passwords masked.
 */
#include "cli/output.h"
#include "cli/opts.h"
#include "util/util.h" /* WEFT__GROW: the command links libweft statically */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

char *out_redact(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    /* Each URL grows by at most WEFT__REDACT_EXTRA bytes, and takes at
     * least 3 ("://"). */
    char *r = malloc(n + (n / 3 + 1) * WEFT__REDACT_EXTRA + 1);
    if (!r) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const char *sep = strstr(s + i, "://");
        if (!sep) {
            memcpy(r + o, s + i, n - i);
            o += n - i;
            break;
        }
        size_t start = (size_t)(sep - s);
        memcpy(r + o, s + i, start - i);
        o += start - i;
        /* In free text a URL ends at whitespace, a quote or the end; its
         * userinfo runs to its last '@' (util/redact.c). */
        size_t end = start + 3;
        while (end < n && !strchr(" \t\r\n\"'<>", s[end])) end++;
        o += weft__url_redact_span(s + start, end - start, r + o);
        i = end;
    }
    r[o] = '\0';
    return r;
}

void cli_error(const char *fmt, ...)
{
    char msg[2 * WEFT_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *safe = out_display(msg, stderr);
    fprintf(stderr, "weft: %s\n", safe ? safe : "out of memory");
    free(safe);
}

/* ---- terminal safety ---------------------------------------------------- */

char *out_term_escape(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *r = malloc(n * 6 + 1); /* "\u009b" for each 2-byte C1: 3 per byte at most; 4 for C0 */
    if (!r) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\t') {
            r[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)sprintf(r + o, "\\x%02x", c);
        } else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0x9f) {
            /* U+0080..U+009F: the 8-bit controls (0x9b is CSI). */
            o += (size_t)sprintf(r + o, "\\u%04x", (unsigned char)s[++i]);
        } else {
            r[o++] = (char)c;
        }
    }
    r[o] = '\0';
    return r;
}

char *out_display(const char *s, FILE *to)
{
    char *r = out_redact(s);
    if (!r || !isatty(fileno(to))) return r;
    char *e = out_term_escape(r);
    free(r);
    return e;
}

/* ---- the configuration and the store ----------------------------------- */

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Whether <folder>/weft.db exists, `folder` taken as is and relative to `base`. */
static bool store_exists(const char *folder, const char *base)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/weft.db", folder);
    if (file_exists(p)) return true;
    if (folder[0] != '/' && base) {
        snprintf(p, sizeof p, "%s/%s/weft.db", base, folder);
        if (file_exists(p)) return true;
    }
    return false;
}

int cli_load_checked(const char *path, int mode, int workers, bool warnings, weft_config **out)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    *out = NULL;
    if (!path) path = "config.toml";
    weft_config *cfg = weft_config_new();
    if (!cfg) {
        cli_error("out of memory");
        return CLI_USAGE;
    }
    weft_err e = weft_config_load(cfg, path, err);
    if (e == WEFT_EIO || e == WEFT_ENOTFOUND || e == WEFT_ENOMEM || e == WEFT_EINVAL) {
        cli_error("cannot read the configuration: %s", err[0] ? err : weft_strerror(e));
        weft_config_free(cfg);
        return CLI_USAGE;
    }
    /* Set after loading, so the command line wins over the file.  As in
     * cli_load_config(), invalid TOML leaves nothing to check, while other
     * load errors do not stop the check: every problem is reported at once. */
    if (e != WEFT_ESYNTAX) {
        weft_err e2 = WEFT_OK;
        if (mode >= 0 || workers > 0)
            e2 = weft_config_configure_job_executions(
                cfg, mode >= 0 ? (weft_mode)mode : weft_config_mode(cfg), workers, err);
        if (!e2) e2 = weft_config_check(cfg, err);
        if (!e) e = e2;
    }
    bool bad = e != WEFT_OK || weft_config_nerrors(cfg) > 0;
    if (bad || warnings) cli_print_diags(cfg, stderr);
    if (bad) {
        if (weft_config_nerrors(cfg) == 0) cli_error("%s", err[0] ? err : weft_strerror(e));
        cli_error("%s has errors (see 'weft check -c %s')", path, path);
        weft_config_free(cfg);
        return CLI_USAGE;
    }
    *out = cfg;
    return CLI_OK;
}

int cli_open(const char *path, bool read_only, bool *no_store, weft_config **cfgp,
             weft_orchestrator **op)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    *cfgp = NULL;
    *op = NULL;
    if (no_store) *no_store = false;
    if (!path) path = "config.toml";
    weft_config *cfg = NULL;
    int rc = cli_load_checked(path, -1, 0, false, &cfg);
    if (rc) return rc;
    weft_err e;
    weft_orchestrator_opts opts = {.read_only = read_only};
    weft_orchestrator *o = NULL;
    e = weft_orchestrator_open(cfg, &opts, &o, err);
    if (e) {
        if (read_only && no_store && e == WEFT_ENOTFOUND &&
            !store_exists(weft_config_storage_folder(cfg), weft_config_application_path(cfg))) {
            *no_store = true;
            *cfgp = cfg;
            return CLI_OK;
        }
        cli_error("cannot open the store of %s: %s", path, err[0] ? err : weft_strerror(e));
        weft_config_free(cfg);
        return CLI_FAILED;
    }
    *cfgp = cfg;
    *op = o;
    return CLI_OK;
}

int cli_list_open(const char *cmd, int argc, char **argv, bool *json, bool *no_store,
                  weft_config **cfg, weft_orchestrator **o)
{
    const char *config = NULL;
    *json = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("json", 0, json), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = cmd, .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    return rc ? rc : cli_open(config, true, no_store, cfg, o);
}

int cli_open_for(const char *path, const char *what, const char *id, weft_config **cfg,
                 weft_orchestrator **o)
{
    bool no_store;
    int rc = cli_open(path, true, &no_store, cfg, o);
    if (rc == CLI_OK && !*o) {
        cli_error("no %s '%s': nothing has run yet", what, id);
        cli_close(*cfg, NULL);
        *cfg = NULL;
        return CLI_FAILED;
    }
    return rc;
}

void cli_close(weft_config *cfg, weft_orchestrator *o)
{
    weft_orchestrator_close(o);
    weft_config_free(cfg);
}

weft_err cli_find_job(weft_orchestrator *o, const char *id, weft_job_info **out, char *err)
{
    *out = NULL;
    weft_err e = weft_job_get(o, id, out, err);
    if (e != WEFT_ENOTFOUND) return e;
    /* Not an exact id: try it as a prefix.  O(jobs in the store), which is
     * fine for a command a person types. */
    weft_job_info **jobs = NULL;
    size_t n = 0;
    char lerr[WEFT_ERRBUF_SIZE] = "";
    if (weft_jobs_list(o, NULL, &jobs, &n, lerr) != WEFT_OK || strlen(id) < 5) {
        weft_job_list_free(jobs, n);
        if (err) snprintf(err, WEFT_ERRBUF_SIZE, "no job '%s'", id);
        return WEFT_ENOTFOUND;
    }
    size_t found = n, matches = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(jobs[i]->id, id, strlen(id)) == 0) {
            if (!matches) found = i;
            matches++;
        }
    weft_err r = WEFT_OK;
    if (matches == 0) {
        if (err) snprintf(err, WEFT_ERRBUF_SIZE, "no job '%s'", id);
        r = WEFT_ENOTFOUND;
    } else if (matches > 1) {
        if (err) snprintf(err, WEFT_ERRBUF_SIZE, "'%s' matches %zu jobs; give more of the id", id, matches);
        r = WEFT_EINVAL;
    } else {
        *out = jobs[found];
        jobs[found] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (jobs[i]) weft_job_info_free(jobs[i]);
    free(jobs);
    return r;
}

/* ---- text -------------------------------------------------------------- */

const char *out_duration(int64_t us, char *buf, size_t size)
{
    if (us < 0) {
        snprintf(buf, size, "-");
    } else if (us < 1000000) {
        snprintf(buf, size, "%lldms", (long long)(us / 1000));
    } else if (us < 60 * 1000000LL) {
        snprintf(buf, size, "%.2fs", (double)us / 1e6);
    } else {
        long long s = (long long)(us / 1000000);
        if (s < 3600)
            snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
        else
            snprintf(buf, size, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
    }
    return buf;
}

const char *out_time(int64_t us, bool date, char *buf, size_t size)
{
    if (us <= 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(buf, size, "%lld", (long long)us);
        return buf;
    }
    char hms[64];
    strftime(hms, sizeof hms, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03d", hms, (int)(us % 1000000 / 1000));
    return buf;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t out_job_duration_us(const weft_job_info *job)
{
    int64_t start = job->status_time_us[WEFT_JOB_RUNNING];
    if (start <= 0) return -1;
    if (job->status == WEFT_JOB_RUNNING) {
        int64_t d = now_us() - start;
        return d < 0 ? 0 : d;
    }
    int64_t end = weft_job_status_is_final(job->status) ? job->status_time_us[job->status] : 0;
    if (end <= 0) return -1; /* back to PENDING for a retry */
    return end >= start ? end - start : 0;
}

int64_t out_job_status_time_us(const weft_job_info *job)
{
    if (job->status >= 0 && job->status < WEFT_JOB_NSTATUS && job->status_time_us[job->status] > 0)
        return job->status_time_us[job->status];
    int64_t t = 0;
    for (int s = 0; s < WEFT_JOB_NSTATUS; s++)
        if (job->status_time_us[s] > t) t = job->status_time_us[s];
    return t;
}

const char *out_short_id(const char *id, char *buf, size_t size)
{
    /* JOB_<task config id>_<uuid>: the uuid starts after the last '_'
     * (task ids may contain '_', uuids do not). */
    const char *us = id ? strrchr(id, '_') : NULL;
    if (!us || strlen(us + 1) <= 8) {
        snprintf(buf, size, "%s", id ? id : "-");
        return buf;
    }
    snprintf(buf, size, "%.*s", (int)(us + 1 - id) + 8, id);
    return buf;
}

size_t out_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

/* ---- tables ------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "-");
    if (!p) {
        fputs("weft: out of memory\n", stderr);
        exit(CLI_FAILED);
    }
    return p;
}

/* Makes room for one more row after the last (the header is row 0). */
static void table_grow(out_table *t)
{
    size_t rows = t->nrows + 2;
    if (WEFT__GROW(t->cells, rows * t->ncols, t->cells_cap) || WEFT__GROW(t->notes, rows, t->notes_cap)) {
        fputs("weft: out of memory\n", stderr);
        exit(CLI_FAILED);
    }
}

void out_table_header(out_table *t, size_t ncols, const char *const *headers)
{
    t->ncols = ncols;
    t->nrows = 0;
    table_grow(t);
    for (size_t c = 0; c < ncols; c++) t->cells[c] = xstrdup(headers[c]);
    t->notes[0] = NULL;
}

void out_table_row(out_table *t, const char *const *cells)
{
    table_grow(t);
    size_t r = ++t->nrows;
    for (size_t c = 0; c < t->ncols; c++) t->cells[r * t->ncols + c] = xstrdup(cells[c]);
    t->notes[r] = NULL;
}

void out_table_note(out_table *t, const char *note)
{
    if (!t->nrows || !note) return;
    free(t->notes[t->nrows]);
    t->notes[t->nrows] = out_redact(note);
}

/* The table with every cell and note escaped (out_term_escape()), for a
 * terminal; false when out of memory. */
static bool table_escaped(const out_table *t, out_table *e)
{
    *e = *t;
    size_t ncells = (t->nrows + 1) * t->ncols;
    e->cells = calloc(ncells, sizeof *e->cells);
    e->notes = calloc(t->nrows + 1, sizeof *e->notes);
    bool ok = e->cells && e->notes;
    for (size_t i = 0; ok && i < ncells; i++) ok = (e->cells[i] = out_term_escape(t->cells[i])) != NULL;
    for (size_t r = 0; ok && r <= t->nrows; r++)
        ok = !t->notes[r] || (e->notes[r] = out_term_escape(t->notes[r])) != NULL;
    e->cells_cap = e->cells ? ncells : 0;
    e->notes_cap = e->notes ? t->nrows + 1 : 0;
    return ok;
}

static void table_print(const out_table *t, FILE *out);

void out_table_print(const out_table *t, FILE *out)
{
    if (!t->cells) return;
    if (!isatty(fileno(out))) {
        table_print(t, out);
        return;
    }
    out_table e;
    if (table_escaped(t, &e)) table_print(&e, out);
    else fputs("weft: out of memory\n", stderr);
    for (size_t i = 0; e.cells && i < e.cells_cap; i++) free(e.cells[i]);
    for (size_t r = 0; e.notes && r < e.notes_cap; r++) free(e.notes[r]);
    free(e.cells);
    free(e.notes);
}

static void table_print(const out_table *t, FILE *out)
{
    size_t width[32] = {0};
    size_t nc = t->ncols < 32 ? t->ncols : 32;
    for (size_t r = 0; r <= t->nrows; r++)
        for (size_t c = 0; c < nc; c++) {
            size_t w = out_width(t->cells[r * t->ncols + c]);
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < nc; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == nc) {
                fputs(cell, out); /* no trailing blanks */
            } else {
                fputs(cell, out);
                for (size_t k = out_width(cell); k < width[c] + 2; k++) fputc(' ', out);
            }
        }
        fputc('\n', out);
        if (t->notes[r]) {
            /* Every line of a multi-line note gets the indent. */
            const char *p = t->notes[r];
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                fprintf(out, "    %.*s\n", (int)len, p);
                p += len + (nl ? 1 : 0);
            }
        }
    }
}

void out_table_release(out_table *t)
{
    if (t->cells) {
        for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++) free(t->cells[i]);
        for (size_t r = 0; r <= t->nrows; r++) free(t->notes[r]);
    }
    free(t->cells);
    free(t->notes);
    *t = (out_table)OUT_TABLE_INIT;
}

/* ---- JSON -------------------------------------------------------------- */

json_t *out_json_str(const char *s)
{
    if (!s) return json_null();
    char *safe = out_redact(s);
    json_t *v = safe ? json_string(safe) : NULL;
    free(safe);
    /* json_string() refuses invalid UTF-8 (a log tail may hold anything). */
    if (!v) v = json_stringn_nocheck(s, strlen(s));
    return v ? v : json_null();
}

json_t *out_job_json(const weft_job_info *j)
{
    json_t *times = json_object();
    for (int s = 0; s < WEFT_JOB_NSTATUS; s++)
        if (j->status_time_us[s] > 0) {
            char buf[64];
            json_object_set_new(times, weft_job_status_name((weft_job_status)s),
                                json_string(out_time(j->status_time_us[s], true, buf, sizeof buf)));
        }
    int64_t d = out_job_duration_us(j);
    json_t *o = json_object();
    json_object_set_new(o, "id", out_json_str(j->id));
    json_object_set_new(o, "task", out_json_str(j->task_config_id));
    json_object_set_new(o, "task_id", out_json_str(j->task_id));
    json_object_set_new(o, "submission", out_json_str(j->submission_id));
    json_object_set_new(o, "entity", out_json_str(j->entity_id));
    json_object_set_new(o, "status", json_string(weft_job_status_name(j->status)));
    json_object_set_new(o, "attempt", json_integer(j->attempt));
    json_object_set_new(o, "duration_ms", d >= 0 ? json_integer(d / 1000) : json_null());
    json_object_set_new(o, "status_times", times);
    json_object_set_new(o, "error", out_json_str(j->error));
    json_object_set_new(o, "exit_code", j->exit_code >= 0 ? json_integer(j->exit_code) : json_null());
    json_object_set_new(o, "signal", j->signal ? json_integer(j->signal) : json_null());
    json_object_set_new(o, "worker", out_json_str(j->worker));
    json_object_set_new(o, "log_tail", out_json_str(j->log_tail));
    return o;
}

json_t *out_submission_json(const weft_submission_info *s)
{
    char buf[64];
    json_t *counts = json_object();
    for (int k = 0; k < WEFT_JOB_NSTATUS; k++)
        if (s->count[k])
            json_object_set_new(counts, weft_job_status_name((weft_job_status)k),
                                json_integer((json_int_t)s->count[k]));
    json_t *o = json_object();
    json_object_set_new(o, "id", out_json_str(s->id));
    json_object_set_new(o, "entity", out_json_str(s->entity_id));
    json_object_set_new(o, "config_id", out_json_str(s->entity_config_id));
    json_object_set_new(o, "status", json_string(weft_submission_status_name(s->status)));
    json_object_set_new(o, "created", s->created_us > 0
                                          ? json_string(out_time(s->created_us, true, buf, sizeof buf))
                                          : json_null());
    json_object_set_new(o, "finished", s->finished_us > 0
                                           ? json_string(out_time(s->finished_us, true, buf, sizeof buf))
                                           : json_null());
    json_object_set_new(o, "duration_ms", s->finished_us > 0 && s->created_us > 0
                                              ? json_integer((s->finished_us - s->created_us) / 1000)
                                              : json_null());
    json_object_set_new(o, "jobs", json_integer((json_int_t)s->njobs));
    json_object_set_new(o, "counts", counts);
    return o;
}

int out_json_print(json_t *v)
{
    if (!v) {
        cli_error("out of memory");
        return CLI_FAILED;
    }
    int r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(v);
    fputc('\n', stdout);
    if (r != 0 || fflush(stdout) != 0) {
        cli_error("cannot write the output: %s", strerror(errno));
        return CLI_FAILED;
    }
    return CLI_OK;
}

const char *out_delete_counts(const weft_delete_counts *c, char *buf, size_t size)
{
    snprintf(buf, size,
             "%zu scenario%s, %zu task%s, %zu data node%s (%zu file%s), %zu submission%s, "
             "%zu job%s",
             c->scenarios, c->scenarios == 1 ? "" : "s", c->tasks, c->tasks == 1 ? "" : "s",
             c->data_nodes, c->data_nodes == 1 ? "" : "s", c->files, c->files == 1 ? "" : "s",
             c->submissions, c->submissions == 1 ? "" : "s", c->jobs, c->jobs == 1 ? "" : "s");
    size_t n = strlen(buf);
    if (c->cycles && n < size)
        snprintf(buf + n, size - n, ", %zu cycle%s", c->cycles, c->cycles == 1 ? "" : "s");
    return buf;
}
