"""Polls state machine (ARCHITECTURE.md invariant 6; issue "Counting" item 5)."""

import pytest

from station import events, polls
from station.db import open_station_db
from station.errors import PollsError
from station.polls import PollsState as S

ALLOWED = [
    (S.PROVISIONED, "enter-test-mode", {}, S.TEST_MODE),
    (S.TEST_MODE, "print-zero-report", {"counters_zero": True}, S.ZERO_REPORT),
    (S.ZERO_REPORT, "enter-test-mode", {}, S.TEST_MODE),
    (S.ZERO_REPORT, "open", {}, S.OPEN),
    (S.OPEN, "pause", {}, S.PAUSED),
    (S.PAUSED, "resume", {}, S.OPEN),
    (S.OPEN, "close", {}, S.CLOSED),
    (S.PAUSED, "close", {}, S.CLOSED),
    (S.CLOSED, "sign-protocol", {}, S.PROTOCOL_SIGNED),
    (S.CLOSED, "reopen", {"actor_role": "technician", "reason": "closed by mistake at 19:10"}, S.OPEN),
]
REFUSED = [
    (S.PROVISIONED, "open", {}, "cannot open"),
    (S.TEST_MODE, "print-zero-report", {"counters_zero": False}, "zero"),
    (S.TEST_MODE, "open", {}, "cannot open"),
    (S.OPEN, "enter-test-mode", {}, "cannot"),
    (S.CLOSED, "open", {}, "cannot open"),
    (S.CLOSED, "reopen", {}, "technician"),
    (S.CLOSED, "reopen", {"actor_role": "technician"}, "reason"),
    (S.PROTOCOL_SIGNED, "reopen", {"actor_role": "technician", "reason": "x"}, "no further"),
]


@pytest.mark.parametrize("state, action, kw, target", ALLOWED, ids=[f"{s}-{a}" for s, a, _, _ in ALLOWED])
def test_allowed(state, action, kw, target):
    assert polls.next_state(state, action, **kw) == target


@pytest.mark.parametrize("state, action, kw, words", REFUSED, ids=[f"{s}-{a}-{w}" for s, a, _, w in REFUSED])
def test_refused(state, action, kw, words):
    with pytest.raises(PollsError, match=words):
        polls.next_state(state, action, **kw)


def test_persisted_and_audited(tmp_path):
    conn = open_station_db(tmp_path / "station.db")
    polls.apply(conn, "enter-test-mode", actor="technician")
    polls.apply(conn, "print-zero-report", counters_zero=True)
    polls.apply(conn, "open", actor="member:1")
    with pytest.raises(PollsError):
        polls.apply(conn, "sign-protocol")
    conn.close()
    conn = open_station_db(tmp_path / "station.db")
    assert polls.current(conn) == S.OPEN
    assert [h["action"] for h in polls.history(conn)] == ["enter-test-mode", "print-zero-report", "open"]
    log = events.tail(conn, 10)
    assert [r["event"] for r in log] == ["polls-transition"] * 3 + ["polls-transition-refused"]
    assert events.verify_chain(conn).ok
    with pytest.raises(PollsError, match="needs"):
        polls.require(conn, S.CLOSED)


def test_member_pin(tmp_path):
    conn = open_station_db(tmp_path / "station.db")
    polls.set_member_pin(conn, "1", "Асанова Б.", "4821", role="chair")
    assert polls.authorize(conn, "1", "4821") == "chair"
    with pytest.raises(PollsError, match="wrong PIN"):
        polls.authorize(conn, "1", "0000")
    for _ in range(polls.MAX_PIN_FAILURES):
        with pytest.raises(PollsError):
            polls.authorize(conn, "1", "0000")
    with pytest.raises(PollsError, match="locked"):
        polls.authorize(conn, "1", "4821")
    with pytest.raises(PollsError, match="4 to 8"):
        polls.set_member_pin(conn, "2", "x", "12")
