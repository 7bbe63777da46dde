/* SPDX-License-Identifier: MIT */
/*
 * router.c - maps a request's method and path to a route, and parses and
 * checks its query parameters.  Pure functions on bounded copies, with no
 * I/O and no allocation, so that the fuzzer (fuzz/fuzz_router.c) can drive
 * them with any bytes: a path never names a file, only a route, and an id
 * is limited to the characters weft's ids use.
 */
#include "web/web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > WEFT__ID_MAX) return false;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* A fixed path, GET only. */
static const struct {
    const char *path;
    weft__route_kind kind;
} fixed[] = {
    {"/", WEFT__R_PAGE},
    {"/app.js", WEFT__R_JS},
    {"/app.css", WEFT__R_CSS},
    {"/metrics", WEFT__R_METRICS},
    {"/api/overview", WEFT__R_OVERVIEW},
    {"/api/submissions", WEFT__R_SUBS},
    {"/api/jobs", WEFT__R_JOBS},
    {"/api/scenarios", WEFT__R_SCENARIOS},
    {"/api/datanodes", WEFT__R_DNS},
    {"/api/events", WEFT__R_EVENTS},
};

/* "/api/KIND/ID[/TAIL]": the entity routes. */
static const struct {
    const char *kind, *tail;
    weft__route_kind route;
    bool post;
} entity[] = {
    {"submissions", "", WEFT__R_SUB, false},
    {"submissions", "graph.svg", WEFT__R_SUB_GRAPH, false},
    {"submissions", "cancel", WEFT__R_SUB_CANCEL, true},
    {"jobs", "", WEFT__R_JOB, false},
    {"jobs", "cancel", WEFT__R_JOB_CANCEL, true},
    {"scenarios", "graph.svg", WEFT__R_SCENARIO_GRAPH, false},
    {"scenarios", "submit", WEFT__R_SCENARIO_SUBMIT, true},
    {"datanodes", "", WEFT__R_DN, false},
};

static void set_kind(weft__route *out, weft__route_kind k, bool post, const char *method)
{
    bool is_post = strcmp(method, "POST") == 0;
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    out->kind = (post ? is_post : is_get) ? k : WEFT__R_BADMETHOD;
    out->post = post;
}

void weft__route_match(const char *method, const char *path, weft__route *out)
{
    memset(out, 0, sizeof *out);
    out->kind = WEFT__R_NOTFOUND;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(path, fixed[i].path) == 0) {
            set_kind(out, fixed[i].kind, false, method);
            return;
        }
    if (strncmp(path, "/api/", 5) != 0) return;
    const char *kind = path + 5, *slash = strchr(kind, '/');
    if (!slash) return;
    const char *id = slash + 1, *end = strchr(id, '/');
    size_t idlen = end ? (size_t)(end - id) : strlen(id);
    const char *tail = end ? end + 1 : "";
    if (!id_ok(id, idlen) || strchr(tail, '/')) return;
    for (size_t i = 0; i < sizeof entity / sizeof entity[0]; i++) {
        if (strlen(entity[i].kind) != (size_t)(slash - kind) ||
            strncmp(kind, entity[i].kind, (size_t)(slash - kind)) != 0 ||
            strcmp(tail, entity[i].tail) != 0 || (end && !*tail))
            continue;
        memcpy(out->id, id, idlen);
        out->id[idlen] = '\0';
        set_kind(out, entity[i].route, entity[i].post, method);
        return;
    }
}

static void copy_bounded(char *dst, const char *src, size_t n, bool *overflow)
{
    if (n > 256) {
        *overflow = true;
        n = 256;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void weft__query_add(weft__query *q, const char *key, const char *val)
{
    if (q->n >= WEFT__QUERY_MAX) {
        q->overflow = true;
        return;
    }
    copy_bounded(q->key[q->n], key, strlen(key), &q->overflow);
    copy_bounded(q->val[q->n], val ? val : "", val ? strlen(val) : 0, &q->overflow);
    q->n++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (at most 256 bytes; NUL bytes dropped). */
static void decode(const char *s, size_t n, char out[257], bool *overflow)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') c = ' ';
        else if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (c == '\0') continue;
        if (o == 256) {
            *overflow = true;
            break;
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

void weft__query_parse(weft__query *q, const char *raw, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && raw[j] != '&') j++;
        if (j > i) {
            const char *eq = memchr(raw + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (raw + i)) : j - i;
            char k[257], v[257];
            decode(raw + i, klen, k, &q->overflow);
            decode(eq ? eq + 1 : raw + j, eq ? (size_t)(raw + j - eq - 1) : 0, v, &q->overflow);
            weft__query_add(q, k, v);
        }
        i = j + 1;
    }
}

const char *weft__query_get(const weft__query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0) return q->val[i];
    return NULL;
}

static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

weft_err weft__page_args_parse(const weft__query *q, weft__page_args *out, char *err)
{
    static const char *const known[] = {"limit", "after", "status", "submission", "task", "token"};
    memset(out, 0, sizeof *out);
    out->limit = 50;
    out->status = -1;
    if (q->overflow) return weft__err(err, WEFT_EINVAL, "too many or too long query parameters");
    for (size_t i = 0; i < q->n; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) ok |= !strcmp(q->key[i], known[k]);
        if (!ok) return weft__err(err, WEFT_EINVAL, "unknown parameter '%s'", q->key[i]);
    }
    const char *s;
    int64_t v;
    if ((s = weft__query_get(q, "limit"))) {
        if (!parse_i64(s, 1, 500, &v)) return weft__err(err, WEFT_EINVAL, "limit must be 1 to 500");
        out->limit = (int)v;
    }
    if ((s = weft__query_get(q, "after"))) {
        if (!parse_i64(s, 1, INT64_MAX, &v))
            return weft__err(err, WEFT_EINVAL, "after must be a cursor from \"next\"");
        out->after = v;
    }
    if ((s = weft__query_get(q, "status")) && (out->status = weft_job_status_parse(s)) < 0)
        return weft__err(err, WEFT_EINVAL, "unknown status");
    if ((s = weft__query_get(q, "submission")) && !id_ok(s, strlen(s)))
        return weft__err(err, WEFT_EINVAL, "malformed submission id");
    out->submission = s;
    if ((s = weft__query_get(q, "task")) && !id_ok(s, strlen(s)))
        return weft__err(err, WEFT_EINVAL, "malformed task id");
    out->task = s;
    return WEFT_OK;
}
