/* SPDX-License-Identifier: MIT */
/*
 * cli_config.c - how commands load a configuration and show its problems:
 * cli_load_config() loads (and optionally checks) a config file, printing
 * every diagnostic; cli_print_diags() prints them sorted by position, one per
 * line, in the "file:line:col: error|warning: message" form editors parse.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const weft_diag *d;
    size_t index;
} sorted_diag;

static int diag_cmp(const void *pa, const void *pb)
{
    const sorted_diag *a = pa, *b = pb;
    int ca = a->d->line == 0, cb = b->d->line == 0; /* "<code>" and whole-file first */
    if (ca != cb) return cb - ca;
    int f = strcmp(a->d->file, b->d->file);
    if (f) return f;
    if (a->d->line != b->d->line) return a->d->line < b->d->line ? -1 : 1;
    if (a->d->col != b->d->col) return a->d->col < b->d->col ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void cli_print_diags(const weft_config *cfg, FILE *out)
{
    size_t n = weft_config_ndiags(cfg);
    sorted_diag *s = n ? calloc(n, sizeof *s) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (s) s[i] = (sorted_diag){weft_config_diag(cfg, i), i};
    }
    if (s) qsort(s, n, sizeof *s, diag_cmp); /* without memory: printed in the order found */
    for (size_t i = 0; i < n; i++) {
        const weft_diag *d = s ? s[i].d : weft_config_diag(cfg, i);
        const char *sev = d->severity == WEFT_SEVERITY_ERROR ? "error" : "warning";
        if (d->line > 0)
            fprintf(out, "%s:%d:%d: %s: %s\n", d->file, d->line, d->col, sev, d->message);
        else
            fprintf(out, "%s: %s: %s\n", d->file, sev, d->message);
    }
    free(s);
}

weft_config *cli_load_config(const char *path, int check, int *nerrors)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_config *cfg = weft_config_new();
    if (!path) path = "config.toml";
    if (!cfg) {
        fprintf(stderr, "weft: out of memory\n");
        return NULL;
    }
    weft_err e = weft_config_load(cfg, path, err);
    if (e == WEFT_EIO || e == WEFT_ENOMEM || e == WEFT_EINVAL) {
        fprintf(stderr, "weft: %s\n", err);
        weft_config_free(cfg);
        return NULL;
    }
    /* Invalid TOML leaves nothing to check; other load errors do not stop
     * the check, so that every problem is reported at once. */
    if (check && e != WEFT_ESYNTAX && weft_config_check(cfg, err) == WEFT_ENOMEM) {
        fprintf(stderr, "weft: out of memory\n");
        weft_config_free(cfg);
        return NULL;
    }
    /* Functions only of a config without errors: their keys are sound. */
    if ((check & CLI_CHECK_FUNCTIONS) && e == WEFT_OK && weft_config_nerrors(cfg) == 0 &&
        weft_config_check_functions(cfg, NULL, check & CLI_CHECK_IMPORT, err) != WEFT_OK)
        fprintf(stderr, "weft: cannot check the task functions: %s\n", err);
    cli_print_diags(cfg, stderr);
    if (nerrors) *nerrors = (int)weft_config_nerrors(cfg);
    return cfg;
}
