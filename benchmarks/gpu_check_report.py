"""gpu_check.sh's bookkeeping, standard library only (it runs before anything is installed).

    python3 benchmarks/gpu_check_report.py step NAME PARTS OUT START
    python3 benchmarks/gpu_check_report.py summary PARTS OUT START

``step``: rewrites OUT/gpu_check.json from every step finished so far (PARTS/NAME.jsonl: one JSON
line per check; PARTS/NAME.rc: exit status and seconds) and prints NAME's one status line.
``summary``: the same JSON with the nvidia-smi samples summarised, and a compact summary of the
headline figures, printed last.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path


def read_step(parts: Path, name: str) -> dict:
    """A step's checks and status: {"rc", "seconds", "timed_out", "checks": [...]}."""
    checks, broken = [], 0
    path = parts / f"{name}.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            checks.append(json.loads(line))
        except ValueError:
            broken += 1  # a line cut by the time limit, or stray output
    rc_path = parts / f"{name}.rc"
    rc, seconds = (rc_path.read_text().split() + ["-1", "0"])[:2] if rc_path.is_file() else (-1, 0)
    rc, seconds = int(rc), float(seconds)
    step = {"rc": rc, "seconds": seconds, "timed_out": rc in (124, 137), "checks": checks}
    if broken:
        step["unreadable_lines"] = broken
    return step


def smi_summary(out: Path) -> dict | None:
    """Mean and max of the nvidia-smi samples (utilisation %, memory MiB, power W, SM MHz)."""
    path = out / "nvidia-smi.csv"
    if not path.is_file():
        return None
    columns: dict[str, list[float]] = {}
    with path.open() as handle:
        for row in csv.reader(handle):
            for key, value in zip(("time", "gpu_util", "mem_util", "mem_mib", "watts", "sm_mhz"),
                                  row, strict=False):  # fmt: skip
                number = value.strip().split(" ")[0]
                try:
                    columns.setdefault(key, []).append(float(number))
                except ValueError:
                    continue
    return {
        key: {"mean": round(sum(v) / len(v), 1), "max": max(v), "samples": len(v)}
        for key, v in columns.items()
        if v
    }


def write_report(parts: Path, out: Path, start: float, *, final: bool = False) -> dict:
    order = (parts / "order").read_text().split() if (parts / "order").is_file() else []
    report = {
        "seconds": round(time.time() - start, 1),
        "finished": final,
        "steps": {name: read_step(parts, name) for name in order},
    }
    if final:
        report["nvidia_smi"] = smi_summary(out)
    draft = out / ".gpu_check.json.partial"
    draft.write_text(json.dumps(report, indent=1))
    os.replace(draft, out / "gpu_check.json")
    return report


def status_line(name: str, step: dict) -> str:
    state = "ok" if step["rc"] == 0 else "TIMED OUT" if step["timed_out"] else f"rc {step['rc']}"
    last = step["checks"][-1] if step["checks"] else {}
    brief = ", ".join(f"{k}={v}" for k, v in last.items() if not isinstance(v, (dict, list)))
    return f"[{state}] {name} {step['seconds']:.0f} s, {len(step['checks'])} checks; {brief}"[:300]


def _rows(report: dict, step: str, check: str) -> list[dict]:
    found = report["steps"].get(step, {}).get("checks", [])
    return [c for c in found if c.get("check") == check]


def summary_lines(report: dict) -> list[str]:
    lines = [f"gpu_check: {report['seconds']:.0f} s"]
    for row in _rows(report, "preflight", "environment"):
        lines.append(f"  machine: {row.get('gpu', 'no GPU')}, torch {row.get('torch')}, "
                     f"{row.get('cores')} cores, driver {row.get('driver', '-')}")  # fmt: skip
    encode = _rows(report, "encode", "encode")
    if encode:
        text = ", ".join(f"{r['preset']} x{r['encoders']}: {r['fps']}" for r in encode)
        lines.append(f"  encode fps ({encode[0]['size']} px): {text}")
    sweep = _rows(report, "sweep", "sweep")
    if sweep:
        text = ", ".join(
            f"{r['precision']} {r['fps']} fps ({100 * r['share_within_2_levels']:.2f} % <= 2)"
            for r in sweep
        )
        lines.append(f"  generator batch {sweep[0]['batch']}: {text}")
    for step, check, keys in (
        ("cudnn", "cudnn_cost", ("benchmark_over_deterministic",)),
        ("render", "generator_only", ("frames", "fps")),
        ("render", "render", ("wall_seconds", "fps", "over_generator_only")),
        ("live_512", "live", ("received_fps", "latency_ms_p95", "generator_only_fps")),
        ("live_256", "live", ("received_fps", "latency_ms_p95", "generator_only_fps")),
        ("resume", "resume", ("ok", "max_diff")),
        ("oom", "oom", ("ok", "recorded_halvings")),
        ("cuda_tests", "pytest", ("rc",)),
        ("compile", "compile", ("compile_seconds", "fps", "share_within_2_levels")),
    ):
        for row in _rows(report, step, check):
            lines.append(f"  {step}: " + ", ".join(f"{k}={row.get(k)}" for k in keys))
    failed = [n for n, s in report["steps"].items() if s["rc"] != 0]
    lines.append(f"  steps not ok: {', '.join(failed) or 'none'}")
    return lines


def main(argv: list[str]) -> int:
    what, rest = argv[0], argv[1:]
    if what == "step":
        name, parts, out, start = rest[0], Path(rest[1]), Path(rest[2]), float(rest[3])
        report = write_report(parts, out, start)
        print(status_line(name, report["steps"][name]), flush=True)
    else:
        parts, out, start = Path(rest[0]), Path(rest[1]), float(rest[2])
        print("\n".join(summary_lines(write_report(parts, out, start, final=True))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
