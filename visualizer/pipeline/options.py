"""What a render is asked for: `RenderOptions`, which of its fields make the picture (the render's
identity), the preset and seed it maps with (`ResolvedPreset`, resolved once per render;
`seed_for`, the one seed rule), what its planning decides (`RenderPlan`) and what it returns
(`RenderResult`).

Torch-free: the CLI, batch and the work folder read these without loading the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from visualizer.mapping.presets import Preset
    from visualizer.mapping.timeline import Timeline
    from visualizer.rendering.video import Encoding


@dataclass(frozen=True)
class RenderOptions:
    """Everything that decides a render; `IDENTITY_FIELDS` are those that change the picture."""

    model: str = "biggan-deep-128"  # biggan-deep-128 | -256 | -512
    weights: str | None = None  # folder or file, "random" (seeded untrained), None = cached
    # a learned upscaler after the generator: a published name (`visualizer.model.upscaler`)
    # or a .pth/.safetensors file; None = frames at the model's size
    upscale: str | None = None
    device: str = "auto"  # auto (CUDA, else Apple MPS, else CPU) | cpu | cuda | cuda:N | mps
    preset: str = "default"  # built-in preset name or TOML path
    overrides: tuple[str, ...] = ()  # "section.key=value" preset overrides, applied in order
    seed: int | None = None  # None = the preset's seed
    fps: Fraction | None = None  # frames per second, any rational > 0; None = 30 (or --timeline's)
    start: float = 0.0  # seconds into the track where the video starts, >= 0
    duration: float | None = None  # seconds of track to render, > 0; None = to the end
    batch_size: int | None = None  # frames per generator call, >= 1; None = automatic
    size: tuple[int, int] | None = None  # output (width, height), even; None = square model size
    fit: str = "pad"  # how square frames fill --size: pad | crop | mirror
    quality: int = 18  # constant quality (crf / cq), 0 (lossless) - 51 (worst)
    # the video codec (`visualizer.rendering.codecs`: h264, hevc, prores, dnxhr, hap, hap-q,
    # av1, vp9); None = the --encoder's, else h264
    codec: str | None = None
    encoder: str = "auto"  # a `visualizer.rendering.codecs` row, or auto (NVENC, else libx264)
    # the encoder's speed/size trade-off: one of its row's presets, or auto (libx264: medium,
    # veryfast on CUDA, where the generator outruns medium)
    encoder_preset: str = "auto"
    frames_dir: Path | None = None  # also write every frame as PNG here (square, model size)
    timeline: Path | None = None  # render this saved Timeline .npz instead of analysing the track
    timeline_out: Path | None = None  # save the Timeline used to this .npz
    overwrite: bool = False  # replace an existing output / discard an interrupted render
    resume: bool = False  # continue an interrupted render of the same output
    segment_frames: int = 256  # frames per video segment (resume and split granularity), >= 1
    frame_step: int = 1  # render every Nth Timeline frame at fps / N (draft videos), >= 1
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 elsewhere) | fp32 | fp16 | bf16 (not MPS)
    # torch.compile of the generator: off | auto (reduce-overhead on CUDA, off on CPU) | default |
    # max-autotune | reduce-overhead. Not part of the identity: it changes rounding only.
    compile: str = "off"
    # how cuDNN picks convolution algorithms on CUDA: deterministic (resume-exact) | benchmark
    cudnn: str = "deterministic"
    beats: str = "dsp"  # beat and downbeat tracker: dsp | beat-this (the optional neural one)
    # seconds into the track file (not from `start`) where a bar begins: the analysis's bar grid
    # is shifted onto the beat nearest it (`visualizer.analysis.bars.anchor_bars`); None = as found
    downbeat: float | None = None
    # the track's stems, (name, file) in `visualizer.options.STEMS` order
    # (`visualizer.pipeline.stems.parse_stems` reads --stems); () = none: stand-ins
    stems: tuple[tuple[str, Path], ...] = ()


# A render's identity: the RenderOptions fields that change its picture or its sound. A resume
# and every part of a split render must keep them (the work folder's render.json,
# `visualizer.pipeline.workdir.manifest_for`); the batch renders a finished track again when one
# changes (`visualizer.batch.jobs` settings hash). Files count by what they hold, and
# `PRESET_FIELDS` as the preset and seed they resolve to.
IDENTITY_FIELDS = (
    "model",
    "weights",
    "upscale",
    "preset",
    "overrides",
    "seed",
    "timeline",
    "fps",
    "start",
    "duration",
    "frame_step",
    "size",
    "fit",
    "quality",
    "codec",
    "encoder",
    "encoder_preset",
    "segment_frames",
    "precision",
    "beats",
    "downbeat",
    "stems",
)
PRESET_FIELDS = ("preset", "overrides", "seed")
# The rest: where and how fast the frames are computed (device, batch size, compile and cuDNN's
# algorithms give the same picture up to float rounding), what else is written, and whether to
# replace or resume.
RUN_FIELDS = (
    "device",
    "batch_size",
    "compile",
    "cudnn",
    "frames_dir",
    "timeline_out",
    "overwrite",
    "resume",
)


@dataclass(frozen=True)
class RenderResult:
    output: Path  # the finished video
    n_frames: int  # video frames written
    video_seconds: float  # n_frames / fps
    audio_seconds: float  # seconds of soundtrack muxed
    wall_seconds: float  # wall-clock time of the whole call
    fps: Fraction  # the video's exact frame rate


@dataclass
class RenderPlan:
    """What `visualizer.pipeline.render.plan_render` decided; picklable, so workers can receive
    it."""

    track: Path
    output: Path
    options: RenderOptions
    timeline: Timeline  # the Timeline actually rendered (after frame_step)
    work_dir: Path
    segments: list[tuple[int, int]]  # [start, stop) frame ranges, in order
    encoder: str  # resolved encoder name (a `visualizer.rendering.codecs` row)
    audio_start: float  # seconds into the track where the soundtrack starts
    audio_duration: float  # seconds of soundtrack muxed (0: none)
    encoder_preset: str | None = None  # resolved --encoder-preset (None: the codec has none)
    started: float = field(default_factory=time.perf_counter)
    # The soundtrack's encode once started in this process (a `SoundtrackEncode`); not sent to
    # other workers with the plan.
    soundtrack: Any = field(default=None, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "soundtrack": None}

    @property
    def fps(self) -> Fraction:
        return self.timeline.fps

    @property
    def n_frames(self) -> int:
        return self.timeline.n_frames

    def segment_path(self, index: int) -> Path:
        """Segment ``index``'s file, in its codec's first container (.mp4 for H.264)."""
        from visualizer.rendering.codecs import CODECS

        return self.work_dir / f"segment-{index:05d}{CODECS[self.encoder].containers[0]}"

    def pending(self) -> list[int]:
        """Indices of segments not yet complete."""
        return [i for i in range(len(self.segments)) if not self.segment_path(i).is_file()]

    def encoding(self) -> Encoding:
        """How the render stage encodes this plan's frames: several segment encoders at once,
        laid out for this machine's cores (`visualizer.rendering.encoders.encoder_layout`); two
        at once for a hardware encoder, whose engine serves a few sessions."""
        from visualizer.rendering.codecs import CODECS
        from visualizer.rendering.encoders import encoder_layout
        from visualizer.rendering.video import Encoding

        o = self.options
        count, threads = (2, 0) if CODECS[self.encoder].hardware else encoder_layout()
        return Encoding(
            self.fps, self.encoder, o.quality, o.size, o.fit, self.encoder_preset, count, threads
        )


@dataclass(frozen=True)
class ResolvedPreset:
    """The preset a render maps with, its overrides applied, and the seed it uses.

    ``preset.seed == seed``: the saved preset records the seed actually used, so it alone
    reproduces the video.
    """

    preset: Preset
    seed: int

    def toml(self) -> str:
        from visualizer.mapping.presets import preset_to_toml

        return preset_to_toml(self.preset)


def seed_for(preset: Preset, seed: int | None) -> int:
    """The seed rule: ``--seed`` when given, else the preset's own."""
    return seed if seed is not None else int(preset.seed)


def resolve_preset(options: RenderOptions) -> ResolvedPreset:
    """The preset and seed ``options`` ask for; PresetError naming a bad preset or override."""
    from visualizer.mapping.presets import load_preset

    preset = load_preset(options.preset, list(options.overrides))
    seed = seed_for(preset, options.seed)
    return ResolvedPreset(preset.replace(seed=seed), seed)
