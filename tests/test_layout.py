"""The code's shape: the public API, who imports what, no import cycles, the architecture page.

The import graph is built from the source with ``ast`` (``TYPE_CHECKING`` and function-level
imports included), so it is the graph of every import the code can make, not only the ones one
run happened to take. An import of ``a.b.c`` also imports the packages ``a.b`` on the way (the
top-level packages aside: importing anything of a distribution runs its ``__init__`` first,
which is where everything starts; and the packages the importing module sits in, which are
being imported already).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import agented_core

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
TOPS = ("agented_core", "agented_http", "agented_cli")


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(base: Path, top: str) -> dict[str, Path]:
    return {module_name(p, base): p for p in sorted((base / top).rglob("*.py"))}


SOURCES: dict[str, Path] = {m: p for top in TOPS for m, p in modules(SRC, top).items()}


def imports(name: str, path: Path) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(module imported from, names, line) for every import in the file, made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target, tuple(a.name for a in node.names), node.lineno


def edges(name: str, path: Path) -> set[str]:
    """The modules of ``src/`` that ``name`` imports, the packages on the way included."""
    out: set[str] = set()
    for target, names, _ in imports(name, path):
        found = [f"{target}.{n}" for n in names if f"{target}.{n}" in SOURCES] or [target]
        for module in found:
            parts = module.split(".")
            for i in range(2, len(parts) + 1):  # the top-level package itself excepted
                candidate = ".".join(parts[:i])
                # the packages `name` sits in are running already: no edge to them
                if candidate in SOURCES and not (name + ".").startswith(candidate + "."):
                    out.add(candidate)
    return out


def test_the_import_graph_of_src_has_no_cycle() -> None:
    graph = {name: edges(name, path) for name, path in SOURCES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_a_cycle_when_there_is_one(tmp_path: Path) -> None:
    # the cycle check above is only worth something if `edges` finds type-checking imports
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    )
    (pkg / "b.py").write_text("from . import a\n")
    SOURCES.update(modules(tmp_path, "pkg"))
    try:
        assert edges("pkg.a", pkg / "a.py") == {"pkg.b"}
        assert edges("pkg.b", pkg / "b.py") == {"pkg.a"}
    finally:
        for name in modules(tmp_path, "pkg"):
            SOURCES.pop(name)


def test_the_core_imports_neither_the_http_adapter_nor_the_command_line() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in SOURCES.items()
        if name.startswith("agented_core")
        for target, _, line in imports(name, path)
        if target.split(".")[0] in ("agented_http", "agented_cli", "starlette")
    ]
    assert bad == []


def test_every_public_name_is_importable_and_documented() -> None:
    documented = (ROOT / "docs" / "python-api.md").read_text("utf-8")
    assert len(set(agented_core.__all__)) == len(agented_core.__all__)
    for name in agented_core.__all__:
        value = getattr(agented_core, name)  # importable: `from agented_core import name`
        assert f"`{name}`" in documented, f"{name} is not in docs/python-api.md"
        if isinstance(value, type) or inspect.isfunction(value):
            assert value.__doc__ and value.__doc__.strip(), f"{name} has no docstring"
    section = documented.split("## The public names", 1)[1]
    listed = [n for n in re.findall(r"`([\w./]+)`", section) if "." not in n]
    extra = {n for n in listed if n not in agented_core.__all__}
    assert extra == set(), "docs/python-api.md lists names that are not public"


def is_public(target: str, name: str) -> bool:
    """True when ``from target import name`` takes a public name of the core.

    Public: in the ``__all__`` of a package, or of a module whose dotted path has no private
    (underscored) part.
    """
    if any(part.startswith("_") for part in target.split(".")):
        return False
    module = importlib.import_module(target)
    return name in getattr(module, "__all__", ())


# Plugins import these provider-SDK modules, which define no __all__ yet; the provider SDK's
# own work (in agented_core/providers/) gives them one or moves the names into the package.


def core_imports(paths: list[Path], base: Path) -> Iterator[tuple[str, str, str]]:
    for path in paths:
        name = module_name(path, base) if base in path.parents else path.stem
        for target, names, line in imports(name, path):
            if target.split(".")[0] != "agented_core":
                continue
            where = f"{path.relative_to(ROOT)}:{line}"
            if not names:
                yield where, target, ""
            for imported in names:
                yield where, target, imported


def test_the_http_adapter_imports_only_public_names_of_the_core() -> None:
    paths = sorted((SRC / "agented_http").rglob("*.py"))
    bad = [
        f"{where}: {target}.{name}"
        for where, target, name in core_imports(paths, SRC)
        if not is_public(target, name)
    ]
    assert bad == []


def test_the_plugins_import_only_public_names_of_the_core() -> None:
    paths = sorted((ROOT / "plugins").glob("*/src/*/**/*.py"))
    assert paths, "no plugin sources found"
    bad = [
        f"{where}: {target}.{name}"
        for where, target, name in core_imports(paths, ROOT / "plugins")
        if not is_public(target, name)
    ]
    assert bad == []


def test_every_module_named_on_the_architecture_page_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    named: set[str] = set()
    # full paths: agented_core/run/_executor.py, agented_http/, agented_cli/_render.py
    named.update(re.findall(r"\b(agented_(?:core|http|cli)(?:/[\w.]+)*/?)", text))
    # table rows: a package in the first cell, its modules in the second
    for package, cell in re.findall(r"^\| `(agented_[\w/]+/)` \| (.+) \|$", text, re.M):
        named.update(package + m for m in re.findall(r"`(\w+\.py)`", cell))
    # the tree: top-level core modules
    tree = text.split("## The module tree", 1)[1].split("```")[1]
    named.update(f"agented_core/{m}" for m in re.findall(r"\b(\w+\.py)\b", tree))
    assert len(named) > 50
    missing = sorted(n for n in named if not (SRC / n.rstrip("/")).exists())
    assert missing == []


def test_every_module_opens_with_a_line_saying_its_job() -> None:
    for name, path in SOURCES.items():
        doc = ast.get_docstring(ast.parse(path.read_text("utf-8")))
        assert doc and doc.strip().splitlines()[0], f"{name} has no docstring"


def test_the_workspaces_package_sits_below_the_run_path() -> None:
    """Workspaces are a step the executor calls: they never reach back into the run path's
    drivers, the providers, the triggers or the facade (only templates and models)."""
    above = (
        "agented_core.agented",
        "agented_core.run._executor",
        "agented_core.run._supervisor",
        "agented_core.run._ownership",
        "agented_core.providers",
        "agented_core.triggers",
    )
    bad = [
        f"{name} imports {target}"
        for name, path in SOURCES.items()
        if name.startswith("agented_core.workspaces")
        for target in edges(name, path)
        if target.startswith(above)
    ]
    assert bad == []
    assert "agented_core.workspaces" in edges(
        "agented_core.run._executor", SOURCES["agented_core.run._executor"]
    )
