/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the standalone worker process: reads job specs from its
 * channel, runs each with weft__run_job() in its single thread, captures the
 * job's stdout/stderr, and writes the result back (see worker.h).
 *
 * Per job it costs a frame read, a JSON parse, the job, a look at the
 * output ring, a JSON encode and a frame write: no process start, no
 * dlopen after the first use of a module, no config parsing.
 */
#define _GNU_SOURCE
#include "standalone/worker.h"

#include "standalone/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * Output capture.  Fds 1 and 2 are the write end of one pipe for the
 * worker's whole life (so interleaving is kept), and a thread of the
 * worker reads it into a ring of the last WEFT__LOG_TAIL_MAX bytes: memory
 * stays bounded however much a job prints, without the job having to call
 * anything (a file or memfd would grow with the output: 1 GiB printed, 1
 * GiB held).  The thread reads only with the ring's lock held, so once the
 * job has returned and stdio is flushed, the collector takes the lock,
 * drains what is left in the pipe, and has every byte the job wrote.  A
 * job that prints faster than the thread reads waits on the full pipe.
 * The thread never forks and holds no lock across a call of the job's, so
 * commands the job spawns (fork, then exec) are not at risk.
 */
typedef struct capture {
    int rd;           /* read end, non-blocking; -1 without capture */
    int stop[2];      /* the thread's wakeup to end */
    pthread_t thread;
    pthread_mutex_t mu; /* guards what follows, and every read of `rd` */
    char *ring;       /* WEFT__LOG_TAIL_MAX bytes */
    size_t total;     /* bytes captured since the last collect */
} capture;

static capture cap = {.rd = -1, .stop = {-1, -1}, .mu = PTHREAD_MUTEX_INITIALIZER};

/* Reads what the pipe holds into the ring; with cap.mu held.  false at end
 * of file or on an error. */
static bool capture_drain(void)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(cap.rd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        if (n == 0) return false;
        for (ssize_t k = 0; k < n;) {
            size_t at = cap.total % WEFT__LOG_TAIL_MAX;
            size_t room = WEFT__LOG_TAIL_MAX - at;
            size_t m = (size_t)(n - k) < room ? (size_t)(n - k) : room;
            memcpy(cap.ring + at, buf + k, m);
            cap.total += m;
            k += (ssize_t)m;
        }
    }
}

static void *capture_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{cap.rd, POLLIN, 0}, {cap.stop[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        pthread_mutex_lock(&cap.mu);
        bool more = capture_drain();
        pthread_mutex_unlock(&cap.mu);
        if (!more) break;
    }
    return NULL;
}

/* Points fds 1 and 2 at the capture pipe and starts its reader; stdin
 * reads /dev/null.  Without a pipe or thread, output goes where it went. */
static void capture_open(void)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        close(null);
    }
    int pfd[2];
    if (!(cap.ring = malloc(WEFT__LOG_TAIL_MAX))) return;
    if (pipe2(cap.stop, O_CLOEXEC) != 0) goto fail;
    if (pipe2(pfd, O_CLOEXEC) != 0) goto fail;
    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
    cap.rd = pfd[0];
    /* The thread starts with every signal blocked: SIGTERM is the main
     * thread's (it marks the job canceled). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&cap.thread, NULL, capture_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(pfd[0]);
        close(pfd[1]);
        cap.rd = -1;
        goto fail;
    }
    fflush(stdout);
    fflush(stderr);
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    close(pfd[1]);
    return;
fail:
    free(cap.ring);
    cap.ring = NULL;
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

/* The job's output (the ring, oldest byte first) into out[0, return). */
static size_t capture_take(char *out)
{
    fflush(stdout);
    fflush(stderr);
    pthread_mutex_lock(&cap.mu);
    capture_drain();
    size_t n = cap.total < WEFT__LOG_TAIL_MAX ? cap.total : WEFT__LOG_TAIL_MAX;
    size_t start = cap.total > WEFT__LOG_TAIL_MAX ? cap.total % WEFT__LOG_TAIL_MAX : 0;
    memcpy(out, cap.ring + start, n - start);
    memcpy(out + (n - start), cap.ring, start);
    cap.total = 0;
    pthread_mutex_unlock(&cap.mu);
    return n;
}

/* The job's captured output followed by the runner's log tail, cut to the
 * last WEFT__LOG_TAIL_MAX bytes at a character boundary. */
static void capture_collect(weft__job_result *res)
{
    if (cap.rd < 0) return;
    size_t loglen = res->log_tail ? strlen(res->log_tail) : 0;
    char *out = malloc(WEFT__LOG_TAIL_MAX + loglen + 1);
    if (!out) return;
    size_t n = capture_take(out);
    if (n == 0) {
        free(out);
        return;
    }
    sanitize_utf8(out, n);
    if (loglen) memcpy(out + n, res->log_tail, loglen);
    size_t total = n + loglen;
    out[total] = '\0';
    size_t cut = total > WEFT__LOG_TAIL_MAX ? total - WEFT__LOG_TAIL_MAX : 0;
    while (cut < total && ((unsigned char)out[cut] >> 6) == 2) cut++;
    if (cut) memmove(out, out + cut, total - cut + 1);
    free(res->log_tail);
    res->log_tail = out;
}

/* Ends the reader thread (the worker is leaving). */
static void capture_close(void)
{
    if (cap.rd < 0) return;
    ssize_t r = write(cap.stop[1], "q", 1);
    (void)r;
    pthread_join(cap.thread, NULL);
    close(cap.rd);
    cap.rd = -1;
    free(cap.ring);
    cap.ring = NULL;
}

typedef struct job_hooks {
    uint32_t tag;
} job_hooks;

static bool job_canceled(void *ud)
{
    job_hooks *h = ud;
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
static bool run_one(weft__app *app, int chan, uint32_t tag, const char *json, size_t len)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    if (!app) {
        fail_result(&res, "worker could not load the application: %s", app_error);
    } else if (weft__job_spec_from_json(json, len, &spec, err) != WEFT_OK) {
        fail_result(&res, "worker received a malformed job: %s", err);
    } else {
        job_hooks jh = {tag};
        weft__run_hooks hooks = {.canceled = job_canceled, .ud = &jh};
        if (weft__run_job(app, &spec, &hooks, &res) != WEFT_OK)
            fail_result(&res, "%s", "out of memory while running the job");
    }
    capture_collect(&res);
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
    weft__keep_freed_heap();
    capture_open();

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
        if (!run_one(app, fd, tag, f.data, f.len)) break;
    }
    weft__wire_in_release(&in);
    weft__app_free(app);
    capture_close();
    return status;
}
