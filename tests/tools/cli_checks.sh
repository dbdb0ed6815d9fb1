# Sourced by the CLI tests (tests/cli/*.sh): a scratch directory $work (removed on exit), counted
# checks, and expect_error. Not a test itself (tests/cli/*.sh are; this lives in tests/tools/).
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export SSLC_CACHE_DIR=$work/cache OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
pass=0; fail=0
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; }
# expect_error NAME PATTERN CMD...: non-zero exit (not a crash), exactly one stderr line matching PATTERN
expect_error() {
  local name=$1 pat=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  local lines; lines=$(wc -l <"$work/err")
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$work/err"; then ok "$name"
  else bad "$name (rc $rc, stderr: $(head -c 300 "$work/err"))"; fi
}
