/* SPDX-License-Identifier: MIT */
/*
 * toml_value.c - the tree of a parsed TOML document: its arena, tables
 * (entries in document order plus a hash index), arrays, and the public
 * read-only accessors declared in weft.h (weft_toml_root ... get_datetime).
 *
 * The parser in toml.c builds the tree through the weft__toml_* functions
 * of toml_internal.h; nothing here knows TOML syntax.
 */
#include "toml/toml_internal.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct weft__toml_chunk {
    weft__toml_chunk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

/* Chunks are this big unless one allocation needs more: small enough that a
 * tiny config costs little, big enough that malloc is rarely called. */
#define CHUNK_SIZE (16 * 1024)

void *weft__toml_alloc(weft_toml *doc, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + align - 1) & ~(align - 1);
    if (n == 0) n = align;
    weft__toml_chunk *c = doc->chunks;
    if (c && c->cap - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
    /* calloc: every allocation starts zeroed, nodes rely on it. */
    weft__toml_chunk *nc = calloc(1, sizeof *nc + cap);
    if (!nc) return NULL;
    nc->cap = cap;
    nc->used = n;
    if (c && n > CHUNK_SIZE) {
        /* A big one-off block goes behind the current chunk, whose free
         * space stays usable. */
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        doc->chunks = nc;
    }
    return nc->data;
}

weft_toml *weft__toml_new_doc(void)
{
    weft_toml *doc = calloc(1, sizeof *doc);
    if (!doc) return NULL;
    doc->root = weft__toml_new(doc, WEFT_TOML_TABLE, 1, 1);
    if (!doc->root) {
        weft_toml_free(doc);
        return NULL;
    }
    doc->root->flags = WEFT__TOML_EXPLICIT;
    return doc;
}

weft_toml_value *weft__toml_new(weft_toml *doc, weft_toml_type type, int line, int col)
{
    weft_toml_value *v = weft__toml_alloc(doc, sizeof *v);
    if (!v) return NULL;
    v->type = type;
    v->line = line;
    v->col = col;
    return v;
}

void weft_toml_free(weft_toml *doc)
{
    if (!doc) return;
    weft__toml_chunk *c = doc->chunks;
    while (c) {
        weft__toml_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

/* FNV-1a: short keys, no adversarial-collision concern worth more code. */
static uint32_t hash_key(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

/* Tables up to this many entries are searched linearly (cheaper than hashing). */
#define INDEX_MIN 8

static long find_hashed(const weft_toml_value *t, const char *key, size_t len, uint32_t h)
{
    const weft__toml_entry *ents = t->u.tab.ents;
    if (!t->u.tab.idx) {
        for (size_t i = 0; i < t->u.tab.len; i++)
            if (ents[i].len == len && memcmp(ents[i].key, key, len) == 0) return (long)i;
        return -1;
    }
    size_t mask = t->u.tab.idxcap - 1;
    for (size_t s = h & mask;; s = (s + 1) & mask) {
        uint32_t k = t->u.tab.idx[s];
        if (k == 0) return -1;
        const weft__toml_entry *e = &ents[k - 1];
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) return (long)(k - 1);
    }
}

long weft__toml_find(const weft_toml_value *table, const char *key, size_t len)
{
    if (!table || table->type != WEFT_TOML_TABLE) return -1;
    return find_hashed(table, key, len, hash_key(key, len));
}

static void index_put(uint32_t *idx, size_t cap, uint32_t h, uint32_t k)
{
    size_t mask = cap - 1;
    size_t s = h & mask;
    while (idx[s]) s = (s + 1) & mask;
    idx[s] = k;
}

/* Keeps the index at most half full; the old index stays in the arena
 * (bounded waste: the sizes double). */
static weft_err reindex(weft_toml *doc, weft_toml_value *t)
{
    size_t n = t->u.tab.len;
    if (n < INDEX_MIN) return WEFT_OK;
    if (t->u.tab.idx && n * 2 <= t->u.tab.idxcap) return WEFT_OK;
    size_t cap = 32;
    while (cap < n * 2) cap *= 2;
    uint32_t *idx = weft__toml_alloc(doc, cap * sizeof *idx);
    if (!idx) return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++) index_put(idx, cap, t->u.tab.ents[i].hash, (uint32_t)(i + 1));
    t->u.tab.idx = idx;
    t->u.tab.idxcap = cap;
    return WEFT_OK;
}

/* Makes room for one more of `len` elements of `elem` bytes in *arr, an
 * array in the document's arena, doubling from 4 up to `max` elements.  Not
 * WEFT__GROW: arena memory cannot be realloc()ed, so the array is copied
 * and the old block stays in the arena until the document is freed (at
 * most as much again as the final array, since capacities double). */
static weft_err arena_grow(weft_toml *doc, void **arr, size_t len, size_t *cap, size_t elem,
                           size_t max)
{
    if (len < *cap) return WEFT_OK;
    size_t nc = *cap ? *cap * 2 : 4;
    if (nc > max) return WEFT_ELIMIT;
    void *p = weft__toml_alloc(doc, nc * elem);
    if (!p) return WEFT_ENOMEM;
    if (len) memcpy(p, *arr, len * elem);
    *arr = p;
    *cap = nc;
    return WEFT_OK;
}

weft_err weft__toml_insert(weft_toml *doc, weft_toml_value *t, const char *key, size_t len, int line,
                           int col, weft_toml_value *val)
{
    void *ents = t->u.tab.ents;
    /* entry numbers are uint32_t in the hash index */
    weft_err ge = arena_grow(doc, &ents, t->u.tab.len, &t->u.tab.cap, sizeof *t->u.tab.ents,
                             UINT32_MAX / 2);
    if (ge) return ge;
    t->u.tab.ents = ents;
    char *k = weft__toml_alloc(doc, len + 1);
    if (!k) return WEFT_ENOMEM;
    if (len) memcpy(k, key, len);
    weft__toml_entry *e = &t->u.tab.ents[t->u.tab.len++];
    e->key = k;
    e->len = len;
    e->hash = hash_key(key, len);
    e->line = line;
    e->col = col;
    e->val = val;
    if (t->u.tab.idx && t->u.tab.len * 2 <= t->u.tab.idxcap) {
        index_put(t->u.tab.idx, t->u.tab.idxcap, e->hash, (uint32_t)t->u.tab.len);
        return WEFT_OK;
    }
    return reindex(doc, t);
}

weft_err weft__toml_push(weft_toml *doc, weft_toml_value *a, weft_toml_value *val)
{
    void *items = a->u.arr.items;
    weft_err e = arena_grow(doc, &items, a->u.arr.len, &a->u.arr.cap, sizeof *a->u.arr.items,
                            SIZE_MAX / 2 / sizeof *a->u.arr.items);
    if (e) return e;
    a->u.arr.items = items;
    a->u.arr.items[a->u.arr.len++] = val;
    return WEFT_OK;
}

/* ---- public accessors: all tolerate NULL and values of the wrong type ---- */

const weft_toml_value *weft_toml_root(const weft_toml *doc) { return doc ? doc->root : NULL; }

weft_toml_type weft_toml_type_of(const weft_toml_value *v) { return v ? v->type : WEFT_TOML_TABLE; }

size_t weft_toml_len(const weft_toml_value *v)
{
    if (!v) return 0;
    if (v->type == WEFT_TOML_TABLE) return v->u.tab.len;
    if (v->type == WEFT_TOML_ARRAY) return v->u.arr.len;
    return 0;
}

const char *weft_toml_key_at(const weft_toml_value *t, size_t i)
{
    return weft_toml_key_at_len(t, i, NULL);
}

const char *weft_toml_key_at_len(const weft_toml_value *t, size_t i, size_t *len)
{
    if (!t || t->type != WEFT_TOML_TABLE || i >= t->u.tab.len) return NULL;
    if (len) *len = t->u.tab.ents[i].len;
    return t->u.tab.ents[i].key;
}

const weft_toml_value *weft_toml_at(const weft_toml_value *v, size_t i)
{
    if (!v) return NULL;
    if (v->type == WEFT_TOML_TABLE) return i < v->u.tab.len ? v->u.tab.ents[i].val : NULL;
    if (v->type == WEFT_TOML_ARRAY) return i < v->u.arr.len ? v->u.arr.items[i] : NULL;
    return NULL;
}

const weft_toml_value *weft_toml_get(const weft_toml_value *t, const char *key)
{
    if (!t || !key || t->type != WEFT_TOML_TABLE) return NULL;
    long i = weft__toml_find(t, key, strlen(key));
    return i < 0 ? NULL : t->u.tab.ents[i].val;
}

void weft_toml_pos(const weft_toml_value *v, int *line, int *col)
{
    if (line) *line = v ? v->line : 0;
    if (col) *col = v ? v->col : 0;
}

void weft_toml_key_pos(const weft_toml_value *t, size_t i, int *line, int *col)
{
    bool ok = t && t->type == WEFT_TOML_TABLE && i < t->u.tab.len;
    if (line) *line = ok ? t->u.tab.ents[i].line : 0;
    if (col) *col = ok ? t->u.tab.ents[i].col : 0;
}

const char *weft_toml_string(const weft_toml_value *v, size_t *len)
{
    if (!v || v->type != WEFT_TOML_STRING) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = v->u.str.len;
    return v->u.str.s;
}

int64_t weft_toml_int(const weft_toml_value *v)
{
    return v && v->type == WEFT_TOML_INTEGER ? v->u.i : 0;
}

double weft_toml_float(const weft_toml_value *v)
{
    return v && v->type == WEFT_TOML_FLOAT ? v->u.f : 0.0;
}

bool weft_toml_bool(const weft_toml_value *v) { return v && v->type == WEFT_TOML_BOOL && v->u.b; }

weft_toml_datetime weft_toml_get_datetime(const weft_toml_value *v)
{
    weft_toml_datetime zero = {0};
    if (!v) return zero;
    switch (v->type) {
    case WEFT_TOML_DATETIME:
    case WEFT_TOML_LOCAL_DATETIME:
    case WEFT_TOML_LOCAL_DATE:
    case WEFT_TOML_LOCAL_TIME: return v->u.dt;
    default: return zero;
    }
}
