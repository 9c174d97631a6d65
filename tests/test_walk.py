"""A render reads stage by stage: its options are checked once and its preset resolved once, the
job layer (`visualizer.pipeline`) is the only hub, and the track walks analysis -> mapping ->
model -> rendering once each, in that order.

Every call that crosses from one `visualizer` package into another is recorded with
`sys.setprofile` during a real render (real analysis, mapping, a tiny random checkpoint, ffmpeg).
"""

from __future__ import annotations

import sys
from collections import Counter
from fractions import Fraction

import pytest

from tests.fixtures_audio import music_like, write_wav
from tests.fixtures_biggan import write_checkpoint
from tests.render_fixtures import ToyGenerator
from visualizer.bench.stems import stem_song
from visualizer.errors import Cancelled
from visualizer.model.inference import wrap
from visualizer.pipeline.options import RenderOptions
from visualizer.pipeline.render import render_track

STAGES = ("analysis", "mapping", "model", "rendering")  # in the order a track visits them
# The typed hand-offs between stages: their methods and constructors are data, not a visit.
HANDOFFS = ("Timeline.", "Features.", "FrameFeatures.", "Generator.", "__create_fn__")


def _package(frame) -> str | None:
    parts = str(frame.f_globals.get("__name__", "")).split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "visualizer" else None


class Crossings:
    """Records (caller package, callee package, callee) for calls between visualizer packages,
    and counts every visualizer function called, while active (this thread only)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.calls: Counter[str] = Counter()

    def __enter__(self) -> Crossings:
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)

    def _hook(self, frame, event, arg) -> None:
        if event != "call" or (callee := _package(frame)) is None:
            return
        name = frame.f_code.co_qualname
        self.calls[f"{frame.f_globals['__name__']}.{name}"] += 1
        caller = _package(frame.f_back) if frame.f_back else None
        if caller not in (None, callee) and frame.f_code.co_name != "<module>":
            self.seen.append((caller, callee, name))

    def into(self, stage: str) -> list[str]:
        """The functions of ``stage`` called from other packages, hand-off types left out."""
        return [n for _, c, n in self.seen if c == stage and not n.startswith(HANDOFFS)]

    def walk(self) -> list[str]:
        """The stages the job layer enters, in order, a stage entered again in a row once."""
        entered = [
            callee
            for caller, callee, name in self.seen
            if caller == "pipeline" and callee in STAGES and not name.startswith(HANDOFFS)
        ]
        return [stage for i, stage in enumerate(entered) if i == 0 or entered[i - 1] != stage]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(write_checkpoint(tmp_path_factory.mktemp("weights"), channel_width=8))


@pytest.fixture
def track(tmp_path):
    return write_wav(tmp_path / "song.wav", music_like(1.5, 22050, seed=2), 22050)


def test_a_render_is_checked_once_and_visits_each_stage_once_in_order(track, weights, tmp_path):
    options = RenderOptions(
        weights=weights, device="cpu", fps=Fraction(8), start=0.25, duration=1.0, size=(160, 128)
    )
    with Crossings() as seen:
        result = render_track(track, tmp_path / "out.mp4", options)
    assert result.n_frames == 8 and result.audio_seconds == pytest.approx(1.0)

    assert seen.calls["visualizer.pipeline.checks.check_values"] == 1
    assert seen.calls["visualizer.mapping.presets.load_preset"] == 1  # the preset resolved once
    # The analysis is entered once, and not for the soundtrack's length (no second probe).
    assert seen.into("analysis") == ["analyze_window"]
    # Before the analysis the job layer only asks (checks, the encoder's probe); from it on the
    # track walks the stages once each, in order.
    walk = seen.walk()
    assert walk[walk.index("analysis") :] == list(STAGES)
    assert "analysis" not in walk[: walk.index("analysis")]
    # The job layer is the only hub: a stage calls no stage after it, and nothing above it.
    for caller, callee, name in seen.seen:
        if caller in STAGES and callee in STAGES:
            assert STAGES.index(callee) < STAGES.index(caller), (caller, callee, name)
        if caller in STAGES:
            assert callee not in ("pipeline", "batch", "live", "commands", "api"), (caller, name)


def test_a_resumed_render_reads_its_saved_timeline_and_probes_the_audio_once(track, tmp_path):
    out = tmp_path / "out.mp4"
    options = RenderOptions(device="cpu", fps=Fraction(8), segment_frames=4)

    def stop(event):
        if event.stage == "render" and event.done >= 4:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        render_track(track, out, options, generator=wrap(ToyGenerator()), progress=stop)
    resumed = RenderOptions(device="cpu", fps=Fraction(8), segment_frames=4, resume=True)
    with Crossings() as seen:
        result = render_track(track, out, resumed, generator=wrap(ToyGenerator()))
    assert result.n_frames == 12 and result.audio_seconds == pytest.approx(1.5)
    assert seen.calls["visualizer.pipeline.checks.check_values"] == 1
    assert seen.into("analysis") == ["probe_duration"]  # the length only: nothing analysed


def test_with_stems_the_analysis_is_entered_once_per_source(weights, tmp_path):
    """Two stems given, a preset that reads four: the mix and each stem given are analysed once
    (their lengths read from their headers with the checks), the two others are stood in for
    by the mapping; the track then walks the stages once each, in order."""
    song = stem_song(1.5, seed=3)
    mix = write_wav(tmp_path / "mix.wav", song.mix, song.sr)
    stems = tuple(
        (n, write_wav(tmp_path / f"{n}.wav", song.stems[n], song.sr)) for n in ("drums", "bass")
    )
    options = RenderOptions(
        weights=weights, device="cpu", fps=Fraction(8), preset="band", stems=stems, size=(160, 128)
    )
    with Crossings() as seen:
        render_track(mix, tmp_path / "out.mp4", options)
    assert seen.into("analysis") == [
        "check_stems",
        "analyze_window",
        "analyze_stem",
        "analyze_stem",
    ]
    assert seen.calls["visualizer.analysis.track.analyze_whole"] == 3  # once per source
    assert seen.calls["visualizer.analysis.decode.probe_format"] == 3  # the checks' headers
    assert seen.calls["visualizer.mapping.stand_in.stand_in_features"] == 2  # vocals, other
    entered = [
        (callee, name)
        for caller, callee, name in seen.seen
        if caller == "pipeline" and callee in STAGES and not name.startswith(HANDOFFS)
    ]
    start = entered.index(("analysis", "analyze_window"))
    # before the analysis the job layer only asks: the checks read the stems' headers
    assert [name for stage, name in entered[:start] if stage == "analysis"] == ["check_stems"]
    after = [stage for stage, _ in entered[start:]]
    assert [s for i, s in enumerate(after) if i == 0 or after[i - 1] != s] == list(STAGES)
