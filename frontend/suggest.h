/* Nearest-name suggestions for misspelt names ("did you mean 'temperature'?"): one edit-distance
 * rule for methods, backbones, commands, options and --set names. */
#ifndef SSLC_SUGGEST_H
#define SSLC_SUGGEST_H
#include <stddef.h>

/* The candidate nearest to word (case-insensitive optimal-string-alignment distance: insertions,
 * deletions, substitutions, adjacent swaps), or NULL when none is within about a third of its
 * length (at least 1, at most 3 edits) or word is a prefix of exactly one candidate. */
const char *suggest_nearest(const char *word, const char *const *cands, int n);

/* The same over a ", "-separated list ("resnet18, resnet34, ..."), into buf; NULL if none. */
const char *suggest_from_list(const char *word, const char *list, char *buf, size_t n);

/* "did you mean 'X'? " into buf when a suggestion exists, else ""; returns buf (for "%s"). */
const char *suggest_hint(const char *word, const char *list, char *buf, size_t n);

#endif
