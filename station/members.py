"""The commission's polls actions: authorise a member by PIN, then apply the transition.

Operations that change the polls state require a commission member's PIN set
at provisioning (issue "Operations" item 3); ``reopen`` requires a technician
and a reason (ARCHITECTURE.md invariant 6). The zero report's action is
applied by the count role when it prints the zero report with its counters
(``count.zero_report``), not here.
"""

from __future__ import annotations

from base.clock import SystemClock
from base.paths import Paths
from station import polls
from station.db import open_station_db
from station.errors import PollsError

COMMISSION_ACTIONS = ("enter-test-mode", "open", "pause", "resume", "close", "reopen")


def polls_action(paths: Paths, action: str, member_id: str, pin: str, *, reason: str | None = None,
                 clock=None) -> polls.PollsState:
    """Authorise ``member_id`` with ``pin`` and apply ``action``; returns the new state.

    Only ``COMMISSION_ACTIONS``: the zero report and the protocol signing move the polls
    from the count role, with their documents (count/zero_report.py, count/protocol.py).
    """
    if action not in COMMISSION_ACTIONS:
        raise PollsError(f"{action} is not a commission action (those are: {', '.join(COMMISSION_ACTIONS)})")
    clock = clock or SystemClock()
    conn = open_station_db(paths.station_db)
    try:
        role = polls.authorize(conn, member_id, pin, clock=clock)
        return polls.apply(conn, action, actor=f"{role}:{member_id}", actor_role=role, clock=clock,
                           reason=reason)
    finally:
        conn.close()


def polls_summary(paths: Paths) -> dict:
    conn = open_station_db(paths.station_db)
    try:
        st = polls.current(conn)
        ky, ru = polls.STATE_TEXT[st]
        return {"state": str(st), "text": {"ky": ky, "ru": ru}, "history": polls.history(conn)}
    finally:
        conn.close()
