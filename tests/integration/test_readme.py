"""The README and docs/: every SQL statement they show runs, every setting is documented,
and every relative link leads to a file and heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from tests.helpers import ROOT, insert_invoices

README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
CONFIGURATION = ROOT / "docs" / "configuration.md"
OPERATOR_QUERIES = ROOT / "docs" / "operator-queries.md"


def _sql_blocks() -> list[str]:
    """Every ```sql block of the README and of docs/*.md.

    The hand-trigger demo and the first tour wait for a running reactor:
    tests/e2e/test_first_contact.py runs them against one, in the psql that `reactor run` prints.
    """
    demo = _section("Trigger a notification by hand")
    blocks = _sql_blocks_in(README.replace(demo, ""))
    for page in DOCS:
        if page.name != "first-steps.md":
            blocks += _sql_blocks_in(page.read_text())
    return blocks


def _statements(block: str) -> list[str]:
    """The block's statements: split at semicolons outside $$-quoted bodies."""
    statements, current = [], ""
    for index, part in enumerate(block.split("$$")):
        if index % 2:  # inside a $$ body
            current += "$$" + part + "$$"
            continue
        *done, current_tail = (current + part).split(";")
        statements += done
        current = current_tail
    statements.append(current)
    return [
        s.strip()
        for s in statements
        if s.strip() and not all(line.startswith("--") for line in s.strip().splitlines())
    ]


def _section(heading: str) -> str:
    return README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _sql_blocks_in(text: str) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_every_readme_and_docs_query_runs(database_url: str) -> None:
    assert len(_statements("".join(_sql_blocks_in(OPERATOR_QUERIES.read_text())))) >= 7
    insert_invoices(database_url, 2, status="MATCHED")
    ran = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        for block in _sql_blocks():
            for statement in _statements(block):
                conn.execute(statement)
                ran += 1
    assert ran >= 7


def test_the_configuration_reference_names_every_setting() -> None:
    from reactor.settings.service import Settings

    reference = CONFIGURATION.read_text()
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in reference, name
    assert "](docs/configuration.md)" in README, "the README links the full reference"


# ------------------------------------------------------------------------------ links

_FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _FENCE.sub("", page.read_text()).splitlines():
        if match := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line):
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return [
        target
        for target in _LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_every_relative_link_leads_to_a_file_and_heading_that_exist() -> None:
    pages = [ROOT / "README.md", *DOCS]
    checked = 0
    for page in pages:
        for target in _relative_links(page):
            path, _, anchor = target.partition("#")
            destination = (page.parent / path).resolve() if path else page
            assert destination.exists(), f"{page.relative_to(ROOT)}: {target}: no such file"
            if anchor:
                assert destination.suffix == ".md", f"{page.relative_to(ROOT)}: {target}"
                assert anchor in _anchors(destination), (
                    f"{page.relative_to(ROOT)}: {target}: no such heading"
                )
            checked += 1
    assert checked >= 20


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _relative_links(ROOT / "README.md")}
    for page in DOCS:
        assert page.resolve() in linked, f"the README never links {page.relative_to(ROOT)}"
