"""The table's screens send the identification summary once the polls close, and its counts reach
the count role through station.db (station/identify_summary.py: on the appliance the count role
cannot see identify.db)."""

from __future__ import annotations

from count.role import identify_summary
from station import polls
from station.db import open_station_db


def test_the_summary_sent_after_the_close_is_published_for_the_protocol(station):
    conn = open_station_db(station.paths.station_db)
    try:
        for action in ("enter-test-mode", "print-zero-report", "open", "close"):
            polls.apply(conn, action, counters_zero=True if action == "print-zero-report" else None)
    finally:
        conn.close()
    assert station.table.summary_after_close()
    station.paths.identify_db.rename(station.paths.identify_db.with_suffix(".hidden"))
    assert identify_summary(station.paths) == {"voters_on_list": 12, "identified": 0}
