"""Rendering test sheets with chosen marks and degradation (through the deck generator)."""

from __future__ import annotations

from count.ballots.interpret import decode_image
from simulation.deck import SheetPlan, render_plan

NEUTRAL = {"dpi": 150, "skew_deg": 0.0, "shift_mm": [0.0, 0.0], "scale": 1.0, "upside_down": False,
           "blur_px": 0.0, "noise": 0.0, "paper": 245, "backing": 205, "format": "png",
           "jpeg_quality": 90, "streaks": 0, "stray_marks": 0}


def make_sheet(election, style, marks=None, kind="ballot", seed=1, pens=None, others=(), **deg):
    """Encoded image bytes of one sheet: ``marks`` maps box ids to pen shapes; ``pens`` box ids to
    pens ({"pen", "dark", "width"}); ``others`` the marks that are not votes in a square
    (simulation/deck.py ``OTHER_KINDS``)."""

    plan = SheetPlan(index=1, kind=kind, style=style, case="test", marks=dict(marks or {}),
                     expected={}, degradation={**NEUTRAL, **deg}, seed=seed, pens=dict(pens or {}),
                     others=tuple(others))
    return render_plan(plan, election)


def sheet_pixels(election, style, marks=None, **kw):
    return decode_image(make_sheet(election, style, marks, **kw))
