"""Reading marked sheets: every rule of DOMAIN.md "Ballots and contests" through the scanner path.

Sheets are rendered by the deck generator with chosen marks and degradation
(tests/ballots/conftest.py ``make_sheet``), then read by ``interpret_sheet``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from count.ballots.interpret import interpret_sheet
from count.ballots.reading import box_id


def _ids(election):
    d = election.contest("district-07")
    p = election.contest("party-list")
    active = [c.id for c in d.candidates if not c.withdrawn]
    withdrawn = next(c.id for c in d.candidates if c.withdrawn)
    p0 = p.parties[0]
    short = next(x for x in p.parties if len(x.candidates) < 54)
    return {
        "c0": box_id(d.id, active[0]), "c1": box_id(d.id, active[1]),
        "cw": box_id(d.id, withdrawn), "caa": box_id(d.id, "against-all"),
        "p0": box_id(p.id, p0.id), "p1": box_id(p.id, p.parties[1].id),
        "ps": box_id(p.id, short.id), "paa": box_id(p.id, "against-all"),
        "n3": box_id(p.id, 3), "n4": box_id(p.id, 4), "n54": box_id(p.id, 54),
        "nw": box_id(p.id, next(c.number for c in p0.candidates if c.withdrawn)),
        "nbeyond": box_id(p.id, len(short.candidates) + 1),
    }


# (id, style, marks, status, reason, choice-key, preference) — DOMAIN.md "Ballots and contests"
CASES = [
    ("candidate-one-mark-valid", "bs-district-07", ["c0"], "valid", None, "c0", None),
    ("candidate-blank", "bs-district-07", [], "blank", "no-mark", None, None),
    ("candidate-overvote", "bs-district-07", ["c0", "c1"], "invalid", "overvote", None, None),
    ("candidate-against-all", "bs-district-07", ["caa"], "valid", None, "caa", None),
    ("candidate-withdrawn", "bs-district-07", ["cw"], "invalid", "withdrawn-candidate", None, None),
    ("party-only", "bs-party-list", ["p0"], "valid", None, "p0", None),
    ("party-and-number", "bs-party-list", ["p0", "n3"], "valid", None, "p0", 3),
    ("party-and-number-54", "bs-party-list", ["p1", "n54"], "valid", None, "p1", 54),
    ("party-and-withdrawn-number", "bs-party-list", ["p0", "nw"], "valid", None, "p0", None),
    ("party-and-beyond-list", "bs-party-list", ["ps", "nbeyond"], "valid", None, "ps", None),
    ("party-two-numbers", "bs-party-list", ["p0", "n3", "n4"], "invalid", "party-multiple-numbers",
     None, None),
    ("number-without-party", "bs-party-list", ["n3"], "invalid", "number-without-party", None, None),
    ("two-parties", "bs-party-list", ["p0", "p1"], "invalid", "overvote", None, None),
    ("party-list-blank", "bs-party-list", [], "blank", "no-mark", None, None),
    ("party-list-against-all", "bs-party-list", ["paa"], "valid", None, "paa", None),
]

DEGRADED = {"dpi": 200, "skew_deg": 2.7, "shift_mm": [3.5, -3.0], "scale": 1.025, "blur_px": 0.9,
            "noise": 7.0, "format": "jpg", "jpeg_quality": 60, "streaks": 2, "stray_marks": 3}


@pytest.mark.parametrize("degradation", [{}, DEGRADED, {**DEGRADED, "upside_down": True,
                                                         "skew_deg": -2.9, "scale": 0.972}],
                         ids=["clean-150dpi", "degraded-200dpi", "upside-down-300dpi"])
@pytest.mark.parametrize("style,marks,status,reason,choice,pref", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule_through_the_reader(election, sheet, degradation, style, marks, status, reason,
                                 choice, pref):
    ids = _ids(election)
    if degradation.get("upside_down"):
        degradation = {**degradation, "dpi": 300}
    shapes = ["cross", "tick", "filled", "dot", "partial"]
    img = sheet(election, style, {ids[m]: shapes[i % 5] for i, m in enumerate(marks)},
                seed=len(marks) + 7, **degradation)
    r = interpret_sheet(img, election)
    assert r.accepted, (r.reason, r.boxes)
    assert (r.election, r.station, r.ballot_style) == (election.id, election.station.id, style)
    (o,) = r.outcomes
    assert (o.status, o.reason, o.preference) == (status, reason, pref)
    assert o.choice == (ids[choice].split("/", 1)[1] if choice else None)
    assert r.marks == {ids[m]: "marked" for m in marks}
    if "nw" in marks or "nbeyond" in marks:
        assert o.preference_ignored is not None


@pytest.mark.parametrize("shape", ["filled", "cross", "tick", "dot", "partial"])
def test_every_pen_shape_reads_as_a_mark(election, sheet, shape):
    ids = _ids(election)
    r = interpret_sheet(sheet(election, "bs-party-list", {ids["p1"]: shape, ids["n54"]: shape},
                              **DEGRADED), election)
    assert r.accepted
    assert r.outcomes[0].preference == 54


def _erasure(box):
    """A grey erased cross, 40 % dark (docs/ballots.md: between a vote and no vote)."""
    return {"kind": "erasure", "boxes": [box], "pen": "eraser", "dark": 0.40, "width": 0.9, "shape": "cross"}


def test_marginal_box_that_could_change_the_outcome_returns_the_sheet(election, sheet):
    """docs/ballots.md "The voter's intent": an erasure beside a party could add a preference → review."""
    ids = _ids(election)
    r = interpret_sheet(sheet(election, "bs-party-list", {ids["p0"]: "filled"},
                              others=[_erasure(ids["n4"])]), election)
    assert r.marks[ids["n4"]] == "marginal"
    assert not r.accepted and r.reason == "marginal-needs-review"
    assert r.marginal == (ids["n4"],)
    assert r.outcomes[0].choice is not None                  # shown, not counted
    assert "Отметка нечёткая" in r.message_ru


def test_marginal_box_that_cannot_change_the_outcome_is_reported(election, sheet):
    ids = _ids(election)
    marks = {ids["p0"]: "cross", ids["n3"]: "tick", ids["n4"]: "cross"}      # invalid anyway
    r = interpret_sheet(sheet(election, "bs-party-list", marks, others=[_erasure(ids["n54"])]), election)
    assert r.accepted
    assert r.outcomes[0].reason == "party-multiple-numbers"
    assert r.outcomes[0].marginal == (ids["n54"],)


def test_colour_image_is_read(election, sheet):
    ids = _ids(election)
    grey = sheet(election, "bs-district-07", {ids["c1"]: "cross"})
    r = interpret_sheet(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), election)
    assert r.accepted and r.outcomes[0].choice == ids["c1"].split("/")[1]


def test_demo_election_reads(demo_election, sheet):
    c = demo_election.contest("party-list")
    party = c.parties[-1]
    n = next(x.number for x in party.candidates if not x.withdrawn)
    marks = {box_id(c.id, party.id): "filled", box_id(c.id, n): "cross"}
    r = interpret_sheet(sheet(demo_election, "bs-party-list", marks, **DEGRADED), demo_election)
    assert r.accepted and (r.outcomes[0].choice, r.outcomes[0].preference) == (party.id, n)


@pytest.mark.parametrize("where_mm", [14.0 + 5, 166.0 + 7.3, 172.0 + 4.5, 14.0, 196.0],
                         ids=["beside-fiducial", "through-code", "through-part1-boxes",
                              "through-left-fiducials", "through-right-fiducials"])
@pytest.mark.parametrize("width_px,level", [(1, 60), (2, 110), (3, 30)])
def test_scanner_streak_is_repaired(election, sheet, where_mm, width_px, level):
    """A dark column the full height of the scan (dirty glass) hides no fiducial, code or box."""
    ids = _ids(election)
    img = sheet(election, "bs-party-list", {ids["p1"]: "tick", ids["n3"]: "cross"}, dpi=200).copy()
    x = int(round((where_mm + 5) * 200 / 25.4))          # page sits 5 mm into the scan
    img[:, x:x + width_px] = np.minimum(img[:, x:x + width_px], level)
    r = interpret_sheet(img, election)
    assert r.accepted, r.reason
    assert (r.outcomes[0].choice, r.outcomes[0].preference) == (ids["p1"].split("/")[1], 3)
    assert r.marks == {ids["p1"]: "marked", ids["n3"]: "marked"}


@pytest.mark.parametrize("curl_mm", [0.8, 1.2])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_paper_that_does_not_lie_flat(election, sheet, curl_mm, seed):
    """Boxes moved locally by up to 1.2 mm (beyond the corner homography) still read exactly."""
    ids = _ids(election)
    marks = {ids["p0"]: "tick", ids["n54"]: "dot"}
    r = interpret_sheet(sheet(election, "bs-party-list", marks, seed=seed, dpi=200,
                              curl_mm=curl_mm), election)
    assert r.accepted, r.reason
    assert (r.outcomes[0].choice, r.outcomes[0].preference) == (ids["p0"].split("/")[1], 54)
    assert r.marks == {b: "marked" for b in marks}
