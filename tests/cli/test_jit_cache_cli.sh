#!/bin/bash
# The JIT kernel cache as `sslc run` meets it (issue 15): a truncated, bit-flipped or planted
# entry (a shared object whose constructor writes a marker) is rebuilt and the losses are those
# of a clean run; HOME with shell metacharacters or an apostrophe compiles and runs nothing; a
# cache directory writable by others, owned by another user, or 600 characters long is refused
# with one line; a user without HOME and without a passwd entry is refused naming
# SSLC_CACHE_DIR and nothing appears under /tmp/sslc-cache.
# Args: SSLC_BINARY SOURCE_DIR
set -u
sslc=$1
. "$(dirname "$0")/../tools/cli_checks.sh"

plan=$work/c.plan
"$sslc" compile simclr --backbone convnet --width 0.25 --image-size 16 --batch 8 -o "$plan" >/dev/null || { bad "compile"; exit 1; }
run() { "$sslc" run "$plan" --data fake:32 --steps 2 --log-every 1 --device cpu; }
losses() { grep -o 'loss [0-9.]*' "$1" | tr '\n' ' '; }

run >"$work/clean.out" 2>&1 && grep -q "kernels compiled" "$work/clean.out" && ok "first run compiles" || bad "first run"
want=$(losses "$work/clean.out")
run >"$work/again.out" 2>&1 && grep -q "kernels from cache" "$work/again.out" && ok "second run from the cache" ||
  bad "second run: $(tail -2 "$work/again.out")"
entry=$(ls "$SSLC_CACHE_DIR"/k* 2>/dev/null | head -1)
[ "$(ls "$SSLC_CACHE_DIR" | wc -l)" -eq 1 ] && [ -s "$entry" ] && ok "one entry: ${entry##*/}" || bad "cache entries: $(ls "$SSLC_CACHE_DIR")"
[ "$(stat -c %a "$SSLC_CACHE_DIR")" = 700 ] && ok "cache directory 0700" || bad "cache directory mode $(stat -c %a "$SSLC_CACHE_DIR")"

# rebuilt NAME: the run after tampering compiled again (exit 0, no crash) with the clean losses
rebuilt() {
  run >"$work/t.out" 2>&1; local rc=$?
  if [ $rc -eq 0 ] && grep -q "kernels compiled" "$work/t.out" && [ "$(losses "$work/t.out")" = "$want" ]; then ok "$1: rebuilt, same losses"
  else bad "$1 (rc $rc: $(tail -2 "$work/t.out" | tr '\n' ' '))"; fi
}
size=$(stat -c %s "$entry")
truncate -s $((size / 2)) "$entry"
rebuilt "truncated entry"
off=$((size * 3 / 4)); byte=$(od -An -tu1 -j $off -N 1 "$entry" | tr -d ' ')
printf "\\$(printf %o $((byte ^ 16)))" | dd of="$entry" bs=1 seek=$off conv=notrunc status=none
rebuilt "bit-flipped entry"

printf '#include <stdio.h>\n__attribute__((constructor)) static void planted(void) { FILE *f = fopen("%s", "w"); if (f) fclose(f); }\n' \
  "$work/PLANTED" >"$work/plant.c"
if cc -shared -fPIC -o "$work/plant.so" "$work/plant.c"; then
  cp "$work/plant.so" "$entry"
  rebuilt "planted shared object"
  [ ! -e "$work/PLANTED" ] && ok "the planted constructor did not run" || bad "the planted constructor ran"
else
  bad "cannot build the planted object"
fi

# HOME as the cache's root: never parsed by a shell
home="$work/x'; touch $work/INJECTED; echo '"
env -u SSLC_CACHE_DIR -u XDG_CACHE_HOME HOME="$home" "$sslc" run "$plan" --data fake:32 --steps 1 --device cpu >"$work/h.out" 2>&1 &&
  [ ! -e "$work/INJECTED" ] && ls "$home/.cache/sslc"/k* >/dev/null 2>&1 && ok "HOME with shell metacharacters: compiled, nothing run" ||
  bad "HOME with shell metacharacters ($( [ -e "$work/INJECTED" ] && echo "the touch ran"): $(tail -1 "$work/h.out"))"
env -u SSLC_CACHE_DIR -u XDG_CACHE_HOME HOME="$work/o'brien" "$sslc" run "$plan" --data fake:32 --steps 1 --device cpu >"$work/h.out" 2>&1 &&
  ok "HOME with an apostrophe" || bad "HOME with an apostrophe: $(tail -1 "$work/h.out")"

# cache directories that are not private, or too long
mkdir -m 700 "$work/open"
chmod 777 "$work/open"
SSLC_CACHE_DIR=$work/open expect_error "a cache writable by others (0777)" "writable by group or others.*SSLC_CACHE_DIR" \
  "$sslc" run "$plan" --data fake:32 --steps 1 --device cpu
if [ "$(id -u)" = 0 ]; then
  chmod 700 "$work/open" && chown nobody "$work/open"
  SSLC_CACHE_DIR=$work/open expect_error "a cache owned by another user" "owned by user.*SSLC_CACHE_DIR" \
    "$sslc" run "$plan" --data fake:32 --steps 1 --device cpu
else
  echo "skip a cache owned by another user (needs root)"
fi
long=$work/long/$(printf 'd%.0s' $(seq 600))
long=${long:0:600}
SSLC_CACHE_DIR=$long expect_error "a 600-character SSLC_CACHE_DIR" "too long" "$sslc" run "$plan" --data fake:32 --steps 1 --device cpu
[ ! -e "$work/long" ] && ok "the long SSLC_CACHE_DIR was not cut down to another directory" || bad "a cut-down SSLC_CACHE_DIR was created under $work/long"

# no SSLC_CACHE_DIR, XDG_CACHE_HOME or HOME, as a user without a passwd entry: refused, not /tmp
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && ! getent passwd 54321 >/dev/null; then
  before=$(ls -la /tmp/sslc-cache 2>&1)
  chmod 711 "$work" && chmod 644 "$plan"
  expect_error "no HOME and no passwd entry" "set SSLC_CACHE_DIR" \
    env -u SSLC_CACHE_DIR -u XDG_CACHE_HOME -u HOME setpriv --reuid=54321 --regid=65534 --clear-groups \
    "$sslc" run "$plan" --data fake:32 --steps 1 --device cpu
  chmod 700 "$work"
  [ "$(ls -la /tmp/sslc-cache 2>&1)" = "$before" ] && ok "nothing created under /tmp/sslc-cache" || bad "/tmp/sslc-cache changed"
else
  echo "skip a user without a home (needs root, setpriv and a free uid 54321; tests/test_jit_cache.c covers it)"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
