#!/usr/bin/env bash
# run.sh — runs every unit-test program in $BUILD/tests and every tests/e2e_*.sh script, prints
# each one's summary and, last, the total "N passed, N failed, N skipped". Exit 1 if anything failed.
# VALGRIND=1 runs the unit tests under valgrind (errors count as failures). ONLY=pattern filters.
set -u
BUILD=${BUILD:-build}
export SWAPLAB=${SWAPLAB:-$PWD/$BUILD/swaplab}
export SL_QUIET=${SL_QUIET:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
pass=0; fail=0; skip=0; failed_names=()
log=$(mktemp -d)
run_one() { # name, command...
  local name=$1; shift
  local t0=$SECONDS
  "$@" >"$log/$name.out" 2>"$log/$name.err"; local rc=$?
  local line; line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log/$name.out" | tail -1)
  if [[ -z $line ]]; then
    line="$name: 0 passed, 1 failed, 0 skipped"
    echo "$name: exited $rc without a summary" >>"$log/$name.err"
  fi
  local p f s
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.*failed, ([0-9]+) skipped.*/\1/p' <<<"$line"); s=${s:-0}
  if ((rc != 0 && f == 0)); then f=1; fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  printf '  %-28s %3d passed, %d failed, %d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
  grep -E 'skipped|FAIL|error|Error|ERROR' "$log/$name.err" | head -20 | sed 's/^/      /'
  if ((f > 0)); then failed_names+=("$name"); tail -40 "$log/$name.err" | sed 's/^/      | /'; fi
}
echo "swaplab tests ($BUILD)"
for t in "$BUILD"/tests/test_*; do
  [[ -x $t && $t != *.o && $t != *.d ]] || continue
  name=$(basename "$t")
  [[ -n ${ONLY:-} && $name != *$ONLY* ]] && continue
  if [[ -n ${VALGRIND:-} ]]; then
    run_one "$name" valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$t"
  else
    run_one "$name" "$t"
  fi
done
if [[ -z ${VALGRIND:-} ]]; then
  for s in tests/e2e_*.sh; do
    [[ -f $s ]] || continue
    name=$(basename "$s" .sh)
    [[ -n ${ONLY:-} && $name != *$ONLY* ]] && continue
    run_one "$name" bash "$s"
  done
fi
rm -rf "$log"
((fail > 0)) && echo "failed: ${failed_names[*]}"
echo "total: $pass passed, $fail failed, $skip skipped"
((fail == 0))
