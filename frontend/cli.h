/* Command-line helpers shared by the sslc subcommands. Every user error is reported once, as
 * one line on stderr starting with "sslc: ", and the command returns exit status 2. */
#ifndef SSLC_CLI_H
#define SSLC_CLI_H
#include <stdint.h>

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
