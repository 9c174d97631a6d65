"""benchmarks/gpu_check.sh cannot rot: its CPU dry run (GPU_CHECK_DRY=1) runs every step at tiny
sizes through the same code as on the GPU machine, and must leave a complete gpu_check.json, at
most 8 files in $OUT (no more come back from the GPU machine) and a status line per step with
the summary last. About 90 s on the quiet 2-core CPU (ten fresh Python processes, each importing
torch); several minutes when other jobs load the cores."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEPS = [
    "preflight", "encode", "sweep", "cudnn", "render", "live_512", "live_256",
    "resume", "oom", "cuda_tests", "upscale", "compile",
]  # fmt: skip


@pytest.mark.slow
def test_the_dry_run_runs_every_step_and_reports_each_one(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "OUT": str(out), "GPU_CHECK_WORK": str(work), "GPU_CHECK_DRY": "1"}
    env["GPU_CHECK_WHEELS"] = str(tmp_path / "no-wheelhouse")  # everything is installed here
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split()[1] for line in lines[: len(STEPS)]] == STEPS
    assert all(line.startswith("[ok]") for line in lines[: len(STEPS)]), done.stdout
    assert lines[len(STEPS)].startswith("gpu_check: ")  # the summary, last
    assert len(list(out.rglob("*"))) <= 8 and (out / "gpu_check.log").is_file()
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["finished"] and list(report["steps"]) == STEPS
    checks = {c["check"] for s in report["steps"].values() for c in s["checks"]}
    assert checks >= {
        "preflight", "environment", "encode", "sweep", "cudnn", "generator_only", "render",
        "live", "resume", "oom", "pytest", "upscale", "compile",
    }  # fmt: skip
    assert "skipped" not in checks
    resume = next(c for c in report["steps"]["resume"]["checks"] if c["check"] == "resume")
    oom = next(c for c in report["steps"]["oom"]["checks"] if c["check"] == "oom")
    assert resume["ok"] and oom["ok"] and oom["recorded_halvings"] == ["000000000:1"]


def test_a_missing_module_stops_the_check_after_the_preflight_with_one_line(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    hide = tmp_path / "hide"
    (hide / "soxr").mkdir(parents=True)
    (hide / "soxr" / "__init__.py").write_text("raise ImportError('soxr is not installed')\n")
    env = {**os.environ, "OUT": str(out), "GPU_CHECK_WORK": str(work), "GPU_CHECK_DRY": "1"}
    env["PYTHONPATH"] = str(hide)
    env["GPU_CHECK_WHEELS"] = str(tmp_path / "no-wheelhouse")
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("gpu_check stopped: preflight failed") and "soxr" in last
    report = json.loads((out / "gpu_check.json").read_text())
    assert list(report["steps"]) == ["preflight"]
