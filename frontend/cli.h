/* Command-line helpers shared by the sslc subcommands. Every user error is reported once, as
 * one line on stderr starting with "sslc: ", and the command returns exit status 2. */
#ifndef SSLC_CLI_H
#define SSLC_CLI_H
#include <stdint.h>

#include "../methods/method.h"

#define CLI_USAGE_ERROR 2
#define CLI_RUN_ERROR 1

#define CLI_ERRLEN 512
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* prints, returns 2 */
/* the same message into err (CLI_ERRLEN bytes) instead of stderr; returns 2 */
int cli_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_parse_double_e(const char *opt, const char *s, double *out, char *err);
int cli_parse_int_e(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out, char *err);
int cli_parse_double(const char *opt, const char *s, double *out);
int cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
/* N (square) or HxW, each in [1, 65536] */
int cli_parse_hw_e(const char *opt, const char *s, int64_t *h, int64_t *w, char *err);

/* The one line for an option getopt_long did not know (arg as given: --name, --name=V or -x),
 * naming the nearest option of the tables a and b (getopt_long arrays; b may be NULL) when one
 * is close. Printed (cli_unknown_option) or into err (_e); returns 2. */
struct option;
int cli_unknown_option(const char *cmd, const char *arg, const struct option *a, const struct option *b);
int cli_unknown_option_e(char *err, const char *cmd, const char *arg, const struct option *a, const struct option *b);
/* The method named (case-insensitive), or NULL with one line in err naming the nearest method. */
const method_def *cli_find_method(const char *name, char *err);
/* 0 if name is a built-in backbone, else -1 with one line in err naming the nearest. */
int cli_check_backbone(const char *name, char *err);

int cmd_methods(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_step(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
