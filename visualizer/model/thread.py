"""One thread for everything that runs a compiled generator: its warm-up and every render.

torch.compile's CUDA graphs (``--compile reduce-overhead``, ``max-autotune``, ``auto`` on CUDA)
belong to the thread that recorded them: torch keeps its graph trees per thread, so a graph
recorded while warming up on one thread is never replayed on another, which records its own
graph in a second private memory pool (and older torch releases fail an assertion when another
thread recompiles). A batch worker renders tracks from whichever thread asks; `GeneratorThread`
runs all of it on one long-lived thread instead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from visualizer.errors import Cancelled
from visualizer.progress import ProgressCallback, ProgressEvent

T = TypeVar("T")


class Pending:
    """A call submitted to a `GeneratorThread`: `result` waits for it."""

    def __init__(self, owner: GeneratorThread) -> None:
        self.done = threading.Event()
        self.outcome: list[tuple[bool, Any]] = []
        self._owner = owner

    def result(self) -> Any:
        """The call's result, or its exception raised here. A Ctrl-C while waiting stops the
        call at its next progress event (see `GeneratorThread.progress`), waits for it to clean
        up (finished segments are kept), then propagates."""
        try:
            while not self.done.wait(0.2):
                pass
        except KeyboardInterrupt:
            self._owner.interrupted.set()
            self.done.wait()
            raise
        ok, value = self.outcome[0]
        if ok:
            return value
        raise value


class GeneratorThread:
    """A daemon thread running submitted calls one at a time, in order.

    `submit` queues a call and returns its `Pending` at once; `call` blocks until its call is
    done and returns its result or raises its exception (a Ctrl-C as `Pending.result` says).
    """

    def __init__(self, name: str = "visualizer-generator") -> None:
        self._jobs: queue.Queue = queue.Queue()
        self.interrupted = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args, kwargs, pending = job
            try:
                pending.outcome.append((True, function(*args, **kwargs)))
            except BaseException as error:  # noqa: BLE001 (re-raised by Pending.result)
                pending.outcome.append((False, error))
            finally:
                pending.done.set()

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Pending:
        """Queue ``function(*args, **kwargs)`` to run on this thread; returns at once."""
        pending = Pending(self)
        self.interrupted.clear()
        self._jobs.put((function, args, kwargs, pending))
        return pending

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` run on this thread; its result or its exception."""
        if threading.current_thread() is self._thread:
            return function(*args, **kwargs)
        return self.submit(function, *args, **kwargs).result()

    def progress(self, callback: ProgressCallback | None) -> ProgressCallback:
        """``callback`` that also raises Cancelled once the waiting caller got a Ctrl-C."""

        def forward(event: ProgressEvent) -> None:
            if self.interrupted.is_set():
                raise Cancelled("interrupted")
            if callback is not None:
                callback(event)

        return forward

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def close(self) -> None:
        """Let the thread end once the calls already submitted are done."""
        self._jobs.put(None)
