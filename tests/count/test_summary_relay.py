"""The identification summary's counts reach the count role through station.db (station/identify_summary.py).

On the appliance the count role cannot see identify.db (systemd InaccessiblePaths=): the
protocol's ``ballots<=identified`` relation and its provisional section need the counts the
identify role publishes in station.db when it sends its summary at the close. Here the
identify role closes and sends its summary, then identify.db is moved out of the count
role's sight: the protocol still carries the figures; counts only, never a voter.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from count.role import identify_summary, results_protocol
from identify.daemon import identification_summary, manual_identification
from simulation.table import MEMBER, provision_home
from station import polls
from station.db import open_station_db
from station.identify_summary import counts, publish, published


@pytest.fixture
def home(tmp_path, demo_package):
    return provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key)


def test_the_protocol_has_the_identified_count_when_identify_db_is_out_of_sight(home):
    conn = sqlite3.connect(home.identify_db)
    pins = [r[0] for r in conn.execute("SELECT pin FROM voter ORDER BY rowid LIMIT 3")]
    conn.close()
    for pin in pins:
        assert manual_identification(home, pin, MEMBER[0], MEMBER[2], "sensor-failure").outcome.accepted
    sconn = open_station_db(home.station_db)
    polls.apply(sconn, "close", actor=f"member:{MEMBER[0]}")
    sconn.close()
    identification_summary(home, send=True)
    home.identify_db.rename(home.identify_db.with_suffix(".hidden"))     # the appliance's count role
    assert identify_summary(home) == {"voters_on_list": 12, "identified": 3}
    body = results_protocol(home)["body"]
    assert body["voters_identified"] == 3
    sconn = open_station_db(home.station_db, readonly=True)
    try:
        (row,) = sconn.execute("SELECT counts FROM identify_summary").fetchall()
    finally:
        sconn.close()
    assert set(json.loads(row[0])) == {"voters_on_list", "identified"}             # counts only
    assert not any(pin in row[0] for pin in pins)



def test_a_summary_from_before_the_last_close_feeds_no_protocol(home):
    """Closed, summary sent (3 identified), reopened by a technician, one more voter, closed again:
    until the identify role sends this close's summary the protocol has no identified count (the
    relation is left out, not checked against the earlier close's 3); then it has 4. Also through
    the fallback (identify.db's outbox on a one-user home)."""
    conn = sqlite3.connect(home.identify_db)
    pins = [r[0] for r in conn.execute("SELECT pin FROM voter ORDER BY rowid LIMIT 4")]
    conn.close()
    for pin in pins[:3]:
        assert manual_identification(home, pin, MEMBER[0], MEMBER[2], "sensor-failure").outcome.accepted
    sconn = open_station_db(home.station_db)
    polls.apply(sconn, "close", actor=f"member:{MEMBER[0]}")
    identification_summary(home, send=True)
    assert identify_summary(home)["identified"] == 3
    polls.apply(sconn, "reopen", actor="technician:t1", actor_role="technician", reason="a voter was turned away")
    assert manual_identification(home, pins[3], MEMBER[0], MEMBER[2], "sensor-failure").outcome.accepted
    polls.apply(sconn, "close", actor=f"member:{MEMBER[0]}")
    sconn.close()
    assert identify_summary(home) is None                     # station.db and the outbox: the earlier close's
    hidden = home.identify_db.with_suffix(".hidden")
    home.identify_db.rename(hidden)
    assert identify_summary(home) is None                     # station.db alone (the appliance)
    assert results_protocol(home)["body"]["voters_identified"] is None
    hidden.rename(home.identify_db)
    identification_summary(home, send=True)
    assert identify_summary(home) == {"voters_on_list": 12, "identified": 4}
    home.identify_db.rename(hidden)
    assert results_protocol(home)["body"]["voters_identified"] == 4

def test_the_latest_summary_replaces_the_one_before(home):
    conn = open_station_db(home.station_db)
    try:
        assert published(conn) is None
        publish(conn, {"voters_on_list": 5, "identified": 1})
        assert published(conn) is None                 # polls were never closed: it counts no close
        polls.apply(conn, "close", actor=f"member:{MEMBER[0]}")
        publish(conn, {"voters_on_list": 5, "identified": 1, "by_method": {"card+finger": 1}})
        provisional = {"issued": 2, "granted_later": 1, "refused_later": 1, "unanswered": 0}
        publish(conn, {"voters_on_list": 5, "identified": 4, "provisional": provisional})
        assert published(conn) == {"voters_on_list": 5, "identified": 4, "provisional": provisional}
        assert conn.execute("SELECT count(*) FROM identify_summary").fetchone()[0] == 1
    finally:
        conn.close()


def test_no_provisional_section_when_none_was_issued():
    assert counts({"voters_on_list": 5, "identified": 4,
                   "provisional": {"issued": 0, "granted_later": 0, "refused_later": 0, "unanswered": 0}}) == {
        "voters_on_list": 5, "identified": 4}
