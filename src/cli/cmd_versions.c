/* SPDX-License-Identifier: MIT */
/*
 * cmd_versions.c - `weft versions`: the store's versions (name, mode,
 * creation date, number of entities) as a table or JSON, and
 * `weft versions --delete VERSION`, which deletes one with its entities
 * through cmd_delete.c's cli_delete_run().
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdio.h>

int cmd_versions(int argc, char **argv);

static int list_versions(weft_orchestrator *o, bool json, bool no_store)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_version_info *v = NULL;
    size_t n = 0;
    weft_err e = o ? weft_versions_list(o, &v, &n, err) : WEFT_OK;
    if (e) {
        cli_error("cannot list versions: %s", err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    int rc = CLI_OK;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "name", v[i].name, "mode",
                                                 weft_version_mode_name(v[i].mode), "created_us",
                                                 (json_int_t)v[i].created_us, "entities",
                                                 (json_int_t)v[i].nentities));
        rc = out_json_print(arr);
    } else if (n == 0) {
        fprintf(stderr, "weft: no versions%s\n", no_store ? " (nothing has run yet)" : "");
    } else {
        out_table t = OUT_TABLE_INIT;
        static const char *const head[] = {"VERSION", "MODE", "CREATED", "ENTITIES"};
        out_table_header(&t, 4, head);
        for (size_t i = 0; i < n; i++) {
            char when[64], count[32];
            snprintf(count, sizeof count, "%zu", v[i].nentities);
            const char *row[] = {v[i].name, weft_version_mode_name(v[i].mode),
                                 out_time(v[i].created_us, true, when, sizeof when), count};
            out_table_row(&t, row);
        }
        out_table_print(&t, stdout);
        out_table_release(&t);
    }
    weft_version_list_free(v, n);
    return rc;
}

int cmd_versions(int argc, char **argv)
{
    const char *config = NULL, *del = NULL;
    bool json = false, force = false, dry_run = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("json", 0, &json),
                            CLI_STRING("delete", 0, "a version name", &del),
                            CLI_FLAG("force", 'f', &force), CLI_FLAG("dry-run", 'n', &dry_run),
                            CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "versions", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (del) {
        if (json) return cli_usage_error("versions", "--json lists; it does not go with --delete");
        cli_delete_op op = {.kind = CLI_DELETE_VERSION, .id = del};
        return cli_delete_run(config, &op, force, dry_run);
    }
    if (force || dry_run)
        return cli_usage_error("versions", "--force and --dry-run go with --delete VERSION");
    weft_config *cfg;
    weft_orchestrator *o;
    bool no_store = false;
    if ((rc = cli_open(config, true, &no_store, &cfg, &o))) return rc;
    rc = list_versions(o, json, no_store);
    cli_close(cfg, o);
    return rc;
}
