/* SPDX-License-Identifier: MIT */
/*
 * cmd_scenarios.c - `weft scenarios`: the scenarios the configuration
 * declares (with their tasks, their sequences and how many instances the
 * store holds) and
 * the instances created so far with their cycle, as text or JSON.  Opens the store
 * read-only; a store that does not exist yet just has no instances.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

int cmd_scenarios(int argc, char **argv);

/* The tasks of configured scenario `id` (borrowed from cfg). */
static const weft_value *scenario_tasks(const weft_config *cfg, const char *id)
{
    char sec[256];
    snprintf(sec, sizeof sec, "SCENARIO.%s", id);
    return weft_config_lookup(cfg, sec, "tasks");
}

/* Appends "a, b" (the texts of list v) to buf at *o; bounded by size. */
static void join_texts(char *buf, size_t size, size_t *o, const weft_value *v)
{
    for (size_t k = 0; k < weft_value_len(v) && *o < size; k++) {
        int w = snprintf(buf + *o, size - *o, "%s%s", k ? ", " : "", weft_value_text(weft_value_at(v, k)));
        if (w > 0) *o += (size_t)w;
    }
}

/* The sequences of configured scenario `id` as "name: a, b; other: c". */
static const char *sequences_text(const weft_config *cfg, const char *id, char *buf, size_t size)
{
    char sec[256];
    size_t o = 0;
    buf[0] = '\0';
    snprintf(sec, sizeof sec, "SCENARIO.%s", id);
    for (size_t i = 0; i < weft_config_nkeys(cfg, sec) && o < size; i++) {
        const char *k = weft_config_key_at(cfg, sec, i);
        if (strncmp(k, "sequences.", 10) != 0) continue;
        int w = snprintf(buf + o, size - o, "%s%s: ", o ? "; " : "", k + 10);
        if (w > 0) o += (size_t)w;
        join_texts(buf, size, &o, weft_config_lookup(cfg, sec, k));
    }
    return buf;
}

static json_t *sequences_json(const weft_config *cfg, const char *id)
{
    char sec[256];
    json_t *seqs = json_object();
    snprintf(sec, sizeof sec, "SCENARIO.%s", id);
    for (size_t i = 0; i < weft_config_nkeys(cfg, sec); i++) {
        const char *k = weft_config_key_at(cfg, sec, i);
        if (strncmp(k, "sequences.", 10) != 0) continue;
        const weft_value *v = weft_config_lookup(cfg, sec, k);
        json_t *tl = json_array();
        for (size_t t = 0; t < weft_value_len(v); t++)
            json_array_append_new(tl, out_json_str(weft_value_text(weft_value_at(v, t))));
        json_object_set_new(seqs, k + 10, tl);
    }
    return seqs;
}

/* How many of the n instances (config ids cids) are of scenario `id`. */
static size_t instances_of(char **cids, size_t n, const char *id)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cids[i], id) == 0) count++;
    return count;
}

/* The cycle of each of the n instances (NULL: none) and whether it is the
 * cycle's primary scenario; arrays of n, freed with instance_cycles_free(). */
typedef struct instance_cycles {
    char **cycle;
    bool *primary;
} instance_cycles;

static void instance_cycles_free(instance_cycles *ic, size_t n)
{
    weft_strv_free(ic->cycle, n);
    free(ic->primary);
}

static weft_err instance_cycles_get(weft_orchestrator *o, char **ids, size_t n, instance_cycles *ic,
                                    char *err)
{
    ic->cycle = calloc(n + 1, sizeof *ic->cycle);
    ic->primary = calloc(n + 1, sizeof *ic->primary);
    if (!ic->cycle || !ic->primary) return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        weft_err e = weft_scenario_cycle(o, ids[i], &ic->cycle[i], &ic->primary[i], err);
        if (e) return e;
    }
    return WEFT_OK;
}

static int print_json(const weft_config *cfg, char **ids, char **cids, const instance_cycles *ic,
                      size_t n)
{
    json_t *conf = json_array(), *inst = json_array();
    size_t nconf = weft_config_count(cfg, WEFT_SECTION_SCENARIO);
    for (size_t c = 0; c < nconf; c++) {
        const char *id = weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, c);
        const weft_value *tasks = scenario_tasks(cfg, id);
        json_t *tl = json_array();
        for (size_t k = 0; k < weft_value_len(tasks); k++)
            json_array_append_new(tl, out_json_str(weft_value_text(weft_value_at(tasks, k))));
        json_t *v = json_object();
        json_object_set_new(v, "id", json_string(id));
        json_object_set_new(v, "tasks", tl);
        json_object_set_new(v, "sequences", sequences_json(cfg, id));
        json_object_set_new(v, "instances", json_integer((json_int_t)instances_of(cids, n, id)));
        json_array_append_new(conf, v);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object();
        json_object_set_new(v, "id", out_json_str(ids[i]));
        json_object_set_new(v, "config_id", out_json_str(cids[i]));
        json_object_set_new(v, "cycle", out_json_str(ic->cycle[i]));
        json_object_set_new(v, "primary", json_boolean(ic->primary[i]));
        json_array_append_new(inst, v);
    }
    json_t *top = json_object();
    json_object_set_new(top, "configured", conf);
    json_object_set_new(top, "instances", inst);
    return out_json_print(top);
}

static void print_tables(const weft_config *cfg, char **ids, char **cids, const instance_cycles *ic,
                         size_t n)
{
    out_table t = OUT_TABLE_INIT;
    static const char *const head[] = {"SCENARIO", "INSTANCES", "TASKS", "SEQUENCES"};
    out_table_header(&t, 4, head);
    size_t nconf = weft_config_count(cfg, WEFT_SECTION_SCENARIO);
    for (size_t c = 0; c < nconf; c++) {
        const char *id = weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, c);
        char tl[1024] = "", cnt[32], seqs[1024];
        size_t o2 = 0;
        join_texts(tl, sizeof tl, &o2, scenario_tasks(cfg, id));
        snprintf(cnt, sizeof cnt, "%zu", instances_of(cids, n, id));
        const char *row[] = {id, cnt, tl, sequences_text(cfg, id, seqs, sizeof seqs)};
        out_table_row(&t, row);
    }
    if (nconf) out_table_print(&t, stdout);
    else fprintf(stderr, "weft: the configuration declares no scenario\n");
    out_table_release(&t);
    if (!n) return;
    static const char *const ihead[] = {"INSTANCE", "SCENARIO", "CYCLE", "PRIMARY"};
    out_table_header(&t, 4, ihead);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = {ids[i], cids[i], ic->cycle[i] ? ic->cycle[i] : "-",
                             ic->primary[i] ? "primary" : ""};
        out_table_row(&t, row);
    }
    printf("\n");
    out_table_print(&t, stdout);
    out_table_release(&t);
}

int cmd_scenarios(int argc, char **argv)
{
    bool json, no_store;
    weft_config *cfg;
    weft_orchestrator *o;
    int rc = cli_list_open("scenarios", argc, argv, &json, &no_store, &cfg, &o);
    if (rc) return rc;

    char err[WEFT_ERRBUF_SIZE] = "";
    char **ids = NULL, **cids = NULL;
    size_t n = 0;
    instance_cycles ic = {0};
    if (o) {
        weft_err e = weft_scenarios_list(o, &ids, &cids, &n, err);
        if (!e) e = instance_cycles_get(o, ids, n, &ic, err);
        if (e) {
            instance_cycles_free(&ic, n);
            weft_strv_free(ids, n);
            weft_strv_free(cids, n);
            cli_error("cannot list scenarios: %s", err[0] ? err : weft_strerror(e));
            cli_close(cfg, o);
            return CLI_FAILED;
        }
    }
    if (json) rc = print_json(cfg, ids, cids, &ic, n);
    else print_tables(cfg, ids, cids, &ic, n);
    instance_cycles_free(&ic, n);
    weft_strv_free(ids, n);
    weft_strv_free(cids, n);
    cli_close(cfg, o);
    return rc;
}
