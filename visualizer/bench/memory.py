"""Peak resident memory of a whole process tree (a render and its ffmpeg children), on Linux.

`run_with_tree_peak` starts a command and samples ``/proc`` every few milliseconds, summing the
resident set of the process and all its descendants. The sum's maximum is the tree peak; the
main process's own high-water mark (VmHWM, exact, read from its last sample) is reported beside
it, because a spike shorter than the sampling period can slip between two samples.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class TreePeak:
    """Peaks in MiB: ``tree`` (sampled sum over the tree), ``main`` (VmHWM of the main process)."""

    tree_mib: float
    main_mib: float
    seconds: float
    returncode: int
    stderr: str

    @property
    def peak_mib(self) -> float:
        """The larger of the two: the tree can never hold less than its main process did."""
        return max(self.tree_mib, self.main_mib)

    def summary(self) -> dict[str, float]:
        """The figures the memory benchmarks print, in MiB (one decimal) and seconds."""
        return {
            "peak_tree_mib": round(self.peak_mib, 1),
            "sampled_tree_mib": round(self.tree_mib, 1),
            "python_vmhwm_mib": round(self.main_mib, 1),
            "seconds": round(self.seconds, 1),
        }


def _status_kib(pid: int, field: str) -> int:
    """One ``VmRSS``/``VmHWM`` value (KiB) of ``pid``; 0 once the process is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(entry.name)] = int(fields[1])
    return table


def tree_pids(root: int) -> list[int]:
    """``root`` and every descendant of it that is alive now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_rss_kib(root: int) -> int:
    """Resident memory (KiB) of ``root`` and its descendants, summed."""
    return sum(_status_kib(pid, "VmRSS") for pid in tree_pids(root))


def run_with_tree_peak(
    command: list[str], env: dict[str, str] | None = None, period: float = 0.02
) -> TreePeak:
    """Run ``command`` to completion, sampling its tree's resident memory every ``period`` s."""
    started = time.perf_counter()
    # stderr goes to a file, not a pipe: a chatty child can never block on a full pipe.
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        tree, main = 0, 0
        while process.poll() is None:
            tree = max(tree, tree_rss_kib(process.pid))
            main = max(main, _status_kib(process.pid, "VmHWM"))
            time.sleep(period)
        errors.seek(0)
        stderr = errors.read()
    return TreePeak(
        tree_mib=tree / 1024,
        main_mib=main / 1024,
        seconds=time.perf_counter() - started,
        returncode=process.returncode,
        stderr=stderr,
    )


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (memory is not distorted by load; speed is)."""
    return [round(x, 2) for x in os.getloadavg()]
