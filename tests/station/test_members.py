"""Commission members' PINs: the lockout holds under parallel guesses (station/polls.py)."""

from __future__ import annotations

import concurrent.futures as cf

from station import polls
from station.db import open_station_db
from station.errors import PollsError


def _guess(db, pin):
    conn = open_station_db(db)
    try:
        polls.authorize(conn, "1", pin)
        return "ok"
    except PollsError as e:
        return str(e)
    finally:
        conn.close()


def test_parallel_wrong_pins_cannot_exceed_the_lockout(tmp_path):
    """Guesses racing on separate connections count as one sequence (a review regression)."""
    db = tmp_path / "base.sqlite"
    conn = open_station_db(db)
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193")
    conn.close()
    with cf.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: _guess(db, "0000"), range(24)))
    assert results.count("wrong PIN") <= polls.MAX_PIN_FAILURES
    assert _guess(db, "482193").startswith("member 1 is locked")
