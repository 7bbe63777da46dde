/* SPDX-License-Identifier: MIT */
/*
 * toml_internal.h - the in-memory shape of a parsed TOML document, shared by
 * the parser (toml.c) and the tree with its accessors (toml_value.c).
 *
 * Every node, key and string of a document lives in one arena owned by the
 * document, so freeing is a walk over a list of chunks (no recursion, and no
 * leak on a parse error half-way through a nested value).  Internal names
 * use the weft__toml_ prefix.
 */
#ifndef WEFT_TOML_INTERNAL_H
#define WEFT_TOML_INTERNAL_H

#include "weft.h"

#include <stddef.h>
#include <stdint.h>

/* How a table came to exist; the redefinition rules of TOML 1.0 depend on it. */
enum {
    WEFT__TOML_EXPLICIT = 1, /* defined by a [header], an [[array]] element, or the root */
    WEFT__TOML_IMPLICIT = 2, /* an intermediate table of a header path: [a.b] creates a */
    WEFT__TOML_DOTTED = 4,   /* created by a dotted key: a.b = 1 creates a */
    WEFT__TOML_INLINE = 8,   /* an inline table { ... }: closed for good once parsed */
    WEFT__TOML_AOT = 16,     /* an array created by [[header]] (an array literal is "static") */
};

typedef struct weft__toml_entry {
    const char *key; /* NUL-terminated copy; may also contain NUL (see len) */
    size_t len;
    uint32_t hash;
    int line, col; /* position of the key */
    weft_toml_value *val;
} weft__toml_entry;

struct weft_toml_value {
    weft_toml_type type;
    uint8_t flags;
    uint16_t depth; /* containers: nesting level, the root is 0 */
    int line, col;
    union {
        struct {
            const char *s;
            size_t len;
        } str;
        int64_t i;
        double f;
        bool b;
        weft_toml_datetime dt;
        struct {
            weft_toml_value **items;
            size_t len, cap;
        } arr;
        struct {
            weft__toml_entry *ents;
            size_t len, cap;
            uint32_t *idx; /* open-addressing hash index (entry number + 1), NULL while small */
            size_t idxcap;
        } tab;
    } u;
};

typedef struct weft__toml_chunk weft__toml_chunk;

struct weft_toml {
    weft_toml_value *root;
    weft__toml_chunk *chunks;
};

/* Zeroed memory from the document's arena, freed with the document; NULL on ENOMEM. */
void *weft__toml_alloc(weft_toml *doc, size_t n);
/* A new empty document (root table at 1:1), NULL on ENOMEM. */
weft_toml *weft__toml_new_doc(void);
/* A new node of `type` at line:col, NULL on ENOMEM. */
weft_toml_value *weft__toml_new(weft_toml *doc, weft_toml_type type, int line, int col);
/* Index of `key` in `table`, or -1.  O(1) on average: tables past a few
 * entries get a hash index, so a config with thousands of keys stays linear. */
long weft__toml_find(const weft_toml_value *table, const char *key, size_t len);
/* Appends key = val to `table` (the key is copied); the caller checked it is absent. */
weft_err weft__toml_insert(weft_toml *doc, weft_toml_value *table, const char *key, size_t len,
                           int line, int col, weft_toml_value *val);
/* Appends `val` to `array`. */
weft_err weft__toml_push(weft_toml *doc, weft_toml_value *array, weft_toml_value *val);

#endif
