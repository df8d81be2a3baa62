"""The package's shape: the layers' contracts, no import cycles, a docstring on each
module, and an architecture document that names every module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "reactor"


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


def test_the_layers_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml) replace any size limit: where code goes
    is decided by what it may import."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_architecture_md_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        name
        for name, path in _modules().items()
        if f"`{path.relative_to(PACKAGE).as_posix()}`" not in text
        and not (
            path.name == "__init__.py"
            and f"`{path.parent.relative_to(PACKAGE).as_posix()}/`" in text
        )
    ]
    assert not missing, f"docs/architecture.md does not mention {missing}"


def test_every_module_opens_with_a_one_line_summary() -> None:
    for name, path in _modules().items():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, f"{name}: no module docstring"
        first = docstring.splitlines()[0]
        assert first.endswith((".", ":")) and len(first) <= 100, f"{name}: {first!r}"


def test_migrations_import_only_alembic_sqlalchemy_and_support() -> None:
    """A migration must not change when application code changes: it may use the SQL
    files' loader and the masking helpers (`reactor.support`), nothing of the layers."""
    allowed = ("alembic", "sqlalchemy", "__future__", "reactor.support")
    for path in sorted((ROOT / "alembic" / "versions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for module in modules:
                assert module.startswith(allowed), f"{path.name} imports {module}"
