"""The polls rules: states, the transition table and its guards, as pure functions of values.

No I/O here: station/polls.py reads the current state from station.db, asks
these functions, and persists and audits what they decide (the way python-tuf
keeps ``trusted_metadata_set.py`` apart from ``updater.py``).

States and actions (ARCHITECTURE.md invariant 6; issue "Counting" item 5)::

    provisioned --enter-test-mode--> test-mode --print-zero-report--> zero-report-printed
    zero-report-printed --enter-test-mode--> test-mode        (L&A may be repeated before opening)
    zero-report-printed --open--> open --pause--> paused --resume--> open
    open|paused --close--> closed --sign-protocol--> protocol-signed   (terminal)
    closed --reopen--> open      (technician only, with a recorded reason)

Guards (``next_state``):

- polls open only after a zero report that showed every counter at zero: the
  ``print-zero-report`` action requires ``counters_zero=True`` from the caller
  that printed it (count/zero_report.py: the count role's real tally is empty
  and, where this device holds identify.db, no voter is identified yet);
- identification and scanning only while ``open`` (``check_state``);
- a closed poll reopens only by a technician, with a reason;
- nothing follows ``protocol-signed``.

Example::

    next_state(PollsState.ZERO_REPORT, "open")                 # PollsState.OPEN
    next_state(PollsState.CLOSED, "reopen")                    # PollsError: a technician's action
    check_state(PollsState.PAUSED, PollsState.OPEN)            # PollsError: polls are paused
"""

from __future__ import annotations

from enum import StrEnum

from station.errors import PollsError
from station.text import Text


class PollsState(StrEnum):
    PROVISIONED = "provisioned"
    TEST_MODE = "test-mode"
    ZERO_REPORT = "zero-report-printed"
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"
    PROTOCOL_SIGNED = "protocol-signed"


S = PollsState
TRANSITIONS: dict[tuple[PollsState, str], PollsState] = {
    (S.PROVISIONED, "enter-test-mode"): S.TEST_MODE,
    (S.ZERO_REPORT, "enter-test-mode"): S.TEST_MODE,
    (S.TEST_MODE, "print-zero-report"): S.ZERO_REPORT,
    (S.ZERO_REPORT, "open"): S.OPEN,
    (S.OPEN, "pause"): S.PAUSED,
    (S.PAUSED, "resume"): S.OPEN,
    (S.OPEN, "close"): S.CLOSED,
    (S.PAUSED, "close"): S.CLOSED,
    (S.CLOSED, "sign-protocol"): S.PROTOCOL_SIGNED,
    (S.CLOSED, "reopen"): S.OPEN,
}
TERMINAL = {S.PROTOCOL_SIGNED}
TECHNICIAN_ONLY = {"reopen"}
# The commission sees these words; the Kyrgyz/Russian catalogue carries them too.
STATE_TEXT = {
    S.PROVISIONED: Text("Даярдалды", "Подготовлен"),
    S.TEST_MODE: Text("Сыноо режими", "Режим тестирования"),
    S.ZERO_REPORT: Text("Нөлдүк отчёт басылды", "Нулевой отчёт напечатан"),
    S.OPEN: Text("Добуш берүү ачык", "Голосование открыто"),
    S.PAUSED: Text("Тыныгуу", "Перерыв"),
    S.CLOSED: Text("Добуш берүү жабылды", "Голосование закрыто"),
    S.PROTOCOL_SIGNED: Text("Протокол кол коюлду", "Протокол подписан"),
}


def next_state(state: PollsState, action: str, *, counters_zero: bool | None = None,
               actor_role: str = "member", reason: str | None = None) -> PollsState:
    """The transition function: the new state, or PollsError saying why not."""
    if state in TERMINAL:
        raise PollsError(f"polls are {state}: no further action is possible")
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = [a for (s, a) in TRANSITIONS if s == state]
        raise PollsError(f"cannot {action} while polls are {state} (allowed now: {', '.join(allowed) or 'none'})")
    if action == "print-zero-report" and counters_zero is not True:
        raise PollsError("the zero report must show every counter at zero before polls can open")
    if action in TECHNICIAN_ONLY:
        if actor_role != "technician":
            raise PollsError(f"{action} is a technician's action")
        if not reason:
            raise PollsError(f"{action} needs a recorded reason")
    return target


def check_state(state: PollsState, *allowed: PollsState) -> PollsState:
    """``state`` when it is one of ``allowed``; PollsError otherwise (e.g. scanning while paused)."""
    if state not in allowed:
        want = " or ".join(str(s) for s in allowed)
        raise PollsError(f"polls are {state}, this needs {want}")
    return state
