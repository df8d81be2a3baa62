"""The package's shape: no import cycles, small modules and classes, a docstring on each."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "reactor"
MAX_MODULE_LINES = 300
MAX_CLASS_LINES = 200


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_imports(tree: ast.Module, modules: set[str]) -> set[str]:
    """reactor modules this one imports, at the top or inside functions (not for types only)."""
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    imported: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reactor"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                imported.add(candidate if candidate in modules else node.module)
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if a.name.startswith("reactor")}
    return imported & modules


def test_no_import_cycle_in_the_package() -> None:
    modules = _modules()
    graph = {
        name: _runtime_imports(ast.parse(path.read_text()), set(modules)) - {name}
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_modules_and_classes_stay_small() -> None:
    for name, path in _modules().items():
        text = path.read_text()
        assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name}: over {MAX_MODULE_LINES} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= MAX_CLASS_LINES, f"{name}.{node.name}: {length} lines"


def test_every_module_opens_with_a_one_line_summary() -> None:
    for name, path in _modules().items():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, f"{name}: no module docstring"
        first = docstring.splitlines()[0]
        assert first.endswith((".", ":")) and len(first) <= 100, f"{name}: {first!r}"
