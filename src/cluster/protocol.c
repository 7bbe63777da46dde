/* SPDX-License-Identifier: MIT */
/*
 * protocol.c - cluster mode's messages: the topology every party declares,
 * and one encoder and one decoder for each of the job, status, cancel and
 * heartbeat messages (fields in protocol.h and docs/CLUSTER.md).  Messages
 * are compact JSON built with jansson; a decoder checks every field it
 * uses, so a malformed message is rejected with the reason and never
 * half-read.
 */
#include "cluster/protocol.h"

#include "cluster/trust.h"

#include "util/defaults.h"
#include "util/util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *weft__cluster_name(const char *queue, const char *suffix)
{
    size_t n = strlen(queue) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s.%s", queue, suffix);
    return s;
}

weft_err weft__cluster_declare(weft__amqp *c, const char *queue, char *err)
{
    char *dead = weft__cluster_name(queue, "dead");
    char *status = weft__cluster_name(queue, "status");
    char *control = weft__cluster_name(queue, "control");
    char *workers = weft__cluster_name(queue, "workers");
    weft_err e = WEFT_OK;
    if (!dead || !status || !control || !workers) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    weft__amqp_queue_opts dq = {.durable = true};
    weft__amqp_queue_opts jq = {.durable = true, .dead_letter_exchange = "",
                                .dead_letter_routing_key = dead};
    if ((e = weft__amqp_declare_queue(c, dead, &dq, NULL, err)) ||
        (e = weft__amqp_declare_queue(c, queue, &jq, NULL, err)) ||
        (e = weft__amqp_declare_queue(c, status, &dq, NULL, err)) ||
        (e = weft__amqp_declare_exchange(c, control, "fanout", true, err)) ||
        (e = weft__amqp_declare_exchange(c, workers, "fanout", true, err)))
        goto out;
out:
    free(dead);
    free(status);
    free(control);
    free(workers);
    return e;
}

/* Characters of a queue name a job message may name as its reply_to. */
#define QUEUE_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:"

static weft_err dump(json_t *o, char **out, size_t *len, char *err)
{
    if (!o) return weft__err(err, WEFT_ENOMEM, "out of memory");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return weft__err(err, WEFT_ENOMEM, "out of memory");
    *out = s;
    if (len) *len = strlen(s);
    return WEFT_OK;
}

static json_t *refs_ids(const weft__dn_ref *refs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_pack("{s:s, s:s}", "id", refs[i].id ? refs[i].id : "",
                                               "config_id",
                                               refs[i].config_id ? refs[i].config_id : "")) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

weft_err weft__cluster_job_encode(const weft__job_spec *spec, const char *digest, int attempt,
                                  int max_attempts, const char *reply_to, char **out, size_t *len,
                                  char *err)
{
    json_t *in = refs_ids(spec->inputs, spec->ninputs);
    json_t *outs = refs_ids(spec->outputs, spec->noutputs);
    if (!in || !outs) {
        json_decref(in);
        json_decref(outs);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:o, s:o}", "type",
                          "job", "v", WEFT__CLUSTER_JOB_VERSION, "job_id", spec->job_id,
                          "task_id", spec->task_id ? spec->task_id : "", "task_config_id",
                          spec->task_config_id, "attempt", attempt, "max_attempts",
                          max_attempts, "reply_to", reply_to ? reply_to : "", "digest",
                          digest ? digest : "", "inputs", in, "outputs", outs);
    return dump(o, out, len, err);
}

void weft__cluster_job_release(weft__cluster_job *j)
{
    if (!j) return;
    weft__job_spec_release(&j->spec);
    free(j->reply_to);
    *j = (weft__cluster_job)WEFT__CLUSTER_JOB_INIT;
}

static json_t *load_object(const char *text, size_t len, const char *type, char *err)
{
    json_error_t je;
    if (len > WEFT__CLUSTER_MAX_MSG) {
        weft__err(err, WEFT_EDATA, "message of %zu bytes is too large", len);
        return NULL;
    }
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        weft__err(err, WEFT_EDATA, "not JSON: %s (line %d)", je.text, je.line);
        return NULL;
    }
    const char *t = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || !t || strcmp(t, type) != 0) {
        weft__err(err, WEFT_EDATA, "not a %s message", type);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The ids of one role's data nodes; false when one is missing or does not
 * match the pattern of weft__entity_id_ok(). */
static bool refs_from_ids(json_t *a, weft__dn_ref **dst, size_t *n, bool *oom)
{
    if (!json_is_array(a) || json_array_size(a) > WEFT__CLUSTER_MAX_REFS) return false;
    size_t cnt = json_array_size(a);
    *n = 0;
    if (!cnt) return true;
    if (!(*dst = calloc(cnt, sizeof **dst))) return !(*oom = true);
    for (size_t i = 0; i < cnt; i++) {
        json_t *r = json_array_get(a, i);
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *cid = json_string_value(json_object_get(r, "config_id"));
        if (!weft__config_id_ok(cid) || !weft__entity_id_ok(id, "DATANODE", cid)) return false;
        (*n)++;
        if (!((*dst)[i].id = weft__strdup(id)) || !((*dst)[i].config_id = weft__strdup(cid)))
            return !(*oom = true);
    }
    return true;
}

static bool hex64(const char *s)
{
    if (!s || strlen(s) != WEFT__DIGEST_HEX) return false;
    return strspn(s, "0123456789abcdef") == WEFT__DIGEST_HEX;
}

/* The scalar fields of a job message into *j; the reason when one is bad. */
static const char *job_fields(json_t *o, weft__cluster_job *j, bool *oom)
{
    const char *id = json_string_value(json_object_get(o, "job_id"));
    const char *task = json_string_value(json_object_get(o, "task_id"));
    const char *tcfg = json_string_value(json_object_get(o, "task_config_id"));
    const char *reply = json_string_value(json_object_get(o, "reply_to"));
    const char *digest = json_string_value(json_object_get(o, "digest"));
    json_t *att = json_object_get(o, "attempt");
    json_t *max = json_object_get(o, "max_attempts");
    if (json_integer_value(json_object_get(o, "v")) != WEFT__CLUSTER_JOB_VERSION)
        return "a job message of another protocol version (this side speaks 2)";
    if (!weft__config_id_ok(tcfg) || !weft__entity_id_ok(id, "JOB", tcfg) ||
        !weft__entity_id_ok(task, "TASK", tcfg))
        return "ids that are not JOB_<task>_<uuid>, TASK_<task>_<uuid> and a task config id";
    if (!json_is_integer(att) || json_integer_value(att) < 1 || json_integer_value(att) > 1000000 ||
        (max && (!json_is_integer(max) || json_integer_value(max) < 1 ||
                 json_integer_value(max) > 1000000)))
        return "an \"attempt\" (and \"max_attempts\") out of 1..1000000";
    if (!reply || !*reply || strlen(reply) > WEFT__ID_MAX || strspn(reply, QUEUE_CHARS) != strlen(reply))
        return "a bad \"reply_to\"";
    if (!hex64(digest)) return "no task \"digest\" (64 hex digits)";
    memcpy(j->digest, digest, WEFT__DIGEST_HEX + 1);
    j->spec.attempt = (int)json_integer_value(att);
    j->max_attempts = max ? (int)json_integer_value(max) : WEFT__DEFAULT_MAX_ATTEMPTS;
    if (!(j->spec.job_id = weft__strdup(id)) || !(j->spec.task_id = weft__strdup(task)) ||
        !(j->spec.task_config_id = weft__strdup(tcfg)) || !(j->reply_to = weft__strdup(reply)))
        *oom = true;
    return NULL;
}

weft_err weft__cluster_job_decode(const char *text, size_t len, weft__cluster_job *j, char *err)
{
    *j = (weft__cluster_job)WEFT__CLUSTER_JOB_INIT;
    json_t *o = load_object(text, len, "job", err);
    if (!o) return WEFT_EDATA;
    bool oom = false;
    const char *why = job_fields(o, j, &oom);
    if (!why && !oom &&
        (!refs_from_ids(json_object_get(o, "inputs"), &j->spec.inputs, &j->spec.ninputs, &oom) ||
         !refs_from_ids(json_object_get(o, "outputs"), &j->spec.outputs, &j->spec.noutputs,
                        &oom)) &&
        !oom)
        why = "\"inputs\" and \"outputs\" that are not arrays of {id: DATANODE_<config>_<uuid>, "
              "config_id}";
    json_decref(o);
    weft_err e = oom ? weft__err(err, WEFT_ENOMEM, "out of memory")
                 : why ? weft__err(err, WEFT_EDATA, "job message with %s", why) : WEFT_OK;
    if (e) weft__cluster_job_release(j);
    return e;
}

void weft__cluster_status_release(weft__cluster_status *s)
{
    if (!s) return;
    free(s->job_id);
    free(s->worker);
    weft__job_result_release(&s->result);
    *s = (weft__cluster_status)WEFT__CLUSTER_STATUS_INIT;
}

weft_err weft__cluster_status_encode(const char *job_id, int attempt, weft_job_status status,
                                     const char *worker, const weft__job_result *res,
                                     int64_t ran_us, char **out, size_t *len, char *err)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:i, s:s, s:s}", "type", "status", "v", 1, "job_id",
                          job_id, "attempt", attempt, "status", weft_job_status_name(status),
                          "worker", worker ? worker : "");
    if (o && ran_us > 0 && json_object_set_new(o, "ran_us", json_integer(ran_us)) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && status != WEFT_JOB_RUNNING && res) {
        json_t *rv = weft__job_result_json(res);
        if (!rv || json_object_set_new(o, "result", rv) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return dump(o, out, len, err);
}

weft_err weft__cluster_status_decode(const char *text, size_t len, weft__cluster_status *s,
                                     char *err)
{
    *s = (weft__cluster_status)WEFT__CLUSTER_STATUS_INIT;
    json_t *o = load_object(text, len, "status", err);
    if (!o) return WEFT_EDATA;
    weft_err e = WEFT_OK;
    const char *id = json_string_value(json_object_get(o, "job_id"));
    const char *st = json_string_value(json_object_get(o, "status"));
    const char *w = json_string_value(json_object_get(o, "worker"));
    json_t *att = json_object_get(o, "attempt");
    int status = st ? weft_job_status_parse(st) : -1;
    if (!id || !*id || !json_is_integer(att) ||
        !(status == WEFT_JOB_RUNNING || status == WEFT_JOB_COMPLETED ||
          status == WEFT_JOB_FAILED || status == WEFT_JOB_CANCELED)) {
        e = weft__err(err, WEFT_EDATA,
                      "status message needs \"job_id\", \"attempt\" and a \"status\" among "
                      "RUNNING, COMPLETED, FAILED, CANCELED");
        goto out;
    }
    s->status = (weft_job_status)status;
    s->attempt = (int)json_integer_value(att);
    json_t *ran = json_object_get(o, "ran_us");
    if (ran && (!json_is_integer(ran) || json_integer_value(ran) < 0)) {
        e = weft__err(err, WEFT_EDATA, "status message: \"ran_us\" must be a count of microseconds");
        goto out;
    }
    s->ran_us = ran ? (int64_t)json_integer_value(ran) : 0;
    if (!(s->job_id = weft__strdup(id)) || !(s->worker = weft__strdup(w ? w : ""))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    if (status != WEFT_JOB_RUNNING) {
        json_t *r = json_object_get(o, "result");
        char why[WEFT_ERRBUF_SIZE] = "";
        if (!json_is_object(r)) {
            e = weft__err(err, WEFT_EDATA, "final status message without a \"result\" object");
            goto out;
        }
        e = weft__job_result_from_object(r, &s->result, why);
        if (e) {
            e = weft__err(err, WEFT_EDATA, "bad job result: %s", why);
            goto out;
        }
        s->result.status = (weft_job_status)status;
    }
out:
    json_decref(o);
    if (e) weft__cluster_status_release(s);
    return e;
}

weft_err weft__cluster_cancel_encode(const char *job_id, char **out, size_t *len, char *err)
{
    return dump(json_pack("{s:s, s:i, s:s}", "type", "cancel", "v", 1, "job_id", job_id), out,
                len, err);
}

char *weft__cluster_cancel_decode(const char *text, size_t len)
{
    json_t *o = load_object(text, len, "cancel", NULL);
    if (!o) return NULL;
    char *id = weft__strdup(json_string_value(json_object_get(o, "job_id")));
    json_decref(o);
    return id;
}

bool weft__cluster_msg_type(const char *text, size_t len, char *buf, size_t size)
{
    json_error_t je;
    json_t *o = len <= WEFT__CLUSTER_MAX_MSG ? json_loadb(text, len, 0, &je) : NULL;
    const char *t = json_string_value(json_object_get(o, "type"));
    bool ok = t != NULL;
    if (ok) snprintf(buf, size, "%s", t);
    json_decref(o);
    return ok;
}

/* Computed again in a forked child: its pid differs, and a job's worker
 * must name the process that ran it. */
static pthread_mutex_t worker_name_mu = PTHREAD_MUTEX_INITIALIZER;
static char worker_name[300];
static pid_t worker_name_pid;

const char *weft__cluster_worker_name(void)
{
    pthread_mutex_lock(&worker_name_mu);
    if (worker_name_pid != getpid()) {
        char host[256];
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        worker_name_pid = getpid();
        snprintf(worker_name, sizeof worker_name, "%s:%d", host, (int)worker_name_pid);
    }
    pthread_mutex_unlock(&worker_name_mu);
    return worker_name;
}

/* ---- heartbeat ---- */

weft_err weft__cluster_heartbeat_encode(const weft_worker_info *hb, char **out, size_t *len,
                                        char *err)
{
    json_t *cur = json_array();
    for (size_t i = 0; cur && i < hb->ncurrent; i++)
        if (json_array_append_new(cur, json_string(hb->current[i])) != 0) {
            json_decref(cur);
            cur = NULL;
        }
    if (!cur) return weft__err(err, WEFT_ENOMEM, "out of memory");
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i, s:s, s:i, s:I, s:o, s:s, s:I, s:i, s:I, "
                          "s:f, s:f, s:I}", "type",
                          "worker", "v", 1, "worker", hb->name ? hb->name : "", "host",
                          hb->host ? hb->host : "", "pid", hb->pid, "queue",
                          hb->queue ? hb->queue : "", "concurrency", hb->concurrency,
                          "jobs_run", (json_int_t)hb->jobs_run, "current", cur, "state",
                          hb->state ? hb->state : "", "at_us", (json_int_t)hb->at_us,
                          "busy", hb->busy, "jobs_started", (json_int_t)hb->jobs_started,
                          "started_per_s", hb->started_per_s, "finished_per_s",
                          hb->finished_per_s, "unacked", (json_int_t)hb->unacked);
    return dump(o, out, len, err);
}

static char *dup_member(json_t *o, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(o, key));
    return weft__strdup(v ? v : def);
}

weft_err weft__cluster_heartbeat_decode(const char *text, size_t len, weft_worker_info *hb,
                                        char *err)
{
    memset(hb, 0, sizeof *hb);
    json_t *o = load_object(text, len, "worker", err);
    if (!o) return WEFT_EDATA;
    weft_err e = WEFT_OK;
    json_t *cur = json_object_get(o, "current");
    if (!json_string_value(json_object_get(o, "worker"))) {
        e = weft__err(err, WEFT_EDATA, "worker message needs a \"worker\" name");
        goto out;
    }
    hb->name = dup_member(o, "worker", "");
    hb->host = dup_member(o, "host", "");
    hb->queue = dup_member(o, "queue", "");
    hb->state = dup_member(o, "state", "?");
    hb->pid = (int)json_integer_value(json_object_get(o, "pid"));
    hb->concurrency = (int)json_integer_value(json_object_get(o, "concurrency"));
    hb->jobs_run = json_integer_value(json_object_get(o, "jobs_run"));
    hb->at_us = json_integer_value(json_object_get(o, "at_us"));
    /* Absent from the heartbeats of older workers: 0. */
    hb->busy = (int)json_integer_value(json_object_get(o, "busy"));
    hb->jobs_started = json_integer_value(json_object_get(o, "jobs_started"));
    hb->started_per_s = json_number_value(json_object_get(o, "started_per_s"));
    hb->finished_per_s = json_number_value(json_object_get(o, "finished_per_s"));
    /* Absent from older workers' too, and unknown then: -1. */
    json_t *unacked = json_object_get(o, "unacked");
    hb->unacked = json_is_integer(unacked) && json_integer_value(unacked) >= 0
                      ? json_integer_value(unacked) : -1;
    if (!hb->name || !hb->host || !hb->queue || !hb->state ||
        (json_array_size(cur) && !(hb->current = calloc(json_array_size(cur), sizeof(char *))))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(cur); i++) {
        const char *id = json_string_value(json_array_get(cur, i));
        if (!id) continue; /* not an id: ignored like an unknown field */
        if (!(hb->current[hb->ncurrent++] = weft__strdup(id))) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    json_decref(o);
    if (e) weft__worker_info_release(hb);
    return e;
}

void weft__worker_info_release(weft_worker_info *hb)
{
    if (!hb) return;
    free(hb->name);
    free(hb->host);
    free(hb->queue);
    free(hb->state);
    for (size_t i = 0; i < hb->ncurrent; i++) free(hb->current[i]);
    free(hb->current);
    memset(hb, 0, sizeof *hb);
}
