/* SPDX-License-Identifier: MIT */
/*
 * cmd_data.c - `weft data`: a data node's content, byte for byte, on
 * standard output (`weft data ID`); what the store knows about it, with its
 * edit history (`weft data --info ID`, also what `weft show DATANODE_...`
 * prints); and writing or appending to it from a file or standard input
 * (`weft data write ID [FILE|-]`).  ID is an instance id (DATANODE_...) or a
 * config id when the store holds one instance of it.  Opens the store
 * read-only: a write works while an orchestrator runs, which then sees it.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX ((size_t)1 << 30) /* bytes read for one write */

int cmd_data(int argc, char **argv);

static const char *const scope_names[] = {"SCENARIO", "CYCLE", "GLOBAL"};

static const char *scope_name(weft_scope s)
{
    return (unsigned)s < sizeof scope_names / sizeof *scope_names ? scope_names[s] : "?";
}

static json_t *info_json(const weft_data_info *d)
{
    char buf[64];
    json_t *edits = json_array();
    for (size_t i = 0; i < d->nedits; i++) {
        const weft_data_edit *x = &d->edits[i];
        json_t *e = json_object();
        json_object_set_new(e, "timestamp", json_string(out_time(x->at_us, true, buf, sizeof buf)));
        json_object_set_new(e, "at_us", json_integer(x->at_us));
        if (x->job_id) json_object_set_new(e, "job_id", json_string(x->job_id));
        else json_object_set_new(e, "editor_id", out_json_str(x->editor));
        json_array_append_new(edits, e);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", out_json_str(d->id));
    json_object_set_new(o, "config", out_json_str(d->config_id));
    json_object_set_new(o, "storage_type", out_json_str(d->storage_type));
    json_object_set_new(o, "scope", json_string(scope_name(d->scope)));
    json_object_set_new(o, "scenario", out_json_str(d->scenario_id));
    json_object_set_new(o, "path", out_json_str(d->path));
    json_object_set_new(o, "last_edit_date",
                        d->last_edit_us > 0 ? json_string(out_time(d->last_edit_us, true, buf, sizeof buf))
                                            : json_null());
    json_object_set_new(o, "last_edit_us", d->last_edit_us > 0 ? json_integer(d->last_edit_us) : json_null());
    json_object_set_new(o, "last_editor", out_json_str(d->last_job_id ? d->last_job_id : d->last_editor));
    json_object_set_new(o, "locked_by", out_json_str(d->locked_by));
    json_object_set_new(o, "edits", edits);
    return o;
}

/* Names may come from a user (--editor): escaped on a terminal. */
static void field(const char *name, const char *value)
{
    char *shown = value && *value ? out_display(value, stdout) : NULL;
    printf("%-12s%s\n", name, shown ? shown : "-");
    free(shown);
}

static void info_print(const weft_data_info *d)
{
    char buf[64];
    field("data node", d->id);
    field("config", d->config_id);
    field("storage", d->storage_type);
    field("scope", scope_name(d->scope));
    field("scenario", d->scenario_id);
    field("path", d->path);
    field("last edit", d->last_edit_us > 0 ? out_time(d->last_edit_us, true, buf, sizeof buf) : NULL);
    field("editor", d->last_job_id ? d->last_job_id : d->last_editor);
    field("locked by", d->locked_by);
    if (d->nedits == 0) {
        printf("edits       -\n");
        return;
    }
    printf("edits\n");
    for (size_t i = 0; i < d->nedits; i++) {
        const weft_data_edit *x = &d->edits[i];
        char *by = out_display(x->job_id ? x->job_id : x->editor ? x->editor : "-", stdout);
        printf("  %s  %s\n", out_time(x->at_us, true, buf, sizeof buf), by ? by : "-");
        free(by);
    }
}

int cli_data_info(weft_orchestrator *o, const char *id, bool json)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_data_info *d = NULL;
    weft_err e = weft_data_info_get(o, id, &d, err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    int rc = CLI_OK;
    if (json) rc = out_json_print(info_json(d));
    else info_print(d);
    weft_data_info_free(d);
    return rc;
}

/* Reads all of `f` (at most INPUT_MAX bytes); caller frees *out. */
static int read_input(FILE *f, const char *name, char **out, size_t *len)
{
    size_t n = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *p = ncap <= INPUT_MAX + 1 ? realloc(buf, ncap) : NULL;
            if (!p) {
                free(buf);
                if (ncap > INPUT_MAX + 1) cli_error("%s: larger than %zu MiB", name, INPUT_MAX >> 20);
                else cli_error("%s: out of memory", name);
                return CLI_FAILED;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        cli_error("cannot read %s: %s", name, strerror(errno));
        free(buf);
        return CLI_FAILED;
    }
    *out = buf;
    *len = n;
    return CLI_OK;
}

static int load_input(const char *file, char **data, size_t *len)
{
    if (!file || strcmp(file, "-") == 0) return read_input(stdin, "standard input", data, len);
    FILE *f = fopen(file, "rb");
    if (!f) {
        cli_error("cannot open %s: %s", file, strerror(errno));
        return CLI_FAILED;
    }
    int rc = read_input(f, file, data, len);
    fclose(f);
    return rc;
}

static int data_write(int argc, char **argv)
{
    const char *config = NULL, *editor = NULL, *pos[2];
    bool append = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("append", 0, &append),
                            CLI_STRING("editor", 0, "a name", &editor), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "data", .opts = opts, .pos = pos, .maxpos = 2};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0)
        return cli_usage_error("data", "which data node to write? give its id or its config id");
    char *data = NULL;
    size_t len = 0;
    if ((rc = load_input(got.npos > 1 ? pos[1] : NULL, &data, &len))) return rc;
    weft_config *cfg;
    weft_orchestrator *o;
    if ((rc = cli_open_for(config, "data node", pos[0], &cfg, &o))) {
        free(data);
        return rc;
    }
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_data_write_opts wo = {.flags = append ? WEFT_DATA_APPEND : 0, .editor = editor};
    weft_err e = weft_data_write(o, pos[0], data, len, &wo, err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        rc = CLI_FAILED;
    }
    free(data);
    cli_close(cfg, o);
    return rc;
}

static int data_print(weft_orchestrator *o, const char *id)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    char *data = NULL;
    size_t len = 0;
    int rc = CLI_OK;
    weft_err e = weft_data_read(o, id, &data, &len, err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        rc = CLI_FAILED;
    } else if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("cannot write the output: %s", strerror(errno));
        rc = CLI_FAILED;
    }
    free(data);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "write") == 0) return data_write(argc - 1, argv + 1);
    const char *config = NULL, *pos[1];
    bool info = false, json = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("info", 0, &info), CLI_FLAG("json", 0, &json),
                            CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "data", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0) return cli_usage_error("data", "which data node? give its id or its config id");
    if (json && !info) return cli_usage_error("data", "--json goes with --info (the content is printed as is)");
    const char *id = pos[0];

    weft_config *cfg;
    weft_orchestrator *o;
    rc = cli_open_for(config, "data node", id, &cfg, &o);
    if (rc) return rc;
    rc = info ? cli_data_info(o, id, json) : data_print(o, id);
    cli_close(cfg, o);
    return rc;
}
