#include "report_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/ir.h"
#include "../runtime/image.h"

int series_add(series *s, double x, double y) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return -1;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return -1;
        s->y = ny, s->cap = cap;
    }
    s->x[s->n] = x, s->y[s->n] = y, s->n++;
    return 0;
}

void series_free(series *s) {
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

void html_text(FILE *f, const char *s) {
    for (; s && *s; s++) switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
}

/* Tableau's ten colours, then grey for what has no class */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NPALETTE (int)(sizeof palette / sizeof palette[0])

enum { CW = 460, CH = 240, ML = 64, MR = 16, MT = 30, MB = 36 };

void svg_line_chart(FILE *f, const char *title, const series *s) {
    fprintf(f, "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", CW, CH, CW, CH);
    fprintf(f, "<text x=\"%d\" y=\"18\" class=\"title\">", ML);
    html_text(f, title);
    fprintf(f, "</text>\n");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", ML, MT, CW - ML - MR, CH - MT - MB);
    if (!s->n) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\">not measured in this run</text>\n</svg>\n", ML + 12,
                MT + (CH - MT - MB) / 2);
        return;
    }
    double x0 = s->x[0], x1 = s->x[0], y0 = s->y[0], y1 = s->y[0];
    for (int i = 1; i < s->n; i++) {
        x0 = fmin(x0, s->x[i]), x1 = fmax(x1, s->x[i]);
        y0 = fmin(y0, s->y[i]), y1 = fmax(y1, s->y[i]);
    }
    if (x1 <= x0) x0 -= 1, x1 += 1;
    if (y1 <= y0) {
        double d = fabs(y0) > 0 ? 0.05 * fabs(y0) : 1;
        y0 -= d, y1 += d;
    }
    double pw = CW - ML - MR, ph = CH - MT - MB;
    /* the axes' ends */
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.4g</text>\n", ML - 4, MT + 10, y1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.4g</text>\n", ML - 4, CH - MB, y0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">%.0f</text>\n", ML, CH - MB + 14, x0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.0f</text>\n", CW - MR, CH - MB + 14, x1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">step</text>\n", ML + (int)pw / 2,
            CH - MB + 28);
    fprintf(f, "<polyline class=\"line\" points=\"");
    for (int i = 0; i < s->n; i++)
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", ML + (s->x[i] - x0) / (x1 - x0) * pw, MT + (y1 - s->y[i]) / (y1 - y0) * ph);
    fprintf(f, "\"/>\n");
    if (s->n <= 40)
        for (int i = 0; i < s->n; i++)
            fprintf(f, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n", ML + (s->x[i] - x0) / (x1 - x0) * pw,
                    MT + (y1 - s->y[i]) / (y1 - y0) * ph);
    fprintf(f, "<text x=\"%d\" y=\"18\" class=\"tick\" text-anchor=\"end\">last %.4g</text>\n", CW - MR, s->y[s->n - 1]);
    fprintf(f, "</svg>\n");
}

enum { SW = 560, SH = 480, SM = 20, LEGEND_W = 160 };

/* s cut to at most max bytes on a UTF-8 character boundary, "..." added when cut */
static void legend_name(FILE *f, const char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max) {
        html_text(f, s);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s...", (int)max, s);
    html_text(f, buf);
}

void svg_scatter(FILE *f, const float *xy, const int64_t *cls, int64_t n, int classes, char *const *names) {
    int W = SW + LEGEND_W;
    fprintf(f, "<svg class=\"map\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", W, SH, W, SH);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", SW, SH);
    float x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    for (int64_t i = 0; i < n; i++) {
        float x = xy[2 * i], y = xy[2 * i + 1];
        if (!i || x < x0) x0 = x;
        if (!i || x > x1) x1 = x;
        if (!i || y < y0) y0 = y;
        if (!i || y > y1) y1 = y;
    }
    if (x1 <= x0) x0 -= 1, x1 += 1;
    if (y1 <= y0) y0 -= 1, y1 += 1;
    for (int64_t i = 0; i < n; i++) {
        int c = cls[i];
        const char *col = c >= 0 ? palette[c % NPALETTE] : "#999999";
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                SM + (xy[2 * i] - x0) / (x1 - x0) * (SW - 2 * SM), SM + (y1 - xy[2 * i + 1]) / (y1 - y0) * (SH - 2 * SM),
                col);
    }
    for (int c = 0; c < classes && c < 40; c++) {
        int y = 20 + 18 * c;
        fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" class=\"tick\">", SW + 16,
                y, palette[c % NPALETTE], SW + 26, y + 4);
        if (names && names[c]) {
            fputs("<title>", f);
            html_text(f, names[c]);
            fputs("</title>", f);
            legend_name(f, names[c], 20);
        } else
            fprintf(f, "class %d", c);
        fputs("</text>\n", f);
    }
    fprintf(f, "</svg>\n");
}

static void base64(FILE *f, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

int html_png(FILE *f, const uint8_t *chw, int w, int h, int c, const char *alt, char *err) {
    unsigned char *png = NULL;
    size_t len = 0;
    if (img_encode_png(chw, w, h, c, &png, &len, err)) return -1;
    fprintf(f, "<img width=\"%d\" height=\"%d\" alt=\"", w, h);
    html_text(f, alt);
    fprintf(f, "\" src=\"data:image/png;base64,");
    base64(f, png, len);
    fprintf(f, "\">\n");
    free(png);
    return 0;
}
