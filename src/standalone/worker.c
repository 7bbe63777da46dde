/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the standalone worker process: reads job specs from its
 * channel, runs each with weft__run_job() in its single thread, captures the
 * job's stdout/stderr, and writes the result back (see worker.h).
 *
 * Per job it costs a frame read, a JSON parse, the job, one lseek() to see
 * whether the job printed anything, a JSON encode and a frame write: no
 * process start, no dlopen after the first use of a module, no config
 * parsing.
 */
#define _GNU_SOURCE
#include "standalone/worker.h"

#include "standalone/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t cancel_ring[WEFT__CLAIM_RING];
static volatile sig_atomic_t quit_flag;

static void on_sigterm(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (si && si->si_code == SI_QUEUE && si->si_value.sival_int > 0) {
        int tag = si->si_value.sival_int;
        cancel_ring[(unsigned)tag % WEFT__CLAIM_RING] = tag;
    } else {
        quit_flag = 1;
    }
}

/* The output capture file (fds 1 and 2 point at it), -1 without one. */
static int capture_fd = -1;
/* A job's output is kept in memory (a memfd) until the job ends; past this
 * size it is cut to its last WEFT__LOG_TAIL_MAX bytes whenever the job asks
 * weft_ctx_canceled(), so a chatty job does not fill the machine's RAM. */
#define CAPTURE_TRIM_AT (1024 * 1024)
#define CAPTURE_TRIM_EVERY_NS (50 * 1000000LL)

static void capture_trim(void)
{
    off_t size = lseek(capture_fd, 0, SEEK_CUR);
    if (size <= CAPTURE_TRIM_AT) return;
    fflush(stdout);
    fflush(stderr);
    size = lseek(capture_fd, 0, SEEK_CUR);
    char *tail = malloc(WEFT__LOG_TAIL_MAX);
    if (!tail) return;
    ssize_t n = pread(capture_fd, tail, WEFT__LOG_TAIL_MAX, size - WEFT__LOG_TAIL_MAX);
    if (n > 0 && ftruncate(capture_fd, 0) == 0 && pwrite(capture_fd, tail, (size_t)n, 0) == n)
        lseek(capture_fd, n, SEEK_SET);
    free(tail);
}

typedef struct job_hooks {
    uint32_t tag;
    int64_t next_trim_ns;
} job_hooks;

static bool job_canceled(void *ud)
{
    job_hooks *h = ud;
    if (capture_fd >= 0) {
        int64_t now = weft__mono_ns();
        if (now >= h->next_trim_ns) {
            h->next_trim_ns = now + CAPTURE_TRIM_EVERY_NS;
            capture_trim();
        }
    }
    return quit_flag || cancel_ring[h->tag % WEFT__CLAIM_RING] == (sig_atomic_t)h->tag;
}

static void setup_signals(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigterm, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* Ctrl-C is the orchestrator's to handle */
}

/* Output capture: fds 1 and 2 point at one memory file for the worker's
 * whole life (they share its offset, so interleaving is kept); after each
 * job it is read back when non-empty and truncated. */
static int capture_open(void)
{
    int fd = memfd_create("weft-job-output", MFD_CLOEXEC);
    if (fd < 0) {
        char path[] = "/tmp/weft-job-output-XXXXXX";
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) unlink(path);
    }
    if (fd < 0) return -1;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        close(null);
    }
    fflush(stdout);
    fflush(stderr);
    dup2(fd, 1);
    dup2(fd, 2);
    return fd;
}

/* Replaces bytes that are not valid UTF-8 (and NULs) with '?', so the tail
 * survives JSON encoding whatever the job printed. */
static void sanitize_utf8(char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n && c != 0 && c != 0xC0 && c != 0xC1 && c < 0xF5;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] >> 6) == 2;
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

/* The job's captured output followed by the runner's log tail, cut to the
 * last WEFT__LOG_TAIL_MAX bytes at a character boundary. */
static void capture_collect(int cap, weft__job_result *res)
{
    fflush(stdout);
    fflush(stderr);
    off_t size = lseek(cap, 0, SEEK_CUR);
    if (size <= 0) return;
    size_t keep = (size_t)size > WEFT__LOG_TAIL_MAX ? WEFT__LOG_TAIL_MAX : (size_t)size;
    size_t loglen = res->log_tail ? strlen(res->log_tail) : 0;
    char *out = malloc(keep + loglen + 1);
    if (out) {
        ssize_t n = pread(cap, out, keep, size - (off_t)keep);
        if (n < 0) n = 0;
        sanitize_utf8(out, (size_t)n);
        if (loglen) memcpy(out + n, res->log_tail, loglen);
        size_t total = (size_t)n + loglen;
        out[total] = '\0';
        size_t cut = total > WEFT__LOG_TAIL_MAX ? total - WEFT__LOG_TAIL_MAX : 0;
        while (cut < total && ((unsigned char)out[cut] >> 6) == 2) cut++;
        if (cut) memmove(out, out + cut, total - cut + 1);
        free(res->log_tail);
        res->log_tail = out;
    }
    if (ftruncate(cap, 0) != 0) {} /* memfd: cannot fail short of EINTR */
    lseek(cap, 0, SEEK_SET);
}

static void fail_result(weft__job_result *res, const char *fmt, const char *detail)
{
    weft__job_result_release(res);
    res->status = WEFT_JOB_FAILED;
    size_t n = strlen(fmt) + strlen(detail) + 1;
    res->error = malloc(n);
    if (res->error) snprintf(res->error, n, fmt, detail);
}

/* Why weft__app_new() failed, reported as each job's error. */
static char app_error[WEFT_ERRBUF_SIZE];

/* Runs one job frame and sends its result.  false when the channel broke. */
static bool run_one(weft__app *app, int chan, int cap, uint32_t tag, const char *json,
                    size_t len)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    if (!app) {
        fail_result(&res, "worker could not load the application: %s", app_error);
    } else if (weft__job_spec_from_json(json, len, &spec, err) != WEFT_OK) {
        fail_result(&res, "worker received a malformed job: %s", err);
    } else {
        job_hooks jh = {tag, 0};
        weft__run_hooks hooks = {.canceled = job_canceled, .ud = &jh};
        if (weft__run_job(app, &spec, &hooks, &res) != WEFT_OK)
            fail_result(&res, "%s", "out of memory while running the job");
    }
    if (cap >= 0) capture_collect(cap, &res);
    char *out = NULL;
    size_t outlen = 0;
    if (weft__job_result_to_json(&res, &out, &outlen) != WEFT_OK) {
        fail_result(&res, "%s", "could not encode the job's result");
        free(res.log_tail);
        res.log_tail = NULL;
        if (weft__job_result_to_json(&res, &out, &outlen) != WEFT_OK) out = NULL;
    }
    bool ok = out && weft__wire_send(chan, WEFT__MSG_RESULT, tag, out, outlen, NULL) == WEFT_OK;
    free(out);
    weft__job_spec_release(&spec);
    weft__job_result_release(&res);
    return ok;
}

int weft__worker_main(int fd, int slot, void *arg)
{
    const weft__worker_opts *o = arg;
    if (slot < 0 || slot >= o->nslots) return 2;
    weft__worker_shm *shm = &o->shm[slot];
    setup_signals();
    int cap = capture_fd = capture_open();

    char err[WEFT_ERRBUF_SIZE] = "";
    weft__app *app = NULL;
    const char *path = o->application_path ? o->application_path
                                           : weft_config_application_path(o->cfg);
    if (weft__app_new(o->cfg, path, &app, app_error) != WEFT_OK) app = NULL;

    weft__wire_in in = WEFT__WIRE_IN_INIT;
    int status = 0;
    while (!quit_flag) {
        weft__frame f;
        bool eof;
        if (weft__wire_recv(&in, fd, &f, &eof, err) != WEFT_OK) {
            status = 4;
            break;
        }
        if (eof) break;
        if (f.type != WEFT__MSG_JOB) continue;
        uint32_t tag = (uint32_t)f.id;
        if (!weft__claim_take(shm, tag)) continue; /* taken back by the pool */
        if (!run_one(app, fd, cap, tag, f.data, f.len)) break;
    }
    weft__wire_in_release(&in);
    weft__app_free(app);
    return status;
}
