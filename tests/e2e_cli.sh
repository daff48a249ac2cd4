#!/usr/bin/env bash
# e2e_cli.sh — the command-line skeleton: help, version, unknown commands and flags.
. "$(dirname "$0")/e2e.sh"
check "--help lists the commands" bash -c '"$SWAPLAB" --help | grep -q "train"'
check "--version prints the version" bash -c '"$SWAPLAB" --version | grep -qE "^swaplab [0-9]+\.[0-9]+"'
check "help CMD shows that command" bash -c '"$SWAPLAB" help keygen | grep -q "usage: swaplab keygen"'
check_fails "unknown command exits 2" 2 "unknown command 'frobnicate'" "$SWAPLAB" frobnicate
check_fails "unknown option exits 2" 2 "unknown option" "$SWAPLAB" --frobnicate
check_fails "bench/run.sh refuses ROUNDS=0 before it runs anything" 2 "ROUNDS must be a whole number >= 1" \
  env ROUNDS=0 bash bench/run.sh
check_fails "bench/run.sh refuses a ROUNDS that is not a number" 2 "got 'x'" env ROUNDS=x bash bench/run.sh
check_fails "no command exits 2" 2 "usage: swaplab COMMAND" "$SWAPLAB"
printf 'not a model' >"$E2E_TMP/junk.safetensors"
check_fails "info on a file that is not a model exits 1 with a reason" 1 "not a safetensors file" "$SWAPLAB" info "$E2E_TMP/junk.safetensors"
check_fails "info without a file exits 2" 2 "give at least one model file" "$SWAPLAB" info
# issue 14.5: every numeric flag has a range; values outside it, NaN and over-long paths are usage errors
for c in synth "consent init" "consent verify" "consent revoke" "consent show" keygen extract train eval swap verify \
         dataset "detect train" "detect eval" "detect scan" report demo info clip; do
  check "swaplab $c --help: every numeric flag has a range" bash -c "\"\$SWAPLAB\" $c --help >\"$E2E_TMP/h\" && ! grep -q 'no range' \"$E2E_TMP/h\""
done
check "--help prints a flag's range" bash -c '"$SWAPLAB" train --help | grep -q -- "--threads N.*\[1\.\.256\]"'
check_fails "train --threads 100000 is a usage error (it was a segfault)" 2 "--threads must be 1..256, got '100000'" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --steps 1 --threads 100000
check_fails "train --loaders 100000 is a usage error" 2 "--loaders must be 1..64" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --steps 1 --loaders 100000
check_fails "train --threads 0 is a usage error" 2 "--threads must be 1..256" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --steps 1 --threads 0
check_fails "train --threads -1 is a usage error" 2 "--threads must be 1..256" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --steps 1 --threads=-1
check_fails "train --minutes nan is a usage error (it never stopped)" 2 "--minutes must be" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --minutes nan
check_fails "train --minutes inf is a usage error" 2 "--minutes must be" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --minutes inf
check_fails "train --seed -1 is a usage error" 2 "--seed expects a non-negative integer" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/r" --steps 1 --seed -1
check_fails "swap --threads 0 is a usage error" 2 "--threads must be 1..256" \
  "$SWAPLAB" swap --model m --from a --to b --out o --threads 0
check_fails "dataset --seed -1 is a usage error" 2 "--seed must be 0..2147483647" \
  "$SWAPLAB" dataset --model m --facesets a b c d --out o --seed -1
check_fails "detect train --lr nan is a usage error" 2 "--lr must be" "$SWAPLAB" detect train --data d --out o --lr nan
long=$(printf 'x%.0s' {1..5000})
check_fails "an --out path over the limit is a clear usage error (it aborted)" 2 "--out: '.*\.\.\.' is 50[0-9][0-9] bytes long; at most 3072" \
  "$SWAPLAB" train --facesets a b --out "$E2E_TMP/$long" --steps 1
check_fails "a positional path over the limit is a usage error" 2 "is 5000 bytes long" "$SWAPLAB" consent verify "$long"
# issue 14.8: a FIFO, device or directory where a file is expected is named as such and never blocks
mkfifo "$E2E_TMP/pipe.safetensors"
check_fails "info on a FIFO says so, at once (it blocked)" 1 "is a FIFO \(named pipe\), not a regular file" \
  timeout 20 "$SWAPLAB" info "$E2E_TMP/pipe.safetensors"
check_fails "verify on a device says so" 1 "/dev/null: is a device" "$SWAPLAB" verify /dev/null
mkdir -p "$E2E_TMP/adir.png"
check_fails "verify on a directory says so" 1 "adir.png: is a directory" "$SWAPLAB" verify "$E2E_TMP/adir.png"
summary e2e_cli
