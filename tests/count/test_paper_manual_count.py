"""The manual count on the paper protocol (count/paper.py ``manual_count_blocks``), read back from the printer.

The commission signs its manual count (count/manual_protocol.py); the revision is
printed on the simulated ESC/POS printer, which turns the bytes it receives back
into paper (drivers/printer/simulator.py). The test reads that page back: every
line it expects (rendered alone, as the printer renders each block) must be found
on the printed page, row for row, in the order of the document: the manual
section after the machine count's relations and before the hash, per line machine
· manual · difference, the relations over the manual figures with the contest's
title, the explanation, the revision it corrects, in Kyrgyz and Russian.
"""

from __future__ import annotations

import numpy as np
import pytest
from election_values import build_election, party_list_contest
from PIL import Image

from count.manual_count import LINE_TEXT
from count.manual_protocol import manual_count_form, sign_manual_count
from count.paper import (
    EXPLANATION,
    MANUAL_RELATIONS,
    MANUAL_TITLE,
    SUPERSEDES,
    bi,
    manual_count_blocks,
    option_label,
    protocol_document,
)
from count.protocol import latest_protocol
from count.role import count_files
from drivers.printer.document import WIDTH_58MM, Document, Heading, Row, Text, render_pages
from drivers.printer.simulator import SimulatedPrinter
from simulation.table import MEMBER, provision_home
from station import polls
from station.db import open_station_db
from station.package import current_package


def rows_of(image: Image.Image) -> list[bytes]:
    return [row.tobytes() for row in np.asarray(image.convert("1"), dtype=bool)]


def find_on_paper(page: list[bytes], block, start: int = 0) -> int | None:
    """Where ``block``, rendered alone at the printer's width, stands on the printed ``page`` (row index)."""
    (strip,) = render_pages(Document([block]), WIDTH_58MM)
    want = rows_of(strip)
    # Skip the block's blank rows at its top: the search starts on its first row with ink.
    first = next(i for i, r in enumerate(want) if r != want[0] or i == len(want) - 1)
    want = want[first:] if any(want) else want
    for y in range(start, len(page) - len(want) + 1):
        if page[y] == want[0] and page[y:y + len(want)] == want:
            return y
    return None


def read_back(page_png, blocks) -> list[int]:
    """The row of each block on the page, in order; fails naming the first block not found."""
    page = rows_of(Image.open(page_png))
    at, ys = 0, []
    for b in blocks:
        y = find_on_paper(page, b, at)
        assert y is not None, f"not on the printed page (after row {at}): {b}"
        ys.append(y)
        at = y + 1
    return ys


@pytest.fixture
def closed_home(tmp_path, demo_package):
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")
    conn = open_station_db(paths.station_db)
    try:
        polls.apply(conn, "close", actor=f"member:{MEMBER[0]}")
    finally:
        conn.close()
    return paths


def typed_figures(lines) -> dict[str, str]:
    """A hand count of 5 voters: 4 ballots of each contest, a slip the commission explains."""
    typed = {line.key: "0" for line in lines}
    typed["voters_identified"] = "5"
    by_contest: dict[str, list] = {}
    for line in lines:
        if line.contest:
            by_contest.setdefault(line.contest, []).append(line)
    for cid, ls in by_contest.items():
        votes = [x for x in ls if x.line.startswith("votes:")]
        typed[f"{cid}/ballots_found"] = "4"
        typed[f"{cid}/valid"] = "3"
        typed[f"{cid}/invalid"] = "1"
        typed[votes[0].key] = "2"
        typed[votes[1].key] = "2"          # one vote too many: votes (4) != valid (3)
    return typed


def latest_body(paths) -> dict:
    with count_files(paths) as f:
        return latest_protocol(f.store).body


def test_the_printed_protocol_carries_the_manual_count(closed_home, tmp_path):
    paths = closed_home
    election = current_package(paths).election
    lines = manual_count_form(paths)["lines"]
    typed = typed_figures(lines)
    explanation = "Бир бюллетень эки жолу саналды / Один бюллетень посчитан дважды"
    with SimulatedPrinter(tmp_path / "printer") as printer:
        out = sign_manual_count(paths, typed, explanation, member=MEMBER[0], pin=MEMBER[2], printer=printer,
                                out_dir=tmp_path / "out")
        assert out["files"]["printed"] == "yes"
        printed = printer.printed[-1].png
    body = latest_body(paths)
    section = body["manual_count"]
    assert out["revision"] == 2 and section["explanation"] == explanation

    district, party_list = (election.contest(c["contest"]) for c in body["contests"])
    first_vote = next(x for x in lines if x.contest == district.id and x.line.startswith("votes:"))
    party_vote = next(x for x in lines if x.contest == party_list.id and x.line.startswith("votes:"))
    read_back(printed, [
        Heading(MANUAL_TITLE[0], size=24), Heading(MANUAL_TITLE[1], size=24),
        Row(bi(LINE_TEXT["voters_identified"]), "— · 5 · —", size=18),      # no summary: no machine figure
        Text(f"{district.title.ky}\n{district.title.ru}", size=20, bold=True),
        Row(bi(LINE_TEXT["ballots_found"]), "0 · 4 · +4", size=18),
        Row(bi(LINE_TEXT["valid"]), "0 · 3 · +3", size=18),
        Row(bi(LINE_TEXT["invalid"]), "0 · 1 · +1", size=18),
        Row(option_label(district, first_vote.line[len("votes:"):]), "0 · 2 · +2", size=18),
        Text(f"{party_list.title.ky}\n{party_list.title.ru}", size=20, bold=True),
        Row(option_label(party_list, party_vote.line[len("votes:"):]), "0 · 2 · +2", size=18),
        Text(bi(MANUAL_RELATIONS) + ":", size=20, bold=True),
        Text(f"{bi(EXPLANATION)}: {explanation}", size=18),
        Row(bi(SUPERSEDES), f"{body['supersedes'][:16]}…", size=16),
    ])

    # Each contest's failing relation (4 votes, 3 valid) names the contest by its title, in both languages.
    doc = protocol_document(election, body, None, revision=2)
    failing = [b for b in doc.blocks if isinstance(b, Text) and b.text.startswith("✘")]
    assert len(failing) == 2
    for contest, block in zip((district, party_list), failing, strict=True):
        assert contest.id not in block.text
        assert contest.title.ky in block.text and contest.title.ru in block.text and "4 = 3" in block.text
    read_back(printed, failing)


def test_a_machine_protocol_prints_no_manual_section(closed_home):
    election = current_package(closed_home).election
    body = {"station": "UIK-1", "closed_at": "2026-11-29T14:00:00Z", "voters_on_list": 1,
            "voters_identified": None, "contests": [], "control": []}
    assert Heading(MANUAL_TITLE[0], size=24) not in protocol_document(election, body, None).blocks


def test_preference_lines_print_per_party_only_where_a_count_is_not_zero():
    election = build_election(party_list_contest("pl", {"p-a": 5, "p-b": 5}))
    body = {"manual_count": {"lines": [
        {"line": "pl/pref:p-a:1", "contest": "pl", "machine": 2, "manual": 3, "difference": 1},
        {"line": "pl/pref:p-a:2", "contest": "pl", "machine": 0, "manual": 0, "difference": 0},
        {"line": "pl/pref:p-b:4", "contest": "pl", "machine": 1, "manual": 1, "difference": 0},
    ], "control": [{"relation": "preferences<=party-votes", "contest": "pl", "party": "p-a", "ok": False,
                     "values": [4, 3]}], "explanation": "№1 эки жолу / №1 дважды", "differences": 1}}
    texts = [b.text for b in manual_count_blocks(election, body) if isinstance(b, Text)]
    short = {p.id: p.short for p in election.contest("pl").parties}
    assert f"{short['p-a']}: №1: 2 · 3 · +1" in texts and f"{short['p-b']}: №4: 1 · 1 · 0" in texts
    assert not any("№2" in t for t in texts)
    # The failing party is named on its relation's line.
    (failing,) = [t for t in texts if t.startswith("✘")]
    assert failing.endswith(f": {short['p-a']}: 4 ≤ 3")
