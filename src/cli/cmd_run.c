/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c - `weft run`: load and check the configuration, create a
 * scenario instance, submit it and wait, showing progress as jobs change
 * status, then print a summary (or one JSON object) and exit with a status
 * that says how the submission ended.
 *
 * Progress comes from weft_subscribe() callbacks, which run on the thread
 * that stored the change (the dispatcher thread in standalone and cluster
 * mode), so the progress state has its own lock.  Ctrl-C only sets a flag
 * that weft_submit() polls: the engine cancels the running jobs and stores
 * the final statuses, and we exit 130 with a consistent store.
 */
#include "cli/opts.h"
#include "cli/output.h"
#include "util/util.h" /* weft__strmap, WEFT__GROW, weft__log, weft__keep_freed_heap: the command links libweft statically */

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int cmd_run(int argc, char **argv);

/* The signal that asked us to stop (SIGINT, SIGTERM), 0 while none did. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

/* ---- progress ---------------------------------------------------------- */

typedef struct progress_job {
    char *id;
    weft_job_status status;
} progress_job;

typedef struct progress {
    pthread_mutex_t lock;
    pthread_cond_t tick;   /* wakes the ticker early when the run ends */
    pthread_t ticker;
    bool ticking;          /* the ticker thread runs */
    bool tty;      /* one updating line on stderr, rather than a line per change */
    bool quiet;    /* --json: no progress at all */
    bool done;     /* the summary is being printed: later events are dropped */
    bool drawn;    /* the progress line is on the screen */
    size_t expected; /* jobs the scenario will have (its tasks) */
    progress_job *jobs;
    size_t njobs, cap;
    weft__strmap index;    /* job id -> index + 1 in jobs: O(1) per event */
    size_t count[WEFT_JOB_NSTATUS];
    struct timespec t0;
} progress;

static double elapsed_s(const progress *p)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - p->t0.tv_sec) + (double)(t.tv_nsec - p->t0.tv_nsec) / 1e9;
}

/* Records a job's new status; false when out of memory (the event is then only printed). */
static bool progress_track(progress *p, const char *id, weft_job_status st)
{
    uintptr_t at = (uintptr_t)weft__strmap_get(&p->index, id);
    if (at) {
        progress_job *j = &p->jobs[at - 1];
        if (j->status < WEFT_JOB_NSTATUS) p->count[j->status]--;
        j->status = st;
        p->count[st]++;
        return true;
    }
    if (WEFT__GROW(p->jobs, p->njobs + 1, p->cap)) return false;
    char *copy = strdup(id);
    if (!copy) return false;
    if (weft__strmap_put(&p->index, copy, (void *)(uintptr_t)(p->njobs + 1))) {
        free(copy);
        return false;
    }
    p->jobs[p->njobs++] = (progress_job){copy, st};
    p->count[st]++;
    return true;
}

/* The one-line view: "[#####.....] 3/7  2 running  1 failed  4.1s". */
static void progress_draw(progress *p)
{
    size_t total = p->njobs > p->expected ? p->njobs : p->expected;
    size_t fin = 0;
    for (int s = 0; s < WEFT_JOB_NSTATUS; s++)
        if (weft_job_status_is_final((weft_job_status)s)) fin += p->count[s];
    enum { BAR = 24 };
    size_t fill = total ? fin * BAR / total : 0;
    char bar[BAR + 1];
    for (size_t i = 0; i < BAR; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR] = '\0';
    char line[512];
    int n = snprintf(line, sizeof line, "\r\033[K[%s] %zu/%zu", bar, fin, total);
    static const weft_job_status order[] = {
        WEFT_JOB_RUNNING, WEFT_JOB_PENDING, WEFT_JOB_BLOCKED, WEFT_JOB_SUBMITTED, WEFT_JOB_COMPLETED, WEFT_JOB_SKIPPED,
        WEFT_JOB_FAILED, WEFT_JOB_CANCELED, WEFT_JOB_ABANDONED,
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0] && n > 0 && (size_t)n < sizeof line; i++) {
        if (!p->count[order[i]]) continue;
        char name[16];
        snprintf(name, sizeof name, "%s", weft_job_status_name(order[i]));
        for (char *c = name; *c; c++) *c = (char)(*c - 'A' + 'a');
        n += snprintf(line + n, sizeof line - (size_t)n, "  %zu %s", p->count[order[i]], name);
    }
    if (n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "  %.1fs", elapsed_s(p));
    /* A line wider than the terminal would wrap, and "\r" would then
     * redraw only its last part: cut it to the width (4 bytes of escape). */
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 && (size_t)ws.ws_col + 3 < sizeof line)
        line[ws.ws_col + 3] = '\0';
    fputs(line, stderr);
    fflush(stderr);
    p->drawn = true;
}

static void progress_clear(progress *p)
{
    if (p->tty && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

static void on_event(const weft_event *ev, void *userdata)
{
    progress *p = userdata;
    if (!ev->job_id) return; /* submission changes: the summary reports the end */
    pthread_mutex_lock(&p->lock);
    if (!p->done) {
        if (ev->job_status >= 0 && ev->job_status < WEFT_JOB_NSTATUS)
            progress_track(p, ev->job_id, ev->job_status);
        char when[64], sid[256];
        out_time(ev->at_us, false, when, sizeof when);
        out_short_id(ev->job_id, sid, sizeof sid);
        const char *name = weft_job_status_name(ev->job_status);
        char *error = out_display(ev->error, stderr);
        if (p->quiet) {
            /* --json: the object says it all */
        } else if (!p->tty) {
            fprintf(stderr, "%s %s %s %s%s%s\n", when, sid, ev->task_config_id ? ev->task_config_id : "-",
                    name ? name : "?", error ? ": " : "", error ? error : "");
            fflush(stderr);
        } else {
            /* Failures scroll above the progress line, which is redrawn. */
            if (ev->job_status == WEFT_JOB_FAILED) {
                progress_clear(p);
                fprintf(stderr, "%s %s %s FAILED%s%s\n", when, sid,
                        ev->task_config_id ? ev->task_config_id : "-", error ? ": " : "",
                        error ? error : "");
            }
            progress_draw(p);
        }
        free(error);
    }
    pthread_mutex_unlock(&p->lock);
}

/* On a terminal, redraws the line 4 times a second so that the elapsed time
 * moves while a long job runs and no event comes. */
static void *ticker_main(void *arg)
{
    progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->tick, &p->lock, &ts);
        if (!p->done) progress_draw(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void progress_finish(progress *p)
{
    pthread_mutex_lock(&p->lock);
    progress_clear(p);
    p->done = true;
    pthread_cond_signal(&p->tick);
    pthread_mutex_unlock(&p->lock);
    if (p->ticking) pthread_join(p->ticker, NULL);
    p->ticking = false;
}

static void progress_release(progress *p)
{
    weft__strmap_release(&p->index);
    for (size_t i = 0; i < p->njobs; i++) free(p->jobs[i].id);
    free(p->jobs);
    p->jobs = NULL;
    p->njobs = p->cap = 0;
}

/* ---- options ----------------------------------------------------------- */


typedef struct run_args {
    const char *config, *scenario;
    const char *sequence; /* NULL: the whole scenario */
    const char *date;     /* --date: the instance's creation date; NULL: now */
    int mode;     /* a weft_mode; -1: the configuration's */
    long workers; /* 0: the configuration's */
    bool force, json;
    const char *experiment, *production; /* the version to tag with; NULL: development */
} run_args;

static int parse_args(int argc, char **argv, run_args *a)
{
    const cli_opt opts[] = {
        CLI_CONFIG(&a->config),
        CLI_STRING("scenario", 's', "a scenario id", &a->scenario),
        CLI_STRING("sequence", 0, "a sequence name", &a->sequence),
        CLI_STRING("date", 0, "a date", &a->date),
        CLI_MODE(&a->mode),
        CLI_LONG("workers", 'w', &a->workers, 1, 4096),
        CLI_FLAG("force", 'f', &a->force),
        CLI_FLAG("json", 0, &a->json),
        CLI_STRING("experiment", 0, "a version name", &a->experiment),
        CLI_STRING("production", 0, "a version name", &a->production),
        CLI_LOG_OPTS,
        CLI_END,
    };
    cli_parse_opts p = {.cmd = "run", .opts = opts, .hint = "(use -s SCENARIO)"};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (!rc && a->experiment && a->production)
        return cli_usage_error("run", "give --experiment or --production, not both");
    return rc;
}

/* Lists the configured scenario ids as "a, b, c" into buf. */
static const char *scenario_list(const weft_config *cfg, char *buf, size_t size)
{
    size_t n = weft_config_count(cfg, WEFT_SECTION_SCENARIO), o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
                         weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, i));
        if (w < 0) break;
        o += (size_t)w;
    }
    return buf;
}

/*
 * Sets a->scenario (borrowed from cfg) to the scenario to run: the one
 * given, which must exist, or the configuration's only one.  Returns CLI_OK,
 * or CLI_USAGE after listing the scenarios there are.
 */
static int choose_scenario(const weft_config *cfg, run_args *a)
{
    char list[1024];
    size_t nscen = weft_config_count(cfg, WEFT_SECTION_SCENARIO);
    if (!a->scenario) {
        if (nscen == 1) {
            a->scenario = weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, 0);
            return CLI_OK;
        }
        return nscen ? cli_usage_error("run", "%s has %zu scenarios; choose one with -s: %s", a->config, nscen,
                                       scenario_list(cfg, list, sizeof list))
                     : cli_usage_error("run", "%s declares no scenario ([SCENARIO.<id>] with tasks)", a->config);
    }
    for (size_t i = 0; i < nscen; i++)
        if (strcmp(weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, i), a->scenario) == 0) return CLI_OK;
    return nscen ? cli_usage_error("run", "%s has no scenario '%s'; its scenarios: %s", a->config, a->scenario,
                                   scenario_list(cfg, list, sizeof list))
                 : cli_usage_error("run", "%s has no scenario '%s' (it declares none)", a->config, a->scenario);
}

/* The sequence names of configured scenario section `sec` as "a, b" into buf. */
static const char *sequence_list(const weft_config *cfg, const char *sec, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < weft_config_nkeys(cfg, sec) && o < size; i++) {
        const char *k = weft_config_key_at(cfg, sec, i);
        if (strncmp(k, "sequences.", 10) != 0) continue;
        int w = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", k + 10);
        if (w > 0) o += (size_t)w;
    }
    return buf;
}

/* Checks --sequence against the chosen scenario's sequences, and sets key
 * to the config key that lists the tasks to run. */
static int choose_sequence(const weft_config *cfg, const run_args *a, char *key, size_t size)
{
    char sec[300], list[1024];
    snprintf(key, size, "tasks");
    if (!a->sequence) return CLI_OK;
    snprintf(sec, sizeof sec, "SCENARIO.%s", a->scenario);
    snprintf(key, size, "sequences.%s", a->sequence);
    if (weft_config_lookup(cfg, sec, key)) return CLI_OK;
    sequence_list(cfg, sec, list, sizeof list);
    return list[0] ? cli_usage_error("run", "scenario '%s' has no sequence '%s'; its sequences: %s", a->scenario,
                                     a->sequence, list)
                   : cli_usage_error("run", "scenario '%s' has no sequence '%s' (it declares none)", a->scenario,
                                     a->sequence);
}

/* ---- the summary ------------------------------------------------------- */

static const char *status_word(weft_job_status s, char *buf, size_t size)
{
    snprintf(buf, size, "%s", weft_job_status_name(s));
    for (char *c = buf; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return buf;
}

static void print_summary(const weft_submission_info *sub, weft_job_info **jobs, size_t n,
                          int64_t wall_us)
{
    out_table t = OUT_TABLE_INIT;
    static const char *const head[] = {"JOB", "TASK", "STATUS", "DURATION"};
    out_table_header(&t, 4, head);
    for (size_t i = 0; i < n; i++) {
        char d[32];
        const char *row[] = {jobs[i]->id, jobs[i]->task_config_id,
                             weft_job_status_name(jobs[i]->status),
                             out_duration(out_job_duration_us(jobs[i]), d, sizeof d)};
        out_table_row(&t, row);
        if (jobs[i]->error && jobs[i]->status != WEFT_JOB_COMPLETED) {
            size_t len = strlen(jobs[i]->error) + 8;
            char *note = malloc(len);
            if (note) {
                snprintf(note, len, "error: %s", jobs[i]->error);
                out_table_note(&t, note);
                free(note);
            }
        }
    }
    out_table_print(&t, stdout);
    out_table_release(&t);

    char counts[512] = "", d[32], w[32];
    size_t o = 0;
    for (int s = 0; s < WEFT_JOB_NSTATUS && o < sizeof counts; s++)
        if (sub->count[s]) {
            int k = snprintf(counts + o, sizeof counts - o, ", %zu %s", sub->count[s],
                             status_word((weft_job_status)s, w, sizeof w));
            if (k > 0) o += (size_t)k;
        }
    printf("\n%s %s in %s: %zu job%s%s\n", sub->id, weft_submission_status_name(sub->status),
           out_duration(wall_us, d, sizeof d), sub->njobs, sub->njobs == 1 ? "" : "s", counts);
    fflush(stdout);
}

/* The failures again on stderr, where a person watching the run looks. */
static void print_failures(weft_job_info **jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const weft_job_info *j = jobs[i];
        if (j->status != WEFT_JOB_FAILED) continue;
        char extra[128] = "";
        if (j->signal > 0)
            snprintf(extra, sizeof extra, " (killed by signal %d, %s)", j->signal, strsignal(j->signal));
        else if (j->exit_code > 0)
            snprintf(extra, sizeof extra, " (exit code %d)", j->exit_code);
        cli_error("job %s (task %s) failed%s: %s", j->id, j->task_config_id, extra,
                  j->error ? j->error : "no reason recorded");
    }
}

/* sequence_id: NULL when the whole scenario ran (then the key is absent). */
static int print_json(const char *sub_id, const char *scenario_id, const char *sequence_id,
                      const char *cycle_id, const weft_submission_info *sub, weft_job_info **jobs,
                      size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        int64_t d = out_job_duration_us(jobs[i]);
        json_t *j = json_object();
        json_object_set_new(j, "id", out_json_str(jobs[i]->id));
        json_object_set_new(j, "task", out_json_str(jobs[i]->task_config_id));
        json_object_set_new(j, "status", json_string(weft_job_status_name(jobs[i]->status)));
        json_object_set_new(j, "duration_ms", d >= 0 ? json_integer(d / 1000) : json_null());
        json_object_set_new(j, "error", out_json_str(jobs[i]->error));
        json_object_set_new(j, "exit_code",
                            jobs[i]->exit_code >= 0 ? json_integer(jobs[i]->exit_code) : json_null());
        json_array_append_new(arr, j);
    }
    json_t *o = json_object();
    json_object_set_new(o, "submission", out_json_str(sub_id));
    json_object_set_new(o, "scenario", out_json_str(scenario_id));
    if (sequence_id) json_object_set_new(o, "sequence", out_json_str(sequence_id));
    json_object_set_new(o, "status", sub ? json_string(weft_submission_status_name(sub->status))
                                         : json_null());
    json_object_set_new(o, "jobs", arr);
    json_object_set_new(o, "cycle", out_json_str(cycle_id));
    return out_json_print(o);
}

/* ---- the command ------------------------------------------------------- */

/* What one `weft run` holds, released by run_release(). */
typedef struct run_state {
    run_args a;
    weft_config *cfg;
    weft_orchestrator *o;
    progress prog;
    char *scenario_id, *sub_id;
    char *sequence_id; /* with --sequence: what is submitted */
    char *cycle_id;    /* the instance's cycle, NULL when its scenario has no frequency */
    bool primary;      /* it is its cycle's primary scenario */
    char seq_key[300]; /* "tasks" or "sequences.<name>" in the scenario's section */
    weft_submission_info *sub;
    weft_job_info **jobs;
    size_t njobs;
    char err[WEFT_ERRBUF_SIZE];
} run_state;

/* Installed before anything starts, so an early Ctrl-C is not lost; the
 * engine polls the flag while the submission runs.  Worker processes get
 * the default disposition back when they are started. */
static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* `key` is "tasks", or "sequences.<name>" for a sequence. */
static void progress_init(progress *p, const weft_config *cfg, const char *scenario, const char *key,
                          bool json)
{
    *p = (progress){.tty = isatty(STDERR_FILENO) == 1, .quiet = json};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->tick, NULL);
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    char sv[256];
    snprintf(sv, sizeof sv, "SCENARIO.%s", scenario);
    p->expected = weft_value_len(weft_config_lookup(cfg, sv, key));
}

/*
 * Opens the store, starts the executor, follows the run and creates the
 * scenario instance.  Returns CLI_OK, or the exit code after printing why:
 * a broker URL that is wrong or refuses us is a configuration problem
 * (CLI_USAGE), not a failed run.
 */
static int run_start(run_state *s)
{
    /* Ctrl-C while cluster mode waits for the broker ends the wait. */
    weft_orchestrator_opts oopts = {.interrupt = &stop_signal};
    weft_err e = weft_orchestrator_open(s->cfg, &oopts, &s->o, s->err);
    if (e) {
        cli_error("cannot open the store: %s", s->err[0] ? s->err : weft_strerror(e));
        return e == WEFT_EBROKER || e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED; /* resuming cluster jobs */
    }
    /* Started here, from the main thread and before any thread of ours:
     * standalone mode forks its fork server now, which must happen while
     * the process is single-threaded, from a thread that lives as long as
     * the orchestrator. */
    if ((e = weft_orchestrator_start(s->o, s->err))) {
        cli_error("cannot start %s mode: %s", weft_mode_name(weft_orchestrator_mode(s->o)),
                  s->err[0] ? s->err : weft_strerror(e));
        return e == WEFT_EBROKER || e == WEFT_EINVAL || e == WEFT_ECONFIG ? CLI_USAGE : CLI_FAILED;
    }
    if (s->prog.tty && !s->prog.quiet && pthread_create(&s->prog.ticker, NULL, ticker_main, &s->prog) == 0)
        s->prog.ticking = true;
    if ((e = weft_subscribe(s->o, on_event, &s->prog))) {
        cli_error("cannot follow the run: %s", weft_strerror(e));
        return CLI_FAILED;
    }
    const char *version = s->a.experiment ? s->a.experiment : s->a.production;
    if (version && (e = weft_version_set(s->o, version,
                                         s->a.experiment ? WEFT_VERSION_EXPERIMENT
                                                         : WEFT_VERSION_PRODUCTION,
                                         s->err))) {
        cli_error("%s", s->err[0] ? s->err : weft_strerror(e));
        return CLI_USAGE;
    }
    weft_scenario_opts copts = {.creation_date = s->a.date};
    if ((e = weft_scenario_create_with(s->o, s->a.scenario, &copts, &s->scenario_id, s->err))) {
        cli_error("cannot create scenario '%s': %s", s->a.scenario, s->err[0] ? s->err : weft_strerror(e));
        return e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED; /* --date */
    }
    if ((e = weft_scenario_cycle(s->o, s->scenario_id, &s->cycle_id, &s->primary, s->err))) {
        cli_error("%s", s->err[0] ? s->err : weft_strerror(e));
        return CLI_FAILED;
    }
    if (s->a.sequence && (e = weft_sequence_id(s->scenario_id, s->a.sequence, &s->sequence_id, s->err))) {
        cli_error("%s", s->err[0] ? s->err : weft_strerror(e));
        return CLI_FAILED;
    }
    return CLI_OK;
}

/* "weft: running SCENARIO_... in standalone mode, 2 workers": informative,
 * so not with --quiet nor --json; --verbose adds the configuration used. */
static void run_announce(const run_state *s)
{
    weft_mode m = weft_orchestrator_mode(s->o);
    weft__log(NULL, WEFT_LOG_DEBUG, "run", "configuration %s, scenario %s, %s mode, %d worker%s, store %s",
              s->a.config, s->a.scenario, weft_mode_name(m), weft_config_max_nb_of_workers(s->cfg),
              weft_config_max_nb_of_workers(s->cfg) == 1 ? "" : "s", weft_config_storage_folder(s->cfg));
    if (s->a.json || cli_log_level() < WEFT_LOG_INFO) return;
    char how[512] = "";
    if (m == WEFT_MODE_STANDALONE) {
        snprintf(how, sizeof how, ", %d worker%s", weft_config_max_nb_of_workers(s->cfg),
                 weft_config_max_nb_of_workers(s->cfg) == 1 ? "" : "s");
    } else if (m == WEFT_MODE_CLUSTER) {
        char *url = out_redact(weft_config_broker_url(s->cfg));
        snprintf(how, sizeof how, ", broker %s, queue %s", url ? url : "?", weft_config_queue(s->cfg));
        free(url);
    }
    fprintf(stderr, "weft: running %s in %s mode%s\n", s->sequence_id ? s->sequence_id : s->scenario_id,
            weft_mode_name(m), how);
    if (s->cycle_id)
        fprintf(stderr, "weft: %s is in cycle %s%s\n", s->scenario_id, s->cycle_id,
                s->primary ? " (its primary scenario)" : "");
}

/* Submits the instance and waits for the end; false when there is no
 * submission to report on. */
static bool run_submit(run_state *s)
{
    weft_submit_opts sopts = {.force = s->a.force, .wait = true, .interrupt = &stop_signal};
    const char *what = s->sequence_id ? s->sequence_id : s->scenario_id;
    weft_err e = weft_submit(s->o, what, &sopts, &s->sub_id, s->err);
    progress_finish(&s->prog);
    if (e && e != WEFT_ECANCELED) {
        char *m = out_redact(s->err[0] ? s->err : weft_strerror(e));
        cli_error("submitting %s failed: %s", what, m ? m : "");
        free(m);
    }
    /* After a store failure the store no longer says what happened: no
     * summary from it, exit 1 with the error above. */
    return s->sub_id != NULL && e != WEFT_ESTORE;
}

/* Reads the finished submission and prints the summary, or the JSON
 * object; returns the exit code. */
static int run_report(run_state *s)
{
    weft_job_filter filter = {.submission_id = s->sub_id, .status = -1};
    weft_err e;
    if ((e = weft_submission_get(s->o, s->sub_id, &s->sub, s->err)) ||
        (e = weft_jobs_list(s->o, &filter, &s->jobs, &s->njobs, s->err))) {
        cli_error("cannot read submission %s: %s", s->sub_id, s->err[0] ? s->err : weft_strerror(e));
        return CLI_FAILED;
    }
    if (s->a.json) {
        int rc = print_json(s->sub_id, s->scenario_id, s->sequence_id, s->cycle_id, s->sub, s->jobs,
                            s->njobs);
        if (rc) return rc;
    } else {
        const weft_submission_info *sub = s->sub;
        int64_t wall = sub->finished_us > 0 && sub->created_us > 0 ? sub->finished_us - sub->created_us
                                                                   : (int64_t)(elapsed_s(&s->prog) * 1e6);
        print_summary(sub, s->jobs, s->njobs, wall);
        print_failures(s->jobs, s->njobs);
    }
    return s->sub->status == WEFT_SUBMISSION_COMPLETED ? CLI_OK : CLI_FAILED;
}

/* Stops the progress, closes the orchestrator (every job is final here:
 * this does not wait) and frees everything.  Returns rc, or after Ctrl-C
 * or SIGTERM 128 + the signal. */
static int run_release(run_state *s, int rc)
{
    progress_finish(&s->prog); /* idempotent; stops the ticker on early exits */
    weft_orchestrator_close(s->o);
    if (stop_signal) {
        if (!s->a.json) cli_error("interrupted: unfinished jobs were canceled");
        rc = stop_signal == SIGINT ? CLI_SIGINT : 128 + stop_signal;
    }
    weft_job_list_free(s->jobs, s->njobs);
    weft_submission_info_free(s->sub);
    free(s->sub_id);
    free(s->scenario_id);
    free(s->sequence_id);
    free(s->cycle_id);
    progress_release(&s->prog);
    pthread_cond_destroy(&s->prog.tick);
    pthread_mutex_destroy(&s->prog.lock);
    weft_config_free(s->cfg);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_state s = {.a = {.config = "config.toml", .mode = -1}};
    int rc = parse_args(argc, argv, &s.a);
    if (rc) return rc;
    if ((rc = cli_load_checked(s.a.config, s.a.mode, (int)s.a.workers, true, &s.cfg))) return rc;
    if ((rc = choose_scenario(s.cfg, &s.a)) ||
        (rc = choose_sequence(s.cfg, &s.a, s.seq_key, sizeof s.seq_key))) {
        weft_config_free(s.cfg);
        return rc;
    }
    install_stop_handlers();
    weft__keep_freed_heap(); /* development mode runs the jobs in this process */
    progress_init(&s.prog, s.cfg, s.a.scenario, s.seq_key, s.a.json);
    if ((rc = run_start(&s)) == CLI_OK) {
        run_announce(&s);
        rc = run_submit(&s) ? run_report(&s) : CLI_FAILED;
    }
    return run_release(&s, rc);
}
