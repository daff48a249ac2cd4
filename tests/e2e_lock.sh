#!/usr/bin/env bash
# e2e_lock.sh — one writer per output (issue 14.6): a second `train` into a run directory that a
# running `train` holds, a `swap` into a pair folder and a `dataset` into a folder another process
# has locked all fail at once (exit 1) naming the holder; a holder killed with SIGKILL leaves a stale
# lock file that the next run takes over.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
T=$E2E_TMP
A=$T/sets/synth-0001; B=$T/sets/synth-0002; RUN=$T/run
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$E2E_TMP"' EXIT

# wait_lock FILE: until FILE holds a holder's record (at most 20 s)
wait_lock() { for _ in $(seq 200); do grep -q '^pid ' "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

C=$T/sets/synth-0003; E=$T/sets/synth-0004; F=$T/sets/synth-0005; G=$T/sets/synth-0006
check "synth: 6 identities x 6 frames" "$SWAPLAB" synth --out "$T/sets" --identities 6 --frames 6 --size 128 --crop 64
check "train: tiny, 2 steps" "$SWAPLAB" train --facesets "$A" "$B" "$C" "$E" "$F" "$G" --out "$RUN" --preset tiny --steps 2 --batch 2 \
  --eval-every 1000 --holdout-every 0 --threads 1
check "a finished train leaves no lock file" test ! -e "$RUN/.swaplab.lock"

# two trains into one run directory
"$SWAPLAB" train --facesets "$A" "$B" --out "$T/run2" --preset tiny --steps 1000000 --batch 2 --eval-every 1000000 \
  --holdout-every 0 --threads 1 >"$T/first.log" 2>&1 &
first=$!; pids+=("$first")
if wait_lock "$T/run2/.swaplab.lock"; then
  check_fails "a second train into a run in use fails, naming the holder" 1 \
    "run2 is in use by swaplab train \(pid $first on host .*, since 20[0-9-]+T" \
    "$SWAPLAB" train --facesets "$A" "$B" --out "$T/run2" --preset tiny --steps 1 --batch 2 --threads 1
  check "the second train did not touch the first one's log" bash -c "! grep -q 'in use' '$T/run2/log.jsonl' 2>/dev/null"
else
  check "the first train took its lock" false
fi
kill -9 "$first" 2>/dev/null; wait "$first" 2>/dev/null
check "kill -9 leaves the stale lock file" test -f "$T/run2/.swaplab.lock"

# swap and dataset folders held by another process (util-linux flock), then taken over when it dies
if command -v flock >/dev/null; then
  P=$T/swaps/synth-0001_to_synth-0002
  mkdir -p "$P"
  printf 'pid 1\nhost elsewhere\ncommand swaplab swap\nsince 2026-01-01T00:00:00Z\n' >"$P/.swaplab.lock"
  flock -o "$P/.swaplab.lock" sleep 60 & holder=$!; pids+=("$holder")
  sleep 0.3
  check_fails "swap into a pair folder in use fails, naming the holder" 1 \
    "synth-0001_to_synth-0002 is in use by swaplab swap \(pid 1 on host elsewhere" \
    "$SWAPLAB" swap --model "$RUN" --from "$A" --to synth-0002 --out "$T/swaps" --limit 1
  check "nothing was swapped into it" bash -c "! ls '$P'/*.png 2>/dev/null | grep -q ."
  D=$T/ds
  mkdir -p "$D"
  flock -o "$D/.swaplab.lock" sleep 60 & dholder=$!; pids+=("$dholder")
  sleep 0.3
  check_fails "dataset into a folder in use fails" 1 "ds is in use by another process" \
    "$SWAPLAB" dataset --model "$RUN" --facesets "$A" "$B" "$C" "$E" "$F" "$G" --out "$D" --splits 34/33/33 --size 64
  kill -9 "$holder" "$dholder"; wait "$holder" "$dholder" 2>/dev/null
  check "after the holder died the stale lock is taken over" "$SWAPLAB" swap --model "$RUN" --from "$A" --to synth-0002 \
    --out "$T/swaps" --limit 1
  check "and released at the end" test ! -e "$P/.swaplab.lock"
else
  skip "util-linux flock is not installed: the swap and dataset lock checks need an outside holder"
fi
summary e2e_lock
