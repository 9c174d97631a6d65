"""Breeding two classes (technique c): ``y = a*y1 + (1-a)*y2`` with ``a`` driven by a signal."""

from __future__ import annotations


def breed_weight(signal: float, low: float, high: float) -> float:
    """``a`` in [0, 1] for a signal in [0, 1]: ``low`` at 0, ``high`` at 1 (linear between)."""
    return low + (high - low) * min(1.0, max(0.0, signal))
