/* SPDX-License-Identifier: MIT */
/*
 * cmd_cycles.c - `weft cycles`: the cycles of the store (Taipy's cycles:
 * one period of a scenario frequency) with their scenarios and which one is
 * primary, as a table or JSON.  Opens the store read-only; a store that
 * does not exist yet has no cycle.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <string.h>

int cmd_cycles(int argc, char **argv);

/* "2026-05-01T00:00:00" -> "2026-05-01" into buf (a cycle's dates are days). */
static const char *day_of(const char *iso, char *buf, size_t size)
{
    snprintf(buf, size, "%.10s", iso ? iso : "");
    return buf;
}

static int print_json(weft_cycle_info **v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_object(), *scs = json_array();
        json_object_set_new(c, "id", out_json_str(v[i]->id));
        json_object_set_new(c, "name", out_json_str(v[i]->name));
        json_object_set_new(c, "frequency", out_json_str(v[i]->frequency));
        json_object_set_new(c, "start_date", out_json_str(v[i]->start_date));
        json_object_set_new(c, "end_date", out_json_str(v[i]->end_date));
        json_object_set_new(c, "creation_date", out_json_str(v[i]->creation_date));
        const char *primary = NULL;
        for (size_t k = 0; k < v[i]->nscenarios; k++) {
            const weft_cycle_scenario *sc = &v[i]->scenarios[k];
            json_t *s = json_object();
            json_object_set_new(s, "id", out_json_str(sc->id));
            json_object_set_new(s, "config_id", out_json_str(sc->config_id));
            json_object_set_new(s, "creation_date", out_json_str(sc->creation_date));
            json_object_set_new(s, "primary", json_boolean(sc->is_primary));
            json_array_append_new(scs, s);
            if (sc->is_primary) primary = sc->id;
        }
        json_object_set_new(c, "primary_scenario", out_json_str(primary));
        json_object_set_new(c, "scenarios", scs);
        json_array_append_new(arr, c);
    }
    return out_json_print(arr);
}

/* One row per scenario; the cycle's columns only on its first row. */
static void print_table(weft_cycle_info **v, size_t n)
{
    out_table t = OUT_TABLE_INIT;
    static const char *const head[] = {"CYCLE", "NAME", "FREQUENCY", "START", "END",
                                       "SCENARIO", "CREATED", "PRIMARY"};
    out_table_header(&t, 8, head);
    for (size_t i = 0; i < n; i++) {
        char start[16], end[16], created[16];
        day_of(v[i]->start_date, start, sizeof start);
        day_of(v[i]->end_date, end, sizeof end);
        for (size_t k = 0; k < v[i]->nscenarios || k == 0; k++) {
            const weft_cycle_scenario *sc = v[i]->nscenarios ? &v[i]->scenarios[k] : NULL;
            bool first = k == 0;
            const char *row[] = {first ? v[i]->id : "", first ? v[i]->name : "",
                                 first ? v[i]->frequency : "", first ? start : "",
                                 first ? end : "", sc ? sc->id : "-",
                                 sc ? day_of(sc->creation_date, created, sizeof created) : "",
                                 sc && sc->is_primary ? "primary" : ""};
            out_table_row(&t, row);
        }
    }
    out_table_print(&t, stdout);
    out_table_release(&t);
}

int cmd_cycles(int argc, char **argv)
{
    bool json, no_store;
    weft_config *cfg;
    weft_orchestrator *o;
    int rc = cli_list_open("cycles", argc, argv, &json, &no_store, &cfg, &o);
    if (rc) return rc;
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_cycle_info **v = NULL;
    size_t n = 0;
    if (o) {
        weft_err e = weft_cycles_list(o, &v, &n, err);
        if (e) {
            cli_error("cannot list cycles: %s", err[0] ? err : weft_strerror(e));
            cli_close(cfg, o);
            return CLI_FAILED;
        }
    }
    if (json)
        rc = print_json(v, n);
    else if (n)
        print_table(v, n);
    else
        fprintf(stderr, "weft: no cycle yet (a scenario with a frequency creates one when it runs)\n");
    weft_cycle_list_free(v, n);
    cli_close(cfg, o);
    return rc;
}
