/* SPDX-License-Identifier: MIT */
/*
 * similar.c - the edit distance behind every "did you mean" suggestion of a
 * diagnostic, and the choice of the closest candidate.  Identifiers are
 * short, so a single-row dynamic programme on the stack is enough; longer
 * words are never suggested, which bounds the cost of a check of a large
 * configuration.
 */
#include "util/similar.h"

#include <ctype.h>
#include <string.h>

#define MAX_WORD 64

size_t weft__levenshtein(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t row[MAX_WORD + 1];
    if (n > MAX_WORD || m > MAX_WORD) return (size_t)-1 / 2;
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

const char *weft__closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = 0, len = strlen(word);
    /* one edit in a short word is already a different word: "x" is not "a" */
    size_t limit = len <= 2 ? 0 : len <= 4 ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i]) continue;
        size_t d = weft__levenshtein(word, cands[i]);
        if (d <= limit && (!best || d < best_d)) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}
