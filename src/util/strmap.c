/* SPDX-License-Identifier: MIT */
/*
 * strmap.c - a string-keyed hash map (open addressing, linear probing,
 * tombstones): the orchestrator's in-memory indexes (live jobs and
 * submissions by id, locked data nodes by id) and the config check's task
 * graph.  Keys are borrowed from the values, so an entry costs one slot
 * (two pointers and a hash).
 */
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

struct weft__strmap_slot {
    const char *key; /* NULL: empty; TOMB: deleted */
    void *value;
    uint64_t hash;
};

static const char tomb_[1];
#define TOMB (tomb_)

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static struct weft__strmap_slot *find(const weft__strmap *m, const char *key, uint64_t h)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct weft__strmap_slot *sl = &m->slots[i];
        if (!sl->key) return NULL;
        if (sl->key != TOMB && sl->hash == h && strcmp(sl->key, key) == 0) return sl;
    }
}

void *weft__strmap_get(const weft__strmap *m, const char *key)
{
    struct weft__strmap_slot *sl = find(m, key, hash_str(key));
    return sl ? sl->value : NULL;
}

static weft_err resize(weft__strmap *m, size_t cap)
{
    struct weft__strmap_slot *ns = calloc(cap, sizeof *ns);
    if (!ns) return WEFT_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct weft__strmap_slot *sl = &m->slots[i];
        if (!sl->key || sl->key == TOMB) continue;
        size_t j = sl->hash & (cap - 1);
        while (ns[j].key) j = (j + 1) & (cap - 1);
        ns[j] = *sl;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
    m->used = m->len;
    return WEFT_OK;
}

weft_err weft__strmap_put(weft__strmap *m, const char *key, void *value)
{
    uint64_t h = hash_str(key);
    struct weft__strmap_slot *sl = find(m, key, h);
    if (sl) {
        sl->key = key;
        sl->value = value;
        return WEFT_OK;
    }
    if ((m->used + 1) * 4 >= m->cap * 3) {
        size_t cap = m->cap ? m->cap : 16;
        while ((m->len + 1) * 2 >= cap) cap *= 2;
        if (resize(m, cap) != WEFT_OK) return WEFT_ENOMEM;
    }
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB) i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->len++;
    return WEFT_OK;
}

void *weft__strmap_del(weft__strmap *m, const char *key)
{
    struct weft__strmap_slot *sl = find(m, key, hash_str(key));
    if (!sl) return NULL;
    void *v = sl->value;
    sl->key = TOMB;
    sl->value = NULL;
    m->len--;
    return v;
}

void weft__strmap_each(const weft__strmap *m, void (*fn)(void *value, void *ud), void *ud)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB) fn(m->slots[i].value, ud);
}

void weft__strmap_release(weft__strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = m->used = 0;
}
