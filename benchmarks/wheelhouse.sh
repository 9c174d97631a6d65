#!/usr/bin/env bash
# Build .wheelhouse/: the packages the GPU machine lacks, as Linux x86_64 wheels, for
# benchmarks/gpu_check.sh to install there without a network. Run here, where pip reaches PyPI:
#
#   bash benchmarks/wheelhouse.sh            # -> .wheelhouse/ (git-ignored), about 33 MB
#
# The GPU machine's image (the device tool's KINDS.md) has CPython 3.12 with torch, numpy, scipy,
# pillow, matplotlib, tqdm, safetensors and filelock, but not soundfile (and its cffi and
# pycparser), soxr, imageio-ffmpeg or websockets. Compiled wheels come for CPython 3.11, 3.12
# and 3.13 (a few hundred KB each), so a newer or older image still finds its own; pip picks the
# one that fits. imageio-ffmpeg is 0.6.0: its ffmpeg 7.1 build is 29.5 MB, where 0.8.1's is
# 64.8 MiB, the whole limit of what travels with the working tree (64 MiB).
set -eu
cd "$(dirname "$0")/.."
DEST=${1:-.wheelhouse}
mkdir -p "$DEST"
PLATFORMS=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
  PLATFORMS+=(--platform "${tag}_x86_64")
done
fetch() { # fetch PYTHON_VERSION NAME==VERSION...
  local version=$1
  shift
  python3 -m pip download -q --no-deps --only-binary=:all: --implementation cp \
    --python-version "$version" "${PLATFORMS[@]}" -d "$DEST" "$@"
}
# Pure Python or one wheel for every CPython 3.
fetch 3.12 soundfile==0.14.0 pycparser==3.12 imageio-ffmpeg==0.6.0
for version in 3.11 3.12 3.13; do
  fetch "$version" cffi==2.1.1 soxr==1.1.0 websockets==17.4
done
ls -l "$DEST"
du -sh "$DEST"
