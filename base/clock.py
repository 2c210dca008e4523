"""Injected time, and the one timestamp format of every record.

Daemons take a clock; tests take a ``FixedClock``. ``now()`` returns an aware
UTC datetime; ``local(t, tz)`` converts for display (polls run 08:00-20:00
Asia/Bishkek, DOMAIN.md "Scale").

Every timestamp the product records, signs or sends is ``iso(t)``:
``YYYY-MM-DDTHH:MM:SSZ`` (UTC, seconds; docs/protocol.md section 1, "Time").
``parse_iso`` is its inverse and accepts nothing else. One fixed form also
means that text order is time order (the receiver compares them as text).

**A clock that never goes backwards.** A Raspberry Pi has no battery-backed
clock: it boots with the time it last saved, and NTP (or a technician) may move
the clock later, backwards as well as forwards. ``SaneClock`` wraps the station
clock so that the times given to recorded events never go backwards:

- it anchors wall time to the monotonic clock; when the wall clock falls
  behind the anchored time by more than ``tolerance_s`` it is a jump
  backwards: the time returned continues from the monotonic anchor (never
  earlier than the last time given out), the jump is flagged in ``jumps``
  for the audit log and the status line, and with ``strict=True`` ``now()``
  raises ``ClockJumpError`` instead (refuse to record on a broken clock);
- a jump forwards (NTP correcting a stale boot time) is accepted and
  re-anchored, and flagged too;
- ``floor`` is the time of the last recorded event (from the database), so a
  reboot into a clock earlier than what is already recorded is caught at the
  first ``now()``.

Example::

    iso(clock.now())                          # '2025-11-30T02:00:00Z'
    parse_iso("2025-11-30T02:00:00Z")         # datetime(2025, 11, 30, 2, 0, tzinfo=UTC)
    clock = SaneClock(SystemClock(), floor=parse_iso(last_event_at))
    when = clock.now()                        # never before the last one
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from base.errors import ClockJumpError

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Clock(Protocol):
    def now(self) -> dt.datetime: ...
    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that moves only when told (``advance``/``set``)."""

    def __init__(self, start: dt.datetime | str = "2025-11-30T02:00:00+00:00"):
        if isinstance(start, str):
            start = dt.datetime.fromisoformat(start)
        self._now = start.astimezone(dt.UTC)
        self._mono = 0.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += max(seconds, 0.0)

    def set(self, when: dt.datetime | str) -> None:
        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        self._now = when.astimezone(dt.UTC)

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def iso(t: dt.datetime) -> str:
    """UTC timestamp text used in every record: second precision, 'Z' suffix."""
    return t.astimezone(dt.UTC).strftime(ISO_FORMAT)


_ISO_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def parse_iso(text: str) -> dt.datetime:
    """The aware UTC datetime of ``iso`` text; ``ValueError`` for any other form.

    ASCII digits only, every field two digits (four for the year): ``strptime`` would
    take fullwidth digits and "2025-1-5", and is five times slower (it runs for every
    envelope the centre receives).
    """
    m = _ISO_TEXT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"not a time of the form YYYY-MM-DDTHH:MM:SSZ: {str(text)[:40]!r}")
    return dt.datetime(*map(int, m.groups()), tzinfo=dt.UTC)


def local(t: dt.datetime, tz: str = "Asia/Bishkek") -> dt.datetime:
    return t.astimezone(ZoneInfo(tz))


# -- A clock that never goes backwards -------------------------------------------

class JumpDirection(StrEnum):
    BACKWARDS = "backwards"
    FORWARDS = "forwards"


@dataclass(frozen=True)
class ClockJump:
    """One detected jump: the wall time seen, the time used instead, by how much."""

    direction: JumpDirection
    wall: dt.datetime
    used: dt.datetime
    seconds: float          # wall - expected: negative backwards, positive forwards

    def describe(self) -> str:
        return (f"clock jumped {self.direction.value} by {abs(self.seconds):.0f} s"
                f" (wall {self.wall.isoformat()}, using {self.used.isoformat()})")


class SaneClock:
    """A clock whose ``now()`` never goes backwards; jumps are flagged, not hidden."""

    def __init__(self, clock: Clock, *, floor: dt.datetime | None = None,
                 tolerance_s: float = 2.0, strict: bool = False):
        self.clock = clock
        self.tolerance = dt.timedelta(seconds=tolerance_s)
        self.strict = strict
        self.jumps: list[ClockJump] = []
        self._unreported: list[ClockJump] = []
        self._floor = floor.astimezone(dt.UTC) if floor is not None else None
        self._anchor: tuple[dt.datetime, float] | None = None
        self._last: dt.datetime | None = self._floor

    def monotonic(self) -> float:
        return self.clock.monotonic()

    @property
    def suspect(self) -> bool:
        """True once a backwards jump was seen: say so in the status line."""
        return any(j.direction is JumpDirection.BACKWARDS for j in self.jumps)

    def drain_jumps(self) -> list[ClockJump]:
        """The jumps not yet reported (each goes to the audit log once)."""
        out, self._unreported = self._unreported, []
        return out

    def now(self) -> dt.datetime:
        wall = self.clock.now().astimezone(dt.UTC)
        mono = self.clock.monotonic()
        if self._anchor is None:
            self._anchor = (wall, mono)
            if self._floor is not None and wall < self._floor - self.tolerance:
                # Booted into a time before what is already recorded.
                self._anchor = (self._floor, mono)
                return self._flag(JumpDirection.BACKWARDS, wall, self._floor,
                                  (wall - self._floor).total_seconds())
        anchor_wall, anchor_mono = self._anchor
        expected = anchor_wall + dt.timedelta(seconds=mono - anchor_mono)
        drift = wall - expected
        if drift < -self.tolerance:
            # Keep the anchor: once the wall clock catches up, it is used again.
            used = max(expected, self._last) if self._last else expected
            return self._flag(JumpDirection.BACKWARDS, wall, used, drift.total_seconds())
        if drift > self.tolerance:
            self._anchor = (wall, mono)
            return self._flag(JumpDirection.FORWARDS, wall, wall, drift.total_seconds())
        return self._give(wall)

    def _flag(self, direction: JumpDirection, wall: dt.datetime, used: dt.datetime,
              seconds: float) -> dt.datetime:
        jump = ClockJump(direction, wall, used, seconds)
        # One report per jump, not one per call while the clock stays behind.
        if not self.jumps or self.jumps[-1].direction != direction or \
                abs(self.jumps[-1].seconds - seconds) > self.tolerance.total_seconds():
            self.jumps.append(jump)
            self._unreported.append(jump)
        if direction is JumpDirection.BACKWARDS and self.strict:
            raise ClockJumpError(jump.describe())
        return self._give(used)

    def _give(self, t: dt.datetime) -> dt.datetime:
        if self._last is not None and t < self._last:
            t = self._last
        self._last = t
        return t

    def __repr__(self) -> str:
        return f"SaneClock({self.clock!r}, jumps={len(self.jumps)})"
