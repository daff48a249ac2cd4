#!/usr/bin/env bash
# e2e_generated.sh — generated code is what its generator prints: nn/ops/winograd_f4.h from
# scripts/gen_winograd_f4.py (the Winograd F(4x4,3x3) transforms). Edit the generator, not the file.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
py=$(command -v python3 || echo /usr/bin/python3)
gen=$(mktemp)
if ! "$py" scripts/gen_winograd_f4.py >"$gen"; then
  echo "FAIL: scripts/gen_winograd_f4.py did not run" >&2; fail=$((fail + 1))
elif diff -u nn/ops/winograd_f4.h "$gen" >&2; then
  pass=$((pass + 1))
else
  echo "FAIL: nn/ops/winograd_f4.h differs from what scripts/gen_winograd_f4.py prints (regenerate it)" >&2
  fail=$((fail + 1))
fi
# every macro of the file is expanded in winograd.c (none left unused, none pasted by hand instead)
for m in $(sed -nE 's/^#define (WINO4_[A-Z_]+).*/\1/p' nn/ops/winograd_f4.h); do
  if grep -q "^[[:space:]]*$m\b" nn/ops/winograd.c; then pass=$((pass + 1))
  else echo "FAIL: $m is not used in nn/ops/winograd.c" >&2; fail=$((fail + 1)); fi
done
rm -f "$gen"
echo "e2e_generated: $pass passed, $fail failed, 0 skipped"
((fail == 0))
