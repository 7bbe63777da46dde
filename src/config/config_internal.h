/* SPDX-License-Identifier: MIT */
/*
 * config_internal.h - what the config_*.c files share: the in-memory model
 * of a weft_config (sections of raw entries plus an "effective" view with
 * defaults, inheritance and ENV resolution applied), typed values, the key
 * schema of each section kind, and diagnostics.  Internal names use weft__.
 *
 * Raw entries are what code or a file said; the effective view is rebuilt
 * by weft__config_refresh() after every change, so read-back is a lookup.
 *
 * The files depend on each other one way, each using only those listed
 * before it (and util/, where the "did you mean" distance lives):
 *   config_value.c   typed values: parsing, conversion, coercion, accessors
 *   config_schema.c  the keys of each section kind: type, default, effect
 *   config.c         the model: sections, the effective view, diagnostics,
 *                    the code API and read-back
 *   config_load.c    a parsed TOML file into sections  \  each uses the
 *   config_check.c   validation (weft_config_check)     > three above and
 *   config_write.c   a configuration as TOML text      /  never one another
 */
#ifndef WEFT_CONFIG_INTERNAL_H
#define WEFT_CONFIG_INTERNAL_H

#include "util/util.h"
#include "weft.h"

/* Positions of values set in code and of built-in defaults; compared by
 * address.  Defined in config_value.c, which gives every new value the first. */
extern const char weft__code_file[];    /* "<code>" */
extern const char weft__default_file[]; /* "<default>" */
#define WEFT__CODE_FILE weft__code_file
#define WEFT__DEFAULT_FILE weft__default_file

/* Marks a schema key that accepts any value (default_data, sequences, ...). */
#define WEFT__ANY ((weft_value_type)-1)

/* How an ENV[...] value fared when it was resolved. */
enum { WEFT__ENV_NONE = 0, WEFT__ENV_OK, WEFT__ENV_MISSING, WEFT__ENV_BAD };

struct weft_value {
    weft_value_type type;
    char *text;          /* scalar text without suffix ("8", "True", "sales"); NULL for lists */
    char *env;           /* NAME of "ENV[NAME]", NULL otherwise */
    char *raw;           /* for ENV values: the string as written */
    bool env_typed;      /* the ENV value carried an explicit ":type" */
    int env_state;       /* WEFT__ENV_*, set on effective copies */
    bool bad;            /* could not be converted; the error is already reported */
    int64_t i;           /* INT; SCOPE/FREQUENCY: index; BOOL: 0/1 */
    double f;            /* FLOAT */
    int64_t ms;          /* TIMEDELTA */
    weft_value **items;  /* LIST */
    size_t n, cap;
    const char *file;    /* borrowed: interned in the config, or a static name */
    int line, col;
};

typedef enum weft__kind {
    WEFT__CORE = 0,
    WEFT__JOB,
    WEFT__DATA_NODE,
    WEFT__TASK,
    WEFT__SCENARIO,
    WEFT__TAIPY, /* Taipy's global section: free keys, none with an effect in weft */
    WEFT__OTHER,
} weft__kind;

typedef struct weft__entry {
    char *key;          /* owned for raw entries; borrowed in the effective view */
    weft_value *val;    /* owned */
    const char *file;   /* where the key was written (interned) */
    int line, col;
} weft__entry;

typedef struct weft__section {
    char *name;         /* "DATA_NODE.sales" */
    weft__kind kind;
    const char *id;     /* points into name after the dot, NULL for CORE/JOB */
    bool is_default;    /* the id is "default" */
    const char *file;   /* where the header was written (interned) */
    int line, col;
    weft__entry *raw;
    size_t nraw, capraw;
    weft__entry *eff;   /* keys borrowed, values owned */
    size_t neff, capeff;
} weft__section;

typedef struct weft__diag {
    weft_diag d;
    /* owned: "<file address>:<line>:<col>:<severity>:<message>", the
     * diagnostic's identity in its list's index; d.message points into it */
    char *key;
} weft__diag;

/* The diagnostics of one phase, load or check, in the order found.  `seen`
 * indexes them by key, so that dropping a repeat (an inherited value is
 * checked in every section that inherits it) is O(1), and a config that
 * draws a warning per section is still checked in linear time. */
typedef struct weft__diag_list {
    weft__diag *items;
    size_t n, cap;
    weft__strmap seen; /* key -> key (borrowed from items) */
} weft__diag_list;

struct weft_config {
    weft__section *secs;
    size_t nsecs, capsecs;
    /* Indexes, so that a config of 100,000 tasks is read in O(1) per
     * lookup: section name -> index + 1 (0: empty slot; open addressing,
     * at most half full), and the non-default ids of each kind in
     * declaration order (DATA_NODE, TASK, SCENARIO). */
    size_t *index;
    size_t index_cap;
    size_t *by_kind[3];
    size_t nby_kind[3], capby_kind[3];
    char **names;        /* interned file names */
    size_t nnames, capnames;
    weft__diag_list load_diags;
    weft__diag_list check_diags;
    char *file;          /* last loaded file */
    char *app_dir;       /* its folder */
    bool in_check;       /* diagnostics go to check_diags */
};

/* The schema of one key of a section kind. */
typedef struct weft__keyspec {
    const char *key;
    weft_value_type type;  /* WEFT__ANY for any */
    weft_value_type elem;  /* element type of a LIST */
    const char *def;       /* default in typed-string syntax ("[]": empty list), or NULL */
    bool no_effect;        /* accepted (Taipy has it) but the engine ignores it: check warns */
} weft__keyspec;

/* ---- config_value.c ---- */
extern const char *const weft__type_names[];  /* indexed by weft_value_type, LIST excluded */
extern const char *const weft__scope_names[];
extern const char *const weft__frequency_names[];
#define WEFT__NSCOPES 3
#define WEFT__NFREQUENCIES 5

weft_value *weft__value_new(weft_value_type type, const char *text);
void weft__value_free(weft_value *v);
/* Deep copy; NULL on ENOMEM. */
weft_value *weft__value_copy(const weft_value *v);
weft_err weft__value_push(weft_value *list, weft_value *item);
void weft__value_set_pos(weft_value *v, const char *file, int line, int col);
/* Parses typed-string syntax.  WEFT_EINVAL with a message (no position) in
 * err for a bad suffix or a value that does not fit its type. */
weft_err weft__value_parse(const char *s, size_t len, weft_value **out, char *err);
/* Converts `text` to a scalar of `type` into *out (new value).  WEFT_EINVAL
 * with a message when it does not fit. */
weft_err weft__value_convert(const char *text, weft_value_type type, weft_value **out, char *err);
/* Tries to coerce a copy of `v` to `want` (a plain "8" to an int, ...).
 * Returns the new value, or NULL when it does not fit (or on ENOMEM: *oom). */
weft_value *weft__value_coerce(const weft_value *v, weft_value_type want,
                               weft_value_type elem, bool *oom);
bool weft__timedelta_parse(const char *s, int64_t *ms);
bool weft__datetime_valid(const char *s);
bool weft__function_valid(const char *s);
bool weft__values_equal(const weft_value *a, const weft_value *b);
/* Formats a float so that strtod gives it back. */
void weft__format_double(double d, char *buf, size_t size);

/* ---- config_schema.c ---- */
/* The keys of `kind` (*n of them), a static table. */
const weft__keyspec *weft__keyspecs(weft__kind kind, size_t *n);
/* The schema of `key` in `kind` ("sequences.x" finds "sequences"), or NULL. */
const weft__keyspec *weft__keyspec_find(weft__kind kind, const char *key);
/* The other name of `key` in `kind` (Taipy's name for an old weft name, or
 * the old name for Taipy's), static, or NULL; *is_old (may be NULL) tells
 * whether `key` is the old one. */
const char *weft__key_alias(weft__kind kind, const char *key, bool *is_old);
/* The default of `key` in typed-string syntax (static), or NULL. */
const char *weft__keyspec_default(weft__kind kind, const char *key);
/* The [JOB] keys read only to connect to the broker (broker_url, queue,
 * the TLS keys): an unset ENV[...] in them is an error only where they are
 * used (weft__config_connection_env()); weft_config_check() warns. */
bool weft__keyspec_is_connection(weft__kind kind, const char *key);
const char *const *weft__connection_keys(size_t *n);
weft__kind weft__kind_of(const char *section, const char **id);
const char *weft__kind_name(weft__kind kind);

/* ---- config.c ---- */
const char *weft__intern(weft_config *cfg, const char *name);
weft__section *weft__section_find(const weft_config *cfg, const char *name);
weft__section *weft__section_get(weft_config *cfg, const char *name, const char *file,
                                 int line, int col);
/* Sets a raw entry, taking `val` (freed on failure too). */
weft_err weft__section_put(weft__section *s, const char *key, weft_value *val,
                           const char *file, int line, int col);
const weft__entry *weft__eff_find(const weft__section *s, const char *key);
weft_err weft__config_refresh(weft_config *cfg);
/* Records a diagnostic (load or check list, see in_check); duplicates are dropped. */
weft_err weft__diag_add(weft_config *cfg, const char *file, int line, int col,
                        weft_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Frees the list's diagnostics; it is empty and reusable afterwards. */
void weft__diags_clear(weft__diag_list *l);

/*
 * Before connecting to the broker with cfg's [JOB] settings: WEFT_EINVAL,
 * naming the variable and the key, when one of them comes from an unset
 * ENV[...] ("environment variable WEFT_BROKER_URL is not set (needed by
 * broker_url in [JOB] to connect to the broker)").  url_given, queue_given:
 * the caller has a URL or a queue of its own, so broker_url or queue is not
 * read.  Defined in config.c.
 */
weft_err weft__config_connection_env(const weft_config *cfg, bool url_given, bool queue_given,
                                     char *err);

#endif
