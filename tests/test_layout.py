"""The package's shape: no import cycles (not even inside functions), stages that import nothing
above them, no private names imported across modules, modules of a readable size, and an import
of the CLI that loads no heavy library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "visualizer"
MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_blocks(tree: ast.Module) -> list[ast.If]:
    """The top-level ``if TYPE_CHECKING:`` blocks of a module."""
    return [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]


def imported(path: Path, known: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(module, names) for every visualizer import in the file, at any depth.

    A package ``__init__``'s ``if TYPE_CHECKING:`` block is left out: it names the lazily
    loaded exports for type checkers and never runs (`test_lazy_exports_are_typed`)."""
    found = []
    tree = ast.parse(path.read_text())
    skipped = set()
    if path.name == "__init__.py":
        for block in _type_checking_blocks(tree):
            skipped |= {id(node) for node in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("visualizer")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("visualizer"):
            names = [a.name for a in node.names]
            # `from visualizer.pkg import module` imports a module, not a name
            subs = [n for n in names if f"{node.module}.{n}" in known]
            found += [(f"{node.module}.{n}", []) for n in subs]
            found.append((node.module, [n for n in names if n not in subs]))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {m for m, _ in imported(path, known) if m in known and m != name}
        for name, path in known.items()
    }


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


# The stage packages in the order a track visits them, what sits above every stage, and the
# typed hand-offs a stage may take from the stages before it.
STAGES = ("analysis", "mapping", "model", "rendering")
ABOVE_THE_STAGES = ("pipeline", "batch", "live", "commands", "bench", "api", "cli")
HANDOFFS = {
    "visualizer.analysis.features": "Features",
    "visualizer.mapping.timeline": "Timeline",
    "visualizer.model.inference": "the Generator interface",
    "visualizer.model.device_memory": "the Generator's device memory",
}


def test_stages_import_only_the_handoffs_of_the_stages_before_them():
    """A stage imports nothing above it (the job layer is the only hub) and, of the other stages,
    only the typed hand-offs of those before it: analysis imports no stage, mapping reads
    Features, model no stage, rendering a Timeline and a Generator."""

    def top(module: str) -> str:
        return module.split(".")[1] if "." in module else ""

    bad = []
    for module, targets in graph().items():
        if top(module) not in STAGES:
            continue
        for target in sorted(targets):
            stage = top(target)
            if stage in ABOVE_THE_STAGES:
                bad.append(f"{module} imports {target}, above the stages")
            elif stage in STAGES and stage != top(module):
                before = STAGES.index(stage) < STAGES.index(top(module))
                if not before or target not in HANDOFFS:
                    bad.append(f"{module} imports {target}, not a hand-off of a stage before it")
    assert bad == []


def test_no_private_names_across_modules():
    known = modules()
    bad = [
        f"{module_name(path)} imports {mod}.{n}"
        for path in known.values()
        for mod, names in imported(path, known)
        for n in names
        if n.startswith("_") and n != "__version__"
    ]
    assert bad == []


def test_modules_stay_readable():
    long = {
        module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_cli_import_loads_no_heavy_library():
    code = (
        "import sys, visualizer, visualizer.cli, visualizer.analysis, visualizer.model, "
        "visualizer.rendering, visualizer.pipeline, visualizer.mapping, visualizer.batch\n"
        "print(sorted(m for m in ('torch', 'librosa', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_readme_layout_names_every_module():
    """The README's layout block lists each package's modules, and only modules that exist."""
    import re

    readme = (PACKAGE.parent / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    listed: set[str] = set()
    folder = ""
    for line in block.splitlines():
        head = re.match(r"\s{2}(\w+)/", line)
        if head:
            folder = head.group(1) + "/"
        elif re.match(r"\s{2}\S", line):
            folder = ""  # a top-level line
        for name in re.findall(r"\b(\w+)\.py\b", line):
            listed.add(folder + name + ".py")
    actual = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    actual -= {p for p in actual if p.endswith("__init__.py") and "/" in p}
    assert sorted(actual - listed) == [], "modules missing from the README layout"
    assert sorted(listed - actual) == [], "the README layout names modules that do not exist"


def test_lazy_exports_resolve():
    """Every name a package exports lazily (its ``if TYPE_CHECKING:`` imports) is there, and is
    the object its module defines; a package with lazy exports lists them in ``__all__``."""
    import importlib

    from visualizer.lazy import typed_exports

    broken = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if "lazy_exports(" not in init.read_text():
            continue
        package = importlib.import_module(module_name(init))
        exports = typed_exports(str(init))
        assert exports, f"{package.__name__} exports nothing"
        assert set(exports) <= set(package.__all__)
        for name, module in exports.items():
            if getattr(package, name) is not getattr(importlib.import_module(module), name):
                broken.append(f"{package.__name__}.{name}")
    assert broken == []


def test_the_wheel_lists_every_package():
    """pyproject's explicit package list names every folder of the package (a renamed one left
    out makes `pip install .` build a wheel without it)."""
    import tomllib

    listed = set(
        tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    data = {"visualizer.live.static", "visualizer.data", "visualizer.builtin_presets"}
    assert folders - listed == set()
    assert listed - folders - data == set()
