"""Fixtures of the render tests: a tiny deterministic generator, random Timelines, and the
command line run in-process (`run_cli`).

`ToyGenerator` is a module with what `visualizer.model.inference.wrap` needs to make it a
`Generator` (``frames_uint8``, ``device``, ``resolution``) and costs microseconds per frame, for
tests of batching, streaming and encoding that are about the pipeline, not the network (the
end-to-end tests use a real tiny BigGAN).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from visualizer.mapping.timeline import Timeline


class ToyGenerator(torch.nn.Module):
    """(z, class vector, truncation) -> uint8 frames through one fixed random linear map."""

    def __init__(self, resolution: int = 32, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        shape = (128 + 1000 + 1, resolution * resolution * 3)
        self.weight = torch.nn.Parameter(torch.randn(shape, generator=generator) * 0.1)
        self.resolution = resolution
        self.calls: list[int] = []  # batch sizes seen, for batching tests

    @property
    def device(self) -> torch.device:
        return self.weight.device

    @torch.inference_mode()
    def frames_uint8(self, z, class_vectors, truncation) -> torch.Tensor:
        self.calls.append(int(z.shape[0]))
        x = torch.cat([z, class_vectors, truncation.reshape(-1, 1)], 1) @ self.weight
        x = ((x.tanh() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return x.view(-1, self.resolution, self.resolution, 3)


class OutOfMemoryOnce(torch.nn.Module):
    """Fault injection: raises torch.OutOfMemoryError on the first call with a batch > limit."""

    def __init__(self, inner: ToyGenerator, limit: int = 1) -> None:
        super().__init__()
        self.inner = inner
        self.limit = limit
        self.raised = 0
        self.resolution = inner.resolution

    @property
    def device(self) -> torch.device:
        return self.inner.device

    def frames_uint8(self, z, class_vectors, truncation) -> torch.Tensor:
        if z.shape[0] > self.limit and not self.raised:
            self.raised += 1
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return self.inner.frames_uint8(z, class_vectors, truncation)


def random_timeline(n_frames: int, fps: Fraction = Fraction(12), seed: int = 0) -> Timeline:
    """A valid Timeline of ``n_frames`` frames with random noise and a few classes."""
    rng = np.random.default_rng(seed)
    classes = np.zeros((n_frames, 1000), np.float32)
    picks = rng.integers(0, 1000, size=n_frames)
    classes[np.arange(n_frames), picks] = 1.0
    noise = rng.standard_normal((n_frames, 128)).astype(np.float32)
    truncation = rng.uniform(0.3, 1.0, n_frames).astype(np.float32)
    return Timeline(classes, noise, truncation, fps, seed, "seed = 0\n")


def run_cli(capsys, *argv) -> tuple[int, str]:
    """``visualizer ARGV`` in this process: (exit status, what it wrote to stderr).

    argparse's own exits (status 2) are caught like the command's returned status.
    """
    from visualizer.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err
