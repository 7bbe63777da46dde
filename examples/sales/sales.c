/* SPDX-License-Identifier: MIT */
/*
 * sales.c - the task functions of the example sales pipeline.
 *
 * The pipeline (see config.toml) turns a raw point-of-sale export into a
 * text report:
 *
 *   raw_sales --dedupe (uniq)--> deduped_sales --clean--> clean_sales
 *   clean_sales --by_region--> region_totals  \
 *   clean_sales --by_product--> product_totals --merge--> summary --report--> report
 *   clean_sales --by_month--> month_totals     /
 *
 * Money is counted in integer cents from the moment a price is parsed, so
 * totals add up exactly (12.10 * 3 is 3630 cents, not 36.299999...).
 * Each function returns 0 on success; on bad input it calls weft_ctx_fail()
 * with a message naming the node and what was wrong, and returns 1.
 *
 * The module is compiled with -fvisibility=hidden like the rest of weft, so
 * the task functions are exported explicitly (SALES_TASK).
 */
#include "weft.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SALES_TASK __attribute__((visibility("default")))

SALES_TASK int clean(weft_ctx *ctx);
SALES_TASK int by_region(weft_ctx *ctx);
SALES_TASK int by_product(weft_ctx *ctx);
SALES_TASK int by_month(weft_ctx *ctx);
SALES_TASK int merge(weft_ctx *ctx);
SALES_TASK int report(weft_ctx *ctx);

/* The columns every sales csv must have, in the order clean writes them. */
enum { COL_DATE, COL_REGION, COL_PRODUCT, COL_UNITS, COL_PRICE, NCOLS };
static const char *const col_names[NCOLS] = {"date", "region", "product", "units", "unit_price"};

/* Longest field we keep; longer ones are a sign of a broken export. */
#define FIELD_MAX 128
/* Dropped rows logged one by one; beyond this only the counts are logged. */
#define LOG_DROPPED_MAX 20
/* Distinct keys of one aggregate (regions, products or months). */
#define GROUPS_MAX 1024

/* ---- small parsing helpers ---------------------------------------------- */

/* Copies `s` without leading and trailing white space into out[FIELD_MAX];
 * false when it does not fit. */
static bool trim_copy(const char *s, char *out)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    if (n >= FIELD_MAX) return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* YYYY-MM-DD with a plausible month and day. */
static bool parse_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return false;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* A whole number with an optional sign, at most 9 digits. */
static bool parse_int(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (!*s || strlen(s) > 9) return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s)) return false;
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return true;
}

/* A price like "129.99", "4.5" or "12" as cents, without going through a
 * double.  At most 7 digits before the point and 2 after. */
static bool parse_cents(const char *s, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int nwhole = 0, nfrac = 0;
    for (; isdigit((unsigned char)*s); s++, nwhole++) whole = whole * 10 + (*s - '0');
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++, nfrac++) frac = frac * 10 + (*s - '0');
    if (*s || nwhole == 0 || nwhole > 7 || nfrac > 2) return false;
    if (nfrac == 1) frac *= 10;
    *out = whole * 100 + frac;
    return true;
}

/* "north", " NORTH " -> "North": exports from different tills disagree on case. */
static void title_case(char *s)
{
    bool start = true;
    for (; *s; s++) {
        *s = (char)(start ? toupper((unsigned char)*s) : tolower((unsigned char)*s));
        start = *s == ' ' || *s == '-';
    }
}

/* Maps each of the NCOLS expected columns to its index in the csv's header,
 * so the export may order its columns as it likes.  False (job failed)
 * when a column is missing. */
static bool map_columns(weft_ctx *ctx, weft_data_node *dn, weft_csv_reader *r, size_t idx[NCOLS])
{
    size_t n;
    const char *const *header = weft_csv_header(r, &n);
    for (int c = 0; c < NCOLS; c++) {
        idx[c] = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            char name[FIELD_MAX];
            if (trim_copy(header[i], name) && strcasecmp(name, col_names[c]) == 0) idx[c] = i;
        }
        if (idx[c] == SIZE_MAX) {
            weft_ctx_fail(ctx, "%s (%s): no column \"%s\" in the header; expected the columns "
                          "date, region, product, units, unit_price",
                          weft_dn_config_id(dn), weft_dn_path(dn), col_names[c]);
            return false;
        }
    }
    return true;
}

/* The input and output a one-in, one-out task needs, or NULL after failing the job. */
static weft_data_node *need_input(weft_ctx *ctx, size_t i)
{
    weft_data_node *dn = weft_ctx_input(ctx, i);
    if (!dn) weft_ctx_fail(ctx, "task %s needs at least %zu input(s)", weft_ctx_task_config_id(ctx), i + 1);
    return dn;
}

static weft_data_node *need_output(weft_ctx *ctx)
{
    weft_data_node *dn = weft_ctx_output(ctx, 0);
    if (!dn) weft_ctx_fail(ctx, "task %s needs one output", weft_ctx_task_config_id(ctx));
    return dn;
}

/* ---- clean -------------------------------------------------------------- */

/* Why a row was dropped; counted and logged. */
enum { DROP_BLANK, DROP_MISSING, DROP_MALFORMED, DROP_UNITS, NDROPS };
static const char *const drop_names[NDROPS] = {"blank", "missing field", "malformed value",
                                               "units not positive"};

/* Sorts a raw row into one of the DROP_* reasons, or -1 when every
 * expected field is present; then f[c] holds column c trimmed. */
static int classify(const char *const *fields, size_t n, const size_t idx[NCOLS],
                    char f[NCOLS][FIELD_MAX])
{
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++)
        for (const char *p = fields[i]; *p && blank; p++) blank = isspace((unsigned char)*p);
    if (blank) return DROP_BLANK;
    for (int c = 0; c < NCOLS; c++) {
        if (idx[c] >= n) return DROP_MISSING; /* a row shorter than the header */
        if (!trim_copy(fields[idx[c]], f[c])) return DROP_MALFORMED;
        if (f[c][0] == '\0') return DROP_MISSING;
    }
    return -1;
}

/* The row as comma-separated text for a log line, cut to fit `size`. */
static void join_fields(const char *const *fields, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? "," : "", fields[i]);
        if (w < 0) break;
        used += (size_t)w < size - used ? (size_t)w : size - used - 1;
    }
}

/*
 * clean: raw sales csv in, clean sales csv out.  Repairs what can be
 * repaired (white space around fields, the case of region names, prices
 * like "4.5") and drops what cannot: blank rows (",,,,"; empty lines never
 * reach it, the csv reader skips them), rows with a missing field,
 * malformed dates, units or prices, and rows with zero or negative units
 * (returns are booked elsewhere).  Logs one line per dropped row (up
 * to LOG_DROPPED_MAX) and a summary line with the counts.  Fails when the
 * header lacks a column, the file is not valid csv, or no row survives.
 */
int clean(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_csv_reader *r = NULL;
    weft_csv_writer *w = NULL;
    weft_data_node *in = need_input(ctx, 0), *out = need_output(ctx);
    if (!in || !out) return 1;

    if (weft_csv_open(in, &r, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot read %s: %s", weft_dn_config_id(in), err);
        return 1;
    }
    size_t idx[NCOLS];
    if (!map_columns(ctx, in, r, idx)) goto fail;
    if (weft_csv_create(out, col_names, NCOLS, &w, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot write %s: %s", weft_dn_config_id(out), err);
        goto fail;
    }

    int64_t nrows = 0, kept = 0, ndropped = 0, dropped[NDROPS] = {0};
    const char *const *fields;
    size_t n;
    int got;
    /* Data rows are counted from 1 after the header. */
    while ((got = weft_csv_next(r, &fields, &n, err)) == 1) {
        nrows++;
        char f[NCOLS][FIELD_MAX];
        int why = classify(fields, n, idx, f);
        int64_t units = 0, cents = 0;
        if (why < 0) {
            if (!parse_date(f[COL_DATE]) || !parse_int(f[COL_UNITS], &units) ||
                !parse_cents(f[COL_PRICE], &cents))
                why = DROP_MALFORMED;
            else if (units <= 0)
                why = DROP_UNITS;
        }
        if (why >= 0) {
            if (ndropped++ < LOG_DROPPED_MAX) {
                char line[160];
                join_fields(fields, n, line, sizeof line);
                weft_ctx_log(ctx, "data row %" PRId64 " dropped (%s): %s", nrows,
                             drop_names[why], line);
            }
            dropped[why]++;
            continue;
        }
        title_case(f[COL_REGION]);
        char units_s[24], price_s[24];
        snprintf(units_s, sizeof units_s, "%" PRId64, units);
        snprintf(price_s, sizeof price_s, "%" PRId64 ".%02" PRId64, cents / 100, cents % 100);
        const char *row[NCOLS] = {f[COL_DATE], f[COL_REGION], f[COL_PRODUCT], units_s, price_s};
        if (weft_csv_write_row(w, row, NCOLS, err) != WEFT_OK) {
            weft_ctx_fail(ctx, "cannot write %s: %s", weft_dn_config_id(out), err);
            goto fail;
        }
        kept++;
        if (weft_ctx_canceled(ctx)) {
            weft_ctx_fail(ctx, "canceled after %" PRId64 " rows", nrows);
            goto fail;
        }
    }
    if (got < 0) {
        weft_ctx_fail(ctx, "%s is not valid csv: %s", weft_dn_config_id(in), err);
        goto fail;
    }
    weft_csv_close(r);
    r = NULL;
    weft_ctx_log(ctx, "kept %" PRId64 " of %" PRId64 " rows; dropped %" PRId64 " (%" PRId64
                 " blank, %" PRId64 " missing field, %" PRId64 " malformed, %" PRId64
                 " units not positive)",
                 kept, nrows, ndropped, dropped[DROP_BLANK], dropped[DROP_MISSING],
                 dropped[DROP_MALFORMED], dropped[DROP_UNITS]);
    if (kept == 0) {
        weft_ctx_fail(ctx, "%s (%s): no valid row among %" PRId64, weft_dn_config_id(in),
                      weft_dn_path(in), nrows);
        goto fail;
    }
    if (weft_csv_commit(w, err) != WEFT_OK) {
        w = NULL; /* commit frees the writer, also when it fails */
        weft_ctx_fail(ctx, "cannot write %s: %s", weft_dn_config_id(out), err);
        goto fail;
    }
    return 0;

fail:
    weft_csv_abort(w);
    weft_csv_close(r);
    return 1;
}

/* ---- by_region, by_product, by_month ------------------------------------- */

typedef struct group {
    char key[FIELD_MAX];
    int64_t rows, units, revenue_cents;
} group;

static int group_cmp(const void *a, const void *b)
{
    return strcmp(((const group *)a)->key, ((const group *)b)->key);
}

/* The group of `key`, added when new; NULL when there are too many.  A
 * linear search: a sales export has a handful of regions and products. */
static group *group_find(group *groups, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(groups[i].key, key) == 0) return &groups[i];
    if (*n == GROUPS_MAX) return NULL;
    group *g = &groups[(*n)++];
    memset(g, 0, sizeof *g);
    snprintf(g->key, sizeof g->key, "%s", key);
    return g;
}

static json_t *totals_json(const char *key_name, const char *key, int64_t rows, int64_t units,
                           int64_t revenue_cents)
{
    return json_pack("{s:s, s:I, s:I, s:I}", key_name, key, "rows", (json_int_t)rows, "units",
                     (json_int_t)units, "revenue_cents", (json_int_t)revenue_cents);
}

/*
 * Sums units and revenue of the clean sales csv per value of `column`
 * (keeping `key_len` bytes of it: 7 turns a date into its month) and writes
 *   {"dimension": D, "rows": N, "units": N, "revenue_cents": N,
 *    "groups": [{"key": K, "rows": N, "units": N, "revenue_cents": N}, ...]}
 * with groups sorted by key.  The clean csv is trusted to be clean, but a
 * bad row still fails the job rather than being summed as zero.
 */
static int aggregate(weft_ctx *ctx, const char *dimension, int column, size_t key_len)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_csv_reader *r = NULL;
    json_t *doc = NULL, *arr = NULL;
    weft_data_node *in = need_input(ctx, 0), *out = need_output(ctx);
    group *groups = calloc(GROUPS_MAX, sizeof *groups);
    size_t ngroups = 0;
    if (!in || !out) goto fail;
    if (!groups) {
        weft_ctx_fail(ctx, "out of memory");
        goto fail;
    }
    if (weft_csv_open(in, &r, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot read %s: %s", weft_dn_config_id(in), err);
        goto fail;
    }
    size_t idx[NCOLS];
    if (!map_columns(ctx, in, r, idx)) goto fail;

    int64_t rows = 0, units_total = 0, revenue_total = 0;
    const char *const *fields;
    size_t n;
    int got;
    while ((got = weft_csv_next(r, &fields, &n, err)) == 1) {
        rows++;
        int64_t units, cents;
        if (idx[column] >= n || idx[COL_UNITS] >= n || idx[COL_PRICE] >= n ||
            !parse_int(fields[idx[COL_UNITS]], &units) ||
            !parse_cents(fields[idx[COL_PRICE]], &cents)) {
            weft_ctx_fail(ctx, "%s (%s): data row %" PRId64 " is malformed; run clean first",
                          weft_dn_config_id(in), weft_dn_path(in), rows);
            goto fail;
        }
        char key[FIELD_MAX];
        snprintf(key, sizeof key, "%.*s", (int)key_len, fields[idx[column]]);
        group *g = group_find(groups, &ngroups, key);
        if (!g) {
            weft_ctx_fail(ctx, "%s: more than %d distinct %s values", weft_dn_config_id(in),
                          GROUPS_MAX, dimension);
            goto fail;
        }
        g->rows++;
        g->units += units;
        g->revenue_cents += units * cents;
        units_total += units;
        revenue_total += units * cents;
    }
    if (got < 0) {
        weft_ctx_fail(ctx, "%s is not valid csv: %s", weft_dn_config_id(in), err);
        goto fail;
    }
    qsort(groups, ngroups, sizeof *groups, group_cmp);

    doc = totals_json("dimension", dimension, rows, units_total, revenue_total);
    arr = json_array();
    if (!doc || !arr) goto oom;
    for (size_t i = 0; i < ngroups; i++) {
        group *g = &groups[i];
        if (json_array_append_new(arr, totals_json("key", g->key, g->rows, g->units,
                                                   g->revenue_cents)) != 0)
            goto oom;
    }
    if (json_object_set_new(doc, "groups", arr) != 0) {
        arr = NULL; /* set_new takes the reference even when it fails */
        goto oom;
    }
    arr = NULL;
    if (weft_dn_write_json(out, doc, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot write %s: %s", weft_dn_config_id(out), err);
        goto fail;
    }
    weft_ctx_log(ctx, "%zu %s groups, %" PRId64 " rows, %" PRId64 " units, %" PRId64 " cents",
                 ngroups, dimension, rows, units_total, revenue_total);
    weft_csv_close(r);
    json_decref(doc);
    free(groups);
    return 0;

oom:
    weft_ctx_fail(ctx, "out of memory building %s totals", dimension);
fail:
    json_decref(arr);
    json_decref(doc);
    weft_csv_close(r);
    free(groups);
    return 1;
}

int by_region(weft_ctx *ctx) { return aggregate(ctx, "region", COL_REGION, FIELD_MAX); }
int by_product(weft_ctx *ctx) { return aggregate(ctx, "product", COL_PRODUCT, FIELD_MAX); }
int by_month(weft_ctx *ctx) { return aggregate(ctx, "month", COL_DATE, 7); } /* "2024-01" */

/* ---- merge --------------------------------------------------------------- */

/* Reads member `key` of `obj` as an integer; false when absent or not one. */
static bool get_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) return false;
    *out = json_integer_value(v);
    return true;
}

/*
 * merge (fan-in): every input is an aggregate written by `aggregate`; the
 * output is one summary
 *   {"rows": N, "units": N, "revenue_cents": N, "dimensions": ["region", ...],
 *    "region": [groups...], "product": [...], "month": [...]}
 * The inputs are cross-checked: each slices the same rows, so their grand
 * totals must agree; a mismatch means an aggregate is stale or wrong.
 */
int merge(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_data_node *out = need_output(ctx);
    size_t nin = weft_ctx_ninputs(ctx);
    json_t *summary = json_object(), *dims = json_array(), *agg = NULL;
    int64_t totals[3] = {0};
    static const char *const total_keys[3] = {"rows", "units", "revenue_cents"};
    const char *first = NULL;
    if (!out) goto fail;
    if (!summary || !dims) goto oom;
    if (nin == 0) {
        weft_ctx_fail(ctx, "merge needs at least one aggregate as input");
        goto fail;
    }
    for (size_t i = 0; i < nin; i++) {
        weft_data_node *in = weft_ctx_input(ctx, i);
        const char *id = weft_dn_config_id(in);
        if (weft_dn_read_json(in, &agg, err) != WEFT_OK) {
            weft_ctx_fail(ctx, "cannot read %s: %s", id, err);
            goto fail;
        }
        json_t *dim = json_object_get(agg, "dimension"), *groups = json_object_get(agg, "groups");
        if (!json_is_string(dim) || !json_is_array(groups)) {
            weft_ctx_fail(ctx, "%s (%s) is not an aggregate: it needs \"dimension\" and \"groups\"",
                          id, weft_dn_path(in));
            goto fail;
        }
        for (int k = 0; k < 3; k++) {
            int64_t v;
            if (!get_int(agg, total_keys[k], &v)) {
                weft_ctx_fail(ctx, "%s: \"%s\" is missing or not an integer", id, total_keys[k]);
                goto fail;
            }
            if (i == 0) {
                totals[k] = v;
            } else if (v != totals[k]) {
                weft_ctx_fail(ctx, "%s and %s disagree on %s (%" PRId64 " vs %" PRId64
                              "): one of them is stale",
                              first, id, total_keys[k], totals[k], v);
                goto fail;
            }
        }
        if (i == 0) first = id;
        if (json_object_set(summary, json_string_value(dim), groups) != 0 ||
            json_array_append(dims, dim) != 0)
            goto oom;
        json_decref(agg);
        agg = NULL;
    }
    for (int k = 0; k < 3; k++)
        if (json_object_set_new(summary, total_keys[k], json_integer(totals[k])) != 0) goto oom;
    if (json_object_set(summary, "dimensions", dims) != 0) goto oom;
    if (weft_dn_write_json(out, summary, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot write %s: %s", weft_dn_config_id(out), err);
        goto fail;
    }
    weft_ctx_log(ctx, "merged %zu aggregates: %" PRId64 " rows, %" PRId64 " units, %" PRId64
                 " cents", nin, totals[0], totals[1], totals[2]);
    json_decref(dims);
    json_decref(summary);
    return 0;

oom:
    weft_ctx_fail(ctx, "out of memory merging aggregates");
fail:
    json_decref(agg);
    json_decref(dims);
    json_decref(summary);
    return 1;
}

/* ---- report -------------------------------------------------------------- */

/* "1234567" cents -> "12345.67" */
static void format_money(int64_t cents, char *buf, size_t size)
{
    snprintf(buf, size, "%s%" PRId64 ".%02" PRId64, cents < 0 ? "-" : "",
             (cents < 0 ? -cents : cents) / 100, (cents < 0 ? -cents : cents) % 100);
}

/* One aligned table: a row per group and a total row. */
static bool print_table(FILE *f, const char *dimension, const json_t *groups, int64_t rows,
                        int64_t units, int64_t revenue_cents)
{
    int w = (int)strlen(dimension) > 5 ? (int)strlen(dimension) : 5; /* the title, "Total" */
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        const char *key = json_string_value(json_object_get(g, "key"));
        if (!key) return false;
        if ((int)strlen(key) > w) w = (int)strlen(key);
    }
    char title[64];
    snprintf(title, sizeof title, "%s", dimension);
    title[0] = (char)toupper((unsigned char)title[0]);
    char rule[FIELD_MAX + 1];
    memset(rule, '-', sizeof rule - 1);
    rule[sizeof rule - 1] = '\0';
    if (w > FIELD_MAX) w = FIELD_MAX;

    fprintf(f, "%-*s  %6s  %7s  %12s\n", w, title, "Rows", "Units", "Revenue");
    fprintf(f, "%.*s  %.6s  %.7s  %.12s\n", w, rule, rule, rule, rule);
    char money[32];
    json_array_foreach(groups, i, g) {
        int64_t r, u, c;
        if (!get_int(g, "rows", &r) || !get_int(g, "units", &u) ||
            !get_int(g, "revenue_cents", &c))
            return false;
        format_money(c, money, sizeof money);
        fprintf(f, "%-*s  %6" PRId64 "  %7" PRId64 "  %12s\n", w,
                json_string_value(json_object_get(g, "key")), r, u, money);
    }
    fprintf(f, "%.*s  %.6s  %.7s  %.12s\n", w, rule, rule, rule, rule);
    format_money(revenue_cents, money, sizeof money);
    fprintf(f, "%-*s  %6" PRId64 "  %7" PRId64 "  %12s\n\n", w, "Total", rows, units, money);
    return true;
}

/*
 * report: the merged summary as a text report: the grand totals, then one
 * table per dimension in the summary's order.
 */
int report(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_data_node *in = need_input(ctx, 0), *out = need_output(ctx);
    json_t *summary = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (!in || !out) return 1;
    if (weft_dn_read_json(in, &summary, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot read %s: %s", weft_dn_config_id(in), err);
        return 1;
    }
    int64_t rows, units, cents;
    json_t *dims = json_object_get(summary, "dimensions");
    if (!get_int(summary, "rows", &rows) || !get_int(summary, "units", &units) ||
        !get_int(summary, "revenue_cents", &cents) || !json_is_array(dims)) {
        weft_ctx_fail(ctx, "%s (%s) is not a sales summary: it needs rows, units, revenue_cents "
                      "and dimensions", weft_dn_config_id(in), weft_dn_path(in));
        goto fail;
    }
    f = open_memstream(&text, &len);
    if (!f) {
        weft_ctx_fail(ctx, "out of memory");
        goto fail;
    }
    char money[32];
    format_money(cents, money, sizeof money);
    fprintf(f, "Sales report\n============\n\n");
    fprintf(f, "Sales rows:     %" PRId64 "\n", rows);
    fprintf(f, "Units sold:     %" PRId64 "\n", units);
    fprintf(f, "Revenue:        %s\n\n", money);
    size_t i;
    json_t *dim;
    json_array_foreach(dims, i, dim) {
        const char *name = json_string_value(dim);
        json_t *groups = name ? json_object_get(summary, name) : NULL;
        if (!json_is_array(groups) || !print_table(f, name, groups, rows, units, cents)) {
            weft_ctx_fail(ctx, "%s: the \"%s\" groups are malformed", weft_dn_config_id(in),
                          name ? name : "?");
            goto fail;
        }
    }
    if (fclose(f) != 0) {
        f = NULL;
        weft_ctx_fail(ctx, "cannot build the report: out of memory");
        goto fail;
    }
    f = NULL;
    if (weft_dn_write(out, text, len, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "cannot write %s: %s", weft_dn_config_id(out), err);
        goto fail;
    }
    weft_ctx_log(ctx, "report: %zu bytes, %zu tables", len, json_array_size(dims));
    free(text);
    json_decref(summary);
    return 0;

fail:
    if (f) fclose(f);
    free(text);
    json_decref(summary);
    return 1;
}
