/* SPDX-License-Identifier: MIT */
/*
 * datanode.c - reading and writing a data node's content by storage type:
 * pickle/binary (opaque bytes), text, json (validated with jansson), csv
 * (bytes here; rows in csv.c), excel (a workbook's bytes here; rows in
 * excel.c; Python tasks see DataFrames, python.c), in_memory (held by the app, development mode
 * only), generic (the node's read_fct/write_fct from the application),
 * sql_table (a SQLite table seen as a JSON array of row objects) and sql
 * (rows of a read_query, written by the statements of a write_query); on
 * PostgreSQL those two are in dn_pg.c.  parquet, mongo_collection and
 * s3_object are known, and refused with a message: no reader for them
 * here.  Files are
 * replaced atomically (temporary file in the same folder, fsync, rename), so
 * a failed or retried job never leaves a partial output.  Also where a node
 * instance's path is decided, and whether it has content to read.
 */
#define _GNU_SOURCE /* asprintf */
#include "job/dn_sql.h"
#include "job/runner.h"
#include "job/xlsx.h"
#include "util/util.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

typedef enum st_kind {
    ST_PICKLE, ST_BINARY, ST_TEXT, ST_JSON, ST_CSV, ST_EXCEL, ST_MEMORY, ST_GENERIC, ST_SQL, ST_SQLQ,
    ST_PARQUET, ST_MONGO, ST_S3, ST_UNKNOWN
} st_kind;

static const struct {
    const char *name, *ext;
} st_info[] = {
    [ST_PICKLE] = {"pickle", "p"},   [ST_BINARY] = {"binary", "bin"},
    [ST_TEXT] = {"text", "txt"},     [ST_JSON] = {"json", "json"},
    [ST_CSV] = {"csv", "csv"},       [ST_EXCEL] = {"excel", "xlsx"},
    [ST_MEMORY] = {"in_memory", NULL},
    [ST_GENERIC] = {"generic", NULL}, [ST_SQL] = {"sql_table", NULL},
    [ST_SQLQ] = {"sql", NULL},        [ST_PARQUET] = {"parquet", NULL},
    [ST_MONGO] = {"mongo_collection", NULL}, [ST_S3] = {"s3_object", NULL},
};

static st_kind kind_of(const char *name)
{
    if (!name) return ST_PICKLE;
    for (int k = 0; k < ST_UNKNOWN; k++)
        if (strcmp(st_info[k].name, name) == 0) return (st_kind)k;
    return ST_UNKNOWN;
}

static bool is_file_kind(st_kind k) { return k <= ST_EXCEL; }

/* Taipy's types this build has no reader or writer for: a config that
 * uses them loads (weft check warns), and a job that uses them fails. */
static bool no_reader(st_kind k) { return k == ST_PARQUET || k == ST_MONGO || k == ST_S3; }

struct weft_data_node {
    weft__app *app;
    char *id, *config_id, *storage_type, *path, *section;
    st_kind kind;
    bool *written;
};

/* ---- config helpers ---- */

static const weft_value *dn_lookup(const weft__app *app, const char *config_id, const char *key)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "DATA_NODE.%s", config_id);
    if (n < 0 || (size_t)n >= sizeof buf) return NULL; /* ids are far shorter */
    return weft_config_lookup(weft__app_config(app), buf, key);
}

static const char *text_prop(const weft__app *app, const char *config_id, const char *key)
{
    const char *t = weft_value_text(dn_lookup(app, config_id, key));
    return t && *t ? t : NULL;
}

static bool value_truthy(const weft_value *v, bool def)
{
    if (!v) return def;
    if (weft_value_type_of(v) == WEFT_VALUE_BOOL) return weft_value_bool(v);
    const char *t = weft_value_text(v);
    if (!t) return def;
    return strcmp(t, "True") == 0 || strcmp(t, "true") == 0 || strcmp(t, "1") == 0;
}

/* `p` made absolute against `base` (caller frees); NULL on ENOMEM. */
static char *abs_path(const char *base, const char *p)
{
    char *out = NULL;
    if (p[0] == '/') return strdup(p);
    while (p[0] == '.' && p[1] == '/') p += 2;
    if (asprintf(&out, "%s/%s", base, p) < 0) return NULL;
    return out;
}

/* ---- default_data ---- */

static json_t *value_to_json(const weft_value *v)
{
    const char *t = weft_value_text(v);
    switch (weft_value_type_of(v)) {
    case WEFT_VALUE_LIST: {
        json_t *a = json_array();
        for (size_t i = 0; a && i < weft_value_len(v); i++) {
            if (json_array_append_new(a, value_to_json(weft_value_at(v, i))) < 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case WEFT_VALUE_INT: return json_integer(weft_value_int(v));
    case WEFT_VALUE_FLOAT: return json_real(weft_value_float(v));
    case WEFT_VALUE_BOOL: return json_boolean(weft_value_bool(v));
    default: return json_string(t ? t : "");
    }
}

/* The node's default_data as content (caller frees): a scalar's text as is;
 * for json nodes (and lists) a JSON document.  *found false when unset. */
static weft_err default_content(const weft__app *app, const char *config_id, st_kind kind,
                                char **out, size_t *len, bool *found, char *err)
{
    const weft_value *v = dn_lookup(app, config_id, "default_data");
    *found = v != NULL;
    if (!v) return WEFT_OK;
    const char *t = weft_value_text(v);
    bool as_json = kind == ST_JSON || kind == ST_SQL || weft_value_type_of(v) == WEFT_VALUE_LIST;
    if (!as_json || (weft_value_type_of(v) == WEFT_VALUE_STR && t)) {
        if (as_json) { /* a JSON text given as a string stays as it is */
            json_t *j = json_loads(t, JSON_DECODE_ANY, NULL);
            if (j) {
                json_decref(j);
                as_json = false;
            }
        } else if (weft_value_type_of(v) == WEFT_VALUE_BOOL) {
            t = weft_value_bool(v) ? "True" : "False";
        }
    }
    if (!as_json) {
        *out = weft__strdup(t ? t : "");
        *len = *out ? strlen(*out) : 0;
    } else {
        json_t *j = value_to_json(v);
        *out = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        *len = *out ? strlen(*out) : 0;
        json_decref(j);
    }
    return *out ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "out of memory");
}

/* ---- paths ---- */

weft_err weft__dn_instance_path(const weft__app *app, const char *config_id,
                                const char *instance_id, const char *storage_folder,
                                char **out, char *err)
{
    *out = NULL;
    const char *type = text_prop(app, config_id, "storage_type");
    st_kind kind = kind_of(type);
    if (kind == ST_UNKNOWN)
        return weft__err(err, WEFT_EINVAL, "data node %s: unsupported storage type '%s'", config_id, type);
    if (!is_file_kind(kind)) return WEFT_OK;
    const char *p = text_prop(app, config_id, "path");
    if (!p) p = text_prop(app, config_id, "default_path");
    char *res = NULL, *folder = NULL;
    if (p) {
        res = abs_path(weft__app_path(app), p);
    } else {
        if (!storage_folder) storage_folder = weft_config_storage_folder(weft__app_config(app));
        /* A relative storage folder is taken from the application path, so
         * that every worker finds the same files whatever its cwd. */
        folder = abs_path(weft__app_path(app), storage_folder);
        if (folder) {
            size_t fl = strlen(folder);
            while (fl > 1 && folder[fl - 1] == '/') folder[--fl] = '\0';
            if (asprintf(&res, "%s/data/%s.%s", folder, instance_id, st_info[kind].ext) < 0) res = NULL;
        }
    }
    free(folder);
    if (!res) return weft__err(err, WEFT_ENOMEM, "out of memory");
    *out = res;
    return WEFT_OK;
}

/* ---- handles ---- */

weft_err weft__dn_open(weft__app *app, const weft__dn_ref *ref, bool *written,
                       weft_data_node **out, char *err)
{
    weft_data_node *dn = calloc(1, sizeof *dn);
    if (!dn) return weft__err(err, WEFT_ENOMEM, "out of memory");
    dn->app = app;
    dn->written = written;
    const char *type = ref->storage_type ? ref->storage_type
                                         : text_prop(app, ref->config_id, "storage_type");
    if (!type) type = "pickle";
    dn->kind = kind_of(type);
    dn->id = weft__strdup(ref->id ? ref->id : ref->config_id);
    dn->config_id = weft__strdup(ref->config_id);
    dn->storage_type = weft__strdup(type);
    dn->path = weft__strdup(ref->path);
    if (asprintf(&dn->section, "DATA_NODE.%s", ref->config_id) < 0) dn->section = NULL;
    if (!dn->id || !dn->config_id || !dn->storage_type || (ref->path && !dn->path) || !dn->section) {
        weft__dn_free(dn);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    if (dn->kind == ST_UNKNOWN) {
        weft__err(err, WEFT_EINVAL, "data node %s: unsupported storage type '%s'", dn->config_id, type);
        weft__dn_free(dn);
        return WEFT_EINVAL;
    }
    if (no_reader(dn->kind)) {
        weft__err(err, WEFT_EINVAL, "data node %s: this build of weft cannot read or write storage_type '%s'",
                  dn->config_id, type);
        weft__dn_free(dn);
        return WEFT_EINVAL;
    }
    if (is_file_kind(dn->kind) && !dn->path) {
        weft__err(err, WEFT_EINVAL, "data node %s (%s) has no path", dn->id, type);
        weft__dn_free(dn);
        return WEFT_EINVAL;
    }
    *out = dn;
    return WEFT_OK;
}

void weft__dn_free(weft_data_node *dn)
{
    if (!dn) return;
    free(dn->id);
    free(dn->config_id);
    free(dn->storage_type);
    free(dn->path);
    free(dn->section);
    free(dn);
}

void weft__dn_mark_written(weft_data_node *dn)
{
    if (dn->written) *dn->written = true;
}

const char *weft_dn_id(const weft_data_node *dn) { return dn ? dn->id : NULL; }
const char *weft_dn_config_id(const weft_data_node *dn) { return dn ? dn->config_id : NULL; }
const char *weft_dn_storage_type(const weft_data_node *dn) { return dn ? dn->storage_type : NULL; }
const char *weft_dn_path(const weft_data_node *dn) { return dn ? dn->path : NULL; }

const weft_value *weft_dn_property(const weft_data_node *dn, const char *key)
{
    if (!dn || !key) return NULL;
    return weft_config_lookup(weft__app_config(dn->app), dn->section, key);
}

bool weft__dn_bool_property(const weft_data_node *dn, const char *key, bool def)
{
    return value_truthy(weft_dn_property(dn, key), def);
}

/* ---- atomic files ---- */

struct weft__afile {
    char *path, *tmp;
    FILE *f;
};

weft_err weft__mkdir_parent(const char *path, char *err)
{
    char *p = strdup(path);
    if (!p) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = WEFT_OK;
    char *last = strrchr(p, '/');
    if (last && last != p) {
        *last = '\0';
        for (char *s = p + 1;; s++) {
            bool end = *s == '\0';
            if (*s == '/' || end) {
                *s = '\0';
                if (mkdir(p, 0777) < 0 && errno != EEXIST) {
                    e = weft__err(err, WEFT_EIO, "cannot create folder %s: %s", p, strerror(errno));
                    break;
                }
                if (end) break;
                *s = '/';
            }
        }
    }
    free(p);
    return e;
}

/*
 * Creates the temporary file named by `tmpl` (ending in XXXXXX, replaced in
 * place) with mode 0666 filtered by the umask and the folder's default ACL,
 * as open() does for any new file: mkstemp()'s fixed 0600 would need a
 * fchmod() to a mode of our choosing, which ignores what the user asked
 * for.  The umask cannot be read without changing it (not thread-safe), so
 * the kernel applies it.  Returns the fd, or -1 with errno set.
 */
static int open_temp(char *tmpl)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = strlen(tmpl);
    if (n < 6) {
        errno = EINVAL;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char r[6];
        if (getentropy(r, sizeof r) != 0) return -1;
        for (int i = 0; i < 6; i++) tmpl[n - 6 + i] = chars[r[i] % (sizeof chars - 1)];
        int fd = open(tmpl, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

weft_err weft__afile_open(const char *path, weft__afile **out, FILE **f, char *err)
{
    weft_err e;
    weft__afile *af = calloc(1, sizeof *af);
    if (!af) return weft__err(err, WEFT_ENOMEM, "out of memory");
    int fd = -1;
    if ((e = weft__mkdir_parent(path, err))) goto fail;
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    af->path = strdup(path);
    if (!af->path || asprintf(&af->tmp, "%.*s.%s.XXXXXX", dirlen, path, path + dirlen) < 0) {
        af->tmp = NULL;
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((fd = open_temp(af->tmp)) < 0) {
        e = weft__err(err, WEFT_EIO, "cannot write %s: %s", path, strerror(errno));
        free(af->tmp);
        af->tmp = NULL;
        goto fail;
    }
    if (!(af->f = fdopen(fd, "wb"))) {
        e = weft__err(err, WEFT_EIO, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    *out = af;
    *f = af->f;
    return WEFT_OK;
fail:
    if (af->tmp) unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    free(af);
    return e;
}

static void afile_free(weft__afile *af)
{
    free(af->path);
    free(af->tmp);
    free(af);
}

weft_err weft__afile_commit(weft__afile *af, char *err)
{
    if (!af) return weft__err(err, WEFT_EINVAL, "no file to commit");
    weft_err e = WEFT_OK;
    int bad = fflush(af->f) != 0 || ferror(af->f);
    if (!bad) bad = fsync(fileno(af->f)) != 0;
    int saved = errno;
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad && rename(af->tmp, af->path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        e = weft__err(err, WEFT_EIO, "cannot write %s: %s", af->path, strerror(saved));
        unlink(af->tmp);
    } else {
        /* Make the rename itself durable. */
        char *slash = strrchr(af->path, '/');
        if (slash) {
            *slash = '\0';
            int dfd = open(slash == af->path ? "/" : af->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            *slash = '/';
        }
    }
    afile_free(af);
    return e;
}

const char *weft__afile_tmp(const weft__afile *af) { return af->tmp; }

void weft__afile_abort(weft__afile *af)
{
    if (!af) return;
    fclose(af->f);
    unlink(af->tmp);
    afile_free(af);
}

static weft_err write_file_atomic(const char *path, const void *data, size_t len, char *err)
{
    weft__afile *af;
    FILE *f;
    weft_err e = weft__afile_open(path, &af, &f, err);
    if (e) return e;
    if (len && fwrite(data, 1, len, f) != len) {
        e = weft__err(err, WEFT_EIO, "cannot write %s: %s", path, strerror(errno));
        weft__afile_abort(af);
        return e;
    }
    return weft__afile_commit(af, err);
}

/* ---- sql_table ---- */

typedef struct sql_target {
    char *db_path;
    const char *table;
} sql_target;

static weft_err sql_target_of(const weft__app *app, const char *config_id, bool need_table, sql_target *t,
                              char *err)
{
    const char *db = text_prop(app, config_id, "db_name");
    const char *engine = text_prop(app, config_id, "db_engine");
    const char *folder = text_prop(app, config_id, "sqlite_folder");
    const char *ext = weft_value_text(dn_lookup(app, config_id, "sqlite_file_extension"));
    t->table = text_prop(app, config_id, "table_name");
    t->db_path = NULL;
    if (engine && strcmp(engine, "sqlite") != 0)
        return weft__err(err, WEFT_EINVAL,
                         "data node %s: db_engine '%s' is not supported (sqlite or postgresql)", config_id,
                         engine);
    if (!db || (need_table && !t->table))
        return weft__err(err, WEFT_EINVAL, "data node %s: sql_table needs db_name and table_name", config_id);
    char *dir = abs_path(weft__app_path(app), folder ? folder : ".");
    if (!dir || asprintf(&t->db_path, "%s/%s%s", dir, db, ext ? ext : ".db") < 0) t->db_path = NULL;
    free(dir);
    return t->db_path ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "out of memory");
}

/* `name` as a quoted SQL identifier appended to b. */
static weft_err sql_ident(weft__buf *b, const char *name)
{
    weft_err e = weft__buf_addc(b, '"');
    for (const char *p = name; !e && *p; p++)
        e = *p == '"' ? weft__buf_adds(b, "\"\"") : weft__buf_addc(b, *p);
    return e ? e : weft__buf_addc(b, '"');
}

static weft_err sql_open(const sql_target *t, bool write, sqlite3 **db, char *err)
{
    int flags = write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    if (write) {
        weft_err e = weft__mkdir_parent(t->db_path, err);
        if (e) return e;
    }
    int rc = sqlite3_open_v2(t->db_path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        weft__err(err, WEFT_EDATA, "%s: %s", t->db_path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return WEFT_EDATA;
    }
    sqlite3_busy_timeout(*db, 10000);
    return WEFT_OK;
}

static bool sql_table_exists(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK)
        found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* The rows of `query`, or of the node's table when it is NULL. */
static weft_err sql_read(const weft__app *app, const char *config_id, const char *query, json_t **out,
                         char *err)
{
    sql_target t;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    weft__buf q = WEFT_BUF_INIT;
    json_t *rows = NULL;
    weft_err e = sql_target_of(app, config_id, !query, &t, err);
    if (e) goto done;
    if (access(t.db_path, F_OK) != 0) {
        e = weft__err(err, WEFT_EDATA, "data node %s: %s does not exist", config_id, t.db_path);
        goto done;
    }
    if ((e = sql_open(&t, false, &db, err))) goto done;
    if (!query && !sql_table_exists(db, t.table)) {
        e = weft__err(err, WEFT_EDATA, "data node %s: no table %s in %s", config_id, t.table, t.db_path);
        goto done;
    }
    if ((query ? (e = weft__buf_adds(&q, query))
               : ((e = weft__buf_adds(&q, "SELECT * FROM ")) || (e = sql_ident(&q, t.table)))) ||
        !(rows = json_array())) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    if (sqlite3_prepare_v2(db, q.data, -1, &st, NULL) != SQLITE_OK) {
        e = weft__err(err, WEFT_EDATA, "%s: %s", t.db_path, sqlite3_errmsg(db));
        goto done;
    }
    int rc, ncol = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        if (!row || json_array_append_new(rows, row) < 0) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            goto done;
        }
        for (int c = 0; c < ncol; c++) {
            json_t *v;
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, c)); break;
            case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, c)); break;
            case SQLITE_NULL: v = json_null(); break;
            default:
                v = json_stringn_nocheck((const char *)sqlite3_column_text(st, c),
                                         (size_t)sqlite3_column_bytes(st, c));
                break;
            }
            if (!v || json_object_set_new(row, sqlite3_column_name(st, c), v) < 0) {
                e = weft__err(err, WEFT_ENOMEM, "out of memory");
                goto done;
            }
        }
    }
    if (rc != SQLITE_DONE) {
        e = weft__err(err, WEFT_EDATA, "%s: %s", t.db_path, sqlite3_errmsg(db));
        goto done;
    }
    *out = rows;
    rows = NULL;
done:
    json_decref(rows);
    sqlite3_finalize(st);
    sqlite3_close(db);
    weft__buf_release(&q);
    free(t.db_path);
    return e;
}

static int sql_bind(sqlite3_stmt *st, int i, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: return sqlite3_bind_int64(st, i, json_integer_value(v));
    case JSON_REAL: return sqlite3_bind_double(st, i, json_real_value(v));
    case JSON_TRUE: return sqlite3_bind_int(st, i, 1);
    case JSON_FALSE: return sqlite3_bind_int(st, i, 0);
    case JSON_NULL: return sqlite3_bind_null(st, i);
    case JSON_STRING:
        return sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
    default: {
        char *s = json_dumps(v, JSON_COMPACT);
        if (!s) return SQLITE_NOMEM;
        return sqlite3_bind_text(st, i, s, -1, free);
    }
    }
}

/* The columns of `rows` into the array `cols`: every key, in order of first
 * appearance.  WEFT_EDATA when `rows` is not an array of objects. */
weft_err weft__sql_columns(const char *config_id, const json_t *rows, json_t *cols, char *err)
{
    if (!json_is_array(rows))
        return weft__err(err, WEFT_EDATA, "data node %s: a sql_table takes an array of objects",
                         config_id);
    json_t *seen = json_object();
    if (!seen) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = WEFT_OK;
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)rows, i, row) {
        if (!json_is_object(row)) {
            e = weft__err(err, WEFT_EDATA, "data node %s: row %zu is not an object", config_id, i);
            break;
        }
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            if (json_object_get(seen, k)) continue;
            if (json_object_set_new(seen, k, json_true()) < 0 ||
                json_array_append_new(cols, json_string(k)) < 0) {
                e = weft__err(err, WEFT_ENOMEM, "out of memory");
                break;
            }
        }
        if (e) break;
    }
    json_decref(seen);
    return e;
}

/* The SQL steps of sql_write() return WEFT_OK, WEFT_ENOMEM (building the
 * statement text in `q`), or WEFT_EDATA when SQLite failed, with *msg set
 * when SQLite gave a message (sqlite3_free() it) and the database's error
 * message otherwise. */

/* Runs "<verb><table>" ("DELETE FROM ", "DROP TABLE IF EXISTS "). */
static weft_err sql_on_table(sqlite3 *db, const char *verb, const char *table, weft__buf *q,
                             char **msg)
{
    weft__buf_reset(q);
    weft_err e;
    if ((e = weft__buf_adds(q, verb)) || (e = sql_ident(q, table))) return e;
    return sqlite3_exec(db, q->data, NULL, NULL, msg) == SQLITE_OK ? WEFT_OK : WEFT_EDATA;
}

/* Inserts every row, each column bound to the row's value or NULL. */
static weft_err sql_insert_rows(sqlite3 *db, const char *table, const json_t *cols,
                                const json_t *rows, weft__buf *q, char **msg)
{
    size_t ncols = json_array_size(cols);
    weft__buf_reset(q);
    weft_err e;
    if ((e = weft__buf_adds(q, "INSERT INTO ")) || (e = sql_ident(q, table)) ||
        (e = weft__buf_adds(q, " VALUES (")))
        return e;
    for (size_t c = 0; c < ncols; c++)
        if ((e = weft__buf_addf(q, "%s?%zu", c ? ", " : "", c + 1))) return e;
    if ((e = weft__buf_adds(q, ")"))) return e;
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, q->data, -1, &ins, NULL) != SQLITE_OK) return WEFT_EDATA;
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)rows, i, row) {
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        for (size_t c = 0; !e && c < ncols; c++) {
            json_t *v = json_object_get(row, json_string_value(json_array_get(cols, c)));
            if (v && sql_bind(ins, (int)c + 1, v) != SQLITE_OK) e = WEFT_EDATA;
        }
        if (e || sqlite3_step(ins) != SQLITE_DONE) {
            /* Kept before finalize(), which would reset the message. */
            *msg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
            e = WEFT_EDATA;
            break;
        }
    }
    sqlite3_finalize(ins);
    return e;
}

/* Replaces the table by one with the columns `cols`, filled with `rows`. */
static weft_err sql_create_and_fill(sqlite3 *db, const char *table, const json_t *cols,
                                    const json_t *rows, weft__buf *q, char **msg)
{
    weft_err e = sql_on_table(db, "DROP TABLE IF EXISTS ", table, q, msg);
    if (e) return e;
    weft__buf_reset(q);
    if ((e = weft__buf_adds(q, "CREATE TABLE ")) || (e = sql_ident(q, table)) ||
        (e = weft__buf_adds(q, " (")))
        return e;
    for (size_t c = 0; c < json_array_size(cols); c++)
        if ((c && (e = weft__buf_adds(q, ", "))) ||
            (e = sql_ident(q, json_string_value(json_array_get(cols, c)))))
            return e;
    if ((e = weft__buf_adds(q, ")"))) return e;
    if (sqlite3_exec(db, q->data, NULL, NULL, msg) != SQLITE_OK) return WEFT_EDATA;
    return sql_insert_rows(db, table, cols, rows, q, msg);
}

/* Replaces the table by `rows` (an array of objects) in one transaction. */
static weft_err sql_write(const weft__app *app, const char *config_id, const json_t *rows, char *err)
{
    sql_target t;
    sqlite3 *db = NULL;
    weft__buf q = WEFT_BUF_INIT;
    json_t *cols = json_array();
    char *msg = NULL;
    bool in_tx = false;
    weft_err e = sql_target_of(app, config_id, true, &t, err);
    if (e) goto done;
    if (!cols) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    if ((e = weft__sql_columns(config_id, rows, cols, err)) || (e = sql_open(&t, true, &db, err)))
        goto done;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        e = WEFT_EDATA;
    } else {
        in_tx = true;
        if (json_array_size(cols) > 0) {
            e = sql_create_and_fill(db, t.table, cols, rows, &q, &msg);
        } else if (sql_table_exists(db, t.table)) {
            /* No column to create a table from: empty the existing one. */
            e = sql_on_table(db, "DELETE FROM ", t.table, &q, &msg);
        } else {
            e = weft__err(err, WEFT_EDATA, "data node %s: cannot create table %s from no rows",
                          config_id, t.table);
            goto done;
        }
    }
    if (!e && sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) e = WEFT_EDATA;
    if (!e) in_tx = false;
    if (e == WEFT_ENOMEM)
        weft__err(err, e, "out of memory");
    else if (e)
        weft__err(err, WEFT_EDATA, "%s: %s", t.db_path, msg ? msg : sqlite3_errmsg(db));
done:
    sqlite3_free(msg);
    if (in_tx) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    json_decref(cols);
    weft__buf_release(&q);
    free(t.db_path);
    return e;
}

static bool sql_has_table(const weft__app *app, const char *config_id)
{
    sql_target t;
    sqlite3 *db = NULL;
    bool found = false;
    if (sql_target_of(app, config_id, true, &t, NULL) == WEFT_OK && access(t.db_path, F_OK) == 0 &&
        sql_open(&t, false, &db, NULL) == WEFT_OK)
        found = sql_table_exists(db, t.table);
    sqlite3_close(db);
    free(t.db_path);
    return found;
}

/* ---- sql: read_query and write_query ---- */

weft_err weft__sql_write_statements(const weft__app *app, const char *config_id, const char **stmts,
                                    size_t max, size_t *n, char *err)
{
    const weft_value *v = dn_lookup(app, config_id, "write_query");
    *n = 0;
    if (v && weft_value_type_of(v) == WEFT_VALUE_LIST) {
        for (size_t i = 0; i < weft_value_len(v) && *n < max; i++) {
            const char *t = weft_value_text(weft_value_at(v, i));
            if (t && *t) stmts[(*n)++] = t;
        }
    } else if (v && weft_value_text(v) && *weft_value_text(v)) {
        stmts[(*n)++] = weft_value_text(v);
    }
    if (*n == 0)
        return weft__err(err, WEFT_EDATA, "data node %s (sql) has no write_query: it can only be read",
                         config_id);
    return WEFT_OK;
}

/* Binds parameter p of `st` to the row's value of the column it names:
 * "$k" or "?k" the k-th column, a bare "?" the p-th. */
static weft_err sql_bind_param(sqlite3_stmt *st, int p, const json_t *cols, const json_t *row,
                               const char *config_id, char *err)
{
    const char *name = sqlite3_bind_parameter_name(st, p);
    long k = p;
    if (name && (name[0] == '$' || name[0] == '?')) k = strtol(name + 1, NULL, 10);
    if (k < 1 || (size_t)k > json_array_size(cols))
        return weft__err(err, WEFT_EDATA, "data node %s: write_query uses %s but the rows have %zu column%s",
                         config_id, name ? name : "?", json_array_size(cols),
                         json_array_size(cols) == 1 ? "" : "s");
    json_t *v = json_object_get(row, json_string_value(json_array_get(cols, (size_t)k - 1)));
    if (v && sql_bind(st, p, v) != SQLITE_OK) return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

/* Runs one write_query statement: once per row when it has parameters,
 * once otherwise. */
static weft_err sql_run_statement(sqlite3 *db, const char *sql, const json_t *cols, const json_t *rows,
                                  const char *config_id, const char *db_path, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return weft__err(err, WEFT_EDATA, "%s: %s", db_path, sqlite3_errmsg(db));
    int np = sqlite3_bind_parameter_count(st);
    size_t nrows = np ? json_array_size(rows) : 1;
    weft_err e = WEFT_OK;
    for (size_t i = 0; !e && i < nrows; i++) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        for (int p = 1; !e && p <= np; p++)
            e = sql_bind_param(st, p, cols, json_array_get(rows, i), config_id, err);
        if (!e && sqlite3_step(st) != SQLITE_DONE)
            e = weft__err(err, WEFT_EDATA, "%s: %s", db_path, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return e;
}

/* A sql node's write on SQLite: its write_query statements in order, in
 * one transaction. */
static weft_err sql_write_query(const weft__app *app, const char *config_id, const json_t *rows, char *err)
{
    const char *stmts[64];
    size_t n;
    sql_target t = {0};
    sqlite3 *db = NULL;
    json_t *cols = json_array();
    weft_err e = cols ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!e) e = weft__sql_write_statements(app, config_id, stmts, 64, &n, err);
    if (!e) e = weft__sql_columns(config_id, rows, cols, err);
    if (!e) e = sql_target_of(app, config_id, false, &t, err);
    if (!e) e = sql_open(&t, true, &db, err);
    if (!e && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        e = weft__err(err, WEFT_EDATA, "%s: %s", t.db_path, sqlite3_errmsg(db));
    else if (!e) {
        for (size_t i = 0; !e && i < n; i++)
            e = sql_run_statement(db, stmts[i], cols, rows, config_id, t.db_path, err);
        if (!e && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            e = weft__err(err, WEFT_EDATA, "%s: %s", t.db_path, sqlite3_errmsg(db));
        if (e) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(db);
    json_decref(cols);
    free(t.db_path);
    return e;
}

/* The rows of a sql_table or sql node, from either engine. */
static weft_err sql_read_rows(const weft_data_node *dn, json_t **out, char *err)
{
    const char *q = NULL;
    if (dn->kind == ST_SQLQ && !(q = text_prop(dn->app, dn->config_id, "read_query")))
        return weft__err(err, WEFT_EDATA, "data node %s (sql) has no read_query", dn->config_id);
    if (weft__pg_engine(dn->app, dn->config_id)) return weft__pg_read(dn->app, dn->config_id, q, out, err);
    return sql_read(dn->app, dn->config_id, q, out, err);
}

static weft_err sql_write_rows(const weft_data_node *dn, const json_t *rows, char *err)
{
    bool pg = weft__pg_engine(dn->app, dn->config_id);
    if (dn->kind == ST_SQLQ)
        return pg ? weft__pg_write_query(dn->app, dn->config_id, rows, err)
                  : sql_write_query(dn->app, dn->config_id, rows, err);
    return pg ? weft__pg_write_table(dn->app, dn->config_id, rows, err)
              : sql_write(dn->app, dn->config_id, rows, err);
}

/* Whether a sql_table or sql node has rows to read; true when only a read
 * can tell (a server that does not answer: the read says why). */
static bool sql_has_content(weft__app *app, const char *config_id, st_kind kind)
{
    bool pg = weft__pg_engine(app, config_id);
    if (kind == ST_SQL) return pg ? weft__pg_has_table(app, config_id) != 0 : sql_has_table(app, config_id);
    if (!text_prop(app, config_id, "read_query")) return false;
    sql_target t;
    bool found = pg;
    if (!pg && sql_target_of(app, config_id, false, &t, NULL) == WEFT_OK) {
        found = access(t.db_path, F_OK) == 0;
        free(t.db_path);
    }
    return found;
}

/* ---- generic ---- */

static weft_err generic_fn(weft_data_node *dn, const char *key, void **sym, char *err)
{
    const char *name = weft_value_text(weft_dn_property(dn, key));
    if (!name || !*name)
        return weft__err(err, WEFT_EDATA, "generic data node %s has no %s", dn->config_id, key);
    return weft__resolve_symbol(dn->app, name, sym, err);
}

/* ---- reading and writing ---- */

static bool mem_allowed(const weft_data_node *dn, char *err)
{
    if (weft_config_mode(weft__app_config(dn->app)) == WEFT_MODE_DEVELOPMENT) return true;
    weft__err(err, WEFT_EMODE, "data node %s is in_memory, which only works in development mode",
              dn->config_id);
    return false;
}

static weft_err check_json(const weft_data_node *dn, const char *data, size_t len, const char *what,
                           char *err)
{
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_DECODE_ANY, &je);
    if (j) {
        json_decref(j);
        return WEFT_OK;
    }
    return weft__err(err, WEFT_EDATA, "%s:%d:%d: malformed JSON: %s", what, je.line, je.column, je.text);
}

weft_err weft_dn_read(weft_data_node *dn, char **data, size_t *len, char *err)
{
    if (!dn || !data) return weft__err(err, WEFT_EINVAL, "weft_dn_read: no data node");
    size_t n = 0;
    char *buf = NULL;
    bool found = false;
    weft_err e = WEFT_OK;
    switch (dn->kind) {
    case ST_PICKLE: case ST_BINARY: case ST_TEXT: case ST_JSON: case ST_CSV: case ST_EXCEL: {
        if (access(dn->path, F_OK) == 0 || errno != ENOENT) {
            e = weft__read_file(dn->path, &buf, &n, err);
            if (!e && dn->kind == ST_JSON) e = check_json(dn, buf, n, dn->path, err);
            break;
        }
        if (dn->kind == ST_EXCEL && dn_lookup(dn->app, dn->config_id, "default_data")) {
            e = weft__xlsx_default_bytes(dn, &buf, &n, err);
            break;
        }
        if ((e = default_content(dn->app, dn->config_id, dn->kind, &buf, &n, &found, err))) break;
        if (!found)
            e = weft__err(err, WEFT_EDATA, "data node %s: %s does not exist", dn->config_id, dn->path);
        break;
    }
    case ST_MEMORY:
        if (!mem_allowed(dn, err)) {
            e = WEFT_EMODE;
            break;
        }
        if ((e = weft__app_mem_get(dn->app, dn->id, &buf, &n, &found))) {
            weft__err(err, e, "out of memory");
            break;
        }
        if (!found && (e = default_content(dn->app, dn->config_id, dn->kind, &buf, &n, &found, err))) break;
        if (!found) e = weft__err(err, WEFT_EDATA, "data node %s (in_memory) has no data", dn->id);
        break;
    case ST_GENERIC: {
        void *sym;
        if ((e = generic_fn(dn, "read_fct", &sym, err))) break;
        weft_generic_read_fn fn = (weft_generic_read_fn)sym;
        int rc = fn(dn, &buf, &n);
        if (rc != 0) {
            free(buf);
            buf = NULL;
            e = weft__err(err, WEFT_EDATA, "read_fct of data node %s returned %d", dn->config_id, rc);
            break;
        }
        char *p = realloc(buf, n + 1); /* NUL-terminate what the function gave */
        if (!p) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        buf = p;
        buf[n] = '\0';
        break;
    }
    case ST_SQL: case ST_SQLQ: {
        json_t *rows = NULL;
        if ((e = sql_read_rows(dn, &rows, err))) break;
        buf = json_dumps(rows, JSON_COMPACT);
        json_decref(rows);
        if (!buf) e = weft__err(err, WEFT_ENOMEM, "out of memory");
        else n = strlen(buf);
        break;
    }
    case ST_PARQUET: case ST_MONGO: case ST_S3: case ST_UNKNOWN:
        e = weft__err(err, WEFT_EINVAL, "data node %s: unsupported storage type", dn->config_id);
        break;
    }
    if (e) {
        free(buf);
        return e;
    }
    *data = buf;
    if (len) *len = n;
    return WEFT_OK;
}

weft_err weft_dn_write(weft_data_node *dn, const void *data, size_t len, char *err)
{
    if (!dn || (!data && len)) return weft__err(err, WEFT_EINVAL, "weft_dn_write: no data node");
    if (!data) data = "";
    weft_err e = WEFT_OK;
    switch (dn->kind) {
    case ST_EXCEL: /* a workbook's bytes (e.g. from pandas), checked to be a zip */
        if (len < 4 || memcmp(data, "PK\3\4", 4) != 0) {
            e = weft__err(err, WEFT_EDATA, "data node %s: not an xlsx workbook (not a zip archive)",
                          dn->config_id);
            break;
        }
        e = write_file_atomic(dn->path, data, len, err);
        break;
    case ST_JSON:
        if ((e = check_json(dn, data, len, dn->config_id, err))) break;
        /* fall through */
    case ST_PICKLE: case ST_BINARY: case ST_TEXT: case ST_CSV:
        e = write_file_atomic(dn->path, data, len, err);
        break;
    case ST_MEMORY:
        if (!mem_allowed(dn, err)) e = WEFT_EMODE;
        else if ((e = weft__app_mem_put(dn->app, dn->id, data, len))) weft__err(err, e, "out of memory");
        break;
    case ST_GENERIC: {
        void *sym;
        if ((e = generic_fn(dn, "write_fct", &sym, err))) break;
        weft_generic_write_fn fn = (weft_generic_write_fn)sym;
        int rc = fn(dn, data, len);
        if (rc != 0) e = weft__err(err, WEFT_EDATA, "write_fct of data node %s returned %d", dn->config_id, rc);
        break;
    }
    case ST_SQL: case ST_SQLQ: {
        json_error_t je;
        json_t *j = json_loadb(data, len, 0, &je);
        if (!j) {
            e = weft__err(err, WEFT_EDATA, "data node %s:%d:%d: malformed JSON: %s", dn->config_id, je.line,
                          je.column, je.text);
            break;
        }
        e = sql_write_rows(dn, j, err);
        json_decref(j);
        break;
    }
    case ST_PARQUET: case ST_MONGO: case ST_S3: case ST_UNKNOWN:
        e = weft__err(err, WEFT_EINVAL, "data node %s: unsupported storage type", dn->config_id);
        break;
    }
    if (!e) weft__dn_mark_written(dn);
    return e;
}

/* No rows: the existing table emptied, or, when there is none, a table
 * with one placeholder column (SQLite has no table without columns); it
 * reads as [] either way, and the next write with rows replaces it. */
static weft_err sql_write_empty(const weft__app *app, const char *config_id, char *err)
{
    json_t *rows = json_array(), *row = json_object();
    weft_err e = WEFT_ENOMEM;
    if (!rows || !row) {
        e = weft__err(err, e, "out of memory");
    } else if (sql_has_table(app, config_id)) {
        e = sql_write(app, config_id, rows, err);
    } else if (json_object_set_new(row, "_empty", json_null()) < 0 || json_array_append(rows, row) < 0) {
        e = weft__err(err, e, "out of memory");
    } else if (!(e = sql_write(app, config_id, rows, err))) {
        json_array_clear(rows);
        e = sql_write(app, config_id, rows, err);
    }
    json_decref(row);
    json_decref(rows);
    return e;
}

weft_err weft__dn_write_empty(weft_data_node *dn, char *err)
{
    if (!dn) return weft__err(err, WEFT_EINVAL, "weft__dn_write_empty: no data node");
    if (dn->kind == ST_JSON) return weft_dn_write(dn, "null", 4, err);
    if (dn->kind == ST_CSV) return weft__csv_write_empty(dn, err);
    if (dn->kind == ST_EXCEL) return weft__xlsx_write_empty(dn, err);
    if (dn->kind == ST_SQLQ) return weft_dn_write(dn, "[]", 2, err);
    if (dn->kind != ST_SQL) return weft_dn_write(dn, "", 0, err);
    /* PostgreSQL has tables without columns: no placeholder needed. */
    weft_err e = weft__pg_engine(dn->app, dn->config_id) ? weft_dn_write(dn, "[]", 2, err)
                                                         : sql_write_empty(dn->app, dn->config_id, err);
    if (!e) weft__dn_mark_written(dn);
    return e;
}

weft_err weft_dn_read_json(weft_data_node *dn, struct json_t **out, char *err)
{
    if (!dn || !out) return weft__err(err, WEFT_EINVAL, "weft_dn_read_json: no data node");
    if (dn->kind == ST_SQL || dn->kind == ST_SQLQ) return sql_read_rows(dn, out, err);
    char *data;
    size_t len;
    weft_err e = weft_dn_read(dn, &data, &len, err);
    if (e) return e;
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_DECODE_ANY, &je);
    free(data);
    if (!j)
        return weft__err(err, WEFT_EDATA, "%s:%d:%d: malformed JSON: %s", dn->path ? dn->path : dn->id,
                         je.line, je.column, je.text);
    *out = j;
    return WEFT_OK;
}

weft_err weft_dn_write_json(weft_data_node *dn, const struct json_t *value, char *err)
{
    if (!dn || !value) return weft__err(err, WEFT_EINVAL, "weft_dn_write_json: no data node or value");
    if (dn->kind == ST_SQL || dn->kind == ST_SQLQ) {
        weft_err e = sql_write_rows(dn, value, err);
        if (!e) weft__dn_mark_written(dn);
        return e;
    }
    char *s = json_dumps(value, JSON_ENCODE_ANY | JSON_INDENT(2));
    if (!s) return weft__err(err, WEFT_ENOMEM, "data node %s: cannot encode JSON", dn->config_id);
    weft_err e = weft_dn_write(dn, s, strlen(s), err);
    free(s);
    return e;
}

weft_err weft__dn_open_stream(weft_data_node *dn, FILE **out, char *err)
{
    if (!is_file_kind(dn->kind))
        return weft__err(err, WEFT_EINVAL, "data node %s is %s, not a file", dn->config_id, dn->storage_type);
    FILE *f = fopen(dn->path, "rb");
    if (f) {
        *out = f;
        return WEFT_OK;
    }
    if (errno != ENOENT) return weft__err(err, WEFT_EIO, "%s: %s", dn->path, strerror(errno));
    char *buf = NULL;
    size_t n = 0;
    bool found;
    weft_err e = default_content(dn->app, dn->config_id, dn->kind, &buf, &n, &found, err);
    if (e) return e;
    if (!found) return weft__err(err, WEFT_EDATA, "data node %s: %s does not exist", dn->config_id, dn->path);
    /* A temporary file rather than fmemopen(): no buffer to keep alive. */
    f = tmpfile();
    if (!f || (n && fwrite(buf, 1, n, f) != n) || fseek(f, 0, SEEK_SET) != 0) {
        e = weft__err(err, WEFT_EIO, "data node %s: default_data: %s", dn->config_id, strerror(errno));
        if (f) fclose(f);
        f = NULL;
    }
    free(buf);
    *out = f;
    return e;
}

/* ---- outside a job ---- */

bool weft__dn_has_content(weft__app *app, const weft__dn_ref *ref)
{
    const char *type = ref->storage_type ? ref->storage_type : text_prop(app, ref->config_id, "storage_type");
    st_kind kind = kind_of(type);
    bool has_default = dn_lookup(app, ref->config_id, "default_data") != NULL;
    switch (kind) {
    case ST_PICKLE: case ST_BINARY: case ST_TEXT: case ST_JSON: case ST_CSV: case ST_EXCEL: {
        struct stat st;
        return (ref->path && stat(ref->path, &st) == 0 && S_ISREG(st.st_mode)) || has_default;
    }
    case ST_MEMORY: {
        char *d = NULL;
        size_t n;
        bool found = false;
        weft__app_mem_get(app, ref->id ? ref->id : ref->config_id, &d, &n, &found);
        free(d);
        return found || has_default;
    }
    case ST_GENERIC: return text_prop(app, ref->config_id, "read_fct") != NULL;
    case ST_SQL: case ST_SQLQ: return sql_has_content(app, ref->config_id, kind);
    /* Opening the node says that this build cannot read it. */
    case ST_PARQUET: case ST_MONGO: case ST_S3: return true;
    case ST_UNKNOWN: break;
    }
    return false;
}

weft_err weft__dn_read_ref(weft__app *app, const weft__dn_ref *ref, char **data, size_t *len, char *err)
{
    weft_data_node *dn;
    weft_err e = weft__dn_open(app, ref, NULL, &dn, err);
    if (e) return e;
    e = weft_dn_read(dn, data, len, err);
    weft__dn_free(dn);
    return e;
}

weft_err weft__dn_read_shown(weft__app *app, const weft__dn_ref *ref, char **data, size_t *len,
                             char *err)
{
    weft_data_node *dn;
    weft_err e = weft__dn_open(app, ref, NULL, &dn, err);
    if (e) return e;
    e = dn->kind == ST_EXCEL ? weft__xlsx_render(dn, data, len, err) : weft_dn_read(dn, data, len, err);
    weft__dn_free(dn);
    return e;
}
