/* SPDX-License-Identifier: MIT */
/*
 * runs.c - the Run button: starts `weft run -c CONFIG -s SCENARIO` as a
 * child and finds the submission it made.
 *
 * The server has threads, so it must not start an orchestrator itself in
 * standalone mode (that forks a fork server from a multi-threaded
 * process); and a child `weft run` is what a person would start, it
 * survives the server and takes the store's writer lock like any other.
 * posix_spawn() (vfork + exec, nothing run in between) starts it in its
 * own process group, its output in <storage>/ui-runs/<time>-<pid>.log;
 * its "weft: running SCENARIO_..." line names the scenario instance, and
 * the store then gives that instance's submission.  The poller reaps
 * children that end.
 */
/* posix_spawn_file_actions_addclosefrom_np(): the child gets no descriptor
 * of the server (sockets of other clients, the store) beyond 0-2. */
#define _GNU_SOURCE
#include "core/pages.h"
#include "web/web.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define WAIT_NS (15 * 1000000000LL)

static weft_err spawn_child(weft_ui *ui, const char *scenario, const char *sequence,
                            const char *log, pid_t *pid, char *err)
{
    const char *argv[] = {ui->exe, "run", "-c", ui->config_file, "-s", scenario,
                          sequence ? "--sequence" : NULL, sequence, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawn(pid, ui->exe, &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) return weft__err(err, WEFT_ESPAWN, "cannot run '%s': %s", ui->exe, strerror(rc));
    return WEFT_OK;
}

/* The scenario instance id in the child's log, or NULL while not there. */
static char *running_line(const char *log, bool *failed, char *err)
{
    char *text = NULL;
    size_t len = 0;
    if (weft__read_file(log, &text, &len, NULL)) return NULL;
    char *m = strstr(text, "weft: running ");
    char *id = NULL;
    if (m) {
        m += 14;
        id = weft__strndup(m, strcspn(m, " \n"));
    } else if (*failed) {
        char *last = text + len;
        while (last > text && last[-1] == '\n') *--last = '\0';
        while (last > text && last[-1] != '\n') last--;
        weft__err(err, WEFT_ESPAWN, "weft run ended: %s", *last ? last : "no output");
    }
    free(text);
    return id;
}

static bool kid_alive(weft_ui *ui, pid_t pid)
{
    pthread_mutex_lock(&ui->mu);
    bool alive = false;
    for (size_t i = 0; i < ui->nkids; i++) alive |= ui->kids[i].pid == pid;
    pthread_mutex_unlock(&ui->mu);
    return alive;
}

typedef struct find_q {
    const char *scenario_id;
    char *sub;
} find_q;

static weft_err find_sub(weft__store *s, void *ud, char *err)
{
    find_q *f = ud;
    return weft__page_submission_of(s, f->scenario_id, &f->sub, err);
}

/* Waits for the child's scenario, then for its submission in the store. */
static weft_err await_submission(weft_ui *ui, pid_t pid, const char *log, char **scen, char **sub,
                                 char *err)
{
    int64_t deadline = weft__mono_ns() + WAIT_NS;
    find_q f = {0};
    while (weft__mono_ns() < deadline) {
        bool failed = !kid_alive(ui, pid);
        if (!f.scenario_id && !(f.scenario_id = running_line(log, &failed, err)) && failed)
            return WEFT_ESPAWN;
        weft_orchestrator *o = f.scenario_id ? weft__ui_orch(ui) : NULL;
        if (o && weft__orch_query(o, find_sub, &f, NULL) == WEFT_OK) {
            *scen = (char *)f.scenario_id;
            *sub = f.sub;
            return WEFT_OK;
        }
        usleep(50 * 1000);
    }
    free((char *)f.scenario_id);
    return weft__err(err, WEFT_ETIMEDOUT, "weft run made no submission within 15 s (see %s)", log);
}

weft_err weft__run_spawn(weft_ui *ui, const char *scenario, const char *sequence,
                         char **scenario_id, char **submission_id, char *err)
{
    if (!ui->config_file) return weft__err(err, WEFT_EINVAL, "the configuration was not loaded from a file");
    const char *storage = ui->storage_override ? ui->storage_override
                                               : weft_config_storage_folder(ui->cfg);
    /* A relative storage folder is relative to the application path, as the
     * orchestrator resolves it (not to this process's working directory). */
    const char *app = storage[0] == '/' ? "" : weft_config_application_path(ui->cfg);
    char top[4096], dir[4200], log[4300];
    snprintf(top, sizeof top, "%s%s%s", app, *app ? "/" : "", storage);
    size_t tl = strlen(top);
    while (tl > 1 && top[tl - 1] == '/') top[--tl] = '\0'; /* ".weft/" as configured */
    snprintf(dir, sizeof dir, "%s/ui-runs", top);
    mkdir(top, 0755);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return weft__err(err, WEFT_EIO, "cannot create %s: %s", dir, strerror(errno));
    static int counter;
    snprintf(log, sizeof log, "%s/%lld-%d-%d.log", dir, (long long)(weft__now_us() / 1000000), (int)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    pid_t pid;
    weft_err e = spawn_child(ui, scenario, sequence, log, &pid, err);
    if (e) return e;
    pthread_mutex_lock(&ui->mu);
    if (WEFT__GROW(ui->kids, ui->nkids + 1, ui->capkids) == WEFT_OK)
        ui->kids[ui->nkids++] = (weft__kid){pid, NULL};
    pthread_mutex_unlock(&ui->mu);
    weft__log(&ui->log, WEFT_LOG_INFO, "ui", "started weft run -s %s%s%s (pid %d, output in %s)",
              scenario, sequence ? " --sequence " : "", sequence ? sequence : "", (int)pid, log);
    return await_submission(ui, pid, log, scenario_id, submission_id, err);
}

void weft__run_reap(weft_ui *ui)
{
    pthread_mutex_lock(&ui->mu);
    for (size_t i = 0; i < ui->nkids;) {
        int st;
        pid_t r;
        while ((r = waitpid(ui->kids[i].pid, &st, WNOHANG)) < 0 && errno == EINTR) {}
        if (r == 0) {
            i++;
            continue;
        }
        free(ui->kids[i].scenario_id);
        ui->kids[i] = ui->kids[--ui->nkids];
    }
    pthread_mutex_unlock(&ui->mu);
}
