"""Live parameter state: the preset being played, changes from the page, MIDI or OSC, the beat
controls, master faders, scenes and their crossfade, quantised launches, scene auto-cycle,
freeze and blackout, saving the current look, and watching the preset file.

Every change goes through `load_preset(source, overrides)`, so a live change is validated
exactly like ``--set section.key=value`` on the command line and a bad value is refused with the
same message. The engine picks the new preset up at its next frame (``mapper.set_preset``).
Scene, palette, preset and class changes are launches (`visualizer.live.launch`): they land on
the quantisation chosen for them (the surface's, or one given with the trigger), read on the one
beat state, `beat` (`visualizer.live.beat.BeatClock`).

All methods are thread-safe: the page, the OSC server and the render loop call them from
different threads.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from pathlib import Path
from typing import Any

from visualizer.errors import PresetError, VisualizerError
from visualizer.files import write_text_atomic
from visualizer.live.beat import BeatClock, FrameBeat
from visualizer.live.launch import Launch, check_quantize, later
from visualizer.live.params import format_value, parameter_specs
from visualizer.live.show import (
    MASTERS,
    SAVE_NAME,
    apply_masters,
    check_crossfade,
    check_master,
    next_palette_overrides,
    scene_after,
    scene_name,
    scene_names,
    scene_source,
    theme_list,
)

log = logging.getLogger("visualizer")

SNAPPED_FIELDS = ("names", "palettes", "mode")  # which classes are shown: these are launches
MAX_CYCLE_BARS = 64
CYCLE_MODES = ("next", "random")
# what a MIDI note, a key on the page or an OSC message can trigger (see LiveControl.perform)
ACTIONS = (
    "tap", "next_scene", "previous_scene", "next_palette", "freeze", "blackout",
    "cue", "nudge_forward", "nudge_back", "double", "half",
)  # fmt: skip
BEAT_ACTIONS = {  # action -> what it does to the beat clock
    "cue": lambda beat: beat.cue(),
    "nudge_forward": lambda beat: beat.nudge(1),
    "nudge_back": lambda beat: beat.nudge(-1),
    "double": lambda beat: beat.scale(2.0),
    "half": lambda beat: beat.scale(0.5),
}


def _load(source: str, overrides: list[str]):
    from visualizer.mapping.presets import load_preset

    return load_preset(source, overrides)


def _to_toml(preset) -> str:
    from visualizer.mapping.presets import preset_to_toml

    return preset_to_toml(preset)


class LiveControl:
    """The preset being played and every way of changing it while it plays.

    ``source`` is a preset name or TOML path, ``overrides`` "section.key=value" strings applied
    on top (as ``--set`` does). ``save_dir`` is the only folder `save` writes to. ``quantize`` is
    the surface's quantisation of launches; with ``snap_classes`` class changes wait at least
    for the next beat. ``beat`` is the show's beat state (a new one following the audio by
    default).
    """

    def __init__(
        self,
        source: str,
        overrides: list[str] | None = None,
        *,
        save_dir: str | os.PathLike = ".",
        snap_classes: bool = True,
        quantize: str = "now",
        beat: BeatClock | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self.source = source
        self.overrides: dict[str, str] = {}
        for text in overrides or []:
            key, _, value = text.partition("=")
            self.overrides[key.strip()] = value
        self.save_dir = Path(save_dir)
        self.snap_classes = snap_classes
        self.quantize = check_quantize(quantize)
        self.beat = beat or BeatClock()
        self.masters = dict.fromkeys(MASTERS, 1.0)  # master faders, 1 = the scene as designed
        self.crossfade_s = 0.0  # scene changes blend the generator inputs over this many seconds
        self.frozen = False  # hold the picture (the music is still analysed and mapped)
        self.blackout = False  # show black
        self.cycle_bars = 0  # scene auto-cycle every N bars (0: off)
        self.cycle_mode = "next"  # the next scene, or a random other one
        self._bars = 0  # bars since the last scene change (for the auto-cycle)
        self._random = random.Random(0)  # the auto-cycle's random scenes, the same every show
        self._fade: float | None = None  # crossfade of the scene change not yet taken
        self.base = _load(source, self._override_list())  # the preset before the masters
        self.preset = self.base
        self.version = 0  # bumps on every applied change (the page and tests watch it)
        self.pending: Launch | None = None  # the launch waiting for its beat
        self._watch_path = Path(source) if Path(source).suffix == ".toml" else None
        self._mtime = self._stat()
        self.messages: list[str] = []  # last few user-facing notes (errors of live changes)

    def _override_list(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.overrides.items()]

    # -- changes ---------------------------------------------------------------------------
    def set(self, key: str, value: Any, quantize: str | None = None) -> None:
        """Set ``section.key`` to ``value``; raises PresetError (named key) when it is refused."""
        self.set_many({key: value}, quantize)

    def set_many(self, changes: dict[str, Any], quantize: str | None = None) -> None:
        """Set several ``section.key`` values at once: all are applied or none. A change of the
        classes shown is a launch (``quantize``, default the surface's); others apply at once."""
        for key in changes:
            if not isinstance(key, str) or key.count(".") != 1:
                raise PresetError(f"invalid parameter {key!r}: expected section.key")
        texts = {k: format_value(v) for k, v in changes.items()}
        with self._lock:
            snapped = any(key.rpartition(".")[2] in SNAPPED_FIELDS for key in changes)
            if not snapped:
                overrides = {**self.overrides, **texts}
                preset = _load(self.source, [f"{k}={v}" for k, v in overrides.items()])
                self.overrides = overrides
                self._apply(preset)
                return
            # a class change builds on a class change still waiting, if any
            waiting = self.pending.changes if self.pending and self.pending.scene is None else {}
            merged = {**waiting, **texts}
            overrides = {**self.overrides, **merged}
            preset = _load(self.source, [f"{k}={v}" for k, v in overrides.items()])
            floor = "beat" if self.snap_classes else "now"
            quantize = later(self._quantize(quantize), floor)
            base = tuple(self.overrides.items())
            self._arm(preset, "classes", quantize, changes=merged, base=base)

    def load(self, name: str, *, fade: float | None = None, quantize: str | None = None) -> None:
        """Switch to another scene: a built-in preset or one saved in ``save_dir``, landing on
        ``quantize`` (default: the surface's). The generator inputs crossfade over ``fade``
        seconds (default: ``crossfade_s``)."""
        source = scene_source(self.save_dir, name)
        seconds = self.crossfade_s if fade is None else check_crossfade(fade)
        quantize = self._quantize(quantize)
        with self._lock:
            self._arm(_load(source, []), name, quantize, fade=seconds, scene=source)

    def scene_preset(self, name: str):
        """The preset of the scene ``name`` (for its cue thumbnail)."""
        return _load(scene_source(self.save_dir, name), [])

    def next_scene(self) -> str:
        """The scene that comes next: the one waiting to land, else the next in the list."""
        pending = self.pending
        if pending is not None and pending.scene is not None:
            return scene_name(pending.scene)
        return self.scene_after(1)

    def scenes(self) -> dict[str, str]:
        """The scene playing and the one waiting to land ("" for none), for the outputs."""
        pending = self.pending
        waiting = scene_name(pending.scene) if pending and pending.scene else ""
        return {"scene": scene_name(self.source), "pending": waiting}

    def _quantize(self, quantize: str | None) -> str:
        return self.quantize if quantize is None else check_quantize(quantize)

    def _arm(self, preset, label: str, quantize: str, **extra: Any) -> None:
        """Arm a launch (it replaces one still waiting); one due at once (``now``, or no
        running beat) lands at once."""
        launch = Launch.arm(preset, label, quantize, self.beat.state(), self.beat.now(), **extra)
        self.pending = launch if launch.target is not None else None
        if launch.target is None:
            self._land(launch)
        self.version += 1

    def _land(self, launch: Launch) -> None:
        """Make ``launch`` the current look (on the render thread, with the lock held)."""
        if launch.scene is not None:
            self.source, self.overrides = launch.scene, {}
            self._watch_path = Path(launch.scene) if launch.scene.endswith(".toml") else None
            self._mtime = self._stat()
            preset = launch.preset
        else:
            overrides = {**self.overrides, **launch.changes}
            if tuple(self.overrides.items()) == launch.base:
                preset = launch.preset
            else:  # a key moved while the launch waited: keep that move too
                preset = _load(self.source, [f"{k}={v}" for k, v in overrides.items()])
            self.overrides = overrides
        self._apply(preset)
        self._bars = 0
        if launch.scene is not None:
            self._fade = launch.fade

    def set_quantize(self, quantize: object) -> None:
        """The surface's quantisation of launches (one of `visualizer.live.launch.QUANTIZE`)."""
        self.quantize = check_quantize(quantize)
        self.changed()

    def set_cycle(self, bars: object, mode: object = None) -> None:
        """Scene auto-cycle: every ``bars`` bars (0 = off) the next (or a random) scene."""
        number = bars if isinstance(bars, int | float) and not isinstance(bars, bool) else -1
        if not 0 <= number <= MAX_CYCLE_BARS or number != int(number):
            raise PresetError(f"auto-cycle must be 0-{MAX_CYCLE_BARS} bars, got {bars!r}")
        if mode is not None and mode not in CYCLE_MODES:
            raise PresetError(f"auto-cycle mode must be next or random, got {mode!r}")
        with self._lock:
            self.cycle_bars, self._bars = int(number), 0
            self.cycle_mode = str(mode or self.cycle_mode)
        self.changed()

    def set_master(self, name: str, value: Any) -> None:
        """Set a master fader (see `visualizer.live.show.MASTERS`) to ``value`` in 0-2."""
        number = check_master(name, value)
        with self._lock:
            masters = {**self.masters, name: number}
            self.preset = apply_masters(self.base, masters)
            self.masters = masters
            self.version += 1

    def set_crossfade(self, seconds: Any) -> None:
        self.crossfade_s = check_crossfade(seconds)
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

    def perform(self, action: str, now: float | None = None, quantize: str | None = None) -> None:
        """One of ACTIONS. ``now`` is the monotonic time of a tap (default: now); ``quantize``
        the launch's quantisation for scene and palette steps (default: the surface's)."""
        if quantize is not None:
            check_quantize(quantize)
        if action == "tap":
            self.beat.tap(now)
        elif action in BEAT_ACTIONS:
            BEAT_ACTIONS[action](self.beat)
        elif action in ("next_scene", "previous_scene"):
            step = 1 if action == "next_scene" else -1
            self.load(self.scene_after(step), quantize=quantize)
        elif action == "next_palette":
            with self._lock:
                self.set_many(next_palette_overrides(self._next_base()), quantize)
        elif action == "freeze":
            self.frozen = not self.frozen
        elif action == "blackout":
            self.blackout = not self.blackout
        else:
            raise PresetError(f"unknown action {action!r} (valid: {', '.join(ACTIONS)})")
        self.changed()

    def scene_after(self, step: int) -> str:
        """The scene ``step`` places after the current one (or after the one waiting to land)."""
        current = self.pending.scene if self.pending and self.pending.scene else self.source
        return scene_after(scene_names(self.save_dir), current, step)

    def _next_base(self):
        """The preset a palette step starts from: the class change waiting, or the current."""
        pending = self.pending
        return pending.preset if pending is not None and pending.scene is None else self.base

    def tap(self, at: float | None = None) -> None:
        """A tap at monotonic time ``at`` (default: now)."""
        self.beat.tap(at)
        self.changed()

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
        self._fade = None
        self.version += 1

    # -- polled by the render loop --------------------------------------------------------
    def take_change(self, beat: FrameBeat | None = None):
        """The preset for the frame whose beat is ``beat``: a launch whose beat came lands
        (None: whatever waits lands now), and the auto-cycle starts a scene on its bar."""
        with self._lock:
            if beat is not None and beat.is_downbeat:
                self._bars += 1  # downbeats since the scene changed
                bars, aligned = self.cycle_bars, (beat.state.bar - 1) % max(self.cycle_bars, 1)
                if bars and self._bars >= bars and aligned == 0 and self.pending is None:
                    self._cycle()
            launch = self.pending
            if launch is not None and (beat is None or launch.due(beat, self.beat.now())):
                self.pending = None
                self._land(launch)
            return self.preset

    def _cycle(self) -> None:
        """The auto-cycle's scene change, landing on the bar that starts now: a bar whose number
        is 1 more than a multiple of ``cycle_bars`` (phrases of N bars), once the scene has
        played at least N downbeats."""
        if self.cycle_mode == "next":
            name = self.scene_after(1)
        else:
            names = scene_names(self.save_dir)
            others = [n for n in names if n != scene_name(self.source)] or names
            name = self._random.choice(others)
        try:
            self.load(name, quantize="now")
        except VisualizerError as error:  # a saved scene removed since: say so, keep playing
            self.note(f"auto-cycle skipped {name}: {error}")
            self._bars = 0

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
        """State for the page and /state: parameters, source, version, beat, launch, notes."""
        with self._lock:
            return {
                "source": self.source,
                "version": self.version,
                "params": parameter_specs(self.base),  # as set: the masters scale on top
                "overrides": dict(self.overrides),
                "pending": self.pending.describe(self.beat.beats_per_bar) if self.pending else None,
                "beat": self.beat.snapshot(),
                "quantize": self.quantize,
                "cycle": {"bars": self.cycle_bars, "mode": self.cycle_mode},
                "messages": list(self.messages),
                "masters": dict(self.masters),
                "crossfade_s": self.crossfade_s,
                "frozen": self.frozen,
                "blackout": self.blackout,
                "scenes": scene_names(self.save_dir),
                "themes": theme_list(),
                "actions": list(ACTIONS),
            }
