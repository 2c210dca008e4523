"""Returned sheets are counted, not timed (count/daemon.py "Secrecy"; count/store.py "Returned sheets").

A returned sheet's reason can say how the voter marked ("marginal-needs-review"),
and the journal timestamps every line: so a returned sheet adds one to a
counter per reason in count.db and nothing else, no audit record and no
journal line of its own. The counters are audited as one aggregate when polls
close; a fault of the reader is logged by its kind once per run.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from countkit import make_home, reading

from base.clock import FixedClock
from count.ballots.reading import SheetReading
from count.daemon import CountDaemon
from count.store import CountStore
from drivers.scanner.simulator import SimulatedScanner
from station import polls
from station.db import open_station_db

# The sheet's grey level says what the (stand-in) reader makes of it.
ACCEPT, MARGINAL, BLANK_PAPER, CRASH = 10, 20, 30, 40


def interpret(image, election):
    level = int(image[0, 0])
    if level == CRASH:
        raise ValueError("reader bug")
    if level == MARGINAL:
        return SheetReading.rejected("marginal-needs-review")
    if level == BLANK_PAPER:
        return SheetReading.rejected("blank-paper")
    return reading("district-07", choice="c-01")


def sheets(*levels: int) -> list[np.ndarray]:
    return [np.full((8, 8), level, np.uint8) for level in levels]


@pytest.fixture
def station(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="open")
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    yield store, sconn
    store.close()
    sconn.close()


def events(store) -> list[tuple[str, dict]]:
    return [(e, json.loads(d)) for e, d in store.conn.execute("SELECT event, details FROM audit_log ORDER BY seq")]


def test_a_returned_sheet_is_a_counter_not_a_record_or_a_line(station, election, caplog):
    store, sconn = station
    feed = sheets(ACCEPT, MARGINAL, ACCEPT, BLANK_PAPER, MARGINAL, CRASH, ACCEPT, CRASH, MARGINAL)
    d = CountDaemon(SimulatedScanner(feed), store, sconn, election, interpret, FixedClock(),
                    logging.getLogger("test.returns"), sleep=lambda s: None, feed_s=0.0)
    with caplog.at_level(logging.DEBUG, logger="test.returns"):
        d.run(until_empty=True)
    assert store.sheet_count("real") == 3
    assert store.returned("real") == {"marginal-needs-review": 3, "blank-paper": 1, "unreadable": 2}
    assert store.returned("test") == {} and store.returned_total() == 6
    # No line per returned sheet: the reasons appear nowhere in the journal; the reader's
    # crash once (its kind only), though it happened twice.
    text = [r.getMessage() for r in caplog.records]
    assert not any(reason in line for line in text for reason in ("marginal", "blank-paper", "returned:"))
    assert sum("interpretation failed" in line for line in text) == 1
    assert not any(getattr(r, "event", None) == "sheet-rejected" for r in caplog.records)
    # In count.db's audit log: no record per sheet; while polls are open not even at the stop,
    # whose record has this run's totals only.
    names = [e for e, _ in events(store)]
    assert set(names) <= {"count-daemon-started", "count-daemon-stopped", "scanner-status-changed"}
    (stopped,) = [d for e, d in events(store) if e == "count-daemon-stopped"]
    assert stopped["rejected"] == 6 and "reasons" not in stopped


def test_the_counters_are_audited_once_when_polls_close(station, election):
    store, sconn = station
    clock = FixedClock()
    d = CountDaemon(SimulatedScanner(sheets(MARGINAL, ACCEPT, MARGINAL)), store, sconn, election, interpret,
                    clock, logging.getLogger("test.returns"), sleep=lambda s: None, feed_s=0.0)
    d.begin()
    for _ in range(4):
        d.step()
    assert not [e for e, _ in events(store) if e == "sheet-returns-counted"]     # not while polls are open
    polls.apply(sconn, "close", clock=clock)
    d.step()
    d.step()                                       # idle again: nothing new to record
    d.end()                                        # nor at the stop
    (agg,) = [d for e, d in events(store) if e == "sheet-returns-counted"]
    assert agg["returned"] == {"real": {"marginal-needs-review": 2}, "test": {}}


def test_counters_live_in_the_mode_they_happened_in_and_test_ones_are_cleared(tmp_path, election):
    store = CountStore.open(tmp_path / "count.db", election)
    store.count_returned("blank-paper", "test")
    store.count_returned("marginal-needs-review", "real")
    store.count_returned("a-reason-from-a-newer-reader", "real")
    assert store.returned("test") == {"blank-paper": 1}
    assert store.returned("real") == {"marginal-needs-review": 1, "a-reason-from-a-newer-reader": 1}
    store.clear_test()
    assert store.returned("test") == {} and store.returned_total("real") == 2
    with pytest.raises(Exception, match="mode"):
        store.count_returned("blank-paper", "bogus")
    store.close()
