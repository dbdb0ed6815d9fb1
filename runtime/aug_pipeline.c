/* The text form of augmentation pipelines and the names of their graph inputs: what the compile
 * side writes into a plan and the run time reads back. See aug_pipeline.h. */
#include "aug_pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_names[AUG__KINDS] = {"crop", "flip", "jitter", "gray", "blur", "solarize"};

/* shortest %g that reads back exactly */
static void fmt_num(char *buf, size_t n, double x) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

int aug_pipeline_format(const aug_pipeline *p, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        char a[4][32], pp[32];
        for (int j = 0; j < 4; j++) fmt_num(a[j], sizeof a[j], s->a[j]);
        fmt_num(pp, sizeof pp, s->p);
        int w;
        const char *sep = i ? " " : "";
        switch (s->kind) {
        case AUG_CROP:
            w = snprintf(buf + k, n - k, "%scrop(scale=%s:%s,ratio=%s:%s,%s%s)", sep, a[0], a[1], a[2], a[3],
                         s->bicubic ? "bicubic" : "bilinear", p->local ? ",local" : "");
            break;
        case AUG_JITTER:
            w = snprintf(buf + k, n - k, "%sjitter(p=%s,b=%s,c=%s,s=%s,h=%s)", sep, pp, a[0], a[1], a[2], a[3]);
            break;
        case AUG_BLUR: w = snprintf(buf + k, n - k, "%sblur(p=%s,sigma=%s:%s)", sep, pp, a[0], a[1]); break;
        default: w = snprintf(buf + k, n - k, "%s%s(p=%s)", sep, kind_names[s->kind], pp); break;
        }
        if (w < 0 || (size_t)w >= n - k) return -1;
        k += (size_t)w;
    }
    return 0;
}

int aug_pipeline_check(const aug_pipeline *p, char *err) {
    unsigned seen = 0;
    if (p->nsteps < 0 || p->nsteps > AUG_MAX_STEPS) {
        snprintf(err, IR_ERRLEN, "augmentation pipeline with %d steps (at most %d)", p->nsteps, AUG_MAX_STEPS);
        return -1;
    }
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        if ((unsigned)s->kind >= AUG__KINDS) {
            snprintf(err, IR_ERRLEN, "augmentation step %d has an unknown kind", i);
            return -1;
        }
        const char *nm = kind_names[s->kind];
        if (seen & (1u << s->kind)) {
            snprintf(err, IR_ERRLEN, "augmentation: %s appears twice in one pipeline", nm);
            return -1;
        }
        seen |= 1u << s->kind;
        if (!(s->p >= 0 && s->p <= 1)) {
            snprintf(err, IR_ERRLEN, "augmentation %s: p must be in [0, 1], got %g", nm, s->p);
            return -1;
        }
        if (s->kind == AUG_CROP && !(s->a[0] > 0 && s->a[0] <= s->a[1] && s->a[1] <= 1 && s->a[2] > 0 && s->a[2] <= s->a[3] &&
                                     isfinite(s->a[3]))) {
            snprintf(err, IR_ERRLEN, "augmentation crop: need 0 < scale min <= max <= 1 and 0 < ratio min <= max, got "
                                     "scale %g:%g ratio %g:%g", s->a[0], s->a[1], s->a[2], s->a[3]);
            return -1;
        }
        if (s->kind == AUG_JITTER &&
            !(s->a[0] >= 0 && s->a[1] >= 0 && s->a[2] >= 0 && isfinite(s->a[0] + s->a[1] + s->a[2]) && s->a[3] >= 0 && s->a[3] <= 0.5)) {
            snprintf(err, IR_ERRLEN, "augmentation jitter: brightness, contrast, saturation must be >= 0 and hue in "
                                     "[0, 0.5], got %g, %g, %g, %g", s->a[0], s->a[1], s->a[2], s->a[3]);
            return -1;
        }
        if (s->kind == AUG_BLUR && !(s->a[0] > 0 && s->a[0] <= s->a[1] && isfinite(s->a[1]))) {
            snprintf(err, IR_ERRLEN, "augmentation blur: need 0 < sigma min <= max, got %g:%g", s->a[0], s->a[1]);
            return -1;
        }
    }
    return 0;
}

static int parse_range(const char *v, double *lo, double *hi) {
    char *end;
    errno = 0;
    *lo = strtod(v, &end);
    if (end == v || errno || *end != ':') return -1;
    const char *w = end + 1;
    *hi = strtod(w, &end);
    return (end == w || errno || *end) ? -1 : 0;
}

static int parse_num(const char *v, double *x) {
    char *end;
    errno = 0;
    *x = strtod(v, &end);
    return (end == v || errno || *end || !isfinite(*x)) ? -1 : 0;
}

/* one argument "key=value" or "word" of step s */
static int parse_arg(aug_pipeline *p, aug_step *s, char *arg, char *err) {
    char *eq = strchr(arg, '=');
    const char *nm = kind_names[s->kind];
    int bad = 0;
    if (!eq) {
        if (s->kind == AUG_CROP && !strcmp(arg, "bilinear"))
            s->bicubic = 0;
        else if (s->kind == AUG_CROP && !strcmp(arg, "bicubic"))
            s->bicubic = 1;
        else if (s->kind == AUG_CROP && !strcmp(arg, "local"))
            p->local = 1;
        else
            bad = 1;
    } else {
        *eq = 0;
        const char *k = arg, *v = eq + 1;
        if (!strcmp(k, "p") && s->kind != AUG_CROP)
            bad = parse_num(v, &s->p);
        else if (s->kind == AUG_CROP && !strcmp(k, "scale"))
            bad = parse_range(v, &s->a[0], &s->a[1]);
        else if (s->kind == AUG_CROP && !strcmp(k, "ratio"))
            bad = parse_range(v, &s->a[2], &s->a[3]);
        else if (s->kind == AUG_BLUR && !strcmp(k, "sigma"))
            bad = parse_range(v, &s->a[0], &s->a[1]);
        else if (s->kind == AUG_JITTER && strlen(k) == 1 && strchr("bcsh", k[0]))
            bad = parse_num(v, &s->a[strchr("bcsh", k[0]) - "bcsh"]);
        else
            bad = 1;
        if (bad) *eq = '=';
    }
    if (bad) snprintf(err, IR_ERRLEN, "augmentation %s: cannot use '%s'", nm, arg);
    return bad ? -1 : 0;
}

int aug_pipeline_parse(const char *text, aug_pipeline *p, char *err) {
    memset(p, 0, sizeof *p);
    char buf[1024];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, IR_ERRLEN, "augmentation pipeline text too long (%zu characters)", strlen(text));
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", text);
    char *s = buf;
    for (;;) {
        while (*s == ' ') s++;
        if (!*s) break;
        char *open = strchr(s, '('), *close = open ? strchr(open, ')') : NULL;
        if (!open || !close) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline: expected name(...) at '%.60s'", s);
            return -1;
        }
        *open = 0;
        int kind = -1;
        for (int k = 0; k < AUG__KINDS; k++)
            if (!strcmp(s, kind_names[k])) kind = k;
        if (kind < 0) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline: unknown transform '%.40s' (known: crop, flip, jitter, gray, "
                                     "blur, solarize)", s);
            return -1;
        }
        if (p->nsteps == AUG_MAX_STEPS) {
            snprintf(err, IR_ERRLEN, "augmentation pipeline: more than %d transforms", AUG_MAX_STEPS);
            return -1;
        }
        aug_step *st = &p->steps[p->nsteps++];
        memset(st, 0, sizeof *st);
        st->kind = (aug_kind)kind;
        st->p = kind == AUG_CROP ? 1 : 0.5;
        if (kind == AUG_CROP) st->a[0] = 0.08, st->a[1] = 1, st->a[2] = 3.0 / 4.0, st->a[3] = 4.0 / 3.0;
        if (kind == AUG_BLUR) st->a[0] = 0.1, st->a[1] = 2.0;
        *close = 0;
        for (char *a = open + 1; *a;) {
            char *comma = strchr(a, ',');
            if (comma) *comma = 0;
            if (parse_arg(p, st, a, err)) return -1;
            if (!comma) break;
            a = comma + 1;
        }
        s = close + 1;
    }
    return aug_pipeline_check(p, err);
}

const char *aug_kind_name(aug_kind k) { return (unsigned)k < AUG__KINDS ? kind_names[k] : NULL; }

static const char *param_names[AP__COUNT] = {"box", "flip", "jitter", "order", "gray", "sigma", "solarize"};

int aug_param_input(int view, aug_param k, int64_t B, char *name, size_t n, ir_dtype *dt, ir_shape *shape) {
    if ((unsigned)k >= AP__COUNT) return -1;
    snprintf(name, n, "aug.%d.%s", view, param_names[k]);
    int cols = (k == AP_BOX || k == AP_JITTER || k == AP_ORDER) ? 4 : 0;
    *dt = (k == AP_BOX || k == AP_ORDER) ? DT_I32 : DT_F32;
    *shape = cols ? IR_SHAPE(B, cols) : IR_SHAPE(B);
    return 0;
}
