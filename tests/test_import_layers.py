"""Imports only go down, and no two modules import each other, read from the source's syntax trees.

Layers, from the bottom: the core (``metarl`` and its subpackages), the families (``envs/``, installed as
``metarl.envs``), the agents (``agents/``, installed as ``metarl.agents``). A module may import its own
layer and the layers below it: the core never imports ``metarl.envs`` or ``metarl.agents``, and
``metarl.envs`` never imports ``metarl.agents``. The core finds families and agents at run time through
the entry-point groups ``metarl.envs`` and ``metarl.agents`` (declared in pyproject.toml), never by name.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING``. Relative imports are
resolved against the importing module. The rules that turn an import into an edge of the module graph:

- ``import a.b.c`` depends on ``a.b.c`` (not on ``a`` and ``a.b``, which Python imports on the way anyway:
  a module's dependence on its enclosing packages is not an edge, or every package would be a cycle);
- ``from a.b import c`` depends on ``a.b.c`` when that is a module, else on ``a.b`` (``c`` is a name in it);
- a package's ``__init__`` importing its own submodules is an ordinary edge; a submodule importing back
  the package that imports it (``import metarl`` inside a module that ``metarl/__init__.py`` imports)
  closes a cycle, and is reported, since that module then sees the package half-initialised.

A cycle is a strongly connected component of more than one module. Imports of modules outside the
three trees (torch, gymnasium, ...) are ignored.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TREES = {"metarl": "metarl", "envs": "metarl.envs", "agents": "metarl.agents"}  # source folder -> package
LAYERS = ("core", "envs", "agents")  # bottom to top


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's dependency: ``source`` imports ``target`` at ``path:line`` (``text``)."""

    source: str
    target: str
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} -> {self.target}  ({self.text})"


def module_files() -> dict[str, pathlib.Path]:
    """Every module of the three trees by its installed name, e.g. ``metarl.envs.bandit`` for envs/bandit.py."""
    modules = {}
    for folder, package in TREES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def layer(module: str) -> str:
    for name in ("envs", "agents"):
        if module == f"metarl.{name}" or module.startswith(f"metarl.{name}."):
            return name
    return "core"


def imports_of(module: str, path: pathlib.Path, known: set[str]) -> list[Import]:
    """The in-tree dependencies of ``module``, one per imported module, from every import in its tree."""
    is_package = path.name == "__init__.py"
    source, rel = path.read_text(), str(path.relative_to(ROOT))
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(filter(None, [*anchor, base]))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        text = ast.get_source_segment(source, node) or ""
        found += [Import(module, t, rel, node.lineno, " ".join(text.split())) for t in dict.fromkeys(targets)
                  if t in known and t != module]
    return found


def import_graph() -> list[Import]:
    files = module_files()
    return [edge for module, path in files.items() for edge in imports_of(module, path, set(files))]


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_walk_sees_every_tree():
    files = module_files()
    assert {"metarl", "metarl.registry", "metarl.envs", "metarl.envs.bandit", "metarl.agents",
            "metarl.agents.rl2"} <= set(files)
    edges = import_graph()
    assert any(e.source == "metarl.envs.bandit" and layer(e.target) == "core" for e in edges)  # envs import the core


def test_imports_only_go_down():
    upward = [e for e in import_graph() if LAYERS.index(layer(e.target)) > LAYERS.index(layer(e.source))]
    if upward:
        pytest.fail("modules import a layer above their own (core < envs < agents); the core finds families and "
                    "agents through their entry-point groups instead:\n" + "\n".join(map(str, upward)), pytrace=False)


def test_no_import_cycles():
    edges = import_graph()
    found = cycles(edges)
    report = []
    for component in found:
        members = set(component)
        report.append("cycle between " + ", ".join(component) + ":")
        report += [f"    {e}" for e in edges if e.source in members and e.target in members]
    if found:
        pytest.fail("modules import each other (directly or around a loop):\n" + "\n".join(report), pytrace=False)
