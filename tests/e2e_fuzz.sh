#!/usr/bin/env bash
# e2e_fuzz.sh — every libFuzzer harness (tests/fuzz/fuzz_*.c) built by `make fuzz-build` and run for
# FUZZ_TEST_SECONDS (3) from its seed corpus (tests/fuzz/corpus/NAME/, copied: the repository's
# corpus is not changed). A crash, leak, sanitizer report or timeout fails the check and keeps the
# input in build-fuzz/artifacts/. `make fuzz` runs them longer. Skipped where clang's libFuzzer is absent.
. "$(dirname "$0")/e2e.sh"
cd "$(dirname "$0")/.."
SECS=${FUZZ_TEST_SECONDS:-3}
CC_FUZZ=${FUZZ_CC:-clang}
if ! command -v "$CC_FUZZ" >/dev/null ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
     "$CC_FUZZ" -x c -fsanitize=fuzzer - -o "$E2E_TMP/probe" 2>/dev/null; then
  skip "$CC_FUZZ with libFuzzer (-fsanitize=fuzzer) is not available: install clang to fuzz the parsers"
  summary e2e_fuzz; exit
fi
check "make fuzz-build builds every harness" make -s --no-print-directory fuzz-build
mkdir -p build-fuzz/artifacts
for src in tests/fuzz/fuzz_*.c; do
  h=$(basename "$src" .c); n=${h#fuzz_}
  check "$n has a seed corpus" test -n "$(ls tests/fuzz/corpus/"$n" 2>/dev/null)"
  [[ -x build-fuzz/$h ]] || { check "$h was built" false; continue; }
  mkdir -p "$E2E_TMP/corpus-$n"
  check "fuzz $n for $SECS s: no crash, leak or sanitizer report" \
    build-fuzz/"$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix=build-fuzz/artifacts/"$n"- "$E2E_TMP/corpus-$n" tests/fuzz/corpus/"$n"
done
summary e2e_fuzz
