"""Timeline files: the round trip is exact, and every malformed file gets a TimelineError."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from visualizer.errors import TimelineError
from visualizer.mapping.timeline import Timeline, load, save


def _timeline(n=5, fps=Fraction(30000, 1001)):
    rng = np.random.default_rng(0)
    classes = np.zeros((n, 1000), np.float32)
    classes[:, 292] = 1
    return Timeline(
        class_vectors=classes,
        noise=rng.uniform(-1, 1, (n, 128)).astype(np.float32),
        truncation=np.linspace(0.2, 1.0, n, dtype=np.float32),
        fps=fps,
        seed=7,
        preset='description = "x"\n',
    )


def test_round_trip_is_exact(tmp_path):
    original = _timeline()
    loaded = load(save(original, tmp_path / "t.npz"))
    for key in ("class_vectors", "noise", "truncation"):
        assert np.array_equal(getattr(loaded, key), getattr(original, key))
    assert (loaded.fps, loaded.seed, loaded.preset) == (Fraction(30000, 1001), 7, original.preset)
    assert loaded.n_frames == 5 and loaded.slice(1, 3).n_frames == 2
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left


def _write(path, **overrides):
    t = _timeline()
    arrays = dict(
        class_vectors=t.class_vectors,
        noise=t.noise,
        truncation=t.truncation,
        fps_num=np.int64(30),
        fps_den=np.int64(1),
        seed=np.int64(1),
    )
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(noise=None), "missing keys: noise"),
        (dict(noise=np.zeros((5, 64), np.float32)), r"noise must have shape \(5, 128\)"),
        (dict(truncation=np.full(5, 1.5, np.float32)), r"truncation must lie in \(0, 1\]"),
        (dict(truncation=np.full(5, np.nan, np.float32)), "NaN"),
        (dict(class_vectors=-2 * np.ones((5, 1000), np.float32)), ">= -1"),
        (dict(noise=np.zeros((5, 128), np.float64)), "float32"),
        (dict(fps_den=np.int64(0)), "corrupt timeline"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(tmp_path, overrides, message):
    path = _write(tmp_path / "bad.npz", **overrides)
    with pytest.raises(TimelineError, match=message) as error:
        load(path)
    assert str(path) in str(error.value)


def test_missing_and_non_npz_files(tmp_path):
    with pytest.raises(TimelineError, match="timeline file not found"):
        load(tmp_path / "absent.npz")
    text = tmp_path / "notes.npz"
    text.write_text("not numpy")
    with pytest.raises(TimelineError, match="not a readable timeline"):
        load(text)


def test_the_work_folder_keeps_a_deflated_copy_of_a_long_timeline(tmp_path):
    # 20,000 frames are 90 MB raw; the work folder's copy (for --resume) is deflated.
    from visualizer.pipeline.workdir import start_work_dir

    n = 20_000
    classes = np.zeros((n, 1000), np.float32)
    classes[np.arange(n), np.arange(n) % 1000] = 1.0
    long = Timeline(classes, np.zeros((n, 128), np.float32), np.full(n, 0.5, np.float32),
                    Fraction(30), 0, "")  # fmt: skip
    start_work_dir(tmp_path / "parts", {"format": 1}, long)
    copy = tmp_path / "parts" / "timeline.npz"
    assert copy.stat().st_size < n * 1128 * 4 / 20
    back = load(copy)
    assert np.array_equal(back.class_vectors, classes) and back.n_frames == n
