"""Polls state machine (ARCHITECTURE.md invariant 6; issue "Counting" item 5).

The rules are pure (station/polls_rules.py) and tested as tables; persistence and
audit (station/polls.py) on a real station.db. Why the guards: DOMAIN.md "Results"
and "Identification at the station": the protocol's control relations compare the
ballots in the box with the voters identified (the receipts), so both must start at
zero (the zero report) and grow only while polls are open (08:00-20:00, DOMAIN.md
"Scale").
"""

import itertools

import pytest

from base.paths import Paths
from station import events, polls, polls_rules
from station.db import open_station_db
from station.errors import PollsError
from station.members import polls_action
from station.polls_rules import PollsState as S

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
    assert polls_rules.next_state(state, action, **kw) == target


@pytest.mark.parametrize("state, action, kw, words", REFUSED, ids=[f"{s}-{a}-{w}" for s, a, _, w in REFUSED])
def test_refused(state, action, kw, words):
    with pytest.raises(PollsError, match=words):
        polls_rules.next_state(state, action, **kw)


ACTIONS = sorted({a for _, a in polls_rules.TRANSITIONS})
GUARDS = {"print-zero-report": {"counters_zero": True}, "reopen": {"actor_role": "technician", "reason": "r"}}


@pytest.mark.parametrize("state, action", list(itertools.product(S, ACTIONS)),
                         ids=[f"{s}-{a}" for s, a in itertools.product(S, ACTIONS)])
def test_the_table_is_the_whole_machine(state, action):
    """Every pair the table does not name is refused, even with every guard satisfied."""
    kw = GUARDS.get(action, {})
    if (state, action) in polls_rules.TRANSITIONS and state not in polls_rules.TERMINAL:
        assert polls_rules.next_state(state, action, **kw) == polls_rules.TRANSITIONS[(state, action)]
    else:
        with pytest.raises(PollsError):
            polls_rules.next_state(state, action, **kw)


ZERO_REPORT_GUARD = [
    # (id, counters_zero given by the caller, allowed): DOMAIN.md "Results": the control count
    ("every-counter-zero", True, True),
    ("a-counter-not-zero", False, False),
    ("caller-did-not-say", None, False),
]


@pytest.mark.parametrize("counters_zero, allowed", [g[1:] for g in ZERO_REPORT_GUARD],
                         ids=[g[0] for g in ZERO_REPORT_GUARD])
def test_polls_open_only_after_a_zero_report_of_zeros(counters_zero, allowed):
    if allowed:
        assert polls_rules.next_state(S.TEST_MODE, "print-zero-report", counters_zero=counters_zero) == S.ZERO_REPORT
    else:
        with pytest.raises(PollsError, match="every counter at zero"):
            polls_rules.next_state(S.TEST_MODE, "print-zero-report", counters_zero=counters_zero)


CHECKS = [
    # (state, states the work needs, allowed): identification and scanning only while open
    (S.OPEN, (S.OPEN,), True),
    (S.PAUSED, (S.OPEN,), False),
    (S.ZERO_REPORT, (S.OPEN,), False),
    (S.TEST_MODE, (S.OPEN, S.TEST_MODE), True),          # the L&A deck is scanned in test mode
    (S.CLOSED, (S.CLOSED, S.PROTOCOL_SIGNED), True),      # the summary and the protocol after the close
    (S.OPEN, (S.CLOSED, S.PROTOCOL_SIGNED), False),
]


@pytest.mark.parametrize("state, needs, allowed", CHECKS,
                         ids=[f"{s}-needs-{'+'.join(n)}" for s, n, _ in CHECKS])
def test_check_state(state, needs, allowed):
    if allowed:
        assert polls_rules.check_state(state, *needs) is state
    else:
        with pytest.raises(PollsError, match=f"polls are {state}, this needs"):
            polls_rules.check_state(state, *needs)


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
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193", role="chair")
    assert polls.authorize(conn, "1", "482193") == "chair"
    with pytest.raises(PollsError, match="wrong PIN"):
        polls.authorize(conn, "1", "0000")
    for _ in range(polls.MAX_PIN_FAILURES):
        with pytest.raises(PollsError):
            polls.authorize(conn, "1", "0000")
    with pytest.raises(PollsError, match="locked"):
        polls.authorize(conn, "1", "482193")
    with pytest.raises(PollsError, match="6 to 12"):
        polls.set_member_pin(conn, "2", "x", "12")


@pytest.mark.parametrize("action", ["print-zero-report", "sign-protocol"])
def test_the_count_roles_transitions_are_not_commission_actions(tmp_path, action):
    """The zero report and the protocol move the polls with their documents (count role) only."""
    paths = Paths.from_env(tmp_path / "st").ensure()
    conn = open_station_db(paths.station_db)
    polls.set_member_pin(conn, "1", "Асанова Б.", "482193", role="chair")
    polls.apply(conn, "enter-test-mode")
    with pytest.raises(PollsError, match="not a commission action"):
        polls_action(paths, action, "1", "482193")
    assert polls.current(conn) == S.TEST_MODE
    conn.close()
