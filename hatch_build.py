"""Build hook: the messages' translations, compiled into the wheel.

Each `reactor/messages/locale/<language>/LC_MESSAGES/messages.po` is compiled to
`messages.mo` in a temporary folder and added to the wheel at the same package path,
where reactor/messages/locales.py reads it. The `.mo` files are never committed (a
source checkout compiles the `.po` in memory instead). A catalog that Babel cannot read,
or whose translations break a placeholder, fails the build; fuzzy entries are left out
(they fall back to English).

Configured in pyproject.toml under [tool.hatch.build.targets.wheel.hooks.custom].
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CATALOGS = "reactor/messages/locale"
DOMAIN = "messages"


class CatalogsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install runs from the checkout, which reads the `.po` files.
        if self.target_name != "wheel" or version == "editable":
            return
        self._compiled = Path(tempfile.mkdtemp(prefix="reactor-catalogs-"))
        root = Path(self.root)
        sources = sorted(root.glob(f"{CATALOGS}/*/LC_MESSAGES/{DOMAIN}.po"))
        if not sources:
            raise RuntimeError(f"no {DOMAIN}.po under {CATALOGS}/*/LC_MESSAGES/")
        for source in sources:
            package_path = source.relative_to(root).with_suffix(".mo").as_posix()
            target = self._compiled / package_path
            target.parent.mkdir(parents=True, exist_ok=True)
            compile_catalog(source, target)
            build_data["force_include"][str(target)] = package_path
            self.app.display_info(f"compiled {package_path}")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        compiled = getattr(self, "_compiled", None)
        if compiled is not None:
            shutil.rmtree(compiled, ignore_errors=True)


def compile_catalog(source: Path, target: Path) -> None:
    """`messages.po` -> `messages.mo`; ValueError naming the catalog's broken entries."""
    language = source.parent.parent.name
    with source.open("rb") as file:
        catalog = read_po(file, locale=language, abort_invalid=True)
    problems = [
        f"{source}:{message.lineno}: {message.id!r}: {error}"
        for message, errors in catalog.check()
        for error in errors
    ]
    if problems:
        raise ValueError("broken translations:\n" + "\n".join(problems))
    with target.open("wb") as file:
        write_mo(file, catalog, use_fuzzy=False)
