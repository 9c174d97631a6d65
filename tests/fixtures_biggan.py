"""Random BigGAN-deep checkpoints in the published format, for tests.

``write_checkpoint(tmp_path, channel_width=8)`` makes a tiny model (same layer lists, 8 instead of
128 channels per multiplier) that renders 128 px frames in a fraction of a second on a CPU:
pass its folder as ``--weights DIR`` to the CLI or to `visualizer.model.loading.load_network`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import threading
from pathlib import Path

import torch

from visualizer.model.network import BigGANConfig
from visualizer.model.random_weights import random_state_dict


def checkpoint_config(resolution: int = 128, channel_width: int = 128) -> BigGANConfig:
    """The published config of ``biggan-deep-<resolution>`` with another channel width."""
    config = BigGANConfig.for_model(f"biggan-deep-{resolution}")
    return dataclasses.replace(config, channel_width=channel_width)


def write_checkpoint(
    folder: str | Path,
    resolution: int = 128,
    channel_width: int = 128,
    seed: int = 0,
    legacy_format: bool = False,
) -> Path:
    """Write ``config.json`` + ``pytorch_model.bin`` (published key format) into ``folder``.

    ``legacy_format=True`` writes the pre-zip torch format the published files use.
    Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = checkpoint_config(resolution, channel_width)
    (folder / "config.json").write_text(
        json.dumps(config.to_dict(), sort_keys=True, indent=2), encoding="utf-8"
    )
    state = random_state_dict(config, seed)
    torch.save(
        state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy_format
    )
    return folder


class WeightsServer:
    """A real HTTP server on 127.0.0.1 (a thread) serving ``files`` (name -> bytes) under
    ``self.url``, with Range support. Names added to ``cut`` are sent half only (once), with the
    full Content-Length, as a dropped connection would. A name in ``hold`` (name -> Event) is sent
    half, then the rest once the event is set. Names in ``no_length`` are sent without a
    Content-Length (the end of the body is the end of the connection). Names in ``endless`` are
    an endless stream of zeros without a length; a name in ``trickle`` (name -> seconds) is sent
    one byte at a time, that many seconds apart. ``requests`` logs (name, Range header)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.cut, self.requests = files, set(), []
        self.no_length: set[str] = set()
        self.hold: dict[str, threading.Event] = {}
        self.endless: set[str] = set()
        self.trickle: dict[str, float] = {}
        self.stopped = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append((name, self.headers.get("Range")))
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                if name in server.endless:
                    self.end_headers()
                    self._endless()
                    return
                if name not in server.no_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in server.cut:
                    server.cut.discard(name)
                    body = body[: len(body) // 2]  # then close the connection early
                    self.close_connection = True
                if name in server.trickle:
                    self._trickle(body, server.trickle[name])
                    return
                if name in server.hold:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    server.hold[name].wait(timeout=120)
                    body = body[len(body) // 2 :]
                self.wfile.write(body)

            def _endless(self):
                with contextlib.suppress(OSError):  # until the client hangs up
                    while not server.stopped.is_set():
                        self.wfile.write(bytes(1 << 16))

            def _trickle(self, body: bytes, seconds: float):
                with contextlib.suppress(OSError):
                    for index in range(len(body)):
                        if server.stopped.wait(seconds):
                            return
                        self.wfile.write(body[index : index + 1])
                        self.wfile.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/biggan/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()
