/* SPDX-License-Identifier: MIT */
/*
 * conformance.c - build/tests/toml-conformance DIR: runs weft's TOML parser
 * over the toml-test cases in DIR.  Every valid/ case (a .toml) must parse to the
 * tagged JSON of its .json twin, compared as values (key order ignored,
 * floats as numbers with nan == nan, offset date-times as instants, local
 * ones as text normalized to milliseconds, truncated); every
 * invalid/ case must be rejected.  Prints one line per failure, the
 * counts, and "toml-conformance: N passed, N failed"; exits 0 only when
 * nothing failed.
 */
#include "tagged.h"
#include "weft.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* jansson cannot load an object key holding "\u0000" (the suite has one), so
 * the expected text gets \u0000 rewritten to this noncharacter, and NUL
 * bytes of the parsed document are mapped to it too. */
#define NUL_STANDIN "\xEF\xB7\x90" /* U+FDD0 */

typedef struct list {
    char **v;
    size_t n, cap;
} list;

static void list_add(list *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = strdup(s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.toml under dir, recursively. */
static void find_toml(const char *dir, list *out)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        size_t len = strlen(e->d_name);
        if (S_ISDIR(st.st_mode)) find_toml(path, out);
        else if (len > 5 && strcmp(e->d_name + len - 5, ".toml") == 0) list_add(out, path);
    }
    closedir(d);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, r;
    char *b = malloc(cap + 1);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *t = realloc(b, (cap *= 2) + 1);
            if (!t) free(b);
            b = t;
        }
    }
    fclose(f);
    if (b) b[n] = '\0';
    *len = n;
    return b;
}

/* Rewrites the escape \u0000 (not \\u0000) in JSON text, see NUL_STANDIN. */
static void replace_nul_escapes(char *s)
{
    for (; *s; s++) {
        if (*s != '\\') continue;
        if (strncmp(s, "\\u0000", 6) == 0) memcpy(s, "\\uFDD0", 6);
        s++; /* skip the escaped character, so \\ never starts an escape */
        if (!*s) break;
    }
}

/* ---- comparing tagged scalars ---- */

static bool is_tagged(json_t *j)
{
    return json_is_object(j) && json_object_size(j) == 2 && json_is_string(json_object_get(j, "type")) &&
           json_is_string(json_object_get(j, "value"));
}

static bool parse_float(const char *s, double *out)
{
    const char *t = s;
    int sign = 1;
    if (*t == '+' || *t == '-') sign = *t++ == '-' ? -1 : 1;
    if (strcmp(t, "inf") == 0) *out = sign * HUGE_VAL;
    else if (strcmp(t, "nan") == 0) *out = NAN;
    else {
        char *end;
        *out = strtod(s, &end);
        return *s && !*end;
    }
    return true;
}

typedef struct dt_parts {
    bool has_date, has_time, has_off;
    long y, mo, d, h, mi, s, ms, off_min;
} dt_parts;

static bool num(const char **p, int n, long *out)
{
    long x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return false;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = x;
    return true;
}

/* Parses RFC 3339 / TOML date-time text; the fraction is truncated to ms. */
static bool parse_dt(const char *s, dt_parts *r)
{
    memset(r, 0, sizeof *r);
    const char *p = s;
    if (strlen(s) >= 10 && s[4] == '-') {
        if (!num(&p, 4, &r->y) || *p++ != '-' || !num(&p, 2, &r->mo) || *p++ != '-' || !num(&p, 2, &r->d))
            return false;
        r->has_date = true;
        if (*p == 'T' || *p == 't' || *p == ' ') p++;
        else return *p == '\0';
    }
    if (!num(&p, 2, &r->h) || *p++ != ':' || !num(&p, 2, &r->mi)) return false;
    if (*p == ':') {
        p++;
        if (!num(&p, 2, &r->s)) return false;
    }
    r->has_time = true;
    if (*p == '.') {
        p++;
        int k = 0;
        for (; isdigit((unsigned char)*p); p++, k++)
            if (k < 3) r->ms = r->ms * 10 + (*p - '0');
        if (k == 0) return false;
        for (; k < 3; k++) r->ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        r->has_off = true;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        long oh, om;
        if (!num(&p, 2, &oh) || *p++ != ':' || !num(&p, 2, &om)) return false;
        r->has_off = true;
        r->off_min = sign * (oh * 60 + om);
    }
    return *p == '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool same_scalar(const char *type, const char *want, const char *got, size_t wlen, size_t glen,
                        char *why, size_t whysize)
{
    if (strcmp(type, "float") == 0) {
        double a, b;
        if (!parse_float(want, &a) || !parse_float(got, &b)) goto text;
        if ((isnan(a) && isnan(b)) || a == b) return true;
        snprintf(why, whysize, "float %s != expected %s", got, want);
        return false;
    }
    if (strcmp(type, "integer") == 0) {
        if (strtoll(want, NULL, 10) == strtoll(got, NULL, 10)) return true;
        snprintf(why, whysize, "integer %s != expected %s", got, want);
        return false;
    }
    if (strcmp(type, "datetime") == 0 || strcmp(type, "datetime-local") == 0 ||
        strcmp(type, "date-local") == 0 || strcmp(type, "time-local") == 0) {
        dt_parts a, b;
        if (!parse_dt(want, &a) || !parse_dt(got, &b)) goto text;
        if (a.has_date != b.has_date || a.has_time != b.has_time || a.has_off != b.has_off) goto differ;
        if (a.has_off) {
            long long ia = (days_from_civil(a.y, a.mo, a.d) * 86400LL + a.h * 3600 + a.mi * 60 + a.s -
                            a.off_min * 60) * 1000 + a.ms;
            long long ib = (days_from_civil(b.y, b.mo, b.d) * 86400LL + b.h * 3600 + b.mi * 60 + b.s -
                            b.off_min * 60) * 1000 + b.ms;
            if (ia == ib) return true;
            goto differ;
        }
        if (a.y == b.y && a.mo == b.mo && a.d == b.d && a.h == b.h && a.mi == b.mi && a.s == b.s &&
            a.ms == b.ms)
            return true;
    differ:
        snprintf(why, whysize, "%s %s != expected %s", type, got, want);
        return false;
    }
text:
    if (wlen == glen && memcmp(want, got, wlen) == 0) return true;
    snprintf(why, whysize, "%s \"%s\" != expected \"%s\"", type, got, want);
    return false;
}

/* Compares expected and actual tagged JSON; on a difference writes where
 * (a key path) and why. */
static bool same(json_t *want, json_t *got, char *path, size_t pathlen, char *why, size_t whysize)
{
    if (is_tagged(want) || is_tagged(got)) {
        if (!is_tagged(want) || !is_tagged(got)) {
            snprintf(why, whysize, "a scalar and a container");
            return false;
        }
        const char *wt = json_string_value(json_object_get(want, "type"));
        const char *gt = json_string_value(json_object_get(got, "type"));
        if (strcmp(wt, gt) != 0) {
            snprintf(why, whysize, "type %s != expected %s", gt, wt);
            return false;
        }
        json_t *wv = json_object_get(want, "value"), *gv = json_object_get(got, "value");
        return same_scalar(wt, json_string_value(wv), json_string_value(gv), json_string_length(wv),
                           json_string_length(gv), why, whysize);
    }
    size_t plen = strlen(path);
    if (json_is_object(want) && json_is_object(got)) {
        if (json_object_size(want) != json_object_size(got)) {
            snprintf(why, whysize, "table has %zu keys, expected %zu", json_object_size(got),
                     json_object_size(want));
            return false;
        }
        const char *k;
        json_t *wv;
        json_object_foreach(want, k, wv) {
            snprintf(path + plen, pathlen - plen, ".%s", k);
            json_t *gv = json_object_get(got, k);
            if (!gv) {
                snprintf(why, whysize, "key missing");
                return false;
            }
            if (!same(wv, gv, path, pathlen, why, whysize)) return false;
            path[plen] = '\0';
        }
        return true;
    }
    if (json_is_array(want) && json_is_array(got)) {
        if (json_array_size(want) != json_array_size(got)) {
            snprintf(why, whysize, "array has %zu elements, expected %zu", json_array_size(got),
                     json_array_size(want));
            return false;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(path + plen, pathlen - plen, "[%zu]", i);
            if (!same(json_array_get(want, i), json_array_get(got, i), path, pathlen, why, whysize))
                return false;
            path[plen] = '\0';
        }
        return true;
    }
    snprintf(why, whysize, "%s != expected %s", json_is_array(got) ? "array" : "table",
             json_is_array(want) ? "array" : "table");
    return false;
}

/* Returns true when the valid case passes; prints why not. */
static bool run_valid(const char *tomlpath)
{
    size_t len;
    char *text = read_all(tomlpath, &len);
    char jsonpath[4096];
    snprintf(jsonpath, sizeof jsonpath, "%.*s.json", (int)(strlen(tomlpath) - 5), tomlpath);
    size_t jlen;
    char *jtext = read_all(jsonpath, &jlen);
    if (!text || !jtext) {
        printf("FAIL %s: cannot read the case or its .json\n", tomlpath);
        free(text);
        free(jtext);
        return false;
    }
    replace_nul_escapes(jtext);
    json_error_t je;
    json_t *want = json_loads(jtext, JSON_ALLOW_NUL, &je);
    free(jtext);
    if (!want) {
        printf("FAIL %s: bad expected JSON: %s\n", tomlpath, je.text);
        free(text);
        return false;
    }
    char err[WEFT_ERRBUF_SIZE];
    weft_toml *doc;
    weft_err e = weft_toml_parse(text, len, tomlpath, &doc, err);
    free(text);
    if (e) {
        printf("FAIL %s: rejected: %s\n", tomlpath, err);
        json_decref(want);
        return false;
    }
    json_t *got = tagged_json(weft_toml_root(doc), NUL_STANDIN);
    weft_toml_free(doc);
    char path[1024] = "", why[1024] = "";
    bool ok = got && same(want, got, path, sizeof path, why, sizeof why);
    if (!ok) printf("FAIL %s: at %s: %s\n", tomlpath, path[0] ? path : "(root)", got ? why : "out of memory");
    json_decref(want);
    json_decref(got);
    return ok;
}

static bool run_invalid(const char *tomlpath)
{
    size_t len;
    char *text = read_all(tomlpath, &len);
    if (!text) {
        printf("FAIL %s: cannot read the case\n", tomlpath);
        return false;
    }
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_toml *doc;
    weft_err e = weft_toml_parse(text, len, tomlpath, &doc, err);
    free(text);
    if (e == WEFT_OK) {
        printf("FAIL %s: accepted, but it is invalid TOML\n", tomlpath);
        weft_toml_free(doc);
        return false;
    }
    if (getenv("TOML_SHOW_ERRORS")) printf("ok %s\n", err);
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TOML-TEST-DIR\n", argv[0]);
        printf("toml-conformance: 0 passed, 1 failed\n");
        return 2;
    }
    list valid = {0}, invalid = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/valid", argv[1]);
    find_toml(dir, &valid);
    snprintf(dir, sizeof dir, "%s/invalid", argv[1]);
    find_toml(dir, &invalid);
    qsort(valid.v, valid.n, sizeof *valid.v, cmp_str);
    qsort(invalid.v, invalid.n, sizeof *invalid.v, cmp_str);
    size_t vok = 0, iok = 0;
    for (size_t i = 0; i < valid.n; i++) vok += run_valid(valid.v[i]);
    for (size_t i = 0; i < invalid.n; i++) iok += run_invalid(invalid.v[i]);
    printf("valid: %zu/%zu passed\n", vok, valid.n);
    printf("invalid: %zu/%zu rejected\n", iok, invalid.n);
    size_t failed = (valid.n - vok) + (invalid.n - iok);
    /* No case at all is a broken setup, not a success. */
    if (valid.n + invalid.n == 0) {
        printf("no cases found under %s\n", argv[1]);
        failed = 1;
    }
    printf("toml-conformance: %zu passed, %zu failed\n", vok + iok, failed);
    for (size_t i = 0; i < valid.n; i++) free(valid.v[i]);
    for (size_t i = 0; i < invalid.n; i++) free(invalid.v[i]);
    free(valid.v);
    free(invalid.v);
    return failed ? 1 : 0;
}
