"""The polls state machine on this station: persisted in station.db, every transition audited.

The rules are pure and live in station/polls_rules.py (states, the transition
table, the guards: ``next_state``, ``check_state``); this module reads the
state, asks them, and writes what they decide (ARCHITECTURE.md invariant 6):

- ``current`` / ``require``: the state now, and the guard "only while open"
  that identification and scanning put in front of their work;
- ``apply``: ONE transaction reads the state, updates it, appends the history
  row and records ``polls-transition`` in station.db's audit log. Refusals are
  recorded too (``polls-transition-refused``) and raise PollsError;
- commission members' PINs (``set_member_pin``, ``authorize``): scrypt hashes,
  a lockout after ``MAX_PIN_FAILURES`` wrong PINs.

Example::

    polls.apply(conn, "open", actor="chair:1", clock=clock)    # zero-report-printed -> open
    polls.require(conn, PollsState.OPEN)                        # PollsError unless open
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3

from base.clock import SystemClock, iso
from base.sqlite import atomic
from station.errors import PollsError
from station.events import record
from station.polls_rules import STATE_TEXT, PollsState, check_state, next_state

__all__ = ["MAX_PIN_FAILURES", "STATE_TEXT", "PollsState", "apply", "authorize", "current", "history",
           "next_state", "require", "set_member_pin"]


def current(conn: sqlite3.Connection) -> PollsState:
    row = conn.execute("SELECT state FROM polls WHERE id = 1").fetchone()
    return PollsState(row[0]) if row else PollsState.PROVISIONED


def require(conn: sqlite3.Connection, *states: PollsState) -> PollsState:
    """Raise PollsError unless the polls are in one of ``states`` (e.g. ``require(c, PollsState.OPEN)``)."""
    return check_state(current(conn), *states)


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
