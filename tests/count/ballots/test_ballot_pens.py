"""Marks as voters make them (issue 15, docs/ballots.md "The voter's intent").

Each case of the held-out deck that the reader got wrong: a circle around a box, a grey
erased cross, a 1.4 mm hesitation dot, a plain ballpoint tick, a coffee ring over an empty
box, perspective, badly uneven light; plus the other marks outside a square (a mark
straddling two boxes, a mark over a box's number) and a tick begun outside its box.
Sheets are drawn by the deck's pen model (simulation/deck.py) and read by the reader.
"""

from __future__ import annotations

import pytest
from ballot_sheets import sheet_pixels

from count.ballots import layout
from count.ballots.interpret import interpret_sheet
from count.ballots.reading import REJECTIONS, box_id

SCAN = {"blur_px": 0.5, "noise": 3.0, "format": "jpg", "jpeg_quality": 80, "paper": 238}
BLUE = {"pen": "ballpoint-blue", "dark": 0.72, "width": 0.35}
BLACK = {"pen": "ballpoint-black", "dark": 0.82, "width": 0.4}


def _party(election):
    c = election.contest("party-list")
    p0 = c.parties[0]
    n = next(x.number for x in p0.candidates if not x.withdrawn)
    return c, p0, n


def _read(election, style, marks=None, pens=None, others=(), **deg):
    img = sheet_pixels(election, style, marks, pens=pens, others=others, **{**SCAN, **deg})
    return interpret_sheet(img, election)


def _circle(box, pen=BLUE):
    return {"kind": "circle", "boxes": [box], **pen, "grow": [1.8, 1.2], "start": 40.0, "sweep": 370.0}


@pytest.mark.parametrize("dpi", [200, 300])
def test_circled_party_is_returned_with_mark_inside_the_square(election, dpi):
    """A circled party alone, and a circled party with a marked number (44 such sheets were
    accepted as invalid ballots): returned, the voter told to mark inside the square."""
    c, p0, n = _party(election)
    for marks in ({}, {box_id(c.id, n): "cross"}):
        r = _read(election, "bs-party-list", marks, {b: BLUE for b in marks},
                  [_circle(box_id(c.id, p0.id))], dpi=dpi)
        assert not r.accepted and r.reason == "mark-outside-box", (marks, r.marks)
        assert r.marks[box_id(c.id, p0.id)] == "outside"
        assert r.message_ru == REJECTIONS["mark-outside-box"].ru
        assert "внутри квадрата" in r.message_ru and "чарчынын ичине" in r.message_ky


def test_circle_that_cannot_change_the_verdict_is_reported(election):
    """Two parties marked (invalid whatever the circle means): accepted, the circle reported."""
    c = election.contest("party-list")
    p = [box_id(c.id, x.id) for x in c.parties[:3]]
    r = _read(election, "bs-party-list", {p[0]: "cross", p[1]: "tick"}, {p[0]: BLACK, p[1]: BLACK},
              [_circle(p[2])], dpi=200)
    assert r.accepted and r.outcomes[0].reason == "overvote"
    assert p[2] in r.outcomes[0].marginal


@pytest.mark.parametrize("dark,width", [(0.35, 0.45), (0.40, 0.9), (0.45, 0.5), (0.45, 1.2)])
@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_grey_erased_cross_is_never_a_vote(election, dark, width, dpi):
    """35-45 % dark erasures beside a vote: the vote stands (or the sheet is returned), never invalid."""
    d = election.contest("district-07")
    c0, c1 = (box_id(d.id, x.id) for x in d.candidates[:2] if not x.withdrawn)
    erasure = {"kind": "erasure", "boxes": [c1], "pen": "eraser", "dark": dark, "width": width,
               "shape": "cross"}
    r = _read(election, "bs-district-07", {c0: "tick"}, {c0: BLACK}, [erasure], dpi=dpi)
    assert r.marks.get(c1) != "marked"
    if r.accepted:
        assert (r.outcomes[0].status, r.outcomes[0].choice) == ("valid", c0.split("/")[1])
    else:   # an erased cross running over the outline is grey ink outside the square too
        assert r.reason in ("marginal-needs-review", "mark-outside-box")


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_hesitation_dot_in_a_number_box_is_not_a_vote(election, dpi):
    """A 1.4 mm dot where the pen rested on a 6 mm number box: the party vote, no preference."""
    c, p0, n = _party(election)
    party, num = box_id(c.id, p0.id), box_id(c.id, n)
    dot = {"kind": "hesitation", "boxes": [num], **BLACK, "width": 1.4, "at": [0.5, 0.5]}
    r = _read(election, "bs-party-list", {party: "cross"}, {party: BLUE}, [dot], dpi=dpi)
    assert r.accepted, r.marks
    assert (r.outcomes[0].choice, r.outcomes[0].preference) == (p0.id, None)
    assert num not in r.marks


@pytest.mark.parametrize("pen", [{"pen": "ballpoint-blue", "dark": 0.66, "width": 0.30},
                                 {"pen": "ballpoint-blue", "dark": 0.75, "width": 0.45},
                                 {"pen": "ballpoint-black", "dark": 0.75, "width": 0.30},
                                 {"pen": "pencil", "dark": 0.62, "width": 0.55},
                                 {"pen": "gel", "dark": 0.85, "width": 0.5},
                                 {"pen": "felt-tip", "dark": 0.8, "width": 1.1}],
                         ids=["blue-0.30", "blue-0.45", "black-0.30", "pencil", "gel", "felt-tip"])
@pytest.mark.parametrize("dpi", [200, 300])
@pytest.mark.parametrize("shape", ["tick", "cross", "slash"])
def test_plain_pen_mark_in_a_9mm_box_is_a_vote(election, pen, dpi, shape):
    """A ballpoint tick 0.30-0.45 mm in a 9 mm box (22 of 25 were returned as unclear)."""
    d = election.contest("district-07")
    c0 = box_id(d.id, next(x.id for x in d.candidates if not x.withdrawn))
    r = _read(election, "bs-district-07", {c0: shape}, {c0: pen}, dpi=dpi, seed=dpi)
    assert r.accepted, r.marks
    assert r.outcomes[0].choice == c0.split("/")[1]
    assert r.marks == {c0: "marked"}


@pytest.mark.parametrize("dark", [0.15, 0.30, 0.45])
def test_coffee_ring_over_an_empty_box_is_not_a_vote(election, dark):
    """A stain over empty boxes (the ring read 0.255 and counted): never a mark."""
    c, p0, _n = _party(election)
    geo = layout.sheet_geometry(election, "bs-party-list")
    target = box_id(c.id, c.parties[3].id)
    b = geo.boxes[target]
    stain = {"kind": "stain", "boxes": [target], "pen": "coffee", "dark": dark, "cx": b.center[0] + 1,
             "cy": b.center[1] - 1, "rx": 7.0, "ry": 6.0, "rim": 0.8, "tint": 0.4}
    party = box_id(c.id, p0.id)
    r = _read(election, "bs-party-list", {party: "cross"}, {party: BLACK}, [stain], dpi=200)
    assert all(s != "marked" for k, s in r.marks.items() if k != party)
    if r.accepted:
        assert (r.outcomes[0].status, r.outcomes[0].choice) == ("valid", p0.id)


@pytest.mark.parametrize("moves", [
    [[2.3, 0.0], [0.0, 0.0], [0.0, 0.0], [-2.3, 0.0]],          # shear
    [[-3.0, -2.0], [3.0, -2.0], [1.5, 2.5], [-1.5, 2.5]],        # keystone
    [[4.0, 1.0], [-3.5, -3.0], [-3.5, 4.0], [-1.0, -1.5]],       # both, and more
], ids=["shear-2.3mm", "keystone-3mm", "perspective-4mm"])
@pytest.mark.parametrize("skew", [0.0, 5.5])
def test_perspective_and_shear_are_read(election, moves, skew):
    """12 clear sheets with 2.3 mm or more of perspective or shear were returned "unreadable"."""
    c, p0, n = _party(election)
    marks = {box_id(c.id, p0.id): "cross", box_id(c.id, n): "tick"}
    r = _read(election, "bs-party-list", marks, {b: BLACK for b in marks}, dpi=200,
              perspective_mm=moves, skew_deg=skew)
    assert r.accepted, r.reason
    assert (r.outcomes[0].choice, r.outcomes[0].preference) == (p0.id, n)


@pytest.mark.parametrize("shape", ["x", "y", "corners"])
def test_badly_uneven_light_returns_the_sheet(election, shape):
    """40-50 % fall-off across the page: returned, not read wrongly; 20 % is read."""
    c, p0, _n = _party(election)
    marks = {box_id(c.id, p0.id): "tick"}
    r = _read(election, "bs-party-list", marks, {b: BLUE for b in marks}, dpi=200,
              uneven_light=0.45, light_shape=shape)
    assert not r.accepted and r.reason == "uneven-light"
    assert REJECTIONS["uneven-light"].ky in r.message_ky
    r = _read(election, "bs-party-list", marks, {b: BLUE for b in marks}, dpi=200,
              uneven_light=0.2, light_shape=shape)
    assert r.accepted and r.outcomes[0].choice == p0.id


def test_mark_straddling_two_parties_is_returned(election):
    c = election.contest("party-list")
    a, b = (box_id(c.id, x.id) for x in c.parties[2:4])
    straddle = {"kind": "straddle", "boxes": [a, b], **BLACK, "shape": "cross", "size": 0.95, "off": 0.0}
    r = _read(election, "bs-party-list", others=[straddle], dpi=200)
    assert not r.accepted and r.reason == "mark-outside-box", r.marks


def test_mark_over_a_box_number_between_two_boxes_is_returned(election):
    """A tick over the printed "42" between boxes 41 and 42: meant for one of them, in neither."""
    c, p0, _n = _party(election)
    a, b = box_id(c.id, 41), box_id(c.id, 42)
    straddle = {"kind": "straddle", "boxes": [a, b], **BLACK, "shape": "tick", "size": 0.8, "off": 0.3}
    party = box_id(c.id, p0.id)
    r = _read(election, "bs-party-list", {party: "cross"}, {party: BLACK}, [straddle], dpi=200)
    assert not r.accepted and r.reason == "mark-outside-box", r.marks
    assert {r.marks.get(a), r.marks.get(b)} == {"outside"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tick_begun_outside_its_box_is_a_vote(election, seed):
    d = election.contest("district-07")
    c0 = box_id(d.id, next(x.id for x in d.candidates if not x.withdrawn))
    r = _read(election, "bs-district-07", {c0: "tick-out"}, {c0: BLUE}, dpi=200, seed=seed)
    assert r.accepted, r.marks
    assert r.outcomes[0].choice == c0.split("/")[1]
