"""Reading README.md the way the doc tests need it: sections, tables, marked code blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

_MARKED_BLOCK = re.compile(
    r"<!--\s*tested:\s*(?P<kind>[\w-]+)(?:\s+expect=(?P<expect>[\w-]+))?\s*-->\s*\n"
    r"```python\n(?P<code>.*?)\n```",
    re.DOTALL,
)
_FENCE = re.compile(r"```[\w-]*\n(.*?)\n```", re.DOTALL)


@dataclass(frozen=True)
class Snippet:
    """A fenced ```python block preceded by ``<!-- tested: KIND [expect=NAME] -->``."""

    kind: str
    expect: str | None
    code: str
    line: int

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.expect or ''}@README.md:{self.line}"


def text() -> str:
    return README.read_text(encoding="utf-8")


def snippets(kind: str) -> list[Snippet]:
    """Every marked python block of ``kind``, in README order."""
    body = text()
    return [
        Snippet(m["kind"], m["expect"], m["code"], body.count("\n", 0, m.start("code")) + 1)
        for m in _MARKED_BLOCK.finditer(body)
        if m["kind"] == kind
    ]


def section(title: str) -> str:
    """The text under ``## title`` up to the next level-2 heading."""
    body = text()
    match = re.search(rf"^## {re.escape(title)}\s*$", body, re.MULTILINE)
    if match is None:
        raise AssertionError(f"README.md has no '## {title}' section")
    rest = body[match.end() :]
    following = re.search(r"^## ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def code_blocks(markdown: str) -> list[str]:
    """Contents of every fenced code block in ``markdown``."""
    return _FENCE.findall(markdown)


def table_rows(markdown: str) -> list[list[str]]:
    """Cells of every table body row in ``markdown`` (header and separator rows dropped)."""
    rows: list[list[str]] = []
    lines = markdown.splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        is_separator = re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line.strip()) is not None
        next_is_separator = number + 1 < len(lines) and re.fullmatch(
            r"\|(\s*:?-+:?\s*\|)+", lines[number + 1].strip()
        )
        if is_separator or next_is_separator:
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def backticked(cell: str) -> list[str]:
    """The `code` spans of a table cell."""
    return re.findall(r"`([^`]+)`", cell)
