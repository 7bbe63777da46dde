/* SPDX-License-Identifier: MIT */
/*
 * tagged.h - turns a parsed TOML document into toml-test's "tagged JSON"
 * (tables -> objects, arrays -> arrays, scalars -> {"type", "value"}).
 * Shared by the decoder (decoder.c) and the conformance runner
 * (conformance.c), each a single-file program, hence static functions in a
 * header.
 */
#ifndef WEFT_TOML_TAGGED_H
#define WEFT_TOML_TAGGED_H

#include "weft.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3339 text of a date-time value; the fraction keeps at least
 * millisecond digits when present, trailing zeros past them are dropped. */
static void tagged_datetime_text(const weft_toml_value *v, char *out, size_t size)
{
    weft_toml_datetime d = weft_toml_get_datetime(v);
    weft_toml_type t = weft_toml_type_of(v);
    char date[32] = "", time[48] = "", off[16] = "";
    if (t != WEFT_TOML_LOCAL_TIME) snprintf(date, sizeof date, "%04d-%02d-%02d", d.year, d.month, d.day);
    if (t != WEFT_TOML_LOCAL_DATE) {
        int n = snprintf(time, sizeof time, "%s%02d:%02d:%02d", t == WEFT_TOML_LOCAL_TIME ? "" : "T",
                         d.hour, d.minute, d.second);
        if (d.nanosecond) {
            char frac[16];
            snprintf(frac, sizeof frac, "%09d", d.nanosecond);
            int keep = 9;
            while (keep > 3 && frac[keep - 1] == '0') keep--;
            snprintf(time + n, sizeof time - (size_t)n, ".%.*s", keep, frac);
        }
    }
    if (t == WEFT_TOML_DATETIME) {
        int m = d.offset_minutes;
        if (m == 0) snprintf(off, sizeof off, "Z");
        else snprintf(off, sizeof off, "%c%02d:%02d", m < 0 ? '-' : '+', abs(m) / 60, abs(m) % 60);
    }
    snprintf(out, size, "%s%s%s", date, time, off);
}

static json_t *tagged_scalar(const char *type, const char *value, size_t len)
{
    return json_pack("{s:s, s:s%}", "type", type, "value", value, len);
}

/* Copies s, replacing each NUL byte by `nul` when non-NULL (see conformance.c). */
static char *tagged_map_nul(const char *s, size_t len, const char *nul, size_t *outlen)
{
    size_t nl = nul ? strlen(nul) : 1;
    char *o = malloc(len * nl + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' && nul) {
            memcpy(o + k, nul, nl);
            k += nl;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    *outlen = k;
    return o;
}

/*
 * The tagged JSON of v (new reference), NULL on ENOMEM.  Recursion is
 * bounded by WEFT_TOML_MAX_DEPTH.  `nul`, when non-NULL, replaces NUL bytes
 * in keys and strings.
 */
static json_t *tagged_json(const weft_toml_value *v, const char *nul)
{
    char buf[96];
    switch (weft_toml_type_of(v)) {
    case WEFT_TOML_TABLE: {
        json_t *o = json_object();
        for (size_t i = 0; o && i < weft_toml_len(v); i++) {
            size_t klen, mlen;
            const char *k = weft_toml_key_at_len(v, i, &klen);
            char *mk = tagged_map_nul(k, klen, nul, &mlen);
            json_t *c = tagged_json(weft_toml_at(v, i), nul);
            if (!mk || !c || json_object_setn_new_nocheck(o, mk, mlen, c) != 0) {
                free(mk);
                json_decref(o);
                return NULL;
            }
            free(mk);
        }
        return o;
    }
    case WEFT_TOML_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; a && i < weft_toml_len(v); i++) {
            json_t *c = tagged_json(weft_toml_at(v, i), nul);
            if (!c || json_array_append_new(a, c) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case WEFT_TOML_STRING: {
        size_t len, mlen;
        const char *s = weft_toml_string(v, &len);
        char *m = tagged_map_nul(s, len, nul, &mlen);
        json_t *r = m ? tagged_scalar("string", m, mlen) : NULL;
        free(m);
        return r;
    }
    case WEFT_TOML_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)weft_toml_int(v));
        return tagged_scalar("integer", buf, strlen(buf));
    case WEFT_TOML_FLOAT: {
        double f = weft_toml_float(v);
        if (isnan(f)) snprintf(buf, sizeof buf, "nan");
        else if (isinf(f)) snprintf(buf, sizeof buf, "%sinf", f < 0 ? "-" : "");
        else {
            /* The shortest of %.15g..%.17g that reads back as the same double. */
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, sizeof buf, "%.*g", prec, f);
                if (strtod(buf, NULL) == f) break;
            }
        }
        return tagged_scalar("float", buf, strlen(buf));
    }
    case WEFT_TOML_BOOL:
        snprintf(buf, sizeof buf, "%s", weft_toml_bool(v) ? "true" : "false");
        return tagged_scalar("bool", buf, strlen(buf));
    case WEFT_TOML_DATETIME:
    case WEFT_TOML_LOCAL_DATETIME:
    case WEFT_TOML_LOCAL_DATE:
    case WEFT_TOML_LOCAL_TIME: {
        static const char *const names[] = {"datetime", "datetime-local", "date-local", "time-local"};
        tagged_datetime_text(v, buf, sizeof buf);
        return tagged_scalar(names[weft_toml_type_of(v) - WEFT_TOML_DATETIME], buf, strlen(buf));
    }
    }
    return NULL;
}

#endif
