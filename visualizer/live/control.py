"""Live parameter state: the preset being played, changes from the page, MIDI or OSC, tap
tempo, master faders, scenes and their crossfade, freeze and blackout, saving the current look,
and watching the preset file.

Every change goes through `load_preset(source, overrides)`, so a live change is validated
exactly like ``--set section.key=value`` on the command line and a bad value is refused with the
same message. The engine picks the new preset up at its next frame (``mapper.set_preset``), so a
change shows within a frame or two; class changes can wait for the next beat.

All methods are thread-safe: the page, the OSC server and the render loop call them from
different threads.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

from visualizer.errors import PresetError, VisualizerError
from visualizer.files import write_text_atomic
from visualizer.live.show import (
    MASTERS,
    SAVE_NAME,
    apply_masters,
    check_master,
    next_palette_overrides,
    scene_after,
    scene_names,
    theme_list,
)

log = logging.getLogger("visualizer")

BEAT_SNAP_TIMEOUT_S = 4.0  # a snapped class change applies anyway when no beat comes
TAP_RESET_S = 2.0  # a pause longer than this starts a new tap sequence
SNAPPED_FIELDS = ("names", "palettes", "mode")  # which classes are shown: these wait for a beat
MAX_CROSSFADE_S = 60.0
# what a MIDI note, a key on the page or an OSC message can trigger (see LiveControl.perform)
ACTIONS = ("tap", "next_scene", "previous_scene", "next_palette", "freeze", "blackout")


class TapTempo:
    """Beats from taps: the period is the median interval of the last taps (times in seconds of
    the audio clock); the grid is anchored on the last tap."""

    def __init__(self) -> None:
        self.taps: list[float] = []
        self.period = 0.0

    def tap(self, t: float) -> None:
        if self.taps and not 0 < t - self.taps[-1] <= TAP_RESET_S:
            self.taps = []
        self.taps = [*self.taps[-7:], t]
        if len(self.taps) >= 2:
            intervals = sorted(b - a for a, b in zip(self.taps, self.taps[1:], strict=False))
            self.period = intervals[len(intervals) // 2]

    def clear(self) -> None:
        self.taps, self.period = [], 0.0

    @property
    def bpm(self) -> float:
        return 60.0 / self.period if self.period > 0 else 0.0

    def beat_between(self, t0: float, t1: float) -> bool:
        """Whether a beat of the tapped grid falls in (t0, t1]."""
        if self.period <= 0 or t1 <= t0:
            return False
        anchor = self.taps[-1]
        return math.floor((t1 - anchor) / self.period) > math.floor((t0 - anchor) / self.period)


def _load(source: str, overrides: list[str]):
    from visualizer.mapping.presets import load_preset

    return load_preset(source, overrides)


def _to_toml(preset) -> str:
    from visualizer.mapping.presets import preset_to_toml

    return preset_to_toml(preset)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if any(isinstance(v, list | tuple) for v in value):  # palettes: a,b;c,d
            return ";".join(_format(v) for v in value)
        return ",".join(str(v) for v in value)
    return str(value)


def parameter_specs(preset) -> list[dict[str, Any]]:
    """UI description of every field of every section of a Preset dataclass.

    One dict per field: ``key`` ("section.key"), ``kind`` ("number", "integer", "bool", "text"
    or "list"), ``value`` and, for numbers, ``min``/``max``/``step`` (from the field's metadata
    when the preset module declares a range, else a range around the current value).
    """
    specs: list[dict[str, Any]] = []
    for section in dataclasses.fields(preset):
        block = getattr(preset, section.name)
        if not dataclasses.is_dataclass(block):
            continue
        for f in dataclasses.fields(block):
            specs.append(_spec(f"{section.name}.{f.name}", getattr(block, f.name), f.metadata))
    return specs


def _spec(key: str, value: Any, meta: Any) -> dict[str, Any]:
    meta = dict(meta or {})
    if meta.get("choices"):
        return {"key": key, "kind": "choice", "value": value, "choices": list(meta["choices"])}
    if isinstance(value, bool):
        return {"key": key, "kind": "bool", "value": value}
    if isinstance(value, int | float):
        # the preset module declares ranges as metadata "lo"/"hi"; open ends get a range
        # around the current value so the slider still moves
        low = meta.get("lo")
        high = meta.get("hi")
        if low is None:
            low = 0 if value >= 0 else -2 * abs(value)
        if high is None:
            high = max(1, 4 * abs(value)) if value else 1
        kind = "integer" if isinstance(value, int) else "number"
        # a round step (0.01, 0.001, ...) so slider values stay the numbers a user would type
        step = 1 if kind == "integer" else 10 ** math.floor(math.log10((high - low) / 200))
        return {"key": key, "kind": kind, "value": value, "min": low, "max": high, "step": step}
    if meta.get("kind") == "palettes":
        text = ";".join(",".join(str(v) for v in palette) for palette in value)
        return {"key": key, "kind": "text", "value": text}
    if isinstance(value, list | tuple):
        return {"key": key, "kind": "list", "value": [str(v) for v in value]}
    return {"key": key, "kind": "text", "value": "" if value is None else str(value)}


class LiveControl:
    """The preset being played and every way of changing it while it plays.

    ``source`` is a preset name or TOML path, ``overrides`` "section.key=value" strings applied
    on top (as ``--set`` does). ``save_dir`` is the only folder `save` writes to.
    """

    def __init__(
        self,
        source: str,
        overrides: list[str] | None = None,
        *,
        save_dir: str | os.PathLike = ".",
        snap_classes: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self.source = source
        self.overrides: dict[str, str] = {}
        for text in overrides or []:
            key, _, value = text.partition("=")
            self.overrides[key.strip()] = value
        self.save_dir = Path(save_dir)
        self.snap_classes = snap_classes
        self.masters = dict.fromkeys(MASTERS, 1.0)  # master faders, 1 = the scene as designed
        self.crossfade_s = 0.0  # scene changes blend the generator inputs over this many seconds
        self.frozen = False  # hold the picture (the music is still analysed and mapped)
        self.blackout = False  # show black
        self._fade: float | None = None  # crossfade of the scene change not yet taken
        self.base = _load(source, self._override_list())  # the preset before the masters
        self.preset = self.base
        self.version = 0  # bumps on every applied change (the page and tests watch it)
        self._pending: tuple[Any, float] | None = None  # (preset, deadline) waiting for a beat
        self.tap_tempo = TapTempo()
        self._watch_path = Path(source) if Path(source).suffix == ".toml" else None
        self._mtime = self._stat()
        self.messages: list[str] = []  # last few user-facing notes (errors of live changes)

    def _override_list(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.overrides.items()]

    # -- changes ---------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Set ``section.key`` to ``value``; raises PresetError (named key) when it is refused."""
        self.set_many({key: value})

    def set_many(self, changes: dict[str, Any]) -> None:
        """Set several ``section.key`` values at once: all are applied or none."""
        for key in changes:
            if not isinstance(key, str) or key.count(".") != 1:
                raise PresetError(f"invalid parameter {key!r}: expected section.key")
        with self._lock:
            overrides = {**self.overrides, **{k: _format(v) for k, v in changes.items()}}
            preset = _load(self.source, [f"{k}={v}" for k, v in overrides.items()])
            self.overrides = overrides
            snapped = any(key.rpartition(".")[2] in SNAPPED_FIELDS for key in changes)
            if self.snap_classes and snapped:
                self._pending = (preset, time.monotonic() + BEAT_SNAP_TIMEOUT_S)
            else:
                self._apply(preset)

    def load(self, name: str, *, fade: float | None = None) -> None:
        """Switch to another scene: a built-in preset or one saved in ``save_dir``. The
        generator inputs crossfade over ``fade`` seconds (default: ``crossfade_s``)."""
        from visualizer.mapping.presets import list_presets

        if not isinstance(name, str):
            raise PresetError(f"invalid preset name {name!r}")
        saved = self.save_dir / f"{name}.toml"
        builtin = [preset_name for preset_name, _ in list_presets()]
        if name in builtin:
            source = name
        elif SAVE_NAME.match(name) and saved.is_file():
            source = str(saved)
        else:
            raise PresetError(
                f"unknown preset {name!r} (built-in: {', '.join(map(str, builtin))}, "
                f"or a name saved in {self.save_dir})"
            )
        seconds = self.crossfade_s if fade is None else _check_crossfade(fade)
        with self._lock:
            preset = _load(source, [])
            self.source, self.overrides = source, {}
            self._watch_path = Path(source) if source.endswith(".toml") else None
            self._mtime = self._stat()
            self._apply(preset)
            self._fade = seconds

    def set_master(self, name: str, value: Any) -> None:
        """Set a master fader (see `visualizer.live.show.MASTERS`) to ``value`` in 0-2."""
        number = check_master(name, value)
        with self._lock:
            masters = {**self.masters, name: number}
            self.preset = apply_masters(self.base, masters)
            self.masters = masters
            self.version += 1

    def set_crossfade(self, seconds: Any) -> None:
        self.crossfade_s = _check_crossfade(seconds)
        self.changed()

    def changed(self) -> None:
        """Something the page shows changed besides the preset (a MIDI binding, the crossfade
        time): bump the version so the server pushes the state to the pages."""
        with self._lock:
            self.version += 1

    def take_fade(self) -> float:
        """Seconds to crossfade the change just taken (0: cut); read once by the render loop."""
        with self._lock:
            fade, self._fade = self._fade, None
            return fade or 0.0

    def perform(self, action: str, now: float) -> None:
        """One of ACTIONS; ``now`` is the audio clock in seconds (for tap)."""
        if action == "tap":
            self.tap(now)
        elif action in ("next_scene", "previous_scene"):
            step = 1 if action == "next_scene" else -1
            self.load(scene_after(scene_names(self.save_dir), self.source, step))
        elif action == "next_palette":
            with self._lock:
                self.set_many(next_palette_overrides(self.base))
        elif action == "freeze":
            self.frozen = not self.frozen
        elif action == "blackout":
            self.blackout = not self.blackout
        else:
            raise PresetError(f"unknown action {action!r} (valid: {', '.join(ACTIONS)})")
        self.changed()

    def tap(self, t: float) -> None:
        with self._lock:
            self.tap_tempo.tap(t)

    def save(self, name: str, *, overwrite: bool = False) -> Path:
        """Write the current preset as ``save_dir/name.toml`` (name: letters, digits, - and _)."""
        if not isinstance(name, str) or not SAVE_NAME.match(name):
            raise PresetError(f"invalid preset name {name!r}: use 1-64 letters, digits, '-' or '_'")
        path = self.save_dir / f"{name}.toml"
        if path.exists() and not overwrite:
            raise VisualizerError(f"{path} exists (choose another name)")
        with self._lock:
            text = _to_toml(self.preset)
        return write_text_atomic(path, text)

    def note(self, message: str) -> None:
        log.warning(message)
        with self._lock:
            self.messages = [*self.messages[-4:], message]

    def reject(self, bad, good, error: Exception) -> None:
        """The render loop could not use ``bad``: restore ``good`` and report ``error`` once."""
        with self._lock:
            if self.preset is bad:
                self._apply(good)
        self.note(f"change not applied, kept the previous preset: {error}")

    def _apply(self, preset) -> None:
        self.base = preset
        self.preset = apply_masters(preset, self.masters)
        self._pending = None
        self._fade = None
        self.version += 1

    # -- polled by the render loop --------------------------------------------------------
    def take_change(self, is_beat: bool):
        """The preset to switch to at this frame, or None. Snapped changes wait for a beat."""
        with self._lock:
            if self._pending is not None:
                preset, deadline = self._pending
                if is_beat or time.monotonic() >= deadline:
                    self._apply(preset)
            return self.preset

    def poll_file(self) -> bool:
        """Reload the preset file when its mtime changed; True when it was reloaded. A file
        that does not load (half-saved, invalid) is reported and the current preset kept."""
        mtime = self._stat()
        if mtime is None or mtime == self._mtime:
            return False
        with self._lock:
            self._mtime = mtime
            try:
                preset = _load(self.source, [])
            except VisualizerError as error:
                self.note(f"preset file not reloaded: {error}")
                return False
            # the edited file is the source of truth: live overrides are dropped
            self.overrides = {}
            self._apply(preset)
        log.info("reloaded preset %s", self.source)
        return True

    def _stat(self) -> float | None:
        try:
            return self._watch_path.stat().st_mtime_ns if self._watch_path else None
        except OSError:
            return None

    def snapshot(self) -> dict[str, Any]:
        """State for the page and /state: parameters, source, version, tap bpm, notes."""
        with self._lock:
            return {
                "source": self.source,
                "version": self.version,
                "params": parameter_specs(self.base),  # as set: the masters scale on top
                "overrides": dict(self.overrides),
                "pending": self._pending is not None,
                "tap_bpm": self.tap_tempo.bpm,
                "messages": list(self.messages),
                "masters": dict(self.masters),
                "crossfade_s": self.crossfade_s,
                "frozen": self.frozen,
                "blackout": self.blackout,
                "scenes": scene_names(self.save_dir),
                "themes": theme_list(),
                "actions": list(ACTIONS),
            }


def _check_crossfade(seconds: Any) -> float:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 <= value <= MAX_CROSSFADE_S:
        raise PresetError(f"crossfade must be 0-{MAX_CROSSFADE_S:g} seconds, got {seconds!r}")
    return value
