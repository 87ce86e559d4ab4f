"""The documentation stays true to the code and to itself.

- The fault table in ``docs/reliability.md`` lists exactly the rows of the test suite's fault
  matrix (``fault_cases``), each with the same expected outcome.
- Every page in ``mkdocs.yml``'s nav exists, and every page under ``docs/`` is in the nav.
- Every ``docs/...`` link in ``README.md`` points to an existing file.
- ``README.md`` stays a short front page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
DOCS = ROOT / "docs"
README = ROOT / "README.md"
RELIABILITY = DOCS / "reliability.md"

# The fault cases are moving from tests/helpers/fault_cases.py to tests/helpers/fault_cases.py.
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
try:
    from helpers import fault_cases
except ImportError:
    import fault_cases

README_MAX_LINES = 250
# The header of the checked table in docs/reliability.md; its first column is the case id.
FAULT_TABLE_HEADER = (
    "Case",
    "Emulator fault",
    "Set-up",
    "Through the hook",
    "Verdict",
    "Requests",
    "Delivered",
    "Airflow task",
    "Tries",
    "Ledger",
)
# How a row's connection is shown when it is not the emulator with the right key.
CONNECTION_NOTES = {
    fault_cases.BAD_KEY: "connection with a wrong key",
    fault_cases.CLOSED: "connection to a closed port",
}


# -- the fault table -------------------------------------------------------------------------


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def setup_text(case: Any) -> str:
    """The row's set-up: the fault's parameters (but the message text), whether the server
    echoes the key, an unusual connection or recipient; ``default`` when there is nothing to
    say."""
    parts = [f"{name}={_value(value)}" for name, value in case.params.items() if name != "message"]
    if fault_cases.KEY in str(case.params.get("message", "")):
        parts.append("the answer echoes the API key")
    if case.count != 1:
        parts.append(f"count={case.count}")
    if case.conn in CONNECTION_NOTES:
        parts.append(CONNECTION_NOTES[case.conn])
    if case.recipient:
        parts.append(f"recipient={case.recipient}")
    return ", ".join(parts) or "default"


def expected_row(case: Any) -> list[str]:
    """The table row for one fault case, as the cells' text without backticks."""
    return [
        case.id,
        case.fault or "none",
        setup_text(case),
        case.error.__name__ if case.error is not None else "sent",
        case.verdict.replace("_", " "),
        str(case.requests),
        str(case.delivered),
        case.task.state,
        str(case.task.tries),
        case.ledger_state,
    ]


def markdown_row(cells: list[str]) -> str:
    """A row as it is written in docs/reliability.md (names and states in backticks)."""
    case_id, fault, setup, hook, verdict, requests, delivered, state, tries, ledger = cells
    shown = [
        f"`{case_id}`",
        fault if fault == "none" else f"`{fault}`",
        ", ".join(f"`{part}`" if "=" in part else part for part in setup.split(", ")),
        hook if hook == "sent" else f"`{hook}`",
        verdict,
        requests,
        delivered,
        state,
        tries,
        f"`{ledger}`",
    ]
    return "| " + " | ".join(shown) + " |"


def parse_table(text: str, header: tuple[str, ...]) -> list[list[str]]:
    """The body rows of the Markdown table whose header is ``header``, cells stripped of
    backticks and surrounding spaces."""
    lines = text.splitlines()
    starts = [index for index, line in enumerate(lines) if _cells(line) == list(header)]
    assert len(starts) == 1, f"expected one table with the header {' | '.join(header)}"
    rows = []
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def _cells(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    return [cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")]


def test_fault_table_lists_every_case_with_its_outcome() -> None:
    rows = parse_table(RELIABILITY.read_text(encoding="utf-8"), FAULT_TABLE_HEADER)
    documented = {row[0]: row for row in rows}
    expected = {case.id: expected_row(case) for case in fault_cases.CASES}

    assert len(documented) == len(rows), "a case is listed twice in docs/reliability.md"
    missing = [case_id for case_id in expected if case_id not in documented]
    extra = sorted(set(documented) - set(expected))
    assert not missing, "docs/reliability.md lacks these fault cases; add the rows:\n" + "\n".join(
        markdown_row(expected[case_id]) for case_id in missing
    )
    assert not extra, f"docs/reliability.md lists cases the test suite does not have: {extra}"
    wrong = [case_id for case_id in expected if documented[case_id] != expected[case_id]]
    assert not wrong, "docs/reliability.md shows other outcomes; the rows should read:\n" + "\n".join(
        markdown_row(expected[case_id]) for case_id in wrong
    )


def test_fault_table_counts() -> None:
    """The sentence that sums the table up agrees with the cases."""
    text = " ".join(RELIABILITY.read_text(encoding="utf-8").split())
    found = re.search(
        r"The table has (\d+) rows, covering the emulator's (\d+) faults: (\d+) end `sent` in the "
        r"ledger, (\d+) `failed` and (\d+) `unknown`",
        text,
    )
    assert found, "docs/reliability.md lost the sentence that sums up the fault table"
    states = [case.ledger_state for case in fault_cases.CASES]
    faults = {case.fault for case in fault_cases.CASES if case.fault}
    assert [int(number) for number in found.groups()] == [
        len(fault_cases.CASES),
        len(faults),
        states.count("sent"),
        states.count("failed"),
        states.count("unknown"),
    ]


# -- the site and the README -----------------------------------------------------------------


def nav_pages(nav: Any) -> list[str]:
    """Every page path in a mkdocs nav (nested lists and ``{title: page}`` dicts)."""
    if isinstance(nav, str):
        return [] if "://" in nav else [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


def _mkdocs_config() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_every_nav_page_exists() -> None:
    config = _mkdocs_config()
    docs_dir = ROOT / config.get("docs_dir", "docs")
    pages = nav_pages(config.get("nav"))
    assert pages, "mkdocs.yml has no nav"
    missing = [page for page in pages if not (docs_dir / page).is_file()]
    assert not missing, f"mkdocs.yml lists pages that do not exist: {missing}"
    assert len(pages) == len(set(pages)), "mkdocs.yml lists a page twice"


def test_every_page_is_in_the_nav() -> None:
    config = _mkdocs_config()
    docs_dir = ROOT / config.get("docs_dir", "docs")
    pages = set(nav_pages(config.get("nav")))
    on_disk = {path.relative_to(docs_dir).as_posix() for path in docs_dir.rglob("*.md")}
    assert not on_disk - pages, f"pages missing from mkdocs.yml's nav: {sorted(on_disk - pages)}"


def test_readme_links_to_docs_exist() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)\s#]+)(?:#[^)\s]*)?\)", text)
    assert links, "README.md links to no docs page"
    missing = sorted({link for link in links if not (ROOT / link).is_file()})
    assert not missing, f"README.md links to missing files: {missing}"


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, (
        f"README.md is the front page: at most {README_MAX_LINES} lines; move detail to docs/"
    )
    for command in ("make demo", "make test"):
        assert command in text


def test_changelog_has_one_home() -> None:
    """The changelog's text lives in docs/changelog.md; the root CHANGELOG.md only points there."""
    pointer = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "docs/changelog.md" in pointer
    assert len(pointer.strip().splitlines()) <= 3
    assert "## [Unreleased]" in (DOCS / "changelog.md").read_text(encoding="utf-8")
