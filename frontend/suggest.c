/* Nearest-name suggestions (see suggest.h). */
#include "suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SUGGEST_MAXLEN 64 /* longer words are not compared */

static int min3(int a, int b, int c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }

/* optimal string alignment distance, case-insensitive; -1 when either is too long */
static int distance(const char *a, const char *b) {
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n >= SUGGEST_MAXLEN || m >= SUGGEST_MAXLEN) return -1;
    int d[SUGGEST_MAXLEN + 1][SUGGEST_MAXLEN + 1];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ca != cb));
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == cb &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[n][m];
}

const char *suggest_nearest(const char *word, const char *const *cands, int n) {
    const char *best = NULL, *prefixed = NULL;
    int best_d = 1 << 30, nprefixed = 0;
    size_t wl = strlen(word);
    for (int i = 0; i < n; i++) {
        if (wl && !strncasecmp(cands[i], word, wl)) prefixed = cands[i], nprefixed++;
        int d = distance(word, cands[i]);
        if (d >= 0 && d < best_d) best = cands[i], best_d = d;
    }
    int limit = (int)wl / 3;
    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
    if (best && best_d <= limit && best_d < (int)wl) return best;
    return nprefixed == 1 && wl >= 2 ? prefixed : NULL;
}

const char *suggest_from_list(const char *word, const char *list, char *buf, size_t n) {
    char names[64][SUGGEST_MAXLEN];
    const char *cands[64];
    int k = 0;
    for (const char *p = list; *p && k < 64;) {
        size_t len = strcspn(p, ",");
        while (len && isspace((unsigned char)p[len - 1])) len--;
        if (len && len < SUGGEST_MAXLEN) {
            memcpy(names[k], p, len);
            names[k][len] = 0;
            cands[k] = names[k];
            k++;
        }
        p += strcspn(p, ",");
        while (*p == ',' || isspace((unsigned char)*p)) p++;
    }
    const char *s = suggest_nearest(word, cands, k);
    if (!s) return NULL;
    snprintf(buf, n, "%s", s);
    return buf;
}

const char *suggest_hint(const char *word, const char *list, char *buf, size_t n) {
    char s[SUGGEST_MAXLEN];
    if (suggest_from_list(word, list, s, sizeof s))
        snprintf(buf, n, "did you mean '%s'? ", s);
    else if (n)
        buf[0] = 0;
    return buf;
}
