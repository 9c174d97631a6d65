#!/usr/bin/env bash
# The GPU check: every CUDA-only path and the headline speeds, in <= 8 minutes on one GPU.
#
#   OUT=/some/folder bash benchmarks/gpu_check.sh
#
# Writes $OUT/gpu_check.json (one key per step, each step's JSON or its failure) and
# $OUT/gpu_check.log (everything the steps print). Installs the project from this checkout
# only (no downloads: the machine may have no network). A step that overruns its share of the
# budget is stopped and recorded as such, so the JSON always comes back.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu_check}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
PARTS="$OUT/parts"
mkdir -p "$PARTS"
: >"$LOG"
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-470}  # seconds for everything, under the 8-minute limit
export VISUALIZER_CACHE="$OUT/cache" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# step NAME SECONDS COMMAND...: run with a timeout capped by what is left of the budget; the
# last line of stdout that is JSON becomes the step's result.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - START)))
  ((limit > left)) && limit=$left
  if ((limit < 10)); then
    echo "{\"skipped\": \"no time left\"}" >"$PARTS/$name.json"
    return
  fi
  echo "=== $name (limit ${limit}s) $(date -u +%T)" >>"$LOG"
  local t0=$(date +%s)
  timeout -k 5 "$limit" "$@" >"$PARTS/$name.out" 2>>"$LOG"
  local rc=$?
  cat "$PARTS/$name.out" >>"$LOG"
  local json
  json=$(grep -E '^\s*[{\[]' "$PARTS/$name.out" | tail -n 1)
  if [ -n "$json" ] && python -c 'import json,sys; json.loads(sys.argv[1])' "$json" 2>/dev/null; then
    echo "{\"rc\": $rc, \"seconds\": $(($(date +%s) - t0)), \"result\": $json}" >"$PARTS/$name.json"
  else
    echo "{\"rc\": $rc, \"seconds\": $(($(date +%s) - t0)), \"timed_out\": $([ $rc -ge 124 ] && echo true || echo false)}" >"$PARTS/$name.json"
  fi
}

[ "${GPU_CHECK_INSTALL:-1}" = 1 ] && step install 60 python -m pip install --no-deps --no-build-isolation -q -e .
step environment 30 python -c '
import json, shutil, subprocess, torch
smi = shutil.which("nvidia-smi")
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda,
  "available": torch.cuda.is_available(), "gpus": torch.cuda.device_count(),
  "name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
  "driver": smi and subprocess.run([smi, "--query-gpu=driver_version,memory.total",
    "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()}))'

# 1. The tests marked cuda (they skip on a machine without CUDA).
step cuda_tests 60 python -m pytest -q -p no:cacheprovider -m cuda tests/ \
  --junitxml="$OUT/cuda_tests.xml"
# 2. The checks of the CUDA-path fixes (encoder probe, copy event, batch cap, OOM halving,
#    CUDA graphs on the render thread, NVENC lossless).
step items 70 python benchmarks/gpu_check.py items
# 3. The bench at fp32 with CUDA graphs (crashed before the clone), and "% of peak" <= 100.
step bench_graphs_fp32 45 python -m visualizer bench --model biggan-deep-128 --device cuda \
  --compile reduce-overhead --precisions fp32 --batch-size 8 --frames 16 -q \
  --json "$PARTS/bench_graphs_fp32.result.json"
# 4. Precision sweep at 512 px.
step sweep_512 60 python -m visualizer bench --model biggan-deep-512 --device cuda \
  --batch-size 8 --frames 32 -q --json "$PARTS/sweep_512.result.json"
# 5. 7,200 frames at 512 px end to end (240 s at 30 fps), per-stage timings; then --compile auto.
step render_512 100 python benchmarks/gpu_check.py render --model biggan-deep-512 --seconds 240
step render_512_compile 110 python benchmarks/gpu_check.py render --model biggan-deep-512 \
  --seconds 240 --compile auto
# 6. Live mode at 512 and 256 px.
step live_512 25 python benchmarks/live_bench.py --model biggan-deep-512 --device cuda --seconds 10
step live_256 25 python benchmarks/live_bench.py --model biggan-deep-256 --device cuda --seconds 10
# 7. Resume after a kill: frame-identical to the uninterrupted render (item 8).
step resume 60 python benchmarks/gpu_check.py resume --model biggan-deep-256 --seconds 20
# 8. Upscalers (--upscale): ms per frame of each published one, 512 -> 2048 (x4) / 1024 (x2),
#    fp16 as a CUDA render runs them, 8 frames a call as the generator hands them over.
step upscale 45 python benchmarks/upscale_bench.py --device cuda --precision fp16 --batch 8 \
  --repeats 3

python - "$PARTS" "$OUT/gpu_check.json" "$(($(date +%s) - START))" <<'PY'
import json, pathlib, sys
parts, target, seconds = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
report = {"total_seconds": seconds}
for path in sorted(parts.glob("*.json")):
    if path.name.endswith(".result.json"):
        continue
    report[path.stem] = json.loads(path.read_text())
    extra = parts / f"{path.stem}.result.json"
    if extra.is_file():
        report[path.stem]["result"] = json.loads(extra.read_text())
pathlib.Path(target).write_text(json.dumps(report, indent=1))
print(json.dumps({k: v.get("rc") if isinstance(v, dict) else v for k, v in report.items()}))
PY
