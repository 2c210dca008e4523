"""The L&A test deck: deterministic, covers every rule and bad sheet, reads with zero wrong outcomes."""

from __future__ import annotations

import json
import time

import pytest

from count.ballots.interpret import decode_image, interpret_file, interpret_sheet, read_scanned
from count.ballots.rules import box_ids
from drivers.scanner.base import ScannerStatus
from drivers.scanner.simulator import SimulatedScanner
from simulation import deck


def test_plan_is_deterministic_by_seed(election):
    a = deck.plan_deck(election, 40, seed=3)
    b = deck.plan_deck(election, 40, seed=3)
    c = deck.plan_deck(election, 40, seed=4)
    assert a == b and a != c
    assert deck.render_plan(a[5], election) == deck.render_plan(b[5], election)


def test_first_pass_covers_every_rule_and_bad_sheet(election):
    plans = deck.plan_deck(election, 40, seed=0)
    cases = {p.case for p in plans if p.kind == "ballot"}
    for style in ("bs-district-07", "bs-party-list"):
        contest = election.contest(style[3:])
        assert set(deck._cases(contest)) <= {p.case for p in plans if p.style == style}
    assert {"withdrawn-candidate", "party+withdrawn-number", "party+beyond-list-number",
            "number-without-party", "party+2-numbers", "two-parties", "against-all"} <= cases
    assert {p.kind for p in plans if p.kind != "ballot"} == set(deck.BAD_SHEETS)


def test_truth_follows_the_rules(election):
    for p in deck.plan_deck(election, 60, seed=9):
        if p.kind != "ballot":
            assert p.expected == {"accepted": False, "reason": deck.EXPECTED_REJECTION[p.kind],
                                  "outcomes": []}
            continue
        (o,) = p.expected["intent"]
        contest = election.contest(o["contest"])
        assert set(p.marks) <= set(box_ids(contest))
        assert set(p.marks.values()) <= set(deck.MARK_SHAPES)
        if p.expected["accepted"]:
            assert p.expected["outcomes"] == p.expected["intent"]
        else:
            assert p.expected["reason"] in ("marginal-needs-review", "mark-outside-box", "uneven-light")


def test_degradation_ranges(election):
    plans = deck.plan_deck(election, 300, seed=1)
    d = [p.degradation for p in plans]
    assert all(-6 <= x["skew_deg"] <= 6 and 0.97 <= x["scale"] <= 1.03 for x in d)
    assert sum(abs(x["skew_deg"]) > 3 for x in d) < 0.1 * len(d)
    assert all(abs(s) <= 4 for x in d for s in x["shift_mm"])
    assert {x["dpi"] for x in d} == {150, 200, 240, 300}
    assert any(x["upside_down"] for x in d) and any(x["streaks"] for x in d)
    assert any(x["stray_marks"] for x in d)
    def hesitations(plans):
        return [p for p in plans if any(o["kind"] == "hesitation" for o in p.others)]

    assert len(hesitations(plans)) == 1                      # L&A decks: the first-pass sheet only
    assert len(hesitations(deck.plan_deck(election, 100, 1, hesitation=0.2))) > 5
    assert {x["format"] for x in d} == {"png", "jpg"}
    assert {p.kind for p in deck.plan_deck(election, 40, seed=1, dpi=200)} >= {"ballot"}
    assert {p.degradation["dpi"] for p in deck.plan_deck(election, 40, seed=1, dpi=200)} == {200}


def test_ci_deck_reads_with_zero_wrong_outcomes(election, tmp_path):
    """80 degraded sheets at mixed dpi: every rule, every bad sheet (the quick L&A run)."""
    path = deck.write_deck(election, tmp_path, sheets=80, seed=2026)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert len(doc["sheets"]) == 80 and doc["station"] == election.station.id
    wrong, returned, bad = [], [], []
    for s in doc["sheets"]:
        r = interpret_file(tmp_path / s["file"], election)
        if not s["accepted"]:
            if r.reason != s["reason"]:
                bad.append((s["file"], s["kind"], s["reason"], r.reason))
            continue
        if not r.accepted:
            returned.append((s["file"], r.reason))
            continue
        got = [{k: v for k, v in o.to_json().items() if k != "marginal"} for o in r.outcomes]
        if got != s["outcomes"]:
            wrong.append((s["file"], s["case"], got, s["outcomes"]))
    assert wrong == []
    assert bad == []
    assert returned == []          # an L&A deck reads exactly: its tally must match
    tally = {c: {"valid": 0, "invalid": 0, "blank": 0, "votes": {}} for c in doc["tally"]}
    for s in doc["sheets"]:
        r = interpret_file(tmp_path / s["file"], election)
        for o in r.outcomes if r.accepted else ():
            tally[o.contest][o.status] += 1
            if o.choice:
                tally[o.contest]["votes"][o.choice] = tally[o.contest]["votes"].get(o.choice, 0) + 1
    for c, t in tally.items():
        want = doc["tally"][c]
        assert [t[k] for k in ("valid", "invalid", "blank")] == [want[k] for k in ("valid", "invalid", "blank")]
        assert t["votes"] == {k: v for k, v in want["votes"].items() if v}


def test_hesitation_dots_are_never_votes(election):
    """A dot on an unmarked box reads blank or marginal: the sheet is right or returned."""

    plans = [p for p in deck.plan_deck(election, 60, seed=8, dpi=150, hesitation=1.0)
             if p.kind == "ballot" and any(o["kind"] == "hesitation" for o in p.others)][:24]
    assert len(plans) >= 20
    for p in plans:
        r = interpret_sheet(decode_image(deck.render_plan(p, election)), election)
        dot = next(o["boxes"][0] for o in p.others if o["kind"] == "hesitation")
        assert r.marks.get(dot, "blank") != "marked"
        if r.accepted:
            got = [{k: v for k, v in o.to_json().items() if k != "marginal"} for o in r.outcomes]
            assert got == p.expected["intent"]
        else:
            assert r.reason in ("marginal-needs-review", "mark-outside-box", "uneven-light")


def test_expected_tally_counts_accepted_sheets(election):
    plans = deck.plan_deck(election, 120, seed=5)
    t = deck.expected_tally(election, plans)
    for cid, c in t.items():
        accepted = [p for p in plans if p.expected["accepted"]
                    and p.expected["outcomes"][0]["contest"] == cid]
        assert c["ballots_read"] == len(accepted) == c["valid"] + c["invalid"] + c["blank"]
        assert sum(c["votes"].values()) == c["valid"]
    prefs = t["party-list"]["preferences"]
    assert sum(n for per in prefs.values() for n in per.values()) == sum(
        1 for p in plans if p.expected["accepted"] and p.expected["outcomes"][0]["preference"])


@pytest.mark.slow
def test_large_deck_zero_wrong(election, tmp_path):
    path = deck.write_deck(election, tmp_path, sheets=600, seed=77, dpi=200)
    doc = json.loads(path.read_text(encoding="utf-8"))
    for s in doc["sheets"]:
        r = interpret_file(tmp_path / s["file"], election)
        if s["accepted"] and r.accepted:
            got = [{k: v for k, v in o.to_json().items() if k != "marginal"} for o in r.outcomes]
            assert got == s["outcomes"], s["file"]
        elif not s["accepted"]:
            assert r.reason == s["reason"], s["file"]


def test_simulated_scanner_feeds_the_deck(election):
    """The simulator fed with generated marked sheets; faults of the feed are rejections."""

    plans = deck.plan_deck(election, 6, seed=12, dpi=150)
    readings = []
    with SimulatedScanner(deck.sheet_source(election, 6, seed=12, dpi=150)) as s:
        while (sh := s.next_sheet(time.monotonic())).status is not ScannerStatus.EMPTY:
            readings.append(read_scanned(sh, election))
    assert len(readings) == 6
    for p, r in zip(plans, readings, strict=True):
        if p.kind == "truncated-file":
            assert r.reason == "scanner-fault"          # the simulator lost the cut-off file
        elif p.expected["accepted"]:
            assert r.accepted or r.reason == "marginal-needs-review"
        else:
            assert r.reason == p.expected["reason"]
