#!/usr/bin/env bash
# e2e_layers.sh — every #include of a project header points down a layer (docs/ARCHITECTURE.md):
#
#   7  swaplab.c            the subcommand table
#   6  cli/                 thin cmd_*.c files: flags, one pipeline call, reporting
#   5  report/              the HTML report (reads what the others wrote)
#   4  dataset/             labelled-data generation (uses infer/ and detect/)
#   3  train/ infer/ detect/   the pipelines; none of them includes another
#   2  model/               presets, run directories, model-file metadata
#   1  nn/ data/            the engine | media and faces; neither includes the other
#   0  util/                errors, files, flags, progress, crypto, RNG
#
# A file may include headers of its own folder (subfolders included) and of any lower rank.
# tests/ and bench/ may include anything. A new top-level folder with C files must be given a rank.
set -u
cd "$(dirname "$0")/.."
declare -A RANK=([util]=0 [nn]=1 [data]=1 [model]=2 [train]=3 [infer]=3 [detect]=3 [dataset]=4 [report]=5
                 [cli]=6 [.]=7)
pass=0 fail=0
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

# violations ROOT: one line per include that points up (or sideways) a layer, in the tree at ROOT
violations() {
  local root=$1 f dir top inc t
  (cd "$root" && find . -path ./tests -prune -o -path ./bench -prune -o -path './build*' -prune -o \
     -path ./node_modules -prune -o \( -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh' \) -print | sed 's|^\./||') |
  while IFS= read -r f; do
    dir=$(dirname "$f"); top=${dir%%/*}
    if [[ -z ${RANK[$top]+x} ]]; then echo "$f: folder '$top' has no layer rank in tests/e2e_layers.sh"; continue; fi
    while IFS= read -r inc; do
      [[ $inc == */* ]] || continue          # "x.h" without a folder: a system or same-folder header
      t=${inc%%/*}
      [[ -n ${RANK[$t]+x} && $t != "$top" && $t != . ]] || continue
      if (( RANK[$t] >= RANK[$top] )); then
        echo "$f includes \"$inc\": $t/ (layer ${RANK[$t]}) is not below $top/ (layer ${RANK[$top]})"
      fi
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$root/$f")
  done
}

v=$(violations .)
if [[ -z $v ]]; then pass=$((pass + 1)); echo "every include of the tree points down a layer"
else bad "includes against the layers:"; echo "$v" >&2; fi

# the checker itself, on a scratch tree: an upward and a sideways include are caught, a downward one is not
probe=$(mktemp -d)
mkdir -p "$probe/data" "$probe/nn" "$probe/infer"
printf '#include "train/trainer.h"\n' >"$probe/data/up.c"
printf '#include "data/image.h"\n' >"$probe/nn/side.c"
printf '#include "data/image.h"\n#include "util/util.h"\n' >"$probe/infer/down.c"
v=$(violations "$probe"); rm -rf "$probe"
if [[ $v == *data/up.c* && $v == *nn/side.c* && $v != *infer/down.c* ]]; then pass=$((pass + 1))
else bad "the checker missed a violation or flagged a downward include: $v"; fi

echo "e2e_layers: $pass passed, $fail failed, 0 skipped"
((fail == 0))
