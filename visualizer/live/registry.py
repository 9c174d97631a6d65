"""A table of named members: the live sinks (`visualizer.live.sinks`) and the live sources
(`visualizer.live.sources`). One table per kind is the one list that the command line's choices,
the session and a test's own member read, so a new member is one file plus one ``register``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar, Generic, Protocol, TypeVar

from visualizer.errors import LiveIOError


class Named(Protocol):
    name: ClassVar[str]


M = TypeVar("M", bound=Named)


class Registry(Generic[M]):
    """Name -> member class, in registration order. ``get(name)`` of an unknown name raises a
    `LiveIOError` that lists the valid ones."""

    def __init__(self, kind: str, members: Iterable[type[M]]) -> None:
        self.kind = kind  # "output", "source": the word the error messages use
        self._members: dict[str, type[M]] = {}
        for member in members:
            self.register(member)

    def register(self, member: type[M]) -> type[M]:
        """Add ``member`` under its ``name`` (again: no change); returns it, so it decorates."""
        known = self._members.get(member.name)
        if known is not None and known is not member:
            raise ValueError(
                f"{self.kind} {member.name!r} is already registered ({known.__qualname__})"
            )
        self._members[member.name] = member
        return member

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a test's member, once the test is done)."""
        self._members.pop(name, None)

    def get(self, name: str) -> type[M]:
        try:
            return self._members[name]
        except KeyError:
            valid = ", ".join(self._members)
            raise LiveIOError(f"unknown {self.kind} {name!r} (valid: {valid})") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._members)

    def __iter__(self) -> Iterator[type[M]]:
        return iter(list(self._members.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._members
