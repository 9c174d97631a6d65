"""Audio input calibration: an input level meter, gain, per-band sensitivity and an A/V offset.

- **gain** (0-8, x1 = as captured) multiplies the samples before the analysis, for a line that
  comes in too quiet or too hot; the **meter** reads the peak and RMS level after the gain, in
  dBFS (0 = full scale), with the peak held and falling 20 dB per second, as meters do;
- **band sensitivity** (low / mid / high, 0-4 each, x1 = as analysed) scales the band energies
  the mapping reads (clipped to [0, 1]), for a room where the bass booms or the highs are dull;
- **A/V offset** (-500 to +500 ms) moves the picture against the sound: positive shows each
  frame later (the picture was early), negative earlier (a track is mapped further ahead; a live
  input has no future to map, so there it only delays).

All at their defaults, nothing changes: the rows and samples pass through untouched, so a show
maps exactly as the offline analysis does.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any

import numpy as np

from visualizer.errors import PresetError

BANDS = ("low", "mid", "high")
LIMITS = {"gain": (0.0, 8.0), "low": (0.0, 4.0), "mid": (0.0, 4.0), "high": (0.0, 4.0),
          "av_offset_ms": (-500.0, 500.0)}  # fmt: skip
FLOOR_DB = -96.0  # what silence reads
PEAK_FALL_DB_S = 20.0


def _db(value: float) -> float:
    return max(FLOOR_DB, 20.0 * math.log10(value)) if value > 0 else FLOOR_DB


class InputCalibration:
    """The calibration settings and the level meter; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = {"gain": 1.0, "low": 1.0, "mid": 1.0, "high": 1.0, "av_offset_ms": 0.0}
        self.peak_db = self.rms_db = FLOOR_DB
        self.clipped = 0  # blocks whose peak reached full scale after the gain
        self._peak_at = 0.0

    def set(self, name: str, value: object) -> None:
        """Set ``name`` (gain, low, mid, high, av_offset_ms) within its range, else PresetError."""
        if name not in LIMITS:
            raise PresetError(f"unknown calibration {name!r} (valid: {', '.join(LIMITS)})")
        low, high = LIMITS[name]
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not low <= number <= high:  # NaN fails the comparison too
            raise PresetError(f"{name} must be a number {low:g} to {high:g}, got {value!r}")
        with self._lock:
            self.values[name] = float(number)

    @property
    def offset_s(self) -> float:
        return self.values["av_offset_ms"] / 1000.0

    def process(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` (mono float32) after the gain; the meter reads them."""
        samples = self.gained(samples)
        if samples.size:
            self._meter(samples)
        return samples

    def gained(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` after the gain (a stem's, which the meter leaves to the mix)."""
        gain = self.values["gain"]
        if gain != 1.0:
            samples = (samples * np.float32(gain)).astype(np.float32)
        return samples

    def _meter(self, samples: np.ndarray) -> None:
        peak = _db(float(np.abs(samples).max()))
        rms = _db(float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))
        now = time.monotonic()
        with self._lock:
            held = self.peak_db - PEAK_FALL_DB_S * (now - self._peak_at)
            if peak >= held:
                self.peak_db, self._peak_at = peak, now
            else:
                self.peak_db, self._peak_at = held, now
            self.rms_db = rms
            self.clipped += peak >= -0.01

    def apply(self, row: Any) -> Any:
        """``row`` (a `FrameFeatures`) with its band energies scaled (untouched at x1)."""
        scales = np.array([self.values[band] for band in BANDS], dtype=np.float32)
        if (scales == 1.0).all():
            return row
        bands = np.clip(np.asarray(row.bands, dtype=np.float32) * scales, 0.0, 1.0)
        return dataclasses.replace(row, bands=bands)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self.values, "peak_db": round(self.peak_db, 1),
                    "rms_db": round(self.rms_db, 1), "clipped": self.clipped}  # fmt: skip
