#!/usr/bin/env bash
# deps.sh — installs the Debian packages swaplab needs, only those that are missing.
# Usage: scripts/deps.sh GROUP...   (groups: build test bench demo)
# As root it runs apt-get; otherwise it uses sudo when that works without a password; otherwise it
# prints the exact apt-get command and exits 1.
set -u

declare -A GROUP
# video: FFmpeg's libraries; C2PA: libcbor + OpenSSL; JPEG decoded as OpenCV and dlib do (libjpeg-turbo);
# processes and nodes: Open MPI (optional at build time, installed so that mpirun works)
GROUP[build]="pkg-config libpng-dev zlib1g-dev libjansson-dev libsodium-dev libstb-dev libopenblas-openmp-dev libdnnl-dev fonts-dejavu-core opencv-data libdlib-data libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libcbor-dev libssl-dev libjpeg62-turbo-dev libopenmpi-dev openmpi-bin"
# test: PyTorch-convention checks of our files (numpy), exiftool reading our XMP, the report in a browser,
# clang's libFuzzer for the fuzz harnesses
GROUP[test]="python3 python3-numpy python3-pil libimage-exiftool-perl chromium nodejs npm clang libclang-rt-14-dev"
# bench: the PyTorch reference runs side by side with swaplab
GROUP[bench]="python3-torch python3-numpy"
GROUP[demo]=""

want=()
for g in "${@:-build}"; do
  [[ -v "GROUP[$g]" ]] || { echo "deps.sh: unknown group '$g' (build, test, bench, demo)" >&2; exit 2; }
  for p in ${GROUP[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# nodejs/npm may come from elsewhere than Debian; a working node and npm on PATH are enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
((${#missing[@]} == 0)) && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) == 0 ]]; then SUDO=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"
else
  echo "swaplab needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root with:  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || { echo "deps.sh: apt-get update failed" >&2; exit 1; }
if ! $SUDO $cmd -q; then
  echo "deps.sh: could not install ${missing[*]}; run: apt-get update && $cmd" >&2
  exit 1
fi
