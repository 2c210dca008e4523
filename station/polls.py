"""The polls state machine: data, persisted in station.db, every transition audited.

States and actions (ARCHITECTURE.md invariant 6; issue "Counting" item 5)::

    provisioned --enter-test-mode--> test-mode --print-zero-report--> zero-report-printed
    zero-report-printed --enter-test-mode--> test-mode        (L&A may be repeated before opening)
    zero-report-printed --open--> open --pause--> paused --resume--> open
    open|paused --close--> closed --sign-protocol--> protocol-signed   (terminal)
    closed --reopen--> open      (technician only, with a recorded reason)

Guards, as pure functions of values (``next_state``):
- polls open only after a zero report that showed every counter at zero: the
  ``print-zero-report`` action requires ``counters_zero=True`` from the caller
  that printed it (the count role's real tally and the identify role's
  identifications are both empty);
- identification and scanning only while ``open`` (``require``);
- a closed poll reopens only by an audited technician action with a reason.

Persistence and audit (``apply``): one transaction updates the state, appends
the history row and records ``polls-transition`` in station.db's audit log.
Refusals are recorded too (``polls-transition-refused``) and raise PollsError.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from enum import StrEnum

from base.clock import SystemClock, iso
from base.sqlite import atomic
from station.errors import PollsError
from station.events import record


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
ACTIONS = sorted({a for _, a in TRANSITIONS})
TERMINAL = {S.PROTOCOL_SIGNED}
TECHNICIAN_ONLY = {"reopen"}
# The commission sees these words; the Kyrgyz/Russian catalogue carries them too.
STATE_TEXT = {
    S.PROVISIONED: ("Даярдалды", "Подготовлен"),
    S.TEST_MODE: ("Сыноо режими", "Режим тестирования"),
    S.ZERO_REPORT: ("Нөлдүк отчёт басылды", "Нулевой отчёт напечатан"),
    S.OPEN: ("Добуш берүү ачык", "Голосование открыто"),
    S.PAUSED: ("Тыныгуу", "Перерыв"),
    S.CLOSED: ("Добуш берүү жабылды", "Голосование закрыто"),
    S.PROTOCOL_SIGNED: ("Протокол кол коюлду", "Протокол подписан"),
}


def next_state(state: PollsState, action: str, *, counters_zero: bool | None = None,
               actor_role: str = "member", reason: str | None = None) -> PollsState:
    """The pure transition function: the new state, or PollsError saying why not."""
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


def current(conn: sqlite3.Connection) -> PollsState:
    row = conn.execute("SELECT state FROM polls WHERE id = 1").fetchone()
    return PollsState(row[0]) if row else PollsState.PROVISIONED


def require(conn: sqlite3.Connection, *states: PollsState) -> PollsState:
    """Raise PollsError unless the polls are in one of ``states`` (e.g. ``require(c, S.OPEN)``)."""
    st = current(conn)
    if st not in states:
        want = " or ".join(str(s) for s in states)
        raise PollsError(f"polls are {st}, this needs {want}")
    return st


def apply(conn: sqlite3.Connection, action: str, *, actor: str = "system", actor_role: str = "member",
          clock=None, counters_zero: bool | None = None, reason: str | None = None) -> PollsState:
    """Apply ``action``, persist and audit it in one transaction; return the new state."""
    clock = clock or SystemClock()
    with atomic(conn):
        state = current(conn)
        try:
            target = next_state(state, action, counters_zero=counters_zero, actor_role=actor_role, reason=reason)
        except PollsError as e:
            refusal = str(e)
        else:
            refusal = None
            at = iso(clock.now())
            conn.execute("INSERT INTO polls(id, state, changed_at) VALUES (1, ?, ?)"
                         " ON CONFLICT(id) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at",
                         (str(target), at))
            conn.execute("INSERT INTO polls_history(from_state, action, to_state, actor, at, reason)"
                         " VALUES (?,?,?,?,?,?)", (str(state), action, str(target), actor, at, reason))
            record(conn, "polls-transition", actor=actor, clock=clock,
                   action=action, from_state=str(state), to_state=str(target), reason=reason)
            return target
    # Refusals are audited in their own transaction (the failed one was not rolled back: nothing was written).
    record(conn, "polls-transition-refused", "refused", actor=actor, clock=clock, action=action, reason=refusal)
    raise PollsError(refusal)


def history(conn: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in conn.execute("SELECT * FROM polls_history ORDER BY seq")]


# --- commission members' PIN codes ------------------------------------------
# Operations that change the polls state need a member's PIN (issue "Operations" item 3).
# scrypt from the standard library: slow enough to resist guessing from a stolen station.db.
MAX_PIN_FAILURES = 5


def _pin_hash(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)


def set_member_pin(conn: sqlite3.Connection, member_id: str, name: str, pin: str, *,
                   role: str = "member", clock=None) -> None:
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise PollsError("a commission PIN is 4 to 8 digits")
    salt = os.urandom(16)
    with atomic(conn):
        conn.execute("INSERT INTO commission_member(id, name, role, pin_salt, pin_hash) VALUES (?,?,?,?,?)"
                     " ON CONFLICT(id) DO UPDATE SET name=excluded.name, role=excluded.role,"
                     " pin_salt=excluded.pin_salt, pin_hash=excluded.pin_hash, failures=0",
                     (member_id, name, role, salt, _pin_hash(pin, salt)))
        record(conn, "commission-pin-set", actor="technician", clock=clock, member=member_id, role=role)


def authorize(conn: sqlite3.Connection, member_id: str, pin: str, *, clock=None) -> str:
    """Check a member's PIN; return their role. Locks after repeated failures.

    The attempt is counted first, under the write lock, and only then is the PIN checked: parallel
    guesses cannot run more checks than the lockout allows.
    """
    with atomic(conn):
        row = conn.execute("SELECT role, pin_salt, pin_hash, failures FROM commission_member WHERE id = ?",
                           (member_id,)).fetchone()
        if row is None:
            raise PollsError(f"no commission member {member_id!r}")
        if row["failures"] >= MAX_PIN_FAILURES:
            raise PollsError(f"member {member_id} is locked after {MAX_PIN_FAILURES} wrong PINs:"
                             " a technician must reset it")
        conn.execute("UPDATE commission_member SET failures = failures + 1 WHERE id = ?", (member_id,))
    if not hmac.compare_digest(_pin_hash(pin, row["pin_salt"]), row["pin_hash"]):
        record(conn, "polls-transition-refused", "refused", actor=f"member:{member_id}", clock=clock,
               reason="wrong PIN")
        raise PollsError("wrong PIN")
    conn.execute("UPDATE commission_member SET failures = 0 WHERE id = ?", (member_id,))
    return row["role"]
