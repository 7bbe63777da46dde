/* SPDX-License-Identifier: MIT */
/*
 * similar.h - "did you mean" for diagnostics: the edit distance between two
 * words and the closest of a list of candidates.  Used by the config layer
 * (unknown keys, sections, modes, ids, type suffixes); kept here, below every
 * layer, so that any file that names a wrong word can suggest the right one
 * without depending on the file that happened to need it first.
 */
#ifndef WEFT_UTIL_SIMILAR_H
#define WEFT_UTIL_SIMILAR_H

#include <stddef.h>

/* Levenshtein distance between a and b (borrowed, NUL-terminated), ignoring
 * ASCII case.  Words longer than 64 bytes are never similar: a huge distance
 * is returned without work, so a long value cannot cost O(n*m). */
size_t weft__levenshtein(const char *a, const char *b);

/* The candidate closest to `word` within a small edit distance (none for a
 * word of up to 2 letters, 1 edit up to 4 letters, 2 beyond), or NULL.
 * NULL entries of `cands` are skipped.  Returns a borrowed pointer into
 * `cands`.  O(n) distances of bounded cost. */
const char *weft__closest(const char *word, const char *const *cands, size_t n);

#endif
