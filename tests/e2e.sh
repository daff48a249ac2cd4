# e2e.sh — sourced by tests/e2e_*.sh: the same counters and summary line as tests/test.h.
# Use: check "what" command...; check_fails "what" command...; skip "why"; then `summary NAME`.
set -u
: "${SWAPLAB:?set SWAPLAB to the swaplab binary (tests/run.sh does)}"
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/swaplab-e2e-XXXXXX")
trap 'rm -rf "$E2E_TMP"' EXIT
_p=0; _f=0; _s=0
check() { local what=$1; shift; if "$@" >"$E2E_TMP/last.out" 2>&1; then _p=$((_p+1)); else _f=$((_f+1)); echo "  FAIL: $what" >&2; tail -20 "$E2E_TMP/last.out" >&2; fi; }
# check_fails WHAT EXPECTED_RC PATTERN command...: the command must exit EXPECTED_RC and print PATTERN
check_fails() { local what=$1 rc=$2 pat=$3; shift 3; "$@" >"$E2E_TMP/last.out" 2>&1; local got=$?
  if [[ $got == "$rc" ]] && grep -qE -- "$pat" "$E2E_TMP/last.out"; then _p=$((_p+1)); else _f=$((_f+1)); echo "  FAIL: $what (exit $got, wanted $rc and /$pat/)" >&2; tail -20 "$E2E_TMP/last.out" >&2; fi; }
skip() { _s=$((_s+1)); echo "  skipped: $*" >&2; }
summary() { echo "$1: $_p passed, $_f failed, $_s skipped"; ((_f == 0)); }
