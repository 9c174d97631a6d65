"""Peak resident memory of a whole process tree (a render and its ffmpeg children), on Linux.

`run_with_tree_peak` starts a command and samples ``/proc`` every few milliseconds, summing the
resident set of the process and all its descendants. The sum's maximum is the tree peak; the
main process's own high-water mark (VmHWM, exact, read from its last sample) is reported beside
it, because a spike shorter than the sampling period can slip between two samples. The tree's
composition at its peak (each process's name and resident MiB) says where the memory was.
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
    at_peak: tuple[tuple[str, float], ...] = ()  # (name, MiB) of each process at the tree peak

    @property
    def peak_mib(self) -> float:
        """The larger of the two: the tree can never hold less than its main process did."""
        return max(self.tree_mib, self.main_mib)

    def summary(self) -> dict[str, float | list[str]]:
        """The figures the memory benchmarks print, in MiB (one decimal) and seconds."""
        return {
            "peak_tree_mib": round(self.peak_mib, 1),
            "sampled_tree_mib": round(self.tree_mib, 1),
            "python_vmhwm_mib": round(self.main_mib, 1),
            "seconds": round(self.seconds, 1),
            "tree_at_peak_mib": [f"{name} {mib:.1f}" for name, mib in self.at_peak],
        }


def _status(pid: int) -> dict[str, str]:
    """The fields of ``/proc/PID/status`` (empty once the process is gone)."""
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _kib(status: dict[str, str], field: str) -> int:
    """One ``VmRSS``/``VmHWM``/``VmSize`` value (KiB) of a status table; 0 when absent."""
    try:
        return int(status[field].split()[0])
    except (KeyError, ValueError, IndexError):
        return 0


def _status_kib(pid: int, field: str) -> int:
    """One ``VmRSS``/``VmHWM`` value (KiB) of ``pid``; 0 once the process is gone."""
    return _kib(_status(pid), field)


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


def _tree(root: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of ``root`` and every descendant of it that is alive now, parents first."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [(root, 0)]
    while todo:
        pid, parent = todo.pop()
        found.append((pid, parent))
        todo.extend((child, pid) for child in children.get(pid, ()))
    return found


def tree_pids(root: int) -> list[int]:
    """``root`` and every descendant of it that is alive now."""
    return [pid for pid, _ in _tree(root)]


def _shares_parent_memory(status: dict[str, str], parent: dict[str, str]) -> bool:
    """True for a child between fork and exec: the same program and the same address space.

    Python starts subprocesses with vfork, so until the child execs ffmpeg it runs in its
    parent's memory, and /proc shows it with the parent's full resident set; summing both would
    count the same pages twice (a render forks ~2 children per segment).
    """
    # Counters of the one shared address space: two separate processes never match on all four.
    keys = ("Name", "VmPeak", "VmSize", "VmHWM")
    return bool(parent) and all(status.get(k) == parent.get(k) for k in keys)


def tree_rss(root: int) -> list[tuple[str, int]]:
    """(name, resident KiB) of ``root`` and each live descendant, largest first.

    A child that has not yet exec'd (it still shares its parent's pages) is left out.
    """
    statuses: dict[int, dict[str, str]] = {}
    rows = []
    for pid, parent in _tree(root):
        statuses[pid] = status = _status(pid)
        if status and not _shares_parent_memory(status, statuses.get(parent, {})):
            rows.append((status["Name"].strip(), _kib(status, "VmRSS")))
    return sorted(rows, key=lambda row: -row[1])


def tree_rss_kib(root: int) -> int:
    """Resident memory (KiB) of ``root`` and its descendants, summed."""
    return sum(kib for _, kib in tree_rss(root))


def run_with_tree_peak(
    command: list[str], env: dict[str, str] | None = None, period: float = 0.02
) -> TreePeak:
    """Run ``command`` to completion, sampling its tree's resident memory every ``period`` s."""
    started = time.perf_counter()
    # stderr goes to a file, not a pipe: a chatty child can never block on a full pipe.
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        tree, main, at_peak = 0, 0, []
        while process.poll() is None:
            rows = tree_rss(process.pid)
            total = sum(kib for _, kib in rows)
            if total > tree:
                tree, at_peak = total, rows
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
        at_peak=tuple((name, kib / 1024) for name, kib in at_peak),
    )


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (memory is not distorted by load; speed is)."""
    return [round(x, 2) for x in os.getloadavg()]
