/* SPDX-License-Identifier: MIT */
/*
 * config_write.c - writes a weft_config as TOML that weft_config_load()
 * reads back to an equal configuration: either the effective view
 * (defaults, inheritance and ENV applied) or the raw entries as set.
 *
 * Every typed value is written in Taipy's typed-string form ("8:int",
 * "sales:SECTION"), so a Taipy application can read the output too; a plain
 * string that would read back as something else gets an explicit ":str".
 */
#include "config/config_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static weft_err add_string(weft__buf *b, const char *s, const char *suffix)
{
    weft_err e = weft__buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && !e; p++) {
        switch (*p) {
        case '"': e = weft__buf_adds(b, "\\\""); break;
        case '\\': e = weft__buf_adds(b, "\\\\"); break;
        case '\b': e = weft__buf_adds(b, "\\b"); break;
        case '\t': e = weft__buf_adds(b, "\\t"); break;
        case '\n': e = weft__buf_adds(b, "\\n"); break;
        case '\f': e = weft__buf_adds(b, "\\f"); break;
        case '\r': e = weft__buf_adds(b, "\\r"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                e = weft__buf_addf(b, "\\u%04X", *p);
            else
                e = weft__buf_addc(b, (char)*p);
        }
    }
    if (!e && suffix) e = weft__buf_addf(b, ":%s", suffix);
    return e ? e : weft__buf_addc(b, '"');
}

static bool bare(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-')) return false;
    return true;
}

/* A key part, quoted when it is not a bare key. */
static weft_err add_key_part(weft__buf *b, const char *s, size_t n)
{
    if (bare(s, n)) return weft__buf_add(b, s, n);
    char *copy = weft__strndup(s, n);
    if (!copy) return WEFT_ENOMEM;
    weft_err e = add_string(b, copy, NULL);
    free(copy);
    return e;
}

/* "sequences.monthly" (a flattened sub-table) as a dotted key. */
static weft_err add_key(weft__buf *b, const char *key)
{
    weft_err e = WEFT_OK;
    const char *p = key, *dot;
    while (!e && (dot = strchr(p, '.')) != NULL) {
        if (!(e = add_key_part(b, p, (size_t)(dot - p)))) e = weft__buf_addc(b, '.');
        p = dot + 1;
    }
    return e ? e : add_key_part(b, p, strlen(p));
}

/* Would the string `s` read back as the same plain string? */
static bool reads_back_as_string(const char *s)
{
    weft_value *v = NULL;
    bool same = weft__value_parse(s, strlen(s), &v, NULL) == WEFT_OK && v->type == WEFT_VALUE_STR &&
                !v->env && strcmp(v->text, s) == 0;
    weft__value_free(v);
    return same;
}

/* Taipy's serializer writes every timedelta as "<d>d<h>h<m>m<s>s", and its
 * reader requires a unit after each number: weft's bare "30" (seconds)
 * would not load there, so the text as written is not echoed. */
static weft_err add_timedelta(weft__buf *b, int64_t ms)
{
    char text[96];
    int64_t s = ms / 1000;
    snprintf(text, sizeof text, "%lldd%lldh%lldm%llds", (long long)(s / 86400),
             (long long)(s % 86400 / 3600), (long long)(s % 3600 / 60), (long long)(s % 60));
    return add_string(b, text, weft__type_names[WEFT_VALUE_TIMEDELTA]);
}

static weft_err add_value(weft__buf *b, const weft_value *v)
{
    weft_err e = WEFT_OK;
    if (v->env && v->env_state != WEFT__ENV_OK) return add_string(b, v->raw, NULL);
    switch (v->type) {
    case WEFT_VALUE_LIST:
        e = weft__buf_addc(b, '[');
        for (size_t i = 0; i < v->n && !e; i++) {
            if (i && (e = weft__buf_adds(b, ", "))) break;
            e = add_value(b, v->items[i]);
        }
        return e ? e : weft__buf_addc(b, ']');
    case WEFT_VALUE_STR:
        if (v->bad) return add_string(b, v->text, NULL);
        return add_string(b, v->text, reads_back_as_string(v->text) ? NULL : "str");
    case WEFT_VALUE_TIMEDELTA:
        if (!v->bad) return add_timedelta(b, v->ms);
        break;
    case WEFT_VALUE_INT:
    case WEFT_VALUE_FLOAT:
    case WEFT_VALUE_BOOL:
    case WEFT_VALUE_SECTION:
    case WEFT_VALUE_SCOPE:
    case WEFT_VALUE_FREQUENCY:
    case WEFT_VALUE_DATETIME:
    case WEFT_VALUE_FUNCTION:
        break;
    }
    return add_string(b, v->text, weft__type_names[v->type]);
}

static weft_err add_section(weft__buf *b, const weft__section *s, bool raw)
{
    weft_err e = weft__buf_addc(b, '[');
    if (!e && s->id) {
        const char *kind = weft__kind_name(s->kind);
        if (!(e = weft__buf_addf(b, "%s.", kind))) e = add_key_part(b, s->id, strlen(s->id));
    } else if (!e) {
        e = weft__buf_adds(b, s->name);
    }
    if (!e) e = weft__buf_adds(b, "]\n");
    const weft__entry *entries = raw ? s->raw : s->eff;
    size_t n = raw ? s->nraw : s->neff;
    for (size_t i = 0; i < n && !e; i++) {
        if (!(e = add_key(b, entries[i].key)) && !(e = weft__buf_adds(b, " = ")) &&
            !(e = add_value(b, entries[i].val)))
            e = weft__buf_addc(b, '\n');
    }
    return e ? e : weft__buf_addc(b, '\n');
}

weft_err weft_config_write(const weft_config *cfg, FILE *out, bool raw, char *err)
{
    weft__buf b = WEFT_BUF_INIT;
    weft_err e = WEFT_OK;
    if (!cfg || !out) return weft__err(err, WEFT_EINVAL, "weft_config_write: NULL argument");
    e = weft__buf_addf(&b, "# weft %s configuration (%s)\n\n", WEFT_VERSION_STRING,
                       raw ? "as written" : "effective: defaults applied, ENV resolved");
    /* TAIPY, CORE, JOB (Taipy's own order), then each kind with its
     * "default" section first. */
    static const weft__kind order[] = {WEFT__TAIPY,     WEFT__CORE, WEFT__JOB,
                                       WEFT__DATA_NODE, WEFT__TASK, WEFT__SCENARIO};
    for (size_t k = 0; k < sizeof order / sizeof *order && !e; k++)
        for (int pass = 0; pass < 2 && !e; pass++)
            for (size_t i = 0; i < cfg->nsecs && !e; i++) {
                const weft__section *s = &cfg->secs[i];
                if (s->kind == order[k] && s->is_default == (pass == 0))
                    e = add_section(&b, s, raw);
            }
    if (e) {
        weft__buf_release(&b);
        return weft__err(err, e, "cannot format the configuration: %s", weft_strerror(e));
    }
    if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0) {
        weft__buf_release(&b);
        return weft__err(err, WEFT_EIO, "cannot write the configuration");
    }
    weft__buf_release(&b);
    return WEFT_OK;
}
