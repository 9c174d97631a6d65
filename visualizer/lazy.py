"""Package attributes that load their module on first use.

Each package names what it offers once, as ``from visualizer.pkg.module import name as name``
lines under ``if TYPE_CHECKING:`` in its ``__init__``: type checkers and editors follow those
imports, and `lazy_exports` reads the same lines (without running them) to load each name from
its module on first use. So ``import visualizer.analysis`` (and ``visualizer --help``) never
pulls in torch, scipy or matplotlib, and the list of exports exists once.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path


def typed_exports(init_file: str) -> dict[str, str]:
    """{public name: defining module} from the ``if TYPE_CHECKING:`` imports of ``init_file``."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    exports: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for item in node.body:
                if isinstance(item, ast.ImportFrom) and item.module:
                    for alias in item.names:
                        exports[alias.asname or alias.name] = item.module
    return exports


def lazy_exports(
    package: str, init_file: str
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``, whose ``__init__`` is ``init_file``:
    each name its ``if TYPE_CHECKING:`` block imports is loaded from that module when first
    asked for."""
    exports = typed_exports(init_file)

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__, sorted(exports)
