#!/bin/bash
# Every option that exists is documented (issue 14): each long option of the CLI's option tables
# (getopt tables and the hand-parsed --flags in frontend/cmd_*.c) appears in its command's
# `sslc CMD --help` and in README's "Options reference"; every option README's reference or any
# --help names is one some command accepts. A failure names the option and where it is missing.
# Args: SSLC_BINARY SOURCE_DIR
sslc=$(realpath "$1"); src=$(realpath "$2")
source "$src/tests/tools/cli_checks.sh"

# the options a source file accepts: getopt tables, strcmp(argv[i], "--x") and the global flags
file_options() {
  { grep -o '{"[a-z0-9-]*", *\(no\|required\|optional\)_argument' "$1" | sed 's/{"\([^"]*\)".*/--\1/'
    grep -o 'strcmp(argv\[[a-z0-9]*\], "--[a-z0-9-]*")' "$1" | sed 's/.*"\(--[^"]*\)")/\1/'
  } | grep -vx -- '--help' | sort -u
}
help_options() { "$sslc" "$@" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

# each file's options against the help of the commands it parses for
declare -A files=([cmd_compile.c]="compile" [cmd_inspect.c]="inspect" [cmd_run.c]="run"
  [cmd_train.c]="train" [cmd_report.c]="report" [cmd_step.c]="step" [cmd_export.c]="export features"
  [cmd_eval.c]="eval embed" [cmd_methods.c]="methods" [cmd_devices.c]="devices" [main.c]="")
commands=$("$sslc" --help | sed -n '/^commands:/,/^$/p' | awk 'NF>1 {print $1}')
for f in "$src"/frontend/cmd_*.c; do
  [ -n "${files[$(basename "$f")]+x}" ] || bad "$(basename "$f") is not in this test's table of command files"
done
for c in $commands; do
  grep -qw "$c" <<<"${files[*]}" || bad "command $c is in sslc --help but not in this test's table"
done

all="$work/all"; : >"$all"
for f in "${!files[@]}"; do
  file_options "$src/frontend/$f" >"$work/opts"
  cat "$work/opts" >>"$all"
  [ -n "${files[$f]}" ] || continue
  : >"$work/help"
  for c in ${files[$f]}; do help_options "$c" >>"$work/help"; done
  missing=$(sort -u "$work/help" | comm -23 "$work/opts" - | tr '\n' ' ')
  if [ -z "$missing" ]; then ok "$f: every option in sslc ${files[$f]// / / } --help"
  else bad "$f: sslc ${files[$f]// / / } --help does not name: $missing"; fi
done
echo "--version" >>"$all"; echo "--help" >>"$all"
sort -u "$all" -o "$all"
[ "$(wc -l <"$all")" -gt 60 ] || bad "only $(wc -l <"$all") options found in frontend/: the extraction broke"

# README's options reference: from its heading to the next level-2 heading
sed -n '/^## Options reference/,/^## /p' "$src/README.md" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$work/readme"
[ -s "$work/readme" ] || bad "README.md has no \"## Options reference\" section naming options"
missing=$(comm -23 "$all" "$work/readme" | tr '\n' ' ')
if [ -z "$missing" ]; then ok "every option is in README's options reference"
else bad "README's options reference does not name: $missing"; fi
unknown=$(comm -13 "$all" "$work/readme" | tr '\n' ' ')
if [ -z "$unknown" ]; then ok "every option in README's options reference exists"
else bad "README's options reference names options no command accepts: $unknown"; fi

for c in $commands; do help_options "$c"; done | sort -u >"$work/helps"
unknown=$(comm -13 "$all" "$work/helps" | tr '\n' ' ')
if [ -z "$unknown" ]; then ok "every option a --help names exists"
else bad "--help names options no command accepts: $unknown"; fi

echo "passed $pass, failed $fail"
[ "$fail" -eq 0 ]
