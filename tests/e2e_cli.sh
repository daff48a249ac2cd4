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
summary e2e_cli
