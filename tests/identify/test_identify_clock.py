"""The identify role runs on the clock that never goes backwards, as the count role does."""

import datetime as dt

from base.clock import FixedClock, SaneClock
from base.sqlite import connect
from identify.daemon import build_identify_daemon
from identify.devices import HardwareFactory
from identify.store import open_identify_db
from station.events import clock_after_log, record

LATER = dt.datetime(2099, 1, 1, 12, 0, tzinfo=dt.UTC)


def test_clock_after_log_never_goes_back_before_the_newest_record(tmp_path):
    conn = open_identify_db(tmp_path / "identify.db")
    record(conn, "identify-daemon-started", clock=FixedClock(LATER), table="1")
    clock = clock_after_log(conn, FixedClock("2025-11-30T08:00:00+00:00"))
    assert isinstance(clock, SaneClock)
    assert clock.now() >= LATER


def test_an_empty_log_gives_the_wall_clock(tmp_path):
    conn = open_identify_db(tmp_path / "identify.db")
    wall = FixedClock("2025-11-30T08:00:00+00:00")
    assert clock_after_log(conn, wall).now() == wall.now()


def test_the_hardware_table_gets_the_sane_clock(home):
    conn = connect(home.identify_db)
    try:
        record(conn, "identify-daemon-started", clock=FixedClock(LATER), table="1")
    finally:
        conn.close()
    daemon = build_identify_daemon(home, HardwareFactory(home))
    try:
        assert isinstance(daemon.clock, SaneClock) and daemon.clock.now() >= LATER
        assert daemon.identifier.clock is daemon.clock
    finally:
        daemon.close()
