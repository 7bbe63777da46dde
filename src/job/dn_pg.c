/* SPDX-License-Identifier: MIT */
/*
 * dn_pg.c - sql_table and sql data nodes on PostgreSQL, through libpq: the
 * same JSON rows as on SQLite (datanode.c), so tasks, `weft data` and the
 * web view see no difference.  Each read or write opens one connection
 * (PQconnectdbParams with keywords: the password never goes into a
 * conninfo string, argv, a log line or an error message) with a
 * connect_timeout, so a server that is down fails the job in seconds.
 * Values always travel as parameters (PQexecParams, PQexecPrepared) and
 * names are quoted with PQescapeIdentifier.  A write is one transaction:
 * DELETE then INSERT as Taipy does (CREATE TABLE, with columns typed from
 * the values, when the table does not exist yet), or the statements of
 * a sql node's write_query; an error rolls it back.
 */
#define _GNU_SOURCE /* memmem */
#include "job/dn_sql.h"
#include "util/util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_DEFAULT_PORT "5432"
#define PG_DEFAULT_TIMEOUT "5" /* seconds to connect, unless db_extra_args says otherwise */
#define PG_MAX_PARAMS 32       /* connection keywords, db_extra_args included */
#define PG_MAX_STATEMENTS 64   /* of one write_query */

/* Type OIDs of pg_type.h (stable since PostgreSQL 7). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_JSON = 114, OID_FLOAT4 = 700,
       OID_FLOAT8 = 701, OID_NUMERIC = 1700, OID_JSONB = 3802 };

static const weft_value *prop(const weft__app *app, const char *config_id, const char *key)
{
    char section[512];
    int n = snprintf(section, sizeof section, "DATA_NODE.%s", config_id);
    if (n < 0 || (size_t)n >= sizeof section) return NULL;
    return weft_config_lookup(weft__app_config(app), section, key);
}

static const char *text(const weft__app *app, const char *config_id, const char *key)
{
    const char *t = weft_value_text(prop(app, config_id, key));
    return t && *t ? t : NULL;
}

bool weft__pg_engine(const weft__app *app, const char *config_id)
{
    const char *e = text(app, config_id, "db_engine");
    return e && strcmp(e, "postgresql") == 0;
}

/* ---- connecting ---- */

/* libpq's message on one line: runs of white space become one space, the
 * "connection to server at ..., port N failed: " that repeats what we
 * say is dropped, and the password, should it appear, is masked. */
static void one_line(const char *msg, const char *password, char *out, size_t size)
{
    const char *p = strstr(msg, "connection to server at ");
    const char *f = p ? strstr(p, " failed: ") : NULL;
    if (p == msg && f) msg = f + 9;
    size_t o = 0, pl = password ? strlen(password) : 0;
    for (const char *s = msg; *s && o + 4 < size;) {
        if (pl && strncmp(s, password, pl) == 0) {
            memcpy(out + o, "***", 3);
            o += 3;
            s += pl;
        } else if (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
            if (o && out[o - 1] != ' ') out[o++] = ' ';
            s++;
        } else {
            out[o++] = *s++;
        }
    }
    while (o && out[o - 1] == ' ') o--;
    out[o] = '\0';
}

typedef struct pg_params {
    const char *kw[PG_MAX_PARAMS + 1], *val[PG_MAX_PARAMS + 1];
    size_t n;
    char port[32];
} pg_params;

static void param(pg_params *p, const char *kw, const char *val)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->kw[i], kw) == 0) {
            p->val[i] = val;
            return;
        }
    if (p->n < PG_MAX_PARAMS) {
        p->kw[p->n] = kw;
        p->val[p->n++] = val;
    }
}

/* The connection keywords of the node; db_extra_args.KEY (a TOML table
 * db_extra_args = {sslmode = "require"}) are libpq keywords too. */
static weft_err pg_params_of(const weft__app *app, const char *config_id, pg_params *p, char *err)
{
    const weft_value *port = prop(app, config_id, "db_port");
    const char *port_text = text(app, config_id, "db_port");
    p->n = 0;
    if (port && weft_value_type_of(port) == WEFT_VALUE_INT)
        snprintf(p->port, sizeof p->port, "%lld", (long long)weft_value_int(port));
    else
        snprintf(p->port, sizeof p->port, "%s", port_text ? port_text : PG_DEFAULT_PORT);
    const char *host = text(app, config_id, "db_host");
    param(p, "host", host ? host : "localhost");
    param(p, "port", p->port);
    param(p, "dbname", text(app, config_id, "db_name"));
    param(p, "user", text(app, config_id, "db_username"));
    const char *pw = weft_value_text(prop(app, config_id, "db_password"));
    if (pw) param(p, "password", pw);
    param(p, "connect_timeout", PG_DEFAULT_TIMEOUT);
    param(p, "client_encoding", "UTF8");
    param(p, "application_name", "weft");
    char section[512];
    snprintf(section, sizeof section, "DATA_NODE.%s", config_id);
    const weft_config *cfg = weft__app_config(app);
    size_t nk = weft_config_nkeys(cfg, section);
    for (size_t i = 0; i < nk; i++) {
        const char *k = weft_config_key_at(cfg, section, i);
        if (!k || strncmp(k, "db_extra_args.", 14) != 0) continue;
        const char *v = weft_value_text(weft_config_lookup(cfg, section, k));
        if (strcmp(k + 14, "password") == 0 || strcmp(k + 14, "dbname") == 0)
            return weft__err(err, WEFT_EINVAL, "data node %s: set the %s with db_%s, not in db_extra_args",
                             config_id, k + 14, k[14] == 'p' ? "password" : "name");
        if (v) param(p, k + 14, v);
    }
    p->kw[p->n] = p->val[p->n] = NULL;
    if (!text(app, config_id, "db_name"))
        return weft__err(err, WEFT_EINVAL, "data node %s: a PostgreSQL node needs db_name", config_id);
    return WEFT_OK;
}

/* The server's notices ("table ... already exists, skipping") go to the
 * log at debug level: libpq's default prints them on stderr, and the
 * library never prints. */
static void pg_notice(void *arg, const char *msg)
{
    char line[512];
    one_line(msg, NULL, line, sizeof line);
    weft__log(NULL, WEFT_LOG_DEBUG, "postgresql", "data node %s: %s", (const char *)arg, line);
}

static weft_err pg_connect(const weft__app *app, const char *config_id, PGconn **out, char *err)
{
    pg_params p;
    *out = NULL;
    weft_err e = pg_params_of(app, config_id, &p, err);
    if (e) return e;
    /* expand_dbname = 0: a db_name is a name, never a conninfo string. */
    PGconn *c = PQconnectdbParams(p.kw, p.val, 0);
    if (!c) return weft__err(err, WEFT_ENOMEM, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        char why[512];
        const char *pw = weft_value_text(prop(app, config_id, "db_password"));
        /* libpq does not quote the password; masking it is a second line of
         * defence, for passwords long enough not to mask ordinary words. */
        one_line(PQerrorMessage(c), pw && strlen(pw) >= 4 ? pw : NULL, why, sizeof why);
        const char *host = text(app, config_id, "db_host"), *secs = PG_DEFAULT_TIMEOUT;
        for (size_t i = 0; i < p.n; i++)
            if (strcmp(p.kw[i], "connect_timeout") == 0) secs = p.val[i];
        /* libpq's "timeout expired" says neither which timeout nor how long */
        bool timeout = strcmp(why, "timeout expired") == 0;
        e = weft__err(err, WEFT_EDATA, "data node %s: cannot connect to PostgreSQL at %s:%s: %s%s%s%s",
                      config_id, host ? host : "localhost", p.port, why,
                      timeout ? " (no answer within connect_timeout = " : "", timeout ? secs : "",
                      timeout ? " s; db_extra_args can set it)" : "");
        PQfinish(c);
        return e;
    }
    /* config_id outlives the connection: both live for one call. */
    PQsetNoticeProcessor(c, pg_notice, (void *)config_id);
    *out = c;
    return WEFT_OK;
}

/* WEFT_EDATA with the server's message for a failed result (NULL too). */
static weft_err pg_fail(PGconn *c, PGresult *r, const char *config_id, char *err)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char why[512];
    one_line(m ? m : PQerrorMessage(c), NULL, why, sizeof why);
    return weft__err(err, WEFT_EDATA, "data node %s: PostgreSQL: %s", config_id, why);
}

/* Runs a statement without parameters; WEFT_EDATA unless it succeeds. */
static weft_err pg_exec(PGconn *c, const char *sql, const char *config_id, char *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    weft_err e = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? WEFT_OK : pg_fail(c, r, config_id, err);
    PQclear(r);
    return e;
}

/* ---- reading ---- */

static json_t *pg_value(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return json_null();
    const char *v = PQgetvalue(r, row, col);
    char *end;
    switch (PQftype(r, col)) {
    case OID_INT2: case OID_INT4: case OID_INT8: return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4: case OID_FLOAT8: case OID_NUMERIC: {
        double d = strtod(v, &end);
        /* NaN, Infinity or a numeric too long for a double stay text */
        if (*end == '\0' && d == d && d - d == 0) return json_real(d);
        break;
    }
    case OID_BOOL: return json_boolean(v[0] == 't');
    case OID_JSON: case OID_JSONB: {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        if (j) return j;
        break;
    }
    default: break;
    }
    return json_stringn(v, (size_t)PQgetlength(r, row, col));
}

static weft_err pg_rows(const PGresult *r, json_t **out, char *err)
{
    json_t *rows = json_array();
    int nr = PQntuples(r), nc = PQnfields(r);
    for (int i = 0; rows && i < nr; i++) {
        json_t *row = json_object();
        if (!row || json_array_append_new(rows, row) < 0) goto oom;
        for (int c = 0; c < nc; c++) {
            json_t *v = pg_value(r, i, c);
            if (!v || json_object_set_new(row, PQfname(r, c), v) < 0) goto oom;
        }
    }
    if (!rows) goto oom;
    *out = rows;
    return WEFT_OK;
oom:
    json_decref(rows);
    return weft__err(err, WEFT_ENOMEM, "out of memory");
}

/* "SELECT * FROM <table>" with the table's name quoted (caller frees). */
static char *select_all(PGconn *c, const char *table)
{
    char *id = PQescapeIdentifier(c, table, strlen(table)), *q = NULL;
    if (id && asprintf(&q, "SELECT * FROM %s", id) < 0) q = NULL;
    PQfreemem(id);
    return q;
}

weft_err weft__pg_read(const weft__app *app, const char *config_id, const char *query, json_t **out,
                       char *err)
{
    const char *table = text(app, config_id, "table_name");
    if (!query && !table)
        return weft__err(err, WEFT_EINVAL, "data node %s: sql_table needs table_name", config_id);
    PGconn *c;
    weft_err e = pg_connect(app, config_id, &c, err);
    if (e) return e;
    char *q = query ? NULL : select_all(c, table);
    PGresult *r = NULL;
    if (!query && !q) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    /* Text results; the values are typed from the columns' types. */
    r = PQexecParams(c, query ? query : q, 0, NULL, NULL, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        e = pg_fail(c, r, config_id, err);
        goto done;
    }
    e = pg_rows(r, out, err);
done:
    PQclear(r);
    free(q);
    PQfinish(c);
    return e;
}

int weft__pg_has_table(const weft__app *app, const char *config_id)
{
    const char *table = text(app, config_id, "table_name");
    PGconn *c;
    if (!table || pg_connect(app, config_id, &c, NULL)) return -1;
    char *id = PQescapeIdentifier(c, table, strlen(table));
    const char *vals[1] = {id};
    PGresult *r = id ? PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, vals, NULL, NULL, 0)
                     : NULL;
    int found = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                    ? PQgetvalue(r, 0, 0)[0] == 't'
                    : -1;
    PQclear(r);
    PQfreemem(id);
    PQfinish(c);
    return found;
}

/* ---- writing ---- */

/* A JSON value as a text parameter: *out NULL for null or missing; *tmp holds what
 * must be freed after the statement.  WEFT_EDATA for a string holding a
 * NUL character, which PostgreSQL text cannot store. */
static weft_err pg_text(const json_t *v, const char **out, char **tmp)
{
    *out = NULL;
    *tmp = NULL;
    if (!v) return WEFT_OK;
    switch (json_typeof(v)) {
    case JSON_NULL: return WEFT_OK;
    case JSON_STRING:
        if (strlen(json_string_value(v)) != json_string_length(v)) return WEFT_EDATA;
        *out = json_string_value(v);
        return WEFT_OK;
    case JSON_TRUE: *out = "true"; return WEFT_OK;
    case JSON_FALSE: *out = "false"; return WEFT_OK;
    case JSON_INTEGER:
        if (asprintf(tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0) *tmp = NULL;
        break;
    case JSON_REAL:
        if (asprintf(tmp, "%.17g", json_real_value(v)) < 0) *tmp = NULL;
        break;
    default: *tmp = json_dumps(v, JSON_COMPACT); break;
    }
    *out = *tmp;
    return *tmp ? WEFT_OK : WEFT_ENOMEM;
}

/* Runs the prepared statement `name` of n parameters once for `row`: $k is
 * the row's value of the k-th column of `cols`. */
static weft_err pg_exec_row(PGconn *c, const char *name, int n, const json_t *cols, const json_t *row,
                            size_t i, const char *config_id, char *err)
{
    const char *vals[PG_MAX_PARAMS * 32];
    char *tmps[PG_MAX_PARAMS * 32];
    weft_err e = WEFT_OK;
    int k = 0;
    if (n > (int)(sizeof vals / sizeof *vals))
        return weft__err(err, WEFT_ELIMIT, "data node %s: more than %zu columns", config_id,
                         sizeof vals / sizeof *vals);
    for (; k < n && !e; k++) {
        const char *col = json_string_value(json_array_get(cols, (size_t)k));
        e = pg_text(json_object_get(row, col), &vals[k], &tmps[k]);
        if (e == WEFT_EDATA)
            weft__err(err, e, "data node %s: row %zu, column %s: PostgreSQL text cannot hold a NUL character",
                      config_id, i, col);
        else if (e)
            weft__err(err, e, "out of memory");
    }
    if (!e) {
        PGresult *r = PQexecPrepared(c, name, n, vals, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) e = pg_fail(c, r, config_id, err);
        PQclear(r);
    }
    while (k > 0) free(tmps[--k]);
    return e;
}

/* Prepares `sql` as the unnamed statement; *nparams from the server. */
static weft_err pg_prepare(PGconn *c, const char *sql, int *nparams, const char *config_id, char *err)
{
    PGresult *r = PQprepare(c, "", sql, 0, NULL);
    weft_err e = r && PQresultStatus(r) == PGRES_COMMAND_OK ? WEFT_OK : pg_fail(c, r, config_id, err);
    PQclear(r);
    if (e) return e;
    r = PQdescribePrepared(c, "");
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) e = pg_fail(c, r, config_id, err);
    else *nparams = PQnparams(r);
    PQclear(r);
    return e;
}

/* Runs `sql` once per row (once when it has no parameter). */
static weft_err pg_run_rows(PGconn *c, const char *sql, const json_t *cols, const json_t *rows,
                            const char *config_id, char *err)
{
    int n = 0;
    weft_err e = pg_prepare(c, sql, &n, config_id, err);
    if (e) return e;
    if (n > 0 && json_array_size(rows) == 0) return WEFT_OK; /* once per row: never */
    if (n > (int)json_array_size(cols))
        return weft__err(err, WEFT_EDATA,
                         "data node %s: the statement uses $%d but the rows have %zu column%s", config_id, n,
                         json_array_size(cols), json_array_size(cols) == 1 ? "" : "s");
    if (n == 0) return pg_exec_row(c, "", 0, cols, NULL, 0, config_id, err);
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)rows, i, row) {
        if ((e = pg_exec_row(c, "", n, cols, row, i, config_id, err))) return e;
    }
    return WEFT_OK;
}

/* The type of a new table's column from the values it gets: bigint,
 * double precision, boolean, jsonb (objects and arrays), else text. */
static const char *column_type(const json_t *rows, const char *col)
{
    unsigned seen = 0; /* 1 int, 2 real, 4 bool, 8 string, 16 json */
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)rows, i, row) {
        json_t *v = json_object_get(row, col);
        switch (v ? json_typeof(v) : JSON_NULL) {
        case JSON_INTEGER: seen |= 1; break;
        case JSON_REAL: seen |= 2; break;
        case JSON_TRUE: case JSON_FALSE: seen |= 4; break;
        case JSON_STRING: seen |= 8; break;
        case JSON_OBJECT: case JSON_ARRAY: seen |= 16; break;
        case JSON_NULL: break;
        }
    }
    if (seen == 1) return "bigint";
    if (seen == 2 || seen == 3) return "double precision";
    if (seen == 4) return "boolean";
    if (seen == 16) return "jsonb";
    return "text";
}

/* Appends the quoted name of `name` to b. */
static weft_err add_ident(PGconn *c, weft__buf *b, const char *name)
{
    char *id = PQescapeIdentifier(c, name, strlen(name));
    weft_err e = id ? weft__buf_adds(b, id) : WEFT_ENOMEM;
    PQfreemem(id);
    return e;
}

/* "CREATE TABLE t (c type, ...)" when `create`, else "INSERT INTO t (c,
 * ...) VALUES ($1, ...)", into q. */
static weft_err table_sql(PGconn *c, const char *table, const json_t *cols, const json_t *rows, bool create,
                          weft__buf *q)
{
    size_t n = json_array_size(cols);
    weft__buf_reset(q);
    weft_err e = weft__buf_adds(q, create ? "CREATE TABLE " : "INSERT INTO ");
    if (!e) e = add_ident(c, q, table);
    if (!e) e = weft__buf_adds(q, " (");
    for (size_t i = 0; !e && i < n; i++) {
        const char *col = json_string_value(json_array_get(cols, i));
        if (i) e = weft__buf_adds(q, ", ");
        if (!e) e = add_ident(c, q, col);
        if (!e && create) e = weft__buf_addf(q, " %s", column_type(rows, col));
    }
    if (!e) e = weft__buf_adds(q, ")");
    for (size_t i = 0; !e && !create && i < n; i++)
        e = weft__buf_addf(q, "%s$%zu", i ? ", " : " VALUES (", i + 1);
    if (!e && !create && n) e = weft__buf_adds(q, ")");
    return e;
}

/* The body of weft__pg_write_table, inside its transaction. */
static weft_err fill_table(PGconn *c, const char *table, const json_t *cols, const json_t *rows,
                           const char *config_id, char *err)
{
    weft__buf q = WEFT_BUF_INIT;
    char *id = PQescapeIdentifier(c, table, strlen(table));
    const char *vals[1] = {id};
    PGresult *r = id ? PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, vals, NULL, NULL, 0)
                     : NULL;
    weft_err e = WEFT_OK;
    if (!id) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    else if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) e = pg_fail(c, r, config_id, err);
    bool exists = !e && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!e && exists) {
        e = weft__buf_addf(&q, "DELETE FROM %s", id) ? weft__err(err, WEFT_ENOMEM, "out of memory")
                                                      : pg_exec(c, q.data, config_id, err);
    } else if (!e) {
        e = table_sql(c, table, cols, rows, true, &q) ? weft__err(err, WEFT_ENOMEM, "out of memory")
                                                      : pg_exec(c, q.data, config_id, err);
    }
    if (!e && json_array_size(cols) > 0) {
        if (table_sql(c, table, cols, rows, false, &q)) e = weft__err(err, WEFT_ENOMEM, "out of memory");
        else e = pg_run_rows(c, q.data, cols, rows, config_id, err);
    }
    PQfreemem(id);
    weft__buf_release(&q);
    return e;
}

/* Runs body() between BEGIN and COMMIT on a new connection; rolls back
 * when it fails. */
typedef weft_err (*pg_body)(PGconn *c, const weft__app *app, const char *config_id, const json_t *cols,
                            const json_t *rows, char *err);

static weft_err in_transaction(const weft__app *app, const char *config_id, const json_t *rows, pg_body body,
                               char *err)
{
    json_t *cols = json_array();
    if (!cols) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = weft__sql_columns(config_id, rows, cols, err);
    PGconn *c = NULL;
    if (!e) e = pg_connect(app, config_id, &c, err);
    if (!e) e = pg_exec(c, "BEGIN", config_id, err);
    if (!e) {
        e = body(c, app, config_id, cols, rows, err);
        if (!e) e = pg_exec(c, "COMMIT", config_id, err);
        if (e) pg_exec(c, "ROLLBACK", config_id, NULL);
    }
    PQfinish(c);
    json_decref(cols);
    return e;
}

static weft_err table_body(PGconn *c, const weft__app *app, const char *config_id, const json_t *cols,
                           const json_t *rows, char *err)
{
    return fill_table(c, text(app, config_id, "table_name"), cols, rows, config_id, err);
}

weft_err weft__pg_write_table(const weft__app *app, const char *config_id, const json_t *rows, char *err)
{
    if (!text(app, config_id, "table_name"))
        return weft__err(err, WEFT_EINVAL, "data node %s: sql_table needs table_name", config_id);
    return in_transaction(app, config_id, rows, table_body, err);
}

static weft_err query_body(PGconn *c, const weft__app *app, const char *config_id, const json_t *cols,
                           const json_t *rows, char *err)
{
    const char *stmts[PG_MAX_STATEMENTS];
    size_t n;
    weft_err e = weft__sql_write_statements(app, config_id, stmts, PG_MAX_STATEMENTS, &n, err);
    for (size_t i = 0; !e && i < n; i++) e = pg_run_rows(c, stmts[i], cols, rows, config_id, err);
    return e;
}

weft_err weft__pg_write_query(const weft__app *app, const char *config_id, const json_t *rows, char *err)
{
    const char *stmts[PG_MAX_STATEMENTS];
    size_t n;
    weft_err e = weft__sql_write_statements(app, config_id, stmts, PG_MAX_STATEMENTS, &n, err);
    return e ? e : in_transaction(app, config_id, rows, query_body, err);
}
