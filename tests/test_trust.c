/* SPDX-License-Identifier: MIT */
/*
 * test_trust.c - cluster mode's trust boundary, attacked from the broker:
 * a real RabbitMQ (WEFT_TEST_BROKER_URL), real `weft run-worker`
 * processes, and an orchestrator of this process that publishes genuine
 * job messages, which the tests take off the queue and forge from.
 *
 * The application lives in app/ (its storage folder app/.weft/); a file of
 * the test's own outside it, private.txt, plays /etc/shadow, and
 * stolen.txt is where a forger wants it copied.  Forged messages name a
 * reply queue of the test's own (<queue>.test), so any status a worker
 * sends for them is seen.  Messages are signed here with the format that
 * docs/CLUSTER.md documents (an HMAC-SHA256 member "mac" appended last),
 * independently of the library's code.
 */
#define _GNU_SOURCE /* asprintf */
#include "test.h"

#include "broker.h"

#include "cluster/amqp_client.h"
#include "cluster/exec_cluster.h"
#include "cluster/protocol.h"
#include "cluster/trust.h"

#include <fcntl.h>
#include <jansson.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "correct horse battery staple 42"
#define PRIVATE "TOP SECRET: nobody but the test reads this\n"

static char queue_name[128], test_queue[160], top[4096];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The config of an application: copy = src -> dst (function `fn`), in
 * cluster mode on the test's queue; `secret_line` goes into [JOB]. */
static char *config_text(const char *fn, const char *extra_core, const char *secret_line)
{
    char *cfg;
    if (asprintf(&cfg,
                 "[CORE]\n%s"
                 "[JOB]\nmode = \"cluster\"\nbroker_url = \"%s\"\nqueue = \"%s\"\n%s"
                 "[DATA_NODE.src]\nstorage_type = \"text\"\ndefault_data = \"app data\"\n"
                 "[DATA_NODE.dst]\nstorage_type = \"text\"\n"
                 "[TASK.copy]\nfunction = \"%s:function\"\n"
                 "inputs = [\"src:SECTION\"]\noutputs = [\"dst:SECTION\"]\n"
                 "[SCENARIO.s]\ntasks = [\"copy:SECTION\"]\n",
                 extra_core, broker_url(), queue_name, secret_line, fn) < 0)
        FAIL("oom");
    return cfg;
}

/* app/ with config.toml and clusterfns.so, private.txt beside it, and the
 * secret in worker.secret and in the environment the config names. */
static void setup(const char *tag, bool with_secret)
{
    snprintf(queue_name, sizeof queue_name, "weft.test.trust.%s.%d", tag, (int)getpid());
    snprintf(test_queue, sizeof test_queue, "%s.test", queue_name);
    if (!getcwd(top, sizeof top)) FAIL("getcwd");
    mkdir("app", 0755);
    char *so;
    if (asprintf(&so, "%s/tests/apps/clusterfns.so", test_build_dir()) < 0) FAIL("oom");
    if (symlink(so, "app/clusterfns.so") != 0) FAIL("symlink %s", so);
    free(so);
    char *cfg = config_text("clusterfns.copy", "",
                            with_secret ? "broker_secret = \"ENV[WEFT_TEST_SECRET]\"\n" : "");
    test_write_file("app/config.toml", cfg);
    free(cfg);
    test_write_file("private.txt", PRIVATE);
    test_write_file("worker.secret", SECRET "\n");
    setenv("WEFT_TEST_SECRET", SECRET, 1);
}

/* A `weft run-worker` serving app_path, its output in worker-N.log. */
static pid_t worker_start(const char *app_path, bool with_secret, int n)
{
    char log[64];
    snprintf(log, sizeof log, "worker-%d.log", n);
    const char *args[] = {"run-worker", "--application-path", app_path, "--queue", queue_name,
                          with_secret ? "--secret-file" : NULL, "worker.secret", NULL};
    return weft_spawn_logged(log, args);
}

/* ---- the orchestrator: publishes the genuine job message ---- */

typedef struct orch {
    weft_config *cfg;
    weft_orchestrator *o;
    char *sub;
} orch;

static void orch_submit(orch *h)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    h->cfg = weft_config_new();
    ASSERT_OK(weft_config_load(h->cfg, "app/config.toml", err), err);
    ASSERT_OK(weft_config_check(h->cfg, err), err);
    char *scen = NULL;
    ASSERT_OK(weft_orchestrator_open(h->cfg, NULL, &h->o, err), err);
    ASSERT_OK(weft_orchestrator_start(h->o, err), err);
    ASSERT_OK(weft_scenario_create(h->o, "s", &scen, err), err);
    ASSERT_OK(weft_submit(h->o, scen, NULL, &h->sub, err), err);
    free(scen);
}

/* The submission's one job (caller frees). */
static weft_job_info *orch_job(orch *h)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_job_filter f = {.submission_id = h->sub, .status = -1};
    weft_job_info **jobs = NULL;
    size_t n = 0;
    ASSERT_OK(weft_jobs_list(h->o, &f, &jobs, &n, err), err);
    ASSERT_EQ(n, 1);
    weft_job_info *j = jobs[0];
    jobs[0] = NULL;
    weft_job_list_free(jobs, n);
    return j;
}

/* Waits for the submission to end; its job (caller frees). */
static weft_job_info *orch_finish(orch *h)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    ASSERT_OK(weft_submission_wait(h->o, h->sub, 60000, err), err);
    return orch_job(h);
}

static void orch_close(orch *h)
{
    weft_orchestrator_close(h->o);
    weft_config_free(h->cfg);
    free(h->sub);
}

/* ---- the broker, as a forger sees it ---- */

static weft__amqp *client(void)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = broker_url(), .confirms = true, .name = "test_trust"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    ASSERT_OK(weft__cluster_declare(c, queue_name, err), err);
    weft__amqp_queue_opts q = {.durable = false, .auto_delete = true};
    ASSERT_OK(weft__amqp_declare_queue(c, test_queue, &q, NULL, err), err);
    return c;
}

/* The next delivery from whatever `c` consumes, acknowledged (caller
 * frees); NULL when none came within timeout_ms. */
static char *next_body(weft__amqp *c, int timeout_ms, size_t *len)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    int64_t end = weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = (end - weft__mono_ns()) / 1000000;
        if (left <= 0) return NULL;
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, (int)left, &ev, err);
        if (e == WEFT_ETIMEDOUT) return NULL;
        ASSERT_OK(e, err);
        if (ev.kind == WEFT__AMQP_DELIVERY) {
            ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
            char *b = ev.body;
            if (len) *len = ev.len;
            ev.body = NULL;
            weft__amqp_event_release(&ev);
            return b;
        }
        weft__amqp_event_release(&ev);
    }
}

/* Takes the orchestrator's job message off the queue, before any worker
 * sees it (caller frees). */
static char *capture_job(void)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp *c = client();
    ASSERT_OK(weft__amqp_consume(c, queue_name, false, NULL, err), err);
    char *m = next_body(c, 20000, NULL);
    if (!m) FAIL("the orchestrator published no job message");
    weft__amqp_close(c);
    return m;
}

static void publish(weft__amqp *c, const char *routing_key, const char *m, size_t len)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    ASSERT_OK(weft__amqp_publish_wait(c, "", routing_key, m, len, true, 0, err), err);
}

static void publish_json(weft__amqp *c, json_t *o)
{
    char *m = json_dumps(o, JSON_COMPACT);
    publish(c, queue_name, m, strlen(m));
    free(m);
}

/* How many messages reach <queue>.dead within timeout_ms, up to `want`. */
static int dead_letters(int want, int timeout_ms)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf, dead[200];
    snprintf(dead, sizeof dead, "%s.dead", queue_name);
    weft__amqp *d = client();
    ASSERT_OK(weft__amqp_consume(d, dead, false, NULL, err), err);
    int n = 0;
    int64_t end = weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    while (n < want && weft__mono_ns() < end) {
        char *b = next_body(d, (int)((end - weft__mono_ns()) / 1000000) + 1, NULL);
        if (!b) break;
        n++;
        free(b);
    }
    weft__amqp_close(d);
    return n;
}

static weft_config *config_of(const char *text)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load_string(cfg, text, strlen(text), "t.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    return cfg;
}

/* ---- messages, as the documented format says ---- */

static json_t *parse(const char *m)
{
    json_error_t je;
    json_t *o = json_loads(m, 0, &je);
    if (!o) FAIL("not JSON: %s: %s", je.text, m);
    return o;
}

/* `o` serialized and signed with `secret` (caller frees). */
static char *signed_text(json_t *o, const char *secret)
{
    json_object_del(o, "mac");
    char *m = json_dumps(o, JSON_COMPACT);
    unsigned char md[32];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)m, strlen(m), md, &mdlen);
    ASSERT_EQ(mdlen, 32);
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    char *s;
    if (asprintf(&s, "%.*s,\"mac\":\"%s\"}", (int)strlen(m) - 1, m, hex) < 0) FAIL("oom");
    free(m);
    return s;
}

/* Sets `key` to `value` in every object of the tree whose "config_id" is
 * `cfg` (cfg NULL: in every object that has `key`). */
static void set_everywhere(json_t *v, const char *cfg, const char *key, const char *value)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            set_everywhere(json_array_get(v, i), cfg, key, value);
        return;
    }
    if (!json_is_object(v)) return;
    const char *c = json_string_value(json_object_get(v, "config_id"));
    if (cfg ? (c && strcmp(c, cfg) == 0) : json_object_get(v, key) != NULL)
        json_object_set_new(v, key, json_string(value));
    const char *k;
    json_t *child;
    json_object_foreach(v, k, child) set_everywhere(child, cfg, key, value);
}

/* The final status of `job_id` on the test's reply queue, or NULL. */
static weft__cluster_status *final_status(weft__amqp *c, const char *job_id, int timeout_ms)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    int64_t end = weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    while (weft__mono_ns() < end) {
        size_t len = 0;
        char *b = next_body(c, (int)((end - weft__mono_ns()) / 1000000) + 1, &len);
        if (!b) return NULL;
        weft__cluster_status *s = calloc(1, sizeof *s);
        ASSERT_OK(weft__cluster_status_decode(b, len, s, err), err);
        free(b);
        if (strcmp(s->job_id, job_id) == 0 && s->status != WEFT_JOB_RUNNING) return s;
        weft__cluster_status_release(s);
        free(s);
    }
    return NULL;
}

static void assert_private_intact(void)
{
    char *p = test_read_file("private.txt", NULL);
    ASSERT_STR_EQ(p, PRIVATE);
    free(p);
    ASSERT(access("stolen.txt", F_OK) != 0);
    ASSERT(access("app/stolen.txt", F_OK) != 0);
}

/* Files the application wrote into its storage folder's data/. */
static int data_files(void)
{
    char *out = NULL;
    test_run_cmd("ls app/.weft/data 2>/dev/null | wc -l", &out);
    int n = atoi(out);
    free(out);
    return n;
}

/* ---- a scene: an application, its orchestrator's genuine job message
 * taken off the queue, a forger's connection and a worker ---- */

typedef struct scene {
    orch h;
    char *genuine;  /* the orchestrator's job message, as it was published */
    weft__amqp *c;  /* the forger's connection, consuming <queue>.test */
    pid_t w;        /* a `weft run-worker` of app/ */
} scene;

static void scene_open(scene *s, const char *tag, bool with_secret)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    setup(tag, with_secret);
    orch_submit(&s->h);
    s->genuine = capture_job();
    s->c = client();
    ASSERT_OK(weft__amqp_consume(s->c, test_queue, false, NULL, err), err);
    s->w = worker_start("app", with_secret, 1);
}

/* After the test stopped the worker and closed the orchestrator. */
static void scene_close(scene *s)
{
    free(s->genuine);
    weft__amqp_close(s->c);
    broker_cleanup(queue_name);
}

/* ---- forged paths and ids ---- */

/* The escapes a forger may try through ids: each message is dead-lettered
 * and nothing runs. */
static const struct {
    const char *cfg, *key, *value;
} escapes[] = {
    {"dst", "id", "DATANODE_dst_x/../../../../stolen"},
    {"dst", "id", "DATANODE_dst_.."},
    {"dst", "id", "/tmp/stolen"},
    {"src", "id", "DATANODE_src_x/../../../../private"},
    {"dst", "config_id", "src"},       /* a node the task does not write */
    {NULL, "job_id", "JOB_copy_x/../../y"},
    {NULL, "task_config_id", "../copy"},
    {NULL, "reply_to", ""},
};
#define NESCAPES (sizeof escapes / sizeof escapes[0])

/* A job message naming the private file as its input and stolen.txt as
 * its output, under a job id no orchestrator created: on a worker with no
 * secret it runs, but on the application's own files only; ids that try
 * to leave the application are dead-lettered. */
TEST(forged_paths_and_ids_never_leave_the_application)
{
    scene sc = {0};
    scene_open(&sc, "paths", false);

    char private_path[4200], stolen_path[4200];
    snprintf(private_path, sizeof private_path, "%s/private.txt", top);
    snprintf(stolen_path, sizeof stolen_path, "%s/stolen.txt", top);
    json_t *o = parse(sc.genuine);
    set_everywhere(o, "src", "path", private_path);
    set_everywhere(o, "dst", "path", stolen_path);
    set_everywhere(o, NULL, "job_id", "JOB_copy_forged-1");
    set_everywhere(o, NULL, "reply_to", test_queue);
    publish_json(sc.c, o);
    weft__cluster_status *st = final_status(sc.c, "JOB_copy_forged-1", 30000);
    ASSERT(st != NULL);
    weft__cluster_status_release(st);
    free(st);
    assert_private_intact();
    json_decref(o);

    for (size_t i = 0; i < NESCAPES; i++) {
        json_t *f = parse(sc.genuine);
        char id[64];
        snprintf(id, sizeof id, "JOB_copy_escape-%zu", i);
        set_everywhere(f, NULL, "job_id", id);
        set_everywhere(f, NULL, "reply_to", test_queue);
        set_everywhere(f, escapes[i].cfg, escapes[i].key, escapes[i].value);
        publish_json(sc.c, f);
        json_decref(f);
    }
    ASSERT_EQ(dead_letters((int)NESCAPES, 30000), (int)NESCAPES);
    /* None of them ran: no status, no file outside the application. */
    size_t len = 0;
    char *more = next_body(sc.c, 1000, &len);
    if (more) FAIL("a forged job was answered: %s", more);
    assert_private_intact();
    char *log = test_read_file("worker-1.log", NULL);
    ASSERT_CONTAINS(log, "rejected a malformed message");
    free(log);

    /* The sc.genuine message still runs, on the application's own files. */
    publish(sc.c, queue_name, sc.genuine, strlen(sc.genuine));
    weft_job_info *j = orch_finish(&sc.h);
    if (j->status != WEFT_JOB_COMPLETED) FAIL("%s", j->error ? j->error : "");
    weft_job_info_free(j);
    assert_private_intact();
    ASSERT_EQ(kill(sc.w, 0), 0);
    ASSERT_EQ(worker_stop(sc.w), 0);
    orch_close(&sc.h);
    scene_close(&sc);
}

/* ---- signatures ---- */

/* Returns `genuine` with one byte of its MAC changed (caller frees). */
static char *flip_mac(const char *genuine)
{
    char *m = strdup(genuine);
    size_t n = strlen(m);
    ASSERT_GT(n, 10);
    m[n - 3] = m[n - 3] == '0' ? '1' : '0';
    return m;
}

/* A worker and an orchestrator that share a secret: unsigned, badly
 * signed and altered messages are dead-lettered and never run (a job id
 * no orchestrator created among them); an unsigned status never reaches
 * the orchestrator's store; the genuine message completes. */
TEST(messages_without_a_valid_signature_are_refused)
{
    scene sc = {0};
    scene_open(&sc, "sig", true);
    ASSERT_CONTAINS(sc.genuine, ",\"mac\":\"");
    ASSERT_NOT_CONTAINS(sc.genuine, SECRET);

    char *forged[5];
    json_t *o = parse(sc.genuine);
    set_everywhere(o, NULL, "reply_to", test_queue);
    json_object_del(o, "mac");
    forged[0] = json_dumps(o, JSON_COMPACT);                /* unsigned */
    forged[1] = flip_mac(sc.genuine);                          /* a MAC off by one digit */
    forged[2] = signed_text(o, "another secret entirely"); /* signed with another key */
    set_everywhere(o, NULL, "job_id", "JOB_copy_unknown-1");
    forged[3] = json_dumps(o, JSON_COMPACT);                /* an unknown job id, unsigned */
    char *resigned = signed_text(o, SECRET);
    /* altered after signing: the MAC of another body */
    char *mac = strstr(sc.genuine, ",\"mac\":\"");
    if (asprintf(&forged[4], "%.*s%s", (int)(strstr(resigned, ",\"mac\":\"") - resigned),
                 resigned, mac) < 0)
        FAIL("oom");
    free(resigned);
    json_decref(o);
    for (int i = 0; i < 5; i++) publish(sc.c, queue_name, forged[i], strlen(forged[i]));
    ASSERT_EQ(dead_letters(5, 30000), 5);
    char *more = next_body(sc.c, 1000, NULL);
    if (more) FAIL("a forged job was answered: %s", more);
    ASSERT_EQ(data_files(), 0);

    /* A forged result for the orchestrator's own job: dropped. */
    json_t *g = parse(sc.genuine);
    const char *job_id = json_string_value(json_object_get(g, "job_id"));
    char *status;
    if (asprintf(&status,
                 "{\"type\":\"status\",\"v\":1,\"job_id\":\"%s\",\"attempt\":1,\"status\":"
                 "\"COMPLETED\",\"worker\":\"forger:1\",\"result\":{\"status\":\"COMPLETED\","
                 "\"exit_code\":0,\"signal\":0,\"written\":[true]}}",
                 job_id) < 0)
        FAIL("oom");
    char reply[200];
    snprintf(reply, sizeof reply, "%s.status", queue_name);
    publish(sc.c, reply, status, strlen(status));
    sleep_ms(1500);
    weft_job_info *j = orch_job(&sc.h);
    ASSERT_NE(j->status, WEFT_JOB_COMPLETED);
    weft_job_info_free(j);

    /* The sc.genuine message runs and completes. */
    publish(sc.c, queue_name, sc.genuine, strlen(sc.genuine));
    j = orch_finish(&sc.h);
    if (j->status != WEFT_JOB_COMPLETED) FAIL("%s", j->error ? j->error : "");
    ASSERT(j->worker && strcmp(j->worker, "forger:1") != 0);
    weft_job_info_free(j);
    ASSERT_EQ(data_files(), 1);
    ASSERT_EQ(worker_stop(sc.w), 0);
    char *log = test_read_file("worker-1.log", NULL);
    ASSERT_CONTAINS(log, "rejected an unauthenticated message");
    ASSERT_NOT_CONTAINS(log, SECRET);
    ASSERT_NOT_CONTAINS(log, "not authenticated");
    free(log);
    for (int i = 0; i < 5; i++) free(forged[i]);
    free(status);
    json_decref(g);
    orch_close(&sc.h);
    scene_close(&sc);
}

/* Without a secret anywhere, both sides say so; the secret never shows in
 * `weft config`. */
TEST(unsigned_mode_warns_and_config_masks_the_secret)
{
    setup("warn", false);
    pid_t w = worker_start("app", false, 1);
    char *log = NULL;
    for (int i = 0; i < 200; i++) {
        free(log);
        log = access("worker-1.log", F_OK) == 0 ? test_read_file("worker-1.log", NULL) : NULL;
        if (log && strstr(log, "not authenticated")) break;
        sleep_ms(50);
    }
    ASSERT_CONTAINS(log, "cluster messages are not authenticated: set [JOB] broker_secret");
    free(log);
    ASSERT_EQ(worker_stop(w), 0);

    char *cfg = config_text("clusterfns.copy", "", "broker_secret = \"" SECRET "\"\n");
    test_write_file("app/config.toml", cfg);
    free(cfg);
    char *cmd, *out = NULL;
    if (asprintf(&cmd, "%s/weft config -c app/config.toml", test_build_dir()) < 0) FAIL("oom");
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    ASSERT_CONTAINS(out, "broker_secret = \"***\"");
    ASSERT_NOT_CONTAINS(out, SECRET);
    free(out);
    free(cmd);
    broker_cleanup(queue_name);
}

/* Publishes a forged (unsigned) heartbeat every 200 ms for 3 s, on a
 * connection of its own. */
static void *forge_heartbeats(void *arg)
{
    (void)arg;
    char err[WEFT_ERRBUF_SIZE];
    weft__amqp_opts o = {.url = broker_url(), .name = "forger"};
    weft__amqp *c = NULL;
    if (weft__amqp_open(&o, &c, err) != WEFT_OK) return NULL;
    char xname[200];
    snprintf(xname, sizeof xname, "%s.workers", queue_name);
    static const char forged[] = "{\"type\":\"worker\",\"v\":1,\"worker\":\"forged:1\","
                                 "\"state\":\"up\"}";
    for (int i = 0; i < 15; i++) {
        weft__amqp_publish(c, xname, "", forged, strlen(forged), false, NULL, err);
        sleep_ms(200);
    }
    weft__amqp_close(c);
    return NULL;
}

/* Heartbeats are signed too: `weft workers` with the secret lists the
 * worker and not a forged heartbeat; with another secret, nobody. */
TEST(workers_list_hears_only_signed_heartbeats)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    setup("hb", true);
    pid_t w = worker_start("app", true, 1);
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "app/config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft_workers_opts o = {.config = cfg, .wait_ms = 3500};
    weft_worker_info *list = NULL;
    size_t n = 0;
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* another secret than the worker's */
            setenv("WEFT_TEST_SECRET", "another secret, not the worker's", 1);
            ASSERT_OK(weft_config_check(cfg, err), err);
        }
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, forge_heartbeats, NULL), 0);
        ASSERT_OK(weft_workers_list(&o, &list, &n, err), err);
        pthread_join(t, NULL);
        ASSERT_EQ(n, round == 0 ? 1 : 0);
        for (size_t i = 0; i < n; i++) ASSERT_NOT_CONTAINS(list[i].name, "forged");
        weft_worker_list_free(list, n);
    }
    /* Without a secret, the same listing hears the forger: it was there. */
    static const char none[] = "[JOB]\nbroker_url = \"ENV[WEFT_TEST_BROKER_URL]\"\n";
    weft_config *plain = config_of(none);
    weft_workers_opts po = {.config = plain, .queue = queue_name, .wait_ms = 3500};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, forge_heartbeats, NULL), 0);
    ASSERT_OK(weft_workers_list(&po, &list, &n, err), err);
    pthread_join(t, NULL);
    bool heard_forger = false;
    for (size_t i = 0; i < n; i++) heard_forger |= strstr(list[i].name, "forged") != NULL;
    ASSERT(heard_forger);
    weft_worker_list_free(list, n);
    weft_config_free(plain);
    weft_config_free(cfg);
    ASSERT_EQ(worker_stop(w), 0);
    broker_cleanup(queue_name);
}

/* ---- configuration drift ---- */

/* The worker's application defines the task differently (another
 * function): the job fails and says so; the worker's version never runs. */
TEST(task_defined_differently_on_the_worker_fails_the_job)
{
    setup("drift", false);
    mkdir("wapp", 0755);
    char *so;
    if (asprintf(&so, "%s/tests/apps/clusterfns.so", test_build_dir()) < 0) FAIL("oom");
    if (symlink(so, "wapp/clusterfns.so") != 0) FAIL("symlink");
    free(so);
    char *core;
    if (asprintf(&core, "storage_folder = \"%s/app/.weft/\"\n", top) < 0) FAIL("oom");
    char *cfg = config_text("clusterfns.seed", core, "");
    test_write_file("wapp/config.toml", cfg);
    free(cfg);
    free(core);
    pid_t w = worker_start("wapp", false, 1);
    orch h = {0};
    orch_submit(&h);
    weft_job_info *j = orch_finish(&h);
    ASSERT_EQ(j->status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(j->error, "task 'copy' differs between the orchestrator and worker ");
    weft_job_info_free(j);
    ASSERT_EQ(data_files(), 0);
    ASSERT_EQ(worker_stop(w), 0);
    orch_close(&h);
    broker_cleanup(queue_name);
}

/* ---- fuzzing ---- */

/* A message made from `genuine` (signed) by one random change, or random
 * bytes or JSON; never `genuine` itself.  Caller frees; *len set. */
static char *mutant(const char *genuine, unsigned *seed, size_t *len)
{
    size_t n = strlen(genuine);
    char *m = malloc(2 * n + 64);
    memcpy(m, genuine, n + 1);
    size_t at = (size_t)rand_r(seed) % n;
    switch (rand_r(seed) % 8) {
    case 0: /* a byte flipped */
        m[at] = (char)(m[at] ^ (1 + rand_r(seed) % 255));
        break;
    case 1: /* truncated */
        n = at;
        break;
    case 2: /* a byte inserted */
        memmove(m + at + 1, m + at, n - at + 1);
        m[at] = (char)(rand_r(seed) % 256);
        n++;
        break;
    case 3: /* a byte deleted */
        memmove(m + at, m + at + 1, n - at);
        n--;
        break;
    case 4: { /* a field set to another value, MAC kept */
        json_t *o = parse(genuine);
        static const char *const keys[] = {"job_id", "task_id", "task_config_id", "attempt",
                                           "reply_to", "digest", "inputs", "outputs", "v"};
        json_t *vals[] = {json_integer(rand_r(seed)), json_string("JOB_copy_1"), json_null(),
                          json_string("../../etc"), json_array(), json_true()};
        size_t k = (size_t)rand_r(seed) % (sizeof keys / sizeof *keys);
        size_t v = (size_t)rand_r(seed) % (sizeof vals / sizeof *vals);
        json_object_set(o, keys[k], vals[v]);
        for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) json_decref(vals[i]);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        free(m);
        m = s;
        n = strlen(s);
        break;
    }
    case 5: /* random bytes */
        n = (size_t)rand_r(seed) % 200;
        for (size_t i = 0; i < n; i++) m[i] = (char)(rand_r(seed) % 256);
        break;
    case 6: { /* JSON of another shape */
        static const char *const shapes[] = {
            "{}", "[]", "null", "{\"type\":\"job\"}", "{\"type\":\"job\",\"v\":2}",
            "{\"type\":\"cancel\",\"job_id\":\"JOB_copy_1\"}", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
            "{\"type\":\"job\",\"mac\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
            "\"job\"", "{\"type\":\"status\",\"job_id\":\"x\",\"attempt\":1,\"status\":\"COMPLETED\"}"};
        const char *s = shapes[(size_t)rand_r(seed) % (sizeof shapes / sizeof *shapes)];
        n = strlen(s);
        memcpy(m, s, n);
        break;
    }
    default: /* the MAC of the body without its last member */
        at = n > 80 ? n - 80 + (size_t)rand_r(seed) % 76 : 0;
        m[at] = m[at] == 'a' ? 'b' : 'a';
        break;
    }
    m[n] = '\0';
    if (n == strlen(genuine) && memcmp(m, genuine, n) == 0) m[0] = '[';
    *len = n;
    return m;
}

#define NFUZZ 500

/* Publishes NFUZZ mutants of `genuine` on the job queue, from a seed it
 * prints (TRUST_SEED=N replays a run). */
static void publish_mutants(weft__amqp *c, const char *genuine)
{
    const char *env = getenv("TRUST_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)(time(NULL) ^ getpid());
    printf("    fuzz seed %u (TRUST_SEED=%u replays it)\n", seed, seed);
    fflush(stdout);
    for (int i = 0; i < NFUZZ; i++) {
        size_t len = 0;
        char *m = mutant(genuine, &seed, &len);
        publish(c, queue_name, m, len);
        free(m);
    }
}

/* 500 random and mutated messages against a worker with a secret, seed
 * printed (TRUST_SEED=N replays one run): every one is dead-lettered,
 * nothing runs, and the worker then runs the genuine message. */
TEST(fuzzed_messages_are_dead_lettered_and_the_worker_survives)
{
    scene sc = {0};
    scene_open(&sc, "fuzz", true);
    publish_mutants(sc.c, sc.genuine);
    ASSERT_EQ(dead_letters(NFUZZ, 60000), NFUZZ);
    ASSERT_EQ(kill(sc.w, 0), 0);
    ASSERT_EQ(data_files(), 0);
    weft_job_info *j = orch_job(&sc.h);
    ASSERT_NE(j->status, WEFT_JOB_COMPLETED);
    ASSERT_NE(j->status, WEFT_JOB_FAILED);
    weft_job_info_free(j);
    publish(sc.c, queue_name, sc.genuine, strlen(sc.genuine));
    j = orch_finish(&sc.h);
    if (j->status != WEFT_JOB_COMPLETED) FAIL("%s", j->error ? j->error : "");
    weft_job_info_free(j);
    ASSERT_EQ(data_files(), 1);
    assert_private_intact();
    ASSERT_EQ(worker_stop(sc.w), 0);
    orch_close(&sc.h);
    scene_close(&sc);
}

/* The same against a worker without a secret, where every mutant reaches
 * the decoder and the checks of the application: the worker survives,
 * nothing leaves the application, and a last job queued behind them all
 * completes. */
TEST(fuzzed_unsigned_messages_never_escape_the_application)
{
    scene sc = {0};
    scene_open(&sc, "fuzz0", false);
    publish_mutants(sc.c, sc.genuine);
    json_t *last = parse(sc.genuine);
    set_everywhere(last, NULL, "job_id", "JOB_copy_last");
    set_everywhere(last, NULL, "reply_to", test_queue);
    publish_json(sc.c, last);
    json_decref(last);
    weft__cluster_status *st = final_status(sc.c, "JOB_copy_last", 60000);
    if (!st) FAIL("the job queued after the fuzzed messages never finished");
    ASSERT_EQ(st->status, WEFT_JOB_COMPLETED);
    weft__cluster_status_release(st);
    free(st);
    ASSERT_EQ(kill(sc.w, 0), 0);
    assert_private_intact();
    /* Whatever ran wrote only in the storage folder's data/. */
    char *out = NULL;
    test_run_cmd("find . -newer private.txt -type f | grep -v '^./app/.weft/' "
                 "| grep -v '^./worker-1.log$' | grep -v '^./worker.secret$'", &out);
    ASSERT_STR_EQ(out, "");
    free(out);
    ASSERT_EQ(worker_stop(sc.w), 0);
    weft_orchestrator_close(sc.h.o); /* its own job never ran: no waiting for it */
    weft_config_free(sc.h.cfg);
    free(sc.h.sub);
    scene_close(&sc);
}

/* ---- the parts (trust.c), without a broker ---- */

TEST(seal_and_open)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    const char *msg = "{\"type\":\"cancel\",\"v\":1,\"job_id\":\"JOB_a_1\"}";
    char *m = strdup(msg);
    size_t len = strlen(m);
    ASSERT_OK(weft__msg_seal(NULL, &m, &len, err), err); /* no secret: unchanged */
    ASSERT_STR_EQ(m, msg);
    ASSERT_OK(weft__msg_seal(SECRET, &m, &len, err), err);
    ASSERT_EQ(len, strlen(m));
    ASSERT_EQ(len, strlen(msg) - 1 + 8 + 64 + 2);
    /* The documented format, computed independently. */
    json_t *o = parse(msg);
    char *mine = signed_text(o, SECRET);
    json_decref(o);
    ASSERT_STR_EQ(m, mine);
    free(mine);
    char *body = NULL;
    size_t blen = 0;
    ASSERT_OK(weft__msg_open(SECRET, m, len, &body, &blen, err), err);
    ASSERT_STR_EQ(body, msg);
    ASSERT_EQ(blen, strlen(msg));
    free(body);
    /* No secret here: the MAC is stripped unchecked. */
    ASSERT_OK(weft__msg_open(NULL, m, len, &body, NULL, err), err);
    ASSERT_STR_EQ(body, msg);
    free(body);
    ASSERT_EQ(weft__msg_open("another", m, len, &body, NULL, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "bad signature");
    ASSERT(body == NULL);
    ASSERT_EQ(weft__msg_open(SECRET, msg, strlen(msg), &body, NULL, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "not signed");
    for (size_t i = 0; i < len; i++) { /* any byte changed breaks it */
        char *x = strdup(m);
        x[i] = x[i] == 'a' ? 'b' : 'a';
        strcpy(errbuf, "untouched");
        ASSERT_EQ(weft__msg_open(SECRET, x, len, &body, NULL, err), WEFT_EDATA);
        free(x);
    }
    free(m);
    char *empty = strdup("{}");
    size_t elen = 2;
    ASSERT_EQ(weft__msg_seal(SECRET, &empty, &elen, err), WEFT_EINVAL);
    free(empty);
}

static void digest_of(const char *text, char out[WEFT__DIGEST_HEX + 1])
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = config_of(text);
    ASSERT_OK(weft__task_digest(cfg, "t", out, err), err);
    weft_config_free(cfg);
}

/* A config for the digest tests: t = command over a -> b, with the parts
 * that the cases vary. */
static char *digest_config(const char *a_type, const char *a_extra, const char *b_extra,
                           const char *command, const char *t_extra)
{
    char *text;
    if (asprintf(&text,
                 "[DATA_NODE.a]\nstorage_type = \"%s\"\n%s"
                 "[DATA_NODE.b]\nstorage_type = \"csv\"\n%s"
                 "[DATA_NODE.c]\nstorage_type = \"json\"\n"
                 "[TASK.t]\ncommand = [%s]\n"
                 "inputs = [\"a:SECTION\"]\noutputs = [\"b:SECTION\"]\n%s",
                 a_type, a_extra, b_extra, command, t_extra) < 0)
        FAIL("oom");
    return text;
}

/* What the digest covers: what the task runs and touches, not what only
 * the orchestrator acts on. */
TEST(task_digest_covers_the_definition)
{
    static const char cp[] = "\"cp\", \"{a}\", \"{b}\"";
    static const struct {
        const char *a_type, *a_extra, *b_extra, *command, *t_extra;
        bool same;
    } cases[] = {
        {"text", "", "", "\"cp\", \"-f\", \"{a}\", \"{b}\"", "", false},
        {"text", "", "", cp, "timeout = \"2s:timedelta\"\n", false},
        {"text", "", "", cp, "level = \"3\"\n", false},
        {"binary", "", "", cp, "", false},
        {"text", "", "default_path = \"out.csv\"\n", cp, "", false},
        {"text", "", "has_header = \"False:bool\"\n", cp, "", false},
        {"text", "", "", cp, "skippable = \"True:bool\"\n", true},
        {"text", "scope = \"GLOBAL:SCOPE\"\n", "", cp, "", true},
        {"text", "validity_period = \"1d:timedelta\"\n", "", cp, "", true},
    };
    char ref[WEFT__DIGEST_HEX + 1], d[WEFT__DIGEST_HEX + 1];
    char *base = digest_config("text", "", "", cp, "");
    digest_of(base, ref);
    digest_of(base, d);
    ASSERT_STR_EQ(ref, d);
    ASSERT_EQ(strlen(ref), WEFT__DIGEST_HEX);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = digest_config(cases[i].a_type, cases[i].a_extra, cases[i].b_extra,
                                   cases[i].command, cases[i].t_extra);
        digest_of(text, d);
        if (cases[i].same != (strcmp(d, ref) == 0))
            FAIL("case %zu: digest %s, expected it %s:\n%s", i,
                 strcmp(d, ref) == 0 ? "unchanged" : "changed",
                 cases[i].same ? "unchanged" : "changed", text);
        free(text);
    }
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = config_of(base);
    ASSERT_EQ(weft__task_digest(cfg, "nosuch", d, err), WEFT_ENOTFOUND);
    ASSERT_EQ(weft__task_digest(cfg, "../t", d, err), WEFT_ENOTFOUND);
    /* The cache gives the same, and refuses what is not a task. */
    weft__digests cache = WEFT__DIGESTS_INIT;
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(weft__digests_get(&cache, cfg, "t", d, err), err);
        ASSERT_STR_EQ(d, ref);
    }
    ASSERT_EQ(weft__digests_get(&cache, cfg, "nosuch", d, err), WEFT_ENOTFOUND);
    weft__digests_release(&cache);
    weft__digests_release(&cache); /* twice is fine */
    weft_config_free(cfg);
    free(base);
}

TEST(id_patterns)
{
    ASSERT(weft__entity_id_ok("JOB_copy_0b1c-77", "JOB", "copy"));
    ASSERT(weft__entity_id_ok("DATANODE_a_b_c", "DATANODE", "a_b"));
    ASSERT(weft__entity_id_ok("TASK_x_1.2", "TASK", NULL));
    static const char *const bad[] = {"JOB_copy_",    "JOB_copy",        "JOB_other_1",
                                      "job_copy_1",   "JOB_copy_a/b",    "JOB_copy_..",
                                      "JOB_copy_a..b", "JOB_copy_a b",   "JOB_copy_\n",
                                      "",             "JOB__copy_1",     "JOB_copy_é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (weft__entity_id_ok(bad[i], "JOB", "copy")) FAIL("'%s' accepted", bad[i]);
    char longid[400];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    memcpy(longid, "JOB_copy_", 9);
    ASSERT(!weft__entity_id_ok(longid, "JOB", "copy"));
    ASSERT(weft__config_id_ok("sales_2024-q1"));
    ASSERT(!weft__config_id_ok("a.b"));
    ASSERT(!weft__config_id_ok("../a"));
    ASSERT(!weft__config_id_ok(NULL));
}

/* The worker's side: types, paths and the timeout from its own config;
 * config ids the task does not declare refused. */
TEST(resolve_derives_everything_from_the_application)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = config_of("[DATA_NODE.a]\nstorage_type = \"text\"\n"
                                 "[DATA_NODE.b]\nstorage_type = \"csv\"\n"
                                 "default_path = \"out/b.csv\"\n"
                                 "[TASK.t]\nfunction = \"weft.noop:function\"\n"
                                 "timeout = \"3s:timedelta\"\n"
                                 "inputs = [\"a:SECTION\"]\noutputs = [\"b:SECTION\"]\n");
    weft__app *app = NULL;
    ASSERT_OK(weft__app_new(cfg, ".", &app, err), err);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) FAIL("getcwd");
    weft__job_spec s = WEFT__JOB_SPEC_INIT;
    s.task_config_id = strdup("t");
    s.ninputs = s.noutputs = 1;
    s.inputs = calloc(1, sizeof *s.inputs);
    s.outputs = calloc(1, sizeof *s.outputs);
    s.inputs[0].id = strdup("DATANODE_a_1");
    s.inputs[0].config_id = strdup("a");
    s.inputs[0].path = strdup("/etc/shadow"); /* replaced, never used */
    s.outputs[0].id = strdup("DATANODE_b_1");
    s.outputs[0].config_id = strdup("b");
    ASSERT_OK(weft__trust_resolve(app, &s, err), err);
    char want[4200];
    snprintf(want, sizeof want, "%s/.weft/data/DATANODE_a_1.txt", cwd);
    ASSERT_STR_EQ(s.inputs[0].path, want);
    ASSERT_STR_EQ(s.inputs[0].storage_type, "text");
    snprintf(want, sizeof want, "%s/out/b.csv", cwd);
    ASSERT_STR_EQ(s.outputs[0].path, want);
    ASSERT_STR_EQ(s.outputs[0].storage_type, "csv");
    ASSERT_EQ(s.timeout_ms, 3000);
    /* The task reads a, not b. */
    free(s.inputs[0].config_id);
    s.inputs[0].config_id = strdup("b");
    ASSERT_EQ(weft__trust_resolve(app, &s, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "inputs 1 is 'b' where the task declares 'a'");
    /* One input too many. */
    free(s.inputs[0].config_id);
    s.inputs[0].config_id = strdup("a");
    s.outputs[0].config_id[0] = 'a';
    ASSERT_EQ(weft__trust_resolve(app, &s, err), WEFT_EDATA);
    weft__job_spec_release(&s);
    weft__app_free(app);
    weft_config_free(cfg);
}

/* A secret that resolves to nothing is an error, never "unsigned". */
TEST(secret_from_an_unset_variable_is_refused)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    unsetenv("WEFT_TEST_UNSET_SECRET");
    static const char text[] = "[JOB]\nbroker_secret = \"ENV[WEFT_TEST_UNSET_SECRET]\"\n";
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load_string(cfg, text, strlen(text), "t.toml", err), err);
    ASSERT(weft_config_broker_secret(cfg) == NULL);
    ASSERT_EQ(weft__cluster_secret_check(cfg, err), WEFT_ECONFIG);
    ASSERT_CONTAINS(err, "broker_secret has no usable value");
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    weft_config_free(cfg);
    setenv("WEFT_TEST_UNSET_SECRET", SECRET, 1);
    cfg = config_of(text);
    ASSERT_STR_EQ(weft_config_broker_secret(cfg), SECRET);
    ASSERT_OK(weft__cluster_secret_check(cfg, err), err);
    weft_config_free(cfg);
}

/* weft check: an empty secret is an error, a short or literal one draws a
 * warning; no diagnostic quotes it. */
TEST(config_check_of_the_secret)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    static const struct {
        const char *text;
        int errors;
        const char *says;
    } cases[] = {
        {"[JOB]\nbroker_secret = \"\"\n", 1, "broker_secret is empty"},
        {"[JOB]\nbroker_secret = \"hunter2\"\n", 0, "broker_secret has 7 characters"},
        {"[JOB]\nbroker_secret = \"hunter2hunter2hunter2\"\n", 0,
         "broker_secret is written in the file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_config *cfg = weft_config_new();
        ASSERT_OK(weft_config_load_string(cfg, cases[i].text, strlen(cases[i].text), "t.toml",
                                          err),
                  err);
        weft_config_check(cfg, err);
        ASSERT_EQ(weft_config_nerrors(cfg), cases[i].errors);
        bool said = false;
        for (size_t d = 0; d < weft_config_ndiags(cfg); d++) {
            const char *m = weft_config_diag(cfg, d)->message;
            said |= strstr(m, cases[i].says) != NULL;
            ASSERT_NOT_CONTAINS(m, "hunter2");
        }
        if (!said) FAIL("case %zu: no diagnostic says \"%s\"", i, cases[i].says);
        weft_config_free(cfg);
    }
    setenv("WEFT_TEST_SECRET", SECRET, 1);
    static const char env[] = "[JOB]\nbroker_secret = \"ENV[WEFT_TEST_SECRET]\"\n";
    weft_config *cfg = config_of(env);
    ASSERT_EQ(weft_config_ndiags(cfg), 0);
    weft_config_free(cfg);
    /* Set from code: the program took it from wherever it keeps secrets. */
    cfg = weft_config_new();
    ASSERT_OK(weft_config_set(cfg, "JOB", "broker_secret", SECRET, err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    ASSERT_EQ(weft_config_ndiags(cfg), 0);
    weft_config_free(cfg);
}

/* The parts first (no broker), then attacks on a real worker. */
TEST_MAIN(TEST_ENTRY(seal_and_open),
          TEST_ENTRY(task_digest_covers_the_definition),
          TEST_ENTRY(id_patterns),
          TEST_ENTRY(resolve_derives_everything_from_the_application),
          TEST_ENTRY(secret_from_an_unset_variable_is_refused),
          TEST_ENTRY(config_check_of_the_secret),
          TEST_ENTRY(forged_paths_and_ids_never_leave_the_application),
          TEST_ENTRY(messages_without_a_valid_signature_are_refused),
          TEST_ENTRY(unsigned_mode_warns_and_config_masks_the_secret),
          TEST_ENTRY(workers_list_hears_only_signed_heartbeats),
          TEST_ENTRY(task_defined_differently_on_the_worker_fails_the_job),
          TEST_ENTRY_TIMEOUT(fuzzed_messages_are_dead_lettered_and_the_worker_survives, 120),
          TEST_ENTRY_TIMEOUT(fuzzed_unsigned_messages_never_escape_the_application, 120))
