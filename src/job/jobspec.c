/* SPDX-License-Identifier: MIT */
/*
 * jobspec.c - job specs and results as values (release, copy) and as the
 * JSON that carries them between processes (standalone workers, cluster
 * queue).  Strings that are not valid UTF-8 (a command's output, a path)
 * are written with the bad bytes replaced by '?', since JSON cannot carry
 * them; parsing checks every member's type and names what is wrong.
 *
 *   spec:   {"job_id", "task_id", "task_config_id", "attempt", "timeout_ms",
 *            "inputs": [{"id", "config_id", "storage_type", "path"}], "outputs": [...]}
 *   result: {"status": "COMPLETED", "error", "exit_code", "signal",
 *            "log_tail", "written": [true, ...]}
 */
#include "job/runner.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void refs_free(weft__dn_ref *refs, size_t n)
{
    for (size_t i = 0; refs && i < n; i++) {
        free(refs[i].id);
        free(refs[i].config_id);
        free(refs[i].storage_type);
        free(refs[i].path);
    }
    free(refs);
}

void weft__job_spec_release(weft__job_spec *spec)
{
    if (!spec) return;
    free(spec->job_id);
    free(spec->task_id);
    free(spec->task_config_id);
    refs_free(spec->inputs, spec->ninputs);
    refs_free(spec->outputs, spec->noutputs);
    *spec = (weft__job_spec)WEFT__JOB_SPEC_INIT;
}

void weft__job_result_release(weft__job_result *res)
{
    if (!res) return;
    free(res->error);
    free(res->log_tail);
    free(res->written);
    *res = (weft__job_result)WEFT__JOB_RESULT_INIT;
}

static bool dup_field(char **dst, const char *src)
{
    *dst = weft__strdup(src);
    return *dst || !src;
}

static weft_err refs_copy(weft__dn_ref **dst, const weft__dn_ref *src, size_t n)
{
    *dst = NULL;
    if (!n) return WEFT_OK;
    weft__dn_ref *r = calloc(n, sizeof *r);
    if (!r) return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!dup_field(&r[i].id, src[i].id) || !dup_field(&r[i].config_id, src[i].config_id) ||
            !dup_field(&r[i].storage_type, src[i].storage_type) || !dup_field(&r[i].path, src[i].path)) {
            refs_free(r, n);
            return WEFT_ENOMEM;
        }
    }
    *dst = r;
    return WEFT_OK;
}

weft_err weft__job_spec_copy(weft__job_spec *dst, const weft__job_spec *src)
{
    weft__job_spec s = WEFT__JOB_SPEC_INIT;
    s.attempt = src->attempt;
    s.timeout_ms = src->timeout_ms;
    s.ninputs = src->ninputs;
    s.noutputs = src->noutputs;
    if (!dup_field(&s.job_id, src->job_id) || !dup_field(&s.task_id, src->task_id) ||
        !dup_field(&s.task_config_id, src->task_config_id) ||
        refs_copy(&s.inputs, src->inputs, src->ninputs) ||
        refs_copy(&s.outputs, src->outputs, src->noutputs)) {
        if (!s.inputs) s.ninputs = 0;
        if (!s.outputs) s.noutputs = 0;
        weft__job_spec_release(&s);
        *dst = (weft__job_spec)WEFT__JOB_SPEC_INIT;
        return WEFT_ENOMEM;
    }
    *dst = s;
    return WEFT_OK;
}

/* ---- to JSON ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned min;
    if ((c & 0xE0) == 0xC0) n = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000, c &= 0x07;
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return n;
}

/* A JSON string of `s` (null for NULL), invalid UTF-8 bytes replaced. */
static json_t *jstr(const char *s)
{
    if (!s) return json_null();
    json_t *j = json_string(s);
    if (j) return j;
    char *copy = strdup(s);
    if (!copy) return NULL;
    for (unsigned char *p = (unsigned char *)copy; *p;) {
        size_t n = utf8_len(p);
        if (n) p += n;
        else *p++ = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

static int set(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *refs_json(const weft__dn_ref *refs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(a, o) < 0 || set(o, "id", jstr(refs[i].id)) ||
            set(o, "config_id", jstr(refs[i].config_id)) ||
            set(o, "storage_type", jstr(refs[i].storage_type)) || set(o, "path", jstr(refs[i].path))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static weft_err dump(json_t *o, char **out, size_t *len)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return WEFT_ENOMEM;
    *out = s;
    if (len) *len = strlen(s);
    return WEFT_OK;
}

weft_err weft__job_spec_to_json(const weft__job_spec *spec, char **out, size_t *len)
{
    json_t *o = json_object();
    if (!o || set(o, "job_id", jstr(spec->job_id)) || set(o, "task_id", jstr(spec->task_id)) ||
        set(o, "task_config_id", jstr(spec->task_config_id)) ||
        set(o, "attempt", json_integer(spec->attempt)) ||
        set(o, "timeout_ms", json_integer(spec->timeout_ms)) ||
        set(o, "inputs", refs_json(spec->inputs, spec->ninputs)) ||
        set(o, "outputs", refs_json(spec->outputs, spec->noutputs))) {
        json_decref(o);
        return WEFT_ENOMEM;
    }
    return dump(o, out, len);
}

json_t *weft__job_result_json(const weft__job_result *res)
{
    const char *st = weft_job_status_name(res->status);
    json_t *o = json_object(), *w = json_array();
    for (size_t i = 0; w && i < res->noutputs; i++)
        if (json_array_append_new(w, json_boolean(res->written[i])) < 0) {
            json_decref(w);
            w = NULL;
        }
    if (!o || set(o, "status", jstr(st ? st : "FAILED")) || set(o, "error", jstr(res->error)) ||
        set(o, "exit_code", json_integer(res->exit_code)) || set(o, "signal", json_integer(res->signal)) ||
        set(o, "log_tail", jstr(res->log_tail)) || set(o, "written", w)) {
        if (!o) json_decref(w);
        json_decref(o);
        return NULL;
    }
    return o;
}

weft_err weft__job_result_to_json(const weft__job_result *res, char **out, size_t *len)
{
    json_t *o = weft__job_result_json(res);
    return o ? dump(o, out, len) : WEFT_ENOMEM;
}

/* ---- from JSON ---- */

/* A string member into *dst; `required` makes absence (or null) an error. */
static weft_err get_str(json_t *o, const char *what, const char *key, bool required, char **dst, char *err)
{
    json_t *v = json_object_get(o, key);
    *dst = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return WEFT_OK;
        return weft__err(err, WEFT_EINVAL, "%s: missing \"%s\"", what, key);
    }
    if (!json_is_string(v)) return weft__err(err, WEFT_EINVAL, "%s: \"%s\" must be a string", what, key);
    if (!(*dst = strdup(json_string_value(v)))) return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

static weft_err get_int(json_t *o, const char *what, const char *key, json_int_t def, json_int_t *dst,
                        char *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *dst = def;
        return WEFT_OK;
    }
    if (!json_is_integer(v)) return weft__err(err, WEFT_EINVAL, "%s: \"%s\" must be an integer", what, key);
    *dst = json_integer_value(v);
    return WEFT_OK;
}

static weft_err refs_from(json_t *o, const char *key, weft__dn_ref **dst, size_t *n, char *err)
{
    json_t *a = json_object_get(o, key);
    *dst = NULL;
    *n = 0;
    if (!a) return WEFT_OK;
    if (!json_is_array(a)) return weft__err(err, WEFT_EINVAL, "job spec: \"%s\" must be an array", key);
    size_t cnt = json_array_size(a);
    if (!cnt) return WEFT_OK;
    weft__dn_ref *r = calloc(cnt, sizeof *r);
    if (!r) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = WEFT_OK;
    for (size_t i = 0; i < cnt && !e; i++) {
        json_t *it = json_array_get(a, i);
        char what[64];
        snprintf(what, sizeof what, "job spec: %s[%zu]", key, i);
        if (!json_is_object(it)) {
            e = weft__err(err, WEFT_EINVAL, "%s must be an object", what);
            break;
        }
        if ((e = get_str(it, what, "id", true, &r[i].id, err)) ||
            (e = get_str(it, what, "config_id", true, &r[i].config_id, err)) ||
            (e = get_str(it, what, "storage_type", false, &r[i].storage_type, err)) ||
            (e = get_str(it, what, "path", false, &r[i].path, err)))
            break;
    }
    if (e) {
        refs_free(r, cnt);
        return e;
    }
    *dst = r;
    *n = cnt;
    return WEFT_OK;
}

static weft_err load(const char *text, size_t len, const char *what, json_t **out, char *err)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o) return weft__err(err, WEFT_EINVAL, "%s: %d:%d: %s", what, je.line, je.column, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return weft__err(err, WEFT_EINVAL, "%s: not a JSON object", what);
    }
    *out = o;
    return WEFT_OK;
}

weft_err weft__job_spec_from_json(const char *text, size_t len, weft__job_spec *spec, char *err)
{
    weft__job_spec s = WEFT__JOB_SPEC_INIT;
    json_t *o = NULL;
    json_int_t attempt = 1, timeout = 0;
    weft_err e = load(text, len, "job spec", &o, err);
    if (e) goto done;
    if ((e = get_str(o, "job spec", "job_id", true, &s.job_id, err)) ||
        (e = get_str(o, "job spec", "task_id", true, &s.task_id, err)) ||
        (e = get_str(o, "job spec", "task_config_id", true, &s.task_config_id, err)) ||
        (e = get_int(o, "job spec", "attempt", 1, &attempt, err)) ||
        (e = get_int(o, "job spec", "timeout_ms", 0, &timeout, err)) ||
        (e = refs_from(o, "inputs", &s.inputs, &s.ninputs, err)) ||
        (e = refs_from(o, "outputs", &s.outputs, &s.noutputs, err)))
        goto done;
    if (attempt < 1 || attempt > 1000000 || timeout < 0) {
        e = weft__err(err, WEFT_EINVAL, "job spec: attempt or timeout_ms out of range");
        goto done;
    }
    s.attempt = (int)attempt;
    s.timeout_ms = timeout;
done:
    json_decref(o);
    if (e) weft__job_spec_release(&s);
    else *spec = s;
    return e;
}

weft_err weft__job_result_from_json(const char *text, size_t len, weft__job_result *res, char *err)
{
    json_t *o = NULL;
    weft_err e = load(text, len, "job result", &o, err);
    if (!e) e = weft__job_result_from_object(o, res, err);
    json_decref(o);
    return e;
}

weft_err weft__job_result_from_object(json_t *o, weft__job_result *res, char *err)
{
    weft__job_result r = WEFT__JOB_RESULT_INIT;
    char *status = NULL;
    json_int_t code = -1, sig = 0;
    weft_err e = WEFT_OK;
    if (!json_is_object(o)) {
        e = weft__err(err, WEFT_EINVAL, "job result: not a JSON object");
        goto done;
    }
    if ((e = get_str(o, "job result", "status", true, &status, err)) ||
        (e = get_str(o, "job result", "error", false, &r.error, err)) ||
        (e = get_str(o, "job result", "log_tail", false, &r.log_tail, err)) ||
        (e = get_int(o, "job result", "exit_code", -1, &code, err)) ||
        (e = get_int(o, "job result", "signal", 0, &sig, err)))
        goto done;
    int st = weft_job_status_parse(status);
    if (st < 0) {
        e = weft__err(err, WEFT_EINVAL, "job result: unknown status \"%s\"", status);
        goto done;
    }
    if (code < -1 || code > 255 || sig < 0 || sig > 128) {
        e = weft__err(err, WEFT_EINVAL, "job result: exit_code or signal out of range");
        goto done;
    }
    r.status = (weft_job_status)st;
    r.exit_code = (int)code;
    r.signal = (int)sig;
    json_t *w = json_object_get(o, "written");
    if (w && !json_is_array(w)) {
        e = weft__err(err, WEFT_EINVAL, "job result: \"written\" must be an array");
        goto done;
    }
    r.noutputs = json_array_size(w);
    if (!(r.written = calloc(r.noutputs + 1, sizeof *r.written))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r.noutputs; i++) {
        json_t *b = json_array_get(w, i);
        if (!json_is_boolean(b)) {
            e = weft__err(err, WEFT_EINVAL, "job result: written[%zu] must be true or false", i);
            goto done;
        }
        r.written[i] = json_is_true(b);
    }
done:
    free(status);
    if (e) weft__job_result_release(&r);
    else *res = r;
    return e;
}
