/* SPDX-License-Identifier: MIT */
/*
 * config_value.c - typed configuration values: Taipy's typed-string syntax
 * ("8:int", "sales:SECTION", "ENV[NAME]:int"), conversion and coercion
 * between types, timedelta/datetime/function validation, and the public
 * weft_value_* accessors.
 *
 * Only a recognised suffix converts a string: "amqp://h:5672/%2f" stays a
 * string, while a suffix that is almost a type name ("8:integer",
 * "True:Bool") is an error, because it is far more likely a typo than a
 * string that happens to end in ":integer".
 */
#include "config/config_internal.h"
#include "util/similar.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char weft__code_file[] = "<code>";
const char weft__default_file[] = "<default>";

const char *const weft__type_names[] = {
    "str", "int", "float", "bool", "SECTION", "SCOPE", "FREQUENCY", "timedelta", "datetime", "function",
};
#define NTYPES (sizeof weft__type_names / sizeof weft__type_names[0])
#define VALID_TYPES "int, float, bool, str, SECTION, SCOPE, FREQUENCY, timedelta, datetime, function"

const char *const weft__scope_names[] = {"SCENARIO", "CYCLE", "GLOBAL"};
const char *const weft__frequency_names[] = {"DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"};

weft_value *weft__value_new(weft_value_type type, const char *text)
{
    weft_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->type = type;
    v->file = WEFT__CODE_FILE;
    if (text && !(v->text = strdup(text))) {
        free(v);
        return NULL;
    }
    return v;
}

void weft__value_free(weft_value *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) weft__value_free(v->items[i]);
    free(v->items);
    free(v->text);
    free(v->env);
    free(v->raw);
    free(v);
}

weft_err weft__value_push(weft_value *list, weft_value *item)
{
    if (WEFT__GROW(list->items, list->n + 1, list->cap)) return WEFT_ENOMEM;
    list->items[list->n++] = item;
    return WEFT_OK;
}

weft_value *weft__value_copy(const weft_value *v)
{
    weft_value *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    *c = *v;
    c->text = c->env = c->raw = NULL;
    c->items = NULL;
    c->n = c->cap = 0;
    if ((v->text && !(c->text = strdup(v->text))) || (v->env && !(c->env = strdup(v->env))) ||
        (v->raw && !(c->raw = strdup(v->raw))))
        goto fail;
    for (size_t i = 0; i < v->n; i++) {
        weft_value *item = weft__value_copy(v->items[i]);
        if (!item) goto fail;
        if (weft__value_push(c, item)) {
            weft__value_free(item);
            goto fail;
        }
    }
    return c;
fail:
    weft__value_free(c);
    return NULL;
}

void weft__value_set_pos(weft_value *v, const char *file, int line, int col)
{
    v->file = file;
    v->line = line;
    v->col = col;
}

void weft__format_double(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    /* Keep it recognisably a float ("2" -> "2.0"). */
    if (!strpbrk(buf, ".eE") && strlen(buf) + 3 <= size) strcat(buf, ".0");
}

bool weft__timedelta_parse(const char *s, int64_t *ms)
{
    static const char units[] = "dhms";
    static const int64_t unit_ms[] = {86400000, 3600000, 60000, 1000};
    int64_t total = 0;
    int last = -1; /* units come in the order d h m s, each at most once */
    bool any = false;
    const char *p = s;
    if (!*p) return false;
    while (*p) {
        if (!isdigit((unsigned char)*p)) return false;
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10) return false;
            n = n * 10 + (*p++ - '0');
        }
        int64_t mult = 1000; /* a bare number is seconds */
        if (*p) {
            const char *u = strchr(units, *p);
            if (!u) return false;
            int k = (int)(u - units);
            if (k <= last) return false;
            last = k;
            mult = unit_ms[k];
            p++;
        } else if (any) {
            return false; /* "1d5": after a unit, every number needs one */
        }
        any = true;
        if (n > INT64_MAX / mult || total > INT64_MAX - n * mult) return false;
        total += n * mult;
    }
    *ms = total;
    return true;
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

bool weft__datetime_valid(const char *s)
{
    const char *p = s;
    int y, mo, d, h, mi, sec = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    if (!*p) return true;
    if (*p != 'T' && *p != 't' && *p != ' ') return false;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) return false;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &sec)) return false;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p)) return false;
            while (isdigit((unsigned char)*p)) p++;
        }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    if (*p == 'Z' || *p == 'z') return p[1] == '\0';
    if (*p == '+' || *p == '-') {
        int oh, om;
        p++;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om)) return false;
        return *p == '\0' && oh < 24 && om < 60;
    }
    return *p == '\0';
}

bool weft__function_valid(const char *s)
{
    int parts = 0;
    const char *p = s;
    for (;;) {
        if (!(isalpha((unsigned char)*p) || *p == '_')) return false;
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        parts++;
        if (*p == '\0') break;
        if (*p++ != '.') return false;
    }
    return parts >= 2;
}

static int name_index(const char *text, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(text, names[i]) == 0) return i;
    return -1;
}

weft_err weft__value_convert(const char *text, weft_value_type type, weft_value **out, char *err)
{
    char buf[64];
    const char *norm = text;
    int64_t i = 0, ms = 0;
    double f = 0;
    char *end;
    weft_value *v = NULL;
    switch (type) {
    case WEFT_VALUE_STR:
    case WEFT_VALUE_SECTION:
        if (type == WEFT_VALUE_SECTION && !*text)
            return weft__err(err, WEFT_EINVAL, "empty SECTION reference");
        break;
    case WEFT_VALUE_INT:
        errno = 0;
        i = strtoll(text, &end, 10);
        if (!*text || *end || errno || isspace((unsigned char)*text))
            return weft__err(err, WEFT_EINVAL, "'%s' is not a valid int", text);
        snprintf(buf, sizeof buf, "%lld", (long long)i);
        norm = buf;
        break;
    case WEFT_VALUE_FLOAT:
        errno = 0;
        f = strtod(text, &end);
        if (!*text || *end || errno == ERANGE || isspace((unsigned char)*text))
            return weft__err(err, WEFT_EINVAL, "'%s' is not a valid float", text);
        weft__format_double(f, buf, sizeof buf);
        norm = buf;
        break;
    case WEFT_VALUE_BOOL:
        if (strcasecmp(text, "true") == 0) i = 1, norm = "True";
        else if (strcasecmp(text, "false") == 0) i = 0, norm = "False";
        else return weft__err(err, WEFT_EINVAL, "'%s' is not a valid bool (true or false)", text);
        break;
    case WEFT_VALUE_SCOPE:
        if ((i = name_index(text, weft__scope_names, WEFT__NSCOPES)) < 0)
            return weft__err(err, WEFT_EINVAL,
                             "'%s' is not a valid SCOPE (SCENARIO, CYCLE or GLOBAL)", text);
        norm = weft__scope_names[i];
        break;
    case WEFT_VALUE_FREQUENCY:
        if ((i = name_index(text, weft__frequency_names, WEFT__NFREQUENCIES)) < 0)
            return weft__err(err, WEFT_EINVAL,
                             "'%s' is not a valid FREQUENCY (DAILY, WEEKLY, MONTHLY, "
                             "QUARTERLY or YEARLY)",
                             text);
        norm = weft__frequency_names[i];
        break;
    case WEFT_VALUE_TIMEDELTA:
        if (!weft__timedelta_parse(text, &ms))
            return weft__err(err, WEFT_EINVAL,
                             "'%s' is not a valid timedelta (e.g. 1d2h30m, units d h m s, "
                             "or plain seconds)",
                             text);
        break;
    case WEFT_VALUE_DATETIME:
        if (!weft__datetime_valid(text))
            return weft__err(err, WEFT_EINVAL,
                             "'%s' is not a valid datetime (ISO 8601, e.g. 2024-01-31T10:00:00)",
                             text);
        break;
    case WEFT_VALUE_FUNCTION:
        if (!weft__function_valid(text))
            return weft__err(err, WEFT_EINVAL,
                             "malformed function '%s': must be module.symbol (identifiers "
                             "separated by dots)",
                             text);
        break;
    case WEFT_VALUE_LIST:
        return weft__err(err, WEFT_EINVAL, "a list cannot be written as a typed string");
    }
    if (!(v = weft__value_new(type, norm))) return weft__err(err, WEFT_ENOMEM, "out of memory");
    v->i = i;
    v->f = type == WEFT_VALUE_INT ? (double)i : f;
    v->ms = ms;
    *out = v;
    return WEFT_OK;
}

static bool all_letters(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalpha((unsigned char)*s) && *s != '_') return false;
    return true;
}

/* The type whose name is exactly `suffix`, -1 if none, -2 when the suffix
 * looks like a misspelt type name. */
static int suffix_type(const char *suffix)
{
    for (size_t t = 0; t < NTYPES; t++)
        if (strcmp(suffix, weft__type_names[t]) == 0) return (int)t;
    if (!all_letters(suffix)) return -1;
    char low[32];
    size_t n = strlen(suffix);
    if (n >= sizeof low) return -1;
    for (size_t k = 0; k <= n; k++) low[k] = (char)tolower((unsigned char)suffix[k]);
    for (size_t t = 0; t < NTYPES; t++) {
        char tl[16];
        const char *name = weft__type_names[t];
        size_t m = strlen(name);
        for (size_t k = 0; k <= m; k++) tl[k] = (char)tolower((unsigned char)name[k]);
        if (strcmp(low, tl) == 0) return -2;                       /* "Bool", "section" */
        if (n > m && strncmp(low, tl, m) == 0) return -2;              /* "integer", "string" */
        if (n >= 4 && n < m && strncmp(low, tl, n) == 0) return -2;    /* "date", "func" */
        if (weft__levenshtein(low, tl) <= (m <= 4 ? 1u : 2u)) return -2; /* "flaot", "timdelta" */
    }
    return -1;
}

weft_err weft__value_parse(const char *s, size_t len, weft_value **out, char *err)
{
    weft_err e = WEFT_OK;
    char *copy = NULL;
    weft_value *v = NULL;
    if (memchr(s, '\0', len)) return weft__err(err, WEFT_EINVAL, "a value cannot contain a NUL byte");
    if (!(copy = weft__strndup(s, len))) goto oom;

    if (strncmp(copy, "ENV[", 4) == 0) {
        char *close = strchr(copy + 4, ']');
        if (close && close > copy + 4 && (close[1] == '\0' || close[1] == ':')) {
            int t = WEFT_VALUE_STR;
            if (close[1] == ':') {
                t = suffix_type(close + 2);
                if (t < 0) {
                    e = weft__err(err, WEFT_EINVAL, "unknown type '%s' in \"%s\" (valid types: %s)",
                                  close + 2, copy, VALID_TYPES);
                    goto fail;
                }
            }
            char *name = weft__strndup(copy + 4, (size_t)(close - copy - 4));
            if (!name) goto oom;
            for (char *c = name; *c; c++)
                if (!(isalnum((unsigned char)*c) || *c == '_')) {
                    e = weft__err(err, WEFT_EINVAL, "invalid environment variable name '%s' in \"%s\"",
                                  name, copy);
                    free(name);
                    goto fail;
                }
            char keep = close[1];
            close[1] = '\0';
            v = weft__value_new((weft_value_type)t, copy);
            close[1] = keep;
            if (!v) {
                free(name);
                goto oom;
            }
            v->env = name;
            v->env_typed = keep == ':';
            v->raw = copy;
            *out = v;
            return WEFT_OK;
        }
    }

    char *colon = strrchr(copy, ':');
    if (colon) {
        int t = suffix_type(colon + 1);
        if (t == -2) {
            e = weft__err(err, WEFT_EINVAL, "unknown type '%s' in \"%s\" (valid types: %s)", colon + 1,
                          copy, VALID_TYPES);
            goto fail;
        }
        if (t >= 0) {
            *colon = '\0';
            char msg[WEFT_ERRBUF_SIZE];
            e = weft__value_convert(copy, (weft_value_type)t, &v, msg);
            if (e == WEFT_ENOMEM) goto oom;
            if (e) {
                *colon = ':';
                weft__err(err, e, "invalid %s value in \"%s\": %s", weft__type_names[t], copy, msg);
                goto fail;
            }
            free(copy);
            *out = v;
            return WEFT_OK;
        }
    }
    if (!(v = weft__value_new(WEFT_VALUE_STR, NULL))) goto oom;
    v->text = copy;
    *out = v;
    return WEFT_OK;
oom:
    e = weft__err(err, WEFT_ENOMEM, "out of memory");
fail:
    free(copy);
    weft__value_free(v);
    return e;
}

static bool is_scalar(const weft_value *v) { return v->type != WEFT_VALUE_LIST; }

weft_value *weft__value_coerce(const weft_value *v, weft_value_type want, weft_value_type elem,
                               bool *oom)
{
    weft_value *c = NULL;
    *oom = false;
    if (want == WEFT__ANY || v->type == want) {
        if (want == WEFT_VALUE_LIST && elem != WEFT__ANY) goto list;
        if (!(c = weft__value_copy(v))) *oom = true;
        return c;
    }
    if (want == WEFT_VALUE_LIST) return NULL;
    if (!is_scalar(v)) return NULL;
    if (want == WEFT_VALUE_STR) {
        if (!(c = weft__value_copy(v))) {
            *oom = true;
            return NULL;
        }
        c->type = WEFT_VALUE_STR;
        return c;
    }
    if (v->type == WEFT_VALUE_INT && want == WEFT_VALUE_TIMEDELTA && v->i >= 0 &&
        v->i <= INT64_MAX / 1000) {
        if (!(c = weft__value_copy(v))) goto nomem;
        c->type = WEFT_VALUE_TIMEDELTA;
        c->ms = v->i * 1000;
        return c;
    }
    if (v->type == WEFT_VALUE_INT && want == WEFT_VALUE_FLOAT) {
        if (!(c = weft__value_copy(v))) goto nomem;
        c->type = WEFT_VALUE_FLOAT;
        return c;
    }
    if (v->type != WEFT_VALUE_STR) return NULL;
    if (weft__value_convert(v->text, want, &c, NULL)) return NULL; /* ENOMEM reads as no fit */
    weft__value_set_pos(c, v->file, v->line, v->col);
    c->env_state = v->env_state;
    if (v->env && !(c->env = strdup(v->env))) goto nomem;
    if (v->raw && !(c->raw = strdup(v->raw))) goto nomem;
    c->env_typed = v->env_typed;
    return c;
list:
    if (!(c = weft__value_copy(v))) goto nomem;
    for (size_t i = 0; i < c->n; i++) {
        /* command = ["echo", 5]: argv elements must be strings, not anything printable */
        weft_value *item = elem == WEFT_VALUE_STR && c->items[i]->type != WEFT_VALUE_STR
                               ? NULL
                               : weft__value_coerce(c->items[i], elem, WEFT__ANY, oom);
        if (!item) {
            weft__value_free(c);
            return NULL;
        }
        weft__value_free(c->items[i]);
        c->items[i] = item;
    }
    return c;
nomem:
    weft__value_free(c);
    *oom = true;
    return NULL;
}

bool weft__values_equal(const weft_value *a, const weft_value *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case WEFT_VALUE_INT:
    case WEFT_VALUE_BOOL:
    case WEFT_VALUE_SCOPE:
    case WEFT_VALUE_FREQUENCY:
        return a->i == b->i;
    case WEFT_VALUE_FLOAT:
        return a->f == b->f || (isnan(a->f) && isnan(b->f));
    case WEFT_VALUE_TIMEDELTA:
        return a->ms == b->ms;
    case WEFT_VALUE_LIST:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++)
            if (!weft__values_equal(a->items[i], b->items[i])) return false;
        return true;
    case WEFT_VALUE_STR:
    case WEFT_VALUE_SECTION:
    case WEFT_VALUE_DATETIME:
    case WEFT_VALUE_FUNCTION:
        break;
    }
    return strcmp(a->text ? a->text : "", b->text ? b->text : "") == 0;
}

/* ---- public accessors ---- */

weft_value_type weft_value_type_of(const weft_value *v) { return v ? v->type : WEFT_VALUE_STR; }

const char *weft_value_text(const weft_value *v) { return v ? v->text : NULL; }

int64_t weft_value_int(const weft_value *v)
{
    if (!v) return 0;
    switch (v->type) {
    case WEFT_VALUE_FLOAT: return (int64_t)v->f;
    case WEFT_VALUE_TIMEDELTA: return v->ms / 1000;
    default: return v->i;
    }
}

double weft_value_float(const weft_value *v)
{
    if (!v) return 0;
    return v->type == WEFT_VALUE_FLOAT ? v->f : (double)weft_value_int(v);
}

bool weft_value_bool(const weft_value *v) { return v && v->type == WEFT_VALUE_BOOL && v->i != 0; }

int64_t weft_value_timedelta_ms(const weft_value *v)
{
    return v && v->type == WEFT_VALUE_TIMEDELTA ? v->ms : 0;
}

weft_scope weft_value_scope(const weft_value *v)
{
    return v && v->type == WEFT_VALUE_SCOPE ? (weft_scope)v->i : WEFT_SCOPE_SCENARIO;
}

size_t weft_value_len(const weft_value *v) { return v && v->type == WEFT_VALUE_LIST ? v->n : 0; }

const weft_value *weft_value_at(const weft_value *v, size_t i)
{
    return v && v->type == WEFT_VALUE_LIST && i < v->n ? v->items[i] : NULL;
}

void weft_value_pos(const weft_value *v, const char **file, int *line, int *col)
{
    if (file) *file = v && v->file ? v->file : WEFT__CODE_FILE;
    if (line) *line = v ? v->line : 0;
    if (col) *col = v ? v->col : 0;
}
