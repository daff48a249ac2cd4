#!/usr/bin/env bash
# e2e_diskfull.sh — a full disk (a small tmpfs mounted for the test) is a clear error, exit 1, never an
# abort (issue 14.5, 14.8): `dataset` says the dataset is incomplete and writes no labels.csv, `train`
# says truthfully that no earlier checkpoint exists, `swap` names the file it could not write.
# Mounting needs root (or CAP_SYS_ADMIN): elsewhere the test skips with a message.
. "$(dirname "$0")/e2e.sh"
export SWAPLAB_REVOCATIONS="$E2E_TMP/revoked.json" SWAPLAB_KEY="$E2E_TMP/lab.key" SL_QUIET=1
T=$E2E_TMP
M=$T/full
mkdir -p "$M"
mounted=0
cleanup() { ((mounted)) && umount "$M" 2>/dev/null; rm -rf "$E2E_TMP"; }
trap cleanup EXIT
# small_disk SIZE: a fresh tmpfs of SIZE at $M
small_disk() { ((mounted)) && umount "$M"; mounted=0; mount -t tmpfs -o "size=$1" tmpfs "$M" 2>/dev/null && mounted=1; }
if [[ $(id -u) != 0 ]] || ! small_disk 64k; then
  skip "cannot mount a tmpfs here (needs root): the disk-full checks did not run"
  summary e2e_diskfull; exit
fi
S=$SWAPLAB
A=$T/sets/synth-0001; B=$T/sets/synth-0002; C=$T/sets/synth-0003; D=$T/sets/synth-0004; E=$T/sets/synth-0005; F=$T/sets/synth-0006
# cartoon sets: the disk sizes below are set by their outputs (composites' swaps compress smaller:
# all 6 fit in 200k)
check "synth: 6 identities x 6 frames" "$S" synth --out "$T/sets" --identities 6 --frames 6 --size 128 --crop 64 \
  --style cartoon
check "train: tiny, 2 steps (on a disk with room)" "$S" train --facesets "$A" "$B" "$C" "$D" "$E" "$F" --out "$T/run" --preset tiny \
  --steps 2 --batch 2 --eval-every 1000 --holdout-every 0 --threads 1

small_disk 300k
check_fails "dataset on a full disk: exit 1, the dataset named incomplete (it aborted, rc 134)" 1 \
  "No space left on device.*is incomplete and has no labels.csv" \
  "$S" dataset --model "$T/run" --facesets "$A" "$B" "$C" "$D" "$E" "$F" --out "$M/ds" --splits 34/33/33 --size 64
check "no labels.csv was written" test ! -e "$M/ds/labels.csv"
check "the dataset's lock was released" test ! -e "$M/ds/.swaplab.lock"

small_disk 30m # room for the model file of the first checkpoint, not for its optimizer state
check_fails "train on a full disk: the first checkpoint fails and says nothing earlier is kept" 1 \
  "checkpoint at step 2 not written \(there is no earlier checkpoint.*No space left on device" \
  "$S" train --facesets "$A" "$B" "$C" "$D" --out "$M/run" --preset tiny --steps 2 --batch 2 --eval-every 1000 \
  --holdout-every 0 --threads 1
check "it left no state.json pointing at a broken checkpoint" test ! -e "$M/run/state.json"

small_disk 200k
check_fails "swap on a full disk: exit 1 naming the file" 1 "write failed: No space left on device" \
  "$S" swap --model "$T/run" --from "$A" --to synth-0002 --out "$M/sw"
summary e2e_diskfull
