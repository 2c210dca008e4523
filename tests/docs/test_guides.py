"""The guides exist, cover both languages and name commands the CLI has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from cli import cli

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
GUIDES = ["technician-guide.md", "commission-guide.md"]
# Commands the guides name whose implementation is still landing elsewhere:
# reported, not failed, so the guides can be written first.
PENDING: set[tuple[str, ...]] = set()


def _commands(text: str) -> set[tuple[str, ...]]:
    found = set()
    for m in re.finditer(r"(?:^\s*|sudo |`)uchastok((?: [a-z][a-z-]+){1,2})", text, re.M):
        found.add(tuple(m.group(1).split()))
    return found


def _resolve(words: tuple[str, ...]) -> bool:
    cmd: click.Command = cli
    ctx = click.Context(cli)
    for i, word in enumerate(words):
        if not isinstance(cmd, click.Group):
            return i > 0          # "uchastok status --json": the rest are arguments
        sub = cmd.get_command(ctx, word)
        if sub is None:
            return False
        cmd = sub
    return True


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_names_existing_commands(guide):
    text = (DOCS / guide).read_text(encoding="utf-8")
    used = _commands(text)
    assert used, guide
    missing = sorted(" ".join(w) for w in used if not _resolve(w) and w[:2] not in PENDING)
    assert missing == []


def test_commission_guide_is_in_russian_and_kyrgyz():
    text = (DOCS / "commission-guide.md").read_text(encoding="utf-8")
    assert "## Русский" in text and "## Кыргызча" in text
    ru, ky = text.split("## Кыргызча")
    for section in ("polls open", "polls pause", "polls resume", "polls close",
                    "identify manual", "count protocol", "count zero-report", "uchastok status"):
        assert section in ru and section in ky, section
    assert set("ңөү") <= set(ky.lower())


def test_technician_guide_covers_the_whole_path():
    text = (DOCS / "technician-guide.md").read_text(encoding="utf-8")
    for step in ("bookworm", "provision install", "provision init", "--cec-key",
                 "provision enroll", "provision load", "count test-deck", "expected.json",
                 "zero-report", "Seal", "Troubleshooting", "Self-test"):
        assert step in text, step
