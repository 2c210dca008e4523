"""What the identify daemon asks of the voter between two captures, on the table's screen.

identify/daemon.py calls ``on_prompt`` with a ``TableResult`` (``other-finger``: the
first finger did not match a voter with two enrolled fingers; ``retry``: press again)
before it captures again; screens/table.py ``TableSession.prompt`` shows it on the
finger screen, the voter found staying in view.
"""

from __future__ import annotations

from screens_world import get

from identify.daemon import TableResult


def test_the_daemons_prompt_for_the_other_finger_is_shown_with_the_voter(station):
    """identify/daemon.py ``on_prompt``: between two captures the screen says what the voter must do."""
    shown = {"name": "Асанова Гүлнара", "birth_year": 1980, "face": None, "contests": ()}
    station.table.show("finger", voter=shown)
    station.table.daemon.on_prompt(TableResult(None, "other-finger", "Башка манжа: сол сөөмөй",
                                               "Другой палец: левый указательный"))
    page = get(station.at("/table"))
    assert 'data-screen="finger"' in page and 'id="other-finger"' in page
    assert "Башка манжа: сол сөөмөй" in page and "Асанова Гүлнара" in page
