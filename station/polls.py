"""The polls state machine on this station: persisted in station.db, every transition audited.

The rules are pure and live in station/polls_rules.py (states, the transition
table, the guards: ``next_state``, ``check_state``); this module reads the
state, asks them, and writes what they decide (ARCHITECTURE.md invariant 6):

- ``current`` / ``require``: the state now, and the guard "only while open"
  that identification and scanning put in front of their work;
- ``apply``: ONE transaction reads the state, updates it, appends the history
  row and records ``polls-transition`` in station.db's audit log. Refusals are
  recorded too (``polls-transition-refused``) and raise PollsError;
- commission members' PINs (``set_member_pin``, ``authorize``): 6 to 12 digits;
  the verifier in station.db is ``b"pin-v2:" + HMAC-SHA256(pin key, scrypt(PIN,
  salt))``, keyed with the station's PIN key (``Paths.pin_key``, beside
  station.db's directory in ``keys/``, never in station.db), so a copy of
  station.db alone gives nothing to guess against; a lockout after
  ``MAX_PIN_FAILURES`` wrong PINs. Verifiers from before the PIN key (bare
  scrypt, 4 to 8 digits) keep working; one of 6 digits or more is re-keyed at
  its next correct use (``commission-pin-upgraded``), a shorter one must be set
  again (``members_to_set_again``; ``uchastok status`` says so). The
  arithmetic is in docs/technician-guide.md "Commission PINs".

Example::

    polls.apply(conn, "open", actor="chair:1", clock=clock)    # zero-report-printed -> open
    polls.require(conn, PollsState.OPEN)                        # PollsError unless open
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import sqlite3
from pathlib import Path

from base.clock import SystemClock, iso
from base.paths import Paths
from base.sqlite import atomic
from station.errors import PollsError
from station.events import record
from station.polls_rules import STATE_TEXT, PollsState, check_state, next_state

__all__ = ["MAX_PIN_DIGITS", "MAX_PIN_FAILURES", "MIN_PIN_DIGITS", "STATE_TEXT", "PollsState", "apply",
           "authorize", "current", "ensure_pin_key", "history", "members_to_set_again", "next_state",
           "require", "set_member_pin"]


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
# scrypt from the standard library (16 MiB, ~0.08 s per guess on one x86 core), then an HMAC with
# the station's PIN key: without the key file, a stolen station.db cannot be guessed at all; with
# the whole disk, 6 digits cost 10^6 guesses (docs/technician-guide.md "Commission PINs").
MAX_PIN_FAILURES = 5
MIN_PIN_DIGITS = 6
MAX_PIN_DIGITS = 12
PIN_KEY_BYTES = 32
_V2 = b"pin-v2:"          # prefix of keyed verifiers; a bare scrypt verifier (before the key) is 64 bytes


def _scrypt(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)


def _verifier(pin: str, salt: bytes, pin_key: bytes) -> bytes:
    return _V2 + hmac.new(pin_key, _scrypt(pin, salt), hashlib.sha256).digest()


def _pin_key_file(conn: sqlite3.Connection) -> Path:
    """The PIN key of the station whose station.db ``conn`` is: ``keys/pin.key`` in its state directory."""
    main = next((r for r in conn.execute("PRAGMA database_list") if r[1] == "main"), None)
    if main is None or not main[2]:
        raise PollsError("commission PINs need station.db on disk: its PIN key lives beside it")
    return Paths.from_state_dir(Path(main[2]).parent).pin_key


def _read_pin_key(path: Path) -> bytes | None:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise PollsError(f"the station's PIN key {path} cannot be read ({e.strerror}):"
                         " commission PINs cannot be checked") from e
    if len(key) != PIN_KEY_BYTES:
        raise PollsError(f"the station's PIN key {path} is damaged ({len(key)} bytes):"
                         " commission PINs cannot be checked; a technician must set them again")
    return key


def ensure_pin_key(path: str | os.PathLike) -> bytes:
    """The station's PIN key, created once (32 random bytes, mode 0640) and never replaced.

    Created with O_EXCL: two provisioning commands at once still end with one key.
    """
    path = Path(path)
    key = _read_pin_key(path)
    if key is not None:
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    key = os.urandom(PIN_KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return _read_pin_key(path) or key
    except OSError as e:
        raise PollsError(f"cannot create the station's PIN key {path} ({e.strerror}):"
                         " run this as the technician (sudo)") from e
    try:
        os.write(fd, key)
        os.fsync(fd)
        os.fchmod(fd, 0o640)   # the two roles check PINs (group uchastok); the uploader is not in it
    finally:
        os.close(fd)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    except OSError as e:   # some file systems refuse fsync on a directory
        if e.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(dfd)
    return key


def set_member_pin(conn: sqlite3.Connection, member_id: str, name: str, pin: str, *,
                   role: str = "member", clock=None) -> None:
    if not (pin.isdigit() and MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS):
        raise PollsError(f"a commission PIN is {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits")
    pin_key = ensure_pin_key(_pin_key_file(conn))
    salt = os.urandom(16)
    with atomic(conn):
        conn.execute("INSERT INTO commission_member(id, name, role, pin_salt, pin_hash) VALUES (?,?,?,?,?)"
                     " ON CONFLICT(id) DO UPDATE SET name=excluded.name, role=excluded.role,"
                     " pin_salt=excluded.pin_salt, pin_hash=excluded.pin_hash, failures=0",
                     (member_id, name, role, salt, _verifier(pin, salt, pin_key)))
        record(conn, "commission-pin-set", actor="technician", clock=clock, member=member_id, role=role)


def members_to_set_again(conn: sqlite3.Connection) -> list[str]:
    """Members whose PIN was set before the PIN key (4 to 8 digits, not keyed): set them again."""
    return [r[0] for r in conn.execute("SELECT id, pin_hash FROM commission_member ORDER BY id")
            if not bytes(r[1]).startswith(_V2)]


def authorize(conn: sqlite3.Connection, member_id: str, pin: str, *, clock=None) -> str:
    """Check a member's PIN; return their role. Locks after repeated failures.

    The attempt is counted first, under the write lock, and only then is the PIN checked: parallel
    guesses cannot run more checks than the lockout allows. A missing PIN key refuses before
    counting: it is the station's fault, not the member's.
    """
    key_file = _pin_key_file(conn)
    try:
        pin_key, key_problem = _read_pin_key(key_file), None
    except PollsError as e:   # matters only for keyed verifiers
        pin_key, key_problem = None, e
    with atomic(conn):
        row = conn.execute("SELECT role, pin_salt, pin_hash, failures FROM commission_member WHERE id = ?",
                           (member_id,)).fetchone()
        if row is None:
            raise PollsError(f"no commission member {member_id!r}")
        keyed = bytes(row["pin_hash"]).startswith(_V2)
        if keyed and key_problem is not None:
            raise key_problem
        if keyed and pin_key is None:
            raise PollsError(f"the station's PIN key {key_file} is missing: commission PINs cannot be"
                             " checked; a technician must set them again (uchastok provision set-pin)")
        if row["failures"] >= MAX_PIN_FAILURES:
            raise PollsError(f"member {member_id} is locked after {MAX_PIN_FAILURES} wrong PINs:"
                             " a technician must reset it")
        conn.execute("UPDATE commission_member SET failures = failures + 1 WHERE id = ?", (member_id,))
    salt, stored = bytes(row["pin_salt"]), bytes(row["pin_hash"])
    given = _verifier(pin, salt, pin_key) if keyed else _scrypt(pin, salt)
    if not hmac.compare_digest(given, stored):
        record(conn, "polls-transition-refused", "refused", actor=f"member:{member_id}", clock=clock,
               reason="wrong PIN")
        raise PollsError("wrong PIN")
    if not keyed and pin_key is not None and MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS:
        # A PIN from before the PIN key that meets today's length: re-key it now that it is known.
        with atomic(conn):
            changed = conn.execute("UPDATE commission_member SET pin_salt = ?, pin_hash = ?, failures = 0"
                                   " WHERE id = ? AND pin_hash = ?",
                                   (salt, _verifier(pin, salt, pin_key), member_id, stored)).rowcount
            if changed:
                record(conn, "commission-pin-upgraded", actor=f"member:{member_id}", clock=clock,
                       member=member_id)
        return row["role"]
    conn.execute("UPDATE commission_member SET failures = 0 WHERE id = ?", (member_id,))
    return row["role"]
