"""Handing freed heap memory back to the operating system, and how much it has available.

glibc keeps freed blocks below its (adaptive, up to 32 MiB) mmap threshold in the heap: after
loading a model the process holds ~200 MiB (128 px) of freed temporaries (the published weights,
folding and calibration buffers) that count towards its resident size until ``malloc_trim``
returns them. Elsewhere (macOS, musl, Windows) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # no such library or no malloc_trim in it (not glibc)
        return None


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS (glibc ``malloc_trim(0)``); True when it did."""
    trim = _libc_trim()
    if trim is None:
        return False
    return bool(trim(0))


def available_memory() -> int | None:
    """Bytes of memory this process can still be given: the system's available memory (Linux
    MemAvailable), or the process's address-space limit (RLIMIT_AS) when that is lower; None
    when neither is known."""
    import resource

    known = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            known += [int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAv")]
    except (OSError, ValueError, IndexError):
        pass
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        known.append(limit)
    return min(known) if known else None
