"""Polls events reach the count outbox exactly once (count/polls_relay.py)."""

import json

import pytest

from base.clock import FixedClock
from base.sqlite import open_db
from count.polls_relay import relay_polls_events
from count.store import MIGRATIONS as COUNT_MIGRATIONS
from station import polls
from station.db import open_station_db
from sync import signing
from sync.outbox import DeviceSigner, Outbox


@pytest.fixture
def files(tmp_path):
    sconn = open_station_db(tmp_path / "station.db")
    cconn = open_db(tmp_path / "count.db", COUNT_MIGRATIONS)
    key = signing.generate_key()
    signer = DeviceSigner(key, "dev-x", "0" * 64, "kg-test", "UIK-1", FixedClock())
    return sconn, cconn, Outbox(cconn, signer, "count")


def events(cconn):
    return [json.loads(bytes(r[0]))["body"] for r in
            cconn.execute("SELECT envelope FROM outbox WHERE kind = 'polls-event' ORDER BY seq")]


def test_each_transition_relayed_once_in_order(files):
    sconn, cconn, outbox = files
    polls.apply(sconn, "enter-test-mode")
    polls.apply(sconn, "print-zero-report", counters_zero=True)
    assert relay_polls_events(sconn, cconn, outbox) == 2
    assert relay_polls_events(sconn, cconn, outbox) == 0
    polls.apply(sconn, "open")
    polls.apply(sconn, "pause")
    assert relay_polls_events(sconn, cconn, outbox) == 2
    assert [e["event"] for e in events(cconn)] == ["test-mode", "zero-report-printed", "opened", "paused"]
    assert [e["history_seq"] for e in events(cconn)] == [1, 2, 3, 4]


def test_crash_before_commit_relays_again(files, mocker):
    sconn, cconn, outbox = files
    polls.apply(sconn, "enter-test-mode")
    polls.apply(sconn, "print-zero-report", counters_zero=True)
    # The first event goes through to the real outbox; the power fails on the second.
    enqueue = mocker.patch.object(outbox, "enqueue", wraps=outbox.enqueue,
                                  side_effect=[mocker.DEFAULT, RuntimeError("power cut")])
    with pytest.raises(RuntimeError):
        relay_polls_events(sconn, cconn, outbox)
    assert [c.args[1]["history_seq"] for c in enqueue.call_args_list] == [1, 2]
    mocker.stop(enqueue)
    assert relay_polls_events(sconn, cconn, outbox) == 1
    assert [e["history_seq"] for e in events(cconn)] == [1, 2]
