#!/usr/bin/env bash
# The GPU check: the CUDA path proved and the headline speeds measured (issue 28), in one command
# of about 6 minutes on a GPU machine that has torch but not soundfile, soxr, imageio-ffmpeg or
# websockets, and no network. From the repository root:
#
#   bash benchmarks/gpu_check.sh                    # on the GPU machine (BENCHMARKS.md: the run)
#   GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh    # every step at tiny sizes on the CPU
#
# The missing packages come from the wheelhouse .wheelhouse/ (benchmarks/wheelhouse.sh builds it;
# GPU_CHECK_WHEELS names another), installed offline into the work folder. A 5-second preflight
# then imports everything and runs ffmpeg, and stops the check with one line if anything is
# missing. Each step prints one status line; a compact summary comes last.
#
# $OUT (default /tmp/gpu_check) receives at most three files: gpu_check.json (rewritten after
# every step: each step's exit status, seconds and one JSON object per check), gpu_check.log
# (everything the steps printed) and nvidia-smi.csv (samples every 0.5 s). Caches, tracks, videos
# and step outputs stay in $GPU_CHECK_WORK (default /tmp/gpu_check_work). Every step has its own
# time limit, capped by what is left of GPU_CHECK_BUDGET seconds; the compile step comes last.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
DRY=${GPU_CHECK_DRY:-0}
OUT=${OUT:-/tmp/gpu_check}
WORK=${GPU_CHECK_WORK:-/tmp/gpu_check_work}
WHEELS=${GPU_CHECK_WHEELS:-$ROOT/.wheelhouse}
BUDGET=${GPU_CHECK_BUDGET:-$([ "$DRY" = 1 ] && echo 900 || echo 380)}
# The step limits are for the GPU machine; a dry run on a busy 2-core CPU gets four times as long.
SCALE=${GPU_CHECK_LIMIT_SCALE:-$([ "$DRY" = 1 ] && echo 4 || echo 1)}
PY=python3
PARTS=$WORK/parts
LOG=$OUT/gpu_check.log
START=$(date +%s)
rm -rf "$PARTS" && mkdir -p "$OUT" "$PARTS" "$WORK/site"
: >"$LOG"
export PYTHONUNBUFFERED=1 VISUALIZER_CACHE=$WORK/cache TORCHINDUCTOR_CACHE_DIR=$WORK/inductor
export PYTHONPATH=$ROOT:$WORK/site${PYTHONPATH:+:$PYTHONPATH}
DRYFLAG=()
[ "$DRY" = 1 ] && DRYFLAG=(--dry)
CHECK=("$PY" "$ROOT/benchmarks/gpu_check.py" --work "$WORK" "${DRYFLAG[@]}")

# step NAME LIMIT COMMAND...: run with a time limit capped by what is left of the budget; its
# stdout (one JSON line per check) goes to $PARTS/NAME.jsonl, then gpu_check.json is rewritten.
step() {
  local name=$1 limit=$(($2 * SCALE))
  shift 2
  local left=$((BUDGET - ($(date +%s) - START)))
  ((limit > left)) && limit=$left
  echo "$name" >>"$PARTS/order"
  if ((limit < 5)); then
    echo '{"check": "skipped", "reason": "no time left in the budget"}' >"$PARTS/$name.jsonl"
    echo "0 0" >"$PARTS/$name.rc"
  else
    echo "=== $name (limit ${limit} s) $(date -u +%T)" >>"$LOG"
    local t0 rc ms
    t0=$(date +%s%N)
    timeout -k 5 "$limit" "$@" >"$PARTS/$name.jsonl" 2>>"$LOG"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "$rc $((ms / 1000)).$((ms % 1000 / 100))" >"$PARTS/$name.rc"
    cat "$PARTS/$name.jsonl" >>"$LOG"
  fi
  "$PY" "$ROOT/benchmarks/gpu_check_report.py" step "$name" "$PARTS" "$OUT" "$START"
}

# Install what this machine lacks, from the wheelhouse, without the network (the right wheel of
# each name for this Python; already installed names are left as they are).
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  MISSING=$("$PY" -c '
import importlib.util as u
names = {"soundfile": ["soundfile", "cffi", "pycparser"], "soxr": ["soxr"],
         "imageio_ffmpeg": ["imageio-ffmpeg"], "websockets": ["websockets"]}
print(" ".join(w for m, ws in names.items() if u.find_spec(m) is None for w in ws))')
  if [ -n "$MISSING" ]; then
    # shellcheck disable=SC2086
    step install 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --find-links "$WHEELS" --target "$WORK/site" $MISSING
  fi
fi
step preflight 20 "${CHECK[@]}" preflight
if ! grep -q '"ok": true' "$PARTS/preflight.jsonl"; then
  REASON=$(head -n 1 "$PARTS/preflight.jsonl")
  [ -n "$REASON" ] || REASON=$(tail -n 1 "$LOG")
  echo "gpu_check stopped: preflight failed: ${REASON:0:400}"
  exit 1
fi
if command -v nvidia-smi >/dev/null && [ "$DRY" != 1 ]; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used,power.draw,clocks.sm \
    --format=csv,noheader,nounits -lms 500 >"$OUT/nvidia-smi.csv" 2>>"$LOG" &
  SMI=$!
fi
step encode 50 "${CHECK[@]}" encode
step sweep 50 "${CHECK[@]}" sweep
step cudnn 25 "${CHECK[@]}" cudnn
step render 70 "${CHECK[@]}" render
LIVE=(--seconds 6 --generator-seconds 1 --device cuda)
BIG=(--model biggan-deep-512) SMALL=(--model biggan-deep-256)
if [ "$DRY" = 1 ]; then
  LIVE=(--seconds 1 --generator-seconds 0.25 --device cpu --weights "$WORK/tiny")
  BIG=(--model biggan-deep-128) SMALL=(--model biggan-deep-128)
fi
step live_512 25 "$PY" benchmarks/live_bench.py "${BIG[@]}" "${LIVE[@]}"
step live_256 20 "$PY" benchmarks/live_bench.py "${SMALL[@]}" "${LIVE[@]}"
step resume 50 "${CHECK[@]}" resume
step oom 30 "${CHECK[@]}" oom
TESTS=(tests/test_biggan.py tests/test_encoders.py)
[ "$DRY" = 1 ] && TESTS=(tests/test_encoders.py -k layout)
step cuda_tests 40 bash -c '"$0" -m pytest -q -p no:cacheprovider -m "cuda or not cuda" "$@" >&2
  echo "{\"check\": \"pytest\", \"rc\": $?}"' "$PY" "${TESTS[@]}"
# Upscalers (--upscale): ms per frame of each published one, 512 -> 2048 (x4) and 1024 (x2), in
# fp16 as a CUDA render runs them, 8 frames a call (seeded random weights of the published size).
UPSCALE=(--device cuda --precision fp16 --batch 8 --repeats 3)
[ "$DRY" = 1 ] && UPSCALE=(--device cpu --side 16 --warmup 0)
step upscale 30 "$PY" benchmarks/upscale_bench.py "${UPSCALE[@]}"
step compile 120 "${CHECK[@]}" compile
[ -n "${SMI:-}" ] && kill "$SMI" 2>/dev/null
"$PY" "$ROOT/benchmarks/gpu_check_report.py" summary "$PARTS" "$OUT" "$START"
